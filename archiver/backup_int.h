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
#include "catalog/catalog.h"
#include "catalog/manifest.h"
#include "common/hash.h"
#include "common/progress.h"
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
/* The next member starts a new part, unless the open one holds none yet. */
void bk_archive_cut(bk_archive *a);
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

/* ---- local backups (backup_local.c) ---- */

/*
 * `pgcask backup --local PGDATA`: between pg_backup_start() and
 * pg_backup_stop() the data directory and every tablespace are read
 * directly and written into the same archive parts as a streamed backup
 * (tablespaces first, then PGDATA; global/pg_control and the backup_label
 * PostgreSQL returns last). What BASE_BACKUP leaves out is left out (see
 * bk_local_rule). A file that vanishes while the walk reaches it is
 * skipped; one that shrinks while read is completed with zeros and one that
 * grows is cut at the size seen when it was opened (WAL replay repairs
 * both, as with pg_basebackup).
 *
 * With a parent manifest (a differential or incremental backup) a file
 * whose size and mtime are those the parent lists is not read: the new
 * manifest takes the parent's entry over (its SHA-256, and the backup and
 * archive holding the bytes). A file whose mtime is within a second of the
 * parent's start ("hot": it may have been written again in that second after
 * the parent read it, without its mtime changing) is read and taken over
 * only when its SHA-256 is the parent's; with checksum_all every file of the
 * parent's size is.
 */

/* What the walk does with one path. PERSISTED nowhere. */
typedef enum bk_rule {
    BK_RULE_COPY = 0,  /* back it up */
    BK_RULE_SKIP = 1,  /* leave it out */
    BK_RULE_EMPTY = 2, /* a directory kept, its contents left out */
} bk_rule;

/*
 * The rule for rel (relative to PGDATA, or to a tablespace's location when
 * in_tablespace): PostgreSQL's BASE_BACKUP exclusions (postmaster.pid,
 * postmaster.opts, backup_label, tablespace_map, backup_manifest,
 * pg_internal.init*, pgsql_tmp*, *.tmp of the configuration and log
 * collector, the contents of pg_wal, pg_replslot, pg_dynshmem, pg_notify,
 * pg_serial, pg_snapshots, pg_stat_tmp, pg_subtrans) and barman-cloud's
 * (standby.signal, recovery.signal, recovery.conf, backup_label.old, the
 * contents of log and pg_log).
 */
bk_rule bk_local_rule(const char *rel, bool is_dir, bool in_tablespace);
/* "t<digits>_<digits>[_fsm|_vm|_init][.<digits>]": a temporary relation's file. */
bool bk_temp_relation(const char *name);
/*
 * "<digits>[_fsm|_vm|_init][.<digits>]": a relation's file; *node_len is the
 * length of the relfilenode digits, *init true for the _init fork.
 */
bool bk_relation_file(const char *name, size_t *node_len, bool *init);
/*
 * May the file be taken over from the parent without reading it? Same size
 * and mtime, and the recorded mtime more than a second before parent_start
 * (epoch seconds: when the parent backup started; INT64_MIN when unknown).
 * Safe by induction: a file the parent read, it read after parent_start, so
 * any later write has an mtime past the recorded one; a file the parent took
 * over met this rule against its own parent, which started earlier.
 */
bool bk_file_unchanged(const cat_mf_file *prev, uint64_t size, int64_t mtime, int64_t parent_start);

typedef struct bk_local_ts {
    uint32_t oid;
    char oid_text[12];
    char *location; /* the target of pg_tblspc/<oid> */
} bk_local_ts;

/*
 * Check that pgdata is a PostgreSQL data directory (PG_VERSION,
 * global/pg_control) and read the system identifier from pg_control.
 * PC_E_USAGE naming what is missing otherwise.
 */
pc_status bk_local_check_pgdata(const char *pgdata, uint64_t *system_id, int *major);
/* The tablespaces: the symbolic links in pg_tblspc (directories there are in-place tablespaces). */
pc_status bk_local_tablespaces(const char *pgdata, bk_local_ts **out, size_t *n);
void bk_local_tablespaces_free(bk_local_ts *t, size_t n);

typedef struct bk_local_opts {
    repo *r;
    const char *prefix;    /* "<server>/base/<id>/" */
    const char *backup_id; /* recorded as the files' "backup" */
    const char *suffix;    /* archive base names "data<suffix>", "<oid><suffix>": "" or "-incr" */
    cmp_codec codec;
    int level;
    int threads;
    uint64_t max_part;
    const char *pgdata;      /* absolute */
    const bk_local_ts *ts;   /* the tablespaces, in this order */
    size_t nts;
    const char *version_dir; /* "PG_15_202209061": what is read of each tablespace */
    int pg_version;          /* server_version_num */
    const cat_mf_index *parent; /* the parent's files; NULL for a full backup */
    int64_t parent_start;       /* epoch seconds: when the parent started (INT64_MIN unknown) */
    bool checksum_all;
    /*
     * A file of at least this many bytes gets a part of its own (0: never):
     * a restore of a chain, or a delta restore, then downloads a large file
     * only from the backup that holds it, and small files come in bundles.
     */
    uint64_t isolate;
    pc_status (*tick)(void *ud); /* between files: a non-OK status stops the walk */
    void *ud;
    int64_t now; /* epoch seconds: mtime of the backup_label member */
    pc_progress *progress;
} bk_local_opts;

typedef struct bk_local_stats {
    uint64_t logical;      /* bytes of every regular file of the backup */
    uint64_t copied_files; /* read and stored in this backup's archives */
    uint64_t copied_bytes;
    uint64_t kept_files; /* taken over from the parent */
    uint64_t kept_bytes;
    uint64_t hashed_bytes; /* read only to compare (hot files, checksum_all) */
    uint64_t vanished, shrunk, grew;
} bk_local_stats;

typedef struct bk_local bk_local;

pc_status bk_local_new(const bk_local_opts *o, bk_local **out);
/* Every tablespace (each archive completed), then PGDATA without global/pg_control. */
pc_status bk_local_copy(bk_local *l);
/* global/pg_control, then backup_label (the text pg_backup_stop returned); completes PGDATA. */
pc_status bk_local_finish(bk_local *l, const char *backup_label);
const cat_mf_index *bk_local_files(const bk_local *l);
size_t bk_local_nparts(const bk_local *l);
const bk_part *bk_local_part(const bk_local *l, size_t i);
const bk_local_stats *bk_local_get_stats(const bk_local *l);
void bk_local_free(bk_local *l); /* aborts unfinished parts; NULL is a no-op */

/* ---- the parent of a differential or incremental backup (backup_chain.c) ---- */

/* A backup of the store as the choice of a parent sees it. */
typedef struct bk_cand {
    const char *id;
    bool done;         /* status DONE */
    uint64_t systemid; /* 0 when unknown */
    uint32_t timeline; /* 0 when unknown */
    int pg_major;      /* 0 when unknown */
} bk_cand;

/* The type of candidate i from its pgcask.manifest; 0 when it has none (a barman backup). */
typedef pc_status (*bk_type_fn)(void *ud, size_t i, int *type);

/*
 * The parent of a backup of type want (CAT_BACKUP_DIFF: the newest full
 * backup; CAT_BACKUP_INCR: the newest backup of any type) among v (oldest
 * first): DONE, the same system identifier, timeline and major version, and
 * written by pgcask. *out is its index; PC_E_NOT_FOUND (no message) when
 * there is none.
 */
pc_status bk_parent_pick(const bk_cand *v, size_t n, cat_backup_type want, uint64_t systemid,
                         uint32_t timeline, int pg_major, bk_type_fn type_of, void *ud,
                         size_t *out);

typedef struct bk_parent {
    char id[16];
    cat_backup_type type;
    cat_mf_index *files;
    pc_lsn end_lsn; /* PC_LSN_INVALID when unknown */
    int64_t start;  /* epoch seconds of its begin_time; INT64_MIN when unknown */
    size_t nholders; /* backups holding the bytes of its files (itself included) */
} bk_parent;

/*
 * Find and load the parent of a backup of type want: the candidate of
 * bk_parent_pick, its manifest, and a check that every backup holding its
 * files is DONE and stores the archives named. PC_E_NOT_FOUND when the
 * backup must be full instead; the error message then says why (for a
 * warning).
 */
pc_status bk_parent_find(repo *r, const char *server, cat_backup_type want, uint64_t systemid,
                         uint32_t timeline, int pg_version, int jobs, bk_parent *out);
void bk_parent_free(bk_parent *p);

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
