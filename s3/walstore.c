#include "s3/walstore.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

typedef struct find_ctx {
    const char *server;
    const pc_wal_name *want; /* NULL: every WAL object */
    repo_wal_cb cb;
    void *ud;
    size_t skipped;
} find_ctx;

static pc_status on_entry(const repo_entry *e, void *ud)
{
    find_ctx *f = ud;
    if (e->is_prefix)
        return PC_OK;
    pc_wal_name w;
    char ext[16];
    if (!pc_layout_parse_wal_key(f->server, e->key, &w, ext, sizeof ext)) {
        f->skipped++;
        return PC_OK;
    }
    if (f->want && strcmp(w.name, f->want->name) != 0)
        return PC_OK;
    repo_wal_obj o = {.key = e->key,
                      .ext = ext,
                      .wal = w,
                      .size = e->size,
                      .mtime_us = e->mtime_us,
                      .etag = e->etag};
    return f->cb(&o, f->ud);
}

pc_status repo_wal_find(repo *r, const char *server, const pc_wal_name *w, repo_wal_cb cb,
                        void *ud)
{
    char *prefix = pc_layout_wal_key(server, w, "");
    if (!prefix)
        return PC_E_INTERNAL;
    find_ctx f = {.server = server, .want = w, .cb = cb, .ud = ud};
    pc_status st = repo_list(r, prefix, NULL, on_entry, &f);
    free(prefix);
    return st;
}

pc_status repo_wal_list(repo *r, const char *server, repo_wal_cb cb, void *ud, size_t *skipped)
{
    char *prefix = pc_layout_wals_prefix(server);
    if (!prefix)
        return PC_E_INTERNAL;
    find_ctx f = {.server = server, .cb = cb, .ud = ud};
    pc_status st = repo_list(r, prefix, NULL, on_entry, &f);
    free(prefix);
    if (skipped)
        *skipped = f.skipped;
    return st;
}

pc_status repo_wal_list_prefix(repo *r, const char *server, const char *prefix, repo_wal_cb cb,
                               void *ud)
{
    find_ctx f = {.server = server, .cb = cb, .ud = ud};
    return repo_list(r, prefix, NULL, on_entry, &f);
}
