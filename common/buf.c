#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char empty_data[1];

void pc_buf_init(pc_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : PC_BUF_NOCAP;
}

void pc_buf_free(pc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void pc_buf_reset(pc_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

pc_status pc_buf_reserve(pc_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return pc_err(PC_E_CORRUPT, "data exceeds the %zu-byte limit of this buffer", b->cap);
    if (b->len + extra == SIZE_MAX) /* no room left for the NUL */
        return pc_err(PC_E_INTERNAL, "out of memory (%zu bytes)", b->len + extra);
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return PC_OK;
    size_t na = b->alloc ? b->alloc : 256;
    while (na < need)
        na = na > SIZE_MAX / 2 ? need : na * 2;
    unsigned char *p = realloc(b->data, na);
    if (!p)
        return pc_err(PC_E_INTERNAL, "out of memory (%zu bytes)", na);
    b->data = p;
    b->alloc = na;
    return PC_OK;
}

pc_status pc_buf_append(pc_buf *b, const void *data, size_t len)
{
    pc_status st = pc_buf_reserve(b, len);
    if (st)
        return st;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return PC_OK;
}

pc_status pc_buf_append_str(pc_buf *b, const char *s)
{
    return pc_buf_append(b, s, strlen(s));
}

pc_status pc_buf_printf(pc_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return pc_err(PC_E_INTERNAL, "formatting failed");
    }
    pc_status st = pc_buf_reserve(b, (size_t)n);
    if (st) {
        va_end(ap2);
        return st;
    }
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return PC_OK;
}

unsigned char *pc_buf_steal(pc_buf *b, size_t *len)
{
    unsigned char *p = b->data;
    if (len)
        *len = b->len;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = '\0';
    }
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

const char *pc_buf_cstr(const pc_buf *b)
{
    return b->data ? (const char *)b->data : (const char *)empty_data;
}

void *pc_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        pc_err(PC_E_INTERNAL, "out of memory (%zu bytes)", n);
    return p;
}

void *pc_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        pc_err(PC_E_INTERNAL, "out of memory (%zu x %zu bytes)", n, size);
    return p;
}

void *pc_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        pc_err(PC_E_INTERNAL, "out of memory (%zu bytes)", n);
    return q;
}

char *pc_strdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        pc_err(PC_E_INTERNAL, "out of memory");
    return p;
}

char *pc_strndup(const char *s, size_t n)
{
    char *p = strndup(s ? s : "", n);
    if (!p)
        pc_err(PC_E_INTERNAL, "out of memory");
    return p;
}

char *pc_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) {
        pc_err(PC_E_INTERNAL, "out of memory");
        return NULL;
    }
    return p;
}
