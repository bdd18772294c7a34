/*
 * Snappy framing format (github.com/google/snappy framing_format.txt), as
 * python-snappy's StreamCompressor writes it: libsnappy compresses the raw
 * blocks, the framing is done here.
 *
 *   chunk = type (1 byte) | length (3 bytes, little-endian) | body
 *   0xff stream identifier, body "sNaPpY"
 *   0x00 compressed:   masked CRC-32C of the uncompressed data (4 bytes LE) | snappy block
 *   0x01 uncompressed: masked CRC-32C | data
 *   0x02-0x7f reserved unskippable, 0x80-0xfd reserved skippable, 0xfe padding
 */

#include <dlfcn.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "compress/internal.h"

/*
 * libsnappy is C++ and drags libstdc++ into every process that links it;
 * it is loaded on first use instead, so pgcask's start-up stays cheap for
 * the commands that never see snappy (docs/architecture.md).
 */
static struct {
    snappy_status (*compress)(const char *in, size_t n, char *out, size_t *outlen);
    snappy_status (*uncompress)(const char *in, size_t n, char *out, size_t *outlen);
    size_t (*max_compressed_length)(size_t n);
    snappy_status (*uncompressed_length)(const char *in, size_t n, size_t *result);
} sn_api;
static pthread_once_t sn_once = PTHREAD_ONCE_INIT;
static char sn_load_error[256];

static int sn_sym(void *lib, const char *name, void *slot)
{
    void *p = dlsym(lib, name);
    if (!p)
        return -1;
    memcpy(slot, &p, sizeof p);
    return 0;
}

static void sn_load_once(void)
{
    void *lib = dlopen("libsnappy.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(sn_load_error, sizeof sn_load_error, "could not load libsnappy: %s", dlerror());
        return;
    }
    if (sn_sym(lib, "snappy_compress", &sn_api.compress) ||
        sn_sym(lib, "snappy_uncompress", &sn_api.uncompress) ||
        sn_sym(lib, "snappy_max_compressed_length", &sn_api.max_compressed_length) ||
        sn_sym(lib, "snappy_uncompressed_length", &sn_api.uncompressed_length)) {
        snprintf(sn_load_error, sizeof sn_load_error, "libsnappy lacks its C interface");
        memset(&sn_api, 0, sizeof sn_api);
        dlclose(lib);
    }
}

static pc_status sn_load(void)
{
    pthread_once(&sn_once, sn_load_once);
    if (sn_api.compress)
        return PC_OK;
    pc_err(PC_E_INTERNAL, "%s", sn_load_error);
    pc_err_hint("snappy needs the library: apt-get install libsnappy1v5.");
    return PC_E_INTERNAL;
}

#define snappy_compress              (*sn_api.compress)
#define snappy_uncompress            (*sn_api.uncompress)
#define snappy_max_compressed_length (*sn_api.max_compressed_length)
#define snappy_uncompressed_length   (*sn_api.uncompressed_length)

#define SN_BLOCK     65536u /* most uncompressed bytes in one chunk */
#define SN_HDR       4u     /* type + 3-byte length */
#define SN_CRC       4u
#define SN_IDENT_LEN 10u

static const unsigned char sn_ident[SN_IDENT_LEN] = {0xff, 0x06, 0x00, 0x00, 's',
                                                     'N',  'a',  'P',  'p',  'Y'};

typedef struct sn_stage {
    pc_sink base;
    cmp_out out;
    size_t max_compressed; /* snappy_max_compressed_length(SN_BLOCK) */
    /* compression: input gathered into whole blocks */
    unsigned char *blk;
    size_t blk_len;
    bool ident_sent;
    /* decompression: the chunk being parsed */
    unsigned char hdr[SN_HDR];
    size_t hdr_len;
    unsigned type;
    size_t body_len, body_have;
    unsigned char *body; /* room for the largest chunk body that is not skipped */
    bool seen_ident, seen_input;
} sn_stage;

static uint32_t masked_crc(const void *data, size_t len)
{
    uint32_t crc = pc_crc32c(0, data, len);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- compression ---- */

static pc_status sn_send_ident(sn_stage *s)
{
    if (s->ident_sent)
        return PC_OK;
    s->ident_sent = true;
    return cmp_out_put(&s->out, s->base.next, sn_ident, SN_IDENT_LEN);
}

/* One chunk for n <= SN_BLOCK bytes, written straight into the output buffer. */
static pc_status sn_emit(sn_stage *s, const unsigned char *data, size_t n)
{
    pc_status st = sn_send_ident(s);
    if (!st && cmp_out_room(&s->out) < SN_HDR + SN_CRC + s->max_compressed)
        st = cmp_out_flush(&s->out, s->base.next);
    if (st)
        return st;
    unsigned char *h = cmp_out_tail(&s->out);
    size_t clen = s->max_compressed;
    snappy_status ss = snappy_compress((const char *)data, n, (char *)h + SN_HDR + SN_CRC, &clen);
    if (ss != SNAPPY_OK)
        return pc_err(PC_E_INTERNAL, "snappy compression failed (status %d)", (int)ss);
    unsigned char type = 0x00;
    if (clen >= n) {
        /* incompressible: store it, as the format asks */
        type = 0x01;
        memcpy(h + SN_HDR + SN_CRC, data, n);
        clen = n;
    }
    size_t body = SN_CRC + clen;
    h[0] = type;
    h[1] = (unsigned char)body;
    h[2] = (unsigned char)(body >> 8);
    h[3] = (unsigned char)(body >> 16);
    put_le32(h + SN_HDR, masked_crc(data, n));
    return cmp_out_commit(&s->out, s->base.next, SN_HDR + body);
}

static pc_status sn_compress_write(pc_sink *sink, const void *data, size_t len)
{
    sn_stage *s = (sn_stage *)sink;
    const unsigned char *p = data;
    while (len > 0) {
        pc_status st;
        if (s->blk_len == 0 && len >= SN_BLOCK) {
            st = sn_emit(s, p, SN_BLOCK);
            p += SN_BLOCK;
            len -= SN_BLOCK;
        } else {
            size_t k = SN_BLOCK - s->blk_len < len ? SN_BLOCK - s->blk_len : len;
            memcpy(s->blk + s->blk_len, p, k);
            s->blk_len += k;
            p += k;
            len -= k;
            st = PC_OK;
            if (s->blk_len == SN_BLOCK) {
                st = sn_emit(s, s->blk, SN_BLOCK);
                s->blk_len = 0;
            }
        }
        if (st)
            return st;
    }
    return PC_OK;
}

static pc_status sn_compress_finish(pc_sink *sink)
{
    sn_stage *s = (sn_stage *)sink;
    /* an empty input still gets the stream identifier: a 0-byte .snappy file is corrupt */
    pc_status st = s->blk_len ? sn_emit(s, s->blk, s->blk_len) : sn_send_ident(s);
    s->blk_len = 0;
    return st ? st : cmp_out_flush(&s->out, sink->next);
}

/* ---- decompression ---- */

static pc_status sn_corrupt(const char *what)
{
    return pc_err(PC_E_CORRUPT, "corrupt snappy stream: %s", what);
}

static bool sn_skippable(unsigned type)
{
    return type >= 0x80 && type <= 0xfe;
}

/* Validate a chunk header once its 4 bytes are in. */
static pc_status sn_header(sn_stage *s)
{
    s->type = s->hdr[0];
    s->body_len = (size_t)s->hdr[1] | (size_t)s->hdr[2] << 8 | (size_t)s->hdr[3] << 16;
    s->body_have = 0;
    if (!s->seen_ident && s->type != 0xff)
        return sn_corrupt("missing stream identifier");
    if (s->type == 0xff)
        return s->body_len == SN_IDENT_LEN - SN_HDR ? PC_OK : sn_corrupt("bad stream identifier");
    if (s->type == 0x00 || s->type == 0x01) {
        if (s->body_len < SN_CRC)
            return sn_corrupt("chunk too short for its checksum");
        size_t max = s->type == 0x00 ? s->max_compressed : SN_BLOCK;
        if (s->body_len - SN_CRC > max)
            return pc_err(PC_E_CORRUPT,
                          "corrupt snappy stream: chunk larger than %u uncompressed bytes",
                          SN_BLOCK);
        return PC_OK;
    }
    if (sn_skippable(s->type))
        return PC_OK;
    return pc_err(PC_E_CORRUPT, "corrupt snappy stream: reserved unskippable chunk type 0x%02x",
                  s->type);
}

/* A complete chunk body (skipped chunks never get here). */
static pc_status sn_chunk(sn_stage *s, const unsigned char *body)
{
    if (s->type == 0xff) {
        if (memcmp(body, sn_ident + SN_HDR, SN_IDENT_LEN - SN_HDR) != 0)
            return sn_corrupt("bad stream identifier");
        s->seen_ident = true;
        return PC_OK;
    }
    uint32_t want = get_le32(body);
    const unsigned char *data = body + SN_CRC;
    size_t n = s->body_len - SN_CRC;
    if (s->type == 0x01) {
        if (masked_crc(data, n) != want)
            return sn_corrupt("checksum mismatch");
        return cmp_out_put(&s->out, s->base.next, data, n);
    }
    size_t ulen;
    if (snappy_uncompressed_length((const char *)data, n, &ulen) != SNAPPY_OK)
        return sn_corrupt("bad block length");
    if (ulen > SN_BLOCK)
        return pc_err(PC_E_CORRUPT,
                      "corrupt snappy stream: chunk larger than %u uncompressed bytes", SN_BLOCK);
    if (cmp_out_room(&s->out) < ulen) {
        pc_status st = cmp_out_flush(&s->out, s->base.next);
        if (st)
            return st;
    }
    size_t got = ulen;
    unsigned char *dst = cmp_out_tail(&s->out);
    if (snappy_uncompress((const char *)data, n, (char *)dst, &got) != SNAPPY_OK || got != ulen)
        return sn_corrupt("bad compressed block");
    if (masked_crc(dst, ulen) != want)
        return sn_corrupt("checksum mismatch");
    return cmp_out_commit(&s->out, s->base.next, ulen);
}

static pc_status sn_decompress_write(pc_sink *sink, const void *data, size_t len)
{
    sn_stage *s = (sn_stage *)sink;
    const unsigned char *p = data;
    if (len > 0)
        s->seen_input = true;
    while (len > 0) {
        pc_status st = PC_OK;
        if (s->hdr_len < SN_HDR) {
            size_t k = SN_HDR - s->hdr_len < len ? SN_HDR - s->hdr_len : len;
            memcpy(s->hdr + s->hdr_len, p, k);
            s->hdr_len += k;
            p += k;
            len -= k;
            if (s->hdr_len < SN_HDR)
                return PC_OK;
            st = sn_header(s);
        } else {
            size_t k = s->body_len - s->body_have < len ? s->body_len - s->body_have : len;
            if (sn_skippable(s->type)) {
                s->body_have += k;
            } else if (s->body_have == 0 && k == s->body_len) {
                /* the whole body is in this write: no copy */
                st = sn_chunk(s, p);
                s->body_have = k;
            } else {
                memcpy(s->body + s->body_have, p, k);
                s->body_have += k;
                if (s->body_have == s->body_len)
                    st = sn_chunk(s, s->body);
            }
            p += k;
            len -= k;
        }
        if (st)
            return st;
        if (s->hdr_len == SN_HDR && s->body_have == s->body_len)
            s->hdr_len = 0;
    }
    return PC_OK;
}

static pc_status sn_decompress_finish(pc_sink *sink)
{
    sn_stage *s = (sn_stage *)sink;
    if (!s->seen_input)
        return cmp_err_empty("snappy");
    if (s->hdr_len != 0)
        return cmp_err_truncated("snappy");
    return cmp_out_flush(&s->out, sink->next);
}

static void sn_destroy(pc_sink *sink)
{
    sn_stage *s = (sn_stage *)sink;
    cmp_out_free(&s->out);
    free(s->blk);
    free(s->body);
    free(s);
}

static const pc_sink_ops sn_compress_ops = {.name = "snappy-compress",
                                            .write = sn_compress_write,
                                            .finish = sn_compress_finish,
                                            .destroy = sn_destroy};

static const pc_sink_ops sn_decompress_ops = {.name = "snappy-decompress",
                                              .write = sn_decompress_write,
                                              .finish = sn_decompress_finish,
                                              .destroy = sn_destroy};

static pc_status sn_new(const pc_sink_ops *ops, uint64_t max_out, pc_sink *next, pc_sink **out)
{
    pc_status lst = sn_load();
    if (lst) {
        pc_sink_free(next);
        return lst;
    }
    sn_stage *s = pc_calloc(1, sizeof *s);
    if (!s) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&s->base, ops, next);
    s->max_compressed = snappy_max_compressed_length(SN_BLOCK);
    pc_status st = cmp_out_init(&s->out, CMP_OUT_CHUNK, max_out, "snappy");
    if (!st) {
        if (ops == &sn_compress_ops)
            s->blk = pc_malloc(SN_BLOCK);
        else
            s->body = pc_malloc(SN_CRC + s->max_compressed);
        if (!s->blk && !s->body)
            st = PC_E_INTERNAL;
    }
    if (st) {
        pc_sink_free(&s->base);
        return st;
    }
    *out = &s->base;
    return PC_OK;
}

pc_status cmp_snappy_compress_new(pc_sink *next, pc_sink **out)
{
    return sn_new(&sn_compress_ops, 0, next, out);
}

pc_status cmp_snappy_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    return sn_new(&sn_decompress_ops, max_out, next, out);
}
