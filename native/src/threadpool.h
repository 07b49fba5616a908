/* threadpool.h — a persistent pool: the caller plus n-1 workers run one task at a time.
 *
 * Cancellation. A pool may watch an abort flag (mst_context.abort). A run that starts while it is set runs
 * nothing; a task that splits its share into work items asks mst_pool_stopping() between them and returns
 * once it answers 1, so even one long run (a prefill matmul) ends within a work item of the flag. Either way
 * mst_pool_run reports the run as cut short, and its outputs are not to be used. */
#ifndef MST_THREADPOOL_H
#define MST_THREADPOOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "mistral.h"

typedef struct mst_pool mst_pool;

/* Called once on every thread of the pool with its index ith in [0, nth); the task splits its
 * work by ith itself, so a run costs no allocation and no queue. */
typedef void (*mst_task_fn)(void *arg, uint32_t ith, uint32_t nth);

mst_status mst_pool_create(uint32_t n_threads, mst_pool **out_pool);
void mst_pool_free(mst_pool *pool);
uint32_t mst_pool_size(const mst_pool *pool);
/* Runs fn on all threads and returns when every one has finished: 0, or 1 when the run was cut short by the
 * abort flag (nothing ran, or some task saw mst_pool_stopping() answer 1). Not reentrant. */
int mst_pool_run(mst_pool *pool, mst_task_fn fn, void *arg);
/* The flag later runs watch (NULL: none); set before the pool's first run, read without a lock. */
void mst_pool_set_abort(mst_pool *pool, const atomic_int *abort);
/* For a task, between its work items: 1 when the abort flag is set (the task then returns, leaving the rest
 * of its share undone, and the run reports itself cut short), else 0. A relaxed load: cheap enough per item. */
int mst_pool_stopping(mst_pool *pool);

#endif
