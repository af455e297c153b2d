/* rewrite.c - rewrites of the logical plan: subquery decorrelation, predicate push-down,
 * join ordering and semi join placement by estimated cost (estimate.c: public row counts and
 * declared keys only), projection push-down. */
#include <string.h>

#include "base/alloc.h"
#include "sql/logical.h"

typedef struct rw {
    mc2_lplan *lp;
    mc2_err *err;
    unsigned depth;
    double dp_work; /* join-order search steps spent so far (bounded by DP_BUDGET) */
} rw;

#define RW_MAX_DEPTH 4096

static int rerr(rw *w, mc2_sql_pos pos, const char *msg)
{
    if (pos.line)
        return mc2_err_set(w->err, MC2_E_INPUT, "line %u, column %u: %s", pos.line, pos.col, msg);
    return mc2_err_set(w->err, MC2_E_INPUT, "%s", msg);
}

static mc2_lnode *mknode(rw *w, enum mc2_ln_kind k, mc2_lnode *l, mc2_lnode *r)
{
    mc2_lnode *n = mc2_lnode_new(w->lp, k, w->err);
    if (!n) return NULL;
    n->left = l;
    n->right = r;
    return n;
}

static mc2_lnode *mkfilter(rw *w, mc2_lnode *child, mc2_lexpr *pred)
{
    if (!pred) return child;
    if (child->kind == MC2_LN_FILTER) {
        mc2_lexpr *p = mc2_lexpr_and(w->lp, child->pred, pred, w->err);
        if (!p) return NULL;
        mc2_lnode *f = mknode(w, MC2_LN_FILTER, child->left, NULL);
        if (!f) return NULL;
        f->pred = p;
        return mc2_lnode_passcols(w->lp, f, w->err) ? NULL : f;
    }
    mc2_lnode *f = mknode(w, MC2_LN_FILTER, child, NULL);
    if (!f) return NULL;
    f->pred = pred;
    return mc2_lnode_passcols(w->lp, f, w->err) ? NULL : f;
}

static mc2_lnode *mkjoin(rw *w, enum mc2_join_type jt, mc2_lnode *l, mc2_lnode *r, mc2_lexpr *cond)
{
    mc2_lnode *j = mknode(w, MC2_LN_JOIN, l, r);
    if (!j) return NULL;
    j->jtype = jt;
    j->pred = cond;
    return mc2_lnode_passcols(w->lp, j, w->err) ? NULL : j;
}

typedef struct evec {
    mc2_lexpr **v;
    size_t n, cap;
} evec;

static int split(rw *w, mc2_lexpr *e, evec *v)
{
    return mc2_lexpr_conjuncts(w->lp, e, &v->v, &v->n, &v->cap, w->err);
}

static mc2_lexpr *and_all(rw *w, mc2_lexpr **v, size_t n)
{
    mc2_lexpr *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (!(r = mc2_lexpr_and(w->lp, r, v[i], w->err))) return NULL;
    return r;
}

static int idset(rw *w, mc2_idset *s)
{
    return mc2_idset_init(w->lp, s, w->err);
}

/* Columns sub refers to that it does not produce: its correlation with outer queries. */
static int free_ids(rw *w, const mc2_lnode *sub, mc2_idset *fr, bool *any)
{
    mc2_idset prod;
    if (idset(w, fr) || idset(w, &prod)) return -1;
    mc2_lnode_refs(sub, fr);
    mc2_lnode_produced(sub, &prod);
    *any = false;
    for (uint32_t i = 0; i < fr->nw; i++) {
        fr->w[i] &= ~prod.w[i];
        if (fr->w[i]) *any = true;
    }
    return 0;
}

static bool refs_any(const mc2_lexpr *e, const mc2_idset *s)
{
    if (!e) return false;
    if (e->kind == MC2_LX_COL) return mc2_idset_has(s, e->col);
    for (unsigned i = 0; i < e->nargs; i++)
        if (refs_any(e->args[i], s)) return true;
    return false;
}

/* Copy of e with columns replaced: map[i] replaces column ids[i]. */
static mc2_lexpr *subst(rw *w, mc2_lexpr *e, const uint32_t *ids, mc2_lexpr *const *map, size_t n)
{
    if (e->kind == MC2_LX_COL) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] == e->col) return map[i];
        return e;
    }
    if (!e->nargs) return e;
    mc2_lexpr *c = mc2_lexpr_new(w->lp, e->kind, 0, w->err);
    if (!c) return NULL;
    *c = *e;
    c->args = mc2_arena_array(w->lp->arena, e->nargs, sizeof *c->args, w->err);
    if (!c->args) return NULL;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!(c->args[i] = subst(w, e->args[i], ids, map, n))) return NULL;
    return c;
}

/* ---- decorrelation ----------------------------------------------------------------------- */

static mc2_lnode *decor(rw *w, mc2_lnode *n);

static int decor_expr_subs(rw *w, mc2_lexpr *e)
{
    if (!e) return 0;
    if (e->sub && !(e->sub = decor(w, e->sub))) return -1;
    for (unsigned i = 0; i < e->nargs; i++)
        if (decor_expr_subs(w, e->args[i])) return -1;
    return 0;
}

/* Pulls the conjuncts that refer to `fr` out of filters reachable from n without crossing
 * an operator that would change their meaning (inner joins, the left of left/semi/anti
 * joins, filters). */
static mc2_lnode *pull_corr(rw *w, mc2_lnode *n, const mc2_idset *fr, evec *pulled)
{
    if (++w->depth > RW_MAX_DEPTH) {
        rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex to rewrite");
        return NULL;
    }
    mc2_lnode *r = n;
    if (n->kind == MC2_LN_FILTER) {
        evec c = {0};
        if (split(w, n->pred, &c)) return NULL;
        evec keep = {0};
        for (size_t i = 0; i < c.n; i++) {
            evec *dst = refs_any(c.v[i], fr) ? pulled : &keep;
            if (mc2_lexpr_conjuncts(w->lp, c.v[i], &dst->v, &dst->n, &dst->cap, w->err))
                return NULL;
        }
        mc2_lnode *child = pull_corr(w, n->left, fr, pulled);
        if (!child) return NULL;
        if (!keep.n) {
            r = child;
        } else {
            mc2_lexpr *p = and_all(w, keep.v, keep.n);
            if (!p) return NULL;
            r = mknode(w, MC2_LN_FILTER, child, NULL);
            if (!r) return NULL;
            r->pred = p;
            if (mc2_lnode_passcols(w->lp, r, w->err)) return NULL;
        }
    } else if (n->kind == MC2_LN_JOIN && n->jtype != MC2_JOIN_FULL) {
        mc2_lnode *l = pull_corr(w, n->left, fr, pulled);
        if (!l) return NULL;
        mc2_lnode *rr = n->right;
        mc2_lexpr *cond = n->pred;
        if (n->jtype == MC2_JOIN_INNER) {
            if (!(rr = pull_corr(w, n->right, fr, pulled))) return NULL;
            evec c = {0}, keep = {0};
            if (split(w, n->pred, &c)) return NULL;
            for (size_t i = 0; i < c.n; i++) {
                evec *dst = refs_any(c.v[i], fr) ? pulled : &keep;
                if (mc2_lexpr_conjuncts(w->lp, c.v[i], &dst->v, &dst->n, &dst->cap, w->err))
                    return NULL;
            }
            cond = keep.n ? and_all(w, keep.v, keep.n) : NULL;
            if (keep.n && !cond) return NULL;
        }
        if (l != n->left || rr != n->right || cond != n->pred) {
            r = mkjoin(w, n->jtype, l, rr, cond);
            if (!r) return NULL;
            r->null_aware = n->null_aware;
        }
    }
    w->depth--;
    return r;
}

static const char *corr_msg = "not supported: this correlated subquery (a subquery may refer to "
                              "the outer query only in its WHERE conditions, and not through "
                              "GROUP BY, DISTINCT, LIMIT or set operations)";

/* Does sub return at most one row? */
static bool single_row(const mc2_lnode *n)
{
    for (;;) {
        switch (n->kind) {
        case MC2_LN_PROJECT:
        case MC2_LN_FILTER:
        case MC2_LN_SORT:
        case MC2_LN_DISTINCT:
            n = n->left;
            continue;
        case MC2_LN_LIMIT:
            if (n->limit >= 0 && n->limit <= 1) return true;
            n = n->left;
            continue;
        case MC2_LN_AGG:
            return n->ngroups == 0;
        case MC2_LN_ONEROW:
            return true;
        default:
            return false;
        }
    }
}

/* Replaces a scalar subquery by a join below `*input`; returns the expression for its value. */
static mc2_lexpr *scalar_apply(rw *w, mc2_lexpr *e, mc2_lnode **input)
{
    mc2_lnode *sub = e->sub;
    mc2_idset fr;
    bool corr;
    if (free_ids(w, sub, &fr, &corr)) return NULL;
    if (!single_row(sub)) {
        rerr(w, e->pos,
             "not supported: a scalar subquery that may return more than one row (use an "
             "aggregate such as MAX, or LIMIT 1)");
        return NULL;
    }
    if (!corr) {
        /* computed once: a one-row table joined to every row */
        if (!(*input = mkjoin(w, MC2_JOIN_LEFT, *input, sub, NULL))) return NULL;
        return mc2_lexpr_col(w->lp, sub->cols[0], w->err);
    }
    /* correlated: Project(value) <- Agg(no groups) <- body, with outer = inner equalities in
     * the body's WHERE: group the body by the inner sides and join on them */
    mc2_lnode *p = sub, *a;
    if (p->kind != MC2_LN_PROJECT || (a = p->left)->kind != MC2_LN_AGG || a->ngroups != 0) {
        rerr(w, e->pos, corr_msg);
        return NULL;
    }
    for (size_t i = 0; i < p->nexprs; i++)
        if (refs_any(p->exprs[i], &fr)) {
            rerr(w, e->pos, corr_msg);
            return NULL;
        }
    for (size_t i = 0; i < a->nexprs; i++)
        if (refs_any(a->exprs[i], &fr)) {
            rerr(w, e->pos, corr_msg);
            return NULL;
        }
    evec pulled = {0};
    mc2_lnode *body = pull_corr(w, a->left, &fr, &pulled);
    if (!body) return NULL;
    mc2_idset fr2;
    bool still;
    if (free_ids(w, body, &fr2, &still)) return NULL;
    if (still || pulled.n == 0) {
        rerr(w, e->pos, corr_msg);
        return NULL;
    }
    mc2_idset inner;
    if (idset(w, &inner)) return NULL;
    mc2_lnode_produced(body, &inner);
    size_t k = pulled.n;
    mc2_lexpr **outer = mc2_arena_array(w->lp->arena, k, sizeof *outer, w->err);
    mc2_lexpr **innr = mc2_arena_array(w->lp->arena, k, sizeof *innr, w->err);
    if (!outer || !innr) return NULL;
    for (size_t i = 0; i < k; i++) {
        mc2_lexpr *c = pulled.v[i];
        if (c->kind != MC2_LX_CMP || c->op != MC2_PX_EQ) {
            rerr(w, c->pos,
                 "not supported: a correlated scalar subquery whose condition on the outer "
                 "query is not an equality");
            return NULL;
        }
        mc2_lexpr *x = c->args[0], *y = c->args[1];
        if (mc2_lexpr_within(x, &inner) && !refs_any(y, &inner)) {
            innr[i] = x;
            outer[i] = y;
        } else if (mc2_lexpr_within(y, &inner) && !refs_any(x, &inner)) {
            innr[i] = y;
            outer[i] = x;
        } else {
            rerr(w, c->pos,
                 "not supported: a correlated condition mixing inner and outer columns on one "
                 "side");
            return NULL;
        }
    }
    /* the grouped aggregate */
    mc2_lnode *na = mknode(w, MC2_LN_AGG, body, NULL);
    if (!na) return NULL;
    na->ngroups = k;
    na->nexprs = na->ncols = k + a->nexprs;
    na->exprs = mc2_arena_array(w->lp->arena, na->nexprs, sizeof *na->exprs, w->err);
    na->cols = mc2_arena_array(w->lp->arena, na->nexprs, sizeof *na->cols, w->err);
    if (!na->exprs || !na->cols) return NULL;
    for (size_t i = 0; i < k; i++) {
        na->exprs[i] = innr[i];
        const mc2_lcolinfo *ci = innr[i]->kind == MC2_LX_COL ? &w->lp->cols[innr[i]->col] : NULL;
        uint32_t id = mc2_lplan_newcol(w->lp, ci ? ci->name : "key", ci ? ci->qual : NULL,
                                       innr[i]->type, innr[i]->nullable, w->err);
        if (!id) return NULL;
        if (ci) w->lp->cols[id].ndv = ci->ndv;
        na->cols[i] = id;
    }
    for (size_t i = 0; i < a->nexprs; i++) {
        na->exprs[k + i] = a->exprs[i];
        na->cols[k + i] = a->cols[i];
    }
    /* the value and the keys */
    mc2_lnode *np = mknode(w, MC2_LN_PROJECT, na, NULL);
    if (!np) return NULL;
    np->nexprs = np->ncols = 1 + k;
    np->exprs = mc2_arena_array(w->lp->arena, 1 + k, sizeof *np->exprs, w->err);
    np->cols = mc2_arena_array(w->lp->arena, 1 + k, sizeof *np->cols, w->err);
    if (!np->exprs || !np->cols) return NULL;
    np->exprs[0] = p->exprs[0];
    np->cols[0] = p->cols[0];
    mc2_lexpr *cond = NULL;
    for (size_t i = 0; i < k; i++) {
        const mc2_lcolinfo ci = w->lp->cols[na->cols[i]];
        uint32_t id = mc2_lplan_newcol(w->lp, ci.name, ci.qual, ci.type, ci.nullable, w->err);
        if (!id) return NULL;
        w->lp->cols[id].ndv = ci.ndv;
        np->cols[1 + i] = id;
        if (!(np->exprs[1 + i] = mc2_lexpr_col(w->lp, na->cols[i], w->err))) return NULL;
        mc2_lexpr *rc = mc2_lexpr_col(w->lp, id, w->err);
        mc2_lexpr *eq = rc ? mc2_lexpr_eq(w->lp, outer[i], rc, pulled.v[i]->pos, w->err) : NULL;
        if (!eq) return NULL;
        eq->nullable = true; /* the right side is NULL for outer rows without a group */
        if (!(cond = mc2_lexpr_and(w->lp, cond, eq, w->err))) return NULL;
    }
    if (!(*input = mkjoin(w, MC2_JOIN_LEFT, *input, np, cond))) return NULL;
    mc2_lexpr *val = mc2_lexpr_col(w->lp, np->cols[0], w->err);
    if (!val) return NULL;
    /* COUNT over no rows is 0, not NULL: for outer rows without a group, evaluate the value
     * with every COUNT at 0 and every other aggregate NULL */
    bool has_count = false;
    for (size_t i = 0; i < a->nexprs; i++)
        if (a->exprs[i]->op == MC2_AGG_COUNT || a->exprs[i]->op == MC2_AGG_COUNT_STAR)
            has_count = true;
    if (!has_count) return val;
    mc2_lexpr **map = mc2_arena_array(w->lp->arena, a->nexprs, sizeof *map, w->err);
    if (!map) return NULL;
    for (size_t i = 0; i < a->nexprs; i++) {
        mc2_lexpr *c = mc2_lexpr_new(w->lp, MC2_LX_CONST, 0, w->err);
        if (!c) return NULL;
        c->type = a->exprs[i]->type;
        if (a->exprs[i]->op == MC2_AGG_COUNT || a->exprs[i]->op == MC2_AGG_COUNT_STAR) {
            c->val.i = 0;
        } else {
            c->val.null = true;
            c->nullable = true;
        }
        map[i] = c;
    }
    mc2_lexpr *empty = subst(w, p->exprs[0], a->cols, map, a->nexprs);
    mc2_lexpr *isn = mc2_lexpr_new(w->lp, MC2_LX_IS_NULL, 1, w->err);
    mc2_lexpr *key = isn ? mc2_lexpr_col(w->lp, np->cols[1], w->err) : NULL;
    mc2_lexpr *cs = key && empty ? mc2_lexpr_new(w->lp, MC2_LX_CASE, 3, w->err) : NULL;
    if (!cs) return NULL;
    isn->args[0] = key;
    isn->type.id = MC2_T_BOOL;
    cs->args[0] = isn;
    cs->args[1] = empty;
    cs->args[2] = val;
    cs->type = val->type;
    cs->nullable = true;
    return cs;
}

/* EXISTS / NOT EXISTS / IN / NOT IN (subquery) as a conjunct: a semi or anti join. */
static mc2_lnode *semi_apply(rw *w, mc2_lnode *input, mc2_lexpr *e, bool negated)
{
    mc2_lnode *sub = e->sub;
    bool in = e->kind == MC2_LX_IN_QUERY;
    if (in) negated = negated != e->negated;
    mc2_idset fr;
    bool corr;
    if (free_ids(w, sub, &fr, &corr)) return NULL;
    mc2_lexpr *cond = NULL;
    mc2_lexpr *val = NULL;
    mc2_lnode *body = sub;
    if (corr) {
        while (body->kind == MC2_LN_SORT || body->kind == MC2_LN_DISTINCT ||
               (!in && body->kind == MC2_LN_PROJECT))
            body = body->left;
        if (in) {
            if (body->kind != MC2_LN_PROJECT || refs_any(body->exprs[0], &fr)) {
                rerr(w, e->pos, corr_msg);
                return NULL;
            }
            val = body->exprs[0];
            body = body->left;
        } else if (body->kind == MC2_LN_PROJECT) {
            body = body->left;
        }
        evec pulled = {0};
        if (!(body = pull_corr(w, body, &fr, &pulled))) return NULL;
        mc2_idset fr2;
        bool still;
        if (free_ids(w, body, &fr2, &still)) return NULL;
        if (still) {
            rerr(w, e->pos, corr_msg);
            return NULL;
        }
        if (!(cond = and_all(w, pulled.v, pulled.n)) && pulled.n) return NULL;
    } else if (in) {
        if (!(val = mc2_lexpr_col(w->lp, sub->cols[0], w->err))) return NULL;
    }
    bool null_aware = false;
    if (in) {
        mc2_lexpr *eq = mc2_lexpr_eq(w->lp, e->args[0], val, e->pos, w->err);
        if (!eq) return NULL;
        if (negated && eq->nullable) {
            /* NOT IN: a NULL on either side makes the predicate NULL, not TRUE */
            if (corr) {
                rerr(w, e->pos,
                     "not supported: NOT IN with a correlated subquery over nullable values "
                     "(write NOT EXISTS)");
                return NULL;
            }
            null_aware = true;
        }
        if (!(cond = mc2_lexpr_and(w->lp, eq, cond, w->err))) return NULL;
    }
    mc2_lnode *j = mkjoin(w, negated ? MC2_JOIN_ANTI : MC2_JOIN_SEMI, input, body, cond);
    if (j) j->null_aware = null_aware;
    return j;
}

static mc2_lexpr *replace_scalars(rw *w, mc2_lexpr *e, mc2_lnode **input)
{
    if (e->kind == MC2_LX_SUBQUERY) return scalar_apply(w, e, input);
    if (e->kind == MC2_LX_EXISTS || e->kind == MC2_LX_IN_QUERY) {
        rerr(w, e->pos,
             "not supported: EXISTS or IN (subquery) inside OR, CASE or the select list (only "
             "as a WHERE or HAVING condition joined by AND)");
        return NULL;
    }
    if (!e->nargs || !mc2_lexpr_has_subquery(e)) return e;
    mc2_lexpr *c = mc2_lexpr_new(w->lp, e->kind, 0, w->err);
    if (!c) return NULL;
    *c = *e;
    c->args = mc2_arena_array(w->lp->arena, e->nargs, sizeof *c->args, w->err);
    if (!c->args) return NULL;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!(c->args[i] = replace_scalars(w, e->args[i], input))) return NULL;
    return c;
}

static mc2_lnode *filter_apply(rw *w, mc2_lnode *f)
{
    evec c = {0}, plain = {0}, later = {0};
    if (split(w, f->pred, &c)) return NULL;
    for (size_t i = 0; i < c.n; i++)
        if (!mc2_lexpr_has_subquery(c.v[i]) &&
            mc2_lexpr_conjuncts(w->lp, c.v[i], &plain.v, &plain.n, &plain.cap, w->err))
            return NULL;
    mc2_lnode *in = f->left;
    if (plain.n) {
        mc2_lexpr *p = and_all(w, plain.v, plain.n);
        if (!p || !(in = mkfilter(w, in, p))) return NULL;
    }
    for (size_t i = 0; i < c.n; i++) {
        mc2_lexpr *e = c.v[i];
        if (!mc2_lexpr_has_subquery(e)) continue;
        bool neg = false;
        mc2_lexpr *t = e;
        if (t->kind == MC2_LX_NOT &&
            (t->args[0]->kind == MC2_LX_EXISTS || t->args[0]->kind == MC2_LX_IN_QUERY)) {
            neg = true;
            t = t->args[0];
        }
        if (t->kind == MC2_LX_EXISTS || t->kind == MC2_LX_IN_QUERY) {
            if (!(in = semi_apply(w, in, t, neg))) return NULL;
            continue;
        }
        mc2_lexpr *r = replace_scalars(w, e, &in);
        if (!r) return NULL;
        if (mc2_lexpr_conjuncts(w->lp, r, &later.v, &later.n, &later.cap, w->err)) return NULL;
    }
    if (later.n) {
        mc2_lexpr *p = and_all(w, later.v, later.n);
        if (!p || !(in = mkfilter(w, in, p))) return NULL;
    }
    return in;
}

static mc2_lnode *decor(rw *w, mc2_lnode *n)
{
    if (++w->depth > RW_MAX_DEPTH) {
        rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex to rewrite");
        return NULL;
    }
    if (n->left && !(n->left = decor(w, n->left))) return NULL;
    if (n->right && !(n->right = decor(w, n->right))) return NULL;
    if (decor_expr_subs(w, n->pred)) return NULL;
    for (size_t i = 0; i < n->nexprs; i++)
        if (decor_expr_subs(w, n->exprs[i])) return NULL;
    mc2_lnode *r = n;
    if (n->kind == MC2_LN_FILTER && mc2_lexpr_has_subquery(n->pred)) {
        r = filter_apply(w, n);
    } else if (n->kind == MC2_LN_PROJECT) {
        bool any = false;
        for (size_t i = 0; i < n->nexprs; i++) any |= mc2_lexpr_has_subquery(n->exprs[i]);
        if (any) {
            mc2_lnode *in = n->left;
            mc2_lexpr **ex = mc2_arena_array(w->lp->arena, n->nexprs, sizeof *ex, w->err);
            if (!ex) return NULL;
            for (size_t i = 0; i < n->nexprs; i++)
                if (!(ex[i] = replace_scalars(w, n->exprs[i], &in))) return NULL;
            n->exprs = ex;
            n->left = in;
        }
    }
    w->depth--;
    return r;
}

/* ---- predicate push-down and join ordering ----------------------------------------------- */

static mc2_lnode *opt(rw *w, mc2_lnode *n);

/* Is e FALSE or NULL whenever every column of s is NULL? (conservative) */
static bool strict_refs(const mc2_lexpr *e, const mc2_idset *s)
{
    switch (e->kind) {
    case MC2_LX_COL:
        return mc2_idset_has(s, e->col);
    case MC2_LX_ARITH:
    case MC2_LX_CAST:
        for (unsigned i = 0; i < e->nargs; i++)
            if (strict_refs(e->args[i], s)) return true;
        return false;
    case MC2_LX_FUNC:
        if (e->op == MC2_PF_COALESCE || e->op == MC2_PF_NULLIF) return false;
        for (unsigned i = 0; i < e->nargs; i++)
            if (strict_refs(e->args[i], s)) return true;
        return false;
    default:
        return false;
    }
}

static bool null_rejecting(const mc2_lexpr *e, const mc2_idset *s)
{
    switch (e->kind) {
    case MC2_LX_CMP:
        return strict_refs(e->args[0], s) || strict_refs(e->args[1], s);
    case MC2_LX_LIKE:
    case MC2_LX_IN:
        return strict_refs(e->args[0], s);
    case MC2_LX_IS_NULL:
        return e->negated && strict_refs(e->args[0], s);
    case MC2_LX_AND:
        for (unsigned i = 0; i < e->nargs; i++)
            if (null_rejecting(e->args[i], s)) return true;
        return false;
    case MC2_LX_OR:
        for (unsigned i = 0; i < e->nargs; i++)
            if (!null_rejecting(e->args[i], s)) return false;
        return e->nargs > 0;
    default:
        return false;
    }
}

/* Pushes conjunct c as far down into n as it can go; returns the new subtree. */
static mc2_lnode *push(rw *w, mc2_lnode *n, mc2_lexpr *c)
{
    if (++w->depth > RW_MAX_DEPTH) {
        rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex to rewrite");
        return NULL;
    }
    mc2_lnode *r = NULL;
    mc2_idset ls, rs;
    switch (n->kind) {
    case MC2_LN_FILTER: {
        mc2_lnode *ch = push(w, n->left, c);
        if (!ch) return NULL;
        r = mkfilter(w, ch, n->pred);
        break;
    }
    case MC2_LN_SORT:
    case MC2_LN_DISTINCT: {
        mc2_lnode *ch = push(w, n->left, c);
        if (!ch) return NULL;
        mc2_lnode *m = mknode(w, n->kind, ch, NULL);
        if (!m) return NULL;
        m->keys = n->keys;
        m->nkeys = n->nkeys;
        r = mc2_lnode_passcols(w->lp, m, w->err) ? NULL : m;
        break;
    }
    case MC2_LN_PROJECT:
    case MC2_LN_AGG: {
        size_t lim = n->kind == MC2_LN_AGG ? n->ngroups : n->nexprs;
        mc2_idset cs;
        if (idset(w, &cs)) return NULL;
        for (size_t i = 0; i < lim; i++) mc2_idset_add(&cs, n->cols[i]);
        bool ok = mc2_lexpr_within(c, &cs);
        for (size_t i = 0; ok && i < lim; i++)
            if (mc2_lexpr_has_subquery(n->exprs[i]) || mc2_lexpr_has_agg(n->exprs[i])) ok = false;
        if (!ok) {
            r = mkfilter(w, n, c);
            break;
        }
        mc2_lexpr *s = subst(w, c, n->cols, n->exprs, lim);
        mc2_lnode *ch = s ? push(w, n->left, s) : NULL;
        if (!ch) return NULL;
        mc2_lnode *m = mknode(w, n->kind, ch, NULL);
        if (!m) return NULL;
        *m = *n;
        m->left = ch;
        r = m;
        break;
    }
    case MC2_LN_JOIN: {
        if (idset(w, &ls) || idset(w, &rs)) return NULL;
        mc2_lnode_produced(n->left, &ls);
        mc2_lnode_produced(n->right, &rs);
        mc2_lnode *m = mknode(w, MC2_LN_JOIN, n->left, n->right);
        if (!m) return NULL;
        *m = *n;
        /* a condition that rejects NULLs of a LEFT join's right side makes it inner */
        if (n->jtype == MC2_JOIN_LEFT && !mc2_lexpr_within(c, &ls) && null_rejecting(c, &rs))
            m->jtype = MC2_JOIN_INNER;
        if (m->jtype != MC2_JOIN_FULL && mc2_lexpr_within(c, &ls)) {
            if (!(m->left = push(w, n->left, c))) return NULL;
        } else if (m->jtype == MC2_JOIN_INNER && mc2_lexpr_within(c, &rs)) {
            if (!(m->right = push(w, n->right, c))) return NULL;
        } else if (m->jtype == MC2_JOIN_INNER) {
            if (!(m->pred = mc2_lexpr_and(w->lp, n->pred, c, w->err))) return NULL;
        } else {
            r = mkfilter(w, n, c);
            break;
        }
        r = mc2_lnode_passcols(w->lp, m, w->err) ? NULL : m;
        break;
    }
    default:
        r = mkfilter(w, n, c);
        break;
    }
    w->depth--;
    return r;
}

/* A region of inner joins and filters, flattened: its inputs, its conjuncts, and the semi
 * and anti joins found on the way down (outermost first), which commute with inner joins
 * and filters as long as what they join to produces the columns they read. */
typedef struct region {
    mc2_lnode **leaves;
    size_t n, cap;
    evec conj;
    mc2_lnode **semis;
    size_t ns, caps;
} region;

/* (a AND b) OR (a AND c) -> a AND (b OR c): conditions common to every branch of an OR
 * (TPC-H Q19's join condition) become conjuncts of their own. Appends to v. */
static int factor_or(rw *w, mc2_lexpr *e, evec *v)
{
    if (e->kind != MC2_LX_OR || e->nargs < 2)
        return mc2_lexpr_conjuncts(w->lp, e, &v->v, &v->n, &v->cap, w->err);
    evec *br = mc2_arena_array(w->lp->arena, e->nargs, sizeof *br, w->err);
    if (!br) return -1;
    for (unsigned i = 0; i < e->nargs; i++)
        if (split(w, e->args[i], &br[i])) return -1;
    bool *common = mc2_arena_array(w->lp->arena, br[0].n + 1, sizeof *common, w->err);
    if (!common) return -1;
    size_t ncommon = 0;
    for (size_t j = 0; j < br[0].n; j++) {
        bool all = true;
        for (unsigned i = 1; i < e->nargs && all; i++) {
            bool found = false;
            for (size_t k = 0; k < br[i].n && !found; k++)
                found = mc2_lexpr_equal(br[0].v[j], br[i].v[k]);
            all = found;
        }
        if (all && !mc2_lexpr_has_subquery(br[0].v[j])) {
            common[j] = true;
            ncommon++;
        }
    }
    if (!ncommon) return mc2_lexpr_conjuncts(w->lp, e, &v->v, &v->n, &v->cap, w->err);
    mc2_lexpr *rest = mc2_lexpr_new(w->lp, MC2_LX_OR, e->nargs, w->err);
    if (!rest) return -1;
    *rest = *e;
    rest->args = mc2_arena_array(w->lp->arena, e->nargs, sizeof *rest->args, w->err);
    if (!rest->args) return -1;
    bool empty_branch = false;
    for (unsigned i = 0; i < e->nargs; i++) {
        evec keep = {0};
        for (size_t k = 0; k < br[i].n; k++) {
            bool com = false;
            for (size_t j = 0; j < br[0].n && !com; j++)
                com = common[j] && mc2_lexpr_equal(br[0].v[j], br[i].v[k]);
            if (!com && mc2_lexpr_conjuncts(w->lp, br[i].v[k], &keep.v, &keep.n, &keep.cap, w->err))
                return -1;
        }
        if (!keep.n)
            empty_branch = true;
        else if (!(rest->args[i] = and_all(w, keep.v, keep.n)))
            return -1;
    }
    for (size_t j = 0; j < br[0].n; j++)
        if (common[j] && mc2_lexpr_conjuncts(w->lp, br[0].v[j], &v->v, &v->n, &v->cap, w->err))
            return -1;
    /* a branch with nothing left is TRUE, and so is the OR */
    if (empty_branch) return 0;
    return mc2_lexpr_conjuncts(w->lp, rest, &v->v, &v->n, &v->cap, w->err);
}

static int split_factor(rw *w, mc2_lexpr *e, evec *v)
{
    evec c = {0};
    if (split(w, e, &c)) return -1;
    for (size_t i = 0; i < c.n; i++)
        if (factor_or(w, c.v[i], v)) return -1;
    return 0;
}

static int flatten(rw *w, mc2_lnode *n, region *g)
{
    if (++w->depth > RW_MAX_DEPTH) return rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex");
    if (n->kind == MC2_LN_JOIN && n->jtype == MC2_JOIN_LEFT) {
        /* a WHERE condition that rejects NULLs of the right side makes it an inner join */
        mc2_idset rs;
        if (idset(w, &rs)) return -1;
        mc2_lnode_produced(n->right, &rs);
        for (size_t i = 0; i < g->conj.n; i++)
            if (null_rejecting(g->conj.v[i], &rs)) {
                mc2_lnode *m = mknode(w, MC2_LN_JOIN, NULL, NULL);
                if (!m) return -1;
                *m = *n;
                m->jtype = MC2_JOIN_INNER;
                n = m;
                break;
            }
    }
    if (n->kind == MC2_LN_FILTER) {
        if (split_factor(w, n->pred, &g->conj)) return -1;
        if (flatten(w, n->left, g)) return -1;
    } else if (n->kind == MC2_LN_JOIN && (n->jtype == MC2_JOIN_SEMI || n->jtype == MC2_JOIN_ANTI)) {
        if (g->ns == g->caps) {
            size_t cap = g->caps ? g->caps * 2 : 4;
            mc2_lnode **v = mc2_arena_array(w->lp->arena, cap, sizeof *v, w->err);
            if (!v) return -1;
            if (g->ns) memcpy(v, g->semis, g->ns * sizeof *v);
            g->semis = v;
            g->caps = cap;
        }
        g->semis[g->ns++] = n;
        if (flatten(w, n->left, g)) return -1;
    } else if (n->kind == MC2_LN_JOIN && n->jtype == MC2_JOIN_INNER) {
        if (split_factor(w, n->pred, &g->conj)) return -1;
        if (flatten(w, n->left, g) || flatten(w, n->right, g)) return -1;
    } else {
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 8;
            mc2_lnode **v = mc2_arena_array(w->lp->arena, cap, sizeof *v, w->err);
            if (!v) return -1;
            if (g->n) memcpy(v, g->leaves, g->n * sizeof *v);
            g->leaves = v;
            g->cap = cap;
        }
        g->leaves[g->n++] = n;
    }
    w->depth--;
    return 0;
}

/* A semi or anti join of the region: its inner side, its condition, the region's inputs the
 * condition reads, and whether it joins its single input (push) or the region's result. */
typedef struct rsemi {
    const mc2_lnode *orig;
    mc2_lnode *right;
    mc2_lexpr *cond;
    uint64_t mask;
    bool push;
} rsemi;

/* Prepared region: inputs with the single-input conditions pushed in, conjuncts with the
 * inputs they read (used: already placed), and for equalities the inputs of each side. */
typedef struct rgn {
    rw *w;
    region g;
    size_t k;
    mc2_idset *prod;
    uint64_t *mask, *eqa, *eqb;
    bool *used;
    rsemi *sm;
    double *rows; /* input rows for the order being costed */
    /* estimate factors: a set of inputs containing fmask[f] has its size multiplied by
     * fsel[f]; pair conditions between two inputs are grouped (composite keys) */
    uint64_t *fmask;
    mc2_lexpr **fcond;
    int *fa, *fb; /* the pair's inputs, or -1: fcond is one conjunct's filter */
    double *fsel;
    size_t nf;
} rgn;

/* The region's inputs e reads, as a bit mask (k <= 64). */
static uint64_t inputs_of(rgn *r, const mc2_lexpr *e)
{
    mc2_idset refs;
    if (r->k > 64 || idset(r->w, &refs)) return 0;
    mc2_lexpr_refs(e, &refs);
    uint64_t m = 0;
    for (size_t i = 0; i < r->k; i++)
        for (uint32_t x = 0; x < refs.nw; x++)
            if (refs.w[x] & r->prod[i].w[x]) {
                m |= (uint64_t)1 << i;
                break;
            }
    return m;
}

/* an OR over several inputs implies, for an input every branch restricts, the OR of those
 * restrictions: (n1.x = 1 AND n2.y = 2) OR (n1.x = 3 AND ...) implies n1.x = 1 OR n1.x = 3,
 * which filters n1 early (TPC-H Q7, Q19); the OR itself stays */
static int imply_ors(rgn *r)
{
    rw *w = r->w;
    for (size_t c = 0; c < r->g.conj.n; c++) {
        mc2_lexpr *e = r->g.conj.v[c];
        uint64_t m = r->mask[c];
        if (r->used[c] || e->kind != MC2_LX_OR || !(m & (m - 1))) continue;
        for (size_t i = 0; i < r->k; i++) {
            if (!(m >> i & 1)) continue;
            mc2_lexpr *d = mc2_lexpr_new(w->lp, MC2_LX_OR, e->nargs, w->err);
            if (!d) return -1;
            d->type.id = MC2_T_BOOL;
            d->pos = e->pos;
            bool all = true;
            for (unsigned b = 0; b < e->nargs && all; b++) {
                evec bc = {0}, mine = {0};
                if (split(w, e->args[b], &bc)) return -1;
                for (size_t j = 0; j < bc.n; j++)
                    if (mc2_lexpr_within(bc.v[j], &r->prod[i]) &&
                        mc2_lexpr_conjuncts(w->lp, bc.v[j], &mine.v, &mine.n, &mine.cap, w->err))
                        return -1;
                if (!mine.n) {
                    all = false;
                    break;
                }
                if (!(d->args[b] = and_all(w, mine.v, mine.n))) return -1;
                d->nullable |= d->args[b]->nullable;
            }
            if (all && !(r->g.leaves[i] = push(w, r->g.leaves[i], d))) return -1;
        }
    }
    return 0;
}

/* The semi joins: ON conditions on their inner side filter that side, which is optimized;
 * the inputs the rest of the condition reads. */
static int prep_semis(rgn *r)
{
    rw *w = r->w;
    if (!(r->sm = mc2_arena_array(w->lp->arena, r->g.ns + 1, sizeof *r->sm, w->err))) return -1;
    for (size_t s = 0; s < r->g.ns; s++) {
        const mc2_lnode *n = r->g.semis[s];
        rsemi *m = &r->sm[s];
        m->orig = n;
        mc2_idset rs;
        if (idset(w, &rs)) return -1;
        mc2_lnode_produced(n->right, &rs);
        evec c = {0}, keep = {0};
        if (split(w, n->pred, &c)) return -1;
        mc2_lnode *right = n->right;
        for (size_t i = 0; i < c.n; i++) {
            if (mc2_lexpr_within(c.v[i], &rs)) {
                if (!(right = mkfilter(w, right, c.v[i]))) return -1;
            } else if (mc2_lexpr_conjuncts(w->lp, c.v[i], &keep.v, &keep.n, &keep.cap, w->err)) {
                return -1;
            }
        }
        if (!(m->right = opt(w, right))) return -1;
        mc2_lplan_estimate(w->lp, m->right);
        m->cond = keep.n ? and_all(w, keep.v, keep.n) : NULL;
        if (keep.n && !m->cond) return -1;
        m->mask = m->cond ? inputs_of(r, m->cond) : 0;
    }
    return 0;
}

static mc2_lnode *semi_join(rw *w, mc2_lnode *l, const rsemi *m)
{
    mc2_lnode *j = mkjoin(w, m->orig->jtype, l, m->right, m->cond);
    if (j) j->null_aware = m->orig->null_aware;
    return j;
}

/* Flattens n, optimizes the inputs, pushes single-input conditions into them, prepares the
 * semi joins. Returns 0, 1 when there are too many inputs to order (r->k > 64), -1. */
static int prep_region(rw *w, mc2_lnode *n, rgn *r)
{
    memset(r, 0, sizeof *r);
    r->w = w;
    if (flatten(w, n, &r->g)) return -1;
    size_t k = r->k = r->g.n, nc = r->g.conj.n;
    mc2_arena *a = w->lp->arena;
    r->prod = mc2_arena_array(a, k, sizeof *r->prod, w->err);
    r->mask = mc2_arena_array(a, nc + 1, sizeof *r->mask, w->err);
    r->eqa = mc2_arena_array(a, nc + 1, sizeof *r->eqa, w->err);
    r->eqb = mc2_arena_array(a, nc + 1, sizeof *r->eqb, w->err);
    r->used = mc2_arena_array(a, nc + 1, sizeof *r->used, w->err);
    r->rows = mc2_arena_array(a, k, sizeof *r->rows, w->err);
    if (!r->prod || !r->mask || !r->eqa || !r->eqb || !r->used || !r->rows) return -1;
    for (size_t i = 0; i < k; i++) {
        if (!(r->g.leaves[i] = opt(w, r->g.leaves[i])) || idset(w, &r->prod[i])) return -1;
        mc2_lnode_produced(r->g.leaves[i], &r->prod[i]);
    }
    if (k > 64) return 1;
    for (size_t c = 0; c < nc; c++) {
        const mc2_lexpr *e = r->g.conj.v[c];
        uint64_t m = r->mask[c] = inputs_of(r, e);
        if (m && !(m & (m - 1))) {
            /* single-input conditions go into that input */
            size_t i = (size_t)__builtin_ctzll(m);
            if (!(r->g.leaves[i] = push(w, r->g.leaves[i], r->g.conj.v[c]))) return -1;
            r->used[c] = true;
        } else if (e->kind == MC2_LX_CMP && e->op == MC2_PX_EQ) {
            uint64_t x = inputs_of(r, e->args[0]), y = inputs_of(r, e->args[1]);
            if (x && y && !(x & y)) {
                r->eqa[c] = x;
                r->eqb[c] = y;
            }
        }
    }
    if (imply_ors(r) || prep_semis(r)) return -1;
    for (size_t i = 0; i < k; i++) {
        mc2_lplan_estimate(w->lp, r->g.leaves[i]);
        r->rows[i] = r->g.leaves[i]->rows;
    }
    return 0;
}

/* The estimate factors of the conditions between inputs: the equalities between each pair
 * of inputs together (their keys, with the inputs' declared keys), every other condition
 * alone. The grouping is fixed; rg_factor_sels computes the selectivities for r->rows. */
static int rg_factors(rgn *r)
{
    rw *w = r->w;
    size_t nc = r->g.conj.n;
    mc2_arena *a = w->lp->arena;
    r->fmask = mc2_arena_array(a, nc + 1, sizeof *r->fmask, w->err);
    r->fcond = mc2_arena_array(a, nc + 1, sizeof *r->fcond, w->err);
    r->fa = mc2_arena_array(a, nc + 1, sizeof *r->fa, w->err);
    r->fb = mc2_arena_array(a, nc + 1, sizeof *r->fb, w->err);
    r->fsel = mc2_arena_array(a, nc + 1, sizeof *r->fsel, w->err);
    bool *done = mc2_arena_array(a, nc + 1, sizeof *done, w->err);
    if (!r->fmask || !r->fcond || !r->fa || !r->fb || !r->fsel || !done) return -1;
    r->nf = 0;
    for (size_t c = 0; c < nc; c++) {
        uint64_t m = r->mask[c];
        if (r->used[c] || done[c] || !(m & (m - 1))) continue;
        size_t f = r->nf++;
        r->fmask[f] = m;
        r->fa[f] = r->fb[f] = -1;
        r->fcond[f] = r->g.conj.v[c];
        uint64_t x = r->eqa[c], y = r->eqb[c];
        if (!x || (x & (x - 1)) || (y & (y - 1))) continue;
        /* a pair equality: gather the others between the same two inputs */
        r->fa[f] = __builtin_ctzll(x);
        r->fb[f] = __builtin_ctzll(y);
        for (size_t d = c + 1; d < nc; d++)
            if (!r->used[d] && !done[d] && r->mask[d] == m && r->eqa[d]) {
                if (!(r->fcond[f] = mc2_lexpr_and(w->lp, r->fcond[f], r->g.conj.v[d], w->err)))
                    return -1;
                done[d] = true;
            }
    }
    return 0;
}

static void rg_factor_sels(rgn *r)
{
    const mc2_lplan *lp = r->w->lp;
    for (size_t f = 0; f < r->nf; f++) {
        if (r->fa[f] < 0) {
            r->fsel[f] = mc2_est_sel(lp, r->fcond[f]);
            continue;
        }
        int a = r->fa[f], b = r->fb[f];
        r->fsel[f] = mc2_est_joinsel(lp, r->g.leaves[a], r->rows[a], r->g.leaves[b], r->rows[b],
                                     r->fcond[f]);
    }
}

/* The estimated rows of joining the inputs in set s (the same for every order). */
static double rg_rows(const rgn *r, uint64_t s)
{
    double x = 1;
    for (size_t i = 0; i < r->k; i++)
        if (s >> i & 1) x *= r->rows[i];
    for (size_t f = 0; f < r->nf; f++)
        if (!(r->fmask[f] & ~s)) x *= r->fsel[f];
    return x >= 1 ? x : 1; /* also for NaN (an infinite size times 0) */
}

/* ---- join order: dynamic programming over the sets of inputs ---------------------------- */

#define DP_MAX 10 /* inputs ordered by dynamic programming (3^10 splits); more: greedy */
#define DP_BUDGET                                                                                  \
    1e8 /* search steps per query; regions beyond it are ordered greedily (a                       \
           query of thousands of many-way joins stays cheap to plan) */

typedef struct dpent {
    double cost, rows; /* cost: the sum of the estimated rows of every join below */
    uint64_t split;    /* the best plan joins split and set ^ split */
    int cp, nl;        /* cross products in it; joins without an equality (nested loops) */
} dpent;

/* Best plan for every set of inputs: fewest cross products, then fewest joins without an
 * equality between their sides (nested loops, which also cost the product of their sides'
 * rows), then least cost. Returns the cost of the whole region. */
static double dp_run(const rgn *r, dpent *t)
{
    uint64_t full = ((uint64_t)1 << r->k) - 1;
    size_t nc = r->g.conj.n;
    for (uint64_t s = 1; s <= full; s++) {
        if (!(s & (s - 1))) {
            t[s] = (dpent){0, r->rows[__builtin_ctzll(s)], 0, 0, 0};
            continue;
        }
        t[s].rows = rg_rows(r, s);
        t[s].cp = -1;
        uint64_t low = s & (~s + 1);
        for (uint64_t s1 = (s - 1) & s; s1; s1 = (s1 - 1) & s) {
            if (!(s1 & low)) continue;
            uint64_t s2 = s ^ s1;
            bool conn = false, eq = false;
            for (size_t c = 0; c < nc; c++) {
                uint64_t m = r->mask[c];
                if (r->used[c] || !m || (m & ~s) || !(m & s1) || !(m & s2)) continue;
                conn = true;
                uint64_t x = r->eqa[c], y = r->eqb[c];
                if (x && ((!(x & ~s1) && !(y & ~s2)) || (!(x & ~s2) && !(y & ~s1)))) eq = true;
            }
            int cp = t[s1].cp + t[s2].cp + !conn, nl = t[s1].nl + t[s2].nl + (conn && !eq);
            double cost = t[s1].cost + t[s2].cost + t[s].rows + (eq ? 0 : t[s1].rows * t[s2].rows);
            if (t[s].cp < 0 || cp < t[s].cp || (cp == t[s].cp && nl < t[s].nl) ||
                (cp == t[s].cp && nl == t[s].nl && cost < t[s].cost)) {
                t[s].cp = cp;
                t[s].nl = nl;
                t[s].cost = cost;
                t[s].split = s1;
            }
        }
    }
    return t[full].cost;
}

/* Builds the plan dp_run chose for set s; each condition joins the lowest set holding its
 * inputs; the smaller side goes on the left (the planner chooses the build side). */
static mc2_lnode *dp_build(rgn *r, const dpent *t, uint64_t s)
{
    if (!(s & (s - 1))) return r->g.leaves[__builtin_ctzll(s)];
    uint64_t s1 = t[s].split, s2 = s ^ s1;
    mc2_lnode *a = dp_build(r, t, s1), *b = dp_build(r, t, s2);
    if (!a || !b) return NULL;
    mc2_lexpr *cond = NULL;
    for (size_t c = 0; c < r->g.conj.n; c++) {
        uint64_t m = r->mask[c];
        if (r->used[c] || !m || (m & ~s)) continue;
        if (!(cond = mc2_lexpr_and(r->w->lp, cond, r->g.conj.v[c], r->w->err))) return NULL;
        r->used[c] = true;
    }
    if (t[s1].rows > t[s2].rows) {
        mc2_lnode *x = a;
        a = b;
        b = x;
    }
    mc2_lnode *j = mkjoin(r->w, MC2_JOIN_INNER, a, b, cond);
    if (j) j->rows = t[s].rows;
    return j;
}

#define SEMI_CHOICES 4 /* semi joins whose placement is chosen by cost; others go on top */

/* The cost of one placement of the semi joins (bit i of push: candidate i joins its input):
 * the join order's cost with the inputs the pushed ones reduce, plus each semi join's
 * input and output rows. r->rows is left as the placement's input rows. */
static double semi_cost(rgn *r, const size_t *cand, size_t ncand, unsigned push, dpent *t)
{
    const mc2_lplan *lp = r->w->lp;
    double extra = 0;
    for (size_t i = 0; i < r->k; i++) r->rows[i] = r->g.leaves[i]->rows;
    for (size_t s = r->g.ns; s-- > 0;) {
        const rsemi *m = &r->sm[s];
        size_t c = 0;
        while (c < ncand && cand[c] != s) c++;
        if (c == ncand || !(push >> c & 1)) continue;
        size_t i = (size_t)__builtin_ctzll(m->mask);
        double f = mc2_est_semi(lp, r->g.leaves[i], r->rows[i], 0, m->right, m->right->rows,
                                m->cond, m->orig->jtype == MC2_JOIN_ANTI);
        extra += r->rows[i] * (1 + f);
        r->rows[i] *= f;
    }
    rg_factor_sels(r);
    double cost = r->k > 1 ? dp_run(r, t) : 0, top = rg_rows(r, ((uint64_t)1 << r->k) - 1);
    for (size_t s = r->g.ns; s-- > 0;) {
        const rsemi *m = &r->sm[s];
        size_t c = 0;
        while (c < ncand && cand[c] != s) c++;
        if (c < ncand && (push >> c & 1)) continue;
        double f = 0.5;
        if (c < ncand) {
            size_t i = (size_t)__builtin_ctzll(m->mask);
            f = mc2_est_semi(lp, r->g.leaves[i], r->rows[i], top, m->right, m->right->rows, m->cond,
                             m->orig->jtype == MC2_JOIN_ANTI);
        }
        extra += top * (1 + f);
        top *= f;
    }
    return cost + extra;
}

static mc2_lnode *order_greedy(rgn *r);
static mc2_lnode *order_with(rgn *r, dpent *t, const size_t *cand, size_t ncand);

/* Chooses where each semi join goes (its single input, or the region's result) and the join
 * order, by estimated cost; builds the region. */
static mc2_lnode *order_region(rgn *r)
{
    rw *w = r->w;
    size_t k = r->k, cand[SEMI_CHOICES], ncand = 0;
    for (size_t s = r->g.ns; s-- > 0 && ncand < SEMI_CHOICES;) {
        uint64_t m = r->sm[s].mask;
        if (m && !(m & (m - 1))) cand[ncand++] = s;
    }
    double work = (double)(r->g.conj.n + 1) * (double)(1u << ncand);
    for (size_t i = 0; i < k; i++) work *= 3;
    if (k > 1 && w->dp_work + work > DP_BUDGET) return order_greedy(r);
    w->dp_work += work;
    if (rg_factors(r)) return NULL;
    dpent *t = mc2_calloc((size_t)1 << k, sizeof *t);
    if (!t) {
        mc2_err_set(w->err, MC2_E_NOMEM, "out of memory ordering joins");
        return NULL;
    }
    mc2_lnode *res = order_with(r, t, cand, ncand);
    mc2_free(t);
    return res;
}

/* order_region's work with the DP table t. */
static mc2_lnode *order_with(rgn *r, dpent *t, const size_t *cand, size_t ncand)
{
    rw *w = r->w;
    size_t k = r->k;
    unsigned best = 0;
    double best_cost = 0;
    for (unsigned push = 0; push < 1u << ncand; push++) {
        double cost = semi_cost(r, cand, ncand, push, t);
        if (push == 0 || cost < best_cost) {
            best = push;
            best_cost = cost;
        }
    }
    for (size_t c = 0; c < ncand; c++) r->sm[cand[c]].push = best >> c & 1;
    for (size_t s = r->g.ns; s-- > 0;) {
        const rsemi *m = &r->sm[s];
        if (!m->push) continue;
        size_t i = (size_t)__builtin_ctzll(m->mask);
        if (!(r->g.leaves[i] = semi_join(w, r->g.leaves[i], m))) return NULL;
        mc2_lplan_estimate(w->lp, r->g.leaves[i]);
    }
    for (size_t i = 0; i < k; i++) r->rows[i] = r->g.leaves[i]->rows;
    rg_factor_sels(r);
    if (k == 1) return r->g.leaves[0];
    dp_run(r, t);
    return dp_build(r, t, ((uint64_t)1 << k) - 1);
}

/* More inputs than DP_MAX, or the query's search budget spent: greedy, from the smallest
 * input, adding the input connected by an equality with the smallest estimated result (then
 * any connected input; a cross product only when nothing is connected). */
static mc2_lnode *order_greedy(rgn *r)
{
    rw *w = r->w;
    size_t k = r->k, start = 0;
    for (size_t i = 1; i < k; i++)
        if (r->rows[i] < r->rows[start]) start = i;
    uint64_t have = (uint64_t)1 << start;
    mc2_lnode *cur = r->g.leaves[start];
    for (size_t step = 1; step < k; step++) {
        size_t best = k;
        int best_class = 0; /* 2: equality, 1: any condition, 0: none */
        double best_est = 0;
        for (size_t i = 0; i < k; i++) {
            uint64_t bit = (uint64_t)1 << i;
            if (have & bit) continue;
            int cls = 0;
            mc2_lexpr *cond = NULL;
            for (size_t c = 0; c < r->g.conj.n; c++) {
                uint64_t m = r->mask[c];
                if (r->used[c] || !(m & bit) || (m & ~(have | bit)) || !(m & have)) continue;
                cls = r->eqa[c] ? 2 : cls < 1 ? 1 : cls;
                if (!(cond = mc2_lexpr_and(w->lp, cond, r->g.conj.v[c], w->err))) return NULL;
            }
            double est = cur->rows * r->rows[i] *
                         mc2_est_joinsel(w->lp, cur, cur->rows, r->g.leaves[i], r->rows[i], cond);
            if (best == k || cls > best_class || (cls == best_class && est < best_est)) {
                best = i;
                best_class = cls;
                best_est = est;
            }
        }
        uint64_t bit = (uint64_t)1 << best;
        mc2_lexpr *cond = NULL;
        for (size_t c = 0; c < r->g.conj.n; c++) {
            uint64_t m = r->mask[c];
            if (r->used[c] || !(m & bit) || (m & ~(have | bit))) continue;
            if (!(cond = mc2_lexpr_and(w->lp, cond, r->g.conj.v[c], w->err))) return NULL;
            r->used[c] = true;
        }
        if (!(cur = mkjoin(w, MC2_JOIN_INNER, cur, r->g.leaves[best], cond))) return NULL;
        cur->rows = best_est < 1 ? 1 : best_est;
        have |= bit;
    }
    return cur;
}

/* Optimizes a region of inner joins, filters and semi joins: pushes single-input conditions
 * into the inputs, orders the joins (dynamic programming on the estimated sizes, fewest cross
 * products first), places each semi join on its input or on top by cost, and applies what
 * is left on top. */
static mc2_lnode *opt_region(rw *w, mc2_lnode *n)
{
    rgn r;
    int rc = prep_region(w, n, &r);
    if (rc < 0) return NULL;
    mc2_lnode *cur;
    if (rc == 1) {
        /* too many inputs to order: keep the written order */
        cur = r.g.leaves[0];
        for (size_t i = 1; i < r.k; i++)
            if (!(cur = mkjoin(w, MC2_JOIN_INNER, cur, r.g.leaves[i], NULL))) return NULL;
        if (prep_semis(&r)) return NULL;
    } else {
        cur = r.k <= DP_MAX ? order_region(&r) : order_greedy(&r);
    }
    if (!cur) return NULL;
    for (size_t c = 0; c < r.g.conj.n; c++)
        if (!r.used[c] && !(cur = mkfilter(w, cur, r.g.conj.v[c]))) return NULL;
    for (size_t s = r.g.ns; s-- > 0;)
        if (!r.sm[s].push && !(cur = semi_join(w, cur, &r.sm[s]))) return NULL;
    return cur;
}

static mc2_lnode *opt(rw *w, mc2_lnode *n)
{
    if (++w->depth > RW_MAX_DEPTH) {
        rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex to rewrite");
        return NULL;
    }
    mc2_lnode *r = n;
    if (n->kind == MC2_LN_FILTER ||
        (n->kind == MC2_LN_JOIN &&
         (n->jtype == MC2_JOIN_INNER || n->jtype == MC2_JOIN_SEMI || n->jtype == MC2_JOIN_ANTI))) {
        r = opt_region(w, n);
    } else if (n->kind == MC2_LN_JOIN) {
        /* ON conditions on the inner side only filter that side */
        mc2_idset rs, ls;
        if (idset(w, &rs) || idset(w, &ls)) return NULL;
        mc2_lnode_produced(n->right, &rs);
        mc2_lnode_produced(n->left, &ls);
        evec c = {0}, keep = {0};
        if (split(w, n->pred, &c)) return NULL;
        mc2_lnode *right = n->right;
        for (size_t i = 0; i < c.n; i++) {
            if (n->jtype != MC2_JOIN_FULL && mc2_lexpr_within(c.v[i], &rs)) {
                if (!(right = mkfilter(w, right, c.v[i]))) return NULL;
            } else if (mc2_lexpr_conjuncts(w->lp, c.v[i], &keep.v, &keep.n, &keep.cap, w->err)) {
                return NULL;
            }
        }
        n->right = right;
        n->pred = keep.n ? and_all(w, keep.v, keep.n) : NULL;
        if (keep.n && !n->pred) return NULL;
        if (!(n->left = opt(w, n->left)) || !(n->right = opt(w, n->right))) return NULL;
        if (mc2_lnode_passcols(w->lp, n, w->err)) return NULL;
    } else {
        if (n->left && !(n->left = opt(w, n->left))) return NULL;
        if (n->right && !(n->right = opt(w, n->right))) return NULL;
        if ((n->kind == MC2_LN_SORT || n->kind == MC2_LN_LIMIT || n->kind == MC2_LN_DISTINCT) &&
            mc2_lnode_passcols(w->lp, n, w->err))
            return NULL;
    }
    w->depth--;
    return r;
}

/* ---- projection push-down ---------------------------------------------------------------- */

static int prune(rw *w, mc2_lnode *n, mc2_idset *need)
{
    if (++w->depth > RW_MAX_DEPTH) return rerr(w, (mc2_sql_pos){0, 0, 0}, "query too complex");
    mc2_idset cn;
    if (idset(w, &cn)) return -1;
    switch (n->kind) {
    case MC2_LN_SCAN: {
        size_t k = 0;
        for (size_t i = 0; i < n->ncols; i++)
            if (mc2_idset_has(need, n->cols[i])) {
                n->cols[k] = n->cols[i];
                n->scan_cols[k++] = n->scan_cols[i];
            }
        if (k == 0 && n->ncols) k = 1; /* keep one column so rows can be counted */
        n->ncols = k;
        break;
    }
    case MC2_LN_ONEROW:
        break;
    case MC2_LN_PROJECT: {
        size_t k = 0;
        for (size_t i = 0; i < n->nexprs; i++)
            if (mc2_idset_has(need, n->cols[i]) || (i == n->nexprs - 1 && k == 0)) {
                n->cols[k] = n->cols[i];
                n->exprs[k++] = n->exprs[i];
            }
        n->nexprs = n->ncols = k;
        for (size_t i = 0; i < k; i++) mc2_lexpr_refs(n->exprs[i], &cn);
        if (prune(w, n->left, &cn)) return -1;
        break;
    }
    case MC2_LN_AGG: {
        size_t k = n->ngroups;
        for (size_t i = n->ngroups; i < n->nexprs; i++)
            if (mc2_idset_has(need, n->cols[i]) || (k == 0 && i == n->nexprs - 1)) {
                n->cols[k] = n->cols[i];
                n->exprs[k++] = n->exprs[i];
            }
        n->nexprs = n->ncols = k;
        for (size_t i = 0; i < k; i++) mc2_lexpr_refs(n->exprs[i], &cn);
        if (prune(w, n->left, &cn)) return -1;
        break;
    }
    case MC2_LN_DISTINCT:
    case MC2_LN_SETOP:
        for (size_t i = 0; i < n->left->ncols; i++) mc2_idset_add(&cn, n->left->cols[i]);
        if (prune(w, n->left, &cn)) return -1;
        if (n->right) {
            mc2_idset rn;
            if (idset(w, &rn)) return -1;
            for (size_t i = 0; i < n->right->ncols; i++) mc2_idset_add(&rn, n->right->cols[i]);
            if (prune(w, n->right, &rn)) return -1;
        }
        if (n->kind == MC2_LN_DISTINCT) return mc2_lnode_passcols(w->lp, n, w->err);
        break;
    default: /* FILTER, SORT, LIMIT, JOIN */
        memcpy(cn.w, need->w, cn.nw * sizeof *cn.w);
        mc2_lexpr_refs(n->pred, &cn);
        for (size_t i = 0; i < n->nkeys; i++) mc2_lexpr_refs(n->keys[i].expr, &cn);
        if (prune(w, n->left, &cn)) return -1;
        if (n->right && prune(w, n->right, &cn)) return -1;
        if (mc2_lnode_passcols(w->lp, n, w->err)) return -1;
        break;
    }
    w->depth--;
    return 0;
}

int mc2_lplan_rewrite(mc2_lplan *lp, mc2_err *err)
{
    rw w = {lp, err, 0, 0};
    mc2_lnode *root = decor(&w, lp->root);
    if (!root) return -1;
    mc2_idset fr;
    bool corr;
    if (free_ids(&w, root, &fr, &corr)) return -1;
    if (corr) return rerr(&w, (mc2_sql_pos){0, 0, 0}, corr_msg);
    w.depth = 0;
    mc2_lplan_estimate(lp, root);
    if (!(root = opt(&w, root))) return -1;
    w.depth = 0;
    mc2_idset need;
    if (mc2_idset_init(lp, &need, err)) return -1;
    for (size_t i = 0; i < root->ncols; i++) mc2_idset_add(&need, root->cols[i]);
    if (prune(&w, root, &need)) return -1;
    mc2_lplan_estimate(lp, root);
    lp->root = root;
    return 0;
}
