/* probe_expr.c - drives the constant-time expression evaluator's division, DOUBLE, date,
 * LIKE and string-comparison instructions (src/obliv/expr.h) for the valgrind proofs, with
 * probe.c's command line so that run_memcheck.sh and run_trace.sh check it unchanged
 * (docs/obliv.md, "How obliviousness is checked"):
 *
 *   probe_expr memcheck      every instruction family over rows whose every word (valid,
 *                            null flags, values, string bytes and lengths) is marked
 *                            undefined; results (revealed afterwards) are checked against
 *                            a run on defined data and against known answers. Must give
 *                            ZERO memcheck errors.
 *   probe_expr leak-branch   control: a string comparison that stops at the first
 *                            difference (memcmp); memcheck MUST report it
 *   probe_expr leak-index    control: month lengths read from a table indexed by the month
 *   probe_expr leak-fastsort control: dates sorted with the non-oblivious radix sort
 *   probe_expr trace         every family on five inputs of the same public sizes and
 *                            different contents (random; all zero; edge values: INT64_MIN,
 *                            zero and -1 divisors, 1e300, -0.0, month ends, full-width
 *                            4-byte strings; all NULL; random with NULLs and dummies), each
 *                            run between two stores to a marker word (8 rows); the
 *                            controls' regions must differ
 *   probe_expr trace-quick   three inputs per family, 6 rows (for -O0)
 * No allocation at all: the rows, programs and results are static, so every address in a
 * region is a function of the program. */
#include "obliv/ct.h"
#include "obliv/expr.h"
#include "obliv/fastsort.h"
#include "obliv/rows.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>
#define PROBE_NAME "probe_expr"
#include "probe_util.h"

#define NMAX     96
#define VARIANTS 5
#define MAXW     32 /* words per row (the layout below has 18) */
#define MAXPROG  8

static size_t nrow = NMAX;
static volatile uint64_t trace_mark, sink;

/* a INT64, b INT64, f DOUBLE, g DOUBLE, dt DATE, s VARCHAR(6), t VARCHAR(3) */
enum { A, B, F, G, DT, S, T, NCOL };
static struct obliv_layout lay;
static uint64_t rows[NMAX * MAXW];
static uint64_t res[MAXPROG][NMAX], rnul[MAXPROG][NMAX], rovf[NMAX];
static uint64_t ref[MAXPROG][NMAX], refnul[MAXPROG][NMAX], refovf[NMAX];

static void layout(void)
{
    mc2_coltype t[NCOL] = {{.id = MC2_T_INT64},
                           {.id = MC2_T_INT64},
                           {.id = MC2_T_DOUBLE},
                           {.id = MC2_T_DOUBLE},
                           {.id = MC2_T_DATE},
                           {.id = MC2_T_VARCHAR, .length = 6},
                           {.id = MC2_T_VARCHAR, .length = 3}};
    if (obliv_layout_init(&lay, t, NCOL, NULL) || lay.width > MAXW) abort();
}

static uint64_t dbits(double x)
{
    uint64_t b;
    memcpy(&b, &x, 8);
    return b;
}

static void put_str(uint64_t *w, int c, const char *s, size_t n)
{
    size_t cap = 8 * (lay.col[c].nwords - 1);
    if (n > cap) n = cap;
    memset(w + lay.col[c].word + 1, 0, cap);
    memcpy(w + lay.col[c].word + 1, s, n);
    w[lay.col[c].word] = n;
}

static const char *const alpha[] = {
    "a", "b", "%", "_", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e"};

static void rnd_str(uint64_t *w, int c, unsigned maxcp)
{
    char buf[64];
    size_t n = 0;
    unsigned k = (unsigned)(rnd() % (maxcp + 1));
    for (unsigned i = 0; i < k; i++) {
        const char *x = alpha[rnd() % 7];
        memcpy(buf + n, x, strlen(x));
        n += strlen(x);
    }
    put_str(w, c, buf, n);
}

/* Row i of variant v. */
static void fill(unsigned v)
{
    memset(rows, 0, sizeof rows);
    for (size_t i = 0; i < nrow; i++) {
        uint64_t *w = rows + i * lay.width;
        w[OBLIV_W_VALID] = 1;
        uint64_t nulls = 0;
        switch (v) {
        case 1: /* all zero, empty strings */
            break;
        case 2: { /* edges */
            static const double fe[] = {1e300, -0.0, 0.0, -1e300, 0.5};
            static const int32_t de[] = {19782, 19752, -719162, 2932896, -1};
            w[lay.col[A].word] = i & 1 ? (uint64_t)1 << 63 : (uint64_t)INT64_MAX;
            w[lay.col[B].word] = (uint64_t)(int64_t)((int)(i % 3) - 1); /* -1, 0, 1 */
            w[lay.col[F].word] = dbits(fe[i % 5]);
            w[lay.col[G].word] = dbits(fe[(i + 3) % 5]); /* row 0: 1e300 * -1e300 */
            w[lay.col[DT].word] = (uint64_t)(int64_t)de[i % 5];
            put_str(w, S,
                    "\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e"
                    "\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e",
                    24);
            put_str(w, T, "\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e\xf0\x9d\x84\x9e", 12);
            break;
        }
        case 3: /* all NULL */
            nulls = ((uint64_t)1 << NCOL) - 1;
            break;
        default: /* 0 and 4: random; 4 with NULLs and dummies */
            w[lay.col[A].word] = rnd() % 3 ? rnd() % 2000001 - 1000000 : rnd();
            w[lay.col[B].word] = rnd() % 4 ? rnd() % 201 - 100 : rnd();
            w[lay.col[F].word] = dbits((double)(int64_t)(rnd() % 20001 - 10000) / 7);
            w[lay.col[G].word] = dbits((double)(int64_t)(rnd() % 2001 - 1000) / 3);
            w[lay.col[DT].word] = (uint64_t)(int64_t)(-719162 + (int64_t)(rnd() % 3652059));
            rnd_str(w, S, 6);
            rnd_str(w, T, 3);
            if (v == 4) {
                w[OBLIV_W_VALID] = i % 5 != 2;
                nulls = rnd() & (((uint64_t)1 << NCOL) - 1);
            }
            break;
        }
        if (i == 0 && v == 0) { /* known answers (checked in memcheck mode) */
            w[lay.col[A].word] = 7;
            w[lay.col[B].word] = (uint64_t)-2;
            w[lay.col[F].word] = dbits(1.5);
            w[lay.col[G].word] = dbits(-0.0);
            w[lay.col[DT].word] = 19753; /* 2024-01-31 */
            put_str(w, S, "a\xc3\xa9xb", 5);
            put_str(w, T, "a\xc3\xa9", 3);
        }
        for (int c = 0; c < NCOL; c++)
            if ((nulls >> c) & 1) /* the layout's invariant: a NULL's words are zero */
                memset(w + lay.col[c].word, 0, 8 * lay.col[c].nwords);
        w[OBLIV_W_NULLS] = nulls;
    }
}

/* ---- the instruction families ------------------------------------------------------------ */

#define X(...) ((struct obliv_xins){__VA_ARGS__})
static struct obliv_like *lk[4];

struct family {
    const char *name;
    size_t nprog;
    struct obliv_xins prog[MAXPROG][6];
    size_t len[MAXPROG];
};
static struct family fams[5];
#define NFAM (sizeof fams / sizeof fams[0])

static void programs(void)
{
    static const char *const pats[4] = {"a%b", "%_\xc3\xa9%", "__", "%!%_%"};
    for (int i = 0; i < 4; i++)
        if (obliv_like_compile(pats[i], strlen(pats[i]), i == 3 ? '!' : -1, &lk[i], NULL)) abort();
    double m1 = -1.0;
    int64_t m1b;
    memcpy(&m1b, &m1, 8);
    fams[0] = (struct family){
        "expr-divmod",
        4,
        {{X(.op = OX_COL, .col = A), X(.op = OX_COL, .col = B), X(.op = OX_DIV, .k = 1000000),
          X(.op = OX_CHECK_DEC)},
         {X(.op = OX_COL, .col = A), X(.op = OX_COL, .col = B), X(.op = OX_MOD)},
         {X(.op = OX_COL, .col = A), X(.op = OX_CONST, .k = 100), X(.op = OX_DIV, .k = 1)},
         {X(.op = OX_COL, .col = B), X(.op = OX_COL, .col = A),
          X(.op = OX_DIV, .k = 100000000000000000)}},
        {4, 3, 3, 3}};
    fams[1] = (struct family){
        "expr-double",
        7,
        {{X(.op = OX_COL, .col = F), X(.op = OX_COL, .col = G), X(.op = OX_FADD)},
         {X(.op = OX_COL, .col = F), X(.op = OX_COL, .col = G), X(.op = OX_FSUB)},
         {X(.op = OX_COL, .col = F), X(.op = OX_COL, .col = G), X(.op = OX_FMUL)},
         {X(.op = OX_COL, .col = F), X(.op = OX_COL, .col = G), X(.op = OX_FDIV)},
         {X(.op = OX_COL, .col = A), X(.op = OX_I2F, .k = 2)},
         {X(.op = OX_COL, .col = F), X(.op = OX_F2ORD), X(.op = OX_COL, .col = G),
          X(.op = OX_F2ORD), X(.op = OX_LE)},
         {X(.op = OX_COL, .col = F), X(.op = OX_CONST, .k = m1b), X(.op = OX_FMUL)}},
        {3, 3, 3, 3, 2, 5, 3}};
    fams[2] = (struct family){"expr-date",
                              5,
                              {{X(.op = OX_COL, .col = DT), X(.op = OX_YEAR)},
                               {X(.op = OX_COL, .col = DT), X(.op = OX_MONTH)},
                               {X(.op = OX_COL, .col = DT), X(.op = OX_DAY)},
                               {X(.op = OX_COL, .col = DT), X(.op = OX_ADD_MONTHS, .k = 1)},
                               {X(.op = OX_COL, .col = DT), X(.op = OX_ADD_MONTHS, .k = -13)}},
                              {2, 2, 2, 2, 2}};
    fams[3] = (struct family){"expr-like",
                              4,
                              {{X(.op = OX_LIKE, .col = S, .like = lk[0])},
                               {X(.op = OX_LIKE, .col = S, .like = lk[1])},
                               {X(.op = OX_LIKE, .col = T, .like = lk[2], .k = 1)},
                               {X(.op = OX_LIKE, .col = S, .like = lk[3])}},
                              {1, 1, 1, 1}};
    fams[4] =
        (struct family){"expr-strcmp",
                        4,
                        {{X(.op = OX_STR_CMP, .col = S, .col2 = T, .k = 3)},
                         {X(.op = OX_STR_CMP, .col = S, .col2 = T, .k = 1)},
                         {X(.op = OX_STR_CMP, .col = T, .k = 6, .str = "a\xc3\xa9", .len = 3)},
                         {X(.op = OX_STR_CMP, .col = S, .k = 5,
                            .str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", .len = 30)}},
                        {1, 1, 1, 1}};
    for (size_t f = 0; f < NFAM; f++)
        for (size_t p = 0; p < fams[f].nprog; p++) {
            struct obliv_expr e = {fams[f].prog[p], fams[f].len[p]};
            mc2_err err;
            if (obliv_expr_check(&e, &lay, &err)) {
                fprintf(stderr, "probe_expr: %s program %zu: %s\n", fams[f].name, p, err.msg);
                abort();
            }
        }
}

/* Runs every program of family f over every row. */
__attribute__((noinline)) static void run_family(const struct family *f)
{
    for (size_t i = 0; i < nrow; i++) {
        uint64_t o = 0;
        for (size_t p = 0; p < f->nprog; p++) {
            struct obliv_expr e = {f->prog[p], f->len[p]};
            obliv_expr_eval(&e, &lay, rows + i * lay.width, &res[p][i], &rnul[p][i], &o);
        }
        rovf[i] = o;
    }
}

/* Known answers for row 0 of variant 0 (a = 7, b = -2, f = 1.5, g = -0.0, 2024-01-31,
 * s = 'aéxb', t = 'aé'). */
static void known(size_t f)
{
    static const struct {
        size_t fam, prog;
        uint64_t val, nul;
    } k[] = {
        {0, 0, (uint64_t)-3500000, 0}, /* 7 / -2 = -3.5 at scale 6 */
        {0, 1, 1, 0},                  /* 7 % -2 */
        {0, 2, 0, 0},                  /* 7 / 100 rounds to 0 */
        {1, 3, 0, 1},                  /* 1.5 / -0.0 is NULL */
        {1, 5, 0, 0},                  /* 1.5 <= -0.0 */
        {2, 0, 2024, 0},
        {2, 1, 1, 0},
        {2, 2, 31, 0},
        {2, 3, 19782, 0}, /* 2024-02-29 */
        {2, 4, 19357, 0}, /* 2022-12-31 */
        {3, 0, 1, 0},     /* 'aéxb' LIKE 'a%b' */
        {3, 1, 1, 0},     /* LIKE '%_é%': 'é' is the second code point */
        {3, 2, 0, 0},     /* 'aé' NOT LIKE '__' */
        {4, 0, 0, 0},     /* 'aéxb' < 'aé' */
        {4, 1, 0, 0},
        {4, 2, 1, 0}, /* 'aé' >= 'aé' */
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (k[i].fam == f && (res[k[i].prog][0] != k[i].val || rnul[k[i].prog][0] != k[i].nul)) {
            fprintf(stderr, "probe_expr: %s program %zu: got %llx null %llu\n", fams[f].name,
                    k[i].prog, (unsigned long long)res[k[i].prog][0],
                    (unsigned long long)rnul[k[i].prog][0]);
            fail("known answer");
        }
}

static void memcheck_family(size_t f)
{
    for (unsigned v = 0; v < VARIANTS; v++) {
        rng_state = 1000 + v;
        fill(v);
        run_family(&fams[f]); /* reference, on defined data */
        memcpy(ref, res, sizeof res);
        memcpy(refnul, rnul, sizeof rnul);
        memcpy(refovf, rovf, sizeof rovf);
        secret(rows, sizeof rows);
        run_family(&fams[f]);
        reveal(res, sizeof res);
        reveal(rnul, sizeof rnul);
        reveal(rovf, sizeof rovf);
        reveal(rows, sizeof rows);
        if (memcmp(ref, res, sizeof res) || memcmp(refnul, rnul, sizeof rnul) ||
            memcmp(refovf, rovf, sizeof rovf))
            fail(fams[f].name);
        if (v == 0) known(f);
        if (v == 2 && f == 1 && !rovf[0]) fail("1e300 * 1e300 must overflow");
    }
}

/* ---- leaky controls --------------------------------------------------------------------- */

/* Encryption mode's string comparison: memcmp stops at the first difference. */
__attribute__((noinline)) static void leak_strcmp(void)
{
    for (size_t i = 0; i < nrow; i++) {
        const uint64_t *w = rows + i * lay.width;
        const unsigned char *s = (const unsigned char *)(w + lay.col[S].word + 1),
                            *t = (const unsigned char *)(w + lay.col[T].word + 1);
        size_t k = 0;
        while (k < 12 && s[k] == t[k]) k++;
        res[0][i] = k;
    }
}
/* Month lengths from a table indexed by the (secret) month. */
static const uint64_t mdays[16] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
__attribute__((noinline)) static void leak_table(void)
{
    for (size_t i = 0; i < nrow; i++)
        res[0][i] = mdays[rows[i * lay.width + lay.col[DT].word] & 15];
}
/* Dates ordered by the radix sort. */
static uint64_t leak_buf[NMAX * 2], leak_scr[NMAX * 2];
__attribute__((noinline)) static void leak_sort(void)
{
    for (size_t i = 0; i < nrow; i++) {
        leak_buf[2 * i] = rows[i * lay.width + lay.col[DT].word];
        leak_buf[2 * i + 1] = i;
    }
    obliv_fastsort(leak_buf, nrow, 16, 0, 1, leak_scr);
    sink = leak_buf[1];
}

static void mark(void)
{
    trace_mark = trace_mark + 1;
}

static void trace_all(unsigned nvariants)
{
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    for (size_t f = 0; f < NFAM + 3; f++) {
        static const char *const ctl[3] = {"control-leak-strcmp", "control-leak-table",
                                           "control-leak-sort"};
        /* a warm-up run first (lazy binding), then one region per variant */
        for (unsigned vi = 0; vi <= nvariants; vi++) {
            unsigned v = vi == 0 ? 0 : vi - 1;
            rng_state = 1000 + v;
            fill(v);
            if (vi > 0) {
                printf("REGION %s %u\n", f < NFAM ? fams[f].name : ctl[f - NFAM], v);
                mark();
            }
            if (f < NFAM)
                run_family(&fams[f]);
            else if (f == NFAM)
                leak_strcmp();
            else if (f == NFAM + 1)
                leak_table();
            else
                leak_sort();
            if (vi > 0) mark();
        }
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    layout();
    programs();
    int rc = 2;
    if (!strcmp(mode, "memcheck")) {
        for (size_t f = 0; f < NFAM; f++) memcheck_family(f);
        printf("probe_expr memcheck: %zu families x %d inputs: %s\n", NFAM, VARIANTS,
               failures ? "WRONG RESULTS" : "results correct");
        rc = failures ? 1 : 0;
    } else if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
               !strcmp(mode, "leak-fastsort")) {
        rng_state = 1000;
        fill(0);
        secret(rows, sizeof rows);
        if (!strcmp(mode, "leak-branch")) leak_strcmp();
        if (!strcmp(mode, "leak-index")) leak_table();
        if (!strcmp(mode, "leak-fastsort")) leak_sort();
        printf("probe_expr %s: ran\n", mode);
        rc = 0;
    } else if (!strcmp(mode, "trace") || !strcmp(mode, "trace-quick")) {
        tracing = 1;
        unsigned nv = !strcmp(mode, "trace") ? VARIANTS : 3;
        nrow = nv == VARIANTS ? 8 : 6; /* lackey: about 30 s per test */
        trace_all(nv);
        rc = failures ? 1 : 0;
    } else {
        fprintf(stderr, "usage: probe_expr memcheck|leak-branch|leak-index|leak-fastsort|trace|"
                        "trace-quick\n");
    }
    for (int i = 0; i < 4; i++) obliv_like_free(lk[i]);
    return rc;
}
