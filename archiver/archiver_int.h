#ifndef PGCASK_ARCHIVER_ARCHIVER_INT_H
#define PGCASK_ARCHIVER_ARCHIVER_INT_H

/* Private to archiver/: the context's lazily opened repository and resolved values. */

#include "archiver/archiver.h"
#include "s3/repo.h"

/* The repository handle, opened on first use (thread-safe; owned by the context). */
pc_status arc_ctx_repo(arc_ctx *a, repo **out);
/* The configured WAL segment size. */
uint64_t arc_ctx_segsize(const arc_ctx *a);

#endif
