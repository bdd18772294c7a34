/*
 * barman's outputs, byte for byte: JSON as Python's json.dumps() writes it
 * (", " and ": " separators, ensure_ascii escapes, float repr), the
 * BackupInfo.to_json() of barman 3.17+ (the key set CloudNativePG's plugin
 * sidecar sees, with begin_time_iso/end_time_iso), and the console layouts
 * of barman-cloud-backup-list and barman-cloud-backup-show.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver/ops_int.h"
#include "common/error.h"
#include "common/timeutil.h"

/* ---- the writer ---- */

void ops_pj_init(ops_pj *j, pc_buf *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->first[0] = true;
}

static void put(ops_pj *j, const char *s)
{
    if (j->st == PC_OK)
        j->st = pc_buf_append_str(j->out, s);
}

/* The separator before a value (not after a key). */
static void value_start(ops_pj *j)
{
    if (j->depth > 0 && j->first[j->depth] == false)
        put(j, ", ");
    j->first[j->depth] = false;
}

/* A value directly after its key takes no separator. */
static void scalar_start(ops_pj *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    value_start(j);
}

static void open_container(ops_pj *j, const char *c)
{
    scalar_start(j);
    put(j, c);
    if (j->depth + 1 >= (int)(sizeof j->first / sizeof j->first[0])) {
        if (j->st == PC_OK)
            j->st = pc_err(PC_E_INTERNAL, "JSON nested too deeply");
        return;
    }
    j->depth++;
    j->first[j->depth] = true;
}

static void close_container(ops_pj *j, const char *c)
{
    if (j->depth > 0)
        j->depth--;
    put(j, c);
}

void ops_pj_obj_begin(ops_pj *j)
{
    open_container(j, "{");
}

void ops_pj_obj_end(ops_pj *j)
{
    close_container(j, "}");
}

void ops_pj_arr_begin(ops_pj *j)
{
    open_container(j, "[");
}

void ops_pj_arr_end(ops_pj *j)
{
    close_container(j, "]");
}

/* One code point from UTF-8 (invalid bytes are U+FFFD, one byte at a time). */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        cp = c & 0x1F, len = 2;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F, len = 3;
    } else if ((c & 0xF8) == 0xF0) {
        cp = c & 0x07, len = 4;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + len > n) {
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    *i += len;
    return cp;
}

/* Python's json ensure_ascii encoding: everything outside ' '..'~' is escaped. */
static void quote(ops_pj *j, const char *s, size_t n)
{
    pc_buf *b = j->out;
    if (j->st)
        return;
    pc_status st = pc_buf_append(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; st == PC_OK && i < n;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') {
            size_t k = i;
            while (k < n && u[k] >= 0x20 && u[k] <= 0x7e && u[k] != '"' && u[k] != '\\')
                k++;
            st = pc_buf_append(b, s + i, k - i);
            i = k;
            continue;
        }
        uint32_t cp = utf8_next(u, n, &i);
        switch (cp) {
        case '"':
            st = pc_buf_append_str(b, "\\\"");
            break;
        case '\\':
            st = pc_buf_append_str(b, "\\\\");
            break;
        case '\n':
            st = pc_buf_append_str(b, "\\n");
            break;
        case '\r':
            st = pc_buf_append_str(b, "\\r");
            break;
        case '\t':
            st = pc_buf_append_str(b, "\\t");
            break;
        case '\b':
            st = pc_buf_append_str(b, "\\b");
            break;
        case '\f':
            st = pc_buf_append_str(b, "\\f");
            break;
        default:
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                st = pc_buf_printf(b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else {
                st = pc_buf_printf(b, "\\u%04x", cp);
            }
        }
    }
    if (st == PC_OK)
        st = pc_buf_append(b, "\"", 1);
    j->st = st;
}

void ops_pj_key(ops_pj *j, const char *k)
{
    value_start(j);
    quote(j, k, strlen(k));
    put(j, ": ");
    j->after_key = true;
}

void ops_pj_strn(ops_pj *j, const char *s, size_t n)
{
    scalar_start(j);
    quote(j, s, n);
}

void ops_pj_str(ops_pj *j, const char *s)
{
    if (!s) {
        ops_pj_null(j);
        return;
    }
    ops_pj_strn(j, s, strlen(s));
}

void ops_pj_int(ops_pj *j, int64_t v)
{
    scalar_start(j);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, v);
    put(j, t);
}

void ops_pj_intn(ops_pj *j, int64_t v)
{
    if (v == CAT_BINFO_NONE)
        ops_pj_null(j);
    else
        ops_pj_int(j, v);
}

void ops_pj_uint(ops_pj *j, uint64_t v)
{
    scalar_start(j);
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64, v);
    put(j, t);
}

void ops_pj_dbl(ops_pj *j, double v)
{
    scalar_start(j);
    if (isnan(v)) {
        put(j, "NaN");
    } else if (isinf(v)) {
        put(j, v > 0 ? "Infinity" : "-Infinity");
    } else if (j->st == PC_OK) {
        j->st = cat_py_repr_float(j->out, v);
    }
}

void ops_pj_bool(ops_pj *j, bool v)
{
    scalar_start(j);
    put(j, v ? "true" : "false");
}

void ops_pj_null(ops_pj *j)
{
    scalar_start(j);
    put(j, "null");
}

/* A dict key as json.dumps converts it: str as is, numbers and constants as text. */
static void py_key(ops_pj *j, const cat_py *k)
{
    char t[64];
    switch (k->kind) {
    case CAT_PY_STR:
        value_start(j);
        quote(j, k->s, k->slen);
        put(j, ": ");
        j->after_key = true;
        return;
    case CAT_PY_INT:
        snprintf(t, sizeof t, "%" PRId64, k->i);
        break;
    case CAT_PY_BOOL:
        snprintf(t, sizeof t, "%s", k->b ? "true" : "false");
        break;
    case CAT_PY_NONE:
        snprintf(t, sizeof t, "null");
        break;
    case CAT_PY_FLOAT: {
        pc_buf f;
        pc_buf_init(&f, 64);
        if (cat_py_repr_float(&f, k->f) == PC_OK)
            snprintf(t, sizeof t, "%s", pc_buf_cstr(&f));
        else
            snprintf(t, sizeof t, "NaN");
        pc_buf_free(&f);
        break;
    }
    case CAT_PY_TUPLE:
    case CAT_PY_LIST:
    case CAT_PY_DICT:
        /* json.dumps raises TypeError for these keys; barman never writes them */
        snprintf(t, sizeof t, "?");
        break;
    }
    ops_pj_key(j, t);
}

void ops_pj_py(ops_pj *j, const cat_py *v)
{
    if (!v) {
        ops_pj_null(j);
        return;
    }
    switch (v->kind) {
    case CAT_PY_NONE:
        ops_pj_null(j);
        return;
    case CAT_PY_BOOL:
        ops_pj_bool(j, v->b);
        return;
    case CAT_PY_INT:
        ops_pj_int(j, v->i);
        return;
    case CAT_PY_FLOAT:
        ops_pj_dbl(j, v->f);
        return;
    case CAT_PY_STR:
        ops_pj_strn(j, v->s, v->slen);
        return;
    case CAT_PY_TUPLE:
    case CAT_PY_LIST:
        ops_pj_arr_begin(j);
        for (size_t i = 0; i < v->n; i++)
            ops_pj_py(j, v->items[i]);
        ops_pj_arr_end(j);
        return;
    case CAT_PY_DICT:
        ops_pj_obj_begin(j);
        for (size_t i = 0; i < v->n; i++) {
            py_key(j, v->items[2 * i]);
            ops_pj_py(j, v->items[2 * i + 1]);
        }
        ops_pj_obj_end(j);
        return;
    }
}

pc_status ops_pj_end(ops_pj *j)
{
    return j->st;
}

/* ---- times ---- */

static void civil(int64_t us, int32_t tz, struct tm *tm, int *usec)
{
    int64_t t = us + (int64_t)tz * 1000000;
    int64_t sec = t / 1000000, rem = t % 1000000;
    if (rem < 0) {
        rem += 1000000;
        sec--;
    }
    time_t tt = (time_t)sec;
    gmtime_r(&tt, tm);
    *usec = (int)rem;
}

static void tz_text(int32_t tz, char *out, size_t outlen)
{
    char sign = tz < 0 ? '-' : '+';
    int32_t a = tz < 0 ? -tz : tz;
    if (a % 60)
        snprintf(out, outlen, "%c%02d:%02d:%02d", sign, a / 3600, a / 60 % 60, a % 60);
    else
        snprintf(out, outlen, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
}

void ops_time_str(int64_t us, int32_t tz, char sep, char *out, size_t outlen)
{
    struct tm tm;
    int usec;
    char z[16];
    civil(us, tz, &tm, &usec);
    tz_text(tz, z, sizeof z);
    if (usec)
        snprintf(out, outlen, "%04d-%02d-%02d%c%02d:%02d:%02d.%06d%s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec, usec, z);
    else
        snprintf(out, outlen, "%04d-%02d-%02d%c%02d:%02d:%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec, z);
}

void ops_time_ctime(int64_t us, int32_t tz, char *out, size_t outlen)
{
    pc_time_ctime(us + (int64_t)tz * 1000000, out, outlen);
}

/* ---- BackupInfo.to_json() ---- */

static void k_str(ops_pj *j, const char *k, const char *v)
{
    ops_pj_key(j, k);
    ops_pj_str(j, v);
}

static void k_int(ops_pj *j, const char *k, int64_t v)
{
    ops_pj_key(j, k);
    ops_pj_intn(j, v);
}

/* A Python literal kept as text (copy_stats, snapshots_info): its value, null when unparsable. */
static void k_literal(ops_pj *j, const char *k, const char *text)
{
    ops_pj_key(j, k);
    if (!text) {
        ops_pj_null(j);
        return;
    }
    cat_py *v = NULL;
    if (cat_py_parse(text, strlen(text), &v) != PC_OK) {
        pc_err_clear();
        ops_pj_null(j);
        return;
    }
    ops_pj_py(j, v);
    cat_py_free(v);
}

static void k_time(ops_pj *j, const char *k, int64_t us, int32_t tz)
{
    ops_pj_key(j, k);
    if (us == CAT_BINFO_NONE) {
        ops_pj_null(j);
        return;
    }
    char t[64];
    ops_time_ctime(us, tz, t, sizeof t);
    ops_pj_str(j, t);
}

/* The unknown keys (a newer barman's) sorting before `upto`, smallest first, each once. */
static void extras_until(ops_pj *j, const cat_binfo *b, const char *upto, size_t *done)
{
    for (;;) {
        size_t best = b->n_extra;
        for (size_t m = 0; m < b->n_extra; m++) {
            if (done[m] || (upto && strcmp(b->extra[m].key, upto) >= 0))
                continue;
            if (best == b->n_extra || strcmp(b->extra[m].key, b->extra[best].key) < 0)
                best = m;
        }
        if (best == b->n_extra)
            return;
        done[best] = 1;
        ops_pj_key(j, b->extra[best].key);
        if (strcmp(b->extra[best].value, "None") == 0)
            ops_pj_null(j);
        else
            ops_pj_str(j, b->extra[best].value);
    }
}

pc_status ops_backup_json(const char *id, const cat_binfo *b, pc_buf *out)
{
    ops_pj j;
    ops_pj_init(&j, out);
    size_t *done = b->n_extra ? pc_calloc(b->n_extra, sizeof *done) : NULL;
    if (b->n_extra && !done)
        return PC_E_INTERNAL;
#define EX(name) extras_until(&j, b, name, done)
    ops_pj_obj_begin(&j);
    EX("backup_label");
    ops_pj_key(&j, "backup_label");
    if (b->backup_label && *b->backup_label) {
        pc_buf r;
        pc_buf_init(&r, PC_BUF_NOCAP);
        if (cat_py_repr_str(&r, b->backup_label, strlen(b->backup_label)) == PC_OK) {
            ops_pj_strn(&j, (const char *)r.data, r.len);
        } else {
            pc_err_clear();
            ops_pj_null(&j);
        }
        pc_buf_free(&r);
    } else {
        ops_pj_null(&j);
    }
    if (b->backup_name) {
        EX("backup_name");
        k_str(&j, "backup_name", b->backup_name);
    }
    EX("begin_offset");
    k_int(&j, "begin_offset", b->begin_offset);
    EX("begin_time");
    k_time(&j, "begin_time", b->begin_time, b->begin_time_tz);
    EX("begin_wal");
    k_str(&j, "begin_wal", b->begin_wal);
    EX("begin_xlog");
    k_str(&j, "begin_xlog", b->begin_xlog);
    EX("children_backup_ids");
    k_str(&j, "children_backup_ids", b->children_backup_ids);
    EX("cluster_size");
    k_int(&j, "cluster_size", b->cluster_size);
    EX("compression");
    k_str(&j, "compression", b->compression);
    EX("config_file");
    k_str(&j, "config_file", b->config_file);
    EX("copy_stats");
    k_literal(&j, "copy_stats", b->copy_stats);
    EX("data_checksums");
    k_str(&j, "data_checksums", b->data_checksums);
    EX("deduplicated_size");
    k_int(&j, "deduplicated_size", b->deduplicated_size);
    EX("encryption");
    k_str(&j, "encryption", b->encryption);
    EX("end_offset");
    k_int(&j, "end_offset", b->end_offset);
    EX("end_time");
    k_time(&j, "end_time", b->end_time, b->end_time_tz);
    EX("end_wal");
    k_str(&j, "end_wal", b->end_wal);
    EX("end_xlog");
    k_str(&j, "end_xlog", b->end_xlog);
    EX("error");
    k_str(&j, "error", b->error);
    EX("hba_file");
    k_str(&j, "hba_file", b->hba_file);
    EX("ident_file");
    k_str(&j, "ident_file", b->ident_file);
    EX("included_files");
    ops_pj_key(&j, "included_files");
    if (b->n_included_files) {
        ops_pj_arr_begin(&j);
        for (size_t i = 0; i < b->n_included_files; i++)
            ops_pj_str(&j, b->included_files[i]);
        ops_pj_arr_end(&j);
    } else {
        ops_pj_null(&j);
    }
    EX("mode");
    k_str(&j, "mode", b->mode);
    EX("parent_backup_id");
    k_str(&j, "parent_backup_id", b->parent_backup_id);
    EX("pgdata");
    k_str(&j, "pgdata", b->pgdata);
    EX("server_name");
    k_str(&j, "server_name", b->server_name);
    EX("size");
    k_int(&j, "size", b->size);
    if (b->snapshots_info) {
        EX("snapshots_info");
        k_literal(&j, "snapshots_info", b->snapshots_info);
    }
    EX("status");
    k_str(&j, "status", cat_binfo_status_name(b->status));
    EX("summarize_wal");
    k_str(&j, "summarize_wal", b->summarize_wal);
    EX("systemid");
    ops_pj_key(&j, "systemid");
    if (b->systemid) {
        char t[24];
        snprintf(t, sizeof t, "%" PRIu64, b->systemid);
        ops_pj_str(&j, t);
    } else {
        ops_pj_null(&j);
    }
    EX("tablespaces");
    ops_pj_key(&j, "tablespaces");
    if (b->n_tablespaces) {
        ops_pj_arr_begin(&j);
        for (size_t i = 0; i < b->n_tablespaces; i++) {
            ops_pj_arr_begin(&j);
            ops_pj_str(&j, b->tablespaces[i].name);
            ops_pj_uint(&j, b->tablespaces[i].oid);
            ops_pj_str(&j, b->tablespaces[i].location);
            ops_pj_arr_end(&j);
        }
        ops_pj_arr_end(&j);
    } else {
        ops_pj_null(&j);
    }
    EX("timeline");
    k_int(&j, "timeline", b->timeline);
    EX("version");
    k_int(&j, "version", b->version);
    EX("xlog_segment_size");
    k_int(&j, "xlog_segment_size", b->xlog_segment_size);
    EX(NULL);
#undef EX
    /* to_dict() adds backup_id, to_json() the ISO times, in that order */
    k_str(&j, "backup_id", id);
    char t[64];
    if (b->begin_time != CAT_BINFO_NONE) {
        ops_time_str(b->begin_time, b->begin_time_tz, 'T', t, sizeof t);
        k_str(&j, "begin_time_iso", t);
    }
    if (b->end_time != CAT_BINFO_NONE) {
        ops_time_str(b->end_time, b->end_time_tz, 'T', t, sizeof t);
        k_str(&j, "end_time_iso", t);
    }
    ops_pj_obj_end(&j);
    free(done);
    return ops_pj_end(&j);
}

pc_status ops_render_list_json(const ops_list *l, pc_buf *out)
{
    pc_status st = pc_buf_append_str(out, "{\"backups_list\": [");
    for (size_t i = 0; st == PC_OK && i < l->n; i++) {
        if (i)
            st = pc_buf_append_str(out, ", ");
        if (st == PC_OK)
            st = ops_backup_json(l->v[i].id, &l->v[i].info, out);
    }
    if (st == PC_OK)
        st = pc_buf_append_str(out, "]}\n");
    return st;
}

pc_status ops_render_show_json(const ops_entry *e, pc_buf *out)
{
    ops_pj j;
    ops_pj_init(&j, out);
    ops_pj_obj_begin(&j);
    /* json.dumps turns a None key into "null" */
    ops_pj_key(&j, e->info.server_name ? e->info.server_name : "null");
    pc_status st = ops_pj_end(&j);
    /* the value is one object: written by ops_backup_json, then the closing brace */
    if (st == PC_OK)
        st = ops_backup_json(e->id, &e->info, out);
    if (st == PC_OK)
        st = pc_buf_append_str(out, "}\n");
    return st;
}

/* ---- console ---- */

/* Pad to width code points (Python's str.format "{:<N}"). */
static pc_status pad(pc_buf *out, const char *s, size_t width)
{
    size_t cps = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        cps += (*p & 0xC0) != 0x80;
    pc_status st = pc_buf_append_str(out, s);
    for (; st == PC_OK && cps < width; cps++)
        st = pc_buf_append(out, " ", 1);
    return st;
}

pc_status ops_render_list_console(const ops_list *l, pc_buf *out)
{
    static const size_t w[] = {20, 25, 30, 17, 20};
    const char *head[] = {"Backup ID", "End Time", "Begin Wal", "Archival Status", "Name"};
    pc_status st = PC_OK;
    for (size_t k = 0; st == PC_OK && k < 5; k++)
        st = pad(out, head[k], w[k]);
    if (st == PC_OK)
        st = pc_buf_append(out, "\n", 1);
    for (size_t i = 0; st == PC_OK && i < l->n; i++) {
        const ops_entry *e = &l->v[i];
        if (e->info.status != CAT_BINFO_DONE)
            continue;
        char end[32] = "None", keep[32] = "";
        if (e->info.end_time != CAT_BINFO_NONE) {
            ops_time_str(e->info.end_time, e->info.end_time_tz, ' ', end, sizeof end);
            end[19] = '\0'; /* strftime("%Y-%m-%d %H:%M:%S") */
        }
        if (e->keep == OPS_KEEP_FULL)
            snprintf(keep, sizeof keep, "KEEP:FULL");
        else if (e->keep == OPS_KEEP_STANDALONE)
            snprintf(keep, sizeof keep, "KEEP:STANDALONE");
        const char *cols[] = {e->id, end, e->info.begin_wal ? e->info.begin_wal : "None", keep,
                              e->info.backup_name ? e->info.backup_name : ""};
        for (size_t k = 0; st == PC_OK && k < 5; k++)
            st = pad(out, cols[k], w[k]);
        if (st == PC_OK)
            st = pc_buf_append(out, "\n", 1);
    }
    return st;
}

/* barman.utils.pretty_size (1024-based). */
static void pretty_size(double size, char *out, size_t outlen)
{
    static const char *suffix[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    for (size_t i = 0; i < 9; i++) {
        if (fabs(size) < 1024 || i == 8) {
            if (i == 0)
                snprintf(out, outlen, "%d %s", (int)size, suffix[i]);
            else
                snprintf(out, outlen, "%.1f %s", size, suffix[i]);
            return;
        }
        size /= 1024;
    }
}

/* barman.utils.human_readable_timedelta of a positive number of seconds. */
static pc_status human_delta(pc_buf *out, double seconds)
{
    /* timedelta rounds to microseconds; .days and .seconds split the whole seconds */
    int64_t us = (int64_t)llround(seconds * 1e6);
    int64_t total = us / 1000000;
    int64_t days = total / 86400, secs = total % 86400;
    int64_t parts[4] = {days, secs / 3600, secs / 60 % 60, secs % 60};
    static const char *unit[4] = {"day", "hour", "minute", "second"};
    pc_status st = PC_OK;
    bool any = false;
    if (us < 1000000)
        return pc_buf_append_str(out, "less than one second");
    for (int i = 0; st == PC_OK && i < 4; i++) {
        if (parts[i] <= 0)
            continue;
        st = pc_buf_printf(out, "%s%" PRId64 " %s%s", any ? ", " : "", parts[i], unit[i],
                           parts[i] == 1 ? "" : "s");
        any = true;
    }
    return st;
}

static void py_int(char *out, size_t len, int64_t v)
{
    if (v == CAT_BINFO_NONE)
        snprintf(out, len, "None");
    else
        snprintf(out, len, "%" PRId64, v);
}

/* barman's "  {:<23}: {}" and "    {:<21}: {}" rows (padding counts characters) */
static pc_status row(pc_buf *out, const char *indent, size_t width, const char *label,
                     const char *value)
{
    pc_status st = pc_buf_append_str(out, indent);
    st = st ? st : pad(out, label, width);
    return st ? st : pc_buf_printf(out, ": %s\n", value);
}

#define ROW(label, value)    row(out, "  ", 23, label, value)
#define NESTED(label, value) row(out, "    ", 21, label, value)
#define S(x)                 ((x) ? (x) : "None")

pc_status ops_render_show_console(const ops_entry *e, pc_buf *out)
{
    const cat_binfo *b = &e->info;
    char t[128];
    pc_status st = pc_buf_printf(out, "Backup %s:\n", e->id);
    if (st == PC_OK && b->backup_name && *b->backup_name)
        st = ROW("Backup Name", b->backup_name);
    if (st == PC_OK)
        st = ROW("Server Name", S(b->server_name));
    if (st == PC_OK && b->systemid) {
        snprintf(t, sizeof t, "%" PRIu64, b->systemid);
        st = ROW("System Id", t);
    }
    if (st == PC_OK)
        st = ROW("Status", cat_binfo_status_name(b->status));
    bool copy_done = b->status == CAT_BINFO_DONE || b->status == CAT_BINFO_WAITING_FOR_WALS;
    if (st == PC_OK && copy_done) {
        py_int(t, sizeof t, b->version);
        st = ROW("PostgreSQL Version", t);
        if (st == PC_OK)
            st = ROW("PGDATA directory", S(b->pgdata));
        if (st == PC_OK && b->cluster_size != CAT_BINFO_NONE && b->cluster_size != 0) {
            pretty_size((double)b->cluster_size, t, sizeof t);
            st = ROW("Estimated Cluster Size", t);
        }
    }
    if (st == PC_OK)
        st = pc_buf_append_str(out, "\n");
    if (st == PC_OK &&
        ((b->data_checksums && *b->data_checksums) || (b->summarize_wal && *b->summarize_wal))) {
        st = pc_buf_append_str(out, "  Server information:\n");
        if (st == PC_OK && b->data_checksums && *b->data_checksums)
            st = NESTED("Checksums", b->data_checksums);
        if (st == PC_OK && b->summarize_wal && *b->summarize_wal)
            st = NESTED("WAL summarizer", b->summarize_wal);
        if (st == PC_OK)
            st = pc_buf_append_str(out, "\n");
    }
    if (st == PC_OK && !copy_done) {
        if (b->error && *b->error)
            st = ROW("Error", b->error);
        return st;
    }
    if (st == PC_OK && b->n_tablespaces) {
        st = pc_buf_append_str(out, "  Tablespaces:\n");
        for (size_t i = 0; st == PC_OK && i < b->n_tablespaces; i++) {
            char v[8192];
            snprintf(v, sizeof v, "%s (oid: %" PRIu32 ")", b->tablespaces[i].location,
                     b->tablespaces[i].oid);
            st = NESTED(b->tablespaces[i].name, v);
        }
        if (st == PC_OK)
            st = pc_buf_append_str(out, "\n");
    }
    if (st == PC_OK)
        st = pc_buf_append_str(out, "  Base backup information:\n");
    if (st == PC_OK && b->mode && *b->mode)
        st = NESTED("Backup Method", b->mode);
    if (st == PC_OK && b->encryption && *b->encryption)
        st = NESTED("Encryption", b->encryption);
    if (st == PC_OK && b->deduplicated_size != CAT_BINFO_NONE && b->deduplicated_size != 0) {
        pretty_size((double)b->deduplicated_size, t, sizeof t);
        st = NESTED("Backup Size", t);
    }
    if (st == PC_OK && b->compression && *b->compression && strcmp(b->compression, "none") != 0)
        st = NESTED("Backup Compression", b->compression);
    if (st == PC_OK) {
        py_int(t, sizeof t, b->timeline);
        st = NESTED("Timeline", t);
    }
    if (st == PC_OK)
        st = NESTED("Begin WAL", S(b->begin_wal));
    if (st == PC_OK)
        st = NESTED("End WAL", S(b->end_wal));
    if (st == PC_OK) {
        if (b->begin_time == CAT_BINFO_NONE)
            snprintf(t, sizeof t, "None");
        else
            ops_time_str(b->begin_time, b->begin_time_tz, ' ', t, sizeof t);
        st = NESTED("Begin time", t);
    }
    if (st == PC_OK) {
        if (b->end_time == CAT_BINFO_NONE)
            snprintf(t, sizeof t, "None");
        else
            ops_time_str(b->end_time, b->end_time_tz, ' ', t, sizeof t);
        st = NESTED("End time", t);
    }
    if (st == PC_OK && b->copy_stats) {
        cat_py *cs = NULL;
        if (cat_py_parse(b->copy_stats, strlen(b->copy_stats), &cs) == PC_OK &&
            cs->kind == CAT_PY_DICT) {
            const cat_py *ct = cat_py_dict_get(cs, "copy_time");
            const cat_py *at = cat_py_dict_get(cs, "analysis_time");
            double copy = ct && ct->kind == CAT_PY_FLOAT ? ct->f
                          : ct && ct->kind == CAT_PY_INT ? (double)ct->i
                                                         : 0;
            double analysis = at && at->kind == CAT_PY_FLOAT ? at->f
                              : at && at->kind == CAT_PY_INT ? (double)at->i
                                                             : 0;
            if (copy > 0) {
                pc_buf v;
                pc_buf_init(&v, 4096);
                st = human_delta(&v, copy);
                if (st == PC_OK && analysis >= 1) {
                    st = pc_buf_append_str(&v, " + ");
                    st = st ? st : human_delta(&v, analysis);
                    st = st ? st : pc_buf_append_str(&v, " startup");
                }
                if (st == PC_OK)
                    st = NESTED("Copy time", pc_buf_cstr(&v));
                pc_buf_free(&v);
            }
        }
        pc_err_clear();
        cat_py_free(cs);
    }
    if (st == PC_OK) {
        py_int(t, sizeof t, b->begin_offset);
        st = NESTED("Begin Offset", t);
    }
    if (st == PC_OK) {
        py_int(t, sizeof t, b->end_offset);
        st = NESTED("End Offset", t);
    }
    if (st == PC_OK)
        st = NESTED("Begin LSN", S(b->begin_xlog));
    if (st == PC_OK)
        st = NESTED("End LSN", S(b->end_xlog));
    if (st == PC_OK)
        st = pc_buf_append_str(out, "\n");
    if (st == PC_OK && b->mode && strcmp(b->mode, "postgres") == 0 && b->children_backup_ids)
        st = NESTED("Children Backup(s)", b->children_backup_ids);
    return st;
}
