#ifndef PGCASK_RESTORE_RST_INT_H
#define PGCASK_RESTORE_RST_INT_H

/*
 * Private to restore/ (and its unit tests): the pieces of rst_restore that
 * can be tested on their own.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "catalog/backup_info.h"
#include "catalog/store.h"
#include "catalog/manifest.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/tar.h"
#include "common/wal.h"
#include "compress/compress.h"
#include "restore/restore.h"
#include "s3/repo.h"

/* ==== Tablespace relocation rules (restore.c) ==== */

typedef struct rst_ts_rule {
    char *name;     /* tablespace name or OID as given */
    char *location; /* absolute, normalised */
    bool used;
} rst_ts_rule;

/*
 * Parse "NAME:LOCATION" (split at the first ':'). A relative LOCATION is
 * taken from the working directory; the result is normalised (no ".", "..",
 * repeated or trailing '/'). PC_E_USAGE naming the rule otherwise.
 */
pc_status rst_ts_rule_parse(const char *text, rst_ts_rule *out);
void rst_ts_rule_free(rst_ts_rule *r);

/* Lexically normalise an absolute path into out (malloc'd); PC_E_USAGE when relative. */
pc_status rst_abs_path(const char *path, char **out);

/* ==== Tar member checks (rst_entry.c) ==== */

/* Where an archive is unpacked. */
typedef struct rst_area {
    const char *root;        /* absolute directory */
    bool pgdata;             /* the data directory (else a tablespace location) */
    const uint32_t *ts_oids; /* the backup's tablespaces (pgdata only) */
    size_t n_ts;
} rst_area;

typedef enum rst_action {
    RST_ACT_FILE = 0,    /* write a regular file */
    RST_ACT_DIR = 1,     /* create a directory */
    RST_ACT_SYMLINK = 2, /* create a symbolic link, once every archive is unpacked */
    RST_ACT_TS_LINK = 3, /* pg_tblspc/<oid> of a known tablespace: restore makes its own */
    RST_ACT_TS_MAP = 4,  /* tablespace_map: rewritten for the new locations */
    RST_ACT_ROOT = 5,    /* the archive's root directory: exists already */
} rst_action;

/*
 * Decide what to do with a member, refusing anything that could write
 * outside the area: absolute names, "..", control characters, hard links,
 * devices, fifos, sparse files, members below a tablespace link, symlinks
 * whose target leaves the area. norm receives the normalised name.
 * PC_E_CORRUPT naming the member (and `archive`) otherwise.
 */
pc_status rst_entry_check(const rst_area *a, const pc_tar_entry *e, const char *archive, char *norm,
                          size_t normlen, rst_action *act);

/* ==== recovery configuration (rst_recovery.c) ==== */

/* Append value as a postgresql.conf string literal: '...' with ' and \ doubled. */
pc_status rst_guc_quote(pc_buf *out, const char *value);
/* Append a word quoted for /bin/sh: '...' with ' written as '\''. */
pc_status rst_sh_quote(pc_buf *out, const char *word);

/*
 * The restore_command for `exe`: "'<exe>' wal-restore --repo ... --server ...
 * [the other repository settings that are set] %f %p". Only settings that
 * locate and reach the repository are written, with their resolved values
 * (from flags, environment or configuration file); none of them is secret.
 */
pc_status rst_restore_command(const char *exe, const pc_cfg *cfg, pc_buf *out);

/*
 * Validate a recovery target (one of time/lsn/xid/name/immediate at most;
 * values well-formed) and render the postgresql.auto.conf lines for it and
 * for restore_command (NULL: none). Time and LSN are written normalised
 * (UTC with an explicit zone; upper-case LSN). PC_E_USAGE naming the option.
 */
pc_status rst_recovery_render(const rst_target *t, const char *restore_command, pc_buf *out);

/*
 * Write the recovery configuration into dest: postgresql.auto.conf keeps its
 * lines except earlier restore_command / recovery_target* ones (commented
 * out: PostgreSQL refuses two targets), then `lines`; plus recovery.signal
 * or standby.signal. Files are written atomically.
 */
pc_status rst_recovery_write(const char *dest, const char *lines, bool standby);

/* ==== Unpacking (rst_unpack.c) ==== */

typedef struct rst_archive {
    char *key;  /* object key */
    char *name; /* file name within the backup folder ("data_0001.tar.gz") */
    cmp_codec codec;
    uint64_t size;     /* stored bytes */
    size_t area;       /* index into the areas */
    char *sha256;      /* hex of the stored bytes (from the manifest), or NULL */
    uint64_t raw_size; /* tar bytes (from the manifest), 0 when unknown */
    /*
     * The backup the archive belongs to (borrowed; NULL for a backup without
     * a manifest). A filtered archive gives only the files the manifest takes
     * from it (backup and archive name equal, not yet marked): the older
     * backups of a chain, and every archive of a delta restore. Everything
     * else in it is read (its digest is checked) and skipped.
     */
    const char *backup_id;
    bool filtered;
} rst_archive;

/*
 * Parse an object name of a backup folder ("data.tar.gz", "data_0001.tar",
 * "16385.tar.zst", and a differential or incremental backup's
 * "data-incr.tar.zst", "16385-diff_0001.tar.zst"); false when it is not an
 * archive.
 */
bool rst_archive_name_parse(const char *name, bool *pgdata, uint32_t *oid, cmp_codec *codec);

typedef struct rst_unpack_opts {
    repo *repo;
    const rst_area *areas;
    size_t nareas;
    rst_archive *archives;
    size_t narchives;
    int jobs;
    /* optional: verify every member against this manifest (the tablespace of
       area i > 0 is area_ts[i]) */
    cat_mf_index *manifest;
    const char *const *area_ts;
    /* check files with their SHA-256 even when the manifest has a CRC-32C */
    bool verify_sha256;
} rst_unpack_opts;

typedef struct rst_unpack_result {
    uint64_t files;
    uint64_t restored_bytes;
    uint64_t stored_bytes;
    pc_buf ts_map; /* the tablespace_map member's content when there was one */
    bool has_ts_map;
} rst_unpack_result;

/*
 * Unpack every archive into its area, `jobs` at a time, then create the
 * symbolic links of the archives. Does not create the tablespace links nor
 * sync anything. result->ts_map is the caller's to free (pc_buf_free).
 */
pc_status rst_unpack(const rst_unpack_opts *o, rst_unpack_result *result);

/* Create or check a symbolic link inside root (parents below root are not followed). */
pc_status rst_symlink_at(const char *root, const char *rel, const char *target);

/* Make every file system holding these directories durable (syncfs once per device). */
pc_status rst_sync_dirs(const char *const *dirs, size_t n);

/* ==== Delta restore (rst_delta.c) ==== */

typedef struct rst_delta_opts {
    const rst_area *areas;      /* 0 is PGDATA, i > 0 the tablespace of area_ts[i] */
    size_t nareas;
    const char *const *area_ts; /* the manifest's tablespace of each area (NULL for 0) */
    const char *const *ts_link; /* per area i > 0: what pg_tblspc/<oid> must point to */
    cat_mf_index *manifest;
    int jobs; /* files hashed at once */
} rst_delta_opts;

typedef struct rst_delta_result {
    uint64_t kept_files, kept_bytes; /* size and SHA-256 as in the backup: left alone */
    uint64_t removed;                /* entries the backup does not have, or that differ */
    uint64_t hashed_bytes;           /* read to compare */
} rst_delta_result;

/*
 * Make the existing directories match the manifest before the unpack, as
 * pgBackRest's delta restore does: global/pg_control goes first (a cluster
 * left half restored cannot start); everything the manifest does not list
 * is removed (symbolic links are never followed; in a tablespace location
 * only the directories the manifest lists are cleaned); a regular file of
 * the manifest's size whose SHA-256 is the manifest's is kept and marked in
 * the manifest, any other entry removed; directories get the manifest's
 * mode and are marked; symbolic links are removed (rst_delta_links makes
 * them again), except pg_wal and the tablespace links pointing where they
 * must. Files are hashed `jobs` at a time.
 */
pc_status rst_delta_clean(const rst_delta_opts *o, rst_delta_result *res);
/* Create the directories of the manifest that are not marked (and mark them). */
pc_status rst_delta_dirs(const rst_delta_opts *o);
/* After the unpack: the symbolic links of the manifest that are not marked. */
pc_status rst_delta_links(const rst_delta_opts *o);
/* PGDATA holds a postmaster.pid whose process is alive: PC_E_BUSY naming it. */
pc_status rst_check_not_running(const char *pgdata);

#endif
