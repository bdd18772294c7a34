#ifndef PGCASK_CATALOG_CATALOG_H
#define PGCASK_CATALOG_CATALOG_H

/*
 * The catalog: a local SQLite cache of what the repository holds for one
 * server (WAL index, backups, scheduled-run history, small state). The
 * object store stays the source of truth: `pgcask catalog sync` rebuilds
 * the file from a listing, so deleting it loses nothing.
 *
 * Many processes write one file at once (archive_command instances, a manual
 * run, the sidecar): the file is in WAL mode with synchronous=NORMAL, every
 * write is one short BEGIN IMMEDIATE transaction, and a lock held longer
 * than the busy timeout (30 s by default) is PC_E_BUSY. Only this module
 * includes sqlite3.h.
 *
 * Threads: a handle is used by one thread at a time (it caches prepared
 * statements); a program that works from several threads opens one handle
 * per thread. fork() only while the process has no handle open when the
 * child uses the catalog (SQLite keeps per-process lock state that a child
 * must not inherit); the child then opens its own.
 *
 * Errors: SQLite failures are PC_E_IO with the SQLite message and the file
 * path (a corrupt file has a hint to move it away and resync), a lock that
 * outlives the busy timeout is PC_E_BUSY, malformed arguments (WAL names,
 * backup ids, checksums) are PC_E_USAGE naming the value.
 *
 * Strings: records passed in are only read during the call. Records handed
 * to a callback point into SQLite's row and are valid during the callback
 * only; a callback must not call functions on the same handle, and a status
 * other than PC_OK stops the iteration and is returned. Records filled by a
 * get function own their strings in `mem`: release them with the matching
 * *_clear() (a zeroed record is a valid argument); on failure the record is
 * zeroed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "common/wal.h"

typedef struct cat cat;

#define CAT_BUSY_TIMEOUT_DEFAULT_MS 30000

/* Schema version this binary writes (stored in the schema_version table). */
int cat_schema_version(void);

/*
 * Open (creating it, its parent directories with mode 0700, and the file
 * with mode 0600 when missing) and migrate the schema. A file written by a
 * newer pgcask is PC_E_CONFIG; a read-only file is PC_E_IO.
 */
pc_status cat_open(const char *path, cat **out);
/* Same with a busy timeout in milliseconds (0 fails at once when locked). */
pc_status cat_open_ex(const char *path, int64_t busy_timeout_ms, cat **out);
void cat_close(cat *c); /* NULL is a no-op; rolls back an open transaction */
const char *cat_path(const cat *c);

/*
 * "<state_dir>/catalog/<server>-<16 hex>.db" where the hex is the start of
 * sha256(repo_url "\n" server) and <server> keeps only [A-Za-z0-9._-]
 * (others become '_'). *out is malloc'd, the caller frees it.
 */
pc_status cat_default_path(const char *state_dir, const char *repo_url, const char *server,
                           char **out);

/*
 * Group several calls in one immediate transaction (e.g. a sync replacing
 * the WAL index). Calls inside do not commit on their own; after any failure
 * inside, call cat_tx_rollback. Transactions do not nest (nesting is a
 * programming error and aborts). Keep them short: every other writer waits.
 */
pc_status cat_tx_begin(cat *c);
pc_status cat_tx_commit(cat *c);
void cat_tx_rollback(cat *c); /* no-op when no transaction is open */

/* ---- WAL index: one row per archived file ---- */

typedef struct cat_wal {
    const char *name;     /* WAL file name; stored normalised (upper-case hex) */
    pc_wal_kind kind;     /* derived from the name by puts; filled on reads */
    uint32_t tli;         /* derived from the name by puts; filled on reads */
    uint64_t segno;       /* derived (segment, partial, backup); 0 for history files */
    int codec;            /* cmp_codec of the stored object */
    uint64_t size;        /* uncompressed bytes */
    uint64_t stored_size; /* bytes of the stored object */
    const char *sha256;   /* hex of the uncompressed content, NULL when unknown */
    const char *etag;     /* of the stored object, NULL when unknown */
    const char *key;      /* object key, required */
    int64_t stored_at;    /* epoch microseconds */
    /*
     * The local file that was uploaded (inode, mtime in ns since the epoch;
     * 0 when unknown, e.g. rows from a listing): lets a second archive_command
     * on the untouched file answer without reading it again.
     */
    uint64_t src_ino;
    int64_t src_mtime_ns;
    void *mem; /* string storage of a record filled by a get; else NULL */
} cat_wal;

void cat_wal_clear(cat_wal *w);

/* PC_E_NOT_FOUND when the catalog has no row for name. */
pc_status cat_wal_get(cat *c, const char *name, cat_wal *out);
/*
 * Insert or replace. kind, tli and segno are computed from the name with
 * the WAL segment size segsize (ignored in *w). PC_E_USAGE for a bad name,
 * segment size, checksum or missing key.
 */
pc_status cat_wal_put(cat *c, const cat_wal *w, uint64_t segsize);
/*
 * The same for n records in one transaction, rolled back when one record is
 * bad (inside cat_tx_begin the caller rolls back).
 */
pc_status cat_wal_put_many(cat *c, const cat_wal *w, size_t n, uint64_t segsize);
/* Delete by name in one transaction; absent names are skipped; deleted may be NULL. */
pc_status cat_wal_delete(cat *c, const char *const *names, size_t n, size_t *deleted);
pc_status cat_wal_delete_all(cat *c);

/* Restrict an iteration or a count; a NULL filter means every row. */
typedef struct cat_wal_filter {
    uint32_t tli;       /* 0: every timeline */
    uint64_t segno_min; /* inclusive (history files have segno 0) */
    uint64_t segno_max; /* inclusive; UINT64_MAX for no bound */
    pc_wal_kind kind;   /* 0: every kind */
} cat_wal_filter;

typedef pc_status (*cat_wal_cb)(void *arg, const cat_wal *w);

/* Rows in (tli, segno, name) order. */
pc_status cat_wal_iter(cat *c, const cat_wal_filter *f, cat_wal_cb cb, void *arg);
/* Number of rows and sum of their stored sizes. */
pc_status cat_wal_stats(cat *c, const cat_wal_filter *f, uint64_t *count, uint64_t *stored_bytes);
/* First / last complete segment (kind PC_WAL_SEGMENT) of a timeline; PC_E_NOT_FOUND when none. */
pc_status cat_wal_first(cat *c, uint32_t tli, cat_wal *out);
pc_status cat_wal_last(cat *c, uint32_t tli, cat_wal *out);
/* Distinct timelines in ascending order; *tlis is malloc'd (NULL when *n is 0). */
pc_status cat_wal_timelines(cat *c, uint32_t **tlis, size_t *n);

/*
 * Gaps in the segment chain of timeline tli between segno_from and segno_to
 * (inclusive): cb receives each run of absent segment numbers [first, last]
 * in ascending order. Only complete segments count as present (a .partial
 * does not). A chain crossing a timeline switch is checked one timeline at
 * a time by the caller, who knows the switch points from the history files.
 */
typedef pc_status (*cat_gap_cb)(void *arg, uint64_t first, uint64_t last);
pc_status cat_wal_gaps(cat *c, uint32_t tli, uint64_t segno_from, uint64_t segno_to, cat_gap_cb cb,
                       void *arg);

/* ---- Claims: keep concurrent archivers from uploading one file twice ---- */

typedef enum cat_claim {
    CAT_CLAIM_OK = 0,     /* this process holds the claim: upload, then commit or unclaim */
    CAT_CLAIM_STORED = 1, /* the catalog already has the file */
    CAT_CLAIM_BUSY = 2,   /* a live process holds the claim */
} cat_claim;

/*
 * In one transaction: STORED when the WAL row exists; BUSY when another
 * process holds a claim that is live (on this host its pid still exists; on
 * any host it is younger than stale_ms; stale_ms <= 0 never blocks); else
 * take (or renew our own) claim and answer OK. A claim belongs to a process
 * (host + pid), so threads of one process share it: hand each name to one
 * thread.
 */
pc_status cat_wal_claim(cat *c, const char *name, int64_t stale_ms, cat_claim *outcome);
/* Store the WAL row and drop any claim on its name, in one transaction. */
pc_status cat_wal_commit(cat *c, const cat_wal *w, uint64_t segsize);
/* Drop this process's claim on name (after a failed upload); absent claims are fine. */
pc_status cat_wal_unclaim(cat *c, const char *name);

/* ---- Backups ---- */

/* PERSISTED in the catalog: never renumber. */
typedef enum cat_backup_type {
    CAT_BACKUP_FULL = 1,
    CAT_BACKUP_DIFF = 2,
    CAT_BACKUP_INCR = 3,
} cat_backup_type;

/* PERSISTED in the catalog: never renumber. */
typedef enum cat_backup_status {
    CAT_STATUS_STARTED = 1,
    CAT_STATUS_DONE = 2,
    CAT_STATUS_FAILED = 3,
    CAT_STATUS_WAITING_FOR_WALS = 4,
} cat_backup_status;

/* "full" "diff" "incr"; parse returns PC_E_USAGE for anything else. */
const char *cat_backup_type_name(cat_backup_type t);
pc_status cat_backup_type_parse(const char *text, cat_backup_type *out);
/* barman's strings "STARTED" "DONE" "FAILED" "WAITING_FOR_WALS"; parse: PC_E_USAGE otherwise. */
const char *cat_backup_status_name(cat_backup_status s);
pc_status cat_backup_status_parse(const char *text, cat_backup_status *out);

#define CAT_BACKUP_ID_LEN 15 /* YYYYMMDDTHHMMSS */

typedef struct cat_backup {
    const char *id;   /* barman backup id YYYYMMDDTHHMMSS, required */
    const char *name; /* backup_name, NULL when none */
    cat_backup_type type;
    const char *parent_id; /* NULL for a full backup */
    cat_backup_status status;
    const char *begin_wal; /* NULL when unknown */
    const char *end_wal;
    pc_lsn begin_lsn;
    pc_lsn end_lsn;
    uint64_t begin_offset;
    uint64_t end_offset;
    uint32_t timeline;
    int64_t begin_time; /* epoch microseconds, 0 = unknown */
    int64_t end_time;
    const char *systemid;  /* NULL when unknown */
    int pg_version;        /* 170002 style, 0 when unknown */
    uint64_t size;         /* logical bytes */
    uint64_t stored_size;  /* bytes in the store */
    int codec;             /* cmp_codec */
    const char *keep;      /* NULL, "full" or "standalone" */
    const char *error;     /* NULL when none */
    bool has_manifest;     /* pgcask's manifest object exists */
    const char *info_etag; /* etag of backup.info when it was read, NULL otherwise */
    int64_t updated_at;    /* set by cat_backup_put; filled on reads */
    void *mem;             /* string storage of a record filled by a get; else NULL */
} cat_backup;

void cat_backup_clear(cat_backup *b);

typedef pc_status (*cat_backup_cb)(void *arg, const cat_backup *b);

/* Insert or replace. PC_E_USAGE for a bad id, parent id, type, status or keep value. */
pc_status cat_backup_put(cat *c, const cat_backup *b);
/* PC_E_NOT_FOUND when absent. */
pc_status cat_backup_get(cat *c, const char *id, cat_backup *out);
/* The newest backup with this backup_name; PC_E_NOT_FOUND when none. */
pc_status cat_backup_find_name(cat *c, const char *name, cat_backup *out);
/* Every backup, oldest id first. */
pc_status cat_backup_list(cat *c, cat_backup_cb cb, void *arg);
/* PC_E_NOT_FOUND when absent. */
pc_status cat_backup_delete(cat *c, const char *id);
pc_status cat_backup_count(cat *c, uint64_t *n);
/* Newest / oldest backup with status DONE; PC_E_NOT_FOUND when none. */
pc_status cat_backup_latest_done(cat *c, cat_backup *out);
pc_status cat_backup_oldest_done(cat *c, cat_backup *out);
/* Backups whose parent_id is id, oldest first. */
pc_status cat_backup_children(cat *c, const char *id, cat_backup_cb cb, void *arg);

/* ---- Runs: history of scheduled (and manual) jobs ---- */

typedef struct cat_run {
    int64_t id;
    const char *kind;     /* "full", "diff", "incr", "retention", ... */
    int64_t scheduled_at; /* epoch microseconds (0 for a manual run) */
    int64_t started_at;
    int64_t ended_at; /* 0 while running */
    pc_status status; /* meaningful once ended */
    uint64_t bytes;
    const char *backup_id;   /* NULL when none */
    const char *error;       /* NULL when none */
    const char *backup_type; /* "full", "diff", "incr" of the backup made; NULL when none */
    void *mem;               /* string storage of a record filled by a get; else NULL */
} cat_run;

void cat_run_clear(cat_run *r);

typedef pc_status (*cat_run_cb)(void *arg, const cat_run *r);

/* Record the start of a run (started_at = now); *id identifies it for cat_run_end. */
pc_status cat_run_begin(cat *c, const char *kind, int64_t scheduled_at, int64_t *id);
/* Record the end (ended_at = now); backup_id, backup_type and error may be NULL.
 * PC_E_NOT_FOUND: unknown id. */
pc_status cat_run_end(cat *c, int64_t id, pc_status status, uint64_t bytes, const char *backup_id,
                      const char *backup_type, const char *error);
/* Newest first; limit 0 lists every run. */
pc_status cat_run_list(cat *c, size_t limit, cat_run_cb cb, void *arg);
/* The most recently started run of a kind; PC_E_NOT_FOUND when none. */
pc_status cat_run_last(cat *c, const char *kind, cat_run *out);

/* ---- Meta: small key/value state ("first_required_wal", "last_sync_at", ...) ---- */

/* *value is malloc'd (the caller frees it); PC_E_NOT_FOUND when the key is unset. */
pc_status cat_meta_get(cat *c, const char *key, char **value);
pc_status cat_meta_set(cat *c, const char *key, const char *value);
/* Deleting an unset key is not an error. */
pc_status cat_meta_delete(cat *c, const char *key);

#endif
