/*
 * A bandwidth pacer shared by threads: every caller books its bytes on one
 * timeline (GCRA) and sleeps until its slot. A quiet pacer may burst a
 * tenth of a second's worth. Rate 0 means no limit.
 */
#ifndef PGCASK_COMMON_PACER_H
#define PGCASK_COMMON_PACER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pc_pacer {
    pthread_mutex_t mu;
    uint64_t bps;    /* bytes per second, 0 = unlimited */
    int64_t next_us; /* when the next byte may go (monotonic) */
} pc_pacer;

void pc_pacer_init(pc_pacer *p, uint64_t bps);
void pc_pacer_destroy(pc_pacer *p);
/* Book n bytes and sleep until they may go; returns at once when unlimited. */
void pc_pacer_wait(pc_pacer *p, size_t n);
/* The largest write worth booking at once: a tenth of a second, 512 B to 64 KiB. */
size_t pc_pacer_chunk(const pc_pacer *p);

#endif
