/*
 * SigV4 against published vectors.
 *
 * 1. The AWS Signature Version 4 test suite ("aws-sig-v4-test-suite", as
 *    shipped in awslabs/aws-c-auth tests/aws-signing-test-suite/v4/<name>/:
 *    request.txt, header-canonical-request.txt, header-string-to-sign.txt,
 *    header-signature.txt). Credentials AKIDEXAMPLE /
 *    wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1,
 *    service "service". Only cases whose paths need no normalisation apply
 *    to S3, which signs the path as sent.
 * 2. The examples of the Amazon S3 API reference, "Signature Calculations
 *    for the Authorization Header: Transferring Payload in a Single Chunk"
 *    (sig-v4-header-based-auth): examplebucket, AKIAIOSFODNN7EXAMPLE /
 *    wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/hash.h"
#include "s3/s3_sigv4.h"

#define SUITE_AK   "AKIDEXAMPLE"
#define SUITE_SK   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"
#define S3DOC_AK   "AKIAIOSFODNN7EXAMPLE"
#define S3DOC_SK   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3DOC_DATE "20130524T000000Z"
#define S3DOC_HOST "examplebucket.s3.amazonaws.com"

typedef struct vector {
    const char *name;
    const char *method;
    const char *path; /* raw, encoded by the test as the S3 driver does */
    s3_kv query[3];
    size_t nquery;
    s3_kv headers[8];
    size_t nheaders;
    const char *payload; /* body text; its SHA-256 is the payload hash */
    const char *ak, *sk, *date, *region, *service;
    const char *canonical; /* expected canonical request, or NULL */
    const char *sts_hash;  /* last line of the expected string to sign */
    const char *signature;
    const char *authorization; /* expected header value, or NULL */
} vector;

#define SUITE                                                                                      \
    .ak = SUITE_AK, .sk = SUITE_SK, .date = SUITE_DATE, .region = "us-east-1",                     \
    .service = "service", .payload = ""
#define S3DOC                                                                                      \
    .ak = S3DOC_AK, .sk = S3DOC_SK, .date = S3DOC_DATE, .region = "us-east-1", .service = "s3"

static const vector vectors[] = {
    {.name = "get-vanilla",
     SUITE,
     .method = "GET",
     .path = "/",
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .canonical = "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                  "host;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
     .signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
     .authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=host;x-amz-date, "
                      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {.name = "get-vanilla-query-order-key-case",
     SUITE,
     .method = "GET",
     .path = "/",
     .query = {{"Param2", "value2"}, {"Param1", "value1"}},
     .nquery = 2,
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .canonical = "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
     .signature = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {.name = "get-unreserved",
     SUITE,
     .method = "GET",
     .path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .sts_hash = "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
     .signature = "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {.name = "get-utf8",
     SUITE,
     .method = "GET",
     .path = "/\xe1\x88\xb4",
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .canonical = "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                  "host;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
     .signature = "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {.name = "get-space-unnormalized",
     SUITE,
     .method = "GET",
     .path = "/example space/",
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .sts_hash = "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
     .signature = "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {.name = "get-vanilla-query-unreserved",
     SUITE,
     .method = "GET",
     .path = "/",
     .query = {{"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}},
     .nquery = 1,
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .sts_hash = "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
     .signature = "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {.name = "get-vanilla-utf8-query",
     SUITE,
     .method = "GET",
     .path = "/",
     .query = {{"\xe1\x88\xb4", "bar"}},
     .nquery = 1,
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .canonical = "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\n"
                  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
     .signature = "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {.name = "get-header-value-trim",
     SUITE,
     .method = "GET",
     .path = "/",
     .headers = {{"Host", SUITE_HOST},
                 {"My-Header1", " value1"},
                 {"My-Header2", " \"a   b   c\""},
                 {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 4,
     .canonical = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                  "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
                  "host;my-header1;my-header2;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
     .signature = "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {.name = "get-header-key-duplicate",
     SUITE,
     .method = "GET",
     .path = "/",
     .headers = {{"Host", SUITE_HOST},
                 {"My-Header1", "value2"},
                 {"My-Header1", "value2"},
                 {"My-Header1", "value1"},
                 {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 5,
     .canonical = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
                  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
     .signature = "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {.name = "get-vanilla-with-session-token",
     SUITE,
     .method = "GET",
     .path = "/",
     .headers = {{"Host", SUITE_HOST},
                 {"X-Amz-Date", SUITE_DATE},
                 {"X-Amz-Security-Token",
                  "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"}},
     .nheaders = 3,
     .sts_hash = "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
     .signature = "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
    {.name = "post-vanilla",
     SUITE,
     .method = "POST",
     .path = "/",
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .sts_hash = "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
     .signature = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {.name = "post-vanilla-query",
     SUITE,
     .method = "POST",
     .path = "/",
     .query = {{"Param1", "value1"}},
     .nquery = 1,
     .headers = {{"Host", SUITE_HOST}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 2,
     .sts_hash = "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
     .signature = "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {.name = "post-header-key-sort",
     SUITE,
     .method = "POST",
     .path = "/",
     .headers = {{"Host", SUITE_HOST}, {"My-Header1", "value1"}, {"X-Amz-Date", SUITE_DATE}},
     .nheaders = 3,
     .sts_hash = "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
     .signature = "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {.name = "post-x-www-form-urlencoded",
     .ak = SUITE_AK,
     .sk = SUITE_SK,
     .date = SUITE_DATE,
     .region = "us-east-1",
     .service = "service",
     .method = "POST",
     .path = "/",
     .payload = "Param1=value1",
     .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Host", SUITE_HOST},
                 {"Content-Length", "13"},
                 {"X-Amz-Date", SUITE_DATE},
                 {"x-amz-content-sha256",
                  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}},
     .nheaders = 5,
     .canonical = "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n"
                  "host:example.amazonaws.com\nx-amz-content-sha256:"
                  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
                  "x-amz-date:20150830T123600Z\n\n"
                  "content-length;content-type;host;x-amz-content-sha256;x-amz-date\n"
                  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
     .sts_hash = "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
     .signature = "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
     .authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=content-length;content-type;host;"
                      "x-amz-content-sha256;x-amz-date, "
                      "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},

    /* Amazon S3 API reference examples */
    {.name = "s3 GET object with Range",
     S3DOC,
     .method = "GET",
     .path = "/test.txt",
     .payload = "",
     .headers = {{"Host", S3DOC_HOST},
                 {"Range", "bytes=0-9"},
                 {"x-amz-content-sha256", S3_EMPTY_SHA256},
                 {"x-amz-date", S3DOC_DATE}},
     .nheaders = 4,
     .canonical = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                  "x-amz-content-sha256:" S3_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
                  "host;range;x-amz-content-sha256;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
     .signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
     .authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                      "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    {.name = "s3 PUT object",
     S3DOC,
     .method = "PUT",
     .path = "/test$file.text",
     .payload = "Welcome to Amazon S3.",
     .headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"Host", S3DOC_HOST},
                 {"x-amz-date", S3DOC_DATE},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256",
                  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
     .nheaders = 5,
     .canonical = "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
                  "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:"
                  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
                  "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
                  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     .sts_hash = "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
     .signature = "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
    {.name = "s3 GET bucket lifecycle",
     S3DOC,
     .method = "GET",
     .path = "/",
     .payload = "",
     .query = {{"lifecycle", NULL}},
     .nquery = 1,
     .headers = {{"Host", S3DOC_HOST},
                 {"x-amz-content-sha256", S3_EMPTY_SHA256},
                 {"x-amz-date", S3DOC_DATE}},
     .nheaders = 3,
     .canonical = "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
                  "x-amz-content-sha256:" S3_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
                  "host;x-amz-content-sha256;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
     .signature = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
    {.name = "s3 GET bucket (list objects)",
     S3DOC,
     .method = "GET",
     .path = "/",
     .payload = "",
     .query = {{"prefix", "J"}, {"max-keys", "2"}},
     .nquery = 2,
     .headers = {{"Host", S3DOC_HOST},
                 {"x-amz-content-sha256", S3_EMPTY_SHA256},
                 {"x-amz-date", S3DOC_DATE}},
     .nheaders = 3,
     .canonical = "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
                  "x-amz-content-sha256:" S3_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
                  "host;x-amz-content-sha256;x-amz-date\n" S3_EMPTY_SHA256,
     .sts_hash = "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
     .signature = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
};

static void run_vector(const vector *v)
{
    pc_buf uri, query, creq, sts, auth;
    pc_buf_init(&uri, PC_BUF_NOCAP);
    pc_buf_init(&query, PC_BUF_NOCAP);
    pc_buf_init(&creq, PC_BUF_NOCAP);
    pc_buf_init(&sts, PC_BUF_NOCAP);
    pc_buf_init(&auth, PC_BUF_NOCAP);
    assert_int_equal(s3_uri_encode(&uri, v->path, strlen(v->path), true), PC_OK);
    assert_int_equal(s3_sigv4_query(v->query, v->nquery, &query), PC_OK);
    unsigned char d[PC_SHA256_LEN];
    char hash[65];
    pc_sha256(v->payload, strlen(v->payload), d);
    pc_hex(d, sizeof d, hash);
    s3_sigv4_in in = {.method = v->method,
                      .uri = pc_buf_cstr(&uri),
                      .query = pc_buf_cstr(&query),
                      .headers = v->headers,
                      .nheaders = v->nheaders,
                      .payload_hash = hash,
                      .amz_date = v->date,
                      .region = v->region,
                      .service = v->service,
                      .access_key = v->ak,
                      .secret_key = v->sk};
    print_message("vector %s\n", v->name);
    assert_int_equal(s3_sigv4_canonical_request(&in, &creq, NULL), PC_OK);
    if (v->canonical)
        assert_string_equal(pc_buf_cstr(&creq), v->canonical);
    assert_int_equal(s3_sigv4_string_to_sign(&in, &sts), PC_OK);
    char want_sts[256];
    snprintf(want_sts, sizeof want_sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
             v->date, v->date, v->region, v->service, v->sts_hash);
    assert_string_equal(pc_buf_cstr(&sts), want_sts);
    char sig[65];
    assert_int_equal(s3_sigv4_signature(&in, sig), PC_OK);
    assert_string_equal(sig, v->signature);
    assert_int_equal(s3_sigv4_authorization(&in, &auth), PC_OK);
    if (v->authorization)
        assert_string_equal(pc_buf_cstr(&auth), v->authorization);
    else
        assert_non_null(strstr(pc_buf_cstr(&auth), v->signature));
    pc_buf_free(&uri);
    pc_buf_free(&query);
    pc_buf_free(&creq);
    pc_buf_free(&sts);
    pc_buf_free(&auth);
}

static void test_vectors(void **state)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        run_vector(&vectors[i]);
}

static void check_encode(const char *in, bool keep_slash, const char *want)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(s3_uri_encode(&b, in, strlen(in), keep_slash), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), want);
    pc_buf_free(&b);
}

/* Keys as the driver puts them into paths: each segment encoded once, '/' kept. */
static void test_key_encoding(void **state)
{
    check_encode("pg1/wals/0000000100000000/000000010000000000000001.zst", true,
                 "pg1/wals/0000000100000000/000000010000000000000001.zst");
    check_encode("a b/c+d~e_f-g.h", true, "a%20b/c%2Bd~e_f-g.h");
    check_encode("caf\xc3\xa9/\xe2\x82\xac", true, "caf%C3%A9/%E2%82%AC");
    check_encode("100%/x=y&z?#", true, "100%25/x%3Dy%26z%3F%23");
    check_encode("a/b", false, "a%2Fb");
    check_encode("*'()!$,;:@", true, "%2A%27%28%29%21%24%2C%3B%3A%40");
    check_encode("\x7f\x80\xff", true, "%7F%80%FF");
    check_encode("", true, "");
}

static void test_query(void **state)
{
    /* sorted by the encoded name; a NULL value is "name=" (subresources) */
    s3_kv q[] = {{"uploads", NULL},
                 {"prefix", "pg1/wals/a b+"},
                 {"continuation-token", "1/x=="},
                 {"Z", "1"},
                 {"list-type", "2"}};
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    assert_int_equal(s3_sigv4_query(q, 5, &b), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "Z=1&continuation-token=1%2Fx%3D%3D&list-type=2&"
                                         "prefix=pg1%2Fwals%2Fa%20b%2B&uploads=");
    pc_buf_reset(&b);
    assert_int_equal(s3_sigv4_query(NULL, 0, &b), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "");
    /* same names sort by value */
    s3_kv dup[] = {{"a", "2"}, {"a", "1"}};
    assert_int_equal(s3_sigv4_query(dup, 2, &b), PC_OK);
    assert_string_equal(pc_buf_cstr(&b), "a=1&a=2");
    pc_buf_free(&b);
}

static void test_amz_date(void **state)
{
    char d[17];
    s3_amz_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    assert_string_equal(d, "20130524T000000Z");
    s3_amz_date(1440938160, d);
    assert_string_equal(d, SUITE_DATE);
}

/* The signature changes with every input that must be covered by it. */
static void test_signature_sensitivity(void **state)
{
    const vector *v = &vectors[sizeof vectors / sizeof vectors[0] - 4]; /* S3 GET with Range */
    s3_kv h[4];
    memcpy(h, v->headers, sizeof h);
    s3_sigv4_in in = {.method = "GET",
                      .uri = "/test.txt",
                      .query = "",
                      .headers = h,
                      .nheaders = 4,
                      .payload_hash = S3_EMPTY_SHA256,
                      .amz_date = S3DOC_DATE,
                      .region = "us-east-1",
                      .service = "s3",
                      .access_key = S3DOC_AK,
                      .secret_key = S3DOC_SK};
    char base[65], other[65];
    assert_int_equal(s3_sigv4_signature(&in, base), PC_OK);
    assert_string_equal(base, v->signature);
    in.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEz";
    assert_int_equal(s3_sigv4_signature(&in, other), PC_OK);
    assert_string_not_equal(base, other);
    in.secret_key = S3DOC_SK;
    in.region = "eu-west-1";
    assert_int_equal(s3_sigv4_signature(&in, other), PC_OK);
    assert_string_not_equal(base, other);
    in.region = "us-east-1";
    h[1].value = "bytes=0-10";
    assert_int_equal(s3_sigv4_signature(&in, other), PC_OK);
    assert_string_not_equal(base, other);
    h[1].value = "bytes=0-9";
    in.uri = "/test.tx";
    assert_int_equal(s3_sigv4_signature(&in, other), PC_OK);
    assert_string_not_equal(base, other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_key_encoding),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_amz_date),
        cmocka_unit_test(test_signature_sensitivity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
