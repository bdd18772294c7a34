#ifndef PGCASK_COMMON_STATUS_H
#define PGCASK_COMMON_STATUS_H

/*
 * The one status type of pgcask. Every function that can fail returns a
 * pc_status; the value is also the process exit code of the native `pgcask`
 * commands (docs/exit-codes.md). PERSISTED: the numbers are documented to
 * users and recorded in the catalog's run history; never renumber, only add.
 * Switches over pc_status have no default: the compiler flags a new value.
 *
 * Values 0-4 deliberately match barman-cloud's exit codes, so the common
 * outcomes are the same under both names; the barman-cloud entry points fold
 * the finer pgcask codes onto 0-4 with pc_status_barman_exit().
 */
typedef enum pc_status {
    PC_OK = 0,             /* success */
    PC_E_NOT_FOUND = 1,    /* the WAL, object, or backup does not exist */
    PC_E_CONNECT = 2,      /* the object store cannot be reached (DNS, refused, TLS) */
    PC_E_USAGE = 3,        /* invalid command line, option value, or argument */
    PC_E_INTERNAL = 4,     /* an unexpected failure (a bug, or out of memory) */
    PC_E_AUTH = 5,         /* credentials missing or refused by the store */
    PC_E_NO_BUCKET = 6,    /* the bucket does not exist */
    PC_E_CONFLICT = 7,     /* the target exists with different content; nothing overwritten */
    PC_E_CORRUPT = 8,      /* corrupt, truncated, or oversized data, or a checksum mismatch */
    PC_E_IO = 9,           /* a local file system error */
    PC_E_TIMEOUT = 10,     /* an operation did not finish in time */
    PC_E_NOT_EMPTY = 11,   /* an archive or directory that must be empty is not */
    PC_E_BUSY = 12,        /* another pgcask process holds the lock */
    PC_E_AUDIT = 13,       /* an audit or check found problems */
    PC_E_PG = 14,          /* PostgreSQL refused the connection or a command */
    PC_E_REMOTE = 15,      /* the store kept failing (5xx after retries, unexpected reply) */
    PC_E_INTERRUPTED = 16, /* stopped by SIGINT/SIGTERM */
    PC_E_CONFIG = 17,      /* invalid configuration file or environment */
} pc_status;

#define PC_STATUS_MAX PC_E_CONFIG

/* Short stable name of a status ("not-found", "conflict", ...), for JSON logs and metrics. */
const char *pc_status_name(pc_status st);

/*
 * Exit code under a barman-cloud command name: 0 ok, 1 operation failed or
 * not found, 2 connectivity (only meaningful for -t and check-wal-archive),
 * 3 input error, 4 anything else.
 */
int pc_status_barman_exit(pc_status st);

#endif
