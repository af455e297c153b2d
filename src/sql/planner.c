/* planner.c - physical planning: logical operators over column ids become plan.h operators
 * over column positions; EXPLAIN's tree is recorded alongside. */
#include "sql/planner.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sql/parser.h"

struct mc2_sql_xnode {
    char *label;
    const char *role; /* "probe", "build", ... as the parent uses this input; or NULL */
    double rows;
    mc2_sql_xnode *kid[2];
};

typedef struct pl {
    mc2_lplan *lp;
    mc2_plan *p;
    mc2_err *err;
    const mc2_sql_table *tables;
    size_t ntables;
    unsigned depth;
    struct pfilt *pf; /* aggregate prefilters planned by the joins being lowered */
    unsigned nopf;    /* > 0: lowering a prefilter's small side (plan no prefilter there) */
} pl;

/* An aggregate whose input is lowered as `semi` (SEMI JOIN of its input with a join's small
 * side) instead of its own input. */
typedef struct pfilt {
    const mc2_lnode *agg;
    mc2_lnode *semi;
    struct pfilt *next;
} pfilt;

/* A lowered operator: the physical node, the logical id of each output position (0 for a
 * helper column), and its EXPLAIN node. */
typedef struct low {
    mc2_pnode *pn;
    uint32_t *ids;
    size_t n;
    mc2_sql_xnode *x;
} low;

/* A row the expressions of an operator see: ids with their column definitions. */
typedef struct rowv {
    const uint32_t *ids;
    const mc2_column_def *defs;
    size_t n;
} rowv;

static int perr_builder(pl *c)
{
    const mc2_err *e = mc2_plan_error(c->p);
    if (e) {
        *c->err = *e;
        return -1;
    }
    return mc2_err_set(c->err, MC2_E_INTERNAL, "planner: a plan builder failed");
}

static void *palloc(pl *c, size_t n)
{
    return mc2_arena_alloc(c->lp->arena, n, c->err);
}

/* ---- EXPLAIN nodes ----------------------------------------------------------------------- */

static mc2_sql_xnode *xnew(pl *c, mc2_buf *label, double rows, mc2_sql_xnode *a, mc2_sql_xnode *b)
{
    mc2_sql_xnode *x = palloc(c, sizeof *x);
    if (!x) return NULL;
    x->label = mc2_arena_strndup(c->lp->arena, label->data ? (const char *)label->data : "",
                                 label->len, c->err);
    if (!x->label) return NULL;
    x->rows = rows;
    x->kid[0] = a;
    x->kid[1] = b;
    return x;
}

static int put_expr(pl *c, mc2_buf *b, const mc2_lexpr *e)
{
    return mc2_lexpr_print(c->lp, e, b, c->err);
}

static int put_colname(pl *c, mc2_buf *b, uint32_t id)
{
    const mc2_lcolinfo *ci = &c->lp->cols[id];
    if (ci->qual) return mc2_buf_printf(b, c->err, "%s.%s", ci->qual, ci->name);
    return mc2_buf_puts(b, ci->name, c->err);
}

/* ---- expressions ------------------------------------------------------------------------- */

static long find_id(const rowv *r, uint32_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ids[i] == id) return (long)i;
    return -1;
}

static mc2_pexpr *lower_expr(pl *c, const mc2_lexpr *e, const rowv *r)
{
    mc2_plan *p = c->p;
    mc2_pexpr *av[16];
    mc2_pexpr **a = av;
    if (e->nargs > 16 && !(a = palloc(c, e->nargs * sizeof *a))) return NULL;
    if (e->kind != MC2_LX_COL && e->kind != MC2_LX_CONST)
        for (unsigned i = 0; i < e->nargs; i++)
            if (!(a[i] = lower_expr(c, e->args[i], r))) return NULL;
    switch (e->kind) {
    case MC2_LX_COL: {
        long i = find_id(r, e->col);
        if (i < 0) {
            mc2_err_set(c->err, MC2_E_INTERNAL, "planner: column '%s' (#%u) is not available here",
                        c->lp->cols[e->col].name, e->col);
            return NULL;
        }
        return mc2_px_col(p, (unsigned)i, r->defs[i].type, r->defs[i].nullable);
    }
    case MC2_LX_CONST:
        if (e->val.null) return mc2_px_null(p, e->type);
        switch (e->type.id) {
        case MC2_T_INT64:
            return mc2_px_int(p, e->val.i);
        case MC2_T_DOUBLE:
            return mc2_px_double(p, e->val.f);
        case MC2_T_DECIMAL:
            return mc2_px_decimal(p, e->val.i, e->type.precision ? e->type.precision : 18,
                                  e->type.scale);
        case MC2_T_DEC128: /* literals have at most 18 digits: none is wide */
            break;
        case MC2_T_DATE:
            return mc2_px_date(p, (int32_t)e->val.i);
        case MC2_T_BOOL:
            return mc2_px_bool(p, e->val.i != 0);
        case MC2_T_VARCHAR:
            return mc2_px_str(p, e->val.s, e->val.slen);
        }
        break;
    case MC2_LX_ARITH:
        return mc2_px_arith(p, (enum mc2_px_arith)e->op, a[0], e->op == MC2_PX_NEG ? NULL : a[1]);
    case MC2_LX_CMP:
        return mc2_px_cmp(p, (enum mc2_px_cmp)e->op, a[0], a[1]);
    case MC2_LX_AND:
        return mc2_px_and(p, a, e->nargs);
    case MC2_LX_OR:
        return mc2_px_or(p, a, e->nargs);
    case MC2_LX_NOT:
        return mc2_px_not(p, a[0]);
    case MC2_LX_IS_NULL:
        return mc2_px_is_null(p, a[0], e->negated);
    case MC2_LX_IN:
        return mc2_px_in(p, a[0], a + 1, e->nargs - 1, e->negated);
    case MC2_LX_LIKE:
        return mc2_px_like(p, a[0], e->val.s, e->val.slen, e->escape, e->negated);
    case MC2_LX_CASE: {
        unsigned n = (e->nargs - 1) / 2;
        mc2_pexpr **wh = palloc(c, (n + 1) * sizeof *wh), **th = palloc(c, (n + 1) * sizeof *th);
        if (!wh || !th) return NULL;
        for (unsigned i = 0; i < n; i++) {
            wh[i] = a[2 * i];
            th[i] = a[2 * i + 1];
        }
        return mc2_px_case(p, wh, th, n, a[e->nargs - 1]);
    }
    case MC2_LX_CAST:
        return mc2_px_cast(p, a[0], e->type);
    case MC2_LX_FUNC:
        switch (e->op) {
        case MC2_PF_TRIM:
            return mc2_px_trim(p, a[0], (enum mc2_px_trim)e->aux, e->val.s, e->val.slen);
        case MC2_PF_EXTRACT:
            return mc2_px_extract(p, (enum mc2_px_unit)e->aux, a[0]);
        case MC2_PF_DATE_ADD:
            return mc2_px_date_add(p, a[0], e->aux, (enum mc2_px_unit)e->aux2);
        case MC2_PF_ROUND:
            return mc2_px_round(p, a[0], (unsigned)e->aux);
        default:
            return mc2_px_func(p, (enum mc2_px_func)e->op, a, e->nargs);
        }
    default:
        break;
    }
    mc2_err_set(c->err, MC2_E_INTERNAL, "planner: expression kind %d left after rewriting",
                (int)e->kind);
    return NULL;
}

/* Lowered expression or -1 with *err set (builder errors copied). */
static mc2_pexpr *lx(pl *c, const mc2_lexpr *e, const rowv *r)
{
    mc2_err_clear(c->err);
    mc2_pexpr *x = lower_expr(c, e, r);
    if (!x) {
        if (c->err->code == MC2_OK) perr_builder(c);
        return NULL;
    }
    return x;
}

static rowv rowof(const low *l)
{
    rowv r = {l->ids, mc2_pn_schema(l->pn)->cols, l->n};
    return r;
}

static int rowcat(pl *c, const low *a, const low *b, rowv *out)
{
    uint32_t *ids = palloc(c, (a->n + b->n + 1) * sizeof *ids);
    mc2_column_def *d = palloc(c, (a->n + b->n + 1) * sizeof *d);
    if (!ids || !d) return -1;
    memcpy(ids, a->ids, a->n * sizeof *ids);
    memcpy(ids + a->n, b->ids, b->n * sizeof *ids);
    memcpy(d, mc2_pn_schema(a->pn)->cols, a->n * sizeof *d);
    memcpy(d + a->n, mc2_pn_schema(b->pn)->cols, b->n * sizeof *d);
    out->ids = ids;
    out->defs = d;
    out->n = a->n + b->n;
    return 0;
}

/* ---- operators --------------------------------------------------------------------------- */

static int lower(pl *c, const mc2_lnode *n, low *out);

static int done(pl *c, low *out, mc2_pnode *pn, const uint32_t *ids, size_t nids, mc2_buf *label,
                double rows, mc2_sql_xnode *k0, mc2_sql_xnode *k1)
{
    if (!pn) {
        mc2_buf_free(label);
        return perr_builder(c);
    }
    out->pn = pn;
    out->n = nids;
    out->ids = palloc(c, (nids + 1) * sizeof *out->ids);
    if (!out->ids) {
        mc2_buf_free(label);
        return -1;
    }
    if (nids) memcpy(out->ids, ids, nids * sizeof *ids);
    out->x = xnew(c, label, rows, k0, k1);
    mc2_buf_free(label);
    return out->x ? 0 : -1;
}

/* A PROJECT over l keeping its columns and appending exprs (ids 0). */
static int extend(pl *c, low *l, mc2_pexpr *const *extra, size_t nextra, double rows,
                  const char *what)
{
    size_t n = l->n + nextra;
    mc2_pexpr **ex = palloc(c, (n + 1) * sizeof *ex);
    uint32_t *ids = palloc(c, (n + 1) * sizeof *ids);
    const char **names = palloc(c, (n + 1) * sizeof *names);
    if (!ex || !ids || !names) return -1;
    const mc2_schema *s = mc2_pn_schema(l->pn);
    for (size_t i = 0; i < l->n; i++) {
        if (!(ex[i] = mc2_px_col(c->p, (unsigned)i, s->cols[i].type, s->cols[i].nullable)))
            return perr_builder(c);
        ids[i] = l->ids[i];
        names[i] = s->cols[i].name;
    }
    for (size_t i = 0; i < nextra; i++) {
        ex[l->n + i] = extra[i];
        ids[l->n + i] = 0;
        names[l->n + i] = NULL;
    }
    mc2_buf lb = {0};
    if (mc2_buf_printf(&lb, c->err, "PROJECT (%s)", what)) return -1;
    mc2_sql_xnode *kid = l->x;
    return done(c, l, mc2_pn_project(c->p, l->pn, ex, n, names), ids, n, &lb, rows, kid, NULL);
}

static bool is_numt(enum mc2_type t)
{
    return t == MC2_T_INT64 || mc2_type_is_decimal(t) || t == MC2_T_DOUBLE;
}

static const char *jtname(enum mc2_join_type t)
{
    switch (t) {
    case MC2_JOIN_INNER:
        return "INNER";
    case MC2_JOIN_LEFT:
        return "LEFT";
    case MC2_JOIN_RIGHT:
        return "RIGHT";
    case MC2_JOIN_FULL:
        return "FULL";
    case MC2_JOIN_SEMI:
        return "SEMI";
    case MC2_JOIN_ANTI:
        return "ANTI";
    }
    return "?";
}

/* Which sides of join n are known to be unique on their equi-join keys lk / rk (bit 1: left,
 * bit 2: right), from declared keys, GROUP BY and DISTINCT. Only keys that are plain columns
 * count. */
static int unique_sides(pl *c, const mc2_lnode *n, const mc2_lexpr *const *lk,
                        const mc2_lexpr *const *rk, size_t nk)
{
    uint32_t *li = palloc(c, (nk + 1) * sizeof *li), *ri = palloc(c, (nk + 1) * sizeof *ri);
    if (!li || !ri) return 0;
    bool lcols = true, rcols = true;
    for (size_t i = 0; i < nk; i++) {
        lcols &= lk[i]->kind == MC2_LX_COL;
        rcols &= rk[i]->kind == MC2_LX_COL;
        li[i] = lk[i]->col;
        ri[i] = rk[i]->col;
    }
    return (lcols && mc2_lnode_unique_on(c->lp, n->left, li, nk) ? 1 : 0) |
           (rcols && mc2_lnode_unique_on(c->lp, n->right, ri, nk) ? 2 : 0);
}

/* ---- aggregate prefilter (docs/sql-exec.md, "Aggregate prefilter") ----------------------- */

/* An inner or semi join's small side filters a grouped aggregate on the other side when it is
 * estimated to have at most 1/PREFILTER_RATIO of the aggregate's input rows and fewer rows
 * than the aggregate has groups, and computing it again reads at most 1/PREFILTER_RATIO of
 * the rows computing the aggregate's input reads (in_work). */
#define PREFILTER_RATIO 8.0

/* The rows the scans of n's subtree read (what lowering it a second time costs). */
static double scanned_rows(const mc2_lnode *n)
{
    double s = 0;
    for (; n; n = n->left) {
        if (n->kind == MC2_LN_SCAN) s += n->rows;
        s += scanned_rows(n->right);
    }
    return s;
}

static bool same_keytype(const mc2_coltype *a, const mc2_coltype *b)
{
    return a->id == b->id && a->id != MC2_T_DOUBLE &&
           (!mc2_type_is_decimal(a->id) || a->scale == b->scale);
}

static bool has_col(const mc2_lnode *n, uint32_t id)
{
    for (size_t i = 0; i < n->ncols; i++)
        if (n->cols[i] == id) return true;
    return false;
}

/* What computing n costs, for comparing with a prefilter's small side: the rows its scans
 * read, or its own rows if more. */
static double in_work(const mc2_lnode *n)
{
    double s = scanned_rows(n);
    return s > n->rows ? s : n->rows;
}

/* If column id of n's output is, through PROJECTs (as a plain column), FILTERs and joins, a
 * GROUP BY key of an aggregate that is a plain column of the aggregate's input: that
 * aggregate, with the input column in *in. Else NULL. A join is passed through into the left
 * side of a semi or anti join (its rows are some of that side's), into either side of an
 * inner join, and across an equality of an inner join's condition (`id = y`: every row it
 * outputs has y equal to id, so y's source can be filtered by id's partner instead: TPC-H
 * Q20's aggregate joins partsupp on the part key, which a semi join above restricts). */
static const mc2_lnode *group_key_source(const mc2_lnode *n, uint32_t id, uint32_t *in,
                                         unsigned depth)
{
    for (;;) {
        if (n->kind == MC2_LN_FILTER) {
            n = n->left;
            continue;
        }
        if (n->kind == MC2_LN_PROJECT) {
            size_t i = 0;
            while (i < n->ncols && n->cols[i] != id) i++;
            if (i == n->ncols || i >= n->nexprs || n->exprs[i]->kind != MC2_LX_COL) return NULL;
            id = n->exprs[i]->col;
            n = n->left;
            continue;
        }
        if (n->kind == MC2_LN_JOIN && (n->jtype == MC2_JOIN_SEMI || n->jtype == MC2_JOIN_ANTI) &&
            !n->prefilter) {
            n = n->left;
            continue;
        }
        if (n->kind == MC2_LN_JOIN && n->jtype == MC2_JOIN_INNER) {
            if (depth >= 16) return NULL; /* plenty for real plans; bounds the search */
            const mc2_lnode *side = has_col(n->left, id) ? n->left : n->right, *g;
            if (has_col(side, id) && (g = group_key_source(side, id, in, depth + 1))) return g;
            mc2_lexpr *const *cj = n->pred ? &n->pred : NULL;
            size_t ncj = n->pred ? 1 : 0;
            if (n->pred && n->pred->kind == MC2_LX_AND) {
                cj = n->pred->args;
                ncj = n->pred->nargs;
            }
            for (size_t c = 0; c < ncj; c++) {
                const mc2_lexpr *e = cj[c];
                /* the same type on both sides: an equality through a conversion (DOUBLE)
                 * could hold for two values that differ as the key's own type */
                if (e->kind != MC2_LX_CMP || e->op != MC2_PX_EQ || e->args[0]->kind != MC2_LX_COL ||
                    e->args[1]->kind != MC2_LX_COL ||
                    !same_keytype(&e->args[0]->type, &e->args[1]->type))
                    continue;
                for (int k = 0; k < 2; k++) {
                    uint32_t y = e->args[1 - k]->col;
                    if (e->args[k]->col != id || y == id) continue;
                    side = has_col(n->left, y) ? n->left : n->right;
                    if (has_col(side, y) && (g = group_key_source(side, y, in, depth + 1)))
                        return g;
                }
            }
            return NULL;
        }
        if (n->kind != MC2_LN_AGG) return NULL;
        for (size_t g = 0; g < n->ngroups; g++)
            if (n->cols[g] == id && n->exprs[g]->kind == MC2_LX_COL) {
                *in = n->exprs[g]->col;
                return n;
            }
        return NULL;
    }
}

/* Plans the prefilter of join n's side `a` (a grouped aggregate, possibly under PROJECTs and
 * FILTERs) by its other side b: every equality of n's condition between a GROUP BY key of that
 * aggregate that is a plain input column (of the same key type as the other operand) and an
 * expression over b becomes a condition of SEMI JOIN (aggregate's input, b). Sets f->agg NULL
 * when nothing qualifies. */
static int plan_prefilter_side(pl *c, const mc2_lnode *n, const mc2_lnode *a, const mc2_lnode *b,
                               pfilt *f)
{
    f->agg = NULL;
    mc2_idset as, bs;
    if (mc2_idset_init(c->lp, &as, c->err) || mc2_idset_init(c->lp, &bs, c->err)) return -1;
    for (size_t i = 0; i < a->ncols; i++) mc2_idset_add(&as, a->cols[i]);
    for (size_t i = 0; i < b->ncols; i++) mc2_idset_add(&bs, b->cols[i]);
    mc2_lexpr **conj = NULL;
    size_t nconj = 0, capc = 0;
    if (mc2_lexpr_conjuncts(c->lp, n->pred, &conj, &nconj, &capc, c->err)) return -1;
    const mc2_lnode *agg = NULL;
    mc2_lexpr *cond = NULL;
    for (size_t i = 0; i < nconj; i++) {
        const mc2_lexpr *e = conj[i];
        if (e->kind != MC2_LX_CMP || e->op != MC2_PX_EQ) continue;
        for (int s = 0; s < 2; s++) {
            const mc2_lexpr *x = e->args[s], *y = e->args[1 - s];
            uint32_t in;
            const mc2_lnode *g;
            if (x->kind != MC2_LX_COL || !mc2_idset_has(&as, x->col) || !mc2_lexpr_within(y, &bs) ||
                mc2_lexpr_has_subquery(y) || !(g = group_key_source(a, x->col, &in, 0)) ||
                (agg && g != agg) || !same_keytype(&c->lp->cols[in].type, &y->type))
                continue;
            if (!agg && (b->rows * PREFILTER_RATIO > g->left->rows || b->rows >= g->rows ||
                         scanned_rows(b) * PREFILTER_RATIO > in_work(g->left)))
                continue;
            agg = g;
            mc2_lexpr *k = mc2_lexpr_col(c->lp, in, c->err);
            mc2_lexpr *eq = k ? mc2_lexpr_eq(c->lp, k, (mc2_lexpr *)y, e->pos, c->err) : NULL;
            if (!eq) return -1;
            eq->nullable = true;
            if (!(cond = mc2_lexpr_and(c->lp, cond, eq, c->err))) return -1;
            break;
        }
    }
    if (!agg) return 0;
    mc2_lnode *j = mc2_lnode_new(c->lp, MC2_LN_JOIN, c->err);
    if (!j) return -1;
    j->jtype = MC2_JOIN_SEMI;
    j->prefilter = true;
    j->left = agg->left;
    j->right = (mc2_lnode *)b;
    j->pred = cond;
    if (mc2_lnode_passcols(c->lp, j, c->err)) return -1;
    double in = agg->left->rows;
    j->rows = in * mc2_est_semi(c->lp, agg->left, in, 0, b, b->rows, cond, false);
    f->agg = agg;
    f->semi = j;
    return 0;
}

/* Plans an aggregate prefilter for join n (docs/sql-exec.md, "Aggregate prefilter"): only
 * INNER and SEMI joins (an outer or anti join keeps its unmatched rows), a side whose
 * equi-join key is a GROUP BY key of an aggregate below, the other side estimated small.
 * Sets f->agg NULL when none applies. */
static int plan_prefilter(pl *c, const mc2_lnode *n, pfilt *f)
{
    f->agg = NULL;
    if (c->nopf || n->prefilter || !n->pred || n->null_aware ||
        (n->jtype != MC2_JOIN_INNER && n->jtype != MC2_JOIN_SEMI))
        return 0;
    if (plan_prefilter_side(c, n, n->left, n->right, f)) return -1;
    if (!f->agg && plan_prefilter_side(c, n, n->right, n->left, f)) return -1;
    return 0;
}

/* A semi or anti join builds its outer side when the subquery side is estimated more than
 * this many times larger. */
#define BUILD_OUTER_MARGIN 2.0

static int lower_join(pl *c, const mc2_lnode *n, low *out)
{
    low l, r;
    pfilt f;
    if (plan_prefilter(c, n, &f)) return -1;
    if (f.agg) {
        f.next = c->pf;
        c->pf = &f;
    }
    int lrc = lower(c, n->left, &l);
    if (lrc == 0) {
        c->nopf += n->prefilter; /* a prefilter's small side: lowered a second time */
        lrc = lower(c, n->right, &r);
        c->nopf -= n->prefilter;
    }
    if (f.agg) c->pf = f.next;
    if (lrc) return -1;
    mc2_idset ls, rs;
    if (mc2_idset_init(c->lp, &ls, c->err) || mc2_idset_init(c->lp, &rs, c->err)) return -1;
    for (size_t i = 0; i < l.n; i++) mc2_idset_add(&ls, l.ids[i]);
    for (size_t i = 0; i < r.n; i++) mc2_idset_add(&rs, r.ids[i]);
    /* equalities between the sides become hash keys, the rest the residual */
    mc2_lexpr **conj = NULL;
    size_t nconj = 0, capc = 0;
    if (mc2_lexpr_conjuncts(c->lp, n->pred, &conj, &nconj, &capc, c->err)) return -1;
    const mc2_lexpr **lk = palloc(c, (nconj + 1) * sizeof *lk);
    const mc2_lexpr **rk = palloc(c, (nconj + 1) * sizeof *rk);
    const mc2_lexpr **res = palloc(c, (nconj + 1) * sizeof *res);
    if (!lk || !rk || !res) return -1;
    size_t nk = 0, nres = 0;
    rowv lrow = rowof(&l), rrow = rowof(&r);
    for (size_t i = 0; i < nconj; i++) {
        const mc2_lexpr *e = conj[i];
        if (e->kind == MC2_LX_CMP && e->op == MC2_PX_EQ) {
            const mc2_lexpr *x = e->args[0], *y = e->args[1];
            if (mc2_lexpr_within(y, &ls) && mc2_lexpr_within(x, &rs)) {
                const mc2_lexpr *t = x;
                x = y;
                y = t;
            }
            if (mc2_lexpr_within(x, &ls) && mc2_lexpr_within(y, &rs) &&
                x->type.id != MC2_T_DOUBLE && y->type.id != MC2_T_DOUBLE) {
                lk[nk] = x;
                rk[nk++] = y;
                continue;
            }
        }
        res[nres++] = e;
    }
    if (n->null_aware && (nk != 1 || nres)) {
        return mc2_err_set(c->err, MC2_E_INPUT,
                           "not supported: NOT IN (subquery) with a condition other than one "
                           "equality");
    }
    enum mc2_join_type jt = n->jtype;
    double lrows = n->left->rows, rrows = n->right->rows;
    mc2_buf lb = {0};
    if (nk == 0) {
        /* nested loop: the right side is held in memory; keep the smaller one there */
        bool swap = (jt == MC2_JOIN_INNER && lrows < rrows);
        low *L = swap ? &r : &l, *R = swap ? &l : &r;
        mc2_pexpr *cond = NULL;
        if (n->pred) {
            rowv cat;
            if (rowcat(c, L, R, &cat) || !(cond = lx(c, n->pred, &cat))) return -1;
        }
        if (mc2_buf_printf(&lb, c->err, "NESTED LOOP JOIN %s", jtname(jt)) ||
            (n->pred && (mc2_buf_puts(&lb, " ON ", c->err) || put_expr(c, &lb, n->pred))) ||
            (!n->pred && mc2_buf_puts(&lb, " (every pair)", c->err)))
            return -1;
        bool semi = jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI;
        uint32_t *ids = palloc(c, (L->n + R->n + 1) * sizeof *ids);
        if (!ids) return -1;
        memcpy(ids, L->ids, L->n * sizeof *ids);
        memcpy(ids + L->n, R->ids, R->n * sizeof *ids);
        L->x->role = "outer";
        R->x->role = "inner (in memory)";
        return done(c, out, mc2_pn_nl_join(c->p, jt, L->pn, R->pn, cond), ids,
                    semi ? L->n : L->n + R->n, &lb, n->rows, L->x, R->x);
    }
    /* key expressions: common types, computed in a PROJECT below when not plain columns */
    mc2_pexpr **lx_ = palloc(c, nk * sizeof *lx_), **rx_ = palloc(c, nk * sizeof *rx_);
    unsigned *lkeys = palloc(c, nk * sizeof *lkeys), *rkeys = palloc(c, nk * sizeof *rkeys);
    if (!lx_ || !rx_ || !lkeys || !rkeys) return -1;
    size_t nlx = 0, nrx = 0;
    mc2_pexpr **lextra = palloc(c, nk * sizeof *lextra), **rextra = palloc(c, nk * sizeof *rextra);
    if (!lextra || !rextra) return -1;
    for (size_t i = 0; i < nk; i++) {
        mc2_pexpr *a = lx(c, lk[i], &lrow), *b = a ? lx(c, rk[i], &rrow) : NULL;
        if (!b) return -1;
        mc2_coltype ta = a->type, tb = b->type;
        bool same = ta.id == tb.id && (!mc2_type_is_decimal(ta.id) || ta.scale == tb.scale);
        if (!same) {
            if (!is_numt(ta.id) || !is_numt(tb.id)) {
                char b1[40], b2[40];
                mc2_type_format(&ta, b1, sizeof b1);
                mc2_type_format(&tb, b2, sizeof b2);
                return mc2_err_set(c->err, MC2_E_INPUT, "type mismatch: cannot join %s with %s", b1,
                                   b2);
            }
            unsigned sa = mc2_type_is_decimal(ta.id) ? ta.scale : 0;
            unsigned sb = mc2_type_is_decimal(tb.id) ? tb.scale : 0;
            bool wide = ta.id == MC2_T_DEC128 || tb.id == MC2_T_DEC128;
            mc2_coltype t = {wide ? MC2_T_DEC128 : MC2_T_DECIMAL, wide ? 38 : 18,
                             (uint8_t)(sa > sb ? sa : sb), 0};
            if (!(ta.id == t.id && ta.scale == t.scale) && !(a = mc2_px_cast(c->p, a, t)))
                return perr_builder(c);
            if (!(tb.id == t.id && tb.scale == t.scale) && !(b = mc2_px_cast(c->p, b, t)))
                return perr_builder(c);
        }
        if (a->kind == MC2_PX_COL)
            lkeys[i] = a->col;
        else {
            lkeys[i] = (unsigned)(l.n + nlx);
            lextra[nlx++] = a;
        }
        if (b->kind == MC2_PX_COL)
            rkeys[i] = b->col;
        else {
            rkeys[i] = (unsigned)(r.n + nrx);
            rextra[nrx++] = b;
        }
    }
    if (nlx && extend(c, &l, lextra, nlx, n->left->rows, "join keys")) return -1;
    if (nrx && extend(c, &r, rextra, nrx, n->right->rows, "join keys")) return -1;
    /* build side: the right child of the hash join; choose the smaller side (a LEFT join's
     * preserved side on a tie: its estimate is usually an input's size, the other side's
     * often an upper bound, such as a grouped subquery's) */
    bool swap = false;
    if (jt == MC2_JOIN_INNER && lrows < rrows) swap = true;
    if (jt == MC2_JOIN_LEFT && lrows <= rrows) {
        swap = true;
        jt = MC2_JOIN_RIGHT;
    }
    low *L = swap ? &r : &l, *R = swap ? &l : &r;
    unsigned *LK = swap ? rkeys : lkeys, *RK = swap ? lkeys : rkeys;
    mc2_pexpr *resid = NULL;
    if (nres) {
        rowv cat;
        if (rowcat(c, L, R, &cat)) return -1;
        mc2_pexpr **rv = palloc(c, nres * sizeof *rv);
        if (!rv) return -1;
        for (size_t i = 0; i < nres; i++)
            if (!(rv[i] = lx(c, res[i], &cat))) return -1;
        resid = nres == 1 ? rv[0] : mc2_px_and(c->p, rv, (unsigned)nres);
        if (!resid) return perr_builder(c);
    }
    if (mc2_buf_printf(&lb, c->err, "HASH JOIN %s%s ON ", jtname(jt),
                       n->null_aware ? " (null-aware: NOT IN)" : ""))
        return -1;
    for (size_t i = 0; i < nk; i++)
        if ((i && mc2_buf_puts(&lb, " AND ", c->err)) || put_expr(c, &lb, lk[i]) ||
            mc2_buf_puts(&lb, " = ", c->err) || put_expr(c, &lb, rk[i]))
            return -1;
    for (size_t i = 0; i < nres; i++)
        if (mc2_buf_puts(&lb, i ? " AND " : " [residual: ", c->err) || put_expr(c, &lb, res[i]) ||
            (i + 1 == nres && mc2_buf_puts(&lb, "]", c->err)))
            return -1;
    /* a semi or anti join whose outer side is estimated much smaller than its subquery side
     * builds the outer side, which the subquery's rows then mark (mc2_pn_join_set_build_outer) */
    bool outer = (jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI) && BUILD_OUTER_MARGIN * lrows < rrows;
    if (outer && mc2_buf_puts(&lb, " [build: outer]", c->err)) return -1;
    /* a side unique on its keys lets oblivious mode run the PK-FK join (the probe side
     * preferred: its output needs no reordering); 1: probe, 2: build */
    int us = jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI ? 0 : unique_sides(c, n, lk, rk, nk);
    if (swap) us = (us & 1) << 1 | (us & 2) >> 1;
    int uside = us & 1 ? 1 : us & 2 ? 2 : 0;
    if (uside && mc2_buf_puts(&lb, uside == 1 ? " [unique: probe]" : " [unique: build]", c->err))
        return -1;
    if (n->prefilter && mc2_buf_puts(&lb, " [prefilter: encryption mode only]", c->err)) return -1;
    L->x->role = outer ? "build" : "probe";
    R->x->role = outer ? "probe" : "build";
    bool semi = jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI;
    uint32_t *ids = palloc(c, (L->n + R->n + 1) * sizeof *ids);
    if (!ids) return -1;
    memcpy(ids, L->ids, L->n * sizeof *ids);
    memcpy(ids + L->n, R->ids, R->n * sizeof *ids);
    mc2_pnode *pn = mc2_pn_hash_join(c->p, jt, L->pn, R->pn, LK, RK, nk, resid, n->null_aware);
    mc2_pn_join_set_unique(pn, uside);
    mc2_pn_join_set_build_outer(pn, outer);
    mc2_pn_join_set_prefilter(pn, n->prefilter);
    return done(c, out, pn, ids, semi ? L->n : L->n + R->n, &lb, n->rows, L->x, R->x);
}

static int lower_agg(pl *c, const mc2_lnode *n, low *out)
{
    low ch;
    const mc2_lnode *src = n->left;
    for (const pfilt *f = c->pf; f; f = f->next)
        if (f->agg == n) {
            src = f->semi; /* the input, semi-joined with a join's small side above */
            break;
        }
    if (lower(c, src, &ch)) return -1;
    rowv row = rowof(&ch);
    size_t ng = n->ngroups, na = n->nexprs - ng;
    /* keys and aggregate arguments as columns of a PROJECT */
    mc2_pexpr **ex = palloc(c, (n->nexprs + 1) * sizeof *ex);
    const char **names = palloc(c, (n->nexprs + 1) * sizeof *names);
    unsigned *keys = palloc(c, (ng + 1) * sizeof *keys);
    mc2_pagg *aggs = palloc(c, (na + 1) * sizeof *aggs);
    if (!ex || !names || !keys || !aggs) return -1;
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        if (!(ex[k] = lx(c, n->exprs[i], &row))) return -1;
        names[k] = c->lp->cols[n->cols[i]].name;
        keys[i] = (unsigned)k++;
    }
    for (size_t j = 0; j < na; j++) {
        const mc2_lexpr *a = n->exprs[ng + j];
        aggs[j].fn = (enum mc2_agg_fn)a->op;
        aggs[j].distinct = a->distinct;
        aggs[j].name = c->lp->cols[n->cols[ng + j]].name;
        aggs[j].col = 0;
        if (a->op == MC2_AGG_COUNT_STAR) continue;
        if (!(ex[k] = lx(c, a->args[0], &row))) return -1;
        names[k] = NULL;
        aggs[j].col = (unsigned)k++;
    }
    mc2_buf lb = {0};
    mc2_pnode *in = ch.pn;
    if (k) {
        if (mc2_buf_puts(&lb, "PROJECT (grouping keys and aggregate arguments)", c->err)) return -1;
        in = mc2_pn_project(c->p, ch.pn, ex, k, names);
        if (!in) return perr_builder(c);
        mc2_sql_xnode *px = xnew(c, &lb, src->rows, ch.x, NULL);
        mc2_buf_free(&lb);
        if (!px) return -1;
        ch.x = px;
    }
    mc2_pagg one = {MC2_AGG_COUNT_STAR, 0, false, "count"};
    if (mc2_buf_puts(&lb, "HASH AGGREGATE", c->err)) return -1;
    if (ng) {
        if (mc2_buf_puts(&lb, " BY ", c->err)) return -1;
        for (size_t i = 0; i < ng; i++)
            if ((i && mc2_buf_puts(&lb, ", ", c->err)) || put_expr(c, &lb, n->exprs[i])) return -1;
    }
    for (size_t j = 0; j < na; j++)
        if (mc2_buf_puts(&lb, j ? ", " : (ng ? " COMPUTING " : " "), c->err) ||
            put_expr(c, &lb, n->exprs[ng + j]))
            return -1;
    mc2_pnode *pn = na || ng ? mc2_pn_agg(c->p, in, keys, ng, aggs, na)
                             : mc2_pn_agg(c->p, in, keys, 0, &one, 1);
    return done(c, out, pn, n->cols, na || ng ? n->ncols : 1, &lb, n->rows, ch.x, NULL);
}

/* Makes l produce exactly the ids want[0..n) in order (a PROJECT if needed). */
static int exact(pl *c, low *l, const uint32_t *want, size_t n, double rows, bool force)
{
    bool same = !force && l->n == n;
    for (size_t i = 0; same && i < n; i++) same = l->ids[i] == want[i];
    if (same) return 0;
    mc2_pexpr **ex = palloc(c, (n + 1) * sizeof *ex);
    const char **names = palloc(c, (n + 1) * sizeof *names);
    if (!ex || !names) return -1;
    rowv row = rowof(l);
    mc2_buf lb = {0};
    if (mc2_buf_puts(&lb, "PROJECT ", c->err)) return -1;
    for (size_t i = 0; i < n; i++) {
        long k = find_id(&row, want[i]);
        if (k < 0)
            return mc2_err_set(c->err, MC2_E_INTERNAL, "planner: output column #%u missing",
                               want[i]);
        if (!(ex[i] = mc2_px_col(c->p, (unsigned)k, row.defs[k].type, row.defs[k].nullable)))
            return perr_builder(c);
        names[i] = c->lp->cols[want[i]].name;
        if ((i && mc2_buf_puts(&lb, ", ", c->err)) || put_colname(c, &lb, want[i])) return -1;
    }
    mc2_sql_xnode *kid = l->x;
    return done(c, l, mc2_pn_project(c->p, l->pn, ex, n, names), want, n, &lb, rows, kid, NULL);
}

static int lower(pl *c, const mc2_lnode *n, low *out)
{
    if (++c->depth > 4096) return mc2_err_set(c->err, MC2_E_LIMIT, "query too complex to plan");
    mc2_buf lb = {0};
    low ch;
    int rc = -1;
    switch (n->kind) {
    case MC2_LN_SCAN: {
        const mc2_schema *s = c->tables[n->input].schema;
        if (mc2_buf_printf(&lb, c->err, "SCAN %s [", n->table)) return -1;
        for (size_t i = 0; i < n->ncols; i++)
            if (mc2_buf_printf(&lb, c->err, "%s%s", i ? ", " : "", s->cols[n->scan_cols[i]].name))
                return -1;
        if (mc2_buf_puts(&lb, "]", c->err)) return -1;
        rc = done(c, out, mc2_pn_scan(c->p, n->input, s, n->scan_cols, n->ncols), n->cols, n->ncols,
                  &lb, n->rows, NULL, NULL);
        break;
    }
    case MC2_LN_ONEROW: {
        mc2_pexpr *one = mc2_px_bool(c->p, true);
        const char *nm = "one";
        uint32_t zero = 0;
        if (!one) return perr_builder(c);
        if (mc2_buf_puts(&lb, "ONE ROW", c->err)) return -1;
        rc = done(c, out, mc2_pn_values(c->p, &one, 1, 1, &nm), &zero, 1, &lb, 1, NULL, NULL);
        break;
    }
    case MC2_LN_FILTER: {
        if (lower(c, n->left, &ch)) return -1;
        rowv row = rowof(&ch);
        mc2_pexpr *pr = lx(c, n->pred, &row);
        if (!pr || mc2_buf_puts(&lb, "FILTER ", c->err) || put_expr(c, &lb, n->pred)) return -1;
        rc = done(c, out, mc2_pn_filter(c->p, ch.pn, pr), ch.ids, ch.n, &lb, n->rows, ch.x, NULL);
        break;
    }
    case MC2_LN_PROJECT: {
        if (lower(c, n->left, &ch)) return -1;
        rowv row = rowof(&ch);
        mc2_pexpr **ex = palloc(c, (n->nexprs + 1) * sizeof *ex);
        const char **names = palloc(c, (n->nexprs + 1) * sizeof *names);
        if (!ex || !names || mc2_buf_puts(&lb, "PROJECT ", c->err)) return -1;
        for (size_t i = 0; i < n->nexprs; i++) {
            if (!(ex[i] = lx(c, n->exprs[i], &row))) return -1;
            names[i] = c->lp->cols[n->cols[i]].name;
            if ((i && mc2_buf_puts(&lb, ", ", c->err)) || put_expr(c, &lb, n->exprs[i])) return -1;
            const mc2_lexpr *e = n->exprs[i];
            if (!(e->kind == MC2_LX_COL && strcmp(c->lp->cols[e->col].name, names[i]) == 0) &&
                mc2_buf_printf(&lb, c->err, " AS %s", names[i]))
                return -1;
        }
        rc = done(c, out, mc2_pn_project(c->p, ch.pn, ex, n->nexprs, names), n->cols, n->ncols, &lb,
                  n->rows, ch.x, NULL);
        break;
    }
    case MC2_LN_JOIN:
        rc = lower_join(c, n, out);
        break;
    case MC2_LN_AGG:
        rc = lower_agg(c, n, out);
        break;
    case MC2_LN_DISTINCT:
        if (lower(c, n->left, &ch) || mc2_buf_puts(&lb, "DISTINCT (hash aggregate)", c->err))
            return -1;
        rc = done(c, out, mc2_pn_distinct(c->p, ch.pn), ch.ids, ch.n, &lb, n->rows, ch.x, NULL);
        break;
    case MC2_LN_SORT: {
        if (lower(c, n->left, &ch)) return -1;
        mc2_psort *keys = palloc(c, (n->nkeys + 1) * sizeof *keys);
        mc2_pexpr **extra = palloc(c, (n->nkeys + 1) * sizeof *extra);
        if (!keys || !extra || mc2_buf_puts(&lb, "SORT BY ", c->err)) return -1;
        size_t nextra = 0;
        rowv row = rowof(&ch);
        for (size_t i = 0; i < n->nkeys; i++) {
            const mc2_lexpr *e = n->keys[i].expr;
            long k = e->kind == MC2_LX_COL ? find_id(&row, e->col) : -1;
            if (k < 0) {
                if (!(extra[nextra] = lx(c, e, &row))) return -1;
                k = (long)(ch.n + nextra++);
            }
            keys[i].col = (unsigned)k;
            keys[i].desc = n->keys[i].desc;
            keys[i].nulls_first = n->keys[i].nulls_first;
            if ((i && mc2_buf_puts(&lb, ", ", c->err)) || put_expr(c, &lb, e) ||
                mc2_buf_puts(&lb, n->keys[i].desc ? " DESC" : "", c->err) ||
                mc2_buf_puts(&lb,
                             n->keys[i].nulls_first == n->keys[i].desc
                                 ? (n->keys[i].nulls_first ? " NULLS FIRST" : " NULLS LAST")
                                 : "",
                             c->err))
                return -1;
        }
        if (nextra && extend(c, &ch, extra, nextra, n->rows, "sort keys")) return -1;
        rc = done(c, out, mc2_pn_sort(c->p, ch.pn, keys, n->nkeys), ch.ids, ch.n, &lb, n->rows,
                  ch.x, NULL);
        break;
    }
    case MC2_LN_LIMIT:
        if (lower(c, n->left, &ch)) return -1;
        if (n->limit >= 0 && mc2_buf_printf(&lb, c->err, "LIMIT %lld", (long long)n->limit))
            return -1;
        if (n->offset && mc2_buf_printf(&lb, c->err, "%sOFFSET %lld", n->limit >= 0 ? " " : "",
                                        (long long)n->offset))
            return -1;
        rc = done(c, out, mc2_pn_limit(c->p, ch.pn, n->limit, n->offset), ch.ids, ch.n, &lb,
                  n->rows, ch.x, NULL);
        break;
    case MC2_LN_SETOP: {
        low r;
        if (lower(c, n->left, &ch) || lower(c, n->right, &r)) return -1;
        if (exact(c, &ch, n->left->cols, n->left->ncols, n->left->rows, false) ||
            exact(c, &r, n->right->cols, n->right->ncols, n->right->rows, false))
            return -1;
        const char *op = n->setop == MC2_SETOP_UNION       ? "UNION"
                         : n->setop == MC2_SETOP_INTERSECT ? "INTERSECT"
                                                           : "EXCEPT";
        if (mc2_buf_printf(&lb, c->err, "%s%s", op, n->all ? " ALL" : "")) return -1;
        rc = done(c, out, mc2_pn_setop(c->p, n->setop, n->all, ch.pn, r.pn), n->cols, n->ncols, &lb,
                  n->rows, ch.x, r.x);
        break;
    }
    }
    c->depth--;
    return rc;
}

int mc2_sql_plan_physical(mc2_lplan *lp, const mc2_sql_table *tables, size_t ntables, mc2_plan *p,
                          mc2_sql_physical *out, mc2_err *err)
{
    pl c = {lp, p, err, tables, ntables, 0, NULL, 0};
    low r;
    memset(out, 0, sizeof *out);
    if (lower(&c, lp->root, &r)) return -1;
    /* the output: the root's columns, in order, with their names */
    bool named = lp->root->kind == MC2_LN_PROJECT;
    if (exact(&c, &r, lp->root->cols, lp->root->ncols, lp->root->rows, !named)) return -1;
    out->root = r.pn;
    out->tree = r.x;
    out->explain = lp->explain;
    out->logical = lp;
    return 0;
}

int mc2_sql_compile(const char *text, size_t len, const mc2_sql_table *tables, size_t ntables,
                    mc2_plan *p, mc2_sql_physical *out, mc2_err *err)
{
    mc2_arena *a = mc2_plan_arena(p);
    mc2_sql_stmt *s;
    mc2_lplan *lp;
    if (mc2_sql_parse(text, len, a, &s, err)) return -1;
    if (mc2_sql_bind(s, tables, ntables, a, &lp, err)) return -1;
    if (mc2_lplan_rewrite(lp, err)) return -1;
    return mc2_sql_plan_physical(lp, tables, ntables, p, out, err);
}

/* ---- EXPLAIN text ------------------------------------------------------------------------ */

static int xprint(const mc2_sql_xnode *x, int depth, mc2_buf *out, mc2_err *err)
{
    if (depth > 4096) return mc2_buf_puts(out, "...\n", err);
    double r = x->rows;
    char rows[32];
    if (r < 1e4)
        snprintf(rows, sizeof rows, "%.0f", r);
    else if (r < 1e7)
        snprintf(rows, sizeof rows, "%.1fK", r / 1e3);
    else if (r < 1e10)
        snprintf(rows, sizeof rows, "%.1fM", r / 1e6);
    else
        snprintf(rows, sizeof rows, "%.2g", r);
    if (mc2_buf_printf(out, err, "%*s%s%s%s  (~%s rows)\n", depth * 2, "", x->role ? x->role : "",
                       x->role ? ": " : "", x->label, rows))
        return -1;
    for (int i = 0; i < 2; i++)
        if (x->kid[i] && xprint(x->kid[i], depth + 1, out, err)) return -1;
    return 0;
}

int mc2_sql_explain_print(const mc2_sql_physical *ph, mc2_buf *out, mc2_err *err)
{
    if (!ph->tree) return mc2_err_set(err, MC2_E_USAGE, "EXPLAIN: no plan");
    return xprint(ph->tree, 0, out, err);
}
