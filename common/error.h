#ifndef PGCASK_COMMON_ERROR_H
#define PGCASK_COMMON_ERROR_H

/*
 * The error record: set once at the failure site, carried back as a
 * pc_status return value, printed once by main(). The record is
 * thread-local; a worker thread hands its record to the joining thread with
 * pc_err_save()/pc_err_restore().
 *
 *   return pc_err(PC_E_IO, "could not open \"%s\": %m", path);
 *   ...
 *   pc_err_hint("Check that the spool directory is writable by the postgres user.");
 *
 * Messages name the object that failed (file, object key, WAL name, backup
 * id). "%m" expands to strerror(errno) as captured on entry. Nothing secret
 * (keys, tokens, passwords) is ever put into a message.
 */

#include <stdarg.h>
#include "common/status.h"

#define PC_ERR_MSG_MAX 1024

typedef struct pc_error {
    pc_status status;
    int sys_errno;                  /* errno at the failure site, 0 when none */
    char message[PC_ERR_MSG_MAX];   /* one line, no trailing period */
    char detail[PC_ERR_MSG_MAX];    /* optional: what was seen */
    char hint[PC_ERR_MSG_MAX];      /* optional: what to do */
    int quiet;                      /* an expected outcome: main logs it at INFO, not as an error */
} pc_error;

#if defined(__GNUC__)
#define PC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PC_PRINTF(f, a)
#endif

/* Record an error (replacing any earlier one on this thread) and return st. */
pc_status pc_err(pc_status st, const char *fmt, ...) PC_PRINTF(2, 3);
pc_status pc_verr(pc_status st, const char *fmt, va_list ap) PC_PRINTF(2, 0);
/* Add detail / hint lines to the current record. */
void pc_err_detail(const char *fmt, ...) PC_PRINTF(1, 2);
void pc_err_hint(const char *fmt, ...) PC_PRINTF(1, 2);
/*
 * Mark the current record as an expected outcome (wal-restore's "not in the
 * archive"): main still exits with its status but logs it at INFO.
 */
void pc_err_quiet(void);
/* Prefix the current message with context: "uploading X: <old message>". */
void pc_err_context(const char *fmt, ...) PC_PRINTF(1, 2);

/* The current thread's record (status PC_OK when none). */
const pc_error *pc_err_get(void);
void pc_err_clear(void);
void pc_err_save(pc_error *dst);
void pc_err_restore(const pc_error *src);

/* Print the record as "error: ...", "DETAIL: ...", "HINT: ..." (or one JSON line) via the logger. */
void pc_err_print(const pc_error *e);

#endif
