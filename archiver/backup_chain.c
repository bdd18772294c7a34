/*
 * The parent of a differential or incremental backup (archiver/backup_int.h):
 * chosen from the backups the repository holds (the store is the source of
 * truth, the catalog only a cache), with its pgcask.manifest, and checked:
 * every backup that holds the bytes of one of its files must be DONE and
 * store the archive named, or the new backup would reference bytes that are
 * gone. Any doubt makes the backup a full one (the caller warns).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/backup_int.h"
#include "catalog/store.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"

#define MANIFEST_MAX (1ULL << 30)

pc_status bk_parent_pick(const bk_cand *v, size_t n, cat_backup_type want, uint64_t systemid,
                         uint32_t timeline, int pg_major, bk_type_fn type_of, void *ud, size_t *out)
{
    for (size_t k = n; k-- > 0;) {
        const bk_cand *c = &v[k];
        if (!c->done || c->systemid != systemid || c->timeline != timeline ||
            c->pg_major != pg_major)
            continue;
        int t = 0;
        pc_status st = type_of(ud, k, &t);
        if (st)
            return st;
        if (t == 0)
            continue; /* no pgcask.manifest: a barman-cloud backup has no file list to build on */
        if (want == CAT_BACKUP_INCR || t == CAT_BACKUP_FULL) {
            *out = k;
            return PC_OK;
        }
    }
    return PC_E_NOT_FOUND;
}

/* ---- reading a manifest ---- */

typedef struct mf_load {
    const char *id;
    bool header_only;
    bool got_header;
    int type;
    cat_mf_index *files; /* NULL: not wanted */
} mf_load;

static pc_status on_header(void *ud, const cat_mf_header *h)
{
    mf_load *m = ud;
    if (strcmp(h->backup_id, m->id) != 0)
        return pc_err(PC_E_CORRUPT, "the pgcask.manifest of backup %s belongs to backup %s", m->id,
                      h->backup_id);
    cat_backup_type t;
    if (cat_backup_type_parse(h->type, &t) != PC_OK)
        return pc_err(PC_E_CORRUPT, "the pgcask.manifest of backup %s has type \"%s\"", m->id,
                      h->type);
    m->type = (int)t;
    m->got_header = true;
    /* enough: stop the download (the sentinel is recognised by got_header) */
    return m->header_only ? PC_E_INTERRUPTED : PC_OK;
}

static pc_status on_file(void *ud, const cat_mf_file *f)
{
    mf_load *m = ud;
    return m->files ? cat_mf_index_add(m->files, f) : PC_OK;
}

/* PC_E_NOT_FOUND when the backup has no pgcask.manifest. */
static pc_status load_manifest(repo *r, const char *server, mf_load *m)
{
    static const cat_mf_handler h = {.header = on_header, .file = on_file};
    char *key = pc_layout_backup_key(server, m->id, CAT_MF_NAME);
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *s = NULL;
    pc_status st = cat_mf_reader_new(&h, m, &s);
    st = st ? st : cmp_decompress_new(CMP_ZSTD, MANIFEST_MAX, s, &s);
    st = st ? st : repo_get(r, key, 0, 0, s, NULL);
    st = st ? st : pc_sink_finish(s);
    pc_sink_free(s);
    if (st == PC_E_INTERRUPTED && m->header_only && m->got_header) {
        pc_err_clear();
        st = PC_OK;
    }
    if (st && st != PC_E_NOT_FOUND)
        pc_err_context("reading \"%s\"", key);
    free(key);
    return st;
}

/* ---- choosing ---- */

typedef struct finder {
    repo *r;
    const char *server;
    const cat_store *store;
    int *types; /* per store entry: -1 not read yet */
} finder;

static pc_status type_of(void *ud, size_t i, int *type)
{
    finder *f = ud;
    if (f->types[i] < 0) {
        mf_load m = {.id = f->store->v[i].id, .header_only = true};
        pc_status st = load_manifest(f->r, f->server, &m);
        if (st == PC_E_NOT_FOUND) {
            pc_err_clear();
            m.type = 0;
        } else if (st) {
            /* a damaged manifest: that backup cannot be a parent; say so and look further */
            pc_warn("backup %s cannot be built on: %s", f->store->v[i].id, pc_err_get()->message);
            pc_err_clear();
            m.type = 0;
        }
        f->types[i] = m.type;
    }
    *type = f->types[i];
    return PC_OK;
}

static int major_of(int64_t version)
{
    if (version == CAT_BINFO_NONE || version <= 0)
        return 0;
    return version >= 100000 ? (int)(version / 10000) : (int)(version / 100);
}

typedef struct pair {
    const char *holder;
    const char *archive;
    bool found;
} pair;

typedef struct obj_check {
    pair *v;
    size_t n;
    const char *holder;
    size_t prefix_len;
} obj_check;

static pc_status on_object(const repo_entry *e, void *ud)
{
    obj_check *c = ud;
    const char *name = e->key + c->prefix_len;
    for (size_t i = 0; !e->is_prefix && i < c->n; i++)
        if (strcmp(c->v[i].holder, c->holder) == 0 && strcmp(c->v[i].archive, name) == 0)
            c->v[i].found = true;
    return PC_OK;
}

static const cat_store_backup *store_find(const cat_store *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            return &s->v[i];
    return NULL;
}

/* Every backup holding bytes of the parent's files is DONE and stores the archives named. */
static pc_status check_holders(repo *r, const char *server, const cat_store *store, bk_parent *p)
{
    pair *v = NULL;
    size_t n = 0;
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < cat_mf_index_count(p->files); i++) {
        const cat_mf_file *f = cat_mf_index_at(p->files, i);
        if (f->type != 'f')
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(v[k].holder, f->backup_id) == 0 && strcmp(v[k].archive, f->archive) == 0;
        if (seen)
            continue;
        pair *nv = pc_realloc(v, (n + 1) * sizeof *v);
        if (!nv) {
            st = PC_E_INTERNAL;
            break;
        }
        v = nv;
        v[n++] = (pair){.holder = f->backup_id, .archive = f->archive};
    }
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        bool first = true;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(v[k].holder, v[i].holder) != 0;
        if (!first)
            continue;
        const cat_store_backup *h = store_find(store, v[i].holder);
        if (!h || h->info.status != CAT_BINFO_DONE) {
            st = pc_err(PC_E_NOT_FOUND,
                        "backup %s, which holds files of backup %s, is %s in the repository",
                        v[i].holder, p->id, h ? "not DONE" : "missing");
            break;
        }
        p->nholders++;
        char *prefix = pc_layout_backup_prefix(server, v[i].holder);
        if (!prefix) {
            st = PC_E_INTERNAL;
            break;
        }
        obj_check c = {.v = v, .n = n, .holder = v[i].holder, .prefix_len = strlen(prefix)};
        st = repo_list(r, prefix, "/", on_object, &c);
        free(prefix);
    }
    for (size_t i = 0; st == PC_OK && i < n; i++)
        if (!v[i].found)
            st = pc_err(PC_E_NOT_FOUND,
                        "archive %s of backup %s, which holds files of backup %s, is missing",
                        v[i].archive, v[i].holder, p->id);
    free(v);
    return st;
}

pc_status bk_parent_find(repo *r, const char *server, cat_backup_type want, uint64_t systemid,
                         uint32_t timeline, int pg_version, int jobs, bk_parent *out)
{
    memset(out, 0, sizeof *out);
    out->end_lsn = PC_LSN_INVALID;
    out->start = INT64_MIN;
    cat_store store;
    pc_status st = cat_store_load(r, server, jobs, &store);
    if (st)
        return st;
    bk_cand *c = pc_calloc(store.n ? store.n : 1, sizeof *c);
    finder f = {.r = r,
                .server = server,
                .store = &store,
                .types = pc_calloc(store.n ? store.n : 1, sizeof(int))};
    if (!c || !f.types)
        st = PC_E_INTERNAL;
    for (size_t i = 0; st == PC_OK && i < store.n; i++) {
        const cat_binfo *b = &store.v[i].info;
        c[i] = (bk_cand){
            .id = store.v[i].id,
            .done = b->status == CAT_BINFO_DONE,
            .systemid = b->systemid,
            .timeline = b->timeline == CAT_BINFO_NONE ? 0 : (uint32_t)b->timeline,
            .pg_major = major_of(b->version),
        };
        f.types[i] = -1;
    }
    size_t idx = 0;
    if (st == PC_OK) {
        st = bk_parent_pick(c, store.n, want, systemid, timeline, major_of(pg_version), type_of, &f,
                            &idx);
        if (st == PC_E_NOT_FOUND)
            pc_err(PC_E_NOT_FOUND,
                   "no %s backup of this server (system identifier %" PRIu64 ", timeline %" PRIu32
                   ") is DONE in the repository",
                   want == CAT_BACKUP_DIFF ? "full" : "pgcask", systemid, timeline);
    }
    if (st == PC_OK) {
        const cat_store_backup *b = &store.v[idx];
        snprintf(out->id, sizeof out->id, "%s", b->id);
        out->type = (cat_backup_type)f.types[idx];
        int64_t bt = b->info.begin_time;
        out->start = bt == CAT_BINFO_NONE ? INT64_MIN
                     : bt >= 0            ? bt / 1000000
                                          : (bt - 999999) / 1000000;
        if (b->info.end_xlog && pc_lsn_parse(b->info.end_xlog, &out->end_lsn) != PC_OK)
            out->end_lsn = PC_LSN_INVALID;
        mf_load m = {.id = out->id};
        st = cat_mf_index_new(&out->files);
        m.files = out->files;
        if (st == PC_OK)
            st = load_manifest(r, server, &m);
        if (st == PC_E_NOT_FOUND)
            st = pc_err(PC_E_NOT_FOUND, "the pgcask.manifest of backup %s is gone", out->id);
    }
    if (st == PC_OK)
        st = check_holders(r, server, &store, out);
    free(c);
    free(f.types);
    cat_store_free(&store);
    if (st)
        bk_parent_free(out);
    return st;
}

void bk_parent_free(bk_parent *p)
{
    cat_mf_index_free(p->files);
    memset(p, 0, sizeof *p);
    p->end_lsn = PC_LSN_INVALID;
    p->start = INT64_MIN;
}
