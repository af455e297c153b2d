/* planner.h - logical plan to physical plan (plan.h), EXPLAIN, and the whole front end in one
 * call: text -> parse -> bind -> rewrite -> physical plan. */
#ifndef MC2_SQL_PLANNER_H
#define MC2_SQL_PLANNER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "mc2/err.h"
#include "sql/binder.h"
#include "sql/logical.h"
#include "sql/plan.h"

typedef struct mc2_sql_xnode mc2_sql_xnode;

/* A planned statement. Everything lives in the mc2_plan it was planned into. */
typedef struct mc2_sql_physical {
    mc2_pnode *root;     /* run with mc2_exec_open(p, root, inputs, ntables, ...) */
    bool explain;        /* the statement was EXPLAIN: print instead of running */
    mc2_sql_xnode *tree; /* what mc2_sql_explain_print shows */
    mc2_lplan *logical;  /* the rewritten logical plan (tests, debugging) */
} mc2_sql_physical;

/* Builds the physical plan for the rewritten logical plan lp into p: hash joins on the
 * equality conditions between the two sides (the build side, held in memory, is the one
 * with fewer estimated rows; outer joins keep their semantics by choosing LEFT or RIGHT),
 * nested-loop joins otherwise, hash aggregation, sort, limit, set operations, and a final
 * projection giving the output columns their names. Scans read input i = tables[i].
 * Returns 0, or -1 with *err (a builder error from plan.h is copied). */
int mc2_sql_plan_physical(mc2_lplan *lp, const mc2_sql_table *tables, size_t ntables, mc2_plan *p,
                          mc2_sql_physical *out, mc2_err *err) MC2_WUR;

/* Parses, binds, rewrites and plans the statement text[0..len) (hostile input) over
 * tables[0..ntables) into p (whose arena also holds the AST and the logical plan).
 * Errors as for mc2_sql_parse and mc2_sql_bind. */
int mc2_sql_compile(const char *text, size_t len, const mc2_sql_table *tables, size_t ntables,
                    mc2_plan *p, mc2_sql_physical *out, mc2_err *err) MC2_WUR;

/* Appends EXPLAIN's text to out: one line per physical operator, children indented two
 * spaces below their parent, each with its estimated output rows ("~N rows"). */
int mc2_sql_explain_print(const mc2_sql_physical *ph, mc2_buf *out, mc2_err *err) MC2_WUR;

#endif
