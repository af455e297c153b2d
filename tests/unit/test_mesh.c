/* test_mesh.c - the enclave mesh (src/mesh) with N = 2, 3 and 4 ranks in one process over an
 * in-memory host relay that can drop, duplicate, replay (from an earlier job), reorder,
 * bit-flip and re-address messages and views: every fault fails the job with an integrity
 * error naming the stage (and the reason), the control run passes and its views agree. Also
 * the peer-appraisal check with sim evidence. */
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "mc2/attest.h"
#include "mesh/mesh.h"
#include "test.h"

#define MAXR 4
#define MAXQ 64

static uint8_t platform_sec[32], platform_pub[32], meas[32], policy[32];

/* ---- the ranks of one job: keys, evidence (verified claims), the stage graph ------------- */

typedef struct rankkeys {
    uint8_t xpub[32], xsec[32];
    uint8_t *ev;
    size_t ev_len;
    mc2_claims claims; /* verified from ev */
} rankkeys;

typedef struct world {
    uint32_t n;
    mc2_mesh_job job;
    rankkeys rk[MAXR];
    mc2_mesh_stage st[2];
    mc2_mesh_graph g;
} world;

/* Sim evidence of an enclave with measurement m binding (xpub, nonce, pol); verified claims
 * in *c. */
static uint8_t *evidence(const uint8_t *m, const uint8_t *xpub, const uint8_t *nonce,
                         const uint8_t *pol, size_t *len, mc2_claims *c)
{
    mc2_claims in = {0};
    mc2_err err;
    uint8_t *ev = NULL;
    const uint8_t(*keys)[32] = (const uint8_t(*)[32])platform_pub;
    mc2_verifier v = {.sim = {keys, 1}};
    memcpy(in.measurement, m, 32);
    CHECK(mc2_mesh_report_data(xpub, nonce, pol, in.report_data, &err) == 0);
    CHECK(mc2_evidence_sim_create(&in, platform_sec, &ev, len, &err) == 0);
    CHECK(mc2_evidence_verify(&v, ev, *len, c, &err) == MC2_ATTEST_OK);
    return ev;
}

/* Stage 0: all-to-all shuffle; stage 1: gather to rank 0. */
static void world_init(world *w, uint32_t n, uint8_t tag)
{
    mc2_err err;
    memset(w, 0, sizeof *w);
    w->n = n;
    CHECK(mc2_sha256(&tag, 1, w->job.job_id, &err) == 0);
    CHECK(mc2_random(w->job.nonce, 32, &err) == 0);
    memcpy(w->job.policy_hash, policy, 32);
    memcpy(w->job.measurement, meas, 32);
    for (uint32_t i = 0; i < n; i++) {
        rankkeys *r = &w->rk[i];
        CHECK(mc2_x25519_keygen(r->xpub, r->xsec, &err) == 0);
        r->ev = evidence(meas, r->xpub, w->job.nonce, policy, &r->ev_len, &r->claims);
        w->st[0].edges[i] = ((1ull << n) - 1) & ~(1ull << i);
        if (i) w->st[1].edges[i] = 1;
    }
    w->g = (mc2_mesh_graph){n, 2, w->st, 0};
}

static void world_free(world *w)
{
    for (uint32_t i = 0; i < w->n; i++) free(w->rk[i].ev);
}

/* Meshes for every rank, all peers added. */
static int meshes_new(const world *w, mc2_mesh **m)
{
    mc2_err err;
    for (uint32_t i = 0; i < w->n; i++) {
        m[i] = mc2_mesh_new(&w->job, &w->g, i, w->rk[i].xsec, w->rk[i].ev, w->rk[i].ev_len, &err);
        if (!m[i]) return -1;
        for (uint32_t j = 0; j < w->n; j++)
            if (j != i && mc2_mesh_add_peer(m[i], j, &w->rk[j].claims, w->rk[j].ev, w->rk[j].ev_len,
                                            w->rk[j].xpub, &err))
                return -1;
    }
    return 0;
}

static void meshes_free(mc2_mesh **m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) mc2_mesh_free(m[i]);
}

/* ---- the host relay ------------------------------------------------------------------------ */

typedef struct qmsg {
    uint8_t *b;
    size_t n;
    uint32_t to;
} qmsg;

typedef struct queue {
    qmsg q[MAXQ];
    size_t n;
} queue;

enum fault {
    F_NONE,
    F_DROP_FIRST,
    F_DROP_LAST,
    F_DUP,
    F_REPLAY,
    F_REPLAY_REWRITTEN,
    F_REORDER,
    F_FLIP,
    F_SWAP_SENDER,
    F_RESTAGE,
    F_VIEW_FLIP,
    F_VIEW_REPLAY,
    F_VIEW_SWAP,
    F_N
};

static const char *fault_name[F_N] = {"none",
                                      "drop first",
                                      "drop last",
                                      "duplicate",
                                      "replay from earlier job",
                                      "replay, job id rewritten",
                                      "reorder",
                                      "bit flip",
                                      "swap sender",
                                      "restage",
                                      "view bit flip",
                                      "view replay",
                                      "view swap"};

/* The reason each message fault must be reported with. */
static const char *fault_reason[F_N] = {NULL,
                                        "out of order",
                                        "incomplete",
                                        "duplicate",
                                        "belongs to another job",
                                        "does not authenticate",
                                        "out of order",
                                        "does not authenticate",
                                        NULL,
                                        NULL,
                                        "view",
                                        "view",
                                        "view"};

static void q_push(queue *q, const uint8_t *b, size_t n, uint32_t to)
{
    if (q->n == MAXQ) abort();
    q->q[q->n].b = malloc(n);
    if (!q->q[q->n].b) abort();
    memcpy(q->q[q->n].b, b, n);
    q->q[q->n].n = n;
    q->q[q->n++].to = to;
}

static void q_clear(queue *q)
{
    for (size_t i = 0; i < q->n; i++) free(q->q[i].b);
    q->n = 0;
}

static void q_remove(queue *q, size_t k)
{
    free(q->q[k].b);
    memmove(q->q + k, q->q + k + 1, (q->n - k - 1) * sizeof *q->q);
    q->n--;
}

/* Applies a message fault to the stage's queue; old is the same stage of an earlier job. */
static void q_fault(queue *q, enum fault f, const queue *old, uint32_t n_ranks)
{
    qmsg t;
    switch (f) {
    case F_DROP_FIRST:
        q_remove(q, 0);
        break;
    case F_DROP_LAST: /* message 1 is the last of the first edge */
        q_remove(q, 1);
        break;
    case F_DUP:
        q_push(q, q->q[0].b, q->q[0].n, q->q[0].to);
        t = q->q[q->n - 1];
        memmove(q->q + 2, q->q + 1, (q->n - 2) * sizeof *q->q);
        q->q[1] = t;
        break;
    case F_REPLAY:
    case F_REPLAY_REWRITTEN: {
        uint8_t id[32];
        memcpy(id, q->q[0].b, 32);
        free(q->q[0].b);
        q->q[0].b = malloc(old->q[0].n);
        if (!q->q[0].b) abort();
        memcpy(q->q[0].b, old->q[0].b, old->q[0].n);
        q->q[0].n = old->q[0].n;
        if (f == F_REPLAY_REWRITTEN) memcpy(q->q[0].b, id, 32);
        break;
    }
    case F_REORDER:
        t = q->q[0];
        q->q[0] = q->q[1];
        q->q[1] = t;
        break;
    case F_FLIP:
        q->q[0].b[MC2_MESH_HDR_LEN] ^= 0x10;
        break;
    case F_SWAP_SENDER: { /* another rank that is not the receiver if there is one */
        uint32_t s = mc2_le32_get(q->q[0].b + 36), to = q->q[0].to, r = 0;
        while (r == s || (r == to && n_ranks > 2)) r++;
        mc2_le32_put(q->q[0].b + 36, r);
        break;
    }
    case F_RESTAGE: /* claim the other stage */
        mc2_le32_put(q->q[0].b + 32, mc2_le32_get(q->q[0].b + 32) ^ 1u);
        break;
    default:
        break;
    }
}

/* ---- one run of the job --------------------------------------------------------------------- */

typedef struct run {
    enum fault f;
    uint32_t f_stage;     /* the stage whose queue the fault hits */
    uint64_t seed;        /* varies the payloads */
    queue *record;        /* if set: the stages' queues are kept here (2 entries) */
    const queue *old;     /* an earlier job's recorded queues (replay) */
    uint8_t **old_views;  /* an earlier job's views (view replay) */
    uint8_t **keep_views; /* if set: this run's views are kept here */
    uint64_t result;
    mc2_err err;
} run;

static uint64_t value(uint64_t seed, uint32_t i, uint32_t j, int part)
{
    return seed * 1000003u + i * 101u + j * 7u + (uint64_t)part;
}

/* Relays a stage's queue to the ranks (after the fault), then checks completeness. Rank j's
 * received values are summed into acc[j]. */
static int deliver(run *r, mc2_mesh **m, queue *q, uint32_t stage, uint32_t n, uint64_t *acc)
{
    uint8_t pt[64];
    if (r->f_stage == stage) q_fault(q, r->f, r->old ? &r->old[stage] : NULL, n);
    for (size_t k = 0; k < q->n; k++) {
        size_t len;
        uint32_t st, s;
        bool last;
        if (q->q[k].n > sizeof pt + MC2_MESH_OVERHEAD) abort();
        if (mc2_mesh_open(m[q->q[k].to], q->q[k].b, q->q[k].n, pt, &len, &st, &s, &last, &r->err))
            return -1;
        CHECK(len == 8 + 13 && st == stage && memcmp(pt + 8, "SECRETPAYLOAD", 13) == 0);
        acc[q->q[k].to] += mc2_le64_get(pt);
    }
    for (uint32_t j = 0; j < n; j++)
        if (mc2_mesh_stage_complete(m[j], stage, &r->err)) return -1;
    return 0;
}

/* Rank i sends two messages (values a, b; the second last) to rank j in stage. */
static int send2(run *r, mc2_mesh *mi, queue *q, uint32_t stage, uint32_t j, uint64_t a, uint64_t b)
{
    uint8_t pt[21], out[21 + MC2_MESH_OVERHEAD];
    size_t len;
    memcpy(pt + 8, "SECRETPAYLOAD", 13);
    for (int p = 0; p < 2; p++) {
        mc2_le64_put(pt, p ? b : a);
        if (mc2_mesh_seal(mi, stage, j, p == 1, pt, sizeof pt, out, &len, &r->err)) return -1;
        q_push(q, out, len, j);
    }
    return 0;
}

/* Views of ranks 1..n-1 for rank 0, the view fault, and agreement at rank 0. */
static int agree(run *r, mc2_mesh **m, uint32_t n)
{
    size_t vl = MC2_MESH_VIEW_LEN(n), lens[MAXR];
    uint8_t *v[MAXR] = {0};
    int rc = -1;
    for (uint32_t i = 1; i < n; i++) {
        lens[i] = vl;
        if (!(v[i] = malloc(vl))) abort();
        if (mc2_mesh_view(m[i], 0, v[i], vl, &r->err)) goto out;
        if (r->keep_views) memcpy(r->keep_views[i], v[i], vl);
    }
    if (r->f == F_VIEW_FLIP) v[1][100] ^= 1;
    if (r->f == F_VIEW_REPLAY) memcpy(v[1], r->old_views[1], vl);
    if (r->f == F_VIEW_SWAP && n > 2) memcpy(v[1], v[2], vl);
    if (r->f == F_VIEW_SWAP && n == 2) v[1][80] ^= 1; /* the rank field: not a valid view */
    rc = mc2_mesh_agree(m[0], (const uint8_t *const *)v, lens, &r->err);
out:
    for (uint32_t i = 1; i < n; i++) free(v[i]);
    return rc;
}

/* Runs the 2-stage job: 0 with r->result set (rank 0's total), or -1 with r->err. */
static int run_job(const world *w, run *r)
{
    mc2_mesh *m[MAXR] = {0};
    queue q[2] = {0};
    uint64_t acc[MAXR] = {0};
    uint32_t n = w->n;
    int rc = -1;
    mc2_err_clear(&r->err);
    if (meshes_new(w, m)) abort();
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if (i != j &&
                send2(r, m[i], &q[0], 0, j, value(r->seed, i, j, 0), value(r->seed, i, j, 1)))
                goto out;
    if (deliver(r, m, &q[0], 0, n, acc)) goto out;
    for (uint32_t i = 1; i < n; i++)
        if (send2(r, m[i], &q[1], 1, 0, acc[i], 0)) goto out;
    if (deliver(r, m, &q[1], 1, n, acc)) goto out;
    if (agree(r, m, n)) goto out;
    r->result = acc[0];
    rc = 0;
out:
    for (int s = 0; s < 2; s++) {
        if (r->record)
            r->record[s] = q[s];
        else
            q_clear(&q[s]);
    }
    meshes_free(m, n);
    return rc;
}

static uint64_t expected(uint32_t n, uint64_t seed)
{
    uint64_t t = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if (i != j) t += value(seed, i, j, 0) + value(seed, i, j, 1);
    return t;
}

/* ---- the cases ------------------------------------------------------------------------------- */

static void test_faults(uint32_t n)
{
    world old_w, w;
    queue old_q[2] = {0};
    uint8_t *old_views[MAXR] = {0};
    size_t vl = MC2_MESH_VIEW_LEN(n);
    for (uint32_t i = 0; i < MAXR; i++)
        if (!(old_views[i] = malloc(vl))) abort();

    /* An earlier job (another job id and nonce, other keys): recorded by the host. */
    world_init(&old_w, n, 1);
    run r0 = {.f = F_NONE, .seed = 5, .record = old_q, .keep_views = old_views};
    CHECK_MSG(run_job(&old_w, &r0) == 0, "earlier job, %u ranks: %s", n, r0.err.msg);

    world_init(&w, n, 2);
    run c = {.f = F_NONE, .seed = 9};
    CHECK_MSG(run_job(&w, &c) == 0, "control, %u ranks: %s", n, c.err.msg);
    CHECK(c.result == expected(n, 9));
    printf("  %u ranks: control run passes, all views agree (result %llu)\n", n,
           (unsigned long long)c.result);

    for (int f = F_DROP_FIRST; f < F_N; f++) {
        for (uint32_t stage = 0; stage < 2; stage++) {
            if (f >= F_VIEW_FLIP && stage == 1) continue;
            run r = {.f = (enum fault)f,
                     .f_stage = f >= F_VIEW_FLIP ? 9 : stage,
                     .seed = 9,
                     .old = old_q,
                     .old_views = old_views};
            int rc = run_job(&w, &r);
            char want[32];
            /* a restaged message is reported under the stage it claims */
            snprintf(want, sizeof want, "stage %u", f == F_RESTAGE ? stage ^ 1u : stage);
            CHECK_MSG(rc == -1, "%u ranks, %s in stage %u was not detected", n, fault_name[f],
                      stage);
            CHECK_MSG(r.err.code == MC2_E_AUTH && strstr(r.err.msg, "integrity error"),
                      "%u ranks, %s: %s", n, fault_name[f], r.err.msg);
            if (f < F_VIEW_FLIP)
                CHECK_MSG(strstr(r.err.msg, want), "%u ranks, %s in stage %u: %s", n, fault_name[f],
                          stage, r.err.msg);
            if (fault_reason[f])
                CHECK_MSG(strstr(r.err.msg, fault_reason[f]), "%u ranks, %s: want '%s': %s", n,
                          fault_name[f], fault_reason[f], r.err.msg);
            CHECK(!strstr(r.err.msg, "SECRET"));
            if (n == 3) printf("  %s, stage %u: %s\n", fault_name[f], stage, r.err.msg);
        }
    }

    /* A fork: the host runs the same job twice with different inputs and splices rank 2's view
     * of the second run into the first. Every view authenticates; the transcripts disagree. */
    if (n >= 3) {
        uint8_t *fv[MAXR] = {0};
        for (uint32_t i = 0; i < MAXR; i++)
            if (!(fv[i] = malloc(vl))) abort();
        run a = {.f = F_NONE, .seed = 11, .keep_views = fv};
        CHECK(run_job(&w, &a) == 0);
        run b = {.f = F_VIEW_REPLAY, .f_stage = 9, .seed = 12, .old_views = fv};
        CHECK(run_job(&w, &b) == -1);
        CHECK_MSG(strstr(b.err.msg, "transcripts disagree"), "fork: %s", b.err.msg);
        printf("  fork (view of another run of the same job): %s\n", b.err.msg);
        for (uint32_t i = 0; i < MAXR; i++) free(fv[i]);
    }

    for (int s = 0; s < 2; s++) q_clear(&old_q[s]);
    for (uint32_t i = 0; i < MAXR; i++) free(old_views[i]);
    world_free(&old_w);
    world_free(&w);
}

/* The peer-appraisal check: other measurement, other policy, another key, an old nonce. */
static void test_check_peer(void)
{
    world w;
    mc2_err err;
    mc2_claims c;
    uint8_t other[32], xpub2[32], xsec2[32], old_nonce[32];
    size_t len;
    world_init(&w, 2, 3);
    memset(other, 0x5a, 32);
    CHECK(mc2_x25519_keygen(xpub2, xsec2, &err) == 0);
    CHECK(mc2_random(old_nonce, 32, &err) == 0);
    const uint8_t *x = w.rk[1].xpub;
    CHECK(mc2_mesh_check_peer(&w.job, 1, &w.rk[1].claims, x, &err) == 0);
    struct {
        const char *what, *want;
        const uint8_t *m, *bind_key, *nonce, *pol;
    } cases[] = {
        {"other measurement", "wrong measurement", other, x, w.job.nonce, policy},
        {"other policy hash", "does not bind", meas, x, w.job.nonce, other},
        {"evidence binding another key", "does not bind", meas, xpub2, w.job.nonce, policy},
        {"evidence with an old nonce", "does not bind", meas, x, old_nonce, policy},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *ev =
            evidence(cases[k].m, cases[k].bind_key, cases[k].nonce, cases[k].pol, &len, &c);
        mc2_err_clear(&err);
        CHECK_MSG(mc2_mesh_check_peer(&w.job, 1, &c, x, &err) == -1, "%s accepted", cases[k].what);
        CHECK_MSG(err.code == MC2_E_AUTH && strstr(err.msg, cases[k].want) &&
                      strstr(err.msg, "rank 1"),
                  "%s: %s", cases[k].what, err.msg);
        printf("  %s: %s\n", cases[k].what, err.msg);
        /* add_peer runs the same check: the pair gets no keys. */
        mc2_mesh *m = mc2_mesh_new(&w.job, &w.g, 0, w.rk[0].xsec, w.rk[0].ev, w.rk[0].ev_len, &err);
        CHECK(m != NULL);
        CHECK(mc2_mesh_add_peer(m, 1, &c, ev, len, x, &err) == -1);
        uint8_t out[128];
        size_t ol;
        CHECK(mc2_mesh_seal(m, 0, 1, true, (const uint8_t *)"x", 1, out, &ol, &err) == -1);
        mc2_mesh_free(m);
        free(ev);
    }
    /* Claims of another evidence format (SEV-SNP: its 32-byte measurement field is not the
     * launch measurement) are refused even with the right bytes in that field. */
    mc2_claims snp = w.rk[1].claims;
    snp.format = MC2_EVIDENCE_SNP;
    mc2_err_clear(&err);
    CHECK(mc2_mesh_check_peer(&w.job, 1, &snp, x, &err) == -1 && strstr(err.msg, "format 2"));
    world_free(&w);
}

/* Misuse and stickiness: self edges are refused, sealing after last is refused, and after an
 * integrity error every call fails. */
static void test_misc(void)
{
    world w;
    mc2_err err;
    mc2_mesh *m[MAXR] = {0};
    uint8_t out[128], pt[128];
    size_t len, pl;
    uint32_t st, s;
    bool last;
    world_init(&w, 2, 4);
    mc2_mesh_stage bad[1] = {{{1, 0}}};
    mc2_mesh_graph bg = {2, 1, bad, 0};
    CHECK(mc2_mesh_new(&w.job, &bg, 0, w.rk[0].xsec, w.rk[0].ev, w.rk[0].ev_len, &err) == NULL);
    CHECK(meshes_new(&w, m) == 0);
    CHECK(mc2_mesh_seal(m[0], 1, 1, true, pt, 1, out, &len, &err) == -1); /* not an edge */
    CHECK(mc2_mesh_seal(m[0], 0, 1, true, pt, 1, out, &len, &err) == 0);
    CHECK(mc2_mesh_seal(m[0], 0, 1, false, pt, 1, out, &len, &err) == -1); /* after last */
    out[60] ^= 1;
    CHECK(mc2_mesh_open(m[1], out, len, pt, &pl, &st, &s, &last, &err) == -1);
    out[60] ^= 1;
    CHECK(mc2_mesh_open(m[1], out, len, pt, &pl, &st, &s, &last, &err) == -1); /* sticky */
    CHECK(strstr(err.msg, "earlier") != NULL);
    CHECK(mc2_mesh_stage_complete(m[1], 0, &err) == -1);
    CHECK(mc2_mesh_open(m[0], out, 72, pt, &pl, &st, &s, &last, &err) == -1); /* truncated */
    CHECK(strstr(err.msg, "truncated") != NULL);
    meshes_free(m, 2);
    world_free(&w);
}

/* HMAC-SHA256: RFC 4231 test case 2. */
static void test_hmac(void)
{
    static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                     0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                     0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                     0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    uint8_t out[32];
    mc2_err err;
    CHECK(mc2_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, out,
                          &err) == 0);
    CHECK(memcmp(out, want, 32) == 0);
}

int main(void)
{
    mc2_err err;
    CHECK(mc2_ed25519_keygen(platform_pub, platform_sec, &err) == 0);
    memset(meas, 0x11, 32);
    memset(policy, 0x22, 32);
    test_hmac();
    test_check_peer();
    test_misc();
    for (uint32_t n = 2; n <= MAXR; n++) test_faults(n);
    return test_done("test_mesh");
}
