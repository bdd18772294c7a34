/*
 * The engine behind the CNPG-I handlers: maps each call to an object store
 * configuration and runs pgcask's archiver / restore code on it.
 *
 * Configuration: the Cluster's plugin parameters name an object store
 * (`barmanObjectName`, as with plugin-barman-cloud) and a `serverName`. The
 * store's settings come from `<objectstore-dir>/<barmanObjectName>.conf`
 * (an INI file in pgcask's format, mounted from a Secret or ConfigMap) plus
 * the environment; without `barmanObjectName` the sidecar's own
 * configuration is used. Each (store, server) pair keeps one context for
 * the life of the sidecar (connections stay open), rebuilt when its file
 * changes. docs/sidecar.md.
 */
#include "plugin-grpc/engine.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archiver/archiver.h"
#include "archiver/backup.h"
#include "archiver/ops.h"
#include "archiver/scheduler.h"
#include "catalog/catalog.h"
#include "catalog/store.h"
#include "common/json.h"
#include "common/layout.h"
#include "compress/compress.h"
#include "restore/restore.h"
#include "s3/repo.h"
#include "s3/walstore.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/timeutil.h"
#include "common/wal.h"
#include "restore/wal_restore.h"

#define END_OF_WAL_FLAG  "end-of-wal-stream"
#define CHECK_EMPTY_MARK ".check-empty-wal-archive"

typedef struct store {
    char *object; /* barmanObjectName, "" for the sidecar's own configuration */
    char *server;
    char *path; /* configuration file read, NULL for none */
    struct timespec mtime;
    pc_cfg *cfg;
    arc_ctx *arc;
    rst_wal_ctx *rst;
    char *spool;
    _Atomic int64_t last_archive_us; /* the last Archive call: only the primary archives */
    struct store *next;
} store;

static pthread_mutex_t stores_mu = PTHREAD_MUTEX_INITIALIZER;
static store *stores;
static store *retired; /* replaced after a configuration change, freed at shutdown */

bool sc_engine_supports(sc_op op)
{
    switch (op) {
    case SC_OP_WAL_ARCHIVE:
    case SC_OP_WAL_RESTORE:
    case SC_OP_WAL_STATUS:
    case SC_OP_WAL_SET_FIRST_REQUIRED:
        return true;
    case SC_OP_BACKUP:
    case SC_OP_RESTORE_JOB:
        return true;
    case SC_OP_METRICS:
        return true;
    }
    return false;
}

static void store_free(store *s)
{
    if (!s)
        return;
    arc_ctx_free(s->arc);
    rst_wal_ctx_free(s->rst);
    pc_cfg_free(s->cfg);
    free(s->object);
    free(s->server);
    free(s->path);
    free(s->spool);
    free(s);
}

/* A file name from an untrusted parameter: one path component. */
static pc_status check_object_name(const char *name)
{
    if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        pc_err(PC_E_USAGE, "invalid barmanObjectName \"%.100s\"", name);
        return PC_E_USAGE;
    }
    return PC_OK;
}

/*
 * The settings of a store: the server, CNPG's spool directory, the store's
 * file (or the sidecar's own configuration file) and the environment, and
 * the sidecar's state directory unless the store names one.
 */
static pc_status store_cfg(const sc_call *call, const store *s, pc_cfg **out)
{
    pc_cfg *cfg;
    pc_status st = pc_cfg_new(&cfg);
    if (st)
        return st;
    st = pc_cfg_set(cfg, "server", s->server, PC_CFG_SRC_FLAG);
    /* CNPG gives the sidecar a spool directory on the shared /controller volume */
    const char *spool_env = getenv("SPOOL_DIRECTORY");
    if (st == PC_OK && spool_env && *spool_env)
        st = pc_cfg_set(cfg, "spool-dir", spool_env, PC_CFG_SRC_ENV);
    if (st == PC_OK)
        st = pc_cfg_load(cfg, s->path);
    if (st == PC_OK && !pc_cfg_isset(cfg, "state-dir") && pc_cfg_str(call->cfg, "state-dir"))
        st = pc_cfg_set(cfg, "state-dir", pc_cfg_str(call->cfg, "state-dir"), PC_CFG_SRC_DEFAULT);
    if (st) {
        pc_cfg_free(cfg);
        return st;
    }
    *out = cfg;
    return PC_OK;
}

static pc_status store_build(const sc_call *call, const char *object, const char *server,
                             store **out)
{
    pc_status st;
    store *s = pc_calloc(1, sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    s->object = pc_strdup(object);
    s->server = pc_strdup(server);
    if (!s->object || !s->server) {
        store_free(s);
        return PC_E_INTERNAL;
    }
    if (*object) {
        const char *dir = pc_cfg_str(call->cfg, "objectstore-dir");
        s->path = pc_asprintf("%s/%s.conf", dir ? dir : ".", object);
        struct stat sb;
        if (!s->path || stat(s->path, &sb) != 0) {
            pc_err(PC_E_CONFIG, "no configuration for object store \"%s\": %s: %m", object,
                   s->path ? s->path : "");
            pc_err_hint("Mount the store's settings (repo, endpoint-url, compression, ...) as "
                        "%s, or change barmanObjectName in the Cluster's plugin parameters.",
                        s->path ? s->path : "<objectstore-dir>/<name>.conf");
            store_free(s);
            return PC_E_CONFIG;
        }
        s->mtime = sb.st_mtim;
    }
    st = store_cfg(call, s, &s->cfg);
    if (st == PC_OK)
        st = arc_ctx_new(s->cfg, &s->arc);
    if (st == PC_OK)
        st = rst_wal_ctx_new(s->cfg, &s->rst);
    if (st == PC_OK)
        st = pc_spool_dir(s->cfg, pc_cfg_str(s->cfg, "repo"), server, &s->spool);
    if (st) {
        pc_err_context("object store \"%s\"", *object ? object : "(sidecar configuration)");
        store_free(s);
        return st;
    }
    *out = s;
    return PC_OK;
}

/* The cached store for (object, server), (re)built when missing or its file changed. */
static pc_status store_get(const sc_call *call, const char *object, const char *server, store **out)
{
    pthread_mutex_lock(&stores_mu);
    store **pp = &stores;
    for (; *pp; pp = &(*pp)->next) {
        store *s = *pp;
        if (strcmp(s->object, object) != 0 || strcmp(s->server, server) != 0)
            continue;
        struct stat sb;
        bool fresh = !s->path || (stat(s->path, &sb) == 0 && sb.st_mtim.tv_sec == s->mtime.tv_sec &&
                                  sb.st_mtim.tv_nsec == s->mtime.tv_nsec);
        if (fresh) {
            *out = s;
            pthread_mutex_unlock(&stores_mu);
            return PC_OK;
        }
        /*
         * The file changed: a new context replaces this one. The old one may
         * still be in use by a running call, so it is only retired here and
         * freed when the sidecar stops.
         */
        pc_info("configuration of object store \"%s\" changed: reloading", object);
        *pp = s->next;
        s->next = retired;
        retired = s;
        break;
    }
    store *s;
    pc_status st = store_build(call, object, server, &s);
    if (st == PC_OK) {
        s->next = stores;
        stores = s;
        *out = s;
    }
    pthread_mutex_unlock(&stores_mu);
    return st;
}

static pc_status plugin_store(const sc_call *call, const sc_plugin_cfg *p, const char *what,
                              store **out)
{
    if (!p->present) {
        pc_err(PC_E_CONFIG, "the Cluster has no %s entry for plugin %s", what, call->plugin_name);
        pc_err_hint("Add the plugin with its parameters (barmanObjectName, serverName) to the "
                    "Cluster.");
        return PC_E_CONFIG;
    }
    const char *object = p->barman_object_name ? p->barman_object_name : "";
    if (*object) {
        pc_status st = check_object_name(object);
        if (st)
            return st;
    }
    const char *server = p->server_name ? p->server_name : call->cluster->name;
    return store_get(call, object, server, out);
}

static void retention_end(void);
static void sched_end(void);

void sc_engine_shutdown(void)
{
    sched_end();
    retention_end();
    pthread_mutex_lock(&stores_mu);
    store *lists[2] = {stores, retired};
    stores = retired = NULL;
    pthread_mutex_unlock(&stores_mu);
    for (int i = 0; i < 2; i++) {
        while (lists[i]) {
            store *next = lists[i]->next;
            store_free(lists[i]);
            lists[i] = next;
        }
    }
}

/* ---- WAL ---- */

static char *pgdata_of(const char *wal_path)
{
    char *d1 = pc_dirname(wal_path);
    char *d2 = d1 ? pc_dirname(d1) : NULL;
    free(d1);
    return d2;
}

pc_status sc_engine_archive(const sc_call *call, const char *wal_path, int check_empty)
{
    store *s;
    pc_status st = plugin_store(call, &call->cluster->plugin, ".spec.plugins", &s);
    if (st)
        return st;
    char *pgdata = pgdata_of(wal_path);
    char *mark = pgdata ? pc_path_join(pgdata, CHECK_EMPTY_MARK) : NULL;
    free(pgdata);
    if (!mark)
        return PC_E_INTERNAL;
    /*
     * The operator decides (check_empty set), or, for an older operator, the
     * marker file CNPG leaves in a new PGDATA unless the Cluster opts out.
     */
    bool check = check_empty == SC_CHECK_YES ||
                 (check_empty == SC_CHECK_UNSET && !call->cluster->skip_empty_wal_archive_check &&
                  pc_path_exists(mark));
    if (check)
        st = arc_check_wal_archive(s->arc, 0);
    if (st == PC_OK)
        st = arc_wal_archive(s->arc, wal_path, NULL);
    if (st == PC_OK)
        atomic_store(&s->last_archive_us, pc_now_us());
    if (st == PC_OK && pc_path_exists(mark) && unlink(mark) != 0 && errno != ENOENT)
        pc_warn("could not remove \"%s\": %s", mark, strerror(errno));
    free(mark);
    return st;
}

/* CNPG's choice of the store to restore from (plugin-barman-cloud's resolveRestoreObjectStore). */
static pc_status restore_store(const sc_call *call, store **out, bool *can_stream)
{
    const sc_cluster *c = call->cluster;
    const char *primary = c->current_primary;
    bool is_primary = primary && c->pod_name && strcmp(primary, c->pod_name) == 0;
    bool replica_source = c->replica.name && c->replica.plugin.present;
    *can_stream = false;
    if (is_primary && replica_source) {
        /* a designated primary of a replica cluster: it can stream from the source */
        *can_stream = c->replica_enabled != 0;
        return plugin_store(call, &c->replica.plugin, "replica source", out);
    }
    if (!primary || !*primary)
        return plugin_store(call, &c->recovery.plugin, "recovery source", out);
    *can_stream = !is_primary;
    return plugin_store(call, &c->plugin, ".spec.plugins", out);
}

pc_status sc_engine_restore(const sc_call *call, const char *wal_name, const char *dest_path,
                            sc_restore_mode mode, bool *end_of_wal)
{
    store *s;
    bool can_stream;
    *end_of_wal = false;
    pc_status st = restore_store(call, &s, &can_stream);
    if (st)
        return st;
    char *flag = pc_path_join(s->spool, END_OF_WAL_FLAG);
    if (!flag)
        return PC_E_INTERNAL;
    bool rewind = mode == SC_RESTORE_REWIND;
    /*
     * A file the prefetch already brought is served before the flag is
     * looked at (as plugin-barman-cloud does): the flag only means that the
     * archive ends after the prefetched files.
     */
    char *spooled = pc_path_join(s->spool, wal_name);
    bool in_spool = spooled && pc_path_exists(spooled);
    free(spooled);
    if (rewind) {
        unlink(flag);
    } else if (can_stream && !in_spool && pc_path_exists(flag)) {
        unlink(flag);
        free(flag);
        *end_of_wal = true;
        return PC_OK;
    }
    rst_wal_opts o = {.rewind = rewind};
    rst_wal_result res;
    st = rst_wal_restore(s->rst, wal_name, dest_path, &o, &res);
    if (st == PC_OK && res.prefetch_missing && can_stream && !rewind) {
        /* the next call goes to streaming instead of asking the archive for nothing */
        pc_error saved;
        pc_err_save(&saved);
        pc_write_file_atomic(flag, "", 0, 0600);
        pc_err_restore(&saved);
    }
    free(flag);
    return st;
}

pc_status sc_engine_status(const sc_call *call, sc_wal_status *out)
{
    store *s;
    pc_status st = plugin_store(call, &call->cluster->plugin, ".spec.plugins", &s);
    if (st)
        return st;
    cat *c;
    if ((st = cat_open(arc_ctx_catalog_path(s->arc), &c)) != PC_OK)
        return st;
    char *synced = NULL;
    if (cat_meta_get(c, "last_sync_at", &synced) == PC_E_NOT_FOUND) {
        /* a new pod knows nothing yet: index the store once */
        pc_err_clear();
        cat_close(c);
        if ((st = arc_catalog_sync_wal(s->arc, NULL)) != PC_OK)
            return st;
        if ((st = cat_open(arc_ctx_catalog_path(s->arc), &c)) != PC_OK)
            return st;
    }
    free(synced);
    uint32_t *tlis = NULL;
    size_t n = 0;
    st = cat_wal_timelines(c, &tlis, &n);
    if (st == PC_OK && n > 0) {
        cat_wal w;
        if (cat_wal_first(c, tlis[0], &w) == PC_OK) {
            snprintf(out->first_wal, sizeof out->first_wal, "%s", w.name);
            cat_wal_clear(&w);
        }
        if (cat_wal_last(c, tlis[n - 1], &w) == PC_OK) {
            snprintf(out->last_wal, sizeof out->last_wal, "%s", w.name);
            cat_wal_clear(&w);
        }
        pc_err_clear();
    }
    free(tlis);
    cat_close(c);
    return st;
}

pc_status sc_engine_set_first_required(const sc_call *call, const char *first_required_wal)
{
    store *s;
    pc_status st = plugin_store(call, &call->cluster->plugin, ".spec.plugins", &s);
    if (st)
        return st;
    pc_wal_name w;
    if ((st = pc_wal_parse(first_required_wal, &w)) != PC_OK)
        return st;
    cat *c;
    if ((st = cat_open(arc_ctx_catalog_path(s->arc), &c)) != PC_OK)
        return st;
    /* retention never deletes WAL at or after this name */
    st = cat_meta_set(c, "first_required_wal", w.name);
    cat_close(c);
    return st;
}

/* ---- backups ---- */

/* "backup-<UTC time>": what plugin-barman-cloud names them; not a backup id, so barman accepts it.
 */
static void default_backup_name(char *out, size_t len)
{
    char id[32];
    pc_time_backup_id(pc_now_us(), id, sizeof id);
    snprintf(out, len, "backup-%.8s%.6s", id, id + 9);
}

/* The Backup resource's metadata.name, when the request carries one we can use. */
static void backup_object_name(const void *json, size_t len, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!json || len == 0)
        return;
    pc_json *root;
    pc_error saved;
    pc_err_save(&saved);
    if (pc_json_parse(json, len, 4u << 20, "Backup definition", &root) == PC_OK) {
        const char *n = pc_json_string(pc_json_path(root, "metadata", "name", NULL));
        if (n && strlen(n) < outlen && arc_backup_check_name(n) == PC_OK)
            snprintf(out, outlen, "%s", n);
        pc_json_free(root);
    }
    pc_err_restore(&saved);
}

pc_status sc_engine_backup(const sc_call *call, const void *backup_json, size_t backup_len,
                           sc_backup_result *out)
{
    store *s;
    pc_status st = plugin_store(call, &call->cluster->plugin, ".spec.plugins", &s);
    if (st)
        return st;
    char name[256];
    backup_object_name(backup_json, backup_len, name, sizeof name);
    if (!name[0])
        default_backup_name(name, sizeof name);

    arc_backup_opts o = {
        /* the sidecar shares the pod with PostgreSQL: its socket, as the postgres user */
        .host = getenv("PGHOST") ? NULL : "/controller/run",
        .user = getenv("PGUSER") ? NULL : "postgres",
        .dbname = "postgres",
        .name = name,
        .level = CMP_LEVEL_DEFAULT,
        .fast_checkpoint = pc_cfg_bool(s->cfg, "immediate-checkpoint"),
        .max_archive_size = (uint64_t)100 << 30,
        .wal_timeout_ms = 10 * 60 * 1000,
        .create_bucket = true,
    };
    /*
     * Where the pod's data directory is visible (the store's pgdata, else PGDATA), read it
     * directly between pg_backup_start() and pg_backup_stop(), as barman-cloud-backup does:
     * CloudNativePG's pg_hba.conf lets no local replication connection in for BASE_BACKUP.
     */
    const char *pgdata = pc_cfg_str(s->cfg, "pgdata");
    if (!pgdata)
        pgdata = getenv("PGDATA");
    if (pgdata && *pgdata) {
        char *pv = pc_path_join(pgdata, "PG_VERSION");
        if (pv && access(pv, R_OK) == 0)
            o.local = pgdata;
        free(pv);
    }
    cmp_codec codec;
    if ((st = cmp_codec_parse(pc_cfg_str(s->cfg, "backup-compression"), &codec)) != PC_OK)
        return st;
    o.codec = (int)codec;
    int64_t jobs = pc_cfg_int(s->cfg, "backup-jobs");
    o.jobs = jobs < 1 ? 1 : jobs > 64 ? 64 : (int)jobs;

    int64_t started = pc_now_us();
    arc_backup_result res;
    memset(&res, 0, sizeof res);
    /* arc_backup may raise part-size in the configuration it is given: use a private copy */
    pc_cfg *cfg;
    if ((st = store_cfg(call, s, &cfg)) != PC_OK)
        return st;
    st = arc_backup(cfg, &o, &res);
    repo *r = NULL;
    cat_store_backup b;
    memset(&b, 0, sizeof b);
    if (st == PC_OK)
        st = repo_open_cfg(cfg, &r);
    if (st == PC_OK)
        st = cat_store_backup_load(r, s->server, res.backup_id, &b);
    if (st == PC_OK) {
        const cat_binfo *i = &b.info;
        snprintf(out->backup_id, sizeof out->backup_id, "%s", res.backup_id);
        snprintf(out->backup_name, sizeof out->backup_name, "%s", name);
        out->started_at = (i->begin_time != CAT_BINFO_NONE ? i->begin_time : started) / 1000000;
        out->stopped_at = (i->end_time != CAT_BINFO_NONE ? i->end_time : pc_now_us()) / 1000000;
        snprintf(out->begin_wal, sizeof out->begin_wal, "%s", i->begin_wal ? i->begin_wal : "");
        snprintf(out->end_wal, sizeof out->end_wal, "%s", i->end_wal ? i->end_wal : "");
        snprintf(out->begin_lsn, sizeof out->begin_lsn, "%s", i->begin_xlog ? i->begin_xlog : "");
        snprintf(out->end_lsn, sizeof out->end_lsn, "%s", i->end_xlog ? i->end_xlog : "");
        if (i->backup_label)
            pc_buf_append_str(&out->backup_label, i->backup_label);
        const char *pod = call->cluster->pod_name ? call->cluster->pod_name : getenv("POD_NAME");
        snprintf(out->instance_id, sizeof out->instance_id, "%s", pod ? pod : "");
        out->online = true;
        char num[32];
        if (i->timeline != CAT_BINFO_NONE) {
            snprintf(num, sizeof num, "%lld", (long long)i->timeline);
            sc_kvs_add(&out->metadata, "timeline", num);
        }
        if (i->version != CAT_BINFO_NONE) {
            snprintf(num, sizeof num, "%lld", (long long)i->version);
            sc_kvs_add(&out->metadata, "version", num);
        }
        sc_kvs_add(&out->metadata, "name", name);
        sc_kvs_add(&out->metadata, "displayName", "pgcask");
        if (call->cluster->uid)
            sc_kvs_add(&out->metadata, "clusterUID", call->cluster->uid);
        sc_kvs_add(&out->metadata, "pluginName", call->plugin_name);
    }
    cat_store_backup_free(&b);
    repo_free(r);
    pc_cfg_free(cfg);
    return st;
}

/* ---- the restore Job ---- */

/* What CNPG's instance manager runs as restore_command (it calls our WAL.Restore). */
#define CNPG_RESTORE_COMMAND                                                                       \
    "restore_command = '/controller/manager wal-restore --log-destination "                        \
    "/controller/log/postgres.json %f %p'\n"

typedef struct begin_wal_ud {
    bool found;
} begin_wal_ud;

static pc_status on_begin_wal(const repo_wal_obj *o, void *ud)
{
    ((begin_wal_ud *)ud)->found = true;
    return PC_OK;
}

pc_status sc_engine_restore_job(const sc_call *call, int check_empty, sc_restore_job_result *out)
{
    const sc_cluster *c = call->cluster;
    pc_status st;
    /* the new cluster must not archive into a non-empty place (the "Expected empty archive" check)
     */
    bool check = check_empty == SC_CHECK_YES ||
                 (check_empty == SC_CHECK_UNSET && !c->skip_empty_wal_archive_check);
    if (check && c->plugin.present) {
        store *own;
        if ((st = plugin_store(call, &c->plugin, ".spec.plugins", &own)) != PC_OK)
            return st;
        if ((st = arc_check_wal_archive(own->arc, 0)) != PC_OK)
            return st;
    }
    store *src;
    if ((st = plugin_store(call, &c->recovery.plugin, "recovery source", &src)) != PC_OK)
        return st;
    const char *pgdata = getenv("PGDATA");
    if (!pgdata || !*pgdata) {
        pc_err(PC_E_CONFIG, "PGDATA is not set in the restore Job's environment");
        return PC_E_CONFIG;
    }
    const sc_recovery_target *t = &c->target;
    rst_opts o = {.dest = pgdata, .jobs = 4};
    if (t->present && t->backup_id && *t->backup_id)
        o.backup = t->backup_id;
    else if (t->present &&
             ((t->target_time && *t->target_time) || (t->target_lsn && *t->target_lsn)))
        o.backup = "auto";
    else
        o.backup = "latest";
    if (strcmp(o.backup, "auto") == 0) {
        /* only what chooses the backup: CNPG writes the recovery target itself */
        o.target.time = t->target_time && *t->target_time ? t->target_time : NULL;
        o.target.lsn = !o.target.time && t->target_lsn && *t->target_lsn ? t->target_lsn : NULL;
    }
    if (t->present && t->target_tli && *t->target_tli && strcmp(o.backup, "auto") == 0)
        o.target.tli = t->target_tli;

    /* the backup's first WAL must be there, or recovery cannot even begin */
    repo *r = NULL;
    cat_store cs;
    memset(&cs, 0, sizeof cs);
    const cat_store_backup *b = NULL;
    st = repo_open_cfg(src->cfg, &r);
    if (st == PC_OK)
        st = cat_store_load(r, src->server, 4, &cs);
    if (st == PC_OK) {
        cat_sel sel = {0};
        if (o.target.time) {
            sel.has_time = true;
            st = pc_time_parse(o.target.time, &sel.time_us);
        } else if (o.target.lsn) {
            sel.has_lsn = true;
            st = pc_lsn_parse(o.target.lsn, &sel.lsn);
        }
        if (st == PC_OK)
            st = cat_store_select(&cs, src->server, o.backup, &sel, &b);
    }
    if (st == PC_OK && b->info.begin_wal) {
        pc_wal_name w;
        begin_wal_ud ud = {0};
        st = pc_wal_parse(b->info.begin_wal, &w);
        if (st == PC_OK)
            st = repo_wal_find(r, src->server, &w, on_begin_wal, &ud);
        if (st == PC_OK && !ud.found) {
            pc_err(PC_E_NOT_FOUND,
                   "the first WAL of backup %s, %s, is not in the archive of "
                   "server \"%s\"",
                   b->id, w.name, src->server);
            pc_err_hint("Without it the backup cannot be recovered; choose another backup.");
            st = PC_E_NOT_FOUND;
        }
    }
    char chosen[64] = "";
    if (st == PC_OK)
        snprintf(chosen, sizeof chosen, "%s", b->id);
    cat_store_free(&cs);
    repo_free(r);
    if (st)
        return st;
    o.backup = chosen;
    o.target = (rst_target){0};
    rst_result res;
    if ((st = rst_restore(src->cfg, &o, &res)) != PC_OK)
        return st;
    pc_info("restored backup %s of server %s into %s", res.backup_id, src->server, pgdata);
    st = pc_buf_append_str(&out->restore_config, "recovery_target_action = promote\n");
    if (st == PC_OK)
        st = pc_buf_append_str(&out->restore_config, CNPG_RESTORE_COMMAND);
    return st;
}

/* ---- metrics ---- */

/*
 * CNPG-I wants metrics as definitions (Define) and values (Collect); pgcask
 * renders Prometheus text (ops_metrics). Both are read from that text: one
 * definition per metric family, its variable labels those of its first
 * sample, in order.
 */
typedef struct prom_sample {
    char name[256];
    char labels[8][64];
    char values[8][256];
    int nlabels;
    double value;
} prom_sample;

/* Parse `name{k="v",...} value`; false for lines of another shape. */
static bool prom_parse(const char *line, prom_sample *s)
{
    memset(s, 0, sizeof *s);
    size_t n = strcspn(line, "{ ");
    if (n == 0 || n >= sizeof s->name)
        return false;
    memcpy(s->name, line, n);
    const char *p = line + n;
    if (*p == '{') {
        p++;
        while (*p && *p != '}') {
            size_t kl = strcspn(p, "=");
            if (s->nlabels == 8 || kl == 0 || kl >= sizeof s->labels[0] || p[kl] != '=' ||
                p[kl + 1] != '"')
                return false;
            memcpy(s->labels[s->nlabels], p, kl);
            p += kl + 2;
            size_t vl = 0;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                if (vl + 1 < sizeof s->values[0])
                    s->values[s->nlabels][vl++] = *p;
                p++;
            }
            if (*p != '"')
                return false;
            p++;
            s->nlabels++;
            if (*p == ',')
                p++;
        }
        if (*p != '}')
            return false;
        p++;
    }
    char *end;
    s->value = strtod(p, &end);
    return end != p;
}

static pc_status metrics_text(const sc_call *call, pc_buf *text)
{
    store *s;
    pc_status st = plugin_store(call, &call->cluster->plugin, ".spec.plugins", &s);
    if (st)
        return st;
    pc_buf_init(text, 4u << 20);
    return ops_metrics(s->arc, false, text);
}

static sc_metric_type prom_type(const char *t)
{
    if (strcmp(t, "counter") == 0)
        return SC_METRIC_COUNTER;
    if (strcmp(t, "gauge") == 0)
        return SC_METRIC_GAUGE;
    return SC_METRIC_UNTYPED;
}

/* Walk the text: definitions (define) or values (collect). */
static pc_status metrics_walk(const sc_call *call, sc_metrics *out, bool define)
{
    pc_buf text;
    pc_status st = metrics_text(call, &text);
    if (st) {
        pc_buf_free(&text);
        return st;
    }
    char help[512] = "", type[32] = "untyped", family[256] = "";
    bool defined = false;
    char *save = NULL;
    for (char *line = strtok_r((char *)text.data, "\n", &save); line && st == PC_OK;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            size_t n = strcspn(line + 7, " ");
            snprintf(family, sizeof family, "%.*s", (int)n, line + 7);
            snprintf(help, sizeof help, "%s", line + 7 + n + (line[7 + n] ? 1 : 0));
            snprintf(type, sizeof type, "untyped");
            defined = false;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            const char *t = strrchr(line, ' ');
            snprintf(type, sizeof type, "%s", t ? t + 1 : "untyped");
            continue;
        }
        prom_sample smp;
        if (line[0] == '#' || !prom_parse(line, &smp))
            continue;
        if (define) {
            if (defined && strcmp(smp.name, family) == 0)
                continue;
            sc_metric_def *d = sc_metrics_add_def(out);
            if (!d)
                st = PC_E_INTERNAL;
            for (int i = 0; d && i < smp.nlabels && st == PC_OK; i++)
                st = sc_strv_add(&d->variable_labels, smp.labels[i]);
            if (d) {
                snprintf(d->fq_name, sizeof d->fq_name, "%s", smp.name);
                snprintf(d->help, sizeof d->help, "%s",
                         strcmp(smp.name, family) == 0 ? help : smp.name);
                d->type = prom_type(type);
            }
            defined = strcmp(smp.name, family) == 0;
            snprintf(family, sizeof family, "%s", smp.name);
        } else {
            sc_metric_value *v = sc_metrics_add_value(out);
            if (!v)
                st = PC_E_INTERNAL;
            for (int i = 0; v && i < smp.nlabels && st == PC_OK; i++)
                st = sc_strv_add(&v->label_values, smp.values[i]);
            if (v) {
                snprintf(v->fq_name, sizeof v->fq_name, "%s", smp.name);
                v->value = smp.value;
            }
        }
    }
    pc_buf_free(&text);
    return st;
}

pc_status sc_engine_metrics_define(const sc_call *call, sc_metrics *out)
{
    return metrics_walk(call, out, true);
}

pc_status sc_engine_metrics_collect(const sc_call *call, sc_metrics *out)
{
    return metrics_walk(call, out, false);
}

/* ---- retention ---- */

static pthread_t retention_thread;
static bool retention_running;
static pthread_mutex_t retention_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t retention_cv = PTHREAD_COND_INITIALIZER;
static bool retention_stop;

/*
 * Apply each store's retention policy, on the primary only: the stores this
 * sidecar archived to during the last two intervals (CNPG only archives on
 * the primary; plugin-barman-cloud asks the Kubernetes API, which pgcask
 * does not talk to).
 */
static void retention_pass(int64_t interval_us)
{
    int64_t now = pc_now_us();
    /* stores are never freed while the sidecar runs: collect them, then work unlocked */
    store *todo[64];
    size_t n = 0;
    pthread_mutex_lock(&stores_mu);
    for (store *s = stores; s && n < sizeof todo / sizeof todo[0]; s = s->next) {
        int64_t last = atomic_load(&s->last_archive_us);
        if (pc_cfg_str(s->cfg, "retention-policy") && last != 0 && now - last <= 2 * interval_us)
            todo[n++] = s;
    }
    pthread_mutex_unlock(&stores_mu);
    for (size_t i = 0; i < n; i++) {
        store *s = todo[i];
        const char *policy = pc_cfg_str(s->cfg, "retention-policy");
        ops_delete_opts o = {.policy = policy,
                             .minimum_redundancy = pc_cfg_int(s->cfg, "minimum-redundancy")};
        ops_delete_result res;
        memset(&res, 0, sizeof res);
        pc_err_clear();
        pc_status st = ops_backup_delete(s->arc, &o, NULL, &res);
        if (st == PC_OK)
            pc_log(res.backups ? PC_LOG_INFO : PC_LOG_DEBUG,
                   "retention \"%s\" on server %s: %zu backups and %zu WAL files deleted", policy,
                   s->server, res.backups, res.wals);
        else
            pc_warn("retention \"%s\" on server %s failed: %s", policy, s->server,
                    pc_err_get()->message);
    }
}

typedef struct retention_arg {
    int64_t interval_ms;
} retention_arg;

static void *retention_main(void *arg)
{
    int64_t interval_ms = ((retention_arg *)arg)->interval_ms;
    free(arg);
    pthread_mutex_lock(&retention_mu);
    while (!retention_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += interval_ms / 1000;
        ts.tv_nsec += (interval_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&retention_cv, &retention_mu, &ts);
        if (retention_stop)
            break;
        pthread_mutex_unlock(&retention_mu);
        retention_pass(interval_ms * 1000);
        pthread_mutex_lock(&retention_mu);
    }
    pthread_mutex_unlock(&retention_mu);
    return NULL;
}

/* ---- the scheduler mode ---- */

static pthread_t sched_thread;
static bool sched_running;
static atomic_bool sched_stop;
static pc_cfg *sched_cfg;
static arc_ctx *sched_arc;

static void *sched_main(void *arg)
{
    sch_opts o = {
        .schedule = {pc_cfg_str(sched_cfg, "full-schedule"), pc_cfg_str(sched_cfg, "diff-schedule"),
                     pc_cfg_str(sched_cfg, "incr-schedule")},
        .stop = &sched_stop,
        .job_ud = sched_cfg,
        .retention = pc_cfg_str(sched_cfg, "retention-policy"),
        .minimum_redundancy = pc_cfg_int(sched_cfg, "minimum-redundancy"),
    };
    if (sch_run(sched_arc, &o) != PC_OK)
        pc_error_log("the backup scheduler stopped: %s", pc_err_get()->message);
    return NULL;
}

/* The scheduler gets a configuration of its own: arc_backup may adjust it. */
static pc_status sched_start(const pc_cfg *cfg)
{
    pc_status st = pc_cfg_clone(cfg, &sched_cfg);
    if (st == PC_OK)
        st = arc_ctx_new(sched_cfg, &sched_arc);
    if (st == PC_OK) {
        atomic_store(&sched_stop, false);
        if (pthread_create(&sched_thread, NULL, sched_main, NULL) != 0)
            st = pc_err(PC_E_INTERNAL, "could not start the scheduler thread");
    }
    if (st) {
        pc_err_context("the backup scheduler");
        arc_ctx_free(sched_arc);
        pc_cfg_free(sched_cfg);
        sched_arc = NULL;
        sched_cfg = NULL;
        return st;
    }
    sched_running = true;
    pc_info("the backup scheduler runs in this sidecar (server %s)", arc_ctx_server(sched_arc));
    return PC_OK;
}

static void sched_end(void)
{
    if (!sched_running)
        return;
    atomic_store(&sched_stop, true);
    pthread_join(sched_thread, NULL);
    arc_ctx_free(sched_arc);
    pc_cfg_free(sched_cfg);
    sched_arc = NULL;
    sched_cfg = NULL;
    sched_running = false;
}

pc_status sc_engine_start(const pc_cfg *cfg)
{
    if (pc_cfg_bool(cfg, "scheduler")) {
        pc_status st = sched_start(cfg);
        if (st)
            return st;
    }
    int64_t interval = pc_cfg_duration_ms(cfg, "retention-interval");
    if (interval <= 0)
        return PC_OK;
    retention_arg *a = pc_calloc(1, sizeof *a);
    if (!a)
        return PC_E_INTERNAL;
    a->interval_ms = interval;
    retention_stop = false;
    if (pthread_create(&retention_thread, NULL, retention_main, a) != 0) {
        free(a);
        return pc_err(PC_E_INTERNAL, "could not start the retention thread");
    }
    retention_running = true;
    return PC_OK;
}

static void retention_end(void)
{
    if (!retention_running)
        return;
    pthread_mutex_lock(&retention_mu);
    retention_stop = true;
    pthread_cond_signal(&retention_cv);
    pthread_mutex_unlock(&retention_mu);
    pthread_join(retention_thread, NULL);
    retention_running = false;
}
