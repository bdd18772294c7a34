#ifndef PGCASK_S3_HTTP_H
#define PGCASK_S3_HTTP_H

/*
 * One HTTP exchange on libcurl, nothing S3-specific: the caller signs,
 * retries and maps statuses. Easy handles are kept in a small
 * mutex-protected pool per s3_http so connections are reused (keep-alive);
 * s3_http_perform may be called from several threads at once.
 *
 * s3_http_perform never fails as a function: the outcome is in the reply
 * (`net` says whether an HTTP answer arrived, `status` what it was). Only
 * a failing body callback leaves its own error record.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/status.h"

typedef struct s3_http s3_http;

typedef struct s3_http_opts {
    int64_t connect_timeout_ms;
    int64_t read_timeout_ms; /* no byte moving either way for this long aborts the exchange */
    const char *ca_bundle;   /* NULL: the system store; copied */
    bool verify_tls;
    uint64_t
        max_send_bps; /* upload bandwidth shared by every request of this handle; 0 = no limit */
} s3_http_opts;

pc_status s3_http_new(const s3_http_opts *o, s3_http **out);
void s3_http_free(s3_http *h); /* NULL is a no-op; no request may be running */

/* What ended the exchange. */
typedef enum s3_net {
    S3_NET_OK = 0,     /* a complete HTTP reply arrived (any status) */
    S3_NET_CONNECT,    /* name resolution, TCP connect or TLS handshake failed */
    S3_NET_TIMEOUT,    /* no progress for the read timeout (or the total timeout) */
    S3_NET_BROKEN,     /* reset, short body, empty reply, send/receive failure */
    S3_NET_TLS_VERIFY, /* the server's certificate was refused (not transient) */
    S3_NET_CALLBACK,   /* the body callback failed: cb_status, error record set */
    S3_NET_OTHER,      /* anything else curl reports (bad URL, out of memory) */
} s3_net;

#define S3_HTTP_META_MAX 8

typedef struct s3_http_resp {
    s3_net net;
    pc_status cb_status;
    char net_error[256];    /* curl's description when net != OK */
    long status;            /* HTTP status of the final reply, 0 when none */
    pc_buf body;            /* the reply body when not streamed to on_body (capped) */
    uint64_t body_bytes;    /* body bytes given to on_body */
    int64_t content_length; /* -1 when absent */
    bool has_range;         /* Content-Range: bytes first-last/total */
    uint64_t range_first, range_last, range_total;
    char etag[96]; /* as sent, quotes included */
    char last_modified[64];
    char bucket_region[64]; /* x-amz-bucket-region */
    size_t nmeta;           /* x-amz-meta-* headers, names lower-cased without the prefix */
    char meta_key[S3_HTTP_META_MAX][64];
    char meta_value[S3_HTTP_META_MAX][256];
    int64_t elapsed_ms;
} s3_http_resp;

/* Body bytes of a 2xx reply. A failure stops the transfer (S3_NET_CALLBACK). */
typedef pc_status (*s3_http_body_fn)(void *ud, const s3_http_resp *r, const void *data, size_t len);

typedef struct s3_http_req {
    const char *method; /* GET HEAD PUT POST DELETE */
    const char *url;
    const char *const *headers; /* "Name: value" lines; "Name:" removes a curl default */
    size_t nheaders;
    const void *body; /* PUT/POST body (may be NULL with body_len 0) */
    size_t body_len;
    bool throttle;           /* the body counts against max_send_bps */
    s3_http_body_fn on_body; /* 2xx body; NULL collects it into resp->body */
    void *body_ud;
    size_t body_max;            /* cap of resp->body (default 1 MiB); beyond it a 2xx fails */
    int64_t connect_timeout_ms; /* overrides the handle's when > 0 */
    int64_t total_timeout_ms;   /* whole exchange; 0 = none */
    bool no_proxy;              /* link-local metadata services are never proxied */
} s3_http_req;

void s3_http_resp_init(s3_http_resp *r);
void s3_http_resp_reset(s3_http_resp *r); /* before reusing r for another attempt */
void s3_http_resp_free(s3_http_resp *r);

void s3_http_perform(s3_http *h, const s3_http_req *req, s3_http_resp *resp);

/* "connection refused", "timed out" ...: the outcome in words, for messages. */
const char *s3_net_name(s3_net n);

#endif
