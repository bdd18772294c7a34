/*
 * Parallel unpacking: one task per archive, `jobs` at a time, each a
 * pipeline
 *     repo_get -> meter -> [sha256 of the stored bytes] -> decompress
 *              -> tar reader -> one file sink per member
 * so memory is a few buffers per worker whatever the size of the backup.
 *
 * Members are created relative to an open descriptor of their area with
 * O_CREAT|O_EXCL|O_NOFOLLOW, and no symbolic link exists in an area until
 * every archive is unpacked: a member can neither overwrite another nor be
 * written through a link. The links are created last, their parent
 * directories opened one component at a time with O_NOFOLLOW.
 *
 * Durability: files are not fsync'd one by one. Writeback is started every
 * few MiB (sync_file_range) so the disk works while we decompress, and the
 * caller makes everything durable with one syncfs per file system at the
 * end (rst_sync_dirs), which measured faster than an fsync per file
 * (docs/restore.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/progress.h"
#include "restore/rst_int.h"

#define MEMBER_PATH_MAX 4096
#define TS_MAP_MAX      (1024 * 1024)
#define WRITEBACK_EVERY (8u * 1024 * 1024)

typedef struct link_rec {
    size_t area;
    char *path;
    char *target;
    char *archive;
} link_rec;

typedef struct unpack {
    const rst_unpack_opts *o;
    int *root_fd;         /* per area */
    uint64_t *free_bytes; /* per area: decompression cap for unbounded codecs */
    pc_progress *progress;
    bool handoff; /* a thread per archive for the files: there are idle cores */
    atomic_bool cancel;
    atomic_uint_fast64_t files, restored, stored;
    pthread_mutex_t mu; /* everything below, and the manifest marks */
    bool has_first;
    pc_error first;
    link_rec *links;
    size_t nlinks, alinks;
    pc_buf ts_map;
    bool has_ts_map;
} unpack;

typedef struct job {
    unpack *u;
    const rst_archive *a;
    const rst_area *area;
    const char *ts; /* the manifest's tablespace of the area (NULL for PGDATA) */
} job;

bool rst_archive_name_parse(const char *name, bool *pgdata, uint32_t *oid, cmp_codec *codec)
{
    size_t stem;
    cmp_codec c = cmp_codec_from_name(name, &stem);
    if (stem < 5 || memcmp(name + stem - 4, ".tar", 4) != 0)
        return false;
    size_t base = stem - 4; /* "data", "16385", "data_0001" */
    size_t part = base;
    for (size_t i = 0; i < base; i++) {
        if (name[i] == '_') {
            part = i;
            break;
        }
    }
    if (part < base) {
        if (base - part - 1 < 4)
            return false;
        for (size_t i = part + 1; i < base; i++)
            if (name[i] < '0' || name[i] > '9')
                return false;
    }
    /* the archives of a differential or incremental backup: "data-incr", "16385-diff" */
    if (part > 5 && (memcmp(name + part - 5, "-incr", 5) == 0 ||
                     memcmp(name + part - 5, "-diff", 5) == 0))
        part -= 5;
    if (part == 4 && memcmp(name, "data", 4) == 0) {
        *pgdata = true;
        *oid = 0;
    } else {
        uint64_t v = 0;
        if (part == 0 || part > 10)
            return false;
        for (size_t i = 0; i < part; i++) {
            if (name[i] < '0' || name[i] > '9')
                return false;
            v = v * 10 + (uint64_t)(name[i] - '0');
        }
        if (v == 0 || v > UINT32_MAX)
            return false;
        *pgdata = false;
        *oid = (uint32_t)v;
    }
    *codec = c;
    return true;
}

/* ---- the file sink: one member ---- */

typedef struct fsink {
    pc_sink base;
    unpack *u;
    int fd;      /* -1 when writing into mem */
    pc_buf *mem; /* tablespace_map */
    char *name;  /* member, for messages */
    const char *archive;
    const char *root;
    pc_hash *hash;    /* the manifest's CRC-32C, or SHA-256 when it has none or asked */
    const char *what; /* its name, for messages */
    unsigned char want[PC_SHA256_LEN];
    size_t want_len;
    int64_t mtime;
    uint64_t unflushed, offset;
} fsink;

static pc_status fs_write(pc_sink *s, const void *data, size_t len)
{
    fsink *f = (fsink *)s;
    if (f->hash)
        pc_hash_update(f->hash, data, len);
    if (f->mem)
        return pc_buf_append(f->mem, data, len);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(f->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return pc_err(PC_E_IO, "could not write \"%s/%s\": %m", f->root, f->name);
        p += n;
        left -= (size_t)n;
    }
    f->offset += len;
    f->unflushed += len;
    if (f->unflushed >= WRITEBACK_EVERY) {
        /* start writeback now; the final syncfs then has little left to wait for */
        sync_file_range(f->fd, (off_t)(f->offset - f->unflushed), (off_t)f->unflushed,
                        SYNC_FILE_RANGE_WRITE);
        f->unflushed = 0;
    }
    atomic_fetch_add(&f->u->restored, len);
    return PC_OK;
}

static pc_status fs_finish(pc_sink *s)
{
    fsink *f = (fsink *)s;
    if (f->hash) {
        unsigned char got[PC_SHA256_LEN];
        pc_hash_final(f->hash, got);
        pc_hash_free(f->hash);
        f->hash = NULL;
        if (memcmp(got, f->want, f->want_len) != 0) {
            pc_err(PC_E_CORRUPT,
                   "file \"%s\" from archive \"%s\" does not match the manifest: %s differs",
                   f->name, f->archive, f->what);
            pc_err_hint("The backup is damaged; restore another one.");
            return PC_E_CORRUPT;
        }
    }
    if (f->fd < 0)
        return PC_OK;
    if (f->unflushed > 0)
        sync_file_range(f->fd, (off_t)(f->offset - f->unflushed), (off_t)f->unflushed,
                        SYNC_FILE_RANGE_WRITE);
    struct timespec ts[2] = {{.tv_sec = f->mtime}, {.tv_sec = f->mtime}};
    futimens(f->fd, ts);
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0)
        return pc_err(PC_E_IO, "could not write \"%s/%s\": %m", f->root, f->name);
    atomic_fetch_add(&f->u->files, 1);
    return PC_OK;
}

static void fs_abort(pc_sink *s)
{
    fsink *f = (fsink *)s;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static void fs_destroy(pc_sink *s)
{
    fsink *f = (fsink *)s;
    pc_hash_free(f->hash);
    free(f->name);
    free(f);
}

static const pc_sink_ops fsink_ops = {
    .name = "restore-file",
    .write = fs_write,
    .finish = fs_finish,
    .abort = fs_abort,
    .destroy = fs_destroy,
};

static pc_status fsink_new(job *j, int fd, pc_buf *mem, const char *norm, const cat_mf_file *mf,
                           int64_t mtime, pc_sink **out)
{
    fsink *f = pc_calloc(1, sizeof *f);
    if (!f || !(f->name = pc_strdup(norm))) {
        free(f);
        if (fd >= 0)
            close(fd);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&f->base, &fsink_ops, NULL);
    f->u = j->u;
    f->fd = fd;
    f->mem = mem;
    f->archive = j->a->name;
    f->root = j->area->root;
    f->mtime = mtime;
    pc_status st = PC_OK;
    if (mf && mf->has_crc32c && !j->u->o->verify_sha256) {
        /* big-endian, as pc_hash_final gives a CRC-32C */
        uint32_t c = mf->crc32c;
        unsigned char be[4] = {(unsigned char)(c >> 24), (unsigned char)(c >> 16),
                               (unsigned char)(c >> 8), (unsigned char)c};
        memcpy(f->want, be, sizeof be);
        f->want_len = sizeof be;
        f->what = "CRC-32C";
        st = pc_hash_new(PC_HASH_CRC32C, &f->hash);
    } else if (mf) {
        f->want_len = PC_SHA256_LEN;
        f->what = "SHA-256";
        if (!mf->sha256 || pc_unhex(mf->sha256, f->want, PC_SHA256_LEN) != PC_OK) {
            st = pc_err(PC_E_CORRUPT, "manifest entry of \"%s\" has no valid SHA-256", norm);
        } else {
            st = pc_hash_new(PC_HASH_SHA256, &f->hash);
        }
    }
    if (st) {
        fs_abort(&f->base);
        fs_destroy(&f->base);
        return st;
    }
    *out = &f->base;
    return PC_OK;
}

/* ---- creating members ---- */

/* mkdir -p of the directories above rel, below the area's descriptor. */
static pc_status make_parents(job *j, const char *rel)
{
    char path[MEMBER_PATH_MAX];
    size_t len = strlen(rel);
    memcpy(path, rel, len + 1);
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        if (mkdirat(j->u->root_fd[j->a->area], path, 0700) != 0 && errno != EEXIST)
            return pc_err(PC_E_IO, "could not create directory \"%s/%s\": %m", j->area->root, path);
        path[i] = '/';
    }
    return PC_OK;
}

static pc_status clash(job *j, const char *norm)
{
    return pc_err(PC_E_CORRUPT,
                  "archive \"%s\": member \"%s\" clashes with another member of the backup",
                  j->a->name, norm);
}

static pc_status create_dir(job *j, const char *norm, uint32_t mode)
{
    int root = j->u->root_fd[j->a->area];
    mode_t m = (mode_t)(mode & 0777) | 0700;
    pc_status st = PC_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (mkdirat(root, norm, m) == 0)
            return PC_OK;
        if (errno == ENOENT && attempt == 0) {
            if ((st = make_parents(j, norm)) != PC_OK)
                return st;
            continue;
        }
        if (errno != EEXIST)
            break;
        /* also created as the parent of a member of another archive */
        struct stat sb;
        if (fstatat(root, norm, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode))
            return clash(j, norm);
        if (fchmodat(root, norm, m, 0) != 0)
            break;
        return PC_OK;
    }
    if (errno == ENOTDIR || errno == ELOOP)
        return clash(j, norm);
    return pc_err(PC_E_IO, "could not create directory \"%s/%s\": %m", j->area->root, norm);
}

static pc_status open_file(job *j, const char *norm, uint32_t mode, int *fd)
{
    int root = j->u->root_fd[j->a->area];
    for (int attempt = 0; attempt < 2; attempt++) {
        *fd = openat(root, norm, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     (mode_t)(mode & 0777) | 0600);
        if (*fd >= 0)
            return PC_OK;
        if (errno == ENOENT && attempt == 0) {
            pc_status st = make_parents(j, norm);
            if (st)
                return st;
            continue;
        }
        break;
    }
    if (errno == EEXIST || errno == ENOTDIR || errno == ELOOP)
        return clash(j, norm);
    return pc_err(PC_E_IO, "could not create \"%s/%s\": %m", j->area->root, norm);
}

static pc_status add_link(job *j, const char *norm, const char *target)
{
    unpack *u = j->u;
    pc_status st = PC_OK;
    pthread_mutex_lock(&u->mu);
    if (u->nlinks == u->alinks) {
        size_t na = u->alinks ? u->alinks * 2 : 16;
        link_rec *nv = pc_realloc(u->links, na * sizeof *nv);
        if (!nv)
            st = PC_E_INTERNAL;
        else {
            u->links = nv;
            u->alinks = na;
        }
    }
    if (st == PC_OK) {
        link_rec *l = &u->links[u->nlinks];
        l->area = j->a->area;
        l->path = pc_strdup(norm);
        l->target = pc_strdup(target);
        l->archive = pc_strdup(j->a->name);
        if (l->path && l->target && l->archive) {
            u->nlinks++;
        } else {
            free(l->path);
            free(l->target);
            free(l->archive);
            st = PC_E_INTERNAL;
        }
    }
    pthread_mutex_unlock(&u->mu);
    return st;
}

/* ---- the manifest ---- */

static char mf_type(rst_action act)
{
    switch (act) {
    case RST_ACT_FILE:
    case RST_ACT_TS_MAP:
        return 'f';
    case RST_ACT_DIR:
    case RST_ACT_ROOT:
        return 'd';
    case RST_ACT_SYMLINK:
    case RST_ACT_TS_LINK:
        return 'l';
    }
    return '?';
}

/* Look the member up and mark it seen; *mf is NULL for an archive root the manifest omits. */
static pc_status mf_check(job *j, const pc_tar_entry *e, const char *norm, rst_action act,
                          const cat_mf_file **mf)
{
    unpack *u = j->u;
    cat_mf_index *ix = u->o->manifest;
    pc_status st = PC_OK;
    pthread_mutex_lock(&u->mu);
    const cat_mf_file *f = cat_mf_index_find(ix, j->ts, norm);
    if (!f)
        f = cat_mf_index_find(ix, j->ts, e->name);
    *mf = f;
    if (!f) {
        if (act != RST_ACT_ROOT)
            st = pc_err(PC_E_CORRUPT, "archive \"%s\": member \"%s\" is not in the manifest",
                        j->a->name, norm);
    } else if (f->type != mf_type(act)) {
        st = pc_err(PC_E_CORRUPT,
                    "archive \"%s\": member \"%s\" has type '%c', the manifest says '%c'",
                    j->a->name, norm, mf_type(act), f->type);
    } else if (f->type == 'f' && j->a->backup_id && f->backup_id &&
               strcmp(f->backup_id, j->a->backup_id) != 0) {
        st = pc_err(PC_E_CORRUPT,
                    "archive \"%s\": file \"%s\" is one the manifest takes from backup \"%s\"",
                    j->a->name, norm, f->backup_id);
    } else if (f->type == 'f' && f->size != e->size) {
        st = pc_err(PC_E_CORRUPT,
                    "archive \"%s\": file \"%s\" has %llu bytes, the manifest says %llu",
                    j->a->name, norm, (unsigned long long)e->size, (unsigned long long)f->size);
    } else if (act == RST_ACT_SYMLINK && (!f->target || strcmp(f->target, e->linkname) != 0)) {
        st = pc_err(PC_E_CORRUPT,
                    "archive \"%s\": symbolic link \"%s\" points elsewhere than the manifest says",
                    j->a->name, norm);
    } else if (!cat_mf_index_mark(ix, f)) {
        st = pc_err(PC_E_CORRUPT, "archive \"%s\": member \"%s\" appears twice in the backup",
                    j->a->name, norm);
    }
    pthread_mutex_unlock(&u->mu);
    if (st)
        pc_err_hint("The backup is damaged or was altered; restore another one.");
    return st;
}

/* ---- the tar handler ---- */

/*
 * A filtered archive (an older backup of a chain, any archive of a delta
 * restore): the member is wanted when the manifest takes that file from this
 * very archive and it is not there yet; *mf is then its entry (marked).
 */
static pc_status mf_wanted(job *j, const pc_tar_entry *e, const char *norm, rst_action act,
                           const cat_mf_file **mf)
{
    *mf = NULL;
    if (act != RST_ACT_FILE && act != RST_ACT_TS_MAP)
        return PC_OK; /* directories and links come from the backup itself or the manifest */
    unpack *u = j->u;
    cat_mf_index *ix = u->o->manifest;
    pc_status st = PC_OK;
    pthread_mutex_lock(&u->mu);
    const cat_mf_file *f = cat_mf_index_find(ix, j->ts, norm);
    if (f && f->type == 'f' && f->backup_id && f->archive && j->a->backup_id &&
        strcmp(f->backup_id, j->a->backup_id) == 0 && strcmp(f->archive, j->a->name) == 0 &&
        !cat_mf_index_marked(ix, f)) {
        if (f->size != e->size) {
            st = pc_err(PC_E_CORRUPT,
                        "archive \"%s\" of backup \"%s\": file \"%s\" has %llu bytes, the "
                        "manifest says %llu",
                        j->a->name, j->a->backup_id, norm, (unsigned long long)e->size,
                        (unsigned long long)f->size);
            pc_err_hint("The backup is damaged or was altered; restore another one.");
        } else {
            cat_mf_index_mark(ix, f);
            *mf = f;
        }
    }
    pthread_mutex_unlock(&u->mu);
    return st;
}

static pc_status on_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    job *j = ud;
    unpack *u = j->u;
    char norm[MEMBER_PATH_MAX];
    rst_action act;
    pc_status st = rst_entry_check(j->area, e, j->a->name, norm, sizeof norm, &act);
    if (st)
        return st;
    const cat_mf_file *mf = NULL;
    if (j->a->filtered) {
        if (!u->o->manifest)
            return pc_err(PC_E_INTERNAL, "a filtered archive without a manifest");
        if ((st = mf_wanted(j, e, norm, act, &mf)) != PC_OK || !mf)
            return st; /* not wanted: its content is read past */
    } else if (u->o->manifest && (st = mf_check(j, e, norm, act, &mf)) != PC_OK) {
        return st;
    }
    switch (act) {
    case RST_ACT_ROOT:
    case RST_ACT_TS_LINK:
        return PC_OK;
    case RST_ACT_DIR:
        return create_dir(j, norm, e->mode);
    case RST_ACT_SYMLINK:
        return add_link(j, norm, e->linkname);
    case RST_ACT_TS_MAP: {
        pthread_mutex_lock(&u->mu);
        bool twice = u->has_ts_map;
        u->has_ts_map = true;
        pthread_mutex_unlock(&u->mu);
        if (twice)
            return clash(j, norm);
        if (e->size > TS_MAP_MAX)
            return pc_err(PC_E_CORRUPT, "archive \"%s\": tablespace_map of %llu bytes is too big",
                          j->a->name, (unsigned long long)e->size);
        return fsink_new(j, -1, &u->ts_map, norm, mf, e->mtime, content);
    }
    case RST_ACT_FILE: {
        int fd;
        if ((st = open_file(j, norm, e->mode, &fd)) != PC_OK)
            return st;
        return fsink_new(j, fd, NULL, norm, mf, e->mtime, content);
    }
    }
    return pc_err(PC_E_INTERNAL, "unhandled tar member action %d", (int)act);
}

static const pc_tar_handler handler = {.entry = on_entry, .end = NULL};

/* ---- the meter: progress, byte count, and stopping when another archive failed ---- */

typedef struct meter {
    pc_sink base;
    unpack *u;
} meter;

static pc_status meter_write(pc_sink *s, const void *data, size_t len)
{
    meter *m = (meter *)s;
    if (atomic_load(&m->u->cancel))
        return pc_err(PC_E_INTERRUPTED, "stopped: another archive failed");
    atomic_fetch_add(&m->u->stored, len);
    pc_progress_add(m->u->progress, len);
    return pc_sink_write(s->next, data, len);
}

static void meter_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops meter_ops = {
    .name = "restore-meter", .write = meter_write, .destroy = meter_destroy};

static pc_status meter_new(unpack *u, pc_sink *next, pc_sink **out)
{
    meter *m = pc_calloc(1, sizeof *m);
    if (!m) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&m->base, &meter_ops, next);
    m->u = u;
    *out = &m->base;
    return PC_OK;
}

/* ---- one archive ---- */

/*
 * Most output a stream of `size` stored bytes can decompress to, as a guard
 * against decompression bombs: the manifest's exact size when known, else the
 * codec's largest possible ratio, else (bzip2, xz, zstd have none) the free
 * space of the destination, which a real archive cannot exceed either.
 */
static uint64_t output_cap(const job *j)
{
    const rst_archive *a = j->a;
    if (a->raw_size)
        return a->raw_size;
    uint64_t ratio = 0;
    switch (a->codec) {
    case CMP_GZIP:
        ratio = 1032;
        break;
    case CMP_LZ4:
        ratio = 256;
        break;
    case CMP_SNAPPY:
        ratio = 64;
        break;
    case CMP_NONE:
        ratio = 1;
        break;
    case CMP_BZIP2:
    case CMP_ZSTD:
    case CMP_XZ:
        break;
    }
    if (ratio && a->size < UINT64_MAX / ratio - (1u << 20))
        return a->size * ratio + (1u << 20);
    uint64_t free_bytes = j->u->free_bytes[a->area];
    return free_bytes ? free_bytes : UINT64_MAX;
}

/* ---- the handoff: decompressing and writing files on two threads ---- */

/*
 * A barman-cloud backup is usually one data.tar.gz, so the archives alone
 * would keep one core busy. This stage splits each archive's work in two:
 * the worker downloads and decompresses, a thread of its own parses the tar
 * and writes the files, connected by a few fixed slabs (memory stays
 * HANDOFF_SLABS * HANDOFF_SLAB per archive in flight). Used only while
 * fewer archives are restored at once than there are cores.
 */
#define HANDOFF_SLABS 4
#define HANDOFF_SLAB  (1024u * 1024u)

typedef struct handoff {
    pc_sink base;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *slab[HANDOFF_SLABS];
    size_t used[HANDOFF_SLABS];
    size_t head, count; /* ring of filled slabs waiting for the consumer */
    size_t fill;        /* slab being filled by the producer (not in the ring) */
    bool eof, stop;     /* producer finished / aborted */
    bool done;          /* consumer left */
    pc_status failed;   /* consumer's failure */
    pc_error err;
} handoff;

static void *handoff_consumer(void *arg)
{
    handoff *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->count == 0 && !h->eof && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop || h->count == 0)
            break;
        size_t i = h->head;
        pthread_mutex_unlock(&h->mu);
        pc_err_clear();
        pc_status st = pc_sink_write(h->base.next, h->slab[i], h->used[i]);
        pthread_mutex_lock(&h->mu);
        h->head = (h->head + 1) % HANDOFF_SLABS;
        h->count--;
        if (st) {
            h->failed = st;
            pc_err_save(&h->err);
            break;
        }
        pthread_cond_broadcast(&h->cv);
    }
    h->done = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Hand the slab being filled to the consumer and wait for a free one. Called locked. */
static pc_status handoff_push(handoff *h)
{
    h->count++;
    pthread_cond_broadcast(&h->cv);
    while (h->count == HANDOFF_SLABS && !h->done)
        pthread_cond_wait(&h->cv, &h->mu);
    if (h->failed) {
        pc_err_restore(&h->err);
        return h->failed;
    }
    h->fill = (h->head + h->count) % HANDOFF_SLABS;
    h->used[h->fill] = 0;
    return PC_OK;
}

static pc_status handoff_write(pc_sink *s, const void *data, size_t len)
{
    handoff *h = (handoff *)s;
    const unsigned char *p = data;
    pc_status st = PC_OK;
    pthread_mutex_lock(&h->mu);
    if (h->failed) {
        pc_err_restore(&h->err);
        st = h->failed;
    }
    while (st == PC_OK && len > 0) {
        size_t room = HANDOFF_SLAB - h->used[h->fill];
        size_t n = len < room ? len : room;
        pthread_mutex_unlock(&h->mu);
        memcpy(h->slab[h->fill] + h->used[h->fill], p, n);
        pthread_mutex_lock(&h->mu);
        h->used[h->fill] += n;
        p += n;
        len -= n;
        if (h->used[h->fill] == HANDOFF_SLAB)
            st = handoff_push(h);
    }
    pthread_mutex_unlock(&h->mu);
    return st;
}

static void handoff_join(handoff *h)
{
    if (h->started)
        pthread_join(h->thread, NULL);
    h->started = false;
}

static pc_status handoff_finish(pc_sink *s)
{
    handoff *h = (handoff *)s;
    pthread_mutex_lock(&h->mu);
    pc_status st = h->used[h->fill] > 0 ? handoff_push(h) : PC_OK;
    h->eof = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    handoff_join(h);
    if (st == PC_OK && h->failed) {
        pc_err_restore(&h->err);
        st = h->failed;
    }
    return st;
}

static void handoff_abort(pc_sink *s)
{
    handoff *h = (handoff *)s;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    handoff_join(h);
}

static void handoff_destroy(pc_sink *s)
{
    handoff *h = (handoff *)s;
    handoff_join(h);
    for (size_t i = 0; i < HANDOFF_SLABS; i++)
        free(h->slab[i]);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static const pc_sink_ops handoff_ops = {.name = "restore-handoff",
                                        .write = handoff_write,
                                        .finish = handoff_finish,
                                        .abort = handoff_abort,
                                        .destroy = handoff_destroy};

static pc_status handoff_new(pc_sink *next, pc_sink **out)
{
    handoff *h = pc_calloc(1, sizeof *h);
    if (!h) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&h->base, &handoff_ops, next);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < HANDOFF_SLABS; i++)
        if (!(h->slab[i] = pc_malloc(HANDOFF_SLAB)))
            st = PC_E_INTERNAL;
    if (st == PC_OK) {
        int rc = pthread_create(&h->thread, NULL, handoff_consumer, h);
        if (rc != 0)
            st = pc_err(PC_E_INTERNAL, "could not start a thread: %s", strerror(rc));
        h->started = rc == 0;
    }
    if (st) {
        pc_sink_free(&h->base);
        return st;
    }
    *out = &h->base;
    return PC_OK;
}

static pc_status run_archive(job *j)
{
    const rst_archive *a = j->a;
    unpack *u = j->u;
    pc_sink *reader = NULL, *head = NULL, *hash = NULL;
    pc_status st = pc_tar_reader_new(&handler, j, &reader);
    /*
     * PostgreSQL 15+ sends BASE_BACKUP tars without the end-of-archive
     * blocks, and pgcask may store them so. Accepting that is safe only when
     * the manifest's digest of the stored bytes proves nothing was cut off.
     */
    if (st == PC_OK && a->sha256)
        pc_tar_reader_set_lenient_end(reader, true);
    head = reader;
    if (st == PC_OK && u->handoff)
        st = handoff_new(head, &head);
    if (st == PC_OK && a->codec != CMP_NONE)
        st = cmp_decompress_new(a->codec, output_cap(j), head, &head);
    if (st == PC_OK && a->sha256) {
        st = pc_sink_hash_new(PC_HASH_SHA256, head, &head);
        hash = head;
    }
    if (st == PC_OK)
        st = meter_new(u, head, &head);
    if (st) {
        /* a constructor that failed freed what it was given */
        return st;
    }
    pc_debug("restoring archive \"%s\" into %s", a->key, j->area->root);
    st = repo_get(u->o->repo, a->key, 0, 0, head, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    if (st == PC_OK && hash) {
        unsigned char got[PC_SHA256_LEN], want[PC_SHA256_LEN];
        pc_sink_hash_result(hash, got, sizeof got);
        if (pc_unhex(a->sha256, want, sizeof want) != PC_OK || memcmp(got, want, sizeof got)) {
            st = pc_err(PC_E_CORRUPT,
                        "archive \"%s\" does not match the manifest: SHA-256 of the stored "
                        "object differs",
                        a->key);
            pc_err_hint("The backup is damaged; restore another one.");
        }
    }
    pc_sink_free(head);
    if (st && strncmp(pc_err_get()->message, "archive \"", 9) != 0 &&
        strncmp(pc_err_get()->message, "file \"", 6) != 0)
        pc_err_context("archive \"%s\"", a->key);
    return st;
}

static pc_status archive_task(void *arg)
{
    job *j = arg;
    unpack *u = j->u;
    if (atomic_load(&u->cancel))
        return PC_OK;
    pc_status st = run_archive(j);
    if (st) {
        pthread_mutex_lock(&u->mu);
        /* the first real failure wins over the archives it stopped */
        if (!u->has_first && !(st == PC_E_INTERRUPTED && atomic_load(&u->cancel))) {
            u->has_first = true;
            pc_err_save(&u->first);
        }
        atomic_store(&u->cancel, true);
        pthread_mutex_unlock(&u->mu);
    }
    return st;
}

/* ---- symbolic links ---- */

pc_status rst_symlink_at(const char *root, const char *rel, const char *target)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pc_err(PC_E_IO, "could not open directory \"%s\": %m", root);
    char path[MEMBER_PATH_MAX];
    size_t len = strlen(rel);
    if (len >= sizeof path) {
        close(fd);
        return pc_err(PC_E_CORRUPT, "symbolic link name too long");
    }
    memcpy(path, rel, len + 1);
    char *c = path;
    pc_status st = PC_OK;
    for (char *slash; st == PC_OK && (slash = strchr(c, '/')) != NULL; c = slash + 1) {
        *slash = '\0';
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && mkdirat(fd, c, 0700) == 0)
            next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            if (errno == ELOOP || errno == ENOTDIR)
                st = pc_err(PC_E_CORRUPT,
                            "refusing symbolic link \"%s\": \"%s\" above it is not a directory",
                            rel, path);
            else
                st = pc_err(PC_E_IO, "could not open directory \"%s/%s\": %m", root, path);
        }
        close(fd);
        fd = next;
        *slash = '/';
    }
    if (st == PC_OK && symlinkat(target, fd, c) != 0) {
        if (errno == EEXIST)
            st = pc_err(PC_E_CORRUPT, "symbolic link \"%s/%s\" clashes with another member", root,
                        rel);
        else
            st = pc_err(PC_E_IO, "could not create symbolic link \"%s/%s\": %m", root, rel);
    }
    if (fd >= 0)
        close(fd);
    return st;
}

/* ---- the whole unpack ---- */

static int by_size_desc(const void *a, const void *b)
{
    const job *x = a, *y = b;
    return x->a->size < y->a->size ? 1 : x->a->size > y->a->size ? -1 : 0;
}

pc_status rst_unpack(const rst_unpack_opts *o, rst_unpack_result *result)
{
    memset(result, 0, sizeof *result);
    pc_buf_init(&result->ts_map, TS_MAP_MAX);
    unpack u = {.o = o};
    pc_buf_init(&u.ts_map, TS_MAP_MAX);
    pthread_mutex_init(&u.mu, NULL);
    atomic_init(&u.cancel, false);
    atomic_init(&u.files, 0);
    atomic_init(&u.restored, 0);
    atomic_init(&u.stored, 0);
    pc_status st = PC_OK;
    job *jobs = pc_calloc(o->narchives ? o->narchives : 1, sizeof *jobs);
    u.root_fd = pc_calloc(o->nareas ? o->nareas : 1, sizeof *u.root_fd);
    u.free_bytes = pc_calloc(o->nareas ? o->nareas : 1, sizeof *u.free_bytes);
    if (!jobs || !u.root_fd || !u.free_bytes)
        st = PC_E_INTERNAL;
    for (size_t i = 0; u.root_fd && i < o->nareas; i++)
        u.root_fd[i] = -1;
    for (size_t i = 0; st == PC_OK && i < o->nareas; i++) {
        u.root_fd[i] = open(o->areas[i].root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (u.root_fd[i] < 0) {
            st = pc_err(PC_E_IO, "could not open directory \"%s\": %m", o->areas[i].root);
            break;
        }
        struct statvfs vfs;
        if (fstatvfs(u.root_fd[i], &vfs) == 0)
            u.free_bytes[i] = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    uint64_t total = 0;
    for (size_t i = 0; st == PC_OK && i < o->narchives; i++) {
        size_t ar = o->archives[i].area;
        jobs[i] = (job){.u = &u,
                        .a = &o->archives[i],
                        .area = &o->areas[ar],
                        .ts = ar > 0 && o->area_ts ? o->area_ts[ar] : NULL};
        total += o->archives[i].size;
    }
    if (st == PC_OK && o->narchives > 0) {
        /* largest first: the long downloads start at once, small ones fill the gaps */
        qsort(jobs, o->narchives, sizeof *jobs, by_size_desc);
        size_t threads = o->jobs < 1 ? 1 : (size_t)o->jobs;
        if (threads > o->narchives)
            threads = o->narchives;
        /* measured: 30% faster with a core to spare, a copy for nothing without */
        u.handoff = threads < pc_ncpu();
        pc_pool *pool = NULL;
        u.progress = pc_progress_new("restore", total);
        st = pc_pool_new(threads, o->narchives, &pool);
        for (size_t i = 0; st == PC_OK && i < o->narchives; i++)
            st = pc_pool_submit(pool, archive_task, &jobs[i]);
        if (pool) {
            pc_status w = pc_pool_wait(pool);
            st = st ? st : w;
            pc_pool_free(pool);
        }
        if (st && u.has_first) {
            pc_err_restore(&u.first);
            st = u.first.status;
        }
        if (st == PC_OK)
            pc_progress_done(u.progress);
        pc_progress_free(u.progress);
    }
    /* every file exists: now the links can be made without anything being written through them */
    for (size_t i = 0; st == PC_OK && i < u.nlinks; i++) {
        const link_rec *l = &u.links[i];
        st = rst_symlink_at(o->areas[l->area].root, l->path, l->target);
        if (st)
            pc_err_context("archive \"%s\"", l->archive);
    }
    for (size_t i = 0; i < u.nlinks; i++) {
        free(u.links[i].path);
        free(u.links[i].target);
        free(u.links[i].archive);
    }
    free(u.links);
    for (size_t i = 0; u.root_fd && i < o->nareas; i++)
        if (u.root_fd[i] >= 0)
            close(u.root_fd[i]);
    free(u.root_fd);
    free(u.free_bytes);
    free(jobs);
    pthread_mutex_destroy(&u.mu);
    result->files = atomic_load(&u.files);
    result->restored_bytes = atomic_load(&u.restored);
    result->stored_bytes = atomic_load(&u.stored);
    result->has_ts_map = u.has_ts_map && st == PC_OK;
    pc_buf_free(&result->ts_map);
    result->ts_map = u.ts_map;
    return st;
}

pc_status rst_sync_dirs(const char *const *dirs, size_t n)
{
    dev_t *seen = pc_calloc(n ? n : 1, sizeof *seen);
    if (!seen)
        return PC_E_INTERNAL;
    size_t nseen = 0;
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            st = pc_err(PC_E_IO, "could not open directory \"%s\": %m", dirs[i]);
        } else {
            bool done = false;
            for (size_t k = 0; k < nseen; k++)
                done = done || seen[k] == sb.st_dev;
            if (!done) {
                seen[nseen++] = sb.st_dev;
                if (syncfs(fd) != 0)
                    st = pc_err(PC_E_IO, "could not sync the file system of \"%s\": %m", dirs[i]);
            }
        }
        if (fd >= 0)
            close(fd);
    }
    free(seen);
    return st;
}
