#ifndef PGCASK_PLUGIN_GRPC_SERVER_H
#define PGCASK_PLUGIN_GRPC_SERVER_H

/*
 * A small unary gRPC server (and one-call client) on the gRPC core C API.
 * Every gRPC core call of pgcask lives in server.c: gRPC calls that API
 * private and it changes between releases, so the surface we depend on stays
 * in one file.
 *
 * Model: N worker threads, each with its own completion queue and exactly
 * one call in flight. A worker waits for a call, reads the one request
 * message, runs the handler on its own thread, and sends the reply. A slow
 * handler (an hour-long backup) only occupies its own worker.
 */

typedef struct sc_server sc_server;

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/status.h"

/* gRPC status codes. Wire values fixed by the gRPC protocol. */
typedef enum sc_code {
    SC_OK = 0,
    SC_CANCELLED = 1,
    SC_UNKNOWN = 2,
    SC_INVALID_ARGUMENT = 3,
    SC_DEADLINE_EXCEEDED = 4,
    SC_NOT_FOUND = 5,
    SC_ALREADY_EXISTS = 6,
    SC_PERMISSION_DENIED = 7,
    SC_RESOURCE_EXHAUSTED = 8,
    SC_FAILED_PRECONDITION = 9,
    SC_ABORTED = 10,
    SC_OUT_OF_RANGE = 11,
    SC_UNIMPLEMENTED = 12,
    SC_INTERNAL = 13,
    SC_UNAVAILABLE = 14,
    SC_DATA_LOSS = 15,
    SC_UNAUTHENTICATED = 16,
} sc_code;

/* The canonical upper-case name ("NOT_FOUND"); "UNKNOWN_CODE" for a value outside the list. */
const char *sc_code_name(sc_code code);

/* What a handler sees. Borrowed for the duration of the handler call. */
typedef struct sc_request {
    const char *method;        /* "/pkg.Service/Method" */
    const unsigned char *data; /* the request message (may be 0 bytes, never NULL) */
    size_t len;
    const atomic_bool *stopping; /* becomes true when the server gives up waiting on shutdown */
} sc_request;

/*
 * What a handler returns. On SC_OK, `data`/`len` is the serialized response:
 * malloc'd by the handler, freed by the server (NULL with len 0 is an empty
 * message). Otherwise `message` is the status text sent to the client and
 * `data` must be NULL.
 */
typedef struct sc_reply {
    sc_code code;
    char message[PC_ERR_MSG_MAX];
    unsigned char *data;
    size_t len;
} sc_reply;

typedef void (*sc_handler_fn)(void *app, const sc_request *req, sc_reply *rep);

typedef struct sc_method {
    const char *path; /* "/pkg.Service/Method" */
    sc_handler_fn fn;
} sc_method;

typedef struct sc_server_opts {
    const char *address;      /* "unix:/plugins/name" */
    int workers;              /* 1..64 */
    size_t max_message;       /* largest request accepted; bigger is RESOURCE_EXHAUSTED */
    const sc_method *methods; /* borrowed until sc_server_free; other paths get UNIMPLEMENTED */
    size_t nmethods;
    void *app; /* passed to every handler */
} sc_server_opts;

/*
 * Initialise gRPC, bind and start serving. PC_E_IO when the address cannot
 * be bound. The caller must have blocked the signals it wants to sigwait()
 * for: the threads started here inherit the mask.
 */
pc_status sc_server_start(const sc_server_opts *opts, sc_server **out);

/*
 * Stop admitting calls and wait up to grace_ms for the calls in flight;
 * then raise `stopping`, cancel what is left and wait up to cancel_ms more
 * for the handlers to return. PC_OK when everything ended (*cancelled says
 * whether calls had to be cancelled); PC_E_TIMEOUT when a handler is still
 * running: call again to wait longer, or let the process exit.
 */
pc_status sc_server_stop(sc_server *s, int64_t grace_ms, int64_t cancel_ms, bool *cancelled);

/*
 * Release everything (stops first with no grace when still running). A
 * server whose handlers will not return is left allocated. NULL is a no-op.
 */
void sc_server_free(sc_server *s);

/*
 * One unary call as a client: fresh channel to `target` (insecure), deadline
 * timeout_ms. On return *code and message hold the call's status (a transport
 * failure is UNAVAILABLE or DEADLINE_EXCEEDED as gRPC reports it) and, when
 * *code is SC_OK, *resp (malloc'd, caller frees) the response bytes.
 * Returns PC_E_INTERNAL only when the call could not be made at all.
 */
pc_status sc_client_call(const char *target, const char *method, const void *req, size_t len,
                         int64_t timeout_ms, sc_code *code, char *message, size_t message_len,
                         unsigned char **resp, size_t *resp_len);

#endif
