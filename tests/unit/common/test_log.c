#include "testutil.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"

static int reset(void **state)
{
    pc_log_set_format(PC_LOG_TEXT);
    pc_log_set_level(PC_LOG_WARNING);
    pc_log_set_tag(NULL);
    return 0;
}

/* Match `line` against an extended regular expression with "PID" replaced by our pid. */
static void assert_matches(const char *line, const char *pattern)
{
    char pid[16], re_text[4096];
    const char *at = strstr(pattern, "PID");
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if (at)
        snprintf(re_text, sizeof re_text, "%.*s%s%s", (int)(at - pattern), pattern, pid, at + 3);
    else
        snprintf(re_text, sizeof re_text, "%s", pattern);
    regex_t re;
    assert_int_equal(regcomp(&re, re_text, REG_EXTENDED | REG_NOSUB), 0);
    int r = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    if (r != 0)
        fail_msg("line <%s> does not match <%s>", line, re_text);
}

#define TEXT_PREFIX                                                                                \
    "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} UTC \\[PID\\] "
#define JSON_PREFIX                                                                                \
    "^\\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\","

static void test_levels(void **state)
{
    assert_int_equal(pc_log_get_level(), PC_LOG_WARNING);
    assert_true(pc_log_enabled(PC_LOG_ERROR));
    assert_true(pc_log_enabled(PC_LOG_WARNING));
    assert_false(pc_log_enabled(PC_LOG_INFO));

    tu_capture_begin();
    pc_info("not shown");
    pc_debug("not shown");
    pc_warn("shown %d", 1);
    pc_error_log("shown %d", 2);
    pc_log_set_level(PC_LOG_OFF);
    pc_error_log("not shown");
    assert_false(pc_log_enabled(PC_LOG_ERROR));
    pc_log_set_level(PC_LOG_TRACE);
    pc_log(PC_LOG_TRACE, "trace");
    char *out = tu_capture_end();

    char *save = NULL;
    char *l1 = strtok_r(out, "\n", &save);
    char *l2 = strtok_r(NULL, "\n", &save);
    char *l3 = strtok_r(NULL, "\n", &save);
    assert_non_null(l3);
    assert_null(strtok_r(NULL, "\n", &save));
    assert_matches(l1, TEXT_PREFIX "WARNING: shown 1$");
    assert_matches(l2, TEXT_PREFIX "ERROR: shown 2$");
    assert_matches(l3, TEXT_PREFIX "TRACE: trace$");
    free(out);
}

static void test_text_fields(void **state)
{
    pc_log_field f[] = {
        PC_F_STR("wal", "000000010000000000000001"),
        PC_F_INT("n", -3),
        PC_F_UINT("bytes", 18446744073709551615ULL),
        PC_F_DBL("secs", 1.5),
        PC_F_BOOL("ok", true),
        PC_F_STR("path", "a b\"c"),
        PC_F_STR("evil", "x\nERROR: forged"),
        PC_F_STR("none", NULL),
    };
    tu_capture_begin();
    pc_log_fields(PC_LOG_WARNING, f, sizeof f / sizeof f[0], "archived %s", "it");
    char *out = tu_capture_end();
    /* one line: a newline inside a value is escaped, never written raw */
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
    assert_matches(out, TEXT_PREFIX "WARNING: archived it wal=000000010000000000000001 n=-3 "
                                    "bytes=18446744073709551615 secs=1\\.500 ok=true "
                                    "path=\"a b\\\\\"c\" evil=\"x\\\\nERROR: forged\" none=\n$");
    free(out);
}

static void test_json_line(void **state)
{
    pc_log_set_format(PC_LOG_JSON);
    pc_log_set_tag("wal-archive");
    pc_log_field f[] = {
        PC_F_STR("wal", "000000010000000000000001"),
        PC_F_INT("n", -3),
        PC_F_UINT("bytes", 42),
        PC_F_DBL("secs", 0.25),
        PC_F_BOOL("ok", false),
        PC_F_STR("none", NULL),
    };
    tu_capture_begin();
    pc_log_fields(PC_LOG_WARNING, f, sizeof f / sizeof f[0], "archived");
    char *out = tu_capture_end();
    assert_matches(out, JSON_PREFIX "\"level\":\"warning\",\"pid\":PID,\"command\":\"wal-archive\","
                                    "\"msg\":\"archived\",\"wal\":\"000000010000000000000001\","
                                    "\"n\":-3,\"bytes\":42,\"secs\":0\\.25,\"ok\":false,"
                                    "\"none\":null\\}\n$");
    free(out);
}

static void test_json_escaping(void **state)
{
    pc_log_set_format(PC_LOG_JSON);
    pc_log_set_level(PC_LOG_INFO);
    tu_capture_begin();
    /* quotes, backslash, control characters, invalid UTF-8 (0xFF, a lone continuation byte) and
     * valid UTF-8 */
    pc_info("q\"b\\n\nt\tc\x01 bad\xff\x80 ok\xc3\xa9");
    char *out = tu_capture_end();
    const char *msg = strstr(out, "\"msg\":");
    assert_non_null(msg);
    assert_string_equal(msg, "\"msg\":\"q\\\"b\\\\n\\nt\\tc\\u0001 bad\xef\xbf\xbd\xef\xbf\xbd "
                             "ok\xc3\xa9\"}\n");
    /* and the line is a JSON document a strict parser accepts */
    pc_json *root;
    assert_int_equal(pc_json_parse(out, strlen(out), 4096, "log line", &root), PC_OK);
    assert_string_equal(pc_json_get_str(root, "msg"),
                        "q\"b\\n\nt\tc\x01 bad\xef\xbf\xbd\xef\xbf\xbd ok\xc3\xa9");
    assert_string_equal(pc_json_get_str(root, "level"), "info");
    pc_json_free(root);
    free(out);
}

static void test_errno_kept(void **state)
{
    tu_capture_begin();
    errno = ENOSPC;
    pc_warn("write failed: %m");
    int after = errno;
    char *out = tu_capture_end();
    assert_int_equal(after, ENOSPC);
    assert_matches(out, TEXT_PREFIX "WARNING: write failed: No space left on device\n$");
    free(out);
}

static void test_raw_line(void **state)
{
    pc_log_set_level(PC_LOG_OFF);
    tu_capture_begin();
    pc_log_raw_line("raw\n", 4); /* written whatever the level: callers decide */
    char *out = tu_capture_end();
    assert_string_equal(out, "raw\n");
    free(out);
}

static void test_format_getters(void **state)
{
    pc_log_set_format(PC_LOG_JSON);
    assert_int_equal(pc_log_get_format(), PC_LOG_JSON);
    pc_log_set_tag("backup");
    assert_string_equal(pc_log_get_tag(), "backup");
    pc_log_set_tag(NULL);
    assert_null(pc_log_get_tag());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_levels, reset),
        cmocka_unit_test_setup(test_text_fields, reset),
        cmocka_unit_test_setup(test_json_line, reset),
        cmocka_unit_test_setup(test_json_escaping, reset),
        cmocka_unit_test_setup(test_errno_kept, reset),
        cmocka_unit_test_setup(test_raw_line, reset),
        cmocka_unit_test_setup(test_format_getters, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
