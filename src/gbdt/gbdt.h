/* gbdt.h - the in-enclave gradient-boosted tree engine: parameters, training with the
 * histogram method on a dense in-memory matrix, prediction, metrics, and models (mc2's own
 * versioned binary format and export to XGBoost 1.7's JSON model format).
 *
 * Data layout: a feature matrix is float32, row-major, n rows x d features (x[i*d + j] is
 * feature j of row i); NaN marks a missing value. Labels are float32, one per row.
 *
 * Trust: everything here runs inside the enclave. Parameters come from a job and are hostile:
 * every setter validates, and mc2_gbdt_train() checks parameters and data (sizes, labels
 * against the objective and num_class) before any work starts. A model blob handed to
 * mc2_gbdt_model_load() is hostile too. */
#ifndef MC2_GBDT_GBDT_H
#define MC2_GBDT_GBDT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/err.h"

/* ---- limits ------------------------------------------------------------------------------ */
#define MC2_GBDT_MAX_ROWS     2147483647u /* row indices are uint32 */
#define MC2_GBDT_MAX_FEATURES 100000u
#define MC2_GBDT_MAX_DEPTH    16u
#define MC2_GBDT_MAX_BIN      65535u
#define MC2_GBDT_MAX_CLASS    1000u
#define MC2_GBDT_MAX_ROUND    100000u
#define MC2_GBDT_MAX_THREADS  64u
#define MC2_GBDT_MAX_TREES    1000000u
#define MC2_GBDT_MAX_NODES    131071u /* 2^(MAX_DEPTH+1) - 1 */
#define MC2_GBDT_MAX_METRICS  4u
#define MC2_GBDT_MAX_NAME     128u /* bytes in a feature name (a column name) */
#define MC2_GBDT_MAX_SETS     2u   /* evaluation sets whose per-round metrics a model keeps */
#define MC2_GBDT_SET_NAME_MAX 15u  /* bytes in an evaluation set's name ("train", "eval") */

enum mc2_gbdt_objective {
    MC2_GBDT_REG_SQUAREDERROR = 1,
    MC2_GBDT_BINARY_LOGISTIC = 2,
    MC2_GBDT_MULTI_SOFTPROB = 3
};

enum mc2_gbdt_metric {
    MC2_GBDT_METRIC_RMSE = 1,
    MC2_GBDT_METRIC_LOGLOSS = 2,
    MC2_GBDT_METRIC_AUC = 3,
    MC2_GBDT_METRIC_MERROR = 4
};

/* Training parameters. Names and defaults follow XGBoost 1.7 (see mc2_gbdt_params_set). */
typedef struct mc2_gbdt_params {
    enum mc2_gbdt_objective objective; /* default reg:squarederror */
    uint32_t num_class;                /* multi:softprob only (>= 2); 0 otherwise */
    uint32_t num_round;                /* boosting rounds, default 10 */
    uint32_t max_depth;                /* 1..16, default 6 */
    uint32_t max_bin;                  /* 2..65535, default 256 */
    float eta;                         /* learning rate, default 0.3 */
    float gamma;                       /* min_split_loss, default 0 */
    float lambda;                      /* reg_lambda, default 1 */
    float alpha;                       /* reg_alpha, default 0 */
    float min_child_weight;            /* default 1 */
    float subsample;                   /* (0, 1], default 1 */
    float colsample_bytree;            /* (0, 1], default 1 */
    float base_score;                  /* default 0.5 (probability space for logistic) */
    uint64_t seed;                     /* for subsample and colsample_bytree, default 0 */
    uint32_t nthread;                  /* worker threads incl. the caller, default 2 */
    uint32_t oblivious;  /* 1: train obliviously (fixed-shape trees, branch-free kernels; see
                            docs/gbdt.md "Oblivious mode"), default 0 */
    uint32_t eval_train; /* 1: also record the metrics on the training set every round (model
                            set "train"; not with oblivious), default 0 */
    uint32_t n_metrics;  /* evaluation metrics; 0 = the objective's default */
    enum mc2_gbdt_metric metrics[MC2_GBDT_MAX_METRICS];
} mc2_gbdt_params;

/* Fills *p with the defaults above. */
void mc2_gbdt_params_default(mc2_gbdt_params *p);

/* Sets one parameter from text, as a job names it: key is an XGBoost parameter name or alias
 * (objective, num_class, num_round|n_estimators, max_depth, max_bin, eta|learning_rate,
 * gamma|min_split_loss, lambda|reg_lambda, alpha|reg_alpha, min_child_weight, subsample,
 * colsample_bytree, base_score, seed|random_state, nthread|n_jobs, eval_metric (may repeat),
 * tree_method (must be "hist"), oblivious (0/1/true/false), eval_train (0/1/true/false: mc2's
 * own, the training set's metrics per round)). Returns 0, or -1 with MC2_E_INPUT
 * naming the parameter and what is allowed (unknown names get a "did you mean" suggestion). */
int mc2_gbdt_params_set(mc2_gbdt_params *p, const char *key, const char *value,
                        mc2_err *err) MC2_WUR;

/* Checks the combination of parameters (e.g. num_class only with multi:softprob, metrics that
 * fit the objective). Returns 0 or -1 with MC2_E_INPUT. */
int mc2_gbdt_params_check(const mc2_gbdt_params *p, mc2_err *err) MC2_WUR;

/* Returns the objective's XGBoost name, or a metric's name. */
const char *mc2_gbdt_objective_name(enum mc2_gbdt_objective o);
const char *mc2_gbdt_metric_name(enum mc2_gbdt_metric m);

/* A dense data set (a view; nothing is copied). w may be NULL (all weights 1). */
typedef struct mc2_gbdt_data {
    const float *x; /* n * d, row-major, NaN = missing */
    const float *y; /* n labels */
    const float *w; /* n non-negative weights, or NULL */
    size_t n, d;
} mc2_gbdt_data;

/* Checks a data set against checked parameters: sizes within limits, no infinite features,
 * labels finite and valid for the objective (binary: in [0, 1]; multiclass: integers in
 * [0, num_class)), weights finite and >= 0. `what` names the set in messages ("training
 * data"). Returns 0 or -1 with MC2_E_INPUT / MC2_E_LIMIT. */
int mc2_gbdt_data_check(const mc2_gbdt_params *p, const mc2_gbdt_data *data, const char *what,
                        mc2_err *err) MC2_WUR;

/* ---- models ------------------------------------------------------------------------------ */

/* A tree node, in XGBoost's layout. left/right are -1 for a leaf; otherwise both come after
 * the node and right == left + 1 (prediction relies on it; loading enforces it). Rows with
 * x[feature] < cond go left, NaN goes left iff default_left. For a leaf, cond is the leaf
 * value (eta applied). base_weight is the unscaled Newton weight of the node. */
typedef struct mc2_gbdt_node {
    int32_t left, right, parent; /* parent is -1 for the root */
    uint32_t feature;
    float cond;
    float base_weight;
    float loss_chg; /* 0 for a leaf */
    float sum_hess;
    uint8_t default_left;
} mc2_gbdt_node;

typedef struct mc2_gbdt_tree {
    uint32_t n_nodes;
    uint32_t group; /* output (class) this tree adds to */
    mc2_gbdt_node *nodes;
} mc2_gbdt_tree;

/* A feature's type, as XGBoost's JSON `feature_types` names it ("float", "int", "i"). */
enum mc2_gbdt_ftype { MC2_GBDT_FT_FLOAT = 1, MC2_GBDT_FT_INT = 2, MC2_GBDT_FT_INDICATOR = 3 };

/* The per-round metrics of one evaluation set: values[r * n_metrics + q] is metric q of the
 * model (m->metrics[q]) after round r; NaN where it is undefined (AUC of one class). */
typedef struct mc2_gbdt_evalset {
    char name[MC2_GBDT_SET_NAME_MAX + 1]; /* "train", "eval": [a-z0-9_], 1..15 bytes */
    uint32_t n_rounds;
    double *values;
} mc2_gbdt_evalset;

typedef struct mc2_gbdt_model {
    enum mc2_gbdt_objective objective;
    uint32_t num_class;   /* 0 unless multi:softprob */
    uint32_t num_feature; /* d */
    float base_score;     /* as the user gave it (probability space for logistic) */
    size_t n_trees;
    mc2_gbdt_tree *trees; /* in boosting order; round r, class k is trees[r*ngroup + k] */
    /* Since format version 2 (all optional): */
    char **feature_names;   /* NULL, or num_feature distinct identifiers (column names) */
    uint8_t *feature_types; /* NULL, or num_feature enum mc2_gbdt_ftype (with the names) */
    uint32_t n_metrics;     /* metrics recorded per round (0: none) */
    enum mc2_gbdt_metric metrics[MC2_GBDT_MAX_METRICS];
    uint32_t n_sets; /* evaluation sets with recorded metrics (needs n_metrics > 0) */
    mc2_gbdt_evalset sets[MC2_GBDT_MAX_SETS];
    uint32_t format_version; /* the version it was loaded from (0: built in memory) */
} mc2_gbdt_model;

/* Gives the model feature names (num_feature identifiers: letters, digits and '_', not
 * starting with a digit, 1..MC2_GBDT_MAX_NAME bytes, distinct) and types (NULL: all float),
 * copied. Returns 0, or -1 with MC2_E_INPUT naming the bad name, or MC2_E_NOMEM. */
int mc2_gbdt_model_set_features(mc2_gbdt_model *m, const char *const *names,
                                const enum mc2_gbdt_ftype *types, mc2_err *err) MC2_WUR;

/* XGBoost's name of a feature type ("float", "int", "i"). */
const char *mc2_gbdt_ftype_name(enum mc2_gbdt_ftype t);

/* Feature importance exactly as XGBoost 1.7's Booster.get_score(importance_type=...) defines
 * it for a tree model: over every split node of every tree, per split feature,
 *   WEIGHT       the number of splits on it
 *   TOTAL_GAIN   the sum of the splits' loss_chg      GAIN   TOTAL_GAIN / WEIGHT
 *   TOTAL_COVER  the sum of the splits' sum_hess      COVER  TOTAL_COVER / WEIGHT
 * summed in float in tree and node order (as XGBoost does). out receives num_feature values;
 * a feature never split on gets 0 (get_score leaves it out). */
enum mc2_gbdt_importance {
    MC2_GBDT_IMP_WEIGHT = 1,
    MC2_GBDT_IMP_GAIN,
    MC2_GBDT_IMP_TOTAL_GAIN,
    MC2_GBDT_IMP_COVER,
    MC2_GBDT_IMP_TOTAL_COVER
};
void mc2_gbdt_importance(const mc2_gbdt_model *m, enum mc2_gbdt_importance type, double *out);
/* "weight", "gain", "total_gain", "cover", "total_cover". */
const char *mc2_gbdt_importance_name(enum mc2_gbdt_importance t);

/* *depth = the depth of the deepest tree (0 for a model of single-leaf trees). Returns 0, or
 * -1 with MC2_E_NOMEM. */
int mc2_gbdt_model_depth(const mc2_gbdt_model *m, uint32_t *depth, mc2_err *err) MC2_WUR;

/* Number of outputs per row: num_class for multi:softprob, else 1. */
uint32_t mc2_gbdt_model_ngroup(const mc2_gbdt_model *m);

/* Frees a model, wiping its trees (NULL is a no-op). */
void mc2_gbdt_model_free(mc2_gbdt_model *m);

/* Called after every round with the metric values on the evaluation set (in the order of
 * p->metrics); without an evaluation set with n_metrics = 0 (a round ended: progress).
 * Return non-zero to stop training early (the model keeps the rounds so far). */
typedef int (*mc2_gbdt_eval_fn)(void *ctx, uint32_t round, const enum mc2_gbdt_metric *metrics,
                                const double *values, uint32_t n_metrics);

/* Trains a model. `params` and both data sets are checked first (nothing is computed on bad
 * input); eval may be NULL (no metrics: cb gets none, only each round's end) and must have
 * train->d features. With an eval set the model records its per-round metrics as evaluation
 * set "eval" (m->sets[0]; the rounds trained, also when cb stops early); with
 * params->eval_train, the training set's as set "train" (after "eval"; on all rows, as XGBoost
 * evaluates dtrain).
 * Uses params->nthread threads. Returns 0 and *out (free with mc2_gbdt_model_free), or -1
 * with *err. */
int mc2_gbdt_train(const mc2_gbdt_params *params, const mc2_gbdt_data *train,
                   const mc2_gbdt_data *eval, mc2_gbdt_eval_fn cb, void *cb_ctx,
                   mc2_gbdt_model **out, mc2_err *err) MC2_WUR;

/* Predicts n rows of x (n x d row-major, d == m->num_feature). out receives
 * n * ngroup floats (row-major); margin != 0 gives raw scores, otherwise transformed
 * (sigmoid for logistic, softmax for softprob). Returns -1 with MC2_E_INPUT if d does not
 * match. */
int mc2_gbdt_predict(const mc2_gbdt_model *m, const float *x, size_t n, size_t d, int margin,
                     float *out, mc2_err *err) MC2_WUR;
/* The same on nthread threads (results identical to mc2_gbdt_predict). */
int mc2_gbdt_predict_mt(const mc2_gbdt_model *m, const float *x, size_t n, size_t d, int margin,
                        unsigned nthread, float *out, mc2_err *err) MC2_WUR;

/* Oblivious prediction (docs/gbdt.md "Oblivious mode"): the same margins as
 * mc2_gbdt_predict, bit for bit, for ANY model, but every branch and memory address depends
 * only on public sizes (n, d, the number of trees, each tree's node count and group) and on
 * the model's maximum tree depth, which is computed obliviously and declassified. Per row and
 * tree it scans all nodes once per level and all features once per level:
 * O(trees x depth x (nodes + d)), rows split over nthread threads by public ranges (the
 * results do not depend on nthread). Margins are bit-identical to mc2_gbdt_predict's;
 * margin == 0 applies the output transform with a table-free exp and a masked max, which
 * agrees with mc2_gbdt_predict's up to rounding (within 1e-6 relative). */
int mc2_gbdt_predict_oblivious(const mc2_gbdt_model *m, const float *x, size_t n, size_t d,
                               int margin, unsigned nthread, float *out, mc2_err *err) MC2_WUR;

/* The input checks of oblivious jobs (the enclave's GBDT reader), without data-dependent
 * branches or addresses; each declassifies (obliv_declassify) only what its caller's error
 * message says. mc2_gbdt_labels_check_oblivious: the reason the first bad label of y[0..n)
 * is bad: 0 none, 1 not finite (NULL), 2 outside [0, 1] (binary:logistic), 3 not an
 * integer 0..num_class-1 (multi:softprob). mc2_gbdt_first_inf_oblivious: -1 if no value
 * of x (n x d row-major) is infinite, else the feature index of the first one in row-major
 * order (the column is declassified only then). */
unsigned mc2_gbdt_labels_check_oblivious(const mc2_gbdt_params *p, const float *y, size_t n);
long mc2_gbdt_first_inf_oblivious(const float *x, size_t n, size_t d);

/* Computes a metric from transformed predictions (n * ngroup) and labels; weights may be
 * NULL. AUC of a set with only one class is NaN. */
double mc2_gbdt_metric(enum mc2_gbdt_metric metric, const float *pred, const float *y,
                       const float *w, size_t n, uint32_t ngroup);

/* Appends the model in mc2's binary format (version 2, see model.c) to out. */
int mc2_gbdt_model_save(const mc2_gbdt_model *m, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Parses a model (format version 1 or 2) from untrusted bytes, validating everything
 * (structure of each tree, feature indices, finite values, names, metrics, every length
 * against the bytes left). Returns 0 and *out, or -1 with MC2_E_INPUT. */
int mc2_gbdt_model_load(const uint8_t *p, size_t n, mc2_gbdt_model **out, mc2_err *err) MC2_WUR;

/* Appends the model as an XGBoost 1.7 JSON model (Booster.load_model accepts it) to out. */
int mc2_gbdt_model_to_json(const mc2_gbdt_model *m, mc2_buf *out, mc2_err *err) MC2_WUR;

/* ---- building blocks, exposed for tests --------------------------------------------------- */

/* XGBoost's gain of one side of a split: ThresholdL1(G, alpha)^2 / (H + lambda), 0 if
 * H <= 0 (min_child_weight is checked on the split, not here, as in XGBoost's evaluator).
 * A split's loss change is gain(left) + gain(right) - gain(parent). */
double mc2_gbdt_calc_gain(const mc2_gbdt_params *p, double g, double h);
/* XGBoost's Newton weight: -ThresholdL1(G, alpha) / (H + lambda), 0 if H < min_child_weight
 * or H <= 0. */
double mc2_gbdt_calc_weight(const mc2_gbdt_params *p, double g, double h);

/* Cut points of one feature from its non-missing values in row order and their weights
 * (NULL = 1), exactly as XGBoost 1.7's hist computes them: at most max_bin cuts, strictly
 * increasing, the last above every value. Writes up to max_bin cuts to cuts[] and *min_val;
 * returns the number of cuts (>= 1), or 0 on allocation failure. */
uint32_t mc2_gbdt_feature_cuts(const float *vals, const float *wts, size_t n, uint32_t max_bin,
                               float *cuts, float *min_val);

#endif
