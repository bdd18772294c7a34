/*
 * Local backups: the walk of a running cluster's data directory and
 * tablespaces between pg_backup_start() and pg_backup_stop()
 * (archiver/backup_int.h, docs/backup.md "Local, differential and
 * incremental backups").
 *
 * Directories are listed, sorted and walked with descriptors (openat with
 * O_NOFOLLOW), so a link inside PGDATA is recorded as a link and never
 * followed; pg_wal is the one link followed, as BASE_BACKUP does, because
 * initdb -X puts it elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "archiver/backup_int.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"

#define PATH_CAP  4096
#define READ_SIZE ((size_t)1 << 20)
/* pg_control is 8 KiB; its first 8 bytes are the system identifier */
#define PG_CONTROL_SIZE 8192

/* ==== rules ==== */

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bk_rule bk_local_rule(const char *rel, bool is_dir, bool in_tablespace)
{
    static const char *const top_files[] = {"postmaster.pid",
                                            "postmaster.opts",
                                            "backup_label",
                                            "backup_label.old",
                                            "tablespace_map",
                                            "tablespace_map.old",
                                            "backup_manifest",
                                            "standby.signal",
                                            "recovery.signal",
                                            "recovery.conf",
                                            "current_logfiles.tmp",
                                            "postgresql.auto.conf.tmp",
                                            NULL};
    static const char *const empty_dirs[] = {
        "pg_wal",       "pg_xlog",     "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial",
        "pg_snapshots", "pg_stat_tmp", "pg_subtrans", "log",         "pg_log",    NULL};
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    if (strncmp(base, "pgsql_tmp", 9) == 0)
        return BK_RULE_SKIP;
    if (!is_dir && strncmp(base, "pg_internal.init", 16) == 0)
        return BK_RULE_SKIP;
    if (in_tablespace || slash)
        return BK_RULE_COPY;
    if (!is_dir && one_of(base, top_files))
        return BK_RULE_SKIP;
    if (is_dir && one_of(base, empty_dirs))
        return BK_RULE_EMPTY;
    return BK_RULE_COPY;
}

static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* "[_fsm|_vm|_init][.<digits>]" to the end of s; *init for _init. */
static bool fork_and_segment(const char *s, bool *init)
{
    *init = false;
    if (strncmp(s, "_fsm", 4) == 0)
        s += 4;
    else if (strncmp(s, "_vm", 3) == 0)
        s += 3;
    else if (strncmp(s, "_init", 5) == 0) {
        s += 5;
        *init = true;
    }
    if (*s == '.') {
        size_t n = digits(s + 1);
        if (n == 0)
            return false;
        s += 1 + n;
    }
    return *s == '\0';
}

bool bk_relation_file(const char *name, size_t *node_len, bool *init)
{
    size_t n = digits(name);
    if (n == 0 || n > 10)
        return false;
    *node_len = n;
    return fork_and_segment(name + n, init);
}

bool bk_temp_relation(const char *name)
{
    if (name[0] != 't')
        return false;
    size_t a = digits(name + 1);
    if (a == 0 || name[1 + a] != '_')
        return false;
    size_t b = digits(name + 2 + a);
    bool init;
    return b > 0 && fork_and_segment(name + 2 + a + b, &init);
}

bool bk_file_unchanged(const cat_mf_file *prev, uint64_t size, int64_t mtime, int64_t parent_start)
{
    if (!prev || prev->type != 'f' || prev->size != size || prev->mtime != mtime)
        return false;
    if (parent_start == INT64_MIN)
        return false;
    return prev->mtime < parent_start - 1;
}

/* ==== the data directory ==== */

pc_status bk_local_check_pgdata(const char *pgdata, uint64_t *system_id, int *major)
{
    char *ver = pc_path_join(pgdata, "PG_VERSION");
    char *ctl = pc_path_join(pgdata, "global/pg_control");
    pc_status st = ver && ctl ? PC_OK : PC_E_INTERNAL;
    pc_buf b;
    pc_buf_init(&b, PG_CONTROL_SIZE);
    if (st == PC_OK && !pc_is_dir(pgdata)) {
        st = pc_err(PC_E_USAGE, "--local \"%s\" is not a directory", pgdata);
        pc_err_hint("Give the data directory of the PostgreSQL server the connection reaches "
                    "(SHOW data_directory).");
    }
    if (st == PC_OK) {
        st = pc_read_file(ver, 64, &b);
        if (st == PC_E_NOT_FOUND || st == PC_E_CORRUPT) {
            st = pc_err(PC_E_USAGE,
                        "--local \"%s\" is not a PostgreSQL data directory: it has no "
                        "PG_VERSION",
                        pgdata);
            pc_err_hint("Give the data directory of the PostgreSQL server the connection reaches "
                        "(SHOW data_directory).");
        }
    }
    if (st == PC_OK) {
        *major = atoi(pc_buf_cstr(&b));
        pc_buf_reset(&b);
        st = pc_read_file(ctl, PG_CONTROL_SIZE, &b);
        if (st == PC_E_NOT_FOUND || (st == PC_OK && b.len < 8) || st == PC_E_CORRUPT) {
            st = pc_err(PC_E_USAGE,
                        "--local \"%s\" is not a PostgreSQL data directory: "
                        "global/pg_control is missing or not %d bytes",
                        pgdata, PG_CONTROL_SIZE);
            pc_err_hint("Give the data directory of the PostgreSQL server the connection reaches "
                        "(SHOW data_directory).");
        }
    }
    if (st == PC_OK)
        memcpy(system_id, b.data, sizeof *system_id); /* host byte order, as PostgreSQL writes it */
    pc_buf_free(&b);
    free(ver);
    free(ctl);
    return st;
}

void bk_local_tablespaces_free(bk_local_ts *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].location);
    free(t);
}

static int ts_by_oid(const void *a, const void *b)
{
    const bk_local_ts *x = a, *y = b;
    return x->oid < y->oid ? -1 : x->oid > y->oid;
}

pc_status bk_local_tablespaces(const char *pgdata, bk_local_ts **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *dir = pc_path_join(pgdata, "pg_tblspc");
    if (!dir)
        return PC_E_INTERNAL;
    DIR *d = opendir(dir);
    if (!d) {
        pc_status st =
            errno == ENOENT ? PC_OK : pc_err(PC_E_IO, "could not open directory \"%s\": %m", dir);
        free(dir);
        return st;
    }
    bk_local_ts *v = NULL;
    size_t cnt = 0;
    pc_status st = PC_OK;
    struct dirent *e;
    while (st == PC_OK && (e = readdir(d)) != NULL) {
        size_t nd = digits(e->d_name);
        if (nd == 0 || e->d_name[nd] != '\0' || nd > 10)
            continue;
        char *p = pc_path_join(dir, e->d_name);
        struct stat sb;
        if (!p) {
            st = PC_E_INTERNAL;
            break;
        }
        if (lstat(p, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
            free(p); /* a directory: an in-place tablespace, part of PGDATA */
            continue;
        }
        char target[PATH_CAP];
        ssize_t tn = readlink(p, target, sizeof target - 1);
        free(p);
        if (tn <= 0)
            continue;
        target[tn] = '\0';
        bk_local_ts *nv = pc_realloc(v, (cnt + 1) * sizeof *v);
        if (!nv) {
            st = PC_E_INTERNAL;
            break;
        }
        v = nv;
        uint64_t oid = strtoull(e->d_name, NULL, 10);
        if (oid == 0 || oid > UINT32_MAX)
            continue;
        v[cnt].oid = (uint32_t)oid;
        snprintf(v[cnt].oid_text, sizeof v[cnt].oid_text, "%" PRIu32, v[cnt].oid);
        if (!(v[cnt].location = pc_strdup(target))) {
            st = PC_E_INTERNAL;
            break;
        }
        cnt++;
    }
    closedir(d);
    free(dir);
    if (st) {
        bk_local_tablespaces_free(v, cnt);
        return st;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, ts_by_oid);
    *out = v;
    *n = cnt;
    return PC_OK;
}

/* ==== the walk ==== */

typedef struct area {
    bk_archive *out;
    const char *ts;   /* oid text, NULL for PGDATA */
    const char *root; /* for messages */
    bool pgdata;
    uint32_t uid, gid; /* owner of the area's root, for the members we make up */
} area;

struct bk_local {
    bk_local_opts o;
    char *prefix, *backup_id, *suffix, *pgdata, *version_dir;
    cat_mf_index *files;
    bk_archive **done; /* completed archives, for their parts */
    size_t ndone;
    area data; /* PGDATA: open until finish */
    unsigned char *buf;
    bk_local_stats stats;
};

typedef struct dent {
    char *name;
    struct stat sb;
} dent;

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const dent *)a)->name, ((const dent *)b)->name);
}

static void dents_free(dent *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* The entries of an open directory (its descriptor stays the caller's), sorted, with lstat. */
static pc_status list_dir(int fd, const char *what, dent **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return pc_err(PC_E_IO, "could not read directory \"%s\": %m", what);
    }
    rewinddir(d);
    dent *v = NULL;
    size_t cnt = 0, cap = 0;
    pc_status st = PC_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue; /* removed since it was listed */
            st = pc_err(PC_E_IO, "could not stat \"%s/%s\": %m", what, e->d_name);
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            dent *nv = pc_realloc(v, cap * sizeof *v);
            if (!nv) {
                st = PC_E_INTERNAL;
                break;
            }
            v = nv;
        }
        if (!(v[cnt].name = pc_strdup(e->d_name))) {
            st = PC_E_INTERNAL;
            break;
        }
        v[cnt++].sb = sb;
        errno = 0;
    }
    if (st == PC_OK && errno != 0)
        st = pc_err(PC_E_IO, "could not read directory \"%s\": %m", what);
    closedir(d);
    if (st) {
        dents_free(v, cnt);
        return st;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, dent_cmp);
    *out = v;
    *n = cnt;
    return PC_OK;
}

static bool listed(const dent *v, size_t n, const char *name)
{
    dent key = {.name = (char *)(uintptr_t)name};
    return bsearch(&key, v, n, sizeof *v, dent_cmp) != NULL;
}

static uint32_t id32(uint64_t v)
{
    return v > UINT32_MAX ? 0 : (uint32_t)v;
}

static pc_status add_entry(bk_local *l, const area *a, const char *rel, char type,
                           const struct stat *sb, uint64_t size, const char *sha,
                           const uint32_t *crc, const char *backup, const char *archive,
                           const char *target)
{
    cat_mf_file f = {
        .path = rel,
        .tablespace = a->ts,
        .type = type,
        .size = size,
        .mtime = sb ? (int64_t)sb->st_mtime : l->o.now,
        .mode = type == 'l' ? 0777
                : sb        ? (uint32_t)(sb->st_mode & 07777)
                            : 0600,
        .sha256 = sha,
        .has_crc32c = crc != NULL,
        .crc32c = crc ? *crc : 0,
        .backup_id = backup,
        .archive = archive,
        .target = target,
    };
    pc_status st = cat_mf_index_add(l->files, &f);
    if (st)
        pc_err_context("recording \"%s/%s\"", a->root, rel);
    return st;
}

static pc_status add_dir(bk_local *l, area *a, const char *rel, const struct stat *sb)
{
    pc_status st = bk_archive_dir(a->out, rel, (uint32_t)(sb->st_mode & 07777), sb->st_mtime,
                                  id32(sb->st_uid), id32(sb->st_gid));
    return st ? st : add_entry(l, a, rel, 'd', sb, 0, NULL, NULL, l->backup_id, NULL, NULL);
}

static pc_status tick(bk_local *l)
{
    return l->o.tick ? l->o.tick(l->o.ud) : PC_OK;
}

static pc_status read_some(int fd, unsigned char *buf, size_t want, size_t *got, const area *a,
                           const char *rel)
{
    for (;;) {
        ssize_t n = read(fd, buf, want);
        if (n >= 0) {
            *got = (size_t)n;
            return PC_OK;
        }
        if (errno != EINTR)
            return pc_err(PC_E_IO, "could not read \"%s/%s\": %m", a->root, rel);
    }
}

/*
 * Read exactly size bytes of fd (zeros past an early end, nothing past size)
 * into the hash (and the CRC-32C when crc is set) and, when out is set, into
 * the open archive member.
 */
static pc_status stream_file(bk_local *l, const area *a, const char *rel, int fd, uint64_t size,
                             pc_hash *h, uint32_t *crc, bk_archive *out, bool *shrunk)
{
    uint64_t left = size;
    *shrunk = false;
    pc_status st = PC_OK;
    while (st == PC_OK && left > 0) {
        size_t want = left < READ_SIZE ? (size_t)left : READ_SIZE;
        size_t got = 0;
        if (!*shrunk) {
            if ((st = read_some(fd, l->buf, want, &got, a, rel)) != PC_OK)
                break;
            if (got == 0) {
                *shrunk = true;
                memset(l->buf, 0, READ_SIZE);
            }
        }
        if (*shrunk)
            got = want;
        pc_hash_update(h, l->buf, got);
        if (crc)
            *crc = pc_crc32c(*crc, l->buf, got);
        if (out)
            st = bk_archive_file_write(out, l->buf, got);
        left -= got;
        pc_progress_add(l->o.progress, got);
        if (st == PC_OK && (size - left) % (64u << 20) < got)
            st = tick(l);
    }
    return st;
}

static pc_status open_member(int dirfd, const char *name, const area *a, const char *rel, int *fd)
{
    *fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd >= 0)
        return PC_OK;
    if (errno == ENOENT)
        return PC_E_NOT_FOUND; /* vanished: the caller skips it */
    return pc_err(PC_E_IO, "could not open \"%s/%s\": %m", a->root, rel);
}

static void hex_of(pc_hash *h, char *hex)
{
    unsigned char d[PC_SHA256_LEN];
    pc_hash_final(h, d);
    pc_hex(d, sizeof d, hex);
}

/* Store one regular file in the archive; fd is open and positioned at 0. */
static pc_status copy_fd(bk_local *l, area *a, const char *rel, int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return pc_err(PC_E_IO, "could not stat \"%s/%s\": %m", a->root, rel);
    if (!S_ISREG(sb.st_mode))
        return PC_E_NOT_FOUND; /* replaced by something else since it was listed */
    uint64_t size = (uint64_t)sb.st_size;
    pc_hash *h;
    pc_status st = pc_hash_new(PC_HASH_SHA256, &h);
    if (st)
        return st;
    const char *part = NULL;
    bool alone = l->o.isolate && size >= l->o.isolate;
    if (alone)
        bk_archive_cut(a->out);
    st = bk_archive_file_begin(a->out, rel, size, (uint32_t)(sb.st_mode & 07777), sb.st_mtime,
                               id32(sb.st_uid), id32(sb.st_gid), &part);
    if (alone)
        bk_archive_cut(a->out); /* and the next member goes on */
    bool shrunk = false;
    uint32_t crc = 0;
    if (st == PC_OK)
        st = stream_file(l, a, rel, fd, size, h, &crc, a->out, &shrunk);
    if (st == PC_OK)
        st = bk_archive_file_end(a->out);
    if (st == PC_OK) {
        struct stat after;
        if (shrunk) {
            l->stats.shrunk++;
            pc_debug("\"%s/%s\" shrank while it was read: completed with zeros", a->root, rel);
        } else if (fstat(fd, &after) == 0 && (uint64_t)after.st_size > size) {
            l->stats.grew++;
            pc_debug("\"%s/%s\" grew while it was read: stored up to %" PRIu64 " bytes", a->root,
                     rel, size);
        }
        char hex[2 * PC_SHA256_LEN + 1];
        hex_of(h, hex);
        st = add_entry(l, a, rel, 'f', &sb, size, hex, &crc, l->backup_id, part, NULL);
    }
    pc_hash_free(h);
    if (st == PC_OK) {
        l->stats.copied_files++;
        l->stats.copied_bytes += size;
        l->stats.logical += size;
    }
    return st;
}

/* Take the parent's entry over: the bytes stay where they are. */
static pc_status keep(bk_local *l, area *a, const char *rel, const struct stat *sb,
                      const cat_mf_file *prev)
{
    pc_status st =
        add_entry(l, a, rel, 'f', sb, prev->size, prev->sha256,
                  prev->has_crc32c ? &prev->crc32c : NULL, prev->backup_id, prev->archive, NULL);
    if (st == PC_OK) {
        l->stats.kept_files++;
        l->stats.kept_bytes += prev->size;
        l->stats.logical += prev->size;
        pc_progress_add(l->o.progress, prev->size);
    }
    return st;
}

/* --checksum-all: is the file's content the parent's? fd is rewound for a copy afterwards. */
static pc_status same_content(bk_local *l, const area *a, const char *rel, int fd,
                              const cat_mf_file *prev, bool *same)
{
    pc_hash *h;
    pc_status st = pc_hash_new(PC_HASH_SHA256, &h);
    if (st)
        return st;
    bool shrunk = false;
    st = stream_file(l, a, rel, fd, prev->size, h, NULL, NULL, &shrunk);
    char hex[2 * PC_SHA256_LEN + 1];
    hex_of(h, hex);
    pc_hash_free(h);
    if (st)
        return st;
    l->stats.hashed_bytes += prev->size;
    *same = !shrunk && strcmp(hex, prev->sha256) == 0;
    if (!*same && lseek(fd, 0, SEEK_SET) != 0)
        return pc_err(PC_E_IO, "could not rewind \"%s/%s\": %m", a->root, rel);
    return PC_OK;
}

static pc_status file_entry(bk_local *l, area *a, int dirfd, const dent *e, const char *rel)
{
    const cat_mf_file *prev = l->o.parent ? cat_mf_index_find(l->o.parent, a->ts, rel) : NULL;
    if (prev && prev->type != 'f')
        prev = NULL;
    uint64_t size = (uint64_t)e->sb.st_size;
    if (prev && !l->o.checksum_all &&
        bk_file_unchanged(prev, size, e->sb.st_mtime, l->o.parent_start))
        return keep(l, a, rel, &e->sb, prev);
    /* a hot file (see bk_local_opts) is compared; one with another mtime is simply read */
    bool compare =
        prev && prev->size == size && (l->o.checksum_all || prev->mtime == e->sb.st_mtime);
    int fd;
    pc_status st = open_member(dirfd, e->name, a, rel, &fd);
    if (st == PC_E_NOT_FOUND) {
        l->stats.vanished++;
        pc_debug("\"%s/%s\" vanished before it was read", a->root, rel);
        return PC_OK;
    }
    if (st)
        return st;
    if (compare) {
        bool same = false;
        st = same_content(l, a, rel, fd, prev, &same);
        if (st == PC_OK && same) {
            close(fd);
            return keep(l, a, rel, &e->sb, prev);
        }
    }
    if (st == PC_OK) {
        st = copy_fd(l, a, rel, fd);
        if (st == PC_E_NOT_FOUND) {
            l->stats.vanished++;
            st = PC_OK;
        }
    }
    close(fd);
    return st;
}

static bool is_db_dir(const area *a, const char *rel, const char *version_dir)
{
    const char *tail;
    if (a->pgdata) {
        if (strncmp(rel, "base/", 5) != 0)
            return false;
        tail = rel + 5;
    } else {
        size_t n = strlen(version_dir);
        if (strncmp(rel, version_dir, n) != 0 || rel[n] != '/')
            return false;
        tail = rel + n + 1;
    }
    size_t d = digits(tail);
    return d > 0 && tail[d] == '\0';
}

/* The main, fsm or vm fork (or a segment of one) of an unlogged relation: only _init is kept. */
static bool unlogged_fork(const dent *v, size_t n, const char *name)
{
    size_t nl;
    bool init;
    if (!bk_relation_file(name, &nl, &init) || init)
        return false;
    char want[32];
    snprintf(want, sizeof want, "%.*s_init", (int)nl, name);
    return listed(v, n, want);
}

static pc_status walk(bk_local *l, area *a, int dirfd, const char *rel);

static pc_status join(const area *a, const char *rel, const char *name, char *out)
{
    int n = snprintf(out, PATH_CAP, "%s%s%s", rel, *rel ? "/" : "", name);
    if (n < 0 || n >= PATH_CAP)
        return pc_err(PC_E_IO, "path too long: \"%s/%s/%s\"", a->root, rel, name);
    return PC_OK;
}

/* A directory whose contents are left out; pg_wal keeps its archive_status (and summaries). */
static pc_status empty_dir(bk_local *l, area *a, const char *rel, const struct stat *sb)
{
    pc_status st = add_dir(l, a, rel, sb);
    if (st || (strcmp(rel, "pg_wal") != 0 && strcmp(rel, "pg_xlog") != 0))
        return st;
    char sub[PATH_CAP];
    snprintf(sub, sizeof sub, "%s/archive_status", rel);
    st = add_dir(l, a, sub, sb);
    if (st == PC_OK && l->o.pg_version >= 170000) {
        snprintf(sub, sizeof sub, "%s/summaries", rel);
        st = add_dir(l, a, sub, sb);
    }
    return st;
}

static pc_status dir_entry(bk_local *l, area *a, int dirfd, const dent *e, const char *rel,
                           bool follow)
{
    int fd = openat(dirfd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) {
        if (errno == ENOENT) {
            l->stats.vanished++;
            return PC_OK; /* a database dropped while we walked */
        }
        return pc_err(PC_E_IO, "could not open directory \"%s/%s\": %m", a->root, rel);
    }
    struct stat sb = e->sb;
    if (follow && fstat(fd, &sb) != 0) {
        close(fd);
        return pc_err(PC_E_IO, "could not stat \"%s/%s\": %m", a->root, rel);
    }
    pc_status st = add_dir(l, a, rel, &sb);
    if (st == PC_OK)
        st = walk(l, a, fd, rel);
    close(fd);
    return st;
}

static pc_status link_entry(bk_local *l, area *a, int dirfd, const dent *e, const char *rel,
                            bool in_tar)
{
    char target[PATH_CAP];
    ssize_t n = readlinkat(dirfd, e->name, target, sizeof target - 1);
    if (n < 0) {
        if (errno == ENOENT)
            return PC_OK;
        return pc_err(PC_E_IO, "could not read symbolic link \"%s/%s\": %m", a->root, rel);
    }
    if (n == 0)
        return PC_OK;
    target[n] = '\0';
    const char *part = NULL;
    pc_status st = in_tar ? bk_archive_symlink(a->out, rel, target, e->sb.st_mtime,
                                               id32(e->sb.st_uid), id32(e->sb.st_gid), &part)
                          : PC_OK;
    return st ? st : add_entry(l, a, rel, 'l', &e->sb, 0, NULL, NULL, l->backup_id, NULL, target);
}

static pc_status walk(bk_local *l, area *a, int dirfd, const char *rel)
{
    dent *v;
    size_t n;
    pc_status st = list_dir(dirfd, *rel ? rel : a->root, &v, &n);
    if (st)
        return st;
    bool db = is_db_dir(a, rel, l->version_dir);
    bool tblspc = a->pgdata && strcmp(rel, "pg_tblspc") == 0;
    char child[PATH_CAP];
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        const dent *e = &v[i];
        if ((st = join(a, rel, e->name, child)) != PC_OK || (st = tick(l)) != PC_OK)
            break;
        mode_t m = e->sb.st_mode;
        bool top_wal = a->pgdata && !*rel &&
                       (strcmp(e->name, "pg_wal") == 0 || strcmp(e->name, "pg_xlog") == 0);
        if (S_ISLNK(m) && top_wal) {
            struct stat t;
            if (fstatat(dirfd, e->name, &t, 0) == 0 && S_ISDIR(t.st_mode)) {
                /* initdb -X: BASE_BACKUP sends pg_wal as a directory, and so do we */
                st = empty_dir(l, a, child, &t);
                continue;
            }
        }
        if (a->pgdata && strcmp(child, "global/pg_control") == 0)
            continue; /* read last, by bk_local_finish */
        bk_rule rule = bk_local_rule(child, S_ISDIR(m), !a->pgdata);
        if (rule == BK_RULE_SKIP)
            continue;
        if (db && S_ISREG(m) && (bk_temp_relation(e->name) || unlogged_fork(v, n, e->name)))
            continue;
        if (S_ISDIR(m)) {
            st = rule == BK_RULE_EMPTY ? empty_dir(l, a, child, &e->sb)
                                       : dir_entry(l, a, dirfd, e, child, false);
        } else if (S_ISLNK(m)) {
            /* pg_tblspc/<oid>: in the manifest, not in the tar (backup_int.h) */
            st = link_entry(l, a, dirfd, e, child, !tblspc);
        } else if (S_ISREG(m)) {
            st = file_entry(l, a, dirfd, e, child);
        } else {
            pc_warn("skipping \"%s/%s\": neither a file, a directory nor a symbolic link", a->root,
                    child);
        }
    }
    dents_free(v, n);
    return st;
}

/* ==== the copier ==== */

static pc_status new_archive(bk_local *l, const char *base, const char *ts, bk_archive **out)
{
    char *name = pc_asprintf("%s%s", base, l->suffix);
    if (!name)
        return PC_E_INTERNAL;
    bk_archive_opts ao = {
        .r = l->o.r,
        .prefix = l->prefix,
        .base = name,
        .tablespace = ts,
        .codec = l->o.codec,
        .level = l->o.level,
        .threads = l->o.threads,
        .max_part = l->o.max_part,
    };
    pc_status st = bk_archive_new(&ao, out);
    free(name);
    return st;
}

static pc_status keep_done(bk_local *l, bk_archive *a)
{
    bk_archive **d = pc_realloc(l->done, (l->ndone + 1) * sizeof *d);
    if (!d) {
        bk_archive_free(a);
        return PC_E_INTERNAL;
    }
    l->done = d;
    l->done[l->ndone++] = a;
    return PC_OK;
}

pc_status bk_local_new(const bk_local_opts *o, bk_local **out)
{
    bk_local *l = pc_calloc(1, sizeof *l);
    if (!l)
        return PC_E_INTERNAL;
    l->o = *o;
    l->prefix = pc_strdup(o->prefix);
    l->backup_id = pc_strdup(o->backup_id);
    l->suffix = pc_strdup(o->suffix ? o->suffix : "");
    l->pgdata = pc_strdup(o->pgdata);
    l->version_dir = pc_strdup(o->version_dir ? o->version_dir : "");
    l->buf = pc_malloc(READ_SIZE);
    pc_status st = l->prefix && l->backup_id && l->suffix && l->pgdata && l->version_dir && l->buf
                       ? cat_mf_index_new(&l->files)
                       : PC_E_INTERNAL;
    if (st) {
        bk_local_free(l);
        return st;
    }
    l->o.prefix = l->prefix;
    l->o.backup_id = l->backup_id;
    l->o.pgdata = l->pgdata;
    l->o.version_dir = l->version_dir;
    *out = l;
    return PC_OK;
}

static pc_status copy_tablespace(bk_local *l, const bk_local_ts *t)
{
    char *root = pc_path_join(t->location, l->version_dir);
    if (!root)
        return PC_E_INTERNAL;
    area a = {.ts = t->oid_text, .root = t->location};
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    pc_status st = PC_OK;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = pc_err(PC_E_IO, "could not open the directory of tablespace %s, \"%s\": %m",
                    t->oid_text, root);
        pc_err_hint("pg_tblspc/%s points there; a tablespace of this server version has a %s "
                    "directory in its location.",
                    t->oid_text, l->version_dir);
    }
    int top = -1;
    if (st == PC_OK && (top = open(t->location, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        st = pc_err(PC_E_IO, "could not open directory \"%s\": %m", t->location);
    struct stat topsb;
    if (st == PC_OK && fstat(top, &topsb) != 0)
        st = pc_err(PC_E_IO, "could not stat \"%s\": %m", t->location);
    if (st == PC_OK) {
        a.uid = id32(topsb.st_uid);
        a.gid = id32(topsb.st_gid);
        st = new_archive(l, t->oid_text, t->oid_text, &a.out);
    }
    if (st == PC_OK) {
        pc_info("reading tablespace %s (%s)", t->oid_text, t->location);
        st = add_dir(l, &a, l->version_dir, &sb);
    }
    if (st == PC_OK)
        st = walk(l, &a, fd, l->version_dir);
    if (st == PC_OK)
        st = bk_archive_finish(a.out);
    if (st == PC_OK) {
        st = keep_done(l, a.out);
        a.out = NULL;
    }
    bk_archive_free(a.out);
    if (fd >= 0)
        close(fd);
    if (top >= 0)
        close(top);
    free(root);
    return st;
}

pc_status bk_local_copy(bk_local *l)
{
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < l->o.nts; i++)
        st = copy_tablespace(l, &l->o.ts[i]);
    if (st)
        return st;
    int fd = open(l->pgdata, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = pc_err(PC_E_IO, "could not open the data directory \"%s\": %m", l->pgdata);
        if (fd >= 0)
            close(fd);
        return st;
    }
    l->data = (area){.ts = NULL,
                     .root = l->pgdata,
                     .pgdata = true,
                     .uid = id32(sb.st_uid),
                     .gid = id32(sb.st_gid)};
    pc_info("reading the data directory %s", l->pgdata);
    st = new_archive(l, "data", NULL, &l->data.out);
    if (st == PC_OK)
        st = walk(l, &l->data, fd, "");
    close(fd);
    return st;
}

pc_status bk_local_finish(bk_local *l, const char *backup_label)
{
    area *a = &l->data;
    if (!a->out)
        return pc_err(PC_E_INTERNAL, "local backup finished before it was copied");
    int gfd = open(l->pgdata, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = -1;
    pc_status st = PC_OK;
    if (gfd < 0)
        st = pc_err(PC_E_IO, "could not open the data directory \"%s\": %m", l->pgdata);
    if (st == PC_OK) {
        st = open_member(gfd, "global/pg_control", a, "global/pg_control", &fd);
        if (st == PC_E_NOT_FOUND)
            st = pc_err(PC_E_IO, "\"%s/global/pg_control\" disappeared during the backup",
                        l->pgdata);
    }
    if (st == PC_OK)
        st = copy_fd(l, a, "global/pg_control", fd);
    if (fd >= 0)
        close(fd);
    if (gfd >= 0)
        close(gfd);
    if (st)
        return st;
    /* backup_label: what pg_backup_stop returned, after pg_control (as barman-cloud writes it) */
    size_t len = strlen(backup_label);
    const char *part = NULL;
    st = bk_archive_file_begin(a->out, "backup_label", len, 0600, l->o.now, a->uid, a->gid, &part);
    if (st == PC_OK)
        st = bk_archive_file_write(a->out, backup_label, len);
    if (st == PC_OK)
        st = bk_archive_file_end(a->out);
    if (st == PC_OK) {
        unsigned char d[PC_SHA256_LEN];
        char hex[2 * PC_SHA256_LEN + 1];
        pc_sha256(backup_label, len, d);
        pc_hex(d, sizeof d, hex);
        uint32_t crc = pc_crc32c(0, backup_label, len);
        st = add_entry(l, a, "backup_label", 'f', NULL, len, hex, &crc, l->backup_id, part, NULL);
        l->stats.copied_files++;
        l->stats.copied_bytes += len;
        l->stats.logical += len;
    }
    if (st == PC_OK)
        st = bk_archive_finish(a->out);
    if (st == PC_OK) {
        st = keep_done(l, a->out);
        a->out = NULL;
    }
    return st;
}

const cat_mf_index *bk_local_files(const bk_local *l)
{
    return l->files;
}

size_t bk_local_nparts(const bk_local *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->ndone; i++)
        n += bk_archive_nparts(l->done[i]);
    return n;
}

const bk_part *bk_local_part(const bk_local *l, size_t i)
{
    for (size_t k = 0; k < l->ndone; k++) {
        size_t n = bk_archive_nparts(l->done[k]);
        if (i < n)
            return bk_archive_part(l->done[k], i);
        i -= n;
    }
    return NULL;
}

const bk_local_stats *bk_local_get_stats(const bk_local *l)
{
    return &l->stats;
}

void bk_local_free(bk_local *l)
{
    if (!l)
        return;
    bk_archive_free(l->data.out);
    for (size_t i = 0; i < l->ndone; i++)
        bk_archive_free(l->done[i]);
    free(l->done);
    cat_mf_index_free(l->files);
    free(l->buf);
    free(l->prefix);
    free(l->backup_id);
    free(l->suffix);
    free(l->pgdata);
    free(l->version_dir);
    free(l);
}
