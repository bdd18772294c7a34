/*
 * `pgcask audit` (docs/operations.md, "Audit"): is every backup
 * restorable, is the WAL chain unbroken, what is the recoverability window,
 * and (--verify-checksums) do the stored bytes match what was recorded.
 *
 * The catalog is rebuilt from the store first (one listing of wals/, one of
 * base/), then the analysis runs on that fresh copy:
 *   - a backup is restorable when its backup.info says DONE, every archive
 *     is there with the size its pgcask.manifest records (a barman backup:
 *     the tars exist and are not empty), every WAL segment from begin_wal to
 *     end_wal is archived, and, when verifying, nothing is damaged;
 *   - the chain runs from the oldest DONE backup's begin_wal to the newest
 *     segment, across the timeline switches the .history files describe;
 *   - the recoverability window runs from the end of the oldest restorable
 *     backup to the end of the last segment of the unbroken chain after the
 *     newest restorable backup.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver_int.h"
#include "archiver/ops_int.h"
#include "catalog/manifest.h"
#include "common/error.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/tar.h"
#include "common/timeutil.h"
#include "compress/compress.h"

#define MANIFEST_MAX     ((uint64_t)1 << 30)
#define HISTORY_MAX      (1024 * 1024)
#define MISSING_LIST_MAX 1000 /* missing segment names listed per gap */
#define HEAD_KEEP        8192 /* bytes of a WAL segment kept for the header check */
#define DEFAULT_JOBS     4

/* ---- small containers ---- */

typedef struct strv {
    char **v;
    size_t n;
} strv;

static void strv_add(strv *s, const char *fmt, ...) PC_PRINTF(2, 3);
static void strv_add(strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    if (vasprintf(&t, fmt, ap) < 0)
        t = NULL;
    va_end(ap);
    char **nv = t ? realloc(s->v, (s->n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(t);
        return; /* out of memory: the problem is lost, the audit fails on the next allocation */
    }
    s->v = nv;
    s->v[s->n++] = t;
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct segv {
    uint64_t *v;
    size_t n, alloc;
} segv;

static pc_status segv_add(segv *s, uint64_t x)
{
    if (s->n == s->alloc) {
        size_t na = s->alloc ? 2 * s->alloc : 256;
        uint64_t *nv = pc_realloc(s->v, na * sizeof *nv);
        if (!nv)
            return PC_E_INTERNAL;
        s->v = nv;
        s->alloc = na;
    }
    s->v[s->n++] = x;
    return PC_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool segv_has(const segv *s, uint64_t x)
{
    return s->n && bsearch(&x, s->v, s->n, sizeof *s->v, cmp_u64) != NULL;
}

/* ---- the report ---- */

typedef struct au_backup {
    char *id;
    char *name;
    char *parent;    /* the backup this one depends on (incremental), NULL for a full one */
    char status[24]; /* barman's status, "UNREADABLE" or "NO_BACKUP_INFO" */
    char *error;
    ops_keep keep;
    uint32_t timeline;
    char begin_wal[PC_WAL_NAME_MAX], end_wal[PC_WAL_NAME_MAX];
    char begin_lsn[32], end_lsn[32];
    int64_t begin_time, end_time; /* µs, CAT_BINFO_NONE when unknown */
    int32_t end_tz;
    bool has_manifest;
    size_t objects;
    uint64_t stored_bytes;
    uint64_t wal_required;
    strv wal_missing;
    bool restorable;
    const char *checksums; /* "verified", "failed", "not checked" */
    strv problems;
    strv warnings;
} au_backup;

typedef struct au_tl {
    uint32_t tli;
    segv segs; /* complete segments present (not damaged), sorted */
    uint64_t files;
    bool has_history;
    char *history_key;
    uint32_t parent; /* from the history file, 0 when unknown */
    pc_lsn switchpoint;
    /* ancestors from the history file: (tli, switch LSN) oldest first */
    uint32_t *anc_tli;
    pc_lsn *anc_lsn;
    size_t nanc;
    bool history_bad;
} au_tl;

typedef struct au_gap {
    uint32_t tli;
    uint64_t first, last;
} au_gap;

typedef struct au_switch {
    uint32_t from, to;
    pc_lsn lsn;
    bool present;
} au_switch;

typedef struct au_point {
    bool set;
    int64_t time_us;
    int32_t tz;
    pc_lsn lsn;
    uint32_t tli;
    char what[96];             /* "end of backup X" / "end of WAL Y" */
    char wal[PC_WAL_NAME_MAX]; /* the last point's segment */
} au_point;

struct ops_audit {
    char *server;
    char *repo;
    int64_t at;
    bool verify;
    uint64_t segsize;
    au_backup *b;
    size_t nb;
    au_tl *tl;
    size_t ntl;
    uint64_t wal_files, wal_bytes;
    /* the chain */
    bool has_chain;
    char chain_from[PC_WAL_NAME_MAX], chain_to[PC_WAL_NAME_MAX];
    uint32_t *chain_tli;
    size_t nchain_tli;
    au_gap *gaps;
    size_t ngaps;
    au_switch *sw;
    size_t nsw;
    strv damaged; /* "key: reason" */
    size_t wal_checked;
    au_point first, last;
    strv problems; /* every problem, each naming its object */
    strv warnings;
    bool ok;
};

static au_tl *tl_get(ops_audit *au, uint32_t tli, bool create)
{
    for (size_t i = 0; i < au->ntl; i++)
        if (au->tl[i].tli == tli)
            return &au->tl[i];
    if (!create)
        return NULL;
    au_tl *nv = pc_realloc(au->tl, (au->ntl + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    au->tl = nv;
    au_tl *t = &au->tl[au->ntl++];
    memset(t, 0, sizeof *t);
    t->tli = tli;
    return t;
}

static int cmp_tl(const void *a, const void *b)
{
    uint32_t x = ((const au_tl *)a)->tli, y = ((const au_tl *)b)->tli;
    return x < y ? -1 : x > y;
}

void ops_audit_free(ops_audit *au)
{
    if (!au)
        return;
    for (size_t i = 0; i < au->nb; i++) {
        au_backup *b = &au->b[i];
        free(b->id);
        free(b->name);
        free(b->parent);
        free(b->error);
        strv_free(&b->wal_missing);
        strv_free(&b->problems);
        strv_free(&b->warnings);
    }
    free(au->b);
    for (size_t i = 0; i < au->ntl; i++) {
        free(au->tl[i].segs.v);
        free(au->tl[i].history_key);
        free(au->tl[i].anc_tli);
        free(au->tl[i].anc_lsn);
    }
    free(au->tl);
    free(au->chain_tli);
    free(au->gaps);
    free(au->sw);
    strv_free(&au->damaged);
    strv_free(&au->problems);
    strv_free(&au->warnings);
    free(au->server);
    free(au->repo);
    free(au);
}

bool ops_audit_ok(const ops_audit *au)
{
    return au->ok;
}

size_t ops_audit_problems(const ops_audit *au)
{
    return au->problems.n;
}

/* A problem of a backup: listed with it and in the global list. */
static void bproblem(ops_audit *au, au_backup *b, const char *fmt, ...) PC_PRINTF(3, 4);
static void bproblem(ops_audit *au, au_backup *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    if (vasprintf(&t, fmt, ap) < 0)
        t = NULL;
    va_end(ap);
    if (!t)
        return;
    strv_add(&b->problems, "%s", t);
    strv_add(&au->problems, "backup %s: %s", b->id, t);
    free(t);
}

static void segname(const ops_audit *au, uint32_t tli, uint64_t segno, char *out)
{
    pc_wal_segment_name(tli, segno, au->segsize, out);
}

/* ---- the WAL index, from the freshly synced catalog ---- */

typedef struct wal_obj {
    char *key;
    pc_wal_name w;
    uint64_t stored_size;
} wal_obj;

typedef struct load_ctx {
    ops_audit *au;
    bool keep_objs;
    wal_obj *objs;
    size_t nobjs, aobjs;
    pc_status st;
    int64_t *stored_at; /* per timeline's newest segment, filled later */
} load_ctx;

static pc_status on_wal_row(void *arg, const cat_wal *w)
{
    load_ctx *l = arg;
    ops_audit *au = l->au;
    au->wal_files++;
    au->wal_bytes += w->stored_size;
    au_tl *t = tl_get(au, w->tli, true);
    if (!t)
        return PC_E_INTERNAL;
    t->files++;
    pc_status st = PC_OK;
    if (w->kind == PC_WAL_SEGMENT)
        st = segv_add(&t->segs, w->segno);
    else if (w->kind == PC_WAL_HISTORY) {
        t->has_history = true;
        free(t->history_key);
        if (!(t->history_key = pc_strdup(w->key)))
            st = PC_E_INTERNAL;
    }
    if (st == PC_OK && l->keep_objs) {
        if (l->nobjs == l->aobjs) {
            size_t na = l->aobjs ? 2 * l->aobjs : 1024;
            wal_obj *nv = pc_realloc(l->objs, na * sizeof *nv);
            if (!nv)
                return PC_E_INTERNAL;
            l->objs = nv;
            l->aobjs = na;
        }
        wal_obj *o = &l->objs[l->nobjs];
        memset(o, 0, sizeof *o);
        o->stored_size = w->stored_size;
        if (!(o->key = pc_strdup(w->key)))
            return PC_E_INTERNAL;
        if (pc_wal_parse(w->name, &o->w) != PC_OK) {
            pc_err_clear();
            free(o->key);
            return PC_OK;
        }
        l->nobjs++;
    }
    return st;
}

/* "1\t0/3000000\treason" lines of a timeline history file. */
static void parse_history(au_tl *t, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        p += n + (nl ? 1 : 0);
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#' || *s == '\r')
            continue;
        char *e;
        unsigned long tli = strtoul(s, &e, 10);
        if (e == s || (*e != ' ' && *e != '\t')) {
            t->history_bad = true;
            return;
        }
        while (*e == ' ' || *e == '\t')
            e++;
        char lsn[32];
        size_t k = 0;
        while (e[k] && e[k] != ' ' && e[k] != '\t' && e[k] != '\r' && k + 1 < sizeof lsn) {
            lsn[k] = e[k];
            k++;
        }
        lsn[k] = '\0';
        pc_lsn v;
        if (tli == 0 || tli >= t->tli || pc_lsn_parse(lsn, &v) != PC_OK) {
            pc_err_clear();
            t->history_bad = true;
            return;
        }
        uint32_t *nt = realloc(t->anc_tli, (t->nanc + 1) * sizeof *nt);
        pc_lsn *nl2 = nt ? realloc(t->anc_lsn, (t->nanc + 1) * sizeof *nl2) : NULL;
        if (nt)
            t->anc_tli = nt;
        if (!nl2) {
            t->history_bad = true;
            return;
        }
        t->anc_lsn = nl2;
        t->anc_tli[t->nanc] = (uint32_t)tli;
        t->anc_lsn[t->nanc] = v;
        t->nanc++;
    }
    if (t->nanc) {
        t->parent = t->anc_tli[t->nanc - 1];
        t->switchpoint = t->anc_lsn[t->nanc - 1];
    }
}

static pc_status load_history(ops_audit *au, repo *r, au_tl *t)
{
    size_t stem;
    cmp_codec c = cmp_codec_from_name(t->history_key, &stem);
    pc_buf text;
    pc_buf_init(&text, HISTORY_MAX);
    pc_sink *mem = NULL, *head = NULL;
    pc_status st = pc_sink_mem_new(&text, &mem);
    if (st == PC_OK)
        st = cmp_decompress_new(c, HISTORY_MAX, mem, &head); /* owns mem from here */
    if (st == PC_OK)
        st = repo_get(r, t->history_key, 0, 0, head, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    pc_sink_free(head);
    if (st == PC_E_CORRUPT || st == PC_E_NOT_FOUND) {
        strv_add(&au->problems, "timeline history file \"%s\" cannot be read: %s", t->history_key,
                 pc_err_get()->message);
        pc_err_clear();
        t->history_bad = true;
        st = PC_OK;
    } else if (st == PC_OK) {
        parse_history(t, (const char *)text.data, text.len);
        if (t->history_bad)
            strv_add(&au->problems, "timeline history file \"%s\" is malformed", t->history_key);
    }
    pc_buf_free(&text);
    return st;
}

/* ---- timelines and paths ---- */

typedef struct seg_range {
    uint32_t tli;
    uint64_t from, to; /* inclusive; from > to: empty */
} seg_range;

/*
 * The segment ranges recovery reads to reach the newest segment of timeline
 * `target`, oldest first: each ancestor up to the segment before its switch
 * point, the target to its newest segment. *n is 0 without a usable history.
 */
static pc_status path_of(const ops_audit *au, const au_tl *target, seg_range **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t k = target->tli > 1 && target->has_history && !target->history_bad ? target->nanc : 0;
    if (target->tli > 1 && k == 0)
        return PC_OK;
    seg_range *v = pc_calloc(k + 1, sizeof *v);
    if (!v)
        return PC_E_INTERNAL;
    uint64_t from = 0;
    for (size_t i = 0; i < k; i++) {
        uint64_t sw = target->anc_lsn[i] / au->segsize;
        v[i] = (seg_range){.tli = target->anc_tli[i], .from = from, .to = sw ? sw - 1 : 0};
        if (sw == 0)
            v[i].from = 1; /* empty */
        from = sw;
    }
    uint64_t last = target->segs.n ? target->segs.v[target->segs.n - 1] : from;
    v[k] = (seg_range){.tli = target->tli, .from = from, .to = last};
    *out = v;
    *n = k + 1;
    return PC_OK;
}

/*
 * The path that continues from (tli, segno): the highest timeline with
 * segments whose path holds tli at a range containing segno. Falls back to
 * tli alone. *start is the index of tli's range in the path.
 */
static pc_status path_from(ops_audit *au, uint32_t tli, uint64_t segno, seg_range **out, size_t *n,
                           size_t *start)
{
    *out = NULL;
    *n = 0;
    *start = 0;
    for (size_t i = au->ntl; i-- > 0;) {
        au_tl *t = &au->tl[i];
        if (!t->segs.n || t->tli < tli)
            continue;
        seg_range *p;
        size_t pn;
        pc_status st = path_of(au, t, &p, &pn);
        if (st)
            return st;
        for (size_t k = 0; k < pn; k++) {
            if (p[k].tli == tli && segno >= p[k].from && (segno <= p[k].to || k + 1 == pn)) {
                *out = p;
                *n = pn;
                *start = k;
                return PC_OK;
            }
        }
        free(p);
    }
    au_tl *t = tl_get(au, tli, false);
    seg_range *p = pc_calloc(1, sizeof *p);
    if (!p)
        return PC_E_INTERNAL;
    uint64_t last = t && t->segs.n ? t->segs.v[t->segs.n - 1] : segno;
    *p = (seg_range){.tli = tli, .from = segno, .to = last < segno ? segno : last};
    *out = p;
    *n = 1;
    return PC_OK;
}

/* Index of the first element >= x. */
static size_t lower_bound(const segv *s, uint64_t x)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool seg_present(ops_audit *au, uint32_t tli, uint64_t segno)
{
    au_tl *t = tl_get(au, tli, false);
    return t && segv_has(&t->segs, segno);
}

static pc_status add_gap(ops_audit *au, uint32_t tli, uint64_t first, uint64_t last)
{
    au_gap *nv = pc_realloc(au->gaps, (au->ngaps + 1) * sizeof *nv);
    if (!nv)
        return PC_E_INTERNAL;
    au->gaps = nv;
    au->gaps[au->ngaps++] = (au_gap){.tli = tli, .first = first, .last = last};
    char a[PC_WAL_NAME_MAX], b[PC_WAL_NAME_MAX];
    segname(au, tli, first, a);
    segname(au, tli, last, b);
    if (first == last)
        strv_add(&au->problems, "WAL chain: segment %s is missing", a);
    else
        strv_add(&au->problems, "WAL chain: %" PRIu64 " segments missing, %s to %s",
                 last - first + 1, a, b);
    return PC_OK;
}

static pc_status check_chain(ops_audit *au, const au_backup *oldest)
{
    pc_wal_name bw;
    if (pc_wal_parse(oldest->begin_wal, &bw) != PC_OK) {
        pc_err_clear();
        return PC_OK;
    }
    uint64_t seg0 = pc_wal_name_segno(&bw, au->segsize);
    seg_range *p;
    size_t n, start;
    pc_status st = path_from(au, bw.tli, seg0, &p, &n, &start);
    if (st)
        return st;
    au->has_chain = true;
    snprintf(au->chain_from, sizeof au->chain_from, "%s", bw.name);
    au->chain_tli = pc_calloc(n, sizeof *au->chain_tli);
    if (!au->chain_tli) {
        free(p);
        return PC_E_INTERNAL;
    }
    uint64_t last_seg = seg0;
    uint32_t last_tli = bw.tli;
    for (size_t k = start; st == PC_OK && k < n; k++) {
        uint64_t from = k == start ? seg0 : p[k].from;
        uint64_t to = p[k].to;
        au->chain_tli[au->nchain_tli++] = p[k].tli;
        if (k > start) {
            au_tl *t = tl_get(au, p[k].tli, false);
            au_switch *nv = pc_realloc(au->sw, (au->nsw + 1) * sizeof *nv);
            if (!nv) {
                st = PC_E_INTERNAL;
                break;
            }
            au->sw = nv;
            au->sw[au->nsw++] = (au_switch){.from = p[k - 1].tli,
                                            .to = p[k].tli,
                                            .lsn = t ? t->switchpoint : 0,
                                            .present = t && t->has_history};
        }
        if (from > to)
            continue;
        /* walk the segments present: O(present), whatever the range */
        au_tl *t = tl_get(au, p[k].tli, false);
        uint64_t expected = from;
        for (size_t i = t ? lower_bound(&t->segs, from) : 0;
             st == PC_OK && t && i < t->segs.n && t->segs.v[i] <= to; i++) {
            if (t->segs.v[i] > expected)
                st = add_gap(au, p[k].tli, expected, t->segs.v[i] - 1);
            expected = t->segs.v[i] + 1;
        }
        if (st == PC_OK && expected <= to)
            st = add_gap(au, p[k].tli, expected, to);
        last_seg = to;
        last_tli = p[k].tli;
    }
    segname(au, last_tli, last_seg, au->chain_to);
    free(p);
    return st;
}

/* The end of the unbroken chain after (tli, segno): the last segment present before a gap. */
static pc_status chain_end(ops_audit *au, uint32_t tli, uint64_t segno, uint32_t *etli,
                           uint64_t *eseg)
{
    seg_range *p;
    size_t n, start;
    pc_status st = path_from(au, tli, segno, &p, &n, &start);
    if (st)
        return st;
    *etli = tli;
    *eseg = segno;
    for (size_t k = start; k < n; k++) {
        uint64_t from = k == start ? segno : p[k].from;
        if (from > p[k].to)
            continue;
        au_tl *t = tl_get(au, p[k].tli, false);
        uint64_t expected = from;
        for (size_t i = t ? lower_bound(&t->segs, from) : 0;
             t && i < t->segs.n && t->segs.v[i] <= p[k].to; i++) {
            if (t->segs.v[i] != expected) {
                free(p);
                return PC_OK;
            }
            *etli = p[k].tli;
            *eseg = expected;
            expected++;
        }
        if (expected <= p[k].to)
            break; /* the range ends in a gap */
    }
    free(p);
    return PC_OK;
}

/* ---- archives of a backup ---- */

typedef struct arch {
    const char *name; /* object name in the folder */
    const char *ts;   /* tablespace oid as text (manifest), NULL for PGDATA */
    uint64_t size;    /* stored size listed */
    bool have_expect;
    uint64_t expect_size;
    char expect_sha[2 * PC_SHA256_LEN + 1];
} arch;

/* "data.tar[.ext]", "data_0001.tar[.ext]", "16385.tar[.ext]", "16385_0001.tar[.ext]". */
static bool archive_name(const char *name, bool *pgdata, char *oid, size_t oidlen)
{
    size_t stem;
    cmp_codec c = cmp_codec_from_name(name, &stem);
    (void)c;
    if (stem < 4 || strncmp(name + stem - 4, ".tar", 4) != 0)
        return false;
    size_t base = stem - 4;
    const char *us = memchr(name, '_', base);
    size_t head = us ? (size_t)(us - name) : base;
    if (us) {
        if (base - head != 5)
            return false;
        for (size_t i = head + 1; i < base; i++)
            if (name[i] < '0' || name[i] > '9')
                return false;
    }
    if (head == 4 && strncmp(name, "data", 4) == 0) {
        *pgdata = true;
        return true;
    }
    if (head == 0 || head >= oidlen)
        return false;
    for (size_t i = 0; i < head; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    *pgdata = false;
    snprintf(oid, oidlen, "%.*s", (int)head, name);
    return true;
}

typedef struct mf_load {
    const char *id;
    arch *a;
    size_t na, aa;
    char **names; /* owned copies for a[i].name / ts */
    size_t nnames;
    cat_mf_index *ix;
    bool want_files;
    pc_status st;
} mf_load;

static char *mf_keep(mf_load *m, const char *s)
{
    if (!s)
        return NULL;
    char **nv = realloc(m->names, (m->nnames + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    m->names = nv;
    return m->names[m->nnames++] = pc_strdup(s);
}

static pc_status mf_archive(void *ud, const cat_mf_archive *a)
{
    mf_load *m = ud;
    if (m->na == m->aa) {
        size_t na = m->aa ? 2 * m->aa : 8;
        arch *nv = pc_realloc(m->a, na * sizeof *nv);
        if (!nv)
            return PC_E_INTERNAL;
        m->a = nv;
        m->aa = na;
    }
    arch *x = &m->a[m->na];
    memset(x, 0, sizeof *x);
    x->name = mf_keep(m, a->name);
    x->ts = a->tablespace ? mf_keep(m, a->tablespace) : NULL;
    if (!x->name || (a->tablespace && !x->ts))
        return PC_E_INTERNAL;
    x->have_expect = true;
    x->expect_size = a->size;
    snprintf(x->expect_sha, sizeof x->expect_sha, "%s", a->sha256 ? a->sha256 : "");
    m->na++;
    return PC_OK;
}

static pc_status mf_file(void *ud, const cat_mf_file *f)
{
    mf_load *m = ud;
    if (!m->want_files)
        return PC_OK;
    if (f->backup_id && strcmp(f->backup_id, m->id) != 0)
        return PC_OK; /* held by another backup's archives */
    return cat_mf_index_add(m->ix, f);
}

static pc_status load_manifest(repo *r, const char *server, const char *id, mf_load *m)
{
    static const cat_mf_handler h = {.archive = mf_archive, .file = mf_file};
    char *key = pc_layout_backup_key(server, id, CAT_MF_NAME);
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *reader = NULL, *head = NULL;
    pc_status st = m->want_files ? cat_mf_index_new(&m->ix) : PC_OK;
    st = st ? st : cat_mf_reader_new(&h, m, &reader);
    st = st ? st : cmp_decompress_new(CMP_ZSTD, MANIFEST_MAX, reader, &head); /* owns reader */
    st = st ? st : repo_get(r, key, 0, 0, head, NULL);
    st = st ? st : pc_sink_finish(head);
    pc_sink_free(head);
    free(key);
    return st;
}

static void mf_load_free(mf_load *m)
{
    for (size_t i = 0; i < m->nnames; i++)
        free(m->names[i]);
    free(m->names);
    free(m->a);
    cat_mf_index_free(m->ix);
    memset(m, 0, sizeof *m);
}

/* ---- verification tasks ---- */

typedef struct vfile {
    pc_sink base;
    pc_hash *h;
    uint64_t n;
    const cat_mf_file *f;
    struct atask *t;
    char path[1024];
} vfile;

typedef struct atask {
    repo *r;
    const char *server;
    const char *id;
    const arch *a;
    char *key;
    const cat_mf_index *ix; /* NULL for a barman backup */
    size_t mf_files;        /* files of the manifest in this archive */
    size_t matched;
    strv problems;
    pc_status st; /* a failure that stops the audit (the store, not the data) */
    pc_error err;
} atask;

static pc_status vfile_write(pc_sink *s, const void *data, size_t len)
{
    vfile *v = (vfile *)s;
    pc_hash_update(v->h, data, len);
    v->n += len;
    return PC_OK;
}

static pc_status vfile_finish(pc_sink *s)
{
    vfile *v = (vfile *)s;
    unsigned char d[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    pc_hash_final(v->h, d);
    pc_hex(d, sizeof d, hex);
    if (v->f->sha256 && strcmp(hex, v->f->sha256) != 0)
        strv_add(&v->t->problems, "archive %s: file \"%s\" has SHA-256 %s, the manifest says %s",
                 v->t->a->name, v->path, hex, v->f->sha256);
    return PC_OK;
}

static void vfile_destroy(pc_sink *s)
{
    vfile *v = (vfile *)s;
    pc_hash_free(v->h);
    free(v);
}

static const pc_sink_ops vfile_ops = {
    .name = "audit-file", .write = vfile_write, .finish = vfile_finish, .destroy = vfile_destroy};

static pc_status on_tar_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    atask *t = ud;
    if (!t->ix)
        return PC_OK; /* a barman backup: the tar itself must parse, no more */
    char norm[1024];
    if (pc_tar_path_check(e->name, norm, sizeof norm) != PC_OK) {
        strv_add(&t->problems, "archive %s: %s", t->a->name, pc_err_get()->message);
        pc_err_clear();
        return PC_OK;
    }
    if (strcmp(norm, ".") == 0)
        return PC_OK;
    const cat_mf_file *f = cat_mf_index_find(t->ix, t->a->ts, norm);
    if (!f)
        f = cat_mf_index_find(t->ix, t->a->ts, e->name);
    if (!f) {
        strv_add(&t->problems, "archive %s: member \"%s\" is not in the manifest", t->a->name,
                 norm);
        return PC_OK;
    }
    if (f->archive && strcmp(f->archive, t->a->name) == 0)
        t->matched++;
    if (e->type != PC_TAR_FILE || f->type != 'f')
        return PC_OK;
    if (f->size != e->size) {
        strv_add(&t->problems,
                 "archive %s: file \"%s\" has %" PRIu64 " bytes, the manifest says "
                 "%" PRIu64,
                 t->a->name, norm, e->size, f->size);
        return PC_OK;
    }
    vfile *v = pc_calloc(1, sizeof *v);
    if (!v)
        return PC_E_INTERNAL;
    pc_sink_init(&v->base, &vfile_ops, NULL);
    v->f = f;
    v->t = t;
    snprintf(v->path, sizeof v->path, "%s", norm);
    pc_status st = pc_hash_new(PC_HASH_SHA256, &v->h);
    if (st) {
        free(v);
        return st;
    }
    *content = &v->base;
    return PC_OK;
}

static pc_status verify_archive(void *arg)
{
    atask *t = arg;
    static const pc_tar_handler h = {.entry = on_tar_entry};
    size_t stem;
    cmp_codec c = cmp_codec_from_name(t->a->name, &stem);
    pc_sink *tar = NULL, *dec = NULL, *hash = NULL;
    pc_status st = pc_tar_reader_new(&h, t, &tar);
    if (st == PC_OK) {
        /* PostgreSQL's tablespace tars may end without the end-of-archive blocks */
        pc_tar_reader_set_lenient_end(tar, true);
        st = cmp_decompress_new(c, 0, tar, &dec); /* owns tar */
    }
    if (st == PC_OK)
        st = pc_sink_hash_new(PC_HASH_SHA256, dec, &hash); /* owns dec */
    repo_obj info;
    if (st == PC_OK)
        st = repo_get(t->r, t->key, 0, 0, hash, &info);
    if (st == PC_OK)
        st = pc_sink_finish(hash);
    if (st == PC_OK && t->a->have_expect) {
        unsigned char d[PC_SHA256_LEN];
        char hex[2 * PC_SHA256_LEN + 1];
        pc_sink_hash_result(hash, d, sizeof d);
        pc_hex(d, sizeof d, hex);
        if (t->a->expect_sha[0] && strcmp(hex, t->a->expect_sha) != 0)
            strv_add(&t->problems,
                     "archive %s (%s): SHA-256 of the stored bytes is %s, the "
                     "manifest says %s",
                     t->a->name, t->key, hex, t->a->expect_sha);
    }
    if (st == PC_OK && t->ix && t->matched < t->mf_files)
        strv_add(&t->problems, "archive %s: %zu member%s of the manifest %s missing from it",
                 t->a->name, t->mf_files - t->matched, t->mf_files - t->matched == 1 ? "" : "s",
                 t->mf_files - t->matched == 1 ? "is" : "are");
    if (st == PC_E_CORRUPT || st == PC_E_NOT_FOUND) {
        strv_add(&t->problems, "archive %s (%s) is damaged: %s", t->a->name, t->key,
                 pc_err_get()->message);
        pc_err_clear();
        st = PC_OK;
    }
    pc_sink_free(hash);
    t->st = st;
    if (st)
        pc_err_save(&t->err);
    return PC_OK;
}

/* A WAL object: the uncompressed bytes against pgcask-sha256/pgcask-size and the page header. */
typedef struct whead {
    pc_sink base;
    pc_hash *h;
    uint64_t n;
    unsigned char head[HEAD_KEEP];
} whead;

static pc_status whead_write(pc_sink *s, const void *data, size_t len)
{
    whead *w = (whead *)s;
    if (w->n < HEAD_KEEP) {
        size_t k = HEAD_KEEP - w->n < len ? HEAD_KEEP - (size_t)w->n : len;
        memcpy(w->head + w->n, data, k);
    }
    pc_hash_update(w->h, data, len);
    w->n += len;
    return PC_OK;
}

static void whead_destroy(pc_sink *s)
{
    /* the hash is read after finish: freed by the task */
    (void)s;
}

static const pc_sink_ops whead_ops = {
    .name = "audit-wal", .write = whead_write, .destroy = whead_destroy};

typedef struct wtask {
    repo *r;
    const wal_obj *o;
    uint64_t segsize;
    char problem[1024]; /* "" when fine */
    pc_status st;
    pc_error err;
} wtask;

static pc_status verify_wal(void *arg)
{
    wtask *t = arg;
    t->problem[0] = '\0';
    repo_obj info;
    pc_status st = repo_head(t->r, t->o->key, &info);
    whead *w = NULL;
    pc_hash *h = NULL;
    pc_sink *head = NULL;
    if (st == PC_OK && !(w = pc_calloc(1, sizeof *w)))
        st = PC_E_INTERNAL;
    if (st == PC_OK)
        st = pc_hash_new(PC_HASH_SHA256, &h);
    size_t stem;
    cmp_codec c = cmp_codec_from_name(t->o->key, &stem);
    uint64_t cap = t->segsize > (16u << 20) ? t->segsize : (16u << 20);
    if (st == PC_OK) {
        pc_sink_init(&w->base, &whead_ops, NULL);
        w->h = h;
        st = cmp_decompress_new(c, cap, &w->base, &head); /* owns w->base (destroy: no-op) */
    }
    if (st == PC_OK)
        st = repo_get(t->r, t->o->key, 0, 0, head, NULL);
    if (st == PC_OK)
        st = pc_sink_finish(head);
    if (st == PC_OK) {
        unsigned char d[PC_SHA256_LEN];
        char hex[2 * PC_SHA256_LEN + 1];
        pc_hash_final(h, d);
        pc_hex(d, sizeof d, hex);
        const char *want = repo_obj_meta(&info, "pgcask-sha256");
        const char *size = repo_obj_meta(&info, "pgcask-size");
        if (want && strcmp(want, hex) != 0)
            snprintf(t->problem, sizeof t->problem,
                     "SHA-256 of the content is %s, the object's pgcask-sha256 says %s", hex, want);
        else if (size && strtoull(size, NULL, 10) != w->n)
            snprintf(t->problem, sizeof t->problem,
                     "%" PRIu64 " bytes of content, the object's pgcask-size says %s", w->n, size);
        else if (t->o->w.kind == PC_WAL_SEGMENT && w->n != t->segsize)
            snprintf(t->problem, sizeof t->problem,
                     "%" PRIu64 " bytes of content, a segment has %" PRIu64, w->n, t->segsize);
        else if (t->o->w.kind == PC_WAL_SEGMENT || t->o->w.kind == PC_WAL_PARTIAL) {
            size_t len = w->n < HEAD_KEEP ? (size_t)w->n : HEAD_KEEP;
            if (pc_wal_check_header(&t->o->w, w->head, len, t->segsize) != PC_OK) {
                snprintf(t->problem, sizeof t->problem, "%s", pc_err_get()->message);
                pc_err_clear();
            }
        }
    }
    if (st == PC_E_CORRUPT || st == PC_E_NOT_FOUND) {
        snprintf(t->problem, sizeof t->problem, "%s", pc_err_get()->message);
        pc_err_clear();
        st = PC_OK;
    }
    pc_sink_free(head);
    pc_hash_free(h);
    free(w);
    t->st = st;
    if (st)
        pc_err_save(&t->err);
    return PC_OK;
}

/* Run n tasks of size `sz` at `jobs` at once. */
static pc_status run_tasks(void *tasks, size_t n, size_t sz, pc_task_fn fn, int jobs)
{
    if (n == 0)
        return PC_OK;
    pc_pool *pool = NULL;
    size_t threads = jobs < 1 ? 1 : (size_t)jobs;
    if (threads > n)
        threads = n;
    pc_status st = pc_pool_new(threads, n, &pool);
    for (size_t i = 0; st == PC_OK && i < n; i++)
        st = pc_pool_submit(pool, fn, (char *)tasks + i * sz);
    if (pool) {
        pc_status w = pc_pool_wait(pool);
        st = st ? st : w;
        pc_pool_free(pool);
    }
    return st;
}

static pc_status verify_wal_objects(ops_audit *au, repo *r, wal_obj *objs, size_t n, int jobs)
{
    wtask *t = n ? pc_calloc(n, sizeof *t) : NULL;
    if (n && !t)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < n; i++)
        t[i] = (wtask){.r = r, .o = &objs[i], .segsize = au->segsize};
    pc_status st = run_tasks(t, n, sizeof *t, verify_wal, jobs);
    for (size_t i = 0; st == PC_OK && i < n; i++) {
        if (t[i].st) {
            pc_err_restore(&t[i].err);
            st = t[i].st;
            break;
        }
        au->wal_checked++;
        if (!t[i].problem[0])
            continue;
        strv_add(&au->damaged, "%s: %s", objs[i].key, t[i].problem);
        strv_add(&au->problems, "WAL object %s is damaged: %s", objs[i].key, t[i].problem);
        /* a damaged segment is as good as missing */
        au_tl *tl = tl_get(au, objs[i].w.tli, false);
        if (tl && objs[i].w.kind == PC_WAL_SEGMENT) {
            uint64_t s = pc_wal_name_segno(&objs[i].w, au->segsize);
            uint64_t *hit =
                tl->segs.n ? bsearch(&s, tl->segs.v, tl->segs.n, sizeof s, cmp_u64) : NULL;
            if (hit) {
                size_t at = (size_t)(hit - tl->segs.v);
                memmove(hit, hit + 1, (tl->segs.n - at - 1) * sizeof s);
                tl->segs.n--;
            }
        }
    }
    free(t);
    return st;
}

/* ---- backups ---- */

static void fill_backup(au_backup *ab, const ops_sb *sb)
{
    const cat_binfo *i = &sb->info;
    ab->id = pc_strdup(sb->id);
    ab->name = i->backup_name ? pc_strdup(i->backup_name) : NULL;
    ab->parent = ops_sb_parent(sb) ? pc_strdup(ops_sb_parent(sb)) : NULL;
    ab->error = i->error ? pc_strdup(i->error) : NULL;
    snprintf(ab->status, sizeof ab->status, "%s", cat_binfo_status_name(i->status));
    ab->keep = sb->keep;
    ab->timeline = i->timeline == CAT_BINFO_NONE ? 0 : (uint32_t)i->timeline;
    snprintf(ab->begin_wal, sizeof ab->begin_wal, "%s", i->begin_wal ? i->begin_wal : "");
    snprintf(ab->end_wal, sizeof ab->end_wal, "%s", i->end_wal ? i->end_wal : "");
    snprintf(ab->begin_lsn, sizeof ab->begin_lsn, "%s", i->begin_xlog ? i->begin_xlog : "");
    snprintf(ab->end_lsn, sizeof ab->end_lsn, "%s", i->end_xlog ? i->end_xlog : "");
    ab->begin_time = i->begin_time;
    ab->end_time = i->end_time;
    ab->end_tz = i->end_time_tz;
    ab->has_manifest = sb->has_manifest;
    ab->checksums = "not checked";
}

static const ops_obj *find_obj(const ops_sb *sb, const char *name)
{
    for (size_t i = 0; i < sb->nobjs; i++)
        if (strcmp(sb->objs[i].name, name) == 0)
            return &sb->objs[i];
    return NULL;
}

/* The WAL range of a DONE backup: every segment archived (and not damaged). */
static void check_backup_wal(ops_audit *au, au_backup *ab)
{
    pc_wal_name b, e;
    if (!ab->begin_wal[0] || !ab->end_wal[0] || pc_wal_parse(ab->begin_wal, &b) != PC_OK ||
        pc_wal_parse(ab->end_wal, &e) != PC_OK || b.kind != PC_WAL_SEGMENT ||
        e.kind != PC_WAL_SEGMENT) {
        pc_err_clear();
        bproblem(au, ab, "backup.info has no usable begin_wal/end_wal (\"%s\", \"%s\")",
                 ab->begin_wal, ab->end_wal);
        return;
    }
    uint64_t from = pc_wal_name_segno(&b, au->segsize), to = pc_wal_name_segno(&e, au->segsize);
    if (to < from) {
        bproblem(au, ab, "end_wal %s is before begin_wal %s", ab->end_wal, ab->begin_wal);
        return;
    }
    ab->wal_required = to - from + 1;
    for (uint64_t s = from; s <= to; s++) {
        /* a backup ending on a new timeline reads its last segments from there */
        uint32_t tli = s == to ? e.tli : b.tli;
        if (seg_present(au, tli, s) || (tli != b.tli && seg_present(au, b.tli, s)))
            continue;
        char n[PC_WAL_NAME_MAX];
        segname(au, tli, s, n);
        strv_add(&ab->wal_missing, "%s", n);
        const char *role = s == from && s == to ? " (its begin_wal and end_wal)"
                           : s == from          ? " (its begin_wal)"
                           : s == to            ? " (its end_wal)"
                                                : "";
        bproblem(au, ab, "WAL %s%s is not archived", n, role);
        if (ab->wal_missing.n >= MISSING_LIST_MAX)
            break;
    }
}

typedef struct bwork {
    au_backup *ab;
    const ops_sb *sb;
    mf_load mf;
    atask *tasks;
    size_t ntasks;
} bwork;

static pc_status check_backup_objects(ops_audit *au, repo *r, bwork *w)
{
    au_backup *ab = w->ab;
    const ops_sb *sb = w->sb;
    const cat_binfo *info = &sb->info;
    if (sb->has_manifest) {
        w->mf.id = sb->id;
        w->mf.want_files = au->verify;
        pc_status st = load_manifest(r, au->server, sb->id, &w->mf);
        if (st == PC_E_CORRUPT || st == PC_E_NOT_FOUND) {
            bproblem(au, ab, "its pgcask.manifest cannot be read: %s", pc_err_get()->message);
            pc_err_clear();
            return PC_OK;
        }
        if (st)
            return st;
        for (size_t i = 0; i < w->mf.na; i++) {
            arch *a = &w->mf.a[i];
            const ops_obj *o = find_obj(sb, a->name);
            if (!o) {
                bproblem(au, ab, "archive %s/base/%s/%s is missing", au->server, sb->id, a->name);
                a->have_expect = false;
                a->size = UINT64_MAX; /* not verified */
                continue;
            }
            a->size = o->size;
            if (o->size != a->expect_size)
                bproblem(au, ab,
                         "archive %s/base/%s/%s has %" PRIu64 " bytes, the manifest says "
                         "%" PRIu64 " (truncated or replaced)",
                         au->server, sb->id, a->name, o->size, a->expect_size);
        }
        /* archives in the folder the manifest does not know */
        for (size_t i = 0; i < sb->nobjs; i++) {
            bool pg;
            char oid[16];
            if (!archive_name(sb->objs[i].name, &pg, oid, sizeof oid))
                continue;
            bool known = false;
            for (size_t k = 0; k < w->mf.na && !known; k++)
                known = strcmp(w->mf.a[k].name, sb->objs[i].name) == 0;
            if (!known)
                bproblem(au, ab, "object %s/base/%s/%s is not in the backup's manifest", au->server,
                         sb->id, sb->objs[i].name);
        }
    } else {
        /* a barman backup: data.tar and one tar per tablespace, none empty */
        bool have_data = false;
        for (size_t i = 0; i < sb->nobjs; i++) {
            bool pg;
            char oid[16];
            if (!archive_name(sb->objs[i].name, &pg, oid, sizeof oid))
                continue;
            if (pg && strncmp(sb->objs[i].name, "data.", 5) == 0)
                have_data = true;
            if (sb->objs[i].size == 0)
                bproblem(au, ab, "archive %s/base/%s/%s is empty", au->server, sb->id,
                         sb->objs[i].name);
            if (w->mf.na == w->mf.aa) {
                size_t na = w->mf.aa ? 2 * w->mf.aa : 8;
                arch *nv = pc_realloc(w->mf.a, na * sizeof *nv);
                if (!nv)
                    return PC_E_INTERNAL;
                w->mf.a = nv;
                w->mf.aa = na;
            }
            w->mf.a[w->mf.na++] = (arch){.name = sb->objs[i].name, .size = sb->objs[i].size};
        }
        if (!have_data)
            bproblem(au, ab, "archive %s/base/%s/data.tar is missing", au->server, sb->id);
        for (size_t t = 0; t < info->n_tablespaces; t++) {
            bool found = false;
            for (size_t i = 0; i < sb->nobjs && !found; i++) {
                bool pg;
                char oid[16];
                found = archive_name(sb->objs[i].name, &pg, oid, sizeof oid) && !pg &&
                        strtoul(oid, NULL, 10) == info->tablespaces[t].oid;
            }
            if (!found)
                bproblem(au, ab, "archive %s/base/%s/%" PRIu32 ".tar of tablespace %s is missing",
                         au->server, sb->id, info->tablespaces[t].oid, info->tablespaces[t].name);
        }
    }
    return PC_OK;
}

/* Verification tasks of one backup's archives (those present). */
static pc_status plan_verify(ops_audit *au, repo *r, bwork *w)
{
    w->tasks = w->mf.na ? pc_calloc(w->mf.na, sizeof *w->tasks) : NULL;
    if (w->mf.na && !w->tasks)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < w->mf.na; i++) {
        arch *a = &w->mf.a[i];
        if (a->size == UINT64_MAX)
            continue;
        atask *t = &w->tasks[w->ntasks];
        *t = (atask){.r = r, .server = au->server, .id = w->sb->id, .a = a, .ix = w->mf.ix};
        if (!(t->key = pc_layout_backup_key(au->server, w->sb->id, a->name)))
            return PC_E_INTERNAL;
        for (size_t k = 0; w->mf.ix && k < cat_mf_index_count(w->mf.ix); k++) {
            const cat_mf_file *f = cat_mf_index_at(w->mf.ix, k);
            t->mf_files += f->archive && strcmp(f->archive, a->name) == 0;
        }
        w->ntasks++;
    }
    return PC_OK;
}

/* ---- the run ---- */

static int cmp_au_backup(const void *a, const void *b)
{
    return strcmp(((const au_backup *)a)->id, ((const au_backup *)b)->id);
}

static pc_status record(arc_ctx *a, const ops_audit *au)
{
    cat *c;
    pc_status st = ops_open_catalog(a, &c);
    if (st)
        return st;
    char t[32];
    st = cat_tx_begin(c);
    if (st == PC_OK)
        st = cat_meta_set(c, OPS_META_AUDIT_STATUS, au->ok ? "ok" : "failed");
    snprintf(t, sizeof t, "%lld", (long long)au->at);
    if (st == PC_OK)
        st = cat_meta_set(c, OPS_META_AUDIT_AT, t);
    snprintf(t, sizeof t, "%zu", au->problems.n);
    if (st == PC_OK)
        st = cat_meta_set(c, OPS_META_AUDIT_PROBLEMS, t);
    if (st == PC_OK)
        st = cat_tx_commit(c);
    else
        cat_tx_rollback(c);
    cat_close(c);
    return st;
}

static pc_status audit_run(arc_ctx *a, const ops_audit_opts *o, ops_audit *au)
{
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    if (st)
        return st;
    int jobs = o->jobs > 0 ? o->jobs : DEFAULT_JOBS;
    /* 1. the catalog, fresh from the store */
    if ((st = arc_catalog_sync_wal(a, NULL)) != PC_OK)
        return st;
    cat *c;
    if ((st = ops_open_catalog(a, &c)) != PC_OK)
        return st;
    ops_scan s;
    st = ops_scan_store(r, au->server, OPS_SCAN_JOBS, c, true, &s);
    if (st) {
        cat_close(c);
        return st;
    }
    /* folders without backup.info that this host's catalog knows as backups in progress */
    bool *running = s.n ? pc_calloc(s.n, sizeof *running) : NULL;
    for (size_t i = 0; running && i < s.n; i++) {
        cat_backup row;
        if (!s.v[i].has_info && pc_layout_is_backup_id(s.v[i].id) &&
            cat_backup_get(c, s.v[i].id, &row) == PC_OK) {
            running[i] = row.status == CAT_STATUS_STARTED;
            cat_backup_clear(&row);
        }
        pc_err_clear();
    }
    if (ops_scan_to_catalog(c, &s) != PC_OK) {
        pc_warn("could not update the catalog's backups: %s", pc_err_get()->message);
        pc_err_clear();
    }
    /* the segment size: what the backups say, else the setting */
    for (size_t i = 0; i < s.n; i++) {
        int64_t z = s.v[i].info_ok ? s.v[i].info.xlog_segment_size : CAT_BINFO_NONE;
        if (z != CAT_BINFO_NONE && pc_wal_segsize_valid((uint64_t)z)) {
            au->segsize = (uint64_t)z;
            break;
        }
    }
    /* 2. the WAL index */
    load_ctx l = {.au = au, .keep_objs = o->verify_checksums};
    st = cat_wal_iter(c, NULL, on_wal_row, &l);
    cat_close(c);
    for (size_t i = 0; st == PC_OK && i < au->ntl; i++)
        qsort(au->tl[i].segs.v, au->tl[i].segs.n, sizeof(uint64_t), cmp_u64);
    if (au->ntl > 1)
        qsort(au->tl, au->ntl, sizeof *au->tl, cmp_tl);
    for (size_t i = 0; st == PC_OK && i < au->ntl; i++)
        if (au->tl[i].has_history)
            st = load_history(au, r, &au->tl[i]);
    for (size_t i = 0; st == PC_OK && i < au->ntl; i++) {
        au_tl *t = &au->tl[i];
        if (t->tli > 1 && t->segs.n && !t->has_history) {
            char h[PC_WAL_NAME_MAX];
            snprintf(h, sizeof h, "%08X.history", t->tli);
            strv_add(&au->problems,
                     "timeline %" PRIu32 " has WAL but its history file %s is not archived: the "
                     "switch to it cannot be followed",
                     t->tli, h);
        }
    }
    /* 3. checksums of the WAL (damaged segments then count as missing) */
    if (st == PC_OK && o->verify_checksums)
        st = verify_wal_objects(au, r, l.objs, l.nobjs, jobs);
    for (size_t i = 0; i < l.nobjs; i++)
        free(l.objs[i].key);
    free(l.objs);
    /* 4. the backups */
    au->b = st == PC_OK && s.n ? pc_calloc(s.n, sizeof *au->b) : NULL;
    bwork *work = st == PC_OK && s.n ? pc_calloc(s.n, sizeof *work) : NULL;
    if (s.n && (!au->b || !work) && st == PC_OK)
        st = PC_E_INTERNAL;
    for (size_t i = 0; st == PC_OK && i < s.n; i++) {
        const ops_sb *sb = &s.v[i];
        au_backup *ab = &au->b[au->nb++];
        work[i] = (bwork){.ab = ab, .sb = sb};
        if (!sb->has_info && running && running[i]) {
            ab->id = pc_strdup(sb->id);
            snprintf(ab->status, sizeof ab->status, "STARTED");
            ab->objects = sb->nobjs;
            ab->stored_bytes = sb->stored_size;
            ab->checksums = "not checked";
            strv_add(&au->warnings, "backup %s: in progress (no backup.info yet)", sb->id);
            continue;
        }
        if (!sb->has_info) {
            ab->id = pc_strdup(sb->id);
            snprintf(ab->status, sizeof ab->status, "NO_BACKUP_INFO");
            ab->objects = sb->nobjs;
            ab->stored_bytes = sb->stored_size;
            ab->checksums = "not checked";
            bproblem(au, ab,
                     "%s/base/%s/ holds %zu object%s but no backup.info (lost, or a backup "
                     "or deletion that did not finish)",
                     au->server, sb->id, sb->nobjs, sb->nobjs == 1 ? "" : "s");
            continue;
        }
        if (!sb->info_ok) {
            ab->id = pc_strdup(sb->id);
            snprintf(ab->status, sizeof ab->status, "UNREADABLE");
            ab->checksums = "not checked";
            bproblem(au, ab, "its backup.info cannot be read: %s",
                     sb->info_error ? sb->info_error : "?");
            continue;
        }
        fill_backup(ab, sb);
        ab->objects = sb->nobjs;
        ab->stored_bytes = sb->stored_size;
        if (sb->info.status != CAT_BINFO_DONE) {
            if (sb->info.error && strcmp(sb->info.error, OPS_DELETING_ERROR) == 0)
                strv_add(&au->warnings,
                         "backup %s: a deletion was interrupted; run "
                         "backup-delete again to finish it",
                         sb->id);
            continue;
        }
        st = check_backup_objects(au, r, &work[i]);
        if (st == PC_OK)
            check_backup_wal(au, ab);
        if (st == PC_OK && o->verify_checksums)
            st = plan_verify(au, r, &work[i]);
    }
    if (st == PC_OK && o->verify_checksums) {
        /* every archive of every backup through one pool */
        size_t total = 0;
        for (size_t i = 0; i < s.n; i++)
            total += work[i].ntasks;
        atask *flat = total ? pc_calloc(total, sizeof *flat) : NULL;
        if (total && !flat)
            st = PC_E_INTERNAL;
        size_t k = 0;
        for (size_t i = 0; st == PC_OK && i < s.n; i++)
            for (size_t j = 0; j < work[i].ntasks; j++)
                flat[k++] = work[i].tasks[j];
        if (st == PC_OK)
            st = run_tasks(flat, total, sizeof *flat, verify_archive, jobs);
        k = 0;
        for (size_t i = 0; flat && i < s.n; i++) {
            bool bad = false;
            for (size_t j = 0; j < work[i].ntasks; j++, k++) {
                atask *t = &flat[k];
                work[i].tasks[j].key = NULL; /* freed through the copy below */
                if (st == PC_OK && t->st) {
                    pc_err_restore(&t->err);
                    st = t->st;
                }
                for (size_t p = 0; p < t->problems.n; p++) {
                    bproblem(au, work[i].ab, "%s", t->problems.v[p]);
                    bad = true;
                }
                strv_free(&t->problems);
                free(t->key);
            }
            if (work[i].ntasks)
                work[i].ab->checksums = bad ? "failed" : "verified";
        }
        free(flat);
    }
    for (size_t i = 0; work && i < s.n; i++) {
        for (size_t j = 0; j < work[i].ntasks; j++)
            free(work[i].tasks[j].key);
        free(work[i].tasks);
        mf_load_free(&work[i].mf);
    }
    free(work);
    free(running);
    for (size_t i = 0; i < au->nb; i++) {
        au_backup *ab = &au->b[i];
        ab->restorable = strcmp(ab->status, "DONE") == 0 && ab->problems.n == 0;
    }
    if (au->nb > 1)
        qsort(au->b, au->nb, sizeof *au->b, cmp_au_backup);
    /* an incremental backup restores only with every backup it builds on (parents are older) */
    for (size_t i = 0; i < au->nb; i++) {
        au_backup *ab = &au->b[i];
        if (!ab->parent || strcmp(ab->status, "DONE") != 0)
            continue;
        const au_backup *p = NULL;
        for (size_t k = 0; k < i && !p; k++)
            if (strcmp(au->b[k].id, ab->parent) == 0)
                p = &au->b[k];
        if (!p)
            bproblem(au, ab, "its parent backup %s is missing", ab->parent);
        else if (!p->restorable)
            bproblem(au, ab, "its parent backup %s is not restorable", ab->parent);
        if (!p || !p->restorable)
            ab->restorable = false;
    }
    ops_scan_free(&s);
    if (st)
        return st;

    /*
     * 5. the chain, from the oldest DONE backup that needs the WAL after it: a keep:standalone
     * backup needs only its own range (checked with it), retention removes what follows it
     */
    const au_backup *oldest = NULL, *last_ok = NULL;
    for (size_t i = 0; i < au->nb; i++) {
        const au_backup *ab = &au->b[i];
        if (strcmp(ab->status, "DONE") == 0 && ab->begin_wal[0] && !oldest &&
            ab->keep != OPS_KEEP_STANDALONE)
            oldest = ab;
        if (ab->restorable)
            last_ok = ab;
    }
    if (oldest)
        st = check_chain(au, oldest);
    /*
     * 6. the recoverability window: last = the end of the unbroken chain after the newest
     * restorable backup; first = the end of the oldest restorable backup from which the chain
     * runs unbroken to that same last point (so every point in between can be reached)
     */
    uint32_t ltli = 0;
    uint64_t lseg = 0;
    if (st == PC_OK && last_ok) {
        pc_wal_name e;
        if (pc_wal_parse(last_ok->end_wal, &e) == PC_OK) {
            st = chain_end(au, e.tli, pc_wal_name_segno(&e, au->segsize), &ltli, &lseg);
            if (st == PC_OK) {
                char n[PC_WAL_NAME_MAX];
                segname(au, ltli, lseg, n);
                au->last.set = true;
                au->last.tli = ltli;
                au->last.lsn = (lseg + 1) * au->segsize;
                au->last.time_us = CAT_BINFO_NONE;
                snprintf(au->last.what, sizeof au->last.what, "end of WAL %s", n);
                snprintf(au->last.wal, sizeof au->last.wal, "%s", n);
            }
        }
        pc_err_clear();
    }
    for (size_t i = 0; st == PC_OK && au->last.set && i < au->nb; i++) {
        const au_backup *ab = &au->b[i];
        pc_wal_name e;
        if (!ab->restorable || pc_wal_parse(ab->end_wal, &e) != PC_OK) {
            pc_err_clear();
            continue;
        }
        uint32_t t;
        uint64_t g;
        st = chain_end(au, e.tli, pc_wal_name_segno(&e, au->segsize), &t, &g);
        if (st || t != ltli || g != lseg)
            continue;
        au->first.set = true;
        au->first.time_us = ab->end_time;
        au->first.tz = ab->end_tz;
        au->first.tli = ab->timeline;
        if (pc_lsn_parse(ab->end_lsn, &au->first.lsn) != PC_OK)
            pc_err_clear();
        snprintf(au->first.what, sizeof au->first.what, "end of backup %s", ab->id);
        break;
    }
    return st;
}

/* The archive time of the last segment of the window (from the catalog). */
static void last_time(arc_ctx *a, ops_audit *au)
{
    if (!au->last.set)
        return;
    cat *c;
    if (ops_open_catalog(a, &c) != PC_OK) {
        pc_err_clear();
        return;
    }
    cat_wal w;
    if (cat_wal_get(c, au->last.wal, &w) == PC_OK) {
        au->last.time_us = w.stored_at;
        cat_wal_clear(&w);
    }
    pc_err_clear();
    cat_close(c);
}

pc_status ops_audit_run(arc_ctx *a, const ops_audit_opts *o, ops_audit **out)
{
    *out = NULL;
    ops_audit *au = pc_calloc(1, sizeof *au);
    if (!au)
        return PC_E_INTERNAL;
    repo *r;
    pc_status st = arc_ctx_repo(a, &r);
    au->server = pc_strdup(arc_ctx_server(a));
    au->repo = st == PC_OK ? pc_strdup(repo_url(r)) : NULL;
    au->at = pc_now_us();
    au->verify = o->verify_checksums;
    au->segsize = arc_ctx_segsize(a);
    if (st == PC_OK && (!au->server || !au->repo))
        st = PC_E_INTERNAL;
    if (st == PC_OK)
        st = audit_run(a, o, au);
    if (st) {
        ops_audit_free(au);
        return st;
    }
    last_time(a, au);
    /* every problem names an object a restore needs, or damage: any one fails the audit */
    au->ok = au->problems.n == 0;
    if (record(a, au) != PC_OK) {
        pc_warn("could not record the audit in the catalog: %s", pc_err_get()->message);
        pc_err_clear();
    }
    *out = au;
    return PC_OK;
}

/* ---- rendering ---- */

static void iso(int64_t us, char *out, size_t len)
{
    if (us == CAT_BINFO_NONE || us == 0)
        snprintf(out, len, "%s", "");
    else
        ops_time_str(us, 0, 'T', out, len);
}

static void jw_time(pc_jw *w, const char *k, int64_t us)
{
    char t[64];
    iso(us, t, sizeof t);
    if (t[0])
        pc_jw_kstr(w, k, t);
    else
        pc_jw_knull(w, k);
}

static void jw_strv(pc_jw *w, const char *k, const strv *s)
{
    pc_jw_key(w, k);
    pc_jw_arr_begin(w);
    for (size_t i = 0; i < s->n; i++)
        pc_jw_str(w, s->v[i]);
    pc_jw_arr_end(w);
}

static void jw_point(const ops_audit *au, pc_jw *w, const char *k, const au_point *p)
{
    pc_jw_key(w, k);
    if (!p->set) {
        pc_jw_null(w);
        return;
    }
    char l[32];
    pc_lsn_format(p->lsn, l, sizeof l);
    pc_jw_obj_begin(w);
    jw_time(w, "time", p->time_us);
    if (p->time_us != CAT_BINFO_NONE && p->time_us != 0)
        pc_jw_kint(w, "epoch", p->time_us / 1000000);
    else
        pc_jw_knull(w, "epoch");
    pc_jw_kstr(w, "lsn", l);
    pc_jw_kint(w, "timeline", p->tli);
    pc_jw_kstr(w, "source", p->what);
    pc_jw_obj_end(w);
    (void)au;
}

pc_status ops_audit_render_json(const ops_audit *au, pc_buf *out)
{
    pc_jw w;
    pc_jw_init(&w, out, false);
    char t[64];
    pc_jw_obj_begin(&w);
    pc_jw_kint(&w, "pgcask_audit", 1);
    pc_jw_kstr(&w, "server", au->server);
    pc_jw_kstr(&w, "repository", au->repo);
    jw_time(&w, "audit_time", au->at);
    pc_jw_kbool(&w, "verify_checksums", au->verify);
    pc_jw_kbool(&w, "ok", au->ok);
    pc_jw_kint(&w, "problem_count", (int64_t)au->problems.n);
    jw_strv(&w, "problems", &au->problems);
    jw_strv(&w, "warnings", &au->warnings);
    pc_jw_key(&w, "backups");
    pc_jw_arr_begin(&w);
    for (size_t i = 0; i < au->nb; i++) {
        const au_backup *b = &au->b[i];
        pc_jw_obj_begin(&w);
        pc_jw_kstr(&w, "backup_id", b->id);
        pc_jw_kstr(&w, "backup_name", b->name);
        pc_jw_kstr(&w, "parent_backup_id", b->parent);
        pc_jw_kstr(&w, "status", b->status);
        pc_jw_kstr(&w, "keep", ops_keep_name(b->keep));
        if (b->timeline)
            pc_jw_kint(&w, "timeline", b->timeline);
        else
            pc_jw_knull(&w, "timeline");
        pc_jw_kstr(&w, "begin_wal", b->begin_wal[0] ? b->begin_wal : NULL);
        pc_jw_kstr(&w, "end_wal", b->end_wal[0] ? b->end_wal : NULL);
        pc_jw_kstr(&w, "begin_lsn", b->begin_lsn[0] ? b->begin_lsn : NULL);
        pc_jw_kstr(&w, "end_lsn", b->end_lsn[0] ? b->end_lsn : NULL);
        jw_time(&w, "begin_time", b->begin_time);
        jw_time(&w, "end_time", b->end_time);
        pc_jw_kstr(&w, "error", b->error);
        pc_jw_kbool(&w, "manifest", b->has_manifest);
        pc_jw_kuint(&w, "objects", b->objects);
        pc_jw_kuint(&w, "stored_bytes", b->stored_bytes);
        pc_jw_kuint(&w, "wal_required", b->wal_required);
        jw_strv(&w, "wal_missing", &b->wal_missing);
        pc_jw_kstr(&w, "checksums", b->checksums);
        pc_jw_kbool(&w, "restorable", b->restorable);
        jw_strv(&w, "problems", &b->problems);
        pc_jw_obj_end(&w);
    }
    pc_jw_arr_end(&w);
    pc_jw_key(&w, "wal");
    pc_jw_obj_begin(&w);
    pc_jw_kuint(&w, "files", au->wal_files);
    pc_jw_kuint(&w, "stored_bytes", au->wal_bytes);
    if (au->verify)
        pc_jw_kuint(&w, "checked", au->wal_checked);
    else
        pc_jw_knull(&w, "checked");
    pc_jw_key(&w, "timelines");
    pc_jw_arr_begin(&w);
    for (size_t i = 0; i < au->ntl; i++) {
        const au_tl *tl = &au->tl[i];
        pc_jw_obj_begin(&w);
        pc_jw_kint(&w, "timeline", tl->tli);
        pc_jw_kuint(&w, "files", tl->files);
        pc_jw_kuint(&w, "segments", tl->segs.n);
        char n[PC_WAL_NAME_MAX];
        if (tl->segs.n) {
            segname(au, tl->tli, tl->segs.v[0], n);
            pc_jw_kstr(&w, "first", n);
            segname(au, tl->tli, tl->segs.v[tl->segs.n - 1], n);
            pc_jw_kstr(&w, "last", n);
        } else {
            pc_jw_knull(&w, "first");
            pc_jw_knull(&w, "last");
        }
        snprintf(n, sizeof n, "%08X.history", tl->tli);
        pc_jw_kstr(&w, "history", tl->tli > 1 ? n : NULL);
        pc_jw_kbool(&w, "history_present", tl->has_history);
        if (tl->parent) {
            pc_jw_kint(&w, "parent", tl->parent);
            pc_lsn_format(tl->switchpoint, t, sizeof t);
            pc_jw_kstr(&w, "switch_lsn", t);
        } else {
            pc_jw_knull(&w, "parent");
            pc_jw_knull(&w, "switch_lsn");
        }
        pc_jw_obj_end(&w);
    }
    pc_jw_arr_end(&w);
    pc_jw_key(&w, "chain");
    if (au->has_chain) {
        pc_jw_obj_begin(&w);
        pc_jw_kstr(&w, "from", au->chain_from);
        pc_jw_kstr(&w, "to", au->chain_to);
        pc_jw_key(&w, "timelines");
        pc_jw_arr_begin(&w);
        for (size_t i = 0; i < au->nchain_tli; i++)
            pc_jw_int(&w, au->chain_tli[i]);
        pc_jw_arr_end(&w);
        pc_jw_key(&w, "switches");
        pc_jw_arr_begin(&w);
        for (size_t i = 0; i < au->nsw; i++) {
            pc_jw_obj_begin(&w);
            pc_jw_kint(&w, "from_timeline", au->sw[i].from);
            pc_jw_kint(&w, "to_timeline", au->sw[i].to);
            pc_lsn_format(au->sw[i].lsn, t, sizeof t);
            pc_jw_kstr(&w, "switch_lsn", au->sw[i].present ? t : NULL);
            char h[32];
            snprintf(h, sizeof h, "%08X.history", au->sw[i].to);
            pc_jw_kstr(&w, "history", h);
            pc_jw_kbool(&w, "history_present", au->sw[i].present);
            pc_jw_obj_end(&w);
        }
        pc_jw_arr_end(&w);
        pc_jw_key(&w, "gaps");
        pc_jw_arr_begin(&w);
        for (size_t i = 0; i < au->ngaps; i++) {
            const au_gap *g = &au->gaps[i];
            char a[PC_WAL_NAME_MAX];
            pc_jw_obj_begin(&w);
            pc_jw_kint(&w, "timeline", g->tli);
            segname(au, g->tli, g->first, a);
            pc_jw_kstr(&w, "first", a);
            segname(au, g->tli, g->last, a);
            pc_jw_kstr(&w, "last", a);
            pc_jw_kuint(&w, "count", g->last - g->first + 1);
            pc_jw_key(&w, "missing");
            pc_jw_arr_begin(&w);
            for (uint64_t s = g->first; s <= g->last && s - g->first < MISSING_LIST_MAX; s++) {
                segname(au, g->tli, s, a);
                pc_jw_str(&w, a);
            }
            pc_jw_arr_end(&w);
            pc_jw_obj_end(&w);
        }
        pc_jw_arr_end(&w);
        pc_jw_obj_end(&w);
    } else {
        pc_jw_null(&w);
    }
    jw_strv(&w, "damaged", &au->damaged);
    pc_jw_obj_end(&w);
    pc_jw_key(&w, "recoverability");
    pc_jw_obj_begin(&w);
    jw_point(au, &w, "first", &au->first);
    jw_point(au, &w, "last", &au->last);
    pc_jw_obj_end(&w);
    pc_jw_obj_end(&w);
    pc_status st = pc_jw_end(&w);
    return st ? st : pc_buf_append_str(out, "\n");
}

static void human_bytes(uint64_t n, char *out, size_t len)
{
    static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t i = 0;
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, len, "%" PRIu64 " B", n);
    else
        snprintf(out, len, "%.1f %s", v, u[i]);
}

static pc_status point_line(pc_buf *out, const char *label, const au_point *p)
{
    if (!p->set)
        return pc_buf_printf(out, "  %-6s none\n", label);
    char t[64], l[32];
    if (p->time_us == CAT_BINFO_NONE || p->time_us == 0)
        snprintf(t, sizeof t, "time unknown");
    else
        ops_time_str(p->time_us, p->tz, ' ', t, sizeof t);
    pc_lsn_format(p->lsn, l, sizeof l);
    return pc_buf_printf(out, "  %-6s %s, LSN %s on timeline %" PRIu32 " (%s)\n", label, t, l,
                         p->tli, p->what);
}

pc_status ops_audit_render_console(const ops_audit *au, pc_buf *out)
{
    char t[64], z[32];
    ops_time_str(au->at, 0, ' ', t, sizeof t);
    pc_status st = pc_buf_printf(out, "Audit of server %s in %s at %s%s\n\n", au->server, au->repo,
                                 t, au->verify ? " (checksums verified)" : "");
    st = st ? st : pc_buf_printf(out, "Backups (%zu):\n", au->nb);
    if (st == PC_OK && au->nb == 0)
        st = pc_buf_append_str(out, "  none\n");
    for (size_t i = 0; st == PC_OK && i < au->nb; i++) {
        const au_backup *b = &au->b[i];
        human_bytes(b->stored_bytes, z, sizeof z);
        const char *verdict = b->restorable ? "restorable" : "NOT restorable";
        st = pc_buf_printf(out, "  %s  %s  %s", b->id, b->status, verdict);
        if (st == PC_OK && b->begin_wal[0])
            st = pc_buf_printf(out, "  WAL %s..%s", b->begin_wal, b->end_wal[0] ? b->end_wal : "?");
        if (st == PC_OK)
            st = pc_buf_printf(
                out, "  %zu object%s, %s%s%s%s%s\n", b->objects, b->objects == 1 ? "" : "s", z,
                b->has_manifest ? ", manifest" : "",
                strcmp(b->checksums, "not checked") ? ", checksums " : "",
                strcmp(b->checksums, "not checked") ? b->checksums : "",
                b->keep ? (b->keep == OPS_KEEP_FULL ? ", KEEP:FULL" : ", KEEP:STANDALONE") : "");
        if (st == PC_OK && !b->restorable && strcmp(b->status, "DONE") != 0 && b->error)
            st = pc_buf_printf(out, "      %s: %s\n", b->status, b->error);
        for (size_t k = 0; st == PC_OK && k < b->problems.n; k++)
            st = pc_buf_printf(out, "      - %s\n", b->problems.v[k]);
    }
    human_bytes(au->wal_bytes, z, sizeof z);
    st = st ? st : pc_buf_printf(out, "\nWAL archive: %" PRIu64 " files, %s", au->wal_files, z);
    if (st == PC_OK && au->verify)
        st = pc_buf_printf(out, ", %zu checked", au->wal_checked);
    st = st ? st : pc_buf_append_str(out, "\n");
    for (size_t i = 0; st == PC_OK && i < au->ntl; i++) {
        const au_tl *tl = &au->tl[i];
        char a[PC_WAL_NAME_MAX] = "-", b[PC_WAL_NAME_MAX] = "-";
        if (tl->segs.n) {
            segname(au, tl->tli, tl->segs.v[0], a);
            segname(au, tl->tli, tl->segs.v[tl->segs.n - 1], b);
        }
        st = pc_buf_printf(out, "  timeline %" PRIu32 ": %zu segments, %s .. %s", tl->tli,
                           tl->segs.n, a, b);
        if (st == PC_OK && tl->tli > 1) {
            if (tl->parent) {
                pc_lsn_format(tl->switchpoint, t, sizeof t);
                st = pc_buf_printf(out, "; from timeline %" PRIu32 " at %s (%08X.history)",
                                   tl->parent, t, tl->tli);
            } else {
                st = pc_buf_printf(out, "; %08X.history %s", tl->tli,
                                   tl->has_history ? "unreadable" : "MISSING");
            }
        }
        st = st ? st : pc_buf_append_str(out, "\n");
    }
    if (st == PC_OK && au->has_chain) {
        st = pc_buf_printf(out, "  chain %s .. %s: %s\n", au->chain_from, au->chain_to,
                           au->ngaps ? "BROKEN" : "no gap");
        for (size_t i = 0; st == PC_OK && i < au->ngaps; i++) {
            const au_gap *g = &au->gaps[i];
            char a[PC_WAL_NAME_MAX], b[PC_WAL_NAME_MAX];
            segname(au, g->tli, g->first, a);
            segname(au, g->tli, g->last, b);
            if (g->first == g->last)
                st = pc_buf_printf(out, "    missing %s\n", a);
            else if (g->last - g->first < 20) {
                st =
                    pc_buf_printf(out, "    missing %" PRIu64 " segments:", g->last - g->first + 1);
                for (uint64_t s = g->first; st == PC_OK && s <= g->last; s++) {
                    segname(au, g->tli, s, a);
                    st = pc_buf_printf(out, " %s", a);
                }
                st = st ? st : pc_buf_append_str(out, "\n");
            } else
                st = pc_buf_printf(out, "    missing %" PRIu64 " segments: %s .. %s\n",
                                   g->last - g->first + 1, a, b);
        }
    } else if (st == PC_OK) {
        st = pc_buf_append_str(out, "  chain: no DONE backup to start from\n");
    }
    st = st ? st : pc_buf_append_str(out, "\nRecoverability window:\n");
    st = st ? st : point_line(out, "first", &au->first);
    st = st ? st : point_line(out, "last", &au->last);
    if (st == PC_OK && au->warnings.n) {
        st = pc_buf_printf(out, "\nWarnings (%zu):\n", au->warnings.n);
        for (size_t i = 0; st == PC_OK && i < au->warnings.n; i++)
            st = pc_buf_printf(out, "  - %s\n", au->warnings.v[i]);
    }
    if (st == PC_OK && au->problems.n) {
        st = pc_buf_printf(out, "\nProblems (%zu):\n", au->problems.n);
        for (size_t i = 0; st == PC_OK && i < au->problems.n; i++)
            st = pc_buf_printf(out, "  - %s\n", au->problems.v[i]);
    }
    if (st == PC_OK)
        st = pc_buf_printf(out, "\nResult: %s\n", au->ok ? "OK" : "PROBLEMS FOUND (exit 13)");
    return st;
}
