#ifndef PGCASK_COMPRESS_COMPRESS_H
#define PGCASK_COMPRESS_COMPRESS_H

/*
 * Streaming compression filters for the pipeline (common/sink.h). Only this
 * module includes zlib, bzlib, zstd, lz4, lzma and snappy headers.
 *
 * Formats are those barman-cloud reads and writes, chosen by file extension:
 *   gzip   .gz      RFC 1952 (multi-member input accepted)
 *   bzip2  .bz2     (multi-stream input accepted, as bzip2 -d does)
 *   zstd   .zst     zstd frames (several concatenated frames accepted)
 *   lz4    .lz4     LZ4 frame format (not the legacy block format)
 *   xz     .xz      .xz container (LZMA2), CRC64 check
 *   snappy .snappy  snappy framing format (stream identifier ff 06 00 00
 *                   "sNaPpY", chunks with masked CRC-32C), as python-snappy's
 *                   StreamCompressor writes it
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sink.h"

/* PERSISTED in the catalog and manifests: never renumber. */
typedef enum cmp_codec {
    CMP_NONE = 0,
    CMP_GZIP = 1,
    CMP_BZIP2 = 2,
    CMP_ZSTD = 3,
    CMP_LZ4 = 4,
    CMP_XZ = 5,
    CMP_SNAPPY = 6,
} cmp_codec;

#define CMP_CODEC_COUNT 7

/* Level meaning "the codec's default" (gzip 6, bzip2 9, zstd 3, lz4 1, xz 6). */
#define CMP_LEVEL_DEFAULT INT32_MIN

/* "none" "gzip" "bzip2" "zstd" "lz4" "xz" "snappy". */
const char *cmp_codec_name(cmp_codec c);
/* Accepts the names above plus "gz", "bz2", "zst", "zstandard". PC_E_USAGE otherwise. */
pc_status cmp_codec_parse(const char *name, cmp_codec *out);
/* File extension with the dot (".gz" ...), "" for none. */
const char *cmp_codec_ext(cmp_codec c);
/*
 * Codec from a file name's extension: "X.gz" -> CMP_GZIP with *stem_len the
 * length of "X". A name without a known extension is CMP_NONE and
 * *stem_len = strlen(name).
 */
cmp_codec cmp_codec_from_name(const char *filename, size_t *stem_len);
/* Valid level range for a codec (for --compression-level validation). */
void cmp_level_range(cmp_codec c, int *min, int *max);
/*
 * barman's symbolic levels: "low", "medium", "high" -> a number per codec
 * (gzip 1/6/9, bzip2 1/5/9, xz 1/3/9, zstd 1/4/9, lz4 0/6/16, snappy n/a).
 * Numbers pass through after a range check. PC_E_USAGE otherwise.
 */
pc_status cmp_level_parse(cmp_codec c, const char *text, int *level);

/*
 * Compressing filter in front of next (owned). CMP_NONE returns a
 * pass-through stage. `threads` > 1 lets codecs that can (zstd, gzip) use that
 * many worker threads for one stream; others ignore it. gzip then still writes
 * one member (compress/pgzip.c), within a fraction of a percent of the
 * one-thread size and byte-identical for any thread count above one; it holds
 * about (threads + 2) x 550 KiB plus 410 KiB per thread.
 */
pc_status cmp_compress_new(cmp_codec c, int level, int threads, pc_sink *next, pc_sink **out);

/*
 * Decompressing filter in front of next (owned). More than max_out bytes of
 * output, a truncated stream (finish before the end of the last frame), bad
 * checksums or trailing garbage fail with PC_E_CORRUPT and a message naming
 * the codec. max_out = 0 means no cap.
 */
pc_status cmp_decompress_new(cmp_codec c, uint64_t max_out, pc_sink *next, pc_sink **out);

/* One-shot helpers into a pc_buf (for 16 MiB WAL segments). */
pc_status cmp_compress_buf(cmp_codec c, int level, const void *in, size_t len, pc_buf *out);
pc_status cmp_decompress_buf(cmp_codec c, const void *in, size_t len, uint64_t max_out,
                             pc_buf *out);

#endif
