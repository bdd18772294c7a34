/* The JSON writer half of common/json.h (the reader is json_read.c). */
#include "common/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(pc_jw *w, const char *s, size_t n)
{
    if (w->st == PC_OK)
        w->st = pc_buf_append(w->out, s, n);
}

static void indent(pc_jw *w)
{
    if (!w->pretty)
        return;
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++)
        put(w, "  ", 2);
}

void pc_jw_init(pc_jw *w, pc_buf *out, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
}

/*
 * state[d] per nesting level: 0 = nothing written yet, 1 = an element was
 * written (the next needs a comma), 2 = a key was just written (the value
 * follows without comma or indentation).
 */
static void set_state(pc_jw *w, int v)
{
    w->state[w->depth] = (unsigned char)v;
}

static int get_state(const pc_jw *w)
{
    return w->state[w->depth];
}

static void value_prefix(pc_jw *w)
{
    int s = get_state(w);
    if (w->depth == 0)
        return;
    if (s == 2) {
        set_state(w, 1);
        return;
    }
    if (s == 1)
        put(w, ",", 1);
    indent(w);
    set_state(w, 1);
}

static void open_(pc_jw *w, char c)
{
    value_prefix(w);
    put(w, &c, 1);
    if (w->depth + 1 < (int)(sizeof w->state)) {
        w->depth++;
        set_state(w, 0);
    } else if (w->st == PC_OK) {
        w->st = pc_err(PC_E_INTERNAL, "JSON writer nested too deep");
    }
}

static void close_(pc_jw *w, char c)
{
    int had = get_state(w);
    if (w->depth > 0)
        w->depth--;
    if (had)
        indent(w);
    put(w, &c, 1);
}

void pc_jw_obj_begin(pc_jw *w)
{
    open_(w, '{');
}

void pc_jw_obj_end(pc_jw *w)
{
    close_(w, '}');
}

void pc_jw_arr_begin(pc_jw *w)
{
    open_(w, '[');
}

void pc_jw_arr_end(pc_jw *w)
{
    close_(w, ']');
}

void pc_jw_key(pc_jw *w, const char *key)
{
    value_prefix(w);
    if (w->st == PC_OK)
        w->st = pc_json_escape(w->out, key, strlen(key));
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    set_state(w, 2);
}

void pc_jw_strn(pc_jw *w, const char *s, size_t n)
{
    value_prefix(w);
    if (w->st == PC_OK)
        w->st = pc_json_escape(w->out, s, n);
}

void pc_jw_str(pc_jw *w, const char *s)
{
    if (!s) {
        pc_jw_null(w);
        return;
    }
    pc_jw_strn(w, s, strlen(s));
}

void pc_jw_int(pc_jw *w, int64_t v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    value_prefix(w);
    put(w, t, (size_t)n);
}

void pc_jw_uint(pc_jw *w, uint64_t v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%" PRIu64, v);
    value_prefix(w);
    put(w, t, (size_t)n);
}

void pc_jw_dbl(pc_jw *w, double v)
{
    char t[64];
    if (!isfinite(v)) {
        pc_jw_null(w);
        return;
    }
    int n = snprintf(t, sizeof t, "%.17g", v);
    /* Shortest form that round-trips is nicer to read; %.17g is exact. Trim via %g when equal. */
    char s[64];
    int m = snprintf(s, sizeof s, "%g", v);
    if (strtod(s, NULL) == v) {
        value_prefix(w);
        put(w, s, (size_t)m);
        return;
    }
    value_prefix(w);
    put(w, t, (size_t)n);
}

void pc_jw_bool(pc_jw *w, bool v)
{
    value_prefix(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void pc_jw_null(pc_jw *w)
{
    value_prefix(w);
    put(w, "null", 4);
}

void pc_jw_raw(pc_jw *w, const char *json)
{
    value_prefix(w);
    put(w, json, strlen(json));
}

void pc_jw_kstr(pc_jw *w, const char *k, const char *v)
{
    pc_jw_key(w, k);
    pc_jw_str(w, v);
}

void pc_jw_kint(pc_jw *w, const char *k, int64_t v)
{
    pc_jw_key(w, k);
    pc_jw_int(w, v);
}

void pc_jw_kuint(pc_jw *w, const char *k, uint64_t v)
{
    pc_jw_key(w, k);
    pc_jw_uint(w, v);
}

void pc_jw_kdbl(pc_jw *w, const char *k, double v)
{
    pc_jw_key(w, k);
    pc_jw_dbl(w, v);
}

void pc_jw_kbool(pc_jw *w, const char *k, bool v)
{
    pc_jw_key(w, k);
    pc_jw_bool(w, v);
}

void pc_jw_knull(pc_jw *w, const char *k)
{
    pc_jw_key(w, k);
    pc_jw_null(w);
}

pc_status pc_jw_end(pc_jw *w)
{
    return w->st;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

pc_status pc_json_escape(pc_buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    pc_status st = pc_buf_append(out, "\"", 1);
    size_t i = 0;
    while (st == PC_OK && i < n) {
        size_t run = i;
        /* copy the longest run of bytes that need no escaping */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            st = pc_buf_append(out, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        char esc[8];
        switch (c) {
        case '"':
            st = pc_buf_append(out, "\\\"", 2);
            i++;
            continue;
        case '\\':
            st = pc_buf_append(out, "\\\\", 2);
            i++;
            continue;
        case '\n':
            st = pc_buf_append(out, "\\n", 2);
            i++;
            continue;
        case '\r':
            st = pc_buf_append(out, "\\r", 2);
            i++;
            continue;
        case '\t':
            st = pc_buf_append(out, "\\t", 2);
            i++;
            continue;
        default:
            break;
        }
        if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            st = pc_buf_append(out, esc, 6);
            i++;
            continue;
        }
        size_t ul = utf8_len(s + i, n - i);
        if (ul == 0) {
            st = pc_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        } else {
            st = pc_buf_append(out, s + i, ul);
            i += ul;
        }
    }
    if (st == PC_OK)
        st = pc_buf_append(out, "\"", 1);
    return st;
}
