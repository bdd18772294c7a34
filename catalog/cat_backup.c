/* Backups and the run history. */
#include <stdlib.h>
#include <string.h>

#include "catalog/cat_int.h"
#include "common/timeutil.h"

const char *cat_backup_type_name(cat_backup_type t)
{
    switch (t) {
    case CAT_BACKUP_FULL:
        return "full";
    case CAT_BACKUP_DIFF:
        return "diff";
    case CAT_BACKUP_INCR:
        return "incr";
    }
    return "unknown";
}

pc_status cat_backup_type_parse(const char *text, cat_backup_type *out)
{
    static const cat_backup_type all[] = {CAT_BACKUP_FULL, CAT_BACKUP_DIFF, CAT_BACKUP_INCR};
    for (size_t i = 0; text && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(text, cat_backup_type_name(all[i])) == 0) {
            *out = all[i];
            return PC_OK;
        }
    }
    return pc_err(PC_E_USAGE, "unknown backup type \"%s\"", text ? text : "");
}

const char *cat_backup_status_name(cat_backup_status s)
{
    switch (s) {
    case CAT_STATUS_STARTED:
        return "STARTED";
    case CAT_STATUS_DONE:
        return "DONE";
    case CAT_STATUS_FAILED:
        return "FAILED";
    case CAT_STATUS_WAITING_FOR_WALS:
        return "WAITING_FOR_WALS";
    }
    return "UNKNOWN";
}

pc_status cat_backup_status_parse(const char *text, cat_backup_status *out)
{
    static const cat_backup_status all[] = {CAT_STATUS_STARTED, CAT_STATUS_DONE, CAT_STATUS_FAILED,
                                            CAT_STATUS_WAITING_FOR_WALS};
    for (size_t i = 0; text && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(text, cat_backup_status_name(all[i])) == 0) {
            *out = all[i];
            return PC_OK;
        }
    }
    return pc_err(PC_E_USAGE, "unknown backup status \"%s\"", text ? text : "");
}

static bool type_valid(cat_backup_type t)
{
    switch (t) {
    case CAT_BACKUP_FULL:
    case CAT_BACKUP_DIFF:
    case CAT_BACKUP_INCR:
        return true;
    }
    return false;
}

static bool status_valid(cat_backup_status s)
{
    switch (s) {
    case CAT_STATUS_STARTED:
    case CAT_STATUS_DONE:
    case CAT_STATUS_FAILED:
    case CAT_STATUS_WAITING_FOR_WALS:
        return true;
    }
    return false;
}

/* YYYYMMDDTHHMMSS, the form barman gives every backup. */
static pc_status check_id(const char *id, const char *what)
{
    bool ok = id && strlen(id) == CAT_BACKUP_ID_LEN;
    for (int i = 0; ok && i < CAT_BACKUP_ID_LEN; i++)
        ok = i == 8 ? id[i] == 'T' : (id[i] >= '0' && id[i] <= '9');
    if (!ok) {
        pc_err(PC_E_USAGE, "invalid %s \"%s\"", what, id ? id : "");
        pc_err_hint("A backup id looks like 20261121T100000.");
        return PC_E_USAGE;
    }
    return PC_OK;
}

void cat_backup_clear(cat_backup *b)
{
    free(b->mem);
    memset(b, 0, sizeof *b);
}

#define BACKUP_COLS                                                                                \
    "id, name, type, parent_id, status, begin_wal, end_wal, begin_lsn, end_lsn, begin_offset, "    \
    "end_offset, timeline, begin_time, end_time, systemid, pg_version, size, stored_size, codec, " \
    "keep, error, has_manifest, info_etag, updated_at"

static void backup_row(sqlite3_stmt *st, cat_backup *b)
{
    memset(b, 0, sizeof *b);
    b->id = cat_col_text(st, 0);
    b->name = cat_col_text(st, 1);
    b->type = (cat_backup_type)sqlite3_column_int(st, 2);
    b->parent_id = cat_col_text(st, 3);
    b->status = (cat_backup_status)sqlite3_column_int(st, 4);
    b->begin_wal = cat_col_text(st, 5);
    b->end_wal = cat_col_text(st, 6);
    b->begin_lsn = cat_col_u64(st, 7);
    b->end_lsn = cat_col_u64(st, 8);
    b->begin_offset = cat_col_u64(st, 9);
    b->end_offset = cat_col_u64(st, 10);
    b->timeline = (uint32_t)sqlite3_column_int64(st, 11);
    b->begin_time = sqlite3_column_int64(st, 12);
    b->end_time = sqlite3_column_int64(st, 13);
    b->systemid = cat_col_text(st, 14);
    b->pg_version = sqlite3_column_int(st, 15);
    b->size = cat_col_u64(st, 16);
    b->stored_size = cat_col_u64(st, 17);
    b->codec = sqlite3_column_int(st, 18);
    b->keep = cat_col_text(st, 19);
    b->error = cat_col_text(st, 20);
    b->has_manifest = sqlite3_column_int(st, 21) != 0;
    b->info_etag = cat_col_text(st, 22);
    b->updated_at = sqlite3_column_int64(st, 23);
}

static pc_status backup_fetch(cat *c, sqlite3_stmt *st, const char *what, cat_backup *out)
{
    pc_status s;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        backup_row(st, out);
        const char **const f[] = {&out->id,        &out->name,    &out->parent_id,
                                  &out->begin_wal, &out->end_wal, &out->systemid,
                                  &out->keep,      &out->error,   &out->info_etag};
        s = cat_own_strings(f, sizeof f / sizeof f[0], &out->mem);
        if (s)
            memset(out, 0, sizeof *out);
    } else if (rc == SQLITE_DONE) {
        s = PC_E_NOT_FOUND;
    } else {
        s = cat_sql_err(c, rc, "%s", what);
    }
    cat_stmt_done(st);
    return s;
}

static pc_status backup_each(cat *c, sqlite3_stmt *st, cat_backup_cb cb, void *arg)
{
    pc_status s = PC_OK;
    int rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cat_backup b;
        backup_row(st, &b);
        s = cb(arg, &b);
    }
    if (!s && rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "listing backups");
    cat_stmt_done(st);
    return s;
}

/* A segment name, normalised into buf, or NULL. */
static pc_status check_wal(const char *id, const char *field, const char *name, pc_wal_name *buf,
                           const char **out)
{
    *out = NULL;
    if (!name)
        return PC_OK;
    if (pc_wal_parse(name, buf) != PC_OK || buf->kind != PC_WAL_SEGMENT)
        return pc_err(PC_E_USAGE, "backup %s: %s \"%s\" is not a WAL segment name", id, field,
                      name);
    *out = buf->name;
    return PC_OK;
}

pc_status cat_backup_put(cat *c, const cat_backup *b)
{
    pc_status s = check_id(b->id, "backup id");
    if (s)
        return s;
    if (b->parent_id && (s = check_id(b->parent_id, "parent backup id")) != PC_OK)
        return s;
    if (!type_valid(b->type))
        return pc_err(PC_E_USAGE, "backup %s: invalid type %d", b->id, (int)b->type);
    if (!status_valid(b->status))
        return pc_err(PC_E_USAGE, "backup %s: invalid status %d", b->id, (int)b->status);
    if (b->keep && strcmp(b->keep, "full") != 0 && strcmp(b->keep, "standalone") != 0)
        return pc_err(PC_E_USAGE, "backup %s: invalid keep target \"%s\" (full or standalone)",
                      b->id, b->keep);
    pc_wal_name bw, ew;
    const char *begin_wal, *end_wal;
    if ((s = check_wal(b->id, "begin_wal", b->begin_wal, &bw, &begin_wal)) != PC_OK ||
        (s = check_wal(b->id, "end_wal", b->end_wal, &ew, &end_wal)) != PC_OK)
        return s;

    s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_BACKUP_PUT,
                 "INSERT OR REPLACE INTO backup (" BACKUP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                 "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
                 "?23, ?24)",
                 &st);
    if (!s) {
        cat_bind_text(st, 1, b->id);
        cat_bind_text(st, 2, b->name);
        sqlite3_bind_int(st, 3, (int)b->type);
        cat_bind_text(st, 4, b->parent_id);
        sqlite3_bind_int(st, 5, (int)b->status);
        cat_bind_text(st, 6, begin_wal);
        cat_bind_text(st, 7, end_wal);
        sqlite3_bind_int64(st, 8, cat_u2i(b->begin_lsn));
        sqlite3_bind_int64(st, 9, cat_u2i(b->end_lsn));
        sqlite3_bind_int64(st, 10, cat_u2i(b->begin_offset));
        sqlite3_bind_int64(st, 11, cat_u2i(b->end_offset));
        sqlite3_bind_int64(st, 12, b->timeline);
        sqlite3_bind_int64(st, 13, b->begin_time);
        sqlite3_bind_int64(st, 14, b->end_time);
        cat_bind_text(st, 15, b->systemid);
        sqlite3_bind_int(st, 16, b->pg_version);
        sqlite3_bind_int64(st, 17, cat_u2i(b->size));
        sqlite3_bind_int64(st, 18, cat_u2i(b->stored_size));
        sqlite3_bind_int(st, 19, b->codec);
        cat_bind_text(st, 20, b->keep);
        cat_bind_text(st, 21, b->error);
        sqlite3_bind_int(st, 22, b->has_manifest ? 1 : 0);
        cat_bind_text(st, 23, b->info_etag);
        sqlite3_bind_int64(st, 24, pc_now_us());
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "storing backup %s", b->id);
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}

pc_status cat_backup_get(cat *c, const char *id, cat_backup *out)
{
    memset(out, 0, sizeof *out);
    pc_status s = check_id(id, "backup id");
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_BACKUP_GET, "SELECT " BACKUP_COLS " FROM backup WHERE id = ?1", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, id);
    s = backup_fetch(c, st, "reading a backup", out);
    if (s == PC_E_NOT_FOUND)
        pc_err(PC_E_NOT_FOUND, "backup %s is not in catalog \"%s\"", id, c->path);
    return s;
}

pc_status cat_backup_find_name(cat *c, const char *name, cat_backup *out)
{
    memset(out, 0, sizeof *out);
    if (!name || !*name)
        return pc_err(PC_E_USAGE, "empty backup name");
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_BACKUP_FIND_NAME,
                           "SELECT " BACKUP_COLS " FROM backup WHERE name = ?1 "
                           "ORDER BY id DESC LIMIT 1",
                           &st);
    if (s)
        return s;
    cat_bind_text(st, 1, name);
    s = backup_fetch(c, st, "looking up a backup by name", out);
    if (s == PC_E_NOT_FOUND)
        pc_err(PC_E_NOT_FOUND, "no backup named \"%s\" in catalog \"%s\"", name, c->path);
    return s;
}

pc_status cat_backup_list(cat *c, cat_backup_cb cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    pc_status s =
        cat_stmt(c, CAT_S_BACKUP_LIST, "SELECT " BACKUP_COLS " FROM backup ORDER BY id", &st);
    if (s)
        return s;
    return backup_each(c, st, cb, arg);
}

pc_status cat_backup_children(cat *c, const char *id, cat_backup_cb cb, void *arg)
{
    pc_status s = check_id(id, "backup id");
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_BACKUP_CHILDREN,
                 "SELECT " BACKUP_COLS " FROM backup WHERE parent_id = ?1 ORDER BY id", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, id);
    return backup_each(c, st, cb, arg);
}

pc_status cat_backup_delete(cat *c, const char *id)
{
    pc_status s = check_id(id, "backup id");
    if (s)
        return s;
    s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_BACKUP_DEL, "DELETE FROM backup WHERE id = ?1", &st);
    if (!s) {
        cat_bind_text(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "deleting backup %s", id);
        else if (sqlite3_changes(c->db) == 0)
            s = pc_err(PC_E_NOT_FOUND, "backup %s is not in catalog \"%s\"", id, c->path);
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}

pc_status cat_backup_count(cat *c, uint64_t *n)
{
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_BACKUP_COUNT, "SELECT count(*) FROM backup", &st);
    if (s)
        return s;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = cat_col_u64(st, 0);
    else
        s = cat_sql_err(c, rc, "counting backups");
    cat_stmt_done(st);
    return s;
}

static pc_status backup_done_end(cat *c, bool latest, cat_backup *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    pc_status s;
    if (latest)
        s = cat_stmt(c, CAT_S_BACKUP_LATEST,
                     "SELECT " BACKUP_COLS " FROM backup WHERE status = 2 "
                     "ORDER BY id DESC LIMIT 1",
                     &st);
    else
        s = cat_stmt(c, CAT_S_BACKUP_OLDEST,
                     "SELECT " BACKUP_COLS " FROM backup WHERE status = 2 ORDER BY id LIMIT 1",
                     &st);
    if (s)
        return s;
    s = backup_fetch(c, st, "looking up a DONE backup", out);
    if (s == PC_E_NOT_FOUND)
        pc_err(PC_E_NOT_FOUND, "catalog \"%s\" has no DONE backup", c->path);
    return s;
}

pc_status cat_backup_latest_done(cat *c, cat_backup *out)
{
    return backup_done_end(c, true, out);
}

pc_status cat_backup_oldest_done(cat *c, cat_backup *out)
{
    return backup_done_end(c, false, out);
}

/* ---- runs ---- */

void cat_run_clear(cat_run *r)
{
    free(r->mem);
    memset(r, 0, sizeof *r);
}

#define RUN_COLS                                                                                   \
    "id, kind, scheduled_at, started_at, ended_at, status, bytes, backup_id, error, backup_type"

static void run_row(sqlite3_stmt *st, cat_run *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->kind = cat_col_text(st, 1);
    r->scheduled_at = sqlite3_column_int64(st, 2);
    r->started_at = sqlite3_column_int64(st, 3);
    r->ended_at = sqlite3_column_int64(st, 4);
    r->status = (pc_status)sqlite3_column_int(st, 5);
    r->bytes = cat_col_u64(st, 6);
    r->backup_id = cat_col_text(st, 7);
    r->error = cat_col_text(st, 8);
    r->backup_type = cat_col_text(st, 9);
}

pc_status cat_run_begin(cat *c, const char *kind, int64_t scheduled_at, int64_t *id)
{
    *id = 0;
    if (!kind || !*kind)
        return pc_err(PC_E_USAGE, "a run needs a kind");
    pc_status s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_RUN_BEGIN,
                 "INSERT INTO run (kind, scheduled_at, started_at, bytes) VALUES (?1, ?2, ?3, 0)",
                 &st);
    if (!s) {
        cat_bind_text(st, 1, kind);
        sqlite3_bind_int64(st, 2, scheduled_at);
        sqlite3_bind_int64(st, 3, pc_now_us());
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "recording the start of a %s run", kind);
        else
            *id = sqlite3_last_insert_rowid(c->db);
        cat_stmt_done(st);
    }
    s = cat_tx_leave(c, s);
    if (s)
        *id = 0;
    return s;
}

pc_status cat_run_end(cat *c, int64_t id, pc_status status, uint64_t bytes, const char *backup_id,
                      const char *backup_type, const char *error)
{
    pc_status s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_RUN_END,
                 "UPDATE run SET ended_at = ?2, status = ?3, bytes = ?4, backup_id = ?5, "
                 "error = ?6, backup_type = ?7 WHERE id = ?1",
                 &st);
    if (!s) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, pc_now_us());
        sqlite3_bind_int(st, 3, (int)status);
        sqlite3_bind_int64(st, 4, cat_u2i(bytes));
        cat_bind_text(st, 5, backup_id);
        cat_bind_text(st, 6, error);
        cat_bind_text(st, 7, backup_type);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "recording the end of run %lld", (long long)id);
        else if (sqlite3_changes(c->db) == 0)
            s = pc_err(PC_E_NOT_FOUND, "run %lld is not in catalog \"%s\"", (long long)id, c->path);
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}

pc_status cat_run_list(cat *c, size_t limit, cat_run_cb cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    pc_status s =
        cat_stmt(c, CAT_S_RUN_LIST, "SELECT " RUN_COLS " FROM run ORDER BY id DESC LIMIT ?1", &st);
    if (s)
        return s;
    /* A negative LIMIT is no limit in SQLite. */
    sqlite3_bind_int64(st, 1, limit == 0 || limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cat_run r;
        run_row(st, &r);
        s = cb(arg, &r);
    }
    if (!s && rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "listing runs");
    cat_stmt_done(st);
    return s;
}

pc_status cat_run_last(cat *c, const char *kind, cat_run *out)
{
    memset(out, 0, sizeof *out);
    if (!kind || !*kind)
        return pc_err(PC_E_USAGE, "a run needs a kind");
    sqlite3_stmt *st = NULL;
    pc_status s =
        cat_stmt(c, CAT_S_RUN_LAST,
                 "SELECT " RUN_COLS " FROM run WHERE kind = ?1 ORDER BY id DESC LIMIT 1", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, kind);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        run_row(st, out);
        const char **const f[] = {&out->kind, &out->backup_id, &out->error, &out->backup_type};
        s = cat_own_strings(f, sizeof f / sizeof f[0], &out->mem);
        if (s)
            memset(out, 0, sizeof *out);
    } else if (rc == SQLITE_DONE) {
        s = pc_err(PC_E_NOT_FOUND, "no %s run in catalog \"%s\"", kind, c->path);
    } else {
        s = cat_sql_err(c, rc, "reading the last %s run", kind);
    }
    cat_stmt_done(st);
    return s;
}
