/* exec_par.c - parallel pipelines: the exchange operator (exec_int.h, "parallel pipelines").
 *
 *   parent --next--> exchange --+-- instance 0 (this thread, the main executor's operators)
 *                               +-- instance 1 (worker thread, its own executor)   \ each takes
 *                               +-- ...                                           / scan blocks
 * Unordered protocol between the consumer (the thread calling next) and worker w:
 *   worker: pulls a chunk from its instance; sets ready[w]; waits until the consumer has
 *           taken it (ready cleared, held set) and released it (held cleared); repeats; at the
 *           end of its instance (or on an error, recorded once for all) sets done[w].
 *   consumer: releases the chunk it returned last; returns a ready worker chunk if there is
 *           one, else pulls from instance 0 itself; when instance 0 is exhausted, waits for
 *           workers; returns 0 when every instance is done.
 *   Order of chunks is not defined; every row of every block comes out exactly once.
 * Ordered protocol (x->ordered): every instance's driving scan (the scan at the bottom of the
 * pipeline's left spine) reports each block it claims (sx_scan_on_claim, called under the
 * scan's lock, hence in block order); the exchange queues one record per claimed block. Every
 * chunk an instance returns derives from the block its scan claimed last (the pipeline's
 * operators finish a block before they pull the next), and a block is complete once its
 * instance claims another or ends.
 *   worker: pulls a chunk; if its record is the queue's head (nothing before it is left to
 *           hand out), hands the chunk over without a copy and waits for its release as
 *           above; otherwise copies it into the record's row store. It claims no further
 *           block while it holds PAR_AHEAD records not yet handed out, unless its record is
 *           the head.
 *   consumer: serves the head record: its copied rows, then its handed-over chunk; pops it
 *           when complete and empty; if the head is instance 0's (or the queue is empty and
 *           instance 0 is not done) pulls instance 0, whose chunk waits in its record.
 *   Chunks thus leave in block order, each block's in the order its instance produced them:
 *   the order one thread would give. The head's owner is never held back, so it cannot stall.
 * Sink mode (sx_par_set_sink, unordered): every instance's driving scan notes the block it
 * claims in the instance's par_inst (on the claiming thread, read by it alone); each chunk an
 * instance pulls goes to the sink on that instance's thread, mu released; only a chunk the
 * sink declines goes on to the consumer as above. With nothing declined the consumer just
 * pulls instance 0 (which sinks its own chunks) and then waits for the workers to end.
 * The first error stops every worker (at its next chunk) and is returned to the parent. */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "table/tsrc.h"

#define PAR_AHEAD 2 /* ordered: records a worker may hold not yet handed out */

struct par_inst;

/* Ordered mode: one claimed block of the driving scan. */
typedef struct par_rec {
    struct par_rec *next; /* queue order: block order */
    struct par_inst *owner;
    bool complete;    /* its owner claimed a later block or ended */
    bool appending;   /* its owner is copying a chunk into rows */
    sx_rows rows;     /* chunks its worker copied while the record was not the head */
    size_t emitted;   /* rows of `rows` handed out */
    sx_chunk *direct; /* a chunk handed over without a copy; its owner waits until cleared */
} par_rec;

/* One instance of the pipeline (ordered mode's view of it). */
typedef struct par_inst {
    struct op_par *p;
    par_rec *cur;   /* the record of the block its scan claimed last */
    unsigned nrec;  /* its records not yet popped */
    par_rec *trash; /* popped records whose rows the owner's thread frees */
    mc2_exec *acct; /* the executor their rows are accounted to */
    uint64_t block; /* sink mode: the block its scan claimed last (read on its own thread) */
} par_inst;

typedef struct par_worker {
    struct op_par *p;
    mc2_exec *wx; /* the worker's executor: arena and operators of its instance */
    sx_op *inst;  /* the instance's top operator */
    sx_chunk *ready;
    bool held, done, started;
    pthread_t tid;
    par_inst in;
} par_worker;

typedef struct op_par {
    sx_op op;
    sx_op *inst0;
    bool inst0_done, started, stop, failed, ordered;
    unsigned nw;
    par_worker *w;
    int held_by; /* the worker whose chunk the consumer returned last, or -1 */
    pthread_mutex_t mu;
    pthread_cond_t cv_cons; /* a worker's chunk is ready, or a worker is done */
    pthread_cond_t cv_work; /* a chunk was released, or stop */
    mc2_err ferr;
    /* ordered mode */
    par_inst in0;
    par_rec *head, *tail;
    par_rec *given; /* the record whose direct chunk the consumer returned last */
    sx_chunk view;  /* rows of a record handed out */
    /* sink mode (sx_par_set_sink) */
    sx_sink_fn sink;
    void *sink_ctx;
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
    case MC2_PN_AGG: /* the partial half of a parallel aggregation, one per instance */
        return n->agg_mode == SX_AGG_PARTIAL && streams(x, n->left);
    case MC2_PN_HASH_JOIN:
    case MC2_PN_NL_JOIN:
        /* RIGHT and FULL joins mark build rows while probing; the last instance to end
         * emits the unmatched ones (exec_join.c), after the rows of the last block it
         * claimed: not in block order, so an ordered pipeline runs them on one thread. A semi
         * join that builds its outer side emits only at the end; its probe side runs in
         * parallel below it (sx_op_par_over). */
        if ((n->jt == MC2_JOIN_RIGHT || n->jt == MC2_JOIN_FULL) && x->ordered) return false;
        return !n->build_outer && streams(x, n->left);
    default:
        return false;
    }
}

bool sx_par_qualifies(const mc2_exec *x, const mc2_pnode *n)
{
    return x->threads > 1 && !x->main && !x->in_segment && streams(x, n);
}

bool sx_par_streams(const mc2_exec *x, const mc2_pnode *n)
{
    return streams(x, n);
}

sx_op *sx_primary(const mc2_exec *main, const mc2_pnode *n)
{
    for (size_t i = 0; i < main->nops; i++)
        if (main->ops[i]->node == n && !main->ops[i]->exchange) return main->ops[i];
    return NULL;
}

bool sx_order_sensitive(const mc2_pnode *n)
{
    if (!n) return false;
    if (n->kind == MC2_PN_AGG)
        for (size_t i = 0; i < n->naggs; i++) {
            const mc2_pagg *a = &n->aggs[i];
            if (a->fn != MC2_AGG_COUNT_STAR && a->fn != MC2_AGG_COUNT &&
                a->col < n->left->schema.ncols &&
                n->left->schema.cols[a->col].type.id == MC2_T_DOUBLE)
                return true;
        }
    return sx_order_sensitive(n->left) || sx_order_sensitive(n->right);
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

/* ---- ordered mode: records ----------------------------------------------------------------- */

/* The claim hook of an instance's driving scan (called with the scan's lock held). */
static void on_claim(void *ctx, uint64_t block)
{
    (void)block; /* claims come in block order: the queue's order is the blocks' */
    par_inst *in = ctx;
    op_par *p = in->p;
    par_rec *r = mc2_calloc(1, sizeof *r);
    pthread_mutex_lock(&p->mu);
    if (!r) {
        mc2_err e;
        mc2_err_set(&e, MC2_E_NOMEM, "out of memory");
        par_fail(p, &e);
    } else {
        sx_rows_init(&r->rows, p->op.schema);
        r->owner = in;
        if (in->cur) in->cur->complete = true;
        in->cur = r;
        in->nrec++;
        if (p->tail)
            p->tail->next = r;
        else
            p->head = r;
        p->tail = r;
        pthread_cond_broadcast(&p->cv_cons);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Marks the end of an instance (mu held). */
static void inst_end(op_par *p, par_inst *in)
{
    if (in->cur) in->cur->complete = true;
    pthread_cond_broadcast(&p->cv_cons);
}

static void rec_free(par_rec *r)
{
    if (r->rows.vals) sx_rows_free(r->owner->acct, &r->rows);
    mc2_free(r);
}

/* Frees the records the consumer popped (on the owner's thread, mu not held). */
static void inst_empty_trash(op_par *p, par_inst *in)
{
    pthread_mutex_lock(&p->mu);
    par_rec *t = in->trash;
    in->trash = NULL;
    pthread_mutex_unlock(&p->mu);
    while (t) {
        par_rec *nx = t->next;
        rec_free(t);
        t = nx;
    }
}

/* Pops the head record, complete and handed out (mu held). */
static void rec_pop(op_par *p)
{
    par_rec *r = p->head;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    par_inst *in = r->owner;
    if (in->cur == r) in->cur = NULL;
    in->nrec--;
    r->next = in->trash;
    in->trash = r;
    pthread_cond_broadcast(&p->cv_work);
}

/* Finds the scan at the bottom of n's left spine among x's operators (not an exchange). */
static sx_op *driving_scan(const mc2_exec *x, const mc2_pnode *n)
{
    while (n->kind != MC2_PN_SCAN) n = n->left;
    return sx_primary(x, n);
}

/* Sink mode's claim hook: the instance's current block, read later on the same thread. */
static void sink_claim(void *ctx, uint64_t block)
{
    ((par_inst *)ctx)->block = block;
}

/* Hooks instance in (whose operators x built) to its driving scan: the ordered protocol's
 * records, or sink mode's current block. */
static int inst_hook(op_par *p, par_inst *in, mc2_exec *x, mc2_err *err)
{
    sx_op *scan = driving_scan(x, p->op.node);
    if (!scan) return mc2_err_set(err, MC2_E_INTERNAL, "a parallel pipeline without its scan");
    in->p = p;
    in->acct = x;
    sx_scan_on_claim(scan, p->sink ? sink_claim : on_claim, in);
    return 0;
}

/* ---- workers ------------------------------------------------------------------------------- */

/* Pulls a chunk from instance inst with mu released meanwhile (mu held on entry and exit);
 * records an error for all. Returns as sx_pull. */
static int pull_unlocked(op_par *p, sx_op *inst, sx_chunk **c, mc2_err *err)
{
    pthread_mutex_unlock(&p->mu);
    int r = sx_pull(inst, c, err);
    pthread_mutex_lock(&p->mu);
    if (r < 0) par_fail(p, err);
    return r;
}

/* Sink mode: hands chunk c of instance inst (block: the block its scan claimed last) to the
 * sink, with mu released meanwhile (held on entry and exit); records an error for all.
 * Returns the sink's answer: 0 consumed, 1 declined (the parent gets c), -1 error. */
static int sink_unlocked(op_par *p, unsigned inst, uint64_t block, sx_chunk *c, mc2_err *err)
{
    pthread_mutex_unlock(&p->mu);
    int r = p->sink(p->sink_ctx, inst, block, c, err);
    pthread_mutex_lock(&p->mu);
    if (r < 0) par_fail(p, err);
    return r;
}

/* Unordered: hands each chunk over (sink mode: to the sink first) and waits for its release. */
static void worker_unordered(par_worker *w, mc2_err *err)
{
    op_par *p = w->p;
    unsigned inst = (unsigned)(w - p->w) + 1;
    while (!p->stop) {
        sx_chunk *c = NULL;
        if (pull_unlocked(p, w->inst, &c, err) <= 0) break;
        if (p->sink) {
            int s = sink_unlocked(p, inst, w->in.block, c, err);
            if (s < 0) break;
            if (s == 0) continue;
        }
        w->ready = c;
        pthread_cond_broadcast(&p->cv_cons);
        while (!p->stop && (w->ready || w->held)) pthread_cond_wait(&p->cv_work, &p->mu);
    }
}

/* Ordered: the chunk of the head record is handed over, any other is copied into its record. */
static void worker_ordered(par_worker *w, mc2_err *err)
{
    op_par *p = w->p;
    par_inst *in = &w->in;
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        inst_empty_trash(p, in);
        pthread_mutex_lock(&p->mu);
        while (!p->stop && in->nrec >= PAR_AHEAD && !(in->cur && in->cur == p->head))
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->stop) break;
        sx_chunk *c = NULL;
        if (pull_unlocked(p, w->inst, &c, err) <= 0) break;
        par_rec *rec = in->cur;
        if (!rec) MC2_PANIC("exchange: a chunk before its block was claimed");
        if (rec == p->head && rec->emitted == rec->rows.n) {
            rec->direct = c;
            pthread_cond_broadcast(&p->cv_cons);
            while (!p->stop && rec->direct) pthread_cond_wait(&p->cv_work, &p->mu);
            continue;
        }
        rec->appending = true;
        pthread_mutex_unlock(&p->mu);
        int ar = sx_rows_append(w->wx, &rec->rows, c, NULL, c->n, err);
        pthread_mutex_lock(&p->mu);
        rec->appending = false;
        pthread_cond_broadcast(&p->cv_cons);
        if (ar) {
            par_fail(p, err);
            break;
        }
    }
    if (p->ordered) inst_end(p, in);
}

static void *worker_main(void *arg)
{
    par_worker *w = arg;
    op_par *p = w->p;
    mc2_err err;
    mc2_err_clear(&err);
    pthread_mutex_lock(&p->mu);
    if (p->ordered)
        worker_ordered(w, &err);
    else
        worker_unordered(w, &err);
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
    if (p->sink) p->ordered = false; /* the sink orders rows by block itself */
    if ((p->sink || (p->nw && p->ordered)) && inst_hook(p, &p->in0, x, err)) return -1;
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
        if ((p->sink || p->ordered) && inst_hook(p, &w->in, w->wx, err)) return -1;
    }
    if (p->nw)
        x->stats.parallel++;
    else
        p->ordered = false; /* one instance: its order is the blocks' */
    for (unsigned i = 0; i < p->nw; i++) {
        if (pthread_create(&p->w[i].tid, NULL, worker_main, &p->w[i]) != 0)
            return mc2_err_set(err, MC2_E_INTERNAL, "cannot start a worker thread");
        p->w[i].started = true;
    }
    return 0;
}

/* ---- the consumer -------------------------------------------------------------------------- */

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

/* Pulls a chunk from instance 0 on this thread (mu held, released meanwhile). In ordered
 * mode the chunk waits in its record. Returns 1 with *out (unordered), 0 to look again, -1. */
static int pull_inst0(op_par *p, sx_chunk **out, mc2_err *err)
{
    sx_chunk *c = NULL;
    int r = pull_unlocked(p, p->inst0, &c, err);
    if (r < 0) return -1;
    if (r == 0) {
        p->inst0_done = true;
        if (p->ordered) inst_end(p, &p->in0);
        return 0;
    }
    if (!p->ordered) {
        int s = p->sink ? sink_unlocked(p, 0, p->in0.block, c, err) : 1;
        if (s <= 0) return s;
        *out = c;
        return 1;
    }
    if (!p->in0.cur) MC2_PANIC("exchange: a chunk before its block was claimed");
    p->in0.cur->direct = c;
    return 0;
}

/* Ordered: the next chunk in block order (mu held). */
static int next_ordered(op_par *p, sx_chunk **out, mc2_err *err)
{
    if (p->given) { /* the parent is done with the chunk it got last */
        p->given->direct = NULL;
        p->given = NULL;
        pthread_cond_broadcast(&p->cv_work);
    }
    for (;;) {
        if (p->failed) {
            *err = p->ferr;
            return -1;
        }
        par_rec *h = p->head;
        if (h && !h->appending && h->emitted < h->rows.n) {
            size_t m = h->rows.n - h->emitted;
            if (m > p->op.x->cap) m = p->op.x->cap;
            for (size_t k = 0; k < p->op.schema->ncols; k++) {
                sx_vec src = {h->rows.nulls[k], {.p = h->rows.vals[k]}};
                sx_vec_slice(p->op.schema->cols[k].type.id, &p->view.cols[k], &src, h->emitted);
            }
            p->view.n = m;
            h->emitted += m;
            *out = &p->view;
            return 1;
        }
        if (h && !h->appending && h->direct) {
            p->given = h;
            *out = h->direct;
            return 1;
        }
        if (h && !h->appending && h->complete) {
            rec_pop(p);
            continue;
        }
        if ((h && h->owner == &p->in0) || (!h && !p->inst0_done)) {
            if (pull_inst0(p, out, err) < 0) return -1;
            continue;
        }
        if (!h && workers_done(p)) return 0;
        pthread_cond_wait(&p->cv_cons, &p->mu);
    }
}

/* Unordered: whichever chunk is ready (mu held). */
static int next_unordered(op_par *p, sx_chunk **out, mc2_err *err)
{
    if (p->held_by >= 0) { /* the parent is done with the chunk it got last */
        p->w[p->held_by].held = false;
        p->held_by = -1;
        pthread_cond_broadcast(&p->cv_work);
    }
    for (;;) {
        if (p->failed) {
            *err = p->ferr;
            return -1;
        }
        sx_chunk *c = take_ready(p);
        if (c) {
            *out = c;
            return 1;
        }
        if (!p->inst0_done) {
            int r = pull_inst0(p, out, err);
            if (r) return r;
            continue;
        }
        if (workers_done(p)) return 0;
        pthread_cond_wait(&p->cv_cons, &p->mu);
    }
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
    if (p->ordered) inst_empty_trash(p, &p->in0);
    pthread_mutex_lock(&p->mu);
    int rc = p->ordered ? next_ordered(p, out, err) : next_unordered(p, out, err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void sx_par_stop(sx_op *o)
{
    op_par *p = (op_par *)o;
    if (!o->exchange || !o->close) return; /* not an exchange, or one not fully built */
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nw; i++)
        if (p->w[i].started) {
            pthread_join(p->w[i].tid, NULL);
            p->w[i].started = false;
        }
}

static void par_close(sx_op *o)
{
    op_par *p = (op_par *)o;
    sx_par_stop(o);
    while (p->head) rec_pop(p);
    inst_empty_trash(p, &p->in0);
    for (unsigned i = 0; i < p->nw; i++) {
        par_worker *w = &p->w[i];
        inst_empty_trash(p, &w->in);
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

static op_par *par_new(mc2_exec *x, const mc2_pnode *n, bool ordered, mc2_err *err)
{
    op_par *p = sx_alloc(x, sizeof *p, err);
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->held_by = -1;
    p->ordered = ordered;
    p->op.exchange = true;
    p->op.next = par_next;
    p->op.x = x;
    p->op.node = n;
    p->op.schema = &n->schema;
    p->view.cols = sx_array(x, n->schema.ncols + 1, sizeof *p->view.cols, err);
    return p->view.cols ? p : NULL;
}

/* The workers' slots and the locks (p->inst0 is built); sets close last: an exchange
 * without it was never started. */
static sx_op *par_finish(op_par *p, mc2_err *err)
{
    mc2_exec *x = p->op.x;
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

bool sx_par_set_sink(sx_op *o, sx_sink_fn fn, void *ctx)
{
    op_par *p = (op_par *)o;
    if (!o->exchange || p->started) return false;
    p->sink = fn;
    p->sink_ctx = ctx;
    return true;
}

sx_op *sx_op_par(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_par *p = par_new(x, n, x->ordered, err);
    if (!p) return NULL;
    x->in_segment = true;
    p->inst0 = sx_build(x, n, err);
    x->in_segment = false;
    if (!p->inst0) return NULL;
    return par_finish(p, err);
}

sx_op *sx_op_par_over(mc2_exec *x, const mc2_pnode *n, sx_op *inst0, mc2_err *err)
{
    op_par *p = par_new(x, n, false, err);
    if (!p) return NULL;
    p->inst0 = inst0;
    return par_finish(p, err);
}
