/* threadpool.c — persistent workers for the forward pass.
 *
 * A decode runs a few hundred short parallel steps per token, so workers are started once per
 * context, spin briefly between steps (a wake-up through the kernel costs more than most steps)
 * and only then sleep on a condition variable. The caller is thread 0 and does its share, then
 * waits for the others the same way: a bounded spin, a few yields, then a condition variable, so
 * that on cores shared with other work (or with more threads than cores) no thread burns the time
 * slice of a thread that still has work to do. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "internal.h"
#include "threadpool.h"

/* A worker spins through the short gaps between a pass's steps (and between tokens of a small model); the caller's
 * waits inside a step are shorter still. Past the spin, both yield a few times, then sleep. */
enum { WORKER_SPIN = 20000, CALLER_SPIN = 2000, YIELDS_BEFORE_SLEEP = 50 };

typedef struct mst_worker {
    mst_pool *pool;
    uint32_t ith;
    pthread_t thread;
} mst_worker;

struct mst_pool {
    uint32_t n_threads;
    mst_worker *workers; /* n_threads - 1 of them */
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_cond_t done;     /* the caller sleeps on it once it has spun and yielded long enough */
    atomic_uint generation; /* bumped once per run; workers run when it moves */
    atomic_uint n_done;     /* workers finished with the current run */
    atomic_int caller_sleeping; /* set (under mutex) before the caller waits on done */
    atomic_int stop;
    mst_task_fn fn; /* published before generation is bumped */
    void *arg;
    const atomic_int *abort; /* the flag runs watch, or NULL */
    atomic_int cut;          /* the current run skipped work because of it (mst_pool_stopping) */
};

static void *worker_main(void *p)
{
    mst_worker *w = p;
    mst_pool *pool = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&pool->stop, memory_order_acquire)) {
            if (++spins < WORKER_SPIN) {
                cpu_relax();
                continue;
            }
            if (spins < WORKER_SPIN + YIELDS_BEFORE_SLEEP) {
                sched_yield(); /* a thread with work may be waiting for this core */
                continue;
            }
            /* Checked again under the mutex the producer bumps it under: no lost wake-up. */
            pthread_mutex_lock(&pool->mutex);
            while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&pool->stop, memory_order_acquire))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
            spins = 0;
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire))
            break;
        seen = gen;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        /* seq_cst on both sides (here and in mst_pool_run): either the caller sees the count, or this worker
         * sees that the caller sleeps and wakes it. */
        if (atomic_fetch_add(&pool->n_done, 1) + 1 == pool->n_threads - 1 && atomic_load(&pool->caller_sleeping)) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_broadcast(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

static void stop_workers(mst_pool *pool, uint32_t n_started)
{
    pthread_mutex_lock(&pool->mutex);
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (uint32_t i = 0; i < n_started; i++)
        pthread_join(pool->workers[i].thread, NULL);
}

mst_status mst_pool_create(uint32_t n_threads, mst_pool **out_pool)
{
    *out_pool = NULL;
    if (n_threads == 0)
        n_threads = 1;
    mst_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: out of memory");
    pool->n_threads = n_threads;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->caller_sleeping, 0);
    atomic_init(&pool->cut, 0);
    if (n_threads > 1) {
        pool->workers = calloc(n_threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            free(pool);
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: out of memory for %u workers", n_threads);
        }
    }
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool->workers);
        free(pool);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: cannot create a mutex");
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        free(pool->workers);
        free(pool);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: cannot create a condition variable");
    }
    if (pthread_cond_init(&pool->done, NULL) != 0) {
        pthread_cond_destroy(&pool->wake);
        pthread_mutex_destroy(&pool->mutex);
        free(pool->workers);
        free(pool);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: cannot create a condition variable");
    }
    for (uint32_t i = 0; i + 1 < n_threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i + 1;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) != 0) {
            stop_workers(pool, i);
            pthread_cond_destroy(&pool->done);
            pthread_cond_destroy(&pool->wake);
            pthread_mutex_destroy(&pool->mutex);
            free(pool->workers);
            free(pool);
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "thread pool: could start only %u of %u threads", i + 1,
                            n_threads);
        }
    }
    *out_pool = pool;
    return MST_OK;
}

void mst_pool_free(mst_pool *pool)
{
    if (!pool)
        return;
    stop_workers(pool, pool->n_threads - 1);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

uint32_t mst_pool_size(const mst_pool *pool)
{
    return pool->n_threads;
}

void mst_pool_set_abort(mst_pool *pool, const atomic_int *abort)
{
    pool->abort = abort;
}

int mst_pool_stopping(mst_pool *pool)
{
    if (!pool->abort || !atomic_load_explicit(pool->abort, memory_order_relaxed))
        return 0;
    /* Sticky for the run: once any work was skipped, the run's outputs are incomplete even if the flag is
     * cleared before it ends. Workers publish it with their n_done increment, which the caller acquires. */
    atomic_store_explicit(&pool->cut, 1, memory_order_relaxed);
    return 1;
}

int mst_pool_run(mst_pool *pool, mst_task_fn fn, void *arg)
{
    atomic_store_explicit(&pool->cut, 0, memory_order_relaxed);
    if (mst_pool_stopping(pool))
        return 1; /* an aborted pass skips its remaining runs without waking a worker */
    if (pool->n_threads == 1) {
        fn(arg, 0, 1);
        return atomic_load_explicit(&pool->cut, memory_order_relaxed);
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);

    fn(arg, 0, pool->n_threads);

    const unsigned others = pool->n_threads - 1;
    for (unsigned spins = 0; atomic_load_explicit(&pool->n_done, memory_order_acquire) != others; spins++) {
        if (spins < CALLER_SPIN) {
            cpu_relax();
        } else if (spins < CALLER_SPIN + YIELDS_BEFORE_SLEEP) {
            sched_yield();
        } else {
            pthread_mutex_lock(&pool->mutex);
            atomic_store(&pool->caller_sleeping, 1);
            while (atomic_load(&pool->n_done) != others)
                pthread_cond_wait(&pool->done, &pool->mutex);
            atomic_store(&pool->caller_sleeping, 0);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return atomic_load_explicit(&pool->cut, memory_order_relaxed);
}
