#ifndef PGCASK_COMPRESS_INTERNAL_H
#define PGCASK_COMPRESS_INTERNAL_H

/*
 * Private to compress/: the per-codec stage constructors behind
 * cmp_compress_new / cmp_decompress_new, and the bounded output buffer every
 * stage shares. Constructors follow common/sink.h: they own `next` even when
 * they fail. Levels arrive already validated and resolved (never
 * CMP_LEVEL_DEFAULT).
 */

#include <stddef.h>
#include <stdint.h>
#include "common/sink.h"

/* Output is handed to next in chunks of this size: memory per stage stays bounded. */
#define CMP_OUT_CHUNK (256u * 1024u)

/*
 * Bytes produced by a codec, waiting for next. `max` caps the total (the
 * decompression-bomb guard, 0 = none); `codec` names the codec in messages.
 */
typedef struct cmp_out {
    unsigned char *buf;
    size_t len, cap;
    uint64_t total, max;
    const char *codec;
} cmp_out;

/* Allocates cap bytes. Records PC_E_INTERNAL on failure. */
pc_status cmp_out_init(cmp_out *o, size_t cap, uint64_t max, const char *codec);
void cmp_out_free(cmp_out *o);
/* Free space at the end of the buffer. */
static inline unsigned char *cmp_out_tail(cmp_out *o)
{
    return o->buf + o->len;
}
static inline size_t cmp_out_room(const cmp_out *o)
{
    return o->cap - o->len;
}
/*
 * The codec wrote n bytes at cmp_out_tail(): check the cap, then pass the
 * buffer to next once it is full.
 */
pc_status cmp_out_commit(cmp_out *o, pc_sink *next, size_t n);
/* Append bytes produced outside the buffer (copying through it). */
pc_status cmp_out_put(cmp_out *o, pc_sink *next, const void *data, size_t n);
/* Pass whatever is buffered to next. */
pc_status cmp_out_flush(cmp_out *o, pc_sink *next);

/* Shared message for a stream that ended early. */
pc_status cmp_err_truncated(const char *codec);
/* Shared message for a 0-byte input (a compressed empty file is never empty). */
pc_status cmp_err_empty(const char *codec);

/* threads > 1 hands over to cmp_pgzip_compress_new; else one zlib stream on the caller's thread. */
pc_status cmp_gzip_compress_new(int level, int threads, pc_sink *next, pc_sink **out);
/* The gzip header zlib writes: no name, no mtime, OS Unix; XFL says fastest (4) or best (2). */
#define CMP_GZIP_HEADER 10
void cmp_gzip_header(int level, unsigned char h[CMP_GZIP_HEADER]);

/*
 * Deflate through ISA-L (compress/isal.c), loaded on first use.
 * cmp_isal_level: the igzip level that does a gzip level, or -1 when zlib
 * does it (levels 7-9, or libisal is not installed).
 */
typedef struct cmp_isal cmp_isal;
typedef enum { CMP_ISAL_NONE, CMP_ISAL_SYNC, CMP_ISAL_END } cmp_isal_flush;
int cmp_isal_level(int gzip_level);
/* gzip_trailer: append CRC-32 and ISIZE at the end (the caller writes the header); else raw. */
pc_status cmp_isal_new(int isal_level, bool gzip_trailer, cmp_isal **out);
void cmp_isal_free(cmp_isal *c);
/* Start a new raw stream whose matches may reach into dict (the previous block's tail). */
pc_status cmp_isal_restart(cmp_isal *c, const void *dict, size_t dict_len);
/*
 * Compress from in into out. *done: all input taken and, with SYNC, flushed
 * to a byte boundary (a non-final empty stored block); with END, the stream
 * ended. Otherwise call again with the rest of the input and new output room.
 */
pc_status cmp_isal_run(cmp_isal *c, const void *in, size_t in_len, size_t *in_used, void *out,
                       size_t out_cap, size_t *out_used, cmp_isal_flush flush, bool *done);

/* One gzip member compressed in blocks on `threads` worker threads (compress/pgzip.c). */
#define CMP_PGZIP_BLOCK (256u * 1024u) /* uncompressed bytes per block */
pc_status cmp_pgzip_compress_new(int level, int threads, pc_sink *next, pc_sink **out);
/* Tests only: when >= 0, a parallel gzip worker fails that block (0-based); read by _new. */
extern long cmp_pgzip_test_fail_block;
pc_status cmp_gzip_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);
pc_status cmp_bzip2_compress_new(int level, pc_sink *next, pc_sink **out);
pc_status cmp_bzip2_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);
pc_status cmp_zstd_compress_new(int level, int threads, pc_sink *next, pc_sink **out);
pc_status cmp_zstd_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);
pc_status cmp_lz4_compress_new(int level, pc_sink *next, pc_sink **out);
pc_status cmp_lz4_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);
pc_status cmp_xz_compress_new(int level, pc_sink *next, pc_sink **out);
pc_status cmp_xz_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);
pc_status cmp_snappy_compress_new(pc_sink *next, pc_sink **out);
pc_status cmp_snappy_decompress_new(uint64_t max_out, pc_sink *next, pc_sink **out);

#endif
