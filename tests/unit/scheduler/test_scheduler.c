/* The scheduler loop with a fake clock and a scripted job: due times, priorities, catch-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "archiver/archiver.h"
#include "archiver/scheduler.h"
#include "catalog/catalog.h"
#include "common/config.h"
#include "common/error.h"
#include "common/timeutil.h"

#define H (INT64_C(3600) * 1000000)

typedef struct fake {
    int64_t now;
    int nruns;
    sch_kind kinds[64];
    int64_t at[64];
    int64_t job_takes; /* the clock advances this much during a job */
    int fail_at;       /* run number (1-based) that fails, 0 for none */
} fake;

static int64_t f_now(void *ud)
{
    return ((fake *)ud)->now;
}

static void f_sleep(void *ud, int64_t until, const atomic_bool *stop)
{
    fake *f = ud;
    if (until > f->now)
        f->now = until;
}

static pc_status f_job(void *ud, sch_kind kind, const atomic_bool *stop, sch_job_result *res)
{
    (void)stop;
    fake *f = ud;
    f->kinds[f->nruns] = kind;
    f->at[f->nruns] = f->now;
    f->nruns++;
    f->now += f->job_takes;
    snprintf(res->backup_id, sizeof res->backup_id, "20260101T%06u", (unsigned)f->nruns % 1000000u);
    res->bytes = 1000u * (unsigned)f->nruns;
    snprintf(res->backup_type, sizeof res->backup_type, "%s", kind == SCH_FULL ? "full" : "incr");
    if (f->nruns == f->fail_at)
        return pc_err(PC_E_PG, "could not connect to PostgreSQL");
    return PC_OK;
}

typedef struct env {
    char dir[256];
    pc_cfg *cfg;
    arc_ctx *a;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/pgcask-sched-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    assert_int_equal(pc_cfg_new(&e->cfg), PC_OK);
    char url[300];
    snprintf(url, sizeof url, "file://%s/repo", e->dir);
    assert_int_equal(pc_cfg_set(e->cfg, "repo", url, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(e->cfg, "server", "pg1", PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(pc_cfg_set(e->cfg, "state-dir", e->dir, PC_CFG_SRC_FLAG), PC_OK);
    assert_int_equal(arc_ctx_new(e->cfg, &e->a), PC_OK);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    arc_ctx_free(e->a);
    pc_cfg_free(e->cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e);
    return 0;
}

static int64_t at(const char *text)
{
    int64_t us;
    assert_int_equal(pc_time_parse(text, &us), PC_OK);
    return us;
}

static sch_opts opts_with(fake *f, sch_clock *clk, const char *full, const char *diff,
                          const char *incr)
{
    *clk = (sch_clock){.now_us = f_now, .sleep_until = f_sleep, .ud = f};
    return (sch_opts){.schedule = {full, diff, incr}, .job = f_job, .job_ud = f, .clock = clk};
}

/* Nightly full at 02:00, hourly incr: the 02:00 incr is covered by the full. */
static void test_priorities(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-01-01 00:30:00")};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, "0 2 * * *", NULL, "@hourly");
    o.max_runs = 5;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 5);
    sch_kind want[] = {SCH_INCR, SCH_FULL, SCH_INCR, SCH_INCR, SCH_INCR};
    const char *times[] = {"2026-01-01 01:00", "2026-01-01 02:00", "2026-01-01 03:00",
                           "2026-01-01 04:00", "2026-01-01 05:00"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f.kinds[i], want[i]);
        assert_int_equal(f.at[i], at(times[i]));
    }
}

static pc_status count_run(void *arg, const cat_run *r)
{
    int *n = arg;
    (*n)++;
    return PC_OK;
}

/* A long downtime owes one run, not one per missed time; the runs are recorded. */
static void test_missed_runs_once(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-01-01 00:10:00")};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, NULL, NULL, "@hourly");
    o.max_runs = 1;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 1);
    assert_int_equal(f.at[0], at("2026-01-01 01:00"));
    /* the scheduler was down from 01:00 to 05:30 */
    f.now = at("2026-01-01 05:30:00");
    o.max_runs = 0;
    o.once = true;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 2);
    assert_int_equal(f.at[1], at("2026-01-01 05:30")); /* ran at start */
    cat *c;
    assert_int_equal(cat_open(arc_ctx_catalog_path(e->a), &c), PC_OK);
    cat_run r;
    assert_int_equal(cat_run_last(c, "incr", &r), PC_OK);
    assert_int_equal(r.scheduled_at, at("2026-01-01 05:00")); /* the newest missed time */
    assert_int_equal(r.status, PC_OK);
    assert_int_equal(r.bytes, 2000);
    assert_string_equal(r.backup_id, "20260101T000002");
    assert_string_equal(r.backup_type, "incr");
    cat_run_clear(&r);
    int n = 0;
    assert_int_equal(cat_run_list(c, 0, count_run, &n), PC_OK);
    assert_int_equal(n, 2);
    cat_close(c);
    /* nothing more is owed right after */
    o.once = true;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 2);
}

/* A job longer than the interval: never two at once, and the missed times run once. */
static void test_no_overlap(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-01-01 00:59:00"), .job_takes = 3 * H + 60 * 1000000};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, NULL, NULL, "@hourly");
    o.max_runs = 3;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 3);
    assert_int_equal(f.at[0], at("2026-01-01 01:00"));
    assert_int_equal(f.at[1], at("2026-01-01 04:01")); /* right after the first, once */
    assert_int_equal(f.at[2], at("2026-01-01 07:02"));
}

/* A failed run is recorded with its error, and the next one still happens. */
static void test_failure_recorded(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-03-01 11:59:30"), .fail_at = 1};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, "*/30 * * * *", NULL, NULL);
    o.max_runs = 2;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 2);
    assert_int_equal(f.at[1], at("2026-03-01 12:30"));
    cat *c;
    assert_int_equal(cat_open(arc_ctx_catalog_path(e->a), &c), PC_OK);
    cat_run r;
    assert_int_equal(cat_run_last(c, "full", &r), PC_OK);
    assert_int_equal(r.status, PC_OK);
    cat_run_clear(&r);
    cat_close(c);
}

static void test_bad_schedules(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-01-01 00:00:00")};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, "61 * * * *", NULL, NULL);
    assert_int_equal(sch_run(e->a, &o), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "full-schedule"));
    o = opts_with(&f, &clk, NULL, NULL, NULL);
    assert_int_equal(sch_run(e->a, &o), PC_E_USAGE);
    assert_non_null(strstr(pc_err_get()->message, "no backup schedule"));
    o = opts_with(&f, &clk, NULL, "0 0 30 2 *", NULL);
    assert_int_equal(sch_run(e->a, &o), PC_E_USAGE);
    assert_int_equal(f.nruns, 0);
}

static void test_stop(void **state)
{
    env *e = *state;
    fake f = {.now = at("2026-01-01 00:00:30")};
    sch_clock clk;
    sch_opts o = opts_with(&f, &clk, NULL, NULL, "* * * * *");
    atomic_bool stop = true;
    o.stop = &stop;
    assert_int_equal(sch_run(e->a, &o), PC_OK);
    assert_int_equal(f.nruns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missed_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_schedules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
