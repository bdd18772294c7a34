#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/timeutil.h"

static int reset(void **state)
{
    pc_log_set_format(PC_LOG_JSON);
    pc_log_set_level(PC_LOG_WARNING); /* the default: progress lines must appear anyway */
    pc_log_set_tag(NULL);
    setenv("PGCASK_PROGRESS_INTERVAL_MS", "0", 1);
    return 0;
}

static int cleanup(void **state)
{
    unsetenv("PGCASK_PROGRESS_INTERVAL_MS");
    pc_log_set_format(PC_LOG_TEXT);
    return 0;
}

/* Split captured output into parsed JSON lines. */
static size_t parse_lines(char *out, pc_json **lines, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_true(n < max);
        if (pc_json_parse(l, strlen(l), 4096, "progress line", &lines[n]) != PC_OK)
            fail_msg("not JSON: %s", l);
        n++;
    }
    return n;
}

static uint64_t uint_of(const pc_json *j, const char *key)
{
    int64_t v = -1;
    if (!pc_json_int(pc_json_get(j, key), &v))
        fail_msg("%s is not an integer", key);
    assert_true(v >= 0);
    return (uint64_t)v;
}

static bool bool_of(const pc_json *j, const char *key)
{
    bool b;
    assert_true(pc_json_bool(pc_json_get(j, key), &b));
    return b;
}

static void test_json_lines(void **state)
{
    pc_json *lines[8];
    pc_log_set_tag("backup");
    tu_capture_begin();
    pc_progress *p = pc_progress_new("backup", 1000);
    assert_non_null(p);
    pc_progress_add(p, 100);
    pc_progress_add(p, 400);
    pc_progress_done(p);
    pc_progress_done(p);   /* once only */
    pc_progress_add(p, 1); /* counted, not shown after done */
    pc_progress_free(p);
    char *out = tu_capture_end();
    size_t n = parse_lines(out, lines, 8);
    assert_int_equal(n, 3);

    static const char *keys[] = {"time",  "level",      "pid",         "command",  "msg",   "event",
                                 "phase", "bytes_done", "bytes_total", "rate_bps", "eta_s", "done"};
    for (size_t i = 0; i < n; i++) {
        void *it = NULL;
        const char *k;
        const pc_json *v;
        size_t nk = 0;
        while (pc_json_object_next(lines[i], &it, &k, &v)) {
            assert_true(nk < 12);
            assert_string_equal(k, keys[nk]);
            nk++;
        }
        assert_int_equal(nk, 12);
        assert_int_equal(strlen(pc_json_get_str(lines[i], "time")), 24);
        assert_string_equal(pc_json_get_str(lines[i], "level"), "info");
        assert_int_equal(uint_of(lines[i], "pid"), (uint64_t)getpid());
        assert_string_equal(pc_json_get_str(lines[i], "command"), "backup");
        assert_string_equal(pc_json_get_str(lines[i], "msg"), "progress");
        assert_string_equal(pc_json_get_str(lines[i], "event"), "progress");
        assert_string_equal(pc_json_get_str(lines[i], "phase"), "backup");
        assert_int_equal(uint_of(lines[i], "bytes_total"), 1000);
        uint_of(lines[i], "rate_bps");
    }
    assert_int_equal(uint_of(lines[0], "bytes_done"), 100);
    assert_false(bool_of(lines[0], "done"));
    assert_int_equal(uint_of(lines[1], "bytes_done"), 500);
    assert_false(bool_of(lines[1], "done"));
    assert_int_equal(uint_of(lines[2], "bytes_done"), 500);
    assert_true(bool_of(lines[2], "done"));
    for (size_t i = 0; i < n; i++)
        pc_json_free(lines[i]);
    free(out);
}

static void test_unknown_total(void **state)
{
    pc_json *lines[8];
    tu_capture_begin();
    pc_progress *p = pc_progress_new("restore", 0);
    pc_progress_add(p, 10);
    pc_progress_set_total(p, 50);
    pc_progress_add(p, 40);
    pc_progress_done(p);
    pc_progress_free(p);
    char *out = tu_capture_end();
    size_t n = parse_lines(out, lines, 8);
    assert_int_equal(n, 3);
    assert_null(pc_json_get(lines[0], "command")); /* no tag set */
    assert_true(pc_json_is_null(pc_json_get(lines[0], "bytes_total")));
    assert_true(pc_json_is_null(pc_json_get(lines[0], "eta_s")));
    assert_int_equal(uint_of(lines[1], "bytes_total"), 50);
    assert_int_equal(uint_of(lines[1], "bytes_done"), 50);
    assert_int_equal(uint_of(lines[1], "eta_s"), 0);
    assert_true(bool_of(lines[2], "done"));
    for (size_t i = 0; i < n; i++)
        pc_json_free(lines[i]);
    free(out);
}

static void test_rate_limited(void **state)
{
    pc_json *lines[8];
    unsetenv("PGCASK_PROGRESS_INTERVAL_MS"); /* the default: one line per 5 s */
    tu_capture_begin();
    pc_progress *p = pc_progress_new("backup", 0);
    for (int i = 0; i < 10000; i++)
        pc_progress_add(p, 1);
    pc_progress_done(p);
    pc_progress_free(p);
    char *out = tu_capture_end();
    size_t n = parse_lines(out, lines, 8);
    assert_int_equal(n, 1);
    assert_int_equal(uint_of(lines[0], "bytes_done"), 10000);
    assert_true(bool_of(lines[0], "done"));
    pc_json_free(lines[0]);
    free(out);
}

static void test_silent(void **state)
{
    /* text logs to something that is not a terminal: nothing */
    pc_log_set_format(PC_LOG_TEXT);
    tu_capture_begin();
    pc_progress *p = pc_progress_new("backup", 100);
    assert_null(p);
    pc_progress_add(p, 10);
    pc_progress_set_total(p, 10);
    pc_progress_done(p);
    pc_progress_free(p);
    /* logging switched off: nothing either */
    pc_log_set_format(PC_LOG_JSON);
    pc_log_set_level(PC_LOG_OFF);
    assert_null(pc_progress_new("backup", 100));
    char *out = tu_capture_end();
    assert_string_equal(out, "");
    free(out);
}

static void *adder(void *arg)
{
    for (int i = 0; i < 250; i++)
        pc_progress_add(arg, 1);
    return NULL;
}

static void test_threads(void **state)
{
    enum { LINES = 4 * 250 + 1 };
    pc_json **lines = calloc(LINES + 1, sizeof *lines);
    pthread_t t[4];
    tu_capture_begin();
    pc_progress *p = pc_progress_new("backup", 1000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, p), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pc_progress_done(p);
    pc_progress_free(p);
    char *out = tu_capture_end();
    /* whole lines only, in order */
    size_t n = parse_lines(out, lines, LINES + 1);
    assert_int_equal(n, LINES);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(uint_of(lines[i], "bytes_done"), i + 1);
    assert_int_equal(uint_of(lines[n - 1], "bytes_done"), 1000);
    assert_true(bool_of(lines[n - 1], "done"));
    for (size_t i = 0; i < n; i++)
        pc_json_free(lines[i]);
    free(lines);
    free(out);
}

/* ---- the terminal bar, on a pseudo-terminal ---- */

static char *read_all(int fd)
{
    static char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    return buf;
}

static void test_terminal_bar(void **state)
{
    pc_log_set_format(PC_LOG_TEXT);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0)
        skip();
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    fcntl(master, F_SETFL, O_NONBLOCK);
    int saved = dup(STDERR_FILENO);
    dup2(slave, STDERR_FILENO);

    pc_progress *p = pc_progress_new("backup", 1000);
    pc_sleep_ms(2); /* some time passes, so there is a rate and an ETA */
    pc_progress_add(p, 500);
    pc_progress_add(p, 500);
    pc_progress_done(p);
    pc_progress_free(p);
    pc_progress *q = pc_progress_new("restore", 0);
    pc_progress_add(q, 2048);
    pc_progress_free(q); /* not done: the line is ended anyway */

    dup2(saved, STDERR_FILENO);
    close(saved);
    close(slave);
    char *out = read_all(master);
    close(master);

    char *frames[8];
    size_t n = 0;
    char *save = NULL;
    /* the terminal turns "\n" into "\r\n"; frames start with "\r" */
    for (char *f = strtok_r(out, "\r", &save); f; f = strtok_r(NULL, "\r", &save))
        if (strcmp(f, "\n") != 0)
            frames[n++] = f;
    assert_int_equal(n, 4);
    const char *half = "backup  [##########..........]  500 B / 1000 B   50%  ";
    const char *full = "backup  [####################]  1000 B / 1000 B  100%  ";
    assert_memory_equal(frames[0], half, strlen(half));
    assert_non_null(strstr(frames[0], "/s  ETA 0:0"));
    assert_memory_equal(frames[1], full, strlen(full));
    assert_non_null(strstr(frames[1], "/s  ETA 0:00\033[K"));
    assert_memory_equal(frames[2], full, strlen(full)); /* the final frame */
    const char *rest = "restore  2.0 KiB  ";
    assert_memory_equal(frames[3], rest, strlen(rest));
    assert_string_equal(frames[3] + strlen(frames[3]) - 5, "/s\033[K"); /* then the rate */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_lines, reset, cleanup),
        cmocka_unit_test_setup_teardown(test_unknown_total, reset, cleanup),
        cmocka_unit_test_setup_teardown(test_rate_limited, reset, cleanup),
        cmocka_unit_test_setup_teardown(test_silent, reset, cleanup),
        cmocka_unit_test_setup_teardown(test_threads, reset, cleanup),
        cmocka_unit_test_setup_teardown(test_terminal_bar, reset, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
