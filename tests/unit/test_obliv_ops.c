/* test_obliv_ops.c - the oblivious operators (src/obliv/op.h) against straightforward
 * non-oblivious reference implementations on random tables, with NULLs and dummy rows, under
 * both leakage policies. (Obliviousness itself is proved by tests/obliv/probe_ops.c.) */
#include "test.h"

#include "mc2/table.h"
#include "obliv/op.h"
#include "obliv/rows.h"
#include "sql/plan.h"

#include <stdint.h>

static uint64_t rs = 99;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Table A: k INT64, v INT64 (NULL ~1/6), d DECIMAL(12,2), s VARCHAR(3) (NULL ~1/8). */
static struct obliv_layout LA;
enum { CK = 0, CV = 1, CD = 2, CS = 3 };

static int64_t K(const uint64_t *r)
{
    return (int64_t)r[LA.col[CK].word];
}
static int64_t V(const uint64_t *r)
{
    return (int64_t)r[LA.col[CV].word];
}
static int VNULL(const uint64_t *r)
{
    return (int)((r[OBLIV_W_NULLS] >> CV) & 1);
}

static void gen_a(struct obliv_rows *r, size_t n, int keyrange, int dummies)
{
    if (obliv_rows_alloc(r, &LA, n, NULL)) abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(r, i);
        w[OBLIV_W_VALID] = dummies ? rnd() % 5 != 0 : 1;
        w[LA.col[CK].word] = (uint64_t)((int64_t)(rnd() % (uint64_t)keyrange) - keyrange / 3);
        w[LA.col[CV].word] = (uint64_t)((int64_t)(rnd() % 2001) - 1000);
        w[LA.col[CD].word] = rnd() % 1000000;
        uint64_t len = rnd() % 4;
        w[LA.col[CS].word] = len;
        w[LA.col[CS].word + 1] = (rnd() % 3 + 'a') & (len ? 0xff : 0);
        w[LA.col[CS].word + 1] |= len > 1 ? (uint64_t)('x' + rnd() % 2) << 8 : 0;
        uint64_t nulls = 0;
        if (rnd() % 6 == 0) nulls |= 1u << CV, w[LA.col[CV].word] = 0;
        if (rnd() % 8 == 0) nulls |= 1u << CS, w[LA.col[CS].word] = 0, w[LA.col[CS].word + 1] = 0;
        w[OBLIV_W_NULLS] = nulls;
    }
}

static void copy_rows(struct obliv_rows *dst, const struct obliv_rows *src)
{
    if (obliv_rows_alloc(dst, &src->lay, src->n, NULL)) abort();
    memcpy(dst->w, src->w, src->n * src->lay.width * 8);
}

static size_t g_w;
static int cmp_rows(const void *a, const void *b)
{
    return memcmp(a, b, g_w * 8);
}
/* The real rows of r, sorted bytewise (multiset comparison). */
static uint64_t *real_sorted(const struct obliv_rows *r, size_t *cnt)
{
    uint64_t *o = malloc((r->n + 1) * r->lay.width * 8);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (obliv_row(r, i)[OBLIV_W_VALID])
            memcpy(o + k++ * r->lay.width, obliv_row(r, i), r->lay.width * 8);
    g_w = r->lay.width;
    qsort(o, k, r->lay.width * 8, cmp_rows);
    *cnt = k;
    return o;
}

/* Checks the policy's shape: REVEAL = all real; PAD = bound rows, real ones first. */
static size_t check_shape(const struct obliv_rows *r, const struct obliv_opts *o)
{
    size_t real = 0, bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t v = obliv_row(r, i)[OBLIV_W_VALID];
        if (v > 1 || (v && real != i)) bad++;
        real += v == 1;
    }
    CHECK(bad == 0);
    if (o->leak == OBLIV_REVEAL) CHECK(real == r->n);
    if (o->leak == OBLIV_PAD) CHECK(r->n == o->bound);
    return real;
}

/* ---- filter --------------------------------------------------------------------------- */

static void test_filter(void)
{
    for (int round = 0; round < 120; round++) {
        size_t n = rnd() % 200;
        int64_t kk = (int64_t)(rnd() % 40) - 10, tt = (int64_t)(rnd() % 1000) - 500;
        struct obliv_xins ins[] = {
            {.op = OX_COL, .col = CK},          {.op = OX_CONST, .k = kk}, {.op = OX_LT},
            {.op = OX_COL, .col = CV},          {.op = OX_CONST, .k = tt}, {.op = OX_GT},
            {.op = round & 1 ? OX_OR : OX_AND},
        };
        struct obliv_expr e = {ins, 7};
        struct obliv_rows in, r;
        gen_a(&in, n, 30, round % 3 == 0);
        copy_rows(&r, &in);
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = n + 3};
        mc2_err err;
        CHECK(obliv_filter(&r, &e, &o, &err) == 0);
        check_shape(&r, &o);
        size_t k = 0, ok = 1;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *w = obliv_row(&in, i);
            int a = K(w) < kk, b = !VNULL(w) && V(w) > tt;
            int keep = w[OBLIV_W_VALID] && ((round & 1) ? (a || b) : (a && b));
            if (!keep) continue;
            if (k >= r.n || memcmp(obliv_row(&r, k), w, 8 * LA.width) != 0) ok = 0;
            k++;
        }
        CHECK(ok);
        CHECK(k == r.n || (o.leak == OBLIV_PAD && (k == r.n || !obliv_row(&r, k)[0])));
        /* A bound below the true size fails with MC2_E_LIMIT. */
        if (k > 0) {
            struct obliv_rows r2;
            copy_rows(&r2, &in);
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = k - 1};
            CHECK(obliv_filter(&r2, &e, &o2, &err) == -1 && err.code == MC2_E_LIMIT);
            obliv_rows_free(&r2);
        }
        obliv_rows_free(&r);
        obliv_rows_free(&in);
    }
}

/* ---- projection, expressions, overflow -------------------------------------------------- */

static void test_project(void)
{
    for (int round = 0; round < 60; round++) {
        size_t n = rnd() % 150;
        struct obliv_rows in, out;
        gen_a(&in, n, 20, 1);
        /* CASE WHEN k >= 2 THEN d * v - 3 ELSE -v END;  v IS NULL;  NOT (v = k) */
        struct obliv_xins e1[] = {
            {.op = OX_COL, .col = CK},
            {.op = OX_CONST, .k = 2},
            {.op = OX_GE},
            {.op = OX_COL, .col = CD},
            {.op = OX_COL, .col = CV},
            {.op = OX_MUL},
            {.op = OX_CONST, .k = 3},
            {.op = OX_SUB},
            {.op = OX_COL, .col = CV},
            {.op = OX_NEG},
            {.op = OX_CASE},
        };
        struct obliv_xins e2[] = {{.op = OX_COL, .col = CV}, {.op = OX_ISNULL}};
        struct obliv_xins e3[] = {
            {.op = OX_COL, .col = CV}, {.op = OX_COL, .col = CK}, {.op = OX_EQ}, {.op = OX_NOT}};
        struct obliv_xins e4[] = {{.op = OX_STR_EQ, .col = CS, .str = "ax", .len = 2}};
        struct obliv_proj items[] = {
            {.col = CS},
            {.is_expr = 1,
             .expr = {e1, 11},
             .type = {.id = MC2_T_DECIMAL, .precision = 18, .scale = 2}},
            {.is_expr = 1, .expr = {e2, 2}, .type = {.id = MC2_T_BOOL}},
            {.is_expr = 1, .expr = {e3, 4}, .type = {.id = MC2_T_BOOL}},
            {.is_expr = 1, .expr = {e4, 1}, .type = {.id = MC2_T_BOOL}},
        };
        mc2_err err;
        CHECK(obliv_project(&in, items, 5, &out, &err) == 0);
        CHECK(out.n == n);
        int ok = 1;
        for (size_t i = 0; i < n && out.w; i++) {
            const uint64_t *w = obliv_row(&in, i), *p = obliv_row(&out, i);
            ok &= p[0] == w[0];
            ok &= !memcmp(p + out.lay.col[0].word, w + LA.col[CS].word, 16);
            ok &= ((p[1] >> 0) & 1) == ((w[1] >> CS) & 1);
            int vn = VNULL(w);
            int64_t ex = K(w) >= 2 ? (int64_t)w[LA.col[CD].word] * V(w) - 3 : -V(w);
            ok &= ((p[1] >> 1) & 1) == (uint64_t)vn;
            if (!vn) ok &= (int64_t)p[out.lay.col[1].word] == ex;
            ok &= p[out.lay.col[2].word] == (uint64_t)vn && !((p[1] >> 2) & 1);
            ok &= ((p[1] >> 3) & 1) == (uint64_t)vn;
            if (!vn) ok &= p[out.lay.col[3].word] == (uint64_t)(V(w) != K(w));
            int sn = (w[1] >> CS) & 1;
            int seq = !sn && w[LA.col[CS].word] == 2 && w[LA.col[CS].word + 1] == ('a' | 'x' << 8);
            ok &= ((p[1] >> 4) & 1) == (uint64_t)sn;
            if (!sn) ok &= p[out.lay.col[4].word] == (uint64_t)seq;
        }
        CHECK(ok);
        obliv_rows_free(&out);
        /* Overflow: v * 2^62 overflows for |v| > 1 on a real row. */
        struct obliv_xins e5[] = {
            {.op = OX_COL, .col = CV}, {.op = OX_CONST, .k = INT64_C(1) << 62}, {.op = OX_MUL}};
        struct obliv_proj it5 = {.is_expr = 1, .expr = {e5, 3}, .type = {.id = MC2_T_INT64}};
        int expect_ovf = 0;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *w = obliv_row(&in, i);
            if (w[0] && !VNULL(w) && (V(w) > 1 || V(w) < -2)) expect_ovf = 1;
        }
        int rc = obliv_project(&in, &it5, 1, &out, &err);
        CHECK(rc == (expect_ovf ? -1 : 0));
        if (rc == 0)
            obliv_rows_free(&out);
        else
            CHECK(err.code == MC2_E_INPUT);
        obliv_rows_free(&in);
    }
    /* Three-valued logic table. */
    struct obliv_layout l2;
    mc2_coltype t2[2] = {{.id = MC2_T_BOOL}, {.id = MC2_T_BOOL}};
    CHECK(obliv_layout_init(&l2, t2, 2, NULL) == 0);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) { /* 0 false, 1 true, 2 NULL */
            uint64_t row[4] = {1, (uint64_t)(a == 2) | (uint64_t)(b == 2) << 1, (uint64_t)(a == 1),
                               (uint64_t)(b == 1)};
            struct obliv_xins ea[] = {
                {.op = OX_COL, .col = 0}, {.op = OX_COL, .col = 1}, {.op = OX_AND}};
            struct obliv_xins eo[] = {
                {.op = OX_COL, .col = 0}, {.op = OX_COL, .col = 1}, {.op = OX_OR}};
            struct obliv_expr xa = {ea, 3}, xo = {eo, 3};
            uint64_t v, nl, of = 0;
            obliv_expr_eval(&xa, &l2, row, &v, &nl, &of);
            int ra = (a == 0 || b == 0) ? 0 : (a == 2 || b == 2) ? 2 : 1;
            CHECK((nl ? 2 : (int)v) == ra);
            obliv_expr_eval(&xo, &l2, row, &v, &nl, &of);
            int ro = (a == 1 || b == 1) ? 1 : (a == 2 || b == 2) ? 2 : 0;
            CHECK((nl ? 2 : (int)v) == ro);
        }
}

/* ---- ORDER BY and LIMIT --------------------------------------------------------------- */

static int ref_cmp(const void *pa, const void *pb)
{
    const uint64_t *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] ? -1 : 1; /* real first */
    if (K(a) != K(b)) return K(a) < K(b) ? -1 : 1;
    if (VNULL(a) != VNULL(b)) return VNULL(a) ? -1 : 1; /* v DESC NULLS FIRST */
    if (V(a) != V(b)) return V(a) > V(b) ? -1 : 1;
    return 0;
}

static void test_order_limit(void)
{
    for (int round = 0; round < 90; round++) {
        size_t n = rnd() % 300;
        struct obliv_rows in, r;
        gen_a(&in, n, 15, round & 1);
        copy_rows(&r, &in);
        struct obliv_sortkey keys[2] = {{.col = CK}, {.col = CV, .desc = 1, .nulls_first = 1}};
        struct obliv_opts o = {.threads = 1 + (round & 1)};
        CHECK(obliv_order_by(&r, keys, 2, &o, NULL) == 0);
        int ok = 1;
        for (size_t i = 1; i < n; i++) ok &= ref_cmp(obliv_row(&r, i - 1), obliv_row(&r, i)) <= 0;
        CHECK(ok);
        size_t c1, c2;
        uint64_t *a = real_sorted(&in, &c1), *b = real_sorted(&r, &c2);
        CHECK(c1 == c2 && !memcmp(a, b, c1 * LA.width * 8));
        free(a);
        free(b);
        /* LIMIT lim OFFSET off on the sorted rows. */
        size_t off = rnd() % 20, lim = rnd() % 50;
        struct obliv_rows s;
        copy_rows(&s, &r);
        struct obliv_opts lo = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = 60};
        CHECK(obliv_limit(&s, off, lim, &lo, NULL) == 0);
        size_t real = check_shape(&s, &lo);
        size_t expect = c1 > off ? (c1 - off < lim ? c1 - off : lim) : 0;
        CHECK(real == expect);
        CHECK(real == 0 || !memcmp(obliv_row(&s, 0), obliv_row(&r, off), real * LA.width * 8));
        obliv_rows_free(&s);
        obliv_rows_free(&r);
        obliv_rows_free(&in);
    }
}

/* ---- GROUP BY ------------------------------------------------------------------------- */

static int cmp_k(const void *pa, const void *pb)
{
    int64_t a = K(pa), b = K(pb);
    return a < b ? -1 : a > b;
}

static void test_group_by(void)
{
    for (int round = 0; round < 90; round++) {
        size_t n = rnd() % 250;
        int keyrange = round % 3 == 0 ? 1 : round % 3 == 1 ? 8 : 1000;
        struct obliv_rows in, out;
        gen_a(&in, n, keyrange, round & 1);
        uint32_t keys[1] = {CK};
        struct obliv_agg aggs[6] = {{OA_COUNT_STAR, 0}, {OA_COUNT, CV}, {OA_SUM, CV},
                                    {OA_MIN, CV},       {OA_MAX, CV},   {OA_AVG, CV}};
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = n + 1};
        mc2_err err;
        CHECK(obliv_group_by(&in, keys, 1, aggs, 6, &out, &o, &err) == 0);
        size_t real = check_shape(&out, &o);
        /* Reference: sort the real rows by k, then scan. */
        size_t c;
        uint64_t *s = real_sorted(&in, &c);
        qsort(s, c, LA.width * 8, cmp_k);
        size_t g = 0, ok = 1;
        for (size_t i = 0; i < c;) {
            size_t j = i;
            int64_t cnt = 0, sum = 0, mn = INT64_MAX, mx = INT64_MIN;
            for (; j < c && K(s + j * LA.width) == K(s + i * LA.width); j++) {
                const uint64_t *w = s + j * LA.width;
                if (VNULL(w)) continue;
                cnt++, sum += V(w);
                mn = V(w) < mn ? V(w) : mn, mx = V(w) > mx ? V(w) : mx;
            }
            if (g < real) {
                const uint64_t *p = obliv_row(&out, g);
                const struct obliv_layout *L = &out.lay;
                ok &= (int64_t)p[L->col[0].word] == K(s + i * LA.width);
                ok &= p[L->col[1].word] == j - i && (int64_t)p[L->col[2].word] == cnt;
                uint64_t nullagg = (p[1] >> 3) & 0xf;
                if (cnt == 0) {
                    ok &= nullagg == 0xf;
                } else {
                    double avg;
                    memcpy(&avg, &p[L->col[6].word], 8);
                    ok &= nullagg == 0 && (int64_t)p[L->col[3].word] == sum;
                    ok &= (int64_t)p[L->col[4].word] == mn && (int64_t)p[L->col[5].word] == mx;
                    ok &= avg == (double)sum / (double)cnt;
                }
            }
            g++;
            i = j;
        }
        CHECK_MSG(ok && g == real, "round %d: %zu groups, %zu output", round, g, real);
        free(s);
        obliv_rows_free(&out);
        /* Global aggregate: one row always. */
        struct obliv_agg ga[3] = {{OA_COUNT_STAR, 0}, {OA_SUM, CV}, {OA_MAX, CK}};
        CHECK(obliv_group_by(&in, NULL, 0, ga, 3, &out, &o, &err) == 0);
        CHECK(out.n == 1 && obliv_row(&out, 0)[0] == 1);
        int64_t cs = 0, sm = 0, anyv = 0, mk = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *w = obliv_row(&in, i);
            if (!w[0]) continue;
            cs++;
            mk = K(w) > mk ? K(w) : mk;
            if (!VNULL(w)) sm += V(w), anyv = 1;
        }
        const uint64_t *p = obliv_row(&out, 0);
        CHECK((int64_t)p[2] == cs);
        CHECK(((p[1] >> 1) & 1) == (uint64_t)!anyv && (!anyv || (int64_t)p[3] == sm));
        CHECK(((p[1] >> 2) & 1) == (uint64_t)!cs && (!cs || (int64_t)p[4] == mk));
        obliv_rows_free(&out);
        obliv_rows_free(&in);
    }
}

/* GROUP BY one key with NULL keys and dummy rows whose keys collide with real ones (the
 * one-word-key path): every group, the NULL group included, against nested loops. */
static void test_group_by_nullkeys(void)
{
    for (int round = 0; round < 60; round++) {
        size_t n = rnd() % 120;
        struct obliv_rows in, out;
        gen_a(&in, n, 6, round % 3 != 0);
        for (size_t i = 0; i < n; i++) {
            uint64_t *w = obliv_row(&in, i);
            if (round % 4 != 3 && rnd() % 5 == 0) w[1] |= 1u << CK, w[LA.col[CK].word] = 0;
        }
        uint32_t keys[1] = {CK};
        struct obliv_agg aggs[4] = {{OA_COUNT_STAR, 0}, {OA_SUM, CV}, {OA_MIN, CD}, {OA_COUNT, CS}};
        /* Reference: distinct keys of the real rows (NULL as its own key). */
        size_t ng = 0, ok = 1;
        int64_t gk[130];
        int gnull[130];
        for (size_t i = 0; i < n; i++) {
            const uint64_t *w = obliv_row(&in, i);
            if (!w[0]) continue;
            int isn = (int)(w[1] >> CK & 1), seen = 0;
            for (size_t g = 0; g < ng; g++) seen |= gnull[g] == isn && (isn || gk[g] == K(w));
            if (!seen) gk[ng] = K(w), gnull[ng++] = isn;
        }
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = ng + 1};
        mc2_err err;
        CHECK(obliv_group_by(&in, keys, 1, aggs, 4, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == ng);
        const struct obliv_layout *L = &out.lay;
        for (size_t g = 0; g < ng && g < out.n; g++) {
            const uint64_t *p = obliv_row(&out, g);
            int isn = (int)(p[1] & 1);
            int64_t cnt = 0, sum = 0, mn = INT64_MAX, ns = 0, nv = 0;
            size_t found = 0;
            for (size_t q = 0; q < ng; q++)
                found += gnull[q] == isn && (isn || gk[q] == (int64_t)p[L->col[0].word]);
            for (size_t i = 0; i < n; i++) {
                const uint64_t *w = obliv_row(&in, i);
                if (!w[0] || (int)(w[1] >> CK & 1) != isn ||
                    (!isn && K(w) != (int64_t)p[L->col[0].word]))
                    continue;
                cnt++;
                if (!VNULL(w)) sum += V(w), nv++;
                int64_t d = (int64_t)w[LA.col[CD].word];
                mn = d < mn ? d : mn;
                ns += !(w[1] >> CS & 1);
            }
            ok &= found == 1 && (int64_t)p[L->col[1].word] == cnt;
            ok &= nv ? (int64_t)p[L->col[2].word] == sum && !(p[1] >> 2 & 1) : (p[1] >> 2 & 1);
            ok &= (int64_t)p[L->col[3].word] == mn && (int64_t)p[L->col[4].word] == ns;
            ok &= !isn || (g == ng - 1 && p[L->col[0].word] == 0); /* NULLs last */
        }
        CHECK_MSG(ok, "group by with NULL keys, round %d", round);
        obliv_rows_free(&out);
        if (ng > 0) {
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = ng - 1};
            CHECK(obliv_group_by(&in, keys, 1, aggs, 4, &out, &o2, &err) == -1 &&
                  err.code == MC2_E_LIMIT);
        }
        obliv_rows_free(&in);
    }
}

/* ---- DISTINCT, UNION --------------------------------------------------------------------- */

static size_t ref_distinct(const struct obliv_rows *r)
{
    size_t c;
    uint64_t *s = real_sorted(r, &c);
    size_t d = 0;
    for (size_t i = 0; i < c; i++)
        d += i == 0 || memcmp(s + i * r->lay.width + 1, s + (i - 1) * r->lay.width + 1,
                              (r->lay.width - 1) * 8) != 0;
    free(s);
    return d;
}

static void test_distinct_union(void)
{
    for (int round = 0; round < 90; round++) {
        size_t n = rnd() % 200;
        struct obliv_rows in, p, q;
        gen_a(&in, n, 6, round & 1);
        struct obliv_proj items[2] = {{.col = CK}, {.col = CS}};
        CHECK(obliv_project(&in, items, 2, &p, NULL) == 0);
        CHECK(obliv_project(&in, items, 2, &q, NULL) == 0);
        size_t d = ref_distinct(&p);
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = 2 * n};
        struct obliv_rows r;
        copy_rows(&r, &p);
        CHECK(obliv_distinct(&r, &o, NULL) == 0);
        CHECK(check_shape(&r, &o) == d);
        CHECK(ref_distinct(&r) == d);
        /* The distinct rows are exactly the input's distinct rows. */
        size_t c1, c2;
        uint64_t *a = real_sorted(&r, &c1);
        struct obliv_rows pr;
        copy_rows(&pr, &p);
        CHECK(obliv_distinct(&pr, &(struct obliv_opts){0}, NULL) == 0);
        uint64_t *b = real_sorted(&pr, &c2);
        CHECK(c1 == c2 && !memcmp(a, b, c1 * p.lay.width * 8));
        free(a);
        free(b);
        obliv_rows_free(&pr);
        obliv_rows_free(&r);
        /* UNION ALL keeps both; UNION (p, q) == DISTINCT p (q is a copy). */
        struct obliv_rows u;
        copy_rows(&u, &p);
        CHECK(obliv_union_all(&u, &q, NULL) == 0 && u.n == 2 * n);
        obliv_rows_free(&u);
        copy_rows(&u, &p);
        CHECK(obliv_union(&u, &q, &o, NULL) == 0);
        CHECK(check_shape(&u, &o) == d);
        obliv_rows_free(&u);
        obliv_rows_free(&p);
        obliv_rows_free(&q);
        obliv_rows_free(&in);
    }
}

/* ---- PK-FK join ----------------------------------------------------------------------- */

static void test_pkfk(void)
{
    struct obliv_layout LB;
    mc2_coltype tb[2] = {{.id = MC2_T_INT64}, {.id = MC2_T_DATE}};
    CHECK(obliv_layout_init(&LB, tb, 2, NULL) == 0);
    for (int round = 0; round < 90; round++) {
        size_t np = rnd() % 120, nf = rnd() % 200;
        struct obliv_rows pk, fk, out;
        gen_a(&pk, np, 1, round & 1);
        for (size_t i = 0; i < np; i++) { /* unique keys: a scattered permutation */
            uint64_t *w = obliv_row(&pk, i);
            w[LA.col[CK].word] = (uint64_t)(int64_t)((i * 389) % (np ? np : 1) * 3);
        }
        CHECK(obliv_rows_alloc(&fk, &LB, nf, NULL) == 0);
        for (size_t i = 0; i < nf; i++) {
            uint64_t *w = obliv_row(&fk, i);
            w[0] = rnd() % 7 != 0 || !(round & 1);
            int fan = round % 4; /* 0: random, 1: no matches, 2: one pk, 3: NULL keys too */
            w[2] = fan == 1 ? 1 + 3 * (rnd() % 100) : fan == 2 ? 0 : rnd() % (3 * np + 5);
            w[3] = rnd() % 30000;
            if (fan == 3 && rnd() % 4 == 0) w[1] = 1, w[2] = 0;
        }
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = nf};
        mc2_err err;
        CHECK(obliv_pkfk_join(&pk, &(uint32_t){CK}, &fk, &(uint32_t){0}, 1, &out, &o, &err) == 0);
        check_shape(&out, &o);
        /* Reference: nested loops. */
        struct obliv_rows ref;
        CHECK(obliv_rows_alloc(&ref, &out.lay, nf, NULL) == 0);
        size_t m = 0;
        for (size_t j = 0; j < nf; j++) {
            const uint64_t *f = obliv_row(&fk, j);
            if (!f[0] || (f[1] & 1)) continue;
            for (size_t i = 0; i < np; i++) {
                const uint64_t *p = obliv_row(&pk, i);
                if (!p[0] || K(p) != (int64_t)f[2]) continue;
                uint64_t *d = obliv_row(&ref, m++);
                d[0] = 1;
                d[1] = p[1] | f[1] << LA.ncols;
                memcpy(d + 2, p + 2, (LA.width - 2) * 8);
                memcpy(d + LA.width, f + 2, (LB.width - 2) * 8);
            }
        }
        size_t c1, c2;
        uint64_t *a = real_sorted(&out, &c1), *b = real_sorted(&ref, &c2);
        CHECK_MSG(c1 == c2 && !memcmp(a, b, c1 * out.lay.width * 8), "round %d: %zu vs %zu", round,
                  c1, c2);
        free(a);
        free(b);
        obliv_rows_free(&ref);
        obliv_rows_free(&out);
        /* A duplicate primary key is an error. */
        if (np >= 2) {
            uint64_t *w0 = obliv_row(&pk, 0), *w1 = obliv_row(&pk, 1);
            w0[0] = w1[0] = 1;
            w1[LA.col[CK].word] = w0[LA.col[CK].word];
            CHECK(obliv_pkfk_join(&pk, &(uint32_t){CK}, &fk, &(uint32_t){0}, 1, &out, &o, &err) ==
                      -1 &&
                  err.code == MC2_E_INPUT);
        }
        obliv_rows_free(&pk);
        obliv_rows_free(&fk);
    }
}

/* ---- general equi-join -------------------------------------------------------------------- */

static void test_equi_join(void)
{
    struct obliv_layout LB;
    mc2_coltype tb[2] = {{.id = MC2_T_INT64}, {.id = MC2_T_DATE}};
    CHECK(obliv_layout_init(&LB, tb, 2, NULL) == 0);
    for (int round = 0; round < 120; round++) {
        size_t na = rnd() % 60, nb = rnd() % 60;
        int shape = round % 5; /* 0 random, 1 1:1, 2 1:many, 3 many:many, 4 no matches */
        struct obliv_rows a, b, out;
        gen_a(&a, na, 1, round & 1);
        for (size_t i = 0; i < na; i++) {
            uint64_t *w = obliv_row(&a, i);
            w[LA.col[CK].word] = shape == 1   ? i
                                 : shape == 2 ? i
                                 : shape == 3 ? i % 3
                                 : shape == 4 ? 2 * i
                                              : rnd() % 10;
            if (round % 7 == 0 && i % 5 == 0) w[1] |= 1u << CK, w[LA.col[CK].word] = 0;
        }
        CHECK(obliv_rows_alloc(&b, &LB, nb, NULL) == 0);
        for (size_t i = 0; i < nb; i++) {
            uint64_t *w = obliv_row(&b, i);
            w[0] = rnd() % 6 != 0 || !(round & 2);
            w[2] = shape == 1   ? i
                   : shape == 2 ? rnd() % 4
                   : shape == 3 ? i % 2
                   : shape == 4 ? 2 * i + 1
                                : rnd() % 10;
            w[3] = rnd() % 30000;
            if (round % 7 == 0 && i % 4 == 0) w[1] = 1, w[2] = 0;
        }
        /* Reference: nested loops. */
        struct obliv_layout LO;
        CHECK(obliv_layout_concat(&LO, &LA, &LB, NULL) == 0);
        struct obliv_rows ref;
        CHECK(obliv_rows_alloc(&ref, &LO, na * nb + 1, NULL) == 0);
        size_t m = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) {
                const uint64_t *x = obliv_row(&a, i), *y = obliv_row(&b, j);
                if (!x[0] || !y[0] || (x[1] >> CK & 1) || (y[1] & 1) || K(x) != (int64_t)y[2])
                    continue;
                uint64_t *d = obliv_row(&ref, m++);
                d[0] = 1;
                d[1] = x[1] | y[1] << LA.ncols;
                memcpy(d + 2, x + 2, (LA.width - 2) * 8);
                memcpy(d + LA.width, y + 2, (LB.width - 2) * 8);
            }
        struct obliv_opts o = {.leak = round & 4 ? OBLIV_PAD : OBLIV_REVEAL,
                               .bound = m + 2,
                               .threads = 1 + (round & 1)};
        mc2_err err;
        CHECK(obliv_equi_join(&a, &(uint32_t){CK}, &b, &(uint32_t){0}, 1, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == m);
        size_t c1, c2;
        uint64_t *x = real_sorted(&out, &c1), *y = real_sorted(&ref, &c2);
        CHECK_MSG(c1 == c2 && !memcmp(x, y, c1 * LO.width * 8), "round %d: %zu vs %zu", round, c1,
                  c2);
        free(x);
        free(y);
        obliv_rows_free(&out);
        if (m > 0) {
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = m - 1};
            CHECK(obliv_equi_join(&a, &(uint32_t){CK}, &b, &(uint32_t){0}, 1, &out, &o2, &err) ==
                      -1 &&
                  err.code == MC2_E_LIMIT);
        }
        obliv_rows_free(&ref);
        obliv_rows_free(&a);
        obliv_rows_free(&b);
    }
}

/* ---- batches and expansion -------------------------------------------------------------- */

static void test_batch(void)
{
    mc2_column_def defs[4] = {
        {.name = "a", .type = {.id = MC2_T_DATE}, .nullable = true},
        {.name = "s", .type = {.id = MC2_T_VARCHAR, .length = 5}, .nullable = true},
        {.name = "f", .type = {.id = MC2_T_DOUBLE}},
        {.name = "b", .type = {.id = MC2_T_BOOL}},
    };
    mc2_schema sc = {.ncols = 4, .cols = defs};
    for (int round = 0; round < 30; round++) {
        size_t n = rnd() % 100;
        mc2_err err;
        mc2_batch *b = mc2_batch_new(&sc, n + 1, &err), *b2 = mc2_batch_new(&sc, n + 1, &err);
        CHECK(b && b2);
        CHECK(mc2_batch_reserve_chars(b, 1, 20 * n + 1, &err) == 0);
        CHECK(mc2_batch_reserve_chars(b2, 1, 20 * n + 1, &err) == 0);
        uint32_t off = 0;
        for (size_t i = 0; i < n; i++) {
            b->cols[0].nulls[i] = rnd() % 4 == 0;
            b->cols[0].v.i32[i] = b->cols[0].nulls[i] ? 0 : (int32_t)(rnd() % 40000) - 20000;
            b->cols[1].nulls[i] = rnd() % 5 == 0;
            size_t len = b->cols[1].nulls[i] ? 0 : rnd() % 21;
            for (size_t j = 0; j < len; j++) b->cols[1].data[off + j] = (char)('A' + rnd() % 26);
            off += (uint32_t)len;
            b->cols[1].off[i + 1] = off;
            b->cols[2].v.f64[i] = (double)(int64_t)rnd() / 3.0;
            b->cols[3].v.b[i] = rnd() & 1;
        }
        b->nrows = n;
        struct obliv_rows r;
        CHECK(obliv_rows_from_batch(&r, b, &err) == 0);
        CHECK(obliv_rows_to_batch(&r, b2, &err) == 0);
        CHECK(b2->nrows == n);
        CHECK(!memcmp(b->cols[1].off, b2->cols[1].off, (n + 1) * 4));
        CHECK(!memcmp(b->cols[1].data, b2->cols[1].data, off));
        for (int c = 0; c < 2; c++) CHECK(!memcmp(b->cols[c].nulls, b2->cols[c].nulls, n));
        CHECK(!memcmp(b->cols[0].v.i32, b2->cols[0].v.i32, n * 4));
        CHECK(!memcmp(b->cols[2].v.f64, b2->cols[2].v.f64, n * 8));
        CHECK(!memcmp(b->cols[3].v.b, b2->cols[3].v.b, n));
        /* Sorting on the VARCHAR column orders bytewise, shorter prefix first. */
        struct obliv_sortkey k = {.col = 1};
        CHECK(obliv_order_by(&r, &k, 1, &(struct obliv_opts){0}, NULL) == 0);
        int ok = 1;
        for (size_t i = 1; i < n; i++) {
            const uint64_t *x = obliv_row(&r, i - 1), *y = obliv_row(&r, i);
            int xn = (x[1] >> 1) & 1, yn = (y[1] >> 1) & 1;
            if (xn || yn) {
                ok &= !xn || yn; /* NULLs last */
                continue;
            }
            const struct obliv_col *c = &r.lay.col[1];
            size_t lx = x[c->word], ly = y[c->word];
            int cm = memcmp(x + c->word + 1, y + c->word + 1, lx < ly ? lx : ly);
            ok &= cm < 0 || (cm == 0 && lx <= ly);
        }
        CHECK(ok);
        obliv_rows_free(&r);
        mc2_batch_free(b);
        mc2_batch_free(b2);
    }
    /* Expansion: the k-th source record lands on the k-th mark. */
    for (int round = 0; round < 150; round++) {
        size_t n = rnd() % 300 + 1, c = 0;
        uint8_t marks[300];
        uint64_t recs[300], scr[300];
        for (size_t i = 0; i < n; i++) c += (marks[i] = (uint8_t)(rnd() % 3 == 0)) != 0;
        for (size_t i = 0; i < n; i++) recs[i] = i < c ? 5000 + i : 7;
        CHECK(obliv_expand(recs, n, 8, marks, scr) == c);
        size_t k = 0, ok = 1;
        for (size_t i = 0; i < n; i++)
            if (marks[i]) ok &= recs[i] == 5000 + k++;
        CHECK(ok);
    }
}

/* ---- multi-key joins, semi / anti joins, cross join ---------------------------------------- */

/* Table B2: k INT64, s VARCHAR(3), w INT64 (join keys (k, s) against A's (k, s)). */
static struct obliv_layout LB2;

/* Random a rows with keys from a small domain (k in 0..kr-1, s one of four short strings),
 * NULL keys and dummies as asked; b likewise. */
static void gen_keys(struct obliv_rows *a, size_t na, struct obliv_rows *b, size_t nb, int kr,
                     int nulls, int dummies)
{
    static const char *strs[4] = {"", "a", "ab", "\xc3\xa9"};
    gen_a(a, na, kr, dummies);
    for (size_t i = 0; i < na; i++) {
        uint64_t *w = obliv_row(a, i);
        w[LA.col[CK].word] = rnd() % (uint64_t)kr;
        w[OBLIV_W_NULLS] &= ~(uint64_t)(1u << CS);
        const char *t = strs[rnd() % 4];
        w[LA.col[CS].word] = strlen(t);
        w[LA.col[CS].word + 1] = 0;
        w[LA.col[CS].word + 2] = 0;
        memcpy(w + LA.col[CS].word + 1, t, strlen(t));
        if (nulls && rnd() % 6 == 0) w[OBLIV_W_NULLS] |= 1u << CK, w[LA.col[CK].word] = 0;
        if (nulls && rnd() % 7 == 0)
            w[OBLIV_W_NULLS] |= 1u << CS, w[LA.col[CS].word] = 0, w[LA.col[CS].word + 1] = 0;
    }
    if (obliv_rows_alloc(b, &LB2, nb, NULL)) abort();
    for (size_t i = 0; i < nb; i++) {
        uint64_t *w = obliv_row(b, i);
        w[OBLIV_W_VALID] = dummies ? rnd() % 4 != 0 : 1;
        w[LB2.col[0].word] = rnd() % (uint64_t)kr;
        const char *t = strs[rnd() % 4];
        w[LB2.col[1].word] = strlen(t);
        memcpy(w + LB2.col[1].word + 1, t, strlen(t));
        w[LB2.col[2].word] = rnd() % 1000;
        if (nulls && rnd() % 6 == 0) w[OBLIV_W_NULLS] |= 1, w[LB2.col[0].word] = 0;
        if (nulls && rnd() % 9 == 0)
            w[OBLIV_W_NULLS] |= 2, w[LB2.col[1].word] = 0, w[LB2.col[1].word + 1] = 0;
    }
}

/* Reference key equality of a's (k, s) and b's (k, s) (nk = 1: k only); NULLs never match. */
static int ref_keyeq(const uint64_t *x, const uint64_t *y, size_t nk)
{
    if ((x[1] >> CK & 1) || (y[1] & 1) || x[LA.col[CK].word] != y[LB2.col[0].word]) return 0;
    if (nk == 1) return 1;
    if ((x[1] >> CS & 1) || (y[1] >> 1 & 1)) return 0;
    return !memcmp(x + LA.col[CS].word, y + LB2.col[1].word, 8 * LA.col[CS].nwords);
}

static void concat_row(uint64_t *d, const uint64_t *x, const struct obliv_layout *lx,
                       const uint64_t *y, const struct obliv_layout *ly)
{
    d[0] = 1;
    d[1] = x[1] | y[1] << lx->ncols;
    memcpy(d + 2, x + 2, (lx->width - 2) * 8);
    memcpy(d + lx->width, y + 2, (ly->width - 2) * 8);
}

static int same_multiset(const struct obliv_rows *x, const struct obliv_rows *y)
{
    size_t c1, c2;
    uint64_t *p = real_sorted(x, &c1), *q = real_sorted(y, &c2);
    int ok = c1 == c2 && !memcmp(p, q, c1 * x->lay.width * 8);
    free(p);
    free(q);
    return ok;
}

static void test_multikey_joins(void)
{
    const uint32_t ak[2] = {CK, CS}, bk[2] = {0, 1};
    struct obliv_layout LO;
    CHECK(obliv_layout_concat(&LO, &LA, &LB2, NULL) == 0);
    for (int round = 0; round < 80; round++) {
        size_t na = rnd() % 50, nb = rnd() % 50, nk = 1 + (round & 1);
        if (round % 10 == 9) na = 0;
        if (round % 10 == 8) nb = 0;
        struct obliv_rows a, b, out, ref;
        gen_keys(&a, na, &b, nb, 3 + (int)(rnd() % 5), round % 3 != 0, round % 4 == 1);
        if (round % 10 == 7)
            for (size_t i = 0; i < nb; i++) obliv_row(&b, i)[0] = 0; /* all dummies */
        CHECK(obliv_rows_alloc(&ref, &LO, na * nb + 1, NULL) == 0);
        size_t m = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) {
                const uint64_t *x = obliv_row(&a, i), *y = obliv_row(&b, j);
                if (x[0] && y[0] && ref_keyeq(x, y, nk))
                    concat_row(obliv_row(&ref, m++), x, &LA, y, &LB2);
            }
        ref.n = m;
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = m + 1};
        mc2_err err;
        CHECK(obliv_equi_join(&a, ak, &b, bk, nk, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == m);
        CHECK_MSG(same_multiset(&out, &ref), "multi-key equi-join round %d", round);
        obliv_rows_free(&out);
        if (m > 0) {
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = m - 1};
            CHECK(obliv_equi_join(&a, ak, &b, bk, nk, &out, &o2, &err) == -1 &&
                  err.code == MC2_E_LIMIT);
        }
        /* PK-FK: make b's real keys unique by keeping the first real row of each key. */
        for (size_t j = 0; j < nb; j++) {
            uint64_t *y = obliv_row(&b, j);
            for (size_t j2 = 0; j2 < j && y[0]; j2++) {
                const uint64_t *z = obliv_row(&b, j2);
                if (z[0] && !((y[1] | z[1]) & (nk == 1 ? 1u : 3u)) &&
                    y[LB2.col[0].word] == z[LB2.col[0].word] &&
                    (nk == 1 ||
                     !memcmp(y + LB2.col[1].word, z + LB2.col[1].word, 8 * LB2.col[1].nwords)))
                    y[0] = 0;
            }
        }
        /* b is the pk side now: expected rows are (b, a) pairs. */
        struct obliv_layout LP;
        CHECK(obliv_layout_concat(&LP, &LB2, &LA, NULL) == 0);
        struct obliv_rows ref2;
        CHECK(obliv_rows_alloc(&ref2, &LP, na + 1, NULL) == 0);
        size_t m2 = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) {
                const uint64_t *x = obliv_row(&a, i), *y = obliv_row(&b, j);
                if (x[0] && y[0] && ref_keyeq(x, y, nk))
                    concat_row(obliv_row(&ref2, m2++), y, &LB2, x, &LA);
            }
        ref2.n = m2;
        o.bound = m2;
        CHECK(obliv_pkfk_join(&b, bk, &a, ak, nk, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == m2);
        CHECK_MSG(same_multiset(&out, &ref2), "multi-key pk-fk round %d", round);
        obliv_rows_free(&out);
        obliv_rows_free(&ref2);
        obliv_rows_free(&ref);
        obliv_rows_free(&a);
        obliv_rows_free(&b);
    }
    /* Misuse: mismatched types (INT64 vs VARCHAR), VARCHAR lengths, no keys, out of range. */
    struct obliv_rows a, b, out;
    gen_keys(&a, 3, &b, 3, 3, 0, 0);
    mc2_err err;
    const uint32_t bad1[2] = {CK, CV}, badb[2] = {1, 0};
    CHECK(obliv_equi_join(&a, bad1, &b, badb, 2, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE);
    CHECK(obliv_pkfk_join(&a, ak, &b, bk, 0, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE);
    CHECK(obliv_semi_join(&a, ak, &b, (const uint32_t[]){0, 7}, 2, 0, 0, &out,
                          &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE);
    struct obliv_layout L5;
    mc2_coltype t5[2] = {{.id = MC2_T_INT64}, {.id = MC2_T_VARCHAR, .length = 5}};
    CHECK(obliv_layout_init(&L5, t5, 2, NULL) == 0);
    struct obliv_rows c;
    CHECK(obliv_rows_alloc(&c, &L5, 2, NULL) == 0);
    CHECK(obliv_equi_join(&a, ak, &c, bk, 2, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE);
    CHECK(obliv_semi_join(&a, ak, &b, bk, 2, 1, 1, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE); /* NULL-aware needs one key */
    CHECK(obliv_semi_join(&a, ak, &b, bk, 1, 0, 1, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_USAGE); /* ... and an anti join */
    obliv_rows_free(&c);
    obliv_rows_free(&a);
    obliv_rows_free(&b);
}

static void test_semi_join(void)
{
    const uint32_t ak[2] = {CK, CS}, bk[2] = {0, 1};
    for (int round = 0; round < 240; round++) {
        size_t na = rnd() % 50, nb = rnd() % 50, nk = 1 + (round & 1);
        int mode = (round >> 1) % 3; /* 0 SEMI, 1 ANTI, 2 NOT IN (one key) */
        if (mode == 2) nk = 1;
        if (round % 11 == 10) na = 0;
        if (round % 11 == 9) nb = 0;
        struct obliv_rows a, b, out, ref;
        int nulls = round % 5 != 0;
        gen_keys(&a, na, &b, nb, 2 + (int)(rnd() % 6), nulls, round % 4 == 1);
        if (round % 11 == 8)
            for (size_t i = 0; i < nb; i++) obliv_row(&b, i)[0] = 0; /* all dummies */
        if (round % 11 == 7)
            for (size_t i = 0; i < na; i++) obliv_row(&a, i)[0] = 0;
        int b_null = 0, b_any = 0;
        for (size_t j = 0; j < nb; j++) {
            const uint64_t *y = obliv_row(&b, j);
            b_any |= y[0] != 0;
            b_null |= y[0] && (y[1] & 1);
        }
        CHECK(obliv_rows_alloc(&ref, &LA, na + 1, NULL) == 0);
        size_t m = 0;
        for (size_t i = 0; i < na; i++) {
            const uint64_t *x = obliv_row(&a, i);
            if (!x[0]) continue;
            int match = 0;
            for (size_t j = 0; j < nb; j++) {
                const uint64_t *y = obliv_row(&b, j);
                match |= y[0] && ref_keyeq(x, y, nk);
            }
            int keep = mode == 0 ? match : !match;
            if (mode == 2) keep = !match && !b_null && (!(x[1] >> CK & 1) || !b_any);
            if (keep) memcpy(obliv_row(&ref, m++), x, LA.width * 8);
        }
        ref.n = m;
        struct obliv_opts o = {.leak = round & 8 ? OBLIV_PAD : OBLIV_REVEAL,
                               .bound = m + (round & 3),
                               .threads = 1 + (round & 1)};
        mc2_err err;
        CHECK(obliv_semi_join(&a, ak, &b, bk, nk, mode != 0, mode == 2, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == m);
        CHECK_MSG(same_multiset(&out, &ref), "semi join round %d mode %d", round, mode);
        obliv_rows_free(&out);
        if (m > 0) {
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = m - 1};
            CHECK(obliv_semi_join(&a, ak, &b, bk, nk, mode != 0, mode == 2, &out, &o2, &err) ==
                      -1 &&
                  err.code == MC2_E_LIMIT);
        }
        obliv_rows_free(&ref);
        obliv_rows_free(&a);
        obliv_rows_free(&b);
    }
}

static void test_cross_join(void)
{
    struct obliv_layout LO;
    CHECK(obliv_layout_concat(&LO, &LA, &LB2, NULL) == 0);
    /* a.k < b.k AND a.v + b.w > 0 (column 4 = b.k, 6 = b.w) */
    const struct obliv_xins ins[] = {
        {.op = OX_COL, .col = CK},
        {.op = OX_COL, .col = 4},
        {.op = OX_LT},
        {.op = OX_COL, .col = CV},
        {.op = OX_COL, .col = 6},
        {.op = OX_ADD},
        {.op = OX_CONST, .k = 0},
        {.op = OX_GT},
        {.op = OX_AND},
    };
    for (int round = 0; round < 60; round++) {
        size_t na = rnd() % 30, nb = rnd() % 30;
        if (round % 10 == 9) na = 0;
        struct obliv_rows a, b, out, ref;
        gen_keys(&a, na, &b, nb, 10, round & 1, round % 3 == 1);
        int haspred = round % 4 != 3;
        CHECK(obliv_rows_alloc(&ref, &LO, na * nb + 1, NULL) == 0);
        size_t m = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++) {
                const uint64_t *x = obliv_row(&a, i), *y = obliv_row(&b, j);
                if (!x[0] || !y[0]) continue;
                if (haspred) {
                    if ((x[1] >> CK & 1) || (y[1] & 1) || (x[1] >> CV & 1)) continue;
                    if (!(K(x) < (int64_t)y[LB2.col[0].word])) continue;
                    if (!(V(x) + (int64_t)y[LB2.col[2].word] > 0)) continue;
                }
                concat_row(obliv_row(&ref, m++), x, &LA, y, &LB2);
            }
        ref.n = m;
        struct obliv_opts o = {.leak = round & 2 ? OBLIV_PAD : OBLIV_REVEAL, .bound = m + 2};
        struct obliv_expr e = {ins, 9};
        mc2_err err;
        CHECK(obliv_cross_join(&a, &b, haspred ? &e : NULL, &out, &o, &err) == 0);
        CHECK(check_shape(&out, &o) == m);
        CHECK_MSG(same_multiset(&out, &ref), "cross join round %d", round);
        obliv_rows_free(&out);
        if (m > 0) {
            struct obliv_opts o2 = {.leak = OBLIV_PAD, .bound = m - 1};
            CHECK(obliv_cross_join(&a, &b, haspred ? &e : NULL, &out, &o2, &err) == -1 &&
                  err.code == MC2_E_LIMIT);
        }
        obliv_rows_free(&ref);
        obliv_rows_free(&a);
        obliv_rows_free(&b);
    }
    /* More than 2^26 pairs (public sizes only: the rows are never touched). */
    struct obliv_rows a = {.lay = LA, .n = (size_t)1 << 13}, b = {.lay = LB2, .n = (size_t)1 << 14},
                      out;
    mc2_err err;
    CHECK(obliv_cross_join(&a, &b, NULL, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_LIMIT);
    b.n = SIZE_MAX / 2; /* the product overflows */
    CHECK(obliv_cross_join(&a, &b, NULL, &out, &(struct obliv_opts){0}, &err) == -1 &&
          err.code == MC2_E_LIMIT);
}

/* ---- SUBSTRING ------------------------------------------------------------------------------ */

/* Runs SUBSTRING(s, start[, count]) on the batch with the vectorized executor (encryption
 * mode) and obliviously, and compares every row. */
static void substr_compare(mc2_batch *in, const mc2_schema *sc, uint32_t start, uint32_t count,
                           int has_count)
{
    mc2_err err;
    mc2_plan *P = mc2_plan_new(0, &err);
    CHECK(P != NULL);
    unsigned cols[1] = {0};
    mc2_pnode *scan = mc2_pn_scan(P, 0, sc, cols, 1);
    mc2_pexpr *args[3] = {mc2_px_col(P, 0, sc->cols[0].type, true), mc2_px_int(P, start),
                          mc2_px_int(P, count)};
    mc2_pexpr *f = mc2_px_func(P, MC2_PF_SUBSTRING, args, has_count ? 3 : 2);
    mc2_pnode *root = mc2_pn_project(P, scan, &f, 1, NULL);
    CHECK(mc2_plan_error(P) == NULL && root != NULL);
    const mc2_batch *bs[1] = {in};
    mc2_exec_input inp = {.batches = bs, .nbatches = 1};
    mc2_exec *x;
    mc2_batch *res = NULL;
    CHECK(mc2_exec_open(P, root, &inp, 1, NULL, &x, &err) == 0);
    CHECK(mc2_exec_collect(x, 1000000, &res, &err) == 0);
    mc2_exec_free(x);
    CHECK(res != NULL && res->nrows == in->nrows);
    mc2_coltype ot = mc2_pn_schema(root)->cols[0].type;

    struct obliv_rows r, out;
    CHECK(obliv_rows_from_batch(&r, in, &err) == 0);
    struct obliv_proj it = {.kind = OBLIV_PROJ_SUBSTR,
                            .col = 0,
                            .start = start,
                            .count = has_count ? count : UINT32_MAX,
                            .type = ot};
    CHECK(obliv_project(&r, &it, 1, &out, &err) == 0);
    size_t bad = 0;
    for (size_t i = 0; res && i < res->nrows && i < out.n; i++) {
        const uint64_t *w = obliv_row(&out, i);
        const mc2_col *c = &res->cols[0];
        int isnull = c->nulls && c->nulls[i];
        size_t len = c->off[i + 1] - c->off[i];
        if ((int)(w[1] & 1) != isnull) bad++;
        if (w[0] != 1 || w[2] != len || memcmp(w + 3, c->data + c->off[i], len)) bad++;
        const unsigned char *pb = (const unsigned char *)(w + 3);
        for (size_t j = len; j < 8 * (out.lay.col[0].nwords - 1); j++) bad += pb[j] != 0;
    }
    CHECK_MSG(bad == 0, "SUBSTRING(s, %u, %u%s): %zu differences", start, count,
              has_count ? "" : " (none)", bad);
    obliv_rows_free(&out);
    obliv_rows_free(&r);
    mc2_batch_free(res);
    mc2_plan_free(P);
}

static void test_substring(void)
{
    static const char *cps[] = {
        "a", "Z", " ", "\xc3\xa9", "\xd0\x96", "\xe2\x82\xac", "\xe4\xb8\xad", "\xf0\x9f\x98\x80"};
    mc2_column_def defs[1] = {
        {.name = "s", .type = {.id = MC2_T_VARCHAR, .length = 6}, .nullable = true}};
    mc2_schema sc = {.name = "t", .ncols = 1, .cols = defs};
    size_t n = 300;
    mc2_err err;
    mc2_batch *b = mc2_batch_new(&sc, n, &err);
    CHECK(b != NULL);
    CHECK(mc2_batch_reserve_chars(b, 0, 24 * n, &err) == 0);
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        int isnull = rnd() % 9 == 0;
        size_t ncp = isnull ? 0 : i < 8 ? i % 7 : rnd() % 7;
        for (size_t k = 0; k < ncp; k++) {
            /* Some rows pure ASCII, some all 4-byte, the rest a mix. */
            const char *cp = i % 5 == 0 ? cps[rnd() % 3] : i % 5 == 1 ? cps[7] : cps[rnd() % 8];
            memcpy(b->cols[0].data + off, cp, strlen(cp));
            off += (uint32_t)strlen(cp);
        }
        b->cols[0].nulls[i] = (uint8_t)isnull;
        b->cols[0].off[i + 1] = off;
    }
    b->nrows = n;
    const uint32_t starts[] = {1, 2, 3, 6, 7, 9};
    const uint32_t counts[] = {0, 1, 2, 3, 5, 6};
    for (size_t s = 0; s < sizeof starts / sizeof *starts; s++) {
        substr_compare(b, &sc, starts[s], 0, 0);
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            substr_compare(b, &sc, starts[s], counts[c], 1);
    }
    /* Hand-checked: SUBSTRING('é€😀ab', 2, 3) = '€😀a' (3 + 4 + 1 = 8 bytes). */
    struct obliv_rows r, out;
    struct obliv_layout L1;
    CHECK(obliv_layout_init(&L1, &defs[0].type, 1, NULL) == 0);
    CHECK(obliv_rows_alloc(&r, &L1, 1, NULL) == 0);
    const char *v = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                    "ab";
    uint64_t *w = obliv_row(&r, 0);
    w[0] = 1, w[2] = strlen(v);
    memcpy(w + 3, v, strlen(v));
    struct obliv_proj it = {.kind = OBLIV_PROJ_SUBSTR,
                            .col = 0,
                            .start = 2,
                            .count = 3,
                            .type = {.id = MC2_T_VARCHAR, .length = 3}};
    CHECK(obliv_project(&r, &it, 1, &out, &err) == 0);
    w = obliv_row(&out, 0);
    CHECK(w[2] == 8 && !memcmp(w + 3,
                               "\xe2\x82\xac\xf0\x9f\x98\x80"
                               "a",
                               8));
    obliv_rows_free(&out);
    /* Misuse: start 0, a non-VARCHAR column, an output type too short. */
    it.start = 0;
    CHECK(obliv_project(&r, &it, 1, &out, &err) == -1 && err.code == MC2_E_USAGE);
    it.start = 1, it.type.length = 2;
    CHECK(obliv_project(&r, &it, 1, &out, &err) == -1 && err.code == MC2_E_USAGE);
    obliv_rows_free(&r);
    struct obliv_rows ra;
    gen_a(&ra, 3, 5, 0);
    it = (struct obliv_proj){.kind = OBLIV_PROJ_SUBSTR,
                             .col = CK,
                             .start = 1,
                             .count = 1,
                             .type = {.id = MC2_T_VARCHAR, .length = 1}};
    CHECK(obliv_project(&ra, &it, 1, &out, &err) == -1 && err.code == MC2_E_USAGE);
    obliv_rows_free(&ra);
    mc2_batch_free(b);
}

int main(void)
{
    mc2_coltype ta[4] = {{.id = MC2_T_INT64},
                         {.id = MC2_T_INT64},
                         {.id = MC2_T_DECIMAL, .precision = 12, .scale = 2},
                         {.id = MC2_T_VARCHAR, .length = 3}};
    if (obliv_layout_init(&LA, ta, 4, NULL)) return 1;
    test_filter();
    test_project();
    test_order_limit();
    test_group_by();
    test_group_by_nullkeys();
    test_distinct_union();
    test_pkfk();
    test_equi_join();
    test_batch();
    mc2_coltype tb2[3] = {
        {.id = MC2_T_INT64}, {.id = MC2_T_VARCHAR, .length = 3}, {.id = MC2_T_INT64}};
    if (obliv_layout_init(&LB2, tb2, 3, NULL)) return 1;
    test_multikey_joins();
    test_semi_join();
    test_cross_join();
    test_substring();
    return test_done("test_obliv_ops");
}
