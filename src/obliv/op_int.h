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

/* Multi-column join keys (op.h). obliv_join_keys_check: MC2_E_USAGE unless 1 <= nkeys <=
 * OBLIV_MAX_COLS, every column is in range and each pair has identical types; on success
 * *kw = the key words per record (the same on both sides). obliv_join_keys_encode writes
 * the kw key words of a row (obliv_key_encode of each column, ascending, in turn) and
 * returns 1 if any key column is NULL, else 0 (secret). */
int obliv_join_keys_check(const struct obliv_layout *la, const uint32_t *a_cols,
                          const struct obliv_layout *lb, const uint32_t *b_cols, size_t nkeys,
                          size_t *kw, mc2_err *err) MC2_WUR;
uint64_t obliv_join_keys_encode(const struct obliv_layout *lay, const uint32_t *cols, size_t nkeys,
                                const uint64_t *row, uint64_t *out);

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
