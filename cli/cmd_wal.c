/*
 * WAL commands: wal-archive, wal-restore, check-wal-archive, catalog, and
 * their barman-cloud names (barman-cloud-wal-archive URL SERVER WAL_PATH,
 * barman-cloud-wal-restore URL SERVER WAL_NAME WAL_DEST,
 * barman-cloud-check-wal-archive URL SERVER).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/archiver.h"
#include "archiver/ops.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "restore/wal_restore.h"
#include "s3/repo.h"

/* ---- barman-cloud compatibility: cli/barman.c (cli_barman_common, cli_barman_test) ---- */

/* ---- wal-archive ---- */

static pc_status run_archive(cli_ctx *ctx, const char *path)
{
    arc_ctx *a;
    pc_status st = arc_ctx_new(ctx->cfg, &a);
    if (st)
        return st;
    arc_wal_result res;
    int64_t t0 = pc_now_mono_us();
    st = arc_wal_archive(a, path, &res);
    if (st == PC_OK && pc_log_enabled(PC_LOG_DEBUG)) {
        pc_log_field f[] = {PC_F_BOOL("already", res.already), PC_F_INT("batch", res.batch),
                            PC_F_INT("batch_failed", res.batch_failed),
                            PC_F_DBL("seconds", (double)(pc_now_mono_us() - t0) / 1e6)};
        pc_log_fields(PC_LOG_DEBUG, f, sizeof f / sizeof f[0], "wal-archive %s done", path);
    }
    arc_ctx_free(a);
    return st;
}

pc_status cmd_wal_archive(cli_ctx *ctx)
{
    return run_archive(ctx, ctx->pos[0]);
}

pc_status cmd_barman_wal_archive(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    if (ctx->npos <= first) {
        pc_err(PC_E_USAGE, "the following arguments are required: wal_path");
        return PC_E_USAGE;
    }
    return run_archive(ctx, ctx->pos[first]);
}

/* ---- wal-restore ---- */

static pc_status run_restore(cli_ctx *ctx, const char *name, const char *dest)
{
    rst_wal_ctx *c;
    pc_status st = rst_wal_ctx_new(ctx->cfg, &c);
    if (st)
        return st;
    rst_wal_opts o = {.no_partial = cli_opt_count(ctx, "no-partial") > 0};
    rst_wal_result res;
    st = rst_wal_restore(c, name, dest, &o, &res);
    if (st == PC_E_NOT_FOUND)
        pc_err_quiet(); /* the normal end of recovery, or of a timeline search */
    rst_wal_ctx_free(c);
    return st;
}

pc_status cmd_wal_restore(cli_ctx *ctx)
{
    return run_restore(ctx, ctx->pos[0], ctx->pos[1]);
}

pc_status cmd_barman_wal_restore(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    if (ctx->npos != first + 2) {
        pc_err(PC_E_USAGE, "the following arguments are required: wal_name, wal_dest");
        return PC_E_USAGE;
    }
    st = run_restore(ctx, ctx->pos[first], ctx->pos[first + 1]);
    if (st == PC_E_NO_BUCKET)
        st = PC_E_NOT_FOUND; /* barman-cloud-wal-restore: a missing bucket is exit 1 */
    return st;
}

/* ---- check-wal-archive ---- */

static pc_status run_check(cli_ctx *ctx)
{
    uint32_t tli = 0;
    const char *t = cli_opt_str(ctx, "timeline");
    if (t) {
        int64_t v;
        pc_status st = pc_parse_int(t, 1, UINT32_MAX, &v);
        if (st) {
            pc_err_context("invalid --timeline");
            return st;
        }
        tli = (uint32_t)v;
    }
    arc_ctx *a;
    pc_status st = arc_ctx_new(ctx->cfg, &a);
    if (st)
        return st;
    st = arc_check_wal_archive(a, tli);
    arc_ctx_free(a);
    if (st == PC_OK)
        pc_info("the WAL archive of server %s is empty%s", pc_cfg_str(ctx->cfg, "server"),
                tli ? " for that timeline" : "");
    return st;
}

pc_status cmd_check_wal_archive(cli_ctx *ctx)
{
    return run_check(ctx);
}

pc_status cmd_barman_check_wal_archive(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (ctx->npos != first) {
        pc_err(PC_E_USAGE, "unrecognized arguments: %s", ctx->pos[first]);
        return PC_E_USAGE;
    }
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    return run_check(ctx);
}

/* ---- catalog ---- */

pc_status cmd_catalog(cli_ctx *ctx)
{
    const char *sub = ctx->pos[0];
    if (strcmp(sub, "sync") != 0) {
        pc_err(PC_E_USAGE, "catalog: unknown subcommand \"%s\"", sub);
        pc_err_hint("Usage: pgcask catalog sync");
        return PC_E_USAGE;
    }
    arc_ctx *a;
    pc_status st = arc_ctx_new(ctx->cfg, &a);
    if (st)
        return st;
    arc_sync_result res;
    ops_sync_result bres = {0};
    st = arc_catalog_sync_wal(a, &res);
    if (st == PC_OK)
        st = arc_catalog_sync_backups(a, &bres);
    if (st == PC_OK) {
        /* the WAL-only line as before when the server has no backup */
        printf("catalog %s: %llu WAL files", arc_ctx_catalog_path(a),
               (unsigned long long)res.wal_objects);
        if (bres.backups || bres.unreadable)
            printf(", %zu backups%s", bres.backups,
                   bres.unreadable ? " (some backup.info could not be read: see the warnings)"
                                   : "");
        printf("\n");
    }
    arc_ctx_free(a);
    return st;
}
