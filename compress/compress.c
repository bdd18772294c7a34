#include "compress/compress.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "compress/internal.h"

/* ---- names ---- */

const char *cmp_codec_name(cmp_codec c)
{
    switch (c) {
    case CMP_NONE:
        return "none";
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
    case CMP_SNAPPY:
        return "snappy";
    }
    return "unknown";
}

const char *cmp_codec_ext(cmp_codec c)
{
    switch (c) {
    case CMP_NONE:
        return "";
    case CMP_GZIP:
        return ".gz";
    case CMP_BZIP2:
        return ".bz2";
    case CMP_ZSTD:
        return ".zst";
    case CMP_LZ4:
        return ".lz4";
    case CMP_XZ:
        return ".xz";
    case CMP_SNAPPY:
        return ".snappy";
    }
    return "";
}

static const struct {
    const char *name;
    cmp_codec codec;
} codec_names[] = {
    {"none", CMP_NONE}, {"gzip", CMP_GZIP}, {"gz", CMP_GZIP},       {"bzip2", CMP_BZIP2},
    {"bz2", CMP_BZIP2}, {"zstd", CMP_ZSTD}, {"zst", CMP_ZSTD},      {"zstandard", CMP_ZSTD},
    {"lz4", CMP_LZ4},   {"xz", CMP_XZ},     {"snappy", CMP_SNAPPY},
};

pc_status cmp_codec_parse(const char *name, cmp_codec *out)
{
    for (size_t i = 0; i < sizeof codec_names / sizeof codec_names[0]; i++) {
        if (strcasecmp(name, codec_names[i].name) == 0) {
            *out = codec_names[i].codec;
            return PC_OK;
        }
    }
    pc_err(PC_E_USAGE, "unknown compression \"%s\"", name);
    pc_err_hint("Use one of none, gzip, bzip2, zstd, lz4, xz or snappy.");
    return PC_E_USAGE;
}

cmp_codec cmp_codec_from_name(const char *filename, size_t *stem_len)
{
    size_t n = strlen(filename);
    for (int c = CMP_GZIP; c < CMP_CODEC_COUNT; c++) {
        const char *ext = cmp_codec_ext((cmp_codec)c);
        size_t el = strlen(ext);
        /* a bare ".gz" has no stem: it is a plain file that happens to be named so */
        if (n > el && memcmp(filename + n - el, ext, el) == 0) {
            if (stem_len)
                *stem_len = n - el;
            return (cmp_codec)c;
        }
    }
    if (stem_len)
        *stem_len = n;
    return CMP_NONE;
}

/* ---- levels ---- */

void cmp_level_range(cmp_codec c, int *min, int *max)
{
    switch (c) {
    case CMP_NONE:
    case CMP_SNAPPY:
        *min = 0;
        *max = 0;
        return;
    case CMP_GZIP:
    case CMP_BZIP2:
    case CMP_XZ:
        *min = 1;
        *max = 9;
        return;
    case CMP_ZSTD:
        /* barman's range; zstd itself goes further down, but such levels barely compress */
        *min = -22;
        *max = 22;
        return;
    case CMP_LZ4:
        *min = 0;
        *max = 16;
        return;
    }
    *min = 0;
    *max = 0;
}

static bool codec_valid(cmp_codec c)
{
    return (unsigned)c < CMP_CODEC_COUNT;
}

static pc_status err_unknown_codec(cmp_codec c)
{
    return pc_err(PC_E_INTERNAL, "unknown compression codec %d", (int)c);
}

static bool codec_has_levels(cmp_codec c)
{
    return c != CMP_NONE && c != CMP_SNAPPY;
}

static pc_status err_no_levels(cmp_codec c)
{
    pc_err(PC_E_USAGE, "%s compression has no levels", cmp_codec_name(c));
    pc_err_hint("Remove --compression-level, or choose gzip, bzip2, zstd, lz4 or xz.");
    return PC_E_USAGE;
}

static pc_status err_level_range(cmp_codec c, const char *text)
{
    int lo, hi;
    cmp_level_range(c, &lo, &hi);
    pc_err(PC_E_USAGE, "invalid %s compression level \"%s\"", cmp_codec_name(c), text);
    pc_err_hint("Use a number from %d to %d, or low, medium or high.", lo, hi);
    return PC_E_USAGE;
}

pc_status cmp_level_parse(cmp_codec c, const char *text, int *level)
{
    if (!codec_valid(c))
        return err_unknown_codec(c);
    if (!codec_has_levels(c))
        return err_no_levels(c);
    /* low / medium / high per codec, as barman/compression.py maps them */
    static const int symbolic[CMP_CODEC_COUNT][3] = {
        [CMP_GZIP] = {1, 6, 9}, [CMP_BZIP2] = {1, 5, 9}, [CMP_XZ] = {1, 3, 9},
        [CMP_ZSTD] = {1, 4, 9}, [CMP_LZ4] = {0, 6, 16},
    };
    static const char *const words[3] = {"low", "medium", "high"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(text, words[i]) == 0) {
            *level = symbolic[c][i];
            return PC_OK;
        }
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    int lo, hi;
    cmp_level_range(c, &lo, &hi);
    if (end == text || *end != '\0' || errno != 0 || v < lo || v > hi)
        return err_level_range(c, text);
    *level = (int)v;
    return PC_OK;
}

/* Resolve CMP_LEVEL_DEFAULT and reject levels out of range. */
static pc_status resolve_level(cmp_codec c, int level, int *out)
{
    static const int defaults[CMP_CODEC_COUNT] = {
        [CMP_GZIP] = 6, [CMP_BZIP2] = 9, [CMP_ZSTD] = 3, [CMP_LZ4] = 1, [CMP_XZ] = 6,
    };
    if (level == CMP_LEVEL_DEFAULT) {
        *out = defaults[c];
        return PC_OK;
    }
    if (c == CMP_NONE) {
        /* nothing is compressed: a configured level has nothing to act on */
        *out = 0;
        return PC_OK;
    }
    if (!codec_has_levels(c))
        return err_no_levels(c);
    int lo, hi;
    cmp_level_range(c, &lo, &hi);
    if (level < lo || level > hi) {
        pc_err(PC_E_USAGE, "invalid %s compression level %d", cmp_codec_name(c), level);
        pc_err_hint("Use a number from %d to %d, or low, medium or high.", lo, hi);
        return PC_E_USAGE;
    }
    *out = level;
    return PC_OK;
}

/* ---- shared output buffer ---- */

pc_status cmp_out_init(cmp_out *o, size_t cap, uint64_t max, const char *codec)
{
    o->buf = pc_malloc(cap);
    o->len = 0;
    o->cap = cap;
    o->total = 0;
    o->max = max;
    o->codec = codec;
    return o->buf ? PC_OK : PC_E_INTERNAL;
}

void cmp_out_free(cmp_out *o)
{
    free(o->buf);
    o->buf = NULL;
}

pc_status cmp_out_flush(cmp_out *o, pc_sink *next)
{
    if (o->len == 0)
        return PC_OK;
    pc_status st = pc_sink_write(next, o->buf, o->len);
    o->len = 0;
    return st;
}

pc_status cmp_out_commit(cmp_out *o, pc_sink *next, size_t n)
{
    if (o->max && n > o->max - o->total)
        return pc_err(PC_E_CORRUPT, "decompressed %s data exceeds the %llu-byte limit", o->codec,
                      (unsigned long long)o->max);
    o->total += n;
    o->len += n;
    return o->len == o->cap ? cmp_out_flush(o, next) : PC_OK;
}

pc_status cmp_out_put(cmp_out *o, pc_sink *next, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0) {
        size_t k = cmp_out_room(o) < n ? cmp_out_room(o) : n;
        memcpy(cmp_out_tail(o), p, k);
        pc_status st = cmp_out_commit(o, next, k);
        if (st)
            return st;
        p += k;
        n -= k;
    }
    return PC_OK;
}

pc_status cmp_err_truncated(const char *codec)
{
    return pc_err(PC_E_CORRUPT, "truncated %s stream", codec);
}

pc_status cmp_err_empty(const char *codec)
{
    return pc_err(PC_E_CORRUPT, "truncated %s stream: the input is empty", codec);
}

/* ---- none: pass-through, with the size cap when decompressing ---- */

typedef struct none_stage {
    pc_sink base;
    uint64_t max, total;
} none_stage;

static pc_status none_write(pc_sink *s, const void *data, size_t len)
{
    none_stage *n = (none_stage *)s;
    if (n->max && len > n->max - n->total)
        return pc_err(PC_E_CORRUPT, "uncompressed data exceeds the %llu-byte limit",
                      (unsigned long long)n->max);
    n->total += len;
    return len ? pc_sink_write(s->next, data, len) : PC_OK;
}

static void none_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops none_ops = {.name = "none", .write = none_write, .destroy = none_destroy};

static pc_status none_new(uint64_t max_out, pc_sink *next, pc_sink **out)
{
    none_stage *n = pc_calloc(1, sizeof *n);
    if (!n) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&n->base, &none_ops, next);
    n->max = max_out;
    *out = &n->base;
    return PC_OK;
}

/* ---- dispatch ---- */

pc_status cmp_compress_new(cmp_codec c, int level, int threads, pc_sink *next, pc_sink **out)
{
    int lv;
    pc_status st = codec_valid(c) ? resolve_level(c, level, &lv) : err_unknown_codec(c);
    if (st) {
        pc_sink_free(next);
        return st;
    }
    switch (c) {
    case CMP_NONE:
        return none_new(0, next, out);
    case CMP_GZIP:
        return cmp_gzip_compress_new(lv, threads, next, out);
    case CMP_BZIP2:
        return cmp_bzip2_compress_new(lv, next, out);
    case CMP_ZSTD:
        return cmp_zstd_compress_new(lv, threads, next, out);
    case CMP_LZ4:
        return cmp_lz4_compress_new(lv, next, out);
    case CMP_XZ:
        return cmp_xz_compress_new(lv, next, out);
    case CMP_SNAPPY:
        return cmp_snappy_compress_new(next, out);
    }
    pc_sink_free(next);
    return err_unknown_codec(c);
}

pc_status cmp_decompress_new(cmp_codec c, uint64_t max_out, pc_sink *next, pc_sink **out)
{
    switch (c) {
    case CMP_NONE:
        return none_new(max_out, next, out);
    case CMP_GZIP:
        return cmp_gzip_decompress_new(max_out, next, out);
    case CMP_BZIP2:
        return cmp_bzip2_decompress_new(max_out, next, out);
    case CMP_ZSTD:
        return cmp_zstd_decompress_new(max_out, next, out);
    case CMP_LZ4:
        return cmp_lz4_decompress_new(max_out, next, out);
    case CMP_XZ:
        return cmp_xz_decompress_new(max_out, next, out);
    case CMP_SNAPPY:
        return cmp_snappy_decompress_new(max_out, next, out);
    }
    pc_sink_free(next);
    return err_unknown_codec(c);
}

/* ---- one-shot helpers ---- */

static pc_status run_into_buf(pc_status (*make)(pc_sink *mem, void *arg, pc_sink **out), void *arg,
                              const void *in, size_t len, pc_buf *out)
{
    pc_sink *mem, *stage;
    pc_status st = pc_sink_mem_new(out, &mem);
    if (st)
        return st;
    st = make(mem, arg, &stage);
    if (st)
        return st;
    st = pc_source_mem(in, len, stage);
    pc_sink_free(stage);
    return st;
}

typedef struct compress_args {
    cmp_codec c;
    int level;
} compress_args;

static pc_status make_compress(pc_sink *mem, void *arg, pc_sink **out)
{
    compress_args *a = arg;
    return cmp_compress_new(a->c, a->level, 1, mem, out);
}

typedef struct decompress_args {
    cmp_codec c;
    uint64_t max_out;
} decompress_args;

static pc_status make_decompress(pc_sink *mem, void *arg, pc_sink **out)
{
    decompress_args *a = arg;
    return cmp_decompress_new(a->c, a->max_out, mem, out);
}

pc_status cmp_compress_buf(cmp_codec c, int level, const void *in, size_t len, pc_buf *out)
{
    compress_args a = {c, level};
    return run_into_buf(make_compress, &a, in, len, out);
}

pc_status cmp_decompress_buf(cmp_codec c, const void *in, size_t len, uint64_t max_out, pc_buf *out)
{
    decompress_args a = {c, max_out};
    return run_into_buf(make_decompress, &a, in, len, out);
}
