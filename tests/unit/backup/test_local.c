/*
 * Local, differential and incremental backups without a server: the walk's
 * exclusion rules, the change detection, the choice of a parent, a full and
 * an incremental copy of a made-up data directory into a file://
 * repository, and the check of a parent's chain (archiver/backup_local.c,
 * archiver/backup_chain.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "archiver/backup_int.h"
#include "catalog/backup_info.h"
#include "catalog/catalog.h"
#include "catalog/manifest.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/layout.h"
#include "common/tar.h"
#include "testutil.h"

#define FULL_ID "20260301T100000"
#define INCR_ID "20260301T110000"
#define SYSID   "7300000000000000042"

/* ==== rules ==== */

static void test_rules(void **state)
{
    (void)state;
    struct {
        const char *rel;
        bool dir, ts;
        bk_rule want;
    } cases[] = {
        {"postmaster.pid", false, false, BK_RULE_SKIP},
        {"postmaster.opts", false, false, BK_RULE_SKIP},
        {"backup_label", false, false, BK_RULE_SKIP},
        {"backup_label.old", false, false, BK_RULE_SKIP},
        {"tablespace_map", false, false, BK_RULE_SKIP},
        {"backup_manifest", false, false, BK_RULE_SKIP},
        {"standby.signal", false, false, BK_RULE_SKIP},
        {"recovery.signal", false, false, BK_RULE_SKIP},
        {"current_logfiles.tmp", false, false, BK_RULE_SKIP},
        {"postgresql.auto.conf.tmp", false, false, BK_RULE_SKIP},
        {"postgresql.auto.conf", false, false, BK_RULE_COPY},
        {"pg_wal", true, false, BK_RULE_EMPTY},
        {"pg_replslot", true, false, BK_RULE_EMPTY},
        {"pg_stat_tmp", true, false, BK_RULE_EMPTY},
        {"pg_subtrans", true, false, BK_RULE_EMPTY},
        {"pg_notify", true, false, BK_RULE_EMPTY},
        {"pg_serial", true, false, BK_RULE_EMPTY},
        {"pg_snapshots", true, false, BK_RULE_EMPTY},
        {"pg_dynshmem", true, false, BK_RULE_EMPTY},
        {"log", true, false, BK_RULE_EMPTY},
        {"pg_stat", true, false, BK_RULE_COPY},
        {"pg_xact", true, false, BK_RULE_COPY},
        {"base", true, false, BK_RULE_COPY},
        {"base/pgsql_tmp", true, false, BK_RULE_SKIP},
        {"base/1/pgsql_tmp123.4", false, false, BK_RULE_SKIP},
        {"base/1/pg_internal.init", false, false, BK_RULE_SKIP},
        {"global/pg_internal.init.1234", false, false, BK_RULE_SKIP},
        {"base/1/1259", false, false, BK_RULE_COPY},
        {"base/1/backup_label", false, false, BK_RULE_COPY}, /* only at the top */
        {"pg_wal", true, true, BK_RULE_COPY},                  /* in a tablespace: anything */
        {"PG_15_202209061/5/pg_internal.init", false, true, BK_RULE_SKIP},
        {"postmaster.pid", true, false, BK_RULE_COPY}, /* a directory of that name */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bk_rule got = bk_local_rule(cases[i].rel, cases[i].dir, cases[i].ts);
        if (got != cases[i].want)
            fail_msg("%s (dir %d, ts %d): rule %d, expected %d", cases[i].rel, cases[i].dir,
                     cases[i].ts, got, cases[i].want);
    }
    assert_true(bk_temp_relation("t3_16384"));
    assert_true(bk_temp_relation("t3_16384_fsm"));
    assert_true(bk_temp_relation("t12_16384.2"));
    assert_true(bk_temp_relation("t3_16384_vm.1"));
    assert_false(bk_temp_relation("t3_"));
    assert_false(bk_temp_relation("t_16384"));
    assert_false(bk_temp_relation("16384"));
    assert_false(bk_temp_relation("t3_16384_foo"));
    size_t nl;
    bool init;
    assert_true(bk_relation_file("16384", &nl, &init));
    assert_int_equal(nl, 5);
    assert_false(init);
    assert_true(bk_relation_file("16384_init", &nl, &init));
    assert_true(init);
    assert_true(bk_relation_file("16384_vm.3", &nl, &init));
    assert_false(init);
    assert_false(bk_relation_file("PG_VERSION", &nl, &init));
    assert_false(bk_relation_file("16384.", &nl, &init));
    assert_false(bk_relation_file("16384_x", &nl, &init));
}

/* ==== change detection ==== */

static void test_unchanged(void **state)
{
    (void)state;
    cat_mf_file prev = {.path = "base/1/1259", .type = 'f', .size = 8192, .mtime = 1000};
    /* the parent started well after the file's last change */
    assert_true(bk_file_unchanged(&prev, 8192, 1000, 2000));
    assert_false(bk_file_unchanged(&prev, 16384, 1000, 2000)); /* grew */
    assert_false(bk_file_unchanged(&prev, 8192, 1001, 2000));  /* written since */
    assert_false(bk_file_unchanged(&prev, 8192, 999, 2000));   /* mtime went back */
    /* written in the second the parent started (or the one before): it may have changed since */
    assert_false(bk_file_unchanged(&prev, 8192, 1000, 1000));
    assert_false(bk_file_unchanged(&prev, 8192, 1000, 1001));
    assert_true(bk_file_unchanged(&prev, 8192, 1000, 1002));
    assert_false(bk_file_unchanged(&prev, 8192, 1000, INT64_MIN)); /* start unknown */
    assert_false(bk_file_unchanged(NULL, 8192, 1000, 2000));
    cat_mf_file dir = {.path = "base/1", .type = 'd', .mtime = 1000};
    assert_false(bk_file_unchanged(&dir, 0, 1000, 2000));
}

/* ==== choosing the parent ==== */

typedef struct types {
    const int *v;
    int calls;
} types;

static pc_status type_cb(void *ud, size_t i, int *type)
{
    types *t = ud;
    t->calls++;
    *type = t->v[i];
    return PC_OK;
}

static void test_pick(void **state)
{
    (void)state;
    const uint64_t sys = 42;
    bk_cand v[] = {
        {"20260101T000000", true, 42, 1, 15},  /* 0 full */
        {"20260101T010000", true, 42, 1, 15},  /* 1 incr */
        {"20260101T020000", false, 42, 1, 15}, /* 2 failed */
        {"20260101T030000", true, 42, 1, 15},  /* 3 barman (no manifest) */
        {"20260101T040000", true, 43, 1, 15},  /* 4 another cluster */
        {"20260101T050000", true, 42, 2, 15},  /* 5 another timeline */
        {"20260101T060000", true, 42, 1, 16},  /* 6 another major */
    };
    int tv[] = {CAT_BACKUP_FULL, CAT_BACKUP_INCR, CAT_BACKUP_FULL, 0, CAT_BACKUP_FULL,
                CAT_BACKUP_FULL, CAT_BACKUP_FULL};
    types t = {.v = tv};
    size_t idx = 99;
    assert_int_equal(bk_parent_pick(v, 7, CAT_BACKUP_INCR, sys, 1, 15, type_cb, &t, &idx), PC_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(t.calls, 2); /* the barman backup, then the incremental */
    assert_int_equal(bk_parent_pick(v, 7, CAT_BACKUP_DIFF, sys, 1, 15, type_cb, &t, &idx), PC_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(bk_parent_pick(v, 7, CAT_BACKUP_INCR, sys, 2, 15, type_cb, &t, &idx), PC_OK);
    assert_int_equal(idx, 5);
    assert_int_equal(bk_parent_pick(v, 7, CAT_BACKUP_DIFF, 44, 1, 15, type_cb, &t, &idx),
                     PC_E_NOT_FOUND);
    assert_int_equal(bk_parent_pick(v, 4, CAT_BACKUP_DIFF, sys, 1, 16, type_cb, &t, &idx),
                     PC_E_NOT_FOUND);
    assert_int_equal(bk_parent_pick(v, 0, CAT_BACKUP_INCR, sys, 1, 15, type_cb, &t, &idx),
                     PC_E_NOT_FOUND);
    /* only incrementals since the last barman backup: an incremental builds on them */
    int tv2[] = {0, CAT_BACKUP_INCR};
    types t2 = {.v = tv2};
    assert_int_equal(bk_parent_pick(v, 2, CAT_BACKUP_DIFF, sys, 1, 15, type_cb, &t2, &idx),
                     PC_E_NOT_FOUND);
}

/* ==== copying a data directory ==== */

typedef struct world {
    char *dir, *pgdata, *ts, *repo_url;
    repo *r;
} world;

static world W;

static void mk(const char *rel, const char *text)
{
    char *p = pc_path_join(W.dir, rel);
    char *d = pc_dirname(p);
    assert_int_equal(pc_mkdirs(d, 0700), PC_OK);
    tu_write(p, text);
    free(d);
    free(p);
}

static void mkdir_rel(const char *rel)
{
    char *p = pc_path_join(W.dir, rel);
    assert_int_equal(pc_mkdirs(p, 0700), PC_OK);
    free(p);
}

static void set_mtime(const char *rel, time_t t)
{
    char *p = pc_path_join(W.dir, rel);
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    free(p);
}

static int setup(void **state)
{
    (void)state;
    W.dir = tu_mkdtemp();
    W.pgdata = pc_path_join(W.dir, "pgdata");
    W.ts = pc_path_join(W.dir, "ts1");
    W.repo_url = pc_asprintf("file://%s/repo", W.dir);
    char *rd = pc_path_join(W.dir, "repo");
    assert_int_equal(pc_mkdirs(rd, 0700), PC_OK);
    free(rd);
    pc_cfg *cfg;
    assert_int_equal(pc_cfg_new(&cfg), PC_OK);
    assert_int_equal(pc_cfg_set(cfg, "repo", W.repo_url, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(repo_open_cfg(cfg, &W.r), PC_OK);
    pc_cfg_free(cfg);

    char ctl[8193];
    memset(ctl, 'c', 8192);
    ctl[8192] = '\0';
    uint64_t sys = strtoull(SYSID, NULL, 10);
    memcpy(ctl, &sys, sizeof sys);
    for (size_t i = 0; i < 8; i++)
        if (ctl[i] == '\0')
            ctl[i] = 1; /* tu_write writes a string: keep it one (the id is not checked here) */
    mk("pgdata/PG_VERSION", "15\n");
    mk("pgdata/global/pg_control", ctl);
    mk("pgdata/global/1262", "pg_database");
    mk("pgdata/global/pg_internal.init", "cache");
    mk("pgdata/base/1/1259", "pg_class of template1");
    mk("pgdata/base/1/t3_16390", "a temporary table");
    mk("pgdata/base/1/16400", "unlogged main fork");
    mk("pgdata/base/1/16400_fsm", "unlogged fsm");
    mk("pgdata/base/1/16400_init", "unlogged init fork");
    mk("pgdata/base/1/16401", "logged table");
    mk("pgdata/base/pgsql_tmp/pgsql_tmp1.0", "sort spill");
    mk("pgdata/pg_wal/000000010000000000000001", "wal");
    mk("pgdata/pg_wal/archive_status/000000010000000000000001.done", "");
    mk("pgdata/pg_stat_tmp/global.stat", "stats");
    mk("pgdata/pg_replslot/s1/state", "slot");
    mk("pgdata/postmaster.pid", "1234\n");
    mk("pgdata/backup_label.old", "old label");
    mk("pgdata/postgresql.conf", "port = 5432\n");
    mkdir_rel("pgdata/pg_tblspc");
    mkdir_rel("pgdata/pg_xact");
    mk("ts1/PG_15_202209061/5/16500", "a table in ts1");
    mk("ts1/PG_15_202209061/5/t4_16501", "temporary in ts1");
    mk("ts1/PG_14_202107181/5/16000", "an older version's file");
    char *link = pc_path_join(W.pgdata, "pg_tblspc/16385");
    assert_int_equal(symlink(W.ts, link), 0);
    free(link);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    repo_free(W.r);
    tu_rmdir(W.dir);
    free(W.pgdata);
    free(W.ts);
    free(W.repo_url);
    memset(&W, 0, sizeof W);
    return 0;
}

typedef struct run_opts {
    const char *id;
    const cat_mf_index *parent;
    int64_t parent_start;
    bool checksum_all;
    uint64_t isolate;
} run_opts;

/* One local backup of the made-up directory; *out is its walker (freed by the caller). */
static bk_local *run_local(const run_opts *ro)
{
    bk_local_ts *ts;
    size_t nts;
    assert_int_equal(bk_local_tablespaces(W.pgdata, &ts, &nts), PC_OK);
    assert_int_equal(nts, 1);
    assert_int_equal(ts[0].oid, 16385);
    assert_string_equal(ts[0].location, W.ts);
    char *prefix = pc_layout_backup_prefix("pg1", ro->id);
    bk_local_opts o = {
        .r = W.r,
        .prefix = prefix,
        .backup_id = ro->id,
        .suffix = ro->parent ? "-incr" : "",
        .codec = CMP_ZSTD,
        .level = CMP_LEVEL_DEFAULT,
        .threads = 1,
        .max_part = (uint64_t)1 << 30,
        .pgdata = W.pgdata,
        .ts = ts,
        .nts = nts,
        .version_dir = "PG_15_202209061",
        .pg_version = 150004,
        .parent = ro->parent,
        .parent_start = ro->parent_start,
        .checksum_all = ro->checksum_all,
        .isolate = ro->isolate,
        .now = 1772366400,
    };
    bk_local *l;
    assert_int_equal(bk_local_new(&o, &l), PC_OK);
    if (bk_local_copy(l) != PC_OK)
        fail_msg("copy: %s", pc_err_get()->message);
    if (bk_local_finish(l, "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n") !=
        PC_OK)
        fail_msg("finish: %s", pc_err_get()->message);
    bk_local_tablespaces_free(ts, nts);
    free(prefix);
    return l;
}

static const cat_mf_file *find(const bk_local *l, const char *ts, const char *path)
{
    return cat_mf_index_find(bk_local_files(l), ts, path);
}

/* Read one stored tar and list "name size" of its members. */
typedef struct listing {
    pc_buf out;
} listing;

static pc_status on_member(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    listing *l = ud;
    (void)content;
    return pc_buf_printf(&l->out, "%s %c %llu\n", e->name,
                         e->type == PC_TAR_DIR ? 'd' : e->type == PC_TAR_SYMLINK ? 'l' : 'f',
                         (unsigned long long)e->size);
}

static char *tar_list(const char *id, const char *part)
{
    static const pc_tar_handler h = {.entry = on_member};
    listing l;
    pc_buf_init(&l.out, PC_BUF_NOCAP);
    char *key = pc_asprintf("pg1/base/%s/%s", id, part);
    pc_sink *s;
    assert_int_equal(pc_tar_reader_new(&h, &l, &s), PC_OK);
    assert_int_equal(cmp_decompress_new(CMP_ZSTD, 0, s, &s), PC_OK);
    assert_int_equal(repo_get(W.r, key, 0, 0, s, NULL), PC_OK);
    assert_int_equal(pc_sink_finish(s), PC_OK);
    pc_sink_free(s);
    free(key);
    pc_buf_append(&l.out, "", 1);
    return (char *)pc_buf_steal(&l.out, NULL);
}

static void test_full_copy(void **state)
{
    (void)state;
    run_opts ro = {.id = FULL_ID};
    bk_local *l = run_local(&ro);
    const bk_local_stats *s = bk_local_get_stats(l);
    /* kept */
    const char *want[] = {"PG_VERSION", "global/1262", "global/pg_control", "base/1/1259",
                          "base/1/16400_init", "base/1/16401", "postgresql.conf", "backup_label"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cat_mf_file *f = find(l, NULL, want[i]);
        if (!f || f->type != 'f')
            fail_msg("%s is not in the manifest", want[i]);
        assert_string_equal(f->backup_id, FULL_ID);
        assert_string_equal(f->archive, "data.tar.zst");
    }
    /* left out */
    const char *skip[] = {"global/pg_internal.init", "base/1/t3_16390", "base/1/16400",
                          "base/1/16400_fsm", "base/pgsql_tmp", "pg_wal/000000010000000000000001",
                          "pg_wal/archive_status/000000010000000000000001.done",
                          "pg_stat_tmp/global.stat", "pg_replslot/s1", "postmaster.pid",
                          "backup_label.old"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (find(l, NULL, skip[i]))
            fail_msg("%s should not be in the backup", skip[i]);
    /* kept empty, and the tablespace link recorded (not stored) */
    assert_int_equal(find(l, NULL, "pg_wal")->type, 'd');
    assert_int_equal(find(l, NULL, "pg_wal/archive_status")->type, 'd');
    assert_int_equal(find(l, NULL, "pg_replslot")->type, 'd');
    assert_int_equal(find(l, NULL, "pg_xact")->type, 'd');
    const cat_mf_file *link = find(l, NULL, "pg_tblspc/16385");
    assert_non_null(link);
    assert_int_equal(link->type, 'l');
    assert_string_equal(link->target, W.ts);
    /* the tablespace: only this version's directory, temporary relations left out */
    const cat_mf_file *tf = find(l, "16385", "PG_15_202209061/5/16500");
    assert_non_null(tf);
    assert_string_equal(tf->archive, "16385.tar.zst");
    assert_null(find(l, "16385", "PG_15_202209061/5/t4_16501"));
    assert_null(find(l, "16385", "PG_14_202107181/5/16000"));
    /* the checksums are the files' */
    unsigned char d[PC_SHA256_LEN];
    char hex[65];
    pc_sha256("pg_class of template1", 21, d);
    pc_hex(d, sizeof d, hex);
    assert_string_equal(find(l, NULL, "base/1/1259")->sha256, hex);
    assert_true(find(l, NULL, "base/1/1259")->has_crc32c);
    assert_int_equal(find(l, NULL, "base/1/1259")->crc32c,
                     pc_crc32c(0, "pg_class of template1", 21));
    assert_true(find(l, NULL, "backup_label")->has_crc32c);
    assert_int_equal(s->kept_files, 0);
    assert_int_equal(s->copied_files, 9); /* 8 files + backup_label */
    assert_int_equal(bk_local_nparts(l), 2);
    /* pg_control then backup_label close data.tar */
    char *members = tar_list(FULL_ID, "data.tar.zst");
    const char *ctl = strstr(members, "global/pg_control f 8192\n");
    assert_non_null(ctl);
    assert_string_equal(ctl, "global/pg_control f 8192\nbackup_label f 62\n");
    assert_null(strstr(members, "pg_tblspc/16385 l"));
    free(members);
    members = tar_list(FULL_ID, "16385.tar.zst");
    assert_non_null(strstr(members, "PG_15_202209061/ d 0\n"));
    free(members);
    bk_local_free(l);
}

/* Large files get a part of their own; the small ones share parts. */
static void test_isolate(void **state)
{
    (void)state;
    run_opts ro = {.id = FULL_ID, .isolate = 20};
    bk_local *l = run_local(&ro);
    const cat_mf_index *ix = bk_local_files(l);
    const char *big[] = {"base/1/1259", "global/pg_control", "backup_label"};
    for (size_t b = 0; b < 3; b++) {
        const cat_mf_file *f = find(l, NULL, big[b]);
        for (size_t i = 0; i < cat_mf_index_count(ix); i++) {
            const cat_mf_file *o = cat_mf_index_at(ix, i);
            if (o != f && o->archive && strcmp(o->archive, f->archive) == 0)
                fail_msg("%s shares part %s with %s", big[b], f->archive, o->path);
        }
    }
    /* the small files before 1259 and after it are in two parts around it */
    assert_string_not_equal(find(l, NULL, "base/1/16400_init")->archive,
                            find(l, NULL, "PG_VERSION")->archive);
    assert_string_equal(find(l, NULL, "base/1/16400_init")->archive,
                        find(l, NULL, "base/1/16401")->archive);
    assert_true(bk_local_nparts(l) >= 6);
    char *members = tar_list(FULL_ID, find(l, NULL, "base/1/1259")->archive);
    assert_string_equal(members, "base/1/1259 f 21\n");
    free(members);
    bk_local_free(l);
}

static void test_incremental_copy(void **state)
{
    (void)state;
    time_t old = time(NULL) - 3600;
    /* every file written an hour ago, then a full backup started now */
    const char *files[] = {"pgdata/PG_VERSION", "pgdata/global/1262", "pgdata/base/1/1259",
                           "pgdata/base/1/16400_init", "pgdata/base/1/16401",
                           "pgdata/postgresql.conf", "ts1/PG_15_202209061/5/16500"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        set_mtime(files[i], old);
    run_opts fo = {.id = FULL_ID, .parent_start = (int64_t)time(NULL)};
    bk_local *full = run_local(&fo);

    /* changes: one grows, one is rewritten with its size kept, one is new, one is gone */
    mk("pgdata/base/1/1259", "pg_class of template1, grown");
    mk("pgdata/base/1/16401", "LOGGED TABLE");
    set_mtime("pgdata/base/1/16401", old + 10);
    mk("pgdata/base/1/16402", "new table");
    char *gone = pc_path_join(W.pgdata, "global/1262");
    assert_int_equal(unlink(gone), 0);
    free(gone);
    run_opts io = {.id = INCR_ID, .parent = bk_local_files(full), .parent_start = fo.parent_start};
    bk_local *incr = run_local(&io);
    const bk_local_stats *s = bk_local_get_stats(incr);
    /* copied: 1259, 16401, 16402, pg_control, backup_label; kept: the other four */
    assert_int_equal(s->copied_files, 5);
    assert_int_equal(s->kept_files, 4);
    const cat_mf_file *f = find(incr, NULL, "PG_VERSION");
    assert_string_equal(f->backup_id, FULL_ID);
    assert_string_equal(f->archive, "data.tar.zst");
    assert_string_equal(f->sha256, find(full, NULL, "PG_VERSION")->sha256);
    assert_true(f->has_crc32c); /* kept files keep the parent's CRC-32C */
    assert_int_equal(f->crc32c, find(full, NULL, "PG_VERSION")->crc32c);
    f = find(incr, "16385", "PG_15_202209061/5/16500");
    assert_string_equal(f->backup_id, FULL_ID);
    assert_string_equal(f->archive, "16385.tar.zst");
    f = find(incr, NULL, "base/1/16401");
    assert_string_equal(f->backup_id, INCR_ID);
    assert_string_equal(f->archive, "data-incr.tar.zst");
    assert_null(find(incr, NULL, "global/1262"));
    assert_string_equal(find(incr, NULL, "base/1/16402")->backup_id, INCR_ID);
    /* the incremental's own tar holds the directories and only the changed files */
    char *members = tar_list(INCR_ID, "data-incr.tar.zst");
    assert_non_null(strstr(members, "base/1/1259 f"));
    assert_non_null(strstr(members, "base/1/ d"));
    assert_null(strstr(members, "PG_VERSION"));
    assert_null(strstr(members, "postgresql.conf"));
    free(members);
    members = tar_list(INCR_ID, "16385-incr.tar.zst");
    assert_string_equal(members, "PG_15_202209061/ d 0\nPG_15_202209061/5/ d 0\n");
    free(members);

    /* same size and mtime but other bytes: a file not written near the parent's start is
       taken over unread (only --checksum-all sees the difference) */
    mk("pgdata/postgresql.conf", "port = 5433\n");
    set_mtime("pgdata/postgresql.conf", old);
    run_opts quick = {.id = "20260301T130000", .parent = bk_local_files(incr),
                      .parent_start = fo.parent_start};
    bk_local *q = run_local(&quick);
    assert_string_equal(find(q, NULL, "postgresql.conf")->backup_id, FULL_ID);
    /* the files the incremental wrote just now are hot: compared, and kept */
    assert_string_equal(find(q, NULL, "base/1/16402")->backup_id, INCR_ID);
    assert_int_equal(bk_local_get_stats(q)->hashed_bytes, strlen("new table") +
                                                           strlen("pg_class of template1, grown"));
    bk_local_free(q);

    /* hot files (written in the second before the parent started) are compared: kept when
       their bytes are the parent's, stored when not */
    run_opts hot = {.id = "20260301T120000", .parent = bk_local_files(incr),
                    .parent_start = (int64_t)old + 1};
    bk_local *h = run_local(&hot);
    assert_string_equal(find(h, NULL, "PG_VERSION")->backup_id, FULL_ID);
    assert_string_equal(find(h, NULL, "postgresql.conf")->backup_id, "20260301T120000");
    assert_true(bk_local_get_stats(h)->hashed_bytes > 0);
    bk_local_free(h);
    run_opts deep = {.id = "20260301T140000", .parent = bk_local_files(incr),
                     .parent_start = fo.parent_start, .checksum_all = true};
    bk_local *c = run_local(&deep);
    assert_string_equal(find(c, NULL, "postgresql.conf")->backup_id, "20260301T140000");
    assert_string_equal(find(c, NULL, "PG_VERSION")->backup_id, FULL_ID);
    assert_true(bk_local_get_stats(c)->hashed_bytes > 0);
    bk_local_free(c);

    bk_local_free(incr);
    bk_local_free(full);
}

static void test_check_pgdata(void **state)
{
    (void)state;
    uint64_t sys = 0;
    int major = 0;
    assert_int_equal(bk_local_check_pgdata(W.pgdata, &sys, &major), PC_OK);
    assert_int_equal(major, 15);
    assert_int_equal(bk_local_check_pgdata(W.ts, &sys, &major), PC_E_USAGE);
    char *msg = pc_asprintf("--local \"%s\" is not a PostgreSQL data directory: it has no "
                            "PG_VERSION",
                            W.ts);
    tu_assert_err(PC_E_USAGE, msg);
    free(msg);
    char *ctl = pc_path_join(W.pgdata, "global/pg_control");
    assert_int_equal(unlink(ctl), 0);
    free(ctl);
    assert_int_equal(bk_local_check_pgdata(W.pgdata, &sys, &major), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "global/pg_control is missing"));
    char *missing = pc_path_join(W.dir, "nothing");
    assert_int_equal(bk_local_check_pgdata(missing, &sys, &major), PC_E_USAGE);
    free(missing);
}

/* ==== the chain of a parent ==== */

static void put_obj(const char *id, const char *name, const void *data, size_t len)
{
    char *key = pc_asprintf("pg1/base/%s/%s", id, name);
    assert_int_equal(repo_put(W.r, key, data, len, NULL), PC_OK);
    free(key);
}

static void put_info(const char *id, cat_binfo_status status, uint64_t sys, int64_t begin_s)
{
    cat_binfo b;
    cat_binfo_init(&b);
    b.status = status;
    b.systemid = sys;
    b.timeline = 1;
    b.version = 150004;
    b.begin_time = begin_s * 1000000;
    b.end_time = (begin_s + 60) * 1000000;
    b.end_xlog = pc_strdup("0/3000000");
    pc_buf t;
    pc_buf_init(&t, CAT_BINFO_MAX_SIZE);
    assert_int_equal(cat_binfo_format(&b, &t), PC_OK);
    put_obj(id, "backup.info", t.data, t.len);
    pc_buf_free(&t);
    cat_binfo_free(&b);
}

/* A manifest listing the walker's files and parts, as `pgcask backup` writes it. */
static void put_manifest(const bk_local *l, const char *id, const char *type, const char *parent)
{
    pc_buf mf;
    pc_buf_init(&mf, PC_BUF_NOCAP);
    pc_sink *s;
    assert_int_equal(pc_sink_mem_new(&mf, &s), PC_OK);
    assert_int_equal(cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, s, &s), PC_OK);
    cat_mf_header h = {.backup_id = id, .type = type, .parent_id = parent, .server = "pg1",
                       .system_id = SYSID, .pg_version = 150004, .timeline = 1,
                       .compression = "zstd", .created_at = 1772366400000000};
    cat_mfw *w;
    assert_int_equal(cat_mfw_new(s, &h, &w), PC_OK);
    for (size_t i = 0; i < bk_local_nparts(l); i++) {
        const bk_part *p = bk_local_part(l, i);
        cat_mf_archive a = {p->name, p->tablespace, p->size, p->raw_size, p->sha256};
        assert_int_equal(cat_mfw_archive(w, &a), PC_OK);
    }
    for (size_t i = 0; i < cat_mf_index_count(bk_local_files(l)); i++)
        assert_int_equal(cat_mfw_file(w, cat_mf_index_at(bk_local_files(l), i)), PC_OK);
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
    put_obj(id, CAT_MF_NAME, mf.data, mf.len);
    pc_buf_free(&mf);
}

static void test_parent_find(void **state)
{
    (void)state;
    uint64_t sys = strtoull(SYSID, NULL, 10);
    time_t old = time(NULL) - 3600;
    set_mtime("pgdata/PG_VERSION", old);
    run_opts fo = {.id = FULL_ID, .parent_start = (int64_t)time(NULL)};
    bk_local *full = run_local(&fo);
    put_manifest(full, FULL_ID, "full", NULL);
    put_info(FULL_ID, CAT_BINFO_DONE, sys, fo.parent_start);
    run_opts io = {.id = INCR_ID, .parent = bk_local_files(full), .parent_start = fo.parent_start};
    bk_local *incr = run_local(&io);
    put_manifest(incr, INCR_ID, "incr", FULL_ID);
    put_info(INCR_ID, CAT_BINFO_DONE, sys, fo.parent_start + 10);
    /* a later barman backup and a failed one are passed over */
    put_info("20260301T120000", CAT_BINFO_DONE, sys, fo.parent_start + 20);
    put_info("20260301T130000", CAT_BINFO_FAILED, sys, fo.parent_start + 30);

    bk_parent p;
    if (bk_parent_find(W.r, "pg1", CAT_BACKUP_INCR, sys, 1, 150004, 2, &p) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_string_equal(p.id, INCR_ID);
    assert_int_equal(p.type, CAT_BACKUP_INCR);
    assert_int_equal(p.nholders, 2);
    assert_int_equal(p.start, fo.parent_start + 10);
    assert_int_equal(p.end_lsn, 0x3000000);
    assert_string_equal(cat_mf_index_find(p.files, NULL, "PG_VERSION")->backup_id, FULL_ID);
    bk_parent_free(&p);

    assert_int_equal(bk_parent_find(W.r, "pg1", CAT_BACKUP_DIFF, sys, 1, 150004, 2, &p), PC_OK);
    assert_string_equal(p.id, FULL_ID);
    assert_int_equal(p.nholders, 1);
    bk_parent_free(&p);

    /* nothing of this cluster, or of this timeline */
    assert_int_equal(bk_parent_find(W.r, "pg1", CAT_BACKUP_INCR, sys + 1, 1, 150004, 2, &p),
                     PC_E_NOT_FOUND);
    char *msg = pc_asprintf("no pgcask backup of this server (system identifier %llu, timeline "
                            "1) is DONE in the repository",
                            (unsigned long long)(sys + 1));
    tu_assert_err(PC_E_NOT_FOUND, msg);
    free(msg);
    assert_int_equal(bk_parent_find(W.r, "pg1", CAT_BACKUP_DIFF, sys, 2, 150004, 2, &p),
                     PC_E_NOT_FOUND);

    /* an archive of the full backup is gone: the incremental cannot build on the chain */
    char *path = pc_asprintf("%s/repo/pg1/base/%s/data.tar.zst", W.dir, FULL_ID);
    assert_int_equal(unlink(path), 0);
    free(path);
    assert_int_equal(bk_parent_find(W.r, "pg1", CAT_BACKUP_INCR, sys, 1, 150004, 2, &p),
                     PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "archive data.tar.zst of backup " FULL_ID ", which holds "
                                  "files of backup " INCR_ID ", is missing");
    /* the full backup itself is gone */
    path = pc_asprintf("%s/repo/pg1/base/%s/backup.info", W.dir, FULL_ID);
    assert_int_equal(unlink(path), 0);
    free(path);
    assert_int_equal(bk_parent_find(W.r, "pg1", CAT_BACKUP_INCR, sys, 1, 150004, 2, &p),
                     PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "backup " FULL_ID ", which holds files of backup " INCR_ID
                                  ", is missing in the repository");
    bk_local_free(incr);
    bk_local_free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_unchanged),
        cmocka_unit_test(test_pick),
        cmocka_unit_test_setup_teardown(test_full_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isolate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_pgdata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_find, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
