/* chunk.h - one column of a batch as bytes, and its statistics. The column encoding is shared
 * by the block payload of format version 1 (all columns of a block one after the other, in one
 * sealed frame) and by the column chunk of version 2 (one sealed chunk per column and block);
 * docs/format.md, "Column encoding":
 *
 *   u8 type id | u8 null map (0: no bitmap; 1: a bitmap follows) | [ceil(nrows/8) bytes: bit
 *   i%8 of byte i/8 set = row i NULL, bits past nrows zero] | values (INT64, DECIMAL, DOUBLE:
 *   nrows x 8 bytes; DATE: nrows x i32; BOOL: nrows x u8; VARCHAR: nrows x u32 end offsets,
 *   then the text)
 *
 * Version 1 writes the bitmap only when some row is NULL; version 2 always writes it for a
 * nullable column (and never for a NOT NULL one), so that whether it is there - and so the
 * chunk's length, which the host sees - is a function of the schema, not of the data. */
#ifndef MC2_TABLE_CHUNK_H
#define MC2_TABLE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"

/* Statistics of one column of one block (format v2 keeps them, sealed, in its footer). */
#define MC2_STATS_MINMAX  1u /* min and max hold the smallest and largest non-NULL value */
#define MC2_STATS_NULLS   2u /* some row is NULL */
#define MC2_STATS_ALLNULL 4u /* every row is NULL (or the block has no rows) */
typedef struct mc2_colstats {
    uint8_t flags;
    /* INT64 and DECIMAL (scaled) values, DATE day numbers and BOOL 0/1 as int64; DOUBLE: the
     * bits of the double. VARCHAR and wide DECIMAL (DEC128): none (MINMAX is never set). */
    int64_t min, max;
} mc2_colstats;

/* Bytes per row in a column's value array, in batches and in encodings (VARCHAR: its u32
 * end offset; the text comes on top). Inline: the oblivious decoder uses it too. */
static inline size_t mc2_col_width(enum mc2_type t)
{
    switch (t) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
    case MC2_T_DOUBLE:
        return 8;
    case MC2_T_DEC128:
        return 16;
    case MC2_T_DATE:
    case MC2_T_VARCHAR:
        return 4;
    case MC2_T_BOOL:
        return 1;
    }
    MC2_PANIC("unknown column type");
}
/* The length of column c's encoding (rows [0, b->nrows)); always_bitmap: the v2 rule. */
int mc2_col_size(const mc2_batch *b, size_t c, bool always_bitmap, size_t *out,
                 mc2_err *err) MC2_WUR;
/* Writes column c's encoding at p (mc2_col_size bytes) and returns the end, or NULL (an
 * internal error: a NULL row holding text). */
uint8_t *mc2_col_put(const mc2_batch *b, size_t c, bool always_bitmap, uint8_t *p, mc2_err *err);
/* Computes column c's statistics over rows [0, b->nrows). */
void mc2_col_stats(const mc2_batch *b, size_t c, mc2_colstats *st);

/* Decodes one column encoding of exactly nrows rows from r into column c of b (b->cap >=
 * nrows: mc2_batch_grow first), validating everything as mc2_batch_decode does (hostile
 * input). v2: a nullable column must carry its bitmap. Errors start with `what` ("block
 * payload", "column chunk") and name the column, never a value. Does not set b->nrows. */
int mc2_col_get(mc2_batch *b, size_t c, mc2_rd *r, size_t nrows, bool v2, const char *what,
                mc2_err *err) MC2_WUR;

/* Copies rows [from, from+n) of src into dst (same schema), replacing dst's rows. */
int mc2_batch_copy_rows(mc2_batch *dst, const mc2_batch *src, size_t from, size_t n,
                        mc2_err *err) MC2_WUR;

/* Makes room for at least `rows` rows in b (old contents are discarded when it grows). */
int mc2_batch_grow(mc2_batch *b, size_t rows, mc2_err *err) MC2_WUR;

#endif
