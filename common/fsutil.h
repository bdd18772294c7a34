#ifndef PGCASK_COMMON_FSUTIL_H
#define PGCASK_COMMON_FSUTIL_H

/*
 * Local file system helpers. Every failure records an error naming the
 * path, with PC_E_IO (or PC_E_NOT_FOUND for a missing file where stated).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/status.h"
#include "common/buf.h"

/* mkdir -p with mode for the created directories. */
pc_status pc_mkdirs(const char *path, mode_t mode);
/* fsync a directory (after a rename or unlink in it). */
pc_status pc_fsync_dir(const char *dir);
/* fsync the directory containing path. */
pc_status pc_fsync_parent(const char *path);
/* rename + fsync of the parent directory. */
pc_status pc_durable_rename(const char *from, const char *to);
/* Write a whole file atomically (temp + fsync + rename + fsync dir). */
pc_status pc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole file (at most max bytes, else PC_E_CORRUPT). PC_E_NOT_FOUND if missing. */
pc_status pc_read_file(const char *path, size_t max, pc_buf *out);
/* Size of a regular file; PC_E_NOT_FOUND if missing, PC_E_USAGE if not a regular file. */
pc_status pc_file_size(const char *path, uint64_t *size);
bool pc_path_exists(const char *path);
bool pc_is_dir(const char *path);
/* True when the directory is missing or has no entries. */
pc_status pc_dir_is_empty(const char *path, bool *empty);
/* rm -rf (does not follow symlinks). */
pc_status pc_remove_tree(const char *path);
/* Join two path parts with one '/'; malloc'd. */
char *pc_path_join(const char *a, const char *b);
/* Directory part and last component of a path (malloc'd / pointer into path). */
char *pc_dirname(const char *path);
const char *pc_basename(const char *path);

/*
 * An exclusive advisory lock on a file (flock), created if missing.
 * wait_ms < 0 waits forever, 0 tries once. PC_E_BUSY on timeout.
 */
typedef struct pc_flock {
    int fd;
} pc_flock;
pc_status pc_flock_acquire(const char *path, int64_t wait_ms, pc_flock *out);
void pc_flock_release(pc_flock *l);

#endif
