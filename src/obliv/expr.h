/* expr.h - a small constant-time expression evaluator over fixed-width rows (rows.h), for
 * the oblivious filter and projection.
 *
 * An expression is a postfix program (public: it comes from the query) run on a stack of
 * (value, null) pairs. Values are int64 words: INT64, DECIMAL (scaled integers: the
 * planner aligns scales with OX_MUL by a constant), DATE (days), BOOL (0/1). Every
 * instruction is evaluated with masks only; the program's control flow depends on the
 * program alone, never on a value.
 *
 * NULLs follow SQL: arithmetic and comparisons with a NULL operand give NULL; AND/OR use
 * three-valued logic (FALSE AND NULL = FALSE, TRUE OR NULL = TRUE); NOT NULL = NULL;
 * OX_ISNULL is never NULL; a CASE condition that is NULL selects the ELSE branch. A filter
 * keeps a row only if its predicate is TRUE (not NULL).
 *
 * Overflow: OX_ADD/OX_SUB/OX_MUL/OX_NEG detect int64 overflow without branching, and
 * OX_CHECK_DEC flags a magnitude >= 10^18 (DECIMAL's limit); the flags are ORed into a
 * secret word the operator declassifies once per call (one bit: "an overflow happened"),
 * as encryption mode's error would reveal. */
#ifndef MC2_OBLIV_EXPR_H
#define MC2_OBLIV_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "obliv/rows.h"

enum obliv_xop {
    OX_COL = 1, /* push column `col` (a non-VARCHAR column: its one word, and its null flag) */
    OX_CONST,   /* push k (null if isnull) */
    OX_EQ,
    OX_NE,
    OX_LT,
    OX_LE,
    OX_GT,
    OX_GE, /* signed int64 compare of the two top entries -> BOOL */
    OX_AND,
    OX_OR,
    OX_NOT,
    OX_ISNULL, /* -> BOOL, never NULL; k != 0: IS NOT NULL */
    OX_ADD,
    OX_SUB,
    OX_MUL,
    OX_NEG,
    OX_CHECK_DEC, /* flags overflow if |top| >= 10^18; value unchanged */
    OX_CASE,      /* pops else, then, cond; pushes cond TRUE ? then : else */
    OX_STR_EQ     /* VARCHAR column `col` = the constant string str (len bytes) -> BOOL */
};

struct obliv_xins {
    enum obliv_xop op;
    uint32_t col;    /* OX_COL, OX_STR_EQ */
    int64_t k;       /* OX_CONST, OX_ISNULL */
    int isnull;      /* OX_CONST */
    const char *str; /* OX_STR_EQ */
    uint32_t len;    /* OX_STR_EQ: bytes */
};

#define OBLIV_EXPR_STACK 16

struct obliv_expr {
    const struct obliv_xins *ins;
    size_t n;
};

/* Checks a program against a layout (column indices and types, stack depth and balance:
 * exactly one result). Public: done once per call. */
int obliv_expr_check(const struct obliv_expr *e, const struct obliv_layout *lay,
                     mc2_err *err) MC2_WUR;

/* Evaluates e on one row. *val, *isnull: the result (isnull 0 or 1). *overflow is ORed
 * with 1 if an arithmetic overflow happened (in a non-NULL operand). Constant time in the
 * row's contents. e must have passed obliv_expr_check. */
void obliv_expr_eval(const struct obliv_expr *e, const struct obliv_layout *lay,
                     const uint64_t *row, uint64_t *val, uint64_t *isnull, uint64_t *overflow);

#endif
