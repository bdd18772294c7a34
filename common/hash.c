#include "common/hash.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

size_t pc_hash_len(pc_hash_alg alg)
{
    switch (alg) {
    case PC_HASH_SHA256:
        return PC_SHA256_LEN;
    case PC_HASH_MD5:
        return PC_MD5_LEN;
    case PC_HASH_CRC32C:
        return 4;
    }
    return 0;
}

const char *pc_hash_name(pc_hash_alg alg)
{
    switch (alg) {
    case PC_HASH_SHA256:
        return "sha256";
    case PC_HASH_MD5:
        return "md5";
    case PC_HASH_CRC32C:
        return "crc32c";
    }
    return "unknown";
}

/* ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ---- */

static uint32_t crc_table[8][256];
static int crc_table_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
    __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t n)
{
    if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
        crc_init(); /* idempotent: racing threads compute the same table */
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
        lo ^= crc; /* little-endian hosts (x86-64, arm64) */
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
              crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p,
                                                           size_t n)
{
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

static int have_sse42(void)
{
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        unsigned a, b, c, d;
        v = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
#endif

uint32_t pc_crc32c(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_sse42())
        return ~crc32c_hw(crc, p, len);
#endif
    return ~crc32c_sw(crc, p, len);
}

/* ---- digests ---- */

struct pc_hash {
    pc_hash_alg alg;
    EVP_MD_CTX *md;
    uint32_t crc;
};

pc_status pc_hash_new(pc_hash_alg alg, pc_hash **out)
{
    pc_hash *h = pc_calloc(1, sizeof *h);
    if (!h)
        return PC_E_INTERNAL;
    h->alg = alg;
    if (alg != PC_HASH_CRC32C) {
        h->md = EVP_MD_CTX_new();
        const EVP_MD *type = alg == PC_HASH_SHA256 ? EVP_sha256() : EVP_md5();
        if (!h->md || EVP_DigestInit_ex(h->md, type, NULL) != 1) {
            EVP_MD_CTX_free(h->md);
            free(h);
            return pc_err(PC_E_INTERNAL, "could not initialise %s", pc_hash_name(alg));
        }
    }
    *out = h;
    return PC_OK;
}

void pc_hash_update(pc_hash *h, const void *data, size_t len)
{
    if (h->alg == PC_HASH_CRC32C)
        h->crc = pc_crc32c(h->crc, data, len);
    else
        EVP_DigestUpdate(h->md, data, len);
}

void pc_hash_final(pc_hash *h, unsigned char *out)
{
    if (h->alg == PC_HASH_CRC32C) {
        /* big-endian, as a hex string of the value reads */
        out[0] = (unsigned char)(h->crc >> 24);
        out[1] = (unsigned char)(h->crc >> 16);
        out[2] = (unsigned char)(h->crc >> 8);
        out[3] = (unsigned char)h->crc;
        return;
    }
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->md, out, &n);
}

void pc_hash_free(pc_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

static void oneshot(const EVP_MD *type, const void *data, size_t len, unsigned char *out)
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, type, NULL);
}

void pc_sha256(const void *data, size_t len, unsigned char out[PC_SHA256_LEN])
{
    oneshot(EVP_sha256(), data, len, out);
}

void pc_md5(const void *data, size_t len, unsigned char out[PC_MD5_LEN])
{
    oneshot(EVP_md5(), data, len, out);
}

void pc_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

pc_status pc_unhex(const char *hex, unsigned char *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return pc_err(PC_E_CORRUPT, "expected %zu hex digits, got \"%s\"", 2 * len, hex);
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return pc_err(PC_E_CORRUPT, "invalid hex digits in \"%s\"", hex);
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return PC_OK;
}

void pc_base64(const unsigned char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* ---- observer stage ---- */

typedef struct hash_sink {
    pc_sink base;
    pc_hash *h;
    unsigned char digest[PC_HASH_MAX];
    bool done;
} hash_sink;

static pc_status hash_write(pc_sink *s, const void *d, size_t n)
{
    hash_sink *hs = (hash_sink *)s;
    pc_hash_update(hs->h, d, n);
    return pc_sink_write(s->next, d, n);
}

static pc_status hash_finish(pc_sink *s)
{
    hash_sink *hs = (hash_sink *)s;
    pc_hash_final(hs->h, hs->digest);
    hs->done = true;
    return PC_OK;
}

static void hash_destroy(pc_sink *s)
{
    hash_sink *hs = (hash_sink *)s;
    pc_hash_free(hs->h);
    free(hs);
}

static const pc_sink_ops hash_ops = {
    .name = "hash", .write = hash_write, .finish = hash_finish, .destroy = hash_destroy};

pc_status pc_sink_hash_new(pc_hash_alg alg, pc_sink *next, pc_sink **out)
{
    hash_sink *hs = pc_calloc(1, sizeof *hs);
    if (!hs) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_status st = pc_hash_new(alg, &hs->h);
    if (st) {
        free(hs);
        pc_sink_free(next);
        return st;
    }
    pc_sink_init(&hs->base, &hash_ops, next);
    *out = &hs->base;
    return PC_OK;
}

pc_status pc_sink_hash_result(pc_sink *hash_stage, unsigned char *out, size_t len)
{
    hash_sink *hs = (hash_sink *)hash_stage;
    size_t need = pc_hash_len(hs->h->alg);
    if (!hs->done)
        return pc_err(PC_E_INTERNAL, "hash result read before the stage finished");
    if (len < need)
        return pc_err(PC_E_INTERNAL, "hash result buffer too small");
    memcpy(out, hs->digest, need);
    return PC_OK;
}
