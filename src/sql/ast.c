/* ast.c - AST helpers and the canonical SQL printer (fully parenthesized, one line). */
#include "sql/ast.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *mc2_sql_ast_func_name(enum mc2_sql_func fn)
{
    switch (fn) {
    case MC2_SQL_FN_COUNT:
        return "COUNT";
    case MC2_SQL_FN_SUM:
        return "SUM";
    case MC2_SQL_FN_AVG:
        return "AVG";
    case MC2_SQL_FN_MIN:
        return "MIN";
    case MC2_SQL_FN_MAX:
        return "MAX";
    case MC2_SQL_FN_SUBSTRING:
        return "SUBSTRING";
    case MC2_SQL_FN_UPPER:
        return "UPPER";
    case MC2_SQL_FN_LOWER:
        return "LOWER";
    case MC2_SQL_FN_LENGTH:
        return "LENGTH";
    case MC2_SQL_FN_TRIM:
        return "TRIM";
    case MC2_SQL_FN_CONCAT:
        return "CONCAT";
    case MC2_SQL_FN_COALESCE:
        return "COALESCE";
    case MC2_SQL_FN_NULLIF:
        return "NULLIF";
    case MC2_SQL_FN_ABS:
        return "ABS";
    case MC2_SQL_FN_ROUND:
        return "ROUND";
    }
    return "?";
}

bool mc2_sql_ast_is_aggregate(enum mc2_sql_func fn)
{
    return fn >= MC2_SQL_FN_COUNT && fn <= MC2_SQL_FN_LAST_AGGREGATE_;
}

const char *mc2_sql_ast_op_name(enum mc2_sql_op op)
{
    switch (op) {
    case MC2_SQL_OP_OR:
        return "OR";
    case MC2_SQL_OP_AND:
        return "AND";
    case MC2_SQL_OP_NOT:
        return "NOT";
    case MC2_SQL_OP_EQ:
        return "=";
    case MC2_SQL_OP_NE:
        return "<>";
    case MC2_SQL_OP_LT:
        return "<";
    case MC2_SQL_OP_LE:
        return "<=";
    case MC2_SQL_OP_GT:
        return ">";
    case MC2_SQL_OP_GE:
        return ">=";
    case MC2_SQL_OP_CONCAT:
        return "||";
    case MC2_SQL_OP_ADD:
        return "+";
    case MC2_SQL_OP_SUB:
        return "-";
    case MC2_SQL_OP_MUL:
        return "*";
    case MC2_SQL_OP_DIV:
        return "/";
    case MC2_SQL_OP_MOD:
        return "%";
    case MC2_SQL_OP_NEG:
        return "-";
    case MC2_SQL_OP_PLUS:
        return "+";
    }
    return "?";
}

const char *mc2_sql_ast_unit_name(enum mc2_sql_unit u)
{
    switch (u) {
    case MC2_SQL_UNIT_DAY:
        return "DAY";
    case MC2_SQL_UNIT_MONTH:
        return "MONTH";
    case MC2_SQL_UNIT_YEAR:
        return "YEAR";
    }
    return "?";
}

/* ---- printer ------------------------------------------------------------------------------ */

typedef struct printer {
    mc2_buf *b;
    mc2_err *err;
    bool failed;
} printer;

static void put(printer *p, const char *s)
{
    if (!p->failed && mc2_buf_puts(p->b, s, p->err)) p->failed = true;
}

static void put_n(printer *p, const char *s, size_t n)
{
    if (!p->failed && mc2_buf_append(p->b, s, n, p->err)) p->failed = true;
}

/* s[0..n) between quote characters q, doubling q inside. */
static void put_quoted(printer *p, const char *s, size_t n, char q)
{
    put_n(p, &q, 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == q) {
            put_n(p, s + start, i + 1 - start);
            put_n(p, &q, 1);
            start = i + 1;
        }
    }
    put_n(p, s + start, n - start);
    put_n(p, &q, 1);
}

__attribute__((noinline)) static void put_int(printer *p, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    put(p, buf);
}

/* A name: bare if it is a lower-case plain word that is not a keyword, else quoted. */
static void put_name(printer *p, const char *name)
{
    size_t n = strlen(name);
    bool plain = n > 0 && !(name[0] >= '0' && name[0] <= '9');
    for (size_t i = 0; plain && i < n; i++) {
        char c = name[i];
        plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    }
    if (plain && mc2_sql_lex_keyword(name, n) == MC2_SQL_KW_NONE)
        put_n(p, name, n);
    else
        put_quoted(p, name, n, '"');
}

static void put_names(printer *p, const char *const *names, size_t n)
{
    put(p, "(");
    for (size_t i = 0; i < n; i++) {
        if (i) put(p, ", ");
        put_name(p, names[i]);
    }
    put(p, ")");
}

/* Out of line (like put_int) so that its buffer stays off the recursive printers' frames. */
__attribute__((noinline)) static void put_type(printer *p, const mc2_coltype *t)
{
    char buf[48];
    switch (t->id) {
    case MC2_T_INT64:
        put(p, "INT64");
        break;
    case MC2_T_DOUBLE:
        put(p, "DOUBLE");
        break;
    case MC2_T_DECIMAL:
    case MC2_T_DEC128:
        snprintf(buf, sizeof buf, "DECIMAL(%u,%u)", t->precision, t->scale);
        put(p, buf);
        break;
    case MC2_T_DATE:
        put(p, "DATE");
        break;
    case MC2_T_BOOL:
        put(p, "BOOL");
        break;
    case MC2_T_VARCHAR:
        if (t->length) {
            snprintf(buf, sizeof buf, "VARCHAR(%" PRIu32 ")", t->length);
            put(p, buf);
        } else {
            put(p, "VARCHAR");
        }
        break;
    }
}

static void print_query(printer *p, const mc2_sql_query *q);
static void print_expr(printer *p, const mc2_sql_expr *e);
static void print_binary(printer *p, const mc2_sql_expr *e);

static void print_exprs(printer *p, mc2_sql_expr *const *es, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i) put(p, ", ");
        print_expr(p, es[i]);
    }
}

static void print_func(printer *p, const mc2_sql_expr *e)
{
    put(p, mc2_sql_ast_func_name(e->func.fn));
    put(p, "(");
    if (e->func.star) {
        put(p, "*");
    } else if (e->func.fn == MC2_SQL_FN_SUBSTRING) {
        assert(e->func.nargs >= 2);
        print_expr(p, e->func.args[0]);
        put(p, " FROM ");
        print_expr(p, e->func.args[1]);
        if (e->func.nargs > 2) {
            put(p, " FOR ");
            print_expr(p, e->func.args[2]);
        }
    } else if (e->func.fn == MC2_SQL_FN_TRIM &&
               (e->func.trim != MC2_SQL_TRIM_BOTH || e->func.nargs > 1)) {
        static const char *const side[] = {"BOTH", "LEADING", "TRAILING"};
        put(p, side[e->func.trim]);
        if (e->func.nargs > 1) {
            put(p, " ");
            print_expr(p, e->func.args[1]);
        }
        put(p, " FROM ");
        print_expr(p, e->func.args[0]);
    } else {
        if (e->func.distinct) put(p, "DISTINCT ");
        print_exprs(p, e->func.args, e->func.nargs);
    }
    put(p, ")");
}

/* Binding strength of a binary operator, for chains; 0 for comparisons, which never chain. */
static int op_level(enum mc2_sql_op op)
{
    switch (op) {
    case MC2_SQL_OP_OR:
        return 1;
    case MC2_SQL_OP_AND:
        return 2;
    case MC2_SQL_OP_CONCAT:
        return 3;
    case MC2_SQL_OP_ADD:
    case MC2_SQL_OP_SUB:
        return 4;
    case MC2_SQL_OP_MUL:
    case MC2_SQL_OP_DIV:
    case MC2_SQL_OP_MOD:
        return 5;
    default:
        return 0;
    }
}

/* A binary node without its outer parentheses. A left operand that is a binary operator of
 * the same level is printed without parentheses too ("(a - b - c)" is ((a - b) - c)): these
 * operators are left-associative, and printing a long chain flat keeps the text as shallow
 * to re-parse as the original. */
static void print_binary(printer *p, const mc2_sql_expr *e)
{
    const mc2_sql_expr *l = e->binary.left;
    int lvl = op_level(e->binary.op);
    if (lvl && l->kind == MC2_SQL_E_BINARY && op_level(l->binary.op) == lvl)
        print_binary(p, l);
    else
        print_expr(p, l);
    put(p, " ");
    put(p, mc2_sql_ast_op_name(e->binary.op));
    put(p, " ");
    print_expr(p, e->binary.right);
}

static void print_expr(printer *p, const mc2_sql_expr *e)
{
    if (p->failed) return;
    switch (e->kind) {
    case MC2_SQL_E_COLUMN:
        if (e->column.table) {
            put_name(p, e->column.table);
            put(p, ".");
        }
        put_name(p, e->column.name);
        break;
    case MC2_SQL_E_STAR:
        if (e->star.table) {
            put_name(p, e->star.table);
            put(p, ".");
        }
        put(p, "*");
        break;
    case MC2_SQL_E_INT:
    case MC2_SQL_E_DECIMAL:
    case MC2_SQL_E_FLOAT:
        put_n(p, e->lit.text, e->lit.len);
        break;
    case MC2_SQL_E_STRING:
        put_quoted(p, e->lit.text, e->lit.len, '\'');
        break;
    case MC2_SQL_E_DATE:
        put(p, "DATE ");
        put_quoted(p, e->lit.text, e->lit.len, '\'');
        break;
    case MC2_SQL_E_INTERVAL:
        put(p, "INTERVAL '");
        put_int(p, e->interval.value);
        put(p, "' ");
        put(p, mc2_sql_ast_unit_name(e->interval.unit));
        break;
    case MC2_SQL_E_NULL:
        put(p, "NULL");
        break;
    case MC2_SQL_E_BOOL:
        put(p, e->boolean ? "TRUE" : "FALSE");
        break;
    case MC2_SQL_E_UNARY:
        put(p, "(");
        put(p, mc2_sql_ast_op_name(e->unary.op));
        put(p, " ");
        print_expr(p, e->unary.arg);
        put(p, ")");
        break;
    case MC2_SQL_E_BINARY:
        put(p, "(");
        print_binary(p, e);
        put(p, ")");
        break;
    case MC2_SQL_E_IS_NULL:
        put(p, "(");
        print_expr(p, e->is_null.arg);
        put(p, e->is_null.negated ? " IS NOT NULL)" : " IS NULL)");
        break;
    case MC2_SQL_E_BETWEEN:
        put(p, "(");
        print_expr(p, e->between.arg);
        put(p, e->between.negated ? " NOT BETWEEN " : " BETWEEN ");
        print_expr(p, e->between.low);
        put(p, " AND ");
        print_expr(p, e->between.high);
        put(p, ")");
        break;
    case MC2_SQL_E_IN_LIST:
        put(p, "(");
        print_expr(p, e->in_list.arg);
        put(p, e->in_list.negated ? " NOT IN (" : " IN (");
        print_exprs(p, e->in_list.items, e->in_list.nitems);
        put(p, "))");
        break;
    case MC2_SQL_E_IN_QUERY:
        put(p, "(");
        print_expr(p, e->in_query.arg);
        put(p, e->in_query.negated ? " NOT IN (" : " IN (");
        print_query(p, e->in_query.query);
        put(p, "))");
        break;
    case MC2_SQL_E_LIKE:
        put(p, "(");
        print_expr(p, e->like.arg);
        put(p, e->like.negated ? " NOT LIKE " : " LIKE ");
        print_expr(p, e->like.pattern);
        if (e->like.escape) {
            put(p, " ESCAPE ");
            print_expr(p, e->like.escape);
        }
        put(p, ")");
        break;
    case MC2_SQL_E_EXISTS:
        put(p, "EXISTS (");
        print_query(p, e->subquery.query);
        put(p, ")");
        break;
    case MC2_SQL_E_SUBQUERY:
        put(p, "(");
        print_query(p, e->subquery.query);
        put(p, ")");
        break;
    case MC2_SQL_E_CASE:
        put(p, "CASE");
        if (e->case_.operand) {
            put(p, " ");
            print_expr(p, e->case_.operand);
        }
        for (size_t i = 0; i < e->case_.nwhens; i++) {
            put(p, " WHEN ");
            print_expr(p, e->case_.whens[i]);
            put(p, " THEN ");
            print_expr(p, e->case_.thens[i]);
        }
        if (e->case_.else_) {
            put(p, " ELSE ");
            print_expr(p, e->case_.else_);
        }
        put(p, " END");
        break;
    case MC2_SQL_E_CAST:
        put(p, "CAST(");
        print_expr(p, e->cast.arg);
        put(p, " AS ");
        put_type(p, &e->cast.type);
        put(p, ")");
        break;
    case MC2_SQL_E_FUNC:
        print_func(p, e);
        break;
    case MC2_SQL_E_EXTRACT:
        put(p, "EXTRACT(");
        put(p, mc2_sql_ast_unit_name(e->extract.field));
        put(p, " FROM ");
        print_expr(p, e->extract.arg);
        put(p, ")");
        break;
    }
}

static void print_alias(printer *p, const char *alias, const char *const *cols, size_t ncols)
{
    if (!alias) return;
    put(p, " AS ");
    put_name(p, alias);
    if (ncols) put_names(p, cols, ncols);
}

static void print_tref(printer *p, const mc2_sql_tref *r)
{
    if (p->failed) return;
    switch (r->kind) {
    case MC2_SQL_T_TABLE:
        put_name(p, r->table.name);
        print_alias(p, r->alias, r->cols, r->ncols);
        break;
    case MC2_SQL_T_SUBQUERY:
        put(p, "(");
        print_query(p, r->subquery.query);
        put(p, ")");
        print_alias(p, r->alias, r->cols, r->ncols);
        break;
    case MC2_SQL_T_JOIN: {
        static const char *const names[] = {
            "", " JOIN ", " LEFT JOIN ", " RIGHT JOIN ", " FULL JOIN ", " CROSS JOIN "};
        print_tref(p, r->join.left);
        put(p, names[r->join.type]);
        bool paren = r->join.right->kind == MC2_SQL_T_JOIN;
        if (paren) put(p, "(");
        print_tref(p, r->join.right);
        if (paren) put(p, ")");
        if (r->join.on) {
            put(p, " ON ");
            print_expr(p, r->join.on);
        } else if (r->join.nusing) {
            put(p, " USING ");
            put_names(p, r->join.using_, r->join.nusing);
        }
        break;
    }
    }
}

static void print_select(printer *p, const mc2_sql_select *s)
{
    put(p, s->distinct ? "SELECT DISTINCT " : "SELECT ");
    for (size_t i = 0; i < s->nitems; i++) {
        if (i) put(p, ", ");
        print_expr(p, s->items[i].expr);
        if (s->items[i].alias) {
            put(p, " AS ");
            put_name(p, s->items[i].alias);
        }
    }
    if (s->nfrom) {
        put(p, " FROM ");
        for (size_t i = 0; i < s->nfrom; i++) {
            if (i) put(p, ", ");
            print_tref(p, s->from[i]);
        }
    }
    if (s->where) {
        put(p, " WHERE ");
        print_expr(p, s->where);
    }
    if (s->ngroup) {
        put(p, " GROUP BY ");
        print_exprs(p, s->group_by, s->ngroup);
    }
    if (s->having) {
        put(p, " HAVING ");
        print_expr(p, s->having);
    }
}

static void print_body(printer *p, const mc2_sql_body *b)
{
    if (p->failed) return;
    switch (b->kind) {
    case MC2_SQL_B_SELECT:
        print_select(p, b->select);
        break;
    case MC2_SQL_B_QUERY:
        put(p, "(");
        print_query(p, b->query);
        put(p, ")");
        break;
    case MC2_SQL_B_SETOP: {
        static const char *const names[] = {"", " UNION ", " INTERSECT ", " EXCEPT "};
        const mc2_sql_body *kids[2] = {b->setop.left, b->setop.right};
        for (int i = 0; i < 2; i++) {
            if (i) {
                put(p, names[b->setop.op]);
                if (b->setop.all) put(p, "ALL ");
            }
            bool paren = kids[i]->kind == MC2_SQL_B_SETOP;
            if (paren) put(p, "(");
            print_body(p, kids[i]);
            if (paren) put(p, ")");
        }
        break;
    }
    }
}

static void print_query(printer *p, const mc2_sql_query *q)
{
    if (p->failed) return;
    if (q->nctes) {
        put(p, "WITH ");
        for (size_t i = 0; i < q->nctes; i++) {
            const mc2_sql_cte *c = &q->ctes[i];
            if (i) put(p, ", ");
            put_name(p, c->name);
            if (c->ncols) put_names(p, c->cols, c->ncols);
            put(p, " AS (");
            print_query(p, c->query);
            put(p, ")");
        }
        put(p, " ");
    }
    print_body(p, q->body);
    if (q->norder) {
        put(p, " ORDER BY ");
        for (size_t i = 0; i < q->norder; i++) {
            if (i) put(p, ", ");
            print_expr(p, q->order[i].expr);
            if (q->order[i].desc) put(p, " DESC");
            if (q->order[i].nulls == MC2_SQL_NULLS_FIRST) put(p, " NULLS FIRST");
            if (q->order[i].nulls == MC2_SQL_NULLS_LAST) put(p, " NULLS LAST");
        }
    }
    if (q->has_limit) {
        put(p, " LIMIT ");
        put_int(p, q->limit);
    }
    if (q->has_offset) {
        put(p, " OFFSET ");
        put_int(p, q->offset);
    }
}

int mc2_sql_ast_print(const mc2_sql_stmt *s, mc2_buf *out, mc2_err *err)
{
    printer p = {out, err, false};
    if (s->kind == MC2_SQL_S_EXPLAIN) put(&p, "EXPLAIN ");
    print_query(&p, s->query);
    return p.failed ? -1 : 0;
}

int mc2_sql_ast_print_query(const mc2_sql_query *q, mc2_buf *out, mc2_err *err)
{
    printer p = {out, err, false};
    print_query(&p, q);
    return p.failed ? -1 : 0;
}

int mc2_sql_ast_print_expr(const mc2_sql_expr *e, mc2_buf *out, mc2_err *err)
{
    printer p = {out, err, false};
    print_expr(&p, e);
    return p.failed ? -1 : 0;
}
