/* Tar member checks: what may be extracted, and every hostile member refused with its reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "restore/rst_int.h"

static const uint32_t oids[] = {16385, 16390};
static const rst_area pgdata = {.root = "/restore/pg", .pgdata = true, .ts_oids = oids, .n_ts = 2};
static const rst_area tblspc = {.root = "/restore/ts1", .pgdata = false};

typedef struct row {
    const rst_area *area;
    pc_tar_type type;
    char typeflag;
    const char *name;
    const char *link;
    int act;            /* expected action, or -1 for a refusal */
    const char *expect; /* normalised name, or the refusal's message */
} row;

#define F PC_TAR_FILE
#define D PC_TAR_DIR
#define L PC_TAR_SYMLINK

static const row rows[] = {
    /* accepted */
    {&pgdata, F, '0', "base/1/1259", "", RST_ACT_FILE, "base/1/1259"},
    {&pgdata, F, '0', "./global//pg_control", "", RST_ACT_FILE, "global/pg_control"},
    {&pgdata, D, '5', "base/", "", RST_ACT_DIR, "base"},
    {&pgdata, D, '5', "./", "", RST_ACT_ROOT, "."},
    {&pgdata, D, '5', ".", "", RST_ACT_ROOT, "."},
    {&pgdata, F, '0', "tablespace_map", "", RST_ACT_TS_MAP, "tablespace_map"},
    {&tblspc, F, '0', "tablespace_map", "", RST_ACT_FILE, "tablespace_map"},
    {&pgdata, L, '2', "pg_tblspc/16385", "/srv/ts1", RST_ACT_TS_LINK, "pg_tblspc/16385"},
    {&pgdata, L, '2', "pg_tblspc/16390/", "/anywhere", RST_ACT_TS_LINK, "pg_tblspc/16390"},
    {&pgdata, D, '5', "pg_tblspc/16400", "", RST_ACT_DIR, "pg_tblspc/16400"}, /* in place */
    {&pgdata, L, '2', "pg_wal", "/restore/pg/wal", RST_ACT_SYMLINK, "pg_wal"},
    {&pgdata, L, '2', "a/b/link", "../c", RST_ACT_SYMLINK, "a/b/link"},
    {&pgdata, L, '2', "a/b/link", "../../c/./d", RST_ACT_SYMLINK, "a/b/link"},
    {&pgdata, L, '2', "a/link", "..", RST_ACT_SYMLINK, "a/link"},
    {&pgdata, L, '2', "link", "x/y", RST_ACT_SYMLINK, "link"},
    {&tblspc, L, '2', "PG_15/x", "/restore/ts1/PG_15/y", RST_ACT_SYMLINK, "PG_15/x"},
    /* refused names */
    {&pgdata, F, '0', "../etc/passwd", "", -1,
     "archive \"data.tar\": unsafe tar member name \"../etc/passwd\": \"..\" component"},
    {&pgdata, F, '0', "base/../../x", "", -1,
     "archive \"data.tar\": unsafe tar member name \"base/../../x\": \"..\" component"},
    {&pgdata, F, '0', "/etc/passwd", "", -1,
     "archive \"data.tar\": unsafe tar member name \"/etc/passwd\": absolute path"},
    {&pgdata, F, '0', "", "", -1, "archive \"data.tar\": unsafe tar member name \"\": empty name"},
    {&pgdata, F, '0', "a\nb", "", -1,
     "archive \"data.tar\": unsafe tar member name \"a\\x0ab\": control character in the name"},
    {&pgdata, F, '0', ".", "", -1,
     "archive \"data.tar\": refusing tar member \".\": the archive's root is not a directory"},
    /* refused types */
    {&pgdata, PC_TAR_HARDLINK, '1', "base/1/x", "base/1/y", -1,
     "archive \"data.tar\": refusing tar member \"base/1/x\": hard links are not restored"},
    {&pgdata, PC_TAR_OTHER, '3', "dev/null", "", -1,
     "archive \"data.tar\": refusing tar member \"dev/null\": member type '3' (device, fifo, "
     "sparse or unknown)"},
    {&pgdata, PC_TAR_OTHER, '6', "fifo", "", -1,
     "archive \"data.tar\": refusing tar member \"fifo\": member type '6' (device, fifo, sparse "
     "or unknown)"},
    {&pgdata, PC_TAR_OTHER, 'S', "sparse", "", -1,
     "archive \"data.tar\": refusing tar member \"sparse\": member type 'S' (device, fifo, "
     "sparse or unknown)"},
    /* tablespace links */
    {&pgdata, F, '0', "pg_tblspc/16385/PG_15/1/2", "", -1,
     "archive \"data.tar\": refusing tar member \"pg_tblspc/16385/PG_15/1/2\": member below the "
     "link of a tablespace"},
    {&pgdata, D, '5', "pg_tblspc/16385", "", -1,
     "archive \"data.tar\": refusing tar member \"pg_tblspc/16385\": a tablespace of the backup "
     "must be a symbolic link in pg_tblspc"},
    {&pgdata, L, '2', "pg_tblspc/16400", "/etc", -1,
     "archive \"data.tar\": refusing tar member \"pg_tblspc/16400\": symbolic link pointing "
     "outside the restore directory"},
    /* symbolic links that leave the area */
    {&pgdata, L, '2', "evil", "/etc/passwd", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link pointing outside the "
     "restore directory"},
    {&pgdata, L, '2', "evil", "/restore/pg2/x", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link pointing outside the "
     "restore directory"},
    {&pgdata, L, '2', "evil", "/restore", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link pointing outside the "
     "restore directory"},
    {&pgdata, L, '2', "evil", "/restore/pg/../x", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link target with a \"..\" "
     "component"},
    {&pgdata, L, '2', "evil", "..", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link pointing outside the "
     "restore directory"},
    {&pgdata, L, '2', "a/evil", "../../x", -1,
     "archive \"data.tar\": refusing tar member \"a/evil\": symbolic link pointing outside the "
     "restore directory"},
    {&pgdata, L, '2', "evil", "a/../..", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link target with \"..\" after "
     "a directory name"},
    {&pgdata, L, '2', "evil", "s/../x", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link target with \"..\" after "
     "a directory name"},
    {&pgdata, L, '2', "evil", "", -1,
     "archive \"data.tar\": refusing tar member \"evil\": symbolic link with an empty target"},
    {&pgdata, L, '2', "evil", "x\ty", -1,
     "archive \"data.tar\": refusing tar member \"evil\": control character in the symbolic "
     "link's target"},
    {&tblspc, L, '2', "pg_tblspc/16385", "/restore/pg", -1,
     "archive \"data.tar\": refusing tar member \"pg_tblspc/16385\": symbolic link pointing "
     "outside the restore directory"},
};

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        pc_tar_entry e = {.name = r->name,
                          .linkname = r->link,
                          .type = r->type,
                          .typeflag = r->typeflag,
                          .mode = 0600};
        char norm[256] = "";
        rst_action act = (rst_action)99;
        pc_err_clear();
        pc_status st = rst_entry_check(r->area, &e, "data.tar", norm, sizeof norm, &act);
        if (r->act < 0) {
            if (st != PC_E_CORRUPT || strcmp(pc_err_get()->message, r->expect) != 0)
                fail_msg("row %zu (%s): status %d, message \"%s\"", i, r->name, st,
                         pc_err_get()->message);
        } else {
            if (st != PC_OK || (int)act != r->act || strcmp(norm, r->expect) != 0)
                fail_msg("row %zu (%s): status %d (%s), action %d, name \"%s\"", i, r->name, st,
                         pc_err_get()->message, (int)act, norm);
        }
    }
}

static void test_long_name(void **state)
{
    char name[600];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    pc_tar_entry e = {.name = name, .linkname = "", .type = PC_TAR_FILE};
    char norm[256];
    rst_action act;
    assert_int_equal(rst_entry_check(&pgdata, &e, "data.tar", norm, sizeof norm, &act),
                     PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "name too long"));
}

static void test_archive_names(void **state)
{
    static const struct {
        const char *name;
        bool ok, pgdata;
        uint32_t oid;
        cmp_codec codec;
    } t[] = {
        {"data.tar", true, true, 0, CMP_NONE},
        {"data.tar.gz", true, true, 0, CMP_GZIP},
        {"data_0001.tar.bz2", true, true, 0, CMP_BZIP2},
        {"data_12345.tar.zst", true, true, 0, CMP_ZSTD},
        {"16385.tar.lz4", true, false, 16385, CMP_LZ4},
        {"16385_0002.tar.xz", true, false, 16385, CMP_XZ},
        {"4294967295.tar.snappy", true, false, 4294967295u, CMP_SNAPPY},
        {"4294967296.tar", false, false, 0, CMP_NONE},
        {"0.tar", false, false, 0, CMP_NONE},
        {"data_01.tar", false, false, 0, CMP_NONE},
        {"data_00a1.tar", false, false, 0, CMP_NONE},
        {"data.tar.7z", false, false, 0, CMP_NONE},
        {"datax.tar", false, false, 0, CMP_NONE},
        {"backup.info", false, false, 0, CMP_NONE},
        {".tar", false, false, 0, CMP_NONE},
        {"data", false, false, 0, CMP_NONE},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool pg = false;
        uint32_t oid = 7;
        cmp_codec c = CMP_NONE;
        bool ok = rst_archive_name_parse(t[i].name, &pg, &oid, &c);
        if (ok != t[i].ok)
            fail_msg("%s: parsed %d", t[i].name, ok);
        if (ok && (pg != t[i].pgdata || oid != t[i].oid || c != t[i].codec))
            fail_msg("%s: pgdata %d oid %u codec %d", t[i].name, pg, oid, (int)c);
    }
}

static void test_ts_rules(void **state)
{
    rst_ts_rule r;
    assert_int_equal(rst_ts_rule_parse("ts1:/srv/a//b/./c/", &r), PC_OK);
    assert_string_equal(r.name, "ts1");
    assert_string_equal(r.location, "/srv/a/b/c");
    rst_ts_rule_free(&r);
    /* split at the first ':' only, as barman does */
    assert_int_equal(rst_ts_rule_parse("ts1:/srv/a:b/../c", &r), PC_OK);
    assert_string_equal(r.location, "/srv/c");
    rst_ts_rule_free(&r);
    assert_int_equal(rst_ts_rule_parse("16385:/", &r), PC_OK);
    assert_string_equal(r.name, "16385");
    assert_string_equal(r.location, "/");
    rst_ts_rule_free(&r);
    assert_int_equal(rst_ts_rule_parse("ts:rel/dir", &r), PC_OK);
    assert_int_equal(r.location[0], '/');
    assert_non_null(strstr(r.location, "/rel/dir"));
    rst_ts_rule_free(&r);
    static const char *const bad[] = {"ts1", ":/x", "ts1:", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rst_ts_rule_parse(bad[i], &r), PC_E_USAGE);
        char want[128];
        snprintf(want, sizeof want, "invalid tablespace relocation rule \"%s\"", bad[i]);
        assert_string_equal(pc_err_get()->message, want);
        assert_null(r.name);
    }
    char *p;
    assert_int_equal(rst_abs_path("/a/../../b/.//c/..", &p), PC_OK);
    assert_string_equal(p, "/b");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_long_name),
        cmocka_unit_test(test_archive_names),
        cmocka_unit_test(test_ts_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
