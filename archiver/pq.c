/* The libpq dlopen shim (archiver/pq.h). */
#include "archiver/pq.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

#include "common/error.h"

#define LIBPQ_SONAME "libpq.so.5"

static pc_status not_installed(const char *soname, const char *why)
{
    pc_err(PC_E_PG, "libpq is not installed (%s: %s)", soname, why);
    pc_err_hint("Install PostgreSQL's client library: apt install libpq5");
    return PC_E_PG;
}

pc_status pq_load_from(const char *soname, pq_api *out)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return not_installed(soname, e ? e : "cannot be loaded");
    }
    static const struct {
        const char *name;
        size_t off;
    } syms[] = {
#define S(fn, field) {#fn, offsetof(pq_api, field)}
        S(PQconnectdbParams, connectdb_params),
        S(PQstatus, status),
        S(PQerrorMessage, error_message),
        S(PQfinish, finish),
        S(PQexec, exec),
        S(PQsendQuery, send_query),
        S(PQgetResult, get_result),
        S(PQresultStatus, result_status),
        S(PQresultErrorMessage, result_error_message),
        S(PQresultErrorField, result_error_field),
        S(PQntuples, ntuples),
        S(PQnfields, nfields),
        S(PQgetvalue, getvalue),
        S(PQgetisnull, getisnull),
        S(PQclear, clear),
        S(PQgetCopyData, get_copy_data),
        S(PQfreemem, freemem),
        S(PQserverVersion, server_version),
        S(PQparameterStatus, parameter_status),
        S(PQsetNoticeProcessor, set_notice_processor),
        S(PQsocket, socket),
        S(PQconsumeInput, consume_input),
        S(PQisBusy, is_busy),
#undef S
    };
    pq_api api;
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(h, syms[i].name);
        if (!f) {
            dlclose(h);
            char why[128];
            snprintf(why, sizeof why, "it has no function %s", syms[i].name);
            return not_installed(soname, why);
        }
        /* POSIX guarantees a data pointer from dlsym converts to a function pointer */
        memcpy((char *)&api + syms[i].off, &f, sizeof f);
    }
    *out = api;
    return PC_OK;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pq_api api;
static pc_status load_status;
static pc_error load_error;

static void load_once(void)
{
    load_status = pq_load_from(LIBPQ_SONAME, &api);
    if (load_status)
        pc_err_save(&load_error);
}

pc_status pq_load(const pq_api **out)
{
    pthread_once(&once, load_once);
    if (load_status) {
        pc_err_restore(&load_error);
        return load_status;
    }
    *out = &api;
    return PC_OK;
}
