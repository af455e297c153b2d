/* compact.c - order-preserving oblivious compaction by logarithmic shifting (Goodrich,
 * "Data-oblivious external-memory algorithms for the compaction, selection, and sorting
 * of outsourced data", SPAA 2011), with masked swaps over whole records.
 *
 * Why no collisions: for marked records j < k with distances d_j <= d_k (the count of
 * unmarked records before them), k - j >= 1 + d_k - d_j, and after routing bits 0..b-1
 * their positions j - (d_j mod 2^b) < k - (d_k mod 2^b). So within a pass, the slot a record
 * moves into holds an unmarked record or one that already moved out (slots are visited
 * left to right), and a masked swap carries the unmarked one rightwards. */
#include "obliv/compact.h"

#include "base/alloc.h"
#include "obliv/ct.h"

#define TAG_MARK ((uint64_t)1 << 63) /* scratch word: mark bit | distance (low 63 bits) */

/* Pass b: the records whose distance has bit b set move 2^b slots left (masked swaps). */
static void pass_any(unsigned char *r, uint64_t *scratch, size_t n, size_t width, unsigned b)
{
    size_t s = (size_t)1 << b;
    for (size_t j = 0; j + s < n; j++) {
        uint64_t t = scratch[j + s], u = scratch[j];
        uint64_t mv = ct_mask((t >> 63) & (t >> b) & 1);
        ct_cswap_bytes(mv, r + j * width, r + (j + s) * width, width);
        uint64_t x = (t ^ u) & mv;
        scratch[j] = u ^ x;
        scratch[j + s] = t ^ x;
    }
}

/* pass_any for 16-byte records (the common sort-record width): the same swaps, unrolled. */
static void pass16(unsigned char *r, uint64_t *scratch, size_t n, unsigned b)
{
    size_t s = (size_t)1 << b;
    for (size_t j = 0; j + s < n; j++) {
        uint64_t t = scratch[j + s], u = scratch[j];
        uint64_t mv = ct_barrier(ct_mask((t >> 63) & (t >> b) & 1));
        unsigned char *pa = r + j * 16, *pb = pa + s * 16;
        uint64_t a0 = ct_load64(pa), a1 = ct_load64(pa + 8);
        uint64_t b0 = ct_load64(pb), b1 = ct_load64(pb + 8);
        uint64_t x0 = (a0 ^ b0) & mv, x1 = (a1 ^ b1) & mv, x = (t ^ u) & mv;
        ct_store64(pa, a0 ^ x0);
        ct_store64(pa + 8, a1 ^ x1);
        ct_store64(pb, b0 ^ x0);
        ct_store64(pb + 8, b1 ^ x1);
        scratch[j] = u ^ x;
        scratch[j + s] = t ^ x;
    }
}

uint64_t obliv_compact(void *recs, size_t n, size_t width, const uint8_t *marks, uint64_t *scratch)
{
    if (width == 0) MC2_PANIC("obliv_compact: width must be positive");
    size_t bytes;
    if (!mc2_mul_size(n, width, &bytes) || n >= TAG_MARK)
        MC2_PANIC("obliv_compact: n * width overflows");
    unsigned char *r = recs;
    uint64_t unmarked = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t m = ct_nonzero(marks[i]) & 1;
        scratch[i] = (m << 63) | unmarked;
        unmarked += 1 - m;
    }
    for (unsigned b = 0; b < 63 && ((size_t)1 << b) < n; b++) {
        if (width == 16)
            pass16(r, scratch, n, b);
        else
            pass_any(r, scratch, n, width, b);
    }
    return (uint64_t)n - unmarked;
}
