/* Streaming XML reading on expat for S3 and STS replies. */
#include "s3/s3_xml.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "common/error.h"

#define XML_TEXT_MAX  (64 * 1024)
#define XML_DEPTH_MAX 32
#define XML_PATH_MAX  4096

struct s3_xml {
    XML_Parser p;
    char *what;
    s3_xml_cb cb;
    void *ud;
    pc_buf path;
    size_t path_at[XML_DEPTH_MAX + 1]; /* path length before each open element */
    int depth;
    pc_buf text;
    pc_status st;  /* first failure: callback, limit, or DOCTYPE */
    bool recorded; /* the failure's error record is already set */
};

static void fail(s3_xml *x, pc_status st)
{
    if (x->st == PC_OK) {
        x->st = st;
        x->recorded = true;
    }
    XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    s3_xml *x = ud;
    if (x->st)
        return;
    if (x->depth >= XML_DEPTH_MAX) {
        fail(x, pc_err(PC_E_REMOTE, "malformed XML in %s: nested deeper than %d elements", x->what,
                       XML_DEPTH_MAX));
        return;
    }
    const char *colon = strchr(name, ':');
    const char *local = colon ? colon + 1 : name;
    x->path_at[x->depth++] = x->path.len;
    pc_status st = PC_OK;
    if (x->path.len)
        st = pc_buf_append(&x->path, "/", 1);
    if (st == PC_OK)
        st = pc_buf_append_str(&x->path, local);
    if (st) {
        fail(x, pc_err(PC_E_REMOTE, "malformed XML in %s: element path too long", x->what));
        return;
    }
    pc_buf_reset(&x->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    s3_xml *x = ud;
    if (x->st || x->depth == 0)
        return;
    pc_status st = x->cb(x->ud, pc_buf_cstr(&x->path), pc_buf_cstr(&x->text), x->text.len);
    if (st) {
        fail(x, st);
        return;
    }
    x->path.len = x->path_at[--x->depth];
    if (x->path.data)
        x->path.data[x->path.len] = '\0';
    pc_buf_reset(&x->text);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    s3_xml *x = ud;
    if (x->st)
        return;
    if (pc_buf_append(&x->text, s, (size_t)len))
        fail(x, pc_err(PC_E_REMOTE, "malformed XML in %s: element text longer than %d bytes",
                       x->what, XML_TEXT_MAX));
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    s3_xml *x = ud;
    fail(x, pc_err(PC_E_REMOTE, "malformed XML in %s: unexpected DOCTYPE", x->what));
}

pc_status s3_xml_new(const char *what, s3_xml_cb cb, void *ud, s3_xml **out)
{
    s3_xml *x = pc_calloc(1, sizeof *x);
    if (!x)
        return PC_E_INTERNAL;
    x->what = pc_strdup(what);
    x->p = XML_ParserCreate("UTF-8");
    if (!x->what || !x->p) {
        s3_xml_free(x);
        return pc_err(PC_E_INTERNAL, "out of memory creating an XML parser");
    }
    x->cb = cb;
    x->ud = ud;
    pc_buf_init(&x->path, XML_PATH_MAX);
    pc_buf_init(&x->text, XML_TEXT_MAX);
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    *out = x;
    return PC_OK;
}

static pc_status parse(s3_xml *x, const char *data, size_t len, bool final)
{
    if (x->st)
        return x->st;
    do {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        bool last = final && (size_t)n == len;
        if (XML_Parse(x->p, data, n, last) != XML_STATUS_OK) {
            if (x->st)
                return x->st;
            x->st = pc_err(PC_E_REMOTE, "malformed XML in %s: %s at line %lu", x->what,
                           XML_ErrorString(XML_GetErrorCode(x->p)),
                           (unsigned long)XML_GetCurrentLineNumber(x->p));
            return x->st;
        }
        data += n;
        len -= (size_t)n;
    } while (len > 0);
    return PC_OK;
}

pc_status s3_xml_feed(s3_xml *x, const void *data, size_t len)
{
    return parse(x, data, len, false);
}

pc_status s3_xml_finish(s3_xml *x)
{
    return parse(x, "", 0, true);
}

void s3_xml_free(s3_xml *x)
{
    if (!x)
        return;
    if (x->p)
        XML_ParserFree(x->p);
    pc_buf_free(&x->path);
    pc_buf_free(&x->text);
    free(x->what);
    free(x);
}

pc_status s3_xml_parse(const void *data, size_t len, const char *what, s3_xml_cb cb, void *ud)
{
    s3_xml *x;
    pc_status st = s3_xml_new(what, cb, ud, &x);
    if (st)
        return st;
    st = parse(x, data, len, true);
    s3_xml_free(x);
    return st;
}

typedef struct err_doc {
    char *code, *msg;
    size_t codelen, msglen;
    bool is_error;
} err_doc;

static void copy_text(char *dst, size_t cap, const char *text)
{
    snprintf(dst, cap, "%s", text);
    /* one line: a server message never breaks our log format */
    for (char *c = dst; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
}

static pc_status err_cb(void *ud, const char *path, const char *text, size_t len)
{
    err_doc *e = ud;
    if (strcmp(path, "Error/Code") == 0 || strcmp(path, "ErrorResponse/Error/Code") == 0) {
        copy_text(e->code, e->codelen, text);
        e->is_error = true;
    } else if (strcmp(path, "Error/Message") == 0 ||
               strcmp(path, "ErrorResponse/Error/Message") == 0) {
        copy_text(e->msg, e->msglen, text);
    }
    return PC_OK;
}

bool s3_xml_error(const void *body, size_t len, char *code, size_t codelen, char *msg,
                  size_t msglen)
{
    err_doc e = {code, msg, codelen, msglen, false};
    code[0] = '\0';
    msg[0] = '\0';
    if (len == 0)
        return false;
    pc_error saved;
    pc_err_save(&saved);
    /* a truncated body still counts when its Code was read */
    (void)s3_xml_parse(body, len, "error reply", err_cb, &e);
    pc_err_restore(&saved);
    return e.is_error && code[0];
}

pc_status s3_xml_escape(pc_buf *b, const char *s)
{
    pc_status st = PC_OK;
    for (; *s && st == PC_OK; s++) {
        switch (*s) {
        case '&':
            st = pc_buf_append_str(b, "&amp;");
            break;
        case '<':
            st = pc_buf_append_str(b, "&lt;");
            break;
        case '>':
            st = pc_buf_append_str(b, "&gt;");
            break;
        case '"':
            st = pc_buf_append_str(b, "&quot;");
            break;
        case '\'':
            st = pc_buf_append_str(b, "&apos;");
            break;
        default:
            st = pc_buf_append(b, s, 1);
        }
    }
    return st;
}
