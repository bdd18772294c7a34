#include "common/pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

typedef struct task {
    pc_task_fn fn;
    void *arg;
} task;

struct pc_pool {
    pthread_mutex_t mu;
    pthread_cond_t has_task; /* a task was queued, or the pool is stopping */
    pthread_cond_t has_room; /* a task left the queue */
    pthread_cond_t idle;     /* nothing queued and nothing running */
    task *queue;             /* ring of queue_max slots */
    size_t queue_max, head, count;
    size_t running;
    bool stopping;
    int failed;
    pc_status first;
    pc_error first_err;
    pthread_t *threads;
    size_t nthreads;
};

static void *worker(void *arg)
{
    pc_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->has_task, &p->mu);
        /* a stopping pool still drains its queue: a task may own its argument */
        if (p->count == 0)
            break;
        task t = p->queue[p->head];
        p->head = (p->head + 1) % p->queue_max;
        p->count--;
        p->running++;
        pthread_cond_signal(&p->has_room);
        pthread_mutex_unlock(&p->mu);

        pc_err_clear();
        pc_status st = t.fn(t.arg);

        pthread_mutex_lock(&p->mu);
        if (st != PC_OK && !p->failed) {
            p->failed = 1;
            p->first = st;
            pc_err_save(&p->first_err);
            /* a task that forgot pc_err() still reports the status it returned */
            p->first_err.status = st;
        }
        p->running--;
        if (p->count == 0 && p->running == 0)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop_and_join(pc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->has_task);
    pthread_cond_broadcast(&p->has_room);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

static void destroy(pc_pool *p)
{
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->has_room);
    pthread_cond_destroy(&p->has_task);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->queue);
    free(p);
}

pc_status pc_pool_new(size_t threads, size_t queue_max, pc_pool **out)
{
    if (threads < 1 || queue_max < 1)
        return pc_err(PC_E_INTERNAL, "thread pool needs at least one thread and one queue slot");
    pc_pool *p = pc_calloc(1, sizeof *p);
    if (!p)
        return PC_E_INTERNAL;
    p->queue = pc_calloc(queue_max, sizeof *p->queue);
    p->threads = pc_calloc(threads, sizeof *p->threads);
    if (!p->queue || !p->threads) {
        free(p->queue);
        free(p->threads);
        free(p);
        return PC_E_INTERNAL;
    }
    p->queue_max = queue_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->has_task, NULL);
    pthread_cond_init(&p->has_room, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (size_t i = 0; i < threads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc != 0) {
            stop_and_join(p);
            destroy(p);
            return pc_err(PC_E_INTERNAL, "could not start worker thread %zu of %zu: %s", i + 1,
                          threads, strerror(rc));
        }
        p->nthreads++;
    }
    *out = p;
    return PC_OK;
}

pc_status pc_pool_submit(pc_pool *p, pc_task_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == p->queue_max)
        pthread_cond_wait(&p->has_room, &p->mu);
    p->queue[(p->head + p->count) % p->queue_max] = (task){fn, arg};
    p->count++;
    pthread_cond_signal(&p->has_task);
    pthread_mutex_unlock(&p->mu);
    return PC_OK;
}

pc_status pc_pool_wait(pc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->count > 0 || p->running > 0)
        pthread_cond_wait(&p->idle, &p->mu);
    pc_status st = p->first;
    if (st != PC_OK)
        pc_err_restore(&p->first_err);
    pthread_mutex_unlock(&p->mu);
    return st;
}

int pc_pool_failed(pc_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int f = p->failed;
    pthread_mutex_unlock(&p->mu);
    return f;
}

void pc_pool_free(pc_pool *p)
{
    if (!p)
        return;
    stop_and_join(p);
    destroy(p);
}

size_t pc_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (size_t)n;
}
