/* Backup selection: ids, names, shortcuts, and auto with time / LSN / timeline (barman's rules). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "restore/rst_int.h"

/* A catalog as cat_store_load leaves it: sorted by id. */
static const struct {
    const char *id;
    const char *text;
} fixtures[] = {
    {"20260101T000000", "status=DONE\nend_time=2026-01-01 00:10:00+00:00\nend_xlog=0/3000100\n"
                        "timeline=1\nbackup_name=monthly\n"},
    {"20260102T000000", "status=DONE\nend_time=2026-01-02 00:10:00+00:00\nend_xlog=0/5000100\n"
                        "timeline=1\nbackup_name=twice\n"},
    {"20260103T000000", "status=FAILED\nend_time=None\nend_xlog=None\ntimeline=1\n"},
    {"20260104T000000", "status=DONE\nend_time=2026-01-04 00:10:00+00:00\nend_xlog=0/9000100\n"
                        "timeline=2\nbackup_name=twice\n"},
    {"20260105T000000", "status=DONE\nend_time=2026-01-05 02:10:00+02:00\nend_xlog=0/B000100\n"
                        "timeline=2\n"},
    {"20260106T000000", "status=STARTED\nend_time=None\nend_xlog=None\ntimeline=2\n"},
    {"20260107T000000", "status=FAILED\nend_time=None\nend_xlog=None\ntimeline=2\n"},
    {"20260108T000000", "status=WAITING_FOR_WALS\nend_time=2026-01-08 00:10:00+00:00\n"
                        "end_xlog=0/F000100\ntimeline=3\n"},
};
#define NFIX (sizeof fixtures / sizeof fixtures[0])

static cat_store cat;

static int setup(void **state)
{
    cat.v = calloc(NFIX, sizeof *cat.v);
    assert_non_null(cat.v);
    for (size_t i = 0; i < NFIX; i++) {
        cat.v[i].id = strdup(fixtures[i].id);
        assert_int_equal(
            cat_binfo_parse(fixtures[i].text, strlen(fixtures[i].text), &cat.v[i].info), PC_OK);
    }
    cat.n = NFIX;
    return 0;
}

static int teardown(void **state)
{
    cat_store_free(&cat);
    return 0;
}

static const char *pick(const char *ref, const cat_sel *sel)
{
    static const cat_sel none = {0};
    const cat_store_backup *b = NULL;
    pc_err_clear();
    pc_status st = cat_store_select(&cat, "pg1", ref, sel ? sel : &none, &b);
    if (st) {
        assert_null(b);
        return NULL;
    }
    assert_non_null(b);
    return b->id;
}

static cat_sel at_time(const char *t)
{
    cat_sel s = {.has_time = true};
    assert_int_equal(pc_time_parse(t, &s.time_us), PC_OK);
    return s;
}

static cat_sel at_lsn(const char *l)
{
    cat_sel s = {.has_lsn = true};
    assert_int_equal(pc_lsn_parse(l, &s.lsn), PC_OK);
    return s;
}

static void test_ids_and_shortcuts(void **state)
{
    assert_string_equal(pick("20260102T000000", NULL), "20260102T000000");
    /* an id is returned whatever its status: the caller refuses what is not DONE */
    assert_string_equal(pick("20260103T000000", NULL), "20260103T000000");
    assert_null(pick("20990101T000000", NULL));
    assert_int_equal(pc_err_get()->status, PC_E_NOT_FOUND);
    assert_string_equal(pc_err_get()->message,
                        "backup \"20990101T000000\" of server \"pg1\" not found");

    /* newest / oldest DONE: the failed, started and waiting ones are skipped */
    assert_string_equal(pick("latest", NULL), "20260105T000000");
    assert_string_equal(pick("last", NULL), "20260105T000000");
    assert_string_equal(pick("oldest", NULL), "20260101T000000");
    assert_string_equal(pick("first", NULL), "20260101T000000");
    assert_string_equal(pick("last-failed", NULL), "20260107T000000");
    assert_true(cat_ref_is_keyword("auto"));
    assert_true(cat_ref_is_keyword("last-failed"));
    assert_false(cat_ref_is_keyword("monthly"));
}

static void test_names(void **state)
{
    assert_string_equal(pick("monthly", NULL), "20260101T000000");
    assert_null(pick("twice", NULL));
    assert_int_equal(pc_err_get()->status, PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "2 backups of server \"pg1\" are named \"twice\"");
    assert_null(pick("nosuchname", NULL));
    assert_int_equal(pc_err_get()->status, PC_E_NOT_FOUND);
    assert_string_equal(pc_err_get()->message,
                        "no backup of server \"pg1\" is named \"nosuchname\"");
}

static void test_auto(void **state)
{
    /* no target: the newest DONE */
    assert_string_equal(pick("auto", NULL), "20260105T000000");
    static const struct {
        const char *time;
        const char *want; /* NULL: none */
    } times[] = {
        {"2026-01-01 00:09:59", NULL},
        {"2026-01-01 00:10:00", "20260101T000000"}, /* end_time <= target */
        {"2026-01-03 12:00:00", "20260102T000000"}, /* the failed one in between is skipped */
        {"2026-01-05 00:09:59+00", "20260104T000000"},
        {"2026-01-05 02:10:00+02", "20260105T000000"}, /* zones compared as instants */
        {"2026-01-05 00:10:00", "20260105T000000"},
        {"2026-12-31", "20260105T000000"}, /* WAITING_FOR_WALS is not DONE */
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        cat_sel s = at_time(times[i].time);
        const char *got = pick("auto", &s);
        if (!times[i].want) {
            assert_null(got);
            assert_int_equal(pc_err_get()->status, PC_E_NOT_FOUND);
        } else {
            assert_non_null(got);
            assert_string_equal(got, times[i].want);
        }
    }
    cat_sel s = at_time("2026-01-01 00:09:59");
    assert_null(pick("auto", &s));
    assert_string_equal(pc_err_get()->message,
                        "no DONE backup of server \"pg1\" ending at or before "
                        "2026-01-01 00:09:59+00:00 (auto)");

    static const struct {
        const char *lsn, *want;
    } lsns[] = {
        {"0/30000FF", NULL},
        {"0/3000100", "20260101T000000"},
        {"0/8FFFFFF", "20260102T000000"},
        {"0/b000100", "20260105T000000"},
        {"FF/0", "20260105T000000"},
    };
    for (size_t i = 0; i < sizeof lsns / sizeof lsns[0]; i++) {
        cat_sel l = at_lsn(lsns[i].lsn);
        const char *got = pick("auto", &l);
        if (!lsns[i].want)
            assert_null(got);
        else
            assert_string_equal(got, lsns[i].want);
    }

    /* timeline: barman wants the backup's timeline to be exactly the target's */
    cat_sel t1 = {.has_tli = true, .tli = 1};
    assert_string_equal(pick("auto", &t1), "20260102T000000");
    cat_sel t2 = at_time("2026-01-04 12:00:00");
    t2.has_tli = true;
    t2.tli = 1;
    assert_string_equal(pick("auto", &t2), "20260102T000000");
    t2.tli = 2;
    assert_string_equal(pick("auto", &t2), "20260104T000000");
    cat_sel t3 = {.has_tli = true, .tli = 3};
    assert_null(pick("auto", &t3));
    assert_string_equal(pc_err_get()->message,
                        "no DONE backup of server \"pg1\" on timeline 3 (auto)");
    cat_sel l2 = at_lsn("0/9000100");
    l2.has_tli = true;
    l2.tli = 1;
    assert_string_equal(pick("auto", &l2), "20260102T000000");

    /* the shortcuts ignore the target */
    assert_string_equal(pick("latest", &t3), "20260105T000000");
}

static void test_empty_catalog(void **state)
{
    cat_store empty = {0};
    const cat_store_backup *b;
    static const cat_sel none = {0};
    assert_int_equal(cat_store_select(&empty, "pg1", "latest", &none, &b), PC_E_NOT_FOUND);
    assert_string_equal(pc_err_get()->message, "no DONE backup of server \"pg1\" (latest)");
    assert_int_equal(cat_store_select(&empty, "pg1", "auto", &none, &b), PC_E_NOT_FOUND);
    assert_int_equal(cat_store_select(&empty, "pg1", "last-failed", &none, &b), PC_E_NOT_FOUND);
    assert_string_equal(pc_err_get()->message, "no FAILED backup of server \"pg1\" (last-failed)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_shortcuts),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_empty_catalog),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
