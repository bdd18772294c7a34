#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"

static int reset(void **state)
{
    pc_err_clear();
    pc_log_set_format(PC_LOG_TEXT);
    pc_log_set_level(PC_LOG_WARNING);
    pc_log_set_tag(NULL);
    return 0;
}

static void test_record(void **state)
{
    assert_int_equal(pc_err_get()->status, PC_OK);
    assert_string_equal(pc_err_get()->message, "");

    errno = ENOENT;
    assert_int_equal(pc_err(PC_E_IO, "could not open \"%s\": %m", "/x/y"), PC_E_IO);
    assert_int_equal(errno, ENOENT); /* left as found */
    tu_assert_err(PC_E_IO, "could not open \"/x/y\": No such file or directory");
    assert_int_equal(pc_err_get()->sys_errno, ENOENT);
    assert_string_equal(pc_err_get()->detail, "");
    assert_string_equal(pc_err_get()->hint, "");

    errno = EACCES;
    pc_err_detail("mode is %o", 0400);
    pc_err_hint("Fix it: %m");
    assert_int_equal(errno, EACCES);
    assert_string_equal(pc_err_get()->detail, "mode is 400");
    assert_string_equal(pc_err_get()->hint, "Fix it: Permission denied");

    /* a new error replaces the old one entirely */
    errno = 0;
    pc_err(PC_E_CORRUPT, "bad");
    tu_assert_err(PC_E_CORRUPT, "bad");
    assert_int_equal(pc_err_get()->sys_errno, 0);
    assert_string_equal(pc_err_get()->detail, "");
    assert_string_equal(pc_err_get()->hint, "");

    pc_err_clear();
    tu_assert_err(PC_OK, "");
}

static void test_context(void **state)
{
    pc_err(PC_E_REMOTE, "HTTP 503");
    pc_err_context("uploading %s", "000000010000000000000001");
    pc_err_context("wal-archive");
    tu_assert_err(PC_E_REMOTE, "wal-archive: uploading 000000010000000000000001: HTTP 503");
}

static void test_truncation(void **state)
{
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pc_err(PC_E_IO, "%s", big);
    assert_int_equal(strlen(pc_err_get()->message), PC_ERR_MSG_MAX - 1);

    /* a long context on a long message keeps the context and stays terminated */
    pc_err_context("%s", big);
    const char *m = pc_err_get()->message;
    assert_true(strlen(m) < PC_ERR_MSG_MAX);
    assert_int_equal(m[PC_ERR_MSG_MAX / 2 - 1], ':');
    assert_int_equal(m[PC_ERR_MSG_MAX / 2], ' ');
}

static void *thread_fail(void *arg)
{
    pc_error *out = arg;
    pc_err(PC_E_TIMEOUT, "worker timed out");
    pc_err_hint("raise --read-timeout");
    pc_err_save(out);
    return NULL;
}

static void test_save_restore_across_threads(void **state)
{
    pc_error saved;
    pthread_t t;
    pc_err(PC_E_IO, "main thread error");
    assert_int_equal(pthread_create(&t, NULL, thread_fail, &saved), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* the record is per thread: the worker's error did not touch ours */
    tu_assert_err(PC_E_IO, "main thread error");
    pc_err_restore(&saved);
    tu_assert_err(PC_E_TIMEOUT, "worker timed out");
    assert_string_equal(pc_err_get()->hint, "raise --read-timeout");
    /* restoring the live record onto itself is harmless */
    pc_err_restore(pc_err_get());
    tu_assert_err(PC_E_TIMEOUT, "worker timed out");
}

static void test_print_text(void **state)
{
    pc_err(PC_E_CONFLICT, "\"%s\" already exists with different content", "wals/x");
    pc_err_detail("stored sha256 ab, new cd");
    pc_err_hint("Investigate before removing anything.");
    tu_capture_begin();
    pc_err_print(pc_err_get());
    char *out = tu_capture_end();
    assert_string_equal(out, "error: \"wals/x\" already exists with different content\n"
                             "DETAIL: stored sha256 ab, new cd\n"
                             "HINT: Investigate before removing anything.\n");
    free(out);

    /* a status without a message prints its name */
    pc_error e = {.status = PC_E_AUTH};
    tu_capture_begin();
    pc_err_print(&e);
    out = tu_capture_end();
    assert_string_equal(out, "error: auth\n");
    free(out);

    pc_log_set_level(PC_LOG_OFF);
    tu_capture_begin();
    pc_err_print(pc_err_get());
    out = tu_capture_end();
    assert_string_equal(out, "");
    free(out);
}

static void test_print_json(void **state)
{
    pc_log_set_format(PC_LOG_JSON);
    pc_err(PC_E_NOT_FOUND, "WAL \"%s\" not found", "00000001000000000000000A");
    pc_err_hint("h");
    tu_capture_begin();
    pc_err_print(pc_err_get());
    char *out = tu_capture_end();
    const char *rest = strstr(out, "\",\"level\"");
    assert_non_null(rest);
    assert_memory_equal(out, "{\"time\":\"", 9);
    char want[256];
    snprintf(want, sizeof want,
             "\",\"level\":\"error\",\"pid\":%d,\"msg\":\"WAL \\\"00000001000000000000000A\\\" not "
             "found\",\"status\":\"not-found\",\"code\":1,\"hint\":\"h\"}\n",
             (int)getpid());
    assert_string_equal(rest, want);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_record, reset),
        cmocka_unit_test_setup(test_context, reset),
        cmocka_unit_test_setup(test_truncation, reset),
        cmocka_unit_test_setup(test_save_restore_across_threads, reset),
        cmocka_unit_test_setup(test_print_text, reset),
        cmocka_unit_test_setup(test_print_json, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
