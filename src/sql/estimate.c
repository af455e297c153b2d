/* estimate.c - row estimates of logical operators and the uniqueness of their rows, from
 * public facts only: the input row counts, the keys the schemas declare, and the query.
 *
 * No statistics of the data are kept (they would leak it), so selectivities are fixed per
 * kind of condition; declared keys make the important ones exact: a primary key column has
 * one value per row, a foreign key column at most as many values as the referenced table
 * has rows, and a join on a key that is unique on one side has at most the other side's
 * rows. The model (docs/sql.md, "Join order"):
 *
 *   filter        rows * sel(pred)
 *   inner join    |L| * |R| * sel(other conjuncts) / max(ndv_L(keys), ndv_R(keys))
 *   semi join     |L| * min(1, ndv_R(keys) / ndv_L(keys)) * sel(residual); anti: the rest
 *   aggregation   ndv(group keys), at most the input rows
 *
 * where ndv_X(keys) of a set of key columns is |X| when X is unique on them, else the
 * product of the columns' distinct counts (each at most |X|), lowered by composite foreign
 * keys and by the columns a primary key among the keys determines. */
#include <math.h>
#include <string.h>

#include "sql/binder.h"
#include "sql/logical.h"

#define SEL_EQ       0.1    /* x = constant, x without a declared key */
#define SEL_RANGE    0.33   /* x < constant, one bound */
#define SEL_AGG      0.05   /* a comparison on an aggregate's value (a HAVING condition) */
#define SEL_ANTI_MIN 0.1    /* an anti join keeps at least this fraction */
#define DATE_SPAN    3652.5 /* days a date range with two constant bounds is measured against */
#define KEYS_MAX     32     /* key columns considered per side */
#define UQ_MAX       32     /* columns a uniqueness question may name */
#define UQ_DEPTH     128    /* operators below the one asked about that are looked at */
#define UQ_STEPS     4096   /* operators visited per question (a join asks each side twice) */

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

static bool has_id(const uint32_t *v, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id) return true;
    return false;
}

/* Does node n produce column id (is it among its output columns)? */
static bool node_has(const mc2_lnode *n, uint32_t id)
{
    return has_id(n->cols, n->ncols, id);
}

/* Do all columns e reads come from n (and does it read one)? */
static bool expr_from(const mc2_lexpr *e, const mc2_lnode *n, bool *any)
{
    if (e->kind == MC2_LX_COL) {
        *any = true;
        return node_has(n, e->col);
    }
    if (e->sub) return false;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!expr_from(e->args[i], n, any)) return false;
    return true;
}

static bool only_from(const mc2_lexpr *e, const mc2_lnode *n)
{
    bool any = false;
    return expr_from(e, n, &any) && any;
}

/* ---- uniqueness -------------------------------------------------------------------------- */

/* A uniqueness question's bounds: depth below the node asked about, operators visited. */
typedef struct uqb {
    unsigned depth, steps;
} uqb;

static bool uq(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t k, uqb *b);
static bool uq_node(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t k, uqb *b);

/* A join's plain column equalities: lk[i] (from l) = rk[i] (from r). */
static size_t join_pairs(const mc2_lnode *n, uint32_t *lk, uint32_t *rk, size_t max)
{
    const mc2_lexpr *c = n->pred;
    if (!c) return 0;
    const mc2_lexpr *one[1] = {c};
    mc2_lexpr *const *v = c->kind == MC2_LX_AND ? c->args : (mc2_lexpr *const *)one;
    unsigned nv = c->kind == MC2_LX_AND ? c->nargs : 1;
    size_t np = 0;
    for (unsigned i = 0; i < nv && np < max; i++) {
        const mc2_lexpr *e = v[i];
        if (e->kind != MC2_LX_CMP || e->op != MC2_PX_EQ || e->args[0]->kind != MC2_LX_COL ||
            e->args[1]->kind != MC2_LX_COL)
            continue;
        uint32_t a = e->args[0]->col, b = e->args[1]->col;
        if (node_has(n->left, b) && node_has(n->right, a)) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        if (node_has(n->left, a) && node_has(n->right, b)) {
            lk[np] = a;
            rk[np++] = b;
        }
    }
    return np;
}

static bool uq_join(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t k, uqb *b)
{
    enum mc2_join_type jt = n->jtype;
    if (jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI) return uq(lp, n->left, ids, k, b);
    if (jt == MC2_JOIN_FULL) return false;
    uint32_t lk[UQ_MAX], rk[UQ_MAX], sl[2 * UQ_MAX], sr[2 * UQ_MAX];
    size_t np = join_pairs(n, lk, rk, UQ_MAX), nsl = 0, nsr = 0;
    for (size_t i = 0; i < k; i++) {
        if (node_has(n->left, ids[i])) sl[nsl++] = ids[i];
        if (node_has(n->right, ids[i])) sr[nsr++] = ids[i];
    }
    /* a key column asked for stands for its equal partner on the other side */
    for (size_t p = 0; p < np; p++) {
        if (has_id(ids, k, lk[p]) && !has_id(sr, nsr, rk[p])) sr[nsr++] = rk[p];
        if (has_id(ids, k, rk[p]) && !has_id(sl, nsl, lk[p])) sl[nsl++] = lk[p];
    }
    bool ul = uq(lp, n->left, sl, nsl, b), ur = uq(lp, n->right, sr, nsr, b);
    /* each left row meets at most one right row when the right is unique on its keys */
    bool kr = np && uq(lp, n->right, rk, np, b), kl = np && uq(lp, n->left, lk, np, b);
    switch (jt) {
    case MC2_JOIN_INNER:
        return (ul && (ur || kr)) || (ur && kl);
    case MC2_JOIN_LEFT:
        return ul && (ur || kr);
    case MC2_JOIN_RIGHT:
        return ur && (ul || kl);
    default:
        return false;
    }
}

static bool uq(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t k, uqb *b)
{
    if (b->depth >= UQ_DEPTH || b->steps >= UQ_STEPS || k > UQ_MAX) return false;
    b->depth++;
    b->steps++;
    bool r = uq_node(lp, n, ids, k, b);
    b->depth--;
    return r;
}

static bool uq_node(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t k, uqb *b)
{
    switch (n->kind) {
    case MC2_LN_SCAN: {
        if (!lp->tables || n->input >= lp->ntables) return false;
        const mc2_schema *s = lp->tables[n->input].schema;
        if (!s || !s->npk) return false;
        for (size_t j = 0; j < s->npk; j++) {
            bool found = false;
            for (size_t i = 0; i < n->ncols && !found; i++)
                found = n->scan_cols[i] == s->pk[j] && has_id(ids, k, n->cols[i]);
            if (!found) return false;
        }
        return true;
    }
    case MC2_LN_ONEROW:
        return true;
    case MC2_LN_FILTER:
    case MC2_LN_SORT:
    case MC2_LN_LIMIT:
        return uq(lp, n->left, ids, k, b);
    case MC2_LN_DISTINCT: {
        bool all = true;
        for (size_t i = 0; i < n->ncols && all; i++) all = has_id(ids, k, n->cols[i]);
        return all || uq(lp, n->left, ids, k, b);
    }
    case MC2_LN_AGG:
        for (size_t i = 0; i < n->ngroups; i++)
            if (!has_id(ids, k, n->cols[i])) return false;
        return true;
    case MC2_LN_PROJECT: {
        uint32_t m[UQ_MAX];
        size_t nm = 0;
        for (size_t i = 0; i < n->nexprs && i < n->ncols; i++)
            if (n->exprs[i]->kind == MC2_LX_COL && has_id(ids, k, n->cols[i]) &&
                !has_id(m, nm, n->exprs[i]->col))
                m[nm++] = n->exprs[i]->col;
        return uq(lp, n->left, m, nm, b);
    }
    case MC2_LN_JOIN:
        return uq_join(lp, n, ids, k, b);
    case MC2_LN_SETOP: {
        if (n->all) return false;
        for (size_t i = 0; i < n->ncols; i++)
            if (!has_id(ids, k, n->cols[i])) return false;
        return true;
    }
    }
    return false;
}

bool mc2_lnode_unique_on(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t nids)
{
    uqb b = {0, 0};
    return uq(lp, n, ids, nids, &b);
}

/* ---- distinct values --------------------------------------------------------------------- */

static bool is_const(const mc2_lexpr *e)
{
    switch (e->kind) {
    case MC2_LX_CONST:
        return true;
    case MC2_LX_COL:
    case MC2_LX_AGG:
    case MC2_LX_SUBQUERY:
    case MC2_LX_EXISTS:
    case MC2_LX_IN_QUERY:
        return false;
    default:
        for (unsigned i = 0; i < e->nargs; i++)
            if (!is_const(e->args[i])) return false;
        return e->nargs > 0;
    }
}

/* Does e read an aggregate's value? */
static bool refs_agg(const mc2_lplan *lp, const mc2_lexpr *e)
{
    if (e->kind == MC2_LX_COL) return lp->cols[e->col].agg;
    for (unsigned i = 0; i < e->nargs; i++)
        if (refs_agg(lp, e->args[i])) return true;
    return false;
}

double mc2_est_ndv(const mc2_lplan *lp, const mc2_lexpr *e, double rows)
{
    if (rows < 1) rows = 1;
    double d = 1;
    switch (e->kind) {
    case MC2_LX_CONST:
        return 1;
    case MC2_LX_COL:
        d = lp->cols[e->col].ndv;
        if (d <= 0) d = rows / 10;
        break;
    case MC2_LX_FUNC:
        if (e->op == MC2_PF_EXTRACT && e->nargs == 1) {
            double cap = e->aux == MC2_PX_YEAR ? 10 : e->aux == MC2_PX_MONTH ? 12 : 31;
            d = fmin(mc2_est_ndv(lp, e->args[0], rows), cap);
            break;
        }
        if (e->op == MC2_PF_SUBSTRING && e->nargs == 3 && e->args[2]->kind == MC2_LX_CONST &&
            !e->args[2]->val.null) {
            double n = (double)e->args[2]->val.i;
            d = fmin(mc2_est_ndv(lp, e->args[0], rows), pow(36, clampd(n, 0, 12)));
            break;
        }
        /* fall through */
    default:
        /* a function of its operands takes at most as many values as they have combinations;
         * a CASE at most the sum of its results' */
        if (e->kind == MC2_LX_CASE) {
            d = 0;
            for (unsigned i = 1; i < e->nargs; i += 2) d += mc2_est_ndv(lp, e->args[i], rows);
            d += mc2_est_ndv(lp, e->args[e->nargs - 1], rows);
        } else {
            for (unsigned i = 0; i < e->nargs; i++) d *= mc2_est_ndv(lp, e->args[i], rows);
            if (e->kind == MC2_LX_CMP || e->kind == MC2_LX_AND || e->kind == MC2_LX_OR ||
                e->kind == MC2_LX_NOT || e->kind == MC2_LX_IS_NULL || e->kind == MC2_LX_LIKE ||
                e->kind == MC2_LX_IN)
                d = fmin(d, 3);
        }
        break;
    }
    return clampd(d, 1, rows);
}

/* Distinct combinations of the key columns ids[0..n) (times x for computed keys) in the
 * `rows` rows of node (NULL: unknown node): rows if node is unique on them; else the product
 * of the columns' counts, lowered by composite foreign keys (mc2_lplan.sets) and leaving
 * out the columns a primary key among them determines (same scan). */
static double keys_ndv(const mc2_lplan *lp, const mc2_lnode *node, double rows, const uint32_t *ids,
                       size_t n, double x)
{
    if (rows < 1) rows = 1;
    if (n == 0) return clampd(x, 1, rows);
    if (node && mc2_lnode_unique_on(lp, node, ids, n)) return rows;
    bool skip[KEYS_MAX] = {0};
    if (n > KEYS_MAX) n = KEYS_MAX;
    for (size_t i = 0; i < n; i++) {
        const mc2_lcolinfo *ci = &lp->cols[ids[i]];
        if (!ci->scan || !lp->tables || ci->input >= lp->ntables) continue;
        const mc2_schema *s = lp->tables[ci->input].schema;
        bool all = s->npk > 0;
        for (size_t j = 0; j < s->npk && all; j++) all = has_id(ids, n, ci->scan + s->pk[j]);
        if (!all) continue;
        for (size_t m = 0; m < n; m++) {
            const mc2_lcolinfo *cm = &lp->cols[ids[m]];
            bool in_pk = false;
            for (size_t j = 0; j < s->npk; j++) in_pk |= ids[m] == ci->scan + s->pk[j];
            if (cm->scan == ci->scan && !in_pk) skip[m] = true;
        }
    }
    double d = x;
    /* a scan's columns together take at most as many values as its filtered rows */
    for (size_t m = 0; m < n; m++) {
        const mc2_lcolinfo *cm = &lp->cols[ids[m]];
        bool first = cm->scan && !skip[m];
        for (size_t o = 0; o < m && first; o++) first = lp->cols[ids[o]].scan != cm->scan;
        if (!first) continue;
        double p = 1, cap = 0;
        for (size_t o = m; o < n; o++) {
            const mc2_lcolinfo *co = &lp->cols[ids[o]];
            if (skip[o] || co->scan != cm->scan) continue;
            p *= co->ndv > 0 ? fmin(co->ndv, rows) : rows / 10;
            if (co->cap > 0 && (cap <= 0 || co->cap < cap)) cap = co->cap;
        }
        if (cap <= 0 || p <= cap) continue;
        d *= cap;
        for (size_t o = m; o < n; o++)
            if (lp->cols[ids[o]].scan == cm->scan) skip[o] = true;
    }
    for (size_t f = 0; f < lp->nsets; f++) {
        const mc2_lndvset *st = &lp->sets[f];
        bool all = true;
        for (unsigned j = 0; j < st->n && all; j++) {
            size_t m = 0;
            while (m < n && ids[m] != st->ids[j]) m++;
            all = m < n && !skip[m];
        }
        if (!all) continue;
        d *= fmin(st->ndv, rows);
        for (unsigned j = 0; j < st->n; j++)
            for (size_t m = 0; m < n; m++)
                if (ids[m] == st->ids[j]) skip[m] = true;
    }
    for (size_t m = 0; m < n; m++) {
        if (skip[m]) continue;
        double c = lp->cols[ids[m]].ndv;
        d *= c > 0 ? fmin(c, rows) : rows / 10;
    }
    return clampd(d, 1, rows);
}

/* ---- selectivity ------------------------------------------------------------------------- */

/* The value of a constant DATE expression (a literal plus or minus intervals) in days. */
static bool const_days(const mc2_lexpr *e, double *d)
{
    if (e->kind == MC2_LX_CONST && e->type.id == MC2_T_DATE && !e->val.null) {
        *d = (double)e->val.i;
        return true;
    }
    if (e->kind == MC2_LX_FUNC && e->op == MC2_PF_DATE_ADD && e->nargs == 1 &&
        const_days(e->args[0], d)) {
        double unit = e->aux2 == MC2_PX_DAY ? 1 : e->aux2 == MC2_PX_MONTH ? 30.44 : 365.25;
        *d += (double)e->aux * unit;
        return true;
    }
    return false;
}

/* c is `x op date` with a constant date: *x, the bound in days, dir +1 lower / -1 upper. */
static bool date_bound(const mc2_lexpr *c, const mc2_lexpr **x, double *d, int *dir)
{
    if (c->kind != MC2_LX_CMP || c->op == MC2_PX_EQ || c->op == MC2_PX_NE) return false;
    bool lt = c->op == MC2_PX_LT || c->op == MC2_PX_LE;
    if (const_days(c->args[1], d) && !is_const(c->args[0])) {
        *x = c->args[0];
        *dir = lt ? -1 : 1;
        return true;
    }
    if (const_days(c->args[0], d) && !is_const(c->args[1])) {
        *x = c->args[1];
        *dir = lt ? 1 : -1;
        return true;
    }
    return false;
}

static double eq_sel(const mc2_lplan *lp, const mc2_lexpr *x)
{
    if (x->kind == MC2_LX_COL && lp->cols[x->col].keyed && lp->cols[x->col].ndv >= 1)
        return 1 / lp->cols[x->col].ndv;
    return SEL_EQ;
}

/* LIKE: the more literal characters the pattern has, the fewer rows match. */
static double like_sel(const mc2_lplan *lp, const mc2_lexpr *e)
{
    size_t lit = 0, wild = 0;
    for (size_t i = 0; i < e->val.slen; i++) {
        unsigned char ch = (unsigned char)e->val.s[i];
        if (e->escape >= 0 && ch == (unsigned)e->escape && i + 1 < e->val.slen) {
            lit++;
            i++;
        } else if (ch == '%' || ch == '_') {
            wild++;
        } else if ((ch & 0xC0) != 0x80) {
            lit++;
        }
    }
    double s = wild == 0 ? eq_sel(lp, e->args[0]) : lit <= 2 ? 0.2 : lit <= 5 ? 0.1 : 0.05;
    return e->negated ? 1 - s : s;
}

static double and_sel(const mc2_lplan *lp, const mc2_lexpr *e)
{
    double s = 1;
    uint64_t done = 0;
    for (unsigned i = 0; i < e->nargs; i++) {
        if (i < 64 && (done >> i & 1)) continue;
        const mc2_lexpr *x, *y;
        double d, d2;
        int dir, dir2;
        bool paired = false;
        /* two constant date bounds on one expression: the range's width, out of ten years */
        if (i < 64 && date_bound(e->args[i], &x, &d, &dir))
            for (unsigned j = i + 1; j < e->nargs && j < 64 && !paired; j++) {
                if ((done >> j & 1) || !date_bound(e->args[j], &y, &d2, &dir2) || dir2 == dir ||
                    !mc2_lexpr_equal(x, y))
                    continue;
                double width = dir < 0 ? d - d2 : d2 - d;
                s *= clampd(width / DATE_SPAN, 1e-3, 1);
                done |= (uint64_t)1 << j;
                paired = true;
            }
        if (!paired) s *= mc2_est_sel(lp, e->args[i]);
    }
    return s;
}

double mc2_est_sel(const mc2_lplan *lp, const mc2_lexpr *e)
{
    if (!e) return 1;
    switch (e->kind) {
    case MC2_LX_AND:
        return and_sel(lp, e);
    case MC2_LX_OR: {
        double s = 0;
        for (unsigned i = 0; i < e->nargs; i++) {
            double t = mc2_est_sel(lp, e->args[i]);
            s = s + t - s * t;
        }
        return s;
    }
    case MC2_LX_NOT:
        return 1 - mc2_est_sel(lp, e->args[0]);
    case MC2_LX_CMP: {
        /* a HAVING condition: an aggregate's value against a constant or another aggregate */
        bool a0 = refs_agg(lp, e->args[0]), a1 = refs_agg(lp, e->args[1]);
        if ((a0 || a1) && (a0 || is_const(e->args[0])) && (a1 || is_const(e->args[1])))
            return e->op == MC2_PX_NE ? 1 - SEL_AGG : SEL_AGG;
        if (e->op != MC2_PX_EQ && e->op != MC2_PX_NE) return SEL_RANGE;
        const mc2_lexpr *x = is_const(e->args[1])   ? e->args[0]
                             : is_const(e->args[0]) ? e->args[1]
                                                    : NULL;
        double s = x ? eq_sel(lp, x) : SEL_EQ;
        return e->op == MC2_PX_EQ ? s : 1 - s;
    }
    case MC2_LX_LIKE:
        return like_sel(lp, e);
    case MC2_LX_IN: {
        double s = fmin(0.5, (e->nargs - 1) * eq_sel(lp, e->args[0]));
        return e->negated ? 1 - s : s;
    }
    case MC2_LX_IS_NULL:
        if (!e->args[0]->nullable) return e->negated ? 1 : 0;
        return e->negated ? 0.9 : 0.1;
    case MC2_LX_CONST:
        return e->type.id == MC2_T_BOOL && !e->val.null && e->val.i ? 1 : 0;
    default:
        return 0.5;
    }
}

/* ---- joins ------------------------------------------------------------------------------- */

/* The equalities of a join condition between sides l and r (pairs of key expressions), and
 * the selectivity of the other conjuncts. */
typedef struct eqkeys {
    const mc2_lexpr *l[KEYS_MAX], *r[KEYS_MAX];
    size_t n;
    double rest;
} eqkeys;

static void add_key(const mc2_lplan *lp, const mc2_lexpr *e, double rows, uint32_t *ids, size_t *n,
                    double *x)
{
    if (e->kind == MC2_LX_COL && *n < KEYS_MAX) {
        if (!has_id(ids, *n, e->col)) ids[(*n)++] = e->col;
    } else {
        *x *= mc2_est_ndv(lp, e, rows);
    }
}

static void eq_keys(const mc2_lplan *lp, const mc2_lexpr *cond, const mc2_lnode *l,
                    const mc2_lnode *r, eqkeys *k)
{
    k->n = 0;
    k->rest = 1;
    if (!cond) return;
    const mc2_lexpr *one[1] = {cond};
    mc2_lexpr *const *v = cond->kind == MC2_LX_AND ? cond->args : (mc2_lexpr *const *)one;
    unsigned nv = cond->kind == MC2_LX_AND ? cond->nargs : 1;
    for (unsigned i = 0; i < nv; i++) {
        const mc2_lexpr *c = v[i];
        if (c->kind == MC2_LX_CMP && c->op == MC2_PX_EQ && k->n < KEYS_MAX) {
            const mc2_lexpr *x = c->args[0], *y = c->args[1];
            if (only_from(y, l) && only_from(x, r)) {
                const mc2_lexpr *t = x;
                x = y;
                y = t;
            }
            if (only_from(x, l) && only_from(y, r)) {
                k->l[k->n] = x;
                k->r[k->n++] = y;
                continue;
            }
        }
        k->rest *= mc2_est_sel(lp, c);
    }
}

/* Where a key column comes from: its scan, or 0 for computed columns. */
static uint32_t origin(const mc2_lplan *lp, const mc2_lexpr *e)
{
    return e->kind == MC2_LX_COL ? lp->cols[e->col].scan : UINT32_MAX;
}

/* The key pairs in groups of the same origins on both sides (a composite key of one table
 * against another's; columns of unrelated tables are independent): for each group, the
 * distinct key combinations of each side, *dl and *dr, are multiplied into the result as
 * f(dl, dr). */
static double key_groups(const mc2_lplan *lp, const eqkeys *k, const mc2_lnode *l, double lrows,
                         const mc2_lnode *r, double rrows, double (*f)(double, double))
{
    bool done[KEYS_MAX] = {0};
    double res = 1;
    for (size_t i = 0; i < k->n; i++) {
        if (done[i]) continue;
        uint32_t ol = origin(lp, k->l[i]), orr = origin(lp, k->r[i]);
        uint32_t lid[KEYS_MAX], rid[KEYS_MAX];
        size_t nl = 0, nr = 0;
        double lx = 1, rx = 1;
        for (size_t j = i; j < k->n; j++) {
            bool same = j == i || (ol != UINT32_MAX && orr != UINT32_MAX &&
                                   origin(lp, k->l[j]) == ol && origin(lp, k->r[j]) == orr);
            if (done[j] || !same) continue;
            done[j] = true;
            add_key(lp, k->l[j], lrows, lid, &nl, &lx);
            add_key(lp, k->r[j], rrows, rid, &nr, &rx);
        }
        res *= f(keys_ndv(lp, l, lrows, lid, nl, lx), keys_ndv(lp, r, rrows, rid, nr, rx));
    }
    return res;
}

static double f_join(double dl, double dr)
{
    return 1 / fmax(dl, dr);
}

static double f_semi(double dl, double dr)
{
    return fmin(1, dr / dl);
}

double mc2_est_joinsel(const mc2_lplan *lp, const mc2_lnode *l, double lrows, const mc2_lnode *r,
                       double rrows, const mc2_lexpr *cond)
{
    eqkeys k;
    eq_keys(lp, cond, l, r, &k);
    return k.rest * key_groups(lp, &k, l, lrows, r, rrows, f_join);
}

double mc2_est_semi(const mc2_lplan *lp, const mc2_lnode *l, double lrows, double lcap,
                    const mc2_lnode *r, double rrows, const mc2_lexpr *cond, bool anti)
{
    eqkeys k;
    eq_keys(lp, cond, l, r, &k);
    /* above l, on lcap rows, the left side has at most lcap distinct keys */
    double f =
        k.rest * key_groups(lp, &k, l, lcap >= 1 ? fmin(lrows, lcap) : lrows, r, rrows, f_semi);
    f = clampd(f, 0, 1);
    return anti ? fmax(SEL_ANTI_MIN, 1 - f) : f;
}

static double inner_rows(const mc2_lplan *lp, const mc2_lnode *l, double lrows, const mc2_lnode *r,
                         double rrows, const mc2_lexpr *cond)
{
    return lrows * rrows * mc2_est_joinsel(lp, l, lrows, r, rrows, cond);
}

/* ---- the tree ---------------------------------------------------------------------------- */

static void est_agg(mc2_lplan *lp, mc2_lnode *n, double l)
{
    for (size_t i = n->ngroups; i < n->ncols; i++) lp->cols[n->cols[i]].agg = true;
    if (n->ngroups == 0) {
        n->rows = 1;
        return;
    }
    uint32_t ids[KEYS_MAX];
    size_t nid = 0;
    double x = 1;
    for (size_t i = 0; i < n->ngroups; i++) add_key(lp, n->exprs[i], l, ids, &nid, &x);
    n->rows = keys_ndv(lp, n->left, l, ids, nid, x);
    for (size_t i = 0; i < n->ngroups; i++) {
        mc2_lcolinfo *ci = &lp->cols[n->cols[i]];
        double d = fmin(mc2_est_ndv(lp, n->exprs[i], l), n->rows);
        if (ci->ndv <= 0 || ci->ndv > d) ci->ndv = d;
    }
}

static void est_project(mc2_lplan *lp, mc2_lnode *n, double l)
{
    n->rows = l;
    for (size_t i = 0; i < n->nexprs && i < n->ncols; i++) {
        mc2_lcolinfo *ci = &lp->cols[n->cols[i]];
        const mc2_lexpr *e = n->exprs[i];
        if (refs_agg(lp, e)) ci->agg = true;
        if (e->kind != MC2_LX_COL && ci->ndv <= 0) ci->ndv = mc2_est_ndv(lp, e, l);
    }
}

static void est_join(mc2_lplan *lp, mc2_lnode *n, double l, double r)
{
    switch (n->jtype) {
    case MC2_JOIN_INNER:
        n->rows = inner_rows(lp, n->left, l, n->right, r, n->pred);
        break;
    case MC2_JOIN_LEFT:
        n->rows = fmax(inner_rows(lp, n->left, l, n->right, r, n->pred), l);
        break;
    case MC2_JOIN_RIGHT:
        n->rows = fmax(inner_rows(lp, n->left, l, n->right, r, n->pred), r);
        break;
    case MC2_JOIN_FULL:
        n->rows = fmax(inner_rows(lp, n->left, l, n->right, r, n->pred), l + r);
        break;
    case MC2_JOIN_SEMI:
    case MC2_JOIN_ANTI:
        n->rows =
            l * mc2_est_semi(lp, n->left, l, 0, n->right, r, n->pred, n->jtype == MC2_JOIN_ANTI);
        break;
    }
}

void mc2_lplan_estimate(mc2_lplan *lp, mc2_lnode *n)
{
    if (n->left) mc2_lplan_estimate(lp, n->left);
    if (n->right) mc2_lplan_estimate(lp, n->right);
    double l = n->left ? n->left->rows : 0, r = n->right ? n->right->rows : 0;
    switch (n->kind) {
    case MC2_LN_SCAN:
        break;
    case MC2_LN_ONEROW:
        n->rows = 1;
        break;
    case MC2_LN_FILTER: {
        n->rows = l * mc2_est_sel(lp, n->pred);
        const mc2_lnode *b = n->left;
        while (b->kind == MC2_LN_FILTER) b = b->left;
        if (b->kind == MC2_LN_SCAN)
            for (size_t i = 0; i < n->ncols; i++) {
                mc2_lcolinfo *ci = &lp->cols[n->cols[i]];
                double r1 = n->rows < 1 ? 1 : n->rows;
                if (ci->scan && (ci->cap <= 0 || r1 < ci->cap)) ci->cap = r1;
            }
        break;
    }
    case MC2_LN_PROJECT:
        est_project(lp, n, l);
        break;
    case MC2_LN_SORT:
        n->rows = l;
        break;
    case MC2_LN_DISTINCT:
        n->rows = n->ncols <= KEYS_MAX ? keys_ndv(lp, n->left, l, n->cols, n->ncols, 1) : l / 2;
        break;
    case MC2_LN_LIMIT:
        n->rows = n->limit >= 0 && (double)n->limit < l ? (double)n->limit : l;
        break;
    case MC2_LN_AGG:
        est_agg(lp, n, l);
        break;
    case MC2_LN_JOIN:
        est_join(lp, n, l, r);
        break;
    case MC2_LN_SETOP:
        n->rows = n->setop == MC2_SETOP_UNION                ? l + r
                  : n->setop == MC2_SETOP_INTERSECT && r < l ? r
                                                             : l;
        break;
    }
    if (!(n->rows >= 1)) n->rows = 1;
}
