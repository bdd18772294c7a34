/*
 * Archive parts and the stream receiver of `pgcask backup`
 * (archiver/backup_int.h).
 */
#include "archiver/backup_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/tar.h"

/* The server's backup_manifest is held in memory to be added to the data archive. */
#define MANIFEST_CAP ((size_t)1 << 30)
/* backup_label is a few hundred bytes; more is not a label. */
#define LABEL_CAP (64 * 1024)

/* ==== archive parts ==== */

struct bk_archive {
    repo *r;
    char *prefix, *base, *tablespace;
    cmp_codec codec;
    int level, threads;
    uint64_t max_part;
    unsigned index;  /* of the open part */
    char *part_name; /* of the open part */
    pc_tarw *w;      /* the open part, NULL once finished */
    pc_sink *hash;   /* borrowed stages of the open part */
    pc_sink *counter;
    bk_part *parts;
    size_t nparts, cap;
    uint64_t members; /* in the open part */
    bool cut;         /* the next member starts a new part */
};

char *bk_part_name(const char *base, unsigned index, const char *ext)
{
    if (index == 0)
        return pc_asprintf("%s.tar%s", base, ext);
    return pc_asprintf("%s_%04u.tar%s", base, index, ext);
}

static pc_status part_open(bk_archive *a)
{
    free(a->part_name);
    a->part_name = bk_part_name(a->base, a->index, cmp_codec_ext(a->codec));
    char *key = a->part_name ? pc_asprintf("%s%s", a->prefix, a->part_name) : NULL;
    if (!key)
        return PC_E_INTERNAL;
    pc_sink *put, *head;
    pc_status st = repo_put_stream(a->r, key, NULL, &put);
    free(key);
    if (st)
        return st;
    if ((st = pc_sink_count_new(put, &a->counter)) != PC_OK)
        return st;
    if ((st = pc_sink_hash_new(PC_HASH_SHA256, a->counter, &a->hash)) != PC_OK)
        return st;
    head = a->hash;
    if (a->codec != CMP_NONE &&
        (st = cmp_compress_new(a->codec, a->level, a->threads, head, &head)) != PC_OK)
        return st;
    return pc_tarw_new(head, &a->w);
}

/* Complete the open part and record it. */
static pc_status part_close(bk_archive *a)
{
    if (a->nparts == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        bk_part *p = pc_realloc(a->parts, cap * sizeof *p);
        if (!p)
            return PC_E_INTERNAL;
        a->parts = p;
        a->cap = cap;
    }
    pc_status st = pc_tarw_finish(a->w);
    if (st) {
        pc_err_context("storing \"%s%s\"", a->prefix, a->part_name);
        return st;
    }
    bk_part *p = &a->parts[a->nparts];
    memset(p, 0, sizeof *p);
    unsigned char d[PC_SHA256_LEN];
    pc_sink_hash_result(a->hash, d, sizeof d);
    pc_hex(d, sizeof d, p->sha256);
    p->size = pc_sink_count_bytes(a->counter);
    p->raw_size = pc_tarw_bytes(a->w); /* the end-of-archive blocks included */
    p->name = a->part_name;
    a->part_name = NULL;
    if (a->tablespace && !(p->tablespace = pc_strdup(a->tablespace))) {
        free(p->name);
        return PC_E_INTERNAL;
    }
    a->nparts++;
    pc_tarw_free(a->w);
    a->w = NULL;
    a->hash = a->counter = NULL;
    pc_debug("stored %s%s: %" PRIu64 " bytes (%" PRIu64 " raw)", a->prefix, p->name, p->size,
             p->raw_size);
    return PC_OK;
}

/* Before a member: a part whose stored bytes exceed max_part is completed first. */
static pc_status member_start(bk_archive *a, uint32_t uid, uint32_t gid, const char **part_name)
{
    if (!a->w)
        return pc_err(PC_E_INTERNAL, "archive %s used after finish", a->base);
    if (pc_sink_count_bytes(a->counter) > a->max_part || (a->cut && a->members > 0)) {
        pc_status st = part_close(a);
        if (st)
            return st;
        a->index++;
        a->members = 0;
        if ((st = part_open(a)) != PC_OK)
            return st;
    }
    a->cut = false;
    a->members++;
    pc_tarw_set_owner(a->w, uid, gid);
    if (part_name)
        *part_name = a->part_name;
    return PC_OK;
}

pc_status bk_archive_new(const bk_archive_opts *o, bk_archive **out)
{
    bk_archive *a = pc_calloc(1, sizeof *a);
    if (!a)
        return PC_E_INTERNAL;
    a->r = o->r;
    a->codec = o->codec;
    a->level = o->level;
    a->threads = o->threads;
    a->max_part = o->max_part;
    a->prefix = pc_strdup(o->prefix);
    a->base = pc_strdup(o->base);
    a->tablespace = o->tablespace ? pc_strdup(o->tablespace) : NULL;
    pc_status st = PC_OK;
    if (!a->prefix || !a->base || (o->tablespace && !a->tablespace))
        st = PC_E_INTERNAL;
    if (st == PC_OK)
        st = part_open(a);
    if (st) {
        bk_archive_free(a);
        return st;
    }
    *out = a;
    return PC_OK;
}

pc_status bk_archive_file_begin(bk_archive *a, const char *name, uint64_t size, uint32_t mode,
                                int64_t mtime, uint32_t uid, uint32_t gid, const char **part_name)
{
    pc_status st = member_start(a, uid, gid, part_name);
    return st ? st : pc_tarw_file_begin(a->w, name, size, mode, mtime);
}

pc_status bk_archive_file_write(bk_archive *a, const void *data, size_t len)
{
    return pc_tarw_file_write(a->w, data, len);
}

pc_status bk_archive_file_end(bk_archive *a)
{
    return pc_tarw_file_end(a->w);
}

pc_status bk_archive_dir(bk_archive *a, const char *name, uint32_t mode, int64_t mtime,
                         uint32_t uid, uint32_t gid)
{
    pc_status st = member_start(a, uid, gid, NULL);
    return st ? st : pc_tarw_add_dir(a->w, name, mode, mtime);
}

pc_status bk_archive_symlink(bk_archive *a, const char *name, const char *target, int64_t mtime,
                             uint32_t uid, uint32_t gid, const char **part_name)
{
    pc_status st = member_start(a, uid, gid, part_name);
    return st ? st : pc_tarw_add_symlink(a->w, name, target, mtime);
}

void bk_archive_cut(bk_archive *a)
{
    a->cut = true;
}

pc_status bk_archive_finish(bk_archive *a)
{
    if (!a->w)
        return pc_err(PC_E_INTERNAL, "archive %s finished twice", a->base);
    return part_close(a);
}

size_t bk_archive_nparts(const bk_archive *a)
{
    return a->nparts;
}

const bk_part *bk_archive_part(const bk_archive *a, size_t i)
{
    return i < a->nparts ? &a->parts[i] : NULL;
}

void bk_archive_free(bk_archive *a)
{
    if (!a)
        return;
    pc_tarw_free(a->w);
    for (size_t i = 0; i < a->nparts; i++) {
        free(a->parts[i].name);
        free(a->parts[i].tablespace);
    }
    free(a->parts);
    free(a->part_name);
    free(a->prefix);
    free(a->base);
    free(a->tablespace);
    free(a);
}

/* ==== the stream receiver ==== */

typedef struct rv_archive {
    bool is_base;
    uint32_t oid;
    char oid_text[12];
    char *location;
    bool seen;       /* its 'n' message came */
    bk_archive *out; /* open while receiving, and the data archive until the end */
} rv_archive;

struct bk_recv {
    bk_recv_opts o;
    char *prefix, *backup_id;
    rv_archive *arch;
    size_t narch;
    rv_archive *cur; /* the archive being received */
    pc_sink *reader; /* tar reader of cur */
    cat_mf_index *files;
    bk_archive **done; /* completed archives, for their parts */
    size_t ndone;
    pc_buf manifest;
    pc_buf label;
    bool have_label;
    uint64_t logical;
    uint32_t base_uid, base_gid;
    bool finished;
};

/* The content stage of one file: hash it, and write it into the archive. */
typedef struct file_sink {
    pc_sink base;
    bk_recv *rv;
    rv_archive *ar;
    pc_hash *h;   /* SHA-256: what the manifest keeps */
    uint32_t crc; /* CRC-32C: checked against the server's backup_manifest */
    char *path;
    const char *part; /* name of the part holding it (owned by the archive) */
    uint64_t size;
    int64_t mtime;
    uint32_t mode;
    bool label; /* the data archive's backup_label: keep a copy */
} file_sink;

static pc_status fs_write(pc_sink *s, const void *data, size_t len)
{
    file_sink *f = (file_sink *)s;
    pc_hash_update(f->h, data, len);
    f->crc = pc_crc32c(f->crc, data, len);
    if (f->label) {
        pc_status st = pc_buf_append(&f->rv->label, data, len);
        if (st)
            return st;
    }
    return bk_archive_file_write(f->ar->out, data, len);
}

static const char *tbs_of(const rv_archive *ar)
{
    return ar->is_base ? NULL : ar->oid_text;
}

static pc_status fs_finish(pc_sink *s)
{
    file_sink *f = (file_sink *)s;
    pc_status st = bk_archive_file_end(f->ar->out);
    if (st)
        return st;
    unsigned char d[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    pc_hash_final(f->h, d);
    pc_hex(d, sizeof d, hex);
    cat_mf_file mf = {
        .path = f->path,
        .tablespace = tbs_of(f->ar),
        .type = 'f',
        .size = f->size,
        .mtime = f->mtime,
        .mode = f->mode,
        .sha256 = hex,
        .backup_id = f->rv->backup_id,
        .archive = f->part,
        .has_crc32c = true,
        .crc32c = f->crc,
    };
    if ((st = cat_mf_index_add(f->rv->files, &mf)) != PC_OK)
        return st;
    f->rv->logical += f->size;
    if (f->label)
        f->rv->have_label = true;
    return PC_OK;
}

static void fs_destroy(pc_sink *s)
{
    file_sink *f = (file_sink *)s;
    pc_hash_free(f->h);
    free(f->path);
    free(f);
}

static const pc_sink_ops file_sink_ops = {
    .name = "backup-file",
    .write = fs_write,
    .finish = fs_finish,
    .destroy = fs_destroy,
};

static pc_status bad_member(const rv_archive *ar, const char *name, const char *why)
{
    char safe[160];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < sizeof safe; p++)
        o += (size_t)snprintf(safe + o, sizeof safe - o, *p < 0x20 || *p == 0x7f ? "\\x%02x" : "%c",
                              *p);
    return pc_err(PC_E_CORRUPT, "BASE_BACKUP sent \"%s\" in %s: %s", safe,
                  ar->is_base ? "the data directory" : ar->oid_text, why);
}

static uint32_t id32(int64_t v)
{
    return v < 0 || v > (int64_t)UINT32_MAX ? 0 : (uint32_t)v;
}

static pc_status on_entry(void *ud, const pc_tar_entry *e, pc_sink **content)
{
    bk_recv *rv = ud;
    rv_archive *ar = rv->cur;
    char norm[4096];
    pc_status st = pc_tar_path_check(e->name, norm, sizeof norm);
    if (st)
        return st;
    if (strcmp(norm, ".") == 0)
        return bad_member(ar, e->name, "not a member name");
    uint32_t uid = id32(e->uid), gid = id32(e->gid);
    if (ar->is_base) {
        rv->base_uid = uid;
        rv->base_gid = gid;
    }
    cat_mf_file mf = {.path = norm,
                      .tablespace = tbs_of(ar),
                      .size = 0,
                      .mtime = e->mtime,
                      .mode = e->mode,
                      .backup_id = rv->backup_id};
    const char *part = NULL;
    switch (e->type) {
    case PC_TAR_FILE: {
        if (ar->is_base && strcmp(norm, "backup_manifest") == 0)
            return bad_member(ar, e->name, "the backup manifest comes separately");
        file_sink *f = pc_calloc(1, sizeof *f);
        if (!f)
            return PC_E_INTERNAL;
        pc_sink_init(&f->base, &file_sink_ops, NULL);
        f->rv = rv;
        f->ar = ar;
        f->size = e->size;
        f->mtime = e->mtime;
        f->mode = e->mode;
        f->label = ar->is_base && strcmp(norm, "backup_label") == 0;
        f->path = pc_strdup(norm);
        if (!f->path || (st = pc_hash_new(PC_HASH_SHA256, &f->h)) != PC_OK) {
            fs_destroy(&f->base);
            return f->path ? st : PC_E_INTERNAL;
        }
        if (f->label)
            pc_buf_reset(&rv->label);
        st = bk_archive_file_begin(ar->out, norm, e->size, e->mode, e->mtime, uid, gid, &f->part);
        if (st) {
            fs_destroy(&f->base);
            return st;
        }
        *content = &f->base;
        return PC_OK;
    }
    case PC_TAR_DIR:
        st = bk_archive_dir(ar->out, norm, e->mode, e->mtime, uid, gid);
        mf.type = 'd';
        break;
    case PC_TAR_SYMLINK:
        mf.type = 'l';
        mf.mode = 0777;
        mf.target = e->linkname;
        if (!*e->linkname)
            return bad_member(ar, e->name, "a symbolic link without a target");
        /* see backup_int.h: barman-cloud-restore makes these links itself */
        if (!(ar->is_base && strncmp(norm, "pg_tblspc/", 10) == 0))
            st = bk_archive_symlink(ar->out, norm, e->linkname, e->mtime, uid, gid, &part);
        break;
    case PC_TAR_HARDLINK:
    case PC_TAR_OTHER:
        return bad_member(ar, e->name, "a tar member that is neither file, directory nor link");
    }
    if (st)
        return st;
    return cat_mf_index_add(rv->files, &mf);
}

static const pc_tar_handler tar_handler = {.entry = on_entry, .end = NULL};

pc_status bk_recv_new(const bk_recv_opts *o, bk_recv **out)
{
    bk_recv *rv = pc_calloc(1, sizeof *rv);
    if (!rv)
        return PC_E_INTERNAL;
    rv->o = *o;
    rv->prefix = pc_strdup(o->prefix);
    rv->backup_id = pc_strdup(o->backup_id);
    rv->o.prefix = rv->prefix;
    rv->o.backup_id = rv->backup_id;
    pc_buf_init(&rv->manifest, MANIFEST_CAP);
    pc_buf_init(&rv->label, LABEL_CAP);
    pc_status st = rv->prefix && rv->backup_id ? cat_mf_index_new(&rv->files) : PC_E_INTERNAL;
    if (st) {
        bk_recv_free(rv);
        return st;
    }
    *out = rv;
    return PC_OK;
}

pc_status bk_recv_tablespaces(bk_recv *rv, const bb_tablespace *ts, size_t n)
{
    if (rv->arch)
        return pc_err(PC_E_INTERNAL, "tablespace list given twice");
    rv->arch = pc_calloc(n, sizeof *rv->arch);
    if (!rv->arch)
        return PC_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        rv_archive *a = &rv->arch[i];
        rv->narch++;
        a->is_base = ts[i].is_base;
        a->oid = ts[i].oid;
        snprintf(a->oid_text, sizeof a->oid_text, "%" PRIu32, ts[i].oid);
        if (ts[i].location && !(a->location = pc_strdup(ts[i].location)))
            return PC_E_INTERNAL;
    }
    return PC_OK;
}

static pc_status keep_done(bk_recv *rv, bk_archive *a)
{
    bk_archive **d = pc_realloc(rv->done, (rv->ndone + 1) * sizeof *d);
    if (!d) {
        bk_archive_free(a);
        return PC_E_INTERNAL;
    }
    rv->done = d;
    rv->done[rv->ndone++] = a;
    return PC_OK;
}

/* End the tar stream of the current archive; complete it unless it is the data archive. */
static pc_status end_current(bk_recv *rv)
{
    rv_archive *ar = rv->cur;
    if (!ar)
        return PC_OK;
    pc_status st = pc_sink_finish(rv->reader);
    pc_sink_free(rv->reader);
    rv->reader = NULL;
    rv->cur = NULL;
    if (st) {
        pc_err_context("reading the archive of %s from BASE_BACKUP",
                       ar->is_base ? "the data directory" : ar->oid_text);
        return st;
    }
    if (ar->is_base)
        return PC_OK; /* backup_manifest joins it at the end */
    st = bk_archive_finish(ar->out);
    if (st)
        return st;
    bk_archive *a = ar->out;
    ar->out = NULL;
    return keep_done(rv, a);
}

pc_status bk_recv_archive(bk_recv *rv, const char *name, const char *spclocation)
{
    pc_status st = end_current(rv);
    if (st)
        return st;
    rv_archive *ar = NULL;
    for (size_t i = 0; i < rv->narch && !ar; i++) {
        rv_archive *a = &rv->arch[i];
        if (!spclocation && a->is_base)
            ar = a;
        else if (spclocation && !a->is_base && strcmp(a->location, spclocation) == 0)
            ar = a;
    }
    char want[24];
    if (ar)
        snprintf(want, sizeof want, "%s.tar", ar->is_base ? "base" : ar->oid_text);
    if (!ar || strcmp(name, want) != 0 || ar->seen)
        return pc_err(PC_E_PG,
                      "unexpected reply to BASE_BACKUP: archive \"%.64s\" for \"%.200s\" is not "
                      "one of the tablespaces announced",
                      name, spclocation ? spclocation : "the data directory");
    ar->seen = true;
    bk_archive_opts ao = {
        .r = rv->o.r,
        .prefix = rv->prefix,
        .base = ar->is_base ? "data" : ar->oid_text,
        .tablespace = tbs_of(ar),
        .codec = rv->o.codec,
        .level = rv->o.level,
        .threads = rv->o.threads,
        .max_part = rv->o.max_part,
    };
    if ((st = bk_archive_new(&ao, &ar->out)) != PC_OK)
        return st;
    if ((st = pc_tar_reader_new(&tar_handler, rv, &rv->reader)) != PC_OK)
        return st;
    pc_tar_reader_set_lenient_end(rv->reader, true);
    rv->cur = ar;
    pc_info("receiving %s into %s", name, ar->is_base ? "data" : ar->oid_text);
    return PC_OK;
}

pc_status bk_recv_data(bk_recv *rv, const void *data, size_t len)
{
    if (!rv->reader)
        return pc_err(PC_E_PG, "unexpected reply to BASE_BACKUP: archive data outside an archive");
    return pc_sink_write(rv->reader, data, len);
}

pc_status bk_recv_manifest_data(bk_recv *rv, const void *data, size_t len)
{
    pc_status st = end_current(rv);
    if (st)
        return st;
    st = pc_buf_append(&rv->manifest, data, len);
    if (st)
        pc_err_context("holding the server's backup_manifest");
    return st;
}

/* ---- the check against the server's backup_manifest ---- */

static rv_archive *tablespace_of_path(bk_recv *rv, const char *path, const char **rel)
{
    if (strncmp(path, "pg_tblspc/", 10) != 0)
        return NULL;
    const char *oid = path + 10, *slash = strchr(oid, '/');
    if (!slash)
        return NULL;
    for (size_t i = 0; i < rv->narch; i++) {
        rv_archive *a = &rv->arch[i];
        size_t n = strlen(a->oid_text);
        if (!a->is_base && (size_t)(slash - oid) == n && memcmp(oid, a->oid_text, n) == 0) {
            *rel = slash + 1;
            return a;
        }
    }
    return NULL;
}

/* The message "<before>"<path>"<after>", control bytes of the path escaped. */
static pc_status quote_path(pc_status st, const char *before, const char *path, const char *after)
{
    char safe[300];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && o + 5 < sizeof safe; p++)
        o += (size_t)snprintf(safe + o, sizeof safe - o, *p < 0x20 || *p == 0x7f ? "\\x%02x" : "%c",
                              *p);
    pc_err(st, "%s\"%s\"%s", before, safe, after);
    return st;
}

static pc_status on_server_file(void *ud, const bb_manifest_file *f)
{
    bk_recv *rv = ud;
    const char *rel = f->path;
    rv_archive *ar = tablespace_of_path(rv, f->path, &rel);
    const cat_mf_file *mine = cat_mf_index_find(rv->files, ar ? ar->oid_text : NULL, rel);
    if (!mine || mine->type != 'f')
        return quote_path(PC_E_CORRUPT, "the server's backup_manifest lists ", f->path,
                          ", which the backup stream did not hold");
    if (mine->size != f->size) {
        quote_path(PC_E_CORRUPT, "", f->path, " has another size in the server's backup_manifest");
        pc_err_detail("stream: %" PRIu64 " bytes, manifest: %" PRIu64 " bytes", mine->size,
                      f->size);
        return PC_E_CORRUPT;
    }
    if (f->has_crc32c && mine->crc32c != f->crc32c_le && mine->crc32c != f->crc32c_be) {
        quote_path(PC_E_CORRUPT, "the CRC-32C of ", f->path,
                   " received differs from the server's backup_manifest");
        pc_err_detail("received %08x, manifest %08x", (unsigned)mine->crc32c,
                      (unsigned)f->crc32c_le);
        return PC_E_CORRUPT;
    }
    if (f->sha256 && strcmp(f->sha256, mine->sha256) != 0) {
        quote_path(PC_E_CORRUPT, "the SHA-256 of ", f->path,
                   " received differs from the server's backup_manifest");
        pc_err_detail("received %s, manifest %s", mine->sha256, f->sha256);
        return PC_E_CORRUPT;
    }
    if (!cat_mf_index_mark(rv->files, mine))
        return quote_path(PC_E_CORRUPT, "the server's backup_manifest lists ", f->path, " twice");
    return PC_OK;
}

static pc_status check_manifest(bk_recv *rv)
{
    pc_status st =
        bb_manifest_parse((const char *)rv->manifest.data, rv->manifest.len, on_server_file, rv);
    if (st)
        return st;
    for (size_t i = 0; i < cat_mf_index_count(rv->files); i++) {
        const cat_mf_file *f = cat_mf_index_at(rv->files, i);
        if (f->type == 'f' && !cat_mf_index_marked(rv->files, f)) {
            char full[4200];
            snprintf(full, sizeof full, "%s%s%s%s", f->tablespace ? "pg_tblspc/" : "",
                     f->tablespace ? f->tablespace : "", f->tablespace ? "/" : "", f->path);
            return quote_path(PC_E_CORRUPT, "the backup stream held ", full,
                              ", which the server's backup_manifest does not list");
        }
    }
    return PC_OK;
}

/* backup_manifest as the last member of the data archive, where pg_verifybackup looks for it. */
static pc_status add_manifest(bk_recv *rv, rv_archive *base)
{
    const char *part = NULL;
    pc_status st = bk_archive_file_begin(base->out, "backup_manifest", rv->manifest.len, 0600,
                                         rv->o.now, rv->base_uid, rv->base_gid, &part);
    if (!st)
        st = bk_archive_file_write(base->out, rv->manifest.data, rv->manifest.len);
    if (!st)
        st = bk_archive_file_end(base->out);
    if (st)
        return st;
    unsigned char d[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    pc_sha256(rv->manifest.data, rv->manifest.len, d);
    pc_hex(d, sizeof d, hex);
    cat_mf_file mf = {.path = "backup_manifest",
                      .type = 'f',
                      .size = rv->manifest.len,
                      .mtime = rv->o.now,
                      .mode = 0600,
                      .sha256 = hex,
                      .backup_id = rv->backup_id,
                      .archive = part,
                      .has_crc32c = true,
                      .crc32c = pc_crc32c(0, rv->manifest.data, rv->manifest.len)};
    if ((st = cat_mf_index_add(rv->files, &mf)) != PC_OK)
        return st;
    rv->logical += rv->manifest.len;
    return PC_OK;
}

pc_status bk_recv_finish(bk_recv *rv)
{
    pc_status st = end_current(rv);
    if (st)
        return st;
    rv_archive *base = NULL;
    for (size_t i = 0; i < rv->narch; i++) {
        if (!rv->arch[i].seen)
            return pc_err(PC_E_PG, "unexpected reply to BASE_BACKUP: no archive for %s",
                          rv->arch[i].is_base ? "the data directory" : rv->arch[i].oid_text);
        if (rv->arch[i].is_base)
            base = &rv->arch[i];
    }
    if (!base || !base->out)
        return pc_err(PC_E_PG, "unexpected reply to BASE_BACKUP: no data directory archive");
    if ((st = check_manifest(rv)) != PC_OK || (st = add_manifest(rv, base)) != PC_OK)
        return st;
    if ((st = bk_archive_finish(base->out)) != PC_OK)
        return st;
    bk_archive *a = base->out;
    base->out = NULL;
    if ((st = keep_done(rv, a)) != PC_OK)
        return st;
    rv->finished = true;
    return PC_OK;
}

const cat_mf_index *bk_recv_files(const bk_recv *rv)
{
    return rv->files;
}

size_t bk_recv_nparts(const bk_recv *rv)
{
    size_t n = 0;
    for (size_t i = 0; i < rv->ndone; i++)
        n += bk_archive_nparts(rv->done[i]);
    return n;
}

const bk_part *bk_recv_part(const bk_recv *rv, size_t i)
{
    for (size_t k = 0; k < rv->ndone; k++) {
        size_t n = bk_archive_nparts(rv->done[k]);
        if (i < n)
            return bk_archive_part(rv->done[k], i);
        i -= n;
    }
    return NULL;
}

const char *bk_recv_backup_label(const bk_recv *rv)
{
    return rv->have_label ? pc_buf_cstr(&rv->label) : NULL;
}

uint64_t bk_recv_logical_size(const bk_recv *rv)
{
    return rv->logical;
}

void bk_recv_free(bk_recv *rv)
{
    if (!rv)
        return;
    pc_sink_free(rv->reader);
    for (size_t i = 0; i < rv->narch; i++) {
        bk_archive_free(rv->arch[i].out);
        free(rv->arch[i].location);
    }
    free(rv->arch);
    for (size_t i = 0; i < rv->ndone; i++)
        bk_archive_free(rv->done[i]);
    free(rv->done);
    cat_mf_index_free(rv->files);
    pc_buf_free(&rv->manifest);
    pc_buf_free(&rv->label);
    free(rv->prefix);
    free(rv->backup_id);
    free(rv);
}
