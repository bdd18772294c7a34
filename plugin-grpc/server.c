/*
 * The gRPC core plumbing of the sidecar: the only file that calls the gRPC
 * core C API (see server.h for the model). The tag discipline that keeps it
 * safe: every batch started on a call is waited for before the call is
 * unreferenced, each worker has one call in flight on its own completion
 * queue, and every queue is shut down and drained before it is destroyed.
 */
#include "plugin-grpc/server.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"

/* Tags: each queue has one operation outstanding, so constants suffice. */
static char tag_new, tag_recv, tag_send, tag_shutdown, tag_client;

typedef struct worker {
    sc_server *srv;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool running;
} worker;

struct sc_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    worker *workers;
    int nworkers;
    const sc_method *methods;
    size_t nmethods;
    size_t max_message;
    void *app;
    atomic_bool stopping;
    atomic_int busy;    /* calls between arrival and release */
    bool shutting_down; /* grpc_server_shutdown_and_notify was called */
    bool notified;      /* ... and its notification arrived */
    bool finished;      /* shutdown completed, threads joined, core objects destroyed */
};

const char *sc_code_name(sc_code code)
{
    switch (code) {
    case SC_OK:
        return "OK";
    case SC_CANCELLED:
        return "CANCELLED";
    case SC_UNKNOWN:
        return "UNKNOWN";
    case SC_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case SC_DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
    case SC_NOT_FOUND:
        return "NOT_FOUND";
    case SC_ALREADY_EXISTS:
        return "ALREADY_EXISTS";
    case SC_PERMISSION_DENIED:
        return "PERMISSION_DENIED";
    case SC_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case SC_FAILED_PRECONDITION:
        return "FAILED_PRECONDITION";
    case SC_ABORTED:
        return "ABORTED";
    case SC_OUT_OF_RANGE:
        return "OUT_OF_RANGE";
    case SC_UNIMPLEMENTED:
        return "UNIMPLEMENTED";
    case SC_INTERNAL:
        return "INTERNAL";
    case SC_UNAVAILABLE:
        return "UNAVAILABLE";
    case SC_DATA_LOSS:
        return "DATA_LOSS";
    case SC_UNAUTHENTICATED:
        return "UNAUTHENTICATED";
    }
    return "UNKNOWN_CODE";
}

/* gRPC's own log lines go through our logger, so --log-format json stays one format. */
static void grpc_log_sink(gpr_log_func_args *a)
{
    pc_log_level lvl = a->severity == GPR_LOG_SEVERITY_ERROR ? PC_LOG_WARNING : PC_LOG_DEBUG;
    if (pc_log_enabled(lvl))
        pc_log(lvl, "grpc: %s", a->message);
}

static void grpc_begin(void)
{
    gpr_set_log_function(grpc_log_sink);
    gpr_set_log_verbosity(pc_log_enabled(PC_LOG_TRACE) ? GPR_LOG_SEVERITY_DEBUG
                                                       : GPR_LOG_SEVERITY_ERROR);
    grpc_init();
}

static gpr_timespec deadline_ms(int64_t ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Wait for `tag` on a queue where it is the only outstanding operation. */
static bool wait_tag(grpc_completion_queue *cq, void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return false;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return ev.success != 0;
        pc_log(PC_LOG_WARNING, "grpc: unexpected completion event %d on a worker queue",
               (int)ev.type);
    }
}

static void drain_destroy(grpc_completion_queue *cq)
{
    if (!cq)
        return;
    grpc_completion_queue_shutdown(cq);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
    }
    grpc_completion_queue_destroy(cq);
}

/* A client-chosen method name made safe to print: bounded, printable ASCII only. */
static void method_text(grpc_slice m, char *out, size_t outlen)
{
    size_t n = GRPC_SLICE_LENGTH(m);
    const unsigned char *p = GRPC_SLICE_START_PTR(m);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++)
        out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    out[o] = '\0';
}

static const sc_method *find_method(const sc_server *s, grpc_slice m)
{
    for (size_t i = 0; i < s->nmethods; i++)
        if (grpc_slice_str_cmp(m, s->methods[i].path) == 0)
            return &s->methods[i];
    return NULL;
}

/* An error found here, before or instead of a handler: logged, as handlers log theirs. */
static void reply_error(sc_reply *rep, const char *method, sc_code code, const char *fmt, ...)
    PC_PRINTF(4, 5);
static void reply_error(sc_reply *rep, const char *method, sc_code code, const char *fmt, ...)
{
    va_list ap;
    free(rep->data);
    rep->data = NULL;
    rep->len = 0;
    rep->code = code;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
    pc_log(PC_LOG_WARNING, "%s: %s: %s", method, sc_code_name(code), rep->message);
}

/* Read the request, run the handler; the reply is left in *rep. */
static void run_handler(worker *w, grpc_call *call, const grpc_call_details *details,
                        const char *method, sc_reply *rep)
{
    sc_server *s = w->srv;
    grpc_byte_buffer *in = NULL;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &in;
    if (grpc_call_start_batch(call, &op, 1, &tag_recv, NULL) != GRPC_CALL_OK) {
        reply_error(rep, method, SC_INTERNAL, "could not read the request");
        return;
    }
    /* A failed receive means the call is already gone: cancelled, or refused by gRPC as too large.
     */
    if (!wait_tag(w->cq, &tag_recv) || !in) {
        grpc_byte_buffer_destroy(in);
        reply_error(rep, method, SC_CANCELLED,
                    "no request message received: the client cancelled the call, or gRPC refused "
                    "a request over %zu bytes",
                    s->max_message);
        return;
    }
    const sc_method *m = find_method(s, details->method);
    if (!m) {
        grpc_byte_buffer_destroy(in);
        reply_error(rep, method, SC_UNIMPLEMENTED, "method %s is not served by this pgcask sidecar",
                    method);
        return;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, in)) {
        grpc_byte_buffer_destroy(in);
        reply_error(rep, method, SC_INTERNAL, "could not decode the request message");
        return;
    }
    grpc_slice body = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_destroy(in);

    static const unsigned char empty[1];
    sc_request req = {
        .method = m->path,
        .data = GRPC_SLICE_LENGTH(body) ? GRPC_SLICE_START_PTR(body) : empty,
        .len = GRPC_SLICE_LENGTH(body),
        .stopping = &s->stopping,
    };
    m->fn(s->app, &req, rep);
    grpc_slice_unref(body);
    if (rep->code != SC_OK && rep->data) {
        free(rep->data);
        rep->data = NULL;
        rep->len = 0;
    }
}

/* Serve one call; false when the server is shutting down. */
static bool serve_one(worker *w)
{
    sc_server *s = w->srv;
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&md);

    grpc_call_error err =
        grpc_server_request_call(s->server, &call, &details, &md, w->cq, w->cq, &tag_new);
    bool more = err == GRPC_CALL_OK;
    if (!more)
        pc_log(PC_LOG_WARNING, "grpc: a worker stops: request_call failed with %d", (int)err);
    /* request_call fails with success=0 once shutdown started: that ends the worker. */
    if (more && !wait_tag(w->cq, &tag_new))
        more = false;
    if (!more || !call) {
        grpc_call_details_destroy(&details);
        grpc_metadata_array_destroy(&md);
        return false;
    }

    atomic_fetch_add(&s->busy, 1);
    int64_t t0 = pc_now_mono_us();
    char method[256];
    method_text(details.method, method, sizeof method);
    sc_reply rep;
    memset(&rep, 0, sizeof rep);
    pc_err_clear();
    run_handler(w, call, &details, method, &rep);

    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    grpc_byte_buffer *out = NULL;
    if (rep.code == SC_OK) {
        grpc_slice body = rep.len ? grpc_slice_new(rep.data, rep.len, free) : grpc_empty_slice();
        if (!rep.len)
            free(rep.data);
        rep.data = NULL;
        out = grpc_raw_byte_buffer_create(&body, 1);
        grpc_slice_unref(body);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = out;
    }
    grpc_slice status_text = grpc_slice_from_copied_string(rep.code == SC_OK ? "" : rep.message);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)rep.code;
    ops[n++].data.send_status_from_server.status_details = &status_text;
    int cancelled = 0;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &cancelled;
    if (grpc_call_start_batch(call, ops, n, &tag_send, NULL) == GRPC_CALL_OK)
        wait_tag(w->cq, &tag_send);
    else
        pc_log(PC_LOG_WARNING, "grpc: could not send the reply");

    grpc_slice_unref(status_text);
    grpc_byte_buffer_destroy(out);
    grpc_call_unref(call);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&md);
    if (pc_log_enabled(PC_LOG_DEBUG))
        pc_log(PC_LOG_DEBUG, "%s: %s in %.3f ms%s", method, sc_code_name(rep.code),
               (double)(pc_now_mono_us() - t0) / 1000.0, cancelled ? " (the client had gone)" : "");
    atomic_fetch_sub(&s->busy, 1);
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    while (serve_one(w))
        ;
    return NULL;
}

/* Join the threads and destroy every core object; shutdown must have completed. */
static void finish(sc_server *s)
{
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].running)
            pthread_join(s->workers[i].thread, NULL);
    if (s->server)
        grpc_server_destroy(s->server);
    for (int i = 0; i < s->nworkers; i++)
        drain_destroy(s->workers[i].cq);
    drain_destroy(s->shutdown_cq);
    s->server = NULL;
    s->finished = true;
}

pc_status sc_server_start(const sc_server_opts *o, sc_server **out)
{
    *out = NULL;
    if (o->workers < 1 || o->workers > 64)
        return pc_err(PC_E_USAGE, "invalid number of workers %d (1 to 64)", o->workers);
    if (o->max_message == 0 || o->max_message > INT32_MAX)
        return pc_err(PC_E_USAGE, "invalid maximum message size %zu", o->max_message);
    sc_server *s = pc_calloc(1, sizeof *s);
    if (!s)
        return PC_E_INTERNAL;
    s->workers = pc_calloc((size_t)o->workers, sizeof *s->workers);
    if (!s->workers) {
        free(s);
        return PC_E_INTERNAL;
    }
    s->nworkers = o->workers;
    s->methods = o->methods;
    s->nmethods = o->nmethods;
    s->max_message = o->max_message;
    s->app = o->app;
    atomic_init(&s->stopping, false);
    atomic_init(&s->busy, 0);

    grpc_begin();
    grpc_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.type = GRPC_ARG_INTEGER;
    arg.key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    arg.value.integer = (int)o->max_message;
    grpc_channel_args args = {1, &arg};
    s->server = grpc_server_create(&args, NULL);
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].srv = s;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);

    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(s->server, o->address, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        pc_status st = pc_err(PC_E_IO, "could not listen on %s", o->address);
        pc_err_hint("Check that the directory exists, is writable, and that the path is "
                    "shorter than 108 bytes.");
        finish(s);
        free(s->workers);
        free(s);
        grpc_shutdown();
        return st;
    }
    grpc_server_start(s->server);
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            pc_status st = pc_err(PC_E_INTERNAL, "could not start gRPC worker thread %d: %m", i);
            sc_server_free(s);
            return st;
        }
        s->workers[i].running = true;
    }
    *out = s;
    return PC_OK;
}

/*
 * Wait until the shutdown notification arrived and no handler runs, or the
 * deadline passes. The notification alone is not enough: once calls are
 * cancelled it comes while handlers may still be working on them.
 */
static bool wait_idle(sc_server *s, int64_t deadline)
{
    if (!s->notified) {
        int64_t left = deadline - pc_now_mono_ms();
        grpc_event ev =
            grpc_completion_queue_next(s->shutdown_cq, deadline_ms(left > 0 ? left : 0), NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            return false;
        s->notified = true;
    }
    while (atomic_load(&s->busy) > 0) {
        if (pc_now_mono_ms() >= deadline)
            return false;
        pc_sleep_ms(5);
    }
    return true;
}

pc_status sc_server_stop(sc_server *s, int64_t grace_ms, int64_t cancel_ms, bool *cancelled)
{
    *cancelled = false;
    if (s->finished)
        return PC_OK;
    bool idle = false;
    if (!s->shutting_down) {
        s->shutting_down = true;
        grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &tag_shutdown);
        idle = wait_idle(s, pc_now_mono_ms() + grace_ms);
    }
    if (!idle) {
        /* too slow, or an earlier stop already gave up: cancel, and wait for the handlers */
        *cancelled = true;
        atomic_store(&s->stopping, true);
        grpc_server_cancel_all_calls(s->server);
        if (!wait_idle(s, pc_now_mono_ms() + cancel_ms))
            return pc_err(PC_E_TIMEOUT,
                          "gRPC calls still running %lld ms after they were "
                          "cancelled",
                          (long long)cancel_ms);
    }
    finish(s);
    return PC_OK;
}

void sc_server_free(sc_server *s)
{
    if (!s)
        return;
    if (!s->finished) {
        bool cancelled;
        /* handlers still running own the server: leave it to the process exit */
        if (sc_server_stop(s, 0, 60000, &cancelled) != PC_OK)
            return;
    }
    free(s->workers);
    free(s);
    grpc_shutdown();
}

pc_status sc_client_call(const char *target, const char *method, const void *req, size_t len,
                         int64_t timeout_ms, sc_code *code, char *message, size_t message_len,
                         unsigned char **resp, size_t *resp_len)
{
    *resp = NULL;
    *resp_len = 0;
    *code = SC_UNKNOWN;
    message[0] = '\0';
    grpc_begin();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_slice mslice = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, mslice, NULL,
                                               deadline_ms(timeout_ms), NULL);
    grpc_slice_unref(mslice);

    grpc_slice body = grpc_slice_from_copied_buffer(req, len);
    grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array md_in, trailers;
    grpc_metadata_array_init(&md_in);
    grpc_metadata_array_init(&trailers);
    grpc_byte_buffer *in = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;

    pc_status st = PC_OK;
    if (grpc_call_start_batch(call, ops, 6, &tag_client, NULL) != GRPC_CALL_OK) {
        st = pc_err(PC_E_INTERNAL, "could not start a gRPC call to %s", target);
    } else {
        /* The call's deadline bounds this wait: the batch always completes. */
        wait_tag(cq, &tag_client);
        *code = (sc_code)status;
        size_t dl = GRPC_SLICE_LENGTH(details);
        if (dl >= message_len)
            dl = message_len - 1;
        memcpy(message, GRPC_SLICE_START_PTR(details), dl);
        message[dl] = '\0';
        if (status == GRPC_STATUS_OK && in) {
            grpc_byte_buffer_reader reader;
            if (grpc_byte_buffer_reader_init(&reader, in)) {
                grpc_slice r = grpc_byte_buffer_reader_readall(&reader);
                grpc_byte_buffer_reader_destroy(&reader);
                *resp_len = GRPC_SLICE_LENGTH(r);
                *resp = pc_malloc(*resp_len + 1);
                if (*resp)
                    memcpy(*resp, GRPC_SLICE_START_PTR(r), *resp_len);
                else
                    st = PC_E_INTERNAL;
                grpc_slice_unref(r);
            } else {
                st = pc_err(PC_E_INTERNAL, "could not decode the reply of %s", method);
            }
        }
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(in);
    grpc_byte_buffer_destroy(out);
    grpc_metadata_array_destroy(&md_in);
    grpc_metadata_array_destroy(&trailers);
    grpc_call_unref(call);
    drain_destroy(cq);
    grpc_channel_destroy(ch);
    grpc_shutdown();
    return st;
}
