#include "plugin-grpc/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"

#define BAD "invalid Cluster definition: "

/* Paths in messages, e.g. ".spec.externalClusters[3].plugin.parameters". */
typedef char jpath[160];

/* A document string made safe for a one-line message: bounded, printable ASCII. */
static const char *shown(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++)
        buf[o++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
    if (*s)
        buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}

/*
 * Bound the parse before jansson builds a tree: every value but the first
 * follows one of { [ , : so counting them bounds the node count, and the
 * nesting is checked here so the recursive parser never goes deep.
 * Malformed text is left for the parser to report.
 */
static pc_status prescan(const unsigned char *p, size_t len)
{
    size_t values = 1;
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            break;
        case '{':
        case '[':
            if (++depth > SC_CLUSTER_MAX_DEPTH)
                return pc_err(PC_E_USAGE, BAD "nested deeper than %d levels", SC_CLUSTER_MAX_DEPTH);
            values++;
            break;
        case '}':
        case ']':
            depth--;
            break;
        case ',':
        case ':':
            values++;
            break;
        default:
            break;
        }
        if (values > SC_CLUSTER_MAX_VALUES)
            return pc_err(PC_E_USAGE, BAD "more than %d JSON values", SC_CLUSTER_MAX_VALUES);
    }
    return PC_OK;
}

static bool absent(const pc_json *v)
{
    return !v || pc_json_is_null(v);
}

/* Optional object member; *out NULL when absent or null. */
static pc_status get_obj(const pc_json *o, const char *key, const char *path, const pc_json **out)
{
    const pc_json *v = pc_json_get(o, key);
    *out = NULL;
    if (absent(v))
        return PC_OK;
    if (!pc_json_is_object(v))
        return pc_err(PC_E_USAGE, BAD "%s.%s must be an object", path, key);
    *out = v;
    return PC_OK;
}

static pc_status get_arr(const pc_json *o, const char *key, const char *path, const pc_json **out)
{
    const pc_json *v = pc_json_get(o, key);
    *out = NULL;
    if (absent(v))
        return PC_OK;
    if (!pc_json_is_array(v))
        return pc_err(PC_E_USAGE, BAD "%s.%s must be an array", path, key);
    *out = v;
    return PC_OK;
}

/* A string of at most max bytes, borrowed from the document; NULL when absent and optional. */
static pc_status peek_str(const pc_json *o, const char *key, const char *path, size_t max,
                          bool required, const char **out)
{
    const pc_json *v = pc_json_get(o, key);
    *out = NULL;
    if (absent(v)) {
        if (required)
            return pc_err(PC_E_USAGE, BAD "%s.%s is missing", path, key);
        return PC_OK;
    }
    if (!pc_json_is_string(v))
        return pc_err(PC_E_USAGE, BAD "%s.%s must be a string", path, key);
    size_t n = pc_json_string_len(v);
    if (n > max)
        return pc_err(PC_E_USAGE, BAD "%s.%s is %zu bytes long (at most %zu)", path, key, n, max);
    if (required && n == 0)
        return pc_err(PC_E_USAGE, BAD "%s.%s is empty", path, key);
    *out = pc_json_string(v);
    return PC_OK;
}

static pc_status get_str(const pc_json *o, const char *key, const char *path, size_t max,
                         bool required, char **out)
{
    const char *s;
    pc_status st = peek_str(o, key, path, max, required, &s);
    *out = NULL;
    if (st != PC_OK || !s)
        return st;
    return (*out = pc_strdup(s)) ? PC_OK : PC_E_INTERNAL;
}

/* A *bool of the Go API: -1 when absent. */
static pc_status get_tri(const pc_json *o, const char *key, const char *path, int *out)
{
    const pc_json *v = pc_json_get(o, key);
    bool b;
    *out = -1;
    if (absent(v))
        return PC_OK;
    if (!pc_json_bool(v, &b))
        return pc_err(PC_E_USAGE, BAD "%s.%s must be true or false", path, key);
    *out = b;
    return PC_OK;
}

static pc_status parse_plugin(const pc_json *p, const char *path, const char *cluster_name,
                              sc_plugin_cfg *out)
{
    pc_status st;
    int tri;
    out->present = true;
    if ((st = get_tri(p, "enabled", path, &tri)) != PC_OK)
        return st;
    out->enabled = tri != 0;
    if ((st = get_tri(p, "isWALArchiver", path, &tri)) != PC_OK)
        return st;
    out->is_wal_archiver = tri == 1;

    const pc_json *params;
    if ((st = get_obj(p, "parameters", path, &params)) != PC_OK)
        return st;
    jpath ppath;
    snprintf(ppath, sizeof ppath, "%s.parameters", path);
    void *it = NULL;
    const char *key;
    const pc_json *val;
    while (params && pc_json_object_next(params, &it, &key, &val)) {
        char show[80];
        if (out->params.n >= SC_PARAMS_MAX)
            return pc_err(PC_E_USAGE, BAD "%s has more than %d entries", ppath, SC_PARAMS_MAX);
        if (strlen(key) > SC_PARAM_KEY_MAX)
            return pc_err(PC_E_USAGE, BAD "%s has a key of %zu bytes (at most %d)", ppath,
                          strlen(key), SC_PARAM_KEY_MAX);
        shown(key, show, sizeof show);
        if (!pc_json_is_string(val))
            return pc_err(PC_E_USAGE, BAD "%s.%s must be a string", ppath, show);
        if (pc_json_string_len(val) > SC_PARAM_VALUE_MAX)
            return pc_err(PC_E_USAGE, BAD "%s.%s is %zu bytes long (at most %d)", ppath, show,
                          pc_json_string_len(val), SC_PARAM_VALUE_MAX);
        if ((st = sc_kvs_add(&out->params, key, pc_json_string(val))) != PC_OK)
            return st;
    }
    out->barman_object_name = sc_kvs_get(&out->params, "barmanObjectName");
    out->server_name = sc_kvs_get(&out->params, "serverName");
    /* barman-cloud takes a given serverName as is; an empty one names no folder at all */
    if (out->server_name && !out->server_name[0])
        return pc_err(PC_E_USAGE, BAD "%s.serverName is empty", ppath);
    if (!out->server_name)
        out->server_name = cluster_name;
    return PC_OK;
}

/* Our entry in .spec.plugins; two entries naming us are ambiguous and refused. */
static pc_status parse_plugins(const pc_json *spec, const char *plugin_name, sc_cluster *c)
{
    const pc_json *arr;
    pc_status st = get_arr(spec, "plugins", ".spec", &arr);
    if (st != PC_OK || !arr)
        return st;
    for (size_t i = 0; i < pc_json_array_len(arr); i++) {
        const pc_json *e = pc_json_array_at(arr, i);
        jpath path;
        const char *name;
        snprintf(path, sizeof path, ".spec.plugins[%zu]", i);
        if (!pc_json_is_object(e))
            return pc_err(PC_E_USAGE, BAD "%s must be an object", path);
        if ((st = peek_str(e, "name", path, SC_NAME_MAX, true, &name)) != PC_OK)
            return st;
        if (strcmp(name, plugin_name) != 0)
            continue;
        if (c->plugin.present)
            return pc_err(PC_E_USAGE, BAD ".spec.plugins lists %s more than once", plugin_name);
        if ((st = parse_plugin(e, path, c->name, &c->plugin)) != PC_OK)
            return st;
    }
    return PC_OK;
}

/*
 * Resolve a source name through .spec.externalClusters. A source whose
 * entry is gone is recorded as not found rather than refused: the entry
 * may be edited away after bootstrap, and that must not stop archiving.
 */
static pc_status parse_source(const pc_json *spec, const char *plugin_name,
                              const char *cluster_name, sc_source *src)
{
    const pc_json *arr;
    pc_status st = get_arr(spec, "externalClusters", ".spec", &arr);
    if (st != PC_OK || !arr)
        return st;
    for (size_t i = 0; i < pc_json_array_len(arr); i++) {
        const pc_json *e = pc_json_array_at(arr, i);
        jpath path;
        const char *name;
        snprintf(path, sizeof path, ".spec.externalClusters[%zu]", i);
        if (!pc_json_is_object(e))
            return pc_err(PC_E_USAGE, BAD "%s must be an object", path);
        if ((st = peek_str(e, "name", path, SC_NAME_MAX, true, &name)) != PC_OK)
            return st;
        if (strcmp(name, src->name) != 0)
            continue;
        src->found = true;
        const pc_json *plugin;
        if ((st = get_obj(e, "plugin", path, &plugin)) != PC_OK || !plugin)
            return st;
        char ppath[sizeof(jpath) + 8];
        snprintf(ppath, sizeof ppath, "%s.plugin", path);
        if ((st = get_str(plugin, "name", ppath, SC_NAME_MAX, true, &src->plugin_name)) != PC_OK)
            return st;
        if (strcmp(src->plugin_name, plugin_name) == 0)
            return parse_plugin(plugin, ppath, cluster_name, &src->plugin);
        return PC_OK;
    }
    return PC_OK;
}

static pc_status parse_recovery(const pc_json *spec, const char *plugin_name, sc_cluster *c)
{
    const pc_json *boot, *rec, *tgt;
    pc_status st;
    if ((st = get_obj(spec, "bootstrap", ".spec", &boot)) != PC_OK || !boot)
        return st;
    if ((st = get_obj(boot, "recovery", ".spec.bootstrap", &rec)) != PC_OK || !rec)
        return st;
    const char *rp = ".spec.bootstrap.recovery";
    if ((st = get_str(rec, "source", rp, SC_NAME_MAX, false, &c->recovery.name)) != PC_OK)
        return st;
    if (c->recovery.name && !c->recovery.name[0]) {
        free(c->recovery.name);
        c->recovery.name = NULL;
    }
    if (c->recovery.name && (st = parse_source(spec, plugin_name, c->name, &c->recovery)) != PC_OK)
        return st;

    if ((st = get_obj(rec, "recoveryTarget", rp, &tgt)) != PC_OK || !tgt)
        return st;
    const char *tp = ".spec.bootstrap.recovery.recoveryTarget";
    sc_recovery_target *t = &c->target;
    t->present = true;
    if ((st = get_str(tgt, "backupID", tp, SC_TARGET_MAX, false, &t->backup_id)) ||
        (st = get_str(tgt, "targetTime", tp, SC_TARGET_MAX, false, &t->target_time)) ||
        (st = get_str(tgt, "targetLSN", tp, SC_TARGET_MAX, false, &t->target_lsn)) ||
        (st = get_str(tgt, "targetXID", tp, SC_TARGET_MAX, false, &t->target_xid)) ||
        (st = get_str(tgt, "targetName", tp, SC_TARGET_MAX, false, &t->target_name)) ||
        (st = get_str(tgt, "targetTLI", tp, SC_TARGET_MAX, false, &t->target_tli)) ||
        (st = get_tri(tgt, "targetImmediate", tp, &t->target_immediate)) ||
        (st = get_tri(tgt, "exclusive", tp, &t->exclusive)))
        return st;
    return PC_OK;
}

static pc_status parse_replica(const pc_json *spec, const char *plugin_name, sc_cluster *c)
{
    const pc_json *rep;
    pc_status st;
    const char *p = ".spec.replica";
    if ((st = get_obj(spec, "replica", ".spec", &rep)) != PC_OK || !rep)
        return st;
    if ((st = get_tri(rep, "enabled", p, &c->replica_enabled)) ||
        (st = get_str(rep, "primary", p, SC_NAME_MAX, false, &c->replica_primary)) ||
        (st = get_str(rep, "self", p, SC_NAME_MAX, false, &c->replica_self)) ||
        (st = get_str(rep, "source", p, SC_NAME_MAX, false, &c->replica.name)))
        return st;
    if (c->replica.name && !c->replica.name[0]) {
        free(c->replica.name);
        c->replica.name = NULL;
    }
    if (c->replica.name)
        return parse_source(spec, plugin_name, c->name, &c->replica);
    return PC_OK;
}

static pc_status parse_doc(const pc_json *root, const char *plugin_name, sc_cluster *c)
{
    const pc_json *meta, *spec, *status, *ann;
    const char *kind;
    pc_status st;
    if (!pc_json_is_object(root))
        return pc_err(PC_E_USAGE, BAD "the document is not a JSON object");
    /* The instance manager often sends no TypeMeta; when it does, it must be a Cluster. */
    if ((st = peek_str(root, "kind", "", SC_NAME_MAX, false, &kind)) != PC_OK)
        return st;
    if (kind && strcmp(kind, "Cluster") != 0) {
        char show[80];
        return pc_err(PC_E_USAGE, BAD ".kind is \"%s\", not \"Cluster\"",
                      shown(kind, show, sizeof show));
    }
    if ((st = get_obj(root, "metadata", "", &meta)) != PC_OK)
        return st;
    if (!meta)
        return pc_err(PC_E_USAGE, BAD ".metadata is missing");
    if ((st = get_str(meta, "name", ".metadata", SC_NAME_MAX, true, &c->name)) ||
        (st = get_str(meta, "namespace", ".metadata", SC_NAME_MAX, true, &c->namespace_)) ||
        (st = get_str(meta, "uid", ".metadata", SC_NAME_MAX, false, &c->uid)))
        return st;
    if ((st = get_obj(meta, "annotations", ".metadata", &ann)) != PC_OK)
        return st;
    if (ann) {
        const char *skip;
        if ((st = peek_str(ann, "cnpg.io/skipEmptyWalArchiveCheck", ".metadata.annotations",
                           SC_NAME_MAX, false, &skip)) != PC_OK)
            return st;
        c->skip_empty_wal_archive_check = skip && strcmp(skip, "enabled") == 0;
    }
    if ((st = get_obj(root, "status", "", &status)) != PC_OK)
        return st;
    if (status && (st = get_str(status, "currentPrimary", ".status", SC_NAME_MAX, false,
                                &c->current_primary)) != PC_OK)
        return st;
    if ((st = get_obj(root, "spec", "", &spec)) != PC_OK)
        return st;
    if (!spec)
        return pc_err(PC_E_USAGE, BAD ".spec is missing");
    if ((st = parse_plugins(spec, plugin_name, c)) != PC_OK ||
        (st = parse_recovery(spec, plugin_name, c)) != PC_OK ||
        (st = parse_replica(spec, plugin_name, c)) != PC_OK)
        return st;
    return PC_OK;
}

pc_status sc_cluster_parse(const void *json, size_t len, const char *plugin_name,
                           const char *pod_name, sc_cluster **out)
{
    pc_status st;
    *out = NULL;
    if (len == 0)
        return pc_err(PC_E_USAGE, BAD "the request carries no Cluster definition");
    if (len > SC_CLUSTER_JSON_MAX)
        return pc_err(PC_E_USAGE, BAD "%zu bytes, more than the %zu accepted", len,
                      SC_CLUSTER_JSON_MAX);
    if ((st = prescan(json, len)) != PC_OK)
        return st;
    pc_json *root;
    if ((st = pc_json_parse(json, len, SC_CLUSTER_JSON_MAX, "the Cluster definition", &root)) !=
        PC_OK) {
        /* a malformed document is a bad argument of the call, not corrupt storage */
        if (st == PC_E_CORRUPT) {
            char msg[PC_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", pc_err_get()->message);
            st = pc_err(PC_E_USAGE, "%s", msg);
        }
        return st;
    }
    sc_cluster *c = pc_calloc(1, sizeof *c);
    if (!c) {
        pc_json_free(root);
        return PC_E_INTERNAL;
    }
    c->replica_enabled = -1;
    c->target.target_immediate = -1;
    c->target.exclusive = -1;
    st = parse_doc(root, plugin_name, c);
    pc_json_free(root);
    if (st == PC_OK && pod_name && !(c->pod_name = pc_strdup(pod_name)))
        st = PC_E_INTERNAL;
    if (st != PC_OK) {
        sc_cluster_free(c);
        return st;
    }
    *out = c;
    return PC_OK;
}

static void plugin_clear(sc_plugin_cfg *p)
{
    sc_kvs_clear(&p->params);
}

static void source_clear(sc_source *s)
{
    free(s->name);
    free(s->plugin_name);
    plugin_clear(&s->plugin);
}

void sc_cluster_free(sc_cluster *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->namespace_);
    free(c->uid);
    free(c->current_primary);
    free(c->pod_name);
    plugin_clear(&c->plugin);
    source_clear(&c->recovery);
    source_clear(&c->replica);
    free(c->target.backup_id);
    free(c->target.target_time);
    free(c->target.target_lsn);
    free(c->target.target_xid);
    free(c->target.target_name);
    free(c->target.target_tli);
    free(c->replica_primary);
    free(c->replica_self);
    free(c);
}
