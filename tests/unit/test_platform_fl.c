/* test_platform_fl.c - fedavg rounds (docs/fl.md) attacked through a real mc2d and its sim
 * enclave, by four parties a, b, c (participants) and d (a party, not a participant):
 *   - k-threshold: with k = 3, two complete updates and one withheld (b sends all but its
 *     last chunk: the host, or b, holds it back) give nothing: before the deadline the status
 *     a participant reads names b as missing; at the deadline the round fails with "only 2 of
 *     3 participants contributed" and no result key exists;
 *   - with k = 2, two updates give, at the deadline, exactly the weighted mean computed here
 *     (weights capped at max_weight);
 *   - rejected: an update of a non-participant, a replay of an update a sent to an earlier
 *     round (another job), an update made for another open round, a tampered weight (the
 *     signature no longer matches), a second update from the same party (duplicate); the
 *     round still takes the honest updates afterwards;
 *   - clipping bounds each update's L2 norm; noise has the documented sigma (empirical
 *     standard deviation over 4096 values) and the report states sigma and epsilon;
 *   - base_job chaining: new = base model + mean; an unknown base and a failed base are
 *     refused at submission with a clear message. */
#include <math.h>

#include "../tools/pfix.h"
#include "base/bytes.h"
#include "client/fl_client.h"
#include "conn/conn.h"
#include "fl/fl.h"
#include "mc2/job.h"
#include "test.h"
#include "wire/proto.h"

enum { A, B, C, D, NP };
static const char *const NAMES[NP] = {"a", "b", "c", "d"};
static pfix F;
static mc2_identity ID[NP];
static mc2_esession S[NP];

typedef struct round_job {
    uint64_t id;
    uint8_t sha[32];
    uint32_t round;
} round_job;

/* Submits a fedavg round (as a) with params k1=v1,... (NULL-terminated pairs). */
static int submit(round_job *rj, const char *const *kv, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "fedavg");
    j.nrecipients = 1;
    strcpy(j.recipients[0], "a");
    char *text = NULL;
    int rc = 0;
    for (size_t i = 0; kv[i] && rc == 0; i += 2) {
        rc = mc2_job_add_param(&j, kv[i], kv[i + 1], err);
        if (strcmp(kv[i], "round") == 0) rj->round = (uint32_t)atoi(kv[i + 1]);
    }
    rc = rc || mc2_job_submit(&S[A], &ID[A], F.pol, &j, &rj->id, &text, err) ||
                 mc2_sha256(text, strlen(text), rj->sha, err)
             ? -1
             : 0;
    mc2_free(text);
    mc2_job_free(&j);
    return rc;
}

/* p's update of values v[0..n) with weight w for round rj (encoded and signed). */
static void make(int p, const round_job *rj, uint64_t w, const float *v, size_t n, mc2_buf *upd,
                 uint8_t sig[64])
{
    mc2_err err;
    if (mc2_fl_update_encode(rj->sha, rj->round, NAMES[p], w, MC2_FL_FORM_FLOAT32, v, n, upd,
                             &err) ||
        mc2_fl_update_sign(ID[p].sec, upd->data, upd->len, sig, &err))
        pfix_die("update", &err);
}

/* p sends upd to job id (chunks of 64 bytes, to exercise reassembly). */
static int put(int p, uint64_t id, const mc2_buf *upd, const uint8_t sig[64], bool last,
               mc2_err *err)
{
    return cli_fl_put(&S[p], id, upd->data, upd->len, sig, 64, last, err);
}

static void state(int p, uint64_t id, char *out, size_t cap)
{
    mc2_err err;
    mc2_buf t = {0}, s = {0};
    if (mc2_job_state(&S[p], id, &t, &s, &err))
        snprintf(out, cap, "error: %s", err.msg);
    else
        snprintf(out, cap, "%s", (const char *)s.data);
    mc2_buf_free(&t);
    mc2_buf_free(&s);
}

/* The model round id released to a (waits for the round to end). */
static int model(uint64_t id, mc2_fl_model *m, mc2_err *err)
{
    mc2_result_ref refs[4];
    size_t n = 0;
    mc2_buf st = {0}, sealed = {0}, plain = {.secret = 1};
    int rc = mc2_job_wait(&S[A], id, true, 60000, NULL, &st, err) ||
                     mc2_esession_results(&S[A], id, refs, 4, &n, err)
                 ? -1
                 : 0;
    const mc2_result_ref *ref = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strstr(refs[i].name, "-model.mc2fl")) ref = &refs[i];
    if (rc == 0 && !ref) rc = mc2_err_set(err, MC2_E_NOTFOUND, "no model result");
    rc = rc || mc2_host_download(F.service, ref->name, &sealed, err) ||
                 mc2_fl_open(ref->key, sealed.data, sealed.len, &plain, err) ||
                 mc2_fl_model_decode(plain.data, plain.len, m, err)
             ? -1
             : 0;
    mc2_buf_free(&st);
    mc2_buf_free(&sealed);
    mc2_buf_free(&plain);
    return rc;
}

static const float UA[5] = {1.5f, -2.25f, 0.125f, 3.0f, -0.5f};
static const float UB[5] = {0.25f, 4.0f, -1.0f, 0.75f, 2.0f};
static const float UC[5] = {-3.0f, 0.5f, 2.5f, -0.25f, 1.0f};

static round_job R1, R2;

/* R1 (k = 3; b withholds) and R2 (k = 2: a and b) run side by side; deadline 2 s each. */
static void threshold_and_mean(void)
{
    mc2_err err;
    const char *kv1[] = {"participants", "a,b,c", "tensors", "w:2x2,b:1", "round", "1", "k", "3",
                         "deadline_s",   "2",     NULL};
    const char *kv2[] = {"participants", "a,b,c", "tensors",    "w:2x2,b:1", "round", "1", "k", "2",
                         "deadline_s",   "2",     "max_weight", "4",         NULL};
    CHECK_MSG(submit(&R1, kv1, &err) == 0, "%s", err.msg);
    CHECK_MSG(submit(&R2, kv2, &err) == 0, "%s", err.msg);
    mc2_buf u = {0};
    uint8_t sig[64];
    make(A, &R1, 10, UA, 5, &u, sig);
    CHECK_MSG(put(A, R1.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(C, &R1, 10, UC, 5, &u, sig);
    CHECK_MSG(put(C, R1.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(B, &R1, 10, UB, 5, &u, sig);
    CHECK_MSG(put(B, R1.id, &u, sig, false, &err) == 0, "%s", err.msg); /* never completes */
    char st[1200];
    state(C, R1.id, st, sizeof st);
    CHECK_MSG(strstr(st, "waiting for updates: 2 of 3 (k = 3) from a, c; missing b"), "%s", st);
    /* R2: a (weight 3) and b (weight 9, capped at max_weight 4) */
    make(A, &R2, 3, UA, 5, &u, sig);
    CHECK_MSG(put(A, R2.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(B, &R2, 9, UB, 5, &u, sig);
    CHECK_MSG(put(B, R2.id, &u, sig, true, &err) == 0, "%s", err.msg);
    state(A, R2.id, st, sizeof st);
    CHECK_MSG(strstr(st, "waiting for updates: 2 of 3 (k = 2)"), "%s", st);
    pfix_sleep_ms(2300);
    state(C, R1.id, st, sizeof st);
    CHECK_MSG(strstr(st, "failed: only 2 of 3 participants contributed by the deadline (k = 3): "
                         "no model released; missing b"),
              "%s", st);
    mc2_result_ref ref;
    size_t n = 0;
    CHECK(mc2_esession_results(&S[A], R1.id, &ref, 1, &n, &err) != 0);
    CHECK_MSG(strstr(err.msg, "no result"), "%s", err.msg);
    /* b's withheld update can no longer complete */
    make(B, &R1, 10, UB, 5, &u, sig);
    CHECK(put(B, R1.id, &u, sig, true, &err) != 0 && strstr(err.msg, "closed"));

    mc2_fl_model m;
    CHECK_MSG(model(R2.id, &m, &err) == 0, "%s", err.msg);
    if (m.values) {
        CHECK(m.rep.contributors == 2 && m.rep.total_weight == 7.0 && m.rep.sigma == 0);
        CHECK(m.shape.nvalues == 5 && isinf(m.rep.epsilon));
        for (size_t i = 0; i < 5; i++) {
            double s = 3.0 * (double)UA[i] + 4.0 * (double)UB[i];
            float want = (float)(0.0 + 1.0 * s / 7.0);
            CHECK_MSG(m.values[i] == want, "value %zu: %.9g, want %.9g", i, m.values[i], want);
        }
    }
    mc2_fl_model_free(&m);
    mc2_buf_free(&u);
}

/* Every rejection on an open round R3, then the honest updates still complete it. */
static void rejections(void)
{
    mc2_err err;
    round_job r3, r4;
    const char *kv3[] = {"participants", "a,b,c", "tensors", "w:2x2,b:1", "round", "2", "k", "3",
                         "base_job",     NULL,    NULL};
    char base[24];
    snprintf(base, sizeof base, "%llu", (unsigned long long)R2.id);
    kv3[9] = base;
    const char *kv4[] = {
        "participants", "a,b,c", "tensors", "w:2x2,b:1", "round", "2", "k", "2", NULL};
    CHECK_MSG(submit(&r3, kv3, &err) == 0, "%s", err.msg);
    CHECK_MSG(submit(&r4, kv4, &err) == 0, "%s", err.msg);
    mc2_buf u = {0};
    uint8_t sig[64];
    /* d is a party but not a participant */
    make(D, &r3, 1, UA, 5, &u, sig);
    CHECK(put(D, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "d is not a participant"), "%s", err.msg);
    /* replay: the update a sent to R2 (round 1, another job) */
    make(A, &R2, 3, UA, 5, &u, sig);
    CHECK(put(A, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "made for another job"), "%s", err.msg);
    /* an update for another open round (r4) */
    make(A, &r4, 3, UA, 5, &u, sig);
    CHECK(put(A, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "made for another job"), "%s", err.msg);
    /* tampered weight: signed with weight 2, sent with weight 1000 */
    make(A, &r3, 2, UA, 5, &u, sig);
    size_t woff = 8 + 32 + 4 + 4 + 1; /* magic, job hash, round, party LV ("a") */
    CHECK(mc2_le64_get(u.data + woff) == 2);
    mc2_le64_put(u.data + woff, 1000);
    CHECK(put(A, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "signature is not a's"), "%s", err.msg);
    /* b sends a's update (signed by a) as its own */
    make(A, &r3, 2, UA, 5, &u, sig);
    CHECK(put(B, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "signature is not b's"), "%s", err.msg);
    /* the honest update, then a duplicate */
    CHECK_MSG(put(A, r3.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(A, &r3, 5, UC, 5, &u, sig);
    CHECK(put(A, r3.id, &u, sig, true, &err) != 0);
    CHECK_MSG(strstr(err.msg, "already contributed"), "%s", err.msg);
    char st[1200];
    state(B, r3.id, st, sizeof st);
    CHECK_MSG(strstr(st, "1 of 3 (k = 3) from a; missing b, c"), "%s", st);
    make(B, &r3, 2, UB, 5, &u, sig);
    CHECK_MSG(put(B, r3.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(C, &r3, 4, UC, 5, &u, sig);
    CHECK_MSG(put(C, r3.id, &u, sig, true, &err) == 0, "%s", err.msg);
    /* all three contributed: released at once; base_job chaining: R2's model + the mean */
    mc2_fl_model base_m, m;
    CHECK_MSG(model(R2.id, &base_m, &err) == 0, "%s", err.msg);
    CHECK_MSG(model(r3.id, &m, &err) == 0, "%s", err.msg);
    if (m.values && base_m.values) {
        CHECK(m.rep.contributors == 3 && m.rep.total_weight == 8.0 && m.rep.round == 2);
        for (size_t i = 0; i < 5; i++) {
            double s = 2.0 * (double)UA[i] + 2.0 * (double)UB[i] + 4.0 * (double)UC[i];
            float want = (float)((double)base_m.values[i] + 1.0 * s / 8.0);
            CHECK_MSG(m.values[i] == want, "value %zu: %.9g, want %.9g", i, m.values[i], want);
        }
    }
    mc2_fl_model_free(&m);
    mc2_fl_model_free(&base_m);
    mc2_buf_free(&u);
    /* bases that are not there */
    round_job bad;
    const char *kv5[] = {"participants", "a,b",   "tensors", "w:2x2,b:1", "round", "3", "k", "2",
                         "base_job",     "99999", NULL};
    CHECK(submit(&bad, kv5, &err) != 0);
    CHECK_MSG(strstr(err.msg, "'base_job': job 99999 is not a fedavg round of this enclave"), "%s",
              err.msg);
    snprintf(base, sizeof base, "%llu", (unsigned long long)R1.id);
    kv5[9] = base;
    CHECK(submit(&bad, kv5, &err) != 0);
    CHECK_MSG(strstr(err.msg, "failed and released no model"), "%s", err.msg);
    const char *kv6[] = {"participants", "a,b", "tensors", "w:5", "round", "3", "k", "2",
                         "base_job",     NULL,  NULL};
    snprintf(base, sizeof base, "%llu", (unsigned long long)R2.id);
    kv6[9] = base;
    CHECK(submit(&bad, kv6, &err) != 0);
    CHECK_MSG(strstr(err.msg, "model has tensors w:2x2,b:1, this round w:5"), "%s", err.msg);
}

/* Clipping to clip_norm, and the noise's sigma. */
static void clipping_and_noise(void)
{
    mc2_err err;
    round_job rc_, rn;
    const char *kvc[] = {"participants", "a,b", "tensors", "v:4", "round", "1", "k", "2",
                         "clip_norm",    "1",   NULL};
    CHECK_MSG(submit(&rc_, kvc, &err) == 0, "%s", err.msg);
    const float big[4] = {6, 8, 0, 0};         /* norm 10: clipped to 1 */
    const float small[4] = {0.3f, 0.4f, 0, 0}; /* norm 0.5: kept */
    mc2_buf u = {0};
    uint8_t sig[64];
    make(A, &rc_, 1, big, 4, &u, sig);
    CHECK_MSG(put(A, rc_.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(B, &rc_, 1, small, 4, &u, sig);
    CHECK_MSG(put(B, rc_.id, &u, sig, true, &err) == 0, "%s", err.msg);
    mc2_fl_model m;
    CHECK_MSG(model(rc_.id, &m, &err) == 0, "%s", err.msg);
    if (m.values) {
        CHECK_MSG(fabsf(m.values[0] - 0.45f) < 1e-6f && fabsf(m.values[1] - 0.6f) < 1e-6f &&
                      m.values[2] == 0 && m.values[3] == 0,
                  "clipped mean %g %g", m.values[0], m.values[1]);
    }
    mc2_fl_model_free(&m);

    /* noise: z = 0.5, clip 1, max_weight 10: sigma = 5 on the sum; W = 2; zero updates */
    const char *kvn[] = {
        "participants", "a,b", "tensors",          "v:64x64", "round",      "1",  "k", "2",
        "clip_norm",    "1",   "noise_multiplier", "0.5",     "max_weight", "10", NULL};
    CHECK_MSG(submit(&rn, kvn, &err) == 0, "%s", err.msg);
    float *zero = mc2_calloc(4096, sizeof *zero);
    make(A, &rn, 1, zero, 4096, &u, sig);
    CHECK_MSG(put(A, rn.id, &u, sig, true, &err) == 0, "%s", err.msg);
    make(B, &rn, 1, zero, 4096, &u, sig);
    CHECK_MSG(put(B, rn.id, &u, sig, true, &err) == 0, "%s", err.msg);
    CHECK_MSG(model(rn.id, &m, &err) == 0, "%s", err.msg);
    if (m.values) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < 4096; i++) {
            s += m.values[i];
            s2 += (double)m.values[i] * m.values[i];
        }
        double mean = s / 4096, sd = sqrt(s2 / 4096 - mean * mean) * 2.0; /* times W */
        CHECK_MSG(fabs(sd - 5.0) < 0.4 && fabs(mean) < 0.2, "noise sd on the sum %.3f (want 5)",
                  sd);
        CHECK(m.rep.sigma == 5.0);
        double eps = sqrt(2 * log(1.25 / 1e-5)) / 0.5;
        CHECK_MSG(fabs(m.rep.epsilon - eps) < 1e-9, "epsilon %g", m.rep.epsilon);
    }
    mc2_fl_model_free(&m);
    mc2_free(zero);
    mc2_buf_free(&u);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    pfix_init(&F, "fl");
    for (int i = 0; i < NP; i++) pfix_party(&F, NAMES[i], &ID[i]);
    bool rcpt[NP] = {true, false, false, false};
    pfix_policy(&F, ID, NP, rcpt);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    for (int i = 0; i < NP; i++)
        if (mc2_esession_open(F.service, &ID[i], F.pol, &S[i], &err)) pfix_die("session", &err);
    threshold_and_mean();
    rejections();
    clipping_and_noise();
    for (int i = 0; i < NP; i++) {
        mc2_esession_close(&S[i]);
        mc2_identity_free(&ID[i]);
    }
    return test_done("test_platform_fl");
}
