/*
 * pgcask sidecar: serve CNPG-I on a unix socket (plugin-grpc/sidecar.h), or,
 * as `pgcask sidecar healthcheck`, ask a running sidecar whether it serves:
 * the container's startup probe.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/config.h"
#include "common/error.h"
#include "common/fsutil.h"

#ifdef PGCASK_HAVE_SIDECAR

#include "plugin-grpc/sidecar.h"

/* The probe runs every few seconds; a sidecar that cannot answer this fast is not ready. */
#define HEALTHCHECK_TIMEOUT_MS 3000

/*
 * In a CNPG pod the root file system is read-only and /controller is the
 * writable volume every container of the pod shares (CNPG keeps its own
 * spool there too): the catalog and spool go there unless state-dir is set.
 */
#define CNPG_CONTROLLER_DIR "/controller"
#define CNPG_STATE_DIR      "/controller/pgcask"

static pc_status default_state_dir(pc_cfg *cfg)
{
    if (pc_cfg_isset(cfg, "state-dir") || !pc_is_dir(CNPG_CONTROLLER_DIR) ||
        access(CNPG_CONTROLLER_DIR, W_OK | X_OK) != 0)
        return PC_OK;
    return pc_cfg_set(cfg, "state-dir", CNPG_STATE_DIR, PC_CFG_SRC_DEFAULT);
}

pc_status cmd_sidecar(cli_ctx *ctx)
{
    sc_opts o = {
        .plugin_dir = cli_opt_str(ctx, "plugin-dir"),
        .plugin_name = cli_opt_str(ctx, "plugin-name"),
        .mode = SC_MODE_INSTANCE,
    };
    bool health = ctx->npos == 1 && strcmp(ctx->pos[0], "healthcheck") == 0;
    if (ctx->npos == 1 && !health) {
        pc_err(PC_E_USAGE, "sidecar: unknown subcommand \"%s\"", ctx->pos[0]);
        pc_err_hint("The only subcommand is healthcheck.");
        return PC_E_USAGE;
    }
    if (health) {
        if (cli_opt_str(ctx, "mode") || cli_opt_str(ctx, "workers"))
            return pc_err(PC_E_USAGE, "sidecar healthcheck: --mode and --workers apply to the "
                                      "sidecar itself");
        char *path = sc_socket_path(&o);
        if (!path)
            return PC_E_INTERNAL;
        pc_status st = sc_healthcheck(path, HEALTHCHECK_TIMEOUT_MS);
        free(path);
        return st;
    }
    const char *mode = cli_opt_str(ctx, "mode");
    if (mode) {
        pc_status st = sc_mode_parse(mode, &o.mode);
        if (st != PC_OK)
            return st;
    }
    const char *workers = cli_opt_str(ctx, "workers");
    if (workers) {
        int64_t n;
        if (pc_parse_int(workers, 1, 64, &n) != PC_OK) {
            pc_err(PC_E_USAGE, "sidecar: invalid --workers \"%s\"", workers);
            pc_err_hint("Give a number from 1 to 64.");
            return PC_E_USAGE;
        }
        o.workers = (int)n;
    }
    pc_status st = default_state_dir(ctx->cfg);
    if (st != PC_OK)
        return st;
    return sc_run(ctx->cfg, &o);
}

#else

/*
 * The lean pgcask does not link gRPC (its C++ runtime and ~50 libraries
 * would cost every archive_command call milliseconds at start-up): the
 * sidecar is the pgcask-sidecar executable installed next to it, built from
 * the same sources with the sidecar compiled in.
 */
pc_status cmd_sidecar(cli_ctx *ctx)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return pc_err(PC_E_INTERNAL, "could not find the pgcask executable: %m");
    self[n] = '\0';
    char *dir = pc_dirname(self);
    char *exe = dir ? pc_path_join(dir, "pgcask-sidecar") : NULL;
    free(dir);
    if (!exe)
        return PC_E_INTERNAL;
    char **av = pc_calloc((size_t)ctx->argc + 2, sizeof *av);
    if (!av) {
        free(exe);
        return PC_E_INTERNAL;
    }
    av[0] = exe;
    av[1] = (char *)(uintptr_t) "sidecar";
    for (int i = 1; i < ctx->argc; i++)
        av[i + 1] = ctx->argv[i];
    execv(exe, av);
    pc_err(PC_E_USAGE, "the CNPG-I sidecar is not installed: could not run \"%s\": %m", exe);
    pc_err_hint("Install pgcask-sidecar next to pgcask (cmake --install; it needs a build with "
                "-DPGCASK_WITH_GRPC=ON).");
    free(av);
    free(exe);
    return PC_E_USAGE;
}

#endif
