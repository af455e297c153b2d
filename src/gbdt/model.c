/* model.c - GBDT models: mc2's binary format (save, and load with full validation of hostile
 * bytes), export to XGBoost 1.7's JSON model format, feature importance.
 *
 * Binary format, little-endian (version 2 is written; versions 1 and 2 are read):
 *   "MC2GBDT\0" | u32 version | u32 objective | u32 num_class | u32 num_feature |
 *   f32 base_score | u64 n_trees | n_trees x tree | (version 2 only:) features | metrics
 *   tree: u32 group | u32 n_nodes | n_nodes x node
 *   node: i32 left | i32 right | u32 feature | f32 cond | f32 base_weight | f32 loss_chg |
 *         f32 sum_hess | u8 default_left                                  (29 bytes)
 *   features: u8 has_names (0 or 1) | if 1: num_feature x (u8 len 1..128 | name bytes)
 *             then num_feature x u8 type (enum mc2_gbdt_ftype 1..3)
 *   metrics:  u8 n_metrics (0..4) | n_metrics x u8 metric (enum mc2_gbdt_metric, distinct) |
 *             u8 n_sets (0..2; 0 when n_metrics is 0) | n_sets x set
 *   set:      u8 len (1..15) | name ([a-z0-9_], distinct) | u32 n_rounds (<= 100000) |
 *             n_rounds x n_metrics x f64 (finite or NaN)
 * Nodes are numbered so that children come after their parent, the right child right after the
 * left one (as XGBoost allocates them); parents are derived on load. A node's loss_chg is its
 * split's gain and sum_hess its cover (hessian sum): feature importance comes from them. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "gbdt/gbdt.h"

static const char MAGIC[8] = {'M', 'C', '2', 'G', 'B', 'D', 'T', 0};
#define FORMAT_VERSION 2u
#define NODE_BYTES     29u

void mc2_gbdt_model_free(mc2_gbdt_model *m)
{
    if (!m) return;
    if (m->trees)
        for (size_t i = 0; i < m->n_trees; i++) /* the trees are their owner's secret */
            if (m->trees[i].nodes)
                mc2_free_wipe(m->trees[i].nodes,
                              (size_t)m->trees[i].n_nodes * sizeof *m->trees[i].nodes);
    mc2_free(m->trees);
    if (m->feature_names)
        for (uint32_t i = 0; i < m->num_feature; i++) mc2_free(m->feature_names[i]);
    mc2_free(m->feature_names);
    mc2_free(m->feature_types);
    for (uint32_t i = 0; i < MC2_GBDT_MAX_SETS; i++) mc2_free(m->sets[i].values);
    mc2_free(m);
}

/* ---- feature names, metrics history -------------------------------------------------------- */

/* A feature name: an identifier of 1..MC2_GBDT_MAX_NAME bytes (a column name's rules). */
static bool name_ok(const char *s, size_t n)
{
    if (n < 1 || n > MC2_GBDT_MAX_NAME || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static bool set_name_ok(const char *s, size_t n)
{
    if (n < 1 || n > MC2_GBDT_SET_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that m's num_feature names are distinct (sorting a copy of the pointers). */
static int names_distinct(const mc2_gbdt_model *m, mc2_err *err)
{
    char **v = mc2_malloc((size_t)m->num_feature * sizeof *v);
    if (!v) return mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
    memcpy(v, m->feature_names, (size_t)m->num_feature * sizeof *v);
    qsort(v, m->num_feature, sizeof *v, cmp_name);
    int rc = 0;
    for (uint32_t i = 1; i < m->num_feature && rc == 0; i++)
        if (strcmp(v[i - 1], v[i]) == 0)
            rc = mc2_err_set(err, MC2_E_INPUT, "model: feature name '%s' appears twice", v[i]);
    mc2_free(v);
    return rc;
}

static void free_names(mc2_gbdt_model *m)
{
    if (m->feature_names)
        for (uint32_t i = 0; i < m->num_feature; i++) mc2_free(m->feature_names[i]);
    mc2_free(m->feature_names);
    mc2_free(m->feature_types);
    m->feature_names = NULL;
    m->feature_types = NULL;
}

int mc2_gbdt_model_set_features(mc2_gbdt_model *m, const char *const *names,
                                const enum mc2_gbdt_ftype *types, mc2_err *err)
{
    free_names(m);
    for (uint32_t i = 0; i < m->num_feature; i++) {
        if (!name_ok(names[i], strlen(names[i])))
            return mc2_err_set(err, MC2_E_INPUT,
                               "feature %u: '%.140s' is not a valid feature name (letters, "
                               "digits and '_', not starting with a digit, at most %u bytes)",
                               i, names[i], MC2_GBDT_MAX_NAME);
        if (types && (types[i] < MC2_GBDT_FT_FLOAT || types[i] > MC2_GBDT_FT_INDICATOR))
            return mc2_err_set(err, MC2_E_INPUT, "feature %u: unknown feature type", i);
    }
    m->feature_names = mc2_calloc(m->num_feature, sizeof *m->feature_names);
    m->feature_types = mc2_malloc(m->num_feature);
    for (uint32_t i = 0; m->feature_names && m->feature_types && i < m->num_feature; i++) {
        size_t n = strlen(names[i]);
        if (!(m->feature_names[i] = mc2_malloc(n + 1))) break;
        memcpy(m->feature_names[i], names[i], n + 1);
        m->feature_types[i] = (uint8_t)(types ? types[i] : MC2_GBDT_FT_FLOAT);
    }
    if (!m->feature_names || !m->feature_types ||
        (m->num_feature && !m->feature_names[m->num_feature - 1])) {
        free_names(m);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for the feature names");
    }
    if (names_distinct(m, err)) {
        free_names(m);
        return -1;
    }
    return 0;
}

const char *mc2_gbdt_ftype_name(enum mc2_gbdt_ftype t)
{
    return t == MC2_GBDT_FT_INT ? "int" : t == MC2_GBDT_FT_INDICATOR ? "i" : "float";
}

int gbdt_history_init(mc2_gbdt_model *m, const mc2_gbdt_params *p, const char *name, mc2_err *err)
{
    if (m->n_sets >= MC2_GBDT_MAX_SETS || p->n_metrics == 0 || p->n_metrics > MC2_GBDT_MAX_METRICS)
        return mc2_err_set(err, MC2_E_INTERNAL, "gbdt: bad metrics history");
    mc2_gbdt_evalset *s = &m->sets[m->n_sets];
    if (!(s->values = mc2_calloc((size_t)p->num_round * p->n_metrics, sizeof(double))))
        return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the metrics");
    snprintf(s->name, sizeof s->name, "%s", name);
    s->n_rounds = 0;
    m->n_metrics = p->n_metrics;
    memcpy(m->metrics, p->metrics, sizeof m->metrics);
    return (int)m->n_sets++;
}

void gbdt_history_push(mc2_gbdt_model *m, int set, const double *values)
{
    mc2_gbdt_evalset *s = &m->sets[set];
    memcpy(s->values + (size_t)s->n_rounds * m->n_metrics, values, m->n_metrics * sizeof(double));
    s->n_rounds++;
}

/* ---- importance, depth --------------------------------------------------------------------- */

const char *mc2_gbdt_importance_name(enum mc2_gbdt_importance t)
{
    switch (t) {
    case MC2_GBDT_IMP_WEIGHT:
        return "weight";
    case MC2_GBDT_IMP_GAIN:
        return "gain";
    case MC2_GBDT_IMP_TOTAL_GAIN:
        return "total_gain";
    case MC2_GBDT_IMP_COVER:
        return "cover";
    case MC2_GBDT_IMP_TOTAL_COVER:
        return "total_cover";
    }
    return "?";
}

void mc2_gbdt_importance(const mc2_gbdt_model *m, enum mc2_gbdt_importance type, double *out)
{
    bool gain = type == MC2_GBDT_IMP_GAIN || type == MC2_GBDT_IMP_TOTAL_GAIN;
    for (uint32_t f = 0; f < m->num_feature; f++) {
        float sum = 0; /* XGBoost sums a float per feature */
        uint64_t count = 0;
        for (size_t t = 0; t < m->n_trees; t++)
            for (uint32_t i = 0; i < m->trees[t].n_nodes; i++) {
                const mc2_gbdt_node *nd = &m->trees[t].nodes[i];
                if (nd->left < 0 || nd->feature != f) continue;
                count++;
                sum += gain ? nd->loss_chg : nd->sum_hess;
            }
        if (type == MC2_GBDT_IMP_WEIGHT)
            out[f] = (double)count;
        else if (type == MC2_GBDT_IMP_GAIN || type == MC2_GBDT_IMP_COVER)
            out[f] = count ? (double)(sum / (float)count) : 0.0;
        else
            out[f] = (double)sum;
    }
}

int mc2_gbdt_model_depth(const mc2_gbdt_model *m, uint32_t *depth, mc2_err *err)
{
    uint32_t maxn = 1, best = 0;
    for (size_t t = 0; t < m->n_trees; t++)
        if (m->trees[t].n_nodes > maxn) maxn = m->trees[t].n_nodes;
    uint32_t *d = mc2_malloc((size_t)maxn * sizeof *d);
    if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t t = 0; t < m->n_trees; t++) {
        const mc2_gbdt_tree *tr = &m->trees[t];
        d[0] = 0;
        /* parents come before their children (the loader enforces it) */
        for (uint32_t i = 1; i < tr->n_nodes; i++) {
            d[i] = d[tr->nodes[i].parent] + 1;
            if (d[i] > best) best = d[i];
        }
    }
    mc2_free(d);
    *depth = best;
    return 0;
}

/* Version 2's features and metrics sections. */
static int save_trailer(const mc2_gbdt_model *m, mc2_buf *out, mc2_err *err)
{
    if (mc2_buf_put_u8(out, m->feature_names ? 1 : 0, err)) return -1;
    for (uint32_t i = 0; m->feature_names && i < m->num_feature; i++) {
        size_t n = strlen(m->feature_names[i]);
        if (mc2_buf_put_u8(out, (uint8_t)n, err) ||
            mc2_buf_append(out, m->feature_names[i], n, err))
            return -1;
    }
    if (m->feature_names && mc2_buf_append(out, m->feature_types, m->num_feature, err)) return -1;
    if (mc2_buf_put_u8(out, (uint8_t)m->n_metrics, err)) return -1;
    for (uint32_t q = 0; q < m->n_metrics; q++)
        if (mc2_buf_put_u8(out, (uint8_t)m->metrics[q], err)) return -1;
    uint32_t nsets = m->n_metrics ? m->n_sets : 0;
    if (mc2_buf_put_u8(out, (uint8_t)nsets, err)) return -1;
    for (uint32_t k = 0; k < nsets; k++) {
        const mc2_gbdt_evalset *e = &m->sets[k];
        size_t n = strlen(e->name), nv = (size_t)e->n_rounds * m->n_metrics;
        if (mc2_buf_put_u8(out, (uint8_t)n, err) || mc2_buf_append(out, e->name, n, err) ||
            mc2_buf_put_u32(out, e->n_rounds, err))
            return -1;
        for (size_t i = 0; i < nv; i++) {
            uint64_t u;
            memcpy(&u, &e->values[i], 8);
            if (mc2_buf_put_u64(out, u, err)) return -1;
        }
    }
    return 0;
}

/* Reads version 2's features and metrics sections into m (num_feature set), validating every
 * length against the bytes left before allocating. */
static int load_trailer(mc2_rd *r, mc2_gbdt_model *m, mc2_err *err)
{
    uint8_t has = mc2_rd_u8(r);
    if (r->bad || has > 1) return mc2_err_set(err, MC2_E_INPUT, "model: bad feature names flag");
    if (has) {
        /* each name takes at least 2 bytes and its type 1 */
        if (mc2_rd_left(r) / 3 < m->num_feature)
            return mc2_err_set(err, MC2_E_INPUT, "model: truncated feature names");
        if (!(m->feature_names = mc2_calloc(m->num_feature, sizeof *m->feature_names)) ||
            !(m->feature_types = mc2_malloc(m->num_feature)))
            return mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
        for (uint32_t i = 0; i < m->num_feature; i++) {
            uint8_t n = mc2_rd_u8(r);
            const uint8_t *b = mc2_rd_take(r, n);
            if (r->bad || !b)
                return mc2_err_set(err, MC2_E_INPUT, "model: truncated feature names");
            if (!name_ok((const char *)b, n))
                return mc2_err_set(err, MC2_E_INPUT, "model: feature %u has an invalid name", i);
            if (!(m->feature_names[i] = mc2_malloc((size_t)n + 1)))
                return mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
            memcpy(m->feature_names[i], b, n);
            m->feature_names[i][n] = '\0';
        }
        const uint8_t *t = mc2_rd_take(r, m->num_feature);
        if (!t) return mc2_err_set(err, MC2_E_INPUT, "model: truncated feature types");
        for (uint32_t i = 0; i < m->num_feature; i++) {
            if (t[i] < MC2_GBDT_FT_FLOAT || t[i] > MC2_GBDT_FT_INDICATOR)
                return mc2_err_set(err, MC2_E_INPUT, "model: feature %u has an unknown type", i);
            m->feature_types[i] = t[i];
        }
        if (names_distinct(m, err)) return -1;
    }
    uint8_t nm = mc2_rd_u8(r);
    if (r->bad || nm > MC2_GBDT_MAX_METRICS)
        return mc2_err_set(err, MC2_E_INPUT, "model: bad metric count");
    for (uint32_t q = 0; q < nm; q++) {
        uint8_t id = mc2_rd_u8(r);
        if (r->bad || id < MC2_GBDT_METRIC_RMSE || id > MC2_GBDT_METRIC_MERROR)
            return mc2_err_set(err, MC2_E_INPUT, "model: unknown metric");
        for (uint32_t k = 0; k < q; k++)
            if ((uint8_t)m->metrics[k] == id)
                return mc2_err_set(err, MC2_E_INPUT, "model: metric listed twice");
        m->metrics[q] = (enum mc2_gbdt_metric)id;
    }
    m->n_metrics = nm;
    uint8_t ns = mc2_rd_u8(r);
    if (r->bad || ns > MC2_GBDT_MAX_SETS || (nm == 0 && ns != 0))
        return mc2_err_set(err, MC2_E_INPUT, "model: bad evaluation set count");
    for (uint32_t k = 0; k < ns; k++) {
        mc2_gbdt_evalset *e = &m->sets[k];
        uint8_t n = mc2_rd_u8(r);
        const uint8_t *b = mc2_rd_take(r, n);
        uint32_t rounds = mc2_rd_u32(r);
        if (r->bad || !b) return mc2_err_set(err, MC2_E_INPUT, "model: truncated metrics");
        if (!set_name_ok((const char *)b, n))
            return mc2_err_set(err, MC2_E_INPUT, "model: evaluation set %u has an invalid name", k);
        memcpy(e->name, b, n);
        e->name[n] = '\0';
        for (uint32_t j = 0; j < k; j++)
            if (strcmp(m->sets[j].name, e->name) == 0)
                return mc2_err_set(err, MC2_E_INPUT, "model: evaluation set '%s' appears twice",
                                   e->name);
        size_t nv = (size_t)rounds * nm;
        if (rounds > MC2_GBDT_MAX_ROUND || nv > mc2_rd_left(r) / 8)
            return mc2_err_set(err, MC2_E_INPUT,
                               "model: evaluation set '%s': round count %u is "
                               "inconsistent with its size",
                               e->name, rounds);
        if (!(e->values = mc2_malloc(nv ? nv * sizeof(double) : 1)))
            return mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
        m->n_sets = k + 1;
        for (size_t i = 0; i < nv; i++) {
            uint64_t u = mc2_rd_u64(r);
            memcpy(&e->values[i], &u, 8);
            if (isinf(e->values[i]))
                return mc2_err_set(err, MC2_E_INPUT, "model: evaluation set '%s': infinite value",
                                   e->name);
        }
        e->n_rounds = rounds;
    }
    return 0;
}

int mc2_gbdt_model_save(const mc2_gbdt_model *m, mc2_buf *out, mc2_err *err)
{
    if (mc2_buf_append(out, MAGIC, sizeof MAGIC, err) ||
        mc2_buf_put_u32(out, FORMAT_VERSION, err) ||
        mc2_buf_put_u32(out, (uint32_t)m->objective, err) ||
        mc2_buf_put_u32(out, m->num_class, err) || mc2_buf_put_u32(out, m->num_feature, err) ||
        mc2_buf_put_u32(out, mc2_f32_bits(m->base_score), err) ||
        mc2_buf_put_u64(out, m->n_trees, err))
        return -1;
    for (size_t t = 0; t < m->n_trees; t++) {
        const mc2_gbdt_tree *tr = &m->trees[t];
        size_t bytes;
        if (!mc2_mul_size(tr->n_nodes, NODE_BYTES, &bytes) ||
            mc2_buf_reserve(out, bytes + 8, err) != 0)
            return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory saving the model");
        if (mc2_buf_put_u32(out, tr->group, err) || mc2_buf_put_u32(out, tr->n_nodes, err))
            return -1;
        for (uint32_t i = 0; i < tr->n_nodes; i++) {
            const mc2_gbdt_node *nd = &tr->nodes[i];
            if (mc2_buf_put_u32(out, (uint32_t)nd->left, err) ||
                mc2_buf_put_u32(out, (uint32_t)nd->right, err) ||
                mc2_buf_put_u32(out, nd->feature, err) ||
                mc2_buf_put_u32(out, mc2_f32_bits(nd->cond), err) ||
                mc2_buf_put_u32(out, mc2_f32_bits(nd->base_weight), err) ||
                mc2_buf_put_u32(out, mc2_f32_bits(nd->loss_chg), err) ||
                mc2_buf_put_u32(out, mc2_f32_bits(nd->sum_hess), err) ||
                mc2_buf_put_u8(out, nd->default_left, err))
                return -1;
        }
    }
    return save_trailer(m, out, err);
}

int mc2_gbdt_model_load(const uint8_t *p, size_t n, mc2_gbdt_model **out, mc2_err *err)
{
    *out = NULL;
    mc2_rd r = mc2_rd_init(p, n);
    const uint8_t *mg = mc2_rd_take(&r, sizeof MAGIC);
    if (!mg || memcmp(mg, MAGIC, sizeof MAGIC) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "model: not an mc2 GBDT model (bad magic)");
    uint32_t version = mc2_rd_u32(&r);
    if (r.bad || version < 1 || version > FORMAT_VERSION)
        return mc2_err_set(err, MC2_E_INPUT,
                           "model: format version %u is not supported (this build reads 1 to %u)",
                           version, FORMAT_VERSION);
    uint32_t obj = mc2_rd_u32(&r), num_class = mc2_rd_u32(&r), nfeat = mc2_rd_u32(&r);
    float base = mc2_f32_of(mc2_rd_u32(&r));
    uint64_t ntrees = mc2_rd_u64(&r);
    if (r.bad) return mc2_err_set(err, MC2_E_INPUT, "model: truncated header");
    if (obj < MC2_GBDT_REG_SQUAREDERROR || obj > MC2_GBDT_MULTI_SOFTPROB)
        return mc2_err_set(err, MC2_E_INPUT, "model: unknown objective %u", obj);
    int multi = obj == MC2_GBDT_MULTI_SOFTPROB;
    if (multi ? (num_class < 2 || num_class > MC2_GBDT_MAX_CLASS) : num_class != 0)
        return mc2_err_set(err, MC2_E_INPUT, "model: num_class %u invalid for its objective",
                           num_class);
    if (nfeat < 1 || nfeat > MC2_GBDT_MAX_FEATURES)
        return mc2_err_set(err, MC2_E_INPUT, "model: num_feature %u out of range", nfeat);
    if (!isfinite(base) || (obj == MC2_GBDT_BINARY_LOGISTIC && !(base > 0 && base < 1)))
        return mc2_err_set(err, MC2_E_INPUT, "model: invalid base_score");
    /* every tree takes at least 8 + NODE_BYTES bytes: bounds the allocation by the input */
    if (ntrees > MC2_GBDT_MAX_TREES || ntrees > mc2_rd_left(&r) / (8 + NODE_BYTES))
        return mc2_err_set(err, MC2_E_INPUT, "model: tree count %llu is inconsistent with its size",
                           (unsigned long long)ntrees);
    uint32_t ngroup = multi ? num_class : 1;
    mc2_gbdt_model *m = mc2_calloc(1, sizeof *m);
    if (!m || !(m->trees = mc2_calloc((size_t)ntrees ? (size_t)ntrees : 1, sizeof *m->trees))) {
        mc2_free(m);
        return mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
    }
    m->objective = (enum mc2_gbdt_objective)obj;
    m->num_class = num_class;
    m->num_feature = nfeat;
    m->base_score = base;
    m->format_version = version;
    for (size_t t = 0; t < ntrees; t++) {
        mc2_gbdt_tree *tr = &m->trees[t];
        uint32_t group = mc2_rd_u32(&r), nn = mc2_rd_u32(&r);
        if (r.bad) goto truncated;
        if (group != t % ngroup) {
            mc2_err_set(err, MC2_E_INPUT, "model: tree %zu has group %u, expected %zu", t, group,
                        (size_t)(t % ngroup));
            goto fail;
        }
        if (nn < 1 || nn > MC2_GBDT_MAX_NODES || nn > mc2_rd_left(&r) / NODE_BYTES) {
            mc2_err_set(err, MC2_E_INPUT, "model: tree %zu: node count %u invalid", t, nn);
            goto fail;
        }
        tr->group = group;
        tr->nodes = mc2_malloc((size_t)nn * sizeof *tr->nodes);
        if (!tr->nodes) {
            mc2_err_set(err, MC2_E_NOMEM, "model: out of memory");
            goto fail;
        }
        m->n_trees = t + 1;
        tr->n_nodes = nn;
        for (uint32_t i = 0; i < nn; i++) {
            mc2_gbdt_node *nd = &tr->nodes[i];
            nd->left = (int32_t)mc2_rd_u32(&r);
            nd->right = (int32_t)mc2_rd_u32(&r);
            nd->feature = mc2_rd_u32(&r);
            nd->cond = mc2_f32_of(mc2_rd_u32(&r));
            nd->base_weight = mc2_f32_of(mc2_rd_u32(&r));
            nd->loss_chg = mc2_f32_of(mc2_rd_u32(&r));
            nd->sum_hess = mc2_f32_of(mc2_rd_u32(&r));
            nd->default_left = mc2_rd_u8(&r);
            nd->parent = -2; /* not yet referenced */
        }
        if (r.bad) goto truncated;
        tr->nodes[0].parent = -1;
        for (uint32_t i = 0; i < nn; i++) {
            mc2_gbdt_node *nd = &tr->nodes[i];
            int leaf = nd->left == -1 && nd->right == -1;
            if (!isfinite(nd->cond) || !isfinite(nd->base_weight) || !isfinite(nd->loss_chg) ||
                !isfinite(nd->sum_hess) || nd->default_left > 1) {
                mc2_err_set(err, MC2_E_INPUT, "model: tree %zu node %u: invalid values", t, i);
                goto fail;
            }
            if (leaf) continue;
            /* children come after their parent, as an adjacent pair, each referenced once */
            if (nd->left <= (int32_t)i || nd->left >= (int32_t)nn - 1 ||
                nd->right != nd->left + 1 || nd->feature >= nfeat ||
                tr->nodes[nd->left].parent != -2 || tr->nodes[nd->right].parent != -2) {
                mc2_err_set(err, MC2_E_INPUT, "model: tree %zu node %u: invalid structure", t, i);
                goto fail;
            }
            tr->nodes[nd->left].parent = (int32_t)i;
            tr->nodes[nd->right].parent = (int32_t)i;
        }
        for (uint32_t i = 0; i < nn; i++)
            if (tr->nodes[i].parent == -2) {
                mc2_err_set(err, MC2_E_INPUT, "model: tree %zu node %u is unreachable", t, i);
                goto fail;
            }
    }
    if (version >= 2 && load_trailer(&r, m, err)) goto fail;
    if (mc2_rd_left(&r) != 0) {
        mc2_err_set(err, MC2_E_INPUT, "model: %zu trailing bytes", mc2_rd_left(&r));
        goto fail;
    }
    *out = m;
    return 0;
truncated:
    mc2_err_set(err, MC2_E_INPUT, "model: truncated");
fail:
    mc2_gbdt_model_free(m);
    return -1;
}

/* ---- XGBoost JSON ------------------------------------------------------------------------ */

/* Appends a finite float so that it parses back to the same float (9 significant digits),
 * always with a '.' or exponent: XGBoost's JSON reader rejects integers where it wants a
 * number. */
static int put_f(mc2_buf *b, float v, mc2_err *err)
{
    char s[48];
    snprintf(s, sizeof s, "%.9g", (double)v);
    if (!strpbrk(s, ".e")) strcat(s, ".0");
    return mc2_buf_puts(b, s, err);
}

typedef enum {
    A_LEFT,
    A_RIGHT,
    A_PARENT,
    A_FEATURE,
    A_COND,
    A_DEFLEFT,
    A_WEIGHT,
    A_LOSS,
    A_HESS,
    A_ZERO
} arr_kind;

static int put_array(mc2_buf *b, const char *name, const mc2_gbdt_tree *t, arr_kind k, mc2_err *err)
{
    if (mc2_buf_printf(b, err, "\"%s\":[", name)) return -1;
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        const mc2_gbdt_node *nd = &t->nodes[i];
        int rc = 0;
        if (i && mc2_buf_put_u8(b, ',', err)) return -1;
        switch (k) {
        case A_LEFT:
            rc = mc2_buf_printf(b, err, "%d", (int)nd->left);
            break;
        case A_RIGHT:
            rc = mc2_buf_printf(b, err, "%d", (int)nd->right);
            break;
        case A_PARENT:
            rc = nd->parent < 0 ? mc2_buf_puts(b, "2147483647", err)
                                : mc2_buf_printf(b, err, "%d", (int)nd->parent);
            break;
        case A_FEATURE:
            rc = mc2_buf_printf(b, err, "%u", nd->left < 0 ? 0u : nd->feature);
            break;
        case A_COND:
            rc = put_f(b, nd->cond, err);
            break;
        case A_DEFLEFT:
            rc = mc2_buf_put_u8(b, nd->default_left ? '1' : '0', err);
            break;
        case A_WEIGHT:
            rc = put_f(b, nd->base_weight, err);
            break;
        case A_LOSS:
            rc = put_f(b, nd->loss_chg, err);
            break;
        case A_HESS:
            rc = put_f(b, nd->sum_hess, err);
            break;
        case A_ZERO:
            rc = mc2_buf_put_u8(b, '0', err);
            break;
        }
        if (rc) return -1;
    }
    return mc2_buf_puts(b, "],", err);
}

int mc2_gbdt_model_to_json(const mc2_gbdt_model *m, mc2_buf *b, mc2_err *err)
{
    uint32_t K = mc2_gbdt_model_ngroup(m);
    if (mc2_buf_puts(b, "{\"learner\":{\"attributes\":{},\"feature_names\":[", err)) return -1;
    /* names are identifiers (checked on load and when set): nothing to escape */
    for (uint32_t i = 0; m->feature_names && i < m->num_feature; i++)
        if (mc2_buf_printf(b, err, "%s\"%s\"", i ? "," : "", m->feature_names[i])) return -1;
    if (mc2_buf_puts(b, "],\"feature_types\":[", err)) return -1;
    for (uint32_t i = 0; m->feature_names && i < m->num_feature; i++)
        if (mc2_buf_printf(b, err, "%s\"%s\"", i ? "," : "",
                           mc2_gbdt_ftype_name((enum mc2_gbdt_ftype)m->feature_types[i])))
            return -1;
    if (mc2_buf_puts(b,
                     "],\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{"
                     "\"num_parallel_tree\":\"1\",",
                     err) ||
        mc2_buf_printf(b, err, "\"num_trees\":\"%zu\",\"size_leaf_vector\":\"0\"},", m->n_trees) ||
        mc2_buf_puts(b, "\"tree_info\":[", err))
        return -1;
    for (size_t t = 0; t < m->n_trees; t++)
        if (mc2_buf_printf(b, err, "%s%u", t ? "," : "", m->trees[t].group)) return -1;
    if (mc2_buf_puts(b, "],\"trees\":[", err)) return -1;
    for (size_t t = 0; t < m->n_trees; t++) {
        const mc2_gbdt_tree *tr = &m->trees[t];
        if (mc2_buf_puts(b, t ? ",{" : "{", err) ||
            put_array(b, "base_weights", tr, A_WEIGHT, err) ||
            mc2_buf_puts(b,
                         "\"categories\":[],\"categories_nodes\":[],\"categories_segments\":[],"
                         "\"categories_sizes\":[],",
                         err) ||
            put_array(b, "default_left", tr, A_DEFLEFT, err) ||
            mc2_buf_printf(b, err, "\"id\":%zu,", t) ||
            put_array(b, "left_children", tr, A_LEFT, err) ||
            put_array(b, "loss_changes", tr, A_LOSS, err) ||
            put_array(b, "parents", tr, A_PARENT, err) ||
            put_array(b, "right_children", tr, A_RIGHT, err) ||
            put_array(b, "split_conditions", tr, A_COND, err) ||
            put_array(b, "split_indices", tr, A_FEATURE, err) ||
            put_array(b, "split_type", tr, A_ZERO, err) ||
            put_array(b, "sum_hessian", tr, A_HESS, err) ||
            mc2_buf_printf(b, err,
                           "\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"%u\","
                           "\"num_nodes\":\"%u\",\"size_leaf_vector\":\"0\"}}",
                           m->num_feature, tr->n_nodes))
            return -1;
    }
    if (mc2_buf_puts(b, "]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"",
                     err) ||
        put_f(b, m->base_score, err) ||
        mc2_buf_printf(b, err,
                       "\",\"boost_from_average\":\"1\",\"num_class\":\"%u\",\"num_feature\":"
                       "\"%u\",\"num_target\":\"1\"},",
                       m->num_class, m->num_feature))
        return -1;
    if (m->objective == MC2_GBDT_MULTI_SOFTPROB) {
        if (mc2_buf_printf(
                b, err,
                "\"objective\":{\"name\":\"multi:softprob\",\"softmax_multiclass_param\":"
                "{\"num_class\":\"%u\"}}",
                K))
            return -1;
    } else if (mc2_buf_printf(b, err,
                              "\"objective\":{\"name\":\"%s\",\"reg_loss_param\":{"
                              "\"scale_pos_weight\":\"1\"}}",
                              mc2_gbdt_objective_name(m->objective))) {
        return -1;
    }
    return mc2_buf_puts(b, "},\"version\":[1,7,4]}\n", err);
}
