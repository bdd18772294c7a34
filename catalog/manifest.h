#ifndef PGCASK_CATALOG_MANIFEST_H
#define PGCASK_CATALOG_MANIFEST_H

/*
 * pgcask's backup manifest: the object "<server>/base/<id>/pgcask.manifest"
 * next to barman's backup.info (barman tools ignore it). It lists every
 * stored archive (tar part) and every file of the backup with its size and
 * SHA-256, and for incremental backups which backup holds the file's bytes.
 *
 * Format (docs/formats.md): zstd-compressed JSON Lines, one object a line:
 *   {"pgcask_manifest":1,"backup_id":..,"type":"full"|"diff"|"incr",
 *    "parent_id":..|null,"server":..,"system_id":"..","pg_version":150018,
 *    "timeline":1,"compression":"zstd","created_at":"2026-11-21T10:00:00Z"}
 *   {"archive":"data.tar.zst","tablespace":null|"16385","size":N,
 *    "raw_size":N,"sha256":"<hex of the stored bytes>"}            (one per part)
 *   {"file":"base/1/1259","tablespace":null|"16385","type":"f"|"d"|"l",
 *    "size":N,"mtime":T,"mode":384,"sha256":"<hex>"|null,
 *    "crc32c":"<8 hex digits>" (optional; regular files),
 *    "backup":"<id holding the bytes>","archive":"data.tar.zst"|null,
 *    "target":"<symlink target>"|null}                              (one per entry)
 *   {"end":true,"archives":N,"files":N,"sha256":"<hex of every line above>"}
 * The end line makes a truncated manifest detectable; readers reject a
 * manifest without it, with bad counts, or with a different digest.
 * File paths are relative to PGDATA (tablespace null) or to the
 * tablespace's directory, exactly as in the tar.
 *
 * Memory: the writer streams; the reader calls back line by line, so
 * holding the whole list (e.g. to look files up by path) is the caller's
 * choice. See cat_mf_index for a lookup table.
 */

#include <stdbool.h>
#include <stdint.h>
#include "common/sink.h"
#include "common/status.h"

#define CAT_MF_VERSION 1
#define CAT_MF_NAME    "pgcask.manifest"

typedef struct cat_mf_header {
    const char *backup_id;
    const char *type; /* "full" "diff" "incr" */
    const char *parent_id;
    const char *server;
    const char *system_id;
    int pg_version;
    uint32_t timeline;
    const char *compression; /* codec name of the archives */
    int64_t created_at;      /* epoch µs */
} cat_mf_header;

typedef struct cat_mf_archive {
    const char *name;       /* "data.tar.zst", "data_0001.tar.zst", "16385.tar.zst" */
    const char *tablespace; /* oid as text, NULL for PGDATA */
    uint64_t size;          /* stored bytes */
    uint64_t raw_size;      /* uncompressed tar bytes */
    const char *sha256;     /* hex of the stored bytes */
} cat_mf_archive;

typedef struct cat_mf_file {
    const char *path;       /* relative, as in the tar */
    const char *tablespace; /* oid as text, NULL for PGDATA */
    char type;              /* 'f' file, 'd' directory, 'l' symlink */
    uint64_t size;
    int64_t mtime; /* epoch seconds */
    uint32_t mode;
    const char *sha256;    /* hex; NULL for directories and links */
    const char *backup_id; /* the backup whose archives hold the bytes */
    const char *archive;   /* archive name within that backup; NULL for d/l */
    const char *target;    /* symlink target, NULL otherwise */
    bool has_crc32c;       /* crc32c is known (written as "crc32c", optional) */
    uint32_t crc32c;       /* CRC-32C of the content (regular files only) */
} cat_mf_file;

/* ---- writer ---- */

typedef struct cat_mfw cat_mfw;

/*
 * Start a manifest into `next` (owned; typically a zstd compressor in
 * front of repo_put_stream). Lines are written as they come.
 */
pc_status cat_mfw_new(pc_sink *next, const cat_mf_header *h, cat_mfw **out);
pc_status cat_mfw_archive(cat_mfw *w, const cat_mf_archive *a);
pc_status cat_mfw_file(cat_mfw *w, const cat_mf_file *f);
/* Write the end line and finish the sink chain (the commit point). */
pc_status cat_mfw_finish(cat_mfw *w);
void cat_mfw_free(cat_mfw *w); /* aborts the chain when not finished; NULL is a no-op */

/* ---- reader ---- */

typedef struct cat_mf_handler {
    /* Each may be NULL. Strings are valid during the call only. A non-OK status stops the read. */
    pc_status (*header)(void *ud, const cat_mf_header *h);
    pc_status (*archive)(void *ud, const cat_mf_archive *a);
    pc_status (*file)(void *ud, const cat_mf_file *f);
} cat_mf_handler;

/*
 * A terminal sink that parses the (already decompressed) JSON Lines and
 * calls the handler; finish fails with PC_E_CORRUPT ("manifest ... is
 * truncated/damaged") when the end line is missing or does not match.
 */
pc_status cat_mf_reader_new(const cat_mf_handler *h, void *ud, pc_sink **out);

/* ---- index: files by (tablespace, path) ---- */

typedef struct cat_mf_index cat_mf_index;

pc_status cat_mf_index_new(cat_mf_index **out);
/* Copy a file entry into the index (duplicates are PC_E_CORRUPT). */
pc_status cat_mf_index_add(cat_mf_index *ix, const cat_mf_file *f);
/* Lookup; NULL when absent. The entry stays valid until the index is freed. */
const cat_mf_file *cat_mf_index_find(const cat_mf_index *ix, const char *tablespace,
                                     const char *path);
/* Iterate every entry in insertion order. */
size_t cat_mf_index_count(const cat_mf_index *ix);
const cat_mf_file *cat_mf_index_at(const cat_mf_index *ix, size_t i);
/* Mark an entry as seen (restore verification); returns false when already marked. */
bool cat_mf_index_mark(cat_mf_index *ix, const cat_mf_file *f);
bool cat_mf_index_marked(const cat_mf_index *ix, const cat_mf_file *f);
void cat_mf_index_free(cat_mf_index *ix);

#endif
