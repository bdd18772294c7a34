/*
 * Parallel gzip compression (compress/pgzip.c): round trips at the block
 * boundaries and with every write size, one gzip member and nothing after
 * its trailer, readers other than ours (gzip -dc, Python's zlib, gzip and
 * tarfile in stream mode), output independent of the thread count, failures
 * of next and of a worker, abort while workers are busy.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/sink.h"
#include "compress/compress.h"
#include "compress/internal.h"

#define MIB   (1024u * 1024u)
#define BLOCK ((size_t)CMP_PGZIP_BLOCK)

static unsigned char *big; /* 20 MiB of mixed data */
static const size_t big_len = 20 * MIB;
static char *scratch;

/* ---- data ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/*
 * Mixed like a data directory: random bytes, repeated rows, zero pages,
 * text over a small alphabet, and copies of earlier stretches (some further
 * back than 32 KiB, some within it, so matches cross block boundaries).
 */
static unsigned char *make_data(size_t len, uint64_t seed)
{
    unsigned char *d = malloc(len);
    assert_non_null(d);
    rng_state = seed;
    for (size_t off = 0; off < len;) {
        size_t n = 500 + rng() % 9000;
        if (n > len - off)
            n = len - off;
        switch (rng() % 5) {
        case 0:
            for (size_t i = 0; i < n; i++)
                d[off + i] = (unsigned char)rng();
            break;
        case 1:
            for (size_t i = 0; i < n; i++)
                d[off + i] = (unsigned char)"42|pgbench_accounts|0|filler      \n"[i % 35];
            break;
        case 2:
            memset(d + off, 0, n);
            break;
        case 3:
            for (size_t i = 0; i < n; i++)
                d[off + i] = (unsigned char)('a' + rng() % 6);
            break;
        default:
            if (off > n) {
                size_t back = 1 + rng() % (off - n < 100000 ? off - n : 100000);
                memmove(d + off, d + off - n - back + 1, n);
            } else {
                memset(d + off, 'x', n);
            }
            break;
        }
        off += n;
    }
    return d;
}

/* CRC-32 (the gzip one), table driven, independent of zlib. */
static uint32_t ref_crc32(const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    if (table[1] == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
            table[i] = c;
        }
    }
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- a sink that records what reaches it ---- */

typedef struct rec_sink {
    pc_sink base;
    pc_buf *buf;
    size_t max_write;
    bool *aborted;
} rec_sink;

static pc_status rec_write(pc_sink *s, const void *data, size_t len)
{
    rec_sink *r = (rec_sink *)s;
    if (len > r->max_write)
        r->max_write = len;
    return pc_buf_append(r->buf, data, len);
}

static void rec_abort(pc_sink *s)
{
    rec_sink *r = (rec_sink *)s;
    if (r->aborted)
        *r->aborted = true;
}

static void rec_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops rec_ops = {
    .name = "record", .write = rec_write, .abort = rec_abort, .destroy = rec_destroy};

static pc_sink *rec_new(pc_buf *buf, bool *aborted)
{
    rec_sink *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pc_sink_init(&r->base, &rec_ops, NULL);
    r->buf = buf;
    r->aborted = aborted;
    return &r->base;
}

/* ---- running the stage ---- */

/*
 * Compress `in` with `threads` into `out` (initialised here), writing in
 * the chunk sizes given (cycled; NULL = one write), with a 0-byte write
 * before each. *max_write gets the largest write into next.
 */
static pc_status gz(int threads, int level, const void *in, size_t len, const size_t *chunks,
                    size_t nchunks, pc_buf *out, size_t *max_write)
{
    pc_buf_init(out, PC_BUF_NOCAP);
    pc_sink *rec = rec_new(out, NULL), *stage;
    pc_status st = cmp_compress_new(CMP_GZIP, level, threads, rec, &stage);
    if (st)
        return st;
    const unsigned char *p = in;
    size_t i = 0;
    while (st == PC_OK && len > 0) {
        size_t k = chunks ? chunks[i++ % nchunks] : len;
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

/* The header zlib writes (no name, mtime 0, Unix), then the trailer: CRC-32 and ISIZE. */
static void check_wrapper(const pc_buf *z, int level, const unsigned char *data, size_t len)
{
    assert_true(z->len >= 10 + 2 + 8);
    static const unsigned char head[8] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
    assert_memory_equal(z->data, head, sizeof head);
    assert_int_equal(z->data[8], level == 9 ? 2 : level == 1 ? 4 : 0);
    assert_int_equal(z->data[9], 3);
    assert_int_equal(le32(z->data + z->len - 8), ref_crc32(data, len));
    assert_int_equal(le32(z->data + z->len - 4), (uint32_t)len);
}

static void decompress_ok(const pc_buf *z, const unsigned char *data, size_t len)
{
    pc_buf plain;
    pc_buf_init(&plain, PC_BUF_NOCAP);
    assert_int_equal(cmp_decompress_buf(CMP_GZIP, z->data, z->len, 0, &plain), PC_OK);
    assert_int_equal(plain.len, len);
    if (len)
        assert_memory_equal(plain.data, data, len);
    pc_buf_free(&plain);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void sh(const char *fmt, ...) PC_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static bool have(const char *cmd)
{
    char c[256];
    snprintf(c, sizeof c, "%s >/dev/null 2>&1", cmd);
    return system(c) == 0;
}

/*
 * Readers other than ours: gzip -dc, and Python's zlib on the raw deflate
 * stream, which must end exactly where the 8-byte trailer starts: one
 * member, nothing after it. Then Python's gzip.decompress.
 */
static const char single_member_py[] =
    "import sys, zlib, gzip\n"
    "z = open(sys.argv[1], 'rb').read()\n"
    "want = open(sys.argv[2], 'rb').read()\n"
    "assert z[:4] == bytes([0x1f, 0x8b, 8, 0]), 'header'\n"
    "d = zlib.decompressobj(-15)\n"
    "out = d.decompress(z[10:])\n"
    "assert d.eof, 'the deflate stream does not end'\n"
    "assert d.unused_data == z[-8:] and len(d.unused_data) == 8, "
    "'%d bytes after the deflate stream' % len(d.unused_data)\n"
    "assert out == want, 'zlib output differs'\n"
    "assert int.from_bytes(z[-8:-4], 'little') == zlib.crc32(want), 'crc'\n"
    "assert int.from_bytes(z[-4:], 'little') == len(want) % 2**32, 'isize'\n"
    "assert gzip.decompress(z) == want, 'gzip.decompress output differs'\n";

static void check_external(const pc_buf *z, const unsigned char *data, size_t len)
{
    char in[512], zf[512], py[512];
    snprintf(in, sizeof in, "%s/ext.in", scratch);
    snprintf(zf, sizeof zf, "%s/ext.gz", scratch);
    snprintf(py, sizeof py, "%s/single_member.py", scratch);
    write_file(in, data, len);
    write_file(zf, z->data, z->len);
    write_file(py, single_member_py, strlen(single_member_py));
    sh("gzip -dc '%s' | cmp -s - '%s'", zf, in);
    sh("/usr/bin/python3 '%s' '%s' '%s'", py, zf, in);
}

/* ---- round trips ---- */

static void roundtrip(int threads, int level, const unsigned char *data, size_t len,
                      const size_t *chunks, size_t nchunks, bool external)
{
    pc_buf z;
    size_t max_write = 0;
    assert_int_equal(gz(threads, level, data, len, chunks, nchunks, &z, &max_write), PC_OK);
    assert_true(max_write <= CMP_OUT_CHUNK);
    check_wrapper(&z, level == CMP_LEVEL_DEFAULT ? 6 : level, data, len);
    decompress_ok(&z, data, len);
    if (external)
        check_external(&z, data, len);
    pc_buf_free(&z);
}

static void t_sizes(void **state)
{
    static const int threads[] = {2, 4};
    const size_t sizes[] = {0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 3 * BLOCK + 7};
    static const size_t odd[] = {4093, 1, 65537, 7};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            roundtrip(threads[t], CMP_LEVEL_DEFAULT, big, sizes[i], NULL, 0, true);
            roundtrip(threads[t], CMP_LEVEL_DEFAULT, big, sizes[i], odd, 4, false);
        }
    }
}

static void t_big(void **state)
{
    /* odd sizes: writes smaller than a block, straddling blocks, spanning several */
    static const size_t odd[] = {7, 4093, 65537, 1, 300000, 1234567};
    roundtrip(2, CMP_LEVEL_DEFAULT, big, big_len, odd, 6, true);
    roundtrip(4, CMP_LEVEL_DEFAULT, big, big_len, odd, 6, false);
    roundtrip(2, CMP_LEVEL_DEFAULT, big, big_len, NULL, 0, false);
}

static void t_bytewise(void **state)
{
    static const size_t one[] = {1};
    roundtrip(2, CMP_LEVEL_DEFAULT, big, big_len, one, 1, false);
    roundtrip(4, 1, big, 3 * BLOCK + 5, one, 1, false);
}

static void t_levels(void **state)
{
    /* every level; the header's XFL matches what zlib writes with one thread */
    for (int level = 1; level <= 9; level++) {
        roundtrip(2, level, big, 2 * MIB + 3, NULL, 0, level == 1 || level == 9);
        pc_buf one;
        pc_buf_init(&one, PC_BUF_NOCAP);
        assert_int_equal(cmp_compress_buf(CMP_GZIP, level, "abc", 3, &one), PC_OK);
        pc_buf two;
        assert_int_equal(gz(2, level, "abc", 3, NULL, 0, &two, NULL), PC_OK);
        assert_memory_equal(one.data, two.data, 10);
        pc_buf_free(&two);
        pc_buf_free(&one);
    }
    /* out of range still fails before any thread starts, and next is freed (ASan) */
    pc_buf dummy;
    pc_buf_init(&dummy, PC_BUF_NOCAP);
    pc_sink *stage = NULL;
    assert_int_equal(cmp_compress_new(CMP_GZIP, 10, 2, rec_new(&dummy, NULL), &stage), PC_E_USAGE);
    assert_null(stage);
    pc_buf_free(&dummy);
}

static void t_threads_independent(void **state)
{
    /* the same bytes whatever the thread count; a size close to one thread's */
    static const size_t odd[] = {65537, 4093};
    pc_buf one, z2, z3, z4, z64;
    /* 1 and 6 go through igzip when libisal is installed, 9 through zlib */
    static const int levels[] = {1, 6, 9};
    for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
        int level = levels[li];
        assert_int_equal(gz(1, level, big, big_len, NULL, 0, &one, NULL), PC_OK);
        assert_int_equal(gz(2, level, big, big_len, NULL, 0, &z2, NULL), PC_OK);
        assert_int_equal(gz(3, level, big, big_len, odd, 2, &z3, NULL), PC_OK);
        assert_int_equal(gz(4, level, big, big_len, NULL, 0, &z4, NULL), PC_OK);
        /* more threads than the cap (64): still works */
        assert_int_equal(gz(1000, level, big, 3 * BLOCK, NULL, 0, &z64, NULL), PC_OK);
        decompress_ok(&z64, big, 3 * BLOCK);
        assert_int_equal(z2.len, z3.len);
        assert_int_equal(z2.len, z4.len);
        assert_memory_equal(z2.data, z3.data, z2.len);
        assert_memory_equal(z2.data, z4.data, z2.len);
        double ratio = (double)z2.len / (double)one.len;
        print_message("level %d: 1 thread %zu bytes, 2 threads %zu bytes (%.3f%%)\n", level,
                      one.len, z2.len, (ratio - 1) * 100);
        assert_true(ratio < 1.01);
        pc_buf_free(&z64);
        pc_buf_free(&z4);
        pc_buf_free(&z3);
        pc_buf_free(&z2);
        pc_buf_free(&one);
    }
}

/* A tar made by tar(1), through our compressor, read by tarfile in stream mode ("r|gz"). */
static void t_python_tarfile(void **state)
{
    if (!have("tar --version") || !have("/usr/bin/python3 -c 'import tarfile'"))
        skip();
    char tree[512], path[1024], tarp[512], tgz[512], out[512];
    snprintf(tree, sizeof tree, "%s/tree", scratch);
    snprintf(out, sizeof out, "%s/untarred", scratch);
    snprintf(tarp, sizeof tarp, "%s/tree.tar", scratch);
    snprintf(tgz, sizeof tgz, "%s/tree.tar.gz", scratch);
    assert_int_equal(pc_mkdirs(tree, 0700), PC_OK);
    assert_int_equal(pc_mkdirs(out, 0700), PC_OK);
    static const struct {
        const char *name;
        size_t off, len;
    } files[] = {{"base_16384_2619", 0, 5 * MIB + 123},
                 {"empty", 0, 0},
                 {"one", 77, 1},
                 {"block", 3 * MIB, 256 * 1024},
                 {"pg_wal_000000010000000000000001", 7 * MIB, 3 * MIB}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tree, files[i].name);
        write_file(path, big + files[i].off, files[i].len);
    }
    sh("tar cf '%s' -C '%s' tree", tarp, scratch);
    pc_buf tar, z;
    pc_buf_init(&tar, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(tarp, 64 * MIB, &tar), PC_OK);
    static const size_t odd[] = {512, 10240, 1, 65536 + 13};
    assert_int_equal(gz(2, CMP_LEVEL_DEFAULT, tar.data, tar.len, odd, 4, &z, NULL), PC_OK);
    write_file(tgz, z.data, z.len);
    sh("/usr/bin/python3 -c 'import sys, tarfile\n"
       "with tarfile.open(fileobj=open(sys.argv[1], \"rb\"), mode=\"r|gz\") as t:\n"
       "    t.extractall(sys.argv[2])' '%s' '%s'",
       tgz, out);
    sh("diff -r '%s' '%s/tree'", tree, out);
    /* and gzip -dc gives back the tar byte for byte */
    sh("gzip -dc '%s' | cmp -s - '%s'", tgz, tarp);
    pc_buf_free(&z);
    pc_buf_free(&tar);
}

/* ---- failures ---- */

static void t_next_fails(void **state)
{
    /* next refuses early (within the first block) and late (many blocks in) */
    static const uint64_t limits[] = {1000, 3 * MIB};
    for (size_t i = 0; i < 2; i++) {
        pc_buf out;
        pc_buf_init(&out, PC_BUF_NOCAP);
        bool aborted = false;
        pc_sink *lim, *stage;
        assert_int_equal(pc_sink_limit_new(limits[i], rec_new(&out, &aborted), &lim), PC_OK);
        assert_int_equal(cmp_compress_new(CMP_GZIP, CMP_LEVEL_DEFAULT, 2, lim, &stage), PC_OK);
        pc_status st = PC_OK;
        for (size_t off = 0; st == PC_OK && off < big_len; off += 100000)
            st = pc_sink_write(stage, big + off, big_len - off < 100000 ? big_len - off : 100000);
        st = st ? st : pc_sink_finish(stage);
        char want[64];
        snprintf(want, sizeof want, "data exceeds the limit of %llu bytes",
                 (unsigned long long)limits[i]);
        assert_int_equal(st, PC_E_CORRUPT);
        assert_string_equal(pc_err_get()->message, want);
        if (i == 1)
            assert_true(out.len <= 3 * MIB);
        /* a failed stage keeps failing the same way; finish then aborts the chain */
        assert_int_equal(pc_sink_write(stage, "x", 1), PC_E_CORRUPT);
        assert_int_equal(pc_sink_finish(stage), PC_E_CORRUPT);
        assert_true(aborted);
        pc_sink_free(stage);
        pc_buf_free(&out);
    }
}

static void t_worker_fails(void **state)
{
    /* a block in the middle: a later write reports it; the last block: finish does */
    static const long fail_at[] = {5, 0};
    static const size_t lens[] = {20 * MIB, 1000};
    for (size_t i = 0; i < 2; i++) {
        pc_buf out;
        pc_buf_init(&out, PC_BUF_NOCAP);
        bool aborted = false;
        pc_sink *stage;
        cmp_pgzip_test_fail_block = fail_at[i];
        assert_int_equal(
            cmp_compress_new(CMP_GZIP, CMP_LEVEL_DEFAULT, 2, rec_new(&out, &aborted), &stage),
            PC_OK);
        cmp_pgzip_test_fail_block = -1;
        pc_status st = PC_OK;
        size_t off = 0;
        for (; st == PC_OK && off < lens[i]; off += 65536)
            st = pc_sink_write(stage, big + off, lens[i] - off < 65536 ? lens[i] - off : 65536);
        if (i == 0) {
            /* reported by a write, long before the end of the input */
            assert_int_equal(st, PC_E_INTERNAL);
            assert_true(off < 5 * MIB);
        } else {
            assert_int_equal(st, PC_OK);
            st = pc_sink_finish(stage);
        }
        char want[96];
        snprintf(want, sizeof want, "gzip compression failed: injected failure in block %ld",
                 fail_at[i]);
        assert_int_equal(st, PC_E_INTERNAL);
        assert_string_equal(pc_err_get()->message, want);
        if (i == 0) {
            assert_int_equal(pc_sink_finish(stage), PC_E_INTERNAL);
            assert_string_equal(pc_err_get()->message, want);
        }
        assert_true(aborted);
        /* nothing of the failed block or after it reached next: at most the blocks before it */
        assert_true(out.len < (size_t)fail_at[i] * BLOCK + 10 + 1);
        pc_sink_free(stage);
        pc_buf_free(&out);
    }
}

static void t_abort(void **state)
{
    /* abort and free while blocks are queued and being compressed; nothing leaks (ASan) */
    for (int threads = 2; threads <= 4; threads += 2) {
        pc_buf out;
        pc_buf_init(&out, PC_BUF_NOCAP);
        bool aborted = false;
        pc_sink *stage;
        assert_int_equal(cmp_compress_new(CMP_GZIP, 9, threads, rec_new(&out, &aborted), &stage),
                         PC_OK);
        assert_int_equal(pc_sink_write(stage, big, 5 * MIB + 17), PC_OK);
        pc_sink_abort(stage);
        assert_true(aborted);
        assert_int_equal(pc_sink_finish(stage), PC_E_INTERNAL);
        pc_sink_free(stage);
        pc_buf_free(&out);
    }
    /* free without finish or abort, right after a write */
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    bool aborted = false;
    pc_sink *stage;
    assert_int_equal(
        cmp_compress_new(CMP_GZIP, CMP_LEVEL_DEFAULT, 3, rec_new(&out, &aborted), &stage), PC_OK);
    assert_int_equal(pc_sink_write(stage, big, 4 * BLOCK + 1), PC_OK);
    pc_sink_free(stage);
    assert_true(aborted);
    pc_buf_free(&out);
    /* and a stage that never saw a byte */
    assert_int_equal(
        cmp_compress_new(CMP_GZIP, CMP_LEVEL_DEFAULT, 2, rec_new(&out, &aborted), &stage), PC_OK);
    pc_sink_free(stage);
}

/* ---- main ---- */

static int setup(void **state)
{
    big = make_data(big_len, 0x243f6a8885a308d3ull);
    const char *base = getenv("PGCASK_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    scratch = malloc(strlen(base) + 32);
    sprintf(scratch, "%s/pgzip-XXXXXX", base);
    return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
    pc_remove_tree(scratch);
    free(scratch);
    free(big);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sizes),
        cmocka_unit_test(t_big),
        cmocka_unit_test(t_bytewise),
        cmocka_unit_test(t_levels),
        cmocka_unit_test(t_threads_independent),
        cmocka_unit_test(t_python_tarfile),
        cmocka_unit_test(t_next_fails),
        cmocka_unit_test(t_worker_fails),
        cmocka_unit_test(t_abort),
    };
    return cmocka_run_group_tests_name("pgzip", tests, setup, teardown);
}
