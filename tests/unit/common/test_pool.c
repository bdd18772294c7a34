#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/pool.h"
#include "common/timeutil.h"

typedef struct job {
    int index;
    int fail;    /* status to return with a message, 0 for success */
    bool silent; /* fail without recording an error */
    int result;
    atomic_int *ran;
} job;

static pc_status run_job(void *arg)
{
    job *j = arg;
    j->result = j->index * j->index;
    atomic_fetch_add(j->ran, 1);
    if (j->fail && j->silent)
        return (pc_status)j->fail;
    if (j->fail)
        return pc_err((pc_status)j->fail, "task %d failed", j->index);
    return PC_OK;
}

static void test_results(void **state)
{
    enum { N = 200 };
    job jobs[N];
    atomic_int ran = 0;
    pc_pool *p;
    assert_int_equal(pc_pool_new(4, 8, &p), PC_OK);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.index = i, .ran = &ran};
        assert_int_equal(pc_pool_submit(p, run_job, &jobs[i]), PC_OK);
    }
    pc_err(PC_E_IO, "stale error on the waiting thread");
    assert_int_equal(pc_pool_wait(p), PC_OK);
    assert_int_equal(atomic_load(&ran), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(jobs[i].result, i * i);
    assert_false(pc_pool_failed(p));

    /* the pool takes a second batch */
    for (int i = 0; i < 10; i++)
        assert_int_equal(pc_pool_submit(p, run_job, &jobs[i]), PC_OK);
    assert_int_equal(pc_pool_wait(p), PC_OK);
    assert_int_equal(atomic_load(&ran), N + 10);
    pc_pool_free(p);
    pc_pool_free(NULL);
}

static void test_first_failure(void **state)
{
    enum { N = 50 };
    job jobs[N];
    atomic_int ran = 0;
    pc_pool *p;
    /* one thread: tasks run in submission order, so "first" is well defined */
    assert_int_equal(pc_pool_new(1, 4, &p), PC_OK);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.index = i, .ran = &ran};
        if (i == 7)
            jobs[i].fail = PC_E_REMOTE;
        if (i == 20)
            jobs[i].fail = PC_E_IO;
        assert_int_equal(pc_pool_submit(p, run_job, &jobs[i]), PC_OK);
    }
    pc_err_clear();
    assert_int_equal(pc_pool_wait(p), PC_E_REMOTE);
    tu_assert_err(PC_E_REMOTE, "task 7 failed");
    assert_true(pc_pool_failed(p));
    /* every submitted task ran anyway */
    assert_int_equal(atomic_load(&ran), N);
    /* and the failure stays */
    pc_err_clear();
    assert_int_equal(pc_pool_wait(p), PC_E_REMOTE);
    tu_assert_err(PC_E_REMOTE, "task 7 failed");
    pc_pool_free(p);
}

static void test_failure_many_threads(void **state)
{
    enum { N = 100 };
    job jobs[N];
    atomic_int ran = 0;
    pc_pool *p;
    assert_int_equal(pc_pool_new(4, 2, &p), PC_OK);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.index = i, .ran = &ran, .fail = i == 33 ? PC_E_CORRUPT : 0};
        assert_int_equal(pc_pool_submit(p, run_job, &jobs[i]), PC_OK);
    }
    assert_int_equal(pc_pool_wait(p), PC_E_CORRUPT);
    tu_assert_err(PC_E_CORRUPT, "task 33 failed");
    pc_pool_free(p);
}

static void test_failure_without_message(void **state)
{
    atomic_int ran = 0;
    job j = {.index = 1, .fail = PC_E_TIMEOUT, .silent = true, .ran = &ran};
    pc_pool *p;
    assert_int_equal(pc_pool_new(2, 2, &p), PC_OK);
    assert_int_equal(pc_pool_submit(p, run_job, &j), PC_OK);
    assert_int_equal(pc_pool_wait(p), PC_E_TIMEOUT);
    tu_assert_err(PC_E_TIMEOUT, ""); /* the status still reaches the record */
    pc_pool_free(p);
}

/* ---- back-pressure ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int started;

static pc_status gated(void *arg)
{
    atomic_fetch_add(&started, 1);
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return PC_OK;
}

typedef struct {
    pc_pool *p;
    atomic_int submitted;
} submitter;

static void *submit_third(void *arg)
{
    submitter *s = arg;
    pc_pool_submit(s->p, gated, NULL);
    atomic_store(&s->submitted, 1);
    return NULL;
}

static void test_back_pressure(void **state)
{
    pc_pool *p;
    pthread_t t;
    submitter s = {0};
    gate_open = false;
    atomic_store(&started, 0);

    assert_int_equal(pc_pool_new(1, 1, &p), PC_OK);
    s.p = p;
    assert_int_equal(pc_pool_submit(p, gated, NULL), PC_OK); /* runs and blocks */
    while (atomic_load(&started) == 0)
        pc_sleep_ms(1);
    assert_int_equal(pc_pool_submit(p, gated, NULL), PC_OK); /* fills the queue */
    assert_int_equal(pthread_create(&t, NULL, submit_third, &s), 0);
    pc_sleep_ms(100);
    assert_int_equal(atomic_load(&s.submitted), 0); /* blocked: the queue is full */
    assert_int_equal(atomic_load(&started), 1);

    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&s.submitted), 1);
    assert_int_equal(pc_pool_wait(p), PC_OK);
    assert_int_equal(atomic_load(&started), 3);
    pc_pool_free(p);
}

static void test_free_drains_queue(void **state)
{
    enum { N = 20 };
    job jobs[N];
    atomic_int ran = 0;
    pc_pool *p;
    assert_int_equal(pc_pool_new(2, N, &p), PC_OK);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.index = i, .ran = &ran};
        assert_int_equal(pc_pool_submit(p, run_job, &jobs[i]), PC_OK);
    }
    pc_pool_free(p); /* no wait: queued tasks still run, since they may own their argument */
    assert_int_equal(atomic_load(&ran), N);
}

static void test_bad_arguments_and_ncpu(void **state)
{
    pc_pool *p = NULL;
    assert_int_equal(pc_pool_new(0, 1, &p), PC_E_INTERNAL);
    tu_assert_err(PC_E_INTERNAL, "thread pool needs at least one thread and one queue slot");
    assert_int_equal(pc_pool_new(1, 0, &p), PC_E_INTERNAL);
    assert_null(p);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(pc_ncpu(), n < 1 ? 1 : (size_t)n);
    assert_true(pc_ncpu() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_first_failure),
        cmocka_unit_test(test_failure_many_threads),
        cmocka_unit_test(test_failure_without_message),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_free_drains_queue),
        cmocka_unit_test(test_bad_arguments_and_ncpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
