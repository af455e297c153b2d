/* exec_par.c - parallel pipelines: the exchange operator (exec_int.h, "parallel pipelines").
 *
 *   parent --next--> exchange --+-- instance 0 (this thread, the main executor's operators)
 *                               +-- instance 1 (worker thread, its own executor)   \ each takes
 *                               +-- ...                                           / scan blocks
 * Protocol between the consumer (the thread calling next) and worker w:
 *   worker: pulls a chunk from its instance; sets ready[w]; waits until the consumer has
 *           taken it (ready cleared, held set) and released it (held cleared); repeats; at the
 *           end of its instance (or on an error, recorded once for all) sets done[w].
 *   consumer: releases the chunk it returned last; returns a ready worker chunk if there is
 *           one, else pulls from instance 0 itself; when instance 0 is exhausted, waits for
 *           workers; returns 0 when every instance is done.
 * The first error stops every worker (at its next chunk) and is returned to the parent.
 * Order of chunks is not defined (SQL does not fix it without ORDER BY); every row of every
 * block comes out exactly once. */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "table/tsrc.h"

typedef struct par_worker {
    struct op_par *p;
    mc2_exec *wx; /* the worker's executor: arena and operators of its instance */
    sx_op *inst;  /* the instance's top operator */
    sx_chunk *ready;
    bool held, done, started;
    pthread_t tid;
} par_worker;

typedef struct op_par {
    sx_op op;
    sx_op *inst0;
    bool inst0_done, started, stop, failed;
    unsigned nw;
    par_worker *w;
    int held_by; /* the worker whose chunk the consumer returned last, or -1 */
    pthread_mutex_t mu;
    pthread_cond_t cv_cons; /* a worker's chunk is ready, or a worker is done */
    pthread_cond_t cv_work; /* a chunk was released, or stop */
    mc2_err ferr;
} op_par;

/* Whether the subtree at n is a pipeline that may run in parallel: streaming operators over a
 * scan of a streaming input, with at least two blocks to share. */
static bool streams(const mc2_exec *x, const mc2_pnode *n)
{
    switch (n->kind) {
    case MC2_PN_SCAN: {
        if (n->input >= x->ninputs || !x->inputs[n->input].src) return false;
        return mc2_tsrc_header(x->inputs[n->input].src)->block_count >= 2;
    }
    case MC2_PN_FILTER:
    case MC2_PN_PROJECT:
        return streams(x, n->left);
    case MC2_PN_HASH_JOIN:
    case MC2_PN_NL_JOIN:
        /* RIGHT and FULL joins mark build rows while probing and emit them at the end: they
         * stay on one thread. */
        return (n->jt == MC2_JOIN_INNER || n->jt == MC2_JOIN_LEFT || n->jt == MC2_JOIN_SEMI ||
                n->jt == MC2_JOIN_ANTI) &&
               streams(x, n->left);
    default:
        return false;
    }
}

bool sx_par_qualifies(const mc2_exec *x, const mc2_pnode *n)
{
    return x->threads > 1 && !x->main && !x->in_segment && streams(x, n);
}

sx_op *sx_primary(const mc2_exec *main, const mc2_pnode *n)
{
    for (size_t i = 0; i < main->nops; i++)
        if (main->ops[i]->node == n && !main->ops[i]->exchange) return main->ops[i];
    return NULL;
}

/* Records the first error and tells everyone to stop (mu held). */
static void par_fail(op_par *p, const mc2_err *err)
{
    if (!p->failed) {
        p->failed = true;
        p->ferr = *err;
    }
    p->stop = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_cons);
}

static void *worker_main(void *arg)
{
    par_worker *w = arg;
    op_par *p = w->p;
    mc2_err err;
    mc2_err_clear(&err);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        sx_chunk *c = NULL;
        int r = sx_pull(w->inst, &c, &err);
        pthread_mutex_lock(&p->mu);
        if (r < 0) par_fail(p, &err);
        if (r <= 0) break;
        w->ready = c;
        pthread_cond_broadcast(&p->cv_cons);
        while (!p->stop && (w->ready || w->held)) pthread_cond_wait(&p->cv_work, &p->mu);
    }
    w->done = true;
    pthread_cond_broadcast(&p->cv_cons);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Builds the worker instances (after instance 0 prepared the shared state) and starts them. */
static int par_start(op_par *p, mc2_err *err)
{
    mc2_exec *x = p->op.x;
    int pr = sx_prepare(p->inst0, err);
    if (pr < 0) return -1;
    if (pr > 0) p->nw = 0; /* a join in the pipeline spilled: it runs on this thread alone */
    for (unsigned i = 0; i < p->nw; i++) {
        par_worker *w = &p->w[i];
        w->p = p;
        w->wx = mc2_calloc(1, sizeof *w->wx);
        if (!w->wx) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        mc2_arena_init(&w->wx->arena, 0);
        w->wx->plan = x->plan;
        w->wx->inputs = x->inputs;
        w->wx->ninputs = x->ninputs;
        w->wx->cap = x->cap;
        w->wx->budget = x->budget;
        w->wx->threads = 1;
        w->wx->main = x;
        if (!(w->inst = sx_build(w->wx, p->op.node, err))) return -1;
    }
    if (p->nw) x->stats.parallel++;
    for (unsigned i = 0; i < p->nw; i++) {
        if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]) != 0)
            return mc2_err_set(err, MC2_E_INTERNAL, "cannot start a worker thread");
        p->w[i].started = true;
    }
    return 0;
}

/* A ready worker chunk (taken, mu held), or NULL. */
static sx_chunk *take_ready(op_par *p)
{
    for (unsigned i = 0; i < p->nw; i++) {
        par_worker *w = &p->w[i];
        if (!w->ready) continue;
        sx_chunk *c = w->ready;
        w->ready = NULL;
        w->held = true;
        p->held_by = (int)i;
        return c;
    }
    return NULL;
}

static bool workers_done(const op_par *p)
{
    for (unsigned i = 0; i < p->nw; i++)
        if (!p->w[i].done || p->w[i].ready) return false;
    return true;
}

static int par_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_par *p = (op_par *)o;
    if (!p->started) {
        p->started = true;
        if (par_start(p, err)) {
            pthread_mutex_lock(&p->mu);
            par_fail(p, err);
            pthread_mutex_unlock(&p->mu);
            return -1;
        }
    }
    pthread_mutex_lock(&p->mu);
    if (p->held_by >= 0) { /* the parent is done with the chunk it got last */
        p->w[p->held_by].held = false;
        p->held_by = -1;
        pthread_cond_broadcast(&p->cv_work);
    }
    int rc;
    for (;;) {
        if (p->failed) {
            *err = p->ferr;
            rc = -1;
            break;
        }
        sx_chunk *c = take_ready(p);
        if (c) {
            *out = c;
            rc = 1;
            break;
        }
        if (!p->inst0_done) {
            pthread_mutex_unlock(&p->mu);
            int r = sx_pull(p->inst0, &c, err);
            pthread_mutex_lock(&p->mu);
            if (r < 0) par_fail(p, err);
            if (r == 0) p->inst0_done = true;
            if (r == 1) {
                *out = c;
                rc = 1;
                break;
            }
            continue;
        }
        if (workers_done(p)) {
            rc = 0;
            break;
        }
        pthread_cond_wait(&p->cv_cons, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void par_close(sx_op *o)
{
    op_par *p = (op_par *)o;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nw; i++) {
        par_worker *w = &p->w[i];
        if (w->started) pthread_join(w->tid, NULL);
        w->started = false;
        if (w->wx) {
            mc2_exec_free(w->wx);
            w->wx = NULL;
        }
    }
    mc2_free(p->w);
    p->w = NULL;
    p->nw = 0;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_cons);
    pthread_cond_destroy(&p->cv_work);
}

sx_op *sx_op_par(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_par *p = sx_alloc(x, sizeof *p, err);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->held_by = -1;
    p->op.exchange = true;
    p->op.next = par_next;
    p->op.x = x;
    p->op.node = n;
    p->op.schema = &n->schema;
    x->in_segment = true;
    p->inst0 = sx_build(x, n, err);
    x->in_segment = false;
    if (!p->inst0) return NULL;
    p->nw = x->threads - 1;
    p->w = mc2_calloc(p->nw, sizeof *p->w);
    if (!p->w) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_cons, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    p->op.close = par_close;
    return &p->op;
}
