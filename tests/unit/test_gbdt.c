/* test_gbdt.c - unit tests of the GBDT engine: analytic stump, gain and weight formulas with
 * lambda/alpha/gamma, missing-value default direction, softmax outputs, cut points,
 * parameter and data validation, model save/load (including hostile bytes), JSON export,
 * determinism and allocation-failure handling. Small and fast (also runs under ASan). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "gbdt/gbdt.h"
#include "test.h"

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static mc2_gbdt_model *train_or_null(const mc2_gbdt_params *p, const mc2_gbdt_data *d)
{
    mc2_err err;
    mc2_err_clear(&err);
    mc2_gbdt_model *m = NULL;
    if (mc2_gbdt_train(p, d, NULL, NULL, NULL, &m, &err) != 0) {
        fprintf(stderr, "train failed: %s\n", err.msg);
        return NULL;
    }
    return m;
}

/* x = 1..4, y = 0 0 1 1, squared error, base 0.5: g = +-0.5, h = 1. */
static void test_stump(void)
{
    float x[] = {1, 2, 3, 4}, y[] = {0, 0, 1, 1};
    mc2_gbdt_data d = {x, y, NULL, 4, 1};
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    p.max_depth = 1;
    p.num_round = 1;
    p.eta = 1.0f;
    p.lambda = 1.0f;
    p.min_child_weight = 0;
    mc2_gbdt_model *m = train_or_null(&p, &d);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->n_trees == 1);
    const mc2_gbdt_tree *t = &m->trees[0];
    CHECK(t->n_nodes == 3);
    CHECK(t->nodes[0].left == 1 && t->nodes[0].right == 2 && t->nodes[0].feature == 0);
    /* cut points are the distinct values: the split x < 3 */
    CHECK_MSG(t->nodes[0].cond == 3.0f, "cond %g", (double)t->nodes[0].cond);
    /* leaves: -G/(H+lambda) = -(1)/(2+1) and +1/3; gain 1/3 + 1/3 - 0 */
    CHECK(near(t->nodes[1].cond, -1.0 / 3, 1e-6));
    CHECK(near(t->nodes[2].cond, 1.0 / 3, 1e-6));
    CHECK(near(t->nodes[0].loss_chg, 2.0 / 3, 1e-6));
    CHECK(near(t->nodes[0].sum_hess, 4, 0) && near(t->nodes[1].sum_hess, 2, 0));
    float out[4];
    mc2_err err;
    CHECK(mc2_gbdt_predict(m, x, 4, 1, 0, out, &err) == 0);
    CHECK(near(out[0], 0.5 - 1.0 / 3, 1e-6) && near(out[3], 0.5 + 1.0 / 3, 1e-6));
    CHECK(mc2_gbdt_predict(m, x, 4, 2, 0, out, &err) == -1 && err.code == MC2_E_INPUT);
    mc2_gbdt_model_free(m);

    /* eta scales leaves but not base_weight */
    p.eta = 0.5f;
    m = train_or_null(&p, &d);
    CHECK(m && near(m->trees[0].nodes[1].cond, -1.0 / 6, 1e-6) &&
          near(m->trees[0].nodes[1].base_weight, -1.0 / 3, 1e-6));
    mc2_gbdt_model_free(m);

    /* gamma above the loss change: no split */
    p.eta = 1.0f;
    p.gamma = 0.7f;
    m = train_or_null(&p, &d);
    CHECK(m && m->trees[0].n_nodes == 1 && near(m->trees[0].nodes[0].cond, 0, 1e-7));
    mc2_gbdt_model_free(m);
    p.gamma = 0.6f;
    m = train_or_null(&p, &d);
    CHECK(m && m->trees[0].n_nodes == 3);
    mc2_gbdt_model_free(m);

    /* min_child_weight above 2: no valid split */
    p.gamma = 0;
    p.min_child_weight = 2.5f;
    m = train_or_null(&p, &d);
    CHECK(m && m->trees[0].n_nodes == 1);
    mc2_gbdt_model_free(m);

    /* uniform weights of 2 with lambda 0 give the same leaves: -(2 G)/(2 H) */
    float w2[] = {2, 2, 2, 2};
    mc2_gbdt_data dw = {x, y, w2, 4, 1};
    p.lambda = 0;
    mc2_gbdt_model *mw = train_or_null(&p, &dw);
    CHECK(mw && mw->trees[0].n_nodes == 3 && near(mw->trees[0].nodes[1].cond, -0.5, 1e-6) &&
          near(mw->trees[0].nodes[0].sum_hess, 8, 0));
    mc2_gbdt_model_free(mw);
    float w0[] = {0, 0, 0, 0}; /* all weights zero: an empty sketch, a single leaf of 0 */
    dw.w = w0;
    mw = train_or_null(&p, &dw);
    CHECK(mw && mw->trees[0].n_nodes == 1 && mw->trees[0].nodes[0].cond == 0);
    mc2_gbdt_model_free(mw);
    p.lambda = 1;

    /* alpha soft-thresholds G: leaves -(1-0.5)/3 */
    p.min_child_weight = 0;
    p.alpha = 0.5f;
    m = train_or_null(&p, &d);
    CHECK(m && near(m->trees[0].nodes[1].cond, -0.5 / 3, 1e-6));
    CHECK(m && near(m->trees[0].nodes[0].loss_chg, 2 * 0.25 / 3, 1e-6));
    mc2_gbdt_model_free(m);
}

static void test_formulas(void)
{
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    p.lambda = 1;
    p.alpha = 1;
    CHECK(near(mc2_gbdt_calc_gain(&p, 3, 2), 4.0 / 3, 1e-12));
    CHECK(near(mc2_gbdt_calc_gain(&p, -3, 2), 4.0 / 3, 1e-12));
    CHECK(mc2_gbdt_calc_gain(&p, 0.5, 2) == 0);
    CHECK(mc2_gbdt_calc_gain(&p, 3, 0) == 0);
    CHECK(near(mc2_gbdt_calc_weight(&p, 3, 2), -2.0 / 3, 1e-12));
    CHECK(near(mc2_gbdt_calc_weight(&p, -3, 2), 2.0 / 3, 1e-12));
    p.min_child_weight = 5;
    CHECK(mc2_gbdt_calc_weight(&p, 3, 2) == 0);
    p.alpha = 0;
    p.lambda = 0;
    CHECK(near(mc2_gbdt_calc_gain(&p, 3, 2), 4.5, 1e-12));
}

static void test_missing(void)
{
    float nan = NAN;
    float x[] = {1, 2, 3, 4, nan, nan};
    float y1[] = {0, 0, 1, 1, 1, 1}; /* missing behave like the right side */
    float y2[] = {0, 0, 1, 1, 0, 0}; /* missing behave like the left side */
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    p.max_depth = 1;
    p.num_round = 1;
    p.eta = 1;
    p.min_child_weight = 0;
    mc2_err err;
    float out[6];
    for (int k = 0; k < 2; k++) {
        mc2_gbdt_data d = {x, k ? y2 : y1, NULL, 6, 1};
        mc2_gbdt_model *m = train_or_null(&p, &d);
        CHECK(m != NULL);
        if (!m) continue;
        const mc2_gbdt_node *r = &m->trees[0].nodes[0];
        CHECK(m->trees[0].n_nodes == 3 && r->cond == 3.0f);
        CHECK_MSG(r->default_left == (k == 1), "default_left %d case %d", r->default_left, k);
        CHECK(mc2_gbdt_predict(m, x, 6, 1, 1, out, &err) == 0);
        /* missing rows get exactly the leaf of their side */
        CHECK(out[4] == (k ? out[0] : out[3]));
        mc2_gbdt_model_free(m);
    }
}

/* A small 3-class set: class = which of 3 features is largest, with noise. */
static void make_multi(float *x, float *y, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        float best = -1;
        for (int f = 0; f < 3; f++) {
            s = s * 1103515245u + 12345u;
            float v = (float)((s >> 8) & 0xffff) / 65536.0f;
            x[i * 3 + (size_t)f] = v;
            if (v > best) {
                best = v;
                y[i] = (float)f;
            }
        }
        if (i % 50 == 0) x[i * 3 + 1] = NAN;
    }
}

static void test_softprob(void)
{
    enum { N = 600 };
    static float x[N * 3], y[N];
    make_multi(x, y, N);
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    CHECK(mc2_gbdt_params_set(&p, "objective", "multi:softprob", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "num_class", "3", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "num_round", "5", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "max_depth", "3", &err) == 0);
    mc2_gbdt_data d = {x, y, NULL, N, 3};
    mc2_gbdt_model *m = train_or_null(&p, &d);
    CHECK(m && m->n_trees == 15);
    if (!m) return;
    for (size_t t = 0; t < m->n_trees; t++) CHECK(m->trees[t].group == t % 3);
    static float out[N * 3];
    CHECK(mc2_gbdt_predict(m, x, N, 3, 0, out, &err) == 0);
    double worst = 0;
    for (size_t i = 0; i < N; i++) {
        double s = (double)out[3 * i] + out[3 * i + 1] + out[3 * i + 2];
        if (fabs(s - 1) > worst) worst = fabs(s - 1);
    }
    CHECK_MSG(worst < 1e-6, "softmax sums off by %g", worst);
    double merr = mc2_gbdt_metric(MC2_GBDT_METRIC_MERROR, out, y, NULL, N, 3);
    CHECK_MSG(merr < 0.15, "training merror %g", merr);

    /* JSON export has XGBoost's shape */
    mc2_buf j = {0};
    CHECK(mc2_gbdt_model_to_json(m, &j, &err) == 0);
    CHECK(mc2_buf_put_u8(&j, 0, &err) == 0);
    const char *js = (const char *)j.data;
    CHECK(strstr(js, "\"version\":[1,7,4]") != NULL);
    CHECK(strstr(js, "\"softmax_multiclass_param\":{\"num_class\":\"3\"}") != NULL);
    CHECK(strstr(js, "\"tree_info\":[0,1,2,0,1,2") != NULL);
    CHECK(strstr(js, "nan") == NULL && strstr(js, ",inf") == NULL && strstr(js, "[inf") == NULL);
    mc2_buf_free(&j);
    mc2_gbdt_model_free(m);
}

static void test_metrics(void)
{
    float pr[] = {0.1f, 0.4f, 0.35f, 0.8f}, y[] = {0, 0, 1, 1};
    CHECK(near(mc2_gbdt_metric(MC2_GBDT_METRIC_AUC, pr, y, NULL, 4, 1), 0.75, 1e-12));
    float tie[] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK(near(mc2_gbdt_metric(MC2_GBDT_METRIC_AUC, tie, y, NULL, 4, 1), 0.5, 1e-12));
    CHECK(near(mc2_gbdt_metric(MC2_GBDT_METRIC_RMSE, pr, y, NULL, 4, 1),
               sqrt((0.01 + 0.16 + 0.65 * 0.65 + 0.04) / 4), 1e-6));
    double ll = -(log(0.9) + log(0.6) + log(0.35) + log(0.8)) / 4;
    CHECK(near(mc2_gbdt_metric(MC2_GBDT_METRIC_LOGLOSS, pr, y, NULL, 4, 1), ll, 1e-6));
    float mp[] = {0.7f, 0.3f, 0.2f, 0.8f}, my[] = {1, 1};
    CHECK(near(mc2_gbdt_metric(MC2_GBDT_METRIC_MERROR, mp, my, NULL, 2, 2), 0.5, 1e-12));
}

static void test_cuts(void)
{
    float v[] = {4, 1, 3, 2, 2, 3}, cuts[256], mv;
    CHECK(mc2_gbdt_feature_cuts(v, NULL, 6, 256, cuts, &mv) == 4);
    CHECK(cuts[0] == 2 && cuts[1] == 3 && cuts[2] == 4 && cuts[3] == 4 + (4 + 1e-5f));
    CHECK(mv == 1.0f - 1.0f - 1e-5f);
    enum { N = 5000 };
    static float big[N];
    for (int i = 0; i < N; i++) big[i] = (float)((i * 7919) % N) * 0.25f - 100;
    uint32_t nc = mc2_gbdt_feature_cuts(big, NULL, N, 16, cuts, &mv);
    CHECK(nc >= 2 && nc <= 16);
    for (uint32_t i = 1; i < nc; i++) CHECK(cuts[i] > cuts[i - 1]);
    CHECK(cuts[nc - 1] > (N - 1) * 0.25f - 100 && mv < -100);
    /* roughly equal-frequency: the median cut is near the median */
    CHECK(fabsf(cuts[nc / 2 - 1] - (N / 2 * 0.25f - 100)) < N * 0.25f / 8);
    float one = 7;
    CHECK(mc2_gbdt_feature_cuts(&one, NULL, 1, 256, cuts, &mv) == 1 && cuts[0] > 7);
}

static void expect_param_err(const char *key, const char *value, const char *needle)
{
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_gbdt_params_set(&p, key, value, &err);
    CHECK_MSG(rc == -1 && err.code == MC2_E_INPUT && strstr(err.msg, needle), "%s=%s gave '%s'",
              key, value, err.msg);
}

static void test_params(void)
{
    expect_param_err("max_dept", "3", "unknown parameter 'max_dept' (did you mean max_depth?)");
    expect_param_err("etaa", "3", "did you mean eta?");
    expect_param_err("frobnicate", "1", "unknown parameter 'frobnicate'");
    expect_param_err("max_depth", "0", "max_depth");
    expect_param_err("max_depth", "17", "[1, 16]");
    expect_param_err("max_depth", "3x", "not an integer");
    expect_param_err("max_depth", "-3", "not an integer");
    expect_param_err("max_depth", "99999999999999999999999", "not an integer");
    expect_param_err("eta", "abc", "not a number");
    expect_param_err("eta", "nan", "not a number");
    expect_param_err("subsample", "0", "subsample");
    expect_param_err("objective", "reg:linear", "unsupported objective");
    expect_param_err("tree_method", "exact", "only 'hist'");
    expect_param_err("eval_metric", "map", "unsupported metric");
    expect_param_err("num_class", "1", "num_class");

    mc2_gbdt_params p;
    mc2_err err;
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "learning_rate", "0.1", &err) == 0 && p.eta == 0.1f);
    CHECK(mc2_gbdt_params_set(&p, "reg_lambda", "2", &err) == 0 && p.lambda == 2);
    CHECK(mc2_gbdt_params_check(&p, &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "num_class", "3", &err) == 0);
    CHECK(mc2_gbdt_params_check(&p, &err) == -1 && strstr(err.msg, "only valid with"));
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "objective", "multi:softprob", &err) == 0);
    CHECK(mc2_gbdt_params_check(&p, &err) == -1 && strstr(err.msg, "needs parameter 'num_class'"));
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "eval_metric", "auc", &err) == 0);
    CHECK(mc2_gbdt_params_check(&p, &err) == -1 && strstr(err.msg, "does not apply"));
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "objective", "binary:logistic", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "base_score", "1", &err) == 0);
    CHECK(mc2_gbdt_params_check(&p, &err) == -1 && strstr(err.msg, "base_score"));

    /* data checks happen before any work */
    float x[] = {1, 2, 3, 4}, y[] = {0, 1, 2, 3};
    mc2_gbdt_data d = {x, y, NULL, 4, 1};
    mc2_gbdt_model *m = NULL;
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "objective", "multi:softprob", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "num_class", "3", &err) == 0);
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1 && m == NULL);
    CHECK_MSG(strstr(err.msg, "row 4: label 3 is inconsistent with num_class=3"), "%s", err.msg);
    y[3] = 1.5f;
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1);
    CHECK(strstr(err.msg, "label 1.5") != NULL);
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_params_set(&p, "objective", "binary:logistic", &err) == 0);
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1 && strstr(err.msg, "[0, 1]"));
    y[3] = NAN;
    mc2_gbdt_params_default(&p);
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1 &&
          strstr(err.msg, "label is missing"));
    y[3] = 1;
    x[2] = INFINITY;
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1 && strstr(err.msg, "infinite"));
    x[2] = 3;
    d.n = 0;
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) == -1 && strstr(err.msg, "no rows"));
    d.n = 4;
    mc2_gbdt_data ev = {x, y, NULL, 2, 2};
    CHECK(mc2_gbdt_train(&p, &d, &ev, NULL, NULL, &m, &err) == -1 && strstr(err.msg, "features"));
}

/* A binary set big enough for the threaded paths (chunked histograms and partitions). */
static void make_binary(float *x, float *y, size_t n, size_t dd)
{
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) {
        double z = 0;
        for (size_t f = 0; f < dd; f++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float v = (float)((s >> 40) & 0xffff) / 65536.0f;
            x[i * dd + f] = v;
            z += (f % 2 ? 1.0 : -0.7) * v;
        }
        if (i % 17 == 0) x[i * dd + 1] = NAN;
        y[i] = z + 0.1 * (double)((s >> 20) & 0xff) / 256.0 > 0.05 ? 1.0f : 0.0f;
    }
}

typedef struct evals {
    uint32_t calls;
    double last;
} evals;

static int on_eval(void *ctx, uint32_t round, const enum mc2_gbdt_metric *metrics,
                   const double *values, uint32_t n)
{
    evals *e = ctx;
    (void)round;
    (void)metrics;
    e->calls++;
    e->last = n ? values[0] : -1;
    return 0;
}

static void test_threads_and_models(void)
{
    enum { N = 40000, D = 4 };
    float *x = mc2_malloc(N * D * sizeof(float)), *y = mc2_malloc(N * sizeof(float));
    float *o1 = mc2_malloc(N * sizeof(float)), *o2 = mc2_malloc(N * sizeof(float));
    CHECK(x && y && o1 && o2);
    if (!x || !y || !o1 || !o2) goto out;
    make_binary(x, y, N, D);
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    CHECK(mc2_gbdt_params_set(&p, "objective", "binary:logistic", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "eval_metric", "auc", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "eval_metric", "logloss", &err) == 0);
    p.num_round = 4;
    p.max_depth = 4;
    p.subsample = 0.8f;
    p.colsample_bytree = 0.75f;
    p.seed = 7;
    mc2_gbdt_data d = {x, y, NULL, N, D};
    mc2_gbdt_data ev = {x, y, NULL, 5000, D};
    evals e = {0, 0};
    mc2_gbdt_model *m1 = NULL, *m2 = NULL, *m3 = NULL;
    CHECK(mc2_gbdt_train(&p, &d, &ev, on_eval, &e, &m1, &err) == 0);
    CHECK(e.calls == 4 && e.last > 0.8);
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m2, &err) == 0);
    p.nthread = 1;
    CHECK(mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m3, &err) == 0);
    if (!m1 || !m2 || !m3) goto outm;
    CHECK(mc2_gbdt_predict(m1, x, N, D, 0, o1, &err) == 0);
    CHECK(mc2_gbdt_predict(m2, x, N, D, 0, o2, &err) == 0);
    CHECK(memcmp(o1, o2, N * sizeof(float)) == 0); /* deterministic for a thread count */
    CHECK(mc2_gbdt_predict_mt(m1, x, N, D, 0, 2, o2, &err) == 0);
    CHECK(memcmp(o1, o2, N * sizeof(float)) == 0); /* threaded prediction is identical */
    CHECK(mc2_gbdt_predict(m3, x, N, D, 0, o2, &err) == 0);
    double worst = 0;
    for (size_t i = 0; i < N; i++)
        if (fabs((double)o1[i] - o2[i]) > worst) worst = fabs((double)o1[i] - o2[i]);
    CHECK_MSG(worst < 1e-3, "1 vs 2 threads differ by %g", worst);

    /* binary model round trip */
    mc2_buf b = {0};
    CHECK(mc2_gbdt_model_save(m1, &b, &err) == 0);
    mc2_gbdt_model *r = NULL;
    CHECK(mc2_gbdt_model_load(b.data, b.len, &r, &err) == 0);
    if (r) {
        CHECK(mc2_gbdt_predict(r, x, N, D, 0, o2, &err) == 0);
        CHECK(memcmp(o1, o2, N * sizeof(float)) == 0);
        mc2_gbdt_model_free(r);
    }
    /* hostile bytes: every truncation fails cleanly; flipped bytes never crash */
    for (size_t len = 0; len < b.len; len += 1 + len / 16) {
        r = NULL;
        CHECK(mc2_gbdt_model_load(b.data, len, &r, &err) == -1 && r == NULL);
    }
    uint8_t *copy = mc2_malloc(b.len);
    if (copy) {
        uint32_t s = 99;
        int rejected = 0;
        for (int k = 0; k < 300; k++) {
            memcpy(copy, b.data, b.len);
            s = s * 1103515245u + 12345u;
            size_t pos = (s >> 4) % (b.len < 200 ? b.len : 200); /* header and first nodes */
            copy[pos] ^= (uint8_t)(1u << (s % 8));
            r = NULL;
            if (mc2_gbdt_model_load(copy, b.len, &r, &err) == 0) {
                if (r->num_feature == D) CHECK(mc2_gbdt_predict(r, x, 100, D, 0, o2, &err) == 0);
                mc2_gbdt_model_free(r);
            } else {
                rejected++;
            }
        }
        CHECK(rejected > 0);
        /* a child pointing back at its parent is rejected */
        memcpy(copy, b.data, b.len);
        size_t node0 = 8 + 4 * 5 + 8 + 8; /* header, then group and n_nodes of tree 0 */
        copy[node0] = 0;
        CHECK(mc2_gbdt_model_load(copy, b.len, &r, &err) == -1 && strstr(err.msg, "structure"));
        mc2_free(copy);
    }
    mc2_buf_free(&b);

    /* every allocation failure is reported, not crashed on */
    p.nthread = 2;
    d.n = 3000;
    int failures = 0;
    for (unsigned long k = 1; k < 400; k++) {
        mc2_gbdt_model *mf = NULL;
        mc2_alloc_fail_after(k);
        int rc = mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &mf, &err);
        mc2_alloc_fail_after(0);
        if (rc == 0) {
            mc2_gbdt_model_free(mf);
            break;
        }
        failures++;
        CHECK_MSG(err.code == MC2_E_NOMEM, "k=%lu: %s", k, err.msg);
    }
    CHECK(failures > 10);
outm:
    mc2_gbdt_model_free(m1);
    mc2_gbdt_model_free(m2);
    mc2_gbdt_model_free(m3);
out:
    mc2_free(x);
    mc2_free(y);
    mc2_free(o1);
    mc2_free(o2);
}

/* Importance and depth of a hand-built model: tree 0 splits f1 (gain 2, cover 10) then f0
 * (gain 1, cover 4) on its right; tree 1 splits f1 (gain 3, cover 10). */
static void test_importance(void)
{
    mc2_gbdt_node t0[5] = {{1, 2, -1, 1, 0.5f, 0, 2.0f, 10.0f, 0},
                           {-1, -1, 0, 0, 0.1f, 0, 0, 6.0f, 0},
                           {3, 4, 0, 0, 0.5f, 0, 1.0f, 4.0f, 1},
                           {-1, -1, 2, 0, 0.2f, 0, 0, 1.0f, 0},
                           {-1, -1, 2, 0, 0.3f, 0, 0, 3.0f, 0}};
    mc2_gbdt_node t1[3] = {{1, 2, -1, 1, 0.5f, 0, 3.0f, 10.0f, 0},
                           {-1, -1, 0, 0, 0.1f, 0, 0, 5.0f, 0},
                           {-1, -1, 0, 0, 0.1f, 0, 0, 5.0f, 0}};
    mc2_gbdt_tree trees[2] = {{5, 0, t0}, {3, 0, t1}};
    mc2_gbdt_model m = {.objective = MC2_GBDT_REG_SQUAREDERROR,
                        .num_feature = 3,
                        .base_score = 0.5f,
                        .n_trees = 2,
                        .trees = trees};
    double v[3];
    mc2_gbdt_importance(&m, MC2_GBDT_IMP_WEIGHT, v);
    CHECK(v[0] == 1 && v[1] == 2 && v[2] == 0);
    mc2_gbdt_importance(&m, MC2_GBDT_IMP_TOTAL_GAIN, v);
    CHECK(v[0] == 1 && v[1] == 5 && v[2] == 0);
    mc2_gbdt_importance(&m, MC2_GBDT_IMP_GAIN, v);
    CHECK(v[0] == 1 && v[1] == 2.5 && v[2] == 0);
    mc2_gbdt_importance(&m, MC2_GBDT_IMP_TOTAL_COVER, v);
    CHECK(v[0] == 4 && v[1] == 20 && v[2] == 0);
    mc2_gbdt_importance(&m, MC2_GBDT_IMP_COVER, v);
    CHECK(v[0] == 4 && v[1] == 10 && v[2] == 0);
    CHECK(strcmp(mc2_gbdt_importance_name(MC2_GBDT_IMP_TOTAL_COVER), "total_cover") == 0);
    uint32_t depth = 99;
    mc2_err err;
    CHECK(mc2_gbdt_model_depth(&m, &depth, &err) == 0 && depth == 2);
}

/* Format version 2: feature names and types and the metrics history survive save/load and
 * appear in the JSON; version 1 bytes still load; hostile names and metrics are refused. */
static void test_model_v2(void)
{
    enum { N = 400, D = 3 };
    float x[N * D], y[N];
    make_binary(x, y, N, D);
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_err err;
    CHECK(mc2_gbdt_params_set(&p, "objective", "binary:logistic", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "eval_metric", "auc", &err) == 0);
    CHECK(mc2_gbdt_params_set(&p, "eval_metric", "logloss", &err) == 0);
    p.num_round = 5;
    p.max_depth = 3;
    p.nthread = 1;
    mc2_gbdt_data d = {x, y, NULL, N, D}, ev = {x, y, NULL, 100, D};
    mc2_gbdt_model *m = NULL, *r = NULL;
    CHECK(mc2_gbdt_train(&p, &d, &ev, NULL, NULL, &m, &err) == 0);
    if (!m) return;
    /* the metrics are recorded without a callback */
    CHECK(m->n_metrics == 2 && m->n_sets == 1 && strcmp(m->sets[0].name, "eval") == 0 &&
          m->sets[0].n_rounds == 5 && m->metrics[0] == MC2_GBDT_METRIC_AUC);
    const char *bad[D] = {"age", "1x", "z"}, *dup[D] = {"age", "b", "age"},
               *good[D] = {"age", "income", "Member"};
    enum mc2_gbdt_ftype ty[D] = {MC2_GBDT_FT_INT, MC2_GBDT_FT_FLOAT, MC2_GBDT_FT_INDICATOR};
    CHECK(mc2_gbdt_model_set_features(m, bad, ty, &err) == -1 && strstr(err.msg, "'1x'"));
    CHECK(mc2_gbdt_model_set_features(m, dup, ty, &err) == -1 && strstr(err.msg, "twice"));
    CHECK(!m->feature_names);
    CHECK(mc2_gbdt_model_set_features(m, good, ty, &err) == 0);

    /* eval_train: the training set's metrics, set "train" after "eval"; with the eval set
     * equal to the training set both histories agree */
    {
        mc2_gbdt_params q = p;
        mc2_gbdt_model *t = NULL;
        CHECK(mc2_gbdt_params_set(&q, "eval_train", "maybe", &err) == -1);
        CHECK(mc2_gbdt_params_set(&q, "eval_train", "true", &err) == 0 && q.eval_train == 1);
        CHECK(mc2_gbdt_train(&q, &d, &d, NULL, NULL, &t, &err) == 0);
        CHECK(t && t->n_sets == 2 && strcmp(t->sets[0].name, "eval") == 0 &&
              strcmp(t->sets[1].name, "train") == 0 && t->sets[1].n_rounds == 5);
        for (int i = 0; t && t->n_sets == 2 && i < 10; i++)
            CHECK_MSG(near(t->sets[0].values[i], t->sets[1].values[i], 1e-9), "%d: %g vs %g", i,
                      t->sets[0].values[i], t->sets[1].values[i]);
        mc2_gbdt_model_free(t);
        t = NULL;
        CHECK(mc2_gbdt_train(&q, &d, NULL, NULL, NULL, &t, &err) == 0);
        CHECK(t && t->n_sets == 1 && strcmp(t->sets[0].name, "train") == 0 &&
              t->sets[0].n_rounds == 5);
        mc2_gbdt_model_free(t);
        t = NULL;
        CHECK(mc2_gbdt_params_set(&q, "oblivious", "1", &err) == 0);
        CHECK(mc2_gbdt_train(&q, &d, NULL, NULL, NULL, &t, &err) == -1 && !t &&
              strstr(err.msg, "eval_train"));
    }

    mc2_buf b = {0}, j = {0};
    CHECK(mc2_gbdt_model_save(m, &b, &err) == 0);
    CHECK(mc2_gbdt_model_load(b.data, b.len, &r, &err) == 0);
    if (r) {
        CHECK(r->format_version == 2 && r->feature_names && r->feature_types);
        for (int i = 0; r->feature_names && i < D; i++) {
            CHECK(strcmp(r->feature_names[i], good[i]) == 0);
            CHECK(r->feature_types[i] == ty[i]);
        }
        CHECK(r->n_metrics == 2 && r->n_sets == 1 && r->sets[0].n_rounds == 5 &&
              memcmp(r->sets[0].values, m->sets[0].values, 10 * sizeof(double)) == 0);
        CHECK(mc2_gbdt_model_to_json(r, &j, &err) == 0 && mc2_buf_append(&j, "", 1, &err) == 0);
        CHECK(strstr((char *)j.data, "\"feature_names\":[\"age\",\"income\",\"Member\"],"
                                     "\"feature_types\":[\"int\",\"float\",\"i\"]"));
        mc2_gbdt_model_free(r);
        r = NULL;
    }
    /* every truncation fails; flips in the names and metrics never crash */
    size_t trees_end = 0;
    {
        mc2_gbdt_model tmp = *m;
        tmp.feature_names = NULL;
        tmp.n_metrics = 0;
        mc2_buf t = {0};
        CHECK(mc2_gbdt_model_save(&tmp, &t, &err) == 0);
        trees_end = t.len - 3; /* the empty trailer: has_names 0, n_metrics 0, n_sets 0 */
        /* the same bytes as version 1 (no trailer) load too, without names or metrics */
        t.data[8] = 1;
        CHECK(mc2_gbdt_model_load(t.data, trees_end, &r, &err) == 0);
        if (r) CHECK(r->format_version == 1 && !r->feature_names && r->n_sets == 0);
        mc2_gbdt_model_free(r);
        r = NULL;
        /* a version 1 model with a trailer is refused (trailing bytes); version 3 is unknown */
        CHECK(mc2_gbdt_model_load(t.data, t.len, &r, &err) == -1);
        t.data[8] = 3;
        CHECK(mc2_gbdt_model_load(t.data, t.len, &r, &err) == -1 && strstr(err.msg, "version"));
        mc2_buf_free(&t);
    }
    for (size_t len = trees_end; len < b.len; len++)
        CHECK(mc2_gbdt_model_load(b.data, len, &r, &err) == -1 && r == NULL);
    uint8_t *copy = mc2_malloc(b.len);
    int rejected = 0;
    for (size_t pos = trees_end; copy && pos < b.len; pos++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, b.data, b.len);
            copy[pos] ^= (uint8_t)(1u << bit);
            if (mc2_gbdt_model_load(copy, b.len, &r, &err) == 0) {
                mc2_gbdt_model_free(r);
                r = NULL;
            } else {
                rejected++;
            }
        }
    CHECK(rejected > 0);
    if (copy) {
        /* trailer: 01 | 03 "age" | 06 "income" | 06 "Member" | 3 types | metrics */
        size_t at = trees_end + 1 + 1 + 3 + 1;
        CHECK(copy[at - 1] == 6 && memcmp(copy + at, "income", 6) == 0);
        memcpy(copy, b.data, b.len);
        memcpy(copy + at + 7, "income", 6); /* a duplicate name */
        CHECK(mc2_gbdt_model_load(copy, b.len, &r, &err) == -1 && strstr(err.msg, "twice"));
        memcpy(copy, b.data, b.len);
        copy[at] = '-';
        CHECK(mc2_gbdt_model_load(copy, b.len, &r, &err) == -1 && strstr(err.msg, "name"));
        memcpy(copy, b.data, b.len);
        copy[at + 7 + 6 + 1] = 4; /* the second feature's type */
        CHECK(mc2_gbdt_model_load(copy, b.len, &r, &err) == -1 && strstr(err.msg, "type"));
        memcpy(copy, b.data, b.len);
        copy[at + 7 + 6 + 3] = 3; /* 3 metrics: the next bytes do not fit */
        CHECK(mc2_gbdt_model_load(copy, b.len, &r, &err) == -1 && r == NULL);
    }
    mc2_free(copy);
    mc2_buf_free(&b);
    mc2_buf_free(&j);
    mc2_gbdt_model_free(m);
}

int main(void)
{
    test_formulas();
    test_stump();
    test_missing();
    test_softprob();
    test_metrics();
    test_cuts();
    test_params();
    test_threads_and_models();
    test_importance();
    test_model_v2();
    return test_done("test_gbdt");
}
