#ifndef PGCASK_COMMON_PROGRESS_H
#define PGCASK_COMMON_PROGRESS_H

/*
 * Progress of long work (backup, restore). On a terminal (stderr is a tty
 * and the log format is text) a bar redrawn at most 4 times a second:
 *   backup  [#######.....]  412.0 MiB / 750.2 MiB  55%  98.1 MiB/s  ETA 0:03
 * With --log-format json, one line every 5 s, at any log level but off:
 *   {"time":...,"level":"info","pid":..,["command":..,]"msg":"progress",
 *    "event":"progress","phase":"backup","bytes_done":..,"bytes_total":..,
 *    "rate_bps":..,"eta_s":..,"done":false}
 * (bytes_total and eta_s are null when unknown; the rate is the average since
 * pc_progress_new). Otherwise silent. Thread-safe: workers call
 * pc_progress_add concurrently.
 */

#include <stdint.h>

typedef struct pc_progress pc_progress;

/*
 * total may be 0 when unknown (no percentage or ETA then). Never fails: NULL
 * means "no progress" (also returned when nothing would be shown, or logging
 * is off), and every function accepts NULL. PGCASK_PROGRESS_INTERVAL_MS
 * overrides both intervals (tests use 0 to see every update).
 */
pc_progress *pc_progress_new(const char *phase, uint64_t total);
void pc_progress_set_total(pc_progress *p, uint64_t total);
void pc_progress_add(pc_progress *p, uint64_t bytes);
/* Final line (terminal: newline after the bar; JSON: one last record with "done":true). */
void pc_progress_done(pc_progress *p);
void pc_progress_free(pc_progress *p); /* NULL is a no-op */

#endif
