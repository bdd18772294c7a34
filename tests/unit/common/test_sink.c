#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/sink.h"

/*
 * A probe stage: records its calls into a shared log ("A.write(3) B.finish ..."),
 * passes data on when it has a next, and fails on request.
 */
typedef struct probe {
    pc_sink base;
    char tag;
    char *log;         /* shared, caller-owned, 1 KiB */
    int fail_write_at; /* 1-based write call that fails, 0 never */
    bool fail_finish;
    bool abort_sets_err; /* abort records an error of its own (must not leak out) */
    int writes;
} probe;

static void note(probe *p, const char *what)
{
    size_t n = strlen(p->log);
    snprintf(p->log + n, 1024 - n, "%s%c.%s", n ? " " : "", p->tag, what);
}

static pc_status probe_write(pc_sink *s, const void *d, size_t n)
{
    probe *p = (probe *)s;
    char t[32];
    snprintf(t, sizeof t, "write(%zu)", n);
    note(p, t);
    if (++p->writes == p->fail_write_at)
        return pc_err(PC_E_REMOTE, "%c refused write %d", p->tag, p->writes);
    return s->next ? pc_sink_write(s->next, d, n) : PC_OK;
}

static pc_status probe_finish(pc_sink *s)
{
    probe *p = (probe *)s;
    note(p, "finish");
    if (p->fail_finish)
        return pc_err(PC_E_IO, "%c could not commit", p->tag);
    return PC_OK;
}

static void probe_abort(pc_sink *s)
{
    probe *p = (probe *)s;
    note(p, "abort");
    if (p->abort_sets_err)
        pc_err(PC_E_INTERNAL, "noise from abort");
}

static void probe_destroy(pc_sink *s)
{
    probe *p = (probe *)s;
    note(p, "destroy");
    free(p);
}

static const pc_sink_ops probe_ops = {.name = "probe",
                                      .write = probe_write,
                                      .finish = probe_finish,
                                      .abort = probe_abort,
                                      .destroy = probe_destroy};

static probe *probe_new(char tag, char *log, pc_sink *next)
{
    probe *p = calloc(1, sizeof *p);
    assert_non_null(p);
    pc_sink_init(&p->base, &probe_ops, next);
    p->tag = tag;
    p->log = log;
    return p;
}

static void test_happy_path(void **state)
{
    char log[1024] = "";
    probe *b = probe_new('B', log, NULL);
    probe *a = probe_new('A', log, &b->base);
    assert_int_equal(pc_sink_write(&a->base, "abc", 3), PC_OK);
    assert_int_equal(pc_sink_write(&a->base, "", 0), PC_OK);
    assert_int_equal(pc_sink_finish(&a->base), PC_OK);
    assert_int_equal(a->base.state, PC_SINK_FINISHED);
    assert_int_equal(b->base.state, PC_SINK_FINISHED);
    assert_int_equal(a->base.bytes_in, 3);
    assert_int_equal(b->base.bytes_in, 3);
    assert_int_equal(pc_sink_finish(&a->base), PC_OK); /* idempotent */
    pc_sink_free(&a->base);
    assert_string_equal(log, "A.write(3) B.write(3) A.write(0) B.write(0) A.finish B.finish "
                             "A.destroy B.destroy");
}

static void test_write_failure(void **state)
{
    char log[1024] = "";
    probe *b = probe_new('B', log, NULL);
    probe *a = probe_new('A', log, &b->base);
    b->fail_write_at = 2;
    b->abort_sets_err = true;
    assert_int_equal(pc_sink_write(&a->base, "x", 1), PC_OK);
    assert_int_equal(pc_sink_write(&a->base, "yy", 2), PC_E_REMOTE);
    assert_int_equal(a->base.state, PC_SINK_FAILED);
    assert_int_equal(a->base.failure, PC_E_REMOTE);
    assert_int_equal(b->base.state, PC_SINK_FAILED);
    assert_int_equal(a->base.bytes_in, 1);
    /* the chain stays failed without calling the stages again */
    assert_int_equal(pc_sink_write(&a->base, "z", 1), PC_E_REMOTE);
    /* finish aborts everything and reports the failure; abort noise does not replace the error */
    assert_int_equal(pc_sink_finish(&a->base), PC_E_REMOTE);
    tu_assert_err(PC_E_REMOTE, "B refused write 2");
    assert_int_equal(a->base.state, PC_SINK_ABORTED);
    assert_int_equal(b->base.state, PC_SINK_ABORTED);
    pc_sink_free(&a->base); /* no second abort */
    assert_string_equal(log, "A.write(1) B.write(1) A.write(2) B.write(2) A.abort B.abort "
                             "A.destroy B.destroy");
}

static void test_finish_failure(void **state)
{
    char log[1024] = "";
    probe *c = probe_new('C', log, NULL);
    probe *b = probe_new('B', log, &c->base);
    probe *a = probe_new('A', log, &b->base);
    c->fail_finish = true;
    assert_int_equal(pc_sink_finish(&a->base), PC_E_IO);
    tu_assert_err(PC_E_IO, "C could not commit");
    assert_int_equal(a->base.state, PC_SINK_ABORTED);
    assert_int_equal(b->base.state, PC_SINK_ABORTED);
    assert_int_equal(c->base.state, PC_SINK_ABORTED);
    pc_sink_free(&a->base);
    /* the stages that finished have nothing left to discard; the one that failed is aborted */
    assert_string_equal(log, "A.finish B.finish C.finish C.abort A.destroy B.destroy C.destroy");

    /* a filter failing its own finish aborts itself and everything after it */
    log[0] = '\0';
    b = probe_new('B', log, NULL);
    a = probe_new('A', log, &b->base);
    a->fail_finish = true;
    assert_int_equal(pc_sink_finish(&a->base), PC_E_IO);
    tu_assert_err(PC_E_IO, "A could not commit");
    pc_sink_free(&a->base);
    assert_string_equal(log, "A.finish A.abort B.abort A.destroy B.destroy");
}

static void test_abort_and_closed(void **state)
{
    char log[1024] = "";
    probe *b = probe_new('B', log, NULL);
    probe *a = probe_new('A', log, &b->base);
    pc_sink_abort(&a->base);
    pc_sink_abort(&a->base); /* once only */
    pc_sink_abort(NULL);
    assert_int_equal(pc_sink_write(&a->base, "x", 1), PC_E_INTERNAL);
    tu_assert_err(PC_E_INTERNAL, "write to a probe stage that is already closed");
    assert_int_equal(pc_sink_finish(&a->base), PC_E_INTERNAL);
    tu_assert_err(PC_E_INTERNAL, "finish of a probe stage that was aborted");
    pc_sink_free(&a->base);
    assert_string_equal(log, "A.abort B.abort A.destroy B.destroy");

    /* writing after finish is a programming error too */
    log[0] = '\0';
    a = probe_new('A', log, NULL);
    assert_int_equal(pc_sink_finish(&a->base), PC_OK);
    assert_int_equal(pc_sink_write(&a->base, "x", 1), PC_E_INTERNAL);
    pc_sink_free(&a->base);
    assert_string_equal(log, "A.finish A.destroy");
}

static void test_free_aborts(void **state)
{
    char log[1024] = "";
    probe *b = probe_new('B', log, NULL);
    probe *a = probe_new('A', log, &b->base);
    assert_int_equal(pc_sink_write(&a->base, "x", 1), PC_OK);
    pc_sink_free(&a->base);
    pc_sink_free(NULL);
    assert_string_equal(log, "A.write(1) B.write(1) A.abort B.abort A.destroy B.destroy");
}

static void test_detach(void **state)
{
    char log[1024] = "";
    probe *b = probe_new('B', log, NULL);
    probe *a = probe_new('A', log, &b->base);
    pc_sink *rest = pc_sink_detach(&a->base); /* open: aborted, then freed; next survives */
    assert_ptr_equal(rest, &b->base);
    assert_int_equal(b->base.state, PC_SINK_OPEN);
    assert_int_equal(pc_sink_write(rest, "x", 1), PC_OK);
    assert_int_equal(pc_sink_finish(rest), PC_OK);
    pc_sink_free(rest);
    assert_null(pc_sink_detach(NULL));
    assert_string_equal(log, "A.abort A.destroy B.write(1) B.finish B.destroy");
}

static void test_null_mem_count_limit(void **state)
{
    pc_sink *s;
    assert_int_equal(pc_sink_null_new(&s), PC_OK);
    assert_int_equal(pc_source_mem("hello", 5, s), PC_OK);
    assert_int_equal(s->bytes_in, 5);
    pc_sink_free(s);

    pc_buf b;
    pc_buf_init(&b, 8);
    pc_sink *mem, *count, *limit;
    assert_int_equal(pc_sink_mem_new(&b, &mem), PC_OK);
    assert_int_equal(pc_sink_count_new(mem, &count), PC_OK);
    assert_int_equal(pc_sink_write(count, "abcd", 4), PC_OK);
    assert_int_equal(pc_sink_count_bytes(count), 4);
    assert_int_equal(pc_sink_write(count, "efgh", 4), PC_OK);
    assert_int_equal(pc_sink_write(count, "i", 1), PC_E_CORRUPT); /* the buffer's cap */
    tu_assert_err(PC_E_CORRUPT, "data exceeds the 8-byte limit of this buffer");
    assert_string_equal(pc_buf_cstr(&b), "abcdefgh");
    pc_sink_free(count); /* the buffer is the caller's */
    assert_string_equal(pc_buf_cstr(&b), "abcdefgh");
    pc_buf_free(&b);

    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(pc_sink_mem_new(&b, &mem), PC_OK);
    assert_int_equal(pc_sink_limit_new(10, mem, &limit), PC_OK);
    assert_int_equal(pc_sink_write(limit, "012345", 6), PC_OK);
    assert_int_equal(pc_sink_write(limit, "6789", 4), PC_OK);
    assert_int_equal(pc_sink_write(limit, "", 0), PC_OK);
    assert_int_equal(pc_sink_write(limit, "X", 1), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "data exceeds the limit of 10 bytes");
    assert_int_equal(pc_sink_finish(limit), PC_E_CORRUPT);
    assert_string_equal(pc_buf_cstr(&b), "0123456789"); /* nothing past the limit got through */
    pc_sink_free(limit);
    pc_buf_free(&b);
}

static void test_fd_sink(void **state)
{
    int fds[2];
    char got[16] = "";
    pc_sink *s;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pc_sink_fd_new(fds[1], &s), PC_OK);
    assert_int_equal(pc_source_mem("to fd", 5, s), PC_OK);
    pc_sink_free(s); /* does not close the fd */
    assert_int_equal(write(fds[1], "!", 1), 1);
    close(fds[1]);
    assert_int_equal(read(fds[0], got, sizeof got - 1), 6);
    assert_string_equal(got, "to fd!");
    close(fds[0]);

    /* a write error names the output */
    assert_int_equal(pipe(fds), 0);
    close(fds[1]);
    int ro = fds[0];
    assert_int_equal(pc_sink_fd_new(ro, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "x", 1), PC_E_IO);
    tu_assert_err(PC_E_IO, "could not write to output: Bad file descriptor");
    pc_sink_free(s);
    close(ro);
}

/* The one temp file in dir, or NULL. */
static char *only_temp(const char *dir, const char *base)
{
    char *tmp = NULL;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.pgcask-tmp.%d.", base, (int)getpid());
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            assert_null(tmp);
            tmp = pc_path_join(dir, e->d_name);
        }
    }
    closedir(d);
    return tmp;
}

static void test_file_sink(void **state)
{
    char *dir = tu_mkdtemp();
    char *path = pc_path_join(dir, "seg");
    pc_sink *s;
    struct stat sb;

    mode_t old = umask(022);
    assert_int_equal(pc_sink_file_new(path, 0640, 0, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "part1-", 6), PC_OK);
    assert_int_equal(pc_sink_write(s, "part2", 5), PC_OK);
    /* nothing at path until finish: the data sits in a temp file next to it */
    assert_false(pc_path_exists(path));
    char *tmp = only_temp(dir, "seg");
    assert_non_null(tmp);
    assert_int_equal(pc_sink_finish(s), PC_OK);
    pc_sink_free(s);
    umask(old);
    char *content = tu_read(path, NULL);
    assert_string_equal(content, "part1-part2");
    free(content);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_false(pc_path_exists(tmp));
    assert_int_equal(tu_count_entries(dir), 1);
    free(tmp);

    /* abort: the temp file goes away, the old file stays */
    assert_int_equal(pc_sink_file_new(path, 0600, PC_FILE_NOSYNC, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "replacement", 11), PC_OK);
    pc_sink_abort(s);
    pc_sink_free(s);
    content = tu_read(path, NULL);
    assert_string_equal(content, "part1-part2");
    free(content);
    assert_int_equal(tu_count_entries(dir), 1);

    /* free without finish is an abort */
    assert_int_equal(pc_sink_file_new(path, 0600, PC_FILE_NOSYNC, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "x", 1), PC_OK);
    pc_sink_free(s);
    assert_int_equal(tu_count_entries(dir), 1);

    /* replace by default */
    assert_int_equal(pc_sink_file_new(path, 0600, 0, &s), PC_OK);
    assert_int_equal(pc_source_mem("new", 3, s), PC_OK);
    pc_sink_free(s);
    content = tu_read(path, NULL);
    assert_string_equal(content, "new");
    free(content);

    free(path);
    tu_rmdir(dir);
}

static void test_file_sink_no_replace(void **state)
{
    char *dir = tu_mkdtemp();
    char *path = pc_path_join(dir, "wal");
    char *other = pc_path_join(dir, "fresh");
    pc_sink *s;
    char want[512];

    tu_write(path, "original");
    assert_int_equal(pc_sink_file_new(path, 0600, PC_FILE_NO_REPLACE, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "different", 9), PC_OK);
    assert_int_equal(pc_sink_finish(s), PC_E_CONFLICT);
    snprintf(want, sizeof want, "\"%s\" already exists", path);
    tu_assert_err(PC_E_CONFLICT, want);
    pc_sink_free(s);
    char *content = tu_read(path, NULL);
    assert_string_equal(content, "original");
    free(content);
    assert_int_equal(tu_count_entries(dir), 1); /* temp removed */

    assert_int_equal(pc_sink_file_new(other, 0600, PC_FILE_NO_REPLACE, &s), PC_OK);
    assert_int_equal(pc_source_mem("ok", 2, s), PC_OK);
    pc_sink_free(s);
    content = tu_read(other, NULL);
    assert_string_equal(content, "ok");
    free(content);
    assert_int_equal(tu_count_entries(dir), 2);

    free(path);
    free(other);
    tu_rmdir(dir);
}

static void test_file_sink_mkdirs(void **state)
{
    char *dir = tu_mkdtemp();
    char *path = pc_path_join(dir, "a/b/c/file");
    pc_sink *s = NULL;

    assert_int_equal(pc_sink_file_new(path, 0600, 0, &s), PC_E_IO);
    assert_null(s);
    char want[512];
    snprintf(want, sizeof want, "could not create \"%s.pgcask-tmp.%d.", path, (int)getpid());
    assert_memory_equal(pc_err_get()->message, want, strlen(want));
    const char *m = pc_err_get()->message;
    assert_string_equal(m + strlen(m) - strlen("\": No such file or directory"),
                        "\": No such file or directory");

    assert_int_equal(pc_sink_file_new(path, 0600, PC_FILE_MKDIRS, &s), PC_OK);
    assert_int_equal(pc_source_mem("deep", 4, s), PC_OK);
    pc_sink_free(s);
    char *content = tu_read(path, NULL);
    assert_string_equal(content, "deep");
    free(content);

    free(path);
    tu_rmdir(dir);
}

static void test_source_file(void **state)
{
    char *dir = tu_mkdtemp();
    char *src = pc_path_join(dir, "src");
    char *missing = pc_path_join(dir, "missing");
    size_t n = 2 * 1024 * 1024 + 12345; /* more than one read chunk */
    unsigned char *data = malloc(n);
    unsigned char one[PC_SHA256_LEN], piped[PC_SHA256_LEN];
    uint64_t bytes = 0;
    pc_sink *null, *hash;

    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    assert_int_equal(pc_write_file_atomic(src, data, n, 0600), PC_OK);
    pc_sha256(data, n, one);

    assert_int_equal(pc_sink_null_new(&null), PC_OK);
    assert_int_equal(pc_sink_hash_new(PC_HASH_SHA256, null, &hash), PC_OK);
    assert_int_equal(pc_source_file(src, hash, &bytes), PC_OK);
    assert_int_equal(bytes, n);
    assert_int_equal(hash->state, PC_SINK_FINISHED);
    assert_int_equal(pc_sink_hash_result(hash, piped, sizeof piped), PC_OK);
    assert_memory_equal(one, piped, sizeof one);
    pc_sink_free(hash);

    char log[1024] = "";
    probe *p = probe_new('P', log, NULL);
    assert_int_equal(pc_source_file(missing, &p->base, NULL), PC_E_NOT_FOUND);
    char want[512];
    snprintf(want, sizeof want, "could not open \"%s\": No such file or directory", missing);
    tu_assert_err(PC_E_NOT_FOUND, want);
    assert_int_equal(p->base.state, PC_SINK_ABORTED);
    pc_sink_free(&p->base);
    assert_string_equal(log, "P.abort P.destroy");

    /* a failing sink stops the read and is aborted */
    log[0] = '\0';
    p = probe_new('P', log, NULL);
    p->fail_write_at = 1;
    assert_int_equal(pc_source_file(src, &p->base, &bytes), PC_E_REMOTE);
    assert_int_equal(p->base.state, PC_SINK_ABORTED);
    pc_sink_free(&p->base);
    assert_string_equal(log, "P.write(1048576) P.abort P.destroy");

    free(data);
    free(src);
    free(missing);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_finish_failure),
        cmocka_unit_test(test_abort_and_closed),
        cmocka_unit_test(test_free_aborts),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_null_mem_count_limit),
        cmocka_unit_test(test_fd_sink),
        cmocka_unit_test(test_file_sink),
        cmocka_unit_test(test_file_sink_no_replace),
        cmocka_unit_test(test_file_sink_mkdirs),
        cmocka_unit_test(test_source_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
