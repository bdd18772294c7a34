#ifndef PGCASK_PLUGIN_GRPC_SIDECAR_H
#define PGCASK_PLUGIN_GRPC_SIDECAR_H

/*
 * The CNPG-I sidecar: pgcask serving CloudNativePG's plugin interface over
 * a unix socket in the pod, as plugin-barman-cloud's sidecar does.
 *
 * The socket is <plugin_dir>/<plugin_name>. CNPG lists the plugin directory
 * and takes every file name there as a plugin name, then checks it against
 * the name the plugin reports, so the two are always the same. The default
 * name is plugin-barman-cloud's: a Cluster written for barman-cloud switches
 * to pgcask by changing the sidecar image, nothing else.
 *
 * One sidecar per socket: an exclusive lock on <socket>.lock is held while
 * serving, so a second instance fails with PC_E_BUSY instead of taking over
 * a live socket; a socket left behind by a killed sidecar is replaced. (CNPG
 * registers the .lock file as a plugin name too, but only dials names a
 * Cluster enables, so it is never contacted.)
 */

typedef struct sc_sidecar sc_sidecar;

#include <stdint.h>

#include "common/config.h"
#include "common/status.h"

#define SC_DEFAULT_PLUGIN_DIR  "/plugins"
#define SC_DEFAULT_PLUGIN_NAME "barman-cloud.cloudnative-pg.io"
#define SC_DEFAULT_WORKERS     8

/* Which services the sidecar offers. */
typedef enum sc_mode {
    SC_MODE_INSTANCE = 1, /* in every PostgreSQL pod: WAL, Backup, Metrics */
    SC_MODE_RESTORE = 2,  /* in the restore Job: RestoreJobHooks, WAL */
} sc_mode;

typedef struct sc_opts {
    const char *plugin_dir;  /* NULL: SC_DEFAULT_PLUGIN_DIR */
    const char *plugin_name; /* NULL: SC_DEFAULT_PLUGIN_NAME */
    sc_mode mode;            /* 0: SC_MODE_INSTANCE */
    int workers;             /* calls served at once; 0: SC_DEFAULT_WORKERS */
} sc_opts;

/* "instance" / "restore"; PC_E_USAGE otherwise. */
pc_status sc_mode_parse(const char *text, sc_mode *out);

/* <plugin_dir>/<plugin_name> with the defaults applied (malloc'd). */
char *sc_socket_path(const sc_opts *opts);

/*
 * Take the lock, replace a stale socket, and start serving. cfg is
 * borrowed until sc_sidecar_free. Reads $POD_NAME (this pod's name, as CNPG
 * sets it). PC_E_USAGE for bad options, PC_E_BUSY when another sidecar
 * serves the same socket, PC_E_IO when the socket cannot be created.
 */
pc_status sc_sidecar_start(const pc_cfg *cfg, const sc_opts *opts, sc_sidecar **out);
/*
 * Stop admitting calls, give the calls in flight a grace period, cancel the
 * rest, then remove the socket and release the lock. PC_E_TIMEOUT when a
 * call would not end even after it was cancelled; the sidecar then stays
 * allocated for the handlers still running (sc_sidecar_free leaves it too).
 */
pc_status sc_sidecar_stop(sc_sidecar *s);
/* Stops first when still serving. NULL is a no-op. */
void sc_sidecar_free(sc_sidecar *s);

/* Start, serve until SIGTERM or SIGINT, stop. PC_OK after a clean stop. */
pc_status sc_run(const pc_cfg *cfg, const sc_opts *opts);

/*
 * The container's startup/liveness probe: one grpc.health.v1 Check call on
 * the socket. PC_OK when the sidecar answers SERVING; PC_E_CONNECT when
 * nothing answers in timeout_ms; PC_E_REMOTE for any other answer.
 */
pc_status sc_healthcheck(const char *socket_path, int64_t timeout_ms);

#endif
