/* expr.h - a small constant-time expression evaluator over fixed-width rows (rows.h), for
 * the oblivious filter and projection.
 *
 * An expression is a postfix program (public: it comes from the query) run on a stack of
 * (value, null) pairs. Values are 64-bit words: INT64, DECIMAL (scaled integers: the
 * planner aligns scales with OX_MUL by a constant), DATE (days), BOOL (0/1), DOUBLE (the
 * IEEE bits, for the OX_F* instructions only). Every
 * instruction is evaluated with masks only; the program's control flow depends on the
 * program alone, never on a value.
 *
 * NULLs follow SQL: arithmetic and comparisons with a NULL operand give NULL; AND/OR use
 * three-valued logic (FALSE AND NULL = FALSE, TRUE OR NULL = TRUE); NOT NULL = NULL;
 * OX_ISNULL is never NULL; a CASE condition that is NULL selects the ELSE branch. A filter
 * keeps a row only if its predicate is TRUE (not NULL).
 *
 * Overflow: OX_ADD/OX_SUB/OX_MUL/OX_NEG detect int64 overflow without branching, and
 * OX_CHECK_DEC flags a magnitude >= 10^18 (DECIMAL's limit), OX_DIV a quotient beyond
 * int64, the DOUBLE ops a non-finite result, OX_ADD_MONTHS a date out of range; the flags
 * are ORed into a secret word the operator declassifies once per call (one bit: "an
 * overflow happened"), as encryption mode's error would reveal.
 *
 * No `/` or `%` on a secret (x86 `div` takes operand-dependent time): OX_DIV and OX_MOD use a
 * fixed 128-step shift-subtract loop, the calendar multiplies by reciprocals. DOUBLE
 * add/mul/div may be slower on subnormal operands: a micro-architectural effect outside
 * the threat model (docs/security.md, docs/obliv.md). */
#ifndef MC2_OBLIV_EXPR_H
#define MC2_OBLIV_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "obliv/rows.h"

enum obliv_xop {
    OX_COL = 1, /* push column `col` (not VARCHAR: its one word, DOUBLE's bits, and its null) */
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
    OX_STR_EQ,    /* VARCHAR column `col` = the constant string str (len bytes) -> BOOL */
    /* Exact division. Pops b, then a; pushes round_half_away_from_zero(a * k / b), the
     * product a * k taken in 128 bits. k > 0 is the planner's scale factor: for SQL's exact
     * `a / b` (expr_eval.c, MC2_PX_DIV; result scale rs = max(6, s1), s1 and s2 the
     * operands' scales, INT64 counting as scale 0) k must be 10^(rs - s1 + s2), i.e.
     * 10^(the plan node's aux); k = 1 with b = 10^j rounds a to j fewer digits (CAST,
     * ROUND). NULL if a or b is NULL or b == 0; overflow if the result does not fit int64
     * (encryption mode's DECIMAL limit is 10^18: follow with OX_CHECK_DEC to match it). */
    OX_DIV,
    OX_MOD, /* pops b, a: a % b, C's sign rule (the sign of a; a % -1 = 0); NULL if b == 0 */
    /* DOUBLE: values are the IEEE bits (OX_COL on a DOUBLE column pushes them). Results that
     * are not finite flag an overflow (encryption mode's "numeric overflow" error). */
    OX_FADD,
    OX_FSUB,
    OX_FMUL,
    OX_FDIV,  /* a / b; NULL if b is +-0.0 */
    OX_I2F,   /* int64 v -> (double)v / 10^k (k: the DECIMAL scale, 0..18), as CAST does */
    OX_F2ORD, /* DOUBLE bits -> int64 in numeric order (-0.0 and +0.0 equal), for OX_EQ..GE */
    /* DATE (day number since 1970-01-01) -> INT64, as EXTRACT. */
    OX_YEAR,
    OX_MONTH,
    OX_DAY,
    OX_ADD_MONTHS, /* DATE + k months (years: 12k), day clamped to the month's end; overflow
                      if the result leaves 0001-01-01 .. 9999-12-31 */
    OX_LIKE,       /* VARCHAR column `col` LIKE the compiled pattern `like` (k != 0: NOT LIKE) */
    OX_STR_CMP     /* VARCHAR column `col` <op> VARCHAR column `col2`, or the constant str/len if
                      str != NULL; op = k, 1..6 = EQ NE LT LE GT GE (enum mc2_px_cmp). Bytewise,
                      memcmp on the common prefix, then the shorter first (SQLite BINARY) */
};

/* A LIKE pattern compiled for OX_LIKE: a bitset NFA (like.c). Opaque. */
struct obliv_like;

struct obliv_xins {
    enum obliv_xop op;
    uint32_t col;    /* OX_COL, OX_STR_EQ, OX_LIKE, OX_STR_CMP */
    int64_t k;       /* OX_CONST, OX_ISNULL, OX_DIV, OX_I2F, OX_ADD_MONTHS, OX_LIKE, OX_STR_CMP */
    int isnull;      /* OX_CONST */
    const char *str; /* OX_STR_EQ, OX_STR_CMP (NULL: compare with col2) */
    uint32_t len;    /* OX_STR_EQ, OX_STR_CMP: bytes */
    uint32_t col2;   /* OX_STR_CMP */
    const struct obliv_like *like; /* OX_LIKE */
};

#define OBLIV_EXPR_STACK 16
#define OBLIV_LIKE_MAX   63 /* pattern positions (literal bytes and `_`) */

/* Compiles a LIKE pattern pat[0..n) with escape byte `escape` (-1: none), the semantics of
 * src/sql (mc2_px_like): `%` any run of bytes, `_` one UTF-8 code point, the escape makes the
 * next byte literal, literals compare bytewise (case-sensitive). The pattern is public.
 * Fails with MC2_E_LIMIT beyond OBLIV_LIKE_MAX positions, MC2_E_USAGE on a trailing escape.
 * The subject strings must be valid UTF-8 (the block decoder checks it). */
int obliv_like_compile(const char *pat, size_t n, int escape, struct obliv_like **out,
                       mc2_err *err) MC2_WUR;
void obliv_like_free(struct obliv_like *lk);
/* Runs the pattern over the padded bytes s[0..cap) of which the first len (secret, <= cap)
 * are the string: 1 if it matches, else 0. Constant time in s and len (every byte slot is
 * stepped; steps at or beyond len are masked). */
uint64_t obliv_like_match(const struct obliv_like *lk, const unsigned char *s, size_t cap,
                          uint64_t len);

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
