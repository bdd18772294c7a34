#ifndef PGCASK_ARCHIVER_BACKUP_INT_H
#define PGCASK_ARCHIVER_BACKUP_INT_H

/*
 * Inside `pgcask backup` (archiver/backup.c): the pieces below are split out
 * so that unit tests drive them without a server.
 *
 * bk_archive  one archive of the backup (PGDATA "data", a tablespace
 *             "<oid>") written as tar parts "<base>.tar<ext>",
 *             "<base>_0001.tar<ext>", ... (barman-cloud's names): a new part
 *             starts at a member boundary once the stored (compressed) bytes
 *             of the current part exceed max_part, as barman-cloud-backup
 *             does. Each part is tar -> compressor -> sha256 -> byte count ->
 *             repo_put_stream, and ends with the two zero blocks.
 * bk_recv     takes the BASE_BACKUP stream (the bb_callbacks of
 *             archiver/basebackup.h), parses each archive with the tar
 *             reader and re-emits it member by member into bk_archives,
 *             hashing every file; then checks the stream against the
 *             server's backup_manifest and adds that manifest to the data
 *             archive as "backup_manifest".
 *
 * pg_tblspc/<oid> symbolic links are not put into the data archive (they are
 * in pgcask.manifest and backup.info): barman-cloud-restore creates them
 * itself, pointing at --tablespace relocations, and fails when the archive
 * already holds them. For the same reason BASE_BACKUP is run without
 * TABLESPACE_MAP: a tablespace_map file would make PostgreSQL re-point the
 * links at the original locations when the restored copy starts.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "archiver/basebackup.h"
#include "catalog/backup_info.h"
#include "catalog/manifest.h"
#include "common/hash.h"
#include "compress/compress.h"
#include "s3/repo.h"

/* ---- archive parts ---- */

typedef struct bk_part {
    char *name;       /* "data_0001.tar.gz" */
    char *tablespace; /* oid text, NULL for PGDATA */
    uint64_t size;    /* stored bytes */
    uint64_t raw_size;
    char sha256[2 * PC_SHA256_LEN + 1]; /* of the stored bytes */
} bk_part;

typedef struct bk_archive_opts {
    repo *r;
    const char *prefix;     /* "<server>/base/<id>/" */
    const char *base;       /* "data" or the tablespace oid */
    const char *tablespace; /* NULL for PGDATA, else the oid */
    cmp_codec codec;
    int level;
    int threads;
    uint64_t max_part; /* start a new part when the stored bytes exceed this */
} bk_archive_opts;

typedef struct bk_archive bk_archive;

/* "<base>.tar<ext>" for index 0, "<base>_%04u.tar<ext>" after (malloc'd). */
char *bk_part_name(const char *base, unsigned index, const char *ext);

/* Opens the first part at once: an archive without members is still an empty tar. */
pc_status bk_archive_new(const bk_archive_opts *o, bk_archive **out);
/* The part the next member goes to (after the size check the member triggers). */
pc_status bk_archive_file_begin(bk_archive *a, const char *name, uint64_t size, uint32_t mode,
                                int64_t mtime, uint32_t uid, uint32_t gid, const char **part_name);
pc_status bk_archive_file_write(bk_archive *a, const void *data, size_t len);
pc_status bk_archive_file_end(bk_archive *a);
pc_status bk_archive_dir(bk_archive *a, const char *name, uint32_t mode, int64_t mtime,
                         uint32_t uid, uint32_t gid);
pc_status bk_archive_symlink(bk_archive *a, const char *name, const char *target, int64_t mtime,
                             uint32_t uid, uint32_t gid, const char **part_name);
/* Complete the last part (the commit point of its object). */
pc_status bk_archive_finish(bk_archive *a);
/* Parts completed so far (all of them after finish). */
size_t bk_archive_nparts(const bk_archive *a);
const bk_part *bk_archive_part(const bk_archive *a, size_t i);
/* Aborts an unfinished part; NULL is a no-op. */
void bk_archive_free(bk_archive *a);

/* ---- the stream receiver ---- */

typedef struct bk_recv_opts {
    repo *r;
    const char *prefix;    /* "<server>/base/<id>/" */
    const char *backup_id; /* recorded as each file's "backup" */
    cmp_codec codec;
    int level;
    int threads;
    uint64_t max_part;
    int64_t now; /* epoch seconds: mtime of the backup_manifest member */
} bk_recv_opts;

typedef struct bk_recv bk_recv;

pc_status bk_recv_new(const bk_recv_opts *o, bk_recv **out);
/* The tablespace header of BASE_BACKUP: which archives to expect. */
pc_status bk_recv_tablespaces(bk_recv *rv, const bb_tablespace *ts, size_t n);
pc_status bk_recv_archive(bk_recv *rv, const char *name, const char *spclocation);
pc_status bk_recv_data(bk_recv *rv, const void *data, size_t len);
pc_status bk_recv_manifest_data(bk_recv *rv, const void *data, size_t len);
/*
 * After the COPY stream ended: end the last archive, check every file
 * against the server's backup_manifest (PC_E_CORRUPT naming the first
 * difference: a file missing on either side, another size or checksum),
 * add backup_manifest to the data archive and complete every archive.
 */
pc_status bk_recv_finish(bk_recv *rv);

/* Results (complete after bk_recv_finish). */
const cat_mf_index *bk_recv_files(const bk_recv *rv);
size_t bk_recv_nparts(const bk_recv *rv);
const bk_part *bk_recv_part(const bk_recv *rv, size_t i);
/* The backup_label text from the data archive, NULL when none came. */
const char *bk_recv_backup_label(const bk_recv *rv);
/* Sum of the sizes of the regular files (backup_manifest included). */
uint64_t bk_recv_logical_size(const bk_recv *rv);
void bk_recv_free(bk_recv *rv); /* aborts unfinished parts; NULL is a no-op */

/* ---- backup.info ---- */

typedef struct bk_info_in {
    const char *backup_id;
    const char *backup_name;  /* NULL when none */
    const char *backup_label; /* the label file's text, NULL when unknown */
    const bb_server_info *srv;
    const bb_system *sys;
    const bb_tablespace *ts; /* BASE_BACKUP's tablespace header */
    size_t nts;
    bool have_start, have_end; /* which positions are known */
    bb_result pos;
    int64_t begin_time, end_time; /* epoch µs, 0 = unknown */
    uint64_t size;                /* logical bytes, 0 = unknown */
    double total_seconds, copy_seconds;
    int workers;
    cat_binfo_status status;
    const char *error; /* one line, NULL when none */
} bk_info_in;

/*
 * Fill a backup.info as barman-cloud-backup writes it (server_name "cloud",
 * barman-3.4 keys only). end_wal is the segment holding the byte before the
 * end LSN, as pg_walfile_name() names it, so an end exactly on a segment
 * boundary does not require the next segment.
 */
pc_status bk_binfo_fill(const bk_info_in *in, cat_binfo *out);

/* Segment numbers of the first and last WAL segment a backup needs. */
void bk_wal_range(pc_lsn start, pc_lsn end, uint64_t segsize, uint64_t *first, uint64_t *last);

#endif
