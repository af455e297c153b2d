/* sort.h - oblivious sort of fixed-width records: a bitonic network for any n, cache-blocked
 * and split over threads by public indices only.
 *
 * Public: n, the record width, the key layout, the thread count. Secret: record contents
 * (keys included). The sequence of compare-exchanges, and therefore every branch and every
 * address touched, depends only on the public values. The sort is NOT stable: give equal
 * keys a tie-breaking key word (e.g. the row's original index) when order among them
 * matters. */
#ifndef MC2_OBLIV_SORT_H
#define MC2_OBLIV_SORT_H

#include <stddef.h>
#include <stdint.h>

/* A constant-time "less than" on two records: returns ~0 if a sorts strictly before b, else
 * 0, with no branch or memory index that depends on the records' contents. */
typedef uint64_t (*obliv_lt_fn)(const void *a, const void *b, void *ctx);

/* How to sort. Records are `width` bytes; the key is `key_words` 64-bit words (in native
 * byte order) starting at byte `key_off`, compared lexicographically as unsigned integers,
 * word 0 most significant. Multi-column ORDER BY: encode each column with the
 * obliv_key_* helpers below into consecutive key words. If `lt` is not NULL it is used
 * instead of the key words (slower; it must itself be constant-time). */
struct obliv_sort_spec {
    size_t width;     /* bytes per record: a multiple of 8, at least 8 */
    size_t key_off;   /* byte offset of the first key word: a multiple of 8 */
    size_t key_words; /* at least 1; key_off + 8 * key_words <= width (ignored with lt) */
    obliv_lt_fn lt;   /* optional constant-time comparator */
    void *lt_ctx;     /* passed to lt */
    unsigned threads; /* 0: default (2); 1: the calling thread only; rounded down to 2^k */
    /* Tuning, for tests and benchmarks (0 = default). Tests set small values so that every
     * code path runs at small n. All are public. */
    size_t block_bytes;   /* in-cache sub-problem size (default 256 KiB) */
    size_t par_min_bytes; /* smallest sub-problem split over threads (default 512 KiB) */
    int no_simd;          /* 1: never use the AVX2 kernels (they are chosen from CPUID) */
};

/* Sorts the n records at recs ascending by key (spec above), in place. recs needs no
 * particular alignment. Uses the caller's buffer only: no allocation. Starts up to
 * spec->threads - 1 helper threads for large inputs (if one cannot be started, its work
 * runs on the calling thread). Misuse (bad spec) aborts: it is a bug, not bad input. */
void obliv_sort(void *recs, size_t n, const struct obliv_sort_spec *spec);

/* Sorts with key = one u64 word at offset 0 of `width`-byte records, on `threads` threads:
 * the common case (sort keys prefixed to rows). */
void obliv_sort_u64(void *recs, size_t n, size_t width, unsigned threads);

/* Order-preserving encodings of column values into unsigned key words. */
static inline uint64_t obliv_key_i64(int64_t v)
{
    return (uint64_t)v ^ ((uint64_t)1 << 63);
}
/* IEEE double: -0.0 sorts before +0.0; NaNs sort after +inf (positive) or before -inf. */
static inline uint64_t obliv_key_f64(double v)
{
    uint64_t b;
    __builtin_memcpy(&b, &v, 8);
    uint64_t neg = (uint64_t)0 - (b >> 63); /* ~0 if the sign bit is set */
    return b ^ (neg | ((uint64_t)1 << 63));
}
/* Descending order for a column: complement its ascending key word. */
static inline uint64_t obliv_key_desc(uint64_t k)
{
    return ~k;
}

/* Exposed for tests and benchmarks: the number of compare-exchanges obliv_sort performs for
 * n records (a function of n only). */
uint64_t obliv_sort_cost(size_t n);

#endif
