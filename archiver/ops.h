#ifndef PGCASK_ARCHIVER_OPS_H
#define PGCASK_ARCHIVER_OPS_H

/*
 * Operations on the backups of a server (docs/operations.md):
 * backup-list / backup-show, backup-delete with barman's retention
 * policies, backup-keep, the catalog's backup part of `catalog sync`, the
 * audit, and the Prometheus metrics. Shared by the native commands and
 * their barman-cloud names (barman-cloud-backup-list/-show/-delete/-keep).
 *
 * The object store is the source of truth. Listings and audits read it;
 * `backup-list`, `backup-show` and `metrics` answer from the catalog (a
 * cache, refreshed on request or when it never saw the backups), and every
 * change (delete, keep) is made in the store first, then in the catalog.
 *
 * Guarantees of backup-delete (docs/operations.md, "Deleting backups"):
 * - a backup with a keep annotation is never deleted;
 * - a backup.info that says DONE never outlives the data of its backup:
 *   before the first object goes, backup.info is rewritten with status
 *   FAILED and the error OPS_DELETING_ERROR, so an interrupted deletion is
 *   visible, and the next backup-delete (with -b or any policy) finishes it;
 * - WAL goes only when no remaining backup needs it, never a .history file,
 *   never at or after the catalog's first_required_wal.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "archiver/archiver.h"
#include "catalog/backup_info.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/wal.h"

/* The error an interrupted deletion leaves in backup.info (status FAILED). */
#define OPS_DELETING_ERROR                                                                         \
    "deletion in progress (pgcask backup-delete was interrupted: run it again)"

/* A keep annotation (barman's annotations/keep). PERSISTED as the catalog's keep text. */
typedef enum ops_keep {
    OPS_KEEP_NONE = 0,
    OPS_KEEP_FULL = 1,
    OPS_KEEP_STANDALONE = 2,
} ops_keep;

/* "full", "standalone", or NULL for none. */
const char *ops_keep_name(ops_keep k);

/* ---- backups: list and show ---- */

typedef struct ops_entry {
    char id[16];
    cat_binfo info; /* the parsed backup.info */
    ops_keep keep;
    bool has_manifest;
} ops_entry;

typedef struct ops_list {
    ops_entry *v; /* sorted by id */
    size_t n;
    bool refreshed; /* the store was read (not only the catalog) */
} ops_list;

typedef enum ops_source {
    OPS_FROM_CATALOG = 0, /* the catalog; the store when the catalog never saw the backups */
    OPS_FROM_STORE = 1,   /* the store, then the catalog is brought up to date (best effort) */
} ops_source;

/*
 * Every backup of the server that has a readable backup.info (DONE, FAILED,
 * ...), sorted by id. From the catalog, a backup whose backup.info is not
 * cached yet (one `pgcask backup` recorded) is read from the store once and
 * cached. PC_E_NO_BUCKET when the bucket does not exist.
 */
pc_status ops_list_backups(arc_ctx *a, ops_source src, ops_list *out);
void ops_list_free(ops_list *l);

/*
 * A backup of the list by id, backup name or shortcut (latest, oldest,
 * last-failed; catalog/store.h's rules). PC_E_NOT_FOUND naming it.
 */
pc_status ops_list_find(const ops_list *l, const char *server, const char *ref,
                        const ops_entry **out);

/*
 * barman-cloud-backup-list's outputs: JSON {"backups_list": [...]} with
 * barman's BackupInfo.to_json() of every backup (json.dumps formatting),
 * and the console table of the DONE backups.
 */
pc_status ops_render_list_json(const ops_list *l, pc_buf *out);
pc_status ops_render_list_console(const ops_list *l, pc_buf *out);
/* barman-cloud-backup-show: {"<server_name>": {...}} and barman's console layout. */
pc_status ops_render_show_json(const ops_entry *e, pc_buf *out);
pc_status ops_render_show_console(const ops_entry *e, pc_buf *out);

/* One backup's barman JSON object (BackupInfo.to_json()), appended to out. */
pc_status ops_backup_json(const char *id, const cat_binfo *b, pc_buf *out);

/* ---- catalog sync of the backups ---- */

typedef struct ops_sync_result {
    size_t backups;    /* backups with a readable backup.info */
    size_t unreadable; /* backup.info files that could not be read or parsed */
} ops_sync_result;

/*
 * Rebuild the catalog's backups (rows, keep annotations, manifest presence,
 * the backup.info texts) from one listing of "<server>/base/" and the
 * backup.info objects. result may be NULL.
 */
pc_status arc_catalog_sync_backups(arc_ctx *a, ops_sync_result *result);

/* ---- retention policies ---- */

typedef enum ops_policy_kind {
    OPS_POLICY_REDUNDANCY = 1,
    OPS_POLICY_WINDOW = 2,
} ops_policy_kind;

typedef struct ops_policy {
    ops_policy_kind kind;
    int64_t value; /* backups, or window units */
    char unit;     /* window: 'd', 'w' or 'm' (a month is 31 days, as barman) */
} ops_policy;

/*
 * barman's grammar, case-insensitive, surrounding blanks allowed:
 * "REDUNDANCY n", "RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS" (the s is
 * optional), and CloudNativePG's shorthand "30d", "4w", "3m".
 * PC_E_USAGE quoting the text otherwise.
 */
pc_status ops_policy_parse(const char *text, ops_policy *out);
/* barman's str(): "REDUNDANCY 2", "RECOVERY WINDOW OF 30 DAYS". */
void ops_policy_format(const ops_policy *p, char *out, size_t outlen);
/* The start of the recovery window at time now_us. */
int64_t ops_policy_window_start(const ops_policy *p, int64_t now_us);

/* barman's retention status of a backup. */
typedef enum ops_rp_status {
    OPS_RP_NONE = 0, /* not DONE: the policy does not judge it */
    OPS_RP_VALID = 1,
    OPS_RP_OBSOLETE = 2,
    OPS_RP_POTENTIALLY_OBSOLETE = 3, /* kept for the minimum redundancy */
    OPS_RP_KEEP_FULL = 4,
    OPS_RP_KEEP_STANDALONE = 5,
} ops_rp_status;

const char *ops_rp_status_name(ops_rp_status s); /* "VALID", "OBSOLETE", "KEEP:FULL", ... */

typedef struct ops_rp_backup {
    const char *id;
    bool done;        /* status DONE */
    int64_t end_time; /* epoch microseconds, CAT_BINFO_NONE when unknown */
    ops_keep keep;
    const char *parent; /* parent backup id (incremental), NULL for a full backup */
} ops_rp_backup;

/*
 * barman's RetentionPolicy._backup_report over backups sorted by id:
 * status[i] for v[i]. Incremental backups follow their root backup.
 * PC_E_USAGE for a negative minimum redundancy.
 */
pc_status ops_policy_report(const ops_policy *p, const ops_rp_backup *v, size_t n, int64_t now_us,
                            int64_t minimum_redundancy, ops_rp_status *status);

/*
 * Which WAL files may go once some backups are deleted. Built from the
 * backups that remain and those deleted by this run.
 */
typedef struct ops_wal_rule_backup {
    const char *id;
    const char *begin_wal; /* NULL when unknown */
    const char *end_wal;
    uint32_t timeline;
    bool anchor; /* DONE or WAITING_FOR_WALS and not keep:standalone: needs WAL from begin on */
    ops_keep keep;
} ops_wal_rule_backup;

typedef struct ops_wal_rule {
    char bound[PC_WAL_NAME_MAX]; /* WAL before this name may go ("" = nothing may go) */
    uint32_t bound_tli;
    uint32_t *protect_tli; /* timelines of remaining backups other than bound_tli */
    size_t nprotect_tli;
    char (*ranges)[2][PC_WAL_NAME_MAX]; /* keep:standalone [begin, end] ranges */
    size_t nranges;
    char first_required[PC_WAL_NAME_MAX]; /* "" when unset */
} ops_wal_rule;

/*
 * The rule: WAL older than the oldest remaining anchor's begin_wal; with no
 * anchor left, older than the begin_wal of the newest backup this run
 * deleted; nothing when neither exists. first_required may be NULL.
 */
pc_status ops_wal_rule_build(const ops_wal_rule_backup *remaining, size_t nremaining,
                             const ops_wal_rule_backup *deleted, size_t ndeleted,
                             const char *first_required, ops_wal_rule *out);
/* Whether the WAL file `name` (segment, .partial, .backup, .history) may be deleted. */
bool ops_wal_rule_deletable(const ops_wal_rule *r, const char *name);
void ops_wal_rule_free(ops_wal_rule *r);

/* ---- backup-delete ---- */

typedef struct ops_delete_opts {
    const char *backup;         /* -b: id or name (NULL with a policy) */
    const char *policy;         /* -r: policy text (NULL with -b) */
    int64_t minimum_redundancy; /* -m */
    bool dry_run;
    size_t batch_size;  /* keys per delete request, 0 = 1000 */
    bool barman_output; /* dry-run lines as barman-cloud-backup-delete prints them */
} ops_delete_opts;

typedef struct ops_delete_result {
    size_t backups; /* deleted (or, with dry_run, that would be) */
    size_t objects; /* backup objects */
    size_t wals;    /* WAL objects */
} ops_delete_result;

/*
 * Delete one backup (-b) or every backup a policy makes obsolete, then the
 * WAL no remaining backup needs. What is (or would be) deleted is reported
 * on `out` (may be NULL). Refusals are PC_E_NOT_FOUND (exit 1, as
 * barman-cloud-backup-delete): a backup with a keep annotation, a backup
 * other backups depend on, the minimum redundancy, an unreadable
 * backup.info. A bad policy is PC_E_USAGE. result may be NULL.
 */
pc_status ops_backup_delete(arc_ctx *a, const ops_delete_opts *o, FILE *out,
                            ops_delete_result *result);

/* ---- backup-keep ---- */

/* Add the keep annotation (DONE backups only, else PC_E_NOT_FOUND naming the status). */
pc_status ops_keep_set(arc_ctx *a, const char *ref, ops_keep target);
/* Remove the keep annotation (none is fine). */
pc_status ops_keep_release(arc_ctx *a, const char *ref);
/* The annotation as barman reads it. */
pc_status ops_keep_status(arc_ctx *a, const char *ref, ops_keep *out);

/* ---- audit ---- */

typedef struct ops_audit ops_audit;

typedef struct ops_audit_opts {
    bool verify_checksums; /* download and check every object */
    int jobs;              /* objects checked at once (0 = 4) */
} ops_audit_opts;

/*
 * Audit the server's backups and WAL archive (docs/operations.md, "Audit").
 * Returns PC_OK when the audit ran, whatever it found (see
 * ops_audit_ok), and records its outcome in the catalog meta (audit_status,
 * audit_at, audit_problems) for `metrics`. Refreshes the catalog from the
 * same listings.
 */
pc_status ops_audit_run(arc_ctx *a, const ops_audit_opts *o, ops_audit **out);
/* Every DONE backup restorable and no gap in the WAL chain after the oldest backup. */
bool ops_audit_ok(const ops_audit *au);
size_t ops_audit_problems(const ops_audit *au);
pc_status ops_audit_render_json(const ops_audit *au, pc_buf *out);
pc_status ops_audit_render_console(const ops_audit *au, pc_buf *out);
void ops_audit_free(ops_audit *au);

/* ---- metrics ---- */

/*
 * Prometheus text exposition of the server's state from the catalog
 * (refreshed from the store first when `refresh`).
 */
pc_status ops_metrics(arc_ctx *a, bool refresh, pc_buf *out);

#endif
