#ifndef PGCASK_TEST_FAKE_HTTP_H
#define PGCASK_TEST_FAKE_HTTP_H

/*
 * A scripted HTTP/1.1 server on 127.0.0.1 for tests: one thread accepting,
 * one per connection (keep-alive works), the test's handler deciding each
 * reply (called under a lock, so handler state needs no locking of its
 * own). Faults: close without a reply, reset or close in the middle of the
 * body, a Content-Length larger than the body sent. Every request is kept
 * in a log the test reads afterwards.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fake_req {
    char method[16];
    char target[8192]; /* path and query as received */
    char *headers;     /* the header lines as received */
    unsigned char *body;
    size_t body_len;
    int index; /* 0-based number of the request */
} fake_req;

typedef enum fake_fault {
    FAKE_OK = 0,
    FAKE_CLOSE,      /* close the connection without replying */
    FAKE_RESET_BODY, /* send headers and `cut` body bytes, then reset the connection */
    FAKE_SHORT_BODY, /* send headers and `cut` body bytes, then close cleanly */
    FAKE_STALL,      /* send headers and `cut` body bytes, then go silent for stall_ms */
} fake_fault;

typedef struct fake_resp {
    int status;
    char headers[4096]; /* extra lines, each ending in "\r\n" */
    const void *body;   /* borrowed until the handler is called again */
    size_t body_len;
    int64_t content_length; /* -1 (the default): body_len */
    fake_fault fault;
    size_t cut;
    int stall_ms;
    int delay_ms; /* wait before replying (other connections are served meanwhile) */
} fake_resp;

typedef void (*fake_handler)(const fake_req *req, fake_resp *resp, void *ud);

typedef struct fake_http fake_http;

/* Start on a free port. */
fake_http *fake_http_start(fake_handler h, void *ud);
/* Stop, close every connection, join every thread, free the log. */
void fake_http_stop(fake_http *f);
int fake_http_port(const fake_http *f);
/* "http://127.0.0.1:PORT" */
const char *fake_http_url(const fake_http *f);

size_t fake_http_count(fake_http *f);
/* The most requests ever being answered at once (from arrival to the end of the reply). */
int fake_http_max_active(fake_http *f);
/* Request i of the log (valid until stop). */
const fake_req *fake_http_req(fake_http *f, size_t i);
/* A header value of a logged request ("" when absent), copied into buf. */
const char *fake_req_header(const fake_req *r, const char *name, char *buf, size_t n);

/* Append a formatted header line to resp->headers. */
void fake_resp_header(fake_resp *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
