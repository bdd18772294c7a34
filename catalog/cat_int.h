#ifndef PGCASK_CATALOG_CAT_INT_H
#define PGCASK_CATALOG_CAT_INT_H

/*
 * Internal to catalog/: the handle, the prepared-statement cache and the
 * helpers shared by catalog.c, cat_wal.c and cat_backup.c.
 */

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "catalog/catalog.h"
#include "common/error.h"

/* One slot per SQL text; the text lives at the single call site using the slot. */
typedef enum cat_stmt_id {
    CAT_S_BEGIN,
    CAT_S_COMMIT,
    CAT_S_ROLLBACK,
    CAT_S_META_GET,
    CAT_S_META_SET,
    CAT_S_META_DEL,
    CAT_S_WAL_GET,
    CAT_S_WAL_PUT,
    CAT_S_WAL_DEL,
    CAT_S_WAL_DEL_ALL,
    CAT_S_WAL_ITER_ALL,
    CAT_S_WAL_ITER_TLI,
    CAT_S_WAL_STATS_ALL,
    CAT_S_WAL_STATS_TLI,
    CAT_S_WAL_FIRST,
    CAT_S_WAL_LAST,
    CAT_S_WAL_NEXT_TLI,
    CAT_S_WAL_GAPS,
    CAT_S_WAL_EXISTS,
    CAT_S_CLAIM_GET,
    CAT_S_CLAIM_PUT,
    CAT_S_CLAIM_DEL,
    CAT_S_CLAIM_DEL_MINE,
    CAT_S_BACKUP_PUT,
    CAT_S_BACKUP_GET,
    CAT_S_BACKUP_FIND_NAME,
    CAT_S_BACKUP_LIST,
    CAT_S_BACKUP_DEL,
    CAT_S_BACKUP_COUNT,
    CAT_S_BACKUP_LATEST,
    CAT_S_BACKUP_OLDEST,
    CAT_S_BACKUP_CHILDREN,
    CAT_S_RUN_BEGIN,
    CAT_S_RUN_END,
    CAT_S_RUN_LIST,
    CAT_S_RUN_LAST,
    CAT_S_COUNT
} cat_stmt_id;

struct cat {
    sqlite3 *db;
    char *path;
    int64_t busy_timeout_ms;
    bool in_tx;     /* inside cat_tx_begin .. commit/rollback */
    char host[256]; /* owner of this handle's claims, with getpid() */
    sqlite3_stmt *stmt[CAT_S_COUNT];
};

/* The cached statement for id, prepared from sql on first use. */
pc_status cat_stmt(cat *c, cat_stmt_id id, const char *sql, sqlite3_stmt **out);
/* Reset after use so the statement ends its read transaction and drops its bindings. */
void cat_stmt_done(sqlite3_stmt *st);

/*
 * Record the error of SQLite result rc (before the statement is reset, so
 * that sqlite3_errmsg still describes it); the format names the operation.
 */
pc_status cat_sql_err(cat *c, int rc, const char *fmt, ...) PC_PRINTF(3, 4);

/*
 * Write transactions of one API call: enter begins BEGIN IMMEDIATE unless
 * the caller opened one with cat_tx_begin; leave commits when st is PC_OK,
 * else rolls back, and returns the final status.
 */
pc_status cat_tx_enter(cat *c);
pc_status cat_tx_leave(cat *c, pc_status st);

/* Copy the n strings *f[i] (NULLs stay NULL) into one malloc'd block stored in *mem. */
pc_status cat_own_strings(const char **const f[], size_t n, void **mem);

static inline const char *cat_col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

/* Unsigned quantities are stored as their int64 bit pattern. */
static inline sqlite3_int64 cat_u2i(uint64_t v)
{
    return (sqlite3_int64)v;
}

static inline uint64_t cat_col_u64(sqlite3_stmt *st, int col)
{
    return (uint64_t)sqlite3_column_int64(st, col);
}

/* NULL binds SQL NULL; the text must outlive the statement's next step. */
static inline void cat_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (s)
        sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, idx);
}

#endif
