/* shuffle.c - oblivious shuffle: random 128-bit tags, oblivious sort by tag. */
#include "obliv/shuffle.h"

#include "base/alloc.h"
#include "obliv/sort.h"

#include <string.h>

#define TAG_BYTES 16

size_t obliv_shuffle_scratch_bytes(size_t n, size_t width)
{
    size_t w, total;
    if (!mc2_add_size(width, TAG_BYTES, &w) || !mc2_mul_size(n, w, &total)) return 0;
    return total;
}

void obliv_shuffle(void *recs, size_t n, size_t width, obliv_rng_fn rng, void *rng_ctx,
                   void *scratch, unsigned threads)
{
    if (width == 0 || width % 8 != 0) MC2_PANIC("obliv_shuffle: width must be a multiple of 8");
    if (n > 0 && obliv_shuffle_scratch_bytes(n, width) == 0)
        MC2_PANIC("obliv_shuffle: n * (width + 16) overflows");
    if (n < 2) return;
    unsigned char *r = recs, *t = scratch;
    size_t tw = width + TAG_BYTES;
    for (size_t i = 0; i < n; i++) {
        rng(rng_ctx, t + i * tw, TAG_BYTES);
        memcpy(t + i * tw + TAG_BYTES, r + i * width, width);
    }
    struct obliv_sort_spec spec = {
        .width = tw, .key_off = 0, .key_words = TAG_BYTES / 8, .threads = threads};
    obliv_sort(t, n, &spec);
    for (size_t i = 0; i < n; i++) memcpy(r + i * width, t + i * tw + TAG_BYTES, width);
}
