#ifndef PGCASK_S3_SIGV4_H
#define PGCASK_S3_SIGV4_H

/*
 * AWS Signature Version 4 (header form), by hand on OpenSSL's HMAC-SHA256.
 * Pure functions: no I/O, no clock (the caller passes x-amz-date), so the
 * published test vectors can be checked byte for byte.
 *
 * S3 rules kept here: the path is encoded once, segment by segment, and
 * never normalised ("a/./b" stays as it is); the query string is encoded
 * with the same strict set and sorted; header values are trimmed with runs
 * of spaces collapsed; duplicate header names are joined with ','.
 */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "common/buf.h"
#include "common/status.h"

/* A name/value pair (headers, query parameters); borrowed strings. */
typedef struct s3_kv {
    const char *name;
    const char *value;
} s3_kv;

#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/*
 * Append s percent-encoded: A-Z a-z 0-9 - . _ ~ are kept, every other byte
 * becomes %XX (upper-case hex); '/' is kept when keep_slash (object paths).
 */
pc_status s3_uri_encode(pc_buf *out, const char *s, size_t len, bool keep_slash);

/*
 * The canonical query string of raw (unencoded) parameters: names and
 * values encoded, sorted by encoded name then value, joined with '&'; a NULL
 * value is written as "name=". The result is also what goes on the wire.
 */
pc_status s3_sigv4_query(const s3_kv *params, size_t n, pc_buf *out);

typedef struct s3_sigv4_in {
    const char *method;   /* "GET" */
    const char *uri;      /* canonical URI, already encoded: "/bucket/a%20b" */
    const char *query;    /* canonical query string (s3_sigv4_query), "" for none */
    const s3_kv *headers; /* every header to sign, host included; any case */
    size_t nheaders;
    const char *payload_hash; /* lower-case hex SHA-256 of the body */
    const char *amz_date;     /* YYYYMMDDTHHMMSSZ, also sent as x-amz-date */
    const char *region;
    const char *service; /* "s3" */
    const char *access_key;
    const char *secret_key;
} s3_sigv4_in;

/* Canonical request, and the ';'-joined signed header names (either may be NULL). */
pc_status s3_sigv4_canonical_request(const s3_sigv4_in *in, pc_buf *out, pc_buf *signed_headers);
/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256 of the canonical request>". */
pc_status s3_sigv4_string_to_sign(const s3_sigv4_in *in, pc_buf *out);
/* The hex signature (65 bytes with the NUL). */
pc_status s3_sigv4_signature(const s3_sigv4_in *in, char out[65]);
/* The Authorization header value (without "Authorization: "). */
pc_status s3_sigv4_authorization(const s3_sigv4_in *in, pc_buf *out);

/* Format epoch seconds as YYYYMMDDTHHMMSSZ. */
void s3_amz_date(time_t t, char out[17]);

#endif
