/* expr_eval.c - vectorized evaluation of typed expressions over chunks: one tight loop per
 * (operator, physical type) over whole vectors, NULL maps merged alongside; every value
 * in a NULL row is 0 / empty, so kernels never fault on them. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "table/value.h"

struct sx_ex {
    const mc2_pexpr *e;
    mc2_exec *x;
    sx_ex **kids;
    sx_vec out;
    uint8_t *nullbuf;
    void *valbuf;
    uint8_t *tmp; /* cap bytes of scratch */
    sx_heap heap;
    /* LIKE: the compiled pattern */
    uint8_t *pat, *wild; /* bytes, and 1 where the byte is a '_' wildcard */
    uint32_t *seg_off;   /* segment k is pat[seg_off[k] .. seg_off[k+1]) */
    size_t nseg;
    bool lead_pct, trail_pct;
    struct in_set *set; /* an OR of `x = constant` held as one set (in_set_new) */
    bool folded;        /* a constant subtree, evaluated once at instantiation */
};

/* ---- IN lists: x IN (c1, ..., cn) ------------------------------------------------------- */

/* mc2_px_in builds `x IN (c1..cn)` as OR(x = c1, ..., x = cn). Instantiated naively, every
 * EQ and every constant would own chunk-sized buffers: 20,000 constants took 550 MB. When
 * every operand is `X = constant` with the same X (IN_SET_MIN or more of them), the OR is
 * evaluated instead as one lookup per row in an open-addressing set of the constants, each
 * converted to X's type exactly as the comparison converts it (by evaluating the constant's
 * side once), so the result is the OR's under three-valued logic: TRUE if some constant
 * equals x, else NULL if x or some constant is NULL, else FALSE. */
#define IN_SET_MIN 8

struct in_set {
    size_t mask;    /* slots - 1 */
    uint64_t *key;  /* fixed-width types: the value's 64-bit image */
    sx_str *str;    /* VARCHAR */
    mc2_i128 *wide; /* DEC128: the value (the key is its hash) */
    uint8_t *used;
    bool has_null;
};

/* Whether a and b are the same expression (pointer-equal, or the same node over the same
 * operands). */
static bool px_same(const mc2_pexpr *a, const mc2_pexpr *b)
{
    if (a == b) return true;
    if (a->kind != b->kind || a->op != b->op || !sx_type_eq(&a->type, &b->type) ||
        a->nargs != b->nargs || a->col != b->col || a->aux != b->aux || a->aux2 != b->aux2 ||
        a->negated != b->negated || a->kind == MC2_PX_CONST || a->kind == MC2_PX_LIKE ||
        a->kind == MC2_PX_FUNC)
        return false;
    for (unsigned i = 0; i < a->nargs; i++)
        if (!px_same(a->args[i], b->args[i])) return false;
    return true;
}

/* Only constants and casts of constants: no column, evaluated once. */
static bool px_constant(const mc2_pexpr *e)
{
    return e->kind == MC2_PX_CONST || (e->kind == MC2_PX_CAST && px_constant(e->args[0]));
}

static bool in_list_shape(const mc2_pexpr *e)
{
    if (e->kind != MC2_PX_OR || e->nargs < IN_SET_MIN) return false;
    for (unsigned i = 0; i < e->nargs; i++) {
        const mc2_pexpr *q = e->args[i];
        if (q->kind != MC2_PX_CMP || q->op != MC2_PX_EQ || !px_constant(q->args[1]) ||
            !px_same(q->args[0], e->args[0]->args[0]))
            return false;
    }
    return true;
}

static uint64_t in_key(enum mc2_type t, const sx_vec *v, size_t i)
{
    switch (t) {
    case MC2_T_DOUBLE: {
        double d = v->v.f64[i] == 0 ? 0.0 : v->v.f64[i]; /* -0 = 0, as the comparison says */
        uint64_t u;
        memcpy(&u, &d, 8);
        return u;
    }
    case MC2_T_DATE:
        return (uint64_t)(int64_t)v->v.i32[i];
    case MC2_T_BOOL:
        return v->v.b[i];
    case MC2_T_VARCHAR:
        return sx_hash_bytes((const uint8_t *)v->v.s[i].p, v->v.s[i].n);
    case MC2_T_DEC128:
        return sx_hash_bytes((const uint8_t *)&v->v.i128[i], 16);
    default:
        return (uint64_t)v->v.i64[i];
    }
}

static uint64_t in_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

/* The slot holding row i's value of v, or the empty slot where it would go. */
static size_t in_slot(const struct in_set *s, enum mc2_type t, const sx_vec *v, size_t i)
{
    uint64_t k = in_key(t, v, i);
    size_t h = (size_t)in_hash(k) & s->mask;
    while (s->used[h]) {
        if (s->key[h] == k &&
            (t != MC2_T_VARCHAR ||
             (s->str[h].n == v->v.s[i].n &&
              (s->str[h].n == 0 || memcmp(s->str[h].p, v->v.s[i].p, s->str[h].n) == 0))) &&
            (t != MC2_T_DEC128 || s->wide[h] == v->v.i128[i]))
            return h;
        h = (h + 1) & s->mask;
    }
    return h;
}

/* Evaluates constant expression c once (on a one-row chunk) and adds it to the set. */
static int in_add(sx_ex *ex, const mc2_pexpr *c, mc2_err *err)
{
    mc2_exec *x = ex->x;
    size_t cap = x->cap;
    x->cap = 1; /* its buffers hold one row */
    sx_ex *ce = sx_ex_new(x, c, err);
    x->cap = cap;
    sx_chunk one = {.n = 1, .cols = NULL};
    sx_vec *v;
    if (!ce || sx_ex_eval(ce, &one, &v, err)) {
        sx_ex_free(ce);
        return -1;
    }
    struct in_set *s = ex->set;
    enum mc2_type t = c->type.id;
    if (v->nulls && v->nulls[0]) {
        s->has_null = true;
    } else {
        size_t h = in_slot(s, t, v, 0);
        if (!s->used[h]) {
            s->used[h] = 1;
            s->key[h] = in_key(t, v, 0);
            if (t == MC2_T_DEC128) s->wide[h] = v->v.i128[0];
            if (t == MC2_T_VARCHAR) { /* the bytes live in the plan (a literal) or ce's heap */
                char *b = sx_alloc(x, v->v.s[0].n + 1, err);
                if (!b) return -1;
                memcpy(b, v->v.s[0].p, v->v.s[0].n);
                s->str[h] = (sx_str){b, v->v.s[0].n};
            }
        }
    }
    sx_ex_free(ce);
    return 0;
}

static int in_set_new(sx_ex *ex, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    mc2_exec *x = ex->x;
    size_t slots = 16;
    while (slots < 2 * (size_t)e->nargs) slots *= 2;
    struct in_set *s = ex->set = sx_alloc(x, sizeof *s, err);
    if (!s) return -1;
    memset(s, 0, sizeof *s);
    s->mask = slots - 1;
    s->key = sx_array(x, slots, sizeof *s->key, err);
    s->used = sx_alloc(x, slots, err);
    s->str = sx_array(x, slots, sizeof *s->str, err);
    s->wide = sx_array(x, slots, sizeof *s->wide, err);
    ex->kids = sx_array(x, 1, sizeof *ex->kids, err);
    if (!s->key || !s->used || !s->str || !s->wide || !ex->kids) return -1;
    memset(s->used, 0, slots);
    for (unsigned i = 0; i < e->nargs; i++)
        if (in_add(ex, e->args[i]->args[1], err)) return -1;
    ex->kids[0] = sx_ex_new(x, e->args[0]->args[0], err);
    return ex->kids[0] ? 0 : -1;
}

static int eval_in_set(sx_ex *ex, const sx_chunk *in, sx_vec **res, mc2_err *err)
{
    sx_vec *a;
    if (sx_ex_eval(ex->kids[0], in, &a, err)) return -1;
    const struct in_set *s = ex->set;
    enum mc2_type t = ex->e->args[0]->args[0]->type.id;
    uint8_t *o = ex->out.v.b = ex->valbuf, *nl = ex->nullbuf;
    bool anynull = false;
    for (size_t i = 0; i < in->n; i++) {
        uint8_t xn = a->nulls ? a->nulls[i] : 0;
        o[i] = !xn && s->used[in_slot(s, t, a, i)];
        nl[i] = !o[i] && (xn || s->has_null);
        anynull |= nl[i];
    }
    ex->out.nulls = anynull ? nl : NULL;
    *res = &ex->out;
    return 0;
}

/* ---- construction ------------------------------------------------------------------------ */

static int compile_like(sx_ex *ex, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    size_t n = e->val.slen;
    ex->pat = sx_alloc(ex->x, n + 1, err);
    ex->wild = sx_alloc(ex->x, n + 1, err);
    ex->seg_off = sx_array(ex->x, n + 2, sizeof *ex->seg_off, err);
    if (!ex->pat || !ex->wild || !ex->seg_off) return -1;
    const unsigned char *s = (const unsigned char *)e->val.s;
    size_t k = 0, nseg = 0;
    bool in_seg = false;
    ex->lead_pct = n > 0 && s[0] == '%';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '%' && !(e->escape >= 0 && c == e->escape)) {
            if (in_seg) in_seg = false;
            ex->trail_pct = true;
            continue;
        }
        ex->trail_pct = false;
        if (!in_seg) {
            ex->seg_off[nseg++] = (uint32_t)k;
            in_seg = true;
        }
        if (e->escape >= 0 && c == e->escape) {
            i++; /* the builder checked that a character follows */
            ex->pat[k] = s[i];
            ex->wild[k++] = 0;
        } else if (c == '_') {
            ex->pat[k] = 0;
            ex->wild[k++] = 1;
        } else {
            ex->pat[k] = c;
            ex->wild[k++] = 0;
        }
    }
    ex->seg_off[nseg] = (uint32_t)k;
    ex->nseg = nseg;
    if (n == 0) ex->trail_pct = false;
    return 0;
}

static void fill_const(sx_ex *ex, size_t cap)
{
    const mc2_pexpr *e = ex->e;
    if (e->val.null) {
        memset(ex->nullbuf, 1, cap);
        ex->out.nulls = ex->nullbuf;
        return; /* values stay zero */
    }
    ex->out.nulls = NULL;
    for (size_t i = 0; i < cap; i++) switch (e->type.id) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
            ex->out.v.i64[i] = e->val.i;
            break;
        case MC2_T_DEC128: /* a constant holds at most 18 digits (plan.h) */
            ex->out.v.i128[i] = e->val.i;
            break;
        case MC2_T_DOUBLE:
            ex->out.v.f64[i] = e->val.f;
            break;
        case MC2_T_DATE:
            ex->out.v.i32[i] = (int32_t)e->val.i;
            break;
        case MC2_T_BOOL:
            ex->out.v.b[i] = (uint8_t)e->val.i;
            break;
        case MC2_T_VARCHAR:
            ex->out.v.s[i].p = e->val.s;
            ex->out.v.s[i].n = (uint32_t)e->val.slen;
            break;
        }
}

/* Whether e refers to a column anywhere (else it is the same for every row). */
static bool px_has_col(const mc2_pexpr *e)
{
    if (e->kind == MC2_PX_COL) return true;
    for (unsigned i = 0; i < e->nargs; i++)
        if (px_has_col(e->args[i])) return true;
    return false;
}

/* Constant folding: a subtree without columns (DATE '1994-01-01' + INTERVAL '1' YEAR) is
 * evaluated once, on one row, and its value broadcast, instead of for every row. If that
 * evaluation fails (an overflow, say) the subtree stays unfolded, so the error surfaces only
 * if rows are evaluated, as before. */
static void fold(sx_ex *ex)
{
    sx_chunk one = {.n = 1, .cols = NULL};
    sx_vec *v;
    mc2_err e2;
    size_t cap = ex->x->cap, w = sx_width(ex->e->type.id);
    if (sx_ex_eval(ex, &one, &v, &e2)) return;
    uint8_t isnull = v->nulls ? v->nulls[0] : 0;
    if (v->v.p != ex->valbuf) memcpy(ex->valbuf, v->v.p, w);
    for (size_t i = 1; i < cap; i++) memcpy((uint8_t *)ex->valbuf + i * w, ex->valbuf, w);
    memset(ex->nullbuf, isnull, cap);
    ex->out.v.p = ex->valbuf;
    ex->out.nulls = isnull ? ex->nullbuf : NULL;
    ex->folded = true;
}

sx_ex *sx_ex_new(mc2_exec *x, const mc2_pexpr *e, mc2_err *err)
{
    sx_ex *ex = sx_alloc(x, sizeof *ex, err);
    if (!ex) return NULL;
    memset(ex, 0, sizeof *ex);
    ex->e = e;
    ex->x = x;
    if (in_list_shape(e)) {
        ex->nullbuf = sx_alloc(x, x->cap, err);
        ex->valbuf = sx_alloc(x, x->cap, err);
        return ex->nullbuf && ex->valbuf && in_set_new(ex, err) == 0 ? ex : NULL;
    }
    if (e->nargs) {
        ex->kids = sx_array(x, e->nargs, sizeof *ex->kids, err);
        if (!ex->kids) return NULL;
        for (unsigned i = 0; i < e->nargs; i++)
            if (!(ex->kids[i] = sx_ex_new(x, e->args[i], err))) return NULL;
    }
    if (e->kind == MC2_PX_COL) return ex;
    size_t cap = x->cap;
    ex->nullbuf = sx_alloc(x, cap, err);
    ex->valbuf = sx_array(x, cap, sx_width(e->type.id), err);
    ex->tmp = sx_alloc(x, cap, err);
    if (!ex->nullbuf || !ex->valbuf || !ex->tmp) return NULL;
    ex->out.v.p = ex->valbuf;
    if (e->kind == MC2_PX_CONST) fill_const(ex, cap);
    if (e->kind == MC2_PX_LIKE && compile_like(ex, err)) return NULL;
    if (e->kind != MC2_PX_CONST && !px_has_col(e)) fold(ex);
    return ex;
}

void sx_ex_free(sx_ex *ex)
{
    if (!ex) return;
    unsigned nk = ex->set ? 1 : ex->e->nargs;
    for (unsigned i = 0; i < nk; i++)
        if (ex->kids) sx_ex_free(ex->kids[i]);
    sx_heap_free(&ex->heap);
}

/* ---- helpers ----------------------------------------------------------------------------- */

/* out.nulls = a | b (NULL if neither has a NULL map). */
static void merge2(sx_ex *ex, const sx_vec *a, const sx_vec *b, size_t n)
{
    if (!a->nulls && (!b || !b->nulls)) {
        ex->out.nulls = NULL;
        return;
    }
    uint8_t *o = ex->nullbuf;
    if (a->nulls && b && b->nulls)
        for (size_t i = 0; i < n; i++) o[i] = a->nulls[i] | b->nulls[i];
    else
        memcpy(o, a->nulls ? a->nulls : b->nulls, n);
    ex->out.nulls = o;
}

/* Makes out.nulls writable (a copy of the current map or all zero). */
static uint8_t *own_nulls(sx_ex *ex, size_t n)
{
    if (ex->out.nulls != ex->nullbuf) {
        if (ex->out.nulls)
            memcpy(ex->nullbuf, ex->out.nulls, n);
        else
            memset(ex->nullbuf, 0, n);
        ex->out.nulls = ex->nullbuf;
    }
    return ex->nullbuf;
}

static const int64_t DEC_LIM = 1000000000000000000LL; /* 10^18 */

static __int128 pow10_128(unsigned k)
{
    __int128 r = 1;
    while (k--) r *= 10;
    return r;
}

/* n / d rounded half away from zero (d != 0). */
static __int128 div_round(__int128 n, __int128 d)
{
    __int128 q = n / d, r = n % d;
    __int128 ar = r < 0 ? -r : r, ad = d < 0 ? -d : d;
    if (2 * ar >= ad) q += ((n < 0) != (d < 0)) ? -1 : 1;
    return q;
}

static int overflow(const sx_ex *ex, mc2_err *err)
{
    char b[32];
    return mc2_err_set(err, MC2_E_INPUT, "numeric overflow: a result does not fit %s",
                       sx_type_name(&ex->e->type, b));
}

/* ---- arithmetic -------------------------------------------------------------------------- */

/* 10^38: a wide DECIMAL's magnitude stays below it. */
#define DEC38_LIM ((__int128)10000000000000000000ULL * (__int128)10000000000000000000ULL)

/* Arithmetic giving a wide DECIMAL: both operands are DECIMAL(38, s) (mc2_px_arith casts). */
static int eval_arith_wide(sx_ex *ex, sx_vec **k, size_t n, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    mc2_i128 *o = ex->out.v.i128;
    const mc2_i128 *x = k[0]->v.i128;
    bool bad = false;
    if (e->op == MC2_PX_NEG) {
        ex->out.nulls = k[0]->nulls;
        for (size_t i = 0; i < n; i++) o[i] = -x[i]; /* |x| < 10^38: no overflow */
        return 0;
    }
    const mc2_i128 *y = k[1]->v.i128;
    merge2(ex, k[0], k[1], n);
    uint8_t *nl = NULL;
    __int128 f = e->op == MC2_PX_DIV ? pow10_128((unsigned)e->aux) : 1;
    for (size_t i = 0; i < n; i++) {
        __int128 a = x[i], b = y[i], r = 0;
        switch (e->op) {
        case MC2_PX_ADD:
            r = a + b; /* each below 10^38 < 2^127 / 2: no wrap */
            break;
        case MC2_PX_SUB:
            r = a - b;
            break;
        case MC2_PX_MUL:
            bad |= __builtin_mul_overflow(a, b, &r);
            break;
        case MC2_PX_DIV:
        case MC2_PX_MOD:
            if (b == 0) {
                if (!nl) nl = own_nulls(ex, n);
                nl[i] = 1;
                break;
            }
            if (e->op == MC2_PX_MOD) {
                r = b == -1 ? 0 : a % b;
                break;
            }
            bad |= __builtin_mul_overflow(a, f, &r); /* a * 10^aux must fit 127 bits */
            if (!bad) r = div_round(r, b);
            break;
        }
        bad |= r >= DEC38_LIM || r <= -DEC38_LIM;
        o[i] = bad ? 0 : r;
    }
    return bad ? overflow(ex, err) : 0;
}

static int eval_arith(sx_ex *ex, sx_vec **k, size_t n, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    if (e->type.id == MC2_T_DEC128) return eval_arith_wide(ex, k, n, err);
    if (e->op == MC2_PX_NEG) {
        ex->out.nulls = k[0]->nulls;
        if (e->type.id == MC2_T_DOUBLE) {
            for (size_t i = 0; i < n; i++) ex->out.v.f64[i] = -k[0]->v.f64[i];
            return 0;
        }
        bool bad = false;
        for (size_t i = 0; i < n; i++) {
            bad |= k[0]->v.i64[i] == INT64_MIN;
            ex->out.v.i64[i] = -(k[0]->v.i64[i] | (k[0]->v.i64[i] == INT64_MIN));
        }
        return bad ? overflow(ex, err) : 0;
    }
    const sx_vec *a = k[0], *b = k[1];
    merge2(ex, a, b, n);
    if (e->type.id == MC2_T_DOUBLE) {
        const double *x = a->v.f64, *y = b->v.f64;
        double *o = ex->out.v.f64;
        switch (e->op) {
        case MC2_PX_ADD:
            for (size_t i = 0; i < n; i++) o[i] = x[i] + y[i];
            break;
        case MC2_PX_SUB:
            for (size_t i = 0; i < n; i++) o[i] = x[i] - y[i];
            break;
        case MC2_PX_MUL:
            for (size_t i = 0; i < n; i++) o[i] = x[i] * y[i];
            break;
        case MC2_PX_DIV:
        case MC2_PX_MOD: {
            uint8_t *nl = NULL;
            for (size_t i = 0; i < n; i++) {
                if (y[i] == 0) {
                    if (!nl) nl = own_nulls(ex, n);
                    nl[i] = 1;
                    o[i] = 0;
                } else
                    o[i] = e->op == MC2_PX_DIV ? x[i] / y[i] : fmod(x[i], y[i]);
            }
            break;
        }
        }
        for (size_t i = 0; i < n; i++)
            if (!isfinite(o[i])) return overflow(ex, err);
        return 0;
    }
    const int64_t *x = a->v.i64, *y = b->v.i64;
    int64_t *o = ex->out.v.i64;
    bool bad = false;
    bool dec = e->type.id == MC2_T_DECIMAL;
    switch (e->op) {
    case MC2_PX_ADD:
        for (size_t i = 0; i < n; i++) bad |= __builtin_add_overflow(x[i], y[i], &o[i]);
        break;
    case MC2_PX_SUB:
        for (size_t i = 0; i < n; i++) bad |= __builtin_sub_overflow(x[i], y[i], &o[i]);
        break;
    case MC2_PX_MUL:
        if (dec)
            for (size_t i = 0; i < n; i++) {
                __int128 r = (__int128)x[i] * y[i];
                bad |= r >= DEC_LIM || r <= -DEC_LIM;
                o[i] = (int64_t)r;
            }
        else
            for (size_t i = 0; i < n; i++) bad |= __builtin_mul_overflow(x[i], y[i], &o[i]);
        break;
    case MC2_PX_MOD: {
        uint8_t *nl = NULL;
        for (size_t i = 0; i < n; i++) {
            if (y[i] == 0) {
                if (!nl) nl = own_nulls(ex, n);
                nl[i] = 1;
                o[i] = 0;
            } else
                o[i] = y[i] == -1 ? 0 : x[i] % y[i];
        }
        break;
    }
    case MC2_PX_DIV: {
        uint8_t *nl = NULL;
        __int128 f = pow10_128((unsigned)e->aux);
        for (size_t i = 0; i < n; i++) {
            if (y[i] == 0) {
                if (!nl) nl = own_nulls(ex, n);
                nl[i] = 1;
                o[i] = 0;
                continue;
            }
            __int128 q = div_round((__int128)x[i] * f, y[i]);
            bad |= q >= DEC_LIM || q <= -DEC_LIM;
            o[i] = (int64_t)q;
        }
        return bad ? overflow(ex, err) : 0;
    }
    }
    if (dec && !bad)
        for (size_t i = 0; i < n; i++) bad |= o[i] >= DEC_LIM || o[i] <= -DEC_LIM;
    return bad ? overflow(ex, err) : 0;
}

/* ---- comparison -------------------------------------------------------------------------- */

static int str_cmp(sx_str a, sx_str b)
{
    uint32_t m = a.n < b.n ? a.n : b.n;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    if (c) return c;
    return (a.n > b.n) - (a.n < b.n);
}

/* the operands through restrict pointers: o (bytes) may otherwise alias them, which makes the
 * compiler reload an operand per row */
#define CMP_LOOP(X0, Y0)                                                                           \
    __typeof__((X0)[0]) const *restrict X = (X0), *restrict Y = (Y0);                              \
    uint8_t *restrict o = o0;                                                                      \
    switch (op) {                                                                                  \
    case MC2_PX_EQ:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] == Y[i];                                        \
        break;                                                                                     \
    case MC2_PX_NE:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] != Y[i];                                        \
        break;                                                                                     \
    case MC2_PX_LT:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] < Y[i];                                         \
        break;                                                                                     \
    case MC2_PX_LE:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] <= Y[i];                                        \
        break;                                                                                     \
    case MC2_PX_GT:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] > Y[i];                                         \
        break;                                                                                     \
    case MC2_PX_GE:                                                                                \
        for (size_t i = 0; i < n; i++) o[i] = X[i] >= Y[i];                                        \
        break;                                                                                     \
    }

/* x = y for strings of n bytes each: short ones (most keys and codes) without a call */
static inline bool str_eq(const char *x, const char *y, uint32_t n)
{
    uint64_t a[4], b[4];
    if (n >= 8 && n <= 16) {
        memcpy(a, x, 8);
        memcpy(b, y, 8);
        memcpy(a + 1, x + n - 8, 8);
        memcpy(b + 1, y + n - 8, 8);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
    }
    if (n > 16 && n <= 32) {
        memcpy(a, x, 16);
        memcpy(b, y, 16);
        memcpy(a + 2, x + n - 16, 16);
        memcpy(b + 2, y + n - 16, 16);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3])) == 0;
    }
    return n == 0 || memcmp(x, y, n) == 0;
}

static void eval_cmp(sx_ex *ex, sx_vec **k, size_t n)
{
    const sx_vec *a = k[0], *b = k[1];
    int op = ex->e->op;
    uint8_t *o0 = ex->out.v.b;
    merge2(ex, a, b, n);
    switch (ex->e->args[0]->type.id) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL: {
        CMP_LOOP(a->v.i64, b->v.i64);
        break;
    }
    case MC2_T_DOUBLE: {
        CMP_LOOP(a->v.f64, b->v.f64);
        break;
    }
    case MC2_T_DEC128: {
        CMP_LOOP(a->v.i128, b->v.i128);
        break;
    }
    case MC2_T_DATE: {
        CMP_LOOP(a->v.i32, b->v.i32);
        break;
    }
    case MC2_T_BOOL: {
        CMP_LOOP(a->v.b, b->v.b);
        break;
    }
    case MC2_T_VARCHAR: {
        int8_t *t = (int8_t *)ex->tmp;
        uint8_t *o = o0;
        if (op == MC2_PX_EQ || op == MC2_PX_NE) {
            for (size_t i = 0; i < n; i++) {
                sx_str x = a->v.s[i], y = b->v.s[i];
                o[i] = (x.n == y.n && str_eq(x.p, y.p, x.n)) ^ (op == MC2_PX_NE);
            }
            break;
        }
        for (size_t i = 0; i < n; i++) {
            int c = str_cmp(a->v.s[i], b->v.s[i]);
            t[i] = (int8_t)((c > 0) - (c < 0));
        }
        switch (op) {
        case MC2_PX_LT:
            for (size_t i = 0; i < n; i++) o[i] = t[i] < 0;
            break;
        case MC2_PX_LE:
            for (size_t i = 0; i < n; i++) o[i] = t[i] <= 0;
            break;
        case MC2_PX_GT:
            for (size_t i = 0; i < n; i++) o[i] = t[i] > 0;
            break;
        default:
            for (size_t i = 0; i < n; i++) o[i] = t[i] >= 0;
            break;
        }
        break;
    }
    }
    if (ex->out.nulls)
        for (size_t i = 0; i < n; i++) o0[i] &= (uint8_t)!ex->out.nulls[i];
}

/* ---- logic ------------------------------------------------------------------------------- */

static void eval_logic(sx_ex *ex, sx_vec **k, size_t n)
{
    bool is_and = ex->e->kind == MC2_PX_AND;
    uint8_t *o = ex->out.v.b, *nl = ex->nullbuf;
    memcpy(o, k[0]->v.b, n);
    if (k[0]->nulls)
        memcpy(nl, k[0]->nulls, n);
    else
        memset(nl, 0, n);
    bool any = k[0]->nulls != NULL;
    for (unsigned j = 1; j < ex->e->nargs; j++) {
        const uint8_t *v = k[j]->v.b, *vn = k[j]->nulls;
        if (!vn && !any) {
            if (is_and)
                for (size_t i = 0; i < n; i++) o[i] &= v[i];
            else
                for (size_t i = 0; i < n; i++) o[i] |= v[i];
            continue;
        }
        any = true;
        for (size_t i = 0; i < n; i++) {
            uint8_t bn = vn ? vn[i] : 0;
            if (is_and) {
                /* false if either is a known false; else NULL if either is NULL */
                uint8_t af = !nl[i] && !o[i], bf = !bn && !v[i];
                uint8_t f = af | bf;
                nl[i] = (uint8_t)((!f) & (nl[i] | bn));
                o[i] = (uint8_t)(!f & !nl[i]);
            } else {
                uint8_t at = !nl[i] && o[i], bt = !bn && v[i];
                uint8_t t = at | bt;
                nl[i] = (uint8_t)((!t) & (nl[i] | bn));
                o[i] = t;
            }
        }
    }
    ex->out.nulls = any ? nl : NULL;
}

/* ---- LIKE -------------------------------------------------------------------------------- */

static size_t cp_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Does segment [p, p+m) (with wildcards) match s at the start? Sets *used to bytes of s. */
static bool seg_at(const uint8_t *p, const uint8_t *w, size_t m, const char *s, size_t n,
                   size_t *used)
{
    size_t j = 0;
    for (size_t i = 0; i < m; i++) {
        if (j >= n) return false;
        if (w[i]) {
            size_t l = cp_len((unsigned char)s[j]);
            j += l;
            if (j > n) return false;
        } else {
            if ((uint8_t)s[j] != p[i]) return false;
            j++;
        }
    }
    *used = j;
    return true;
}

static bool like_one(const sx_ex *ex, const char *s, size_t n)
{
    size_t pos = 0;
    for (size_t k = 0; k < ex->nseg; k++) {
        const uint8_t *p = ex->pat + ex->seg_off[k], *w = ex->wild + ex->seg_off[k];
        size_t m = ex->seg_off[k + 1] - ex->seg_off[k];
        bool first = k == 0 && !ex->lead_pct;
        bool last = k + 1 == ex->nseg && !ex->trail_pct;
        size_t used;
        if (first) {
            if (!seg_at(p, w, m, s + pos, n - pos, &used)) return false;
            if (last && pos + used != n) return false;
            pos += used;
            continue;
        }
        if (last) {
            /* must end exactly at n: try every code point start from pos */
            for (size_t q = pos; q <= n; q++) {
                if (q < n && ((unsigned char)s[q] & 0xC0) == 0x80) continue;
                if (seg_at(p, w, m, s + q, n - q, &used) && q + used == n) return true;
            }
            return false;
        }
        bool plain = memchr(w, 1, m) == NULL;
        if (plain) {
            const char *f = memmem(s + pos, n - pos, p, m);
            if (!f) return false;
            pos = (size_t)(f - s) + m;
        } else {
            size_t q = pos;
            for (;; q++) {
                if (q > n) return false;
                if (q < n && ((unsigned char)s[q] & 0xC0) == 0x80) continue;
                if (seg_at(p, w, m, s + q, n - q, &used)) break;
            }
            pos = q + used;
        }
    }
    if (ex->nseg == 0) return ex->lead_pct || n == 0;
    return true;
}

static void eval_like(sx_ex *ex, sx_vec **k, size_t n)
{
    const sx_vec *a = k[0];
    uint8_t neg = ex->e->negated;
    for (size_t i = 0; i < n; i++) ex->out.v.b[i] = like_one(ex, a->v.s[i].p, a->v.s[i].n) ^ neg;
    ex->out.nulls = a->nulls;
    if (a->nulls)
        for (size_t i = 0; i < n; i++) ex->out.v.b[i] &= (uint8_t)!a->nulls[i];
}

/* ---- CASE, COALESCE ---------------------------------------------------------------------- */

static void copy_row(enum mc2_type t, sx_vec *o, size_t i, const sx_vec *s)
{
    switch (t) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
        o->v.i64[i] = s->v.i64[i];
        break;
    case MC2_T_DEC128:
        o->v.i128[i] = s->v.i128[i];
        break;
    case MC2_T_DOUBLE:
        o->v.f64[i] = s->v.f64[i];
        break;
    case MC2_T_DATE:
        o->v.i32[i] = s->v.i32[i];
        break;
    case MC2_T_BOOL:
        o->v.b[i] = s->v.b[i];
        break;
    case MC2_T_VARCHAR:
        o->v.s[i] = s->v.s[i];
        break;
    }
}

static void eval_case(sx_ex *ex, sx_vec **k, size_t n)
{
    unsigned nw = (ex->e->nargs - 1) / 2;
    enum mc2_type t = ex->e->type.id;
    uint8_t *done = ex->tmp;
    memset(done, 0, n);
    uint8_t *nl = ex->nullbuf;
    ex->out.nulls = nl;
    for (unsigned w = 0; w < nw; w++) {
        const sx_vec *c = k[2 * w], *v = k[2 * w + 1];
        for (size_t i = 0; i < n; i++) {
            if (done[i] || !c->v.b[i] || (c->nulls && c->nulls[i])) continue;
            done[i] = 1;
            copy_row(t, &ex->out, i, v);
            nl[i] = v->nulls ? v->nulls[i] : 0;
        }
    }
    const sx_vec *el = k[2 * nw];
    for (size_t i = 0; i < n; i++)
        if (!done[i]) {
            copy_row(t, &ex->out, i, el);
            nl[i] = el->nulls ? el->nulls[i] : 0;
        }
}

static void eval_coalesce(sx_ex *ex, sx_vec **k, size_t n)
{
    enum mc2_type t = ex->e->type.id;
    uint8_t *nl = ex->nullbuf;
    memset(nl, 1, n);
    memset(ex->valbuf, 0, n * sx_width(t));
    for (unsigned j = ex->e->nargs; j-- > 0;) {
        const sx_vec *v = k[j];
        for (size_t i = 0; i < n; i++)
            if (!v->nulls || !v->nulls[i]) {
                copy_row(t, &ex->out, i, v);
                nl[i] = 0;
            }
    }
    ex->out.nulls = nl;
}

/* ---- CAST -------------------------------------------------------------------------------- */

/* Truncates s to at most `len` code points. */
static uint32_t trunc_cp(const char *s, uint32_t n, uint32_t len)
{
    uint32_t cps = 0;
    for (uint32_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (cps == len) return i;
            cps++;
        }
    return n;
}

static int cast_fail(const sx_ex *ex, const char *why, mc2_err *err)
{
    char b1[32], b2[32];
    return mc2_err_set(err, MC2_E_INPUT, "CAST from %s to %s failed: %s",
                       sx_type_name(&ex->e->args[0]->type, b1), sx_type_name(&ex->e->type, b2),
                       why);
}

/* Row i of an exact-number vector (INT64, DECIMAL, DEC128) as a 128-bit scaled integer. */
static __int128 exact_at(enum mc2_type t, const sx_vec *a, size_t i)
{
    return t == MC2_T_DEC128 ? (__int128)a->v.i128[i] : (__int128)a->v.i64[i];
}

/* A CAST between numbers where either side is a wide DECIMAL: the value is rescaled in 128
 * bits (rounded half away from zero when the scale drops) and checked against the target's
 * range: 10^p for a DECIMAL(p,s), int64 for INT64. */
static int cast_wide(sx_ex *ex, const sx_vec *a, size_t n, mc2_err *err)
{
    const mc2_coltype *ft = &ex->e->args[0]->type, *tt = &ex->e->type;
    unsigned fs = mc2_type_is_decimal(ft->id) ? ft->scale : 0;
    unsigned ts = mc2_type_is_decimal(tt->id) ? tt->scale : 0;
    bool bad = false;
    if (tt->id == MC2_T_DOUBLE) { /* from DEC128 */
        double f = (double)pow10_128(fs);
        for (size_t i = 0; i < n; i++) ex->out.v.f64[i] = (double)a->v.i128[i] / f;
        return 0;
    }
    __int128 lim = tt->id == MC2_T_INT64 ? 0 : pow10_128(tt->precision);
    if (ft->id == MC2_T_DOUBLE) { /* to DEC128 */
        double f = (double)pow10_128(ts), dl = (double)lim;
        for (size_t i = 0; i < n; i++) {
            double r = round(a->v.f64[i] * f);
            bad |= !(r > -dl && r < dl);
            ex->out.v.i128[i] = bad ? 0 : (__int128)r;
        }
        return bad ? cast_fail(ex, "value out of range", err) : 0;
    }
    if (ft->id != MC2_T_INT64 && !mc2_type_is_decimal(ft->id))
        return mc2_err_set(err, MC2_E_INTERNAL, "CAST: unexpected wide DECIMAL conversion");
    __int128 up = ts >= fs ? pow10_128(ts - fs) : 1, down = ts < fs ? pow10_128(fs - ts) : 1;
    for (size_t i = 0; i < n; i++) {
        __int128 r = exact_at(ft->id, a, i);
        if (down > 1)
            r = div_round(r, down);
        else
            bad |= __builtin_mul_overflow(r, up, &r);
        if (tt->id == MC2_T_INT64)
            bad |= r > INT64_MAX || r < INT64_MIN;
        else
            bad |= r >= lim || r <= -lim;
        if (bad) r = 0;
        switch (tt->id) {
        case MC2_T_DEC128:
            ex->out.v.i128[i] = r;
            break;
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
            ex->out.v.i64[i] = (int64_t)r;
            break;
        default:
            return mc2_err_set(err, MC2_E_INTERNAL, "CAST: unexpected wide DECIMAL conversion");
        }
    }
    return bad ? cast_fail(ex, "value out of range", err) : 0;
}

static int eval_cast(sx_ex *ex, sx_vec **k, size_t n, mc2_err *err)
{
    const mc2_coltype *ft = &ex->e->args[0]->type, *tt = &ex->e->type;
    const sx_vec *a = k[0];
    ex->out.nulls = a->nulls;
    const uint8_t *nl = a->nulls;
    unsigned fs = ft->id == MC2_T_DECIMAL ? ft->scale : 0;
    unsigned ts = tt->id == MC2_T_DECIMAL ? tt->scale : 0;
    int64_t tlim = tt->id == MC2_T_DECIMAL ? mc2_pow10(tt->precision) : 0;
    bool bad = false;
    if (tt->id == MC2_T_VARCHAR) {
        sx_heap_reset(&ex->heap);
        for (size_t i = 0; i < n; i++) {
            sx_str *o = &ex->out.v.s[i];
            if (nl && nl[i]) {
                o->p = "";
                o->n = 0;
                continue;
            }
            if (ft->id == MC2_T_VARCHAR) {
                *o = a->v.s[i];
                o->n = trunc_cp(o->p, o->n, tt->length);
                continue;
            }
            char *buf = sx_heap_alloc(&ex->heap, MC2_VALUE_TEXT_MAX, err);
            if (!buf) return -1;
            size_t l = 0;
            switch (ft->id) {
            case MC2_T_INT64:
                l = mc2_format_int64(a->v.i64[i], buf);
                break;
            case MC2_T_DECIMAL:
                l = mc2_format_decimal(a->v.i64[i], fs, buf);
                break;
            case MC2_T_DEC128:
                l = mc2_format_decimal128(a->v.i128[i], ft->scale, buf);
                break;
            case MC2_T_DOUBLE:
                l = mc2_format_double(a->v.f64[i], buf);
                break;
            case MC2_T_DATE:
                l = mc2_format_date(a->v.i32[i], buf);
                break;
            case MC2_T_BOOL:
                l = mc2_format_bool(a->v.b[i], buf);
                break;
            case MC2_T_VARCHAR:
                break;
            }
            o->p = buf;
            o->n = trunc_cp(buf, (uint32_t)l, tt->length);
        }
        return 0;
    }
    if (ft->id == MC2_T_VARCHAR) {
        const char *why = NULL;
        for (size_t i = 0; i < n; i++) {
            if (nl && nl[i]) {
                memset((char *)ex->valbuf + i * sx_width(tt->id), 0, sx_width(tt->id));
                continue;
            }
            const char *s = a->v.s[i].p;
            size_t l = a->v.s[i].n;
            while (l && s[0] == ' ') s++, l--;
            while (l && s[l - 1] == ' ') l--;
            int r = 0;
            switch (tt->id) {
            case MC2_T_INT64:
                r = mc2_parse_int64(s, l, &ex->out.v.i64[i], &why);
                break;
            case MC2_T_DECIMAL:
                r = mc2_parse_decimal(s, l, tt->precision, tt->scale, &ex->out.v.i64[i], &why);
                break;
            case MC2_T_DEC128: {
                mc2_i128 w = 0;
                r = mc2_parse_decimal128(s, l, tt->precision, tt->scale, &w, &why);
                ex->out.v.i128[i] = w;
                break;
            }
            case MC2_T_DOUBLE:
                r = mc2_parse_double(s, l, &ex->out.v.f64[i], &why);
                break;
            case MC2_T_DATE:
                r = mc2_parse_date(s, l, &ex->out.v.i32[i], &why);
                break;
            case MC2_T_BOOL:
                r = mc2_parse_bool(s, l, &ex->out.v.b[i], &why);
                break;
            case MC2_T_VARCHAR:
                break;
            }
            if (r) return cast_fail(ex, why ? why : "bad value", err);
        }
        return 0;
    }
    if (ft->id == MC2_T_DEC128 || tt->id == MC2_T_DEC128) return cast_wide(ex, a, n, err);
    switch (tt->id) {
    case MC2_T_INT64:
        if (ft->id == MC2_T_INT64 || ft->id == MC2_T_BOOL) {
            for (size_t i = 0; i < n; i++)
                ex->out.v.i64[i] = ft->id == MC2_T_BOOL ? a->v.b[i] : a->v.i64[i];
        } else if (ft->id == MC2_T_DECIMAL) {
            for (size_t i = 0; i < n; i++)
                ex->out.v.i64[i] = (int64_t)div_round(a->v.i64[i], mc2_pow10(fs));
        } else {
            for (size_t i = 0; i < n; i++) {
                double r = round(a->v.f64[i]);
                bad |= !(r >= -9.2233720368547758e18 && r < 9.2233720368547758e18);
                ex->out.v.i64[i] = bad ? 0 : (int64_t)r;
            }
        }
        break;
    case MC2_T_DECIMAL:
        if (ft->id == MC2_T_DOUBLE) {
            double f = (double)mc2_pow10(ts);
            for (size_t i = 0; i < n; i++) {
                double r = round(a->v.f64[i] * f);
                bad |= !(r > -(double)tlim && r < (double)tlim);
                ex->out.v.i64[i] = bad ? 0 : (int64_t)r;
            }
        } else if (ts >= fs) {
            int64_t f = mc2_pow10(ts - fs);
            for (size_t i = 0; i < n; i++) {
                __int128 r = (__int128)a->v.i64[i] * f;
                bad |= r >= tlim || r <= -tlim;
                ex->out.v.i64[i] = (int64_t)r;
            }
        } else {
            int64_t f = mc2_pow10(fs - ts);
            for (size_t i = 0; i < n; i++) {
                int64_t r = (int64_t)div_round(a->v.i64[i], f);
                bad |= r >= tlim || r <= -tlim;
                ex->out.v.i64[i] = r;
            }
        }
        break;
    case MC2_T_DOUBLE:
        if (ft->id == MC2_T_DOUBLE)
            memcpy(ex->out.v.f64, a->v.f64, n * 8);
        else {
            double f = (double)mc2_pow10(fs);
            for (size_t i = 0; i < n; i++) ex->out.v.f64[i] = (double)a->v.i64[i] / f;
        }
        break;
    case MC2_T_BOOL:
        for (size_t i = 0; i < n; i++)
            ex->out.v.b[i] = ft->id == MC2_T_BOOL ? a->v.b[i] : a->v.i64[i] != 0;
        break;
    case MC2_T_DATE:
        memcpy(ex->out.v.i32, a->v.i32, n * 4);
        break;
    case MC2_T_VARCHAR:
    case MC2_T_DEC128: /* cast_wide */
        break;
    }
    if (bad) return cast_fail(ex, "value out of range", err);
    return 0;
}

/* ---- functions --------------------------------------------------------------------------- */

static int32_t add_months(int32_t d, int64_t months, bool *bad)
{
    int y;
    unsigned m, day;
    mc2_civil_from_days(d, &y, &m, &day);
    int64_t t = (int64_t)y * 12 + (m - 1) + months;
    int64_t ny = t >= 0 ? t / 12 : -((-t + 11) / 12);
    unsigned nm = (unsigned)(t - ny * 12) + 1;
    if (ny < 1 || ny > 9999) {
        *bad = true;
        return 0;
    }
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned lim = mdays[nm - 1];
    if (nm == 2 && ((ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0)) lim = 29;
    if (day > lim) day = lim;
    return mc2_days_from_civil((int)ny, nm, day);
}

static int eval_func(sx_ex *ex, sx_vec **k, size_t n, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    const sx_vec *a = k[0];
    switch (e->op) {
    case MC2_PF_COALESCE:
        eval_coalesce(ex, k, n);
        return 0;
    case MC2_PF_SUBSTRING: {
        merge2(ex, a, k[1], n);
        if (e->nargs == 3) merge2(ex, &ex->out, k[2], n);
        for (size_t i = 0; i < n; i++) {
            sx_str s = a->v.s[i];
            int64_t start = k[1]->v.i64[i];
            int64_t end = INT64_MAX; /* exclusive, 1-based */
            if (e->nargs == 3) {
                int64_t c = k[2]->v.i64[i];
                if (c < 0) c = 0;
                end = start > INT64_MAX - c ? INT64_MAX : start + c;
            }
            if (start < 1) start = 1;
            sx_str o = {"", 0};
            if (end > start) {
                /* walk code points */
                int64_t cp = 1;
                uint32_t b0 = s.n, b1 = s.n;
                for (uint32_t j = 0; j <= s.n; j++) {
                    if (j < s.n && ((unsigned char)s.p[j] & 0xC0) == 0x80) continue;
                    if (cp == start) b0 = j;
                    if (cp == end) {
                        b1 = j;
                        break;
                    }
                    cp++;
                }
                if (b0 < b1) {
                    o.p = s.p + b0;
                    o.n = b1 - b0;
                }
            }
            ex->out.v.s[i] = o;
        }
        return 0;
    }
    case MC2_PF_UPPER:
    case MC2_PF_LOWER: {
        ex->out.nulls = a->nulls;
        sx_heap_reset(&ex->heap);
        bool up = e->op == MC2_PF_UPPER;
        for (size_t i = 0; i < n; i++) {
            sx_str s = a->v.s[i];
            char *o = sx_heap_alloc(&ex->heap, s.n, err);
            if (!o) return -1;
            for (uint32_t j = 0; j < s.n; j++) {
                char c = s.p[j];
                if (up && c >= 'a' && c <= 'z') c = (char)(c - 32);
                if (!up && c >= 'A' && c <= 'Z') c = (char)(c + 32);
                o[j] = c;
            }
            ex->out.v.s[i].p = o;
            ex->out.v.s[i].n = s.n;
        }
        return 0;
    }
    case MC2_PF_LENGTH:
        ex->out.nulls = a->nulls;
        for (size_t i = 0; i < n; i++) {
            int64_t c = 0;
            for (uint32_t j = 0; j < a->v.s[i].n; j++)
                c += ((unsigned char)a->v.s[i].p[j] & 0xC0) != 0x80;
            ex->out.v.i64[i] = c;
        }
        return 0;
    case MC2_PF_TRIM: {
        ex->out.nulls = a->nulls;
        const char *cs = e->val.s;
        size_t nc = e->val.slen;
        for (size_t i = 0; i < n; i++) {
            const char *p = a->v.s[i].p;
            uint32_t l = a->v.s[i].n;
            if (e->aux != MC2_PX_TRIM_TRAILING)
                while (l && memchr(cs, p[0], nc)) p++, l--;
            if (e->aux != MC2_PX_TRIM_LEADING)
                while (l && memchr(cs, p[l - 1], nc)) l--;
            ex->out.v.s[i].p = p;
            ex->out.v.s[i].n = l;
        }
        return 0;
    }
    case MC2_PF_CONCAT: {
        merge2(ex, a, NULL, n);
        for (unsigned j = 1; j < e->nargs; j++) merge2(ex, &ex->out, k[j], n);
        sx_heap_reset(&ex->heap);
        for (size_t i = 0; i < n; i++) {
            size_t tot = 0;
            for (unsigned j = 0; j < e->nargs; j++) tot += k[j]->v.s[i].n;
            if (ex->out.nulls && ex->out.nulls[i]) tot = 0;
            if (tot > 4u * MC2_VARCHAR_MAX)
                return mc2_err_set(err, MC2_E_LIMIT, "CONCAT result longer than %u characters",
                                   MC2_VARCHAR_MAX);
            char *o = sx_heap_alloc(&ex->heap, tot, err);
            if (!o) return -1;
            size_t off = 0;
            if (tot)
                for (unsigned j = 0; j < e->nargs; j++) {
                    memcpy(o + off, k[j]->v.s[i].p, k[j]->v.s[i].n);
                    off += k[j]->v.s[i].n;
                }
            if (trunc_cp(o, (uint32_t)tot, e->type.length) != tot)
                return mc2_err_set(err, MC2_E_LIMIT, "CONCAT result longer than %u characters",
                                   e->type.length);
            ex->out.v.s[i].p = o;
            ex->out.v.s[i].n = (uint32_t)tot;
        }
        return 0;
    }
    case MC2_PF_EXTRACT:
        ex->out.nulls = a->nulls;
        for (size_t i = 0; i < n; i++) {
            int y;
            unsigned m, d;
            mc2_civil_from_days(a->v.i32[i], &y, &m, &d);
            ex->out.v.i64[i] = e->aux == MC2_PX_YEAR    ? (int64_t)y
                               : e->aux == MC2_PX_MONTH ? (int64_t)m
                                                        : (int64_t)d;
        }
        return 0;
    case MC2_PF_DATE_ADD: {
        ex->out.nulls = a->nulls;
        bool bad = false;
        for (size_t i = 0; i < n; i++) {
            if (a->nulls && a->nulls[i]) {
                ex->out.v.i32[i] = 0;
                continue;
            }
            int64_t r;
            if (e->aux2 == MC2_PX_DAY)
                r = (int64_t)a->v.i32[i] + e->aux;
            else
                r = add_months(a->v.i32[i], e->aux2 == MC2_PX_YEAR ? e->aux * 12 : e->aux, &bad);
            bad |= r < MC2_DATE_MIN || r > MC2_DATE_MAX;
            ex->out.v.i32[i] = bad ? 0 : (int32_t)r;
        }
        if (bad) return mc2_err_set(err, MC2_E_INPUT, "DATE +/- INTERVAL: result out of range");
        return 0;
    }
    case MC2_PF_ABS:
        ex->out.nulls = a->nulls;
        if (e->type.id == MC2_T_DOUBLE) {
            for (size_t i = 0; i < n; i++) ex->out.v.f64[i] = fabs(a->v.f64[i]);
        } else if (e->type.id == MC2_T_DEC128) {
            for (size_t i = 0; i < n; i++) {
                mc2_i128 v = a->v.i128[i];
                ex->out.v.i128[i] = v < 0 ? -v : v;
            }
        } else {
            bool bad = false;
            for (size_t i = 0; i < n; i++) {
                int64_t v = a->v.i64[i];
                bad |= v == INT64_MIN;
                ex->out.v.i64[i] = v < 0 ? -(v | (v == INT64_MIN)) : v;
            }
            if (bad) return overflow(ex, err);
        }
        return 0;
    case MC2_PF_ROUND: {
        ex->out.nulls = a->nulls;
        unsigned d = (unsigned)e->aux;
        if (e->type.id == MC2_T_DOUBLE) {
            double f = pow(10.0, d);
            for (size_t i = 0; i < n; i++) {
                double v = a->v.f64[i];
                double r = round(v * f) / f;
                ex->out.v.f64[i] = isfinite(r) && fabs(v) < 1e15 ? r : v;
            }
        } else if (e->type.id == MC2_T_DEC128) {
            __int128 f = d < e->type.scale ? pow10_128(e->type.scale - d) : 1;
            bool bad = false;
            for (size_t i = 0; i < n; i++) {
                __int128 r = a->v.i128[i];
                if (f > 1) {
                    r = div_round(r, f);
                    bad |= __builtin_mul_overflow(r, f, &r) || r >= DEC38_LIM || r <= -DEC38_LIM;
                }
                ex->out.v.i128[i] = bad ? 0 : r;
            }
            if (bad) return overflow(ex, err);
        } else if (e->type.id == MC2_T_DECIMAL && d < e->type.scale) {
            int64_t f = mc2_pow10(e->type.scale - d);
            bool bad = false;
            for (size_t i = 0; i < n; i++) {
                __int128 r = div_round(a->v.i64[i], f) * f;
                bad |= r >= DEC_LIM || r <= -DEC_LIM;
                ex->out.v.i64[i] = (int64_t)r;
            }
            if (bad) return overflow(ex, err);
        } else {
            memcpy(ex->out.v.i64, a->v.i64, n * 8);
        }
        return 0;
    }
    }
    return mc2_err_set(err, MC2_E_INTERNAL, "expression: unknown function %d", e->op);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int sx_ex_eval(sx_ex *ex, const sx_chunk *in, sx_vec **res, mc2_err *err)
{
    const mc2_pexpr *e = ex->e;
    size_t n = in->n;
    if (e->kind == MC2_PX_COL) {
        *res = &in->cols[e->col];
        return 0;
    }
    if (e->kind == MC2_PX_CONST || ex->folded) {
        *res = &ex->out;
        return 0;
    }
    if (ex->set) return eval_in_set(ex, in, res, err);
    sx_vec *kv[16], **k = kv;
    if (e->nargs > 16) {
        k = sx_array(ex->x, e->nargs, sizeof *k, err); /* rare: wide CASE / IN */
        if (!k) return -1;
    }
    for (unsigned i = 0; i < e->nargs; i++)
        if (sx_ex_eval(ex->kids[i], in, &k[i], err)) return -1;
    int r = 0;
    ex->out.v.p = ex->valbuf;
    switch (e->kind) {
    case MC2_PX_ARITH:
        r = eval_arith(ex, k, n, err);
        break;
    case MC2_PX_CMP:
        eval_cmp(ex, k, n);
        break;
    case MC2_PX_AND:
    case MC2_PX_OR:
        eval_logic(ex, k, n);
        break;
    case MC2_PX_NOT:
        ex->out.nulls = k[0]->nulls;
        for (size_t i = 0; i < n; i++) ex->out.v.b[i] = !k[0]->v.b[i];
        if (k[0]->nulls)
            for (size_t i = 0; i < n; i++) ex->out.v.b[i] &= (uint8_t)!k[0]->nulls[i];
        break;
    case MC2_PX_IS_NULL:
        ex->out.nulls = NULL;
        if (k[0]->nulls)
            for (size_t i = 0; i < n; i++) ex->out.v.b[i] = k[0]->nulls[i] ^ e->negated;
        else
            memset(ex->out.v.b, e->negated, n);
        break;
    case MC2_PX_LIKE:
        eval_like(ex, k, n);
        break;
    case MC2_PX_CASE:
        eval_case(ex, k, n);
        break;
    case MC2_PX_CAST:
        r = eval_cast(ex, k, n, err);
        break;
    case MC2_PX_FUNC:
        r = eval_func(ex, k, n, err);
        break;
    default:
        r = mc2_err_set(err, MC2_E_INTERNAL, "expression: unexpected node %d", (int)e->kind);
    }
    if (r) return -1;
    /* keep the invariant: a NULL row holds 0 / the empty string */
    if (ex->out.nulls) {
        size_t w = sx_width(e->type.id);
        uint8_t *v = ex->out.v.p;
        if (ex->out.v.p != ex->valbuf) {
            memcpy(ex->valbuf, ex->out.v.p, n * w);
            ex->out.v.p = ex->valbuf;
            v = ex->valbuf;
        }
        for (size_t i = 0; i < n; i++)
            if (ex->out.nulls[i]) {
                if (e->type.id == MC2_T_VARCHAR) {
                    ex->out.v.s[i].p = "";
                    ex->out.v.s[i].n = 0;
                } else
                    memset(v + i * w, 0, w);
            }
    }
    *res = &ex->out;
    return 0;
}

size_t sx_select_true(const sx_vec *v, size_t n, uint32_t *sel)
{
    size_t m = 0;
    const uint8_t *b = v->v.b;
    /* NULL rows hold 0, so the value alone decides */
    for (size_t i = 0; i < n; i++) {
        sel[m] = (uint32_t)i;
        m += b[i] != 0;
    }
    return m;
}
