/* dlocal.h - tests: the ranks of a distributed query (sql/dist.h) as threads of one process,
 * exchanging through shared memory instead of the enclave mesh. A rank that fails calls
 * dlocal_abort, and every rank waiting in (or later entering) a collective fails too, so a
 * test never hangs on a rank that stopped early. Header-only (static functions). */
#ifndef MC2_TESTS_DLOCAL_H
#define MC2_TESTS_DLOCAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sql/dist.h"

typedef struct dlocal {
    uint32_t n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t waiting;
    uint64_t gen;
    bool aborted;
    const uint8_t *const *send[MC2_DIST_MAX_RANKS];
    const size_t *slen[MC2_DIST_MAX_RANKS];
    int64_t *vec[MC2_DIST_MAX_RANKS];
    /* Test hook: if set, called on every stream rank `from` sends to rank `to` before it is
     * delivered (it may change the copy in *p / *len, realloc'd with malloc). */
    void (*tamper)(uint32_t from, uint32_t to, uint8_t **p, size_t *len);
} dlocal;

typedef struct dlocal_rank {
    dlocal *l;
    uint32_t self;
} dlocal_rank;

static void dlocal_init(dlocal *l, uint32_t n)
{
    memset(l, 0, sizeof *l);
    l->n = n;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void dlocal_destroy(dlocal *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

static void dlocal_abort(dlocal *l)
{
    pthread_mutex_lock(&l->mu);
    l->aborted = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Waits until all n ranks arrived; -1 if some rank aborted. */
static int dlocal_barrier(dlocal *l, mc2_err *err)
{
    pthread_mutex_lock(&l->mu);
    uint64_t g = l->gen;
    if (++l->waiting == l->n) {
        l->waiting = 0;
        l->gen++;
        pthread_cond_broadcast(&l->cv);
    }
    while (l->gen == g && !l->aborted) pthread_cond_wait(&l->cv, &l->mu);
    bool bad = l->aborted;
    pthread_mutex_unlock(&l->mu);
    return bad ? mc2_err_set(err, MC2_E_IO, "another rank failed") : 0;
}

static int dlocal_alltoallv(void *ctx, const uint8_t *const *send, const size_t *send_len,
                            uint8_t **recv, size_t *recv_len, mc2_err *err)
{
    dlocal_rank *r = ctx;
    dlocal *l = r->l;
    l->send[r->self] = send;
    l->slen[r->self] = send_len;
    if (dlocal_barrier(l, err)) return -1;
    for (uint32_t i = 0; i < l->n; i++) {
        size_t len = l->slen[i][r->self];
        recv[i] = malloc(len ? len : 1);
        if (!recv[i]) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        if (len) memcpy(recv[i], l->send[i][r->self], len);
        recv_len[i] = len;
        if (l->tamper && i != r->self) l->tamper(i, r->self, &recv[i], &recv_len[i]);
    }
    return dlocal_barrier(l, err);
}

static int dlocal_allreduce_i64(void *ctx, int64_t *v, size_t n, mc2_err *err)
{
    dlocal_rank *r = ctx;
    dlocal *l = r->l;
    int64_t *sum = calloc(n ? n : 1, sizeof *sum);
    if (!sum) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    l->vec[r->self] = v;
    int rc = dlocal_barrier(l, err);
    for (uint32_t i = 0; rc == 0 && i < l->n; i++)
        for (size_t k = 0; k < n; k++) sum[k] += l->vec[i][k];
    if (rc == 0) rc = dlocal_barrier(l, err);
    if (rc == 0) memcpy(v, sum, n * sizeof *v);
    free(sum);
    return rc;
}

/* The transport of rank r->self. */
static mc2_dist_comm dlocal_comm(dlocal_rank *r)
{
    return (mc2_dist_comm){.ctx = r,
                           .self = r->self,
                           .n_ranks = r->l->n,
                           .alltoallv = dlocal_alltoallv,
                           .allreduce_i64 = dlocal_allreduce_i64};
}

#endif
