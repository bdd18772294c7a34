/*
 * The engine seam before the archiver and restore modules are wired in:
 * no operation is supported, so the handlers answer UNIMPLEMENTED and never
 * call the functions below; they still fail loudly if something does.
 */
#include "plugin-grpc/engine.h"

#include "common/error.h"

bool sc_engine_supports(sc_op op)
{
    switch (op) {
    case SC_OP_WAL_ARCHIVE:
    case SC_OP_WAL_RESTORE:
    case SC_OP_WAL_STATUS:
    case SC_OP_WAL_SET_FIRST_REQUIRED:
    case SC_OP_BACKUP:
    case SC_OP_RESTORE_JOB:
    case SC_OP_METRICS:
        return false;
    }
    return false;
}

pc_status sc_engine_archive(const sc_call *call, const char *wal_path, int check_empty)
{
    return pc_err(PC_E_INTERNAL, "archiving %s through the sidecar is not available yet", wal_path);
}

pc_status sc_engine_restore(const sc_call *call, const char *wal_name, const char *dest_path,
                            sc_restore_mode mode)
{
    return pc_err(PC_E_INTERNAL, "restoring %s through the sidecar is not available yet", wal_name);
}

pc_status sc_engine_status(const sc_call *call, sc_wal_status *out)
{
    return pc_err(PC_E_INTERNAL, "WAL archive status is not available yet");
}

pc_status sc_engine_set_first_required(const sc_call *call, const char *first_required_wal)
{
    return pc_err(PC_E_INTERNAL, "setting the first required WAL is not available yet");
}

pc_status sc_engine_backup(const sc_call *call, const void *backup_json, size_t backup_len,
                           sc_backup_result *out)
{
    return pc_err(PC_E_INTERNAL, "backups through the sidecar are not available yet");
}

pc_status sc_engine_restore_job(const sc_call *call, int check_empty, sc_restore_job_result *out)
{
    return pc_err(PC_E_INTERNAL, "restoring a cluster through the sidecar is not available yet");
}

pc_status sc_engine_metrics_define(const sc_call *call, sc_metrics *out)
{
    return pc_err(PC_E_INTERNAL, "sidecar metrics are not available yet");
}

pc_status sc_engine_metrics_collect(const sc_call *call, sc_metrics *out)
{
    return pc_err(PC_E_INTERNAL, "sidecar metrics are not available yet");
}
