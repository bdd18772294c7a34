/* The catalog handle: opening, schema migrations, errors, transactions, meta. */
#include "catalog/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/cat_int.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/paths.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/timeutil.h"

/*
 * Schema migrations, oldest first: step i brings the file from version i to
 * i + 1 in one immediate transaction. Released steps are never edited; a
 * change is a new step appended here.
 *
 * The WAL index is clustered on (tli, segno, name) so that ordered
 * iteration and gap scans read pages in sequence; name is the identity
 * (unique), which is what INSERT OR REPLACE keys on.
 */
static const char *const migrations[] = {
    /* 1: first release */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE wal ("
    "  tli INTEGER NOT NULL,"
    "  segno INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  codec INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  stored_size INTEGER NOT NULL,"
    "  sha256 TEXT,"
    "  etag TEXT,"
    "  key TEXT NOT NULL,"
    "  stored_at INTEGER NOT NULL,"
    "  src_ino INTEGER NOT NULL,"
    "  src_mtime_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (tli, segno, name)"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX wal_name ON wal(name);"
    "CREATE TABLE wal_claim ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  host TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  claimed_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE backup ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT,"
    "  type INTEGER NOT NULL,"
    "  parent_id TEXT,"
    "  status INTEGER NOT NULL,"
    "  begin_wal TEXT,"
    "  end_wal TEXT,"
    "  begin_lsn INTEGER NOT NULL,"
    "  end_lsn INTEGER NOT NULL,"
    "  begin_offset INTEGER NOT NULL,"
    "  end_offset INTEGER NOT NULL,"
    "  timeline INTEGER NOT NULL,"
    "  begin_time INTEGER NOT NULL,"
    "  end_time INTEGER NOT NULL,"
    "  systemid TEXT,"
    "  pg_version INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  stored_size INTEGER NOT NULL,"
    "  codec INTEGER NOT NULL,"
    "  keep TEXT,"
    "  error TEXT,"
    "  has_manifest INTEGER NOT NULL,"
    "  info_etag TEXT,"
    "  updated_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX backup_name ON backup(name) WHERE name IS NOT NULL;"
    "CREATE INDEX backup_parent ON backup(parent_id) WHERE parent_id IS NOT NULL;"
    "CREATE INDEX backup_status ON backup(status, id);"
    "CREATE TABLE run ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  scheduled_at INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  status INTEGER,"
    "  bytes INTEGER NOT NULL,"
    "  backup_id TEXT,"
    "  error TEXT"
    ");"
    "CREATE INDEX run_kind ON run(kind, id);",
    /* 2: the type of the backup a run made (an incr run with nothing to build on makes a full) */
    "ALTER TABLE run ADD COLUMN backup_type TEXT;",
};

#define CAT_NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int cat_schema_version(void)
{
    return CAT_NMIGRATIONS;
}

const char *cat_path(const cat *c)
{
    return c->path;
}

pc_status cat_sql_err(cat *c, int rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    errno = c->db ? sqlite3_system_errno(c->db) : 0;

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        pc_err(PC_E_BUSY, "catalog \"%s\" stayed locked for more than %lld ms while %s", c->path,
               (long long)c->busy_timeout_ms, what);
        pc_err_hint("Another pgcask process holds a long transaction on the catalog; retry, "
                    "or raise the busy timeout.");
        return PC_E_BUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        pc_err(PC_E_IO, "catalog \"%s\" is corrupt (%s): %s", c->path, what, msg);
        pc_err_hint("The catalog is only a cache: move it away and run `pgcask catalog sync` "
                    "to rebuild it from the repository.");
        return PC_E_IO;
    case SQLITE_NOMEM:
        return pc_err(PC_E_INTERNAL, "out of memory while %s in catalog \"%s\"", what, c->path);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        pc_err(PC_E_IO, "catalog \"%s\": %s: %s", c->path, what, msg);
        pc_err_hint("Check that this user can write the catalog file and its directory (SQLite "
                    "also creates \"%s-wal\" and \"%s-shm\" next to it).",
                    c->path, c->path);
        return PC_E_IO;
    case SQLITE_FULL:
        pc_err(PC_E_IO, "catalog \"%s\": %s: %s", c->path, what, msg);
        pc_err_hint("Free space on the file system that holds the catalog.");
        return PC_E_IO;
    default:
        return pc_err(PC_E_IO, "catalog \"%s\": %s: %s", c->path, what, msg);
    }
}

pc_status cat_stmt(cat *c, cat_stmt_id id, const char *sql, sqlite3_stmt **out)
{
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            pc_status st = cat_sql_err(c, rc, "preparing a statement");
            sqlite3_finalize(c->stmt[id]);
            c->stmt[id] = NULL;
            return st;
        }
    }
    *out = c->stmt[id];
    return PC_OK;
}

void cat_stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static pc_status exec_stmt(cat *c, cat_stmt_id id, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, id, sql, &st);
    if (s)
        return s;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "%s", what);
    cat_stmt_done(st);
    return s;
}

static void rollback(cat *c)
{
    /* SQLite already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR). */
    if (sqlite3_get_autocommit(c->db))
        return;
    sqlite3_stmt *st = NULL;
    if (cat_stmt(c, CAT_S_ROLLBACK, "ROLLBACK", &st) == PC_OK) {
        sqlite3_step(st);
        cat_stmt_done(st);
    }
}

pc_status cat_tx_enter(cat *c)
{
    if (c->in_tx)
        return PC_OK;
    return exec_stmt(c, CAT_S_BEGIN, "BEGIN IMMEDIATE", "starting a transaction");
}

pc_status cat_tx_leave(cat *c, pc_status st)
{
    if (c->in_tx)
        return st;
    if (st == PC_OK) {
        st = exec_stmt(c, CAT_S_COMMIT, "COMMIT", "committing");
        if (st == PC_OK)
            return PC_OK;
    }
    rollback(c);
    return st;
}

pc_status cat_tx_begin(cat *c)
{
    if (c->in_tx)
        abort(); /* programming error: transactions do not nest */
    pc_status st = cat_tx_enter(c);
    if (st == PC_OK)
        c->in_tx = true;
    return st;
}

pc_status cat_tx_commit(cat *c)
{
    if (!c->in_tx)
        abort(); /* programming error: no transaction to commit */
    c->in_tx = false;
    return cat_tx_leave(c, PC_OK);
}

void cat_tx_rollback(cat *c)
{
    if (!c->in_tx)
        return;
    c->in_tx = false;
    rollback(c);
}

pc_status cat_own_strings(const char **const f[], size_t n, void **mem)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        if (*f[i])
            total += strlen(*f[i]) + 1;
    char *p = pc_malloc(total);
    if (!p)
        return PC_E_INTERNAL;
    *mem = p;
    for (size_t i = 0; i < n; i++) {
        if (!*f[i])
            continue;
        size_t len = strlen(*f[i]) + 1;
        memcpy(p, *f[i], len);
        *f[i] = p;
        p += len;
    }
    return PC_OK;
}

/* ---- opening ---- */

/*
 * Statements run while opening, before the statement cache is in use. The
 * busy handler covers most waits, but SQLite returns SQLITE_BUSY without
 * calling it in some cases (a journal-mode change racing another opener,
 * WAL recovery), so retry here until the busy timeout.
 */
static pc_status open_exec(cat *c, const char *sql, const char *what, char *text, size_t textlen)
{
    int64_t deadline = pc_now_mono_ms() + c->busy_timeout_ms;
    for (;;) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW && text) {
                const char *v = cat_col_text(st, 0);
                snprintf(text, textlen, "%s", v ? v : "");
            }
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
        if (rc == SQLITE_OK) {
            sqlite3_finalize(st);
            return PC_OK;
        }
        if ((rc & 0xff) == SQLITE_BUSY && pc_now_mono_ms() < deadline) {
            sqlite3_finalize(st);
            pc_sleep_ms(5);
            continue;
        }
        pc_status s = cat_sql_err(c, rc, "%s", what);
        sqlite3_finalize(st);
        return s;
    }
}

static pc_status read_version(cat *c, int *version)
{
    char text[32];
    pc_status st = open_exec(c,
                             "SELECT count(*) FROM sqlite_master "
                             "WHERE type = 'table' AND name = 'schema_version'",
                             "reading the schema version", text, sizeof text);
    if (st)
        return st;
    *version = 0;
    if (strcmp(text, "0") == 0)
        return PC_OK;
    text[0] = '\0';
    st = open_exec(c, "SELECT version FROM schema_version WHERE id = 1",
                   "reading the schema version", text, sizeof text);
    if (st)
        return st;
    if (text[0] == '\0')
        return PC_OK; /* no row yet */
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*end || errno || v < 0 || v > INT_MAX) {
        pc_err(PC_E_IO, "catalog \"%s\" is corrupt: schema version \"%s\"", c->path, text);
        pc_err_hint("The catalog is only a cache: move it away and run `pgcask catalog sync` "
                    "to rebuild it from the repository.");
        return PC_E_IO;
    }
    *version = (int)v;
    return PC_OK;
}

static pc_status newer_version(cat *c, int version)
{
    pc_err(PC_E_CONFIG,
           "catalog \"%s\" was written by a newer pgcask (schema version %d, this pgcask knows "
           "up to %d)",
           c->path, version, CAT_NMIGRATIONS);
    pc_err_hint("Upgrade pgcask on this host, or give another --catalog file (the catalog is a "
                "cache that `pgcask catalog sync` rebuilds).");
    return PC_E_CONFIG;
}

/*
 * Each step runs in its own immediate transaction and re-reads the version
 * inside it, so processes opening a new file at the same moment serialise on
 * the write lock and each step is applied exactly once.
 */
static pc_status migrate(cat *c)
{
    int version;
    pc_status st = read_version(c, &version);
    if (st)
        return st;
    while (version < CAT_NMIGRATIONS) {
        st = open_exec(c, "BEGIN IMMEDIATE", "starting the schema migration", NULL, 0);
        if (st)
            return st;
        st = open_exec(c,
                       "CREATE TABLE IF NOT EXISTS schema_version ("
                       "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
                       "creating the schema_version table", NULL, 0);
        if (!st)
            st = read_version(c, &version);
        if (!st && version < CAT_NMIGRATIONS) {
            char what[64];
            snprintf(what, sizeof what, "migrating the schema to version %d", version + 1);
            int rc = sqlite3_exec(c->db, migrations[version], NULL, NULL, NULL);
            if (rc != SQLITE_OK)
                st = cat_sql_err(c, rc, "%s", what);
            if (!st) {
                char sql[96];
                snprintf(sql, sizeof sql,
                         "INSERT OR REPLACE INTO schema_version (id, version) VALUES (1, %d)",
                         version + 1);
                st = open_exec(c, sql, what, NULL, 0);
            }
        }
        if (!st)
            st = open_exec(c, "COMMIT", "committing the schema migration", NULL, 0);
        if (st) {
            rollback(c);
            return st;
        }
        st = read_version(c, &version);
        if (st)
            return st;
    }
    if (version > CAT_NMIGRATIONS)
        return newer_version(c, version);
    return PC_OK;
}

static pc_status create_file(const char *path)
{
    char *dir = pc_dirname(path);
    if (!dir)
        return PC_E_INTERNAL;
    pc_status st = pc_mkdirs(dir, 0700);
    free(dir);
    if (st)
        return st;
    /* Created here rather than by SQLite so the mode is 0600 whatever the umask. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return PC_OK;
    }
    if (errno == EEXIST)
        return PC_OK;
    pc_err(PC_E_IO, "could not create catalog \"%s\": %m", path);
    pc_err_hint("Check that this user can write the directory, or give another --catalog file.");
    return PC_E_IO;
}

static pc_status open_db(cat *c)
{
    pc_status st = create_file(c->path);
    if (st)
        return st;
    int rc = sqlite3_open_v2(
        c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return cat_sql_err(c, rc, "opening");
    sqlite3_extended_result_codes(c->db, 1);
    /*
     * Keep the -wal and -shm files when the last connection closes: every
     * archive_command call opens the catalog, and re-creating them each time
     * costs the fast path a measurable share of its budget.
     */
    int persist = 1;
    sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_busy_timeout(c->db, (int)(c->busy_timeout_ms > INT_MAX ? INT_MAX : c->busy_timeout_ms));
    /* SQLite silently falls back to read-only for a write-protected file. */
    if (sqlite3_db_readonly(c->db, "main") == 1) {
        pc_err(PC_E_IO, "catalog \"%s\" is read-only", c->path);
        pc_err_hint("Check that this user can write the catalog file and its directory (SQLite "
                    "also creates \"%s-wal\" and \"%s-shm\" next to it).",
                    c->path, c->path);
        return PC_E_IO;
    }
    char mode[16] = "";
    st = open_exec(c, "PRAGMA journal_mode = WAL", "switching to WAL mode", mode, sizeof mode);
    if (st)
        return st;
    if (strcmp(mode, "wal") != 0) {
        pc_err(PC_E_IO,
               "catalog \"%s\": the file system does not support SQLite's WAL mode "
               "(journal mode stays \"%s\")",
               c->path, mode);
        pc_err_hint("Put the catalog on a local file system (--catalog or --state-dir).");
        return PC_E_IO;
    }
    /* NORMAL: a power loss may drop the last transactions, which a sync restores. */
    st = open_exec(c, "PRAGMA synchronous = NORMAL", "setting synchronous", NULL, 0);
    if (!st)
        st = open_exec(c, "PRAGMA journal_size_limit = 67108864", "setting journal_size_limit",
                       NULL, 0);
    if (!st)
        st = open_exec(c, "PRAGMA cache_size = -8192", "setting cache_size", NULL, 0);
    if (!st)
        st = migrate(c);
    return st;
}

pc_status cat_open_ex(const char *path, int64_t busy_timeout_ms, cat **out)
{
    *out = NULL;
    if (!path || !*path)
        return pc_err(PC_E_USAGE, "empty catalog path");
    cat *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    c->busy_timeout_ms = busy_timeout_ms < 0 ? 0 : busy_timeout_ms;
    c->path = pc_strdup(path);
    if (!c->path) {
        free(c);
        return PC_E_INTERNAL;
    }
    if (gethostname(c->host, sizeof c->host) != 0)
        c->host[0] = '\0';
    c->host[sizeof c->host - 1] = '\0';
    pc_status st = open_db(c);
    if (st) {
        cat_close(c);
        return st;
    }
    *out = c;
    return PC_OK;
}

pc_status cat_open(const char *path, cat **out)
{
    return cat_open_ex(path, CAT_BUSY_TIMEOUT_DEFAULT_MS, out);
}

void cat_close(cat *c)
{
    if (!c)
        return;
    for (int i = 0; i < CAT_S_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    /* An open transaction is rolled back by sqlite3_close. */
    sqlite3_close(c->db);
    free(c->path);
    free(c);
}

pc_status cat_default_path(const char *state_dir, const char *repo_url, const char *server,
                           char **out)
{
    *out = NULL;
    if (!state_dir || !*state_dir)
        return pc_err(PC_E_USAGE, "no state directory for the catalog");
    if (!repo_url || !*repo_url)
        return pc_err(PC_E_USAGE, "no repository URL for the catalog");
    if (!server || !*server)
        return pc_err(PC_E_USAGE, "no server name for the catalog");
    char tag[PC_REPO_TAG_MAX];
    pc_repo_server_tag(repo_url, server, tag, sizeof tag);
    size_t dl = strlen(state_dir);
    while (dl > 0 && state_dir[dl - 1] == '/')
        dl--;
    *out = pc_asprintf("%.*s/catalog/%s.db", (int)dl, state_dir, tag);
    return *out ? PC_OK : PC_E_INTERNAL;
}

/* ---- meta ---- */

pc_status cat_meta_get(cat *c, const char *key, char **value)
{
    *value = NULL;
    if (!key || !*key)
        return pc_err(PC_E_USAGE, "catalog meta needs a key");
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_META_GET, "SELECT value FROM meta WHERE key = ?1", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *value = pc_strdup(cat_col_text(st, 0));
        s = *value ? PC_OK : PC_E_INTERNAL;
    } else if (rc == SQLITE_DONE) {
        s = pc_err(PC_E_NOT_FOUND, "catalog \"%s\" has no value for \"%s\"", c->path, key);
    } else {
        s = cat_sql_err(c, rc, "reading meta key \"%s\"", key);
    }
    cat_stmt_done(st);
    return s;
}

static pc_status meta_write(cat *c, cat_stmt_id id, const char *sql, const char *key,
                            const char *value)
{
    pc_status s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, id, sql, &st);
    if (!s) {
        cat_bind_text(st, 1, key);
        if (value)
            cat_bind_text(st, 2, value);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "writing meta key \"%s\"", key);
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}

pc_status cat_meta_set(cat *c, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return pc_err(PC_E_USAGE, "catalog meta needs a key and a value");
    return meta_write(c, CAT_S_META_SET, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                      key, value);
}

pc_status cat_meta_delete(cat *c, const char *key)
{
    if (!key || !*key)
        return pc_err(PC_E_USAGE, "catalog meta needs a key");
    return meta_write(c, CAT_S_META_DEL, "DELETE FROM meta WHERE key = ?1", key, NULL);
}
