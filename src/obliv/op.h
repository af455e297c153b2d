/* op.h - the oblivious relational operators (docs/obliv.md, "Operators"; issue 5 section 2).
 *
 * Every operator takes rows (rows.h) whose COUNT and LAYOUT are public and whose contents --
 * values, null flags and the valid word -- are secret, and never branches on, or indexes
 * memory by, a secret: they are built from the primitives (ct.h, obliv_sort, obliv_compact,
 * obliv_expand) and linear scans with masks. Each call ends with the leakage policy in its
 * struct obliv_opts (obliv_finish): OBLIV_REVEAL makes the true output size public,
 * OBLIV_PAD pads to the public bound or fails with MC2_E_LIMIT (one bit). Real rows come
 * first in every output. Other declassified bits, each the same bit encryption mode's
 * error would reveal: an arithmetic overflow happened (MC2_E_INPUT); a join's primary key
 * is not unique (MC2_E_INPUT).
 *
 * Misuse (a column index out of range, mismatched layouts) is an error returned with
 * MC2_E_USAGE; no operator reads a secret to decide it. */
#ifndef MC2_OBLIV_OP_H
#define MC2_OBLIV_OP_H

#include "obliv/expr.h"
#include "obliv/rows.h"

/* Keeps the rows whose predicate is TRUE (in place; order kept). */
int obliv_filter(struct obliv_rows *r, const struct obliv_expr *pred, const struct obliv_opts *o,
                 mc2_err *err) MC2_WUR;

/* One output column of a projection (use designated initializers; unset fields are 0):
 *   kind OBLIV_PROJ_COL (0)   a copy of input column `col` (any type); `is_expr` = 1 (the
 *                             older spelling) selects OBLIV_PROJ_EXPR instead;
 *   kind OBLIV_PROJ_EXPR      the value of `expr`; `type` says its type (not VARCHAR);
 *   kind OBLIV_PROJ_SUBSTR    SUBSTRING(col FROM start FOR count) of VARCHAR column `col`:
 *                             start >= 1 and count (UINT32_MAX: to the end) are public
 *                             constants, counted in UTF-8 code points exactly as encryption
 *                             mode's MC2_PF_SUBSTRING (a byte 10xxxxxx continues the previous
 *                             code point; leading continuation bytes belong to none and are
 *                             dropped); `type` is the output VARCHAR(L), which must hold
 *                             min(count, the input's length) code points. NULL in, NULL out.
 *                             The code points' byte offsets are secret: a prefix count per
 *                             byte, a shift by the secret offset in log2(w) masked passes
 *                             over the w padded bytes, the tail masked. */
enum obliv_proj_kind { OBLIV_PROJ_COL = 0, OBLIV_PROJ_EXPR = 1, OBLIV_PROJ_SUBSTR = 2 };
struct obliv_proj {
    int is_expr;
    uint32_t col;
    struct obliv_expr expr;
    mc2_coltype type;
    enum obliv_proj_kind kind;
    uint32_t start, count; /* OBLIV_PROJ_SUBSTR */
};
/* out (allocated here) = one row per input row (n public: no policy step), valid copied. */
int obliv_project(const struct obliv_rows *in, const struct obliv_proj *items, size_t nitems,
                  struct obliv_rows *out, mc2_err *err) MC2_WUR;

/* ORDER BY: sorts in place, real rows first, then by the keys (multi-key, ASC/DESC, NULLS
 * FIRST/LAST per key). Sizes unchanged. Not stable. */
struct obliv_sortkey {
    uint32_t col;
    int desc;
    int nulls_first;
};
int obliv_order_by(struct obliv_rows *r, const struct obliv_sortkey *keys, size_t nkeys,
                   const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* LIMIT/OFFSET on rows whose real rows come first (e.g. obliv_order_by's output): keeps
 * rows [offset, offset + limit) -- public bounds, a public slice -- then the policy. */
int obliv_limit(struct obliv_rows *r, size_t offset, size_t limit, const struct obliv_opts *o,
                mc2_err *err) MC2_WUR;

/* DISTINCT over all columns (NULLs equal each other), in place. Output order unspecified. */
int obliv_distinct(struct obliv_rows *r, const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* UNION ALL: appends src to dst (same layout; public sizes). UNION: then DISTINCT. */
int obliv_union_all(struct obliv_rows *dst, const struct obliv_rows *src, mc2_err *err) MC2_WUR;
int obliv_union(struct obliv_rows *dst, const struct obliv_rows *src, const struct obliv_opts *o,
                mc2_err *err) MC2_WUR;

/* GROUP BY keys with aggregates. Output columns: the key columns, then one per aggregate:
 * COUNT(*) and COUNT(col) INT64 (never NULL); SUM the column's type (INT64, DECIMAL same
 * scale, DOUBLE); MIN/MAX the column's type (not VARCHAR); AVG DOUBLE (sum / count in the
 * column's units: a DECIMAL's scale still applies). SUM/MIN/MAX/AVG over no non-NULL value
 * are NULL. NULL keys form one group. nkeys = 0: one output row, always (global aggregate;
 * not subject to the policy). */
enum obliv_aggfn { OA_COUNT_STAR = 1, OA_COUNT, OA_SUM, OA_MIN, OA_MAX, OA_AVG };
struct obliv_agg {
    enum obliv_aggfn fn;
    uint32_t col;
};
int obliv_group_by(const struct obliv_rows *in, const uint32_t *keys, size_t nkeys,
                   const struct obliv_agg *aggs, size_t naggs, struct obliv_rows *out,
                   const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* Join keys: key column a_cols[i] of the left side pairs with b_cols[i] of the right side
 * (nkeys >= 1, at most OBLIV_MAX_COLS); paired columns must have identical types (VARCHAR:
 * the same length; DECIMAL: the same scale), else MC2_E_USAGE. Two rows' keys are equal
 * iff every pair is; a row with any NULL key column never matches. */

/* PK-FK equi-join on pk_cols = fk_cols, where the key is unique among pk's real rows with
 * no NULL key column (checked obliviously: a duplicate fails the call with MC2_E_INPUT).
 * Output columns: pk's, then fk's; one row per matching fk row. Sort the union of both
 * sides by (key, side), carry the last pk row down in one scan, compact. */
int obliv_pkfk_join(const struct obliv_rows *pk, const uint32_t *pk_cols,
                    const struct obliv_rows *fk, const uint32_t *fk_cols, size_t nkeys,
                    struct obliv_rows *out, const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* General equi-join a.a_cols = b.b_cols (any multiplicity on both sides), after Krastnikov,
 * Kerschbaum and Stebila, "Efficient Oblivious Database Joins" (VLDB 2020): sort both sides
 * together by (key, side) and compute each row's group dimensions (alpha_a, alpha_b) with a
 * forward and a backward scan; the output size m = sum of alpha_a * alpha_b is computed
 * obliviously, then made public (OBLIV_REVEAL) or checked against the bound (OBLIV_PAD,
 * which sizes the work arrays by the bound instead); each a row is expanded alpha_b times and
 * each b row alpha_a times (oblivious distribution by destination index + fill-down); the
 * expanded b side is re-sorted so that position p * alpha_b + q holds (b_q, copy p); the two
 * sides are zipped. Output columns: a's then b's. O((n + m) log^2) work for the sorts. */
int obliv_equi_join(const struct obliv_rows *a, const uint32_t *a_cols, const struct obliv_rows *b,
                    const uint32_t *b_cols, size_t nkeys, struct obliv_rows *out,
                    const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* Semi / anti join on a.a_cols = b.b_cols. Output: a's columns. anti = 0 (SEMI): each real
 * a row with at least one real b row of equal key, once; anti = 1 (ANTI): the real a rows
 * without one (an a row with a NULL key is among them). null_aware (anti = 1 and nkeys = 1
 * only, else MC2_E_USAGE; NOT IN): if b has a real row with a NULL key the output is empty;
 * an a row with a NULL key is output only if b has no real row. Both sides are sorted
 * together by (key, side: b first), one scan carries the last real b key down and marks the
 * a rows; "b has a NULL key" and "b is empty" are secret bits from scans, folded into the
 * marks; compaction; the policy. Output order unspecified. */
int obliv_semi_join(const struct obliv_rows *a, const uint32_t *a_cols, const struct obliv_rows *b,
                    const uint32_t *b_cols, size_t nkeys, int anti, int null_aware,
                    struct obliv_rows *out, const struct obliv_opts *o, mc2_err *err) MC2_WUR;

/* Cross join with a predicate (nested loops): all na * nb pairs (a public count) in a fixed
 * order (a row-major), valid = a.valid AND b.valid AND pred TRUE (pred over a's columns then
 * b's, the layout obliv_layout_concat(a, b); NULL = every pair), compaction, the policy.
 * Fails with MC2_E_LIMIT if na * nb exceeds OBLIV_CROSS_MAX rows, and with MC2_E_INPUT if
 * the predicate overflowed on a real pair (one bit, as encryption mode's error). */
#define OBLIV_CROSS_MAX ((size_t)1 << 26)
int obliv_cross_join(const struct obliv_rows *a, const struct obliv_rows *b,
                     const struct obliv_expr *pred, struct obliv_rows *out,
                     const struct obliv_opts *o, mc2_err *err) MC2_WUR;

#endif
