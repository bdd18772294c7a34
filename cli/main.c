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

/* Options every barman-cloud entry accepts (cloud_cli.py's common group, S3 part). */
#define BARMAN_COMMON_OPTS                                                                         \
    {"test", 't', CLI_NOARG, NULL, NULL, NULL, "check the connection to the store, then exit"},  \
        {"cloud-provider", 0, CLI_ARG, NULL, NULL, "NAME", "aws-s3 (the only one supported)"},   \
        {"endpoint-url", 0, CLI_ARG, "endpoint-url", NULL, "URL", "S3 endpoint"},                \
        {"aws-profile", 'P', CLI_ARG, "aws-profile", NULL, "NAME", "AWS profile"},               \
        {"profile", 0, CLI_ARG, "aws-profile", NULL, "NAME", "same as --aws-profile"},           \
        {"read-timeout", 0, CLI_ARG, "read-timeout", NULL, "SECONDS", "S3 read timeout"}

/* barman-cloud's compression flags: command-local, mapped in cli/cmd_wal.c. */
#define BARMAN_WAL_COMPRESSION_OPTS                                                                \
    {"gzip", 'z', CLI_NOARG, NULL, NULL, NULL, "compress with gzip"},                             \
        {"bzip2", 'j', CLI_NOARG, NULL, NULL, NULL, "compress with bzip2"},                       \
        {"xz", 0, CLI_NOARG, NULL, NULL, NULL, "compress with xz"},                               \
        {"snappy", 0, CLI_NOARG, NULL, NULL, NULL, "compress with snappy"},                       \
        {"zstd", 0, CLI_NOARG, NULL, NULL, NULL, "compress with zstd"},                           \
        {"lz4", 0, CLI_NOARG, NULL, NULL, NULL, "compress with lz4"}

static const cli_opt wal_restore_opts[] = {
    {"no-partial", 0, CLI_NOARG, NULL, NULL, NULL, "never restore a .partial file for a segment"},
    {0},
};

static const cli_opt check_wal_opts[] = {
    {"timeline", 0, CLI_ARG, NULL, NULL, "N", "only WAL of timeline N or later counts"},
    {0},
};

static const cli_opt barman_wal_archive_opts[] = {
    BARMAN_COMMON_OPTS,
    BARMAN_WAL_COMPRESSION_OPTS,
    {"compression-level", 0, CLI_ARG, "compression-level", NULL, "LEVEL",
     "a number, or low, medium, high"},
    {"encryption", 'e', CLI_ARG, "encryption", NULL, "ENC", "AES256 or aws:kms"},
    {"sse-kms-key-id", 0, CLI_ARG, "sse-kms-key-id", NULL, "ID", "KMS key for aws:kms"},
    {"tag", 0, CLI_ARG, "tag", NULL, "KEY,VALUE", "tag every object (repeatable)"},
    {"tags", 0, CLI_ARG, "tag", NULL, "KEY,VALUE", "deprecated: one KEY,VALUE per --tags"},
    {"history-tag", 0, CLI_ARG, "history-tag", NULL, "KEY,VALUE", "tag .history objects"},
    {"history-tags", 0, CLI_ARG, "history-tag", NULL, "KEY,VALUE",
     "deprecated: one KEY,VALUE per --history-tags"},
    {0},
};

static const cli_opt barman_wal_restore_opts[] = {
    BARMAN_COMMON_OPTS,
    {"no-partial", 0, CLI_NOARG, NULL, NULL, NULL, "never restore a .partial file for a segment"},
    {0},
};

static const cli_opt barman_check_wal_opts[] = {
    BARMAN_COMMON_OPTS,
    {"timeline", 0, CLI_ARG, NULL, NULL, "N", "only WAL of timeline N or later counts"},
    {0},
};

/* Recovery target flags: pgcask restore takes them all, barman-cloud-restore the first three. */
#define RESTORE_TARGET_OPTS                                                                        \
    {"target-time", 0, CLI_ARG, NULL, NULL, "TIME",                                               \
     "recovery target time (UTC unless it has a zone); with auto: the newest backup ending "      \
     "before it"},                                                                                 \
        {"target-lsn", 0, CLI_ARG, NULL, NULL, "LSN",                                             \
         "recovery target LSN; with auto: the newest backup ending before it"},                   \
        {"target-tli", 0, CLI_ARG, NULL, NULL, "TLI",                                             \
         "target timeline: a number, latest or current; with auto: a backup of that timeline"}

static const cli_opt restore_opts[] = {
    {"jobs", 'j', CLI_ARG, NULL, NULL, "N",
     "archives downloaded and unpacked at once [default: 4]"},
    {"tablespace", 0, CLI_ARG, NULL, NULL, "NAME:LOCATION",
     "restore tablespace NAME (or OID) into LOCATION (repeatable)"},
    RESTORE_TARGET_OPTS,
    {"target-xid", 0, CLI_ARG, NULL, NULL, "XID", "recovery target transaction id"},
    {"target-name", 0, CLI_ARG, NULL, NULL, "NAME", "recovery target restore point"},
    {"target-immediate", 0, CLI_NOARG, NULL, NULL, NULL,
     "stop recovery as soon as the backup is consistent"},
    {"target-action", 0, CLI_ARG, NULL, NULL, "ACTION",
     "at the target: pause, promote or shutdown"},
    {"target-exclusive", 0, CLI_NOARG, NULL, NULL, NULL, "stop just before the target"},
    {"recovery-config", 0, CLI_NOARG, NULL, NULL, NULL,
     "write restore_command and the target into postgresql.auto.conf, and recovery.signal"},
    {"standby", 0, CLI_NOARG, NULL, NULL, NULL,
     "with --recovery-config: write standby.signal instead of recovery.signal"},
    {"delta", 0, CLI_NOARG, NULL, NULL, NULL,
     "restore into an existing data directory: keep the files whose size and SHA-256 match the "
     "backup, rewrite the others, remove what the backup does not have"},
    {"verify-sha256", 0, CLI_NOARG, NULL, NULL, NULL,
     "check every restored file against its SHA-256 (default: its CRC-32C when the manifest has "
     "one; the stored archives' SHA-256 is always checked)"},
    {0},
};

static const cli_opt barman_restore_opts[] = {
    BARMAN_COMMON_OPTS,
    {"tablespace", 0, CLI_ARG, NULL, NULL, "NAME:LOCATION",
     "restore tablespace NAME into LOCATION (repeatable)"},
    RESTORE_TARGET_OPTS,
    {"jobs", 0, CLI_ARG, NULL, NULL, "N", "archives downloaded and unpacked at once [default: 4]"},
    {0},
};

/* pgcask backup and barman-cloud-backup share these (cli/cmd_backup.c reads them). */
#define BACKUP_PG_OPTS                                                                             \
    {"host", 'h', CLI_ARG, NULL, NULL, "HOST", "PostgreSQL host or socket directory [PGHOST]"},  \
        {"port", 'p', CLI_ARG, NULL, NULL, "PORT", "PostgreSQL port [PGPORT]"},                   \
        {"user", 'U', CLI_ARG, NULL, NULL, "USER", "PostgreSQL user [PGUSER]"},                   \
        {"dbname", 'd', CLI_ARG, NULL, NULL, "DBNAME",                                            \
         "database name or a full conninfo string [postgres]"},                                   \
        {"name", 'n', CLI_ARG, NULL, NULL, "NAME",                                                \
         "a name for the backup (stored in backup.info)"},                                        \
        {"immediate-checkpoint", 0, CLI_NOARG, NULL, NULL, NULL,                                  \
         "start with a fast checkpoint instead of a spread one"},                                 \
        {"jobs", 'J', CLI_ARG, NULL, NULL, "N",                                                   \
         "compression threads (zstd) and parts uploaded at once [default: 2]"},                   \
        {"max-archive-size", 'S', CLI_ARG, NULL, NULL, "SIZE",                                    \
         "start a new archive part past this stored size [default: 100GB]"},                      \
        {"wal-timeout", 0, CLI_ARG, NULL, NULL, "DURATION",                                       \
         "wait this long for the backup's WAL to be archived [default: 10m]"},                    \
        {"gzip", 'z', CLI_NOARG, NULL, NULL, NULL, "compress the archives with gzip"},            \
        {"bzip2", 'j', CLI_NOARG, NULL, NULL, NULL, "compress the archives with bzip2"},          \
        {"snappy", 0, CLI_NOARG, NULL, NULL, NULL, "compress the archives with snappy"},          \
        {"lz4", 0, CLI_NOARG, NULL, NULL, NULL, "compress the archives with lz4"}

static const cli_opt backup_opts[] = {
    BACKUP_PG_OPTS,
    {"type", 0, CLI_ARG, NULL, NULL, "TYPE",
     "full, diff (files changed since the last full backup) or incr (since the last backup); "
     "diff and incr need --local [default: full]"},
    {"local", 0, CLI_ARG, NULL, NULL, "PGDATA",
     "read the data directory PGDATA on this host between pg_backup_start() and "
     "pg_backup_stop() instead of streaming BASE_BACKUP"},
    {"checksum-all", 0, CLI_NOARG, NULL, NULL, NULL,
     "diff/incr: read every file and compare its SHA-256 with the parent's, not only its size "
     "and mtime"},
    {"zstd", 0, CLI_NOARG, NULL, NULL, NULL, "compress the archives with zstd (the default)"},
    {"compression", 0, CLI_ARG, NULL, NULL, "CODEC",
     "archive codec: zstd, lz4, gzip, bzip2, xz, snappy or none [default: zstd]"},
    {"compression-level", 0, CLI_ARG, NULL, NULL, "LEVEL",
     "a number, or low, medium, high [default: the codec's]"},
    {0},
};

static const cli_opt barman_backup_opts[] = {
    BARMAN_COMMON_OPTS,
    BACKUP_PG_OPTS,
    {"min-chunk-size", 0, CLI_ARG, NULL, NULL, "SIZE", "smallest multipart part size"},
    {"max-bandwidth", 0, CLI_ARG, NULL, NULL, "BYTES", "upload bandwidth limit in bytes/s"},
    {"encryption", 'e', CLI_ARG, "encryption", NULL, "ENC", "AES256 or aws:kms"},
    {"sse-kms-key-id", 0, CLI_ARG, "sse-kms-key-id", NULL, "ID", "KMS key for aws:kms"},
    {"tag", 0, CLI_ARG, "tag", NULL, "KEY,VALUE", "tag every object (repeatable)"},
    {"tags", 0, CLI_ARG, "tag", NULL, "KEY,VALUE", "deprecated: one KEY,VALUE per --tags"},
    {0},
};

static const cli_opt scheduler_opts[] = {
    {"once", 0, CLI_NOARG, NULL, NULL, NULL, "run the job due (or missed) now, if any, then exit"},
    {"max-runs", 0, CLI_ARG, NULL, NULL, "N", "exit after N runs"},
    {0},
};

static const cli_opt runs_opts[] = {
    {"format", 0, CLI_ARG, NULL, NULL, "FMT", "console or json [default: console]"},
    {"limit", 0, CLI_ARG, NULL, NULL, "N", "the newest N runs, 0 for all [default: 50]"},
    {0},
};

static const cli_opt repo_opts[] = {
    {"output", 'o', CLI_ARG, NULL, NULL, "FILE",
     "get: write to FILE (atomically) instead of stdout"},
    {"decompress", 0, CLI_NOARG, NULL, NULL, NULL,
     "get: decompress by the key's extension (.gz .bz2 .zst .lz4 .xz .snappy)"},
    {"delimiter", 'd', CLI_ARG, NULL, NULL, "C", "ls: fold keys at C instead of '/'"},
    {"recursive", 'r', CLI_NOARG, NULL, NULL, NULL, "ls: list every key (no delimiter)"},
    {"long", 'l', CLI_NOARG, NULL, NULL, NULL, "ls: show size, time and ETag"},
    {"meta", 0, CLI_ARG, NULL, NULL, "KEY=VALUE", "put: store user metadata (repeatable)"},
    {"abort", 0, CLI_NOARG, NULL, NULL, NULL, "uploads: abort the unfinished uploads"},
    {0},
};

static const cli_opt sidecar_opts[] = {
    {"plugin-dir", 0, CLI_ARG, NULL, NULL, "DIR",
     "directory of the CNPG-I sockets [default: /plugins]"},
    {"plugin-name", 0, CLI_ARG, NULL, NULL, "NAME",
     "plugin name, also the socket's file name [default: barman-cloud.cloudnative-pg.io]"},
    {"mode", 0, CLI_ARG, NULL, NULL, "MODE",
     "instance (PostgreSQL pods) or restore (the restore Job) [default: instance]"},
    {"workers", 0, CLI_ARG, NULL, NULL, "N", "calls served at once, 1 to 64 [default: 8]"},
    {0},
};

/* Backup operations (cli/cmd_ops.c). */
#define OPS_FORMAT_OPT {"format", 0, CLI_ARG, NULL, NULL, "FORMAT", "console or json [default: console]"}

static const cli_opt backup_list_opts[] = {
    OPS_FORMAT_OPT,
    {"refresh", 0, CLI_NOARG, NULL, NULL, NULL,
     "read the backups from the store (and update the catalog) instead of the catalog"},
    {0},
};

static const cli_opt backup_delete_opts[] = {
    {"backup-id", 'b', CLI_ARG, NULL, NULL, "ID", "delete this backup (an id or a backup name)"},
    {"retention-policy", 'r', CLI_ARG, "retention-policy", NULL, "POLICY",
     "delete what \"REDUNDANCY n\" or \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\" (or 30d, 4w, "
     "3m) makes obsolete"},
    {"minimum-redundancy", 'm', CLI_ARG, "minimum-redundancy", NULL, "N",
     "never leave fewer than N DONE backups [default: 0]"},
    {"dry-run", 0, CLI_NOARG, NULL, NULL, NULL, "show what would be deleted, delete nothing"},
    {"batch-size", 0, CLI_ARG, NULL, NULL, "N", "objects per delete request, 1 to 1000 [default: 1000]"},
    {0},
};

#define KEEP_OPTS                                                                                  \
    {"target", 0, CLI_ARG, NULL, NULL, "TARGET",                                                  \
     "keep the backup: full (and all WAL after it) or standalone (only its own WAL)"},           \
        {"release", 'r', CLI_NOARG, NULL, NULL, NULL, "remove the keep annotation"},             \
        {"status", 's', CLI_NOARG, NULL, NULL, NULL, "print Keep: full|standalone|nokeep"}

static const cli_opt backup_keep_opts[] = {KEEP_OPTS, {0}};

static const cli_opt audit_opts[] = {
    OPS_FORMAT_OPT,
    {"verify-checksums", 0, CLI_NOARG, NULL, NULL, NULL,
     "download every object and check it against its recorded SHA-256 and the WAL page header"},
    {"jobs", 'j', CLI_ARG, NULL, NULL, "N", "objects checked at once [default: 4]"},
    {0},
};

static const cli_opt metrics_opts[] = {
    {"refresh", 0, CLI_NOARG, NULL, NULL, NULL, "rebuild the catalog from the store first"},
    {0},
};

static const cli_opt barman_list_opts[] = {BARMAN_COMMON_OPTS, OPS_FORMAT_OPT, {0}};

static const cli_opt barman_delete_opts[] = {
    BARMAN_COMMON_OPTS,
    {"backup-id", 'b', CLI_ARG, NULL, NULL, "BACKUP_ID", "the backup to delete"},
    {"retention-policy", 'r', CLI_ARG, NULL, NULL, "POLICY",
     "REDUNDANCY n | RECOVERY WINDOW OF n {DAYS|WEEKS|MONTHS}"},
    {"minimum-redundancy", 'm', CLI_ARG, NULL, NULL, "N",
     "the minimum number of backups that should always be available"},
    {"dry-run", 0, CLI_NOARG, NULL, NULL, NULL, "find the objects to delete, delete nothing"},
    {"batch-size", 0, CLI_ARG, NULL, NULL, "N", "objects per delete request [default: 1000]"},
    {0},
};

static const cli_opt barman_keep_opts[] = {BARMAN_COMMON_OPTS, KEEP_OPTS, {0}};

/*
 * THE command table. Native commands first, then the barman-cloud names
 * (an argv[0] of that name selects the entry directly).
 */
static const cli_command commands[] = {
    {"wal-archive", cmd_wal_archive, no_opts, "[OPTIONS] WAL_PATH",
     "archive_command: archive a WAL file (and other .ready files in parallel).", 1, 1, false},
    {"wal-restore", cmd_wal_restore, wal_restore_opts, "[OPTIONS] WAL_NAME DEST",
     "restore_command: restore a WAL file, prefetching the next ones.", 2, 2, false},
    {"check-wal-archive", cmd_check_wal_archive, check_wal_opts, "[OPTIONS]",
     "Check that the server's WAL archive is empty (creating the bucket if missing).", 0, 0,
     false},
    {"catalog", cmd_catalog, no_opts, "[OPTIONS] sync",
     "Rebuild the local catalog (WAL index and backups) from the repository.", 1, 1, false},
    {"backup", cmd_backup, backup_opts, "[OPTIONS]",
     "Take a backup: full over the replication protocol, or full, diff or incr with --local.", 0,
     0, false},
    {"restore", cmd_restore, restore_opts, "[OPTIONS] BACKUP_ID DEST",
     "Restore a backup (id, name, latest, oldest, last-failed or auto) into an empty directory, "
     "or with --delta into an existing one.",
     2, 2, false},
    {"scheduler", cmd_scheduler, scheduler_opts, "[OPTIONS]",
     "Run full/diff/incr backups on their cron schedules (full-schedule, diff-schedule, "
     "incr-schedule), with retention after each.",
     0, 0, false},
    {"runs", cmd_runs, runs_opts, "[OPTIONS]", "List the scheduler's runs, newest first.", 0, 0,
     false},
    {"repo", cmd_repo, repo_opts,
     "[OPTIONS] check | create | ls [PREFIX] | get KEY | put KEY FILE|- | rm KEY... | head KEY | "
     "uploads [PREFIX]",
     "Act on the repository directly: check, create, ls, get, put, rm, head, uploads.",
     1, -1, false},
    {"sidecar", cmd_sidecar, sidecar_opts, "[OPTIONS] [healthcheck]",
     "Serve CloudNativePG's plugin interface (CNPG-I) on a unix socket; `healthcheck` asks a "
     "running sidecar.",
     0, 1, false},
    {"backup-list", cmd_backup_list, backup_list_opts, "[OPTIONS]",
     "List the backups (barman-cloud-backup-list's outputs), from the catalog.", 0, 0, false},
    {"backup-show", cmd_backup_show, backup_list_opts, "[OPTIONS] BACKUP_ID",
     "Show one backup (id, name, latest, oldest or last-failed).", 1, 1, false},
    {"backup-delete", cmd_backup_delete, backup_delete_opts,
     "[OPTIONS] [-b BACKUP_ID | -r POLICY] [-m N] [--dry-run]",
     "Delete a backup, or what a retention policy makes obsolete, and the WAL no backup needs.",
     0, 0, false},
    {"backup-keep", cmd_backup_keep, backup_keep_opts,
     "[OPTIONS] BACKUP_ID (--target full|standalone | --release | --status)",
     "Keep a backup out of retention (barman's keep annotation), release it, or show it.", 1, 1,
     false},
    {"audit", cmd_audit, audit_opts, "[OPTIONS]",
     "Check that every backup is restorable and the WAL chain unbroken; the recoverability "
     "window.",
     0, 0, false},
    {"metrics", cmd_metrics, metrics_opts, "[OPTIONS]",
     "Print Prometheus metrics of the server (from the catalog).", 0, 0, false},
    {"help", cmd_help, no_opts, "[COMMAND|config|exit-codes]",
     "Show the commands, one command's options, the settings or the exit codes.", 0, 1, false},
    {"barman-cloud-wal-archive", cmd_barman_wal_archive, barman_wal_archive_opts,
     "[OPTIONS] DESTINATION_URL SERVER_NAME WAL_PATH",
     "Archive a WAL file (barman-cloud compatible).", 2, 3, true},
    {"barman-cloud-wal-restore", cmd_barman_wal_restore, barman_wal_restore_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME WAL_NAME WAL_DEST",
     "Restore a WAL file (barman-cloud compatible).", 2, 4, true},
    {"barman-cloud-check-wal-archive", cmd_barman_check_wal_archive, barman_check_wal_opts,
     "[OPTIONS] DESTINATION_URL SERVER_NAME",
     "Check that a WAL archive is empty (barman-cloud compatible).", 2, 2, true},
    {"barman-cloud-restore", cmd_barman_restore, barman_restore_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME BACKUP_ID RECOVERY_DESTINATION",
     "Restore a backup (barman-cloud compatible).", 4, 4, true},
    {"barman-cloud-backup", cmd_barman_backup, barman_backup_opts,
     "[OPTIONS] DESTINATION_URL SERVER_NAME",
     "Back up a PostgreSQL server into the store (barman-cloud compatible).", 2, 2, true},
    {"barman-cloud-backup-list", cmd_barman_backup_list, barman_list_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME", "List the backups (barman-cloud compatible).", 2, 2,
     true},
    {"barman-cloud-backup-show", cmd_barman_backup_show, barman_list_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME BACKUP_ID", "Show a backup (barman-cloud compatible).", 3,
     3, true},
    {"barman-cloud-backup-delete", cmd_barman_backup_delete, barman_delete_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME (-b BACKUP_ID | -r POLICY)",
     "Delete backups and the WAL they needed (barman-cloud compatible).", 2, 2, true},
    {"barman-cloud-backup-keep", cmd_barman_backup_keep, barman_keep_opts,
     "[OPTIONS] SOURCE_URL SERVER_NAME BACKUP_ID (-r | -s | --target full|standalone)",
     "Keep a backup, release it, or show its keep status (barman-cloud compatible).", 3, 3, true},
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
        if (pc_err_get()->quiet)
            pc_info("%s", pc_err_get()->message);
        else
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
