/*
 * The backup without a server: the BASE_BACKUP message parser fed recorded
 * message sequences (good and malformed), the result-set parsers, the
 * server's backup_manifest check, archive part splitting into a file://
 * repository, the whole receiver on a synthesized PostgreSQL 15 stream,
 * and the backup.info mapping of BASE_BACKUP results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "archiver/backup.h"
#include "archiver/backup_int.h"
#include "archiver/basebackup.h"
#include "archiver/pq.h"
#include "catalog/backup_info.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/tar.h"

static char scratch[1024];

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    base = base && *base ? base : "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    snprintf(scratch, sizeof scratch, "%s/backup-XXXXXX", base);
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
    return pc_remove_tree(scratch) == PC_OK ? 0 : -1;
}

/* ==== the message parser ==== */

typedef struct rec {
    pc_buf log; /* one line per callback */
    pc_status fail_archive;
} rec;

static pc_status r_archive(void *ud, const char *name, const char *loc)
{
    rec *r = ud;
    pc_buf_printf(&r->log, "n %s %s\n", name, loc ? loc : "-");
    return r->fail_archive ? pc_err(r->fail_archive, "callback refuses") : PC_OK;
}

static pc_status r_data(void *ud, const void *d, size_t n)
{
    pc_buf_printf(&((rec *)ud)->log, "d %.*s\n", (int)n, (const char *)d);
    return PC_OK;
}

static pc_status r_progress(void *ud, uint64_t v)
{
    pc_buf_printf(&((rec *)ud)->log, "p %llu\n", (unsigned long long)v);
    return PC_OK;
}

static pc_status r_manifest(void *ud, const void *d, size_t n)
{
    pc_buf_printf(&((rec *)ud)->log, "m %.*s\n", (int)n, (const char *)d);
    return PC_OK;
}

static const bb_callbacks REC_CB = {NULL, r_archive, r_data, r_progress, r_manifest, NULL};

typedef struct msg {
    const char *bytes;
    size_t len;
} msg;

#define M(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

/* Feed messages; returns the first failure (or bb_stream_end's status). */
static pc_status feed(const msg *m, size_t n, rec *r)
{
    bb_stream *s;
    assert_int_equal(bb_stream_new(&REC_CB, r, &s), PC_OK);
    pc_status st = PC_OK;
    for (size_t i = 0; i < n && st == PC_OK; i++)
        st = bb_stream_message(s, m[i].bytes, m[i].len);
    if (st == PC_OK)
        st = bb_stream_end(s);
    bb_stream_free(s);
    return st;
}

static void test_stream_good(void **state)
{
    /* as PostgreSQL 15 sends it: tablespaces first, the data directory last, then the manifest */
    const msg seq[] = {
        M("n16385.tar\0/srv/tbs\0"),
        M("dAAA"),
        M("p\0\0\0\0\0\0\x10\x01"),
        M("nbase.tar\0\0"),
        M("dBB"),
        M("d"),
        M("p\0\0\0\x01\0\0\0\0"),
        M("m"),
        M("d{\"x\":1}"),
        M("d\n"),
    };
    rec r = {0};
    pc_buf_init(&r.log, PC_BUF_NOCAP);
    assert_int_equal(feed(seq, sizeof seq / sizeof seq[0], &r), PC_OK);
    assert_string_equal(pc_buf_cstr(&r.log), "n 16385.tar /srv/tbs\n"
                                             "d AAA\n"
                                             "p 4097\n"
                                             "n base.tar -\n"
                                             "d BB\n"
                                             "d \n"
                                             "p 4294967296\n"
                                             "m {\"x\":1}\n"
                                             "m \n\n");
    pc_buf_free(&r.log);
}

static void test_stream_bad(void **state)
{
    static const struct {
        msg m[4];
        size_t n;
        const char *err;
    } cases[] = {
        {{M("")}, 1, "unexpected reply to BASE_BACKUP: an empty COPY message"},
        {{M("x12")},
         1,
         "unexpected reply to BASE_BACKUP: a malformed COPY message of type 'x', "
         "length 3"},
        {{M("\x01")},
         1,
         "unexpected reply to BASE_BACKUP: a malformed COPY message of type 0x01, "
         "length 1"},
        {{M("nbase.tar")},
         1,
         "unexpected reply to BASE_BACKUP: a malformed COPY message of type "
         "'n', length 9"},
        {{M("nbase.tar\0\0extra")},
         1,
         "unexpected reply to BASE_BACKUP: a malformed COPY "
         "message of type 'n', length 16"},
        {{M("n../x.tar\0\0")},
         1,
         "unexpected reply to BASE_BACKUP: an archive named "
         "\"../x.tar\" (expected base.tar or <oid>.tar)"},
        {{M("n.tar\0\0")},
         1,
         "unexpected reply to BASE_BACKUP: an archive named \".tar\" "
         "(expected base.tar or <oid>.tar)"},
        {{M("nbase.tar.gz\0\0")},
         1,
         "unexpected reply to BASE_BACKUP: an archive named "
         "\"base.tar.gz\" (expected base.tar or <oid>.tar)"},
        {{M("dAAA")}, 1, "unexpected reply to BASE_BACKUP: archive data before the first archive"},
        {{M("p\0\0\0\0\0\0\0")},
         1,
         "unexpected reply to BASE_BACKUP: a malformed COPY message "
         "of type 'p', length 8"},
        {{M("nbase.tar\0\0"), M("mX")},
         2,
         "unexpected reply to BASE_BACKUP: a malformed COPY "
         "message of type 'm', length 2"},
        {{M("m")}, 1, "unexpected reply to BASE_BACKUP: the backup manifest before any archive"},
        {{M("nbase.tar\0\0"), M("m"), M("m")},
         3,
         "unexpected reply to BASE_BACKUP: a second "
         "backup manifest"},
        {{M("nbase.tar\0\0"), M("m"), M("n1.tar\0/x\0")},
         3,
         "unexpected reply to BASE_BACKUP: an archive after the backup manifest"},
        {{M("p\0\0\0\0\0\0\0\0")},
         1,
         "unexpected reply to BASE_BACKUP: the COPY stream ended "
         "without any archive"},
        {{M("nbase.tar\0\0"), M("dX")},
         2,
         "unexpected reply to BASE_BACKUP: the COPY stream "
         "ended without the backup manifest"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec r = {0};
        pc_buf_init(&r.log, PC_BUF_NOCAP);
        pc_err_clear();
        pc_status st = feed(cases[i].m, cases[i].n, &r);
        if (st != PC_E_PG || strcmp(pc_err_get()->message, cases[i].err) != 0)
            fail_msg("case %zu: status %d \"%s\", wanted \"%s\"", i, st, pc_err_get()->message,
                     cases[i].err);
        pc_buf_free(&r.log);
    }
    /* a callback's failure stops the stream with its own status */
    rec r = {.fail_archive = PC_E_IO};
    pc_buf_init(&r.log, PC_BUF_NOCAP);
    const msg one[] = {M("nbase.tar\0\0"), M("m")};
    assert_int_equal(feed(one, 2, &r), PC_E_IO);
    assert_string_equal(pc_err_get()->message, "callback refuses");
    pc_buf_free(&r.log);
}

/* ==== result sets ==== */

static void test_positions(void **state)
{
    pc_lsn lsn;
    uint32_t tli;
    const char *good[] = {"16/B374D848", "3"};
    bb_rows r = {1, 2, good};
    assert_int_equal(bb_parse_position(&r, "start position", &lsn, &tli), PC_OK);
    assert_int_equal(lsn, 0x16B374D848ULL);
    assert_int_equal(tli, 3);

    const char *bad_lsn[] = {"16-B3", "3"};
    r.cells = bad_lsn;
    assert_int_equal(bb_parse_position(&r, "end position", &lsn, &tli), PC_E_PG);
    assert_string_equal(pc_err_get()->message,
                        "unexpected reply to BASE_BACKUP: the end position LSN \"16-B3\" is not "
                        "an LSN");
    const char *bad_tli[] = {"0/1", "0"};
    r.cells = bad_tli;
    assert_int_equal(bb_parse_position(&r, "start position", &lsn, &tli), PC_E_PG);
    assert_string_equal(pc_err_get()->message, "unexpected reply to BASE_BACKUP: the start "
                                               "position timeline \"0\" is not a timeline");
    const char *null_tli[] = {"0/1", NULL};
    r.cells = null_tli;
    assert_int_equal(bb_parse_position(&r, "start position", &lsn, &tli), PC_E_PG);
    bb_rows two = {2, 2, (const char *[]){"0/1", "1", "0/2", "1"}};
    assert_int_equal(bb_parse_position(&two, "start position", &lsn, &tli), PC_E_PG);
    assert_string_equal(pc_err_get()->message, "unexpected reply to BASE_BACKUP: the start "
                                               "position has 2 rows and 2 columns, expected 1 "
                                               "row of (LSN, timeline)");
}

static void test_tablespace_rows(void **state)
{
    const char *cells[] = {"16385", "/srv/tbs1", "100", "16390", "/srv/tbs 2",
                           NULL,    NULL,        NULL,  "7"};
    bb_rows r = {3, 3, cells};
    bb_tablespace *t;
    size_t n;
    assert_int_equal(bb_parse_tablespaces(&r, &t, &n), PC_OK);
    assert_int_equal(n, 3);
    assert_false(t[0].is_base);
    assert_int_equal(t[0].oid, 16385);
    assert_string_equal(t[0].location, "/srv/tbs1");
    assert_int_equal(t[0].size, 102400);
    assert_int_equal(t[1].size, -1);
    assert_true(t[2].is_base);
    assert_null(t[2].location);
    assert_int_equal(t[2].size, 7168);
    bb_tablespaces_free(t, n);

    static const struct {
        const char *cells[6];
        int nrows;
        const char *err;
    } bad[] = {
        {{"16385", "/a", "1", "16385", "/b", "1"},
         2,
         "unexpected reply to BASE_BACKUP: tablespace 16385 is listed twice"},
        {{"16385", "/a", "1", NULL, NULL, "1"},
         1,
         "unexpected reply to BASE_BACKUP: the tablespace list has 0 data directory rows"},
        {{NULL, NULL, "1", NULL, NULL, "1"},
         2,
         "unexpected reply to BASE_BACKUP: the tablespace list has 2 data directory rows"},
        {{"x1", "/a", "1"},
         1,
         "unexpected reply to BASE_BACKUP: tablespace oid \"x1\" is not an "
         "OID"},
        {{"16385", "rel/path", "1"},
         1,
         "unexpected reply to BASE_BACKUP: tablespace 16385 has "
         "no absolute location"},
        {{NULL, "/x", "1"},
         1,
         "unexpected reply to BASE_BACKUP: the data directory row has a "
         "location"},
        {{NULL, NULL, "-5"},
         1,
         "unexpected reply to BASE_BACKUP: tablespace size \"-5\" is not "
         "a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bb_rows b = {bad[i].nrows, 3, bad[i].cells};
        pc_status st = bb_parse_tablespaces(&b, &t, &n);
        if (st != PC_E_PG || strcmp(pc_err_get()->message, bad[i].err) != 0)
            fail_msg("case %zu: %d \"%s\"", i, st, pc_err_get()->message);
    }
}

static void test_command(void **state)
{
    bb_options o = {.label = "pgcask backup 20261121T100000", .fast_checkpoint = true};
    char *c = bb_command(&o);
    assert_string_equal(c, "BASE_BACKUP (LABEL 'pgcask backup 20261121T100000', PROGRESS, "
                           "CHECKPOINT 'fast', WAIT false, MANIFEST 'yes', MANIFEST_CHECKSUMS "
                           "'CRC32C')");
    free(c);
    o.fast_checkpoint = false;
    c = bb_command(&o);
    assert_non_null(strstr(c, "CHECKPOINT 'spread'"));
    free(c);
    o.label = "it's";
    assert_null(bb_command(&o));
    assert_int_equal(pc_err_get()->status, PC_E_USAGE);
}

/* A missing library is a clear PostgreSQL error with the install hint. */
static void test_libpq_missing(void **state)
{
    pq_api api;
    assert_int_equal(pq_load_from("libpq-not-there.so.5", &api), PC_E_PG);
    assert_non_null(strstr(pc_err_get()->message, "libpq is not installed (libpq-not-there.so.5:"));
    assert_string_equal(pc_err_get()->hint, "Install PostgreSQL's client library: apt install "
                                            "libpq5");
    /* a library without PQ functions */
    assert_int_equal(pq_load_from("libz.so.1", &api), PC_E_PG);
    assert_string_equal(pc_err_get()->message,
                        "libpq is not installed (libz.so.1: it has no function PQconnectdbParams)");
    const pq_api *p;
    assert_int_equal(pq_load(&p), PC_OK);
    assert_non_null(p->connectdb_params);
}

/* ==== the server's backup_manifest ==== */

typedef struct mfile {
    const char *path, *content;
    bool encoded;
} mfile;

/* The checksums make_pg_manifest writes: CRC32C (what pgcask asks for) or SHA256. */
static bool manifest_sha256;

/* A backup_manifest as PostgreSQL writes it, with a correct Manifest-Checksum. */
static void make_pg_manifest(const mfile *files, size_t n, pc_buf *out)
{
    pc_buf_reset(out);
    pc_buf_append_str(out, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [");
    for (size_t i = 0; i < n; i++) {
        unsigned char d[PC_SHA256_LEN];
        char hex[65], path[600];
        pc_sha256(files[i].content, strlen(files[i].content), d);
        pc_hex(d, sizeof d, hex);
        pc_buf_append_str(out, i ? ",\n" : "\n");
        if (files[i].encoded) {
            pc_hex((const unsigned char *)files[i].path, strlen(files[i].path), path);
            pc_buf_printf(out, "{ \"Encoded-Path\": \"%s\"", path);
        } else {
            pc_buf_printf(out, "{ \"Path\": \"%s\"", files[i].path);
        }
        if (!manifest_sha256) {
            /* PostgreSQL prints its pg_crc32c's bytes in memory order: little-endian here */
            uint32_t c = pc_crc32c(0, files[i].content, strlen(files[i].content));
            unsigned char le[4] = {c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff, c >> 24};
            pc_hex(le, sizeof le, hex);
        }
        pc_buf_printf(out,
                      ", \"Size\": %zu, \"Last-Modified\": \"2026-11-21 10:00:00 GMT\", "
                      "\"Checksum-Algorithm\": \"%s\", \"Checksum\": \"%s\" }",
                      strlen(files[i].content), manifest_sha256 ? "SHA256" : "CRC32C", hex);
    }
    pc_buf_append_str(out, "\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": "
                           "\"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n");
    unsigned char d[PC_SHA256_LEN];
    char hex[65];
    pc_sha256(out->data, out->len, d);
    pc_hex(d, sizeof d, hex);
    pc_buf_printf(out, "\"Manifest-Checksum\": \"%s\"}\n", hex);
}

static pc_status collect_file(void *ud, const bb_manifest_file *f)
{
    if (f->has_crc32c)
        pc_buf_printf(ud, "%s|%llu|crc32c %08x %08x\n", f->path, (unsigned long long)f->size,
                      (unsigned)f->crc32c_le, (unsigned)f->crc32c_be);
    else
        pc_buf_printf(ud, "%s|%llu|%s\n", f->path, (unsigned long long)f->size,
                      f->sha256 ? f->sha256 : "-");
    return PC_OK;
}

static void test_pg_manifest(void **state)
{
    const mfile files[] = {
        {"backup_label", "label", false},
        {"pg_tblspc/16385/PG_15_202209061/5/16390", "abc", false},
        {"base/1/caf\xe9", "x", true},
    };
    pc_buf m, got;
    pc_buf_init(&m, PC_BUF_NOCAP);
    pc_buf_init(&got, PC_BUF_NOCAP);
    /* CRC32C, what pgcask asks for: the published check value of "123456789" is e3069283 */
    const mfile check[] = {{"base/1/2", "123456789", false}};
    make_pg_manifest(check, 1, &m);
    assert_non_null(strstr(pc_buf_cstr(&m), "\"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": "
                                            "\"839206e3\""));
    assert_int_equal(bb_manifest_parse((const char *)m.data, m.len, collect_file, &got), PC_OK);
    assert_string_equal(pc_buf_cstr(&got), "base/1/2|9|crc32c e3069283 839206e3\n");
    pc_buf_reset(&got);
    manifest_sha256 = true;
    make_pg_manifest(files, 3, &m);
    manifest_sha256 = false;
    assert_int_equal(bb_manifest_parse((const char *)m.data, m.len, collect_file, &got), PC_OK);
    assert_string_equal(pc_buf_cstr(&got),
                        "backup_label|5|"
                        "1aca80e8b55c802f7b43740da2990e1b5735bbb323d93eb5ebda8395b04025e2\n"
                        "pg_tblspc/16385/PG_15_202209061/5/16390|3|"
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
                        "base/1/caf\xe9|1|"
                        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n");

    /* one changed byte: the Manifest-Checksum catches it */
    char *t = malloc(m.len);
    memcpy(t, m.data, m.len);
    char *p = strstr(t, "\"Size\": 5");
    p[9] = '6';
    assert_int_equal(bb_manifest_parse(t, m.len, collect_file, &got), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the server's backup_manifest is damaged: its "
                                               "Manifest-Checksum does not match its contents");
    /* truncated */
    assert_int_equal(bb_manifest_parse((const char *)m.data, m.len - 10, collect_file, &got),
                     PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "the server's backup_manifest is damaged: it does not end with a newline");
    memcpy(t, m.data, m.len);
    t[m.len - 3] = 'x';
    assert_int_equal(bb_manifest_parse(t, m.len, collect_file, &got), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the server's backup_manifest is damaged: its last "
                                               "line is not the Manifest-Checksum");
    free(t);
    /* no files */
    make_pg_manifest(files, 0, &m);
    assert_int_equal(bb_manifest_parse((const char *)m.data, m.len, collect_file, &got),
                     PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "the server's backup_manifest is damaged: it lists no files");
    pc_buf_free(&m);
    pc_buf_free(&got);
}

/* ==== parts ==== */

static repo *open_repo(const char *sub)
{
    char url[1200], dir[1100];
    snprintf(dir, sizeof dir, "%s/%s", scratch, sub);
    assert_int_equal(pc_mkdirs(dir, 0700), PC_OK);
    snprintf(url, sizeof url, "file://%s", dir);
    repo_opts o;
    repo_opts_init(&o);
    o.url = url;
    o.fsync = false;
    repo *r;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    return r;
}

typedef struct members {
    pc_buf names; /* "name:size\n" per entry */
    bool strict_end;
} members;

static pc_status m_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    members *m = ud;
    pc_buf_printf(&m->names, "%s:%c:%llu%s%s\n", e->name,
                  e->type == PC_TAR_FILE  ? 'f'
                  : e->type == PC_TAR_DIR ? 'd'
                                          : 'l',
                  (unsigned long long)e->size, *e->linkname ? "->" : "", e->linkname);
    return PC_OK;
}

/* Read a stored tar strictly (it must end with the two zero blocks); its members as text. */
static char *stored_members(repo *r, const char *key)
{
    static const pc_tar_handler h = {m_entry, NULL};
    members m = {0};
    pc_buf_init(&m.names, PC_BUF_NOCAP);
    pc_sink *tr;
    assert_int_equal(pc_tar_reader_new(&h, &m, &tr), PC_OK);
    pc_status st = repo_get(r, key, 0, 0, tr, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(tr);
    if (st)
        fail_msg("%s: %s", key, pc_err_get()->message);
    pc_sink_free(tr);
    return (char *)pc_buf_steal(&m.names, NULL);
}

static void test_part_names(void **state)
{
    char *n = bk_part_name("data", 0, ".gz");
    assert_string_equal(n, "data.tar.gz");
    free(n);
    n = bk_part_name("data", 1, "");
    assert_string_equal(n, "data_0001.tar");
    free(n);
    n = bk_part_name("16385", 12, ".zst");
    assert_string_equal(n, "16385_0012.tar.zst");
    free(n);
}

static void test_parts_split(void **state)
{
    repo *r = open_repo("split");
    bk_archive_opts o = {.r = r,
                         .prefix = "pg/base/20261121T100000/",
                         .base = "data",
                         .codec = CMP_NONE,
                         .level = CMP_LEVEL_DEFAULT,
                         .threads = 1,
                         .max_part = 4000};
    bk_archive *a;
    assert_int_equal(bk_archive_new(&o, &a), PC_OK);
    char blob[2000];
    memset(blob, 'x', sizeof blob);
    const char *part;
    assert_int_equal(bk_archive_dir(a, "base", 0700, 1, 26, 26), PC_OK);
    /* 512 + 512 + 2048 bytes: still under 4000, so the next member stays in this part */
    assert_int_equal(bk_archive_file_begin(a, "base/1", 2000, 0600, 1, 26, 26, &part), PC_OK);
    assert_string_equal(part, "data.tar");
    assert_int_equal(bk_archive_file_write(a, blob, 2000), PC_OK);
    assert_int_equal(bk_archive_file_end(a), PC_OK);
    assert_int_equal(bk_archive_file_begin(a, "base/2", 2000, 0600, 1, 26, 26, &part), PC_OK);
    assert_string_equal(part, "data.tar");
    assert_int_equal(bk_archive_file_write(a, blob, 1000), PC_OK);
    assert_int_equal(bk_archive_file_write(a, blob, 1000), PC_OK);
    assert_int_equal(bk_archive_file_end(a), PC_OK);
    /* 5632 bytes > 4000: the part is completed before the next member */
    assert_int_equal(bk_archive_nparts(a), 0);
    assert_int_equal(bk_archive_file_begin(a, "base/3", 0, 0600, 1, 26, 26, &part), PC_OK);
    assert_string_equal(part, "data_0001.tar");
    assert_int_equal(bk_archive_file_end(a), PC_OK);
    assert_int_equal(bk_archive_nparts(a), 1);
    assert_int_equal(bk_archive_symlink(a, "lnk", "/x", 1, 26, 26, &part), PC_OK);
    assert_string_equal(part, "data_0001.tar");
    assert_int_equal(bk_archive_finish(a), PC_OK);
    assert_int_equal(bk_archive_nparts(a), 2);

    const bk_part *p0 = bk_archive_part(a, 0), *p1 = bk_archive_part(a, 1);
    assert_string_equal(p0->name, "data.tar");
    assert_null(p0->tablespace);
    /* every part is a complete tar: members, padding, two zero blocks */
    assert_int_equal(p0->raw_size, 512 + 512 + 2048 + 512 + 2048 + 1024);
    assert_int_equal(p0->size, p0->raw_size);
    assert_string_equal(p1->name, "data_0001.tar");
    assert_int_equal(p1->raw_size, 512 + 512 + 1024);

    char *m0 = stored_members(r, "pg/base/20261121T100000/data.tar");
    assert_string_equal(m0, "base/:d:0\nbase/1:f:2000\nbase/2:f:2000\n");
    free(m0);
    char *m1 = stored_members(r, "pg/base/20261121T100000/data_0001.tar");
    assert_string_equal(m1, "base/3:f:0\nlnk:l:0->/x\n");
    free(m1);

    /* the recorded digest is the stored object's */
    pc_buf got;
    pc_buf_init(&got, PC_BUF_NOCAP);
    assert_int_equal(repo_get_buf(r, "pg/base/20261121T100000/data.tar", 1 << 20, &got), PC_OK);
    unsigned char d[PC_SHA256_LEN];
    char hex[65];
    pc_sha256(got.data, got.len, d);
    pc_hex(d, sizeof d, hex);
    assert_string_equal(p0->sha256, hex);
    assert_int_equal(got.len, p0->size);
    pc_buf_free(&got);
    bk_archive_free(a);

    /* compressed parts are split by their compressed size, and freeing unfinished aborts */
    o.codec = CMP_GZIP;
    o.base = "16385";
    o.tablespace = "16385";
    o.max_part = 1;
    assert_int_equal(bk_archive_new(&o, &a), PC_OK);
    assert_int_equal(bk_archive_dir(a, "PG_15", 0700, 1, 0, 0), PC_OK);
    assert_int_equal(bk_archive_dir(a, "PG_15/5", 0700, 1, 0, 0), PC_OK);
    bk_archive_free(a);
    assert_int_equal(repo_head(r, "pg/base/20261121T100000/16385.tar.gz", &(repo_obj){0}),
                     PC_E_NOT_FOUND);
    repo_free(r);
}

/* ==== the receiver on a synthesized PostgreSQL 15 stream ==== */

typedef struct tmember {
    char type; /* f d l */
    const char *name, *content;
} tmember;

/* A tar as BASE_BACKUP sends it: no end-of-archive blocks. */
static void make_pg_tar(const tmember *m, size_t n, pc_buf *out)
{
    pc_buf_reset(out);
    pc_sink *mem;
    pc_tarw *w;
    assert_int_equal(pc_sink_mem_new(out, &mem), PC_OK);
    assert_int_equal(pc_tarw_new(mem, &w), PC_OK);
    pc_tarw_set_owner(w, 26, 27);
    for (size_t i = 0; i < n; i++) {
        if (m[i].type == 'd') {
            assert_int_equal(pc_tarw_add_dir(w, m[i].name, 0700, 1795255200), PC_OK);
        } else if (m[i].type == 'l') {
            assert_int_equal(pc_tarw_add_symlink(w, m[i].name, m[i].content, 1795255200), PC_OK);
        } else {
            size_t len = strlen(m[i].content);
            assert_int_equal(pc_tarw_file_begin(w, m[i].name, len, 0600, 1795255200), PC_OK);
            assert_int_equal(pc_tarw_file_write(w, m[i].content, len), PC_OK);
            assert_int_equal(pc_tarw_file_end(w), PC_OK);
        }
    }
    assert_int_equal(pc_tarw_finish(w), PC_OK);
    pc_tarw_free(w);
    out->len -= 2 * PC_TAR_BLOCK;
}

static const tmember TBS[] = {
    {'d', "PG_15_202209061", NULL},
    {'d', "PG_15_202209061/5", NULL},
    {'f', "PG_15_202209061/5/16390", "table data of the tablespace"},
};
static const tmember BASE[] = {
    {'f', "backup_label", "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"},
    {'d', "global", NULL},
    {'f', "global/1262", "pg_database"},
    {'f', "PG_VERSION", "15\n"},
    {'d', "pg_tblspc", NULL},
    {'l', "pg_tblspc/16385", "/srv/tbs1"},
    {'f', "global/pg_control", "control file"},
};

static const mfile SERVER_FILES[] = {
    {"pg_tblspc/16385/PG_15_202209061/5/16390", "table data of the tablespace", false},
    {"backup_label", "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n", false},
    {"global/1262", "pg_database", false},
    {"PG_VERSION", "15\n", false},
    {"global/pg_control", "control file", false},
};

static char LOC_TBS1[] = "/srv/tbs1", LOC_NEW[] = "/srv/new";

static const bb_tablespace HEADER[] = {
    {false, 16385, LOC_TBS1, 1024},
    {true, 0, NULL, 2048},
};

/* Send the stream through the message parser into a receiver; returns finish's status. */
static pc_status receive(repo *r, const char *manifest_text, size_t manifest_len, bool tbs_first,
                         bk_recv **out)
{
    bk_recv_opts o = {.r = r,
                      .prefix = "pg/base/20261121T100000/",
                      .backup_id = "20261121T100000",
                      .codec = CMP_ZSTD,
                      .level = CMP_LEVEL_DEFAULT,
                      .threads = 1,
                      .max_part = (uint64_t)1 << 30,
                      .now = 1795255300};
    bk_recv *rv;
    assert_int_equal(bk_recv_new(&o, &rv), PC_OK);
    *out = rv;
    assert_int_equal(bk_recv_tablespaces(rv, HEADER, 2), PC_OK);
    pc_buf tar;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    pc_status st = PC_OK;
    for (int k = 0; k < 2 && st == PC_OK; k++) {
        bool tbs = (k == 0) == tbs_first;
        st = tbs ? bk_recv_archive(rv, "16385.tar", "/srv/tbs1")
                 : bk_recv_archive(rv, "base.tar", NULL);
        if (tbs)
            make_pg_tar(TBS, sizeof TBS / sizeof TBS[0], &tar);
        else
            make_pg_tar(BASE, sizeof BASE / sizeof BASE[0], &tar);
        /* in uneven pieces, as CopyData messages come */
        for (size_t o2 = 0; o2 < tar.len && st == PC_OK; o2 += 700)
            st = bk_recv_data(rv, tar.data + o2, tar.len - o2 < 700 ? tar.len - o2 : 700);
    }
    pc_buf_free(&tar);
    for (size_t o2 = 0; o2 < manifest_len && st == PC_OK; o2 += 100)
        st = bk_recv_manifest_data(rv, manifest_text + o2,
                                   manifest_len - o2 < 100 ? manifest_len - o2 : 100);
    return st ? st : bk_recv_finish(rv);
}

static void test_receiver(void **state)
{
    repo *r = open_repo("recv");
    pc_buf m;
    pc_buf_init(&m, PC_BUF_NOCAP);
    make_pg_manifest(SERVER_FILES, sizeof SERVER_FILES / sizeof SERVER_FILES[0], &m);
    bk_recv *rv;
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_OK);

    assert_int_equal(bk_recv_nparts(rv), 2);
    assert_string_equal(bk_recv_part(rv, 0)->name, "16385.tar.zst");
    assert_string_equal(bk_recv_part(rv, 0)->tablespace, "16385");
    assert_string_equal(bk_recv_part(rv, 1)->name, "data.tar.zst");
    assert_null(bk_recv_part(rv, 1)->tablespace);
    assert_string_equal(bk_recv_backup_label(rv),
                        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n");

    /* the data archive: PostgreSQL's members minus the tablespace link, plus backup_manifest */
    pc_buf tarbytes;
    pc_buf_init(&tarbytes, PC_BUF_NOCAP);
    pc_sink *mem, *dz, *tr;
    static const pc_tar_handler h = {m_entry, NULL};
    members mm = {0};
    pc_buf_init(&mm.names, PC_BUF_NOCAP);
    assert_int_equal(pc_tar_reader_new(&h, &mm, &tr), PC_OK);
    assert_int_equal(cmp_decompress_new(CMP_ZSTD, 0, tr, &dz), PC_OK);
    assert_int_equal(repo_get(r, "pg/base/20261121T100000/data.tar.zst", 0, 0, dz, NULL), PC_OK);
    assert_int_equal(pc_sink_finish(dz), PC_OK); /* strict: the part ends with the zero blocks */
    pc_sink_free(dz);
    char want[512];
    snprintf(want, sizeof want,
             "backup_label:f:62\nglobal/:d:0\nglobal/1262:f:11\nPG_VERSION:f:3\npg_tblspc/:d:0\n"
             "global/pg_control:f:12\nbackup_manifest:f:%zu\n",
             m.len);
    assert_string_equal(pc_buf_cstr(&mm.names), want);
    pc_buf_free(&mm.names);
    (void)mem;
    pc_buf_free(&tarbytes);

    /* the file index: every entry, files with their digest and part, links without a part */
    const cat_mf_index *ix = bk_recv_files(rv);
    assert_int_equal(cat_mf_index_count(ix), 3 + 7 + 1);
    const cat_mf_file *f = cat_mf_index_find(ix, "16385", "PG_15_202209061/5/16390");
    assert_non_null(f);
    assert_int_equal(f->type, 'f');
    assert_string_equal(f->archive, "16385.tar.zst");
    unsigned char d[PC_SHA256_LEN];
    char hex[65];
    pc_sha256("table data of the tablespace", 28, d);
    pc_hex(d, sizeof d, hex);
    assert_string_equal(f->sha256, hex);
    assert_string_equal(f->backup_id, "20261121T100000");
    f = cat_mf_index_find(ix, NULL, "pg_tblspc/16385");
    assert_int_equal(f->type, 'l');
    assert_string_equal(f->target, "/srv/tbs1");
    assert_null(f->archive);
    f = cat_mf_index_find(ix, NULL, "backup_manifest");
    assert_int_equal(f->size, m.len);
    assert_string_equal(f->archive, "data.tar.zst");
    assert_int_equal(f->mtime, 1795255300);
    assert_int_equal(bk_recv_logical_size(rv), 28 + 62 + 11 + 3 + 12 + m.len);
    bk_recv_free(rv);

    /* the data directory first works too */
    assert_int_equal(receive(r, (const char *)m.data, m.len, false, &rv), PC_OK);
    assert_int_equal(bk_recv_nparts(rv), 2);
    bk_recv_free(rv);
    pc_buf_free(&m);
    repo_free(r);
}

static void test_receiver_mismatch(void **state)
{
    repo *r = open_repo("mismatch");
    pc_buf m;
    pc_buf_init(&m, PC_BUF_NOCAP);
    bk_recv *rv;
    size_t n = sizeof SERVER_FILES / sizeof SERVER_FILES[0];

    /* the server lists a file the stream did not hold */
    mfile more[8];
    memcpy(more, SERVER_FILES, sizeof SERVER_FILES);
    more[n] = (mfile){"base/1/1259", "x", false};
    make_pg_manifest(more, n + 1, &m);
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the server's backup_manifest lists "
                                               "\"base/1/1259\", which the backup stream did not "
                                               "hold");
    bk_recv_free(rv);
    /* nothing was committed for the data directory */
    assert_int_equal(repo_head(r, "pg/base/20261121T100000/data.tar.zst", &(repo_obj){0}),
                     PC_E_NOT_FOUND);

    /* the stream held a file the server did not list */
    make_pg_manifest(SERVER_FILES, n - 1, &m);
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the backup stream held \"global/pg_control\", "
                                               "which the server's backup_manifest does not "
                                               "list");
    bk_recv_free(rv);

    /* other bytes than the server hashed */
    memcpy(more, SERVER_FILES, sizeof SERVER_FILES);
    more[2].content = "pg_databasX";
    make_pg_manifest(more, n, &m);
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the CRC-32C of \"global/1262\" received differs "
                                               "from the server's backup_manifest");
    bk_recv_free(rv);
    /* the same with a manifest of SHA-256 checksums */
    manifest_sha256 = true;
    make_pg_manifest(more, n, &m);
    manifest_sha256 = false;
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "the SHA-256 of \"global/1262\" received differs "
                                               "from the server's backup_manifest");
    bk_recv_free(rv);

    /* another size */
    more[2].content = "pg_database!";
    make_pg_manifest(more, n, &m);
    assert_int_equal(receive(r, (const char *)m.data, m.len, true, &rv), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "\"global/1262\" has another size in the server's backup_manifest");
    assert_string_equal(pc_err_get()->detail, "stream: 11 bytes, manifest: 12 bytes");
    bk_recv_free(rv);

    /* an archive nobody announced */
    bk_recv_opts o = {.r = r, .prefix = "p/", .backup_id = "20261121T100000", .max_part = 1};
    assert_int_equal(bk_recv_new(&o, &rv), PC_OK);
    assert_int_equal(bk_recv_tablespaces(rv, HEADER, 2), PC_OK);
    assert_int_equal(bk_recv_archive(rv, "16386.tar", "/srv/other"), PC_E_PG);
    assert_string_equal(pc_err_get()->message,
                        "unexpected reply to BASE_BACKUP: archive \"16386.tar\" for \"/srv/other\" "
                        "is not one of the tablespaces announced");
    assert_int_equal(bk_recv_archive(rv, "16385.tar", "/srv/tbs1"), PC_OK);
    assert_int_equal(bk_recv_archive(rv, "16385.tar", "/srv/tbs1"), PC_E_PG);
    bk_recv_free(rv);
    pc_buf_free(&m);
    repo_free(r);
}

/* A truncated member in the stream is an error naming it; no part is committed. */
static void test_receiver_truncated(void **state)
{
    repo *r = open_repo("trunc");
    bk_recv_opts o = {.r = r,
                      .prefix = "t/",
                      .backup_id = "20261121T100000",
                      .codec = CMP_NONE,
                      .max_part = 1 << 20};
    bk_recv *rv;
    assert_int_equal(bk_recv_new(&o, &rv), PC_OK);
    assert_int_equal(bk_recv_tablespaces(rv, HEADER, 2), PC_OK);
    assert_int_equal(bk_recv_archive(rv, "16385.tar", "/srv/tbs1"), PC_OK);
    pc_buf tar;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    make_pg_tar(TBS, sizeof TBS / sizeof TBS[0], &tar);
    assert_int_equal(bk_recv_data(rv, tar.data, tar.len - 500), PC_OK);
    assert_int_equal(bk_recv_archive(rv, "base.tar", NULL), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message,
                        "reading the archive of 16385 from BASE_BACKUP: truncated tar: the stream "
                        "ends inside member \"PG_15_202209061/5/16390\" (at offset 1548)");
    bk_recv_free(rv);
    pc_buf_free(&tar);
    assert_int_equal(repo_head(r, "t/16385.tar", &(repo_obj){0}), PC_E_NOT_FOUND);
    repo_free(r);
}

/* ==== backup.info ==== */

static void test_binfo_mapping(void **state)
{
    char inc0[] = "/etc/pg/conf.d/a.conf", tname[] = "tbs1", pgdata[] = "/var/lib/pg/15/main",
         conf[] = "/etc/pg/postgresql.conf", hba[] = "/etc/pg/pg_hba.conf",
         ident[] = "/etc/pg/pg_ident.conf", on[] = "on";
    char *inc[] = {inc0};
    bb_named_tablespace named[] = {{tname, 16385, LOC_TBS1}};
    bb_server_info srv = {.version_num = 150020,
                          .data_directory = pgdata,
                          .config_file = conf,
                          .hba_file = hba,
                          .ident_file = ident,
                          .included_files = inc,
                          .n_included_files = 1,
                          .data_checksums = on,
                          .wal_segment_size = 16777216,
                          .tablespaces = named,
                          .n_tablespaces = 1};
    bb_system sys = {"7512345678901234567", 1};
    bb_tablespace ts[] = {
        {false, 16385, LOC_TBS1, 1}, {false, 16399, LOC_NEW, 1}, {true, 0, NULL, 1}};
    bk_info_in in = {
        .backup_id = "20261121T100000",
        .backup_name = "nightly",
        .backup_label = "START WAL LOCATION: 0/9000028 (file 000000010000000000000009)\n",
        .srv = &srv,
        .sys = &sys,
        .ts = ts,
        .nts = 3,
        .have_start = true,
        .have_end = true,
        .pos = {.start_lsn = 0x9000028, .end_lsn = 0xA000000, .start_tli = 2, .end_tli = 2},
        .begin_time = 1795255200123456LL,
        .end_time = 1795255205000000LL,
        .size = 31457280,
        .total_seconds = 5.5,
        .copy_seconds = 5.25,
        .workers = 2,
        .status = CAT_BINFO_DONE,
    };
    cat_binfo b;
    assert_int_equal(bk_binfo_fill(&in, &b), PC_OK);
    pc_buf t;
    pc_buf_init(&t, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_format(&b, &t), PC_OK);
    /* the end LSN is exactly on a boundary: the segment before it is the last one needed */
    assert_string_equal(
        pc_buf_cstr(&t),
        "backup_label='START WAL LOCATION: 0/9000028 (file 000000010000000000000009)\\n'\n"
        "backup_name=nightly\n"
        "begin_offset=40\n"
        "begin_time=2026-11-21 10:00:00.123456+00:00\n"
        "begin_wal=000000020000000000000009\n"
        "begin_xlog=0/9000028\n"
        "compression=None\n"
        "config_file=/etc/pg/postgresql.conf\n"
        "copy_stats={'total_time': 5.500000, 'number_of_workers': 2, 'copy_time': 5.250000}\n"
        "deduplicated_size=None\n"
        "end_offset=0\n"
        "end_time=2026-11-21 10:00:05+00:00\n"
        "end_wal=000000020000000000000009\n"
        "end_xlog=0/A000000\n"
        "error=None\n"
        "hba_file=/etc/pg/pg_hba.conf\n"
        "ident_file=/etc/pg/pg_ident.conf\n"
        "included_files=['/etc/pg/conf.d/a.conf']\n"
        "mode=None\n"
        "pgdata=/var/lib/pg/15/main\n"
        "server_name=cloud\n"
        "size=31457280\n"
        "status=DONE\n"
        "systemid=7512345678901234567\n"
        "tablespaces=[('tbs1', 16385, '/srv/tbs1'), ('16399', 16399, '/srv/new')]\n"
        "timeline=2\n"
        "version=150020\n"
        "xlog_segment_size=16777216\n");
    cat_binfo_free(&b);

    /* a failure before the backup started: no positions, the error in barman's words */
    in.have_start = in.have_end = false;
    in.backup_label = NULL;
    in.backup_name = NULL;
    in.size = 0;
    in.end_time = 0;
    in.total_seconds = 0;
    in.status = CAT_BINFO_FAILED;
    in.error = "failure uploading data (interrupted by SIGINT)";
    in.nts = 0;
    assert_int_equal(bk_binfo_fill(&in, &b), PC_OK);
    pc_buf_reset(&t);
    assert_int_equal(cat_binfo_format(&b, &t), PC_OK);
    const char *x = pc_buf_cstr(&t);
    assert_non_null(strstr(x, "\nbegin_wal=None\n"));
    assert_non_null(strstr(x, "\nend_time=None\n"));
    assert_non_null(strstr(x, "\nerror=failure uploading data (interrupted by SIGINT)\n"));
    assert_non_null(strstr(x, "\nstatus=FAILED\n"));
    assert_non_null(strstr(x, "\ntimeline=1\n"));
    assert_non_null(strstr(x, "\ncopy_stats=None\n"));
    assert_null(strstr(x, "backup_name"));
    assert_null(strstr(x, "data_checksums")); /* unknown to barman 3.4 */
    cat_binfo_free(&b);
    pc_buf_free(&t);
}

static void test_wal_range(void **state)
{
    uint64_t first, last, seg = 16777216;
    bk_wal_range(0x9000028, 0x9000100, seg, &first, &last);
    assert_int_equal(first, 9);
    assert_int_equal(last, 9);
    bk_wal_range(0x9000028, 0xA000000, seg, &first, &last);
    assert_int_equal(last, 9);
    bk_wal_range(0x9000028, 0xA000001, seg, &first, &last);
    assert_int_equal(last, 10);
    bk_wal_range(0x1FF000028ULL, 0x200000100ULL, seg, &first, &last);
    assert_int_equal(first, 0x1FF);
    assert_int_equal(last, 0x200);
}

static void test_backup_names(void **state)
{
    assert_int_equal(arc_backup_check_name("nightly"), PC_OK);
    assert_int_equal(arc_backup_check_name("2026-11-21"), PC_OK);
    assert_int_equal(arc_backup_check_name("20261121T100000"), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "backup name \"20261121T100000\" is not allowed: backup ID");
    assert_int_equal(arc_backup_check_name("latest"), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "backup name \"latest\" is not allowed: reserved word");
    assert_int_equal(arc_backup_check_name("last-failed"), PC_E_USAGE);
    assert_int_equal(arc_backup_check_name(""), PC_E_USAGE);
    assert_int_equal(arc_backup_check_name("a\nb"), PC_E_USAGE);
    assert_int_equal(arc_backup_check_name("None"), PC_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_good),       cmocka_unit_test(test_stream_bad),
        cmocka_unit_test(test_positions),         cmocka_unit_test(test_tablespace_rows),
        cmocka_unit_test(test_command),           cmocka_unit_test(test_libpq_missing),
        cmocka_unit_test(test_pg_manifest),       cmocka_unit_test(test_part_names),
        cmocka_unit_test(test_parts_split),       cmocka_unit_test(test_receiver),
        cmocka_unit_test(test_receiver_mismatch), cmocka_unit_test(test_receiver_truncated),
        cmocka_unit_test(test_binfo_mapping),     cmocka_unit_test(test_wal_range),
        cmocka_unit_test(test_backup_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
