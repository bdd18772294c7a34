/* check-wal-archive and the catalog's WAL index rebuild: both walk the store's WAL listing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver.h"
#include "archiver/archiver_int.h"
#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "compress/compress.h"
#include "s3/walstore.h"

typedef struct check_ctx {
    uint32_t timeline;
    char first[PC_WAL_NAME_MAX];
    uint64_t found;
} check_ctx;

static pc_status on_check(const repo_wal_obj *o, void *ud)
{
    check_ctx *k = ud;
    size_t stem;
    if (o->ext[0] && cmp_codec_from_name(o->key, &stem) == CMP_NONE)
        return PC_OK; /* barman's listing ignores unknown suffixes too */
    if (k->timeline && o->wal.tli < k->timeline)
        return PC_OK;
    if (!k->found++)
        snprintf(k->first, sizeof k->first, "%s", o->wal.name);
    return PC_OK;
}

pc_status arc_check_wal_archive(arc_ctx *a, uint32_t timeline)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    /* reachability first, so an unreachable store is PC_E_CONNECT, as barman's exit 2 */
    st = repo_check(r);
    if (st == PC_E_NO_BUCKET) {
        pc_err_clear();
        st = repo_create_bucket(r);
        if (st == PC_OK)
            pc_info("created the bucket of %s", repo_url(r));
    }
    if (st)
        return st;
    check_ctx k = {.timeline = timeline};
    st = repo_wal_list(r, arc_ctx_server(a), on_check, &k, NULL);
    if (st)
        return st;
    if (k.found) {
        if (timeline)
            pc_err(PC_E_NOT_EMPTY,
                   "WAL archive check failed for server %s: WAL files of timeline %u or later "
                   "are already archived (%s, %llu in all)",
                   arc_ctx_server(a), timeline, k.first, (unsigned long long)k.found);
        else
            pc_err(PC_E_NOT_EMPTY,
                   "WAL archive check failed for server %s: Expected empty archive (found %s "
                   "and %llu WAL files in all)",
                   arc_ctx_server(a), k.first, (unsigned long long)k.found);
        pc_err_hint("A new or restored cluster must archive under its own server name: give it "
                    "another --server, or remove the old archive if it is really unused.");
        return PC_E_NOT_EMPTY;
    }
    return PC_OK;
}

/* ---- catalog sync ---- */

/*
 * The listing is read into memory first (about 150 bytes per WAL object)
 * and written in one transaction afterwards: the catalog's write lock is
 * held for the inserts only, not for a listing of the store that can take
 * minutes, so archive_command calls are not kept waiting.
 */
#define SYNC_BATCH 4096

typedef struct sync_ctx {
    cat_wal *rows;
    size_t n, alloc;
} sync_ctx;

static void sync_free(sync_ctx *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)(uintptr_t)s->rows[i].key);
        free((char *)(uintptr_t)s->rows[i].name);
        free((char *)(uintptr_t)s->rows[i].etag);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static pc_status on_sync(const repo_wal_obj *o, void *ud)
{
    sync_ctx *s = ud;
    size_t stem;
    cmp_codec codec = cmp_codec_from_name(o->key, &stem);
    if (o->ext[0] && codec == CMP_NONE)
        return PC_OK;
    if (s->n == s->alloc) {
        size_t na = s->alloc ? s->alloc * 2 : 1024;
        cat_wal *nr = pc_realloc(s->rows, na * sizeof *nr);
        if (!nr)
            return PC_E_INTERNAL;
        s->rows = nr;
        s->alloc = na;
    }
    char *key = pc_strdup(o->key), *name = pc_strdup(o->wal.name);
    char *etag = o->etag && o->etag[0] ? pc_strdup(o->etag) : NULL;
    if (!key || !name) {
        free(key);
        free(name);
        free(etag);
        return PC_E_INTERNAL;
    }
    s->rows[s->n++] = (cat_wal){.name = name,
                                .codec = (int)codec,
                                .stored_size = o->size,
                                .etag = etag,
                                .key = key,
                                .stored_at = o->mtime_us};
    return PC_OK;
}

pc_status arc_catalog_sync_wal(arc_ctx *a, arc_sync_result *result)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    sync_ctx s = {0};
    size_t skipped = 0;
    int64_t t0 = pc_now_mono_us();
    st = repo_wal_list(r, arc_ctx_server(a), on_sync, &s, &skipped);
    if (st) {
        sync_free(&s);
        return st;
    }
    pc_debug("catalog sync: one listing pass of %s/wals/: %zu WAL objects, %zu other keys, %.3f s",
             arc_ctx_server(a), s.n, skipped, (double)(pc_now_mono_us() - t0) / 1e6);
    cat *c;
    if ((st = cat_open(arc_ctx_catalog_path(a), &c)) != PC_OK) {
        sync_free(&s);
        return st;
    }
    /* one transaction: readers see the old index or the new one, never half */
    uint64_t segsize = arc_ctx_segsize(a);
    st = cat_tx_begin(c);
    if (st == PC_OK)
        st = cat_wal_delete_all(c);
    for (size_t i = 0; st == PC_OK && i < s.n; i += SYNC_BATCH)
        st = cat_wal_put_many(c, s.rows + i, s.n - i < SYNC_BATCH ? s.n - i : SYNC_BATCH, segsize);
    if (st == PC_OK)
        st = cat_tx_commit(c);
    else
        cat_tx_rollback(c);
    if (st == PC_OK) {
        char now[32];
        snprintf(now, sizeof now, "%lld", (long long)pc_now_us());
        cat_meta_set(c, "last_sync_at", now);
        pc_info("catalog: %zu WAL files indexed from %s", s.n, repo_url(r));
        if (result) {
            result->wal_objects = s.n;
            result->skipped = skipped;
        }
    }
    sync_free(&s);
    cat_close(c);
    return st;
}
