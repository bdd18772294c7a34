/* Cron expressions: next firing times (checked against an independent brute-force scan) and errors.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/cron.h"
#include "common/error.h"
#include "common/timeutil.h"

static int64_t at(const char *text)
{
    int64_t us;
    assert_int_equal(pc_time_parse(text, &us), PC_OK);
    return us / 1000000;
}

static const struct {
    const char *expr, *start, *next;
} next_cases[] = {
    {"* * * * *", "2026-01-30 08:34:28", "2026-01-30 08:35:00"},
    {"* * * * *", "2026-01-30 08:34:00", "2026-01-30 08:35:00"},
    {"0 * * * *", "2026-01-30 08:34:00", "2026-01-30 09:00:00"},
    {"*/15 * * * *", "2026-01-30 08:34:28", "2026-01-30 08:45:00"},
    {"*/15 * * * *", "2026-01-30 08:45:00", "2026-01-30 09:00:00"},
    {"0 3 * * *", "2026-01-30 03:00:00", "2026-01-31 03:00:00"},
    {"0 0 1 * *", "2026-01-31 12:00:00", "2026-02-01 00:00:00"},
    {"0 0 31 * *", "2026-01-31 00:00:00", "2026-03-31 00:00:00"},
    {"0 0 31 * *", "2026-03-31 00:01:00", "2026-05-31 00:00:00"},
    {"0 0 29 2 *", "2026-01-01 00:00:00", "2028-02-29 00:00:00"},
    {"0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00:00"},
    {"0 0 29 2 *", "2000-01-01 00:00:00", "2000-02-29 00:00:00"},
    {"59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59:00"},
    {"0 0 1 1 *", "2026-12-31 23:59:59", "2027-01-01 00:00:00"},
    {"@yearly", "2026-06-15 10:00:00", "2027-01-01 00:00:00"},
    {"@annually", "2026-06-15 10:00:00", "2027-01-01 00:00:00"},
    {"@monthly", "2026-02-15 10:00:00", "2026-03-01 00:00:00"},
    {"@weekly", "2026-01-30 10:00:00", "2026-02-01 00:00:00"},
    {"@daily", "2026-01-30 08:00:00", "2026-01-31 00:00:00"},
    {"@midnight", "2026-01-30 08:00:00", "2026-01-31 00:00:00"},
    {"@hourly", "2026-01-30 08:00:00", "2026-01-30 09:00:00"},
    {"0 0 * * 1", "2026-01-30 00:00:00", "2026-02-02 00:00:00"},
    {"0 0 * * MON-FRI", "2026-01-30 10:00:00", "2026-02-02 00:00:00"},
    {"0 0 * * 7", "2026-01-30 10:00:00", "2026-02-01 00:00:00"},
    {"0 0 * * 0", "2026-01-30 10:00:00", "2026-02-01 00:00:00"},
    {"0 0 * * sun", "2026-01-30 10:00:00", "2026-02-01 00:00:00"},
    {"0 0 1 * 1", "2026-01-30 00:00:00", "2026-02-01 00:00:00"},
    {"0 0 1 * 1", "2026-02-01 00:00:00", "2026-02-02 00:00:00"},
    {"0 0 13 * 5", "2026-01-30 00:00:00", "2026-02-06 00:00:00"},
    {"0 0 */2 * 1", "2026-01-30 00:00:00", "2026-02-09 00:00:00"},
    {"0 0 1-7 * */7", "2026-01-30 00:00:00", "2026-02-01 00:00:00"},
    {"30 4 1,15 * 5", "2026-01-30 05:00:00", "2026-02-01 04:30:00"},
    {"0 12 * JAN,jul *", "2026-02-01 00:00:00", "2026-07-01 12:00:00"},
    {"0 0 1 feb-apr *", "2026-04-02 00:00:00", "2027-02-01 00:00:00"},
    {"1-30/5 * * * *", "2026-01-30 08:26:00", "2026-01-30 09:01:00"},
    {"0 */6 * * *", "2026-01-30 19:00:00", "2026-01-31 00:00:00"},
    {"15 14 1 * *", "2026-01-01 14:15:00", "2026-02-01 14:15:00"},
    {"0 22 * * 1-5", "2026-01-30 22:00:00", "2026-02-02 22:00:00"},
    {"23 0-20/2 * * *", "2026-01-30 20:23:00", "2026-01-31 00:23:00"},
    {"5 4 * * sun", "2026-01-30 00:00:00", "2026-02-01 04:05:00"},
    {"0 0,12 1 */2 *", "2026-01-01 12:00:00", "2026-03-01 00:00:00"},
    {"0 4 8-14 * *", "2026-01-14 04:00:00", "2026-02-08 04:00:00"},
    {"0 0 28-31 2 *", "2027-02-28 00:00:00", "2028-02-28 00:00:00"},
    {"0 0 31 2 1", "2026-01-30 00:00:00", "2026-02-02 00:00:00"},
    {"*/7 * * * *", "2026-01-30 08:56:30", "2026-01-30 09:00:00"},
    {"0 0 * * 6,0", "2026-01-30 00:00:00", "2026-01-31 00:00:00"},
    {"0 0 1 1 *", "1970-01-01 00:00:00", "1971-01-01 00:00:00"},
    {"0 0 29 2 1", "2027-03-01 00:00:00", "2028-02-07 00:00:00"},
    {"0 0 * * 5", "2026-12-31 00:00:00", "2027-01-01 00:00:00"},
    {"0 0 29 2 */7", "2026-01-01 00:00:00", "2032-02-29 00:00:00"},
    {"0 0 * 2 *", "2027-02-28 23:59:59", "2028-02-01 00:00:00"},
    {"0 0 29,30,31 * *", "2027-02-01 00:00:00", "2027-03-29 00:00:00"},
};

static void test_next_table(void **state)
{
    assert_true(sizeof next_cases / sizeof next_cases[0] >= 40);
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        pc_cron c;
        int64_t next = 0;
        if (pc_cron_parse(next_cases[i].expr, &c) != PC_OK)
            fail_msg("\"%s\": %s", next_cases[i].expr, pc_err_get()->message);
        assert_int_equal(pc_cron_next(&c, at(next_cases[i].start), &next), PC_OK);
        if (next != at(next_cases[i].next)) {
            char got[40];
            pc_time_iso8601(next * 1000000, false, got, sizeof got);
            fail_msg("\"%s\" after %s: got %s, want %s", next_cases[i].expr, next_cases[i].start,
                     got, next_cases[i].next);
        }
    }
}

/* Following next() from its own result walks the firing times one by one. */
static void test_next_chain(void **state)
{
    pc_cron c;
    assert_int_equal(pc_cron_parse("0 0 28-31 * *", &c), PC_OK);
    static const char *want[] = {"2026-01-28 00:00:00", "2026-01-29 00:00:00",
                                 "2026-01-30 00:00:00", "2026-01-31 00:00:00",
                                 "2026-02-28 00:00:00", "2026-03-28 00:00:00"};
    int64_t t = at("2026-01-27 23:59:59");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(pc_cron_next(&c, t, &t), PC_OK);
        assert_int_equal(t, at(want[i]));
    }
}

static void test_parse_bits(void **state)
{
    pc_cron c;
    assert_int_equal(pc_cron_parse("  1-30/5,59 0-23/6 */10 jan-MAR,Dec Mon-wed,7  ", &c), PC_OK);
    assert_int_equal(c.minutes, (1ULL << 1) | (1ULL << 6) | (1ULL << 11) | (1ULL << 16) |
                                    (1ULL << 21) | (1ULL << 26) | (1ULL << 59));
    assert_int_equal(c.hours, (1u << 0) | (1u << 6) | (1u << 12) | (1u << 18));
    assert_int_equal(c.mdays, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
    assert_int_equal(c.months, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    assert_int_equal(c.wdays, (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3));
    assert_true(c.mday_star);
    assert_false(c.wday_star);
    assert_int_equal(pc_cron_parse("@HOURLY", &c), PC_OK);
    assert_int_equal(c.minutes, 1);
    assert_int_equal(c.hours, 0xffffff);
    assert_int_equal(pc_cron_parse("0 0 * * 0-7", &c), PC_OK);
    assert_int_equal(c.wdays, 0x7f);
}

static void test_never_fires(void **state)
{
    static const char *never[] = {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */7"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        pc_cron c;
        int64_t next = 42;
        assert_int_equal(pc_cron_parse(never[i], &c), PC_OK);
        assert_int_equal(pc_cron_next(&c, at("2026-01-30 00:00:00"), &next), PC_E_USAGE);
        assert_non_null(strstr(pc_err_get()->message, "never fires"));
        assert_int_equal(next, 42);
    }
}

static void test_next_range(void **state)
{
    pc_cron c;
    int64_t next;
    assert_int_equal(pc_cron_parse("* * * * *", &c), PC_OK);
    assert_int_equal(pc_cron_next(&c, -1, &next), PC_E_USAGE);
    assert_int_equal(pc_cron_next(&c, INT64_MAX, &next), PC_E_USAGE);
    assert_int_equal(pc_cron_next(&c, 0, &next), PC_OK);
    assert_int_equal(next, 60);
}

static const struct {
    const char *expr, *message;
} bad_cases[] = {
    {"", "empty schedule"},
    {"   ", "empty schedule"},
    {"* * * *", "fewer than five fields"},
    {"* * * * * *", "more than five fields"},
    {"0 0 1 1 * 2026", "more than five fields"},
    {"60 * * * *", "minute field \"60\": value 60 out of range 0-59"},
    {"* 24 * * *", "hour field \"24\": value 24 out of range 0-23"},
    {"* * 0 * *", "day-of-month field \"0\": value 0 out of range 1-31"},
    {"* * 32 * *", "day-of-month field \"32\": value 32 out of range 1-31"},
    {"* * * 13 *", "month field \"13\": value 13 out of range 1-12"},
    {"* * * 0 *", "month field \"0\": value 0 out of range 1-12"},
    {"* * * * 8", "day-of-week field \"8\": value 8 out of range 0-7"},
    {"1-60 * * * *", "minute field \"1-60\": value 60 out of range 0-59"},
    {"*/0 * * * *", "minute field \"*/0\": invalid step"},
    {"*/61 * * * *", "minute field \"*/61\": invalid step"},
    {"*/ * * * *", "minute field \"*/\": invalid step"},
    {"5/15 * * * *", "minute field \"5/15\": a step needs a range or '*' before it"},
    {"* * * * SUN/2", "day-of-week field \"SUN/2\": a step needs a range or '*' before it"},
    {"10-5 * * * *", "minute field \"10-5\": range 10-5 goes backwards"},
    {"* * * * FRI-MON", "day-of-week field \"FRI-MON\": range 5-1 goes backwards"},
    {"a * * * *", "minute field \"a\": expected a number"},
    {"-1 * * * *", "minute field \"-1\": expected a number"},
    {"1-2-3 * * * *", "minute field \"1-2-3\": unexpected character"},
    {"1,,2 * * * *", "minute field \"1,,2\": empty list item"},
    {"1, * * * *", "minute field \"1,\": empty list item"},
    {",1 * * * *", "minute field \",1\": empty list item"},
    {"* * * JANUARY *", "month field \"JANUARY\": expected a number"},
    {"* * * * MON-", "day-of-week field \"MON-\": expected a number after '-'"},
    {"* * jan * *", "day-of-month field \"jan\": expected a number"},
    {"0 0 * * 1.5", "day-of-week field \"1.5\": unexpected character"},
    {"@reboot", "unknown macro"},
    {"@every 5m", "unknown macro"},
    {"garbage", "fewer than five fields"},
    {"99999999999 * * * *", "minute field \"99999999999\": expected a number"},
};

static void test_invalid(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        pc_cron c;
        if (pc_cron_parse(bad_cases[i].expr, &c) != PC_E_USAGE)
            fail_msg("\"%s\" was accepted", bad_cases[i].expr);
        const pc_error *e = pc_err_get();
        if (!strstr(e->message, bad_cases[i].message))
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad_cases[i].expr, e->message,
                     bad_cases[i].message);
        assert_int_equal(e->status, PC_E_USAGE);
        assert_true(e->hint[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table), cmocka_unit_test(test_next_chain),
        cmocka_unit_test(test_parse_bits), cmocka_unit_test(test_never_fires),
        cmocka_unit_test(test_next_range), cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
