/*
 * Conformance suite for compress/: every codec through the same checks
 * (round trips at every write size, truncation, corruption, trailing garbage,
 * size caps, concatenated frames), interop with the system tools in both
 * directions, and the snappy framing format checked against the spec.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/sink.h"
#include "compress/compress.h"

#define MIB (1024u * 1024u)

static unsigned char *big; /* 8 MiB of mixed data */
static size_t big_len = 8 * MIB;
static unsigned char *medium; /* ~300 KB, written byte by byte */
static size_t medium_len = 300 * 1000 + 17;
static char *scratch;

static const cmp_codec all_codecs[CMP_CODEC_COUNT] = {CMP_NONE, CMP_GZIP, CMP_BZIP2, CMP_ZSTD,
                                                      CMP_LZ4,  CMP_XZ,   CMP_SNAPPY};

/* ---- data ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* WAL-like mix: random pages, repeated records, zero runs, small-alphabet noise. */
static unsigned char *make_data(size_t len, uint64_t seed)
{
    unsigned char *d = malloc(len);
    assert_non_null(d);
    rng_state = seed;
    for (size_t off = 0; off < len;) {
        size_t n = 1000 + rng() % 7000;
        if (n > len - off)
            n = len - off;
        switch (rng() % 4) {
        case 0:
            for (size_t i = 0; i < n; i++)
                d[off + i] = (unsigned char)rng();
            break;
        case 1:
            for (size_t i = 0; i < n; i++)
                d[off + i] =
                    (unsigned char)"pgcask WAL record: INSERT INTO t VALUES (42);\n"[i % 46];
            break;
        case 2:
            memset(d + off, 0, n);
            break;
        default:
            for (size_t i = 0; i < n; i++)
                d[off + i] = (unsigned char)('a' + rng() % 4);
            break;
        }
        off += n;
    }
    return d;
}

/* ---- a sink that records what reaches it ---- */

typedef struct rec_sink {
    pc_sink base;
    pc_buf *buf;
    size_t max_write;
} rec_sink;

static pc_status rec_write(pc_sink *s, const void *data, size_t len)
{
    rec_sink *r = (rec_sink *)s;
    if (len > r->max_write)
        r->max_write = len;
    return pc_buf_append(r->buf, data, len);
}

static void rec_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops rec_ops = {.name = "record", .write = rec_write, .destroy = rec_destroy};

static pc_sink *rec_new(pc_buf *buf)
{
    rec_sink *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pc_sink_init(&r->base, &rec_ops, NULL);
    r->buf = buf;
    return &r->base;
}

/* ---- running a stage ---- */

typedef struct run_opts {
    bool compress;
    int level;
    int threads;
    uint64_t max_out;
    const size_t *chunks; /* write sizes, cycled; NULL = one write */
    size_t nchunks;
} run_opts;

/*
 * Push `in` through one stage into `out` (appended), with a 0-byte write
 * before every chunk. Returns the first failing status. *max_write gets the
 * largest write the stage made into its next.
 */
static pc_status run_stage(cmp_codec c, const run_opts *o, const void *in, size_t len, pc_buf *out,
                           size_t *max_write)
{
    pc_sink *rec = rec_new(out), *stage;
    pc_status st = o->compress ? cmp_compress_new(c, o->level, o->threads, rec, &stage)
                               : cmp_decompress_new(c, o->max_out, rec, &stage);
    if (st)
        return st;
    const unsigned char *p = in;
    size_t i = 0;
    while (st == PC_OK && len > 0) {
        size_t k = o->chunks ? o->chunks[i++ % o->nchunks] : len;
        if (k > len)
            k = len;
        st = pc_sink_write(stage, p, 0);
        if (!st)
            st = pc_sink_write(stage, p, k);
        p += k;
        len -= k;
    }
    st = st ? st : pc_sink_finish(stage);
    if (max_write)
        *max_write = ((rec_sink *)rec)->max_write;
    pc_sink_free(stage);
    return st;
}

static void compress_ok(cmp_codec c, const void *in, size_t len, pc_buf *out)
{
    run_opts o = {.compress = true, .level = CMP_LEVEL_DEFAULT, .threads = 1};
    pc_buf_init(out, PC_BUF_NOCAP);
    assert_int_equal(run_stage(c, &o, in, len, out, NULL), PC_OK);
}

static pc_status decompress(cmp_codec c, const void *in, size_t len, uint64_t max_out,
                            const size_t *chunks, size_t nchunks, pc_buf *out)
{
    run_opts o = {.max_out = max_out, .chunks = chunks, .nchunks = nchunks};
    pc_buf_init(out, PC_BUF_NOCAP);
    return run_stage(c, &o, in, len, out, NULL);
}

static void assert_same(const pc_buf *b, const void *data, size_t len)
{
    assert_int_equal(b->len, len);
    if (len)
        assert_memory_equal(b->data, data, len);
}

static void assert_err(pc_status got, pc_status want, const char *msg)
{
    assert_int_equal(got, want);
    assert_int_equal(pc_err_get()->status, want);
    assert_string_equal(pc_err_get()->message, msg);
}

/* The status is PC_E_CORRUPT and the message names the codec. */
static void assert_corrupt(pc_status got, cmp_codec c)
{
    assert_int_equal(got, PC_E_CORRUPT);
    const char *msg = pc_err_get()->message;
    if (!strstr(msg, cmp_codec_name(c)))
        fail_msg("message \"%s\" does not name %s", msg, cmp_codec_name(c));
}

static cmp_codec codec_of(void **state)
{
    return *(const cmp_codec *)*state;
}

/* ---- per-codec conformance ---- */

static void roundtrip(cmp_codec c, const unsigned char *data, size_t len, const size_t *wchunks,
                      size_t nw, const size_t *rchunks, size_t nr)
{
    run_opts o = {.compress = true,
                  .level = CMP_LEVEL_DEFAULT,
                  .threads = 1,
                  .chunks = wchunks,
                  .nchunks = nw};
    pc_buf z, plain;
    size_t max_write = 0;
    pc_buf_init(&z, PC_BUF_NOCAP);
    assert_int_equal(run_stage(c, &o, data, len, &z, &max_write), PC_OK);
    /*
     * bounded chunks into next (lz4's worst case for one update is a little
     * above 256 KiB); none passes the caller's writes through as they come
     */
    if (c != CMP_NONE)
        assert_true(max_write <= 512 * 1024);
    if (c != CMP_NONE)
        assert_true(z.len > 0);
    else
        assert_same(&z, data, len);
    assert_int_equal(decompress(c, z.data, z.len, 0, rchunks, nr, &plain), PC_OK);
    assert_same(&plain, data, len);
    pc_buf_free(&plain);
    pc_buf_free(&z);
}

static void t_roundtrip_empty(void **state)
{
    roundtrip(codec_of(state), (const unsigned char *)"", 0, NULL, 0, NULL, 0);
}

static void t_roundtrip_one_byte(void **state)
{
    roundtrip(codec_of(state), (const unsigned char *)"x", 1, NULL, 0, NULL, 0);
    static const size_t one[] = {1};
    roundtrip(codec_of(state), (const unsigned char *)"\0", 1, one, 1, one, 1);
}

static void t_roundtrip_bytewise(void **state)
{
    static const size_t one[] = {1};
    /* written 1 byte at a time, read back in one write and 1 byte at a time */
    roundtrip(codec_of(state), medium, medium_len, one, 1, NULL, 0);
    roundtrip(codec_of(state), medium, medium_len, NULL, 0, one, 1);
}

static void t_roundtrip_big(void **state)
{
    static const size_t odd[] = {7, 4093, 65537, 1, 300000};
    roundtrip(codec_of(state), big, big_len, NULL, 0, NULL, 0);
    roundtrip(codec_of(state), big, big_len, odd, 5, odd, 5);
}

/*
 * Sizes where a frame ends exactly when the 256 KiB output buffer is full, or
 * on a snappy block boundary: the decoder must not take the end of the frame
 * for the start of another.
 */
static void t_roundtrip_boundaries(void **state)
{
    cmp_codec c = codec_of(state);
    static const size_t sizes[] = {65535, 65536, 65537, 262143, 262144, 262145, 524288};
    static const size_t odd[] = {4093, 1, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        roundtrip(c, big, sizes[i], NULL, 0, NULL, 0);
        roundtrip(c, big, sizes[i], odd, 3, odd, 3);
        /* two such frames back to back */
        pc_buf z, z2, plain;
        compress_ok(c, big, sizes[i], &z);
        compress_ok(c, big + 1, sizes[i], &z2);
        assert_int_equal(pc_buf_append(&z, z2.data, z2.len), PC_OK);
        assert_int_equal(decompress(c, z.data, z.len, 0, NULL, 0, &plain), PC_OK);
        assert_int_equal(plain.len, 2 * sizes[i]);
        assert_memory_equal(plain.data, big, sizes[i]);
        assert_memory_equal(plain.data + sizes[i], big + 1, sizes[i]);
        pc_buf_free(&plain);
        pc_buf_free(&z2);
        pc_buf_free(&z);
    }
}

static void t_levels(void **state)
{
    cmp_codec c = codec_of(state);
    int lo, hi;
    cmp_level_range(c, &lo, &hi);
    if (c == CMP_NONE || c == CMP_SNAPPY)
        return;
    size_t len = 512 * 1024;
    int levels[] = {lo, hi, (lo + hi) / 2};
    for (size_t i = 0; i < 3; i++) {
        run_opts o = {.compress = true, .level = levels[i], .threads = 1};
        pc_buf z, plain;
        pc_buf_init(&z, PC_BUF_NOCAP);
        assert_int_equal(run_stage(c, &o, big, len, &z, NULL), PC_OK);
        assert_int_equal(decompress(c, z.data, z.len, 0, NULL, 0, &plain), PC_OK);
        assert_same(&plain, big, len);
        pc_buf_free(&plain);
        pc_buf_free(&z);
    }
    /* out of range: PC_E_USAGE, and the constructor still frees next (ASan checks) */
    pc_sink *rec, *stage = NULL;
    pc_buf dummy;
    pc_buf_init(&dummy, PC_BUF_NOCAP);
    rec = rec_new(&dummy);
    char want[128];
    snprintf(want, sizeof want, "invalid %s compression level %d", cmp_codec_name(c), hi + 1);
    assert_err(cmp_compress_new(c, hi + 1, 1, rec, &stage), PC_E_USAGE, want);
    assert_null(stage);
    pc_buf_free(&dummy);
}

static void t_truncated(void **state)
{
    cmp_codec c = codec_of(state);
    if (c == CMP_NONE)
        return;
    pc_buf z, plain;
    char want[64];
    snprintf(want, sizeof want, "truncated %s stream", cmp_codec_name(c));
    compress_ok(c, big, 1 * MIB, &z);
    /* the last byte missing */
    assert_err(decompress(c, z.data, z.len - 1, 0, NULL, 0, &plain), PC_E_CORRUPT, want);
    pc_buf_free(&plain);
    static const size_t one[] = {1};
    assert_err(decompress(c, z.data, z.len - 1, 0, one, 1, &plain), PC_E_CORRUPT, want);
    pc_buf_free(&plain);
    /* cut in the middle (not on a snappy chunk boundary: framing has no end marker) */
    assert_corrupt(decompress(c, z.data, z.len / 2 + 3, 0, NULL, 0, &plain), c);
    pc_buf_free(&plain);
    /* only the first byte */
    assert_corrupt(decompress(c, z.data, 1, 0, NULL, 0, &plain), c);
    pc_buf_free(&plain);
    pc_buf_free(&z);
}

static void t_empty_input(void **state)
{
    cmp_codec c = codec_of(state);
    pc_buf plain;
    pc_status st = decompress(c, "", 0, 0, NULL, 0, &plain);
    if (c == CMP_NONE) {
        assert_int_equal(st, PC_OK);
        assert_int_equal(plain.len, 0);
    } else {
        char want[80];
        snprintf(want, sizeof want, "truncated %s stream: the input is empty", cmp_codec_name(c));
        assert_err(st, PC_E_CORRUPT, want);
    }
    pc_buf_free(&plain);
}

static void t_flipped_byte(void **state)
{
    cmp_codec c = codec_of(state);
    if (c == CMP_NONE)
        return;
    pc_buf z, plain;
    compress_ok(c, big, 2 * MIB, &z);
    /* several positions: header, early payload, middle, the trailer's checksum */
    size_t pos[] = {z.len / 2, z.len / 3, z.len - 2, 40};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        z.data[pos[i]] ^= 0x55;
        assert_corrupt(decompress(c, z.data, z.len, 0, NULL, 0, &plain), c);
        pc_buf_free(&plain);
        z.data[pos[i]] ^= 0x55;
    }
    assert_int_equal(decompress(c, z.data, z.len, 0, NULL, 0, &plain), PC_OK);
    pc_buf_free(&plain);
    pc_buf_free(&z);
}

static void t_trailing_garbage(void **state)
{
    cmp_codec c = codec_of(state);
    if (c == CMP_NONE)
        return;
    pc_buf z, plain;
    compress_ok(c, medium, medium_len, &z);
    size_t base = z.len;
    static const char *const tails[] = {"GARBAGE!", "x", "\x01\x02\x03\x04\x05\x06\x07\x08\x09"};
    for (size_t i = 0; i < 3; i++) {
        z.len = base;
        assert_int_equal(pc_buf_append_str(&z, tails[i]), PC_OK);
        assert_corrupt(decompress(c, z.data, z.len, 0, NULL, 0, &plain), c);
        pc_buf_free(&plain);
        static const size_t one[] = {1};
        assert_corrupt(decompress(c, z.data, z.len, 0, one, 1, &plain), c);
        pc_buf_free(&plain);
    }
    pc_buf_free(&z);
}

static void t_max_out(void **state)
{
    cmp_codec c = codec_of(state);
    pc_buf z, plain;
    size_t len = 1 * MIB + 5;
    compress_ok(c, big, len, &z);
    assert_int_equal(decompress(c, z.data, z.len, len, NULL, 0, &plain), PC_OK);
    assert_same(&plain, big, len);
    pc_buf_free(&plain);
    char want[96];
    if (c == CMP_NONE)
        snprintf(want, sizeof want, "uncompressed data exceeds the %zu-byte limit", len - 1);
    else
        snprintf(want, sizeof want, "decompressed %s data exceeds the %zu-byte limit",
                 cmp_codec_name(c), len - 1);
    assert_err(decompress(c, z.data, z.len, len - 1, NULL, 0, &plain), PC_E_CORRUPT, want);
    /* nothing beyond the cap reached next */
    assert_true(plain.len <= len - 1);
    pc_buf_free(&plain);
    static const size_t one[] = {1};
    char want1000[96];
    if (c == CMP_NONE)
        snprintf(want1000, sizeof want1000, "uncompressed data exceeds the 1000-byte limit");
    else
        snprintf(want1000, sizeof want1000, "decompressed %s data exceeds the 1000-byte limit",
                 cmp_codec_name(c));
    assert_err(decompress(c, z.data, z.len, 1000, one, 1, &plain), PC_E_CORRUPT, want1000);
    assert_true(plain.len <= 1000);
    pc_buf_free(&plain);
    if (c != CMP_NONE) {
        /* the one-shot helper honours the cap too */
        pc_buf b;
        pc_buf_init(&b, PC_BUF_NOCAP);
        assert_err(cmp_decompress_buf(c, z.data, z.len, len - 1, &b), PC_E_CORRUPT, want);
        pc_buf_free(&b);
    }
    pc_buf_free(&z);
}

static void t_multi_frame(void **state)
{
    cmp_codec c = codec_of(state);
    pc_buf a, b, plain;
    compress_ok(c, medium, medium_len, &a);
    compress_ok(c, big, 700 * 1000, &b);
    assert_int_equal(pc_buf_append(&a, b.data, b.len), PC_OK);
    /* an empty frame in the middle is still a frame */
    pc_buf e;
    compress_ok(c, "", 0, &e);
    assert_int_equal(pc_buf_append(&a, e.data, e.len), PC_OK);
    assert_int_equal(pc_buf_append(&a, b.data, b.len), PC_OK);
    pc_buf want;
    pc_buf_init(&want, PC_BUF_NOCAP);
    assert_int_equal(pc_buf_append(&want, medium, medium_len), PC_OK);
    assert_int_equal(pc_buf_append(&want, big, 700 * 1000), PC_OK);
    assert_int_equal(pc_buf_append(&want, big, 700 * 1000), PC_OK);
    static const size_t odd[] = {1, 7, 4093, 65537};
    assert_int_equal(decompress(c, a.data, a.len, 0, NULL, 0, &plain), PC_OK);
    assert_same(&plain, want.data, want.len);
    pc_buf_free(&plain);
    assert_int_equal(decompress(c, a.data, a.len, 0, odd, 4, &plain), PC_OK);
    assert_same(&plain, want.data, want.len);
    pc_buf_free(&plain);
    pc_buf_free(&want);
    pc_buf_free(&e);
    pc_buf_free(&b);
    pc_buf_free(&a);
}

static void t_buf_helpers(void **state)
{
    cmp_codec c = codec_of(state);
    pc_buf z, plain;
    pc_buf_init(&z, PC_BUF_NOCAP);
    pc_buf_init(&plain, PC_BUF_NOCAP);
    assert_int_equal(cmp_compress_buf(c, CMP_LEVEL_DEFAULT, big, 2 * MIB, &z), PC_OK);
    assert_int_equal(cmp_decompress_buf(c, z.data, z.len, 2 * MIB, &plain), PC_OK);
    assert_same(&plain, big, 2 * MIB);
    pc_buf_free(&plain);
    pc_buf_free(&z);
}

static void t_next_fails(void **state)
{
    /* a failure downstream comes back from write or finish, and nothing leaks */
    cmp_codec c = codec_of(state);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_sink *lim, *stage;
    assert_int_equal(pc_sink_limit_new(1000, rec_new(&out), &lim), PC_OK);
    assert_int_equal(cmp_compress_new(c, CMP_LEVEL_DEFAULT, 1, lim, &stage), PC_OK);
    pc_status st = pc_sink_write(stage, big, 4 * MIB);
    st = st ? st : pc_sink_finish(stage);
    assert_err(st, PC_E_CORRUPT, "data exceeds the limit of 1000 bytes");
    pc_sink_free(stage);
    pc_buf_free(&out);
}

/* ---- zstd specifics ---- */

static void t_zstd_threads(void **state)
{
    static const size_t odd[] = {7, 4093, 65537};
    run_opts o = {
        .compress = true, .level = CMP_LEVEL_DEFAULT, .threads = 2, .chunks = odd, .nchunks = 3};
    pc_buf z, plain;
    pc_buf_init(&z, PC_BUF_NOCAP);
    assert_int_equal(run_stage(CMP_ZSTD, &o, big, big_len, &z, NULL), PC_OK);
    assert_int_equal(decompress(CMP_ZSTD, z.data, z.len, 0, NULL, 0, &plain), PC_OK);
    assert_same(&plain, big, big_len);
    pc_buf_free(&plain);
    pc_buf_free(&z);
}

static void t_zstd_skippable(void **state)
{
    /* skippable frames (magic 0x184D2A5?) before, between and after real frames are ignored */
    static const unsigned char skip[] = {0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'};
    pc_buf z, all, plain;
    compress_ok(CMP_ZSTD, medium, medium_len, &z);
    pc_buf_init(&all, PC_BUF_NOCAP);
    assert_int_equal(pc_buf_append(&all, skip, sizeof skip), PC_OK);
    assert_int_equal(pc_buf_append(&all, z.data, z.len), PC_OK);
    assert_int_equal(pc_buf_append(&all, skip, sizeof skip), PC_OK);
    assert_int_equal(pc_buf_append(&all, z.data, z.len), PC_OK);
    assert_int_equal(pc_buf_append(&all, skip, sizeof skip), PC_OK);
    static const size_t one[] = {1};
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(decompress(CMP_ZSTD, all.data, all.len, 0, pass ? one : NULL, 1, &plain),
                         PC_OK);
        assert_int_equal(plain.len, 2 * medium_len);
        assert_memory_equal(plain.data, medium, medium_len);
        assert_memory_equal(plain.data + medium_len, medium, medium_len);
        pc_buf_free(&plain);
    }
    pc_buf_free(&all);
    pc_buf_free(&z);
}

/* ---- container headers: the flags the brief promises are in the bytes ---- */

static void t_headers(void **state)
{
    pc_buf z;
    pc_buf_init(&z, PC_BUF_NOCAP);
    /* gzip: magic, deflate, no optional fields */
    assert_int_equal(cmp_compress_buf(CMP_GZIP, CMP_LEVEL_DEFAULT, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data, "\x1f\x8b\x08\x00", 4);
    pc_buf_reset(&z);
    /* bzip2: the level is the block size digit */
    assert_int_equal(cmp_compress_buf(CMP_BZIP2, CMP_LEVEL_DEFAULT, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data, "BZh9", 4);
    pc_buf_reset(&z);
    assert_int_equal(cmp_compress_buf(CMP_BZIP2, 1, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data, "BZh1", 4);
    pc_buf_reset(&z);
    /* zstd: magic, then the frame header descriptor with Content_Checksum_flag (bit 2) */
    assert_int_equal(cmp_compress_buf(CMP_ZSTD, CMP_LEVEL_DEFAULT, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data, "\x28\xb5\x2f\xfd", 4);
    assert_true(z.data[4] & 0x04);
    pc_buf_reset(&z);
    run_opts o = {.compress = true, .level = 3, .threads = 2};
    assert_int_equal(run_stage(CMP_ZSTD, &o, big, 4 * MIB, &z, NULL), PC_OK);
    assert_memory_equal(z.data, "\x28\xb5\x2f\xfd", 4);
    assert_true(z.data[4] & 0x04);
    pc_buf_reset(&z);
    /* lz4 frame: magic, FLG version 01 + content checksum, BD 256 KiB blocks */
    assert_int_equal(cmp_compress_buf(CMP_LZ4, CMP_LEVEL_DEFAULT, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data, "\x04\x22\x4d\x18", 4);
    assert_int_equal(z.data[4] & 0xc4, 0x44);
    assert_int_equal(z.data[5], 0x50);
    pc_buf_reset(&z);
    /* xz: magic, stream flags naming CRC64 */
    assert_int_equal(cmp_compress_buf(CMP_XZ, CMP_LEVEL_DEFAULT, "abc", 3, &z), PC_OK);
    assert_memory_equal(z.data,
                        "\xfd"
                        "7zXZ\x00\x00\x04",
                        8);
    pc_buf_free(&z);
}

/* ---- snappy framing, checked against the spec ---- */

/* CRC-32C bit by bit, independent of common/hash.c. */
static uint32_t ref_crc32c(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t ref_masked(const unsigned char *p, size_t n)
{
    uint32_t c = ref_crc32c(p, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void put_chunk(pc_buf *b, unsigned type, const void *body, size_t len)
{
    unsigned char h[4] = {(unsigned char)type, (unsigned char)len, (unsigned char)(len >> 8),
                          (unsigned char)(len >> 16)};
    assert_int_equal(pc_buf_append(b, h, 4), PC_OK);
    assert_int_equal(pc_buf_append(b, body, len), PC_OK);
}

static void put_data_chunk(pc_buf *b, unsigned type, const char *plain, const void *payload,
                           size_t plen)
{
    unsigned char body[256];
    uint32_t m = ref_masked((const unsigned char *)plain, strlen(plain));
    body[0] = (unsigned char)m;
    body[1] = (unsigned char)(m >> 8);
    body[2] = (unsigned char)(m >> 16);
    body[3] = (unsigned char)(m >> 24);
    assert_true(plen <= sizeof body - 4);
    memcpy(body + 4, payload, plen);
    put_chunk(b, type, body, 4 + plen);
}

static const unsigned char ident[10] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};

/* A raw snappy block holding `s` as one literal: varint length, tag (len-1)<<2, bytes. */
static size_t literal_block(const char *s, unsigned char *out)
{
    size_t n = strlen(s);
    assert_true(n > 0 && n <= 60);
    out[0] = (unsigned char)n;
    out[1] = (unsigned char)((n - 1) << 2);
    memcpy(out + 2, s, n);
    return n + 2;
}

static void t_snappy_vector(void **state)
{
    pc_buf v, plain;
    pc_buf_init(&v, PC_BUF_NOCAP);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_data_chunk(&v, 0x01, "hello, ", "hello, ", 7);
    unsigned char blk[64];
    size_t bl = literal_block("snappy framing", blk);
    put_data_chunk(&v, 0x00, "snappy framing", blk, bl);
    put_chunk(&v, 0xfe, "\0\0\0", 3);                                /* padding */
    put_chunk(&v, 0x80, "skip me", 7);                               /* reserved skippable */
    put_chunk(&v, 0xfd, "", 0);                                      /* empty skippable */
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK); /* a second stream */
    put_data_chunk(&v, 0x01, "!", "!", 1);
    static const char want[] = "hello, snappy framing!";
    static const size_t one[] = {1};
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(decompress(CMP_SNAPPY, v.data, v.len, 0, pass ? one : NULL, 1, &plain),
                         PC_OK);
        assert_same(&plain, want, strlen(want));
        pc_buf_free(&plain);
    }
    /* only a stream identifier: a valid empty stream */
    assert_int_equal(decompress(CMP_SNAPPY, ident, sizeof ident, 0, NULL, 0, &plain), PC_OK);
    assert_int_equal(plain.len, 0);
    pc_buf_free(&plain);
    pc_buf_free(&v);
}

static void snappy_bad(const pc_buf *v, const char *msg)
{
    pc_buf plain;
    assert_err(decompress(CMP_SNAPPY, v->data, v->len, 0, NULL, 0, &plain), PC_E_CORRUPT, msg);
    pc_buf_free(&plain);
}

static void t_snappy_bad_vectors(void **state)
{
    pc_buf v;
    pc_buf_init(&v, PC_BUF_NOCAP);

    /* data before any stream identifier */
    put_data_chunk(&v, 0x01, "abc", "abc", 3);
    snappy_bad(&v, "corrupt snappy stream: missing stream identifier");

    /* reserved unskippable chunk types */
    for (unsigned t = 0x02; t <= 0x7f; t += 0x3d) {
        pc_buf_reset(&v);
        assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
        put_chunk(&v, t, "abcd", 4);
        char msg[96];
        snprintf(msg, sizeof msg, "corrupt snappy stream: reserved unskippable chunk type 0x%02x",
                 t);
        snappy_bad(&v, msg);
    }

    /* wrong CRC on an uncompressed chunk and on a compressed chunk */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_data_chunk(&v, 0x01, "abc", "abd", 3);
    snappy_bad(&v, "corrupt snappy stream: checksum mismatch");
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    unsigned char blk[64];
    size_t bl = literal_block("abd", blk);
    put_data_chunk(&v, 0x00, "abc", blk, bl);
    snappy_bad(&v, "corrupt snappy stream: checksum mismatch");

    /* a compressed block that is not valid snappy */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_data_chunk(&v, 0x00, "abc", "\x03\xff\xff", 3);
    snappy_bad(&v, "corrupt snappy stream: bad compressed block");

    /* a compressed block claiming more than 65536 bytes: varint 65537 */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_data_chunk(&v, 0x00, "abc", "\x81\x80\x04\x00", 4);
    snappy_bad(&v, "corrupt snappy stream: chunk larger than 65536 uncompressed bytes");

    /* an uncompressed chunk of 65537 bytes */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    unsigned char h[4] = {0x01, (4 + 65537) & 0xff, ((4 + 65537) >> 8) & 0xff, (4 + 65537) >> 16};
    assert_int_equal(pc_buf_append(&v, h, 4), PC_OK);
    for (size_t i = 0; i < 4 + 65537; i++)
        assert_int_equal(pc_buf_append(&v, "z", 1), PC_OK);
    snappy_bad(&v, "corrupt snappy stream: chunk larger than 65536 uncompressed bytes");

    /* a chunk too short to hold its checksum */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_chunk(&v, 0x01, "abc", 3);
    snappy_bad(&v, "corrupt snappy stream: chunk too short for its checksum");

    /* stream identifiers with the wrong length or text */
    pc_buf_reset(&v);
    put_chunk(&v, 0xff, "sNaPpYY", 7);
    snappy_bad(&v, "corrupt snappy stream: bad stream identifier");
    pc_buf_reset(&v);
    put_chunk(&v, 0xff, "SnApPy", 6);
    snappy_bad(&v, "corrupt snappy stream: bad stream identifier");

    /* a skippable chunk cut short */
    pc_buf_reset(&v);
    assert_int_equal(pc_buf_append(&v, ident, sizeof ident), PC_OK);
    put_chunk(&v, 0x99, "abc", 3);
    v.len -= 1;
    snappy_bad(&v, "truncated snappy stream");
    pc_buf_free(&v);
}

static void t_snappy_encoder_format(void **state)
{
    /* compressible then incompressible data: both chunk types appear */
    size_t len = 3 * 65536 + 1234;
    unsigned char *data = malloc(len);
    assert_non_null(data);
    memset(data, 'a', 2 * 65536);
    rng_state = 99;
    for (size_t i = 2 * 65536; i < len; i++)
        data[i] = (unsigned char)rng();
    pc_buf z;
    compress_ok(CMP_SNAPPY, data, len, &z);
    assert_true(z.len > sizeof ident);
    assert_memory_equal(z.data, ident, sizeof ident);
    size_t off = sizeof ident, plain_off = 0, seen[2] = {0, 0};
    unsigned char *tmp = malloc(65536);
    assert_non_null(tmp);
    while (off < z.len) {
        assert_true(z.len - off >= 8);
        unsigned type = z.data[off];
        size_t body =
            (size_t)z.data[off + 1] | (size_t)z.data[off + 2] << 8 | (size_t)z.data[off + 3] << 16;
        assert_true(type <= 1);
        assert_true(off + 4 + body <= z.len);
        const unsigned char *b = z.data + off + 4;
        uint32_t crc =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        const unsigned char *plain = b + 4;
        size_t n = body - 4;
        if (type == 0) {
            size_t ulen = 65536;
            assert_int_equal(snappy_uncompress((const char *)b + 4, body - 4, (char *)tmp, &ulen),
                             SNAPPY_OK);
            assert_true(body - 4 < ulen); /* stored only when snappy shrank it */
            plain = tmp;
            n = ulen;
        }
        seen[type]++;
        assert_true(n <= 65536);
        /* every chunk but the last is a full 64 KiB block */
        if (plain_off + n < len)
            assert_int_equal(n, 65536);
        assert_memory_equal(plain, data + plain_off, n);
        assert_int_equal(crc, ref_masked(plain, n));
        plain_off += n;
        off += 4 + body;
    }
    assert_int_equal(plain_off, len);
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], 2);
    free(tmp);
    pc_buf_free(&z);

    /* an empty input is the stream identifier alone */
    compress_ok(CMP_SNAPPY, "", 0, &z);
    assert_int_equal(z.len, sizeof ident);
    assert_memory_equal(z.data, ident, sizeof ident);
    pc_buf_free(&z);
    free(data);
}

static bool have_python_snappy(void)
{
    return system("/usr/bin/python3 -c 'import snappy' >/dev/null 2>&1") == 0;
}

/* ---- interop with the system tools ---- */

static bool have_tool(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void read_file(const char *path, pc_buf *out)
{
    pc_buf_init(out, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(path, 64 * MIB, out), PC_OK);
}

static void sh(const char *fmt, ...) PC_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static const char *tool_of(cmp_codec c)
{
    switch (c) {
    case CMP_GZIP:
        return "gzip";
    case CMP_BZIP2:
        return "bzip2";
    case CMP_ZSTD:
        return "zstd";
    case CMP_LZ4:
        return "lz4";
    case CMP_XZ:
        return "xz";
    case CMP_NONE:
    case CMP_SNAPPY:
        break;
    }
    return NULL;
}

static void t_interop(void **state)
{
    cmp_codec c = codec_of(state);
    const char *tool = tool_of(c);
    if (!tool) {
        /* none has nothing to compare; snappy is checked against the spec and python-snappy */
        skip();
    }
    if (!have_tool(tool)) {
        print_message("%s is not installed: interop with it not checked\n", tool);
        skip();
    }
    size_t len = 2 * MIB + 11;
    char in[512], z[512], out[512];
    snprintf(in, sizeof in, "%s/%s.in", scratch, tool);
    snprintf(z, sizeof z, "%s/%s.ours%s", scratch, tool, cmp_codec_ext(c));
    snprintf(out, sizeof out, "%s/%s.out", scratch, tool);
    write_file(in, big, len);

    /* ours -> tool (default level, then the top level, then zstd and gzip with workers) */
    int levels[] = {CMP_LEVEL_DEFAULT, 0, 1};
    int lo, hi;
    cmp_level_range(c, &lo, &hi);
    levels[1] = hi;
    levels[2] = lo;
    for (int i = 0; i < 4; i++) {
        run_opts o = {.compress = true, .level = i < 3 ? levels[i] : 3, .threads = i < 3 ? 1 : 2};
        if (i == 3 && c != CMP_ZSTD && c != CMP_GZIP)
            break;
        pc_buf zb, got;
        pc_buf_init(&zb, PC_BUF_NOCAP);
        assert_int_equal(run_stage(c, &o, big, len, &zb, NULL), PC_OK);
        write_file(z, zb.data, zb.len);
        sh("%s -dc '%s' > '%s'", tool, z, out);
        read_file(out, &got);
        assert_same(&got, big, len);
        pc_buf_free(&got);
        pc_buf_free(&zb);
    }

    /* tool -> ours, at the tool's default and its fastest level, and two members concatenated */
    const char *flags[] = {"", "-1"};
    for (int i = 0; i < 2; i++) {
        pc_buf zb, got;
        sh("%s -c %s '%s' > '%s'", tool, flags[i], in, out);
        read_file(out, &zb);
        static const size_t odd[] = {7, 4093, 65537};
        assert_int_equal(decompress(c, zb.data, zb.len, 0, odd, 3, &got), PC_OK);
        assert_same(&got, big, len);
        pc_buf_free(&got);
        pc_buf_free(&zb);
    }
    sh("%s -c '%s' > '%s' && %s -c -1 '%s' >> '%s'", tool, in, out, tool, in, out);
    pc_buf zb, got;
    read_file(out, &zb);
    assert_int_equal(decompress(c, zb.data, zb.len, 0, NULL, 0, &got), PC_OK);
    assert_int_equal(got.len, 2 * len);
    assert_memory_equal(got.data, big, len);
    assert_memory_equal(got.data + len, big, len);
    pc_buf_free(&got);
    pc_buf_free(&zb);
    /* an empty file compressed by the tool */
    write_file(in, "", 0);
    sh("%s -c '%s' > '%s'", tool, in, out);
    read_file(out, &zb);
    assert_int_equal(decompress(c, zb.data, zb.len, 0, NULL, 0, &got), PC_OK);
    assert_int_equal(got.len, 0);
    pc_buf_free(&got);
    pc_buf_free(&zb);
}

/* python-snappy's stream functions, when the module loads (it does not on stock Debian 12). */
static void t_snappy_python(void **state)
{
    if (!have_python_snappy()) {
        print_message("python-snappy is not importable: cross-check skipped\n");
        skip();
    }
    size_t len = 1 * MIB + 3;
    char in[512], z[512], out[512];
    snprintf(in, sizeof in, "%s/py.in", scratch);
    snprintf(z, sizeof z, "%s/py.snappy", scratch);
    snprintf(out, sizeof out, "%s/py.out", scratch);
    write_file(in, big, len);
    pc_buf zb, got;
    compress_ok(CMP_SNAPPY, big, len, &zb);
    write_file(z, zb.data, zb.len);
    pc_buf_free(&zb);
    sh("/usr/bin/python3 -c 'import snappy,sys; snappy.stream_decompress(open(sys.argv[1],\"rb\"), "
       "open(sys.argv[2],\"wb\"))' '%s' '%s'",
       z, out);
    read_file(out, &got);
    assert_same(&got, big, len);
    pc_buf_free(&got);
    sh("/usr/bin/python3 -c 'import snappy,sys; snappy.stream_compress(open(sys.argv[1],\"rb\"), "
       "open(sys.argv[2],\"wb\"))' '%s' '%s'",
       in, z);
    read_file(z, &zb);
    assert_int_equal(decompress(CMP_SNAPPY, zb.data, zb.len, 0, NULL, 0, &got), PC_OK);
    assert_same(&got, big, len);
    pc_buf_free(&got);
    pc_buf_free(&zb);
}

/* ---- names and levels ---- */

static void t_names(void **state)
{
    static const struct {
        const char *text;
        cmp_codec c;
    } ok[] = {{"none", CMP_NONE},   {"gzip", CMP_GZIP},      {"GZ", CMP_GZIP},
              {"bzip2", CMP_BZIP2}, {"Bz2", CMP_BZIP2},      {"zstd", CMP_ZSTD},
              {"zst", CMP_ZSTD},    {"ZStandard", CMP_ZSTD}, {"lz4", CMP_LZ4},
              {"xz", CMP_XZ},       {"SNAPPY", CMP_SNAPPY}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cmp_codec c = CMP_NONE;
        assert_int_equal(cmp_codec_parse(ok[i].text, &c), PC_OK);
        assert_int_equal(c, ok[i].c);
    }
    cmp_codec c;
    assert_err(cmp_codec_parse("lzma", &c), PC_E_USAGE, "unknown compression \"lzma\"");
    assert_string_equal(pc_err_get()->hint,
                        "Use one of none, gzip, bzip2, zstd, lz4, xz or snappy.");
    assert_err(cmp_codec_parse("", &c), PC_E_USAGE, "unknown compression \"\"");
    assert_err(cmp_codec_parse("gzip ", &c), PC_E_USAGE, "unknown compression \"gzip \"");

    static const char *const names[] = {"none", "gzip", "bzip2", "zstd", "lz4", "xz", "snappy"};
    static const char *const exts[] = {"", ".gz", ".bz2", ".zst", ".lz4", ".xz", ".snappy"};
    for (int i = 0; i < CMP_CODEC_COUNT; i++) {
        assert_string_equal(cmp_codec_name(all_codecs[i]), names[i]);
        assert_string_equal(cmp_codec_ext(all_codecs[i]), exts[i]);
        cmp_codec back;
        assert_int_equal(cmp_codec_parse(names[i], &back), PC_OK);
        assert_int_equal(back, all_codecs[i]);
    }

    static const struct {
        const char *name;
        cmp_codec c;
        size_t stem;
    } files[] = {
        {"000000010000000000000001", CMP_NONE, 24},
        {"000000010000000000000001.gz", CMP_GZIP, 24},
        {"000000010000000000000001.bz2", CMP_BZIP2, 24},
        {"000000010000000000000001.zst", CMP_ZSTD, 24},
        {"000000010000000000000001.lz4", CMP_LZ4, 24},
        {"000000010000000000000001.xz", CMP_XZ, 24},
        {"000000010000000000000001.snappy", CMP_SNAPPY, 24},
        {"000000010000000000000002.00000028.backup.gz", CMP_GZIP, 40},
        {"00000002.history.zst", CMP_ZSTD, 16},
        {"data.tar.lz4", CMP_LZ4, 8},
        {"data.tar", CMP_NONE, 8},
        {"x.GZ", CMP_NONE, 4}, /* barman matches suffixes case-sensitively */
        {".gz", CMP_NONE, 3},  /* no stem */
        {"file.gzip", CMP_NONE, 9},
        {"file.z", CMP_NONE, 6},
        {"", CMP_NONE, 0},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t stem = 999;
        assert_int_equal(cmp_codec_from_name(files[i].name, &stem), files[i].c);
        assert_int_equal(stem, files[i].stem);
    }
}

static void t_level_parse(void **state)
{
    static const struct {
        cmp_codec c;
        int low, medium, high, min, max;
    } want[] = {
        {CMP_GZIP, 1, 6, 9, 1, 9},    {CMP_BZIP2, 1, 5, 9, 1, 9}, {CMP_XZ, 1, 3, 9, 1, 9},
        {CMP_ZSTD, 1, 4, 9, -22, 22}, {CMP_LZ4, 0, 6, 16, 0, 16},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cmp_codec c = want[i].c;
        int lv, lo, hi;
        cmp_level_range(c, &lo, &hi);
        assert_int_equal(lo, want[i].min);
        assert_int_equal(hi, want[i].max);
        assert_int_equal(cmp_level_parse(c, "low", &lv), PC_OK);
        assert_int_equal(lv, want[i].low);
        assert_int_equal(cmp_level_parse(c, "Medium", &lv), PC_OK);
        assert_int_equal(lv, want[i].medium);
        assert_int_equal(cmp_level_parse(c, "HIGH", &lv), PC_OK);
        assert_int_equal(lv, want[i].high);
        char text[16], msg[96], hint[96];
        snprintf(text, sizeof text, "%d", want[i].max);
        assert_int_equal(cmp_level_parse(c, text, &lv), PC_OK);
        assert_int_equal(lv, want[i].max);
        snprintf(text, sizeof text, "%d", want[i].min);
        assert_int_equal(cmp_level_parse(c, text, &lv), PC_OK);
        assert_int_equal(lv, want[i].min);
        snprintf(hint, sizeof hint, "Use a number from %d to %d, or low, medium or high.",
                 want[i].min, want[i].max);
        static const char *const bad[] = {"", "5x", "x5", "4.5", "99999999999999999999", "maximum"};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            snprintf(msg, sizeof msg, "invalid %s compression level \"%s\"", cmp_codec_name(c),
                     bad[k]);
            assert_err(cmp_level_parse(c, bad[k], &lv), PC_E_USAGE, msg);
            assert_string_equal(pc_err_get()->hint, hint);
        }
        snprintf(text, sizeof text, "%d", want[i].max + 1);
        snprintf(msg, sizeof msg, "invalid %s compression level \"%s\"", cmp_codec_name(c), text);
        assert_err(cmp_level_parse(c, text, &lv), PC_E_USAGE, msg);
        snprintf(text, sizeof text, "%d", want[i].min - 1);
        snprintf(msg, sizeof msg, "invalid %s compression level \"%s\"", cmp_codec_name(c), text);
        assert_err(cmp_level_parse(c, text, &lv), PC_E_USAGE, msg);
    }
    int lv;
    assert_err(cmp_level_parse(CMP_SNAPPY, "low", &lv), PC_E_USAGE,
               "snappy compression has no levels");
    assert_string_equal(pc_err_get()->hint,
                        "Remove --compression-level, or choose gzip, bzip2, zstd, lz4 or xz.");
    assert_err(cmp_level_parse(CMP_SNAPPY, "1", &lv), PC_E_USAGE,
               "snappy compression has no levels");
    assert_err(cmp_level_parse(CMP_NONE, "6", &lv), PC_E_USAGE, "none compression has no levels");

    /* snappy takes the default only; none ignores a level (there is nothing to compress) */
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_sink *stage = NULL;
    assert_err(cmp_compress_new(CMP_SNAPPY, 1, 1, rec_new(&out), &stage), PC_E_USAGE,
               "snappy compression has no levels");
    assert_null(stage);
    assert_int_equal(cmp_compress_new(CMP_SNAPPY, CMP_LEVEL_DEFAULT, 1, rec_new(&out), &stage),
                     PC_OK);
    pc_sink_free(stage);
    assert_int_equal(cmp_compress_new(CMP_NONE, 5, 1, rec_new(&out), &stage), PC_OK);
    pc_sink_free(stage);
    /* zstd's negative (fast) levels and lz4's levels above the library's 12 work */
    static const struct {
        cmp_codec c;
        int level;
    } edge[] = {{CMP_ZSTD, -5}, {CMP_ZSTD, 0}, {CMP_LZ4, 13}, {CMP_LZ4, 16}, {CMP_LZ4, 0}};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        pc_buf z, plain;
        pc_buf_init(&z, PC_BUF_NOCAP);
        pc_buf_init(&plain, PC_BUF_NOCAP);
        assert_int_equal(cmp_compress_buf(edge[i].c, edge[i].level, medium, medium_len, &z), PC_OK);
        assert_int_equal(cmp_decompress_buf(edge[i].c, z.data, z.len, 0, &plain), PC_OK);
        assert_same(&plain, medium, medium_len);
        pc_buf_free(&z);
        pc_buf_free(&plain);
    }
    pc_buf_free(&out);
}

static void t_unknown_codec(void **state)
{
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_sink *stage = NULL;
    assert_err(cmp_decompress_new((cmp_codec)42, 0, rec_new(&out), &stage), PC_E_INTERNAL,
               "unknown compression codec 42");
    assert_null(stage);
    assert_err(cmp_compress_new((cmp_codec)42, CMP_LEVEL_DEFAULT, 1, rec_new(&out), &stage),
               PC_E_INTERNAL, "unknown compression codec 42");
    assert_null(stage);
    int lv, lo = 7, hi = 7;
    assert_err(cmp_level_parse((cmp_codec)42, "low", &lv), PC_E_INTERNAL,
               "unknown compression codec 42");
    cmp_level_range((cmp_codec)42, &lo, &hi);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 0);
    assert_string_equal(cmp_codec_name((cmp_codec)42), "unknown");
    assert_string_equal(cmp_codec_ext((cmp_codec)42), "");
    pc_buf_free(&out);
}

/* ---- main: every conformance test once per codec ---- */

static int setup(void **state)
{
    big = make_data(big_len, 0x9e3779b97f4a7c15ull);
    medium = make_data(medium_len, 12345);
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    scratch = malloc(strlen(base) + 32);
    sprintf(scratch, "%s/compress-XXXXXX", base);
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
    pc_remove_tree(scratch);
    free(scratch);
    free(big);
    free(medium);
    return 0;
}

typedef struct per_codec {
    const char *name;
    CMUnitTestFunction fn;
} per_codec;

int main(void)
{
    static const per_codec each[] = {
        {"roundtrip_empty", t_roundtrip_empty},
        {"roundtrip_one_byte", t_roundtrip_one_byte},
        {"roundtrip_bytewise", t_roundtrip_bytewise},
        {"roundtrip_8mib", t_roundtrip_big},
        {"roundtrip_boundaries", t_roundtrip_boundaries},
        {"levels", t_levels},
        {"truncated", t_truncated},
        {"empty_input", t_empty_input},
        {"flipped_byte", t_flipped_byte},
        {"trailing_garbage", t_trailing_garbage},
        {"max_out", t_max_out},
        {"multi_frame", t_multi_frame},
        {"buf_helpers", t_buf_helpers},
        {"next_fails", t_next_fails},
        {"interop", t_interop},
    };
    static const struct CMUnitTest single[] = {
        cmocka_unit_test(t_headers),
        cmocka_unit_test(t_zstd_threads),
        cmocka_unit_test(t_zstd_skippable),
        cmocka_unit_test(t_snappy_vector),
        cmocka_unit_test(t_snappy_bad_vectors),
        cmocka_unit_test(t_snappy_encoder_format),
        cmocka_unit_test(t_snappy_python),
        cmocka_unit_test(t_names),
        cmocka_unit_test(t_level_parse),
        cmocka_unit_test(t_unknown_codec),
    };
    size_t n_each = sizeof each / sizeof each[0], n_single = sizeof single / sizeof single[0];
    size_t n = n_each * CMP_CODEC_COUNT + n_single;
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    char **names = calloc(n, sizeof *names);
    if (!tests || !names)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < n_each; i++) {
        for (int c = 0; c < CMP_CODEC_COUNT; c++, k++) {
            names[k] = pc_asprintf("%s/%s", each[i].name, cmp_codec_name(all_codecs[c]));
            tests[k].name = names[k];
            tests[k].test_func = each[i].fn;
            tests[k].initial_state = (void *)(uintptr_t)&all_codecs[c];
        }
    }
    for (size_t i = 0; i < n_single; i++, k++)
        tests[k] = single[i];
    int rc = _cmocka_run_group_tests("compress", tests, n, setup, teardown);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    return rc;
}
