/* predict.c - prediction with a trained model (margins and XGBoost's output transforms) and
 * the evaluation metrics rmse, logloss, auc and merror, computed as XGBoost 1.7 does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"
#include "gbdt/pool.h"

void mc2_gbdt_transform(enum mc2_gbdt_objective o, float *v, size_t n, uint32_t ngroup)
{
    if (o == MC2_GBDT_BINARY_LOGISTIC) {
        for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + expf(-v[i]));
    } else if (o == MC2_GBDT_MULTI_SOFTPROB) {
        for (size_t i = 0; i < n; i++) {
            float *r = v + i * ngroup;
            float mx = r[0];
            for (uint32_t k = 1; k < ngroup; k++) mx = r[k] > mx ? r[k] : mx;
            float sum = 0;
            for (uint32_t k = 0; k < ngroup; k++) {
                r[k] = expf(r[k] - mx);
                sum += r[k];
            }
            for (uint32_t k = 0; k < ngroup; k++) r[k] /= sum;
        }
    }
}

#define PRED_CHUNK 4096u

typedef struct pred_job {
    const mc2_gbdt_model *m;
    const float *x;
    size_t n, d;
    int margin;
    float *out;
} pred_job;

#define PRED_BLOCK 64u /* rows traversing one tree together: the tree stays in L1 */

/* Rows [lo, hi): margins summed tree by tree in float (the order XGBoost uses, so results
 * match it), in blocks of rows per tree, then transformed. */
static void predict_rows(const pred_job *j, size_t lo, size_t hi)
{
    const mc2_gbdt_model *m = j->m;
    uint32_t K = mc2_gbdt_model_ngroup(m);
    float base = mc2_gbdt_base_margin(m->objective, m->base_score);
    for (size_t i = lo * K; i < hi * K; i++) j->out[i] = base;
    for (size_t b0 = lo; b0 < hi; b0 += PRED_BLOCK) {
        size_t b1 = b0 + PRED_BLOCK < hi ? b0 + PRED_BLOCK : hi;
        for (size_t t = 0; t < m->n_trees; t++) {
            const mc2_gbdt_tree *tr = &m->trees[t];
            float *o = j->out + tr->group;
            for (size_t i = b0; i < b1; i++) o[i * K] += mc2_gbdt_tree_leaf(tr, j->x + i * j->d);
        }
    }
    if (!j->margin) mc2_gbdt_transform(m->objective, j->out + lo * K, hi - lo, K);
}

static void pred_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    const pred_job *j = arg;
    size_t lo = t * PRED_CHUNK, hi = lo + PRED_CHUNK < j->n ? lo + PRED_CHUNK : j->n;
    predict_rows(j, lo, hi);
}

int mc2_gbdt_predict_mt(const mc2_gbdt_model *m, const float *x, size_t n, size_t d, int margin,
                        unsigned nthread, float *out, mc2_err *err)
{
    if (d != m->num_feature)
        return mc2_err_set(err, MC2_E_INPUT, "prediction data has %zu features, the model has %u",
                           d, m->num_feature);
    pred_job j = {m, x, n, d, margin, out};
    if (nthread <= 1 || n <= PRED_CHUNK) {
        predict_rows(&j, 0, n);
        return 0;
    }
    if (nthread > MC2_GBDT_MAX_THREADS) nthread = MC2_GBDT_MAX_THREADS;
    mc2_gbdt_pool *pool = mc2_gbdt_pool_new(nthread, err);
    if (!pool) return -1;
    mc2_gbdt_pool_run(pool, (n + PRED_CHUNK - 1) / PRED_CHUNK, pred_task, &j);
    mc2_gbdt_pool_free(pool);
    return 0;
}

int mc2_gbdt_predict(const mc2_gbdt_model *m, const float *x, size_t n, size_t d, int margin,
                     float *out, mc2_err *err)
{
    return mc2_gbdt_predict_mt(m, x, n, d, margin, 1, out, err);
}

/* ---- metrics ----------------------------------------------------------------------------- */

typedef struct auc_item {
    float p;
    uint32_t i;
} auc_item;

static int auc_cmp(const void *a, const void *b)
{
    const auc_item *x = a, *y = b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static double auc(const float *pred, const float *y, const float *w, size_t n)
{
    auc_item *it = mc2_malloc(n * sizeof *it);
    if (!it || n == 0) {
        mc2_free(it);
        return NAN;
    }
    for (size_t i = 0; i < n; i++) it[i] = (auc_item){pred[i], (uint32_t)i};
    qsort(it, n, sizeof *it, auc_cmp);
    double area = 0, fp, tp, fp_prev = 0, tp_prev = 0;
    double wt = w ? w[it[0].i] : 1.0;
    fp = (1.0 - y[it[0].i]) * wt;
    tp = y[it[0].i] * wt;
    for (size_t k = 1; k < n; k++) {
        if (it[k].p != it[k - 1].p) {
            area += fabs(fp_prev - fp) * (tp_prev + tp) / 2.0;
            tp_prev = tp;
            fp_prev = fp;
        }
        wt = w ? w[it[k].i] : 1.0;
        fp += (1.0 - y[it[k].i]) * wt;
        tp += y[it[k].i] * wt;
    }
    area += fabs(fp_prev - fp) * (tp_prev + tp) / 2.0;
    mc2_free(it);
    if (fp <= 0 || tp <= 0) return NAN;
    return area / (fp * tp);
}

void gbdt_metric_sums(enum mc2_gbdt_metric metric, const float *pred, const float *y,
                      const float *w, size_t n, uint32_t ngroup, double *out)
{
    double sum = 0, wsum = 0;
    switch (metric) {
    case MC2_GBDT_METRIC_AUC:
        break;
    case MC2_GBDT_METRIC_RMSE:
        for (size_t i = 0; i < n; i++) {
            double wt = w ? w[i] : 1.0, e = (double)pred[i] - y[i];
            sum += wt * e * e;
            wsum += wt;
        }
        break;
    case MC2_GBDT_METRIC_LOGLOSS:
        for (size_t i = 0; i < n; i++) {
            double wt = w ? w[i] : 1.0, p = pred[i], eps = 1e-16;
            double a = p > eps ? p : eps, b = 1 - p > eps ? 1 - p : eps;
            sum += -wt * (y[i] * log(a) + (1 - y[i]) * log(b));
            wsum += wt;
        }
        break;
    case MC2_GBDT_METRIC_MERROR:
        for (size_t i = 0; i < n; i++) {
            double wt = w ? w[i] : 1.0;
            const float *r = pred + i * ngroup;
            uint32_t best = 0;
            for (uint32_t k = 1; k < ngroup; k++)
                if (r[k] > r[best]) best = k;
            sum += wt * ((float)best != y[i]);
            wsum += wt;
        }
        break;
    }
    out[0] = sum;
    out[1] = wsum;
}

double gbdt_metric_final(enum mc2_gbdt_metric metric, const double *s)
{
    double sum = s[0], wsum = s[1];
    switch (metric) {
    case MC2_GBDT_METRIC_AUC:
        return NAN;
    case MC2_GBDT_METRIC_RMSE:
        return wsum > 0 ? sqrt(sum / wsum) : NAN;
    case MC2_GBDT_METRIC_LOGLOSS:
    case MC2_GBDT_METRIC_MERROR:
        return wsum > 0 ? sum / wsum : NAN;
    }
    return NAN;
}

double mc2_gbdt_metric(enum mc2_gbdt_metric metric, const float *pred, const float *y,
                       const float *w, size_t n, uint32_t ngroup)
{
    if (metric == MC2_GBDT_METRIC_AUC) return auc(pred, y, w, n);
    double s[2];
    gbdt_metric_sums(metric, pred, y, w, n, ngroup, s);
    return gbdt_metric_final(metric, s);
}
