/* fastsort.c - LSD radix sort of fixed-width records (8-bit digits, one counting pass per
 * key word, passes whose digit is constant skipped). Not oblivious, by design. */
#include "obliv/fastsort.h"

#include "base/alloc.h"

#include <stdint.h>
#include <string.h>

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* One stable scatter pass from src to dst by byte `sh/8` of the key word at koff. */
static void scatter(const unsigned char *src, unsigned char *dst, size_t n, size_t w, size_t koff,
                    unsigned sh, const size_t *count)
{
    size_t pos[256], sum = 0;
    for (unsigned d = 0; d < 256; d++) {
        pos[d] = sum;
        sum += count[d];
    }
    if (w == 16) {
        for (size_t i = 0; i < n; i++) {
            const unsigned char *r = src + 16 * i;
            unsigned d = (unsigned)(load64(r + koff) >> sh) & 0xff;
            memcpy(dst + 16 * pos[d]++, r, 16);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *r = src + w * i;
        unsigned d = (unsigned)(load64(r + koff) >> sh) & 0xff;
        memcpy(dst + w * pos[d]++, r, w);
    }
}

void obliv_fastsort(void *recs, size_t n, size_t width, size_t key_off, size_t key_words,
                    void *scratch)
{
    if (width == 0 || width % 8 != 0 || key_words == 0 || key_off % 8 != 0 || key_off > width ||
        key_words > (width - key_off) / 8)
        MC2_PANIC("obliv_fastsort: bad record or key layout");
    if (n < 2) return;
    unsigned char *a = recs, *b = scratch;
    static const size_t zero[8][256];
    for (size_t wi = key_words; wi-- > 0;) {
        size_t koff = key_off + 8 * wi;
        size_t count[8][256];
        memcpy(count, zero, sizeof count);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = load64(a + width * i + koff);
            for (unsigned d = 0; d < 8; d++) count[d][(k >> (8 * d)) & 0xff]++;
        }
        for (unsigned d = 0; d < 8; d++) {
            uint64_t k0 = load64(a + koff);
            if (count[d][(k0 >> (8 * d)) & 0xff] == n) continue; /* digit constant: skip */
            scatter(a, b, n, width, koff, 8 * d, count[d]);
            unsigned char *t = a;
            a = b;
            b = t;
        }
    }
    if (a != recs) memcpy(recs, a, n * width);
}
