/* One HTTP exchange on libcurl, with a pool of easy handles and an upload rate limit. */
#include "s3/s3_curl.h"
#include "s3/s3_http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/pacer.h"
#include "common/timeutil.h"

#define POOL_MAX         32
#define DEFAULT_BODY_MAX (1024 * 1024)
#define ERROR_BODY_MAX   (64 * 1024)

struct s3_http {
    s3_http_opts o;
    char *ca_bundle;
    pthread_mutex_t mu; /* the pool */
    CURL *idle[POOL_MAX];
    size_t nidle;
    pc_pacer pacer; /* max_send_bps, shared by every request */
};

pc_status s3_http_new(const s3_http_opts *o, s3_http **out)
{
    pc_status st = s3_curl_load();
    if (st)
        return st;
    s3_http *h = pc_calloc(1, sizeof *h);
    if (!h)
        return PC_E_INTERNAL;
    h->o = *o;
    if (o->ca_bundle) {
        h->ca_bundle = pc_strdup(o->ca_bundle);
        if (!h->ca_bundle) {
            free(h);
            return PC_E_INTERNAL;
        }
    }
    h->o.ca_bundle = h->ca_bundle;
    pthread_mutex_init(&h->mu, NULL);
    pc_pacer_init(&h->pacer, o->max_send_bps);
    *out = h;
    return PC_OK;
}

void s3_http_free(s3_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    pthread_mutex_destroy(&h->mu);
    pc_pacer_destroy(&h->pacer);
    free(h->ca_bundle);
    free(h);
}

static CURL *handle_get(s3_http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->nidle)
        c = h->idle[--h->nidle];
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_reset(c); /* keeps the live connections */
    else
        c = curl_easy_init();
    return c;
}

static void handle_put(s3_http *h, CURL *c)
{
    pthread_mutex_lock(&h->mu);
    if (h->nidle < POOL_MAX) {
        h->idle[h->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (c)
        curl_easy_cleanup(c);
}

void s3_http_resp_init(s3_http_resp *r)
{
    memset(r, 0, sizeof *r);
    pc_buf_init(&r->body, DEFAULT_BODY_MAX);
    r->content_length = -1;
}

static void reset_headers(s3_http_resp *r)
{
    r->status = 0;
    r->content_length = -1;
    r->has_range = false;
    r->range_first = r->range_last = r->range_total = 0;
    r->etag[0] = r->last_modified[0] = r->bucket_region[0] = '\0';
    r->nmeta = 0;
}

void s3_http_resp_reset(s3_http_resp *r)
{
    reset_headers(r);
    r->net = S3_NET_OK;
    r->cb_status = PC_OK;
    r->net_error[0] = '\0';
    pc_buf_reset(&r->body);
    r->body_bytes = 0;
    r->elapsed_ms = 0;
}

void s3_http_resp_free(s3_http_resp *r)
{
    pc_buf_free(&r->body);
}

const char *s3_net_name(s3_net n)
{
    switch (n) {
    case S3_NET_OK:
        return "ok";
    case S3_NET_CONNECT:
        return "could not connect";
    case S3_NET_TIMEOUT:
        return "timed out";
    case S3_NET_BROKEN:
        return "connection broken";
    case S3_NET_TLS_VERIFY:
        return "TLS certificate refused";
    case S3_NET_CALLBACK:
        return "stopped by the receiver";
    case S3_NET_OTHER:
        return "transfer failed";
    }
    return "?";
}

typedef struct xfer {
    s3_http *h;
    const s3_http_req *req;
    s3_http_resp *resp;
    size_t sent;
    size_t chunk; /* throttled read size */
    int64_t read_timeout_ms;
    int64_t last_move_ms;
    curl_off_t last_dl, last_ul;
    bool stalled;
} xfer;

/*
 * The read timeout, exactly: no byte moved either way for read_timeout_ms.
 * CURLOPT_LOW_SPEED_TIME averages over a window of several seconds, so a
 * burst followed by silence went unnoticed for far longer than asked.
 */
static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    xfer *x = ud;
    int64_t now = pc_now_mono_ms();
    if (dlnow != x->last_dl || ulnow != x->last_ul || x->last_move_ms == 0) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        x->last_move_ms = now;
        return 0;
    }
    if (now - x->last_move_ms >= x->read_timeout_ms) {
        x->stalled = true;
        return 1;
    }
    return 0;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    size_t left = x->req->body_len - x->sent;
    if (n > left)
        n = left;
    if (x->req->throttle && x->h->o.max_send_bps) {
        if (n > x->chunk)
            n = x->chunk;
        if (n)
            pc_pacer_wait(&x->h->pacer, n);
    }
    if (n)
        memcpy(buf, (const char *)x->req->body + x->sent, n);
    x->sent += n;
    return n;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    s3_http_resp *r = x->resp;
    size_t n = size * nmemb;
    if (is_2xx(r->status) && x->req->on_body) {
        pc_status st = x->req->on_body(x->req->body_ud, r, data, n);
        if (st) {
            r->cb_status = st;
            return CURL_WRITEFUNC_ERROR;
        }
        r->body_bytes += n;
        return n;
    }
    if (!is_2xx(r->status)) {
        /* an error document only needs its Code and Message: keep the head */
        size_t room = r->body.len < ERROR_BODY_MAX ? ERROR_BODY_MAX - r->body.len : 0;
        pc_buf_append(&r->body, data, n < room ? n : room);
        return n;
    }
    if (pc_buf_append(&r->body, data, n)) {
        r->cb_status = pc_err(PC_E_REMOTE, "the reply to %s %s is larger than %zu bytes",
                              x->req->method, x->req->url, r->body.cap);
        return CURL_WRITEFUNC_ERROR;
    }
    r->body_bytes += n;
    return n;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static bool parse_u64(const char *s, const char *end, uint64_t *out, const char **stop)
{
    uint64_t v = 0;
    const char *p = s;
    while (p < end && isdigit((unsigned char)*p)) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    *out = v;
    *stop = p;
    return p > s;
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    s3_http_resp *r = x->resp;
    size_t n = size * nitems;
    const char *end = line + n;
    while (end > line && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new reply (after 100 Continue, or the first one) */
        reset_headers(r);
        const char *sp = memchr(line, ' ', (size_t)(end - line));
        uint64_t code;
        const char *stop;
        if (sp && parse_u64(sp + 1, end, &code, &stop) && code < 1000)
            r->status = (long)code;
        return n;
    }
    const char *colon = memchr(line, ':', (size_t)(end - line));
    if (!colon)
        return n;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(end - v);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
    if (IS("Content-Length")) {
        uint64_t cl;
        const char *stop;
        if (parse_u64(v, end, &cl, &stop) && stop == end && cl <= INT64_MAX)
            r->content_length = (int64_t)cl;
    } else if (IS("Content-Range")) {
        /* bytes first-last/total */
        const char *p = v, *stop;
        if (vlen > 6 && strncasecmp(p, "bytes ", 6) == 0) {
            p += 6;
            uint64_t a, b, t;
            if (parse_u64(p, end, &a, &stop) && *stop == '-' &&
                parse_u64(stop + 1, end, &b, &stop) && *stop == '/' &&
                parse_u64(stop + 1, end, &t, &stop) && stop == end && a <= b && b < t) {
                r->has_range = true;
                r->range_first = a;
                r->range_last = b;
                r->range_total = t;
            }
        }
    } else if (IS("ETag")) {
        copy_value(r->etag, sizeof r->etag, v, vlen);
    } else if (IS("Last-Modified")) {
        copy_value(r->last_modified, sizeof r->last_modified, v, vlen);
    } else if (IS("x-amz-bucket-region")) {
        copy_value(r->bucket_region, sizeof r->bucket_region, v, vlen);
    } else if (nlen > 11 && strncasecmp(line, "x-amz-meta-", 11) == 0 &&
               r->nmeta < S3_HTTP_META_MAX) {
        char *k = r->meta_key[r->nmeta];
        copy_value(k, sizeof r->meta_key[0], line + 11, nlen - 11);
        for (; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        copy_value(r->meta_value[r->nmeta], sizeof r->meta_value[0], v, vlen);
        r->nmeta++;
    }
#undef IS
    return n;
}

static s3_net classify(CURLcode rc, const xfer *x)
{
    const s3_http_resp *r = x->resp;
    if (x->stalled)
        return S3_NET_TIMEOUT;
    switch (rc) {
    case CURLE_OK:
        return S3_NET_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
        return S3_NET_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return S3_NET_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return S3_NET_TLS_VERIFY;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        return r->cb_status ? S3_NET_CALLBACK : S3_NET_BROKEN;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return S3_NET_BROKEN;
    default:
        return S3_NET_OTHER;
    }
}

void s3_http_perform(s3_http *h, const s3_http_req *req, s3_http_resp *resp)
{
    s3_http_resp_reset(resp);
    if (req->body_max)
        resp->body.cap = req->body_max;
    int64_t t0 = pc_now_mono_ms();
    CURL *c = handle_get(h);
    struct curl_slist *hl = NULL, *tmp;
    char errbuf[CURL_ERROR_SIZE] = "";
    if (!c) {
        resp->net = S3_NET_OTHER;
        snprintf(resp->net_error, sizeof resp->net_error, "could not create a curl handle");
        return;
    }
    bool ok = true;
    for (size_t i = 0; i < req->nheaders && ok; i++) {
        tmp = curl_slist_append(hl, req->headers[i]);
        ok = tmp != NULL;
        hl = ok ? tmp : hl;
    }
    /* 100-continue costs a round trip per PUT and some stores get it wrong */
    if (ok && (tmp = curl_slist_append(hl, "Expect:")))
        hl = tmp;
    else
        ok = false;
    if (!ok) {
        curl_slist_free_all(hl);
        handle_put(h, c);
        resp->net = S3_NET_OTHER;
        snprintf(resp->net_error, sizeof resp->net_error, "out of memory");
        return;
    }

    xfer x = {.h = h, .req = req, .resp = resp};
    if (h->o.max_send_bps)
        x.chunk = pc_pacer_chunk(&h->pacer);
    int64_t cto = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : h->o.connect_timeout_ms;
    x.read_timeout_ms = h->o.read_timeout_ms > 0 ? h->o.read_timeout_ms : 60000;

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pgcask/" PGCASK_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(cto > 0 ? cto : 10000));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    if (req->total_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->total_timeout_ms);
    if (req->no_proxy)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (h->o.ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_bundle);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->o.verify_tls ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->o.verify_tls ? 2L : 0L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &x);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);

    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode rc = curl_easy_perform(c);
    resp->net = classify(rc, &x);
    if (rc == CURLE_OK && is_2xx(resp->status) && resp->content_length >= 0 &&
        strcmp(req->method, "HEAD") != 0 && resp->body_bytes != (uint64_t)resp->content_length) {
        /* curl accepts a body that ends early on a closed connection; a store must not */
        resp->net = S3_NET_BROKEN;
        snprintf(resp->net_error, sizeof resp->net_error, "the body ended after %llu of %lld bytes",
                 (unsigned long long)resp->body_bytes, (long long)resp->content_length);
    } else if (x.stalled) {
        snprintf(resp->net_error, sizeof resp->net_error, "no data moved for %lld ms",
                 (long long)x.read_timeout_ms);
    } else if (resp->net != S3_NET_OK) {
        snprintf(resp->net_error, sizeof resp->net_error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    handle_put(h, c);
    curl_slist_free_all(hl);
    resp->elapsed_ms = pc_now_mono_ms() - t0;
}
