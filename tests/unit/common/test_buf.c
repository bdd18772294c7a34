#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

/* Lets the out-of-memory paths run under AddressSanitizer too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void test_append_and_terminate(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_string_equal(pc_buf_cstr(&b), "");
    assert_int_equal(pc_buf_append(&b, "abc", 3), PC_OK);
    assert_int_equal(pc_buf_append(&b, "\0x", 2), PC_OK);
    assert_int_equal(pc_buf_append_str(&b, "yz"), PC_OK);
    assert_int_equal(pc_buf_append(&b, NULL, 0), PC_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "abc\0xyz", 8); /* NUL after the data */
    pc_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_true(b.alloc > 0); /* storage kept */
    assert_string_equal(pc_buf_cstr(&b), "");
    pc_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    pc_buf_free(&b); /* twice is fine */
}

static void test_growth(void **state)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(pc_buf_append(&b, &"0123456789"[i % 10], 1), PC_OK);
    assert_int_equal(b.len, 100000);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(b.data[i], '0' + i % 10);
    assert_int_equal(b.data[100000], '\0');
    pc_buf_free(&b);
}

static void test_cap(void **state)
{
    pc_buf b;
    pc_buf_init(&b, 10);
    assert_int_equal(pc_buf_append(&b, "0123456789", 10), PC_OK);
    assert_int_equal(pc_buf_append(&b, "x", 1), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "data exceeds the 10-byte limit of this buffer");
    assert_int_equal(b.len, 10);
    assert_string_equal(pc_buf_cstr(&b), "0123456789");
    assert_int_equal(pc_buf_printf(&b, "%d", 1), PC_E_CORRUPT);
    assert_string_equal(pc_buf_cstr(&b), "0123456789");
    assert_int_equal(pc_buf_reserve(&b, SIZE_MAX), PC_E_CORRUPT);
    pc_buf_reset(&b);
    assert_int_equal(pc_buf_printf(&b, "%s", "01234567890"), PC_E_CORRUPT);
    assert_int_equal(b.len, 0);
    pc_buf_free(&b);

    /* with no cap, sizes that cannot exist fail instead of wrapping around */
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(pc_buf_append(&b, "a", 1), PC_OK);
    assert_int_equal(pc_buf_reserve(&b, SIZE_MAX - 1), PC_E_INTERNAL);
    assert_int_not_equal(pc_buf_reserve(&b, SIZE_MAX / 2), PC_OK);
    assert_int_equal(b.len, 1);
    pc_buf_free(&b);
}

static void test_printf(void **state)
{
    pc_buf b;
    pc_buf_init(&b, 64);
    assert_int_equal(pc_buf_printf(&b, "%s-%03d", "wal", 7), PC_OK);
    assert_int_equal(pc_buf_printf(&b, "%s", ""), PC_OK);
    assert_int_equal(pc_buf_printf(&b, "/%x", 255u), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "wal-007/ff");
    assert_int_equal(b.len, 10);
    pc_buf_free(&b);
}

static void test_steal(void **state)
{
    pc_buf b;
    size_t len = 99;
    pc_buf_init(&b, PC_BUF_NOCAP);
    unsigned char *p = pc_buf_steal(&b, &len); /* empty buffer: still a valid string */
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal((char *)p, "");
    free(p);

    assert_int_equal(pc_buf_append_str(&b, "hello"), PC_OK);
    p = pc_buf_steal(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal((char *)p, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0);
    free(p);
    /* the buffer is usable again */
    assert_int_equal(pc_buf_append_str(&b, "again"), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "again");
    pc_buf_free(&b);
}

static void test_alloc_helpers(void **state)
{
    char *s = pc_strdup(NULL);
    assert_string_equal(s, "");
    free(s);
    s = pc_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = pc_asprintf("%s/%d", "x", 42);
    assert_string_equal(s, "x/42");
    free(s);
    void *p = pc_calloc(4, 4);
    assert_memory_equal(p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    p = pc_realloc(p, 64);
    assert_non_null(p);
    free(p);
    p = pc_malloc(0);
    assert_non_null(p);
    free(p);
    pc_err_clear();
    assert_null(pc_malloc(SIZE_MAX));
    tu_assert_err(PC_E_INTERNAL, "out of memory (18446744073709551615 bytes)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_terminate),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_steal),
        cmocka_unit_test(test_alloc_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
