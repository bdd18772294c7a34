#ifndef PGCASK_PLUGIN_GRPC_CLUSTER_H
#define PGCASK_PLUGIN_GRPC_CLUSTER_H

/*
 * The parts of a CloudNativePG Cluster (the `cluster_definition` JSON of
 * every CNPG-I data request) that the sidecar acts on, read into plain C.
 *
 * The document is untrusted input: it is size- and shape-checked before it
 * is parsed, every field read is type-checked, and every string copied has
 * a length limit. Any violation is PC_E_USAGE with a message naming the
 * field (".spec.plugins[1].parameters"), which the sidecar returns as
 * INVALID_ARGUMENT. Fields pgcask does not read are not looked at, so a
 * newer CNPG adding fields never breaks us.
 *
 * Defaults follow plugin-barman-cloud, so a Cluster written for it means the
 * same thing to pgcask: `enabled` absent is true, `isWALArchiver` absent is
 * false, and serverName absent is the Cluster's own name -- for the
 * recovery and replica sources too.
 */

#include <stdbool.h>
#include <stddef.h>

#include "common/status.h"
#include "plugin-grpc/kv.h"

/* Largest Cluster JSON accepted. Kubernetes stores objects of at most ~1.5 MiB. */
#define SC_CLUSTER_JSON_MAX ((size_t)16 << 20)
/* Most JSON values (and containers) in one document: bounds the parse tree's memory. */
#define SC_CLUSTER_MAX_VALUES 262144
/* Deepest nesting accepted; a real Cluster is about 10 levels deep. */
#define SC_CLUSTER_MAX_DEPTH 64
/* Length limits (bytes) of the strings kept. */
#define SC_NAME_MAX        253 /* Kubernetes object names (DNS subdomain) */
#define SC_PARAM_KEY_MAX   253
#define SC_PARAM_VALUE_MAX 4096
#define SC_PARAMS_MAX      256 /* parameters per plugin entry */
#define SC_TARGET_MAX      256 /* recovery target fields */

/* One plugin configuration: `.spec.plugins[i]` or `.spec.externalClusters[i].plugin`. */
typedef struct sc_plugin_cfg {
    bool present; /* an entry naming our plugin was found */
    bool enabled;
    bool is_wal_archiver;
    sc_kvs params; /* every parameter, as given */
    /* Both point into params (or server_name into the Cluster's name); valid while it lives. */
    const char *barman_object_name; /* "barmanObjectName", NULL when absent */
    const char *server_name;        /* "serverName", else the Cluster name; set when present */
} sc_plugin_cfg;

/* A source cluster: `.spec.bootstrap.recovery.source` or `.spec.replica.source`. */
typedef struct sc_source {
    char *name;           /* the external cluster's name; NULL when no source is configured */
    bool found;           /* .spec.externalClusters has an entry of that name */
    char *plugin_name;    /* the plugin that entry names, NULL when none */
    sc_plugin_cfg plugin; /* its configuration when that plugin is ours */
} sc_source;

/* `.spec.bootstrap.recovery.recoveryTarget`: strings NULL and tri-states -1 when absent. */
typedef struct sc_recovery_target {
    bool present;
    char *backup_id;
    char *target_time;
    char *target_lsn;
    char *target_xid;
    char *target_name;
    char *target_tli;
    int target_immediate;
    int exclusive;
} sc_recovery_target;

typedef struct sc_cluster {
    char *name;            /* .metadata.name (required) */
    char *namespace_;      /* .metadata.namespace (required) */
    char *uid;             /* .metadata.uid, NULL when absent */
    char *current_primary; /* .status.currentPrimary, NULL when absent (no primary elected yet) */
    char *pod_name; /* this pod ($POD_NAME as given to sc_cluster_parse), NULL when unknown */
    /* annotation cnpg.io/skipEmptyWalArchiveCheck = "enabled" */
    bool skip_empty_wal_archive_check;
    sc_plugin_cfg plugin; /* our entry in .spec.plugins */
    sc_source recovery;   /* .spec.bootstrap.recovery.source */
    sc_recovery_target target;
    sc_source replica;     /* .spec.replica.source */
    int replica_enabled;   /* .spec.replica.enabled: -1 absent, 0, 1 */
    char *replica_primary; /* .spec.replica.primary (distributed topology), NULL when absent */
    char *replica_self;    /* .spec.replica.self, NULL when absent */
} sc_cluster;

/*
 * Parse `len` bytes of Cluster JSON for the plugin `plugin_name`. pod_name
 * may be NULL. On success *out is owned by the caller (sc_cluster_free).
 */
pc_status sc_cluster_parse(const void *json, size_t len, const char *plugin_name,
                           const char *pod_name, sc_cluster **out);
void sc_cluster_free(sc_cluster *c);

#endif
