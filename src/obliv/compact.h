/* compact.h - order-preserving oblivious compaction of fixed-width records. */
#ifndef MC2_OBLIV_COMPACT_H
#define MC2_OBLIV_COMPACT_H

#include <stddef.h>
#include <stdint.h>

/* Moves the records whose mark is nonzero to the front of recs, in their original order;
 * the other n - count slots then hold the unmarked records (in no promised order). Returns
 * count, the number of marked records -- a SECRET value: the caller reveals it, or pads
 * to a public bound, as the job's leakage policy says.
 *
 * Public: n and width. Secret: marks and record contents. Every branch and address depends
 * only on n and width (Goodrich's logarithmic shifting: each marked record's distance to
 * its destination, the number of unmarked records before it, is routed bit by bit in
 * ceil(log2 n) passes; pass b moves a record 2^b slots left iff bit b of its distance is
 * set, with a masked swap at every position; no two records ever collide, and order is
 * kept). O(n log n) swaps of `width` bytes.
 *
 * marks: n bytes, zero = drop, nonzero = keep. scratch: n uint64_t words, caller-provided
 * (no allocation here); it ends holding secret-derived values, so wipe it if it outlives
 * the secret. width may be any positive size. */
uint64_t obliv_compact(void *recs, size_t n, size_t width, const uint8_t *marks, uint64_t *scratch);

#endif
