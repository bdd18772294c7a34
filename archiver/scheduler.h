#ifndef PGCASK_ARCHIVER_SCHEDULER_H
#define PGCASK_ARCHIVER_SCHEDULER_H

/*
 * The backup scheduler (`pgcask scheduler`, and a mode of the sidecar):
 * full / differential / incremental backups on 5-field cron schedules
 * (common/cron.h, UTC), then retention after each success
 * (docs/scheduler.md).
 *
 * - One job at a time: a run that is due while another runs starts after
 *   it, once.
 * - When several schedules are due together, the biggest wins (full over
 *   diff over incr): a full backup makes the incremental of the same
 *   minute pointless.
 * - Missed runs (downtime, a long backup) run once at start, not once per
 *   missed time.
 * - Every run is recorded in the catalog (kind, scheduled time, start, end,
 *   status, bytes, backup id, error): `pgcask runs` lists them.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "archiver/archiver.h"
#include "common/status.h"

/* The job kinds, in priority order. Their names are the catalog's run kinds. */
typedef enum sch_kind {
    SCH_FULL = 0,
    SCH_DIFF = 1,
    SCH_INCR = 2,
    SCH_NKINDS = 3,
} sch_kind;

const char *sch_kind_name(sch_kind k); /* "full" "diff" "incr" */

/* What runs a job; the real one is sch_backup_job. */
typedef struct sch_job_result {
    char backup_id[16];
    char backup_type[8]; /* the type of the backup made: an incr with no full becomes "full" */
    uint64_t bytes;
} sch_job_result;
/* stop: sch_opts.stop, which a long job should watch (may be NULL). */
typedef pc_status (*sch_job_fn)(void *ud, sch_kind kind, const atomic_bool *stop,
                                sch_job_result *res);

/* Time, injectable for tests: both in epoch microseconds. */
typedef struct sch_clock {
    int64_t (*now_us)(void *ud);
    /* Sleep until `until` or until *stop turns true, whichever comes first. */
    void (*sleep_until)(void *ud, int64_t until, const atomic_bool *stop);
    void *ud;
} sch_clock;

typedef struct sch_opts {
    const char *schedule[SCH_NKINDS]; /* cron expressions, NULL when that kind is not scheduled */
    bool once;                        /* run the job due (or missed) now, if any, then return */
    int64_t max_runs;                 /* stop after this many runs (tests), 0 = no limit */
    const atomic_bool *stop;          /* set from outside to stop (SIGTERM); may be NULL */
    sch_job_fn job;                   /* NULL: sch_backup_job with job_ud = the pc_cfg * */
    void *job_ud;
    const char *retention; /* policy applied after each successful job, or NULL */
    int64_t minimum_redundancy;
    const sch_clock *clock; /* NULL: the wall clock (PGCASK_SCHEDULER_TIME_SCALE) */
} sch_opts;

/*
 * Run the scheduler until *stop, `once` or max_runs. Schedules that do not
 * parse are PC_E_USAGE before anything runs; no schedule at all is
 * PC_E_USAGE. A failed job is recorded and the scheduler goes on.
 */
pc_status sch_run(arc_ctx *a, const sch_opts *o);

/*
 * The real job: a backup of that type of the PostgreSQL the settings reach
 * (pg-host, pg-port, pg-user, pg-dbname, else libpq's environment; pgdata
 * set: local mode, which diff and incr need). ud is the settings (pc_cfg *,
 * which arc_backup may adjust).
 */
pc_status sch_backup_job(void *ud, sch_kind kind, const atomic_bool *stop, sch_job_result *res);

#endif
