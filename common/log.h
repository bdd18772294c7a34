#ifndef PGCASK_COMMON_LOG_H
#define PGCASK_COMMON_LOG_H

/*
 * Logging to stderr, as text or as JSON lines (--log-format json).
 *
 * Text:  2026-11-21 10:00:00.123 UTC [4242] WARNING: message key=value ...
 * JSON:  {"time":"2026-11-21T10:00:00.123Z","level":"warning","pid":4242,
 *         "msg":"message","key":"value",...}
 *
 * The default level is WARNING (as barman-cloud), so an archive_command that
 * succeeds prints nothing into the PostgreSQL log. -v raises it, -q lowers it.
 * Thread-safe: a line is written with one write(2).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

typedef enum pc_log_level {
    PC_LOG_OFF = -1,
    PC_LOG_ERROR = 0,
    PC_LOG_WARNING = 1,
    PC_LOG_INFO = 2,
    PC_LOG_DEBUG = 3,
    PC_LOG_TRACE = 4,
} pc_log_level;

typedef enum pc_log_format {
    PC_LOG_TEXT = 0,
    PC_LOG_JSON = 1,
} pc_log_format;

/* A structured field attached to a log line. Build with the PC_F_* macros. */
typedef struct pc_log_field {
    const char *key;
    enum { PC_LF_STR, PC_LF_INT, PC_LF_UINT, PC_LF_DBL, PC_LF_BOOL } type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        bool b;
    } v;
} pc_log_field;

#define PC_F_STR(k, x)  ((pc_log_field){.key = (k), .type = PC_LF_STR, .v.s = (x)})
#define PC_F_INT(k, x)  ((pc_log_field){.key = (k), .type = PC_LF_INT, .v.i = (int64_t)(x)})
#define PC_F_UINT(k, x) ((pc_log_field){.key = (k), .type = PC_LF_UINT, .v.u = (uint64_t)(x)})
#define PC_F_DBL(k, x)  ((pc_log_field){.key = (k), .type = PC_LF_DBL, .v.d = (double)(x)})
#define PC_F_BOOL(k, x) ((pc_log_field){.key = (k), .type = PC_LF_BOOL, .v.b = (x)})

void pc_log_set_level(pc_log_level lvl);
pc_log_level pc_log_get_level(void);
void pc_log_set_format(pc_log_format fmt);
pc_log_format pc_log_get_format(void);
/* A short tag printed in every line (the command name), may be NULL. */
void pc_log_set_tag(const char *tag);
const char *pc_log_get_tag(void);
bool pc_log_enabled(pc_log_level lvl);

void pc_log(pc_log_level lvl, const char *fmt, ...) PC_PRINTF(2, 3);
/* A line with structured fields; in text mode the fields follow as key=value. */
void pc_log_fields(pc_log_level lvl, const pc_log_field *fields, size_t nfields, const char *fmt,
                   ...) PC_PRINTF(4, 5);

#define pc_error_log(...) pc_log(PC_LOG_ERROR, __VA_ARGS__)
#define pc_warn(...)      pc_log(PC_LOG_WARNING, __VA_ARGS__)
#define pc_info(...)      pc_log(PC_LOG_INFO, __VA_ARGS__)
#define pc_debug(...)     pc_log(PC_LOG_DEBUG, __VA_ARGS__)

/* Write a line that is already formatted (used by pc_err_print and progress). */
void pc_log_raw_line(const char *line, size_t len);

#endif
