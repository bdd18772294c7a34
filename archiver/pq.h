#ifndef PGCASK_ARCHIVER_PQ_H
#define PGCASK_ARCHIVER_PQ_H

/*
 * libpq, loaded on first use with dlopen("libpq.so.5"). The binary does not
 * link libpq: loading it and its two dozen dependencies costs ~6 ms at every
 * process start, and `pgcask wal-archive` (an archive_command, same binary)
 * must answer an archived segment in a few milliseconds. libpq-fe.h is used
 * for types and constants only; every call goes through the table below.
 * Only archiver/ includes this header (and libpq-fe.h).
 */

#include <libpq-fe.h>
#include "common/status.h"

typedef struct pq_api {
    PGconn *(*connectdb_params)(const char *const *keywords, const char *const *values,
                                int expand_dbname);
    ConnStatusType (*status)(const PGconn *conn);
    char *(*error_message)(const PGconn *conn);
    void (*finish)(PGconn *conn);
    PGresult *(*exec)(PGconn *conn, const char *query);
    int (*send_query)(PGconn *conn, const char *query);
    PGresult *(*get_result)(PGconn *conn);
    ExecStatusType (*result_status)(const PGresult *res);
    char *(*result_error_message)(const PGresult *res);
    char *(*result_error_field)(const PGresult *res, int fieldcode);
    int (*ntuples)(const PGresult *res);
    int (*nfields)(const PGresult *res);
    char *(*getvalue)(const PGresult *res, int row, int col);
    int (*getisnull)(const PGresult *res, int row, int col);
    void (*clear)(PGresult *res);
    int (*get_copy_data)(PGconn *conn, char **buffer, int async);
    void (*freemem)(void *ptr);
    int (*server_version)(const PGconn *conn);
    const char *(*parameter_status)(const PGconn *conn, const char *name);
    PQnoticeProcessor (*set_notice_processor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
    int (*socket)(const PGconn *conn);
    int (*consume_input)(PGconn *conn);
    int (*is_busy)(PGconn *conn);
} pq_api;

/*
 * The process-wide table, loading libpq.so.5 on the first call (thread-safe;
 * a failure is remembered). PC_E_PG "libpq is not installed" with an
 * install hint when the library or one of its functions is missing.
 */
pc_status pq_load(const pq_api **out);

/*
 * Load the named library into *out (tests point it at a missing or wrong
 * library). The library stays loaded for the life of the process.
 */
pc_status pq_load_from(const char *soname, pq_api *out);

#endif
