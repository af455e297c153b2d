/* binder.c - name resolution, typing and aggregate checks: AST to logical plan. */
#include "sql/binder.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/strdist.h"
#include "table/value.h"

/* ---- context ----------------------------------------------------------------------------- */

#define BIND_MAX_NEST 256        /* nested queries, CTE expansions included */
#define BIND_MAX_WORK (1u << 22) /* AST nodes bound, CTE re-expansions included */

typedef struct bcte {
    const mc2_sql_cte *def;
    const struct bcte *next; /* older CTEs (visible inside def) */
} bcte;

/* One name visible in FROM: a table, CTE or derived table, with its columns. */
typedef struct brel {
    const char *name;
    uint32_t *ids;
    const char **names;
    bool *hidden; /* USING: the duplicate column hidden from unqualified names and * */
    size_t n;
} brel;

typedef struct bscope {
    struct bscope *parent;
    brel *rels;
    size_t nrels, caprels;
    const bcte *ctes;
    bool outer_used; /* a column of an enclosing scope was referenced */
} bscope;

typedef struct bctx {
    mc2_lplan *lp;
    mc2_arena *a;
    mc2_err *err;
    const mc2_sql_table *tables;
    size_t ntables;
    unsigned nest;
    unsigned long work;
} bctx;

/* How an expression is being bound. */
typedef struct bexp {
    bscope *scope;
    const char *clause; /* for "aggregate functions are not allowed in %s" */
    bool allow_agg;
    bool in_agg;
} bexp;

static int berr(bctx *b, mc2_sql_pos pos, enum mc2_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int berr(bctx *b, mc2_sql_pos pos, enum mc2_code code, const char *fmt, ...)
{
    char msg[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mc2_err_set(b->err, code, "line %u, column %u: %s", pos.line, pos.col, msg);
}

static const char *tname(const mc2_coltype *t, char buf[40])
{
    mc2_type_format(t, buf, 40);
    return buf;
}

static mc2_coltype mkty(enum mc2_type id)
{
    mc2_coltype t = {id, 0, 0, 0};
    if (id == MC2_T_VARCHAR) t.length = MC2_VARCHAR_MAX;
    return t;
}
static mc2_coltype dec18(unsigned s)
{
    mc2_coltype t = {MC2_T_DECIMAL, 18, (uint8_t)s, 0};
    return t;
}
/* The wide DECIMAL(38,s) of sums, averages and arithmetic with a wide operand. */
static mc2_coltype dec38(unsigned s)
{
    mc2_coltype t = {MC2_T_DEC128, 38, (uint8_t)s, 0};
    return t;
}
static bool is_num(enum mc2_type t)
{
    return t == MC2_T_INT64 || mc2_type_is_decimal(t) || t == MC2_T_DOUBLE;
}
static unsigned scale_of(const mc2_coltype *t)
{
    return mc2_type_is_decimal(t->id) ? t->scale : 0;
}
static bool is_wide(const mc2_coltype *a, const mc2_coltype *b)
{
    return a->id == MC2_T_DEC128 || b->id == MC2_T_DEC128;
}

/* An untyped NULL literal (NULL written alone) takes the type its context asks for. */
static bool untyped_null(const mc2_lexpr *e)
{
    return e->kind == MC2_LX_CONST && e->val.null && e->aux == 1;
}
static void retype_null(mc2_lexpr *e, mc2_coltype t)
{
    if (untyped_null(e)) {
        e->type = t;
        e->aux = 0;
    }
}

/* ---- did you mean ------------------------------------------------------------------------ */

typedef struct suggest {
    const char *want;
    const char *best;
    unsigned dist;
} suggest;

static void sug_init(suggest *s, const char *want)
{
    s->want = want;
    s->best = NULL;
    /* accept a distance up to a third of the name (at least 1; none for 1-2 letters) */
    size_t n = strlen(want);
    unsigned lim = n <= 2 ? 0 : n / 3 < 1 ? 1 : n / 3 > 3 ? 3 : (unsigned)(n / 3);
    s->dist = lim + 1; /* accept distance < dist */
}
static void sug_try(suggest *s, const char *cand)
{
    unsigned d = mc2_edit_distance(s->want, strlen(s->want), cand, strlen(cand), MC2_DIST_MAX);
    if (d < s->dist) {
        s->dist = d;
        s->best = cand;
    }
}
/* " (did you mean 'x'?)" or "" into buf. */
static const char *sug_text(const suggest *s, char *buf, size_t n)
{
    if (!s->best) return "";
    snprintf(buf, n, " (did you mean '%s'?)", s->best);
    return buf;
}

/* ---- allocation helpers ------------------------------------------------------------------ */

static void *balloc(bctx *b, size_t n)
{
    return mc2_arena_alloc(b->a, n, b->err);
}
static void *barray(bctx *b, size_t count, size_t size)
{
    return mc2_arena_array(b->a, count, size, b->err);
}
static mc2_lexpr *lx(bctx *b, enum mc2_lx_kind k, unsigned nargs, mc2_sql_pos pos)
{
    mc2_lexpr *e = mc2_lexpr_new(b->lp, k, nargs, b->err);
    if (e) e->pos = pos;
    return e;
}
static mc2_lnode *ln(bctx *b, enum mc2_ln_kind k)
{
    return mc2_lnode_new(b->lp, k, b->err);
}

static int scope_add(bctx *b, bscope *s, const brel *r)
{
    if (s->nrels == s->caprels) {
        size_t cap = s->caprels ? s->caprels * 2 : 8;
        brel *nr = barray(b, cap, sizeof *nr);
        if (!nr) return -1;
        if (s->nrels) memcpy(nr, s->rels, s->nrels * sizeof *nr);
        s->rels = nr;
        s->caprels = cap;
    }
    s->rels[s->nrels++] = *r;
    return 0;
}

/* ---- column lookup ----------------------------------------------------------------------- */

/* Finds `name` among rels[from..to) of s (visible columns only unless qualified lookup).
 * Returns 1 found (id in *id, rel index in *ri), 0 not found, -1 error (ambiguous). */
static int find_unqualified(bctx *b, const bscope *s, size_t from, size_t to, const char *name,
                            mc2_sql_pos pos, uint32_t *id, size_t *ri)
{
    int found = 0;
    size_t frel = 0;
    for (size_t r = from; r < to; r++) {
        const brel *rel = &s->rels[r];
        for (size_t c = 0; c < rel->n; c++) {
            if (rel->hidden && rel->hidden[c]) continue;
            if (strcasecmp(rel->names[c], name) != 0) continue;
            if (found) {
                if (frel == r)
                    return berr(b, pos, MC2_E_INPUT,
                                "ambiguous column '%s' (table '%s' has two columns of that name)",
                                name, rel->name);
                return berr(b, pos, MC2_E_INPUT,
                            "ambiguous column '%s' (it is in '%s' and '%s'; write %s.%s or "
                            "%s.%s)",
                            name, s->rels[frel].name, rel->name, s->rels[frel].name, name,
                            rel->name, name);
            }
            found = 1;
            frel = r;
            *id = rel->ids[c];
        }
    }
    if (found && ri) *ri = frel;
    return found;
}

static const brel *find_rel(const bscope *s, const char *name)
{
    for (size_t r = s->nrels; r-- > 0;)
        if (strcasecmp(s->rels[r].name, name) == 0) return &s->rels[r];
    return NULL;
}

static void suggest_columns(const bscope *s, suggest *sg)
{
    for (; s; s = s->parent)
        for (size_t r = 0; r < s->nrels; r++)
            for (size_t c = 0; c < s->rels[r].n; c++) sug_try(sg, s->rels[r].names[c]);
}

/* Resolves a column reference; marks outer scopes used. */
static mc2_lexpr *bind_column(bctx *b, bscope *scope, const mc2_sql_expr *e)
{
    const char *tab = e->column.table, *name = e->column.name;
    char hint[200];
    uint32_t id = 0;
    for (bscope *s = scope; s; s = s->parent) {
        if (tab) {
            const brel *rel = find_rel(s, tab);
            if (!rel) continue;
            int found = 0;
            for (size_t c = 0; c < rel->n; c++) {
                if (strcasecmp(rel->names[c], name) != 0) continue;
                if (found) {
                    berr(b, e->pos, MC2_E_INPUT,
                         "ambiguous column '%s.%s' (table '%s' has two columns of that name)", tab,
                         name, rel->name);
                    return NULL;
                }
                found = 1;
                id = rel->ids[c];
            }
            if (!found) {
                suggest sg;
                sug_init(&sg, name);
                for (size_t c = 0; c < rel->n; c++) sug_try(&sg, rel->names[c]);
                berr(b, e->pos, MC2_E_INPUT, "table '%s' has no column '%s'%s", rel->name, name,
                     sug_text(&sg, hint, sizeof hint));
                return NULL;
            }
        } else {
            int rc = find_unqualified(b, s, 0, s->nrels, name, e->pos, &id, NULL);
            if (rc < 0) return NULL;
            if (!rc) continue;
        }
        for (bscope *t = scope; t != s; t = t->parent) t->outer_used = true;
        mc2_lexpr *x = mc2_lexpr_col(b->lp, id, b->err);
        if (x) x->pos = e->pos;
        return x;
    }
    if (tab) {
        suggest sg;
        sug_init(&sg, tab);
        for (const bscope *s = scope; s; s = s->parent)
            for (size_t r = 0; r < s->nrels; r++) sug_try(&sg, s->rels[r].name);
        berr(b, e->pos, MC2_E_INPUT, "unknown table '%s' in '%s.%s'%s", tab, tab, name,
             sug_text(&sg, hint, sizeof hint));
        return NULL;
    }
    suggest sg;
    sug_init(&sg, name);
    suggest_columns(scope, &sg);
    berr(b, e->pos, MC2_E_INPUT, "unknown column '%s'%s", name, sug_text(&sg, hint, sizeof hint));
    return NULL;
}

/* ---- literals ---------------------------------------------------------------------------- */

static mc2_lexpr *bind_literal(bctx *b, const mc2_sql_expr *e)
{
    const char *why;
    mc2_lexpr *x = lx(b, MC2_LX_CONST, 0, e->pos);
    if (!x) return NULL;
    switch (e->kind) {
    case MC2_SQL_E_INT:
        x->type = mkty(MC2_T_INT64);
        if (mc2_parse_int64(e->lit.text, e->lit.len, &x->val.i, &why)) {
            berr(b, e->pos, MC2_E_INPUT,
                 "integer literal out of range for INT64 (write it with a decimal point for a "
                 "DECIMAL, or with an exponent for a DOUBLE)");
            return NULL;
        }
        return x;
    case MC2_SQL_E_DECIMAL: {
        const char *t = e->lit.text;
        size_t n = e->lit.len, dot = n, intd = 0, scale = 0;
        for (size_t i = 0; i < n; i++)
            if (t[i] == '.') dot = i;
        size_t i0 = 0;
        while (i0 < dot && t[i0] == '0') i0++;
        intd = dot - i0;
        scale = dot < n ? n - dot - 1 : 0;
        size_t prec = (intd ? intd : 1) + scale;
        if (prec > MC2_DECIMAL_MAX_PRECISION) {
            berr(b, e->pos, MC2_E_INPUT,
                 "not supported: a DECIMAL literal of %zu digits (at most 18; write an exponent, "
                 "as in 1.5e0, for a DOUBLE)",
                 prec);
            return NULL;
        }
        /* mc2_parse_decimal wants digits on both sides of the point. */
        char buf[48];
        size_t k = 0;
        if (dot == 0) buf[k++] = '0';
        memcpy(buf + k, t, n);
        k += n;
        if (dot == n - 1) k--; /* "7." */
        if (mc2_parse_decimal(buf, k, (unsigned)prec, (unsigned)scale, &x->val.i, &why)) {
            berr(b, e->pos, MC2_E_INPUT, "bad DECIMAL literal: %s", why);
            return NULL;
        }
        x->type.id = MC2_T_DECIMAL;
        x->type.precision = (uint8_t)prec;
        x->type.scale = (uint8_t)scale;
        return x;
    }
    case MC2_SQL_E_FLOAT:
        x->type = mkty(MC2_T_DOUBLE);
        if (mc2_parse_double(e->lit.text, e->lit.len, &x->val.f, &why)) {
            berr(b, e->pos, MC2_E_INPUT, "bad DOUBLE literal: %s", why);
            return NULL;
        }
        return x;
    case MC2_SQL_E_STRING: {
        size_t nc;
        if (mc2_utf8_check(e->lit.text, e->lit.len, &nc, &why)) {
            berr(b, e->pos, MC2_E_INPUT, "string literal: %s", why);
            return NULL;
        }
        if (nc > MC2_VARCHAR_MAX) {
            berr(b, e->pos, MC2_E_LIMIT, "string literal longer than %u characters",
                 MC2_VARCHAR_MAX);
            return NULL;
        }
        x->type = mkty(MC2_T_VARCHAR);
        x->type.length = (uint32_t)(nc ? nc : 1);
        x->val.s = e->lit.text;
        x->val.slen = e->lit.len;
        return x;
    }
    case MC2_SQL_E_DATE: {
        int32_t d;
        if (mc2_parse_date(e->lit.text, e->lit.len, &d, &why)) {
            berr(b, e->pos, MC2_E_INPUT, "bad DATE literal: %s", why);
            return NULL;
        }
        x->type = mkty(MC2_T_DATE);
        x->val.i = d;
        return x;
    }
    case MC2_SQL_E_NULL:
        x->type = mkty(MC2_T_INT64);
        x->val.null = true;
        x->nullable = true;
        x->aux = 1; /* untyped */
        return x;
    case MC2_SQL_E_BOOL:
        x->type = mkty(MC2_T_BOOL);
        x->val.i = e->boolean;
        return x;
    default:
        break;
    }
    berr(b, e->pos, MC2_E_INTERNAL, "binder: unexpected literal kind %d", (int)e->kind);
    return NULL;
}

/* ---- typing helpers ---------------------------------------------------------------------- */

/* The common type of a and b for CASE, COALESCE, IN, UNION; -1 with an error naming both. */
static int unify2(bctx *b, mc2_sql_pos pos, const char *what, const mc2_lexpr *a,
                  const mc2_lexpr *c, mc2_coltype *out)
{
    if (untyped_null(a)) {
        *out = c->type;
        return 0;
    }
    if (untyped_null(c)) {
        *out = a->type;
        return 0;
    }
    const mc2_coltype *t = &a->type, *u = &c->type;
    if (is_num(t->id) && is_num(u->id)) {
        if (t->id == MC2_T_DOUBLE || u->id == MC2_T_DOUBLE)
            *out = mkty(MC2_T_DOUBLE);
        else if (mc2_type_is_decimal(t->id) || mc2_type_is_decimal(u->id)) {
            if (t->id == u->id && t->scale == u->scale) {
                *out = *t;
                if (u->precision > out->precision) out->precision = u->precision;
            } else {
                unsigned s = scale_of(t) > scale_of(u) ? scale_of(t) : scale_of(u);
                *out = is_wide(t, u) ? dec38(s) : dec18(s);
            }
        } else
            *out = *t;
        return 0;
    }
    if (t->id == u->id) {
        *out = *t;
        if (t->id == MC2_T_VARCHAR && u->length > t->length) out->length = u->length;
        return 0;
    }
    char b1[40], b2[40];
    return berr(b, pos, MC2_E_INPUT, "type mismatch: %s have incompatible types %s and %s", what,
                tname(t, b1), tname(u, b2));
}

static bool comparable(const mc2_lexpr *a, const mc2_lexpr *c)
{
    if (untyped_null(a) || untyped_null(c)) return true;
    if (is_num(a->type.id) && is_num(c->type.id)) return true;
    return a->type.id == c->type.id;
}

static mc2_lexpr *mk_cmp(bctx *b, mc2_sql_pos pos, int op, mc2_lexpr *l, mc2_lexpr *r)
{
    if (!comparable(l, r)) {
        char b1[40], b2[40];
        const char *hint = "";
        if ((l->type.id == MC2_T_DATE && r->type.id == MC2_T_VARCHAR) ||
            (r->type.id == MC2_T_DATE && l->type.id == MC2_T_VARCHAR))
            hint = " (write a date as DATE 'yyyy-mm-dd')";
        berr(b, pos, MC2_E_INPUT, "type mismatch: cannot compare %s with %s%s", tname(&l->type, b1),
             tname(&r->type, b2), hint);
        return NULL;
    }
    retype_null(l, r->type);
    retype_null(r, l->type);
    mc2_lexpr *x = lx(b, MC2_LX_CMP, 2, pos);
    if (!x) return NULL;
    x->op = op;
    x->args[0] = l;
    x->args[1] = r;
    x->type = mkty(MC2_T_BOOL);
    x->nullable = l->nullable || r->nullable;
    return x;
}

static int need_bool(bctx *b, const mc2_lexpr *x, const char *what)
{
    if (untyped_null(x)) return 0;
    if (x->type.id == MC2_T_BOOL) return 0;
    char b1[40];
    return berr(b, x->pos, MC2_E_INPUT, "type mismatch: %s must be BOOL, not %s", what,
                tname(&x->type, b1));
}

static mc2_lexpr *mk_logic(bctx *b, mc2_sql_pos pos, enum mc2_lx_kind k, mc2_lexpr *l, mc2_lexpr *r)
{
    const char *what = k == MC2_LX_AND ? "an operand of AND" : "an operand of OR";
    if (need_bool(b, l, what) || need_bool(b, r, what)) return NULL;
    retype_null(l, mkty(MC2_T_BOOL));
    retype_null(r, mkty(MC2_T_BOOL));
    unsigned nl = l->kind == k ? l->nargs : 1, nr = r->kind == k ? r->nargs : 1;
    mc2_lexpr *x = lx(b, k, nl + nr, pos);
    if (!x) return NULL;
    unsigned j = 0;
    if (l->kind == k)
        for (unsigned i = 0; i < l->nargs; i++) x->args[j++] = l->args[i];
    else
        x->args[j++] = l;
    if (r->kind == k)
        for (unsigned i = 0; i < r->nargs; i++) x->args[j++] = r->args[i];
    else
        x->args[j++] = r;
    x->type = mkty(MC2_T_BOOL);
    x->nullable = l->nullable || r->nullable;
    return x;
}

static mc2_lexpr *mk_not(bctx *b, mc2_sql_pos pos, mc2_lexpr *a)
{
    if (need_bool(b, a, "the operand of NOT")) return NULL;
    retype_null(a, mkty(MC2_T_BOOL));
    mc2_lexpr *x = lx(b, MC2_LX_NOT, 1, pos);
    if (!x) return NULL;
    x->args[0] = a;
    x->type = mkty(MC2_T_BOOL);
    x->nullable = a->nullable;
    return x;
}

static const char *op_text(enum mc2_sql_op op)
{
    return mc2_sql_ast_op_name(op);
}

static enum mc2_px_unit unit_of(enum mc2_sql_unit u)
{
    return u == MC2_SQL_UNIT_DAY     ? MC2_PX_DAY
           : u == MC2_SQL_UNIT_MONTH ? MC2_PX_MONTH
                                     : MC2_PX_YEAR;
}

static void trim_scale(mc2_lexpr *e)
{
    if (e->kind != MC2_LX_CONST || e->val.null || e->type.id != MC2_T_DECIMAL) return;
    while (e->type.scale > 0 && e->val.i % 10 == 0) {
        e->val.i /= 10;
        e->type.scale--;
        e->type.precision--;
    }
    if (e->type.precision < 1) e->type.precision = 1;
    if (e->type.precision < e->type.scale) e->type.precision = e->type.scale;
}

static mc2_lexpr *mk_arith(bctx *b, mc2_sql_pos pos, enum mc2_sql_op sop, mc2_lexpr *l,
                           mc2_lexpr *r)
{
    char b1[40], b2[40];
    int op = sop == MC2_SQL_OP_ADD   ? MC2_PX_ADD
             : sop == MC2_SQL_OP_SUB ? MC2_PX_SUB
             : sop == MC2_SQL_OP_MUL ? MC2_PX_MUL
             : sop == MC2_SQL_OP_DIV ? MC2_PX_DIV
                                     : MC2_PX_MOD;
    if (untyped_null(l)) retype_null(l, is_num(r->type.id) ? r->type : mkty(MC2_T_INT64));
    if (untyped_null(r)) retype_null(r, is_num(l->type.id) ? l->type : mkty(MC2_T_INT64));
    if (!is_num(l->type.id) || !is_num(r->type.id)) {
        if (l->type.id == MC2_T_DATE && r->type.id == MC2_T_DATE && op == MC2_PX_SUB) {
            berr(b, pos, MC2_E_INPUT, "not supported: DATE - DATE");
            return NULL;
        }
        berr(b, pos, MC2_E_INPUT, "type mismatch: operator %s cannot take %s and %s", op_text(sop),
             tname(&l->type, b1), tname(&r->type, b2));
        return NULL;
    }
    if (op == MC2_PX_MUL || op == MC2_PX_DIV) {
        /* a DECIMAL literal's trailing zeros add scale but no value: 0.0001000000 * x is
         * typed as 0.0001 * x, which keeps products and quotients within 18 digits */
        trim_scale(l);
        trim_scale(r);
    }
    mc2_coltype rt;
    if (l->type.id == MC2_T_DOUBLE || r->type.id == MC2_T_DOUBLE) {
        rt = mkty(MC2_T_DOUBLE);
    } else if (is_wide(&l->type, &r->type)) { /* the rules of mc2_px_arith (expr_build.c) */
        unsigned s1 = scale_of(&l->type), s2 = scale_of(&r->type);
        unsigned s = op == MC2_PX_MUL   ? s1 + s2
                     : op == MC2_PX_DIV ? (s1 > 6 ? s1 : 6)
                                        : (s1 > s2 ? s1 : s2);
        if (s > 38 || (op == MC2_PX_DIV && s - s1 + s2 > 38)) {
            berr(b, pos, MC2_E_INPUT,
                 "not supported: a DECIMAL %s with scale %u (at most 38; cast an operand to a "
                 "smaller scale)",
                 op == MC2_PX_DIV ? "quotient of a divisor" : "product", op == MC2_PX_DIV ? s2 : s);
            return NULL;
        }
        rt = dec38(s);
    } else if (op == MC2_PX_DIV) {
        unsigned s1 = scale_of(&l->type), s2 = scale_of(&r->type);
        if (s2 > 14) {
            berr(b, pos, MC2_E_INPUT,
                 "not supported: division by a DECIMAL with scale %u (at most 14)", s2);
            return NULL;
        }
        rt = dec18(s1 > 6 ? s1 : 6);
    } else if (op == MC2_PX_MUL) {
        unsigned s = scale_of(&l->type) + scale_of(&r->type);
        if (s > 18) {
            berr(b, pos, MC2_E_INPUT,
                 "not supported: a DECIMAL product with scale %u (at most 18; cast an operand "
                 "to a smaller scale)",
                 s);
            return NULL;
        }
        rt = l->type.id == MC2_T_INT64 && r->type.id == MC2_T_INT64 ? mkty(MC2_T_INT64) : dec18(s);
    } else if (l->type.id == MC2_T_INT64 && r->type.id == MC2_T_INT64) {
        rt = mkty(MC2_T_INT64);
    } else {
        unsigned s1 = scale_of(&l->type), s2 = scale_of(&r->type);
        rt = dec18(s1 > s2 ? s1 : s2);
    }
    mc2_lexpr *x = lx(b, MC2_LX_ARITH, 2, pos);
    if (!x) return NULL;
    x->op = op;
    x->args[0] = l;
    x->args[1] = r;
    x->type = rt;
    x->nullable = l->nullable || r->nullable || op == MC2_PX_DIV || op == MC2_PX_MOD;
    return x;
}

static mc2_lexpr *mk_date_add(bctx *b, mc2_sql_pos pos, mc2_lexpr *d, const mc2_sql_expr *iv,
                              bool negate)
{
    if (d->type.id != MC2_T_DATE && !untyped_null(d)) {
        char b1[40];
        berr(b, pos, MC2_E_INPUT, "type mismatch: an INTERVAL can only be added to a DATE, not %s",
             tname(&d->type, b1));
        return NULL;
    }
    retype_null(d, mkty(MC2_T_DATE));
    int64_t n = iv->interval.value;
    if (n > 4000000 || n < -4000000) {
        berr(b, iv->pos, MC2_E_INPUT, "INTERVAL out of range (at most 4000000 units)");
        return NULL;
    }
    mc2_lexpr *x = lx(b, MC2_LX_FUNC, 1, pos);
    if (!x) return NULL;
    x->op = MC2_PF_DATE_ADD;
    x->aux = negate ? -n : n;
    x->aux2 = unit_of(iv->interval.unit);
    x->args[0] = d;
    x->type = mkty(MC2_T_DATE);
    x->nullable = d->nullable;
    return x;
}

/* ---- expressions ------------------------------------------------------------------------- */

static mc2_lnode *bind_query(bctx *b, const mc2_sql_query *q, bscope *parent, const bcte *ctes,
                             const char ***names, bool *correlated);

static mc2_lexpr *bind_expr(bctx *b, const bexp *x, const mc2_sql_expr *e);

static mc2_lexpr *bind_cast(bctx *b, mc2_sql_pos pos, mc2_lexpr *a, mc2_coltype t)
{
    enum mc2_type f = a->type.id;
    if (untyped_null(a)) {
        retype_null(a, t);
        return a;
    }
    bool ok = f == t.id || (is_num(f) && is_num(t.id)) || f == MC2_T_VARCHAR ||
              t.id == MC2_T_VARCHAR || (f == MC2_T_BOOL && t.id == MC2_T_INT64) ||
              (f == MC2_T_INT64 && t.id == MC2_T_BOOL);
    if (!ok) {
        char b1[40], b2[40];
        berr(b, pos, MC2_E_INPUT, "type mismatch: cannot cast %s to %s", tname(&a->type, b1),
             tname(&t, b2));
        return NULL;
    }
    if (t.id == MC2_T_VARCHAR && t.length == 0) t.length = MC2_VARCHAR_MAX;
    mc2_lexpr *c = lx(b, MC2_LX_CAST, 1, pos);
    if (!c) return NULL;
    c->args[0] = a;
    c->type = t;
    c->nullable = a->nullable || (f == MC2_T_VARCHAR && t.id != MC2_T_VARCHAR);
    return c;
}

static mc2_lexpr *bind_subquery(bctx *b, const bexp *x, const mc2_sql_expr *e,
                                const mc2_sql_query *q, enum mc2_lx_kind kind)
{
    const char **names;
    bool corr = false;
    mc2_lnode *sub = bind_query(b, q, x->scope, x->scope->ctes, &names, &corr);
    if (!sub) return NULL;
    mc2_lexpr *r = lx(b, kind, kind == MC2_LX_IN_QUERY ? 1 : 0, e->pos);
    if (!r) return NULL;
    r->sub = sub;
    r->type = mkty(MC2_T_BOOL);
    if (kind == MC2_LX_EXISTS) return r;
    if (sub->ncols != 1) {
        berr(b, e->pos, MC2_E_INPUT, "%s must return one column (it returns %zu)",
             kind == MC2_LX_SUBQUERY ? "a scalar subquery" : "the subquery of IN", sub->ncols);
        return NULL;
    }
    const mc2_lcolinfo *ci = &b->lp->cols[sub->cols[0]];
    if (kind == MC2_LX_SUBQUERY) {
        r->type = ci->type;
        r->nullable = true;
        return r;
    }
    mc2_lexpr *arg = bind_expr(b, x, e->in_query.arg);
    if (!arg) return NULL;
    mc2_lexpr probe = {0};
    probe.kind = MC2_LX_COL;
    probe.type = ci->type;
    if (!comparable(arg, &probe)) {
        char b1[40], b2[40];
        berr(b, e->pos, MC2_E_INPUT, "type mismatch: cannot compare %s with %s (IN subquery)",
             tname(&arg->type, b1), tname(&ci->type, b2));
        return NULL;
    }
    retype_null(arg, ci->type);
    r->args[0] = arg;
    r->negated = e->in_query.negated;
    r->nullable = true;
    return r;
}

static mc2_lexpr *bind_func(bctx *b, const bexp *x, const mc2_sql_expr *e)
{
    char b1[40], b2[40];
    enum mc2_sql_func fn = e->func.fn;
    const char *fname = mc2_sql_ast_func_name(fn);
    if (mc2_sql_ast_is_aggregate(fn)) {
        if (!x->allow_agg) {
            berr(b, e->pos, MC2_E_INPUT, "aggregate function %s is not allowed in %s", fname,
                 x->clause);
            return NULL;
        }
        if (x->in_agg) {
            berr(b, e->pos, MC2_E_INPUT, "aggregate function calls cannot be nested (%s)", fname);
            return NULL;
        }
        mc2_lexpr *a = NULL;
        if (!e->func.star) {
            bexp ix = *x;
            ix.in_agg = true;
            if (!(a = bind_expr(b, &ix, e->func.args[0]))) return NULL;
            if (mc2_lexpr_has_subquery(a)) {
                berr(b, e->pos, MC2_E_INPUT, "not supported: a subquery inside %s", fname);
                return NULL;
            }
        }
        mc2_lexpr *r = lx(b, MC2_LX_AGG, a ? 1 : 0, e->pos);
        if (!r) return NULL;
        if (a) r->args[0] = a;
        r->distinct = e->func.distinct;
        r->nullable = true;
        switch (fn) {
        case MC2_SQL_FN_COUNT:
            r->op = e->func.star ? MC2_AGG_COUNT_STAR : MC2_AGG_COUNT;
            r->type = mkty(MC2_T_INT64);
            r->nullable = false;
            return r;
        case MC2_SQL_FN_SUM:
        case MC2_SQL_FN_AVG:
            retype_null(a, mkty(MC2_T_INT64));
            if (!is_num(a->type.id)) {
                berr(b, e->pos, MC2_E_INPUT, "type mismatch: %s needs a number, not %s", fname,
                     tname(&a->type, b1));
                return NULL;
            }
            r->op = fn == MC2_SQL_FN_SUM ? MC2_AGG_SUM : MC2_AGG_AVG;
            if (mc2_type_is_decimal(a->type.id))
                r->type = dec38(fn == MC2_SQL_FN_SUM || a->type.scale >= 6 ? a->type.scale : 6);
            else if (a->type.id == MC2_T_INT64 && fn == MC2_SQL_FN_AVG)
                r->type = mkty(MC2_T_DOUBLE);
            else
                r->type = a->type;
            return r;
        default:
            r->op = fn == MC2_SQL_FN_MIN ? MC2_AGG_MIN : MC2_AGG_MAX;
            r->type = a->type;
            return r;
        }
    }
    unsigned n = (unsigned)e->func.nargs;
    mc2_lexpr *av[8];
    mc2_lexpr **args = av;
    if (n > 8 && !(args = barray(b, n, sizeof *args))) return NULL;
    for (unsigned i = 0; i < n; i++)
        if (!(args[i] = bind_expr(b, x, e->func.args[i]))) return NULL;
    mc2_lexpr *r = lx(b, MC2_LX_FUNC, n, e->pos);
    if (!r) return NULL;
    for (unsigned i = 0; i < n; i++) {
        r->args[i] = args[i];
        r->nullable |= args[i]->nullable;
    }
    switch (fn) {
    case MC2_SQL_FN_SUBSTRING:
    case MC2_SQL_FN_UPPER:
    case MC2_SQL_FN_LOWER:
    case MC2_SQL_FN_LENGTH:
    case MC2_SQL_FN_TRIM:
        retype_null(args[0], mkty(MC2_T_VARCHAR));
        if (args[0]->type.id != MC2_T_VARCHAR) {
            berr(b, e->func.args[0]->pos, MC2_E_INPUT, "type mismatch: %s needs a VARCHAR, not %s",
                 fname, tname(&args[0]->type, b1));
            return NULL;
        }
        r->type = args[0]->type;
        break;
    default:
        break;
    }
    switch (fn) {
    case MC2_SQL_FN_SUBSTRING:
        r->op = MC2_PF_SUBSTRING;
        for (unsigned i = 1; i < n; i++) {
            retype_null(args[i], mkty(MC2_T_INT64));
            if (args[i]->type.id != MC2_T_INT64) {
                berr(b, e->func.args[i]->pos, MC2_E_INPUT,
                     "type mismatch: SUBSTRING positions must be INT64, not %s",
                     tname(&args[i]->type, b1));
                return NULL;
            }
        }
        return r;
    case MC2_SQL_FN_UPPER:
        r->op = MC2_PF_UPPER;
        return r;
    case MC2_SQL_FN_LOWER:
        r->op = MC2_PF_LOWER;
        return r;
    case MC2_SQL_FN_LENGTH:
        r->op = MC2_PF_LENGTH;
        r->type = mkty(MC2_T_INT64);
        return r;
    case MC2_SQL_FN_TRIM:
        r->op = MC2_PF_TRIM;
        r->aux = e->func.trim == MC2_SQL_TRIM_LEADING    ? MC2_PX_TRIM_LEADING
                 : e->func.trim == MC2_SQL_TRIM_TRAILING ? MC2_PX_TRIM_TRAILING
                                                         : MC2_PX_TRIM_BOTH;
        if (n == 2) {
            if (e->func.args[1]->kind != MC2_SQL_E_STRING) {
                berr(b, e->func.args[1]->pos, MC2_E_INPUT,
                     "not supported: TRIM characters that are not a string literal");
                return NULL;
            }
            r->val.s = e->func.args[1]->lit.text;
            r->val.slen = e->func.args[1]->lit.len;
            r->nargs = 1;
        }
        return r;
    case MC2_SQL_FN_CONCAT: {
        uint64_t len = 0;
        for (unsigned i = 0; i < n; i++) {
            retype_null(args[i], mkty(MC2_T_VARCHAR));
            len += args[i]->type.id == MC2_T_VARCHAR ? args[i]->type.length : MC2_VALUE_TEXT_MAX;
        }
        r->op = MC2_PF_CONCAT;
        r->type = mkty(MC2_T_VARCHAR);
        r->type.length = len > MC2_VARCHAR_MAX ? MC2_VARCHAR_MAX : (uint32_t)len;
        if (n > 64) {
            berr(b, e->pos, MC2_E_INPUT, "not supported: CONCAT of more than 64 arguments");
            return NULL;
        }
        return r;
    }
    case MC2_SQL_FN_COALESCE: {
        mc2_coltype t = args[0]->type;
        bool typed = !untyped_null(args[0]);
        for (unsigned i = 1; i < n; i++) {
            if (untyped_null(args[i])) continue;
            if (!typed) {
                t = args[i]->type;
                typed = true;
                continue;
            }
            mc2_lexpr ta = {0};
            ta.type = t;
            ta.kind = MC2_LX_COL;
            if (unify2(b, e->pos, "COALESCE arguments", &ta, args[i], &t)) return NULL;
        }
        for (unsigned i = 0; i < n; i++) retype_null(args[i], t);
        r->op = MC2_PF_COALESCE;
        r->type = t;
        r->nullable = true;
        for (unsigned i = 0; i < n; i++)
            if (!args[i]->nullable) r->nullable = false;
        return r;
    }
    case MC2_SQL_FN_NULLIF:
        if (!comparable(args[0], args[1])) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: NULLIF cannot compare %s with %s",
                 tname(&args[0]->type, b1), tname(&args[1]->type, b2));
            return NULL;
        }
        retype_null(args[1], args[0]->type);
        retype_null(args[0], args[1]->type);
        r->op = MC2_PF_NULLIF;
        r->type = args[0]->type;
        r->nullable = true;
        return r;
    case MC2_SQL_FN_ABS:
        retype_null(args[0], mkty(MC2_T_INT64));
        if (!is_num(args[0]->type.id)) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: ABS needs a number, not %s",
                 tname(&args[0]->type, b1));
            return NULL;
        }
        r->op = MC2_PF_ABS;
        r->type = args[0]->type;
        return r;
    case MC2_SQL_FN_ROUND: {
        retype_null(args[0], mkty(MC2_T_DOUBLE));
        if (!is_num(args[0]->type.id)) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: ROUND needs a number, not %s",
                 tname(&args[0]->type, b1));
            return NULL;
        }
        int64_t d = 0;
        if (n == 2) {
            const mc2_lexpr *dg = args[1];
            if (dg->kind != MC2_LX_CONST || dg->type.id != MC2_T_INT64 || dg->val.null ||
                dg->val.i < 0 || dg->val.i > 18) {
                berr(b, e->func.args[1]->pos, MC2_E_INPUT,
                     "not supported: ROUND digits other than an integer literal 0..18");
                return NULL;
            }
            d = dg->val.i;
        }
        r->op = MC2_PF_ROUND;
        r->aux = d;
        r->nargs = 1;
        r->type = args[0]->type;
        return r;
    }
    default:
        break;
    }
    berr(b, e->pos, MC2_E_INPUT, "not supported: function %s", fname);
    return NULL;
}

static mc2_lexpr *bind_case(bctx *b, const bexp *x, const mc2_sql_expr *e)
{
    size_t n = e->case_.nwhens;
    if (n > (1u << 20)) {
        berr(b, e->pos, MC2_E_LIMIT, "CASE with too many WHEN branches");
        return NULL;
    }
    mc2_lexpr *r = lx(b, MC2_LX_CASE, (unsigned)(2 * n + 1), e->pos);
    if (!r) return NULL;
    mc2_lexpr *op = NULL;
    if (e->case_.operand && !(op = bind_expr(b, x, e->case_.operand))) return NULL;
    bool typed = false;
    mc2_coltype t = mkty(MC2_T_INT64);
    for (size_t i = 0; i <= n; i++) {
        const mc2_sql_expr *v = i < n ? e->case_.thens[i] : e->case_.else_;
        mc2_lexpr *bv;
        if (!v) {
            if (!(bv = lx(b, MC2_LX_CONST, 0, e->pos))) return NULL;
            bv->val.null = true;
            bv->nullable = true;
            bv->aux = 1;
        } else if (!(bv = bind_expr(b, x, v))) {
            return NULL;
        }
        r->args[i < n ? 2 * i + 1 : 2 * n] = bv;
        if (untyped_null(bv)) continue;
        if (!typed) {
            t = bv->type;
            typed = true;
        } else {
            mc2_lexpr ta = {0};
            ta.kind = MC2_LX_COL;
            ta.type = t;
            if (unify2(b, v->pos, "CASE results", &ta, bv, &t)) return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        mc2_lexpr *w = bind_expr(b, x, e->case_.whens[i]);
        if (!w) return NULL;
        if (op) {
            if (!(w = mk_cmp(b, e->case_.whens[i]->pos, MC2_PX_EQ, op, w))) return NULL;
        } else if (need_bool(b, w, "a CASE WHEN condition")) {
            return NULL;
        }
        retype_null(w, mkty(MC2_T_BOOL));
        r->args[2 * i] = w;
    }
    r->type = t;
    for (size_t i = 0; i <= n; i++) {
        mc2_lexpr *v = r->args[i < n ? 2 * i + 1 : 2 * n];
        retype_null(v, t);
        r->nullable |= v->nullable;
    }
    return r;
}

static mc2_lexpr *bind_expr(bctx *b, const bexp *x, const mc2_sql_expr *e)
{
    char b1[40];
    if (++b->work > BIND_MAX_WORK) {
        berr(b, e->pos, MC2_E_LIMIT, "query too large to bind (WITH expansions included)");
        return NULL;
    }
    switch (e->kind) {
    case MC2_SQL_E_COLUMN:
        return bind_column(b, x->scope, e);
    case MC2_SQL_E_STAR:
        berr(b, e->pos, MC2_E_INPUT, "* is allowed only in a select list or COUNT(*)");
        return NULL;
    case MC2_SQL_E_INT:
    case MC2_SQL_E_DECIMAL:
    case MC2_SQL_E_FLOAT:
    case MC2_SQL_E_STRING:
    case MC2_SQL_E_DATE:
    case MC2_SQL_E_NULL:
    case MC2_SQL_E_BOOL:
        return bind_literal(b, e);
    case MC2_SQL_E_INTERVAL:
        berr(b, e->pos, MC2_E_INPUT,
             "an INTERVAL can only be added to or subtracted from a DATE (DATE '...' + INTERVAL "
             "'n' DAY)");
        return NULL;
    case MC2_SQL_E_UNARY: {
        mc2_lexpr *a = bind_expr(b, x, e->unary.arg);
        if (!a) return NULL;
        if (e->unary.op == MC2_SQL_OP_NOT) return mk_not(b, e->pos, a);
        retype_null(a, mkty(MC2_T_INT64));
        if (!is_num(a->type.id)) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: unary %s needs a number, not %s",
                 e->unary.op == MC2_SQL_OP_NEG ? "-" : "+", tname(&a->type, b1));
            return NULL;
        }
        if (e->unary.op == MC2_SQL_OP_PLUS) return a;
        /* fold -literal so that -9223372036854775808 and -1.5 stay literals */
        if (a->kind == MC2_LX_CONST && !a->val.null && a->type.id != MC2_T_DOUBLE) {
            if (a->val.i == INT64_MIN) goto neg_node;
            a->val.i = -a->val.i;
            return a;
        }
        if (a->kind == MC2_LX_CONST && !a->val.null) {
            a->val.f = -a->val.f;
            return a;
        }
    neg_node : {
        mc2_lexpr *r = lx(b, MC2_LX_ARITH, 1, e->pos);
        if (!r) return NULL;
        r->op = MC2_PX_NEG;
        r->args[0] = a;
        r->type = a->type;
        if (r->type.id == MC2_T_DECIMAL) r->type.precision = 18;
        if (r->type.id == MC2_T_DEC128) r->type.precision = 38;
        r->nullable = a->nullable;
        return r;
    }
    }
    case MC2_SQL_E_BINARY: {
        enum mc2_sql_op op = e->binary.op;
        const mc2_sql_expr *le = e->binary.left, *re = e->binary.right;
        if ((op == MC2_SQL_OP_ADD || op == MC2_SQL_OP_SUB) && re->kind == MC2_SQL_E_INTERVAL) {
            mc2_lexpr *l = bind_expr(b, x, le);
            return l ? mk_date_add(b, e->pos, l, re, op == MC2_SQL_OP_SUB) : NULL;
        }
        if (op == MC2_SQL_OP_ADD && le->kind == MC2_SQL_E_INTERVAL) {
            mc2_lexpr *r = bind_expr(b, x, re);
            return r ? mk_date_add(b, e->pos, r, le, false) : NULL;
        }
        mc2_lexpr *l = bind_expr(b, x, le);
        if (!l) return NULL;
        mc2_lexpr *r = bind_expr(b, x, re);
        if (!r) return NULL;
        switch (op) {
        case MC2_SQL_OP_AND:
            return mk_logic(b, e->pos, MC2_LX_AND, l, r);
        case MC2_SQL_OP_OR:
            return mk_logic(b, e->pos, MC2_LX_OR, l, r);
        case MC2_SQL_OP_EQ:
            return mk_cmp(b, e->pos, MC2_PX_EQ, l, r);
        case MC2_SQL_OP_NE:
            return mk_cmp(b, e->pos, MC2_PX_NE, l, r);
        case MC2_SQL_OP_LT:
            return mk_cmp(b, e->pos, MC2_PX_LT, l, r);
        case MC2_SQL_OP_LE:
            return mk_cmp(b, e->pos, MC2_PX_LE, l, r);
        case MC2_SQL_OP_GT:
            return mk_cmp(b, e->pos, MC2_PX_GT, l, r);
        case MC2_SQL_OP_GE:
            return mk_cmp(b, e->pos, MC2_PX_GE, l, r);
        case MC2_SQL_OP_CONCAT: {
            mc2_lexpr *c = lx(b, MC2_LX_FUNC, 2, e->pos);
            if (!c) return NULL;
            retype_null(l, mkty(MC2_T_VARCHAR));
            retype_null(r, mkty(MC2_T_VARCHAR));
            c->op = MC2_PF_CONCAT;
            c->args[0] = l;
            c->args[1] = r;
            uint64_t len =
                (l->type.id == MC2_T_VARCHAR ? l->type.length : MC2_VALUE_TEXT_MAX) +
                (uint64_t)(r->type.id == MC2_T_VARCHAR ? r->type.length : MC2_VALUE_TEXT_MAX);
            c->type = mkty(MC2_T_VARCHAR);
            c->type.length = len > MC2_VARCHAR_MAX ? MC2_VARCHAR_MAX : (uint32_t)len;
            c->nullable = l->nullable || r->nullable;
            return c;
        }
        default:
            return mk_arith(b, e->pos, op, l, r);
        }
    }
    case MC2_SQL_E_IS_NULL: {
        mc2_lexpr *a = bind_expr(b, x, e->is_null.arg);
        if (!a) return NULL;
        mc2_lexpr *r = lx(b, MC2_LX_IS_NULL, 1, e->pos);
        if (!r) return NULL;
        r->args[0] = a;
        r->negated = e->is_null.negated;
        r->type = mkty(MC2_T_BOOL);
        return r;
    }
    case MC2_SQL_E_BETWEEN: {
        mc2_lexpr *a = bind_expr(b, x, e->between.arg);
        mc2_lexpr *lo = a ? bind_expr(b, x, e->between.low) : NULL;
        mc2_lexpr *hi = lo ? bind_expr(b, x, e->between.high) : NULL;
        if (!hi) return NULL;
        mc2_lexpr *c1 = mk_cmp(b, e->pos, MC2_PX_GE, a, lo);
        mc2_lexpr *c2 = c1 ? mk_cmp(b, e->pos, MC2_PX_LE, a, hi) : NULL;
        mc2_lexpr *r = c2 ? mk_logic(b, e->pos, MC2_LX_AND, c1, c2) : NULL;
        return r && e->between.negated ? mk_not(b, e->pos, r) : r;
    }
    case MC2_SQL_E_IN_LIST: {
        size_t n = e->in_list.nitems;
        if (n + 1 > UINT32_MAX / 2) {
            berr(b, e->pos, MC2_E_LIMIT, "IN list too long");
            return NULL;
        }
        mc2_lexpr *a = bind_expr(b, x, e->in_list.arg);
        if (!a) return NULL;
        mc2_lexpr *r = lx(b, MC2_LX_IN, (unsigned)(n + 1), e->pos);
        if (!r) return NULL;
        r->args[0] = a;
        r->nullable = a->nullable;
        for (size_t i = 0; i < n; i++) {
            mc2_lexpr *it = bind_expr(b, x, e->in_list.items[i]);
            if (!it) return NULL;
            if (!comparable(a, it)) {
                char b2[40];
                berr(b, e->in_list.items[i]->pos, MC2_E_INPUT,
                     "type mismatch: cannot compare %s with %s (IN list item %zu)",
                     tname(&a->type, b1), tname(&it->type, b2), i + 1);
                return NULL;
            }
            r->args[i + 1] = it;
            r->nullable |= it->nullable;
        }
        for (size_t i = 1; i <= n; i++) retype_null(r->args[i], a->type);
        if (untyped_null(a)) retype_null(a, r->args[1]->type);
        r->negated = e->in_list.negated;
        r->type = mkty(MC2_T_BOOL);
        return r;
    }
    case MC2_SQL_E_IN_QUERY:
        return bind_subquery(b, x, e, e->in_query.query, MC2_LX_IN_QUERY);
    case MC2_SQL_E_LIKE: {
        mc2_lexpr *a = bind_expr(b, x, e->like.arg);
        if (!a) return NULL;
        retype_null(a, mkty(MC2_T_VARCHAR));
        if (a->type.id != MC2_T_VARCHAR) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: LIKE needs a VARCHAR, not %s",
                 tname(&a->type, b1));
            return NULL;
        }
        if (e->like.pattern->kind != MC2_SQL_E_STRING) {
            berr(b, e->like.pattern->pos, MC2_E_INPUT,
                 "not supported: a LIKE pattern that is not a string literal");
            return NULL;
        }
        mc2_lexpr *r = lx(b, MC2_LX_LIKE, 1, e->pos);
        if (!r) return NULL;
        r->args[0] = a;
        r->val.s = e->like.pattern->lit.text;
        r->val.slen = e->like.pattern->lit.len;
        r->negated = e->like.negated;
        r->type = mkty(MC2_T_BOOL);
        r->nullable = a->nullable;
        if (e->like.escape) {
            unsigned char c = (unsigned char)e->like.escape->lit.text[0];
            if (c >= 128) {
                berr(b, e->like.escape->pos, MC2_E_INPUT,
                     "not supported: a non-ASCII LIKE escape character");
                return NULL;
            }
            r->escape = c;
            const char *p = r->val.s;
            for (size_t i = 0; i < r->val.slen; i++)
                if ((unsigned char)p[i] == c) {
                    if (i + 1 == r->val.slen) {
                        berr(b, e->like.pattern->pos, MC2_E_INPUT,
                             "LIKE pattern ends with the escape character");
                        return NULL;
                    }
                    i++;
                }
        }
        return r;
    }
    case MC2_SQL_E_EXISTS:
        return bind_subquery(b, x, e, e->subquery.query, MC2_LX_EXISTS);
    case MC2_SQL_E_SUBQUERY:
        return bind_subquery(b, x, e, e->subquery.query, MC2_LX_SUBQUERY);
    case MC2_SQL_E_CASE:
        return bind_case(b, x, e);
    case MC2_SQL_E_CAST: {
        mc2_lexpr *a = bind_expr(b, x, e->cast.arg);
        return a ? bind_cast(b, e->pos, a, e->cast.type) : NULL;
    }
    case MC2_SQL_E_FUNC:
        return bind_func(b, x, e);
    case MC2_SQL_E_EXTRACT: {
        mc2_lexpr *a = bind_expr(b, x, e->extract.arg);
        if (!a) return NULL;
        retype_null(a, mkty(MC2_T_DATE));
        if (a->type.id != MC2_T_DATE) {
            berr(b, e->pos, MC2_E_INPUT, "type mismatch: EXTRACT needs a DATE, not %s",
                 tname(&a->type, b1));
            return NULL;
        }
        mc2_lexpr *r = lx(b, MC2_LX_FUNC, 1, e->pos);
        if (!r) return NULL;
        r->op = MC2_PF_EXTRACT;
        r->aux = unit_of(e->extract.field);
        r->args[0] = a;
        r->type = mkty(MC2_T_INT64);
        r->nullable = a->nullable;
        return r;
    }
    }
    berr(b, e->pos, MC2_E_INTERNAL, "binder: unknown expression kind %d", (int)e->kind);
    return NULL;
}

/* A bound boolean condition (WHERE, HAVING, ON). */
static mc2_lexpr *bind_cond(bctx *b, const bexp *x, const mc2_sql_expr *e, const char *what)
{
    mc2_lexpr *c = bind_expr(b, x, e);
    if (!c) return NULL;
    if (c->type.id != MC2_T_BOOL && !untyped_null(c)) {
        char b1[40];
        berr(b, e->pos, MC2_E_INPUT, "type mismatch: %s must be BOOL, not %s", what,
             tname(&c->type, b1));
        return NULL;
    }
    retype_null(c, mkty(MC2_T_BOOL));
    return c;
}

/* ---- FROM -------------------------------------------------------------------------------- */

static mc2_lnode *mk_join(bctx *b, enum mc2_join_type jt, mc2_lnode *l, mc2_lnode *r,
                          mc2_lexpr *cond)
{
    mc2_lnode *j = ln(b, MC2_LN_JOIN);
    if (!j) return NULL;
    j->jtype = jt;
    j->left = l;
    j->right = r;
    j->pred = cond;
    if (mc2_lnode_passcols(b->lp, j, b->err)) return NULL;
    return j;
}

static int set_nullable(bctx *b, mc2_lnode *n)
{
    for (size_t i = 0; i < n->ncols; i++) b->lp->cols[n->cols[i]].nullable = true;
    return 0;
}

static mc2_lnode *bind_tref(bctx *b, bscope *s, const mc2_sql_tref *t);

/* The input a foreign key references: by the name the query knows it by, else by its
 * schema's table name; NULL if it is not among the inputs or lacks a referenced column. */
static const mc2_sql_table *fk_target(const bctx *b, const mc2_fkey *f)
{
    const mc2_sql_table *t = NULL;
    for (size_t i = 0; i < b->ntables && !t; i++)
        if (strcasecmp(b->tables[i].name, f->ref_table) == 0) t = &b->tables[i];
    for (size_t i = 0; i < b->ntables && !t; i++)
        if (b->tables[i].schema->name && strcasecmp(b->tables[i].schema->name, f->ref_table) == 0)
            t = &b->tables[i];
    for (size_t j = 0; t && j < f->ncols; j++)
        if (mc2_schema_find(t->schema, f->ref_cols[j]) < 0) t = NULL;
    return t;
}

/* Estimates from the declared keys of the table tab read into column ids ids[] (one per
 * schema column): a primary key column has one value per row; a foreign key takes at most
 * as many values as the referenced input has rows (a composite one records a set bound). */
static int key_stats(bctx *b, const mc2_sql_table *tab, const uint32_t *ids)
{
    const mc2_schema *sch = tab->schema;
    mc2_lplan *lp = b->lp;
    if (sch->npk == 1) lp->cols[ids[sch->pk[0]]].keyed = true;
    for (size_t i = 0; i < sch->nfk; i++) {
        const mc2_fkey *f = &sch->fk[i];
        const mc2_sql_table *t = fk_target(b, f);
        if (!t) continue;
        double rows = t->rows < 1 ? 1 : (double)t->rows;
        if (f->ncols == 1) {
            mc2_lcolinfo *ci = &lp->cols[ids[f->cols[0]]];
            if (rows < ci->ndv) ci->ndv = rows;
            ci->keyed = true;
            continue;
        }
        if (lp->nsets == lp->capsets) {
            size_t cap = lp->capsets ? lp->capsets * 2 : 8;
            mc2_lndvset *v = barray(b, cap, sizeof *v);
            if (!v) return -1;
            if (lp->nsets) memcpy(v, lp->sets, lp->nsets * sizeof *v);
            lp->sets = v;
            lp->capsets = cap;
        }
        uint32_t *set = barray(b, f->ncols, sizeof *set);
        if (!set) return -1;
        for (size_t j = 0; j < f->ncols; j++) set[j] = ids[f->cols[j]];
        lp->sets[lp->nsets++] = (mc2_lndvset){set, (unsigned)f->ncols, rows};
    }
    return 0;
}

static mc2_lnode *bind_named(bctx *b, bscope *s, const mc2_sql_tref *t)
{
    const char *name = t->table.name;
    const char *rname = t->alias ? t->alias : name;
    brel rel = {0};
    rel.name = rname;
    mc2_lnode *node = NULL;
    /* CTEs first, innermost scope outward */
    const bcte *cte = NULL;
    for (const bscope *sc = s; sc && !cte; sc = sc->parent)
        for (const bcte *c = sc->ctes; c; c = c->next)
            if (strcasecmp(c->def->name, name) == 0) {
                cte = c;
                break;
            }
    if (cte) {
        if (b->nest >= BIND_MAX_NEST) {
            berr(b, t->pos, MC2_E_LIMIT,
                 "query nested too deeply (more than %d levels of subqueries and WITH)",
                 BIND_MAX_NEST);
            return NULL;
        }
        const char **names;
        bool corr = false;
        /* A CTE sees the CTEs defined before it, and nothing of the query using it. */
        node = bind_query(b, cte->def->query, NULL, cte->next, &names, &corr);
        if (!node) return NULL;
        if (cte->def->ncols > node->ncols) {
            berr(b, cte->def->pos, MC2_E_INPUT,
                 "WITH %s names %zu columns but its query returns %zu", cte->def->name,
                 cte->def->ncols, node->ncols);
            return NULL;
        }
        for (size_t i = 0; i < cte->def->ncols; i++) names[i] = cte->def->cols[i];
        rel.ids = node->cols;
        rel.names = names;
        rel.n = node->ncols;
    } else {
        const mc2_sql_table *tab = NULL;
        size_t ti = 0;
        for (size_t i = 0; i < b->ntables; i++)
            if (strcasecmp(b->tables[i].name, name) == 0) {
                tab = &b->tables[i];
                ti = i;
                break;
            }
        if (!tab) {
            char hint[200];
            suggest sg;
            sug_init(&sg, name);
            for (size_t i = 0; i < b->ntables; i++) sug_try(&sg, b->tables[i].name);
            for (const bscope *sc = s; sc; sc = sc->parent)
                for (const bcte *c = sc->ctes; c; c = c->next) sug_try(&sg, c->def->name);
            berr(b, t->pos, MC2_E_INPUT, "unknown table '%s'%s", name,
                 sug_text(&sg, hint, sizeof hint));
            return NULL;
        }
        const mc2_schema *sch = tab->schema;
        node = ln(b, MC2_LN_SCAN);
        if (!node) return NULL;
        node->input = (unsigned)ti;
        node->table = tab->name;
        node->ncols = sch->ncols;
        node->cols = barray(b, sch->ncols + 1, sizeof *node->cols);
        node->scan_cols = barray(b, sch->ncols + 1, sizeof *node->scan_cols);
        rel.names = barray(b, sch->ncols + 1, sizeof *rel.names);
        if (!node->cols || !node->scan_cols || !rel.names) return NULL;
        for (size_t c = 0; c < sch->ncols; c++) {
            uint32_t id = mc2_lplan_newcol(b->lp, sch->cols[c].name, rname, sch->cols[c].type,
                                           sch->cols[c].nullable, b->err);
            if (!id) return NULL;
            /* distinct values for estimates: the table size, less for short types */
            double ndv = (double)tab->rows;
            const mc2_coltype *ct = &sch->cols[c].type;
            if (ct->id == MC2_T_BOOL && ndv > 2) ndv = 2;
            if (ct->id == MC2_T_VARCHAR && ct->length <= 3) {
                double cap = ct->length == 1 ? 26 : ct->length == 2 ? 676 : 17576;
                if (ndv > cap) ndv = cap;
            }
            b->lp->cols[id].ndv = ndv;
            b->lp->cols[id].scan = node->cols[0] ? node->cols[0] : id;
            b->lp->cols[id].input = (unsigned)ti;
            node->cols[c] = id;
            node->scan_cols[c] = (unsigned)c;
            rel.names[c] = sch->cols[c].name;
        }
        node->rows = (double)tab->rows;
        if (key_stats(b, tab, node->cols)) return NULL;
        rel.ids = node->cols;
        rel.n = sch->ncols;
    }
    if (t->ncols) {
        if (t->ncols > rel.n) {
            berr(b, t->pos, MC2_E_INPUT, "table '%s' has %zu columns but %zu names are given",
                 rname, rel.n, t->ncols);
            return NULL;
        }
        const char **nn = barray(b, rel.n + 1, sizeof *nn);
        if (!nn) return NULL;
        for (size_t i = 0; i < rel.n; i++) nn[i] = i < t->ncols ? t->cols[i] : rel.names[i];
        rel.names = nn;
    }
    for (size_t r = 0; r < s->nrels; r++)
        if (strcasecmp(s->rels[r].name, rname) == 0) {
            berr(b, t->pos, MC2_E_INPUT,
                 "table name '%s' is used twice in FROM (give one of them an alias)", rname);
            return NULL;
        }
    if (scope_add(b, s, &rel)) return NULL;
    return node;
}

static mc2_lnode *bind_derived(bctx *b, bscope *s, const mc2_sql_tref *t)
{
    const char **names;
    bool corr = false;
    /* no LATERAL: a derived table sees enclosing queries but not its FROM siblings */
    mc2_lnode *node = bind_query(b, t->subquery.query, s->parent, s->ctes, &names, &corr);
    if (!node) return NULL;
    if (corr) s->outer_used = true;
    brel rel = {0};
    rel.name = t->alias ? t->alias : "?subquery?";
    rel.ids = node->cols;
    rel.n = node->ncols;
    rel.names = names;
    if (t->ncols) {
        if (t->ncols > rel.n) {
            berr(b, t->pos, MC2_E_INPUT, "subquery '%s' has %zu columns but %zu names are given",
                 rel.name, rel.n, t->ncols);
            return NULL;
        }
        for (size_t i = 0; i < t->ncols; i++) names[i] = t->cols[i];
    }
    for (size_t r = 0; t->alias && r < s->nrels; r++)
        if (strcasecmp(s->rels[r].name, rel.name) == 0) {
            berr(b, t->pos, MC2_E_INPUT,
                 "table name '%s' is used twice in FROM (give one of them an alias)", rel.name);
            return NULL;
        }
    if (scope_add(b, s, &rel)) return NULL;
    return node;
}

static mc2_lnode *bind_join(bctx *b, bscope *s, const mc2_sql_tref *t)
{
    size_t l0 = s->nrels;
    mc2_lnode *l = bind_tref(b, s, t->join.left);
    if (!l) return NULL;
    size_t r0 = s->nrels;
    mc2_lnode *r = bind_tref(b, s, t->join.right);
    if (!r) return NULL;
    size_t r1 = s->nrels;
    enum mc2_sql_join jt = t->join.type;
    mc2_lexpr *cond = NULL;
    if (t->join.on) {
        /* ON sees only the two sides (and outer queries) */
        bscope on = *s;
        on.rels = s->rels + l0;
        on.nrels = r1 - l0;
        bexp x = {&on, "JOIN ... ON", false, false};
        cond = bind_cond(b, &x, t->join.on, "a JOIN condition");
        if (!cond) return NULL;
        s->outer_used |= on.outer_used;
        if (mc2_lexpr_has_subquery(cond)) {
            berr(b, t->join.on->pos, MC2_E_INPUT,
                 "not supported: a subquery in a JOIN ... ON condition (move it to WHERE)");
            return NULL;
        }
    } else if (t->join.nusing) {
        if (jt == MC2_SQL_J_FULL) {
            berr(b, t->pos, MC2_E_INPUT, "not supported: FULL JOIN ... USING (write ON)");
            return NULL;
        }
        for (size_t i = 0; i < t->join.nusing; i++) {
            const char *cn = t->join.using_[i];
            uint32_t li, ri;
            size_t lr, rr;
            int fl = find_unqualified(b, s, l0, r0, cn, t->pos, &li, &lr);
            if (fl < 0) return NULL;
            int fr = find_unqualified(b, s, r0, r1, cn, t->pos, &ri, &rr);
            if (fr < 0) return NULL;
            if (!fl || !fr) {
                berr(b, t->pos, MC2_E_INPUT, "USING column '%s' is not in the %s side of the join",
                     cn, fl ? "right" : "left");
                return NULL;
            }
            mc2_lexpr *a = mc2_lexpr_col(b->lp, li, b->err);
            mc2_lexpr *c = a ? mc2_lexpr_col(b->lp, ri, b->err) : NULL;
            mc2_lexpr *eq = c ? mk_cmp(b, t->pos, MC2_PX_EQ, a, c) : NULL;
            if (!eq) return NULL;
            if (!(cond = mc2_lexpr_and(b->lp, cond, eq, b->err))) return NULL;
            /* hide the copy that the merged column does not come from */
            bool hide_right = jt != MC2_SQL_J_RIGHT;
            brel *hr = &s->rels[hide_right ? rr : lr];
            uint32_t hid = hide_right ? ri : li;
            if (!hr->hidden) {
                if (!(hr->hidden = barray(b, hr->n + 1, sizeof *hr->hidden))) return NULL;
            }
            for (size_t c2 = 0; c2 < hr->n; c2++)
                if (hr->ids[c2] == hid) hr->hidden[c2] = true;
        }
    }
    switch (jt) {
    case MC2_SQL_J_INNER:
    case MC2_SQL_J_CROSS:
        return mk_join(b, MC2_JOIN_INNER, l, r, cond);
    case MC2_SQL_J_LEFT:
        set_nullable(b, r);
        return mk_join(b, MC2_JOIN_LEFT, l, r, cond);
    case MC2_SQL_J_RIGHT:
        /* r RIGHT JOIN: the same as a LEFT join with the sides swapped (columns are ids) */
        set_nullable(b, l);
        return mk_join(b, MC2_JOIN_LEFT, r, l, cond);
    case MC2_SQL_J_FULL:
        set_nullable(b, l);
        set_nullable(b, r);
        return mk_join(b, MC2_JOIN_FULL, l, r, cond);
    }
    berr(b, t->pos, MC2_E_INTERNAL, "binder: bad join type");
    return NULL;
}

static mc2_lnode *bind_tref(bctx *b, bscope *s, const mc2_sql_tref *t)
{
    switch (t->kind) {
    case MC2_SQL_T_TABLE:
        return bind_named(b, s, t);
    case MC2_SQL_T_SUBQUERY:
        return bind_derived(b, s, t);
    case MC2_SQL_T_JOIN:
        return bind_join(b, s, t);
    }
    berr(b, t->pos, MC2_E_INTERNAL, "binder: bad FROM item");
    return NULL;
}

/* ---- aggregation ------------------------------------------------------------------------- */

typedef struct aggctx {
    mc2_lexpr **groups; /* bound group keys */
    uint32_t *gids;     /* their output ids */
    size_t ngroups;
    mc2_lexpr **aggs; /* distinct aggregate calls */
    uint32_t *aids;
    size_t naggs, capaggs;
    mc2_idset from; /* ids the FROM clause produces */
    const char *clause;
} aggctx;

/* Rewrites e (bound over the FROM columns) to read the aggregation's output. */
static mc2_lexpr *agg_extract(bctx *b, aggctx *g, mc2_lexpr *e)
{
    for (size_t i = 0; i < g->ngroups; i++)
        if (mc2_lexpr_equal(e, g->groups[i])) {
            mc2_lexpr *c = mc2_lexpr_col(b->lp, g->gids[i], b->err);
            if (c) c->pos = e->pos;
            return c;
        }
    if (e->kind == MC2_LX_AGG) {
        for (size_t i = 0; i < g->naggs; i++)
            if (mc2_lexpr_equal(e, g->aggs[i])) return mc2_lexpr_col(b->lp, g->aids[i], b->err);
        if (g->naggs == g->capaggs) {
            size_t cap = g->capaggs ? g->capaggs * 2 : 8;
            mc2_lexpr **na = barray(b, cap, sizeof *na);
            uint32_t *ni = barray(b, cap, sizeof *ni);
            if (!na || !ni) return NULL;
            if (g->naggs) {
                memcpy(na, g->aggs, g->naggs * sizeof *na);
                memcpy(ni, g->aids, g->naggs * sizeof *ni);
            }
            g->aggs = na;
            g->aids = ni;
            g->capaggs = cap;
        }
        const char *nm = "?aggregate?";
        mc2_buf buf = {0};
        mc2_err perr;
        if (mc2_lexpr_print(b->lp, e, &buf, &perr) == 0) {
            size_t n = buf.len > MC2_MAX_NAME ? MC2_MAX_NAME : buf.len;
            while (n > 0 && n < buf.len && (buf.data[n] & 0xC0) == 0x80) n--;
            char *c = mc2_arena_strndup(b->a, (const char *)buf.data, n, b->err);
            if (c) nm = c;
        }
        mc2_buf_free(&buf);
        uint32_t id = mc2_lplan_newcol(b->lp, nm, NULL, e->type, e->nullable, b->err);
        if (!id) return NULL;
        g->aggs[g->naggs] = e;
        g->aids[g->naggs++] = id;
        return mc2_lexpr_col(b->lp, id, b->err);
    }
    if (e->kind == MC2_LX_COL) {
        if (!mc2_idset_has(&g->from, e->col)) return e; /* outer reference: a constant here */
        const mc2_lcolinfo *ci = &b->lp->cols[e->col];
        berr(b, e->pos, MC2_E_INPUT,
             "column '%s%s%s' must appear in GROUP BY or be used in an aggregate function",
             ci->qual ? ci->qual : "", ci->qual ? "." : "", ci->name);
        return NULL;
    }
    if (e->sub) {
        mc2_idset refs;
        if (mc2_idset_init(b->lp, &refs, b->err)) return NULL;
        mc2_lnode_refs(e->sub, &refs);
        for (uint32_t w = 0; w < refs.nw && w < g->from.nw; w++)
            if (refs.w[w] & g->from.w[w]) {
                berr(b, e->pos, MC2_E_INPUT,
                     "not supported: a correlated subquery in the select list or HAVING of a "
                     "grouped query");
                return NULL;
            }
    }
    if (!e->nargs) return e;
    mc2_lexpr *c = mc2_lexpr_new(b->lp, e->kind, 0, b->err);
    if (!c) return NULL;
    *c = *e;
    c->args = barray(b, e->nargs, sizeof *c->args);
    if (!c->args) return NULL;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!(c->args[i] = agg_extract(b, g, e->args[i]))) return NULL;
    return c;
}

/* ---- SELECT ------------------------------------------------------------------------------ */

/* Name of an output column for an expression without an alias. */
static const char *derive_name(bctx *b, const mc2_sql_expr *e)
{
    if (e->kind == MC2_SQL_E_COLUMN) return e->column.name;
    mc2_buf buf = {0};
    mc2_err err;
    const char *r = "?column?";
    if (mc2_sql_ast_print_expr(e, &buf, &err) == 0) {
        size_t n = buf.len > MC2_MAX_NAME ? MC2_MAX_NAME : buf.len;
        while (n > 0 && n < buf.len && (buf.data[n] & 0xC0) == 0x80) n--;
        char *s = mc2_arena_strndup(b->a, (const char *)buf.data, n, b->err);
        if (s) r = s;
    }
    mc2_buf_free(&buf);
    return r;
}

/* The select list, after * expansion: AST expressions and names. */
typedef struct item {
    const mc2_sql_expr *ast; /* NULL for an expanded * column */
    uint32_t star_id;        /* the column of an expanded * */
    const char *name;
    mc2_lexpr *bound;
} item;

static int expand_items(bctx *b, bscope *s, const mc2_sql_select *sel, item **out, size_t *nout)
{
    size_t n = 0, cap = sel->nitems + 8;
    item *v = barray(b, cap, sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < sel->nitems; i++) {
        const mc2_sql_expr *e = sel->items[i].expr;
        if (e->kind != MC2_SQL_E_STAR) {
            if (n == cap) {
                item *nv = barray(b, cap * 2, sizeof *nv);
                if (!nv) return -1;
                memcpy(nv, v, n * sizeof *nv);
                v = nv;
                cap *= 2;
            }
            v[n].ast = e;
            /* The output name: the alias, a plain column's name, else the text as written
             * (as SQLite names it; docs/sql.md, "Output names"). */
            v[n].name = sel->items[i].alias                                 ? sel->items[i].alias
                        : e->kind != MC2_SQL_E_COLUMN && sel->items[i].text ? sel->items[i].text
                                                                            : derive_name(b, e);
            v[n].bound = NULL;
            v[n].star_id = 0;
            n++;
            continue;
        }
        size_t r0 = 0, r1 = s->nrels;
        if (e->star.table) {
            const brel *rel = find_rel(s, e->star.table);
            if (!rel) {
                char hint[200];
                suggest sg;
                sug_init(&sg, e->star.table);
                for (size_t r = 0; r < s->nrels; r++) sug_try(&sg, s->rels[r].name);
                return berr(b, e->pos, MC2_E_INPUT, "unknown table '%s' in '%s.*'%s", e->star.table,
                            e->star.table, sug_text(&sg, hint, sizeof hint));
            }
            r0 = (size_t)(rel - s->rels);
            r1 = r0 + 1;
        } else if (s->nrels == 0) {
            return berr(b, e->pos, MC2_E_INPUT, "SELECT * with no FROM clause");
        }
        for (size_t r = r0; r < r1; r++) {
            const brel *rel = &s->rels[r];
            for (size_t c = 0; c < rel->n; c++) {
                if (!e->star.table && rel->hidden && rel->hidden[c]) continue;
                if (n == cap) {
                    item *nv = barray(b, cap * 2, sizeof *nv);
                    if (!nv) return -1;
                    memcpy(nv, v, n * sizeof *nv);
                    v = nv;
                    cap *= 2;
                }
                v[n].ast = NULL;
                v[n].star_id = rel->ids[c];
                v[n].name = rel->names[c];
                v[n].bound = NULL;
                n++;
            }
        }
    }
    if (n > MC2_MAX_COLUMNS)
        return berr(b, sel->pos, MC2_E_LIMIT, "select list has %zu columns (at most %d)", n,
                    MC2_MAX_COLUMNS);
    *out = v;
    *nout = n;
    return 0;
}

/* Is the AST an unqualified name equal to one of the item aliases? Returns index or -1. */
static long alias_index(const item *it, size_t n, const mc2_sql_expr *e)
{
    if (e->kind != MC2_SQL_E_COLUMN || e->column.table) return -1;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(it[i].name, e->column.name) == 0) return (long)i;
    return -1;
}

static int position_of(bctx *b, const mc2_sql_expr *e, size_t n, const char *what, long *pos)
{
    *pos = 0;
    int64_t v;
    const char *why;
    if (mc2_parse_int64(e->lit.text, e->lit.len, &v, &why) || v < 1 || (uint64_t)v > n)
        return berr(b, e->pos, MC2_E_INPUT,
                    "%s position %.20s is not in the select list (it has %zu columns)", what,
                    e->lit.text, n);
    *pos = (long)(v - 1);
    return 0;
}

/* An ORDER BY key resolved against a select: an output column or an expression. */
typedef struct okey {
    long out;         /* output index, or -1 */
    mc2_lexpr *bound; /* else: the bound expression over the select's input */
    bool desc, nulls_first;
} okey;

static mc2_lnode *bind_select(bctx *b, const mc2_sql_select *sel, const mc2_sql_query *q, bscope *s,
                              const char ***names_out)
{
    mc2_lnode *in;
    /* FROM: comma items are a cross product (reordered by the rewrites) */
    if (sel->nfrom == 0) {
        if (!(in = ln(b, MC2_LN_ONEROW))) return NULL;
        in->rows = 1;
    } else {
        in = NULL;
        for (size_t i = 0; i < sel->nfrom; i++) {
            mc2_lnode *t = bind_tref(b, s, sel->from[i]);
            if (!t) return NULL;
            in = in ? mk_join(b, MC2_JOIN_INNER, in, t, NULL) : t;
            if (!in) return NULL;
        }
    }
    mc2_idset from;
    if (mc2_idset_init(b->lp, &from, b->err)) return NULL;
    mc2_lnode_produced(in, &from);

    if (sel->where) {
        bexp x = {s, "WHERE", false, false};
        mc2_lexpr *w = bind_cond(b, &x, sel->where, "the WHERE condition");
        if (!w) return NULL;
        mc2_lnode *f = ln(b, MC2_LN_FILTER);
        if (!f) return NULL;
        f->left = in;
        f->pred = w;
        if (mc2_lnode_passcols(b->lp, f, b->err)) return NULL;
        in = f;
    }

    item *items = NULL;
    size_t nitems = 0;
    if (expand_items(b, s, sel, &items, &nitems)) return NULL;

    /* select items bound over the FROM columns (aggregates allowed) */
    bexp sx = {s, "the select list", true, false};
    bool has_agg = sel->ngroup > 0 || sel->having;
    for (size_t i = 0; i < nitems; i++) {
        if (items[i].ast) {
            if (!(items[i].bound = bind_expr(b, &sx, items[i].ast))) return NULL;
        } else if (!(items[i].bound = mc2_lexpr_col(b->lp, items[i].star_id, b->err))) {
            return NULL;
        }
        if (mc2_lexpr_has_agg(items[i].bound)) has_agg = true;
    }
    /* ORDER BY keys (for a SELECT body they may use input columns) */
    size_t nord = q ? q->norder : 0;
    okey *ok = nord ? barray(b, nord, sizeof *ok) : NULL;
    if (nord && !ok) return NULL;
    for (size_t i = 0; i < nord; i++) {
        const mc2_sql_order *o = &q->order[i];
        ok[i].desc = o->desc;
        ok[i].nulls_first =
            o->nulls == MC2_SQL_NULLS_DEFAULT ? !o->desc : o->nulls == MC2_SQL_NULLS_FIRST;
        ok[i].out = -1;
        ok[i].bound = NULL;
        if (o->expr->kind == MC2_SQL_E_INT) {
            if (position_of(b, o->expr, nitems, "ORDER BY", &ok[i].out)) return NULL;
            continue;
        }
        long ai = alias_index(items, nitems, o->expr);
        if (ai >= 0) {
            ok[i].out = ai;
            continue;
        }
        bexp ox = {s, "ORDER BY", true, false};
        if (!(ok[i].bound = bind_expr(b, &ox, o->expr))) return NULL;
        if (mc2_lexpr_has_agg(ok[i].bound)) has_agg = true;
        for (size_t k = 0; k < nitems; k++)
            if (mc2_lexpr_equal(ok[i].bound, items[k].bound)) {
                ok[i].out = (long)k;
                ok[i].bound = NULL;
                break;
            }
        if (ok[i].bound && sel->distinct) {
            berr(b, o->expr->pos, MC2_E_INPUT,
                 "for SELECT DISTINCT, ORDER BY expressions must appear in the select list");
            return NULL;
        }
        if (ok[i].bound && mc2_lexpr_has_subquery(ok[i].bound)) {
            berr(b, o->expr->pos, MC2_E_INPUT, "not supported: a subquery in ORDER BY");
            return NULL;
        }
    }

    mc2_lexpr *having = NULL;
    if (has_agg) {
        aggctx g = {0};
        g.from = from;
        g.ngroups = sel->ngroup;
        g.groups = barray(b, g.ngroups + 1, sizeof *g.groups);
        g.gids = barray(b, g.ngroups + 1, sizeof *g.gids);
        if (!g.groups || !g.gids) return NULL;
        bexp gx = {s, "GROUP BY", false, false};
        for (size_t i = 0; i < sel->ngroup; i++) {
            const mc2_sql_expr *ge = sel->group_by[i];
            const char *gname = NULL;
            if (ge->kind == MC2_SQL_E_INT) {
                long p = 0;
                if (position_of(b, ge, nitems, "GROUP BY", &p)) return NULL;
                g.groups[i] = items[p].bound;
                gname = items[p].name;
                if (mc2_lexpr_has_agg(g.groups[i])) {
                    berr(b, ge->pos, MC2_E_INPUT, "GROUP BY position %ld refers to an aggregate",
                         p + 1);
                    return NULL;
                }
            } else {
                /* input columns first, then output aliases (as PostgreSQL) */
                mc2_err saved = *b->err;
                g.groups[i] = bind_expr(b, &gx, ge);
                if (!g.groups[i]) {
                    long ai = alias_index(items, nitems, ge);
                    if (ai < 0 || !items[ai].ast || b->err->code != MC2_E_INPUT) return NULL;
                    *b->err = saved;
                    g.groups[i] = items[ai].bound;
                    if (mc2_lexpr_has_agg(g.groups[i])) {
                        berr(b, ge->pos, MC2_E_INPUT, "GROUP BY '%s' refers to an aggregate",
                             items[ai].name);
                        return NULL;
                    }
                }
                if (ge->kind == MC2_SQL_E_COLUMN) gname = ge->column.name;
            }
            if (mc2_lexpr_has_subquery(g.groups[i])) {
                berr(b, ge->pos, MC2_E_INPUT, "not supported: a subquery in GROUP BY");
                return NULL;
            }
            const mc2_lexpr *gb = g.groups[i];
            const char *qual = NULL;
            if (gb->kind == MC2_LX_COL) {
                gname = b->lp->cols[gb->col].name;
                qual = b->lp->cols[gb->col].qual;
            }
            g.gids[i] = mc2_lplan_newcol(b->lp, gname ? gname : derive_name(b, ge), qual, gb->type,
                                         gb->nullable, b->err);
            if (!g.gids[i]) return NULL;
            if (gb->kind == MC2_LX_COL) {
                b->lp->cols[g.gids[i]].ndv = b->lp->cols[gb->col].ndv;
                b->lp->cols[g.gids[i]].keyed = b->lp->cols[gb->col].keyed;
            }
        }
        for (size_t i = 0; i < nitems; i++)
            if (!(items[i].bound = agg_extract(b, &g, items[i].bound))) return NULL;
        for (size_t i = 0; i < nord; i++)
            if (ok[i].bound && !(ok[i].bound = agg_extract(b, &g, ok[i].bound))) return NULL;
        if (sel->having) {
            bexp hx = {s, "HAVING", true, false};
            mc2_lexpr *h = bind_cond(b, &hx, sel->having, "the HAVING condition");
            if (!h || !(having = agg_extract(b, &g, h))) return NULL;
        }
        mc2_lnode *a = ln(b, MC2_LN_AGG);
        if (!a) return NULL;
        a->left = in;
        a->ngroups = g.ngroups;
        a->nexprs = g.ngroups + g.naggs;
        a->exprs = barray(b, a->nexprs + 1, sizeof *a->exprs);
        a->cols = barray(b, a->nexprs + 1, sizeof *a->cols);
        if (!a->exprs || !a->cols) return NULL;
        for (size_t i = 0; i < g.ngroups; i++) {
            a->exprs[i] = g.groups[i];
            a->cols[i] = g.gids[i];
        }
        for (size_t i = 0; i < g.naggs; i++) {
            a->exprs[g.ngroups + i] = g.aggs[i];
            a->cols[g.ngroups + i] = g.aids[i];
        }
        a->ncols = a->nexprs;
        in = a;
        if (having) {
            mc2_lnode *f = ln(b, MC2_LN_FILTER);
            if (!f) return NULL;
            f->left = in;
            f->pred = having;
            if (mc2_lnode_passcols(b->lp, f, b->err)) return NULL;
            in = f;
        }
    }

    /* the projection: select items, then hidden ORDER BY keys */
    size_t nhidden = 0;
    for (size_t i = 0; i < nord; i++)
        if (ok[i].bound) nhidden++;
    mc2_lnode *p = ln(b, MC2_LN_PROJECT);
    if (!p) return NULL;
    p->left = in;
    p->nexprs = nitems + nhidden;
    p->ncols = p->nexprs;
    p->exprs = barray(b, p->nexprs + 1, sizeof *p->exprs);
    p->cols = barray(b, p->nexprs + 1, sizeof *p->cols);
    const char **names = barray(b, nitems + 1, sizeof *names);
    if (!p->exprs || !p->cols || !names) return NULL;
    for (size_t i = 0; i < nitems; i++) {
        mc2_lexpr *e = items[i].bound;
        retype_null(e, mkty(MC2_T_INT64));
        p->exprs[i] = e;
        const char *qual =
            e->kind == MC2_LX_COL && strcasecmp(b->lp->cols[e->col].name, items[i].name) == 0
                ? b->lp->cols[e->col].qual
                : NULL;
        if (!(p->cols[i] =
                  mc2_lplan_newcol(b->lp, items[i].name, qual, e->type, e->nullable, b->err)))
            return NULL;
        if (e->kind == MC2_LX_COL) {
            b->lp->cols[p->cols[i]].ndv = b->lp->cols[e->col].ndv;
            b->lp->cols[p->cols[i]].keyed = b->lp->cols[e->col].keyed;
        }
        names[i] = items[i].name;
    }
    size_t h = nitems;
    for (size_t i = 0; i < nord; i++) {
        if (!ok[i].bound) continue;
        p->exprs[h] = ok[i].bound;
        if (!(p->cols[h] = mc2_lplan_newcol(b->lp, "?order?", NULL, ok[i].bound->type,
                                            ok[i].bound->nullable, b->err)))
            return NULL;
        ok[i].out = (long)h++;
    }
    mc2_lnode *top = p;
    if (sel->distinct) {
        mc2_lnode *d = ln(b, MC2_LN_DISTINCT);
        if (!d) return NULL;
        d->left = top;
        if (mc2_lnode_passcols(b->lp, d, b->err)) return NULL;
        top = d;
    }
    if (nord) {
        mc2_lnode *so = ln(b, MC2_LN_SORT);
        if (!so) return NULL;
        so->left = top;
        so->nkeys = nord;
        so->keys = barray(b, nord, sizeof *so->keys);
        if (!so->keys || mc2_lnode_passcols(b->lp, so, b->err)) return NULL;
        for (size_t i = 0; i < nord; i++) {
            if (!(so->keys[i].expr = mc2_lexpr_col(b->lp, p->cols[ok[i].out], b->err))) return NULL;
            so->keys[i].desc = ok[i].desc;
            so->keys[i].nulls_first = ok[i].nulls_first;
        }
        top = so;
    }
    if (q && (q->has_limit || q->has_offset)) {
        mc2_lnode *l = ln(b, MC2_LN_LIMIT);
        if (!l) return NULL;
        l->left = top;
        l->limit = q->has_limit ? q->limit : -1;
        l->offset = q->has_offset ? q->offset : 0;
        if (mc2_lnode_passcols(b->lp, l, b->err)) return NULL;
        top = l;
    }
    if (nhidden) {
        /* drop the hidden sort keys again */
        mc2_lnode *fp = ln(b, MC2_LN_PROJECT);
        if (!fp) return NULL;
        fp->left = top;
        fp->nexprs = fp->ncols = nitems;
        fp->exprs = barray(b, nitems + 1, sizeof *fp->exprs);
        fp->cols = barray(b, nitems + 1, sizeof *fp->cols);
        if (!fp->exprs || !fp->cols) return NULL;
        for (size_t i = 0; i < nitems; i++) {
            const mc2_lcolinfo ci = b->lp->cols[p->cols[i]];
            if (!(fp->exprs[i] = mc2_lexpr_col(b->lp, p->cols[i], b->err))) return NULL;
            if (!(fp->cols[i] =
                      mc2_lplan_newcol(b->lp, ci.name, ci.qual, ci.type, ci.nullable, b->err)))
                return NULL;
        }
        top = fp;
    }
    *names_out = names;
    return top;
}

/* ---- query bodies ------------------------------------------------------------------------ */

static mc2_lnode *bind_body(bctx *b, const mc2_sql_body *body, const mc2_sql_query *q,
                            bscope *parent, const bcte *ctes, const char ***names, bool *corr);

/* ORDER BY / LIMIT over a set operation or parenthesized query: output columns only. */
static mc2_lnode *order_limit_outputs(bctx *b, mc2_lnode *top, const char **names,
                                      const mc2_sql_query *q)
{
    if (q->norder) {
        mc2_lnode *so = ln(b, MC2_LN_SORT);
        if (!so) return NULL;
        so->left = top;
        so->nkeys = q->norder;
        so->keys = barray(b, q->norder, sizeof *so->keys);
        if (!so->keys || mc2_lnode_passcols(b->lp, so, b->err)) return NULL;
        for (size_t i = 0; i < q->norder; i++) {
            const mc2_sql_order *o = &q->order[i];
            long k = -1;
            if (o->expr->kind == MC2_SQL_E_INT) {
                if (position_of(b, o->expr, top->ncols, "ORDER BY", &k)) return NULL;
            } else if (o->expr->kind == MC2_SQL_E_COLUMN && !o->expr->column.table) {
                for (size_t c = 0; c < top->ncols; c++)
                    if (strcasecmp(names[c], o->expr->column.name) == 0) {
                        k = (long)c;
                        break;
                    }
                if (k < 0) {
                    char hint[200];
                    suggest sg;
                    sug_init(&sg, o->expr->column.name);
                    for (size_t c = 0; c < top->ncols; c++) sug_try(&sg, names[c]);
                    berr(b, o->expr->pos, MC2_E_INPUT,
                         "unknown column '%s' in ORDER BY (it must be an output column of the "
                         "set operation)%s",
                         o->expr->column.name, sug_text(&sg, hint, sizeof hint));
                    return NULL;
                }
            } else {
                berr(b, o->expr->pos, MC2_E_INPUT,
                     "not supported: ORDER BY an expression over a set operation (use an output "
                     "column name or position)");
                return NULL;
            }
            if (!(so->keys[i].expr = mc2_lexpr_col(b->lp, top->cols[k], b->err))) return NULL;
            so->keys[i].desc = o->desc;
            so->keys[i].nulls_first =
                o->nulls == MC2_SQL_NULLS_DEFAULT ? !o->desc : o->nulls == MC2_SQL_NULLS_FIRST;
        }
        top = so;
    }
    if (q->has_limit || q->has_offset) {
        mc2_lnode *l = ln(b, MC2_LN_LIMIT);
        if (!l) return NULL;
        l->left = top;
        l->limit = q->has_limit ? q->limit : -1;
        l->offset = q->has_offset ? q->offset : 0;
        if (mc2_lnode_passcols(b->lp, l, b->err)) return NULL;
        top = l;
    }
    return top;
}

/* Makes child produce exactly the types in t (a PROJECT with casts if needed). */
static mc2_lnode *cast_to(bctx *b, mc2_lnode *child, const mc2_coltype *t, mc2_sql_pos pos)
{
    bool same = true;
    for (size_t i = 0; i < child->ncols; i++) {
        const mc2_coltype *c = &b->lp->cols[child->cols[i]].type;
        if (c->id != t[i].id || (mc2_type_is_decimal(c->id) && c->scale != t[i].scale))
            same = false;
    }
    if (same) return child;
    mc2_lnode *p = ln(b, MC2_LN_PROJECT);
    if (!p) return NULL;
    p->left = child;
    p->nexprs = p->ncols = child->ncols;
    p->exprs = barray(b, p->nexprs + 1, sizeof *p->exprs);
    p->cols = barray(b, p->nexprs + 1, sizeof *p->cols);
    if (!p->exprs || !p->cols) return NULL;
    for (size_t i = 0; i < child->ncols; i++) {
        const mc2_lcolinfo ci = b->lp->cols[child->cols[i]];
        mc2_lexpr *c = mc2_lexpr_col(b->lp, child->cols[i], b->err);
        if (!c) return NULL;
        const mc2_coltype *ct = &ci.type;
        if (ct->id != t[i].id || (mc2_type_is_decimal(ct->id) && ct->scale != t[i].scale))
            if (!(c = bind_cast(b, pos, c, t[i]))) return NULL;
        p->exprs[i] = c;
        if (!(p->cols[i] = mc2_lplan_newcol(b->lp, ci.name, NULL, t[i], ci.nullable, b->err)))
            return NULL;
    }
    return p;
}

static mc2_lnode *bind_setop(bctx *b, const mc2_sql_body *body, bscope *parent, const bcte *ctes,
                             const char ***names, bool *corr)
{
    const char **ln_, **rn_;
    mc2_lnode *l = bind_body(b, body->setop.left, NULL, parent, ctes, &ln_, corr);
    if (!l) return NULL;
    mc2_lnode *r = bind_body(b, body->setop.right, NULL, parent, ctes, &rn_, corr);
    if (!r) return NULL;
    const char *opn = body->setop.op == MC2_SQL_UNION       ? "UNION"
                      : body->setop.op == MC2_SQL_INTERSECT ? "INTERSECT"
                                                            : "EXCEPT";
    if (l->ncols != r->ncols) {
        berr(b, body->pos, MC2_E_INPUT,
             "each side of %s must have the same number of columns (%zu and %zu)", opn, l->ncols,
             r->ncols);
        return NULL;
    }
    mc2_coltype *t = barray(b, l->ncols + 1, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < l->ncols; i++) {
        mc2_lexpr a = {0}, c = {0};
        a.kind = c.kind = MC2_LX_COL;
        a.type = b->lp->cols[l->cols[i]].type;
        c.type = b->lp->cols[r->cols[i]].type;
        char what[64];
        snprintf(what, sizeof what, "%s column %zu", opn, i + 1);
        if (unify2(b, body->pos, what, &a, &c, &t[i])) return NULL;
    }
    if (!(l = cast_to(b, l, t, body->pos)) || !(r = cast_to(b, r, t, body->pos))) return NULL;
    mc2_lnode *s = ln(b, MC2_LN_SETOP);
    if (!s) return NULL;
    s->left = l;
    s->right = r;
    s->setop = body->setop.op == MC2_SQL_UNION       ? MC2_SETOP_UNION
               : body->setop.op == MC2_SQL_INTERSECT ? MC2_SETOP_INTERSECT
                                                     : MC2_SETOP_EXCEPT;
    s->all = body->setop.all;
    s->ncols = l->ncols;
    s->cols = barray(b, s->ncols + 1, sizeof *s->cols);
    if (!s->cols) return NULL;
    for (size_t i = 0; i < s->ncols; i++) {
        bool nl = b->lp->cols[l->cols[i]].nullable || b->lp->cols[r->cols[i]].nullable;
        if (!(s->cols[i] = mc2_lplan_newcol(b->lp, ln_[i], NULL, t[i], nl, b->err))) return NULL;
    }
    *names = ln_;
    return s;
}

static mc2_lnode *bind_body(bctx *b, const mc2_sql_body *body, const mc2_sql_query *q,
                            bscope *parent, const bcte *ctes, const char ***names, bool *corr)
{
    switch (body->kind) {
    case MC2_SQL_B_SELECT: {
        bscope s = {0};
        s.parent = parent;
        s.ctes = ctes;
        mc2_lnode *n = bind_select(b, body->select, q, &s, names);
        if (s.outer_used) *corr = true;
        return n;
    }
    case MC2_SQL_B_SETOP: {
        mc2_lnode *n = bind_setop(b, body, parent, ctes, names, corr);
        return n && q ? order_limit_outputs(b, n, *names, q) : n;
    }
    case MC2_SQL_B_QUERY: {
        mc2_lnode *n = bind_query(b, body->query, parent, ctes, names, corr);
        return n && q ? order_limit_outputs(b, n, *names, q) : n;
    }
    }
    berr(b, body->pos, MC2_E_INTERNAL, "binder: bad query body");
    return NULL;
}

static mc2_lnode *bind_query(bctx *b, const mc2_sql_query *q, bscope *parent, const bcte *ctes,
                             const char ***names, bool *correlated)
{
    if (++b->nest > BIND_MAX_NEST) {
        berr(b, q->pos, MC2_E_LIMIT,
             "query nested too deeply (more than %d levels of subqueries and WITH)", BIND_MAX_NEST);
        return NULL;
    }
    for (size_t i = 0; i < q->nctes; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(q->ctes[j].name, q->ctes[i].name) == 0) {
                berr(b, q->ctes[i].pos, MC2_E_INPUT, "WITH name '%s' is defined twice",
                     q->ctes[i].name);
                return NULL;
            }
        bcte *c = balloc(b, sizeof *c);
        if (!c) return NULL;
        c->def = &q->ctes[i];
        c->next = ctes;
        ctes = c;
    }
    /* the CTEs are visible to the body through a scope with no relations */
    bscope cs = {0};
    cs.parent = parent;
    cs.ctes = ctes;
    bscope *p = q->nctes ? &cs : parent;
    bool corr = false;
    mc2_lnode *n = bind_body(b, q->body, q, p, ctes, names, &corr);
    if (n && p == &cs && cs.outer_used) corr = true;
    if (corr) *correlated = true;
    b->nest--;
    return n;
}

int mc2_sql_bind(const mc2_sql_stmt *s, const mc2_sql_table *tables, size_t ntables, mc2_arena *a,
                 mc2_lplan **out, mc2_err *err)
{
    mc2_lplan *lp = mc2_arena_alloc(a, sizeof *lp, err);
    if (!lp) return -1;
    lp->arena = a;
    lp->explain = s->kind == MC2_SQL_S_EXPLAIN;
    lp->tables = tables;
    lp->ntables = ntables;
    bctx b = {lp, a, err, tables, ntables, 0, 0};
    const char **names;
    bool corr = false;
    lp->root = bind_query(&b, s->query, NULL, NULL, &names, &corr);
    if (!lp->root) return -1;
    *out = lp;
    return 0;
}
