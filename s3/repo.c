/* The generic half of the repository: driver table, argument checks, settings. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "s3/repo_driver.h"

/* THE driver table: one entry per URL scheme. */
static const repo_driver *const drivers[] = {
    &repo_driver_file,
    &repo_driver_s3,
};

struct repo {
    const repo_driver *drv;
    void *impl;
    char *url;
};

void repo_opts_init(repo_opts *o)
{
    memset(o, 0, sizeof *o);
    o->region = "us-east-1";
    o->addressing = "auto";
    o->verify_tls = true;
    o->connect_timeout_ms = 10000;
    o->read_timeout_ms = 60000;
    o->max_retries = 5;
    o->part_size = 16 * 1024 * 1024;
    o->parts_in_flight = 4;
    o->fsync = true;
}

pc_status repo_open(const repo_opts *o, repo **out)
{
    const char *url = o->url;
    if (!url || !*url) {
        pc_err(PC_E_USAGE, "no repository URL given");
        pc_err_hint("Give --repo file:///path or --repo s3://bucket/prefix.");
        return PC_E_USAGE;
    }
    const char *sep = strstr(url, "://");
    if (!sep || sep == url) {
        pc_err(PC_E_USAGE, "invalid repository URL \"%s\"", url);
        pc_err_hint("Use file:///path or s3://bucket/prefix.");
        return PC_E_USAGE;
    }
    size_t slen = (size_t)(sep - url);
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
        const repo_driver *d = drivers[i];
        if (strlen(d->scheme) != slen || strncasecmp(url, d->scheme, slen) != 0)
            continue;
        repo *r = pc_calloc(1, sizeof *r);
        if (!r)
            return PC_E_INTERNAL;
        r->drv = d;
        r->url = pc_strdup(url);
        if (!r->url) {
            free(r);
            return PC_E_INTERNAL;
        }
        pc_status st = d->open(o, sep + 3, &r->impl);
        if (st) {
            free(r->url);
            free(r);
            return st;
        }
        *out = r;
        return PC_OK;
    }
    pc_err(PC_E_USAGE, "unsupported repository URL scheme in \"%s\"", url);
    pc_err_hint("pgcask supports file:// and s3:// repositories.");
    return PC_E_USAGE;
}

void repo_free(repo *r)
{
    if (!r)
        return;
    r->drv->close(r->impl);
    free(r->url);
    free(r);
}

const char *repo_url(const repo *r)
{
    return r->url;
}

const char *repo_kind(const repo *r)
{
    return r->drv->scheme;
}

const char *repo_obj_meta(const repo_obj *o, const char *key)
{
    for (size_t i = 0; i < o->nmeta && i < REPO_META_MAX; i++)
        if (strcasecmp(o->meta_key[i], key) == 0)
            return o->meta_value[i];
    return NULL;
}

pc_status repo_key_check(const char *key)
{
    if (!key || !*key)
        return pc_err(PC_E_USAGE, "empty object key");
    if (key[0] == '/')
        return pc_err(PC_E_USAGE, "object key \"%s\" must not start with '/'", key);
    const char *p = key;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 && slash)
            return pc_err(PC_E_USAGE, "object key \"%s\" has an empty path component", key);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return pc_err(PC_E_USAGE, "object key \"%s\" has a \".\" or \"..\" component", key);
        if (!slash)
            break;
        p = slash + 1;
    }
    for (p = key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return pc_err(PC_E_USAGE, "object key has a control character");
    return PC_OK;
}

/* A prefix may be empty or end with '/'; otherwise the same rules as a key. */
static pc_status prefix_check(const char *prefix)
{
    if (!prefix || !*prefix)
        return PC_OK;
    size_t n = strlen(prefix);
    if (prefix[n - 1] != '/')
        return repo_key_check(prefix);
    char *tmp = pc_strndup(prefix, n - 1);
    if (!tmp)
        return PC_E_INTERNAL;
    pc_status st = n > 1 ? repo_key_check(tmp) : pc_err(PC_E_USAGE, "prefix \"/\" is not valid");
    free(tmp);
    return st;
}

pc_status repo_put(repo *r, const char *key, const void *data, size_t len,
                   const repo_put_opts *po)
{
    pc_status st = repo_key_check(key);
    return st ? st : r->drv->put(r->impl, key, data, len, po);
}

pc_status repo_put_stream(repo *r, const char *key, const repo_put_opts *po, pc_sink **out)
{
    pc_status st = repo_key_check(key);
    return st ? st : r->drv->put_stream(r->impl, key, po, out);
}

pc_status repo_get(repo *r, const char *key, uint64_t offset, uint64_t length, pc_sink *dest,
                   repo_obj *info)
{
    pc_status st = repo_key_check(key);
    if (info)
        memset(info, 0, sizeof *info);
    return st ? st : r->drv->get(r->impl, key, offset, length, dest, info);
}

pc_status repo_get_buf(repo *r, const char *key, size_t max, pc_buf *out)
{
    pc_buf_init(out, max);
    pc_sink *s;
    pc_status st = pc_sink_mem_new(out, &s);
    if (st)
        return st;
    st = repo_get(r, key, 0, 0, s, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(s);
    pc_sink_free(s);
    if (st) {
        if (st == PC_E_CORRUPT && out->len >= max)
            pc_err(PC_E_CORRUPT, "object \"%s\" is larger than the %zu bytes expected", key, max);
        pc_buf_free(out);
    }
    return st;
}

pc_status repo_head(repo *r, const char *key, repo_obj *info)
{
    pc_status st = repo_key_check(key);
    memset(info, 0, sizeof *info);
    return st ? st : r->drv->head(r->impl, key, info);
}

pc_status repo_list(repo *r, const char *prefix, const char *delimiter, repo_list_cb cb, void *ud)
{
    pc_status st = prefix_check(prefix);
    return st ? st : r->drv->list(r->impl, prefix ? prefix : "", delimiter, cb, ud);
}

pc_status repo_delete(repo *r, const char *const *keys, size_t nkeys)
{
    for (size_t i = 0; i < nkeys; i++) {
        pc_status st = repo_key_check(keys[i]);
        if (st)
            return st;
    }
    return nkeys ? r->drv->del(r->impl, keys, nkeys) : PC_OK;
}

pc_status repo_check(repo *r)
{
    return r->drv->check(r->impl);
}

pc_status repo_create_bucket(repo *r)
{
    return r->drv->create_bucket(r->impl);
}

pc_status repo_abort_uploads(repo *r, const char *prefix, size_t *aborted)
{
    size_t dummy;
    pc_status st = prefix_check(prefix);
    return st ? st : r->drv->abort_uploads(r->impl, prefix ? prefix : "", aborted ? aborted : &dummy);
}

pc_status repo_count_uploads(repo *r, const char *prefix, size_t *count)
{
    pc_status st = prefix_check(prefix);
    return st ? st : r->drv->count_uploads(r->impl, prefix ? prefix : "", count);
}

/* ---- settings ---- */

static pc_status urlencode_append(pc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    pc_status st = PC_OK;
    for (size_t i = 0; i < n && st == PC_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            st = pc_buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            st = pc_buf_append(b, e, 3);
        }
    }
    return st;
}

/* "k1,v1" list -> "k1=v1&k2=v2" (URL-encoded); NULL when the list is empty. */
static pc_status tags_from_list(const pc_cfg *cfg, const char *setting, char **out)
{
    size_t n = pc_cfg_list_len(cfg, setting);
    *out = NULL;
    if (n == 0)
        return PC_OK;
    if (n > 10) {
        pc_err(PC_E_USAGE, "too many --%s values (%zu): S3 allows 10 tags per object", setting, n);
        return PC_E_USAGE;
    }
    pc_buf b;
    pc_buf_init(&b, 64 * 1024);
    for (size_t i = 0; i < n; i++) {
        const char *t = pc_cfg_list_get(cfg, setting, i);
        const char *comma = strchr(t, ',');
        if (!comma || comma == t) {
            pc_buf_free(&b);
            pc_err(PC_E_USAGE, "invalid --%s \"%s\"", setting, t);
            pc_err_hint("A tag is KEY,VALUE (the first comma separates them).");
            return PC_E_USAGE;
        }
        if (i)
            pc_buf_append(&b, "&", 1);
        urlencode_append(&b, t, (size_t)(comma - t));
        pc_buf_append(&b, "=", 1);
        pc_status st = urlencode_append(&b, comma + 1, strlen(comma + 1));
        if (st) {
            pc_buf_free(&b);
            return st;
        }
    }
    *out = (char *)pc_buf_steal(&b, NULL);
    return PC_OK;
}

char *repo_history_tags_cfg(const pc_cfg *cfg)
{
    char *t = NULL;
    if (tags_from_list(cfg, "history-tag", &t) != PC_OK)
        return NULL;
    return t;
}

pc_status repo_open_cfg(const pc_cfg *cfg, repo **out)
{
    repo_opts o;
    repo_opts_init(&o);
    o.url = pc_cfg_str(cfg, "repo");
    if (!o.url) {
        pc_err(PC_E_USAGE, "no repository given");
        pc_err_hint("Give --repo file:///path or s3://bucket/prefix, set PGCASK_REPO, or put "
                    "`repo = ...` in the configuration file.");
        return PC_E_USAGE;
    }
    o.endpoint_url = pc_cfg_str(cfg, "endpoint-url");
    if (pc_cfg_str(cfg, "region"))
        o.region = pc_cfg_str(cfg, "region");
    o.profile = pc_cfg_str(cfg, "aws-profile");
    o.ca_bundle = pc_cfg_str(cfg, "ca-bundle");
    o.verify_tls = pc_cfg_bool(cfg, "verify-tls");
    if (pc_cfg_str(cfg, "s3-addressing"))
        o.addressing = pc_cfg_str(cfg, "s3-addressing");
    o.sse = pc_cfg_str(cfg, "encryption");
    o.sse_kms_key_id = pc_cfg_str(cfg, "sse-kms-key-id");
    o.connect_timeout_ms = pc_cfg_duration_ms(cfg, "connect-timeout");
    o.read_timeout_ms = pc_cfg_duration_ms(cfg, "read-timeout");
    int64_t retries = pc_cfg_int(cfg, "max-retries");
    int64_t inflight = pc_cfg_int(cfg, "parts-in-flight");
    if (retries < 0 || retries > 100) {
        pc_err(PC_E_USAGE, "max-retries must be between 0 and 100");
        return PC_E_USAGE;
    }
    if (inflight < 1 || inflight > 64) {
        pc_err(PC_E_USAGE, "parts-in-flight must be between 1 and 64");
        return PC_E_USAGE;
    }
    o.max_retries = (int)retries;
    o.parts_in_flight = (int)inflight;
    o.part_size = pc_cfg_size(cfg, "part-size");
    if (o.part_size < 5 * 1024 * 1024 || o.part_size > (uint64_t)5 * 1024 * 1024 * 1024) {
        pc_err(PC_E_USAGE, "part-size must be between 5MiB and 5GiB");
        return PC_E_USAGE;
    }
    o.max_bandwidth = pc_cfg_size(cfg, "max-bandwidth");
    if (o.sse && strcmp(o.sse, "AES256") != 0 && strcmp(o.sse, "aws:kms") != 0) {
        pc_err(PC_E_USAGE, "invalid encryption \"%s\"", o.sse);
        pc_err_hint("Use AES256 or aws:kms.");
        return PC_E_USAGE;
    }
    if (o.sse_kms_key_id && (!o.sse || strcmp(o.sse, "aws:kms") != 0)) {
        pc_err(PC_E_USAGE, "sse-kms-key-id needs encryption aws:kms");
        return PC_E_USAGE;
    }
    char *tags = NULL;
    pc_status st = tags_from_list(cfg, "tag", &tags);
    if (st)
        return st;
    o.tags = tags;
    st = repo_open(&o, out);
    free(tags); /* drivers copy what they keep */
    return st;
}
