/*
 * rst_restore end to end against an in-process file:// repository: backups
 * built here with the tar writer and the codecs, restored in parallel, and
 * every failure a damaged or hostile backup must produce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/tar.h"
#include "compress/compress.h"
#include "restore/rst_int.h"
#include "testutil.h"

#define ID "20260301T120000"

typedef struct member {
    char type; /* 'f' 'd' 'l' */
    const char *name;
    const char *data; /* content, or link target */
} member;

#define END                                                                                        \
    {                                                                                              \
        0, NULL, NULL                                                                              \
    }

typedef struct world {
    char *dir;  /* scratch */
    char *repo; /* file:// URL */
    char *dest;
    char *ts; /* a tablespace location */
    pc_cfg *cfg;
    repo *r;
} world;

static world W;

static int setup(void **state)
{
    W.dir = tu_mkdtemp();
    W.repo = pc_asprintf("file://%s/repo", W.dir);
    W.dest = pc_asprintf("%s/restored/pgdata", W.dir);
    W.ts = pc_asprintf("%s/ts-new", W.dir);
    assert_int_equal(pc_cfg_new(&W.cfg), PC_OK);
    assert_int_equal(pc_cfg_set(W.cfg, "repo", W.repo, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(W.cfg, "server", "pg1", PC_CFG_SRC_FLAG), PC_OK);
    char *rd = pc_asprintf("%s/repo", W.dir);
    assert_int_equal(pc_mkdirs(rd, 0700), PC_OK);
    free(rd);
    assert_int_equal(repo_open_cfg(W.cfg, &W.r), PC_OK);
    pc_log_set_level(PC_LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    repo_free(W.r);
    pc_cfg_free(W.cfg);
    tu_rmdir(W.dir);
    free(W.repo);
    free(W.dest);
    free(W.ts);
    return 0;
}

/* Start each test from an empty repository and no restore. */
static int fresh(void **state)
{
    char *p = pc_asprintf("%s/repo/pg1", W.dir);
    assert_int_equal(pc_remove_tree(p), PC_OK);
    free(p);
    p = pc_asprintf("%s/restored", W.dir);
    assert_int_equal(pc_remove_tree(p), PC_OK);
    free(p);
    assert_int_equal(pc_remove_tree(W.ts), PC_OK);
    return 0;
}

static void tar_of(const member *m, cmp_codec c, pc_buf *out)
{
    pc_buf_init(out, PC_BUF_NOCAP);
    pc_sink *s;
    assert_int_equal(pc_sink_mem_new(out, &s), PC_OK);
    if (c != CMP_NONE)
        assert_int_equal(cmp_compress_new(c, CMP_LEVEL_DEFAULT, 1, s, &s), PC_OK);
    pc_tarw *w;
    assert_int_equal(pc_tarw_new(s, &w), PC_OK);
    for (; m->name; m++) {
        switch (m->type) {
        case 'd':
            assert_int_equal(pc_tarw_add_dir(w, m->name, 0700, 1700000000), PC_OK);
            break;
        case 'l':
            assert_int_equal(pc_tarw_add_symlink(w, m->name, m->data, 1700000000), PC_OK);
            break;
        case 'f': {
            size_t n = strlen(m->data);
            assert_int_equal(pc_tarw_file_begin(w, m->name, n, 0600, 1700000000), PC_OK);
            assert_int_equal(pc_tarw_file_write(w, m->data, n), PC_OK);
            assert_int_equal(pc_tarw_file_end(w), PC_OK);
            break;
        }
        default:
            fail();
        }
    }
    assert_int_equal(pc_tarw_finish(w), PC_OK);
    pc_tarw_free(w);
}

static void put(const char *file, const void *data, size_t len)
{
    char *key = pc_asprintf("pg1/base/" ID "/%s", file);
    assert_int_equal(repo_put(W.r, key, data, len, NULL), PC_OK);
    free(key);
}

static void put_tar(const char *file, const member *m)
{
    size_t stem;
    pc_buf b;
    tar_of(m, cmp_codec_from_name(file, &stem), &b);
    put(file, b.data, b.len);
    pc_buf_free(&b);
}

static void put_info(const char *status, const char *tablespaces)
{
    char *text = pc_asprintf("backup_label='START WAL LOCATION: 0/2000028'\n"
                             "begin_wal=000000010000000000000002\n"
                             "end_time=2026-03-01 12:01:00+00:00\n"
                             "end_xlog=0/2000100\n"
                             "status=%s\n"
                             "tablespaces=%s\n"
                             "timeline=1\n"
                             "version=150004\n",
                             status, tablespaces);
    put("backup.info", text, strlen(text));
    free(text);
}

static bool W_verify_sha256; /* rst_opts.verify_sha256 of restore() */

static pc_status restore(const char *backup, int jobs, const char *const *ts, size_t nts,
                         rst_result *res)
{
    rst_opts o = {.backup = backup,
                  .dest = W.dest,
                  .jobs = jobs,
                  .tablespaces = ts,
                  .ntablespaces = nts,
                  .verify_sha256 = W_verify_sha256};
    pc_err_clear();
    return rst_restore(W.cfg, &o, res);
}

static char *dest_file(const char *rel)
{
    char *p = pc_path_join(W.dest, rel);
    char *c = tu_read(p, NULL);
    free(p);
    return c;
}

static void assert_dest_file(const char *rel, const char *want)
{
    char *got = dest_file(rel);
    if (!got)
        fail_msg("%s is missing", rel);
    assert_string_equal(got, want);
    free(got);
}

/* ---- barman-written backups: no manifest ---- */

static const member data_main[] = {
    {'d', ".", NULL},
    {'d', "base", NULL},
    {'d', "base/1", NULL},
    {'f', "base/1/1259", "pg_class"},
    {'f', "PG_VERSION", "15\n"},
    {'f', "backup_label", "START WAL LOCATION: 0/2000028\n"},
    {'d', "pg_tblspc", NULL},
    {'l', "base/1/alias", "1259"},
    {'f', "postgresql.auto.conf", "work_mem = '8MB'\n"},
    END,
};

static const member data_part1[] = {
    {'f', "base/1/2608", "pg_depend"},
    {'f', "global/pg_control", "control"},
    {'f', "base/5/empty", ""},
    END,
};

static const member ts_main[] = {
    {'d', ".", NULL},
    {'d', "PG_15_202209061", NULL},
    {'d', "PG_15_202209061/5", NULL},
    {'f', "PG_15_202209061/5/16386", "in the tablespace"},
    END,
};

static void barman_backup(const char *ext)
{
    char name[64];
    put_info("DONE", "[('ts1', 16385, '/nonexistent/original/ts1')]");
    snprintf(name, sizeof name, "data.tar%s", ext);
    put_tar(name, data_main);
    snprintf(name, sizeof name, "data_0001.tar%s", ext);
    put_tar(name, data_part1);
    snprintf(name, sizeof name, "16385.tar%s", ext);
    put_tar(name, ts_main);
}

static void check_barman_restore(void)
{
    assert_dest_file("base/1/1259", "pg_class");
    assert_dest_file("base/1/2608", "pg_depend");
    assert_dest_file("global/pg_control", "control");
    assert_dest_file("base/5/empty", "");
    assert_dest_file("PG_VERSION", "15\n");
    assert_dest_file("pg_tblspc/16385/PG_15_202209061/5/16386", "in the tablespace");
    char *p = pc_path_join(W.dest, "base/1/alias");
    char link[256];
    ssize_t n = readlink(p, link, sizeof link - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, "1259");
    free(p);
    p = pc_path_join(W.dest, "pg_tblspc/16385");
    n = readlink(p, link, sizeof link - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_string_equal(link, W.ts);
    free(p);
    struct stat sb;
    assert_int_equal(stat(W.dest, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    p = pc_path_join(W.dest, "pg_wal");
    assert_true(pc_is_dir(p));
    free(p);
    p = pc_path_join(W.dest, "base/1/1259");
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mtime, 1700000000);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(p);
}

static void test_barman_backups(void **state)
{
    static const char *const exts[] = {"", ".gz", ".bz2", ".zst", ".lz4", ".xz", ".snappy"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        fresh(state);
        barman_backup(exts[i]);
        char *rule = pc_asprintf("ts1:%s", W.ts);
        const char *rules[] = {rule};
        rst_result res;
        pc_status st = restore(i % 2 ? ID : "latest", (int)(i % 4) + 1, rules, 1, &res);
        if (st)
            fail_msg("%s: %s", exts[i], pc_err_get()->message);
        free(rule);
        assert_string_equal(res.backup_id, ID);
        assert_int_equal(res.archives, 3);
        assert_int_equal(res.files, 8);
        assert_false(res.verified);
        check_barman_restore();
    }
}

static void test_bad_requests(void **state)
{
    fresh(state);
    barman_backup(".gz");
    char *rule = pc_asprintf("ts1:%s", W.ts);
    const char *rules[] = {rule};

    assert_int_equal(restore("20990101T000000", 2, rules, 1, NULL), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "backup \"20990101T000000\" of server \"pg1\" not found (no "
                                  "pg1/base/20990101T000000/backup.info)");
    assert_false(pc_path_exists(W.dest));
    assert_int_equal(restore("nosuchname", 2, rules, 1, NULL), PC_E_NOT_FOUND);

    const char *wrong[] = {"tsX:/tmp/x"};
    assert_int_equal(restore(ID, 2, wrong, 1, NULL), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "backup \"" ID "\" has no tablespace \"tsX\"");

    char *inside = pc_asprintf("ts1:%s/sub", W.dest);
    const char *overlap[] = {inside};
    assert_int_equal(restore(ID, 2, overlap, 1, NULL), PC_E_USAGE);
    free(inside);

    /* a non-empty destination, and a non-empty tablespace location: nothing touched */
    assert_int_equal(pc_mkdirs(W.dest, 0755), PC_OK);
    char *keep = pc_path_join(W.dest, "keep");
    tu_write(keep, "mine");
    assert_int_equal(restore(ID, 2, rules, 1, NULL), PC_E_NOT_EMPTY);
    char *msg = pc_asprintf("destination \"%s\" already exists and is not empty", W.dest);
    tu_assert_err(PC_E_NOT_EMPTY, msg);
    free(msg);
    assert_int_equal(tu_count_entries(W.dest), 1);
    unlink(keep);
    free(keep);
    assert_int_equal(pc_mkdirs(W.ts, 0700), PC_OK);
    keep = pc_path_join(W.ts, "keep");
    tu_write(keep, "mine");
    assert_int_equal(restore(ID, 2, rules, 1, NULL), PC_E_NOT_EMPTY);
    assert_int_equal(tu_count_entries(W.dest), 0);
    unlink(keep);
    free(keep);

    /* only DONE backups are restored */
    put_info("FAILED", "[('ts1', 16385, '/nonexistent/original/ts1')]");
    assert_int_equal(restore(ID, 2, rules, 1, NULL), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "backup \"" ID "\" of server \"pg1\" has status FAILED: only "
                                  "DONE backups can be restored");
    assert_int_equal(restore("latest", 2, rules, 1, NULL), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "no DONE backup of server \"pg1\" (latest)");

    /* a tablespace without its archive */
    put_info("DONE", "[('ts1', 16385, '/x'), ('ts2', 16390, '/y')]");
    const char *two[] = {rule, "ts2:/nonexistent/ts2"};
    assert_int_equal(restore(ID, 2, two, 2, NULL), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND,
                  "backup \"" ID "\" has no archive of tablespace \"ts2\" (16390.tar)");
    free(rule);
}

/* ---- hostile archives ---- */

static void hostile(const member *m, const char *expect)
{
    fresh(NULL);
    put_info("DONE", "None");
    put_tar("data.tar", m);
    char *outside = pc_asprintf("%s/restored", W.dir);
    assert_int_equal(restore(ID, 2, NULL, 0, NULL), PC_E_CORRUPT);
    if (strstr(pc_err_get()->message, expect) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", expect, pc_err_get()->message);
    /* the partial restore is reported as such */
    assert_non_null(strstr(pc_err_get()->detail, "The restore is incomplete"));
    /* nothing next to the destination: it is the only entry of its parent */
    assert_int_equal(tu_count_entries(outside), 1);
    char *x = pc_asprintf("%s/x", W.dir);
    assert_false(pc_path_exists(x));
    free(x);
    free(outside);
}

static void test_hostile(void **state)
{
    const member dotdot[] = {{'f', "base/../../x", "evil"}, END};
    hostile(dotdot, "unsafe tar member name \"base/../../x\": \"..\" component");
    const member abs[] = {{'l', "evil", "/etc"}, END};
    hostile(abs, "refusing tar member \"evil\": symbolic link pointing outside the restore "
                 "directory");
    const member up[] = {{'l', "evil", "../x"}, END};
    hostile(up, "symbolic link pointing outside the restore directory");
    /* a link to "." then a link below it climbing out: the parent is a link, refused */
    const member chain[] = {{'d', "a", NULL}, {'l', "b", "."}, {'l', "b/b/l", "../../x"}, END};
    hostile(chain, "refusing symbolic link \"b/b/l\": \"b\" above it is not a directory");
    const member through[] = {{'l', "a", "."}, {'f', "a/x", "data"}, END};
    hostile(through, "clashes with another member");
    const member twice[] = {{'f', "f", "one"}, {'f', "f", "two"}, END};
    hostile(twice, "member \"f\" clashes with another member of the backup");
    const member below[] = {{'f', "pg_tblspc/16385/x", "y"}, END};
    fresh(NULL);
    put_info("DONE", "[('ts1', 16385, '/nonexistent/ts1')]");
    put_tar("data.tar", below);
    put_tar("16385.tar", ts_main);
    char *rule = pc_asprintf("ts1:%s", W.ts);
    const char *rules[] = {rule};
    assert_int_equal(restore(ID, 2, rules, 1, NULL), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "member below the link of a tablespace"));
    free(rule);
}

/* Failures on the file-writing thread while the decompressing one is still sending (and after). */
static void test_handoff_failures(void **state)
{
    size_t big = 6u << 20;
    char *data = malloc(big + 1);
    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + (i * 7919) % 23);
    data[big] = '\0';
    const member early[] = {{'f', "a/../../x", "evil"}, {'f', "big", data}, END};
    const member late[] = {{'f', "big", data}, {'f', "big2", data}, {'l', "evil", "/etc"}, END};
    const member *cases[] = {early, late};
    const char *files[] = {"data.tar", "data.tar.gz"};
    for (size_t c = 0; c < 2; c++) {
        for (size_t f = 0; f < 2; f++) {
            fresh(state);
            put_info("DONE", "None");
            put_tar(files[f], cases[c]);
            assert_int_equal(restore(ID, 1, NULL, 0, NULL), PC_E_CORRUPT);
            assert_non_null(
                strstr(pc_err_get()->message, c == 0 ? "\"..\" component" : "pointing outside"));
        }
    }
    /* and the big files come through intact when nothing is wrong */
    fresh(state);
    put_info("DONE", "None");
    const member fine[] = {
        {'f', "backup_label", "x"}, {'f', "big", data}, {'f', "big2", data}, END};
    put_tar("data.tar.gz", fine);
    if (restore(ID, 1, NULL, 0, NULL) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    char *got = dest_file("big2");
    assert_non_null(got);
    assert_true(strcmp(got, data) == 0);
    free(got);
    free(data);
}

static void test_corrupt_archive(void **state)
{
    fresh(state);
    put_info("DONE", "None");
    pc_buf b;
    tar_of(data_main, CMP_GZIP, &b);
    /* truncated: the codec notices */
    put("data.tar.gz", b.data, b.len / 2);
    assert_int_equal(restore(ID, 2, NULL, 0, NULL), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "archive \"pg1/base/" ID "/data.tar.gz\""));
    pc_buf_free(&b);

    /* a flipped byte inside a tar header: the checksum notices */
    fresh(state);
    put_info("DONE", "None");
    tar_of(data_main, CMP_NONE, &b);
    b.data[600] ^= 0x55;
    put("data.tar", b.data, b.len);
    assert_int_equal(restore(ID, 2, NULL, 0, NULL), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "archive \"pg1/base/" ID "/data.tar\""));
    pc_buf_free(&b);

    /* the same part stored twice */
    fresh(state);
    put_info("DONE", "None");
    put_tar("data.tar", data_main);
    put_tar("data.tar.gz", data_main);
    assert_int_equal(restore(ID, 2, NULL, 0, NULL), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT,
                  "backup \"" ID "\" stores \"data.tar\" twice: data.tar and data.tar.gz");
}

/* ---- pgcask backups: verified against the manifest ---- */

typedef struct mf_spec {
    const char *drop;   /* a member left out of the manifest */
    const char *extra;  /* a member only the manifest has */
    const char *badsum; /* a member with a wrong digest */
    bool bad_archive;   /* a wrong archive digest */
    bool crc;           /* files carry a CRC-32C too */
    const char *badcrc; /* a member with a wrong CRC-32C */
} mf_spec;

static void sha_hex(const void *d, size_t n, char *hex)
{
    unsigned char sum[PC_SHA256_LEN];
    pc_sha256(d, n, sum);
    pc_hex(sum, sizeof sum, hex);
}

static void mf_members(cat_mfw *w, const member *m, const char *ts, const char *archive,
                       const mf_spec *sp)
{
    for (; m->name; m++) {
        char norm[256];
        assert_int_equal(pc_tar_path_check(m->name, norm, sizeof norm), PC_OK);
        if (strcmp(norm, ".") == 0 || (sp->drop && strcmp(norm, sp->drop) == 0))
            continue;
        char hex[65];
        cat_mf_file f = {.path = norm,
                         .tablespace = ts,
                         .type = m->type,
                         .mtime = 1700000000,
                         .mode = 0600,
                         .backup_id = ID};
        if (m->type == 'f') {
            sha_hex(m->data, strlen(m->data), hex);
            if (sp->badsum && strcmp(norm, sp->badsum) == 0)
                hex[0] = hex[0] == '0' ? '1' : '0';
            f.size = strlen(m->data);
            f.sha256 = hex;
            f.archive = archive;
            f.has_crc32c = sp->crc;
            f.crc32c = pc_crc32c(0, m->data, f.size);
            if (sp->badcrc && strcmp(norm, sp->badcrc) == 0)
                f.crc32c ^= 0x100;
        } else if (m->type == 'l') {
            f.target = m->data;
        }
        assert_int_equal(cat_mfw_file(w, &f), PC_OK);
    }
}

static void pgcask_backup(const mf_spec *sp)
{
    put_info("DONE", "[('ts1', 16385, '/nonexistent/original/ts1')]");
    struct {
        const char *name, *ts;
        const member *m;
    } arch[] = {{"data.tar.zst", NULL, data_main},
                {"data_0001.tar.zst", NULL, data_part1},
                {"16385.tar.zst", "16385", ts_main}};
    pc_buf mf;
    pc_buf_init(&mf, PC_BUF_NOCAP);
    pc_sink *s;
    assert_int_equal(pc_sink_mem_new(&mf, &s), PC_OK);
    assert_int_equal(cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, s, &s), PC_OK);
    cat_mf_header h = {.backup_id = ID,
                       .type = "full",
                       .server = "pg1",
                       .system_id = "42",
                       .pg_version = 150004,
                       .timeline = 1,
                       .compression = "zstd",
                       .created_at = 1772366400000000};
    cat_mfw *w;
    assert_int_equal(cat_mfw_new(s, &h, &w), PC_OK);
    for (size_t i = 0; i < 3; i++) {
        pc_buf raw, z;
        tar_of(arch[i].m, CMP_NONE, &raw);
        tar_of(arch[i].m, CMP_ZSTD, &z);
        char hex[65];
        sha_hex(z.data, z.len, hex);
        if (sp->bad_archive && i == 1)
            hex[5] = hex[5] == 'a' ? 'b' : 'a';
        cat_mf_archive a = {.name = arch[i].name,
                            .tablespace = arch[i].ts,
                            .size = z.len,
                            .raw_size = raw.len,
                            .sha256 = hex};
        assert_int_equal(cat_mfw_archive(w, &a), PC_OK);
        put(arch[i].name, z.data, z.len);
        pc_buf_free(&raw);
        pc_buf_free(&z);
    }
    for (size_t i = 0; i < 3; i++)
        mf_members(w, arch[i].m, arch[i].ts, arch[i].name, sp);
    if (sp->extra) {
        cat_mf_file f = {.path = sp->extra, .type = 'd', .mode = 0700, .backup_id = ID};
        assert_int_equal(cat_mfw_file(w, &f), PC_OK);
    }
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
    put(CAT_MF_NAME, mf.data, mf.len);
    pc_buf_free(&mf);
}

static pc_status restore_pgcask(const mf_spec *sp, rst_result *res)
{
    fresh(NULL);
    pgcask_backup(sp);
    char *rule = pc_asprintf("ts1:%s", W.ts);
    const char *rules[] = {rule};
    pc_status st = restore(ID, 3, rules, 1, res);
    free(rule);
    return st;
}

static void test_manifest(void **state)
{
    rst_result res;
    mf_spec ok = {0};
    if (restore_pgcask(&ok, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_true(res.verified);
    assert_int_equal(res.files, 8);
    check_barman_restore();

    mf_spec badsum = {.badsum = "global/pg_control"};
    assert_int_equal(restore_pgcask(&badsum, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "file \"global/pg_control\" from archive \"data_0001.tar.zst\" "
                                "does not match the manifest: SHA-256 differs");

    mf_spec drop = {.drop = "base/1/2608"};
    assert_int_equal(restore_pgcask(&drop, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "archive \"data_0001.tar.zst\": member \"base/1/2608\" is not "
                                "in the manifest");

    mf_spec extra = {.extra = "base/99"};
    assert_int_equal(restore_pgcask(&extra, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "backup \"" ID "\": 1 member of the manifest is missing from "
                                "its archives, first \"base/99\"");

    /* files with a CRC-32C are checked with it, unless --verify-sha256 */
    mf_spec crc = {.crc = true};
    if (restore_pgcask(&crc, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_true(res.verified);
    check_barman_restore();
    mf_spec badcrc = {.crc = true, .badcrc = "base/1/2608"};
    assert_int_equal(restore_pgcask(&badcrc, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "file \"base/1/2608\" from archive \"data_0001.tar.zst\" "
                                "does not match the manifest: CRC-32C differs");
    W_verify_sha256 = true;
    if (restore_pgcask(&badcrc, &res) != PC_OK) /* the SHA-256 is right */
        fail_msg("%s", pc_err_get()->message);
    mf_spec crc_badsum = {.crc = true, .badsum = "global/pg_control"};
    assert_int_equal(restore_pgcask(&crc_badsum, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "file \"global/pg_control\" from archive \"data_0001.tar.zst\" "
                                "does not match the manifest: SHA-256 differs");
    W_verify_sha256 = false;

    mf_spec bad_archive = {.bad_archive = true};
    assert_int_equal(restore_pgcask(&bad_archive, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "archive \"pg1/base/" ID "/data_0001.tar.zst\" does not match "
                                "the manifest: SHA-256 of the stored object differs");

    /* an archive the manifest does not know */
    fresh(state);
    pgcask_backup(&ok);
    put_tar("data_0002.tar", data_part1);
    char *rule = pc_asprintf("ts1:%s", W.ts);
    const char *rules[] = {rule};
    assert_int_equal(restore(ID, 2, rules, 1, NULL), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "backup \"" ID "\": archive \"data_0002.tar\" is not in its "
                                "manifest");
    free(rule);
}

/* ---- tablespace_map and recovery configuration ---- */

static void test_tablespace_map_and_recovery(void **state)
{
    fresh(state);
    put_info("DONE", "[('ts1', 16385, '/old/ts1')]");
    const member data[] = {
        {'d', "base", NULL},
        {'f', "backup_label", "START WAL LOCATION: 0/2000028\n"},
        {'f', "tablespace_map", "16385 /old/ts1\n"},
        {'l', "pg_tblspc/16385", "/old/ts1"},
        {'f', "postgresql.auto.conf", "work_mem = '8MB'\nrestore_command = 'old'\n"},
        END,
    };
    put_tar("data.tar.lz4", data);
    put_tar("16385.tar.lz4", ts_main);
    /* a location with a backslash and a newline is escaped as PostgreSQL does */
    char *odd = pc_asprintf("%s/t\\s\nnew", W.dir);
    char *rule = pc_asprintf("16385:%s", odd);
    const char *rules[] = {rule};
    rst_opts o = {.backup = "auto",
                  .dest = W.dest,
                  .jobs = 2,
                  .tablespaces = rules,
                  .ntablespaces = 1,
                  .recovery_config = true,
                  .target = {.time = "2026-03-02 00:00:00", .action = "promote"}};
    pc_err_clear();
    if (rst_restore(W.cfg, &o, NULL) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    char *want = pc_asprintf("16385 %s/t\\\\s\\\nnew\n", W.dir);
    assert_dest_file("tablespace_map", want);
    free(want);
    char *conf = dest_file("postgresql.auto.conf");
    assert_non_null(conf);
    assert_non_null(strstr(conf, "work_mem = '8MB'\n# replaced by pgcask restore: "
                                 "restore_command = 'old'\n# recovery settings written by "
                                 "pgcask restore\nrestore_command = '"));
    assert_non_null(strstr(conf, " wal-restore --repo file://"));
    assert_non_null(strstr(conf, "--server pg1 %f %p'\n"
                                 "recovery_target_time = '2026-03-02 00:00:00+00:00'\n"
                                 "recovery_target_action = 'promote'\n"));
    free(conf);
    char *sig = pc_path_join(W.dest, "recovery.signal");
    assert_true(pc_path_exists(sig));
    free(sig);
    char *ts_file = pc_path_join(odd, "PG_15_202209061/5/16386");
    assert_true(pc_path_exists(ts_file));
    free(ts_file);
    assert_int_equal(pc_remove_tree(odd), PC_OK);

    /* auto with a target before every backup */
    char *p = pc_asprintf("%s/restored", W.dir);
    assert_int_equal(pc_remove_tree(p), PC_OK);
    free(p);
    o.target.time = "2026-03-01 12:00:59";
    o.recovery_config = false;
    o.target.action = NULL;
    assert_int_equal(rst_restore(W.cfg, &o, NULL), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "no DONE backup of server \"pg1\" ending at or before "
                                  "2026-03-01 12:00:59+00:00 (auto)");
    free(rule);
    free(odd);
}

/* ---- many archives, few workers ---- */

static void test_many_parts(void **state)
{
    fresh(state);
    put_info("DONE", "None");
    enum { PARTS = 24, FILES = 40 };
    char names[PARTS][FILES][32];
    char bodies[PARTS][FILES][64];
    for (int p = 0; p < PARTS; p++) {
        member m[FILES + 1];
        for (int f = 0; f < FILES; f++) {
            snprintf(names[p][f], sizeof names[p][f], "base/%d/%d", f % 3, p * FILES + f);
            snprintf(bodies[p][f], sizeof bodies[p][f], "part %d file %d", p, f);
            m[f] = (member){'f', names[p][f], bodies[p][f]};
        }
        m[FILES] = (member)END;
        char file[32];
        if (p == 0)
            snprintf(file, sizeof file, "data.tar.gz");
        else
            snprintf(file, sizeof file, "data_%04d.tar.%s", p, p % 2 ? "zst" : "gz");
        put_tar(file, m);
    }
    const member label[] = {{'f', "backup_label", "x"}, END};
    put_tar("data_0100.tar", label);
    rst_result res;
    if (restore(ID, 4, NULL, 0, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_int_equal(res.archives, PARTS + 1);
    assert_int_equal(res.files, PARTS * FILES + 1);
    for (int p = 0; p < PARTS; p++)
        for (int f = 0; f < FILES; f++)
            assert_dest_file(names[p][f], bodies[p][f]);
}

/* ---- chains: differential and incremental backups ---- */

#define F_ID "20260301T100000"
#define I_ID "20260301T110000"

/* One file of a chain backup's manifest: where its bytes are. */
typedef struct cfile {
    const char *ts; /* NULL: PGDATA */
    const char *path;
    const char *data;
    const char *backup, *archive;
} cfile;

typedef struct carch {
    const char *name, *ts;
    const member *m;
} carch;

static void put_obj(const char *id, const char *file, const void *data, size_t len)
{
    char *key = pc_asprintf("pg1/base/%s/%s", id, file);
    assert_int_equal(repo_put(W.r, key, data, len, NULL), PC_OK);
    free(key);
}

static void chain_backup(const char *id, const char *type, const char *parent, const carch *arch,
                         size_t narch, const member *dirs, const cfile *files, size_t nfiles)
{
    char *info = pc_asprintf("backup_label='START WAL LOCATION: 0/2000028'\n"
                             "begin_wal=000000010000000000000002\n"
                             "end_time=2026-03-01 12:01:00+00:00\n"
                             "end_xlog=0/2000100\n"
                             "status=DONE\n"
                             "tablespaces=[('ts1', 16385, '/nonexistent/original/ts1')]\n"
                             "timeline=1\n"
                             "version=150004\n");
    put_obj(id, "backup.info", info, strlen(info));
    free(info);
    pc_buf mf;
    pc_buf_init(&mf, PC_BUF_NOCAP);
    pc_sink *s;
    assert_int_equal(pc_sink_mem_new(&mf, &s), PC_OK);
    assert_int_equal(cmp_compress_new(CMP_ZSTD, CMP_LEVEL_DEFAULT, 1, s, &s), PC_OK);
    cat_mf_header h = {.backup_id = id, .type = type, .parent_id = parent, .server = "pg1",
                       .system_id = "42", .pg_version = 150004, .timeline = 1,
                       .compression = "zstd", .created_at = 1772366400000000};
    cat_mfw *w;
    assert_int_equal(cat_mfw_new(s, &h, &w), PC_OK);
    for (size_t i = 0; i < narch; i++) {
        pc_buf raw, z;
        tar_of(arch[i].m, CMP_NONE, &raw);
        tar_of(arch[i].m, CMP_ZSTD, &z);
        char hex[65];
        sha_hex(z.data, z.len, hex);
        cat_mf_archive a = {.name = arch[i].name, .tablespace = arch[i].ts, .size = z.len,
                            .raw_size = raw.len, .sha256 = hex};
        assert_int_equal(cat_mfw_archive(w, &a), PC_OK);
        put_obj(id, arch[i].name, z.data, z.len);
        pc_buf_free(&raw);
        pc_buf_free(&z);
    }
    for (const member *d = dirs; d->name; d++) {
        cat_mf_file f = {.path = d->name, .tablespace = d->data, .type = 'd', .mode = 0700,
                         .mtime = 1700000000, .backup_id = id};
        assert_int_equal(cat_mfw_file(w, &f), PC_OK);
    }
    for (size_t i = 0; i < nfiles; i++) {
        char hex[65];
        sha_hex(files[i].data, strlen(files[i].data), hex);
        cat_mf_file f = {.path = files[i].path, .tablespace = files[i].ts, .type = 'f',
                         .size = strlen(files[i].data), .mtime = 1700000000, .mode = 0600,
                         .sha256 = hex, .backup_id = files[i].backup, .archive = files[i].archive};
        assert_int_equal(cat_mfw_file(w, &f), PC_OK);
    }
    assert_int_equal(cat_mfw_finish(w), PC_OK);
    cat_mfw_free(w);
    put_obj(id, CAT_MF_NAME, mf.data, mf.len);
    pc_buf_free(&mf);
}

/* directories of the manifests: name, and the tablespace in the data field */
static const member chain_dirs[] = {
    {'d', "base", NULL}, {'d', "base/1", NULL}, {'d', "global", NULL},
    {'d', "PG_15_202209061", "16385"}, {'d', "PG_15_202209061/5", "16385"}, END,
};

/* F: a full backup. I: an incremental on F that changed 1259, added 3000, dropped 9999. */
static void chain(void)
{
    static const member f_data[] = {
        {'d', "base", NULL}, {'d', "base/1", NULL}, {'d', "global", NULL},
        {'f', "base/1/1259", "pg_class v1"}, {'f', "base/1/2608", "pg_depend"},
        {'f', "base/1/9999", "dropped later"}, {'f', "PG_VERSION", "15\n"},
        {'f', "global/pg_control", "control F"}, {'f', "backup_label", "label F"}, END,
    };
    static const member f_ts[] = {
        {'d', "PG_15_202209061", NULL}, {'d', "PG_15_202209061/5", NULL},
        {'f', "PG_15_202209061/5/16386", "in the tablespace"}, END,
    };
    const carch fa[] = {{"data.tar.zst", NULL, f_data}, {"16385.tar.zst", "16385", f_ts}};
    const cfile ff[] = {
        {NULL, "base/1/1259", "pg_class v1", F_ID, "data.tar.zst"},
        {NULL, "base/1/2608", "pg_depend", F_ID, "data.tar.zst"},
        {NULL, "base/1/9999", "dropped later", F_ID, "data.tar.zst"},
        {NULL, "PG_VERSION", "15\n", F_ID, "data.tar.zst"},
        {NULL, "global/pg_control", "control F", F_ID, "data.tar.zst"},
        {NULL, "backup_label", "label F", F_ID, "data.tar.zst"},
        {"16385", "PG_15_202209061/5/16386", "in the tablespace", F_ID, "16385.tar.zst"},
    };
    chain_backup(F_ID, "full", NULL, fa, 2, chain_dirs, ff, sizeof ff / sizeof ff[0]);

    static const member i_data[] = {
        {'d', "base", NULL}, {'d', "base/1", NULL}, {'d', "global", NULL},
        {'f', "base/1/1259", "pg_class v2, longer"}, {'f', "base/1/3000", "new table"},
        {'f', "global/pg_control", "control I"}, {'f', "backup_label", "label I"}, END,
    };
    static const member i_ts[] = {
        {'d', "PG_15_202209061", NULL}, {'d', "PG_15_202209061/5", NULL}, END,
    };
    const carch ia[] = {{"data-incr.tar.zst", NULL, i_data}, {"16385-incr.tar.zst", "16385", i_ts}};
    const cfile fi[] = {
        {NULL, "base/1/1259", "pg_class v2, longer", I_ID, "data-incr.tar.zst"},
        {NULL, "base/1/3000", "new table", I_ID, "data-incr.tar.zst"},
        {NULL, "base/1/2608", "pg_depend", F_ID, "data.tar.zst"},
        {NULL, "PG_VERSION", "15\n", F_ID, "data.tar.zst"},
        {NULL, "global/pg_control", "control I", I_ID, "data-incr.tar.zst"},
        {NULL, "backup_label", "label I", I_ID, "data-incr.tar.zst"},
        {"16385", "PG_15_202209061/5/16386", "in the tablespace", F_ID, "16385.tar.zst"},
    };
    chain_backup(I_ID, "incr", F_ID, ia, 2, chain_dirs, fi, sizeof fi / sizeof fi[0]);
}

static pc_status restore_opts(const char *backup, bool delta, rst_result *res)
{
    char *rule = pc_asprintf("ts1:%s", W.ts);
    const char *rules[] = {rule};
    rst_opts o = {.backup = backup, .dest = W.dest, .jobs = 3, .tablespaces = rules,
                  .ntablespaces = 1, .delta = delta};
    pc_err_clear();
    pc_status st = rst_restore(W.cfg, &o, res);
    free(rule);
    return st;
}

static void check_incr_files(void)
{
    assert_dest_file("base/1/1259", "pg_class v2, longer");
    assert_dest_file("base/1/3000", "new table");
    assert_dest_file("base/1/2608", "pg_depend");
    assert_dest_file("PG_VERSION", "15\n");
    assert_dest_file("global/pg_control", "control I");
    assert_dest_file("backup_label", "label I");
    char *gone = dest_file("base/1/9999");
    assert_null(gone);
    char *ts = pc_path_join(W.ts, "PG_15_202209061/5/16386");
    char *c = tu_read(ts, NULL);
    assert_non_null(c);
    assert_string_equal(c, "in the tablespace");
    free(c);
    free(ts);
}

static void test_chain(void **state)
{
    chain();
    rst_result res;
    if (restore_opts(I_ID, false, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    check_incr_files();
    assert_true(res.verified);
    assert_int_equal(res.chain, 2);
    assert_string_equal(res.type, "incr");
    assert_int_equal(res.archives, 4); /* both of I, and both of F */
    assert_int_equal(res.files, 7);
    assert_int_equal(res.stored_bytes, res.full_bytes);

    /* the full backup alone still restores as it was */
    fresh(state);
    chain();
    if (restore_opts(F_ID, false, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_dest_file("base/1/1259", "pg_class v1");
    assert_dest_file("base/1/9999", "dropped later");
    assert_int_equal(res.chain, 1);

    /* F is gone: the incremental is refused, naming it, before anything is written */
    fresh(state);
    chain();
    char *p = pc_asprintf("%s/repo/pg1/base/%s", W.dir, F_ID);
    assert_int_equal(pc_remove_tree(p), PC_OK);
    free(p);
    assert_int_equal(restore_opts(I_ID, false, &res), PC_E_NOT_FOUND);
    tu_assert_err(PC_E_NOT_FOUND, "backup \"" I_ID "\" (incr) needs backup \"" F_ID "\", which "
                                  "holds 3 of its files, and that backup is not in the "
                                  "repository");
    assert_false(pc_path_exists(W.dest));

    /* an archive of F that I needs is gone */
    fresh(state);
    chain();
    p = pc_asprintf("%s/repo/pg1/base/%s/16385.tar.zst", W.dir, F_ID);
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(restore_opts(I_ID, false, &res), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "backup \"" I_ID "\" takes \"PG_15_202209061/5/16386\" from "
                                "archive \"16385.tar.zst\" of backup \"" F_ID "\", which is "
                                "missing");
}

static void test_delta(void **state)
{
    chain();
    rst_result res;
    if (restore_opts(I_ID, false, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    /* damage: a changed file, a removed one, strays, a link, a missing tablespace file */
    char *p = pc_path_join(W.dest, "base/1/2608");
    tu_write(p, "pg_depenD");
    free(p);
    p = pc_path_join(W.dest, "base/1/3000");
    assert_int_equal(unlink(p), 0);
    free(p);
    p = pc_path_join(W.dest, "stray");
    tu_write(p, "not in the backup");
    free(p);
    p = pc_path_join(W.dest, "base/77/deep");
    assert_int_equal(pc_mkdirs(p, 0700), PC_OK);
    free(p);
    p = pc_path_join(W.dest, "base/1/link");
    assert_int_equal(symlink("/etc", p), 0);
    free(p);
    p = pc_path_join(W.ts, "PG_15_202209061/5/16386");
    assert_int_equal(unlink(p), 0);
    free(p);
    p = pc_path_join(W.ts, "not-ours");
    tu_write(p, "left alone");
    free(p);

    /* a live postmaster: refused */
    p = pc_path_join(W.dest, "postmaster.pid");
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    tu_write(p, pid);
    assert_int_equal(restore_opts(I_ID, true, &res), PC_E_BUSY);
    assert_non_null(strstr(pc_err_get()->message, "PostgreSQL is running in"));
    tu_write(p, "2147483646\n"); /* gone */
    free(p);
    /* without --delta the directory must be empty */
    assert_int_equal(restore_opts(I_ID, false, &res), PC_E_NOT_EMPTY);

    if (restore_opts(I_ID, true, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    check_incr_files();
    assert_true(res.delta);
    assert_true(res.verified);
    assert_int_equal(res.kept_files, 3); /* 1259, PG_VERSION, backup_label */
    assert_int_equal(res.files, 4);      /* 2608, 3000, 16386 and pg_control */
    assert_true(res.stored_bytes < res.full_bytes);
    assert_null(dest_file("stray"));
    assert_null(dest_file("postmaster.pid"));
    p = pc_path_join(W.dest, "base/77");
    assert_false(pc_path_exists(p));
    free(p);
    p = pc_path_join(W.dest, "base/1/link");
    assert_false(pc_path_exists(p));
    free(p);
    p = pc_path_join(W.ts, "not-ours");
    assert_true(pc_path_exists(p));
    free(p);

    /* again: nothing to do but pg_control (always rewritten) */
    if (restore_opts(I_ID, true, &res) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    check_incr_files();
    assert_int_equal(res.files, 1);
    assert_int_equal(res.kept_files, 6);

    /* not a data directory */
    p = pc_path_join(W.dest, "PG_VERSION");
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(restore_opts(I_ID, true, &res), PC_E_NOT_EMPTY);
    assert_non_null(strstr(pc_err_get()->message, "is not a PostgreSQL data directory"));

    /* a backup without a manifest cannot be compared */
    fresh(state);
    barman_backup(".gz");
    p = pc_path_join(W.dest, "PG_VERSION");
    assert_int_equal(pc_mkdirs(W.dest, 0700), PC_OK);
    tu_write(p, "15\n");
    free(p);
    assert_int_equal(restore_opts(ID, true, &res), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "--delta needs one"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_barman_backups, fresh),
        cmocka_unit_test_setup(test_bad_requests, fresh),
        cmocka_unit_test_setup(test_hostile, fresh),
        cmocka_unit_test_setup(test_handoff_failures, fresh),
        cmocka_unit_test_setup(test_corrupt_archive, fresh),
        cmocka_unit_test_setup(test_manifest, fresh),
        cmocka_unit_test_setup(test_tablespace_map_and_recovery, fresh),
        cmocka_unit_test_setup(test_many_parts, fresh),
        cmocka_unit_test_setup(test_chain, fresh),
        cmocka_unit_test_setup(test_delta, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
