#include "common/paths.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/layout.h"

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
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    const char *parts[3] = {repo_url, "\n", server};
    for (int i = 0; i < 3; i++)
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * UINT64_C(0x100000001b3);
    char clean[PC_SERVER_NAME_MAX + 1];
    size_t n = 0;
    for (const char *p = server; *p && n + 1 < sizeof clean; p++)
        clean[n++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_') ? *p : '_';
    clean[n] = '\0';
    snprintf(out, outlen, "%s-%016" PRIx64, clean, h);
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
        char tag[PC_REPO_TAG_MAX];
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
