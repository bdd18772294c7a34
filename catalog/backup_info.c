#include "catalog/backup_info.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/pyrepr.h"
#include "common/error.h"
#include "common/timeutil.h"

typedef enum fkind {
    K_STR,    /* plain text, written as is */
    K_INT,    /* int64_t, str() */
    K_TIME,   /* int64_t epoch us + int32_t zone offset (aux), str(datetime) */
    K_LABEL,  /* text written as its repr() */
    K_FILES,  /* char ** + count (aux), repr() of a list of str */
    K_TBS,    /* cat_tablespace * + count (aux), repr() of a list of tuples */
    K_LIT,    /* a Python literal kept as text */
    K_STATUS, /* cat_binfo_status */
    K_SYSID,  /* uint64_t, 0 is None */
} fkind;

#define HIDE  1 /* omitted when None (barman's _hide_if_null) */
#define NEWER 2 /* unknown to barman 3.4: written only when set or read */

typedef struct fdesc {
    const char *key;
    fkind kind;
    size_t off, aux;
    int flags;
} fdesc;

#define F(k, kind, fl)                                                                             \
    {                                                                                              \
#k, kind, offsetof(cat_binfo, k), 0, fl                                                    \
    }
#define FA(k, kind, aux, fl)                                                                       \
    {                                                                                              \
#k, kind, offsetof(cat_binfo, k), offsetof(cat_binfo, aux), fl                             \
    }

/* Sorted by key: the order barman writes them in. */
static const fdesc fdescs[] = {
    F(backup_label, K_LABEL, 0),
    F(backup_name, K_STR, HIDE),
    F(begin_offset, K_INT, 0),
    FA(begin_time, K_TIME, begin_time_tz, 0),
    F(begin_wal, K_STR, 0),
    F(begin_xlog, K_STR, 0),
    F(children_backup_ids, K_STR, NEWER),
    F(cluster_size, K_INT, NEWER),
    F(compression, K_STR, 0),
    F(config_file, K_STR, 0),
    F(copy_stats, K_LIT, 0),
    F(data_checksums, K_STR, NEWER),
    F(deduplicated_size, K_INT, 0),
    F(encryption, K_STR, NEWER),
    F(end_offset, K_INT, 0),
    FA(end_time, K_TIME, end_time_tz, 0),
    F(end_wal, K_STR, 0),
    F(end_xlog, K_STR, 0),
    F(error, K_STR, 0),
    F(hba_file, K_STR, 0),
    F(ident_file, K_STR, 0),
    FA(included_files, K_FILES, n_included_files, 0),
    F(mode, K_STR, 0),
    F(parent_backup_id, K_STR, NEWER),
    F(pgdata, K_STR, 0),
    F(server_name, K_STR, 0),
    F(size, K_INT, 0),
    F(snapshots_info, K_LIT, HIDE),
    F(status, K_STATUS, 0),
    F(summarize_wal, K_STR, NEWER),
    F(systemid, K_SYSID, 0),
    FA(tablespaces, K_TBS, n_tablespaces, 0),
    F(timeline, K_INT, 0),
    F(version, K_INT, 0),
    F(xlog_segment_size, K_INT, 0),
};

#define NFIELDS (sizeof fdescs / sizeof fdescs[0])

static const char *const status_names[] = {
    [CAT_BINFO_EMPTY] = "EMPTY",   [CAT_BINFO_STARTED] = "STARTED",
    [CAT_BINFO_FAILED] = "FAILED", [CAT_BINFO_WAITING_FOR_WALS] = "WAITING_FOR_WALS",
    [CAT_BINFO_DONE] = "DONE",     [CAT_BINFO_SYNCING] = "SYNCING",
};

const char *cat_binfo_status_name(cat_binfo_status st)
{
    switch (st) {
    case CAT_BINFO_EMPTY:
    case CAT_BINFO_STARTED:
    case CAT_BINFO_FAILED:
    case CAT_BINFO_WAITING_FOR_WALS:
    case CAT_BINFO_DONE:
    case CAT_BINFO_SYNCING:
        return status_names[st];
    }
    return "?";
}

bool cat_binfo_status_parse(const char *name, cat_binfo_status *out)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (cat_binfo_status)i;
            return true;
        }
    }
    return false;
}

/* ---- typed access through the table ---- */

typedef char *str_t;
#define AT(b, off, T)  ((T *)((char *)(b) + (off)))
#define CAT(b, off, T) ((const T *)((const char *)(b) + (off)))

void cat_binfo_init(cat_binfo *b)
{
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < NFIELDS; i++)
        if (fdescs[i].kind == K_INT || fdescs[i].kind == K_TIME)
            *AT(b, fdescs[i].off, int64_t) = CAT_BINFO_NONE;
    b->status = CAT_BINFO_EMPTY;
    b->xlog_segment_size = CAT_BINFO_DEFAULT_SEGSIZE;
}

static void free_files(cat_binfo *b)
{
    for (size_t i = 0; i < b->n_included_files; i++)
        free(b->included_files[i]);
    free(b->included_files);
    b->included_files = NULL;
    b->n_included_files = 0;
}

static void free_tablespaces(cat_binfo *b)
{
    for (size_t i = 0; i < b->n_tablespaces; i++) {
        free(b->tablespaces[i].name);
        free(b->tablespaces[i].location);
    }
    free(b->tablespaces);
    b->tablespaces = NULL;
    b->n_tablespaces = 0;
}

void cat_binfo_free(cat_binfo *b)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const fdesc *d = &fdescs[i];
        if (d->kind == K_STR || d->kind == K_LABEL || d->kind == K_LIT)
            free(*AT(b, d->off, str_t));
    }
    free_files(b);
    free_tablespaces(b);
    for (size_t i = 0; i < b->n_extra; i++) {
        free(b->extra[i].key);
        free(b->extra[i].value);
    }
    free(b->extra);
    cat_binfo_init(b);
}

pc_status cat_binfo_add_tablespace(cat_binfo *b, const char *name, uint32_t oid,
                                   const char *location)
{
    cat_tablespace *t = pc_realloc(b->tablespaces, (b->n_tablespaces + 1) * sizeof *t);
    if (!t)
        return PC_E_INTERNAL;
    b->tablespaces = t;
    char *n = pc_strdup(name), *l = pc_strdup(location);
    if (!n || !l) {
        free(n);
        free(l);
        return PC_E_INTERNAL;
    }
    t[b->n_tablespaces++] = (cat_tablespace){.name = n, .oid = oid, .location = l};
    return PC_OK;
}

pc_status cat_binfo_add_included_file(cat_binfo *b, const char *path)
{
    char **f = pc_realloc(b->included_files, (b->n_included_files + 1) * sizeof *f);
    if (!f)
        return PC_E_INTERNAL;
    b->included_files = f;
    if (!(f[b->n_included_files] = pc_strdup(path)))
        return PC_E_INTERNAL;
    b->n_included_files++;
    return PC_OK;
}

/* ==== Parsing ==== */

static pc_status bad_value(const char *key, const char *why)
{
    return pc_err(PC_E_CORRUPT, "corrupt backup.info: invalid value of \"%s\": %s", key, why);
}

static bool py_space(char c)
{
    /* str.strip()'s ASCII whitespace, including the file/group/record/unit separators */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Decimal digits only, up to UINT64_MAX. */
static bool parse_digits(const char *p, uint64_t *out)
{
    if (*p < '0' || *p > '9')
        return false;
    uint64_t x = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return *p == '\0';
}

static pc_status parse_int(const char *key, const char *v, int64_t *out)
{
    bool neg = *v == '-';
    if (*v == '-' || *v == '+')
        v++;
    uint64_t x;
    if (!parse_digits(v, &x)) {
        bool digits = *v && strspn(v, "0123456789") == strlen(v);
        return bad_value(key, digits ? "integer out of range" : "not an integer");
    }
    /* INT64_MIN itself is the None marker */
    if (x > (uint64_t)INT64_MAX)
        return bad_value(key, "integer out of range");
    *out = neg ? -(int64_t)x : (int64_t)x;
    return PC_OK;
}

/* The zone offset at the end of a time: "+HH:MM[:SS]", "+HHMM", "+HH", "Z", "UTC", or none. */
static bool parse_tz(const char *v, int32_t *tz)
{
    size_t n = strlen(v);
    *tz = 0;
    /* the date part "YYYY-MM-DD" holds '-' too: only look after it */
    for (size_t i = n; i-- > 10;) {
        if (v[i] != '+' && v[i] != '-')
            continue;
        const char *p = v + i + 1;
        int part[3] = {0, 0, 0}, np = 0;
        while (np < 3 && p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
            part[np++] = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
            if (*p == ':')
                p++;
        }
        if (np == 0 || *p != '\0' || part[0] > 23 || part[1] > 59 || part[2] > 59)
            return false;
        int32_t s = part[0] * 3600 + part[1] * 60 + part[2];
        *tz = v[i] == '-' ? -s : s;
        return true;
    }
    return true;
}

static pc_status parse_time(const char *key, const char *v, int64_t *us, int32_t *tz)
{
    if (!parse_tz(v, tz) || pc_time_parse(v, us) != PC_OK) {
        pc_err_clear();
        return bad_value(key, "not a timestamp");
    }
    return PC_OK;
}

static pc_status literal(const char *key, const char *v, cat_py **out)
{
    pc_status st = cat_py_parse(v, strlen(v), out);
    if (st)
        pc_err_context("corrupt backup.info: invalid value of \"%s\"", key);
    return st;
}

/* A str literal item without NUL bytes, copied. */
static pc_status py_text(const char *key, const cat_py *v, char **out)
{
    if (v->kind != CAT_PY_STR)
        return bad_value(key, "expected a string");
    if (strlen(v->s) != v->slen)
        return bad_value(key, "NUL character in a string");
    *out = pc_strdup(v->s);
    return *out ? PC_OK : PC_E_INTERNAL;
}

static pc_status set_files(cat_binfo *b, const char *key, const cat_py *v)
{
    if (v->kind != CAT_PY_LIST && v->kind != CAT_PY_TUPLE)
        return bad_value(key, "expected a list");
    free_files(b);
    if (v->n == 0)
        return PC_OK;
    b->included_files = pc_calloc(v->n, sizeof(char *));
    if (!b->included_files)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < v->n; i++) {
        pc_status st = py_text(key, v->items[i], &b->included_files[i]);
        if (st)
            return st;
        b->n_included_files++;
    }
    return PC_OK;
}

static pc_status set_tablespaces(cat_binfo *b, const char *key, const cat_py *v)
{
    if (v->kind != CAT_PY_LIST && v->kind != CAT_PY_TUPLE)
        return bad_value(key, "expected a list");
    free_tablespaces(b);
    if (v->n == 0)
        return PC_OK;
    b->tablespaces = pc_calloc(v->n, sizeof *b->tablespaces);
    if (!b->tablespaces)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < v->n; i++) {
        const cat_py *t = v->items[i];
        if ((t->kind != CAT_PY_TUPLE && t->kind != CAT_PY_LIST) || t->n != 3)
            return bad_value(key, "expected (name, oid, location) tuples");
        if (t->items[1]->kind != CAT_PY_INT || t->items[1]->i < 0 ||
            t->items[1]->i > (int64_t)UINT32_MAX)
            return bad_value(key, "tablespace oid is not a valid OID");
        cat_tablespace *ts = &b->tablespaces[i];
        pc_status st = py_text(key, t->items[0], &ts->name);
        if (!st)
            st = py_text(key, t->items[2], &ts->location);
        b->n_tablespaces++;
        if (st)
            return st;
        ts->oid = (uint32_t)t->items[1]->i;
    }
    return PC_OK;
}

/* Set field d from its text (already stripped; "None" handled by the caller). */
static pc_status set_field(cat_binfo *b, const fdesc *d, const char *v)
{
    pc_status st = PC_OK;
    cat_py *lit = NULL;
    switch (d->kind) {
    case K_STR:
    case K_LIT: {
        if (d->kind == K_LIT && (st = literal(d->key, v, &lit)) != PC_OK)
            return st;
        cat_py_free(lit);
        char *copy = pc_strdup(v);
        if (!copy)
            return PC_E_INTERNAL;
        free(*AT(b, d->off, str_t));
        *AT(b, d->off, str_t) = copy;
        return PC_OK;
    }
    case K_INT:
        return parse_int(d->key, v, AT(b, d->off, int64_t));
    case K_TIME:
        return parse_time(d->key, v, AT(b, d->off, int64_t), AT(b, d->aux, int32_t));
    case K_LABEL: {
        if ((st = literal(d->key, v, &lit)) != PC_OK)
            return st;
        char *text = NULL;
        st = py_text(d->key, lit, &text);
        cat_py_free(lit);
        if (st)
            return st;
        free(b->backup_label);
        b->backup_label = text;
        return PC_OK;
    }
    case K_FILES:
    case K_TBS:
        if ((st = literal(d->key, v, &lit)) != PC_OK)
            return st;
        st = d->kind == K_FILES ? set_files(b, d->key, lit) : set_tablespaces(b, d->key, lit);
        cat_py_free(lit);
        return st;
    case K_STATUS:
        if (!cat_binfo_status_parse(v, &b->status))
            return bad_value(d->key, "unknown backup status");
        return PC_OK;
    case K_SYSID:
        /* unsigned 64 bits: identifiers created after 2038 have the top bit set */
        if (!parse_digits(v, &b->systemid) || b->systemid == 0)
            return bad_value(d->key, "not a system identifier");
        return PC_OK;
    }
    return pc_err(PC_E_INTERNAL, "backup.info: bad field kind for \"%s\"", d->key);
}

static void set_none(cat_binfo *b, const fdesc *d)
{
    switch (d->kind) {
    case K_STR:
    case K_LIT:
    case K_LABEL:
        free(*AT(b, d->off, str_t));
        *AT(b, d->off, str_t) = NULL;
        break;
    case K_INT:
    case K_TIME:
        *AT(b, d->off, int64_t) = CAT_BINFO_NONE;
        break;
    case K_FILES:
        free_files(b);
        break;
    case K_TBS:
        free_tablespaces(b);
        break;
    case K_STATUS:
        /* barman keeps None; pgcask reads a status-less backup as never started */
        b->status = CAT_BINFO_EMPTY;
        break;
    case K_SYSID:
        b->systemid = 0;
        break;
    }
}

static const fdesc *find_field(const char *key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fdescs[i].key, key) == 0)
            return &fdescs[i];
    return NULL;
}

static bool valid_key(const char *k)
{
    if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
        return false;
    for (k++; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_' ||
              (*k >= '0' && *k <= '9')))
            return false;
    return true;
}

static pc_status set_extra(cat_binfo *b, const char *key, const char *value)
{
    char *v = pc_strdup(value);
    if (!v)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < b->n_extra; i++) {
        if (strcmp(b->extra[i].key, key) == 0) {
            free(b->extra[i].value);
            b->extra[i].value = v;
            return PC_OK;
        }
    }
    cat_binfo_extra *e = pc_realloc(b->extra, (b->n_extra + 1) * sizeof *e);
    char *k = e ? pc_strdup(key) : NULL;
    if (e)
        b->extra = e;
    if (!k) {
        free(v);
        return PC_E_INTERNAL;
    }
    b->extra[b->n_extra++] = (cat_binfo_extra){.key = k, .value = v};
    return PC_OK;
}

static pc_status parse_line(cat_binfo *b, char *line, size_t lineno)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return pc_err(PC_E_CORRUPT, "corrupt backup.info: line %zu has no '='", lineno);
    *eq = '\0';
    char *key = line, *value = eq + 1;
    while (py_space(*key))
        key++;
    char *e = eq;
    while (e > key && py_space(e[-1]))
        *--e = '\0';
    while (py_space(*value))
        value++;
    e = value + strlen(value);
    while (e > value && py_space(e[-1]))
        *--e = '\0';

    const fdesc *d = find_field(key);
    if (!d) {
        if (!valid_key(key))
            return pc_err(PC_E_CORRUPT, "corrupt backup.info: line %zu has an invalid key", lineno);
        return set_extra(b, key, value);
    }
    b->seen |= (uint64_t)1 << (d - fdescs);
    if (strcmp(value, "None") == 0) {
        set_none(b, d);
        return PC_OK;
    }
    return set_field(b, d, value);
}

pc_status cat_binfo_parse(const char *text, size_t len, cat_binfo *out)
{
    cat_binfo_init(out);
    if (len > CAT_BINFO_MAX_SIZE)
        return pc_err(PC_E_CORRUPT, "corrupt backup.info: %zu bytes, more than the %d allowed", len,
                      CAT_BINFO_MAX_SIZE);
    if (memchr(text, '\0', len))
        return pc_err(PC_E_CORRUPT, "corrupt backup.info: NUL byte in the text");
    if (!cat_py_utf8_valid(text, len))
        return pc_err(PC_E_CORRUPT, "corrupt backup.info: the text is not valid UTF-8");
    char *copy = pc_strndup(text, len);
    if (!copy)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    size_t lineno = 0;
    for (char *line = copy; !st && *line;) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = '\0';
        lineno++;
        /* barman skips whitespace-only lines and lines that start with '#' */
        bool blank = true;
        for (const char *p = line; *p && blank; p++)
            blank = py_space(*p);
        if (!blank && line[0] != '#')
            st = parse_line(out, line, lineno);
        line = next;
    }
    free(copy);
    if (st)
        cat_binfo_free(out);
    return st;
}

/* ==== Formatting ==== */

static bool is_none(const cat_binfo *b, const fdesc *d)
{
    switch (d->kind) {
    case K_STR:
    case K_LIT:
        return *CAT(b, d->off, str_t) == NULL;
    case K_LABEL: {
        const char *s = *CAT(b, d->off, str_t);
        return s == NULL || *s == '\0'; /* barman's null_repr: an empty label is None */
    }
    case K_INT:
    case K_TIME:
        return *CAT(b, d->off, int64_t) == CAT_BINFO_NONE;
    case K_FILES:
    case K_TBS:
        return *CAT(b, d->aux, size_t) == 0;
    case K_STATUS:
        return false;
    case K_SYSID:
        return b->systemid == 0;
    }
    return true;
}

static pc_status bad_out(const char *key, const char *why)
{
    return pc_err(PC_E_USAGE, "cannot write backup.info: the value of \"%s\" %s", key, why);
}

static pc_status put_text(pc_buf *out, const char *key, const char *s)
{
    size_t n = strlen(s);
    if (strchr(s, '\n') || strchr(s, '\r'))
        return bad_out(key, "contains a line break");
    if (n > 0 && (py_space(s[0]) || py_space(s[n - 1])))
        return bad_out(key, "starts or ends with white space");
    if (strcmp(s, "None") == 0)
        return bad_out(key, "is the text \"None\"");
    if (!cat_py_utf8_valid(s, n))
        return bad_out(key, "is not valid UTF-8");
    return pc_buf_append(out, s, n);
}

static pc_status put_repr(pc_buf *out, const char *key, const char *s)
{
    pc_status st = cat_py_repr_str(out, s, strlen(s));
    if (st == PC_E_USAGE)
        return bad_out(key, "is not valid UTF-8");
    return st;
}

/* str(datetime) of an aware datetime: "2026-01-30 08:34:28.903398+00:00". */
static pc_status put_time(pc_buf *out, const char *key, int64_t us, int32_t tz)
{
    int64_t local = us + (int64_t)tz * 1000000;
    int64_t sec = local / 1000000, frac = local % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return bad_out(key, "is a time outside the years 1-9999");
    pc_status st = pc_buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (!st && frac)
        st = pc_buf_printf(out, ".%06d", (int)frac);
    int32_t a = tz < 0 ? -tz : tz;
    if (!st)
        st = pc_buf_printf(out, "%c%02d:%02d", tz < 0 ? '-' : '+', (int)(a / 3600),
                           (int)(a / 60 % 60));
    if (!st && a % 60)
        st = pc_buf_printf(out, ":%02d", (int)(a % 60));
    return st;
}

static pc_status put_value(pc_buf *out, const cat_binfo *b, const fdesc *d)
{
    pc_status st = PC_OK;
    switch (d->kind) {
    case K_STR:
        return put_text(out, d->key, *CAT(b, d->off, str_t));
    case K_LIT: {
        const char *s = *CAT(b, d->off, str_t);
        cat_py *lit;
        if (strchr(s, '\n') || strchr(s, '\r'))
            return bad_out(d->key, "contains a line break");
        if (cat_py_parse(s, strlen(s), &lit) != PC_OK)
            return bad_out(d->key, "is not a Python literal");
        cat_py_free(lit);
        return put_text(out, d->key, s);
    }
    case K_INT:
        return pc_buf_printf(out, "%lld", (long long)*CAT(b, d->off, int64_t));
    case K_TIME:
        return put_time(out, d->key, *CAT(b, d->off, int64_t), *CAT(b, d->aux, int32_t));
    case K_LABEL:
        return put_repr(out, d->key, *CAT(b, d->off, str_t));
    case K_FILES:
        st = pc_buf_append_str(out, "[");
        for (size_t i = 0; !st && i < b->n_included_files; i++) {
            if (i > 0)
                st = pc_buf_append_str(out, ", ");
            if (!st)
                st = put_repr(out, d->key, b->included_files[i]);
        }
        return st ? st : pc_buf_append_str(out, "]");
    case K_TBS:
        st = pc_buf_append_str(out, "[");
        for (size_t i = 0; !st && i < b->n_tablespaces; i++) {
            const cat_tablespace *t = &b->tablespaces[i];
            st = pc_buf_append_str(out, i > 0 ? ", (" : "(");
            if (!st)
                st = put_repr(out, d->key, t->name ? t->name : "");
            if (!st)
                st = pc_buf_printf(out, ", %" PRIu32 ", ", t->oid);
            if (!st)
                st = put_repr(out, d->key, t->location ? t->location : "");
            if (!st)
                st = pc_buf_append_str(out, ")");
        }
        return st ? st : pc_buf_append_str(out, "]");
    case K_STATUS:
        return pc_buf_append_str(out, cat_binfo_status_name(b->status));
    case K_SYSID:
        return pc_buf_printf(out, "%" PRIu64, b->systemid);
    }
    return pc_err(PC_E_INTERNAL, "backup.info: bad field kind for \"%s\"", d->key);
}

static pc_status put_field(pc_buf *out, const cat_binfo *b, const fdesc *d)
{
    bool none = is_none(b, d);
    if (none && (d->flags & HIDE))
        return PC_OK;
    if (none && (d->flags & NEWER) && !(b->seen >> (d - fdescs) & 1))
        return PC_OK;
    pc_status st = pc_buf_printf(out, "%s=", d->key);
    if (!st)
        st = none ? pc_buf_append_str(out, "None") : put_value(out, b, d);
    return st ? st : pc_buf_append_str(out, "\n");
}

static pc_status put_extra(pc_buf *out, const cat_binfo_extra *e)
{
    if (!valid_key(e->key) || find_field(e->key))
        return pc_err(PC_E_USAGE, "cannot write backup.info: invalid extra key \"%s\"", e->key);
    if (strchr(e->value, '\n') || strchr(e->value, '\r'))
        return bad_out(e->key, "contains a line break");
    return pc_buf_printf(out, "%s=%s\n", e->key, e->value);
}

static int cmp_extra(const void *a, const void *b)
{
    return strcmp((*(const cat_binfo_extra *const *)a)->key,
                  (*(const cat_binfo_extra *const *)b)->key);
}

pc_status cat_binfo_format(const cat_binfo *b, pc_buf *out)
{
    const cat_binfo_extra **extra = NULL;
    if (b->n_extra) {
        extra = pc_malloc(b->n_extra * sizeof *extra);
        if (!extra)
            return PC_E_INTERNAL;
        for (size_t i = 0; i < b->n_extra; i++)
            extra[i] = &b->extra[i];
        qsort(extra, b->n_extra, sizeof *extra, cmp_extra);
    }
    size_t start = out->len;
    pc_status st = PC_OK;
    size_t fi = 0, ei = 0;
    while (!st && (fi < NFIELDS || ei < b->n_extra)) {
        if (ei < b->n_extra && (fi == NFIELDS || strcmp(extra[ei]->key, fdescs[fi].key) < 0))
            st = put_extra(out, extra[ei++]);
        else
            st = put_field(out, b, &fdescs[fi++]);
    }
    free(extra);
    if (st) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return st;
}
