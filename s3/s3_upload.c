/*
 * The streaming put: a terminal sink that buffers one part, sends a single
 * PUT when everything fit in it, and otherwise runs a multipart upload with
 * parts_in_flight parts uploading on worker threads while the writer fills
 * the next buffer. Memory: part_size * (parts_in_flight + 1) at most.
 */
#include "s3/s3_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "s3/s3_xml.h"

#define MAX_PARTS 10000

typedef enum slot_state {
    SLOT_FREE,
    SLOT_FILLING,
    SLOT_QUEUED,
    SLOT_BUSY,
} slot_state;

typedef struct slot {
    unsigned char *data; /* part_size bytes, allocated on first use */
    size_t len;
    int part; /* 1-based part number once queued */
    slot_state state;
} slot;

typedef struct part_done {
    char etag[96];
    unsigned char md5[16];
} part_done;

typedef struct upload {
    pc_sink base;
    s3 *d;
    char *key, *what;
    char *content_type, *tags; /* copies of the caller's repo_put_opts strings */
    s3_hdrs hdrs;
    size_t part_size;
    slot *slots;
    size_t nslots;
    size_t cur; /* the FILLING slot */
    char *upload_id;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    int nthreads;
    int next_part;   /* parts queued so far */
    size_t inflight; /* QUEUED + BUSY */
    part_done *parts;
    size_t parts_cap;
    bool failed; /* a part failed: err holds its record */
    bool cancel; /* abort: queued parts are dropped */
    bool stop;   /* no more parts will be queued */
    pc_error err;
} upload;

/* ---- requests ---- */

static pc_status upload_id_cb(void *ud, const char *path, const char *text, size_t len)
{
    char **id = ud;
    if (strcmp(path, "InitiateMultipartUploadResult/UploadId") != 0 || *id)
        return PC_OK;
    *id = pc_strndup(text, len);
    return *id ? PC_OK : PC_E_INTERNAL;
}

static pc_status create_upload(upload *u)
{
    s3_kv qp[] = {{"uploads", NULL}};
    s3_req q = {.method = "POST",
                .key = u->key,
                .what = u->what,
                .query = qp,
                .nquery = 1,
                .headers = u->hdrs.kv,
                .nheaders = u->hdrs.n};
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st = s3_exec(u->d, &q, &r);
    if (st == PC_OK)
        st = s3_xml_parse(r.body.data, r.body.len, "CreateMultipartUpload reply", upload_id_cb,
                          &u->upload_id);
    if (st == PC_OK && (!u->upload_id || !*u->upload_id))
        st = pc_err(PC_E_REMOTE, "S3 started a multipart upload of %s without an upload id",
                    u->what);
    s3_http_resp_free(&r);
    return st;
}

static pc_status upload_part(upload *u, const slot *sl, part_done *done)
{
    char num[16];
    snprintf(num, sizeof num, "%d", sl->part);
    char *what = pc_asprintf("part %d of %s", sl->part, u->what);
    if (!what)
        return PC_E_INTERNAL;
    s3_kv qp[] = {{"partNumber", num}, {"uploadId", u->upload_id}};
    s3_req q = {.method = "PUT",
                .key = u->key,
                .what = what,
                .query = qp,
                .nquery = 2,
                .body = sl->data,
                .body_len = sl->len,
                .md5 = true,
                .throttle = true};
    s3_sums sums;
    s3_sums_compute(&q, &sums);
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st = s3_exec_sums(u->d, &q, &sums, &r);
    if (st == PC_OK && !r.etag[0])
        st = pc_err(PC_E_REMOTE, "S3 stored %s without returning an ETag", what);
    if (st == PC_OK) {
        snprintf(done->etag, sizeof done->etag, "%s", r.etag);
        memcpy(done->md5, sums.md5, sizeof done->md5);
    }
    s3_http_resp_free(&r);
    free(what);
    return st;
}

static void abort_upload(upload *u)
{
    if (!u->upload_id)
        return;
    s3_kv qp[] = {{"uploadId", u->upload_id}};
    s3_req q = {.method = "DELETE", .key = u->key, .what = u->what, .query = qp, .nquery = 1};
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_error saved;
    pc_err_save(&saved);
    pc_status st = s3_exec(u->d, &q, &r);
    if (st && st != PC_E_NOT_FOUND)
        pc_warn("could not abort the multipart upload of %s (%s); `pgcask repo` can clean up "
                "unfinished uploads later",
                u->what, pc_err_get()->message);
    pc_err_restore(&saved);
    s3_http_resp_free(&r);
    free(u->upload_id);
    u->upload_id = NULL;
}

/* The ETag S3 gives a completed multipart object: md5 of the parts' md5s, "-N". */
static void multipart_etag(const upload *u, char *out, size_t outlen)
{
    pc_hash *h;
    unsigned char d[PC_MD5_LEN];
    char hex[2 * PC_MD5_LEN + 1];
    out[0] = '\0';
    if (pc_hash_new(PC_HASH_MD5, &h) != PC_OK)
        return;
    for (int i = 0; i < u->next_part; i++)
        pc_hash_update(h, u->parts[i].md5, PC_MD5_LEN);
    pc_hash_final(h, d);
    pc_hash_free(h);
    pc_hex(d, sizeof d, hex);
    snprintf(out, outlen, "%s-%d", hex, u->next_part);
}

static pc_status complete_upload(upload *u)
{
    pc_buf body;
    pc_buf_init(&body, PC_BUF_NOCAP);
    pc_status st = pc_buf_append_str(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < u->next_part && st == PC_OK; i++) {
        st = pc_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        if (st == PC_OK)
            st = s3_xml_escape(&body, u->parts[i].etag);
        if (st == PC_OK)
            st = pc_buf_append_str(&body, "</ETag></Part>");
    }
    if (st == PC_OK)
        st = pc_buf_append_str(&body, "</CompleteMultipartUpload>");
    if (st) {
        pc_buf_free(&body);
        return st;
    }
    s3_kv qp[] = {{"uploadId", u->upload_id}};
    s3_kv h[] = {{"Content-Type", "application/xml"}};
    s3_req q = {.method = "POST",
                .key = u->key,
                .what = u->what,
                .query = qp,
                .nquery = 1,
                .headers = h,
                .nheaders = 1,
                .body = body.data,
                .body_len = body.len,
                .md5 = true,
                .error_in_200 = true};
    s3_http_resp r;
    s3_http_resp_init(&r);
    st = s3_exec(u->d, &q, &r);
    if (st == PC_E_NOT_FOUND) {
        /* a retried complete after a reply was lost: the first one may have worked */
        pc_error saved;
        pc_err_save(&saved);
        s3_req hq = {.method = "HEAD", .key = u->key, .what = u->what};
        char want[64];
        multipart_etag(u, want, sizeof want);
        s3_http_resp_reset(&r);
        char got[REPO_ETAG_MAX] = "";
        if (s3_exec(u->d, &hq, &r) == PC_OK)
            s3_etag_copy(got, r.etag);
        if (want[0] && strcmp(got, want) == 0) {
            pc_err_clear();
            st = PC_OK;
        } else {
            pc_err_restore(&saved);
        }
    }
    if (st == PC_OK) {
        free(u->upload_id); /* completed: nothing left to abort */
        u->upload_id = NULL;
    }
    s3_http_resp_free(&r);
    pc_buf_free(&body);
    return st;
}

/* ---- workers ---- */

static void *worker(void *arg)
{
    upload *u = arg;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        slot *sl = NULL;
        for (size_t i = 0; i < u->nslots; i++)
            if (u->slots[i].state == SLOT_QUEUED && (!sl || u->slots[i].part < sl->part))
                sl = &u->slots[i];
        if (!sl) {
            if (u->stop)
                break;
            pthread_cond_wait(&u->cv, &u->mu);
            continue;
        }
        sl->state = SLOT_BUSY;
        bool skip = u->failed || u->cancel;
        pthread_mutex_unlock(&u->mu);

        part_done done;
        pc_status st = skip ? PC_OK : upload_part(u, sl, &done);

        pthread_mutex_lock(&u->mu);
        if (st && !u->failed) {
            u->failed = true;
            pc_err_save(&u->err);
        } else if (st == PC_OK && !skip) {
            u->parts[sl->part - 1] = done;
        }
        sl->state = SLOT_FREE;
        sl->len = 0;
        u->inflight--;
        pthread_cond_broadcast(&u->cv);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

static pc_status start_workers(upload *u)
{
    int n = u->d->parts_in_flight;
    u->threads = pc_calloc((size_t)n, sizeof *u->threads);
    if (!u->threads)
        return PC_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&u->threads[i], NULL, worker, u) != 0)
            break;
        u->nthreads++;
    }
    if (u->nthreads == 0)
        return pc_err(PC_E_INTERNAL, "could not start upload threads for %s: %m", u->what);
    return PC_OK;
}

static void stop_workers(upload *u, bool cancel)
{
    pthread_mutex_lock(&u->mu);
    u->stop = true;
    if (cancel)
        u->cancel = true;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    for (int i = 0; i < u->nthreads; i++)
        pthread_join(u->threads[i], NULL);
    u->nthreads = 0;
}

/* Hand the filling slot to the workers (starting the multipart upload on the first part). */
static pc_status queue_current(upload *u)
{
    if (!u->upload_id) {
        pc_status st = create_upload(u);
        if (st == PC_OK)
            st = start_workers(u);
        if (st)
            return st;
    }
    pthread_mutex_lock(&u->mu);
    if (u->next_part >= MAX_PARTS) {
        pthread_mutex_unlock(&u->mu);
        pc_err(PC_E_USAGE, "%s needs more than %d parts of %zu bytes", u->what, MAX_PARTS,
               u->part_size);
        pc_err_hint("Raise --part-size.");
        return PC_E_USAGE;
    }
    if ((size_t)u->next_part == u->parts_cap) {
        size_t nc = u->parts_cap ? u->parts_cap * 2 : 64;
        part_done *np = pc_realloc(u->parts, nc * sizeof *np);
        if (!np) {
            pthread_mutex_unlock(&u->mu);
            return PC_E_INTERNAL;
        }
        u->parts = np;
        u->parts_cap = nc;
    }
    slot *sl = &u->slots[u->cur];
    sl->part = ++u->next_part;
    sl->state = SLOT_QUEUED;
    u->inflight++;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return PC_OK;
}

/* The failure of a part, as this thread's error. */
static pc_status part_failure(upload *u)
{
    pc_err_restore(&u->err);
    return u->err.status ? u->err.status : PC_E_REMOTE;
}

/* Wait for a free buffer: back-pressure when every part is uploading. */
static pc_status acquire_slot(upload *u)
{
    pthread_mutex_lock(&u->mu);
    for (;;) {
        if (u->failed) {
            pthread_mutex_unlock(&u->mu);
            return part_failure(u);
        }
        for (size_t i = 0; i < u->nslots; i++) {
            if (u->slots[i].state == SLOT_FREE) {
                u->cur = i;
                u->slots[i].state = SLOT_FILLING;
                u->slots[i].len = 0;
                pthread_mutex_unlock(&u->mu);
                if (!u->slots[i].data && !(u->slots[i].data = pc_malloc(u->part_size)))
                    return PC_E_INTERNAL;
                return PC_OK;
            }
        }
        pthread_cond_wait(&u->cv, &u->mu);
    }
}

/* ---- sink ops ---- */

static pc_status up_write(pc_sink *s, const void *data, size_t len)
{
    upload *u = (upload *)s;
    const unsigned char *p = data;
    while (len > 0) {
        slot *sl = &u->slots[u->cur];
        if (!sl->data && !(sl->data = pc_malloc(u->part_size)))
            return PC_E_INTERNAL;
        if (sl->len == u->part_size) {
            /* queue a full part only once more data proves it is not the last one */
            pc_status st = queue_current(u);
            if (st == PC_OK)
                st = acquire_slot(u);
            if (st)
                return st;
            continue;
        }
        size_t n = u->part_size - sl->len;
        if (n > len)
            n = len;
        memcpy(sl->data + sl->len, p, n);
        sl->len += n;
        p += n;
        len -= n;
    }
    return PC_OK;
}

static pc_status single_put(upload *u)
{
    const slot *sl = &u->slots[u->cur];
    s3_req q = {.method = "PUT",
                .key = u->key,
                .what = u->what,
                .headers = u->hdrs.kv,
                .nheaders = u->hdrs.n,
                .body = sl->data,
                .body_len = sl->len,
                .md5 = true,
                .throttle = true};
    s3_http_resp r;
    s3_http_resp_init(&r);
    pc_status st = s3_exec(u->d, &q, &r);
    s3_http_resp_free(&r);
    return st;
}

static pc_status up_finish(pc_sink *s)
{
    upload *u = (upload *)s;
    if (!u->upload_id)
        return single_put(u);
    pc_status st = queue_current(u);
    pthread_mutex_lock(&u->mu);
    while (u->inflight > 0)
        pthread_cond_wait(&u->cv, &u->mu);
    bool failed = u->failed;
    pthread_mutex_unlock(&u->mu);
    stop_workers(u, false);
    if (st == PC_OK && failed)
        st = part_failure(u);
    if (st == PC_OK)
        st = complete_upload(u);
    if (st)
        abort_upload(u); /* the wrapper's abort comes after, with nothing left to do */
    return st;
}

static void up_abort(pc_sink *s)
{
    upload *u = (upload *)s;
    stop_workers(u, true);
    abort_upload(u);
}

static void up_destroy(pc_sink *s)
{
    upload *u = (upload *)s;
    stop_workers(u, true);
    for (size_t i = 0; i < u->nslots; i++)
        free(u->slots[i].data);
    free(u->slots);
    free(u->threads);
    free(u->parts);
    free(u->upload_id);
    s3_hdrs_free(&u->hdrs);
    free(u->key);
    free(u->what);
    free(u->content_type);
    free(u->tags);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
}

static const pc_sink_ops upload_ops = {.name = "s3 upload",
                                       .write = up_write,
                                       .finish = up_finish,
                                       .abort = up_abort,
                                       .destroy = up_destroy};

pc_status s3_put_stream(void *impl, const char *key, const repo_put_opts *po, pc_sink **out)
{
    s3 *d = impl;
    upload *u = pc_calloc(1, sizeof *u);
    if (!u)
        return PC_E_INTERNAL;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    pc_sink_init(&u->base, &upload_ops, NULL);
    u->d = d;
    u->part_size = (size_t)d->part_size;
    u->nslots = (size_t)d->parts_in_flight + 1;
    u->slots = pc_calloc(u->nslots, sizeof *u->slots);
    u->key = s3_full_key(d, key);
    u->what = s3_what_key(key);
    pc_status st = u->slots && u->key && u->what ? PC_OK : PC_E_INTERNAL;
    repo_put_opts copy = {0};
    if (st == PC_OK && po) {
        copy = *po; /* meta is copied by s3_object_headers; the strings below by us */
        if (po->content_type && !(u->content_type = pc_strdup(po->content_type)))
            st = PC_E_INTERNAL;
        if (po->tags && !(u->tags = pc_strdup(po->tags)))
            st = PC_E_INTERNAL;
        copy.content_type = u->content_type;
        copy.tags = u->tags;
    }
    if (st == PC_OK)
        st = s3_object_headers(d, po ? &copy : NULL, &u->hdrs);
    if (st) {
        up_destroy(&u->base);
        return st;
    }
    u->slots[0].state = SLOT_FILLING;
    u->cur = 0;
    *out = &u->base;
    return PC_OK;
}
