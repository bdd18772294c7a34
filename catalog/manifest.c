/*
 * pgcask.manifest: writer, reader and lookup index (catalog/manifest.h).
 *
 * The writer and the reader share one set of validators, so that nothing
 * the writer accepts is refused by the reader and nothing hostile read from
 * a repository (absolute paths, "..", control characters, bad digests,
 * wrong types) reaches the restore code.
 */
#include "catalog/manifest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/layout.h"
#include "common/tar.h"
#include "common/timeutil.h"

/* Longest line the reader accepts: a path and a link target of 4 KiB each fit many times over. */
#define MF_MAX_LINE (64 * 1024)
/* Longest string value (paths, targets, names). */
#define MF_MAX_STR 4096
#define HEX_LEN    (2 * PC_SHA256_LEN)

/* ==== validation shared by writer and reader ==== */

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

/* A printable rendering of s for messages (control bytes as \xNN, cut at 120 bytes). */
static void quoted(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < outlen; p++) {
        if (o >= 120) {
            o += (size_t)snprintf(out + o, outlen - o, "...");
            break;
        }
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

/*
 * Every check returns `st` with a message "<what>: <problem>" so the writer
 * (PC_E_USAGE: its caller passed bad data) and the reader (PC_E_CORRUPT: the
 * object is bad) share the wording.
 */
static pc_status bad(pc_status st, const char *what, const char *problem, const char *value)
{
    if (value) {
        char q[200];
        quoted(value, q, sizeof q);
        return pc_err(st, "%s: %s \"%s\"", what, problem, q);
    }
    return pc_err(st, "%s: %s", what, problem);
}

static pc_status check_text(pc_status st, const char *what, const char *field, const char *v,
                            bool may_be_null)
{
    char w[96];
    snprintf(w, sizeof w, "%s %s", what, field);
    if (!v)
        return may_be_null ? PC_OK : bad(st, w, "is missing", NULL);
    if (!*v)
        return bad(st, w, "is empty", NULL);
    if (strlen(v) > MF_MAX_STR)
        return bad(st, w, "is too long", NULL);
    if (!utf8_valid(v))
        return bad(st, w, "is not valid UTF-8:", v);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return bad(st, w, "holds a control character:", v);
    return PC_OK;
}

static pc_status check_backup_id(pc_status st, const char *what, const char *field, const char *v,
                                 bool may_be_null)
{
    char w[96];
    snprintf(w, sizeof w, "%s %s", what, field);
    if (!v)
        return may_be_null ? PC_OK : bad(st, w, "is missing", NULL);
    if (!pc_layout_is_backup_id(v))
        return bad(st, w, "is not a backup id (YYYYMMDDTHHMMSS):", v);
    return PC_OK;
}

/* A tablespace is its OID in decimal: 1 to 4294967295, no leading zero. */
static pc_status check_tablespace(pc_status st, const char *what, const char *v)
{
    if (!v)
        return PC_OK;
    size_t n = strlen(v);
    bool ok = n > 0 && n <= 10 && v[0] != '0';
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= '0' && v[i] <= '9';
    if (ok && strtoull(v, NULL, 10) > UINT32_MAX)
        ok = false;
    char w[96];
    snprintf(w, sizeof w, "%s tablespace", what);
    return ok ? PC_OK : bad(st, w, "is not a tablespace OID:", v);
}

static pc_status check_sha256(pc_status st, const char *what, const char *v, bool may_be_null)
{
    char w[96];
    snprintf(w, sizeof w, "%s sha256", what);
    if (!v)
        return may_be_null ? PC_OK : bad(st, w, "is missing", NULL);
    bool ok = strlen(v) == HEX_LEN;
    for (size_t i = 0; ok && i < HEX_LEN; i++)
        ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
    return ok ? PC_OK : bad(st, w, "is not 64 lower-case hex digits:", v);
}

/* An archive name is one path component inside the backup's folder. */
static pc_status check_archive_name(pc_status st, const char *what, const char *v, bool may_be_null)
{
    pc_status r = check_text(st, what, "archive", v, may_be_null);
    if (r || !v)
        return r;
    char w[96];
    snprintf(w, sizeof w, "%s archive", what);
    if (strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return bad(st, w, "is not a plain file name:", v);
    return PC_OK;
}

/* A member path: relative, normalised, no "..", nothing the tar path check would refuse. */
static pc_status check_path(pc_status st, const char *what, const char *v)
{
    pc_status r = check_text(st, what, "path", v, false);
    if (r)
        return r;
    char norm[MF_MAX_STR + 1];
    if (pc_tar_path_check(v, norm, sizeof norm) != PC_OK || strcmp(norm, v) != 0 ||
        strcmp(norm, ".") == 0) {
        char w[96];
        snprintf(w, sizeof w, "%s path", what);
        return bad(st, w, "is not a normalised relative path:", v);
    }
    return PC_OK;
}

static pc_status check_header(pc_status st, const cat_mf_header *h)
{
    const char *w = "manifest header";
    pc_status r = check_backup_id(st, w, "backup_id", h->backup_id, false);
    if (!r && (!h->type || (strcmp(h->type, "full") != 0 && strcmp(h->type, "diff") != 0 &&
                            strcmp(h->type, "incr") != 0)))
        r = bad(st, "manifest header type", "is not full, diff or incr:", h->type ? h->type : "");
    bool full = !r && strcmp(h->type, "full") == 0;
    if (!r)
        r = check_backup_id(st, w, "parent_id", h->parent_id, true);
    if (!r && full && h->parent_id)
        r = bad(st, w, "a full backup has no parent_id", NULL);
    if (!r && !full && !h->parent_id)
        r = bad(st, w, "a diff or incr backup needs a parent_id", NULL);
    if (!r)
        r = check_text(st, w, "server", h->server, false);
    if (!r)
        r = check_text(st, w, "system_id", h->system_id, false);
    if (!r) {
        for (const char *p = h->system_id; *p && !r; p++)
            if (*p < '0' || *p > '9')
                r = bad(st, "manifest header system_id", "is not a number:", h->system_id);
    }
    if (!r)
        r = check_text(st, w, "compression", h->compression, false);
    if (!r && h->pg_version < 0)
        r = bad(st, w, "pg_version is negative", NULL);
    if (!r && h->timeline == 0)
        r = bad(st, w, "timeline is 0", NULL);
    if (!r && h->created_at <= 0)
        r = bad(st, w, "created_at is not a time after 1970", NULL);
    return r;
}

static pc_status check_archive(pc_status st, const cat_mf_archive *a)
{
    const char *w = "manifest archive";
    pc_status r = check_archive_name(st, w, a->name, false);
    if (!r)
        r = check_tablespace(st, w, a->tablespace);
    if (!r)
        r = check_sha256(st, w, a->sha256, false);
    if (!r && (a->size > INT64_MAX || a->raw_size > INT64_MAX))
        r = bad(st, w, "size out of range", NULL);
    return r;
}

static pc_status check_file(pc_status st, const cat_mf_file *f)
{
    const char *w = "manifest file";
    pc_status r = check_path(st, w, f->path);
    if (!r)
        r = check_tablespace(st, w, f->tablespace);
    if (!r && f->type != 'f' && f->type != 'd' && f->type != 'l')
        r = bad(st, w, "type is not f, d or l", NULL);
    if (!r && f->size > INT64_MAX)
        r = bad(st, w, "size out of range", NULL);
    if (!r && f->mode > 07777)
        r = bad(st, w, "mode out of range", NULL);
    if (!r)
        r = check_backup_id(st, w, "backup", f->backup_id, false);
    if (r)
        return r;
    bool reg = f->type == 'f';
    r = check_sha256(st, w, f->sha256, !reg);
    if (!r && !reg && f->sha256)
        r = bad(st, w, "only regular files have a sha256:", f->path);
    if (!r && !reg && f->has_crc32c)
        r = bad(st, w, "only regular files have a crc32c:", f->path);
    if (!r)
        r = check_archive_name(st, w, f->archive, !reg);
    if (!r && !reg && f->archive)
        r = bad(st, w, "only regular files are in an archive:", f->path);
    if (!r)
        r = check_text(st, w, "target", f->target, f->type != 'l');
    if (!r && f->type != 'l' && f->target)
        r = bad(st, w, "only symbolic links have a target:", f->path);
    return r;
}

/* ==== writer ==== */

struct cat_mfw {
    pc_sink *next;
    pc_hash *digest; /* over every line before the end line */
    pc_buf line;
    uint64_t archives, files;
    pc_status failed;
    bool finished;
};

static pc_status mfw_emit(cat_mfw *w, pc_jw *j)
{
    pc_status st = pc_jw_end(j);
    if (!st)
        st = pc_buf_append(&w->line, "\n", 1);
    if (!st) {
        pc_hash_update(w->digest, w->line.data, w->line.len);
        st = pc_sink_write(w->next, w->line.data, w->line.len);
    }
    pc_buf_reset(&w->line);
    if (st)
        w->failed = st;
    return st;
}

static pc_status mfw_usable(cat_mfw *w)
{
    if (w->failed)
        return w->failed;
    if (w->finished)
        return pc_err(PC_E_INTERNAL, "manifest writer used after finish");
    return PC_OK;
}

static void jw_opt_str(pc_jw *j, const char *k, const char *v)
{
    pc_jw_key(j, k);
    pc_jw_str(j, v);
}

pc_status cat_mfw_new(pc_sink *next, const cat_mf_header *h, cat_mfw **out)
{
    pc_status st = check_header(PC_E_USAGE, h);
    if (st) {
        pc_sink_free(next);
        return st;
    }
    cat_mfw *w = pc_calloc(1, sizeof *w);
    if (!w) {
        pc_sink_free(next);
        return PC_E_INTERNAL;
    }
    w->next = next;
    pc_buf_init(&w->line, MF_MAX_LINE);
    if ((st = pc_hash_new(PC_HASH_SHA256, &w->digest)) != PC_OK) {
        cat_mfw_free(w);
        return st;
    }
    char created[48];
    if (h->created_at % 1000000 == 0)
        pc_time_iso8601(h->created_at, false, created, sizeof created);
    else
        pc_time_iso8601(h->created_at, true, created, sizeof created);
    pc_jw j;
    pc_jw_init(&j, &w->line, false);
    pc_jw_obj_begin(&j);
    pc_jw_kint(&j, "pgcask_manifest", CAT_MF_VERSION);
    pc_jw_kstr(&j, "backup_id", h->backup_id);
    pc_jw_kstr(&j, "type", h->type);
    jw_opt_str(&j, "parent_id", h->parent_id);
    pc_jw_kstr(&j, "server", h->server);
    pc_jw_kstr(&j, "system_id", h->system_id);
    pc_jw_kint(&j, "pg_version", h->pg_version);
    pc_jw_kuint(&j, "timeline", h->timeline);
    pc_jw_kstr(&j, "compression", h->compression);
    pc_jw_kstr(&j, "created_at", created);
    pc_jw_obj_end(&j);
    if ((st = mfw_emit(w, &j)) != PC_OK) {
        cat_mfw_free(w);
        return st;
    }
    *out = w;
    return PC_OK;
}

pc_status cat_mfw_archive(cat_mfw *w, const cat_mf_archive *a)
{
    pc_status st = mfw_usable(w);
    if (st)
        return st;
    if ((st = check_archive(PC_E_USAGE, a)) != PC_OK)
        return st;
    pc_jw j;
    pc_jw_init(&j, &w->line, false);
    pc_jw_obj_begin(&j);
    pc_jw_kstr(&j, "archive", a->name);
    jw_opt_str(&j, "tablespace", a->tablespace);
    pc_jw_kuint(&j, "size", a->size);
    pc_jw_kuint(&j, "raw_size", a->raw_size);
    pc_jw_kstr(&j, "sha256", a->sha256);
    pc_jw_obj_end(&j);
    if ((st = mfw_emit(w, &j)) == PC_OK)
        w->archives++;
    return st;
}

pc_status cat_mfw_file(cat_mfw *w, const cat_mf_file *f)
{
    pc_status st = mfw_usable(w);
    if (st)
        return st;
    if ((st = check_file(PC_E_USAGE, f)) != PC_OK)
        return st;
    char type[2] = {f->type, '\0'};
    pc_jw j;
    pc_jw_init(&j, &w->line, false);
    pc_jw_obj_begin(&j);
    pc_jw_kstr(&j, "file", f->path);
    jw_opt_str(&j, "tablespace", f->tablespace);
    pc_jw_kstr(&j, "type", type);
    pc_jw_kuint(&j, "size", f->size);
    pc_jw_kint(&j, "mtime", f->mtime);
    pc_jw_kuint(&j, "mode", f->mode);
    jw_opt_str(&j, "sha256", f->sha256);
    if (f->has_crc32c) {
        char crc[9];
        snprintf(crc, sizeof crc, "%08" PRIx32, f->crc32c);
        pc_jw_kstr(&j, "crc32c", crc);
    }
    pc_jw_kstr(&j, "backup", f->backup_id);
    jw_opt_str(&j, "archive", f->archive);
    jw_opt_str(&j, "target", f->target);
    pc_jw_obj_end(&j);
    if ((st = mfw_emit(w, &j)) == PC_OK)
        w->files++;
    return st;
}

pc_status cat_mfw_finish(cat_mfw *w)
{
    pc_status st = mfw_usable(w);
    if (st)
        return st;
    unsigned char d[PC_SHA256_LEN];
    char hex[HEX_LEN + 1];
    pc_hash_final(w->digest, d);
    pc_hex(d, sizeof d, hex);
    pc_jw j;
    pc_jw_init(&j, &w->line, false);
    pc_jw_obj_begin(&j);
    pc_jw_kbool(&j, "end", true);
    pc_jw_kuint(&j, "archives", w->archives);
    pc_jw_kuint(&j, "files", w->files);
    pc_jw_kstr(&j, "sha256", hex);
    pc_jw_obj_end(&j);
    st = pc_jw_end(&j);
    if (!st)
        st = pc_buf_append(&w->line, "\n", 1);
    if (!st)
        st = pc_sink_write(w->next, w->line.data, w->line.len);
    if (!st)
        st = pc_sink_finish(w->next);
    if (st) {
        w->failed = st;
        return st;
    }
    w->finished = true;
    return PC_OK;
}

void cat_mfw_free(cat_mfw *w)
{
    if (!w)
        return;
    pc_sink_free(w->next); /* aborts an unfinished chain */
    pc_hash_free(w->digest);
    pc_buf_free(&w->line);
    free(w);
}

/* ==== reader ==== */

typedef enum mf_stage {
    MF_WANT_HEADER = 0,
    MF_BODY = 1,
    MF_ENDED = 2,
} mf_stage;

typedef struct mf_reader {
    pc_sink base;
    const cat_mf_handler *h;
    void *ud;
    pc_buf line;
    pc_hash *digest;
    uint64_t lineno;
    uint64_t archives, files;
    mf_stage stage;
} mf_reader;

static pc_status damaged(const mf_reader *r, const char *fmt, ...) PC_PRINTF(2, 3);
static pc_status damaged(const mf_reader *r, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pc_err(PC_E_CORRUPT, "pgcask manifest is damaged: line %" PRIu64 ": %s", r->lineno,
                  what);
}

/* Turn a validator's message into the reader's "damaged" wording. */
static pc_status damaged_from_record(const mf_reader *r)
{
    char msg[PC_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", pc_err_get()->message);
    return pc_err(PC_E_CORRUPT, "pgcask manifest is damaged: line %" PRIu64 ": %s", r->lineno, msg);
}

/* Typed members: absent keys are "missing"; JSON null is accepted only where stated. */
static pc_status get_str(const mf_reader *r, const pc_json *o, const char *key, bool nullable,
                         const char **out)
{
    const pc_json *v = pc_json_get(o, key);
    if (!v)
        return damaged(r, "key \"%s\" is missing", key);
    if (pc_json_is_null(v)) {
        if (!nullable)
            return damaged(r, "key \"%s\" must not be null", key);
        *out = NULL;
        return PC_OK;
    }
    if (!pc_json_is_string(v))
        return damaged(r, "key \"%s\" is not a string", key);
    *out = pc_json_string(v);
    return PC_OK;
}

static pc_status get_int(const mf_reader *r, const pc_json *o, const char *key, int64_t min,
                         int64_t max, int64_t *out)
{
    const pc_json *v = pc_json_get(o, key);
    if (!v)
        return damaged(r, "key \"%s\" is missing", key);
    int64_t x;
    if (!pc_json_int(v, &x))
        return damaged(r, "key \"%s\" is not an integer", key);
    if (x < min || x > max)
        return damaged(r, "key \"%s\" is out of range", key);
    *out = x;
    return PC_OK;
}

static pc_status read_header(mf_reader *r, const pc_json *o)
{
    int64_t version = 0, pgv = 0, tli = 0;
    pc_status st = get_int(r, o, "pgcask_manifest", 1, INT32_MAX, &version);
    if (st)
        return st;
    if (version != CAT_MF_VERSION) {
        st = pc_err(PC_E_CORRUPT,
                    "pgcask manifest format %" PRId64 " is not supported (this pgcask reads %d)",
                    version, CAT_MF_VERSION);
        pc_err_hint("The backup was written by a newer pgcask: restore it with that version.");
        return st;
    }
    cat_mf_header h = {0};
    const char *created = "";
    if ((st = get_str(r, o, "backup_id", false, &h.backup_id)) ||
        (st = get_str(r, o, "type", false, &h.type)) ||
        (st = get_str(r, o, "parent_id", true, &h.parent_id)) ||
        (st = get_str(r, o, "server", false, &h.server)) ||
        (st = get_str(r, o, "system_id", false, &h.system_id)) ||
        (st = get_int(r, o, "pg_version", 0, INT32_MAX, &pgv)) ||
        (st = get_int(r, o, "timeline", 1, UINT32_MAX, &tli)) ||
        (st = get_str(r, o, "compression", false, &h.compression)) ||
        (st = get_str(r, o, "created_at", false, &created)))
        return st;
    h.pg_version = (int)pgv;
    h.timeline = (uint32_t)tli;
    if (pc_time_parse(created, &h.created_at) != PC_OK) {
        char q[200];
        quoted(created, q, sizeof q);
        return damaged(r, "created_at \"%s\" is not a time", q);
    }
    if (check_header(PC_E_CORRUPT, &h) != PC_OK)
        return damaged_from_record(r);
    return r->h->header ? r->h->header(r->ud, &h) : PC_OK;
}

static pc_status read_archive(mf_reader *r, const pc_json *o)
{
    cat_mf_archive a = {0};
    int64_t size = 0, raw = 0;
    pc_status st;
    if ((st = get_str(r, o, "archive", false, &a.name)) ||
        (st = get_str(r, o, "tablespace", true, &a.tablespace)) ||
        (st = get_int(r, o, "size", 0, INT64_MAX, &size)) ||
        (st = get_int(r, o, "raw_size", 0, INT64_MAX, &raw)) ||
        (st = get_str(r, o, "sha256", false, &a.sha256)))
        return st;
    a.size = (uint64_t)size;
    a.raw_size = (uint64_t)raw;
    if (check_archive(PC_E_CORRUPT, &a) != PC_OK)
        return damaged_from_record(r);
    r->archives++;
    return r->h->archive ? r->h->archive(r->ud, &a) : PC_OK;
}

static pc_status read_file(mf_reader *r, const pc_json *o)
{
    cat_mf_file f = {0};
    const char *type = "";
    int64_t size = 0, mtime = 0, mode = 0;
    pc_status st;
    if ((st = get_str(r, o, "file", false, &f.path)) ||
        (st = get_str(r, o, "tablespace", true, &f.tablespace)) ||
        (st = get_str(r, o, "type", false, &type)) ||
        (st = get_int(r, o, "size", 0, INT64_MAX, &size)) ||
        (st = get_int(r, o, "mtime", INT64_MIN, INT64_MAX, &mtime)) ||
        (st = get_int(r, o, "mode", 0, 07777, &mode)) ||
        (st = get_str(r, o, "sha256", true, &f.sha256)) ||
        (st = get_str(r, o, "backup", false, &f.backup_id)) ||
        (st = get_str(r, o, "archive", true, &f.archive)) ||
        (st = get_str(r, o, "target", true, &f.target)))
        return st;
    if (strlen(type) != 1) {
        char q[200];
        quoted(type, q, sizeof q);
        return damaged(r, "type \"%s\" is not f, d or l", q);
    }
    const pc_json *crc = pc_json_get(o, "crc32c");
    if (crc) {
        unsigned char b[4]; /* big-endian, as written */
        if (!pc_json_is_string(crc) || pc_unhex(pc_json_string(crc), b, sizeof b) != PC_OK)
            return damaged(r, "key \"crc32c\" is not 8 hexadecimal digits");
        f.has_crc32c = true;
        f.crc32c = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    f.type = type[0];
    f.size = (uint64_t)size;
    f.mtime = mtime;
    f.mode = (uint32_t)mode;
    if (check_file(PC_E_CORRUPT, &f) != PC_OK)
        return damaged_from_record(r);
    r->files++;
    return r->h->file ? r->h->file(r->ud, &f) : PC_OK;
}

static pc_status read_end(mf_reader *r, const pc_json *o)
{
    const pc_json *e = pc_json_get(o, "end");
    bool b;
    if (!pc_json_bool(e, &b) || !b)
        return damaged(r, "key \"end\" is not true");
    int64_t na = 0, nf = 0;
    const char *hex = "";
    pc_status st;
    if ((st = get_int(r, o, "archives", 0, INT64_MAX, &na)) ||
        (st = get_int(r, o, "files", 0, INT64_MAX, &nf)) ||
        (st = get_str(r, o, "sha256", false, &hex)))
        return st;
    if ((uint64_t)na != r->archives || (uint64_t)nf != r->files) {
        char what[160];
        snprintf(what, sizeof what,
                 "the end line counts %" PRId64 " archives and %" PRId64 " files, the manifest "
                 "has %" PRIu64 " and %" PRIu64,
                 na, nf, r->archives, r->files);
        return damaged(r, "%s", what);
    }
    unsigned char d[PC_SHA256_LEN];
    char mine[HEX_LEN + 1];
    pc_hash_final(r->digest, d);
    pc_hex(d, sizeof d, mine);
    if (strcmp(hex, mine) != 0)
        return damaged(r, "the digest of the lines does not match the end line (a line was "
                          "changed, added or removed)");
    r->stage = MF_ENDED;
    return PC_OK;
}

static pc_status reader_line(mf_reader *r, const char *text, size_t len)
{
    r->lineno++;
    if (r->stage == MF_ENDED)
        return damaged(r, "data after the end line");
    pc_json *o;
    pc_error saved;
    if (pc_json_parse(text, len, MF_MAX_LINE, "manifest line", &o) != PC_OK) {
        pc_err_save(&saved);
        /* the parser quotes the input: keep terminal control bytes out of the message */
        for (char *c = saved.message; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        return damaged(r, "%s", saved.message);
    }
    pc_status st;
    if (!pc_json_is_object(o)) {
        st = damaged(r, "not a JSON object");
    } else if (r->stage == MF_WANT_HEADER) {
        if (!pc_json_get(o, "pgcask_manifest"))
            st = damaged(r, "the first line is not a pgcask manifest header");
        else
            st = read_header(r, o);
        if (st == PC_OK)
            r->stage = MF_BODY;
    } else if (pc_json_get(o, "file")) {
        st = read_file(r, o); /* before "archive": file lines have that key too */
    } else if (pc_json_get(o, "archive")) {
        st = read_archive(r, o);
    } else if (pc_json_get(o, "end")) {
        st = read_end(r, o);
    } else {
        st = damaged(r, "unknown line kind");
    }
    pc_json_free(o);
    if (st == PC_OK && r->stage != MF_ENDED) {
        pc_hash_update(r->digest, text, len);
        pc_hash_update(r->digest, "\n", 1); /* as written */
    }
    return st;
}

static pc_status reader_write(pc_sink *s, const void *data, size_t len)
{
    mf_reader *r = (mf_reader *)s;
    const char *p = data;
    while (len > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t n = nl ? (size_t)(nl - p) : len;
        if (r->line.len + n > MF_MAX_LINE)
            return pc_err(PC_E_CORRUPT,
                          "pgcask manifest is damaged: line %" PRIu64 " is longer than %d bytes",
                          r->lineno + 1, MF_MAX_LINE);
        pc_status st = pc_buf_append(&r->line, p, n);
        if (st)
            return st;
        if (!nl)
            break;
        st = reader_line(r, (const char *)r->line.data, r->line.len);
        pc_buf_reset(&r->line);
        if (st)
            return st;
        p += n + 1;
        len -= n + 1;
    }
    return PC_OK;
}

static pc_status reader_finish(pc_sink *s)
{
    mf_reader *r = (mf_reader *)s;
    if (r->stage == MF_ENDED && r->line.len == 0)
        return PC_OK;
    if (r->line.len > 0)
        return pc_err(PC_E_CORRUPT, "pgcask manifest is truncated: it stops inside line %" PRIu64,
                      r->lineno + 1);
    return pc_err(PC_E_CORRUPT,
                  "pgcask manifest is truncated: it has no end line (%" PRIu64 " complete lines)",
                  r->lineno);
}

static void reader_destroy(pc_sink *s)
{
    mf_reader *r = (mf_reader *)s;
    pc_buf_free(&r->line);
    pc_hash_free(r->digest);
    free(r);
}

static const pc_sink_ops reader_ops = {
    .name = "manifest-reader",
    .write = reader_write,
    .finish = reader_finish,
    .destroy = reader_destroy,
};

pc_status cat_mf_reader_new(const cat_mf_handler *h, void *ud, pc_sink **out)
{
    mf_reader *r = pc_calloc(1, sizeof *r);
    if (!r)
        return PC_E_INTERNAL;
    pc_sink_init(&r->base, &reader_ops, NULL);
    r->h = h;
    r->ud = ud;
    pc_buf_init(&r->line, MF_MAX_LINE + 1);
    pc_status st = pc_hash_new(PC_HASH_SHA256, &r->digest);
    if (st) {
        reader_destroy(&r->base);
        return st;
    }
    *out = &r->base;
    return PC_OK;
}

/* ==== index ==== */

/* One block per entry: the public record, its position, its mark, then its strings. */
typedef struct ix_entry {
    cat_mf_file f;
    size_t pos;
    bool marked;
    char strings[];
} ix_entry;

struct cat_mf_index {
    ix_entry **v; /* insertion order */
    size_t n, cap;
    size_t *slots; /* open addressing: position + 1, 0 = empty */
    size_t nslots; /* a power of two, at least 2 * n */
};

static uint64_t ix_hash(const char *tablespace, const char *path)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = tablespace ? tablespace : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ (tablespace ? 0xffu : 0xfeu)) * 1099511628211ULL;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static bool same_tbs(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The slot holding (tablespace, path), or the empty slot where it would go. */
static size_t ix_probe(const cat_mf_index *ix, const char *tablespace, const char *path)
{
    size_t mask = ix->nslots - 1;
    size_t i = (size_t)ix_hash(tablespace, path) & mask;
    for (;;) {
        size_t s = ix->slots[i];
        if (s == 0)
            return i;
        const cat_mf_file *f = &ix->v[s - 1]->f;
        if (same_tbs(f->tablespace, tablespace) && strcmp(f->path, path) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static pc_status ix_grow(cat_mf_index *ix)
{
    size_t nslots = ix->nslots ? ix->nslots * 2 : 64;
    size_t *slots = pc_calloc(nslots, sizeof *slots);
    if (!slots)
        return PC_E_INTERNAL;
    free(ix->slots);
    ix->slots = slots;
    ix->nslots = nslots;
    for (size_t k = 0; k < ix->n; k++)
        ix->slots[ix_probe(ix, ix->v[k]->f.tablespace, ix->v[k]->f.path)] = k + 1;
    return PC_OK;
}

pc_status cat_mf_index_new(cat_mf_index **out)
{
    cat_mf_index *ix = pc_calloc(1, sizeof *ix);
    if (!ix)
        return PC_E_INTERNAL;
    if (ix_grow(ix) != PC_OK) {
        free(ix);
        return PC_E_INTERNAL;
    }
    *out = ix;
    return PC_OK;
}

/* Copy s into the string area at *o; NULL stays NULL. */
static const char *ix_put(char *area, size_t *o, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(area + *o, s, n);
    const char *r = area + *o;
    *o += n;
    return r;
}

static size_t opt_len(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

pc_status cat_mf_index_add(cat_mf_index *ix, const cat_mf_file *f)
{
    pc_status st = check_file(PC_E_CORRUPT, f);
    if (st)
        return st;
    if (2 * (ix->n + 1) > ix->nslots && (st = ix_grow(ix)) != PC_OK)
        return st;
    size_t slot = ix_probe(ix, f->tablespace, f->path);
    if (ix->slots[slot]) {
        char q[200];
        quoted(f->path, q, sizeof q);
        return pc_err(PC_E_CORRUPT, "manifest lists \"%s\"%s%s twice", q,
                      f->tablespace ? " of tablespace " : "", f->tablespace ? f->tablespace : "");
    }
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 256;
        ix_entry **v = pc_realloc(ix->v, cap * sizeof *v);
        if (!v)
            return PC_E_INTERNAL;
        ix->v = v;
        ix->cap = cap;
    }
    size_t need = opt_len(f->path) + opt_len(f->tablespace) + opt_len(f->sha256) +
                  opt_len(f->backup_id) + opt_len(f->archive) + opt_len(f->target);
    ix_entry *e = pc_malloc(sizeof *e + need);
    if (!e)
        return PC_E_INTERNAL;
    size_t o = 0;
    e->f = *f;
    e->f.path = ix_put(e->strings, &o, f->path);
    e->f.tablespace = ix_put(e->strings, &o, f->tablespace);
    e->f.sha256 = ix_put(e->strings, &o, f->sha256);
    e->f.backup_id = ix_put(e->strings, &o, f->backup_id);
    e->f.archive = ix_put(e->strings, &o, f->archive);
    e->f.target = ix_put(e->strings, &o, f->target);
    e->pos = ix->n;
    e->marked = false;
    ix->v[ix->n++] = e;
    ix->slots[slot] = ix->n;
    return PC_OK;
}

const cat_mf_file *cat_mf_index_find(const cat_mf_index *ix, const char *tablespace,
                                     const char *path)
{
    size_t s = ix->slots[ix_probe(ix, tablespace, path)];
    return s ? &ix->v[s - 1]->f : NULL;
}

size_t cat_mf_index_count(const cat_mf_index *ix)
{
    return ix->n;
}

const cat_mf_file *cat_mf_index_at(const cat_mf_index *ix, size_t i)
{
    return i < ix->n ? &ix->v[i]->f : NULL;
}

/* The entry block of a record handed out by this index. */
static ix_entry *ix_entry_of(const cat_mf_index *ix, const cat_mf_file *f)
{
    ix_entry *e = (ix_entry *)(uintptr_t)((const char *)f - offsetof(ix_entry, f));
    if (e->pos >= ix->n || ix->v[e->pos] != e)
        abort(); /* a programming error: f is not an entry of this index */
    return e;
}

bool cat_mf_index_mark(cat_mf_index *ix, const cat_mf_file *f)
{
    ix_entry *e = ix_entry_of(ix, f);
    if (e->marked)
        return false;
    e->marked = true;
    return true;
}

bool cat_mf_index_marked(const cat_mf_index *ix, const cat_mf_file *f)
{
    return ix_entry_of(ix, f)->marked;
}

void cat_mf_index_free(cat_mf_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->n; i++)
        free(ix->v[i]);
    free(ix->v);
    free(ix->slots);
    free(ix);
}
