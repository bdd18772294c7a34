/*
 * backup-delete (barman/clients/cloud_backup_delete.py semantics): one
 * backup by id or name, or every backup a retention policy makes obsolete,
 * then the WAL no remaining backup needs.
 *
 * Order for one backup, so that an interruption anywhere leaves a state the
 * next run completes and never a DONE backup.info without its data:
 *   1. backup.info is rewritten with status FAILED and OPS_DELETING_ERROR
 *      (no end time, so CloudNativePG does not count it as a backup either);
 *   2. every other object of the folder goes (archives, pgcask.manifest,
 *      annotations), in batches;
 *   3. backup.info goes;
 *   4. the catalog forgets the backup.
 * A backup.info carrying OPS_DELETING_ERROR is finished by every later run.
 * The WAL rule (ops_wal_rule_*) is computed from what remains, so a run
 * interrupted before its WAL cleanup is completed by the next one too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver_int.h"
#include "archiver/ops_int.h"
#include "catalog/store.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "compress/compress.h"
#include "s3/walstore.h"

#define BATCH_MAX 1000

pc_status ops_delete_keys(repo *r, char **keys, size_t n, size_t batch)
{
    if (batch == 0 || batch > BATCH_MAX)
        batch = BATCH_MAX;
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < n; i += batch) {
        size_t m = n - i < batch ? n - i : batch;
        st = repo_delete(r, (const char *const *)keys + i, m);
    }
    return st;
}

typedef struct key_vec {
    char **v;
    size_t n, alloc;
} key_vec;

static pc_status kv_add(key_vec *k, char *owned)
{
    if (!owned)
        return PC_E_INTERNAL;
    if (k->n == k->alloc) {
        size_t na = k->alloc ? 2 * k->alloc : 32;
        char **nv = pc_realloc(k->v, na * sizeof *nv);
        if (!nv) {
            free(owned);
            return PC_E_INTERNAL;
        }
        k->v = nv;
        k->alloc = na;
    }
    k->v[k->n++] = owned;
    return PC_OK;
}

static void kv_free(key_vec *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

/* Delete state shared by the steps. */
typedef struct del {
    arc_ctx *a;
    const ops_delete_opts *o;
    FILE *out;
    repo *r;
    cat *c;
    const char *server;
    char display[1024]; /* the URL's path, as barman prints object keys */
    ops_delete_result res;
} del;

/* barman prints bucket keys: the repository URL's path, then the key. */
static void set_display(del *d)
{
    const char *url = repo_url(d->r);
    const char *p = strstr(url, "://");
    d->display[0] = '\0';
    if (!p || strncmp(url, "s3://", 5) != 0)
        return;
    p = strchr(p + 3, '/');
    if (!p)
        return;
    while (*p == '/')
        p++;
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        n--;
    if (n)
        snprintf(d->display, sizeof d->display, "%.*s/", (int)n, p);
}

/* barman's dry-run line: "Skipping deletion of objects ['k1', 'k2'] due to --dry-run option". */
static void barman_dry_line(del *d, char **keys, size_t n)
{
    if (!d->out || n == 0)
        return;
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_status st = pc_buf_append_str(&b, "Skipping deletion of objects [");
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        char *k = pc_asprintf("%s%s", d->display, keys[i]);
        st = k ? PC_OK : PC_E_INTERNAL;
        if (st == PC_OK && i)
            st = pc_buf_append_str(&b, ", ");
        if (st == PC_OK)
            st = cat_py_repr_str(&b, k, strlen(k));
        free(k);
    }
    if (st == PC_OK)
        st = pc_buf_append_str(&b, "] due to --dry-run option\n");
    if (st == PC_OK)
        fputs(pc_buf_cstr(&b), d->out);
    pc_err_clear();
    pc_buf_free(&b);
}

static bool is_pending(const ops_sb *b)
{
    return b->info_ok && b->info.status == CAT_BINFO_FAILED && b->info.error &&
           strcmp(b->info.error, OPS_DELETING_ERROR) == 0;
}

static pc_status collect_folder(const repo_entry *e, void *ud)
{
    if (e->is_prefix)
        return PC_OK;
    return kv_add(ud, pc_strdup(e->key));
}

/* Step 1: a backup.info that no longer claims a restorable backup. */
static pc_status mark_deleting(del *d, const ops_sb *b, const char *info_key)
{
    if (b->info.status != CAT_BINFO_DONE && b->info.status != CAT_BINFO_WAITING_FOR_WALS)
        return PC_OK; /* FAILED or in progress: it claims nothing */
    cat_binfo m;
    pc_status st = cat_binfo_parse(b->info_text, strlen(b->info_text), &m);
    if (st)
        return st;
    m.status = CAT_BINFO_FAILED;
    m.end_time = CAT_BINFO_NONE;
    free(m.error);
    m.error = pc_strdup(OPS_DELETING_ERROR);
    pc_buf text;
    pc_buf_init(&text, CAT_BINFO_MAX_SIZE);
    st = m.error ? cat_binfo_format(&m, &text) : PC_E_INTERNAL;
    if (st == PC_OK)
        st = repo_put(d->r, info_key, text.data, text.len, NULL);
    pc_buf_free(&text);
    cat_binfo_free(&m);
    return st;
}

static pc_status delete_backup(del *d, const ops_sb *b)
{
    char *prefix = pc_layout_backup_prefix(d->server, b->id);
    char *info_key = pc_layout_backup_key(d->server, b->id, OPS_INFO_FILE);
    key_vec keys = {0};
    pc_status st = prefix && info_key ? PC_OK : PC_E_INTERNAL;
    /* a fresh listing of the folder: what the scan saw may have grown */
    if (st == PC_OK)
        st = repo_list(d->r, prefix, NULL, collect_folder, &keys);
    /* backup.info last */
    size_t w = 0;
    for (size_t i = 0; st == PC_OK && i < keys.n; i++) {
        if (strcmp(keys.v[i], info_key) == 0)
            free(keys.v[i]);
        else
            keys.v[w++] = keys.v[i];
    }
    if (st == PC_OK)
        keys.n = w;
    if (st == PC_OK && d->o->dry_run) {
        if (d->o->barman_output) {
            st = kv_add(&keys, pc_strdup(info_key));
            if (st == PC_OK)
                barman_dry_line(d, keys.v, keys.n);
        } else if (d->out) {
            fprintf(d->out, "backup %s: would delete %zu objects, backup.info last\n", b->id,
                    keys.n + 1);
            for (size_t i = 0; i < keys.n; i++)
                fprintf(d->out, "  %s\n", keys.v[i]);
            fprintf(d->out, "  %s\n", info_key);
        }
        d->res.backups++;
        d->res.objects += (d->o->barman_output ? keys.n : keys.n + 1);
        goto out;
    }
    if (st == PC_OK && !is_pending(b))
        st = mark_deleting(d, b, info_key);
    if (st == PC_OK)
        st = ops_delete_keys(d->r, keys.v, keys.n, d->o->batch_size);
    if (st == PC_OK)
        st = repo_delete(d->r, (const char *const *)&info_key, 1);
    if (st) {
        pc_err_context("deleting backup %s of server %s", b->id, d->server);
        pc_err_hint("Nothing that a remaining backup needs was touched; run the same "
                    "backup-delete again to finish.");
        goto out;
    }
    d->res.backups++;
    d->res.objects += keys.n + 1;
    pc_info("deleted backup %s of server %s: %zu objects", b->id, d->server, keys.n + 1);
    if (d->out && !d->o->barman_output)
        fprintf(d->out, "deleted backup %s (%zu objects)\n", b->id, keys.n + 1);
    /* the catalog follows the store; a failure here only leaves a stale cache entry */
    if (pc_layout_is_backup_id(b->id)) {
        char mkey[64];
        snprintf(mkey, sizeof mkey, "%s%s", OPS_META_INFO_PREFIX, b->id);
        pc_status cs = cat_backup_delete(d->c, b->id);
        if (cs == PC_E_NOT_FOUND)
            cs = PC_OK;
        if (cs == PC_OK)
            cs = cat_meta_delete(d->c, mkey);
        if (cs)
            pc_warn("catalog: could not forget backup %s: %s", b->id, pc_err_get()->message);
        pc_err_clear();
    }
out:
    kv_free(&keys);
    free(prefix);
    free(info_key);
    return st;
}

/* ---- the WAL ---- */

typedef struct wal_pick {
    const ops_wal_rule *rule;
    key_vec keys;
    key_vec names;
} wal_pick;

static pc_status on_wal(const repo_wal_obj *o, void *ud)
{
    wal_pick *p = ud;
    size_t stem;
    /* barman's listing only knows its compression suffixes; others are not WAL to it */
    if (o->ext[0] && cmp_codec_from_name(o->key, &stem) == CMP_NONE)
        return PC_OK;
    if (!ops_wal_rule_deletable(p->rule, o->wal.name))
        return PC_OK;
    pc_status st = kv_add(&p->keys, pc_strdup(o->key));
    return st ? st : kv_add(&p->names, pc_strdup(o->wal.name));
}

static ops_wal_rule_backup rule_backup(const ops_sb *b)
{
    const cat_binfo *i = &b->info;
    bool restorable = i->status == CAT_BINFO_DONE || i->status == CAT_BINFO_WAITING_FOR_WALS;
    uint32_t tli = i->timeline == CAT_BINFO_NONE ? 0 : (uint32_t)i->timeline;
    pc_wal_name w;
    if (!tli && i->begin_wal && pc_wal_parse(i->begin_wal, &w) == PC_OK)
        tli = w.tli;
    pc_err_clear();
    return (ops_wal_rule_backup){.id = b->id,
                                 .begin_wal = i->begin_wal,
                                 .end_wal = i->end_wal,
                                 .timeline = tli,
                                 .anchor = restorable && b->keep != OPS_KEEP_STANDALONE,
                                 .keep = b->keep};
}

static pc_status clean_wal(del *d, const ops_scan *s, const bool *gone)
{
    ops_wal_rule_backup *rem = pc_calloc(s->n + 1, sizeof *rem);
    ops_wal_rule_backup *dl = pc_calloc(s->n + 1, sizeof *dl);
    size_t nrem = 0, ndl = 0;
    if (!rem || !dl) {
        free(rem);
        free(dl);
        return PC_E_INTERNAL;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->v[i].info_ok)
            continue;
        if (gone[i])
            dl[ndl++] = rule_backup(&s->v[i]);
        else
            rem[nrem++] = rule_backup(&s->v[i]);
    }
    char *first_required = NULL;
    pc_status st = cat_meta_get(d->c, OPS_META_FIRST_REQUIRED, &first_required);
    if (st == PC_E_NOT_FOUND) {
        pc_err_clear();
        st = PC_OK;
    }
    ops_wal_rule rule;
    if (st == PC_OK)
        st = ops_wal_rule_build(rem, nrem, dl, ndl, first_required, &rule);
    free(rem);
    free(dl);
    free(first_required);
    if (st)
        return st;
    if (!rule.bound[0]) {
        pc_info("no WAL to delete: no backup of server %s needs a bound", d->server);
        ops_wal_rule_free(&rule);
        return PC_OK;
    }
    wal_pick p = {.rule = &rule};
    st = repo_wal_list(d->r, d->server, on_wal, &p, NULL);
    if (st == PC_OK && p.keys.n > 0) {
        if (d->o->dry_run) {
            if (d->o->barman_output) {
                barman_dry_line(d, p.keys.v, p.keys.n);
            } else if (d->out) {
                fprintf(d->out, "WAL: would delete %zu objects (before %s)\n", p.keys.n,
                        rule.bound);
                for (size_t i = 0; i < p.keys.n; i++)
                    fprintf(d->out, "  %s\n", p.keys.v[i]);
            }
        } else {
            st = ops_delete_keys(d->r, p.keys.v, p.keys.n, d->o->batch_size);
            if (st) {
                pc_err_context("deleting the WAL of server %s before %s", d->server, rule.bound);
                pc_err_hint("The backups are deleted; the next backup-delete removes this WAL.");
            } else {
                pc_info("deleted %zu WAL objects of server %s before %s", p.keys.n, d->server,
                        rule.bound);
                if (d->out && !d->o->barman_output)
                    fprintf(d->out, "deleted %zu WAL files (before %s)\n", p.keys.n, rule.bound);
                pc_status cs =
                    cat_wal_delete(d->c, (const char *const *)p.names.v, p.names.n, NULL);
                if (cs)
                    pc_warn("catalog: could not forget the deleted WAL: %s", pc_err_get()->message);
                pc_err_clear();
            }
        }
        if (st == PC_OK)
            d->res.wals += p.keys.n;
    }
    kv_free(&p.keys);
    kv_free(&p.names);
    ops_wal_rule_free(&rule);
    return st;
}

/* Marks every backup that builds, directly or through others, on a marked one. */
static void mark_dependants(const ops_scan *s, bool *mark)
{
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < s->n; i++) {
            const char *parent = s->v[i].info_ok && !mark[i] ? ops_sb_parent(&s->v[i]) : NULL;
            for (size_t j = 0; parent && j < s->n; j++) {
                if (mark[j] && strcmp(s->v[j].id, parent) == 0) {
                    mark[i] = more = true;
                    break;
                }
            }
        }
    }
}

/* A kept backup keeps the backups it builds on. */
static void keep_ancestors(const ops_scan *s, bool *gone)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].keep == OPS_KEEP_NONE || !s->v[i].info_ok || is_pending(&s->v[i]))
            continue;
        gone[i] = false;
        const char *parent = ops_sb_parent(&s->v[i]);
        for (size_t hops = 0; parent && hops < s->n; hops++) {
            size_t j = 0;
            while (j < s->n && strcmp(s->v[j].id, parent) != 0)
                j++;
            if (j == s->n)
                break;
            if (gone[j] && !is_pending(&s->v[j]))
                gone[j] = false;
            parent = ops_sb_parent(&s->v[j]);
        }
    }
}

/* ---- choosing ---- */

static pc_status pick_one(del *d, const ops_scan *s, bool *gone, bool *missing)
{
    *missing = false;
    size_t nv = 0;
    cat_store view = {0};
    if (s->n && !(view.v = pc_calloc(s->n, sizeof *view.v)))
        return PC_E_INTERNAL;
    size_t *map = s->n ? pc_calloc(s->n, sizeof *map) : NULL;
    if (s->n && !map) {
        free(view.v);
        return PC_E_INTERNAL;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->v[i].info_ok)
            continue;
        view.v[nv].id = s->v[i].id;
        view.v[nv].info = s->v[i].info;
        map[nv++] = i;
    }
    view.n = nv;
    const cat_store_backup *found = NULL;
    cat_sel none = {0};
    pc_status st = cat_store_select(&view, d->server, d->o->backup, &none, &found);
    size_t idx = found ? map[found - view.v] : 0;
    free(view.v);
    free(map);
    if (st == PC_E_NOT_FOUND && d->o->barman_output && pc_layout_is_backup_id(d->o->backup)) {
        /* barman-cloud-backup-delete: "Backup X does not exist" is a warning, exit 0 */
        pc_warn("Backup %s does not exist", d->o->backup);
        pc_err_clear();
        *missing = true;
        return PC_OK;
    }
    if (st)
        return st;
    const ops_sb *b = &s->v[idx];
    if (is_pending(b)) {
        gone[idx] = true;
        return PC_OK;
    }
    if (b->keep != OPS_KEEP_NONE) {
        pc_err(PC_E_NOT_FOUND, "backup %s of server %s has a keep annotation: not deleted", b->id,
               d->server);
        pc_err_detail("keep target: %s", ops_keep_name(b->keep));
        pc_err_hint("Release it first with `pgcask backup-keep %s --release` if the backup "
                    "really may go.",
                    b->id);
        return PC_E_NOT_FOUND;
    }
    /* the backups that build on it go with it (pgBackRest's expire does the same), unless one of
     * them is kept */
    bool *chain = pc_calloc(s->n + 1, sizeof *chain);
    if (!chain)
        return PC_E_INTERNAL;
    chain[idx] = true;
    mark_dependants(s, chain);
    for (size_t i = 0; i < s->n; i++) {
        if (i == idx || !chain[i] || s->v[i].keep == OPS_KEEP_NONE)
            continue;
        pc_err(PC_E_NOT_FOUND,
               "backup %s of server %s is needed by the kept backup %s: not deleted", b->id,
               d->server, s->v[i].id);
        pc_err_detail("backup %s builds on it and has a keep annotation (%s)", s->v[i].id,
                      ops_keep_name(s->v[i].keep));
        pc_err_hint("Release it first with `pgcask backup-keep %s --release` if the chain "
                    "really may go.",
                    s->v[i].id);
        free(chain);
        return PC_E_NOT_FOUND;
    }
    if (d->o->minimum_redundancy > 0 && b->info.status == CAT_BINFO_DONE && !ops_sb_parent(b)) {
        int64_t done = 0;
        for (size_t i = 0; i < s->n; i++)
            done += s->v[i].info_ok && s->v[i].info.status == CAT_BINFO_DONE &&
                    !ops_sb_parent(&s->v[i]);
        if (done - 1 < d->o->minimum_redundancy) {
            pc_err(PC_E_NOT_FOUND,
                   "backup %s of server %s not deleted: minimum redundancy %" PRId64 " (%" PRId64
                   " DONE full backup%s)",
                   b->id, d->server, d->o->minimum_redundancy, done, done == 1 ? "" : "s");
            pc_err_hint("Take a new backup first, or lower --minimum-redundancy.");
            free(chain);
            return PC_E_NOT_FOUND;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        if (chain[i] && i != idx)
            pc_info("backup %s depends on %s: deleted with it", s->v[i].id, b->id);
        gone[i] = gone[i] || chain[i];
    }
    free(chain);
    return PC_OK;
}

static pc_status pick_policy(del *d, const ops_scan *s, const ops_policy *p, bool *gone)
{
    ops_rp_backup *v = pc_calloc(s->n + 1, sizeof *v);
    ops_rp_status *status = pc_calloc(s->n + 1, sizeof *status);
    size_t *map = pc_calloc(s->n + 1, sizeof *map);
    size_t n = 0;
    pc_status st = v && status && map ? PC_OK : PC_E_INTERNAL;
    for (size_t i = 0; st == PC_OK && i < s->n; i++) {
        const ops_sb *b = &s->v[i];
        if (!b->info_ok || is_pending(b))
            continue;
        v[n] = (ops_rp_backup){.id = b->id,
                               .done = b->info.status == CAT_BINFO_DONE,
                               .end_time = b->info.end_time,
                               .keep = b->keep,
                               .parent = ops_sb_parent(b)};
        map[n++] = i;
    }
    if (st == PC_OK)
        st = ops_policy_report(p, v, n, pc_now_us(), d->o->minimum_redundancy, status);
    for (size_t k = 0; st == PC_OK && k < n; k++) {
        pc_debug("retention: backup %s %s", v[k].id, ops_rp_status_name(status[k]));
        if (status[k] == OPS_RP_OBSOLETE)
            gone[map[k]] = true;
    }
    if (st == PC_OK) {
        /* an obsolete full backup takes its chain along; a kept backup keeps its chain */
        mark_dependants(s, gone);
        keep_ancestors(s, gone);
    }
    free(v);
    free(status);
    free(map);
    return st;
}

pc_status ops_backup_delete(arc_ctx *a, const ops_delete_opts *o, FILE *out,
                            ops_delete_result *result)
{
    if (result)
        memset(result, 0, sizeof *result);
    if ((o->backup == NULL) == (o->policy == NULL)) {
        pc_err(PC_E_USAGE, "give either a backup (-b) or a retention policy (-r)");
        pc_err_hint("barman-cloud-backup-delete takes exactly one of -b/--backup-id and "
                    "-r/--retention-policy.");
        return PC_E_USAGE;
    }
    if (o->minimum_redundancy < 0)
        return pc_err(PC_E_USAGE, "--minimum-redundancy must not be negative");
    if (o->batch_size > BATCH_MAX) {
        pc_err(PC_E_USAGE, "--batch-size %zu is too large", o->batch_size);
        pc_err_hint("S3 deletes at most 1000 objects per request.");
        return PC_E_USAGE;
    }
    ops_policy policy;
    pc_status st = o->policy ? ops_policy_parse(o->policy, &policy) : PC_OK;
    if (st)
        return st;
    del d = {.a = a, .o = o, .out = out, .server = arc_ctx_server(a)};
    if ((st = arc_ctx_repo(a, &d.r)) != PC_OK)
        return st;
    set_display(&d);
    if ((st = ops_open_catalog(a, &d.c)) != PC_OK)
        return st;
    ops_scan s;
    st = ops_scan_store(d.r, d.server, OPS_SCAN_JOBS, d.c, true, &s);
    if (st) {
        cat_close(d.c);
        return st;
    }
    bool *gone = pc_calloc(s.n + 1, sizeof *gone);
    if (!gone)
        st = PC_E_INTERNAL;
    if (st == PC_OK && s.unreadable > 0) {
        pc_buf ids;
        pc_buf_init(&ids, 4096);
        for (size_t i = 0; i < s.n; i++)
            if (s.v[i].has_info && !s.v[i].info_ok)
                pc_buf_printf(&ids, "%s%s", ids.len ? ", " : "", s.v[i].id);
        pc_err(PC_E_NOT_FOUND,
               "cannot read the backup.info of %zu backup%s of server %s (%s): unsafe to "
               "delete anything",
               s.unreadable, s.unreadable == 1 ? "" : "s", d.server, pc_buf_cstr(&ids));
        pc_err_hint("Fix or remove the damaged backup.info (`pgcask audit` names the problem), "
                    "then run backup-delete again.");
        pc_buf_free(&ids);
        st = PC_E_NOT_FOUND;
    }
    if (st == PC_OK && o->policy) {
        char text[96];
        ops_policy_format(&policy, text, sizeof text);
        pc_info("applying retention policy %s (minimum redundancy %" PRId64 ") to server %s", text,
                o->minimum_redundancy, d.server);
    }
    /* interrupted deletions first, whatever was asked */
    for (size_t i = 0; st == PC_OK && i < s.n; i++) {
        if (is_pending(&s.v[i])) {
            gone[i] = true;
            pc_warn("finishing the interrupted deletion of backup %s", s.v[i].id);
        }
    }
    bool missing = false;
    if (st == PC_OK)
        st = o->backup ? pick_one(&d, &s, gone, &missing) : pick_policy(&d, &s, &policy, gone);
    size_t ngone = 0;
    for (size_t i = 0; st == PC_OK && i < s.n; i++)
        ngone += gone[i];
    if (st == PC_OK && ngone == 0 && out && !o->barman_output)
        fprintf(out, "no backup to delete\n");
    /* newest first: an incremental backup goes before the backup it builds on */
    for (size_t i = s.n; st == PC_OK && i-- > 0;)
        if (gone[i])
            st = delete_backup(&d, &s.v[i]);
    if (st == PC_OK)
        st = clean_wal(&d, &s, gone);
    if (result)
        *result = d.res;
    free(gone);
    ops_scan_free(&s);
    cat_close(d.c);
    return st;
}
