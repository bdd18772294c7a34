/*
 * Delta restore: bring an existing data directory (and its tablespaces) to
 * the backup's files, rewriting only what differs (restore/rst_int.h,
 * docs/restore.md "Delta restore"). The semantics are pgBackRest's: the
 * result holds exactly the backup's files, whatever the directory held
 * before.
 *
 * Nothing is ever followed through a symbolic link while cleaning: entries
 * are opened relative to their directory's descriptor with O_NOFOLLOW and
 * removed with unlinkat. The one exception is pg_wal when it is a link
 * (initdb -X): its target is cleaned as the directory it stands for.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/pool.h"
#include "restore/rst_int.h"

#define PATH_CAP  4096
#define READ_SIZE ((size_t)1 << 20)

typedef struct cand {
    size_t area;
    char *rel;
    const cat_mf_file *f;
    bool same;
    pc_status st;
    pc_error err;
} cand;

typedef struct delta {
    const rst_delta_opts *o;
    int *root_fd;
    cand *c;
    size_t nc, ac;
    rst_delta_result *res;
} delta;

/* ---- postmaster.pid ---- */

pc_status rst_check_not_running(const char *pgdata)
{
    char *path = pc_path_join(pgdata, "postmaster.pid");
    if (!path)
        return PC_E_INTERNAL;
    pc_buf b;
    pc_buf_init(&b, 64 * 1024);
    pc_status st = pc_read_file(path, 64 * 1024, &b);
    if (st == PC_E_NOT_FOUND) {
        pc_err_clear();
        st = PC_OK;
    } else if (st == PC_OK) {
        long pid = strtol(pc_buf_cstr(&b), NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
            pc_err(PC_E_BUSY, "PostgreSQL is running in \"%s\": postmaster.pid names process %ld",
                   pgdata, pid);
            pc_err_hint("Stop it first (pg_ctl stop -D %s): a delta restore rewrites the files "
                        "under the data directory.",
                        pgdata);
            st = PC_E_BUSY;
        } else {
            pc_info("\"%s\" is left from a server that is not running (process %ld is gone)", path,
                    pid);
        }
    }
    pc_buf_free(&b);
    free(path);
    return st;
}

/* ---- removing ---- */

static pc_status remove_at(delta *d, int dirfd, const char *name, const char *what);

static pc_status names_of(int fd, const char *what, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = dup(fd);
    DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!dir) {
        if (dfd >= 0)
            close(dfd);
        return pc_err(PC_E_IO, "could not read directory \"%s\": %m", what);
    }
    rewinddir(dir);
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    pc_status st = PC_OK;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = pc_realloc(v, cap * sizeof *v);
            if (!nv) {
                st = PC_E_INTERNAL;
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = pc_strdup(e->d_name))) {
            st = PC_E_INTERNAL;
            break;
        }
        cnt++;
    }
    closedir(dir);
    if (st) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return st;
    }
    *out = v;
    *n = cnt;
    return PC_OK;
}

static void names_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* rm -rf of one entry below dirfd, never following a link. */
static pc_status remove_at(delta *d, int dirfd, const char *name, const char *what)
{
    struct stat sb;
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? PC_OK : pc_err(PC_E_IO, "could not stat \"%s\": %m", what);
    if (S_ISDIR(sb.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return pc_err(PC_E_IO, "could not open directory \"%s\": %m", what);
        char **v;
        size_t n;
        pc_status st = names_of(fd, what, &v, &n);
        for (size_t i = 0; st == PC_OK && i < n; i++) {
            char sub[PATH_CAP];
            int w = snprintf(sub, sizeof sub, "%s/%s", what, v[i]);
            st = w < 0 || (size_t)w >= sizeof sub
                     ? pc_err(PC_E_IO, "path too long below \"%s\"", what)
                     : remove_at(d, fd, v[i], sub);
        }
        names_free(v, n);
        close(fd);
        if (st)
            return st;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            return pc_err(PC_E_IO, "could not remove directory \"%s\": %m", what);
    } else if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        return pc_err(PC_E_IO, "could not remove \"%s\": %m", what);
    }
    d->res->removed++;
    pc_debug("delta: removed \"%s\"", what);
    return PC_OK;
}

/* ---- the walk ---- */

static pc_status add_cand(delta *d, size_t area, const char *rel, const cat_mf_file *f)
{
    if (d->nc == d->ac) {
        size_t na = d->ac ? d->ac * 2 : 256;
        cand *nv = pc_realloc(d->c, na * sizeof *nv);
        if (!nv)
            return PC_E_INTERNAL;
        d->c = nv;
        d->ac = na;
    }
    cand *c = &d->c[d->nc];
    memset(c, 0, sizeof *c);
    c->area = area;
    c->f = f;
    if (!(c->rel = pc_strdup(rel)))
        return PC_E_INTERNAL;
    d->nc++;
    return PC_OK;
}

/* pg_tblspc/<name> names the tablespace of area *area. */
static bool ts_area(const delta *d, const char *name, size_t *area)
{
    for (size_t i = 1; i < d->o->nareas; i++) {
        if (d->o->area_ts[i] && strcmp(d->o->area_ts[i], name) == 0) {
            *area = i;
            return true;
        }
    }
    return false;
}

static pc_status clean_dir(delta *d, size_t area, int dirfd, const char *rel);

static pc_status clean_entry(delta *d, size_t area, int dirfd, const char *rel, const char *name)
{
    const rst_delta_opts *o = d->o;
    const char *root = o->areas[area].root;
    char child[PATH_CAP], what[PATH_CAP];
    int n = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof child)
        return pc_err(PC_E_IO, "path too long below \"%s\"", root);
    n = snprintf(what, sizeof what, "%s/%s", root, child);
    if (n < 0 || (size_t)n >= sizeof what)
        return pc_err(PC_E_IO, "path too long below \"%s\"", root);
    struct stat sb;
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? PC_OK : pc_err(PC_E_IO, "could not stat \"%s\": %m", what);
    bool top = !*rel;
    size_t ta;
    if (area == 0 && top && strcmp(name, "tablespace_map") == 0)
        return remove_at(d, dirfd, name, what); /* rewritten for the new locations */
    if (area == 0 && strcmp(rel, "pg_tblspc") == 0 && ts_area(d, name, &ta)) {
        char target[PATH_CAP];
        ssize_t tn = S_ISLNK(sb.st_mode) ? readlinkat(dirfd, name, target, sizeof target - 1) : -1;
        if (tn > 0) {
            target[tn] = '\0';
            if (strcmp(target, o->ts_link[ta]) == 0)
                return PC_OK; /* restore keeps a link that points where it must */
        }
        return remove_at(d, dirfd, name, what);
    }
    const cat_mf_file *f = cat_mf_index_find(o->manifest, o->area_ts[area], child);
    if (area > 0 && top && !(f && f->type == 'd')) {
        pc_debug("delta: leaving \"%s\" alone: not a directory of the backup", what);
        return PC_OK;
    }
    if (!f)
        return remove_at(d, dirfd, name, what);
    switch (f->type) {
    case 'd': {
        bool wal_link = area == 0 && top && S_ISLNK(sb.st_mode) &&
                        (strcmp(name, "pg_wal") == 0 || strcmp(name, "pg_xlog") == 0);
        if (!S_ISDIR(sb.st_mode) && !wal_link)
            return remove_at(d, dirfd, name, what);
        int fd =
            openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (wal_link ? 0 : O_NOFOLLOW));
        if (fd < 0) {
            if (wal_link)
                return remove_at(d, dirfd, name, what); /* a dangling pg_wal link */
            return pc_err(PC_E_IO, "could not open directory \"%s\": %m", what);
        }
        pc_status st = PC_OK;
        if (fchmod(fd, (mode_t)(f->mode & 0777) | 0700) != 0)
            st = pc_err(PC_E_IO, "could not set the mode of \"%s\": %m", what);
        cat_mf_index_mark(o->manifest, f);
        if (st == PC_OK)
            st = clean_dir(d, area, fd, child);
        close(fd);
        return st;
    }
    case 'f':
        if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == f->size &&
            !(area == 0 && strcmp(child, "global/pg_control") == 0))
            return add_cand(d, area, child, f);
        return remove_at(d, dirfd, name, what);
    default:
        /* links are made again after the unpack, from the manifest */
        return remove_at(d, dirfd, name, what);
    }
}

static pc_status clean_dir(delta *d, size_t area, int dirfd, const char *rel)
{
    char what[PATH_CAP];
    int w = snprintf(what, sizeof what, "%s%s%s", d->o->areas[area].root, *rel ? "/" : "", rel);
    if (w < 0 || (size_t)w >= sizeof what)
        return pc_err(PC_E_IO, "path too long below \"%s\"", d->o->areas[area].root);
    char **v;
    size_t n;
    pc_status st = names_of(dirfd, what, &v, &n);
    for (size_t i = 0; st == PC_OK && i < n; i++)
        st = clean_entry(d, area, dirfd, rel, v[i]);
    names_free(v, n);
    return st;
}

/* ---- hashing the files that may be kept ---- */

typedef struct hash_job {
    delta *d;
    cand *c;
} hash_job;

static pc_status hash_task(void *arg)
{
    hash_job *j = arg;
    cand *c = j->c;
    delta *d = j->d;
    const char *root = d->o->areas[c->area].root;
    int fd = openat(d->root_fd[c->area], c->rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return PC_OK; /* c->same stays false */
        c->st = pc_err(PC_E_IO, "could not open \"%s/%s\": %m", root, c->rel);
        pc_err_save(&c->err);
        return PC_OK;
    }
    unsigned char *buf = pc_malloc(READ_SIZE);
    pc_hash *h = NULL;
    pc_status st = buf ? pc_hash_new(PC_HASH_SHA256, &h) : PC_E_INTERNAL;
    uint64_t total = 0;
    while (st == PC_OK) {
        ssize_t n = read(fd, buf, READ_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = pc_err(PC_E_IO, "could not read \"%s/%s\": %m", root, c->rel);
            break;
        }
        if (n == 0)
            break;
        pc_hash_update(h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (st == PC_OK && total == c->f->size) {
        unsigned char got[PC_SHA256_LEN];
        char hex[2 * PC_SHA256_LEN + 1];
        pc_hash_final(h, got);
        pc_hex(got, sizeof got, hex);
        c->same = strcmp(hex, c->f->sha256) == 0;
    }
    pc_hash_free(h);
    free(buf);
    close(fd);
    if (st) {
        c->st = st;
        pc_err_save(&c->err);
    }
    return PC_OK;
}

static pc_status hash_all(delta *d)
{
    if (d->nc == 0)
        return PC_OK;
    hash_job *jobs = pc_calloc(d->nc, sizeof *jobs);
    if (!jobs)
        return PC_E_INTERNAL;
    size_t threads = d->o->jobs < 1 ? 1 : (size_t)d->o->jobs;
    if (threads > d->nc)
        threads = d->nc;
    pc_pool *pool = NULL;
    pc_status st = pc_pool_new(threads, d->nc, &pool);
    for (size_t i = 0; st == PC_OK && i < d->nc; i++) {
        jobs[i] = (hash_job){.d = d, .c = &d->c[i]};
        st = pc_pool_submit(pool, hash_task, &jobs[i]);
    }
    if (pool) {
        pc_status w = pc_pool_wait(pool);
        st = st ? st : w;
        pc_pool_free(pool);
    }
    free(jobs);
    for (size_t i = 0; st == PC_OK && i < d->nc; i++) {
        cand *c = &d->c[i];
        if (c->st) {
            pc_err_restore(&c->err);
            return c->st;
        }
        d->res->hashed_bytes += c->f->size;
        if (c->same) {
            cat_mf_index_mark(d->o->manifest, c->f);
            d->res->kept_files++;
            d->res->kept_bytes += c->f->size;
            continue;
        }
        if (unlinkat(d->root_fd[c->area], c->rel, 0) != 0 && errno != ENOENT)
            return pc_err(PC_E_IO, "could not remove \"%s/%s\": %m", d->o->areas[c->area].root,
                          c->rel);
        d->res->removed++;
    }
    return st;
}

/* ---- the whole ---- */

static pc_status open_roots(const rst_delta_opts *o, int **out)
{
    int *fds = pc_calloc(o->nareas ? o->nareas : 1, sizeof *fds);
    if (!fds)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < o->nareas; i++)
        fds[i] = -1;
    for (size_t i = 0; i < o->nareas; i++) {
        fds[i] = open(o->areas[i].root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fds[i] < 0) {
            pc_status st = pc_err(PC_E_IO, "could not open directory \"%s\": %m", o->areas[i].root);
            for (size_t k = 0; k < i; k++)
                close(fds[k]);
            free(fds);
            return st;
        }
    }
    *out = fds;
    return PC_OK;
}

static void close_roots(const rst_delta_opts *o, int *fds)
{
    for (size_t i = 0; fds && i < o->nareas; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
}

pc_status rst_delta_clean(const rst_delta_opts *o, rst_delta_result *res)
{
    memset(res, 0, sizeof *res);
    delta d = {.o = o, .res = res};
    pc_status st = open_roots(o, &d.root_fd);
    if (st)
        return st;
    /* first: a cluster whose restore stops half way must not start */
    if (unlinkat(d.root_fd[0], "global/pg_control", 0) == 0) {
        char *g = pc_path_join(o->areas[0].root, "global");
        st = g ? pc_fsync_dir(g) : PC_E_INTERNAL;
        free(g);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        st = pc_err(PC_E_IO, "could not remove \"%s/global/pg_control\": %m", o->areas[0].root);
    }
    for (size_t i = 0; st == PC_OK && i < o->nareas; i++)
        st = clean_dir(&d, i, d.root_fd[i], "");
    if (st == PC_OK)
        st = hash_all(&d);
    for (size_t i = 0; i < d.nc; i++)
        free(d.c[i].rel);
    free(d.c);
    close_roots(o, d.root_fd);
    return st;
}

/* The area of a manifest entry, by its tablespace. */
static bool area_of_entry(const rst_delta_opts *o, const cat_mf_file *f, size_t *area)
{
    for (size_t i = 0; i < o->nareas; i++) {
        const char *t = o->area_ts[i];
        if ((t == NULL && f->tablespace == NULL) ||
            (t && f->tablespace && strcmp(t, f->tablespace) == 0)) {
            *area = i;
            return true;
        }
    }
    return false;
}

static pc_status mkdir_p(int root, const char *rootpath, const char *rel, mode_t mode)
{
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s", rel);
    size_t len = strlen(path);
    for (size_t i = 0; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char save = path[i];
        path[i] = '\0';
        bool last = save == '\0';
        if (mkdirat(root, path, last ? mode : 0700) != 0) {
            struct stat sb;
            if (errno != EEXIST || fstatat(root, path, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
                !S_ISDIR(sb.st_mode))
                return pc_err(PC_E_IO, "could not create directory \"%s/%s\": %m", rootpath, path);
            if (last && fchmodat(root, path, mode, 0) != 0)
                return pc_err(PC_E_IO, "could not set the mode of \"%s/%s\": %m", rootpath, path);
        }
        path[i] = save;
    }
    return PC_OK;
}

/* Check a manifest entry as the unpack checks a tar member (no escape from the area). */
static pc_status check_entry(const rst_delta_opts *o, size_t area, const cat_mf_file *f,
                             rst_action *act)
{
    pc_tar_entry e = {
        .name = f->path,
        .linkname = f->target ? f->target : "",
        .type = f->type == 'd'   ? PC_TAR_DIR
                : f->type == 'l' ? PC_TAR_SYMLINK
                                 : PC_TAR_FILE,
        .typeflag = f->type == 'd'   ? '5'
                    : f->type == 'l' ? '2'
                                     : '0',
        .mode = f->mode,
        .size = f->size,
        .mtime = f->mtime,
    };
    char norm[PATH_CAP];
    return rst_entry_check(&o->areas[area], &e, CAT_MF_NAME, norm, sizeof norm, act);
}

pc_status rst_delta_dirs(const rst_delta_opts *o)
{
    int *fds = NULL;
    pc_status st = open_roots(o, &fds);
    for (size_t i = 0; st == PC_OK && i < cat_mf_index_count(o->manifest); i++) {
        const cat_mf_file *f = cat_mf_index_at(o->manifest, i);
        size_t area;
        if (f->type != 'd' || cat_mf_index_marked(o->manifest, f))
            continue;
        if (!area_of_entry(o, f, &area)) {
            st = pc_err(PC_E_CORRUPT,
                        "the manifest lists \"%s\" in tablespace %s, which the "
                        "backup does not have",
                        f->path, f->tablespace);
            break;
        }
        rst_action act;
        if ((st = check_entry(o, area, f, &act)) != PC_OK)
            break;
        if (act == RST_ACT_DIR)
            st = mkdir_p(fds[area], o->areas[area].root, f->path, (mode_t)(f->mode & 0777) | 0700);
        if (st == PC_OK)
            cat_mf_index_mark(o->manifest, f);
    }
    close_roots(o, fds);
    return st;
}

pc_status rst_delta_links(const rst_delta_opts *o)
{
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < cat_mf_index_count(o->manifest); i++) {
        const cat_mf_file *f = cat_mf_index_at(o->manifest, i);
        size_t area;
        if (f->type != 'l' || cat_mf_index_marked(o->manifest, f))
            continue;
        if (!area_of_entry(o, f, &area))
            return pc_err(PC_E_CORRUPT,
                          "the manifest lists \"%s\" in tablespace %s, which the "
                          "backup does not have",
                          f->path, f->tablespace);
        rst_action act;
        if ((st = check_entry(o, area, f, &act)) != PC_OK)
            break;
        if (act == RST_ACT_TS_LINK)
            continue; /* the restore makes the tablespace links itself */
        st = rst_symlink_at(o->areas[area].root, f->path, f->target);
        if (st == PC_OK)
            cat_mf_index_mark(o->manifest, f);
    }
    return st;
}
