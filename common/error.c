#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

static _Thread_local pc_error tl_err;

pc_status pc_verr(pc_status st, const char *fmt, va_list ap)
{
    int saved = errno;
    tl_err.status = st;
    tl_err.sys_errno = saved;
    tl_err.detail[0] = '\0';
    tl_err.hint[0] = '\0';
    tl_err.quiet = 0;
    errno = saved; /* for %m */
    vsnprintf(tl_err.message, sizeof tl_err.message, fmt, ap);
    errno = saved;
    return st;
}

pc_status pc_err(pc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pc_verr(st, fmt, ap);
    va_end(ap);
    return st;
}

void pc_err_detail(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_err.detail, sizeof tl_err.detail, fmt, ap);
    va_end(ap);
    errno = saved;
}

void pc_err_hint(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_err.hint, sizeof tl_err.hint, fmt, ap);
    va_end(ap);
    errno = saved;
}

void pc_err_context(const char *fmt, ...)
{
    char ctx[PC_ERR_MSG_MAX / 2];
    char old[PC_ERR_MSG_MAX];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, tl_err.message, sizeof old);
    /* truncation is acceptable: the message is for people */
    size_t cl = strlen(ctx);
    memcpy(tl_err.message, ctx, cl);
    tl_err.message[cl] = ':';
    tl_err.message[cl + 1] = ' ';
    size_t room = sizeof tl_err.message - cl - 3;
    size_t ol = strnlen(old, room);
    memcpy(tl_err.message + cl + 2, old, ol);
    tl_err.message[cl + 2 + ol] = '\0';
    errno = saved;
}

void pc_err_quiet(void)
{
    tl_err.quiet = 1;
}

const pc_error *pc_err_get(void)
{
    return &tl_err;
}

void pc_err_clear(void)
{
    memset(&tl_err, 0, sizeof tl_err);
}

void pc_err_save(pc_error *dst)
{
    memcpy(dst, &tl_err, sizeof *dst);
}

void pc_err_restore(const pc_error *src)
{
    if (src != &tl_err)
        memcpy(&tl_err, src, sizeof tl_err);
}

void pc_err_print(const pc_error *e)
{
    pc_log_field f[4];
    size_t n = 0;
    const char *msg = e->message[0] ? e->message : pc_status_name(e->status);

    if (pc_log_get_format() == PC_LOG_JSON) {
        f[n++] = PC_F_STR("status", pc_status_name(e->status));
        f[n++] = PC_F_INT("code", (int)e->status);
        if (e->detail[0])
            f[n++] = PC_F_STR("detail", e->detail);
        if (e->hint[0])
            f[n++] = PC_F_STR("hint", e->hint);
        pc_log_fields(PC_LOG_ERROR, f, n, "%s", msg);
        return;
    }
    if (!pc_log_enabled(PC_LOG_ERROR))
        return;
    char line[3 * PC_ERR_MSG_MAX + 64];
    int len = snprintf(line, sizeof line, "error: %s\n", msg);
    if (e->detail[0] && len > 0 && (size_t)len < sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, "DETAIL: %s\n", e->detail);
    if (e->hint[0] && len > 0 && (size_t)len < sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, "HINT: %s\n", e->hint);
    if (len > (int)sizeof line - 1)
        len = (int)sizeof line - 1;
    if (len > 0)
        pc_log_raw_line(line, (size_t)len);
}
