/*
 * The credential chain: environment, shared files and profiles, precedence,
 * web identity through a fake STS, IMDSv2 and container endpoints through a
 * fake metadata server, refresh before expiry, and the errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "fake_http.h"
#include "s3/s3_creds.h"

static char home[4096];

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
};

static void write_file(const char *rel, const char *text)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", home, rel);
    char *dir = pc_dirname(path);
    assert_int_equal(pc_mkdirs(dir, 0700), PC_OK);
    free(dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    const char *base = getenv("PGCASK_TEST_TMP");
    char tmpl[4096];
    if (base)
        pc_mkdirs(base, 0700);
    snprintf(tmpl, sizeof tmpl, "%s/s3creds.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(home, sizeof home, "%s", tmpl);
    setenv("HOME", home, 1);
    for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
        unsetenv(aws_vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    pc_err_clear();
    return 0;
}

static int teardown(void **state)
{
    pc_remove_tree(home);
    return 0;
}

/* The record's text must never contain a secret. */
static void assert_no_secret(const char *secret)
{
    const pc_error *e = pc_err_get();
    assert_null(strstr(e->message, secret));
    assert_null(strstr(e->detail, secret));
    assert_null(strstr(e->hint, secret));
}

static void iso_in(int64_t seconds, char *out, size_t n)
{
    time_t t = time(NULL) + (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- environment and files ---- */

static void test_env(void **state)
{
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret/env+key", 1);
    setenv("AWS_SESSION_TOKEN", "tok-env", 1);
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKFILE\n"
                                   "aws_secret_access_key = sfile\n");
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    assert_string_equal(s3_creds_source(c), "environment");
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "AKENV");
    assert_string_equal(cr.secret_key, "secret/env+key");
    assert_string_equal(cr.token, "tok-env");
    assert_int_equal(s3_creds_expiry(c), 0);
    s3_cred_wipe(&cr);
    assert_string_equal(cr.secret_key, "");
    s3_creds_free(c);
}

static void test_env_partial(void **state)
{
    s3_creds *c = NULL;
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message,
                        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "only-secret", 1);
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message,
                        "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    assert_no_secret("only-secret");
}

static void test_default_profile(void **state)
{
    write_file(".aws/credentials", "# comment\n[other]\naws_access_key_id=AKOTHER\n"
                                   "aws_secret_access_key=sother\n\n"
                                   "[default]\naws_access_key_id =  AKDEF  \n"
                                   "aws_secret_access_key = s/def\naws_session_token=tdef\n");
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    char want[8300];
    snprintf(want, sizeof want, "profile \"default\" (%s/.aws/credentials)", home);
    assert_string_equal(s3_creds_source(c), want);
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "AKDEF");
    assert_string_equal(cr.secret_key, "s/def");
    assert_string_equal(cr.token, "tdef");
    s3_creds_free(c);
}

static void test_indented_key_ignored(void **state)
{
    /* indented lines are nested settings ("s3 =\n  key = v"), never profile keys */
    write_file(".aws/credentials", "[default]\n  aws_access_key_id = AKDEF\n"
                                   "aws_secret_access_key = s/def\n");
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message,
                        "AWS profile \"default\" has aws_secret_access_key but no "
                        "aws_access_key_id");
    assert_no_secret("s/def");
}

static void test_aws_profile_config(void **state)
{
    /* AWS_PROFILE from the config file's [profile NAME]; the credentials file wins per key */
    write_file(".aws/config", "[default]\nregion = eu-west-1\n"
                              "[profile work]\naws_access_key_id = AKCONF\n"
                              "aws_secret_access_key = sconf\ns3 =\n  addressing_style = path\n");
    write_file(".aws/credentials", "[work]\naws_secret_access_key = scred\n");
    setenv("AWS_PROFILE", "work", 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "AKCONF");
    assert_string_equal(cr.secret_key, "scred");
    assert_string_equal(cr.token, "");
    s3_creds_free(c);
}

static void test_custom_file_vars(void **state)
{
    write_file("elsewhere/creds", "[default]\naws_access_key_id = AKX\n"
                                  "aws_secret_access_key = sx\n");
    char p[8300];
    snprintf(p, sizeof p, "%s/elsewhere/creds", home);
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKHOME\n"
                                   "aws_secret_access_key = shome\n");
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "AKX");
    s3_creds_free(c);
}

static void test_explicit_profile(void **state)
{
    /* an explicit profile is used even when the environment has keys */
    setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
    write_file(".aws/credentials", "[prod]\naws_access_key_id = AKPROD\n"
                                   "aws_secret_access_key = sprod\n");
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new("prod", "us-east-1", &c), PC_OK);
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "AKPROD");
    s3_creds_free(c);

    c = NULL;
    assert_int_equal(s3_creds_new("nope", "us-east-1", &c), PC_E_AUTH);
    assert_null(c);
    assert_string_equal(pc_err_get()->message, "AWS profile \"nope\" not found");
    assert_non_null(strstr(pc_err_get()->hint, "[profile nope]"));
}

static void test_aws_profile_missing(void **state)
{
    setenv("AWS_PROFILE", "ghost", 1);
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message, "AWS profile \"ghost\" (AWS_PROFILE) not found");
}

static void test_profile_unsupported(void **state)
{
    write_file(".aws/config", "[profile r]\nrole_arn = arn:aws:iam::1:role/x\n"
                              "source_profile = default\n");
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new("r", "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message, "AWS profile \"r\" uses role_arn with "
                                               "source_profile, which pgcask does not support");
    write_file(".aws/config", "[profile empty]\nregion = x\n");
    assert_int_equal(s3_creds_new("empty", "us-east-1", &c), PC_E_AUTH);
    char want[8300];
    snprintf(want, sizeof want, "AWS profile \"empty\" in \"%s/.aws/config\" has no credentials",
             home);
    assert_string_equal(pc_err_get()->message, want);
}

static void test_none(void **state)
{
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_null(c);
    assert_string_equal(pc_err_get()->message, "no S3 credentials found");
    const char *hint = pc_err_get()->hint;
    assert_non_null(strstr(hint, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(hint, "AWS_WEB_IDENTITY_TOKEN_FILE"));
    assert_non_null(strstr(hint, "~/.aws/credentials"));
    assert_non_null(strstr(hint, "instance metadata"));
}

/* Not on EC2: a refused metadata endpoint fails fast and reads as "none found". */
static void test_imds_unreachable(void **state)
{
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
    s3_creds *c = NULL;
    int64_t t0 = pc_now_mono_ms();
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_true(pc_now_mono_ms() - t0 < 3000);
    assert_string_equal(pc_err_get()->message, "no S3 credentials found");
    assert_non_null(strstr(pc_err_get()->detail, "EC2 instance metadata: could not reach the EC2 "
                                                 "instance metadata service at "
                                                 "http://127.0.0.1:9"));
}

/* Another cloud's metadata service answers, but not like EC2's. */
static void not_ec2_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    resp->status = 405;
}

static void test_imds_foreign(void **state)
{
    fake_http *f = fake_http_start(not_ec2_handler, NULL);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_http_url(f), 1);
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message, "no S3 credentials found");
    assert_string_equal(pc_err_get()->detail, "EC2 instance metadata: the EC2 instance metadata "
                                              "service answered HTTP 405 to PUT /latest/api/token");
    fake_http_stop(f);
}

/* ---- web identity ---- */

typedef struct sts_state {
    int status;
    int64_t expires_in;
    int calls;
    char body[4096];
} sts_state;

static void sts_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    sts_state *s = ud;
    s->calls++;
    resp->status = s->status;
    if (s->status != 200) {
        snprintf(s->body, sizeof s->body,
                 "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                 "<Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to "
                 "perform sts:AssumeRoleWithWebIdentity</Message></Error>"
                 "<RequestId>r</RequestId></ErrorResponse>");
    } else {
        char exp[64];
        iso_in(s->expires_in, exp, sizeof exp);
        snprintf(s->body, sizeof s->body,
                 "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
                 "2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
                 "<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
                 "<Credentials><SessionToken>sess-%d</SessionToken>"
                 "<SecretAccessKey>wisecret-%d</SecretAccessKey>"
                 "<Expiration>%s</Expiration><AccessKeyId>ASIA%d</AccessKeyId></Credentials>"
                 "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
                 s->calls, s->calls, exp, s->calls);
    }
    fake_resp_header(resp, "Content-Type: text/xml");
    resp->body = s->body;
    resp->body_len = strlen(s->body);
}

static void test_web_identity(void **state)
{
    sts_state s = {.status = 200, .expires_in = 3600};
    fake_http *f = fake_http_start(sts_handler, &s);
    char tf[8300];
    snprintf(tf, sizeof tf, "%s/token", home);
    write_file("token", "eyJhbGciOi.token+/=\n");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pg-backup", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
    setenv("AWS_ROLE_SESSION_NAME", "sess name", 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_http_url(f), 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "eu-west-1", &c), PC_OK);
    assert_string_equal(s3_creds_source(c), "web identity (AWS_ROLE_ARN)");
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "ASIA1");
    assert_string_equal(cr.secret_key, "wisecret-1");
    assert_string_equal(cr.token, "sess-1");
    int64_t exp = s3_creds_expiry(c);
    assert_true(exp > (int64_t)time(NULL) + 3500 && exp <= (int64_t)time(NULL) + 3600);
    /* far from expiry: no second call */
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_int_equal(s.calls, 1);
    s3_creds_free(c);

    const fake_req *r = fake_http_req(f, 0);
    char h[256];
    assert_string_equal(r->method, "POST");
    assert_string_equal(fake_req_header(r, "Content-Type", h, sizeof h),
                        "application/x-www-form-urlencoded");
    assert_null(strstr(r->headers, "Authorization"));
    assert_string_equal((const char *)r->body,
                        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3A"
                        "iam%3A%3A123456789012%3Arole%2Fpg-backup&RoleSessionName=sess%20name&"
                        "WebIdentityToken=eyJhbGciOi.token%2B%2F%3D");
    fake_http_stop(f);
}

static void test_web_identity_refresh(void **state)
{
    /* credentials expiring within the 5-minute margin are fetched again on use */
    sts_state s = {.status = 200, .expires_in = 120};
    fake_http *f = fake_http_start(sts_handler, &s);
    write_file("token", "tok");
    char conf[8400];
    snprintf(conf, sizeof conf,
             "[profile wi]\nrole_arn = arn:aws:iam::1:role/r\n"
             "web_identity_token_file = %s/token\n",
             home);
    write_file(".aws/config", conf);
    setenv("AWS_ENDPOINT_URL_STS", fake_http_url(f), 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new("wi", "us-east-1", &c), PC_OK);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_int_equal(s.calls, 2);
    assert_string_equal(cr.access_key, "ASIA2");
    /* now valid for long: the next use keeps them */
    s.expires_in = 3600;
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_int_equal(s.calls, 3);
    assert_string_equal(cr.access_key, "ASIA3");
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_int_equal(s.calls, 3);
    s3_creds_free(c);
    fake_http_stop(f);
}

static void test_refresh_failure_keeps_valid(void **state)
{
    sts_state s = {.status = 200, .expires_in = 120};
    fake_http *f = fake_http_start(sts_handler, &s);
    char tf[8300];
    snprintf(tf, sizeof tf, "%s/token", home);
    write_file("token", "tok");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_http_url(f), 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    s.status = 403;
    pc_log_set_level(PC_LOG_ERROR);
    /* the refresh fails, but the current credentials are still valid for 2 minutes */
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    pc_log_set_level(PC_LOG_WARNING);
    assert_string_equal(cr.access_key, "ASIA1");
    s3_creds_free(c);
    fake_http_stop(f);
}

static void test_web_identity_denied(void **state)
{
    sts_state s = {.status = 403};
    fake_http *f = fake_http_start(sts_handler, &s);
    char tf[8300];
    snprintf(tf, sizeof tf, "%s/token", home);
    write_file("token", "secret-jwt-value");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_http_url(f), 1);
    s3_creds *c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    assert_string_equal(pc_err_get()->message,
                        "STS AssumeRoleWithWebIdentity for role \"arn:aws:iam::1:role/r\" failed: "
                        "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity");
    assert_no_secret("secret-jwt-value");
    assert_int_equal(s.calls, 1); /* a 4xx is not retried */
    fake_http_stop(f);

    unlink(tf);
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    char want[8400];
    snprintf(want, sizeof want, "could not read the web identity token file \"%s\"", tf);
    assert_string_equal(pc_err_get()->message, want);
}

/* ---- instance metadata and container endpoints ---- */

typedef struct meta_state {
    int calls;
    char body[2048];
    char last_auth[256];
} meta_state;

static void imds_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    meta_state *m = ud;
    char h[256];
    m->calls++;
    resp->status = 200;
    if (strcmp(req->target, "/latest/api/token") == 0) {
        if (strcmp(req->method, "PUT") != 0 ||
            strcmp(fake_req_header(req, "X-aws-ec2-metadata-token-ttl-seconds", h, sizeof h),
                   "21600") != 0) {
            resp->status = 400;
            return;
        }
        snprintf(m->body, sizeof m->body, "IMDSTOKEN==");
    } else if (strcmp(fake_req_header(req, "X-aws-ec2-metadata-token", h, sizeof h),
                      "IMDSTOKEN==") != 0) {
        resp->status = 401;
        return;
    } else if (strcmp(req->target, "/latest/meta-data/iam/security-credentials/") == 0) {
        snprintf(m->body, sizeof m->body, "pg-role\n");
    } else if (strcmp(req->target, "/latest/meta-data/iam/security-credentials/pg-role") == 0) {
        char exp[64];
        iso_in(6 * 3600, exp, sizeof exp);
        snprintf(m->body, sizeof m->body,
                 "{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\",\"Type\":"
                 "\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"imds/secret\","
                 "\"Token\":\"imds-token\",\"Expiration\":\"%s\"}",
                 exp);
    } else {
        resp->status = 404;
        return;
    }
    resp->body = m->body;
    resp->body_len = strlen(m->body);
}

static void test_imds(void **state)
{
    meta_state m = {0};
    fake_http *f = fake_http_start(imds_handler, &m);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    char ep[128];
    snprintf(ep, sizeof ep, "%s/", fake_http_url(f));
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    assert_string_equal(s3_creds_source(c), "EC2 instance metadata");
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "ASIAIMDS");
    assert_string_equal(cr.secret_key, "imds/secret");
    assert_string_equal(cr.token, "imds-token");
    assert_true(s3_creds_expiry(c) > (int64_t)time(NULL) + 5 * 3600);
    assert_int_equal(m.calls, 3);
    assert_string_equal(fake_http_req(f, 0)->method, "PUT");
    assert_string_equal(fake_http_req(f, 2)->target,
                        "/latest/meta-data/iam/security-credentials/pg-role");
    s3_creds_free(c);
    fake_http_stop(f);
}

static void container_handler(const fake_req *req, fake_resp *resp, void *ud)
{
    meta_state *m = ud;
    m->calls++;
    fake_req_header(req, "Authorization", m->last_auth, sizeof m->last_auth);
    snprintf(m->body, sizeof m->body,
             "{\"AccessKeyId\":\"ASIAECS\",\"SecretAccessKey\":\"ecs-secret\",\"Token\":"
             "\"ecs-token\",\"Expiration\":\"2099-01-01T00:00:00Z\",\"RoleArn\":\"x\"}");
    resp->status = strcmp(req->target, "/v2/creds") == 0 ? 200 : 404;
    resp->body = m->body;
    resp->body_len = strlen(m->body);
}

static void test_container(void **state)
{
    meta_state m = {0};
    fake_http *f = fake_http_start(container_handler, &m);
    char url[128];
    snprintf(url, sizeof url, "%s/v2/creds", fake_http_url(f));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    write_file("ecs-token", "Bearer abc\n");
    char tf[8300];
    snprintf(tf, sizeof tf, "%s/ecs-token", home);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tf, 1);
    s3_creds *c;
    s3_cred cr;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    assert_string_equal(s3_creds_source(c), "container credentials endpoint");
    assert_int_equal(s3_creds_get(c, &cr), PC_OK);
    assert_string_equal(cr.access_key, "ASIAECS");
    assert_string_equal(cr.token, "ecs-token");
    assert_string_equal(m.last_auth, "Bearer abc");
    s3_creds_free(c);

    /* a failing endpoint that was configured is an error, not "none found" */
    snprintf(url, sizeof url, "%s/wrong", fake_http_url(f));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    c = NULL;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_E_AUTH);
    char want[256];
    snprintf(want, sizeof want, "the container credentials endpoint %s answered HTTP 404", url);
    assert_string_equal(pc_err_get()->message, want);
    fake_http_stop(f);
}

/* ---- concurrency ---- */

typedef struct getter {
    s3_creds *c;
    int failures;
} getter;

static void *getter_main(void *arg)
{
    getter *g = arg;
    for (int i = 0; i < 20; i++) {
        s3_cred cr;
        if (s3_creds_get(g->c, &cr) != PC_OK || strncmp(cr.access_key, "ASIA", 4) != 0 ||
            strncmp(cr.secret_key, "wisecret-", 9) != 0)
            g->failures++;
        s3_cred_wipe(&cr);
    }
    return NULL;
}

static void test_threads(void **state)
{
    sts_state s = {.status = 200, .expires_in = 200}; /* always inside the refresh margin */
    fake_http *f = fake_http_start(sts_handler, &s);
    char tf[8300];
    snprintf(tf, sizeof tf, "%s/token", home);
    write_file("token", "tok");
    setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/r", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tf, 1);
    setenv("AWS_ENDPOINT_URL_STS", fake_http_url(f), 1);
    s3_creds *c;
    assert_int_equal(s3_creds_new(NULL, "us-east-1", &c), PC_OK);
    pthread_t t[4];
    getter g[4];
    for (int i = 0; i < 4; i++) {
        g[i] = (getter){c, 0};
        assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(g[i].failures, 0);
    }
    assert_int_equal(s.calls, 81); /* one at open, then one per use */
    s3_creds_free(c);
    fake_http_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indented_key_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aws_profile_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_file_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aws_profile_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_unsupported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_failure_keeps_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_imds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_container, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
