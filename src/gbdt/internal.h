/* internal.h - declarations shared by the GBDT engine's files (not part of its API). */
#ifndef MC2_GBDT_INTERNAL_H
#define MC2_GBDT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gbdt/gbdt.h"

/* One entry of a weighted quantile summary (XGBoost's WQSummary<float, float>::Entry). */
typedef struct mc2_gbdt_qentry {
    float rmin, rmax, wmin, value;
} mc2_gbdt_qentry;

/* XGBoost's streaming weighted quantile sketch for one feature, on caller-sized buffers so
 * that a worker thread never allocates. */
typedef struct mc2_gbdt_sketch {
    size_t cap_limit, cap_levels; /* buffer capacities (from mc2_gbdt_sketch_alloc) */
    size_t limit_size, max_levels;
    struct {
        float value, weight;
    } * queue;
    size_t qcap, qtail;
    uint64_t *sort_a, *sort_b;
    mc2_gbdt_qentry *levels; /* cap_levels x cap_limit; level 0 is scratch */
    size_t *level_size, n_levels;
    mc2_gbdt_qentry *temp; /* 2 * limit_size + 2 */
    size_t temp_size;
    mc2_gbdt_qentry *out; /* 2 * limit_size + max_bin + 4 */
} mc2_gbdt_sketch;

/* XGBoost's LimitSizeLevel for a column of maxn values and max_bin bins. */
void mc2_gbdt_sketch_dims(size_t maxn, uint32_t max_bin, size_t *limit_size, size_t *nlevel);
/* Allocates buffers for columns of up to maxn values (monotone: enough for any smaller
 * column). Returns 0 or -1 (out of memory). */
int mc2_gbdt_sketch_alloc(mc2_gbdt_sketch *sk, size_t maxn, uint32_t max_bin) MC2_WUR;
void mc2_gbdt_sketch_free(mc2_gbdt_sketch *sk);
/* Starts a column of exactly maxn (>= 1) non-missing values. Never allocates. */
void mc2_gbdt_sketch_init(mc2_gbdt_sketch *sk, size_t maxn, uint32_t max_bin);
/* Adds a non-NaN value with weight w (in row order, as XGBoost does). */
void mc2_gbdt_sketch_push(mc2_gbdt_sketch *sk, float x, float w);
/* Cut points after all `count` values were pushed: writes up to max_bin cuts and *min_val,
 * returns the number of cuts (>= 1). */
uint32_t mc2_gbdt_sketch_cuts(mc2_gbdt_sketch *sk, size_t count, uint32_t max_bin, float *cuts,
                              float *min_val);
/* The same in two steps, so that summaries of several ranks can be merged in between (dist.c):
 * mc2_gbdt_sketch_summary writes the column's summary, pruned to min(count, 8 * max_bin)
 * entries (XGBoost's intermediate size), to dst (room for that many) and returns its size (0
 * for an empty column); mc2_gbdt_summary_merge writes the combination of two summaries,
 * pruned to maxsize entries, to dst (tmp: na + nb entries; neither may overlap a, b or each
 * other) and returns its size; mc2_gbdt_summary_cuts computes the cuts of a column of
 * `count` values from its summary (tmp: max_bin + 2 entries) as mc2_gbdt_sketch_cuts does. */
size_t mc2_gbdt_sketch_summary(mc2_gbdt_sketch *sk, size_t count, uint32_t max_bin,
                               mc2_gbdt_qentry *dst);
size_t mc2_gbdt_summary_merge(const mc2_gbdt_qentry *a, size_t na, const mc2_gbdt_qentry *b,
                              size_t nb, size_t maxsize, mc2_gbdt_qentry *tmp,
                              mc2_gbdt_qentry *dst);
uint32_t mc2_gbdt_summary_cuts(const mc2_gbdt_qentry *s, size_t size, size_t count,
                               uint32_t max_bin, mc2_gbdt_qentry *tmp, float *cuts, float *min_val);

/* Starts recording per-round metrics (p's, p->n_metrics > 0) of evaluation set `name` in m:
 * room for p->num_round rounds is allocated here, so that gbdt_history_push never allocates.
 * Returns the set's index, or -1 with MC2_E_NOMEM. */
int gbdt_history_init(mc2_gbdt_model *m, const mc2_gbdt_params *p, const char *name, mc2_err *err);
/* Records one round's values (m->n_metrics of them) for set `set`. */
void gbdt_history_push(mc2_gbdt_model *m, int set, const double *values);

/* Base margin for the model's base_score (logit for binary:logistic, as XGBoost 1.7). */
float mc2_gbdt_base_margin(enum mc2_gbdt_objective o, float base_score);

/* Margin of one row of x under one tree. */
static inline float mc2_gbdt_tree_leaf(const mc2_gbdt_tree *t, const float *x)
{
    const mc2_gbdt_node *nodes = t->nodes;
    int32_t i = 0;
    while (nodes[i].left >= 0) {
        float v = x[nodes[i].feature];
        if (v != v)
            i = nodes[i].default_left ? nodes[i].left : nodes[i].right;
        else
            i = v < nodes[i].cond ? nodes[i].left : nodes[i].right;
    }
    return nodes[i].cond;
}

/* ---- distributed training (dist.c; the public interface is dist.h) ------------------------ */

/* A distributed run: the caller's comm and the calls made so far, checked against the
 * sequence mc2_gbdt_dist_ops lists (a call out of it is MC2_E_INTERNAL). */
typedef struct gbdt_dist gbdt_dist;

/* One column's share of a rank for the cut exchange: its non-missing values (count), whether
 * it has missing ones, and its summary (mc2_gbdt_sketch_summary: n entries at e). */
typedef struct gbdt_colsum {
    uint64_t count;
    uint8_t hasmiss;
    uint32_t n;
    mc2_gbdt_qentry *e;
} gbdt_colsum;

/* The number of ranks of the run. */
uint32_t gbdt_dist_ranks(const gbdt_dist *g);
/* The cut exchange (dist.h steps 1: gather0 of every rank's summaries, merged at rank 0, the
 * cuts bcast0): from this rank's d columns (n_local rows) fills, over all ranks, nc[f] (the
 * cuts of feature f), minv[f], hasmiss[f], *cuts (malloc'd: every feature's cuts in feature
 * order), *row_off (the first row of this rank among all ranks' rows in rank order) and
 * *row_total. */
int gbdt_dist_cuts(gbdt_dist *g, const mc2_gbdt_params *p, size_t d, size_t n_local,
                   const gbdt_colsum *cols, uint32_t *nc, float *minv, uint8_t *hasmiss,
                   float **cuts, uint64_t *row_off, uint64_t *row_total, mc2_err *err) MC2_WUR;
/* Sums v[0..n) over the ranks in place (n may be 0: the call is still made). */
int gbdt_dist_allreduce(gbdt_dist *g, double *v, size_t n, mc2_err *err) MC2_WUR;

/* The histogram trainer behind mc2_gbdt_train (p: checked and completed by gbdt_train_setup)
 * and, with dist != NULL, behind mc2_gbdt_train_dist (then eval and cb are NULL and train
 * holds this rank's rows, maybe none). */
int gbdt_train_hist(const mc2_gbdt_params *p, const mc2_gbdt_data *train, const mc2_gbdt_data *eval,
                    mc2_gbdt_eval_fn cb, void *cb_ctx, gbdt_dist *dist, mc2_gbdt_model **out,
                    mc2_err *err) MC2_WUR;

/* How the oblivious trainer builds a level's histograms: a public choice. AUTO picks, per
 * level, the cheaper of the two by a cost model of public sizes (n, d, bins, nodes); tests
 * force one to compare them (with nthread 1 both give bit-identical histograms).
 *   ONEHOT  every row adds its gradients to every (node, feature, bin) cell under a mask:
 *           O(n x nodes x d x bins) per level.
 *   SORT    per feature, an oblivious sort of one record per row keyed (node, bin, row) plus
 *           one dummy per cell, a scan that leaves each cell's sums in its dummy, and an
 *           oblivious compaction of the dummies: O(d x (n + cells) log^2 (n + cells)). */
enum gbdt_obl_hist { GBDT_OBL_HIST_AUTO, GBDT_OBL_HIST_ONEHOT, GBDT_OBL_HIST_SORT };

/* mc2_gbdt_train with params->oblivious set (params already checked): oblivious.c. */
int gbdt_train_oblivious(const mc2_gbdt_params *p, const mc2_gbdt_data *train,
                         const mc2_gbdt_data *eval, mc2_gbdt_eval_fn cb, void *cb_ctx,
                         enum gbdt_obl_hist how, mc2_gbdt_model **out, mc2_err *err) MC2_WUR;

/* mc2_gbdt_metric in two steps for the metrics that are sums over rows (rmse, logloss, merror;
 * AUC: sums 0, final NaN): out = (sum, sum of weights) over the rows, then the metric from
 * such sums (added across ranks in a distributed run). */
void gbdt_metric_sums(enum mc2_gbdt_metric metric, const float *pred, const float *y,
                      const float *w, size_t n, uint32_t ngroup, double *out);
double gbdt_metric_final(enum mc2_gbdt_metric metric, const double *s);

/* Transforms margins in place (n rows x ngroup) to probabilities, as XGBoost does. */
void mc2_gbdt_transform(enum mc2_gbdt_objective o, float *v, size_t n, uint32_t ngroup);

/* The size checks every data set passes first (rows, features, cells, pointers); *cells gets
 * n * d. Shared by the normal and the oblivious data checks. */
int gbdt_data_shape_check(const mc2_gbdt_data *data, const char *what, size_t *cells, mc2_err *err);

/* Both trainers' prologue: checks the training and evaluation sets with `check`, and fills *pv
 * with params plus the objective's default metric when none is given. */
typedef int (*gbdt_data_check_fn)(const mc2_gbdt_params *p, const mc2_gbdt_data *data,
                                  const char *what, mc2_err *err);
int gbdt_train_setup(const mc2_gbdt_params *params, const mc2_gbdt_data *train,
                     const mc2_gbdt_data *eval, gbdt_data_check_fn check, mc2_gbdt_params *pv,
                     mc2_err *err);

/* splitmix64 + xoshiro256**: the engine's own deterministic PRNG (subsample, colsample;
 * public: seeded from the job, never from data). Both trainers use it. */
typedef struct gbdt_rng {
    uint64_t s[4];
} gbdt_rng;
static inline uint64_t gbdt_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline void gbdt_rng_seed(gbdt_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = gbdt_splitmix64(&seed);
}
static inline uint64_t gbdt_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}
static inline uint64_t gbdt_rng_next(gbdt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = gbdt_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = gbdt_rotl(s[3], 45);
    return res;
}
/* Uniform in [0, 1). */
static inline double gbdt_rng_uniform(gbdt_rng *r)
{
    return (double)(gbdt_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
