/*
 * Backup operations against an in-process file:// repository laid out as
 * barman-cloud does (backup.info, archives, pgcask.manifest, annotations,
 * WAL): list from the store and from the catalog, catalog rebuild, keep,
 * retention with its WAL rule, interrupted deletions, the audit's findings
 * (each named), and the metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "archiver/archiver.h"
#include "archiver/ops.h"
#include "catalog/catalog.h"
#include "catalog/manifest.h"
#include "common/config.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "compress/compress.h"
#include "testutil.h"

#define DAY ((int64_t)86400)

typedef struct fx {
    char *dir;
    char root[512]; /* repository directory */
    char url[600];
    char catalog[600];
    pc_cfg *cfg;
    arc_ctx *a;
} fx;

static void mkdirs(const char *path)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    }
    mkdir(tmp, 0700);
}

static void put_file(fx *f, const char *key, const void *data, size_t len)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", f->root, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdirs(path);
    *slash = '/';
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void put_text(fx *f, const char *key, const char *text)
{
    put_file(f, key, text, strlen(text));
}

static bool exists(fx *f, const char *key)
{
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", f->root, key);
    return stat(path, &sb) == 0;
}

static void rm_file(fx *f, const char *key)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", f->root, key);
    assert_int_equal(unlink(path), 0);
}

static void wal(fx *f, uint32_t tli, uint32_t seg)
{
    char key[200];
    snprintf(key, sizeof key, "pg1/wals/%08X00000000/%08X00000000%08X", tli, tli, seg);
    put_text(f, key, "wal");
}

/* A pgcask.manifest naming the archive data.tar with its size (10 bytes). */
static void write_manifest(fx *f, const char *id, const char *type, const char *parent)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/pg1/base/%s/%s", f->root, id, CAT_MF_NAME);
    pc_sink *file = NULL, *z = NULL;
    assert_int_equal(pc_sink_file_new(path, 0600, PC_FILE_NOSYNC | PC_FILE_MKDIRS, &file), PC_OK);
    assert_int_equal(cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, file, &z), PC_OK);
    cat_mf_header h = {.backup_id = id,
                       .type = type,
                       .parent_id = parent,
                       .server = "pg1",
                       .system_id = "7512345678901234567",
                       .pg_version = 150018,
                       .timeline = 1,
                       .compression = "none",
                       .created_at = 1767225600LL * 1000000};
    cat_mfw *w;
    assert_int_equal(cat_mfw_new(z, &h, &w), PC_OK);
    cat_mf_archive a = {.name = "data.tar",
                        .size = 10,
                        .raw_size = 10,
                        .sha256 =
                            "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"};
    assert_int_equal(cat_mfw_archive(w, &a), PC_OK);
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
}

/* A DONE backup of day `day` (2026-01-01 + day) beginning at segment b and ending at e. */
static void backup(fx *f, int day, uint32_t b, uint32_t e, const char *status, bool manifest)
{
    int64_t t = 1767225600 + day * DAY;
    char id[16], info[2048], key[256];
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(id, sizeof id, "%Y%m%dT%H%M%S", &tm);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(info, sizeof info,
             "backup_label=None\nbegin_offset=40\nbegin_time=%s+00:00\n"
             "begin_wal=00000001000000000000%04X\nbegin_xlog=0/%X000028\n"
             "end_offset=312\nend_time=%s.5+00:00\nend_wal=00000001000000000000%04X\n"
             "end_xlog=0/%X000138\nerror=%s\npgdata=/pg\nserver_name=cloud\nstatus=%s\n"
             "systemid=7512345678901234567\ntimeline=1\nversion=150018\n"
             "xlog_segment_size=16777216\n",
             when, b, b, when, e, e,
             strcmp(status, "DONE") ? "failure uploading data (boom)" : "None", status);
    snprintf(key, sizeof key, "pg1/base/%s/data.tar", id);
    put_text(f, key, "0123456789");
    if (manifest)
        write_manifest(f, id, "full", NULL);
    snprintf(key, sizeof key, "pg1/base/%s/backup.info", id);
    put_text(f, key, info);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_mkdtemp();
    snprintf(f->root, sizeof f->root, "%s/repo", f->dir);
    mkdirs(f->root);
    snprintf(f->url, sizeof f->url, "file://%s", f->root);
    snprintf(f->catalog, sizeof f->catalog, "%s/catalog.db", f->dir);
    assert_int_equal(pc_cfg_new(&f->cfg), PC_OK);
    assert_int_equal(pc_cfg_set(f->cfg, "repo", f->url, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(f->cfg, "server", "pg1", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(f->cfg, "catalog", f->catalog, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(arc_ctx_new(f->cfg, &f->a), PC_OK);
    /* WAL 1..0x20 on timeline 1; backups on days 0, 10, 20 (and a FAILED one on day 15) */
    for (uint32_t s = 1; s <= 0x20; s++)
        wal(f, 1, s);
    backup(f, 0, 0x04, 0x05, "DONE", true);
    backup(f, 10, 0x10, 0x11, "DONE", true);
    backup(f, 15, 0x14, 0x14, "FAILED", false);
    backup(f, 20, 0x18, 0x19, "DONE", false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    arc_ctx_free(f->a);
    pc_cfg_free(f->cfg);
    tu_rmdir(f->dir);
    free(f);
    unsetenv("PGCASK_FAKE_NOW");
    return 0;
}

static char *list_json(fx *f, ops_source src)
{
    ops_list l;
    assert_int_equal(ops_list_backups(f->a, src, &l), PC_OK);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(ops_render_list_json(&l, &out), PC_OK);
    ops_list_free(&l);
    size_t n;
    return (char *)pc_buf_steal(&out, &n);
}

static void test_list_and_sync(void **state)
{
    fx *f = *state;
    /* the catalog never saw the backups: the store answers and fills it */
    char *first = list_json(f, OPS_FROM_CATALOG);
    assert_non_null(strstr(first, "\"backup_id\": \"20260101T000000\""));
    assert_non_null(strstr(first, "\"status\": \"FAILED\""));
    char *again = list_json(f, OPS_FROM_CATALOG);
    assert_string_equal(first, again);
    /* the catalog file deleted, rebuilt by `catalog sync`: the same list */
    arc_ctx_free(f->a);
    assert_int_equal(unlink(f->catalog), 0);
    assert_int_equal(arc_ctx_new(f->cfg, &f->a), PC_OK);
    arc_sync_result wr;
    ops_sync_result br;
    assert_int_equal(arc_catalog_sync_wal(f->a, &wr), PC_OK);
    assert_int_equal(arc_catalog_sync_backups(f->a, &br), PC_OK);
    assert_int_equal(wr.wal_objects, 0x20);
    assert_int_equal(br.backups, 4);
    assert_int_equal(br.unreadable, 0);
    char *synced = list_json(f, OPS_FROM_CATALOG);
    assert_string_equal(first, synced);
    /* a backup written since: the catalog does not know it until a refresh */
    backup(f, 25, 0x1E, 0x1E, "DONE", false);
    char *stale = list_json(f, OPS_FROM_CATALOG);
    assert_string_equal(first, stale);
    char *fresh = list_json(f, OPS_FROM_STORE);
    assert_non_null(strstr(fresh, "20260126T000000"));
    char *cached = list_json(f, OPS_FROM_CATALOG);
    assert_string_equal(fresh, cached);
    /* a damaged backup.info is skipped with a warning, as barman-cloud-backup-list does */
    put_text(f, "pg1/base/20260126T000000/backup.info", "status\n");
    tu_capture_begin();
    char *skipped = list_json(f, OPS_FROM_STORE);
    char *err = tu_capture_end();
    assert_null(strstr(skipped, "20260126T000000"));
    assert_non_null(strstr(err, "skipping backup \"20260126T000000\""));
    free(err);
    free(first);
    free(again);
    free(synced);
    free(stale);
    free(fresh);
    free(cached);
    free(skipped);
}

static void test_keep_and_redundancy(void **state)
{
    fx *f = *state;
    ops_keep k;
    /* only DONE backups can be kept */
    assert_int_equal(ops_keep_set(f->a, "20260116T000000", OPS_KEEP_FULL), PC_E_NOT_FOUND);
    assert_non_null(strstr(pc_err_get()->message, "its status is FAILED"));
    pc_err_clear();
    assert_false(exists(f, "pg1/base/20260116T000000/annotations/keep"));
    assert_int_equal(ops_keep_set(f->a, "20260101T000000", OPS_KEEP_STANDALONE), PC_OK);
    assert_int_equal(ops_keep_status(f->a, "20260101T000000", &k), PC_OK);
    assert_int_equal(k, OPS_KEEP_STANDALONE);
    char *t = tu_read("/dev/null", NULL);
    free(t);
    /* a kept backup is refused by -b */
    ops_delete_opts o = {.backup = "20260101T000000"};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, NULL), PC_E_NOT_FOUND);
    assert_non_null(strstr(pc_err_get()->message, "keep annotation"));
    pc_err_clear();
    assert_true(exists(f, "pg1/base/20260101T000000/backup.info"));
    /* a bad policy touches nothing */
    o = (ops_delete_opts){.policy = "REDUNDANCY two"};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, NULL), PC_E_USAGE);
    pc_err_clear();
    /* REDUNDANCY 1, dry run first: nothing deleted */
    o = (ops_delete_opts){.policy = "REDUNDANCY 1", .dry_run = true};
    ops_delete_result r;
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 1); /* 20260111: 20260121 stays, 20260101 is kept */
    assert_true(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_true(exists(f, "pg1/wals/0000000100000000/000000010000000000000001"));
    o.dry_run = false;
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 1);
    assert_false(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_false(exists(f, "pg1/base/20260111T000000/data.tar"));
    assert_false(exists(f, "pg1/base/20260111T000000/" CAT_MF_NAME));
    /* WAL: before the oldest remaining anchor (20260121, begins at 0x18), but the standalone
     * backup's 4..5 stay, and the FAILED backup is no anchor */
    char key[128];
    for (uint32_t s = 1; s <= 0x20; s++) {
        snprintf(key, sizeof key, "pg1/wals/0000000100000000/00000001000000000000%04X", s);
        bool keep = s == 4 || s == 5 || s >= 0x18;
        if (exists(f, key) != keep)
            fail_msg("WAL segment %X: %s", s, keep ? "deleted" : "kept");
    }
    /* minimum redundancy: the only DONE backup without keep cannot go */
    o = (ops_delete_opts){.backup = "20260121T000000", .minimum_redundancy = 2};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, NULL), PC_E_NOT_FOUND);
    assert_non_null(strstr(pc_err_get()->message, "minimum redundancy"));
    pc_err_clear();
    assert_true(exists(f, "pg1/base/20260121T000000/backup.info"));
    /* the catalog follows */
    ops_list l;
    assert_int_equal(ops_list_backups(f->a, OPS_FROM_CATALOG, &l), PC_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].id, "20260101T000000");
    assert_int_equal(l.v[0].keep, OPS_KEEP_STANDALONE);
    ops_list_free(&l);
    /* released, the standalone backup goes with its WAL under a window policy */
    assert_int_equal(ops_keep_release(f->a, "20260101T000000"), PC_OK);
    assert_int_equal(ops_keep_status(f->a, "20260101T000000", &k), PC_OK);
    assert_int_equal(k, OPS_KEEP_NONE);
    setenv("PGCASK_FAKE_NOW", "1769904000", 1); /* 2026-02-01: a 5-day window keeps day 20 */
    o = (ops_delete_opts){.policy = "5d"};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 1);
    assert_int_equal(r.wals, 2);
    assert_false(exists(f, "pg1/base/20260101T000000/backup.info"));
    assert_false(exists(f, "pg1/wals/0000000100000000/000000010000000000000004"));
    assert_true(exists(f, "pg1/wals/0000000100000000/000000010000000000000018"));
}

static void test_interrupted_delete(void **state)
{
    fx *f = *state;
    /* what a deletion killed after step 1 leaves: FAILED + the marker, the data partly gone */
    put_text(f, "pg1/base/20260111T000000/backup.info",
             "begin_wal=000000010000000000000010\nbegin_time=2026-01-11 00:00:00+00:00\n"
             "end_time=None\nerror=" OPS_DELETING_ERROR "\nstatus=FAILED\ntimeline=1\n");
    rm_file(f, "pg1/base/20260111T000000/data.tar");
    /* any later run finishes it, even one that deletes nothing else */
    ops_delete_opts o = {.policy = "REDUNDANCY 5"};
    ops_delete_result r;
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 1);
    assert_false(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_false(exists(f, "pg1/base/20260111T000000/" CAT_MF_NAME));
    /* the WAL rule then measures from the oldest remaining backup (day 0, begins at 4) */
    assert_false(exists(f, "pg1/wals/0000000100000000/000000010000000000000003"));
    assert_true(exists(f, "pg1/wals/0000000100000000/000000010000000000000004"));
}

/* An incremental backup (parent in pgcask.manifest only, as pgcask writes it) holds its parent. */
static void test_incremental(void **state)
{
    fx *f = *state;
    write_manifest(f, "20260111T000000", "incr", "20260101T000000");
    /* a kept incremental holds its parent */
    assert_int_equal(ops_keep_set(f->a, "20260111T000000", OPS_KEEP_FULL), PC_OK);
    ops_delete_opts o = {.backup = "20260101T000000"};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, NULL), PC_E_NOT_FOUND);
    assert_non_null(strstr(pc_err_get()->message, "needed by the kept backup 20260111T000000"));
    pc_err_clear();
    assert_true(exists(f, "pg1/base/20260101T000000/backup.info"));
    /* ... and under a policy too: REDUNDANCY 1 would drop day 0, but its kept child keeps it */
    o = (ops_delete_opts){.policy = "REDUNDANCY 1"};
    ops_delete_result r;
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 0);
    assert_true(exists(f, "pg1/base/20260101T000000/backup.info"));
    assert_true(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_int_equal(ops_keep_release(f->a, "20260111T000000"), PC_OK);
    /* the catalog learns the type and the parent */
    arc_sync_result wr;
    assert_int_equal(arc_catalog_sync_wal(f->a, &wr), PC_OK);
    assert_int_equal(arc_catalog_sync_backups(f->a, NULL), PC_OK);
    cat *c;
    cat_backup row;
    assert_int_equal(cat_open(f->catalog, &c), PC_OK);
    assert_int_equal(cat_backup_get(c, "20260111T000000", &row), PC_OK);
    assert_int_equal(row.type, CAT_BACKUP_INCR);
    assert_string_equal(row.parent_id, "20260101T000000");
    cat_backup_clear(&row);
    cat_close(c);
    /* an audit: the child is not restorable once its parent is damaged */
    put_text(f, "pg1/base/20260101T000000/data.tar", "012");
    ops_audit *au = NULL;
    ops_audit_opts ao = {0};
    assert_int_equal(ops_audit_run(f->a, &ao, &au), PC_OK);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(ops_audit_render_console(au, &out), PC_OK);
    if (!strstr(pc_buf_cstr(&out),
                "backup 20260111T000000: its parent backup 20260101T000000 is not restorable"))
        fail_msg("%s", pc_buf_cstr(&out));
    pc_buf_free(&out);
    ops_audit_free(au);
    /* REDUNDANCY 1 counts full backups only: 20260101 goes, and its child with it */
    o = (ops_delete_opts){.policy = "REDUNDANCY 1"};
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 2);
    assert_false(exists(f, "pg1/base/20260101T000000/backup.info"));
    assert_false(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_true(exists(f, "pg1/base/20260121T000000/backup.info"));
}

/* Deleting a full backup by id deletes the chain built on it (children first). */
static void test_delete_chain(void **state)
{
    fx *f = *state;
    write_manifest(f, "20260111T000000", "incr", "20260101T000000");
    write_manifest(f, "20260121T000000", "diff", "20260111T000000");
    ops_delete_opts o = {.backup = "20260101T000000"};
    ops_delete_result r;
    assert_int_equal(ops_backup_delete(f->a, &o, NULL, &r), PC_OK);
    assert_int_equal(r.backups, 3);
    assert_false(exists(f, "pg1/base/20260101T000000/backup.info"));
    assert_false(exists(f, "pg1/base/20260111T000000/backup.info"));
    assert_false(exists(f, "pg1/base/20260121T000000/backup.info"));
    /* the FAILED backup of day 15 builds on nothing: it stays */
    assert_true(exists(f, "pg1/base/20260116T000000/backup.info"));
}

static ops_audit *audit(fx *f, bool *ok, char **text);

/* The chain follows the switch the history file describes; a timeline without one is a problem. */
static void test_timelines(void **state)
{
    fx *f = *state;
    /* timeline 2 forks at 0/23000000 (in segment 0x23): 1 is needed up to 0x22, 2 from 0x23 */
    put_text(f, "pg1/wals/00000002.history", "1\t0/23000000\tno recovery target specified\n");
    for (uint32_t s = 0x21; s <= 0x24; s++)
        wal(f, 1, s); /* 0x23 and 0x24: the old branch, not needed */
    for (uint32_t s = 0x23; s <= 0x28; s++)
        wal(f, 2, s);
    backup(f, 30, 0x21, 0x21, "DONE", false); /* on timeline 1, before the fork */
    bool ok;
    char *text;
    ops_audit *au = audit(f, &ok, &text);
    if (!ok)
        fail_msg("%s", text);
    assert_non_null(
        strstr(text, "chain 000000010000000000000004 .. 000000020000000000000028: no gap"));
    assert_non_null(strstr(text, "timeline 2: 6 segments, 000000020000000000000023 .. "
                                 "000000020000000000000028; from timeline 1 at 0/23000000"));
    assert_non_null(strstr(text, "end of WAL 000000020000000000000028"));
    free(text);
    ops_audit_free(au);
    /* a segment of the new timeline missing, and a timeline 3 without its history file */
    rm_file(f, "pg1/wals/0000000200000000/000000020000000000000025");
    wal(f, 3, 0x30);
    au = audit(f, &ok, &text);
    assert_false(ok);
    assert_non_null(strstr(text, "WAL chain: segment 000000020000000000000025 is missing"));
    assert_non_null(strstr(text, "timeline 3 has WAL but its history file 00000003.history is not "
                                 "archived"));
    /* segment 0x21 of timeline 1 after the fork point is not needed: 0x23.. of timeline 1 gone */
    free(text);
    ops_audit_free(au);
    rm_file(f, "pg1/wals/0000000100000000/000000010000000000000024");
    au = audit(f, &ok, &text);
    assert_null(strstr(text, "000000010000000000000024 is missing"));
    free(text);
    ops_audit_free(au);
}

static ops_audit *audit(fx *f, bool *ok, char **text)
{
    ops_audit *au = NULL;
    ops_audit_opts o = {0};
    assert_int_equal(ops_audit_run(f->a, &o, &au), PC_OK);
    *ok = ops_audit_ok(au);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(ops_audit_render_console(au, &out), PC_OK);
    pc_buf js;
    pc_buf_init(&js, PC_BUF_NOCAP);
    assert_int_equal(ops_audit_render_json(au, &js), PC_OK);
    pc_json *root = NULL;
    assert_int_equal(pc_json_parse((const char *)js.data, js.len, 1 << 24, "audit", &root), PC_OK);
    bool jok;
    assert_true(pc_json_bool(pc_json_get(root, "ok"), &jok));
    assert_int_equal(jok, *ok);
    pc_json_free(root);
    pc_buf_free(&js);
    size_t n;
    *text = (char *)pc_buf_steal(&out, &n);
    return au;
}

static void test_audit(void **state)
{
    fx *f = *state;
    bool ok;
    char *text;
    ops_audit *au = audit(f, &ok, &text);
    if (!ok)
        fail_msg("a healthy repository fails the audit:\n%s", text);
    assert_non_null(strstr(text, "chain 000000010000000000000004 .. 000000010000000000000020: "
                                 "no gap"));
    assert_non_null(strstr(text, "first  2026-01-01 00:00:00.500000+00:00, LSN 0/5000138"));
    assert_non_null(strstr(text, "end of WAL 000000010000000000000020"));
    free(text);
    ops_audit_free(au);

    /* a WAL in the middle of the chain, the end_wal of a backup (the seed's incident),
     * a truncated archive, a lost backup.info */
    rm_file(f, "pg1/wals/0000000100000000/000000010000000000000008");
    rm_file(f, "pg1/wals/0000000100000000/000000010000000000000019");
    put_text(f, "pg1/base/20260111T000000/data.tar", "01234");
    rm_file(f, "pg1/base/20260116T000000/backup.info");
    au = audit(f, &ok, &text);
    assert_false(ok);
    static const char *want[] = {
        "WAL chain: segment 000000010000000000000008 is missing",
        "backup 20260121T000000: WAL 000000010000000000000019 (its end_wal) is not archived",
        "backup 20260111T000000: archive pg1/base/20260111T000000/data.tar has 5 bytes, the "
        "manifest says 10",
        "backup 20260116T000000: pg1/base/20260116T000000/ holds 1 object but no backup.info",
        "20260121T000000  DONE  NOT restorable  WAL",
        "20260101T000000  DONE  restorable  WAL",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("the audit does not say \"%s\":\n%s", want[i], text);
    /* the window: from the oldest restorable backup to the gap after the newest restorable one */
    assert_non_null(strstr(text, "first  2026-01-01 00:00:00.500000+00:00"));
    assert_non_null(strstr(text, "end of WAL 000000010000000000000007"));
    free(text);
    ops_audit_free(au);

    /* the metrics read the audit's outcome from the catalog */
    pc_buf m;
    pc_buf_init(&m, PC_BUF_NOCAP);
    assert_int_equal(ops_metrics(f->a, false, &m), PC_OK);
    static const char *lines[] = {
        "pgcask_audit_status{server=\"pg1\"} 0\n",
        "pgcask_backups{server=\"pg1\",status=\"DONE\"} 3\n",
        "pgcask_first_recoverability_point_seconds{server=\"pg1\"} 1767225600\n",
        "pgcask_last_backup_end_time_seconds{server=\"pg1\"} 1768953600\n",
        "pgcask_wal_archived_segments{server=\"pg1\"} 30\n",
        "pgcask_last_archived_wal_info{server=\"pg1\",wal=\"000000010000000000000020\","
        "timeline=\"1\"} 1\n",
        "# TYPE barman_cloud_cloudnative_pg_io_first_recoverability_point gauge\n"
        "barman_cloud_cloudnative_pg_io_first_recoverability_point 1767225600\n",
        "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp 1768953600\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!strstr(pc_buf_cstr(&m), lines[i]))
            fail_msg("metrics lack \"%s\":\n%s", lines[i], pc_buf_cstr(&m));
    pc_buf_free(&m);
}

int main(void)
{
    pc_log_set_level(PC_LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_and_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_and_redundancy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timelines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
