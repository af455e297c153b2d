/* prune.h - block skipping for encryption-mode scans: from the predicate of a FILTER directly
 * above a SCAN, the conditions a block's sealed per-column statistics (chunk.h, mc2_colstats)
 * must meet for any of the block's rows to pass the filter. A block that fails one is not
 * read (mc2_tscan's keep). Oblivious mode never uses this (docs/security.md).
 *
 * What is derived. A predicate is TRUE for a row only if every one of its conditions holds;
 * each condition restricts one table column: "NULL, if null_ok, or a value in a union of
 * intervals". They come from
 *   col op c          op one of = <> < <= > >=, c a column-free expression (either side)
 *   col [NOT] BETWEEN, col [NOT] IN (...): the planner builds them from AND / OR / NOT of
 *                     comparisons, which is all this sees
 *   col IS [NOT] NULL, a BOOL column on its own (col = TRUE)
 *   AND               every operand's conditions (two on one column: their intersection)
 *   OR                for a column that every operand restricts: the union of its
 *                     restrictions; other columns: nothing
 *   NOT               pushed down (De Morgan holds in SQL's three-valued logic; NOT of a
 *                     comparison is the opposite comparison: both are FALSE on NULL)
 * Anything else (col + 1 > 5, f(col) = 3, col1 < col2, LIKE, CASE, ...) gives no condition:
 * the block is kept. A condition holds at most 64 intervals: beyond, they are replaced by
 * their hull (a wider condition, still never wrong). Deriving takes at most 1 MiB of scratch
 * memory (an IN list of any length fits: its items are merged one by one); a predicate that
 * needs more gives no condition. The rules are exact for every type with statistics:
 *   INT64, DATE, BOOL, DECIMAL  compared exactly, in the column's own units. A comparison of
 *                     DECIMALs of different scales is built with casts to the larger scale
 *                     (plan.h, mc2_px_cmp): a constant of a finer scale than the column is
 *                     rounded towards the side that keeps every matching value (x < 1.005
 *                     on DECIMAL(p,2) is x <= 1.00), an equality with it is never TRUE.
 *   DOUBLE, and INT64 / DECIMAL compared with a DOUBLE (cast to DOUBLE, the executor's
 *                     conversion v / 10^s, which is monotone): compared as doubles, -0.0
 *                     equal to +0.0 as in C; a NaN constant or statistic gives no condition.
 *   VARCHAR           has no statistics: nothing.
 * Constants: MC2_PX_CONST, or any column-free subtree when an evaluator is given (the
 * executor folds DATE '1994-01-01' + INTERVAL '1' YEAR, CAST(24 AS DECIMAL(18,2)), only at
 * run time). A constant that fails to evaluate gives no condition; a NULL one makes its
 * comparison never TRUE.
 *
 * The test of a block, per condition, from the column's statistics st:
 *   no statistics (format v1)                          keep
 *   null_ok and st has NULLS or ALLNULL                 keep
 *   ALLNULL (no non-NULL value), or no interval         skip
 *   MINMAX unset                                        keep
 *   [min, max] meets some interval                      keep, else skip
 * So a block is skipped only if no row of it can make the predicate TRUE: the filter's
 * output is the same with or without skipping. What can differ: an error that evaluating the
 * predicate on a skipped row would raise (an overflow in another operand of an AND, a cast of
 * the column that overflows) is not raised, as when an engine evaluates the operand that
 * excludes the row first. */
#ifndef MC2_SQL_PRUNE_H
#define MC2_SQL_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "sql/arena.h"
#include "sql/plan.h"
#include "table/chunk.h"
#include "table/tsrc.h"

typedef struct mc2_prune mc2_prune;

/* Evaluates a column-free expression e into *out (e->type's representation, as an
 * mc2_pvalue: exact types in i, DOUBLE in f, out->null for NULL). Returns 0, or -1 if it
 * cannot (the expression then gives no condition). */
typedef int (*mc2_prune_eval_fn)(void *ctx, const mc2_pexpr *e, mc2_pvalue *out);

/* Derives the conditions of pred (BOOL) over rows whose column k is table column cols[k],
 * k < ncols (a scan's projection: pred's column references are checked against it, a
 * reference past ncols gives no condition). eval may be NULL (then only literals are
 * constants). Everything is allocated in a; *out is NULL if pred gives no condition.
 * Returns 0, or -1 with *err if the arena fails. Pure: reads only its arguments. */
int mc2_prune_build(const mc2_pexpr *pred, const unsigned *cols, size_t ncols,
                    mc2_prune_eval_fn eval, void *eval_ctx, mc2_arena *a, mc2_prune **out,
                    mc2_err *err) MC2_WUR;

/* The statistics of table column col of the block being tested, or NULL if there are none. */
typedef const mc2_colstats *(*mc2_prune_stats_fn)(void *ctx, unsigned col);

/* Whether a block whose statistics stats(ctx, col) gives may hold a row that passes (false:
 * it can be skipped). p NULL: true. */
bool mc2_prune_keep(const mc2_prune *p, mc2_prune_stats_fn stats, void *ctx);

/* mc2_prune_keep over block b of a table (an mc2_tkeep_fn; ctx is the mc2_prune). */
bool mc2_prune_tkeep(void *ctx, const mc2_tsrc *s, uint64_t b);

/* Number of conditions in p (0 for NULL), and a description of condition i for tests and
 * debugging: "col 3 [10, 20] [30, 30] or NULL" (exact), "col 1 (1.5, inf]" (DOUBLE). */
size_t mc2_prune_count(const mc2_prune *p);
void mc2_prune_describe(const mc2_prune *p, size_t i, char *buf, size_t len);

#endif
