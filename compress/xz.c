/* .xz container through liblzma: one stream with a CRC64 check written; concatenated streams read.
 */

#include <lzma.h>
#include <stdlib.h>

#include "common/error.h"
#include "compress/internal.h"

/*
 * Decoder memory cap: xz -9 needs 65 MiB, the largest preset dictionary
 * (xz -9e) the same; anything beyond is not something pgcask or barman wrote.
 */
#define XZ_MEMLIMIT ((uint64_t)1 << 30)

typedef struct xz_stage {
    pc_sink base;
    lzma_stream lz;
    bool lz_ready;
    cmp_out out;
    bool decoding;
    bool seen_input; /* decompression only */
} xz_stage;

static pc_status xz_err(lzma_ret ret, bool decoding)
{
    switch (ret) {
    case LZMA_MEM_ERROR:
        return pc_err(PC_E_INTERNAL, "out of memory in xz");
    case LZMA_MEMLIMIT_ERROR:
        return pc_err(PC_E_CORRUPT, "corrupt xz stream: it needs more than %llu MiB to decode",
                      (unsigned long long)(XZ_MEMLIMIT >> 20));
    case LZMA_FORMAT_ERROR:
        return pc_err(PC_E_CORRUPT, "corrupt xz stream: not in the .xz format");
    case LZMA_OPTIONS_ERROR:
        return pc_err(decoding ? PC_E_CORRUPT : PC_E_INTERNAL, "%s xz stream: unsupported options",
                      decoding ? "corrupt" : "invalid");
    case LZMA_DATA_ERROR:
        return pc_err(PC_E_CORRUPT, "corrupt xz stream: data or checksum error");
    case LZMA_BUF_ERROR:
        return cmp_err_truncated("xz");
    default:
        break;
    }
    return pc_err(PC_E_INTERNAL, "xz %s failed (error %d)",
                  decoding ? "decompression" : "compression", (int)ret);
}

/*
 * Run lzma_code over the pending input. With LZMA_RUN stop once the input is
 * consumed with output room left; with LZMA_FINISH stop at LZMA_STREAM_END.
 */
static pc_status xz_run(xz_stage *x, lzma_action action)
{
    for (;;) {
        size_t room = cmp_out_room(&x->out);
        x->lz.next_out = cmp_out_tail(&x->out);
        x->lz.avail_out = room;
        lzma_ret ret = lzma_code(&x->lz, action);
        if (ret != LZMA_OK && ret != LZMA_STREAM_END)
            return xz_err(ret, x->decoding);
        pc_status st = cmp_out_commit(&x->out, x->base.next, room - x->lz.avail_out);
        if (st)
            return st;
        if (ret == LZMA_STREAM_END)
            return PC_OK;
        if (action == LZMA_RUN && x->lz.avail_in == 0 && x->lz.avail_out > 0)
            return PC_OK;
    }
}

static pc_status xz_write(pc_sink *s, const void *data, size_t len)
{
    xz_stage *x = (xz_stage *)s;
    if (len == 0)
        return PC_OK;
    if (x->decoding)
        x->seen_input = true;
    x->lz.next_in = data;
    x->lz.avail_in = len;
    return xz_run(x, LZMA_RUN);
}

static pc_status xz_compress_finish(pc_sink *s)
{
    xz_stage *x = (xz_stage *)s;
    x->lz.next_in = NULL;
    x->lz.avail_in = 0;
    pc_status st = xz_run(x, LZMA_FINISH);
    return st ? st : cmp_out_flush(&x->out, s->next);
}

static pc_status xz_decompress_finish(pc_sink *s)
{
    xz_stage *x = (xz_stage *)s;
    if (!x->seen_input)
        return cmp_err_empty("xz");
    /* with LZMA_CONCATENATED only LZMA_FINISH tells the end of the last stream from a cut */
    x->lz.next_in = NULL;
    x->lz.avail_in = 0;
    pc_status st = xz_run(x, LZMA_FINISH);
    return st ? st : cmp_out_flush(&x->out, s->next);
}

static void xz_destroy(pc_sink *s)
{
    xz_stage *x = (xz_stage *)s;
    if (x->lz_ready)
        lzma_end(&x->lz);
    cmp_out_free(&x->out);
    free(x);
}

static const pc_sink_ops xz_compress_ops = {
    .name = "xz-compress", .write = xz_write, .finish = xz_compress_finish, .destroy = xz_destroy};

static const pc_sink_ops xz_decompress_ops = {.name = "xz-decompress",
                                              .write = xz_write,
                                              .finish = xz_decompress_finish,
                                              .destroy = xz_destroy};

static pc_status xz_new(const pc_sink_ops *ops, int level, uint64_t max_out, pc_sink *next,
                        pc_sink **out)
{
    xz_stage *x = pc_calloc(1, sizeof *x);
    if (!x) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&x->base, ops, next);
    x->lz = (lzma_stream)LZMA_STREAM_INIT;
    pc_status st = cmp_out_init(&x->out, CMP_OUT_CHUNK, max_out, "xz");
    if (!st) {
        x->decoding = ops == &xz_decompress_ops;
        lzma_ret ret = x->decoding ? lzma_stream_decoder(&x->lz, XZ_MEMLIMIT, LZMA_CONCATENATED)
                                   : lzma_easy_encoder(&x->lz, (uint32_t)level, LZMA_CHECK_CRC64);
        if (ret == LZMA_OK)
            x->lz_ready = true;
        else
            st = xz_err(ret, x->decoding);
    }
    if (st) {
        pc_sink_free(&x->base);
        return st;
    }
    *out = &x->base;
    return PC_OK;
}

pc_status cmp_xz_compress_new(int level, pc_sink *next, pc_sink **out)
{
    return xz_new(&xz_compress_ops, level, 0, next, out);
}

pc_status cmp_xz_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    return xz_new(&xz_decompress_ops, 0, max_out, next, out);
}
