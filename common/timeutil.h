#ifndef PGCASK_COMMON_TIMEUTIL_H
#define PGCASK_COMMON_TIMEUTIL_H

/* Clocks and time formats. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "common/status.h"

/* Monotonic milliseconds / microseconds since an arbitrary origin. */
int64_t pc_now_mono_ms(void);
int64_t pc_now_mono_us(void);
/* Wall clock, microseconds since the epoch. Tests may override with PGCASK_FAKE_NOW (epoch
 * seconds). */
int64_t pc_now_us(void);
void pc_sleep_ms(int64_t ms);

/* "2026-11-21T10:00:00Z" / "2026-11-21T10:00:00.123456+00:00" style outputs (UTC). */
void pc_time_iso8601(int64_t epoch_us, bool with_usec, char *out, size_t outlen);
/* barman's str(datetime): "2026-11-21 10:00:00.123456+00:00" (usec omitted when 0). */
void pc_time_barman(int64_t epoch_us, char *out, size_t outlen);
/* Python ctime() as barman's JSON uses: "Sat Nov 21 10:00:00 2026" (UTC). */
void pc_time_ctime(int64_t epoch_us, char *out, size_t outlen);
/* Barman backup id YYYYMMDDTHHMMSS in UTC. */
void pc_time_backup_id(int64_t epoch_us, char *out, size_t outlen);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t pc_days_from_civil(int64_t y, int m, int d);
void pc_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/*
 * Parse a timestamp as a DBA writes it or PostgreSQL prints it:
 * "2026-11-21 10:00:00", "2026-11-21T10:00:00.5Z", "...+02", "...+05:30",
 * "2026-11-21" (midnight). Without a zone it is UTC. PC_E_USAGE otherwise.
 */
pc_status pc_time_parse(const char *text, int64_t *epoch_us);

#endif
