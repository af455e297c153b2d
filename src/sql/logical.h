/* logical.h - the logical plan between the binder and the physical planner: bound, typed
 * expressions over global column ids, relational operators, and the rewrite passes.
 *
 * Every column a logical operator produces has a query-wide unique id (mc2_lplan.cols[id]
 * describes it). Expressions refer to columns by id, never by position, so rewrites can move
 * operators (push filters down, reorder joins, pull correlated predicates out of subqueries)
 * without renumbering anything. Positions appear only in the physical plan (planner.c). */
#ifndef MC2_SQL_LOGICAL_H
#define MC2_SQL_LOGICAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/err.h"
#include "mc2/table.h"
#include "sql/arena.h"
#include "sql/lexer.h"
#include "sql/plan.h"

typedef struct mc2_lexpr mc2_lexpr;
typedef struct mc2_lnode mc2_lnode;

/* ---- expressions ------------------------------------------------------------------------- */

enum mc2_lx_kind {
    MC2_LX_COL = 1,  /* col */
    MC2_LX_CONST,    /* val (val.null for NULL) */
    MC2_LX_ARITH,    /* op = enum mc2_px_arith; args[0..2) (NEG: args[0]) */
    MC2_LX_CMP,      /* op = enum mc2_px_cmp */
    MC2_LX_AND,      /* n-ary */
    MC2_LX_OR,       /* n-ary */
    MC2_LX_NOT,      /* args[0] */
    MC2_LX_IS_NULL,  /* negated: IS NOT NULL */
    MC2_LX_IN,       /* args[0] [NOT] IN (args[1..]) */
    MC2_LX_LIKE,     /* args[0] [NOT] LIKE val.s, escape */
    MC2_LX_CASE,     /* whens/thens interleaved, then else (always present) */
    MC2_LX_CAST,     /* args[0] to type */
    MC2_LX_FUNC,     /* op = enum mc2_px_func; aux/aux2/val as in plan.h */
    MC2_LX_AGG,      /* op = enum mc2_agg_fn; args[0] (none for COUNT(*)); distinct */
    MC2_LX_SUBQUERY, /* scalar subquery: sub produces one column (sub->cols[0]) */
    MC2_LX_EXISTS,   /* EXISTS (sub) */
    MC2_LX_IN_QUERY  /* args[0] [NOT] IN (sub), sub's first column */
};

/* A bound expression. `type` is the result type under the rules of plan.h; a NULL literal
 * whose type context does not fix has type INT64. */
struct mc2_lexpr {
    enum mc2_lx_kind kind;
    int op;
    mc2_coltype type;
    bool nullable;
    bool negated;
    bool distinct;     /* AGG */
    mc2_sql_pos pos;   /* where it was written (for messages) */
    uint32_t col;      /* COL */
    mc2_pvalue val;    /* CONST; LIKE pattern; TRIM chars */
    int64_t aux, aux2; /* FUNC */
    int escape;        /* LIKE: byte or -1 */
    mc2_lexpr **args;
    unsigned nargs;
    mc2_lnode *sub; /* SUBQUERY, EXISTS, IN_QUERY */
};

/* ---- operators --------------------------------------------------------------------------- */

enum mc2_ln_kind {
    MC2_LN_SCAN = 1, /* input table `input`, schema columns scan_cols[i] produce cols[i] */
    MC2_LN_ONEROW,   /* one row, no columns (SELECT without FROM) */
    MC2_LN_FILTER,   /* pred */
    MC2_LN_PROJECT,  /* exprs[i] defines cols[i] */
    MC2_LN_JOIN, /* jtype, cond (NULL: cross), null_aware; cols: left ++ right (semi/anti: left) */
    MC2_LN_AGG,  /* exprs[0..ngroups) keys -> cols[0..ngroups); aggs -> the rest */
    MC2_LN_DISTINCT, /* all columns */
    MC2_LN_SORT,     /* keys */
    MC2_LN_LIMIT,    /* limit (< 0: none), offset */
    MC2_LN_SETOP     /* setop, all; children's columns matched by position; own ids */
};

/* An output column of an operator. */
typedef struct mc2_lcol {
    uint32_t id;
} mc2_lcol;

typedef struct mc2_lsort {
    mc2_lexpr *expr;
    bool desc;
    bool nulls_first;
} mc2_lsort;

struct mc2_lnode {
    enum mc2_ln_kind kind;
    mc2_lnode *left, *right; /* left: the child of unary operators */
    uint32_t *cols;          /* output column ids */
    size_t ncols;
    double rows; /* estimated output rows (filled by mc2_lplan_estimate) */
    /* SCAN */
    unsigned input;
    unsigned *scan_cols;
    const char *table; /* table name */
    /* FILTER: pred; JOIN: cond */
    mc2_lexpr *pred;
    /* PROJECT, AGG */
    mc2_lexpr **exprs;
    size_t nexprs;
    size_t ngroups; /* AGG: exprs[0..ngroups) are keys, exprs[ngroups..) are MC2_LX_AGG */
    /* JOIN */
    enum mc2_join_type jtype;
    bool null_aware;
    bool prefilter; /* a SEMI join the planner added below an aggregate (planner.c) */
    /* SORT */
    mc2_lsort *keys;
    size_t nkeys;
    /* LIMIT */
    int64_t limit, offset;
    /* SETOP */
    enum mc2_setop setop;
    bool all;
};

/* What is known of every column id. Estimates use only public facts: the input row counts,
 * the declared keys of the schemas, the query. */
typedef struct mc2_lcolinfo {
    const char *name; /* output name */
    const char *qual; /* table alias it was read from, or NULL */
    mc2_coltype type;
    bool nullable;
    double ndv;     /* distinct values, an upper bound (0: unknown) */
    bool keyed;     /* ndv is an estimate from a declared key (a primary key: the table's rows; a
                       foreign key: the referenced table's rows), not only a bound */
    bool agg;       /* an aggregate's value (a condition on it is a HAVING condition) */
    uint32_t scan;  /* read by a scan: the id of that scan's first column (the scan's columns
                       have ids scan + schema column index); 0 for computed columns */
    unsigned input; /* scan != 0: the input table it reads */
    double cap;     /* scan != 0 and > 0: the rows of its scan after the filters right above
                       it (the combinations of a scan's columns are at most that many) */
} mc2_lcolinfo;

/* A bound from a composite foreign key: the combination of columns ids[0..n) (of one scan)
 * takes at most ndv distinct values (the referenced table's rows). */
typedef struct mc2_lndvset {
    const uint32_t *ids;
    unsigned n;
    double ndv;
} mc2_lndvset;

struct mc2_sql_table;

/* A logical plan: the operators, the column table, and the arena they live in. */
typedef struct mc2_lplan {
    mc2_arena *arena;
    mc2_lcolinfo *cols; /* indexed by id; id 0 is unused */
    uint32_t ncols, capcols;
    mc2_lnode *root;
    bool explain;                       /* the statement was EXPLAIN */
    const struct mc2_sql_table *tables; /* the inputs (their schemas declare keys) */
    size_t ntables;
    mc2_lndvset *sets; /* composite foreign keys of the scans */
    size_t nsets, capsets;
} mc2_lplan;

/* ---- helpers (logical.c) ----------------------------------------------------------------- */

/* A new column id with the given description; 0 (with *err set) on failure. */
uint32_t mc2_lplan_newcol(mc2_lplan *lp, const char *name, const char *qual, mc2_coltype type,
                          bool nullable, mc2_err *err);
/* A zeroed node / expression in lp's arena, or NULL with *err set. */
mc2_lnode *mc2_lnode_new(mc2_lplan *lp, enum mc2_ln_kind kind, mc2_err *err);
mc2_lexpr *mc2_lexpr_new(mc2_lplan *lp, enum mc2_lx_kind kind, unsigned nargs, mc2_err *err);
/* A column reference to id, typed from the column table. */
mc2_lexpr *mc2_lexpr_col(mc2_lplan *lp, uint32_t id, mc2_err *err);
/* Sets n->cols for pass-through operators (FILTER, SORT, LIMIT, DISTINCT, JOIN) from the
 * children's columns. */
int mc2_lnode_passcols(mc2_lplan *lp, mc2_lnode *n, mc2_err *err);
/* a = b (BOOL, nullable if either side is), written at pos; NULL with *err set on failure. */
mc2_lexpr *mc2_lexpr_eq(mc2_lplan *lp, mc2_lexpr *a, mc2_lexpr *b, mc2_sql_pos pos, mc2_err *err);
/* AND of a and b, either may be NULL (then the other is returned). */
mc2_lexpr *mc2_lexpr_and(mc2_lplan *lp, mc2_lexpr *a, mc2_lexpr *b, mc2_err *err);
/* Splits a conjunction into its conjuncts: appends to *v (arena array grown by doubling). */
int mc2_lexpr_conjuncts(mc2_lplan *lp, mc2_lexpr *e, mc2_lexpr ***v, size_t *n, size_t *cap,
                        mc2_err *err);
/* Structural equality (same kind, op, type, columns, constants, children). */
bool mc2_lexpr_equal(const mc2_lexpr *a, const mc2_lexpr *b);
/* True if e contains a subquery expression (not looking inside subplans). */
bool mc2_lexpr_has_subquery(const mc2_lexpr *e);
/* True if e contains an aggregate (not looking inside subplans). */
bool mc2_lexpr_has_agg(const mc2_lexpr *e);

/* A set of column ids (a bitmap over lp's ids). */
typedef struct mc2_idset {
    uint64_t *w;
    uint32_t nw;
} mc2_idset;
int mc2_idset_init(mc2_lplan *lp, mc2_idset *s, mc2_err *err);
void mc2_idset_add(mc2_idset *s, uint32_t id);
bool mc2_idset_has(const mc2_idset *s, uint32_t id);
/* Adds the ids e references (including inside subplans: their free columns too). */
void mc2_lexpr_refs(const mc2_lexpr *e, mc2_idset *s);
/* Adds every id n's subtree references / produces. */
void mc2_lnode_refs(const mc2_lnode *n, mc2_idset *s);
void mc2_lnode_produced(const mc2_lnode *n, mc2_idset *s);
/* True if every column e references is in s. */
bool mc2_lexpr_within(const mc2_lexpr *e, const mc2_idset *s);

/* Prints e (column names, SQL-like) / a one-line description of n to out. */
int mc2_lexpr_print(const mc2_lplan *lp, const mc2_lexpr *e, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Prints the logical tree, indented (debugging and tests). */
int mc2_lplan_print(const mc2_lplan *lp, const mc2_lnode *n, mc2_buf *out, mc2_err *err) MC2_WUR;

/* ---- rewrites (rewrite.c) ---------------------------------------------------------------- */

/* Runs every rewrite in order: subquery decorrelation, predicate push-down with join
 * ordering and semi join placement by estimated cost (docs/sql.md, "Join order"), projection
 * push-down, estimates. Errors are MC2_E_INPUT "not supported: ..." for subquery shapes the
 * executor cannot run. */
int mc2_lplan_rewrite(mc2_lplan *lp, mc2_err *err) MC2_WUR;
/* ---- estimates (estimate.c) -------------------------------------------------------------- */

/* Fills n->rows for n's subtree from the public table sizes, the declared keys and fixed
 * selectivities (also used by the planner); marks aggregate values (mc2_lcolinfo.agg) and
 * records the distinct values of computed and grouping columns. */
void mc2_lplan_estimate(mc2_lplan *lp, mc2_lnode *n);
/* The fraction of rows filter condition e keeps (fixed values per kind of condition, exact
 * for equalities on declared keys; a range between two constant dates by its width). */
double mc2_est_sel(const mc2_lplan *lp, const mc2_lexpr *e);
/* Distinct values of e over `rows` rows (an upper bound), at least 1. */
double mc2_est_ndv(const mc2_lplan *lp, const mc2_lexpr *e, double rows);
/* |l JOIN r ON cond| / (lrows * rrows) for an inner join of l (lrows rows) and r (rrows). */
double mc2_est_joinsel(const mc2_lplan *lp, const mc2_lnode *l, double lrows, const mc2_lnode *r,
                       double rrows, const mc2_lexpr *cond);
/* The fraction of l's rows a SEMI (anti: ANTI) join with r on cond keeps; lcap >= 1 caps the
 * distinct key values of the left side (when the join runs above l, on lcap rows). */
double mc2_est_semi(const mc2_lplan *lp, const mc2_lnode *l, double lrows, double lcap,
                    const mc2_lnode *r, double rrows, const mc2_lexpr *cond, bool anti);
/* True if n's rows are known to be unique on the columns ids[0..nids) (some subset of them
 * is a declared primary key of a scan, GROUP BY keys, DISTINCT columns, ... carried through
 * the operators above it; docs/sql.md, "Join order"). Rows with a NULL in these columns are
 * not counted. Conservative: false when not known. */
bool mc2_lnode_unique_on(const mc2_lplan *lp, const mc2_lnode *n, const uint32_t *ids, size_t nids);

#endif
