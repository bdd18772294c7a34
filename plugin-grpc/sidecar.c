/*
 * The sidecar process: socket ownership (lock, stale socket, removal on
 * exit), signals, and the startup probe client. The protocol work is in
 * service.c, the gRPC plumbing in server.c.
 */
#include "plugin-grpc/sidecar.h"
#include "plugin-grpc/engine.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "health.pb-c.h"
#include "plugin-grpc/cluster.h"
#include "plugin-grpc/server.h"
#include "plugin-grpc/service.h"

/*
 * Largest request accepted. The Cluster JSON is most of it and Kubernetes
 * keeps objects under ~1.5 MiB; 16 MiB of JSON plus room for the other
 * fields leaves a wide margin. Anything bigger is RESOURCE_EXHAUSTED.
 */
#define MAX_MESSAGE (((size_t)16 << 20) + ((size_t)1 << 20))
/* On SIGTERM: how long calls in flight may take to finish, then to react to cancellation. */
#define GRACE_MS  20000
#define CANCEL_MS 5000

struct sc_sidecar {
    sc_service svc;
    char *socket_path;
    char *lock_path;
    char *pod_name;
    pc_flock lock;
    struct stat sock_st; /* identity of the socket we created */
    bool have_sock;
    sc_server *server;
};

pc_status sc_mode_parse(const char *text, sc_mode *out)
{
    if (strcmp(text, "instance") == 0)
        *out = SC_MODE_INSTANCE;
    else if (strcmp(text, "restore") == 0)
        *out = SC_MODE_RESTORE;
    else {
        pc_err(PC_E_USAGE, "unknown sidecar mode \"%s\"", text);
        pc_err_hint("Use instance (PostgreSQL pods) or restore (the restore Job).");
        return PC_E_USAGE;
    }
    return PC_OK;
}

static const char *mode_name(sc_mode m)
{
    switch (m) {
    case SC_MODE_INSTANCE:
        return "instance";
    case SC_MODE_RESTORE:
        return "restore";
    }
    return "?";
}

char *sc_socket_path(const sc_opts *o)
{
    return pc_path_join(o->plugin_dir ? o->plugin_dir : SC_DEFAULT_PLUGIN_DIR,
                        o->plugin_name ? o->plugin_name : SC_DEFAULT_PLUGIN_NAME);
}

/*
 * CNPG-I wants a DNS-like name of at most 63 characters, and it becomes a
 * file name: lower-case letters, digits, '-' and '.', alphanumeric at both ends.
 */
static pc_status check_plugin_name(const char *n)
{
    size_t len = strlen(n);
    bool ok = len > 0 && len <= 63;
    for (size_t i = 0; ok && i < len; i++) {
        char c = n[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        ok = alnum || ((c == '-' || c == '.') && i > 0 && i + 1 < len);
    }
    if (ok)
        return PC_OK;
    pc_err(PC_E_USAGE, "invalid plugin name \"%.80s\"", n);
    pc_err_hint("Use at most 63 lower-case letters, digits, '-' and '.', starting and ending "
                "with a letter or digit, e.g. %s.",
                SC_DEFAULT_PLUGIN_NAME);
    return PC_E_USAGE;
}

/* Remove a socket left by a sidecar that died; anything that is not a socket is left alone. */
static pc_status remove_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return PC_OK;
        return pc_err(PC_E_IO, "could not inspect \"%s\": %m", path);
    }
    if (!S_ISSOCK(st.st_mode)) {
        pc_err(PC_E_USAGE, "\"%s\" exists and is not a socket; not replacing it", path);
        pc_err_hint("Remove it, or give another --plugin-name or --plugin-dir.");
        return PC_E_USAGE;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return pc_err(PC_E_IO, "could not remove the stale socket \"%s\": %m", path);
    pc_log(PC_LOG_INFO, "removed the stale socket %s", path);
    return PC_OK;
}

static pc_status start(sc_sidecar *s, const pc_cfg *cfg, const sc_opts *o)
{
    pc_status st;
    const char *dir = o->plugin_dir ? o->plugin_dir : SC_DEFAULT_PLUGIN_DIR;
    const char *name = o->plugin_name ? o->plugin_name : SC_DEFAULT_PLUGIN_NAME;
    int workers = o->workers ? o->workers : SC_DEFAULT_WORKERS;
    sc_mode mode = o->mode ? o->mode : SC_MODE_INSTANCE;

    if (mode != SC_MODE_INSTANCE && mode != SC_MODE_RESTORE)
        return pc_err(PC_E_USAGE, "invalid sidecar mode %d", (int)mode);
    if ((st = check_plugin_name(name)) != PC_OK)
        return st;
    if (workers < 1 || workers > 64)
        return pc_err(PC_E_USAGE, "invalid number of workers %d (1 to 64)", workers);
    const char *pod = getenv("POD_NAME");
    if (pod && strlen(pod) > SC_NAME_MAX)
        return pc_err(PC_E_USAGE, "POD_NAME is %zu bytes long (at most %d)", strlen(pod),
                      SC_NAME_MAX);
    if (pod && pod[0] && !(s->pod_name = pc_strdup(pod)))
        return PC_E_INTERNAL;
    if (!pc_is_dir(dir)) {
        pc_err(PC_E_USAGE, "plugin directory \"%s\" does not exist", dir);
        pc_err_hint("Mount the directory CNPG shares with the sidecar there (/plugins in CNPG "
                    "pods), or give --plugin-dir.");
        return PC_E_USAGE;
    }
    if (!(s->socket_path = sc_socket_path(o)) ||
        !(s->lock_path = pc_asprintf("%s.lock", s->socket_path)))
        return PC_E_INTERNAL;
    if (strlen(s->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        pc_err(PC_E_USAGE, "socket path \"%s\" is longer than the %zu bytes a unix socket allows",
               s->socket_path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        pc_err_hint("Use a shorter --plugin-dir.");
        return PC_E_USAGE;
    }

    /* The lock first: whoever holds it owns the socket, live or stale. */
    if ((st = pc_flock_acquire(s->lock_path, 0, &s->lock)) != PC_OK) {
        if (st == PC_E_BUSY) {
            pc_err(PC_E_BUSY, "another sidecar is serving %s", s->socket_path);
            pc_err_hint("Stop it first, or give this one another --plugin-name or --plugin-dir.");
        }
        return st;
    }
    if ((st = remove_stale(s->socket_path)) != PC_OK)
        return st;

    s->svc.cfg = cfg;
    s->svc.plugin_name = name;
    s->svc.pod_name = s->pod_name;
    s->svc.mode = mode;
    char *address = pc_asprintf("unix:%s", s->socket_path);
    if (!address)
        return PC_E_INTERNAL;
    sc_server_opts so = {
        .address = address, .workers = workers, .max_message = MAX_MESSAGE, .app = &s->svc};
    so.methods = sc_service_methods(mode, &so.nmethods);
    st = sc_server_start(&so, &s->server);
    free(address);
    if (st != PC_OK)
        return st;
    if (lstat(s->socket_path, &s->sock_st) == 0)
        s->have_sock = true;
    pc_log(PC_LOG_INFO, "serving CNPG-I as %s on %s (mode %s, %d workers)", name, s->socket_path,
           mode_name(mode), workers);
    return PC_OK;
}

pc_status sc_sidecar_start(const pc_cfg *cfg, const sc_opts *opts, sc_sidecar **out)
{
    *out = NULL;
    sc_sidecar *s = pc_calloc(1, sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    s->lock.fd = -1;
    pc_status st = start(s, cfg, opts);
    if (st != PC_OK) {
        pc_error saved;
        pc_err_save(&saved);
        sc_sidecar_free(s);
        pc_err_restore(&saved);
        return st;
    }
    *out = s;
    return PC_OK;
}

pc_status sc_sidecar_stop(sc_sidecar *s)
{
    pc_status st = PC_OK;
    if (s->server) {
        bool cancelled = false;
        st = sc_server_stop(s->server, GRACE_MS, CANCEL_MS, &cancelled);
        if (cancelled && st == PC_OK)
            pc_log(PC_LOG_WARNING, "calls still running after %d ms were cancelled", GRACE_MS);
    }
    /* Only our own socket is removed: the lock guarantees nobody replaced it, the inode checks it.
     */
    struct stat now;
    if (s->have_sock && lstat(s->socket_path, &now) == 0 && now.st_dev == s->sock_st.st_dev &&
        now.st_ino == s->sock_st.st_ino && unlink(s->socket_path) != 0 && errno != ENOENT)
        pc_log(PC_LOG_WARNING, "could not remove the socket %s: %s", s->socket_path,
               strerror(errno));
    s->have_sock = false;
    if (st == PC_OK) {
        sc_server_free(s->server);
        s->server = NULL;
    }
    pc_flock_release(&s->lock);
    return st;
}

void sc_sidecar_free(sc_sidecar *s)
{
    if (!s)
        return;
    if (s->server || s->lock.fd >= 0) {
        pc_error saved;
        pc_err_save(&saved);
        sc_sidecar_stop(s);
        pc_err_restore(&saved);
    }
    /* handlers that would not end still use the server: leave it to the process exit */
    if (s->server)
        return;
    free(s->socket_path);
    free(s->lock_path);
    free(s->pod_name);
    free(s);
}

pc_status sc_run(const pc_cfg *cfg, const sc_opts *opts)
{
    /*
     * glibc raises its mmap threshold after a large block is freed, so the
     * buffers of the next multi-megabyte Cluster documents come from the
     * workers' arenas and stay there: 8 workers kept ~60 MB after a few
     * 6 MiB requests. A fixed threshold returns them to the system at once.
     */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    /* Block before gRPC starts its threads, so that only sigwait() below sees the signals. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);

    sc_sidecar *s;
    pc_status st = sc_sidecar_start(cfg, opts, &s);
    if (st == PC_OK && (st = sc_engine_start(cfg)) != PC_OK) {
        sc_sidecar_stop(s);
        sc_sidecar_free(s);
    }
    if (st == PC_OK) {
        int sig = 0;
        while (sigwait(&set, &sig) != 0)
            ;
        pc_log(PC_LOG_INFO, "received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        st = sc_sidecar_stop(s);
        if (st == PC_OK) {
            pc_log(PC_LOG_INFO, "stopped");
            sc_sidecar_free(s);
            sc_engine_shutdown(); /* no handler runs any more */
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

pc_status sc_healthcheck(const char *socket_path, int64_t timeout_ms)
{
    struct stat st;
    if (lstat(socket_path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        pc_err(PC_E_CONNECT, "no sidecar socket at %s", socket_path);
        pc_err_hint("Is `pgcask sidecar` running with the same --plugin-dir and --plugin-name?");
        return PC_E_CONNECT;
    }
    Grpc__Health__V1__HealthCheckRequest req;
    grpc__health__v1__health_check_request__init(&req);
    unsigned char body[16];
    size_t len = grpc__health__v1__health_check_request__pack(&req, body);

    char *target = pc_asprintf("unix:%s", socket_path);
    if (!target)
        return PC_E_INTERNAL;
    sc_code code;
    char message[PC_ERR_MSG_MAX];
    unsigned char *resp;
    size_t resp_len;
    pc_status rc = sc_client_call(target, "/grpc.health.v1.Health/Check", body, len, timeout_ms,
                                  &code, message, sizeof message, &resp, &resp_len);
    free(target);
    if (rc != PC_OK)
        return rc;
    if (code != SC_OK) {
        free(resp);
        pc_err(PC_E_CONNECT, "health check of the sidecar at %s failed: %s%s%s", socket_path,
               sc_code_name(code), message[0] ? ": " : "", message);
        return PC_E_CONNECT;
    }
    Grpc__Health__V1__HealthCheckResponse *r =
        grpc__health__v1__health_check_response__unpack(NULL, resp_len, resp);
    free(resp);
    if (!r)
        return pc_err(PC_E_REMOTE, "the sidecar at %s sent an invalid health check reply",
                      socket_path);
    int status = (int)r->status;
    grpc__health__v1__health_check_response__free_unpacked(r, NULL);
    if (status != GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
        return pc_err(PC_E_REMOTE, "the sidecar at %s is not serving (status %d)", socket_path,
                      status);
    return PC_OK;
}
