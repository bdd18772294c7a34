#ifndef PGCASK_COMMON_POOL_H
#define PGCASK_COMMON_POOL_H

/*
 * A fixed-size thread pool with a bounded queue. Used for parallel WAL
 * uploads, prefetch downloads, multipart parts and tar members.
 *
 * A task returns a pc_status; the first failure (with its error record) is
 * kept and returned by pc_pool_wait, which waits for every submitted task.
 * pc_pool_submit blocks while the queue is full (back-pressure keeps memory
 * bounded). Tasks must not call pc_pool_wait on their own pool.
 *
 * Every submitted task runs, even after another one failed, because a task
 * may own its argument; a producer that wants to stop early checks
 * pc_pool_failed before submitting more. The first failure stays recorded:
 * later calls of pc_pool_wait return it again.
 */

#include <stddef.h>
#include "common/status.h"
#include "common/error.h"

typedef struct pc_pool pc_pool;
typedef pc_status (*pc_task_fn)(void *arg);

/* threads >= 1; queue_max >= 1 (tasks waiting, not counting running ones). */
pc_status pc_pool_new(size_t threads, size_t queue_max, pc_pool **out);
pc_status pc_pool_submit(pc_pool *p, pc_task_fn fn, void *arg);
/* Wait for all tasks; returns PC_OK or the first failure and restores its error record on this thread. */
pc_status pc_pool_wait(pc_pool *p);
/* True once a task failed (lets producers stop early). */
int pc_pool_failed(pc_pool *p);
void pc_pool_free(pc_pool *p); /* waits for running tasks; NULL is a no-op */

/* Number of online CPUs (at least 1). */
size_t pc_ncpu(void);

#endif
