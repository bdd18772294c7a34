/* pgcask scheduler (the backup scheduler) and pgcask runs (its history). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "archiver/archiver.h"
#include "archiver/scheduler.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timeutil.h"

static atomic_bool stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

pc_status cmd_scheduler(cli_ctx *ctx)
{
    arc_ctx *a;
    pc_status st = arc_ctx_new(ctx->cfg, &a);
    if (st)
        return st;
    sch_opts o = {
        .schedule = {pc_cfg_str(ctx->cfg, "full-schedule"), pc_cfg_str(ctx->cfg, "diff-schedule"),
                     pc_cfg_str(ctx->cfg, "incr-schedule")},
        .once = cli_opt_count(ctx, "once") > 0,
        .stop = &stop_requested,
        .job_ud = ctx->cfg,
        .retention = pc_cfg_str(ctx->cfg, "retention-policy"),
        .minimum_redundancy = pc_cfg_int(ctx->cfg, "minimum-redundancy"),
    };
    const char *max = cli_opt_str(ctx, "max-runs");
    if (max && (st = pc_parse_int(max, 1, INT64_MAX, &o.max_runs)) != PC_OK) {
        pc_err_context("invalid --max-runs");
        arc_ctx_free(a);
        return st;
    }
    if ((o.schedule[1] || o.schedule[2]) && !pc_cfg_str(ctx->cfg, "pgdata")) {
        arc_ctx_free(a);
        pc_err(PC_E_USAGE, "differential and incremental backups need the data directory");
        pc_err_hint("Set pgdata (--pgdata, PGCASK_PGDATA) so those backups can read it directly.");
        return PC_E_USAGE;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    st = sch_run(a, &o);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (st == PC_OK && atomic_load(&stop_requested))
        pc_info("scheduler stopped");
    arc_ctx_free(a);
    return st;
}

typedef struct runs_out {
    pc_jw *w;
    pc_buf *text;
} runs_out;

static void fmt_time(int64_t us, char *out, size_t len)
{
    if (us > 0)
        pc_time_iso8601(us, false, out, len);
    else
        snprintf(out, len, "-");
}

static pc_status on_run(void *arg, const cat_run *r)
{
    runs_out *o = arg;
    char sched[40], start[40], end[40];
    fmt_time(r->scheduled_at, sched, sizeof sched);
    fmt_time(r->started_at, start, sizeof start);
    fmt_time(r->ended_at, end, sizeof end);
    const char *status = r->ended_at ? pc_status_name(r->status) : "running";
    /* the type of the backup the run made: an incr run with nothing to build on makes a full */
    const char *btype = r->backup_type;
    if (o->w) {
        pc_jw_obj_begin(o->w);
        pc_jw_kint(o->w, "id", r->id);
        pc_jw_kstr(o->w, "kind", r->kind);
        pc_jw_kstr(o->w, "scheduled_at", r->scheduled_at ? sched : NULL);
        pc_jw_kstr(o->w, "started_at", start);
        pc_jw_kstr(o->w, "ended_at", r->ended_at ? end : NULL);
        pc_jw_kstr(o->w, "status", status);
        pc_jw_kuint(o->w, "bytes", r->bytes);
        pc_jw_kstr(o->w, "backup_id", r->backup_id);
        pc_jw_kstr(o->w, "backup_type", btype);
        pc_jw_kstr(o->w, "error", r->error);
        pc_jw_obj_end(o->w);
        return o->w->st;
    }
    return pc_buf_printf(o->text, "%-6lld %-9s %-20s %-20s %-20s %-11s %12llu %-15s %-5s %s\n",
                         (long long)r->id, r->kind, sched, start, end, status,
                         (unsigned long long)r->bytes, r->backup_id ? r->backup_id : "-",
                         btype ? btype : "-", r->error ? r->error : "");
}

pc_status cmd_runs(cli_ctx *ctx)
{
    const char *fmt = cli_opt_str(ctx, "format");
    bool json = fmt && strcmp(fmt, "json") == 0;
    if (fmt && !json && strcmp(fmt, "console") != 0) {
        pc_err(PC_E_USAGE, "invalid --format \"%s\"", fmt);
        pc_err_hint("Use console or json.");
        return PC_E_USAGE;
    }
    int64_t limit = 50;
    const char *l = cli_opt_str(ctx, "limit");
    pc_status st;
    if (l && (st = pc_parse_int(l, 0, 1000000, &limit)) != PC_OK) {
        pc_err_context("invalid --limit");
        return st;
    }
    arc_ctx *a;
    if ((st = arc_ctx_new(ctx->cfg, &a)) != PC_OK)
        return st;
    cat *c;
    st = cat_open(arc_ctx_catalog_path(a), &c);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    pc_jw w;
    runs_out ro = {.text = &out};
    if (st == PC_OK) {
        if (json) {
            pc_jw_init(&w, &out, true);
            ro.w = &w;
            pc_jw_obj_begin(&w);
            pc_jw_key(&w, "runs");
            pc_jw_arr_begin(&w);
        } else {
            pc_buf_printf(&out, "%-6s %-9s %-20s %-20s %-20s %-11s %12s %-15s %-5s %s\n", "ID",
                          "KIND", "SCHEDULED", "STARTED", "ENDED", "STATUS", "BYTES", "BACKUP",
                          "TYPE", "ERROR");
        }
        st = cat_run_list(c, (size_t)limit, on_run, &ro);
        if (json && st == PC_OK) {
            pc_jw_arr_end(&w);
            pc_jw_obj_end(&w);
            st = pc_jw_end(&w);
            pc_buf_append(&out, "\n", 1);
        }
        cat_close(c);
    }
    if (st == PC_OK)
        fwrite(out.data, 1, out.len, stdout);
    pc_buf_free(&out);
    arc_ctx_free(a);
    return st;
}
