#ifndef PGCASK_CLI_CLI_H
#define PGCASK_CLI_CLI_H

/*
 * The command-line front end: main() picks a command by argv[0] (the
 * barman-cloud-* names) or argv[1], parses options with GNU getopt_long
 * (options interleaved with positionals, --opt=value, unambiguous prefixes,
 * as Python's argparse accepts), loads the configuration and runs the
 * command. A command returns a pc_status; main prints the error record once
 * and turns the status into the exit code.
 *
 * Every setting of the configuration table (common/config.c) is accepted by
 * every command as --NAME VALUE. A command adds its own options (cli_opt):
 * either aliases that set a setting (barman's -z sets compression=gzip) or
 * command-local options read with cli_opt_str()/cli_opt_count().
 */

#include <stdbool.h>
#include <stddef.h>
#include "common/config.h"
#include "common/status.h"

typedef struct cli_ctx cli_ctx;

enum { CLI_NOARG = 0, CLI_ARG = 1 };

typedef struct cli_opt {
    const char *long_name; /* "gzip", or NULL for a short-only option */
    int short_name;        /* 'z', or 0 */
    int has_arg;           /* CLI_NOARG or CLI_ARG */
    const char *setting;   /* setting it sets, or NULL for a command-local option */
    const char *value;     /* for CLI_NOARG options that set a setting: the value set */
    const char *metavar;   /* "N", "FILE" ... for help */
    const char *help;
} cli_opt;

typedef struct cli_command {
    const char *name;     /* "wal-archive" */
    pc_status (*run)(cli_ctx *ctx);
    const cli_opt *opts;  /* terminated by an entry with long_name == NULL && short_name == 0 */
    const char *usage;    /* "[OPTIONS] WAL_PATH" */
    const char *summary;  /* one line */
    int min_pos, max_pos; /* positional argument count; max -1 = unlimited */
    bool barman;          /* a barman-cloud compatibility entry: exit codes folded to 0-4 */
} cli_command;

struct cli_ctx {
    const cli_command *cmd;
    const char *argv0;
    int argc;    /* the command's argv (argv[0] is the program or "pgcask COMMAND") */
    char **argv;
    pc_cfg *cfg;
    int npos;
    char **pos; /* positional arguments (borrowed from argv) */
    /* command-local option values, in the order given */
    size_t nvals;
    struct {
        const char *name;
        const char *value; /* NULL for flags */
    } *vals;
};

/* Last value of a command-local option (NULL if not given; "" for a flag given). */
const char *cli_opt_str(const cli_ctx *ctx, const char *name);
/* How many times a command-local option was given. */
int cli_opt_count(const cli_ctx *ctx, const char *name);
/* i-th value of a repeatable command-local option, NULL past the end. */
const char *cli_opt_nth(const cli_ctx *ctx, const char *name, int i);

/*
 * Require settings ("repo", "server"): PC_E_USAGE naming the flag, the
 * environment variable and the INI key when missing.
 */
pc_status cli_require(const cli_ctx *ctx, const char *setting);

/* Parse argv for cmd into ctx (cfg loaded). Prints help and sets *exit_now for --help/--version. */
pc_status cli_parse(const cli_command *cmd, int argc, char **argv, cli_ctx *ctx, bool *exit_now);
void cli_ctx_free(cli_ctx *ctx);
void cli_print_help(const cli_command *cmd, const char *prog);

/* The command table (cli/main.c). */
const cli_command *cli_commands(void);

/* Commands, one file each (cli/cmd_*.c). */
pc_status cmd_repo(cli_ctx *ctx);
pc_status cmd_sidecar(cli_ctx *ctx);
pc_status cmd_help(cli_ctx *ctx);
pc_status cmd_scheduler(cli_ctx *ctx);
pc_status cmd_runs(cli_ctx *ctx);
pc_status cmd_wal_archive(cli_ctx *ctx);
pc_status cmd_wal_restore(cli_ctx *ctx);
pc_status cmd_check_wal_archive(cli_ctx *ctx);
pc_status cmd_catalog(cli_ctx *ctx);
pc_status cmd_barman_wal_archive(cli_ctx *ctx);
pc_status cmd_barman_wal_restore(cli_ctx *ctx);
pc_status cmd_barman_check_wal_archive(cli_ctx *ctx);
pc_status cmd_restore(cli_ctx *ctx);
pc_status cmd_barman_restore(cli_ctx *ctx);
pc_status cmd_backup(cli_ctx *ctx);
pc_status cmd_barman_backup(cli_ctx *ctx);
/* cli/cmd_ops.c: backup-list/-show/-delete/-keep, audit, metrics and their barman-cloud names */
pc_status cmd_backup_list(cli_ctx *ctx);
pc_status cmd_backup_show(cli_ctx *ctx);
pc_status cmd_backup_delete(cli_ctx *ctx);
pc_status cmd_backup_keep(cli_ctx *ctx);
pc_status cmd_audit(cli_ctx *ctx);
pc_status cmd_metrics(cli_ctx *ctx);
pc_status cmd_barman_backup_list(cli_ctx *ctx);
pc_status cmd_barman_backup_show(cli_ctx *ctx);
pc_status cmd_barman_backup_delete(cli_ctx *ctx);
pc_status cmd_barman_backup_keep(cli_ctx *ctx);

/*
 * cli/barman.c, for every barman-cloud entry: SOURCE_URL and SERVER_NAME
 * (s3:// only) into the repo and server settings, --cloud-provider, the
 * WAL compression flags; *first is the index of the next positional.
 */
pc_status cli_barman_common(cli_ctx *ctx, int *first);
/* -t/--test: reach the store and exit (PC_E_CONNECT when unreachable; a missing bucket is fine). */
pc_status cli_barman_test(cli_ctx *ctx);

#endif
