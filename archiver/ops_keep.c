/*
 * backup-keep (barman/clients/cloud_backup_keep.py, barman/annotations.py):
 * the object "<server>/base/<id>/annotations/keep" holding "full" or
 * "standalone", read back as barman reads it (ops_keep_parse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver_int.h"
#include "archiver/ops_int.h"
#include "catalog/store.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"

/* The backup a reference names, with its backup.info (an id: one GET; a name: the whole list). */
static pc_status resolve(arc_ctx *a, repo *r, const char *ref, cat_store_backup *out)
{
    const char *server = arc_ctx_server(a);
    memset(out, 0, sizeof *out);
    if (pc_layout_is_backup_id(ref))
        return cat_store_backup_load(r, server, ref, out);
    cat_store all;
    pc_status st = cat_store_load(r, server, OPS_SCAN_JOBS, &all);
    if (st)
        return st;
    const cat_store_backup *found = NULL;
    cat_sel none = {0};
    st = cat_store_select(&all, server, ref, &none, &found);
    if (st == PC_OK)
        st = cat_store_backup_load(r, server, found->id, out);
    cat_store_free(&all);
    return st;
}

/* The catalog's keep column follows the store (best effort: the store is the truth). */
static void catalog_keep(arc_ctx *a, const char *id, ops_keep keep)
{
    cat *c;
    if (ops_open_catalog(a, &c) != PC_OK) {
        pc_err_clear();
        return;
    }
    cat_backup row;
    pc_status st = cat_backup_get(c, id, &row);
    if (st == PC_OK) {
        row.keep = ops_keep_name(keep);
        st = cat_backup_put(c, &row);
        cat_backup_clear(&row);
    }
    if (st && st != PC_E_NOT_FOUND)
        pc_warn("catalog: could not record the keep of backup %s: %s", id, pc_err_get()->message);
    pc_err_clear();
    cat_close(c);
}

pc_status ops_keep_set(arc_ctx *a, const char *ref, ops_keep target)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    if (target != OPS_KEEP_FULL && target != OPS_KEEP_STANDALONE)
        return pc_err(PC_E_USAGE, "keep target must be full or standalone");
    cat_store_backup b;
    if ((st = resolve(a, r, ref, &b)) != PC_OK)
        return st;
    if (b.info.status != CAT_BINFO_DONE) {
        pc_err(PC_E_NOT_FOUND,
               "cannot keep backup %s of server %s: its status is %s, only DONE backups can be "
               "kept",
               b.id, arc_ctx_server(a), cat_binfo_status_name(b.info.status));
        if (b.info.error)
            pc_err_detail("%s", b.info.error);
        cat_store_backup_free(&b);
        return PC_E_NOT_FOUND;
    }
    char *key = pc_layout_backup_key(arc_ctx_server(a), b.id, OPS_KEEP_FILE);
    const char *text = ops_keep_name(target);
    st = key ? repo_put(r, key, text, strlen(text), NULL) : PC_E_INTERNAL;
    free(key);
    if (st == PC_OK) {
        pc_info("backup %s of server %s: keep %s", b.id, arc_ctx_server(a), text);
        catalog_keep(a, b.id, target);
    }
    cat_store_backup_free(&b);
    return st;
}

pc_status ops_keep_release(arc_ctx *a, const char *ref)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    cat_store_backup b;
    if ((st = resolve(a, r, ref, &b)) != PC_OK)
        return st;
    char *key = pc_layout_backup_key(arc_ctx_server(a), b.id, OPS_KEEP_FILE);
    st = key ? repo_delete(r, (const char *const *)&key, 1) : PC_E_INTERNAL;
    free(key);
    if (st == PC_OK) {
        pc_info("backup %s of server %s: keep released", b.id, arc_ctx_server(a));
        catalog_keep(a, b.id, OPS_KEEP_NONE);
    }
    cat_store_backup_free(&b);
    return st;
}

pc_status ops_keep_status(arc_ctx *a, const char *ref, ops_keep *out)
{
    *out = OPS_KEEP_NONE;
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    cat_store_backup b;
    if ((st = resolve(a, r, ref, &b)) != PC_OK)
        return st;
    char *key = pc_layout_backup_key(arc_ctx_server(a), b.id, OPS_KEEP_FILE);
    pc_buf text;
    st = key ? repo_get_buf(r, key, 4096, &text) : PC_E_INTERNAL;
    free(key);
    if (st == PC_OK) {
        *out = ops_keep_parse((const char *)text.data, text.len);
        pc_buf_free(&text);
    } else if (st == PC_E_NOT_FOUND) {
        pc_err_clear();
        st = PC_OK;
    }
    if (st == PC_OK)
        catalog_keep(a, b.id, *out);
    cat_store_backup_free(&b);
    return st;
}
