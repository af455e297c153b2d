/* prune.c - block skipping by sealed per-block statistics: conditions from a filter's
 * predicate, and the test of a block against them (prune.h has the rules). */
#include "sql/prune.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "table/value.h"

#define PR_MAX_IV    64         /* intervals per condition; more become their hull (a superset) */
#define PR_MAX_DEPTH 256        /* deeper predicates give no condition */
#define PR_SCRATCH   (1u << 20) /* bytes deriving may take; beyond it: no condition */

/* One interval. Exact (INT64, DECIMAL, DATE, BOOL columns compared exactly): [lo, hi] in the
 * column's units, closed, as __int128 so that bounds past int64 stay exact. DOUBLE: flo..fhi,
 * each end open or closed, -inf / +inf (closed) when unbounded. */
typedef struct pr_iv {
    __int128 lo, hi;
    double flo, fhi;
    bool flo_open, fhi_open;
} pr_iv;

/* One condition: table column col, compared as DOUBLE (dbl) or exactly. A row passes only if
 * its value there is NULL and null_ok, or not NULL and in some iv[0..n). */
typedef struct pr_term {
    unsigned col;
    bool dbl;
    enum mc2_type type; /* the column's */
    unsigned scale;     /* DECIMAL column: its scale (dbl: the value is v / 10^scale) */
    bool null_ok;
    size_t n, cap; /* cap: room in iv (0: iv is not the term's own: a leaf's) */
    pr_iv *iv;
} pr_term;

/* A conjunction of terms, at most one per (col, dbl). n == 0: no condition. cap: room in t
 * (0: t is a leaf's term, not the set's own). */
typedef struct pr_set {
    pr_term *t;
    size_t n, cap;
} pr_set;

/* A leaf's condition, on the stack of the operator that merges it (no allocation per leaf:
 * an IN list of 20,000 constants is 20,000 leaves). */
typedef struct pr_leaf {
    pr_term t;
    pr_iv iv[2];
} pr_leaf;

struct mc2_prune {
    pr_set s;
};

typedef struct pr_ctx {
    const unsigned *cols;
    size_t ncols;
    mc2_prune_eval_fn eval;
    void *eval_ctx;
    mc2_arena *a;
    mc2_err *err;
} pr_ctx;

#define EX_INF ((__int128)1 << 100) /* beyond every scaled value: |v| * 10^18 < 2^124 */

static const pr_iv iv_all = {-EX_INF, EX_INF, -INFINITY, INFINITY, false, false};

/* ---- intervals ----------------------------------------------------------------------------- */

static bool iv_empty(const pr_iv *v, bool dbl)
{
    if (!dbl) return v->lo > v->hi;
    return v->flo > v->fhi || (v->flo == v->fhi && (v->flo_open || v->fhi_open));
}

static pr_iv iv_meet(const pr_iv *x, const pr_iv *y)
{
    pr_iv r;
    r.lo = x->lo > y->lo ? x->lo : y->lo;
    r.hi = x->hi < y->hi ? x->hi : y->hi;
    if (x->flo != y->flo) {
        r.flo = x->flo > y->flo ? x->flo : y->flo;
        r.flo_open = x->flo > y->flo ? x->flo_open : y->flo_open;
    } else {
        r.flo = x->flo;
        r.flo_open = x->flo_open || y->flo_open;
    }
    if (x->fhi != y->fhi) {
        r.fhi = x->fhi < y->fhi ? x->fhi : y->fhi;
        r.fhi_open = x->fhi < y->fhi ? x->fhi_open : y->fhi_open;
    } else {
        r.fhi = x->fhi;
        r.fhi_open = x->fhi_open || y->fhi_open;
    }
    return r;
}

/* The smallest closed interval holding iv[0..n) (n >= 1). */
static pr_iv iv_hull(const pr_iv *iv, size_t n)
{
    pr_iv h = iv[0];
    for (size_t i = 1; i < n; i++) {
        if (iv[i].lo < h.lo) h.lo = iv[i].lo;
        if (iv[i].hi > h.hi) h.hi = iv[i].hi;
        if (iv[i].flo < h.flo) h.flo = iv[i].flo;
        if (iv[i].fhi > h.fhi) h.fhi = iv[i].fhi;
    }
    h.flo_open = h.fhi_open = false;
    return h;
}

/* Keeps the non-empty intervals of t->iv[0..t->n) (in place). */
static void term_drop_empty(pr_term *t)
{
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!iv_empty(&t->iv[i], t->dbl)) t->iv[m++] = t->iv[i];
    t->n = m;
}

/* Makes room for `need` intervals in t's own storage (copying a leaf's into it). */
static int term_reserve(pr_ctx *c, pr_term *t, size_t need)
{
    if (need <= t->cap) return 0;
    size_t nc = t->cap * 2 > need ? t->cap * 2 : need < 4 ? 4 : need;
    pr_iv *nv = mc2_arena_array(c->a, nc, sizeof *nv, c->err);
    if (!nv) return -1;
    if (t->n) memcpy(nv, t->iv, t->n * sizeof *nv);
    t->iv = nv;
    t->cap = nc;
    return 0;
}

static pr_term *set_find(const pr_set *s, unsigned col, bool dbl)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].col == col && s->t[i].dbl == dbl) return &s->t[i];
    return NULL;
}

/* *t = *t AND *u (same column and comparison; t's storage its own). */
static int term_and(pr_ctx *c, pr_term *t, const pr_term *u)
{
    pr_iv tmp[2 * PR_MAX_IV], uh;
    const pr_iv *uv = u->iv;
    size_t un = u->n, k = 0;
    if (t->n * un > 2 * PR_MAX_IV) { /* too many pairs: the longer side's hull (a superset) */
        if (t->n >= un) {
            t->iv[0] = iv_hull(t->iv, t->n);
            t->n = 1;
        } else {
            uh = iv_hull(uv, un);
            uv = &uh;
            un = 1;
        }
    }
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < un; j++) tmp[k++] = iv_meet(&t->iv[i], &uv[j]);
    if (term_reserve(c, t, k)) return -1;
    if (k) memcpy(t->iv, tmp, k * sizeof *tmp);
    t->n = k;
    term_drop_empty(t);
    if (t->n > PR_MAX_IV) {
        t->iv[0] = iv_hull(t->iv, t->n);
        t->n = 1;
    }
    t->null_ok = t->null_ok && u->null_ok;
    return 0;
}

/* *t = *t OR *u (same column and comparison; t's storage its own). */
static int term_or(pr_ctx *c, pr_term *t, const pr_term *u)
{
    t->null_ok = t->null_ok || u->null_ok;
    if (u->n == 0) return 0;
    if (t->n + u->n > PR_MAX_IV) {
        pr_iv h = iv_hull(u->iv, u->n);
        if (t->n) {
            pr_iv both[2] = {iv_hull(t->iv, t->n), h};
            h = iv_hull(both, 2);
        }
        if (term_reserve(c, t, 1)) return -1;
        t->iv[0] = h;
        t->n = 1;
        return 0;
    }
    if (term_reserve(c, t, t->n + u->n)) return -1;
    memcpy(t->iv + t->n, u->iv, u->n * sizeof *u->iv);
    t->n += u->n;
    return 0;
}

/* Appends a copy of u (with storage of its own) to s. */
static int set_append(pr_ctx *c, pr_set *s, const pr_term *u)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 4;
        pr_term *nt = mc2_arena_array(c->a, nc, sizeof *nt, c->err);
        if (!nt) return -1;
        if (s->n) memcpy(nt, s->t, s->n * sizeof *nt);
        s->t = nt;
        s->cap = nc;
    }
    pr_term *t = &s->t[s->n];
    *t = *u;
    t->n = 0;
    t->cap = 0;
    t->iv = NULL;
    if (term_reserve(c, t, u->n)) return -1;
    if (u->n) memcpy(t->iv, u->iv, u->n * sizeof *u->iv);
    t->n = u->n;
    s->n++;
    return 0;
}

/* *s = *s AND *u (s's storage its own). */
static int set_and(pr_ctx *c, pr_set *s, const pr_set *u)
{
    for (size_t i = 0; i < u->n; i++) {
        pr_term *t = set_find(s, u->t[i].col, u->t[i].dbl);
        if (t ? term_and(c, t, &u->t[i]) : set_append(c, s, &u->t[i])) return -1;
    }
    return 0;
}

/* *s = *s OR *u: the columns both restrict, each the union of the two (s's storage its own). */
static int set_or(pr_ctx *c, pr_set *s, const pr_set *u)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        const pr_term *o = set_find(u, s->t[i].col, s->t[i].dbl);
        if (!o) continue;
        if (term_or(c, &s->t[i], o)) return -1;
        s->t[m++] = s->t[i];
    }
    s->n = m;
    return 0;
}

/* ---- operands ------------------------------------------------------------------------------ */

/* A column operand: the table column, how it compares, and for an exact comparison the power
 * of ten its values are multiplied by (an upscaling cast to a DECIMAL). */
typedef struct pr_colref {
    unsigned col;
    enum mc2_type type;
    unsigned scale;
    bool dbl;
    unsigned shift;
} pr_colref;

static bool exact_type(enum mc2_type t)
{
    return t == MC2_T_INT64 || t == MC2_T_DECIMAL || t == MC2_T_DATE || t == MC2_T_BOOL;
}

/* Whether e is a column of the scan (possibly under a cast that keeps its order exactly:
 * INT64 / DECIMAL to a DECIMAL of a scale at least its own, or to DOUBLE). */
static bool as_colref(const pr_ctx *c, const mc2_pexpr *e, pr_colref *r)
{
    const mc2_pexpr *col = e->kind == MC2_PX_CAST ? e->args[0] : e;
    if (col->kind != MC2_PX_COL || col->col >= c->ncols) return false;
    r->col = c->cols[col->col];
    r->type = col->type.id;
    r->scale = r->type == MC2_T_DECIMAL ? col->type.scale : 0;
    r->shift = 0;
    r->dbl = r->type == MC2_T_DOUBLE;
    /* VARCHAR and wide DECIMAL columns have no statistics (chunk.h): no term. */
    if (r->type == MC2_T_VARCHAR || r->type == MC2_T_DEC128 || r->scale > 18) return false;
    if (e == col) return true;
    if (r->type != MC2_T_INT64 && r->type != MC2_T_DECIMAL) return false;
    if (e->type.id == MC2_T_DOUBLE) {
        r->dbl = true;
        return true;
    }
    if (e->type.id != MC2_T_DECIMAL || e->type.scale < r->scale || e->type.scale > 18) return false;
    r->shift = e->type.scale - r->scale;
    return true;
}

static bool has_col(const mc2_pexpr *e)
{
    if (e->kind == MC2_PX_COL) return true;
    for (unsigned i = 0; i < e->nargs; i++)
        if (has_col(e->args[i])) return true;
    return false;
}

/* The value of a column-free operand. */
static bool as_const(const pr_ctx *c, const mc2_pexpr *e, mc2_pvalue *v)
{
    if (e->kind == MC2_PX_CONST) {
        *v = e->val;
        return true;
    }
    if (!c->eval || has_col(e)) return false;
    memset(v, 0, sizeof *v);
    return c->eval(c->eval_ctx, e, v) == 0;
}

/* floor(x / 10^k) and ceil(x / 10^k), k <= 18. */
static __int128 div_floor(__int128 x, unsigned k)
{
    __int128 d = mc2_pow10(k), q = x / d;
    return (x % d != 0 && x < 0) ? q - 1 : q;
}
static __int128 div_ceil(__int128 x, unsigned k)
{
    __int128 d = mc2_pow10(k), q = x / d;
    return (x % d != 0 && x > 0) ? q + 1 : q;
}

static enum mc2_px_cmp cmp_not(enum mc2_px_cmp op) /* NOT (a op b)  <=>  a not(op) b */
{
    switch (op) {
    case MC2_PX_EQ:
        return MC2_PX_NE;
    case MC2_PX_NE:
        return MC2_PX_EQ;
    case MC2_PX_LT:
        return MC2_PX_GE;
    case MC2_PX_LE:
        return MC2_PX_GT;
    case MC2_PX_GT:
        return MC2_PX_LE;
    default:
        return MC2_PX_LT;
    }
}

/* The intervals of values v with (v * 10^shift) op k, in the column's units (exact). */
static size_t exact_ivs(enum mc2_px_cmp op, int64_t k, unsigned shift, pr_iv out[2])
{
    __int128 x = k;
    out[0] = out[1] = iv_all;
    switch (op) {
    case MC2_PX_EQ:
        out[0].lo = div_ceil(x, shift);
        out[0].hi = div_floor(x, shift); /* empty if 10^shift does not divide k */
        return 1;
    case MC2_PX_NE:
        out[0].hi = div_ceil(x, shift) - 1; /* v * 10^s < k */
        out[1].lo = div_floor(x, shift) + 1;
        return 2;
    case MC2_PX_LT:
        out[0].hi = div_ceil(x, shift) - 1;
        return 1;
    case MC2_PX_LE:
        out[0].hi = div_floor(x, shift);
        return 1;
    case MC2_PX_GT:
        out[0].lo = div_floor(x, shift) + 1;
        return 1;
    default: /* GE */
        out[0].lo = div_ceil(x, shift);
        return 1;
    }
}

/* The intervals of doubles v with v op k. */
static size_t dbl_ivs(enum mc2_px_cmp op, double k, pr_iv out[2])
{
    out[0] = out[1] = iv_all;
    switch (op) {
    case MC2_PX_EQ:
        out[0].flo = out[0].fhi = k;
        return 1;
    case MC2_PX_NE:
        out[0].fhi = k;
        out[0].fhi_open = true;
        out[1].flo = k;
        out[1].flo_open = true;
        return 2;
    case MC2_PX_LT:
    case MC2_PX_LE:
        out[0].fhi = k;
        out[0].fhi_open = op == MC2_PX_LT;
        return 1;
    default: /* GT, GE */
        out[0].flo = k;
        out[0].flo_open = op == MC2_PX_GT;
        return 1;
    }
}

/* A set of one term on r's column, in *leaf. */
static void one_term(const pr_colref *r, bool null_ok, const pr_iv *iv, size_t n, pr_leaf *leaf,
                     pr_set *out)
{
    assert(n <= 2);
    pr_term *t = &leaf->t;
    t->col = r->col;
    t->dbl = r->dbl;
    t->type = r->type;
    t->scale = r->scale;
    t->null_ok = null_ok;
    t->n = n;
    t->cap = 0;
    t->iv = leaf->iv;
    if (n) memcpy(leaf->iv, iv, n * sizeof *iv);
    term_drop_empty(t);
    out->t = t;
    out->n = 1;
    out->cap = 0;
}

/* col op const (either order), negated if neg. */
static void derive_cmp(pr_ctx *c, const mc2_pexpr *e, bool neg, pr_leaf *leaf, pr_set *out)
{
    enum mc2_px_cmp op = (enum mc2_px_cmp)e->op;
    const mc2_pexpr *a = e->args[0], *b = e->args[1];
    pr_colref r;
    mc2_pvalue v;
    if (!as_colref(c, a, &r)) {
        const mc2_pexpr *t = a;
        a = b;
        b = t;
        op = mc2_px_cmp_flip(op);
        if (!as_colref(c, a, &r)) return;
    }
    if (!as_const(c, b, &v)) return;
    if (neg) op = cmp_not(op);
    pr_iv iv[2];
    size_t n;
    if (v.null) /* NULL: never TRUE */
        n = 0;
    else if (r.dbl) {
        if (b->type.id != MC2_T_DOUBLE || isnan(v.f)) return;
        n = dbl_ivs(op, v.f, iv);
    } else {
        /* The constant's type is the column side's (after the cast, if any). */
        if (!exact_type(b->type.id) || b->type.id != a->type.id ||
            (b->type.id == MC2_T_DECIMAL && b->type.scale != r.scale + r.shift))
            return;
        n = exact_ivs(op, v.i, r.shift, iv);
    }
    one_term(&r, false, iv, n, leaf, out);
}

static int derive(pr_ctx *c, const mc2_pexpr *e, bool neg, unsigned depth, pr_leaf *leaf,
                  pr_set *out);

/* AND (or, negated, OR): every operand's conditions. */
static int derive_all(pr_ctx *c, const mc2_pexpr *e, bool neg, unsigned depth, pr_set *out)
{
    for (unsigned i = 0; i < e->nargs; i++) {
        pr_leaf leaf;
        pr_set u = {0};
        if (derive(c, e->args[i], neg, depth + 1, &leaf, &u) || set_and(c, out, &u)) return -1;
    }
    return 0;
}

/* OR (or, negated, AND): the columns every operand restricts. */
static int derive_any(pr_ctx *c, const mc2_pexpr *e, bool neg, unsigned depth, pr_set *out)
{
    for (unsigned i = 0; i < e->nargs; i++) {
        pr_leaf leaf;
        pr_set u = {0};
        if (derive(c, e->args[i], neg, depth + 1, &leaf, &u)) return -1;
        if (u.n == 0) { /* an operand without condition: the OR has none */
            out->n = 0;
            return 0;
        }
        if (i == 0 && u.cap) /* the first operand's set, its own storage: taken over */
            *out = u;
        else if (i == 0 ? set_and(c, out, &u) : set_or(c, out, &u))
            return -1;
        if (out->n == 0) return 0;
    }
    return 0;
}

/* The conditions of e (of NOT e if neg) into *out (empty on entry); a leaf's in *leaf. */
static int derive(pr_ctx *c, const mc2_pexpr *e, bool neg, unsigned depth, pr_leaf *leaf,
                  pr_set *out)
{
    if (depth > PR_MAX_DEPTH) return 0;
    pr_colref r;
    switch (e->kind) {
    case MC2_PX_AND:
        return neg ? derive_any(c, e, neg, depth, out) : derive_all(c, e, neg, depth, out);
    case MC2_PX_OR:
        return neg ? derive_all(c, e, neg, depth, out) : derive_any(c, e, neg, depth, out);
    case MC2_PX_NOT:
        return derive(c, e->args[0], !neg, depth + 1, leaf, out);
    case MC2_PX_CMP:
        derive_cmp(c, e, neg, leaf, out);
        return 0;
    case MC2_PX_IS_NULL:
        /* never NULL itself: NOT (x IS NULL) is x IS NOT NULL */
        if (e->args[0]->kind != MC2_PX_COL || !as_colref(c, e->args[0], &r)) return 0;
        if (e->negated != neg)
            one_term(&r, false, &iv_all, 1, leaf, out);
        else
            one_term(&r, true, NULL, 0, leaf, out);
        return 0;
    case MC2_PX_COL: {
        if (e->type.id != MC2_T_BOOL || !as_colref(c, e, &r)) return 0;
        pr_iv v = iv_all;
        v.lo = v.hi = neg ? 0 : 1;
        one_term(&r, false, &v, 1, leaf, out);
        return 0;
    }
    default:
        return 0;
    }
}

int mc2_prune_build(const mc2_pexpr *pred, const unsigned *cols, size_t ncols,
                    mc2_prune_eval_fn eval, void *eval_ctx, mc2_arena *a, mc2_prune **out,
                    mc2_err *err)
{
    *out = NULL;
    if (!pred) return 0;
    /* Derived in a scratch arena of bounded size (intermediate sets are not freed one by one),
     * then copied out. */
    mc2_arena scratch;
    mc2_arena_init(&scratch, PR_SCRATCH);
    mc2_err serr;
    pr_ctx c = {cols, ncols, eval, eval_ctx, &scratch, &serr};
    pr_leaf leaf;
    pr_set s = {0};
    int rc = 0;
    if (derive(&c, pred, false, 0, &leaf, &s)) {
        if (serr.code != MC2_E_LIMIT) { /* out of memory */
            *err = serr;
            rc = -1;
        }
        goto done; /* too big to derive: no condition */
    }
    if (s.n == 0) goto done;
    mc2_prune *p = mc2_arena_alloc(a, sizeof *p, err);
    pr_term *t = p ? mc2_arena_array(a, s.n, sizeof *t, err) : NULL;
    if (!t) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < s.n; i++) {
        t[i] = s.t[i];
        t[i].cap = s.t[i].n;
        t[i].iv = mc2_arena_array(a, s.t[i].n ? s.t[i].n : 1, sizeof *t[i].iv, err);
        if (!t[i].iv) {
            rc = -1;
            goto done;
        }
        if (s.t[i].n) memcpy(t[i].iv, s.t[i].iv, s.t[i].n * sizeof *t[i].iv);
    }
    p->s = (pr_set){t, s.n, s.n};
    *out = p;
done:
    mc2_arena_free(&scratch);
    return rc;
}

/* ---- testing a block ----------------------------------------------------------------------- */

/* Whether the block's non-NULL values of t's column, [min, max] by st, may meet an interval. */
static bool range_meets(const pr_term *t, const mc2_colstats *st)
{
    if (!t->dbl) {
        if (st->min > st->max) return true; /* not what a writer produces: keep */
        for (size_t i = 0; i < t->n; i++)
            if (t->iv[i].lo <= st->max && st->min <= t->iv[i].hi) return true;
        return false;
    }
    double lo, hi;
    if (t->type == MC2_T_DOUBLE) {
        memcpy(&lo, &st->min, 8);
        memcpy(&hi, &st->max, 8);
    } else { /* exactly the executor's cast (expr_eval.c, eval_cast): monotone */
        double f = (double)mc2_pow10(t->scale);
        lo = (double)st->min / f;
        hi = (double)st->max / f;
    }
    if (isnan(lo) || isnan(hi) || lo > hi) return true;
    for (size_t i = 0; i < t->n; i++) {
        const pr_iv *v = &t->iv[i];
        if ((v->flo_open ? hi > v->flo : hi >= v->flo) &&
            (v->fhi_open ? lo < v->fhi : lo <= v->fhi))
            return true;
    }
    return false;
}

static bool term_keep(const pr_term *t, const mc2_colstats *st)
{
    if (!st) return true;
    if (t->null_ok && (st->flags & (MC2_STATS_NULLS | MC2_STATS_ALLNULL))) return true;
    if ((st->flags & MC2_STATS_ALLNULL) || t->n == 0) return false;
    if (!(st->flags & MC2_STATS_MINMAX)) return true;
    return range_meets(t, st);
}

bool mc2_prune_keep(const mc2_prune *p, mc2_prune_stats_fn stats, void *ctx)
{
    if (!p) return true;
    for (size_t i = 0; i < p->s.n; i++)
        if (!term_keep(&p->s.t[i], stats(ctx, p->s.t[i].col))) return false;
    return true;
}

typedef struct tkeep_ctx {
    const mc2_tsrc *s;
    uint64_t b;
} tkeep_ctx;

static const mc2_colstats *tsrc_stats(void *ctx, unsigned col)
{
    const tkeep_ctx *k = ctx;
    if (col >= mc2_tsrc_header(k->s)->schema->ncols) return NULL;
    return mc2_tsrc_stats(k->s, k->b, col);
}

bool mc2_prune_tkeep(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    tkeep_ctx k = {s, b};
    return mc2_prune_keep(ctx, tsrc_stats, &k);
}

size_t mc2_prune_count(const mc2_prune *p)
{
    return p ? p->s.n : 0;
}

/* Appends printf-style text at buf[*at] (truncating at len). */
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    *at += w > 0 ? (size_t)w : 0;
}

static void put_bound(char *buf, size_t len, size_t *at, __int128 v)
{
    if (v <= -EX_INF)
        put(buf, len, at, "-inf");
    else if (v >= EX_INF)
        put(buf, len, at, "inf");
    else if (v < INT64_MIN || v > INT64_MAX)
        put(buf, len, at, "%s", v < 0 ? "-big" : "big");
    else
        put(buf, len, at, "%lld", (long long)v);
}

void mc2_prune_describe(const mc2_prune *p, size_t i, char *buf, size_t len)
{
    if (!len) return;
    buf[0] = 0;
    if (!p || i >= p->s.n) return;
    const pr_term *t = &p->s.t[i];
    size_t at = 0;
    put(buf, len, &at, "col %u", t->col);
    for (size_t k = 0; k < t->n; k++) {
        const pr_iv *v = &t->iv[k];
        if (t->dbl) {
            put(buf, len, &at, " %c%g, %g%c", v->flo_open ? '(' : '[', v->flo, v->fhi,
                v->fhi_open ? ')' : ']');
            continue;
        }
        put(buf, len, &at, " [");
        put_bound(buf, len, &at, v->lo);
        put(buf, len, &at, ", ");
        put_bound(buf, len, &at, v->hi);
        put(buf, len, &at, "]");
    }
    if (t->n == 0) put(buf, len, &at, " none");
    if (t->null_ok) put(buf, len, &at, " or NULL");
}
