/*
 * Backup operations (archiver/ops.h) and their barman-cloud names:
 *   pgcask backup-list [--format console|json] [--refresh]
 *   pgcask backup-show BACKUP_ID [--format console|json] [--refresh]
 *   pgcask backup-delete (-b BACKUP_ID | -r POLICY) [-m N] [--dry-run] [--batch-size N]
 *   pgcask backup-keep BACKUP_ID (--target full|standalone | --release | --status)
 *   pgcask audit [--verify-checksums] [--format console|json]
 *   pgcask metrics [--refresh]
 *   barman-cloud-backup-list SOURCE_URL SERVER_NAME [--format console|json]
 *   barman-cloud-backup-show SOURCE_URL SERVER_NAME BACKUP_ID [--format console|json]
 *   barman-cloud-backup-delete SOURCE_URL SERVER_NAME (-b ID | -r POLICY) [-m N] [--dry-run]
 *   barman-cloud-backup-keep SOURCE_URL SERVER_NAME BACKUP_ID (-r | -s | --target T)
 * The barman names read the store every time, as barman-cloud does; the
 * native list/show answer from the catalog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/ops.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"

/* Replace the status of the current error record, keeping its text. */
static pc_status restatus(pc_status st)
{
    pc_error e;
    pc_err_save(&e);
    e.status = st;
    pc_err_restore(&e);
    return st;
}

static pc_status parse_format(const cli_ctx *ctx, bool *json)
{
    const char *f = cli_opt_str(ctx, "format");
    *json = false;
    if (!f || strcmp(f, "console") == 0)
        return PC_OK;
    if (strcmp(f, "json") == 0) {
        *json = true;
        return PC_OK;
    }
    pc_err(PC_E_USAGE, "invalid --format \"%s\"", f);
    pc_err_hint("Use console or json.");
    return PC_E_USAGE;
}

static pc_status emit(const pc_buf *b)
{
    if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
        return pc_err(PC_E_IO, "could not write the output: %m");
    return PC_OK;
}

static pc_status with_ctx(cli_ctx *ctx, arc_ctx **a)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    return st ? st : arc_ctx_new(ctx->cfg, a);
}

/* ---- list / show ---- */

static pc_status run_list(cli_ctx *ctx, ops_source src)
{
    bool json;
    pc_status st = parse_format(ctx, &json);
    arc_ctx *a = NULL;
    st = st ? st : arc_ctx_new(ctx->cfg, &a);
    ops_list l = {0};
    st = st ? st : ops_list_backups(a, src, &l);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    if (st == PC_OK)
        st = json ? ops_render_list_json(&l, &out) : ops_render_list_console(&l, &out);
    if (st == PC_OK)
        st = emit(&out);
    pc_buf_free(&out);
    ops_list_free(&l);
    arc_ctx_free(a);
    return st;
}

static pc_status run_show(cli_ctx *ctx, const char *ref, ops_source src)
{
    bool json;
    pc_status st = parse_format(ctx, &json);
    arc_ctx *a = NULL;
    st = st ? st : arc_ctx_new(ctx->cfg, &a);
    ops_list l = {0};
    const ops_entry *e = NULL;
    st = st ? st : ops_list_backups(a, src, &l);
    if (st == PC_OK) {
        st = ops_list_find(&l, arc_ctx_server(a), ref, &e);
        if (st == PC_E_NOT_FOUND && !l.refreshed) {
            /* taken elsewhere since the catalog last looked: ask the store */
            pc_err_clear();
            ops_list_free(&l);
            st = ops_list_backups(a, OPS_FROM_STORE, &l);
            st = st ? st : ops_list_find(&l, arc_ctx_server(a), ref, &e);
        }
    }
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    if (st == PC_OK)
        st = json ? ops_render_show_json(e, &out) : ops_render_show_console(e, &out);
    if (st == PC_OK)
        st = emit(&out);
    pc_buf_free(&out);
    ops_list_free(&l);
    arc_ctx_free(a);
    return st;
}

pc_status cmd_backup_list(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    bool refresh = cli_opt_count(ctx, "refresh") > 0;
    return st ? st : run_list(ctx, refresh ? OPS_FROM_STORE : OPS_FROM_CATALOG);
}

pc_status cmd_backup_show(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    bool refresh = cli_opt_count(ctx, "refresh") > 0;
    return st ? st : run_show(ctx, ctx->pos[0], refresh ? OPS_FROM_STORE : OPS_FROM_CATALOG);
}

/* A missing bucket is barman's exit 1 ("Bucket X does not exist"). */
static pc_status barman_status(pc_status st)
{
    if (st == PC_E_NO_BUCKET)
        return restatus(PC_E_NOT_FOUND);
    return st;
}

pc_status cmd_barman_backup_list(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    return barman_status(run_list(ctx, OPS_FROM_STORE));
}

pc_status cmd_barman_backup_show(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    return barman_status(run_show(ctx, ctx->pos[first], OPS_FROM_STORE));
}

/* ---- delete ---- */

static pc_status parse_count(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
    pc_status st = pc_parse_int(v, min, max, out);
    if (st)
        pc_err_context("invalid --%s", opt);
    return st;
}

static pc_status run_delete(cli_ctx *ctx, bool barman)
{
    ops_delete_opts o = {.dry_run = cli_opt_count(ctx, "dry-run") > 0, .barman_output = barman};
    o.backup = cli_opt_str(ctx, "backup-id");
    pc_status st = PC_OK;
    if (barman) {
        o.policy = cli_opt_str(ctx, "retention-policy");
        const char *m = cli_opt_str(ctx, "minimum-redundancy");
        if (m)
            st = parse_count("minimum-redundancy", m, 0, INT32_MAX, &o.minimum_redundancy);
    } else {
        /* -r and -m are the retention-policy / minimum-redundancy settings */
        o.policy = pc_cfg_str(ctx->cfg, "retention-policy");
        if (o.backup && pc_cfg_source_of(ctx->cfg, "retention-policy") != PC_CFG_SRC_FLAG)
            o.policy = NULL; /* -b wins over a configured policy */
        o.minimum_redundancy = pc_cfg_int(ctx->cfg, "minimum-redundancy");
    }
    if (st == PC_OK && o.backup && o.policy) {
        st = pc_err(PC_E_USAGE, "argument -r/--retention-policy: not allowed with argument "
                                "-b/--backup-id");
    } else if (st == PC_OK && !o.backup && !o.policy) {
        pc_err(PC_E_USAGE, "one of the arguments -b/--backup-id -r/--retention-policy is "
                           "required");
        if (!barman)
            pc_err_hint("Or set retention-policy in the configuration file.");
        st = PC_E_USAGE;
    }
    const char *bs = cli_opt_str(ctx, "batch-size");
    if (st == PC_OK && bs) {
        int64_t n;
        st = parse_count("batch-size", bs, 1, 1000, &n);
        o.batch_size = (size_t)n;
    }
    arc_ctx *a = NULL;
    st = st ? st : arc_ctx_new(ctx->cfg, &a);
    ops_delete_result r;
    if (st == PC_OK)
        st = ops_backup_delete(a, &o, stdout, &r);
    if (st == PC_OK && !barman && o.dry_run)
        printf("dry run: %zu backup%s, %zu objects and %zu WAL files would be deleted\n", r.backups,
               r.backups == 1 ? "" : "s", r.objects, r.wals);
    arc_ctx_free(a);
    return st;
}

pc_status cmd_backup_delete(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    return st ? st : run_delete(ctx, false);
}

pc_status cmd_barman_backup_delete(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    st = run_delete(ctx, true);
    /* barman: a policy that does not parse is an input error (3), other failures 1 or 4 */
    return barman_status(st);
}

/* ---- keep ---- */

static pc_status run_keep(cli_ctx *ctx, const char *ref)
{
    const char *target = cli_opt_str(ctx, "target");
    int release = cli_opt_count(ctx, "release"), status = cli_opt_count(ctx, "status");
    if ((target != NULL) + (release > 0) + (status > 0) != 1) {
        pc_err(PC_E_USAGE, "give exactly one of --target, -r/--release, -s/--status");
        return PC_E_USAGE;
    }
    ops_keep k = OPS_KEEP_NONE;
    if (target) {
        if (strcmp(target, "full") == 0)
            k = OPS_KEEP_FULL;
        else if (strcmp(target, "standalone") == 0)
            k = OPS_KEEP_STANDALONE;
        else {
            pc_err(PC_E_USAGE,
                   "argument --target: invalid choice: '%s' (choose from 'full', "
                   "'standalone')",
                   target);
            return PC_E_USAGE;
        }
    }
    arc_ctx *a = NULL;
    pc_status st = arc_ctx_new(ctx->cfg, &a);
    if (st == PC_OK) {
        if (target) {
            st = ops_keep_set(a, ref, k);
        } else if (release) {
            st = ops_keep_release(a, ref);
        } else {
            st = ops_keep_status(a, ref, &k);
            if (st == PC_OK)
                printf("Keep: %s\n", k == OPS_KEEP_NONE ? "nokeep" : ops_keep_name(k));
        }
    }
    arc_ctx_free(a);
    return st;
}

pc_status cmd_backup_keep(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    st = st ? st : cli_require(ctx, "server");
    return st ? st : run_keep(ctx, ctx->pos[0]);
}

pc_status cmd_barman_backup_keep(cli_ctx *ctx)
{
    int first;
    pc_status st = cli_barman_common(ctx, &first);
    if (st)
        return st;
    if (cli_opt_count(ctx, "test"))
        return cli_barman_test(ctx);
    return barman_status(run_keep(ctx, ctx->pos[first]));
}

/* ---- audit, metrics ---- */

pc_status cmd_audit(cli_ctx *ctx)
{
    arc_ctx *a = NULL;
    bool json;
    pc_status st = parse_format(ctx, &json);
    ops_audit_opts o = {.verify_checksums = cli_opt_count(ctx, "verify-checksums") > 0};
    const char *j = cli_opt_str(ctx, "jobs");
    if (st == PC_OK && j) {
        int64_t n;
        st = parse_count("jobs", j, 1, 64, &n);
        o.jobs = (int)n;
    }
    st = st ? st : with_ctx(ctx, &a);
    ops_audit *au = NULL;
    st = st ? st : ops_audit_run(a, &o, &au);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    if (st == PC_OK)
        st = json ? ops_audit_render_json(au, &out) : ops_audit_render_console(au, &out);
    if (st == PC_OK)
        st = emit(&out);
    if (st == PC_OK && !ops_audit_ok(au)) {
        size_t n = ops_audit_problems(au);
        pc_err(PC_E_AUDIT, "audit of server %s: %zu problem%s found", arc_ctx_server(a), n,
               n == 1 ? "" : "s");
        pc_err_hint("The report above names each missing or damaged object.");
        st = PC_E_AUDIT;
    }
    pc_buf_free(&out);
    ops_audit_free(au);
    arc_ctx_free(a);
    return st;
}

pc_status cmd_metrics(cli_ctx *ctx)
{
    arc_ctx *a = NULL;
    pc_status st = with_ctx(ctx, &a);
    pc_buf out;
    pc_buf_init(&out, PC_BUF_NOCAP);
    if (st == PC_OK)
        st = ops_metrics(a, cli_opt_count(ctx, "refresh") > 0, &out);
    if (st == PC_OK)
        st = emit(&out);
    pc_buf_free(&out);
    arc_ctx_free(a);
    return st;
}
