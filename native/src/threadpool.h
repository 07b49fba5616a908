/* threadpool.h — a persistent pool: the caller plus n-1 workers run one task at a time. */
#ifndef MST_THREADPOOL_H
#define MST_THREADPOOL_H

#include <stdint.h>

#include "mistral.h"

typedef struct mst_pool mst_pool;

/* Called once on every thread of the pool with its index ith in [0, nth); the task splits its
 * work by ith itself, so a run costs no allocation and no queue. */
typedef void (*mst_task_fn)(void *arg, uint32_t ith, uint32_t nth);

mst_status mst_pool_create(uint32_t n_threads, mst_pool **out_pool);
void mst_pool_free(mst_pool *pool);
uint32_t mst_pool_size(const mst_pool *pool);
/* Runs fn on all threads and returns when every one has finished. Not reentrant. */
void mst_pool_run(mst_pool *pool, mst_task_fn fn, void *arg);

#endif
