/* plan.h - the PHYSICAL plan the planner produces and the vectorized executor runs: typed
 * expressions, operators, and the execution API (docs/sql-exec.md is the long version).
 *
 * Building. A plan lives in an mc2_plan (one arena per query). Builders type-check as they
 * go and return NULL on failure; the FIRST error is kept in the plan (mc2_plan_error) and a
 * builder handed a NULL child returns NULL at once, so a planner can build a whole tree and
 * check once. Errors name types and columns, never data values.
 *
 * Column references. An expression's column index refers to the row its operator sees: the
 * child's output for FILTER and PROJECT, and the left child's columns followed by the right
 * child's for join conditions. Operators check every reference (index and type) when they
 * are built. Keys of joins, aggregations and sorts are column indices of the child: the
 * planner computes key expressions in a PROJECT below.
 *
 * Types. mc2's column types: INT64, DOUBLE, DECIMAL(p,s) (int64 scaled by 10^s, p <= 18),
 * the wide DECIMAL(p,s) of 19 <= p <= 38 (MC2_T_DEC128: mc2_i128 scaled by 10^s), DATE
 * (int32 days), BOOL, VARCHAR(n). Every computed DECIMAL has precision 18 (38 if wide: SUM
 * and AVG of a DECIMAL, and arithmetic with a wide operand, whose operands the builders cast
 * to DECIMAL(38, s)); a value whose magnitude reaches 10^18 (10^38) is an overflow ERROR
 * (never a wrong answer). */
#ifndef MC2_SQL_PLAN_H
#define MC2_SQL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mc2/table.h"
#include "sql/arena.h"

typedef struct mc2_plan mc2_plan;
typedef struct mc2_pexpr mc2_pexpr;
typedef struct mc2_pnode mc2_pnode;

/* ---- the plan container ------------------------------------------------------------------ */

/* A new, empty plan whose arena takes at most arena_limit bytes (0: no limit). */
mc2_plan *mc2_plan_new(size_t arena_limit, mc2_err *err);
/* Frees the plan and everything built in it (wiped: literals may be sensitive). */
void mc2_plan_free(mc2_plan *p);
/* The first builder error, or NULL if every builder so far succeeded. */
const mc2_err *mc2_plan_error(const mc2_plan *p);
/* The plan's arena (the planner may allocate its own scratch there). */
mc2_arena *mc2_plan_arena(mc2_plan *p);

/* ---- expressions ------------------------------------------------------------------------- */

enum mc2_px_kind {
    MC2_PX_COL = 1, /* column reference */
    MC2_PX_CONST,   /* literal (possibly NULL) */
    MC2_PX_ARITH,   /* op = enum mc2_px_arith */
    MC2_PX_CMP,     /* op = enum mc2_px_cmp; BOOL */
    MC2_PX_AND,     /* n-ary, 3-valued */
    MC2_PX_OR,      /* n-ary, 3-valued */
    MC2_PX_NOT,
    MC2_PX_IS_NULL, /* negated: IS NOT NULL; never NULL */
    MC2_PX_IN,      /* reserved: mc2_px_in builds OR-of-EQ (see below) */
    MC2_PX_LIKE,    /* args[0] LIKE constant pattern; negated: NOT LIKE */
    MC2_PX_CASE,    /* args = when1, then1, when2, then2, ..., else (always present) */
    MC2_PX_CAST,    /* args[0] to `type` */
    MC2_PX_FUNC     /* op = enum mc2_px_func */
};

enum mc2_px_arith { MC2_PX_ADD = 1, MC2_PX_SUB, MC2_PX_MUL, MC2_PX_DIV, MC2_PX_MOD, MC2_PX_NEG };
enum mc2_px_cmp { MC2_PX_EQ = 1, MC2_PX_NE, MC2_PX_LT, MC2_PX_LE, MC2_PX_GT, MC2_PX_GE };
/* The comparison with its operands swapped: a op b  <=>  b mc2_px_cmp_flip(op) a. */
static inline enum mc2_px_cmp mc2_px_cmp_flip(enum mc2_px_cmp op)
{
    switch (op) {
    case MC2_PX_LT:
        return MC2_PX_GT;
    case MC2_PX_LE:
        return MC2_PX_GE;
    case MC2_PX_GT:
        return MC2_PX_LT;
    case MC2_PX_GE:
        return MC2_PX_LE;
    default:
        return op;
    }
}
enum mc2_px_func {
    MC2_PF_SUBSTRING = 1, /* (s, start[, count]); 1-based, in code points, SQL rules */
    MC2_PF_UPPER,         /* (s) ASCII letters only; other code points unchanged */
    MC2_PF_LOWER,         /* (s) ditto */
    MC2_PF_LENGTH,        /* (s) code points, INT64 */
    MC2_PF_TRIM,          /* (s) or (s, chars); aux = enum mc2_px_trim */
    MC2_PF_CONCAT,        /* (a, b, ...) VARCHARs; NULL if any is NULL (SQL ||) */
    MC2_PF_EXTRACT,       /* (date); aux = enum mc2_px_unit; INT64 */
    MC2_PF_DATE_ADD, /* (date); aux = count, aux2 = enum mc2_px_unit; DATE (month ends clamp) */
    MC2_PF_COALESCE, /* (a, b, ...) same type */
    MC2_PF_NULLIF,   /* (a, b) */
    MC2_PF_ABS,      /* (x) numeric */
    MC2_PF_ROUND     /* (x); aux = digits (>= 0); half away from zero */
};
enum mc2_px_trim { MC2_PX_TRIM_BOTH = 0, MC2_PX_TRIM_LEADING, MC2_PX_TRIM_TRAILING };
enum mc2_px_unit { MC2_PX_DAY = 1, MC2_PX_MONTH, MC2_PX_YEAR };

/* A literal. VARCHAR bytes are copied into the plan's arena. */
typedef struct mc2_pvalue {
    bool null;
    int64_t i;     /* INT64, DECIMAL (scaled), DATE, BOOL; a DEC128 constant (NULL, or from a
                    * literal of at most 18 digits) is i sign-extended */
    double f;      /* DOUBLE */
    const char *s; /* VARCHAR */
    size_t slen;
} mc2_pvalue;

/* A typed expression node (read-only for the planner once built). */
struct mc2_pexpr {
    enum mc2_px_kind kind;
    int op;           /* arith / cmp / func */
    mc2_coltype type; /* result type */
    bool nullable;    /* false only if the result can never be NULL */
    bool negated;     /* IS NULL, IN, LIKE */
    unsigned col;     /* COL */
    mc2_pvalue val;   /* CONST; LIKE: the pattern in val.s; TRIM: chars in val.s (or NULL) */
    int64_t aux, aux2;
    int escape; /* LIKE: escape byte or -1 */
    mc2_pexpr **args;
    unsigned nargs;
    unsigned slot; /* executor's scratch index */
};

/* Column `idx` of the operator's input row, whose type and nullability the caller states
 * (checked when the expression is attached to an operator). */
mc2_pexpr *mc2_px_col(mc2_plan *p, unsigned idx, mc2_coltype type, bool nullable);
/* Literals. */
mc2_pexpr *mc2_px_int(mc2_plan *p, int64_t v);
mc2_pexpr *mc2_px_double(mc2_plan *p, double v); /* finite only */
/* DECIMAL(precision, scale) holding scaled, with |scaled| < 10^precision. */
mc2_pexpr *mc2_px_decimal(mc2_plan *p, int64_t scaled, unsigned precision, unsigned scale);
mc2_pexpr *mc2_px_str(mc2_plan *p, const char *s, size_t n); /* valid UTF-8 */
mc2_pexpr *mc2_px_date(mc2_plan *p, int32_t days);
mc2_pexpr *mc2_px_bool(mc2_plan *p, bool v);
mc2_pexpr *mc2_px_null(mc2_plan *p, mc2_coltype type);

/* a op b. Numeric operands only (INT64, DECIMAL, DOUBLE); the rules (docs/sql-exec.md):
 *   DOUBLE with anything            -> DOUBLE
 *   INT64 op INT64 (+ - * %)        -> INT64, overflow is an error
 *   DECIMAL involved (+ - %)        -> DECIMAL(18, max(s1, s2))   (INT64 counts as scale 0)
 *   DECIMAL involved (*)            -> DECIMAL(18, s1 + s2)        (s1 + s2 <= 18, else error)
 *   any exact / exact               -> DECIMAL(18, max(6, s1)), rounded half away from zero
 *                                      (divisor scale s2 <= 14); INT64 / INT64 included: never
 *                                      integer division
 *   x / 0, x % 0                    -> NULL (as SQLite and DuckDB)
 * MC2_PX_NEG takes b = NULL. */
mc2_pexpr *mc2_px_arith(mc2_plan *p, enum mc2_px_arith op, mc2_pexpr *a, mc2_pexpr *b);
/* a op b, BOOL, 3-valued (NULL if either side is NULL). Operands: both numeric (exact
 * types compared exactly after aligning DECIMAL scales; with a DOUBLE on either side, as
 * DOUBLE), both DATE, both VARCHAR (bytewise, as SQLite's BINARY collation), or both BOOL.
 * Anything else is "type mismatch: comparison of X and Y". */
mc2_pexpr *mc2_px_cmp(mc2_plan *p, enum mc2_px_cmp op, mc2_pexpr *a, mc2_pexpr *b);
/* AND / OR of n >= 1 BOOL operands (3-valued); NOT. */
mc2_pexpr *mc2_px_and(mc2_plan *p, mc2_pexpr *const *args, unsigned n);
mc2_pexpr *mc2_px_or(mc2_plan *p, mc2_pexpr *const *args, unsigned n);
mc2_pexpr *mc2_px_and2(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *b);
mc2_pexpr *mc2_px_or2(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *b);
mc2_pexpr *mc2_px_not(mc2_plan *p, mc2_pexpr *a);
mc2_pexpr *mc2_px_is_null(mc2_plan *p, mc2_pexpr *a, bool negated);
/* a [NOT] IN (items): TRUE if some item equals a; else NULL if a or some item is NULL; else
 * FALSE (NOT IN negates that). Items are any expressions comparable with a. */
mc2_pexpr *mc2_px_in(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *const *items, unsigned n, bool negated);
/* a [NOT] BETWEEN lo AND hi, built as (a >= lo AND a <= hi). */
mc2_pexpr *mc2_px_between(mc2_plan *p, mc2_pexpr *a, mc2_pexpr *lo, mc2_pexpr *hi, bool negated);
/* a [NOT] LIKE pattern: % any run, _ one code point, escape (a byte, or -1 for none) makes
 * the next character literal; case-sensitive. a is VARCHAR; the pattern is a constant (a
 * pattern ending in a lone escape is an error). */
mc2_pexpr *mc2_px_like(mc2_plan *p, mc2_pexpr *a, const char *pat, size_t n, int escape,
                       bool negated);
/* Searched CASE: whens[i] BOOL, thens[i] and else_ (NULL: ELSE NULL) of one type (DECIMALs
 * of different scales are widened; INT64 with DECIMAL becomes DECIMAL). */
mc2_pexpr *mc2_px_case(mc2_plan *p, mc2_pexpr *const *whens, mc2_pexpr *const *thens, unsigned n,
                       mc2_pexpr *else_);
/* CAST(a AS type). Numeric <-> numeric (to DECIMAL: rounds half away from zero, overflow is
 * an error), VARCHAR <-> anything (parsing errors are errors), DATE <-> VARCHAR,
 * BOOL <-> INT64. A VARCHAR(n) target truncates to n code points (like SQL's CAST). */
mc2_pexpr *mc2_px_cast(mc2_plan *p, mc2_pexpr *a, mc2_coltype type);
/* Functions: SUBSTRING, UPPER, LOWER, LENGTH, CONCAT, COALESCE, NULLIF, ABS by their args. */
mc2_pexpr *mc2_px_func(mc2_plan *p, enum mc2_px_func fn, mc2_pexpr *const *args, unsigned n);
/* TRIM(side [chars] FROM s); chars NULL = spaces. */
mc2_pexpr *mc2_px_trim(mc2_plan *p, mc2_pexpr *s, enum mc2_px_trim side, const char *chars,
                       size_t nchars);
mc2_pexpr *mc2_px_extract(mc2_plan *p, enum mc2_px_unit field, mc2_pexpr *date);
/* date + n units (n may be negative; DATE - INTERVAL is n negated). Adding months or years
 * clamps the day to the month's end (1998-01-31 + 1 month = 1998-02-28), as SQL does. */
mc2_pexpr *mc2_px_date_add(mc2_plan *p, mc2_pexpr *date, int64_t n, enum mc2_px_unit unit);
/* ROUND(x, digits): DECIMAL keeps its type with digits beyond `digits` zeroed (rounded half
 * away from zero); DOUBLE rounds as SQLite does; INT64 is returned unchanged. */
mc2_pexpr *mc2_px_round(mc2_plan *p, mc2_pexpr *x, unsigned digits);

/* Note: IN lists and BETWEEN are built from OR / AND of comparisons (exactly SQL's
 * three-valued semantics), so MC2_PX_IN never appears in a built plan; NULLIF is built as
 * CASE. Every expression kind costs one tight loop per chunk, never a call per value. */

/* ---- operators --------------------------------------------------------------------------- */

enum mc2_pn_kind {
    MC2_PN_SCAN = 1, /* an input table, some of its columns */
    MC2_PN_VALUES,   /* constant rows */
    MC2_PN_FILTER,
    MC2_PN_PROJECT,
    MC2_PN_HASH_JOIN,
    MC2_PN_NL_JOIN,
    MC2_PN_AGG,   /* hash aggregation (also DISTINCT: all columns as keys, no aggregates) */
    MC2_PN_SORT,  /* external merge sort on normalized keys */
    MC2_PN_LIMIT, /* LIMIT / OFFSET */
    MC2_PN_SETOP  /* UNION [ALL], INTERSECT [ALL], EXCEPT [ALL] */
};

enum mc2_join_type {
    MC2_JOIN_INNER = 1,
    MC2_JOIN_LEFT,  /* unmatched left rows with NULL right columns */
    MC2_JOIN_RIGHT, /* unmatched right rows with NULL left columns */
    MC2_JOIN_FULL,
    MC2_JOIN_SEMI, /* left rows with at least one match; output = left columns only */
    MC2_JOIN_ANTI  /* left rows without a match; output = left columns only */
};

enum mc2_agg_fn {
    MC2_AGG_COUNT_STAR = 1, /* col ignored; INT64, never NULL */
    MC2_AGG_COUNT,          /* non-NULL values; INT64, never NULL */
    MC2_AGG_SUM, /* INT64 -> INT64, DECIMAL(p,s) -> DECIMAL(18,s), DOUBLE; NULL if no input */
    MC2_AGG_AVG, /* INT64 -> DOUBLE; DECIMAL(p,s) -> DECIMAL(18, max(6,s)) exact-rounded;
                    DOUBLE -> DOUBLE */
    MC2_AGG_MIN, /* any type; NULL if no non-NULL input */
    MC2_AGG_MAX
};

/* One aggregate: fn over child column `col`; distinct = over distinct non-NULL values
 * (COUNT(DISTINCT x), SUM(DISTINCT x), ...). */
typedef struct mc2_pagg {
    enum mc2_agg_fn fn;
    unsigned col;
    bool distinct;
    const char *name; /* output column name (copied); NULL: "agg<i>" */
} mc2_pagg;

/* One sort key: child column, direction, where NULLs go (NULLs compare equal to each other). */
typedef struct mc2_psort {
    unsigned col;
    bool desc;
    bool nulls_first;
} mc2_psort;

enum mc2_setop { MC2_SETOP_UNION = 1, MC2_SETOP_INTERSECT, MC2_SETOP_EXCEPT };

/* Output schema of any node: ncols columns with names, types, nullability. Valid as long
 * as the plan; usable as the schema of result batches. */
const mc2_schema *mc2_pn_schema(const mc2_pnode *n);

/* Scans input number `input` (an index into the inputs given to mc2_exec_open) whose schema
 * is s (the input must have exactly this schema, checked at open), producing columns
 * cols[0..ncols) of it in that order (projection). */
mc2_pnode *mc2_pn_scan(mc2_plan *p, unsigned input, const mc2_schema *s, const unsigned *cols,
                       size_t ncols);
/* nrows rows of ncols constant expressions (cells row-major). Column types come from the
 * first non-NULL cell of each column; every other cell must have that type (the planner
 * casts). names may be NULL. nrows may be 0 only with types given: use mc2_pn_empty. */
mc2_pnode *mc2_pn_values(mc2_plan *p, mc2_pexpr *const *cells, size_t nrows, size_t ncols,
                         const char *const *names);
/* Zero rows of the given schema (e.g. a WHERE FALSE the planner folded). */
mc2_pnode *mc2_pn_empty(mc2_plan *p, const mc2_schema *s);
/* Rows of child for which pred (BOOL) is TRUE (not FALSE, not NULL). */
mc2_pnode *mc2_pn_filter(mc2_plan *p, mc2_pnode *child, mc2_pexpr *pred);
/* One output column per expression; names may be NULL (then "c<i>"). */
mc2_pnode *mc2_pn_project(mc2_plan *p, mc2_pnode *child, mc2_pexpr *const *exprs, size_t n,
                          const char *const *names);
/* Equi-join on left.lkeys[i] = right.rkeys[i] (pairs of identical types; DECIMAL scales
 * equal: the planner casts), plus an optional residual condition over (left ++ right)
 * columns that must also be TRUE for a match. NULL keys never match. The right child is the
 * BUILD side (held in memory and counted toward the budget; beyond it, both sides go to
 * sealed partitions: a grace hash join), so the planner puts the smaller input on the right;
 * the left one is streamed (mc2_pn_join_set_build_outer swaps the roles for SEMI/ANTI).
 * null_aware (ANTI only, one key, no residual): NOT IN semantics - if the right side has a
 * NULL key no row is output, a left row with a NULL key is output only if the right side is
 * empty. Output: left columns then right columns (SEMI/ANTI: left columns only). */
mc2_pnode *mc2_pn_hash_join(mc2_plan *p, enum mc2_join_type type, mc2_pnode *left, mc2_pnode *right,
                            const unsigned *lkeys, const unsigned *rkeys, size_t nkeys,
                            mc2_pexpr *residual, bool null_aware);
/* Marks hash join n (from mc2_pn_hash_join; INNER, LEFT or RIGHT) as a join on keys that
 * are unique on one side, unique_side 1 = left, 2 = right: the planner knows that side's
 * rows with no NULL key have distinct keys (a declared primary key, GROUP BY or DISTINCT
 * keys; docs/sql.md, "Join order"). Encryption mode ignores it; oblivious mode then runs the
 * PK-FK join (src/obliv/op.h), which fails the job with MC2_E_INPUT if a key repeats after
 * all (data that breaks its declared key). NULL n is a no-op. */
void mc2_pn_join_set_unique(mc2_pnode *n, int unique_side);
/* Makes SEMI or ANTI hash join n (with keys) build its table on the LEFT (outer, output) side
 * and probe it with the right (subquery) side: every probe row marks the build rows it
 * matches (key equal, residual TRUE), and the marked rows (SEMI) or the unmarked ones (ANTI,
 * with null_aware's NOT IN rules) are output once the right side is exhausted. The planner
 * sets it when the outer side is estimated much smaller; the result is the same join (rows
 * come out in the left side's order, after the right side was read). The probe side may run
 * on several threads; the build side spills like any build side. Oblivious mode ignores it.
 * NULL n, or any other join, is a no-op. */
void mc2_pn_join_set_build_outer(mc2_pnode *n, bool on);
/* Marks SEMI hash join n (with keys) as a prefilter: a join the planner added below a grouped
 * aggregate only to drop early the rows whose groups cannot match a join above (docs/sql-exec.md,
 * "Aggregate prefilter"), so that the query's result is the same with or without it. The
 * vectorized executor runs it as any semi join; oblivious mode runs only its left child (its
 * plans stay those without the prefilter: which groups survive is data-dependent, and the
 * oblivious operators would pay for the extra join in full). NULL n, or any other join, is a
 * no-op. */
void mc2_pn_join_set_prefilter(mc2_pnode *n, bool on);
/* Nested-loop join on an arbitrary BOOL condition over (left ++ right) columns (NULL: always
 * true, i.e. CROSS JOIN). All join types. The right child is held in memory. */
mc2_pnode *mc2_pn_nl_join(mc2_plan *p, enum mc2_join_type type, mc2_pnode *left, mc2_pnode *right,
                          mc2_pexpr *cond);
/* GROUP BY child columns keys[0..nkeys) (NULLs form one group) computing aggs. Output: the
 * keys, then one column per aggregate. With nkeys = 0 exactly one row is output, even for
 * an empty input (COUNT 0, others NULL). Spills (grace hash) beyond the memory budget. */
mc2_pnode *mc2_pn_agg(mc2_plan *p, mc2_pnode *child, const unsigned *keys, size_t nkeys,
                      const mc2_pagg *aggs, size_t naggs);
/* SELECT DISTINCT: an aggregation on every column with no aggregates. */
mc2_pnode *mc2_pn_distinct(mc2_plan *p, mc2_pnode *child);
/* Sorts child's rows by the keys (stable is not promised). Spills (external merge sort) beyond
 * the memory budget. */
mc2_pnode *mc2_pn_sort(mc2_plan *p, mc2_pnode *child, const mc2_psort *keys, size_t nkeys);
/* Skips `offset` rows then passes at most `limit` rows (limit < 0: no limit). */
mc2_pnode *mc2_pn_limit(mc2_plan *p, mc2_pnode *child, int64_t limit, int64_t offset);
/* Set operations; both children have the same column types (the planner casts); the output
 * takes the left child's names. Without `all`, duplicates are removed (NULLs are equal to
 * each other here, as SQL says for set operations). INTERSECT ALL gives min(l, r) copies,
 * EXCEPT ALL max(l - r, 0). */
mc2_pnode *mc2_pn_setop(mc2_plan *p, enum mc2_setop op, bool all, mc2_pnode *left,
                        mc2_pnode *right);

/* ---- execution --------------------------------------------------------------------------- */

/* A table the plan reads: either decrypted batches already in memory (batches[0..nbatches),
 * each of the scan's schema), or an encrypted table read block by block (reader). */
/* One input table: batches in memory, or an in-memory reader, or a streaming source (the
 * enclave's tables through the host: each scan of it reads, with read-ahead, only the blocks
 * and, in format v2, the columns it needs; an input scanned twice is read twice). */
typedef struct mc2_exec_input {
    const mc2_batch *const *batches;
    size_t nbatches;
    struct mc2_treader *reader;
    struct mc2_tsrc *src;
    /* src only: ranged = true reads only blocks [first_block, first_block + nblocks) (a rank's
     * share of a distributed query's input, sql/dist.h); false: every block. */
    bool ranged;
    uint64_t first_block, nblocks;
} mc2_exec_input;

/* Where spilled runs go. The executor seals every block with AES-256-GCM under a per-query
 * key (nonce = block id, AAD binds the id), so the store (the host, in the enclave) sees
 * only ciphertext; tampering, swapping or replaying blocks fails with MC2_E_AUTH. */
typedef struct mc2_spill_store {
    void *ctx;
    /* Stores bytes p[0..n) under a fresh id chosen by the executor. */
    int (*put)(void *ctx, uint64_t id, const uint8_t *p, size_t n, mc2_err *err);
    /* Returns the bytes stored under id in *p (valid until the next call on the store). */
    int (*get)(void *ctx, uint64_t id, const uint8_t **p, size_t *n, mc2_err *err);
    /* Forgets id (may be NULL). */
    void (*drop)(void *ctx, uint64_t id);
} mc2_spill_store;

/* A spill store in process memory (tests, and a host stand-in). */
mc2_spill_store *mc2_spill_memstore_new(mc2_err *err);
void mc2_spill_memstore_free(mc2_spill_store *s);
/* Bytes currently held and total bytes ever put. */
void mc2_spill_memstore_stats(const mc2_spill_store *s, size_t *held, uint64_t *total);

typedef struct mc2_exec_opts {
    size_t mem_budget;            /* bytes of operator state before spilling; 0: 1 GiB */
    const mc2_spill_store *spill; /* NULL: a sort, aggregation or set operation that would
                                     spill fails with MC2_E_LIMIT instead */
    size_t batch_rows;            /* rows per internal vector; 0: 2048 */
    unsigned threads;             /* threads for parallel pipelines (scans of streaming
                                     inputs and what streams above them); 0 or 1: one */
    bool read_all_blocks;         /* scans of streaming inputs read every block; false: a
                                     scan right below a filter skips the blocks whose sealed
                                     statistics the filter excludes (prune.h) */
} mc2_exec_opts;

typedef struct mc2_exec_stats {
    uint64_t spilled_bytes; /* sealed bytes written to the spill store */
    uint64_t spill_blocks;
    size_t peak_mem;          /* largest operator state held at once (bytes, approximate) */
    unsigned parallel;        /* pipelines run on several threads */
    unsigned spilled_joins;   /* joins whose build side went to partitions (grace hash join) */
    unsigned parallel_builds; /* join tables whose rows several threads gathered */

    /* Blocks of streaming inputs not read: their statistics showed that no row could pass the
     * filter right above the scan (prune.h). */
    uint64_t blocks_skipped;
} mc2_exec_stats;

typedef struct mc2_exec mc2_exec;

/* Prepares to run the plan rooted at root (built in p, with no builder error) over inputs
 * [0..ninputs). opts may be NULL. p and the inputs must outlive the executor. */
int mc2_exec_open(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                  const mc2_exec_opts *opts, mc2_exec **out, mc2_err *err) MC2_WUR;
/* Replaces out's rows (out's schema: mc2_pn_schema(root) or an equal one) with the next up to
 * out->cap result rows. Returns 1 with rows, 0 at the end, -1 on error. */
int mc2_exec_next(mc2_exec *x, mc2_batch *out, mc2_err *err) MC2_WUR;
/* Runs to the end and returns all rows in one new batch of the root's schema (at most
 * max_rows rows, else MC2_E_LIMIT). */
int mc2_exec_collect(mc2_exec *x, size_t max_rows, mc2_batch **out, mc2_err *err) MC2_WUR;
void mc2_exec_get_stats(const mc2_exec *x, mc2_exec_stats *st);
/* Frees the executor, wiping its state. NULL is a no-op. */
void mc2_exec_free(mc2_exec *x);

#endif
