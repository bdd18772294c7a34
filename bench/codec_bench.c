/*
 * Single-core throughput of every codec through the pipeline stages, as
 * archive_command uses them.
 *
 *   codec_bench [--mib N] [FILE...]
 *
 * The files (WAL segments, say) are read and concatenated up to N MiB
 * (default 64); with no file a synthetic WAL-like mix is used. Each codec
 * runs once at its default level, zstd also at level 1 (its default is 3). Compression
 * writes into memory; decompression into a byte counter, so the figures are
 * the codecs' own cost plus the pipeline's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/sink.h"
#include "compress/compress.h"

/* Writes of this size, like pc_source_file's reads. */
#define BENCH_WRITE (1024 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pc_status push(pc_sink *s, const unsigned char *data, size_t len)
{
    pc_status st = PC_OK;
    for (size_t off = 0; st == PC_OK && off < len; off += BENCH_WRITE)
        st = pc_sink_write(s, data + off, len - off < BENCH_WRITE ? len - off : BENCH_WRITE);
    return st ? st : pc_sink_finish(s);
}

static pc_status run(cmp_codec c, int level, const unsigned char *data, size_t len)
{
    pc_buf z;
    pc_buf_init(&z, PC_BUF_NOCAP);
    pc_status st = pc_buf_reserve(&z, len + len / 8 + 65536);
    pc_sink *mem = NULL, *stage = NULL, *null = NULL, *count = NULL;
    double t0 = 0, t1 = 0, t2 = 0;
    if (!st)
        st = pc_sink_mem_new(&z, &mem);
    if (!st)
        st = cmp_compress_new(c, level, 1, mem, &stage);
    if (!st) {
        t0 = now();
        st = push(stage, data, len);
        t1 = now();
    }
    pc_sink_free(stage);
    stage = NULL;
    if (!st)
        st = pc_sink_null_new(&null);
    if (!st)
        st = pc_sink_count_new(null, &count);
    if (!st)
        st = cmp_decompress_new(c, len, count, &stage);
    if (!st) {
        st = push(stage, z.data, z.len);
        t2 = now();
    }
    if (!st && pc_sink_count_bytes(count) != len)
        st = pc_err(PC_E_INTERNAL, "%s round trip gave %llu bytes, not %zu", cmp_codec_name(c),
                    (unsigned long long)pc_sink_count_bytes(count), len);
    pc_sink_free(stage);
    if (!st) {
        double mb = (double)len / 1e6;
        char lv[16];
        if (level == CMP_LEVEL_DEFAULT)
            snprintf(lv, sizeof lv, "default");
        else
            snprintf(lv, sizeof lv, "%d", level);
        printf("%-7s %-8s %8.3f %10.1f %10.1f\n", cmp_codec_name(c), lv,
               (double)len / (double)(z.len ? z.len : 1), mb / (t1 - t0), mb / (t2 - t1));
        fflush(stdout);
    }
    pc_buf_free(&z);
    return st;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The same mix as the unit tests: random pages, repeated records, zeros, small-alphabet noise. */
static void synthetic(unsigned char *d, size_t len)
{
    static const char record[] = "INSERT INTO t VALUES (42);\n";
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t off = 0; off < len;) {
        size_t n = 1000 + xorshift(&x) % 7000, kind = xorshift(&x) % 4;
        if (n > len - off)
            n = len - off;
        for (size_t i = 0; i < n; i++) {
            if (kind == 0)
                d[off + i] = (unsigned char)xorshift(&x);
            else if (kind == 1)
                d[off + i] = (unsigned char)record[i % (sizeof record - 1)];
            else if (kind == 2)
                d[off + i] = 0;
            else
                d[off + i] = (unsigned char)('a' + xorshift(&x) % 4);
        }
        off += n;
    }
}

int main(int argc, char **argv)
{
    size_t mib = 64;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--mib") == 0) {
        mib = strtoul(argv[2], NULL, 10);
        first = 3;
    }
    if (mib == 0) {
        fprintf(stderr, "usage: codec_bench [--mib N] [FILE...]\n");
        return 2;
    }
    size_t cap = mib * 1024 * 1024;
    pc_buf in;
    pc_buf_init(&in, PC_BUF_NOCAP);
    for (int i = first; i < argc && in.len < cap; i++) {
        pc_status st = pc_read_file(argv[i], cap, &in);
        if (st) {
            pc_err_print(pc_err_get());
            return st;
        }
    }
    if (in.len > cap)
        in.len = cap;
    if (in.len == 0) {
        if (pc_buf_reserve(&in, cap))
            return PC_E_INTERNAL;
        synthetic(in.data, cap);
        in.len = cap;
    }
    printf("input: %.1f MiB (%s)\n", (double)in.len / 1048576.0,
           first < argc ? "files" : "synthetic");
    printf("%-7s %-8s %8s %10s %10s\n", "codec", "level", "ratio", "comp MB/s", "dec MB/s");
    static const struct {
        cmp_codec c;
        int level;
    } runs[] = {
        {CMP_GZIP, CMP_LEVEL_DEFAULT},
        {CMP_BZIP2, CMP_LEVEL_DEFAULT},
        {CMP_ZSTD, 1},
        {CMP_ZSTD, CMP_LEVEL_DEFAULT},
        {CMP_LZ4, CMP_LEVEL_DEFAULT},
        {CMP_XZ, CMP_LEVEL_DEFAULT},
        {CMP_SNAPPY, CMP_LEVEL_DEFAULT},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        pc_status st = run(runs[i].c, runs[i].level, in.data, in.len);
        if (st) {
            pc_err_print(pc_err_get());
            pc_buf_free(&in);
            return st;
        }
    }
    pc_buf_free(&in);
    return 0;
}
