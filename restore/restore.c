/*
 * pgcask restore: choose the backup, check the destinations, plan the
 * archives, unpack them (rst_unpack.c), then put back what PostgreSQL needs
 * to start: the tablespace links, a tablespace_map naming the new locations,
 * pg_wal, backup_label, and with --recovery-config the recovery settings.
 * Everything is synced before success is reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/layout.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "restore/rst_int.h"
#include "s3/walstore.h"

#define MANIFEST_MAX (1ULL << 30)

/* ---- paths and tablespace rules ---- */

pc_status rst_abs_path(const char *path, char **out)
{
    *out = NULL;
    if (!path || !*path)
        return pc_err(PC_E_USAGE, "empty path");
    char *joined;
    if (path[0] == '/') {
        joined = pc_strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return pc_err(PC_E_IO, "could not get the working directory: %m");
        joined = pc_path_join(cwd, path);
    }
    char *res = joined ? pc_malloc(strlen(joined) + 2) : NULL;
    if (!res) {
        free(joined);
        return PC_E_INTERNAL;
    }
    size_t o = 0;
    const char *p = joined;
    while (*p) {
        while (*p == '/')
            p++;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - c);
        if (len == 0 || (len == 1 && c[0] == '.'))
            continue;
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            while (o > 0 && res[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        res[o++] = '/';
        memcpy(res + o, c, len);
        o += len;
    }
    if (o == 0)
        res[o++] = '/';
    res[o] = '\0';
    free(joined);
    *out = res;
    return PC_OK;
}

pc_status rst_ts_rule_parse(const char *text, rst_ts_rule *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(text, ':');
    if (!colon || colon == text || !colon[1]) {
        pc_err(PC_E_USAGE, "invalid tablespace relocation rule \"%s\"", text);
        pc_err_hint("Write --tablespace NAME:LOCATION (NAME may also be the tablespace's OID).");
        return PC_E_USAGE;
    }
    if (!(out->name = pc_strndup(text, (size_t)(colon - text))))
        return PC_E_INTERNAL;
    pc_status st = rst_abs_path(colon + 1, &out->location);
    if (st) {
        pc_err_context("tablespace relocation rule \"%s\"", text);
        rst_ts_rule_free(out);
    }
    return st;
}

void rst_ts_rule_free(rst_ts_rule *r)
{
    free(r->name);
    free(r->location);
    memset(r, 0, sizeof *r);
}

/* b is a or lies below it. */
static bool path_within(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n == 1 && a[0] == '/')
        return true;
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* A restore target must be missing or an empty directory (a link to one is fine: a mount point). */
static pc_status check_empty(const char *dir, const char *what)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT)
            return PC_OK;
        return pc_err(PC_E_IO, "could not stat %s \"%s\": %m", what, dir);
    }
    if (!S_ISDIR(sb.st_mode)) {
        pc_err(PC_E_NOT_EMPTY, "%s \"%s\" exists and is not a directory", what, dir);
        pc_err_hint("Restore into a new or empty directory.");
        return PC_E_NOT_EMPTY;
    }
    bool empty;
    pc_status st = pc_dir_is_empty(dir, &empty);
    if (st == PC_OK && !empty) {
        pc_err(PC_E_NOT_EMPTY, "%s \"%s\" already exists and is not empty", what, dir);
        pc_err_hint("Restore into a new or empty directory; nothing was changed.");
        return PC_E_NOT_EMPTY;
    }
    return st;
}

static pc_status make_target(const char *dir)
{
    pc_status st = pc_mkdirs(dir, 0700);
    if (st == PC_OK && chmod(dir, 0700) != 0)
        st = pc_err(PC_E_IO, "could not set the mode of \"%s\": %m", dir);
    return st;
}

/*
 * --delta: a missing or empty destination is an ordinary restore; anything
 * else must be a data directory (PG_VERSION) whose server is stopped.
 */
static pc_status check_delta_dest(const char *dest, bool want, bool *delta)
{
    *delta = false;
    if (!want)
        return PC_OK;
    bool empty = true;
    pc_status st = pc_is_dir(dest) ? pc_dir_is_empty(dest, &empty) : PC_OK;
    if (st || empty) {
        if (st == PC_OK)
            pc_info("--delta: \"%s\" is %s: restoring everything", dest,
                    pc_path_exists(dest) ? "empty" : "missing");
        return st;
    }
    char *ver = pc_path_join(dest, "PG_VERSION");
    bool pg = ver && pc_path_exists(ver);
    free(ver);
    if (!pg) {
        pc_err(PC_E_NOT_EMPTY,
               "--delta: \"%s\" is not empty and is not a PostgreSQL data "
               "directory (it has no PG_VERSION)",
               dest);
        pc_err_hint("A delta restore only rewrites a data directory; give an empty or new "
                    "directory, or the data directory itself.");
        return PC_E_NOT_EMPTY;
    }
    if ((st = rst_check_not_running(dest)) != PC_OK)
        return st;
    *delta = true;
    return PC_OK;
}

/* ---- the plan ---- */

/* An older backup of a chain, holding files of the one restored. */
typedef struct holder {
    char id[16];
    size_t nfiles; /* files of the restored backup it holds */
    uint64_t bytes;
    cat_store_backup b;
    rst_archive *listed; /* its stored archives */
    size_t nlisted, alisted;
    rst_archive *mf; /* its manifest's archive lines */
    size_t nmf, amf;
} holder;

typedef struct plan {
    repo *r;
    const char *server;
    const cat_store_backup *b;
    char *dest;
    /* tablespaces of the backup, with where they go */
    size_t nts;
    char **ts_location;
    char **ts_oid_text;
    uint32_t *ts_oids;
    /* areas: 0 is PGDATA, i+1 tablespace i */
    rst_area *areas;
    const char **area_ts;
    /* objects of the backup folder */
    rst_archive *archives;
    size_t narchives, aarchives;
    bool has_manifest;
    /* the manifest */
    cat_mf_index *mf;
    rst_archive *mf_archives;
    size_t nmf_archives, amf_archives;
    char type[8];       /* of the backup restored, from its manifest */
    char parent_id[16]; /* "" for a full backup */
    /* the older backups of its chain */
    holder *holders;
    size_t nholders;
    uint64_t full_bytes; /* every archive a restore into an empty directory reads */
    char **area_link;    /* per area: the location pg_tblspc/<oid> points to (--delta) */
} plan;

static void archive_free(rst_archive *a)
{
    free(a->key);
    free(a->name);
    free(a->sha256);
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->nts; i++) {
        free(p->ts_location ? p->ts_location[i] : NULL);
        free(p->ts_oid_text ? p->ts_oid_text[i] : NULL);
    }
    free(p->ts_location);
    free(p->ts_oid_text);
    free(p->ts_oids);
    free(p->areas);
    free(p->area_ts);
    free(p->area_link);
    for (size_t i = 0; i < p->narchives; i++)
        archive_free(&p->archives[i]);
    free(p->archives);
    for (size_t i = 0; i < p->nmf_archives; i++)
        archive_free(&p->mf_archives[i]);
    free(p->mf_archives);
    for (size_t h = 0; h < p->nholders; h++) {
        holder *x = &p->holders[h];
        for (size_t i = 0; i < x->nlisted; i++)
            archive_free(&x->listed[i]);
        free(x->listed);
        for (size_t i = 0; i < x->nmf; i++)
            archive_free(&x->mf[i]);
        free(x->mf);
        cat_store_backup_free(&x->b);
    }
    free(p->holders);
    cat_mf_index_free(p->mf);
    free(p->dest);
}

static pc_status grow(rst_archive **v, size_t n, size_t *alloc)
{
    if (n < *alloc)
        return PC_OK;
    size_t na = *alloc ? *alloc * 2 : 8;
    rst_archive *nv = pc_realloc(*v, na * sizeof *nv);
    if (!nv)
        return PC_E_INTERNAL;
    *v = nv;
    *alloc = na;
    return PC_OK;
}

/* Appends a listed archive of backup `backup_id` (a tablespace's area, or SIZE_MAX). */
static pc_status push_listed(rst_archive **v, size_t *n, size_t *alloc, const repo_entry *e,
                             const char *name, cmp_codec codec, size_t area, const char *backup_id)
{
    pc_status st = grow(v, *n, alloc);
    if (st)
        return st;
    rst_archive *a = &(*v)[*n];
    memset(a, 0, sizeof *a);
    a->key = pc_strdup(e->key);
    a->name = pc_strdup(name);
    a->codec = codec;
    a->size = e->size;
    a->area = area;
    a->backup_id = backup_id;
    if (!a->key || !a->name) {
        archive_free(a);
        return PC_E_INTERNAL;
    }
    (*n)++;
    return PC_OK;
}

/* Appends the manifest's record of an archive; its tablespace is kept in key until it is
 * matched with the listing. */
static pc_status push_mf_archive(rst_archive **v, size_t *n, size_t *alloc, const cat_mf_archive *a)
{
    pc_status st = grow(v, *n, alloc);
    if (st)
        return st;
    rst_archive *x = &(*v)[*n];
    memset(x, 0, sizeof *x);
    x->name = pc_strdup(a->name);
    x->sha256 = pc_strdup(a->sha256 ? a->sha256 : "");
    x->size = a->size;
    x->raw_size = a->raw_size;
    x->key = a->tablespace ? pc_strdup(a->tablespace) : NULL;
    if (!x->name || !x->sha256 || (a->tablespace && !x->key)) {
        archive_free(x);
        return PC_E_INTERNAL;
    }
    (*n)++;
    return PC_OK;
}

/* The area an archive goes to: 0 for PGDATA, i+1 for tablespace i; false when unknown. */
static bool area_of(const plan *p, bool pgdata, uint32_t oid, size_t *area)
{
    if (pgdata) {
        *area = 0;
        return true;
    }
    for (size_t i = 0; i < p->nts; i++) {
        if (p->ts_oids[i] == oid) {
            *area = i + 1;
            return true;
        }
    }
    return false;
}

typedef struct listing {
    plan *p;
    size_t prefix_len;
} listing;

static pc_status on_object(const repo_entry *e, void *ud)
{
    listing *l = ud;
    plan *p = l->p;
    const char *name = e->key + l->prefix_len;
    if (e->is_prefix || strchr(name, '/'))
        return PC_OK; /* annotations/ and other folders */
    if (strcmp(name, CAT_MF_NAME) == 0) {
        p->has_manifest = true;
        return PC_OK;
    }
    if (strcmp(name, "backup.info") == 0 || strcmp(name, "backup_label") == 0)
        return PC_OK;
    bool pgdata;
    uint32_t oid;
    cmp_codec codec;
    size_t area;
    if (!rst_archive_name_parse(name, &pgdata, &oid, &codec)) {
        pc_warn("backup \"%s\": ignoring object \"%s\" (not an archive of this layout)", p->b->id,
                e->key);
        return PC_OK;
    }
    if (!area_of(p, pgdata, oid, &area)) {
        pc_warn("backup \"%s\": ignoring \"%s\": tablespace %u is not in backup.info", p->b->id,
                e->key, oid);
        return PC_OK;
    }
    return push_listed(&p->archives, &p->narchives, &p->aarchives, e, name, codec, area, p->b->id);
}

/* ---- the manifest ---- */

static pc_status mf_header(void *ud, const cat_mf_header *h)
{
    plan *p = ud;
    if (!h->backup_id || strcmp(h->backup_id, p->b->id) != 0)
        return pc_err(PC_E_CORRUPT, "backup \"%s\": its manifest belongs to backup \"%s\"",
                      p->b->id, h->backup_id ? h->backup_id : "?");
    snprintf(p->type, sizeof p->type, "%s", h->type);
    snprintf(p->parent_id, sizeof p->parent_id, "%s", h->parent_id ? h->parent_id : "");
    return PC_OK;
}

static pc_status mf_archive(void *ud, const cat_mf_archive *a)
{
    plan *p = ud;
    return push_mf_archive(&p->mf_archives, &p->nmf_archives, &p->amf_archives, a);
}

static pc_status mf_file(void *ud, const cat_mf_file *f)
{
    plan *p = ud;
    if (f->type == 'f' && strcmp(f->backup_id, p->b->id) != 0) {
        holder *h = NULL;
        for (size_t i = 0; i < p->nholders && !h; i++)
            if (strcmp(p->holders[i].id, f->backup_id) == 0)
                h = &p->holders[i];
        if (!h) {
            holder *nv = pc_realloc(p->holders, (p->nholders + 1) * sizeof *nv);
            if (!nv)
                return PC_E_INTERNAL;
            p->holders = nv;
            h = &p->holders[p->nholders++];
            memset(h, 0, sizeof *h);
            cat_binfo_init(&h->b.info);
            snprintf(h->id, sizeof h->id, "%s", f->backup_id);
        }
        h->nfiles++;
        h->bytes += f->size;
    }
    return cat_mf_index_add(p->mf, f);
}

static pc_status load_manifest(plan *p)
{
    static const cat_mf_handler h = {.header = mf_header, .archive = mf_archive, .file = mf_file};
    char *key = pc_layout_backup_key(p->server, p->b->id, CAT_MF_NAME);
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *s = NULL;
    pc_status st = cat_mf_index_new(&p->mf);
    st = st ? st : cat_mf_reader_new(&h, p, &s);
    st = st ? st : cmp_decompress_new(CMP_ZSTD, MANIFEST_MAX, s, &s);
    st = st ? st : repo_get(p->r, key, 0, 0, s, NULL);
    st = st ? st : pc_sink_finish(s);
    pc_sink_free(s);
    if (st && strstr(pc_err_get()->message, CAT_MF_NAME) == NULL)
        pc_err_context("reading \"%s\"", key);
    free(key);
    return st;
}

/* The manifest's archives must be exactly the stored ones; they bring their digests. */
static pc_status match_manifest(plan *p)
{
    for (size_t i = 0; i < p->narchives; i++) {
        rst_archive *a = &p->archives[i];
        rst_archive *m = NULL;
        for (size_t k = 0; k < p->nmf_archives && !m; k++)
            if (strcmp(p->mf_archives[k].name, a->name) == 0)
                m = &p->mf_archives[k];
        if (!m)
            return pc_err(PC_E_CORRUPT, "backup \"%s\": archive \"%s\" is not in its manifest",
                          p->b->id, a->name);
        const char *ts = a->area ? p->ts_oid_text[a->area - 1] : NULL;
        if ((ts == NULL) != (m->key == NULL) || (ts && strcmp(ts, m->key) != 0))
            return pc_err(PC_E_CORRUPT,
                          "backup \"%s\": the manifest puts archive \"%s\" in another tablespace",
                          p->b->id, a->name);
        if (m->size != a->size)
            return pc_err(PC_E_CORRUPT,
                          "backup \"%s\": archive \"%s\" has %llu bytes, the manifest says %llu",
                          p->b->id, a->name, (unsigned long long)a->size,
                          (unsigned long long)m->size);
        if (!(a->sha256 = pc_strdup(m->sha256)))
            return PC_E_INTERNAL;
        a->raw_size = m->raw_size;
    }
    for (size_t k = 0; k < p->nmf_archives; k++) {
        bool found = false;
        for (size_t i = 0; i < p->narchives && !found; i++)
            found = strcmp(p->mf_archives[k].name, p->archives[i].name) == 0;
        if (!found) {
            pc_err(PC_E_CORRUPT, "backup \"%s\": archive \"%s\" of the manifest is missing",
                   p->b->id, p->mf_archives[k].name);
            pc_err_hint("The backup is incomplete; restore another one.");
            return PC_E_CORRUPT;
        }
    }
    return PC_OK;
}

/* Every area needs its first archive, and no part may be stored twice (data.tar.gz and .zst). */
static pc_status check_archives(const plan *p)
{
    for (size_t i = 0; i < p->narchives; i++) {
        const char *ni = p->archives[i].name;
        size_t si;
        cmp_codec_from_name(ni, &si);
        for (size_t k = i + 1; k < p->narchives; k++) {
            const char *nk = p->archives[k].name;
            size_t sk;
            cmp_codec_from_name(nk, &sk);
            if (si == sk && memcmp(ni, nk, si) == 0)
                return pc_err(PC_E_CORRUPT, "backup \"%s\" stores \"%.*s\" twice: %s and %s",
                              p->b->id, (int)si, ni, ni, nk);
        }
    }
    for (size_t area = 0; area <= p->nts; area++) {
        bool found = false;
        for (size_t i = 0; i < p->narchives && !found; i++) {
            const rst_archive *a = &p->archives[i];
            size_t stem;
            cmp_codec_from_name(a->name, &stem);
            found = a->area == area && memchr(a->name, '_', stem) == NULL;
        }
        if (found)
            continue;
        if (area == 0)
            pc_err(PC_E_NOT_FOUND, "backup \"%s\" has no data.tar archive", p->b->id);
        else
            pc_err(PC_E_NOT_FOUND, "backup \"%s\" has no archive of tablespace \"%s\" (%s.tar)",
                   p->b->id, p->b->info.tablespaces[area - 1].name, p->ts_oid_text[area - 1]);
        pc_err_hint("The backup is incomplete; restore another one.");
        return PC_E_NOT_FOUND;
    }
    return PC_OK;
}

static pc_status list_objects(plan *p)
{
    char *prefix = pc_layout_backup_prefix(p->server, p->b->id);
    if (!prefix)
        return PC_E_INTERNAL;
    listing l = {.p = p, .prefix_len = strlen(prefix)};
    pc_status st = repo_list(p->r, prefix, NULL, on_object, &l);
    free(prefix);
    return st;
}

static pc_status plan_tablespaces(plan *p, rst_ts_rule *rules, size_t nrules)
{
    const cat_binfo *bi = &p->b->info;
    p->nts = bi->n_tablespaces;
    size_t n = p->nts ? p->nts : 1;
    p->ts_location = pc_calloc(n, sizeof *p->ts_location);
    p->ts_oid_text = pc_calloc(n, sizeof *p->ts_oid_text);
    p->ts_oids = pc_calloc(n, sizeof *p->ts_oids);
    p->areas = pc_calloc(n + 1, sizeof *p->areas);
    p->area_ts = pc_calloc(n + 1, sizeof *p->area_ts);
    p->area_link = pc_calloc(n + 1, sizeof *p->area_link);
    if (!p->ts_location || !p->ts_oid_text || !p->ts_oids || !p->areas || !p->area_ts ||
        !p->area_link)
        return PC_E_INTERNAL;
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < p->nts; i++) {
        const cat_tablespace *t = &bi->tablespaces[i];
        char oid[16];
        snprintf(oid, sizeof oid, "%u", t->oid);
        p->ts_oids[i] = t->oid;
        if (!(p->ts_oid_text[i] = pc_strdup(oid)))
            return PC_E_INTERNAL;
        const char *loc = t->location;
        for (size_t r = 0; r < nrules; r++) {
            if (strcmp(rules[r].name, t->name) == 0 || strcmp(rules[r].name, oid) == 0) {
                loc = rules[r].location;
                rules[r].used = true;
            }
        }
        if (!loc || loc[0] != '/') {
            pc_err(PC_E_CORRUPT, "backup \"%s\": tablespace \"%s\" has no absolute location",
                   p->b->id, t->name);
            pc_err_hint("Give --tablespace %s:LOCATION.", t->name);
            return PC_E_CORRUPT;
        }
        st = rst_abs_path(loc, &p->ts_location[i]);
    }
    for (size_t r = 0; st == PC_OK && r < nrules; r++) {
        if (!rules[r].used) {
            pc_err(PC_E_USAGE, "backup \"%s\" has no tablespace \"%s\"", p->b->id, rules[r].name);
            pc_err_hint("`pgcask backup-show %s` lists its tablespaces.", p->b->id);
            return PC_E_USAGE;
        }
    }
    /* no two targets inside each other: one archive would unpack into another's files */
    for (size_t i = 0; st == PC_OK && i < p->nts; i++) {
        const char *li = p->ts_location[i];
        if (path_within(li, p->dest) || path_within(p->dest, li)) {
            pc_err(PC_E_USAGE, "tablespace \"%s\" location \"%s\" overlaps the destination \"%s\"",
                   bi->tablespaces[i].name, li, p->dest);
            pc_err_hint("Give --tablespace %s:LOCATION outside the destination.",
                        bi->tablespaces[i].name);
            return PC_E_USAGE;
        }
        for (size_t k = i + 1; k < p->nts; k++) {
            if (path_within(li, p->ts_location[k]) || path_within(p->ts_location[k], li)) {
                pc_err(PC_E_USAGE,
                       "tablespaces \"%s\" and \"%s\" would be restored into "
                       "overlapping locations",
                       bi->tablespaces[i].name, bi->tablespaces[k].name);
                pc_err_hint("Relocate one of them with --tablespace NAME:LOCATION.");
                return PC_E_USAGE;
            }
        }
    }
    p->areas[0] =
        (rst_area){.root = p->dest, .pgdata = true, .ts_oids = p->ts_oids, .n_ts = p->nts};
    for (size_t i = 0; i < p->nts; i++) {
        p->areas[i + 1] = (rst_area){.root = p->ts_location[i], .pgdata = false};
        p->area_ts[i + 1] = p->ts_oid_text[i];
        p->area_link[i + 1] = p->ts_location[i];
    }
    return st;
}

/* ---- after the unpack ---- */

/*
 * PostgreSQL reads tablespace_map at the start of recovery and (re)creates
 * every pg_tblspc link from it, so it must name the new locations. Its
 * format (xlog.c): "<oid> <path>\n" with '\n', '\r' and '\\' in the path
 * escaped by a backslash.
 */
static pc_status rewrite_ts_map(const plan *p, const pc_buf *orig)
{
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_status st = PC_OK;
    const char *s = (const char *)orig->data, *end = s + orig->len;
    while (st == PC_OK && s < end) {
        const char *e = s;
        bool esc = false;
        while (e < end && (esc || (*e != '\n' && *e != '\r'))) {
            esc = !esc && *e == '\\';
            e++;
        }
        if (e > s) {
            uint64_t oid = 0;
            const char *d = s;
            while (d < e && *d >= '0' && *d <= '9' && oid <= UINT32_MAX)
                oid = oid * 10 + (uint64_t)(*d++ - '0');
            size_t area;
            if (d == s || d >= e || *d != ' ' || oid > UINT32_MAX ||
                !area_of(p, false, (uint32_t)oid, &area)) {
                st = pc_err(PC_E_CORRUPT,
                            "backup \"%s\": tablespace_map names a tablespace "
                            "that backup.info does not list: \"%.*s\"",
                            p->b->id, (int)(e - s > 200 ? 200 : e - s), s);
                break;
            }
            st = pc_buf_printf(&out, "%u ", (unsigned)oid);
            for (const char *c = p->ts_location[area - 1]; st == PC_OK && *c; c++) {
                if (*c == '\n' || *c == '\r' || *c == '\\')
                    st = pc_buf_append(&out, "\\", 1);
                st = st ? st : pc_buf_append(&out, c, 1);
            }
            st = st ? st : pc_buf_append(&out, "\n", 1);
        }
        s = e < end ? e + 1 : end;
    }
    if (st == PC_OK) {
        char *path = pc_path_join(p->dest, "tablespace_map");
        st = path ? pc_write_file_atomic(path, out.data, out.len, 0600) : PC_E_INTERNAL;
        free(path);
    }
    pc_buf_free(&out);
    return st;
}

/* --delta left pg_tblspc/<oid> in place when it already points at loc. */
static bool link_is(const char *dir, const char *rel, const char *loc)
{
    char *path = pc_path_join(dir, rel);
    char target[PATH_MAX];
    ssize_t n = path ? readlink(path, target, sizeof target - 1) : -1;
    free(path);
    if (n <= 0)
        return false;
    target[n] = '\0';
    return strcmp(target, loc) == 0;
}

static pc_status finish_pgdata(const plan *p, const rst_unpack_result *u, bool delta)
{
    const cat_binfo *bi = &p->b->info;
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < p->nts; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "pg_tblspc/%u", p->ts_oids[i]);
        if (delta && link_is(p->dest, rel, p->ts_location[i]))
            continue;
        st = rst_symlink_at(p->dest, rel, p->ts_location[i]);
    }
    if (st == PC_OK && u->has_ts_map)
        st = rewrite_ts_map(p, &u->ts_map);
    /* barman leaves pg_wal out of the backup (and out of the tar if it was a link) */
    const char *wal = bi->version != CAT_BINFO_NONE && bi->version < 100000 ? "pg_xlog" : "pg_wal";
    char *walp = pc_path_join(p->dest, wal);
    if (!walp)
        return PC_E_INTERNAL;
    if (st == PC_OK && mkdir(walp, 0700) != 0 && errno != EEXIST)
        st = pc_err(PC_E_IO, "could not create directory \"%s\": %m", walp);
    free(walp);
    char *label = pc_path_join(p->dest, "backup_label");
    if (!label)
        return PC_E_INTERNAL;
    if (st == PC_OK && !pc_path_exists(label)) {
        /* without it PostgreSQL would start from pg_control's checkpoint: a corrupt cluster */
        if (bi->backup_label && *bi->backup_label) {
            pc_info("backup \"%s\": writing backup_label from backup.info", p->b->id);
            st = pc_write_file_atomic(label, bi->backup_label, strlen(bi->backup_label), 0600);
        } else {
            st = pc_err(PC_E_CORRUPT, "backup \"%s\" has no backup_label", p->b->id);
            pc_err_hint("Without it PostgreSQL cannot recover the backup consistently; restore "
                        "another backup.");
        }
    }
    free(label);
    return st;
}

/* pg_tblspc/<oid> of one of the backup's tablespaces: restore makes that link itself. */
static bool is_ts_link(const plan *p, const cat_mf_file *f)
{
    if (f->tablespace || f->type != 'l')
        return false;
    for (size_t i = 0; i < p->nts; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "pg_tblspc/%u", p->ts_oids[i]);
        if (strcmp(f->path, rel) == 0)
            return true;
    }
    return false;
}

static pc_status check_complete(const plan *p)
{
    size_t n = cat_mf_index_count(p->mf), missing = 0;
    const cat_mf_file *first = NULL;
    for (size_t i = 0; i < n; i++) {
        const cat_mf_file *f = cat_mf_index_at(p->mf, i);
        /* BASE_BACKUP leaves the tablespace links out when it sends a tablespace_map */
        if (!cat_mf_index_marked(p->mf, f) && !is_ts_link(p, f)) {
            if (!first)
                first = f;
            missing++;
        }
    }
    if (!missing)
        return PC_OK;
    pc_err(PC_E_CORRUPT,
           "backup \"%s\": %zu member%s of the manifest %s missing from its "
           "archives, first \"%s\"%s%s",
           p->b->id, missing, missing == 1 ? "" : "s", missing == 1 ? "is" : "are", first->path,
           first->tablespace ? " of tablespace " : "", first->tablespace ? first->tablespace : "");
    pc_err_hint("The backup is damaged; restore another one.");
    return PC_E_CORRUPT;
}

/* ---- the chain of a differential or incremental backup ---- */

typedef struct holder_listing {
    plan *p;
    holder *h;
    size_t prefix_len;
} holder_listing;

static pc_status on_holder_object(const repo_entry *e, void *ud)
{
    holder_listing *l = ud;
    holder *h = l->h;
    const char *name = e->key + l->prefix_len;
    bool pgdata;
    uint32_t oid;
    cmp_codec codec;
    if (e->is_prefix || strchr(name, '/') || !rst_archive_name_parse(name, &pgdata, &oid, &codec))
        return PC_OK;
    size_t area = SIZE_MAX;
    if (!area_of(l->p, pgdata, oid, &area))
        area = SIZE_MAX; /* a tablespace dropped since: fine unless a needed file is in it */
    pc_status st = push_listed(&h->listed, &h->nlisted, &h->alisted, e, name, codec, area, h->id);
    if (st == PC_OK)
        h->listed[h->nlisted - 1].filtered = true;
    return st;
}

static pc_status holder_mf_header(void *ud, const cat_mf_header *hd)
{
    holder *h = ud;
    if (strcmp(hd->backup_id, h->id) != 0)
        return pc_err(PC_E_CORRUPT, "backup \"%s\": its manifest belongs to backup \"%s\"", h->id,
                      hd->backup_id);
    return PC_OK;
}

static pc_status holder_mf_archive(void *ud, const cat_mf_archive *a)
{
    holder *h = ud;
    return push_mf_archive(&h->mf, &h->nmf, &h->amf, a);
}

static pc_status load_holder(plan *p, holder *h)
{
    pc_status st = cat_store_backup_load(p->r, p->server, h->id, &h->b);
    if (st == PC_E_NOT_FOUND) {
        pc_err(PC_E_NOT_FOUND,
               "backup \"%s\" (%s) needs backup \"%s\", which holds %zu of its files, and that "
               "backup is not in the repository",
               p->b->id, p->type, h->id, h->nfiles);
        pc_err_hint("The chain of backup %s is broken (a backup it builds on was deleted): "
                    "restore another backup whose chain is complete, or a full backup.",
                    p->b->id);
        return PC_E_NOT_FOUND;
    }
    if (st)
        return st;
    if (h->b.info.status != CAT_BINFO_DONE) {
        pc_err(PC_E_NOT_FOUND,
               "backup \"%s\" (%s) needs backup \"%s\", which holds %zu of its files, and that "
               "backup has status %s",
               p->b->id, p->type, h->id, h->nfiles, cat_binfo_status_name(h->b.info.status));
        pc_err_hint("Restore another backup whose chain is complete, or a full backup.");
        return PC_E_NOT_FOUND;
    }
    char *prefix = pc_layout_backup_prefix(p->server, h->id);
    if (!prefix)
        return PC_E_INTERNAL;
    holder_listing l = {.p = p, .h = h, .prefix_len = strlen(prefix)};
    st = repo_list(p->r, prefix, NULL, on_holder_object, &l);
    free(prefix);
    if (st)
        return st;
    static const cat_mf_handler mh = {.header = holder_mf_header, .archive = holder_mf_archive};
    char *key = pc_layout_backup_key(p->server, h->id, CAT_MF_NAME);
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *s = NULL;
    st = cat_mf_reader_new(&mh, h, &s);
    st = st ? st : cmp_decompress_new(CMP_ZSTD, MANIFEST_MAX, s, &s);
    st = st ? st : repo_get(p->r, key, 0, 0, s, NULL);
    st = st ? st : pc_sink_finish(s);
    pc_sink_free(s);
    if (st)
        pc_err_context("backup \"%s\" of the chain of \"%s\": reading \"%s\"", h->id, p->b->id,
                       key);
    free(key);
    return st;
}

/* Add archive `name` of holder h to the plan (once): it holds files of the backup restored. */
static pc_status need_archive(plan *p, holder *h, const char *name, const char *tablespace,
                              const char *path)
{
    for (size_t i = 0; i < p->narchives; i++)
        if (p->archives[i].backup_id == h->id && strcmp(p->archives[i].name, name) == 0)
            return PC_OK;
    rst_archive *got = NULL, *mf = NULL;
    for (size_t i = 0; i < h->nlisted && !got; i++)
        if (strcmp(h->listed[i].name, name) == 0)
            got = &h->listed[i];
    for (size_t i = 0; i < h->nmf && !mf; i++)
        if (strcmp(h->mf[i].name, name) == 0)
            mf = &h->mf[i];
    if (!got || !mf) {
        pc_err(PC_E_CORRUPT,
               "backup \"%s\" takes \"%s\" from archive \"%s\" of backup \"%s\", which %s",
               p->b->id, path, name, h->id, got ? "its manifest does not list" : "is missing");
        pc_err_hint("The chain of backup %s is damaged; restore another backup.", p->b->id);
        return PC_E_CORRUPT;
    }
    const char *ts = got->area == SIZE_MAX ? "?" : got->area ? p->ts_oid_text[got->area - 1] : NULL;
    if (got->area == SIZE_MAX || (ts == NULL) != (tablespace == NULL) ||
        (ts && strcmp(ts, tablespace) != 0) || (mf->key == NULL) != (tablespace == NULL) ||
        (mf->key && strcmp(mf->key, tablespace) != 0))
        return pc_err(PC_E_CORRUPT,
                      "backup \"%s\": archive \"%s\" of backup \"%s\" is not in the tablespace "
                      "of \"%s\"",
                      p->b->id, name, h->id, path);
    if (got->size != mf->size)
        return pc_err(PC_E_CORRUPT,
                      "backup \"%s\": archive \"%s\" has %llu bytes, its manifest says %llu", h->id,
                      name, (unsigned long long)got->size, (unsigned long long)mf->size);
    pc_status st = grow(&p->archives, p->narchives, &p->aarchives);
    if (st)
        return st;
    rst_archive *a = &p->archives[p->narchives];
    *a = *got;
    a->key = pc_strdup(got->key);
    a->name = pc_strdup(got->name);
    a->sha256 = pc_strdup(mf->sha256);
    a->raw_size = mf->raw_size;
    if (!a->key || !a->name || !a->sha256) {
        archive_free(a);
        return PC_E_INTERNAL;
    }
    p->narchives++;
    return PC_OK;
}

/* The older backups of the chain, and the archives of theirs that hold needed files. */
static pc_status plan_chain(plan *p)
{
    if (p->nholders == 0)
        return PC_OK;
    if (strcmp(p->type, "full") == 0)
        return pc_err(PC_E_CORRUPT,
                      "backup \"%s\" is full but its manifest takes files from "
                      "backup \"%s\"",
                      p->b->id, p->holders[0].id);
    pc_status st = PC_OK;
    for (size_t i = 0; st == PC_OK && i < p->nholders; i++) {
        st = load_holder(p, &p->holders[i]);
        if (st == PC_OK)
            pc_info("backup \"%s\" takes %zu files (%.1f MiB) from backup \"%s\"", p->b->id,
                    p->holders[i].nfiles, (double)p->holders[i].bytes / 1048576.0,
                    p->holders[i].id);
    }
    for (size_t i = 0; st == PC_OK && i < cat_mf_index_count(p->mf); i++) {
        const cat_mf_file *f = cat_mf_index_at(p->mf, i);
        if (f->type != 'f' || strcmp(f->backup_id, p->b->id) == 0)
            continue;
        holder *h = NULL;
        for (size_t k = 0; k < p->nholders && !h; k++)
            if (strcmp(p->holders[k].id, f->backup_id) == 0)
                h = &p->holders[k];
        st = h ? need_archive(p, h, f->archive, f->tablespace, f->path) : PC_E_INTERNAL;
    }
    return st;
}

/* --delta: only the archives holding files still missing are read. */
static void drop_unneeded(plan *p)
{
    bool *need = pc_calloc(p->narchives ? p->narchives : 1, sizeof *need);
    if (!need)
        return; /* read them all: slower, not wrong */
    for (size_t i = 0; i < cat_mf_index_count(p->mf); i++) {
        const cat_mf_file *f = cat_mf_index_at(p->mf, i);
        if (f->type != 'f' || cat_mf_index_marked(p->mf, f))
            continue;
        for (size_t k = 0; k < p->narchives; k++)
            if (!need[k] && strcmp(p->archives[k].backup_id, f->backup_id) == 0 &&
                strcmp(p->archives[k].name, f->archive) == 0)
                need[k] = true;
    }
    size_t o = 0;
    for (size_t k = 0; k < p->narchives; k++) {
        if (need[k]) {
            p->archives[k].filtered = true;
            p->archives[o++] = p->archives[k];
        } else {
            archive_free(&p->archives[k]);
        }
    }
    p->narchives = o;
    free(need);
}

/* ---- choosing the backup ---- */

static pc_status parse_sel(const rst_target *t, cat_sel *sel)
{
    memset(sel, 0, sizeof *sel);
    pc_status st = PC_OK;
    /* check_opts made sure there is one target at most, well-formed */
    if (t->time) {
        if ((st = pc_time_parse(t->time, &sel->time_us)) != PC_OK) {
            pc_err_context("--target-time");
            return st;
        }
        sel->has_time = true;
    }
    if (t->lsn) {
        if ((st = pc_lsn_parse(t->lsn, &sel->lsn)) != PC_OK) {
            pc_err_context("--target-lsn");
            return st;
        }
        sel->has_lsn = true;
    }
    if (!t->tli)
        return PC_OK;
    if (strcmp(t->tli, "current") == 0) {
        pc_err(PC_E_USAGE, "--target-tli current cannot choose a backup");
        pc_err_hint("Give a timeline number or latest with auto, or a backup id.");
        return PC_E_USAGE;
    }
    if (strcmp(t->tli, "latest") == 0)
        return PC_OK; /* resolved from the WAL archive by the caller */
    int64_t v;
    if ((st = pc_parse_int(t->tli, 1, UINT32_MAX, &v)) != PC_OK) {
        pc_err_context("--target-tli");
        return st;
    }
    sel->has_tli = true;
    sel->tli = (uint32_t)v;
    return PC_OK;
}

static pc_status max_tli_cb(const repo_wal_obj *o, void *ud)
{
    uint32_t *max = ud;
    if (o->wal.tli > *max)
        *max = o->wal.tli;
    return PC_OK;
}

/* barman's "latest" timeline: the highest one in the WAL archive. */
static pc_status latest_tli(repo *r, const char *server, cat_sel *sel)
{
    uint32_t max = 0;
    pc_status st = repo_wal_list(r, server, max_tli_cb, &max, NULL);
    if (st)
        return st;
    if (max == 0) {
        pc_err(PC_E_NOT_FOUND, "--target-tli latest: the WAL archive of server \"%s\" is empty",
               server);
        return PC_E_NOT_FOUND;
    }
    sel->has_tli = true;
    sel->tli = max;
    return PC_OK;
}

static pc_status choose(repo *r, const char *server, const rst_opts *o, cat_store *cat,
                        cat_store_backup *single, const cat_store_backup **out)
{
    pc_status st;
    if (!cat_ref_is_keyword(o->backup) && pc_layout_is_backup_id(o->backup)) {
        st = cat_store_backup_load(r, server, o->backup, single);
        *out = st == PC_OK ? single : NULL;
        return st;
    }
    cat_sel sel;
    bool is_auto = strcmp(o->backup, "auto") == 0;
    if (is_auto) {
        if ((st = parse_sel(&o->target, &sel)) != PC_OK)
            return st;
        if (o->target.tli && strcmp(o->target.tli, "latest") == 0 &&
            (st = latest_tli(r, server, &sel)) != PC_OK)
            return st;
    } else {
        memset(&sel, 0, sizeof sel);
    }
    if ((st = cat_store_load(r, server, o->jobs, cat)) != PC_OK)
        return st;
    return cat_store_select(cat, server, o->backup, &sel, out);
}

/* ---- the command ---- */

static pc_status self_exe(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0 || (size_t)n >= len - 1)
        return pc_err(PC_E_IO, "could not find the path of the running pgcask: %m");
    out[n] = '\0';
    return PC_OK;
}

static pc_status check_opts(const rst_opts *o)
{
    if (!o->backup || !*o->backup)
        return pc_err(PC_E_USAGE, "no backup given");
    if (!o->dest || !*o->dest)
        return pc_err(PC_E_USAGE, "no destination directory given");
    if (o->jobs < 1 || o->jobs > 256)
        return pc_err(PC_E_USAGE, "--jobs must be between 1 and 256");
    const rst_target *t = &o->target;
    bool only_recovery = t->xid || t->name || t->immediate || t->action || t->exclusive;
    if (!o->recovery_config && (only_recovery || o->standby)) {
        pc_err(PC_E_USAGE, "--target-xid, --target-name, --target-immediate, --target-action, "
                           "--target-exclusive and --standby only apply with --recovery-config");
        pc_err_hint("Add --recovery-config, or set the recovery parameters yourself.");
        return PC_E_USAGE;
    }
    /* the rendering validates the target even when it is only used to choose a backup */
    pc_buf scratch;
    pc_buf_init(&scratch, PC_BUF_NOCAP);
    pc_status st = rst_recovery_render(t, NULL, &scratch);
    pc_buf_free(&scratch);
    return st;
}

pc_status rst_restore(const pc_cfg *cfg, const rst_opts *o, rst_result *result)
{
    int64_t t0 = pc_now_mono_us();
    rst_result res;
    memset(&res, 0, sizeof res);
    pc_status st = check_opts(o);
    if (st)
        return st;
    const char *server = pc_cfg_str(cfg, "server");
    if (!server) {
        pc_err(PC_E_USAGE, "restore: no server given");
        pc_err_hint("Give --server, set PGCASK_SERVER, or put `server = ...` in the "
                    "configuration file.");
        return PC_E_USAGE;
    }
    if ((st = pc_layout_check_server(server)) != PC_OK)
        return st;

    plan p = {.server = server};
    rst_ts_rule *rules = pc_calloc(o->ntablespaces ? o->ntablespaces : 1, sizeof *rules);
    cat_store cat = {0};
    cat_store_backup single = {0};
    rst_unpack_result ur = {0};
    bool touched = false;
    cat_binfo_init(&single.info);
    pc_buf_init(&ur.ts_map, 1);
    if (!rules)
        return PC_E_INTERNAL;
    for (size_t i = 0; st == PC_OK && i < o->ntablespaces; i++) {
        st = rst_ts_rule_parse(o->tablespaces[i], &rules[i]);
        for (size_t k = 0; st == PC_OK && k < i; k++) {
            if (strcmp(rules[k].name, rules[i].name) == 0)
                st = pc_err(PC_E_USAGE, "tablespace \"%s\" relocated twice", rules[i].name);
        }
    }
    st = st ? st : rst_abs_path(o->dest, &p.dest);
    /* barman checks the destination before anything else, so do we */
    bool delta = false;
    st = st ? st : check_delta_dest(p.dest, o->delta, &delta);
    st = st ? st : (delta ? PC_OK : check_empty(p.dest, "destination"));
    st = st ? st : repo_open_cfg(cfg, &p.r);
    st = st ? st : choose(p.r, server, o, &cat, &single, &p.b);
    if (st == PC_OK && p.b->info.status != CAT_BINFO_DONE) {
        pc_err(PC_E_NOT_FOUND,
               "backup \"%s\" of server \"%s\" has status %s: only DONE backups "
               "can be restored",
               p.b->id, server, cat_binfo_status_name(p.b->info.status));
        pc_err_hint("`pgcask backup-list` shows the backups that are DONE.");
        st = PC_E_NOT_FOUND;
    }
    if (st == PC_OK) {
        const cat_binfo *bi = &p.b->info;
        char end[64] = "?";
        if (bi->end_time != CAT_BINFO_NONE)
            pc_time_iso8601(bi->end_time, false, end, sizeof end);
        pc_info("restoring backup \"%s\" of server \"%s\" (ended %s, LSN %s, timeline %lld) into "
                "%s",
                p.b->id, server, end, bi->end_xlog ? bi->end_xlog : "?",
                (long long)(bi->timeline == CAT_BINFO_NONE ? 0 : bi->timeline), p.dest);
        if (o->target.time && bi->end_time != CAT_BINFO_NONE) {
            int64_t tt;
            if (pc_time_parse(o->target.time, &tt) == PC_OK && tt < bi->end_time)
                pc_warn("the target time is before the end of backup \"%s\" (%s): PostgreSQL "
                        "will refuse to stop there",
                        p.b->id, end);
        }
        snprintf(res.backup_id, sizeof res.backup_id, "%s", p.b->id);
    }
    st = st ? st : plan_tablespaces(&p, rules, o->ntablespaces);
    for (size_t i = 0; st == PC_OK && !delta && i < p.nts; i++) {
        char what[300];
        snprintf(what, sizeof what, "location of tablespace \"%s\"", p.b->info.tablespaces[i].name);
        st = check_empty(p.ts_location[i], what);
    }
    st = st ? st : list_objects(&p);
    st = st ? st : check_archives(&p);
    if (st == PC_OK && p.has_manifest) {
        st = load_manifest(&p);
        st = st ? st : match_manifest(&p);
        st = st ? st : plan_chain(&p);
    } else if (st == PC_OK && delta) {
        pc_err(PC_E_USAGE,
               "backup \"%s\" has no %s (written by barman-cloud): --delta needs one "
               "to compare the files",
               p.b->id, CAT_MF_NAME);
        pc_err_hint("Restore it into an empty directory, without --delta.");
        st = PC_E_USAGE;
    } else if (st == PC_OK) {
        pc_info("backup \"%s\" has no %s (written by barman-cloud): files are restored without "
                "verification",
                p.b->id, CAT_MF_NAME);
    }
    for (size_t i = 0; st == PC_OK && i < p.narchives; i++)
        p.full_bytes += p.archives[i].size;
    res.full_bytes = p.full_bytes;
    res.chain = 1 + p.nholders;
    res.delta = delta;
    snprintf(res.type, sizeof res.type, "%s", p.type);
    /* from here on the destinations change: a failure leaves a partial restore */
    if (st == PC_OK) {
        touched = true;
        st = make_target(p.dest);
        for (size_t i = 0; st == PC_OK && i < p.nts; i++)
            st = make_target(p.ts_location[i]);
    }
    rst_delta_opts dop = {
        .areas = p.areas,
        .nareas = p.nts + 1,
        .area_ts = p.area_ts,
        .ts_link = (const char *const *)p.area_link,
        .manifest = p.mf,
        .jobs = o->jobs,
    };
    if (st == PC_OK && delta) {
        rst_delta_result dr;
        st = rst_delta_clean(&dop, &dr);
        st = st ? st : rst_delta_dirs(&dop);
        if (st == PC_OK) {
            drop_unneeded(&p);
            res.kept_files = dr.kept_files;
            res.kept_bytes = dr.kept_bytes;
            res.removed = dr.removed;
            pc_info("delta: %llu files (%.1f MiB) are as in the backup and stay, %llu entries "
                    "removed; reading %zu of the archives",
                    (unsigned long long)dr.kept_files, (double)dr.kept_bytes / 1048576.0,
                    (unsigned long long)dr.removed, p.narchives);
        }
    }
    if (st == PC_OK) {
        rst_unpack_opts uo = {
            .repo = p.r,
            .areas = p.areas,
            .nareas = p.nts + 1,
            .archives = p.archives,
            .narchives = p.narchives,
            .jobs = o->jobs,
            .manifest = p.has_manifest ? p.mf : NULL,
            .area_ts = p.area_ts,
            .verify_sha256 = o->verify_sha256,
        };
        st = rst_unpack(&uo, &ur);
        res.archives = p.narchives;
        res.files = ur.files;
        res.restored_bytes = ur.restored_bytes;
        res.stored_bytes = ur.stored_bytes;
    }
    if (st == PC_OK && delta)
        st = rst_delta_links(&dop);
    if (st == PC_OK && p.has_manifest)
        st = check_complete(&p);
    st = st ? st : finish_pgdata(&p, &ur, delta);
    if (st == PC_OK && o->recovery_config) {
        pc_buf cmd, lines;
        pc_buf_init(&cmd, PC_BUF_NOCAP);
        pc_buf_init(&lines, PC_BUF_NOCAP);
        char exe[PATH_MAX];
        st = self_exe(exe, sizeof exe);
        st = st ? st : rst_restore_command(exe, cfg, &cmd);
        st = st ? st : rst_recovery_render(&o->target, pc_buf_cstr(&cmd), &lines);
        st = st ? st : rst_recovery_write(p.dest, pc_buf_cstr(&lines), o->standby);
        pc_buf_free(&cmd);
        pc_buf_free(&lines);
    }
    if (st == PC_OK) {
        /* the parents too: the new directories' own entries live there */
        size_t n = 0;
        const char **dirs = pc_calloc(2 * (p.nts + 1), sizeof *dirs);
        char **parents = pc_calloc(p.nts + 1, sizeof *parents);
        if (!dirs || !parents)
            st = PC_E_INTERNAL;
        for (size_t i = 0; st == PC_OK && i <= p.nts; i++) {
            const char *d = i == 0 ? p.dest : p.ts_location[i - 1];
            if (!(parents[i] = pc_dirname(d))) {
                st = PC_E_INTERNAL;
                break;
            }
            dirs[n++] = d;
            dirs[n++] = parents[i];
        }
        st = st ? st : rst_sync_dirs(dirs, n);
        for (size_t i = 0; parents && i <= p.nts; i++)
            free(parents[i]);
        free(parents);
        free(dirs);
    }
    res.verified = st == PC_OK && p.has_manifest;
    res.seconds = (double)(pc_now_mono_us() - t0) / 1e6;
    if (st == PC_OK) {
        pc_info("restored backup \"%s\": %llu files, %.1f MiB from %llu archives (%.1f MiB) in "
                "%.1f s%s",
                res.backup_id, (unsigned long long)res.files,
                (double)res.restored_bytes / 1048576.0, (unsigned long long)res.archives,
                (double)res.stored_bytes / 1048576.0, res.seconds,
                res.verified ? ", every file verified" : "");
        if (delta)
            pc_info("delta restore downloaded %.1f MiB; a restore into an empty directory "
                    "downloads %.1f MiB",
                    (double)res.stored_bytes / 1048576.0, (double)res.full_bytes / 1048576.0);
    } else if (touched && delta) {
        pc_err_detail("The delta restore is incomplete: \"%s\"%s holds a partial copy (without "
                      "global/pg_control, so PostgreSQL will not start it). Run the --delta "
                      "restore again.",
                      p.dest, p.nts ? " (and the tablespace locations)" : "");
    } else if (touched) {
        pc_err_detail("The restore is incomplete: \"%s\"%s holds a partial copy. Remove it "
                      "before restoring again.",
                      p.dest, p.nts ? " (and the tablespace locations)" : "");
    }
    pc_buf_free(&ur.ts_map);
    for (size_t i = 0; i < o->ntablespaces; i++)
        rst_ts_rule_free(&rules[i]);
    free(rules);
    cat_store_free(&cat);
    cat_store_backup_free(&single);
    repo_free(p.r);
    plan_free(&p);
    if (result)
        *result = res;
    return st;
}
