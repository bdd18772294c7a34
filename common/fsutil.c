#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/sink.h"
#include "common/timeutil.h"

pc_status pc_mkdirs(const char *path, mode_t mode)
{
    if (path[0] == '\0')
        return pc_err(PC_E_IO, "could not create directory \"\": empty path");
    char *p = pc_strdup(path);
    if (!p)
        return PC_E_INTERNAL;
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                pc_status st = pc_err(PC_E_IO, "could not create directory \"%s\": %m", p);
                free(p);
                return st;
            }
            *s = c;
        }
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        pc_status st = pc_err(PC_E_IO, "\"%s\" is not a directory", p);
        free(p);
        return st;
    }
    free(p);
    return PC_OK;
}

pc_status pc_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pc_err(PC_E_IO, "could not open directory \"%s\": %m", dir);
    if (fsync(fd) != 0 && errno != EINVAL) {
        pc_status st = pc_err(PC_E_IO, "could not fsync directory \"%s\": %m", dir);
        close(fd);
        return st;
    }
    close(fd);
    return PC_OK;
}

pc_status pc_fsync_parent(const char *path)
{
    char *dir = pc_dirname(path);
    if (!dir)
        return PC_E_INTERNAL;
    pc_status st = pc_fsync_dir(dir);
    free(dir);
    return st;
}

pc_status pc_durable_rename(const char *from, const char *to)
{
    if (rename(from, to) != 0)
        return pc_err(PC_E_IO, "could not rename \"%s\" to \"%s\": %m", from, to);
    return pc_fsync_parent(to);
}

pc_status pc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    pc_sink *s;
    pc_status st = pc_sink_file_new(path, mode, 0, &s);
    if (st)
        return st;
    st = pc_source_mem(data, len, s);
    pc_sink_free(s);
    return st;
}

pc_status pc_read_file(const char *path, size_t max, pc_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pc_err(errno == ENOENT ? PC_E_NOT_FOUND : PC_E_IO, "could not open \"%s\": %m",
                      path);
    char chunk[65536];
    pc_status st = PC_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = pc_err(PC_E_IO, "could not read \"%s\": %m", path);
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n > max - out->len) {
            st = pc_err(PC_E_CORRUPT, "\"%s\" is larger than %zu bytes", path, max);
            break;
        }
        st = pc_buf_append(out, chunk, (size_t)n);
        if (st)
            break;
    }
    close(fd);
    return st;
}

pc_status pc_file_size(const char *path, uint64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return pc_err(errno == ENOENT ? PC_E_NOT_FOUND : PC_E_IO, "could not stat \"%s\": %m",
                      path);
    if (!S_ISREG(sb.st_mode))
        return pc_err(PC_E_USAGE, "\"%s\" is not a regular file", path);
    *size = (uint64_t)sb.st_size;
    return PC_OK;
}

bool pc_path_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

bool pc_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

pc_status pc_dir_is_empty(const char *path, bool *empty)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) {
            *empty = true;
            return PC_OK;
        }
        return pc_err(PC_E_IO, "could not open directory \"%s\": %m", path);
    }
    struct dirent *e;
    *empty = true;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            *empty = false;
            break;
        }
    }
    closedir(d);
    return PC_OK;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return r != 0 && errno != ENOENT ? -1 : 0;
}

pc_status pc_remove_tree(const char *path)
{
    if (!pc_path_exists(path))
        return PC_OK;
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return pc_err(PC_E_IO, "could not remove \"%s\": %m", path);
    return PC_OK;
}

char *pc_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    if (la == 1 && a[0] == '/')
        la = 0; /* "/" + "b" is "/b", not "//b" */
    while (*b == '/')
        b++;
    return pc_asprintf("%.*s/%s", (int)la, a, b);
}

char *pc_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return pc_strdup(".");
    if (slash == path)
        return pc_strdup("/");
    return pc_strndup(path, (size_t)(slash - path));
}

const char *pc_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

pc_status pc_flock_acquire(const char *path, int64_t wait_ms, pc_flock *out)
{
    out->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (out->fd < 0)
        return pc_err(PC_E_IO, "could not open lock file \"%s\": %m", path);
    int64_t deadline = wait_ms >= 0 ? pc_now_mono_ms() + wait_ms : 0;
    int64_t sleep_ms = 1;
    for (;;) {
        if (flock(out->fd, LOCK_EX | (wait_ms < 0 ? 0 : LOCK_NB)) == 0)
            return PC_OK;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK) {
            pc_status st = pc_err(PC_E_IO, "could not lock \"%s\": %m", path);
            close(out->fd);
            out->fd = -1;
            return st;
        }
        if (pc_now_mono_ms() >= deadline) {
            close(out->fd);
            out->fd = -1;
            return pc_err(PC_E_BUSY, "\"%s\" is locked by another process", path);
        }
        pc_sleep_ms(sleep_ms);
        if (sleep_ms < 50)
            sleep_ms *= 2;
    }
}

void pc_flock_release(pc_flock *l)
{
    if (l->fd >= 0) {
        flock(l->fd, LOCK_UN);
        close(l->fd);
        l->fd = -1;
    }
}
