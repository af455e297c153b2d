/* fuzz_coll.c - the collectives' receive side (src/mesh/coll.c) against an attested but
 * hostile peer: rank 1's messages are whatever the input says (stage, last flag, payload),
 * genuinely sealed with rank 1's mesh keys so that they pass the mesh's checks, and rank 0
 * runs the whole job (allreduce f64 and i64, alltoallv, bcast from 1, gather, finish) over
 * them. Input: records of stage u8 | last u8 | len u16 (little-endian) | payload[len]; the
 * first two bytes set the allreduce length. Single-threaded: rank 0's sends go nowhere, its
 * receives take the next queued message or fail at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "mc2/attest.h"
#include "mesh/coll.h"

#define MAXQ  64
#define CHUNK 64

typedef struct q {
    uint8_t *m[MAXQ];
    size_t n[MAXQ], head, tail;
} q;

static int f_send(void *ctx, uint32_t to, const uint8_t *b, size_t n, mc2_err *err)
{
    (void)ctx, (void)to, (void)b, (void)n, (void)err;
    return 0;
}

static int f_recv(void *ctx, uint32_t from, uint8_t *buf, size_t cap, size_t *len, mc2_err *err)
{
    q *qq = ctx;
    (void)from;
    if (qq->head == qq->tail || qq->n[qq->head] > cap)
        return mc2_err_set(err, MC2_E_IO, "no message");
    memcpy(buf, qq->m[qq->head], qq->n[qq->head]);
    *len = qq->n[qq->head++];
    return 0;
}

static int f_flush(void *ctx, mc2_err *err)
{
    (void)ctx, (void)err;
    return 0;
}

static const mc2_coll_op ops[] = {{MC2_COLL_ALLREDUCE_F64, 0},
                                  {MC2_COLL_ALLREDUCE_I64, 0},
                                  {MC2_COLL_ALLTOALLV, 0},
                                  {MC2_COLL_BCAST, 1},
                                  {MC2_COLL_GATHER, 0}};

static struct {
    int ready;
    mc2_mesh_job job;
    uint8_t xpub[2][32], xsec[2][32];
    uint8_t *ev[2];
    size_t ev_len[2];
    mc2_claims claims[2];
    mc2_coll_plan *plan;
} W;

static void setup(void)
{
    mc2_err e;
    uint8_t psec[32], ppub[32];
    if (mc2_ed25519_keygen(ppub, psec, &e)) abort();
    const uint8_t(*keys)[32] = (const uint8_t(*)[32])ppub;
    mc2_verifier v = {.sim = {keys, 1}};
    memset(W.job.job_id, 1, 32);
    memset(W.job.nonce, 2, 32);
    memset(W.job.policy_hash, 3, 32);
    memset(W.job.measurement, 4, 32);
    for (int i = 0; i < 2; i++) {
        mc2_claims in = {0};
        memcpy(in.measurement, W.job.measurement, 32);
        if (mc2_x25519_keygen(W.xpub[i], W.xsec[i], &e) ||
            mc2_mesh_report_data(W.xpub[i], W.job.nonce, W.job.policy_hash, in.report_data, &e) ||
            mc2_evidence_sim_create(&in, psec, &W.ev[i], &W.ev_len[i], &e) ||
            mc2_evidence_verify(&v, W.ev[i], W.ev_len[i], &W.claims[i], &e) != MC2_ATTEST_OK)
            abort();
    }
    if (!(W.plan = mc2_coll_plan_make(ops, 5, 2, 0, CHUNK, &e))) abort();
    W.ready = 1;
}

static mc2_mesh *mesh(uint32_t self)
{
    mc2_err e;
    mc2_mesh *m =
        mc2_mesh_new(&W.job, &W.plan->graph, self, W.xsec[self], W.ev[self], W.ev_len[self], &e);
    if (!m || mc2_mesh_add_peer(m, 1 - self, &W.claims[1 - self], W.ev[1 - self],
                                W.ev_len[1 - self], W.xpub[1 - self], &e))
        abort();
    return m;
}

/* Rank 0's job; every failure just ends it. */
static void job(mc2_coll *c, size_t nf)
{
    mc2_err e;
    double f[40] = {0};
    int64_t g[40] = {0};
    uint8_t s0[3] = {1, 2, 3}, s1[5] = {4, 5, 6, 7, 8}, *rb[2] = {0}, *gb[2] = {0}, *bb = NULL;
    const uint8_t *sb[2] = {s0, s1};
    size_t sl[2] = {3, 5}, rl[2], gl[2], bl = 0;
    if (mc2_coll_allreduce_f64(c, f, nf, &e) || mc2_coll_allreduce_i64(c, g, nf, &e) ||
        mc2_coll_alltoallv(c, sb, sl, rb, rl, &e))
        return;
    free(rb[0]), free(rb[1]);
    if (mc2_coll_bcast(c, &bb, &bl, &e)) return;
    free(bb);
    if (mc2_coll_gather(c, s0, 3, gb, gl, &e)) return;
    free(gb[0]), free(gb[1]);
    (void)mc2_coll_finish(c, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[CHUNK * 16 + MC2_MESH_OVERHEAD];
    mc2_err e;
    q qq = {0};
    if (!W.ready) setup();
    if (size < 2) return 0;
    size_t nf = data[0] % 41;
    data += 2, size -= 2;
    mc2_mesh *m0 = mesh(0), *m1 = mesh(1);
    while (size >= 4 && qq.tail < MAXQ) {
        uint32_t stage = data[0] % 9;
        bool last = data[1] & 1;
        size_t len = mc2_le16_get(data + 2) % (CHUNK * 16);
        data += 4, size -= 4;
        if (len > size) len = size;
        size_t ol;
        if (mc2_mesh_seal(m1, stage, 0, last, data, len, out, &ol, &e) == 0) {
            if (!(qq.m[qq.tail] = malloc(ol))) abort();
            memcpy(qq.m[qq.tail], out, ol);
            qq.n[qq.tail++] = ol;
        }
        data += len, size -= len;
    }
    mc2_coll_transport t = {&qq, f_send, f_recv, f_flush};
    mc2_coll *c = mc2_coll_new(m0, W.plan, 0, &t, &e);
    if (!c) abort();
    job(c, nf);
    mc2_coll_free(c);
    mc2_mesh_free(m0);
    mc2_mesh_free(m1);
    for (size_t i = 0; i < qq.tail; i++) free(qq.m[i]);
    return 0;
}
