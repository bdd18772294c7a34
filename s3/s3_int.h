#ifndef PGCASK_S3_INT_H
#define PGCASK_S3_INT_H

/*
 * Inside the S3 driver (s3.c: requests and simple operations,
 * s3_upload.c: the streaming multipart put). Not for use outside s3/.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "s3/repo_driver.h"
#include "s3/s3_creds.h"
#include "s3/s3_http.h"
#include "s3/s3_sigv4.h"

/* The driver state behind one repo handle; read-only after open except `no_batch_delete`. */
typedef struct s3 {
    char *bucket;
    char *prefix;    /* "" or "dir/sub/" */
    char *base_url;  /* scheme://host[:port] (the bucket included for virtual hosting) */
    char *host;      /* Host header, as signed */
    char *path_base; /* "" (virtual hosting) or "/bucket", after the endpoint's own path */
    char *endpoint;  /* for messages */
    char *region;
    char *sse, *kms_key, *tags;
    int max_retries;
    uint64_t part_size;
    int parts_in_flight;
    s3_http *http;
    s3_creds *creds;
    atomic_bool no_batch_delete; /* the store refused DeleteObjects once */
} s3;

#define S3_MAX_HEADERS 32

/* One logical S3 request; every pointer is borrowed for the call. */
typedef struct s3_req {
    const char *method;
    const char *key;    /* full key (prefix included), NULL for the bucket itself */
    const char *what;   /* how messages name the target: object "pg1/x", bucket "b" */
    const s3_kv *query; /* raw parameters (encoded when signing) */
    size_t nquery;
    const s3_kv *headers; /* extra headers, all signed */
    size_t nheaders;
    const void *body;
    size_t body_len;
    bool md5;                /* send Content-MD5 of the body */
    bool throttle;           /* the body counts against max_bandwidth */
    bool error_in_200;       /* a 200 reply may carry an <Error> (CompleteMultipartUpload) */
    s3_http_body_fn on_body; /* 2xx body; NULL collects it into the reply */
    void *body_ud;
    size_t body_max;
} s3_req;

/* Digests of a request body, computed once for all attempts. */
typedef struct s3_sums {
    char sha256[65];
    unsigned char md5[16]; /* when q->md5 */
    char md5_b64[25];
} s3_sums;

void s3_sums_compute(const s3_req *q, s3_sums *out);

/* Sign and send once (attempt 0 is the first). Non-PC_OK only for local failures (credentials,
 * memory). */
pc_status s3_attempt(s3 *d, const s3_req *q, const s3_sums *sums, int attempt, s3_http_resp *r);
/*
 * PC_OK for a 2xx reply; otherwise record the error naming q->what and set
 * *retry when another attempt may succeed.
 */
pc_status s3_judge(s3 *d, const s3_req *q, const s3_http_resp *r, bool *retry);
/* Sleep before retry number `attempt` (0 = the first retry): full jitter, 200 ms base, 20 s cap. */
void s3_backoff(int attempt);
/* Attempts with retries until success or a final error; the last reply stays in r. */
pc_status s3_exec(s3 *d, const s3_req *q, s3_http_resp *r);
/* The same with the body digests already computed. */
pc_status s3_exec_sums(s3 *d, const s3_req *q, const s3_sums *sums, s3_http_resp *r);

/* Extra request headers; `owned` strings are freed by s3_hdrs_free. */
typedef struct s3_hdrs {
    s3_kv kv[S3_MAX_HEADERS];
    size_t n;
    char *owned[S3_MAX_HEADERS];
    size_t nowned;
} s3_hdrs;

/* Add a header whose strings outlive the request (borrowed). */
pc_status s3_hdrs_add(s3_hdrs *h, const char *name, const char *value);
void s3_hdrs_free(s3_hdrs *h);

/*
 * Headers of a new object: Content-Type, x-amz-meta-*, x-amz-tagging (only
 * when non-empty), SSE. PC_E_USAGE for metadata that cannot go into an HTTP
 * header.
 */
pc_status s3_object_headers(s3 *d, const repo_put_opts *po, s3_hdrs *h);

/* The full key of a repository key (prefix prepended); malloc'd. */
char *s3_full_key(s3 *d, const char *key);
/* "object \"key\"" for messages; malloc'd. */
char *s3_what_key(const char *key);

/* ETag without quotes into out (REPO_ETAG_MAX). */
void s3_etag_copy(char *out, const char *etag);

/* The streaming put (s3_upload.c). */
pc_status s3_put_stream(void *impl, const char *key, const repo_put_opts *po, pc_sink **out);

#endif
