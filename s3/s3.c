/*
 * The s3:// driver: request signing, retries and error mapping, and every
 * operation of repo_driver except the streaming put (s3_upload.c).
 */
#include "s3/s3_curl.h"
#include "s3/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>


#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "s3/s3_xml.h"

#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS  20000
#define LIST_PAGE       "1000"
#define DELETE_BATCH    1000
#define REPLY_MAX       (8 * 1024 * 1024)

/* ---- small helpers ---- */

char *s3_full_key(s3 *d, const char *key)
{
    return pc_asprintf("%s%s", d->prefix, key);
}

char *s3_what_key(const char *key)
{
    return pc_asprintf("object \"%s\"", key);
}

void s3_etag_copy(char *out, const char *etag)
{
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n >= REPO_ETAG_MAX)
        n = REPO_ETAG_MAX - 1;
    memcpy(out, etag, n);
    out[n] = '\0';
}

/* RFC 7231 date ("Wed, 12 Oct 2009 17:50:00 GMT") to epoch µs; 0 when unreadable. */
static int64_t http_date_us(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end)
        return 0;
    return (int64_t)timegm(&tm) * 1000000;
}

pc_status s3_hdrs_add(s3_hdrs *h, const char *name, const char *value)
{
    if (h->n >= S3_MAX_HEADERS)
        return pc_err(PC_E_USAGE, "too many request headers (metadata entries)");
    h->kv[h->n].name = name;
    h->kv[h->n].value = value;
    h->n++;
    return PC_OK;
}

static pc_status hdrs_add_own(s3_hdrs *h, char *name, char *value)
{
    if (!name || !value || h->nowned + 2 > S3_MAX_HEADERS) {
        free(name);
        free(value);
        return name && value ? pc_err(PC_E_USAGE, "too many metadata entries") : PC_E_INTERNAL;
    }
    h->owned[h->nowned++] = name;
    h->owned[h->nowned++] = value;
    return s3_hdrs_add(h, name, value);
}

void s3_hdrs_free(s3_hdrs *h)
{
    for (size_t i = 0; i < h->nowned; i++)
        free(h->owned[i]);
    h->nowned = 0;
    h->n = 0;
}

/* A value that goes into an HTTP header verbatim: printable ASCII, no line breaks. */
static bool header_safe(const char *v, bool allow_space)
{
    for (; *v; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e || (*v == ' ' && !allow_space))
            return false;
    return true;
}

pc_status s3_object_headers(s3 *d, const repo_put_opts *po, s3_hdrs *h)
{
    pc_status st = PC_OK;
    const char *tags = po && po->tags ? po->tags : d->tags;
    if (po && po->content_type) {
        if (!header_safe(po->content_type, true))
            return pc_err(PC_E_USAGE, "invalid content type: it must be printable ASCII");
        st = s3_hdrs_add(h, "Content-Type", po->content_type);
    }
    for (size_t i = 0; po && i < po->nmeta && st == PC_OK; i++) {
        const char *k = po->meta[i].key, *v = po->meta[i].value;
        bool ok = *k && strlen(k) < 64;
        for (const char *c = k; *c && ok; c++)
            ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-';
        if (!ok && header_safe(k, false))
            return pc_err(PC_E_USAGE, "invalid metadata key \"%s\" (use [a-z0-9-])", k);
        if (!ok)
            return pc_err(PC_E_USAGE, "invalid metadata key (use [a-z0-9-])");
        if (!header_safe(v, true) || strlen(v) >= 256)
            return pc_err(PC_E_USAGE, "metadata \"%s\" must be printable ASCII under 256 bytes", k);
        st = hdrs_add_own(h, pc_asprintf("x-amz-meta-%s", k), pc_strdup(v));
    }
    if (st == PC_OK && tags && *tags) {
        if (!header_safe(tags, false))
            return pc_err(PC_E_USAGE, "invalid tag set: it must be URL-encoded (k1=v1&k2=v2)");
        st = s3_hdrs_add(h, "x-amz-tagging", tags);
    }
    if (st == PC_OK && d->sse)
        st = s3_hdrs_add(h, "x-amz-server-side-encryption", d->sse);
    if (st == PC_OK && d->kms_key)
        st = s3_hdrs_add(h, "x-amz-server-side-encryption-aws-kms-key-id", d->kms_key);
    return st;
}

/* ---- one request ---- */

void s3_sums_compute(const s3_req *q, s3_sums *out)
{
    unsigned char d[PC_SHA256_LEN];
    pc_sha256(q->body_len ? q->body : "", q->body_len, d);
    pc_hex(d, sizeof d, out->sha256);
    out->md5_b64[0] = '\0';
    if (q->md5) {
        pc_md5(q->body_len ? q->body : "", q->body_len, out->md5);
        pc_base64(out->md5, sizeof out->md5, out->md5_b64);
    }
}

static bool has_header(const s3_req *q, const char *name)
{
    for (size_t i = 0; i < q->nheaders; i++)
        if (strcasecmp(q->headers[i].name, name) == 0)
            return true;
    return false;
}

static void log_attempt(const s3_req *q, const s3_http_resp *r, int attempt)
{
    if (!pc_log_enabled(PC_LOG_DEBUG))
        return;
    pc_log_field f[] = {
        PC_F_STR("method", q->method),
        PC_F_STR("target", q->what),
        PC_F_INT("status", r->status),
        PC_F_UINT("sent", q->body_len),
        PC_F_UINT("received", r->body_bytes ? r->body_bytes : r->body.len),
        PC_F_INT("ms", r->elapsed_ms),
        PC_F_INT("retry", attempt),
    };
    pc_log_fields(PC_LOG_DEBUG, f, sizeof f / sizeof f[0], "s3 request%s%s",
                  r->net != S3_NET_OK ? ": " : "", r->net != S3_NET_OK ? r->net_error : "");
}

pc_status s3_attempt(s3 *d, const s3_req *q, const s3_sums *sums, int attempt, s3_http_resp *r)
{
    s3_cred cr;
    pc_status st = s3_creds_get(d->creds, &cr);
    if (st)
        return st;
    pc_buf path, query, url, auth, lines;
    pc_buf_init(&path, PC_BUF_NOCAP);
    pc_buf_init(&query, PC_BUF_NOCAP);
    pc_buf_init(&url, PC_BUF_NOCAP);
    pc_buf_init(&auth, PC_BUF_NOCAP);
    pc_buf_init(&lines, PC_BUF_NOCAP);

    st = pc_buf_append_str(&path, d->path_base);
    if (st == PC_OK && (q->key || !*d->path_base))
        st = pc_buf_append(&path, "/", 1);
    if (st == PC_OK && q->key)
        st = s3_uri_encode(&path, q->key, strlen(q->key), true);
    if (st == PC_OK)
        st = s3_sigv4_query(q->query, q->nquery, &query);
    if (st == PC_OK)
        st = pc_buf_printf(&url, "%s%s%s%s", d->base_url, pc_buf_cstr(&path), query.len ? "?" : "",
                           pc_buf_cstr(&query));

    char date[17];
    s3_amz_date(time(NULL), date);
    s3_kv h[S3_MAX_HEADERS + 6];
    size_t nh = 0;
    h[nh++] = (s3_kv){"Host", d->host};
    h[nh++] = (s3_kv){"x-amz-date", date};
    h[nh++] = (s3_kv){"x-amz-content-sha256", sums->sha256};
    if (cr.token[0])
        h[nh++] = (s3_kv){"x-amz-security-token", cr.token};
    if (q->md5)
        h[nh++] = (s3_kv){"Content-MD5", sums->md5_b64};
    for (size_t i = 0; i < q->nheaders && nh < sizeof h / sizeof h[0]; i++)
        h[nh++] = q->headers[i];

    s3_sigv4_in in = {.method = q->method,
                      .uri = pc_buf_cstr(&path),
                      .query = pc_buf_cstr(&query),
                      .headers = h,
                      .nheaders = nh,
                      .payload_hash = sums->sha256,
                      .amz_date = date,
                      .region = d->region,
                      .service = "s3",
                      .access_key = cr.access_key,
                      .secret_key = cr.secret_key};
    if (st == PC_OK)
        st = s3_sigv4_authorization(&in, &auth);
    /* header lines, NUL-separated in one buffer */
    size_t nlines = 0;
    for (size_t i = 0; i < nh && st == PC_OK; i++, nlines++)
        st = pc_buf_printf(&lines, "%s: %s%c", h[i].name, h[i].value, '\0');
    if (st == PC_OK) {
        st = pc_buf_printf(&lines, "Authorization: %s%c", pc_buf_cstr(&auth), '\0');
        nlines++;
    }
    if (st == PC_OK && !has_header(q, "Content-Type")) {
        /* curl would add a form content type to a POST */
        st = pc_buf_printf(&lines, "Content-Type:%c", '\0');
        nlines++;
    }
    const char *ptrs[S3_MAX_HEADERS + 8];
    if (st == PC_OK) {
        const char *p = (const char *)lines.data;
        for (size_t i = 0; i < nlines; i++) {
            ptrs[i] = p;
            p += strlen(p) + 1;
        }
        s3_http_req hr = {.method = q->method,
                          .url = pc_buf_cstr(&url),
                          .headers = ptrs,
                          .nheaders = nlines,
                          .body = q->body,
                          .body_len = q->body_len,
                          .throttle = q->throttle,
                          .on_body = q->on_body,
                          .body_ud = q->body_ud,
                          .body_max = q->body_max ? q->body_max : REPLY_MAX};
        s3_http_perform(d->http, &hr, r);
        log_attempt(q, r, attempt);
    }
    s3_cred_wipe(&cr);
    if (lines.data)
        explicit_bzero(lines.data, lines.alloc); /* holds the session token */
    pc_buf_free(&lines);
    pc_buf_free(&path);
    pc_buf_free(&query);
    pc_buf_free(&url);
    pc_buf_free(&auth);
    return st;
}

static bool code_is(const char *code, const char *c)
{
    return strcmp(code, c) == 0;
}

pc_status s3_judge(s3 *d, const s3_req *q, const s3_http_resp *r, bool *retry)
{
    *retry = false;
    switch (r->net) {
    case S3_NET_OK:
        break;
    case S3_NET_CALLBACK:
        return r->cb_status; /* the receiver's own error record */
    case S3_NET_CONNECT:
        *retry = true;
        pc_err(PC_E_CONNECT, "could not connect to the S3 endpoint %s (%s of %s): %s", d->endpoint,
               q->method, q->what, r->net_error);
        pc_err_hint("Check --endpoint-url and that the store is reachable from this host.");
        return PC_E_CONNECT;
    case S3_NET_TIMEOUT:
        *retry = true;
        pc_err(PC_E_TIMEOUT, "%s of %s at %s timed out: %s", q->method, q->what, d->endpoint,
               r->net_error);
        pc_err_hint("Check that the store is reachable; raise --read-timeout on a slow link.");
        return PC_E_TIMEOUT;
    case S3_NET_BROKEN:
        *retry = true;
        pc_err(PC_E_CONNECT, "the connection to %s broke during %s of %s: %s", d->endpoint,
               q->method, q->what, r->net_error);
        pc_err_hint("Check --endpoint-url and that the store is reachable from this host.");
        return PC_E_CONNECT;
    case S3_NET_TLS_VERIFY:
        pc_err(PC_E_CONNECT, "the TLS certificate of %s was refused: %s", d->endpoint,
               r->net_error);
        pc_err_hint("Give the store's CA with --ca-bundle (or, for tests only, --verify-tls=off).");
        return PC_E_CONNECT;
    case S3_NET_OTHER:
        pc_err(PC_E_REMOTE, "%s of %s at %s failed: %s", q->method, q->what, d->endpoint,
               r->net_error);
        return PC_E_REMOTE;
    }

    long s = r->status;
    bool ok2xx = s >= 200 && s < 300;
    if (ok2xx && !q->error_in_200)
        return PC_OK;
    char code[64], msg[256], desc[96];
    bool has_code = s3_xml_error(r->body.data, r->body.len, code, sizeof code, msg, sizeof msg);
    if (ok2xx && !has_code)
        return PC_OK;
    if (has_code) {
        snprintf(desc, sizeof desc, "%s (HTTP %ld)", code, s);
    } else {
        snprintf(desc, sizeof desc, "HTTP %ld", s);
        snprintf(code, sizeof code, "HTTP %ld", s);
    }

    pc_status st;
    const char *hint = NULL;
    if (s == 500 || s == 502 || s == 503 || s == 504 || s == 429 ||
        code_is(code, "RequestTimeout") || code_is(code, "SlowDown") ||
        code_is(code, "InternalError") || code_is(code, "ServiceUnavailable")) {
        *retry = true;
        st = pc_err(PC_E_REMOTE, "S3 %s of %s failed: %s", q->method, q->what, desc);
    } else if (code_is(code, "SignatureDoesNotMatch") || code_is(code, "InvalidAccessKeyId") ||
               code_is(code, "AccessDenied") || code_is(code, "AllAccessDisabled") ||
               code_is(code, "ExpiredToken") || code_is(code, "InvalidToken") ||
               code_is(code, "TokenRefreshRequired") || code_is(code, "RequestTimeTooSkewed") ||
               s == 401 || s == 403) {
        st = pc_err(PC_E_AUTH, "S3 refused %s of %s: %s", q->method, q->what, desc);
        if (code_is(code, "SignatureDoesNotMatch"))
            hint = "Check the secret key (AWS_SECRET_ACCESS_KEY or the profile's "
                   "aws_secret_access_key) and --region.";
        else if (code_is(code, "InvalidAccessKeyId"))
            hint =
                "Check the access key id (AWS_ACCESS_KEY_ID or the profile's aws_access_key_id).";
        else if (code_is(code, "ExpiredToken") || code_is(code, "InvalidToken") ||
                 code_is(code, "TokenRefreshRequired"))
            hint = "Refresh the credentials: the session token has expired or is invalid.";
        else if (code_is(code, "RequestTimeTooSkewed"))
            hint = "The clock of this host is too far from the store's: synchronise it (NTP).";
        else
            hint = "Check the bucket policy/permissions of these credentials.";
    } else if (code_is(code, "NoSuchBucket") || (s == 404 && !q->key)) {
        st = pc_err(PC_E_NO_BUCKET, "bucket \"%s\" does not exist at %s", d->bucket, d->endpoint);
        hint = "Create it (pgcask repo create), or check the repository URL and --endpoint-url.";
    } else if (s == 404 || code_is(code, "NoSuchKey") || code_is(code, "NoSuchUpload")) {
        st = pc_err(PC_E_NOT_FOUND, "%s not found (%s)", q->what, code);
    } else if (code_is(code, "BadDigest") || code_is(code, "InvalidDigest") ||
               code_is(code, "XAmzContentSHA256Mismatch")) {
        st = pc_err(PC_E_CORRUPT, "S3 rejected %s of %s: %s (the data changed in transit)",
                    q->method, q->what, code);
    } else if (s == 412) {
        st = pc_err(PC_E_CONFLICT, "precondition failed for %s (%s)", q->what, desc);
    } else if (s == 301 || code_is(code, "PermanentRedirect") ||
               code_is(code, "AuthorizationHeaderMalformed") ||
               code_is(code, "IllegalLocationConstraintException")) {
        st = pc_err(PC_E_USAGE, "S3 refused %s of %s: %s: wrong region", q->method, q->what, desc);
        if (r->bucket_region[0])
            pc_err_detail("The bucket is in region %s; pgcask signed for %s.", r->bucket_region,
                          d->region);
        hint = "Set --region to the bucket's region.";
    } else if (s == 416) {
        st = pc_err(PC_E_USAGE, "the range asked of %s is beyond its end (%s)", q->what, code);
    } else {
        st = pc_err(PC_E_REMOTE, "S3 %s of %s failed: %s", q->method, q->what, desc);
    }
    if (msg[0] && !pc_err_get()->detail[0])
        pc_err_detail("S3 says: %s", msg);
    if (hint)
        pc_err_hint("%s", hint);
    return st;
}

void s3_backoff(int attempt)
{
    int64_t cap = BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && cap < BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > BACKOFF_CAP_MS)
        cap = BACKOFF_CAP_MS;
    pc_sleep_ms((int64_t)arc4random_uniform((uint32_t)cap + 1));
}

/* Log a failure that will be retried; the record is replaced by the next attempt. */
static void note_retry(s3 *d, int attempt)
{
    pc_info("%s; retrying (%d of %d)", pc_err_get()->message, attempt + 1, d->max_retries);
}

pc_status s3_exec(s3 *d, const s3_req *q, s3_http_resp *r)
{
    s3_sums sums;
    s3_sums_compute(q, &sums);
    return s3_exec_sums(d, q, &sums, r);
}

pc_status s3_exec_sums(s3 *d, const s3_req *q, const s3_sums *sums, s3_http_resp *r)
{
    for (int attempt = 0;; attempt++) {
        pc_status st = s3_attempt(d, q, sums, attempt, r);
        if (st)
            return st;
        bool retry;
        st = s3_judge(d, q, r, &retry);
        if (st == PC_OK || !retry || attempt >= d->max_retries)
            return st;
        note_retry(d, attempt);
        s3_backoff(attempt);
    }
}

/* ---- open / close ---- */

static void s3_close(void *impl)
{
    s3 *d = impl;
    if (!d)
        return;
    s3_http_free(d->http);
    s3_creds_free(d->creds);
    free(d->bucket);
    free(d->prefix);
    free(d->base_url);
    free(d->host);
    free(d->path_base);
    free(d->endpoint);
    free(d->region);
    free(d->sse);
    free(d->kms_key);
    free(d->tags);
    free(d);
}

static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > 255)
        return false;
    for (const char *c = b; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
            return false;
    return true;
}

/* Usable as a host name label: virtual hosting without TLS name trouble. */
static bool bucket_dns_plain(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return false;
    for (const char *c = b; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') && *c != '-')
            return false;
    return true;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *p = pc_strdup(s);
    if (!p)
        *oom = true;
    return p;
}

/* Split the endpoint URL with curl's parser; PC_E_USAGE naming it when unusable. */
static pc_status parse_endpoint(s3 *d, const char *ep, bool virtual_host)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *query = NULL;
    pc_status st = PC_OK;
    if (!u)
        return pc_err(PC_E_INTERNAL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, ep, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        st = pc_err(PC_E_USAGE, "invalid endpoint URL \"%s\"", ep);
        pc_err_hint("Use http(s)://host[:port], e.g. https://s3.eu-west-1.amazonaws.com or "
                    "http://127.0.0.1:9000.");
    }
    if (st == PC_OK && curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        /* never echo it: the URL holds a password */
        st = pc_err(PC_E_USAGE, "the endpoint URL must not contain a user name or password");
        pc_err_hint("Give credentials through the AWS variables or a profile.");
    }
    if (st == PC_OK) {
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when written */
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        bool https = strcasecmp(scheme, "https") == 0;
        bool default_port = !port || strcmp(port, https ? "443" : "80") == 0;
        size_t plen = path ? strlen(path) : 0;
        while (plen > 0 && path[plen - 1] == '/')
            plen--;
        d->host = pc_asprintf("%s%s%s%s%s", virtual_host ? d->bucket : "", virtual_host ? "." : "",
                              host, default_port ? "" : ":", default_port ? "" : port);
        d->base_url = d->host ? pc_asprintf("%s://%s", https ? "https" : "http", d->host) : NULL;
        d->path_base = pc_asprintf("%.*s%s%s", (int)plen, path ? path : "", virtual_host ? "" : "/",
                                   virtual_host ? "" : d->bucket);
        d->endpoint = pc_strdup(ep);
        if (!d->host || !d->base_url || !d->path_base || !d->endpoint)
            st = PC_E_INTERNAL;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_free(query);
    curl_url_cleanup(u);
    return st;
}

static pc_status s3_open(const repo_opts *o, const char *rest, void **impl)
{
    pc_status lst = s3_curl_load();
    if (lst)
        return lst;
    s3 *d = pc_calloc(1, sizeof *d);
    if (!d)
        return PC_E_INTERNAL;
    atomic_init(&d->no_batch_delete, false);
    pc_status st = PC_OK;
    bool oom = false;

    const char *slash = strchr(rest, '/');
    d->bucket = slash ? pc_strndup(rest, (size_t)(slash - rest)) : pc_strdup(rest);
    if (!d->bucket) {
        s3_close(d);
        return PC_E_INTERNAL;
    }
    if (!bucket_valid(d->bucket)) {
        st = pc_err(PC_E_USAGE, "invalid bucket name \"%s\" in the repository URL", d->bucket);
        pc_err_hint("Use s3://bucket[/prefix]; bucket names use letters, digits, '.', '-'.");
    }
    if (st == PC_OK) {
        const char *p = slash ? slash + 1 : "";
        while (*p == '/')
            p++;
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
            n--;
        char *pfx = pc_strndup(p, n);
        st = pfx ? PC_OK : PC_E_INTERNAL;
        if (st == PC_OK && n > 0 && repo_key_check(pfx) != PC_OK) {
            st = pc_err(PC_E_USAGE, "invalid prefix \"%s\" in the repository URL", pfx);
            pc_err_hint("The prefix must not contain \"//\", \".\" or \"..\" components.");
        }
        if (st == PC_OK)
            d->prefix = pc_asprintf("%s%s", pfx, n ? "/" : "");
        free(pfx);
        if (st == PC_OK && !d->prefix)
            st = PC_E_INTERNAL;
    }

    const char *addr = o->addressing ? o->addressing : "auto";
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    bool has_ep = o->endpoint_url && *o->endpoint_url;
    bool virtual_host = false;
    if (st == PC_OK) {
        if (strcmp(addr, "virtual") == 0) {
            virtual_host = true;
        } else if (strcmp(addr, "auto") == 0) {
            virtual_host = !has_ep && bucket_dns_plain(d->bucket);
        } else if (strcmp(addr, "path") != 0) {
            st = pc_err(PC_E_USAGE, "invalid S3 addressing \"%s\"", addr);
            pc_err_hint("Use auto, path or virtual.");
        }
        if (st == PC_OK && virtual_host && !bucket_dns_plain(d->bucket) && strchr(d->bucket, '_')) {
            st = pc_err(PC_E_USAGE, "bucket \"%s\" cannot be addressed as a virtual host",
                        d->bucket);
            pc_err_hint("Use --s3-addressing path.");
        }
    }
    if (st == PC_OK &&
        (o->part_size < 5 * 1024 * 1024 || o->part_size > (uint64_t)5 * 1024 * 1024 * 1024))
        st = pc_err(PC_E_USAGE, "part-size must be between 5MiB and 5GiB");
    if (st == PC_OK && (o->parts_in_flight < 1 || o->parts_in_flight > 64))
        st = pc_err(PC_E_USAGE, "parts-in-flight must be between 1 and 64");
    if (st == PC_OK && (o->max_retries < 0 || o->max_retries > 100))
        st = pc_err(PC_E_USAGE, "max-retries must be between 0 and 100");
    if (st == PC_OK) {
        char *def = has_ep ? NULL : pc_asprintf("https://s3.%s.amazonaws.com", region);
        st = has_ep || def ? parse_endpoint(d, has_ep ? o->endpoint_url : def, virtual_host)
                           : PC_E_INTERNAL;
        free(def);
    }
    if (st == PC_OK) {
        d->region = pc_strdup(region);
        d->sse = dup_or_null(o->sse, &oom);
        d->kms_key = dup_or_null(o->sse_kms_key_id, &oom);
        d->tags = dup_or_null(o->tags, &oom);
        if (!d->region || oom)
            st = PC_E_INTERNAL;
        d->max_retries = o->max_retries;
        d->part_size = o->part_size;
        d->parts_in_flight = o->parts_in_flight;
    }
    if (st == PC_OK) {
        s3_http_opts ho = {.connect_timeout_ms = o->connect_timeout_ms,
                           .read_timeout_ms = o->read_timeout_ms,
                           .ca_bundle = o->ca_bundle && *o->ca_bundle ? o->ca_bundle : NULL,
                           .verify_tls = o->verify_tls,
                           .max_send_bps = o->max_bandwidth};
        st = s3_http_new(&ho, &d->http);
    }
    if (st == PC_OK)
        st = s3_creds_new(o->profile && *o->profile ? o->profile : NULL, region, &d->creds);
    if (st) {
        s3_close(d);
        return st;
    }
    pc_debug("s3 repository: bucket %s, prefix \"%s\", endpoint %s (%s addressing), "
             "credentials from %s",
             d->bucket, d->prefix, d->base_url, virtual_host ? "virtual-host" : "path",
             s3_creds_source(d->creds));
    *impl = d;
    return PC_OK;
}

/* ---- put ---- */

static pc_status s3_put(void *impl, const char *key, const void *data, size_t len,
                        const repo_put_opts *po)
{
    s3 *d = impl;
    s3_hdrs h = {0};
    char *full = s3_full_key(d, key), *what = s3_what_key(key);
    pc_status st = full && what ? s3_object_headers(d, po, &h) : PC_E_INTERNAL;
    if (st == PC_OK) {
        s3_req q = {.method = "PUT",
                    .key = full,
                    .what = what,
                    .headers = h.kv,
                    .nheaders = h.n,
                    .body = data,
                    .body_len = len,
                    .md5 = true,
                    .throttle = true};
        s3_http_resp r;
        s3_http_resp_init(&r);
        st = s3_exec(d, &q, &r);
        s3_http_resp_free(&r);
    }
    s3_hdrs_free(&h);
    free(full);
    free(what);
    return st;
}

/* ---- get ---- */

typedef struct get_ctx {
    pc_sink *dest;
    const char *what;
    repo_obj *info;
    uint64_t offset, length; /* as asked by the caller */
    uint64_t start;          /* absolute offset asked for in this attempt */
    uint64_t limit;          /* bytes still wanted (UINT64_MAX: to the end) */
    uint64_t skip;           /* leading bytes to drop when the store ignored Range */
    bool started;            /* this attempt's reply was checked */
    uint64_t reached;        /* bytes given to dest, over all attempts */
    uint64_t total;          /* bytes the whole get delivers, UINT64_MAX until known */
    char etag[96];           /* of the first reply: every resumed reply must match it */
} get_ctx;

/* The first 2xx reply fixes what the whole get delivers. */
/* The x-amz-meta-* headers of a reply (GET or HEAD) into an object description. */
static void copy_meta(const s3_http_resp *r, repo_obj *info)
{
    info->nmeta = 0;
    for (size_t i = 0; i < r->nmeta && info->nmeta < REPO_META_MAX; i++) {
        snprintf(info->meta_key[info->nmeta], sizeof info->meta_key[0], "%s", r->meta_key[i]);
        snprintf(info->meta_value[info->nmeta], sizeof info->meta_value[0], "%s",
                 r->meta_value[i]);
        info->nmeta++;
    }
}

static void get_first_reply(get_ctx *g, const s3_http_resp *r)
{
    uint64_t size = r->has_range             ? r->range_total
                    : r->content_length >= 0 ? (uint64_t)r->content_length
                                             : UINT64_MAX;
    snprintf(g->etag, sizeof g->etag, "%s", r->etag[0] ? r->etag : "-");
    if (size != UINT64_MAX) {
        uint64_t avail = size > g->offset ? size - g->offset : 0;
        g->total = g->length && g->length < avail ? g->length : avail;
    }
    if (g->info) {
        g->info->size = size != UINT64_MAX ? size : 0;
        g->info->mtime_us = http_date_us(r->last_modified);
        s3_etag_copy(g->info->etag, r->etag);
        copy_meta(r, g->info);
    }
}

/* Check a reply before its first byte reaches dest. */
static pc_status get_check_reply(get_ctx *g, const s3_http_resp *r)
{
    g->started = true;
    if (!g->etag[0])
        get_first_reply(g, r);
    else if (r->etag[0] && strcmp(g->etag, "-") != 0 && strcmp(g->etag, r->etag) != 0) {
        pc_err(PC_E_CONFLICT, "%s changed during download", g->what);
        pc_err_hint("Another writer replaced it; run the command again.");
        return PC_E_CONFLICT;
    }
    if (r->status == 200)
        g->skip = g->start; /* the store sent the whole object */
    else if (!r->has_range || r->range_first != g->start)
        return pc_err(PC_E_REMOTE, "S3 answered GET of %s with another range than asked", g->what);
    return PC_OK;
}

static pc_status get_body(void *ud, const s3_http_resp *r, const void *data, size_t len)
{
    get_ctx *g = ud;
    const char *p = data;
    if (!g->started) {
        pc_status st = get_check_reply(g, r);
        if (st)
            return st;
    }
    if (g->skip) {
        size_t n = g->skip < len ? (size_t)g->skip : len;
        g->skip -= n;
        p += n;
        len -= n;
    }
    if ((uint64_t)len > g->limit)
        len = (size_t)g->limit;
    if (len == 0)
        return PC_OK;
    pc_status st = pc_sink_write(g->dest, p, len);
    if (st == PC_OK) {
        g->reached += len;
        if (g->limit != UINT64_MAX)
            g->limit -= len;
    }
    return st;
}

static pc_status s3_get(void *impl, const char *key, uint64_t offset, uint64_t length,
                        pc_sink *dest, repo_obj *info)
{
    s3 *d = impl;
    char *full = s3_full_key(d, key), *what = s3_what_key(key);
    if (!full || !what) {
        free(full);
        free(what);
        return PC_E_INTERNAL;
    }
    get_ctx g = {.dest = dest,
                 .what = what,
                 .info = info,
                 .offset = offset,
                 .length = length,
                 .total = UINT64_MAX};
    char range[64], ifmatch[100];
    s3_kv h[2];
    s3_req q = {.method = "GET",
                .key = full,
                .what = what,
                .headers = h,
                .on_body = get_body,
                .body_ud = &g};
    s3_sums sums;
    s3_sums_compute(&q, &sums);
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st;
    for (int attempt = 0;; attempt++) {
        g.start = offset + g.reached;
        g.limit = length ? length - g.reached : UINT64_MAX;
        g.skip = 0;
        g.started = false;
        q.nheaders = 0;
        if (g.start > 0 || length > 0) {
            if (length)
                snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)g.start,
                         (unsigned long long)(offset + length - 1));
            else
                snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)g.start);
            h[q.nheaders++] = (s3_kv){"Range", range};
        }
        if (g.reached > 0 && g.etag[0] && strcmp(g.etag, "-") != 0) {
            /* resume only the version whose first bytes dest already has */
            snprintf(ifmatch, sizeof ifmatch, g.etag[0] == '"' ? "%s" : "\"%s\"", g.etag);
            h[q.nheaders++] = (s3_kv){"If-Match", ifmatch};
        }
        st = s3_attempt(d, &q, &sums, attempt, &r);
        if (st)
            break;
        if (r.net == S3_NET_OK && r.status == 412 && g.reached > 0) {
            st = pc_err(PC_E_CONFLICT, "%s changed during download", what);
            pc_err_hint("Another writer replaced it; run the command again.");
            break;
        }
        if (!g.started && (r.status == 200 || r.status == 206) &&
            (r.net == S3_NET_OK || r.net == S3_NET_BROKEN || r.net == S3_NET_TIMEOUT)) {
            /* no body byte arrived: an empty object or range, or a break before the body */
            st = get_check_reply(&g, &r);
            if (st)
                break;
        }
        if (g.total != UINT64_MAX && g.reached == g.total && r.net != S3_NET_CALLBACK) {
            /* every wanted byte arrived; a break after them loses nothing */
            st = PC_OK;
            break;
        }
        bool retry;
        st = s3_judge(d, &q, &r, &retry);
        if (st == PC_OK) {
            if (g.total != UINT64_MAX && g.reached != g.total)
                st = pc_err(PC_E_CORRUPT, "GET of %s delivered %llu bytes instead of %llu", what,
                            (unsigned long long)g.reached, (unsigned long long)g.total);
            break;
        }
        if (!retry || attempt >= d->max_retries)
            break;
        note_retry(d, attempt);
        s3_backoff(attempt);
    }
    s3_http_resp_free(&r);
    free(full);
    free(what);
    return st;
}

/* ---- head ---- */

static pc_status s3_head(void *impl, const char *key, repo_obj *info)
{
    s3 *d = impl;
    char *full = s3_full_key(d, key), *what = s3_what_key(key);
    pc_status st = full && what ? PC_OK : PC_E_INTERNAL;
    if (st == PC_OK) {
        s3_req q = {.method = "HEAD", .key = full, .what = what};
        s3_http_resp r;
        s3_http_resp_init(&r);
        st = s3_exec(d, &q, &r);
        if (st == PC_OK) {
            info->size = r.content_length >= 0 ? (uint64_t)r.content_length : 0;
            info->mtime_us = http_date_us(r.last_modified);
            s3_etag_copy(info->etag, r.etag);
            copy_meta(&r, info);
        }
        s3_http_resp_free(&r);
    }
    free(full);
    free(what);
    return st;
}

/* ---- list ---- */

typedef struct list_item {
    char *key;
    bool is_prefix;
    uint64_t size;
    int64_t mtime_us;
    char etag[REPO_ETAG_MAX];
} list_item;

typedef struct list_page {
    list_item *items;
    size_t n, cap;
    list_item cur;
    char *token;
    bool truncated;
    s3_xml *xml;
} list_page;

static void list_page_clear(list_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].key);
    p->n = 0;
    free(p->cur.key);
    memset(&p->cur, 0, sizeof p->cur);
    free(p->token);
    p->token = NULL;
    p->truncated = false;
    s3_xml_free(p->xml);
    p->xml = NULL;
}

static pc_status list_push(list_page *p, bool is_prefix)
{
    if (!p->cur.key)
        return pc_err(PC_E_REMOTE, "S3 listed an entry without a key");
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        list_item *ni = pc_realloc(p->items, nc * sizeof *ni);
        if (!ni)
            return PC_E_INTERNAL;
        p->items = ni;
        p->cap = nc;
    }
    p->cur.is_prefix = is_prefix;
    p->items[p->n++] = p->cur;
    memset(&p->cur, 0, sizeof p->cur);
    return PC_OK;
}

static pc_status parse_u64_text(const char *t, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(t, &end, 10);
    if (!*t || *end || errno || *t == '-')
        return pc_err(PC_E_REMOTE, "S3 listed an invalid size \"%s\"", t);
    *out = v;
    return PC_OK;
}

static pc_status list_xml_cb(void *ud, const char *path, const char *text, size_t len)
{
    list_page *p = ud;
    static const char root[] = "ListBucketResult/";
    if (strncmp(path, root, sizeof root - 1) != 0)
        return PC_OK;
    path += sizeof root - 1;
    if (strcmp(path, "Contents/Key") == 0 || strcmp(path, "CommonPrefixes/Prefix") == 0) {
        free(p->cur.key);
        p->cur.key = pc_strndup(text, len);
        return p->cur.key ? PC_OK : PC_E_INTERNAL;
    }
    if (strcmp(path, "Contents/Size") == 0)
        return parse_u64_text(text, &p->cur.size);
    if (strcmp(path, "Contents/LastModified") == 0) {
        int64_t us;
        if (pc_time_parse(text, &us) != PC_OK)
            return pc_err(PC_E_REMOTE, "S3 listed an invalid LastModified \"%s\"", text);
        p->cur.mtime_us = us;
        return PC_OK;
    }
    if (strcmp(path, "Contents/ETag") == 0) {
        s3_etag_copy(p->cur.etag, text);
        return PC_OK;
    }
    if (strcmp(path, "Contents") == 0)
        return list_push(p, false);
    if (strcmp(path, "CommonPrefixes") == 0)
        return list_push(p, true);
    if (strcmp(path, "NextContinuationToken") == 0) {
        free(p->token);
        p->token = pc_strndup(text, len);
        return p->token ? PC_OK : PC_E_INTERNAL;
    }
    if (strcmp(path, "IsTruncated") == 0)
        p->truncated = strcmp(text, "true") == 0;
    return PC_OK;
}

static pc_status list_body(void *ud, const s3_http_resp *r, const void *data, size_t len)
{
    list_page *p = ud;
    return s3_xml_feed(p->xml, data, len);
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const list_item *)a)->key, ((const list_item *)b)->key);
}

static pc_status s3_list(void *impl, const char *prefix, const char *delimiter, repo_list_cb cb,
                         void *ud)
{
    s3 *d = impl;
    char *full = s3_full_key(d, prefix);
    char *what = pc_asprintf("listing of \"%s\"", prefix);
    list_page p = {0};
    pc_status st = full && what ? PC_OK : PC_E_INTERNAL;
    size_t plen = strlen(d->prefix);
    s3_http_resp r;
    s3_http_resp_init(&r);
    char *token = NULL;
    bool more = true;
    while (st == PC_OK && more) {
        s3_kv qp[5] = {{"list-type", "2"}, {"max-keys", LIST_PAGE}, {"prefix", full}};
        size_t nq = 3;
        if (delimiter && *delimiter)
            qp[nq++] = (s3_kv){"delimiter", delimiter};
        if (token)
            qp[nq++] = (s3_kv){"continuation-token", token};
        s3_req q = {.method = "GET",
                    .what = what,
                    .query = qp,
                    .nquery = nq,
                    .on_body = list_body,
                    .body_ud = &p};
        s3_sums sums;
        s3_sums_compute(&q, &sums);
        for (int attempt = 0;; attempt++) {
            list_page_clear(&p); /* a retried page starts over */
            st = s3_xml_new("ListObjectsV2 reply", list_xml_cb, &p, &p.xml);
            if (st == PC_OK)
                st = s3_attempt(d, &q, &sums, attempt, &r);
            bool retry = false;
            if (st == PC_OK)
                st = s3_judge(d, &q, &r, &retry);
            if (st == PC_OK)
                st = s3_xml_finish(p.xml);
            if (st == PC_OK || !retry || attempt >= d->max_retries)
                break;
            note_retry(d, attempt);
            s3_backoff(attempt);
        }
        if (st)
            break;
        if (p.n)
            qsort(p.items, p.n, sizeof *p.items, item_cmp);
        for (size_t i = 0; i < p.n && st == PC_OK; i++) {
            list_item *it = &p.items[i];
            if (strncmp(it->key, d->prefix, plen) != 0)
                continue; /* not ours: a store ignoring the prefix */
            repo_entry e = {.key = it->key + plen,
                            .is_prefix = it->is_prefix,
                            .size = it->size,
                            .mtime_us = it->mtime_us,
                            .etag = it->etag};
            st = cb(&e, ud);
        }
        more = p.truncated;
        if (st == PC_OK && more) {
            if (!p.token || !*p.token || (token && strcmp(token, p.token) == 0)) {
                st = pc_err(PC_E_REMOTE,
                            "S3 listing of \"%s\" is truncated without a usable "
                            "continuation token",
                            prefix);
                break;
            }
            free(token);
            token = p.token;
            p.token = NULL;
        }
    }
    list_page_clear(&p);
    free(p.items);
    free(token);
    s3_http_resp_free(&r);
    free(full);
    free(what);
    return st;
}

/* ---- delete ---- */

typedef struct del_result {
    char *key, *code, *msg;
    char *first_key, *first_code, *first_msg;
    size_t failed;
} del_result;

static void del_result_free(del_result *dr)
{
    free(dr->key);
    free(dr->code);
    free(dr->msg);
    free(dr->first_key);
    free(dr->first_code);
    free(dr->first_msg);
    memset(dr, 0, sizeof *dr);
}

static pc_status set_text(char **dst, const char *text, size_t len)
{
    free(*dst);
    *dst = pc_strndup(text, len);
    return *dst ? PC_OK : PC_E_INTERNAL;
}

static pc_status del_xml_cb(void *ud, const char *path, const char *text, size_t len)
{
    del_result *dr = ud;
    if (strcmp(path, "DeleteResult/Error/Key") == 0)
        return set_text(&dr->key, text, len);
    if (strcmp(path, "DeleteResult/Error/Code") == 0)
        return set_text(&dr->code, text, len);
    if (strcmp(path, "DeleteResult/Error/Message") == 0)
        return set_text(&dr->msg, text, len);
    if (strcmp(path, "DeleteResult/Error") == 0) {
        bool gone = dr->code && strcmp(dr->code, "NoSuchKey") == 0;
        if (!gone) {
            if (dr->failed++ == 0) {
                dr->first_key = dr->key;
                dr->first_code = dr->code;
                dr->first_msg = dr->msg;
                dr->key = dr->code = dr->msg = NULL;
            }
        }
        free(dr->key);
        free(dr->code);
        free(dr->msg);
        dr->key = dr->code = dr->msg = NULL;
    }
    return PC_OK;
}

static pc_status delete_one(s3 *d, const char *key)
{
    char *full = s3_full_key(d, key), *what = s3_what_key(key);
    pc_status st = full && what ? PC_OK : PC_E_INTERNAL;
    if (st == PC_OK) {
        s3_req q = {.method = "DELETE", .key = full, .what = what};
        s3_http_resp r;
        s3_http_resp_init(&r);
        st = s3_exec(d, &q, &r);
        if (st == PC_E_NOT_FOUND) {
            pc_err_clear();
            st = PC_OK;
        }
        s3_http_resp_free(&r);
    }
    free(full);
    free(what);
    return st;
}

/* One DeleteObjects batch; *refused when the store does not take the batch request at all. */
static pc_status delete_batch(s3 *d, const char *const *keys, size_t n, bool *refused)
{
    *refused = false;
    pc_buf body;
    pc_buf_init(&body, PC_BUF_NOCAP);
    pc_status st = pc_buf_append_str(&body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                            "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; i < n && st == PC_OK; i++) {
        st = pc_buf_append_str(&body, "<Object><Key>");
        if (st == PC_OK)
            st = s3_xml_escape(&body, d->prefix);
        if (st == PC_OK)
            st = s3_xml_escape(&body, keys[i]);
        if (st == PC_OK)
            st = pc_buf_append_str(&body, "</Key></Object>");
    }
    if (st == PC_OK)
        st = pc_buf_append_str(&body, "</Delete>");
    char *what = pc_asprintf("deletion of %zu objects from \"%s\"", n, keys[0]);
    if (st == PC_OK && !what)
        st = PC_E_INTERNAL;
    if (st) {
        pc_buf_free(&body);
        free(what);
        return st;
    }
    s3_kv qp[] = {{"delete", NULL}};
    s3_kv h[] = {{"Content-Type", "application/xml"}};
    s3_req q = {.method = "POST",
                .what = what,
                .query = qp,
                .nquery = 1,
                .headers = h,
                .nheaders = 1,
                .body = body.data,
                .body_len = body.len,
                .md5 = true};
    s3_http_resp r;
    s3_http_resp_init(&r);
    st = s3_exec(d, &q, &r);
    if (st && r.net == S3_NET_OK && (r.status == 400 || r.status == 405 || r.status == 501)) {
        char code[64], msg[256];
        s3_xml_error(r.body.data, r.body.len, code, sizeof code, msg, sizeof msg);
        pc_info("the store refused DeleteObjects (%s, HTTP %ld); deleting one by one",
                code[0] ? code : "no code", r.status);
        *refused = true;
        pc_err_clear();
        st = PC_OK;
    } else if (st == PC_OK) {
        del_result dr = {0};
        st = s3_xml_parse(r.body.data, r.body.len, "DeleteObjects reply", del_xml_cb, &dr);
        if (st == PC_OK && dr.failed) {
            const char *k = dr.first_key ? dr.first_key : "?";
            size_t plen = strlen(d->prefix);
            if (strncmp(k, d->prefix, plen) == 0)
                k += plen;
            const char *code = dr.first_code ? dr.first_code : "unknown error";
            bool auth = strcmp(code, "AccessDenied") == 0;
            if (dr.failed > 1)
                st = pc_err(auth ? PC_E_AUTH : PC_E_REMOTE,
                            "could not delete object \"%s\": %s (and %zu more)", k, code,
                            dr.failed - 1);
            else
                st = pc_err(auth ? PC_E_AUTH : PC_E_REMOTE, "could not delete object \"%s\": %s", k,
                            code);
            if (dr.first_msg)
                pc_err_detail("S3 says: %s", dr.first_msg);
            if (auth)
                pc_err_hint("Check the bucket policy/permissions of these credentials.");
        }
        del_result_free(&dr);
    }
    s3_http_resp_free(&r);
    pc_buf_free(&body);
    free(what);
    return st;
}

static pc_status s3_del(void *impl, const char *const *keys, size_t nkeys)
{
    s3 *d = impl;
    pc_status st = PC_OK;
    for (size_t at = 0; at < nkeys && st == PC_OK;) {
        size_t n = nkeys - at < DELETE_BATCH ? nkeys - at : DELETE_BATCH;
        bool refused = atomic_load(&d->no_batch_delete);
        if (!refused)
            st = delete_batch(d, keys + at, n, &refused);
        if (st == PC_OK && refused) {
            atomic_store(&d->no_batch_delete, true);
            for (size_t i = 0; i < n && st == PC_OK; i++)
                st = delete_one(d, keys[at + i]);
        }
        at += n;
    }
    return st;
}

/* ---- bucket ---- */

static char *what_bucket(s3 *d)
{
    return pc_asprintf("bucket \"%s\"", d->bucket);
}

static pc_status s3_check(void *impl)
{
    s3 *d = impl;
    char *what = what_bucket(d);
    if (!what)
        return PC_E_INTERNAL;
    s3_req q = {.method = "HEAD", .what = what};
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st = s3_exec(d, &q, &r);
    s3_http_resp_free(&r);
    free(what);
    return st;
}

static pc_status s3_create_bucket(void *impl)
{
    s3 *d = impl;
    char *what = what_bucket(d);
    char *body = NULL;
    if (what && strcmp(d->region, "us-east-1") != 0)
        body = pc_asprintf("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                           "</CreateBucketConfiguration>",
                           d->region);
    if (!what || (strcmp(d->region, "us-east-1") != 0 && !body)) {
        free(what);
        return PC_E_INTERNAL;
    }
    s3_req q = {.method = "PUT",
                .what = what,
                .body = body,
                .body_len = body ? strlen(body) : 0,
                .md5 = true};
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st = s3_exec(d, &q, &r);
    if (st && r.net == S3_NET_OK && r.status == 409) {
        char code[64], msg[256];
        s3_xml_error(r.body.data, r.body.len, code, sizeof code, msg, sizeof msg);
        if (strcmp(code, "BucketAlreadyOwnedByYou") == 0) {
            pc_err_clear();
            st = PC_OK;
        } else if (strcmp(code, "BucketAlreadyExists") == 0) {
            st = pc_err(PC_E_CONFLICT, "bucket \"%s\" already exists and belongs to someone else",
                        d->bucket);
            pc_err_hint("Bucket names are global on AWS: choose another name.");
        }
    }
    s3_http_resp_free(&r);
    free(body);
    free(what);
    return st;
}

/* ---- unfinished multipart uploads ---- */

typedef struct upl_item {
    char *key, *id;
} upl_item;

typedef struct upl_page {
    upl_item *items;
    size_t n, cap;
    upl_item cur;
    char *next_key, *next_id;
    bool truncated;
} upl_page;

static void upl_page_clear(upl_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].key);
        free(p->items[i].id);
    }
    p->n = 0;
    free(p->cur.key);
    free(p->cur.id);
    free(p->next_key);
    free(p->next_id);
    p->cur.key = p->cur.id = p->next_key = p->next_id = NULL;
    p->truncated = false;
}

static pc_status upl_xml_cb(void *ud, const char *path, const char *text, size_t len)
{
    upl_page *p = ud;
    static const char root[] = "ListMultipartUploadsResult/";
    if (strncmp(path, root, sizeof root - 1) != 0)
        return PC_OK;
    path += sizeof root - 1;
    if (strcmp(path, "Upload/Key") == 0)
        return set_text(&p->cur.key, text, len);
    if (strcmp(path, "Upload/UploadId") == 0)
        return set_text(&p->cur.id, text, len);
    if (strcmp(path, "NextKeyMarker") == 0)
        return set_text(&p->next_key, text, len);
    if (strcmp(path, "NextUploadIdMarker") == 0)
        return set_text(&p->next_id, text, len);
    if (strcmp(path, "IsTruncated") == 0)
        p->truncated = strcmp(text, "true") == 0;
    if (strcmp(path, "Upload") == 0) {
        if (!p->cur.key || !p->cur.id)
            return pc_err(PC_E_REMOTE, "S3 listed an upload without a key or an upload id");
        if (p->n == p->cap) {
            size_t nc = p->cap ? p->cap * 2 : 64;
            upl_item *ni = pc_realloc(p->items, nc * sizeof *ni);
            if (!ni)
                return PC_E_INTERNAL;
            p->items = ni;
            p->cap = nc;
        }
        p->items[p->n++] = p->cur;
        p->cur.key = p->cur.id = NULL;
    }
    return PC_OK;
}

/* Walk the unfinished uploads under prefix; abort each when `abort`. */
static pc_status uploads_walk(s3 *d, const char *prefix, bool abort, size_t *count)
{
    char *full = s3_full_key(d, prefix);
    char *what = pc_asprintf("unfinished uploads under \"%s\"", prefix);
    upl_page p = {0};
    char *km = NULL, *im = NULL;
    pc_status st = full && what ? PC_OK : PC_E_INTERNAL;
    *count = 0;
    bool more = true;
    while (st == PC_OK && more) {
        s3_kv qp[4] = {{"uploads", NULL}, {"prefix", full}};
        size_t nq = 2;
        if (km)
            qp[nq++] = (s3_kv){"key-marker", km};
        if (im)
            qp[nq++] = (s3_kv){"upload-id-marker", im};
        s3_req q = {.method = "GET", .what = what, .query = qp, .nquery = nq};
        s3_http_resp r;
        s3_http_resp_init(&r);
        upl_page_clear(&p);
        st = s3_exec(d, &q, &r);
        if (st == PC_OK)
            st =
                s3_xml_parse(r.body.data, r.body.len, "ListMultipartUploads reply", upl_xml_cb, &p);
        s3_http_resp_free(&r);
        for (size_t i = 0; i < p.n && st == PC_OK; i++) {
            if (abort) {
                const char *rel = p.items[i].key;
                if (strncmp(rel, d->prefix, strlen(d->prefix)) == 0)
                    rel += strlen(d->prefix);
                char *w = pc_asprintf("upload of object \"%s\"", rel);
                s3_kv aq[] = {{"uploadId", p.items[i].id}};
                s3_req a = {.method = "DELETE",
                            .key = p.items[i].key,
                            .what = w ? w : "upload",
                            .query = aq,
                            .nquery = 1};
                s3_http_resp ar;
                s3_http_resp_init(&ar);
                st = w ? s3_exec(d, &a, &ar) : PC_E_INTERNAL;
                if (st == PC_E_NOT_FOUND) { /* finished or aborted meanwhile */
                    pc_err_clear();
                    st = PC_OK;
                }
                s3_http_resp_free(&ar);
                free(w);
            }
            if (st == PC_OK)
                (*count)++;
        }
        more = p.truncated;
        if (st == PC_OK && more) {
            if (!p.next_key && !p.next_id) {
                st = pc_err(PC_E_REMOTE, "S3 listing of %s is truncated without markers", what);
                break;
            }
            free(km);
            free(im);
            km = p.next_key;
            im = p.next_id;
            p.next_key = p.next_id = NULL;
        }
    }
    upl_page_clear(&p);
    free(p.items);
    free(km);
    free(im);
    free(full);
    free(what);
    return st;
}

static pc_status s3_abort_uploads(void *impl, const char *prefix, size_t *aborted)
{
    return uploads_walk(impl, prefix, true, aborted);
}

static pc_status s3_count_uploads(void *impl, const char *prefix, size_t *count)
{
    return uploads_walk(impl, prefix, false, count);
}

const repo_driver repo_driver_s3 = {
    .scheme = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .put_stream = s3_put_stream,
    .get = s3_get,
    .head = s3_head,
    .list = s3_list,
    .del = s3_del,
    .check = s3_check,
    .create_bucket = s3_create_bucket,
    .abort_uploads = s3_abort_uploads,
    .count_uploads = s3_count_uploads,
};
