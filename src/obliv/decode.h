/* decode.h - oblivious decoding of a block's authenticated plaintext straight into
 * fixed-width rows (rows.h), without the branchy batch decoder (docs/obliv.md, "Decoding
 * from the sealed bytes"; the payload format is docs/format.md, "Block payload").
 *
 * The unit is ONE COLUMN's encoding:
 *
 *   u8 type id | u8 null map flag | [bitmap: ceil(nrows/8) bytes] | values
 *
 * given public facts only: the column's definition (type, VARCHAR length, nullable), the row
 * count, whether the bitmap is present, and the encoding's byte length. Everything else is
 * secret: the type id and flag bytes, the bitmap, every value, every VARCHAR end offset and
 * byte. The decoder runs fixed loops over the public sizes, never branches on a secret byte
 * and never reads or writes at an address that depends on one (VARCHAR bytes reach their
 * padded slots by oblivious expansion, rows.h). It checks every rule of the format with masks
 * and returns a SECRET validity mask (~0: valid):
 *
 *   type id = the column's; flag = the bitmap parameter; bitmap bits past nrows zero; a
 *   column that is NOT NULL has no NULL row; a NULL row holds 0 (all-zero bits for DOUBLE,
 *   the empty string for VARCHAR); BOOL 0 or 1; DATE in 0001-01-01..9999-12-31; DECIMAL
 *   |v| <= 10^p - 1; DOUBLE finite; VARCHAR end offsets non-decreasing, the last equal to the
 *   text's byte count, each value valid UTF-8 (no overlongs, surrogates or code points above
 *   U+10FFFF; checked by a branch-free DFA over the padded slot) of at most n code points.
 *
 * The caller declassifies the validity of a whole block as ONE bit (obliv_decode_verdict).
 *
 * Version-1 payloads (the only format of today) are `u32 nrows | u32 ncols` followed by the
 * columns' encodings back to back, so where column c's encoding starts depends on whether
 * each earlier column carries a bitmap and on each earlier VARCHAR column's byte total.
 * obliv_decode_v1_sections makes exactly those public: one obliv_declassify per column that
 * needs it (a nullable column: "has a NULL in this block"; a VARCHAR column: its byte total
 * as well, in the same call), documented as a v1 leak in docs/security.md. A format that
 * carries each column separately with its bitmap presence public calls obliv_decode_col
 * directly. */
#ifndef MC2_OBLIV_DECODE_H
#define MC2_OBLIV_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mc2/table.h"
#include "obliv/rows.h"

/* Where one column's encoding lies in a block payload (public). */
struct obliv_dsec {
    size_t off;      /* byte offset of the type id byte in the payload */
    size_t len;      /* bytes of the encoding */
    unsigned bitmap; /* 1: the encoding carries a null bitmap */
};

/* Decodes one column's encoding p[0..len) holding nrows rows of column d into column k of
 * rows [row0, row0 + nrows) of r: the column's words and bit k of each row's null-flag
 * word (the valid words are not touched). r->lay.col[k] must have d's type id (and for
 * VARCHAR its length) and r must hold row0 + nrows rows: otherwise this aborts (a bug).
 * bitmap (0 or 1) says whether the encoding carries a bitmap; it is public.
 * Returns 0 and ANDs the secret validity mask into *ok (~0 valid, 0 not), or -1 with an
 * error that names the column, never a value: MC2_E_INPUT when len does not fit the public
 * sizes (a fixed-width column's length is exact; a VARCHAR column's text may not exceed
 * nrows padded slots), MC2_E_NOMEM, MC2_E_LIMIT. Cost: O(nrows) for fixed-width columns;
 * O(m log m) for VARCHAR(n), m = nrows * 8 * ceil(4n / 8) (the expansion) with m words of
 * scratch. No allocation depends on a secret. */
int obliv_decode_col(struct obliv_rows *r, size_t k, size_t row0, size_t nrows,
                     const mc2_column_def *d, unsigned bitmap, const uint8_t *p, size_t len,
                     uint64_t *ok, mc2_err *err) MC2_WUR;

/* Finds the encodings of columns [0, upto) of a version-1 payload pt[0..len) of schema s
 * that must hold nrows rows (the frame's row count: public), into sec[0..upto). Each column
 * whose boundaries depend on the data costs one obliv_declassify: a nullable column's
 * "bitmap present" bit and a VARCHAR column's byte total (in the same call); a NOT NULL
 * fixed-width column costs none. *hdr_ok gets the secret mask "the payload's row and column
 * counts are nrows and s->ncols". Returns -1 with MC2_E_INPUT if the declassified
 * boundaries do not fit the payload (truncated, or, when upto = s->ncols, bytes after the
 * last column): these are public facts. */
int obliv_decode_v1_sections(const mc2_schema *s, const uint8_t *pt, size_t len, size_t nrows,
                             size_t upto, struct obliv_dsec *sec, uint64_t *hdr_ok,
                             mc2_err *err) MC2_WUR;

/* Decodes a version-1 payload pt[0..len) of schema s holding nrows rows into rows
 * [row0, row0 + nrows) of r: rows column k from schema column cols[k], k < r->lay.ncols
 * (the same schema column may appear twice); the valid word of each row is set to 1.
 * Only the columns read are decoded and checked; sections are found up to the last of them.
 * ok[0] gets the header's mask, ok[1 + k] column k's (1 + r->lay.ncols words, secret).
 * Returns 0, or -1 as obliv_decode_v1_sections and obliv_decode_col. The types must match
 * (caller's check; a mismatch aborts). */
int obliv_decode_v1(struct obliv_rows *r, size_t row0, const mc2_schema *s, const unsigned *cols,
                    const uint8_t *pt, size_t len, size_t nrows, uint64_t *ok,
                    mc2_err *err) MC2_WUR;

/* Decodes a version-2 block (format v2: each column sealed as its own chunk, and a nullable
 * column's chunk ALWAYS carries its bitmap, so its presence is public) holding nrows rows into
 * rows [row0, row0 + nrows) of r: rows column k from schema column cols[k], whose chunk is
 * chunk[cols[k]] of clen[cols[k]] bytes (chunk and clen are indexed by schema column; entries
 * of columns not read may be NULL). ok[0] gets ~0 (a v2 chunk has no header: its row count is
 * bound by its associated data), ok[1 + k] column k's mask. Returns 0, or -1 as
 * obliv_decode_col. */
int obliv_decode_v2(struct obliv_rows *r, size_t row0, const mc2_schema *s, const unsigned *cols,
                    const uint8_t *const *chunk, const size_t *clen, size_t nrows, uint64_t *ok,
                    mc2_err *err) MC2_WUR;

/* The verdict on one block: declassifies the AND of ok[0 .. 1 + ncols) as ONE bit. Returns 0
 * if it is set. Otherwise (the job fails) it declassifies the masks one by one, only to name
 * the first bad part, and returns -1 with MC2_E_INPUT: "block payload: ..." for ok[0],
 * "block payload, column N ('name'): ..." for ok[1 + k] (schema column cols[k]; cols NULL
 * means cols[k] = k). The message never holds a value or a row number. */
int obliv_decode_verdict(const mc2_schema *s, const unsigned *cols, size_t ncols,
                         const uint64_t *ok, mc2_err *err) MC2_WUR;

/* Column k of rows [row0, row0 + n) of r as float32 values, out[i * stride] for row row0 + i,
 * computed with masks: INT64, DATE and BOOL converted, DOUBLE rounded to float, DECIMAL as
 * (double)v / 10^scale rounded to float, NaN for NULL (and for VARCHAR). The GBDT jobs'
 * features and labels (bit for bit what the encryption-mode reader computes). */
void obliv_rows_col_f32(const struct obliv_rows *r, size_t k, size_t row0, size_t n, float *out,
                        size_t stride);

/* The GBDT jobs' reader: decodes EVERY column of a version-1 payload pt[0..len) of schema s
 * holding nrows rows, one column at a time, and converts it with obliv_rows_col_f32: column
 * `label` (-1: none) to y[i], the others in schema order to x[i * d + f] (d = the number of
 * the others). ok gets 1 + s->ncols masks (as obliv_decode_v1: ok[0] the header, ok[1 + c]
 * column c); the caller runs obliv_decode_verdict(s, NULL, s->ncols, ok). Returns 0, or -1
 * as obliv_decode_v1. Any column count (no OBLIV_MAX_COLS limit); VARCHAR columns give NaN. */
int obliv_decode_v1_f32(const mc2_schema *s, const uint8_t *pt, size_t len, size_t nrows,
                        long label, float *x, size_t d, float *y, uint64_t *ok,
                        mc2_err *err) MC2_WUR;

/* obliv_decode_v1_f32 for a version-2 block: chunk[c], clen[c] for every schema column c. */
int obliv_decode_v2_f32(const mc2_schema *s, const uint8_t *const *chunk, const size_t *clen,
                        size_t nrows, long label, float *x, size_t d, float *y, uint64_t *ok,
                        mc2_err *err) MC2_WUR;

#endif
