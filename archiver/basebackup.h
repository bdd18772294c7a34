#ifndef PGCASK_ARCHIVER_BASEBACKUP_H
#define PGCASK_ARCHIVER_BASEBACKUP_H

/*
 * The client side of PostgreSQL's BASE_BACKUP (PostgreSQL 15+ protocol,
 * pg_basebackup's ReceiveArchiveStream), over libpq loaded at run time
 * (archiver/pq.h):
 *
 *   BASE_BACKUP (LABEL 'x', PROGRESS, CHECKPOINT 'fast', WAIT false,
 *                MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256')
 *   -> result set: start LSN, timeline
 *   -> result set: one row per tablespace (spcoid, spclocation, size in kB),
 *      the data directory last with NULL oid and location
 *   -> one COPY OUT holding every archive and the backup manifest, each
 *      CopyData message starting with a type byte:
 *        'n' archive name, tablespace location   a new archive starts
 *        'd' bytes                               archive (or manifest) data
 *        'p' uint64 bytes done (network order)   progress
 *        'm'                                     the backup manifest follows
 *   -> result set: end LSN, timeline; then the command completes.
 *
 * The message parser (bb_stream) and the result-set parsers work on plain
 * values so that they are tested with recorded sequences, without a server.
 * Server messages are untrusted input: every length and field is checked
 * and a malformed reply is PC_E_PG naming what was wrong.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"
#include "common/wal.h"

/* The oldest server whose BASE_BACKUP speaks this protocol. */
#define BB_MIN_SERVER_VERSION 150000

/* ---- connections ---- */

typedef struct bb_conn bb_conn;

typedef struct bb_connopts {
    const char *host;   /* NULL: libpq's default / PGHOST */
    const char *port;   /* NULL: PGPORT / 5432 */
    const char *user;   /* NULL: PGUSER / the OS user */
    const char *dbname; /* a database name or a full conninfo; NULL: PGDATABASE, else "postgres" */
    const char *application_name;
} bb_connopts;

/*
 * Connect (replication=true for the replication protocol). PC_E_PG with
 * libpq's message (which never holds the password) when PostgreSQL cannot
 * be reached or refuses; PC_E_PG "libpq is not installed" without libpq.
 * Server NOTICEs go to the log at INFO. Blocks until connected or failed
 * (libpq's connect_timeout; 30 s unless PGCONNECT_TIMEOUT or the conninfo
 * say otherwise).
 */
pc_status bb_connect(const bb_connopts *o, bool replication, bb_conn **out);
void bb_close(bb_conn *c); /* NULL is a no-op */
/* PQserverVersion (e.g. 150020). */
int bb_server_version(const bb_conn *c);

/* ---- plain rows, for the parsers ---- */

typedef struct bb_rows {
    int nrows, ncols;
    const char *const *cells; /* row-major, nrows * ncols; NULL is SQL NULL */
} bb_rows;

/* A result set of (text LSN, timeline), as sent before and after the archives. */
pc_status bb_parse_position(const bb_rows *r, const char *what, pc_lsn *lsn, uint32_t *tli);

typedef struct bb_tablespace {
    bool is_base;   /* the data directory (NULL oid) */
    uint32_t oid;   /* 0 for the data directory */
    char *location; /* NULL for the data directory */
    int64_t size;   /* bytes (the server's kB estimate * 1024), -1 when unknown */
} bb_tablespace;

/* The tablespace header: exactly one data-directory row, distinct oids, absolute locations. */
pc_status bb_parse_tablespaces(const bb_rows *r, bb_tablespace **out, size_t *n);
void bb_tablespaces_free(bb_tablespace *t, size_t n);

/* ---- server facts from a normal connection ---- */

typedef struct bb_named_tablespace {
    char *name;
    uint32_t oid;
    char *location;
} bb_named_tablespace;

typedef struct bb_server_info {
    int version_num;
    char *data_directory; /* NULL when the role may not read it */
    char *config_file;
    char *hba_file;
    char *ident_file;
    char **included_files; /* configuration files other than config_file */
    size_t n_included_files;
    char *data_checksums; /* "on" / "off" */
    char *archive_mode;   /* "on" / "off" / "always" */
    uint64_t wal_segment_size;
    bool in_recovery;
    bb_named_tablespace *tablespaces;
    size_t n_tablespaces;
} bb_server_info;

/* PC_E_PG naming the query when one fails. */
pc_status bb_server_info_get(bb_conn *c, bb_server_info *out);
void bb_server_info_free(bb_server_info *i);

typedef struct bb_system {
    char systemid[24]; /* decimal */
    uint32_t timeline;
} bb_system;

/* IDENTIFY_SYSTEM on a replication connection. */
pc_status bb_identify_system(bb_conn *c, bb_system *out);

/* pg_switch_wal() on a normal connection; *lsn is the position it returned. */
pc_status bb_switch_wal(bb_conn *c, pc_lsn *lsn);

/*
 * Run one SQL statement on a normal connection, waiting interruptibly: tick
 * (may be NULL) is called about once a second and a non-OK status from it
 * stops the wait (the caller then closes the connection, which cancels the
 * statement). cb (may be NULL) receives the rows of a statement returning
 * rows; they are valid during the call. PC_E_PG naming `what` with the
 * server's message when the statement fails.
 */
typedef pc_status (*bb_rows_cb)(void *ud, const bb_rows *rows);
pc_status bb_query(bb_conn *c, const char *sql, const char *what, pc_status (*tick)(void *ud),
                   bb_rows_cb cb, void *ud);

/* ---- the COPY stream ---- */

typedef struct bb_callbacks {
    /* After both header result sets arrived, before the first archive. */
    pc_status (*begin)(void *ud, pc_lsn start_lsn, uint32_t start_tli, const bb_tablespace *ts,
                       size_t nts);
    /* 'n': a new archive; spclocation is NULL for the data directory. */
    pc_status (*archive)(void *ud, const char *name, const char *spclocation);
    /* 'd' before 'm': bytes of the current archive. */
    pc_status (*archive_data)(void *ud, const void *data, size_t len);
    /* 'p': the server's running total of bytes sent. */
    pc_status (*progress)(void *ud, uint64_t bytes_done);
    /* 'm' then 'd': the backup manifest, in pieces. */
    pc_status (*manifest_data)(void *ud, const void *data, size_t len);
    /*
     * Called between messages and about once a second while waiting for
     * the server: a non-OK status (an interrupt) cancels the backup.
     */
    pc_status (*tick)(void *ud);
} bb_callbacks;

typedef struct bb_stream bb_stream;

pc_status bb_stream_new(const bb_callbacks *cb, void *ud, bb_stream **out);
/* One CopyData message (type byte first). */
pc_status bb_stream_message(bb_stream *s, const void *msg, size_t len);
/* The COPY ended: at least one archive and the manifest must have come. */
pc_status bb_stream_end(bb_stream *s);
void bb_stream_free(bb_stream *s); /* NULL is a no-op */

typedef struct bb_options {
    const char *label;    /* printable ASCII without quotes */
    bool fast_checkpoint; /* CHECKPOINT 'fast' (else 'spread') */
} bb_options;

/* The BASE_BACKUP command text (malloc'd); NULL with PC_E_USAGE for a bad label. */
char *bb_command(const bb_options *o);

typedef struct bb_result {
    pc_lsn start_lsn, end_lsn;
    uint32_t start_tli, end_tli;
} bb_result;

/*
 * Run BASE_BACKUP on a replication connection and feed everything to cb.
 * Returns the first non-OK status of a callback (the backup is then
 * cancelled by closing the connection: the caller must bb_close it), or
 * PC_E_PG with the server's message when the server fails the backup
 * (PC_E_CORRUPT when it found a data page checksum failure, SQLSTATE XX001).
 */
pc_status bb_run(bb_conn *c, const bb_options *o, const bb_callbacks *cb, void *ud, bb_result *out);

/* ---- the server's backup_manifest ---- */

typedef struct bb_manifest_file {
    const char *path; /* relative to PGDATA ("pg_tblspc/<oid>/..." for tablespaces) */
    uint64_t size;
    const char *sha256; /* lower-case hex, NULL when the manifest has no SHA256 checksum */
    /*
     * A CRC32C checksum: the 4 bytes of the server's pg_crc32c in its own
     * byte order, so the value read as little- or big-endian.
     */
    bool has_crc32c;
    uint32_t crc32c_le, crc32c_be;
} bb_manifest_file;

typedef pc_status (*bb_manifest_file_cb)(void *ud, const bb_manifest_file *f);

/*
 * Check a backup_manifest as PostgreSQL 13-17 write it (version 1 or 2, one
 * file entry a line) and call cb for each file. PC_E_CORRUPT naming the
 * problem when the Manifest-Checksum does not match the text or the layout
 * is not the expected one.
 */
pc_status bb_manifest_parse(const char *text, size_t len, bb_manifest_file_cb cb, void *ud);

#endif
