/*
 * pgcask restore BACKUP DEST, and barman-cloud-restore SOURCE_URL
 * SERVER_NAME BACKUP_ID RECOVERY_DESTINATION: the same restore, the barman
 * name with barman's grammar and exit codes and without writing any
 * recovery configuration (barman-cloud-restore writes none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "restore/restore.h"
#include "s3/repo.h"

#define DEFAULT_JOBS 4

static pc_status parse_jobs(const cli_ctx *ctx, int *jobs)
{
    const char *v = cli_opt_str(ctx, "jobs");
    *jobs = DEFAULT_JOBS;
    if (!v)
        return PC_OK;
    int64_t n;
    pc_status st = pc_parse_int(v, 1, 256, &n);
    if (st) {
        pc_err_context("--jobs");
        return st;
    }
    *jobs = (int)n;
    return PC_OK;
}

/* The repeated --tablespace values, borrowed from ctx (*out malloc'd). */
static pc_status tablespace_rules(const cli_ctx *ctx, const char ***out, size_t *n)
{
    int count = cli_opt_count(ctx, "tablespace");
    *n = 0;
    *out = pc_calloc((size_t)count + 1, sizeof **out);
    if (!*out)
        return PC_E_INTERNAL;
    for (int i = 0; i < count; i++)
        (*out)[(*n)++] = cli_opt_nth(ctx, "tablespace", i);
    return PC_OK;
}

static void fill_target(const cli_ctx *ctx, rst_target *t)
{
    memset(t, 0, sizeof *t);
    t->time = cli_opt_str(ctx, "target-time");
    t->lsn = cli_opt_str(ctx, "target-lsn");
    t->xid = cli_opt_str(ctx, "target-xid");
    t->name = cli_opt_str(ctx, "target-name");
    t->immediate = cli_opt_count(ctx, "target-immediate") > 0;
    t->tli = cli_opt_str(ctx, "target-tli");
    t->action = cli_opt_str(ctx, "target-action");
    t->exclusive = cli_opt_count(ctx, "target-exclusive") > 0;
}

pc_status cmd_restore(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    if (st)
        return st;
    rst_opts o = {.backup = ctx->pos[0], .dest = ctx->pos[1]};
    const char **rules = NULL;
    st = parse_jobs(ctx, &o.jobs);
    st = st ? st : tablespace_rules(ctx, &rules, &o.ntablespaces);
    if (st) {
        free(rules);
        return st;
    }
    o.tablespaces = rules;
    fill_target(ctx, &o.target);
    o.recovery_config = cli_opt_count(ctx, "recovery-config") > 0;
    o.standby = cli_opt_count(ctx, "standby") > 0;
    o.delta = cli_opt_count(ctx, "delta") > 0;
    o.verify_sha256 = cli_opt_count(ctx, "verify-sha256") > 0;
    rst_result r;
    st = rst_restore(ctx->cfg, &o, &r);
    free(rules);
    if (st == PC_OK) {
        printf("restored backup %s into %s: %llu files, %.1f MiB in %.1f s%s\n", r.backup_id,
               o.dest, (unsigned long long)r.files, (double)r.restored_bytes / 1048576.0, r.seconds,
               r.verified ? ", verified against the manifest" : "");
        if (r.chain > 1)
            printf("%s backup: files taken from %llu backups\n", r.type,
                   (unsigned long long)r.chain);
        if (r.delta)
            printf("delta: %llu files (%.1f MiB) kept, %llu entries removed; downloaded %llu "
                   "bytes of the %llu a full restore downloads\n",
                   (unsigned long long)r.kept_files, (double)r.kept_bytes / 1048576.0,
                   (unsigned long long)r.removed, (unsigned long long)r.stored_bytes,
                   (unsigned long long)r.full_bytes);
    }
    return st;
}

/* Replace the status of the current error record, keeping its text. */
static pc_status restatus(pc_status st)
{
    pc_error e;
    pc_err_save(&e);
    e.status = st;
    pc_err_restore(&e);
    return st;
}

pc_status cmd_barman_restore(cli_ctx *ctx)
{
    const char *provider = cli_opt_str(ctx, "cloud-provider");
    if (provider && strcmp(provider, "aws-s3") != 0) {
        pc_err(PC_E_USAGE, "--cloud-provider %s is not supported", provider);
        pc_err_hint("pgcask speaks S3 (aws-s3, the default) and file:// repositories.");
        return PC_E_USAGE;
    }
    pc_status st = pc_cfg_set(ctx->cfg, "repo", ctx->pos[0], PC_CFG_SRC_FLAG);
    st = st ? st : pc_cfg_set(ctx->cfg, "server", ctx->pos[1], PC_CFG_SRC_FLAG);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test") > 0) {
        repo *r;
        if ((st = repo_open_cfg(ctx->cfg, &r)) != PC_OK)
            return st;
        st = repo_check(r);
        repo_free(r);
        /* barman: 2 when the store cannot be reached, 1 when the bucket is missing */
        if (st == PC_E_AUTH)
            return restatus(PC_E_CONNECT);
        if (st == PC_E_NO_BUCKET)
            return restatus(PC_E_NOT_FOUND);
        return st;
    }
    rst_opts o = {.backup = ctx->pos[2], .dest = ctx->pos[3]};
    const char **rules = NULL;
    st = parse_jobs(ctx, &o.jobs);
    st = st ? st : tablespace_rules(ctx, &rules, &o.ntablespaces);
    if (st) {
        free(rules);
        return st;
    }
    o.tablespaces = rules;
    fill_target(ctx, &o.target);
    st = rst_restore(ctx->cfg, &o, NULL);
    free(rules);
    /* exit 2 is for -t only: a failure while restoring is barman's "any other error" */
    if (st == PC_E_CONNECT)
        return restatus(PC_E_REMOTE);
    return st;
}
