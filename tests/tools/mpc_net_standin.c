/* mpc_net_standin.c - TEMPORARY STAND-IN for src/mpc/net.c's local transport (net.h), linked
 * only into test_mpc_ot and test_mpc_triples until the real net.c lands; DROP THIS FILE (and
 * its target_sources lines in CMakeLists.txt) when net.c is merged.
 *
 * It implements only what the OT and triples tests use: mpc_net_local, send, recv, flush,
 * self, parties, counters, free. Each ordered pair of parties has an in-memory byte queue
 * (mutex + condition variable) that grows as needed, so send never waits on the peer; recv
 * waits at most MPC_NET_TIMEOUT_S and fails (MC2_E_IO, naming the peer) once the peer has
 * freed its net and the queue is empty. The tamper hook sees each send's bytes before they
 * are queued. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpc/net.h"

struct chan {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *buf;
    size_t cap, rd, wr;
    int closed; /* the sending party freed its net */
};

struct shared {
    uint32_t n;
    int refs;
    pthread_mutex_t mu;
    mpc_net_tamper_fn tamper;
    void *tamper_ctx;
    struct chan ch[MPC_MAX_PARTIES][MPC_MAX_PARTIES]; /* ch[from][to] */
};

struct mpc_net {
    struct shared *sh;
    uint32_t self;
    uint64_t sent[MPC_MAX_PARTIES], received[MPC_MAX_PARTIES];
    mc2_err fail[MPC_MAX_PARTIES]; /* a failed channel's error, repeated on later calls */
};

uint32_t mpc_net_self(const mpc_net *n)
{
    return n->self;
}
uint32_t mpc_net_parties(const mpc_net *n)
{
    return n->sh->n;
}

static int check_peer(mpc_net *n, uint32_t peer, mc2_err *err)
{
    if (peer >= n->sh->n || peer == n->self)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: no channel from party %u to party %u",
                           n->self, peer);
    if (n->fail[peer].code != MC2_OK) {
        if (err) *err = n->fail[peer];
        return -1;
    }
    return 0;
}

int mpc_net_send(mpc_net *n, uint32_t to, const void *p, size_t len, mc2_err *err)
{
    if (check_peer(n, to, err)) return -1;
    if (len == 0) return 0;
    uint8_t *copy = malloc(len);
    if (!copy) return mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
    memcpy(copy, p, len);
    if (n->sh->tamper) n->sh->tamper(n->sh->tamper_ctx, n->self, to, copy, len);
    struct chan *c = &n->sh->ch[n->self][to];
    pthread_mutex_lock(&c->mu);
    if (c->wr + len > c->cap) {
        if (c->rd > 0) {
            memmove(c->buf, c->buf + c->rd, c->wr - c->rd);
            c->wr -= c->rd;
            c->rd = 0;
        }
        if (c->wr + len > c->cap) {
            size_t cap = c->cap ? c->cap : 4096;
            while (cap < c->wr + len) cap *= 2;
            uint8_t *nb = realloc(c->buf, cap);
            if (!nb) {
                pthread_mutex_unlock(&c->mu);
                free(copy);
                return mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
            }
            c->buf = nb;
            c->cap = cap;
        }
    }
    memcpy(c->buf + c->wr, copy, len);
    c->wr += len;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    free(copy);
    n->sent[to] += len;
    return 0;
}

int mpc_net_recv(mpc_net *n, uint32_t from, void *p, size_t len, mc2_err *err)
{
    if (check_peer(n, from, err)) return -1;
    struct chan *c = &n->sh->ch[from][n->self];
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += MPC_NET_TIMEOUT_S;
    uint8_t *o = p;
    size_t got = 0;
    pthread_mutex_lock(&c->mu);
    while (got < len) {
        size_t avail = c->wr - c->rd;
        if (avail > 0) {
            size_t k = avail < len - got ? avail : len - got;
            memcpy(o + got, c->buf + c->rd, k);
            c->rd += k;
            got += k;
            continue;
        }
        if (c->closed) {
            pthread_mutex_unlock(&c->mu);
            mc2_err_set(&n->fail[from], MC2_E_IO, "mpc net: party %u closed its channel", from);
            if (err) *err = n->fail[from];
            return -1;
        }
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            mc2_err_set(&n->fail[from], MC2_E_IO, "mpc net: party %u sent nothing for %d s", from,
                        MPC_NET_TIMEOUT_S);
            if (err) *err = n->fail[from];
            return -1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    n->received[from] += len;
    return 0;
}

int mpc_net_flush(mpc_net *n, mc2_err *err)
{
    (void)n;
    (void)err;
    return 0; /* bytes are queued in memory as soon as they are sent */
}

void mpc_net_counters(const mpc_net *n, uint32_t peer, uint64_t *sent, uint64_t *received)
{
    *sent = peer < MPC_MAX_PARTIES ? n->sent[peer] : 0;
    *received = peer < MPC_MAX_PARTIES ? n->received[peer] : 0;
}

void mpc_net_free(mpc_net *n)
{
    if (!n) return;
    struct shared *sh = n->sh;
    for (uint32_t to = 0; to < sh->n; to++) {
        struct chan *c = &sh->ch[n->self][to];
        pthread_mutex_lock(&c->mu);
        c->closed = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    free(n);
    pthread_mutex_lock(&sh->mu);
    int last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (!last) return;
    for (uint32_t i = 0; i < sh->n; i++)
        for (uint32_t j = 0; j < sh->n; j++) {
            free(sh->ch[i][j].buf);
            pthread_mutex_destroy(&sh->ch[i][j].mu);
            pthread_cond_destroy(&sh->ch[i][j].cv);
        }
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

int mpc_net_local(uint32_t n, mpc_net **nets, mpc_net_tamper_fn tamper, void *tamper_ctx,
                  mc2_err *err)
{
    if (n < 2 || n > MPC_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: %u parties (2..%d)", n, MPC_MAX_PARTIES);
    struct shared *sh = calloc(1, sizeof *sh);
    if (!sh) return mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
    sh->n = n;
    sh->tamper = tamper;
    sh->tamper_ctx = tamper_ctx;
    pthread_mutex_init(&sh->mu, NULL);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            pthread_mutex_init(&sh->ch[i][j].mu, NULL);
            pthread_cond_init(&sh->ch[i][j].cv, NULL);
        }
    for (uint32_t i = 0; i < n; i++) {
        if (!(nets[i] = calloc(1, sizeof *nets[i]))) abort(); /* tests only */
        nets[i]->sh = sh;
        nets[i]->self = i;
    }
    sh->refs = (int)n;
    return 0;
}
