/*
 * wal-restore: restore_command with prefetch. See wal_restore.h.
 *
 * A call for segment S serves S from the spool when an earlier call
 * fetched it, else downloads S and, in parallel, the next prefetch
 * segments into the spool (temp name, then rename). Each download lists
 * the name's objects (one LIST), picks the complete segment over a
 * .partial, streams GET -> decompress (capped) -> header check -> file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/pool.h"
#include "common/wal.h"
#include "compress/compress.h"
#include "restore/wal_restore.h"
#include "s3/repo.h"
#include "s3/walstore.h"

#define SMALL_FILE_MAX (16 * 1024 * 1024)
#define PREFETCH_MAX   64
#define SEGSIZE_FILE   "segment-size" /* remembered in the spool: the size of the last segment served */

struct rst_wal_ctx {
    const pc_cfg *cfg;
    char *server;
    char *spool;
    int max_parallel;
    cmp_codec codec; /* what this repository archives with: the first key tried */
    uint64_t segsize;
    bool segsize_set;
    pthread_mutex_t mu;
    repo *repo;
};

pc_status rst_wal_ctx_new(const pc_cfg *cfg, rst_wal_ctx **out)
{
    pc_status st;
    const char *server = pc_cfg_str(cfg, "server");
    const char *url = pc_cfg_str(cfg, "repo");
    if (!server) {
        pc_err(PC_E_USAGE, "no server name given");
        pc_err_hint("Give --server NAME (the folder of the cluster in the repository), set "
                    "PGCASK_SERVER, or put `server = NAME` in the configuration file.");
        return PC_E_USAGE;
    }
    if ((st = pc_layout_check_server(server)) != PC_OK)
        return st;
    if (!url) {
        pc_err(PC_E_USAGE, "no repository given");
        pc_err_hint("Give --repo file:///path or s3://bucket/prefix, set PGCASK_REPO, or put "
                    "`repo = ...` in the configuration file.");
        return PC_E_USAGE;
    }
    int64_t mp = pc_cfg_int(cfg, "max-parallel");
    if (mp < 1 || mp > PREFETCH_MAX) {
        pc_err(PC_E_USAGE, "max-parallel must be between 1 and %d (got %lld)", PREFETCH_MAX,
               (long long)mp);
        return PC_E_USAGE;
    }
    rst_wal_ctx *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    c->cfg = cfg;
    c->max_parallel = (int)mp;
    const char *comp = pc_cfg_str(cfg, "compression");
    if (!comp || cmp_codec_parse(comp, &c->codec) != PC_OK) {
        pc_err_clear(); /* restore reads any codec; an odd setting only loses the shortcut */
        c->codec = CMP_ZSTD;
    }
    c->segsize = pc_cfg_size(cfg, "wal-segment-size");
    c->segsize_set = pc_cfg_isset(cfg, "wal-segment-size");
    pthread_mutex_init(&c->mu, NULL);
    if (!pc_wal_segsize_valid(c->segsize)) {
        st = pc_err(PC_E_USAGE, "invalid wal-segment-size %llu", (unsigned long long)c->segsize);
        goto fail;
    }
    c->server = pc_strdup(server);
    if (!c->server) {
        st = PC_E_INTERNAL;
        goto fail;
    }
    if ((st = pc_spool_dir(cfg, url, server, &c->spool)) != PC_OK)
        goto fail;
    *out = c;
    return PC_OK;
fail:
    rst_wal_ctx_free(c);
    return st;
}

void rst_wal_ctx_free(rst_wal_ctx *c)
{
    if (!c)
        return;
    repo_free(c->repo);
    pthread_mutex_destroy(&c->mu);
    free(c->server);
    free(c->spool);
    free(c);
}

static pc_status ctx_repo(rst_wal_ctx *c, repo **out)
{
    pc_status st = PC_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->repo)
        st = repo_open_cfg(c->cfg, &c->repo);
    *out = c->repo;
    pthread_mutex_unlock(&c->mu);
    return st;
}

/* The segment size: the setting when given, else what the spool remembers, else 16 MiB. */
static uint64_t segsize_of(rst_wal_ctx *c)
{
    if (c->segsize_set)
        return c->segsize;
    char *p = pc_path_join(c->spool, SEGSIZE_FILE);
    pc_buf b;
    pc_buf_init(&b, 64);
    uint64_t v = c->segsize;
    pc_error saved;
    pc_err_save(&saved);
    if (p && pc_read_file(p, 63, &b) == PC_OK) {
        uint64_t n = strtoull(pc_buf_cstr(&b), NULL, 10);
        if (pc_wal_segsize_valid(n))
            v = n;
    }
    pc_err_restore(&saved);
    pc_buf_free(&b);
    free(p);
    return v;
}

static void remember_segsize(rst_wal_ctx *c, uint64_t size)
{
    if (c->segsize_set || size == segsize_of(c))
        return;
    char *p = pc_path_join(c->spool, SEGSIZE_FILE);
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)size);
    pc_error saved;
    pc_err_save(&saved);
    if (p)
        pc_write_file_atomic(p, text, (size_t)n, 0600);
    pc_err_restore(&saved);
    free(p);
}

/* ---- one download ---- */

typedef struct fetch {
    rst_wal_ctx *c;
    pc_wal_name w;     /* the name asked for */
    char *dest;        /* final path */
    bool no_partial;
    bool spool;        /* a prefetch into the spool */
    uint64_t segsize;
    /* results */
    pc_status st;
    pc_error err;
    bool partial;      /* served from X.partial */
    uint64_t size;
} fetch;

typedef struct pick {
    char *full;        /* best complete object */
    char *partial;     /* a .partial object */
} pick;

static pc_status on_obj(const repo_wal_obj *o, void *ud)
{
    pick *p = ud;
    size_t stem;
    cmp_codec codec = cmp_codec_from_name(o->key, &stem);
    if (o->ext[0] && codec == CMP_NONE)
        return PC_OK; /* unknown suffix: not a copy we can read (barman skips these too) */
    char **slot = o->wal.kind == PC_WAL_PARTIAL ? &p->partial : &p->full;
    if (!*slot && !(*slot = pc_strdup(o->key)))
        return PC_E_INTERNAL;
    return PC_OK;
}

/* A verifying stage in front of the file: checks the segment header in the first bytes. */
typedef struct head_check {
    pc_sink base;
    const pc_wal_name *w;
    uint64_t *segsize; /* in: expected size; out: the header's when learning */
    bool learn;        /* the segment size is not configured: take it from the header */
    unsigned char head[64];
    size_t have;
    bool done;
} head_check;

static pc_status hc_write(pc_sink *s, const void *d, size_t n)
{
    head_check *h = (head_check *)s;
    if (!h->done) {
        size_t take = n < sizeof h->head - h->have ? n : sizeof h->head - h->have;
        memcpy(h->head + h->have, d, take);
        h->have += take;
        if (h->have == sizeof h->head) {
            pc_wal_header hdr;
            if (h->learn && pc_wal_read_header(h->head, h->have, &hdr) == PC_OK &&
                pc_wal_segsize_valid(hdr.seg_size))
                *h->segsize = hdr.seg_size;
            pc_status st = pc_wal_check_header(h->w, h->head, h->have, *h->segsize);
            if (st)
                return st;
            h->done = true;
        }
    }
    return pc_sink_write(s->next, d, n);
}

static pc_status hc_finish(pc_sink *s)
{
    head_check *h = (head_check *)s;
    if (!h->done)
        return pc_err(PC_E_CORRUPT, "WAL file %s is only %zu bytes long", h->w->name, h->have);
    return PC_OK;
}

static void hc_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops hc_ops = {
    .name = "wal-header", .write = hc_write, .finish = hc_finish, .destroy = hc_destroy};

static pc_status head_check_new(const pc_wal_name *w, uint64_t *segsize, bool learn,
                                pc_sink *next, pc_sink **out)
{
    head_check *h = pc_calloc(1, sizeof *h);
    if (!h) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&h->base, &hc_ops, next);
    h->w = w;
    h->segsize = segsize;
    h->learn = learn;
    *out = &h->base;
    return PC_OK;
}

/*
 * The last checks before the file is committed: a complete segment has
 * exactly the segment size, and an uncompressed object (no codec checksum
 * to catch a damaged byte) matches the SHA-256 wal-archive stored in its
 * metadata. `info` is filled by repo_get before the first byte arrives.
 */
typedef struct wal_verify {
    pc_sink base;
    const fetch *f;
    const char *key;
    const repo_obj *info;
    pc_hash *h; /* NULL when the codec checks the data itself */
    uint64_t n;
} wal_verify;

static pc_status wv_write(pc_sink *s, const void *d, size_t n)
{
    wal_verify *v = (wal_verify *)s;
    v->n += n;
    if (v->h)
        pc_hash_update(v->h, d, n);
    return pc_sink_write(s->next, d, n);
}

static pc_status wv_finish(pc_sink *s)
{
    wal_verify *v = (wal_verify *)s;
    const fetch *f = v->f;
    if (f->w.kind == PC_WAL_SEGMENT && !f->partial && v->n != f->segsize)
        return pc_err(PC_E_CORRUPT, "WAL file %s from \"%s\" has %llu bytes, not %llu", f->w.name,
                      v->key, (unsigned long long)v->n, (unsigned long long)f->segsize);
    const char *want = v->h ? repo_obj_meta(v->info, "pgcask-sha256") : NULL;
    if (want) {
        unsigned char d[PC_SHA256_LEN];
        char hex[2 * PC_SHA256_LEN + 1];
        pc_hash_final(v->h, d);
        pc_hex(d, sizeof d, hex);
        if (strcmp(hex, want) != 0) {
            pc_err(PC_E_CORRUPT, "WAL file %s from \"%s\" does not match the checksum stored "
                                 "with it",
                   f->w.name, v->key);
            pc_err_hint("The stored object is damaged; it was not restored.");
            return PC_E_CORRUPT;
        }
    }
    return PC_OK;
}

static void wv_destroy(pc_sink *s)
{
    pc_hash_free(((wal_verify *)s)->h);
    free(s);
}

static const pc_sink_ops wv_ops = {
    .name = "wal-verify", .write = wv_write, .finish = wv_finish, .destroy = wv_destroy};

/* Download key (holding codec) into f->dest. PC_E_NOT_FOUND when the key does not exist. */
static pc_status download(fetch *f, repo *r, const char *key, cmp_codec codec)
{
    bool seg = f->w.kind == PC_WAL_SEGMENT || f->w.kind == PC_WAL_PARTIAL;
    uint64_t cap = seg ? PC_WAL_MAX_SEGSIZE : SMALL_FILE_MAX;
    repo_obj info;
    memset(&info, 0, sizeof info);
    pc_sink *head;
    pc_status st = pc_sink_file_new(f->dest, 0600, 0, &head);
    if (st)
        return st;
    wal_verify *v = pc_calloc(1, sizeof *v);
    if (!v || (codec == CMP_NONE && pc_hash_new(PC_HASH_SHA256, &v->h) != PC_OK)) {
        free(v);
        pc_sink_free(head);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&v->base, &wv_ops, head);
    v->f = f;
    v->key = key;
    v->info = &info;
    head = &v->base;
    if (seg)
        st = head_check_new(&f->w, &f->segsize, !f->c->segsize_set, head, &head);
    if (st == PC_OK)
        st = cmp_decompress_new(codec, cap, head, &head);
    if (st)
        return st;
    st = repo_get(r, key, 0, 0, head, &info);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    if (st == PC_OK)
        f->size = v->n;
    pc_sink_free(head);
    if (st && st != PC_E_NOT_FOUND)
        pc_err_context("restoring %s from \"%s\"", f->w.name, key);
    return st;
}

static pc_status fetch_run(fetch *f)
{
    repo *r;
    pc_status st = ctx_repo(f->c, &r);
    if (st)
        return st;
    /*
     * The object is almost always stored under the codec this repository
     * archives with: ask for that key directly, and list the name's objects
     * only when it is not there (another codec, or only a .partial).
     */
    char *guess = pc_layout_wal_key(f->c->server, &f->w, cmp_codec_ext(f->c->codec));
    if (!guess)
        return PC_E_INTERNAL;
    st = download(f, r, guess, f->c->codec);
    if (st == PC_OK && !f->spool)
        pc_debug("restored %s from \"%s\"", f->w.name, guess);
    free(guess);
    if (st != PC_E_NOT_FOUND)
        return st;
    pc_err_clear();

    pick p = {0};
    st = repo_wal_find(r, f->c->server, &f->w, on_obj, &p);
    if (st == PC_OK && !p.full && f->w.kind == PC_WAL_SEGMENT && !f->no_partial) {
        /* the last segment of a timeline may only exist as .partial (barman serves it too) */
        char pname[PC_WAL_NAME_LEN + sizeof ".partial"];
        memcpy(pname, f->w.name, PC_WAL_NAME_LEN);
        memcpy(pname + PC_WAL_NAME_LEN, ".partial", sizeof ".partial");
        pc_wal_name pw;
        st = pc_wal_parse(pname, &pw);
        if (st == PC_OK)
            st = repo_wal_find(r, f->c->server, &pw, on_obj, &p);
    }
    const char *key = p.full ? p.full : p.partial;
    if (st == PC_OK && !key) {
        pc_err(PC_E_NOT_FOUND, "WAL file %s is not in the archive of server \"%s\"", f->w.name,
               f->c->server);
        st = PC_E_NOT_FOUND;
    }
    if (st == PC_OK) {
        f->partial = !p.full;
        size_t stem;
        st = download(f, r, key, cmp_codec_from_name(key, &stem));
        if (st == PC_OK && !f->spool)
            pc_debug("restored %s from \"%s\"", f->w.name, key);
    }
    free(p.full);
    free(p.partial);
    return st;
}

static pc_status fetch_task(void *arg)
{
    fetch *f = arg;
    pc_err_clear();
    f->st = fetch_run(f);
    if (f->st != PC_OK)
        pc_err_save(&f->err);
    return PC_OK;
}

/* ---- spool ---- */

/* Move a spool file to dest: rename when on the same file system, else copy durably. */
static pc_status spool_take(const char *src, const char *dest)
{
    if (rename(src, dest) == 0)
        return pc_fsync_parent(dest);
    if (errno != EXDEV)
        return pc_err(PC_E_IO, "could not move \"%s\" to \"%s\": %m", src, dest);
    pc_sink *s;
    pc_status st = pc_sink_file_new(dest, 0600, 0, &s);
    if (st)
        return st;
    st = pc_source_file(src, s, NULL);
    pc_sink_free(s);
    if (st == PC_OK)
        unlink(src);
    return st;
}

/*
 * Remove spool files that can no longer be asked for: other timelines, and
 * segments before the one requested. Temp files of live fetches are left.
 */
static void spool_clean(const char *spool, const pc_wal_name *req, uint64_t segsize)
{
    DIR *d = opendir(spool);
    if (!d)
        return;
    uint64_t req_segno = pc_wal_name_segno(req, segsize);
    struct dirent *e;
    pc_error saved;
    pc_err_save(&saved);
    while ((e = readdir(d)) != NULL) {
        pc_wal_name w;
        if (!pc_wal_is_segment_name(e->d_name))
            continue;
        if (pc_wal_parse(e->d_name, &w) != PC_OK)
            continue;
        if (w.tli != req->tli || pc_wal_name_segno(&w, segsize) < req_segno) {
            char *p = pc_path_join(spool, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
    }
    closedir(d);
    pc_err_restore(&saved);
}

pc_status rst_wal_restore(rst_wal_ctx *c, const char *wal_name, const char *dest,
                          const rst_wal_opts *opts, rst_wal_result *result)
{
    rst_wal_opts defaults = {0};
    rst_wal_result dummy;
    const rst_wal_opts *o = opts ? opts : &defaults;
    rst_wal_result *res = result ? result : &dummy;
    memset(res, 0, sizeof *res);

    pc_wal_name w;
    pc_status st = pc_wal_parse(wal_name, &w);
    if (st) {
        pc_err_hint("restore_command must be given %%f, the name of the WAL file to restore.");
        return st;
    }
    if (!dest || !*dest)
        return pc_err(PC_E_USAGE, "no destination path given for %s", w.name);
    if (pc_is_dir(dest)) {
        pc_err(PC_E_USAGE, "destination \"%s\" is a directory", dest);
        pc_err_hint("restore_command must be given %%p, the path to write the file to.");
        return PC_E_USAGE;
    }
    uint64_t segsize = segsize_of(c);
    bool regular = w.kind == PC_WAL_SEGMENT;

    if (regular) {
        char *sp = pc_path_join(c->spool, w.name);
        if (!sp)
            return PC_E_INTERNAL;
        if (!o->rewind && pc_path_exists(sp)) {
            st = spool_take(sp, dest);
            free(sp);
            if (st == PC_OK) {
                res->from_spool = true;
                spool_clean(c->spool, &w, segsize);
                pc_debug("restored %s from the prefetch spool", w.name);
                return PC_OK;
            }
            /* a spool problem is not fatal: fall back to the store */
            pc_warn("could not use the prefetched %s: %s", w.name, pc_err_get()->message);
            pc_err_clear();
        } else {
            free(sp);
        }
        spool_clean(c->spool, &w, segsize);
    }

    int ahead = 0;
    if (regular && !o->rewind && o->prefetch >= 0)
        ahead = o->prefetch > 0 ? o->prefetch : c->max_parallel - 1;
    if (ahead > PREFETCH_MAX)
        ahead = PREFETCH_MAX;

    fetch *fs = pc_calloc((size_t)ahead + 1, sizeof *fs);
    if (!fs)
        return PC_E_INTERNAL;
    int n = 0;
    fs[n++] = (fetch){.c = c, .w = w, .dest = pc_strdup(dest), .no_partial = o->no_partial,
                      .segsize = segsize};
    char next[PC_WAL_NAME_MAX];
    snprintf(next, sizeof next, "%s", w.name);
    for (int i = 0; i < ahead; i++) {
        if (pc_wal_next(next, segsize, next) != PC_OK) {
            pc_err_clear();
            break;
        }
        char *sp = pc_path_join(c->spool, next);
        if (!sp)
            break;
        if (pc_path_exists(sp)) {
            free(sp);
            continue; /* fetched by an earlier call */
        }
        fetch *f = &fs[n];
        *f = (fetch){.c = c, .dest = sp, .no_partial = true, .spool = true, .segsize = segsize};
        pc_wal_parse(next, &f->w);
        n++;
    }
    if (!fs[0].dest) {
        st = PC_E_INTERNAL;
        goto out;
    }

    if (n == 1) {
        fetch_task(&fs[0]);
    } else {
        pc_pool *pool;
        st = pc_pool_new((size_t)n, (size_t)n, &pool);
        for (int i = 0; st == PC_OK && i < n; i++)
            st = pc_pool_submit(pool, fetch_task, &fs[i]);
        if (pool)
            pc_pool_wait(pool);
        pc_pool_free(pool);
        if (st)
            goto out;
    }
    for (int i = 1; i < n; i++) {
        if (fs[i].st == PC_OK)
            res->prefetched++;
        else if (fs[i].st == PC_E_NOT_FOUND)
            res->prefetch_missing = true;
        else
            pc_info("could not prefetch %s: %s", fs[i].w.name, fs[i].err.message);
    }
    st = fs[0].st;
    if (st == PC_OK) {
        res->served_partial = fs[0].partial;
        if (regular && !fs[0].partial)
            remember_segsize(c, fs[0].size);
        if (fs[0].partial)
            pc_info("restored %s from its .partial file", w.name);
    } else {
        pc_err_restore(&fs[0].err);
    }
out:
    for (int i = 0; i < n; i++)
        free(fs[i].dest);
    free(fs);
    return st;
}
