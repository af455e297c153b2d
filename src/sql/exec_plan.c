/* exec_plan.c - building and checking physical plan operators (plan.h). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"

static mc2_pnode *pnode(mc2_plan *p, enum mc2_pn_kind k, size_t ncols)
{
    if (p->failed) return NULL;
    if (ncols > MC2_MAX_COLUMNS)
        return sx_plan_fail(p, MC2_E_LIMIT, "an operator with %zu columns (at most %d)", ncols,
                            MC2_MAX_COLUMNS);
    mc2_pnode *n = sx_plan_alloc(p, sizeof *n);
    if (!n) return NULL;
    n->kind = k;
    n->schema.ncols = ncols;
    n->schema.cols = sx_plan_alloc(p, (ncols ? ncols : 1) * sizeof *n->schema.cols);
    n->limit = -1;
    return n->schema.cols ? n : NULL;
}

static char *pname(mc2_plan *p, const char *name, const char *pfx, size_t i)
{
    char buf[MC2_MAX_NAME + 1];
    if (name)
        snprintf(buf, sizeof buf, "%s", name);
    else
        snprintf(buf, sizeof buf, "%s%zu", pfx, i);
    size_t l = strlen(buf);
    char *c = sx_plan_alloc(p, l + 1);
    if (c) memcpy(c, buf, l + 1);
    return c;
}

static int set_col(mc2_plan *p, mc2_pnode *n, size_t i, const char *name, mc2_coltype t,
                   bool nullable)
{
    n->schema.cols[i].name = pname(p, name, "c", i);
    n->schema.cols[i].type = t;
    n->schema.cols[i].nullable = nullable;
    return n->schema.cols[i].name ? 0 : -1;
}

static unsigned *copy_u(mc2_plan *p, const unsigned *v, size_t n)
{
    unsigned *c = sx_plan_alloc(p, (n ? n : 1) * sizeof *c);
    if (c && n) memcpy(c, v, n * sizeof *c);
    return c;
}

const mc2_schema *mc2_pn_schema(const mc2_pnode *n)
{
    return &n->schema;
}

mc2_pnode *mc2_pn_scan(mc2_plan *p, unsigned input, const mc2_schema *s, const unsigned *cols,
                       size_t ncols)
{
    if (!s) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_SCAN, ncols);
    if (!n) return NULL;
    n->input = input;
    n->in_schema = s;
    if (!(n->cols = copy_u(p, cols, ncols))) return NULL;
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i] >= s->ncols)
            return sx_plan_fail(p, MC2_E_INTERNAL, "scan: column #%u out of range", cols[i]);
        const mc2_column_def *d = &s->cols[cols[i]];
        if (set_col(p, n, i, d->name, d->type, d->nullable)) return NULL;
    }
    return n;
}

mc2_pnode *mc2_pn_values(mc2_plan *p, mc2_pexpr *const *cells, size_t nrows, size_t ncols,
                         const char *const *names)
{
    if (nrows == 0) return sx_plan_fail(p, MC2_E_INTERNAL, "VALUES with no rows");
    size_t tot;
    if (!mc2_mul_size(nrows, ncols, &tot)) return sx_plan_fail(p, MC2_E_LIMIT, "VALUES too large");
    for (size_t i = 0; i < tot; i++)
        if (!cells[i]) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_VALUES, ncols);
    if (!n) return NULL;
    n->nrows = nrows;
    n->exprs = sx_plan_alloc(p, (tot ? tot : 1) * sizeof *n->exprs);
    if (!n->exprs) return NULL;
    for (size_t c = 0; c < ncols; c++) {
        const mc2_pexpr *first = cells[c];
        bool nullable = false;
        for (size_t r = 0; r < nrows; r++) {
            const mc2_pexpr *e = cells[r * ncols + c];
            if (e->kind != MC2_PX_CONST)
                return sx_plan_fail(p, MC2_E_INPUT, "not supported: a non-constant in VALUES");
            if (e->val.null)
                nullable = true;
            else if (first->val.null)
                first = e;
        }
        mc2_coltype t = first->type;
        for (size_t r = 0; r < nrows; r++) {
            const mc2_pexpr *e = cells[r * ncols + c];
            if (!e->val.null && !sx_type_eq(&e->type, &t)) {
                char b1[32], b2[32];
                return sx_plan_fail(p, MC2_E_INPUT,
                                    "type mismatch: VALUES column %zu has %s and %s", c + 1,
                                    sx_type_name(&t, b1), sx_type_name(&e->type, b2));
            }
            if (t.id == MC2_T_VARCHAR && e->type.length > t.length) t.length = e->type.length;
            if (t.id == MC2_T_DECIMAL) t.precision = 18;
            if (t.id == MC2_T_DEC128) t.precision = 38;
        }
        if (set_col(p, n, c, names ? names[c] : NULL, t, nullable)) return NULL;
    }
    memcpy(n->exprs, cells, tot * sizeof *cells);
    n->nexprs = tot;
    return n;
}

mc2_pnode *mc2_pn_empty(mc2_plan *p, const mc2_schema *s)
{
    if (!s) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_VALUES, s->ncols);
    if (!n) return NULL;
    for (size_t c = 0; c < s->ncols; c++)
        if (set_col(p, n, c, s->cols[c].name, s->cols[c].type, s->cols[c].nullable)) return NULL;
    n->nrows = 0;
    return n;
}

mc2_pnode *mc2_pn_filter(mc2_plan *p, mc2_pnode *child, mc2_pexpr *pred)
{
    if (!child || !pred) return NULL;
    if (pred->type.id != MC2_T_BOOL) {
        char b[32];
        return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: WHERE condition of %s, not BOOL",
                            sx_type_name(&pred->type, b));
    }
    if (sx_expr_check(p, pred, child->schema.cols, child->schema.ncols, "filter")) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_FILTER, child->schema.ncols);
    if (!n) return NULL;
    n->left = child;
    for (size_t c = 0; c < child->schema.ncols; c++) n->schema.cols[c] = child->schema.cols[c];
    n->exprs = sx_plan_alloc(p, sizeof *n->exprs);
    if (!n->exprs) return NULL;
    n->exprs[0] = pred;
    n->nexprs = 1;
    return n;
}

mc2_pnode *mc2_pn_project(mc2_plan *p, mc2_pnode *child, mc2_pexpr *const *exprs, size_t ne,
                          const char *const *names)
{
    if (!child) return NULL;
    for (size_t i = 0; i < ne; i++)
        if (!exprs[i]) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_PROJECT, ne);
    if (!n) return NULL;
    n->left = child;
    n->exprs = sx_plan_alloc(p, (ne ? ne : 1) * sizeof *n->exprs);
    if (!n->exprs) return NULL;
    for (size_t i = 0; i < ne; i++) {
        if (sx_expr_check(p, exprs[i], child->schema.cols, child->schema.ncols, "project"))
            return NULL;
        n->exprs[i] = exprs[i];
        if (set_col(p, n, i, names ? names[i] : NULL, exprs[i]->type, exprs[i]->nullable))
            return NULL;
    }
    n->nexprs = ne;
    return n;
}

/* Columns of left ++ right (for checking join conditions). */
static mc2_column_def *concat_cols(mc2_plan *p, const mc2_pnode *l, const mc2_pnode *r)
{
    size_t nl = l->schema.ncols, nr = r->schema.ncols;
    mc2_column_def *c = sx_plan_alloc(p, (nl + nr + 1) * sizeof *c);
    if (!c) return NULL;
    memcpy(c, l->schema.cols, nl * sizeof *c);
    memcpy(c + nl, r->schema.cols, nr * sizeof *c);
    return c;
}

mc2_pnode *mc2_pn_hash_join(mc2_plan *p, enum mc2_join_type type, mc2_pnode *left, mc2_pnode *right,
                            const unsigned *lkeys, const unsigned *rkeys, size_t nkeys,
                            mc2_pexpr *residual, bool null_aware)
{
    if (!left || !right || p->failed) return NULL;
    if (type < MC2_JOIN_INNER || type > MC2_JOIN_ANTI)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad join type");
    if (null_aware && (type != MC2_JOIN_ANTI || nkeys != 1 || residual))
        return sx_plan_fail(p, MC2_E_INPUT,
                            "not supported: NOT IN with more than one column or a correlated "
                            "condition");
    size_t nl = left->schema.ncols, nr = right->schema.ncols;
    for (size_t i = 0; i < nkeys; i++) {
        if (lkeys[i] >= nl || rkeys[i] >= nr)
            return sx_plan_fail(p, MC2_E_INTERNAL, "join key column out of range");
        const mc2_column_def *a = &left->schema.cols[lkeys[i]], *b = &right->schema.cols[rkeys[i]];
        if (!sx_type_eq(&a->type, &b->type) || a->type.id == MC2_T_DOUBLE) {
            char b1[32], b2[32];
            if (a->type.id == MC2_T_DOUBLE && sx_type_eq(&a->type, &b->type))
                return sx_plan_fail(p, MC2_E_INPUT,
                                    "not supported: a join on DOUBLE columns '%s' and '%s'",
                                    a->name, b->name);
            return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: join of '%s' (%s) with '%s' (%s)",
                                a->name, sx_type_name(&a->type, b1), b->name,
                                sx_type_name(&b->type, b2));
        }
    }
    bool semi = type == MC2_JOIN_SEMI || type == MC2_JOIN_ANTI;
    mc2_pnode *n = pnode(p, MC2_PN_HASH_JOIN, semi ? nl : nl + nr);
    if (!n) return NULL;
    mc2_column_def *all = concat_cols(p, left, right);
    if (!all) return NULL;
    if (residual) {
        if (residual->type.id != MC2_T_BOOL)
            return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: join condition is not BOOL");
        if (sx_expr_check(p, residual, all, nl + nr, "join condition")) return NULL;
        n->exprs = sx_plan_alloc(p, sizeof *n->exprs);
        if (!n->exprs) return NULL;
        n->exprs[0] = residual;
        n->nexprs = 1;
    }
    for (size_t c = 0; c < n->schema.ncols; c++) {
        n->schema.cols[c] = all[c];
        if (c < nl && (type == MC2_JOIN_RIGHT || type == MC2_JOIN_FULL))
            n->schema.cols[c].nullable = true;
        if (c >= nl && (type == MC2_JOIN_LEFT || type == MC2_JOIN_FULL))
            n->schema.cols[c].nullable = true;
    }
    n->left = left;
    n->right = right;
    n->jt = type;
    n->nkeys = nkeys;
    n->null_aware = null_aware;
    if (!(n->lkeys = copy_u(p, lkeys, nkeys)) || !(n->rkeys = copy_u(p, rkeys, nkeys))) return NULL;
    return n;
}

mc2_pnode *mc2_pn_nl_join(mc2_plan *p, enum mc2_join_type type, mc2_pnode *left, mc2_pnode *right,
                          mc2_pexpr *cond)
{
    /* A hash join with no keys: every left row meets every right row. */
    mc2_pnode *n = mc2_pn_hash_join(p, type, left, right, NULL, NULL, 0, cond, false);
    if (n) n->kind = MC2_PN_NL_JOIN;
    return n;
}

void mc2_pn_join_set_unique(mc2_pnode *n, int unique_side)
{
    if (n && n->kind == MC2_PN_HASH_JOIN && n->nkeys &&
        (n->jt == MC2_JOIN_INNER || n->jt == MC2_JOIN_LEFT || n->jt == MC2_JOIN_RIGHT) &&
        (unique_side == 1 || unique_side == 2))
        n->unique_side = unique_side;
}

void mc2_pn_join_set_build_outer(mc2_pnode *n, bool on)
{
    if (n && n->kind == MC2_PN_HASH_JOIN && n->nkeys &&
        (n->jt == MC2_JOIN_SEMI || n->jt == MC2_JOIN_ANTI))
        n->build_outer = on;
}

void mc2_pn_join_set_prefilter(mc2_pnode *n, bool on)
{
    if (n && n->kind == MC2_PN_HASH_JOIN && n->nkeys && n->jt == MC2_JOIN_SEMI && !n->null_aware)
        n->prefilter = on;
}

mc2_pnode *mc2_pn_agg(mc2_plan *p, mc2_pnode *child, const unsigned *keys, size_t nkeys,
                      const mc2_pagg *aggs, size_t naggs)
{
    if (!child || p->failed) return NULL;
    size_t nc = child->schema.ncols;
    mc2_pnode *n = pnode(p, MC2_PN_AGG, nkeys + naggs);
    if (!n) return NULL;
    n->left = child;
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i] >= nc) return sx_plan_fail(p, MC2_E_INTERNAL, "group key out of range");
        n->schema.cols[i] = child->schema.cols[keys[i]];
    }
    for (size_t j = 0; j < naggs; j++) {
        const mc2_pagg *a = &aggs[j];
        mc2_coltype t = {MC2_T_INT64, 0, 0, 0};
        bool nullable = true;
        if (a->fn < MC2_AGG_COUNT_STAR || a->fn > MC2_AGG_MAX)
            return sx_plan_fail(p, MC2_E_INTERNAL, "bad aggregate");
        if (a->fn != MC2_AGG_COUNT_STAR && a->col >= nc)
            return sx_plan_fail(p, MC2_E_INTERNAL, "aggregate argument out of range");
        const mc2_column_def *d = a->fn == MC2_AGG_COUNT_STAR ? NULL : &child->schema.cols[a->col];
        char b[32];
        switch (a->fn) {
        case MC2_AGG_COUNT_STAR:
        case MC2_AGG_COUNT:
            nullable = false;
            break;
        case MC2_AGG_SUM:
        case MC2_AGG_AVG:
            if (d->type.id != MC2_T_INT64 && !mc2_type_is_decimal(d->type.id) &&
                d->type.id != MC2_T_DOUBLE)
                return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: %s of '%s' (%s)",
                                    a->fn == MC2_AGG_SUM ? "SUM" : "AVG", d->name,
                                    sx_type_name(&d->type, b));
            t = d->type;
            if (mc2_type_is_decimal(t.id)) { /* DECIMAL(38, s), AVG: DECIMAL(38, max(6, s)) */
                t.id = MC2_T_DEC128;
                t.precision = 38;
                if (a->fn == MC2_AGG_AVG && t.scale < 6) t.scale = 6;
            }
            if (a->fn == MC2_AGG_AVG && t.id == MC2_T_INT64) t.id = MC2_T_DOUBLE;
            break;
        default:
            t = d->type;
            break;
        }
        if (set_col(p, n, nkeys + j, a->name, t, nullable)) return NULL;
        if (!a->name) {
            char nb[32];
            snprintf(nb, sizeof nb, "agg%zu", j);
            if (!(n->schema.cols[nkeys + j].name = pname(p, nb, "", 0))) return NULL;
        }
    }
    n->keys = copy_u(p, keys, nkeys);
    n->nkeys = nkeys;
    n->aggs = sx_plan_alloc(p, (naggs ? naggs : 1) * sizeof *n->aggs);
    if (!n->keys || !n->aggs) return NULL;
    if (naggs) memcpy(n->aggs, aggs, naggs * sizeof *aggs);
    n->naggs = naggs;
    for (size_t j = 0; j < naggs; j++) n->aggs[j].name = n->schema.cols[nkeys + j].name;
    return n;
}

mc2_pnode *mc2_pn_distinct(mc2_plan *p, mc2_pnode *child)
{
    if (!child || p->failed) return NULL;
    size_t nc = child->schema.ncols;
    unsigned *k = sx_plan_alloc(p, (nc ? nc : 1) * sizeof *k);
    if (!k) return NULL;
    for (size_t i = 0; i < nc; i++) k[i] = (unsigned)i;
    return mc2_pn_agg(p, child, k, nc, NULL, 0);
}

mc2_pnode *mc2_pn_sort(mc2_plan *p, mc2_pnode *child, const mc2_psort *keys, size_t nkeys)
{
    if (!child || p->failed) return NULL;
    mc2_pnode *n = pnode(p, MC2_PN_SORT, child->schema.ncols);
    if (!n) return NULL;
    n->left = child;
    memcpy(n->schema.cols, child->schema.cols, child->schema.ncols * sizeof *n->schema.cols);
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].col >= child->schema.ncols)
            return sx_plan_fail(p, MC2_E_INTERNAL, "sort key out of range");
    n->sort = sx_plan_alloc(p, (nkeys ? nkeys : 1) * sizeof *n->sort);
    if (!n->sort) return NULL;
    if (nkeys) memcpy(n->sort, keys, nkeys * sizeof *keys);
    n->nsort = nkeys;
    return n;
}

mc2_pnode *mc2_pn_limit(mc2_plan *p, mc2_pnode *child, int64_t limit, int64_t offset)
{
    if (!child || p->failed) return NULL;
    if (offset < 0) return sx_plan_fail(p, MC2_E_INPUT, "negative OFFSET");
    mc2_pnode *n = pnode(p, MC2_PN_LIMIT, child->schema.ncols);
    if (!n) return NULL;
    n->left = child;
    memcpy(n->schema.cols, child->schema.cols, child->schema.ncols * sizeof *n->schema.cols);
    n->limit = limit;
    n->offset = offset;
    return n;
}

mc2_pnode *mc2_pn_setop(mc2_plan *p, enum mc2_setop op, bool all, mc2_pnode *left, mc2_pnode *right)
{
    if (!left || !right || p->failed) return NULL;
    if (left->schema.ncols != right->schema.ncols)
        return sx_plan_fail(p, MC2_E_INPUT,
                            "set operation: the left side has %zu columns, the right %zu",
                            left->schema.ncols, right->schema.ncols);
    mc2_pnode *n = pnode(p, MC2_PN_SETOP, left->schema.ncols);
    if (!n) return NULL;
    for (size_t c = 0; c < left->schema.ncols; c++) {
        const mc2_column_def *a = &left->schema.cols[c], *b = &right->schema.cols[c];
        if (!sx_type_eq(&a->type, &b->type)) {
            char b1[32], b2[32];
            return sx_plan_fail(p, MC2_E_INPUT,
                                "type mismatch: set operation column %zu is %s and %s", c + 1,
                                sx_type_name(&a->type, b1), sx_type_name(&b->type, b2));
        }
        n->schema.cols[c] = *a;
        n->schema.cols[c].nullable = a->nullable || b->nullable;
        if (a->type.id == MC2_T_VARCHAR && b->type.length > a->type.length)
            n->schema.cols[c].type.length = b->type.length;
    }
    n->left = left;
    n->right = right;
    n->setop = op;
    n->all = all;
    if (op < MC2_SETOP_UNION || op > MC2_SETOP_EXCEPT)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad set operation");
    return n;
}
