/* test_coll.c - the encrypted collectives (src/mesh/coll.h) with 2, 3 and 4 ranks, one thread
 * each, in one process over an in-memory host relay: the control job (allreduce of f64 and
 * i64 vectors, alltoallv, bcast, gather, finish) gives bit-identical results equal to a
 * plain computation on every rank; the relay drops, duplicates, replays from an earlier job,
 * reorders, bit-flips and re-addresses (sender swap) one message of a chosen stage and edge,
 * or delivers a genuine message of a third rank in its place (misroute),
 * and each case fails the job at the receiver with an integrity error naming that stage,
 * with no rank's finish succeeding; a rank that stops makes the others time out naming it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bytes.h"
#include "mc2/attest.h"
#include "mesh/coll.h"
#include "test.h"

#define MAXR  4
#define NF64  37
#define CHUNK 64

static uint8_t platform_sec[32], platform_pub[32], meas[32], policy[32];

/* ---- the in-memory relay: a FIFO per (sender, receiver), with one fault ------------------ */

enum fault { F_NONE, F_DROP, F_DUP, F_REPLAY, F_REORDER, F_FLIP, F_SENDER, F_MISROUTE, F_N };
static const char *fault_name[F_N] = {"none",    "drop", "dup",    "replay",
                                      "reorder", "flip", "sender", "misroute"};
/* The reason the receiver reports (mesh.h), besides "integrity error in stage S". */
static const char *fault_reason[F_N] = {
    NULL,
    "out of order",
    "duplicate",
    "belongs to another job",
    "out of order",
    "does not authenticate",
    NULL /* "does not authenticate" or, if the claimed sender has no edge, "no such edge" */,
    "in its place" /* a genuine message of another rank (or stage) on this channel */};

typedef struct msg {
    uint8_t *b;
    size_t n;
    struct msg *next;
} msg;

typedef struct relay {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t n;
    msg *head[MAXR][MAXR], *tail[MAXR][MAXR]; /* [from][to] */
    bool aborted;                             /* a rank failed: the host ends the job */
    int timeout_ms;
    enum fault f;
    uint32_t f_stage, f_from, f_to;
    bool f_done;
    msg *record;    /* replay: the message recorded from the earlier job */
    bool recording; /* this run records instead of injecting */
} relay;

typedef struct endpoint {
    relay *r;
    uint32_t self;
} endpoint;

static msg *msg_new(const uint8_t *b, size_t n)
{
    msg *m = calloc(1, sizeof *m);
    if (!m || !(m->b = malloc(n ? n : 1))) abort();
    memcpy(m->b, b, n);
    m->n = n;
    return m;
}

static void msg_free(msg *m)
{
    if (m) free(m->b);
    free(m);
}

static void push_front(relay *r, uint32_t from, uint32_t to, msg *m)
{
    m->next = r->head[from][to];
    r->head[from][to] = m;
    if (!r->tail[from][to]) r->tail[from][to] = m;
}

static int t_send(void *ctx, uint32_t to, const uint8_t *b, size_t n, mc2_err *err)
{
    endpoint *e = ctx;
    relay *r = e->r;
    (void)err;
    msg *m = msg_new(b, n);
    pthread_mutex_lock(&r->mu);
    if (r->tail[e->self][to])
        r->tail[e->self][to]->next = m;
    else
        r->head[e->self][to] = m;
    r->tail[e->self][to] = m;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

/* Pops the next message from -> to (mutex held); NULL on timeout or abort (*err set). */
static msg *pop(relay *r, uint32_t from, uint32_t to, mc2_err *err)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += r->timeout_ms / 1000;
    dl.tv_nsec += (long)(r->timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    while (!r->head[from][to] && !r->aborted)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl)) {
            mc2_err_set(err, MC2_E_IO, "no message from rank %u within %d ms", from, r->timeout_ms);
            return NULL;
        }
    if (r->aborted) {
        mc2_err_set(err, MC2_E_IO, "the host aborted the job");
        return NULL;
    }
    msg *m = r->head[from][to];
    r->head[from][to] = m->next;
    if (!m->next) r->tail[from][to] = NULL;
    m->next = NULL;
    return m;
}

/* Applies the fault to message m (from -> to) if it is the one chosen; may pop more. */
static msg *fault(relay *r, msg *m, uint32_t from, uint32_t to, mc2_err *err)
{
    if (r->f == F_NONE || r->f_done || from != r->f_from || to != r->f_to ||
        mc2_le32_get(m->b + 32) != r->f_stage)
        return m;
    r->f_done = true;
    if (r->recording) {
        r->record = msg_new(m->b, m->n);
        return m;
    }
    switch (r->f) {
    case F_DROP:
        msg_free(m);
        return pop(r, from, to, err);
    case F_DUP:
        push_front(r, from, to, msg_new(m->b, m->n));
        return m;
    case F_REPLAY:
        msg_free(m);
        return msg_new(r->record->b, r->record->n);
    case F_REORDER: {
        msg *m2 = pop(r, from, to, err);
        if (!m2) return msg_free(m), NULL;
        push_front(r, from, to, m);
        return m2;
    }
    case F_FLIP:
        m->b[m->n - 1] ^= 0x04;
        return m;
    case F_MISROUTE: { /* deliver the next message of a third rank instead (3+ ranks) */
        uint32_t o = 0;
        while (o == from || o == to) o++;
        push_front(r, from, to, m);
        return pop(r, o, to, err);
    }
    case F_SENDER: { /* another rank than the true sender */
        uint32_t s = (from + 1) % r->n;
        mc2_le32_put(m->b + 36, s);
        return m;
    }
    default:
        return m;
    }
}

static int t_recv(void *ctx, uint32_t from, uint8_t *buf, size_t cap, size_t *len, mc2_err *err)
{
    endpoint *e = ctx;
    relay *r = e->r;
    int rc = -1;
    pthread_mutex_lock(&r->mu);
    msg *m = pop(r, from, e->self, err);
    if (m) m = fault(r, m, from, e->self, err);
    if (m && m->n > cap)
        mc2_err_set(err, MC2_E_INPUT, "a message of %zu bytes from rank %u (at most %zu)", m->n,
                    from, cap);
    else if (m) {
        memcpy(buf, m->b, m->n);
        *len = m->n;
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    msg_free(m);
    return rc;
}

static int t_flush(void *ctx, mc2_err *err)
{
    (void)ctx;
    (void)err;
    return 0;
}

static void relay_abort(relay *r)
{
    pthread_mutex_lock(&r->mu);
    r->aborted = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void relay_clear(relay *r)
{
    for (uint32_t i = 0; i < MAXR; i++)
        for (uint32_t j = 0; j < MAXR; j++)
            while (r->head[i][j]) {
                msg *m = r->head[i][j];
                r->head[i][j] = m->next;
                msg_free(m);
            }
    memset(r->tail, 0, sizeof r->tail);
    r->aborted = false;
    r->f_done = false;
}

/* ---- the job ----------------------------------------------------------------------------------
 */

typedef struct world {
    uint32_t n;
    size_t nf64;
    uint32_t short_rank; /* this rank's allreduce vectors are one element short (MAXR: none) */
    mc2_mesh_job job;
    uint8_t xpub[MAXR][32], xsec[MAXR][32];
    uint8_t *ev[MAXR];
    size_t ev_len[MAXR];
    mc2_claims claims[MAXR];
    mc2_coll_plan *plan;
} world;

static const mc2_coll_op ops[] = {{MC2_COLL_ALLREDUCE_F64, 0},
                                  {MC2_COLL_ALLREDUCE_I64, 0},
                                  {MC2_COLL_ALLTOALLV, 0},
                                  {MC2_COLL_BCAST, 1},
                                  {MC2_COLL_GATHER, 0}};
#define N_OPS (sizeof ops / sizeof ops[0])

static void world_init(world *w, uint32_t n, size_t nf64)
{
    mc2_err err;
    memset(w, 0, sizeof *w);
    w->n = n;
    w->nf64 = nf64;
    w->short_rank = MAXR;
    CHECK(mc2_random(w->job.job_id, 32, &err) == 0);
    CHECK(mc2_random(w->job.nonce, 32, &err) == 0);
    memcpy(w->job.policy_hash, policy, 32);
    memcpy(w->job.measurement, meas, 32);
    const uint8_t(*keys)[32] = (const uint8_t(*)[32])platform_pub;
    mc2_verifier v = {.sim = {keys, 1}};
    for (uint32_t i = 0; i < n; i++) {
        mc2_claims in = {0};
        memcpy(in.measurement, meas, 32);
        CHECK(mc2_x25519_keygen(w->xpub[i], w->xsec[i], &err) == 0);
        CHECK(mc2_mesh_report_data(w->xpub[i], w->job.nonce, policy, in.report_data, &err) == 0);
        CHECK(mc2_evidence_sim_create(&in, platform_sec, &w->ev[i], &w->ev_len[i], &err) == 0);
        CHECK(mc2_evidence_verify(&v, w->ev[i], w->ev_len[i], &w->claims[i], &err) ==
              MC2_ATTEST_OK);
    }
    w->plan = mc2_coll_plan_make(ops, N_OPS, n, 0, CHUNK, &err);
    CHECK(w->plan != NULL);
}

static void world_free(world *w)
{
    for (uint32_t i = 0; i < w->n; i++) free(w->ev[i]);
    mc2_coll_plan_free(w->plan);
}

static double f64_val(uint32_t rank, size_t e)
{
    return (double)(rank + 1) * 0.1 + (double)e * 1e-3 + 1.0 / (double)(e + 3);
}

static int64_t i64_val(uint32_t rank, size_t e)
{
    return (int64_t)((uint64_t)(rank + 1) * 0x7fffffff12345ull * (e + 1)) - (int64_t)e;
}

static size_t a2a_len(uint32_t i, uint32_t j, uint32_t n)
{
    if (i == 0 && j == n - 1) return 0;
    return 120 + (i * 7 + j * 13) % 80;
}

static uint8_t byte_at(uint32_t i, uint32_t j, size_t k)
{
    return (uint8_t)(i * 31 + j * 17 + k * 7 + (k >> 8));
}

static void fill(uint8_t *b, size_t n, uint32_t i, uint32_t j)
{
    for (size_t k = 0; k < n; k++) b[k] = byte_at(i, j, k);
}

static bool same(const uint8_t *b, size_t n, size_t want, uint32_t i, uint32_t j)
{
    if (n != want) return false;
    for (size_t k = 0; k < n; k++)
        if (b[k] != byte_at(i, j, k)) return false;
    return true;
}

typedef struct rankrun {
    world *w;
    relay *r;
    uint32_t self;
    bool quit;     /* this rank stops before the job */
    bool finished; /* mc2_coll_finish returned 0 */
    bool correct;  /* every result equals the plain computation */
    mc2_err err;
} rankrun;

/* Checks rank rr->self's allreduce results against the plain sum in rank order. */
static bool check_allreduce(const rankrun *rr, const double *f, const int64_t *g)
{
    bool ok = true;
    for (size_t e = 0; e < rr->w->nf64; e++) {
        double want = f64_val(0, e);
        uint64_t iw = (uint64_t)i64_val(0, e);
        for (uint32_t s = 1; s < rr->w->n; s++) {
            want += f64_val(s, e);
            iw += (uint64_t)i64_val(s, e);
        }
        ok &= memcmp(&want, &f[e], 8) == 0 && (uint64_t)g[e] == iw;
    }
    return ok;
}

/* The job at one rank; the collective steps in order, then finish. */
static int job(rankrun *rr, mc2_coll *c)
{
    world *w = rr->w;
    uint32_t n = w->n, me = rr->self;
    size_t nf = w->nf64 - (me == w->short_rank), sl[MAXR], rl[MAXR], gl[MAXR], bl = 150;
    double f[NF64 + 1];
    int64_t g[NF64 + 1];
    uint8_t *sb[MAXR] = {0}, *rb[MAXR] = {0}, *gb[MAXR] = {0}, *bb = NULL, mine[300];
    int rc = -1;
    for (size_t e = 0; e < nf; e++) f[e] = f64_val(me, e), g[e] = i64_val(me, e);
    if (mc2_coll_allreduce_f64(c, nf ? f : NULL, nf, &rr->err) ||
        mc2_coll_allreduce_i64(c, nf ? g : NULL, nf, &rr->err))
        goto out;
    rr->correct = check_allreduce(rr, f, g);
    for (uint32_t j = 0; j < n; j++) {
        sl[j] = a2a_len(me, j, n);
        if (!(sb[j] = malloc(sl[j] + 1))) abort();
        fill(sb[j], sl[j], me, j);
    }
    if (mc2_coll_alltoallv(c, (const uint8_t *const *)sb, sl, rb, rl, &rr->err)) goto out;
    for (uint32_t i = 0; i < n; i++) rr->correct &= same(rb[i], rl[i], a2a_len(i, me, n), i, me);
    if (me == 1) {
        if (!(bb = malloc(bl))) abort();
        fill(bb, bl, 1, 99);
    }
    if (mc2_coll_bcast(c, &bb, &bl, &rr->err)) goto out;
    rr->correct &= same(bb, bl, 150, 1, 99);
    fill(mine, 100 + me * 30, me, 77);
    if (mc2_coll_gather(c, mine, 100 + me * 30, gb, gl, &rr->err)) goto out;
    if (me == 0)
        for (uint32_t i = 0; i < n; i++) rr->correct &= same(gb[i], gl[i], 100 + i * 30, i, 77);
    if (mc2_coll_finish(c, &rr->err)) goto out;
    rc = 0;
out:
    for (uint32_t i = 0; i < MAXR; i++) free(sb[i]), free(rb[i]), free(gb[i]);
    free(bb);
    return rc;
}

static void *rank_main(void *arg)
{
    rankrun *rr = arg;
    world *w = rr->w;
    endpoint ep = {rr->r, rr->self};
    mc2_coll_transport t = {&ep, t_send, t_recv, t_flush};
    mc2_coll *c = NULL;
    if (rr->quit) return NULL;
    mc2_mesh *m = mc2_mesh_new(&w->job, &w->plan->graph, rr->self, w->xsec[rr->self],
                               w->ev[rr->self], w->ev_len[rr->self], &rr->err);
    if (!m) goto out;
    for (uint32_t j = 0; j < w->n; j++)
        if (j != rr->self &&
            mc2_mesh_add_peer(m, j, &w->claims[j], w->ev[j], w->ev_len[j], w->xpub[j], &rr->err))
            goto out;
    if (!(c = mc2_coll_new(m, w->plan, rr->self, &t, &rr->err))) goto out;
    rr->finished = job(rr, c) == 0;
out:
    if (!rr->finished) relay_abort(rr->r); /* what the host of a failed rank does */
    mc2_coll_free(c);
    mc2_mesh_free(m);
    return NULL;
}

/* Runs the job on every rank (threads); rr[] holds each rank's outcome. */
static void run_job(world *w, relay *r, rankrun *rr, uint32_t quit_rank)
{
    pthread_t th[MAXR];
    relay_clear(r);
    r->n = w->n;
    for (uint32_t i = 0; i < w->n; i++) {
        rr[i] = (rankrun){.w = w, .r = r, .self = i, .quit = i == quit_rank};
        if (pthread_create(&th[i], NULL, rank_main, &rr[i])) abort();
    }
    for (uint32_t i = 0; i < w->n; i++) pthread_join(th[i], NULL);
    relay_clear(r);
}

/* ---- the cases ----------------------------------------------------------------------------------
 */

static void test_control(uint32_t n, size_t nf, relay *r)
{
    world w;
    rankrun rr[MAXR];
    world_init(&w, n, nf);
    r->f = F_NONE;
    r->timeout_ms = 20000;
    run_job(&w, r, rr, MAXR);
    for (uint32_t i = 0; i < n; i++) {
        CHECK_MSG(rr[i].finished, "control, %u ranks, %zu elements, rank %u: %s", n, nf, i,
                  rr[i].err.msg);
        CHECK_MSG(rr[i].correct, "control, %u ranks, %zu elements, rank %u: wrong result", n, nf,
                  i);
    }
    printf("  %u ranks, %zu elements: control run passes, results correct, transcripts agree\n", n,
           nf);
    world_free(&w);
}

/* The fault targets: (stage, from, to) with at least two messages on the edge. */
typedef struct target {
    uint32_t stage, from, to;
    const char *what;
} target;

static void test_faults(uint32_t n, relay *r)
{
    /* reduce-scatter both ways: rank 0 sums into its own vector; rank 1 opens rank 0's chunk
     * straight into its running sum */
    static const target tg[] = {{0, 1, 0, "allreduce f64, reduce-scatter"},
                                {0, 0, 1, "allreduce f64, reduce-scatter from rank 0"},
                                {3, 0, 1, "allreduce i64, allgather"},
                                {4, 1, 0, "alltoallv"},
                                {5, 1, 0, "bcast"},
                                {6, 1, 0, "gather"}};
    world old, w;
    rankrun rr[MAXR];
    world_init(&old, n, NF64);
    world_init(&w, n, NF64);
    r->timeout_ms = 20000;
    for (size_t k = 0; k < sizeof tg / sizeof tg[0]; k++) {
        for (int f = F_DROP; f < F_N; f++) {
            if (f == F_MISROUTE && n < 3) continue;
            r->f = (enum fault)f;
            r->f_stage = tg[k].stage;
            r->f_from = tg[k].from;
            r->f_to = tg[k].to;
            if (f == F_REPLAY) { /* the host records the message from an earlier job */
                r->recording = true;
                run_job(&old, r, rr, MAXR);
                r->recording = false;
                CHECK(r->record != NULL && rr[0].finished);
            }
            run_job(&w, r, rr, MAXR);
            char want[40];
            snprintf(want, sizeof want, "integrity error in stage %u", tg[k].stage);
            const mc2_err *e = &rr[tg[k].to].err;
            bool why = fault_reason[f] ? strstr(e->msg, fault_reason[f]) != NULL
                                       : strstr(e->msg, "does not authenticate") ||
                                             strstr(e->msg, "no such edge");
            CHECK_MSG(e->code == MC2_E_AUTH && strstr(e->msg, want) && why,
                      "%u ranks, %s in stage %u (%s): rank %u: '%s'", n, fault_name[f], tg[k].stage,
                      tg[k].what, tg[k].to, e->msg);
            for (uint32_t i = 0; i < n; i++) {
                CHECK_MSG(!rr[i].finished, "%u ranks, %s in stage %u: rank %u finished", n,
                          fault_name[f], tg[k].stage, i);
                CHECK(!strstr(rr[i].err.msg, "SECRET"));
            }
            if (n == 3)
                printf("  %s, stage %u (%s): %s\n", fault_name[f], tg[k].stage, tg[k].what, e->msg);
            msg_free(r->record);
            r->record = NULL;
        }
    }
    r->f = F_NONE;
    world_free(&old);
    world_free(&w);
}

/* A rank that stops: the first rank to time out names it, and its host ends the job (the
 * relay's abort, as MPI_Abort would), which fails every other rank. */
static void test_quit(uint32_t n, relay *r)
{
    world w;
    rankrun rr[MAXR];
    world_init(&w, n, NF64);
    r->f = F_NONE;
    r->timeout_ms = 300;
    run_job(&w, r, rr, 2);
    int timed_out = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i == 2) continue;
        const char *e = rr[i].err.msg;
        bool t = strstr(e, "no message from rank 2 within") != NULL;
        timed_out += t;
        CHECK_MSG(!rr[i].finished && rr[i].err.code == MC2_E_IO && (t || strstr(e, "aborted")),
                  "rank %u: %s", i, e);
        if (t) printf("  %u ranks, rank 2 stopped: rank %u: %s\n", n, i, e);
    }
    CHECK(timed_out >= 1);
    world_free(&w);
}

/* Plans: bad requests are refused; the stage numbering follows the ops. */
static void test_plan(void)
{
    mc2_err err;
    mc2_coll_op big[MC2_COLL_MAX_OPS + 1];
    for (size_t i = 0; i < MC2_COLL_MAX_OPS + 1; i++)
        big[i] = (mc2_coll_op){MC2_COLL_ALLREDUCE_F64, 0};
    CHECK(mc2_coll_plan_make(ops, N_OPS, 1, 0, 0, &err) == NULL);
    CHECK(mc2_coll_plan_make(ops, N_OPS, 65, 0, 0, &err) == NULL);
    CHECK(mc2_coll_plan_make(ops, N_OPS, 2, 2, 0, &err) == NULL);
    CHECK(mc2_coll_plan_make(ops, N_OPS, 2, 0, 100, &err) == NULL); /* not a multiple of 8 */
    CHECK(mc2_coll_plan_make(big, MC2_COLL_MAX_OPS + 1, 2, 0, 0, &err) == NULL);
    mc2_coll_plan *p = mc2_coll_plan_make(big, MC2_COLL_MAX_OPS, 2, 0, 0, &err); /* 8002 stages */
    CHECK(p != NULL);
    mc2_coll_plan_free(p);
    mc2_coll_op bad = {MC2_COLL_BCAST, 5};
    CHECK(mc2_coll_plan_make(&bad, 1, 4, 0, 0, &err) == NULL);
    p = mc2_coll_plan_make(ops, N_OPS, 4, 0, 0, &err);
    CHECK(p != NULL);
    if (p) {
        CHECK(p->first_stage[0] == 0 && p->first_stage[1] == 2 && p->first_stage[2] == 4 &&
              p->first_stage[3] == 5 && p->first_stage[4] == 6 && p->finish_stage == 7);
        CHECK(p->graph.n_stages == 9 && p->graph.n_final == 2);
        CHECK(p->stages[5].edges[1] == 0xd && p->stages[5].edges[0] == 0); /* bcast from 1 */
        CHECK(p->stages[6].edges[3] == 1 && p->stages[6].edges[0] == 0);   /* gather to 0 */
        CHECK(p->stages[8].edges[0] == 0xe);                               /* verdict */
    }
    mc2_coll_plan_free(p);
}

/* An attested peer that breaks the layout (its allreduce vector one element short): every
 * message authenticates, the receiver's length check fails the job naming the stage. */
static void test_layout(uint32_t n, relay *r)
{
    world w;
    rankrun rr[MAXR];
    world_init(&w, n, NF64);
    w.short_rank = n - 1;
    r->f = F_NONE;
    r->timeout_ms = 20000;
    run_job(&w, r, rr, MAXR);
    int found = 0;
    for (uint32_t i = 0; i < n; i++) {
        CHECK(!rr[i].finished);
        found += rr[i].err.code == MC2_E_AUTH &&
                 strstr(rr[i].err.msg, "integrity error in stage 0") &&
                 strstr(rr[i].err.msg, "wrong length");
    }
    CHECK_MSG(found >= 1, "%u ranks, a short vector: %s", n, rr[0].err.msg);
    world_free(&w);
}

/* Calls out of the plan's order are refused, and the context stays failed. */
static void test_order(relay *r)
{
    world w;
    mc2_err err;
    world_init(&w, 2, NF64);
    endpoint ep = {r, 0};
    mc2_coll_transport t = {&ep, t_send, t_recv, t_flush};
    mc2_mesh *m = mc2_mesh_new(&w.job, &w.plan->graph, 0, w.xsec[0], w.ev[0], w.ev_len[0], &err);
    CHECK(m != NULL);
    mc2_coll *c = m ? mc2_coll_new(m, w.plan, 0, &t, &err) : NULL;
    CHECK(c != NULL);
    if (c) {
        uint8_t *b = NULL;
        size_t l = 0;
        CHECK(mc2_coll_bcast(c, &b, &l, &err) == -1 && err.code == MC2_E_USAGE &&
              strstr(err.msg, "declares allreduce (f64)"));
        double v = 1;
        CHECK(mc2_coll_allreduce_f64(c, &v, 1, &err) == -1 && strstr(err.msg, "failed earlier"));
        CHECK(mc2_coll_finish(c, &err) == -1);
    }
    mc2_coll_free(c);
    mc2_mesh_free(m);
    relay_clear(r);
    world_free(&w);
}

int main(void)
{
    mc2_err err;
    relay r = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    CHECK(mc2_ed25519_keygen(platform_pub, platform_sec, &err) == 0);
    memset(meas, 0x11, 32);
    memset(policy, 0x22, 32);
    test_plan();
    test_order(&r);
    for (uint32_t n = 2; n <= MAXR; n++) {
        test_control(n, NF64, &r);
        test_control(n, 1, &r); /* fewer elements than ranks: empty blocks */
        test_control(n, 0, &r);
        test_faults(n, &r);
        if (n > 2) test_quit(n, &r);
        test_layout(n, &r);
    }
    return test_done("test_coll");
}
