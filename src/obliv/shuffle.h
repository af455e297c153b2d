/* shuffle.h - oblivious uniformly random permutation of fixed-width records. */
#ifndef MC2_OBLIV_SHUFFLE_H
#define MC2_OBLIV_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

/* Fills out[0..len) with uniformly random bytes (e.g. a CSPRNG; tests use a seeded one). */
typedef void (*obliv_rng_fn)(void *ctx, void *out, size_t len);

/* Bytes of scratch obliv_shuffle needs for n records of width bytes: n * (width + 16); 0
 * if that overflows (then the caller must not shuffle; report MC2_E_LIMIT). */
size_t obliv_shuffle_scratch_bytes(size_t n, size_t width);

/* Permutes the n `width`-byte records at recs uniformly at random, obliviously: each
 * record gets a random 128-bit tag from rng, the (tag, record) pairs are sorted by tag with
 * obliv_sort, and the records are copied back. Public: n, width. Secret: contents, tags, and
 * so the permutation. Two equal tags (probability at most n^2 / 2^129) would only bias the
 * permutation, never the access pattern. width must be a multiple of 8. scratch: see
 * obliv_shuffle_scratch_bytes (caller-provided; holds copies of the records afterwards:
 * wipe it if it outlives them). threads: as in struct obliv_sort_spec. */
void obliv_shuffle(void *recs, size_t n, size_t width, obliv_rng_fn rng, void *rng_ctx,
                   void *scratch, unsigned threads);

#endif
