/*
 * gzip (RFC 1952) through zlib: one member written, any number of members read.
 * Compression with more than one thread is in compress/pgzip.c.
 */

#include <stdlib.h>
#include <string.h>
/* next_in becomes const: zlib never writes through it */
#define ZLIB_CONST
#include <zlib.h>

#include "common/error.h"
#include "compress/internal.h"

/* zlib counts input in uInt: longer writes are fed in slices. */
#define GZ_SLICE ((size_t)1 << 30)

/* windowBits 15 + 16 selects the gzip wrapper (header and CRC-32/ISIZE trailer) only. */
#define GZ_WINDOW (15 + 16)

typedef struct gz_stage {
    pc_sink base;
    z_stream z;
    bool z_ready;
    cmp_isal *isal; /* compression by igzip instead of z (levels 1-6) */
    cmp_out out;
    /* decompression only */
    bool member_done; /* the last member ended; the next byte starts another */
    bool seen_input;
} gz_stage;

static pc_status zerr(const gz_stage *g, int ret, const char *what)
{
    if (ret == Z_MEM_ERROR)
        return pc_err(PC_E_INTERNAL, "out of memory in gzip %s", what);
    /* z.msg is zlib's fixed text ("invalid distance too far back"), never input data */
    return pc_err(PC_E_CORRUPT, "corrupt gzip stream: %s", g->z.msg ? g->z.msg : "invalid data");
}

/* Run deflate over the current input until it is consumed (or, with Z_FINISH, the stream ends). */
static pc_status deflate_run(gz_stage *g, int flush)
{
    for (;;) {
        size_t room = cmp_out_room(&g->out);
        g->z.next_out = cmp_out_tail(&g->out);
        g->z.avail_out = (uInt)room;
        int ret = deflate(&g->z, flush);
        if (ret == Z_STREAM_ERROR)
            return pc_err(PC_E_INTERNAL, "gzip compression failed: %s", g->z.msg ? g->z.msg : "");
        pc_status st = cmp_out_commit(&g->out, g->base.next, room - g->z.avail_out);
        if (st)
            return st;
        if (ret == Z_STREAM_END)
            return PC_OK;
        /* output not filled means deflate wanted more input */
        if (g->z.avail_out > 0 && g->z.avail_in == 0 && flush != Z_FINISH)
            return PC_OK;
    }
}

void cmp_gzip_header(int level, unsigned char h[CMP_GZIP_HEADER])
{
    static const unsigned char base[CMP_GZIP_HEADER] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(h, base, CMP_GZIP_HEADER);
    h[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
}

/* Feed igzip until it took all the input and, for END, wrote the trailer. */
static pc_status isal_run(gz_stage *g, const unsigned char *p, size_t len, cmp_isal_flush flush)
{
    for (;;) {
        size_t took, wrote;
        bool done;
        pc_status st = cmp_isal_run(g->isal, p, len, &took, cmp_out_tail(&g->out),
                                    cmp_out_room(&g->out), &wrote, flush, &done);
        if (st == PC_OK)
            st = cmp_out_commit(&g->out, g->base.next, wrote);
        if (st || done)
            return st;
        p += took;
        len -= took;
    }
}

static pc_status gz_compress_write(pc_sink *s, const void *data, size_t len)
{
    gz_stage *g = (gz_stage *)s;
    const unsigned char *p = data;
    if (g->isal)
        return len ? isal_run(g, p, len, CMP_ISAL_NONE) : PC_OK;
    while (len > 0) {
        size_t k = len < GZ_SLICE ? len : GZ_SLICE;
        g->z.next_in = p;
        g->z.avail_in = (uInt)k;
        pc_status st = deflate_run(g, Z_NO_FLUSH);
        if (st)
            return st;
        p += k;
        len -= k;
    }
    return PC_OK;
}

static pc_status gz_compress_finish(pc_sink *s)
{
    gz_stage *g = (gz_stage *)s;
    pc_status st;
    if (g->isal) {
        st = isal_run(g, NULL, 0, CMP_ISAL_END);
        return st ? st : cmp_out_flush(&g->out, s->next);
    }
    g->z.next_in = NULL;
    g->z.avail_in = 0;
    st = deflate_run(g, Z_FINISH);
    return st ? st : cmp_out_flush(&g->out, s->next);
}

static void gz_compress_destroy(pc_sink *s)
{
    gz_stage *g = (gz_stage *)s;
    if (g->z_ready)
        deflateEnd(&g->z);
    cmp_isal_free(g->isal);
    cmp_out_free(&g->out);
    free(g);
}

static const pc_sink_ops gz_compress_ops = {.name = "gzip-compress",
                                            .write = gz_compress_write,
                                            .finish = gz_compress_finish,
                                            .destroy = gz_compress_destroy};

static pc_status gz_inflate_slice(gz_stage *g, const unsigned char *p, size_t len)
{
    g->z.next_in = p;
    g->z.avail_in = (uInt)len;
    for (;;) {
        if (g->member_done) {
            if (g->z.avail_in == 0)
                return PC_OK;
            /* zlib waits for two header bytes before judging them; one stray byte must fail too */
            if (g->z.next_in[0] != 0x1f)
                return pc_err(PC_E_CORRUPT, "corrupt gzip stream: unexpected data after the end");
            inflateReset(&g->z);
            g->member_done = false;
        }
        size_t room = cmp_out_room(&g->out);
        g->z.next_out = cmp_out_tail(&g->out);
        g->z.avail_out = (uInt)room;
        int ret = inflate(&g->z, Z_NO_FLUSH);
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
            return zerr(g, ret, "decompression");
        pc_status st = cmp_out_commit(&g->out, g->base.next, room - g->z.avail_out);
        if (st)
            return st;
        if (ret == Z_STREAM_END)
            g->member_done = true;
        else if (g->z.avail_out > 0 && g->z.avail_in == 0)
            return PC_OK;
    }
}

static pc_status gz_decompress_write(pc_sink *s, const void *data, size_t len)
{
    gz_stage *g = (gz_stage *)s;
    const unsigned char *p = data;
    if (len > 0)
        g->seen_input = true;
    while (len > 0) {
        size_t k = len < GZ_SLICE ? len : GZ_SLICE;
        pc_status st = gz_inflate_slice(g, p, k);
        if (st)
            return st;
        p += k;
        len -= k;
    }
    return PC_OK;
}

static pc_status gz_decompress_finish(pc_sink *s)
{
    gz_stage *g = (gz_stage *)s;
    if (!g->seen_input)
        return cmp_err_empty("gzip");
    if (!g->member_done)
        return cmp_err_truncated("gzip");
    return cmp_out_flush(&g->out, s->next);
}

static void gz_decompress_destroy(pc_sink *s)
{
    gz_stage *g = (gz_stage *)s;
    if (g->z_ready)
        inflateEnd(&g->z);
    cmp_out_free(&g->out);
    free(g);
}

static const pc_sink_ops gz_decompress_ops = {.name = "gzip-decompress",
                                              .write = gz_decompress_write,
                                              .finish = gz_decompress_finish,
                                              .destroy = gz_decompress_destroy};

static pc_status gz_new(const pc_sink_ops *ops, int level, uint64_t max_out, pc_sink *next,
                        pc_sink **out)
{
    gz_stage *g = pc_calloc(1, sizeof *g);
    if (!g) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&g->base, ops, next);
    pc_status st = cmp_out_init(&g->out, CMP_OUT_CHUNK, max_out, "gzip");
    int isal_level = ops == &gz_compress_ops ? cmp_isal_level(level) : -1;
    if (st == PC_OK && isal_level > 0) {
        /* igzip writes the deflate data and the trailer, the header is ours (as zlib's) */
        unsigned char header[CMP_GZIP_HEADER];
        cmp_gzip_header(level, header);
        st = cmp_out_put(&g->out, next, header, sizeof header);
        if (st == PC_OK)
            st = cmp_isal_new(isal_level, true, &g->isal);
    } else if (st == PC_OK) {
        int ret = ops == &gz_compress_ops
                      ? deflateInit2(&g->z, level, Z_DEFLATED, GZ_WINDOW, 8, Z_DEFAULT_STRATEGY)
                      : inflateInit2(&g->z, GZ_WINDOW);
        if (ret == Z_OK)
            g->z_ready = true;
        else
            st = pc_err(PC_E_INTERNAL, "could not initialise zlib (error %d)", ret);
    }
    if (st) {
        pc_sink_free(&g->base);
        return st;
    }
    *out = &g->base;
    return PC_OK;
}

pc_status cmp_gzip_compress_new(int level, int threads, pc_sink *next, pc_sink **out)
{
    if (threads > 1)
        return cmp_pgzip_compress_new(level, threads, next, out);
    return gz_new(&gz_compress_ops, level, 0, next, out);
}

pc_status cmp_gzip_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    return gz_new(&gz_decompress_ops, 0, max_out, next, out);
}
