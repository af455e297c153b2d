/* rows.h - fixed-width rows for the oblivious operators (docs/obliv.md, "Operators"), the
 * leakage policy every operator call takes, and the conversion from and to column batches.
 *
 * A row is `width` 64-bit words:
 *   word 0  valid: 1 for a real row, 0 for a dummy (padding) row
 *   word 1  null flags: bit c set = column c is NULL (its value words are then all zero)
 *   then each column's words, in schema order:
 *     INT64, DECIMAL   1 word, the int64 (DECIMAL: value * 10^scale)
 *     DATE             1 word, the int32 day number sign-extended to int64
 *     BOOL             1 word, 0 or 1
 *     DOUBLE           1 word, the IEEE bits (obliv_key_f64 gives the order-preserving key)
 *     VARCHAR(n)       1 word holding the byte length, then ceil(4n / 8) words of bytes
 *                      (the UTF-8 upper bound 4n, zero-padded)
 *
 * Public: the row count n and the layout (so the width). Secret: every word of every row,
 * including valid and the null flags. Operators never branch on, or index memory by, a
 * secret word; loops run over n and the layout only. */
#ifndef MC2_OBLIV_ROWS_H
#define MC2_OBLIV_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mc2/table.h"

#define OBLIV_MAX_COLS 62 /* null flags fit one word; a join's output has at most this many */
#define OBLIV_W_VALID  0
#define OBLIV_W_NULLS  1
#define OBLIV_W_COLS   2

struct obliv_col {
    mc2_coltype type;
    size_t word;   /* index of the column's first word in the row */
    size_t nwords; /* 1, or for VARCHAR 1 + ceil(4 * length / 8) */
};

struct obliv_layout {
    size_t ncols;
    size_t width; /* words per row */
    struct obliv_col col[OBLIV_MAX_COLS];
};

/* n rows of a layout: w holds n * lay.width words. cap is the allocated row count. */
struct obliv_rows {
    struct obliv_layout lay;
    size_t n;
    size_t cap;
    uint64_t *w;
};

static inline uint64_t *obliv_row(const struct obliv_rows *r, size_t i)
{
    return r->w + i * r->lay.width;
}

/* The leakage policy of one operator call (docs/security.md, oblivious execution; docs/obliv.md):
 *   OBLIV_REVEAL  the operator's true output size becomes public: the output holds exactly
 *                 the real rows (n = true size), all valid;
 *   OBLIV_PAD     the output holds exactly `bound` rows (public), the real ones first, then
 *                 dummies; if the true size exceeds bound the call fails with MC2_E_LIMIT,
 *                 which reveals that one bit and nothing else. */
enum obliv_leak { OBLIV_REVEAL = 0, OBLIV_PAD = 1 };

struct obliv_opts {
    enum obliv_leak leak;
    size_t bound;     /* OBLIV_PAD only */
    unsigned threads; /* for the sorts; as in struct obliv_sort_spec (0: default) */
};

/* Builds a layout for the column types given (at most OBLIV_MAX_COLS). */
int obliv_layout_init(struct obliv_layout *lay, const mc2_coltype *types, size_t ncols,
                      mc2_err *err) MC2_WUR;
int obliv_layout_from_schema(struct obliv_layout *lay, const mc2_schema *s, mc2_err *err) MC2_WUR;
/* The layout of a's columns followed by b's (join outputs). */
int obliv_layout_concat(struct obliv_layout *out, const struct obliv_layout *a,
                        const struct obliv_layout *b, mc2_err *err) MC2_WUR;

/* Allocates n zeroed rows (all dummies). n may be 0. */
int obliv_rows_alloc(struct obliv_rows *r, const struct obliv_layout *lay, size_t n,
                     mc2_err *err) MC2_WUR;
/* Wipes and frees the rows; r is left empty. */
void obliv_rows_free(struct obliv_rows *r);
/* Appends the n rows of src (same layout) to dst: UNION ALL. Public sizes only. */
int obliv_rows_append(struct obliv_rows *dst, const struct obliv_rows *src, mc2_err *err) MC2_WUR;

/* Converts batch rows [0, b->nrows) into r (allocated here, all rows valid). Oblivious in
 * the values: fixed loops over the public row count and layout; VARCHAR bytes, whose
 * offsets in the batch are secret, are moved into their padded slots by oblivious
 * expansion (obliv_expand), never read at a secret address. Fails with MC2_E_LIMIT for
 * more than OBLIV_MAX_COLS columns or a VARCHAR value longer than 4 * length bytes. */
int obliv_rows_from_batch(struct obliv_rows *r, const mc2_batch *b, mc2_err *err) MC2_WUR;

/* Writes rows [0, r->n) into b (whose schema must match r's layout), replacing its rows. b
 * must already have cap >= r->n and, for each VARCHAR column of length L, data_cap >=
 * r->n * 4 * L (the public upper bound; mc2_batch_reserve_chars). Rows are written as they
 * are, valid or not: apply the leakage policy first (obliv_finish). VARCHAR bytes are
 * packed by oblivious compaction; the total byte count of each column is revealed (the
 * encoded block reveals it anyway). */
int obliv_rows_to_batch(const struct obliv_rows *r, mc2_batch *b, mc2_err *err) MC2_WUR;

/* Applies the leakage policy to rows whose real rows come first and number `count` (a
 * secret): OBLIV_REVEAL declassifies count and sets r->n = count; OBLIV_PAD declassifies
 * only count > bound (then fails with MC2_E_LIMIT) and resizes r to bound rows, adding
 * zeroed dummies. Every operator ends with this. */
int obliv_finish(struct obliv_rows *r, uint64_t count, const struct obliv_opts *o,
                 mc2_err *err) MC2_WUR;

/* Oblivious expansion (distribution; the inverse of order-preserving compaction): recs
 * holds n slots of `width` bytes whose first c slots are the source records, where c is
 * the number of nonzero marks; afterwards the k-th source record is in the slot of the k-th
 * nonzero mark, and the unmarked slots hold unspecified bytes. Public: n, width; secret:
 * marks, records, c. Goodrich's routing run backwards: O(n log n) masked swaps. scratch: n
 * words. Returns c. */
uint64_t obliv_expand(void *recs, size_t n, size_t width, const uint8_t *marks, uint64_t *scratch);

/* The one place a secret becomes public: returns x, and in the valgrind probes (built with
 * MC2_OBLIV_VALGRIND) tells memcheck the value is now defined. Every declassification (an
 * output size, a policy's error bit) goes through it, so the leakage is greppable. */
uint64_t obliv_declassify(uint64_t x);

#endif
