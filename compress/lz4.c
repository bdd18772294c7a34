/* LZ4 frame format through lz4frame: one frame with a content checksum written; frames read in
 * sequence. */

#include <lz4frame.h>
#include <stdlib.h>

#include "common/error.h"
#include "compress/internal.h"

/* Input is fed in slices so the worst-case output of one call stays small. */
#define LZ4_SLICE ((size_t)64 * 1024)

typedef struct lz_stage {
    pc_sink base;
    LZ4F_cctx *cctx;
    LZ4F_dctx *dctx;
    LZ4F_preferences_t prefs;
    size_t bound; /* worst-case output of one compressUpdate of LZ4_SLICE bytes */
    bool begun;
    cmp_out out;
    /* decompression only: LZ4F's hint, 0 once a frame is complete */
    size_t hint;
    bool seen_input;
} lz_stage;

static pc_status lz_cerr(size_t ret)
{
    return pc_err(PC_E_INTERNAL, "lz4 compression failed: %s", LZ4F_getErrorName(ret));
}

/* Make room for `need` bytes of output by passing what is buffered to next. */
static pc_status lz_reserve(lz_stage *l, size_t need)
{
    return cmp_out_room(&l->out) < need ? cmp_out_flush(&l->out, l->base.next) : PC_OK;
}

/* The frame header goes out with the first write, or at finish for an empty input. */
static pc_status lz_begin(lz_stage *l)
{
    if (l->begun)
        return PC_OK;
    pc_status st = lz_reserve(l, LZ4F_HEADER_SIZE_MAX);
    if (st)
        return st;
    size_t n = LZ4F_compressBegin(l->cctx, cmp_out_tail(&l->out), cmp_out_room(&l->out), &l->prefs);
    if (LZ4F_isError(n))
        return lz_cerr(n);
    l->begun = true;
    return cmp_out_commit(&l->out, l->base.next, n);
}

static pc_status lz_compress_write(pc_sink *s, const void *data, size_t len)
{
    lz_stage *l = (lz_stage *)s;
    const unsigned char *p = data;
    pc_status st = len ? lz_begin(l) : PC_OK;
    while (st == PC_OK && len > 0) {
        size_t k = len < LZ4_SLICE ? len : LZ4_SLICE;
        st = lz_reserve(l, l->bound);
        if (st)
            return st;
        size_t n =
            LZ4F_compressUpdate(l->cctx, cmp_out_tail(&l->out), cmp_out_room(&l->out), p, k, NULL);
        if (LZ4F_isError(n))
            return lz_cerr(n);
        st = cmp_out_commit(&l->out, s->next, n);
        p += k;
        len -= k;
    }
    return st;
}

static pc_status lz_compress_finish(pc_sink *s)
{
    lz_stage *l = (lz_stage *)s;
    pc_status st = lz_begin(l);
    if (!st)
        st = lz_reserve(l, l->bound);
    if (st)
        return st;
    size_t n = LZ4F_compressEnd(l->cctx, cmp_out_tail(&l->out), cmp_out_room(&l->out), NULL);
    if (LZ4F_isError(n))
        return lz_cerr(n);
    st = cmp_out_commit(&l->out, s->next, n);
    return st ? st : cmp_out_flush(&l->out, s->next);
}

static pc_status lz_decompress_write(pc_sink *s, const void *data, size_t len)
{
    lz_stage *l = (lz_stage *)s;
    if (len == 0)
        return PC_OK;
    l->seen_input = true;
    const unsigned char *p = data;
    for (;;) {
        size_t room = cmp_out_room(&l->out), dn = room, sn = len;
        size_t ret = LZ4F_decompress(l->dctx, cmp_out_tail(&l->out), &dn, p, &sn, NULL);
        if (LZ4F_isError(ret))
            return pc_err(PC_E_CORRUPT, "corrupt lz4 stream: %s", LZ4F_getErrorName(ret));
        l->hint = ret;
        p += sn;
        len -= sn;
        pc_status st = cmp_out_commit(&l->out, s->next, dn);
        if (st)
            return st;
        /* a frame ending exactly here: another call would report the next frame's hint */
        if (len == 0 && (dn < room || ret == 0))
            return PC_OK;
    }
}

static pc_status lz_decompress_finish(pc_sink *s)
{
    lz_stage *l = (lz_stage *)s;
    if (!l->seen_input)
        return cmp_err_empty("lz4");
    if (l->hint != 0)
        return cmp_err_truncated("lz4");
    return cmp_out_flush(&l->out, s->next);
}

static void lz_destroy(pc_sink *s)
{
    lz_stage *l = (lz_stage *)s;
    LZ4F_freeCompressionContext(l->cctx);
    LZ4F_freeDecompressionContext(l->dctx);
    cmp_out_free(&l->out);
    free(l);
}

static const pc_sink_ops lz_compress_ops = {.name = "lz4-compress",
                                            .write = lz_compress_write,
                                            .finish = lz_compress_finish,
                                            .destroy = lz_destroy};

static const pc_sink_ops lz_decompress_ops = {.name = "lz4-decompress",
                                              .write = lz_decompress_write,
                                              .finish = lz_decompress_finish,
                                              .destroy = lz_destroy};

static lz_stage *lz_alloc(const pc_sink_ops *ops, pc_sink *next)
{
    lz_stage *l = pc_calloc(1, sizeof *l);
    if (!l) {
        pc_sink_free(next);
        return NULL;
    }
    pc_sink_init(&l->base, ops, next);
    return l;
}

pc_status cmp_lz4_compress_new(int level, pc_sink *next, pc_sink **out)
{
    lz_stage *l = lz_alloc(&lz_compress_ops, next);
    if (!l)
        return PC_E_INTERNAL;
    /* barman accepts up to 16; liblz4 stops at 12 (LZ4HC max), as the lz4 tool does */
    int max = LZ4F_compressionLevel_max();
    l->prefs.compressionLevel = level < max ? level : max;
    l->prefs.frameInfo.blockSizeID = LZ4F_max256KB;
    l->prefs.frameInfo.blockMode = LZ4F_blockLinked;
    l->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    l->bound = LZ4F_compressBound(LZ4_SLICE, &l->prefs);
    size_t cap = l->bound > CMP_OUT_CHUNK ? l->bound : CMP_OUT_CHUNK;
    pc_status st = cmp_out_init(&l->out, cap, 0, "lz4");
    if (!st) {
        LZ4F_errorCode_t e = LZ4F_createCompressionContext(&l->cctx, LZ4F_VERSION);
        if (LZ4F_isError(e))
            st = pc_err(PC_E_INTERNAL, "could not create an lz4 compressor: %s",
                        LZ4F_getErrorName(e));
    }
    if (st) {
        pc_sink_free(&l->base);
        return st;
    }
    *out = &l->base;
    return PC_OK;
}

pc_status cmp_lz4_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    lz_stage *l = lz_alloc(&lz_decompress_ops, next);
    if (!l)
        return PC_E_INTERNAL;
    pc_status st = cmp_out_init(&l->out, CMP_OUT_CHUNK, max_out, "lz4");
    if (!st) {
        LZ4F_errorCode_t e = LZ4F_createDecompressionContext(&l->dctx, LZ4F_VERSION);
        if (LZ4F_isError(e))
            st = pc_err(PC_E_INTERNAL, "could not create an lz4 decompressor: %s",
                        LZ4F_getErrorName(e));
    }
    if (st) {
        pc_sink_free(&l->base);
        return st;
    }
    *out = &l->base;
    return PC_OK;
}
