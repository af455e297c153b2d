/* test_obliv_expr.c - the constant-time expression evaluator's newer instructions (division,
 * modulo, DOUBLE arithmetic and order, dates, LIKE, string comparison; src/obliv/expr.h)
 * against encryption mode itself: the same expression built as an mc2_pexpr (src/sql/plan.h)
 * runs in the vectorized executor (SCAN of a batch + PROJECT), the postfix program runs on
 * the same rows converted by obliv_rows_from_batch, and every value, NULL and overflow must
 * be identical (DOUBLEs bit for bit). A chunk whose executor run fails (overflow) is rerun
 * row by row: the row fails in encryption mode iff the program flags an overflow. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc2/table.h"
#include "obliv/expr.h"
#include "obliv/rows.h"
#include "sql/plan.h"
#include "table/value.h"
#include "test.h"

/* ---- data -------------------------------------------------------------------------------- */

enum { C_A, C_B, C_DA, C_DB, C_FA, C_FB, C_DT, C_S, C_T, NC };
#define S_LEN 6 /* VARCHAR(6): 24 padded bytes */
#define T_LEN 3

static mc2_column_def cols[NC] = {
    {"a", {MC2_T_INT64, 0, 0, 0}, true},      {"b", {MC2_T_INT64, 0, 0, 0}, true},
    {"da", {MC2_T_DECIMAL, 18, 2, 0}, true},  {"db", {MC2_T_DECIMAL, 18, 4, 0}, true},
    {"fa", {MC2_T_DOUBLE, 0, 0, 0}, true},    {"fb", {MC2_T_DOUBLE, 0, 0, 0}, true},
    {"dt", {MC2_T_DATE, 0, 0, 0}, true},      {"s", {MC2_T_VARCHAR, 0, 0, S_LEN}, true},
    {"t", {MC2_T_VARCHAR, 0, 0, T_LEN}, true}};
static mc2_schema schema = {.name = "x", .ncols = NC, .cols = cols};

struct rec {
    int64_t i[4]; /* a, b, da, db */
    double f[2];
    int32_t dt;
    char s[4 * S_LEN + 1], t[4 * T_LEN + 1];
    size_t sl, tl;
    unsigned nulls; /* bit c: column c is NULL */
};

#define NREC 600
static struct rec recs[NREC];
static size_t nrec;

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static mc2_batch *make_batch(size_t from, size_t n)
{
    mc2_batch *b = mc2_batch_new(&schema, n ? n : 1, NULL);
    if (!b) abort();
    for (size_t r = 0; r < n; r++) {
        const struct rec *x = &recs[from + r];
        for (int c = 0; c < NC; c++) b->cols[c].nulls[r] = (uint8_t)((x->nulls >> c) & 1);
        for (int c = 0; c < 4; c++) b->cols[c].v.i64[r] = (x->nulls >> c) & 1 ? 0 : x->i[c];
        for (int c = 0; c < 2; c++)
            b->cols[C_FA + c].v.f64[r] = (x->nulls >> (C_FA + c)) & 1 ? 0 : x->f[c];
        b->cols[C_DT].v.i32[r] = (x->nulls >> C_DT) & 1 ? 0 : x->dt;
        for (int c = C_S; c <= C_T; c++) {
            const char *s = c == C_S ? x->s : x->t;
            size_t l = (x->nulls >> c) & 1 ? 0 : (c == C_S ? x->sl : x->tl);
            if (mc2_batch_reserve_chars(b, (size_t)c, l, NULL)) abort();
            mc2_col *col = &b->cols[c];
            if (l) memcpy(col->data + col->off[r], s, l);
            col->off[r + 1] = col->off[r] + (uint32_t)l;
        }
    }
    b->nrows = n;
    return b;
}

/* ---- the two evaluators ------------------------------------------------------------------ */

typedef mc2_pexpr *(*build_fn)(mc2_plan *p, const void *arg);

static mc2_pexpr *col(mc2_plan *p, int c)
{
    return mc2_px_col(p, (unsigned)c, cols[c].type, true);
}

/* Encryption mode on recs[from, from+n): 0 and *out (one column), or -1 (an error). */
static int run_enc(build_fn build, const void *arg, size_t from, size_t n, mc2_batch **out,
                   mc2_plan **pp, mc2_err *err)
{
    mc2_plan *p = mc2_plan_new(0, err);
    if (!p) abort();
    unsigned all[NC];
    for (unsigned c = 0; c < NC; c++) all[c] = c;
    mc2_pnode *scan = mc2_pn_scan(p, 0, &schema, all, NC);
    mc2_pexpr *e = build(p, arg);
    mc2_pnode *proj = mc2_pn_project(p, scan, &e, 1, NULL);
    if (!proj) {
        const mc2_err *pe = mc2_plan_error(p);
        fprintf(stderr, "plan: %s\n", pe ? pe->msg : "?");
        abort();
    }
    mc2_batch *b = make_batch(from, n);
    const mc2_batch *bl[1] = {b};
    mc2_exec_input in = {.batches = bl, .nbatches = 1};
    mc2_exec *x;
    int rc = mc2_exec_open(p, proj, &in, 1, NULL, &x, err);
    if (!rc) {
        rc = mc2_exec_collect(x, NREC, out, err);
        mc2_exec_free(x);
    }
    mc2_batch_free(b);
    *pp = p;
    return rc;
}

/* The program on the same rows: values, nulls, overflow flags. */
static void run_obl(const struct obliv_xins *ins, size_t nins, size_t from, size_t n, uint64_t *val,
                    uint64_t *nul, uint64_t *ovf)
{
    mc2_batch *b = make_batch(from, n);
    struct obliv_rows r;
    mc2_err err;
    if (obliv_rows_from_batch(&r, b, &err)) {
        fprintf(stderr, "rows: %s\n", err.msg);
        abort();
    }
    struct obliv_expr e = {ins, nins};
    CHECK_MSG(!obliv_expr_check(&e, &r.lay, &err), "check: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        ovf[i] = 0;
        obliv_expr_eval(&e, &r.lay, obliv_row(&r, i), &val[i], &nul[i], &ovf[i]);
    }
    obliv_rows_free(&r);
    mc2_batch_free(b);
}

/* The executor's value of row r as the oblivious word. */
static uint64_t enc_word(const mc2_batch *b, size_t r)
{
    const mc2_col *c = &b->cols[0];
    uint64_t w = 0;
    switch (b->schema->cols[0].type.id) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
        w = (uint64_t)c->v.i64[r];
        break;
    case MC2_T_DEC128: /* held in one word in oblivious rows */
        w = (uint64_t)(int64_t)c->v.i128[r];
        break;
    case MC2_T_DOUBLE:
        memcpy(&w, &c->v.f64[r], 8);
        break;
    case MC2_T_DATE:
        w = (uint64_t)(int64_t)c->v.i32[r];
        break;
    case MC2_T_BOOL:
        w = c->v.b[r];
        break;
    case MC2_T_VARCHAR:
        abort();
    }
    return w;
}

static unsigned long n_rows, n_null, n_ovf;

/* Compares the two evaluators over recs[0, nrec) in chunks of 100 rows. */
static void compare(const char *name, build_fn build, const void *arg, const struct obliv_xins *ins,
                    size_t nins)
{
    static uint64_t val[NREC], nul[NREC], ovf[NREC];
    unsigned bad = 0;
    for (size_t from = 0; from < nrec; from += 100) {
        size_t n = nrec - from < 100 ? nrec - from : 100;
        run_obl(ins, nins, from, n, val, nul, ovf);
        mc2_batch *out = NULL;
        mc2_plan *p;
        mc2_err err;
        int rc = run_enc(build, arg, from, n, &out, &p, &err);
        if (rc == 0) {
            CHECK_MSG(out->nrows == n, "%s: %zu rows", name, out->nrows);
            for (size_t r = 0; r < n && r < out->nrows; r++) {
                const mc2_col *c = &out->cols[0];
                uint64_t en = c->nulls ? c->nulls[r] : 0, ew = enc_word(out, r);
                n_rows++;
                n_null += en;
                if (ovf[r] || nul[r] != en || (!en && val[r] != ew)) {
                    if (bad++ < 5)
                        fprintf(stderr,
                                "%s: row %zu: oblivious %016llx null %llu ovf %llu, encryption "
                                "%016llx null %llu\n",
                                name, from + r, (unsigned long long)val[r],
                                (unsigned long long)nul[r], (unsigned long long)ovf[r],
                                (unsigned long long)ew, (unsigned long long)en);
                }
            }
            mc2_batch_free(out);
            mc2_plan_free(p);
            continue;
        }
        mc2_plan_free(p);
        /* some row overflows: one row at a time */
        for (size_t r = 0; r < n; r++) {
            out = NULL;
            rc = run_enc(build, arg, from + r, 1, &out, &p, &err);
            n_rows++;
            if (rc) {
                n_ovf++;
                if (!ovf[r] && bad++ < 5)
                    fprintf(stderr, "%s: row %zu: encryption fails (%s), oblivious no overflow\n",
                            name, from + r, err.msg);
            } else {
                uint64_t en = out->cols[0].nulls ? out->cols[0].nulls[0] : 0, ew = enc_word(out, 0);
                if ((ovf[r] || nul[r] != en || (!en && val[r] != ew)) && bad++ < 5)
                    fprintf(stderr,
                            "%s: row %zu: oblivious %016llx null %llu ovf %llu, "
                            "encryption %016llx null %llu\n",
                            name, from + r, (unsigned long long)val[r], (unsigned long long)nul[r],
                            (unsigned long long)ovf[r], (unsigned long long)ew,
                            (unsigned long long)en);
                mc2_batch_free(out);
            }
            mc2_plan_free(p);
        }
    }
    CHECK_MSG(bad == 0, "%s: %u rows differ", name, bad);
}

/* ---- generators -------------------------------------------------------------------------- */

static int64_t rnd_int(void)
{
    static const int64_t edge[] = {0,
                                   1,
                                   -1,
                                   2,
                                   -2,
                                   3,
                                   7,
                                   -7,
                                   10,
                                   1000000,
                                   2000000,
                                   -2000000,
                                   4000000,
                                   INT64_MAX,
                                   INT64_MIN,
                                   INT64_MAX - 1,
                                   INT64_MIN + 1,
                                   999999999999999999,
                                   -999999999999999999,
                                   5,
                                   25,
                                   -25,
                                   125};
    switch (rnd() % 5) {
    case 0:
        return edge[rnd() % (sizeof edge / sizeof *edge)];
    case 1:
        return (int64_t)rnd();
    case 2:
        return (int64_t)(rnd() % 2000001) - 1000000;
    case 3:
        return (int64_t)(rnd() % 21) - 10;
    default:
        return (int64_t)(rnd() % 2000000000001ull) - 1000000000000;
    }
}

static int64_t rnd_dec(void)
{
    int64_t v = rnd_int();
    if (v >= 1000000000000000000 || v <= -1000000000000000000) v %= 1000000000000000000;
    return v;
}

static double rnd_double(void)
{
    static const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 3.0, 0.1};
    switch (rnd() % 4) {
    case 0:
        return edge[rnd() % (sizeof edge / sizeof *edge)];
    case 1:
        return (double)((int64_t)(rnd() % 2001) - 1000) / 8;
    default: {
        double m = (double)(rnd() % 1000000) / 1000.0;
        int ex = (int)(rnd() % 40) - 20;
        return (rnd() & 1 ? -m : m) * pow(10, ex);
    }
    }
}

static int32_t rnd_date(void)
{
    switch (rnd() % 4) {
    case 0: { /* a month end, or Feb 29 */
        static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int y = (int)(rnd() % 9999) + 1;
        if (rnd() % 3 == 0) y = (int)(rnd() % 100) * 4 + 1800;
        unsigned m = (unsigned)(rnd() % 12) + 1, d = md[m - 1];
        if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) d = 29;
        return mc2_days_from_civil(y, m, d - (unsigned)(rnd() % 3));
    }
    case 1:
        return (int32_t)((int64_t)(rnd() % 80000) - 40000); /* around 1970 */
    case 2:
        return rnd() & 1 ? MC2_DATE_MIN + (int32_t)(rnd() % 800)
                         : MC2_DATE_MAX - (int32_t)(rnd() % 800);
    default:
        return MC2_DATE_MIN + (int32_t)(rnd() % (uint64_t)(MC2_DATE_MAX - MC2_DATE_MIN + 1));
    }
}

/* Valid UTF-8 of at most max code points from an alphabet with LIKE's special characters
 * and 2-, 3- and 4-byte code points; sometimes exactly max 4-byte code points (the full
 * padded width). */
static size_t rnd_str(char *s, unsigned max)
{
    static const char *const al[] = {
        "a", "b", "%", "_", "\\", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "A", "\x7f"};
    size_t n = 0;
    if (rnd() % 10 == 0) {
        for (unsigned i = 0; i < max; i++) memcpy(s + 4 * i, al[7], 4);
        return 4 * max;
    }
    unsigned k = (unsigned)(rnd() % (max + 1));
    unsigned na = rnd() % 2 ? 3 : (unsigned)(sizeof al / sizeof *al);
    for (unsigned i = 0; i < k; i++) {
        const char *c = al[rnd() % na];
        memcpy(s + n, c, strlen(c));
        n += strlen(c);
    }
    return n;
}

static void gen(void)
{
    nrec = NREC;
    for (size_t r = 0; r < nrec; r++) {
        struct rec *x = &recs[r];
        memset(x, 0, sizeof *x);
        x->i[0] = rnd_int();
        x->i[1] = rnd_int();
        x->i[2] = rnd_dec();
        x->i[3] = rnd_dec();
        if (rnd() % 4 == 0) x->i[1] = (int64_t)(rnd() % 7) - 3; /* zero divisors, -1 */
        if (rnd() % 6 == 0) { /* exact .5 ties: a * 10^6 / (2 * 10^6) etc. */
            static const int64_t half[] = {2000000, -2000000, 200000000, -200000000, 200, -2};
            x->i[1] = x->i[3] = half[rnd() % (sizeof half / sizeof *half)];
            x->i[0] = x->i[2] = (int64_t)(rnd() % 2001) - 1000;
        }
        x->f[0] = rnd_double();
        x->f[1] = rnd_double();
        x->dt = rnd_date();
        x->sl = rnd_str(x->s, S_LEN);
        x->tl = rnd_str(x->t, T_LEN);
        if (rnd() % 6 == 0) { /* t a prefix of s, or equal */
            size_t l = x->sl <= 4 * T_LEN ? x->sl : 0;
            memcpy(x->t, x->s, l);
            x->tl = l;
        }
        for (int c = 0; c < NC; c++)
            if (rnd() % 12 == 0) x->nulls |= 1u << c;
    }
}

/* ---- the cases --------------------------------------------------------------------------- */

struct bin {
    int kind; /* 0 arith, 1 cmp */
    int op;
    int a, b;
};

static mc2_pexpr *b_bin(mc2_plan *p, const void *arg)
{
    const struct bin *x = arg;
    if (x->kind == 1) return mc2_px_cmp(p, x->op, col(p, x->a), col(p, x->b));
    return mc2_px_arith(p, x->op, col(p, x->a), col(p, x->b));
}

#define N(a)   (sizeof(a) / sizeof *(a))
#define I(...) ((struct obliv_xins){__VA_ARGS__})

static void test_div_mod(void)
{
    struct bin d1 = {0, MC2_PX_DIV, C_A, C_B};
    struct obliv_xins p1[] = {I(.op = OX_COL, .col = C_A), I(.op = OX_COL, .col = C_B),
                              I(.op = OX_DIV, .k = 1000000), I(.op = OX_CHECK_DEC)};
    compare("INT64 / INT64", b_bin, &d1, p1, N(p1));
    /* DECIMAL(18,2) / DECIMAL(18,4): result scale 6, k = 10^(6 - 2 + 4) */
    struct bin d2 = {0, MC2_PX_DIV, C_DA, C_DB};
    struct obliv_xins p2[] = {I(.op = OX_COL, .col = C_DA), I(.op = OX_COL, .col = C_DB),
                              I(.op = OX_DIV, .k = 100000000), I(.op = OX_CHECK_DEC)};
    compare("DECIMAL(18,2) / DECIMAL(18,4)", b_bin, &d2, p2, N(p2));
    /* DECIMAL(18,4) / INT64: k = 10^(6 - 4 + 0) */
    struct bin d3 = {0, MC2_PX_DIV, C_DB, C_B};
    struct obliv_xins p3[] = {I(.op = OX_COL, .col = C_DB), I(.op = OX_COL, .col = C_B),
                              I(.op = OX_DIV, .k = 100), I(.op = OX_CHECK_DEC)};
    compare("DECIMAL(18,4) / INT64", b_bin, &d3, p3, N(p3));
    /* INT64 / DECIMAL(18,2): k = 10^(6 - 0 + 2) */
    struct bin d4 = {0, MC2_PX_DIV, C_A, C_DA};
    struct obliv_xins p4[] = {I(.op = OX_COL, .col = C_A), I(.op = OX_COL, .col = C_DA),
                              I(.op = OX_DIV, .k = 100000000), I(.op = OX_CHECK_DEC)};
    compare("INT64 / DECIMAL(18,2)", b_bin, &d4, p4, N(p4));

    struct bin m1 = {0, MC2_PX_MOD, C_A, C_B};
    struct obliv_xins q1[] = {I(.op = OX_COL, .col = C_A), I(.op = OX_COL, .col = C_B),
                              I(.op = OX_MOD)};
    compare("INT64 % INT64", b_bin, &m1, q1, N(q1));
    /* DECIMAL(18,2) % DECIMAL(18,4): da aligned to scale 4 first */
    struct bin m2 = {0, MC2_PX_MOD, C_DA, C_DB};
    struct obliv_xins q2[] = {
        I(.op = OX_COL, .col = C_DA), I(.op = OX_CONST, .k = 100),  I(.op = OX_MUL),
        I(.op = OX_CHECK_DEC),        I(.op = OX_COL, .col = C_DB), I(.op = OX_MOD),
        I(.op = OX_CHECK_DEC)};
    compare("DECIMAL % DECIMAL", b_bin, &m2, q2, N(q2));
}

struct cast {
    int c;
    mc2_coltype t;
};
static mc2_pexpr *b_cast(mc2_plan *p, const void *arg)
{
    const struct cast *x = arg;
    return mc2_px_cast(p, col(p, x->c), x->t);
}

static void test_double(void)
{
    static const enum obliv_xop fop[] = {0, OX_FADD, OX_FSUB, OX_FMUL, OX_FDIV};
    static const char *nm[] = {"", "DOUBLE +", "DOUBLE -", "DOUBLE *", "DOUBLE /"};
    for (int op = MC2_PX_ADD; op <= MC2_PX_DIV; op++) {
        struct bin d = {0, op, C_FA, C_FB};
        struct obliv_xins p[] = {I(.op = OX_COL, .col = C_FA), I(.op = OX_COL, .col = C_FB),
                                 I(.op = fop[op])};
        compare(nm[op], b_bin, &d, p, N(p));
    }
    /* promotion: DECIMAL(18,2) * DOUBLE, INT64 - DOUBLE */
    struct bin d1 = {0, MC2_PX_MUL, C_DA, C_FB};
    struct obliv_xins p1[] = {I(.op = OX_COL, .col = C_DA), I(.op = OX_I2F, .k = 2),
                              I(.op = OX_COL, .col = C_FB), I(.op = OX_FMUL)};
    compare("DECIMAL * DOUBLE", b_bin, &d1, p1, N(p1));
    struct bin d2 = {0, MC2_PX_SUB, C_A, C_FA};
    struct obliv_xins p2[] = {I(.op = OX_COL, .col = C_A), I(.op = OX_I2F, .k = 0),
                              I(.op = OX_COL, .col = C_FA), I(.op = OX_FSUB)};
    compare("INT64 - DOUBLE", b_bin, &d2, p2, N(p2));
    struct cast c1 = {C_DB, {.id = MC2_T_DOUBLE}};
    struct obliv_xins p3[] = {I(.op = OX_COL, .col = C_DB), I(.op = OX_I2F, .k = 4)};
    compare("CAST(DECIMAL(18,4) AS DOUBLE)", b_cast, &c1, p3, N(p3));
    /* comparisons through OX_F2ORD, all six */
    static const enum obliv_xop cop[] = {0, OX_EQ, OX_NE, OX_LT, OX_LE, OX_GT, OX_GE};
    for (int op = MC2_PX_EQ; op <= MC2_PX_GE; op++) {
        struct bin d = {1, op, C_FA, C_FB};
        struct obliv_xins p[] = {I(.op = OX_COL, .col = C_FA), I(.op = OX_F2ORD),
                                 I(.op = OX_COL, .col = C_FB), I(.op = OX_F2ORD), I(.op = cop[op])};
        char name[32];
        snprintf(name, sizeof name, "DOUBLE compare %d", op);
        compare(name, b_bin, &d, p, N(p));
    }
}

struct dfn {
    int unit; /* EXTRACT field, or DATE_ADD unit */
    int64_t n;
    int add;
};
static mc2_pexpr *b_date(mc2_plan *p, const void *arg)
{
    const struct dfn *x = arg;
    if (x->add) return mc2_px_date_add(p, col(p, C_DT), x->n, x->unit);
    return mc2_px_extract(p, x->unit, col(p, C_DT));
}

static void test_dates(void)
{
    static const enum obliv_xop eop[] = {0, OX_DAY, OX_MONTH, OX_YEAR};
    static const char *en[] = {"", "EXTRACT DAY", "EXTRACT MONTH", "EXTRACT YEAR"};
    for (int u = MC2_PX_DAY; u <= MC2_PX_YEAR; u++) {
        struct dfn f = {u, 0, 0};
        struct obliv_xins p[] = {I(.op = OX_COL, .col = C_DT), I(.op = eop[u])};
        compare(en[u], b_date, &f, p, N(p));
    }
    static const struct {
        int unit;
        int64_t n;
    } adds[] = {{MC2_PX_MONTH, 1},    {MC2_PX_MONTH, -1},     {MC2_PX_MONTH, 13},
                {MC2_PX_MONTH, -25},  {MC2_PX_MONTH, 0},      {MC2_PX_YEAR, 1},
                {MC2_PX_YEAR, -3},    {MC2_PX_YEAR, 400},     {MC2_PX_MONTH, 119987},
                {MC2_PX_YEAR, -9998}, {MC2_PX_MONTH, 1200000}};
    for (size_t i = 0; i < N(adds); i++) {
        struct dfn f = {adds[i].unit, adds[i].n, 1};
        int64_t k = adds[i].unit == MC2_PX_YEAR ? 12 * adds[i].n : adds[i].n;
        struct obliv_xins p[] = {I(.op = OX_COL, .col = C_DT), I(.op = OX_ADD_MONTHS, .k = k)};
        char name[64];
        snprintf(name, sizeof name, "DATE + %lld %s", (long long)adds[i].n,
                 adds[i].unit == MC2_PX_YEAR ? "YEAR" : "MONTH");
        compare(name, b_date, &f, p, N(p));
    }
    /* every DATE: EXTRACT against the calendar of src/table */
    struct obliv_layout lay;
    mc2_coltype dt = {.id = MC2_T_DATE};
    CHECK(!obliv_layout_init(&lay, &dt, 1, NULL));
    struct obliv_xins py[] = {I(.op = OX_COL, .col = 0), I(.op = OX_YEAR)},
                      pm[] = {I(.op = OX_COL, .col = 0), I(.op = OX_MONTH)},
                      pd[] = {I(.op = OX_COL, .col = 0), I(.op = OX_DAY)};
    struct obliv_expr ey = {py, 2}, em = {pm, 2}, ed = {pd, 2};
    unsigned long bad = 0;
    for (int32_t z = MC2_DATE_MIN; z <= MC2_DATE_MAX; z++) {
        uint64_t row[3] = {1, 0, (uint64_t)(int64_t)z}, y, m, d, nl, o = 0;
        obliv_expr_eval(&ey, &lay, row, &y, &nl, &o);
        obliv_expr_eval(&em, &lay, row, &m, &nl, &o);
        obliv_expr_eval(&ed, &lay, row, &d, &nl, &o);
        int ry;
        unsigned rm, rd;
        mc2_civil_from_days(z, &ry, &rm, &rd);
        bad += (int64_t)y != ry || m != rm || d != rd || o;
    }
    CHECK_MSG(bad == 0, "calendar: %lu of the DATE range differ", bad);
}

struct lk {
    const char *pat;
    int esc;
    bool neg;
};
static mc2_pexpr *b_like(mc2_plan *p, const void *arg)
{
    const struct lk *x = arg;
    return mc2_px_like(p, col(p, C_S), x->pat, strlen(x->pat), x->esc, x->neg);
}

static void test_like(void)
{
    static const struct lk pats[] = {{"", -1, 0},
                                     {"%", -1, 0},
                                     {"a%", -1, 0},
                                     {"%a", -1, 0},
                                     {"%a%", -1, 0},
                                     {"_", -1, 0},
                                     {"__", -1, 1},
                                     {"a_b", -1, 0},
                                     {"%_%", -1, 0},
                                     {"%\xc3\xa9%", -1, 0},
                                     {"_\xe2\x82\xac%", -1, 0},
                                     {"%b_", -1, 0},
                                     {"a%b%a", -1, 0},
                                     {"\\%%", '\\', 0},
                                     {"%\\_%", '\\', 0},
                                     {"%\\\\", '\\', 0},
                                     {"a!%", '!', 0},
                                     {"%%_%%_", -1, 0},
                                     {"______", -1, 0},
                                     {"%a_%_b%", -1, 1},
                                     {"\xf0\x9d\x84\x9e%", -1, 0},
                                     {"%_\xf0\x9d\x84\x9e", -1, 0},
                                     {"b", -1, 1},
                                     {"%%", -1, 1},
                                     {"a%%b", -1, 0},
                                     {"%_a_%", -1, 0}};
    for (size_t i = 0; i < N(pats); i++) {
        struct obliv_like *lk = NULL;
        mc2_err err;
        int rc = obliv_like_compile(pats[i].pat, strlen(pats[i].pat), pats[i].esc, &lk, &err);
        CHECK_MSG(rc == 0, "compile '%s': %s", pats[i].pat, err.msg);
        if (rc) continue;
        struct obliv_xins p[] = {I(.op = OX_LIKE, .col = C_S, .like = lk, .k = pats[i].neg)};
        char name[64];
        snprintf(name, sizeof name, "%sLIKE '%s'", pats[i].neg ? "NOT " : "", pats[i].pat);
        compare(name, b_like, &pats[i], p, N(p));
        obliv_like_free(lk);
    }
    /* limits */
    char longp[80];
    memset(longp, '_', 63);
    struct obliv_like *lk = NULL;
    mc2_err err;
    CHECK(obliv_like_compile(longp, 63, -1, &lk, &err) == 0);
    obliv_like_free(lk);
    memset(longp, 'x', 64);
    lk = NULL;
    CHECK(obliv_like_compile(longp, 64, -1, &lk, &err) == -1 && err.code == MC2_E_LIMIT && !lk);
    CHECK(obliv_like_compile("%%%%a\\", 6, '\\', &lk, &err) == -1 && err.code == MC2_E_USAGE);
}

struct sc {
    int op;
    const char *k; /* NULL: column t */
};
static mc2_pexpr *b_scmp(mc2_plan *p, const void *arg)
{
    const struct sc *x = arg;
    mc2_pexpr *b = x->k ? mc2_px_str(p, x->k, strlen(x->k)) : col(p, C_T);
    return mc2_px_cmp(p, x->op, col(p, C_S), b);
}

static void test_strcmp(void)
{
    static const char *consts[] = {
        NULL, "", "a", "ab", "b%", "\xc3\xa9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < N(consts); i++)
        for (int op = MC2_PX_EQ; op <= MC2_PX_GE; op++) {
            struct sc x = {op, consts[i]};
            struct obliv_xins p[] = {I(.op = OX_STR_CMP, .col = C_S, .col2 = C_T, .k = op,
                                       .str = consts[i],
                                       .len = consts[i] ? (uint32_t)strlen(consts[i]) : 0)};
            char name[64];
            snprintf(name, sizeof name, "VARCHAR compare %d with %s", op,
                     consts[i] ? consts[i] : "column");
            compare(name, b_scmp, &x, p, N(p));
        }
}

/* obliv_expr_check on the new instructions. */
static void test_check(void)
{
    struct obliv_layout lay;
    mc2_coltype t[NC];
    for (int c = 0; c < NC; c++) t[c] = cols[c].type;
    CHECK(!obliv_layout_init(&lay, t, NC, NULL));
    struct obliv_like *lk = NULL;
    CHECK(!obliv_like_compile("a%", 2, -1, &lk, NULL));
    struct {
        struct obliv_xins ins[3];
        size_t n;
        int ok;
    } cases[] = {
        {{I(.op = OX_COL, .col = C_FA)}, 1, 1},
        {{I(.op = OX_COL, .col = C_S)}, 1, 0},
        {{I(.op = OX_LIKE, .col = C_S, .like = lk)}, 1, 1},
        {{I(.op = OX_LIKE, .col = C_S)}, 1, 0},
        {{I(.op = OX_LIKE, .col = C_A, .like = lk)}, 1, 0},
        {{I(.op = OX_STR_CMP, .col = C_S, .col2 = C_T, .k = 3)}, 1, 1},
        {{I(.op = OX_STR_CMP, .col = C_S, .col2 = C_A, .k = 3)}, 1, 0},
        {{I(.op = OX_STR_CMP, .col = C_S, .col2 = 99, .k = 3)}, 1, 0},
        {{I(.op = OX_STR_CMP, .col = C_S, .col2 = C_A, .k = 3, .str = "x", .len = 1)}, 1, 1},
        {{I(.op = OX_STR_CMP, .col = C_S, .col2 = C_T, .k = 7)}, 1, 0},
        {{I(.op = OX_STR_CMP, .col = C_DT, .col2 = C_T, .k = 1)}, 1, 0},
        {{I(.op = OX_CONST), I(.op = OX_CONST), I(.op = OX_DIV, .k = 1)}, 3, 1},
        {{I(.op = OX_CONST), I(.op = OX_CONST), I(.op = OX_DIV, .k = 0)}, 3, 0},
        {{I(.op = OX_CONST), I(.op = OX_MOD)}, 2, 0},
        {{I(.op = OX_CONST), I(.op = OX_I2F, .k = 19)}, 2, 0},
        {{I(.op = OX_CONST), I(.op = OX_ADD_MONTHS, .k = 1000000000)}, 2, 0},
        {{I(.op = OX_CONST), I(.op = OX_CONST), I(.op = OX_FDIV)}, 3, 1},
        {{I(.op = OX_CONST), I(.op = OX_YEAR), I(.op = OX_F2ORD)}, 3, 1},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct obliv_expr e = {cases[i].ins, cases[i].n};
        mc2_err err;
        int rc = obliv_expr_check(&e, &lay, &err);
        CHECK_MSG((rc == 0) == cases[i].ok, "check case %zu: rc %d", i, rc);
    }
    obliv_like_free(lk);
}

int main(void)
{
    gen();
    test_check();
    test_div_mod();
    test_double();
    test_dates();
    test_like();
    test_strcmp();
    /* a second data set */
    gen();
    test_div_mod();
    test_double();
    test_like();
    test_strcmp();
    printf("test_obliv_expr: %lu rows compared (%lu NULL, %lu overflow errors)\n", n_rows, n_null,
           n_ovf);
    CHECK(n_null > 0 && n_ovf > 0);
    return test_done("test_obliv_expr");
}
