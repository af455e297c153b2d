/* fastsort.h - the fastest NON-oblivious sort mc2 has (LSD radix sort on fixed-width
 * records): for encryption mode, and the baseline oblivious sort is benchmarked against. Its
 * branches and addresses depend on the keys: never use it on secrets in oblivious mode. */
#ifndef MC2_OBLIV_FASTSORT_H
#define MC2_OBLIV_FASTSORT_H

#include <stddef.h>

/* Sorts the n `width`-byte records at recs ascending by the key of `key_words` u64 words at
 * byte `key_off` (native byte order, word 0 most significant, unsigned) -- the same key
 * layout as struct obliv_sort_spec. Stable. scratch must hold n * width bytes; the result
 * ends in recs. width must be a multiple of 8; key words must lie inside the record.
 * Misuse aborts. */
void obliv_fastsort(void *recs, size_t n, size_t width, size_t key_off, size_t key_words,
                    void *scratch);

#endif
