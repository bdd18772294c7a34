#include "common/paths.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/hash.h"

static bool writable_dir(const char *p)
{
    return pc_is_dir(p) && access(p, W_OK | X_OK) == 0;
}

pc_status pc_state_dir(const pc_cfg *cfg, char **out)
{
    const char *set = pc_cfg_str(cfg, "state-dir");
    char *dir;
    if (set) {
        dir = pc_strdup(set);
    } else if (writable_dir("/var/lib/pgcask")) {
        dir = pc_strdup("/var/lib/pgcask");
    } else {
        const char *home = getenv("HOME");
        if (home && *home && writable_dir(home))
            dir = pc_asprintf("%s/.local/state/pgcask", home);
        else
            dir = pc_asprintf("/tmp/pgcask-%d", (int)getuid());
    }
    if (!dir)
        return PC_E_INTERNAL;
    pc_status st = pc_mkdirs(dir, 0700);
    if (st) {
        pc_err_hint("Set state-dir (--state-dir, PGCASK_STATE_DIR) to a directory this user "
                    "can write.");
        free(dir);
        return st;
    }
    *out = dir;
    return PC_OK;
}

void pc_repo_server_tag(const char *repo_url, const char *server, char *out, size_t outlen)
{
    unsigned char d[PC_SHA256_LEN];
    char hex[2 * PC_SHA256_LEN + 1];
    char *in = pc_asprintf("%s\n%s", repo_url, server);
    pc_sha256(in ? in : "", in ? strlen(in) : 0, d);
    free(in);
    pc_hex(d, 8, hex);
    char clean[129];
    size_t n = 0;
    for (const char *p = server; *p && n + 1 < sizeof clean; p++)
        clean[n++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_') ? *p : '_';
    clean[n] = '\0';
    snprintf(out, outlen, "%s-%s", clean, hex);
}

pc_status pc_spool_dir(const pc_cfg *cfg, const char *repo_url, const char *server, char **out)
{
    const char *set = pc_cfg_str(cfg, "spool-dir");
    char *dir;
    if (set) {
        dir = pc_strdup(set);
    } else {
        char *state;
        pc_status st = pc_state_dir(cfg, &state);
        if (st)
            return st;
        char tag[160];
        pc_repo_server_tag(repo_url, server, tag, sizeof tag);
        dir = pc_asprintf("%s/spool/%s", state, tag);
        free(state);
    }
    if (!dir)
        return PC_E_INTERNAL;
    pc_status st = pc_mkdirs(dir, 0700);
    if (st) {
        free(dir);
        return st;
    }
    *out = dir;
    return PC_OK;
}
