/* bench_obliv_ops.c - micro-benchmark of the oblivious operators (src/obliv/op.h) against
 * quick non-oblivious equivalents (branching filter, hash aggregation, hash joins) on the
 * same fixed-width rows. Not a test. Usage: bench_obliv_ops [log2_rows ...] (default 16 20).
 * Prints input rows per second (CPU time of the process, all threads, and wall time). */
#include "obliv/op.h"
#include "obliv/rows.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rs = 1;
static uint64_t rnd(void)
{
    uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static struct obliv_layout L; /* k INT64, v INT64, d DECIMAL(15,2) */

static void gen(struct obliv_rows *r, size_t n, uint64_t keyrange)
{
    if (obliv_rows_alloc(r, &L, n, NULL)) abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t *w = obliv_row(r, i);
        w[0] = 1;
        w[2] = rnd() % keyrange;
        w[3] = rnd() % 1000000;
        w[4] = rnd() % 100000000;
    }
}

/* ---- non-oblivious equivalents ------------------------------------------------------------ */

static size_t plain_filter(struct obliv_rows *r, int64_t t)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t *w = obliv_row(r, i);
        if ((int64_t)w[3] < t) memmove(obliv_row(r, k++), w, L.width * 8);
    }
    r->n = k;
    return k;
}

struct hent {
    uint64_t key, used;
    int64_t cnt, sum, mn, mx;
};
static size_t plain_groupby(const struct obliv_rows *r, size_t cap)
{
    struct hent *h = calloc(cap, sizeof *h);
    size_t groups = 0;
    for (size_t i = 0; i < r->n; i++) {
        const uint64_t *w = obliv_row(r, i);
        size_t j = (w[2] * 0x9e3779b97f4a7c15ull) >> 40 & (cap - 1);
        while (h[j].used && h[j].key != w[2]) j = (j + 1) & (cap - 1);
        if (!h[j].used) {
            h[j] = (struct hent){.key = w[2], .used = 1, .mn = INT64_MAX, .mx = INT64_MIN};
            groups++;
        }
        int64_t v = (int64_t)w[3];
        h[j].cnt++, h[j].sum += v;
        h[j].mn = v < h[j].mn ? v : h[j].mn, h[j].mx = v > h[j].mx ? v : h[j].mx;
    }
    free(h);
    return groups;
}

/* Hash join with chaining (handles any multiplicity); output rows materialised. */
static size_t plain_join(const struct obliv_rows *a, const struct obliv_rows *b,
                         struct obliv_rows *out)
{
    size_t cap = 1;
    while (cap < 2 * a->n) cap <<= 1;
    int64_t *head = malloc(cap * 8), *next = malloc(a->n * 8);
    memset(head, 0xff, cap * 8);
    for (size_t i = 0; i < a->n; i++) {
        size_t j = (obliv_row(a, i)[2] * 0x9e3779b97f4a7c15ull) >> 20 & (cap - 1);
        next[i] = head[j];
        head[j] = (int64_t)i;
    }
    struct obliv_layout lo;
    if (obliv_layout_concat(&lo, &L, &L, NULL) || obliv_rows_alloc(out, &lo, b->n, NULL)) abort();
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        const uint64_t *y = obliv_row(b, i);
        size_t j = (y[2] * 0x9e3779b97f4a7c15ull) >> 20 & (cap - 1);
        for (int64_t e = head[j]; e >= 0; e = next[e]) {
            const uint64_t *x = obliv_row(a, (size_t)e);
            if (x[2] != y[2]) continue;
            if (m == out->cap) {
                struct obliv_rows t;
                if (obliv_rows_alloc(&t, &lo, 2 * out->cap, NULL)) abort();
                memcpy(t.w, out->w, out->cap * lo.width * 8);
                obliv_rows_free(out);
                *out = t;
            }
            uint64_t *d = obliv_row(out, m++);
            d[0] = 1;
            memcpy(d + 2, x + 2, (L.width - 2) * 8);
            memcpy(d + L.width, y + 2, (L.width - 2) * 8);
        }
    }
    out->n = m;
    free(head);
    free(next);
    return m;
}

static void report(const char *what, size_t n, double cpu_o, double wall_o, double cpu_p,
                   double wall_p)
{
    printf("%-14s n=2^%-2d  oblivious %8.3f s cpu %8.3f s wall (%6.2f Mrows/s)   plain %7.4f s "
           "cpu (%7.2f Mrows/s)   ratio cpu %6.1fx  wall %6.1fx\n",
           what, __builtin_ctzll(n), cpu_o, wall_o, (double)n / wall_o / 1e6, cpu_p,
           (double)n / cpu_p / 1e6, cpu_o / cpu_p, wall_o / wall_p);
    fflush(stdout);
}

#define TIMED(cpu, wall, stmt)                                                                     \
    do {                                                                                           \
        double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);                      \
        stmt;                                                                                      \
        cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = now(CLOCK_MONOTONIC) - w0;                \
    } while (0)

static void bench(size_t n, unsigned threads)
{
    struct obliv_opts o = {.leak = OBLIV_REVEAL, .threads = threads};
    struct obliv_rows a, b, out;
    double co, wo, cp, wp;
    /* filter: v < 500000 (50 %) */
    struct obliv_xins ins[] = {
        {.op = OX_COL, .col = 1}, {.op = OX_CONST, .k = 500000}, {.op = OX_LT}};
    struct obliv_expr e = {ins, 3};
    gen(&a, n, n);
    TIMED(co, wo, if (obliv_filter(&a, &e, &o, NULL)) abort());
    obliv_rows_free(&a);
    gen(&a, n, n);
    TIMED(cp, wp, plain_filter(&a, 500000));
    obliv_rows_free(&a);
    report("filter", n, co, wo, cp, wp);
    /* group by k (1024 groups): COUNT(*), SUM(v), MIN(v), MAX(v) */
    gen(&a, n, 1024);
    uint32_t keys[1] = {0};
    struct obliv_agg ag[4] = {{OA_COUNT_STAR, 0}, {OA_SUM, 1}, {OA_MIN, 1}, {OA_MAX, 1}};
    TIMED(co, wo, if (obliv_group_by(&a, keys, 1, ag, 4, &out, &o, NULL)) abort());
    obliv_rows_free(&out);
    TIMED(cp, wp, plain_groupby(&a, 4096));
    obliv_rows_free(&a);
    report("group-by", n, co, wo, cp, wp);
    /* PK-FK join: n pk rows (keys 0..n-1 permuted), n fk rows (random pk) */
    gen(&a, n, 1);
    for (size_t i = 0; i < n; i++) obliv_row(&a, i)[2] = (i * 0x9e3779b1ull) & (n - 1);
    gen(&b, n, n);
    TIMED(co, wo,
          if (obliv_pkfk_join(&a, &(uint32_t){0}, &b, &(uint32_t){0}, 1, &out, &o, NULL)) abort());
    obliv_rows_free(&out);
    TIMED(cp, wp, plain_join(&a, &b, &out));
    obliv_rows_free(&out);
    report("pk-fk join", 2 * n, co, wo, cp, wp);
    /* general equi-join: both sides n rows, keys random in 0..n-1 (m about n) */
    obliv_rows_free(&a);
    gen(&a, n, n);
    TIMED(co, wo,
          if (obliv_equi_join(&a, &(uint32_t){0}, &b, &(uint32_t){0}, 1, &out, &o, NULL)) abort());
    size_t m = out.n;
    obliv_rows_free(&out);
    TIMED(cp, wp, plain_join(&a, &b, &out));
    if (out.n != m) fprintf(stderr, "equi-join: %zu rows vs %zu\n", m, out.n);
    obliv_rows_free(&out);
    report("equi-join", 2 * n, co, wo, cp, wp);
    obliv_rows_free(&a);
    obliv_rows_free(&b);
}

int main(int argc, char **argv)
{
    mc2_coltype t[3] = {{.id = MC2_T_INT64},
                        {.id = MC2_T_INT64},
                        {.id = MC2_T_DECIMAL, .precision = 15, .scale = 2}};
    if (obliv_layout_init(&L, t, 3, NULL)) return 1;
    int logs[8] = {16, 20}, nl = 2;
    if (argc > 1) {
        nl = 0;
        for (int i = 1; i < argc && nl < 8; i++) logs[nl++] = atoi(argv[i]);
    }
    for (int i = 0; i < nl; i++) bench((size_t)1 << logs[i], 2);
    return 0;
}
