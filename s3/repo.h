#ifndef PGCASK_S3_REPO_H
#define PGCASK_S3_REPO_H

/*
 * The repository: an object store addressed by URL, with the same
 * operations whatever the backend.
 *
 *   file:///var/lib/pgcask/repo   a local directory (s3/file.c)
 *   s3://bucket/prefix            S3 or any S3-compatible store (s3/s3.c)
 *
 * Keys are relative to the URL's prefix and use '/' separators
 * ("pg1/wals/0000000100000000/000000010000000000000001.zst"); the backend
 * adds the prefix. A handle is safe to use from several threads at once.
 * Only this module includes curl and expat headers.
 *
 * Guarantees every backend keeps:
 * - A put is all-or-nothing: until it returns PC_OK (or a put stream's finish
 *   returns PC_OK) no reader sees the object, and after a failure no partial
 *   object is visible (S3: single PUT or CompleteMultipartUpload; file:
 *   temp + fsync + rename).
 * - PC_E_NOT_FOUND only means "the store answered that it does not exist".
 * - Errors record a message naming the key (never the credentials), with a
 *   hint for the common causes (wrong secret, missing bucket, clock skew).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sink.h"

typedef struct repo repo;

typedef struct repo_opts {
    const char *url;             /* file:///path or s3://bucket[/prefix] */
    /* S3 only (ignored by file://) */
    const char *endpoint_url;    /* http(s)://host[:port]; default AWS for the region */
    const char *region;          /* default us-east-1 */
    const char *profile;         /* ~/.aws profile (-P/--aws-profile) */
    const char *ca_bundle;       /* CA file for TLS; NULL uses the system store */
    const char *addressing;      /* "auto" (default), "path", "virtual" */
    const char *sse;             /* NULL, "AES256" or "aws:kms" */
    const char *sse_kms_key_id;  /* with aws:kms */
    const char *tags;            /* URL-encoded tag set "k1=v1&k2=v2" for every put, or NULL */
    bool verify_tls;             /* default true */
    int64_t connect_timeout_ms;  /* default 10 s */
    int64_t read_timeout_ms;     /* no byte received for this long -> retry; default 60 s */
    int max_retries;             /* retries after the first attempt; default 5 */
    uint64_t part_size;          /* multipart part size; default 16 MiB (min 5 MiB) */
    int parts_in_flight;         /* concurrent UploadPart requests per stream; default 4 */
    uint64_t max_bandwidth;      /* bytes/s per handle for uploads, 0 = unlimited */
    bool fsync;                  /* file://: fsync objects (default true) */
} repo_opts;

/* Fill opts with the defaults above (url NULL). */
void repo_opts_init(repo_opts *o);

/*
 * Open a repository. Does not contact the store (repo_check does).
 * PC_E_USAGE for a malformed URL or option, PC_E_AUTH when no credentials can
 * be found for s3://.
 */
pc_status repo_open(const repo_opts *o, repo **out);
void repo_free(repo *r); /* NULL is a no-op */

/*
 * Open the repository described by the settings (repo, endpoint-url, region,
 * aws-profile, ca-bundle, verify-tls, s3-addressing, encryption,
 * sse-kms-key-id, tag, connect-timeout, read-timeout, max-retries,
 * part-size, parts-in-flight, max-bandwidth). PC_E_USAGE when "repo" is unset
 * or invalid, naming the setting and how to set it.
 */
struct pc_cfg;
pc_status repo_open_cfg(const struct pc_cfg *cfg, repo **out);
/* The "history-tag" settings as a URL-encoded tag set for repo_put_opts.tags (malloc'd, NULL if none). */
char *repo_history_tags_cfg(const struct pc_cfg *cfg);

/* The URL as given (without credentials), for messages. */
const char *repo_url(const repo *r);
/* "file" or "s3". */
const char *repo_kind(const repo *r);

/* User metadata (x-amz-meta-<key>; keys lower-case [a-z0-9-]). */
typedef struct repo_meta {
    const char *key;
    const char *value;
} repo_meta;

typedef struct repo_put_opts {
    const repo_meta *meta;
    size_t nmeta;
    const char *tags;        /* overrides repo_opts.tags for this object (e.g. history tags); NULL = default */
    const char *content_type;
} repo_put_opts;

#define REPO_ETAG_MAX 80
#define REPO_META_MAX 8

typedef struct repo_obj {
    uint64_t size;
    int64_t mtime_us;             /* last modified, epoch microseconds (0 when unknown) */
    char etag[REPO_ETAG_MAX];     /* as the store returns it, without quotes ("" when none) */
    size_t nmeta;                 /* filled by repo_head and repo_get */
    char meta_key[REPO_META_MAX][64];
    char meta_value[REPO_META_MAX][256];
} repo_obj;

/* Value of a metadata key from a repo_head result, or NULL. */
const char *repo_obj_meta(const repo_obj *o, const char *key);

/* Store a whole buffer as one object (one PUT with Content-MD5 on S3). */
pc_status repo_put(repo *r, const char *key, const void *data, size_t len,
                   const repo_put_opts *po);

/*
 * Streaming put: returns a terminal sink. Data is buffered up to the part
 * size; finish sends one PUT when it all fit in one part, otherwise a
 * multipart upload with parts_in_flight parts uploading concurrently while
 * writing continues (write blocks when all part buffers are busy: memory is
 * bounded by part_size * (parts_in_flight + 1)). finish completes the upload
 * (the commit point); abort sends AbortMultipartUpload. `po` is copied.
 */
pc_status repo_put_stream(repo *r, const char *key, const repo_put_opts *po, pc_sink **out);

/*
 * Read an object (or the range [offset, offset+length), length 0 = to the
 * end) and write it into dest. Does NOT finish or free dest: the caller
 * finishes it, so a failed get can be followed by pc_sink_abort. Transient
 * failures in the middle are retried from the byte reached (ranged GET,
 * If-Match the first ETag), so dest never sees a byte twice. `info` (may be
 * NULL) receives size/etag/mtime and the user metadata the store returns
 * with the object. PC_E_NOT_FOUND when the key does not exist.
 */
pc_status repo_get(repo *r, const char *key, uint64_t offset, uint64_t length, pc_sink *dest,
                   repo_obj *info);
/* Read a small object into a buffer, failing with PC_E_CORRUPT past max bytes. */
pc_status repo_get_buf(repo *r, const char *key, size_t max, pc_buf *out);

/* Metadata of one object. PC_E_NOT_FOUND when it does not exist. */
pc_status repo_head(repo *r, const char *key, repo_obj *info);

typedef struct repo_entry {
    const char *key;     /* full key relative to the repository (prefix included) */
    bool is_prefix;      /* a "directory" (common prefix) when listing with a delimiter */
    uint64_t size;
    int64_t mtime_us;
    const char *etag;
} repo_entry;

/* Return non-PC_OK from the callback to stop the listing (that status is returned). */
typedef pc_status (*repo_list_cb)(const repo_entry *e, void *ud);

/*
 * List keys beginning with `prefix` in lexical (byte) order, following
 * pagination. With delimiter "/" (or NULL for none), keys containing the
 * delimiter after the prefix are folded into common prefixes (is_prefix).
 */
pc_status repo_list(repo *r, const char *prefix, const char *delimiter, repo_list_cb cb,
                    void *ud);

/*
 * Delete keys (batches of up to 1000 with DeleteObjects on S3, falling back
 * to single deletes when the store refuses the batch). A key that does not
 * exist counts as deleted. On failure, the first failing key is named.
 */
pc_status repo_delete(repo *r, const char *const *keys, size_t nkeys);

/*
 * Check that the store is reachable, the credentials are accepted and the
 * bucket (or directory) exists: PC_E_CONNECT, PC_E_AUTH, PC_E_NO_BUCKET.
 */
pc_status repo_check(repo *r);
/* Create the bucket (or directory) if missing; success when it exists already. */
pc_status repo_create_bucket(repo *r);

/* Abort every unfinished multipart upload under prefix (file://: remove stale temp files). */
pc_status repo_abort_uploads(repo *r, const char *prefix, size_t *aborted);
/* Count unfinished multipart uploads under prefix (tests and audit). */
pc_status repo_count_uploads(repo *r, const char *prefix, size_t *count);

#endif
