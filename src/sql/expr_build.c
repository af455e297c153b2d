/* expr_build.c - the plan container and typed expression builders: type rules, implicit
 * casts, and the checks that make later evaluation safe (docs/sql-exec.md, "Types"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "table/value.h"

/* ---- the plan container ------------------------------------------------------------------ */

mc2_plan *mc2_plan_new(size_t arena_limit, mc2_err *err)
{
    mc2_plan *p = mc2_calloc(1, sizeof *p);
    if (!p) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory for a query plan");
        return NULL;
    }
    mc2_arena_init(&p->arena, arena_limit);
    mc2_err_clear(&p->err);
    return p;
}

void mc2_plan_free(mc2_plan *p)
{
    if (!p) return;
    mc2_arena_free(&p->arena);
    mc2_free(p);
}

const mc2_err *mc2_plan_error(const mc2_plan *p)
{
    return p->failed ? &p->err : NULL;
}

mc2_arena *mc2_plan_arena(mc2_plan *p)
{
    return &p->arena;
}

void *sx_plan_fail(mc2_plan *p, enum mc2_code code, const char *fmt, ...)
{
    if (!p->failed) {
        va_list ap;
        va_start(ap, fmt);
        char msg[MC2_ERR_MSG_MAX];
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        mc2_err_set(&p->err, code, "%s", msg);
        p->failed = true;
    }
    return NULL;
}

void *sx_plan_alloc(mc2_plan *p, size_t n)
{
    mc2_err e;
    void *r = mc2_arena_alloc(&p->arena, n, &e);
    if (!r && !p->failed) {
        p->err = e;
        p->failed = true;
    }
    return r;
}

const char *sx_type_name(const mc2_coltype *t, char buf[32])
{
    mc2_type_format(t, buf, 32);
    return buf;
}

bool sx_type_eq(const mc2_coltype *a, const mc2_coltype *b)
{
    if (a->id != b->id) return false;
    if (mc2_type_is_decimal(a->id)) return a->scale == b->scale;
    return true;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static bool is_num(enum mc2_type t)
{
    return t == MC2_T_INT64 || mc2_type_is_decimal(t) || t == MC2_T_DOUBLE;
}
static unsigned scale_of(const mc2_coltype *t)
{
    return mc2_type_is_decimal(t->id) ? t->scale : 0;
}
static mc2_coltype ty(enum mc2_type id)
{
    mc2_coltype t = {id, 0, 0, 0};
    if (id == MC2_T_VARCHAR) t.length = MC2_VARCHAR_MAX;
    return t;
}
static mc2_coltype dec18(unsigned scale)
{
    mc2_coltype t = {MC2_T_DECIMAL, 18, (uint8_t)scale, 0};
    return t;
}
/* The computed wide DECIMAL: DECIMAL(38, scale). */
static mc2_coltype dec38(unsigned scale)
{
    mc2_coltype t = {MC2_T_DEC128, 38, (uint8_t)scale, 0};
    return t;
}
/* DECIMAL(18,s) or, if either operand type is wide, DECIMAL(38,s). */
static mc2_coltype dec_for(unsigned scale, const mc2_coltype *a, const mc2_coltype *b)
{
    return a->id == MC2_T_DEC128 || b->id == MC2_T_DEC128 ? dec38(scale) : dec18(scale);
}

static mc2_pexpr *node(mc2_plan *p, enum mc2_px_kind k, mc2_coltype t, unsigned nargs)
{
    if (p->failed) return NULL;
    mc2_pexpr *e = sx_plan_alloc(p, sizeof *e);
    if (!e) return NULL;
    e->kind = k;
    e->type = t;
    e->escape = -1;
    if (nargs) {
        e->args = sx_plan_alloc(p, nargs * sizeof *e->args);
        if (!e->args) return NULL;
        e->nargs = nargs;
    }
    return e;
}

static bool any_null_arg(mc2_pexpr *const *a, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!a[i]) return true;
    return false;
}

static void *type_error(mc2_plan *p, const char *what, const mc2_coltype *a, const mc2_coltype *b)
{
    char ba[32], bb[32];
    if (b)
        return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: %s of %s and %s", what,
                            sx_type_name(a, ba), sx_type_name(b, bb));
    return sx_plan_fail(p, MC2_E_INPUT, "type mismatch: %s of %s", what, sx_type_name(a, ba));
}

/* e converted to type t (no node if it already has it; a NULL literal is re-typed). */
static mc2_pexpr *to_type(mc2_plan *p, mc2_pexpr *e, mc2_coltype t)
{
    if (!e) return NULL;
    if (e->type.id == t.id && (!mc2_type_is_decimal(t.id) || e->type.scale == t.scale) &&
        (t.id != MC2_T_VARCHAR || e->type.length <= t.length))
        return e;
    if (e->kind == MC2_PX_CONST && e->val.null) return mc2_px_null(p, t);
    return mc2_px_cast(p, e, t);
}

/* The common type of n expressions for CASE/COALESCE/IN, or an error. NULL literals take
 * any type. */
static int unify(mc2_plan *p, mc2_pexpr *const *es, unsigned n, const char *what, mc2_coltype *out)
{
    bool have = false;
    mc2_coltype t = ty(MC2_T_INT64);
    for (unsigned i = 0; i < n; i++) {
        const mc2_pexpr *e = es[i];
        if (e->kind == MC2_PX_CONST && e->val.null) continue;
        if (!have) {
            t = e->type;
            have = true;
            continue;
        }
        const mc2_coltype *u = &e->type;
        if (is_num(t.id) && is_num(u->id)) {
            if (t.id == MC2_T_DOUBLE || u->id == MC2_T_DOUBLE)
                t = ty(MC2_T_DOUBLE);
            else if (mc2_type_is_decimal(t.id) || mc2_type_is_decimal(u->id)) {
                unsigned s = scale_of(&t) > scale_of(u) ? scale_of(&t) : scale_of(u);
                t = dec_for(s, &t, u);
            }
        } else if (t.id == u->id) {
            if (t.id == MC2_T_VARCHAR && u->length > t.length) t.length = u->length;
        } else {
            type_error(p, what, &t, u);
            return -1;
        }
    }
    if (!have && n) t = es[0]->type;
    *out = t;
    return 0;
}

/* ---- leaves ------------------------------------------------------------------------------ */

mc2_pexpr *mc2_px_col(mc2_plan *p, unsigned idx, mc2_coltype type, bool nullable)
{
    mc2_pexpr *e = node(p, MC2_PX_COL, type, 0);
    if (!e) return NULL;
    e->col = idx;
    e->nullable = nullable;
    return e;
}

static mc2_pexpr *lit(mc2_plan *p, mc2_coltype t)
{
    return node(p, MC2_PX_CONST, t, 0);
}

mc2_pexpr *mc2_px_int(mc2_plan *p, int64_t v)
{
    mc2_pexpr *e = lit(p, ty(MC2_T_INT64));
    if (e) e->val.i = v;
    return e;
}

mc2_pexpr *mc2_px_double(mc2_plan *p, double v)
{
    if (!(v - v == 0)) return sx_plan_fail(p, MC2_E_INPUT, "DOUBLE literal is not finite");
    mc2_pexpr *e = lit(p, ty(MC2_T_DOUBLE));
    if (e) e->val.f = v;
    return e;
}

mc2_pexpr *mc2_px_decimal(mc2_plan *p, int64_t scaled, unsigned precision, unsigned scale)
{
    if (precision < 1 || precision > 18 || scale > precision)
        return sx_plan_fail(p, MC2_E_INPUT, "DECIMAL(%u,%u) is not supported (precision 1..18)",
                            precision, scale);
    int64_t lim = mc2_pow10(precision);
    if (scaled >= lim || scaled <= -lim)
        return sx_plan_fail(p, MC2_E_INPUT, "DECIMAL literal has more than %u digits", precision);
    mc2_coltype t = {MC2_T_DECIMAL, (uint8_t)precision, (uint8_t)scale, 0};
    mc2_pexpr *e = lit(p, t);
    if (e) e->val.i = scaled;
    return e;
}

mc2_pexpr *mc2_px_str(mc2_plan *p, const char *s, size_t n)
{
    size_t nchars;
    const char *why;
    if (mc2_utf8_check(s, n, &nchars, &why))
        return sx_plan_fail(p, MC2_E_INPUT, "string literal: %s", why);
    if (nchars > MC2_VARCHAR_MAX)
        return sx_plan_fail(p, MC2_E_LIMIT, "string literal longer than %u characters",
                            MC2_VARCHAR_MAX);
    mc2_coltype t = {MC2_T_VARCHAR, 0, 0, (uint32_t)(nchars ? nchars : 1)};
    mc2_pexpr *e = lit(p, t);
    if (!e) return NULL;
    char *c = sx_plan_alloc(p, n + 1);
    if (!c) return NULL;
    memcpy(c, s, n);
    e->val.s = c;
    e->val.slen = n;
    return e;
}

mc2_pexpr *mc2_px_date(mc2_plan *p, int32_t days)
{
    if (days < MC2_DATE_MIN || days > MC2_DATE_MAX)
        return sx_plan_fail(p, MC2_E_INPUT, "DATE literal out of range");
    mc2_pexpr *e = lit(p, ty(MC2_T_DATE));
    if (e) e->val.i = days;
    return e;
}

mc2_pexpr *mc2_px_bool(mc2_plan *p, bool v)
{
    mc2_pexpr *e = lit(p, ty(MC2_T_BOOL));
    if (e) e->val.i = v;
    return e;
}

mc2_pexpr *mc2_px_null(mc2_plan *p, mc2_coltype type)
{
    mc2_pexpr *e = lit(p, type);
    if (!e) return NULL;
    e->val.null = true;
    e->nullable = true;
    return e;
}

/* ---- arithmetic and comparison ----------------------------------------------------------- */

static const char *arith_name(int op)
{
    static const char *n[] = {"?", "+", "-", "*", "/", "%", "unary -"};
    return op >= 1 && op <= 6 ? n[op] : "?";
}

mc2_pexpr *mc2_px_arith(mc2_plan *p, enum mc2_px_arith op, mc2_pexpr *a, mc2_pexpr *b)
{
    if (!a || (op != MC2_PX_NEG && !b) || p->failed) return NULL;
    char what[32];
    snprintf(what, sizeof what, "operator %s", arith_name(op));
    if (op == MC2_PX_NEG) {
        if (!is_num(a->type.id)) return type_error(p, what, &a->type, NULL);
        mc2_pexpr *e = node(p, MC2_PX_ARITH, a->type, 1);
        if (!e) return NULL;
        if (e->type.id == MC2_T_DECIMAL) e->type.precision = 18;
        if (e->type.id == MC2_T_DEC128) e->type.precision = 38;
        e->op = op;
        e->args[0] = a;
        e->nullable = a->nullable;
        return e;
    }
    if (op < MC2_PX_ADD || op > MC2_PX_MOD)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad arithmetic operator");
    if (!is_num(a->type.id) || !is_num(b->type.id)) return type_error(p, what, &a->type, &b->type);
    mc2_coltype rt;
    int64_t aux = 0;
    if (a->type.id == MC2_T_DOUBLE || b->type.id == MC2_T_DOUBLE) {
        rt = ty(MC2_T_DOUBLE);
        a = to_type(p, a, rt);
        b = to_type(p, b, rt);
    } else if (a->type.id == MC2_T_DEC128 || b->type.id == MC2_T_DEC128) {
        /* Wide: both operands become DECIMAL(38, own scale); + - %: the larger scale; *: the
         * sum of the scales; /: max(6, s1), computed as a * 10^aux / b. */
        unsigned s1 = scale_of(&a->type), s2 = scale_of(&b->type);
        unsigned s = op == MC2_PX_MUL   ? s1 + s2
                     : op == MC2_PX_DIV ? (s1 > 6 ? s1 : 6)
                                        : (s1 > s2 ? s1 : s2);
        if (s > 38)
            return sx_plan_fail(p, MC2_E_INPUT,
                                "not supported: DECIMAL product with scale %u (at most 38): cast "
                                "an operand to a smaller scale",
                                s);
        rt = dec38(s);
        if (op == MC2_PX_DIV) {
            aux = (int64_t)(s - s1 + s2); /* a * 10^aux / b */
            if (aux > 38)
                return sx_plan_fail(p, MC2_E_INPUT,
                                    "not supported: division by a DECIMAL with scale %u", s2);
        }
        bool same = op != MC2_PX_MUL && op != MC2_PX_DIV;
        a = to_type(p, a, dec38(same ? s : s1));
        b = to_type(p, b, dec38(same ? s : s2));
    } else if (op == MC2_PX_DIV) {
        unsigned s1 = scale_of(&a->type), s2 = scale_of(&b->type);
        unsigned s = s1 > 6 ? s1 : 6;
        if (s2 > 14)
            return sx_plan_fail(p, MC2_E_INPUT,
                                "not supported: division by a DECIMAL with scale %u (at most 14)",
                                s2);
        rt = dec18(s);
        aux = (int64_t)(s - s1 + s2); /* a * 10^aux / b */
    } else if (op == MC2_PX_MUL) {
        unsigned s = scale_of(&a->type) + scale_of(&b->type);
        if (s > 18)
            return sx_plan_fail(p, MC2_E_INPUT,
                                "not supported: DECIMAL product with scale %u (at most 18): cast "
                                "an operand to a smaller scale",
                                s);
        rt = (a->type.id == MC2_T_INT64 && b->type.id == MC2_T_INT64) ? ty(MC2_T_INT64) : dec18(s);
    } else if (a->type.id == MC2_T_INT64 && b->type.id == MC2_T_INT64) {
        rt = ty(MC2_T_INT64);
    } else {
        unsigned s1 = scale_of(&a->type), s2 = scale_of(&b->type);
        rt = dec18(s1 > s2 ? s1 : s2);
        a = to_type(p, a, rt);
        b = to_type(p, b, rt);
    }
    mc2_pexpr *e = node(p, MC2_PX_ARITH, rt, 2);
    if (!e) return NULL;
    e->op = op;
    e->args[0] = a;
    e->args[1] = b;
    e->aux = aux;
    e->nullable = a->nullable || b->nullable || op == MC2_PX_DIV || op == MC2_PX_MOD;
    return e;
}

mc2_pexpr *mc2_px_cmp(mc2_plan *p, enum mc2_px_cmp op, mc2_pexpr *a, mc2_pexpr *b)
{
    if (!a || !b || p->failed) return NULL;
    if (op < MC2_PX_EQ || op > MC2_PX_GE)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad comparison operator");
    if (is_num(a->type.id) && is_num(b->type.id)) {
        if (a->type.id == MC2_T_DOUBLE || b->type.id == MC2_T_DOUBLE) {
            a = to_type(p, a, ty(MC2_T_DOUBLE));
            b = to_type(p, b, ty(MC2_T_DOUBLE));
        } else if (a->type.id != b->type.id || scale_of(&a->type) != scale_of(&b->type)) {
            unsigned s1 = scale_of(&a->type), s2 = scale_of(&b->type);
            mc2_coltype t = dec_for(s1 > s2 ? s1 : s2, &a->type, &b->type);
            a = to_type(p, a, t);
            b = to_type(p, b, t);
        }
    } else if (a->type.id != b->type.id) {
        return type_error(p, "comparison", &a->type, &b->type);
    }
    if (!a || !b) return NULL;
    mc2_pexpr *e = node(p, MC2_PX_CMP, ty(MC2_T_BOOL), 2);
    if (!e) return NULL;
    e->op = op;
    e->args[0] = a;
    e->args[1] = b;
    e->nullable = a->nullable || b->nullable;
    return e;
}

/* ---- logic ------------------------------------------------------------------------------- */

static mc2_pexpr *logic(mc2_plan *p, enum mc2_px_kind k, mc2_pexpr *const *args, unsigned n)
{
    if (p->failed || any_null_arg(args, n)) return NULL;
    if (n == 0) return sx_plan_fail(p, MC2_E_INTERNAL, "AND/OR of no operands");
    mc2_pexpr *e = node(p, k, ty(MC2_T_BOOL), n);
    if (!e) return NULL;
    for (unsigned i = 0; i < n; i++) {
        if (args[i]->type.id != MC2_T_BOOL)
            return type_error(p, k == MC2_PX_AND ? "AND operand" : "OR operand", &args[i]->type,
                              NULL);
        e->args[i] = args[i];
        e->nullable |= args[i]->nullable;
    }
    return e;
}

mc2_pexpr *mc2_px_and(mc2_plan *p, mc2_pexpr *const *args, unsigned n)
{
    return logic(p, MC2_PX_AND, args, n);
}
mc2_pexpr *mc2_px_or(mc2_plan *p, mc2_pexpr *const *args, unsigned n)
{
    return logic(p, MC2_PX_OR, args, n);
}
mc2_pexpr *mc2_px_and2(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *b)
{
    mc2_pexpr *v[2] = {a, b};
    return logic(p, MC2_PX_AND, v, 2);
}
mc2_pexpr *mc2_px_or2(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *b)
{
    mc2_pexpr *v[2] = {a, b};
    return logic(p, MC2_PX_OR, v, 2);
}

mc2_pexpr *mc2_px_not(mc2_plan *p, mc2_pexpr *a)
{
    if (!a || p->failed) return NULL;
    if (a->type.id != MC2_T_BOOL) return type_error(p, "NOT operand", &a->type, NULL);
    mc2_pexpr *e = node(p, MC2_PX_NOT, ty(MC2_T_BOOL), 1);
    if (!e) return NULL;
    e->args[0] = a;
    e->nullable = a->nullable;
    return e;
}

mc2_pexpr *mc2_px_is_null(mc2_plan *p, mc2_pexpr *a, bool negated)
{
    if (!a || p->failed) return NULL;
    mc2_pexpr *e = node(p, MC2_PX_IS_NULL, ty(MC2_T_BOOL), 1);
    if (!e) return NULL;
    e->args[0] = a;
    e->negated = negated;
    return e;
}

mc2_pexpr *mc2_px_in(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *const *items, unsigned n, bool negated)
{
    if (!a || p->failed || any_null_arg(items, n)) return NULL;
    if (n == 0) return sx_plan_fail(p, MC2_E_INTERNAL, "IN list with no items");
    /* a IN (x, y) is (a = x) OR (a = y) under three-valued logic, exactly. */
    mc2_pexpr **eqs = sx_plan_alloc(p, n * sizeof *eqs);
    if (!eqs) return NULL;
    for (unsigned i = 0; i < n; i++)
        if (!(eqs[i] = mc2_px_cmp(p, MC2_PX_EQ, a, items[i]))) return NULL;
    mc2_pexpr *e = n == 1 ? eqs[0] : mc2_px_or(p, eqs, n);
    return negated ? mc2_px_not(p, e) : e;
}

mc2_pexpr *mc2_px_between(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *lo, mc2_pexpr *hi, bool negated)
{
    mc2_pexpr *e = mc2_px_and2(p, mc2_px_cmp(p, MC2_PX_GE, a, lo), mc2_px_cmp(p, MC2_PX_LE, a, hi));
    return negated ? mc2_px_not(p, e) : e;
}

mc2_pexpr *mc2_px_like(mc2_plan *p, mc2_pexpr *a, const char *pat, size_t n, int escape,
                       bool negated)
{
    if (!a || p->failed) return NULL;
    if (a->type.id != MC2_T_VARCHAR) return type_error(p, "LIKE operand", &a->type, NULL);
    if (escape > 127 || escape < -1)
        return sx_plan_fail(p, MC2_E_INPUT, "not supported: a non-ASCII LIKE escape character");
    size_t nc;
    const char *why;
    if (mc2_utf8_check(pat, n, &nc, &why))
        return sx_plan_fail(p, MC2_E_INPUT, "LIKE pattern: %s", why);
    for (size_t i = 0; i < n; i++)
        if (escape >= 0 && (unsigned char)pat[i] == escape) {
            if (i + 1 == n)
                return sx_plan_fail(p, MC2_E_INPUT, "LIKE pattern ends with the escape character");
            i++;
        }
    mc2_pexpr *e = node(p, MC2_PX_LIKE, ty(MC2_T_BOOL), 1);
    if (!e) return NULL;
    char *c = sx_plan_alloc(p, n + 1);
    if (!c) return NULL;
    memcpy(c, pat, n);
    e->val.s = c;
    e->val.slen = n;
    e->escape = escape;
    e->args[0] = a;
    e->negated = negated;
    e->nullable = a->nullable;
    return e;
}

mc2_pexpr *mc2_px_case(mc2_plan *p, mc2_pexpr *const *whens, mc2_pexpr *const *thens, unsigned n,
                       mc2_pexpr *else_)
{
    if (p->failed || any_null_arg(whens, n) || any_null_arg(thens, n)) return NULL;
    if (n == 0) return sx_plan_fail(p, MC2_E_INTERNAL, "CASE with no WHEN");
    mc2_pexpr **vals = sx_plan_alloc(p, (n + 1) * sizeof *vals);
    if (!vals) return NULL;
    for (unsigned i = 0; i < n; i++) vals[i] = thens[i];
    vals[n] = else_;
    mc2_coltype t;
    if (unify(p, vals, else_ ? n + 1 : n, "CASE results", &t)) return NULL;
    if (!else_) vals[n] = mc2_px_null(p, t);
    mc2_pexpr *e = node(p, MC2_PX_CASE, t, 2 * n + 1);
    if (!e) return NULL;
    for (unsigned i = 0; i < n; i++) {
        if (whens[i]->type.id != MC2_T_BOOL)
            return type_error(p, "CASE WHEN condition", &whens[i]->type, NULL);
        e->args[2 * i] = whens[i];
        if (!(e->args[2 * i + 1] = to_type(p, vals[i], t))) return NULL;
        e->nullable |= e->args[2 * i + 1]->nullable;
    }
    if (!(e->args[2 * n] = to_type(p, vals[n], t))) return NULL;
    e->nullable |= e->args[2 * n]->nullable;
    return e;
}

mc2_pexpr *mc2_px_cast(mc2_plan *p, mc2_pexpr *a, mc2_coltype t)
{
    if (!a || p->failed) return NULL;
    enum mc2_type f = a->type.id;
    bool ok = f == t.id || (is_num(f) && is_num(t.id)) || f == MC2_T_VARCHAR ||
              t.id == MC2_T_VARCHAR || (f == MC2_T_BOOL && t.id == MC2_T_INT64) ||
              (f == MC2_T_INT64 && t.id == MC2_T_BOOL);
    if (!ok) return type_error(p, "CAST", &a->type, &t);
    if (t.id == MC2_T_DECIMAL && t.precision > 18) t.id = MC2_T_DEC128;
    if (t.id == MC2_T_DEC128 && t.precision <= 18) t.id = MC2_T_DECIMAL;
    if (mc2_type_is_decimal(t.id) && (t.precision < 1 || t.precision > 38 || t.scale > t.precision))
        return sx_plan_fail(p, MC2_E_INPUT, "not supported: DECIMAL(%u,%u) (precision 1..38)",
                            t.precision, t.scale);
    if (t.id == MC2_T_VARCHAR && (t.length == 0 || t.length > MC2_VARCHAR_MAX))
        t.length = MC2_VARCHAR_MAX;
    if (a->kind == MC2_PX_CONST && a->val.null) return mc2_px_null(p, t);
    mc2_pexpr *e = node(p, MC2_PX_CAST, t, 1);
    if (!e) return NULL;
    e->args[0] = a;
    e->nullable = a->nullable;
    return e;
}

/* ---- functions --------------------------------------------------------------------------- */

static mc2_pexpr *need(mc2_plan *p, mc2_pexpr *a, enum mc2_type t, const char *what)
{
    if (!a) return NULL;
    if (a->type.id != t) {
        mc2_coltype want = ty(t);
        return type_error(p, what, &a->type, &want);
    }
    return a;
}

mc2_pexpr *mc2_px_func(mc2_plan *p, enum mc2_px_func fn, mc2_pexpr *const *args, unsigned n)
{
    if (p->failed || any_null_arg(args, n)) return NULL;
    mc2_pexpr *e = NULL;
    switch (fn) {
    case MC2_PF_SUBSTRING:
        if (n < 2 || n > 3) break;
        if (!need(p, args[0], MC2_T_VARCHAR, "SUBSTRING argument")) return NULL;
        for (unsigned i = 1; i < n; i++)
            if (!need(p, args[i], MC2_T_INT64, "SUBSTRING position")) return NULL;
        e = node(p, MC2_PX_FUNC, args[0]->type, n);
        break;
    case MC2_PF_UPPER:
    case MC2_PF_LOWER:
        if (n != 1) break;
        if (!need(p, args[0], MC2_T_VARCHAR, "UPPER/LOWER argument")) return NULL;
        e = node(p, MC2_PX_FUNC, args[0]->type, 1);
        break;
    case MC2_PF_LENGTH:
        if (n != 1) break;
        if (!need(p, args[0], MC2_T_VARCHAR, "LENGTH argument")) return NULL;
        e = node(p, MC2_PX_FUNC, ty(MC2_T_INT64), 1);
        break;
    case MC2_PF_CONCAT: {
        if (n < 1) break;
        uint64_t len = 0;
        mc2_pexpr *cv[64];
        if (n > 64) return sx_plan_fail(p, MC2_E_LIMIT, "CONCAT of more than 64 arguments");
        for (unsigned i = 0; i < n; i++) {
            cv[i] = to_type(p, args[i], ty(MC2_T_VARCHAR));
            if (!cv[i]) return NULL;
            if (args[i]->type.id == MC2_T_VARCHAR) cv[i] = args[i];
            len += cv[i]->type.id == MC2_T_VARCHAR && cv[i] == args[i] ? args[i]->type.length
                                                                       : MC2_VALUE_TEXT_MAX;
        }
        mc2_coltype t = ty(MC2_T_VARCHAR);
        t.length = len > MC2_VARCHAR_MAX ? MC2_VARCHAR_MAX : (uint32_t)len;
        e = node(p, MC2_PX_FUNC, t, n);
        if (!e) return NULL;
        for (unsigned i = 0; i < n; i++) {
            e->args[i] = cv[i];
            e->nullable |= cv[i]->nullable;
        }
        e->op = fn;
        return e;
    }
    case MC2_PF_COALESCE: {
        if (n < 1) break;
        mc2_coltype t;
        if (unify(p, args, n, "COALESCE arguments", &t)) return NULL;
        e = node(p, MC2_PX_FUNC, t, n);
        if (!e) return NULL;
        e->op = fn;
        e->nullable = true;
        for (unsigned i = 0; i < n; i++) {
            if (!(e->args[i] = to_type(p, args[i], t))) return NULL;
            if (!e->args[i]->nullable) e->nullable = false;
        }
        return e;
    }
    case MC2_PF_NULLIF: {
        if (n != 2) break;
        mc2_pexpr *w = mc2_px_cmp(p, MC2_PX_EQ, args[0], args[1]);
        mc2_pexpr *t = mc2_px_null(p, args[0]->type);
        return mc2_px_case(p, &w, &t, 1, args[0]);
    }
    case MC2_PF_ABS:
        if (n != 1) break;
        if (!is_num(args[0]->type.id)) return type_error(p, "ABS argument", &args[0]->type, NULL);
        e = node(p, MC2_PX_FUNC, args[0]->type, 1);
        break;
    default:
        return sx_plan_fail(p, MC2_E_INPUT, "not supported: function %d with %u arguments", (int)fn,
                            n);
    }
    if (!e) {
        if (!p->failed)
            sx_plan_fail(p, MC2_E_INPUT, "wrong number of arguments (%u) for a function", n);
        return NULL;
    }
    e->op = fn;
    for (unsigned i = 0; i < n; i++) {
        e->args[i] = args[i];
        e->nullable |= args[i]->nullable;
    }
    return e;
}

mc2_pexpr *mc2_px_trim(mc2_plan *p, mc2_pexpr *s, enum mc2_px_trim side, const char *chars,
                       size_t nchars)
{
    if (!need(p, s, MC2_T_VARCHAR, "TRIM argument") || p->failed) return NULL;
    mc2_pexpr *e = node(p, MC2_PX_FUNC, s->type, 1);
    if (!e) return NULL;
    e->op = MC2_PF_TRIM;
    e->aux = side;
    e->args[0] = s;
    e->nullable = s->nullable;
    if (!chars) {
        chars = " ";
        nchars = 1;
    }
    for (size_t i = 0; i < nchars; i++)
        if ((unsigned char)chars[i] >= 128)
            return sx_plan_fail(p, MC2_E_INPUT, "not supported: TRIM of non-ASCII characters");
    char *c = sx_plan_alloc(p, nchars + 1);
    if (!c) return NULL;
    memcpy(c, chars, nchars);
    e->val.s = c;
    e->val.slen = nchars;
    return e;
}

mc2_pexpr *mc2_px_extract(mc2_plan *p, enum mc2_px_unit field, mc2_pexpr *date)
{
    if (!need(p, date, MC2_T_DATE, "EXTRACT argument") || p->failed) return NULL;
    if (field < MC2_PX_DAY || field > MC2_PX_YEAR)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad EXTRACT field");
    mc2_pexpr *e = node(p, MC2_PX_FUNC, ty(MC2_T_INT64), 1);
    if (!e) return NULL;
    e->op = MC2_PF_EXTRACT;
    e->aux = field;
    e->args[0] = date;
    e->nullable = date->nullable;
    return e;
}

mc2_pexpr *mc2_px_date_add(mc2_plan *p, mc2_pexpr *date, int64_t n, enum mc2_px_unit unit)
{
    if (!need(p, date, MC2_T_DATE, "DATE +/- INTERVAL operand") || p->failed) return NULL;
    if (unit < MC2_PX_DAY || unit > MC2_PX_YEAR)
        return sx_plan_fail(p, MC2_E_INTERNAL, "bad INTERVAL unit");
    if (n > 4000000 || n < -4000000) return sx_plan_fail(p, MC2_E_INPUT, "INTERVAL out of range");
    mc2_pexpr *e = node(p, MC2_PX_FUNC, ty(MC2_T_DATE), 1);
    if (!e) return NULL;
    e->op = MC2_PF_DATE_ADD;
    e->aux = n;
    e->aux2 = unit;
    e->args[0] = date;
    e->nullable = date->nullable;
    return e;
}

mc2_pexpr *mc2_px_round(mc2_plan *p, mc2_pexpr *x, unsigned digits)
{
    if (!x || p->failed) return NULL;
    if (!is_num(x->type.id)) return type_error(p, "ROUND argument", &x->type, NULL);
    if (digits > 38) digits = 38;
    mc2_pexpr *e = node(p, MC2_PX_FUNC, x->type, 1);
    if (!e) return NULL;
    e->op = MC2_PF_ROUND;
    e->aux = digits;
    e->args[0] = x;
    e->nullable = x->nullable;
    return e;
}

/* ---- checking references ----------------------------------------------------------------- */

int sx_expr_check(mc2_plan *p, const mc2_pexpr *e, const mc2_column_def *cols, size_t ncols,
                  const char *where)
{
    if (e->kind == MC2_PX_COL) {
        char b1[32], b2[32];
        if (e->col >= ncols) {
            sx_plan_fail(p, MC2_E_INTERNAL, "%s: column reference #%u out of range (%zu columns)",
                         where, e->col, ncols);
            return -1;
        }
        const mc2_column_def *d = &cols[e->col];
        if (d->type.id != e->type.id ||
            (mc2_type_is_decimal(d->type.id) && d->type.scale != e->type.scale) ||
            (d->nullable && !e->nullable)) {
            sx_plan_fail(p, MC2_E_INTERNAL, "%s: column '%s' is %s%s but the expression says %s%s",
                         where, d->name, sx_type_name(&d->type, b1), d->nullable ? " NULL" : "",
                         sx_type_name(&e->type, b2), e->nullable ? " NULL" : "");
            return -1;
        }
        return 0;
    }
    for (unsigned i = 0; i < e->nargs; i++)
        if (sx_expr_check(p, e->args[i], cols, ncols, where)) return -1;
    return 0;
}
