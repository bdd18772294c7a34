/*
 * The s3:// driver against a scripted fake server: what it sends (signing
 * headers, digests, ranges), retries with backoff, resumed downloads, error
 * mapping, multipart uploads with failing parts, batch deletes and their
 * fallback, listing pagination, bandwidth limiting, bad options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "fake_http.h"
#include "s3/repo.h"

#define SECRET "Fak3/Secret+Key"
#define TOKEN  "FakeSessionToken123"

/* ---- a scripted sequence of replies ---- */

typedef struct step {
    int status;
    const char *text;          /* body as text, or */
    const unsigned char *data; /* body bytes */
    size_t len;
    const char *headers; /* extra lines, each ending in \r\n */
    fake_fault fault;
    size_t cut;
    int64_t content_length; /* 0 = default */
    int stall_ms;
} step;

typedef struct script {
    step steps[32];
    size_t n, next;
    step fallback; /* once the steps are used up */
} script;

static void script_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    script *s = ud;
    const step *st = s->next < s->n ? &s->steps[s->next++] : &s->fallback;
    resp->status = st->status ? st->status : 200;
    if (st->text) {
        resp->body = st->text;
        resp->body_len = strlen(st->text);
    } else if (st->data) {
        resp->body = st->data;
        resp->body_len = st->len;
    }
    if (st->headers)
        snprintf(resp->headers, sizeof resp->headers, "%s", st->headers);
    resp->fault = st->fault;
    resp->cut = st->cut;
    resp->stall_ms = st->stall_ms;
    if (st->content_length)
        resp->content_length = st->content_length;
}

static char home[4096];
static unsigned char data1000[1000];

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    char tmpl[4096];
    if (base)
        pc_mkdirs(base, 0700);
    snprintf(tmpl, sizeof tmpl, "%s/s3faults.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(home, sizeof home, "%s", tmpl);
    setenv("HOME", home, 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_ACCESS_KEY_ID", "AKFAKE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    for (size_t i = 0; i < sizeof data1000; i++)
        data1000[i] = (unsigned char)(i * 7 + 3);
    pc_log_set_level(PC_LOG_ERROR); /* retries log at info */
    pc_err_clear();
    return 0;
}

static int teardown(void **state)
{
    pc_remove_tree(home);
    return 0;
}

static repo_opts opts_for(const char *endpoint, const char *url)
{
    repo_opts o;
    repo_opts_init(&o);
    o.url = url;
    o.endpoint_url = endpoint;
    o.max_retries = 2;
    o.connect_timeout_ms = 1000;
    o.read_timeout_ms = 1000;
    o.part_size = 5 * 1024 * 1024;
    o.parts_in_flight = 2;
    return o;
}

static repo *open_fake(fake_http *f)
{
    repo_opts o = opts_for(fake_http_url(f), "s3://bkt/pre/fix");
    repo *r = NULL;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    return r;
}

static const char *hdr(fake_http *f, size_t i, const char *name)
{
    static char buf[8192];
    const fake_req *q = fake_http_req(f, i);
    assert_non_null(q);
    return fake_req_header(q, name, buf, sizeof buf);
}

static void hex_sha256(const void *d, size_t n, char out[65])
{
    unsigned char h[PC_SHA256_LEN];
    pc_sha256(d, n, h);
    pc_hex(h, sizeof h, out);
}

static void b64_md5(const void *d, size_t n, char out[25])
{
    unsigned char h[PC_MD5_LEN];
    pc_md5(d, n, h);
    pc_base64(h, sizeof h, out);
}

#define ERR_XML(code, msg)                                                                         \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" code "</Code><Message>" msg        \
    "</Message><Key>k</Key><RequestId>1</RequestId><StringToSign>AWS4-HMAC-SHA256 x"               \
    "</StringToSign></Error>"

/* ---- what a request carries ---- */

static void test_put_request_shape(void **state)
{
    script s = {.n = 1, .steps = {{.status = 200, .headers = "ETag: \"e\"\r\n"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    repo *r = open_fake(f);
    repo_meta meta[] = {{"sha256", "abc"}};
    repo_put_opts po = {
        .meta = meta, .nmeta = 1, .tags = "k=v%201&x=y", .content_type = "application/x-tar"};
    assert_int_equal(repo_put(r, "wals/a b+c~.zst", "hello", 5, &po), PC_OK);
    const fake_req *q = fake_http_req(f, 0);
    assert_string_equal(q->method, "PUT");
    assert_string_equal(q->target, "/bkt/pre/fix/wals/a%20b%2Bc~.zst");
    assert_int_equal(q->body_len, 5);
    assert_memory_equal(q->body, "hello", 5);
    char want[65], md5[25];
    hex_sha256("hello", 5, want);
    b64_md5("hello", 5, md5);
    assert_string_equal(hdr(f, 0, "x-amz-content-sha256"), want);
    assert_string_equal(hdr(f, 0, "Content-MD5"), md5);
    assert_string_equal(hdr(f, 0, "Content-Length"), "5");
    assert_string_equal(hdr(f, 0, "Expect"), "");
    assert_string_equal(hdr(f, 0, "x-amz-security-token"), TOKEN);
    assert_string_equal(hdr(f, 0, "x-amz-meta-sha256"), "abc");
    assert_string_equal(hdr(f, 0, "x-amz-tagging"), "k=v%201&x=y");
    assert_string_equal(hdr(f, 0, "Content-Type"), "application/x-tar");
    assert_string_equal(hdr(f, 0, "Host"), strchr(fake_http_url(f), '1'));
    assert_int_equal(strlen(hdr(f, 0, "x-amz-date")), 16);
    const char *auth = hdr(f, 0, "Authorization");
    assert_true(strncmp(auth, "AWS4-HMAC-SHA256 Credential=AKFAKE/", 35) == 0);
    assert_non_null(strstr(auth, "/us-east-1/s3/aws4_request, SignedHeaders=content-md5;"
                                 "content-type;host;x-amz-content-sha256;x-amz-date;"
                                 "x-amz-meta-sha256;x-amz-security-token;x-amz-tagging, "
                                 "Signature="));
    repo_free(r);
    unsetenv("AWS_SESSION_TOKEN");

    /* SSE and default tags from the repository options; no tagging header when empty */
    repo_opts o = opts_for(fake_http_url(f), "s3://bkt");
    o.sse = "aws:kms";
    o.sse_kms_key_id = "key-1";
    o.tags = "";
    assert_int_equal(repo_open(&o, &r), PC_OK);
    s.fallback.status = 200;
    assert_int_equal(repo_put(r, "k", "", 0, NULL), PC_OK);
    assert_string_equal(fake_http_req(f, 1)->target, "/bkt/k");
    assert_string_equal(hdr(f, 1, "x-amz-server-side-encryption"), "aws:kms");
    assert_string_equal(hdr(f, 1, "x-amz-server-side-encryption-aws-kms-key-id"), "key-1");
    assert_null(strstr(fake_http_req(f, 1)->headers, "x-amz-tagging"));
    assert_string_equal(hdr(f, 1, "x-amz-content-sha256"),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(hdr(f, 1, "Content-MD5"), "1B2M2Y8AsgTpgAmY7PhCfg==");
    repo_free(r);
    fake_http_stop(f);
}

static void test_bad_metadata(void **state)
{
    script s = {.fallback = {.status = 200}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    repo_meta bad_key[] = {{"Upper", "x"}};
    repo_put_opts po = {.meta = bad_key, .nmeta = 1};
    assert_int_equal(repo_put(r, "k", "x", 1, &po), PC_E_USAGE);
    assert_string_equal(pc_err_get()->message, "invalid metadata key \"Upper\" (use [a-z0-9-])");
    repo_meta inject[] = {{"a", "x\r\nX-Evil: 1"}};
    po.meta = inject;
    assert_int_equal(repo_put(r, "k", "x", 1, &po), PC_E_USAGE);
    po = (repo_put_opts){.tags = "a=b\nc"};
    assert_int_equal(repo_put(r, "k", "x", 1, &po), PC_E_USAGE);
    assert_int_equal(fake_http_count(f), 0);
    repo_free(r);
    fake_http_stop(f);
}

/* ---- retries ---- */

static void test_503_then_200(void **state)
{
    script s = {.n = 2,
                .steps = {{.status = 503, .text = ERR_XML("SlowDown", "Reduce your request rate")},
                          {.status = 200}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    assert_int_equal(repo_put(r, "k", "abc", 3, NULL), PC_OK);
    assert_int_equal(fake_http_count(f), 2);
    assert_int_equal(fake_http_req(f, 1)->body_len, 3);
    assert_memory_equal(fake_http_req(f, 1)->body, "abc", 3);
    repo_free(r);
    fake_http_stop(f);
}

static void test_500_forever(void **state)
{
    script s = {.fallback = {.status = 500, .text = ERR_XML("InternalError", "We are sorry")}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(repo_get_buf(r, "wals/x", 100, &b), PC_E_REMOTE);
    int64_t ms = pc_now_mono_ms() - t0;
    assert_int_equal(fake_http_count(f), 3); /* the first attempt + max_retries 2 */
    assert_true(ms < 2000);                  /* backoff at most 200 + 400 ms */
    assert_string_equal(pc_err_get()->message,
                        "S3 GET of object \"wals/x\" failed: InternalError (HTTP 500)");
    assert_string_equal(pc_err_get()->detail, "S3 says: We are sorry");
    repo_free(r);
    fake_http_stop(f);
}

static void test_400_request_timeout_retried(void **state)
{
    script s = {
        .n = 2,
        .steps = {{.status = 400, .text = ERR_XML("RequestTimeout", "idle")}, {.status = 200}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    assert_int_equal(repo_put(r, "k", "abc", 3, NULL), PC_OK);
    assert_int_equal(fake_http_count(f), 2);
    repo_free(r);
    fake_http_stop(f);
}

static void test_403_not_retried(void **state)
{
    script s = {.fallback = {.status = 403,
                             .text = ERR_XML("SignatureDoesNotMatch",
                                             "The request signature we calculated does not "
                                             "match")}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    assert_int_equal(repo_put(r, "wals/seg", "abc", 3, NULL), PC_E_AUTH);
    assert_int_equal(fake_http_count(f), 1);
    const pc_error *e = pc_err_get();
    assert_string_equal(e->message,
                        "S3 refused PUT of object \"wals/seg\": SignatureDoesNotMatch (HTTP 403)");
    assert_string_equal(e->hint, "Check the secret key (AWS_SECRET_ACCESS_KEY or the profile's "
                                 "aws_secret_access_key) and --region.");
    assert_null(strstr(e->message, SECRET));
    assert_null(strstr(e->detail, SECRET));
    repo_free(r);
    fake_http_stop(f);
}

typedef struct map_case {
    int status;
    const char *body;
    pc_status want;
    const char *message;
    const char *hint_has;
} map_case;

static void test_error_mapping(void **state)
{
    const map_case cases[] = {
        {403, ERR_XML("InvalidAccessKeyId", "x"), PC_E_AUTH,
         "S3 refused GET of object \"k\": InvalidAccessKeyId (HTTP 403)", "access key id"},
        {403, ERR_XML("AccessDenied", "x"), PC_E_AUTH,
         "S3 refused GET of object \"k\": AccessDenied (HTTP 403)", "bucket policy"},
        {400, ERR_XML("ExpiredToken", "x"), PC_E_AUTH,
         "S3 refused GET of object \"k\": ExpiredToken (HTTP 400)", "Refresh the credentials"},
        {403, ERR_XML("RequestTimeTooSkewed", "x"), PC_E_AUTH,
         "S3 refused GET of object \"k\": RequestTimeTooSkewed (HTTP 403)", "clock"},
        {404, ERR_XML("NoSuchBucket", "x"), PC_E_NO_BUCKET, NULL, "Create it"},
        {404, ERR_XML("NoSuchKey", "x"), PC_E_NOT_FOUND, "object \"k\" not found (NoSuchKey)", ""},
        {400, ERR_XML("BadDigest", "x"), PC_E_CORRUPT,
         "S3 rejected GET of object \"k\": BadDigest (the data changed in transit)", ""},
        {400, ERR_XML("InvalidDigest", "x"), PC_E_CORRUPT, NULL, ""},
        {301, ERR_XML("PermanentRedirect", "x"), PC_E_USAGE, NULL, "--region"},
        {400, ERR_XML("InvalidArgument", "x"), PC_E_REMOTE,
         "S3 GET of object \"k\" failed: InvalidArgument (HTTP 400)", ""},
        {501, ERR_XML("NotImplemented", "x"), PC_E_REMOTE, NULL, ""},
        {418, "not xml at all", PC_E_REMOTE, "S3 GET of object \"k\" failed: HTTP 418", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        script s = {.fallback = {.status = cases[i].status, .text = cases[i].body}};
        fake_http *f = fake_http_start(script_handler, &s);
        repo *r = open_fake(f);
        pc_buf b;
        print_message("case %zu\n", i);
        assert_int_equal(repo_get_buf(r, "k", 10, &b), cases[i].want);
        assert_int_equal(fake_http_count(f), 1);
        if (cases[i].message)
            assert_string_equal(pc_err_get()->message, cases[i].message);
        assert_non_null(strstr(pc_err_get()->hint, cases[i].hint_has));
        repo_free(r);
        fake_http_stop(f);
    }
}

static void test_head_and_check(void **state)
{
    script s = {.n = 5,
                .steps = {{.status = 404},
                          {.status = 200,
                           .headers = "ETag: \"abc\"\r\nLast-Modified: Wed, 12 Oct 2009 17:50:00 "
                                      "GMT\r\nx-amz-meta-sha256: ff00\r\nX-Amz-Meta-Kind: wal\r\n",
                           .content_length = 1234},
                          {.status = 404},
                          {.status = 403},
                          {.status = 200}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    repo_obj o;
    assert_int_equal(repo_head(r, "k", &o), PC_E_NOT_FOUND);
    assert_string_equal(pc_err_get()->message, "object \"k\" not found (HTTP 404)");
    assert_int_equal(repo_head(r, "k", &o), PC_OK);
    assert_int_equal(o.size, 1234);
    assert_string_equal(o.etag, "abc");
    assert_int_equal(o.mtime_us, 1255369800LL * 1000000);
    assert_int_equal(o.nmeta, 2);
    assert_string_equal(repo_obj_meta(&o, "sha256"), "ff00");
    assert_string_equal(repo_obj_meta(&o, "kind"), "wal");
    assert_int_equal(repo_check(r), PC_E_NO_BUCKET);
    char want[256];
    snprintf(want, sizeof want, "bucket \"bkt\" does not exist at %s", fake_http_url(f));
    assert_string_equal(pc_err_get()->message, want);
    assert_int_equal(repo_check(r), PC_E_AUTH);
    assert_int_equal(repo_check(r), PC_OK);
    assert_string_equal(fake_http_req(f, 4)->method, "HEAD");
    assert_string_equal(fake_http_req(f, 4)->target, "/bkt");
    repo_free(r);
    fake_http_stop(f);
}

static void test_connection_refused(void **state)
{
    repo_opts o = opts_for("http://127.0.0.1:9", "s3://bkt");
    repo *r;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(repo_check(r), PC_E_CONNECT);
    assert_true(pc_now_mono_ms() - t0 < 2500);
    const pc_error *e = pc_err_get();
    assert_non_null(strstr(e->message, "could not connect to the S3 endpoint http://127.0.0.1:9 "
                                       "(HEAD of bucket \"bkt\")"));
    assert_string_equal(e->hint, "Check --endpoint-url and that the store is reachable from this "
                                 "host.");
    repo_free(r);
}

/* ---- resumed downloads ---- */

static pc_status get_all(repo *r, const char *key, uint64_t off, uint64_t len, pc_buf *b,
                         repo_obj *info)
{
    pc_sink *s;
    pc_buf_init(b, PC_BUF_NOCAP);
    assert_int_equal(pc_sink_mem_new(b, &s), PC_OK);
    pc_status st = repo_get(r, key, off, len, s, info);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    pc_sink_free(s);
    return st;
}

static void test_reset_mid_body(void **state)
{
    script s = {.n = 2,
                .steps = {{.status = 200,
                           .data = data1000,
                           .len = 1000,
                           .headers = "ETag: \"v1\"\r\n",
                           .fault = FAKE_RESET_BODY,
                           .cut = 300},
                          {.status = 206,
                           .data = data1000 + 300,
                           .len = 700,
                           .headers = "ETag: \"v1\"\r\nContent-Range: bytes 300-999/1000\r\n"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    repo_obj info;
    assert_int_equal(get_all(r, "wals/seg", 0, 0, &b, &info), PC_OK);
    assert_int_equal(b.len, 1000);
    assert_memory_equal(b.data, data1000, 1000);
    assert_int_equal(info.size, 1000);
    assert_string_equal(info.etag, "v1");
    assert_int_equal(fake_http_count(f), 2);
    assert_string_equal(hdr(f, 0, "Range"), "");
    assert_string_equal(hdr(f, 1, "Range"), "bytes=300-");
    assert_string_equal(hdr(f, 1, "If-Match"), "\"v1\"");
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_short_body_ranged(void **state)
{
    /* a ranged get [100, 900) whose first reply stops early */
    script s = {.n = 2,
                .steps = {{.status = 206,
                           .data = data1000 + 100,
                           .len = 800,
                           .headers = "ETag: \"v1\"\r\nContent-Range: bytes 100-899/1000\r\n",
                           .fault = FAKE_SHORT_BODY,
                           .cut = 250},
                          {.status = 206,
                           .data = data1000 + 350,
                           .len = 550,
                           .headers = "ETag: \"v1\"\r\nContent-Range: bytes 350-899/1000\r\n"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    repo_obj info;
    assert_int_equal(get_all(r, "k", 100, 800, &b, &info), PC_OK);
    assert_int_equal(b.len, 800);
    assert_memory_equal(b.data, data1000 + 100, 800);
    assert_int_equal(info.size, 1000);
    assert_string_equal(hdr(f, 0, "Range"), "bytes=100-899");
    assert_string_equal(hdr(f, 1, "Range"), "bytes=350-899");
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_resume_ignored_range(void **state)
{
    /* the store answers the resumed request with the whole object: the start is skipped */
    script s = {
        .n = 2,
        .steps = {{.status = 200,
                   .data = data1000,
                   .len = 1000,
                   .headers = "ETag: \"v1\"\r\n",
                   .fault = FAKE_RESET_BODY,
                   .cut = 400},
                  {.status = 200, .data = data1000, .len = 1000, .headers = "ETag: \"v1\"\r\n"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    assert_int_equal(get_all(r, "k", 0, 0, &b, NULL), PC_OK);
    assert_int_equal(b.len, 1000);
    assert_memory_equal(b.data, data1000, 1000);
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_resume_object_changed(void **state)
{
    script s = {.n = 3,
                .steps = {{.status = 200,
                           .data = data1000,
                           .len = 1000,
                           .headers = "ETag: \"v1\"\r\n",
                           .fault = FAKE_RESET_BODY,
                           .cut = 300},
                          {.status = 412, .text = ERR_XML("PreconditionFailed", "x")},
                          /* a store ignoring If-Match: the ETag tells */
                          {.status = 200}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    assert_int_equal(get_all(r, "k", 0, 0, &b, NULL), PC_E_CONFLICT);
    assert_string_equal(pc_err_get()->message, "object \"k\" changed during download");
    assert_int_equal(b.len, 300);
    pc_buf_free(&b);

    s = (script){.n = 2,
                 .steps = {{.status = 200,
                            .data = data1000,
                            .len = 1000,
                            .headers = "ETag: \"v1\"\r\n",
                            .fault = FAKE_RESET_BODY,
                            .cut = 300},
                           {.status = 206,
                            .data = data1000 + 300,
                            .len = 700,
                            .headers = "ETag: \"v2\"\r\nContent-Range: bytes 300-999/1000\r\n"}}};
    assert_int_equal(get_all(r, "k", 0, 0, &b, NULL), PC_E_CONFLICT);
    assert_int_equal(b.len, 300); /* nothing of the other version reached the sink */
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_stall_then_ok(void **state)
{
    /* no byte for longer than read_timeout (1 s): retried from the byte reached */
    script s = {.n = 2,
                .steps = {{.status = 200,
                           .data = data1000,
                           .len = 1000,
                           .headers = "ETag: \"v1\"\r\n",
                           .fault = FAKE_STALL,
                           .cut = 100,
                           .stall_ms = 10000},
                          {.status = 206,
                           .data = data1000 + 100,
                           .len = 900,
                           .headers = "ETag: \"v1\"\r\nContent-Range: bytes 100-999/1000\r\n"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(get_all(r, "k", 0, 0, &b, NULL), PC_OK);
    int64_t ms = pc_now_mono_ms() - t0;
    print_message("stalled get: %lld ms\n", (long long)ms);
    assert_true(ms >= 900 && ms < 5000); /* idle progress is checked about once a second */
    assert_int_equal(b.len, 1000);
    assert_memory_equal(b.data, data1000, 1000);
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_sink_failure_not_retried(void **state)
{
    script s = {.fallback = {.status = 200, .data = data1000, .len = 1000}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_sink *null, *lim;
    assert_int_equal(pc_sink_null_new(&null), PC_OK);
    assert_int_equal(pc_sink_limit_new(100, null, &lim), PC_OK);
    assert_int_equal(repo_get(r, "k", 0, 0, lim, NULL), PC_E_CORRUPT);
    assert_string_equal(pc_err_get()->message, "data exceeds the limit of 100 bytes");
    assert_int_equal(fake_http_count(f), 1);
    pc_sink_free(lim);
    repo_free(r);
    fake_http_stop(f);
}

/* ---- multipart ---- */

typedef struct mp_state {
    int part_delay_ms;   /* each UploadPart reply waits this long */
    bool complete_lost;  /* the first Complete works but its reply is lost */
    int fail_part;       /* this part number fails */
    int fail_status;     /* with this status (500 is retried) */
    int complete_errors; /* Complete answers 200 + <Error> this many times */
    int parts_seen;
    unsigned char *parts[8];
    size_t part_len[8];
    int aborts, completes, creates, single_puts, heads;
    bool completed;
    unsigned char md5s[8][PC_MD5_LEN];
    char complete_body[4096];
} mp_state;

static void mp_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    mp_state *m = ud;
    static const char init[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key>"
                               "<UploadId>UP-1</UploadId></InitiateMultipartUploadResult>";
    static const char done[] = "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag>"
                               "</CompleteMultipartUploadResult>";
    static const char err[] = ERR_XML("InternalError", "try again");
    int part = 0;
    const char *pn = strstr(req->target, "partNumber=");
    if (pn)
        part = atoi(pn + 11);
    resp->status = 200;
    if (strcmp(req->method, "POST") == 0 && strstr(req->target, "?uploads=")) {
        m->creates++;
        resp->body = init;
        resp->body_len = strlen(init);
    } else if (strcmp(req->method, "PUT") == 0 && part) {
        m->parts_seen++;
        if (part == m->fail_part) {
            resp->status = m->fail_status;
            resp->body = ERR_XML("AccessDenied", "no");
            resp->body_len = strlen(resp->body);
            return;
        }
        if (part < 8) {
            free(m->parts[part]);
            m->parts[part] = malloc(req->body_len);
            memcpy(m->parts[part], req->body, req->body_len);
            m->part_len[part] = req->body_len;
        }
        char hex[2 * PC_MD5_LEN + 1];
        pc_md5(req->body, req->body_len, m->md5s[part < 8 ? part : 0]);
        pc_hex(m->md5s[part < 8 ? part : 0], PC_MD5_LEN, hex);
        fake_resp_header(resp, "ETag: \"%s\"", hex);
        resp->delay_ms = m->part_delay_ms;
    } else if (strcmp(req->method, "HEAD") == 0 && m->completed) {
        /* the S3 ETag of a multipart object: md5 of the parts' md5s, "-N" */
        unsigned char all[3 * PC_MD5_LEN], d[PC_MD5_LEN];
        char hex[2 * PC_MD5_LEN + 1];
        m->heads++;
        for (int i = 0; i < 3; i++)
            memcpy(all + i * PC_MD5_LEN, m->md5s[i + 1], PC_MD5_LEN);
        pc_md5(all, sizeof all, d);
        pc_hex(d, sizeof d, hex);
        fake_resp_header(resp, "ETag: \"%s-3\"", hex);
    } else if (strcmp(req->method, "PUT") == 0 && !strchr(req->target, '?')) {
        m->single_puts++;
        fake_resp_header(resp, "ETag: \"single\"");
    } else if (strcmp(req->method, "POST") == 0 && strstr(req->target, "uploadId=UP-1")) {
        m->completes++;
        snprintf(m->complete_body, sizeof m->complete_body, "%s", (const char *)req->body);
        if (m->completed) {
            resp->status = 404;
            resp->body = ERR_XML("NoSuchUpload", "The specified upload does not exist");
            resp->body_len = strlen(resp->body);
        } else if (m->complete_lost) {
            m->completed = true;
            resp->fault = FAKE_CLOSE;
        } else if (m->complete_errors-- > 0) {
            resp->body = err; /* 200 with an error document */
            resp->body_len = strlen(err);
        } else {
            resp->body = done;
            resp->body_len = strlen(done);
        }
    } else if (strcmp(req->method, "DELETE") == 0 && strstr(req->target, "uploadId=UP-1")) {
        m->aborts++;
        resp->status = 204;
    } else {
        resp->status = 400;
    }
}

static void mp_free(mp_state *m)
{
    for (int i = 0; i < 8; i++)
        free(m->parts[i]);
}

static unsigned char *big_data(size_t n)
{
    unsigned char *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)((i * 2654435761u) >> 13);
    return d;
}

static pc_status stream_put(repo *r, const char *key, const unsigned char *d, size_t n,
                            size_t chunk)
{
    pc_sink *s;
    assert_int_equal(repo_put_stream(r, key, NULL, &s), PC_OK);
    pc_status st = PC_OK;
    for (size_t off = 0; off < n && st == PC_OK; off += chunk)
        st = pc_sink_write(s, d + off, n - off < chunk ? n - off : chunk);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    pc_sink_free(s);
    return st;
}

static void test_multipart_ok(void **state)
{
    mp_state m = {.complete_errors = 1};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 12 * 1024 * 1024 + 5; /* 5 MiB parts: 3 parts */
    unsigned char *d = big_data(n);
    assert_int_equal(stream_put(r, "base/data.tar", d, n, 777777), PC_OK);
    assert_int_equal(m.creates, 1);
    assert_int_equal(m.parts_seen, 3);
    assert_int_equal(m.completes, 2); /* the 200-with-error reply was retried */
    assert_int_equal(m.aborts, 0);
    size_t off = 0;
    for (int p = 1; p <= 3; p++) {
        assert_memory_equal(m.parts[p], d + off, m.part_len[p]);
        off += m.part_len[p];
    }
    assert_int_equal(off, n);
    assert_int_equal(m.part_len[1], 5 * 1024 * 1024);
    /* parts listed in order with the ETags the store gave */
    char md5[PC_MD5_LEN], hex[3][2 * PC_MD5_LEN + 1];
    off = 0;
    for (int p = 0; p < 3; p++) {
        pc_md5(d + off, m.part_len[p + 1], (unsigned char *)md5);
        pc_hex((unsigned char *)md5, PC_MD5_LEN, hex[p]);
        off += m.part_len[p + 1];
    }
    char want[1024];
    snprintf(want, sizeof want,
             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;%s&quot;"
             "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;%s&quot;</ETag></Part>"
             "<Part><PartNumber>3</PartNumber><ETag>&quot;%s&quot;</ETag></Part>"
             "</CompleteMultipartUpload>",
             hex[0], hex[1], hex[2]);
    assert_string_equal(m.complete_body, want);
    /* every part carried its Content-MD5 */
    for (size_t i = 0; i < fake_http_count(f); i++)
        if (strstr(fake_http_req(f, i)->target, "partNumber="))
            assert_int_equal(strlen(hdr(f, i, "Content-MD5")), 24);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_parts_in_flight(void **state)
{
    /* 7 parts of 5 MiB, 2 in flight, 3 buffers, every part takes 300 ms at the store */
    mp_state m = {.part_delay_ms = 300};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 30 * 1024 * 1024 + 1;
    unsigned char *d = big_data(n);
    pc_sink *s;
    assert_int_equal(repo_put_stream(r, "k", NULL, &s), PC_OK);
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(pc_sink_write(s, d, n), PC_OK);
    int64_t t1 = pc_now_mono_ms();
    assert_int_equal(pc_sink_finish(s), PC_OK);
    int64_t t2 = pc_now_mono_ms();
    pc_sink_free(s);
    print_message("writes %lld ms, finish %lld ms\n", (long long)(t1 - t0), (long long)(t2 - t1));
    /* the writer waited for free buffers (back-pressure): parts 1 and 3 had to finish */
    assert_true(t1 - t0 >= 550);
    /* parts went two at a time: 4 rounds of 300 ms at least */
    assert_true(t2 - t0 >= 1150);
    assert_int_equal(fake_http_max_active(f), 2);
    assert_int_equal(m.parts_seen, 7);
    assert_int_equal(m.completes, 1);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_complete_reply_lost(void **state)
{
    /* the retried Complete finds no upload; the object's ETag proves the first one worked */
    mp_state m = {.complete_lost = true};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 12 * 1024 * 1024;
    unsigned char *d = big_data(n);
    assert_int_equal(stream_put(r, "k", d, n, 1 << 20), PC_OK);
    assert_int_equal(m.completes, 2);
    assert_int_equal(m.heads, 1);
    assert_int_equal(m.aborts, 0);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_exact_part_is_single_put(void **state)
{
    mp_state m = {0};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 5 * 1024 * 1024; /* exactly one part: one PUT, no multipart */
    unsigned char *d = big_data(n);
    assert_int_equal(stream_put(r, "k", d, n, 1 << 20), PC_OK);
    assert_int_equal(m.creates, 0);
    assert_int_equal(m.single_puts, 1);
    assert_int_equal(fake_http_count(f), 1);
    assert_string_equal(fake_http_req(f, 0)->method, "PUT");
    assert_int_equal(fake_http_req(f, 0)->body_len, n);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_failing_part_aborts(void **state)
{
    mp_state m = {.fail_part = 2, .fail_status = 403};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 16 * 1024 * 1024;
    unsigned char *d = big_data(n);
    pc_status st = stream_put(r, "base/t.tar", d, n, 1 << 20);
    assert_int_equal(st, PC_E_AUTH);
    assert_string_equal(
        pc_err_get()->message,
        "S3 refused PUT of part 2 of object \"base/t.tar\": AccessDenied (HTTP 403)");
    assert_int_equal(m.completes, 0);
    assert_int_equal(m.aborts, 1);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_failing_part_retried_then_aborts(void **state)
{
    mp_state m = {.fail_part = 1, .fail_status = 500};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 11 * 1024 * 1024;
    unsigned char *d = big_data(n);
    assert_int_equal(stream_put(r, "k", d, n, 3 << 20), PC_E_REMOTE);
    assert_int_equal(m.completes, 0);
    assert_int_equal(m.aborts, 1);
    assert_true(m.parts_seen >= 3 + 2); /* part 1 three times, the others at most once */
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

static void test_abort_sends_abort(void **state)
{
    mp_state m = {0};
    fake_http *f = fake_http_start(mp_handler, &m);
    repo *r = open_fake(f);
    size_t n = 11 * 1024 * 1024;
    unsigned char *d = big_data(n);
    pc_sink *s;
    assert_int_equal(repo_put_stream(r, "k", NULL, &s), PC_OK);
    assert_int_equal(pc_sink_write(s, d, n), PC_OK);
    pc_sink_abort(s);
    pc_sink_free(s);
    assert_int_equal(m.creates, 1);
    assert_int_equal(m.aborts, 1);
    assert_int_equal(m.completes, 0);
    free(d);
    mp_free(&m);
    repo_free(r);
    fake_http_stop(f);
}

/* ---- delete ---- */

static void test_delete_batch(void **state)
{
    script s = {.n = 1,
                .steps = {{.status = 200,
                           .text = "<DeleteResult><Error><Key>pre/fix/b</Key><Code>NoSuchKey"
                                   "</Code><Message>gone</Message></Error><Error><Key>pre/fix/"
                                   "c&amp;d</Key><Code>AccessDenied</Code><Message>Access Denied"
                                   "</Message></Error></DeleteResult>"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    const char *keys[] = {"a", "b", "c&d"};
    assert_int_equal(repo_delete(r, keys, 3), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message, "could not delete object \"c&d\": AccessDenied");
    const fake_req *q = fake_http_req(f, 0);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->target, "/bkt?delete=");
    assert_string_equal((const char *)q->body,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>"
                        "<Object><Key>pre/fix/a</Key></Object><Object><Key>pre/fix/b</Key>"
                        "</Object><Object><Key>pre/fix/c&amp;d</Key></Object></Delete>");
    char md5[25];
    b64_md5(q->body, q->body_len, md5);
    assert_string_equal(hdr(f, 0, "Content-MD5"), md5);
    assert_string_equal(hdr(f, 0, "Content-Type"), "application/xml");
    repo_free(r);
    fake_http_stop(f);
}

static void test_delete_many_batches(void **state)
{
    script s = {.fallback = {.status = 200, .text = "<DeleteResult></DeleteResult>"}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    enum { N = 2500 };
    char **keys = malloc(N * sizeof *keys);
    for (int i = 0; i < N; i++) {
        keys[i] = malloc(16);
        snprintf(keys[i], 16, "k%d", i);
    }
    assert_int_equal(repo_delete(r, (const char *const *)keys, N), PC_OK);
    assert_int_equal(fake_http_count(f), 3); /* 1000 + 1000 + 500 */
    assert_non_null(strstr((const char *)fake_http_req(f, 2)->body, "<Key>pre/fix/k2000</Key>"));
    assert_null(strstr((const char *)fake_http_req(f, 2)->body, "<Key>pre/fix/k1999</Key>"));
    for (int i = 0; i < N; i++)
        free(keys[i]);
    free(keys);
    repo_free(r);
    fake_http_stop(f);
}

static void test_delete_fallback(void **state)
{
    script s = {.n = 4,
                .steps = {{.status = 501, .text = ERR_XML("NotImplemented", "no batch")},
                          {.status = 204},
                          {.status = 404, .text = ERR_XML("NoSuchKey", "gone")},
                          {.status = 204}},
                .fallback = {.status = 204}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    const char *keys[] = {"a", "b", "c d"};
    assert_int_equal(repo_delete(r, keys, 3), PC_OK);
    assert_int_equal(fake_http_count(f), 4);
    assert_string_equal(fake_http_req(f, 1)->method, "DELETE");
    assert_string_equal(fake_http_req(f, 3)->target, "/bkt/pre/fix/c%20d");
    /* the handle remembers: no batch attempt any more */
    assert_int_equal(repo_delete(r, keys, 1), PC_OK);
    assert_int_equal(fake_http_count(f), 5);
    assert_string_equal(fake_http_req(f, 4)->method, "DELETE");
    repo_free(r);
    fake_http_stop(f);
}

/* ---- list ---- */

static pc_status collect(const repo_entry *e, void *ud)
{
    pc_buf *b = ud;
    return pc_buf_printf(b, "%s%s|%llu|%lld|%s\n", e->key, e->is_prefix ? "(p)" : "",
                         (unsigned long long)e->size, (long long)e->mtime_us, e->etag);
}

static void test_list_pages(void **state)
{
    script s = {
        .n = 2,
        .steps = {{.status = 200,
                   .text = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws."
                           "com/doc/2006-03-01/\"><Name>bkt</Name><Prefix>pre/fix/w/</Prefix>"
                           "<KeyCount>3</KeyCount><IsTruncated>true</IsTruncated>"
                           "<NextContinuationToken>tok/1+=</NextContinuationToken>"
                           "<Contents><Key>pre/fix/w/a</Key><LastModified>2024-01-02T03:04:05."
                           "500Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>10</Size>"
                           "</Contents><Contents><Key>pre/fix/w/c</Key><LastModified>2024-01-02"
                           "T03:04:05.000Z</LastModified><ETag>\"e2\"</ETag><Size>20</Size>"
                           "</Contents><CommonPrefixes><Prefix>pre/fix/w/b/</Prefix>"
                           "</CommonPrefixes></ListBucketResult>"},
                  {.status = 200,
                   .text = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>"
                           "pre/fix/w/d</Key><Size>0</Size><LastModified>2024-01-02T03:04:05Z"
                           "</LastModified></Contents></ListBucketResult>"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(repo_list(r, "w/", "/", collect, &b), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "w/a|10|1704164645500000|e1\n"
                                         "w/b/(p)|0|0|\n"
                                         "w/c|20|1704164645000000|e2\n"
                                         "w/d|0|1704164645000000|\n");
    assert_string_equal(fake_http_req(f, 0)->target,
                        "/bkt?delimiter=%2F&list-type=2&max-keys=1000&prefix=pre%2Ffix%2Fw%2F");
    assert_string_equal(fake_http_req(f, 1)->target,
                        "/bkt?continuation-token=tok%2F1%2B%3D&delimiter=%2F&list-type=2&"
                        "max-keys=1000&prefix=pre%2Ffix%2Fw%2F");
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

static void test_list_bad_replies(void **state)
{
    script s = {
        .n = 3,
        .steps = {{.status = 200, .text = "<ListBucketResult><Contents><Key>x"},
                  {.status = 200,
                   .text = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                           "</ListBucketResult>"},
                  {.status = 200, .text = "<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>"}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(repo_list(r, "", NULL, collect, &b), PC_E_REMOTE);
    assert_non_null(strstr(pc_err_get()->message, "malformed XML in ListObjectsV2 reply"));
    assert_int_equal(repo_list(r, "", NULL, collect, &b), PC_E_REMOTE);
    assert_string_equal(pc_err_get()->message, "S3 listing of \"\" is truncated without a usable "
                                               "continuation token");
    assert_int_equal(repo_list(r, "", NULL, collect, &b), PC_E_REMOTE);
    assert_string_equal(pc_err_get()->message,
                        "malformed XML in ListObjectsV2 reply: unexpected DOCTYPE");
    assert_int_equal(b.len, 0);
    pc_buf_free(&b);
    repo_free(r);
    fake_http_stop(f);
}

/* ---- bucket creation and uploads ---- */

static void test_create_bucket(void **state)
{
    script s = {.n = 3,
                .steps = {{.status = 409, .text = ERR_XML("BucketAlreadyOwnedByYou", "yours")},
                          {.status = 409, .text = ERR_XML("BucketAlreadyExists", "taken")},
                          {.status = 200}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo_opts o = opts_for(fake_http_url(f), "s3://bkt");
    o.region = "eu-central-1";
    repo *r;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    assert_int_equal(repo_create_bucket(r), PC_OK);
    assert_int_equal(repo_create_bucket(r), PC_E_CONFLICT);
    assert_int_equal(repo_create_bucket(r), PC_OK);
    const fake_req *q = fake_http_req(f, 0);
    assert_string_equal(q->method, "PUT");
    assert_string_equal(q->target, "/bkt");
    assert_non_null(
        strstr((const char *)q->body, "<LocationConstraint>eu-central-1</LocationConstraint>"));
    assert_non_null(strstr(hdr(f, 0, "Authorization"), "/eu-central-1/s3/aws4_request"));
    assert_int_equal(strlen(hdr(f, 0, "Content-MD5")), 24);
    repo_free(r);
    fake_http_stop(f);
}

static void test_uploads(void **state)
{
    script s = {.n = 4,
                .steps = {{.status = 200,
                           .text = "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
                                   "<NextKeyMarker>pre/fix/a</NextKeyMarker><NextUploadIdMarker>u1"
                                   "</NextUploadIdMarker><Upload><Key>pre/fix/a</Key><UploadId>u1"
                                   "</UploadId></Upload></ListMultipartUploadsResult>"},
                          {.status = 204},
                          {.status = 200,
                           .text = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                                   "<Upload><Key>pre/fix/b c</Key><UploadId>u2</UploadId></Upload>"
                                   "</ListMultipartUploadsResult>"},
                          {.status = 404, .text = ERR_XML("NoSuchUpload", "gone")}}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo *r = open_fake(f);
    size_t n = 0;
    assert_int_equal(repo_abort_uploads(r, "", &n), PC_OK);
    assert_int_equal(n, 2);
    assert_string_equal(fake_http_req(f, 0)->target, "/bkt?prefix=pre%2Ffix%2F&uploads=");
    assert_string_equal(fake_http_req(f, 1)->method, "DELETE");
    assert_string_equal(fake_http_req(f, 1)->target, "/bkt/pre/fix/a?uploadId=u1");
    assert_string_equal(fake_http_req(f, 2)->target,
                        "/bkt?key-marker=pre%2Ffix%2Fa&prefix=pre%2Ffix%2F&upload-id-marker=u1&"
                        "uploads=");
    assert_string_equal(fake_http_req(f, 3)->target, "/bkt/pre/fix/b%20c?uploadId=u2");
    repo_free(r);
    fake_http_stop(f);
}

/* ---- bandwidth ---- */

typedef struct bw_put {
    repo *r;
    const unsigned char *d;
    size_t n;
    pc_status st;
} bw_put;

static void *bw_main(void *arg)
{
    bw_put *p = arg;
    p->st = repo_put(p->r, "k", p->d, p->n, NULL);
    return NULL;
}

static void test_bandwidth(void **state)
{
    script s = {.fallback = {.status = 200}};
    fake_http *f = fake_http_start(script_handler, &s);
    repo_opts o = opts_for(fake_http_url(f), "s3://bkt");
    o.max_bandwidth = 1024 * 1024;
    o.read_timeout_ms = 5000;
    repo *r;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    size_t n = 512 * 1024;
    unsigned char *d = big_data(n);
    /* two uploads at once share the 1 MiB/s: 1 MiB takes about a second */
    pthread_t t[2];
    bw_put p[2] = {{r, d, n, PC_OK}, {r, d, n, PC_OK}};
    int64_t t0 = pc_now_mono_ms();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bw_main, &p[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].st, PC_OK);
    }
    int64_t ms = pc_now_mono_ms() - t0;
    print_message("2 x 512 KiB at 1 MiB/s: %lld ms\n", (long long)ms);
    assert_true(ms >= 800 && ms < 3000);
    free(d);
    repo_free(r);
    fake_http_stop(f);
}

/* ---- logging ---- */

static void test_debug_log_has_no_secrets(void **state)
{
    script s = {.fallback = {.status = 403, .text = ERR_XML("AccessDenied", "x")}};
    fake_http *f = fake_http_start(script_handler, &s);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    char path[8300];
    snprintf(path, sizeof path, "%s/log", home);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    pc_log_set_level(PC_LOG_DEBUG);
    repo *r = open_fake(f);
    assert_int_equal(repo_put(r, "wals/x", "abc", 3, NULL), PC_E_AUTH);
    repo_free(r);
    pc_log_set_level(PC_LOG_ERROR);
    dup2(saved, 2);
    close(saved);
    close(fd);
    unsetenv("AWS_SESSION_TOKEN");
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(pc_read_file(path, 1 << 20, &b), PC_OK);
    const char *log = pc_buf_cstr(&b);
    assert_non_null(strstr(log, "credentials from environment"));
    assert_non_null(strstr(log, "s3 request"));
    assert_non_null(strstr(log, "PUT"));
    assert_non_null(strstr(log, "403"));
    assert_null(strstr(log, SECRET));
    assert_null(strstr(log, TOKEN));
    assert_null(strstr(log, "Signature="));
    pc_buf_free(&b);
    fake_http_stop(f);
}

/* ---- options ---- */

static void test_bad_options(void **state)
{
    struct {
        const char *url, *endpoint, *addressing;
        uint64_t part_size;
        const char *message;
    } cases[] = {
        {"s3://", NULL, "auto", 0, "invalid bucket name \"\" in the repository URL"},
        {"s3:///x", NULL, "auto", 0, "invalid bucket name \"\" in the repository URL"},
        {"s3://bad!bucket/x", NULL, "auto", 0,
         "invalid bucket name \"bad!bucket\" in the repository URL"},
        {"s3://bkt/a/../b", NULL, "auto", 0, "invalid prefix \"a/../b\" in the repository URL"},
        {"s3://bkt/a//b", NULL, "auto", 0, "invalid prefix \"a//b\" in the repository URL"},
        {"s3://bkt", "ftp://host", "auto", 0, "invalid endpoint URL \"ftp://host\""},
        {"s3://bkt", "http://user:pw@host", "auto", 0,
         "the endpoint URL must not contain a user name or password"},
        {"s3://bkt", "not a url", "auto", 0, "invalid endpoint URL \"not a url\""},
        {"s3://bkt", NULL, "sideways", 0, "invalid S3 addressing \"sideways\""},
        {"s3://my_bucket", NULL, "virtual", 0,
         "bucket \"my_bucket\" cannot be addressed as a virtual host"},
        {"s3://bkt", NULL, "auto", 1024 * 1024, "part-size must be between 5MiB and 5GiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        repo_opts o;
        repo_opts_init(&o);
        o.url = cases[i].url;
        o.endpoint_url = cases[i].endpoint;
        o.addressing = cases[i].addressing;
        if (cases[i].part_size)
            o.part_size = cases[i].part_size;
        repo *r = NULL;
        print_message("case %zu\n", i);
        assert_int_equal(repo_open(&o, &r), PC_E_USAGE);
        assert_null(r);
        assert_string_equal(pc_err_get()->message, cases[i].message);
    }
    /* fine ones: a prefix with slashes around it, https with a port */
    repo_opts o;
    repo_opts_init(&o);
    o.url = "s3://bkt//a/b//";
    o.endpoint_url = "https://s3.example.com:8443/";
    repo *r = NULL;
    assert_int_equal(repo_open(&o, &r), PC_OK);
    repo_free(r);
    o.url = "s3://bkt";
    o.endpoint_url = NULL;
    o.region = "eu-west-3";
    assert_int_equal(repo_open(&o, &r), PC_OK);
    repo_free(r);
    /* no credentials at all */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(repo_open(&o, &r), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message, "no S3 credentials found");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_put_request_shape),
        T(test_bad_metadata),
        T(test_503_then_200),
        T(test_500_forever),
        T(test_400_request_timeout_retried),
        T(test_403_not_retried),
        T(test_error_mapping),
        T(test_head_and_check),
        T(test_connection_refused),
        T(test_reset_mid_body),
        T(test_short_body_ranged),
        T(test_resume_ignored_range),
        T(test_resume_object_changed),
        T(test_stall_then_ok),
        T(test_sink_failure_not_retried),
        T(test_multipart_ok),
        T(test_parts_in_flight),
        T(test_complete_reply_lost),
        T(test_exact_part_is_single_put),
        T(test_failing_part_aborts),
        T(test_failing_part_retried_then_aborts),
        T(test_abort_sends_abort),
        T(test_delete_batch),
        T(test_delete_many_batches),
        T(test_delete_fallback),
        T(test_list_pages),
        T(test_list_bad_replies),
        T(test_create_bucket),
        T(test_uploads),
        T(test_bandwidth),
        T(test_debug_log_has_no_secrets),
        T(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
