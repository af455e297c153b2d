/* probe_ops.c - drives the oblivious OPERATORS (src/obliv/op.h, rows.h, expr.h) for the
 * valgrind proofs, with the same command line as probe.c so that run_memcheck.sh and
 * run_trace.sh check it unchanged (docs/obliv.md, "How obliviousness is checked"):
 *
 *   probe_ops memcheck      every operator (both leakage policies) with its input rows --
 *                           every word: values, null flags, valid -- marked undefined; the
 *                           operators declassify only what the policy reveals (through
 *                           obliv_declassify, which the probe build tells memcheck about);
 *                           results are then checked. Must give ZERO memcheck errors.
 *   probe_ops leak-branch   control: a filter that branches on the predicate (the
 *                           encryption-mode way); memcheck MUST report it
 *   probe_ops leak-index    control: a group-by that counts groups in a table indexed by
 *                           the key (hash aggregation); memcheck MUST report it
 *   probe_ops leak-fastsort control: a join that sorts with the non-oblivious radix sort
 *   probe_ops trace         every operator on five inputs of the same public sizes and
 *                           different contents (selectivities, group counts, join fan-outs,
 *                           string lengths, dummy rows), OBLIV_PAD policy (bound = input
 *                           size), each call between two stores to a marker word; the
 *                           controls' regions must differ
 *   probe_ops trace-quick   three inputs per operator */
#include "obliv/ct.h"
#include "obliv/fastsort.h"
#include "obliv/op.h"
#include "obliv/rows.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <valgrind/memcheck.h>
#define PROBE_NAME "probe_ops"
#include "probe_util.h"

#define NMAX     96
#define VARIANTS 5

static size_t nrow = NMAX; /* rows per input: NMAX under memcheck, fewer under lackey */
static volatile uint64_t trace_mark, sink;
static const unsigned variant_order[VARIANTS] = {0, 1, 2, 3, 4};
static unsigned nvariants = VARIANTS;

/* Table A: k INT64, v INT64, d DECIMAL(12,2), s VARCHAR(3), nullable v and s.
 * Table B (join's fk side): k INT64, w INT64. */
static struct obliv_layout lay_a, lay_b;
static struct obliv_rows ra, rb, out;
static struct obliv_opts opts;

static void layouts(void)
{
    mc2_coltype ta[4] = {{.id = MC2_T_INT64},
                         {.id = MC2_T_INT64},
                         {.id = MC2_T_DECIMAL, .precision = 12, .scale = 2},
                         {.id = MC2_T_VARCHAR, .length = 3}};
    mc2_coltype tb[2] = {{.id = MC2_T_INT64}, {.id = MC2_T_INT64}};
    if (obliv_layout_init(&lay_a, ta, 4, NULL) || obliv_layout_init(&lay_b, tb, 2, NULL)) abort();
}

/* Key of row i under variant v: how many distinct keys / which rows pass a filter. */
static uint64_t key_for(unsigned v, size_t i)
{
    switch (v) {
    case 1:
        return 7; /* one group; filter keeps none (k < 5) */
    case 2:
        return i; /* all distinct; filter keeps five */
    case 3:
        return i % 3; /* three groups; filter keeps all */
    case 4:
        return (i & 1) ? 100 + i : i % 5; /* alternating */
    default:
        return rnd() % 10;
    }
}

static void fill_a(struct obliv_rows *r, unsigned v, size_t n)
{
    if (obliv_rows_alloc(r, &lay_a, n, NULL)) abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(r, i);
        w[OBLIV_W_VALID] = v == 4 ? (i % 7 != 3) : 1; /* variant 4 has dummy rows */
        uint64_t k = key_for(v, i);
        w[lay_a.col[0].word] = k;
        w[lay_a.col[1].word] = (v == 2 ? (uint64_t) - (int64_t)i : rnd() % 1000);
        w[lay_a.col[2].word] = rnd() % 100000;
        uint64_t len = (k + i) % 4;
        w[lay_a.col[3].word] = len;
        w[lay_a.col[3].word + 1] =
            0x616263646566ull & ((len * 8 >= 64) ? ~0ull : ((1ull << (len * 8)) - 1));
        uint64_t nulls = 0;
        if (v == 0 || v == 3) nulls = ((rnd() % 5 == 0) ? 2u : 0u) | ((rnd() % 6 == 0) ? 8u : 0u);
        if (nulls & 2) w[lay_a.col[1].word] = 0;
        if (nulls & 8) w[lay_a.col[3].word] = 0, w[lay_a.col[3].word + 1] = 0;
        w[OBLIV_W_NULLS] = nulls;
    }
}

/* fk side: keys by fan-out variant. */
static void fill_b(struct obliv_rows *r, unsigned v, size_t n)
{
    if (obliv_rows_alloc(r, &lay_b, n, NULL)) abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(r, i);
        w[OBLIV_W_VALID] = 1;
        uint64_t k = v == 1   ? 1000 + i /* no matches */
                     : v == 2 ? 0        /* all to one pk */
                     : v == 3 ? i % 4
                              : rnd() % (2 * n);
        w[lay_b.col[0].word] = k;
        w[lay_b.col[1].word] = rnd();
    }
}

/* The pk side: unique keys 0..n-1 (a permutation under some variants). */
static void fill_pk(struct obliv_rows *r, unsigned v, size_t n)
{
    fill_a(r, 2, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(r, i);
        w[lay_a.col[0].word] = v == 3 ? n - 1 - i : v == 4 ? (i * 7) % n * 2 : i;
        w[OBLIV_W_VALID] = v == 0 ? (i % 5 != 0) : 1;
    }
}

static void mark_secret(const struct obliv_rows *r)
{
    secret(r->w, r->n * r->lay.width * 8);
}
static void reveal_rows(const struct obliv_rows *r)
{
    reveal(r->w, r->n * r->lay.width * 8);
}

/* ---- the operator calls (one "case" = fill + run) ------------------------------------------ */

static const struct obliv_xins pred_ins[] = {
    {.op = OX_COL, .col = 0},
    {.op = OX_CONST, .k = 5},
    {.op = OX_LT},
    {.op = OX_COL, .col = 1},
    {.op = OX_CONST, .k = -1},
    {.op = OX_GT},
    {.op = OX_OR},
    {.op = OX_AND},
};
/* (k < 5) AND ((v > -1) OR <nothing>): written so the NULLs in v reach the 3-valued AND. */
static const struct obliv_xins pred2_ins[] = {
    {.op = OX_COL, .col = 0},
    {.op = OX_CONST, .k = 5},
    {.op = OX_LT},
    {.op = OX_COL, .col = 1},
    {.op = OX_CONST, .k = -1},
    {.op = OX_GT},
    {.op = OX_AND},
    {.op = OX_STR_EQ, .col = 3, .str = "ab", .len = 2},
    {.op = OX_NOT},
    {.op = OX_AND},
};
static const struct obliv_xins arith_ins[] = {
    {.op = OX_COL, .col = 2}, {.op = OX_COL, .col = 1}, {.op = OX_MUL},
    {.op = OX_CONST, .k = 3}, {.op = OX_SUB},           {.op = OX_CHECK_DEC},
    {.op = OX_COL, .col = 0}, {.op = OX_CONST, .k = 2}, {.op = OX_GE},
    {.op = OX_CONST, .k = 1}, {.op = OX_COL, .col = 1}, {.op = OX_NEG},
    {.op = OX_CASE},          {.op = OX_ADD},
};

static int run_filter(unsigned v)
{
    (void)v;
    struct obliv_expr e = {pred2_ins, sizeof pred2_ins / sizeof pred2_ins[0]};
    return obliv_filter(&ra, &e, &opts, NULL);
}
static int run_project(unsigned v)
{
    (void)v;
    struct obliv_proj items[3] = {
        {.col = 3},
        {.is_expr = 1,
         .expr = {arith_ins, sizeof arith_ins / sizeof arith_ins[0]},
         .type = {.id = MC2_T_DECIMAL, .precision = 18, .scale = 2}},
        {.is_expr = 1, .expr = {pred_ins, 7}, .type = {.id = MC2_T_BOOL}},
    };
    return obliv_project(&ra, items, 3, &out, NULL);
}
static int run_order(unsigned v)
{
    (void)v;
    struct obliv_sortkey k[3] = {{.col = 0}, {.col = 3, .desc = 1}, {.col = 1, .nulls_first = 1}};
    return obliv_order_by(&ra, k, 3, &opts, NULL);
}
static int run_limit(unsigned v)
{
    (void)v;
    struct obliv_sortkey k[1] = {{.col = 1, .desc = 1}};
    if (obliv_order_by(&ra, k, 1, &opts, NULL)) return -1;
    return obliv_limit(&ra, 3, nrow / 2, &opts, NULL);
}
static int run_group(unsigned v)
{
    (void)v;
    uint32_t keys[2] = {0, 3};
    struct obliv_agg aggs[6] = {{OA_COUNT_STAR, 0}, {OA_COUNT, 1}, {OA_SUM, 2},
                                {OA_MIN, 1},        {OA_MAX, 2},   {OA_AVG, 1}};
    return obliv_group_by(&ra, keys, 2, aggs, 6, &out, &opts, NULL);
}
/* One one-word key (the narrow-record path): k (1, n, 3, 10 groups, dummies), and v
 * (NULL keys in variants 0 and 3: the NULL group). */
static int run_group_k(unsigned v)
{
    (void)v;
    uint32_t keys[1] = {0};
    struct obliv_agg aggs[4] = {{OA_COUNT_STAR, 0}, {OA_SUM, 2}, {OA_MIN, 1}, {OA_AVG, 1}};
    return obliv_group_by(&ra, keys, 1, aggs, 4, &out, &opts, NULL);
}
static int run_group_v(unsigned v)
{
    (void)v;
    uint32_t keys[1] = {1};
    struct obliv_agg aggs[3] = {{OA_COUNT, 3}, {OA_MAX, 2}, {OA_SUM, 0}};
    return obliv_group_by(&ra, keys, 1, aggs, 3, &out, &opts, NULL);
}
static int run_global(unsigned v)
{
    (void)v;
    struct obliv_agg aggs[3] = {{OA_SUM, 1}, {OA_MAX, 0}, {OA_COUNT, 3}};
    return obliv_group_by(&ra, NULL, 0, aggs, 3, &out, &opts, NULL);
}
static int run_distinct(unsigned v)
{
    (void)v;
    struct obliv_proj items[2] = {{.col = 0}, {.col = 3}};
    struct obliv_rows p;
    if (obliv_project(&ra, items, 2, &p, NULL)) return -1;
    int rc = obliv_distinct(&p, &opts, NULL);
    out = p;
    return rc;
}
static int run_union(unsigned v)
{
    (void)v;
    struct obliv_proj items[1] = {{.col = 0}};
    struct obliv_rows p, q;
    if (obliv_project(&ra, items, 1, &p, NULL)) return -1;
    if (obliv_project(&ra, items, 1, &q, NULL)) return -1;
    struct obliv_opts o2 = opts;
    if (o2.leak == OBLIV_PAD) o2.bound = 2 * nrow;
    int rc = obliv_union(&p, &q, &o2, NULL);
    obliv_rows_free(&q);
    out = p;
    return rc;
}
static int run_pkfk(unsigned v)
{
    (void)v;
    return obliv_pkfk_join(&ra, &(uint32_t){0}, &rb, &(uint32_t){0}, 1, &out, &opts, NULL);
}

/* General equi-join: a (table A layout) x b (table B layout), nj rows each, fan-out by
 * variant: random keys in 0..9, no matches, 1:1, many:many (two groups), 1:many. */
static size_t nj;
static void fill_join(unsigned v)
{
    nj = tracing ? (nvariants == VARIANTS ? 12 : 8) : 48;
    fill_a(&ra, 2, nj);
    fill_b(&rb, 0, nj);
    for (size_t i = 0; i < nj; i++) {
        uint64_t *x = obliv_row(&ra, i), *y = obliv_row(&rb, i);
        uint64_t ka = v == 0 ? rnd() % 10 : v == 1 ? 2 * i : v == 2 ? i : v == 3 ? i % 2 : i;
        uint64_t kb = v == 0   ? rnd() % 10
                      : v == 1 ? 2 * i + 1
                      : v == 2 ? nj - 1 - i
                      : v == 3 ? i % 2
                               : i % 4;
        x[lay_a.col[0].word] = ka;
        y[lay_b.col[0].word] = kb;
    }
}
/* The join cases' second key column: k % 2 on both sides (so the fan-outs above stay). */
static void second_key(void)
{
    for (size_t i = 0; i < nj; i++) {
        uint64_t *x = obliv_row(&ra, i), *y = obliv_row(&rb, i);
        x[lay_a.col[1].word] = x[lay_a.col[0].word] % 2;
        y[lay_b.col[1].word] = y[lay_b.col[0].word] % 2;
    }
}
static const uint32_t jk_a[2] = {0, 1}, jk_b[2] = {0, 1};
static int run_equi(unsigned v)
{
    (void)v;
    struct obliv_opts o2 = opts;
    o2.bound = nj * nj / 2 + 8; /* >= every variant's output (many:many: nj^2 / 2) */
    second_key();
    return obliv_equi_join(&ra, jk_a, &rb, jk_b, 2, &out, &o2, NULL);
}

/* Semi / anti joins: the equi-join's inputs, plus per variant NULL keys and dummies: 1: one
 * b row with a NULL key (NOT IN: empty output); 2: b all dummies (NOT IN: every a row,
 * NULL keys too); 3: NULL keys on both sides; 0, 4: none. */
static void fill_semi(unsigned v)
{
    fill_join(v);
    second_key();
    for (size_t i = 0; i < nj; i++) {
        uint64_t *x = obliv_row(&ra, i), *y = obliv_row(&rb, i);
        if ((v == 1 && i == 3) || (v == 3 && i % 4 == 1))
            y[OBLIV_W_NULLS] = 1, y[lay_b.col[0].word] = 0;
        if (v == 2) y[OBLIV_W_VALID] = 0;
        if ((v == 3 && i % 3 == 0) || (v == 2 && i == 5))
            x[OBLIV_W_NULLS] |= 1, x[lay_a.col[0].word] = 0;
        if (v == 4 && i % 5 == 2) x[OBLIV_W_VALID] = 0;
    }
}
static int run_semi(unsigned v)
{
    (void)v;
    return obliv_semi_join(&ra, jk_a, &rb, jk_b, 2, 0, 0, &out, &opts, NULL);
}
static int run_anti(unsigned v)
{
    (void)v;
    return obliv_semi_join(&ra, jk_a, &rb, jk_b, 1, 1, 0, &out, &opts, NULL);
}
static int run_anti_null(unsigned v)
{
    (void)v;
    return obliv_semi_join(&ra, jk_a, &rb, jk_b, 1, 1, 1, &out, &opts, NULL);
}
/* Cross join with a.k < b.k (column 4 of the pair: b's k) AND b.w is not NULL. */
static const struct obliv_xins cross_ins[] = {
    {.op = OX_COL, .col = 0}, {.op = OX_COL, .col = 4},  {.op = OX_LT},
    {.op = OX_COL, .col = 5}, {.op = OX_ISNULL, .k = 1}, {.op = OX_AND},
};
static int run_cross(unsigned v)
{
    (void)v;
    struct obliv_opts o2 = opts;
    o2.bound = nj * nj;
    return obliv_cross_join(&ra, &rb, &(struct obliv_expr){cross_ins, 6}, &out, &o2, NULL);
}

/* SUBSTRING: column s (VARCHAR(3), 16 padded bytes) rewritten with UTF-8 of 1- to 4-byte
 * code points, per variant: 0 random mix, 1 ASCII "abc", 2 three 4-byte code points (12
 * bytes), 3 empty, 4 alternating 2-byte / 3-byte code points, with NULLs (variants 0, 3). */
static const char *const cps[4] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
static void fill_substr(unsigned v, size_t n)
{
    fill_a(&ra, v, n);
    const struct obliv_col *c = &lay_a.col[3];
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(&ra, i);
        unsigned char b[16] = {0};
        size_t len = 0, ncp = v == 3 ? 0 : v == 0 ? rnd() % 4 : 3;
        for (size_t k = 0; k < ncp; k++) {
            size_t which = v == 0 ? rnd() % 4 : v == 1 ? 0 : v == 2 ? 3 : 1 + (i + k) % 2;
            size_t l = strlen(cps[which]);
            memcpy(b + len, cps[which], l);
            len += l;
        }
        if ((w[OBLIV_W_NULLS] >> 3) & 1) len = 0, memset(b, 0, sizeof b);
        w[c->word] = len;
        memcpy(w + c->word + 1, b, 16);
    }
}
static int run_substr(unsigned v)
{
    (void)v;
    struct obliv_proj items[3] = {
        {.kind = OBLIV_PROJ_SUBSTR,
         .col = 3,
         .start = 2,
         .count = 1,
         .type = {.id = MC2_T_VARCHAR, .length = 1}},
        {.kind = OBLIV_PROJ_SUBSTR,
         .col = 3,
         .start = 1,
         .count = 2,
         .type = {.id = MC2_T_VARCHAR, .length = 2}},
        {.kind = OBLIV_PROJ_SUBSTR,
         .col = 3,
         .start = 2,
         .count = UINT32_MAX,
         .type = {.id = MC2_T_VARCHAR, .length = 3}},
    };
    return obliv_project(&ra, items, 3, &out, NULL);
}

/* Batch conversion: a hand-built mc2_batch (the struct is public; no table code needed). */
static mc2_column_def bdefs[3] = {
    {.name = "a", .type = {.id = MC2_T_DATE}, .nullable = true},
    {.name = "s", .type = {.id = MC2_T_VARCHAR, .length = 2}, .nullable = false},
    {.name = "f", .type = {.id = MC2_T_DOUBLE}, .nullable = false},
};
static mc2_schema bschema = {.name = NULL, .ncols = 3, .cols = bdefs};
static int32_t b_dates[NMAX];
static uint8_t b_nulls[NMAX];
static double b_f[NMAX];
static uint32_t b_off[NMAX + 1], b2_off[NMAX + 1];
static char b_data[NMAX * 8], b2_data[NMAX * 8];
static int32_t b2_dates[NMAX];
static uint8_t b2_nulls[NMAX];
static double b2_f[NMAX];
static mc2_col bcols[3], b2cols[3];
static mc2_batch batch = {.schema = &bschema, .cols = bcols},
                 batch2 = {.schema = &bschema, .cols = b2cols};

static void fill_batch(unsigned v, size_t n)
{
    uint32_t off = 0;
    b_off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        b_dates[i] = (int32_t)(rnd() % 20000) - 100;
        b_nulls[i] = (uint8_t)(v == 0 ? rnd() % 2 : v == 3);
        if (b_nulls[i]) b_dates[i] = 0;
        b_f[i] = (double)(int64_t)rnd() / 7.0;
        /* Lengths in pairs (l, 8 - l): the total, off[n], is public and the same for all. */
        uint32_t l = v == 1 ? 4 : v == 2 ? 0 : v == 3 ? (i < n / 2 ? 8 : 0) : (uint32_t)(rnd() % 9);
        static uint32_t prev;
        uint32_t len = (i & 1) && v != 3 ? 8 - prev : l;
        prev = l;
        for (uint32_t j = 0; j < len; j++) b_data[off + j] = (char)('a' + (rnd() % 26));
        off += len;
        b_off[i + 1] = off;
    }
    bcols[0] = (mc2_col){.nulls = b_nulls, .v.i32 = b_dates};
    bcols[1] = (mc2_col){.off = b_off, .data = b_data, .data_cap = sizeof b_data};
    bcols[2] = (mc2_col){.v.f64 = b_f};
    batch.nrows = batch.cap = n;
    b2cols[0] = (mc2_col){.nulls = b2_nulls, .v.i32 = b2_dates};
    b2cols[1] = (mc2_col){.off = b2_off, .data = b2_data, .data_cap = sizeof b2_data};
    b2cols[2] = (mc2_col){.v.f64 = b2_f};
    batch2.nrows = 0, batch2.cap = n;
}
static void batch_secret(size_t n)
{
    secret(b_dates, n * 4);
    secret(b_nulls, n);
    secret(b_f, n * 8);
    secret(b_off, n * 4); /* off[n], the total, is public: the block's size */
    secret(b_data, sizeof b_data);
}
static int run_batch(unsigned v)
{
    (void)v;
    if (obliv_rows_from_batch(&out, &batch, NULL)) return -1;
    return obliv_rows_to_batch(&out, &batch2, NULL);
}

static uint8_t ex_marks[NMAX * 2];
static uint64_t ex_recs[NMAX * 2], ex_scratch[NMAX * 2];
static void fill_expand(unsigned v, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        ex_marks[i] = (uint8_t)(v == 1 ? 0 : v == 2 ? 1 : v == 3 ? i & 1 : rnd() % 2);
        c += ex_marks[i] != 0;
    }
    for (size_t i = 0; i < n; i++) ex_recs[i] = i < c ? 1000 + i : 0;
}
static int run_expand(unsigned v)
{
    (void)v;
    sink = obliv_expand(ex_recs, nrow, 8, ex_marks, ex_scratch);
    return 0;
}

enum {
    IN_A = 1,
    IN_JOIN = 2,
    IN_PK = 3,
    IN_BATCH = 4,
    IN_EXPAND = 5,
    IN_HALF = 6,
    IN_SEMI = 7,
    IN_SUBSTR = 8
};

/* OBLIV_REVEAL: inputs whose revealed output size is the same (half the rows pass k < 5;
 * four groups) but whose contents differ: which rows pass, how big each group is. The
 * trace may depend on the revealed size only. */
static void fill_half(unsigned v, size_t n)
{
    fill_a(&ra, 0, n);
    size_t perm[NMAX];
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) { /* a random half for variant 0 */
        size_t j = rnd() % i, t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
    size_t rank = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(&ra, i);
        int pass = v == 0   ? perm[i] < n / 2
                   : v == 1 ? i < n / 2
                   : v == 2 ? i >= n / 2
                   : v == 3 ? (i & 1)
                            : ((i >> 1) & 1);
        /* k < 5 passes; the passing rows spread over the four groups 0..3 differently. */
        w[lay_a.col[0].word] = pass ? (v == 1 ? (rank < 3 ? rank : 3) : rank % 4) : 100 + i % 4;
        rank += pass != 0;
        w[OBLIV_W_VALID] = 1;
    }
}
static int run_filter_reveal(unsigned v)
{
    (void)v;
    struct obliv_expr e = {pred_ins, 3};
    struct obliv_opts o2 = {.leak = OBLIV_REVEAL, .threads = opts.threads};
    return obliv_filter(&ra, &e, &o2, NULL);
}
static int run_group_reveal(unsigned v)
{
    (void)v;
    uint32_t keys[1] = {0};
    struct obliv_agg aggs[2] = {{OA_COUNT_STAR, 0}, {OA_SUM, 1}};
    struct obliv_opts o2 = {.leak = OBLIV_REVEAL, .threads = opts.threads};
    if (obliv_filter(&ra, &(struct obliv_expr){pred_ins, 3}, &o2, NULL)) return -1;
    return obliv_group_by(&ra, keys, 1, aggs, 2, &out, &o2, NULL);
}
struct opcase {
    const char *name;
    int inputs;
    int (*run)(unsigned);
    int has_out;
};
static const struct opcase cases[] = {
    {"op-filter", IN_A, run_filter, 0},
    {"op-project", IN_A, run_project, 1},
    {"op-order-by", IN_A, run_order, 0},
    {"op-limit", IN_A, run_limit, 0},
    {"op-group-by", IN_A, run_group, 1},
    {"op-group-by-1key", IN_A, run_group_k, 1},
    {"op-group-by-nullkey", IN_A, run_group_v, 1},
    {"op-global-agg", IN_A, run_global, 1},
    {"op-distinct", IN_A, run_distinct, 1},
    {"op-union", IN_A, run_union, 1},
    {"op-pkfk-join", IN_PK, run_pkfk, 1},
    {"op-equi-join", IN_JOIN, run_equi, 1},
    {"op-semi-join", IN_SEMI, run_semi, 1},
    {"op-anti-join", IN_SEMI, run_anti, 1},
    {"op-anti-join-null-aware", IN_SEMI, run_anti_null, 1},
    {"op-cross-join", IN_SEMI, run_cross, 1},
    {"op-substring", IN_SUBSTR, run_substr, 1},
    {"op-batch-convert", IN_BATCH, run_batch, 1},
    {"op-expand", IN_EXPAND, run_expand, 0},
    {"op-filter-reveal", IN_HALF, run_filter_reveal, 0},
    {"op-filter-group-reveal", IN_HALF, run_group_reveal, 1},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void setup(const struct opcase *c, unsigned v)
{
    memset(&out, 0, sizeof out);
    switch (c->inputs) {
    case IN_A:
        fill_a(&ra, v, nrow);
        break;
    case IN_PK:
        fill_pk(&ra, v, nrow);
        fill_b(&rb, v, nrow);
        break;
    case IN_HALF:
        fill_half(v, nrow);
        break;
    case IN_JOIN:
        fill_join(v);
        break;
    case IN_SEMI:
        fill_semi(v);
        break;
    case IN_SUBSTR:
        fill_substr(v, nrow);
        break;
    case IN_BATCH:
        fill_batch(v, nrow);
        break;
    case IN_EXPAND:
        fill_expand(v, nrow);
        break;
    }
}
static void secret_inputs(const struct opcase *c)
{
    if (c->inputs == IN_A || c->inputs == IN_PK || c->inputs == IN_JOIN || c->inputs == IN_HALF ||
        c->inputs == IN_SEMI || c->inputs == IN_SUBSTR)
        mark_secret(&ra);
    if (c->inputs == IN_PK || c->inputs == IN_JOIN || c->inputs == IN_SEMI) mark_secret(&rb);
    if (c->inputs == IN_BATCH) batch_secret(nrow);
    if (c->inputs == IN_EXPAND) {
        secret(ex_marks, nrow);
        secret(ex_recs, nrow * 8);
    }
}
static void teardown(const struct opcase *c)
{
    if (c->inputs == IN_A || c->inputs == IN_PK || c->inputs == IN_JOIN || c->inputs == IN_HALF ||
        c->inputs == IN_SEMI || c->inputs == IN_SUBSTR)
        obliv_rows_free(&ra);
    if (c->inputs == IN_PK || c->inputs == IN_JOIN || c->inputs == IN_SEMI) obliv_rows_free(&rb);
    if (c->has_out) obliv_rows_free(&out);
}

/* memcheck: each case under both policies; checks only sanity here (test_obliv_ops checks
 * results against reference implementations): real rows first, dummies after. */
static void memcheck_case(const struct opcase *c, enum obliv_leak leak)
{
    setup(c, 0);
    opts =
        (struct obliv_opts){.leak = leak, .bound = leak == OBLIV_PAD ? 2 * nrow : 0, .threads = 2};
    secret_inputs(c);
    if (c->run(0)) {
        fail(c->name);
        teardown(c);
        return;
    }
    const struct obliv_rows *r = c->has_out ? &out : (c->inputs == IN_EXPAND ? NULL : &ra);
    if (r) {
        reveal_rows(r);
        int seen_dummy = 0, ok = 1;
        for (size_t i = 0; i < r->n; i++) {
            uint64_t val = obliv_row(r, i)[OBLIV_W_VALID];
            if (val > 1 || (val && seen_dummy)) ok = 0;
            if (!val) seen_dummy = 1;
            if (leak == OBLIV_REVEAL && !val && c->inputs != IN_A && c->inputs != IN_SUBSTR) ok = 0;
        }
        if (leak == OBLIV_PAD && c->run != run_project && c->run != run_order &&
            c->run != run_global && c->run != run_batch && c->run != run_equi &&
            c->run != run_cross && c->run != run_substr && c->inputs != IN_HALF && r->n != 2 * nrow)
            ok = 0;
        if (!ok) fail(c->name);
    } else {
        reveal(ex_recs, nrow * 8);
        reveal(ex_marks, nrow);
        size_t k = 0;
        for (size_t i = 0; i < nrow; i++)
            if (ex_marks[i] && ex_recs[i] != 1000 + k++) fail("expand");
    }
    if (c->inputs == IN_BATCH) {
        reveal(b2_off, sizeof b2_off);
        reveal(b2_data, sizeof b2_data);
        reveal(b2_dates, sizeof b2_dates);
        reveal(b2_nulls, sizeof b2_nulls);
        reveal(b_off, sizeof b_off);
        reveal(b_data, sizeof b_data);
        if (memcmp(b_off, b2_off, (nrow + 1) * 4) || memcmp(b_data, b2_data, b_off[nrow]))
            fail("batch round trip");
    }
    teardown(c);
}

/* ---- leaky controls --------------------------------------------------------------------- */

/* The encryption-mode filter: copies a row only if it passes. */
__attribute__((noinline)) static size_t leak_filter(struct obliv_rows *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t *w = obliv_row(r, i);
        if ((int64_t)w[lay_a.col[0].word] < 5) {
            memmove(obliv_row(r, k), w, r->lay.width * 8);
            k++;
        }
    }
    return k;
}
/* Hash-style aggregation: a count per key in a table indexed by the key. */
static uint64_t leak_counts[16];
__attribute__((noinline)) static void leak_hashagg(const struct obliv_rows *r)
{
    for (size_t i = 0; i < r->n; i++) leak_counts[obliv_row(r, i)[lay_a.col[0].word] & 15]++;
    sink = leak_counts[3];
}
/* A join whose sort is the radix sort. */
static uint64_t leak_buf[NMAX * 2 * 2], leak_scr[NMAX * 2 * 2];
__attribute__((noinline)) static void leak_sortjoin(const struct obliv_rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        leak_buf[2 * i] = obliv_row(r, i)[lay_a.col[0].word];
        leak_buf[2 * i + 1] = i;
    }
    obliv_fastsort(leak_buf, r->n, 16, 0, 1, leak_scr);
    sink = leak_buf[1];
}

/* The encryption-mode SUBSTRING: walks the code points and stops at the start's byte. */
__attribute__((noinline)) static void leak_substr(const struct obliv_rows *r)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < r->n; i++) {
        const uint64_t *w = obliv_row(r, i) + lay_a.col[3].word;
        const unsigned char *p = (const unsigned char *)(w + 1);
        size_t cp = 0, j = 0;
        for (; j < w[0]; j++) {
            if ((p[j] & 0xC0) != 0x80) cp++;
            if (cp == 2) break;
        }
        acc += j;
    }
    sink = acc;
}

static void mark(void)
{
    trace_mark = trace_mark + 1;
}

static void trace_all(void)
{
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    for (size_t ci = 0; ci < NCASES; ci++) {
        const struct opcase *c = &cases[ci];
        /* One warm-up run first (lazy binding); every allocation is its own mapping (main),
         * so the heap does not carry state from one call to the next. */
        for (unsigned wi = 0; wi < nvariants + 1; wi++) {
            unsigned vi = wi;
            unsigned v = vi == 0 ? 0 : variant_order[vi - 1];
            setup(c, v);
            opts = (struct obliv_opts){.leak = OBLIV_PAD, .bound = nrow, .threads = 1};
            if (c->run == run_union) opts.bound = 2 * nrow;
            if (vi > 0) {
                printf("REGION %s %u\n", c->name, v);
                mark();
            }
            if (c->run(v)) fail(c->name);
            if (vi > 0) mark();
            teardown(c);
        }
    }
    for (unsigned vi = 0; vi <= nvariants; vi++) {
        unsigned v = vi == 0 ? 0 : variant_order[vi - 1];
        static const char *names[4] = {"control-leak-filter", "control-leak-hashagg",
                                       "control-leak-sortjoin", "control-leak-substring"};
        for (int k = 0; k < 4; k++) {
            if (k == 3)
                fill_substr(v, nrow);
            else
                fill_a(&ra, v, nrow);
            if (vi > 0) {
                printf("REGION %s %u\n", names[k], v);
                mark();
            }
            if (k == 0) sink = leak_filter(&ra);
            if (k == 1) leak_hashagg(&ra);
            if (k == 2) leak_sortjoin(&ra);
            if (k == 3) leak_substr(&ra);
            if (vi > 0) mark();
            obliv_rows_free(&ra);
        }
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    rng_state = 12345;
    layouts();
    if (!strcmp(mode, "memcheck")) {
        for (size_t ci = 0; ci < NCASES; ci++) {
            memcheck_case(&cases[ci], OBLIV_REVEAL);
            memcheck_case(&cases[ci], OBLIV_PAD);
        }
        printf("probe_ops memcheck: %zu operator cases x {reveal, pad}: %s\n", NCASES,
               failures ? "WRONG RESULTS" : "results correct");
        return failures ? 1 : 0;
    }
    if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
        !strcmp(mode, "leak-fastsort")) {
        fill_a(&ra, 0, nrow);
        mark_secret(&ra);
        if (!strcmp(mode, "leak-branch")) sink = leak_filter(&ra);
        if (!strcmp(mode, "leak-index")) leak_hashagg(&ra);
        if (!strcmp(mode, "leak-fastsort")) leak_sortjoin(&ra);
        obliv_rows_free(&ra);
        printf("probe_ops %s: ran\n", mode);
        return 0;
    }
    if (!strcmp(mode, "trace") || !strcmp(mode, "trace-quick")) {
        tracing = 1;
        /* Every allocation its own mapping: the operators' buffers then land at the same
         * addresses in every call, whatever glibc's bins did before (their order is a
         * function of the allocation history, not of the data, but it would differ between
         * the first call and later ones). */
        mallopt(M_MMAP_THRESHOLD, 0);
        /* glibc keeps high-water marks of mapped bytes and of mappings (a branch and a store
         * whenever one is exceeded): raise both past anything the operators reach. */
        void *hw[64];
        for (int i = 0; i < 64; i++) hw[i] = malloc(i ? 64 : (size_t)64 << 20);
        for (int i = 0; i < 64; i++) free(hw[i]);
        nvariants = !strcmp(mode, "trace") ? VARIANTS : 3;
        nrow = nvariants == VARIANTS ? 24 : 12;
        trace_all();
        return failures ? 1 : 0;
    }
    fprintf(stderr, "usage: probe_ops memcheck|leak-branch|leak-index|leak-fastsort|trace|"
                    "trace-quick\n");
    return 2;
}
