/* tablerefs.h - the stored tables a parsed statement reads (its FROM and JOIN names that are
 * not CTEs), so a client can pass exactly those tables to a job. Pure code over the AST. */
#ifndef MC2_SQL_TABLEREFS_H
#define MC2_SQL_TABLEREFS_H

#include <stddef.h>

#include "mc2/err.h"
#include "sql/arena.h"
#include "sql/ast.h"

/* One table a statement reads: its name as the parser gives it (unquoted names folded to
 * lower case, quoted ones as written) and where it first appears. */
typedef struct mc2_sql_tname {
    const char *name;
    mc2_sql_pos pos;
} mc2_sql_tname;

/* Collects the distinct names of the stored tables statement s reads: every FROM or JOIN
 * item naming a table, in the statement's own select, in derived tables, in subqueries of
 * any expression (IN, EXISTS, scalar), on both sides of UNION / INTERSECT / EXCEPT and in the
 * bodies of WITH queries (used or not). A name that resolves to a CTE in scope, as the binder
 * scopes them (innermost WITH first; a CTE sees only those defined before it), is not a
 * table: in `WITH t AS (SELECT * FROM t) SELECT * FROM t`, t is read once, by the CTE.
 * Names are compared ignoring ASCII case, as the binder does; the spelling and position
 * met first are kept, in the walk's order (in each query: WITH bodies, FROM, the select
 * list, WHERE, GROUP BY, HAVING, ORDER BY).
 * *out is an arena array of *n entries pointing into s (which must outlive them). Fails with
 * MC2_E_LIMIT if more than max distinct tables appear (the message names the first one
 * over, with its "line L, column C"), MC2_E_NOMEM / MC2_E_LIMIT if the arena fails. The walk
 * recurses at most a few frames per AST level (the parser bounds the height). */
int mc2_sql_table_refs(const mc2_sql_stmt *s, size_t max, mc2_arena *a, mc2_sql_tname **out,
                       size_t *n, mc2_err *err) MC2_WUR;

#endif
