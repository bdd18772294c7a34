#include "common/pacer.h"

#include <time.h>

#include "common/timeutil.h"

#define WINDOW_US 100000 /* a quiet pacer may burst this much time's worth */

void pc_pacer_init(pc_pacer *p, uint64_t bps)
{
    pthread_mutex_init(&p->mu, NULL);
    p->bps = bps;
    p->next_us = 0;
}

void pc_pacer_destroy(pc_pacer *p)
{
    pthread_mutex_destroy(&p->mu);
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

void pc_pacer_wait(pc_pacer *p, size_t n)
{
    if (!p->bps || !n)
        return;
    int64_t now = pc_now_mono_us();
    pthread_mutex_lock(&p->mu);
    if (p->next_us < now - WINDOW_US)
        p->next_us = now - WINDOW_US;
    int64_t start = p->next_us;
    p->next_us += (int64_t)((double)n * 1e6 / (double)p->bps);
    pthread_mutex_unlock(&p->mu);
    if (start > now)
        sleep_us(start - now);
}

size_t pc_pacer_chunk(const pc_pacer *p)
{
    uint64_t ch = p->bps / 10;
    return ch < 512 ? 512 : ch > 65536 ? 65536 : (size_t)ch;
}
