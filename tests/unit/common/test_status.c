#include "testutil.h"

#include "common/status.h"

static void test_names(void **state)
{
    static const struct {
        pc_status st;
        const char *name;
        int barman;
    } cases[] = {
        {PC_OK, "ok", 0},
        {PC_E_NOT_FOUND, "not-found", 1},
        {PC_E_CONNECT, "connect", 2},
        {PC_E_USAGE, "usage", 3},
        {PC_E_INTERNAL, "internal", 4},
        {PC_E_AUTH, "auth", 4},
        {PC_E_NO_BUCKET, "no-bucket", 4},
        {PC_E_CONFLICT, "conflict", 4},
        {PC_E_CORRUPT, "corrupt", 4},
        {PC_E_IO, "io", 4},
        {PC_E_TIMEOUT, "timeout", 4},
        {PC_E_NOT_EMPTY, "not-empty", 1},
        {PC_E_BUSY, "busy", 4},
        {PC_E_AUDIT, "audit", 1},
        {PC_E_PG, "postgres", 4},
        {PC_E_REMOTE, "remote", 4},
        {PC_E_INTERRUPTED, "interrupted", 4},
        {PC_E_CONFIG, "config", 3},
    };
    assert_int_equal(sizeof cases / sizeof cases[0], PC_STATUS_MAX + 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* the numbers are exit codes documented to users */
        assert_int_equal((int)cases[i].st, (int)i);
        assert_string_equal(pc_status_name(cases[i].st), cases[i].name);
        assert_int_equal(pc_status_barman_exit(cases[i].st), cases[i].barman);
    }
}

static void test_unknown_value(void **state)
{
    pc_status bogus = (pc_status)(PC_STATUS_MAX + 1);
    assert_string_equal(pc_status_name(bogus), "unknown");
    assert_int_equal(pc_status_barman_exit(bogus), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_unknown_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
