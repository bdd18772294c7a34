/* bzip2 through libbz2: one stream written; concatenated streams read, as bzip2 -d does. */

#include <bzlib.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "compress/internal.h"

/* libbz2 counts input in unsigned int: longer writes are fed in slices. */
#define BZ_SLICE ((size_t)1 << 30)

typedef struct bz_stage {
    pc_sink base;
    bz_stream bz;
    bool bz_ready;
    cmp_out out;
    /* decompression only */
    bool stream_done; /* the last stream ended; the next byte starts another */
    bool seen_input;
    uint64_t streams; /* streams decoded completely */
} bz_stage;

static pc_status bzerr(int ret, bool after_end)
{
    switch (ret) {
    case BZ_MEM_ERROR:
        return pc_err(PC_E_INTERNAL, "out of memory in bzip2");
    case BZ_DATA_ERROR_MAGIC:
        return pc_err(PC_E_CORRUPT, after_end
                                        ? "corrupt bzip2 stream: unexpected data after the end"
                                        : "corrupt bzip2 stream: bad magic number");
    case BZ_DATA_ERROR:
        return pc_err(PC_E_CORRUPT, "corrupt bzip2 stream: data or checksum error");
    default:
        return pc_err(PC_E_INTERNAL, "bzip2 failed (error %d)", ret);
    }
}

/* bzlib's next_in is a plain char * though it is only read. */
static char *unconst(const void *p)
{
    return (char *)(uintptr_t)p;
}

static pc_status bz_compress_run(bz_stage *b, int action)
{
    for (;;) {
        size_t room = cmp_out_room(&b->out);
        b->bz.next_out = (char *)cmp_out_tail(&b->out);
        b->bz.avail_out = (unsigned)room;
        int ret = BZ2_bzCompress(&b->bz, action);
        if (ret != BZ_RUN_OK && ret != BZ_FINISH_OK && ret != BZ_STREAM_END)
            return bzerr(ret, false);
        pc_status st = cmp_out_commit(&b->out, b->base.next, room - b->bz.avail_out);
        if (st)
            return st;
        if (ret == BZ_STREAM_END)
            return PC_OK;
        if (action == BZ_RUN && b->bz.avail_in == 0 && b->bz.avail_out > 0)
            return PC_OK;
    }
}

static pc_status bz_compress_write(pc_sink *s, const void *data, size_t len)
{
    bz_stage *b = (bz_stage *)s;
    const unsigned char *p = data;
    while (len > 0) {
        size_t k = len < BZ_SLICE ? len : BZ_SLICE;
        b->bz.next_in = unconst(p);
        b->bz.avail_in = (unsigned)k;
        pc_status st = bz_compress_run(b, BZ_RUN);
        if (st)
            return st;
        p += k;
        len -= k;
    }
    return PC_OK;
}

static pc_status bz_compress_finish(pc_sink *s)
{
    bz_stage *b = (bz_stage *)s;
    b->bz.next_in = NULL;
    b->bz.avail_in = 0;
    pc_status st = bz_compress_run(b, BZ_FINISH);
    return st ? st : cmp_out_flush(&b->out, s->next);
}

static void bz_destroy(pc_sink *s);

static const pc_sink_ops bz_compress_ops = {.name = "bzip2-compress",
                                            .write = bz_compress_write,
                                            .finish = bz_compress_finish,
                                            .destroy = bz_destroy};

static pc_status bz_decompress_init(bz_stage *b)
{
    memset(&b->bz, 0, sizeof b->bz);
    int ret = BZ2_bzDecompressInit(&b->bz, 0, 0);
    if (ret != BZ_OK)
        return pc_err(PC_E_INTERNAL, "could not initialise bzip2 (error %d)", ret);
    b->bz_ready = true;
    return PC_OK;
}

static pc_status bz_decompress_slice(bz_stage *b, const unsigned char *p, size_t len)
{
    b->bz.next_in = unconst(p);
    b->bz.avail_in = (unsigned)len;
    for (;;) {
        if (b->stream_done) {
            if (b->bz.avail_in == 0)
                return PC_OK;
            /* libbz2 has no reset: a new stream needs a fresh decoder */
            char *next_in = b->bz.next_in;
            unsigned avail_in = b->bz.avail_in;
            BZ2_bzDecompressEnd(&b->bz);
            b->bz_ready = false;
            pc_status st = bz_decompress_init(b);
            if (st)
                return st;
            b->bz.next_in = next_in;
            b->bz.avail_in = avail_in;
            b->stream_done = false;
        }
        size_t room = cmp_out_room(&b->out);
        b->bz.next_out = (char *)cmp_out_tail(&b->out);
        b->bz.avail_out = (unsigned)room;
        int ret = BZ2_bzDecompress(&b->bz);
        if (ret != BZ_OK && ret != BZ_STREAM_END)
            return bzerr(ret, b->streams > 0);
        pc_status st = cmp_out_commit(&b->out, b->base.next, room - b->bz.avail_out);
        if (st)
            return st;
        if (ret == BZ_STREAM_END) {
            b->stream_done = true;
            b->streams++;
        } else if (b->bz.avail_in == 0 && b->bz.avail_out > 0) {
            return PC_OK;
        }
    }
}

static pc_status bz_decompress_write(pc_sink *s, const void *data, size_t len)
{
    bz_stage *b = (bz_stage *)s;
    const unsigned char *p = data;
    if (len > 0)
        b->seen_input = true;
    while (len > 0) {
        size_t k = len < BZ_SLICE ? len : BZ_SLICE;
        pc_status st = bz_decompress_slice(b, p, k);
        if (st)
            return st;
        p += k;
        len -= k;
    }
    return PC_OK;
}

static pc_status bz_decompress_finish(pc_sink *s)
{
    bz_stage *b = (bz_stage *)s;
    if (!b->seen_input)
        return cmp_err_empty("bzip2");
    if (!b->stream_done)
        return cmp_err_truncated("bzip2");
    return cmp_out_flush(&b->out, s->next);
}

static const pc_sink_ops bz_decompress_ops = {.name = "bzip2-decompress",
                                              .write = bz_decompress_write,
                                              .finish = bz_decompress_finish,
                                              .destroy = bz_destroy};

static void bz_destroy(pc_sink *s)
{
    bz_stage *b = (bz_stage *)s;
    if (b->bz_ready) {
        if (s->ops == &bz_compress_ops)
            BZ2_bzCompressEnd(&b->bz);
        else
            BZ2_bzDecompressEnd(&b->bz);
    }
    cmp_out_free(&b->out);
    free(b);
}

static pc_status bz_new(const pc_sink_ops *ops, int level, uint64_t max_out, pc_sink *next,
                        pc_sink **out)
{
    bz_stage *b = pc_calloc(1, sizeof *b);
    if (!b) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&b->base, ops, next);
    pc_status st = cmp_out_init(&b->out, CMP_OUT_CHUNK, max_out, "bzip2");
    if (st == PC_OK) {
        if (ops == &bz_compress_ops) {
            /* the level is the block size in units of 100 kB, as bzip2 -1..-9 */
            int ret = BZ2_bzCompressInit(&b->bz, level, 0, 0);
            if (ret == BZ_OK)
                b->bz_ready = true;
            else
                st = pc_err(PC_E_INTERNAL, "could not initialise bzip2 (error %d)", ret);
        } else {
            st = bz_decompress_init(b);
        }
    }
    if (st) {
        pc_sink_free(&b->base);
        return st;
    }
    *out = &b->base;
    return PC_OK;
}

pc_status cmp_bzip2_compress_new(int level, pc_sink *next, pc_sink **out)
{
    return bz_new(&bz_compress_ops, level, 0, next, out);
}

pc_status cmp_bzip2_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    return bz_new(&bz_decompress_ops, 0, max_out, next, out);
}
