#include "common/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"

void pc_sink_init(pc_sink *s, const pc_sink_ops *ops, pc_sink *next)
{
    s->ops = ops;
    s->next = next;
    s->state = PC_SINK_OPEN;
    s->failure = PC_OK;
    s->bytes_in = 0;
}

pc_status pc_sink_write(pc_sink *s, const void *data, size_t len)
{
    switch (s->state) {
    case PC_SINK_OPEN:
        break;
    case PC_SINK_FAILED:
        return s->failure;
    case PC_SINK_FINISHED:
    case PC_SINK_ABORTED:
        return pc_err(PC_E_INTERNAL, "write to a %s stage that is already closed", s->ops->name);
    }
    pc_status st = s->ops->write(s, data, len);
    if (st != PC_OK) {
        s->state = PC_SINK_FAILED;
        s->failure = st;
        return st;
    }
    s->bytes_in += len;
    return PC_OK;
}

pc_status pc_sink_finish(pc_sink *s)
{
    pc_status st;
    switch (s->state) {
    case PC_SINK_OPEN:
        break;
    case PC_SINK_FINISHED:
        return PC_OK;
    case PC_SINK_FAILED:
        st = s->failure;
        pc_sink_abort(s);
        return st;
    case PC_SINK_ABORTED:
        return pc_err(PC_E_INTERNAL, "finish of a %s stage that was aborted", s->ops->name);
    }
    st = s->ops->finish ? s->ops->finish(s) : PC_OK;
    if (st != PC_OK) {
        s->state = PC_SINK_FAILED;
        s->failure = st;
        pc_sink_abort(s);
        return st;
    }
    if (s->next) {
        st = pc_sink_finish(s->next);
        if (st != PC_OK) {
            /* next aborted itself; our own state has nothing left to discard */
            s->state = PC_SINK_ABORTED;
            return st;
        }
    }
    s->state = PC_SINK_FINISHED;
    return PC_OK;
}

void pc_sink_abort(pc_sink *s)
{
    if (!s)
        return;
    if (s->state == PC_SINK_OPEN || s->state == PC_SINK_FAILED) {
        /* an abort must not clobber the error that caused it */
        pc_error saved;
        pc_err_save(&saved);
        if (s->ops->abort)
            s->ops->abort(s);
        s->state = PC_SINK_ABORTED;
        pc_err_restore(&saved);
    }
    if (s->next)
        pc_sink_abort(s->next);
}

void pc_sink_free(pc_sink *s)
{
    while (s) {
        if (s->state == PC_SINK_OPEN || s->state == PC_SINK_FAILED)
            pc_sink_abort(s);
        pc_sink *next = s->next;
        s->ops->destroy(s);
        s = next;
    }
}

pc_sink *pc_sink_detach(pc_sink *s)
{
    if (!s)
        return NULL;
    pc_sink *next = s->next;
    s->next = NULL;
    if (s->state == PC_SINK_OPEN || s->state == PC_SINK_FAILED)
        pc_sink_abort(s);
    s->ops->destroy(s);
    return next;
}

/* ---- null ---- */

static pc_status null_write(pc_sink *s, const void *d, size_t n)
{
    return PC_OK;
}

static void plain_destroy(pc_sink *s)
{
    free(s);
}

static const pc_sink_ops null_ops = {
    .name = "null", .write = null_write, .destroy = plain_destroy};

pc_status pc_sink_null_new(pc_sink **out)
{
    pc_sink *s = pc_malloc(sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    pc_sink_init(s, &null_ops, NULL);
    *out = s;
    return PC_OK;
}

/* ---- memory ---- */

typedef struct mem_sink {
    pc_sink base;
    pc_buf *target;
} mem_sink;

static pc_status mem_write(pc_sink *s, const void *d, size_t n)
{
    return pc_buf_append(((mem_sink *)s)->target, d, n);
}

static const pc_sink_ops mem_ops = {.name = "memory", .write = mem_write, .destroy = plain_destroy};

pc_status pc_sink_mem_new(pc_buf *target, pc_sink **out)
{
    mem_sink *s = pc_malloc(sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    pc_sink_init(&s->base, &mem_ops, NULL);
    s->target = target;
    *out = &s->base;
    return PC_OK;
}

/* ---- fd ---- */

typedef struct fd_sink {
    pc_sink base;
    int fd;
} fd_sink;

static pc_status write_all(int fd, const void *data, size_t len, const char *what)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return pc_err(PC_E_IO, "could not write to %s: %m", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return PC_OK;
}

static pc_status fd_write(pc_sink *s, const void *d, size_t n)
{
    return write_all(((fd_sink *)s)->fd, d, n, "output");
}

static const pc_sink_ops fd_ops = {.name = "fd", .write = fd_write, .destroy = plain_destroy};

pc_status pc_sink_fd_new(int fd, pc_sink **out)
{
    fd_sink *s = pc_malloc(sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    pc_sink_init(&s->base, &fd_ops, NULL);
    s->fd = fd;
    *out = &s->base;
    return PC_OK;
}

/* ---- atomic file ---- */

typedef struct file_sink {
    pc_sink base;
    int fd;
    int flags;
    char *path;
    char *tmp;
} file_sink;

static atomic_uint tmp_counter;

static pc_status file_write(pc_sink *s, const void *d, size_t n)
{
    file_sink *f = (file_sink *)s;
    return write_all(f->fd, d, n, f->tmp);
}

static pc_status file_finish(pc_sink *s)
{
    file_sink *f = (file_sink *)s;
    bool sync = !(f->flags & PC_FILE_NOSYNC);
    if (sync && fsync(f->fd) != 0)
        return pc_err(PC_E_IO, "could not fsync \"%s\": %m", f->tmp);
    if (close(f->fd) != 0) {
        f->fd = -1;
        return pc_err(PC_E_IO, "could not close \"%s\": %m", f->tmp);
    }
    f->fd = -1;
    if (f->flags & PC_FILE_NO_REPLACE) {
        /* link() fails with EEXIST instead of replacing: no window where a check races a rename */
        if (link(f->tmp, f->path) != 0) {
            if (errno == EEXIST)
                return pc_err(PC_E_CONFLICT, "\"%s\" already exists", f->path);
            return pc_err(PC_E_IO, "could not create \"%s\": %m", f->path);
        }
        unlink(f->tmp);
    } else if (rename(f->tmp, f->path) != 0) {
        return pc_err(PC_E_IO, "could not rename \"%s\" to \"%s\": %m", f->tmp, f->path);
    }
    free(f->tmp);
    f->tmp = NULL;
    if (sync)
        return pc_fsync_parent(f->path);
    return PC_OK;
}

static void file_abort(pc_sink *s)
{
    file_sink *f = (file_sink *)s;
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->tmp) {
        unlink(f->tmp);
        free(f->tmp);
        f->tmp = NULL;
    }
}

static void file_destroy(pc_sink *s)
{
    file_sink *f = (file_sink *)s;
    file_abort(s);
    free(f->path);
    free(f);
}

static const pc_sink_ops file_ops = {.name = "file",
                                     .write = file_write,
                                     .finish = file_finish,
                                     .abort = file_abort,
                                     .destroy = file_destroy};

pc_status pc_sink_file_new(const char *path, mode_t mode, int flags, pc_sink **out)
{
    file_sink *f = pc_calloc(1, sizeof *f);
    if (!f)
        return PC_E_INTERNAL;
    f->fd = -1;
    f->flags = flags;
    f->path = pc_strdup(path);
    f->tmp = pc_asprintf("%s.pgcask-tmp.%d.%u", path, (int)getpid(),
                         atomic_fetch_add(&tmp_counter, 1));
    if (!f->path || !f->tmp) {
        free(f->path);
        free(f->tmp);
        free(f);
        return PC_E_INTERNAL;
    }
    if (flags & PC_FILE_MKDIRS) {
        char *dir = pc_dirname(path);
        pc_status st = dir ? pc_mkdirs(dir, 0700) : PC_E_INTERNAL;
        free(dir);
        if (st) {
            free(f->path);
            free(f->tmp);
            free(f);
            return st;
        }
    }
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (f->fd < 0) {
        pc_status st = pc_err(PC_E_IO, "could not create \"%s\": %m", f->tmp);
        free(f->path);
        free(f->tmp);
        free(f);
        return st;
    }
    pc_sink_init(&f->base, &file_ops, NULL);
    *out = &f->base;
    return PC_OK;
}

int pc_sink_file_fd(const pc_sink *s)
{
    if (s->ops != &file_ops || s->state != PC_SINK_OPEN)
        return -1;
    return ((const file_sink *)s)->fd;
}

/* ---- counter ---- */

typedef struct count_sink {
    pc_sink base;
    uint64_t n;
} count_sink;

static pc_status count_write(pc_sink *s, const void *d, size_t n)
{
    ((count_sink *)s)->n += n;
    return pc_sink_write(s->next, d, n);
}

static const pc_sink_ops count_ops = {
    .name = "count", .write = count_write, .destroy = plain_destroy};

pc_status pc_sink_count_new(pc_sink *next, pc_sink **out)
{
    count_sink *s = pc_calloc(1, sizeof *s);
    if (!s) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&s->base, &count_ops, next);
    *out = &s->base;
    return PC_OK;
}

uint64_t pc_sink_count_bytes(const pc_sink *counter)
{
    return ((const count_sink *)counter)->n;
}

/* ---- limit ---- */

typedef struct limit_sink {
    pc_sink base;
    uint64_t limit, n;
} limit_sink;

static pc_status limit_write(pc_sink *s, const void *d, size_t n)
{
    limit_sink *l = (limit_sink *)s;
    if (n > l->limit - l->n)
        return pc_err(PC_E_CORRUPT, "data exceeds the limit of %llu bytes",
                      (unsigned long long)l->limit);
    l->n += n;
    return pc_sink_write(s->next, d, n);
}

static const pc_sink_ops limit_ops = {
    .name = "limit", .write = limit_write, .destroy = plain_destroy};

pc_status pc_sink_limit_new(uint64_t limit, pc_sink *next, pc_sink **out)
{
    limit_sink *s = pc_calloc(1, sizeof *s);
    if (!s) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    pc_sink_init(&s->base, &limit_ops, next);
    s->limit = limit;
    *out = &s->base;
    return PC_OK;
}

/* ---- sources ---- */

#define SOURCE_CHUNK (1024 * 1024)

pc_status pc_source_file(const char *path, pc_sink *s, uint64_t *bytes)
{
    uint64_t total = 0;
    pc_status st = PC_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = pc_err(errno == ENOENT ? PC_E_NOT_FOUND : PC_E_IO, "could not open \"%s\": %m", path);
        pc_sink_abort(s);
        return st;
    }
    unsigned char *chunk = pc_malloc(SOURCE_CHUNK);
    if (!chunk) {
        close(fd);
        pc_sink_abort(s);
        return PC_E_INTERNAL;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, SOURCE_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = pc_err(PC_E_IO, "could not read \"%s\": %m", path);
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        st = pc_sink_write(s, chunk, (size_t)n);
        if (st)
            break;
    }
    free(chunk);
    close(fd);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    else
        pc_sink_abort(s);
    if (bytes)
        *bytes = total;
    return st;
}

pc_status pc_source_mem(const void *data, size_t len, pc_sink *s)
{
    pc_status st = pc_sink_write(s, data, len);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    else
        pc_sink_abort(s);
    return st;
}
