/*
 * pgcask main(): find the command, parse, run, print the error once, exit.
 * Never exit() below this file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"

static const cli_opt no_opts[] = {{0}};

static const cli_opt repo_opts[] = {
    {"output", 'o', CLI_ARG, NULL, NULL, "FILE", "repo get: write to FILE instead of stdout"},
    {"delimiter", 'd', CLI_ARG, NULL, NULL, "C", "repo ls: fold keys at this delimiter"},
    {"recursive", 'r', CLI_NOARG, NULL, NULL, NULL, "repo ls: list every key (no delimiter)"},
    {"long", 'l', CLI_NOARG, NULL, NULL, NULL, "repo ls: show size, time and ETag"},
    {0},
};

/*
 * THE command table. Native commands first, then the barman-cloud names
 * (an argv[0] of that name selects the entry directly).
 */
static const cli_command commands[] = {
    {"repo", cmd_repo, repo_opts, "[OPTIONS] check|ls [PREFIX]|get KEY|put KEY FILE|rm KEY...",
     "Inspect the repository: check connectivity, list, read, write and delete objects.", 1, -1,
     false},
    {"help", cmd_help, no_opts, "[COMMAND|config|exit-codes]",
     "Show the commands, one command's options, the settings or the exit codes.", 0, 1, false},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, false},
};

const cli_command *cli_commands(void)
{
    return commands;
}

static const cli_command *find_command(const char *name)
{
    for (const cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void print_commands(FILE *out)
{
    fprintf(out, "pgcask %s: PostgreSQL WAL archiving and backup to object storage\n\n",
            PGCASK_VERSION);
    fprintf(out, "Usage: pgcask COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
    for (const cli_command *c = commands; c->name; c++)
        if (!c->barman)
            fprintf(out, "  %-22s %s\n", c->name, c->summary);
    fprintf(out, "\nbarman-cloud compatible names (install links them to this binary):\n");
    for (const cli_command *c = commands; c->name; c++)
        if (c->barman)
            fprintf(out, "  %s\n", c->name);
    fprintf(out, "\nRun `pgcask COMMAND --help` for a command's options, `pgcask help config` for "
                 "the settings,\n`pgcask help exit-codes` for the exit codes.\n");
}

static void print_exit_codes(FILE *out)
{
    fprintf(out, "Exit codes of pgcask commands (barman-cloud names use 0-4 only):\n");
    for (int s = 0; s <= PC_STATUS_MAX; s++)
        fprintf(out, "  %2d  %s\n", s, pc_status_name((pc_status)s));
}

static void print_settings(FILE *out)
{
    fprintf(out, "Settings: --NAME on the command line, PGCASK_NAME in the environment,\n"
                 "NAME = VALUE in the configuration file ([pgcask] or [server:NAME]).\n\n");
    for (const pc_cfg_desc *d = pc_cfg_table(); d->name; d++) {
        fprintf(out, "  %-20s %s", d->name, d->help);
        if (d->def)
            fprintf(out, " [default: %s]", d->def);
        if (d->env_alias)
            fprintf(out, " [also: %s]", d->env_alias);
        fputc('\n', out);
    }
}

pc_status cmd_help(cli_ctx *ctx)
{
    if (ctx->npos == 0) {
        print_commands(stdout);
        return PC_OK;
    }
    const char *what = ctx->pos[0];
    if (strcmp(what, "config") == 0 || strcmp(what, "settings") == 0) {
        print_settings(stdout);
        return PC_OK;
    }
    if (strcmp(what, "exit-codes") == 0) {
        print_exit_codes(stdout);
        return PC_OK;
    }
    const cli_command *c = find_command(what);
    if (!c) {
        pc_err(PC_E_USAGE, "unknown command \"%s\"", what);
        pc_err_hint("Run `pgcask help` for the list of commands.");
        return PC_E_USAGE;
    }
    char label[128];
    snprintf(label, sizeof label, "pgcask %s", c->name);
    cli_print_help(c, c->barman ? c->name : label);
    return PC_OK;
}

static int finish(const cli_command *cmd, pc_status st)
{
    if (st != PC_OK) {
        const pc_error *e = pc_err_get();
        if (e->status == PC_OK) {
            /* a status without a record is a bug; still say something useful */
            pc_err(st, "%s failed (%s)", cmd ? cmd->name : "pgcask", pc_status_name(st));
        }
        pc_err_print(pc_err_get());
    }
    fflush(stdout);
    if (cmd && cmd->barman)
        return pc_status_barman_exit(st);
    return (int)st;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *self = pc_basename(argv[0]);
    const cli_command *cmd = NULL;
    int skip = 0;

    if (strncmp(self, "barman-cloud-", 13) == 0) {
        cmd = find_command(self);
        if (!cmd || !cmd->barman) {
            pc_err(PC_E_USAGE, "%s is not a command pgcask provides", self);
            pc_err_hint("Run `pgcask help` for the barman-cloud names pgcask answers to.");
            return finish(NULL, PC_E_USAGE);
        }
    } else {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            print_commands(argc < 2 ? stderr : stdout);
            return argc < 2 ? PC_E_USAGE : PC_OK;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
            printf("pgcask %s\n", PGCASK_VERSION);
            return PC_OK;
        }
        cmd = find_command(argv[1]);
        if (!cmd) {
            pc_err(PC_E_USAGE, "unknown command \"%s\"", argv[1]);
            pc_err_hint("Run `pgcask help` for the list of commands.");
            return finish(NULL, PC_E_USAGE);
        }
        skip = 1;
    }
    pc_log_set_tag(cmd->name);

    cli_ctx ctx;
    bool exit_now = false;
    /* argv[skip] becomes the program name seen by getopt */
    char **av = argv + skip;
    int ac = argc - skip;
    char *progname = skip ? argv[0] : NULL;
    if (skip) {
        /* "pgcask wal-archive" reads better than "wal-archive" in help and errors */
        static char label[256];
        snprintf(label, sizeof label, "%s %s", pc_basename(progname), cmd->name);
        av[0] = label;
    }
    pc_status st = cli_parse(cmd, ac, av, &ctx, &exit_now);
    if (st == PC_OK && !exit_now)
        st = cmd->run(&ctx);
    cli_ctx_free(&ctx);
    return finish(cmd, st);
}
