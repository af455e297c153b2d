/* tfile2.h - version 2 of the encrypted table format (.mc2t): one sealed chunk per column and
 * block, so a reader fetches and decrypts only the columns it needs; the directory (chunk
 * lengths, rows per block) and per-block column statistics sealed in a footer written last,
 * so a writer can stream blocks whose number it does not know in advance. docs/format.md
 * ("Version 2") is the prose; this is the layout (all integers little-endian):
 *
 *   file = prefix | chunk(0,0) .. chunk(0,C-1) | chunk(1,0) .. | footer ct | footer tag | trailer
 *
 *   prefix (32 bytes, plaintext; in the footer's associated data)
 *     0  "MC2T" | u16 version = 2 | u16 flags = 0 | table_id[16] | u64 table_version
 *   chunk(b, c): ct[len(b,c)] | tag[16], AES-256-GCM under the table key with
 *     nonce = u32 c | u64 b                      (c < 2^31; the footer's is ff ff ff ff | 0)
 *     AAD (86 bytes) = "MC2C" | u16 2 | table_id[16] | schema_hash[32] | u64 b | u32 c |
 *                      u32 C (columns) | u32 rows(b) | u32 len(b,c) | u64 table_version
 *     plaintext = column c's encoding for block b's rows (chunk.h; a nullable column always
 *                 has its bitmap)
 *   footer: AES-256-GCM, nonce ff ff ff ff | u64 0, AAD = prefix | trailer; plaintext:
 *     "MC2F" | u16 2 | u32 schema_len | schema encoding | u64 row_count | u64 block_count |
 *     per block: u32 rows | per column: u32 len | u8 stats flags | i64 min | i64 max
 *   trailer (32 bytes, plaintext)
 *     u64 row_count | u64 block_count | u64 footer_offset | u32 footer_ct_len | "MC2E"
 *
 * Chunks are contiguous, in block-major order, from offset 32 to footer_offset; the file ends
 * right after the trailer. schema_hash = SHA-256 of the schema encoding. Every block holds
 * 1..2^20 rows (an empty table has no blocks); a chunk is at most MC2_BLOCK_MAX_PAYLOAD bytes.
 * The table key is format v1's: HKDF-SHA256(data key, "mc2 table key v1", table_id). */
#ifndef MC2_TABLE_TFILE2_H
#define MC2_TABLE_TFILE2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/table.h"
#include "table/chunk.h"

#define MC2_T2_PREFIX_LEN  32
#define MC2_T2_TRAILER_LEN 32
#define MC2_T2_FOOTER_MAX  (64u << 20) /* sealed footer bytes */
#define MC2_T2_ROWS_MAX    (1u << 20)  /* rows per block */

/* What identifies a v2 table's chunks. */
typedef struct mc2_t2id {
    uint8_t table_id[MC2_TABLE_ID_LEN];
    uint8_t schema_hash[MC2_SHA256_LEN];
    uint64_t table_version;
    uint32_t ncols;
} mc2_t2id;

/* Seals pt[0..n) as chunk (block, col) of a block of `rows` rows into out[0..n+16). */
int mc2_t2_chunk_seal(mc2_aead *a, const mc2_t2id *id, uint64_t block, uint32_t col, uint32_t rows,
                      const uint8_t *pt, size_t n, uint8_t *out, mc2_err *err) MC2_WUR;
/* Opens chunk (block, col): ct[0..n) then its tag, into pt[0..n). MC2_E_AUTH names the block
 * and column ("block 2 of 5, column 3 does not authenticate: ..."). */
int mc2_t2_chunk_open(mc2_aead *a, const mc2_t2id *id, uint64_t block, uint64_t nblocks,
                      uint32_t col, uint32_t rows, const uint8_t *ct, size_t n, uint8_t *pt,
                      mc2_err *err) MC2_WUR;

/* ---- the directory (the footer's contents) ------------------------------------------------ */

typedef struct mc2_t2dir {
    uint64_t nblocks;
    uint32_t ncols;
    uint64_t row_count;
    uint32_t *rows;      /* [nblocks] */
    uint32_t *len;       /* [nblocks * ncols]: chunk ciphertext length, without the tag */
    uint64_t *off;       /* [nblocks * ncols]: file offset of the chunk */
    mc2_colstats *stats; /* [nblocks * ncols] */
    uint64_t footer_off; /* where the chunks end */
    uint64_t cap;        /* blocks the arrays have room for (writer) */
} mc2_t2dir;

void mc2_t2dir_free(mc2_t2dir *d);

/* ---- reading: the metadata ------------------------------------------------------------------ */

/* Opens a v2 table's metadata: prefix (32 bytes), trailer (the file's last 32 bytes) and the
 * sealed footer (footer_ct_len + 16 bytes at footer_offset), for a file of file_size bytes.
 * Checks that the pieces fit the file exactly, authenticates the footer with the table key
 * derived from data_key, decodes and validates the schema and the directory (blocks of 1..2^20
 * rows summing to row_count, chunks contiguous up to footer_offset). Fills h (version 2,
 * table_version, schema, counts; rows_per_block = the largest block), *dir, *id and returns in
 * *table_aead a context keyed with the table key. */
int mc2_t2_open(const uint8_t prefix[MC2_T2_PREFIX_LEN], const uint8_t trailer[MC2_T2_TRAILER_LEN],
                const uint8_t *footer, size_t footer_len, uint64_t file_size,
                const uint8_t data_key[MC2_KEY_LEN], mc2_thdr *h, mc2_t2dir *dir, mc2_t2id *id,
                mc2_aead **table_aead, mc2_err *err) MC2_WUR;
/* From the trailer: where the sealed footer is and how long (ct + tag), after checking it
 * fits a file of file_size bytes. */
int mc2_t2_footer_pos(const uint8_t trailer[MC2_T2_TRAILER_LEN], uint64_t file_size, uint64_t *off,
                      size_t *len, mc2_err *err) MC2_WUR;

/* The rows per block writers use: 65536, or fewer when a column's worst case (VARCHAR(n):
 * 4 + 4n bytes a row) could make a chunk exceed MC2_BLOCK_MAX_PAYLOAD. */
uint32_t mc2_t2_rows_per_block(const mc2_schema *s);

/* ---- writing -----------------------------------------------------------------------------------
 */

/* Where a writer's bytes go, in order. */
typedef int (*mc2_sink_fn)(void *ctx, const uint8_t *p, size_t n, mc2_err *err);

typedef struct mc2_twriter mc2_twriter;

/* A writer of a new table of schema s (copied) under data_key: fresh random table id, the
 * given table version. Writes the prefix to the sink at once. */
int mc2_twriter_new(const mc2_schema *s, const uint8_t data_key[MC2_KEY_LEN],
                    uint64_t table_version, mc2_sink_fn sink, void *sink_ctx, mc2_twriter **out,
                    mc2_err *err) MC2_WUR;
/* The table id and schema hash the writer seals with. */
const mc2_t2id *mc2_twriter_id(const mc2_twriter *w);
/* A context keyed with the table key, for sealing blocks on another thread. */
mc2_aead *mc2_twriter_aead(const mc2_twriter *w, mc2_err *err);

/* A block sealed but not yet written: its chunks one after the other (each ct | tag), their
 * plaintext lengths and statistics. */
typedef struct mc2_t2block {
    uint64_t index;
    uint32_t rows, ncols;
    mc2_buf bytes;
    uint32_t *len;
    mc2_colstats *stats;
} mc2_t2block;
void mc2_t2block_free(mc2_t2block *sb);

/* Seals batch b (1..2^20 rows, the writer's schema) as block `index` with context a (from
 * mc2_twriter_aead; thread-safe given its own a and out). */
int mc2_twriter_seal(const mc2_twriter *w, mc2_aead *a, uint64_t index, const mc2_batch *b,
                     mc2_t2block *out, mc2_err *err) MC2_WUR;
/* Writes a sealed block; blocks must come in index order from 0. */
int mc2_twriter_append(mc2_twriter *w, mc2_t2block *sb, mc2_err *err) MC2_WUR;
/* Seals and writes batch b as the next block (single-threaded writers). A batch of more than
 * 2^20 rows is refused (MC2_E_LIMIT: split it, as mc2_table_seal_batch does); an empty batch
 * writes nothing. */
int mc2_twriter_add(mc2_twriter *w, const mc2_batch *b, mc2_err *err) MC2_WUR;
/* Writes the sealed footer and the trailer. Rows and blocks written so far in *rows, *blocks
 * (may be NULL). */
int mc2_twriter_finish(mc2_twriter *w, uint64_t *rows, uint64_t *blocks, mc2_err *err) MC2_WUR;
/* Wipes the key and frees (a writer not finished leaves a file without footer: unreadable). */
void mc2_twriter_free(mc2_twriter *w);

#endif
