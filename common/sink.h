#ifndef PGCASK_COMMON_SINK_H
#define PGCASK_COMMON_SINK_H

/*
 * The streaming pipeline: every data path is source -> filters -> sink,
 * push style (PostgreSQL's astreamer shape, but every call returns a status).
 *
 *   pc_sink *file, *hash, *z;
 *   pc_sink_file_new(path, 0600, &file);          // terminal sink
 *   pc_sink_hash_new(PC_HASH_SHA256, file, &hash); // observer, owns `file`
 *   cmp_compress_new(CMP_ZSTD, 3, hash, &z);       // filter, owns `hash`
 *   st = pc_sink_write(z, data, len) ...;
 *   st = st ? st : pc_sink_finish(z);              // commit point
 *   pc_sink_hash_result(hash, digest, sizeof digest);
 *   pc_sink_free(z);                               // frees the chain; aborts if not finished
 *
 * Ownership: a stage created with a `next` owns it, even when its
 * constructor fails (the constructor then frees next). Freeing the head frees
 * the whole chain. Callers may keep borrowed pointers to inner stages to read
 * their results after finish, until the head is freed.
 *
 * Life cycle, enforced by the wrappers below: write* -> finish | abort -> free.
 * - write: after a failed write the chain is "failed": further writes return
 *   the same status, finish aborts the chain and returns it.
 * - finish: the stage flushes what it holds into next (ops->finish), then the
 *   wrapper finishes next. A terminal sink's finish is its commit point
 *   (rename into place, complete the multipart upload). If any stage's finish
 *   fails, every stage not yet finished is aborted.
 * - abort: discard everything (unlink the temp file, AbortMultipartUpload);
 *   the wrapper calls ops->abort then aborts next. Never fails.
 * - free without finish aborts first.
 *
 * Implementing a stage: allocate a struct whose first member is pc_sink, fill
 * it with pc_sink_init(&s->base, &my_ops, next), hand out &s->base.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/status.h"
#include "common/buf.h"

typedef struct pc_sink pc_sink;

typedef struct pc_sink_ops {
    const char *name;
    /* Consume len bytes (len may be 0). Required. */
    pc_status (*write)(pc_sink *s, const void *data, size_t len);
    /* Flush held data into s->next; do not finish next (the wrapper does). May be NULL. */
    pc_status (*finish)(pc_sink *s);
    /* Discard own state (temp files, uploads). Do not touch next. May be NULL. */
    void (*abort)(pc_sink *s);
    /* Free own memory, not next. Required. */
    void (*destroy)(pc_sink *s);
} pc_sink_ops;

typedef enum pc_sink_state {
    PC_SINK_OPEN = 0,
    PC_SINK_FAILED = 1,
    PC_SINK_FINISHED = 2,
    PC_SINK_ABORTED = 3,
} pc_sink_state;

struct pc_sink {
    const pc_sink_ops *ops;
    pc_sink *next;      /* owned; NULL for a terminal sink */
    pc_sink_state state;
    pc_status failure;  /* the status that failed the chain */
    uint64_t bytes_in;  /* bytes accepted by write() */
};

void pc_sink_init(pc_sink *s, const pc_sink_ops *ops, pc_sink *next);
pc_status pc_sink_write(pc_sink *s, const void *data, size_t len);
pc_status pc_sink_finish(pc_sink *s);
void pc_sink_abort(pc_sink *s);
void pc_sink_free(pc_sink *s); /* NULL is a no-op */
/* Free the stage only, returning its next (used to splice chains); the stage must be finished or aborted. */
pc_sink *pc_sink_detach(pc_sink *s);

/* ---- Terminal sinks and observers provided by common/ ---- */

/* Discards everything (counts bytes only). */
pc_status pc_sink_null_new(pc_sink **out);

/*
 * Appends into a caller-owned pc_buf (not freed by the sink). Writing past
 * the buffer's cap fails with PC_E_CORRUPT.
 */
pc_status pc_sink_mem_new(pc_buf *target, pc_sink **out);

/* Flags for pc_sink_file_new. */
#define PC_FILE_NOSYNC      0x1 /* skip fsync (tests, spool prefetch that can be redone) */
#define PC_FILE_NO_REPLACE  0x2 /* commit fails with PC_E_CONFLICT if path exists */
#define PC_FILE_MKDIRS      0x4 /* create missing parent directories */

/*
 * Atomic local file: writes "<path>.pgcask-tmp.<pid>.<n>", and on finish
 * fsyncs it, renames it over `path` and fsyncs the directory. Abort unlinks
 * the temp file. Nothing is visible at `path` until finish succeeded.
 */
pc_status pc_sink_file_new(const char *path, mode_t mode, int flags, pc_sink **out);
/*
 * The temp file's descriptor of a pc_sink_file_new stage while it is open, so
 * a caller can attach extended attributes before the commit makes the file
 * visible; -1 for any other stage or once finished or aborted. Borrowed.
 */
int pc_sink_file_fd(const pc_sink *s);

/* Writes into an already open fd (not closed, not synced). For stdout. */
pc_status pc_sink_fd_new(int fd, pc_sink **out);

/* Counts bytes passing through; read with pc_sink_count_bytes after finish (or any time). */
pc_status pc_sink_count_new(pc_sink *next, pc_sink **out);
uint64_t pc_sink_count_bytes(const pc_sink *counter);

/* Fails with PC_E_CORRUPT once more than `limit` bytes pass (a decompression-bomb guard). */
pc_status pc_sink_limit_new(uint64_t limit, pc_sink *next, pc_sink **out);

/* ---- Sources ---- */

/*
 * Read the file at `path` into s in chunks and finish s. On any failure s is
 * aborted. `bytes` receives the bytes read (may be NULL). Does not free s.
 */
pc_status pc_source_file(const char *path, pc_sink *s, uint64_t *bytes);
/* Write a whole buffer and finish. Does not free s. */
pc_status pc_source_mem(const void *data, size_t len, pc_sink *s);

#endif
