/* test_threadpool.c — the pool runs every thread's share exactly once per run, and a thread that finished
 * early waits without burning CPU: the caller, done first while a worker takes 300 ms, must spend almost none
 * of that time on the CPU (bounded spin, a few yields, then a condition variable). On cores shared with other
 * work, or with more threads than cores, a spinning waiter would take the time slice of the thread it waits for. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "threadpool.h"
#include "test_util.h"

typedef struct {
    atomic_uint calls[8];
    uint32_t slow; /* thread index that sleeps */
    unsigned sleep_ms;
} task;

static void run_task(void *arg, uint32_t ith, uint32_t nth)
{
    task *t = arg;
    (void)nth;
    atomic_fetch_add(&t->calls[ith], 1);
    if (ith == t->slow && t->sleep_ms)
        usleep(t->sleep_ms * 1000u);
}

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void)
{
    for (uint32_t n = 1; n <= 4; n++) {
        mst_pool *pool = NULL;
        CHECK(mst_pool_create(n, &pool) == MST_OK && pool, "pool of %u", n);
        if (!pool)
            continue;
        task t = {.slow = n - 1, .sleep_ms = 0};
        for (int run = 0; run < 100; run++)
            mst_pool_run(pool, run_task, &t);
        for (uint32_t i = 0; i < 8; i++)
            CHECK(atomic_load(&t.calls[i]) == (i < n ? 100u : 0u), "n=%u: thread %u ran %u times", n, i,
                  atomic_load(&t.calls[i]));
        if (n > 1) {
            /* the caller (thread 0) finishes at once; the last worker sleeps 300 ms */
            t.sleep_ms = 300;
            const double cpu0 = thread_cpu_ms();
            mst_pool_run(pool, run_task, &t);
            const double spent = thread_cpu_ms() - cpu0;
            CHECK(spent < 60.0, "n=%u: the waiting caller used %.1f ms of CPU during a 300 ms wait", n, spent);
        }
        mst_pool_free(pool);
    }
    if (g_failures)
        return 1;
    printf("ok\n");
    return 0;
}
