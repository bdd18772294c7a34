/* A scripted HTTP/1.1 server for the S3 tests (see fake_http.h). */
#include "fake_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  256
#define HEADER_MAX (64 * 1024)

typedef struct conn {
    fake_http *f;
    int fd;
    pthread_t thread;
    bool used;
} conn;

struct fake_http {
    fake_handler handler;
    void *ud;
    int lfd;
    int port;
    char url[64];
    int stop_pipe[2];
    pthread_t acceptor;
    pthread_mutex_t mu;
    bool stopping;
    conn conns[MAX_CONNS];
    size_t nconns;
    fake_req **log;
    size_t nlog, caplog;
    int active, max_active;
};

static void die(const char *what)
{
    fprintf(stderr, "fake_http: %s: %s\n", what, strerror(errno));
    abort();
}

static bool send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const char *fake_req_header(const fake_req *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    buf[0] = '\0';
    for (const char *l = r->headers; l && *l;) {
        const char *eol = strstr(l, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - l) > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= n)
                vl = n - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        l = eol + 2;
    }
    return buf;
}

void fake_resp_header(fake_resp *resp, const char *fmt, ...)
{
    size_t used = strlen(resp->headers);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->headers + used, sizeof resp->headers - used, fmt, ap);
    va_end(ap);
    used = strlen(resp->headers);
    snprintf(resp->headers + used, sizeof resp->headers - used, "\r\n");
}

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 412:
        return "Precondition Failed";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

/* Read one request; false at EOF or on error. */
static bool read_request(int fd, fake_req *req)
{
    char *buf = malloc(HEADER_MAX + 1);
    size_t len = 0;
    char *end = NULL;
    if (!buf)
        die("malloc");
    while (!end) {
        if (len == HEADER_MAX) {
            free(buf);
            return false;
        }
        ssize_t n = recv(fd, buf + len, HEADER_MAX - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return false;
        }
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    char *eol = strstr(buf, "\r\n");
    *eol = '\0';
    if (sscanf(buf, "%15s %8191s", req->method, req->target) != 2) {
        free(buf);
        return false;
    }
    req->headers = strndup(eol + 2, head_len - (size_t)(eol + 2 - buf));
    char cl[32];
    size_t body_len =
        (size_t)strtoull(fake_req_header(req, "Content-Length", cl, sizeof cl), NULL, 10);
    req->body = malloc(body_len + 1);
    if (!req->headers || !req->body)
        die("malloc");
    size_t have = len - head_len;
    if (have > body_len)
        have = body_len; /* no pipelining from curl */
    memcpy(req->body, buf + head_len, have);
    free(buf);
    while (have < body_len) {
        ssize_t n = recv(fd, req->body + have, body_len - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(req->headers);
            free(req->body);
            return false;
        }
        have += (size_t)n;
    }
    req->body_len = body_len;
    req->body[body_len] = '\0';
    return true;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    fake_http *f = c->f;
    for (;;) {
        fake_req *req = calloc(1, sizeof *req);
        if (!req)
            die("calloc");
        if (!read_request(c->fd, req)) {
            free(req);
            break;
        }
        fake_resp resp = {.status = 200, .content_length = -1};
        pthread_mutex_lock(&f->mu);
        req->index = (int)f->nlog;
        if (f->nlog == f->caplog) {
            f->caplog = f->caplog ? f->caplog * 2 : 64;
            f->log = realloc(f->log, f->caplog * sizeof *f->log);
            if (!f->log)
                die("realloc");
        }
        f->log[f->nlog++] = req;
        f->handler(req, &resp, f->ud);
        if (++f->active > f->max_active)
            f->max_active = f->active;
        /* the body must outlive the handler's next call: copy it */
        void *body = resp.body_len ? malloc(resp.body_len) : NULL;
        if (resp.body_len) {
            if (!body)
                die("malloc");
            memcpy(body, resp.body, resp.body_len);
        }
        pthread_mutex_unlock(&f->mu);

        if (resp.delay_ms)
            sleep_ms(resp.delay_ms);
        if (resp.fault == FAKE_CLOSE) {
            free(body);
            pthread_mutex_lock(&f->mu);
            f->active--;
            pthread_mutex_unlock(&f->mu);
            break;
        }
        bool head = strcmp(req->method, "HEAD") == 0;
        int64_t cl = resp.content_length >= 0 ? resp.content_length : (int64_t)resp.body_len;
        char line[8192];
        int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nContent-Length: %lld\r\n%s\r\n",
                         resp.status, reason(resp.status), (long long)cl, resp.headers);
        bool ok = send_all(c->fd, line, (size_t)n);
        size_t send_len = head ? 0 : resp.body_len;
        if (resp.fault != FAKE_OK && resp.cut < send_len)
            send_len = resp.cut;
        if (ok && send_len)
            ok = send_all(c->fd, body, send_len);
        free(body);
        pthread_mutex_lock(&f->mu);
        f->active--;
        pthread_mutex_unlock(&f->mu);
        if (!ok || resp.fault == FAKE_SHORT_BODY)
            break;
        if (resp.fault == FAKE_RESET_BODY) {
            struct linger lg = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            break;
        }
        if (resp.fault == FAKE_STALL) {
            /* silent until the client gives up and hangs up (or stall_ms pass) */
            struct pollfd p = {c->fd, POLLIN, 0};
            poll(&p, 1, resp.stall_ms);
            break;
        }
    }
    pthread_mutex_lock(&f->mu);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    fake_http *f = arg;
    for (;;) {
        struct pollfd p[2] = {{f->lfd, POLLIN, 0}, {f->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (p[1].revents)
            break;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&f->mu);
        if (f->nconns == MAX_CONNS || f->stopping) {
            pthread_mutex_unlock(&f->mu);
            close(fd);
            continue;
        }
        conn *c = &f->conns[f->nconns++];
        c->f = f;
        c->fd = fd;
        c->used = true;
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0)
            die("pthread_create");
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

fake_http *fake_http_start(fake_handler h, void *ud)
{
    fake_http *f = calloc(1, sizeof *f);
    if (!f)
        die("calloc");
    f->handler = h;
    f->ud = ud;
    pthread_mutex_init(&f->mu, NULL);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 64) != 0)
        die("bind/listen");
    socklen_t al = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &al);
    f->port = ntohs(a.sin_port);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    if (pipe(f->stop_pipe) != 0)
        die("pipe");
    if (pthread_create(&f->acceptor, NULL, accept_main, f) != 0)
        die("pthread_create");
    return f;
}

void fake_http_stop(fake_http *f)
{
    if (!f)
        return;
    if (write(f->stop_pipe[1], "x", 1) != 1)
        die("write");
    pthread_join(f->acceptor, NULL);
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    for (size_t i = 0; i < f->nconns; i++)
        if (f->conns[i].fd >= 0)
            shutdown(f->conns[i].fd, SHUT_RDWR);
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < f->nconns; i++)
        pthread_join(f->conns[i].thread, NULL);
    close(f->lfd);
    close(f->stop_pipe[0]);
    close(f->stop_pipe[1]);
    for (size_t i = 0; i < f->nlog; i++) {
        free(f->log[i]->headers);
        free(f->log[i]->body);
        free(f->log[i]);
    }
    free(f->log);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int fake_http_port(const fake_http *f)
{
    return f->port;
}

const char *fake_http_url(const fake_http *f)
{
    return f->url;
}

size_t fake_http_count(fake_http *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nlog;
    pthread_mutex_unlock(&f->mu);
    return n;
}

int fake_http_max_active(fake_http *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->max_active;
    pthread_mutex_unlock(&f->mu);
    return n;
}

const fake_req *fake_http_req(fake_http *f, size_t i)
{
    pthread_mutex_lock(&f->mu);
    const fake_req *r = i < f->nlog ? f->log[i] : NULL;
    pthread_mutex_unlock(&f->mu);
    return r;
}
