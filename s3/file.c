/*
 * The file:// backend: a local directory with exactly the bucket's layout,
 * key "a/b/c" stored at "<root>/a/b/c".
 *
 * Writes go through the atomic file sink (temp "<path>.pgcask-tmp.<pid>.<n>",
 * fsync, rename, fsync of the directory), so no reader ever sees a partial
 * object. User metadata lives in "user.pgcask.<key>" extended attributes set
 * on the temp file before the rename, so an object and its metadata appear
 * together; file systems without user xattrs just keep no metadata.
 *
 * Directories are never removed: another writer may be about to create a
 * file in one. Listings therefore skip directories that hold no object, the
 * way S3 shows no empty "folders".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/pacer.h"
#include "s3/repo_driver.h"

#define TMP_MARK     ".pgcask-tmp."
#define XATTR_PREFIX "user.pgcask."
#define GET_CHUNK    (1024 * 1024)
#define OBJ_MODE     0600

typedef struct fsr {
    char *root; /* absolute, no trailing '/'; "" for the file system root */
    int file_flags;
    pc_pacer pacer; /* --max-bandwidth, shared by every upload of this handle */
} fsr;

static const char *root_name(const fsr *f)
{
    return f->root[0] ? f->root : "/";
}

/* "<root>/<rel>" (rel may be "" or end with '/'); malloc'd. */
static char *fsr_path(const fsr *f, const char *rel)
{
    return pc_asprintf("%s/%s", f->root, rel);
}

static pc_status no_root_error(const fsr *f)
{
    pc_err(PC_E_NO_BUCKET, "repository directory \"%s\" does not exist", root_name(f));
    pc_err_hint("Create it, or run `pgcask repo create`.");
    return PC_E_NO_BUCKET;
}

/* The "bucket exists" check every operation starts with, as S3 answers NoSuchBucket. */
static pc_status root_check(const fsr *f)
{
    struct stat sb;
    if (stat(root_name(f), &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return no_root_error(f);
        return pc_err(PC_E_IO, "could not access repository directory \"%s\": %m", root_name(f));
    }
    if (!S_ISDIR(sb.st_mode)) {
        pc_err(PC_E_NO_BUCKET, "repository path \"%s\" is not a directory", root_name(f));
        pc_err_hint("Point --repo at a directory: file:///path/to/directory.");
        return PC_E_NO_BUCKET;
    }
    return PC_OK;
}

static pc_status fsr_open(const repo_opts *o, const char *rest, void **impl)
{
    if (rest[0] != '/') {
        pc_err(PC_E_USAGE, "invalid repository URL \"file://%s\": the path must be absolute", rest);
        pc_err_hint("Write file:///absolute/path (file:// followed by the path); "
                    "relative paths and file://host/ are not supported.");
        return PC_E_USAGE;
    }
    fsr *f = pc_calloc(1, sizeof *f);
    if (!f)
        return PC_E_INTERNAL;
    size_t n = strlen(rest);
    while (n > 0 && rest[n - 1] == '/')
        n--;
    f->root = pc_strndup(rest, n);
    if (!f->root) {
        free(f);
        return PC_E_INTERNAL;
    }
    f->file_flags = PC_FILE_MKDIRS | (o->fsync ? 0 : PC_FILE_NOSYNC);
    pc_pacer_init(&f->pacer, o->max_bandwidth);
    *impl = f;
    return PC_OK;
}

static void fsr_close(void *impl)
{
    fsr *f = impl;
    if (!f)
        return;
    pc_pacer_destroy(&f->pacer);
    free(f->root);
    free(f);
}

/* ---- put ---- */

/* Keys the directory layout cannot hold, or that listings would hide. */
static pc_status put_key_check(const char *key)
{
    if (key[strlen(key) - 1] == '/') {
        pc_err(PC_E_USAGE, "object key \"%s\" ends with '/'", key);
        pc_err_hint("A file:// repository stores files, not directory markers.");
        return PC_E_USAGE;
    }
    if (strstr(key, TMP_MARK)) {
        pc_err(PC_E_USAGE, "object key \"%s\" contains \"" TMP_MARK "\"", key);
        pc_err_hint("pgcask reserves that name for its temporary files: choose another key.");
        return PC_E_USAGE;
    }
    return PC_OK;
}

static pc_status meta_check(const char *key, const repo_put_opts *po)
{
    if (!po || po->nmeta == 0)
        return PC_OK;
    pc_status st = PC_OK;
    if (po->nmeta > REPO_META_MAX)
        st = pc_err(PC_E_USAGE, "too many metadata entries for \"%s\": %zu (at most %d)", key,
                    po->nmeta, REPO_META_MAX);
    for (size_t i = 0; st == PC_OK && i < po->nmeta; i++) {
        const char *k = po->meta[i].key;
        size_t kl = k ? strlen(k) : 0;
        if (kl == 0 || kl >= sizeof((repo_obj *)0)->meta_key[0] ||
            strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") != kl)
            st = pc_err(PC_E_USAGE, "invalid metadata key \"%s\" for \"%s\"", k ? k : "", key);
        else if (!po->meta[i].value ||
                 strlen(po->meta[i].value) >= sizeof((repo_obj *)0)->meta_value[0])
            st = pc_err(PC_E_USAGE, "metadata value of \"%s\" for \"%s\" is missing or too long", k,
                        key);
    }
    if (st)
        pc_err_hint("Metadata: at most %d entries, keys of lower-case letters, digits and '-' "
                    "(up to 63), values up to 255 bytes.",
                    REPO_META_MAX);
    return st;
}

/*
 * Pass-through stage in front of the file sink: on finish it attaches the
 * metadata to the still-open temp file, before the file sink's rename.
 */
typedef struct meta_sink {
    pc_sink base;
    char *path;
    size_t n;
    char key[REPO_META_MAX][64];
    char value[REPO_META_MAX][256];
} meta_sink;

static pc_status meta_write(pc_sink *s, const void *data, size_t len)
{
    return pc_sink_write(s->next, data, len);
}

static pc_status meta_finish(pc_sink *s)
{
    meta_sink *m = (meta_sink *)s;
    int fd = pc_sink_file_fd(s->next);
    if (fd < 0)
        return pc_err(PC_E_INTERNAL, "metadata stage of \"%s\" has no open file", m->path);
    for (size_t i = 0; i < m->n; i++) {
        char name[sizeof XATTR_PREFIX + sizeof m->key[0]];
        snprintf(name, sizeof name, XATTR_PREFIX "%s", m->key[i]);
        if (fsetxattr(fd, name, m->value[i], strlen(m->value[i]), 0) != 0) {
            if (errno == ENOTSUP)
                return PC_OK; /* no user xattrs on this file system: metadata is best effort */
            return pc_err(PC_E_IO, "could not store metadata \"%s\" of \"%s\": %m", m->key[i],
                          m->path);
        }
    }
    return PC_OK;
}

static void meta_destroy(pc_sink *s)
{
    meta_sink *m = (meta_sink *)s;
    free(m->path);
    free(m);
}

static const pc_sink_ops meta_ops = {
    .name = "file-metadata", .write = meta_write, .finish = meta_finish, .destroy = meta_destroy};

/* Pass-through stage that holds writes to --max-bandwidth, as the S3 backend does. */
typedef struct pace_sink {
    pc_sink base;
    pc_pacer *pacer;
} pace_sink;

static pc_status pace_write(pc_sink *s, const void *data, size_t len)
{
    pace_sink *p = (pace_sink *)s;
    size_t chunk = pc_pacer_chunk(p->pacer);
    const char *d = data;
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;
        pc_pacer_wait(p->pacer, n);
        pc_status st = pc_sink_write(s->next, d, n);
        if (st)
            return st;
        d += n;
        len -= n;
    }
    return PC_OK;
}

static void pace_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops pace_ops = {
    .name = "file-bandwidth", .write = pace_write, .destroy = pace_destroy};

/* Wrap *chain in a pace stage when --max-bandwidth is set. */
static pc_status add_pace(fsr *f, pc_sink **chain)
{
    if (!f->pacer.bps)
        return PC_OK;
    pace_sink *p = pc_calloc(1, sizeof *p);
    if (!p)
        return PC_E_INTERNAL;
    pc_sink_init(&p->base, &pace_ops, *chain);
    p->pacer = &f->pacer;
    *chain = &p->base;
    return PC_OK;
}

static pc_status fsr_put_stream(void *impl, const char *key, const repo_put_opts *po, pc_sink **out)
{
    fsr *f = impl;
    pc_status st = put_key_check(key);
    if (st == PC_OK)
        st = meta_check(key, po);
    if (st == PC_OK)
        st = root_check(f);
    if (st)
        return st;
    char *path = fsr_path(f, key);
    if (!path)
        return PC_E_INTERNAL;
    pc_sink *chain;
    st = pc_sink_file_new(path, OBJ_MODE, f->file_flags, &chain);
    if (st) {
        pc_err_context("storing \"%s\"", key);
        free(path);
        return st;
    }
    if (po && po->nmeta > 0) {
        meta_sink *m = pc_calloc(1, sizeof *m);
        if (!m) {
            pc_sink_free(chain);
            free(path);
            return PC_E_INTERNAL;
        }
        pc_sink_init(&m->base, &meta_ops, chain);
        m->path = path;
        path = NULL;
        m->n = po->nmeta;
        for (size_t i = 0; i < po->nmeta; i++) {
            snprintf(m->key[i], sizeof m->key[i], "%s", po->meta[i].key);
            snprintf(m->value[i], sizeof m->value[i], "%s", po->meta[i].value);
        }
        chain = &m->base;
    }
    free(path);
    if ((st = add_pace(f, &chain)) != PC_OK) {
        pc_sink_free(chain);
        return st;
    }
    *out = chain;
    return PC_OK;
}

static pc_status fsr_put(void *impl, const char *key, const void *data, size_t len,
                         const repo_put_opts *po)
{
    pc_sink *s;
    pc_status st = fsr_put_stream(impl, key, po, &s);
    if (st)
        return st;
    st = pc_source_mem(data, len, s);
    pc_sink_free(s);
    return st;
}

/* ---- get / head ---- */

/* Open an object; a missing file or a directory is "not found", a missing root "no bucket". */
static pc_status obj_open(const fsr *f, const char *key, int *fd_out, struct stat *sb)
{
    char *path = fsr_path(f, key);
    if (!path)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            st = root_check(f);
            if (st == PC_OK)
                st = pc_err(PC_E_NOT_FOUND, "object \"%s\" not found in file://%s", key, f->root);
        } else {
            st = pc_err(PC_E_IO, "could not open \"%s\": %m", path);
        }
    } else if (fstat(fd, sb) != 0) {
        st = pc_err(PC_E_IO, "could not stat \"%s\": %m", path);
    } else if (!S_ISREG(sb->st_mode)) {
        st = pc_err(PC_E_NOT_FOUND, "object \"%s\" not found in file://%s", key, f->root);
    }
    free(path);
    if (st) {
        if (fd >= 0)
            close(fd);
        return st;
    }
    *fd_out = fd;
    return PC_OK;
}

static void read_meta(int fd, repo_obj *info);

static void fill_info(const struct stat *sb, repo_obj *info)
{
    info->size = (uint64_t)sb->st_size;
    info->mtime_us = (int64_t)sb->st_mtim.tv_sec * 1000000 + sb->st_mtim.tv_nsec / 1000;
    info->etag[0] = '\0';
}

static pc_status fsr_get(void *impl, const char *key, uint64_t offset, uint64_t length,
                         pc_sink *dest, repo_obj *info)
{
    fsr *f = impl;
    int fd;
    struct stat sb;
    pc_status st = obj_open(f, key, &fd, &sb);
    if (st)
        return st;
    if (info) {
        fill_info(&sb, info);
        read_meta(fd, info);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (offset > size || (offset == size && size > 0)) {
        close(fd);
        return pc_err(PC_E_USAGE,
                      "range starting at byte %llu is past the end of \"%s\" (%llu bytes)",
                      (unsigned long long)offset, key, (unsigned long long)size);
    }
    uint64_t end = length == 0 || length > size - offset ? size : offset + length;
    unsigned char *chunk = pc_malloc(GET_CHUNK);
    if (!chunk) {
        close(fd);
        return PC_E_INTERNAL;
    }
    for (uint64_t pos = offset; pos < end && st == PC_OK;) {
        size_t want = end - pos < GET_CHUNK ? (size_t)(end - pos) : GET_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = pc_err(PC_E_IO, "could not read object \"%s\": %m", key);
        } else if (n == 0) {
            st = pc_err(PC_E_CORRUPT, "object \"%s\" ended after %llu of %llu bytes", key,
                        (unsigned long long)pos, (unsigned long long)size);
        } else {
            st = pc_sink_write(dest, chunk, (size_t)n);
            pos += (uint64_t)n;
        }
    }
    free(chunk);
    close(fd);
    return st;
}

static pc_status fsr_head(void *impl, const char *key, repo_obj *info)
{
    fsr *f = impl;
    int fd;
    struct stat sb;
    pc_status st = obj_open(f, key, &fd, &sb);
    if (st)
        return st;
    fill_info(&sb, info);
    read_meta(fd, info);
    close(fd);
    return PC_OK;
}

/* The user.pgcask.* extended attributes of an open object. */
static void read_meta(int fd, repo_obj *info)
{
    char names[4096];
    ssize_t len = flistxattr(fd, names, sizeof names);
    /* no xattr support, or more names than pgcask ever writes: report what can be read */
    for (ssize_t i = 0; len > 0 && i < len && info->nmeta < REPO_META_MAX;
         i += (ssize_t)strlen(names + i) + 1) {
        const char *name = names + i;
        if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
            continue;
        const char *mk = name + strlen(XATTR_PREFIX);
        char *val = info->meta_value[info->nmeta];
        ssize_t vl = fgetxattr(fd, name, val, sizeof info->meta_value[0] - 1);
        if (vl < 0 || strlen(mk) >= sizeof info->meta_key[0])
            continue;
        val[vl] = '\0';
        snprintf(info->meta_key[info->nmeta], sizeof info->meta_key[0], "%s", mk);
        info->nmeta++;
    }
}

/* ---- list ---- */

typedef struct dent {
    char *sort; /* name, plus '/' for a directory: the order S3 gives full keys */
    bool is_dir;
    uint64_t size;
    int64_t mtime_us;
} dent;

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->sort, ((const dent *)b)->sort);
}

static void dents_free(dent *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].sort);
    free(d);
}

/*
 * Read directory <root>/<rel> (rel "" or ending in '/'): regular files and
 * directories whose name starts with `filter`, temp files skipped, sorted.
 * Symlinks and special files are not objects. A directory that vanished or
 * is a file reads as empty.
 */
static pc_status read_dir(const fsr *f, const char *rel, const char *filter, dent **out,
                          size_t *nout)
{
    *out = NULL;
    *nout = 0;
    char *path = fsr_path(f, rel);
    if (!path)
        return PC_E_INTERNAL;
    DIR *d = opendir(path);
    if (!d) {
        pc_status st = errno == ENOENT || errno == ENOTDIR
                           ? PC_OK
                           : pc_err(PC_E_IO, "could not open directory \"%s\": %m", path);
        free(path);
        return st;
    }
    size_t flen = strlen(filter), n = 0, alloc = 0;
    dent *v = NULL;
    pc_status st = PC_OK;
    struct dirent *e;
    /* readdir reports errors only through errno */
    while ((errno = 0, e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strncmp(nm, filter, flen) != 0 ||
            strstr(nm, TMP_MARK))
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), nm, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* deleted while listing */
            st = pc_err(PC_E_IO, "could not stat \"%s/%s\": %m", path, nm);
            break;
        }
        if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
            continue;
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            dent *nv = pc_realloc(v, alloc * sizeof *v);
            if (!nv) {
                st = PC_E_INTERNAL;
                break;
            }
            v = nv;
        }
        v[n].is_dir = S_ISDIR(sb.st_mode);
        v[n].sort = pc_asprintf("%s%s", nm, v[n].is_dir ? "/" : "");
        v[n].size = (uint64_t)sb.st_size;
        v[n].mtime_us = (int64_t)sb.st_mtim.tv_sec * 1000000 + sb.st_mtim.tv_nsec / 1000;
        if (!v[n].sort) {
            st = PC_E_INTERNAL;
            break;
        }
        n++;
    }
    if (st == PC_OK && errno != 0)
        st = pc_err(PC_E_IO, "could not read directory \"%s\": %m", path);
    closedir(d);
    free(path);
    if (st) {
        dents_free(v, n);
        return st;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, dent_cmp);
    *out = v;
    *nout = n;
    return PC_OK;
}

/* Does <root>/<rel> hold at least one object, at any depth? */
static pc_status dir_has_object(const fsr *f, const char *rel, bool *found)
{
    dent *v;
    size_t n;
    pc_status st = read_dir(f, rel, "", &v, &n);
    *found = false;
    for (size_t i = 0; st == PC_OK && i < n && !*found; i++) {
        if (!v[i].is_dir) {
            *found = true;
        } else {
            char *sub = pc_asprintf("%s%s", rel, v[i].sort);
            st = sub ? dir_has_object(f, sub, found) : PC_E_INTERNAL;
            free(sub);
        }
    }
    dents_free(v, n);
    return st;
}

typedef struct lister {
    const fsr *f;
    const char *prefix;
    size_t plen;
    const char *delim; /* NULL: no folding */
    size_t dlen;
    repo_list_cb cb;
    void *ud;
    char *last_cp; /* the last common prefix emitted, so each appears once */
} lister;

/*
 * Where a key (or every key under a directory, when `s` is "dir/") folds:
 * the length of its common prefix, or 0 when the part of s after the
 * prefix has no delimiter.
 */
static size_t fold_len(const lister *l, const char *s, size_t slen)
{
    if (!l->delim || slen <= l->plen)
        return 0;
    const char *hit = memmem(s + l->plen, slen - l->plen, l->delim, l->dlen);
    return hit ? (size_t)(hit - s) + l->dlen : 0;
}

static pc_status emit_prefix(lister *l, const char *s, size_t cplen)
{
    if (l->last_cp && strlen(l->last_cp) == cplen && memcmp(l->last_cp, s, cplen) == 0)
        return PC_OK;
    free(l->last_cp);
    l->last_cp = pc_strndup(s, cplen);
    if (!l->last_cp)
        return PC_E_INTERNAL;
    repo_entry e = {.key = l->last_cp, .is_prefix = true, .etag = ""};
    return l->cb(&e, l->ud);
}

static pc_status walk(lister *l, const char *rel, const char *filter)
{
    dent *v;
    size_t n;
    pc_status st = read_dir(l->f, rel, filter, &v, &n);
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        char *k = pc_asprintf("%s%s", rel, v[i].sort);
        if (!k) {
            st = PC_E_INTERNAL;
            break;
        }
        size_t klen = strlen(k), cp = fold_len(l, k, klen);
        if (!v[i].is_dir) {
            if (cp) {
                st = emit_prefix(l, k, cp);
            } else {
                repo_entry e = {.key = k, .size = v[i].size, .mtime_us = v[i].mtime_us, .etag = ""};
                st = l->cb(&e, l->ud);
            }
        } else if (cp) {
            /* every key below folds into the same prefix: show it if any object is there */
            bool found;
            st = dir_has_object(l->f, k, &found);
            if (st == PC_OK && found)
                st = emit_prefix(l, k, cp);
        } else {
            st = walk(l, k, "");
        }
        free(k);
    }
    dents_free(v, n);
    return st;
}

static pc_status fsr_list(void *impl, const char *prefix, const char *delimiter, repo_list_cb cb,
                          void *ud)
{
    fsr *f = impl;
    pc_status st = root_check(f);
    if (st)
        return st;
    const char *slash = strrchr(prefix, '/');
    size_t dirlen = slash ? (size_t)(slash - prefix) + 1 : 0;
    char *rel = pc_strndup(prefix, dirlen);
    if (!rel)
        return PC_E_INTERNAL;
    lister l = {.f = f,
                .prefix = prefix,
                .plen = strlen(prefix),
                .delim = delimiter && *delimiter ? delimiter : NULL,
                .dlen = delimiter ? strlen(delimiter) : 0,
                .cb = cb,
                .ud = ud};
    st = walk(&l, rel, prefix + dirlen);
    free(l.last_cp);
    free(rel);
    return st;
}

/* ---- delete ---- */

static pc_status fsr_del(void *impl, const char *const *keys, size_t nkeys)
{
    fsr *f = impl;
    pc_status st = root_check(f);
    char *synced = NULL; /* directory last fsynced: keys usually come sorted */
    for (size_t i = 0; st == PC_OK && i < nkeys; i++) {
        char *path = fsr_path(f, keys[i]);
        if (!path) {
            st = PC_E_INTERNAL;
            break;
        }
        /* missing, or a "directory" that S3 would not know as a key: nothing to delete */
        if (unlink(path) != 0) {
            if (errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
                st = pc_err(PC_E_IO, "could not delete object \"%s\" (%s): %m", keys[i], path);
        } else if (!(f->file_flags & PC_FILE_NOSYNC)) {
            char *dir = pc_dirname(path);
            if (!dir) {
                st = PC_E_INTERNAL;
            } else if (!synced || strcmp(synced, dir) != 0) {
                st = pc_fsync_dir(dir);
                free(synced);
                synced = dir;
                dir = NULL;
            }
            free(dir);
        }
        free(path);
    }
    free(synced);
    return st;
}

/* ---- bucket ---- */

static pc_status fsr_check(void *impl)
{
    fsr *f = impl;
    pc_status st = root_check(f);
    if (st)
        return st;
    if (access(root_name(f), R_OK | W_OK | X_OK) != 0) {
        pc_err(PC_E_IO, "repository directory \"%s\" is not usable: %m", root_name(f));
        pc_err_hint("Check the directory's owner and permissions for the user running pgcask.");
        return PC_E_IO;
    }
    return PC_OK;
}

static pc_status fsr_create_bucket(void *impl)
{
    fsr *f = impl;
    return pc_mkdirs(root_name(f), 0700);
}

/* ---- unfinished writes ---- */

/*
 * A temp file "<name>.pgcask-tmp.<pid>.<n>" whose writer is gone: the
 * equivalent of an unfinished multipart upload. *key_len is the length of
 * the name before the mark. A live writer's file is never touched.
 */
static bool stale_tmp(const char *name, size_t *key_len)
{
    const char *m = strstr(name, TMP_MARK);
    if (!m)
        return false;
    for (const char *next; (next = strstr(m + 1, TMP_MARK)) != NULL;)
        m = next;
    const char *p = m + strlen(TMP_MARK);
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || end == p || *end != '.' || pid <= 0 || pid > 0x3fffffff)
        return false;
    p = end + 1;
    if (!*p || strspn(p, "0123456789") != strlen(p))
        return false;
    *key_len = (size_t)(m - name);
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Count (and with `remove`, delete) stale temp files of keys starting with prefix. */
static pc_status scan_tmp(const fsr *f, const char *rel, const char *prefix, bool remove,
                          size_t *count)
{
    char *path = fsr_path(f, rel);
    if (!path)
        return PC_E_INTERNAL;
    DIR *d = opendir(path);
    if (!d) {
        pc_status st = errno == ENOENT || errno == ENOTDIR
                           ? PC_OK
                           : pc_err(PC_E_IO, "could not open directory \"%s\": %m", path);
        free(path);
        return st;
    }
    size_t rlen = strlen(rel), plen = strlen(prefix);
    pc_status st = PC_OK;
    struct dirent *e;
    while (st == PC_OK && (errno = 0, e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), nm, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        char *k = pc_asprintf("%s%s%s", rel, nm, S_ISDIR(sb.st_mode) ? "/" : "");
        if (!k) {
            st = PC_E_INTERNAL;
            break;
        }
        size_t klen = strlen(k), nlen;
        if (S_ISDIR(sb.st_mode)) {
            /* descend where keys below can start with the prefix */
            size_t m = klen < plen ? klen : plen;
            if (strncmp(k, prefix, m) == 0)
                st = scan_tmp(f, k, prefix, remove, count);
        } else if (S_ISREG(sb.st_mode) && stale_tmp(nm, &nlen) && rlen + nlen >= plen &&
                   strncmp(k, prefix, plen) == 0) {
            if (!remove) {
                (*count)++;
            } else if (unlinkat(dirfd(d), nm, 0) == 0) {
                (*count)++;
            } else if (errno != ENOENT) {
                st = pc_err(PC_E_IO, "could not remove \"%s/%s\": %m", path, nm);
            }
        }
        free(k);
    }
    if (st == PC_OK && errno != 0)
        st = pc_err(PC_E_IO, "could not read directory \"%s\": %m", path);
    closedir(d);
    free(path);
    return st;
}

static pc_status scan_tmp_root(const fsr *f, const char *prefix, bool remove, size_t *count)
{
    *count = 0;
    pc_status st = root_check(f);
    if (st)
        return st;
    /* start in the prefix's directory: nothing above it can match */
    const char *slash = strrchr(prefix, '/');
    char *rel = pc_strndup(prefix, slash ? (size_t)(slash - prefix) + 1 : 0);
    if (!rel)
        return PC_E_INTERNAL;
    st = scan_tmp(f, rel, prefix, remove, count);
    free(rel);
    return st;
}

static pc_status fsr_abort_uploads(void *impl, const char *prefix, size_t *aborted)
{
    return scan_tmp_root(impl, prefix, true, aborted);
}

static pc_status fsr_count_uploads(void *impl, const char *prefix, size_t *count)
{
    return scan_tmp_root(impl, prefix, false, count);
}

const repo_driver repo_driver_file = {
    .scheme = "file",
    .open = fsr_open,
    .close = fsr_close,
    .put = fsr_put,
    .put_stream = fsr_put_stream,
    .get = fsr_get,
    .head = fsr_head,
    .list = fsr_list,
    .del = fsr_del,
    .check = fsr_check,
    .create_bucket = fsr_create_bucket,
    .abort_uploads = fsr_abort_uploads,
    .count_uploads = fsr_count_uploads,
};
