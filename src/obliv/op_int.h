/* op_int.h - helpers shared by the oblivious operators (not an API). */
#ifndef MC2_OBLIV_OP_INT_H
#define MC2_OBLIV_OP_INT_H

#include "obliv/op.h"

/* Key words encoding column c of a row for sorting (order-preserving, unsigned): a null
 * word (1 = NULL; complemented for NULLS FIRST), then the value: one word (INT64,
 * DECIMAL, DATE: biased; BOOL; DOUBLE: obliv_key_f64), or for VARCHAR the bytes as
 * big-endian words then the length; DESC complements the value words. */
size_t obliv_key_nwords(const struct obliv_layout *lay, uint32_t c);
void obliv_key_encode(const struct obliv_layout *lay, const uint64_t *row,
                      const struct obliv_sortkey *k, uint64_t *out);

/* Compacts r by its valid words (real rows to the front, order kept); returns the secret
 * count of real rows. */
int obliv_compact_valid(struct obliv_rows *r, uint64_t *count, mc2_err *err) MC2_WUR;

/* ~0 if column c of rows a and b (same layout) is equal, value words and null flag. */
uint64_t obliv_col_eq(const struct obliv_layout *lay, uint32_t c, const uint64_t *a,
                      const uint64_t *b);

/* Zeroed memory: malloc + memset rather than calloc, so that blocks are recycled the same
 * way every call (glibc's calloc bypasses the thread cache; the heap would drift from one
 * call to the next and the trace-equality test would see it). */
void *obliv_zalloc(size_t count, size_t size);

#endif
