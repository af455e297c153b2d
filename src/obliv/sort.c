/* sort.c - oblivious bitonic sort of fixed-width records for any n (Lang's variant),
 * cache-blocked and run on two (or 2^k) threads split by public indices.
 *
 * The network (H. W. Lang, "Bitonic sorting network for n not a power of 2"):
 *   sort(lo, n, up):  m = n/2; sort(lo, m, !up); sort(lo+m, n-m, up); merge(lo, n, up)
 *   merge(lo, n, up): p = largest power of two < n;
 *                     compare-exchange (i, i+p) for i in [lo, lo+n-p);
 *                     merge(lo, p, up); merge(lo+p, n-p, up)
 * No padding, no dummies: every compare-exchange touches two real records. Which pairs are
 * compared, and in which direction, depends only on n, so the address trace is a function of
 * n. Depth-first recursion is the cache blocking: once a sub-sort or sub-merge fits in
 * OBLIV_BLOCK_BYTES it runs as an iterative power-of-two network over that block while it is
 * hot in L2 (the AVX2 kernels do 2-4 levels per pass over it); above the block, power-of-two
 * merges with the AVX2 kernels do three strides per pass over memory. The top of the recursion is
 * split over threads: the two half-sorts run concurrently, then each big merge's compare step is
 * cut in two halves by index, then its two equal sub-merges run concurrently.
 *
 * A compare-exchange CE(a, b) puts the smaller record at a: m = ct_lt(key b, key a) is a
 * mask, and both records are rewritten with a masked xor-swap. Descending is CE(b, a). */
#include "obliv/sort.h"

#include "base/alloc.h"
#include "obliv/ct.h"

#include <pthread.h>
#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define OBLIV_HAVE_AVX2 1
#endif

/* Sub-problems up to this many bytes are sorted with the iterative network in cache. */
#define OBLIV_BLOCK_BYTES (256u * 1024u)
/* Sub-problems below this many bytes are never split over threads. */
#define OBLIV_PAR_MIN_BYTES (512u * 1024u)

enum sort_kind {
    KIND_16,    /* 16-byte records, one key word at offset 0 */
    KIND_WORD,  /* any width, one key word */
    KIND_WORDS, /* any width, several key words */
    KIND_FN     /* caller's comparator */
};

struct sctx {
    unsigned char *base;
    size_t w;       /* record width */
    size_t koff;    /* key byte offset */
    size_t kw;      /* key words */
    obliv_lt_fn lt; /* KIND_FN */
    void *lt_ctx;
    enum sort_kind kind;
    size_t blk;     /* records per cache block: a power of two */
    size_t par_min; /* bytes: smaller sub-problems are not split over threads */
    bool avx2;      /* may use the AVX2 kernels (chosen from CPUID: public) */
};

/* ---- compare-exchange kernels -------------------------------------------------------------
 * run(a, b, cnt): CE(a + i, b + i) for i < cnt, record indices; smaller record ends at a+i.
 * level(lo, n, k, j, up): one level of the power-of-two network over [lo, lo+n): blocks of k
 * records alternate direction (first block: up); in each, CE(s + i, s + i + j) for every
 * sub-block s of 2j records and i < j. */

static inline void ce_16(unsigned char *a, unsigned char *b)
{
    uint64_t ka = ct_load64(a), kb = ct_load64(b);
    uint64_t va = ct_load64(a + 8), vb = ct_load64(b + 8);
    uint64_t m = ct_lt_u64(kb, ka);
    uint64_t t = (ka ^ kb) & m, u = (va ^ vb) & m;
    ct_store64(a, ka ^ t);
    ct_store64(b, kb ^ t);
    ct_store64(a + 8, va ^ u);
    ct_store64(b + 8, vb ^ u);
}

static inline void ce_word(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    uint64_t m = ct_lt_u64(ct_load64(b + c->koff), ct_load64(a + c->koff));
    ct_cswap_bytes(m, a, b, c->w);
}

static inline void ce_words(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    uint64_t lt = 0, eq = ~(uint64_t)0;
    for (size_t i = 0; i < c->kw; i++) {
        uint64_t x = ct_load64(b + c->koff + 8 * i), y = ct_load64(a + c->koff + 8 * i);
        lt |= eq & ct_lt_u64(x, y);
        eq &= ct_eq_u64(x, y);
    }
    ct_cswap_bytes(lt, a, b, c->w);
}

static inline void ce_fn(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    ct_cswap_bytes(ct_barrier(c->lt(b, a, c->lt_ctx)), a, b, c->w);
}

#ifdef OBLIV_HAVE_AVX2
/* AVX2 kernels for 16-byte records {u64 key, u64 payload}: two records per 256-bit register,
 * [k0 v0 k1 v1]. Registers hold records with the top bit of every lane flipped ("biased"),
 * so the signed vpcmpgtq orders keys as unsigned; vld/vst apply and remove the bias. A
 * compare-exchange copies each key lane's compare mask into its payload lane and selects
 * with vblendvpd: no branch, fixed addresses. */
#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256i vld(const unsigned char *p)
{
    const __m256i bias = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)p), bias);
}

AVX2 static inline void vst(unsigned char *p, __m256i x)
{
    const __m256i bias = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    _mm256_storeu_si256((__m256i *)(void *)p, _mm256_xor_si256(x, bias));
}

/* CE of two register pairs of biased records: the smaller of each pair ends in *x. */
AVX2 static inline void vce(__m256i *x, __m256i *y)
{
    __m256d m = _mm256_castsi256_pd(_mm256_shuffle_epi32(_mm256_cmpgt_epi64(*x, *y), 0x44));
    __m256d a = _mm256_castsi256_pd(*x), b = _mm256_castsi256_pd(*y);
    *x = _mm256_castpd_si256(_mm256_blendv_pd(a, b, m));
    *y = _mm256_castpd_si256(_mm256_blendv_pd(b, a, m));
}

/* Both directions of vce, the direction being public. */
AVX2 static inline void vce_dir(__m256i *x, __m256i *y, bool up)
{
    if (up)
        vce(x, y);
    else
        vce(y, x);
}

/* The j = 1 level on registers a = [r0 r1], b = [r2 r3]: CE(r0, r1) and CE(r2, r3), both
 * in direction up: regroup as [r0 r2] [r1 r3], compare-exchange, regroup back. */
AVX2 static inline void vce_adj(__m256i *a, __m256i *b, bool up)
{
    __m256i lo = _mm256_permute2x128_si256(*a, *b, 0x20);
    __m256i hi = _mm256_permute2x128_si256(*a, *b, 0x31);
    vce_dir(&lo, &hi, up);
    *a = _mm256_permute2x128_si256(lo, hi, 0x20);
    *b = _mm256_permute2x128_si256(lo, hi, 0x31);
}

/* run(): CE(a + i, b + i) for i < cnt. */
AVX2 static void run_16_avx2(unsigned char *a, unsigned char *b, size_t cnt)
{
    size_t i = 0;
    for (; i + 2 <= cnt; i += 2) {
        __m256i x = vld(a + 16 * i), y = vld(b + 16 * i);
        vce(&x, &y);
        vst(a + 16 * i, x);
        vst(b + 16 * i, y);
    }
    for (; i < cnt; i++) ce_16(a + 16 * i, b + 16 * i);
}

/* The last three levels (j = 4, 2, 1) of a k >= 8 stage, fused: each group of 8 records is
 * loaded once into four registers, merged there, and stored once. */
AVX2 static void tail8_16_avx2(unsigned char *p, size_t n, size_t k, bool up)
{
    for (size_t g = 0; g < n; g += 8) {
        bool d = up ^ (((g / k) & 1) != 0);
        unsigned char *q = p + 16 * g;
        __m256i a = vld(q), b = vld(q + 32), c = vld(q + 64), e = vld(q + 96);
        vce_dir(&a, &c, d);
        vce_dir(&b, &e, d);
        vce_dir(&a, &b, d);
        vce_dir(&c, &e, d);
        vce_adj(&a, &b, d);
        vce_adj(&c, &e, d);
        vst(q, a);
        vst(q + 32, b);
        vst(q + 64, c);
        vst(q + 96, e);
    }
}

/* vce with the operands swapped: the larger record ends in *x (a descending pair). */
AVX2 static inline void vce_down(__m256i *x, __m256i *y)
{
    vce(y, x);
}

/* Three levels of a bitonic merge over eight registers (pairs 4 apart, 2 apart, 1 apart),
 * written out so that the eight stay in registers. */
#define NET8(CE)                                                                                   \
    do {                                                                                           \
        CE(&r0, &r4);                                                                              \
        CE(&r1, &r5);                                                                              \
        CE(&r2, &r6);                                                                              \
        CE(&r3, &r7);                                                                              \
        CE(&r0, &r2);                                                                              \
        CE(&r1, &r3);                                                                              \
        CE(&r4, &r6);                                                                              \
        CE(&r5, &r7);                                                                              \
        CE(&r0, &r1);                                                                              \
        CE(&r2, &r3);                                                                              \
        CE(&r4, &r5);                                                                              \
        CE(&r6, &r7);                                                                              \
    } while (0)

/* The last four levels (j = 8, 4, 2, 1) of a k >= 16 stage, fused over groups of 16
 * records held in eight registers. */
AVX2 static void tail16_16_avx2(unsigned char *p, size_t n, size_t k, bool up)
{
    for (size_t g = 0; g < n; g += 16) {
        bool d = up ^ (((g / k) & 1) != 0);
        unsigned char *q = p + 16 * g;
        __m256i r0 = vld(q), r1 = vld(q + 32), r2 = vld(q + 64), r3 = vld(q + 96);
        __m256i r4 = vld(q + 128), r5 = vld(q + 160), r6 = vld(q + 192), r7 = vld(q + 224);
        if (d)
            NET8(vce);
        else
            NET8(vce_down);
        vce_adj(&r0, &r1, d);
        vce_adj(&r2, &r3, d);
        vce_adj(&r4, &r5, d);
        vce_adj(&r6, &r7, d);
        vst(q, r0);
        vst(q + 32, r1);
        vst(q + 64, r2);
        vst(q + 96, r3);
        vst(q + 128, r4);
        vst(q + 160, r5);
        vst(q + 192, r6);
        vst(q + 224, r7);
    }
}

/* Two levels (j and j/2, j >= 4) of stage k fused: records s+i, s+i+j/2, s+i+j, s+i+3j/2
 * are loaded once for both levels. */
AVX2 static void level2_16_avx2(unsigned char *p, size_t n, size_t k, size_t j, bool up)
{
    size_t h = j / 2;
    for (size_t blk = 0; blk < n; blk += k) {
        bool d = up ^ (((blk / k) & 1) != 0);
        for (size_t s = blk; s < blk + k; s += 2 * j) {
            unsigned char *q0 = p + 16 * s, *q1 = q0 + 16 * h, *q2 = q0 + 16 * j, *q3 = q2 + 16 * h;
            for (size_t i = 0; i < 16 * h; i += 32) {
                __m256i a = vld(q0 + i), b = vld(q1 + i), c = vld(q2 + i), e = vld(q3 + i);
                vce_dir(&a, &c, d);
                vce_dir(&b, &e, d);
                vce_dir(&a, &b, d);
                vce_dir(&c, &e, d);
                vst(q0 + i, a);
                vst(q1 + i, b);
                vst(q2 + i, c);
                vst(q3 + i, e);
            }
        }
    }
}

/* Three levels (j, j/2, j/4; j >= 8) fused over one block of 2j records at q: eight streams
 * of records q + i + t*j/4 (t < 8), for byte offsets i in [i0, i1), are loaded once for all
 * three levels. */
AVX2 static void level3_part(unsigned char *q, size_t j, bool d, size_t i0, size_t i1)
{
    size_t h = 16 * (j / 4);
    for (size_t i = i0; i < i1; i += 32) {
        unsigned char *x = q + i;
        __m256i r0 = vld(x), r1 = vld(x + h), r2 = vld(x + 2 * h), r3 = vld(x + 3 * h);
        __m256i r4 = vld(x + 4 * h), r5 = vld(x + 5 * h), r6 = vld(x + 6 * h), r7 = vld(x + 7 * h);
        if (d)
            NET8(vce);
        else
            NET8(vce_down);
        vst(x, r0);
        vst(x + h, r1);
        vst(x + 2 * h, r2);
        vst(x + 3 * h, r3);
        vst(x + 4 * h, r4);
        vst(x + 5 * h, r5);
        vst(x + 6 * h, r6);
        vst(x + 7 * h, r7);
    }
}

/* Three levels (j, j/2, j/4; j >= 8) of stage k over the n records at p. */
AVX2 static void level3_16_avx2(unsigned char *p, size_t n, size_t k, size_t j, bool up)
{
    for (size_t blk = 0; blk < n; blk += k) {
        bool d = up ^ (((blk / k) & 1) != 0);
        for (size_t s = blk; s < blk + k; s += 2 * j) level3_part(p + 16 * s, j, d, 0, 4 * j);
    }
}

/* One level of the power-of-two network over n records at p (n >= 4, a power of two; see
 * level() below). j = 1: the pairs in a group of four records may differ in direction
 * (k = 2), so each pair's direction (public: it depends on the pair's index) is applied
 * as an xor on the swap mask. */
AVX2 static void level_16_avx2(unsigned char *p, size_t n, size_t k, size_t j, bool up)
{
    if (j == 1) {
        for (size_t g = 0; g < n; g += 4) {
            long long d0 = (up ^ (((g / k) & 1) != 0)) ? 0 : -1;
            long long d1 = (up ^ ((((g + 2) / k) & 1) != 0)) ? 0 : -1;
            __m256i dm = _mm256_set_epi64x(d1, d1, d0, d0);
            __m256i x = vld(p + 16 * g), y = vld(p + 16 * g + 32);
            __m256i lo = _mm256_permute2x128_si256(x, y, 0x20);
            __m256i hi = _mm256_permute2x128_si256(x, y, 0x31);
            __m256i gt = _mm256_cmpgt_epi64(lo, hi);
            __m256d m = _mm256_castsi256_pd(_mm256_xor_si256(_mm256_shuffle_epi32(gt, 0x44), dm));
            __m256d a0 = _mm256_castsi256_pd(lo), b0 = _mm256_castsi256_pd(hi);
            __m256i a = _mm256_castpd_si256(_mm256_blendv_pd(a0, b0, m));
            __m256i b = _mm256_castpd_si256(_mm256_blendv_pd(b0, a0, m));
            vst(p + 16 * g, _mm256_permute2x128_si256(a, b, 0x20));
            vst(p + 16 * g + 32, _mm256_permute2x128_si256(a, b, 0x31));
        }
        return;
    }
    for (size_t blk = 0; blk < n; blk += k) {
        bool d = up ^ (((blk / k) & 1) != 0);
        for (size_t s = blk; s < blk + k; s += 2 * j) {
            unsigned char *a = p + 16 * s, *b = a + 16 * j;
            for (size_t i = 0; i < 16 * j; i += 32) {
                __m256i x = vld(a + i), y = vld(b + i);
                vce_dir(&x, &y, d);
                vst(a + i, x);
                vst(b + i, y);
            }
        }
    }
}
#endif

/* Scalar kernels, one copy per kind so the compare-exchange is inlined into the loops:
 * run_K(c, a, b, cnt): CE(a + i, b + i) for i < cnt (record pointers);
 * level_K(c, p, n, k, j, up): level() below over the n records at p. */
#define SCALAR_KERNELS(K, CE, ATTR)                                                                \
    ATTR static void run_##K(const struct sctx *c, unsigned char *a, unsigned char *b, size_t cnt) \
    {                                                                                              \
        size_t w = c->w;                                                                           \
        (void)w;                                                                                   \
        for (size_t i = 0; i < cnt; i++) CE(a + w * i, b + w * i);                                 \
    }                                                                                              \
    ATTR static void level_##K(const struct sctx *c, unsigned char *p, size_t n, size_t k,         \
                               size_t j, bool up)                                                  \
    {                                                                                              \
        size_t w = c->w;                                                                           \
        for (size_t blk = 0; blk < n; blk += k) {                                                  \
            bool d = up ^ (((blk / k) & 1) != 0);                                                  \
            for (size_t s = blk; s < blk + k; s += 2 * j) {                                        \
                unsigned char *x = p + w * s, *y = x + w * j;                                      \
                if (d)                                                                             \
                    for (size_t i = 0; i < j; i++) CE(x + w * i, y + w * i);                       \
                else                                                                               \
                    for (size_t i = 0; i < j; i++) CE(y + w * i, x + w * i);                       \
            }                                                                                      \
        }                                                                                          \
    }

#define CE_16(x, y)    ce_16((x), (y))
#define CE_WORD(x, y)  ce_word(c, (x), (y))
#define CE_WORDS(x, y) ce_words(c, (x), (y))
#define CE_FN(x, y)    ce_fn(c, (x), (y))
SCALAR_KERNELS(16, CE_16, )
SCALAR_KERNELS(word, CE_WORD, )
SCALAR_KERNELS(words, CE_WORDS, )
SCALAR_KERNELS(fn, CE_FN, )

#ifdef OBLIV_HAVE_AVX2
/* Records of 32 bytes or more: the swap mask is computed as in the scalar kernels, broadcast,
 * and the records are swapped 32 bytes per instruction (scalar words for the tail). */
AVX2 static inline void vswap_wide(uint64_t mask, unsigned char *a, unsigned char *b, size_t w)
{
    __m256i m = _mm256_set1_epi64x((long long)ct_barrier(mask));
    size_t i = 0;
    for (; i + 32 <= w; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        __m256i t = _mm256_and_si256(_mm256_xor_si256(x, y), m);
        _mm256_storeu_si256((__m256i *)(void *)(a + i), _mm256_xor_si256(x, t));
        _mm256_storeu_si256((__m256i *)(void *)(b + i), _mm256_xor_si256(y, t));
    }
    ct_cswap_bytes(mask, a + i, b + i, w - i);
}

AVX2 static inline void ce_word_wide(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    vswap_wide(ct_lt_u64(ct_load64(b + c->koff), ct_load64(a + c->koff)), a, b, c->w);
}

AVX2 static inline void ce_words_wide(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    uint64_t lt = 0, eq = ~(uint64_t)0;
    for (size_t i = 0; i < c->kw; i++) {
        uint64_t x = ct_load64(b + c->koff + 8 * i), y = ct_load64(a + c->koff + 8 * i);
        lt |= eq & ct_lt_u64(x, y);
        eq &= ct_eq_u64(x, y);
    }
    vswap_wide(lt, a, b, c->w);
}

AVX2 static inline void ce_fn_wide(const struct sctx *c, unsigned char *a, unsigned char *b)
{
    vswap_wide(c->lt(b, a, c->lt_ctx), a, b, c->w);
}

#define CE_WORD_WIDE(x, y)  ce_word_wide(c, (x), (y))
#define CE_WORDS_WIDE(x, y) ce_words_wide(c, (x), (y))
#define CE_FN_WIDE(x, y)    ce_fn_wide(c, (x), (y))
SCALAR_KERNELS(word_wide, CE_WORD_WIDE, AVX2)
SCALAR_KERNELS(words_wide, CE_WORDS_WIDE, AVX2)
SCALAR_KERNELS(fn_wide, CE_FN_WIDE, AVX2)
#define WIDE(c) ((c)->avx2 && (c)->w >= 32)
#else
#define WIDE(c)          false
#define run_word_wide    run_word
#define run_words_wide   run_words
#define run_fn_wide      run_fn
#define level_word_wide  level_word
#define level_words_wide level_words
#define level_fn_wide    level_fn
#endif

static void run(const struct sctx *c, size_t ia, size_t ib, size_t cnt)
{
    unsigned char *a = c->base + ia * c->w, *b = c->base + ib * c->w;
    switch (c->kind) {
    case KIND_16:
#ifdef OBLIV_HAVE_AVX2
        if (c->avx2) {
            run_16_avx2(a, b, cnt);
            return;
        }
#endif
        run_16(c, a, b, cnt);
        return;
    case KIND_WORD:
        if (WIDE(c))
            run_word_wide(c, a, b, cnt);
        else
            run_word(c, a, b, cnt);
        return;
    case KIND_WORDS:
        if (WIDE(c))
            run_words_wide(c, a, b, cnt);
        else
            run_words(c, a, b, cnt);
        return;
    case KIND_FN:
        if (WIDE(c))
            run_fn_wide(c, a, b, cnt);
        else
            run_fn(c, a, b, cnt);
        return;
    }
}

/* Direction is public: ascending runs CE(x, y), descending runs CE(y, x). */
static void run_dir(const struct sctx *c, size_t ia, size_t ib, size_t cnt, bool up)
{
    if (up)
        run(c, ia, ib, cnt);
    else
        run(c, ib, ia, cnt);
}

/* One level of the power-of-two network over [lo, lo+n): blocks of k records alternate
 * direction (the first one: up); in each, CE(s + i, s + i + j) for every sub-block s of 2j
 * records and i < j. */
static void level(const struct sctx *c, size_t lo, size_t n, size_t k, size_t j, bool up)
{
    unsigned char *p = c->base + lo * c->w;
    switch (c->kind) {
    case KIND_16:
#ifdef OBLIV_HAVE_AVX2
        if (c->avx2 && n >= 4) {
            level_16_avx2(p, n, k, j, up);
            return;
        }
#endif
        level_16(c, p, n, k, j, up);
        return;
    case KIND_WORD:
        if (WIDE(c))
            level_word_wide(c, p, n, k, j, up);
        else
            level_word(c, p, n, k, j, up);
        return;
    case KIND_WORDS:
        if (WIDE(c))
            level_words_wide(c, p, n, k, j, up);
        else
            level_words(c, p, n, k, j, up);
        return;
    case KIND_FN:
        if (WIDE(c))
            level_fn_wide(c, p, n, k, j, up);
        else
            level_fn(c, p, n, k, j, up);
        return;
    }
}

/* All levels j = k/2, ..., 1 of stage k over [lo, lo+n). */
static void stage(const struct sctx *c, size_t lo, size_t n, size_t k, bool up)
{
#ifdef OBLIV_HAVE_AVX2
    if (c->kind == KIND_16 && c->avx2 && k >= 8) {
        unsigned char *p = c->base + 16 * lo;
        size_t j = k / 2;
        for (; j >= 64; j /= 8) level3_16_avx2(p, n, k, j, up);
        if (j >= 32) {
            level2_16_avx2(p, n, k, j, up);
            j /= 4;
        }
        if (j == 16) level_16_avx2(p, n, k, j, up);
        if (k >= 16)
            tail16_16_avx2(p, n, k, up);
        else
            tail8_16_avx2(p, n, k, up);
        return;
    }
#endif
    for (size_t j = k / 2; j >= 1; j /= 2) level(c, lo, n, k, j, up);
}

/* ---- the sequential network -------------------------------------------------------------- */

static bool is_pow2(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* Largest power of two strictly less than n (n >= 2). */
static size_t pow2_below(size_t n)
{
    size_t p = 1;
    while (p < n - p) p <<= 1;
    return p;
}

static void merge_seq(const struct sctx *c, size_t lo, size_t n, bool up)
{
    if (n < 2) return;
    if (is_pow2(n) && n <= c->blk) {
        stage(c, lo, n, n, up);
        return;
    }
#ifdef OBLIV_HAVE_AVX2
    if (c->kind == KIND_16 && c->avx2 && is_pow2(n) && n >= 32) {
        /* Above the cache block: strides n/2, n/4, n/8 in one pass, then the eighths. */
        level3_16_avx2(c->base + 16 * lo, n, n, n / 2, up);
        for (size_t q = 0; q < 8; q++) merge_seq(c, lo + q * (n / 8), n / 8, up);
        return;
    }
#endif
    size_t p = pow2_below(n);
    run_dir(c, lo, lo + p, n - p, up);
    merge_seq(c, lo, p, up);
    merge_seq(c, lo + p, n - p, up);
}

static void sort_seq(const struct sctx *c, size_t lo, size_t n, bool up)
{
    if (n < 2) return;
    if (is_pow2(n) && n <= c->blk) {
        for (size_t k = 2; k <= n; k *= 2) stage(c, lo, n, k, up);
        return;
    }
    size_t m = n / 2;
    sort_seq(c, lo, m, !up);
    sort_seq(c, lo + m, n - m, up);
    merge_seq(c, lo, n, up);
}

/* ---- fork/join over public index ranges --------------------------------------------------- */

enum task_op { OP_SORT, OP_MERGE, OP_RUN, OP_L3, OP_MERGES };

struct task {
    const struct sctx *c;
    enum task_op op;
    size_t lo, n, p; /* OP_RUN: CE(lo+i, lo+p+i) for i < n; OP_L3: the byte range [n, p) of
                        level3_part over the 16-byte block of 2^k records at lo (k: j);
                        OP_MERGES: merge the n/p blocks of p records from lo */
    bool up;
    unsigned depth; /* may split into 2^depth threads */
    size_t j;       /* OP_L3 */
};

static void task_exec(struct task *t);

static void *task_thread(void *arg)
{
    task_exec(arg);
    return NULL;
}

/* Runs a on a new thread and b on this one, then waits for a. If no thread can be
 * started, runs a here too: the work, and its trace, are the same either way. */
static void par2(struct task *a, struct task *b)
{
    pthread_t th;
    if (pthread_create(&th, NULL, task_thread, a) != 0) {
        task_exec(a);
        task_exec(b);
        return;
    }
    task_exec(b);
    pthread_join(th, NULL);
}

static bool worth_splitting(const struct sctx *c, size_t n, unsigned depth)
{
    return depth > 0 && n * c->w >= c->par_min;
}

static void merge_par(const struct sctx *c, size_t lo, size_t n, bool up, unsigned depth)
{
    if (!worth_splitting(c, n, depth)) {
        merge_seq(c, lo, n, up);
        return;
    }
#ifdef OBLIV_HAVE_AVX2
    if (c->kind == KIND_16 && c->avx2 && is_pow2(n) && n >= 64) {
        /* Strides n/2, n/4, n/8 in one pass cut in two by index, then the eighths, four
         * per thread. */
        size_t j = n / 2, bytes = 4 * j, half = bytes / 2;
        struct task l0 = {c, OP_L3, lo, 0, half, up, depth - 1, j};
        struct task l1 = {c, OP_L3, lo, half, bytes, up, depth - 1, j};
        par2(&l0, &l1);
        struct task m0 = {c, OP_MERGES, lo, n / 2, n / 8, up, depth - 1, 0};
        struct task m1 = {c, OP_MERGES, lo + n / 2, n / 2, n / 8, up, depth - 1, 0};
        par2(&m0, &m1);
        return;
    }
#endif
    size_t p = pow2_below(n), cnt = n - p, h = cnt / 2;
    /* The compare step, cut in two by index. */
    if (worth_splitting(c, cnt, depth)) {
        struct task r0 = {c, OP_RUN, lo, h, p, up, depth - 1, 0};
        struct task r1 = {c, OP_RUN, lo + h, cnt - h, p, up, depth - 1, 0};
        par2(&r0, &r1);
    } else {
        run_dir(c, lo, lo + p, cnt, up);
    }
    if (n - p == p) {
        struct task m0 = {c, OP_MERGE, lo, p, 0, up, depth - 1, 0};
        struct task m1 = {c, OP_MERGE, lo + p, p, 0, up, depth - 1, 0};
        par2(&m0, &m1);
    } else {
        /* Unequal halves: give each one all the threads in turn. */
        merge_par(c, lo, p, up, depth);
        merge_par(c, lo + p, n - p, up, depth);
    }
}

static void sort_par(const struct sctx *c, size_t lo, size_t n, bool up, unsigned depth)
{
    if (!worth_splitting(c, n, depth)) {
        sort_seq(c, lo, n, up);
        return;
    }
    size_t m = n / 2;
    struct task s0 = {c, OP_SORT, lo, m, 0, !up, depth - 1, 0};
    struct task s1 = {c, OP_SORT, lo + m, n - m, 0, up, depth - 1, 0};
    par2(&s0, &s1);
    merge_par(c, lo, n, up, depth);
}

static void task_exec(struct task *t)
{
    switch (t->op) {
    case OP_SORT:
        sort_par(t->c, t->lo, t->n, t->up, t->depth);
        return;
    case OP_MERGE:
        merge_par(t->c, t->lo, t->n, t->up, t->depth);
        return;
    case OP_L3:
#ifdef OBLIV_HAVE_AVX2
        level3_part(t->c->base + 16 * t->lo, t->j, t->up, t->n, t->p);
#endif
        return;
    case OP_MERGES:
        for (size_t b = 0; b < t->n; b += t->p) merge_par(t->c, t->lo + b, t->p, t->up, t->depth);
        return;
    case OP_RUN:
        if (worth_splitting(t->c, t->n, t->depth)) {
            size_t h = t->n / 2;
            struct task a = {t->c, OP_RUN, t->lo, h, t->p, t->up, t->depth - 1, 0};
            struct task b = {t->c, OP_RUN, t->lo + h, t->n - h, t->p, t->up, t->depth - 1, 0};
            par2(&a, &b);
        } else {
            run_dir(t->c, t->lo, t->lo + t->p, t->n, t->up);
        }
        return;
    }
}

/* ---- entry points ------------------------------------------------------------------------- */

void obliv_sort(void *recs, size_t n, const struct obliv_sort_spec *spec)
{
    if (spec == NULL || spec->width == 0 || spec->width % 8 != 0)
        MC2_PANIC("obliv_sort: record width must be a positive multiple of 8");
    if (spec->lt == NULL &&
        (spec->key_words == 0 || spec->key_off % 8 != 0 || spec->key_off > spec->width ||
         spec->key_words > (spec->width - spec->key_off) / 8))
        MC2_PANIC("obliv_sort: key words must lie inside the record at an 8-byte offset");
    size_t bytes;
    if (!mc2_mul_size(n, spec->width, &bytes)) MC2_PANIC("obliv_sort: n * width overflows");
    if (n < 2) return;

    struct sctx c = {
        .base = recs,
        .w = spec->width,
        .koff = spec->key_off,
        .kw = spec->key_words,
        .lt = spec->lt,
        .lt_ctx = spec->lt_ctx,
    };
    if (spec->lt != NULL)
        c.kind = KIND_FN;
    else if (spec->key_words > 1)
        c.kind = KIND_WORDS;
    else if (spec->width == 16 && spec->key_off == 0)
        c.kind = KIND_16;
    else
        c.kind = KIND_WORD;
#ifdef OBLIV_HAVE_AVX2
    __builtin_cpu_init(); /* idempotent; needed if we run before libgcc's constructor */
    c.avx2 = !spec->no_simd && __builtin_cpu_supports("avx2") != 0;
#endif
    size_t block = spec->block_bytes ? spec->block_bytes : OBLIV_BLOCK_BYTES;
    c.par_min = spec->par_min_bytes ? spec->par_min_bytes : OBLIV_PAR_MIN_BYTES;
    c.blk = 1;
    while (c.blk * 2 * c.w <= block) c.blk *= 2;

    unsigned threads = spec->threads == 0 ? 2 : spec->threads, depth = 0;
    while (depth < 6 && (2u << depth) <= threads) depth++;
    sort_par(&c, 0, n, true, depth);
}

void obliv_sort_u64(void *recs, size_t n, size_t width, unsigned threads)
{
    struct obliv_sort_spec s = {.width = width, .key_off = 0, .key_words = 1, .threads = threads};
    obliv_sort(recs, n, &s);
}

/* ---- cost model (mirrors the recursion above, counting compare-exchanges) ------------------ */

static uint64_t merge_cost(size_t n)
{
    if (n < 2) return 0;
    size_t p = pow2_below(n);
    return (uint64_t)(n - p) + merge_cost(p) + merge_cost(n - p);
}

static uint64_t sort_cost(size_t n)
{
    if (n < 2) return 0;
    return sort_cost(n / 2) + sort_cost(n - n / 2) + merge_cost(n);
}

uint64_t obliv_sort_cost(size_t n)
{
    return sort_cost(n);
}
