/* test_platform_fl_mask.c - masked fedavg rounds (masks secagg) through a real mc2d and sim
 * enclave: a masked round's model equals the unmasked round's on the same updates within
 * the quantisation bound; 2 of 5 participants vanishing after sharing (t = 3) still give the
 * weighted mean of the 3 survivors; 3 vanishing fail the round with a clear status and no
 * model; and each misuse of the stages is refused with its own error. */
#include <math.h>
#include <pthread.h>

#include "base/bytes.h"
#include "conn/conn.h"
#include "conn/fl_mask.h"
#include "fl/fl.h"
#include "fl/mask.h"
#include "mc2/client.h"
#include "test.h"
#include "../tools/pfix.h"
#include "wire/proto.h"

enum { NP = 5, NV = 40 };
static pfix fx;
static mc2_identity ids[NP];
static mc2_client *cl[NP];
static float upd[NP][NV];
static uint64_t wt[NP] = {100, 250, 400, 700, 1000};

static uint64_t start_round(int round, const char *masks, const char *parts, const char *k,
                            const char *t, const char *timeout)
{
    mc2_err err;
    char rs[16];
    snprintf(rs, sizeof rs, "%d", round);
    const char *keys[] = {"participants", "tensors",        "round",          "k",
                          "masks",        "mask_threshold", "stage_timeout_s"};
    const char *vals[] = {parts, "w:8x4,b:8", rs, k, masks, t, timeout};
    size_t np = strcmp(masks, "off") == 0 ? 4 : 7;
    mc2_client_job_spec spec = {
        .kind = "fedavg", .param_keys = keys, .param_values = vals, .nparams = np};
    uint64_t id = 0;
    if (mc2_client_submit(cl[0], &spec, &id, NULL, &err)) pfix_die("start round", &err);
    return id;
}

typedef struct worker {
    int i;
    uint64_t job;
    int vanish;
    int rc;
    mc2_err err;
} worker;

/* A participant that vanishes: its own attested session, the conn-level protocol. */
static int vanishing(worker *w)
{
    mc2_esession s;
    mc2_buf text = {0}, state = {0};
    mc2_job j;
    mc2_fl_round r;
    memset(&j, 0, sizeof j);
    mc2_fl_mask_args a = {.job = w->job,
                          .r = &r,
                          .u = upd[w->i],
                          .weight = wt[w->i],
                          .timeout_ms = 60000,
                          .vanish = w->vanish};
    int rc = -1;
    if (mc2_esession_open(fx.service, &ids[w->i], fx.pol, &s, &w->err)) return -1;
    if (mc2_job_state(&s, w->job, &text, &state, &w->err) ||
        mc2_job_parse((const char *)text.data, text.len, &j, &w->err) ||
        mc2_fl_round_from_job(&j, &r, &w->err) || mc2_sha256(text.data, text.len, a.rid, &w->err))
        goto out;
    a.me = mc2_fl_participant(&r, ids[w->i].name);
    rc = mc2_fl_mask_submit(&s, &a, &w->err);
out:
    mc2_job_free(&j);
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    mc2_esession_close(&s);
    return rc;
}

static void *work(void *p)
{
    worker *w = p;
    w->rc = w->vanish
                ? vanishing(w)
                : mc2_client_fl_submit(cl[w->i], w->job, upd[w->i], NV, wt[w->i], 60000, &w->err);
    return NULL;
}

/* Runs participants who[0..n) at once; vanish[i] as mc2_fl_vanish. Returns how many failed. */
static int run_all(uint64_t job, const int *vanish, worker *w)
{
    pthread_t th[NP];
    for (int i = 0; i < NP; i++) {
        w[i] = (worker){.i = i, .job = job, .vanish = vanish ? vanish[i] : 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int failed = 0;
    for (int i = 0; i < NP; i++) {
        pthread_join(th[i], NULL);
        failed += w[i].rc != 0;
    }
    return failed;
}

static float *model(uint64_t job, mc2_err *err)
{
    float *v = NULL;
    size_t n = 0;
    if (mc2_client_fl_model(cl[0], job, &v, &n, NULL, err)) return NULL;
    CHECK(n == NV);
    return v;
}

/* The weighted mean of the updates of `in`, and the bound of a masked round's error on it:
 * numerator and denominator are each off by at most count * step * max_weight, and the
 * model is float32. */
static void expect(const bool *in, double *mean, double *bound)
{
    const double step = 2 * MC2_FL_CLIPPING_RANGE / (MC2_FL_QUANTIZATION_RANGE - 1);
    double w = 0, cnt = 0;
    for (int i = 0; i < NP; i++)
        if (in[i]) w += (double)wt[i], cnt++;
    double e = cnt * step * MC2_FL_MAX_WEIGHT;
    for (int k = 0; k < NV; k++) {
        double s = 0;
        for (int i = 0; i < NP; i++)
            if (in[i]) s += (double)wt[i] * upd[i][k];
        mean[k] = s / w;
        bound[k] = (e + fabs(mean[k]) * e) / (w - e) + 1e-6 * fabs(mean[k]) + 1e-7;
    }
}

static void test_masked_equals_unmasked(const char *all)
{
    mc2_err err;
    worker w[NP];
    bool in[NP] = {1, 1, 1, 1, 1};
    double mean[NV], bound[NV];
    expect(in, mean, bound);

    uint64_t plain = start_round(1, "off", all, "5", NULL, NULL);
    CHECK(run_all(plain, NULL, w) == 0);
    float *mp = model(plain, &err);
    CHECK_MSG(mp, "unmasked model: %s", err.msg);

    uint64_t masked = start_round(2, "secagg", all, "5", "3", "30");
    int failed = run_all(masked, NULL, w);
    CHECK_MSG(failed == 0, "masked submit: %s", w[0].rc ? w[0].err.msg : w[1].err.msg);
    float *mm = model(masked, &err);
    CHECK_MSG(mm, "masked model: %s", err.msg);
    if (mp && mm) {
        int within = 1, exact = 1;
        for (int k = 0; k < NV; k++) {
            if (fabs((double)mm[k] - (double)mp[k]) > 2 * bound[k] ||
                fabs((double)mm[k] - mean[k]) > bound[k]) {
                within = 0;
                fprintf(stderr, "  value %d: masked %.9g, unmasked %.9g, mean %.9g, bound %.3g\n",
                        k, mm[k], mp[k], mean[k], bound[k]);
            }
            exact &= mm[k] == mp[k];
        }
        CHECK(within);
        CHECK(!exact); /* quantisation is real: the check above could fail */
    }
    mc2_client_free(mp);
    mc2_client_free(mm);
}

static void test_dropouts(const char *all)
{
    mc2_err err;
    worker w[NP];
    /* 2 of 5 vanish after sharing, t = 3: the masked stage closes at its timeout with 3 */
    int vanish2[NP] = {0, MC2_FL_VANISH_AFTER_SHARES, 0, MC2_FL_VANISH_AFTER_SHARES, 0};
    bool in[NP] = {1, 0, 1, 0, 1};
    double mean[NV], bound[NV];
    expect(in, mean, bound);
    uint64_t job = start_round(3, "secagg", all, "3", "3", "3");
    int failed = run_all(job, vanish2, w);
    CHECK_MSG(failed == 0, "dropout round: %s %s %s", w[0].err.msg, w[2].err.msg, w[4].err.msg);
    float *m = model(job, &err);
    CHECK_MSG(m, "dropout model: %s", err.msg);
    if (m) {
        int within = 1;
        for (int k = 0; k < NV; k++) within &= fabs((double)m[k] - mean[k]) <= bound[k];
        CHECK_MSG(within, "the model is not the survivors' weighted mean");
    }
    mc2_client_free(m);

    /* 3 of 5 vanish: 2 survivors < t = 3: the round fails, no model */
    int vanish3[NP] = {0, MC2_FL_VANISH_AFTER_SHARES, MC2_FL_VANISH_AFTER_SHARES,
                       MC2_FL_VANISH_AFTER_SHARES, 0};
    job = start_round(4, "secagg", all, "3", "3", "2");
    failed = run_all(job, vanish3, w);
    CHECK(failed == 2 && w[0].rc != 0 && w[4].rc != 0);
    CHECK_MSG(strstr(w[0].err.msg, "no model released") != NULL, "got: %s", w[0].err.msg);
    m = model(job, &err);
    CHECK(m == NULL);
    CHECK_MSG(strstr(err.msg, "masked input") && strstr(err.msg, "no model released"), "got: %s",
              err.msg);
    mc2_client_free(m);
}

/* EAPI_KIND op on job for party i's own session; the error text in err. */
static int kind(mc2_esession *s, uint64_t job, uint8_t op, const void *body, size_t n, mc2_err *err)
{
    mc2_buf req = {0}, reply = {0};
    int rc = mc2_buf_put_u64(&req, job, err) || mc2_buf_put_u8(&req, op, err) ||
                     mc2_buf_append(&req, body, n, err) ||
                     mc2_esession_call(s, EAPI_KIND, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

static void test_misuse(void)
{
    mc2_err err;
    mc2_esession s[NP];
    for (int i = 0; i < NP; i++)
        if (mc2_esession_open(fx.service, &ids[i], fx.pol, &s[i], &err)) pfix_die("session", &err);
    char four[400];
    snprintf(four, sizeof four, "%s,%s,%s,%s", ids[0].name, ids[1].name, ids[2].name, ids[3].name);
    uint64_t job = start_round(5, "secagg", four, "3", "3", "30");
    uint8_t keys[64] = {9}, shares[4 + 3 * 84] = {0};
    /* not a participant */
    CHECK(kind(&s[4], job, MC2_FL_OP_MASK_KEYS, keys, 64, &err) == -1);
    CHECK_MSG(strstr(err.msg, "not a participant"), "got: %s", err.msg);
    /* wrong size, then duplicate keys */
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_KEYS, keys, 63, &err) == -1);
    CHECK_MSG(strstr(err.msg, "64 bytes"), "got: %s", err.msg);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_KEYS, keys, 64, &err) == 0);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_KEYS, keys, 64, &err) == -1);
    CHECK_MSG(strstr(err.msg, "duplicate"), "got: %s", err.msg);
    /* shares before the shares stage */
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_SHARES, shares, sizeof shares, &err) == -1);
    CHECK_MSG(strstr(err.msg, "at stage keys"), "got: %s", err.msg);
    for (int i = 1; i < 4; i++) CHECK(kind(&s[i], job, MC2_FL_OP_MASK_KEYS, keys, 64, &err) == 0);
    /* shares for a recipient outside the key set (index 4: not a participant) */
    mc2_le32_put(shares, 3);
    for (int k = 0; k < 3; k++) mc2_le32_put(shares + 4 + k * 84, (uint32_t)(k + 1));
    mc2_le32_put(shares + 4 + 2 * 84, 4);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_SHARES, shares, sizeof shares, &err) == -1);
    CHECK_MSG(strstr(err.msg, "participant 4, which is not in"), "got: %s", err.msg);
    /* a share for itself is refused too; the right set is taken once */
    mc2_le32_put(shares + 4 + 2 * 84, 0);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_SHARES, shares, sizeof shares, &err) == -1);
    mc2_le32_put(shares + 4 + 2 * 84, 3);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_SHARES, shares, sizeof shares, &err) == 0);
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_SHARES, shares, sizeof shares, &err) == -1);
    CHECK_MSG(strstr(err.msg, "duplicate"), "got: %s", err.msg);
    /* unmask shares from one whose masked input never came */
    uint8_t um[4 + 36] = {1};
    CHECK(kind(&s[0], job, MC2_FL_OP_MASK_UNMASK, um, sizeof um, &err) == -1);
    CHECK_MSG(strstr(err.msg, "at stage shares"), "got: %s", err.msg);
    CHECK(kind(&s[0], job, 99, NULL, 0, &err) == -1);
    for (int i = 0; i < NP; i++) mc2_esession_close(&s[i]);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    signal(SIGPIPE, SIG_IGN);
    pfix_init(&fx, "flmask");
    const char *names[NP] = {"bank-a", "bank-b", "bank-c", "bank-d", "bank-e"};
    bool rec[NP] = {1, 1, 1, 1, 1};
    for (int i = 0; i < NP; i++) pfix_party(&fx, names[i], &ids[i]);
    pfix_policy(&fx, ids, NP, rec);
    if (pfix_start(&fx, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    for (int i = 0; i < NP; i++) {
        char home[300];
        snprintf(home, sizeof home, "%s/%s", fx.work, names[i]);
        if (mc2_client_open(home, fx.service, fx.policy_path, &cl[i], &err))
            pfix_die("client", &err);
        for (int k = 0; k < NV; k++) upd[i][k] = (float)(sin(i * 1.7 + k * 0.3) * 0.8 + 0.05 * i);
    }
    char all[400];
    snprintf(all, sizeof all, "%s,%s,%s,%s,%s", names[0], names[1], names[2], names[3], names[4]);
    test_masked_equals_unmasked(all);
    test_dropouts(all);
    test_misuse();
    for (int i = 0; i < NP; i++) mc2_client_close(cl[i]);
    return test_done("test_platform_fl_mask");
}
