/*
 * A scripted engine for the handler tests: it defines every symbol of
 * plugin-grpc/engine.c, so the linker never pulls the real one from the
 * static library. Each call records its arguments and returns fake_result
 * (with its message) after filling the result struct with known values.
 */
#include "fake_engine.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

fake_engine_state fake;

void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
    fake.supported = true;
}

static pc_status record(const sc_call *call, sc_op op)
{
    fake.calls++;
    fake.last_op = op;
    snprintf(fake.cluster_name, sizeof fake.cluster_name, "%s", call->cluster->name);
    snprintf(fake.pod_name, sizeof fake.pod_name, "%s",
             call->cluster->pod_name ? call->cluster->pod_name : "");
    fake.nparams = call->params->n;
    const char *p = sc_kvs_get(call->params, "p1");
    snprintf(fake.param_p1, sizeof fake.param_p1, "%s", p ? p : "");
    fake.stopping_ptr = call->stopping != NULL;
    if (fake.result != PC_OK)
        return pc_err(fake.result, "%s", fake.message);
    return PC_OK;
}

bool sc_engine_supports(sc_op op)
{
    return fake.supported;
}

pc_status sc_engine_start(const pc_cfg *cfg)
{
    return PC_OK;
}

void sc_engine_shutdown(void)
{
}

pc_status sc_engine_archive(const sc_call *call, const char *wal_path, int check_empty)
{
    snprintf(fake.arg1, sizeof fake.arg1, "%s", wal_path);
    fake.check_empty = check_empty;
    return record(call, SC_OP_WAL_ARCHIVE);
}

pc_status sc_engine_restore(const sc_call *call, const char *wal_name, const char *dest_path,
                            sc_restore_mode mode, bool *end_of_wal)
{
    *end_of_wal = fake.end_of_wal;
    snprintf(fake.arg1, sizeof fake.arg1, "%s", wal_name);
    snprintf(fake.arg2, sizeof fake.arg2, "%s", dest_path);
    fake.mode = (int)mode;
    return record(call, SC_OP_WAL_RESTORE);
}

pc_status sc_engine_status(const sc_call *call, sc_wal_status *out)
{
    snprintf(out->first_wal, sizeof out->first_wal, "000000010000000000000002");
    snprintf(out->last_wal, sizeof out->last_wal, "000000010000000000000009");
    sc_kvs_add(&out->info, "store", "s3://bucket/prefix");
    return record(call, SC_OP_WAL_STATUS);
}

pc_status sc_engine_set_first_required(const sc_call *call, const char *first_required_wal)
{
    snprintf(fake.arg1, sizeof fake.arg1, "%s", first_required_wal);
    return record(call, SC_OP_WAL_SET_FIRST_REQUIRED);
}

pc_status sc_engine_backup(const sc_call *call, const void *backup_json, size_t backup_len,
                           sc_backup_result *out)
{
    snprintf(fake.arg1, sizeof fake.arg1, "%.*s", (int)backup_len, (const char *)backup_json);
    snprintf(out->backup_id, sizeof out->backup_id, "20261121T101500");
    snprintf(out->backup_name, sizeof out->backup_name, "backup-20261121101500");
    out->started_at = fake.bad_backup ? 0 : 1795256100;
    out->stopped_at = 1795256160;
    snprintf(out->begin_wal, sizeof out->begin_wal, "000000010000000000000004");
    snprintf(out->end_wal, sizeof out->end_wal, "000000010000000000000005");
    snprintf(out->begin_lsn, sizeof out->begin_lsn, "0/4000028");
    snprintf(out->end_lsn, sizeof out->end_lsn, "0/5000100");
    pc_buf_append_str(&out->backup_label, "START WAL LOCATION: 0/4000028\n");
    snprintf(out->instance_id, sizeof out->instance_id, "cluster-example-1");
    out->online = true;
    sc_kvs_add(&out->metadata, "timeline", "1");
    sc_kvs_add(&out->metadata, "pluginName", call->plugin_name);
    return record(call, SC_OP_BACKUP);
}

pc_status sc_engine_restore_job(const sc_call *call, int check_empty, sc_restore_job_result *out)
{
    fake.check_empty = check_empty;
    pc_buf_append_str(&out->restore_config, "recovery_target_action = promote\n");
    sc_kvs_add(&out->envs, "PGCASK_SERVER", "origin");
    sc_kvs_add(&out->envs, "EMPTY", "");
    return record(call, SC_OP_RESTORE_JOB);
}

pc_status sc_engine_metrics_define(const sc_call *call, sc_metrics *out)
{
    sc_metric_def *d = sc_metrics_add_def(out);
    snprintf(d->fq_name, sizeof d->fq_name, "pgcask_last_backup_timestamp");
    snprintf(d->help, sizeof d->help, "end of the last backup, unix seconds");
    d->type = SC_METRIC_GAUGE;
    d = sc_metrics_add_def(out);
    snprintf(d->fq_name, sizeof d->fq_name, "pgcask_wal_archived_total");
    snprintf(d->help, sizeof d->help, "WAL files archived");
    d->type = SC_METRIC_COUNTER;
    sc_strv_add(&d->variable_labels, "timeline");
    sc_kvs_add(&d->const_labels, "server", "cluster-example");
    return record(call, SC_OP_METRICS);
}

pc_status sc_engine_metrics_collect(const sc_call *call, sc_metrics *out)
{
    sc_metric_value *v = sc_metrics_add_value(out);
    snprintf(v->fq_name, sizeof v->fq_name, "pgcask_wal_archived_total");
    v->value = 42.5;
    sc_strv_add(&v->label_values, "1");
    return record(call, SC_OP_METRICS);
}
