/* ast.h - the SQL abstract syntax tree the parser builds and the binder consumes. */
#ifndef MC2_SQL_AST_H
#define MC2_SQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/err.h"
#include "mc2/table.h"
#include "sql/lexer.h"

/* Every AST the parser returns has height at most MC2_SQL_MAX_HEIGHT (each node's `height`
 * is 1 + the largest height among its children, subqueries included), so a recursive walk
 * over it needs at most that many frames. MC2_SQL_MAX_DEPTH bounds the parser's own
 * recursion (parentheses, prefix operators, CASE, calls, predicates, subqueries); it is
 * more than twice the height limit because printing an AST parenthesizes it, and the
 * printed text of any accepted AST must parse again. */
#define MC2_SQL_MAX_HEIGHT 256
#define MC2_SQL_MAX_DEPTH  (2 * MC2_SQL_MAX_HEIGHT + 8)

typedef struct mc2_sql_expr mc2_sql_expr;
typedef struct mc2_sql_query mc2_sql_query;
typedef struct mc2_sql_body mc2_sql_body;
typedef struct mc2_sql_select mc2_sql_select;
typedef struct mc2_sql_tref mc2_sql_tref;

/* ---- expressions ------------------------------------------------------------------------ */

enum mc2_sql_expr_kind {
    MC2_SQL_E_COLUMN = 1, /* column: [table.]name */
    MC2_SQL_E_STAR,       /* star: * or table.* (select list only) */
    MC2_SQL_E_INT,        /* lit: digits, e.g. "42" (no sign; may exceed int64: binder checks) */
    MC2_SQL_E_DECIMAL,    /* lit: "1.50", ".06", "7." - exact; scale = digits after '.' */
    MC2_SQL_E_FLOAT,      /* lit: "1e10", "2.5E-3" - a DOUBLE */
    MC2_SQL_E_STRING,     /* lit: the decoded value (valid UTF-8, no NUL byte) */
    MC2_SQL_E_DATE,       /* lit: "yyyy-mm-dd", already checked to be a real calendar day */
    MC2_SQL_E_INTERVAL,   /* interval: INTERVAL 'n' DAY|MONTH|YEAR */
    MC2_SQL_E_NULL,       /* NULL */
    MC2_SQL_E_BOOL,       /* boolean: TRUE / FALSE */
    MC2_SQL_E_UNARY,      /* unary: NOT x, -x, +x */
    MC2_SQL_E_BINARY,     /* binary: x op y */
    MC2_SQL_E_IS_NULL,    /* is_null: x IS [NOT] NULL */
    MC2_SQL_E_BETWEEN,    /* between: x [NOT] BETWEEN low AND high */
    MC2_SQL_E_IN_LIST,    /* in_list: x [NOT] IN (e1, e2, ...) - at least one item */
    MC2_SQL_E_IN_QUERY,   /* in_query: x [NOT] IN (query) */
    MC2_SQL_E_LIKE,       /* like: x [NOT] LIKE pattern [ESCAPE 'c'] */
    MC2_SQL_E_EXISTS,     /* subquery: EXISTS (query); NOT EXISTS is NOT applied to this */
    MC2_SQL_E_SUBQUERY,   /* subquery: (query) used as a scalar */
    MC2_SQL_E_CASE,       /* case_: CASE [operand] WHEN .. THEN .. [ELSE ..] END */
    MC2_SQL_E_CAST,       /* cast: CAST(x AS type) */
    MC2_SQL_E_FUNC,       /* func: a scalar function or an aggregate */
    MC2_SQL_E_EXTRACT     /* extract: EXTRACT(YEAR|MONTH|DAY FROM x) */
};

enum mc2_sql_op {
    MC2_SQL_OP_OR = 1,
    MC2_SQL_OP_AND,
    MC2_SQL_OP_NOT, /* unary */
    MC2_SQL_OP_EQ,
    MC2_SQL_OP_NE,
    MC2_SQL_OP_LT,
    MC2_SQL_OP_LE,
    MC2_SQL_OP_GT,
    MC2_SQL_OP_GE,
    MC2_SQL_OP_CONCAT, /* || */
    MC2_SQL_OP_ADD,
    MC2_SQL_OP_SUB,
    MC2_SQL_OP_MUL,
    MC2_SQL_OP_DIV,
    MC2_SQL_OP_MOD,
    MC2_SQL_OP_NEG, /* unary - */
    MC2_SQL_OP_PLUS /* unary + (kept so the binder can insist on a number) */
};

/* Functions the parser accepts (anything else is an "unknown function" error). */
enum mc2_sql_func {
    MC2_SQL_FN_COUNT = 1, /* COUNT(x), COUNT(DISTINCT x), COUNT(*) (star set, no args) */
    MC2_SQL_FN_SUM,
    MC2_SQL_FN_AVG,
    MC2_SQL_FN_MIN,
    MC2_SQL_FN_MAX,
    MC2_SQL_FN_LAST_AGGREGATE_ = MC2_SQL_FN_MAX,
    MC2_SQL_FN_SUBSTRING, /* (s, start[, count]) - also SUBSTR, SUBSTRING(s FROM a FOR b) */
    MC2_SQL_FN_UPPER,     /* (s) */
    MC2_SQL_FN_LOWER,     /* (s) */
    MC2_SQL_FN_LENGTH,    /* (s) - also CHAR_LENGTH, CHARACTER_LENGTH */
    MC2_SQL_FN_TRIM,      /* (s[, chars]) with func.trim = side; also LTRIM, RTRIM, BTRIM */
    MC2_SQL_FN_CONCAT,    /* (a, b, ...) at least 1 */
    MC2_SQL_FN_COALESCE,  /* (a, b, ...) at least 1 */
    MC2_SQL_FN_NULLIF,    /* (a, b) */
    MC2_SQL_FN_ABS,       /* (x) */
    MC2_SQL_FN_ROUND      /* (x[, digits]) */
};

enum mc2_sql_trim { MC2_SQL_TRIM_BOTH = 0, MC2_SQL_TRIM_LEADING, MC2_SQL_TRIM_TRAILING };
enum mc2_sql_unit { MC2_SQL_UNIT_DAY = 1, MC2_SQL_UNIT_MONTH, MC2_SQL_UNIT_YEAR };

/* An expression node. Strings (names, literal text) are NUL-terminated and live in the
 * arena. Unquoted names are folded to lower case; quoted names are kept as written. */
struct mc2_sql_expr {
    enum mc2_sql_expr_kind kind;
    mc2_sql_pos pos; /* first token of the expression (the operator for infix forms) */
    unsigned height; /* 1 + the greatest height of a child (subqueries included) */
    union {
        struct {
            const char *table; /* qualifier or NULL */
            const char *name;
        } column;
        struct {
            const char *table; /* NULL for a bare * */
        } star;
        struct {
            const char *text;
            size_t len;
        } lit;
        struct {
            int64_t value; /* may be negative: INTERVAL '-3' DAY */
            enum mc2_sql_unit unit;
        } interval;
        bool boolean;
        struct {
            enum mc2_sql_op op; /* NOT, NEG, PLUS */
            mc2_sql_expr *arg;
        } unary;
        struct {
            enum mc2_sql_op op;
            mc2_sql_expr *left, *right;
        } binary;
        struct {
            bool negated;
            mc2_sql_expr *arg;
        } is_null;
        struct {
            bool negated;
            mc2_sql_expr *arg, *low, *high;
        } between;
        struct {
            bool negated;
            mc2_sql_expr *arg;
            mc2_sql_expr **items;
            size_t nitems;
        } in_list;
        struct {
            bool negated;
            mc2_sql_expr *arg;
            mc2_sql_query *query;
        } in_query;
        struct {
            bool negated;
            mc2_sql_expr *arg, *pattern;
            mc2_sql_expr *escape; /* NULL or a one-character MC2_SQL_E_STRING */
        } like;
        struct {
            mc2_sql_query *query;
        } subquery;
        struct {
            mc2_sql_expr *operand; /* NULL for a searched CASE */
            mc2_sql_expr **whens, **thens;
            size_t nwhens;       /* at least 1 */
            mc2_sql_expr *else_; /* NULL if absent */
        } case_;
        struct {
            mc2_sql_expr *arg;
            mc2_coltype type; /* VARCHAR with length 0: no length given */
        } cast;
        struct {
            enum mc2_sql_func fn;
            bool distinct;          /* aggregates only */
            bool star;              /* COUNT(*) */
            enum mc2_sql_trim trim; /* TRIM only */
            mc2_sql_expr **args;
            size_t nargs; /* within the function's arity, checked by the parser */
        } func;
        struct {
            enum mc2_sql_unit field;
            mc2_sql_expr *arg;
        } extract;
    };
};

/* ---- queries ---------------------------------------------------------------------------- */

/* One item of a select list: an expression (MC2_SQL_E_STAR for * and t.*) and an alias. */
typedef struct mc2_sql_item {
    mc2_sql_expr *expr;
    const char *alias; /* NULL if none */
    mc2_sql_pos alias_pos;
    /* The expression as written, its output name without an alias (docs/sql.md, "Output
     * names"): its tokens as in the query, with one space where whitespace or comments
     * separate two, cut to at most MC2_MAX_LABEL bytes (on a UTF-8 boundary). NULL for *. */
    const char *text;
} mc2_sql_item;

enum mc2_sql_tref_kind {
    MC2_SQL_T_TABLE = 1, /* table: a named table or CTE */
    MC2_SQL_T_SUBQUERY,  /* subquery: (query) [AS] alias */
    MC2_SQL_T_JOIN       /* join: left JOIN right ... */
};

enum mc2_sql_join {
    MC2_SQL_J_INNER = 1, /* [INNER] JOIN ... ON|USING */
    MC2_SQL_J_LEFT,      /* LEFT [OUTER] JOIN */
    MC2_SQL_J_RIGHT,     /* RIGHT [OUTER] JOIN */
    MC2_SQL_J_FULL,      /* FULL [OUTER] JOIN */
    MC2_SQL_J_CROSS      /* CROSS JOIN (no condition) */
};

/* A FROM item. Comma-separated items are separate entries of mc2_sql_select.from. */
struct mc2_sql_tref {
    enum mc2_sql_tref_kind kind;
    mc2_sql_pos pos;
    unsigned height;
    const char *alias; /* NULL if none (always NULL for joins) */
    const char **cols; /* column aliases: alias (c1, c2, ...); NULL if none */
    size_t ncols;
    union {
        struct {
            const char *name;
        } table;
        struct {
            mc2_sql_query *query;
        } subquery;
        struct {
            enum mc2_sql_join type;
            mc2_sql_tref *left, *right;
            mc2_sql_expr *on;    /* ON condition, or NULL */
            const char **using_; /* USING (c1, ...) column names, or NULL */
            size_t nusing;
        } join;
    };
};

/* SELECT [DISTINCT] items [FROM ...] [WHERE] [GROUP BY] [HAVING]. */
struct mc2_sql_select {
    mc2_sql_pos pos;
    unsigned height;
    bool distinct;
    mc2_sql_item *items;
    size_t nitems;
    mc2_sql_tref **from; /* comma-separated FROM items; nfrom = 0 if there is no FROM */
    size_t nfrom;
    mc2_sql_expr *where;     /* NULL if absent */
    mc2_sql_expr **group_by; /* may be integer literals (output positions) or aliases */
    size_t ngroup;
    mc2_sql_expr *having; /* NULL if absent */
};

enum mc2_sql_body_kind {
    MC2_SQL_B_SELECT = 1, /* select */
    MC2_SQL_B_SETOP,      /* setop */
    MC2_SQL_B_QUERY       /* query: a parenthesized query with its own WITH/ORDER BY/LIMIT */
};

enum mc2_sql_setop { MC2_SQL_UNION = 1, MC2_SQL_INTERSECT, MC2_SQL_EXCEPT };

/* The body of a query: a select, a set operation, or a parenthesized query. INTERSECT binds
 * tighter than UNION and EXCEPT; all are left-associative. */
struct mc2_sql_body {
    enum mc2_sql_body_kind kind;
    mc2_sql_pos pos;
    unsigned height;
    union {
        mc2_sql_select *select;
        struct {
            enum mc2_sql_setop op;
            bool all; /* UNION ALL etc.; false for plain or DISTINCT */
            mc2_sql_body *left, *right;
        } setop;
        mc2_sql_query *query;
    };
};

/* WITH name [(cols)] AS (query). */
typedef struct mc2_sql_cte {
    const char *name;
    mc2_sql_pos pos;
    const char **cols; /* NULL if none */
    size_t ncols;
    mc2_sql_query *query;
} mc2_sql_cte;

enum mc2_sql_nulls { MC2_SQL_NULLS_DEFAULT = 0, MC2_SQL_NULLS_FIRST, MC2_SQL_NULLS_LAST };

/* ORDER BY key: an expression, an output alias (a column) or an output position (an
 * integer literal); the binder decides which. */
typedef struct mc2_sql_order {
    mc2_sql_expr *expr;
    bool desc;
    enum mc2_sql_nulls nulls;
} mc2_sql_order;

/* A full query: [WITH ...] body [ORDER BY ...] [LIMIT n] [OFFSET m]. */
struct mc2_sql_query {
    mc2_sql_pos pos;
    unsigned height;
    mc2_sql_cte *ctes;
    size_t nctes;
    mc2_sql_body *body;
    mc2_sql_order *order;
    size_t norder;
    bool has_limit;
    int64_t limit; /* >= 0 */
    bool has_offset;
    int64_t offset; /* >= 0 */
};

enum mc2_sql_stmt_kind { MC2_SQL_S_SELECT = 1, MC2_SQL_S_EXPLAIN };

/* A statement: a query, or EXPLAIN of a query. */
typedef struct mc2_sql_stmt {
    enum mc2_sql_stmt_kind kind;
    mc2_sql_pos pos;
    mc2_sql_query *query;
} mc2_sql_stmt;

/* ---- printing ---------------------------------------------------------------------------- */

/* Appends the statement as canonical SQL to out: one line, keywords in upper case, names
 * quoted only where needed, every compound expression in parentheses. Parsing the output
 * gives an AST that prints identically. */
int mc2_sql_ast_print(const mc2_sql_stmt *s, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Same for a query or an expression alone. */
int mc2_sql_ast_print_query(const mc2_sql_query *q, mc2_buf *out, mc2_err *err) MC2_WUR;
int mc2_sql_ast_print_expr(const mc2_sql_expr *e, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Names for messages: "SUM", "LEFT JOIN", "UNION", "<>"... */
const char *mc2_sql_ast_func_name(enum mc2_sql_func fn);
const char *mc2_sql_ast_op_name(enum mc2_sql_op op);
const char *mc2_sql_ast_unit_name(enum mc2_sql_unit u);
/* True for COUNT, SUM, AVG, MIN, MAX. */
bool mc2_sql_ast_is_aggregate(enum mc2_sql_func fn);

#endif
