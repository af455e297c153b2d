/* ct.h - the constant-time vocabulary of oblivious mode: masks, compares, selects and swaps
 * that never branch on, or index memory by, their (secret) operands (in the manner of BearSSL).
 *
 * A "mask" is a uint64_t that is either 0 or all ones (~0). Every helper here is built from
 * arithmetic and bitwise operations only; results that later feed a select or swap pass
 * through ct_barrier(), an empty asm statement that hides the value from the optimiser so
 * it cannot prove the mask is 0/~0 and turn `(a & m) | (b & ~m)` back into a branch.
 * Loop bounds in this file depend only on the public length arguments.
 * Whether the compiled code really is branch- and address-free is checked by the valgrind
 * tests under tests/obliv (docs/obliv.md). */
#ifndef MC2_OBLIV_CT_H
#define MC2_OBLIV_CT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/bytes.h"

__extension__ typedef unsigned __int128 ct_u128;

/* Returns x unchanged, but opaque to the optimiser (a value barrier, as in BearSSL and
 * libsodium). Costs nothing at run time. */
static inline uint64_t ct_barrier(uint64_t x)
{
    __asm__("" : "+r"(x));
    return x;
}

/* Mask from a bit: 0 -> 0, 1 -> ~0. bit must be 0 or 1. */
static inline uint64_t ct_mask(uint64_t bit)
{
    return ct_barrier((uint64_t)0 - bit);
}

/* Mask from any value: 0 -> 0, nonzero -> ~0. */
static inline uint64_t ct_nonzero(uint64_t x)
{
    return ct_mask((x | ((uint64_t)0 - x)) >> 63);
}

/* ~0 if x == y, else 0. */
static inline uint64_t ct_eq_u64(uint64_t x, uint64_t y)
{
    return ~ct_nonzero(x ^ y);
}

/* ~0 if x < y (unsigned), else 0: the borrow of a 128-bit subtraction (sub/sbb). */
static inline uint64_t ct_lt_u64(uint64_t x, uint64_t y)
{
    return ct_barrier((uint64_t)(((ct_u128)x - (ct_u128)y) >> 64));
}

/* ~0 if x < y (signed two's complement), else 0. */
static inline uint64_t ct_lt_i64(int64_t x, int64_t y)
{
    const uint64_t bias = (uint64_t)1 << 63;
    return ct_lt_u64((uint64_t)x ^ bias, (uint64_t)y ^ bias);
}

/* mask ? a : b, without a branch. mask must be 0 or ~0. */
static inline uint64_t ct_select_u64(uint64_t mask, uint64_t a, uint64_t b)
{
    return b ^ (ct_barrier(mask) & (a ^ b));
}

/* Loads and stores of one unaligned 64-bit word (memcpy compiles to a plain mov). */
static inline uint64_t ct_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline void ct_store64(void *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Bit casts between IEEE floating-point values and their bits: mc2_f32_bits, mc2_f64_of,
 * ... in base/bytes.h (memcpy: no aliasing UB, no code). */

/* Order-preserving key of a float's bits u (not NaN): for floats a, b, a < b iff
 * ct_f32_key(a) < ct_f32_key(b) as integers; -0 and +0 get the same key (as C's `<` says). */
static inline uint64_t ct_f32_key(uint32_t u)
{
    u &= ~((uint32_t)ct_eq_u64(u, 0x80000000u) & 0x80000000u);
    uint32_t neg = (uint32_t)ct_mask(u >> 31);
    return (uint64_t)(u ^ (neg | 0x80000000u));
}

/* If mask is ~0, exchanges the len bytes at a and b; if 0, leaves both unchanged. Both
 * buffers are read and written in full either way. a and b must not overlap (unless equal).
 * Word-at-a-time over len/8 words, bytewise over the tail; len is public. */
static inline void ct_cswap_bytes(uint64_t mask, void *a, void *b, size_t len)
{
    unsigned char *pa = a, *pb = b;
    uint64_t m = ct_barrier(mask);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x = ct_load64(pa + i), y = ct_load64(pb + i);
        uint64_t t = (x ^ y) & m;
        ct_store64(pa + i, x ^ t);
        ct_store64(pb + i, y ^ t);
    }
    unsigned char mb = (unsigned char)m;
    for (; i < len; i++) {
        unsigned char t = (unsigned char)((pa[i] ^ pb[i]) & mb);
        pa[i] = (unsigned char)(pa[i] ^ t);
        pb[i] = (unsigned char)(pb[i] ^ t);
    }
}

/* If mask is ~0, copies len bytes from src to dst; if 0, leaves dst unchanged (dst is
 * rewritten with its own value). Reads src and dst in full either way. */
static inline void ct_cmov_bytes(uint64_t mask, void *dst, const void *src, size_t len)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    uint64_t m = ct_barrier(mask);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t x = ct_load64(d + i), y = ct_load64(s + i);
        ct_store64(d + i, x ^ ((x ^ y) & m));
    }
    unsigned char mb = (unsigned char)m;
    for (; i < len; i++) d[i] = (unsigned char)(d[i] ^ ((d[i] ^ s[i]) & mb));
}

/* ~0 if the n-word key at a is lexicographically less than the one at b, else 0. Word 0 is
 * the most significant; each word compares as an unsigned integer. Reads all n words. */
static inline uint64_t ct_lt_words(const uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t lt = 0, eq = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        lt |= eq & ct_lt_u64(a[i], b[i]);
        eq &= ct_eq_u64(a[i], b[i]);
    }
    return ct_barrier(lt);
}

/* ~0 if the n bytes at a are lexicographically less than the n bytes at b, comparing
 * unsigned bytes (memcmp order, i.e. big-endian for encoded integers), else 0. Reads all n
 * bytes; never stops at the first difference. */
static inline uint64_t ct_lt_bytes(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;
    uint64_t lt = 0, eq = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        lt |= eq & ct_lt_u64(pa[i], pb[i]);
        eq &= ct_eq_u64(pa[i], pb[i]);
    }
    return ct_barrier(lt);
}

#endif
