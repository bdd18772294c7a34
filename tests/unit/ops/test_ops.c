/*
 * archiver/ops_*: retention policy grammar and reports (barman's rules), the
 * WAL deletion rule, keep annotations, and barman's JSON/console outputs
 * checked byte for byte against what barman 3.17 prints for the same
 * backup.info (barman_fixtures.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "archiver/ops.h"
#include "archiver/ops_int.h"
#include "common/error.h"
#include "common/timeutil.h"

#include "barman_fixtures.h"

#define DAY ((int64_t)86400 * 1000000)

/* ---- policies ---- */

static void check_policy(const char *text, ops_policy_kind kind, int64_t value, char unit,
                         const char *formatted)
{
    ops_policy p;
    char out[96];
    assert_int_equal(ops_policy_parse(text, &p), PC_OK);
    assert_int_equal(p.kind, kind);
    assert_int_equal(p.value, value);
    if (kind == OPS_POLICY_WINDOW)
        assert_int_equal(p.unit, unit);
    ops_policy_format(&p, out, sizeof out);
    assert_string_equal(out, formatted);
}

static void test_policy_parse(void **state)
{
    (void)state;
    check_policy("REDUNDANCY 2", OPS_POLICY_REDUNDANCY, 2, 0, "REDUNDANCY 2");
    check_policy("  redundancy   10 ", OPS_POLICY_REDUNDANCY, 10, 0, "REDUNDANCY 10");
    check_policy("REDUNDANCY 0", OPS_POLICY_REDUNDANCY, 0, 0, "REDUNDANCY 0");
    check_policy("RECOVERY WINDOW OF 30 DAYS", OPS_POLICY_WINDOW, 30, 'd',
                 "RECOVERY WINDOW OF 30 DAYS");
    check_policy("recovery window of 1 day", OPS_POLICY_WINDOW, 1, 'd',
                 "RECOVERY WINDOW OF 1 DAYS");
    check_policy("Recovery  Window\tOf 4 Weeks", OPS_POLICY_WINDOW, 4, 'w',
                 "RECOVERY WINDOW OF 4 WEEKS");
    check_policy("RECOVERY WINDOW OF 3 MONTH", OPS_POLICY_WINDOW, 3, 'm',
                 "RECOVERY WINDOW OF 3 MONTHS");
    /* CloudNativePG's retentionPolicy */
    check_policy("30d", OPS_POLICY_WINDOW, 30, 'd', "RECOVERY WINDOW OF 30 DAYS");
    check_policy("4w", OPS_POLICY_WINDOW, 4, 'w', "RECOVERY WINDOW OF 4 WEEKS");
    check_policy("3m", OPS_POLICY_WINDOW, 3, 'm', "RECOVERY WINDOW OF 3 MONTHS");

    static const char *bad[] = {"",
                                "REDUNDANCY",
                                "REDUNDANCY -1",
                                "REDUNDANCY 2 backups",
                                "REDUNDANCY2",
                                "RECOVERY WINDOW OF 3 YEARS",
                                "RECOVERY WINDOW 3 DAYS",
                                "RECOVERY WINDOW OF DAYS",
                                "RECOVERY WINDOW OF 3DAYS",
                                "0d",
                                "30",
                                "30x",
                                "30 d",
                                "d30",
                                "REDUNDANCY 99999999999999999999",
                                "keep everything"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ops_policy p;
        assert_int_equal(ops_policy_parse(bad[i], &p), PC_E_USAGE);
        assert_non_null(strstr(pc_err_get()->message, "invalid retention policy"));
        assert_true(pc_err_get()->hint[0] != '\0');
        pc_err_clear();
    }
}

static void test_window_start(void **state)
{
    (void)state;
    ops_policy p;
    int64_t now = 100 * 365 * DAY;
    assert_int_equal(ops_policy_parse("RECOVERY WINDOW OF 2 MONTHS", &p), PC_OK);
    assert_int_equal(ops_policy_window_start(&p, now), now - 62 * DAY); /* a month is 31 days */
    assert_int_equal(ops_policy_parse("3w", &p), PC_OK);
    assert_int_equal(ops_policy_window_start(&p, now), now - 21 * DAY);
    assert_int_equal(ops_policy_parse("RECOVERY WINDOW OF 5 DAYS", &p), PC_OK);
    assert_int_equal(ops_policy_window_start(&p, now), now - 5 * DAY);
}

/* ---- reports ---- */

#define B(id_, done_, end_, keep_)                                                                 \
    {                                                                                              \
        .id = id_, .done = done_, .end_time = end_, .keep = keep_                                  \
    }

static void expect_report(const char *policy, const ops_rp_backup *v, size_t n, int64_t now,
                          int64_t minred, const char *const *want)
{
    ops_policy p;
    ops_rp_status st[16];
    assert_int_equal(ops_policy_parse(policy, &p), PC_OK);
    assert_int_equal(ops_policy_report(&p, v, n, now, minred, st), PC_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ops_rp_status_name(st[i]), want[i]) != 0)
            fail_msg("%s, minimum redundancy %lld: backup %s is %s, expected %s", policy,
                     (long long)minred, v[i].id, ops_rp_status_name(st[i]), want[i]);
    }
}

static void test_report_redundancy(void **state)
{
    (void)state;
    const ops_rp_backup v[] = {
        B("20260101T000000", true, 1 * DAY, OPS_KEEP_NONE),
        B("20260102T000000", true, 2 * DAY, OPS_KEEP_STANDALONE),
        B("20260103T000000", false, CAT_BINFO_NONE, OPS_KEEP_NONE),
        B("20260104T000000", true, 4 * DAY, OPS_KEEP_NONE),
        B("20260105T000000", true, 5 * DAY, OPS_KEEP_FULL),
        B("20260106T000000", true, 6 * DAY, OPS_KEEP_NONE),
        B("20260107T000000", false, CAT_BINFO_NONE, OPS_KEEP_NONE),
    };
    /* newest first: 06 counts 1, 05 (keep) 2, 04 3, 02 (keep) 4, 01 5 */
    const char *r2[] = {"OBSOLETE", "KEEP:STANDALONE", "-", "OBSOLETE", "KEEP:FULL", "VALID", "-"};
    expect_report("REDUNDANCY 2", v, 7, 10 * DAY, 0, r2);
    const char *r3[] = {"OBSOLETE", "KEEP:STANDALONE", "-", "VALID", "KEEP:FULL", "VALID", "-"};
    expect_report("REDUNDANCY 3", v, 7, 10 * DAY, 0, r3);
    /* the minimum redundancy raises a lower policy (barman warns and enforces it) */
    expect_report("REDUNDANCY 1", v, 7, 10 * DAY, 3, r3);
    const char *r0[] = {"OBSOLETE",  "KEEP:STANDALONE", "-", "OBSOLETE",
                        "KEEP:FULL", "OBSOLETE",        "-"};
    expect_report("REDUNDANCY 0", v, 7, 10 * DAY, 0, r0);
    ops_policy p;
    ops_rp_status st[7];
    assert_int_equal(ops_policy_parse("REDUNDANCY 1", &p), PC_OK);
    assert_int_equal(ops_policy_report(&p, v, 7, 0, -1, st), PC_E_USAGE);
    pc_err_clear();
}

static void test_report_window(void **state)
{
    (void)state;
    const ops_rp_backup v[] = {
        B("20260101T000000", true, 1 * DAY, OPS_KEEP_NONE),
        B("20260102T000000", true, 2 * DAY, OPS_KEEP_STANDALONE),
        B("20260103T000000", true, 3 * DAY, OPS_KEEP_NONE),
        B("20260104T000000", false, CAT_BINFO_NONE, OPS_KEEP_NONE),
        B("20260105T000000", true, 5 * DAY, OPS_KEEP_NONE),
        B("20260108T000000", true, 8 * DAY, OPS_KEEP_NONE),
    };
    /* now = day 10, window 4 days -> start day 6: 08 inside, 05 the newest before: both VALID */
    const char *w[] = {"OBSOLETE", "KEEP:STANDALONE", "OBSOLETE", "-", "VALID", "VALID"};
    expect_report("RECOVERY WINDOW OF 4 DAYS", v, 6, 10 * DAY, 0, w);
    /* minimum redundancy 3: one more past the window is kept as potentially obsolete */
    const char *m3[] = {"OBSOLETE", "KEEP:STANDALONE", "OBSOLETE*", "-", "VALID", "VALID"};
    expect_report("RECOVERY WINDOW OF 4 DAYS", v, 6, 10 * DAY, 3, m3);
    /* a window covering everything */
    const char *all[] = {"VALID", "KEEP:STANDALONE", "VALID", "-", "VALID", "VALID"};
    expect_report("RECOVERY WINDOW OF 2 WEEKS", v, 6, 10 * DAY, 0, all);
    /* a window covering nothing: the newest backup still counts */
    const char *none[] = {"OBSOLETE", "KEEP:STANDALONE", "OBSOLETE", "-", "OBSOLETE", "VALID"};
    expect_report("1d", v, 6, 100 * DAY, 0, none);
}

static void test_report_incremental(void **state)
{
    (void)state;
    ops_rp_backup v[] = {
        B("20260101T000000", true, 1 * DAY, OPS_KEEP_NONE),
        B("20260102T000000", true, 2 * DAY, OPS_KEEP_NONE),
        B("20260103T000000", true, 3 * DAY, OPS_KEEP_NONE),
        B("20260104T000000", true, 4 * DAY, OPS_KEEP_NONE),
        B("20260105T000000", true, 5 * DAY, OPS_KEEP_NONE),
    };
    v[1].parent = "20260101T000000"; /* incremental of the first */
    v[3].parent = "20260103T000000";
    v[4].parent = "20260199T000000"; /* root unknown: never judged */
    /* full backups only count: 03 is VALID (1), 01 OBSOLETE; children follow their root */
    const char *r[] = {"OBSOLETE", "OBSOLETE", "VALID", "VALID", "-"};
    expect_report("REDUNDANCY 1", v, 5, 10 * DAY, 0, r);
}

/* ---- the WAL rule ---- */

#define W(id_, b_, e_, tli_, anchor_, keep_)                                                       \
    {                                                                                              \
        .id = id_, .begin_wal = b_, .end_wal = e_, .timeline = tli_, .anchor = anchor_,            \
        .keep = keep_                                                                              \
    }

static void test_wal_rule(void **state)
{
    (void)state;
    ops_wal_rule r;
    const ops_wal_rule_backup rem[] = {
        W("20260103T000000", "000000010000000000000010", "000000010000000000000011", 1, true,
          OPS_KEEP_NONE),
        W("20260101T000000", "000000010000000000000004", "000000010000000000000005", 1, false,
          OPS_KEEP_STANDALONE),
        W("20260105T000000", "000000020000000000000020", "000000020000000000000020", 2, true,
          OPS_KEEP_NONE),
    };
    assert_int_equal(ops_wal_rule_build(rem, 3, NULL, 0, "000000010000000000000008", &r), PC_OK);
    assert_string_equal(r.bound, "000000010000000000000010");
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000003"));
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000002"));
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000003.partial"));
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000001.00000028.backup"));
    /* the standalone backup's own WAL, inclusive */
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000004"));
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000005"));
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000004.00000028.backup"));
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000006"));
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000007"));
    /* at and after first_required_wal */
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000008"));
    assert_false(ops_wal_rule_deletable(&r, "00000001000000000000000F"));
    /* what the anchor needs, and later */
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000010"));
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000099"));
    /* timeline 2 has a backup: protected entirely */
    assert_false(ops_wal_rule_deletable(&r, "000000020000000000000001"));
    /* never history files, never junk */
    assert_false(ops_wal_rule_deletable(&r, "00000001.history"));
    assert_false(ops_wal_rule_deletable(&r, "00000002.history"));
    assert_false(ops_wal_rule_deletable(&r, "junk"));
    ops_wal_rule_free(&r);
    /* without first_required, 3 goes */
    assert_int_equal(ops_wal_rule_build(rem, 3, NULL, 0, NULL, &r), PC_OK);
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000003"));
    assert_true(ops_wal_rule_deletable(&r, "00000001000000000000000F"));
    ops_wal_rule_free(&r);
}

static void test_wal_rule_no_anchor(void **state)
{
    (void)state;
    ops_wal_rule r;
    /* nothing remains: the newest deleted backup's begin bounds the deletion */
    const ops_wal_rule_backup del[] = {
        W("20260101T000000", "000000010000000000000004", "000000010000000000000005", 1, true,
          OPS_KEEP_NONE),
        W("20260102T000000", "000000010000000000000008", "000000010000000000000009", 1, true,
          OPS_KEEP_NONE),
    };
    assert_int_equal(ops_wal_rule_build(NULL, 0, del, 2, NULL, &r), PC_OK);
    assert_string_equal(r.bound, "000000010000000000000008");
    assert_true(ops_wal_rule_deletable(&r, "000000010000000000000007"));
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000008"));
    assert_false(ops_wal_rule_deletable(&r, "00000001000000000000000A"));
    ops_wal_rule_free(&r);
    /* nothing remains, nothing deleted: nothing goes */
    assert_int_equal(ops_wal_rule_build(NULL, 0, NULL, 0, NULL, &r), PC_OK);
    assert_string_equal(r.bound, "");
    assert_false(ops_wal_rule_deletable(&r, "000000010000000000000001"));
    ops_wal_rule_free(&r);
    /* a FAILED backup is no anchor, but its timeline stays protected */
    const ops_wal_rule_backup rem[] = {
        W("20260103T000000", "000000030000000000000020", NULL, 3, false, OPS_KEEP_NONE),
        W("20260104T000000", "000000020000000000000030", "000000020000000000000031", 2, true,
          OPS_KEEP_NONE),
    };
    assert_int_equal(ops_wal_rule_build(rem, 2, NULL, 0, NULL, &r), PC_OK);
    assert_string_equal(r.bound, "000000020000000000000030");
    assert_true(ops_wal_rule_deletable(&r, "00000001000000000000002F")); /* older timeline */
    assert_true(ops_wal_rule_deletable(&r, "00000002000000000000002F"));
    assert_false(ops_wal_rule_deletable(&r, "000000030000000000000001")); /* protected */
    ops_wal_rule_free(&r);
}

/* ---- keep ---- */

static void test_keep_parse(void **state)
{
    (void)state;
    assert_int_equal(ops_keep_parse("", 0), OPS_KEEP_NONE);
    assert_int_equal(ops_keep_parse("full", 4), OPS_KEEP_FULL);
    assert_int_equal(ops_keep_parse("standalone", 10), OPS_KEEP_STANDALONE);
    /* barman compares readline() with "standalone": anything else is kept in full */
    assert_int_equal(ops_keep_parse("standalone\n", 11), OPS_KEEP_FULL);
    assert_int_equal(ops_keep_parse("Standalone", 10), OPS_KEEP_FULL);
    assert_int_equal(ops_keep_parse("garbage", 7), OPS_KEEP_FULL);
    assert_string_equal(ops_keep_name(OPS_KEEP_FULL), "full");
    assert_string_equal(ops_keep_name(OPS_KEEP_STANDALONE), "standalone");
    assert_null(ops_keep_name(OPS_KEEP_NONE));
}

/* ---- barman's outputs ---- */

static void entry(ops_entry *e, const char *id, const char *text)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    assert_int_equal(cat_binfo_parse(text, strlen(text), &e->info), PC_OK);
}

static void test_barman_outputs(void **state)
{
    (void)state;
    ops_list l = {0};
    l.v = calloc(2, sizeof *l.v);
    l.n = 2;
    entry(&l.v[0], "20250601T100000", INFO_DONE);
    entry(&l.v[1], "20250602T100000", INFO_FAILED);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(ops_render_list_json(&l, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), LIST_JSON);
    pc_buf_reset(&out);
    assert_int_equal(ops_render_show_json(&l.v[0], &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), SHOW_JSON_DONE);
    pc_buf_reset(&out);
    assert_int_equal(ops_render_show_console(&l.v[0], &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), SHOW_TXT_DONE);
    pc_buf_reset(&out);
    assert_int_equal(ops_render_show_console(&l.v[1], &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), SHOW_TXT_FAILED);
    /* the console list: DONE backups only, barman's columns, the keep status */
    pc_buf_reset(&out);
    l.v[0].keep = OPS_KEEP_STANDALONE;
    assert_int_equal(ops_render_list_console(&l, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out),
                        "Backup ID           End Time                 Begin Wal                  "
                        "   Archival Status  Name                \n"
                        "20250601T100000     2025-06-01 12:00:05      000000010000000000000009   "
                        "   KEEP:STANDALONE  backup-\xc3\xa9"
                        "20250601100000\n");
    pc_buf_free(&out);
    ops_list_free(&l);
}

/* json.dumps(ensure_ascii=True): controls, DEL, quotes, non-BMP as surrogate pairs. */
static void test_pyjson_escapes(void **state)
{
    (void)state;
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    ops_pj j;
    ops_pj_init(&j, &out);
    ops_pj_obj_begin(&j);
    ops_pj_key(&j, "s");
    ops_pj_str(&j, "a\"b\\c\n\r\t\b\f\x01\x7f\xc3\xa9\xf0\x9f\x98\x80 ~");
    ops_pj_key(&j, "l");
    ops_pj_arr_begin(&j);
    ops_pj_int(&j, -3);
    ops_pj_dbl(&j, 0.1);
    ops_pj_dbl(&j, 1e22);
    ops_pj_dbl(&j, 5.0);
    ops_pj_null(&j);
    ops_pj_bool(&j, true);
    ops_pj_arr_end(&j);
    ops_pj_key(&j, "e");
    ops_pj_obj_begin(&j);
    ops_pj_obj_end(&j);
    ops_pj_obj_end(&j);
    assert_int_equal(ops_pj_end(&j), PC_OK);
    assert_string_equal(
        pc_buf_cstr(&out),
        "{\"s\": \"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u007f\\u00e9\\ud83d\\ude00 ~\", "
        "\"l\": [-3, 0.1, 1e+22, 5.0, null, true], \"e\": {}}");
    pc_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_parse),       cmocka_unit_test(test_window_start),
        cmocka_unit_test(test_report_redundancy),  cmocka_unit_test(test_report_window),
        cmocka_unit_test(test_report_incremental), cmocka_unit_test(test_wal_rule),
        cmocka_unit_test(test_wal_rule_no_anchor), cmocka_unit_test(test_keep_parse),
        cmocka_unit_test(test_barman_outputs),     cmocka_unit_test(test_pyjson_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
