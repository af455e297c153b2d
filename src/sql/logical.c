/* logical.c - logical plan nodes and expressions: construction, walking, printing. */
#include "sql/logical.h"

#include <string.h>

#include "sql/ast.h"
#include "table/value.h"

/* ---- construction ------------------------------------------------------------------------ */

uint32_t mc2_lplan_newcol(mc2_lplan *lp, const char *name, const char *qual, mc2_coltype type,
                          bool nullable, mc2_err *err)
{
    if (lp->ncols + 1 >= lp->capcols) {
        uint32_t cap = lp->capcols ? lp->capcols * 2 : 64;
        if (cap > (1u << 24)) {
            mc2_err_set(err, MC2_E_LIMIT, "query too large: more than %u columns", 1u << 24);
            return 0;
        }
        mc2_lcolinfo *c = mc2_arena_array(lp->arena, cap, sizeof *c, err);
        if (!c) return 0;
        if (lp->ncols) memcpy(c, lp->cols, (lp->ncols + 1) * sizeof *c);
        lp->cols = c;
        lp->capcols = cap;
    }
    uint32_t id = ++lp->ncols;
    mc2_lcolinfo *ci = &lp->cols[id];
    ci->name = name ? name : "?column?";
    ci->qual = qual;
    ci->type = type;
    ci->nullable = nullable;
    ci->ndv = 0;
    return id;
}

mc2_lnode *mc2_lnode_new(mc2_lplan *lp, enum mc2_ln_kind kind, mc2_err *err)
{
    mc2_lnode *n = mc2_arena_alloc(lp->arena, sizeof *n, err);
    if (!n) return NULL;
    n->kind = kind;
    n->limit = -1;
    return n;
}

mc2_lexpr *mc2_lexpr_new(mc2_lplan *lp, enum mc2_lx_kind kind, unsigned nargs, mc2_err *err)
{
    mc2_lexpr *e = mc2_arena_alloc(lp->arena, sizeof *e, err);
    if (!e) return NULL;
    e->kind = kind;
    e->escape = -1;
    if (nargs) {
        e->args = mc2_arena_array(lp->arena, nargs, sizeof *e->args, err);
        if (!e->args) return NULL;
        e->nargs = nargs;
    }
    return e;
}

mc2_lexpr *mc2_lexpr_col(mc2_lplan *lp, uint32_t id, mc2_err *err)
{
    if (id == 0 || id > lp->ncols) {
        mc2_err_set(err, MC2_E_INTERNAL, "sql: bad column id %u", id);
        return NULL;
    }
    mc2_lexpr *e = mc2_lexpr_new(lp, MC2_LX_COL, 0, err);
    if (!e) return NULL;
    e->col = id;
    e->type = lp->cols[id].type;
    e->nullable = lp->cols[id].nullable;
    return e;
}

int mc2_lnode_passcols(mc2_lplan *lp, mc2_lnode *n, mc2_err *err)
{
    const mc2_lnode *l = n->left, *r = n->right;
    size_t nl = l->ncols;
    size_t nr = (n->kind == MC2_LN_JOIN && n->jtype != MC2_JOIN_SEMI && n->jtype != MC2_JOIN_ANTI)
                    ? r->ncols
                    : 0;
    uint32_t *c = mc2_arena_array(lp->arena, nl + nr + 1, sizeof *c, err);
    if (!c) return -1;
    if (nl) memcpy(c, l->cols, nl * sizeof *c);
    if (nr) memcpy(c + nl, r->cols, nr * sizeof *c);
    n->cols = c;
    n->ncols = nl + nr;
    return 0;
}

mc2_lexpr *mc2_lexpr_eq(mc2_lplan *lp, mc2_lexpr *a, mc2_lexpr *b, mc2_sql_pos pos, mc2_err *err)
{
    mc2_lexpr *e = mc2_lexpr_new(lp, MC2_LX_CMP, 2, err);
    if (!e) return NULL;
    e->op = MC2_PX_EQ;
    e->type.id = MC2_T_BOOL;
    e->args[0] = a;
    e->args[1] = b;
    e->pos = pos;
    e->nullable = a->nullable || b->nullable;
    return e;
}

mc2_lexpr *mc2_lexpr_and(mc2_lplan *lp, mc2_lexpr *a, mc2_lexpr *b, mc2_err *err)
{
    if (!a) return b;
    if (!b) return a;
    unsigned na = a->kind == MC2_LX_AND ? a->nargs : 1;
    unsigned nb = b->kind == MC2_LX_AND ? b->nargs : 1;
    mc2_lexpr *e = mc2_lexpr_new(lp, MC2_LX_AND, na + nb, err);
    if (!e) return NULL;
    unsigned k = 0;
    if (a->kind == MC2_LX_AND)
        for (unsigned i = 0; i < a->nargs; i++) e->args[k++] = a->args[i];
    else
        e->args[k++] = a;
    if (b->kind == MC2_LX_AND)
        for (unsigned i = 0; i < b->nargs; i++) e->args[k++] = b->args[i];
    else
        e->args[k++] = b;
    e->type.id = MC2_T_BOOL;
    e->nullable = a->nullable || b->nullable;
    e->pos = a->pos;
    return e;
}

int mc2_lexpr_conjuncts(mc2_lplan *lp, mc2_lexpr *e, mc2_lexpr ***v, size_t *n, size_t *cap,
                        mc2_err *err)
{
    if (!e) return 0;
    if (e->kind == MC2_LX_AND) {
        for (unsigned i = 0; i < e->nargs; i++)
            if (mc2_lexpr_conjuncts(lp, e->args[i], v, n, cap, err)) return -1;
        return 0;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        mc2_lexpr **nv = mc2_arena_array(lp->arena, nc, sizeof *nv, err);
        if (!nv) return -1;
        if (*n) memcpy(nv, *v, *n * sizeof *nv);
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = e;
    return 0;
}

bool mc2_lexpr_equal(const mc2_lexpr *a, const mc2_lexpr *b)
{
    if (a == b) return true;
    if (!a || !b) return false;
    if (a->kind != b->kind || a->op != b->op || a->negated != b->negated ||
        a->distinct != b->distinct || a->nargs != b->nargs || a->aux != b->aux ||
        a->aux2 != b->aux2 || a->escape != b->escape || a->type.id != b->type.id)
        return false;
    if (mc2_type_is_decimal(a->type.id) && a->type.scale != b->type.scale) return false;
    if (a->type.id == MC2_T_VARCHAR && a->kind == MC2_LX_CAST && a->type.length != b->type.length)
        return false;
    switch (a->kind) {
    case MC2_LX_COL:
        if (a->col != b->col) return false;
        break;
    case MC2_LX_CONST:
    case MC2_LX_LIKE:
    case MC2_LX_FUNC:
        if (a->val.null != b->val.null || a->val.i != b->val.i ||
            memcmp(&a->val.f, &b->val.f, sizeof a->val.f) != 0 || a->val.slen != b->val.slen)
            return false;
        if (a->val.slen && memcmp(a->val.s, b->val.s, a->val.slen) != 0) return false;
        if ((a->val.s == NULL) != (b->val.s == NULL)) return false;
        break;
    case MC2_LX_SUBQUERY:
    case MC2_LX_EXISTS:
    case MC2_LX_IN_QUERY:
        if (a->sub != b->sub) return false;
        break;
    default:
        break;
    }
    for (unsigned i = 0; i < a->nargs; i++)
        if (!mc2_lexpr_equal(a->args[i], b->args[i])) return false;
    return true;
}

bool mc2_lexpr_has_subquery(const mc2_lexpr *e)
{
    if (!e) return false;
    if (e->kind == MC2_LX_SUBQUERY || e->kind == MC2_LX_EXISTS || e->kind == MC2_LX_IN_QUERY)
        return true;
    for (unsigned i = 0; i < e->nargs; i++)
        if (mc2_lexpr_has_subquery(e->args[i])) return true;
    return false;
}

bool mc2_lexpr_has_agg(const mc2_lexpr *e)
{
    if (!e) return false;
    if (e->kind == MC2_LX_AGG) return true;
    for (unsigned i = 0; i < e->nargs; i++)
        if (mc2_lexpr_has_agg(e->args[i])) return true;
    return false;
}

static void lexpr_produced(const mc2_lexpr *e, mc2_idset *s);

/* ---- id sets ----------------------------------------------------------------------------- */

int mc2_idset_init(mc2_lplan *lp, mc2_idset *s, mc2_err *err)
{
    s->nw = lp->ncols / 64 + 1;
    s->w = mc2_arena_array(lp->arena, s->nw, sizeof *s->w, err);
    return s->w ? 0 : -1;
}

void mc2_idset_add(mc2_idset *s, uint32_t id)
{
    if (id / 64 < s->nw) s->w[id / 64] |= (uint64_t)1 << (id % 64);
}

bool mc2_idset_has(const mc2_idset *s, uint32_t id)
{
    return id / 64 < s->nw && (s->w[id / 64] >> (id % 64) & 1);
}

void mc2_lexpr_refs(const mc2_lexpr *e, mc2_idset *s)
{
    if (!e) return;
    if (e->kind == MC2_LX_COL) mc2_idset_add(s, e->col);
    if (e->sub) mc2_lnode_refs(e->sub, s);
    for (unsigned i = 0; i < e->nargs; i++) mc2_lexpr_refs(e->args[i], s);
}

void mc2_lnode_refs(const mc2_lnode *n, mc2_idset *s)
{
    if (!n) return;
    mc2_lexpr_refs(n->pred, s);
    for (size_t i = 0; i < n->nexprs; i++) mc2_lexpr_refs(n->exprs[i], s);
    for (size_t i = 0; i < n->nkeys; i++) mc2_lexpr_refs(n->keys[i].expr, s);
    mc2_lnode_refs(n->left, s);
    mc2_lnode_refs(n->right, s);
}

static void lexpr_produced(const mc2_lexpr *e, mc2_idset *s)
{
    if (!e) return;
    if (e->sub) mc2_lnode_produced(e->sub, s);
    for (unsigned i = 0; i < e->nargs; i++) lexpr_produced(e->args[i], s);
}

void mc2_lnode_produced(const mc2_lnode *n, mc2_idset *s)
{
    if (!n) return;
    for (size_t i = 0; i < n->ncols; i++) mc2_idset_add(s, n->cols[i]);
    /* subplans inside expressions produce their own columns too */
    lexpr_produced(n->pred, s);
    for (size_t i = 0; i < n->nexprs; i++) lexpr_produced(n->exprs[i], s);
    mc2_lnode_produced(n->left, s);
    mc2_lnode_produced(n->right, s);
}

bool mc2_lexpr_within(const mc2_lexpr *e, const mc2_idset *s)
{
    if (!e) return true;
    if (e->kind == MC2_LX_COL) return mc2_idset_has(s, e->col);
    if (e->sub) return false;
    for (unsigned i = 0; i < e->nargs; i++)
        if (!mc2_lexpr_within(e->args[i], s)) return false;
    return true;
}

/* ---- printing ---------------------------------------------------------------------------- */

static const char *cmp_sym(int op)
{
    static const char *n[] = {"?", "=", "<>", "<", "<=", ">", ">="};
    return op >= 1 && op <= 6 ? n[op] : "?";
}
static const char *arith_sym(int op)
{
    static const char *n[] = {"?", "+", "-", "*", "/", "%", "-"};
    return op >= 1 && op <= 6 ? n[op] : "?";
}
static const char *agg_name(int fn)
{
    static const char *n[] = {"?", "COUNT", "COUNT", "SUM", "AVG", "MIN", "MAX"};
    return fn >= 1 && fn <= 6 ? n[fn] : "?";
}
static const char *func_name(int fn)
{
    static const char *n[] = {"?",      "SUBSTRING", "UPPER",   "LOWER",    "LENGTH",
                              "TRIM",   "CONCAT",    "EXTRACT", "DATE_ADD", "COALESCE",
                              "NULLIF", "ABS",       "ROUND"};
    return fn >= 1 && fn <= 12 ? n[fn] : "?";
}
static const char *unit_name(int64_t u)
{
    return u == MC2_PX_DAY ? "DAY" : u == MC2_PX_MONTH ? "MONTH" : "YEAR";
}

static int put_str_lit(const char *s, size_t n, mc2_buf *out, mc2_err *err)
{
    if (mc2_buf_puts(out, "'", err)) return -1;
    size_t shown = n > 40 ? 40 : n;
    while (shown < n && ((unsigned char)s[shown] & 0xC0) == 0x80) shown++;
    for (size_t i = 0; i < shown; i++) {
        if (s[i] == '\'' && mc2_buf_puts(out, "'", err)) return -1;
        if (mc2_buf_append(out, s + i, 1, err)) return -1;
    }
    return mc2_buf_puts(out, shown < n ? "...'" : "'", err);
}

static int print_const(const mc2_lexpr *e, mc2_buf *out, mc2_err *err)
{
    char b[MC2_VALUE_TEXT_MAX];
    if (e->val.null) return mc2_buf_puts(out, "NULL", err);
    switch (e->type.id) {
    case MC2_T_INT64:
        mc2_format_int64(e->val.i, b);
        return mc2_buf_puts(out, b, err);
    case MC2_T_DOUBLE:
        mc2_format_double(e->val.f, b);
        return mc2_buf_puts(out, b, err);
    case MC2_T_DECIMAL:
        mc2_format_decimal(e->val.i, e->type.scale, b);
        return mc2_buf_puts(out, b, err);
    case MC2_T_DEC128:
        mc2_format_decimal128(e->val.i, e->type.scale, b);
        return mc2_buf_puts(out, b, err);
    case MC2_T_DATE:
        mc2_format_date((int32_t)e->val.i, b);
        return mc2_buf_printf(out, err, "DATE '%s'", b);
    case MC2_T_BOOL:
        return mc2_buf_puts(out, e->val.i ? "TRUE" : "FALSE", err);
    case MC2_T_VARCHAR:
        return put_str_lit(e->val.s, e->val.slen, out, err);
    }
    return mc2_buf_puts(out, "?", err);
}

static int print_list(const mc2_lplan *lp, mc2_lexpr *const *a, unsigned n, const char *sep,
                      mc2_buf *out, mc2_err *err)
{
    for (unsigned i = 0; i < n; i++) {
        if (i && mc2_buf_puts(out, sep, err)) return -1;
        if (mc2_lexpr_print(lp, a[i], out, err)) return -1;
    }
    return 0;
}

int mc2_lexpr_print(const mc2_lplan *lp, const mc2_lexpr *e, mc2_buf *out, mc2_err *err)
{
    char tb[40];
    switch (e->kind) {
    case MC2_LX_COL: {
        const mc2_lcolinfo *c = &lp->cols[e->col];
        if (c->qual) return mc2_buf_printf(out, err, "%s.%s", c->qual, c->name);
        return mc2_buf_puts(out, c->name, err);
    }
    case MC2_LX_CONST:
        return print_const(e, out, err);
    case MC2_LX_ARITH:
        if (e->op == MC2_PX_NEG) {
            if (mc2_buf_puts(out, "-", err)) return -1;
            return mc2_lexpr_print(lp, e->args[0], out, err);
        }
        /* fall through */
    case MC2_LX_CMP:
        if (mc2_buf_puts(out, "(", err) || mc2_lexpr_print(lp, e->args[0], out, err) ||
            mc2_buf_printf(out, err, " %s ",
                           e->kind == MC2_LX_CMP ? cmp_sym(e->op) : arith_sym(e->op)) ||
            mc2_lexpr_print(lp, e->args[1], out, err))
            return -1;
        return mc2_buf_puts(out, ")", err);
    case MC2_LX_AND:
    case MC2_LX_OR:
        if (mc2_buf_puts(out, "(", err) ||
            print_list(lp, e->args, e->nargs, e->kind == MC2_LX_AND ? " AND " : " OR ", out, err))
            return -1;
        return mc2_buf_puts(out, ")", err);
    case MC2_LX_NOT:
        if (mc2_buf_puts(out, "NOT ", err)) return -1;
        return mc2_lexpr_print(lp, e->args[0], out, err);
    case MC2_LX_IS_NULL:
        if (mc2_lexpr_print(lp, e->args[0], out, err)) return -1;
        return mc2_buf_puts(out, e->negated ? " IS NOT NULL" : " IS NULL", err);
    case MC2_LX_IN:
        if (mc2_lexpr_print(lp, e->args[0], out, err) ||
            mc2_buf_puts(out, e->negated ? " NOT IN (" : " IN (", err) ||
            print_list(lp, e->args + 1, e->nargs - 1, ", ", out, err))
            return -1;
        return mc2_buf_puts(out, ")", err);
    case MC2_LX_LIKE:
        if (mc2_lexpr_print(lp, e->args[0], out, err) ||
            mc2_buf_puts(out, e->negated ? " NOT LIKE " : " LIKE ", err))
            return -1;
        return put_str_lit(e->val.s, e->val.slen, out, err);
    case MC2_LX_CASE:
        if (mc2_buf_puts(out, "CASE", err)) return -1;
        for (unsigned i = 0; i + 1 < e->nargs; i += 2) {
            if (mc2_buf_puts(out, " WHEN ", err) || mc2_lexpr_print(lp, e->args[i], out, err) ||
                mc2_buf_puts(out, " THEN ", err) || mc2_lexpr_print(lp, e->args[i + 1], out, err))
                return -1;
        }
        if (mc2_buf_puts(out, " ELSE ", err) ||
            mc2_lexpr_print(lp, e->args[e->nargs - 1], out, err))
            return -1;
        return mc2_buf_puts(out, " END", err);
    case MC2_LX_CAST:
        mc2_type_format(&e->type, tb, sizeof tb);
        if (mc2_buf_puts(out, "CAST(", err) || mc2_lexpr_print(lp, e->args[0], out, err)) return -1;
        return mc2_buf_printf(out, err, " AS %s)", tb);
    case MC2_LX_FUNC:
        if (e->op == MC2_PF_DATE_ADD) {
            if (mc2_lexpr_print(lp, e->args[0], out, err)) return -1;
            return mc2_buf_printf(out, err, " + INTERVAL '%lld' %s", (long long)e->aux,
                                  unit_name(e->aux2));
        }
        if (e->op == MC2_PF_EXTRACT) {
            if (mc2_buf_printf(out, err, "EXTRACT(%s FROM ", unit_name(e->aux)) ||
                mc2_lexpr_print(lp, e->args[0], out, err))
                return -1;
            return mc2_buf_puts(out, ")", err);
        }
        if (mc2_buf_printf(out, err, "%s(", func_name(e->op)) ||
            print_list(lp, e->args, e->nargs, ", ", out, err))
            return -1;
        if (e->op == MC2_PF_ROUND && mc2_buf_printf(out, err, ", %lld", (long long)e->aux))
            return -1;
        return mc2_buf_puts(out, ")", err);
    case MC2_LX_AGG:
        if (mc2_buf_printf(out, err, "%s(%s", agg_name(e->op), e->distinct ? "DISTINCT " : ""))
            return -1;
        if (e->op == MC2_AGG_COUNT_STAR) {
            if (mc2_buf_puts(out, "*", err)) return -1;
        } else if (mc2_lexpr_print(lp, e->args[0], out, err)) {
            return -1;
        }
        return mc2_buf_puts(out, ")", err);
    case MC2_LX_SUBQUERY:
        return mc2_buf_puts(out, "(subquery)", err);
    case MC2_LX_EXISTS:
        return mc2_buf_puts(out, "EXISTS (subquery)", err);
    case MC2_LX_IN_QUERY:
        if (mc2_lexpr_print(lp, e->args[0], out, err)) return -1;
        return mc2_buf_puts(out, e->negated ? " NOT IN (subquery)" : " IN (subquery)", err);
    }
    return mc2_buf_puts(out, "?", err);
}

static const char *jname(enum mc2_join_type t)
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

static int lprint(const mc2_lplan *lp, const mc2_lnode *n, int depth, mc2_buf *out, mc2_err *err)
{
    if (depth > 2 * MC2_SQL_MAX_HEIGHT) return mc2_buf_puts(out, "...\n", err);
    if (mc2_buf_printf(out, err, "%*s", depth * 2, "")) return -1;
    int rc = 0;
    switch (n->kind) {
    case MC2_LN_SCAN:
        rc = mc2_buf_printf(out, err, "Scan %s", n->table);
        break;
    case MC2_LN_ONEROW:
        rc = mc2_buf_puts(out, "OneRow", err);
        break;
    case MC2_LN_FILTER:
        rc = mc2_buf_puts(out, "Filter ", err) || mc2_lexpr_print(lp, n->pred, out, err);
        break;
    case MC2_LN_PROJECT:
        rc = mc2_buf_puts(out, "Project ", err) ||
             print_list(lp, n->exprs, (unsigned)n->nexprs, ", ", out, err);
        break;
    case MC2_LN_JOIN:
        rc = mc2_buf_printf(out, err, "Join %s%s ", jname(n->jtype),
                            n->null_aware ? " (null-aware)" : "") ||
             (n->pred ? mc2_lexpr_print(lp, n->pred, out, err) : mc2_buf_puts(out, "TRUE", err));
        break;
    case MC2_LN_AGG:
        rc = mc2_buf_puts(out, "Aggregate ", err) ||
             print_list(lp, n->exprs, (unsigned)n->nexprs, ", ", out, err);
        break;
    case MC2_LN_DISTINCT:
        rc = mc2_buf_puts(out, "Distinct", err);
        break;
    case MC2_LN_SORT:
        rc = mc2_buf_puts(out, "Sort", err);
        break;
    case MC2_LN_LIMIT:
        rc = mc2_buf_printf(out, err, "Limit %lld offset %lld", (long long)n->limit,
                            (long long)n->offset);
        break;
    case MC2_LN_SETOP:
        rc = mc2_buf_printf(out, err, "SetOp %d%s", (int)n->setop, n->all ? " ALL" : "");
        break;
    }
    if (rc || mc2_buf_puts(out, "\n", err)) return -1;
    for (size_t i = 0; i < n->nexprs; i++)
        if (n->exprs[i]->sub && lprint(lp, n->exprs[i]->sub, depth + 2, out, err)) return -1;
    if (n->left && lprint(lp, n->left, depth + 1, out, err)) return -1;
    if (n->right && lprint(lp, n->right, depth + 1, out, err)) return -1;
    return 0;
}

int mc2_lplan_print(const mc2_lplan *lp, const mc2_lnode *n, mc2_buf *out, mc2_err *err)
{
    return lprint(lp, n, 0, out, err);
}
