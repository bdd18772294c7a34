/* Constructors and destructors of the engine's result structs (see engine.h). */
#include "plugin-grpc/engine.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_CAP ((size_t)1 << 20)

void sc_wal_status_init(sc_wal_status *s)
{
    memset(s, 0, sizeof *s);
}

void sc_wal_status_clear(sc_wal_status *s)
{
    sc_kvs_clear(&s->info);
    memset(s, 0, sizeof *s);
}

void sc_backup_result_init(sc_backup_result *r)
{
    memset(r, 0, sizeof *r);
    pc_buf_init(&r->backup_label, TEXT_CAP);
    pc_buf_init(&r->tablespace_map, TEXT_CAP);
}

void sc_backup_result_clear(sc_backup_result *r)
{
    pc_buf_free(&r->backup_label);
    pc_buf_free(&r->tablespace_map);
    sc_kvs_clear(&r->metadata);
    sc_backup_result_init(r);
}

void sc_restore_job_result_init(sc_restore_job_result *r)
{
    memset(r, 0, sizeof *r);
    pc_buf_init(&r->restore_config, TEXT_CAP);
}

void sc_restore_job_result_clear(sc_restore_job_result *r)
{
    pc_buf_free(&r->restore_config);
    sc_kvs_clear(&r->envs);
    sc_restore_job_result_init(r);
}

void sc_metrics_init(sc_metrics *m)
{
    memset(m, 0, sizeof *m);
}

void sc_metrics_clear(sc_metrics *m)
{
    for (size_t i = 0; i < m->ndefs; i++) {
        sc_strv_clear(&m->defs[i].variable_labels);
        sc_kvs_clear(&m->defs[i].const_labels);
    }
    for (size_t i = 0; i < m->nvalues; i++)
        sc_strv_clear(&m->values[i].label_values);
    free(m->defs);
    free(m->values);
    sc_metrics_init(m);
}

sc_metric_def *sc_metrics_add_def(sc_metrics *m)
{
    sc_metric_def *n = pc_realloc(m->defs, (m->ndefs + 1) * sizeof *n);
    if (!n)
        return NULL;
    m->defs = n;
    memset(&n[m->ndefs], 0, sizeof *n);
    return &n[m->ndefs++];
}

sc_metric_value *sc_metrics_add_value(sc_metrics *m)
{
    sc_metric_value *n = pc_realloc(m->values, (m->nvalues + 1) * sizeof *n);
    if (!n)
        return NULL;
    m->values = n;
    memset(&n[m->nvalues], 0, sizeof *n);
    return &n[m->nvalues++];
}
