/* bench_sort.c - oblivious sort (AVX2 kernels, and forced scalar) vs mc2's fast radix sort vs
 * libc qsort on 16-byte records {u64 key, u64 payload} with random keys; prints a table of
 * best-of-runs wall times and ratios. Not a test.
 * Usage: bench_sort [log2 n ...]   (default: 16 20 24) */
#include "obliv/fastsort.h"
#include "obliv/sort.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rec {
    uint64_t key, val;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_rec(const void *a, const void *b)
{
    uint64_t x = ((const struct rec *)a)->key, y = ((const struct rec *)b)->key;
    return (x > y) - (x < y);
}

static void fill(struct rec *r, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        r[i].key = splitmix(&seed);
        r[i].val = i;
    }
}

static int sorted(const struct rec *r, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (r[i - 1].key > r[i].key) return 0;
    return 1;
}

/* Best of `reps` runs, each on a fresh copy of the same input. */
typedef void (*sorter)(struct rec *r, size_t n, void *scratch, unsigned threads);
static void s_obliv(struct rec *r, size_t n, void *scratch, unsigned threads)
{
    (void)scratch;
    obliv_sort_u64(r, n, sizeof *r, threads);
}
static void s_scalar(struct rec *r, size_t n, void *scratch, unsigned threads)
{
    (void)scratch;
    struct obliv_sort_spec s = {
        .width = sizeof *r, .key_off = 0, .key_words = 1, .threads = threads, .no_simd = 1};
    obliv_sort(r, n, &s);
}
static void s_fast(struct rec *r, size_t n, void *scratch, unsigned threads)
{
    (void)threads;
    obliv_fastsort(r, n, sizeof *r, 0, 1, scratch);
}
static void s_qsort(struct rec *r, size_t n, void *scratch, unsigned threads)
{
    (void)scratch;
    (void)threads;
    qsort(r, n, sizeof *r, cmp_rec);
}

static double time_it(sorter f, const struct rec *in, struct rec *work, void *scratch, size_t n,
                      unsigned threads, int reps)
{
    double best = 1e300;
    for (int i = 0; i < reps; i++) {
        memcpy(work, in, n * sizeof *in);
        double t0 = now_ms();
        f(work, n, scratch, threads);
        double t = now_ms() - t0;
        if (!sorted(work, n)) {
            fprintf(stderr, "bench_sort: output not sorted (n=%zu)\n", n);
            exit(1);
        }
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    int logs[16], nlogs = 0;
    for (int i = 1; i < argc && nlogs < 16; i++) logs[nlogs++] = atoi(argv[i]);
    if (nlogs == 0) {
        logs[0] = 16;
        logs[1] = 20;
        logs[2] = 24;
        nlogs = 3;
    }
    printf("16-byte records {u64 key, u64 payload}, random keys; best of runs, ms\n");
    printf("%10s %12s %12s %12s %12s %12s %10s %10s %10s %10s\n", "n", "obliv(2thr)", "obliv(1thr)",
           "scalar(2thr)", "radix(1thr)", "qsort", "obl2/radix", "obl1/radix", "scal2/radix",
           "obl2/qsort");
    for (int li = 0; li < nlogs; li++) {
        if (logs[li] < 1 || logs[li] > 28) continue;
        size_t n = (size_t)1 << logs[li];
        struct rec *in = malloc(n * sizeof *in), *work = malloc(n * sizeof *in);
        void *scratch = malloc(n * sizeof *in);
        if (!in || !work || !scratch) {
            fprintf(stderr, "bench_sort: out of memory at n=2^%d\n", logs[li]);
            return 1;
        }
        fill(in, n, 42);
        int reps = logs[li] >= 24 ? 2 : logs[li] >= 20 ? 7 : 15;
        double o2 = time_it(s_obliv, in, work, scratch, n, 2, reps);
        double o1 = time_it(s_obliv, in, work, scratch, n, 1, reps);
        double sc = time_it(s_scalar, in, work, scratch, n, 2, reps);
        double fs = time_it(s_fast, in, work, scratch, n, 1, reps);
        double qs = time_it(s_qsort, in, work, scratch, n, 1, reps);
        printf("%8s%-2d %12.2f %12.2f %12.2f %12.2f %12.2f %10.2f %10.2f %10.2f %10.2f\n", "2^",
               logs[li], o2, o1, sc, fs, qs, o2 / fs, o1 / fs, sc / fs, o2 / qs);
        fflush(stdout);
        free(in);
        free(work);
        free(scratch);
    }
    return 0;
}
