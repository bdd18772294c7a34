#include "common/status.h"

const char *pc_status_name(pc_status st)
{
    switch (st) {
    case PC_OK:
        return "ok";
    case PC_E_NOT_FOUND:
        return "not-found";
    case PC_E_CONNECT:
        return "connect";
    case PC_E_USAGE:
        return "usage";
    case PC_E_INTERNAL:
        return "internal";
    case PC_E_AUTH:
        return "auth";
    case PC_E_NO_BUCKET:
        return "no-bucket";
    case PC_E_CONFLICT:
        return "conflict";
    case PC_E_CORRUPT:
        return "corrupt";
    case PC_E_IO:
        return "io";
    case PC_E_TIMEOUT:
        return "timeout";
    case PC_E_NOT_EMPTY:
        return "not-empty";
    case PC_E_BUSY:
        return "busy";
    case PC_E_AUDIT:
        return "audit";
    case PC_E_PG:
        return "postgres";
    case PC_E_REMOTE:
        return "remote";
    case PC_E_INTERRUPTED:
        return "interrupted";
    case PC_E_CONFIG:
        return "config";
    }
    return "unknown";
}

int pc_status_barman_exit(pc_status st)
{
    switch (st) {
    case PC_OK:
        return 0;
    case PC_E_NOT_FOUND:
    case PC_E_NOT_EMPTY:
    case PC_E_AUDIT:
        return 1;
    case PC_E_CONNECT:
        return 2;
    case PC_E_USAGE:
    case PC_E_CONFIG:
        return 3;
    case PC_E_INTERNAL:
    case PC_E_AUTH:
    case PC_E_NO_BUCKET:
    case PC_E_CONFLICT:
    case PC_E_CORRUPT:
    case PC_E_IO:
    case PC_E_TIMEOUT:
    case PC_E_BUSY:
    case PC_E_PG:
    case PC_E_REMOTE:
    case PC_E_INTERRUPTED:
        return 4;
    }
    return 4;
}
