#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/wal.h"

#define MiB (1024ULL * 1024)

static void test_segsize_valid(void **state)
{
    for (uint64_t s = MiB; s <= 1024 * MiB; s *= 2)
        assert_true(pc_wal_segsize_valid(s));
    static const uint64_t bad[] = {0, 1, 512 * 1024, 3 * MiB, 2048 * MiB, 24 * MiB, MiB + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(pc_wal_segsize_valid(bad[i]));
}

static void test_parse_forms(void **state)
{
    static const struct {
        const char *in;
        pc_wal_kind kind;
        uint32_t tli, log, seg, offset;
        const char *norm, *hash_dir;
    } cases[] = {
        {"000000010000000A000000FF", PC_WAL_SEGMENT, 1, 0xA, 0xFF, 0, "000000010000000A000000FF",
         "000000010000000A"},
        {"000000010000000a000000ff", PC_WAL_SEGMENT, 1, 0xA, 0xFF, 0, "000000010000000A000000FF",
         "000000010000000A"},
        {"FFFFFFFFFFFFFFFFFFFFFFFF", PC_WAL_SEGMENT, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0,
         "FFFFFFFFFFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF"},
        {"000000010000000A000000FF.partial", PC_WAL_PARTIAL, 1, 0xA, 0xFF, 0,
         "000000010000000A000000FF.partial", "000000010000000A"},
        {"0000000200000000000000ab.partial", PC_WAL_PARTIAL, 2, 0, 0xAB, 0,
         "0000000200000000000000AB.partial", "0000000200000000"},
        {"000000010000000A000000FF.00000028.backup", PC_WAL_BACKUP, 1, 0xA, 0xFF, 0x28,
         "000000010000000A000000FF.00000028.backup", "000000010000000A"},
        {"000000010000000a000000ff.00abcdef.backup", PC_WAL_BACKUP, 1, 0xA, 0xFF, 0xABCDEF,
         "000000010000000A000000FF.00ABCDEF.backup", "000000010000000A"},
        {"00000002.history", PC_WAL_HISTORY, 2, 0, 0, 0, "00000002.history", ""},
        {"0000000a.history", PC_WAL_HISTORY, 10, 0, 0, 0, "0000000A.history", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pc_wal_name w;
        char hd[17] = "junk";
        memset(&w, 0x55, sizeof w);
        if (pc_wal_parse(cases[i].in, &w) != PC_OK)
            fail_msg("%s rejected: %s", cases[i].in, pc_err_get()->message);
        assert_int_equal(w.kind, cases[i].kind);
        assert_int_equal(w.tli, cases[i].tli);
        assert_int_equal(w.log, cases[i].log);
        assert_int_equal(w.seg, cases[i].seg);
        assert_int_equal(w.offset, cases[i].offset);
        assert_string_equal(w.name, cases[i].norm);
        pc_wal_hash_dir(&w, hd);
        assert_string_equal(hd, cases[i].hash_dir);
        assert_int_equal(pc_wal_is_segment_name(cases[i].in), cases[i].kind == PC_WAL_SEGMENT);
    }
}

static void test_parse_rejected(void **state)
{
    static const char *bad[] = {
        "",
        "00000001000000000000000",   /* 23 digits */
        "0000000100000000000000001", /* 25 */
        "00000001000000000000000G",
        "000000010000000000000001.gz", /* compression is handled elsewhere */
        "000000010000000000000001.partial.gz",
        "000000010000000000000001.PARTIAL",
        "000000010000000000000001.partia",
        "000000010000000000000001.backup",
        "000000010000000000000001.0000028.backup", /* 7-digit offset */
        "000000010000000000000001.000000028.backup",
        "000000010000000000000001.0000002G.backup",
        "000000010000000000000001.00000028.backup.gz",
        "000000010000000000000001.00000028_backup",
        "000000010000000000000001.00000028.BACKUP",
        "0000001.history",
        "000000001.history",
        "00000001.History",
        "00000001.history.gz",
        "0000000G.history",
        ".history",
        " 000000010000000000000001",
        "000000010000000000000001 ",
        "000000010000000000000001/",
        "archive_status",
        "000000010000000000000001.ready",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pc_wal_name w;
        char want[256];
        pc_err_clear();
        if (pc_wal_parse(bad[i], &w) != PC_E_USAGE)
            fail_msg("\"%s\" accepted", bad[i]);
        snprintf(want, sizeof want, "\"%s\" is not a WAL file name", bad[i]);
        tu_assert_err(PC_E_USAGE, want);
        assert_false(pc_wal_is_segment_name(bad[i]));
    }
    /* a huge input is quoted in part only */
    char huge[1000];
    pc_wal_name w;
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(pc_wal_parse(huge, &w), PC_E_USAGE);
    assert_int_equal(strlen(pc_err_get()->message),
                     1 + 128 + 3 + strlen("\" is not a WAL file name"));
}

static void test_parse_path(void **state)
{
    pc_wal_name w;
    assert_int_equal(pc_wal_parse_path("pg_wal/000000010000000000000003", &w), PC_OK);
    assert_string_equal(w.name, "000000010000000000000003");
    assert_int_equal(pc_wal_parse_path("/var/lib/pg/pg_wal/00000003.history", &w), PC_OK);
    assert_int_equal(w.kind, PC_WAL_HISTORY);
    assert_int_equal(pc_wal_parse_path("000000010000000000000003", &w), PC_OK);
    assert_int_equal(pc_wal_parse_path("pg_wal/", &w), PC_E_USAGE);
    assert_int_equal(pc_wal_parse_path("000000010000000000000003/x", &w), PC_E_USAGE);
}

/* Every segment size: numbering, names and the roll-over from the last seg of a log to the next
 * log. */
static void test_segment_numbers_all_sizes(void **state)
{
    for (uint64_t segsize = MiB; segsize <= 1024 * MiB; segsize *= 2) {
        uint64_t per = 0x100000000ULL / segsize;
        char name[PC_WAL_NAME_LEN + 9], next[PC_WAL_NAME_LEN + 1], want[PC_WAL_NAME_LEN + 1];
        uint32_t log, seg;

        assert_int_equal(pc_wal_segno(0, 0, segsize), 0);
        assert_int_equal(pc_wal_segno(1, 0, segsize), per);
        assert_int_equal(pc_wal_segno(0x10, (uint32_t)per - 1, segsize), 0x11 * per - 1);
        pc_wal_segno_split(0x11 * per - 1, segsize, &log, &seg);
        assert_int_equal(log, 0x10);
        assert_int_equal(seg, per - 1);

        /* last seg of log 0x10 */
        pc_wal_segment_name(3, 0x11 * per - 1, segsize, name);
        snprintf(want, sizeof want, "0000000300000010%08" PRIX64, per - 1);
        assert_string_equal(name, want);
        assert_int_equal(pc_wal_next(name, segsize, next), PC_OK);
        assert_string_equal(next, "000000030000001100000000");

        /* within a log */
        assert_int_equal(pc_wal_next("000000030000001100000000", segsize, next), PC_OK);
        assert_string_equal(next, "000000030000001100000001");

        /* a seg beyond the range of this segment size */
        snprintf(name, sizeof name, "0000000300000010%08" PRIX64, per);
        pc_err_clear();
        assert_int_equal(pc_wal_next(name, segsize, next), PC_E_USAGE);
        char msg[256];
        snprintf(msg, sizeof msg,
                 "WAL file name \"%s\" is out of range for a WAL segment size of %" PRIu64 " bytes",
                 name, segsize);
        tu_assert_err(PC_E_USAGE, msg);

        /* the very last segment has no successor */
        snprintf(name, sizeof name, "00000001FFFFFFFF%08" PRIX64, per - 1);
        assert_int_equal(pc_wal_next(name, segsize, next), PC_E_USAGE);
        snprintf(msg, sizeof msg, "\"%s\" is the last possible WAL segment", name);
        tu_assert_err(PC_E_USAGE, msg);

        /* parsed names give the same number back */
        pc_wal_name w;
        pc_wal_segment_name(7, 123456 % (per * 4), segsize, name);
        assert_int_equal(pc_wal_parse(name, &w), PC_OK);
        assert_int_equal(pc_wal_name_segno(&w, segsize), 123456 % (per * 4));

        /* LSN to segment */
        pc_lsn lsn = (pc_lsn)0x11 * 0x100000000ULL + 2 * segsize + 42;
        assert_int_equal(pc_lsn_segno(lsn, segsize), 0x11 * per + 2);
        assert_int_equal(pc_lsn_offset(lsn, segsize), 42);
        pc_lsn_to_segment_name(2, lsn, segsize, name);
        snprintf(want, sizeof want, "0000000200000011%08X", 2);
        assert_string_equal(name, want);
    }
}

static void test_next_examples(void **state)
{
    char next[PC_WAL_NAME_LEN + 1];
    assert_int_equal(pc_wal_next("000000010000000A000000FF", 16 * MiB, next), PC_OK);
    assert_string_equal(next, "000000010000000B00000000");
    assert_int_equal(pc_wal_next("000000010000000a000000fe", 16 * MiB, next), PC_OK);
    assert_string_equal(next, "000000010000000A000000FF");
    assert_int_equal(pc_wal_next("000000010000000000000003", 1024 * MiB, next), PC_OK);
    assert_string_equal(next, "000000010000000100000000");
    assert_int_equal(pc_wal_next("000000010000000000000004", 1024 * MiB, next), PC_E_USAGE);
    assert_int_equal(pc_wal_next("000000010000000000000FFF", 1 * MiB, next), PC_OK);
    assert_string_equal(next, "000000010000000100000000");
    assert_int_equal(pc_wal_next("00000001000000000000100", 16 * MiB, next), PC_E_USAGE);

    pc_err_clear();
    assert_int_equal(pc_wal_next("000000010000000000000001.partial", 16 * MiB, next), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "\"000000010000000000000001.partial\" is not a WAL segment name");
    assert_int_equal(pc_wal_next("00000001.history", 16 * MiB, next), PC_E_USAGE);
    assert_int_equal(pc_wal_next("000000010000000000000001", 3 * MiB, next), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "invalid WAL segment size 3145728 bytes");
}

static void test_lsn(void **state)
{
    static const struct {
        const char *in;
        pc_lsn lsn;
        const char *out;
    } ok[] = {
        {"16/B374D848", 0x16B374D848ULL, "16/B374D848"},
        {"16/b374d848", 0x16B374D848ULL, "16/B374D848"},
        {"0/0", 0, "0/0"},
        {"0/2000028", 0x2000028, "0/2000028"},
        {"00000000/02000028", 0x2000028, "0/2000028"},
        {"FFFFFFFF/FFFFFFFF", 0xFFFFFFFFFFFFFFFFULL, "FFFFFFFF/FFFFFFFF"},
        {"1/0", 0x100000000ULL, "1/0"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        pc_lsn l = 1;
        char out[18];
        assert_int_equal(pc_lsn_parse(ok[i].in, &l), PC_OK);
        assert_true(l == ok[i].lsn);
        pc_lsn_format(l, out, sizeof out);
        assert_string_equal(out, ok[i].out);
    }
    static const char *bad[] = {"",     "16",   "/1",    "1/",   "123456789/0", "0/123456789",
                                "1/2 ", " 1/2", "g/1",   "1//2", "0x1/2",       "-1/2",
                                "+1/2", "1/-2", "1/2/3", "1.2",  "16/B374D848X"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pc_lsn l = 7;
        char want[128];
        assert_int_equal(pc_lsn_parse(bad[i], &l), PC_E_USAGE);
        assert_true(l == 7);
        snprintf(want, sizeof want, "\"%s\" is not an LSN", bad[i]);
        tu_assert_err(PC_E_USAGE, want);
    }
}

/* ---- headers ---- */

static void put16(unsigned char *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* A long page header as PostgreSQL 15 writes it at the start of segment `segno`. */
static void make_header(unsigned char *buf, uint64_t segno, uint64_t segsize)
{
    memset(buf, 0, 64);
    put16(buf + 0, 0xD110);
    put16(buf + 2, 0x0002 | 0x0004);
    put32(buf + 4, 1);
    put64(buf + 8, segno * segsize);
    put32(buf + 16, 0);
    put64(buf + 24, 7710557919440276317ULL);
    put32(buf + 32, (uint32_t)segsize);
    put32(buf + 36, 8192);
}

static void test_read_header(void **state)
{
    unsigned char buf[64];
    pc_wal_header h;
    make_header(buf, 0x1A3, 16 * MiB);
    assert_int_equal(pc_wal_read_header(buf, 40, &h), PC_OK);
    assert_int_equal(h.magic, 0xD110);
    assert_int_equal(h.info, 0x0006);
    assert_int_equal(h.tli, 1);
    assert_true(h.pageaddr == 0x1A3 * 16 * MiB);
    assert_true(h.sysid == 7710557919440276317ULL);
    assert_int_equal(h.seg_size, 16 * MiB);
    assert_int_equal(h.blcksz, 8192);
    assert_int_equal(pc_wal_read_header(buf, 39, &h), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "WAL segment header is truncated (39 of 40 bytes)");
}

static void expect_corrupt(const pc_wal_name *w, const unsigned char *buf, size_t len,
                           uint64_t segsize, const char *msg)
{
    pc_err_clear();
    assert_int_equal(pc_wal_check_header(w, buf, len, segsize), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, msg);
}

static void test_check_header(void **state)
{
    unsigned char buf[64];
    pc_wal_name w;

    for (uint64_t segsize = MiB; segsize <= 1024 * MiB; segsize *= 2) {
        uint64_t per = 0x100000000ULL / segsize;
        char name[PC_WAL_NAME_LEN + 1];
        pc_wal_segment_name(5, 3 * per + per - 1, segsize, name); /* last seg of log 3 */
        assert_int_equal(pc_wal_parse(name, &w), PC_OK);
        make_header(buf, 3 * per + per - 1, segsize);
        assert_int_equal(pc_wal_check_header(&w, buf, sizeof buf, segsize), PC_OK);
    }

    assert_int_equal(pc_wal_parse("00000001000000000000001A", &w), PC_OK);
    make_header(buf, 0x1A, 16 * MiB);
    assert_int_equal(pc_wal_check_header(&w, buf, 40, 16 * MiB), PC_OK);
    /* the timeline in the header is not checked: promotion copies a segment to the new timeline */
    put32(buf + 4, 9);
    assert_int_equal(pc_wal_check_header(&w, buf, 40, 16 * MiB), PC_OK);
    /* a .partial file has the same header */
    pc_wal_name partial;
    assert_int_equal(pc_wal_parse("00000001000000000000001A.partial", &partial), PC_OK);
    assert_int_equal(pc_wal_check_header(&partial, buf, 40, 16 * MiB), PC_OK);
    /* the magics of PostgreSQL 9.6 and 18 and the edges of the accepted range */
    static const uint16_t magics[] = {0xD093, 0xD118, 0xD061, 0xD1FF};
    for (size_t i = 0; i < 4; i++) {
        put16(buf, magics[i]);
        assert_int_equal(pc_wal_check_header(&w, buf, 40, 16 * MiB), PC_OK);
    }

    expect_corrupt(
        &w, buf, 39, 16 * MiB,
        "WAL segment \"00000001000000000000001A\" is truncated: 39 bytes, too short for a "
        "WAL page header");
    make_header(buf, 0x1A, 16 * MiB);
    put16(buf, 0xD060);
    expect_corrupt(&w, buf, 40, 16 * MiB,
                   "\"00000001000000000000001A\" is not a WAL segment: bad page magic 0xD060");
    put16(buf, 0xD200);
    expect_corrupt(&w, buf, 40, 16 * MiB,
                   "\"00000001000000000000001A\" is not a WAL segment: bad page magic 0xD200");
    memset(buf, 0, sizeof buf); /* a zero-filled file */
    expect_corrupt(&w, buf, 40, 16 * MiB,
                   "\"00000001000000000000001A\" is not a WAL segment: bad page magic 0x0000");

    make_header(buf, 0x1A, 16 * MiB);
    put16(buf + 2, 0x0001);
    expect_corrupt(
        &w, buf, 40, 16 * MiB,
        "WAL segment \"00000001000000000000001A\" does not start with a long page header "
        "(xlp_info 0x0001)");

    make_header(buf, 0x1A, 16 * MiB);
    expect_corrupt(&w, buf, 40, 64 * MiB,
                   "WAL segment \"00000001000000000000001A\" was written with a segment size of "
                   "16777216 bytes, expected 67108864");
    assert_string_equal(pc_err_get()->hint,
                        "Set --wal-segment-size to the cluster's WAL segment size.");

    static const uint32_t bad_blck[] = {0, 512, 3000, 131072};
    for (size_t i = 0; i < 4; i++) {
        char msg[128];
        make_header(buf, 0x1A, 16 * MiB);
        put32(buf + 36, bad_blck[i]);
        snprintf(msg, sizeof msg,
                 "WAL segment \"00000001000000000000001A\" has an invalid block size %u",
                 bad_blck[i]);
        expect_corrupt(&w, buf, 40, 16 * MiB, msg);
    }
    make_header(buf, 0x1A, 16 * MiB);
    put32(buf + 36, 1024);
    assert_int_equal(pc_wal_check_header(&w, buf, 40, 16 * MiB), PC_OK);
    put32(buf + 36, 65536);
    assert_int_equal(pc_wal_check_header(&w, buf, 40, 16 * MiB), PC_OK);

    /* the contents of another segment (a recycled or renamed file) */
    make_header(buf, 0x1B, 16 * MiB);
    expect_corrupt(&w, buf, 40, 16 * MiB,
                   "WAL segment \"00000001000000000000001A\" starts at LSN 0/1B000000, expected "
                   "0/1A000000");

    /* names that cannot be checked */
    pc_wal_name other;
    make_header(buf, 0x1A, 16 * MiB);
    assert_int_equal(pc_wal_parse("00000002.history", &other), PC_OK);
    assert_int_equal(pc_wal_check_header(&other, buf, 40, 16 * MiB), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "\"00000002.history\" is not a WAL segment and has no WAL header");
    assert_int_equal(pc_wal_parse("00000001000000000000001A.00000028.backup", &other), PC_OK);
    assert_int_equal(pc_wal_check_header(&other, buf, 40, 16 * MiB), PC_E_USAGE);
    assert_int_equal(pc_wal_parse("000000010000000000000100", &other), PC_OK);
    assert_int_equal(pc_wal_check_header(&other, buf, 40, 16 * MiB), PC_E_USAGE);
    assert_int_equal(pc_wal_check_header(&w, buf, 40, 0), PC_E_USAGE);
}

/* ---- a real segment written by PostgreSQL ---- */

#define PG_BIN "/usr/lib/postgresql/15/bin"

static char *pg_base; /* two fresh clusters, 16 MiB and 1 MiB segments; NULL without PostgreSQL */

static int run(const char *cmd)
{
    int r = system(cmd);
    return r == -1 ? -1 : WEXITSTATUS(r);
}

static int clusters_teardown(void **state)
{
    if (pg_base)
        assert_int_equal(pc_remove_tree(pg_base), PC_OK);
    free(pg_base);
    pg_base = NULL;
    return 0;
}

static int clusters_setup(void **state)
{
    char tmpl[] = "/tmp/pgcask-wal-test-XXXXXX";
    char cmd[4096];
    if (access(PG_BIN "/initdb", X_OK) != 0)
        return 0;
    assert_non_null(mkdtemp(tmpl));
    pg_base = strdup(tmpl);
    /* initdb refuses root: run it as postgres then, in a directory it can write */
    const char *as = "";
    if (geteuid() == 0) {
        snprintf(cmd, sizeof cmd, "chown postgres '%s' 2>/dev/null", pg_base);
        if (run(cmd) != 0) { /* no postgres user: nobody can run initdb here */
            clusters_teardown(state);
            return 0;
        }
        as = "runuser -u postgres -- ";
    }
    /* both at once: initdb is most of this test's time */
    snprintf(cmd, sizeof cmd,
             "for s in 16 1; do (%s%s/initdb -D '%s'/data$s -U postgres --auth=trust --no-sync "
             "--no-instructions --wal-segsize=$s >'%s'/initdb$s.log 2>&1 && touch '%s'/ok$s) & "
             "done; wait",
             as, PG_BIN, pg_base, pg_base, pg_base);
    run(cmd);
    return 0;
}

static void check_real_segment(int segsize_mb)
{
    char rel[64], cmd[1024];
    uint64_t segsize = (uint64_t)segsize_mb * MiB;

    if (!pg_base)
        skip();
    snprintf(rel, sizeof rel, "ok%d", segsize_mb);
    char *ok = pc_path_join(pg_base, rel);
    if (!pc_path_exists(ok)) {
        snprintf(rel, sizeof rel, "initdb%d.log", segsize_mb);
        char *log = pc_path_join(pg_base, rel);
        char *text = tu_read(log, NULL);
        fail_msg("initdb failed:\n%s", text ? text : "(no log)");
    }
    free(ok);
    snprintf(rel, sizeof rel, "data%d", segsize_mb);
    char *data = pc_path_join(pg_base, rel);

    /* the oldest segment in pg_wal: it holds the start of the WAL initdb wrote */
    char *pg_wal = pc_path_join(data, "pg_wal");
    DIR *d = opendir(pg_wal);
    assert_non_null(d);
    char segname[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (pc_wal_is_segment_name(e->d_name) && (!segname[0] || strcmp(e->d_name, segname) < 0))
            snprintf(segname, sizeof segname, "%s", e->d_name);
    closedir(d);
    assert_true(segname[0] != '\0');

    char *seg_path = pc_path_join(pg_wal, segname);
    uint64_t size;
    assert_int_equal(pc_file_size(seg_path, &size), PC_OK);
    assert_int_equal(size, segsize);
    FILE *f = fopen(seg_path, "rb");
    unsigned char page[8192];
    assert_int_equal(fread(page, 1, sizeof page, f), sizeof page);
    fclose(f);

    pc_wal_name w;
    pc_wal_header h;
    assert_int_equal(pc_wal_parse_path(seg_path, &w), PC_OK);
    if (pc_wal_check_header(&w, page, sizeof page, segsize) != PC_OK)
        fail_msg("%s", pc_err_get()->message);
    assert_int_equal(pc_wal_read_header(page, sizeof page, &h), PC_OK);
    assert_int_equal(h.magic, 0xD110); /* PostgreSQL 15 */
    assert_int_equal(h.tli, 1);
    assert_true(h.pageaddr == pc_wal_name_segno(&w, segsize) * segsize);
    assert_int_equal(h.seg_size, segsize);
    assert_int_equal(h.blcksz, 8192);

    /* the system identifier matches what pg_controldata reports */
    char *out = pc_path_join(data, "../controldata");
    snprintf(cmd, sizeof cmd, "%s/pg_controldata '%s' >'%s' 2>&1", PG_BIN, data, out);
    assert_int_equal(run(cmd), 0);
    char *text = tu_read(out, NULL);
    const char *id = strstr(text, "Database system identifier:");
    assert_non_null(id);
    unsigned long long sysid = strtoull(id + strlen("Database system identifier:"), NULL, 10);
    assert_true(sysid == h.sysid);
    free(text);
    free(out);

    /* the same bytes under another name or another segment size are refused */
    char next[PC_WAL_NAME_LEN + 1];
    pc_wal_name wrong;
    assert_int_equal(pc_wal_next(w.name, segsize, next), PC_OK);
    assert_int_equal(pc_wal_parse(next, &wrong), PC_OK);
    assert_int_equal(pc_wal_check_header(&wrong, page, sizeof page, segsize), PC_E_CORRUPT);
    assert_int_equal(pc_wal_check_header(&w, page, sizeof page, segsize * 2), PC_E_CORRUPT);

    free(seg_path);
    free(pg_wal);
    free(data);
}

static void test_real_segment_16mb(void **state)
{
    check_real_segment(16);
}

static void test_real_segment_1mb(void **state)
{
    check_real_segment(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segsize_valid),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_rejected),
        cmocka_unit_test(test_parse_path),
        cmocka_unit_test(test_segment_numbers_all_sizes),
        cmocka_unit_test(test_next_examples),
        cmocka_unit_test(test_lsn),
        cmocka_unit_test(test_read_header),
        cmocka_unit_test(test_check_header),
        cmocka_unit_test(test_real_segment_16mb),
        cmocka_unit_test(test_real_segment_1mb),
    };
    return cmocka_run_group_tests(tests, clusters_setup, clusters_teardown);
}
