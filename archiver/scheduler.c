/* The backup scheduler: see scheduler.h and docs/scheduler.md. */
#include "archiver/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/backup.h"
#include "archiver/ops.h"
#include "catalog/catalog.h"
#include "common/cron.h"
#include "common/error.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "compress/compress.h"

#define US_PER_S         INT64_C(1000000)
#define SLEEP_SLICE_MS   200
#define DEFAULT_MAX_SIZE ((uint64_t)100 << 30)
#define DEFAULT_WAL_WAIT (10 * 60 * 1000)

const char *sch_kind_name(sch_kind k)
{
    switch (k) {
    case SCH_FULL:
        return "full";
    case SCH_DIFF:
        return "diff";
    case SCH_INCR:
        return "incr";
    case SCH_NKINDS:
        break;
    }
    return "?";
}

/* ---- the wall clock, optionally sped up for tests ---- */

typedef struct wall_clock {
    int64_t base_us; /* wall time at start */
    int64_t mono0_us;
    int64_t scale; /* PGCASK_SCHEDULER_TIME_SCALE: scheduler seconds per real second */
} wall_clock;

static int64_t wall_now(void *ud)
{
    wall_clock *w = ud;
    return w->base_us + (pc_now_mono_us() - w->mono0_us) * w->scale;
}

static void wall_sleep(void *ud, int64_t until, const atomic_bool *stop)
{
    wall_clock *w = ud;
    for (;;) {
        if (stop && atomic_load(stop))
            return;
        int64_t left_ms = (until - wall_now(w)) / w->scale / 1000;
        if (left_ms <= 0)
            return;
        pc_sleep_ms(left_ms < SLEEP_SLICE_MS ? left_ms : SLEEP_SLICE_MS);
    }
}

/* ---- schedule arithmetic ---- */

/* The first fire time strictly after `after` (µs); INT64_MAX when it never fires. */
static int64_t next_fire(const pc_cron *c, int64_t after)
{
    int64_t next;
    pc_error saved;
    pc_err_save(&saved);
    pc_status st = pc_cron_next(c, after / US_PER_S, &next);
    pc_err_restore(&saved);
    return st == PC_OK ? next * US_PER_S : INT64_MAX;
}

/* The newest fire time in (after, now], or 0 when none (not due). */
static int64_t latest_fire(const pc_cron *c, int64_t after, int64_t now)
{
    int64_t t = next_fire(c, after), last = 0;
    for (int guard = 0; t <= now && guard < 1000000; guard++) {
        last = t;
        t = next_fire(c, t);
    }
    return last;
}

/* ---- the real job ---- */

pc_status sch_backup_job(void *ud, sch_kind kind, const atomic_bool *stop, sch_job_result *res)
{
    pc_cfg *cfg = ud;
    arc_backup_opts o = {
        .host = pc_cfg_str(cfg, "pg-host"),
        .port = pc_cfg_str(cfg, "pg-port"),
        .user = pc_cfg_str(cfg, "pg-user"),
        .dbname = pc_cfg_str(cfg, "pg-dbname"),
        .level = CMP_LEVEL_DEFAULT,
        .fast_checkpoint = pc_cfg_bool(cfg, "immediate-checkpoint"),
        .max_archive_size = DEFAULT_MAX_SIZE,
        .wal_timeout_ms = DEFAULT_WAL_WAIT,
        .create_bucket = true,
        .stop = stop,
        .local = pc_cfg_str(cfg, "pgdata"),
        .type = kind == SCH_FULL   ? CAT_BACKUP_FULL
                : kind == SCH_DIFF ? CAT_BACKUP_DIFF
                                   : CAT_BACKUP_INCR,
    };
    cmp_codec codec;
    pc_status st = cmp_codec_parse(pc_cfg_str(cfg, "backup-compression"), &codec);
    if (st)
        return st;
    o.codec = (int)codec;
    int64_t jobs = pc_cfg_int(cfg, "backup-jobs");
    o.jobs = jobs < 1 ? 1 : jobs > 64 ? 64 : (int)jobs;
    char name[64];
    char id[32];
    pc_time_backup_id(pc_now_us(), id, sizeof id);
    snprintf(name, sizeof name, "scheduled-%s-%s", sch_kind_name(kind), id);
    o.name = name;
    arc_backup_result r;
    memset(&r, 0, sizeof r);
    st = arc_backup(cfg, &o, &r);
    snprintf(res->backup_id, sizeof res->backup_id, "%s", r.backup_id);
    snprintf(res->backup_type, sizeof res->backup_type, "%s",
             cat_backup_type_name((cat_backup_type)r.type));
    res->bytes = r.stored_size;
    return st;
}

/* ---- the loop ---- */

static void log_run(pc_log_level lvl, const char *event, sch_kind kind, int64_t scheduled,
                    pc_status st, const sch_job_result *r, double seconds)
{
    char when[40];
    pc_time_iso8601(scheduled, false, when, sizeof when);
    pc_log_field f[] = {
        PC_F_STR("event", event),
        PC_F_STR("kind", sch_kind_name(kind)),
        PC_F_STR("scheduled_at", when),
        PC_F_STR("status", pc_status_name(st)),
        PC_F_STR("backup_id", r && r->backup_id[0] ? r->backup_id : NULL),
        PC_F_UINT("bytes", r ? r->bytes : 0),
        PC_F_DBL("seconds", seconds),
    };
    size_t n = r ? sizeof f / sizeof f[0] : 3;
    pc_log_fields(lvl, f, n, "%s %s backup (scheduled at %s)", event, sch_kind_name(kind), when);
}

static void retention_after(arc_ctx *a, cat *c, const sch_opts *o, int64_t scheduled)
{
    int64_t id = 0;
    if (cat_run_begin(c, "retention", scheduled, &id) != PC_OK) {
        pc_warn("could not record the retention run: %s", pc_err_get()->message);
        pc_err_clear();
    }
    ops_delete_opts d = {.policy = o->retention, .minimum_redundancy = o->minimum_redundancy};
    ops_delete_result res;
    memset(&res, 0, sizeof res);
    pc_status st = ops_backup_delete(a, &d, NULL, &res);
    if (st == PC_OK)
        pc_info("retention \"%s\": %zu backups and %zu WAL files deleted", o->retention,
                res.backups, res.wals);
    else
        pc_warn("retention \"%s\" failed: %s", o->retention, pc_err_get()->message);
    if (id)
        cat_run_end(c, id, st, 0, NULL, NULL, st ? pc_err_get()->message : NULL);
    pc_err_clear();
}

pc_status sch_run(arc_ctx *a, const sch_opts *o)
{
    pc_cron cron[SCH_NKINDS];
    bool have[SCH_NKINDS] = {false};
    int nhave = 0;
    for (int k = 0; k < SCH_NKINDS; k++) {
        if (!o->schedule[k] || !*o->schedule[k])
            continue;
        pc_status st = pc_cron_parse(o->schedule[k], &cron[k]);
        if (st) {
            pc_err_context("invalid %s-schedule", sch_kind_name((sch_kind)k));
            return st;
        }
        have[k] = true;
        nhave++;
    }
    if (nhave == 0) {
        pc_err(PC_E_USAGE, "no backup schedule is configured");
        pc_err_hint("Set full-schedule (and diff-schedule, incr-schedule), e.g. "
                    "`full-schedule = 0 2 * * *` in the configuration file.");
        return PC_E_USAGE;
    }

    wall_clock wall = {.base_us = pc_now_us(), .mono0_us = pc_now_mono_us(), .scale = 1};
    const char *scale = getenv("PGCASK_SCHEDULER_TIME_SCALE");
    if (scale && atoll(scale) > 1 && atoll(scale) <= 3600) {
        /* Sped-up time runs from a fixed origin (2026-01-01), so that successive processes
         * share one time line and a stopped scheduler finds runs missed while it was down. */
        const int64_t origin = 1767225600LL * US_PER_S;
        wall.scale = atoll(scale);
        if (wall.base_us > origin)
            wall.base_us = origin + (wall.base_us - origin) * wall.scale;
    }
    sch_clock wall_ops = {.now_us = wall_now, .sleep_until = wall_sleep, .ud = &wall};
    const sch_clock *clk = o->clock ? o->clock : &wall_ops;
    sch_job_fn job = o->job ? o->job : sch_backup_job;

    cat *c;
    pc_status st = cat_open(arc_ctx_catalog_path(a), &c);
    if (st)
        return st;

    /* where each schedule stands: its last recorded run, else now (nothing is owed yet) */
    int64_t now = clk->now_us(clk->ud);
    int64_t last_fire[SCH_NKINDS];
    for (int k = 0; k < SCH_NKINDS; k++) {
        last_fire[k] = now;
        if (!have[k])
            continue;
        cat_run r;
        if (cat_run_last(c, sch_kind_name((sch_kind)k), &r) == PC_OK) {
            if (r.scheduled_at > 0 && r.scheduled_at < now)
                last_fire[k] = r.scheduled_at;
            cat_run_clear(&r);
        }
        pc_err_clear();
        int64_t next = next_fire(&cron[k], last_fire[k]);
        char when[40];
        pc_time_iso8601(next == INT64_MAX ? 0 : next, false, when, sizeof when);
        pc_log_fields(PC_LOG_INFO,
                      (pc_log_field[]){PC_F_STR("event", "scheduled"),
                                       PC_F_STR("kind", sch_kind_name((sch_kind)k)),
                                       PC_F_STR("schedule", o->schedule[k]),
                                       PC_F_STR("next", when)},
                      4, "%s backups: \"%s\", next at %s%s", sch_kind_name((sch_kind)k),
                      o->schedule[k], when, next <= now ? " (missed: runs now)" : "");
    }

    int64_t runs = 0;
    st = PC_OK;
    while (!(o->stop && atomic_load(o->stop))) {
        now = clk->now_us(clk->ud);
        /* the biggest kind that is due; the smaller ones due with it are covered by it */
        int run = -1;
        int64_t fire[SCH_NKINDS] = {0};
        for (int k = 0; k < SCH_NKINDS; k++) {
            if (have[k])
                fire[k] = latest_fire(&cron[k], last_fire[k], now);
            if (fire[k] && run < 0)
                run = k;
        }
        if (run >= 0) {
            for (int k = run + 1; k < SCH_NKINDS; k++) {
                if (fire[k]) {
                    pc_info("%s backup due at the same time as a %s backup: skipped",
                            sch_kind_name((sch_kind)k), sch_kind_name((sch_kind)run));
                    last_fire[k] = fire[k];
                }
            }
            last_fire[run] = fire[run];
            int64_t id = 0;
            pc_status rst = cat_run_begin(c, sch_kind_name((sch_kind)run), fire[run], &id);
            if (rst) {
                pc_warn("could not record the run: %s", pc_err_get()->message);
                pc_err_clear();
            }
            log_run(PC_LOG_INFO, "starting", (sch_kind)run, fire[run], PC_OK, NULL, 0);
            sch_job_result res;
            memset(&res, 0, sizeof res);
            int64_t t0 = pc_now_mono_us();
            pc_err_clear();
            pc_status jst = job(o->job_ud, (sch_kind)run, o->stop, &res);
            double secs = (double)(pc_now_mono_us() - t0) / 1e6;
            pc_error jerr;
            pc_err_save(&jerr);
            if (id)
                cat_run_end(c, id, jst, res.bytes, res.backup_id[0] ? res.backup_id : NULL,
                            res.backup_id[0] && res.backup_type[0] ? res.backup_type : NULL,
                            jst ? jerr.message : NULL);
            log_run(jst ? PC_LOG_WARNING : PC_LOG_INFO, jst ? "failed" : "finished", (sch_kind)run,
                    fire[run], jst, &res, secs);
            if (jst)
                pc_warn("%s backup failed: %s", sch_kind_name((sch_kind)run), jerr.message);
            pc_err_clear();
            if (jst == PC_OK && o->retention)
                retention_after(a, c, o, fire[run]);
            runs++;
            if (jst == PC_E_INTERRUPTED)
                break; /* SIGTERM reached the backup first: stop as asked */
            if (o->max_runs && runs >= o->max_runs)
                break;
            if (o->once)
                break; /* one pass: what was due when it started */
            continue;  /* another schedule may have come due while this one ran */
        }
        if (o->once)
            break;
        int64_t wake = INT64_MAX;
        for (int k = 0; k < SCH_NKINDS; k++)
            if (have[k]) {
                int64_t n = next_fire(&cron[k], last_fire[k]);
                if (n < wake)
                    wake = n;
            }
        if (wake == INT64_MAX) {
            st = pc_err(PC_E_USAGE, "none of the schedules ever fires again");
            break;
        }
        clk->sleep_until(clk->ud, wake, o->stop);
    }
    cat_close(c);
    return st;
}
