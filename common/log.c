#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"

static pc_log_level g_level = PC_LOG_WARNING;
static pc_log_format g_format = PC_LOG_TEXT;
static const char *g_tag;

void pc_log_set_level(pc_log_level lvl)
{
    g_level = lvl;
}

pc_log_level pc_log_get_level(void)
{
    return g_level;
}

void pc_log_set_format(pc_log_format fmt)
{
    g_format = fmt;
}

pc_log_format pc_log_get_format(void)
{
    return g_format;
}

void pc_log_set_tag(const char *tag)
{
    g_tag = tag;
}

const char *pc_log_get_tag(void)
{
    return g_tag;
}

bool pc_log_enabled(pc_log_level lvl)
{
    return g_level != PC_LOG_OFF && lvl <= g_level;
}

static const char *level_text(pc_log_level lvl)
{
    switch (lvl) {
    case PC_LOG_OFF:
        return "OFF";
    case PC_LOG_ERROR:
        return "ERROR";
    case PC_LOG_WARNING:
        return "WARNING";
    case PC_LOG_INFO:
        return "INFO";
    case PC_LOG_DEBUG:
        return "DEBUG";
    case PC_LOG_TRACE:
        return "TRACE";
    }
    return "LOG";
}

static const char *level_json(pc_log_level lvl)
{
    switch (lvl) {
    case PC_LOG_OFF:
        return "off";
    case PC_LOG_ERROR:
        return "error";
    case PC_LOG_WARNING:
        return "warning";
    case PC_LOG_INFO:
        return "info";
    case PC_LOG_DEBUG:
        return "debug";
    case PC_LOG_TRACE:
        return "trace";
    }
    return "log";
}

void pc_log_raw_line(const char *line, size_t len)
{
    /* One write(2) per line so concurrent threads and processes do not interleave. */
    int saved = errno; /* logging never changes what a caller's %m will print */
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        line += n;
        len -= (size_t)n;
    }
    errno = saved;
}

/* A value that would break key=value parsing or the one-line rule is written JSON-quoted. */
static bool needs_quotes(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' || *s == 0x7F)
            return true;
    return false;
}

static void field_text(pc_buf *b, const pc_log_field *f)
{
    switch (f->type) {
    case PC_LF_STR:
        if (f->v.s && needs_quotes(f->v.s)) {
            pc_buf_printf(b, " %s=", f->key);
            pc_json_escape(b, f->v.s, strlen(f->v.s));
        } else {
            pc_buf_printf(b, " %s=%s", f->key, f->v.s ? f->v.s : "");
        }
        break;
    case PC_LF_INT:
        pc_buf_printf(b, " %s=%lld", f->key, (long long)f->v.i);
        break;
    case PC_LF_UINT:
        pc_buf_printf(b, " %s=%llu", f->key, (unsigned long long)f->v.u);
        break;
    case PC_LF_DBL:
        pc_buf_printf(b, " %s=%.3f", f->key, f->v.d);
        break;
    case PC_LF_BOOL:
        pc_buf_printf(b, " %s=%s", f->key, f->v.b ? "true" : "false");
        break;
    }
}

static void field_json(pc_jw *w, const pc_log_field *f)
{
    switch (f->type) {
    case PC_LF_STR:
        pc_jw_kstr(w, f->key, f->v.s);
        break;
    case PC_LF_INT:
        pc_jw_kint(w, f->key, f->v.i);
        break;
    case PC_LF_UINT:
        pc_jw_kuint(w, f->key, f->v.u);
        break;
    case PC_LF_DBL:
        pc_jw_kdbl(w, f->key, f->v.d);
        break;
    case PC_LF_BOOL:
        pc_jw_kbool(w, f->key, f->v.b);
        break;
    }
}

PC_PRINTF(4, 0)
static void vlog(pc_log_level lvl, const pc_log_field *fields, size_t nfields, const char *fmt,
                 va_list ap)
{
    char msg[4096];
    char ts[64];
    struct timeval tv;
    struct tm tm;
    pc_buf b;

    if (!pc_log_enabled(lvl))
        return;
    int saved = errno;
    vsnprintf(msg, sizeof msg, fmt, ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    pc_buf_init(&b, 64 * 1024);

    if (g_format == PC_LOG_JSON) {
        pc_jw w;
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        char tsf[80];
        snprintf(tsf, sizeof tsf, "%s.%03dZ", ts, (int)(tv.tv_usec / 1000));
        pc_jw_init(&w, &b, false);
        pc_jw_obj_begin(&w);
        pc_jw_kstr(&w, "time", tsf);
        pc_jw_kstr(&w, "level", level_json(lvl));
        pc_jw_kint(&w, "pid", (int64_t)getpid());
        if (g_tag)
            pc_jw_kstr(&w, "command", g_tag);
        pc_jw_kstr(&w, "msg", msg);
        for (size_t i = 0; i < nfields; i++)
            field_json(&w, &fields[i]);
        pc_jw_obj_end(&w);
        pc_jw_end(&w);
    } else {
        strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        pc_buf_printf(&b, "%s.%03d UTC [%d] %s: %s", ts, (int)(tv.tv_usec / 1000), (int)getpid(),
                      level_text(lvl), msg);
        for (size_t i = 0; i < nfields; i++)
            field_text(&b, &fields[i]);
    }
    pc_buf_append(&b, "\n", 1);
    pc_log_raw_line((const char *)b.data, b.len);
    pc_buf_free(&b);
    errno = saved;
}

void pc_log(pc_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, NULL, 0, fmt, ap);
    va_end(ap);
}

void pc_log_fields(pc_log_level lvl, const pc_log_field *fields, size_t nfields, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fields, nfields, fmt, ap);
    va_end(ap);
}
