/* binder.h - name resolution and typing: a parsed statement (sql/ast.h) over named input
 * tables becomes a logical plan (sql/logical.h). */
#ifndef MC2_SQL_BINDER_H
#define MC2_SQL_BINDER_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mc2/table.h"
#include "sql/arena.h"
#include "sql/ast.h"
#include "sql/logical.h"

/* An input table as the query names it: its SQL name (matched ignoring case), its schema and
 * its public row count (used only for estimates). Its index in the array given to the binder
 * is the input number the plan's scans read (plan.h, mc2_pn_scan). */
typedef struct mc2_sql_table {
    const char *name;
    const mc2_schema *schema;
    uint64_t rows;
} mc2_sql_table;

/* Binds statement s over tables[0..ntables) into a new logical plan allocated in arena a
 * (which must outlive the plan; so must s and the schemas). Resolves names (tables, CTEs,
 * aliases, correlated references, USING, *, ORDER BY / GROUP BY positions and aliases),
 * types every expression (docs/sql.md, "Typing"), and checks aggregates. Subqueries stay as
 * expressions holding their own plans; mc2_lplan_rewrite decorrelates them.
 * Errors (MC2_E_INPUT, or MC2_E_LIMIT / MC2_E_NOMEM) read "line L, column C: ..." and name
 * columns and types only, never data values. */
int mc2_sql_bind(const mc2_sql_stmt *s, const mc2_sql_table *tables, size_t ntables, mc2_arena *a,
                 mc2_lplan **out, mc2_err *err) MC2_WUR;

#endif
