/* tablerefs.c - the stored tables a statement reads: a walk over the AST that skips CTE names
 * the way the binder scopes them (sql/tablerefs.h). */
#include "sql/tablerefs.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The CTE names visible at a point of the statement, innermost first. */
typedef struct scope {
    const char *name;
    const struct scope *next;
} scope;

typedef struct walk {
    mc2_arena *a;
    size_t max;
    mc2_sql_tname *v; /* distinct names so far, in the arena */
    size_t n, cap;
    mc2_err *err;
} walk;

static int w_query(walk *w, const mc2_sql_query *q, const scope *sc);

static bool is_cte(const scope *sc, const char *name)
{
    for (; sc; sc = sc->next)
        if (strcasecmp(sc->name, name) == 0) return true;
    return false;
}

/* Records a table name unless it is already there (ignoring case). */
static int add(walk *w, const char *name, mc2_sql_pos pos)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcasecmp(w->v[i].name, name) == 0) return 0;
    if (w->n == w->max)
        return mc2_err_set(w->err, MC2_E_LIMIT,
                           "line %u, column %u: the query reads more than %zu tables (table '%s' "
                           "is one more)",
                           pos.line, pos.col, w->max, name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        mc2_sql_tname *v = mc2_arena_array(w->a, cap, sizeof *v, w->err);
        if (!v) return -1;
        if (w->n) memcpy(v, w->v, w->n * sizeof *v);
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = (mc2_sql_tname){name, pos};
    return 0;
}

static int w_expr(walk *w, const mc2_sql_expr *e, const scope *sc);

static int w_exprs(walk *w, mc2_sql_expr *const *v, size_t n, const scope *sc)
{
    for (size_t i = 0; i < n; i++)
        if (w_expr(w, v[i], sc)) return -1;
    return 0;
}

/* Walks an expression for its subqueries (NULL: nothing to walk). */
static int w_expr(walk *w, const mc2_sql_expr *e, const scope *sc)
{
    if (!e) return 0;
    switch (e->kind) {
    case MC2_SQL_E_UNARY:
        return w_expr(w, e->unary.arg, sc);
    case MC2_SQL_E_BINARY:
        return w_expr(w, e->binary.left, sc) || w_expr(w, e->binary.right, sc) ? -1 : 0;
    case MC2_SQL_E_IS_NULL:
        return w_expr(w, e->is_null.arg, sc);
    case MC2_SQL_E_BETWEEN:
        return w_expr(w, e->between.arg, sc) || w_expr(w, e->between.low, sc) ||
                       w_expr(w, e->between.high, sc)
                   ? -1
                   : 0;
    case MC2_SQL_E_IN_LIST:
        return w_expr(w, e->in_list.arg, sc) || w_exprs(w, e->in_list.items, e->in_list.nitems, sc)
                   ? -1
                   : 0;
    case MC2_SQL_E_IN_QUERY:
        return w_expr(w, e->in_query.arg, sc) || w_query(w, e->in_query.query, sc) ? -1 : 0;
    case MC2_SQL_E_LIKE:
        return w_expr(w, e->like.arg, sc) || w_expr(w, e->like.pattern, sc) ||
                       w_expr(w, e->like.escape, sc)
                   ? -1
                   : 0;
    case MC2_SQL_E_EXISTS:
    case MC2_SQL_E_SUBQUERY:
        return w_query(w, e->subquery.query, sc);
    case MC2_SQL_E_CASE:
        return w_expr(w, e->case_.operand, sc) || w_exprs(w, e->case_.whens, e->case_.nwhens, sc) ||
                       w_exprs(w, e->case_.thens, e->case_.nwhens, sc) ||
                       w_expr(w, e->case_.else_, sc)
                   ? -1
                   : 0;
    case MC2_SQL_E_CAST:
        return w_expr(w, e->cast.arg, sc);
    case MC2_SQL_E_FUNC:
        return w_exprs(w, e->func.args, e->func.nargs, sc);
    case MC2_SQL_E_EXTRACT:
        return w_expr(w, e->extract.arg, sc);
    default: /* columns, *, literals: no subquery */
        return 0;
    }
}

static int w_tref(walk *w, const mc2_sql_tref *t, const scope *sc)
{
    switch (t->kind) {
    case MC2_SQL_T_TABLE:
        return is_cte(sc, t->table.name) ? 0 : add(w, t->table.name, t->pos);
    case MC2_SQL_T_SUBQUERY:
        return w_query(w, t->subquery.query, sc);
    case MC2_SQL_T_JOIN:
        return w_tref(w, t->join.left, sc) || w_tref(w, t->join.right, sc) ||
                       w_expr(w, t->join.on, sc)
                   ? -1
                   : 0;
    }
    return 0;
}

static int w_select(walk *w, const mc2_sql_select *s, const scope *sc)
{
    for (size_t i = 0; i < s->nfrom; i++)
        if (w_tref(w, s->from[i], sc)) return -1;
    for (size_t i = 0; i < s->nitems; i++)
        if (w_expr(w, s->items[i].expr, sc)) return -1;
    return w_expr(w, s->where, sc) || w_exprs(w, s->group_by, s->ngroup, sc) ||
                   w_expr(w, s->having, sc)
               ? -1
               : 0;
}

static int w_body(walk *w, const mc2_sql_body *b, const scope *sc)
{
    switch (b->kind) {
    case MC2_SQL_B_SELECT:
        return w_select(w, b->select, sc);
    case MC2_SQL_B_SETOP:
        return w_body(w, b->setop.left, sc) || w_body(w, b->setop.right, sc) ? -1 : 0;
    case MC2_SQL_B_QUERY:
        return w_query(w, b->query, sc);
    }
    return 0;
}

/* A query: each WITH body sees the CTEs before it; the body and ORDER BY see them all. */
static int w_query(walk *w, const mc2_sql_query *q, const scope *sc)
{
    scope *cte = NULL;
    if (q->nctes && !(cte = mc2_arena_array(w->a, q->nctes, sizeof *cte, w->err))) return -1;
    for (size_t i = 0; i < q->nctes; i++) {
        if (w_query(w, q->ctes[i].query, sc)) return -1;
        cte[i] = (scope){q->ctes[i].name, sc};
        sc = &cte[i];
    }
    if (w_body(w, q->body, sc)) return -1;
    for (size_t i = 0; i < q->norder; i++)
        if (w_expr(w, q->order[i].expr, sc)) return -1;
    return 0;
}

int mc2_sql_table_refs(const mc2_sql_stmt *s, size_t max, mc2_arena *a, mc2_sql_tname **out,
                       size_t *n, mc2_err *err)
{
    walk w = {.a = a, .max = max, .err = err};
    if (w_query(&w, s->query, NULL)) return -1;
    *out = w.v;
    *n = w.n;
    return 0;
}
