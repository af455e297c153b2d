/* model.c - GBDT models: mc2's binary format (save, and load with full validation of hostile
 * bytes) and export to XGBoost 1.7's JSON model format.
 *
 * Binary format, version 1, little-endian:
 *   "MC2GBDT\0" | u32 version=1 | u32 objective | u32 num_class | u32 num_feature |
 *   f32 base_score | u64 n_trees | n_trees x tree
 *   tree: u32 group | u32 n_nodes | n_nodes x node
 *   node: i32 left | i32 right | u32 feature | f32 cond | f32 base_weight | f32 loss_chg |
 *         f32 sum_hess | u8 default_left                                  (29 bytes)
 * Nodes are numbered so that children come after their parent, the right child right after the
 * left one (as XGBoost allocates them); parents are derived on load. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "gbdt/gbdt.h"

static const char MAGIC[8] = {'M', 'C', '2', 'G', 'B', 'D', 'T', 0};
#define FORMAT_VERSION 1u
#define NODE_BYTES     29u

void mc2_gbdt_model_free(mc2_gbdt_model *m)
{
    if (!m) return;
    if (m->trees)
        for (size_t i = 0; i < m->n_trees; i++) mc2_free(m->trees[i].nodes);
    mc2_free(m->trees);
    mc2_free(m);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int mc2_gbdt_model_save(const mc2_gbdt_model *m, mc2_buf *out, mc2_err *err)
{
    if (mc2_buf_append(out, MAGIC, sizeof MAGIC, err) ||
        mc2_buf_put_u32(out, FORMAT_VERSION, err) ||
        mc2_buf_put_u32(out, (uint32_t)m->objective, err) ||
        mc2_buf_put_u32(out, m->num_class, err) || mc2_buf_put_u32(out, m->num_feature, err) ||
        mc2_buf_put_u32(out, f32_bits(m->base_score), err) || mc2_buf_put_u64(out, m->n_trees, err))
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
                mc2_buf_put_u32(out, f32_bits(nd->cond), err) ||
                mc2_buf_put_u32(out, f32_bits(nd->base_weight), err) ||
                mc2_buf_put_u32(out, f32_bits(nd->loss_chg), err) ||
                mc2_buf_put_u32(out, f32_bits(nd->sum_hess), err) ||
                mc2_buf_put_u8(out, nd->default_left, err))
                return -1;
        }
    }
    return 0;
}

int mc2_gbdt_model_load(const uint8_t *p, size_t n, mc2_gbdt_model **out, mc2_err *err)
{
    *out = NULL;
    mc2_rd r = mc2_rd_init(p, n);
    const uint8_t *mg = mc2_rd_take(&r, sizeof MAGIC);
    if (!mg || memcmp(mg, MAGIC, sizeof MAGIC) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "model: not an mc2 GBDT model (bad magic)");
    uint32_t version = mc2_rd_u32(&r);
    if (r.bad || version != FORMAT_VERSION)
        return mc2_err_set(err, MC2_E_INPUT,
                           "model: format version %u is not supported (this build reads %u)",
                           version, FORMAT_VERSION);
    uint32_t obj = mc2_rd_u32(&r), num_class = mc2_rd_u32(&r), nfeat = mc2_rd_u32(&r);
    float base = bits_f32(mc2_rd_u32(&r));
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
            nd->cond = bits_f32(mc2_rd_u32(&r));
            nd->base_weight = bits_f32(mc2_rd_u32(&r));
            nd->loss_chg = bits_f32(mc2_rd_u32(&r));
            nd->sum_hess = bits_f32(mc2_rd_u32(&r));
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
    if (mc2_buf_puts(b,
                     "{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
                     "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{"
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
