#ifndef PGCASK_COMMON_PATHS_H
#define PGCASK_COMMON_PATHS_H

/*
 * Where pgcask keeps local state. The catalog and the WAL spool are caches
 * (the repository is the source of truth), so a lost state directory costs
 * only a `catalog sync` and some re-downloads.
 */

#include "common/config.h"
#include "common/status.h"

/*
 * The state directory: the state-dir setting; else /var/lib/pgcask when it
 * exists and is writable; else $HOME/.local/state/pgcask; else
 * /tmp/pgcask-<uid>. Created (mode 0700) when missing. *out is malloc'd.
 */
pc_status pc_state_dir(const pc_cfg *cfg, char **out);

/*
 * The WAL spool directory of one repository + server: the spool-dir setting
 * (used as is), else <state>/spool/<pc_repo_server_tag>,
 * so two repositories with the same server name never share prefetched files.
 * Created (mode 0700) when missing. *out is malloc'd.
 */
pc_status pc_spool_dir(const pc_cfg *cfg, const char *repo_url, const char *server, char **out);

/*
 * "<server>-<16 hex>" naming the local files of one repository + server:
 * the hex is FNV-1a 64 of "url\n server" (not a cryptographic hash: it only
 * keeps two repositories apart, and it spares the archive_command fast path
 * OpenSSL's start-up); the server keeps only [A-Za-z0-9._-], others become
 * '_'. out holds PC_REPO_TAG_MAX bytes.
 */
#define PC_REPO_TAG_MAX 160
void pc_repo_server_tag(const char *repo_url, const char *server, char *out, size_t outlen);

#endif
