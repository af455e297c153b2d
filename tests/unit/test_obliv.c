/* test_obliv.c - correctness of the oblivious primitives (ct helpers, sort, compaction,
 * shuffle) and of the fast non-oblivious sort, against qsort and exhaustive 0-1 inputs.
 * Obliviousness itself is checked by tests/obliv (valgrind). */
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/fastsort.h"
#include "obliv/shuffle.h"
#include "obliv/sort.h"
#include "test.h"

#include <stdint.h>

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_cb(void *ctx, void *out, size_t len)
{
    uint64_t *s = ctx;
    unsigned char *o = out;
    for (size_t i = 0; i < len; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        o[i] = (unsigned char)((z ^ (z >> 31)) >> 56);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Compares whole records as arrays of u64 words (for multiset equality). */
static size_t g_words;
static int cmp_words(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    for (size_t i = 0; i < g_words; i++)
        if (x[i] != y[i]) return (x[i] > y[i]) - (x[i] < y[i]);
    return 0;
}

/* Key (kw words at word offset ko) of record i. */
static int key_cmp(const uint64_t *r, size_t wwords, size_t ko, size_t kw, size_t i, size_t j)
{
    for (size_t t = 0; t < kw; t++) {
        uint64_t x = r[i * wwords + ko + t], y = r[j * wwords + ko + t];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* out is sorted by key and is a permutation of in. */
static int sorted_perm(const uint64_t *in, const uint64_t *out, size_t n, size_t wwords, size_t ko,
                       size_t kw)
{
    for (size_t i = 1; i < n; i++)
        if (key_cmp(out, wwords, ko, kw, i - 1, i) > 0) return 0;
    uint64_t *a = malloc(n * wwords * 8 + 8), *b = malloc(n * wwords * 8 + 8);
    memcpy(a, in, n * wwords * 8);
    memcpy(b, out, n * wwords * 8);
    g_words = wwords;
    qsort(a, n, wwords * 8, cmp_words);
    qsort(b, n, wwords * 8, cmp_words);
    int ok = memcmp(a, b, n * wwords * 8) == 0;
    free(a);
    free(b);
    return ok;
}

enum dist { D_RANDOM, D_FEW, D_EQUAL, D_SORTED, D_REVERSED, D_COUNT };

static void fill_keys(uint64_t *r, size_t n, size_t wwords, enum dist d)
{
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < wwords; t++) {
            uint64_t v = rnd();
            switch (d) {
            case D_RANDOM:
                break;
            case D_FEW:
                v %= 3;
                break;
            case D_EQUAL:
                v = 7;
                break;
            case D_SORTED:
                v = i;
                break;
            case D_REVERSED:
                v = ~(uint64_t)i;
                break;
            case D_COUNT:
                break;
            }
            r[i * wwords + t] = v;
        }
    /* A payload word that differs per record where there is room, so moves are visible. */
    if (wwords > 1)
        for (size_t i = 0; i < n; i++) r[i * wwords + wwords - 1] ^= i << 20;
}

/* ---- ct.h --------------------------------------------------------------------------------- */

static void test_ct(void)
{
    static const uint64_t v[] = {0,
                                 1,
                                 2,
                                 0x7fffffffffffffffull,
                                 0x8000000000000000ull,
                                 0x8000000000000001ull,
                                 0xfffffffffffffffeull,
                                 0xffffffffffffffffull,
                                 12345};
    size_t nv = sizeof v / sizeof v[0];
    int ok = 1;
    for (size_t i = 0; i < nv; i++) {
        ok &= ct_mask(0) == 0 && ct_mask(1) == ~(uint64_t)0;
        ok &= ct_nonzero(v[i]) == (v[i] ? ~(uint64_t)0 : 0);
        for (size_t j = 0; j < nv; j++) {
            uint64_t x = v[i], y = v[j];
            ok &= ct_eq_u64(x, y) == (x == y ? ~(uint64_t)0 : 0);
            ok &= ct_lt_u64(x, y) == (x < y ? ~(uint64_t)0 : 0);
            ok &= ct_lt_i64((int64_t)x, (int64_t)y) == ((int64_t)x < (int64_t)y ? ~(uint64_t)0 : 0);
            ok &= ct_select_u64(~(uint64_t)0, x, y) == x && ct_select_u64(0, x, y) == y;
        }
    }
    CHECK_MSG(ok, "ct_mask/eq/lt/select disagree with C operators");

    ok = 1;
    for (size_t len = 0; len <= 33; len++) {
        unsigned char a[40], b[40], a0[40], b0[40];
        for (size_t i = 0; i < 40; i++) a[i] = (unsigned char)rnd(), b[i] = (unsigned char)rnd();
        memcpy(a0, a, 40);
        memcpy(b0, b, 40);
        ct_cswap_bytes(0, a, b, len);
        ok &= !memcmp(a, a0, 40) && !memcmp(b, b0, 40);
        ct_cswap_bytes(~(uint64_t)0, a, b, len);
        ok &= !memcmp(a, b0, len) && !memcmp(b, a0, len) && !memcmp(a + len, a0 + len, 40 - len);
        memcpy(a, a0, 40);
        ct_cmov_bytes(0, a, b0, len);
        ok &= !memcmp(a, a0, 40);
        ct_cmov_bytes(~(uint64_t)0, a, b0, len);
        ok &= !memcmp(a, b0, len) && !memcmp(a + len, a0 + len, 40 - len);
    }
    CHECK_MSG(ok, "ct_cswap_bytes/ct_cmov_bytes");

    ok = 1;
    for (int it = 0; it < 20000; it++) {
        unsigned char a[6], b[6];
        for (int i = 0; i < 6; i++)
            a[i] = (unsigned char)(rnd() % 3), b[i] = (unsigned char)(rnd() % 3);
        if (it % 7 == 0) a[5] = 255, b[5] = 0;
        size_t len = (size_t)(it % 7);
        ok &= ct_lt_bytes(a, b, len) == (memcmp(a, b, len) < 0 ? ~(uint64_t)0 : 0);
        uint64_t x[3], y[3];
        for (int i = 0; i < 3; i++)
            x[i] = rnd() % 3 + (i == 1 ? 0xfffffffffffffff0ull : 0),
            y[i] = rnd() % 3 + (i == 1 ? 0xfffffffffffffff0ull : 0);
        int c = 0;
        for (int i = 0; i < 3 && !c; i++) c = (x[i] > y[i]) - (x[i] < y[i]);
        ok &= ct_lt_words(x, y, 3) == (c < 0 ? ~(uint64_t)0 : 0);
    }
    CHECK_MSG(ok, "ct_lt_bytes/ct_lt_words disagree with memcmp / lexicographic order");
}

/* ---- sort --------------------------------------------------------------------------------- */

/* A constant-time comparator for the callback path: key word 1 compared first, then 0. */
static uint64_t lt_swapped_words(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    const unsigned char *x = a, *y = b;
    uint64_t ka[2] = {ct_load64(x + 8), ct_load64(x)}, kb[2] = {ct_load64(y + 8), ct_load64(y)};
    return ct_lt_words(ka, kb, 2);
}

struct layout {
    const char *name;
    size_t wwords, ko, kw; /* width in words, key word offset, key words */
    int use_fn;            /* sort with lt_swapped_words (then key = words 1, 0) */
    int no_simd;           /* force the scalar kernels */
};

static const struct layout layouts[] = {
    {"16B key@0", 2, 0, 1, 0, 0},    {"16B key@0 scalar", 2, 0, 1, 0, 1},
    {"24B key@8", 3, 1, 1, 0, 0},    {"8B key@0", 1, 0, 1, 0, 0},
    {"32B 2 keys@8", 4, 1, 2, 0, 0}, {"16B callback", 2, 0, 2, 1, 0},
    {"40B key@16", 5, 2, 1, 0, 0},
};

static void do_sort(uint64_t *r, size_t n, const struct layout *l, unsigned threads)
{
    struct obliv_sort_spec s = {.width = l->wwords * 8,
                                .key_off = l->ko * 8,
                                .key_words = l->kw,
                                .lt = l->use_fn ? lt_swapped_words : NULL,
                                .threads = threads,
                                .no_simd = l->no_simd};
    obliv_sort(r, n, &s);
}

/* For the callback layout, the order is (word 1, word 0): check it by swapping the words. */
static int check_sorted(const struct layout *l, uint64_t *in, uint64_t *out, size_t n)
{
    if (!l->use_fn) return sorted_perm(in, out, n, l->wwords, l->ko, l->kw);
    for (size_t i = 0; i < n; i++) {
        uint64_t t = in[2 * i];
        in[2 * i] = in[2 * i + 1], in[2 * i + 1] = t;
        t = out[2 * i];
        out[2 * i] = out[2 * i + 1], out[2 * i + 1] = t;
    }
    return sorted_perm(in, out, n, 2, 0, 2);
}

/* The 0-1 principle: a comparator network sorts everything iff it sorts every 0/1 input. */
static void test_sort_zero_one(void)
{
    for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
        const struct layout *l = &layouts[li];
        int ok = 1;
        for (size_t n = 0; n <= 12; n++) {
            uint64_t r[12 * 5];
            for (uint32_t bits = 0; bits < (1u << n); bits++) {
                memset(r, 0, sizeof r);
                size_t ones = 0;
                for (size_t i = 0; i < n; i++) {
                    uint64_t b = (bits >> i) & 1;
                    ones += b;
                    r[i * l->wwords + (l->use_fn ? 1 : l->ko + l->kw - 1)] = b;
                }
                do_sort(r, n, l, 1);
                for (size_t i = 0; i < n; i++)
                    ok &= r[i * l->wwords + (l->use_fn ? 1 : l->ko + l->kw - 1)] ==
                          (i >= n - ones ? 1u : 0u);
            }
        }
        CHECK_MSG(ok, "0-1 principle fails for layout %s", l->name);
    }
}

static void test_sort_random(void)
{
    static const size_t sizes[] = {0,    1,    2,     3,     4,     5,     6,    7,    8,    9,
                                   15,   16,   17,    31,    32,    33,    63,   64,   65,   100,
                                   127,  128,  129,   255,   256,   257,   1000, 1023, 1024, 1025,
                                   4095, 4097, 16384, 16385, 32767, 65536, 65537};
    for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
        const struct layout *l = &layouts[li];
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            if (n > 20000 && li > 2) continue; /* the big sizes on the 16- and 24-byte layouts */
            uint64_t *in = malloc(n * l->wwords * 8 + 8), *out = malloc(n * l->wwords * 8 + 8);
            for (int d = 0; d < D_COUNT; d++) {
                if (n > 20000 && d != D_RANDOM && d != D_FEW) continue;
                fill_keys(in, n, l->wwords, (enum dist)d);
                for (unsigned th = 1; th <= 2; th++) {
                    memcpy(out, in, n * l->wwords * 8);
                    do_sort(out, n, l, th);
                    CHECK_MSG(check_sorted(l, in, out, n), "layout %s n=%zu dist=%d threads=%u",
                              l->name, n, d, th);
                }
            }
            free(in);
            free(out);
        }
    }
    /* One size over two cache blocks and the thread split, not a power of two. */
    size_t n = ((size_t)1 << 18) + 3;
    uint64_t *in = malloc(n * 16), *out = malloc(n * 16);
    fill_keys(in, n, 2, D_RANDOM);
    memcpy(out, in, n * 16);
    obliv_sort_u64(out, n, 16, 2);
    CHECK_MSG(sorted_perm(in, out, n, 2, 0, 1), "n=2^18+3, 2 threads");
    memcpy(out, in, n * 16);
    obliv_sort_u64(out, n, 16, 4);
    CHECK_MSG(sorted_perm(in, out, n, 2, 0, 1), "n=2^18+3, 4 threads");
    free(in);
    free(out);
}

static void test_sort_cost_and_keys(void)
{
    for (unsigned k = 1; k <= 12; k++) {
        size_t n = (size_t)1 << k;
        CHECK(obliv_sort_cost(n) == (uint64_t)n * k * (k + 1) / 4);
    }
    CHECK(obliv_sort_cost(0) == 0 && obliv_sort_cost(1) == 0 && obliv_sort_cost(3) == 3);

    static const int64_t iv[] = {INT64_MIN, -5, -1, 0, 1, 7, INT64_MAX};
    int ok = 1;
    for (size_t i = 0; i + 1 < sizeof iv / sizeof iv[0]; i++)
        ok &= obliv_key_i64(iv[i]) < obliv_key_i64(iv[i + 1]) &&
              obliv_key_desc(obliv_key_i64(iv[i])) > obliv_key_desc(obliv_key_i64(iv[i + 1]));
    static const double dv[] = {-1e300, -2.5, -1e-300, -0.0, 0.0, 1e-300, 3.0, 1e300};
    for (size_t i = 0; i + 1 < sizeof dv / sizeof dv[0]; i++)
        ok &= obliv_key_f64(dv[i]) < obliv_key_f64(dv[i + 1]);
    CHECK_MSG(ok, "obliv_key_i64/f64/desc are not order-preserving");
}

/* ---- fastsort ----------------------------------------------------------------------------- */

static void test_fastsort(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 17, 1000, 65537};
    for (size_t li = 0; li < 5; li++) {
        const struct layout *l = &layouts[li];
        if (l->no_simd) continue;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si], bytes = n * l->wwords * 8 + 8;
            uint64_t *in = malloc(bytes), *out = malloc(bytes), *scratch = malloc(bytes);
            for (int d = 0; d < D_COUNT; d++) {
                fill_keys(in, n, l->wwords, (enum dist)d);
                memcpy(out, in, n * l->wwords * 8);
                obliv_fastsort(out, n, l->wwords * 8, l->ko * 8, l->kw, scratch);
                CHECK_MSG(sorted_perm(in, out, n, l->wwords, l->ko, l->kw),
                          "fastsort layout %s n=%zu dist=%d", l->name, n, d);
            }
            free(in);
            free(out);
            free(scratch);
        }
    }
}

/* ---- compaction --------------------------------------------------------------------------- */

static void test_compact_one(size_t n, size_t width, int density)
{
    unsigned char *r = malloc(n * width + 1), *orig = malloc(n * width + 1);
    uint8_t *marks = calloc(n + 1, 1);
    uint64_t *scratch = malloc(n * 8 + 8);
    for (size_t i = 0; i < n; i++) {
        for (size_t b = 0; b < width; b++)
            orig[i * width + b] = (unsigned char)(i >> (8 * (b % 4)));
        uint64_t x = rnd() % 100;
        marks[i] = density == 0   ? 0
                   : density == 1 ? (uint8_t)(1 + x % 200) /* any nonzero byte keeps */
                   : density == 2 ? (uint8_t)(x < 50)
                   : density == 3 ? (uint8_t)(i % 2)
                                  : (uint8_t)(x < 5);
    }
    memcpy(r, orig, n * width);
    uint64_t cnt = obliv_compact(r, n, width, marks, scratch);
    size_t expect = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if (marks[i]) {
            ok &= memcmp(r + expect * width, orig + i * width, width) == 0;
            expect++;
        }
    CHECK_MSG(cnt == expect && ok, "compact n=%zu width=%zu density=%d: order or count wrong", n,
              width, density);
    /* Trailing slots hold exactly the unmarked records. */
    if (width == 16) {
        uint64_t *tail = malloc(n * 16 + 8), *want = malloc(n * 16 + 8);
        size_t t = 0;
        for (size_t i = 0; i < n; i++)
            if (!marks[i]) memcpy(want + 2 * t++, orig + i * 16, 16);
        memcpy(tail, r + expect * 16, (n - expect) * 16);
        g_words = 2;
        qsort(tail, t, 16, cmp_words);
        qsort(want, t, 16, cmp_words);
        CHECK_MSG(memcmp(tail, want, t * 16) == 0, "compact n=%zu: unmarked records lost", n);
        free(tail);
        free(want);
    }
    free(r);
    free(orig);
    free(marks);
    free(scratch);
}

static void test_compact(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100, 1000, 1024, 4097, 65537};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int d = 0; d < 5; d++) {
            test_compact_one(sizes[si], 16, d);
            if (sizes[si] <= 1000) test_compact_one(sizes[si], 5, d);
        }
    /* Exhaustive marks for small n. */
    int ok = 1;
    for (size_t n = 0; n <= 10; n++)
        for (uint32_t bits = 0; bits < (1u << n); bits++) {
            uint64_t r[10], s[10];
            uint8_t m[10];
            for (size_t i = 0; i < n; i++) r[i] = i, m[i] = (uint8_t)((bits >> i) & 1);
            uint64_t c = obliv_compact(r, n, 8, m, s);
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (m[i]) ok &= r[k++] == i;
            ok &= c == k;
        }
    CHECK_MSG(ok, "compact: exhaustive small marks");
}

/* ---- shuffle ------------------------------------------------------------------------------ */

static void test_shuffle(void)
{
    static const size_t sizes[] = {0, 1, 2, 3, 5, 100, 1000, 65537};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (size_t wwords = 1; wwords <= 3; wwords += 2) {
            uint64_t *r = malloc(n * wwords * 8 + 8);
            void *scratch = malloc(obliv_shuffle_scratch_bytes(n, wwords * 8) + 8);
            for (size_t i = 0; i < n; i++)
                for (size_t w = 0; w < wwords; w++) r[i * wwords + w] = i * 1000 + w;
            uint64_t seed = 99 + n;
            obliv_shuffle(r, n, wwords * 8, rng_cb, &seed, scratch, 2);
            /* A permutation of whole records. */
            uint64_t *ids = malloc(n * 8 + 8);
            int ok = 1;
            size_t fixed = 0;
            for (size_t i = 0; i < n; i++) {
                ids[i] = r[i * wwords];
                for (size_t w = 0; w < wwords; w++) ok &= r[i * wwords + w] == ids[i] + w;
                fixed += ids[i] == i * 1000;
            }
            qsort(ids, n, 8, cmp_u64);
            for (size_t i = 0; i < n; i++) ok &= ids[i] == i * 1000;
            CHECK_MSG(ok, "shuffle n=%zu width=%zu: not a permutation of the records", n,
                      wwords * 8);
            if (n >= 100) CHECK_MSG(fixed < n / 10, "shuffle n=%zu: %zu fixed points", n, fixed);
            free(ids);
            free(r);
            free(scratch);
        }
    }
    /* All 6 permutations of 3 records, roughly uniformly (6000 draws: each ~1000). */
    size_t count[6] = {0};
    uint64_t seed = 5;
    unsigned char scratch[3 * 24];
    for (int it = 0; it < 6000; it++) {
        uint64_t r[3] = {0, 1, 2};
        obliv_shuffle(r, 3, 8, rng_cb, &seed, scratch, 1);
        size_t code = (size_t)(r[0] * 3 + r[1]); /* 1,2,3,5,6,7 */
        static const int idx[9] = {-1, 0, 1, 2, -1, 3, 4, 5, -1};
        if (idx[code] >= 0) count[idx[code]]++;
    }
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= count[i] > 850 && count[i] < 1150;
    CHECK_MSG(ok, "shuffle of 3: permutation counts %zu %zu %zu %zu %zu %zu", count[0], count[1],
              count[2], count[3], count[4], count[5]);
    CHECK(obliv_shuffle_scratch_bytes(SIZE_MAX / 8, 16) == 0);
}

int main(void)
{
    test_ct();
    test_sort_zero_one();
    test_sort_random();
    test_sort_cost_and_keys();
    test_fastsort();
    test_compact();
    test_shuffle();
    return test_done("test_obliv");
}
