#ifndef PGCASK_ARCHIVER_BACKUP_H
#define PGCASK_ARCHIVER_BACKUP_H

/*
 * `pgcask backup` and `barman-cloud-backup`: a full backup streamed with
 * BASE_BACKUP over a replication connection, or (local mode, on the database
 * host) a full, differential or incremental backup read from the data
 * directory between pg_backup_start() and pg_backup_stop(), into the
 * repository in barman-cloud's layout (docs/backup.md):
 *
 *   <server>/base/<id>/data.tar[.ext]          PGDATA (+ backup_manifest)
 *   <server>/base/<id>/data_0001.tar[.ext]     ... when split (--max-archive-size)
 *   <server>/base/<id>/<oid>.tar[.ext]         each tablespace
 *   (a differential or incremental backup names them data-diff.tar,
 *   data-incr.tar, <oid>-incr.tar ...: barman-cloud-restore cannot restore
 *   it and says so instead of restoring an incomplete copy)
 *   <server>/base/<id>/pgcask.manifest         every file with its SHA-256
 *   <server>/base/<id>/backup.info             written last
 *
 * Nothing is staged on local disk. backup.info says DONE only once every WAL
 * segment from begin_wal to end_wal is in the repository; a failed or
 * interrupted backup uploads backup.info with status FAILED (best effort)
 * and a killed one has no backup.info at all.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/config.h"
#include "common/status.h"

typedef struct arc_backup_opts {
    /* PostgreSQL connection; NULL fields fall back to libpq's environment */
    const char *host;
    const char *port;
    const char *user;
    const char *dbname; /* a database name or a full conninfo */
    const char *name;   /* backup_name, NULL for none (check it with arc_backup_check_name) */
    int codec;          /* cmp_codec of the archives */
    int level;          /* compression level, CMP_LEVEL_DEFAULT for the codec's default */
    int jobs;           /* compression threads (zstd) */
    bool fast_checkpoint;
    uint64_t max_archive_size; /* stored bytes after which a new part starts */
    int64_t wal_timeout_ms;    /* how long to wait for the WAL to be archived */
    bool create_bucket;        /* create a missing bucket (barman-cloud does) */
    /*
     * Local mode (docs/backup.md): the data directory of the server the
     * connection reaches, read directly between pg_backup_start() and
     * pg_backup_stop(); NULL streams the backup with BASE_BACKUP.
     */
    const char *local;
    int type;          /* cat_backup_type: full, diff or incr (diff and incr need local) */
    bool checksum_all; /* diff/incr: compare every file's content, not size and mtime */
    /*
     * Set from another thread to interrupt the backup as SIGINT/SIGTERM do
     * (the sidecar blocks signals and stops its scheduler through this).
     * May be NULL.
     */
    const atomic_bool *stop;
} arc_backup_opts;

typedef struct arc_backup_result {
    char backup_id[16];
    bool pg_attempted; /* a connection to PostgreSQL was tried (barman-cloud: exit 1 from here) */
    uint64_t size;     /* logical bytes (sum of the file sizes) */
    uint64_t stored_size; /* bytes of the archives in the repository */
    uint64_t files;
    uint64_t archives;
    double seconds;
    int type;             /* cat_backup_type recorded (a diff/incr without a parent is full) */
    char parent_id[16];   /* "" for a full backup */
    uint64_t kept_files;  /* diff/incr: files taken over from the parent */
    uint64_t kept_bytes;
    uint64_t copied_bytes; /* local mode: bytes read and stored in this backup's archives */
} arc_backup_result;

/*
 * Take a backup of the server the connection options reach, into the
 * repository and server of cfg ("repo", "server", and the repository
 * settings). cfg is adjusted: part-size grows when max_archive_size needs
 * bigger multipart parts (an object has at most 10000). res is filled as
 * far as the backup got.
 */
pc_status arc_backup(pc_cfg *cfg, const arc_backup_opts *o, arc_backup_result *res);

/*
 * barman's rule for -n/--name: not empty, not a backup id
 * (YYYYMMDDTHHMMSS), not a reserved word (latest, last, oldest, first,
 * last-failed). PC_E_USAGE otherwise.
 */
pc_status arc_backup_check_name(const char *name);

#endif
