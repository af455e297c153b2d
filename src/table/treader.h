/* treader.h - reading an encrypted table (.mc2t) held whole in memory, one authenticated
 * block at a time (for the enclave and the SQL engine), and the frame-sequencing checks
 * shared with the file decrypter. The format is in tfile.c and docs/format.md. */
#ifndef MC2_TABLE_TREADER_H
#define MC2_TABLE_TREADER_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/table.h"

/* A reader over a whole .mc2t in memory. */
typedef struct mc2_treader mc2_treader;

/* Authenticates the header of the table p[0..n) with the data key and returns a reader
 * positioned at block 0 in *out. p must stay valid and unchanged until mc2_treader_free
 * (the reader does not copy it). Fails with MC2_E_AUTH on a wrong key or a modified
 * header, MC2_E_INPUT on a malformed or truncated one. */
int mc2_treader_open_mem(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN],
                         mc2_treader **out, mc2_err *err) MC2_WUR;

/* The authenticated header (schema included); valid until mc2_treader_free. */
const mc2_thdr *mc2_treader_header(const mc2_treader *r);

/* A batch for the reader's schema sized for one block; free with mc2_batch_free. */
mc2_batch *mc2_treader_batch_new(const mc2_treader *r, mc2_err *err);

/* Reads the next block into b (whose schema must be the reader's; b's rows are replaced).
 * Returns 1 with a block in b, 0 at the end (after checking that nothing follows the last
 * block), -1 on error: a reordered, dropped, duplicated, truncated, modified or foreign
 * block, or a payload that does not decode. After an error or the end, further calls
 * return the same result. *index (may be NULL) gets the block's index. */
int mc2_treader_next(mc2_treader *r, mc2_batch *b, uint64_t *index, mc2_err *err) MC2_WUR;

/* Like mc2_treader_next, but yields the next block's authenticated plaintext (the block
 * payload, docs/format.md) WITHOUT decoding it, for oblivious mode's decoder (obliv/decode.h),
 * which must not run the branchy batch decoder. Returns 1 with *pt, *len (the payload's
 * size: public, the ciphertext shows it) and *rows (the frame's row count) set, 0 at the
 * end, -1 on error, with the same frame checks as mc2_treader_next. Nothing is validated
 * beyond the tag: the caller must treat every byte as hostile. *pt points into the reader
 * and stays valid until the next call on r or mc2_treader_free. Format-1 tables only (a
 * format-2 block has one plaintext per column: mc2_tscan_next_raw in tsrc.h). The AEAD
 * open is constant time; its only branch is the (public) tag check. *index may be NULL. */
int mc2_treader_next_raw(mc2_treader *r, const uint8_t **pt, size_t *len, uint32_t *rows,
                         uint64_t *index, mc2_err *err) MC2_WUR;

/* mc2_treader_next_raw for either format: the next block's authenticated, undecoded
 * plaintexts: format 1, the block payload in (*pt)[0], (*len)[0]; format 2, one column chunk
 * per schema column c in (*pt)[c], (*len)[c] (mc2_treader_header(r)->version says which).
 * Same contract otherwise; the arrays belong to the reader. */
int mc2_treader_next_chunks(mc2_treader *r, const uint8_t *const **pt, const size_t **len,
                            uint32_t *rows, uint64_t *index, mc2_err *err) MC2_WUR;

/* The source under the reader (tsrc.h): further scans of the same table, read again from
 * memory (the reader's own position is not affected). */
struct mc2_tsrc *mc2_treader_source(mc2_treader *r);

/* Wipes the reader's key schedule and plaintext buffer and frees it. NULL is a no-op. */
void mc2_treader_free(mc2_treader *r);

/* ---- internal, shared by tfile_io.c and treader.c ---------------------------------------- */

/* Before reading the frame of block `index` (< h->block_count) with `left` bytes of input
 * remaining, of which head (the first min(left, 16)) is given: checks the frame head with
 * mc2_tblock_peek and that the whole frame fits, and returns its length in *frame_len.
 * Errors say "truncated" when input ends before the frame does. head may be NULL if
 * left < 16. */
int mc2_tframe_next(const mc2_thdr *h, uint64_t index, const uint8_t *head, uint64_t left,
                    size_t *frame_len, mc2_err *err) MC2_WUR;

/* After the last block: 0 if left == 0, otherwise an error ("unexpected data after the
 * last block"). head holds the first min(left, 16) bytes (may be NULL if left < 16). */
int mc2_tframe_end(const mc2_thdr *h, const uint8_t *head, uint64_t left, mc2_err *err) MC2_WUR;

#endif
