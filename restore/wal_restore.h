#ifndef PGCASK_RESTORE_WAL_RESTORE_H
#define PGCASK_RESTORE_WAL_RESTORE_H

/*
 * wal-restore: restore_command, with prefetch into a spool directory.
 * Used by the CLI (one call per process) and the sidecar (many calls,
 * several threads, one context). docs/wal.md has the design.
 *
 * - PC_E_NOT_FOUND only when the store answered that the file is not there
 *   (for a .history file that is the normal end of PostgreSQL's timeline
 *   search); every other failure has its own status.
 * - The destination is written atomically; what is written has been
 *   decompressed with its checksum checked and, for a segment, its header
 *   checked against its name.
 * - A spool file is only ever served for exactly the name it was fetched
 *   as; files of other timelines or older than the request are removed.
 */

#include <stdbool.h>
#include "common/config.h"
#include "common/status.h"

typedef struct rst_wal_ctx rst_wal_ctx;

/* Resolve settings (repo, server, max-parallel, wal-segment-size, spool-dir). Borrows cfg. */
pc_status rst_wal_ctx_new(const pc_cfg *cfg, rst_wal_ctx **out);
void rst_wal_ctx_free(rst_wal_ctx *c); /* NULL is a no-op */

typedef struct rst_wal_opts {
    bool no_partial; /* never serve X.partial for X */
    bool rewind;     /* pg_rewind: fetch exactly this file, no prefetch */
    int prefetch;    /* files fetched ahead (0: max-parallel - 1) ; -1: none */
} rst_wal_opts;

typedef struct rst_wal_result {
    bool from_spool;       /* served from the prefetch spool */
    bool served_partial;   /* the file served was X.partial */
    int prefetched;        /* files fetched ahead into the spool */
    bool prefetch_missing; /* a file fetched ahead was not in the archive (end of WAL reached) */
} rst_wal_result;

/* Fetch wal_name (%f) into dest (%p). opts and result may be NULL. */
pc_status rst_wal_restore(rst_wal_ctx *c, const char *wal_name, const char *dest,
                          const rst_wal_opts *opts, rst_wal_result *result);

#endif
