/* AWS Signature Version 4: canonical request, string to sign, signature. */
#include "s3/s3_sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/error.h"
#include "common/hash.h"

pc_status s3_uri_encode(pc_buf *out, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    pc_status st = pc_buf_reserve(out, len * 3);
    if (st)
        return st;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
            out->data[out->len++] = c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = (unsigned char)hex[c >> 4];
            out->data[out->len++] = (unsigned char)hex[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return PC_OK;
}

typedef struct enc_param {
    char *name;
    char *value;
} enc_param;

static int param_cmp(const void *a, const void *b)
{
    const enc_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
    pc_buf b;
    pc_buf_init(&b, PC_BUF_NOCAP);
    if (s3_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false)) {
        pc_buf_free(&b);
        return NULL;
    }
    return (char *)pc_buf_steal(&b, NULL);
}

pc_status s3_sigv4_query(const s3_kv *params, size_t n, pc_buf *out)
{
    if (n == 0)
        return PC_OK;
    enc_param *p = pc_calloc(n, sizeof *p);
    if (!p)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    for (size_t i = 0; i < n && st == PC_OK; i++) {
        p[i].name = encode_dup(params[i].name);
        p[i].value = encode_dup(params[i].value);
        if (!p[i].name || !p[i].value)
            st = PC_E_INTERNAL;
    }
    if (st == PC_OK) {
        qsort(p, n, sizeof *p, param_cmp);
        for (size_t i = 0; i < n && st == PC_OK; i++)
            st = pc_buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
    }
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
    return st;
}

typedef struct canon_hdr {
    char *name; /* lower-case */
    const char *value;
    size_t order; /* keeps duplicates in the order given */
} canon_hdr;

static int hdr_cmp(const void *a, const void *b)
{
    const canon_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Trim the value and collapse runs of blanks into one space. */
static pc_status append_trimmed(pc_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool blank = false;
    pc_status st = PC_OK;
    for (; *v && st == PC_OK; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = true;
            continue;
        }
        if (blank)
            st = pc_buf_append(b, " ", 1);
        blank = false;
        if (st == PC_OK)
            st = pc_buf_append(b, v, 1);
    }
    return st;
}

pc_status s3_sigv4_canonical_request(const s3_sigv4_in *in, pc_buf *out, pc_buf *signed_headers)
{
    canon_hdr *h = pc_calloc(in->nheaders, sizeof *h);
    if (!h)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    for (size_t i = 0; i < in->nheaders && st == PC_OK; i++) {
        h[i].name = pc_strdup(in->headers[i].name);
        h[i].value = in->headers[i].value ? in->headers[i].value : "";
        h[i].order = i;
        if (!h[i].name)
            st = PC_E_INTERNAL;
        else
            for (char *c = h[i].name; *c; c++)
                *c = (char)tolower((unsigned char)*c);
    }
    if (st == PC_OK)
        qsort(h, in->nheaders, sizeof *h, hdr_cmp);

    pc_buf names;
    pc_buf_init(&names, PC_BUF_NOCAP);
    if (st == PC_OK)
        st = pc_buf_printf(out, "%s\n%s\n%s\n", in->method, in->uri, in->query ? in->query : "");
    for (size_t i = 0; i < in->nheaders && st == PC_OK; i++) {
        bool dup = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (dup) {
            st = pc_buf_append(out, ",", 1);
        } else {
            if (i > 0)
                st = pc_buf_append(out, "\n", 1);
            if (st == PC_OK)
                st = pc_buf_printf(out, "%s:", h[i].name);
            if (st == PC_OK)
                st = pc_buf_printf(&names, "%s%s", names.len ? ";" : "", h[i].name);
        }
        if (st == PC_OK)
            st = append_trimmed(out, h[i].value);
    }
    if (st == PC_OK)
        st = pc_buf_printf(out, "\n\n%s\n%s", pc_buf_cstr(&names), in->payload_hash);
    if (st == PC_OK && signed_headers)
        st = pc_buf_append(signed_headers, names.data, names.len);
    pc_buf_free(&names);
    for (size_t i = 0; i < in->nheaders; i++)
        free(h[i].name);
    free(h);
    return st;
}

static pc_status scope(const s3_sigv4_in *in, pc_buf *out)
{
    return pc_buf_printf(out, "%.8s/%s/%s/aws4_request", in->amz_date, in->region, in->service);
}

static pc_status sts_from_creq(const s3_sigv4_in *in, const pc_buf *creq, pc_buf *out)
{
    unsigned char d[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    pc_sha256(creq->data, creq->len, d);
    pc_hex(d, sizeof d, hex);
    pc_status st = pc_buf_printf(out, "AWS4-HMAC-SHA256\n%s\n", in->amz_date);
    if (st == PC_OK)
        st = scope(in, out);
    if (st == PC_OK)
        st = pc_buf_printf(out, "\n%s", hex);
    return st;
}

pc_status s3_sigv4_string_to_sign(const s3_sigv4_in *in, pc_buf *out)
{
    pc_buf creq;
    pc_buf_init(&creq, PC_BUF_NOCAP);
    pc_status st = s3_sigv4_canonical_request(in, &creq, NULL);
    if (st == PC_OK)
        st = sts_from_creq(in, &creq, out);
    pc_buf_free(&creq);
    return st;
}

static pc_status hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                      unsigned char out[PC_SHA256_LEN])
{
    unsigned int n = PC_SHA256_LEN;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &n) || n != PC_SHA256_LEN)
        return pc_err(PC_E_INTERNAL, "HMAC-SHA256 failed");
    return PC_OK;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static pc_status sign_sts(const s3_sigv4_in *in, const pc_buf *sts, char out[65])
{
    size_t slen = strlen(in->secret_key);
    char *k0 = pc_malloc(slen + 5);
    unsigned char k[PC_SHA256_LEN], sig[PC_SHA256_LEN];
    if (!k0)
        return PC_E_INTERNAL;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, in->secret_key, slen + 1);
    pc_status st = hmac(k0, slen + 4, in->amz_date, 8, k);
    if (st == PC_OK)
        st = hmac(k, sizeof k, in->region, strlen(in->region), k);
    if (st == PC_OK)
        st = hmac(k, sizeof k, in->service, strlen(in->service), k);
    if (st == PC_OK)
        st = hmac(k, sizeof k, "aws4_request", 12, k);
    if (st == PC_OK)
        st = hmac(k, sizeof k, sts->data, sts->len, sig);
    if (st == PC_OK)
        pc_hex(sig, sizeof sig, out);
    explicit_bzero(k0, slen + 4);
    explicit_bzero(k, sizeof k);
    free(k0);
    return st;
}

pc_status s3_sigv4_signature(const s3_sigv4_in *in, char out[65])
{
    pc_buf sts;
    pc_buf_init(&sts, PC_BUF_NOCAP);
    pc_status st = s3_sigv4_string_to_sign(in, &sts);
    if (st == PC_OK)
        st = sign_sts(in, &sts, out);
    pc_buf_free(&sts);
    return st;
}

pc_status s3_sigv4_authorization(const s3_sigv4_in *in, pc_buf *out)
{
    char sig[65];
    pc_buf creq, names, sts;
    pc_buf_init(&creq, PC_BUF_NOCAP);
    pc_buf_init(&names, PC_BUF_NOCAP);
    pc_buf_init(&sts, PC_BUF_NOCAP);
    pc_status st = s3_sigv4_canonical_request(in, &creq, &names);
    if (st == PC_OK)
        st = sts_from_creq(in, &creq, &sts);
    if (st == PC_OK)
        st = sign_sts(in, &sts, sig);
    if (st == PC_OK)
        st = pc_buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/", in->access_key);
    if (st == PC_OK)
        st = scope(in, out);
    if (st == PC_OK)
        st = pc_buf_printf(out, ", SignedHeaders=%s, Signature=%s", pc_buf_cstr(&names), sig);
    pc_buf_free(&creq);
    pc_buf_free(&names);
    pc_buf_free(&sts);
    return st;
}

void s3_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
