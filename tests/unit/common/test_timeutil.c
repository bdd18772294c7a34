#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/timeutil.h"

#define S 1000000LL /* microseconds per second */

static void test_parse_accepted(void **state)
{
    static const struct {
        const char *text;
        int64_t us;
    } cases[] = {
        {"2026-11-21 10:00:00", 1795255200 * S},
        {"2026-11-21T10:00:00", 1795255200 * S},
        {"2026-11-21T10:00:00Z", 1795255200 * S},
        {"2026-11-21T10:00:00z", 1795255200 * S},
        {"2026-11-21 10:00:00 UTC", 1795255200 * S},
        {"  2026-11-21 10:00:00  ", 1795255200 * S},
        {"2026-11-21T10:00:00.5Z", 1795255200 * S + 500000},
        {"2026-11-21 10:00:00,25", 1795255200 * S + 250000},
        {"2026-11-21 10:00:00.123456", 1795255200 * S + 123456},
        {"2026-11-21 10:00:00.1234569", 1795255200 * S + 123456}, /* beyond microseconds: cut */
        {"2026-11-21 10:00:00+02", 1795248000 * S},
        {"2026-11-21 10:00:00 +02", 1795248000 * S},
        {"2026-11-21 10:00:00+02:00", 1795248000 * S},
        {"2026-11-21 10:00:00+05:30", 1795235400 * S},
        {"2026-11-21 10:00:00+0530", 1795235400 * S},
        {"2026-11-21 10:00:00-03:30", 1795267800 * S},
        {"2026-11-21 10:00:00.5-03:30", 1795267800 * S + 500000},
        {"2026-11-21 10:00:00+15:59", (1795255200 - 15 * 3600 - 59 * 60) * S},
        {"2026-11-21 10:00", 1795255200 * S},
        {"2026-11-21", 1795219200 * S},
        {"2024-02-29", 1709164800 * S},         /* leap year */
        {"2000-02-29 23:59:59", 951868799 * S}, /* divisible by 400: leap */
        {"1970-01-01", 0},
        {"1969-12-31 23:59:59", -1 * S},
        {"2026-12-31 23:59:60", 1798761600 * S}, /* a leap second rolls over */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t us = 42;
        if (pc_time_parse(cases[i].text, &us) != PC_OK)
            fail_msg("\"%s\" rejected: %s", cases[i].text, pc_err_get()->message);
        if (us != cases[i].us)
            fail_msg("\"%s\" gave %lld, want %lld", cases[i].text, (long long)us,
                     (long long)cases[i].us);
    }
}

static void test_parse_rejected(void **state)
{
    static const char *bad[] = {
        "",
        "   ",
        "2026",
        "2026-11",
        "26-11-21",
        "2026/11/21",
        "2026-11-21T",
        "2026-11-21 10",
        "2026-11-21 10:",
        "2026-11-21 1:00",
        "2026-11-21 10:00:00.",
        "2026-11-21 10:00:00 junk",
        "2026-11-21 10:00:00Zjunk",
        "2026-11-21 10:00:00+2",
        "2026-11-21 10:00:00+02:0",
        "2026-11-21 10:00:00+16",
        "2026-11-21 10:00:00+02:60",
        "2026-11-21 10:00:00 CET",
        "2026-02-29",
        "1900-02-29",
        "2026-04-31",
        "2026-13-01",
        "2026-00-10",
        "2026-11-00",
        "2026-11-21 24:00:00",
        "2026-11-21 10:60:00",
        "2026-11-21 10:00:61",
        "2026-11-21t10:00:00",
        "1795255200",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        char want[128];
        pc_err_clear();
        if (pc_time_parse(bad[i], &us) != PC_E_USAGE)
            fail_msg("\"%s\" accepted as %lld", bad[i], (long long)us);
        assert_int_equal(us, 42);
        snprintf(want, sizeof want, "invalid timestamp \"%s\"", bad[i]);
        tu_assert_err(PC_E_USAGE, want);
        assert_string_equal(pc_err_get()->hint,
                            "Use the form 2026-11-21 10:00:00[.ffffff][+HH[:MM]] "
                            "(UTC when no zone is given).");
    }
}

static void test_formats(void **state)
{
    char out[64];
    const int64_t t = 1795255200 * S;      /* Sat 2026-11-21 10:00:00 UTC */
    const int64_t t2 = 1793523903 * S + 7; /* Sun 2026-11-01 09:05:03.000007 UTC */

    pc_time_iso8601(t, false, out, sizeof out);
    assert_string_equal(out, "2026-11-21T10:00:00Z");
    pc_time_iso8601(t + 123456, true, out, sizeof out);
    assert_string_equal(out, "2026-11-21T10:00:00.123456+00:00");
    pc_time_iso8601(t + 123456, false, out, sizeof out);
    assert_string_equal(out, "2026-11-21T10:00:00Z");
    pc_time_iso8601(-1, true, out, sizeof out);
    assert_string_equal(out, "1969-12-31T23:59:59.999999+00:00");

    pc_time_barman(t, out, sizeof out);
    assert_string_equal(out, "2026-11-21 10:00:00+00:00");
    pc_time_barman(t2, out, sizeof out);
    assert_string_equal(out, "2026-11-01 09:05:03.000007+00:00");

    pc_time_ctime(t, out, sizeof out);
    assert_string_equal(out, "Sat Nov 21 10:00:00 2026");
    pc_time_ctime(t2, out, sizeof out);
    assert_string_equal(out, "Sun Nov  1 09:05:03 2026");

    pc_time_backup_id(t + 999999, out, sizeof out);
    assert_string_equal(out, "20261121T100000");
    pc_time_backup_id(t2, out, sizeof out);
    assert_string_equal(out, "20261101T090503");

    /* formats and the parser agree */
    int64_t back;
    pc_time_barman(t2, out, sizeof out);
    assert_int_equal(pc_time_parse(out, &back), PC_OK);
    assert_int_equal(back, t2);
    pc_time_iso8601(t, false, out, sizeof out);
    assert_int_equal(pc_time_parse(out, &back), PC_OK);
    assert_int_equal(back, t);
}

static void test_fake_now(void **state)
{
    setenv("PGCASK_FAKE_NOW", "1795255200", 1);
    assert_int_equal(pc_now_us(), 1795255200 * S);
    setenv("PGCASK_FAKE_NOW", "not-a-number", 1);
    int64_t real = pc_now_us();
    assert_true(real > 1700000000 * S); /* ignored: the real clock */
    unsetenv("PGCASK_FAKE_NOW");
    assert_true(pc_now_us() >= real);
}

static void test_clocks(void **state)
{
    int64_t a = pc_now_mono_us(), ams = pc_now_mono_ms();
    pc_sleep_ms(20);
    pc_sleep_ms(0);
    pc_sleep_ms(-5);
    int64_t b = pc_now_mono_us();
    assert_true(b - a >= 20000);
    assert_true(b - a < 2000000);
    assert_true(pc_now_mono_ms() - ams >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepted), cmocka_unit_test(test_parse_rejected),
        cmocka_unit_test(test_formats),        cmocka_unit_test(test_fake_now),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
