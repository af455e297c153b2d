/* gc_fake_net.c - TEST-ONLY stand-in for src/mpc/net.c while that module is being written:
 * mpc_net_local's n parties as threads of one process over unbounded in-memory queues (one
 * per direction), with the tamper hook of net.h. No TLS, no timeout beyond MPC_NET_TIMEOUT_S.
 * Linked only into test_mpc_gc, and only while src/mpc/net.c does not exist (CMakeLists.txt):
 * once net.c is merged the test runs over the real mpc_net_local and this file goes. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpc/net.h"

typedef struct fq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *buf;
    size_t head, len, cap;
} fq;

typedef struct hub {
    uint32_t n, refs;
    bool gone[MPC_MAX_PARTIES]; /* freed: receiving from it fails once its queue is empty */
    pthread_mutex_t mu;
    fq *q; /* q[from * n + to] */
    mpc_net_tamper_fn tamper;
    void *tctx;
} hub;

struct mpc_net {
    hub *h;
    uint32_t self;
    uint64_t sent[MPC_MAX_PARTIES], recvd[MPC_MAX_PARTIES];
};

uint32_t mpc_net_self(const mpc_net *n)
{
    return n->self;
}

uint32_t mpc_net_parties(const mpc_net *n)
{
    return n->h->n;
}

int mpc_net_send(mpc_net *n, uint32_t to, const void *p, size_t len, mc2_err *err)
{
    if (to >= n->h->n || to == n->self)
        return mc2_err_set(err, MC2_E_USAGE, "fake net: no party %u", to);
    fq *q = &n->h->q[n->self * n->h->n + to];
    pthread_mutex_lock(&q->mu);
    if (q->cap - q->len - q->head < len) {
        if (q->head) memmove(q->buf, q->buf + q->head, q->len);
        q->head = 0;
        if (q->cap - q->len < len) {
            size_t nc = (q->len + len) * 2;
            uint8_t *b = realloc(q->buf, nc);
            if (!b) {
                pthread_mutex_unlock(&q->mu);
                return mc2_err_set(err, MC2_E_NOMEM, "fake net: out of memory");
            }
            q->buf = b;
            q->cap = nc;
        }
    }
    uint8_t *dst = q->buf + q->head + q->len;
    memcpy(dst, p, len);
    if (n->h->tamper) n->h->tamper(n->h->tctx, n->self, to, dst, len);
    q->len += len;
    n->sent[to] += len;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int mpc_net_recv(mpc_net *n, uint32_t from, void *p, size_t len, mc2_err *err)
{
    if (from >= n->h->n || from == n->self)
        return mc2_err_set(err, MC2_E_USAGE, "fake net: no party %u", from);
    fq *q = &n->h->q[from * n->h->n + n->self];
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += MPC_NET_TIMEOUT_S;
    pthread_mutex_lock(&q->mu);
    while (q->len < len) {
        bool gone;
        pthread_mutex_lock(&n->h->mu);
        gone = n->h->gone[from];
        pthread_mutex_unlock(&n->h->mu);
        if (gone) {
            pthread_mutex_unlock(&q->mu);
            return mc2_err_set(err, MC2_E_IO, "fake net: party %u has gone", from);
        }
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&q->mu);
            return mc2_err_set(err, MC2_E_IO, "fake net: party %u sent nothing for %d s", from,
                               MPC_NET_TIMEOUT_S);
        }
    }
    memcpy(p, q->buf + q->head, len);
    q->head += len;
    q->len -= len;
    n->recvd[from] += len;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int mpc_net_flush(mpc_net *n, mc2_err *err)
{
    (void)n;
    (void)err;
    return 0;
}

void mpc_net_counters(const mpc_net *n, uint32_t peer, uint64_t *sent, uint64_t *received)
{
    *sent = peer < MPC_MAX_PARTIES ? n->sent[peer] : 0;
    *received = peer < MPC_MAX_PARTIES ? n->recvd[peer] : 0;
}

void mpc_net_free(mpc_net *n)
{
    if (!n) return;
    hub *h = n->h;
    pthread_mutex_lock(&h->mu);
    h->gone[n->self] = true;
    pthread_mutex_unlock(&h->mu);
    for (uint32_t i = 0; i < h->n; i++) { /* wake whoever waits for this party */
        fq *q = &h->q[n->self * h->n + i];
        pthread_mutex_lock(&q->mu);
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_lock(&h->mu); /* only now may the last party free the hub */
    uint32_t left = --h->refs;
    pthread_mutex_unlock(&h->mu);
    free(n);
    if (left) return;
    for (uint32_t i = 0; i < h->n * h->n; i++) {
        pthread_mutex_destroy(&h->q[i].mu);
        pthread_cond_destroy(&h->q[i].cv);
        free(h->q[i].buf);
    }
    pthread_mutex_destroy(&h->mu);
    free(h->q);
    free(h);
}

int mpc_net_local(uint32_t n, mpc_net **nets, mpc_net_tamper_fn tamper, void *tamper_ctx,
                  mc2_err *err)
{
    if (n < 2 || n > MPC_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_USAGE, "fake net: %u parties", n);
    hub *h = calloc(1, sizeof *h);
    if (!h || !(h->q = calloc((size_t)n * n, sizeof *h->q))) abort();
    h->n = h->refs = n;
    h->tamper = tamper;
    h->tctx = tamper_ctx;
    pthread_mutex_init(&h->mu, NULL);
    for (uint32_t i = 0; i < n * n; i++) {
        pthread_mutex_init(&h->q[i].mu, NULL);
        pthread_cond_init(&h->q[i].cv, NULL);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!(nets[i] = calloc(1, sizeof *nets[i]))) abort();
        nets[i]->h = h;
        nets[i]->self = i;
    }
    return 0;
}
