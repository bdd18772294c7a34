/* catalog/: schema, every function, claims across processes, error mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/timeutil.h"
#include "common/wal.h"

#define SEG16 PC_WAL_DEFAULT_SEGSIZE

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    g_dir = pc_asprintf("%s/catalog-XXXXXX", base);
    if (!g_dir || !mkdtemp(g_dir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_remove_tree(g_dir);
    free(g_dir);
    g_dir = NULL;
    return 0;
}

/* Paths handed out stay valid until the test's teardown (leaked on purpose: tests are short). */
static char *tpath(const char *name)
{
    static char *keep[16];
    static int next;
    free(keep[next]);
    keep[next] = pc_path_join(g_dir, name);
    char *p = keep[next];
    next = (next + 1) % 16;
    return p;
}

static cat *open_ok(const char *path)
{
    cat *c = NULL;
    pc_status st = cat_open(path, &c);
    if (st)
        fprintf(stderr, "cat_open: %s\n", pc_err_get()->message);
    assert_int_equal(st, PC_OK);
    assert_non_null(c);
    return c;
}

static void expect_ok(pc_status st)
{
    if (st)
        fprintf(stderr, "unexpected error: %s\n", pc_err_get()->message);
    assert_int_equal(st, PC_OK);
}

static void expect_err(pc_status st, pc_status want, const char *msg_part)
{
    assert_int_equal(st, want);
    assert_int_equal(pc_err_get()->status, want);
    if (msg_part && !strstr(pc_err_get()->message, msg_part)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", pc_err_get()->message, msg_part);
        fail();
    }
}

/* ---- raw SQLite access, to forge states the API cannot produce ---- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "raw_exec %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *out, size_t outlen)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static cat_wal mkwal(const char *name, const char *key, uint64_t stored_size)
{
    cat_wal w;
    memset(&w, 0, sizeof w);
    w.name = name;
    w.key = key;
    w.codec = 3;
    w.size = SEG16;
    w.stored_size = stored_size;
    w.stored_at = INT64_C(1763719200000000);
    return w;
}

static void put_seg(cat *c, uint32_t tli, uint64_t segno)
{
    char name[PC_WAL_NAME_MAX];
    pc_wal_segment_name(tli, segno, SEG16, name);
    cat_wal w = mkwal(name, "k", 100);
    expect_ok(cat_wal_put(c, &w, SEG16));
}

static uint64_t wal_count(cat *c)
{
    uint64_t n = 0, bytes = 0;
    expect_ok(cat_wal_stats(c, NULL, &n, &bytes));
    return n;
}

/* ---- schema ---- */

static void test_open_migrate_reopen(void **state)
{
    (void)state;
    char *dir = tpath("a/b");
    char *path = pc_path_join(dir, "cat.db");
    cat *c = open_ok(path);
    assert_string_equal(cat_path(c), path);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(tpath("a"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    expect_ok(cat_meta_set(c, "server", "pg1"));
    cat_close(c);

    assert_int_equal(cat_schema_version(), 2);
    assert_int_equal(raw_int(path, "SELECT version FROM schema_version WHERE id = 1"), 2);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_version"), 1);
    char mode[16];
    raw_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");

    for (int i = 0; i < 2; i++) {
        c = open_ok(path);
        char *v = NULL;
        expect_ok(cat_meta_get(c, "server", &v));
        assert_string_equal(v, "pg1");
        free(v);
        cat_close(c);
    }
    assert_int_equal(raw_int(path, "SELECT version FROM schema_version WHERE id = 1"), 2);
    cat_close(NULL);
    free(path);
}

static void test_newer_version_refused(void **state)
{
    (void)state;
    char *path = tpath("cat.db");
    cat_close(open_ok(path));
    raw_exec(path, "UPDATE schema_version SET version = 999");
    cat *c = NULL;
    expect_err(cat_open(path, &c), PC_E_CONFIG, "was written by a newer pgcask");
    assert_null(c);
    assert_non_null(strstr(pc_err_get()->message, path));
    assert_non_null(strstr(pc_err_get()->message, "schema version 999"));
    assert_non_null(strstr(pc_err_get()->hint, "Upgrade pgcask"));
}

static void test_open_bad_args(void **state)
{
    (void)state;
    cat *c = NULL;
    expect_err(cat_open("", &c), PC_E_USAGE, "empty catalog path");
    assert_null(c);
    /* The parent "directory" is a regular file. */
    char *file = tpath("plain");
    expect_ok(pc_write_file_atomic(file, "x", 1, 0600));
    char *path = pc_path_join(file, "sub/cat.db");
    expect_err(cat_open(path, &c), PC_E_IO, file);
    assert_null(c);
    free(path);
}

static void test_default_path(void **state)
{
    (void)state;
    char *p = NULL;
    expect_ok(cat_default_path("/var/lib/pgcask/", "s3://bucket/prefix", "pg-main", &p));
    assert_string_equal(p, "/var/lib/pgcask/catalog/pg-main-7a67dbecff534807.db");
    free(p);
    expect_ok(cat_default_path("/s", "file:///var/lib/pgcask/repo", "pg/1 x\xc3\xa9", &p));
    assert_string_equal(p, "/s/catalog/pg_1_x__-0f4fd2e548ce0b77.db");
    free(p);
    expect_ok(cat_default_path("/", "s3://bucket/prefix", "pg-main", &p));
    assert_string_equal(p, "/catalog/pg-main-7a67dbecff534807.db");
    free(p);
    expect_err(cat_default_path("/s", "s3://b", "", &p), PC_E_USAGE, "server");
    assert_null(p);
    expect_err(cat_default_path("", "s3://b", "pg", &p), PC_E_USAGE, "state directory");
    expect_err(cat_default_path("/s", NULL, "pg", &p), PC_E_USAGE, "repository URL");
    assert_null(p);
}

/* ---- meta ---- */

static void test_meta(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    char dummy[2];
    char *v = dummy;
    expect_err(cat_meta_get(c, "last_sync_at", &v), PC_E_NOT_FOUND, "last_sync_at");
    assert_null(v);
    expect_ok(cat_meta_set(c, "last_sync_at", "123"));
    expect_ok(cat_meta_set(c, "repo_url", "s3://b/p"));
    expect_ok(cat_meta_set(c, "last_sync_at", "456"));
    expect_ok(cat_meta_get(c, "last_sync_at", &v));
    assert_string_equal(v, "456");
    free(v);
    expect_ok(cat_meta_set(c, "empty", ""));
    expect_ok(cat_meta_get(c, "empty", &v));
    assert_string_equal(v, "");
    free(v);
    expect_ok(cat_meta_delete(c, "last_sync_at"));
    expect_ok(cat_meta_delete(c, "last_sync_at"));
    expect_err(cat_meta_get(c, "last_sync_at", &v), PC_E_NOT_FOUND, NULL);
    expect_ok(cat_meta_get(c, "repo_url", &v));
    assert_string_equal(v, "s3://b/p");
    free(v);
    expect_err(cat_meta_set(c, "", "v"), PC_E_USAGE, NULL);
    expect_err(cat_meta_set(c, "k", NULL), PC_E_USAGE, NULL);
    expect_err(cat_meta_get(c, NULL, &v), PC_E_USAGE, NULL);
    expect_err(cat_meta_delete(c, ""), PC_E_USAGE, NULL);
    cat_close(c);
}

/* ---- WAL index ---- */

static const char SHA_UP[] = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
static const char SHA_LO[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_wal_put_get(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    cat_wal w = mkwal("000000010000000A000000FF", "pg1/wals/000000010000000A/x.zst", 4096);
    w.sha256 = SHA_UP;
    w.etag = "\"etag-1\"";
    w.src_ino = UINT64_C(9876543210);
    w.src_mtime_ns = INT64_C(1763719199123456789);
    expect_ok(cat_wal_put(c, &w, SEG16));
    cat_wal p = mkwal("000000010000000a000000ff.partial", "kp", 10);
    expect_ok(cat_wal_put(c, &p, SEG16));
    cat_wal b = mkwal("000000010000000A000000FF.00000028.backup", "kb", 20);
    expect_ok(cat_wal_put(c, &b, SEG16));
    cat_wal h = mkwal("00000002.history", "kh", 30);
    h.size = 42;
    expect_ok(cat_wal_put(c, &h, SEG16));

    cat_wal g;
    expect_ok(cat_wal_get(c, "000000010000000a000000ff", &g));
    assert_string_equal(g.name, "000000010000000A000000FF");
    assert_int_equal(g.kind, PC_WAL_SEGMENT);
    assert_int_equal(g.tli, 1);
    assert_int_equal(g.segno, 10 * 256 + 255);
    assert_int_equal(g.codec, 3);
    assert_int_equal(g.size, SEG16);
    assert_int_equal(g.stored_size, 4096);
    assert_string_equal(g.sha256, SHA_LO);
    assert_string_equal(g.etag, "\"etag-1\"");
    assert_string_equal(g.key, "pg1/wals/000000010000000A/x.zst");
    assert_int_equal(g.stored_at, INT64_C(1763719200000000));
    assert_int_equal(g.src_ino, UINT64_C(9876543210));
    assert_int_equal(g.src_mtime_ns, INT64_C(1763719199123456789));
    assert_non_null(g.mem);
    cat_wal_clear(&g);
    assert_null(g.mem);
    assert_null(g.name);
    cat_wal_clear(&g);

    expect_ok(cat_wal_get(c, "000000010000000A000000FF.partial", &g));
    assert_int_equal(g.kind, PC_WAL_PARTIAL);
    assert_int_equal(g.segno, 2815);
    assert_null(g.sha256);
    assert_null(g.etag);
    assert_int_equal(g.src_ino, 0);
    assert_int_equal(g.src_mtime_ns, 0);
    cat_wal_clear(&g);
    expect_ok(cat_wal_get(c, "000000010000000A000000FF.00000028.backup", &g));
    assert_int_equal(g.kind, PC_WAL_BACKUP);
    assert_int_equal(g.segno, 2815);
    cat_wal_clear(&g);
    expect_ok(cat_wal_get(c, "00000002.history", &g));
    assert_int_equal(g.kind, PC_WAL_HISTORY);
    assert_int_equal(g.tli, 2);
    assert_int_equal(g.segno, 0);
    assert_int_equal(g.size, 42);
    cat_wal_clear(&g);

    expect_err(cat_wal_get(c, "000000010000000A000000FE", &g), PC_E_NOT_FOUND,
               "\"000000010000000A000000FE\" is not in catalog");
    assert_null(g.name);
    assert_null(g.mem);
    expect_err(cat_wal_get(c, "junk", &g), PC_E_USAGE, "junk");

    /* Replace. */
    w.stored_size = 5000;
    w.sha256 = NULL;
    expect_ok(cat_wal_put(c, &w, SEG16));
    expect_ok(cat_wal_get(c, w.name, &g));
    assert_int_equal(g.stored_size, 5000);
    assert_null(g.sha256);
    cat_wal_clear(&g);
    assert_int_equal(wal_count(c), 4);

    /* Bad records. */
    cat_wal bad = mkwal("nonsense", "k", 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "nonsense");
    bad = mkwal(NULL, "k", 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "missing WAL file name");
    bad = mkwal("000000010000000000000001", NULL, 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "no object key");
    bad = mkwal("000000010000000000000001", "", 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "no object key");
    bad = mkwal("000000010000000000000001", "k", 1);
    bad.sha256 = "xyz";
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "invalid SHA-256 \"xyz\"");
    bad.sha256 = SHA_LO + 1;
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "invalid SHA-256");
    bad.sha256 = "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "invalid SHA-256");
    bad.sha256 = NULL;
    bad.codec = -1;
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "invalid codec");
    bad.codec = 0;
    expect_err(cat_wal_put(c, &bad, 12345), PC_E_USAGE, "invalid WAL segment size 12345");
    /* seg 0x1FF does not exist with 16 MiB segments (256 per 4 GiB), it does with 1 MiB ones. */
    bad = mkwal("0000000100000000000001FF", "k", 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, "out of range");
    assert_int_equal(wal_count(c), 4);
    expect_ok(cat_wal_put(c, &bad, 1024 * 1024));
    expect_ok(cat_wal_get(c, bad.name, &g));
    assert_int_equal(g.segno, 0x1FF);
    cat_wal_clear(&g);

    /* Delete. */
    const char *del[] = {"000000010000000a000000ff", "00000002.history",
                         "00000009000000000000000A"};
    size_t n = 99;
    expect_ok(cat_wal_delete(c, del, 3, &n));
    assert_int_equal(n, 2);
    assert_int_equal(wal_count(c), 3);
    const char *del_bad[] = {"000000010000000A000000FF.partial", "bad-name"};
    expect_err(cat_wal_delete(c, del_bad, 2, &n), PC_E_USAGE, "bad-name");
    assert_int_equal(n, 0);
    assert_int_equal(wal_count(c), 3); /* rolled back: the partial is still there */
    expect_ok(cat_wal_delete(c, del_bad, 1, NULL));
    assert_int_equal(wal_count(c), 2);
    expect_ok(cat_wal_delete_all(c));
    assert_int_equal(wal_count(c), 0);
    cat_close(c);
}

typedef struct namelist {
    char *v[64];
    size_t n;
    size_t stop_after; /* 0: never */
} namelist;

static pc_status collect(void *arg, const cat_wal *w)
{
    namelist *ns = arg;
    assert_true(ns->n < 64);
    ns->v[ns->n++] = strdup(w->name);
    if (ns->stop_after && ns->n == ns->stop_after)
        return PC_E_INTERRUPTED;
    return PC_OK;
}

static void names_free(namelist *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    memset(ns, 0, sizeof *ns);
}

static void test_wal_iter_stats(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    for (uint64_t s = 1; s <= 10; s++)
        put_seg(c, 1, s);
    for (uint64_t s = 8; s <= 12; s++)
        put_seg(c, 2, s);
    cat_wal x = mkwal("000000010000000000000005.partial", "k", 7);
    expect_ok(cat_wal_put(c, &x, SEG16));
    x = mkwal("000000010000000000000003.00000028.backup", "k", 1);
    expect_ok(cat_wal_put(c, &x, SEG16));
    x = mkwal("00000002.history", "k", 2);
    expect_ok(cat_wal_put(c, &x, SEG16));

    namelist ns = {0};
    expect_ok(cat_wal_iter(c, NULL, collect, &ns));
    assert_int_equal(ns.n, 18);
    const char *want_all[] = {
        "000000010000000000000001",
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000003.00000028.backup",
        "000000010000000000000004",
        "000000010000000000000005",
        "000000010000000000000005.partial",
        "000000010000000000000006",
        "000000010000000000000007",
        "000000010000000000000008",
        "000000010000000000000009",
        "00000001000000000000000A",
        "00000002.history",
        "000000020000000000000008",
        "000000020000000000000009",
        "00000002000000000000000A",
        "00000002000000000000000B",
        "00000002000000000000000C",
    };
    for (size_t i = 0; i < ns.n; i++)
        assert_string_equal(ns.v[i], want_all[i]);
    names_free(&ns);

    cat_wal_filter f = {.tli = 1, .segno_min = 3, .segno_max = 5};
    expect_ok(cat_wal_iter(c, &f, collect, &ns));
    assert_int_equal(ns.n, 5);
    for (size_t i = 0; i < ns.n; i++)
        assert_string_equal(ns.v[i], want_all[2 + i]);
    names_free(&ns);

    f = (cat_wal_filter){.segno_min = 9, .segno_max = UINT64_MAX, .kind = PC_WAL_SEGMENT};
    expect_ok(cat_wal_iter(c, &f, collect, &ns));
    assert_int_equal(ns.n, 6);
    assert_string_equal(ns.v[0], "000000010000000000000009");
    assert_string_equal(ns.v[2], "000000020000000000000009");
    assert_string_equal(ns.v[5], "00000002000000000000000C");
    names_free(&ns);

    f = (cat_wal_filter){.tli = 2, .segno_max = 0, .kind = PC_WAL_HISTORY};
    expect_ok(cat_wal_iter(c, &f, collect, &ns));
    assert_int_equal(ns.n, 1);
    assert_string_equal(ns.v[0], "00000002.history");
    names_free(&ns);

    /* A callback status stops the iteration and comes back; the handle stays usable. */
    ns.stop_after = 3;
    assert_int_equal(cat_wal_iter(c, NULL, collect, &ns), PC_E_INTERRUPTED);
    assert_int_equal(ns.n, 3);
    names_free(&ns);
    expect_ok(cat_wal_iter(c, NULL, collect, &ns));
    assert_int_equal(ns.n, 18);
    names_free(&ns);

    uint64_t n, bytes;
    expect_ok(cat_wal_stats(c, NULL, &n, &bytes));
    assert_int_equal(n, 18);
    assert_int_equal(bytes, 15 * 100 + 7 + 1 + 2);
    f = (cat_wal_filter){.tli = 2, .segno_max = UINT64_MAX};
    expect_ok(cat_wal_stats(c, &f, &n, &bytes));
    assert_int_equal(n, 6);
    assert_int_equal(bytes, 5 * 100 + 2);
    f = (cat_wal_filter){.tli = 7, .segno_max = UINT64_MAX};
    expect_ok(cat_wal_stats(c, &f, &n, &bytes));
    assert_int_equal(n, 0);
    assert_int_equal(bytes, 0);

    cat_wal w;
    expect_ok(cat_wal_first(c, 1, &w));
    assert_string_equal(w.name, "000000010000000000000001");
    cat_wal_clear(&w);
    expect_ok(cat_wal_last(c, 1, &w));
    assert_string_equal(w.name, "00000001000000000000000A");
    cat_wal_clear(&w);
    expect_ok(cat_wal_first(c, 2, &w));
    assert_string_equal(w.name, "000000020000000000000008");
    cat_wal_clear(&w);
    expect_ok(cat_wal_last(c, 2, &w));
    assert_string_equal(w.name, "00000002000000000000000C");
    assert_int_equal(w.segno, 12);
    cat_wal_clear(&w);
    expect_err(cat_wal_first(c, 3, &w), PC_E_NOT_FOUND, "timeline 3");
    expect_err(cat_wal_last(c, 3, &w), PC_E_NOT_FOUND, "timeline 3");

    uint32_t *tlis = NULL;
    size_t nt = 0;
    expect_ok(cat_wal_timelines(c, &tlis, &nt));
    assert_int_equal(nt, 2);
    assert_int_equal(tlis[0], 1);
    assert_int_equal(tlis[1], 2);
    free(tlis);
    expect_ok(cat_wal_delete_all(c));
    expect_ok(cat_wal_timelines(c, &tlis, &nt));
    assert_int_equal(nt, 0);
    assert_null(tlis);
    cat_close(c);
}

typedef struct gaps {
    uint64_t v[32][2];
    size_t n;
} gaps;

static pc_status collect_gap(void *arg, uint64_t first, uint64_t last)
{
    gaps *g = arg;
    assert_true(g->n < 32);
    g->v[g->n][0] = first;
    g->v[g->n][1] = last;
    g->n++;
    return PC_OK;
}

static pc_status stop_gap(void *arg, uint64_t first, uint64_t last)
{
    collect_gap(arg, first, last);
    return PC_E_INTERRUPTED;
}

/* want: pairs, terminated by UINT64_MAX */
static void expect_gaps(cat *c, uint32_t tli, uint64_t from, uint64_t to, const uint64_t *want)
{
    gaps g = {0};
    expect_ok(cat_wal_gaps(c, tli, from, to, collect_gap, &g));
    size_t n = 0;
    while (want[2 * n] != UINT64_MAX)
        n++;
    if (g.n != n) {
        for (size_t i = 0; i < g.n; i++)
            fprintf(stderr, "gap [%llu, %llu]\n", (unsigned long long)g.v[i][0],
                    (unsigned long long)g.v[i][1]);
    }
    assert_int_equal(g.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g.v[i][0], want[2 * i]);
        assert_int_equal(g.v[i][1], want[2 * i + 1]);
    }
}

static void test_wal_gaps(void **state)
{
    (void)state;
    const uint64_t E = UINT64_MAX;
    cat *c = open_ok(tpath("cat.db"));
    for (uint64_t s = 1; s <= 10; s++)
        put_seg(c, 1, s);
    for (uint64_t s = 8; s <= 12; s++)
        put_seg(c, 2, s);
    /* A partial does not fill a hole. */
    cat_wal p = mkwal("00000001000000000000000B.partial", "k", 1);
    expect_ok(cat_wal_put(c, &p, SEG16));

    expect_gaps(c, 1, 0, 15, (const uint64_t[]){0, 0, 11, 15, E});
    expect_gaps(c, 1, 1, 10, (const uint64_t[]){E});
    const char *del[] = {"000000010000000000000004", "000000010000000000000006",
                         "000000010000000000000007"};
    expect_ok(cat_wal_delete(c, del, 3, NULL));
    expect_gaps(c, 1, 0, 15, (const uint64_t[]){0, 0, 4, 4, 6, 7, 11, 15, E});
    expect_gaps(c, 1, 2, 9, (const uint64_t[]){4, 4, 6, 7, E});
    expect_gaps(c, 1, 4, 4, (const uint64_t[]){4, 4, E});
    expect_gaps(c, 1, 4, 7, (const uint64_t[]){4, 4, 6, 7, E});
    expect_gaps(c, 1, 5, 5, (const uint64_t[]){E});
    expect_gaps(c, 1, 9, 3, (const uint64_t[]){E});
    expect_gaps(c, 2, 8, 12, (const uint64_t[]){E});
    expect_gaps(c, 2, 6, 13, (const uint64_t[]){6, 7, 13, 13, E});
    expect_gaps(c, 3, 5, 6, (const uint64_t[]){5, 6, E});

    /* A callback status stops the scan and comes back. */
    gaps g = {0};
    assert_int_equal(cat_wal_gaps(c, 1, 0, 15, stop_gap, &g), PC_E_INTERRUPTED);
    assert_int_equal(g.n, 1);
    cat_close(c);
}

static void test_wal_put_many_atomic(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    cat_wal w[4] = {
        mkwal("000000010000000000000001", "k1", 1),
        mkwal("000000010000000000000002", "k2", 2),
        mkwal("000000010000000000000003", "k3", 3),
        mkwal("00000001000000000000000X", "k4", 4),
    };
    expect_err(cat_wal_put_many(c, w, 4, SEG16), PC_E_USAGE, "00000001000000000000000X");
    assert_int_equal(wal_count(c), 0);
    expect_ok(cat_wal_put_many(c, w, 3, SEG16));
    assert_int_equal(wal_count(c), 3);
    expect_ok(cat_wal_put_many(c, w, 0, SEG16));
    assert_int_equal(wal_count(c), 3);
    cat_close(c);
}

static void test_tx(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    put_seg(c, 1, 1);
    put_seg(c, 1, 2);
    cat_wal w[3] = {
        mkwal("000000010000000000000011", "k", 1),
        mkwal("000000010000000000000012", "k", 1),
        mkwal("000000010000000000000013", "k", 1),
    };
    expect_ok(cat_tx_begin(c));
    expect_ok(cat_wal_delete_all(c));
    expect_ok(cat_wal_put_many(c, w, 3, SEG16));
    expect_ok(cat_meta_set(c, "last_sync_at", "1"));
    assert_int_equal(wal_count(c), 3);
    cat_tx_rollback(c);
    assert_int_equal(wal_count(c), 2);
    char *v = NULL;
    expect_err(cat_meta_get(c, "last_sync_at", &v), PC_E_NOT_FOUND, NULL);
    cat_tx_rollback(c); /* no transaction: no-op */

    expect_ok(cat_tx_begin(c));
    expect_ok(cat_wal_delete_all(c));
    expect_ok(cat_wal_put_many(c, w, 3, SEG16));
    /* A failed call inside leaves the transaction to the caller. */
    cat_wal bad = mkwal("bad", "k", 1);
    expect_err(cat_wal_put(c, &bad, SEG16), PC_E_USAGE, NULL);
    expect_ok(cat_tx_commit(c));
    assert_int_equal(wal_count(c), 3);
    cat_wal g;
    expect_err(cat_wal_get(c, "000000010000000000000001", &g), PC_E_NOT_FOUND, NULL);
    cat_close(c);
}

/* ---- claims ---- */

static int64_t claim_pid(const char *path, const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(pid), 0) FROM wal_claim WHERE name = '%s'",
             name);
    return raw_int(path, sql);
}

/*
 * In a child: claim name and report the outcome through the exit code. The
 * caller has no handle open: SQLite's per-process lock bookkeeping must not
 * be inherited by a child that opens the same file.
 */
static pid_t child_claim(const char *path, const char *name, const int *ready, const int *hold)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ready_fd = ready ? ready[1] : -1, hold_fd = hold ? hold[0] : -1;
        if (ready)
            close(ready[0]);
        if (hold)
            close(hold[1]); /* else the read below never sees EOF */
        cat *c = NULL;
        cat_claim out = CAT_CLAIM_BUSY;
        int code = 0;
        if (cat_open(path, &c) != PC_OK || cat_wal_claim(c, name, 60000, &out) != PC_OK ||
            out != CAT_CLAIM_OK)
            code = 1;
        cat_close(c);
        if (ready_fd >= 0 && write(ready_fd, "x", 1) != 1)
            code = 1;
        char b;
        if (hold_fd >= 0 && read(hold_fd, &b, 1) < 0)
            code = 1;
        _exit(code);
    }
    return pid;
}

static void wait_ok(pid_t pid)
{
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
}

static void test_claims(void **state)
{
    (void)state;
    char *path = tpath("cat.db");
    cat *c = open_ok(path);
    cat_claim out;
    const char *n1 = "000000010000000000000001";

    /* Re-entrant for the same process; commit makes it STORED and drops the claim. */
    expect_ok(cat_wal_claim(c, n1, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    assert_int_equal(claim_pid(path, n1), getpid());
    expect_ok(cat_wal_claim(c, "000000010000000000000001", 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    expect_ok(cat_wal_unclaim(c, n1));
    assert_int_equal(claim_pid(path, n1), 0);
    expect_ok(cat_wal_unclaim(c, n1));
    expect_ok(cat_wal_claim(c, n1, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    cat_wal w = mkwal(n1, "k", 1);
    expect_ok(cat_wal_commit(c, &w, SEG16));
    assert_int_equal(claim_pid(path, n1), 0);
    expect_ok(cat_wal_claim(c, n1, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_STORED);
    assert_int_equal(claim_pid(path, n1), 0);

    /* A claim left by a dead process is taken over. */
    const char *n2 = "000000010000000000000002";
    cat_close(c);
    pid_t pid = child_claim(path, n2, NULL, NULL);
    wait_ok(pid);
    c = open_ok(path);
    assert_int_equal(claim_pid(path, n2), pid);
    expect_ok(cat_wal_claim(c, n2, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    assert_int_equal(claim_pid(path, n2), getpid());

    /* A live claim is BUSY until its process dies, or until it is older than stale_ms. */
    const char *n3 = "000000010000000000000003";
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    cat_close(c);
    pid = child_claim(path, n3, ready, hold);
    c = open_ok(path);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    expect_ok(cat_wal_claim(c, n3, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_BUSY);
    expect_ok(cat_wal_claim(c, n3, INT64_MAX, &out));
    assert_int_equal(out, CAT_CLAIM_BUSY);
    assert_int_equal(claim_pid(path, n3), pid);
    expect_ok(cat_wal_unclaim(c, n3)); /* not ours: left alone */
    assert_int_equal(claim_pid(path, n3), pid);
    pc_sleep_ms(20);
    expect_ok(cat_wal_claim(c, n3, 10, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    assert_int_equal(claim_pid(path, n3), getpid());
    close(hold[1]);
    wait_ok(pid);
    close(ready[0]);
    close(ready[1]);
    close(hold[0]);

    const char *n4 = "000000010000000000000004";
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    cat_close(c);
    pid = child_claim(path, n4, ready, hold);
    c = open_ok(path);
    assert_int_equal(read(ready[0], &b, 1), 1);
    expect_ok(cat_wal_claim(c, n4, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_BUSY);
    close(hold[1]);
    wait_ok(pid);
    expect_ok(cat_wal_claim(c, n4, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    close(ready[0]);
    close(ready[1]);
    close(hold[0]);

    /* Another host's claim: only its age tells. */
    const char *n5 = "000000010000000000000005";
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO wal_claim (name, host, pid, claimed_at) "
             "VALUES ('%s', 'another-host.invalid', 1, %lld)",
             n5, (long long)pc_now_us());
    raw_exec(path, sql);
    expect_ok(cat_wal_claim(c, n5, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_BUSY);
    expect_ok(cat_wal_unclaim(c, n5));
    assert_int_equal(claim_pid(path, n5), 1);
    snprintf(sql, sizeof sql, "UPDATE wal_claim SET claimed_at = %lld WHERE name = '%s'",
             (long long)(pc_now_us() - 120 * INT64_C(1000000)), n5);
    raw_exec(path, sql);
    expect_ok(cat_wal_claim(c, n5, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    assert_int_equal(claim_pid(path, n5), getpid());

    /* Commit drops any claim on the name, whoever holds it. */
    const char *n6 = "000000010000000000000006";
    snprintf(sql, sizeof sql,
             "INSERT INTO wal_claim (name, host, pid, claimed_at) "
             "VALUES ('%s', 'another-host.invalid', 1, %lld)",
             n6, (long long)pc_now_us());
    raw_exec(path, sql);
    cat_wal w6 = mkwal(n6, "k", 1);
    expect_ok(cat_wal_commit(c, &w6, SEG16));
    assert_int_equal(claim_pid(path, n6), 0);

    /* stale_ms <= 0: no claim blocks. */
    const char *n7 = "000000010000000000000007";
    snprintf(sql, sizeof sql,
             "INSERT INTO wal_claim (name, host, pid, claimed_at) "
             "VALUES ('%s', 'another-host.invalid', 1, %lld)",
             n7, (long long)pc_now_us());
    raw_exec(path, sql);
    expect_ok(cat_wal_claim(c, n7, 60000, &out));
    assert_int_equal(out, CAT_CLAIM_BUSY);
    expect_ok(cat_wal_claim(c, n7, 0, &out));
    assert_int_equal(out, CAT_CLAIM_OK);
    assert_int_equal(claim_pid(path, n7), getpid());

    expect_err(cat_wal_claim(c, "nope", 60000, &out), PC_E_USAGE, "nope");
    expect_err(cat_wal_unclaim(c, "nope"), PC_E_USAGE, "nope");
    cat_wal bad = mkwal("nope", "k", 1);
    expect_err(cat_wal_commit(c, &bad, SEG16), PC_E_USAGE, "nope");
    expect_err(cat_wal_commit(c, &w6, 3), PC_E_USAGE, "segment size");
    cat_close(c);
}

/*
 * NPROC archivers start together on a brand-new file, each archiving the same
 * NSHARED files plus NOWN of its own: every file must be committed exactly
 * once and no lock error may reach a caller.
 */
#define NPROC   4
#define NSHARED 200
#define NOWN    50

static int archiver(const char *path, int idx, int go_fd, int out_fd)
{
    char b;
    if (read(go_fd, &b, 1) != 0)
        return 2;
    cat *c = NULL;
    pc_status st = cat_open(path, &c);
    enum { N = NSHARED + NOWN };
    char names[N][PC_WAL_NAME_MAX];
    bool done[N] = {false};
    for (int i = 0; i < NSHARED; i++) {
        /* Half the processes walk the shared names backwards: more collisions. */
        int s = idx % 2 ? NSHARED - 1 - i : i;
        pc_wal_segment_name(1, (uint64_t)s, SEG16, names[i]);
    }
    for (int i = 0; i < NOWN; i++)
        pc_wal_segment_name(1, (uint64_t)(1000 + idx * NOWN + i), SEG16, names[NSHARED + i]);
    int committed = 0, busy = 0, left = N;
    char etag[32];
    snprintf(etag, sizeof etag, "pid-%d", (int)getpid());
    while (!st && left > 0) {
        bool waited = false;
        for (int i = 0; i < N && !st; i++) {
            if (done[i])
                continue;
            cat_claim out;
            st = cat_wal_claim(c, names[i], 60000, &out);
            if (st)
                break;
            switch (out) {
            case CAT_CLAIM_OK: {
                usleep(100); /* the upload */
                cat_wal w = mkwal(names[i], "k", 1);
                w.etag = etag;
                st = cat_wal_commit(c, &w, SEG16);
                committed++;
                done[i] = true;
                left--;
                break;
            }
            case CAT_CLAIM_STORED:
                done[i] = true;
                left--;
                break;
            case CAT_CLAIM_BUSY:
                waited = true;
                busy++;
                break;
            }
        }
        if (waited)
            usleep(500);
    }
    cat_close(c);
    char msg[PC_ERR_MSG_MAX + 32];
    int len = st ? snprintf(msg, sizeof msg, "E %s", pc_err_get()->message)
                 : snprintf(msg, sizeof msg, "%d %d", committed, busy);
    if (write(out_fd, msg, (size_t)len) != len)
        return 3;
    return st ? 1 : 0;
}

static void test_concurrent_archivers(void **state)
{
    (void)state;
    char *path = tpath("new/cat.db"); /* does not exist yet: the processes race to create it */
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[NPROC];
    int outs[NPROC];
    for (int i = 0; i < NPROC; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            close(p[0]);
            _exit(archiver(path, i, go[0], p[1]));
        }
        close(p[1]);
        outs[i] = p[0];
    }
    close(go[0]);
    int64_t t0 = pc_now_mono_ms();
    close(go[1]); /* start */
    int total = 0, busy = 0;
    for (int i = 0; i < NPROC; i++) {
        char buf[PC_ERR_MSG_MAX + 64];
        ssize_t n = 0, r;
        while ((r = read(outs[i], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
            n += r;
        buf[n < 0 ? 0 : n] = '\0';
        close(outs[i]);
        int ws = 0;
        assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            fprintf(stderr, "archiver %d failed: %s\n", i, buf);
        assert_true(WIFEXITED(ws));
        assert_int_equal(WEXITSTATUS(ws), 0);
        int committed = -1, waits = -1;
        assert_int_equal(sscanf(buf, "%d %d", &committed, &waits), 2);
        total += committed;
        busy += waits;
    }
    fprintf(stderr, "[timing] %d processes archived %d files in %lld ms (%d BUSY answers)\n", NPROC,
            total, (long long)(pc_now_mono_ms() - t0), busy);
    assert_int_equal(total, NSHARED + NPROC * NOWN);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM wal"), NSHARED + NPROC * NOWN);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM wal_claim"), 0);
    assert_int_equal(raw_int(path, "SELECT count(DISTINCT etag) FROM wal"), NPROC);
    assert_int_equal(raw_int(path, "SELECT version FROM schema_version"), cat_schema_version());
}

/* ---- backups ---- */

static cat_backup mkbackup(const char *id, cat_backup_type type, cat_backup_status status)
{
    cat_backup b;
    memset(&b, 0, sizeof b);
    b.id = id;
    b.type = type;
    b.status = status;
    return b;
}

typedef struct ids {
    char v[16][CAT_BACKUP_ID_LEN + 1];
    size_t n;
} ids;

static pc_status collect_id(void *arg, const cat_backup *b)
{
    ids *x = arg;
    assert_true(x->n < 16);
    snprintf(x->v[x->n++], sizeof x->v[0], "%s", b->id);
    return PC_OK;
}

static void test_backups(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    cat_backup g;
    expect_err(cat_backup_latest_done(c, &g), PC_E_NOT_FOUND, "no DONE backup");
    expect_err(cat_backup_oldest_done(c, &g), PC_E_NOT_FOUND, "no DONE backup");

    cat_backup b1 = mkbackup("20260101T000000", CAT_BACKUP_FULL, CAT_STATUS_DONE);
    b1.name = "nightly";
    b1.begin_wal = "000000010000000000000010";
    b1.end_wal = "000000010000000000000012";
    b1.begin_lsn = UINT64_C(0x10000028);
    b1.end_lsn = UINT64_C(0xFFFFFFFF12000100); /* above INT64_MAX: stored by bit pattern */
    b1.begin_offset = 40;
    b1.end_offset = 256;
    b1.timeline = 1;
    b1.begin_time = INT64_C(1767225600000000);
    b1.end_time = INT64_C(1767225660123456);
    b1.systemid = "7304412367892387654";
    b1.pg_version = 170002;
    b1.size = UINT64_C(123456789012);
    b1.stored_size = UINT64_C(23456789012);
    b1.codec = 3;
    b1.keep = "standalone";
    b1.has_manifest = true;
    b1.info_etag = "\"abc\"";
    int64_t before = pc_now_us();
    expect_ok(cat_backup_put(c, &b1));

    expect_ok(cat_backup_get(c, "20260101T000000", &g));
    assert_string_equal(g.id, b1.id);
    assert_string_equal(g.name, "nightly");
    assert_int_equal(g.type, CAT_BACKUP_FULL);
    assert_null(g.parent_id);
    assert_int_equal(g.status, CAT_STATUS_DONE);
    assert_string_equal(g.begin_wal, b1.begin_wal);
    assert_string_equal(g.end_wal, b1.end_wal);
    assert_true(g.begin_lsn == b1.begin_lsn);
    assert_true(g.end_lsn == b1.end_lsn);
    assert_int_equal(g.begin_offset, 40);
    assert_int_equal(g.end_offset, 256);
    assert_int_equal(g.timeline, 1);
    assert_int_equal(g.begin_time, b1.begin_time);
    assert_int_equal(g.end_time, b1.end_time);
    assert_string_equal(g.systemid, b1.systemid);
    assert_int_equal(g.pg_version, 170002);
    assert_true(g.size == b1.size);
    assert_true(g.stored_size == b1.stored_size);
    assert_int_equal(g.codec, 3);
    assert_string_equal(g.keep, "standalone");
    assert_null(g.error);
    assert_true(g.has_manifest);
    assert_string_equal(g.info_etag, "\"abc\"");
    assert_true(g.updated_at >= before && g.updated_at <= pc_now_us());
    cat_backup_clear(&g);
    cat_backup_clear(&g);

    /* Inserted out of order, listed by id. */
    cat_backup b3 = mkbackup("20260103T000000", CAT_BACKUP_DIFF, CAT_STATUS_DONE);
    b3.parent_id = "20260101T000000";
    b3.name = "nightly";
    b3.begin_wal = "000000010000000000000020"; /* normalised below */
    cat_backup b2 = mkbackup("20260102T000000", CAT_BACKUP_INCR, CAT_STATUS_FAILED);
    b2.parent_id = "20260101T000000";
    b2.error = "connection lost";
    b2.keep = "full";
    cat_backup b4 = mkbackup("20260104T000000", CAT_BACKUP_FULL, CAT_STATUS_WAITING_FOR_WALS);
    cat_backup b0 = mkbackup("20251231T235959", CAT_BACKUP_FULL, CAT_STATUS_STARTED);
    expect_ok(cat_backup_put(c, &b3));
    expect_ok(cat_backup_put(c, &b4));
    expect_ok(cat_backup_put(c, &b2));
    expect_ok(cat_backup_put(c, &b0));

    ids x = {0};
    expect_ok(cat_backup_list(c, collect_id, &x));
    assert_int_equal(x.n, 5);
    assert_string_equal(x.v[0], "20251231T235959");
    assert_string_equal(x.v[1], "20260101T000000");
    assert_string_equal(x.v[2], "20260102T000000");
    assert_string_equal(x.v[3], "20260103T000000");
    assert_string_equal(x.v[4], "20260104T000000");
    uint64_t n = 0;
    expect_ok(cat_backup_count(c, &n));
    assert_int_equal(n, 5);

    expect_ok(cat_backup_find_name(c, "nightly", &g));
    assert_string_equal(g.id, "20260103T000000");
    assert_string_equal(g.begin_wal, "000000010000000000000020");
    assert_int_equal(g.type, CAT_BACKUP_DIFF);
    cat_backup_clear(&g);
    expect_err(cat_backup_find_name(c, "weekly", &g), PC_E_NOT_FOUND, "\"weekly\"");
    expect_err(cat_backup_find_name(c, "", &g), PC_E_USAGE, NULL);

    expect_ok(cat_backup_latest_done(c, &g));
    assert_string_equal(g.id, "20260103T000000");
    cat_backup_clear(&g);
    expect_ok(cat_backup_oldest_done(c, &g));
    assert_string_equal(g.id, "20260101T000000");
    cat_backup_clear(&g);

    memset(&x, 0, sizeof x);
    expect_ok(cat_backup_children(c, "20260101T000000", collect_id, &x));
    assert_int_equal(x.n, 2);
    assert_string_equal(x.v[0], "20260102T000000");
    assert_string_equal(x.v[1], "20260103T000000");
    memset(&x, 0, sizeof x);
    expect_ok(cat_backup_children(c, "20260103T000000", collect_id, &x));
    assert_int_equal(x.n, 0);

    /* Upsert. */
    b1.status = CAT_STATUS_FAILED;
    b1.error = "boom";
    b1.keep = NULL;
    b1.name = NULL;
    expect_ok(cat_backup_put(c, &b1));
    expect_ok(cat_backup_get(c, b1.id, &g));
    assert_int_equal(g.status, CAT_STATUS_FAILED);
    assert_string_equal(g.error, "boom");
    assert_null(g.keep);
    assert_null(g.name);
    cat_backup_clear(&g);
    expect_ok(cat_backup_oldest_done(c, &g));
    assert_string_equal(g.id, "20260103T000000");
    cat_backup_clear(&g);

    expect_ok(cat_backup_delete(c, "20260102T000000"));
    expect_err(cat_backup_delete(c, "20260102T000000"), PC_E_NOT_FOUND, "20260102T000000");
    expect_err(cat_backup_get(c, "20260102T000000", &g), PC_E_NOT_FOUND, "20260102T000000");
    assert_null(g.id);
    expect_ok(cat_backup_count(c, &n));
    assert_int_equal(n, 4);

    /* Bad input. */
    cat_backup bad = mkbackup("2026-01-01", CAT_BACKUP_FULL, CAT_STATUS_DONE);
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid backup id \"2026-01-01\"");
    bad.id = "20260101X000000";
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid backup id");
    bad.id = NULL;
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid backup id");
    bad.id = "20260105T000000";
    bad.parent_id = "latest";
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid parent backup id \"latest\"");
    bad.parent_id = NULL;
    bad.keep = "forever";
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid keep target \"forever\"");
    bad.keep = NULL;
    bad.type = (cat_backup_type)9;
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid type 9");
    bad.type = CAT_BACKUP_FULL;
    bad.status = (cat_backup_status)0;
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "invalid status 0");
    bad.status = CAT_STATUS_DONE;
    bad.begin_wal = "junk";
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "begin_wal \"junk\"");
    bad.begin_wal = NULL;
    bad.end_wal = "000000010000000000000012.partial";
    expect_err(cat_backup_put(c, &bad), PC_E_USAGE, "end_wal");
    expect_err(cat_backup_get(c, "x", &g), PC_E_USAGE, NULL);
    expect_err(cat_backup_delete(c, "x"), PC_E_USAGE, NULL);
    expect_err(cat_backup_children(c, "x", collect_id, &x), PC_E_USAGE, NULL);
    expect_ok(cat_backup_count(c, &n));
    assert_int_equal(n, 4);
    cat_close(c);
}

static void test_backup_names(void **state)
{
    (void)state;
    const struct {
        cat_backup_status s;
        const char *name;
    } st[] = {{CAT_STATUS_STARTED, "STARTED"},
              {CAT_STATUS_DONE, "DONE"},
              {CAT_STATUS_FAILED, "FAILED"},
              {CAT_STATUS_WAITING_FOR_WALS, "WAITING_FOR_WALS"}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        assert_string_equal(cat_backup_status_name(st[i].s), st[i].name);
        cat_backup_status out = 0;
        expect_ok(cat_backup_status_parse(st[i].name, &out));
        assert_int_equal(out, st[i].s);
    }
    assert_int_equal(CAT_STATUS_STARTED, 1);
    assert_int_equal(CAT_STATUS_WAITING_FOR_WALS, 4);
    assert_int_equal(CAT_BACKUP_FULL, 1);
    assert_int_equal(CAT_BACKUP_INCR, 3);
    cat_backup_status s;
    expect_err(cat_backup_status_parse("done", &s), PC_E_USAGE, "\"done\"");
    expect_err(cat_backup_status_parse("SYNCING", &s), PC_E_USAGE, "SYNCING");
    expect_err(cat_backup_status_parse(NULL, &s), PC_E_USAGE, NULL);
    cat_backup_type t;
    expect_ok(cat_backup_type_parse("full", &t));
    assert_int_equal(t, CAT_BACKUP_FULL);
    expect_ok(cat_backup_type_parse("diff", &t));
    assert_int_equal(t, CAT_BACKUP_DIFF);
    expect_ok(cat_backup_type_parse("incr", &t));
    assert_int_equal(t, CAT_BACKUP_INCR);
    assert_string_equal(cat_backup_type_name(CAT_BACKUP_DIFF), "diff");
    expect_err(cat_backup_type_parse("FULL", &t), PC_E_USAGE, "\"FULL\"");
}

/* ---- runs ---- */

typedef struct runs {
    int64_t id[8];
    size_t n;
} runs;

static pc_status collect_run(void *arg, const cat_run *r)
{
    runs *x = arg;
    assert_true(x->n < 8);
    x->id[x->n++] = r->id;
    return PC_OK;
}

static void test_runs(void **state)
{
    (void)state;
    cat *c = open_ok(tpath("cat.db"));
    int64_t id1 = 0, id2 = 0, id3 = 0;
    int64_t before = pc_now_us();
    expect_ok(cat_run_begin(c, "full", INT64_C(1767225600000000), &id1));
    expect_ok(cat_run_begin(c, "retention", 0, &id2));
    assert_true(id1 > 0);
    assert_true(id2 > id1);
    expect_ok(cat_run_end(c, id1, PC_OK, 1000, "20260101T000000", "full", NULL));
    expect_ok(cat_run_end(c, id2, PC_E_CONNECT, 0, NULL, NULL, "store unreachable"));
    expect_err(cat_run_end(c, id2 + 100, PC_OK, 0, NULL, NULL, NULL), PC_E_NOT_FOUND, "run");

    cat_run r;
    expect_ok(cat_run_last(c, "full", &r));
    assert_int_equal(r.id, id1);
    assert_string_equal(r.kind, "full");
    assert_int_equal(r.scheduled_at, INT64_C(1767225600000000));
    assert_true(r.started_at >= before);
    assert_true(r.ended_at >= r.started_at);
    assert_int_equal(r.status, PC_OK);
    assert_int_equal(r.bytes, 1000);
    assert_string_equal(r.backup_id, "20260101T000000");
    assert_string_equal(r.backup_type, "full");
    assert_null(r.error);
    cat_run_clear(&r);
    expect_ok(cat_run_last(c, "retention", &r));
    assert_int_equal(r.status, PC_E_CONNECT);
    assert_string_equal(r.error, "store unreachable");
    assert_null(r.backup_id);
    cat_run_clear(&r);
    expect_err(cat_run_last(c, "diff", &r), PC_E_NOT_FOUND, "no diff run");
    assert_null(r.kind);

    /* A running run: no end yet. */
    expect_ok(cat_run_begin(c, "full", 0, &id3));
    expect_ok(cat_run_last(c, "full", &r));
    assert_int_equal(r.id, id3);
    assert_int_equal(r.ended_at, 0);
    cat_run_clear(&r);

    runs x = {0};
    expect_ok(cat_run_list(c, 0, collect_run, &x));
    assert_int_equal(x.n, 3);
    assert_int_equal(x.id[0], id3);
    assert_int_equal(x.id[1], id2);
    assert_int_equal(x.id[2], id1);
    memset(&x, 0, sizeof x);
    expect_ok(cat_run_list(c, 2, collect_run, &x));
    assert_int_equal(x.n, 2);
    assert_int_equal(x.id[0], id3);
    assert_int_equal(x.id[1], id2);

    expect_err(cat_run_begin(c, "", 0, &id1), PC_E_USAGE, NULL);
    assert_int_equal(id1, 0);
    expect_err(cat_run_last(c, NULL, &r), PC_E_USAGE, NULL);
    cat_close(c);
}

/* ---- errors ---- */

static void test_not_a_database(void **state)
{
    (void)state;
    char *path = tpath("cat.db");
    char junk[8192];
    memset(junk, 'j', sizeof junk);
    expect_ok(pc_write_file_atomic(path, junk, sizeof junk, 0600));
    cat *c = NULL;
    expect_err(cat_open(path, &c), PC_E_IO, "is corrupt");
    assert_null(c);
    assert_non_null(strstr(pc_err_get()->message, path));
    assert_non_null(strstr(pc_err_get()->message, "file is not a database"));
    assert_non_null(strstr(pc_err_get()->hint, "move it away and run `pgcask catalog sync`"));
}

static void test_corrupt_pages(void **state)
{
    (void)state;
    char *path = tpath("cat.db");
    cat *c = open_ok(path);
    enum { N = 20000 };
    static char names[N][PC_WAL_NAME_MAX];
    static cat_wal w[N];
    for (int i = 0; i < N; i++) {
        pc_wal_segment_name(1, (uint64_t)i, SEG16, names[i]);
        w[i] = mkwal(names[i], "pg1/wals/0000000100000000/some-key.zst", 1);
    }
    expect_ok(cat_wal_put_many(c, w, N, SEG16));
    cat_close(c);

    /* Overwrite the second half of the file: the WAL index pages, not the schema. */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    size_t half = (size_t)sb.st_size / 2;
    char *junk = malloc((size_t)sb.st_size - half);
    assert_non_null(junk);
    memset(junk, 0x5a, (size_t)sb.st_size - half);
    assert_int_equal(pwrite(fd, junk, (size_t)sb.st_size - half, (off_t)half),
                     (ssize_t)((size_t)sb.st_size - half));
    close(fd);
    free(junk);

    c = open_ok(path);
    uint64_t n, bytes;
    expect_err(cat_wal_stats(c, NULL, &n, &bytes), PC_E_IO, "is corrupt");
    assert_non_null(strstr(pc_err_get()->message, path));
    assert_non_null(strstr(pc_err_get()->hint, "pgcask catalog sync"));
    cat_close(c);
}

static void test_read_only(void **state)
{
    (void)state;
    /* Under /tmp: the unprivileged child must be able to reach it. */
    char dir[] = "/tmp/pgcask-catalog-ro-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = pc_path_join(dir, "cat.db");
    cat_close(open_ok(path));
    /* Readable by anyone, writable by no one but root: the check runs as nobody when root. */
    assert_int_equal(chmod(path, 0444), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        cat *c = NULL;
        pc_status st = cat_open(path, &c);
        char msg[3 * PC_ERR_MSG_MAX];
        int len = snprintf(msg, sizeof msg, "%d|%s|%s", (int)st, pc_err_get()->message,
                           pc_err_get()->hint);
        cat_close(c);
        _exit(write(p[1], msg, (size_t)len) == len ? 0 : 1);
    }
    close(p[1]);
    char buf[3 * PC_ERR_MSG_MAX] = "";
    ssize_t n = 0, r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_int_equal(chmod(dir, 0700), 0);
    expect_ok(pc_remove_tree(dir));
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == 77) {
        free(path);
        skip();
    }
    assert_int_equal(WEXITSTATUS(ws), 0);
    char want[PC_ERR_MSG_MAX];
    snprintf(want, sizeof want, "%d|catalog \"%s\" is read-only|", (int)PC_E_IO, path);
    if (strncmp(buf, want, strlen(want)) != 0)
        fprintf(stderr, "got \"%s\"\n", buf);
    assert_memory_equal(buf, want, strlen(want));
    assert_non_null(strstr(buf, "can write the catalog file and its directory"));
    free(path);
}

static void test_busy(void **state)
{
    (void)state;
    char *path = tpath("cat.db");
    cat_close(open_ok(path));
    sqlite3 *db = raw_open(path);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO meta VALUES ('a', 'b')", NULL, NULL, NULL),
                     SQLITE_OK);

    cat *c = NULL;
    expect_ok(cat_open_ex(path, 200, &c));
    int64_t t0 = pc_now_mono_ms();
    expect_err(cat_meta_set(c, "k", "v"), PC_E_BUSY, "stayed locked for more than 200 ms");
    int64_t waited = pc_now_mono_ms() - t0;
    assert_true(waited >= 150);
    assert_non_null(strstr(pc_err_get()->message, path));
    assert_non_null(strstr(pc_err_get()->hint, "busy timeout"));
    /* Readers are not blocked by a writer in WAL mode. */
    char *v = NULL;
    expect_err(cat_meta_get(c, "a", &v), PC_E_NOT_FOUND, NULL);
    cat_claim out;
    expect_err(cat_wal_claim(c, "000000010000000000000001", 1000, &out), PC_E_BUSY, NULL);

    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    expect_ok(cat_meta_set(c, "k", "v"));
    expect_ok(cat_meta_get(c, "a", &v));
    assert_string_equal(v, "b");
    free(v);
    cat_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_migrate_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_args, setup, teardown),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_iter_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_put_many_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_archivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backups, setup, teardown),
        cmocka_unit_test(test_backup_names),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_pages, setup, teardown),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
