#ifndef PGCASK_COMMON_WAL_H
#define PGCASK_COMMON_WAL_H

/*
 * PostgreSQL WAL file names, timelines and LSNs.
 *
 * Names (24 hex digits TTTTTTTTLLLLLLLLSSSSSSSS, upper case as PostgreSQL
 * writes them; lower case is accepted on input and normalised):
 *   segment      000000010000000A000000FF
 *   partial      000000010000000A000000FF.partial
 *   backup       000000010000000A000000FF.00000028.backup
 *   history      00000002.history
 * The segment number of a name is log * (4 GiB / segsize) + seg, so the
 * meaning of the last 8 digits depends on the WAL segment size, which must
 * be a power of two between 1 MiB and 1 GiB (initdb --wal-segsize).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

#define PC_WAL_DEFAULT_SEGSIZE (16u * 1024 * 1024)
#define PC_WAL_MIN_SEGSIZE     (1u * 1024 * 1024)
#define PC_WAL_MAX_SEGSIZE     (1024u * 1024 * 1024)
#define PC_WAL_NAME_LEN        24
#define PC_WAL_NAME_MAX        64 /* longest name we produce, with NUL */

/* PERSISTED in the catalog: never renumber. */
typedef enum pc_wal_kind {
    PC_WAL_SEGMENT = 1,
    PC_WAL_PARTIAL = 2,
    PC_WAL_BACKUP = 3,  /* backup history file: <segment>.<offset>.backup */
    PC_WAL_HISTORY = 4, /* timeline history file: <tli>.history */
} pc_wal_kind;

typedef uint64_t pc_lsn;
#define PC_LSN_INVALID ((pc_lsn)0)

typedef struct pc_wal_name {
    pc_wal_kind kind;
    uint32_t tli;
    uint32_t log;         /* high 32 bits of the name's position (not for history) */
    uint32_t seg;         /* low part (not for history) */
    uint32_t offset;      /* for PC_WAL_BACKUP: the 8-hex offset */
    char name[PC_WAL_NAME_MAX]; /* normalised name (upper-case hex) */
} pc_wal_name;

bool pc_wal_segsize_valid(uint64_t segsize);

/*
 * Parse a bare file name (no directory). Returns PC_E_USAGE with a message
 * naming the input when it is not one of the four forms.
 */
pc_status pc_wal_parse(const char *name, pc_wal_name *out);
/* Same, for a path: parses the last component. */
pc_status pc_wal_parse_path(const char *path, pc_wal_name *out);
/* True for a bare 24-hex segment name (no suffix). */
bool pc_wal_is_segment_name(const char *name);

/* Segment number from log/seg for a segment size, and back. */
uint64_t pc_wal_segno(uint32_t log, uint32_t seg, uint64_t segsize);
void pc_wal_segno_split(uint64_t segno, uint64_t segsize, uint32_t *log, uint32_t *seg);
/* Write the 24-char segment name of (tli, segno); out holds PC_WAL_NAME_LEN+1. */
void pc_wal_segment_name(uint32_t tli, uint64_t segno, uint64_t segsize, char *out);
/* Segment name following `name` (same timeline). PC_E_USAGE if not a segment or out of range. */
pc_status pc_wal_next(const char *name, uint64_t segsize, char *out);
/* Segment number of a parsed name (segment, partial, backup). */
uint64_t pc_wal_name_segno(const pc_wal_name *w, uint64_t segsize);

/*
 * The barman-cloud hash directory of a name: the first 16 characters
 * upper-cased ("0000000100000000") for segment, partial and backup files;
 * "" for history files (they live directly under wals/). out >= 17 bytes.
 */
void pc_wal_hash_dir(const pc_wal_name *w, char *out);

/* "16/B374D848" <-> 0x16B374D848. Parse accepts upper/lower case, rejects junk. */
pc_status pc_lsn_parse(const char *text, pc_lsn *out);
void pc_lsn_format(pc_lsn lsn, char *out, size_t outlen); /* out >= 18 bytes */
/* Segment containing lsn, and offset of lsn inside it. */
uint64_t pc_lsn_segno(pc_lsn lsn, uint64_t segsize);
uint32_t pc_lsn_offset(pc_lsn lsn, uint64_t segsize);
/* Name of the segment on tli containing lsn. */
void pc_lsn_to_segment_name(uint32_t tli, pc_lsn lsn, uint64_t segsize, char *out);

/*
 * WAL segment header checks (XLogLongPageHeaderData, PostgreSQL 9.6+): the
 * first page of every segment starts with magic, info (XLP_LONG_HEADER), tli,
 * pageaddr, then system id, seg size and block size. Reads the first
 * `len` bytes of a segment (at least 40).
 */
typedef struct pc_wal_header {
    uint16_t magic;
    uint16_t info;
    uint32_t tli;
    pc_lsn pageaddr;
    uint64_t sysid;
    uint32_t seg_size;
    uint32_t blcksz;
} pc_wal_header;

pc_status pc_wal_read_header(const void *data, size_t len, pc_wal_header *out);
/*
 * Check that a segment's header matches its name (long header flag, page
 * address = segno * segsize, seg_size = segsize). PC_E_CORRUPT with a message
 * naming `name` otherwise. Does not check the timeline (a segment copied to
 * a new timeline at promotion keeps its old page headers).
 */
pc_status pc_wal_check_header(const pc_wal_name *w, const void *data, size_t len, uint64_t segsize);

#endif
