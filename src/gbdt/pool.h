/* pool.h - a tiny fork-join thread pool for the GBDT engine: run N independent tasks on the
 * caller plus nthread-1 persistent workers, and wait for all of them. */
#ifndef MC2_GBDT_POOL_H
#define MC2_GBDT_POOL_H

#include <stddef.h>

#include "mc2/err.h"

typedef struct mc2_gbdt_pool mc2_gbdt_pool;

/* A task: ctx is shared, task is 0..ntasks-1, worker is 0..nthread-1 (unique per thread at a
 * time, so it can index per-thread scratch). Tasks must not allocate through mc2_malloc (its
 * fault-injection counter is not thread-safe) and must not fail. */
typedef void (*mc2_gbdt_task_fn)(void *ctx, size_t task, unsigned worker);

/* Starts nthread-1 workers (nthread >= 1). Returns NULL with *err on failure. */
mc2_gbdt_pool *mc2_gbdt_pool_new(unsigned nthread, mc2_err *err);
/* Number of threads (including the caller). */
unsigned mc2_gbdt_pool_size(const mc2_gbdt_pool *pool);
/* Runs fn(ctx, t, worker) for t in [0, ntasks) and returns when all are done. Not reentrant:
 * a task must not call mc2_gbdt_pool_run. */
void mc2_gbdt_pool_run(mc2_gbdt_pool *pool, size_t ntasks, mc2_gbdt_task_fn fn, void *ctx);
/* Stops and joins the workers, frees the pool (NULL is a no-op). */
void mc2_gbdt_pool_free(mc2_gbdt_pool *pool);

#endif
