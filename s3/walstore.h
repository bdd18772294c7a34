#ifndef PGCASK_S3_WALSTORE_H
#define PGCASK_S3_WALSTORE_H

/*
 * Queries over the WAL part of the barman layout (common/layout.h) in a
 * repository, shared by wal-archive, wal-restore, check-wal-archive and
 * catalog sync.
 */

#include "common/layout.h"
#include "s3/repo.h"

typedef struct repo_wal_obj {
    const char *key;  /* full key relative to the repository */
    const char *ext;  /* suffix after the WAL name: "" or ".gz" ... (not interpreted) */
    pc_wal_name wal;  /* the WAL name the key holds */
    uint64_t size;
    int64_t mtime_us;
    const char *etag;
} repo_wal_obj;

typedef pc_status (*repo_wal_cb)(const repo_wal_obj *o, void *ud);

/*
 * Every stored object of exactly the WAL file `w` (one LIST of
 * "<wal dir><name>"): "X", "X.gz", ... but not X's .partial or .backup
 * siblings (unless w is that sibling). In key order.
 */
pc_status repo_wal_find(repo *r, const char *server, const pc_wal_name *w, repo_wal_cb cb,
                        void *ud);

/*
 * Every WAL object of a server (one paginated listing of "<server>/wals/"
 * without delimiter), in key order. Keys that are not WAL objects of the
 * layout are skipped (and counted in *skipped when not NULL).
 */
pc_status repo_wal_list(repo *r, const char *server, repo_wal_cb cb, void *ud, size_t *skipped);

/*
 * The WAL objects under `prefix` (a key prefix below "<server>/wals/"), in
 * key order, parsed and filtered as repo_wal_list does: one listing for a
 * batch of neighbouring names.
 */
pc_status repo_wal_list_prefix(repo *r, const char *server, const char *prefix, repo_wal_cb cb,
                               void *ud);

#endif
