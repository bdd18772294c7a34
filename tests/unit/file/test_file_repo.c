/* The file:// backend through the public repository interface (s3/repo.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/sink.h"
#include "common/timeutil.h"
#include "s3/repo.h"

typedef struct fx {
    char dir[PATH_MAX];      /* scratch directory of the test */
    char root[PATH_MAX + 8]; /* dir/repo: the repository */
    char url[PATH_MAX + 16];
    repo *r;
} fx;

static repo *open_url(const char *url, bool fsync)
{
    repo_opts o;
    repo_opts_init(&o);
    o.url = url;
    o.fsync = fsync;
    repo *r = NULL;
    pc_status st = repo_open(&o, &r);
    if (st)
        fail_msg("open %s: %s", url, pc_err_get()->message);
    return r;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    const char *base = getenv("PGCASK_TEST_TMP");
    base = base && *base ? base : "/tmp";
    if (pc_mkdirs(base, 0700) != PC_OK)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/file-repo-XXXXXX", base);
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->root, sizeof f->root, "%s/repo", f->dir);
    snprintf(f->url, sizeof f->url, "file://%s", f->root);
    if (mkdir(f->root, 0700) != 0)
        return -1;
    f->r = open_url(f->url, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    repo_free(f->r);
    pc_remove_tree(f->dir);
    free(f);
    return 0;
}

static void put_str(repo *r, const char *key, const char *s)
{
    pc_status st = repo_put(r, key, s, strlen(s), NULL);
    if (st)
        fail_msg("put %s: %s", key, pc_err_get()->message);
}

/* Whole object (or range) as a NUL-terminated buffer; returns the status. */
static pc_status get_range(repo *r, const char *key, uint64_t off, uint64_t len, pc_buf *out,
                           repo_obj *info)
{
    pc_buf_init(out, PC_BUF_NOCAP);
    pc_sink *s;
    assert_int_equal(pc_sink_mem_new(out, &s), PC_OK);
    pc_status st = repo_get(r, key, off, len, s, info);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    pc_sink_free(s);
    return st;
}

static pc_status collect(const repo_entry *e, void *ud)
{
    return pc_buf_printf(ud, "%c %s\n", e->is_prefix ? 'P' : 'K', e->key);
}

static char *list_str(repo *r, const char *prefix, const char *delim)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    pc_status st = repo_list(r, prefix, delim, collect, &b);
    if (st)
        fail_msg("list \"%s\": %s", prefix, pc_err_get()->message);
    pc_buf_append(&b, "", 0);
    return (char *)pc_buf_steal(&b, NULL);
}

static void assert_list(repo *r, const char *prefix, const char *delim, const char *want)
{
    char *got = list_str(r, prefix, delim);
    if (strcmp(got, want) != 0)
        fail_msg("list prefix=\"%s\" delim=\"%s\":\n--- got\n%s--- want\n%s", prefix,
                 delim ? delim : "(none)", got, want);
    free(got);
}

/* Count files named like a temp file anywhere under dir. */
static int count_tmp_files(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.pgcask-tmp.*' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void write_raw(const char *path, const char *data)
{
    char *dir = pc_dirname(path);
    assert_int_equal(pc_mkdirs(dir, 0700), PC_OK);
    free(dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(data, fp);
    fclose(fp);
}

/* ---- URLs and the bucket ---- */

static void test_bad_urls(void **state)
{
    static const char *bad[] = {"file://relative/path",
                                "file://host/abs",
                                "file://",
                                "ftp://x/y",
                                "s3:/x",
                                "file:/abs",
                                "",
                                "://x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        repo_opts o;
        repo_opts_init(&o);
        o.url = bad[i];
        repo *r = NULL;
        pc_err_clear();
        assert_int_equal(repo_open(&o, &r), PC_E_USAGE);
        assert_null(r);
        assert_true(pc_err_get()->hint[0] != '\0');
    }
    repo_opts o;
    repo_opts_init(&o);
    o.url = "file://relative";
    repo *r = NULL;
    repo_open(&o, &r);
    assert_string_equal(pc_err_get()->message,
                        "invalid repository URL \"file://relative\": the path must be absolute");
}

static void test_check_and_create(void **state)
{
    fx *f = *state;
    assert_int_equal(repo_check(f->r), PC_OK);
    assert_string_equal(repo_kind(f->r), "file");
    assert_string_equal(repo_url(f->r), f->url);

    char url[PATH_MAX + 32];
    snprintf(url, sizeof url, "file://%s/new/deeper/", f->dir);
    repo *r = open_url(url, true);
    assert_int_equal(repo_check(r), PC_E_NO_BUCKET);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "repository directory \"%s/new/deeper\" does not exist", f->dir);
    assert_string_equal(pc_err_get()->message, want);
    assert_string_equal(pc_err_get()->hint, "Create it, or run `pgcask repo create`.");
    /* every operation on a missing root says so */
    pc_buf b;
    assert_int_equal(get_range(r, "k", 0, 0, &b, NULL), PC_E_NO_BUCKET);
    pc_buf_free(&b);
    assert_int_equal(repo_put(r, "k", "x", 1, NULL), PC_E_NO_BUCKET);
    assert_int_equal(repo_list(r, "", "/", collect, &b), PC_E_NO_BUCKET);
    const char *k = "k";
    assert_int_equal(repo_delete(r, &k, 1), PC_E_NO_BUCKET);

    assert_int_equal(repo_create_bucket(r), PC_OK);
    assert_int_equal(repo_create_bucket(r), PC_OK);
    assert_int_equal(repo_check(r), PC_OK);
    put_str(r, "k", "x");
    repo_free(r);

    /* a root that is a file */
    char file[PATH_MAX + 16];
    snprintf(file, sizeof file, "%s/plain", f->dir);
    write_raw(file, "x");
    snprintf(url, sizeof url, "file://%s", file);
    r = open_url(url, false);
    assert_int_equal(repo_check(r), PC_E_NO_BUCKET);
    assert_true(strstr(pc_err_get()->message, "is not a directory") != NULL);
    repo_free(r);
}

/* ---- put / get / head ---- */

static void test_put_get_bytes(void **state)
{
    fx *f = *state;
    /* 3 MiB + 7 of a pattern: crosses the 1 MiB read chunks */
    size_t n = 3 * 1024 * 1024 + 7;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + i / 4096);
    assert_int_equal(repo_put(f->r, "srv/wals/0000000100000000/big", data, n, NULL), PC_OK);

    pc_buf b;
    repo_obj info;
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", 0, 0, &b, &info), PC_OK);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    assert_int_equal(info.size, n);
    assert_true(info.mtime_us > 0);
    assert_string_equal(info.etag, "");
    pc_buf_free(&b);

    /* ranges: inside, across a chunk boundary, clamped at the end */
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", 1048570, 20, &b, NULL),
                     PC_OK);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, data + 1048570, 20);
    pc_buf_free(&b);
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", n - 5, 100, &b, NULL), PC_OK);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, data + n - 5, 5);
    pc_buf_free(&b);
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", 2 * 1048576, 0, &b, NULL),
                     PC_OK);
    assert_int_equal(b.len, n - 2 * 1048576);
    assert_memory_equal(b.data, data + 2 * 1048576, b.len);
    pc_buf_free(&b);
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", n, 0, &b, NULL), PC_E_USAGE);
    pc_buf_free(&b);
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", n + 10, 1, &b, NULL),
                     PC_E_USAGE);
    pc_buf_free(&b);

    /* overwrite replaces; an empty object exists and is empty */
    assert_int_equal(repo_put(f->r, "srv/wals/0000000100000000/big", "short", 5, NULL), PC_OK);
    assert_int_equal(get_range(f->r, "srv/wals/0000000100000000/big", 0, 0, &b, NULL), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "short");
    pc_buf_free(&b);
    assert_int_equal(repo_put(f->r, "empty", "", 0, NULL), PC_OK);
    assert_int_equal(get_range(f->r, "empty", 0, 0, &b, &info), PC_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(info.size, 0);
    pc_buf_free(&b);

    /* the file is where the layout says, with nothing else beside it */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/srv/wals/0000000100000000/big", f->root);
    uint64_t size;
    assert_int_equal(pc_file_size(path, &size), PC_OK);
    assert_int_equal(size, 5);
    assert_int_equal(count_tmp_files(f->root), 0);
    free(data);
}

static void test_get_missing(void **state)
{
    fx *f = *state;
    pc_buf b;
    assert_int_equal(get_range(f->r, "nope", 0, 0, &b, NULL), PC_E_NOT_FOUND);
    pc_buf_free(&b);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "object \"nope\" not found in %s", f->url);
    assert_string_equal(pc_err_get()->message, want);
    /* "a" is only a directory: S3 has no such key */
    put_str(f->r, "a/b", "x");
    assert_int_equal(get_range(f->r, "a", 0, 0, &b, NULL), PC_E_NOT_FOUND);
    pc_buf_free(&b);
    /* below a file */
    assert_int_equal(get_range(f->r, "a/b/c", 0, 0, &b, NULL), PC_E_NOT_FOUND);
    pc_buf_free(&b);
    repo_obj o;
    assert_int_equal(repo_head(f->r, "a/x", &o), PC_E_NOT_FOUND);
    assert_int_equal(repo_head(f->r, "a", &o), PC_E_NOT_FOUND);
    /* invalid keys never reach the file system */
    assert_int_equal(repo_head(f->r, "../etc/passwd", &o), PC_E_USAGE);
    assert_int_equal(repo_head(f->r, "/abs", &o), PC_E_USAGE);
    assert_int_equal(repo_head(f->r, "a//b", &o), PC_E_USAGE);
}

static bool xattrs_supported(const char *dir)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/xattr-probe", dir);
    write_raw(p, "x");
    bool ok = setxattr(p, "user.probe", "1", 1, 0) == 0;
    unlink(p);
    return ok;
}

static void test_head_metadata(void **state)
{
    fx *f = *state;
    repo_meta m[] = {{"sha256", "abc123"}, {"pgcask-size", "16777216"}};
    repo_put_opts po = {.meta = m, .nmeta = 2};
    assert_int_equal(repo_put(f->r, "w/seg.zst", "data", 4, &po), PC_OK);
    repo_obj o;
    assert_int_equal(repo_head(f->r, "w/seg.zst", &o), PC_OK);
    assert_int_equal(o.size, 4);
    assert_true(o.mtime_us > 0);
    assert_string_equal(o.etag, "");
    if (xattrs_supported(f->dir)) {
        assert_int_equal(o.nmeta, 2);
        assert_string_equal(repo_obj_meta(&o, "sha256"), "abc123");
        assert_string_equal(repo_obj_meta(&o, "pgcask-size"), "16777216");
    } else {
        assert_int_equal(o.nmeta, 0);
    }
    assert_null(repo_obj_meta(&o, "other"));

    /* streamed puts carry metadata too */
    pc_sink *s;
    assert_int_equal(repo_put_stream(f->r, "w/seg2", &po, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "ab", 2), PC_OK);
    assert_int_equal(pc_sink_write(s, "cd", 2), PC_OK);
    assert_int_equal(pc_sink_finish(s), PC_OK);
    pc_sink_free(s);
    assert_int_equal(repo_head(f->r, "w/seg2", &o), PC_OK);
    assert_int_equal(o.size, 4);
    if (xattrs_supported(f->dir))
        assert_string_equal(repo_obj_meta(&o, "sha256"), "abc123");

    /* bad metadata is refused before anything is written */
    repo_meta bad[] = {{"Upper", "x"}};
    po = (repo_put_opts){.meta = bad, .nmeta = 1};
    assert_int_equal(repo_put(f->r, "w/bad", "x", 1, &po), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "invalid metadata key \"Upper\" for \"w/bad\"");
    assert_string_equal(pc_err_get()->hint,
                        "Metadata: at most 8 entries, keys of lower-case letters, digits and '-' "
                        "(up to 63), values up to 255 bytes.");
    char longv[300];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    repo_meta big[] = {{"k", longv}};
    po = (repo_put_opts){.meta = big, .nmeta = 1};
    assert_int_equal(repo_put(f->r, "w/bad", "x", 1, &po), PC_E_USAGE);
    assert_int_equal(repo_head(f->r, "w/bad", &o), PC_E_NOT_FOUND);
}

static void test_put_bad_keys(void **state)
{
    fx *f = *state;
    assert_int_equal(repo_put(f->r, "dir/", "x", 1, NULL), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "object key \"dir/\" ends with '/'");
    assert_int_equal(repo_put(f->r, "x.pgcask-tmp.1.2", "x", 1, NULL), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message,
                        "object key \"x.pgcask-tmp.1.2\" contains \".pgcask-tmp.\"");
    assert_true(pc_err_get()->hint[0] != '\0');
    assert_int_equal(repo_put(f->r, "a/./b", "x", 1, NULL), PC_E_USAGE);
    assert_int_equal(repo_put(f->r, "", "x", 1, NULL), PC_E_USAGE);
    /* a key below an existing object cannot exist in a directory tree */
    put_str(f->r, "file", "x");
    assert_int_equal(repo_put(f->r, "file/sub", "x", 1, NULL), PC_E_IO);
    assert_true(strstr(pc_err_get()->message, "storing \"file/sub\"") != NULL);
    assert_int_equal(count_tmp_files(f->root), 0);
}

/* ---- streams: nothing visible before finish, nothing left after abort ---- */

static void test_stream_atomic(void **state)
{
    fx *f = *state;
    pc_sink *s;
    assert_int_equal(repo_put_stream(f->r, "s/obj", NULL, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "hello ", 6), PC_OK);
    pc_buf b;
    assert_int_equal(get_range(f->r, "s/obj", 0, 0, &b, NULL), PC_E_NOT_FOUND);
    pc_buf_free(&b);
    assert_list(f->r, "", NULL, "");
    size_t n = 99;
    /* the writer is alive: its temp file is no stale upload */
    assert_int_equal(repo_count_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(repo_abort_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(pc_sink_write(s, "world", 5), PC_OK);
    assert_int_equal(pc_sink_finish(s), PC_OK);
    pc_sink_free(s);
    assert_int_equal(get_range(f->r, "s/obj", 0, 0, &b, NULL), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "hello world");
    pc_buf_free(&b);

    /* abort and free-without-finish leave nothing */
    assert_int_equal(repo_put_stream(f->r, "s/aborted", NULL, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "xx", 2), PC_OK);
    pc_sink_abort(s);
    pc_sink_free(s);
    assert_int_equal(repo_put_stream(f->r, "s/dropped", NULL, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, "xx", 2), PC_OK);
    pc_sink_free(s);
    assert_list(f->r, "", NULL, "K s/obj\n");
    assert_int_equal(count_tmp_files(f->root), 0);
}

/* ---- listing ---- */

static const char *const tree[] = {
    " sp",     "A/x",     "a-c",    "a.b",        "a/b-c",       "a/b/c", "a/b/d-",
    "a/b/d/e", "a/b0",    "a/bc/x", "a0",         "ab/c",        "b.x",   "b/c-d-f",
    "b/c-d/e", "z/y/x/w", "~t",     "\xc3\xa9/x", "a/b/d/f-g/h",
};
#define NTREE (sizeof tree / sizeof tree[0])

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What S3 answers, computed from the sorted key list. */
static char *model_list(const char *prefix, const char *delim)
{
    const char *keys[NTREE];
    memcpy(keys, tree, sizeof keys);
    qsort(keys, NTREE, sizeof keys[0], cmp_str);
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    char last[256] = "";
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < NTREE; i++) {
        if (strncmp(keys[i], prefix, plen) != 0)
            continue;
        const char *hit = delim && *delim ? strstr(keys[i] + plen, delim) : NULL;
        if (hit) {
            char cp[256];
            snprintf(cp, sizeof cp, "%.*s", (int)(hit - keys[i] + (ptrdiff_t)strlen(delim)),
                     keys[i]);
            if (strcmp(cp, last) != 0) {
                pc_buf_printf(&b, "P %s\n", cp);
                snprintf(last, sizeof last, "%s", cp);
            }
        } else {
            pc_buf_printf(&b, "K %s\n", keys[i]);
        }
    }
    pc_buf_append(&b, "", 0);
    return (char *)pc_buf_steal(&b, NULL);
}

static void make_tree(fx *f)
{
    for (size_t i = 0; i < NTREE; i++)
        put_str(f->r, tree[i], tree[i]);
    /* noise the listing must not show: empty directories, temp files, a symlink */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/empty/sub/deeper", f->root);
    assert_int_equal(pc_mkdirs(p, 0700), PC_OK);
    snprintf(p, sizeof p, "%s/a/b/emptydir", f->root);
    assert_int_equal(pc_mkdirs(p, 0700), PC_OK);
    snprintf(p, sizeof p, "%s/onlytmp/x.pgcask-tmp.1.1", f->root);
    write_raw(p, "partial");
    snprintf(p, sizeof p, "%s/a/b/c.pgcask-tmp.1.2", f->root);
    write_raw(p, "partial");
    snprintf(p, sizeof p, "%s/link", f->root);
    assert_int_equal(symlink("a0", p), 0);
}

static void test_list_order(void **state)
{
    fx *f = *state;
    make_tree(f);
    /* hand-checked: '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f), '0' after */
    assert_list(
        f->r, "", "/",
        "K  sp\nP A/\nK a-c\nK a.b\nP a/\nK a0\nP ab/\nK b.x\nP b/\nP z/\nK ~t\nP \xc3\xa9/\n");
    assert_list(f->r, "a/b", "/", "K a/b-c\nP a/b/\nK a/b0\nP a/bc/\n");
    assert_list(f->r, "a/b/", NULL, "K a/b/c\nK a/b/d-\nK a/b/d/e\nK a/b/d/f-g/h\n");
    assert_list(f->r, "a/b/", "/", "K a/b/c\nK a/b/d-\nP a/b/d/\n");
    assert_list(f->r, "b/", "-", "P b/c-\n");
    assert_list(f->r, "nothing/here/", "/", "");
    assert_list(f->r, "a/b/c", "/", "K a/b/c\n");
    assert_list(f->r, "empty/", NULL, "");

    static const char *prefixes[] = {"",    "a",    "a/",   "a/b", "a/b/", "a/b/d", "a/b/d/",
                                     "b/c", "b/c-", "z/y/", "zz",  "a-",   "\xc3",  "A"};
    static const char *delims[] = {NULL, "/", "-", "/d", "c-", "b/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        for (size_t j = 0; j < sizeof delims / sizeof delims[0]; j++) {
            char *want = model_list(prefixes[i], delims[j]);
            assert_list(f->r, prefixes[i], delims[j], want);
            free(want);
        }
    }
}

static pc_status stop_after_two(const repo_entry *e, void *ud)
{
    int *n = ud;
    return ++*n == 2 ? PC_E_CONFLICT : PC_OK;
}

static pc_status check_entry(const repo_entry *e, void *ud)
{
    if (strcmp(e->key, "a/b/c") == 0) {
        assert_false(e->is_prefix);
        assert_int_equal(e->size, 5);
        assert_true(e->mtime_us > 0);
        assert_string_equal(e->etag, "");
        ++*(int *)ud;
    }
    return PC_OK;
}

static void test_list_details(void **state)
{
    fx *f = *state;
    make_tree(f);
    int n = 0;
    assert_int_equal(repo_list(f->r, "", NULL, stop_after_two, &n), PC_E_CONFLICT);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(repo_list(f->r, "a/", NULL, check_entry, &n), PC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(repo_list(f->r, "../", NULL, collect, NULL), PC_E_USAGE);
}

/* ---- delete ---- */

static void test_delete(void **state)
{
    fx *f = *state;
    put_str(f->r, "d/one", "1");
    put_str(f->r, "d/two", "2");
    put_str(f->r, "d/sub/three", "3");
    const char *keys[] = {"d/one", "d/missing", "d/sub", "nowhere/x", "d/one/below"};
    assert_int_equal(repo_delete(f->r, keys, 5), PC_OK);
    assert_list(f->r, "", NULL, "K d/sub/three\nK d/two\n");
    /* directories stay (a writer may be creating a file in one); listings hide them */
    const char *rest[] = {"d/two", "d/sub/three"};
    repo *r = open_url(f->url, true); /* the fsync path too */
    assert_int_equal(repo_delete(r, rest, 2), PC_OK);
    repo_free(r);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/d/sub", f->root);
    assert_true(pc_is_dir(p));
    assert_list(f->r, "", "/", "");
    assert_list(f->r, "", NULL, "");
    const char *bad[] = {"ok", "../x"};
    assert_int_equal(repo_delete(f->r, bad, 2), PC_E_USAGE);
}

/* ---- leftover temp files = unfinished uploads ---- */

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void test_abort_uploads(void **state)
{
    fx *f = *state;
    pid_t dead = dead_pid();
    char p[PATH_MAX + 128];
    const char *stale[] = {"p/q/seg", "p/q/deep/er/x.zst", "p/top", "r/other"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s.pgcask-tmp.%d.%zu", f->root, stale[i], (int)dead, i);
        write_raw(p, "partial");
    }
    /* a live writer (this process), and names that only look similar */
    snprintf(p, sizeof p, "%s/p/q/live.pgcask-tmp.%d.7", f->root, (int)getpid());
    write_raw(p, "in progress");
    snprintf(p, sizeof p, "%s/p/q/odd.pgcask-tmp.x.1", f->root);
    write_raw(p, "not ours");
    put_str(f->r, "p/q/real", "data");

    size_t n = 0;
    assert_int_equal(repo_count_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 4);
    assert_int_equal(repo_count_uploads(f->r, "p/", &n), PC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(repo_count_uploads(f->r, "p/q/s", &n), PC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(repo_count_uploads(f->r, "p/to", &n), PC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(repo_count_uploads(f->r, "x/", &n), PC_OK);
    assert_int_equal(n, 0);

    assert_int_equal(repo_abort_uploads(f->r, "p/", &n), PC_OK);
    assert_int_equal(n, 3);
    assert_int_equal(repo_count_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(repo_abort_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(repo_abort_uploads(f->r, "", &n), PC_OK);
    assert_int_equal(n, 0);
    /* what is left: the live writer's file, the foreign one, the real object */
    assert_int_equal(count_tmp_files(f->root), 2);
    assert_list(f->r, "", NULL, "K p/q/real\n");
}

/* ---- concurrency: many writers creating one new directory ---- */

typedef struct writer_arg {
    repo *r;
    int id;
    pc_status st;
    char msg[PC_ERR_MSG_MAX];
} writer_arg;

#define NWRITERS 8
#define NPUTS    25

static void *writer(void *p)
{
    writer_arg *a = p;
    for (int i = 0; i < NPUTS && a->st == PC_OK; i++) {
        char key[96], val[32];
        snprintf(key, sizeof key, "srv/wals/000000010000000%d/seg-%02d-%02d", i % 3, a->id, i);
        snprintf(val, sizeof val, "%d/%d", a->id, i);
        a->st = repo_put(a->r, key, val, strlen(val), NULL);
        if (a->st)
            snprintf(a->msg, sizeof a->msg, "%s", pc_err_get()->message);
    }
    return NULL;
}

static void test_concurrent_puts(void **state)
{
    fx *f = *state;
    repo *r = open_url(f->url, true); /* with fsync: the real path, slower and racier */
    pthread_t th[NWRITERS];
    writer_arg args[NWRITERS];
    for (int i = 0; i < NWRITERS; i++) {
        args[i] = (writer_arg){.r = r, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < NWRITERS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].st)
            fail_msg("writer %d: %s", i, args[i].msg);
    }
    int n = 0;
    char *all = list_str(r, "srv/", NULL);
    for (char *p = all; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    free(all);
    assert_int_equal(n, NWRITERS * NPUTS);
    pc_buf b;
    assert_int_equal(get_range(r, "srv/wals/0000000100000002/seg-07-23", 0, 0, &b, NULL), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "7/23");
    pc_buf_free(&b);
    assert_int_equal(count_tmp_files(f->root), 0);
    repo_free(r);
}

/* --max-bandwidth holds file:// writes too; metadata still lands through the pace stage */
static void test_bandwidth(void **state)
{
    fx *f = *state;
    repo_opts o;
    repo_opts_init(&o);
    o.url = f->url;
    o.max_bandwidth = 1024 * 1024;
    repo *r = NULL;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    size_t n = 400 * 1024;
    char *d = calloc(1, n);
    repo_meta m[] = {{"sha256", "abc"}};
    repo_put_opts po = {.meta = m, .nmeta = 1};
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(repo_put(r, "slow/a", d, n, &po), PC_OK);
    assert_int_equal(repo_put(r, "slow/b", d, n, NULL), PC_OK);
    int64_t ms = pc_now_mono_ms() - t0;
    print_message("2 x 400 KiB at 1 MiB/s: %lld ms\n", (long long)ms);
    /* 800 KiB at 1 MiB/s, less the 0.1 s burst a quiet pacer allows */
    assert_true(ms >= 600 && ms < 3000);
    repo_obj ob;
    assert_int_equal(repo_head(r, "slow/a", &ob), PC_OK);
    assert_int_equal(ob.size, n);
    if (xattrs_supported(f->dir))
        assert_string_equal(repo_obj_meta(&ob, "sha256"), "abc");
    free(d);
    repo_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test_setup_teardown(test_check_and_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_bad_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bandwidth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
