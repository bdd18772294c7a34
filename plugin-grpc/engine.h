#ifndef PGCASK_PLUGIN_GRPC_ENGINE_H
#define PGCASK_PLUGIN_GRPC_ENGINE_H

/*
 * The seam between the CNPG-I handlers and pgcask's archiver/restore code.
 * The handlers (service.c) decode each protobuf request into the plain C
 * arguments below, call one sc_engine_* function, and encode its result;
 * nothing here knows about gRPC or protobuf.
 *
 * Each function runs on a gRPC worker thread and may block for as long as
 * the operation takes (a backup lasts hours). It returns PC_OK or a status
 * with the error record set; the handler turns the status into a gRPC code
 * (sc_status_code) and the record's message into the status text, which
 * CNPG shows in the Cluster's conditions. The handler prepares each result
 * struct with its _init function, the engine fills it, and the handler
 * frees it with its _clear function, also after an error.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/status.h"
#include "plugin-grpc/cluster.h"
#include "plugin-grpc/kv.h"

/* The operations, for sc_engine_supports. */
typedef enum sc_op {
    SC_OP_WAL_ARCHIVE = 1,
    SC_OP_WAL_RESTORE = 2,
    SC_OP_WAL_STATUS = 3,
    SC_OP_WAL_SET_FIRST_REQUIRED = 4,
    SC_OP_BACKUP = 5,
    SC_OP_RESTORE_JOB = 6,
    SC_OP_METRICS = 7,
} sc_op;

/* What every engine call gets besides its own arguments. All borrowed for the call. */
typedef struct sc_call {
    const pc_cfg *cfg;           /* the sidecar's configuration (flags, env, INI) */
    const char *plugin_name;     /* our CNPG-I name, e.g. barman-cloud.cloudnative-pg.io */
    const sc_cluster *cluster;   /* the parsed cluster_definition */
    const sc_kvs *params;        /* the request's `parameters` map (empty for most requests) */
    const atomic_bool *stopping; /* true once the sidecar stopped waiting for calls to end */
} sc_call;

/* check_empty of Archive and RestoreJob: the operator's decision, or unset (older operators). */
enum { SC_CHECK_UNSET = -1, SC_CHECK_NO = 0, SC_CHECK_YES = 1 };

/* WALRestoreRequest.Mode, wire values; UNSPECIFIED reaches the engine as RECOVERY. */
typedef enum sc_restore_mode {
    SC_RESTORE_RECOVERY = 1,
    SC_RESTORE_REWIND = 2, /* pg_rewind: exactly this file, no prefetch, no cached misses */
} sc_restore_mode;

typedef struct sc_wal_status {
    char first_wal[64];
    char last_wal[64];
    sc_kvs info; /* additional_information */
} sc_wal_status;

typedef struct sc_backup_result {
    char backup_id[128]; /* required */
    char backup_name[256];
    int64_t started_at; /* unix seconds, required */
    int64_t stopped_at; /* unix seconds, required */
    char begin_wal[64];
    char end_wal[64];
    char begin_lsn[32];
    char end_lsn[32];
    pc_buf backup_label;   /* contents of backup_label, may stay empty (capped at 1 MiB) */
    pc_buf tablespace_map; /* contents of tablespace_map, may stay empty (capped at 1 MiB) */
    char instance_id[256]; /* the pod that took it */
    bool online;
    sc_kvs metadata; /* copied into Backup.status.pluginMetadata */
} sc_backup_result;

typedef struct sc_restore_job_result {
    pc_buf restore_config; /* text appended to the restored PostgreSQL configuration (capped at 1
                              MiB) */
    sc_kvs envs;           /* NAME, VALUE pairs, sent as "NAME=VALUE" */
} sc_restore_job_result;

/* Prometheus metric types, wire values of MetricType.Type. */
typedef enum sc_metric_type {
    SC_METRIC_COUNTER = 1,
    SC_METRIC_GAUGE = 2,
    SC_METRIC_UNTYPED = 3,
} sc_metric_type;

typedef struct sc_metric_def {
    char fq_name[256];
    char help[512];
    sc_metric_type type;
    sc_strv variable_labels;
    sc_kvs const_labels;
} sc_metric_def;

typedef struct sc_metric_value {
    char fq_name[256];
    double value;
    sc_strv label_values; /* one per variable label of the definition, same order */
} sc_metric_value;

typedef struct sc_metrics {
    sc_metric_def *defs; /* Define fills these */
    size_t ndefs;
    sc_metric_value *values; /* Collect fills these */
    size_t nvalues;
} sc_metrics;

/*
 * Start the engine's background work (the retention loop, every
 * retention-interval) once the server serves; sc_engine_shutdown stops it
 * and frees the cached contexts once the server stopped serving.
 */
pc_status sc_engine_start(const pc_cfg *cfg);
void sc_engine_shutdown(void);

/* Whether this build implements op; a handler answers UNIMPLEMENTED when it does not. */
bool sc_engine_supports(sc_op op);

/* Archive the file at wal_path ($PGDATA/pg_wal/<name>); PC_OK only once it is stored durably. */
pc_status sc_engine_archive(const sc_call *call, const char *wal_path, int check_empty);
/*
 * Fetch wal_name into dest_path. PC_E_NOT_FOUND when the archive does not
 * have it. *end_of_wal set (with PC_OK returned and nothing written) means:
 * an earlier prefetch found the end of the archive and this pod can stream
 * from a primary, so answer OUT_OF_RANGE and let PostgreSQL switch to
 * streaming replication.
 */
pc_status sc_engine_restore(const sc_call *call, const char *wal_name, const char *dest_path,
                            sc_restore_mode mode, bool *end_of_wal);
pc_status sc_engine_status(const sc_call *call, sc_wal_status *out);
pc_status sc_engine_set_first_required(const sc_call *call, const char *first_required_wal);
/* backup_json: the Backup resource (may be empty); call->params: its
 * pluginConfiguration.parameters. */
pc_status sc_engine_backup(const sc_call *call, const void *backup_json, size_t backup_len,
                           sc_backup_result *out);
/* Restore PGDATA in the restore Job. */
pc_status sc_engine_restore_job(const sc_call *call, int check_empty, sc_restore_job_result *out);
pc_status sc_engine_metrics_define(const sc_call *call, sc_metrics *out);
pc_status sc_engine_metrics_collect(const sc_call *call, sc_metrics *out);

/* Result helpers (engine_result.c): every _init has a _clear that frees what was filled. */
void sc_wal_status_init(sc_wal_status *s);
void sc_wal_status_clear(sc_wal_status *s);
void sc_backup_result_init(sc_backup_result *r);
void sc_backup_result_clear(sc_backup_result *r);
void sc_restore_job_result_init(sc_restore_job_result *r);
void sc_restore_job_result_clear(sc_restore_job_result *r);
void sc_metrics_init(sc_metrics *m);
void sc_metrics_clear(sc_metrics *m);
/* Append one zeroed entry and return it (NULL when out of memory). */
sc_metric_def *sc_metrics_add_def(sc_metrics *m);
sc_metric_value *sc_metrics_add_value(sc_metrics *m);

#endif
