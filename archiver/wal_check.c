/* check-wal-archive and the catalog's WAL index rebuild: both walk the store's WAL listing. */
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

#define SYNC_BATCH 4096

typedef struct sync_ctx {
    cat *c;
    uint64_t segsize;
    cat_wal rows[SYNC_BATCH];
    char *keys[SYNC_BATCH];
    char *names[SYNC_BATCH];
    char *etags[SYNC_BATCH];
    size_t n;
    uint64_t total;
} sync_ctx;

static void sync_reset(sync_ctx *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->keys[i]);
        free(s->names[i]);
        free(s->etags[i]);
    }
    s->n = 0;
}

static pc_status sync_flush(sync_ctx *s)
{
    pc_status st = s->n ? cat_wal_put_many(s->c, s->rows, s->n, s->segsize) : PC_OK;
    s->total += s->n;
    sync_reset(s);
    return st;
}

static pc_status on_sync(const repo_wal_obj *o, void *ud)
{
    sync_ctx *s = ud;
    size_t stem;
    cmp_codec codec = cmp_codec_from_name(o->key, &stem);
    if (o->ext[0] && codec == CMP_NONE)
        return PC_OK;
    size_t i = s->n;
    s->keys[i] = pc_strdup(o->key);
    s->names[i] = pc_strdup(o->wal.name);
    s->etags[i] = o->etag && o->etag[0] ? pc_strdup(o->etag) : NULL;
    if (!s->keys[i] || !s->names[i])
        return PC_E_INTERNAL;
    s->n++;
    s->rows[i] = (cat_wal){.name = s->names[i],
                           .codec = (int)codec,
                           .stored_size = o->size,
                           .etag = s->etags[i],
                           .key = s->keys[i],
                           .stored_at = o->mtime_us};
    return s->n == SYNC_BATCH ? sync_flush(s) : PC_OK;
}

pc_status arc_catalog_sync_wal(arc_ctx *a, arc_sync_result *result)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    cat *c;
    if ((st = cat_open(arc_ctx_catalog_path(a), &c)) != PC_OK)
        return st;
    sync_ctx *s = pc_calloc(1, sizeof *s);
    if (!s) {
        cat_close(c);
        return PC_E_INTERNAL;
    }
    s->c = c;
    s->segsize = arc_ctx_segsize(a);
    /* one transaction: readers see the old index or the new one, never half */
    st = cat_tx_begin(c);
    if (st == PC_OK)
        st = cat_wal_delete_all(c);
    size_t skipped = 0;
    int64_t t0 = pc_now_mono_us();
    if (st == PC_OK)
        st = repo_wal_list(r, arc_ctx_server(a), on_sync, s, &skipped);
    if (st == PC_OK)
        pc_debug("catalog sync: one listing pass of %s/wals/: %llu WAL objects, %zu other keys, "
                 "%.3f s",
                 arc_ctx_server(a), (unsigned long long)(s->total + s->n), skipped,
                 (double)(pc_now_mono_us() - t0) / 1e6);
    if (st == PC_OK)
        st = sync_flush(s);
    if (st == PC_OK)
        st = cat_tx_commit(c);
    else
        cat_tx_rollback(c);
    if (st == PC_OK) {
        char now[32];
        snprintf(now, sizeof now, "%lld", (long long)pc_now_us());
        cat_meta_set(c, "last_sync_at", now);
        pc_info("catalog: %llu WAL files indexed from %s", (unsigned long long)s->total,
                repo_url(r));
        if (result) {
            result->wal_objects = s->total;
            result->skipped = skipped;
        }
    }
    sync_reset(s);
    free(s);
    cat_close(c);
    return st;
}
