#ifndef PGCASK_RESTORE_RESTORE_H
#define PGCASK_RESTORE_RESTORE_H

/*
 * restore: bring a base backup back into an empty directory (or, with
 * delta, an existing one), ready for point-in-time recovery
 * (docs/restore.md).
 *
 * - The backup is chosen by id, by name, by barman's shortcuts (latest,
 *   last, oldest, first, last-failed) or with "auto": the newest DONE backup
 *   that ends before the recovery target.
 * - Every archive (data.tar[.ext], data_NNNN.tar, <oid>.tar ...) is streamed
 *   GET -> decompress -> tar reader -> files by `jobs` workers at once.
 *   Memory does not grow with the database: each worker holds a few
 *   buffers of at most 1 MiB (plus the codec's window).
 * - Tar members are untrusted: nothing is ever written outside the
 *   destination and the tablespace locations (PC_E_CORRUPT naming the member).
 * - With a pgcask.manifest every file is checked (size, SHA-256, nothing
 *   missing, nothing extra); barman-written backups have none.
 * - A differential or incremental backup is restored from its chain: each
 *   file comes from the backup holding it (its manifest says which), and
 *   only the archives holding needed files are downloaded. A backup of the
 *   chain missing from the repository is PC_E_NOT_FOUND naming it.
 * - Everything restored is durable (synced) before PC_OK is returned. On
 *   failure the partial restore is left in place and the error says so.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/config.h"
#include "common/status.h"

/* Recovery target. Strings are borrowed; NULL when not given. */
typedef struct rst_target {
    const char *time;   /* timestamp (UTC when it has no zone) */
    const char *lsn;    /* "16/B374D848" */
    const char *xid;    /* transaction id */
    const char *name;   /* restore point (pg_create_restore_point) */
    bool immediate;     /* stop as soon as the backup is consistent */
    const char *tli;    /* timeline: a number, "latest" or "current" */
    const char *action; /* pause, promote or shutdown */
    bool exclusive;     /* stop just before the target */
} rst_target;

typedef struct rst_opts {
    const char *backup; /* id, name, shortcut or "auto" */
    const char *dest;   /* the data directory to create (missing or empty) */
    int jobs;           /* archives restored at once, >= 1 */
    /* tablespace relocations "NAME:LOCATION" (NAME may also be the OID) */
    const char *const *tablespaces;
    size_t ntablespaces;
    rst_target target;
    /* write restore_command, the target and recovery.signal / standby.signal */
    bool recovery_config;
    bool standby;
    /*
     * Restore into an existing data directory (docs/restore.md "Delta
     * restore"): files whose size and SHA-256 are the backup's stay, the
     * others are rewritten, what the backup does not have is removed. Needs
     * a pgcask.manifest and a stopped server. A missing or empty destination
     * is restored as without it.
     */
    bool delta;
    /*
     * Check every restored file against its SHA-256 in pgcask.manifest. By
     * default a file whose manifest entry has a CRC-32C is checked with it
     * (as pg_verifybackup does by default); the stored archives are always
     * checked against their SHA-256.
     */
    bool verify_sha256;
} rst_opts;

typedef struct rst_result {
    char backup_id[64];
    uint64_t archives;       /* objects restored */
    uint64_t stored_bytes;   /* bytes downloaded */
    uint64_t files;          /* regular files written */
    uint64_t restored_bytes; /* bytes of those files */
    bool verified;           /* every file was checked against pgcask.manifest */
    double seconds;
    char type[8];            /* "full", "diff", "incr"; "" without a manifest */
    uint64_t chain;          /* backups whose archives were read (1 for a full backup) */
    uint64_t full_bytes;     /* what a restore into an empty directory downloads */
    bool delta;              /* restored with --delta into an existing directory */
    uint64_t kept_files;     /* --delta: files left as they were */
    uint64_t kept_bytes;
    uint64_t removed;        /* --delta: entries removed (not in the backup, or different) */
} rst_result;

/*
 * Restore with the repository settings of cfg (repo, server and the S3
 * settings). PC_E_NOT_FOUND when no backup matches, PC_E_NOT_EMPTY when the
 * destination or a tablespace location is not empty, PC_E_USAGE for bad
 * options, PC_E_CORRUPT for a damaged or hostile backup. result may be NULL.
 */
pc_status rst_restore(const pc_cfg *cfg, const rst_opts *o, rst_result *result);

#endif
