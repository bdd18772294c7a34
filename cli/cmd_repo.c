/*
 * pgcask repo: act on the repository directly, to debug a setup and to test
 * the backends. Each subcommand is a thin call of one repo.h operation; get
 * and put stream, so an object of any size passes in bounded memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/sink.h"
#include "common/timeutil.h"
#include "compress/compress.h"
#include "s3/repo.h"

/* --decompress output cap: generous for any real WAL or tar, fatal for a decompression bomb. */
#define DECOMPRESS_MIN_CAP (4ULL << 30)
#define DECOMPRESS_RATIO   1024ULL
#define READ_CHUNK         (1024 * 1024)

typedef pc_status (*sub_fn)(cli_ctx *ctx, repo *r, int argc, char **argv);

typedef struct repo_sub {
    const char *name;
    sub_fn run;
    int min_args, max_args; /* after the subcommand's name; -1 = unlimited */
    const char *usage;
} repo_sub;

/* Which subcommand each command-local option belongs to (cli/main.c declares them). */
static const struct {
    const char *opt, *sub;
} opt_scope[] = {
    {"output", "get"}, {"decompress", "get"}, {"delimiter", "ls"},  {"recursive", "ls"},
    {"long", "ls"},    {"meta", "put"},       {"abort", "uploads"},
};

static pc_status sub_check(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    pc_status st = repo_check(r);
    if (st == PC_OK)
        printf("ok: %s reachable, bucket exists\n", repo_url(r));
    return st;
}

static pc_status sub_create(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    pc_status st = repo_create_bucket(r);
    if (st == PC_OK)
        printf("ok: %s exists\n", repo_url(r));
    return st;
}

static void time_text(int64_t us, char *out, size_t len)
{
    if (us)
        pc_time_iso8601(us, false, out, len);
    else
        snprintf(out, len, "-");
}

static pc_status ls_short(const repo_entry *e, void *ud)
{
    printf("%s\n", e->key);
    return PC_OK;
}

static pc_status ls_long(const repo_entry *e, void *ud)
{
    if (e->is_prefix) {
        printf("%12s  %-20s  %s  %s\n", "PRE", "-", "-", e->key);
        return PC_OK;
    }
    char t[40];
    time_text(e->mtime_us, t, sizeof t);
    printf("%12llu  %-20s  %s  %s\n", (unsigned long long)e->size, t,
           e->etag && e->etag[0] ? e->etag : "-", e->key);
    return PC_OK;
}

static pc_status sub_ls(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    const char *delim = cli_opt_str(ctx, "delimiter");
    bool recursive = cli_opt_count(ctx, "recursive") > 0;
    if (recursive && delim) {
        pc_err(PC_E_USAGE, "repo ls: --recursive and --delimiter exclude each other");
        pc_err_hint("--recursive lists every key; --delimiter folds keys at another character.");
        return PC_E_USAGE;
    }
    if (delim && !*delim) {
        pc_err(PC_E_USAGE, "repo ls: --delimiter must not be empty");
        pc_err_hint("Give a delimiter such as / or -, or --recursive to list every key.");
        return PC_E_USAGE;
    }
    if (!delim && !recursive)
        delim = "/";
    repo_list_cb cb = cli_opt_count(ctx, "long") > 0 ? ls_long : ls_short;
    return repo_list(r, argc > 0 ? argv[0] : "", delim, cb, NULL);
}

static pc_status sub_get(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    const char *key = argv[0];
    const char *out = cli_opt_str(ctx, "output");
    bool decompress = cli_opt_count(ctx, "decompress") > 0;
    if (out && !*out) {
        pc_err(PC_E_USAGE, "repo get: --output needs a file name");
        pc_err_hint("Give -o FILE, or leave it out to write to standard output.");
        return PC_E_USAGE;
    }
    cmp_codec codec = CMP_NONE;
    uint64_t cap = 0;
    if (decompress) {
        size_t stem;
        codec = cmp_codec_from_name(key, &stem);
        if (codec == CMP_NONE) {
            pc_info("\"%s\" has no compression extension: writing it as stored", key);
        } else {
            repo_obj info;
            pc_status st = repo_head(r, key, &info);
            if (st)
                return st;
            cap = info.size > DECOMPRESS_MIN_CAP / DECOMPRESS_RATIO ? info.size * DECOMPRESS_RATIO
                                                                    : DECOMPRESS_MIN_CAP;
        }
    }
    pc_sink *sink;
    pc_status st =
        out ? pc_sink_file_new(out, 0600, 0, &sink) : pc_sink_fd_new(STDOUT_FILENO, &sink);
    if (st)
        return st;
    if (codec != CMP_NONE && (st = cmp_decompress_new(codec, cap, sink, &sink)) != PC_OK)
        return st;
    st = repo_get(r, key, 0, 0, sink, NULL);
    st = st ? st : pc_sink_finish(sink);
    pc_sink_free(sink); /* aborts when not finished: no output file is left behind */
    if (st == PC_E_CORRUPT && codec != CMP_NONE && !pc_err_get()->hint[0]) {
        pc_err_context("decompressing \"%s\"", key);
        pc_err_hint("The stored object is truncated or damaged; `pgcask repo get` without "
                    "--decompress fetches its raw bytes.");
    }
    return st;
}

/* Stream an open fd into s and finish s (aborted on failure). */
static pc_status send_fd(int fd, const char *what, pc_sink *s)
{
    unsigned char *chunk = pc_malloc(READ_CHUNK);
    if (!chunk) {
        pc_sink_abort(s);
        return PC_E_INTERNAL;
    }
    pc_status st = PC_OK;
    for (;;) {
        ssize_t n = read(fd, chunk, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = pc_err(PC_E_IO, "could not read %s: %m", what);
            break;
        }
        if (n == 0)
            break;
        if ((st = pc_sink_write(s, chunk, (size_t)n)) != PC_OK)
            break;
    }
    free(chunk);
    if (st == PC_OK)
        return pc_sink_finish(s);
    pc_sink_abort(s);
    return st;
}

static pc_status sub_put(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    const char *key = argv[0], *src = argv[1];
    repo_meta meta[REPO_META_MAX];
    char *kbuf[REPO_META_MAX] = {0};
    size_t nmeta = 0;
    pc_status st = PC_OK;
    int nm = cli_opt_count(ctx, "meta");
    if (nm > REPO_META_MAX) {
        pc_err(PC_E_USAGE, "repo put: %d --meta values, at most %d are stored", nm, REPO_META_MAX);
        pc_err_hint("Combine values, or store the rest in the object itself.");
        return PC_E_USAGE;
    }
    for (int i = 0; i < nm && st == PC_OK; i++) {
        const char *kv = cli_opt_nth(ctx, "meta", i);
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            st = pc_err(PC_E_USAGE, "repo put: invalid --meta \"%s\"", kv);
            pc_err_hint("Write --meta KEY=VALUE, KEY in lower case letters, digits and '-'.");
            break;
        }
        kbuf[nmeta] = pc_strndup(kv, (size_t)(eq - kv));
        if (!kbuf[nmeta]) {
            st = PC_E_INTERNAL;
            break;
        }
        meta[nmeta].key = kbuf[nmeta];
        meta[nmeta].value = eq + 1;
        nmeta++;
    }
    int fd = -1;
    if (st == PC_OK) {
        fd = strcmp(src, "-") == 0 ? STDIN_FILENO : open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            bool missing = errno == ENOENT;
            st = pc_err(missing ? PC_E_USAGE : PC_E_IO, "could not open \"%s\": %m", src);
            pc_err_hint(missing ? "Give an existing file, or - to read standard input."
                                : "Check the file's permissions.");
        }
    }
    if (st == PC_OK) {
        repo_put_opts po = {.meta = meta, .nmeta = nmeta};
        pc_sink *s;
        st = repo_put_stream(r, key, &po, &s);
        if (st == PC_OK) {
            st = send_fd(fd, fd == STDIN_FILENO ? "standard input" : src, s);
            pc_sink_free(s);
        }
        if (st == PC_OK)
            pc_info("stored \"%s\"", key);
    }
    if (fd > STDIN_FILENO)
        close(fd);
    for (size_t i = 0; i < nmeta; i++)
        free(kbuf[i]);
    return st;
}

static pc_status sub_rm(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    return repo_delete(r, (const char *const *)argv, (size_t)argc);
}

static pc_status sub_head(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    repo_obj o;
    pc_status st = repo_head(r, argv[0], &o);
    if (st)
        return st;
    char t[40];
    time_text(o.mtime_us, t, sizeof t);
    printf("key: %s\nsize: %llu\nmtime: %s\netag: %s\n", argv[0], (unsigned long long)o.size, t,
           o.etag[0] ? o.etag : "-");
    for (size_t i = 0; i < o.nmeta && i < REPO_META_MAX; i++)
        printf("meta.%s: %s\n", o.meta_key[i], o.meta_value[i]);
    return PC_OK;
}

static pc_status sub_uploads(cli_ctx *ctx, repo *r, int argc, char **argv)
{
    const char *prefix = argc > 0 ? argv[0] : "";
    size_t n = 0;
    pc_status st;
    if (cli_opt_count(ctx, "abort") > 0) {
        st = repo_abort_uploads(r, prefix, &n);
        if (st == PC_OK)
            printf("aborted %zu\n", n);
    } else {
        st = repo_count_uploads(r, prefix, &n);
        if (st == PC_OK)
            printf("%zu\n", n);
    }
    return st;
}

static const repo_sub subs[] = {
    {"check", sub_check, 0, 0, "check"},
    {"create", sub_create, 0, 0, "create"},
    {"ls", sub_ls, 0, 1, "ls [PREFIX] [-r | -d C] [-l]"},
    {"get", sub_get, 1, 1, "get KEY [-o FILE] [--decompress]"},
    {"put", sub_put, 2, 2, "put KEY FILE|- [--meta KEY=VALUE]..."},
    {"rm", sub_rm, 1, -1, "rm KEY..."},
    {"head", sub_head, 1, 1, "head KEY"},
    {"uploads", sub_uploads, 0, 1, "uploads [PREFIX] [--abort]"},
};

#define NSUBS (sizeof subs / sizeof subs[0])

static pc_status usage_error(const repo_sub *s, const char *what)
{
    pc_err(PC_E_USAGE, "repo %s: %s", s->name, what);
    pc_err_hint("Usage: pgcask repo %s", s->usage);
    return PC_E_USAGE;
}

pc_status cmd_repo(cli_ctx *ctx)
{
    const char *name = ctx->pos[0];
    const repo_sub *s = NULL;
    for (size_t i = 0; i < NSUBS && !s; i++)
        if (strcmp(subs[i].name, name) == 0)
            s = &subs[i];
    if (!s) {
        pc_err(PC_E_USAGE, "unknown repo subcommand \"%s\"", name);
        pc_err_hint("Use check, create, ls, get, put, rm, head or uploads "
                    "(`pgcask repo --help`).");
        return PC_E_USAGE;
    }
    int argc = ctx->npos - 1;
    if (argc < s->min_args)
        return usage_error(s, "missing arguments");
    if (s->max_args >= 0 && argc > s->max_args) {
        char what[300];
        snprintf(what, sizeof what, "unexpected argument \"%.200s\"", ctx->pos[1 + s->max_args]);
        return usage_error(s, what);
    }
    for (size_t i = 0; i < sizeof opt_scope / sizeof opt_scope[0]; i++) {
        if (cli_opt_count(ctx, opt_scope[i].opt) > 0 && strcmp(opt_scope[i].sub, s->name) != 0) {
            char what[160];
            snprintf(what, sizeof what, "option --%s applies to `repo %s` only", opt_scope[i].opt,
                     opt_scope[i].sub);
            return usage_error(s, what);
        }
    }
    pc_status st = cli_require(ctx, "repo");
    if (st)
        return st;
    repo *r;
    if ((st = repo_open_cfg(ctx->cfg, &r)) != PC_OK)
        return st;
    st = s->run(ctx, r, argc, ctx->pos + 1);
    repo_free(r);
    return st;
}
