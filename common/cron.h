#ifndef PGCASK_COMMON_CRON_H
#define PGCASK_COMMON_CRON_H

/*
 * Cron schedules for `pgcask scheduler` and the sidecar: the classic five
 * fields "minute hour day-of-month month day-of-week" with '*', lists
 * (1,15), ranges (1-5), steps after '*' or a range ("1-30/5", and '*'
 * followed by "/15" for every 15 minutes), month and weekday names (JAN-DEC,
 * SUN-SAT, any case; 0 and 7 are Sunday), and the macros @yearly @annually
 * @monthly @weekly @daily @midnight @hourly.
 *
 * Day matching follows Vixie cron: when both day fields are restricted a
 * day matches if either does. A field that starts with '*' counts as
 * unrestricted even with a step, and then both fields must match: with
 * "0 0 '*'/2 * 1" only odd days that are Mondays fire, as in Vixie cron.
 *
 * All times are UTC: a schedule "0 3 * * *" fires at 03:00 UTC.
 */

#include <stdbool.h>
#include <stdint.h>
#include "common/status.h"

/* A parsed expression: a plain value, no resources to free. */
typedef struct pc_cron {
    uint64_t minutes; /* bit m: minute m (0-59) */
    uint32_t hours;   /* bit h: hour h (0-23) */
    uint32_t mdays;   /* bit d: day of month d (1-31) */
    uint16_t months;  /* bit m: month m (1-12) */
    uint8_t wdays;    /* bit w: weekday w (0 = Sunday ... 6) */
    bool mday_star;   /* the day-of-month field started with '*' */
    bool wday_star;   /* the day-of-week field started with '*' */
} pc_cron;

/* Parse text; PC_E_USAGE with a message naming the bad field otherwise. */
pc_status pc_cron_parse(const char *text, pc_cron *out);

/*
 * The first firing time strictly after `after` (epoch seconds, UTC), in
 * epoch seconds. PC_E_USAGE "never fires" for an expression no date can
 * match (0 0 30 2 *): the search covers one 400-year Gregorian cycle, after
 * which the calendar repeats. PC_E_USAGE too when `after` is outside
 * years 1970..9999.
 */
pc_status pc_cron_next(const pc_cron *c, int64_t after, int64_t *next);

#endif
