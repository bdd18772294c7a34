#ifndef PGCASK_COMMON_TAR_H
#define PGCASK_COMMON_TAR_H

/*
 * Tar streams: a writer that emits POSIX ustar (with pax extended headers
 * where ustar cannot express a member) into a pipeline sink, and a reader
 * that is itself a terminal pipeline sink parsing tar bytes pushed in chunks
 * of any size. The backup writes PGDATA and tablespace tars with the writer;
 * the restore parses tars from pgcask, barman-cloud (Python tarfile, pax)
 * and PostgreSQL's BASE_BACKUP (ustar, GNU long names) with the reader.
 *
 * The reader handles untrusted bytes: header checksums are verified, numeric
 * fields validated, extended headers capped at PC_TAR_MAX_EXT_HEADER bytes,
 * and entry names are passed through unchanged: the caller checks them with
 * pc_tar_path_check() before touching the file system. pax global headers
 * ('g') are validated and otherwise ignored; pax per-member records used:
 * path, linkpath, size, mtime, uid, gid (GNU.sparse.* marks a sparse file).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sink.h"

typedef struct pc_tarw pc_tarw;

#define PC_TAR_BLOCK 512
/* Largest pax or GNU long-name header accepted by the reader. */
#define PC_TAR_MAX_EXT_HEADER (1024 * 1024)
/* Largest member size accepted by the reader (16 TiB): anything above is a corrupt header. */
#define PC_TAR_MAX_ENTRY_SIZE ((uint64_t)1 << 44)

/* ---- Writer ---- */

/*
 * A writer emitting into next. Owns next, even when this fails; freeing the
 * writer frees next (aborting it unless pc_tarw_finish succeeded).
 * Entries get uid/gid 0 (see pc_tarw_set_owner) and empty uname/gname.
 * After any failure the writer is failed: every later call returns the same
 * status.
 */
pc_status pc_tarw_new(pc_sink *next, pc_tarw **out);
/* uid/gid written into the entries added from now on. */
void pc_tarw_set_owner(pc_tarw *w, uint32_t uid, uint32_t gid);

/* A directory entry (the name gets a trailing '/' if it has none). mode: permission bits. */
pc_status pc_tarw_add_dir(pc_tarw *w, const char *name, uint32_t mode, int64_t mtime);
/* A symbolic link to target (mode 0777, as the kernel reports). */
pc_status pc_tarw_add_symlink(pc_tarw *w, const char *name, const char *target, int64_t mtime);

/*
 * A regular file of exactly size bytes: begin, write the content in any
 * number of pieces, end. Writing more than size bytes, or ending after fewer,
 * fails with PC_E_INTERNAL: the header already promised size bytes. A file
 * that shrank while being read is completed with pc_tarw_file_pad (zeros, as
 * PostgreSQL's WAL replay repairs it); a file that grew is written up to size
 * only.
 */
pc_status pc_tarw_file_begin(pc_tarw *w, const char *name, uint64_t size, uint32_t mode,
                             int64_t mtime);
pc_status pc_tarw_file_write(pc_tarw *w, const void *data, size_t len);
/* Bytes still owed to the current file. */
uint64_t pc_tarw_file_remaining(const pc_tarw *w);
/* Fill the rest of the current file with zero bytes. */
pc_status pc_tarw_file_pad(pc_tarw *w);
/* Close the current file: padding to the 512-byte boundary. */
pc_status pc_tarw_file_end(pc_tarw *w);

/*
 * Append bytes that are already tar members (the tar of a BASE_BACKUP,
 * passed through as is). Only between entries. The raw bytes must end on a
 * 512-byte boundary before the next entry or finish (else PC_E_CORRUPT), and
 * must not contain an end-of-archive marker if members follow.
 */
pc_status pc_tarw_append_raw(pc_tarw *w, const void *data, size_t len);

/* Write the end-of-archive marker (two zero blocks), then finish next. */
pc_status pc_tarw_finish(pc_tarw *w);
/* Discard: aborts next. */
void pc_tarw_abort(pc_tarw *w);
/* Frees the writer and next; aborts first unless finished. NULL is a no-op. */
void pc_tarw_free(pc_tarw *w);
/* Bytes emitted into next so far (headers, data, padding, raw bytes). */
uint64_t pc_tarw_bytes(const pc_tarw *w);

/* ---- Reader ---- */

typedef enum pc_tar_type {
    PC_TAR_FILE = 0,     /* regular file ('0', '\0', '7') */
    PC_TAR_DIR = 1,      /* '5' */
    PC_TAR_SYMLINK = 2,  /* '2' */
    PC_TAR_HARDLINK = 3, /* '1': linkname is the member it links to */
    PC_TAR_OTHER = 4,    /* devices, fifos, sparse files, unknown types: see typeflag */
} pc_tar_type;

typedef struct pc_tar_entry {
    const char *name;     /* after pax path / GNU long name; not normalised */
    const char *linkname; /* after pax linkpath / GNU long link; "" when none */
    pc_tar_type type;
    char typeflag; /* the header's type byte ('S' for a pax sparse file) */
    uint32_t mode; /* permission bits (07777) */
    int64_t uid, gid;
    uint64_t size; /* content bytes (for FILE); as declared otherwise */
    int64_t mtime; /* seconds since the epoch (pax fractions dropped) */
} pc_tar_entry;

typedef struct pc_tar_handler {
    /*
     * Called for each entry; e and its strings are valid during the call.
     * content is non-NULL only for a FILE: the handler may store a sink
     * there, which then receives exactly e->size bytes and is finished and
     * freed by the reader (aborted and freed if the stream fails). Left NULL
     * the content is skipped. A non-OK return fails the stream.
     */
    pc_status (*entry)(void *ud, const pc_tar_entry *e, pc_sink **content);
    /* After the end-of-archive marker, when the reader is finished. May be NULL. */
    pc_status (*end)(void *ud);
} pc_tar_handler;

/*
 * A terminal sink parsing a tar stream. h must outlive the sink. finish
 * fails with PC_E_CORRUPT "truncated tar" when the stream stops mid-member
 * or without the end-of-archive marker; bad checksums, bad numbers,
 * oversized extended headers and non-zero bytes after the end marker are
 * PC_E_CORRUPT too.
 */
pc_status pc_tar_reader_new(const pc_tar_handler *h, void *ud, pc_sink **out);
/*
 * Accept a stream that ends cleanly at a member boundary as complete
 * (PostgreSQL 15+ BASE_BACKUP sends tablespace tars without the two zero
 * blocks). Call before the first write. Default: strict.
 */
void pc_tar_reader_set_lenient_end(pc_sink *reader, bool lenient);

/* ---- Paths ---- */

/*
 * Check and normalise a member name for extraction: strips leading "./",
 * repeated and trailing slashes and "." components; the root itself ("."
 * or "./") becomes ".". PC_E_CORRUPT, quoting the name, for an empty or
 * absolute name, a ".." component, or control characters. PC_E_CORRUPT too
 * when the result does not fit in len bytes.
 */
pc_status pc_tar_path_check(const char *name, char *normalised, size_t len);

/*
 * Lexical check for symlink targets: true when path (absolute, or relative
 * to base) stays inside base (or is base itself). Conservative: a path that
 * leaves base even temporarily ("d/../../base/x") is outside, and "."/empty
 * components are ignored on both sides. No file system access.
 */
bool pc_path_is_within(const char *base, const char *path);

#endif
