/*
 * wal-archive: archive_command. See archiver.h for the guarantees and
 * docs/wal.md for the design.
 *
 * One call: claim the requested file in the catalog (or find it already
 * there), add up to max-parallel - 1 other .ready files, then compress and
 * upload them concurrently. Every upload is preceded by a listing of the
 * name, so nothing already stored is overwritten. The catalog records a
 * file only after the store confirmed it; the requested file decides the
 * result, the extras only save later calls their work.
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

#include "archiver/archiver.h"
#include "archiver/archiver_int.h"
#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/pool.h"
#include "common/timeutil.h"
#include "common/wal.h"
#include "compress/compress.h"
#include "s3/repo.h"
#include "s3/walstore.h"

#define READ_CHUNK        (1024 * 1024)
#define SMALL_FILE_MAX    (16 * 1024 * 1024) /* .history and .backup files are a few hundred bytes */
#define CLAIM_STALE_MS    (15 * 60 * 1000)   /* claims of other hosts expire (same host: pid check) */
#define CLAIM_WAIT_MS     (10 * 60 * 1000)   /* how long to wait for another archiver of the same file */
#define MAX_PARALLEL_MAX  64
#define META_SHA256       "pgcask-sha256"
#define META_SIZE         "pgcask-size"

struct arc_ctx {
    const pc_cfg *cfg;
    char *server;
    cmp_codec codec;
    int level;
    int max_parallel;
    uint64_t segsize;
    bool segsize_set;
    char *catalog_path;
    char *history_tags;
    pthread_mutex_t mu; /* guards repo */
    repo *repo;
};

/* ---- context ---- */

pc_status arc_ctx_new(const pc_cfg *cfg, arc_ctx **out)
{
    pc_status st;
    const char *server = pc_cfg_str(cfg, "server");
    if (!server) {
        pc_err(PC_E_USAGE, "no server name given");
        pc_err_hint("Give --server NAME (the folder of this cluster in the repository), set "
                    "PGCASK_SERVER, or put `server = NAME` in the configuration file.");
        return PC_E_USAGE;
    }
    if ((st = pc_layout_check_server(server)) != PC_OK)
        return st;
    if (!pc_cfg_str(cfg, "repo")) {
        pc_err(PC_E_USAGE, "no repository given");
        pc_err_hint("Give --repo file:///path or s3://bucket/prefix, set PGCASK_REPO, or put "
                    "`repo = ...` in the configuration file.");
        return PC_E_USAGE;
    }
    arc_ctx *a = pc_calloc(1, sizeof *a);
    if (!a)
        return PC_E_INTERNAL;
    a->cfg = cfg;
    pthread_mutex_init(&a->mu, NULL);
    a->server = pc_strdup(server);

    const char *comp = pc_cfg_str(cfg, "compression");
    if ((st = cmp_codec_parse(comp ? comp : "zstd", &a->codec)) != PC_OK) {
        pc_err_context("invalid compression");
        goto fail;
    }
    a->level = CMP_LEVEL_DEFAULT;
    const char *lvl = pc_cfg_str(cfg, "compression-level");
    if (lvl && (st = cmp_level_parse(a->codec, lvl, &a->level)) != PC_OK)
        goto fail;
    if (!lvl && a->codec == CMP_ZSTD)
        a->level = 1; /* WAL is archived on the critical path: the fastest level (docs/performance.md) */

    int64_t mp = pc_cfg_int(cfg, "max-parallel");
    if (mp < 1 || mp > MAX_PARALLEL_MAX) {
        st = pc_err(PC_E_USAGE, "max-parallel must be between 1 and %d (got %lld)",
                    MAX_PARALLEL_MAX, (long long)mp);
        goto fail;
    }
    a->max_parallel = (int)mp;
    a->segsize = pc_cfg_size(cfg, "wal-segment-size");
    a->segsize_set = pc_cfg_isset(cfg, "wal-segment-size");
    if (!pc_wal_segsize_valid(a->segsize)) {
        st = pc_err(PC_E_USAGE, "invalid wal-segment-size %llu",
                    (unsigned long long)a->segsize);
        pc_err_hint("The WAL segment size is a power of two between 1MiB and 1GiB "
                    "(initdb --wal-segsize).");
        goto fail;
    }
    a->history_tags = repo_history_tags_cfg(cfg);

    const char *cat_path = pc_cfg_str(cfg, "catalog");
    if (cat_path) {
        a->catalog_path = pc_strdup(cat_path);
    } else {
        char *state;
        if ((st = pc_state_dir(cfg, &state)) != PC_OK)
            goto fail;
        st = cat_default_path(state, pc_cfg_str(cfg, "repo"), a->server, &a->catalog_path);
        free(state);
        if (st)
            goto fail;
    }
    if (!a->server || !a->catalog_path) {
        st = PC_E_INTERNAL;
        goto fail;
    }
    *out = a;
    return PC_OK;
fail:
    arc_ctx_free(a);
    return st;
}

void arc_ctx_free(arc_ctx *a)
{
    if (!a)
        return;
    repo_free(a->repo);
    pthread_mutex_destroy(&a->mu);
    free(a->server);
    free(a->catalog_path);
    free(a->history_tags);
    free(a);
}

const char *arc_ctx_server(const arc_ctx *a)
{
    return a->server;
}

const char *arc_ctx_catalog_path(const arc_ctx *a)
{
    return a->catalog_path;
}

uint64_t arc_ctx_segsize(const arc_ctx *a)
{
    return a->segsize;
}

pc_status arc_ctx_repo(arc_ctx *a, repo **out)
{
    pc_status st = PC_OK;
    pthread_mutex_lock(&a->mu);
    if (!a->repo)
        st = repo_open_cfg(a->cfg, &a->repo);
    *out = a->repo;
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* ---- one file ---- */

/*
 * One listing for a whole batch: the files of a batch are neighbours in one
 * hash directory, so a LIST of their longest common name prefix answers
 * "is it stored already?" for all of them. The first job that needs the
 * answer runs the listing; the others wait for it.
 */
#define BATCH_MAX MAX_PARALLEL_MAX

typedef struct batch_list {
    pthread_mutex_t mu;
    bool done;
    pc_status st;
    pc_error err;
    char *prefix; /* "<server>/wals/<hashdir>/<common part of the names>" */
    size_t n;
    struct {
        char name[PC_WAL_NAME_MAX];
        char *key;
        uint64_t size;
    } found[BATCH_MAX];
} batch_list;

typedef struct wal_job {
    arc_ctx *a;
    char *path;
    pc_wal_name w;
    uint64_t segsize; /* segment size this file must have */
    batch_list *bl;   /* the batch's shared listing, or NULL: list this name alone */
    /* results */
    pc_status st;
    pc_error err;
    bool already; /* stored before, same content */
    char sha256[2 * PC_SHA256_LEN + 1];
    uint64_t size;
    uint64_t stored_size;
    cmp_codec codec;
    char *key;
    struct stat sb;
} wal_job;

static void job_free(wal_job *j)
{
    if (!j)
        return;
    free(j->path);
    free(j->key);
    free(j);
}

static bool is_segment_like(const pc_wal_name *w)
{
    return w->kind == PC_WAL_SEGMENT || w->kind == PC_WAL_PARTIAL;
}

/* Checks on the local file before anything is read: kind, type, size. */
static pc_status check_local(wal_job *j, int fd)
{
    if (fstat(fd, &j->sb) != 0)
        return pc_err(PC_E_IO, "could not stat \"%s\": %m", j->path);
    if (!S_ISREG(j->sb.st_mode)) {
        pc_err(PC_E_USAGE, "\"%s\" is not a regular file", j->path);
        pc_err_hint("archive_command gets the WAL file's path, %%p.");
        return PC_E_USAGE;
    }
    uint64_t size = (uint64_t)j->sb.st_size;
    if (is_segment_like(&j->w)) {
        if (j->a->segsize_set && size != j->a->segsize) {
            pc_err(PC_E_USAGE, "\"%s\" has %llu bytes, not the WAL segment size %llu", j->path,
                   (unsigned long long)size, (unsigned long long)j->a->segsize);
            pc_err_hint("Set wal-segment-size to the cluster's segment size "
                        "(SHOW wal_segment_size), or check that %%p is a WAL segment.");
            return PC_E_USAGE;
        }
        if (!pc_wal_segsize_valid(size)) {
            pc_err(PC_E_USAGE, "\"%s\" has %llu bytes: not a WAL segment size", j->path,
                   (unsigned long long)size);
            pc_err_hint("A WAL segment is a power of two between 1MiB and 1GiB; the file may "
                        "be truncated or not a WAL file.");
            return PC_E_USAGE;
        }
        j->segsize = size;
    } else if (size > SMALL_FILE_MAX) {
        return pc_err(PC_E_USAGE, "\"%s\" has %llu bytes: too large for a %s file", j->path,
                      (unsigned long long)size,
                      j->w.kind == PC_WAL_HISTORY ? "timeline history" : "backup history");
    }
    return PC_OK;
}

/*
 * Read the file once: SHA-256 of the raw bytes, header check, and a
 * compressed copy in `out` (NULL: hash only).
 */
static pc_status read_file(wal_job *j, int fd, pc_buf *out)
{
    pc_sink *dst = NULL, *z = NULL;
    pc_hash *h = NULL;
    unsigned char *chunk = NULL;
    pc_status st = out ? pc_sink_mem_new(out, &dst) : pc_sink_null_new(&dst);
    if (st)
        return st;
    if (out)
        st = cmp_compress_new(j->a->codec, j->a->level, 1, dst, &z);
    else
        z = dst;
    if (st)
        return st;
    st = pc_hash_new(PC_HASH_SHA256, &h);
    chunk = st ? NULL : pc_malloc(READ_CHUNK);
    if (!chunk && st == PC_OK)
        st = PC_E_INTERNAL;
    uint64_t total = 0;
    bool checked = !is_segment_like(&j->w);
    while (st == PC_OK) {
        ssize_t n = read(fd, chunk, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = pc_err(PC_E_IO, "could not read \"%s\": %m", j->path);
            break;
        }
        if (n == 0)
            break;
        if (!checked) {
            /*
             * The segment size was taken from the file's size: a valid WAL
             * header of this name with another segment size means the file
             * is not a whole segment, the usage error check_local reports
             * when wal-segment-size is set.
             */
            pc_wal_header hdr;
            if (!j->a->segsize_set && (size_t)n >= 64 &&
                pc_wal_read_header(chunk, (size_t)n, &hdr) == PC_OK &&
                hdr.seg_size != j->segsize && pc_wal_segsize_valid(hdr.seg_size) &&
                pc_wal_check_header(&j->w, chunk, (size_t)n, hdr.seg_size) == PC_OK) {
                pc_err(PC_E_USAGE, "\"%s\" has %llu bytes, not the WAL segment size %llu of its "
                       "header", j->path, (unsigned long long)j->segsize,
                       (unsigned long long)hdr.seg_size);
                pc_err_hint("Check that %%p is a whole WAL segment (a truncated or partial copy "
                            "is not archived).");
                st = PC_E_USAGE;
                break;
            }
            /* the long page header sits at the start of the first page */
            st = pc_wal_check_header(&j->w, chunk, (size_t)n, j->segsize);
            if (st) {
                pc_err_hint("The file does not look like the WAL segment its name says; it is "
                            "not archived.");
                break;
            }
            checked = true;
        }
        pc_hash_update(h, chunk, (size_t)n);
        total += (uint64_t)n;
        st = pc_sink_write(z, chunk, (size_t)n);
    }
    if (st == PC_OK && total != (uint64_t)j->sb.st_size)
        st = pc_err(PC_E_IO, "\"%s\" changed size while it was read", j->path);
    if (st == PC_OK)
        st = pc_sink_finish(z);
    if (st == PC_OK) {
        unsigned char d[PC_SHA256_LEN];
        pc_hash_final(h, d);
        pc_hex(d, sizeof d, j->sha256);
        j->size = total;
    }
    free(chunk);
    pc_hash_free(h);
    pc_sink_free(z);
    return st;
}

typedef struct found {
    char *key;
    char ext[16];
    uint64_t size;
    int n;
} found;

static pc_status on_found(const repo_wal_obj *o, void *ud)
{
    found *f = ud;
    size_t stem;
    cmp_codec c = cmp_codec_from_name(o->key, &stem);
    /* an unknown suffix is not a copy of this file (barman skips those too) */
    if (o->ext[0] && c == CMP_NONE)
        return PC_OK;
    f->n++;
    if (!f->key) {
        f->key = pc_strdup(o->key);
        snprintf(f->ext, sizeof f->ext, "%s", o->ext);
        f->size = o->size;
        if (!f->key)
            return PC_E_INTERNAL;
    }
    return PC_OK;
}

/* SHA-256 (hex) of the uncompressed content of a stored WAL object. */
static pc_status stored_sha256(repo *r, const char *key, uint64_t segsize, char *hex)
{
    repo_obj info;
    pc_status st = repo_head(r, key, &info);
    if (st)
        return st;
    const char *m = repo_obj_meta(&info, META_SHA256);
    if (m && strlen(m) == 2 * PC_SHA256_LEN) {
        snprintf(hex, 2 * PC_SHA256_LEN + 1, "%s", m);
        return PC_OK;
    }
    /* written by another tool: read it back */
    size_t stem;
    cmp_codec c = cmp_codec_from_name(key, &stem);
    pc_sink *null, *hash, *head;
    if ((st = pc_sink_null_new(&null)) != PC_OK)
        return st;
    if ((st = pc_sink_hash_new(PC_HASH_SHA256, null, &hash)) != PC_OK)
        return st;
    if ((st = cmp_decompress_new(c, segsize > SMALL_FILE_MAX ? segsize : SMALL_FILE_MAX, hash,
                                 &head)) != PC_OK)
        return st;
    st = repo_get(r, key, 0, 0, head, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    if (st == PC_OK) {
        unsigned char d[PC_SHA256_LEN];
        pc_sink_hash_result(hash, d, sizeof d);
        pc_hex(d, sizeof d, hex);
    }
    pc_sink_free(head);
    if (st)
        pc_err_context("reading back the stored \"%s\"", key);
    return st;
}

static pc_status conflict(const wal_job *j, const char *key)
{
    pc_err(PC_E_CONFLICT, "WAL file %s is already in the repository as \"%s\" with different "
                          "content; it was not overwritten",
           j->w.name, key);
    pc_err_hint("Two clusters may be archiving to the same server name: give each cluster its "
                "own --server. The stored file was left as it is.");
    return PC_E_CONFLICT;
}

static pc_status on_batch(const repo_wal_obj *o, void *ud)
{
    batch_list *bl = ud;
    size_t stem;
    if (o->ext[0] && cmp_codec_from_name(o->key, &stem) == CMP_NONE)
        return PC_OK;
    for (size_t i = 0; i < bl->n; i++)
        if (strcmp(bl->found[i].name, o->wal.name) == 0)
            return PC_OK; /* the first copy in key order, as repo_wal_find gives it */
    if (bl->n == BATCH_MAX)
        return PC_OK;
    snprintf(bl->found[bl->n].name, sizeof bl->found[0].name, "%s", o->wal.name);
    bl->found[bl->n].size = o->size;
    if (!(bl->found[bl->n].key = pc_strdup(o->key)))
        return PC_E_INTERNAL;
    bl->n++;
    return PC_OK;
}

static pc_status batch_list_run(batch_list *bl, repo *r, const char *server)
{
    pc_status st = PC_OK;
    pthread_mutex_lock(&bl->mu);
    if (!bl->done) {
        st = repo_wal_list_prefix(r, server, bl->prefix, on_batch, bl);
        if (st == PC_E_NO_BUCKET) {
            /* once for the batch, as barman-cloud-wal-archive does for each file */
            pc_err_clear();
            st = repo_create_bucket(r);
            if (st == PC_OK) {
                pc_info("created the bucket of %s", repo_url(r));
                st = repo_wal_list_prefix(r, server, bl->prefix, on_batch, bl);
            }
        }
        bl->st = st;
        if (st)
            pc_err_save(&bl->err);
        bl->done = true;
    } else {
        st = bl->st;
        if (st)
            pc_err_restore(&bl->err);
    }
    pthread_mutex_unlock(&bl->mu);
    return st;
}

/* The stored copy of j's file, from the batch listing or a listing of its own. */
static pc_status find_stored(wal_job *j, repo *r, found *f)
{
    if (!j->bl)
        return repo_wal_find(r, j->a->server, &j->w, on_found, f);
    pc_status st = batch_list_run(j->bl, r, j->a->server);
    if (st)
        return st;
    for (size_t i = 0; i < j->bl->n; i++) {
        if (strcmp(j->bl->found[i].name, j->w.name) == 0) {
            f->key = pc_strdup(j->bl->found[i].key);
            f->size = j->bl->found[i].size;
            f->n = 1;
            return f->key ? PC_OK : PC_E_INTERNAL;
        }
    }
    return PC_OK;
}

static pc_status job_upload(wal_job *j)
{
    arc_ctx *a = j->a;
    repo *r = NULL;
    pc_buf comp;
    pc_buf_init(&comp, PC_BUF_NOCAP);
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            pc_err(PC_E_NOT_FOUND, "WAL file \"%s\" does not exist", j->path);
            pc_err_hint("archive_command must be given %%p, the path of the file to archive.");
            return PC_E_NOT_FOUND;
        }
        return pc_err(PC_E_IO, "could not open \"%s\": %m", j->path);
    }
    pc_status st = check_local(j, fd);
    if (st == PC_OK)
        st = read_file(j, fd, &comp);
    close(fd);
    if (st == PC_OK)
        st = arc_ctx_repo(a, &r);

    found f = {0};
    if (st == PC_OK)
        st = find_stored(j, r, &f);
    if (st == PC_E_NO_BUCKET && !j->bl) {
        /* as barman-cloud-wal-archive does: the first archive creates the bucket */
        pc_err_clear();
        st = repo_create_bucket(r);
        if (st == PC_OK) {
            pc_info("created the bucket of %s", repo_url(r));
            st = repo_wal_find(r, a->server, &j->w, on_found, &f);
        }
    }
    if (st == PC_OK && f.key) {
        /* stored before (an earlier call that failed late, another tool, another host) */
        char hex[2 * PC_SHA256_LEN + 1];
        st = stored_sha256(r, f.key, j->segsize, hex);
        if (st == PC_OK && strcmp(hex, j->sha256) != 0)
            st = conflict(j, f.key);
        if (st == PC_OK) {
            pc_warn("WAL file %s was already archived as \"%s\" with the same content", j->w.name,
                    f.key);
            j->already = true;
            j->key = f.key;
            f.key = NULL;
            j->stored_size = f.size;
            size_t stem;
            j->codec = cmp_codec_from_name(j->key, &stem);
        }
    } else if (st == PC_OK) {
        j->key = pc_layout_wal_key(a->server, &j->w, cmp_codec_ext(a->codec));
        char sizetext[24];
        snprintf(sizetext, sizeof sizetext, "%llu", (unsigned long long)j->size);
        repo_meta meta[2] = {{META_SHA256, j->sha256}, {META_SIZE, sizetext}};
        repo_put_opts po = {.meta = meta, .nmeta = 2};
        if (j->w.kind == PC_WAL_HISTORY && a->history_tags)
            po.tags = a->history_tags;
        st = j->key ? repo_put(r, j->key, comp.data, comp.len, &po) : PC_E_INTERNAL;
        if (st == PC_OK) {
            j->stored_size = comp.len;
            j->codec = a->codec;
        }
    }
    free(f.key);
    pc_buf_free(&comp);
    return st;
}

static pc_status job_task(void *arg)
{
    wal_job *j = arg;
    pc_err_clear();
    j->st = job_upload(j);
    if (j->st != PC_OK)
        pc_err_save(&j->err);
    return PC_OK; /* each job keeps its own result */
}

/* ---- catalog ---- */

static void job_row(const wal_job *j, cat_wal *row)
{
    memset(row, 0, sizeof *row);
    row->name = j->w.name;
    row->codec = (int)j->codec;
    row->size = j->size;
    row->stored_size = j->stored_size;
    row->sha256 = j->sha256;
    row->key = j->key;
    row->stored_at = pc_now_us();
    row->src_ino = (uint64_t)j->sb.st_ino;
    row->src_mtime_ns = (int64_t)j->sb.st_mtim.tv_sec * 1000000000 + j->sb.st_mtim.tv_nsec;
}

/*
 * The file is in the catalog: is the local file the one that was stored?
 * A catalog row that disagrees with the file is confirmed in the store
 * before anything is refused: when the object it names is gone (the
 * repository was emptied or recreated), the row is dropped and *stale is
 * set, and the caller archives the file as if the catalog had never seen it.
 */
static pc_status check_stored(arc_ctx *a, cat *c, const char *path, const pc_wal_name *w,
                              arc_wal_result *res, bool *stale)
{
    *stale = false;
    cat_wal row;
    pc_status st = cat_wal_get(c, w->name, &row);
    if (st)
        return st;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        cat_wal_clear(&row);
        if (errno == ENOENT)
            return pc_err(PC_E_NOT_FOUND, "WAL file \"%s\" does not exist", path);
        return pc_err(PC_E_IO, "could not stat \"%s\": %m", path);
    }
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (row.src_ino == (uint64_t)sb.st_ino && row.src_mtime_ns == mtime_ns &&
        row.size == (uint64_t)sb.st_size) {
        /* the very file we uploaded, untouched since: the common fast path */
        cat_wal_clear(&row);
        pc_info("WAL file %s is already archived", w->name);
        res->already = true;
        return PC_OK;
    }
    /* another copy under the same name: compare contents before saying yes */
    wal_job j = {.a = a, .w = *w, .path = pc_strdup(path)};
    if (!j.path) {
        cat_wal_clear(&row);
        return PC_E_INTERNAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = pc_err(PC_E_IO, "could not open \"%s\": %m", path);
        cat_wal_clear(&row);
        free(j.path);
        return st;
    }
    st = check_local(&j, fd);
    if (st == PC_OK)
        st = read_file(&j, fd, NULL);
    close(fd);
    if (st == PC_OK) {
        char stored[2 * PC_SHA256_LEN + 1] = "";
        if (row.sha256)
            snprintf(stored, sizeof stored, "%s", row.sha256);
        if (strcmp(stored, j.sha256) != 0) {
            /* the catalog says other bytes (or does not say): ask the store */
            repo *r;
            st = arc_ctx_repo(a, &r);
            if (st == PC_OK)
                st = stored_sha256(r, row.key, j.segsize, stored);
            if (st == PC_E_NOT_FOUND) {
                pc_err_clear();
                pc_warn("the catalog lists WAL file %s as \"%s\", which the repository does not "
                        "have: archiving it again",
                        w->name, row.key);
                const char *names[] = {w->name};
                st = cat_wal_delete(c, names, 1, NULL);
                if (st == PC_OK)
                    *stale = true;
                cat_wal_clear(&row);
                free(j.path);
                return st;
            }
        }
        if (st == PC_OK && strcmp(stored, j.sha256) != 0)
            st = conflict(&j, row.key);
        if (st == PC_OK) {
            pc_warn("WAL file %s was already archived with the same content", w->name);
            res->already = true;
            /* remember this copy, so the next call for it takes the fast path */
            cat_wal upd = row;
            upd.sha256 = j.sha256;
            upd.size = j.size;
            upd.src_ino = (uint64_t)j.sb.st_ino;
            upd.src_mtime_ns = (int64_t)j.sb.st_mtim.tv_sec * 1000000000 + j.sb.st_mtim.tv_nsec;
            pc_error saved;
            pc_err_save(&saved);
            if (cat_wal_put(c, &upd, j.segsize) != PC_OK)
                pc_debug("could not update the catalog row of %s", w->name);
            pc_err_restore(&saved);
        }
    }
    cat_wal_clear(&row);
    free(j.path);
    return st;
}

static wal_job *job_new(arc_ctx *a, const char *path, const pc_wal_name *w)
{
    wal_job *j = pc_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->a = a;
    j->w = *w;
    j->path = pc_strdup(path);
    if (!j->path) {
        free(j);
        return NULL;
    }
    return j;
}

static pc_status archive_uncataloged(arc_ctx *a, const char *wal_path, const pc_wal_name *w,
                                     arc_wal_result *res)
{
    wal_job *j = job_new(a, wal_path, w);
    if (!j)
        return PC_E_INTERNAL;
    job_task(j);
    pc_status st = j->st;
    if (st == PC_OK) {
        res->already = j->already;
        res->batch = 1;
    } else {
        pc_err_restore(&j->err);
    }
    job_free(j);
    return st;
}

/* .ready files next to wal_path, history files first then by name (PostgreSQL's order). */
static int ready_cmp(const void *x, const void *y)
{
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    bool ha = strstr(a, ".history") != NULL, hb = strstr(b, ".history") != NULL;
    if (ha != hb)
        return ha ? -1 : 1;
    return strcmp(a, b);
}

static pc_status list_ready(const char *waldir, const char *skip, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    char *sd = pc_path_join(waldir, "archive_status");
    if (!sd)
        return PC_E_INTERNAL;
    DIR *d = opendir(sd);
    free(sd);
    if (!d)
        return PC_OK; /* a copied file outside pg_wal: archive just that */
    size_t cap = 0;
    struct dirent *e;
    pc_status st = PC_OK;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strcmp(e->d_name + len - 6, ".ready") != 0)
            continue;
        char *name = pc_strndup(e->d_name, len - 6);
        if (!name) {
            st = PC_E_INTERNAL;
            break;
        }
        if (strcmp(name, skip) == 0) {
            free(name);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = pc_realloc(*names, cap * sizeof *nn);
            if (!nn) {
                free(name);
                st = PC_E_INTERNAL;
                break;
            }
            *names = nn;
        }
        (*names)[(*n)++] = name;
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, ready_cmp);
    return st;
}

/* Claim the requested file, waiting for another archiver that holds it. */
static pc_status claim_requested(cat *c, const char *name, cat_claim *outcome)
{
    int64_t deadline = pc_now_mono_ms() + CLAIM_WAIT_MS;
    int64_t sleep_ms = 5;
    for (;;) {
        pc_status st = cat_wal_claim(c, name, CLAIM_STALE_MS, outcome);
        if (st || *outcome != CAT_CLAIM_BUSY)
            return st;
        if (pc_now_mono_ms() > deadline) {
            pc_err(PC_E_BUSY, "another pgcask process has been archiving %s for too long", name);
            pc_err_hint("Check for a hung wal-archive process; PostgreSQL will retry.");
            return PC_E_BUSY;
        }
        pc_sleep_ms(sleep_ms);
        if (sleep_ms < 100)
            sleep_ms *= 2;
    }
}

/*
 * The listing prefix shared by the batch's segment-like files:
 * "<server>/wals/<hashdir>/<longest common prefix of their names>", or NULL
 * when they span hash directories (each job then lists its own name).
 */
static char *batch_prefix(const arc_ctx *a, wal_job **jobs, int njobs)
{
    const char *first = NULL;
    size_t common = 0;
    int segs = 0;
    for (int i = 0; i < njobs; i++) {
        const char *n = jobs[i]->w.name;
        if (jobs[i]->w.kind == PC_WAL_HISTORY)
            continue;
        segs++;
        if (!first) {
            first = n;
            common = strlen(n);
            continue;
        }
        size_t k = 0;
        while (k < common && first[k] == n[k])
            k++;
        common = k;
    }
    if (segs < 2 || common < 16)
        return NULL; /* different hash directories */
    char hd[17];
    memcpy(hd, first, 16);
    hd[16] = '\0';
    return pc_asprintf("%s/wals/%s/%.*s", a->server, hd, (int)common, first);
}

pc_status arc_wal_archive(arc_ctx *a, const char *wal_path, arc_wal_result *result)
{
    arc_wal_result dummy;
    arc_wal_result *res = result ? result : &dummy;
    memset(res, 0, sizeof *res);

    pc_wal_name w;
    pc_status st = pc_wal_parse_path(wal_path, &w);
    if (st) {
        pc_err_hint("archive_command must be given %%p, the path of a WAL file.");
        return st;
    }
    if (pc_is_dir(wal_path)) {
        pc_err(PC_E_USAGE, "\"%s\" is a directory", wal_path);
        return PC_E_USAGE;
    }
    cat *c;
    if ((st = cat_open(a->catalog_path, &c)) != PC_OK) {
        /*
         * The catalog is a cache: without it the store's own check still
         * prevents overwrites, so archive the requested file alone rather
         * than let WAL pile up in pg_wal over a local problem.
         */
        pc_warn("archiving %s without the catalog: %s", w.name, pc_err_get()->message);
        return archive_uncataloged(a, wal_path, &w, res);
    }

    cat_claim outcome;
    st = claim_requested(c, w.name, &outcome);
    if (st == PC_OK && outcome == CAT_CLAIM_STORED) {
        bool stale = false;
        st = check_stored(a, c, wal_path, &w, res, &stale);
        if (st == PC_OK && stale) {
            st = claim_requested(c, w.name, &outcome);
            if (st == PC_OK && outcome == CAT_CLAIM_STORED) { /* rare: another process won */
                st = pc_err(PC_E_BUSY, "WAL file %s was archived by another process meanwhile",
                            w.name);
                pc_err_hint("PostgreSQL will retry, and the next call compares with that copy.");
            }
        }
        if (st || !stale) {
            cat_close(c);
            return st;
        }
    }
    if (st) {
        cat_close(c);
        return st;
    }

    /* the batch: the requested file, then other .ready files we can claim */
    wal_job **jobs = pc_calloc((size_t)a->max_parallel, sizeof *jobs);
    int njobs = 0;
    char *waldir = pc_dirname(wal_path);
    if (!jobs || !waldir || !(jobs[njobs] = job_new(a, wal_path, &w))) {
        cat_wal_unclaim(c, w.name);
        st = PC_E_INTERNAL;
        goto out;
    }
    njobs++;
    if (a->max_parallel > 1) {
        char **ready;
        size_t nready;
        st = list_ready(waldir, w.name, &ready, &nready);
        for (size_t i = 0; i < nready; i++) {
            pc_wal_name ew;
            pc_error saved;
            pc_err_save(&saved);
            bool ok = st == PC_OK && njobs < a->max_parallel &&
                      pc_wal_parse(ready[i], &ew) == PC_OK;
            pc_err_restore(&saved);
            cat_claim o;
            if (ok && cat_wal_claim(c, ew.name, CLAIM_STALE_MS, &o) == PC_OK &&
                o == CAT_CLAIM_OK) {
                char *p = pc_path_join(waldir, ew.name);
                wal_job *j = p ? job_new(a, p, &ew) : NULL;
                free(p);
                if (j)
                    jobs[njobs++] = j;
                else
                    cat_wal_unclaim(c, ew.name);
            }
            free(ready[i]);
        }
        free(ready);
        pc_err_clear();
        st = PC_OK;
    }

    batch_list bl;
    memset(&bl, 0, sizeof bl);
    pthread_mutex_init(&bl.mu, NULL);
    if (njobs > 1 && (bl.prefix = batch_prefix(a, jobs, njobs)) != NULL) {
        for (int i = 0; i < njobs; i++)
            if (jobs[i]->w.kind != PC_WAL_HISTORY)
                jobs[i]->bl = &bl;
    }

    if (njobs == 1) {
        job_task(jobs[0]);
    } else {
        pc_pool *pool;
        st = pc_pool_new((size_t)njobs, (size_t)njobs, &pool);
        for (int i = 0; st == PC_OK && i < njobs; i++)
            st = pc_pool_submit(pool, job_task, jobs[i]);
        if (pool)
            pc_pool_wait(pool);
        pc_pool_free(pool);
        if (st) {
            for (int i = 0; i < njobs; i++)
                cat_wal_unclaim(c, jobs[i]->w.name);
            goto out;
        }
    }

    /* record what the store confirmed; release the rest */
    for (int i = 0; i < njobs; i++) {
        wal_job *j = jobs[i];
        if (j->st == PC_OK) {
            cat_wal row;
            job_row(j, &row);
            pc_status cst = cat_wal_commit(c, &row, j->segsize ? j->segsize : a->segsize);
            if (cst != PC_OK && i == 0) {
                /* stored but not recorded: still archived; the next call finds it in the store */
                pc_warn("WAL file %s is archived but the catalog could not record it: %s",
                        j->w.name, pc_err_get()->message);
                cat_wal_unclaim(c, j->w.name);
            }
            if (i > 0)
                pc_info("WAL file %s archived ahead of its turn", j->w.name);
            res->batch++;
        } else {
            cat_wal_unclaim(c, j->w.name);
            if (i > 0) {
                res->batch_failed++;
                pc_warn("could not archive %s ahead of its turn: %s", j->w.name, j->err.message);
            }
        }
    }
    res->already = jobs[0]->already;
    st = jobs[0]->st;
    if (st != PC_OK)
        pc_err_restore(&jobs[0]->err);
    else
        pc_info("WAL file %s archived", w.name);
out:
    for (size_t i = 0; i < bl.n; i++)
        free(bl.found[i].key);
    free(bl.prefix);
    pthread_mutex_destroy(&bl.mu);
    for (int i = 0; jobs && i < njobs; i++)
        job_free(jobs[i]);
    free(jobs);
    free(waldir);
    cat_close(c);
    return st;
}
