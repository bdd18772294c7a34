#ifndef PGCASK_CATALOG_BACKUP_INFO_H
#define PGCASK_CATALOG_BACKUP_INFO_H

/*
 * barman's backup.info (barman/infofile.py, class BackupInfo): one
 * "key=value" line per field, sorted by key. Stock barman aborts on a key it
 * does not know, so pgcask writes exactly the keys barman 3.4 (Debian 12's
 * barman-cli-cloud) knows, formatted as barman does:
 *   - None as "None", except backup_name and snapshots_info, which are
 *     omitted when None;
 *   - numbers with str(); times as str(datetime) with the zone
 *     ("2026-01-30 08:34:28.903398+00:00");
 *   - backup_label and included_files as Python repr(), tablespaces as the
 *     repr() of a list of (name, oid, location) tuples; an empty label or
 *     list is None (barman's null_repr).
 * Keys added by later barman versions (children_backup_ids, cluster_size,
 * data_checksums, encryption, parent_backup_id, summarize_wal) are written
 * only when they have a value or came from the parsed text, so that a file
 * pgcask writes stays readable by barman 3.4 while a file read from a newer
 * barman round-trips. Keys no barman version pgcask knows are kept verbatim
 * in `extra` and written back in their sorted place.
 *
 * Reading follows barman's loader (comments, blank lines, whitespace around
 * key and value, the last of duplicate keys wins) and takes untrusted text:
 * size is capped, every typed value is checked, and errors are PC_E_CORRUPT
 * naming the key.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/status.h"

/* An integer or time field that is None. */
#define CAT_BINFO_NONE INT64_MIN
/* Largest backup.info accepted by the parser. */
#define CAT_BINFO_MAX_SIZE (1024 * 1024)
/* barman's default xlog_segment_size. */
#define CAT_BINFO_DEFAULT_SEGSIZE 16777216

/* PERSISTED: written as barman's status names and stored in the catalog by number. */
typedef enum cat_binfo_status {
    CAT_BINFO_EMPTY = 0,
    CAT_BINFO_STARTED = 1,
    CAT_BINFO_FAILED = 2,
    CAT_BINFO_WAITING_FOR_WALS = 3,
    CAT_BINFO_DONE = 4,
    CAT_BINFO_SYNCING = 5,
} cat_binfo_status;

typedef struct cat_tablespace {
    char *name;
    uint32_t oid;
    char *location;
} cat_tablespace;

typedef struct cat_binfo_extra {
    char *key;
    char *value; /* the text after '=', stripped, as read */
} cat_binfo_extra;

/*
 * All strings and arrays are malloc'd and owned by the struct (callers set
 * them with pc_strdup and the add helpers); NULL strings, CAT_BINFO_NONE
 * numbers and empty arrays are None.
 */
typedef struct cat_binfo {
    /* keys of barman 3.4 */
    char *backup_label; /* the label text itself (written as its repr) */
    char *backup_name;
    int64_t begin_offset;  /* begin LSN modulo the segment size */
    int64_t begin_time;    /* epoch microseconds */
    int32_t begin_time_tz; /* UTC offset in seconds the time is written with */
    char *begin_wal;       /* segment name */
    char *begin_xlog;      /* LSN text "0/9000028" */
    char *compression;
    char *config_file;
    char *copy_stats; /* a Python dict literal, kept as text (see pyrepr.h) */
    int64_t deduplicated_size;
    int64_t end_offset;
    int64_t end_time;
    int32_t end_time_tz;
    char *end_wal;
    char *end_xlog;
    char *error; /* one line: "failure <phase> (<message>)" */
    char *hba_file;
    char *ident_file;
    char **included_files;
    size_t n_included_files;
    char *mode;
    char *pgdata;
    char *server_name;
    int64_t size;
    char *snapshots_info; /* a Python dict literal, kept as text */
    cat_binfo_status status;
    uint64_t systemid; /* 0 is None */
    cat_tablespace *tablespaces;
    size_t n_tablespaces;
    int64_t timeline;
    int64_t version; /* server_version_num */
    int64_t xlog_segment_size;
    /* keys of later barman versions */
    char *children_backup_ids; /* comma-separated backup ids, as barman writes them */
    int64_t cluster_size;
    char *data_checksums; /* "on" / "off" */
    char *encryption;
    char *parent_backup_id;
    char *summarize_wal; /* "on" / "off" */
    /* unknown keys, in the order read */
    cat_binfo_extra *extra;
    size_t n_extra;
    /* private: keys present in the parsed text (bit per key), to re-emit newer keys set to None */
    uint64_t seen;
} cat_binfo;

/* Everything None, status EMPTY, xlog_segment_size 16 MiB (barman's defaults). */
void cat_binfo_init(cat_binfo *b);
/* Free every member and re-initialise. */
void cat_binfo_free(cat_binfo *b);

/*
 * Parse backup.info text into out (initialised here; on failure it is left
 * initialised and empty). PC_E_CORRUPT for text over CAT_BINFO_MAX_SIZE,
 * invalid UTF-8, a line without '=', a malformed value (naming the key).
 */
pc_status cat_binfo_parse(const char *text, size_t len, cat_binfo *out);

/*
 * Append the backup.info text. PC_E_USAGE (naming the key) for a value that
 * barman could not read back: a plain text value holding a line break, with
 * surrounding whitespace, or equal to "None"; invalid UTF-8 in a repr()
 * value; copy_stats or snapshots_info that is not a Python literal.
 */
pc_status cat_binfo_format(const cat_binfo *b, pc_buf *out);

/* Append a tablespace / an included file (copies the strings). */
pc_status cat_binfo_add_tablespace(cat_binfo *b, const char *name, uint32_t oid,
                                   const char *location);
pc_status cat_binfo_add_included_file(cat_binfo *b, const char *path);

/* "DONE", "FAILED", ...; and back (false for an unknown name). */
const char *cat_binfo_status_name(cat_binfo_status st);
bool cat_binfo_status_parse(const char *name, cat_binfo_status *out);

#endif
