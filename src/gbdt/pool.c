/* pool.c - the fork-join thread pool (see pool.h): workers sleep on a condition variable and
 * take task indices from an atomic counter; the caller takes tasks too. */
#include "gbdt/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/alloc.h"

struct mc2_gbdt_pool {
    unsigned nthread;
    pthread_t *threads;
    unsigned started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers wait for a new generation */
    pthread_cond_t done; /* the caller waits for busy == 0 */
    uint64_t generation;
    int stop;
    unsigned busy; /* workers still inside the current generation */
    /* the current job */
    mc2_gbdt_task_fn fn;
    void *ctx;
    size_t ntasks;
    atomic_size_t next;
};

typedef struct worker_arg {
    mc2_gbdt_pool *pool;
    unsigned id;
} worker_arg;

static void drain(mc2_gbdt_pool *pool, unsigned worker)
{
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
        if (t >= pool->ntasks) return;
        pool->fn(pool->ctx, t, worker);
    }
}

static void *worker_main(void *p)
{
    mc2_gbdt_pool *pool = ((worker_arg *)p)->pool;
    unsigned id = ((worker_arg *)p)->id;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->wake, &pool->mu);
        if (pool->stop) break;
        seen = pool->generation;
        pthread_mutex_unlock(&pool->mu);
        drain(pool, id);
        pthread_mutex_lock(&pool->mu);
        if (--pool->busy == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* The pool and its workers' arguments in one allocation, so the arguments live as long as
 * the threads that read them. */
typedef struct pool_alloc {
    mc2_gbdt_pool pool;
    worker_arg args[];
} pool_alloc;

mc2_gbdt_pool *mc2_gbdt_pool_new(unsigned nthread, mc2_err *err)
{
    if (nthread < 1) nthread = 1;
    pool_alloc *pa = mc2_calloc(1, sizeof(pool_alloc) + nthread * sizeof(worker_arg));
    if (!pa) {
        mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory creating the thread pool");
        return NULL;
    }
    mc2_gbdt_pool *pool = &pa->pool;
    pool->nthread = nthread;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    atomic_init(&pool->next, 0);
    if (nthread > 1) {
        pool->threads = mc2_calloc(nthread - 1, sizeof(pthread_t));
        if (!pool->threads) {
            mc2_gbdt_pool_free(pool);
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory creating the thread pool");
            return NULL;
        }
        for (unsigned i = 1; i < nthread; i++) {
            pa->args[i].pool = pool;
            pa->args[i].id = i;
            if (pthread_create(&pool->threads[i - 1], NULL, worker_main, &pa->args[i]) != 0) {
                mc2_gbdt_pool_free(pool);
                mc2_err_set(err, MC2_E_NOMEM, "gbdt: cannot start worker thread %u", i);
                return NULL;
            }
            pool->started++;
        }
    }
    return pool;
}

unsigned mc2_gbdt_pool_size(const mc2_gbdt_pool *pool)
{
    return pool->nthread;
}

void mc2_gbdt_pool_run(mc2_gbdt_pool *pool, size_t ntasks, mc2_gbdt_task_fn fn, void *ctx)
{
    if (ntasks == 0) return;
    if (pool->started == 0 || ntasks == 1) {
        for (size_t t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->ntasks = ntasks;
    atomic_store(&pool->next, 0);
    pool->busy = pool->started;
    pool->generation++;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    drain(pool, 0);
    pthread_mutex_lock(&pool->mu);
    while (pool->busy) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

void mc2_gbdt_pool_free(mc2_gbdt_pool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->started; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    mc2_free(pool->threads);
    mc2_free(pool); /* pool is the first member of its pool_alloc */
}
