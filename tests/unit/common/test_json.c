#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"

/* ---- writer ---- */

static void test_writer_compact(void **state)
{
    pc_buf b;
    pc_jw w;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_jw_init(&w, &b, false);
    pc_jw_obj_begin(&w);
    pc_jw_kint(&w, "a", 1);
    pc_jw_key(&w, "b");
    pc_jw_arr_begin(&w);
    pc_jw_int(&w, 1);
    pc_jw_uint(&w, UINT64_MAX);
    pc_jw_obj_begin(&w);
    pc_jw_knull(&w, "c");
    pc_jw_obj_end(&w);
    pc_jw_str(&w, NULL);
    pc_jw_arr_end(&w);
    pc_jw_key(&w, "d");
    pc_jw_obj_begin(&w);
    pc_jw_obj_end(&w);
    pc_jw_key(&w, "e");
    pc_jw_arr_begin(&w);
    pc_jw_arr_end(&w);
    pc_jw_kbool(&w, "f", true);
    pc_jw_kint(&w, "g", INT64_MIN);
    pc_jw_kdbl(&w, "h", 1.5);
    pc_jw_kstr(&w, "s", "x");
    pc_jw_kuint(&w, "u", 0);
    pc_jw_key(&w, "raw");
    pc_jw_raw(&w, "[true]");
    pc_jw_key(&w, "n");
    pc_jw_strn(&w, "a\0b", 3);
    pc_jw_obj_end(&w);
    assert_int_equal(pc_jw_end(&w), PC_OK);
    assert_string_equal(pc_buf_cstr(&b),
                        "{\"a\":1,\"b\":[1,18446744073709551615,{\"c\":null},null],\"d\":{},"
                        "\"e\":[],\"f\":true,\"g\":-9223372036854775808,\"h\":1.5,\"s\":\"x\","
                        "\"u\":0,\"raw\":[true],\"n\":\"a\\u0000b\"}");
    pc_buf_free(&b);
}

static void test_writer_pretty(void **state)
{
    pc_buf b;
    pc_jw w;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_jw_init(&w, &b, true);
    pc_jw_obj_begin(&w);
    pc_jw_kstr(&w, "name", "pgcask");
    pc_jw_key(&w, "list");
    pc_jw_arr_begin(&w);
    pc_jw_int(&w, 1);
    pc_jw_obj_begin(&w);
    pc_jw_kbool(&w, "x", false);
    pc_jw_obj_end(&w);
    pc_jw_arr_end(&w);
    pc_jw_key(&w, "empty");
    pc_jw_obj_begin(&w);
    pc_jw_obj_end(&w);
    pc_jw_obj_end(&w);
    assert_int_equal(pc_jw_end(&w), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "{\n"
                                         "  \"name\": \"pgcask\",\n"
                                         "  \"list\": [\n"
                                         "    1,\n"
                                         "    {\n"
                                         "      \"x\": false\n"
                                         "    }\n"
                                         "  ],\n"
                                         "  \"empty\": {}\n"
                                         "}");
    pc_buf_free(&b);
}

static void test_writer_top_level_array(void **state)
{
    pc_buf b;
    pc_jw w;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_jw_init(&w, &b, false);
    pc_jw_arr_begin(&w);
    pc_jw_str(&w, "a");
    pc_jw_arr_begin(&w);
    pc_jw_arr_end(&w);
    pc_jw_null(&w);
    pc_jw_arr_end(&w);
    assert_int_equal(pc_jw_end(&w), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "[\"a\",[],null]");
    pc_buf_free(&b);
}

static void check_dbl(double v, const char *want)
{
    pc_buf b;
    pc_jw w;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_jw_init(&w, &b, false);
    pc_jw_dbl(&w, v);
    assert_int_equal(pc_jw_end(&w), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), want);
    pc_buf_free(&b);
}

static void test_writer_doubles(void **state)
{
    check_dbl(0.1, "0.1");
    check_dbl(0.1 + 0.2,
              "0.30000000000000004"); /* exact when the short form would not round-trip */
    check_dbl(1234567.0, "1234567");
    check_dbl(-2.5, "-2.5");
    check_dbl(0, "0");
    check_dbl(1e300, "1e+300");
    check_dbl(NAN, "null");
    check_dbl(INFINITY, "null");
    check_dbl(-INFINITY, "null");
}

static void check_escape(const char *in, size_t n, const char *want)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(pc_json_escape(&b, in, n), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), want);
    pc_buf_free(&b);
}

static void test_escape(void **state)
{
    check_escape("", 0, "\"\"");
    check_escape("plain text", 10, "\"plain text\"");
    check_escape("\"\\/", 3, "\"\\\"\\\\/\"");
    check_escape("\n\r\t\b\f\x01\x1f\x7f", 8, "\"\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\x7f\"");
    /* valid UTF-8 of 2, 3 and 4 bytes passes through */
    check_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* every invalid byte becomes U+FFFD: overlong, surrogate, beyond U+10FFFF, truncated, stray */
    check_escape("\xc0\x80", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    check_escape("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    check_escape("\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    check_escape("a\xe2\x82", 3, "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
    check_escape("\x80z\xff", 3, "\"\xef\xbf\xbdz\xef\xbf\xbd\"");
}

static void test_writer_cap_and_depth(void **state)
{
    pc_buf b;
    pc_jw w;
    pc_buf_init(&b, 8);
    pc_jw_init(&w, &b, false);
    pc_jw_obj_begin(&w);
    pc_jw_kstr(&w, "key", "a long value");
    pc_jw_obj_end(&w);
    assert_int_equal(pc_jw_end(&w), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "data exceeds the 8-byte limit of this buffer");
    pc_buf_free(&b);

    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_jw_init(&w, &b, false);
    for (int i = 0; i < 70; i++)
        pc_jw_arr_begin(&w);
    assert_int_equal(pc_jw_end(&w), PC_E_INTERNAL);
    tu_assert_err(PC_E_INTERNAL, "JSON writer nested too deep");
    pc_buf_free(&b);
}

/* ---- reader ---- */

static const char DOC[] = "{\n"
                          "  \"name\": \"caf\\u00e9\",\n"
                          "  \"count\": 42,\n"
                          "  \"big\": -9223372036854775808,\n"
                          "  \"ratio\": 0.5,\n"
                          "  \"on\": true,\n"
                          "  \"off\": false,\n"
                          "  \"nothing\": null,\n"
                          "  \"list\": [1, \"two\", [3]],\n"
                          "  \"spec\": {\"plugins\": [{\"name\": \"pgcask\"}], \"z\": {}}\n"
                          "}";

static pc_json *parse_ok(const char *text)
{
    pc_json *root = NULL;
    pc_err_clear();
    assert_int_equal(pc_json_parse(text, strlen(text), 1 << 20, "test", &root), PC_OK);
    assert_non_null(root);
    return root;
}

static void test_reader_values(void **state)
{
    pc_json *root = parse_ok(DOC);
    int64_t i;
    double d;
    bool b;

    assert_true(pc_json_is_object(root));
    assert_false(pc_json_is_array(root));
    assert_string_equal(pc_json_get_str(root, "name"), "caf\xc3\xa9");
    assert_int_equal(pc_json_string_len(pc_json_get(root, "name")), 5);
    assert_true(pc_json_int(pc_json_get(root, "count"), &i));
    assert_int_equal(i, 42);
    assert_true(pc_json_int(pc_json_get(root, "big"), &i));
    assert_true(i == INT64_MIN);
    assert_true(pc_json_number(pc_json_get(root, "count"), &d));
    assert_true(d == 42.0);
    assert_true(pc_json_number(pc_json_get(root, "ratio"), &d));
    assert_true(d == 0.5);
    assert_true(pc_json_bool(pc_json_get(root, "on"), &b));
    assert_true(b);
    assert_true(pc_json_bool(pc_json_get(root, "off"), &b));
    assert_false(b);
    assert_true(pc_json_is_null(pc_json_get(root, "nothing")));
    assert_true(pc_json_is_number(pc_json_get(root, "ratio")));
    assert_true(pc_json_is_bool(pc_json_get(root, "on")));
    assert_true(pc_json_is_string(pc_json_get(root, "name")));

    const pc_json *list = pc_json_get(root, "list");
    assert_true(pc_json_is_array(list));
    assert_int_equal(pc_json_array_len(list), 3);
    assert_true(pc_json_int(pc_json_array_at(list, 0), &i));
    assert_int_equal(i, 1);
    assert_string_equal(pc_json_string(pc_json_array_at(list, 1)), "two");
    assert_int_equal(pc_json_array_len(pc_json_array_at(list, 2)), 1);
    assert_null(pc_json_array_at(list, 3));

    const pc_json *plugins = pc_json_path(root, "spec", "plugins", NULL);
    assert_int_equal(pc_json_array_len(plugins), 1);
    assert_string_equal(pc_json_get_str(pc_json_array_at(plugins, 0), "name"), "pgcask");
    assert_ptr_equal(pc_json_path(root, NULL), root);
    assert_null(pc_json_path(root, "spec", "missing", "deeper", NULL));
    assert_null(pc_json_path(root, "name", "x", NULL)); /* through a string */
    pc_json_free(root);
}

static void test_reader_wrong_types(void **state)
{
    pc_json *root = parse_ok(DOC);
    int64_t i = 7;
    double d = 7;
    bool b = true;
    const pc_json *name = pc_json_get(root, "name");
    const pc_json *ratio = pc_json_get(root, "ratio");
    const pc_json *list = pc_json_get(root, "list");

    assert_false(pc_json_int(name, &i));
    assert_false(pc_json_int(ratio, &i)); /* a real is not an integer */
    assert_false(pc_json_number(name, &d));
    assert_false(pc_json_bool(pc_json_get(root, "nothing"), &b));
    assert_false(pc_json_bool(pc_json_get(root, "count"), &b));
    assert_int_equal(i, 7); /* untouched on failure */
    assert_true(d == 7);
    assert_true(b);
    assert_null(pc_json_string(ratio));
    assert_int_equal(pc_json_string_len(ratio), 0);
    assert_null(pc_json_get_str(root, "count"));
    assert_null(pc_json_get_str(root, "missing"));
    assert_null(pc_json_get(list, "0")); /* not an object */
    assert_int_equal(pc_json_array_len(name), 0);
    assert_null(pc_json_array_at(name, 0));
    /* NULL nodes (a missing key) flow through every getter */
    assert_null(pc_json_get(NULL, "x"));
    assert_null(pc_json_path(NULL, "x", NULL));
    assert_false(pc_json_is_object(NULL));
    assert_false(pc_json_is_null(NULL));
    assert_null(pc_json_string(NULL));
    assert_false(pc_json_int(NULL, &i));
    void *it = NULL;
    const char *k;
    const pc_json *v;
    assert_false(pc_json_object_next(list, &it, &k, &v));
    assert_false(pc_json_object_next(NULL, &it, &k, &v));
    pc_json_free(root);
}

static void test_reader_iteration(void **state)
{
    pc_json *root = parse_ok("{\"z\": 1, \"a\": 2, \"m\": 3}");
    void *it = NULL;
    const char *k;
    const pc_json *v;
    const char *keys[3];
    int64_t vals[3];
    int n = 0;
    while (pc_json_object_next(root, &it, &k, &v)) {
        assert_true(n < 3);
        keys[n] = k;
        assert_true(pc_json_int(v, &vals[n]));
        n++;
    }
    assert_int_equal(n, 3);
    /* document order */
    assert_string_equal(keys[0], "z");
    assert_string_equal(keys[1], "a");
    assert_string_equal(keys[2], "m");
    assert_int_equal(vals[0], 1);
    assert_int_equal(vals[2], 3);
    /* the end stays the end */
    assert_false(pc_json_object_next(root, &it, &k, &v));
    pc_json_free(root);

    root = parse_ok("{}");
    it = NULL;
    assert_false(pc_json_object_next(root, &it, &k, &v));
    pc_json_free(root);
}

static void test_reader_scalars_and_slices(void **state)
{
    int64_t i;
    pc_json *root = parse_ok("42");
    assert_true(pc_json_int(root, &i));
    assert_int_equal(i, 42);
    pc_json_free(root);

    /* only len bytes are read: the buffer needs no terminator */
    const char text[] = "[1,2]garbage";
    assert_int_equal(pc_json_parse(text, 5, 5, "slice", &root), PC_OK);
    assert_int_equal(pc_json_array_len(root), 2);
    pc_json_free(root);
    pc_json_free(NULL);
}

static void check_bad(const char *text, size_t max, const char *want)
{
    pc_json *root = (pc_json *)(uintptr_t)1;
    pc_err_clear();
    assert_int_equal(pc_json_parse(text, strlen(text), max, "cluster.json", &root), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, want);
    assert_ptr_equal(root, (pc_json *)(uintptr_t)1); /* untouched */
}

static void test_reader_malformed(void **state)
{
    check_bad("{\"a\":1,\n\"b\":}", 1024,
              "invalid JSON in cluster.json: unexpected token near '}' at line 2 column 5");
    check_bad("{} x", 1024,
              "invalid JSON in cluster.json: end of file expected near 'x' at line 1 "
              "column 4");
    check_bad("", 1024,
              "invalid JSON in cluster.json: unexpected token near end of file at line 1 column 0");
    check_bad("[1,]", 1024,
              "invalid JSON in cluster.json: unexpected token near ']' at line 1 "
              "column 4");
    check_bad("{\"a\":1,\"a\":2}", 1024,
              "invalid JSON in cluster.json: duplicate object key near "
              "'\"a\"' at line 1 column 10");
    check_bad("\"a\\u0000b\"", 1024,
              "invalid JSON in cluster.json: \\u0000 is not allowed without "
              "JSON_ALLOW_NUL near '\"a\\u0000b\"' at line 1 column 10");
    check_bad("9223372036854775808", 1024,
              "invalid JSON in cluster.json: too big integer near "
              "'9223372036854775808' at line 1 column 19");
    check_bad(
        "\"\xff\"", 1024,
        "invalid JSON in cluster.json: unable to decode byte 0xff near '\"' at line 1 column 1");
}

static void test_reader_size_cap(void **state)
{
    pc_json *root;
    check_bad("[1,2,3,4,5]", 10,
              "invalid JSON in cluster.json: 11 bytes exceed the limit of 10 bytes");
    assert_int_equal(pc_json_parse("[1,2,3,4,5]", 11, 11, "x", &root), PC_OK);
    pc_json_free(root);
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    assert_non_null(s);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_reader_depth(void **state)
{
    char *s = nested(PC_JSON_MAX_DEPTH);
    pc_json *root = parse_ok(s);
    pc_json_free(root);
    free(s);

    s = nested(PC_JSON_MAX_DEPTH + 1);
    check_bad(s, 1 << 20, "invalid JSON in cluster.json: nested deeper than 64 levels");
    free(s);

    /* objects count too, and a deep branch after shallow ones is found */
    char obj[1024] = "{\"a\":1,\"b\":[";
    for (int i = 0; i < PC_JSON_MAX_DEPTH - 1; i++)
        strcat(obj, "{\"k\":");
    strcat(obj, "0");
    for (int i = 0; i < PC_JSON_MAX_DEPTH - 1; i++)
        strcat(obj, "}");
    strcat(obj, "]}");
    check_bad(obj, 1 << 20, "invalid JSON in cluster.json: nested deeper than 64 levels");

    /* deeper than jansson's own limit: still a clean error */
    s = nested(5000);
    pc_err_clear();
    assert_int_equal(pc_json_parse(s, strlen(s), 1 << 20, "deep", &root), PC_E_CORRUPT);
    assert_memory_equal(pc_err_get()->message, "invalid JSON in deep: ", 22);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_compact),
        cmocka_unit_test(test_writer_pretty),
        cmocka_unit_test(test_writer_top_level_array),
        cmocka_unit_test(test_writer_doubles),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_writer_cap_and_depth),
        cmocka_unit_test(test_reader_values),
        cmocka_unit_test(test_reader_wrong_types),
        cmocka_unit_test(test_reader_iteration),
        cmocka_unit_test(test_reader_scalars_and_slices),
        cmocka_unit_test(test_reader_malformed),
        cmocka_unit_test(test_reader_size_cap),
        cmocka_unit_test(test_reader_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
