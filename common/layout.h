#ifndef PGCASK_COMMON_LAYOUT_H
#define PGCASK_COMMON_LAYOUT_H

/*
 * The repository layout, barman-cloud's (keys are relative to the
 * repository URL's prefix):
 *
 *   <server>/wals/<TTTTTTTTLLLLLLLL>/<segment>[.ext]
 *   <server>/wals/<TTTTTTTTLLLLLLLL>/<segment>.<offset>.backup[.ext]
 *   <server>/wals/<TTTTTTTTLLLLLLLL>/<segment>.partial[.ext]
 *   <server>/wals/<TTTTTTTT>.history[.ext]
 *   <server>/base/<backup_id>/backup.info
 *   <server>/base/<backup_id>/data.tar[.ext]          data_0001.tar[.ext] ... when split
 *   <server>/base/<backup_id>/<tablespace oid>.tar[.ext]
 *   <server>/base/<backup_id>/annotations/keep
 *   <server>/base/<backup_id>/pgcask.manifest         pgcask's own (barman ignores it)
 *
 * Pure string functions; compression extensions are passed as text (".zst")
 * because common/ does not know the codecs.
 */

#include <stdbool.h>
#include <stddef.h>
#include "common/status.h"
#include "common/wal.h"

#define PC_SERVER_NAME_MAX 128

/*
 * A server name is one path component: 1-128 characters from
 * [A-Za-z0-9._-], not starting with '.'. PC_E_USAGE naming it otherwise.
 */
pc_status pc_layout_check_server(const char *server);

/* "<server>/wals/" (malloc'd). */
char *pc_layout_wals_prefix(const char *server);
/* "<server>/wals/<hashdir>/" for segment-like names, "<server>/wals/" for history files. */
char *pc_layout_wal_dir(const char *server, const pc_wal_name *w);
/* The object key of a WAL file stored with extension ext ("" for none). */
char *pc_layout_wal_key(const char *server, const pc_wal_name *w, const char *ext);

/*
 * Split a WAL object key below "<server>/wals/" into the WAL name and its
 * extension. Returns false for keys that are not WAL objects of this layout
 * (wrong directory for the name, unknown suffix, garbage). `ext` receives the
 * suffix after the WAL name ("" or ".gz" ...; at most 15 chars) and is not
 * interpreted: the caller maps it to a codec.
 */
bool pc_layout_parse_wal_key(const char *server, const char *key, pc_wal_name *w, char *ext,
                             size_t extlen);

/* "<server>/base/" and "<server>/base/<id>/" (malloc'd). */
char *pc_layout_base_prefix(const char *server);
char *pc_layout_backup_prefix(const char *server, const char *backup_id);
/* "<server>/base/<id>/<file>" (malloc'd). */
char *pc_layout_backup_key(const char *server, const char *backup_id, const char *file);

/* True for a barman backup id: exactly YYYYMMDDTHHMMSS. */
bool pc_layout_is_backup_id(const char *s);

#endif
