/*
 * The backups of a server and barman's rules for choosing one
 * (barman/cloud.py CloudBackupCatalog, barman/utils.py
 * get_backup_id_from_target_time/_lsn/_tli), with one deliberate
 * difference: the shortcuts and "auto" only consider DONE backups, so a
 * failed backup newer than the last good one is never restored by accident.
 */
#include "catalog/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/timeutil.h"

typedef struct id_list {
    char **v;
    size_t n, alloc;
    size_t prefix_len;
} id_list;

static pc_status collect_id(const repo_entry *e, void *ud)
{
    id_list *l = ud;
    if (!e->is_prefix)
        return PC_OK;
    const char *id = e->key + l->prefix_len;
    size_t len = strlen(id);
    if (len < 2 || id[len - 1] != '/')
        return PC_OK;
    if (l->n == l->alloc) {
        size_t na = l->alloc ? l->alloc * 2 : 32;
        char **nv = pc_realloc(l->v, na * sizeof *nv);
        if (!nv)
            return PC_E_INTERNAL;
        l->v = nv;
        l->alloc = na;
    }
    if (!(l->v[l->n] = pc_strndup(id, len - 1)))
        return PC_E_INTERNAL;
    l->n++;
    return PC_OK;
}

pc_status cat_store_backup_load(repo *r, const char *server, const char *id, cat_store_backup *out)
{
    memset(out, 0, sizeof *out);
    cat_binfo_init(&out->info);
    char *key = pc_layout_backup_key(server, id, "backup.info");
    if (!key)
        return PC_E_INTERNAL;
    pc_buf text;
    pc_status st = repo_get_buf(r, key, CAT_BINFO_MAX_SIZE, &text);
    if (st == PC_E_NOT_FOUND) {
        pc_err(PC_E_NOT_FOUND, "backup \"%s\" of server \"%s\" not found (no %s)", id, server, key);
        pc_err_hint("`pgcask backup-list` shows the backups of a server.");
    } else if (st == PC_OK) {
        st = cat_binfo_parse((const char *)text.data, text.len, &out->info);
        if (st)
            pc_err_context("reading \"%s\"", key);
        pc_buf_free(&text);
    }
    free(key);
    if (st == PC_OK && !(out->id = pc_strdup(id)))
        st = PC_E_INTERNAL;
    if (st)
        cat_store_backup_free(out);
    return st;
}

void cat_store_backup_free(cat_store_backup *b)
{
    free(b->id);
    b->id = NULL;
    cat_binfo_free(&b->info);
}

void cat_store_free(cat_store *c)
{
    for (size_t i = 0; i < c->n; i++)
        cat_store_backup_free(&c->v[i]);
    free(c->v);
    memset(c, 0, sizeof *c);
}

typedef struct load_task {
    repo *r;
    const char *server;
    const char *id;
    cat_store_backup b;
    pc_status st;
    pc_error err;
} load_task;

static pc_status load_one(void *arg)
{
    load_task *t = arg;
    t->st = cat_store_backup_load(t->r, t->server, t->id, &t->b);
    if (t->st)
        pc_err_save(&t->err);
    /* a bad backup.info is reported and skipped, it does not fail the listing */
    return PC_OK;
}

static int cmp_backup(const void *a, const void *b)
{
    return strcmp(((const cat_store_backup *)a)->id, ((const cat_store_backup *)b)->id);
}

pc_status cat_store_load(repo *r, const char *server, int jobs, cat_store *out)
{
    memset(out, 0, sizeof *out);
    id_list ids = {0};
    char *prefix = pc_layout_base_prefix(server);
    if (!prefix)
        return PC_E_INTERNAL;
    ids.prefix_len = strlen(prefix);
    pc_status st = repo_list(r, prefix, "/", collect_id, &ids);
    free(prefix);
    load_task *tasks = NULL;
    if (st == PC_OK && ids.n > 0 && !(tasks = pc_calloc(ids.n, sizeof *tasks)))
        st = PC_E_INTERNAL;
    if (st == PC_OK && ids.n > 0) {
        pc_pool *pool = NULL;
        size_t threads = jobs < 1 ? 1 : (size_t)jobs;
        if (threads > ids.n)
            threads = ids.n;
        st = pc_pool_new(threads, ids.n, &pool);
        for (size_t i = 0; st == PC_OK && i < ids.n; i++) {
            tasks[i] = (load_task){.r = r, .server = server, .id = ids.v[i]};
            st = pc_pool_submit(pool, load_one, &tasks[i]);
        }
        if (pool) {
            pc_status w = pc_pool_wait(pool);
            st = st ? st : w;
            pc_pool_free(pool);
        }
    }
    if (st == PC_OK && ids.n > 0 && !(out->v = pc_calloc(ids.n, sizeof *out->v)))
        st = PC_E_INTERNAL;
    for (size_t i = 0; tasks && i < ids.n; i++) {
        load_task *t = &tasks[i];
        if (st == PC_OK && t->st == PC_OK) {
            out->v[out->n++] = t->b;
            continue;
        }
        if (t->st == PC_OK) {
            cat_store_backup_free(&t->b);
        } else if (st == PC_OK && t->err.status != PC_E_NOT_FOUND) {
            /* what barman-cloud does: warn, skip, carry on */
            out->unreadable++;
            pc_warn("skipping backup \"%s\": %s", t->id, t->err.message);
        }
    }
    free(tasks);
    for (size_t i = 0; i < ids.n; i++)
        free(ids.v[i]);
    free(ids.v);
    if (st) {
        cat_store_free(out);
        return st;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_backup);
    return PC_OK;
}

bool cat_ref_is_keyword(const char *ref)
{
    static const char *const kw[] = {"latest", "last", "oldest", "first", "last-failed", "auto"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(ref, kw[i]) == 0)
            return true;
    return false;
}

static bool matches(const cat_store_backup *b, const cat_sel *sel)
{
    const cat_binfo *i = &b->info;
    if (i->status != CAT_BINFO_DONE)
        return false;
    if (sel->has_tli && (i->timeline == CAT_BINFO_NONE || i->timeline != (int64_t)sel->tli))
        return false;
    if (sel->has_time && (i->end_time == CAT_BINFO_NONE || i->end_time > sel->time_us))
        return false;
    if (sel->has_lsn) {
        pc_lsn end;
        bool ok = i->end_xlog && pc_lsn_parse(i->end_xlog, &end) == PC_OK;
        pc_err_clear(); /* an unparsable end_xlog just does not match */
        if (!ok || end > sel->lsn)
            return false;
    }
    return true;
}

static void describe_sel(const cat_sel *sel, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    if (sel->has_time) {
        char t[64];
        pc_time_barman(sel->time_us, t, sizeof t);
        n += (size_t)snprintf(out + n, len - n, " ending at or before %s", t);
    }
    if (sel->has_lsn && n < len) {
        char l[32];
        pc_lsn_format(sel->lsn, l, sizeof l);
        n += (size_t)snprintf(out + n, len - n, " ending at or before LSN %s", l);
    }
    if (sel->has_tli && n < len)
        snprintf(out + n, len - n, " on timeline %u", sel->tli);
}

pc_status cat_store_select(const cat_store *c, const char *server, const char *ref,
                           const cat_sel *sel, const cat_store_backup **out)
{
    static const cat_sel none = {0};
    *out = NULL;
    if (pc_layout_is_backup_id(ref)) {
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->v[i].id, ref) == 0) {
                *out = &c->v[i];
                return PC_OK;
            }
        }
        pc_err(PC_E_NOT_FOUND, "backup \"%s\" of server \"%s\" not found", ref, server);
        pc_err_hint("`pgcask backup-list` shows the backups of a server.");
        return PC_E_NOT_FOUND;
    }
    bool newest = strcmp(ref, "latest") == 0 || strcmp(ref, "last") == 0;
    bool oldest = strcmp(ref, "oldest") == 0 || strcmp(ref, "first") == 0;
    if (newest || oldest || strcmp(ref, "auto") == 0) {
        const cat_sel *s = newest || oldest ? &none : sel;
        for (size_t k = 0; k < c->n; k++) {
            const cat_store_backup *b = &c->v[oldest ? k : c->n - 1 - k];
            if (matches(b, s)) {
                *out = b;
                return PC_OK;
            }
        }
        char what[256];
        describe_sel(s, what, sizeof what);
        pc_err(PC_E_NOT_FOUND, "no DONE backup of server \"%s\"%s (%s)", server, what, ref);
        if (c->n > 0)
            pc_err_detail("%zu backup%s in the repository, none of them matches", c->n,
                          c->n == 1 ? "" : "s");
        pc_err_hint("`pgcask backup-list` shows the backups with their end time, end LSN and "
                    "timeline.");
        return PC_E_NOT_FOUND;
    }
    if (strcmp(ref, "last-failed") == 0) {
        for (size_t k = c->n; k-- > 0;) {
            if (c->v[k].info.status == CAT_BINFO_FAILED) {
                *out = &c->v[k];
                return PC_OK;
            }
        }
        return pc_err(PC_E_NOT_FOUND, "no FAILED backup of server \"%s\" (last-failed)", server);
    }
    const cat_store_backup *found = NULL;
    size_t nfound = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].info.backup_name && strcmp(c->v[i].info.backup_name, ref) == 0) {
            if (!found)
                found = &c->v[i];
            nfound++;
        }
    }
    if (nfound > 1) {
        pc_err(PC_E_USAGE, "%zu backups of server \"%s\" are named \"%s\"", nfound, server, ref);
        pc_err_hint("Give the backup id instead (`pgcask backup-list` shows them).");
        return PC_E_USAGE;
    }
    if (!found) {
        pc_err(PC_E_NOT_FOUND, "no backup of server \"%s\" is named \"%s\"", server, ref);
        pc_err_hint("Give a backup id, a backup name, latest, oldest, last-failed or auto "
                    "(`pgcask backup-list` shows the backups).");
        return PC_E_NOT_FOUND;
    }
    *out = found;
    return PC_OK;
}
