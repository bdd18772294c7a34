#include "common/progress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timeutil.h"

#define TERM_INTERVAL_MS 250
#define JSON_INTERVAL_MS 5000
#define BAR_WIDTH        20

struct pc_progress {
    pthread_mutex_t mu;
    char *phase;
    bool json; /* else terminal */
    uint64_t total, done;
    int64_t start_us, last_us;
    int64_t interval_us;
    bool drawn; /* terminal: a bar is on the current line */
    bool finished;
};

/* Tests set PGCASK_PROGRESS_INTERVAL_MS to see every update. */
static int64_t interval_ms(int64_t def)
{
    const char *e = getenv("PGCASK_PROGRESS_INTERVAL_MS");
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (*end == '\0' && v >= 0)
            return v;
    }
    return def;
}

pc_progress *pc_progress_new(const char *phase, uint64_t total)
{
    bool json = pc_log_get_format() == PC_LOG_JSON;
    if (pc_log_get_level() == PC_LOG_OFF || (!json && !isatty(STDERR_FILENO)))
        return NULL;
    pc_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->phase = strdup(phase);
    if (!p->phase) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->json = json;
    p->total = total;
    p->start_us = p->last_us = pc_now_mono_us();
    p->interval_us = interval_ms(json ? JSON_INTERVAL_MS : TERM_INTERVAL_MS) * 1000;
    return p;
}

/* Average since the start: steadier than the rate of the last interval. */
static uint64_t rate_bps(const pc_progress *p, int64_t now)
{
    int64_t us = now - p->start_us;
    if (us <= 0)
        return 0;
    return (uint64_t)((double)p->done * 1e6 / (double)us);
}

/* Seconds left, or -1 when unknown. */
static int64_t eta_s(const pc_progress *p, uint64_t rate)
{
    if (p->total == 0)
        return -1;
    if (p->done >= p->total)
        return 0;
    if (rate == 0)
        return -1;
    return (int64_t)((p->total - p->done + rate - 1) / rate);
}

static void emit_json(pc_progress *p, int64_t now, bool done)
{
    char ts[32], tsf[48];
    struct timeval tv;
    struct tm tm;
    pc_buf b;
    pc_jw w;
    uint64_t rate = rate_bps(p, now);
    int64_t eta = eta_s(p, rate);

    /* the same shape as a pc_log line, but written at any log level */
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tsf, sizeof tsf, "%s.%03dZ", ts, (int)(tv.tv_usec / 1000));
    pc_buf_init(&b, 16 * 1024);
    pc_jw_init(&w, &b, false);
    pc_jw_obj_begin(&w);
    pc_jw_kstr(&w, "time", tsf);
    pc_jw_kstr(&w, "level", "info");
    pc_jw_kint(&w, "pid", (int64_t)getpid());
    if (pc_log_get_tag())
        pc_jw_kstr(&w, "command", pc_log_get_tag());
    pc_jw_kstr(&w, "msg", "progress");
    pc_jw_kstr(&w, "event", "progress");
    pc_jw_kstr(&w, "phase", p->phase);
    pc_jw_kuint(&w, "bytes_done", p->done);
    if (p->total)
        pc_jw_kuint(&w, "bytes_total", p->total);
    else
        pc_jw_knull(&w, "bytes_total");
    pc_jw_kuint(&w, "rate_bps", rate);
    if (eta >= 0)
        pc_jw_kint(&w, "eta_s", eta);
    else
        pc_jw_knull(&w, "eta_s");
    pc_jw_kbool(&w, "done", done);
    pc_jw_obj_end(&w);
    if (pc_jw_end(&w) == PC_OK && pc_buf_append(&b, "\n", 1) == PC_OK)
        pc_log_raw_line((const char *)b.data, b.len);
    pc_buf_free(&b);
}

static void human_size(double v, char *out, size_t outlen)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, outlen, "%.0f B", v);
    else
        snprintf(out, outlen, "%.1f %s", v, units[u]);
}

static void draw_bar(pc_progress *p, int64_t now, bool done)
{
    char line[256], d[32], t[32], r[32], eta_txt[32] = "";
    uint64_t rate = rate_bps(p, now);
    int64_t eta = eta_s(p, rate);
    int n;

    human_size((double)p->done, d, sizeof d);
    human_size((double)rate, r, sizeof r);
    if (p->total) {
        char bar[BAR_WIDTH + 1];
        uint64_t done_b = p->done > p->total ? p->total : p->done;
        int pct = (int)(done_b * 100 / p->total);
        int fill = (int)(done_b * BAR_WIDTH / p->total);
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
        bar[BAR_WIDTH] = '\0';
        if (eta >= 3600)
            snprintf(eta_txt, sizeof eta_txt, "  ETA %d:%02d:%02d", (int)(eta / 3600),
                     (int)(eta / 60 % 60), (int)(eta % 60));
        else if (eta >= 0)
            snprintf(eta_txt, sizeof eta_txt, "  ETA %d:%02d", (int)(eta / 60), (int)(eta % 60));
        human_size((double)p->total, t, sizeof t);
        n = snprintf(line, sizeof line, "\r%s  [%s]  %s / %s  %3d%%  %s/s%s\033[K%s", p->phase, bar,
                     d, t, pct, r, eta_txt, done ? "\n" : "");
    } else {
        n = snprintf(line, sizeof line, "\r%s  %s  %s/s\033[K%s", p->phase, d, r, done ? "\n" : "");
    }
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    if (n > 0)
        pc_log_raw_line(line, (size_t)n);
    p->drawn = !done;
}

static void show(pc_progress *p, int64_t now, bool done)
{
    if (p->json)
        emit_json(p, now, done);
    else
        draw_bar(p, now, done);
    p->last_us = now;
}

void pc_progress_set_total(pc_progress *p, uint64_t total)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->total = total;
    pthread_mutex_unlock(&p->mu);
}

void pc_progress_add(pc_progress *p, uint64_t bytes)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->done += bytes;
    if (!p->finished) {
        int64_t now = pc_now_mono_us();
        if (now - p->last_us >= p->interval_us)
            show(p, now, false);
    }
    pthread_mutex_unlock(&p->mu);
}

void pc_progress_done(pc_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (!p->finished) {
        p->finished = true;
        show(p, pc_now_mono_us(), true);
    }
    pthread_mutex_unlock(&p->mu);
}

void pc_progress_free(pc_progress *p)
{
    if (!p)
        return;
    /* end an interrupted bar's line so that the next message starts on its own */
    if (p->drawn)
        pc_log_raw_line("\n", 1);
    pthread_mutex_destroy(&p->mu);
    free(p->phase);
    free(p);
}
