/* The WAL index and the upload claims. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/cat_int.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/timeutil.h"

#define WAL_COLS                                                                                   \
    "name, kind, tli, segno, codec, size, stored_size, sha256, etag, key, stored_at, src_ino, "    \
    "src_mtime_ns"

void cat_wal_clear(cat_wal *w)
{
    free(w->mem);
    memset(w, 0, sizeof *w);
}

static void wal_row(sqlite3_stmt *st, cat_wal *w)
{
    memset(w, 0, sizeof *w);
    w->name = cat_col_text(st, 0);
    w->kind = (pc_wal_kind)sqlite3_column_int(st, 1);
    w->tli = (uint32_t)sqlite3_column_int64(st, 2);
    w->segno = cat_col_u64(st, 3);
    w->codec = sqlite3_column_int(st, 4);
    w->size = cat_col_u64(st, 5);
    w->stored_size = cat_col_u64(st, 6);
    w->sha256 = cat_col_text(st, 7);
    w->etag = cat_col_text(st, 8);
    w->key = cat_col_text(st, 9);
    w->stored_at = sqlite3_column_int64(st, 10);
    w->src_ino = cat_col_u64(st, 11);
    w->src_mtime_ns = sqlite3_column_int64(st, 12);
}

/* Step a bound single-row query into *out (strings owned by out->mem). */
static pc_status wal_fetch(cat *c, sqlite3_stmt *st, const char *what, cat_wal *out)
{
    pc_status s;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        wal_row(st, out);
        const char **const f[] = {&out->name, &out->sha256, &out->etag, &out->key};
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

static pc_status parse_name(const char *name, pc_wal_name *wn)
{
    if (!name)
        return pc_err(PC_E_USAGE, "missing WAL file name");
    return pc_wal_parse(name, wn);
}

pc_status cat_wal_get(cat *c, const char *name, cat_wal *out)
{
    memset(out, 0, sizeof *out);
    pc_wal_name wn;
    pc_status s = parse_name(name, &wn);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_WAL_GET, "SELECT " WAL_COLS " FROM wal WHERE name = ?1", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, wn.name);
    s = wal_fetch(c, st, "reading a WAL row", out);
    if (s == PC_E_NOT_FOUND)
        pc_err(PC_E_NOT_FOUND, "WAL file \"%s\" is not in catalog \"%s\"", wn.name, c->path);
    return s;
}

/* A checked record ready to bind: the derived columns and the normalised strings. */
typedef struct wal_in {
    pc_wal_name wn;
    uint64_t segno;
    char sha[2 * PC_SHA256_LEN + 1];
} wal_in;

static pc_status wal_check(const cat_wal *w, uint64_t segsize, wal_in *in)
{
    pc_status s = parse_name(w->name, &in->wn);
    if (s)
        return s;
    in->segno = 0;
    if (in->wn.kind != PC_WAL_HISTORY) {
        /* The low 8 digits count segments within 4 GiB: they must stay below that count. */
        if (in->wn.seg >= UINT64_C(0x100000000) / segsize) {
            pc_err(PC_E_USAGE,
                   "WAL file name \"%s\" is out of range for a WAL segment size of "
                   "%llu bytes",
                   in->wn.name, (unsigned long long)segsize);
            pc_err_hint("The WAL segment size must match the cluster (initdb --wal-segsize).");
            return PC_E_USAGE;
        }
        in->segno = pc_wal_name_segno(&in->wn, segsize);
    }
    if (!w->key || !*w->key)
        return pc_err(PC_E_USAGE, "WAL file \"%s\" has no object key", in->wn.name);
    if (w->codec < 0)
        return pc_err(PC_E_USAGE, "WAL file \"%s\" has an invalid codec %d", in->wn.name, w->codec);
    in->sha[0] = '\0';
    if (w->sha256) {
        size_t len = strlen(w->sha256);
        bool ok = len == 2 * PC_SHA256_LEN;
        for (size_t i = 0; ok && i < len; i++) {
            unsigned char ch = (unsigned char)w->sha256[i];
            ok = isxdigit(ch) != 0;
            in->sha[i] = (char)tolower(ch);
        }
        if (!ok)
            return pc_err(PC_E_USAGE, "invalid SHA-256 \"%s\" for WAL file \"%s\"", w->sha256,
                          in->wn.name);
        in->sha[len] = '\0';
    }
    return PC_OK;
}

/* in is scratch space; afterwards in->wn.name is the normalised name. */
static pc_status wal_insert(cat *c, const cat_wal *w, uint64_t segsize, wal_in *in)
{
    pc_status s = wal_check(w, segsize, in);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_WAL_PUT,
                 "INSERT OR REPLACE INTO wal (" WAL_COLS ") "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                 &st);
    if (s)
        return s;
    cat_bind_text(st, 1, in->wn.name);
    sqlite3_bind_int(st, 2, (int)in->wn.kind);
    sqlite3_bind_int64(st, 3, in->wn.tli);
    sqlite3_bind_int64(st, 4, cat_u2i(in->segno));
    sqlite3_bind_int(st, 5, w->codec);
    sqlite3_bind_int64(st, 6, cat_u2i(w->size));
    sqlite3_bind_int64(st, 7, cat_u2i(w->stored_size));
    cat_bind_text(st, 8, in->sha[0] ? in->sha : NULL);
    cat_bind_text(st, 9, w->etag);
    cat_bind_text(st, 10, w->key);
    sqlite3_bind_int64(st, 11, w->stored_at);
    sqlite3_bind_int64(st, 12, cat_u2i(w->src_ino));
    sqlite3_bind_int64(st, 13, w->src_mtime_ns);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "storing WAL file \"%s\"", in->wn.name);
    cat_stmt_done(st);
    return s;
}

static pc_status check_segsize(uint64_t segsize)
{
    if (pc_wal_segsize_valid(segsize))
        return PC_OK;
    pc_err(PC_E_USAGE, "invalid WAL segment size %llu bytes", (unsigned long long)segsize);
    pc_err_hint("The WAL segment size is a power of two between 1MiB and 1GiB "
                "(initdb --wal-segsize).");
    return PC_E_USAGE;
}

pc_status cat_wal_put_many(cat *c, const cat_wal *w, size_t n, uint64_t segsize)
{
    pc_status s = check_segsize(segsize);
    if (s)
        return s;
    s = cat_tx_enter(c);
    if (s)
        return s;
    wal_in in;
    for (size_t i = 0; i < n && !s; i++)
        s = wal_insert(c, &w[i], segsize, &in);
    return cat_tx_leave(c, s);
}

pc_status cat_wal_put(cat *c, const cat_wal *w, uint64_t segsize)
{
    return cat_wal_put_many(c, w, 1, segsize);
}

pc_status cat_wal_delete(cat *c, const char *const *names, size_t n, size_t *deleted)
{
    size_t count = 0;
    pc_status s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_WAL_DEL, "DELETE FROM wal WHERE name = ?1", &st);
    for (size_t i = 0; i < n && !s; i++) {
        pc_wal_name wn;
        s = parse_name(names[i], &wn);
        if (s)
            break;
        cat_bind_text(st, 1, wn.name);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "deleting WAL file \"%s\"", wn.name);
        else
            count += (size_t)sqlite3_changes(c->db);
        cat_stmt_done(st);
    }
    s = cat_tx_leave(c, s);
    if (deleted)
        *deleted = s ? 0 : count;
    return s;
}

pc_status cat_wal_delete_all(cat *c)
{
    pc_status s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_WAL_DEL_ALL, "DELETE FROM wal", &st);
    if (!s) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "deleting every WAL row");
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}

/* SQLite integers are signed: clamp the open upper bound. */
static sqlite3_int64 segno_bound(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/* Bind ?1 tli, ?2 segno_min, ?3 segno_max, ?4 kind. */
static void bind_filter(sqlite3_stmt *st, const cat_wal_filter *f)
{
    sqlite3_bind_int64(st, 1, f ? f->tli : 0);
    sqlite3_bind_int64(st, 2, f ? segno_bound(f->segno_min) : 0);
    sqlite3_bind_int64(st, 3, f ? segno_bound(f->segno_max) : INT64_MAX);
    sqlite3_bind_int(st, 4, f ? (int)f->kind : 0);
}

pc_status cat_wal_iter(cat *c, const cat_wal_filter *f, cat_wal_cb cb, void *arg)
{
    sqlite3_stmt *st = NULL;
    pc_status s;
    if (f && f->tli)
        s = cat_stmt(c, CAT_S_WAL_ITER_TLI,
                     "SELECT " WAL_COLS " FROM wal WHERE tli = ?1 AND segno BETWEEN ?2 AND ?3 "
                     "AND (?4 = 0 OR kind = ?4) ORDER BY tli, segno, name",
                     &st);
    else
        s = cat_stmt(c, CAT_S_WAL_ITER_ALL,
                     "SELECT " WAL_COLS " FROM wal WHERE ?1 = 0 AND segno BETWEEN ?2 AND ?3 "
                     "AND (?4 = 0 OR kind = ?4) ORDER BY tli, segno, name",
                     &st);
    if (s)
        return s;
    bind_filter(st, f);
    int rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cat_wal w;
        wal_row(st, &w);
        s = cb(arg, &w);
    }
    if (!s && rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "listing WAL rows");
    cat_stmt_done(st);
    return s;
}

pc_status cat_wal_stats(cat *c, const cat_wal_filter *f, uint64_t *count, uint64_t *stored_bytes)
{
    sqlite3_stmt *st = NULL;
    pc_status s;
    if (f && f->tli)
        s = cat_stmt(c, CAT_S_WAL_STATS_TLI,
                     "SELECT count(*), coalesce(sum(stored_size), 0) FROM wal WHERE tli = ?1 "
                     "AND segno BETWEEN ?2 AND ?3 AND (?4 = 0 OR kind = ?4)",
                     &st);
    else
        s = cat_stmt(c, CAT_S_WAL_STATS_ALL,
                     "SELECT count(*), coalesce(sum(stored_size), 0) FROM wal WHERE ?1 = 0 "
                     "AND segno BETWEEN ?2 AND ?3 AND (?4 = 0 OR kind = ?4)",
                     &st);
    if (s)
        return s;
    bind_filter(st, f);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = cat_col_u64(st, 0);
        *stored_bytes = cat_col_u64(st, 1);
    } else {
        s = cat_sql_err(c, rc, "counting WAL rows");
    }
    cat_stmt_done(st);
    return s;
}

static pc_status wal_end(cat *c, uint32_t tli, bool last, cat_wal *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    pc_status s;
    if (last)
        s = cat_stmt(c, CAT_S_WAL_LAST,
                     "SELECT " WAL_COLS " FROM wal WHERE tli = ?1 AND kind = 1 "
                     "ORDER BY segno DESC LIMIT 1",
                     &st);
    else
        s = cat_stmt(c, CAT_S_WAL_FIRST,
                     "SELECT " WAL_COLS " FROM wal WHERE tli = ?1 AND kind = 1 "
                     "ORDER BY segno LIMIT 1",
                     &st);
    if (s)
        return s;
    sqlite3_bind_int64(st, 1, tli);
    s = wal_fetch(c, st, "reading the WAL range of a timeline", out);
    if (s == PC_E_NOT_FOUND)
        pc_err(PC_E_NOT_FOUND, "catalog \"%s\" has no WAL segment on timeline %u", c->path,
               (unsigned)tli);
    return s;
}

pc_status cat_wal_first(cat *c, uint32_t tli, cat_wal *out)
{
    return wal_end(c, tli, false, out);
}

pc_status cat_wal_last(cat *c, uint32_t tli, cat_wal *out)
{
    return wal_end(c, tli, true, out);
}

/* One index probe per timeline instead of a DISTINCT over every row. */
pc_status cat_wal_timelines(cat *c, uint32_t **tlis, size_t *n)
{
    *tlis = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_WAL_NEXT_TLI,
                           "SELECT tli FROM wal WHERE tli > ?1 ORDER BY tli LIMIT 1", &st);
    if (s)
        return s;
    uint32_t *arr = NULL;
    size_t cnt = 0, alloc = 0;
    sqlite3_int64 prev = -1;
    for (;;) {
        sqlite3_bind_int64(st, 1, prev);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            s = cat_sql_err(c, rc, "listing timelines");
            break;
        }
        prev = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (cnt == alloc) {
            size_t na = alloc ? 2 * alloc : 8;
            uint32_t *p = pc_realloc(arr, na * sizeof *arr);
            if (!p) {
                s = PC_E_INTERNAL;
                break;
            }
            arr = p;
            alloc = na;
        }
        arr[cnt++] = (uint32_t)prev;
    }
    cat_stmt_done(st);
    if (s) {
        free(arr);
        return s;
    }
    *tlis = arr;
    *n = cnt;
    return PC_OK;
}

/*
 * One ordered range scan of the clustered (tli, segno) key that reports
 * each jump in segno. SQLite's LAG/LEAD window over the same rows buffers
 * the partition and is several times slower than stepping the scan here.
 */
pc_status cat_wal_gaps(cat *c, uint32_t tli, uint64_t segno_from, uint64_t segno_to, cat_gap_cb cb,
                       void *arg)
{
    if (segno_from > segno_to)
        return PC_OK;
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_WAL_GAPS,
                           "SELECT segno FROM wal WHERE tli = ?1 AND segno BETWEEN ?2 AND ?3 "
                           "AND kind = 1 ORDER BY segno",
                           &st);
    if (s)
        return s;
    sqlite3_bind_int64(st, 1, tli);
    sqlite3_bind_int64(st, 2, segno_bound(segno_from));
    sqlite3_bind_int64(st, 3, segno_bound(segno_to));
    uint64_t expect = segno_from; /* first segment not yet seen */
    bool tail = true;             /* [expect, segno_to] is still open */
    int rc = SQLITE_DONE;
    while (!s && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t segno = cat_col_u64(st, 0);
        if (segno > expect)
            s = cb(arg, expect, segno - 1);
        if (segno == segno_to) {
            tail = false;
            break;
        }
        expect = segno + 1;
    }
    if (!s && rc != SQLITE_DONE && rc != SQLITE_ROW)
        s = cat_sql_err(c, rc, "looking for WAL gaps on timeline %u", (unsigned)tli);
    cat_stmt_done(st);
    if (!s && tail)
        s = cb(arg, expect, segno_to);
    return s;
}

/* ---- claims ---- */

/* A claim of another process blocks us unless it is stale. */
static bool claim_live(const cat *c, const char *host, sqlite3_int64 pid, int64_t claimed_at,
                       int64_t stale_ms)
{
    if (stale_ms <= 0)
        return false;
    int64_t age_us = pc_now_us() - claimed_at;
    if (stale_ms < INT64_MAX / 1000 && age_us >= stale_ms * 1000)
        return false;
    if (strcmp(host, c->host) != 0)
        return true; /* cannot see that host's processes: trust the age */
    if (pid <= 0 || pid > INT32_MAX)
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static pc_status claim_decide(cat *c, const char *name, int64_t stale_ms, cat_claim *outcome)
{
    sqlite3_stmt *st = NULL;
    pc_status s = cat_stmt(c, CAT_S_WAL_EXISTS, "SELECT 1 FROM wal WHERE name = ?1", &st);
    if (s)
        return s;
    cat_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *outcome = CAT_CLAIM_STORED;
    else if (rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "looking up WAL file \"%s\"", name);
    cat_stmt_done(st);
    if (s || *outcome == CAT_CLAIM_STORED)
        return s;

    s = cat_stmt(c, CAT_S_CLAIM_GET, "SELECT host, pid, claimed_at FROM wal_claim WHERE name = ?1",
                 &st);
    if (s)
        return s;
    cat_bind_text(st, 1, name);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *host = cat_col_text(st, 0);
        sqlite3_int64 pid = sqlite3_column_int64(st, 1);
        bool mine = host && strcmp(host, c->host) == 0 && pid == (sqlite3_int64)getpid();
        if (!mine && claim_live(c, host ? host : "", pid, sqlite3_column_int64(st, 2), stale_ms))
            *outcome = CAT_CLAIM_BUSY;
    } else if (rc != SQLITE_DONE) {
        s = cat_sql_err(c, rc, "reading the claim on WAL file \"%s\"", name);
    }
    cat_stmt_done(st);
    if (s || *outcome == CAT_CLAIM_BUSY)
        return s;

    s = cat_stmt(c, CAT_S_CLAIM_PUT,
                 "INSERT OR REPLACE INTO wal_claim (name, host, pid, claimed_at) "
                 "VALUES (?1, ?2, ?3, ?4)",
                 &st);
    if (s)
        return s;
    cat_bind_text(st, 1, name);
    cat_bind_text(st, 2, c->host);
    sqlite3_bind_int64(st, 3, getpid());
    sqlite3_bind_int64(st, 4, pc_now_us());
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        s = cat_sql_err(c, rc, "claiming WAL file \"%s\"", name);
    cat_stmt_done(st);
    return s;
}

pc_status cat_wal_claim(cat *c, const char *name, int64_t stale_ms, cat_claim *outcome)
{
    *outcome = CAT_CLAIM_OK;
    pc_wal_name wn;
    pc_status s = parse_name(name, &wn);
    if (s)
        return s;
    s = cat_tx_enter(c);
    if (s)
        return s;
    s = claim_decide(c, wn.name, stale_ms, outcome);
    s = cat_tx_leave(c, s);
    if (s)
        *outcome = CAT_CLAIM_OK;
    return s;
}

pc_status cat_wal_commit(cat *c, const cat_wal *w, uint64_t segsize)
{
    pc_status s = check_segsize(segsize);
    if (s)
        return s;
    s = cat_tx_enter(c);
    if (s)
        return s;
    wal_in in;
    s = wal_insert(c, w, segsize, &in);
    if (!s) {
        const pc_wal_name wn = in.wn;
        sqlite3_stmt *st = NULL;
        s = cat_stmt(c, CAT_S_CLAIM_DEL, "DELETE FROM wal_claim WHERE name = ?1", &st);
        if (!s) {
            cat_bind_text(st, 1, wn.name);
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE)
                s = cat_sql_err(c, rc, "releasing the claim on WAL file \"%s\"", wn.name);
            cat_stmt_done(st);
        }
    }
    return cat_tx_leave(c, s);
}

pc_status cat_wal_unclaim(cat *c, const char *name)
{
    pc_wal_name wn;
    pc_status s = parse_name(name, &wn);
    if (s)
        return s;
    s = cat_tx_enter(c);
    if (s)
        return s;
    sqlite3_stmt *st = NULL;
    s = cat_stmt(c, CAT_S_CLAIM_DEL_MINE,
                 "DELETE FROM wal_claim WHERE name = ?1 AND host = ?2 AND pid = ?3", &st);
    if (!s) {
        cat_bind_text(st, 1, wn.name);
        cat_bind_text(st, 2, c->host);
        sqlite3_bind_int64(st, 3, getpid());
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            s = cat_sql_err(c, rc, "releasing the claim on WAL file \"%s\"", wn.name);
        cat_stmt_done(st);
    }
    return cat_tx_leave(c, s);
}
