/*
 * What every barman-cloud-* entry shares (barman/clients/cloud_cli.py):
 * the SOURCE_URL SERVER_NAME positionals, --cloud-provider, the WAL
 * compression flags, and -t/--test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "s3/repo.h"

/* The compression flags of barman-cloud-wal-archive (mutually exclusive there too). */
static const struct {
    const char *flag;
    const char *codec;
} barman_codecs[] = {
    {"gzip", "gzip"},     {"bzip2", "bzip2"}, {"xz", "xz"},
    {"snappy", "snappy"}, {"zstd", "zstd"},   {"lz4", "lz4"},
};

/*
 * Common part of every barman-cloud entry: URL and SERVER positionals,
 * --cloud-provider, the compression flags. Returns the index of the first
 * positional after URL SERVER.
 */
pc_status cli_barman_common(cli_ctx *ctx, int *first)
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
    const char *codec = NULL;
    for (size_t i = 0; st == PC_OK && i < sizeof barman_codecs / sizeof barman_codecs[0]; i++) {
        if (cli_opt_count(ctx, barman_codecs[i].flag) == 0)
            continue;
        if (codec) {
            pc_err(PC_E_USAGE, "compression options --%s and --%s exclude each other", codec,
                   barman_codecs[i].flag);
            return PC_E_USAGE;
        }
        codec = barman_codecs[i].flag;
        st = pc_cfg_set(ctx->cfg, "compression", barman_codecs[i].codec, PC_CFG_SRC_FLAG);
    }
    /* barman-cloud archives uncompressed unless told otherwise */
    if (st == PC_OK && !codec)
        st = pc_cfg_set(ctx->cfg, "compression", "none", PC_CFG_SRC_FLAG);
    *first = 2;
    return st;
}

/*
 * -t/--test: reach the store, nothing else (exit 2 when unreachable). As in
 * barman-cloud, a missing bucket is not a failure of the test: archiving
 * creates it.
 */
pc_status cli_barman_test(cli_ctx *ctx)
{
    repo *r;
    pc_status st = repo_open_cfg(ctx->cfg, &r);
    if (st)
        return st;
    st = repo_check(r);
    if (st == PC_E_NO_BUCKET) {
        pc_info("the store answers; the bucket of %s does not exist yet", repo_url(r));
        pc_err_clear();
        st = PC_OK;
    }
    repo_free(r);
    return st;
}
