/*
 * pgcask backup, and its barman-cloud name:
 *   barman-cloud-backup [OPTIONS] DESTINATION_URL SERVER_NAME
 * with barman's flags, size syntax and exit codes (0 ok, 1 the backup or
 * the PostgreSQL connection failed, 2 the store is unreachable, 3 usage,
 * 4 anything else). The work is arc_backup (archiver/backup.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/backup.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "compress/compress.h"
#include "s3/repo.h"

#define DEFAULT_JOBS     2
#define MAX_JOBS         64
#define DEFAULT_MAX_SIZE ((uint64_t)100 << 30) /* barman's 100GB */
#define DEFAULT_WAL_WAIT (10 * 60 * 1000)

/* The codec flags, in the order barman documents them; --zstd is pgcask's only. */
static const struct {
    const char *flag;
    cmp_codec codec;
} codec_flags[] = {
    {"gzip", CMP_GZIP}, {"bzip2", CMP_BZIP2}, {"snappy", CMP_SNAPPY},
    {"lz4", CMP_LZ4},   {"zstd", CMP_ZSTD},
};

/*
 * barman's check_size(), quirk included: a "B" suffix is 1024-based
 * ("100GB" = 100 * 1024^3) but an "iB" suffix is 1000-based
 * ("1GiB" = 10^9). Under the barman-cloud name sizes mean what they meant
 * to barman, so that existing scripts keep their archive sizes.
 */
static pc_status barman_size(const char *opt, const char *text, uint64_t *out)
{
    char v[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof v)
        goto bad;
    for (size_t i = 0; i <= n; i++)
        v[i] = (char)toupper((unsigned char)text[i]);
    double value;
    char *end;
    errno = 0;
    size_t keep = n; /* digits to parse as a plain integer */
    double mult = 0;
    if (v[n - 1] == 'B') {
        bool si = n >= 2 && v[n - 2] == 'I';
        size_t idx = si ? 3 : 2;
        if (n < idx)
            goto bad;
        double base = si ? 1000 : 1024, m = base;
        for (const char *q = "KMGTPEZY"; *q && mult == 0; q++, m *= base)
            if (v[n - idx] == *q)
                mult = m;
        keep = mult ? n - idx : n - idx + 1;
    }
    v[keep] = '\0';
    if (mult) {
        value = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(value))
            goto bad;
        value = floor(value * mult);
    } else {
        long long i = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            goto bad;
        value = (double)i;
    }
    if (value < 1 || value > 9.2e18)
        goto bad;
    *out = (uint64_t)value;
    return PC_OK;
bad:
    pc_err(PC_E_USAGE, "argument --%s: '%s' is not a valid size string", opt, text);
    pc_err_hint("Sizes are a number with an optional unit: 100GB (1024-based) or 100GiB "
                "(1000-based, as barman-cloud reads them).");
    return PC_E_USAGE;
}

/* Overwrite a conninfo value in place with 'x', from v (just after the '='). */
static void blank_value(char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '\'') {
        for (v++; *v && *v != '\''; v++) {
            if (*v == '\\' && v[1])
                *v++ = 'x';
            *v = 'x';
        }
        return;
    }
    for (; *v && *v != ' ' && *v != '\t' && *v != '&'; v++)
        *v = 'x';
}

/*
 * The -d value for libpq (malloc'd), with the password in argv itself
 * overwritten, so that it does not show in ps or /proc/<pid>/cmdline:
 * "password=..." in a conninfo or a URI query, and the user:password@ of a
 * URI.
 */
static char *take_dbname(const char *arg)
{
    char *copy = pc_strdup(arg);
    char *s = (char *)(uintptr_t)arg;
    for (char *p = s; (p = strstr(p, "password")) != NULL; p += 8) {
        if (p > s && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '?' && p[-1] != '&')
            continue;
        char *q = p + 8;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=')
            blank_value(q + 1);
    }
    if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
        char *auth = strstr(s, "://") + 3;
        char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
        char *colon = at && (!slash || at < slash) ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon)
            for (char *c = colon + 1; c < at; c++)
                *c = 'x';
    }
    return copy;
}

static pc_status size_opt(const cli_ctx *ctx, const char *name, bool barman, uint64_t *out)
{
    const char *v = cli_opt_str(ctx, name);
    if (!v)
        return PC_OK;
    if (barman)
        return barman_size(name, v, out);
    pc_status st = pc_parse_size(v, out);
    if (st == PC_OK && *out == 0)
        st = pc_err(PC_E_USAGE, "--%s must be positive", name);
    if (st)
        pc_err_context("--%s", name);
    return st;
}

/* *dbname receives the copy of -d that o->dbname points to (the caller frees it). */
static pc_status parse_opts(cli_ctx *ctx, bool barman, arc_backup_opts *o, char **dbname)
{
    pc_status st;
    memset(o, 0, sizeof *o);
    *dbname = NULL;
    o->host = cli_opt_str(ctx, "host");
    o->port = cli_opt_str(ctx, "port");
    o->user = cli_opt_str(ctx, "user");
    /* every -d given is blanked in argv; the last one counts */
    for (int i = 0, n = cli_opt_count(ctx, "dbname"); i < n; i++) {
        free(*dbname);
        if (!(*dbname = take_dbname(cli_opt_nth(ctx, "dbname", i))))
            return PC_E_INTERNAL;
        o->dbname = *dbname;
    }
    if (!o->dbname && barman) {
        o->dbname = "postgres"; /* barman's default, whatever PGDATABASE says */
    }
    o->name = cli_opt_str(ctx, "name");
    if (o->name && (st = arc_backup_check_name(o->name)) != PC_OK)
        return st;
    o->type = CAT_BACKUP_FULL;
    if (!barman) {
        const char *type = cli_opt_str(ctx, "type");
        cat_backup_type t = CAT_BACKUP_FULL;
        if (type && (st = cat_backup_type_parse(type, &t)) != PC_OK) {
            pc_err_clear();
            pc_err(PC_E_USAGE, "invalid --type \"%s\"", type);
            pc_err_hint("Use full, diff or incr.");
            return PC_E_USAGE;
        }
        o->type = (int)t;
        o->local = cli_opt_str(ctx, "local");
        if (o->local && !*o->local)
            return pc_err(PC_E_USAGE, "--local needs the data directory");
        o->checksum_all = cli_opt_count(ctx, "checksum-all") > 0;
        if (t != CAT_BACKUP_FULL && !o->local) {
            pc_err(PC_E_USAGE, "--type %s needs --local PGDATA", type);
            pc_err_hint("Differential and incremental backups read the data directory: run "
                        "pgcask backup --local PGDATA on the database host (or in a container "
                        "that mounts it).");
            return PC_E_USAGE;
        }
        if (o->checksum_all && !o->local) {
            pc_err(PC_E_USAGE, "--checksum-all needs --local PGDATA");
            return PC_E_USAGE;
        }
    }
    o->fast_checkpoint = cli_opt_count(ctx, "immediate-checkpoint") > 0 ||
                         (!barman && pc_cfg_bool(ctx->cfg, "immediate-checkpoint"));
    o->create_bucket = barman;

    /* compression: barman's default is none, pgcask's the backup-compression setting */
    const char *flag = NULL;
    cmp_codec codec = CMP_NONE;
    if (!barman && (st = cmp_codec_parse(pc_cfg_str(ctx->cfg, "backup-compression"), &codec))) {
        pc_err_context("invalid backup-compression setting");
        return st;
    }
    for (size_t i = 0; i < sizeof codec_flags / sizeof codec_flags[0]; i++) {
        if (cli_opt_count(ctx, codec_flags[i].flag) == 0)
            continue;
        if (flag) {
            pc_err(PC_E_USAGE, "compression options --%s and --%s exclude each other", flag,
                   codec_flags[i].flag);
            return PC_E_USAGE;
        }
        flag = codec_flags[i].flag;
        codec = codec_flags[i].codec;
    }
    const char *cname = cli_opt_str(ctx, "compression");
    if (cname) {
        if (flag) {
            pc_err(PC_E_USAGE, "--compression and --%s exclude each other", flag);
            return PC_E_USAGE;
        }
        if ((st = cmp_codec_parse(cname, &codec)) != PC_OK) {
            pc_err_context("invalid --compression");
            pc_err_hint("Use zstd, lz4, gzip, bzip2, xz, snappy or none "
                        "(barman-cloud-restore reads none, gzip, bzip2 and snappy).");
            return st;
        }
    }
    o->codec = codec;
    o->level = CMP_LEVEL_DEFAULT;
    const char *lvl = cli_opt_str(ctx, "compression-level");
    if (lvl && codec != CMP_NONE && (st = cmp_level_parse(codec, lvl, &o->level)) != PC_OK)
        return st;

    int64_t dj = barman ? DEFAULT_JOBS : pc_cfg_int(ctx->cfg, "backup-jobs");
    if (dj < 1 || dj > MAX_JOBS) {
        pc_err(PC_E_USAGE, "backup-jobs must be between 1 and %d", MAX_JOBS);
        return PC_E_USAGE;
    }
    o->jobs = (int)dj;
    const char *jobs = cli_opt_str(ctx, "jobs");
    if (jobs) {
        int64_t j;
        if ((st = pc_parse_int(jobs, 1, MAX_JOBS, &j)) != PC_OK) {
            pc_err_context("invalid --jobs");
            return st;
        }
        o->jobs = (int)j;
    }
    o->max_archive_size = DEFAULT_MAX_SIZE;
    if ((st = size_opt(ctx, "max-archive-size", barman, &o->max_archive_size)) != PC_OK)
        return st;
    o->wal_timeout_ms = DEFAULT_WAL_WAIT;
    const char *wt = cli_opt_str(ctx, "wal-timeout");
    if (wt && (st = pc_parse_duration_ms(wt, &o->wal_timeout_ms)) != PC_OK) {
        pc_err_context("invalid --wal-timeout");
        return st;
    }

    /* barman's part-size floor and bandwidth cap, in barman's size syntax */
    uint64_t v = 0;
    if ((st = size_opt(ctx, "min-chunk-size", barman, &v)) != PC_OK)
        return st;
    if (v > pc_cfg_size(ctx->cfg, "part-size")) {
        char t[32];
        snprintf(t, sizeof t, "%" PRIu64, v);
        if ((st = pc_cfg_set(ctx->cfg, "part-size", t, PC_CFG_SRC_FLAG)) != PC_OK)
            return st;
    }
    if (barman && cli_opt_str(ctx, "max-bandwidth")) {
        if ((st = size_opt(ctx, "max-bandwidth", barman, &v)) != PC_OK)
            return st;
        char t[32];
        snprintf(t, sizeof t, "%" PRIu64, v);
        if ((st = pc_cfg_set(ctx->cfg, "max-bandwidth", t, PC_CFG_SRC_FLAG)) != PC_OK)
            return st;
    }
    return PC_OK;
}

static void report(const arc_backup_result *r)
{
    double mb = (double)r->size / 1e6;
    pc_log_field f[] = {
        PC_F_STR("backup_id", r->backup_id),
        PC_F_STR("type", cat_backup_type_name((cat_backup_type)r->type)),
        PC_F_STR("parent_id", r->parent_id),
        PC_F_UINT("kept_files", r->kept_files),
        PC_F_UINT("kept_bytes", r->kept_bytes),
        PC_F_UINT("bytes", r->size),
        PC_F_UINT("stored_bytes", r->stored_size),
        PC_F_UINT("files", r->files),
        PC_F_UINT("archives", r->archives),
        PC_F_DBL("seconds", r->seconds),
        PC_F_DBL("mb_per_s", r->seconds > 0 ? mb / r->seconds : 0),
    };
    pc_log_fields(PC_LOG_INFO, f, sizeof f / sizeof f[0], "%s backup %s done",
                  cat_backup_type_name((cat_backup_type)r->type), r->backup_id);
}

pc_status cmd_backup(cli_ctx *ctx)
{
    pc_status st = cli_require(ctx, "repo");
    if (st == PC_OK)
        st = cli_require(ctx, "server");
    arc_backup_opts o;
    char *dbname = NULL;
    if (st == PC_OK)
        st = parse_opts(ctx, false, &o, &dbname);
    arc_backup_result r;
    if (st == PC_OK)
        st = arc_backup(ctx->cfg, &o, &r);
    if (st == PC_OK) {
        report(&r);
        printf("%s\n", r.backup_id); /* for scripts: id=$(pgcask backup ...) */
    }
    free(dbname);
    return st;
}

/* -t: barman's test_connectivity: only an unreachable store fails it (exit 2). */
static pc_status barman_test(cli_ctx *ctx)
{
    repo *r;
    pc_status st = repo_open_cfg(ctx->cfg, &r);
    if (st)
        return st;
    st = repo_check(r);
    repo_free(r);
    if (st == PC_E_NO_BUCKET) {
        pc_err_clear(); /* a backup creates the bucket, as barman-cloud-backup does */
        st = PC_OK;
    }
    return st;
}

pc_status cmd_barman_backup(cli_ctx *ctx)
{
    const char *provider = cli_opt_str(ctx, "cloud-provider");
    if (provider && strcmp(provider, "aws-s3") != 0) {
        pc_err(PC_E_USAGE, "cloud provider \"%s\" is not supported", provider);
        pc_err_hint("pgcask speaks S3 (aws-s3) and S3-compatible stores; Azure and Google "
                    "Cloud Storage are not supported.");
        return PC_E_USAGE;
    }
    const char *url = ctx->pos[0];
    if (strncmp(url, "s3://", 5) != 0 || !url[5] || url[5] == '/') {
        pc_err(PC_E_USAGE, "invalid destination URL \"%s\"", url);
        pc_err_hint("barman-cloud URLs have the form s3://bucket/path.");
        return PC_E_USAGE;
    }
    pc_status st = pc_cfg_set(ctx->cfg, "repo", url, PC_CFG_SRC_FLAG);
    if (st == PC_OK)
        st = pc_cfg_set(ctx->cfg, "server", ctx->pos[1], PC_CFG_SRC_FLAG);
    arc_backup_opts o;
    char *dbname = NULL;
    if (st == PC_OK)
        st = parse_opts(ctx, true, &o, &dbname);
    if (st || cli_opt_count(ctx, "test")) {
        free(dbname);
        return st ? st : barman_test(ctx);
    }
    arc_backup_result r;
    st = arc_backup(ctx->cfg, &o, &r);
    free(dbname);
    if (st == PC_OK) {
        report(&r);
        return PC_OK;
    }
    /*
     * barman-cloud-backup exits 1 when PostgreSQL cannot be reached or the
     * backup fails, 2 when the store is unreachable before it starts, 4 for
     * other errors before it starts: PC_E_NOT_FOUND is the status folded to 1.
     */
    if (r.pg_attempted && st != PC_E_USAGE && st != PC_E_CONFIG)
        return PC_E_NOT_FOUND;
    return st;
}
