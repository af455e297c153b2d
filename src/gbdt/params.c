/* params.c - GBDT training parameters: defaults, parsing hostile text values with clear
 * errors (unknown names get a "did you mean"), and checks of the whole combination and of
 * the data against it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strdist.h"
#include "gbdt/gbdt.h"

void mc2_gbdt_params_default(mc2_gbdt_params *p)
{
    memset(p, 0, sizeof *p);
    p->objective = MC2_GBDT_REG_SQUAREDERROR;
    p->num_class = 0;
    p->num_round = 10;
    p->max_depth = 6;
    p->max_bin = 256;
    p->eta = 0.3f;
    p->gamma = 0.0f;
    p->lambda = 1.0f;
    p->alpha = 0.0f;
    p->min_child_weight = 1.0f;
    p->subsample = 1.0f;
    p->colsample_bytree = 1.0f;
    p->base_score = 0.5f;
    p->seed = 0;
    p->nthread = 2;
    p->n_metrics = 0;
}

uint32_t mc2_gbdt_model_ngroup(const mc2_gbdt_model *m)
{
    return m->objective == MC2_GBDT_MULTI_SOFTPROB ? m->num_class : 1;
}

const char *mc2_gbdt_objective_name(enum mc2_gbdt_objective o)
{
    switch (o) {
    case MC2_GBDT_REG_SQUAREDERROR:
        return "reg:squarederror";
    case MC2_GBDT_BINARY_LOGISTIC:
        return "binary:logistic";
    case MC2_GBDT_MULTI_SOFTPROB:
        return "multi:softprob";
    }
    return "?";
}

const char *mc2_gbdt_metric_name(enum mc2_gbdt_metric m)
{
    switch (m) {
    case MC2_GBDT_METRIC_RMSE:
        return "rmse";
    case MC2_GBDT_METRIC_LOGLOSS:
        return "logloss";
    case MC2_GBDT_METRIC_AUC:
        return "auc";
    case MC2_GBDT_METRIC_MERROR:
        return "merror";
    }
    return "?";
}

/* ---- parsing numbers strictly ------------------------------------------------------------ */

static int parse_u32(const char *key, const char *v, uint32_t lo, uint32_t hi, uint32_t *out,
                     mc2_err *err)
{
    char *end;
    if (!*v || *v == '-' || *v == '+' || *v == ' ') goto bad;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || x < lo || x > hi) goto bad;
    *out = (uint32_t)x;
    return 0;
bad:
    return mc2_err_set(err, MC2_E_INPUT, "parameter '%s': '%.64s' is not an integer in [%u, %u]",
                       key, v, lo, hi);
}

/* Parses a finite float in [lo, hi]; lo_open/hi_open exclude the bound. */
static int parse_float(const char *key, const char *v, double lo, int lo_open, double hi,
                       int hi_open, float *out, mc2_err *err)
{
    char *end;
    if (!*v || *v == ' ') goto bad;
    double x = strtod(v, &end);
    if (*end || !isfinite(x)) goto bad;
    if (x < lo || (lo_open && x == lo) || x > hi || (hi_open && x == hi)) goto bad;
    *out = (float)x;
    return 0;
bad:
    return mc2_err_set(err, MC2_E_INPUT, "parameter '%s': '%.64s' is not a number in %c%g, %g%c",
                       key, v, lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
}

/* ---- did you mean ------------------------------------------------------------------------ */

static const char *const known_names[] = {
    "objective",
    "num_class",
    "num_round",
    "n_estimators",
    "max_depth",
    "max_bin",
    "eta",
    "learning_rate",
    "gamma",
    "min_split_loss",
    "lambda",
    "reg_lambda",
    "alpha",
    "reg_alpha",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "base_score",
    "seed",
    "random_state",
    "nthread",
    "n_jobs",
    "eval_metric",
    "tree_method",
    "oblivious",
    "eval_train",
};

static const char *closest_name(const char *key)
{
    const char *best = NULL;
    size_t bestd = 3; /* suggest only within distance 2 */
    for (size_t i = 0; i < sizeof known_names / sizeof *known_names; i++) {
        size_t dist =
            mc2_edit_distance(key, strlen(key), known_names[i], strlen(known_names[i]), 2);
        if (dist < bestd) {
            bestd = dist;
            best = known_names[i];
        }
    }
    return best;
}

static int is(const char *key, const char *a, const char *b)
{
    return strcmp(key, a) == 0 || (b && strcmp(key, b) == 0);
}

int mc2_gbdt_params_set(mc2_gbdt_params *p, const char *key, const char *v, mc2_err *err)
{
    if (!key || !v) return mc2_err_set(err, MC2_E_INPUT, "parameter without name or value");
    if (strnlen(key, 65) > 64) return mc2_err_set(err, MC2_E_INPUT, "parameter name too long");
    if (is(key, "objective", NULL)) {
        if (strcmp(v, "reg:squarederror") == 0)
            p->objective = MC2_GBDT_REG_SQUAREDERROR;
        else if (strcmp(v, "binary:logistic") == 0)
            p->objective = MC2_GBDT_BINARY_LOGISTIC;
        else if (strcmp(v, "multi:softprob") == 0)
            p->objective = MC2_GBDT_MULTI_SOFTPROB;
        else
            return mc2_err_set(err, MC2_E_INPUT,
                               "parameter 'objective': unsupported objective '%.64s' (supported: "
                               "reg:squarederror, binary:logistic, multi:softprob)",
                               v);
        return 0;
    }
    if (is(key, "num_class", NULL))
        return parse_u32(key, v, 2, MC2_GBDT_MAX_CLASS, &p->num_class, err);
    if (is(key, "num_round", "n_estimators"))
        return parse_u32(key, v, 1, MC2_GBDT_MAX_ROUND, &p->num_round, err);
    if (is(key, "max_depth", NULL))
        return parse_u32(key, v, 1, MC2_GBDT_MAX_DEPTH, &p->max_depth, err);
    if (is(key, "max_bin", NULL)) return parse_u32(key, v, 2, MC2_GBDT_MAX_BIN, &p->max_bin, err);
    if (is(key, "eta", "learning_rate")) return parse_float(key, v, 0, 0, 1, 0, &p->eta, err);
    if (is(key, "gamma", "min_split_loss"))
        return parse_float(key, v, 0, 0, 1e30, 0, &p->gamma, err);
    if (is(key, "lambda", "reg_lambda")) return parse_float(key, v, 0, 0, 1e30, 0, &p->lambda, err);
    if (is(key, "alpha", "reg_alpha")) return parse_float(key, v, 0, 0, 1e30, 0, &p->alpha, err);
    if (is(key, "min_child_weight", NULL))
        return parse_float(key, v, 0, 0, 1e30, 0, &p->min_child_weight, err);
    if (is(key, "subsample", NULL)) return parse_float(key, v, 0, 1, 1, 0, &p->subsample, err);
    if (is(key, "colsample_bytree", NULL))
        return parse_float(key, v, 0, 1, 1, 0, &p->colsample_bytree, err);
    if (is(key, "base_score", NULL))
        return parse_float(key, v, -1e30, 0, 1e30, 0, &p->base_score, err);
    if (is(key, "seed", "random_state")) {
        char *end;
        if (!*v || *v == '-' || *v == ' ') goto badseed;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end) goto badseed;
        p->seed = x;
        return 0;
    badseed:
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter '%s': '%.64s' is not a non-negative "
                           "integer",
                           key, v);
    }
    if (is(key, "nthread", "n_jobs"))
        return parse_u32(key, v, 1, MC2_GBDT_MAX_THREADS, &p->nthread, err);
    if (is(key, "eval_metric", NULL)) {
        enum mc2_gbdt_metric m;
        if (strcmp(v, "rmse") == 0)
            m = MC2_GBDT_METRIC_RMSE;
        else if (strcmp(v, "logloss") == 0)
            m = MC2_GBDT_METRIC_LOGLOSS;
        else if (strcmp(v, "auc") == 0)
            m = MC2_GBDT_METRIC_AUC;
        else if (strcmp(v, "merror") == 0)
            m = MC2_GBDT_METRIC_MERROR;
        else
            return mc2_err_set(err, MC2_E_INPUT,
                               "parameter 'eval_metric': unsupported metric '%.64s' (supported: "
                               "rmse, logloss, auc, merror)",
                               v);
        for (uint32_t i = 0; i < p->n_metrics; i++)
            if (p->metrics[i] == m) return 0;
        if (p->n_metrics >= MC2_GBDT_MAX_METRICS)
            return mc2_err_set(err, MC2_E_INPUT, "parameter 'eval_metric': too many metrics");
        p->metrics[p->n_metrics++] = m;
        return 0;
    }
    if (is(key, "oblivious", NULL)) {
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
            p->oblivious = 1;
            return 0;
        }
        if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
            p->oblivious = 0;
            return 0;
        }
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'oblivious': '%.64s' is not 0, 1, true or false", v);
    }
    if (is(key, "eval_train", NULL)) {
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "0") == 0 ||
            strcmp(v, "false") == 0) {
            p->eval_train = v[0] == '1' || v[0] == 't';
            return 0;
        }
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'eval_train': '%.64s' is not 0, 1, true or false", v);
    }
    if (is(key, "tree_method", NULL)) {
        if (strcmp(v, "hist") == 0) return 0;
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'tree_method': '%.64s' is not supported (only 'hist')", v);
    }
    const char *hint = closest_name(key);
    if (hint)
        return mc2_err_set(err, MC2_E_INPUT, "unknown parameter '%s' (did you mean %s?)", key,
                           hint);
    return mc2_err_set(err, MC2_E_INPUT, "unknown parameter '%s'", key);
}

int mc2_gbdt_params_check(const mc2_gbdt_params *p, mc2_err *err)
{
    int multi = p->objective == MC2_GBDT_MULTI_SOFTPROB;
    if (p->objective != MC2_GBDT_REG_SQUAREDERROR && p->objective != MC2_GBDT_BINARY_LOGISTIC &&
        !multi)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'objective' is not set to a known value");
    if (multi && p->num_class < 2)
        return mc2_err_set(err, MC2_E_INPUT,
                           "objective multi:softprob needs parameter 'num_class' (>= 2)");
    if (multi && p->num_class > MC2_GBDT_MAX_CLASS)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'num_class' exceeds %u",
                           MC2_GBDT_MAX_CLASS);
    if (!multi && p->num_class != 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'num_class' is only valid with objective multi:softprob "
                           "(objective is %s)",
                           mc2_gbdt_objective_name(p->objective));
    if (p->num_round < 1 || p->num_round > MC2_GBDT_MAX_ROUND)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'num_round' must be in [1, %u]",
                           MC2_GBDT_MAX_ROUND);
    if (p->max_depth < 1 || p->max_depth > MC2_GBDT_MAX_DEPTH)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'max_depth' must be in [1, %u]",
                           MC2_GBDT_MAX_DEPTH);
    if (p->max_bin < 2 || p->max_bin > MC2_GBDT_MAX_BIN)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'max_bin' must be in [2, %u]",
                           MC2_GBDT_MAX_BIN);
    if (!(p->eta >= 0 && p->eta <= 1))
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'eta' must be in [0, 1]");
    if (!(p->gamma >= 0 && isfinite(p->gamma)) || !(p->lambda >= 0 && isfinite(p->lambda)) ||
        !(p->alpha >= 0 && isfinite(p->alpha)) ||
        !(p->min_child_weight >= 0 && isfinite(p->min_child_weight)))
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameters gamma, lambda, alpha and min_child_weight must be "
                           "finite and >= 0");
    if (!(p->subsample > 0 && p->subsample <= 1))
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'subsample' must be in (0, 1]");
    if (!(p->colsample_bytree > 0 && p->colsample_bytree <= 1))
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'colsample_bytree' must be in (0, 1]");
    if (!isfinite(p->base_score))
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'base_score' must be finite");
    if (p->objective == MC2_GBDT_BINARY_LOGISTIC && !(p->base_score > 0 && p->base_score < 1))
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'base_score' must be in (0, 1) for binary:logistic "
                           "(it is a probability), got %g",
                           (double)p->base_score);
    if (p->oblivious > 1)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'oblivious' must be 0 or 1");
    if (p->eval_train > 1)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'eval_train' must be 0 or 1");
    if (p->eval_train && p->oblivious)
        return mc2_err_set(err, MC2_E_INPUT,
                           "parameter 'eval_train' is not available with oblivious=1 (metrics "
                           "on the training rows would not be computed obliviously)");
    if (p->nthread < 1 || p->nthread > MC2_GBDT_MAX_THREADS)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'nthread' must be in [1, %u]",
                           MC2_GBDT_MAX_THREADS);
    if (p->n_metrics > MC2_GBDT_MAX_METRICS)
        return mc2_err_set(err, MC2_E_INPUT, "too many evaluation metrics");
    for (uint32_t i = 0; i < p->n_metrics; i++) {
        enum mc2_gbdt_metric m = p->metrics[i];
        int ok = 0;
        switch (m) {
        case MC2_GBDT_METRIC_RMSE:
            ok = !multi;
            break;
        case MC2_GBDT_METRIC_LOGLOSS:
        case MC2_GBDT_METRIC_AUC:
            ok = p->objective == MC2_GBDT_BINARY_LOGISTIC;
            break;
        case MC2_GBDT_METRIC_MERROR:
            ok = multi;
            break;
        }
        if (!ok)
            return mc2_err_set(err, MC2_E_INPUT,
                               "parameter 'eval_metric': %s does not apply to objective %s",
                               mc2_gbdt_metric_name(m), mc2_gbdt_objective_name(p->objective));
    }
    return 0;
}

int gbdt_data_shape_check(const mc2_gbdt_data *data, const char *what, size_t *cells, mc2_err *err)
{
    if (data->n == 0) return mc2_err_set(err, MC2_E_INPUT, "%s: no rows", what);
    if (data->d == 0) return mc2_err_set(err, MC2_E_INPUT, "%s: no feature columns", what);
    if (data->n > MC2_GBDT_MAX_ROWS)
        return mc2_err_set(err, MC2_E_LIMIT, "%s: %zu rows exceed the limit of %u", what, data->n,
                           MC2_GBDT_MAX_ROWS);
    if (data->d > MC2_GBDT_MAX_FEATURES)
        return mc2_err_set(err, MC2_E_LIMIT, "%s: %zu features exceed the limit of %u", what,
                           data->d, MC2_GBDT_MAX_FEATURES);
    if (__builtin_mul_overflow(data->n, data->d, cells) || *cells > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "%s: %zu x %zu cells is too large", what, data->n,
                           data->d);
    if (!data->x || !data->y)
        return mc2_err_set(err, MC2_E_INPUT, "%s: missing features or labels", what);
    return 0;
}

int mc2_gbdt_data_check(const mc2_gbdt_params *p, const mc2_gbdt_data *data, const char *what,
                        mc2_err *err)
{
    size_t cells;
    if (gbdt_data_shape_check(data, what, &cells, err)) return -1;
    for (size_t i = 0; i < cells; i++)
        if (isinf(data->x[i]))
            return mc2_err_set(err, MC2_E_INPUT, "%s: row %zu feature %zu is infinite", what,
                               i / data->d + 1, i % data->d);
    for (size_t i = 0; i < data->n; i++) {
        float y = data->y[i];
        if (!isfinite(y))
            return mc2_err_set(err, MC2_E_INPUT, "%s: row %zu: label is missing or not finite",
                               what, i + 1);
        if (p->objective == MC2_GBDT_BINARY_LOGISTIC && !(y >= 0 && y <= 1))
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s: row %zu: label %g is not in [0, 1] as binary:logistic "
                               "requires",
                               what, i + 1, (double)y);
        if (p->objective == MC2_GBDT_MULTI_SOFTPROB &&
            !(y >= 0 && y < (float)p->num_class && y == floorf(y)))
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s: row %zu: label %g is inconsistent with num_class=%u (labels "
                               "must be integers 0..%u)",
                               what, i + 1, (double)y, p->num_class, p->num_class - 1);
        if (data->w && !(isfinite(data->w[i]) && data->w[i] >= 0))
            return mc2_err_set(err, MC2_E_INPUT, "%s: row %zu: weight is negative or not finite",
                               what, i + 1);
    }
    return 0;
}
