/*
 * The backups of a server in the store (one listing of "<server>/base/",
 * then backup.info and annotations/keep read in parallel), their copy in
 * the catalog (`catalog sync`), and backup-list's source: the catalog, or
 * the store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver_int.h"
#include "archiver/ops_int.h"
#include "catalog/manifest.h"
#include "catalog/store.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/timeutil.h"
#include "compress/compress.h"

#define KEEP_MAX 4096

const char *ops_keep_name(ops_keep k)
{
    switch (k) {
    case OPS_KEEP_NONE:
        return NULL;
    case OPS_KEEP_FULL:
        return "full";
    case OPS_KEEP_STANDALONE:
        return "standalone";
    }
    return NULL;
}

ops_keep ops_keep_parse(const char *text, size_t len)
{
    /* barman: readline() of the object; "standalone" exactly, anything else is full (safety) */
    const char *nl = memchr(text, '\n', len);
    size_t n = nl ? (size_t)(nl - text) + 1 : len;
    if (n == 0)
        return OPS_KEEP_NONE;
    if (n == 10 && memcmp(text, "standalone", 10) == 0)
        return OPS_KEEP_STANDALONE;
    return OPS_KEEP_FULL;
}

pc_status ops_open_catalog(arc_ctx *a, cat **out)
{
    return cat_open(arc_ctx_catalog_path(a), out);
}

/* ---- the scan ---- */

void ops_scan_free(ops_scan *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ops_sb *b = &s->v[i];
        for (size_t k = 0; k < b->nobjs; k++)
            free(b->objs[k].name);
        free(b->objs);
        free(b->id);
        free(b->info_etag);
        free(b->info_text);
        free(b->info_error);
        free(b->mf_parent);
        cat_binfo_free(&b->info);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

const ops_sb *ops_scan_find(const ops_scan *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            return &s->v[i];
    return NULL;
}

typedef struct scan_list {
    ops_scan *s;
    size_t prefix_len;
} scan_list;

static ops_sb *scan_backup(ops_scan *s, const char *id, size_t idlen)
{
    /* a sorted listing gives each folder's keys together: the last one is the usual hit */
    for (size_t k = s->n; k-- > 0;)
        if (strlen(s->v[k].id) == idlen && memcmp(s->v[k].id, id, idlen) == 0)
            return &s->v[k];
    if (s->n == s->alloc) {
        size_t na = s->alloc ? 2 * s->alloc : 64;
        ops_sb *nv = pc_realloc(s->v, na * sizeof *nv);
        if (!nv)
            return NULL;
        s->v = nv;
        s->alloc = na;
    }
    ops_sb *b = &s->v[s->n];
    memset(b, 0, sizeof *b);
    cat_binfo_init(&b->info);
    if (!(b->id = pc_strndup(id, idlen)))
        return NULL;
    s->n++;
    return b;
}

static pc_status on_base_key(const repo_entry *e, void *ud)
{
    scan_list *l = ud;
    if (e->is_prefix)
        return PC_OK;
    const char *id = e->key + l->prefix_len;
    const char *slash = strchr(id, '/');
    if (!slash || slash == id || !slash[1])
        return PC_OK; /* an object directly under base/, or a folder marker */
    const char *name = slash + 1;
    ops_sb *b = scan_backup(l->s, id, (size_t)(slash - id));
    if (!b)
        return PC_E_INTERNAL;
    if (b->nobjs == b->aobjs) {
        size_t na = b->aobjs ? 2 * b->aobjs : 8;
        ops_obj *nv = pc_realloc(b->objs, na * sizeof *nv);
        if (!nv)
            return PC_E_INTERNAL;
        b->objs = nv;
        b->aobjs = na;
    }
    ops_obj *o = &b->objs[b->nobjs];
    *o = (ops_obj){.name = pc_strdup(name), .size = e->size, .mtime_us = e->mtime_us};
    if (!o->name)
        return PC_E_INTERNAL;
    b->nobjs++;
    if (strcmp(name, OPS_INFO_FILE) == 0) {
        b->has_info = true;
        free(b->info_etag);
        b->info_etag = e->etag && e->etag[0] ? pc_strdup(e->etag) : NULL;
    } else if (strcmp(name, OPS_KEEP_FILE) == 0) {
        b->has_keep = true;
    } else if (strncmp(name, "annotations/", 12) != 0) {
        if (strcmp(name, CAT_MF_NAME) == 0)
            b->has_manifest = true;
        b->stored_size += e->size;
    }
    return PC_OK;
}

const char *ops_sb_parent(const ops_sb *b)
{
    if (b->info_ok && b->info.parent_backup_id && *b->info.parent_backup_id)
        return b->info.parent_backup_id;
    return b->mf_parent;
}

/* The manifest's first line only: the reader stops the download after it. */
typedef struct mf_head {
    ops_sb *b;
    bool seen;
} mf_head;

static pc_status on_mf_header(void *ud, const cat_mf_header *h)
{
    mf_head *m = ud;
    snprintf(m->b->mf_type, sizeof m->b->mf_type, "%s", h->type ? h->type : "");
    if (h->parent_id && *h->parent_id && !(m->b->mf_parent = pc_strdup(h->parent_id)))
        return PC_E_INTERNAL;
    m->seen = true;
    return PC_E_INTERRUPTED; /* enough: stop reading */
}

static pc_status read_mf_header(repo *r, const char *server, ops_sb *b)
{
    static const cat_mf_handler h = {.header = on_mf_header};
    mf_head m = {.b = b};
    char *key = pc_layout_backup_key(server, b->id, CAT_MF_NAME);
    pc_sink *reader = NULL, *head = NULL;
    pc_status st = key ? cat_mf_reader_new(&h, &m, &reader) : PC_E_INTERNAL;
    if (st == PC_OK)
        st = cmp_decompress_new(CMP_ZSTD, (uint64_t)1 << 30, reader, &head); /* owns reader */
    if (st == PC_OK)
        st = repo_get(r, key, 0, 0, head, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    pc_sink_free(head);
    free(key);
    if (m.seen) {
        pc_err_clear();
        b->mf_read = true;
        return PC_OK;
    }
    if (st == PC_E_CORRUPT || st == PC_E_NOT_FOUND || st == PC_OK) {
        /* no usable header: the audit reports the manifest; retention must not guess */
        pc_err_clear();
        return PC_OK;
    }
    return st;
}

typedef struct fetch_task {
    repo *r;
    const char *server;
    ops_sb *b;
    bool want_info;
    bool want_header;
    pc_status st;
    pc_error err;
} fetch_task;

static pc_status fetch_one(void *arg)
{
    fetch_task *t = arg;
    ops_sb *b = t->b;
    pc_status st = PC_OK;
    if (t->want_info) {
        char *key = pc_layout_backup_key(t->server, b->id, OPS_INFO_FILE);
        pc_buf text;
        st = key ? repo_get_buf(t->r, key, CAT_BINFO_MAX_SIZE, &text) : PC_E_INTERNAL;
        if (st == PC_E_NOT_FOUND) {
            /* deleted since the listing: as if never listed */
            pc_err_clear();
            b->has_info = false;
            st = PC_OK;
        } else if (st == PC_OK) {
            size_t len;
            b->info_text = (char *)pc_buf_steal(&text, &len);
            pc_status ps =
                b->info_text ? cat_binfo_parse(b->info_text, len, &b->info) : PC_E_INTERNAL;
            if (ps == PC_OK) {
                b->info_ok = true;
            } else if (ps == PC_E_CORRUPT) {
                b->info_error = pc_strdup(pc_err_get()->message);
                pc_err_clear();
            } else {
                st = ps;
            }
        } else if (st == PC_E_CORRUPT) {
            /* bigger than any backup.info */
            b->info_error = pc_strdup(pc_err_get()->message);
            pc_err_clear();
            st = PC_OK;
        }
        free(key);
    }
    if (st == PC_OK && t->want_header)
        st = read_mf_header(t->r, t->server, b);
    if (st == PC_OK && b->has_keep) {
        char *key = pc_layout_backup_key(t->server, b->id, OPS_KEEP_FILE);
        pc_buf text;
        st = key ? repo_get_buf(t->r, key, KEEP_MAX, &text) : PC_E_INTERNAL;
        if (st == PC_OK) {
            b->keep = ops_keep_parse((const char *)text.data, text.len);
            pc_buf_free(&text);
        } else if (st == PC_E_NOT_FOUND) {
            pc_err_clear();
            b->has_keep = false;
            st = PC_OK;
        } else if (st == PC_E_CORRUPT) {
            b->keep = OPS_KEEP_FULL; /* a large annotation is still an annotation: keep it */
            pc_err_clear();
            st = PC_OK;
        }
        free(key);
    }
    t->st = st;
    if (st)
        pc_err_save(&t->err);
    return PC_OK;
}

/* Take backup.info from the catalog when the listing's ETag is the one cached. */
static void from_cache(cat *c, ops_sb *b)
{
    if (!c || !b->info_etag || !pc_layout_is_backup_id(b->id))
        return;
    cat_backup row;
    if (cat_backup_get(c, b->id, &row) != PC_OK) {
        pc_err_clear();
        return;
    }
    bool same = row.info_etag && strcmp(row.info_etag, b->info_etag) == 0;
    cat_backup_clear(&row);
    if (!same)
        return;
    char key[64], *text = NULL;
    snprintf(key, sizeof key, "%s%s", OPS_META_INFO_PREFIX, b->id);
    if (cat_meta_get(c, key, &text) != PC_OK) {
        pc_err_clear();
        return;
    }
    if (cat_binfo_parse(text, strlen(text), &b->info) == PC_OK) {
        b->info_text = text;
        b->info_ok = b->info_cached = true;
    } else {
        pc_err_clear();
        free(text);
    }
}

static int cmp_sb(const void *a, const void *b)
{
    return strcmp(((const ops_sb *)a)->id, ((const ops_sb *)b)->id);
}

pc_status ops_scan_store(repo *r, const char *server, int jobs, cat *cache, bool headers,
                         ops_scan *out)
{
    memset(out, 0, sizeof *out);
    char *prefix = pc_layout_base_prefix(server);
    if (!prefix)
        return PC_E_INTERNAL;
    scan_list l = {.s = out, .prefix_len = strlen(prefix)};
    int64_t t0 = pc_now_mono_us();
    pc_status st = repo_list(r, prefix, NULL, on_base_key, &l);
    if (st == PC_OK)
        pc_debug("one listing pass of %s: %zu backup folders, %.3f s", prefix, out->n,
                 (double)(pc_now_mono_us() - t0) / 1e6);
    free(prefix);
    if (st == PC_OK && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_sb);
    fetch_task *tasks = NULL;
    size_t ntasks = 0;
    if (st == PC_OK && out->n > 0 && !(tasks = pc_calloc(out->n, sizeof *tasks)))
        st = PC_E_INTERNAL;
    for (size_t i = 0; st == PC_OK && i < out->n; i++) {
        ops_sb *b = &out->v[i];
        if (b->has_info)
            from_cache(cache, b);
        bool want = b->has_info && !b->info_ok;
        bool head = headers && b->has_manifest;
        if (want || b->has_keep || head)
            tasks[ntasks++] = (fetch_task){
                .r = r, .server = server, .b = b, .want_info = want, .want_header = head};
    }
    if (st == PC_OK && ntasks > 0) {
        pc_pool *pool = NULL;
        size_t threads = jobs < 1 ? 1 : (size_t)jobs;
        if (threads > ntasks)
            threads = ntasks;
        st = pc_pool_new(threads, ntasks, &pool);
        for (size_t i = 0; st == PC_OK && i < ntasks; i++)
            st = pc_pool_submit(pool, fetch_one, &tasks[i]);
        if (pool) {
            pc_status w = pc_pool_wait(pool);
            st = st ? st : w;
            pc_pool_free(pool);
        }
        for (size_t i = 0; st == PC_OK && i < ntasks; i++) {
            if (tasks[i].st) {
                pc_err_restore(&tasks[i].err);
                st = tasks[i].st;
            }
        }
    }
    free(tasks);
    for (size_t i = 0; st == PC_OK && i < out->n; i++) {
        ops_sb *b = &out->v[i];
        if (b->has_info && !b->info_ok) {
            out->unreadable++;
            pc_warn("skipping backup \"%s\" of server \"%s\": %s", b->id, server,
                    b->info_error ? b->info_error : "unreadable backup.info");
        }
    }
    if (st)
        ops_scan_free(out);
    return st;
}

/* ---- the catalog's copy ---- */

static cat_backup_status row_status(cat_binfo_status s)
{
    switch (s) {
    case CAT_BINFO_DONE:
        return CAT_STATUS_DONE;
    case CAT_BINFO_FAILED:
        return CAT_STATUS_FAILED;
    case CAT_BINFO_WAITING_FOR_WALS:
        return CAT_STATUS_WAITING_FOR_WALS;
    case CAT_BINFO_EMPTY:
    case CAT_BINFO_STARTED:
    case CAT_BINFO_SYNCING:
        return CAT_STATUS_STARTED;
    }
    return CAT_STATUS_STARTED;
}

static pc_lsn lsn_of(const char *text)
{
    pc_lsn v = PC_LSN_INVALID;
    if (text && pc_lsn_parse(text, &v) != PC_OK) {
        pc_err_clear();
        v = PC_LSN_INVALID;
    }
    return v;
}

void ops_row_from_info(const char *id, const cat_binfo *b, ops_keep keep, bool has_manifest,
                       uint64_t stored_size, const char *etag, ops_row *out)
{
    memset(out, 0, sizeof *out);
    if (b->systemid)
        snprintf(out->sysid, sizeof out->sysid, "%" PRIu64, b->systemid);
    bool parent = b->parent_backup_id && pc_layout_is_backup_id(b->parent_backup_id);
    out->row = (cat_backup){
        .id = id,
        .name = b->backup_name,
        .type = parent ? CAT_BACKUP_INCR : CAT_BACKUP_FULL,
        .parent_id = parent ? b->parent_backup_id : NULL,
        .status = row_status(b->status),
        .begin_wal = b->begin_wal,
        .end_wal = b->end_wal,
        .begin_lsn = lsn_of(b->begin_xlog),
        .end_lsn = lsn_of(b->end_xlog),
        .begin_offset = b->begin_offset == CAT_BINFO_NONE ? 0 : (uint64_t)b->begin_offset,
        .end_offset = b->end_offset == CAT_BINFO_NONE ? 0 : (uint64_t)b->end_offset,
        .timeline = b->timeline == CAT_BINFO_NONE ? 0 : (uint32_t)b->timeline,
        .begin_time = b->begin_time == CAT_BINFO_NONE ? 0 : b->begin_time,
        .end_time = b->end_time == CAT_BINFO_NONE ? 0 : b->end_time,
        .systemid = b->systemid ? out->sysid : NULL,
        .pg_version = b->version == CAT_BINFO_NONE ? 0 : (int)b->version,
        .size = b->size == CAT_BINFO_NONE || b->size < 0 ? 0 : (uint64_t)b->size,
        .stored_size = stored_size,
        .codec = CMP_NONE,
        .keep = ops_keep_name(keep),
        .error = b->error,
        .has_manifest = has_manifest,
        .info_etag = etag,
    };
}

/* The codec of a backup from the name of its first archive. */
static int codec_of_objects(const ops_sb *b)
{
    for (size_t i = 0; i < b->nobjs; i++) {
        const char *n = b->objs[i].name;
        if (strncmp(n, "data", 4) == 0 && strstr(n, ".tar")) {
            size_t stem;
            return (int)cmp_codec_from_name(n, &stem);
        }
    }
    return CMP_NONE;
}

typedef struct id_vec {
    char (*v)[32];
    cat_backup_status *status;
    size_t n, alloc;
} id_vec;

static pc_status collect_ids(void *arg, const cat_backup *b)
{
    id_vec *l = arg;
    if (l->n == l->alloc) {
        size_t na = l->alloc ? 2 * l->alloc : 64;
        void *nv = pc_realloc(l->v, na * sizeof *l->v);
        if (!nv)
            return PC_E_INTERNAL;
        l->v = nv;
        void *ns = pc_realloc(l->status, na * sizeof *l->status);
        if (!ns)
            return PC_E_INTERNAL;
        l->status = ns;
        l->alloc = na;
    }
    snprintf(l->v[l->n], sizeof l->v[0], "%s", b->id);
    l->status[l->n] = b->status;
    l->n++;
    return PC_OK;
}

static void id_vec_free(id_vec *l)
{
    free(l->v);
    free(l->status);
    memset(l, 0, sizeof *l);
}

static pc_status put_scanned(cat *c, const ops_sb *b)
{
    ops_row r;
    ops_row_from_info(b->id, &b->info, b->keep, b->has_manifest, b->stored_size, b->info_etag, &r);
    r.row.codec = codec_of_objects(b);
    cat_backup old = {0};
    if (b->mf_read) {
        /* the manifest knows the type and the parent */
        cat_backup_type t;
        if (cat_backup_type_parse(b->mf_type, &t) == PC_OK)
            r.row.type = t;
        pc_err_clear();
        if (b->mf_parent && pc_layout_is_backup_id(b->mf_parent))
            r.row.parent_id = b->mf_parent;
    } else if (!r.row.parent_id && cat_backup_get(c, b->id, &old) == PC_OK) {
        /* a listing without the manifests: what the catalog knew stays */
        r.row.type = old.type;
        r.row.parent_id = old.parent_id;
    }
    pc_err_clear();
    pc_status st = cat_backup_put(c, &r.row);
    if (st == PC_E_USAGE) {
        /* a field the catalog rejects (a malformed parent id): keep the row without it */
        pc_warn("backup \"%s\": %s; recorded without its parent", b->id, pc_err_get()->message);
        pc_err_clear();
        r.row.parent_id = NULL;
        r.row.type = CAT_BACKUP_FULL;
        st = cat_backup_put(c, &r.row);
    }
    if (st == PC_OK) {
        char key[64];
        snprintf(key, sizeof key, "%s%s", OPS_META_INFO_PREFIX, b->id);
        st = cat_meta_set(c, key, b->info_text);
    }
    cat_backup_clear(&old);
    return st;
}

pc_status ops_scan_to_catalog(cat *c, const ops_scan *s)
{
    id_vec old = {0};
    pc_status st = cat_tx_begin(c);
    if (st)
        return st;
    st = cat_backup_list(c, collect_ids, &old);
    for (size_t i = 0; st == PC_OK && i < old.n; i++) {
        const ops_sb *b = ops_scan_find(s, old.v[i]);
        if (b && b->has_info)
            continue;
        /* a STARTED row without backup.info is a backup in progress (or dead: backup marks it) */
        if (!b && old.status[i] == CAT_STATUS_STARTED)
            continue;
        if (b && !b->has_info && old.status[i] == CAT_STATUS_STARTED)
            continue;
        st = cat_backup_delete(c, old.v[i]);
        if (st == PC_E_NOT_FOUND) {
            pc_err_clear();
            st = PC_OK;
        }
        char key[64];
        snprintf(key, sizeof key, "%s%s", OPS_META_INFO_PREFIX, old.v[i]);
        if (st == PC_OK)
            st = cat_meta_delete(c, key);
    }
    for (size_t i = 0; st == PC_OK && i < s->n; i++) {
        const ops_sb *b = &s->v[i];
        if (!b->info_ok)
            continue; /* unreadable: whatever the catalog had stays */
        if (!pc_layout_is_backup_id(b->id)) {
            pc_warn("folder \"%s\" is not named like a backup id: not recorded in the catalog",
                    b->id);
            continue;
        }
        st = put_scanned(c, b);
    }
    if (st == PC_OK) {
        char now[32];
        snprintf(now, sizeof now, "%lld", (long long)pc_now_us());
        st = cat_meta_set(c, OPS_META_BACKUP_SYNC, now);
    }
    if (st == PC_OK)
        st = cat_tx_commit(c);
    else
        cat_tx_rollback(c);
    id_vec_free(&old);
    return st;
}

pc_status arc_catalog_sync_backups(arc_ctx *a, ops_sync_result *result)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    cat *c;
    if ((st = ops_open_catalog(a, &c)) != PC_OK)
        return st;
    ops_scan s;
    /* a rebuild reads every backup.info again: no cache */
    st = ops_scan_store(r, arc_ctx_server(a), OPS_SCAN_JOBS, NULL, true, &s);
    if (st == PC_OK) {
        st = ops_scan_to_catalog(c, &s);
        size_t readable = 0;
        for (size_t i = 0; i < s.n; i++)
            readable += s.v[i].info_ok;
        if (st == PC_OK && result) {
            result->backups = readable;
            result->unreadable = s.unreadable;
        }
        pc_info("catalog: %zu backups indexed from %s", readable, repo_url(r));
        ops_scan_free(&s);
    }
    cat_close(c);
    return st;
}

/* ---- lists ---- */

void ops_list_free(ops_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        cat_binfo_free(&l->v[i].info);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static pc_status list_add(ops_list *l, const char *id, const char *text, ops_keep keep,
                          bool has_manifest)
{
    void *nv = pc_realloc(l->v, (l->n + 1) * sizeof *l->v);
    if (!nv)
        return PC_E_INTERNAL;
    l->v = nv;
    ops_entry *e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->keep = keep;
    e->has_manifest = has_manifest;
    pc_status st = cat_binfo_parse(text, strlen(text), &e->info);
    if (st == PC_OK)
        l->n++;
    return st;
}

pc_status ops_list_from_scan(const ops_scan *s, ops_list *out)
{
    memset(out, 0, sizeof *out);
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < s->n; i++) {
        const ops_sb *b = &s->v[i];
        if (b->info_ok && strlen(b->id) < sizeof out->v[0].id)
            st = list_add(out, b->id, b->info_text, b->keep, b->has_manifest);
    }
    out->refreshed = true;
    if (st)
        ops_list_free(out);
    return st;
}

typedef struct row_vec {
    struct row_info {
        char id[16];
        ops_keep keep;
        bool has_manifest;
    } * v;
    size_t n, alloc;
} row_vec;

static pc_status collect_rows(void *arg, const cat_backup *b)
{
    row_vec *l = arg;
    if (l->n == l->alloc) {
        size_t na = l->alloc ? 2 * l->alloc : 64;
        void *nv = pc_realloc(l->v, na * sizeof *l->v);
        if (!nv)
            return PC_E_INTERNAL;
        l->v = nv;
        l->alloc = na;
    }
    struct row_info *r = &l->v[l->n++];
    snprintf(r->id, sizeof r->id, "%s", b->id);
    r->keep = !b->keep                             ? OPS_KEEP_NONE
              : strcmp(b->keep, "standalone") == 0 ? OPS_KEEP_STANDALONE
                                                   : OPS_KEEP_FULL;
    r->has_manifest = b->has_manifest;
    return PC_OK;
}

/* A row whose backup.info the catalog does not hold yet: read it once and cache it. */
static pc_status fetch_uncached(arc_ctx *a, cat *c, const char *id, char **text)
{
    *text = NULL;
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    char *key = pc_layout_backup_key(arc_ctx_server(a), id, OPS_INFO_FILE);
    if (!key)
        return PC_E_INTERNAL;
    repo_obj info;
    pc_buf buf;
    pc_buf_init(&buf, CAT_BINFO_MAX_SIZE);
    pc_sink *mem = NULL;
    st = pc_sink_mem_new(&buf, &mem);
    if (st == PC_OK)
        st = repo_get(r, key, 0, 0, mem, &info);
    if (st == PC_OK)
        st = pc_sink_finish(mem);
    pc_sink_free(mem);
    free(key);
    if (st) {
        pc_buf_free(&buf);
        return st;
    }
    size_t len;
    *text = (char *)pc_buf_steal(&buf, &len);
    if (!*text)
        return PC_E_INTERNAL;
    cat_binfo b;
    st = cat_binfo_parse(*text, len, &b);
    if (st == PC_OK) {
        cat_backup old;
        pc_status gs = cat_backup_get(c, id, &old);
        ops_row row;
        ops_row_from_info(id, &b, OPS_KEEP_NONE, false, 0, info.etag[0] ? info.etag : NULL, &row);
        if (gs == PC_OK) {
            /* what the listing knew stays: keep, manifest, stored size, codec */
            row.row.keep = old.keep;
            row.row.has_manifest = old.has_manifest;
            row.row.stored_size = old.stored_size;
            row.row.codec = old.codec;
            row.row.type = old.type;
            row.row.parent_id = old.parent_id;
        }
        pc_err_clear();
        char mkey[64];
        snprintf(mkey, sizeof mkey, "%s%s", OPS_META_INFO_PREFIX, id);
        pc_status ws = cat_backup_put(c, &row.row);
        if (ws == PC_OK)
            ws = cat_meta_set(c, mkey, *text);
        if (ws) {
            pc_warn("could not cache backup.info of %s in the catalog: %s", id,
                    pc_err_get()->message);
            pc_err_clear();
        }
        cat_backup_clear(&old);
        cat_binfo_free(&b);
    }
    if (st) {
        free(*text);
        *text = NULL;
    }
    return st;
}

static pc_status list_catalog(arc_ctx *a, cat *c, ops_list *out)
{
    row_vec rows = {0};
    pc_status st = cat_backup_list(c, collect_rows, &rows);
    for (size_t i = 0; st == PC_OK && i < rows.n; i++) {
        char key[64], *text = NULL;
        snprintf(key, sizeof key, "%s%s", OPS_META_INFO_PREFIX, rows.v[i].id);
        pc_status gs = cat_meta_get(c, key, &text);
        if (gs == PC_E_NOT_FOUND) {
            pc_err_clear();
            gs = fetch_uncached(a, c, rows.v[i].id, &text);
            if (gs == PC_E_NOT_FOUND || gs == PC_E_CORRUPT) {
                /* in progress, or gone from the store: not a backup to list */
                pc_debug("backup %s: %s", rows.v[i].id, pc_err_get()->message);
                pc_err_clear();
                continue;
            }
        }
        if (gs) {
            st = gs;
            break;
        }
        gs = list_add(out, rows.v[i].id, text, rows.v[i].keep, rows.v[i].has_manifest);
        free(text);
        if (gs == PC_E_CORRUPT) {
            pc_warn("backup %s: the catalog's copy of backup.info is damaged (run `pgcask "
                    "catalog sync`): %s",
                    rows.v[i].id, pc_err_get()->message);
            pc_err_clear();
            gs = PC_OK;
        }
        st = gs;
    }
    free(rows.v);
    return st;
}

pc_status ops_list_backups(arc_ctx *a, ops_source src, ops_list *out)
{
    memset(out, 0, sizeof *out);
    cat *c = NULL;
    pc_status cs = ops_open_catalog(a, &c);
    if (cs && src == OPS_FROM_CATALOG)
        return cs;
    if (cs) {
        /* the store answers; a catalog that cannot be opened only costs the cache */
        pc_warn("catalog %s: %s", arc_ctx_catalog_path(a), pc_err_get()->message);
        pc_err_clear();
        c = NULL;
    }
    pc_status st = PC_OK;
    if (src == OPS_FROM_CATALOG) {
        char *synced = NULL;
        st = cat_meta_get(c, OPS_META_BACKUP_SYNC, &synced);
        free(synced);
        if (st == PC_OK) {
            st = list_catalog(a, c, out);
            if (st)
                ops_list_free(out);
            cat_close(c);
            return st;
        }
        if (st != PC_E_NOT_FOUND) {
            cat_close(c);
            return st;
        }
        pc_err_clear();
        pc_info("the catalog has not seen the backups of server %s yet: reading the store",
                arc_ctx_server(a));
    }
    repo *r;
    st = arc_ctx_repo(a, &r);
    ops_scan s;
    if (st == PC_OK)
        st = ops_scan_store(r, arc_ctx_server(a), OPS_SCAN_JOBS, c, false, &s);
    if (st == PC_OK) {
        st = ops_list_from_scan(&s, out);
        if (c) {
            pc_status ws = ops_scan_to_catalog(c, &s);
            if (ws) {
                pc_warn("could not update the catalog %s: %s", cat_path(c), pc_err_get()->message);
                pc_err_clear();
            }
        }
        ops_scan_free(&s);
    }
    cat_close(c);
    return st;
}

pc_status ops_list_find(const ops_list *l, const char *server, const char *ref,
                        const ops_entry **out)
{
    *out = NULL;
    /* catalog/store.h's selection rules over a borrowed view of the list */
    cat_store view = {.n = l->n};
    if (l->n && !(view.v = pc_calloc(l->n, sizeof *view.v)))
        return PC_E_INTERNAL;
    for (size_t i = 0; i < l->n; i++) {
        view.v[i].id = (char *)(uintptr_t)l->v[i].id;
        view.v[i].info = l->v[i].info;
    }
    const cat_store_backup *found = NULL;
    cat_sel none = {0};
    pc_status st = cat_store_select(&view, server, ref, &none, &found);
    if (st == PC_OK)
        *out = &l->v[found - view.v];
    free(view.v);
    return st;
}
