/*
 * backup.info and the Python literal codec, checked against CPython's repr()
 * and literal_eval() and against barman's own BackupInfo class
 * (python3-barman 3.4, as barman-cloud uses it): files barman writes parse
 * and re-format byte for byte, files pgcask writes load in barman with every
 * field typed as barman expects. The Python checks skip when python3 or
 * python3-barman is absent.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "catalog/backup_info.h"
#include "catalog/pyrepr.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/timeutil.h"

#define SCRIPT FORMATS_DIR "/barman_check.py"

static char scratch[1024];

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    snprintf(scratch, sizeof scratch, "%s/formats_binfo.XXXXXX", base);
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
    return pc_remove_tree(scratch) == PC_OK ? 0 : -1;
}

static char *path(const char *rel)
{
    static char buf[8][2048];
    static int n;
    char *p = buf[n++ % 8];
    snprintf(p, 2048, "%s/%s", scratch, rel);
    return p;
}

/* Run barman_check.py with args; stdout into out (may be NULL). Skips the test on exit 77. */
static int script(const char *args, pc_buf *out)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s", SCRIPT, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out)
            assert_int_equal(pc_buf_append(out, chunk, n), PC_OK);
    int st = pclose(f);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc == 77)
        skip();
    return rc;
}

static void read_text(const char *p, pc_buf *out)
{
    pc_buf_init(out, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(p, 64 << 20, out), PC_OK);
}

/* Lines of hex-encoded strings, the input format of barman_check.py. */
static void hex_lines(const char *p, const char *const *s, const size_t *len, size_t n)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    for (size_t i = 0; i < n; i++) {
        size_t l = len ? len[i] : strlen(s[i]);
        char *hex = malloc(2 * l + 1);
        pc_hex((const unsigned char *)s[i], l, hex);
        pc_buf_printf(&b, "%s\n", hex);
        free(hex);
    }
    assert_int_equal(pc_write_file_atomic(p, b.data, b.len, 0600), PC_OK);
    pc_buf_free(&b);
}

/* ---- repr(str) ---- */

static const char *const tricky[] = {
    "",
    "plain",
    "it's",
    "say \"hi\"",
    "both ' and \"",
    "'\"",
    "back\\slash",
    "tab\tnl\ncr\r",
    "\x01\x1f\x7f",
    "\x1b[0m",
    "caf\xc3\xa9 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac",
    "\xc2\x80",
    "\xc2\x9f",
    "\xc2\xa0nbsp",
    "soft\xc2\xadhyphen",
    "\xc3\xbf",
    "zw\xe2\x80\x8bsp",
    "\xe2\x80\xa8",
    "\xe3\x80\x80",
    "\xef\xbb\xbf",
    "\xef\xbf\xbf",
    "\xed\x9f\xbf",
    "\xf0\x9f\x98\x80",
    "\xf3\xa0\x80\x81",
    "\xf4\x8f\xbf\xbf",
    "\xf0\x90\x80\x80",
    "\\'\\\"",
    "LABEL: Barman backup cloud 20260130T083428\nSTART TIMELINE: 1\n",
    "nul\0inside",
};

static size_t tricky_len(size_t i)
{
    return i == sizeof tricky / sizeof tricky[0] - 1 ? 10 : strlen(tricky[i]);
}

static void test_repr_fixed(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", "''"},
        {"it's", "\"it's\""},
        {"both ' and \"", "'both \\' and \"'"},
        {"back\\slash", "'back\\\\slash'"},
        {"tab\tnl\ncr\r\x01\x7f", "'tab\\tnl\\ncr\\r\\x01\\x7f'"},
        {"caf\xc3\xa9", "'caf\xc3\xa9'"},
        {"\xc2\xa0", "'\\xa0'"},
        {"\xe2\x80\x8b", "'\\u200b'"},
        {"\xf3\xa0\x80\x81", "'\\U000e0001'"},
        {"\xf0\x9f\x98\x80", "'\xf0\x9f\x98\x80'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pc_buf b;
        pc_buf_init(&b, PC_BUF_NOCAP);
        assert_int_equal(cat_py_repr_str(&b, cases[i].in, strlen(cases[i].in)), PC_OK);
        assert_string_equal(pc_buf_cstr(&b), cases[i].out);
        pc_buf_free(&b);
    }
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(cat_py_repr_str(&b, "a\xff", 2), PC_E_USAGE);
    assert_int_equal(cat_py_repr_str(&b, "\xed\xa0\x80", 3), PC_E_USAGE); /* a surrogate */
    assert_int_equal(cat_py_repr_str(&b, "\xc0\xaf", 2), PC_E_USAGE);     /* overlong */
    assert_int_equal(cat_py_repr_str(&b, "\xe2\x82", 2), PC_E_USAGE);     /* cut short */
    pc_buf_free(&b);
}

static void test_repr_vs_python(void **state)
{
    size_t n = sizeof tricky / sizeof tricky[0];
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = tricky_len(i);
    hex_lines(path("repr.in"), tricky, lens, n);
    char args[2100];
    snprintf(args, sizeof args, "repr '%s' '%s'", path("repr.in"), path("repr.out"));
    assert_int_equal(script(args, NULL), 0);
    pc_buf want, got;
    read_text(path("repr.out"), &want);
    pc_buf_init(&got, PC_BUF_NOCAP);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cat_py_repr_str(&got, tricky[i], lens[i]), PC_OK);
        pc_buf_append_str(&got, "\n");
    }
    assert_string_equal(pc_buf_cstr(&got), pc_buf_cstr(&want));
    pc_buf_free(&want);
    pc_buf_free(&got);
}

/* Every code point, 256 per string, against CPython's repr(). */
static void test_repr_all_code_points(void **state)
{
    char args[2100];
    snprintf(args, sizeof args, "unicode '%s'", path("unicode.out"));
    assert_int_equal(script(args, NULL), 0);
    pc_buf want, got, s;
    read_text(path("unicode.out"), &want);
    pc_buf_init(&got, PC_BUF_NOCAP);
    pc_buf_init(&s, PC_BUF_NOCAP);
    for (uint32_t start = 0; start < 0x110000; start += 256) {
        if (start >= 0xd800 && start < 0xe000)
            continue;
        pc_buf_reset(&s);
        for (uint32_t cp = start; cp < start + 256; cp++) {
            unsigned char u[4];
            size_t k;
            if (cp < 0x80) {
                u[0] = (unsigned char)cp;
                k = 1;
            } else if (cp < 0x800) {
                u[0] = (unsigned char)(0xc0 | cp >> 6);
                u[1] = (unsigned char)(0x80 | (cp & 0x3f));
                k = 2;
            } else if (cp < 0x10000) {
                u[0] = (unsigned char)(0xe0 | cp >> 12);
                u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
                u[2] = (unsigned char)(0x80 | (cp & 0x3f));
                k = 3;
            } else {
                u[0] = (unsigned char)(0xf0 | cp >> 18);
                u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
                u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
                u[3] = (unsigned char)(0x80 | (cp & 0x3f));
                k = 4;
            }
            pc_buf_append(&s, u, k);
        }
        assert_int_equal(cat_py_repr_str(&got, (const char *)s.data, s.len), PC_OK);
        pc_buf_append_str(&got, "\n");
    }
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, got.len);
    pc_buf_free(&want);
    pc_buf_free(&got);
    pc_buf_free(&s);
}

/* ---- floats ---- */

static const double floats[] = {
    0.0,
    -0.0,
    1.0,
    -1.0,
    5.1,
    0.1,
    1.0 / 3,
    2.0 / 3,
    1e16,
    1e15,
    123456789012345678.0,
    1e-5,
    0.0001,
    1.5e-7,
    3.2e-05,
    30.9,
    31.540251,
    100.0,
    12345.678,
    1e308,
    5e-324,
    2.2250738585072014e-308,
    9007199254740993.0,
    0.30000000000000004,
    1e22,
    1e21,
    4.35,
};

static void test_float_repr(void **state)
{
    static const struct {
        double v;
        const char *out;
    } fixed[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1e16, "1e+16"},
        {1e15, "1000000000000000.0"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {3.2e-05, "3.2e-05"},
        {31.540251, "31.540251"},
        {0.1, "0.1"},
        {1.0 / 3, "0.3333333333333333"},
        {5e-324, "5e-324"},
        {1.5e-7, "1.5e-07"},
        {123456789012345678.0, "1.2345678901234568e+17"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        pc_buf b;
        pc_buf_init(&b, PC_BUF_NOCAP);
        assert_int_equal(cat_py_repr_float(&b, fixed[i].v), PC_OK);
        assert_string_equal(pc_buf_cstr(&b), fixed[i].out);
        pc_buf_free(&b);
    }
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(cat_py_repr_float(&b, 1.0 / 0.0), PC_E_USAGE);
    assert_int_equal(cat_py_repr_float(&b, 0.0 / 0.0), PC_E_USAGE);

    /* the whole list against Python */
    pc_buf in;
    pc_buf_init(&in, PC_BUF_NOCAP);
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        pc_buf_printf(&in, "%a\n", floats[i]);
    assert_int_equal(pc_write_file_atomic(path("float.in"), in.data, in.len, 0600), PC_OK);
    char args[2100];
    snprintf(args, sizeof args, "float '%s' '%s'", path("float.in"), path("float.out"));
    if (script(args, NULL) == 0) {
        pc_buf want;
        read_text(path("float.out"), &want);
        for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
            assert_int_equal(cat_py_repr_float(&b, floats[i]), PC_OK);
            pc_buf_append_str(&b, "\n");
        }
        assert_string_equal(pc_buf_cstr(&b), pc_buf_cstr(&want));
        pc_buf_free(&want);
    }
    pc_buf_free(&in);
    pc_buf_free(&b);
}

/* ---- literals ---- */

static const char *const good_literals[] = {
    "None",
    "True",
    "False",
    "0",
    "-5",
    "+7",
    "- 3",
    "123456789012345678",
    "-9223372036854775808",
    "1.5",
    "-0.0",
    "1e5",
    ".5",
    "5.",
    "2.5E-3",
    "'a'",
    "\"b\"",
    "'\\x41\\u00e9\\U0001F600\\n\\t\\\\\\'\\\"'",
    "'\\101\\0\\7'",
    "'\\q\\d'",
    "'a\\\nb'",
    "'caf\xc3\xa9'",
    "\"it's\"",
    "()",
    "(1,)",
    "(1)",
    "((1))",
    "(1, 2,)",
    "[]",
    "[1, [2, [3]]]",
    "[1,2,]",
    "{}",
    "{'a': 1, 'b': [1, 2], 3: None, (1, 2): 'x', None: True}",
    "{'total_time': 5.1, 'number_of_workers': 2}",
    "[('tbs1', 16385, '/srv/tbs1')]",
    "  [ 1 ,\t2 ]  ",
    "{'a': {'b': {'c': ()}}}",
    "(None, False, 'x')",
};

static void test_literal_vs_python(void **state)
{
    size_t n = sizeof good_literals / sizeof good_literals[0];
    pc_buf got;
    pc_buf_init(&got, PC_BUF_NOCAP);
    for (size_t i = 0; i < n; i++) {
        cat_py *v;
        if (cat_py_parse(good_literals[i], strlen(good_literals[i]), &v) != PC_OK)
            fail_msg("%s: %s", good_literals[i], pc_err_get()->message);
        assert_int_equal(cat_py_repr(&got, v), PC_OK);
        pc_buf_append_str(&got, "\n");
        cat_py_free(v);
    }
    hex_lines(path("lit.in"), good_literals, NULL, n);
    char args[2100];
    snprintf(args, sizeof args, "literal '%s' '%s'", path("lit.in"), path("lit.out"));
    assert_int_equal(script(args, NULL), 0);
    pc_buf want;
    read_text(path("lit.out"), &want);
    assert_string_equal(pc_buf_cstr(&got), pc_buf_cstr(&want));
    pc_buf_free(&want);
    pc_buf_free(&got);
}

static void test_literal_values(void **state)
{
    cat_py *v;
    const char *t = "{'copy_time': 4.9, 'n': -3, 'ok': True, 's': 'x\\x00y', 7: [None]}";
    assert_int_equal(cat_py_parse(t, strlen(t), &v), PC_OK);
    assert_int_equal(v->kind, CAT_PY_DICT);
    assert_int_equal(v->n, 5);
    assert_true(cat_py_dict_get(v, "copy_time")->f == 4.9);
    assert_int_equal(cat_py_dict_get(v, "n")->i, -3);
    assert_true(cat_py_dict_get(v, "ok")->b);
    const cat_py *s = cat_py_dict_get(v, "s");
    assert_int_equal(s->slen, 3);
    assert_memory_equal(s->s, "x\0y", 4);
    assert_null(cat_py_dict_get(v, "missing"));
    assert_null(cat_py_dict_get(v, "7"));
    assert_null(cat_py_dict_get(cat_py_dict_get(v, "n"), "x"));
    cat_py_free(v);
    cat_py_free(NULL);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "expected a value at character 0"},
        {"   ", "expected a value"},
        {"'unterminated", "unterminated string"},
        {"'line\nbreak'", "unterminated string"},
        {"[1, 2", "expected ',' or a closing bracket"},
        {"[1 2]", "expected ',' or a closing bracket"},
        {"{'a' 1}", "expected ':'"},
        {"{'a': }", "unexpected character"},
        {"{[1]: 2}", "unhashable dict key"},
        {"(", "expected a value"},
        {"nan", "unexpected character"},
        {"inf", "unexpected character"},
        {"abc", "unexpected character"},
        {"Nonesuch", "unexpected character"},
        {"1 2", "unexpected text after the value at character 2"},
        {"'\\x4'", "truncated escape sequence"},
        {"'\\ud800'", "surrogate"},
        {"'\\U00110000'", "escape outside the Unicode range"},
        {"'\\N{DASH}'", "\\N{...} escapes are not supported"},
        {"99999999999999999999", "integer out of the 64-bit range"},
        {"1_000", "unexpected text after the value"},
        {"'a' 'b'", "unexpected text after the value"},
        {"1.2.3", "malformed number"},
        {"1e", "malformed number"},
        {"-", "expected a value"},
        {"-'a'", "expected a value"},
        {"'\xff'", "invalid UTF-8"},
        {"{1, 2}", "expected ':'"},
        {"[1,,2]", "unexpected character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = NULL;
        if (cat_py_parse(bad[i].text, strlen(bad[i].text), &v) != PC_E_CORRUPT)
            fail_msg("\"%s\" accepted", bad[i].text);
        if (!strstr(pc_err_get()->message, bad[i].msg))
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].text, pc_err_get()->message, bad[i].msg);
        assert_null(v);
    }
    /* nesting is capped */
    char deep[200];
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    deep[80] = '\0';
    assert_int_equal(cat_py_parse(deep, 80, &v), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "nested too deeply"));
    assert_int_equal(cat_py_parse(deep + 40 - CAT_PY_MAX_DEPTH, 2 * CAT_PY_MAX_DEPTH, &v), PC_OK);
    cat_py_free(v);
}

/* ---- backup.info ---- */

static const char bare_text[] = "backup_label=None\n"
                                "begin_offset=None\n"
                                "begin_time=None\n"
                                "begin_wal=None\n"
                                "begin_xlog=None\n"
                                "compression=None\n"
                                "config_file=None\n"
                                "copy_stats=None\n"
                                "deduplicated_size=None\n"
                                "end_offset=None\n"
                                "end_time=None\n"
                                "end_wal=None\n"
                                "end_xlog=None\n"
                                "error=None\n"
                                "hba_file=None\n"
                                "ident_file=None\n"
                                "included_files=None\n"
                                "mode=None\n"
                                "pgdata=None\n"
                                "server_name=None\n"
                                "size=None\n"
                                "status=EMPTY\n"
                                "systemid=None\n"
                                "tablespaces=None\n"
                                "timeline=None\n"
                                "version=None\n"
                                "xlog_segment_size=16777216\n";

static void test_binfo_defaults(void **state)
{
    cat_binfo b;
    pc_buf out;
    cat_binfo_init(&b);
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), bare_text);
    cat_binfo_free(&b);
    cat_binfo_free(&b);

    assert_int_equal(cat_binfo_parse(bare_text, strlen(bare_text), &b), PC_OK);
    assert_int_equal(b.status, CAT_BINFO_EMPTY);
    assert_int_equal(b.version, CAT_BINFO_NONE);
    assert_int_equal(b.begin_time, CAT_BINFO_NONE);
    assert_null(b.pgdata);
    assert_int_equal(b.xlog_segment_size, 16777216);
    pc_buf_reset(&out);
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), bare_text);
    cat_binfo_free(&b);
    pc_buf_free(&out);

    for (int s = CAT_BINFO_EMPTY; s <= CAT_BINFO_SYNCING; s++) {
        cat_binfo_status back;
        assert_true(cat_binfo_status_parse(cat_binfo_status_name((cat_binfo_status)s), &back));
        assert_int_equal(back, s);
    }
    assert_string_equal(cat_binfo_status_name(CAT_BINFO_WAITING_FOR_WALS), "WAITING_FOR_WALS");
    cat_binfo_status back;
    assert_false(cat_binfo_status_parse("done", &back));
}

/* Files barman's BackupInfo writes: parsed, then re-formatted byte for byte. */
static void test_binfo_from_barman(void **state)
{
    char args[2100];
    snprintf(args, sizeof args, "write '%s'", scratch);
    assert_int_equal(script(args, NULL), 0);
    static const char *const cases[] = {"full.info", "failed.info", "bare.info"};
    for (size_t i = 0; i < 3; i++) {
        pc_buf text, out;
        cat_binfo b;
        read_text(path(cases[i]), &text);
        pc_buf_init(&out, PC_BUF_NOCAP);
        if (cat_binfo_parse((const char *)text.data, text.len, &b) != PC_OK)
            fail_msg("%s: %s", cases[i], pc_err_get()->message);
        assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
        assert_string_equal(pc_buf_cstr(&out), pc_buf_cstr(&text));
        if (i == 0) {
            int64_t t;
            assert_int_equal(b.status, CAT_BINFO_DONE);
            assert_string_equal(b.backup_name, "nightly \xc3\xa9t\xc3\xa9");
            assert_int_equal(b.version, 160004);
            assert_int_equal(b.timeline, 1);
            assert_int_equal(b.systemid, 7512345678901234567ULL);
            assert_string_equal(b.begin_wal, "000000010000000000000009");
            assert_string_equal(b.begin_xlog, "0/9000028");
            assert_int_equal(b.begin_offset, 40);
            assert_int_equal(b.end_offset, 312);
            assert_string_equal(b.end_xlog, "0/9000138");
            assert_int_equal(pc_time_parse("2026-01-30 08:34:28.903398Z", &t), PC_OK);
            assert_int_equal(b.begin_time, t);
            assert_int_equal(b.begin_time_tz, 0);
            assert_int_equal(pc_time_parse("2026-01-30 08:35:00Z", &t), PC_OK);
            assert_int_equal(b.end_time, t);
            assert_non_null(
                strstr(b.backup_label, "\nLABEL: Barman backup cloud 20260130T083428\n"));
            assert_int_equal(b.n_tablespaces, 2);
            assert_string_equal(b.tablespaces[0].name, "tbs1");
            assert_int_equal(b.tablespaces[0].oid, 16385);
            assert_string_equal(b.tablespaces[1].name, "t'b\"q");
            assert_string_equal(b.tablespaces[1].location, "/srv/\xc3\xa9t\xc3\xa9\t\\x");
            assert_int_equal(b.n_included_files, 2);
            assert_string_equal(b.included_files[1], "/tmp/it's \"here\".conf");
            assert_string_equal(b.pgdata, "/var/lib/postgresql/16/main");
            assert_string_equal(b.server_name, "cloud");
            assert_non_null(strstr(b.copy_stats, "'number_of_workers': 2"));
            assert_null(b.compression);
            assert_int_equal(b.size, CAT_BINFO_NONE);
        } else if (i == 1) {
            int64_t t;
            assert_int_equal(b.status, CAT_BINFO_FAILED);
            assert_string_equal(b.error,
                                "failure uploading data (connection reset: don't retry \"now\")");
            assert_int_equal(pc_time_parse("2026-01-30 23:02:03.4Z", &t), PC_OK);
            assert_int_equal(b.begin_time, t);
            assert_int_equal(b.begin_time_tz, 7200);
            assert_int_equal(pc_time_parse("2026-01-31 01:02:03Z", &t), PC_OK);
            assert_int_equal(b.end_time, t);
            assert_int_equal(b.end_time_tz, -19800);
        }
        cat_binfo_free(&b);
        pc_buf_free(&text);
        pc_buf_free(&out);
    }
}

/* A backup.info as pgcask writes it, with everything a restore relies on. */
static void rich_info(cat_binfo *b)
{
    cat_binfo_init(b);
    b->backup_label = strdup("START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n"
                             "LABEL: pgcask 'quoted' \\ caf\xc3\xa9 \x01\n");
    b->backup_name = strdup("weekly");
    b->begin_offset = 40;
    assert_int_equal(pc_time_parse("2026-03-01 02:00:00.000001Z", &b->begin_time), PC_OK);
    b->begin_wal = strdup("000000010000000000000003");
    b->begin_xlog = strdup("0/3000028");
    b->config_file = strdup("/etc/pg/postgresql.conf");
    b->copy_stats = strdup("{'total_time': 12.5, 'number_of_workers': 4}");
    b->end_offset = 312;
    assert_int_equal(pc_time_parse("2026-03-01 02:05:00Z", &b->end_time), PC_OK);
    b->end_time_tz = 3600;
    b->end_wal = strdup("000000010000000000000004");
    b->end_xlog = strdup("0/4000138");
    b->hba_file = strdup("/etc/pg/pg_hba.conf");
    b->ident_file = strdup("/etc/pg/pg_ident.conf");
    assert_int_equal(cat_binfo_add_included_file(b, "/etc/pg/conf.d/x.conf"), PC_OK);
    b->pgdata = strdup("/var/lib/pg/data");
    b->server_name = strdup("cloud");
    b->size = 123456789;
    b->status = CAT_BINFO_DONE;
    b->systemid = 17300000000000000001ULL; /* beyond INT64_MAX, as after 2038 */
    assert_int_equal(cat_binfo_add_tablespace(b, "tbs\"1", 16385, "/srv/t b"), PC_OK);
    assert_int_equal(cat_binfo_add_tablespace(b, "tbs2", 4294967295u, "/srv/\xe6\x97\xa5"), PC_OK);
    b->timeline = 1;
    b->version = 170002;
}

static const char rich_text[] =
    "backup_label=\"START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\\nLABEL: pgcask "
    "'quoted' \\\\ caf\xc3\xa9 \\x01\\n\"\n"
    "backup_name=weekly\n"
    "begin_offset=40\n"
    "begin_time=2026-03-01 02:00:00.000001+00:00\n"
    "begin_wal=000000010000000000000003\n"
    "begin_xlog=0/3000028\n"
    "compression=None\n"
    "config_file=/etc/pg/postgresql.conf\n"
    "copy_stats={'total_time': 12.5, 'number_of_workers': 4}\n"
    "deduplicated_size=None\n"
    "end_offset=312\n"
    "end_time=2026-03-01 03:05:00+01:00\n"
    "end_wal=000000010000000000000004\n"
    "end_xlog=0/4000138\n"
    "error=None\n"
    "hba_file=/etc/pg/pg_hba.conf\n"
    "ident_file=/etc/pg/pg_ident.conf\n"
    "included_files=['/etc/pg/conf.d/x.conf']\n"
    "mode=None\n"
    "pgdata=/var/lib/pg/data\n"
    "server_name=cloud\n"
    "size=123456789\n"
    "status=DONE\n"
    "systemid=17300000000000000001\n"
    "tablespaces=[('tbs\"1', 16385, '/srv/t b'), ('tbs2', 4294967295, '/srv/\xe6\x97\xa5')]\n"
    "timeline=1\n"
    "version=170002\n"
    "xlog_segment_size=16777216\n";

/* How barman 3.4 types every field after loading rich_text. */
static const char rich_typed[] =
    "backup_label=str:\"START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\\nLABEL: "
    "pgcask 'quoted' \\\\ caf\xc3\xa9 \\x01\\n\"\n"
    "backup_name=str:'weekly'\n"
    "begin_offset=int:40\n"
    "begin_time=datetime:2026-03-01T02:00:00.000001+00:00\n"
    "begin_wal=str:'000000010000000000000003'\n"
    "begin_xlog=str:'0/3000028'\n"
    "compression=NoneType:None\n"
    "config_file=str:'/etc/pg/postgresql.conf'\n"
    "copy_stats=dict:{'total_time': 12.5, 'number_of_workers': 4}\n"
    "deduplicated_size=NoneType:None\n"
    "end_offset=int:312\n"
    "end_time=datetime:2026-03-01T03:05:00+01:00\n"
    "end_wal=str:'000000010000000000000004'\n"
    "end_xlog=str:'0/4000138'\n"
    "error=NoneType:None\n"
    "hba_file=str:'/etc/pg/pg_hba.conf'\n"
    "ident_file=str:'/etc/pg/pg_ident.conf'\n"
    "included_files=list:['/etc/pg/conf.d/x.conf']\n"
    "mode=NoneType:None\n"
    "pgdata=str:'/var/lib/pg/data'\n"
    "server_name=str:'cloud'\n"
    "size=int:123456789\n"
    "snapshots_info=NoneType:None\n"
    "status=str:'DONE'\n"
    "systemid=str:'17300000000000000001'\n"
    "tablespaces=list:[Tablespace(name='tbs\"1', oid=16385, location='/srv/t b'), "
    "Tablespace(name='tbs2', oid=4294967295, location='/srv/\xe6\x97\xa5')]\n"
    "timeline=int:1\n"
    "version=int:170002\n"
    "xlog_segment_size=int:16777216\n";

static void test_binfo_format_exact(void **state)
{
    cat_binfo b;
    pc_buf out;
    rich_info(&b);
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), rich_text);

    /* and back: the same values */
    cat_binfo p;
    assert_int_equal(cat_binfo_parse((const char *)out.data, out.len, &p), PC_OK);
    assert_string_equal(p.backup_label, b.backup_label);
    assert_int_equal(p.begin_time, b.begin_time);
    assert_int_equal(p.end_time, b.end_time);
    assert_int_equal(p.end_time_tz, 3600);
    assert_int_equal(p.tablespaces[1].oid, 4294967295u);
    assert_string_equal(p.tablespaces[0].name, "tbs\"1");
    assert_int_equal(p.systemid, b.systemid);
    assert_int_equal(p.size, 123456789);
    pc_buf re;
    pc_buf_init(&re, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_format(&p, &re), PC_OK);
    assert_string_equal(pc_buf_cstr(&re), rich_text);
    cat_binfo_free(&p);
    cat_binfo_free(&b);
    pc_buf_free(&out);
    pc_buf_free(&re);
}

/* What pgcask writes, loaded by barman's own loader (as barman-cloud-restore does). */
static void test_binfo_loaded_by_barman(void **state)
{
    assert_int_equal(pc_write_file_atomic(path("ours.info"), rich_text, strlen(rich_text), 0600),
                     PC_OK);
    pc_buf out, want;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_buf_init(&want, PC_BUF_NOCAP);
    char args[2100];
    snprintf(args, sizeof args, "load '%s'", path("ours.info"));
    assert_int_equal(script(args, &out), 0);
    /* barman saves what it loaded exactly as pgcask wrote it ... */
    pc_buf_printf(&want, "%s---\n%s", rich_text, rich_typed);
    /* ... and typed every field as it types its own */
    assert_string_equal(pc_buf_cstr(&out), pc_buf_cstr(&want));

    /* the reason newer keys stay out of what pgcask writes: barman 3.4 refuses them */
    static const char newer[] = "status=DONE\ndata_checksums=on\n";
    assert_int_equal(pc_write_file_atomic(path("newer.info"), newer, strlen(newer), 0600), PC_OK);
    snprintf(args, sizeof args, "load '%s' 2>/dev/null", path("newer.info"));
    assert_int_not_equal(script(args, NULL), 0);
    pc_buf_free(&out);
    pc_buf_free(&want);
}

/* barman 3.17 keys and keys unknown to every barman round-trip in sorted order. */
static void test_binfo_newer_keys(void **state)
{
    static const char text[] =
        "aaa_first=1\n"
        "backup_label=None\n"
        "backup_name=backup-20250601100000\n"
        "begin_offset=40\n"
        "begin_time=2025-06-01 10:00:00.123456+00:00\n"
        "begin_wal=000000010000000000000009\n"
        "begin_xlog=0/9000028\n"
        "children_backup_ids=None\n"
        "cluster_size=31457280\n"
        "compression=None\n"
        "config_file=/var/lib/postgresql/data/pgdata/postgresql.conf\n"
        "copy_stats={'total_time': 5.1, 'number_of_workers': 2}\n"
        "data_checksums=on\n"
        "deduplicated_size=None\n"
        "encryption=None\n"
        "end_offset=312\n"
        "end_time=2025-06-01 10:00:05.654321+00:00\n"
        "end_wal=000000010000000000000009\n"
        "end_xlog=0/9000138\n"
        "error=None\n"
        "future_key=[1, 'two']\n"
        "hba_file=/var/lib/postgresql/data/pgdata/pg_hba.conf\n"
        "ident_file=/var/lib/postgresql/data/pgdata/pg_ident.conf\n"
        "included_files=None\n"
        "mode=None\n"
        "parent_backup_id=20250531T100000\n"
        "pgdata=/var/lib/postgresql/data/pgdata\n"
        "server_name=cloud\n"
        "size=None\n"
        "snapshots_info={'provider': 'gcp', 'provider_info': {'project': 'p'}, 'snapshots': []}\n"
        "status=DONE\n"
        "summarize_wal=off\n"
        "systemid=7512345678901234567\n"
        "tablespaces=None\n"
        "timeline=1\n"
        "version=170005\n"
        "xlog_segment_size=16777216\n"
        "zzz_last=None\n";
    cat_binfo b;
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_parse(text, strlen(text), &b), PC_OK);
    assert_int_equal(b.cluster_size, 31457280);
    assert_string_equal(b.data_checksums, "on");
    assert_string_equal(b.summarize_wal, "off");
    assert_string_equal(b.parent_backup_id, "20250531T100000");
    assert_null(b.children_backup_ids);
    assert_null(b.encryption);
    assert_non_null(strstr(b.snapshots_info, "'gcp'"));
    assert_int_equal(b.n_extra, 3);
    assert_string_equal(b.extra[0].key, "aaa_first");
    assert_string_equal(b.extra[1].key, "future_key");
    assert_string_equal(b.extra[1].value, "[1, 'two']");
    assert_string_equal(b.extra[2].value, "None");
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    assert_string_equal(pc_buf_cstr(&out), text);
    cat_binfo_free(&b);

    /* newer keys appear only when set */
    cat_binfo_init(&b);
    b.cluster_size = 42;
    b.children_backup_ids = strdup("20250602T100000,20250603T100000");
    pc_buf_reset(&out);
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    assert_non_null(strstr(pc_buf_cstr(&out), "\nbegin_xlog=None\nchildren_backup_ids="
                                              "20250602T100000,20250603T100000\ncluster_size=42\n"
                                              "compression=None\n"));
    assert_null(strstr(pc_buf_cstr(&out), "data_checksums"));
    assert_null(strstr(pc_buf_cstr(&out), "encryption"));
    cat_binfo_free(&b);
    pc_buf_free(&out);
}

/* barman's loader rules: comments, blanks, spaces, CRLF, duplicates, None. */
static void test_binfo_loader_rules(void **state)
{
    static const char text[] = "# written by hand\n"
                               "\n"
                               "   \t\n"
                               "  version =  160004  \r\n"
                               "timeline=1\n"
                               "timeline=2\n"
                               "pgdata=/data\n"
                               "pgdata=None\n"
                               "begin_time=2026-01-30 08:34:28\n"
                               "end_time=2026-01-30T10:34:28.5+0200\n"
                               "tablespaces=[]\n"
                               "included_files=()\n"
                               "backup_label=''\n"
                               "error=a=b=c\n"
                               "status=None\n"
                               "xlog_segment_size=None\n"
                               "size=-5\n"
                               "mode=";
    cat_binfo b;
    assert_int_equal(cat_binfo_parse(text, strlen(text), &b), PC_OK);
    int64_t t;
    assert_int_equal(b.version, 160004);
    assert_int_equal(b.timeline, 2);
    assert_null(b.pgdata);
    assert_int_equal(pc_time_parse("2026-01-30 08:34:28Z", &t), PC_OK);
    assert_int_equal(b.begin_time, t);
    assert_int_equal(b.begin_time_tz, 0);
    assert_int_equal(b.end_time, t + 500000);
    assert_int_equal(b.end_time_tz, 7200);
    assert_int_equal(b.n_tablespaces, 0);
    assert_int_equal(b.n_included_files, 0);
    assert_string_equal(b.backup_label, "");
    assert_string_equal(b.error, "a=b=c");
    assert_int_equal(b.status, CAT_BINFO_EMPTY);
    assert_int_equal(b.xlog_segment_size, CAT_BINFO_NONE);
    assert_int_equal(b.size, -5);
    assert_string_equal(b.mode, "");
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    assert_int_equal(cat_binfo_format(&b, &out), PC_OK);
    /* empty label and lists are None, as barman's null_repr writes them */
    assert_non_null(strstr(pc_buf_cstr(&out), "backup_label=None\n"));
    assert_non_null(strstr(pc_buf_cstr(&out), "\ntablespaces=None\n"));
    assert_non_null(strstr(pc_buf_cstr(&out), "\nend_time=2026-01-30 10:34:28.500000+02:00\n"));
    assert_non_null(strstr(pc_buf_cstr(&out), "\nmode=\n"));
    cat_binfo_free(&b);
    pc_buf_free(&out);
}

static void test_binfo_bad(void **state)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"status=DONE\nno equals here\n", "corrupt backup.info: line 2 has no '='"},
        {"bad key=1\n", "line 1 has an invalid key"},
        {"=1\n", "line 1 has an invalid key"},
        {"version=abc\n", "invalid value of \"version\": not an integer"},
        {"version=\n", "invalid value of \"version\": not an integer"},
        {"version=99999999999999999999\n", "integer out of range"},
        {"version=-9223372036854775808\n", "integer out of range"},
        {"timeline=1.5\n", "invalid value of \"timeline\": not an integer"},
        {"begin_time=yesterday\n", "invalid value of \"begin_time\": not a timestamp"},
        {"begin_time=2026-02-30 00:00:00\n", "not a timestamp"},
        {"end_time=2026-01-30 00:00:00+25:00\n", "not a timestamp"},
        {"status=BOGUS\n", "invalid value of \"status\": unknown backup status"},
        {"systemid=-1\n", "invalid value of \"systemid\": not a system identifier"},
        {"systemid=abc\n", "not a system identifier"},
        {"systemid=0\n", "not a system identifier"},
        {"systemid=18446744073709551616\n", "not a system identifier"},
        {"tablespaces=[('a', 'x', '/b')]\n", "tablespace oid is not a valid OID"},
        {"tablespaces=[('a', -1, '/b')]\n", "tablespace oid is not a valid OID"},
        {"tablespaces=[('a', 4294967296, '/b')]\n", "tablespace oid is not a valid OID"},
        {"tablespaces=[('a', 1)]\n", "expected (name, oid, location) tuples"},
        {"tablespaces=['a']\n", "expected (name, oid, location) tuples"},
        {"tablespaces=[(1, 1, '/b')]\n", "invalid value of \"tablespaces\": expected a string"},
        {"tablespaces={}\n", "expected a list"},
        {"included_files=[1]\n", "invalid value of \"included_files\": expected a string"},
        {"included_files='x'\n", "expected a list"},
        {"backup_label=[1]\n", "invalid value of \"backup_label\": expected a string"},
        {"backup_label='unterminated\n",
         "corrupt backup.info: invalid value of \"backup_label\": invalid Python literal: "
         "unterminated string"},
        {"backup_label='a\\x00b'\n", "NUL character in a string"},
        {"backup_label=START WAL\n", "invalid value of \"backup_label\""},
        {"copy_stats={'a': }\n", "invalid value of \"copy_stats\""},
        {"snapshots_info=nope\n", "invalid value of \"snapshots_info\""},
        {"pgdata=\xff\n", "the text is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cat_binfo b;
        if (cat_binfo_parse(bad[i].text, strlen(bad[i].text), &b) != PC_E_CORRUPT)
            fail_msg("\"%s\" accepted", bad[i].text);
        if (!strstr(pc_err_get()->message, bad[i].msg))
            fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].text, pc_err_get()->message, bad[i].msg);
        /* left empty */
        assert_null(b.pgdata);
        assert_int_equal(b.n_tablespaces, 0);
        cat_binfo_free(&b);
    }
    cat_binfo b;
    assert_int_equal(cat_binfo_parse("pgdata=a\0b\n", 11, &b), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "NUL byte"));
    char *big = malloc(CAT_BINFO_MAX_SIZE + 1);
    memset(big, '#', CAT_BINFO_MAX_SIZE + 1);
    assert_int_equal(cat_binfo_parse(big, CAT_BINFO_MAX_SIZE + 1, &b), PC_E_CORRUPT);
    assert_non_null(strstr(pc_err_get()->message, "more than the 1048576 allowed"));
    free(big);
}

static void test_binfo_format_refuses(void **state)
{
    static const struct {
        const char *server_name, *msg;
    } bad[] = {
        {"two\nlines", "the value of \"server_name\" contains a line break"},
        {"cr\rhere", "contains a line break"},
        {" padded", "starts or ends with white space"},
        {"padded\t", "starts or ends with white space"},
        {"None", "is the text \"None\""},
        {"bad\xff", "is not valid UTF-8"},
    };
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cat_binfo b;
        cat_binfo_init(&b);
        b.server_name = strdup(bad[i].server_name);
        assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
        assert_non_null(strstr(pc_err_get()->message, bad[i].msg));
        /* nothing half-written */
        assert_int_equal(out.len, 0);
        cat_binfo_free(&b);
    }
    cat_binfo b;
    cat_binfo_init(&b);
    b.copy_stats = strdup("{'a': ");
    assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "\"copy_stats\" is not a Python literal"));
    cat_binfo_free(&b);
    b.backup_label = strdup("bad \xc0\xaf");
    assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "\"backup_label\" is not valid UTF-8"));
    cat_binfo_free(&b);
    b.begin_time = INT64_C(253402300800) * 1000000; /* year 10000 */
    assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "outside the years 1-9999"));
    cat_binfo_free(&b);
    assert_int_equal(cat_binfo_parse("x=1\n", 4, &b), PC_OK);
    free(b.extra[0].value);
    b.extra[0].value = strdup("a\nb");
    assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
    free(b.extra[0].key);
    b.extra[0].key = strdup("version");
    assert_int_equal(cat_binfo_format(&b, &out), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "invalid extra key \"version\""));
    cat_binfo_free(&b);
    assert_int_equal(out.len, 0);
    pc_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repr_fixed),
        cmocka_unit_test(test_repr_vs_python),
        cmocka_unit_test(test_repr_all_code_points),
        cmocka_unit_test(test_float_repr),
        cmocka_unit_test(test_literal_vs_python),
        cmocka_unit_test(test_literal_values),
        cmocka_unit_test(test_binfo_defaults),
        cmocka_unit_test(test_binfo_from_barman),
        cmocka_unit_test(test_binfo_format_exact),
        cmocka_unit_test(test_binfo_loaded_by_barman),
        cmocka_unit_test(test_binfo_newer_keys),
        cmocka_unit_test(test_binfo_loader_rules),
        cmocka_unit_test(test_binfo_bad),
        cmocka_unit_test(test_binfo_format_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
