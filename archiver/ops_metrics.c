/*
 * `pgcask metrics`: the Prometheus text exposition of what the catalog knows
 * about one server (backups, WAL index, last audit), plus the three gauges
 * of CloudNativePG's plugin-barman-cloud so existing dashboards keep working.
 * Reads the catalog only, unless asked to refresh it first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/ops_int.h"
#include "common/error.h"
#include "common/layout.h"
#include "common/log.h"

typedef struct mstate {
    int64_t first_done_end;  /* oldest DONE backup's end (µs), 0 when none */
    int64_t last_done_end;   /* newest DONE backup's end */
    int64_t last_failed;     /* newest FAILED backup's end, or begin */
    uint64_t count[5];       /* by cat_backup_status */
    int64_t last_by_type[4]; /* newest DONE end (µs) by cat_backup_type */
} mstate;

static pc_status on_backup(void *arg, const cat_backup *b)
{
    mstate *m = arg;
    if ((unsigned)b->status < 5)
        m->count[b->status]++;
    if (b->status == CAT_STATUS_DONE && b->end_time) {
        if (!m->first_done_end || b->end_time < m->first_done_end)
            m->first_done_end = b->end_time;
        if (b->end_time > m->last_done_end)
            m->last_done_end = b->end_time;
        if ((unsigned)b->type < 4 && b->end_time > m->last_by_type[b->type])
            m->last_by_type[b->type] = b->end_time;
    }
    if (b->status == CAT_STATUS_FAILED &&
        !(b->error && strcmp(b->error, OPS_DELETING_ERROR) == 0)) {
        int64_t t = b->end_time ? b->end_time : b->begin_time;
        if (t > m->last_failed)
            m->last_failed = t;
    }
    return PC_OK;
}

static pc_status gauge(pc_buf *out, const char *name, const char *help, const char *labels,
                       int64_t value)
{
    return pc_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s%s %" PRId64 "\n", name, help, name,
                         name, labels, value);
}

static int64_t secs(int64_t us)
{
    return us > 0 ? us / 1000000 : 0;
}

static int64_t meta_int(cat *c, const char *key, bool *found)
{
    char *v = NULL;
    *found = false;
    if (cat_meta_get(c, key, &v) != PC_OK) {
        pc_err_clear();
        return 0;
    }
    *found = true;
    int64_t x = strtoll(v, NULL, 10);
    free(v);
    return x;
}

pc_status ops_metrics(arc_ctx *a, bool refresh, pc_buf *out)
{
    pc_status st = PC_OK;
    if (refresh) {
        st = arc_catalog_sync_wal(a, NULL);
        if (st == PC_OK)
            st = arc_catalog_sync_backups(a, NULL);
        if (st)
            return st;
    }
    cat *c;
    if ((st = ops_open_catalog(a, &c)) != PC_OK)
        return st;
    mstate m = {0};
    st = cat_backup_list(c, on_backup, &m);
    /* one scan of the WAL index (the part of metrics that grows with the archive) */
    uint64_t segments = 0, seg_bytes = 0;
    cat_wal_filter segf = {.segno_max = UINT64_MAX, .kind = PC_WAL_SEGMENT};
    if (st == PC_OK)
        st = cat_wal_stats(c, &segf, &segments, &seg_bytes);
    uint32_t *tlis = NULL;
    size_t ntl = 0;
    if (st == PC_OK)
        st = cat_wal_timelines(c, &tlis, &ntl);
    cat_wal last = {0};
    bool has_last = false;
    /* the newest timeline with a complete segment */
    for (size_t i = ntl; st == PC_OK && i-- > 0;) {
        pc_status ls = cat_wal_last(c, tlis[i], &last);
        if (ls == PC_OK) {
            has_last = true;
            break;
        }
        if (ls != PC_E_NOT_FOUND)
            st = ls;
        pc_err_clear();
    }
    free(tlis);
    if (st) {
        cat_wal_clear(&last);
        cat_close(c);
        return st;
    }
    bool audited, found;
    char *astatus = NULL;
    if (cat_meta_get(c, OPS_META_AUDIT_STATUS, &astatus) != PC_OK)
        pc_err_clear();
    audited = astatus != NULL;
    int64_t audit_at = meta_int(c, OPS_META_AUDIT_AT, &found);
    int64_t audit_problems = meta_int(c, OPS_META_AUDIT_PROBLEMS, &found);
    int64_t wal_sync = meta_int(c, "last_sync_at", &found);
    int64_t backup_sync = meta_int(c, OPS_META_BACKUP_SYNC, &found);
    /* the scheduler's last run of each kind: status (1 ok, 0 failed, -1 never) and time */
    static const char *const run_kinds[] = {"full", "diff", "incr", "retention"};
    int64_t run_status[4], run_time[4];
    for (int k = 0; k < 4; k++) {
        cat_run r;
        run_status[k] = -1;
        run_time[k] = 0;
        if (cat_run_last(c, run_kinds[k], &r) == PC_OK) {
            run_status[k] = r.ended_at ? (r.status == PC_OK ? 1 : 0) : -1;
            run_time[k] = r.ended_at ? r.ended_at : r.started_at;
            cat_run_clear(&r);
        }
        pc_err_clear();
    }
    cat_close(c);

    char lab[PC_SERVER_NAME_MAX + 32];
    snprintf(lab, sizeof lab, "{server=\"%s\"}", arc_ctx_server(a));
    st = gauge(out, "pgcask_first_recoverability_point_seconds",
               "End time of the oldest DONE backup, as a unix timestamp (0: none).", lab,
               secs(m.first_done_end));
    st = st ? st
            : gauge(out, "pgcask_last_backup_end_time_seconds",
                    "End time of the newest DONE backup, as a unix timestamp (0: none).", lab,
                    secs(m.last_done_end));
    st = st ? st
            : gauge(out, "pgcask_last_failed_backup_time_seconds",
                    "Time of the newest FAILED backup, as a unix timestamp (0: none).", lab,
                    secs(m.last_failed));
    if (st == PC_OK)
        st = pc_buf_printf(out, "# HELP pgcask_backups Backups in the catalog by status.\n"
                                "# TYPE pgcask_backups gauge\n");
    static const struct {
        cat_backup_status s;
        const char *name;
    } sts[] = {{CAT_STATUS_DONE, "DONE"},
               {CAT_STATUS_FAILED, "FAILED"},
               {CAT_STATUS_STARTED, "STARTED"},
               {CAT_STATUS_WAITING_FOR_WALS, "WAITING_FOR_WALS"}};
    for (size_t i = 0; st == PC_OK && i < sizeof sts / sizeof sts[0]; i++)
        st = pc_buf_printf(out, "pgcask_backups{server=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                           arc_ctx_server(a), sts[i].name, m.count[sts[i].s]);
    st = st ? st
            : gauge(out, "pgcask_wal_archived_segments",
                    "Complete WAL segments in the archive (catalog).", lab, (int64_t)segments);
    st = st ? st
            : gauge(out, "pgcask_wal_archived_bytes",
                    "Bytes of the stored WAL segment objects (compressed).", lab,
                    (int64_t)seg_bytes);
    if (st == PC_OK) {
        char l2[PC_SERVER_NAME_MAX + 96];
        if (has_last)
            snprintf(l2, sizeof l2, "{server=\"%s\",wal=\"%s\",timeline=\"%" PRIu32 "\"}",
                     arc_ctx_server(a), last.name, last.tli);
        else
            snprintf(l2, sizeof l2, "{server=\"%s\",wal=\"\",timeline=\"0\"}", arc_ctx_server(a));
        st = gauge(out, "pgcask_last_archived_wal_info",
                   "The newest archived WAL segment (in the labels); 1 when there is one.", l2,
                   has_last ? 1 : 0);
    }
    st = st ? st
            : gauge(out, "pgcask_last_archived_wal_segment",
                    "Segment number of the newest archived WAL segment on the newest timeline.",
                    lab, has_last ? (int64_t)last.segno : 0);
    st = st ? st
            : gauge(out, "pgcask_last_archived_wal_time_seconds",
                    "When the newest WAL segment was stored, as a unix timestamp.", lab,
                    has_last ? secs(last.stored_at) : 0);
    st =
        st ? st
           : gauge(out, "pgcask_audit_status",
                   "Outcome of the last `pgcask audit`: 1 ok, 0 problems found, -1 never run.", lab,
                   !audited                     ? -1
                   : strcmp(astatus, "ok") == 0 ? 1
                                                : 0);
    st = st ? st
            : gauge(out, "pgcask_audit_problems", "Problems the last audit found.", lab,
                    audit_problems);
    st =
        st ? st
           : gauge(out, "pgcask_audit_time_seconds",
                   "When the last audit ran, as a unix timestamp (0: never).", lab, secs(audit_at));
    st = st ? st
            : gauge(out, "pgcask_catalog_wal_sync_time_seconds",
                    "When the catalog's WAL index was last rebuilt from the store (0: never).", lab,
                    secs(wal_sync));
    st = st ? st
            : gauge(out, "pgcask_catalog_backup_sync_time_seconds",
                    "When the catalog's backups were last read from the store (0: never).", lab,
                    secs(backup_sync));
    static const struct {
        cat_backup_type t;
        const char *name;
    } types[] = {{CAT_BACKUP_FULL, "full"}, {CAT_BACKUP_DIFF, "diff"}, {CAT_BACKUP_INCR, "incr"}};
    if (st == PC_OK)
        st =
            pc_buf_printf(out, "# HELP pgcask_last_backup_end_time_by_type_seconds End time of the "
                               "newest DONE backup of each type, as a unix timestamp (0: none).\n"
                               "# TYPE pgcask_last_backup_end_time_by_type_seconds gauge\n");
    for (size_t i = 0; st == PC_OK && i < sizeof types / sizeof types[0]; i++)
        st = pc_buf_printf(out,
                           "pgcask_last_backup_end_time_by_type_seconds{server=\"%s\",type=\"%s\"} "
                           "%" PRId64 "\n",
                           arc_ctx_server(a), types[i].name, secs(m.last_by_type[types[i].t]));
    if (st == PC_OK)
        st = pc_buf_printf(out, "# HELP pgcask_last_run_status Outcome of the scheduler's last run "
                                "of each kind: 1 ok, 0 failed, -1 never run or running.\n"
                                "# TYPE pgcask_last_run_status gauge\n");
    for (int k = 0; st == PC_OK && k < 4; k++)
        st = pc_buf_printf(out, "pgcask_last_run_status{server=\"%s\",kind=\"%s\"} %" PRId64 "\n",
                           arc_ctx_server(a), run_kinds[k], run_status[k]);
    if (st == PC_OK)
        st = pc_buf_printf(out, "# HELP pgcask_last_run_time_seconds When the scheduler's last run "
                                "of each kind ended, as a unix timestamp (0: never).\n"
                                "# TYPE pgcask_last_run_time_seconds gauge\n");
    for (int k = 0; st == PC_OK && k < 4; k++)
        st = pc_buf_printf(out,
                           "pgcask_last_run_time_seconds{server=\"%s\",kind=\"%s\"} %" PRId64 "\n",
                           arc_ctx_server(a), run_kinds[k], secs(run_time[k]));
    /* plugin-barman-cloud's gauges (internal/cnpgi/instance/metrics.go), without labels as there */
    st = st ? st
            : gauge(out, "barman_cloud_cloudnative_pg_io_first_recoverability_point",
                    "The first point of recoverability for the cluster as a unix timestamp", "",
                    secs(m.first_done_end));
    st = st ? st
            : gauge(out, "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
                    "The last available backup as a unix timestamp", "", secs(m.last_done_end));
    st = st ? st
            : gauge(out, "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp",
                    "The last failed backup as a unix timestamp", "", secs(m.last_failed));
    free(astatus);
    cat_wal_clear(&last);
    return st;
}
