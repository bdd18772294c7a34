#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/timeutil.h"

static char *dir;

static int setup(void **state)
{
    dir = tu_mkdtemp();
    pc_err_clear();
    return 0;
}

static int teardown(void **state)
{
    tu_rmdir(dir);
    dir = NULL;
    return 0;
}

/* dir + "/" + rel, malloc'd. */
static char *P(const char *rel)
{
    return pc_path_join(dir, rel);
}

static void test_mkdirs(void **state)
{
    char *deep = P("a/b/c/");
    char *file = P("a/file");
    char *under_file = P("a/file/x");
    char want[512];

    assert_int_equal(pc_mkdirs(deep, 0700), PC_OK);
    assert_true(pc_is_dir(deep));
    assert_int_equal(pc_mkdirs(deep, 0700), PC_OK); /* exists already */
    tu_write(file, "x");
    assert_int_equal(pc_mkdirs(file, 0700), PC_E_IO);
    snprintf(want, sizeof want, "\"%s\" is not a directory", file);
    tu_assert_err(PC_E_IO, want);
    assert_int_equal(pc_mkdirs(under_file, 0700), PC_E_IO);
    snprintf(want, sizeof want, "could not create directory \"%s\": Not a directory", under_file);
    tu_assert_err(PC_E_IO, want);
    assert_int_equal(pc_mkdirs("", 0700), PC_E_IO);
    tu_assert_err(PC_E_IO, "could not create directory \"\": empty path");
    assert_int_equal(pc_mkdirs("/", 0700), PC_OK);
    free(deep);
    free(file);
    free(under_file);
}

static void test_rename_and_files(void **state)
{
    char *a = P("a"), *b = P("b"), *missing = P("missing");
    char want[1024];
    pc_buf buf;
    uint64_t size;

    assert_int_equal(pc_write_file_atomic(a, "0123456789", 10, 0600), PC_OK);
    assert_int_equal(tu_count_entries(dir), 1);
    assert_int_equal(pc_durable_rename(a, b), PC_OK);
    assert_false(pc_path_exists(a));
    assert_int_equal(pc_file_size(b, &size), PC_OK);
    assert_int_equal(size, 10);

    assert_int_equal(pc_durable_rename(a, b), PC_E_IO);
    snprintf(want, sizeof want, "could not rename \"%s\" to \"%s\": No such file or directory", a,
             b);
    tu_assert_err(PC_E_IO, want);

    pc_buf_init(&buf, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(b, 10, &buf), PC_OK);
    assert_int_equal(buf.len, 10);
    assert_string_equal(pc_buf_cstr(&buf), "0123456789");
    pc_buf_reset(&buf);
    assert_int_equal(pc_read_file(b, 9, &buf), PC_E_CORRUPT);
    snprintf(want, sizeof want, "\"%s\" is larger than 9 bytes", b);
    tu_assert_err(PC_E_CORRUPT, want);
    pc_buf_reset(&buf);
    assert_int_equal(pc_read_file(missing, 100, &buf), PC_E_NOT_FOUND);
    snprintf(want, sizeof want, "could not open \"%s\": No such file or directory", missing);
    tu_assert_err(PC_E_NOT_FOUND, want);
    pc_buf_free(&buf);

    assert_int_equal(pc_file_size(missing, &size), PC_E_NOT_FOUND);
    assert_int_equal(pc_file_size(dir, &size), PC_E_USAGE);
    snprintf(want, sizeof want, "\"%s\" is not a regular file", dir);
    tu_assert_err(PC_E_USAGE, want);

    /* an atomic write replaces and leaves no temp behind */
    assert_int_equal(pc_write_file_atomic(b, "", 0, 0600), PC_OK);
    assert_int_equal(pc_file_size(b, &size), PC_OK);
    assert_int_equal(size, 0);
    assert_int_equal(tu_count_entries(dir), 1);
    assert_int_equal(pc_fsync_dir(dir), PC_OK);
    assert_int_equal(pc_fsync_dir(missing), PC_E_IO);
    assert_int_equal(pc_fsync_parent(b), PC_OK);
    free(a);
    free(b);
    free(missing);
}

static void test_exists_and_empty(void **state)
{
    char *sub = P("sub"), *f = P("sub/f"), *dangling = P("dangling"), *missing = P("missing");
    bool empty = false;

    assert_int_equal(pc_dir_is_empty(missing, &empty), PC_OK);
    assert_true(empty);
    assert_int_equal(pc_mkdirs(sub, 0700), PC_OK);
    empty = false;
    assert_int_equal(pc_dir_is_empty(sub, &empty), PC_OK);
    assert_true(empty);
    tu_write(f, "x");
    assert_int_equal(pc_dir_is_empty(sub, &empty), PC_OK);
    assert_false(empty);
    assert_int_equal(pc_dir_is_empty(f, &empty), PC_E_IO);

    assert_true(pc_path_exists(f));
    assert_false(pc_is_dir(f));
    assert_true(pc_is_dir(sub));
    assert_false(pc_path_exists(missing));
    assert_int_equal(symlink("nowhere", dangling), 0);
    assert_true(pc_path_exists(dangling)); /* the link itself exists */
    assert_false(pc_is_dir(dangling));
    free(sub);
    free(f);
    free(dangling);
    free(missing);
}

static void test_remove_tree_keeps_link_targets(void **state)
{
    char *outside = P("outside"), *keep = P("outside/keep");
    char *tree = P("tree"), *inner = P("tree/x/y"), *file = P("tree/x/y/f");
    char *link_dir = P("tree/x/link-dir"), *link_file = P("tree/link-file");

    assert_int_equal(pc_mkdirs(outside, 0700), PC_OK);
    tu_write(keep, "precious");
    assert_int_equal(pc_mkdirs(inner, 0700), PC_OK);
    tu_write(file, "x");
    assert_int_equal(symlink(outside, link_dir), 0);
    assert_int_equal(symlink(keep, link_file), 0);

    assert_int_equal(pc_remove_tree(tree), PC_OK);
    assert_false(pc_path_exists(tree));
    char *content = tu_read(keep, NULL);
    assert_string_equal(content, "precious");
    free(content);
    assert_int_equal(pc_remove_tree(tree), PC_OK); /* missing is fine */

    /* a symlink given as the root is removed, not followed */
    assert_int_equal(symlink(outside, tree), 0);
    assert_int_equal(pc_remove_tree(tree), PC_OK);
    assert_false(pc_path_exists(tree));
    assert_true(pc_path_exists(keep));

    free(outside);
    free(keep);
    free(tree);
    free(inner);
    free(file);
    free(link_dir);
    free(link_file);
}

static void test_paths(void **state)
{
    static const struct {
        const char *a, *b, *join;
    } joins[] = {
        {"/a", "b", "/a/b"},   {"/a/", "b", "/a/b"}, {"/a//", "/b", "/a/b"},
        {"a", "b/c", "a/b/c"}, {"/", "b", "/b"},     {"/a", "", "/a/"},
    };
    for (size_t i = 0; i < sizeof joins / sizeof joins[0]; i++) {
        char *j = pc_path_join(joins[i].a, joins[i].b);
        assert_string_equal(j, joins[i].join);
        free(j);
    }
    static const struct {
        const char *path, *dir, *base;
    } parts[] = {
        {"/a/b/c", "/a/b", "c"}, {"c", ".", "c"},     {"/c", "/", "c"},
        {"a/b", "a", "b"},       {"a/b/", "a/b", ""},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *d = pc_dirname(parts[i].path);
        assert_string_equal(d, parts[i].dir);
        free(d);
        assert_string_equal(pc_basename(parts[i].path), parts[i].base);
    }
}

static void test_flock_same_process(void **state)
{
    char *lock = P("lock");
    pc_flock a, b;
    char want[512];

    assert_int_equal(pc_flock_acquire(lock, 0, &a), PC_OK);
    assert_true(pc_path_exists(lock));
    /* a second open file description conflicts, even in the same process */
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(pc_flock_acquire(lock, 0, &b), PC_E_BUSY);
    snprintf(want, sizeof want, "\"%s\" is locked by another process", lock);
    tu_assert_err(PC_E_BUSY, want);
    assert_int_equal(b.fd, -1);
    assert_int_equal(pc_flock_acquire(lock, 120, &b), PC_E_BUSY);
    int64_t waited = pc_now_mono_ms() - t0;
    assert_true(waited >= 120);
    assert_true(waited < 2000);
    pc_flock_release(&a);
    pc_flock_release(&a); /* twice is harmless */
    assert_int_equal(pc_flock_acquire(lock, 0, &b), PC_OK);
    pc_flock_release(&b);

    char *nodir = P("missing/lock");
    assert_int_equal(pc_flock_acquire(nodir, 0, &b), PC_E_IO);
    snprintf(want, sizeof want, "could not open lock file \"%s\": No such file or directory",
             nodir);
    tu_assert_err(PC_E_IO, want);
    free(nodir);
    free(lock);
}

typedef struct {
    pc_flock *l;
    int64_t after_ms;
} release_arg;

static void *release_later(void *arg)
{
    release_arg *r = arg;
    pc_sleep_ms(r->after_ms);
    pc_flock_release(r->l);
    return NULL;
}

static void test_flock_between_processes(void **state)
{
    char *lock = P("lock");
    pc_flock mine, other;
    assert_int_equal(pc_flock_acquire(lock, -1, &mine), PC_OK);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pc_flock l;
        pc_status st = pc_flock_acquire(lock, 100, &l);
        _exit(st == PC_E_BUSY ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);

    /* a waiter gets the lock once the holder lets go within the wait */
    pthread_t t;
    release_arg r = {&mine, 80};
    assert_int_equal(pthread_create(&t, NULL, release_later, &r), 0);
    assert_int_equal(pc_flock_acquire(lock, 5000, &other), PC_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    pc_flock_release(&other);
    free(lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_tree_keeps_link_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flock_same_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flock_between_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
