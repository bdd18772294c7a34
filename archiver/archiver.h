#ifndef PGCASK_ARCHIVER_ARCHIVER_H
#define PGCASK_ARCHIVER_ARCHIVER_H

/*
 * WAL archiving (archive_command), the empty-archive check, and the
 * catalog rebuild from a listing. Used by the CLI (one call per process)
 * and by the sidecar (many calls, several threads, one context).
 *
 * Guarantees (docs/wal.md):
 * - arc_wal_archive returns PC_OK only after the store confirmed the
 *   object of the requested file (or the file is already stored with the
 *   same content); the catalog records a file only after that.
 * - An object already stored under the same WAL name is never overwritten:
 *   same content -> PC_OK with a warning, different content -> PC_E_CONFLICT.
 * - Concurrent archivers (processes or threads) upload each file once: a
 *   claim in the catalog serialises them.
 */

#include <stdbool.h>
#include <stdint.h>
#include "common/config.h"
#include "common/status.h"

typedef struct arc_ctx arc_ctx;

/*
 * Resolve the settings (repo, server, compression, compression-level,
 * max-parallel, wal-segment-size, history-tag, state-dir/catalog) once.
 * Nothing is contacted yet. The context borrows cfg (it must outlive it).
 * Thread-safe after creation: calls from several threads share the
 * repository handle and open their own catalog handles.
 */
pc_status arc_ctx_new(const pc_cfg *cfg, arc_ctx **out);
void arc_ctx_free(arc_ctx *a); /* NULL is a no-op */

/* The resolved server name and catalog path (owned by the context). */
const char *arc_ctx_server(const arc_ctx *a);
const char *arc_ctx_catalog_path(const arc_ctx *a);

typedef struct arc_wal_result {
    bool already;     /* the requested file was already archived (fast path or same content) */
    int batch;        /* files uploaded by this call, the requested one included */
    int batch_failed; /* extra .ready files that failed (they are retried when asked for) */
} arc_wal_result;

/*
 * Archive the WAL file at wal_path (archive_command's %p: absolute, or
 * relative to the working directory) and, when max-parallel > 1, up to
 * max-parallel - 1 other files marked .ready in the archive_status folder
 * next to it. result may be NULL.
 */
pc_status arc_wal_archive(arc_ctx *a, const char *wal_path, arc_wal_result *result);

/*
 * barman-cloud-check-wal-archive: create the bucket when missing, then
 * PC_E_NOT_EMPTY when the server's archive holds any WAL file (timeline 0)
 * or any WAL file of a timeline >= `timeline`.
 */
pc_status arc_check_wal_archive(arc_ctx *a, uint32_t timeline);

/* Rebuild the catalog's WAL index from one listing of the repository. */
typedef struct arc_sync_result {
    uint64_t wal_objects;
    uint64_t skipped;
} arc_sync_result;
pc_status arc_catalog_sync_wal(arc_ctx *a, arc_sync_result *result);

#endif
