/*
 * Tar members come from the repository: anyone able to write there could
 * craft them. This file decides, from the member's header alone, whether it
 * may be extracted; rst_unpack.c then creates it without following any link
 * (members are created with O_NOFOLLOW/O_EXCL, symbolic links only after
 * every file exists, their parents opened component by component).
 *
 * A symbolic link target is accepted when it cannot leave the area whatever
 * the directories it names turn out to be: an absolute target inside the
 * area without any "..", or a relative target whose ".." components all come
 * first and do not climb above the area. "a/../b" is refused even though it
 * looks harmless: if "a" were itself a link, ".." would leave from wherever
 * it points.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "restore/rst_int.h"

/* A member name as it can be printed: control characters escaped, long names cut. */
static void quote(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < len; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    if (o + 6 >= len && o >= 3)
        memcpy(out + o - 3, "...", 3);
    out[o] = '\0';
}

static pc_status refuse(const char *archive, const char *name, const char *why)
{
    char q[240];
    quote(name, q, sizeof q);
    return pc_err(PC_E_CORRUPT, "archive \"%s\": refusing tar member \"%s\": %s", archive, q, why);
}

/* Next component of *p that is not empty nor "."; false at the end. */
static bool component(const char **p, const char **c, size_t *len)
{
    for (;;) {
        while (**p == '/')
            (*p)++;
        if (!**p)
            return false;
        *c = *p;
        while (**p && **p != '/')
            (*p)++;
        *len = (size_t)(*p - *c);
        if (!(*len == 1 && (*c)[0] == '.'))
            return true;
    }
}

static bool is_dotdot(const char *c, size_t len)
{
    return len == 2 && c[0] == '.' && c[1] == '.';
}

static const char *link_target_problem(const rst_area *a, const char *norm, const char *target)
{
    const char *c;
    size_t len;
    if (!*target)
        return "symbolic link with an empty target";
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "control character in the symbolic link's target";
    if (target[0] == '/') {
        const char *r = a->root, *t = target, *rc;
        size_t rl;
        while (component(&r, &rc, &rl)) {
            if (!component(&t, &c, &len) || len != rl || memcmp(c, rc, rl) != 0)
                return "symbolic link pointing outside the restore directory";
        }
        while (component(&t, &c, &len))
            if (is_dotdot(c, len))
                return "symbolic link target with a \"..\" component";
        return NULL;
    }
    size_t depth = 0; /* directories between the area and the link */
    const char *n = norm;
    while (component(&n, &c, &len))
        depth++;
    depth = depth > 0 ? depth - 1 : 0;
    const char *t = target;
    bool down = false;
    while (component(&t, &c, &len)) {
        if (!is_dotdot(c, len)) {
            down = true;
            continue;
        }
        if (down)
            return "symbolic link target with \"..\" after a directory name";
        if (depth == 0)
            return "symbolic link pointing outside the restore directory";
        depth--;
    }
    return NULL;
}

/* "pg_tblspc/<oid>[/...]" of a tablespace the backup lists: its oid and whether more follows. */
static bool under_ts_link(const rst_area *a, const char *norm, bool *deeper)
{
    static const char pfx[] = "pg_tblspc/";
    if (!a->pgdata || strncmp(norm, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *p = norm + sizeof pfx - 1;
    uint64_t oid = 0;
    const char *d = p;
    while (*d >= '0' && *d <= '9' && oid <= UINT32_MAX)
        oid = oid * 10 + (uint64_t)(*d++ - '0');
    if (d == p || (*d && *d != '/') || oid > UINT32_MAX)
        return false;
    for (size_t i = 0; i < a->n_ts; i++) {
        if (a->ts_oids[i] == (uint32_t)oid) {
            *deeper = *d == '/';
            return true;
        }
    }
    return false;
}

pc_status rst_entry_check(const rst_area *a, const pc_tar_entry *e, const char *archive, char *norm,
                          size_t normlen, rst_action *act)
{
    pc_status st = pc_tar_path_check(e->name, norm, normlen);
    if (st) {
        pc_err_context("archive \"%s\"", archive);
        return st;
    }
    switch (e->type) {
    case PC_TAR_HARDLINK:
        return refuse(archive, e->name, "hard links are not restored");
    case PC_TAR_OTHER: {
        char why[80];
        snprintf(why, sizeof why, "member type '%c' (device, fifo, sparse or unknown)",
                 e->typeflag >= 0x20 && e->typeflag < 0x7f ? e->typeflag : '?');
        return refuse(archive, e->name, why);
    }
    case PC_TAR_FILE:
    case PC_TAR_DIR:
    case PC_TAR_SYMLINK:
        break;
    }
    if (strcmp(norm, ".") == 0) {
        if (e->type != PC_TAR_DIR)
            return refuse(archive, e->name, "the archive's root is not a directory");
        *act = RST_ACT_ROOT;
        return PC_OK;
    }
    bool deeper = false;
    if (under_ts_link(a, norm, &deeper)) {
        if (deeper)
            return refuse(archive, e->name, "member below the link of a tablespace");
        if (e->type != PC_TAR_SYMLINK)
            return refuse(archive, e->name,
                          "a tablespace of the backup must be a symbolic link in pg_tblspc");
        *act = RST_ACT_TS_LINK;
        return PC_OK;
    }
    if (e->type == PC_TAR_SYMLINK) {
        const char *why = link_target_problem(a, norm, e->linkname);
        if (why)
            return refuse(archive, e->name, why);
        *act = RST_ACT_SYMLINK;
        return PC_OK;
    }
    if (e->type == PC_TAR_DIR) {
        *act = RST_ACT_DIR;
        return PC_OK;
    }
    *act = a->pgdata && strcmp(norm, "tablespace_map") == 0 ? RST_ACT_TS_MAP : RST_ACT_FILE;
    return PC_OK;
}
