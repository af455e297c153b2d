/* test_gbdt_obliv.c - unit tests of the oblivious GBDT engine: oblivious prediction equals
 * mc2_gbdt_predict bit for bit (models from normal training, all objectives, missing
 * values); oblivious training builds complete trees of depth max_depth that both predictors
 * agree on, that learn, and that survive save/load and JSON export; its two histogram
 * methods (one-hot, sort) build bit-identical models; bad parameters are rejected; the
 * oblivious jobs' label and infinity checks agree with the enclave's branchy ones. (The
 * obliviousness proofs are tests/obliv/probe_gbdt.c.) */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"
#include "test.h"

static uint64_t rs = 88172645463325252ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-53;
}

/* n x d features (some NaN), labels for the objective from a simple rule plus noise. */
static void make_set(size_t n, size_t d, enum mc2_gbdt_objective o, uint32_t ncls, double nan_frac,
                     float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < d; f++) {
            x[i * d + f] = (float)(urand() * 4.0 - 2.0);
            if (urand() < nan_frac) x[i * d + f] = NAN;
        }
        float a = x[i * d], b = x[i * d + 1 % d];
        float s = (a == a ? a : 0.5f) + 0.5f * (b == b ? b : -0.5f);
        if (o == MC2_GBDT_REG_SQUAREDERROR)
            y[i] = 3.0f * s + (float)(urand() * 0.2 - 0.1);
        else if (o == MC2_GBDT_BINARY_LOGISTIC)
            y[i] = s > 0.1f ? 1.0f : 0.0f;
        else {
            int k = s < -0.7f ? 0 : s < 0.7f ? 1 : 2;
            y[i] = (float)(k % (int)ncls);
        }
    }
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Equal within 8 float ulps relative (|a - b| <= 1e-6 |a|), or both tiny. */
static int close_rel(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > 1e-6 * fabs((double)a[i]) && d > 1e-30) return 0;
    }
    return 1;
}

static void check_predictors_agree(const mc2_gbdt_model *m, const float *x, size_t n, size_t d,
                                   const char *what)
{
    uint32_t K = mc2_gbdt_model_ngroup(m);
    float *a = mc2_malloc(n * K * sizeof(float)), *b = mc2_malloc(n * K * sizeof(float));
    CHECK(a && b);
    if (!a || !b) goto out;
    for (int margin = 0; margin < 2; margin++) {
        mc2_err err;
        mc2_err_clear(&err);
        CHECK(mc2_gbdt_predict(m, x, n, d, margin, a, &err) == 0);
        memset(b, 0xa5, n * K * sizeof(float));
        CHECK(mc2_gbdt_predict_oblivious(m, x, n, d, margin, 1, b, &err) == 0);
        /* margins bit for bit; probabilities up to rounding (the oblivious transform uses a
         * table-free exp, not libm's expf) */
        CHECK_MSG(margin ? same_bits(a, b, n * K) : close_rel(a, b, n * K),
                  "%s, margin %d: oblivious != normal prediction", what, margin);
        /* two threads (row ranges): the same bits as one */
        float *c = mc2_malloc(n * K * sizeof(float));
        CHECK(c && mc2_gbdt_predict_oblivious(m, x, n, d, margin, 2, c, &err) == 0);
        CHECK_MSG(c && same_bits(b, c, n * K), "%s, margin %d: 1 and 2 threads differ", what,
                  margin);
        mc2_free(c);
    }
out:
    mc2_free(a);
    mc2_free(b);
}

/* Oblivious prediction of models from normal training: all objectives, NaNs, depths. */
static void test_predict_normal_models(void)
{
    const size_t n = 300, d = 4;
    float *x = mc2_malloc(n * d * sizeof(float)), *y = mc2_malloc(n * sizeof(float));
    CHECK(x && y);
    enum mc2_gbdt_objective objs[3] = {MC2_GBDT_REG_SQUAREDERROR, MC2_GBDT_BINARY_LOGISTIC,
                                       MC2_GBDT_MULTI_SOFTPROB};
    for (int oi = 0; oi < 3; oi++) {
        make_set(n, d, objs[oi], 3, 0.15, x, y);
        mc2_gbdt_params p;
        mc2_gbdt_params_default(&p);
        p.objective = objs[oi];
        if (objs[oi] == MC2_GBDT_MULTI_SOFTPROB) p.num_class = 3;
        p.num_round = 8;
        p.max_depth = (uint32_t)(3 + oi);
        p.nthread = 1;
        mc2_gbdt_data data = {x, y, NULL, n, d};
        mc2_err err;
        mc2_err_clear(&err);
        mc2_gbdt_model *m = NULL;
        CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == 0);
        if (!m) continue;
        /* normal training stops early: trees are not complete */
        int incomplete = 0;
        for (size_t t = 0; t < m->n_trees; t++)
            incomplete |= m->trees[t].n_nodes != (2u << p.max_depth) - 1;
        CHECK(incomplete);
        check_predictors_agree(m, x, n, d, mc2_gbdt_objective_name(objs[oi]));
        /* rows with NaN everywhere, and -0.0 against a cut */
        float z[2 * 4] = {NAN, NAN, NAN, NAN, -0.0f, 0.0f, -0.0f, 0.0f};
        check_predictors_agree(m, z, 2, d, "special rows");
        float bad[4];
        CHECK(mc2_gbdt_predict_oblivious(m, bad, 1, 3, 1, 1, bad, &err) == -1);
        mc2_gbdt_model_free(m);
    }
    mc2_free(x);
    mc2_free(y);
}

static double std_of(const float *y, size_t n)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += y[i];
    for (size_t i = 0; i < n; i++) s2 += (y[i] - s / (double)n) * (y[i] - s / (double)n);
    return sqrt(s2 / (double)n);
}

static mc2_gbdt_model *obl_train(enum mc2_gbdt_objective o, uint32_t depth, const float *x,
                                 const float *y, const float *w, size_t n, size_t d)
{
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    mc2_err_clear(&err);
    CHECK(mc2_gbdt_params_set(&p, "oblivious", "true", &err) == 0);
    CHECK(p.oblivious == 1);
    p.objective = o;
    if (o == MC2_GBDT_MULTI_SOFTPROB) p.num_class = 3;
    p.num_round = 10;
    p.max_depth = depth;
    p.max_bin = 16;
    p.nthread = depth % 2 + 1; /* depth 3: two threads (row ranges), else one */
    mc2_gbdt_data data = {x, y, w, n, d};
    mc2_gbdt_model *m = NULL;
    int rc = mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err);
    CHECK_MSG(rc == 0, "oblivious training failed: %s", err.msg);
    if (!m) return NULL;
    CHECK(m->n_trees == (size_t)p.num_round * mc2_gbdt_model_ngroup(m));
    for (size_t t = 0; t < m->n_trees; t++) {
        const mc2_gbdt_tree *tr = &m->trees[t];
        CHECK(tr->n_nodes == (2u << depth) - 1);
        for (uint32_t j = 0; j < tr->n_nodes; j++) {
            int internal = j < (1u << depth) - 1;
            CHECK(tr->nodes[j].left == (internal ? (int32_t)(2 * j + 1) : -1));
            CHECK(tr->nodes[j].right == (internal ? (int32_t)(2 * j + 2) : -1));
            CHECK(isfinite(tr->nodes[j].cond));
        }
    }
    return m;
}

static void test_train(void)
{
    const size_t n = 400, d = 3;
    float *x = mc2_malloc(n * d * sizeof(float)), *y = mc2_malloc(n * sizeof(float));
    float *pr = mc2_malloc(n * 3 * sizeof(float)), *w = mc2_malloc(n * sizeof(float));
    CHECK(x && y && pr && w);
    mc2_err err;
    mc2_err_clear(&err);

    /* binary: separable up to the NaNs */
    make_set(n, d, MC2_GBDT_BINARY_LOGISTIC, 0, 0.05, x, y);
    mc2_gbdt_model *m = obl_train(MC2_GBDT_BINARY_LOGISTIC, 3, x, y, NULL, n, d);
    if (m) {
        check_predictors_agree(m, x, n, d, "oblivious binary model");
        CHECK(mc2_gbdt_predict(m, x, n, d, 0, pr, &err) == 0);
        double auc = mc2_gbdt_metric(MC2_GBDT_METRIC_AUC, pr, y, NULL, n, 1);
        CHECK_MSG(auc > 0.9, "auc %g", auc);
        /* save/load and JSON */
        mc2_buf b = {0};
        CHECK(mc2_gbdt_model_save(m, &b, &err) == 0);
        mc2_gbdt_model *m2 = NULL;
        CHECK(mc2_gbdt_model_load(b.data, b.len, &m2, &err) == 0);
        if (m2) {
            float *pr2 = mc2_malloc(n * sizeof(float));
            CHECK(pr2 && mc2_gbdt_predict(m2, x, n, d, 0, pr2, &err) == 0);
            CHECK(pr2 && same_bits(pr, pr2, n));
            mc2_free(pr2);
            mc2_gbdt_model_free(m2);
        }
        mc2_buf_free(&b);
        CHECK(mc2_gbdt_model_to_json(m, &b, &err) == 0);
        CHECK(b.len > 100);
        mc2_buf_free(&b);
        mc2_gbdt_model_free(m);
    }

    /* regression with weights: RMSE well below the label's spread */
    make_set(n, d, MC2_GBDT_REG_SQUAREDERROR, 0, 0.0, x, y);
    for (size_t i = 0; i < n; i++) w[i] = (float)(0.5 + urand());
    m = obl_train(MC2_GBDT_REG_SQUAREDERROR, 4, x, y, w, n, d);
    if (m) {
        check_predictors_agree(m, x, n, d, "oblivious regression model");
        CHECK(mc2_gbdt_predict(m, x, n, d, 0, pr, &err) == 0);
        double rmse = mc2_gbdt_metric(MC2_GBDT_METRIC_RMSE, pr, y, NULL, n, 1);
        double sd = std_of(y, n);
        CHECK_MSG(rmse < 0.3 * sd, "rmse %g, std %g", rmse, sd);
        mc2_gbdt_model_free(m);
    }

    /* multiclass */
    make_set(n, d, MC2_GBDT_MULTI_SOFTPROB, 3, 0.05, x, y);
    m = obl_train(MC2_GBDT_MULTI_SOFTPROB, 2, x, y, NULL, n, d);
    if (m) {
        check_predictors_agree(m, x, n, d, "oblivious multiclass model");
        CHECK(mc2_gbdt_predict(m, x, n, d, 0, pr, &err) == 0);
        double me = mc2_gbdt_metric(MC2_GBDT_METRIC_MERROR, pr, y, NULL, n, 3);
        CHECK_MSG(me < 0.15, "merror %g", me);
        mc2_gbdt_model_free(m);
    }

    /* a constant label: nothing to split, every tree is pass-throughs (still complete) */
    for (size_t i = 0; i < n; i++) y[i] = 1.0f;
    m = obl_train(MC2_GBDT_REG_SQUAREDERROR, 2, x, y, NULL, n, d);
    if (m) {
        CHECK(m->trees[0].nodes[0].cond == 3.40282347e38f && m->trees[0].nodes[0].loss_chg == 0);
        check_predictors_agree(m, x, n, d, "pass-through model");
        mc2_gbdt_model_free(m);
    }
    mc2_free(x);
    mc2_free(y);
    mc2_free(pr);
    mc2_free(w);
}

static void test_bad_params(void)
{
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    mc2_err_clear(&err);
    CHECK(p.oblivious == 0);
    CHECK(mc2_gbdt_params_set(&p, "oblivious", "1", &err) == 0 && p.oblivious == 1);
    CHECK(mc2_gbdt_params_set(&p, "oblivious", "false", &err) == 0 && p.oblivious == 0);
    CHECK(mc2_gbdt_params_set(&p, "oblivious", "0", &err) == 0 && p.oblivious == 0);
    CHECK(mc2_gbdt_params_set(&p, "oblivious", "yes", &err) == -1);
    CHECK(mc2_gbdt_params_set(&p, "oblivous", "1", &err) == -1 && strstr(err.msg, "oblivious"));
    p.oblivious = 2;
    CHECK(mc2_gbdt_params_check(&p, &err) == -1);
    p.oblivious = 1;
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[4] = {0, 1, 0, 2};
    mc2_gbdt_data data = {x, y, NULL, 4, 2};
    mc2_gbdt_model *m = NULL;
    p.objective = MC2_GBDT_BINARY_LOGISTIC; /* label 2 is invalid */
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == -1 && !m);
    y[3] = 1;
    x[5] = INFINITY;
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == -1 && !m);
    x[5] = 6;
    float wt[4] = {1, -1, 1, 1};
    data.w = wt;
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == -1 && !m);
    data.w = NULL;
    p.objective = MC2_GBDT_MULTI_SOFTPROB;
    p.num_class = 2;
    y[3] = 1.5f;
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == -1 && !m);
    y[3] = 1;
    p.max_depth = 16;
    p.max_bin = 65535;
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == -1 && !m);
    p.max_depth = 2;
    p.max_bin = 4;
    CHECK(mc2_gbdt_train(&p, &data, NULL, NULL, NULL, &m, &err) == 0 && m);
    mc2_gbdt_model_free(m);
}

/* Whether two models have the same trees, node for node, bit for bit. */
static int same_trees(const mc2_gbdt_model *a, const mc2_gbdt_model *b)
{
    if (a->n_trees != b->n_trees) return 0;
    for (size_t t = 0; t < a->n_trees; t++) {
        const mc2_gbdt_tree *x = &a->trees[t], *y = &b->trees[t];
        if (x->n_nodes != y->n_nodes || x->group != y->group ||
            memcmp(x->nodes, y->nodes, x->n_nodes * sizeof *x->nodes) != 0)
            return 0;
    }
    return 1;
}

/* The sort histograms equal the one-hot ones: on one thread both sum each cell's rows in row
 * order, so the models are bit-identical, for every objective, with missing values, weights,
 * subsample and colsample (feature 0 excluded in some trees), at depths where a level's cells
 * outnumber its rows. The sort method on two threads (one feature per task) gives the same
 * model again. */
static void test_hist_methods(void)
{
    size_t n = 300, d = 5;
    float *x = mc2_malloc(n * d * sizeof *x), *y = mc2_malloc(n * sizeof *y);
    float *w = mc2_malloc(n * sizeof *w);
    CHECK(x && y && w);
    if (!x || !y || !w) goto out;
    for (size_t i = 0; i < n; i++) w[i] = (float)(0.5 + urand());
    static const enum mc2_gbdt_objective objs[3] = {
        MC2_GBDT_REG_SQUAREDERROR, MC2_GBDT_BINARY_LOGISTIC, MC2_GBDT_MULTI_SOFTPROB};
    for (int k = 0; k < 3; k++) {
        make_set(n, d, objs[k], 3, 0.1, x, y);
        mc2_gbdt_params p;
        mc2_gbdt_params_default(&p);
        p.oblivious = 1;
        p.objective = objs[k];
        if (objs[k] == MC2_GBDT_MULTI_SOFTPROB) p.num_class = 3;
        p.num_round = 4;
        p.max_depth = k == 1 ? 7 : 4; /* depth 7: 64 nodes x 17 slots > 300 rows */
        p.max_bin = 16;
        p.subsample = 0.8f;
        p.colsample_bytree = 0.6f;
        p.nthread = 1;
        mc2_err err;
        mc2_err_clear(&err);
        CHECK(mc2_gbdt_params_check(&p, &err) == 0);
        mc2_gbdt_data data = {x, y, w, n, d};
        mc2_gbdt_model *m1 = NULL, *m2 = NULL, *m3 = NULL;
        CHECK(gbdt_train_oblivious(&p, &data, NULL, NULL, NULL, GBDT_OBL_HIST_ONEHOT, &m1, &err) ==
              0);
        CHECK(gbdt_train_oblivious(&p, &data, NULL, NULL, NULL, GBDT_OBL_HIST_SORT, &m2, &err) ==
              0);
        p.nthread = 2;
        CHECK(gbdt_train_oblivious(&p, &data, NULL, NULL, NULL, GBDT_OBL_HIST_SORT, &m3, &err) ==
              0);
        CHECK_MSG(m1 && m2 && same_trees(m1, m2), "%s: sort and one-hot models differ",
                  mc2_gbdt_objective_name(objs[k]));
        CHECK_MSG(m2 && m3 && same_trees(m2, m3), "%s: sort on 1 and 2 threads differ",
                  mc2_gbdt_objective_name(objs[k]));
        /* and the trees split: a model of pass-throughs only would agree trivially */
        int splits = 0;
        for (size_t t = 0; m2 && t < m2->n_trees; t++)
            splits += m2->trees[t].nodes[0].cond != 3.40282347e38f;
        CHECK_MSG(splits > 0, "%s: no tree splits", mc2_gbdt_objective_name(objs[k]));
        mc2_gbdt_model_free(m1);
        mc2_gbdt_model_free(m2);
        mc2_gbdt_model_free(m3);
    }
out:
    mc2_free(x);
    mc2_free(y);
    mc2_free(w);
}

/* The enclave's label check of encryption mode (jobs_gbdt.c check_labels): the reason the
 * first bad label is bad, 0..3 as mc2_gbdt_labels_check_oblivious. */
static unsigned labels_ref(const mc2_gbdt_params *p, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return 1;
        if (p->objective == MC2_GBDT_BINARY_LOGISTIC && (y[i] < 0.0f || y[i] > 1.0f)) return 2;
        if (p->objective == MC2_GBDT_MULTI_SOFTPROB &&
            (y[i] < 0.0f || y[i] >= (float)p->num_class || y[i] != floorf(y[i])))
            return 3;
    }
    return 0;
}

/* The input checks of oblivious jobs against their branchy originals, on random arrays
 * salted with every kind of bad value (the obliviousness proof is tests/obliv/probe_decode.c). */
static void test_input_checks(void)
{
    static const float odd[] = {NAN,  INFINITY, -INFINITY, -0.0f, 0.0f,  1.0f,  2.0f,
                                2.5f, -1.0f,    0.5f,      3.0f,  -0.5f, 1e30f, 0x1p-140f};
    float y[16], x[16 * 3];
    unsigned seen[4] = {0};
    for (int round = 0; round < 3000; round++) {
        mc2_gbdt_params p;
        mc2_gbdt_params_default(&p);
        p.objective = round % 3 == 0   ? MC2_GBDT_BINARY_LOGISTIC
                      : round % 3 == 1 ? MC2_GBDT_MULTI_SOFTPROB
                                       : MC2_GBDT_REG_SQUAREDERROR;
        p.num_class = p.objective == MC2_GBDT_MULTI_SOFTPROB ? 3 : 1;
        size_t n = 1 + (size_t)(urand() * 16);
        for (size_t i = 0; i < n; i++) {
            y[i] = urand() < 0.8
                       ? (float)(int)(urand() * (p.num_class + 1)) * (p.num_class > 1 ? 1.0f : 0.5f)
                       : odd[(size_t)(urand() * (sizeof odd / sizeof odd[0]))];
            for (size_t f = 0; f < 3; f++)
                x[i * 3 + f] = urand() < 0.03 ? odd[(size_t)(urand() * 3)] : (float)urand();
        }
        unsigned want = labels_ref(&p, y, n), got = mc2_gbdt_labels_check_oblivious(&p, y, n);
        CHECK_MSG(got == want, "labels: round %d: %u, want %u", round, got, want);
        seen[want & 3]++;
        long inf = -1;
        for (size_t i = 0; i < n && inf < 0; i++)
            for (size_t f = 0; f < 3 && inf < 0; f++)
                if (isinf(x[i * 3 + f])) inf = (long)f;
        CHECK(mc2_gbdt_first_inf_oblivious(x, n, 3) == inf);
    }
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
}

int main(void)
{
    test_bad_params();
    test_predict_normal_models();
    test_train();
    test_hist_methods();
    test_input_checks();
    return test_done("test_gbdt_obliv");
}
