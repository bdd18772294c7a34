#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fsutil.h"

static char *dir;
static char *ini; /* dir/pgcask.conf */
static char *empty_ini;

/* Unset every variable a setting reads, so the caller's environment cannot leak in. */
static void clean_env(void)
{
    for (const pc_cfg_desc *d = pc_cfg_table(); d->name; d++) {
        char ev[96];
        size_t n = (size_t)snprintf(ev, sizeof ev, "PGCASK_");
        for (const char *p = d->name; *p; p++)
            ev[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        ev[n] = '\0';
        unsetenv(ev);
        if (d->env_alias) {
            char aliases[128];
            snprintf(aliases, sizeof aliases, "%s", d->env_alias);
            char *save = NULL;
            for (char *a = strtok_r(aliases, ",", &save); a; a = strtok_r(NULL, ",", &save))
                unsetenv(a);
        }
    }
    unsetenv("PGCASK_CONFIG");
}

static int setup(void **state)
{
    clean_env();
    dir = tu_mkdtemp();
    ini = pc_path_join(dir, "pgcask.conf");
    empty_ini = pc_path_join(dir, "empty.conf");
    tu_write(empty_ini, "");
    pc_err_clear();
    return 0;
}

static int teardown(void **state)
{
    clean_env();
    free(ini);
    free(empty_ini);
    tu_rmdir(dir);
    return 0;
}

/* A configuration after flags (name=value pairs, NULL-terminated) and loading `file`. */
static pc_cfg *load(const char *file, pc_status want, ...)
{
    pc_cfg *c;
    va_list ap;
    const char *k;
    assert_int_equal(pc_cfg_new(&c), PC_OK);
    va_start(ap, want);
    while ((k = va_arg(ap, const char *)) != NULL)
        assert_int_equal(pc_cfg_set(c, k, va_arg(ap, const char *), PC_CFG_SRC_FLAG), PC_OK);
    va_end(ap);
    pc_err_clear();
    assert_int_equal(pc_cfg_load(c, file), want);
    if (want != PC_OK) {
        assert_int_equal(pc_err_get()->status, want);
        pc_cfg_free(c);
        return NULL;
    }
    return c;
}

static void test_defaults(void **state)
{
    pc_cfg *c = load(empty_ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "us-east-1");
    assert_int_equal(pc_cfg_source_of(c, "region"), PC_CFG_SRC_DEFAULT);
    assert_false(pc_cfg_isset(c, "region"));
    assert_null(pc_cfg_str(c, "repo"));
    assert_false(pc_cfg_isset(c, "repo"));
    assert_int_equal(pc_cfg_size(c, "part-size"), 16 * 1024 * 1024);
    assert_int_equal(pc_cfg_int(c, "max-retries"), 5);
    assert_true(pc_cfg_bool(c, "verify-tls"));
    assert_int_equal(pc_cfg_duration_ms(c, "connect-timeout"), 10000);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 0);
    assert_null(pc_cfg_list_get(c, "tag", 0));
    pc_cfg_free(c);
    pc_cfg_free(NULL);
}

static void test_table(void **state)
{
    size_t n = 0;
    for (const pc_cfg_desc *d = pc_cfg_table(); d->name; d++, n++) {
        assert_non_null(d->help);
        assert_ptr_equal(pc_cfg_find(d->name), d);
    }
    assert_true(n > 10);
    assert_string_equal(pc_cfg_find("endpoint_url")->name, "endpoint-url");
    assert_null(pc_cfg_find("endpoint"));
    assert_null(pc_cfg_find("endpoint-url-x"));
}

static void test_precedence(void **state)
{
    tu_write(ini, "region = from-ini\n");
    pc_cfg *c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "from-ini");
    assert_int_equal(pc_cfg_source_of(c, "region"), PC_CFG_SRC_FILE);
    assert_true(pc_cfg_isset(c, "region"));
    pc_cfg_free(c);

    setenv("AWS_DEFAULT_REGION", "alias-2", 1);
    c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "alias-2");
    assert_int_equal(pc_cfg_source_of(c, "region"), PC_CFG_SRC_ENV);
    pc_cfg_free(c);

    setenv("AWS_REGION", "alias-1", 1); /* the first alias in the list wins */
    c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "alias-1");
    pc_cfg_free(c);

    setenv("PGCASK_REGION", "", 1); /* empty counts as unset */
    c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "alias-1");
    pc_cfg_free(c);

    setenv("PGCASK_REGION", "env", 1);
    c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "env");
    assert_int_equal(pc_cfg_source_of(c, "region"), PC_CFG_SRC_ENV);
    pc_cfg_free(c);

    c = load(ini, PC_OK, "region", "flag", NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "flag");
    assert_int_equal(pc_cfg_source_of(c, "region"), PC_CFG_SRC_FLAG);
    /* a lower source never replaces a higher one */
    assert_int_equal(pc_cfg_set(c, "region", "late-default", PC_CFG_SRC_DEFAULT), PC_OK);
    assert_string_equal(pc_cfg_str(c, "region"), "flag");
    pc_cfg_free(c);
}

static const char SECTIONS[] = "# comment\n"
                               "region = top\n"
                               "tag = g,1\n"
                               "\n"
                               "[pgcask]\n"
                               "max-retries = 7\n"
                               "tag = g,2\n"
                               "[global]\n"
                               "part_size = 32MiB ; inline comment\n"
                               "[server:db1]\n"
                               "region = db1-region\n"
                               "tag = s,1\n"
                               "[server:db2]\n"
                               "region = db2-region\n";

static void test_ini_sections(void **state)
{
    tu_write(ini, SECTIONS);
    pc_cfg *c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "top");
    assert_int_equal(pc_cfg_int(c, "max-retries"), 7);
    assert_int_equal(pc_cfg_size(c, "part-size"), 32 * 1024 * 1024);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 2);
    assert_string_equal(pc_cfg_list_get(c, "tag", 0), "g,1");
    assert_string_equal(pc_cfg_list_get(c, "tag", 1), "g,2");
    pc_cfg_free(c);

    c = load(ini, PC_OK, "server", "db1", NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "db1-region");
    assert_int_equal(pc_cfg_int(c, "max-retries"), 7); /* global values still apply */
    /* the server's list replaces the global list */
    assert_int_equal(pc_cfg_list_len(c, "tag"), 1);
    assert_string_equal(pc_cfg_list_get(c, "tag", 0), "s,1");
    pc_cfg_free(c);

    c = load(ini, PC_OK, "server", "db2", NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "db2-region");
    assert_int_equal(pc_cfg_list_len(c, "tag"), 2);
    pc_cfg_free(c);

    /* the environment still beats the server section */
    setenv("PGCASK_REGION", "env", 1);
    c = load(ini, PC_OK, "server", "db1", NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "env");
    pc_cfg_free(c);
    unsetenv("PGCASK_REGION");

    /* the server may come from the file itself */
    tu_write(ini, "[pgcask]\nserver = db2\n[server:db2]\nregion = db2-region\n");
    c = load(ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "db2-region");
    pc_cfg_free(c);
}

static void expect_config_error(const char *text, const char *msg_after_path, const char *hint)
{
    char want[1024];
    tu_write(ini, text);
    assert_null(load(ini, PC_E_CONFIG, NULL));
    snprintf(want, sizeof want, "%s:%s", ini, msg_after_path);
    tu_assert_err(PC_E_CONFIG, want);
    if (hint)
        assert_string_equal(pc_err_get()->hint, hint);
}

static void test_ini_errors(void **state)
{
    expect_config_error("# comment\n\n[pgcask]\nbogus = 1\n", "4: unknown setting \"bogus\"",
                        "The settings are listed by `pgcask help config`.");
    /* keys of every server's section are checked, not only the one in use */
    expect_config_error("region = x\n[server:other]\nregoin = y\n", "3: unknown setting \"regoin\"",
                        NULL);
    expect_config_error("region = x\n[foo]\nregion = y\n", "3: unknown section [foo]",
                        "Use [pgcask] for common settings and [server:NAME] for one server.");
    expect_config_error("[pgcask]\nmax-retries = abc\n",
                        "2: invalid value for max-retries: \"abc\" is not an integer", NULL);
    expect_config_error(
        "verify-tls = maybe\n",
        "1: invalid value for verify-tls: \"maybe\" is not a boolean (use on or off)", NULL);
    expect_config_error("region = x\nthis line has no equals sign\n", "2: syntax error",
                        "Lines are `name = value`; sections are [pgcask] or [server:NAME].");

    /* a flag already set means the file's bad value is never read */
    tu_write(ini, "max-retries = abc\n");
    pc_cfg *c = load(ini, PC_OK, "max-retries", "2", NULL);
    assert_int_equal(pc_cfg_int(c, "max-retries"), 2);
    pc_cfg_free(c);
}

static void test_config_file_location(void **state)
{
    char *missing = pc_path_join(dir, "missing.conf");
    char want[1024];

    assert_null(load(missing, PC_E_CONFIG, NULL));
    snprintf(want, sizeof want,
             "could not open configuration file \"%s\": No such file or directory", missing);
    tu_assert_err(PC_E_CONFIG, want);

    tu_write(ini, "region = via-env-path\n");
    setenv("PGCASK_CONFIG", ini, 1);
    pc_cfg *c = load(NULL, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "via-env-path");
    pc_cfg_free(c);
    /* --config wins over PGCASK_CONFIG */
    c = load(empty_ini, PC_OK, NULL);
    assert_string_equal(pc_cfg_str(c, "region"), "us-east-1");
    pc_cfg_free(c);

    setenv("PGCASK_CONFIG", missing, 1);
    assert_null(load(NULL, PC_E_CONFIG, NULL));
    tu_assert_err(PC_E_CONFIG, want);
    free(missing);
}

static void test_env_errors(void **state)
{
    setenv("PGCASK_MAX_RETRIES", "x", 1);
    assert_null(load(empty_ini, PC_E_CONFIG, NULL));
    tu_assert_err(PC_E_CONFIG, "environment variable PGCASK_MAX_RETRIES: invalid value for "
                               "max-retries: \"x\" is not an integer");
    setenv("PGCASK_MAX_RETRIES", "9", 1);
    setenv("PGCASK_READ_TIMEOUT", "2m", 1);
    setenv("PGCASK_VERIFY_TLS", "off", 1);
    pc_cfg *c = load(empty_ini, PC_OK, NULL);
    assert_int_equal(pc_cfg_int(c, "max-retries"), 9);
    assert_int_equal(pc_cfg_duration_ms(c, "read-timeout"), 120000);
    assert_false(pc_cfg_bool(c, "verify-tls"));
    pc_cfg_free(c);
}

static void test_lists(void **state)
{
    pc_cfg *c = load(empty_ini, PC_OK, "tag", "a,1", "tag", "b,2", NULL);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 2);
    assert_string_equal(pc_cfg_list_get(c, "tag", 0), "a,1");
    assert_string_equal(pc_cfg_list_get(c, "tag", 1), "b,2");
    assert_int_equal(pc_cfg_source_of(c, "tag"), PC_CFG_SRC_FLAG);
    assert_true(pc_cfg_isset(c, "tag"));
    pc_cfg_free(c);

    setenv("PGCASK_TAG", "e,1;e,2;e,3", 1);
    c = load(empty_ini, PC_OK, NULL);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 3);
    assert_string_equal(pc_cfg_list_get(c, "tag", 2), "e,3");
    assert_int_equal(pc_cfg_source_of(c, "tag"), PC_CFG_SRC_ENV);
    pc_cfg_free(c);

    /* flags replace the environment's list rather than adding to it */
    c = load(empty_ini, PC_OK, "tag", "f,1", NULL);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 1);
    assert_string_equal(pc_cfg_list_get(c, "tag", 0), "f,1");
    pc_cfg_free(c);
    unsetenv("PGCASK_TAG");

    tu_write(ini, "tag = i,1\nhistory-tag = h,1\ntag = i,2\n");
    c = load(ini, PC_OK, NULL);
    assert_int_equal(pc_cfg_list_len(c, "tag"), 2);
    assert_string_equal(pc_cfg_list_get(c, "tag", 1), "i,2");
    assert_int_equal(pc_cfg_list_len(c, "history-tag"), 1);
    pc_cfg_free(c);
}

static void test_set(void **state)
{
    pc_cfg *c;
    assert_int_equal(pc_cfg_new(&c), PC_OK);
    assert_int_equal(pc_cfg_set(c, "nope", "1", PC_CFG_SRC_FLAG), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "unknown setting \"nope\"");
    assert_int_equal(pc_cfg_set(c, "part-size", "lots", PC_CFG_SRC_FLAG), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "invalid value for part-size: \"lots\" is not a size");
    assert_int_equal(pc_cfg_size(c, "part-size"), 16 * 1024 * 1024); /* unchanged */
    assert_int_equal(pc_cfg_source_of(c, "part-size"), PC_CFG_SRC_DEFAULT);
    assert_int_equal(pc_cfg_set(c, "part_size", "1.5GiB", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_size(c, "part-size"), 1610612736);
    assert_int_equal(pc_cfg_set(c, "repo", "", PC_CFG_SRC_FLAG), PC_OK);
    assert_null(pc_cfg_str(c, "repo")); /* empty means unset */
    pc_cfg_free(c);
}

static void test_parsers(void **state)
{
    static const struct {
        const char *t;
        uint64_t v;
    } sizes[] = {
        {"0", 0},           {"123", 123},         {"123B", 123},          {"1k", 1024},
        {"1KB", 1024},      {"1KiB", 1024},       {"16MiB", 16777216},    {"16MB", 16777216},
        {"16mb", 16777216}, {"16 MiB", 16777216}, {"1.5GiB", 1610612736}, {"2T", 2199023255552ULL},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(pc_parse_size(sizes[i].t, &v), PC_OK);
        assert_int_equal(v, sizes[i].v);
    }
    static const char *bad_sizes[] = {"",       "abc", "-1",  "16XB", "16MiBs",
                                      "16 M B", "nan", "inf", "1e30"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(pc_parse_size(bad_sizes[i], &v), PC_E_USAGE);
        assert_int_equal(v, 1);
    }
    uint64_t u;
    assert_int_equal(pc_parse_size("16XB", &u), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "\"16XB\" has an unknown size unit");

    static const struct {
        const char *t;
        int64_t ms;
    } durs[] = {
        {"500ms", 500},   {"30", 30000},   {"30s", 30000},    {"1.5s", 1500}, {"5m", 300000},
        {"5min", 300000}, {"2h", 7200000}, {"7d", 604800000}, {"0", 0},       {"10 s", 10000},
    };
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        int64_t v = 1;
        assert_int_equal(pc_parse_duration_ms(durs[i].t, &v), PC_OK);
        assert_int_equal(v, durs[i].ms);
    }
    static const char *bad_durs[] = {"", "5x", "-1", "5 minutes", "ms", "1e20d"};
    for (size_t i = 0; i < sizeof bad_durs / sizeof bad_durs[0]; i++) {
        int64_t v = 1;
        assert_int_equal(pc_parse_duration_ms(bad_durs[i], &v), PC_E_USAGE);
        assert_int_equal(v, 1);
    }
    int64_t ms;
    assert_int_equal(pc_parse_duration_ms("5x", &ms), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "\"5x\" has an unknown time unit (use ms, s, m, h or d)");

    static const char *yes[] = {"on", "ON", "true", "yes", "1", "y", "t"};
    static const char *no[] = {"off", "False", "no", "0", "n", "f"};
    bool b;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        b = false;
        assert_int_equal(pc_parse_bool(yes[i], &b), PC_OK);
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        b = true;
        assert_int_equal(pc_parse_bool(no[i], &b), PC_OK);
        assert_false(b);
    }
    assert_int_equal(pc_parse_bool("maybe", &b), PC_E_USAGE);
    assert_int_equal(pc_parse_bool("", &b), PC_E_USAGE);

    int64_t v;
    assert_int_equal(pc_parse_int("5", 0, 10, &v), PC_OK);
    assert_int_equal(v, 5);
    assert_int_equal(pc_parse_int("-10", -10, 10, &v), PC_OK);
    assert_int_equal(v, -10);
    assert_int_equal(pc_parse_int("11", 0, 10, &v), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "11 is out of range (0..10)");
    assert_int_equal(pc_parse_int("5x", 0, 10, &v), PC_E_USAGE);
    tu_assert_err(PC_E_USAGE, "\"5x\" is not an integer");
    assert_int_equal(pc_parse_int("", 0, 10, &v), PC_E_USAGE);
    assert_int_equal(pc_parse_int("99999999999999999999", 0, INT64_MAX, &v), PC_E_USAGE);
}

static void test_dump(void **state)
{
    pc_cfg *c = load(empty_ini, PC_OK, "region", "eu-west-3", "tag", "a,1", NULL);
    char *out_path = pc_path_join(dir, "dump");
    FILE *f = fopen(out_path, "w");
    pc_cfg_dump(c, f);
    fclose(f);
    char *raw = tu_read(out_path, NULL);
    char *text = pc_asprintf("\n%s", raw); /* every line, the first one too, follows a newline */
    free(raw);
    assert_string_equal(text + strlen(text) - 1, "\n");
    assert_non_null(strstr(text, "\nregion = eu-west-3  # command line\n"));
    assert_non_null(strstr(text, "\ntag = a,1  # command line\n"));
    assert_non_null(strstr(text, "\nmax-retries = 5  # default\n"));
    assert_null(strstr(text, "repo ="));
    free(text);
    free(out_path);
    pc_cfg_free(c);
}

static void test_wrong_type_getter_aborts(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pc_cfg *c;
        freopen("/dev/null", "w", stderr);
        if (pc_cfg_new(&c) != PC_OK)
            _exit(1);
        pc_cfg_int(c, "region");
        _exit(0);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(WTERMSIG(ws), SIGABRT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),     T(test_table),      T(test_precedence),
        T(test_ini_sections), T(test_ini_errors), T(test_config_file_location),
        T(test_env_errors),   T(test_lists),      T(test_set),
        T(test_parsers),      T(test_dump),       T(test_wrong_type_getter_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
