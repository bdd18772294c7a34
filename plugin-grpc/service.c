/*
 * CNPG-I handlers: protobuf in, engine call, protobuf out. Every handler
 * decodes and checks its whole request (including the Cluster JSON) before
 * it asks the engine, so a bad request is INVALID_ARGUMENT whatever the
 * engine supports.
 */
#include "plugin-grpc/service.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.pb-c.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/wal.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "metrics.pb-c.h"
#include "plugin-grpc/cluster.h"
#include "plugin-grpc/engine.h"
#include "restore_job.pb-c.h"
#include "wal.pb-c.h"

#define PROJECT_URL "https://github.com/pgcask/pgcask"

/*
 * pgcask status -> gRPC code. CNPG acts on none of the codes: an Archive
 * error makes `wal-archive` fail (PostgreSQL retries the segment) and puts
 * the status text into the Cluster's conditions; a Restore error makes the
 * instance manager try the next source and finally report the file
 * missing; the code is only logged. So the text carries the meaning and the
 * code follows gRPC's definitions, for people reading those logs:
 *   - NOT_FOUND: the WAL or backup is not in the archive.
 *   - USAGE (a bad request or Cluster definition): INVALID_ARGUMENT.
 *   - CONNECT, TIMEOUT, REMOTE, BUSY, PG: UNAVAILABLE -- trying again later
 *     can succeed (the store, the lock or PostgreSQL may come back).
 *   - AUTH: PERMISSION_DENIED -- the store refused our credentials.
 *   - CONFLICT: ALREADY_EXISTS -- an object with different bytes is stored;
 *     nothing was overwritten.
 *   - CORRUPT: DATA_LOSS -- stored data failed its checks.
 *   - NO_BUCKET, NOT_EMPTY, CONFIG, IO, AUDIT: FAILED_PRECONDITION -- the
 *     system is not in a state where the call can work until someone fixes
 *     it (create the bucket, empty the archive, fix the configuration or the
 *     local disk, repair what the audit found).
 *   - INTERRUPTED: CANCELLED (the sidecar is stopping).
 *   - INTERNAL: INTERNAL.
 */
sc_code sc_status_code(pc_status st)
{
    switch (st) {
    case PC_OK:
        return SC_OK;
    case PC_E_NOT_FOUND:
        return SC_NOT_FOUND;
    case PC_E_USAGE:
        return SC_INVALID_ARGUMENT;
    case PC_E_CONNECT:
    case PC_E_TIMEOUT:
    case PC_E_REMOTE:
    case PC_E_BUSY:
    case PC_E_PG:
        return SC_UNAVAILABLE;
    case PC_E_AUTH:
        return SC_PERMISSION_DENIED;
    case PC_E_CONFLICT:
        return SC_ALREADY_EXISTS;
    case PC_E_CORRUPT:
        return SC_DATA_LOSS;
    case PC_E_NO_BUCKET:
    case PC_E_NOT_EMPTY:
    case PC_E_CONFIG:
    case PC_E_IO:
    case PC_E_AUDIT:
        return SC_FAILED_PRECONDITION;
    case PC_E_INTERRUPTED:
        return SC_CANCELLED;
    case PC_E_INTERNAL:
        return SC_INTERNAL;
    }
    return SC_INTERNAL;
}

/* protobuf-c wants char * for fields it only reads. */
static char *mut(const char *s)
{
    return (char *)(uintptr_t)s;
}

/* Status texts end up in logs and Cluster conditions: one printable line. */
static void set_message(sc_reply *rep, const char *fmt, va_list ap) PC_PRINTF(2, 0);
static void set_message(sc_reply *rep, const char *fmt, va_list ap)
{
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    for (char *p = rep->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void fail(const sc_request *req, sc_reply *rep, sc_code code, const char *fmt, ...)
    PC_PRINTF(4, 5);
static void fail(const sc_request *req, sc_reply *rep, sc_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(rep, fmt, ap);
    va_end(ap);
    rep->code = code;
    /* PostgreSQL asks for WAL and history files that do not exist as a matter of course */
    pc_log(code == SC_NOT_FOUND ? PC_LOG_INFO : PC_LOG_WARNING, "%s: %s: %s", req->method,
           sc_code_name(code), rep->message);
}

/* Report the current error record (set by whoever returned st). */
static void fail_status(const sc_request *req, sc_reply *rep, pc_status st)
{
    const pc_error *e = pc_err_get();
    const char *msg = e->status == st && e->message[0] ? e->message : pc_status_name(st);
    fail(req, rep, sc_status_code(st), "%s", msg);
}

static void unimplemented(const sc_request *req, sc_reply *rep, const char *what)
{
    fail(req, rep, SC_UNIMPLEMENTED, "%s is not available in this pgcask sidecar (version %s)",
         what, PGCASK_VERSION);
}

static void reply(const sc_request *req, sc_reply *rep, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    rep->data = malloc(n ? n : 1);
    if (!rep->data) {
        fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        return;
    }
    rep->len = protobuf_c_message_pack(m, rep->data);
    rep->code = SC_OK;
}

static void *unpack(const ProtobufCMessageDescriptor *d, const sc_request *req, sc_reply *rep)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, req->len, req->data);
    if (!m)
        fail(req, rep, SC_INVALID_ARGUMENT, "the request is not a valid %s message (%zu bytes)",
             d->name, req->len);
    return m;
}

static void release(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- Identity and health ---- */

static void h_metadata(void *app, const sc_request *req, sc_reply *rep)
{
    const sc_service *svc = app;
    Cnpgi__Identity__V1__GetPluginMetadataRequest *in =
        unpack(&cnpgi__identity__v1__get_plugin_metadata_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Identity__V1__GetPluginMetadataResponse out;
    cnpgi__identity__v1__get_plugin_metadata_response__init(&out);
    out.name = mut(svc->plugin_name);
    out.version = mut(PGCASK_VERSION);
    out.display_name = mut("pgcask");
    out.description = mut("PostgreSQL WAL archiving, backup and restore to object storage, "
                          "compatible with barman-cloud");
    out.project_url = mut(PROJECT_URL);
    out.repository_url = mut(PROJECT_URL);
    out.license = mut("Apache-2.0");
    out.license_url = mut("https://www.apache.org/licenses/LICENSE-2.0");
    out.maturity = mut("beta");
    out.vendor = mut("pgcask");
    reply(req, rep, &out.base);
}

static void h_capabilities(void *app, const sc_request *req, sc_reply *rep)
{
    const sc_service *svc = app;
    Cnpgi__Identity__V1__GetPluginCapabilitiesRequest *in =
        unpack(&cnpgi__identity__v1__get_plugin_capabilities_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Identity__V1__PluginCapability__Service__Type types[3];
    size_t n = 0;
    switch (svc->mode) {
    case SC_MODE_INSTANCE:
        types[n++] = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__TYPE_WAL_SERVICE;
        types[n++] = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__TYPE_BACKUP_SERVICE;
        types[n++] = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__TYPE_METRICS;
        break;
    case SC_MODE_RESTORE:
        types[n++] = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__TYPE_RESTORE_JOB;
        types[n++] = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__TYPE_WAL_SERVICE;
        break;
    }
    Cnpgi__Identity__V1__PluginCapability__Service services[3];
    Cnpgi__Identity__V1__PluginCapability caps[3];
    Cnpgi__Identity__V1__PluginCapability *ptrs[3];
    for (size_t i = 0; i < n; i++) {
        cnpgi__identity__v1__plugin_capability__service__init(&services[i]);
        services[i].type = types[i];
        cnpgi__identity__v1__plugin_capability__init(&caps[i]);
        /* CNPG dereferences the service of every entry: it is always set */
        caps[i].type_case = CNPGI__IDENTITY__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
        caps[i].service = &services[i];
        ptrs[i] = &caps[i];
    }
    Cnpgi__Identity__V1__GetPluginCapabilitiesResponse out;
    cnpgi__identity__v1__get_plugin_capabilities_response__init(&out);
    out.n_capabilities = n;
    out.capabilities = ptrs;
    reply(req, rep, &out.base);
}

static void h_probe(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Identity__V1__ProbeRequest *in =
        unpack(&cnpgi__identity__v1__probe_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Identity__V1__ProbeResponse out;
    cnpgi__identity__v1__probe_response__init(&out);
    out.ready = 1;
    reply(req, rep, &out.base);
}

/* The services a mode serves, by the names grpc.health.v1 asks about. */
static bool serves(sc_mode mode, const char *service)
{
    static const char *common[] = {"", "grpc.health.v1.Health", "cnpgi.identity.v1.Identity",
                                   "cnpgi.wal.v1.WAL"};
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        if (strcmp(service, common[i]) == 0)
            return true;
    switch (mode) {
    case SC_MODE_INSTANCE:
        return strcmp(service, "cnpgi.backup.v1.Backup") == 0 ||
               strcmp(service, "cnpgi.metrics.v1.Metrics") == 0;
    case SC_MODE_RESTORE:
        return strcmp(service, "cnpgi.wal.v1.RestoreJobHooks") == 0;
    }
    return false;
}

static void h_health(void *app, const sc_request *req, sc_reply *rep)
{
    const sc_service *svc = app;
    Grpc__Health__V1__HealthCheckRequest *in =
        unpack(&grpc__health__v1__health_check_request__descriptor, req, rep);
    if (!in)
        return;
    /* the health protocol answers NOT_FOUND for a service the server does not know */
    if (!serves(svc->mode, in->service)) {
        fail(req, rep, SC_NOT_FOUND, "unknown service \"%.200s\"", in->service);
        release(in);
        return;
    }
    release(in);
    Grpc__Health__V1__HealthCheckResponse out;
    grpc__health__v1__health_check_response__init(&out);
    out.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    reply(req, rep, &out.base);
}

/* ---- GetCapabilities of the services ---- */

static void h_wal_caps(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__WALCapabilitiesRequest *in =
        unpack(&cnpgi__wal__v1__walcapabilities_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    static const Cnpgi__Wal__V1__WALCapability__RPC__Type types[] = {
        CNPGI__WAL__V1__WALCAPABILITY__RPC__TYPE__TYPE_ARCHIVE_WAL,
        CNPGI__WAL__V1__WALCAPABILITY__RPC__TYPE__TYPE_RESTORE_WAL,
        CNPGI__WAL__V1__WALCAPABILITY__RPC__TYPE__TYPE_STATUS,
        CNPGI__WAL__V1__WALCAPABILITY__RPC__TYPE__TYPE_SET_FIRST_REQUIRED,
    };
    enum { N = sizeof types / sizeof types[0] };
    Cnpgi__Wal__V1__WALCapability__RPC rpcs[N];
    Cnpgi__Wal__V1__WALCapability caps[N];
    Cnpgi__Wal__V1__WALCapability *ptrs[N];
    for (size_t i = 0; i < N; i++) {
        cnpgi__wal__v1__walcapability__rpc__init(&rpcs[i]);
        rpcs[i].type = types[i];
        cnpgi__wal__v1__walcapability__init(&caps[i]);
        caps[i].type_case = CNPGI__WAL__V1__WALCAPABILITY__TYPE_RPC;
        caps[i].rpc = &rpcs[i];
        ptrs[i] = &caps[i];
    }
    Cnpgi__Wal__V1__WALCapabilitiesResult out;
    cnpgi__wal__v1__walcapabilities_result__init(&out);
    out.n_capabilities = N;
    out.capabilities = ptrs;
    reply(req, rep, &out.base);
}

static void h_backup_caps(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Backup__V1__BackupCapabilitiesRequest *in =
        unpack(&cnpgi__backup__v1__backup_capabilities_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Backup__V1__BackupCapability__RPC rpc;
    cnpgi__backup__v1__backup_capability__rpc__init(&rpc);
    rpc.type = CNPGI__BACKUP__V1__BACKUP_CAPABILITY__RPC__TYPE__TYPE_BACKUP;
    Cnpgi__Backup__V1__BackupCapability cap;
    cnpgi__backup__v1__backup_capability__init(&cap);
    cap.type_case = CNPGI__BACKUP__V1__BACKUP_CAPABILITY__TYPE_RPC;
    cap.rpc = &rpc;
    Cnpgi__Backup__V1__BackupCapability *ptr = &cap;
    Cnpgi__Backup__V1__BackupCapabilitiesResult out;
    cnpgi__backup__v1__backup_capabilities_result__init(&out);
    out.n_capabilities = 1;
    out.capabilities = &ptr;
    reply(req, rep, &out.base);
}

static void h_restore_job_caps(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__RestoreJobHooksCapabilitiesRequest *in =
        unpack(&cnpgi__wal__v1__restore_job_hooks_capabilities_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Wal__V1__RestoreJobHooksCapability cap;
    cnpgi__wal__v1__restore_job_hooks_capability__init(&cap);
    cap.kind = CNPGI__WAL__V1__RESTORE_JOB_HOOKS_CAPABILITY__KIND__KIND_RESTORE;
    Cnpgi__Wal__V1__RestoreJobHooksCapability *ptr = &cap;
    Cnpgi__Wal__V1__RestoreJobHooksCapabilitiesResult out;
    cnpgi__wal__v1__restore_job_hooks_capabilities_result__init(&out);
    out.n_capabilities = 1;
    out.capabilities = &ptr;
    reply(req, rep, &out.base);
}

static void h_metrics_caps(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Metrics__V1__MetricsCapabilitiesRequest *in =
        unpack(&cnpgi__metrics__v1__metrics_capabilities_request__descriptor, req, rep);
    if (!in)
        return;
    release(in);
    Cnpgi__Metrics__V1__MetricsCapability__RPC rpc;
    cnpgi__metrics__v1__metrics_capability__rpc__init(&rpc);
    rpc.type = CNPGI__METRICS__V1__METRICS_CAPABILITY__RPC__TYPE__TYPE_METRICS;
    Cnpgi__Metrics__V1__MetricsCapability cap;
    cnpgi__metrics__v1__metrics_capability__init(&cap);
    cap.type_case = CNPGI__METRICS__V1__METRICS_CAPABILITY__TYPE_RPC;
    cap.rpc = &rpc;
    Cnpgi__Metrics__V1__MetricsCapability *ptr = &cap;
    Cnpgi__Metrics__V1__MetricsCapabilitiesResult out;
    cnpgi__metrics__v1__metrics_capabilities_result__init(&out);
    out.n_capabilities = 1;
    out.capabilities = &ptr;
    reply(req, rep, &out.base);
}

/* ---- Data calls: the engine does the work ---- */

/* The engine's arguments common to every data call, and what they own. */
typedef struct call_ctx {
    sc_call call;
    sc_cluster *cluster;
    sc_kvs params;
} call_ctx;

/* Copy a request's `parameters` map (entries of any map type have key and value). */
#define COPY_PARAMS(st, cc, msg)                                                                   \
    do {                                                                                           \
        if ((msg)->n_parameters > SC_PARAMS_MAX)                                                   \
            (st) = pc_err(PC_E_USAGE, "the request has %zu parameters (at most %d)",               \
                          (msg)->n_parameters, SC_PARAMS_MAX);                                     \
        for (size_t i_ = 0; (st) == PC_OK && i_ < (msg)->n_parameters; i_++)                       \
            (st) = sc_kvs_add(&(cc)->params, (msg)->parameters[i_]->key,                           \
                              (msg)->parameters[i_]->value);                                       \
    } while (0)

static pc_status begin_call(const sc_service *svc, const sc_request *req, ProtobufCBinaryData def,
                            call_ctx *cc)
{
    memset(cc, 0, sizeof *cc);
    pc_status st =
        sc_cluster_parse(def.data, def.len, svc->plugin_name, svc->pod_name, &cc->cluster);
    if (st != PC_OK)
        return st;
    cc->call.cfg = svc->cfg;
    cc->call.plugin_name = svc->plugin_name;
    cc->call.cluster = cc->cluster;
    cc->call.params = &cc->params;
    cc->call.stopping = req->stopping;
    return PC_OK;
}

static void end_call(call_ctx *cc)
{
    sc_cluster_free(cc->cluster);
    sc_kvs_clear(&cc->params);
}

/* PostgreSQL hands over absolute paths ($PGDATA/...); anything else is a bad request. */
static pc_status check_path(const char *field, const char *path)
{
    if (!path[0])
        return pc_err(PC_E_USAGE, "%s is empty", field);
    if (path[0] != '/')
        return pc_err(PC_E_USAGE, "%s \"%.200s\" is not an absolute path", field, path);
    if (strlen(path) >= PATH_MAX)
        return pc_err(PC_E_USAGE, "%s is %zu bytes long (at most %d)", field, strlen(path),
                      PATH_MAX - 1);
    return PC_OK;
}

static int check_empty_of(bool has, bool value)
{
    return has ? (value ? SC_CHECK_YES : SC_CHECK_NO) : SC_CHECK_UNSET;
}

static void h_archive(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__WALArchiveRequest *in =
        unpack(&cnpgi__wal__v1__walarchive_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    pc_wal_name wal;
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st == PC_OK)
        COPY_PARAMS(st, &cc, in);
    if (st == PC_OK && (st = check_path("source_file_name", in->source_file_name)) == PC_OK)
        st = pc_wal_parse_path(in->source_file_name, &wal);
    int check = check_empty_of(
        in->_check_empty_wal_archive_case ==
            CNPGI__WAL__V1__WALARCHIVE_REQUEST___CHECK_EMPTY_WAL_ARCHIVE_CHECK_EMPTY_WAL_ARCHIVE,
        in->check_empty_wal_archive);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_WAL_ARCHIVE)) {
        unimplemented(req, rep, "WAL archiving");
    } else if ((st = sc_engine_archive(&cc.call, in->source_file_name, check)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        Cnpgi__Wal__V1__WALArchiveResult out;
        cnpgi__wal__v1__walarchive_result__init(&out);
        reply(req, rep, &out.base);
    }
    end_call(&cc);
    release(in);
}

static void h_restore(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__WALRestoreRequest *in =
        unpack(&cnpgi__wal__v1__walrestore_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    pc_wal_name wal;
    sc_restore_mode mode = SC_RESTORE_RECOVERY;
    bool end_of_wal = false;
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st == PC_OK)
        COPY_PARAMS(st, &cc, in);
    if (st == PC_OK && strchr(in->source_wal_name, '/'))
        st = pc_err(PC_E_USAGE, "source_wal_name \"%.200s\" is a path, not a file name",
                    in->source_wal_name);
    if (st == PC_OK)
        st = pc_wal_parse(in->source_wal_name, &wal);
    if (st == PC_OK)
        st = check_path("destination_file_name", in->destination_file_name);
    if (st == PC_OK) {
        /* an operator older than the field sends UNSPECIFIED: plain recovery */
        switch ((int)in->mode) {
        case CNPGI__WAL__V1__WALRESTORE_REQUEST__MODE__MODE_UNSPECIFIED:
        case CNPGI__WAL__V1__WALRESTORE_REQUEST__MODE__MODE_RECOVERY:
            mode = SC_RESTORE_RECOVERY;
            break;
        case CNPGI__WAL__V1__WALRESTORE_REQUEST__MODE__MODE_REWIND:
            mode = SC_RESTORE_REWIND;
            break;
        default:
            st = pc_err(PC_E_USAGE, "unknown restore mode %d", (int)in->mode);
            break;
        }
    }
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_WAL_RESTORE)) {
        unimplemented(req, rep, "WAL restore");
    } else if ((st = sc_engine_restore(&cc.call, wal.name, in->destination_file_name, mode,
                                       &end_of_wal)) != PC_OK) {
        fail_status(req, rep, st);
    } else if (end_of_wal) {
        /* CNPG's instance manager treats OUT_OF_RANGE as "switch to streaming" */
        fail(req, rep, SC_OUT_OF_RANGE, "end of WAL reached");
    } else {
        Cnpgi__Wal__V1__WALRestoreResult out;
        cnpgi__wal__v1__walrestore_result__init(&out);
        reply(req, rep, &out.base);
    }
    end_call(&cc);
    release(in);
}

/* Response maps: protobuf-c wants an array of entry pointers; the strings stay in the list. */
#define MAP_ENCODER(fn, T, init)                                                                   \
    static T **fn(const sc_kvs *l, T **entries)                                                    \
    {                                                                                              \
        *entries = pc_calloc(l->n + 1, sizeof **entries);                                          \
        T **ptrs = pc_calloc(l->n + 1, sizeof *ptrs);                                              \
        if (!*entries || !ptrs) {                                                                  \
            free(*entries);                                                                        \
            free(ptrs);                                                                            \
            *entries = NULL;                                                                       \
            return NULL;                                                                           \
        }                                                                                          \
        for (size_t i = 0; i < l->n; i++) {                                                        \
            init(&(*entries)[i]);                                                                  \
            (*entries)[i].key = l->items[i].key;                                                   \
            (*entries)[i].value = l->items[i].value;                                               \
            ptrs[i] = &(*entries)[i];                                                              \
        }                                                                                          \
        return ptrs;                                                                               \
    }

MAP_ENCODER(status_info_map, Cnpgi__Wal__V1__WALStatusResult__AdditionalInformationEntry,
            cnpgi__wal__v1__walstatus_result__additional_information_entry__init)
MAP_ENCODER(backup_meta_map, Cnpgi__Backup__V1__BackupResult__MetadataEntry,
            cnpgi__backup__v1__backup_result__metadata_entry__init)
MAP_ENCODER(const_labels_map, Cnpgi__Metrics__V1__Metric__ConstLabelsEntry,
            cnpgi__metrics__v1__metric__const_labels_entry__init)

static void h_status(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__WALStatusRequest *in =
        unpack(&cnpgi__wal__v1__walstatus_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    sc_wal_status res;
    sc_wal_status_init(&res);
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_WAL_STATUS)) {
        unimplemented(req, rep, "WAL archive status");
    } else if ((st = sc_engine_status(&cc.call, &res)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        Cnpgi__Wal__V1__WALStatusResult out;
        cnpgi__wal__v1__walstatus_result__init(&out);
        Cnpgi__Wal__V1__WALStatusResult__AdditionalInformationEntry *entries;
        out.first_wal = res.first_wal;
        out.last_wal = res.last_wal;
        out.n_additional_information = res.info.n;
        out.additional_information = status_info_map(&res.info, &entries);
        if (!out.additional_information) {
            fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        } else {
            reply(req, rep, &out.base);
            free(entries);
            free(out.additional_information);
        }
    }
    sc_wal_status_clear(&res);
    end_call(&cc);
    release(in);
}

static void h_set_first_required(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__SetFirstRequiredRequest *in =
        unpack(&cnpgi__wal__v1__set_first_required_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    pc_wal_name wal;
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st == PC_OK && !pc_wal_is_segment_name(in->first_required_wal))
        st = pc_err(PC_E_USAGE, "first_required_wal \"%.200s\" is not a WAL segment name",
                    in->first_required_wal);
    if (st == PC_OK)
        st = pc_wal_parse(in->first_required_wal, &wal);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_WAL_SET_FIRST_REQUIRED)) {
        unimplemented(req, rep, "setting the first required WAL");
    } else if ((st = sc_engine_set_first_required(&cc.call, wal.name)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        Cnpgi__Wal__V1__SetFirstRequiredResult out;
        cnpgi__wal__v1__set_first_required_result__init(&out);
        reply(req, rep, &out.base);
    }
    end_call(&cc);
    release(in);
}

static void h_backup(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Backup__V1__BackupRequest *in =
        unpack(&cnpgi__backup__v1__backup_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    sc_backup_result res;
    sc_backup_result_init(&res);
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st == PC_OK)
        COPY_PARAMS(st, &cc, in);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_BACKUP)) {
        unimplemented(req, rep, "Taking a backup");
    } else if ((st = sc_engine_backup(&cc.call, in->backup_definition.data,
                                      in->backup_definition.len, &res)) != PC_OK) {
        fail_status(req, rep, st);
    } else if (!res.backup_id[0] || res.started_at <= 0 || res.stopped_at < res.started_at) {
        /* CNPG would record a Backup it cannot restore: refuse the result */
        fail(req, rep, SC_INTERNAL, "the backup finished without an id or valid times");
    } else {
        Cnpgi__Backup__V1__BackupResult out;
        cnpgi__backup__v1__backup_result__init(&out);
        Cnpgi__Backup__V1__BackupResult__MetadataEntry *entries;
        out.backup_id = res.backup_id;
        out.backup_name = res.backup_name;
        out.started_at = res.started_at;
        out.stopped_at = res.stopped_at;
        out.begin_wal = res.begin_wal;
        out.end_wal = res.end_wal;
        out.begin_lsn = res.begin_lsn;
        out.end_lsn = res.end_lsn;
        out.backup_label_file.data = res.backup_label.data;
        out.backup_label_file.len = res.backup_label.len;
        out.tablespace_map_file.data = res.tablespace_map.data;
        out.tablespace_map_file.len = res.tablespace_map.len;
        out.instance_id = res.instance_id;
        out.online = res.online;
        out.n_metadata = res.metadata.n;
        out.metadata = backup_meta_map(&res.metadata, &entries);
        if (!out.metadata) {
            fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        } else {
            reply(req, rep, &out.base);
            free(entries);
            free(out.metadata);
        }
    }
    sc_backup_result_clear(&res);
    end_call(&cc);
    release(in);
}

static void h_restore_job(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Wal__V1__RestoreRequest *in =
        unpack(&cnpgi__wal__v1__restore_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    sc_restore_job_result res;
    sc_restore_job_result_init(&res);
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    int check = check_empty_of(
        in->_check_empty_wal_archive_case ==
            CNPGI__WAL__V1__RESTORE_REQUEST___CHECK_EMPTY_WAL_ARCHIVE_CHECK_EMPTY_WAL_ARCHIVE,
        in->check_empty_wal_archive);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_RESTORE_JOB)) {
        unimplemented(req, rep, "Restoring a cluster");
    } else if ((st = sc_engine_restore_job(&cc.call, check, &res)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        Cnpgi__Wal__V1__RestoreResponse out;
        cnpgi__wal__v1__restore_response__init(&out);
        sc_strv envs = {0};
        for (size_t i = 0; st == PC_OK && i < res.envs.n; i++) {
            char *kv = pc_asprintf("%s=%s", res.envs.items[i].key, res.envs.items[i].value);
            st = kv ? sc_strv_add(&envs, kv) : PC_E_INTERNAL;
            free(kv);
        }
        out.restore_config = mut(pc_buf_cstr(&res.restore_config));
        out.n_envs = envs.n;
        out.envs = envs.items;
        if (st != PC_OK)
            fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        else
            reply(req, rep, &out.base);
        sc_strv_clear(&envs);
    }
    sc_restore_job_result_clear(&res);
    end_call(&cc);
    release(in);
}

static void h_metrics_define(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Metrics__V1__DefineMetricsRequest *in =
        unpack(&cnpgi__metrics__v1__define_metrics_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    sc_metrics res;
    sc_metrics_init(&res);
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_METRICS)) {
        unimplemented(req, rep, "Serving metrics");
    } else if ((st = sc_engine_metrics_define(&cc.call, &res)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        size_t n = res.ndefs;
        Cnpgi__Metrics__V1__Metric *ms = pc_calloc(n + 1, sizeof *ms);
        Cnpgi__Metrics__V1__Metric **ptrs = pc_calloc(n + 1, sizeof *ptrs);
        Cnpgi__Metrics__V1__MetricType *types = pc_calloc(n + 1, sizeof *types);
        Cnpgi__Metrics__V1__Metric__ConstLabelsEntry **entries = pc_calloc(n + 1, sizeof *entries);
        bool ok = ms && ptrs && types && entries;
        for (size_t i = 0; ok && i < n; i++) {
            const sc_metric_def *d = &res.defs[i];
            cnpgi__metrics__v1__metric__init(&ms[i]);
            cnpgi__metrics__v1__metric_type__init(&types[i]);
            types[i].type = (Cnpgi__Metrics__V1__MetricType__Type)d->type;
            ms[i].fq_name = mut(d->fq_name);
            ms[i].help = mut(d->help);
            ms[i].n_variable_labels = d->variable_labels.n;
            ms[i].variable_labels = d->variable_labels.items;
            ms[i].n_const_labels = d->const_labels.n;
            ms[i].const_labels = const_labels_map(&d->const_labels, &entries[i]);
            ms[i].value_type = &types[i];
            ptrs[i] = &ms[i];
            ok = ms[i].const_labels != NULL;
        }
        if (ok) {
            Cnpgi__Metrics__V1__DefineMetricsResult out;
            cnpgi__metrics__v1__define_metrics_result__init(&out);
            out.n_metrics = n;
            out.metrics = ptrs;
            reply(req, rep, &out.base);
        } else {
            fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        }
        for (size_t i = 0; ms && entries && i < n; i++) {
            free(ms[i].const_labels);
            free(entries[i]);
        }
        free(entries);
        free(types);
        free(ptrs);
        free(ms);
    }
    sc_metrics_clear(&res);
    end_call(&cc);
    release(in);
}

static void h_metrics_collect(void *app, const sc_request *req, sc_reply *rep)
{
    Cnpgi__Metrics__V1__CollectMetricsRequest *in =
        unpack(&cnpgi__metrics__v1__collect_metrics_request__descriptor, req, rep);
    if (!in)
        return;
    call_ctx cc;
    sc_metrics res;
    sc_metrics_init(&res);
    pc_status st = begin_call(app, req, in->cluster_definition, &cc);
    if (st != PC_OK) {
        fail_status(req, rep, st);
    } else if (!sc_engine_supports(SC_OP_METRICS)) {
        unimplemented(req, rep, "Serving metrics");
    } else if ((st = sc_engine_metrics_collect(&cc.call, &res)) != PC_OK) {
        fail_status(req, rep, st);
    } else {
        size_t n = res.nvalues;
        Cnpgi__Metrics__V1__CollectMetric *ms = pc_calloc(n + 1, sizeof *ms);
        Cnpgi__Metrics__V1__CollectMetric **ptrs = pc_calloc(n + 1, sizeof *ptrs);
        if (ms && ptrs) {
            for (size_t i = 0; i < n; i++) {
                const sc_metric_value *v = &res.values[i];
                cnpgi__metrics__v1__collect_metric__init(&ms[i]);
                ms[i].fq_name = mut(v->fq_name);
                ms[i].value = v->value;
                ms[i].n_variable_labels = v->label_values.n;
                ms[i].variable_labels = v->label_values.items;
                ptrs[i] = &ms[i];
            }
            Cnpgi__Metrics__V1__CollectMetricsResult out;
            cnpgi__metrics__v1__collect_metrics_result__init(&out);
            out.n_metrics = n;
            out.metrics = ptrs;
            reply(req, rep, &out.base);
        } else {
            fail(req, rep, SC_INTERNAL, "out of memory encoding the reply");
        }
        free(ptrs);
        free(ms);
    }
    sc_metrics_clear(&res);
    end_call(&cc);
    release(in);
}

/* ---- Method tables ---- */

/* Identity, health and WAL are served in both modes; the tables spell them out twice. */
static const sc_method instance_methods[] = {
    {"/cnpgi.identity.v1.Identity/GetPluginMetadata", h_metadata},
    {"/cnpgi.identity.v1.Identity/GetPluginCapabilities", h_capabilities},
    {"/cnpgi.identity.v1.Identity/Probe", h_probe},
    {"/grpc.health.v1.Health/Check", h_health},
    {"/cnpgi.wal.v1.WAL/GetCapabilities", h_wal_caps},
    {"/cnpgi.wal.v1.WAL/Archive", h_archive},
    {"/cnpgi.wal.v1.WAL/Restore", h_restore},
    {"/cnpgi.wal.v1.WAL/Status", h_status},
    {"/cnpgi.wal.v1.WAL/SetFirstRequired", h_set_first_required},
    {"/cnpgi.backup.v1.Backup/GetCapabilities", h_backup_caps},
    {"/cnpgi.backup.v1.Backup/Backup", h_backup},
    {"/cnpgi.metrics.v1.Metrics/GetCapabilities", h_metrics_caps},
    {"/cnpgi.metrics.v1.Metrics/Define", h_metrics_define},
    {"/cnpgi.metrics.v1.Metrics/Collect", h_metrics_collect},
};

static const sc_method restore_methods[] = {
    {"/cnpgi.identity.v1.Identity/GetPluginMetadata", h_metadata},
    {"/cnpgi.identity.v1.Identity/GetPluginCapabilities", h_capabilities},
    {"/cnpgi.identity.v1.Identity/Probe", h_probe},
    {"/grpc.health.v1.Health/Check", h_health},
    {"/cnpgi.wal.v1.WAL/GetCapabilities", h_wal_caps},
    {"/cnpgi.wal.v1.WAL/Archive", h_archive},
    {"/cnpgi.wal.v1.WAL/Restore", h_restore},
    {"/cnpgi.wal.v1.WAL/Status", h_status},
    {"/cnpgi.wal.v1.WAL/SetFirstRequired", h_set_first_required},
    {"/cnpgi.wal.v1.RestoreJobHooks/GetCapabilities", h_restore_job_caps},
    {"/cnpgi.wal.v1.RestoreJobHooks/Restore", h_restore_job},
};

const sc_method *sc_service_methods(sc_mode mode, size_t *n)
{
    switch (mode) {
    case SC_MODE_INSTANCE:
        *n = sizeof instance_methods / sizeof instance_methods[0];
        return instance_methods;
    case SC_MODE_RESTORE:
        *n = sizeof restore_methods / sizeof restore_methods[0];
        return restore_methods;
    }
    *n = 0;
    return NULL;
}
