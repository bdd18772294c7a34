#ifndef PGCASK_CATALOG_STORE_H
#define PGCASK_CATALOG_STORE_H

/*
 * The backups of a server as the repository holds them: one LIST of
 * "<server>/base/" and the backup.info files, read in parallel; and
 * barman's rules for choosing one (id, name, shortcuts, "auto" with a
 * recovery target). Shared by restore, backup-list/show/delete/keep, audit
 * and catalog sync; the object store is the source of truth, the SQLite
 * catalog only caches it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "catalog/backup_info.h"
#include "common/status.h"
#include "common/wal.h"
#include "s3/repo.h"

typedef struct cat_store_backup {
    char *id;
    cat_binfo info;
} cat_store_backup;

typedef struct cat_store {
    cat_store_backup *v; /* sorted by id (chronological for barman ids) */
    size_t n;
    size_t unreadable; /* backup.info files skipped with a warning */
} cat_store;

/*
 * Every backup of a server: one LIST of "<server>/base/" with delimiter,
 * then the backup.info files fetched `jobs` at a time. A folder without
 * backup.info (a backup in progress) is skipped quietly; an unreadable or
 * unparsable one with a warning.
 */
pc_status cat_store_load(repo *r, const char *server, int jobs, cat_store *out);
/* Fetch one backup's backup.info; PC_E_NOT_FOUND naming it when missing. */
pc_status cat_store_backup_load(repo *r, const char *server, const char *id, cat_store_backup *out);
void cat_store_backup_free(cat_store_backup *b);
void cat_store_free(cat_store *c);

/* What "auto" compares with (barman's get_backup_id_from_target_*). */
typedef struct cat_sel {
    bool has_time;
    int64_t time_us; /* end_time <= time */
    bool has_lsn;
    pc_lsn lsn; /* end_xlog <= lsn */
    bool has_tli;
    uint32_t tli; /* timeline == tli */
} cat_sel;

/*
 * Resolve a backup reference against the catalog:
 *   YYYYMMDDTHHMMSS          that backup
 *   latest/last, oldest/first the newest / oldest DONE backup
 *   last-failed               the newest FAILED backup
 *   auto                      the newest DONE backup matching sel
 *   anything else             the backup whose backup_name it is
 * *out points into c. PC_E_NOT_FOUND when nothing matches (the message says
 * what was looked for), PC_E_USAGE when a name is ambiguous. The status of
 * the chosen backup is not checked here.
 */
pc_status cat_store_select(const cat_store *c, const char *server, const char *ref,
                           const cat_sel *sel, const cat_store_backup **out);

/* True for the shortcuts and "auto": references that need the whole catalog. */
bool cat_ref_is_keyword(const char *ref);

#endif
