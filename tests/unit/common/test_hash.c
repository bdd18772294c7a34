#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    pc_hex(d, n, out);
}

static void test_vectors(void **state)
{
    unsigned char d[PC_HASH_MAX];
    char hex[2 * PC_HASH_MAX + 1];

    /* FIPS 180-2 and RFC 1321 */
    pc_sha256("", 0, d);
    hex_of(d, PC_SHA256_LEN, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pc_sha256("abc", 3, d);
    hex_of(d, PC_SHA256_LEN, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    pc_md5("", 0, d);
    hex_of(d, PC_MD5_LEN, hex);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
    pc_md5("abc", 3, d);
    hex_of(d, PC_MD5_LEN, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");

    /* RFC 3720 (iSCSI) check values */
    unsigned char zeros[32] = {0};
    assert_int_equal(pc_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(pc_crc32c(0, zeros, sizeof zeros), 0x8A9136AAu);
    assert_int_equal(pc_crc32c(0, "", 0), 0);
}

/* Bit-at-a-time CRC-32C: slow, obviously right. */
static uint32_t crc_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static void test_crc32c_against_reference(void **state)
{
    unsigned char buf[1100];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    /* every alignment and every tail length of both code paths (8-byte blocks and bytes) */
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += (len < 40 ? 1 : 97))
            assert_int_equal(pc_crc32c(0, buf + off, len), crc_ref(buf + off, len));
    /* incremental over any split point equals one pass */
    uint32_t whole = pc_crc32c(0, buf, 1000);
    for (size_t cut = 0; cut <= 1000; cut += 37)
        assert_int_equal(pc_crc32c(pc_crc32c(0, buf, cut), buf + cut, 1000 - cut), whole);
}

static void test_incremental(void **state)
{
    static const struct {
        pc_hash_alg alg;
        const char *name;
        size_t len;
        const char *abc;
    } cases[] = {
        {PC_HASH_SHA256, "sha256", 32,
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {PC_HASH_MD5, "md5", 16, "900150983cd24fb0d6963f7d28e17f72"},
        {PC_HASH_CRC32C, "crc32c", 4, "364b3fb7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pc_hash *h;
        unsigned char d[PC_HASH_MAX];
        char hex[2 * PC_HASH_MAX + 1];
        assert_string_equal(pc_hash_name(cases[i].alg), cases[i].name);
        assert_int_equal(pc_hash_len(cases[i].alg), cases[i].len);
        assert_int_equal(pc_hash_new(cases[i].alg, &h), PC_OK);
        pc_hash_update(h, "a", 1);
        pc_hash_update(h, "", 0);
        pc_hash_update(h, "bc", 2);
        pc_hash_final(h, d);
        pc_hash_free(h);
        hex_of(d, cases[i].len, hex);
        assert_string_equal(hex, cases[i].abc);
    }
    pc_hash_free(NULL);
    /* the CRC digest is the value written big-endian */
    assert_int_equal(pc_crc32c(0, "abc", 3), 0x364B3FB7u);
    assert_string_equal(pc_hash_name((pc_hash_alg)0), "unknown");
    assert_int_equal(pc_hash_len((pc_hash_alg)0), 0);
}

static void test_hex(void **state)
{
    unsigned char in[] = {0x00, 0xff, 0x1a, 0x9B};
    unsigned char out[4];
    char hex[9];
    pc_hex(in, 4, hex);
    assert_string_equal(hex, "00ff1a9b");
    pc_hex(in, 0, hex);
    assert_string_equal(hex, "");

    assert_int_equal(pc_unhex("00FF1a9B", out, 4), PC_OK);
    assert_memory_equal(out, in, 4);
    assert_int_equal(pc_unhex("00ff1a", out, 4), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "expected 8 hex digits, got \"00ff1a\"");
    assert_int_equal(pc_unhex("00ff1a9b00", out, 4), PC_E_CORRUPT);
    assert_int_equal(pc_unhex("00ff1g9b", out, 4), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "invalid hex digits in \"00ff1g9b\"");
    assert_int_equal(pc_unhex(" 0ff1a9b", out, 4), PC_E_CORRUPT);
}

static void test_base64(void **state)
{
    /* RFC 4648 section 10 */
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[16];
    for (size_t i = 0; i < 7; i++) {
        memset(out, 'X', sizeof out);
        pc_base64((const unsigned char *)in[i], strlen(in[i]), out);
        assert_string_equal(out, want[i]);
    }
    unsigned char bin[] = {0xfb, 0xff, 0xbf};
    pc_base64(bin, 3, out);
    assert_string_equal(out, "+/+/");
}

static void test_hash_stage(void **state)
{
    static const pc_hash_alg algs[] = {PC_HASH_SHA256, PC_HASH_MD5, PC_HASH_CRC32C};
    unsigned char data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i % 253);
    for (size_t a = 0; a < 3; a++) {
        pc_buf b;
        pc_sink *mem, *hs;
        unsigned char staged[PC_HASH_MAX], one[PC_HASH_MAX];
        pc_hash *h;
        size_t len = pc_hash_len(algs[a]);

        pc_buf_init(&b, PC_BUF_NOCAP);
        assert_int_equal(pc_sink_mem_new(&b, &mem), PC_OK);
        assert_int_equal(pc_sink_hash_new(algs[a], mem, &hs), PC_OK);
        assert_int_equal(pc_sink_write(hs, data, 1), PC_OK);
        assert_int_equal(pc_sink_hash_result(hs, staged, sizeof staged), PC_E_INTERNAL);
        tu_assert_err(PC_E_INTERNAL, "hash result read before the stage finished");
        assert_int_equal(pc_sink_write(hs, data + 1, 40000), PC_OK);
        assert_int_equal(pc_sink_write(hs, data + 40001, sizeof data - 40001), PC_OK);
        assert_int_equal(pc_sink_finish(hs), PC_OK);
        assert_int_equal(pc_sink_hash_result(hs, staged, len - 1), PC_E_INTERNAL);
        tu_assert_err(PC_E_INTERNAL, "hash result buffer too small");
        assert_int_equal(pc_sink_hash_result(hs, staged, len), PC_OK);
        /* passed through unchanged */
        assert_int_equal(b.len, sizeof data);
        assert_memory_equal(b.data, data, sizeof data);

        assert_int_equal(pc_hash_new(algs[a], &h), PC_OK);
        pc_hash_update(h, data, sizeof data);
        pc_hash_final(h, one);
        pc_hash_free(h);
        assert_memory_equal(staged, one, len);
        pc_sink_free(hs);
        pc_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),     cmocka_unit_test(test_crc32c_against_reference),
        cmocka_unit_test(test_incremental), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_base64),      cmocka_unit_test(test_hash_stage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
