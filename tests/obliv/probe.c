/* probe.c - drives the oblivious primitives for the valgrind proofs (docs/obliv.md).
 *
 *   probe memcheck        run every primitive with its secret inputs marked undefined
 *                         (memcheck client requests), then mark the outputs defined and check
 *                         them; under memcheck this must produce ZERO errors
 *   probe leak-branch     control: a branch on a secret (memcheck MUST report it)
 *   probe leak-index      control: a load at a secret index (memcheck MUST report it)
 *   probe leak-fastsort   control: the non-oblivious radix sort (memcheck MUST report it)
 *   probe trace           run every primitive (and the controls) on several inputs of the
 *                         same public size, each call between two stores to a marker word;
 *                         prints "MARK <address>" on stderr and one "REGION <name> <variant>"
 *                         line per call on stdout, for run_trace.sh to cut lackey's trace into
 *                         regions and compare
 *
 *   probe trace-quick     the same with three inputs per primitive instead of five
 *
 * Every buffer is static (fixed addresses), calls use one thread in trace mode, and each
 * primitive runs once before its first marked call (lazy binding), so any difference
 * between two regions of the same primitive comes from the primitive itself. */
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/fastsort.h"
#include "obliv/shuffle.h"
#include "obliv/sort.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>
#define PROBE_NAME "probe"
#include "probe_util.h"

#define N_SORT    300 /* not a power of two; > the tiny cache block below: all paths run */
#define N_COMPACT 300 /* compaction size */
#define N_SHUFFLE 100 /* shuffle size */
#define N_CT      64  /* ct helper inputs */
#define VARIANTS  5   /* inputs per primitive in trace mode */
#define MAXW      5   /* widest record, in words */

static uint64_t recs[N_SORT * MAXW], expect[N_SORT * MAXW], scratch[N_SORT * (MAXW + 2)];
static uint8_t marks[N_COMPACT];
static uint64_t ct_in[2 * N_CT], ct_out[16 * N_CT];
static unsigned char bytes_a[N_CT * 8], bytes_b[N_CT * 8];
/* Sizes in use: the above under memcheck, smaller under lackey (whose trace is about ten
 * lines per instruction). Public, and fixed for the whole run. */
static size_t ns = N_SORT, nc = N_COMPACT, nsh = N_SHUFFLE;
/* Trace mode runs each primitive on the first nvariants of these inputs (see key_for and
 * compact_fill): "trace" all five, "trace-quick" (for the -O0 build, whose trace is several
 * times longer) three: random, all equal / alternating marks, sorted / no marks. */
static const unsigned variant_order[VARIANTS] = {0, 3, 1, 4, 2};
static unsigned nvariants = VARIANTS;
static volatile uint64_t trace_mark;
static volatile uint64_t sink;
/* Keys by variant: random, sorted, reversed, all equal, few distinct. */
static uint64_t key_for(unsigned variant, size_t i)
{
    switch (variant) {
    case 1:
        return i;
    case 2:
        return ~(uint64_t)i;
    case 3:
        return 42;
    case 4:
        return rnd() % 3;
    default:
        return rnd();
    }
}

/* ---- ct helpers -------------------------------------------------------------------------- */

static void ct_fill(unsigned variant)
{
    for (size_t i = 0; i < 2 * N_CT; i++) ct_in[i] = key_for(variant, i) ^ (i & 1 ? 1 : 0);
    for (size_t i = 0; i < N_CT * 8; i++) {
        bytes_a[i] = (unsigned char)key_for(variant, i);
        bytes_b[i] = (unsigned char)key_for(variant, i + 1);
    }
}

static void ct_run(void)
{
    for (size_t i = 0; i < N_CT; i++) {
        uint64_t x = ct_in[2 * i], y = ct_in[2 * i + 1];
        uint64_t *o = ct_out + 16 * i;
        o[0] = ct_eq_u64(x, y);
        o[1] = ct_lt_u64(x, y);
        o[2] = ct_lt_i64((int64_t)x, (int64_t)y);
        o[3] = ct_select_u64(o[1], x, y);
        o[4] = ct_nonzero(x & 7);
        o[5] = ct_mask(y & 1);
        o[6] = ct_lt_words(ct_in + 2 * i, ct_in + ((2 * i + 2) % (2 * N_CT)), 2);
        o[7] = ct_lt_bytes(bytes_a + 8 * i, bytes_b + 8 * i, 8);
        ct_cswap_bytes(o[1], bytes_a + 8 * i, bytes_b + 8 * i, 8 - i % 3);
        ct_cmov_bytes(o[0], bytes_a + 8 * i, bytes_b + 8 * i, 8);
        o[8] = x;
        o[9] = y;
        double f;
        memcpy(&f, &x, 8);
        o[10] = obliv_key_f64(f);
        o[11] = obliv_key_desc(obliv_key_i64((int64_t)y));
    }
}

static void ct_memcheck(void)
{
    ct_fill(0);
    uint64_t in[2 * N_CT];
    unsigned char a0[N_CT * 8], b0[N_CT * 8];
    memcpy(in, ct_in, sizeof in);
    memcpy(a0, bytes_a, sizeof a0);
    memcpy(b0, bytes_b, sizeof b0);
    secret(ct_in, sizeof ct_in);
    secret(bytes_a, sizeof bytes_a);
    secret(bytes_b, sizeof bytes_b);
    ct_run();
    reveal(ct_out, sizeof ct_out);
    reveal(bytes_a, sizeof bytes_a);
    reveal(bytes_b, sizeof bytes_b);
    int ok = 1;
    for (size_t i = 0; i < N_CT; i++) {
        uint64_t x = in[2 * i], y = in[2 * i + 1], *o = ct_out + 16 * i;
        ok &= o[0] == (x == y ? ~0ull : 0) && o[1] == (x < y ? ~0ull : 0);
        ok &= o[2] == ((int64_t)x < (int64_t)y ? ~0ull : 0) && o[3] == (x < y ? x : y);
        ok &= o[7] == (memcmp(a0 + 8 * i, b0 + 8 * i, 8) < 0 ? ~0ull : 0);
        ok &= o[11] == ~(y ^ (1ull << 63));
    }
    if (!ok) fail("ct helpers give wrong results");
}

/* ---- sort --------------------------------------------------------------------------------- */

static uint64_t lt_fn(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return ct_lt_words(a, b, 2);
}

struct sort_case {
    const char *name;
    size_t wwords, ko, kw;
    int use_fn, no_simd;
};
static const struct sort_case sort_cases[] = {
    {"sort16-simd", 2, 0, 1, 0, 0},     {"sort16-scalar", 2, 0, 1, 0, 1},
    {"sort24-key@8", 3, 1, 1, 0, 0},    {"sort32-2keys", 4, 1, 2, 0, 0},
    {"sort16-callback", 2, 0, 2, 1, 0}, {"sort40-key@16", 5, 2, 1, 0, 0},
    {"sort32-callback", 4, 0, 2, 1, 0},
};
#define N_SORT_CASES (sizeof sort_cases / sizeof sort_cases[0])

static void sort_fill(const struct sort_case *sc, unsigned variant)
{
    for (size_t i = 0; i < ns; i++)
        for (size_t w = 0; w < sc->wwords; w++)
            recs[i * sc->wwords + w] = w >= sc->ko ? key_for(variant, i) : (uint64_t)i;
}

static void sort_run(const struct sort_case *sc, unsigned threads)
{
    struct obliv_sort_spec s = {.width = sc->wwords * 8,
                                .key_off = sc->ko * 8,
                                .key_words = sc->kw,
                                .lt = sc->use_fn ? lt_fn : NULL,
                                .threads = threads,
                                .block_bytes = 256,    /* tiny: exercise the blocked path */
                                .par_min_bytes = 1024, /* tiny: exercise the thread split */
                                .no_simd = sc->no_simd};
    obliv_sort(recs, ns, &s);
}

static size_t g_ww, g_ko, g_kw;
static int cmp_key(const void *a, const void *b)
{
    const uint64_t *x = (const uint64_t *)a + g_ko, *y = (const uint64_t *)b + g_ko;
    for (size_t i = 0; i < g_kw; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

static void sort_memcheck(const struct sort_case *sc, unsigned threads)
{
    sort_fill(sc, 0);
    size_t bytes = ns * sc->wwords * 8;
    memcpy(expect, recs, bytes);
    g_ww = sc->wwords, g_ko = sc->use_fn ? 0 : sc->ko, g_kw = sc->kw;
    qsort(expect, ns, sc->wwords * 8, cmp_key);
    secret(recs, bytes);
    sort_run(sc, threads);
    reveal(recs, bytes);
    for (size_t i = 0; i < ns; i++)
        if (cmp_key(recs + i * sc->wwords, expect + i * sc->wwords) != 0) {
            fail(sc->name);
            return;
        }
}

/* ---- compaction --------------------------------------------------------------------------- */

static void compact_fill(unsigned variant)
{
    for (size_t i = 0; i < nc; i++) {
        recs[2 * i] = rnd();
        recs[2 * i + 1] = i;
        uint64_t r = rnd() % 100;
        marks[i] = variant == 1   ? 0
                   : variant == 2 ? 1
                   : variant == 3 ? (uint8_t)(i & 1)
                   : variant == 4 ? (uint8_t)(i < nc / 2 ? 0 : 7)
                                  : (uint8_t)(r < 50);
    }
}

static uint64_t compact_run(void)
{
    return obliv_compact(recs, nc, 16, marks, scratch);
}

static void compact_memcheck(void)
{
    compact_fill(0);
    uint8_t m0[N_COMPACT];
    memcpy(m0, marks, sizeof m0);
    secret(recs, nc * 16);
    secret(marks, sizeof marks);
    uint64_t cnt = compact_run();
    reveal(&cnt, sizeof cnt);
    reveal(recs, nc * 16);
    size_t k = 0;
    int ok = 1;
    for (size_t i = 0; i < nc; i++)
        if (m0[i]) ok &= recs[2 * k++ + 1] == i;
    if (!ok || cnt != k) fail("compact");
}

/* ---- shuffle ------------------------------------------------------------------------------ */

static void shuffle_rng(void *ctx, void *out, size_t len)
{
    uint64_t *st = ctx;
    unsigned char *o = out;
    for (size_t i = 0; i < len; i++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        o[i] = (unsigned char)(*st >> 56);
    }
    secret(out, len); /* tags are secret */
}

static uint64_t shuffle_seed;
static void shuffle_fill(unsigned variant)
{
    for (size_t i = 0; i < nsh; i++) recs[i] = variant == 3 ? 5 : key_for(variant, i) ^ i;
    shuffle_seed = 1000 + variant;
}

static void shuffle_run(unsigned threads)
{
    obliv_shuffle(recs, nsh, 8, shuffle_rng, &shuffle_seed, scratch, threads);
}

static void shuffle_memcheck(unsigned threads)
{
    for (size_t i = 0; i < nsh; i++) recs[i] = i;
    shuffle_seed = 7;
    secret(recs, nsh * 8);
    shuffle_run(threads);
    reveal(recs, nsh * 8);
    uint64_t seen[N_SHUFFLE] = {0};
    for (size_t i = 0; i < nsh; i++)
        if (recs[i] < nsh) seen[recs[i]]++;
    for (size_t i = 0; i < nsh; i++)
        if (seen[i] != 1) {
            fail("shuffle is not a permutation");
            return;
        }
}

/* ---- leaky controls: these MUST be caught --------------------------------------------------- */

__attribute__((noinline)) static void leak_bump(void)
{
    sink = sink + 1;
}

/* A branch on a secret: the call cannot be turned into a conditional move. */
__attribute__((noinline)) static void leak_branch(const uint64_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] & 1) leak_bump();
}

/* A load at a secret index (a table look-up, the classic cache side channel). */
static const uint64_t leak_table[64] = {1, 2, 3, 4, 5, 6, 7, 8};
__attribute__((noinline)) static void leak_index(const uint64_t *s, size_t n)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) acc += leak_table[s[i] & 63];
    sink = acc;
}

static void leak_fastsort(void)
{
    obliv_fastsort(recs, ns, 16, 0, 1, scratch);
}

static void fill_plain(unsigned variant)
{
    for (size_t i = 0; i < ns; i++) recs[2 * i] = key_for(variant, i), recs[2 * i + 1] = i;
}

/* ---- trace mode ---------------------------------------------------------------------------- */

static void mark(void)
{
    trace_mark = trace_mark + 1;
}

static void region(const char *name, unsigned variant)
{
    printf("REGION %s %u\n", name, variant);
}

static void trace_all(void)
{
    /* On stderr, which run_trace.sh merges with lackey's trace, so it arrives first. */
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    /* ct helpers */
    ct_fill(0);
    ct_run(); /* warm-up */
    for (unsigned vi = 0; vi < nvariants; vi++) {
        unsigned v = variant_order[vi];
        ct_fill(v);
        region("ct", v);
        mark();
        ct_run();
        mark();
    }
    for (size_t c = 0; c < N_SORT_CASES; c++) {
        /* Under lackey: 100 records for the 16-byte kernels, 40 for the generic ones (the
         * same functions and paths, at a quarter of the trace). */
        ns = sort_cases[c].wwords == 2 && !sort_cases[c].use_fn ? 100 : 40;
        sort_fill(&sort_cases[c], 0);
        sort_run(&sort_cases[c], 1);
        for (unsigned vi = 0; vi < nvariants; vi++) {
            unsigned v = variant_order[vi];
            sort_fill(&sort_cases[c], v);
            region(sort_cases[c].name, v);
            mark();
            sort_run(&sort_cases[c], 1);
            mark();
        }
    }
    compact_fill(0);
    compact_run();
    for (unsigned vi = 0; vi < nvariants; vi++) {
        unsigned v = variant_order[vi];
        compact_fill(v);
        region("compact", v);
        mark();
        sink = compact_run();
        mark();
    }
    shuffle_fill(0);
    shuffle_run(1);
    for (unsigned vi = 0; vi < nvariants; vi++) {
        unsigned v = variant_order[vi];
        shuffle_fill(v);
        region("shuffle", v);
        mark();
        shuffle_run(1);
        mark();
    }
    /* Controls: run_trace.sh requires these regions to DIFFER between variants. */
    ns = 100;
    fill_plain(0);
    leak_branch(recs, ns);
    leak_index(recs, ns);
    leak_fastsort();
    for (unsigned vi = 0; vi < nvariants; vi++) {
        unsigned v = variant_order[vi];
        fill_plain(v);
        region("control-leak-branch", v);
        mark();
        leak_branch(recs, ns);
        mark();
        fill_plain(v);
        region("control-leak-index", v);
        mark();
        leak_index(recs, ns);
        mark();
        fill_plain(v);
        region("control-leak-fastsort", v);
        mark();
        leak_fastsort();
        mark();
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    rng_state = 12345;
    if (!strcmp(mode, "memcheck")) {
        ct_memcheck();
        for (size_t c = 0; c < N_SORT_CASES; c++)
            for (unsigned th = 1; th <= 2; th++) sort_memcheck(&sort_cases[c], th);
        compact_memcheck();
        shuffle_memcheck(1);
        shuffle_memcheck(2);
        printf("probe memcheck: ct, %zu sort layouts x {1,2} threads, compact, shuffle: %s\n",
               N_SORT_CASES, failures ? "WRONG RESULTS" : "results correct");
        return failures ? 1 : 0;
    }
    if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
        !strcmp(mode, "leak-fastsort")) {
        fill_plain(0);
        secret(recs, sizeof recs);
        if (!strcmp(mode, "leak-branch"))
            leak_branch(recs, ns);
        else if (!strcmp(mode, "leak-index"))
            leak_index(recs, ns);
        else
            leak_fastsort();
        printf("probe %s: ran\n", mode);
        return 0;
    }
    if (!strcmp(mode, "trace") || !strcmp(mode, "trace-quick")) {
        tracing = 1;
        nvariants = !strcmp(mode, "trace") ? VARIANTS : 3;
        nc = 100, nsh = 40; /* ns: per sort case, in trace_all */
        trace_all();
        return 0;
    }
    fprintf(stderr,
            "usage: probe memcheck|leak-branch|leak-index|leak-fastsort|trace|trace-quick\n");
    return 2;
}
