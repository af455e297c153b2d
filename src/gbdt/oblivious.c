/* oblivious.c - the oblivious GBDT engine: training of fixed-shape trees and prediction whose
 * branches and memory addresses depend only on public sizes (docs/gbdt.md "Oblivious mode").
 *
 * Public: n, d, the parameters (max_depth, max_bin, eta, ...), the seeded RNG's choices
 * (subsample rows, colsample features), the number of trees and their node counts, and one
 * declassified bit (whether the data passed validation). Secret: feature values (including
 * which are missing), labels, weights, gradients, bins, node assignments, split choices,
 * cut values, leaf values. In prediction the model's node contents are secret too; its
 * maximum tree depth is computed obliviously and declassified.
 *
 * Every data-dependent choice is a mask (ct.h vocabulary); float and double compares go
 * through order-preserving integer keys (-0 normalised to +0, so they agree with C's `<`).
 * Trees are complete to max_depth in breadth-first layout (node j has children 2j+1, 2j+2);
 * a node that would not split becomes a pass-through (feature 0, cond FLT_MAX, missing
 * left: every row goes left, and the left child has the node's sums).
 *
 * Histograms: per level, one of two methods (internal.h, enum gbdt_obl_hist), chosen by a
 * cost model of public sizes: a masked one-hot add, or per feature an oblivious sort of
 * (node, bin, row) records plus one dummy per cell, a scan and an oblivious compaction.
 *
 * Threads: the cut sorts and node assignment run on nthread threads over public row ranges;
 * one-hot histograms likewise (partial histograms summed in task order); sort histograms one
 * feature per task. The rest runs on the calling thread. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/intr.h"
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"
#include "gbdt/pool.h"
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/rows.h"
#include "obliv/sort.h"

#define RT_EPS            1e-6f             /* as train.c */
#define OBL_MAX_HIST_B    ((size_t)1 << 30) /* histogram bytes per level */
#define OBL_MAX_PRED_NN   65536u            /* nodes per tree the depth pass accepts */
#define OBL_PRED_MIN_ROWS 256               /* rows per thread worth starting threads for */

/* ---- constant-time float helpers ---------------------------------------------------------- */

/* The float bits of an order-preserving key (ct_f32_key's inverse; -0 comes back as +0). */
static inline uint32_t fkey_decode(uint64_t k)
{
    uint32_t kk = (uint32_t)k;
    uint32_t pos = (uint32_t)ct_mask(kk >> 31); /* key top bit set: value was >= +0 */
    return kk ^ (pos & 0x80000000u) ^ (~pos);
}
/* ~0 if the float with bits u is NaN. */
static inline uint64_t f_isnan(uint32_t u)
{
    return ct_lt_u64(0x7f800000u, u & 0x7fffffffu);
}
/* ~0 if the float with bits u is +-inf or NaN. */
static inline uint64_t f_nonfinite(uint32_t u)
{
    return ~ct_lt_u64(u & 0x7fffffffu, 0x7f800000u);
}
static inline uint64_t dkey(double v)
{
    uint64_t u = mc2_f64_bits(v);
    u &= ~(ct_eq_u64(u, (uint64_t)1 << 63) & ((uint64_t)1 << 63));
    uint64_t neg = ct_mask(u >> 63);
    return u ^ (neg | ((uint64_t)1 << 63));
}
/* ~0 if a < b (neither NaN). */
static inline uint64_t d_lt(double a, double b)
{
    return ct_lt_u64(dkey(a), dkey(b));
}
static inline uint64_t d_le(double a, double b)
{
    return ~ct_lt_u64(dkey(b), dkey(a));
}
static inline double d_sel(uint64_t m, double a, double b)
{
    return mc2_f64_of(ct_select_u64(m, mc2_f64_bits(a), mc2_f64_bits(b)));
}
static inline float f_sel(uint64_t m, float a, float b)
{
    return mc2_f32_of((uint32_t)ct_select_u64(m, mc2_f32_bits(a), mc2_f32_bits(b)));
}

/* exp(x) for float x, branch- and table-free (range reduction by ln 2 and a degree-11
 * polynomial in double; relative error ~1e-15 before rounding to float). Inputs are clamped
 * to [-87, 88] (results saturate like expf's range). */
static float ct_expf(float xf)
{
    double x = xf;
    x = d_sel(d_lt(x, -87.0), -87.0, x);
    x = d_sel(d_lt(88.0, x), 88.0, x);
    double t = x * 1.4426950408889634 + 1024.5; /* > 0: truncation is floor */
    int64_t k = (int64_t)t - 1024;
    double r = x - (double)k * 0.6931471805599453;
    double p = 1.0 / 39916800.0;
    static const double c[11] = {
        1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0,      1.0 / 6.0,      0.5,           1.0,          1.0};
    for (int i = 0; i < 11; i++) p = p * r + c[i];
    return (float)(p * mc2_f64_of((uint64_t)(k + 1023) << 52));
}

/* XGBoost's gain and weight (train.c), branch-free. */
static inline double ct_thr_l1(double w, double a)
{
    return d_sel(d_lt(a, w), w - a, d_sel(d_lt(w, -a), w + a, 0.0));
}
static inline double ct_gain(const mc2_gbdt_params *p, double g, double h)
{
    uint64_t pos = d_lt(0.0, h);
    double t = ct_thr_l1(g, p->alpha);
    double den = d_sel(pos, h + p->lambda, 1.0);
    return d_sel(pos, t * t / den, 0.0);
}
static inline double ct_weight(const mc2_gbdt_params *p, double g, double h)
{
    uint64_t ok = d_lt(0.0, h) & d_le((double)p->min_child_weight, h);
    double den = d_sel(ok, h + p->lambda, 1.0);
    return d_sel(ok, -ct_thr_l1(g, p->alpha) / den, 0.0);
}

/* ---- prediction --------------------------------------------------------------------------- */

/* Depth of a tree (its longest root-to-leaf path), obliviously: children come after their
 * parent, so one pass in id order with a masked scan of the earlier nodes. O(nn^2). dep: nn
 * words of scratch. */
static uint64_t tree_depth(const mc2_gbdt_tree *t, uint64_t *dep)
{
    uint32_t nn = t->n_nodes;
    uint64_t mx = 0;
    dep[0] = 0;
    for (uint32_t k = 1; k < nn; k++) {
        uint64_t dk = 0;
        for (uint32_t j = 0; j < k; j++) {
            uint64_t l = (uint64_t)(uint32_t)t->nodes[j].left;
            uint64_t r = (uint64_t)(uint32_t)t->nodes[j].right;
            uint64_t m = ct_eq_u64(l, k) | ct_eq_u64(r, k);
            dk = ct_select_u64(m, dep[j] + 1, dk);
        }
        dep[k] = dk;
        mx = ct_select_u64(ct_lt_u64(mx, dk), dk, mx);
    }
    return mx;
}

/* Leaf value of row x under tree t, walking `levels` levels (>= the tree's depth): per level a
 * masked scan of every node (the current node's split) and of every feature (its value). */
static float obl_tree_leaf(const mc2_gbdt_tree *t, const float *x, size_t d, uint64_t levels)
{
    const mc2_gbdt_node *nodes = t->nodes;
    uint32_t nn = t->n_nodes;
    uint64_t cur = 0;
    for (uint64_t lv = 0; lv < levels; lv++) {
        uint64_t feat = 0, left = 0, cond = 0, dl = 0;
        for (uint32_t j = 0; j < nn; j++) {
            uint64_t m = ct_eq_u64(cur, j);
            feat = ct_select_u64(m, nodes[j].feature, feat);
            left = ct_select_u64(m, (uint32_t)nodes[j].left, left);
            cond = ct_select_u64(m, mc2_f32_bits(nodes[j].cond), cond);
            dl = ct_select_u64(m, nodes[j].default_left, dl);
        }
        uint64_t leaf = ct_eq_u64(left, 0xffffffffu);
        uint64_t v = 0;
        for (size_t f = 0; f < d; f++) v = ct_select_u64(ct_eq_u64(feat, f), mc2_f32_bits(x[f]), v);
        uint64_t goleft =
            ct_select_u64(f_isnan((uint32_t)v), ct_mask(dl & 1),
                          ct_lt_u64(ct_f32_key((uint32_t)v), ct_f32_key((uint32_t)cond)));
        uint64_t next = ct_select_u64(goleft, left, left + 1);
        cur = ct_select_u64(leaf, cur, next);
    }
    uint64_t val = 0;
    for (uint32_t j = 0; j < nn; j++)
        val = ct_select_u64(ct_eq_u64(cur, j), mc2_f32_bits(nodes[j].cond), val);
    return mc2_f32_of((uint32_t)val);
}

/* mc2_gbdt_transform without libm's expf (whose table index depends on the value) and without
 * the softmax's branchy max: sigmoid / softmax with ct_expf and a masked max. The values
 * differ from mc2_gbdt_transform's by rounding only (a few ulp); the margins are identical. */
static void obl_transform(enum mc2_gbdt_objective o, float *v, size_t n, uint32_t K)
{
    if (o == MC2_GBDT_BINARY_LOGISTIC) {
        for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + ct_expf(-v[i]));
    } else if (o == MC2_GBDT_MULTI_SOFTPROB) {
        for (size_t i = 0; i < n; i++) {
            float *r = v + i * K;
            double mx = r[0];
            for (uint32_t k = 1; k < K; k++) mx = d_sel(d_lt(mx, r[k]), r[k], mx);
            float sum = 0;
            for (uint32_t k = 0; k < K; k++) {
                r[k] = ct_expf((float)(r[k] - mx));
                sum += r[k];
            }
            for (uint32_t k = 0; k < K; k++) r[k] /= sum;
        }
    }
}

typedef struct opred_job {
    const mc2_gbdt_model *m;
    const float *x;
    size_t n, d, parts;
    uint64_t levels;
    int margin;
    float *out;
} opred_job;

/* Task t of parts: a public range of rows, every tree, then the transform. */
static void opred_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    const opred_job *j = arg;
    const mc2_gbdt_model *m = j->m;
    size_t lo = j->n * t / j->parts, hi = j->n * (t + 1) / j->parts, d = j->d;
    uint32_t K = mc2_gbdt_model_ngroup(m);
    float base = mc2_gbdt_base_margin(m->objective, m->base_score), *out = j->out;
    for (size_t i = lo * K; i < hi * K; i++) out[i] = base;
    /* the same float accumulation order as predict.c: per row, trees in boosting order */
    for (size_t i = lo; i < hi; i++)
        for (size_t k = 0; k < m->n_trees; k++) {
            const mc2_gbdt_tree *tr = &m->trees[k];
            out[i * K + tr->group] += obl_tree_leaf(tr, j->x + i * d, d, j->levels);
        }
    if (!j->margin) obl_transform(m->objective, out + lo * K, hi - lo, K);
}

int mc2_gbdt_predict_oblivious(const mc2_gbdt_model *m, const float *x, size_t n, size_t d,
                               int margin, unsigned nthread, float *out, mc2_err *err)
{
    if (d != m->num_feature)
        return mc2_err_set(err, MC2_E_INPUT, "prediction data has %zu features, the model has %u",
                           d, m->num_feature);
    uint32_t maxnn = 1;
    for (size_t t = 0; t < m->n_trees; t++)
        if (m->trees[t].n_nodes > maxnn) maxnn = m->trees[t].n_nodes;
    if (maxnn > OBL_MAX_PRED_NN)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "oblivious prediction: a tree has %u nodes, the limit is %u", maxnn,
                           OBL_MAX_PRED_NN);
    uint64_t *dep = mc2_malloc((size_t)maxnn * sizeof *dep);
    if (!dep) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
    uint64_t depth = 0;
    for (size_t t = 0; t < m->n_trees; t++) {
        uint64_t dt = tree_depth(&m->trees[t], dep);
        depth = ct_select_u64(ct_lt_u64(depth, dt), dt, depth);
    }
    explicit_bzero(dep, (size_t)maxnn * sizeof *dep);
    mc2_free(dep);
    /* the one declassification: the model's maximum depth (its loop bound) */
    opred_job j = {m, x, n, d, 1, obliv_declassify(depth), margin, out};
    if (nthread <= 1 || n < 2 * OBL_PRED_MIN_ROWS) {
        opred_task(&j, 0, 0);
        return 0;
    }
    if (nthread > MC2_GBDT_MAX_THREADS) nthread = MC2_GBDT_MAX_THREADS;
    mc2_gbdt_pool *pool = mc2_gbdt_pool_new(nthread, err);
    if (!pool) return -1;
    j.parts = nthread;
    mc2_gbdt_pool_run(pool, j.parts, opred_task, &j);
    mc2_gbdt_pool_free(pool);
    return 0;
}

/* ---- training: data check ----------------------------------------------------------------- */

/* mc2_gbdt_data_check without data-dependent branches: public sizes as usual, then every
 * value folded into one error mask, of which only the bit is declassified. */
static int obl_data_check(const mc2_gbdt_params *p, const mc2_gbdt_data *data, const char *what,
                          mc2_err *err)
{
    size_t cells;
    if (gbdt_data_shape_check(data, what, &cells, err)) return -1;
    uint64_t bad = 0;
    for (size_t i = 0; i < cells; i++) {
        uint32_t u = mc2_f32_bits(data->x[i]);
        bad |= f_nonfinite(u) & ~f_isnan(u); /* infinite */
    }
    for (size_t i = 0; i < data->n; i++) {
        uint32_t u = mc2_f32_bits(data->y[i]);
        uint64_t nf = f_nonfinite(u);
        bad |= nf;
        uint64_t k = ct_f32_key(u);
        if (p->objective == MC2_GBDT_BINARY_LOGISTIC)
            bad |= ct_lt_u64(k, ct_f32_key(0)) | ct_lt_u64(ct_f32_key(mc2_f32_bits(1.0f)), k);
        if (p->objective == MC2_GBDT_MULTI_SOFTPROB) {
            uint64_t in = ~ct_lt_u64(k, ct_f32_key(0)) &
                          ct_lt_u64(k, ct_f32_key(mc2_f32_bits((float)p->num_class))) & ~nf;
            float yc = f_sel(in, data->y[i], 0.0f);
            float yi = (float)(int64_t)yc;
            bad |= ~in | ~ct_eq_u64(ct_f32_key(mc2_f32_bits(yi)), ct_f32_key(mc2_f32_bits(yc)));
        }
        if (data->w) {
            uint32_t wu = mc2_f32_bits(data->w[i]);
            bad |= f_nonfinite(wu) | ct_lt_u64(ct_f32_key(wu), ct_f32_key(0));
        }
    }
    if (obliv_declassify(bad & 1))
        return mc2_err_set(err, MC2_E_INPUT,
                           "%s: a feature is infinite, or a label or weight is not valid for "
                           "%s (row not named: oblivious mode)",
                           what, mc2_gbdt_objective_name(p->objective));
    return 0;
}

unsigned mc2_gbdt_labels_check_oblivious(const mc2_gbdt_params *p, const float *y, size_t n)
{
    const uint64_t zero = ct_f32_key(0), one = ct_f32_key(mc2_f32_bits(1.0f));
    const uint64_t ncls = ct_f32_key(mc2_f32_bits((float)p->num_class));
    uint64_t why = 0, found = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = mc2_f32_bits(y[i]);
        uint64_t nf = f_nonfinite(u), k = ct_f32_key(u), r = 0;
        if (p->objective == MC2_GBDT_BINARY_LOGISTIC) /* public */
            r = (ct_lt_u64(k, zero) | ct_lt_u64(one, k)) & 2;
        if (p->objective == MC2_GBDT_MULTI_SOFTPROB) {
            uint64_t in = ~ct_lt_u64(k, zero) & ct_lt_u64(k, ncls) & ~nf;
            float yc = f_sel(in, y[i], 0.0f); /* in range: truncation is floor */
            uint64_t frac = ~ct_eq_u64(ct_f32_key(mc2_f32_bits((float)(int64_t)yc)),
                                       ct_f32_key(mc2_f32_bits(yc))); /* -0 is an integer */
            r = (~in | frac) & 3;
        }
        r = ct_select_u64(nf, 1, r);
        uint64_t hit = ct_nonzero(r) & ~found;
        why = ct_select_u64(hit, r, why);
        found |= hit;
    }
    return (unsigned)obliv_declassify(why);
}

long mc2_gbdt_first_inf_oblivious(const float *x, size_t n, size_t d)
{
    uint64_t found = 0, col = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++) {
            uint32_t u = mc2_f32_bits(x[i * d + f]);
            uint64_t hit = f_nonfinite(u) & ~f_isnan(u) & ~found;
            col = ct_select_u64(hit, f, col);
            found |= hit;
        }
    if (!obliv_declassify(found & 1)) return -1;
    return (long)obliv_declassify(col);
}

/* ---- training ----------------------------------------------------------------------------- */

/* A sort-histogram record: key = cell << 32 | row (a cell's dummy: row field all ones, so it
 * sorts last in its cell), v = the row's float g | float h << 32 (a dummy's: 0). After the
 * scan the record holds the double sums so far {g, h} instead. */
typedef struct hrec {
    uint64_t k, v;
} hrec;
#define HREC_DUMMY 0xffffffffu

typedef struct octx {
    const mc2_gbdt_params *p;
    const mc2_gbdt_data *tr;
    size_t n, d;
    uint32_t K, B, S, D; /* groups, bins, slots per feature (B + missing), depth */
    float *cut;          /* d x B: cut[f*B + t] for t = 1..B-1 (t = 0 unused) */
    uint16_t *bins;      /* n x d: 0..B-1, B = missing */
    float *margin;       /* n x K */
    float *g, *h;        /* K x n */
    uint8_t *fmask;
    uint32_t *pos;   /* n: node position within the current level */
    double *hist;    /* (2^(D-1)) x d x S x {g, h} */
    double *csum;    /* 2^D x {g, h}: sums of the children of the last level */
    uint64_t *split; /* 2^(D-1) x {feature, threshold, default_left} */
    float *leafv;    /* 2^D */
    hrec *keys;      /* n: the cut sorts' buffer */
    gbdt_rng rng;
    mc2_gbdt_pool *pool;
    size_t parts;      /* histogram tasks: one per thread (public row ranges) */
    size_t hist_words; /* doubles per histogram buffer (parts buffers) */
    enum gbdt_obl_hist how;
    size_t scap;    /* records per sort buffer: n + 2^(D-1) x S */
    hrec *srec;     /* nthread x scap: sort histograms' records */
    uint8_t *smark; /* nthread x scap: compaction marks */
    uint64_t *sscr; /* nthread x scap: compaction scratch */
} octx;

/* Rows [lo, hi)'s bins: per value the number of cuts <= it, counted over all cuts by
 * comparing order-preserving keys (ckey: d x B, the cuts' keys). */
static void obl_bin_rows(octx *c, const uint32_t *ckey, size_t lo, size_t hi)
{
    size_t d = c->d;
    uint32_t B = c->B;
    const float *x = c->tr->x;
    for (size_t i = lo; i < hi; i++)
        for (size_t f = 0; f < d; f++) {
            uint32_t u = mc2_f32_bits(x[i * d + f]), k = (uint32_t)ct_f32_key(u);
            const uint32_t *ck = ckey + f * B;
            uint32_t cnt = 0;
            for (uint32_t t = 1; t < B; t++) cnt += (uint32_t)(k >= ck[t]); /* setcc, no jump */
            c->bins[i * d + f] = (uint16_t)ct_select_u64(f_isnan(u), B, cnt);
        }
}

typedef struct bins_job {
    octx *c;
    const uint32_t *ckey;
} bins_job;

static void bins_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    bins_job *j = arg;
    size_t parts = j->c->parts, n = j->c->n;
    obl_bin_rows(j->c, j->ckey, n * t / parts, n * (t + 1) / parts);
}

/* Cut points at public ranks of each feature's obliviously sorted values (missing values
 * counted as the feature's maximum), then every value's bin (row ranges over the threads).
 * The sort buffer holds 16-byte records {key, 0}: the sort's AVX2 kernels. */
static int obl_bins(octx *c, mc2_err *err)
{
    size_t n = c->n, d = c->d;
    uint32_t B = c->B;
    const float *x = c->tr->x;
    unsigned th = c->p->nthread;
    uint32_t *ckey = mc2_malloc(d * B * sizeof *ckey);
    if (!ckey) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
    for (size_t f = 0; f < d; f++) {
        uint64_t kmax = ct_f32_key(mc2_f32_bits(-FLT_MAX));
        for (size_t i = 0; i < n; i++) {
            uint32_t u = mc2_f32_bits(x[i * d + f]);
            uint64_t k = ct_f32_key(u);
            kmax = ct_select_u64(~f_isnan(u) & ct_lt_u64(kmax, k), k, kmax);
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t u = mc2_f32_bits(x[i * d + f]);
            c->keys[i].k = ct_select_u64(f_isnan(u), kmax, ct_f32_key(u));
            c->keys[i].v = 0;
        }
        obliv_sort_u64(c->keys, n, sizeof *c->keys, th);
        float *cut = c->cut + f * B;
        cut[0] = -FLT_MAX;
        for (uint32_t t = 1; t < B; t++) {
            cut[t] = mc2_f32_of(fkey_decode(c->keys[(size_t)((uint64_t)t * n / B)].k));
            ckey[f * B + t] = (uint32_t)ct_f32_key(mc2_f32_bits(cut[t]));
        }
    }
    explicit_bzero(c->keys, n * sizeof *c->keys);
    bins_job j = {c, ckey};
    mc2_gbdt_pool_run(c->pool, c->parts, bins_task, &j);
    explicit_bzero(ckey, d * B * sizeof *ckey);
    mc2_free(ckey);
    return 0;
}

/* Gradients of every row and group from the margins (train.c's formulas, with ct_expf). */
static void obl_grads(octx *c)
{
    size_t n = c->n;
    uint32_t K = c->K;
    const float *y = c->tr->y, *w = c->tr->w;
    for (size_t i = 0; i < n; i++) {
        float wt = w ? w[i] : 1.0f;
        const float *m = c->margin + i * K;
        if (c->p->objective == MC2_GBDT_REG_SQUAREDERROR) {
            c->g[i] = (m[0] - y[i]) * wt;
            c->h[i] = wt;
        } else if (c->p->objective == MC2_GBDT_BINARY_LOGISTIC) {
            float pr = 1.0f / (1.0f + ct_expf(-m[0]));
            float hh = pr * (1.0f - pr);
            c->g[i] = (pr - y[i]) * wt;
            c->h[i] = f_sel(d_lt(1e-16, hh), hh, 1e-16f) * wt;
        } else {
            float mx = m[0];
            for (uint32_t k = 1; k < K; k++) mx = f_sel(d_lt(mx, m[k]), m[k], mx);
            float sum = 0;
            for (uint32_t k = 0; k < K; k++) sum += ct_expf(m[k] - mx);
            uint64_t label = (uint64_t)(int64_t)y[i];
            for (uint32_t k = 0; k < K; k++) {
                float pr = ct_expf(m[k] - mx) / sum;
                float hh = 2.0f * pr * (1.0f - pr) * wt;
                c->g[(size_t)k * n + i] = f_sel(ct_eq_u64(label, k), pr - 1.0f, pr) * wt;
                c->h[(size_t)k * n + i] = f_sel(d_lt(1e-16, hh), hh, 1e-16f);
            }
        }
    }
}

/* Histograms of the nl nodes of one level over rows [lo, hi), into hist: every row adds its
 * gradient to every (node, feature, slot) cell under a one-hot mask (zero where the cell is not
 * its own). O((hi - lo) x nl x d x S). */
static void obl_hist_rows(const octx *c, uint32_t nl, const float *g, const float *h, size_t lo,
                          size_t hi, double *hist)
{
    size_t d = c->d;
    uint32_t S = c->S;
    memset(hist, 0, (size_t)nl * d * S * 2 * sizeof *hist);
    for (size_t i = lo; i < hi; i++) {
        uint64_t gi = mc2_f64_bits(g[i]), hi_ = mc2_f64_bits(h[i]);
        const uint16_t *bi = c->bins + i * d;
        for (uint32_t q = 0; q < nl; q++) {
            uint64_t mq = ct_eq_u64(c->pos[i], q);
            uint64_t gq = gi & mq, hq = hi_ & mq;
            for (size_t f = 0; f < d; f++) {
                double *H = hist + ((size_t)q * d + f) * S * 2;
                uint32_t bf = bi[f];
                for (uint32_t b = 0; b < S; b++) {
                    uint64_t m = (uint64_t)0 - (uint64_t)(bf == b);
                    H[2 * b] += mc2_f64_of(gq & m);
                    H[2 * b + 1] += mc2_f64_of(hq & m);
                }
            }
        }
    }
}

typedef struct hist_job {
    octx *c;
    uint32_t nl;
    const float *g, *h;
} hist_job;

/* Task t of nthread: a public range of rows into histogram buffer t. */
static void hist_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    hist_job *j = arg;
    octx *c = j->c;
    size_t parts = c->parts, lo = c->n * t / parts, hi = c->n * (t + 1) / parts;
    obl_hist_rows(c, j->nl, j->g, j->h, lo, hi, c->hist + t * c->hist_words);
}

/* Feature f's histograms of the level's nl nodes by sorting (internal.h, SORT): records
 * keyed (node x S + bin, row) and one dummy per cell, sorted obliviously; a scan adds each
 * record's g, h to running sums, stores the sums in every record and restarts them after a
 * dummy, so each dummy ends holding its cell's sums (rows in row order: the one-hot method's
 * order); the compaction moves the dummies, in cell order, to the front. The cell of a row,
 * the sort's outcome and the marks are secret; every address and branch depends on n, nl, S
 * only. */
static void obl_hist_sort_feature(octx *c, uint32_t nl, const float *g, const float *h, size_t f,
                                  unsigned worker)
{
    size_t n = c->n, d = c->d, S = c->S, cells = (size_t)nl * S, m = n + cells;
    hrec *r = c->srec + worker * c->scap;
    uint8_t *mark = c->smark + worker * c->scap;
    for (size_t i = 0; i < n; i++) {
        uint64_t cell = (uint64_t)c->pos[i] * S + c->bins[i * d + f];
        r[i].k = cell << 32 | i;
        r[i].v = (uint64_t)mc2_f32_bits(g[i]) | (uint64_t)mc2_f32_bits(h[i]) << 32;
    }
    for (size_t j = 0; j < cells; j++) {
        r[n + j].k = (uint64_t)j << 32 | HREC_DUMMY;
        r[n + j].v = 0;
    }
    struct obliv_sort_spec spec = {.width = sizeof(hrec), .key_words = 1, .threads = 1};
    obliv_sort(r, m, &spec);
    double sg = 0, sh = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t dummy = ct_eq_u64(r[i].k & HREC_DUMMY, HREC_DUMMY);
        sg += (double)mc2_f32_of((uint32_t)r[i].v);
        sh += (double)mc2_f32_of((uint32_t)(r[i].v >> 32));
        r[i].k = mc2_f64_bits(sg);
        r[i].v = mc2_f64_bits(sh);
        mark[i] = (uint8_t)(dummy & 1);
        sg = d_sel(dummy, 0.0, sg);
        sh = d_sel(dummy, 0.0, sh);
    }
    (void)obliv_compact(r, m, sizeof(hrec), mark, c->sscr + worker * c->scap);
    for (size_t j = 0; j < cells; j++) {
        double *H = c->hist + ((j / S * d + f) * S + j % S) * 2;
        H[0] = mc2_f64_of(r[j].k);
        H[1] = mc2_f64_of(r[j].v);
    }
}

/* Task t: feature t, if the tree uses it (public colsample; feature 0 always, obl_split takes
 * the node's totals from it). */
static void hist_sort_task(void *arg, size_t t, unsigned worker)
{
    hist_job *j = arg;
    if (j->c->fmask[t] || t == 0) obl_hist_sort_feature(j->c, j->nl, j->g, j->h, t, worker);
}

/* Whether the sort method is the cheaper one for a level of nl nodes: a cost model of public
 * sizes, in units of about one masked add, calibrated on this machine (bench_gbdt): one-hot
 * n x nl x S x 2 adds per feature; sort about 3 units per compare-exchange of the network
 * plus 2 per record and compaction pass. */
static int obl_hist_use_sort(const octx *c, uint32_t nl)
{
    if (c->how != GBDT_OBL_HIST_AUTO) return c->how == GBDT_OBL_HIST_SORT;
    size_t m = c->n + (size_t)nl * c->S, lg = 1;
    while (((size_t)1 << lg) < m) lg++;
    double onehot = (double)c->n * nl * c->S * 2;
    double sort = 3.0 * (double)obliv_sort_cost(m) + 2.0 * (double)m * (double)lg;
    return sort < onehot;
}

/* The level's histograms. One-hot: row ranges split over the threads, partial histograms
 * summed in task order (deterministic for a given nthread). Sort: one feature per task. */
static void obl_hist(octx *c, uint32_t nl, const float *g, const float *h)
{
    hist_job j = {c, nl, g, h};
    if (obl_hist_use_sort(c, nl)) {
        mc2_gbdt_pool_run(c->pool, c->d, hist_sort_task, &j);
        return;
    }
    mc2_gbdt_pool_run(c->pool, c->parts, hist_task, &j);
    size_t words = (size_t)nl * c->d * c->S * 2;
    for (size_t t = 1; t < c->parts; t++) {
        const double *part = c->hist + t * c->hist_words;
        for (size_t k = 0; k < words; k++) c->hist[k] += part[k];
    }
}

/* Best split of node q of the level (public loops over features, thresholds, directions,
 * masked argmax); writes the tree node `id` and the split for node assignment. */
static void obl_split(octx *c, uint32_t q, uint32_t id, mc2_gbdt_node *tn, double *child)
{
    const mc2_gbdt_params *p = c->p;
    size_t d = c->d;
    uint32_t B = c->B, S = c->S;
    const double *H0 = c->hist + (size_t)q * d * S * 2;
    double G = 0, Hs = 0;
    for (uint32_t b = 0; b < S; b++) {
        G += H0[2 * b];
        Hs += H0[2 * b + 1];
    }
    float root_gain = (float)ct_gain(p, G, Hs);
    float best = 0, bcond = FLT_MAX;
    uint64_t bfeat = 0, bthr = B, bdl = 1;
    double blg = G, blh = Hs, brg = 0, brh = 0;
    for (size_t f = 0; f < d; f++) {
        if (!c->fmask[f]) continue; /* public: colsample */
        const double *H = H0 + f * S * 2;
        const float *cut = c->cut + f * B;
        double mg = H[2 * B], mh = H[2 * B + 1];
        double pg = 0, ph = 0;
        for (uint32_t t = 1; t < B; t++) {
            pg += H[2 * (t - 1)];
            ph += H[2 * (t - 1) + 1];
            for (uint64_t dl = 0; dl < 2; dl++) {
                uint64_t dm = ct_mask(dl);
                double lg = pg + d_sel(dm, mg, 0.0), lh = ph + d_sel(dm, mh, 0.0);
                double rg = G - lg, rh = Hs - lh;
                uint64_t valid =
                    d_le((double)p->min_child_weight, lh) & d_le((double)p->min_child_weight, rh);
                float loss = (float)ct_gain(p, lg, lh) + (float)ct_gain(p, rg, rh) - root_gain;
                uint64_t better = valid & ~f_nonfinite(mc2_f32_bits(loss)) & d_lt(best, loss);
                best = f_sel(better, loss, best);
                bfeat = ct_select_u64(better, f, bfeat);
                bthr = ct_select_u64(better, t, bthr);
                bdl = ct_select_u64(better, dl, bdl);
                bcond = f_sel(better, cut[t], bcond);
                blg = d_sel(better, lg, blg);
                blh = d_sel(better, lh, blh);
                brg = d_sel(better, rg, brg);
                brh = d_sel(better, rh, brh);
            }
        }
    }
    /* can_split of train.c; otherwise a pass-through: everything left, same sums */
    uint64_t can = d_lt(RT_EPS, best) & ~ct_eq_u64(mc2_f64_bits(blh), 0) &
                   ~ct_eq_u64(mc2_f64_bits(brh), 0) & d_le((double)p->gamma, best);
    uint64_t *sp = c->split + (size_t)q * 3;
    sp[0] = ct_select_u64(can, bfeat, 0);
    sp[1] = ct_select_u64(can, bthr, B);
    sp[2] = ct_select_u64(can, bdl, 1);
    child[0] = d_sel(can, blg, G);
    child[1] = d_sel(can, blh, Hs);
    child[2] = d_sel(can, brg, 0.0);
    child[3] = d_sel(can, brh, 0.0);
    float w = (float)ct_weight(p, G, Hs);
    tn->left = (int32_t)(2 * id + 1);
    tn->right = (int32_t)(2 * id + 2);
    tn->parent = id == 0 ? -1 : (int32_t)((id - 1) / 2);
    tn->feature = (uint32_t)sp[0];
    tn->cond = f_sel(can, bcond, FLT_MAX);
    tn->default_left = (uint8_t)sp[2];
    tn->base_weight = w;
    tn->loss_chg = f_sel(can, best, 0.0f);
    tn->sum_hess = (float)Hs;
}

/* Each row's position at the next level: its node's split (masked scan over the level's
 * nodes) applied to its bin of the split feature (masked scan over the features). */
static void obl_assign_rows(octx *c, uint32_t nl, size_t lo, size_t hi)
{
    size_t d = c->d;
    for (size_t i = lo; i < hi; i++) {
        uint64_t p = c->pos[i], sf = 0, st = 0, sdl = 0;
        for (uint32_t q = 0; q < nl; q++) {
            uint64_t m = ct_eq_u64(p, q);
            sf = ct_select_u64(m, c->split[3 * q], sf);
            st = ct_select_u64(m, c->split[3 * q + 1], st);
            sdl = ct_select_u64(m, c->split[3 * q + 2], sdl);
        }
        uint64_t b = 0;
        const uint16_t *bi = c->bins + i * d;
        for (size_t f = 0; f < d; f++) b = ct_select_u64(ct_eq_u64(sf, f), bi[f], b);
        uint64_t goleft = ct_select_u64(ct_eq_u64(b, c->B), ct_mask(sdl & 1), ct_lt_u64(b, st));
        c->pos[i] = (uint32_t)(2 * p + (~goleft & 1));
    }
}

typedef struct assign_job {
    octx *c;
    uint32_t nl;
} assign_job;

static void assign_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    assign_job *j = arg;
    size_t parts = j->c->parts, n = j->c->n;
    obl_assign_rows(j->c, j->nl, n * t / parts, n * (t + 1) / parts);
}

static void obl_assign(octx *c, uint32_t nl)
{
    assign_job j = {c, nl};
    mc2_gbdt_pool_run(c->pool, c->parts, assign_task, &j);
}

static int obl_tree(octx *c, uint32_t group, mc2_gbdt_tree *out, mc2_err *err)
{
    const mc2_gbdt_params *p = c->p;
    size_t n = c->n, d = c->d;
    const float *g = c->g + (size_t)group * n, *h = c->h + (size_t)group * n;
    /* colsample_bytree: public (the seeded RNG), exactly as train.c */
    if (p->colsample_bytree < 1.0f) {
        size_t want = (size_t)((double)p->colsample_bytree * (double)d);
        if (want < 1) want = 1;
        uint32_t *pm = mc2_malloc(d * sizeof *pm);
        if (!pm) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
        for (size_t f = 0; f < d; f++) pm[f] = (uint32_t)f;
        for (size_t f = d - 1; f > 0; f--) {
            size_t k = (size_t)(gbdt_rng_next(&c->rng) % (f + 1));
            uint32_t t = pm[f];
            pm[f] = pm[k];
            pm[k] = t;
        }
        memset(c->fmask, 0, d);
        for (size_t f = 0; f < want; f++) c->fmask[pm[f]] = 1;
        mc2_free(pm);
    } else {
        memset(c->fmask, 1, d);
    }
    uint32_t D = c->D, nn = (2u << D) - 1;
    mc2_gbdt_node *nodes = mc2_calloc(nn, sizeof *nodes);
    if (!nodes) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
    memset(c->pos, 0, n * sizeof *c->pos);
    for (uint32_t lv = 0; lv < D; lv++) {
        if (mc2_intr_check(err)) { /* the job's CPU time limit (base/intr.h) */
            mc2_free(nodes);
            return -1;
        }
        uint32_t nl = 1u << lv, first = nl - 1;
        obl_hist(c, nl, g, h);
        for (uint32_t q = 0; q < nl; q++)
            obl_split(c, q, first + q, &nodes[first + q], c->csum + (size_t)q * 4);
        obl_assign(c, nl);
    }
    /* leaves: the last splits' child sums */
    uint32_t nleaf = 1u << D, first = nleaf - 1;
    for (uint32_t q = 0; q < nleaf; q++) {
        mc2_gbdt_node *tn = &nodes[first + q];
        double sg = c->csum[2 * q], sh = c->csum[2 * q + 1];
        float w = (float)ct_weight(p, sg, sh);
        tn->left = tn->right = -1;
        tn->parent = (int32_t)((first + q - 1) / 2);
        tn->feature = 0;
        tn->base_weight = w;
        tn->cond = w * p->eta;
        tn->loss_chg = 0;
        tn->sum_hess = (float)sh;
        tn->default_left = 0;
        c->leafv[q] = tn->cond;
    }
    /* training margins: each row adds its leaf's value (masked scan over the leaves) */
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (uint32_t q = 0; q < nleaf; q++)
            v = ct_select_u64(ct_eq_u64(c->pos[i], q), mc2_f32_bits(c->leafv[q]), v);
        c->margin[i * c->K + group] += mc2_f32_of((uint32_t)v);
    }
    out->n_nodes = nn;
    out->group = group;
    out->nodes = nodes;
    return 0;
}

static void octx_free(octx *c)
{
    if (c->hist) explicit_bzero(c->hist, c->parts * c->hist_words * sizeof(double));
    mc2_gbdt_pool_free(c->pool);
    if (c->bins) explicit_bzero(c->bins, c->n * c->d * sizeof *c->bins);
    if (c->srec) explicit_bzero(c->srec, c->parts * c->scap * sizeof *c->srec);
    if (c->smark) explicit_bzero(c->smark, c->parts * c->scap);
    if (c->sscr) explicit_bzero(c->sscr, c->parts * c->scap * sizeof *c->sscr);
    mc2_free(c->cut);
    mc2_free(c->bins);
    mc2_free(c->margin);
    mc2_free(c->g);
    mc2_free(c->h);
    mc2_free(c->fmask);
    mc2_free(c->pos);
    mc2_free(c->hist);
    mc2_free(c->csum);
    mc2_free(c->split);
    mc2_free(c->leafv);
    mc2_free(c->keys);
    mc2_free(c->srec);
    mc2_free(c->smark);
    mc2_free(c->sscr);
}

int gbdt_train_oblivious(const mc2_gbdt_params *params, const mc2_gbdt_data *train,
                         const mc2_gbdt_data *eval, mc2_gbdt_eval_fn cb, void *cb_ctx,
                         enum gbdt_obl_hist how, mc2_gbdt_model **out, mc2_err *err)
{
    *out = NULL;
    mc2_gbdt_params pv;
    if (gbdt_train_setup(params, train, eval, obl_data_check, &pv, err)) return -1;
    const mc2_gbdt_params *p = &pv;
    octx cc;
    memset(&cc, 0, sizeof cc);
    octx *c = &cc;
    c->p = p;
    c->tr = train;
    c->n = train->n;
    c->d = train->d;
    c->K = p->objective == MC2_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
    c->B = p->max_bin;
    c->S = p->max_bin + 1;
    c->D = p->max_depth;
    c->how = how;
    mc2_gbdt_model *m = NULL;
    float *em = NULL, *ep = NULL;
    int rc = -1;
    size_t ntrees, nmarg, hcells, hbytes;
    if (!mc2_mul_size(p->num_round, c->K, &ntrees) || ntrees > MC2_GBDT_MAX_TREES) {
        mc2_err_set(err, MC2_E_LIMIT, "gbdt: num_round x num_class exceeds %u trees",
                    MC2_GBDT_MAX_TREES);
        goto out;
    }
    if (!mc2_mul_size((size_t)1 << (c->D - 1), c->d, &hcells) ||
        !mc2_mul_size(hcells, (size_t)c->S * 2 * sizeof(double), &hbytes) ||
        hbytes > OBL_MAX_HIST_B / p->nthread || !mc2_mul_size(c->n, c->K, &nmarg) ||
        nmarg > SIZE_MAX / 16) {
        mc2_err_set(err, MC2_E_LIMIT,
                    "gbdt: oblivious histograms of 2^(max_depth-1) x %zu features x %u bins "
                    "exceed %zu bytes per thread: lower max_depth or max_bin",
                    c->d, c->S, OBL_MAX_HIST_B / p->nthread);
        goto out;
    }
    /* sort records: row numbers below HREC_DUMMY, cells (< 2^31 by the limits) below 2^32 */
    if (how != GBDT_OBL_HIST_ONEHOT &&
        (c->n >= HREC_DUMMY || !mc2_mul_size(hcells / c->d, c->S, &c->scap) ||
         !mc2_add_size(c->scap, c->n, &c->scap) ||
         c->scap > SIZE_MAX / p->nthread / (sizeof(hrec) + 1 + sizeof(uint64_t)))) {
        mc2_err_set(err, MC2_E_LIMIT, "gbdt: %zu rows are too many for oblivious training", c->n);
        goto out;
    }
    c->parts = p->nthread;
    c->hist_words = hbytes / sizeof(double);
    c->pool = mc2_gbdt_pool_new(p->nthread, err);
    if (!c->pool) goto out;
    c->cut = mc2_malloc(c->d * c->B * sizeof *c->cut);
    c->bins = mc2_malloc(c->n * c->d * sizeof *c->bins);
    c->margin = mc2_malloc(nmarg * sizeof *c->margin);
    c->g = mc2_malloc(nmarg * sizeof *c->g);
    c->h = mc2_malloc(nmarg * sizeof *c->h);
    c->fmask = mc2_malloc(c->d);
    c->pos = mc2_malloc(c->n * sizeof *c->pos);
    c->hist = mc2_malloc(c->parts * hbytes);
    c->csum = mc2_malloc(((size_t)1 << c->D) * 2 * sizeof *c->csum);
    c->split = mc2_malloc(((size_t)1 << (c->D - 1)) * 3 * sizeof *c->split);
    c->leafv = mc2_malloc(((size_t)1 << c->D) * sizeof *c->leafv);
    c->keys = mc2_malloc(c->n * sizeof *c->keys);
    if (how != GBDT_OBL_HIST_ONEHOT) {
        c->srec = mc2_malloc(c->parts * c->scap * sizeof *c->srec);
        c->smark = mc2_malloc(c->parts * c->scap);
        c->sscr = mc2_malloc(c->parts * c->scap * sizeof *c->sscr);
        if (!c->srec || !c->smark || !c->sscr) {
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for %zu rows", c->n);
            goto out;
        }
    }
    m = mc2_calloc(1, sizeof *m);
    if (m) m->trees = mc2_calloc(ntrees, sizeof *m->trees);
    if (!c->cut || !c->bins || !c->margin || !c->g || !c->h || !c->fmask || !c->pos || !c->hist ||
        !c->csum || !c->split || !c->leafv || !c->keys || !m || !m->trees) {
        mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for %zu rows", c->n);
        goto out;
    }
    if (eval) {
        em = mc2_malloc(eval->n * c->K * sizeof *em);
        ep = mc2_malloc(eval->n * c->K * sizeof *ep);
        if (!em || !ep) {
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the evaluation set");
            goto out;
        }
        if (gbdt_history_init(m, p, "eval", err) < 0) goto out;
    }
    m->objective = p->objective;
    m->num_class = p->objective == MC2_GBDT_MULTI_SOFTPROB ? p->num_class : 0;
    m->num_feature = (uint32_t)c->d;
    m->base_score = p->base_score;
    float base = mc2_gbdt_base_margin(p->objective, p->base_score);
    for (size_t i = 0; i < nmarg; i++) c->margin[i] = base;
    if (eval)
        for (size_t i = 0; i < eval->n * c->K; i++) em[i] = base;
    gbdt_rng_seed(&c->rng, p->seed);

    if (obl_bins(c, err) != 0) goto out;
    for (uint32_t round = 0; round < p->num_round; round++) {
        obl_grads(c);
        if (p->subsample < 1.0f) { /* public rows, from the seeded RNG */
            for (size_t i = 0; i < c->n; i++) {
                if (gbdt_rng_uniform(&c->rng) < (double)p->subsample) continue;
                for (uint32_t k = 0; k < c->K; k++)
                    c->g[(size_t)k * c->n + i] = c->h[(size_t)k * c->n + i] = 0;
            }
        }
        for (uint32_t k = 0; k < c->K; k++) {
            mc2_gbdt_tree *t = &m->trees[m->n_trees];
            if (obl_tree(c, k, t, err) != 0) goto out;
            m->n_trees++;
            if (eval)
                for (size_t i = 0; i < eval->n; i++)
                    em[i * c->K + k] += obl_tree_leaf(t, eval->x + i * c->d, c->d, c->D);
        }
        double vals[MC2_GBDT_MAX_METRICS];
        uint32_t nm = 0; /* without eval: no metrics, the round's end only (public) */
        if (eval) {
            /* the metrics are released to the caller; computing them is not oblivious */
            size_t ne = eval->n * c->K;
            memcpy(ep, em, ne * sizeof(float));
            mc2_gbdt_transform(p->objective, ep, eval->n, c->K);
            for (uint32_t q = 0; q < p->n_metrics; q++)
                vals[q] = mc2_gbdt_metric(p->metrics[q], ep, eval->y, eval->w, eval->n, c->K);
            gbdt_history_push(m, 0, vals);
            nm = p->n_metrics;
        }
        if (cb && cb(cb_ctx, round, p->metrics, vals, nm) != 0) break;
    }
    *out = m;
    m = NULL;
    rc = 0;
out:
    mc2_gbdt_model_free(m);
    mc2_free(em);
    mc2_free(ep);
    octx_free(c);
    return rc;
}
