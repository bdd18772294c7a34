#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

/* getopt `val` ranges: settings, --no-<bool setting>, command options, globals. */
#define VAL_SETTING 0x1000
#define VAL_NEG     0x2000
#define VAL_CMD     0x3000
#define VAL_CONFIG  0x4000
#define VAL_HELP    0x4001
#define VAL_VERSION 0x4002
#define VAL_VERBOSE 0x4003
#define VAL_QUIET   0x4004

static bool opt_end(const cli_opt *o)
{
    return o->long_name == NULL && o->short_name == 0;
}

const char *cli_opt_str(const cli_ctx *ctx, const char *name)
{
    const char *r = NULL;
    for (size_t i = 0; i < ctx->nvals; i++)
        if (strcmp(ctx->vals[i].name, name) == 0)
            r = ctx->vals[i].value ? ctx->vals[i].value : "";
    return r;
}

int cli_opt_count(const cli_ctx *ctx, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < ctx->nvals; i++)
        if (strcmp(ctx->vals[i].name, name) == 0)
            n++;
    return n;
}

const char *cli_opt_nth(const cli_ctx *ctx, const char *name, int idx)
{
    int n = 0;
    for (size_t i = 0; i < ctx->nvals; i++) {
        if (strcmp(ctx->vals[i].name, name) == 0) {
            if (n == idx)
                return ctx->vals[i].value ? ctx->vals[i].value : "";
            n++;
        }
    }
    return NULL;
}

static void env_of(const char *setting, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "PGCASK_");
    for (const char *p = setting; *p && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    out[n] = '\0';
}

pc_status cli_require(const cli_ctx *ctx, const char *setting)
{
    const pc_cfg_desc *d = pc_cfg_find(setting);
    bool set;
    if (d && d->type == PC_CFG_STRING)
        set = pc_cfg_str(ctx->cfg, setting) != NULL;
    else
        set = pc_cfg_isset(ctx->cfg, setting);
    if (set)
        return PC_OK;
    char ev[96];
    env_of(setting, ev, sizeof ev);
    pc_err(PC_E_USAGE, "%s: no %s given", ctx->cmd->name, setting);
    pc_err_hint("Give --%s, set %s, or put `%s = ...` in the configuration file.", setting, ev,
                setting);
    return PC_E_USAGE;
}

static pc_status add_val(cli_ctx *ctx, const char *name, const char *value)
{
    void *n = pc_realloc(ctx->vals, (ctx->nvals + 1) * sizeof ctx->vals[0]);
    if (!n)
        return PC_E_INTERNAL;
    ctx->vals = n;
    ctx->vals[ctx->nvals].name = name;
    ctx->vals[ctx->nvals].value = value;
    ctx->nvals++;
    return PC_OK;
}

void cli_ctx_free(cli_ctx *ctx)
{
    pc_cfg_free(ctx->cfg);
    free(ctx->vals);
    free(ctx->pos);
    memset(ctx, 0, sizeof *ctx);
}

static pc_log_level parse_level(const char *s, bool *ok)
{
    static const struct {
        const char *n;
        pc_log_level l;
    } t[] = {{"off", PC_LOG_OFF},     {"error", PC_LOG_ERROR}, {"warning", PC_LOG_WARNING},
             {"warn", PC_LOG_WARNING}, {"info", PC_LOG_INFO},   {"debug", PC_LOG_DEBUG},
             {"trace", PC_LOG_TRACE}};
    *ok = true;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(s, t[i].n) == 0)
            return t[i].l;
    *ok = false;
    return PC_LOG_WARNING;
}

static bool cmd_defines_long(const cli_command *cmd, const char *name)
{
    for (const cli_opt *o = cmd->opts; o && !opt_end(o); o++)
        if (o->long_name && strcmp(o->long_name, name) == 0)
            return true;
    return false;
}

void cli_print_help(const cli_command *cmd, const char *prog)
{
    printf("Usage: %s %s\n\n%s\n", prog, cmd->usage, cmd->summary);
    if (cmd->opts && !opt_end(cmd->opts)) {
        printf("\nOptions:\n");
        for (const cli_opt *o = cmd->opts; !opt_end(o); o++) {
            char left[80];
            int n = 0;
            if (o->short_name && o->long_name)
                n = snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->long_name);
            else if (o->short_name)
                n = snprintf(left, sizeof left, "-%c", o->short_name);
            else
                n = snprintf(left, sizeof left, "    --%s", o->long_name);
            if (o->has_arg && n > 0 && (size_t)n < sizeof left)
                snprintf(left + n, sizeof left - (size_t)n, " %s", o->metavar ? o->metavar : "X");
            printf("  %-34s %s\n", left, o->help ? o->help : "");
        }
    }
    printf("\nCommon options:\n");
    printf("  %-34s %s\n", "    --config FILE", "configuration file (default $PGCASK_CONFIG or "
                                                "/etc/pgcask/pgcask.conf)");
    printf("  %-34s %s\n", "-v, --verbose", "more output (repeatable)");
    printf("  %-34s %s\n", "-q, --quiet", "less output (repeatable)");
    printf("  %-34s %s\n", "    --help", "show this help");
    printf("  %-34s %s\n", "-V, --version", "show the version");
    printf("\nSettings (each also PGCASK_<NAME> or NAME = VALUE in the configuration file):\n");
    for (const pc_cfg_desc *d = pc_cfg_table(); d->name; d++) {
        if (cmd_defines_long(cmd, d->name))
            continue;
        char left[80];
        snprintf(left, sizeof left, "    --%s%s", d->name, d->type == PC_CFG_BOOL ? "[=BOOL]" : " X");
        printf("  %-34s %s%s%s%s\n", left, d->help, d->def ? " [default: " : "",
               d->def ? d->def : "", d->def ? "]" : "");
    }
    printf("\nExit codes: see `pgcask help exit-codes`.\n");
}

pc_status cli_parse(const cli_command *cmd, int argc, char **argv, cli_ctx *ctx, bool *exit_now)
{
    pc_status st;
    size_t nset = 0, ncmd = 0;
    const pc_cfg_desc *tab = pc_cfg_table();
    while (tab[nset].name)
        nset++;
    for (const cli_opt *o = cmd->opts; o && !opt_end(o); o++)
        ncmd++;

    *exit_now = false;
    memset(ctx, 0, sizeof *ctx);
    ctx->cmd = cmd;
    ctx->argv0 = argv[0];
    ctx->argc = argc;
    ctx->argv = argv;
    if ((st = pc_cfg_new(&ctx->cfg)) != PC_OK)
        return st;

    struct option *lo = pc_calloc(2 * nset + ncmd + 8, sizeof *lo);
    char *neg_names = pc_calloc(nset, 96);
    pc_buf shorts;
    pc_buf_init(&shorts, 4096);
    if (!lo || !neg_names) {
        free(lo);
        free(neg_names);
        return PC_E_INTERNAL;
    }
    size_t n = 0;
    /* command options first: they win over a setting of the same long name */
    for (size_t i = 0; i < ncmd; i++) {
        const cli_opt *o = &cmd->opts[i];
        if (o->long_name)
            lo[n++] = (struct option){o->long_name, o->has_arg ? required_argument : no_argument,
                                      NULL, (int)(VAL_CMD + i)};
        if (o->short_name) {
            char sc[3] = {(char)o->short_name, o->has_arg ? ':' : '\0', '\0'};
            pc_buf_append_str(&shorts, sc);
        }
    }
    for (size_t i = 0; i < nset; i++) {
        if (cmd_defines_long(cmd, tab[i].name))
            continue;
        bool isbool = tab[i].type == PC_CFG_BOOL;
        lo[n++] = (struct option){tab[i].name, isbool ? optional_argument : required_argument,
                                  NULL, (int)(VAL_SETTING + i)};
        if (isbool) {
            char *nn = neg_names + i * 96;
            snprintf(nn, 96, "no-%s", tab[i].name);
            lo[n++] = (struct option){nn, no_argument, NULL, (int)(VAL_NEG + i)};
        }
    }
    lo[n++] = (struct option){"config", required_argument, NULL, VAL_CONFIG};
    lo[n++] = (struct option){"help", no_argument, NULL, VAL_HELP};
    if (!cmd_defines_long(cmd, "version"))
        lo[n++] = (struct option){"version", no_argument, NULL, VAL_VERSION};
    if (!cmd_defines_long(cmd, "verbose"))
        lo[n++] = (struct option){"verbose", no_argument, NULL, VAL_VERBOSE};
    if (!cmd_defines_long(cmd, "quiet"))
        lo[n++] = (struct option){"quiet", no_argument, NULL, VAL_QUIET};
    lo[n] = (struct option){NULL, 0, NULL, 0};
    /* -v -q -V unless the command takes those letters */
    if (!strchr(pc_buf_cstr(&shorts), 'v'))
        pc_buf_append_str(&shorts, "v");
    if (!strchr(pc_buf_cstr(&shorts), 'q'))
        pc_buf_append_str(&shorts, "q");
    if (!strchr(pc_buf_cstr(&shorts), 'V'))
        pc_buf_append_str(&shorts, "V");

    char optstring[4200];
    /* leading ':' -> missing argument is reported as ':'; GNU permutes by default */
    snprintf(optstring, sizeof optstring, ":%s", pc_buf_cstr(&shorts));
    pc_buf_free(&shorts);

    const char *config_path = NULL;
    int verbose = 0, quiet = 0;
    ctx->pos = pc_calloc((size_t)argc + 1, sizeof *ctx->pos);
    if (!ctx->pos) {
        st = PC_E_INTERNAL;
        goto out;
    }
    optind = 1;
    opterr = 0;
    st = PC_OK;
    for (;;) {
        int longidx = -1;
        int c = getopt_long(argc, argv, optstring, lo, &longidx);
        if (c == -1)
            break;
        if (c == '?') {
            if (optopt)
                st = pc_err(PC_E_USAGE, "%s: unknown option -%c", cmd->name, optopt);
            else
                st = pc_err(PC_E_USAGE, "%s: unknown or ambiguous option \"%s\"", cmd->name,
                            argv[optind - 1]);
            pc_err_hint("Run `%s --help` for the options.", argv[0]);
            goto out;
        }
        if (c == ':') {
            st = pc_err(PC_E_USAGE, "%s: option \"%s\" needs a value", cmd->name, argv[optind - 1]);
            goto out;
        }
        if (c >= VAL_CMD && c < VAL_CONFIG) {
            const cli_opt *o = &cmd->opts[c - VAL_CMD];
            if (o->setting) {
                st = pc_cfg_set(ctx->cfg, o->setting, o->has_arg ? optarg : o->value,
                                PC_CFG_SRC_FLAG);
            } else {
                st = add_val(ctx, o->long_name ? o->long_name : (const char *)"",
                             o->has_arg ? optarg : NULL);
            }
        } else if (c >= VAL_NEG && c < VAL_CMD) {
            st = pc_cfg_set(ctx->cfg, tab[c - VAL_NEG].name, "off", PC_CFG_SRC_FLAG);
        } else if (c >= VAL_SETTING && c < VAL_NEG) {
            const pc_cfg_desc *d = &tab[c - VAL_SETTING];
            st = pc_cfg_set(ctx->cfg, d->name, optarg ? optarg : "on", PC_CFG_SRC_FLAG);
        } else if (c == VAL_CONFIG) {
            config_path = optarg;
        } else if (c == VAL_HELP) {
            cli_print_help(cmd, argv[0]);
            *exit_now = true;
            goto out;
        } else if (c == VAL_VERSION) {
            printf("%s %s\n", cmd->barman ? argv[0] : "pgcask", PGCASK_VERSION);
            *exit_now = true;
            goto out;
        } else if (c == VAL_VERBOSE) {
            verbose++;
        } else if (c == VAL_QUIET) {
            quiet++;
        } else {
            /* a short option: the command's own letters first, then -v -q -V */
            bool found = false;
            for (size_t i = 0; i < ncmd; i++) {
                const cli_opt *o = &cmd->opts[i];
                if (o->short_name == c) {
                    found = true;
                    if (o->setting)
                        st = pc_cfg_set(ctx->cfg, o->setting, o->has_arg ? optarg : o->value,
                                        PC_CFG_SRC_FLAG);
                    else
                        st = add_val(ctx, o->long_name ? o->long_name : "",
                                     o->has_arg ? optarg : NULL);
                    break;
                }
            }
            if (!found) {
                if (c == 'v') {
                    verbose++;
                } else if (c == 'q') {
                    quiet++;
                } else if (c == 'V') {
                    printf("%s %s\n", cmd->barman ? argv[0] : "pgcask", PGCASK_VERSION);
                    *exit_now = true;
                    goto out;
                } else {
                    st = pc_err(PC_E_INTERNAL, "option parser: unexpected code %d", c);
                }
            }
        }
        if (st)
            goto out;
    }
    for (int i = optind; i < argc; i++)
        ctx->pos[ctx->npos++] = argv[i];

    st = pc_cfg_load(ctx->cfg, config_path);
    if (st)
        goto out;

    /* logging: setting, then -v/-q relative to it */
    {
        bool ok;
        const char *fmt = pc_cfg_str(ctx->cfg, "log-format");
        if (fmt && strcmp(fmt, "json") == 0)
            pc_log_set_format(PC_LOG_JSON);
        else if (fmt && strcmp(fmt, "text") != 0) {
            st = pc_err(PC_E_USAGE, "invalid log format \"%s\"", fmt);
            pc_err_hint("Use text or json.");
            goto out;
        }
        const char *lvl = pc_cfg_str(ctx->cfg, "log-level");
        /* the long-running services log their events (each run, each call) by default */
        bool service = strcmp(cmd->name, "scheduler") == 0;
        if (service && !pc_cfg_isset(ctx->cfg, "log-level"))
            lvl = "info";
        pc_log_level l = parse_level(lvl ? lvl : "warning", &ok);
        if (!ok) {
            st = pc_err(PC_E_USAGE, "invalid log level \"%s\"", lvl);
            pc_err_hint("Use error, warning, info, debug or trace.");
            goto out;
        }
        int li = (int)l + verbose - quiet;
        if (li < (int)PC_LOG_OFF)
            li = PC_LOG_OFF;
        if (li > (int)PC_LOG_TRACE)
            li = PC_LOG_TRACE;
        pc_log_set_level((pc_log_level)li);
    }

    if (ctx->npos < cmd->min_pos || (cmd->max_pos >= 0 && ctx->npos > cmd->max_pos)) {
        if (ctx->npos < cmd->min_pos)
            st = pc_err(PC_E_USAGE, "%s: missing arguments", cmd->name);
        else
            st = pc_err(PC_E_USAGE, "%s: unexpected argument \"%s\"", cmd->name,
                        ctx->pos[cmd->max_pos]);
        pc_err_detail("Usage: %s %s", argv[0], cmd->usage);
        pc_err_hint("Run `%s --help` for details.", argv[0]);
        goto out;
    }
out:
    free(lo);
    free(neg_names);
    return st;
}
