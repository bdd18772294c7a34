/* zstd frames through libzstd: one frame with a content checksum written; frames read in sequence.
 */

#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/error.h"
#include "compress/internal.h"

typedef struct zs_stage {
    pc_sink base;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    cmp_out out;
    /* decompression only: zstd's hint, 0 once a frame is complete and flushed */
    size_t hint;
    bool seen_input;
} zs_stage;

static pc_status zs_compress_run(zs_stage *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer ob = {cmp_out_tail(&z->out), cmp_out_room(&z->out), 0};
        size_t ret = ZSTD_compressStream2(z->cctx, &ob, in, mode);
        if (ZSTD_isError(ret))
            return pc_err(PC_E_INTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(ret));
        pc_status st = cmp_out_commit(&z->out, z->base.next, ob.pos);
        if (st)
            return st;
        if (mode == ZSTD_e_end) {
            if (ret == 0)
                return PC_OK;
        } else if (in->pos == in->size && ob.pos < ob.size) {
            return PC_OK;
        }
    }
}

static pc_status zs_compress_write(pc_sink *s, const void *data, size_t len)
{
    zs_stage *z = (zs_stage *)s;
    if (len == 0)
        return PC_OK;
    ZSTD_inBuffer in = {data, len, 0};
    return zs_compress_run(z, &in, ZSTD_e_continue);
}

static pc_status zs_compress_finish(pc_sink *s)
{
    zs_stage *z = (zs_stage *)s;
    ZSTD_inBuffer in = {NULL, 0, 0};
    pc_status st = zs_compress_run(z, &in, ZSTD_e_end);
    return st ? st : cmp_out_flush(&z->out, s->next);
}

static pc_status zs_decompress_write(pc_sink *s, const void *data, size_t len)
{
    zs_stage *z = (zs_stage *)s;
    if (len == 0)
        return PC_OK;
    z->seen_input = true;
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {cmp_out_tail(&z->out), cmp_out_room(&z->out), 0};
        size_t ret = ZSTD_decompressStream(z->dctx, &ob, &in);
        if (ZSTD_isError(ret)) {
            if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
                return pc_err(PC_E_INTERNAL, "out of memory in zstd");
            /* the error names are zstd's fixed strings ("Restored data doesn't match checksum") */
            return pc_err(PC_E_CORRUPT, "corrupt zstd stream: %s", ZSTD_getErrorName(ret));
        }
        z->hint = ret;
        pc_status st = cmp_out_commit(&z->out, s->next, ob.pos);
        if (st)
            return st;
        /* a complete frame ending exactly here: another call would start the next frame's hint */
        if (in.pos == in.size && (ob.pos < ob.size || ret == 0))
            return PC_OK;
    }
}

static pc_status zs_decompress_finish(pc_sink *s)
{
    zs_stage *z = (zs_stage *)s;
    if (!z->seen_input)
        return cmp_err_empty("zstd");
    if (z->hint != 0)
        return cmp_err_truncated("zstd");
    return cmp_out_flush(&z->out, s->next);
}

static void zs_destroy(pc_sink *s)
{
    zs_stage *z = (zs_stage *)s;
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    cmp_out_free(&z->out);
    free(z);
}

static const pc_sink_ops zs_compress_ops = {.name = "zstd-compress",
                                            .write = zs_compress_write,
                                            .finish = zs_compress_finish,
                                            .destroy = zs_destroy};

static const pc_sink_ops zs_decompress_ops = {.name = "zstd-decompress",
                                              .write = zs_decompress_write,
                                              .finish = zs_decompress_finish,
                                              .destroy = zs_destroy};

static pc_status zs_alloc(const pc_sink_ops *ops, uint64_t max_out, pc_sink *next, zs_stage **out)
{
    zs_stage *z = pc_calloc(1, sizeof *z);
    if (!z) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&z->base, ops, next);
    pc_status st = cmp_out_init(&z->out, CMP_OUT_CHUNK, max_out, "zstd");
    if (st) {
        pc_sink_free(&z->base);
        return st;
    }
    *out = z;
    return PC_OK;
}

static pc_status set_param(zs_stage *z, ZSTD_cParameter p, int v, const char *what)
{
    size_t ret = ZSTD_CCtx_setParameter(z->cctx, p, v);
    if (ZSTD_isError(ret))
        return pc_err(PC_E_INTERNAL, "could not set zstd %s to %d: %s", what, v,
                      ZSTD_getErrorName(ret));
    return PC_OK;
}

pc_status cmp_zstd_compress_new(int level, int threads, pc_sink *next, pc_sink **out)
{
    zs_stage *z;
    pc_status st = zs_alloc(&zs_compress_ops, 0, next, &z);
    if (st)
        return st;
    z->cctx = ZSTD_createCCtx();
    if (!z->cctx)
        st = pc_err(PC_E_INTERNAL, "out of memory creating a zstd compressor");
    if (!st)
        st = set_param(z, ZSTD_c_compressionLevel, level, "compression level");
    if (!st)
        st = set_param(z, ZSTD_c_checksumFlag, 1, "checksum flag");
    if (!st && threads > 1) {
        /* a libzstd built without threads reports an upper bound of 0: stay single-threaded */
        ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
        if (!ZSTD_isError(b.error) && b.upperBound > 0)
            st = set_param(z, ZSTD_c_nbWorkers, threads < b.upperBound ? threads : b.upperBound,
                           "worker count");
    }
    if (st) {
        pc_sink_free(&z->base);
        return st;
    }
    *out = &z->base;
    return PC_OK;
}

pc_status cmp_zstd_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    zs_stage *z;
    pc_status st = zs_alloc(&zs_decompress_ops, max_out, next, &z);
    if (st)
        return st;
    /* the default window limit (128 MiB) bounds memory against hostile frame headers */
    z->dctx = ZSTD_createDCtx();
    if (!z->dctx) {
        pc_sink_free(&z->base);
        return pc_err(PC_E_INTERNAL, "out of memory creating a zstd decompressor");
    }
    *out = &z->base;
    return PC_OK;
}
