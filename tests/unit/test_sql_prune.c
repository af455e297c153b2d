/* test_sql_prune.c - encryption-mode scans skip blocks by their sealed min/max statistics
 * (src/sql/prune.h, exec_prune.c):
 *   1. the conditions, on hand-set statistics: every comparison operator on every type with
 *      statistics, constants equal to min and max and one unit beyond, constants on either
 *      side, NOT / BETWEEN / IN / IS [NOT] NULL / AND / OR, DECIMAL constants of other scales,
 *      negative values, INT64 extremes, DOUBLE -0.0 / +0.0, infinities and NaN statistics,
 *      INT64 and DECIMAL compared as DOUBLE (the executor's rounding), missing statistics,
 *      and predicates that must give no condition (col + 1 > 5, ABS(col) = 3, col < col);
 *   2. the executor over a sealed table sorted by date, 50 blocks: WHERE d BETWEEN ... reads
 *      exactly the blocks that can match (the executor's count and the byte ranges the host
 *      served), on 1 and 3 threads, with the rows of a run that reads every block;
 *   3. random predicates over random blocks: skipping never changes a result, and does skip;
 *   4. oblivious mode reads every block of a table, whatever the filter. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mc2/table.h"
#include "sql/oexec.h"
#include "sql/plan.h"
#include "sql/planner.h"
#include "sql/prune.h"
#include "table/tfile2.h"
#include "table/tsrc.h"
#include "table/value.h"
#include "test.h"

/* ---- 1. the conditions ------------------------------------------------------------------- */

/* The table's columns; the scan reads them in reverse order, so scan column k is table column
 * NT - 1 - k (conditions must name table columns). */
enum { T_ID, T_X, T_D, T_B, T_F, T_S, T_I, NT };
static const mc2_coltype ctype[NT] = {{MC2_T_INT64, 0, 0, 0},  {MC2_T_DECIMAL, 15, 2, 0},
                                      {MC2_T_DATE, 0, 0, 0},   {MC2_T_BOOL, 0, 0, 0},
                                      {MC2_T_DOUBLE, 0, 0, 0}, {MC2_T_VARCHAR, 0, 0, 8},
                                      {MC2_T_INT64, 0, 0, 0}};
static const unsigned scan_cols[NT] = {6, 5, 4, 3, 2, 1, 0};

static mc2_plan *P;
static mc2_colstats st[NT];
static bool no_stats; /* the stats function finds none (format v1) */

static const mc2_colstats *get_stats(void *ctx, unsigned col)
{
    (void)ctx;
    return no_stats || col >= NT ? NULL : &st[col];
}

static mc2_pexpr *col(unsigned tcol)
{
    return mc2_px_col(P, NT - 1 - tcol, ctype[tcol], tcol != T_ID);
}

static void set_i(unsigned c, int64_t mn, int64_t mx, uint8_t extra)
{
    st[c] = (mc2_colstats){(uint8_t)(MC2_STATS_MINMAX | extra), mn, mx};
}

static void set_f(unsigned c, double mn, double mx, uint8_t extra)
{
    st[c].flags = (uint8_t)(MC2_STATS_MINMAX | extra);
    memcpy(&st[c].min, &mn, 8);
    memcpy(&st[c].max, &mx, 8);
}

/* A test evaluator: CAST of an INT64 literal to DECIMAL or DOUBLE; anything else fails. */
static int test_eval(void *ctx, const mc2_pexpr *e, mc2_pvalue *out)
{
    (void)ctx;
    if (e->kind != MC2_PX_CAST || e->args[0]->kind != MC2_PX_CONST ||
        e->args[0]->type.id != MC2_T_INT64 || e->args[0]->val.null)
        return -1;
    int64_t v = e->args[0]->val.i;
    if (e->type.id == MC2_T_DOUBLE) {
        out->f = (double)v;
        return 0;
    }
    if (e->type.id != MC2_T_DECIMAL || e->type.scale > 6) return -1;
    for (unsigned i = 0; i < e->type.scale; i++) v *= 10;
    out->i = v;
    return 0;
}

static mc2_arena A;
static char last_desc[256];

/* Builds pred's conditions (with the test evaluator if ev) and tests the block st describes:
 * 1 keep, 0 skip, -1 on a build failure. last_desc: the first condition's description. */
static int keep_ev(mc2_pexpr *pred, bool ev, size_t *nconds)
{
    mc2_err err;
    mc2_prune *pr;
    if (!pred) {
        fprintf(stderr, "builder: %s\n", mc2_plan_error(P) ? mc2_plan_error(P)->msg : "?");
        return -1;
    }
    if (mc2_prune_build(pred, scan_cols, NT, ev ? test_eval : NULL, NULL, &A, &pr, &err)) return -1;
    if (nconds) *nconds = mc2_prune_count(pr);
    mc2_prune_describe(pr, 0, last_desc, sizeof last_desc);
    return mc2_prune_keep(pr, get_stats, NULL) ? 1 : 0;
}

static int keep(mc2_pexpr *pred)
{
    return keep_ev(pred, false, NULL);
}

static mc2_pexpr *cmp(enum mc2_px_cmp op, mc2_pexpr *a, mc2_pexpr *b)
{
    return mc2_px_cmp(P, op, a, b);
}
static mc2_pexpr *ival(int64_t v)
{
    return mc2_px_int(P, v);
}
static mc2_pexpr *dec(int64_t scaled, unsigned scale)
{
    return mc2_px_decimal(P, scaled, 18, scale);
}
static mc2_pexpr *dbl(double v)
{
    return mc2_px_double(P, v);
}

#define K(pred) CHECK_MSG(keep(pred) == 1, "should keep: %s", #pred)
#define S(pred) CHECK_MSG(keep(pred) == 0, "should skip: %s", #pred)

static void test_int64(void)
{
    memset(st, 0, sizeof st);
    set_i(T_I, 10, 20, 0);
    mc2_pexpr *i = col(T_I);
    /* = at and beyond the ends */
    K(cmp(MC2_PX_EQ, i, ival(10)));
    K(cmp(MC2_PX_EQ, i, ival(20)));
    K(cmp(MC2_PX_EQ, i, ival(15)));
    S(cmp(MC2_PX_EQ, i, ival(9)));
    S(cmp(MC2_PX_EQ, i, ival(21)));
    /* < <= > >= */
    S(cmp(MC2_PX_LT, i, ival(10)));
    K(cmp(MC2_PX_LT, i, ival(11)));
    K(cmp(MC2_PX_LE, i, ival(10)));
    S(cmp(MC2_PX_LE, i, ival(9)));
    S(cmp(MC2_PX_GT, i, ival(20)));
    K(cmp(MC2_PX_GT, i, ival(19)));
    K(cmp(MC2_PX_GE, i, ival(20)));
    S(cmp(MC2_PX_GE, i, ival(21)));
    /* the constant on the left */
    S(cmp(MC2_PX_GT, ival(10), i)); /* i < 10 */
    K(cmp(MC2_PX_GE, ival(10), i));
    S(cmp(MC2_PX_LT, ival(20), i)); /* i > 20 */
    K(cmp(MC2_PX_LE, ival(20), i));
    /* <> */
    K(cmp(MC2_PX_NE, i, ival(15)));
    set_i(T_I, 15, 15, 0);
    S(cmp(MC2_PX_NE, i, ival(15)));
    S(cmp(MC2_PX_NE, ival(15), i));
    K(cmp(MC2_PX_NE, i, ival(14)));
    set_i(T_I, 10, 20, 0);
    /* NOT */
    K(mc2_px_not(P, cmp(MC2_PX_LT, i, ival(10))));
    S(mc2_px_not(P, cmp(MC2_PX_LE, i, ival(20))));
    S(mc2_px_not(P, mc2_px_not(P, cmp(MC2_PX_LT, i, ival(10)))));
    /* BETWEEN, NOT BETWEEN */
    S(mc2_px_between(P, i, ival(21), ival(30), false));
    K(mc2_px_between(P, i, ival(20), ival(30), false));
    S(mc2_px_between(P, i, ival(0), ival(9), false));
    K(mc2_px_between(P, i, ival(0), ival(10), false));
    S(mc2_px_between(P, i, ival(10), ival(20), true));
    K(mc2_px_between(P, i, ival(11), ival(20), true));
    K(mc2_px_between(P, i, ival(12), ival(18), true));
    /* IN, NOT IN */
    mc2_pexpr *l1[] = {ival(1), ival(5), ival(25)}, *l2[] = {ival(1), ival(20), ival(30)};
    S(mc2_px_in(P, i, l1, 3, false));
    K(mc2_px_in(P, i, l2, 3, false));
    set_i(T_I, 1, 2, 0);
    mc2_pexpr *l3[] = {ival(1), ival(2)};
    S(mc2_px_in(P, i, l3, 2, true));
    set_i(T_I, 1, 3, 0);
    K(mc2_px_in(P, i, l3, 2, true));
    /* OR on one column: a union */
    set_i(T_I, 4, 6, 0);
    mc2_pexpr *o = mc2_px_or2(P, mc2_px_between(P, i, ival(1), ival(3), false),
                              mc2_px_between(P, i, ival(7), ival(9), false));
    S(o);
    CHECK_MSG(strcmp(last_desc, "col 6 [1, 3] [7, 9]") == 0, "%s", last_desc);
    set_i(T_I, 3, 6, 0);
    K(o);
    set_i(T_I, 10, 20, 0);
    S(mc2_px_or2(P, cmp(MC2_PX_LT, i, ival(5)), cmp(MC2_PX_GT, i, ival(25))));
    K(mc2_px_or2(P, cmp(MC2_PX_LT, i, ival(5)), cmp(MC2_PX_GT, i, ival(15))));
    /* AND: a contradiction on one column, and another column's condition */
    S(mc2_px_and2(P, cmp(MC2_PX_GE, i, ival(15)), cmp(MC2_PX_LE, i, ival(12))));
    set_i(T_ID, 0, 99, 0);
    S(mc2_px_and2(P, cmp(MC2_PX_EQ, i, ival(15)), cmp(MC2_PX_EQ, col(T_ID), ival(1000))));
    K(mc2_px_and2(P, cmp(MC2_PX_EQ, i, ival(15)), cmp(MC2_PX_EQ, col(T_ID), ival(99))));
    /* OR of two columns: nothing */
    size_t n = 9;
    CHECK(keep_ev(mc2_px_or2(P, cmp(MC2_PX_LT, i, ival(5)), cmp(MC2_PX_GT, col(T_ID), ival(100))),
                  false, &n) == 1 &&
          n == 0);
    /* negative values */
    set_i(T_I, -20, -10, 0);
    S(cmp(MC2_PX_LT, i, ival(-20)));
    K(cmp(MC2_PX_LE, i, ival(-20)));
    K(cmp(MC2_PX_EQ, i, ival(-15)));
    S(cmp(MC2_PX_GT, i, ival(-10)));
    K(cmp(MC2_PX_GE, i, ival(-10)));
    /* the extremes of INT64 */
    set_i(T_I, INT64_MIN, INT64_MIN, 0);
    S(cmp(MC2_PX_LT, i, ival(INT64_MIN)));
    K(cmp(MC2_PX_LE, i, ival(INT64_MIN)));
    S(cmp(MC2_PX_NE, i, ival(INT64_MIN)));
    K(cmp(MC2_PX_NE, i, ival(INT64_MAX)));
    set_i(T_I, INT64_MAX, INT64_MAX, 0);
    S(cmp(MC2_PX_GT, i, ival(INT64_MAX)));
    K(cmp(MC2_PX_GE, i, ival(INT64_MAX)));
    /* a long IN list becomes its hull: still never wrong */
    mc2_pexpr *many[100];
    for (int k = 0; k < 100; k++) many[k] = ival(2 * k);
    set_i(T_I, 1, 1, 0);
    K(mc2_px_in(P, i, many, 100, false)); /* 1 is not in the list, but in its hull */
    set_i(T_I, 199, 300, 0);
    S(mc2_px_in(P, i, many, 100, false));
    set_i(T_I, 198, 300, 0);
    K(mc2_px_in(P, i, many, 100, false));
    /* 20,000 values: still a condition (a leaf costs no memory: deriving stays within its
     * bounded scratch); NOT IN that long keeps the block (the gaps become a hull) */
    enum { BIG = 20000 };
    mc2_pexpr **big = mc2_arena_array(&A, BIG, sizeof *big, NULL);
    CHECK(big != NULL);
    if (!big) return;
    for (int k = 0; k < BIG; k++) big[k] = ival(1000 + 2 * k);
    size_t n2 = 0;
    set_i(T_I, 10, 20, 0);
    CHECK(keep_ev(mc2_px_in(P, i, big, BIG, false), false, &n2) == 0 && n2 == 1);
    set_i(T_I, 1001, 1001, 0);
    CHECK(keep_ev(mc2_px_in(P, i, big, BIG, true), false, &n2) == 1 && n2 == 1);
    CHECK(keep_ev(mc2_px_in(P, i, big, 3, true), false, &n2) == 1 && n2 == 1);
    set_i(T_I, 1002, 1002, 0);
    CHECK(keep_ev(mc2_px_in(P, i, big, 3, true), false, &n2) == 0 && n2 == 1);
    /* an OR of 20,000 BETWEENs: each operand's set takes memory, deriving runs out of its
     * scratch and gives no condition (the block is kept) */
    for (int k = 0; k < BIG; k++)
        big[k] = mc2_px_between(P, i, ival(3 * k), ival(3 * k + 1), false);
    set_i(T_I, 2, 2, 0);
    CHECK(keep_ev(mc2_px_or(P, big, 3), false, &n2) == 0 && n2 == 1);
    CHECK(keep_ev(mc2_px_or(P, big, BIG), false, &n2) == 1 && n2 == 0);
}

static void test_nulls(void)
{
    memset(st, 0, sizeof st);
    mc2_pexpr *i = col(T_I);
    set_i(T_I, 10, 20, 0);
    S(mc2_px_is_null(P, i, false));
    K(mc2_px_is_null(P, i, true));
    S(mc2_px_not(P, mc2_px_is_null(P, i, true)));
    set_i(T_I, 10, 20, MC2_STATS_NULLS);
    K(mc2_px_is_null(P, i, false));
    K(mc2_px_is_null(P, i, true));
    /* every row NULL: no comparison is TRUE */
    st[T_I] = (mc2_colstats){MC2_STATS_NULLS | MC2_STATS_ALLNULL, 0, 0};
    K(mc2_px_is_null(P, i, false));
    S(mc2_px_is_null(P, i, true));
    S(cmp(MC2_PX_EQ, i, ival(0)));
    S(cmp(MC2_PX_NE, i, ival(0)));
    S(mc2_px_not(P, cmp(MC2_PX_EQ, i, ival(0))));
    /* i > 100 OR i IS NULL */
    mc2_pexpr *o = mc2_px_or2(P, cmp(MC2_PX_GT, i, ival(100)), mc2_px_is_null(P, i, false));
    K(o);
    set_i(T_I, 10, 20, 0);
    S(o);
    CHECK_MSG(strcmp(last_desc, "col 6 [101, inf] or NULL") == 0, "%s", last_desc);
    set_i(T_I, 10, 20, MC2_STATS_NULLS);
    K(o);
    /* a NULL constant: the comparison is never TRUE (nor is its negation) */
    S(cmp(MC2_PX_EQ, i, mc2_px_null(P, ctype[T_I])));
    S(mc2_px_not(P, cmp(MC2_PX_EQ, i, mc2_px_null(P, ctype[T_I]))));
    /* no MINMAX but some value not NULL (a writer that kept none): keep */
    st[T_I] = (mc2_colstats){MC2_STATS_NULLS, 0, 0};
    K(cmp(MC2_PX_EQ, i, ival(0)));
    st[T_I] = (mc2_colstats){0, 0, 0};
    K(cmp(MC2_PX_EQ, i, ival(0)));
    /* no statistics at all (format v1) */
    set_i(T_I, 10, 20, 0);
    no_stats = true;
    K(cmp(MC2_PX_EQ, i, ival(0)));
    no_stats = false;
    S(cmp(MC2_PX_EQ, i, ival(0)));
}

static void test_decimal(void)
{
    memset(st, 0, sizeof st);
    mc2_pexpr *x = col(T_X); /* DECIMAL(15,2) */
    set_i(T_X, 100, 250, 0); /* 1.00 .. 2.50 */
    K(cmp(MC2_PX_EQ, x, dec(100, 2)));
    K(cmp(MC2_PX_EQ, x, dec(250, 2)));
    S(cmp(MC2_PX_EQ, x, dec(251, 2)));
    S(cmp(MC2_PX_LT, x, dec(100, 2)));
    /* a finer constant: the column is cast to scale 3 */
    K(cmp(MC2_PX_GT, x, dec(995, 3)));
    CHECK_MSG(strcmp(last_desc, "col 1 [100, inf]") == 0, "%s", last_desc);
    K(cmp(MC2_PX_LT, x, dec(1005, 3))); /* x <= 1.00 */
    CHECK_MSG(strcmp(last_desc, "col 1 [-inf, 100]") == 0, "%s", last_desc);
    S(cmp(MC2_PX_EQ, x, dec(1005, 3))); /* no DECIMAL(15,2) equals 1.005 */
    CHECK_MSG(strcmp(last_desc, "col 1 none") == 0, "%s", last_desc);
    K(cmp(MC2_PX_NE, x, dec(1005, 3)));
    S(cmp(MC2_PX_GT, x, dec(2505, 3)));
    K(cmp(MC2_PX_GE, x, dec(2500, 3)));
    S(cmp(MC2_PX_GE, x, dec(2501, 3))); /* x >= 2.51 */
    S(cmp(MC2_PX_LE, x, dec(999, 3)));  /* x <= 0.99 */
    K(cmp(MC2_PX_LE, x, dec(1000, 3)));
    set_i(T_X, 101, 250, 0);
    S(cmp(MC2_PX_LT, x, dec(1005, 3)));
    S(cmp(MC2_PX_LE, x, dec(1009, 3)));
    K(cmp(MC2_PX_LE, x, dec(1010, 3)));
    /* a coarser constant: an INT64 literal, cast to DECIMAL(18,2) (needs an evaluator) */
    set_i(T_X, 100, 250, 0);
    size_t n = 9;
    CHECK(keep_ev(cmp(MC2_PX_GT, x, ival(2)), false, &n) == 1 && n == 0);
    CHECK(keep_ev(cmp(MC2_PX_GT, x, ival(2)), true, &n) == 1 && n == 1);
    CHECK(keep_ev(cmp(MC2_PX_GT, x, ival(3)), true, &n) == 0 && n == 1);
    CHECK(keep_ev(cmp(MC2_PX_LT, x, ival(1)), true, &n) == 0);
    CHECK(keep_ev(cmp(MC2_PX_LE, x, ival(1)), true, &n) == 1);
    /* negative values, finer constants: rounding goes the right way */
    set_i(T_X, -250, -100, 0);
    S(cmp(MC2_PX_LT, x, dec(-2505, 3))); /* x <= -2.51 */
    K(cmp(MC2_PX_LE, x, dec(-2495, 3))); /* x <= -2.50 */
    K(cmp(MC2_PX_GT, x, dec(-1005, 3))); /* x >= -1.00 */
    S(cmp(MC2_PX_GT, x, dec(-995, 3)));  /* x >= -0.99 */
    S(cmp(MC2_PX_EQ, x, dec(-1005, 3)));
    K(cmp(MC2_PX_EQ, x, dec(-1000, 3)));
    /* an INT64 column against a DECIMAL: cast to DECIMAL(18,1) */
    mc2_pexpr *i = col(T_I);
    set_i(T_I, 1, 2, 0);
    S(cmp(MC2_PX_GT, i, dec(25, 1)));
    K(cmp(MC2_PX_LT, i, dec(15, 1)));
    S(cmp(MC2_PX_LT, i, dec(10, 1)));
    set_i(T_I, 1, 3, 0);
    K(cmp(MC2_PX_GT, i, dec(25, 1)));
    /* DECIMAL against DOUBLE: compared as the executor's v / 10^s */
    set_i(T_X, 100, 250, 0);
    S(cmp(MC2_PX_GT, x, dbl(2.5)));
    K(cmp(MC2_PX_GE, x, dbl(2.5)));
    set_i(T_X, 10, 10, 0);
    K(cmp(MC2_PX_EQ, x, dbl(0.1))); /* 10 / 100.0 == 0.1 */
}

static void test_date_bool(void)
{
    memset(st, 0, sizeof st);
    mc2_pexpr *d = col(T_D);
    set_i(T_D, 1000, 1100, 0);
    S(cmp(MC2_PX_LT, d, mc2_px_date(P, 1000)));
    K(cmp(MC2_PX_LE, d, mc2_px_date(P, 1000)));
    S(mc2_px_between(P, d, mc2_px_date(P, 1101), mc2_px_date(P, 2000), false));
    K(mc2_px_between(P, d, mc2_px_date(P, 1100), mc2_px_date(P, 2000), false));
    S(cmp(MC2_PX_GT, d, mc2_px_date(P, 1100)));
    /* DATE '...' + INTERVAL: a constant only to an evaluator (this one fails: no condition) */
    size_t n = 9;
    CHECK(keep_ev(cmp(MC2_PX_GT, d, mc2_px_date_add(P, mc2_px_date(P, 1100), 1, MC2_PX_DAY)), true,
                  &n) == 1 &&
          n == 0);

    mc2_pexpr *b = col(T_B);
    set_i(T_B, 1, 1, 0); /* every row TRUE */
    K(b);
    S(mc2_px_not(P, b));
    S(cmp(MC2_PX_EQ, b, mc2_px_bool(P, false)));
    S(cmp(MC2_PX_NE, b, mc2_px_bool(P, true)));
    K(cmp(MC2_PX_EQ, b, mc2_px_bool(P, true)));
    set_i(T_B, 0, 0, 0);
    S(b);
    K(mc2_px_not(P, b));
    set_i(T_B, 0, 1, 0);
    K(b);
    K(mc2_px_not(P, b));
}

static void test_double(void)
{
    memset(st, 0, sizeof st);
    mc2_pexpr *f = col(T_F);
    set_f(T_F, -1.5, 2.5, 0);
    S(cmp(MC2_PX_GT, f, dbl(2.5)));
    K(cmp(MC2_PX_GE, f, dbl(2.5)));
    S(cmp(MC2_PX_LT, f, dbl(-1.5)));
    K(cmp(MC2_PX_LE, f, dbl(-1.5)));
    K(cmp(MC2_PX_EQ, f, dbl(0)));
    S(cmp(MC2_PX_EQ, f, dbl(2.5000000000000004)));
    S(mc2_px_between(P, f, dbl(2.6), dbl(3), false));
    /* an INT64 literal against a DOUBLE column: CAST (evaluated) */
    size_t n = 9;
    CHECK(keep_ev(cmp(MC2_PX_GT, f, ival(2)), true, &n) == 1 && n == 1);
    CHECK(keep_ev(cmp(MC2_PX_GT, f, ival(3)), true, &n) == 0 && n == 1);
    /* -0.0 and +0.0 are equal */
    set_f(T_F, 0.0, 0.0, 0);
    S(cmp(MC2_PX_LT, f, dbl(0)));
    K(cmp(MC2_PX_LE, f, dbl(-0.0)));
    K(cmp(MC2_PX_EQ, f, dbl(-0.0)));
    S(cmp(MC2_PX_GT, f, dbl(-0.0)));
    S(cmp(MC2_PX_NE, f, dbl(-0.0)));
    S(cmp(MC2_PX_NE, f, dbl(0.0)));
    set_f(T_F, -0.0, -0.0, 0);
    K(cmp(MC2_PX_GE, f, dbl(0.0)));
    K(cmp(MC2_PX_EQ, f, dbl(0.0)));
    S(cmp(MC2_PX_LT, f, dbl(0.0)));
    S(mc2_px_and2(P, cmp(MC2_PX_GT, f, dbl(0.0)), cmp(MC2_PX_LE, f, dbl(-0.0))));
    /* infinities in the statistics */
    set_f(T_F, -INFINITY, INFINITY, 0);
    K(cmp(MC2_PX_GT, f, dbl(1e308)));
    K(cmp(MC2_PX_LT, f, dbl(-1e308)));
    set_f(T_F, INFINITY, INFINITY, 0);
    K(cmp(MC2_PX_GT, f, dbl(1e308)));
    S(cmp(MC2_PX_LT, f, dbl(1e308)));
    set_f(T_F, -INFINITY, -1e308, 0);
    S(cmp(MC2_PX_GT, f, dbl(-1e308)));
    K(cmp(MC2_PX_LT, f, dbl(-1e300)));
    /* NaN statistics (never written): keep */
    set_f(T_F, NAN, NAN, 0);
    K(cmp(MC2_PX_EQ, f, dbl(1)));
    set_f(T_F, 0, NAN, 0);
    K(cmp(MC2_PX_EQ, f, dbl(1)));
    /* INT64 against DOUBLE: (double)v, so 2^53 + 1 equals 2^53 as the executor says */
    mc2_pexpr *i = col(T_I);
    set_i(T_I, 3, 10, 0);
    S(cmp(MC2_PX_LT, i, dbl(2.5)));
    set_i(T_I, 2, 10, 0);
    K(cmp(MC2_PX_LT, i, dbl(2.5)));
    set_i(T_I, (1LL << 53) + 1, (1LL << 53) + 1, 0);
    K(cmp(MC2_PX_EQ, i, dbl(9007199254740992.0)));
    S(cmp(MC2_PX_LT, i, dbl(9007199254740992.0)));
}

static void test_no_condition(void)
{
    memset(st, 0, sizeof st);
    set_i(T_I, 10, 20, 0);
    set_i(T_ID, 10, 20, 0);
    mc2_pexpr *i = col(T_I);
    size_t n = 9;
    /* i + 1 > 50 is false on the whole block, but only a bare column is understood */
    CHECK(keep_ev(cmp(MC2_PX_GT, mc2_px_arith(P, MC2_PX_ADD, i, ival(1)), ival(50)), true, &n) ==
              1 &&
          n == 0);
    mc2_pexpr *a[] = {i};
    CHECK(keep_ev(cmp(MC2_PX_EQ, mc2_px_func(P, MC2_PF_ABS, a, 1), ival(50)), true, &n) == 1 &&
          n == 0);
    CHECK(keep_ev(cmp(MC2_PX_LT, i, col(T_ID)), true, &n) == 1 && n == 0);
    CHECK(keep_ev(cmp(MC2_PX_GT, mc2_px_cast(P, i, (mc2_coltype){MC2_T_VARCHAR, 0, 0, 20}),
                      mc2_px_str(P, "5", 1)),
                  true, &n) == 1 &&
          n == 0);
    CHECK(keep_ev(mc2_px_like(P, col(T_S), "a%", 2, -1, false), true, &n) == 1 && n == 0);
    CHECK(keep_ev(cmp(MC2_PX_EQ, col(T_S), mc2_px_str(P, "abc", 3)), true, &n) == 1 && n == 0);
    CHECK(keep_ev(mc2_px_bool(P, true), true, &n) == 1 && n == 0);
    CHECK(keep_ev(mc2_px_is_null(P, mc2_px_arith(P, MC2_PX_ADD, i, ival(1)), false), true, &n) ==
              1 &&
          n == 0);
    /* a CAST that rounds (DECIMAL to INT64) is not order-exact: nothing */
    set_i(T_X, 100, 250, 0);
    CHECK(keep_ev(cmp(MC2_PX_GT, mc2_px_cast(P, col(T_X), ctype[T_I]), ival(10)), true, &n) == 1 &&
          n == 0);
    /* deeper than the limit: nothing, and no crash */
    mc2_pexpr *e = cmp(MC2_PX_GT, i, ival(50));
    for (int k = 0; k < 600; k++) e = mc2_px_not(P, e);
    CHECK(keep_ev(e, true, &n) == 1 && n == 0);
    /* a condition on one operand of an AND is enough */
    CHECK(keep_ev(mc2_px_and2(P, cmp(MC2_PX_GT, mc2_px_arith(P, MC2_PX_ADD, i, ival(1)), ival(5)),
                              cmp(MC2_PX_GT, i, ival(50))),
                  true, &n) == 0 &&
          n == 1);
}

static void test_conditions(void)
{
    mc2_err err;
    P = mc2_plan_new(0, &err);
    mc2_arena_init(&A, 0);
    CHECK(P != NULL);
    if (!P) return;
    test_int64();
    test_nulls();
    test_decimal();
    test_date_bool();
    test_double();
    test_no_condition();
    CHECK_MSG(mc2_plan_error(P) == NULL, "%s", mc2_plan_error(P) ? mc2_plan_error(P)->msg : "");
    mc2_arena_free(&A);
    mc2_plan_free(P);
    P = NULL;
}

/* ---- sealed tables, runs, and what the host served ------------------------------------------ */

static uint8_t key[MC2_KEY_LEN] = {7, 7, 7, 1, 2, 3};
static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

/* fill(b, block) sets the rows of block `block` (b->nrows included). */
typedef void (*fill_fn)(mc2_batch *b, size_t block);

/* Seals nblocks blocks of schema s, filled by fill, into out (format 2, with statistics). */
static int seal(const mc2_schema *s, size_t nblocks, size_t rows, fill_fn fill, mc2_buf *out)
{
    mc2_err err;
    mc2_twriter *w = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (mc2_twriter_new(s, key, 0, sink, out, &w, &err)) goto out;
    for (size_t bi = 0; bi < nblocks; bi++) {
        mc2_batch_free(b);
        if (!(b = mc2_batch_new(s, rows, &err))) goto out;
        fill(b, bi);
        if (mc2_twriter_add(w, b, &err)) goto out;
    }
    rc = mc2_twriter_finish(w, NULL, NULL, &err);
out:
    if (rc) fprintf(stderr, "seal: %s\n", err.msg);
    mc2_batch_free(b);
    mc2_twriter_free(w);
    return rc;
}

static void put_str(mc2_batch *b, size_t c, size_t r, const char *str)
{
    size_t n = strlen(str);
    if (mc2_batch_reserve_chars(b, c, n, NULL)) abort();
    mc2_col *col = &b->cols[c];
    memcpy(col->data + col->off[r], str, n);
    col->off[r + 1] = col->off[r] + (uint32_t)n;
}

/* A memory source that records which blocks the reads it serves fall into (the host's view
 * of a scan). */
typedef struct spy {
    mc2_tio inner;
    const mc2_tsrc *src; /* set after open: blocks are located from here */
    bool touched[256];
    unsigned nreads;
} spy;

static int spy_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    spy *sp = ctx;
    if (sp->src) { /* reads after open: locate the block (chunks are block-major from 32) */
        const mc2_thdr *hd = mc2_tsrc_header(sp->src);
        unsigned all[16];
        size_t nc = hd->schema->ncols;
        for (unsigned c = 0; c < nc && c < 16; c++) all[c] = c;
        uint64_t at = MC2_T2_PREFIX_LEN;
        for (uint64_t b = 0; b < hd->block_count && b < 256; b++) {
            uint64_t end = at + mc2_tsrc_block_bytes(sp->src, b, all, nc);
            if (off >= at && off < end) sp->touched[b] = true;
            at = end;
        }
        __atomic_add_fetch(&sp->nreads, 1, __ATOMIC_RELAXED);
    }
    return sp->inner.begin(sp->inner.ctx, off, len, dst, h, err);
}
static int spy_end(void *ctx, void *h, mc2_err *err)
{
    spy *sp = ctx;
    return sp->inner.end(sp->inner.ctx, h, err);
}
static void spy_abandon(void *ctx, void *h)
{
    spy *sp = ctx;
    sp->inner.abandon(sp->inner.ctx, h);
}

static unsigned spy_count(const spy *sp)
{
    unsigned n = 0;
    for (size_t b = 0; b < 256; b++) n += sp->touched[b];
    return n;
}

/* One run of sql over the sealed table `file` (name tname, schema s): encryption mode on
 * `threads` threads (skipping unless read_all), or oblivious mode. *out: the result (its
 * schema lives in *plan: free the plan after it); *skipped: the executor's count; sp: the
 * blocks the source served. */
typedef struct run_opts {
    unsigned threads;
    bool read_all, oblivious;
} run_opts;

static int run(const mc2_buf *file, const mc2_schema *s, const char *tname, const char *sql,
               run_opts o, mc2_plan **plan, mc2_batch **out, uint64_t *skipped, spy *sp,
               mc2_err *err)
{
    memset(sp, 0, sizeof *sp);
    sp->inner = mc2_tio_mem(file->data, file->len);
    mc2_tio io = {sp, file->len, spy_begin, spy_end, spy_abandon};
    mc2_exec_input in = {0};
    mc2_exec *x = NULL;
    mc2_sql_physical ph;
    *out = NULL;
    *skipped = 0;
    mc2_plan *p = *plan = mc2_plan_new(0, err);
    int rc = p ? mc2_tsrc_open(&io, key, 1u << 30, &in.src, err) : -1;
    if (rc == 0) {
        sp->src = in.src;
        mc2_sql_table t = {tname, s, mc2_tsrc_header(in.src)->row_count};
        rc = mc2_sql_compile(sql, strlen(sql), &t, 1, p, &ph, err);
    }
    if (rc == 0 && o.oblivious) {
        mc2_oexec_opts oo = {0};
        rc = mc2_oexec_run(p, ph.root, &in, 1, &oo, (size_t)1 << 24, out, err);
    } else if (rc == 0) {
        mc2_exec_opts eo = {.threads = o.threads, .read_all_blocks = o.read_all};
        rc = mc2_exec_open(p, ph.root, &in, 1, &eo, &x, err);
        if (rc == 0) rc = mc2_exec_collect(x, (size_t)1 << 24, out, err);
        if (rc == 0) {
            mc2_exec_stats es;
            mc2_exec_get_stats(x, &es);
            *skipped = es.blocks_skipped;
        }
    }
    mc2_exec_free(x);
    mc2_tsrc_free(in.src);
    sp->src = NULL;
    return rc;
}

/* A result as text, one line per row (exact: the shortest DOUBLE that parses back). */
static void dump(const mc2_batch *b, mc2_buf *out)
{
    mc2_err err;
    char v[MC2_VALUE_TEXT_MAX];
    for (size_t r = 0; b && r < b->nrows; r++) {
        for (size_t c = 0; c < b->schema->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            const mc2_coltype *t = &b->schema->cols[c].type;
            if (col->nulls && col->nulls[r])
                snprintf(v, sizeof v, "NULL");
            else
                switch (t->id) {
                case MC2_T_INT64:
                    mc2_format_int64(col->v.i64[r], v);
                    break;
                case MC2_T_DECIMAL:
                    mc2_format_decimal(col->v.i64[r], t->scale, v);
                    break;
                case MC2_T_DEC128:
                    mc2_format_decimal128(col->v.i128[r], t->scale, v);
                    break;
                case MC2_T_DOUBLE:
                    mc2_format_double(col->v.f64[r], v);
                    break;
                case MC2_T_DATE:
                    mc2_format_date(col->v.i32[r], v);
                    break;
                case MC2_T_BOOL:
                    mc2_format_bool(col->v.b[r], v);
                    break;
                case MC2_T_VARCHAR:
                    snprintf(v, sizeof v, "%.*s", (int)(col->off[r + 1] - col->off[r]),
                             col->data + col->off[r]);
                    break;
                }
            if (mc2_buf_printf(out, &err, "%s%s", c ? "|" : "", v)) abort();
        }
        if (mc2_buf_puts(out, "\n", &err)) abort();
    }
    if (mc2_buf_append(out, "", 1, &err)) abort(); /* NUL-terminated */
}

/* ---- 2. the executor: a table sorted by date ------------------------------------------------ */

#define EV_BLOCKS 50
#define EV_ROWS   200
#define EV_D0     9131 /* 1995-01-01; block b holds D0 + 10b .. D0 + 10b + 9, 20 rows a day */

static mc2_column_def ev_cols[] = {{"id", {MC2_T_INT64, 0, 0, 0}, false},
                                   {"d", {MC2_T_DATE, 0, 0, 0}, false},
                                   {"v", {MC2_T_DECIMAL, 12, 2, 0}, true},
                                   {"note", {MC2_T_VARCHAR, 0, 0, 8}, false}};
static mc2_schema ev_schema = {.name = "ev", .ncols = 4, .cols = ev_cols};

static void ev_fill(mc2_batch *b, size_t block)
{
    static const char *notes[] = {"a", "bb", "ccc"};
    for (size_t r = 0; r < EV_ROWS; r++) {
        size_t id = block * EV_ROWS + r;
        b->cols[0].v.i64[r] = (int64_t)id;
        b->cols[1].v.i32[r] = (int32_t)(EV_D0 + 10 * block + r / 20);
        b->cols[2].nulls[r] = id % 13 == 0;
        b->cols[2].v.i64[r] = id % 13 == 0 ? 0 : (int64_t)(rnd() % 100000) - 20000;
        put_str(b, 3, r, notes[id % 3]);
    }
    b->nrows = EV_ROWS;
}

static char *date_text(int32_t days, char buf[MC2_VALUE_TEXT_MAX])
{
    mc2_format_date(days, buf);
    return buf;
}

/* Blocks first..last as a mask (first > last: none). */
static uint64_t blocks(int first, int last)
{
    uint64_t m = 0;
    for (int b = first; b <= last; b++) m |= 1ull << b;
    return m;
}

/* Runs sql with skipping (1 and 3 threads) and without: the same rows, want_skipped blocks
 * skipped, and the host served reads in exactly the blocks of mask `want` (if scans == 1: a
 * plan with more scans of the table reads the union). */
static void ev_case(const mc2_buf *file, const char *sql, unsigned scans, uint64_t want_skipped,
                    uint64_t want)
{
    mc2_err err;
    mc2_plan *p0 = NULL, *p1 = NULL;
    mc2_batch *r0 = NULL, *r1 = NULL;
    uint64_t sk0, sk1;
    spy sp0, sp1;
    mc2_buf t0 = {0}, t1 = {0};
    int rc =
        run(file, &ev_schema, "ev", sql, (run_opts){1, true, false}, &p0, &r0, &sk0, &sp0, &err);
    CHECK_MSG(rc == 0, "%s: %s", sql, err.msg);
    CHECK_MSG(sk0 == 0 && spy_count(&sp0) == EV_BLOCKS, "%s: read_all skipped %llu, read %u", sql,
              (unsigned long long)sk0, spy_count(&sp0));
    CHECK_MSG(r0 && (r0->nrows > 0 || want == 0), "%s: no rows", sql);
    dump(r0, &t0);
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        rc = run(file, &ev_schema, "ev", sql, (run_opts){threads, false, false}, &p1, &r1, &sk1,
                 &sp1, &err);
        CHECK_MSG(rc == 0, "%s: %s", sql, err.msg);
        dump(r1, &t1);
        CHECK_MSG(strcmp((char *)t0.data, (char *)t1.data) == 0,
                  "%s (%u threads): rows differ from a run that reads every block", sql, threads);
        CHECK_MSG(sk1 == want_skipped, "%s (%u threads): %llu blocks skipped, want %llu", sql,
                  threads, (unsigned long long)sk1, (unsigned long long)want_skipped);
        if (scans == 1) {
            bool ok = true;
            for (int b = 0; b < EV_BLOCKS; b++) ok &= sp1.touched[b] == ((want >> b) & 1);
            CHECK_MSG(ok,
                      "%s (%u threads): the host served reads in %u blocks, not in those "
                      "that can match",
                      sql, threads, spy_count(&sp1));
        }
        mc2_batch_free(r1);
        mc2_plan_free(p1);
        r1 = NULL;
        p1 = NULL;
        mc2_buf_free(&t1);
    }
    mc2_batch_free(r0);
    mc2_plan_free(p0);
    mc2_buf_free(&t0);
}

static void test_sorted_table(mc2_buf *file)
{
    char q[512], a[MC2_VALUE_TEXT_MAX], b[MC2_VALUE_TEXT_MAX], c[MC2_VALUE_TEXT_MAX],
        d[MC2_VALUE_TEXT_MAX];
    if (seal(&ev_schema, EV_BLOCKS, EV_ROWS, ev_fill, file)) {
        CHECK_MSG(false, "sealing the table failed");
        return;
    }
    /* blocks 10..14 */
    snprintf(q, sizeof q,
             "SELECT id, d, v FROM ev WHERE d BETWEEN DATE '%s' AND DATE '%s' ORDER BY id",
             date_text(EV_D0 + 105, a), date_text(EV_D0 + 142, b));
    ev_case(file, q, 1, EV_BLOCKS - 5, blocks(10, 14));
    /* a constant the executor folds (DATE + INTERVAL): block 20 */
    snprintf(q, sizeof q,
             "SELECT COUNT(*), SUM(v), MIN(note) FROM ev WHERE d >= DATE '%s' AND d < DATE '%s' + "
             "INTERVAL '10' DAY",
             date_text(EV_D0 + 200, a), date_text(EV_D0 + 200, b));
    ev_case(file, q, 1, EV_BLOCKS - 1, blocks(20, 20));
    /* IN: blocks 3 and 40 */
    snprintf(q, sizeof q, "SELECT id FROM ev WHERE d IN (DATE '%s', DATE '%s') ORDER BY id",
             date_text(EV_D0 + 35, a), date_text(EV_D0 + 409, b));
    ev_case(file, q, 1, EV_BLOCKS - 2, blocks(3, 3) | blocks(40, 40));
    /* nothing matches: every block skipped */
    snprintf(q, sizeof q, "SELECT id FROM ev WHERE d < DATE '%s' OR d > DATE '%s'",
             date_text(EV_D0, a), date_text(EV_D0 + 10 * EV_BLOCKS - 1, b));
    ev_case(file, q, 1, EV_BLOCKS, 0);
    /* the first and the last block, by their ends */
    snprintf(q, sizeof q, "SELECT id FROM ev WHERE d <= DATE '%s' ORDER BY id",
             date_text(EV_D0, a));
    ev_case(file, q, 1, EV_BLOCKS - 1, blocks(0, 0));
    snprintf(q, sizeof q, "SELECT id FROM ev WHERE d >= DATE '%s' ORDER BY id",
             date_text(EV_D0 + 10 * EV_BLOCKS - 1, a));
    ev_case(file, q, 1, EV_BLOCKS - 1, blocks(EV_BLOCKS - 1, EV_BLOCKS - 1));
    /* the ids are sorted too: a range of them */
    ev_case(file, "SELECT SUM(v) FROM ev WHERE id >= 2000 AND id < 2400", 1, EV_BLOCKS - 2,
            blocks(10, 11));
    /* a filter on a column that no block's range excludes: nothing skipped */
    ev_case(file, "SELECT COUNT(*) FROM ev WHERE id % 7 = 3", 1, 0, blocks(0, EV_BLOCKS - 1));
    ev_case(file, "SELECT COUNT(*) FROM ev WHERE v > 0", 1, 0, blocks(0, EV_BLOCKS - 1));
    /* a self-join: each scan skips by its own filter (2 + 2 blocks read) */
    snprintf(q, sizeof q,
             "SELECT COUNT(*), SUM(a.v) FROM ev a JOIN ev b ON a.id = b.id + 200 WHERE a.d BETWEEN "
             "DATE '%s' AND DATE '%s' AND b.d < DATE '%s' AND b.d >= DATE '%s'",
             date_text(EV_D0 + 100, a), date_text(EV_D0 + 119, b), date_text(EV_D0 + 110, c),
             date_text(EV_D0 + 90, d));
    ev_case(file, q, 2, 2 * (EV_BLOCKS - 2), 0);
}

/* ---- 3. random predicates over random blocks --------------------------------------------- */

#define RN_BLOCKS  40
#define RN_ROWS    64
#define RN_QUERIES 500

static mc2_column_def rn_cols[] = {
    {"id", {MC2_T_INT64, 0, 0, 0}, false}, {"i", {MC2_T_INT64, 0, 0, 0}, true},
    {"x", {MC2_T_DECIMAL, 9, 3, 0}, true}, {"d", {MC2_T_DATE, 0, 0, 0}, false},
    {"b", {MC2_T_BOOL, 0, 0, 0}, true},    {"f", {MC2_T_DOUBLE, 0, 0, 0}, true}};
static mc2_schema rn_schema = {.name = "r", .ncols = 6, .cols = rn_cols};
enum { R_ID, R_I, R_X, R_D, R_B, R_F, RN };
/* Every value of the table, for constants equal to real values (NULLs included as 0). */
static int64_t rn_val[RN][RN_BLOCKS * RN_ROWS];
static double rn_f[RN_BLOCKS * RN_ROWS];

/* Each block draws each column from its own narrow range (so that statistics tell blocks
 * apart); some blocks have NULLs, some only NULLs. */
static void rn_fill(mc2_batch *b, size_t block)
{
    static const double fs[] = {-0.0, 0.0, 0.25, -1.5, 3.0, 1e-300, -7.125, 0.1, 2.5};
    int64_t ci = (int64_t)(rnd() % 200) - 100, wi = 1 + (int64_t)(rnd() % 20);
    int64_t cx = (int64_t)(rnd() % 20000) - 10000, wx = 1 + (int64_t)(rnd() % 3000);
    unsigned fsel = (unsigned)(rnd() % 6), nullmode = (unsigned)(rnd() % 5);
    int32_t d0 = 9000 + (int32_t)(block * 7) + (int32_t)(rnd() % 5);
    for (size_t r = 0; r < RN_ROWS; r++) {
        size_t id = block * RN_ROWS + r;
        bool nul = nullmode == 0 ? true : nullmode == 1 ? rnd() % 4 == 0 : false;
        b->cols[R_ID].v.i64[r] = (int64_t)id;
        b->cols[R_I].v.i64[r] = nul ? 0 : ci + (int64_t)(rnd() % (uint64_t)wi);
        b->cols[R_I].nulls[r] = nul;
        nul = nullmode == 2 ? rnd() % 3 == 0 : nullmode == 0;
        b->cols[R_X].v.i64[r] = nul ? 0 : cx + (int64_t)(rnd() % (uint64_t)wx);
        b->cols[R_X].nulls[r] = nul;
        b->cols[R_D].v.i32[r] = d0 + (int32_t)(rnd() % 6);
        nul = nullmode == 3 && rnd() % 2;
        b->cols[R_B].v.b[r] = nul ? 0
                                  : (uint8_t)(block % 3 == 0   ? 1
                                              : block % 3 == 1 ? 0
                                                               : rnd() % 2);
        b->cols[R_B].nulls[r] = nul;
        nul = nullmode == 4 ? rnd() % 3 == 0 : nullmode == 0;
        double f = fs[(fsel + rnd() % 3) % 9] * (block % 2 ? 1 : 10);
        b->cols[R_F].v.f64[r] = nul ? 0 : f;
        b->cols[R_F].nulls[r] = nul;
        for (int c = 0; c < RN; c++)
            rn_val[c][id] = c == R_D   ? b->cols[c].v.i32[r]
                            : c == R_B ? b->cols[c].v.b[r]
                            : c == R_F ? 0 /* rn_f */
                                       : b->cols[c].v.i64[r];
        rn_f[id] = b->cols[R_F].v.f64[r];
    }
    b->nrows = RN_ROWS;
}

static const char *ops[] = {"=", "<>", "<", "<=", ">", ">="};

/* A constant for column c as SQL text: often a value of the table (boundaries), sometimes one
 * unit off, in various types and scales. */
static void rn_const(int c, char *buf, size_t len)
{
    size_t row = rnd() % (RN_BLOCKS * RN_ROWS);
    int64_t v = rn_val[c][row] + (int64_t)(rnd() % 3) - 1;
    char t[MC2_VALUE_TEXT_MAX];
    switch (c) {
    case R_ID:
    case R_I:
        switch (rnd() % 4) {
        case 0:
            snprintf(buf, len, "%lld.5", (long long)v); /* DECIMAL(.,1) */
            break;
        case 1:
            snprintf(buf, len, "%lld.0e0", (long long)v); /* DOUBLE */
            break;
        default:
            snprintf(buf, len, "%lld", (long long)v);
        }
        break;
    case R_X: { /* scale 3; constants of scale 0..4 and DOUBLE */
        unsigned k = (unsigned)(rnd() % 6);
        if (k == 5) {
            mc2_format_decimal(v, 3, t);
            snprintf(buf, len, "%se0", t);
        } else if (k == 4) {
            mc2_format_decimal(v * 10 + (int64_t)(rnd() % 3) - 1, 4, t);
            snprintf(buf, len, "%s", t);
        } else {
            mc2_format_decimal(v / mc2_pow10(3 - k), k, t);
            snprintf(buf, len, "%s", t);
        }
        break;
    }
    case R_D:
        if (rnd() % 4 == 0)
            snprintf(buf, len, "DATE '%s' + INTERVAL '%d' DAY", date_text((int32_t)v - 3, t), 3);
        else
            snprintf(buf, len, "DATE '%s'", date_text((int32_t)v, t));
        break;
    case R_B:
        snprintf(buf, len, "%s", rnd() % 2 ? "TRUE" : "FALSE");
        break;
    default: { /* f */
        double f = rn_f[row];
        if (rnd() % 5 == 0)
            snprintf(buf, len, "%lld", (long long)(int64_t)f + (int64_t)(rnd() % 3) - 1);
        else if (f == 0 && rnd() % 2)
            snprintf(buf, len, "%s0.0e0", signbit(f) ? "-" : "");
        else {
            mc2_format_double(f, t);
            snprintf(buf, len, "%s%s", t, strchr(t, 'e') || strchr(t, 'E') ? "" : "e0");
        }
    }
    }
}

static void rn_atom(mc2_buf *q)
{
    static const char *names[] = {"id", "i", "x", "d", "b", "f"};
    mc2_err err;
    char k1[96], k2[96], k3[96];
    int c = (int)(rnd() % RN);
    const char *n = names[c];
    int r = 0;
    rn_const(c, k1, sizeof k1);
    rn_const(c, k2, sizeof k2);
    rn_const(c, k3, sizeof k3);
    switch (rnd() % 10) {
    case 0:
        r = mc2_buf_printf(q, &err, "%s %sBETWEEN %s AND %s", n, rnd() % 4 ? "" : "NOT ", k1, k2);
        break;
    case 1:
        r = mc2_buf_printf(q, &err, "%s %sIN (%s, %s, %s)", n, rnd() % 4 ? "" : "NOT ", k1, k2, k3);
        break;
    case 2:
        r = mc2_buf_printf(q, &err, "%s IS %sNULL", n, rnd() % 2 ? "" : "NOT ");
        break;
    case 3:
        if (c == R_B)
            r = mc2_buf_printf(q, &err, "%sb", rnd() % 2 ? "" : "NOT ");
        else if (c == R_D)
            r = mc2_buf_printf(q, &err, "d + INTERVAL '1' DAY > %s", k1); /* no condition */
        else
            r = mc2_buf_printf(q, &err, "%s + 1 > %s", n, k1); /* no condition */
        break;
    case 4:
        r = mc2_buf_printf(q, &err, "%s %s %s", k1, ops[rnd() % 6], n);
        break;
    default:
        r = mc2_buf_printf(q, &err, "%s %s %s", n, ops[rnd() % 6], k1);
        break;
    }
    if (r) abort();
}

static void rn_pred(mc2_buf *q, int depth)
{
    mc2_err err;
    unsigned k = depth >= 3 ? 0 : (unsigned)(rnd() % 6);
    if (k < 3) {
        rn_atom(q);
        return;
    }
    if (k == 5) {
        if (mc2_buf_puts(q, "NOT (", &err)) abort();
        rn_pred(q, depth + 1);
        if (mc2_buf_puts(q, ")", &err)) abort();
        return;
    }
    if (mc2_buf_puts(q, "(", &err)) abort();
    rn_pred(q, depth + 1);
    if (mc2_buf_puts(q, k == 3 ? " AND " : " OR ", &err)) abort();
    rn_pred(q, depth + 1);
    if (mc2_buf_puts(q, ")", &err)) abort();
}

static void test_random(void)
{
    mc2_buf file = {0};
    if (seal(&rn_schema, RN_BLOCKS, RN_ROWS, rn_fill, &file)) {
        CHECK_MSG(false, "sealing the table failed");
        return;
    }
    uint64_t skipped = 0, nonempty = 0, failed = 0;
    for (int qi = 0; qi < RN_QUERIES; qi++) {
        mc2_err err;
        mc2_buf q = {0};
        if (mc2_buf_puts(&q, "SELECT id, i, x, d, b, f FROM r WHERE ", &err)) abort();
        rn_pred(&q, 0);
        if (mc2_buf_puts(&q, " ORDER BY id", &err) || mc2_buf_append(&q, "", 1, &err)) abort();
        const char *sql = (const char *)q.data;
        mc2_plan *p0 = NULL, *p1 = NULL;
        mc2_batch *r0 = NULL, *r1 = NULL;
        uint64_t sk0, sk1;
        spy sp;
        mc2_buf t0 = {0}, t1 = {0};
        int rc0 =
            run(&file, &rn_schema, "r", sql, (run_opts){1, true, false}, &p0, &r0, &sk0, &sp, &err);
        mc2_err err1;
        int rc1 = run(&file, &rn_schema, "r", sql, (run_opts){1 + (unsigned)(qi % 2), false, false},
                      &p1, &r1, &sk1, &sp, &err1);
        if (rc0) { /* an error (an overflow) reading every block: skipping may avoid it */
            failed++;
        } else {
            CHECK_MSG(rc1 == 0, "%s: %s", sql, err1.msg);
            dump(r0, &t0);
            dump(r1, &t1);
            CHECK_MSG(rc1 || strcmp((char *)t0.data, (char *)t1.data) == 0,
                      "%s: skipping changed the result (%zu rows, %zu with skipping)", sql,
                      r0->nrows, r1 ? r1->nrows : 0);
            CHECK_MSG(spy_count(&sp) + sk1 == RN_BLOCKS, "%s: %u blocks read, %llu skipped", sql,
                      spy_count(&sp), (unsigned long long)sk1);
            nonempty += r0->nrows > 0;
        }
        skipped += sk1;
        mc2_buf_free(&t0);
        mc2_buf_free(&t1);
        mc2_batch_free(r0);
        mc2_batch_free(r1);
        mc2_plan_free(p0);
        mc2_plan_free(p1);
        mc2_buf_free(&q);
    }
    printf("random predicates: %d queries (%llu with rows, %llu failing), %llu of %d blocks "
           "skipped\n",
           RN_QUERIES, (unsigned long long)nonempty, (unsigned long long)failed,
           (unsigned long long)skipped, RN_QUERIES * RN_BLOCKS);
    CHECK(skipped > RN_QUERIES * RN_BLOCKS / 10); /* it does skip */
    CHECK(nonempty > RN_QUERIES / 4);
    mc2_buf_free(&file);
}

/* ---- 4. oblivious mode reads every block -------------------------------------------------- */

static void test_oblivious(const mc2_buf *file)
{
    char q[512], a[MC2_VALUE_TEXT_MAX], b[MC2_VALUE_TEXT_MAX];
    snprintf(q, sizeof q, "SELECT id, d, v FROM ev WHERE d BETWEEN DATE '%s' AND DATE '%s'",
             date_text(EV_D0 + 105, a), date_text(EV_D0 + 142, b));
    const char *sqls[] = {q, "SELECT id FROM ev WHERE id < 0",
                          "SELECT COUNT(*) FROM ev WHERE v IS NULL AND id >= 9990"};
    for (size_t k = 0; k < sizeof sqls / sizeof *sqls; k++) {
        mc2_err err;
        mc2_plan *p0 = NULL, *p1 = NULL;
        mc2_batch *r0 = NULL, *r1 = NULL;
        uint64_t sk0, sk1;
        spy sp0, sp1;
        int rc = run(file, &ev_schema, "ev", sqls[k], (run_opts){1, false, true}, &p0, &r0, &sk0,
                     &sp0, &err);
        CHECK_MSG(rc == 0, "%s: %s", sqls[k], err.msg);
        CHECK_MSG(spy_count(&sp0) == EV_BLOCKS, "oblivious %s: the host served %u of %d blocks",
                  sqls[k], spy_count(&sp0), EV_BLOCKS);
        /* the same query in encryption mode skips (so the table does allow it) */
        rc = run(file, &ev_schema, "ev", sqls[k], (run_opts){1, false, false}, &p1, &r1, &sk1, &sp1,
                 &err);
        CHECK_MSG(rc == 0 && sk1 > 0 && spy_count(&sp1) < EV_BLOCKS, "encryption %s: %llu skipped",
                  sqls[k], (unsigned long long)sk1);
        CHECK(r0 && r1 && r0->nrows == r1->nrows);
        mc2_batch_free(r0);
        mc2_batch_free(r1);
        mc2_plan_free(p0);
        mc2_plan_free(p1);
    }
}

int main(void)
{
    mc2_buf ev = {0};
    test_conditions();
    test_sorted_table(&ev);
    test_oblivious(&ev);
    test_random();
    mc2_buf_free(&ev);
    return test_done("test_sql_prune");
}
