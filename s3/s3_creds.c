/* The AWS credential chain: environment, web identity, shared files, container, IMDSv2. */
#include "s3/s3_creds.h"

#include <ctype.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "s3/s3_http.h"
#include "s3/s3_sigv4.h"
#include "s3/s3_xml.h"

#define REFRESH_MARGIN_S 300
#define IMDS_TIMEOUT_MS  1000
#define ECS_TIMEOUT_MS   2000
#define STS_TIMEOUT_MS   10000
#define STS_RETRIES      2
#define TOKEN_FILE_MAX   (64 * 1024)
#define PROFILE_FILE_MAX (1024 * 1024)
#define CRED_REPLY_MAX   (64 * 1024)

typedef enum src_kind {
    SRC_STATIC,
    SRC_WEB_IDENTITY,
    SRC_CONTAINER,
    SRC_IMDS,
} src_kind;

struct s3_creds {
    pthread_mutex_t mu;
    src_kind kind;
    char *source;
    s3_cred cur;
    int64_t expires; /* epoch seconds; 0 never */
    s3_http *http;
    /* web identity */
    char *role_arn, *token_file, *session_name, *sts_url;
    /* container */
    char *ecs_url, *ecs_auth, *ecs_auth_file;
    /* instance metadata */
    char *imds_url;
};

typedef pc_status (*fetch_fn)(s3_creds *c, s3_cred *out, int64_t *expires);

/* ---- helpers ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void wipe_buf(pc_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->alloc);
    pc_buf_free(b);
}

static char *home_path(const char *rel)
{
    const char *home = env("HOME");
    if (!home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw && pw->pw_dir ? pw->pw_dir : "/";
    }
    return pc_asprintf("%s/%s", home, rel);
}

/* An AWS_* file variable, with "~/" expanded, or ~/<rel>. */
static char *aws_file(const char *var, const char *rel)
{
    const char *v = env(var);
    if (!v)
        return home_path(rel);
    if (strncmp(v, "~/", 2) == 0)
        return home_path(v + 2);
    return pc_strdup(v);
}

static pc_status set_cred(s3_cred *out, const char *what, const char *ak, const char *sk,
                          const char *tok)
{
    if (!ak || !*ak || !sk || !*sk)
        return pc_err(PC_E_AUTH, "%s returned incomplete credentials", what);
    if (strlen(ak) >= sizeof out->access_key || strlen(sk) >= sizeof out->secret_key ||
        (tok && strlen(tok) >= sizeof out->token))
        return pc_err(PC_E_AUTH, "%s returned credentials longer than pgcask accepts", what);
    snprintf(out->access_key, sizeof out->access_key, "%s", ak);
    snprintf(out->secret_key, sizeof out->secret_key, "%s", sk);
    snprintf(out->token, sizeof out->token, "%s", tok ? tok : "");
    return PC_OK;
}

static pc_status parse_expiration(const char *what, const char *text, int64_t *expires)
{
    int64_t us;
    if (!text || pc_time_parse(text, &us) != PC_OK)
        return pc_err(PC_E_AUTH, "%s returned an invalid expiration time", what);
    *expires = us / 1000000;
    return PC_OK;
}

void s3_cred_wipe(s3_cred *c)
{
    explicit_bzero(c, sizeof *c);
}

/* ---- shared files ---- */

typedef struct profile_vals {
    char *key_id, *secret, *token, *role_arn, *token_file, *session_name, *source_profile,
        *credential_process;
    char *found_in; /* first file with the section */
} profile_vals;

static void profile_vals_free(profile_vals *p)
{
    char **all[] = {&p->key_id,     &p->secret,       &p->token,          &p->role_arn,
                    &p->token_file, &p->session_name, &p->source_profile, &p->credential_process,
                    &p->found_in};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i])
            explicit_bzero(*all[i], strlen(*all[i]));
        free(*all[i]);
        *all[i] = NULL;
    }
}

/* The text of a buffer, writable, "" included (an empty buffer has no storage). */
static char *buf_text(pc_buf *b)
{
    if (!b->data && pc_buf_reserve(b, 0))
        return NULL;
    return (char *)b->data;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Is the text between [ and ] the wanted profile? config files say "profile NAME". */
static bool section_matches(char *sec, const char *profile, bool config_style)
{
    sec = trim(sec);
    if (config_style && strncmp(sec, "profile", 7) == 0 && isspace((unsigned char)sec[7]))
        return strcmp(trim(sec + 8), profile) == 0;
    if (config_style && strcmp(profile, "default") != 0)
        return false;
    return strcmp(sec, profile) == 0;
}

static pc_status set_once(char **dst, const char *v)
{
    if (*dst)
        return PC_OK; /* the credentials file, read first, wins */
    *dst = pc_strdup(v);
    return *dst ? PC_OK : PC_E_INTERNAL;
}

/* Read the profile's keys from one INI file; a missing file is no error. */
static pc_status read_profile(const char *path, const char *profile, bool config_style,
                              profile_vals *pv)
{
    pc_buf b;
    pc_buf_init(&b, PROFILE_FILE_MAX);
    pc_status st = pc_read_file(path, PROFILE_FILE_MAX, &b);
    if (st) {
        wipe_buf(&b);
        if (st != PC_E_NOT_FOUND) {
            char why[PC_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", pc_err_get()->message);
            pc_err(PC_E_AUTH, "could not read the AWS file \"%s\"", path);
            pc_err_detail("%s", why);
            return PC_E_AUTH;
        }
        pc_err_clear();
        return PC_OK;
    }
    bool in = false;
    char *save = NULL, *text = buf_text(&b);
    if (!text)
        st = PC_E_INTERNAL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line && st == PC_OK;
         line = strtok_r(NULL, "\n", &save)) {
        /* indented lines are continuation or nested settings (s3 =\n  ...): not ours */
        bool indented = *line == ' ' || *line == '\t';
        char *l = trim(line);
        if (!*l || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            char *close = strchr(l, ']');
            if (!close)
                continue;
            *close = '\0';
            in = section_matches(l + 1, profile, config_style);
            if (in && !pv->found_in && !(pv->found_in = pc_strdup(path)))
                st = PC_E_INTERNAL;
            continue;
        }
        char *eq = strchr(l, '=');
        if (!in || indented || !eq)
            continue;
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (strcasecmp(k, "aws_access_key_id") == 0)
            st = set_once(&pv->key_id, v);
        else if (strcasecmp(k, "aws_secret_access_key") == 0)
            st = set_once(&pv->secret, v);
        else if (strcasecmp(k, "aws_session_token") == 0)
            st = set_once(&pv->token, v);
        else if (strcasecmp(k, "role_arn") == 0)
            st = set_once(&pv->role_arn, v);
        else if (strcasecmp(k, "web_identity_token_file") == 0)
            st = set_once(&pv->token_file, v);
        else if (strcasecmp(k, "role_session_name") == 0)
            st = set_once(&pv->session_name, v);
        else if (strcasecmp(k, "source_profile") == 0)
            st = set_once(&pv->source_profile, v);
        else if (strcasecmp(k, "credential_process") == 0)
            st = set_once(&pv->credential_process, v);
    }
    wipe_buf(&b);
    return st;
}

/* ---- STS web identity ---- */

typedef struct sts_doc {
    char *ak, *sk, *tok, *exp;
} sts_doc;

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static pc_status sts_cb(void *ud, const char *path, const char *text, size_t len)
{
    sts_doc *d = ud;
    char **dst = NULL;
    if (ends_with(path, "Result/Credentials/AccessKeyId"))
        dst = &d->ak;
    else if (ends_with(path, "Result/Credentials/SecretAccessKey"))
        dst = &d->sk;
    else if (ends_with(path, "Result/Credentials/SessionToken"))
        dst = &d->tok;
    else if (ends_with(path, "Result/Credentials/Expiration"))
        dst = &d->exp;
    if (!dst || *dst)
        return PC_OK;
    *dst = pc_strndup(text, len);
    return *dst ? PC_OK : PC_E_INTERNAL;
}

static void sts_doc_free(sts_doc *d)
{
    char *all[] = {d->ak, d->sk, d->tok, d->exp};
    for (size_t i = 0; i < 4; i++) {
        if (all[i])
            explicit_bzero(all[i], strlen(all[i]));
        free(all[i]);
    }
}

static pc_status form_param(pc_buf *b, const char *name, const char *value)
{
    pc_status st = pc_buf_printf(b, "%s%s=", b->len ? "&" : "", name);
    return st ? st : s3_uri_encode(b, value, strlen(value), false);
}

static pc_status sts_fetch(s3_creds *c, s3_cred *out, int64_t *expires)
{
    pc_buf tok, body;
    pc_buf_init(&tok, TOKEN_FILE_MAX);
    pc_status st = pc_read_file(c->token_file, TOKEN_FILE_MAX, &tok);
    if (st) {
        char why[PC_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", pc_err_get()->message);
        wipe_buf(&tok);
        pc_err(PC_E_AUTH, "could not read the web identity token file \"%s\"", c->token_file);
        pc_err_detail("%s", why);
        pc_err_hint("Check AWS_WEB_IDENTITY_TOKEN_FILE (or web_identity_token_file in the "
                    "profile) and that the token is mounted.");
        return PC_E_AUTH;
    }
    char *token = buf_text(&tok);
    if (!token || !*trim(token)) {
        wipe_buf(&tok);
        pc_err(PC_E_AUTH, "the web identity token file \"%s\" is empty", c->token_file);
        return PC_E_AUTH;
    }
    pc_buf_init(&body, PC_BUF_NOCAP);
    st = form_param(&body, "Action", "AssumeRoleWithWebIdentity");
    if (st == PC_OK)
        st = form_param(&body, "Version", "2011-06-15");
    if (st == PC_OK)
        st = form_param(&body, "RoleArn", c->role_arn);
    if (st == PC_OK)
        st = form_param(&body, "RoleSessionName", c->session_name);
    if (st == PC_OK)
        st = form_param(&body, "WebIdentityToken", trim(token));
    wipe_buf(&tok);
    if (st) {
        wipe_buf(&body);
        return st;
    }

    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/xml"};
    s3_http_req req = {.method = "POST",
                       .url = c->sts_url,
                       .headers = hdrs,
                       .nheaders = 2,
                       .body = body.data,
                       .body_len = body.len,
                       .body_max = CRED_REPLY_MAX,
                       .total_timeout_ms = STS_TIMEOUT_MS};
    s3_http_resp r;
    s3_http_resp_init(&r);
    for (int attempt = 0;; attempt++) {
        s3_http_perform(c->http, &req, &r);
        bool transient = r.net == S3_NET_CONNECT || r.net == S3_NET_TIMEOUT ||
                         r.net == S3_NET_BROKEN || (r.net == S3_NET_OK && r.status >= 500);
        if (!transient || attempt >= STS_RETRIES)
            break;
        pc_sleep_ms(200 << attempt);
    }
    wipe_buf(&body);

    if (r.net != S3_NET_OK) {
        st = pc_err(PC_E_CONNECT, "could not reach STS at %s: %s", c->sts_url, r.net_error);
        pc_err_hint("Check network access to STS, or set AWS_ENDPOINT_URL_STS.");
    } else if (r.status != 200) {
        char code[64], msg[256];
        if (!s3_xml_error(r.body.data, r.body.len, code, sizeof code, msg, sizeof msg))
            snprintf(code, sizeof code, "HTTP %ld", r.status);
        st = pc_err(PC_E_AUTH, "STS AssumeRoleWithWebIdentity for role \"%s\" failed: %s%s%s",
                    c->role_arn, code, msg[0] ? ": " : "", msg);
        pc_err_hint("Check the role's trust policy and that the web identity token is valid.");
    } else {
        sts_doc d = {0};
        st = s3_xml_parse(r.body.data, r.body.len, "STS reply", sts_cb, &d);
        if (st == PC_OK)
            st = set_cred(out, "STS", d.ak, d.sk, d.tok);
        if (st == PC_OK)
            st = parse_expiration("STS", d.exp, expires);
        sts_doc_free(&d);
    }
    wipe_buf(&r.body);
    return st;
}

/* ---- JSON credential documents (container and instance metadata) ---- */

static pc_status json_creds(const char *what, const pc_buf *body, s3_cred *out, int64_t *expires)
{
    pc_json *j;
    pc_status st = pc_json_parse((const char *)body->data, body->len, CRED_REPLY_MAX, what, &j);
    if (st)
        return pc_err(PC_E_AUTH, "%s returned a reply that is not valid JSON", what);
    const char *code = pc_json_get_str(j, "Code");
    if (code && strcmp(code, "Success") != 0) {
        st = pc_err(PC_E_AUTH, "%s refused the credentials: %s", what, code);
    } else {
        st = set_cred(out, what, pc_json_get_str(j, "AccessKeyId"),
                      pc_json_get_str(j, "SecretAccessKey"), pc_json_get_str(j, "Token"));
        if (st == PC_OK)
            st = parse_expiration(what, pc_json_get_str(j, "Expiration"), expires);
    }
    pc_json_free(j);
    return st;
}

static pc_status container_fetch(s3_creds *c, s3_cred *out, int64_t *expires)
{
    pc_buf auth;
    pc_buf_init(&auth, TOKEN_FILE_MAX);
    pc_status st = PC_OK;
    if (c->ecs_auth_file) {
        pc_buf f;
        pc_buf_init(&f, TOKEN_FILE_MAX);
        st = pc_read_file(c->ecs_auth_file, TOKEN_FILE_MAX, &f);
        if (st) {
            wipe_buf(&f);
            wipe_buf(&auth);
            pc_err(PC_E_AUTH, "could not read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \"%s\"",
                   c->ecs_auth_file);
            return PC_E_AUTH;
        }
        char *t = buf_text(&f);
        st = t ? pc_buf_printf(&auth, "Authorization: %s", trim(t)) : PC_E_INTERNAL;
        wipe_buf(&f);
    } else if (c->ecs_auth) {
        st = pc_buf_printf(&auth, "Authorization: %s", c->ecs_auth);
    }
    if (st) {
        wipe_buf(&auth);
        return st;
    }
    const char *hdr[] = {pc_buf_cstr(&auth)};
    s3_http_req req = {.method = "GET",
                       .url = c->ecs_url,
                       .headers = hdr,
                       .nheaders = auth.len ? 1 : 0,
                       .body_max = CRED_REPLY_MAX,
                       .connect_timeout_ms = ECS_TIMEOUT_MS,
                       .total_timeout_ms = ECS_TIMEOUT_MS,
                       .no_proxy = true};
    s3_http_resp r;
    s3_http_resp_init(&r);
    s3_http_perform(c->http, &req, &r);
    wipe_buf(&auth);
    if (r.net != S3_NET_OK)
        st = pc_err(PC_E_CONNECT, "could not reach the container credentials endpoint %s: %s",
                    c->ecs_url, r.net_error);
    else if (r.status != 200)
        st = pc_err(PC_E_AUTH, "the container credentials endpoint %s answered HTTP %ld",
                    c->ecs_url, r.status);
    else
        st = json_creds("the container credentials endpoint", &r.body, out, expires);
    wipe_buf(&r.body);
    return st;
}

/* One IMDS request; the reply body stays in r. */
static pc_status imds_call(s3_creds *c, const char *method, const char *path, const char *hdr,
                           s3_http_resp *r)
{
    char *url = pc_asprintf("%s%s", c->imds_url, path);
    if (!url)
        return PC_E_INTERNAL;
    const char *h[] = {hdr};
    s3_http_req req = {.method = method,
                       .url = url,
                       .headers = h,
                       .nheaders = 1,
                       .body_max = CRED_REPLY_MAX,
                       .connect_timeout_ms = IMDS_TIMEOUT_MS,
                       .total_timeout_ms = IMDS_TIMEOUT_MS,
                       .no_proxy = true};
    s3_http_perform(c->http, &req, r);
    pc_status st = PC_OK;
    if (r->net != S3_NET_OK)
        st = pc_err(PC_E_CONNECT, "could not reach the EC2 instance metadata service at %s: %s",
                    c->imds_url, r->net_error);
    else if (r->status != 200)
        st = pc_err(PC_E_AUTH, "the EC2 instance metadata service answered HTTP %ld to %s %s",
                    r->status, method, path);
    free(url);
    return st;
}

static pc_status imds_fetch(s3_creds *c, s3_cred *out, int64_t *expires)
{
    static const char base[] = "/latest/meta-data/iam/security-credentials/";
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_buf hdr;
    pc_buf_init(&hdr, PC_BUF_NOCAP);
    char *role = NULL;
    pc_status st =
        imds_call(c, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21600", &r);
    char *t = st == PC_OK ? buf_text(&r.body) : NULL;
    if (st == PC_OK && (!t || !*trim(t)))
        st = pc_err(PC_E_AUTH, "the EC2 instance metadata service returned an empty token");
    if (st == PC_OK)
        st = pc_buf_printf(&hdr, "X-aws-ec2-metadata-token: %s", trim(t));
    wipe_buf(&r.body);
    s3_http_resp_init(&r);
    if (st == PC_OK)
        st = imds_call(c, "GET", base, pc_buf_cstr(&hdr), &r);
    char *l = st == PC_OK ? buf_text(&r.body) : NULL;
    if (st == PC_OK && !l)
        st = PC_E_INTERNAL;
    if (st == PC_OK) {
        l = trim(l);
        l[strcspn(l, "\r\n")] = '\0';
        if (!*l || strchr(l, '/'))
            st = pc_err(PC_E_AUTH, "the EC2 instance has no IAM role attached");
        else
            role = pc_asprintf("%s%s", base, l);
        if (st == PC_OK && !role)
            st = PC_E_INTERNAL;
    }
    wipe_buf(&r.body);
    s3_http_resp_init(&r);
    if (st == PC_OK)
        st = imds_call(c, "GET", role, pc_buf_cstr(&hdr), &r);
    if (st == PC_OK)
        st = json_creds("the EC2 instance metadata service", &r.body, out, expires);
    wipe_buf(&r.body);
    wipe_buf(&hdr);
    free(role);
    return st;
}

static fetch_fn fetcher(src_kind k)
{
    switch (k) {
    case SRC_STATIC:
        return NULL;
    case SRC_WEB_IDENTITY:
        return sts_fetch;
    case SRC_CONTAINER:
        return container_fetch;
    case SRC_IMDS:
        return imds_fetch;
    }
    return NULL;
}

/* ---- the chain ---- */

static pc_status use_static(s3_creds *c, const char *source, const char *ak, const char *sk,
                            const char *tok)
{
    c->kind = SRC_STATIC;
    c->source = pc_strdup(source);
    if (!c->source)
        return PC_E_INTERNAL;
    return set_cred(&c->cur, source, ak, sk, tok);
}

/* Set up a fetching source and fetch once. */
static pc_status use_fetched(s3_creds *c, src_kind kind, const char *source)
{
    c->kind = kind;
    c->source = pc_strdup(source);
    if (!c->source)
        return PC_E_INTERNAL;
    return fetcher(kind)(c, &c->cur, &c->expires);
}

static pc_status setup_web_identity(s3_creds *c, const char *region, const char *role,
                                    const char *token_file, const char *session, const char *source)
{
    const char *ep = env("AWS_ENDPOINT_URL_STS");
    c->role_arn = pc_strdup(role);
    c->token_file = pc_strdup(token_file);
    c->session_name = session ? pc_strdup(session) : pc_asprintf("pgcask-%d", (int)getpid());
    c->sts_url = ep ? pc_strdup(ep) : pc_asprintf("https://sts.%s.amazonaws.com/", region);
    if (!c->role_arn || !c->token_file || !c->session_name || !c->sts_url)
        return PC_E_INTERNAL;
    return use_fetched(c, SRC_WEB_IDENTITY, source);
}

/* PC_E_NOT_FOUND (no record) when the profile is in neither file. */
static pc_status from_profile(s3_creds *c, const char *profile, const char *region)
{
    char *cred_path = aws_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    char *conf_path = aws_file("AWS_CONFIG_FILE", ".aws/config");
    profile_vals pv = {0};
    pc_status st = cred_path && conf_path ? PC_OK : PC_E_INTERNAL;
    if (st == PC_OK)
        st = read_profile(cred_path, profile, false, &pv);
    if (st == PC_OK)
        st = read_profile(conf_path, profile, true, &pv);
    char *source = NULL;
    if (st == PC_OK && !pv.found_in) {
        st = PC_E_NOT_FOUND;
    } else if (st == PC_OK) {
        source = pc_asprintf("profile \"%s\" (%s)", profile, pv.found_in);
        if (!source)
            st = PC_E_INTERNAL;
    }
    if (st == PC_OK) {
        if (pv.key_id || pv.secret) {
            if (!pv.key_id || !pv.secret)
                st = pc_err(PC_E_AUTH, "AWS profile \"%s\" has %s but no %s", profile,
                            pv.key_id ? "aws_access_key_id" : "aws_secret_access_key",
                            pv.key_id ? "aws_secret_access_key" : "aws_access_key_id");
            else
                st = use_static(c, source, pv.key_id, pv.secret, pv.token);
        } else if (pv.role_arn && pv.token_file) {
            st = setup_web_identity(c, region, pv.role_arn, pv.token_file, pv.session_name, source);
        } else if (pv.role_arn || pv.credential_process) {
            st = pc_err(PC_E_AUTH, "AWS profile \"%s\" uses %s, which pgcask does not support",
                        profile,
                        pv.role_arn ? "role_arn with source_profile" : "credential_process");
            pc_err_hint("Use static keys or role_arn + web_identity_token_file in the profile.");
        } else {
            st = pc_err(PC_E_AUTH, "AWS profile \"%s\" in \"%s\" has no credentials", profile,
                        pv.found_in);
            pc_err_hint("Set aws_access_key_id and aws_secret_access_key in the profile.");
        }
    }
    profile_vals_free(&pv);
    free(source);
    free(cred_path);
    free(conf_path);
    return st;
}

static pc_status no_credentials(void)
{
    pc_err(PC_E_AUTH, "no S3 credentials found");
    pc_err_hint("pgcask looks for AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, web identity "
                "(AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), the profile AWS_PROFILE or "
                "\"default\" in ~/.aws/credentials and ~/.aws/config (or --aws-profile), "
                "container credentials (AWS_CONTAINER_CREDENTIALS_*_URI) and the EC2 instance "
                "metadata service, in that order.");
    return PC_E_AUTH;
}

static pc_status resolve(s3_creds *c, const char *profile, const char *region)
{
    if (profile) {
        pc_status st = from_profile(c, profile, region);
        if (st == PC_E_NOT_FOUND) {
            st = pc_err(PC_E_AUTH, "AWS profile \"%s\" not found", profile);
            pc_err_hint("Define [%s] in ~/.aws/credentials or [profile %s] in ~/.aws/config "
                        "(AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE), or fix --aws-profile.",
                        profile, profile);
        }
        return st;
    }

    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    if (ak && sk)
        return use_static(c, "environment", ak, sk, env("AWS_SESSION_TOKEN"));
    if (ak || sk) {
        pc_err(PC_E_AUTH, "%s is set but %s is not",
               ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
               ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        pc_err_hint("Set both variables, or neither to use another source of credentials.");
        return PC_E_AUTH;
    }

    const char *role = env("AWS_ROLE_ARN"), *tf = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    if (role && tf)
        return setup_web_identity(c, region, role, tf, env("AWS_ROLE_SESSION_NAME"),
                                  "web identity (AWS_ROLE_ARN)");

    const char *named = env("AWS_PROFILE");
    pc_status st = from_profile(c, named ? named : "default", region);
    if (st != PC_E_NOT_FOUND)
        return st;
    if (named) {
        pc_err(PC_E_AUTH, "AWS profile \"%s\" (AWS_PROFILE) not found", named);
        pc_err_hint("Define it in ~/.aws/credentials or ~/.aws/config, or unset AWS_PROFILE.");
        return PC_E_AUTH;
    }

    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    if (full || rel) {
        c->ecs_url = full ? pc_strdup(full) : pc_asprintf("http://169.254.170.2%s", rel);
        const char *af = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *a = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        c->ecs_auth_file = af ? pc_strdup(af) : NULL;
        c->ecs_auth = a ? pc_strdup(a) : NULL;
        if (!c->ecs_url || (af && !c->ecs_auth_file) || (a && !c->ecs_auth))
            return PC_E_INTERNAL;
        return use_fetched(c, SRC_CONTAINER, "container credentials endpoint");
    }

    const char *dis = env("AWS_EC2_METADATA_DISABLED");
    if (dis && strcasecmp(dis, "true") == 0)
        return no_credentials();
    const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    size_t n = ep ? strlen(ep) : 0;
    while (n > 0 && ep[n - 1] == '/')
        n--;
    c->imds_url = ep ? pc_strndup(ep, n) : pc_strdup("http://169.254.169.254");
    if (!c->imds_url)
        return PC_E_INTERNAL;
    st = use_fetched(c, SRC_IMDS, "EC2 instance metadata");
    if (st && st != PC_E_INTERNAL) {
        /* not on EC2 (nothing there, or another cloud's metadata service): nothing found */
        char why[PC_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", pc_err_get()->message);
        pc_debug("EC2 instance metadata: %s", why);
        no_credentials();
        pc_err_detail("EC2 instance metadata: %s", why);
        return PC_E_AUTH;
    }
    return st;
}

pc_status s3_creds_new(const char *profile, const char *region, s3_creds **out)
{
    s3_creds *c = pc_calloc(1, sizeof *c);
    if (!c)
        return PC_E_INTERNAL;
    pthread_mutex_init(&c->mu, NULL);
    s3_http_opts ho = {.connect_timeout_ms = IMDS_TIMEOUT_MS,
                       .read_timeout_ms = STS_TIMEOUT_MS,
                       .verify_tls = true};
    pc_status st = s3_http_new(&ho, &c->http);
    if (st == PC_OK)
        st = resolve(c, profile, region && *region ? region : "us-east-1");
    if (st) {
        s3_creds_free(c);
        return st;
    }
    pc_debug("S3 credentials from %s", c->source);
    *out = c;
    return PC_OK;
}

void s3_creds_free(s3_creds *c)
{
    if (!c)
        return;
    s3_cred_wipe(&c->cur);
    s3_http_free(c->http);
    pthread_mutex_destroy(&c->mu);
    char *all[] = {c->source,  c->role_arn, c->token_file,    c->session_name, c->sts_url,
                   c->ecs_url, c->ecs_auth, c->ecs_auth_file, c->imds_url};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i])
            explicit_bzero(all[i], strlen(all[i]));
        free(all[i]);
    }
    free(c);
}

pc_status s3_creds_get(s3_creds *c, s3_cred *out)
{
    pc_status st = PC_OK;
    pthread_mutex_lock(&c->mu);
    int64_t now = (int64_t)time(NULL);
    if (c->expires && now >= c->expires - REFRESH_MARGIN_S) {
        s3_cred fresh;
        int64_t exp = 0;
        st = fetcher(c->kind)(c, &fresh, &exp);
        if (st == PC_OK) {
            c->cur = fresh;
            c->expires = exp;
            pc_debug("S3 credentials from %s refreshed", c->source);
        } else if (now < c->expires) {
            pc_warn("could not refresh the S3 credentials from %s (%s); using the current ones "
                    "until they expire",
                    c->source, pc_err_get()->message);
            st = PC_OK;
        } else {
            pc_err_context("refreshing the expired S3 credentials from %s", c->source);
        }
        s3_cred_wipe(&fresh);
    }
    if (st == PC_OK)
        *out = c->cur;
    pthread_mutex_unlock(&c->mu);
    return st;
}

const char *s3_creds_source(const s3_creds *c)
{
    return c->source;
}

int64_t s3_creds_expiry(s3_creds *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t e = c->expires;
    pthread_mutex_unlock(&c->mu);
    return e;
}
