#ifndef PGCASK_ARCHIVER_OPS_INT_H
#define PGCASK_ARCHIVER_OPS_INT_H

/*
 * Private to archiver/ops_*.c: the scan of a server's backups in the store,
 * the catalog's copy of it, and a writer of JSON exactly as Python's
 * json.dumps() formats it (barman's outputs are json.dumps of dicts).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "archiver/ops.h"
#include "catalog/catalog.h"
#include "catalog/pyrepr.h"
#include "common/buf.h"
#include "s3/repo.h"

/* Catalog meta keys. */
#define OPS_META_INFO_PREFIX    "backup_info/" /* + id: the backup.info text as read */
#define OPS_META_BACKUP_SYNC    "backups_synced_at"
#define OPS_META_FIRST_REQUIRED "first_required_wal"
#define OPS_META_AUDIT_STATUS   "audit_status" /* "ok" | "failed" */
#define OPS_META_AUDIT_AT       "audit_at"     /* epoch microseconds */
#define OPS_META_AUDIT_PROBLEMS "audit_problems"

#define OPS_KEEP_FILE "annotations/keep"
#define OPS_INFO_FILE "backup.info"
#define OPS_SCAN_JOBS 8

/* ---- the scan ---- */

typedef struct ops_obj {
    char *name; /* relative to "<server>/base/<id>/": "data.tar.zst", "annotations/keep" */
    uint64_t size;
    int64_t mtime_us;
} ops_obj;

typedef struct ops_sb {
    char *id;
    ops_obj *objs; /* every object under the backup's folder, in key order */
    size_t nobjs, aobjs;
    bool has_info;   /* backup.info is listed */
    char *info_etag; /* its ETag from the listing (NULL when the store gives none) */
    char *info_text; /* the text read (or taken from the catalog) */
    bool info_ok;    /* info holds the parsed text */
    cat_binfo info;
    char *info_error;     /* why it could not be read, when has_info && !info_ok */
    bool info_cached;     /* the text came from the catalog (same ETag) */
    bool has_keep;        /* annotations/keep is listed */
    ops_keep keep;        /* as barman reads it */
    bool has_manifest;    /* pgcask.manifest is listed */
    bool mf_read;         /* the manifest's header was read (scan with headers) */
    char mf_type[8];      /* its "type": full, diff, incr ("" when unknown) */
    char *mf_parent;      /* its "parent_id" (NULL for a full backup) */
    uint64_t stored_size; /* bytes of the objects other than backup.info and annotations */
} ops_sb;

/*
 * The backup a backup depends on: backup.info's parent_backup_id (barman
 * 3.17+), else pgcask.manifest's parent_id (pgcask writes no key barman 3.4
 * does not know into backup.info). NULL for a full backup.
 */
const char *ops_sb_parent(const ops_sb *b);

typedef struct ops_scan {
    ops_sb *v; /* sorted by id */
    size_t n, alloc;
    size_t unreadable; /* listed backup.info that could not be read or parsed */
} ops_scan;

/*
 * One listing of "<server>/base/" (no delimiter), then backup.info and
 * annotations/keep read `jobs` at a time. With a catalog, a backup.info
 * whose ETag matches the catalog's is taken from the catalog instead.
 * Unreadable backup.info files are counted, warned about, and kept in the
 * scan with info_ok false. With `headers`, the first line of every
 * pgcask.manifest is read too (type and parent of incremental backups): what
 * retention and audits need, not listings.
 */
pc_status ops_scan_store(repo *r, const char *server, int jobs, cat *cache, bool headers,
                         ops_scan *out);
void ops_scan_free(ops_scan *s);
/* The backup of the scan with this id, or NULL. */
const ops_sb *ops_scan_find(const ops_scan *s, const char *id);
/* Write the scan into the catalog (rows, texts, keep, manifest), in one transaction. */
pc_status ops_scan_to_catalog(cat *c, const ops_scan *s);

/* barman's reading of an annotation: "" none, exactly "standalone", anything else full. */
ops_keep ops_keep_parse(const char *text, size_t len);
/* A catalog row of a parsed backup.info; its strings point into b, etag and the struct. */
typedef struct ops_row {
    cat_backup row;
    char sysid[24];
} ops_row;
void ops_row_from_info(const char *id, const cat_binfo *b, ops_keep keep, bool has_manifest,
                       uint64_t stored_size, const char *etag, ops_row *out);

/* The server's catalog, opened (callers close it). */
pc_status ops_open_catalog(arc_ctx *a, cat **out);

/* The scan as an ops_list (copies of the parsed backup.info of readable backups). */
pc_status ops_list_from_scan(const ops_scan *s, ops_list *out);

/* ---- JSON as Python's json.dumps writes it ---- */

typedef struct ops_pj {
    pc_buf *out;
    int depth;
    bool first[32];
    bool after_key; /* the next value follows a key: no separator */
    pc_status st;
} ops_pj;

void ops_pj_init(ops_pj *j, pc_buf *out);
void ops_pj_obj_begin(ops_pj *j);
void ops_pj_obj_end(ops_pj *j);
void ops_pj_arr_begin(ops_pj *j);
void ops_pj_arr_end(ops_pj *j);
void ops_pj_key(ops_pj *j, const char *k);
void ops_pj_str(ops_pj *j, const char *s); /* NULL writes null */
void ops_pj_strn(ops_pj *j, const char *s, size_t n);
void ops_pj_int(ops_pj *j, int64_t v);
void ops_pj_intn(ops_pj *j, int64_t v); /* CAT_BINFO_NONE writes null */
void ops_pj_uint(ops_pj *j, uint64_t v);
void ops_pj_dbl(ops_pj *j, double v);
void ops_pj_bool(ops_pj *j, bool v);
void ops_pj_null(ops_pj *j);
void ops_pj_py(ops_pj *j, const cat_py *v);
pc_status ops_pj_end(ops_pj *j);

/* Python's str(datetime) / isoformat() / ctime() of a time written with a UTC offset. */
void ops_time_str(int64_t us, int32_t tz, char sep, char *out, size_t outlen);
void ops_time_ctime(int64_t us, int32_t tz, char *out, size_t outlen);

/* ---- helpers ---- */

/* Delete keys in batches of `batch` (0 = 1000). */
pc_status ops_delete_keys(repo *r, char **keys, size_t n, size_t batch);

#endif
