/*
 * The s3:// driver against a real S3 server, through the public repo_* API.
 * Skipped unless PGCASK_TEST_S3_ENV names an env file as written by
 * `tests/servers/s3-server.sh start DIR` (DIR/env: S3_ENDPOINT, S3_BUCKET,
 * credentials; Swift's s3api wants us-east-1 and path-style addressing).
 * Each run works under its own prefix and removes what it wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/timeutil.h"
#include "s3/repo.h"

static char bucket[256], endpoint[512], endpoint_tls[512], ca_file[4096];
static char prefix[128];
static bool have_env;

static bool load_env(void)
{
    const char *path = getenv("PGCASK_TEST_S3_ENV");
    if (!path || !*path)
        return false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *l = strncmp(line, "export ", 7) == 0 ? line + 7 : line;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = '\0';
        setenv(l, eq + 1, 1);
    }
    fclose(f);
    snprintf(bucket, sizeof bucket, "%s", getenv("S3_BUCKET") ? getenv("S3_BUCKET") : "test");
    snprintf(endpoint, sizeof endpoint, "%s", getenv("S3_ENDPOINT") ? getenv("S3_ENDPOINT") : "");
    snprintf(endpoint_tls, sizeof endpoint_tls, "%s",
             getenv("S3_ENDPOINT_TLS") ? getenv("S3_ENDPOINT_TLS") : "");
    snprintf(ca_file, sizeof ca_file, "%s", getenv("S3_CA_FILE") ? getenv("S3_CA_FILE") : "");
    unsetenv("AWS_PROFILE");
    return endpoint[0] != '\0';
}

static pc_status open_repo_at(const char *bkt, const char *ep, const char *ca, repo **out)
{
    char url[512];
    snprintf(url, sizeof url, "s3://%s/%s", bkt, prefix);
    repo_opts o;
    repo_opts_init(&o);
    o.url = url;
    o.endpoint_url = ep;
    o.addressing = "path";
    o.region = "us-east-1";
    o.ca_bundle = ca;
    o.max_retries = 2;
    o.read_timeout_ms = 30000;
    return repo_open(&o, out);
}

static repo *open_repo(void)
{
    repo *r = NULL;
    assert_int_equal(open_repo_at(bucket, endpoint, NULL, &r), PC_OK);
    return r;
}

static int group_setup(void **state)
{
    have_env = load_env();
    snprintf(prefix, sizeof prefix, "pgcask-test-%d-%lld", (int)getpid(), (long long)time(NULL));
    return 0;
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (!have_env)                                                                             \
            skip();                                                                                \
    } while (0)

static void fill(unsigned char *p, size_t n, uint64_t *seed)
{
    uint64_t x = *seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 32);
    }
    *seed = x;
}

/* Read a whole object through a SHA-256 observer; return its size. */
static pc_status get_digest(repo *r, const char *key, uint64_t off, uint64_t len,
                            unsigned char digest[PC_SHA256_LEN], uint64_t *size)
{
    pc_sink *null, *h;
    assert_int_equal(pc_sink_null_new(&null), PC_OK);
    assert_int_equal(pc_sink_hash_new(PC_HASH_SHA256, null, &h), PC_OK);
    pc_status st = repo_get(r, key, off, len, h, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(h);
    if (st == PC_OK) {
        assert_int_equal(pc_sink_hash_result(h, digest, PC_SHA256_LEN), PC_OK);
        *size = h->bytes_in;
    }
    pc_sink_free(h);
    return st;
}

static void test_put_get_head(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    assert_string_equal(repo_kind(r), "s3");
    assert_int_equal(repo_check(r), PC_OK);
    assert_int_equal(repo_create_bucket(r), PC_OK); /* already ours */

    repo_meta meta[] = {{"pgcask-sha256", "abc123"}, {"wal-size", "16777216"}};
    repo_put_opts po = {.meta = meta, .nmeta = 2, .content_type = "application/octet-stream"};
    assert_int_equal(repo_put(r, "small/one", "x", 1, &po), PC_OK);
    assert_int_equal(repo_put(r, "small/empty", "", 0, NULL), PC_OK);

    repo_obj info;
    assert_int_equal(repo_head(r, "small/one", &info), PC_OK);
    assert_int_equal(info.size, 1);
    assert_string_equal(info.etag, "9dd4e461268c8034f5c8564e155c67a6"); /* md5("x") */
    assert_true(info.mtime_us > pc_now_us() - 3600LL * 1000000 &&
                info.mtime_us < pc_now_us() + 3600LL * 1000000);
    assert_string_equal(repo_obj_meta(&info, "pgcask-sha256"), "abc123");
    assert_string_equal(repo_obj_meta(&info, "wal-size"), "16777216");

    pc_buf b;
    assert_int_equal(repo_get_buf(r, "small/one", 16, &b), PC_OK);
    assert_int_equal(b.len, 1);
    assert_memory_equal(b.data, "x", 1);
    pc_buf_free(&b);
    assert_int_equal(repo_get_buf(r, "small/empty", 16, &b), PC_OK);
    assert_int_equal(b.len, 0);
    pc_buf_free(&b);
    assert_int_equal(repo_head(r, "small/empty", &info), PC_OK);
    assert_int_equal(info.size, 0);

    assert_int_equal(repo_head(r, "small/missing", &info), PC_E_NOT_FOUND);
    assert_int_equal(repo_get_buf(r, "small/missing", 16, &b), PC_E_NOT_FOUND);
    assert_non_null(strstr(pc_err_get()->message, "small/missing"));

    const char *keys[] = {"small/one", "small/empty", "small/never-existed"};
    assert_int_equal(repo_delete(r, keys, 3), PC_OK);
    assert_int_equal(repo_head(r, "small/one", &info), PC_E_NOT_FOUND);
    repo_free(r);
}

static void test_odd_keys(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    const char *keys[] = {"odd/a b+c~d(1)!.txt", "odd/caf\xc3\xa9/\xe2\x82\xac", "odd/100%=&?#x",
                          "odd/*'@$,;:"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(repo_put(r, keys[i], keys[i], strlen(keys[i]), NULL), PC_OK);
    for (size_t i = 0; i < 4; i++) {
        pc_buf b;
        assert_int_equal(repo_get_buf(r, keys[i], 256, &b), PC_OK);
        assert_int_equal(b.len, strlen(keys[i]));
        assert_memory_equal(b.data, keys[i], b.len);
        pc_buf_free(&b);
    }
    assert_int_equal(repo_delete(r, keys, 4), PC_OK);
    repo_free(r);
}

static void test_ranged_get(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    unsigned char data[100000];
    uint64_t seed = 42;
    fill(data, sizeof data, &seed);
    assert_int_equal(repo_put(r, "range/obj", data, sizeof data, NULL), PC_OK);
    pc_buf b;
    pc_sink *s;
    repo_obj info;
    struct {
        uint64_t off, len, want;
    } cases[] = {{0, 10, 10}, {99990, 0, 10}, {5000, 20000, 20000}, {99999, 5, 1}, {1, 0, 99999}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pc_buf_init(&b, PC_BUF_NOCAP);
        assert_int_equal(pc_sink_mem_new(&b, &s), PC_OK);
        assert_int_equal(repo_get(r, "range/obj", cases[i].off, cases[i].len, s, &info), PC_OK);
        assert_int_equal(pc_sink_finish(s), PC_OK);
        pc_sink_free(s);
        assert_int_equal(b.len, cases[i].want);
        assert_memory_equal(b.data, data + cases[i].off, cases[i].want);
        assert_int_equal(info.size, sizeof data);
        pc_buf_free(&b);
    }
    const char *k[] = {"range/obj"};
    assert_int_equal(repo_delete(r, k, 1), PC_OK);
    repo_free(r);
}

static double mbps(uint64_t bytes, int64_t us)
{
    return (double)bytes / (1024.0 * 1024.0) / ((double)us / 1e6);
}

static void test_16mib_throughput(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    size_t n = 16 * 1024 * 1024;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint64_t seed = 7;
    fill(data, n, &seed);
    unsigned char want[PC_SHA256_LEN], got[PC_SHA256_LEN];
    pc_sha256(data, n, want);
    int64_t put_us = 0, get_us = 0;
    const int rounds = 5;
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = pc_now_mono_us();
        assert_int_equal(repo_put(r, "big/16m", data, n, NULL), PC_OK);
        int64_t t1 = pc_now_mono_us();
        uint64_t size = 0;
        assert_int_equal(get_digest(r, "big/16m", 0, 0, got, &size), PC_OK);
        int64_t t2 = pc_now_mono_us();
        assert_int_equal(size, n);
        assert_memory_equal(got, want, sizeof want);
        put_us += t1 - t0;
        get_us += t2 - t1;
    }
    print_message("16 MiB objects, %d rounds: PUT %.1f MB/s, GET %.1f MB/s\n", rounds,
                  mbps((uint64_t)n * rounds, put_us), mbps((uint64_t)n * rounds, get_us));
    /* the same through a put stream: one part, so one PUT */
    pc_sink *s;
    assert_int_equal(repo_put_stream(r, "big/16m-stream", NULL, &s), PC_OK);
    for (size_t off = 0; off < n; off += 100000)
        assert_int_equal(pc_sink_write(s, data + off, n - off < 100000 ? n - off : 100000), PC_OK);
    assert_int_equal(pc_sink_finish(s), PC_OK);
    pc_sink_free(s);
    uint64_t size = 0;
    assert_int_equal(get_digest(r, "big/16m-stream", 0, 0, got, &size), PC_OK);
    assert_int_equal(size, n);
    assert_memory_equal(got, want, sizeof want);
    repo_obj info;
    assert_int_equal(repo_head(r, "big/16m-stream", &info), PC_OK);
    assert_null(strchr(info.etag, '-')); /* not a multipart object */
    const char *k[] = {"big/16m", "big/16m-stream"};
    assert_int_equal(repo_delete(r, k, 2), PC_OK);
    free(data);
    repo_free(r);
}

static void test_200mib_multipart(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    const size_t total = 200 * 1024 * 1024, chunk = 1024 * 1024 + 7;
    unsigned char *buf = malloc(chunk);
    assert_non_null(buf);
    pc_hash *h;
    assert_int_equal(pc_hash_new(PC_HASH_SHA256, &h), PC_OK);
    pc_sink *s;
    repo_meta meta[] = {{"kind", "tar"}};
    repo_put_opts po = {.meta = meta, .nmeta = 1};
    assert_int_equal(repo_put_stream(r, "big/200m", &po, &s), PC_OK);
    uint64_t seed = 99;
    int64_t t0 = pc_now_mono_us();
    for (size_t off = 0; off < total;) {
        size_t n = total - off < chunk ? total - off : chunk;
        fill(buf, n, &seed);
        pc_hash_update(h, buf, n);
        assert_int_equal(pc_sink_write(s, buf, n), PC_OK);
        off += n;
    }
    assert_int_equal(pc_sink_finish(s), PC_OK);
    int64_t t1 = pc_now_mono_us();
    pc_sink_free(s);
    unsigned char want[PC_SHA256_LEN], got[PC_SHA256_LEN];
    pc_hash_final(h, want);
    pc_hash_free(h);
    uint64_t size = 0;
    assert_int_equal(get_digest(r, "big/200m", 0, 0, got, &size), PC_OK);
    int64_t t2 = pc_now_mono_us();
    assert_int_equal(size, total);
    assert_memory_equal(got, want, sizeof want);
    print_message("200 MiB multipart (16 MiB parts, 4 in flight): PUT %.1f MB/s, GET %.1f MB/s\n",
                  mbps(total, t1 - t0), mbps(total, t2 - t1));
    repo_obj info;
    assert_int_equal(repo_head(r, "big/200m", &info), PC_OK);
    assert_int_equal(info.size, total);
    assert_non_null(strstr(info.etag, "-13")); /* 12 full parts + 1 */
    assert_string_equal(repo_obj_meta(&info, "kind"), "tar");
    /* a range across a part boundary */
    assert_int_equal(get_digest(r, "big/200m", 16 * 1024 * 1024 - 5, 10, got, &size), PC_OK);
    assert_int_equal(size, 10);
    size_t count = 99;
    assert_int_equal(repo_count_uploads(r, "big/", &count), PC_OK);
    assert_int_equal(count, 0);
    const char *k[] = {"big/200m"};
    assert_int_equal(repo_delete(r, k, 1), PC_OK);
    free(buf);
    repo_free(r);
}

static void test_abort_leaves_nothing(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    size_t n = 8 * 1024 * 1024;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint64_t seed = 5;
    fill(data, n, &seed);
    pc_sink *s;
    assert_int_equal(repo_put_stream(r, "abort/obj", NULL, &s), PC_OK);
    /* 40 MiB: the multipart upload starts and parts go out */
    for (int i = 0; i < 5; i++)
        assert_int_equal(pc_sink_write(s, data, n), PC_OK);
    pc_sink_abort(s);
    pc_sink_free(s);
    size_t count = 99;
    assert_int_equal(repo_count_uploads(r, "abort/", &count), PC_OK);
    assert_int_equal(count, 0);
    repo_obj info;
    assert_int_equal(repo_head(r, "abort/obj", &info), PC_E_NOT_FOUND);
    size_t aborted = 99;
    assert_int_equal(repo_abort_uploads(r, "abort/", &aborted), PC_OK);
    assert_int_equal(aborted, 0);
    /* free without finish aborts too */
    assert_int_equal(repo_put_stream(r, "abort/obj2", NULL, &s), PC_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pc_sink_write(s, data, n), PC_OK);
    pc_sink_free(s);
    assert_int_equal(repo_count_uploads(r, "abort/", &count), PC_OK);
    assert_int_equal(count, 0);
    free(data);
    repo_free(r);
}

typedef struct putter {
    repo *r;
    int from, to;
    pc_status st;
} putter;

static void key_name(int i, char *out, size_t n)
{
    /* three "directories" so the delimiter listing has prefixes */
    snprintf(out, n, "many/d%d/k%05d", i % 3, i);
}

static void *putter_main(void *arg)
{
    putter *p = arg;
    for (int i = p->from; i < p->to && p->st == PC_OK; i++) {
        char k[64];
        key_name(i, k, sizeof k);
        p->st = repo_put(p->r, k, k, strlen(k), NULL);
    }
    return NULL;
}

typedef struct collected {
    int n, prefixes;
    char last[256];
    bool ordered;
    uint64_t bytes;
} collected;

static pc_status collect(const repo_entry *e, void *ud)
{
    collected *c = ud;
    if (c->n && strcmp(c->last, e->key) >= 0)
        c->ordered = false;
    snprintf(c->last, sizeof c->last, "%s", e->key);
    c->n++;
    c->prefixes += e->is_prefix;
    c->bytes += e->size;
    return PC_OK;
}

static pc_status stop_at_5(const repo_entry *e, void *ud)
{
    return ++*(int *)ud == 5 ? PC_E_INTERRUPTED : PC_OK;
}

static void test_list_delete_many(void **state)
{
    NEED_SERVER();
    repo *r = open_repo();
    enum { N = 1100, T = 4 };
    pthread_t t[T];
    putter p[T];
    for (int i = 0; i < T; i++) {
        p[i] = (putter){r, i * N / T, (i + 1) * N / T, PC_OK};
        assert_int_equal(pthread_create(&t[i], NULL, putter_main, &p[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].st, PC_OK);
    }
    collected c = {.ordered = true};
    assert_int_equal(repo_list(r, "many/", NULL, collect, &c), PC_OK);
    assert_int_equal(c.n, N);
    assert_int_equal(c.prefixes, 0);
    assert_true(c.ordered);
    assert_int_equal(c.bytes, (uint64_t)N * strlen("many/d0/k00000"));

    c = (collected){.ordered = true};
    assert_int_equal(repo_list(r, "many/", "/", collect, &c), PC_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.prefixes, 3);
    assert_string_equal(c.last, "many/d2/");

    c = (collected){.ordered = true};
    assert_int_equal(repo_list(r, "many/d1/", "/", collect, &c), PC_OK);
    assert_int_equal(c.n, (N + 1) / 3);
    assert_int_equal(c.prefixes, 0);

    int seen = 0;
    assert_int_equal(repo_list(r, "many/", NULL, stop_at_5, &seen), PC_E_INTERRUPTED);
    assert_int_equal(seen, 5);

    char **keys = calloc(N, sizeof *keys);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        keys[i] = malloc(64);
        key_name(i, keys[i], 64);
    }
    assert_int_equal(repo_delete(r, (const char *const *)keys, N), PC_OK);
    for (int i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
    c = (collected){.ordered = true};
    assert_int_equal(repo_list(r, "many/", NULL, collect, &c), PC_OK);
    assert_int_equal(c.n, 0);
    repo_free(r);
}

static void test_wrong_secret(void **state)
{
    NEED_SERVER();
    char *good = strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    setenv("AWS_SECRET_ACCESS_KEY", "definitely-not-the-secret", 1);
    repo *r = open_repo();
    setenv("AWS_SECRET_ACCESS_KEY", good, 1);
    free(good);
    assert_int_equal(repo_put(r, "auth/x", "x", 1, NULL), PC_E_AUTH);
    const pc_error *e = pc_err_get();
    assert_string_equal(e->message, "S3 refused PUT of object \"auth/x\": SignatureDoesNotMatch "
                                    "(HTTP 403)");
    assert_non_null(strstr(e->hint, "secret key"));
    assert_null(strstr(e->message, "definitely-not"));
    assert_null(strstr(e->detail, "definitely-not"));
    assert_int_equal(repo_check(r), PC_E_AUTH);
    repo_free(r);
}

static void test_missing_bucket(void **state)
{
    NEED_SERVER();
    repo *r = NULL;
    assert_int_equal(open_repo_at("pgcask-no-such-bucket", endpoint, NULL, &r), PC_OK);
    assert_int_equal(repo_check(r), PC_E_NO_BUCKET);
    char want[1024];
    snprintf(want, sizeof want, "bucket \"pgcask-no-such-bucket\" does not exist at %s", endpoint);
    assert_string_equal(pc_err_get()->message, want);
    assert_non_null(strstr(pc_err_get()->hint, "Create it"));
    pc_buf b;
    assert_int_equal(repo_get_buf(r, "x", 10, &b), PC_E_NO_BUCKET);
    assert_int_equal(repo_put(r, "x", "x", 1, NULL), PC_E_NO_BUCKET);
    collected c = {.ordered = true};
    assert_int_equal(repo_list(r, "", NULL, collect, &c), PC_E_NO_BUCKET);
    repo_free(r);
}

static void test_tls(void **state)
{
    NEED_SERVER();
    if (!endpoint_tls[0] || !ca_file[0])
        skip();
    repo *r = NULL;
    assert_int_equal(open_repo_at(bucket, endpoint_tls, ca_file, &r), PC_OK);
    assert_int_equal(repo_put(r, "tls/x", "hello", 5, NULL), PC_OK);
    pc_buf b;
    assert_int_equal(repo_get_buf(r, "tls/x", 16, &b), PC_OK);
    assert_int_equal(b.len, 5);
    pc_buf_free(&b);
    const char *k[] = {"tls/x"};
    assert_int_equal(repo_delete(r, k, 1), PC_OK);
    repo_free(r);
    /* the system store does not know the self-signed certificate */
    assert_int_equal(open_repo_at(bucket, endpoint_tls, "/etc/ssl/certs/ca-certificates.crt", &r),
                     PC_OK);
    assert_int_equal(repo_check(r), PC_E_CONNECT);
    assert_non_null(strstr(pc_err_get()->message, "TLS certificate"));
    repo_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_head),     cmocka_unit_test(test_odd_keys),
        cmocka_unit_test(test_ranged_get),       cmocka_unit_test(test_16mib_throughput),
        cmocka_unit_test(test_200mib_multipart), cmocka_unit_test(test_abort_leaves_nothing),
        cmocka_unit_test(test_list_delete_many), cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_missing_bucket),   cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
