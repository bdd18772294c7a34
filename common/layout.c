#include "common/layout.h"

#include <ctype.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"

pc_status pc_layout_check_server(const char *server)
{
    size_t n = server ? strlen(server) : 0;
    bool ok = n > 0 && n <= PC_SERVER_NAME_MAX && server[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)server[i];
        ok = isalnum(c) || c == '.' || c == '_' || c == '-';
    }
    if (ok)
        return PC_OK;
    pc_err(PC_E_USAGE, "invalid server name \"%.*s\"", 64, server ? server : "");
    pc_err_hint("A server name is 1-128 letters, digits, '.', '_' or '-', not starting with '.'.");
    return PC_E_USAGE;
}

char *pc_layout_wals_prefix(const char *server)
{
    return pc_asprintf("%s/wals/", server);
}

char *pc_layout_wal_dir(const char *server, const pc_wal_name *w)
{
    char hd[17];
    pc_wal_hash_dir(w, hd);
    if (!hd[0])
        return pc_asprintf("%s/wals/", server);
    return pc_asprintf("%s/wals/%s/", server, hd);
}

char *pc_layout_wal_key(const char *server, const pc_wal_name *w, const char *ext)
{
    char hd[17];
    pc_wal_hash_dir(w, hd);
    if (!hd[0])
        return pc_asprintf("%s/wals/%s%s", server, w->name, ext ? ext : "");
    return pc_asprintf("%s/wals/%s/%s%s", server, hd, w->name, ext ? ext : "");
}

/* The WAL name is the longest prefix of `base` that parses; the rest is the extension. */
bool pc_layout_parse_wal_key(const char *server, const char *key, pc_wal_name *w, char *ext,
                             size_t extlen)
{
    size_t sl = strlen(server);
    if (strncmp(key, server, sl) != 0 || strncmp(key + sl, "/wals/", 6) != 0)
        return false;
    const char *rest = key + sl + 6;
    const char *base = strrchr(rest, '/');
    base = base ? base + 1 : rest;
    size_t blen = strlen(base);
    /* candidate name lengths: history 16, segment 24, partial 32, backup 40 */
    static const size_t lens[] = {40, 32, 24, 16};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t nl = lens[i];
        if (blen < nl)
            continue;
        char name[PC_WAL_NAME_MAX];
        memcpy(name, base, nl);
        name[nl] = '\0';
        const char *suffix = base + nl;
        if (*suffix && *suffix != '.')
            continue;
        if (strlen(suffix) >= extlen || strlen(suffix) > 15)
            continue;
        pc_wal_name parsed;
        pc_error saved;
        pc_err_save(&saved);
        pc_status st = pc_wal_parse(name, &parsed);
        pc_err_restore(&saved);
        if (st != PC_OK)
            continue;
        /* the key's directory must be the one the layout gives this name */
        char hd[17];
        pc_wal_hash_dir(&parsed, hd);
        size_t dirlen = (size_t)(base - rest);
        if (hd[0]) {
            if (dirlen != 17 || strncmp(rest, hd, 16) != 0 || rest[16] != '/')
                continue;
        } else if (dirlen != 0) {
            continue;
        }
        /* the hash dir check is case-sensitive: names are stored upper-case */
        if (strncmp(base, parsed.name, nl) != 0)
            continue;
        *w = parsed;
        strcpy(ext, suffix);
        return true;
    }
    return false;
}

char *pc_layout_base_prefix(const char *server)
{
    return pc_asprintf("%s/base/", server);
}

char *pc_layout_backup_prefix(const char *server, const char *backup_id)
{
    return pc_asprintf("%s/base/%s/", server, backup_id);
}

char *pc_layout_backup_key(const char *server, const char *backup_id, const char *file)
{
    return pc_asprintf("%s/base/%s/%s", server, backup_id, file);
}

bool pc_layout_is_backup_id(const char *s)
{
    if (!s || strlen(s) != 15 || s[8] != 'T')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return false;
    return true;
}
