/* tsrc.h - reading an encrypted table (.mc2t, format version 1 or 2) through byte-range reads,
 * never holding it whole: from a file, from memory, or (in the enclave) from the untrusted
 * host's store. Only the metadata is read at open (v1: prefix and sealed header; v2: prefix,
 * trailer and sealed footer); blocks are read when asked for, and for v2 only the chunks of
 * the columns asked for. Every byte is hostile until authenticated.
 *
 * A scan (mc2_tscan) hands out a table's blocks to any number of threads, in index order,
 * reading ahead: while threads decrypt and decode their blocks, the reads of the next blocks
 * are already under way, so the host's latency is hidden. A filter on the v2 per-block
 * statistics lets an encryption-mode scan skip blocks without reading them (which blocks are
 * read is visible to the host in any case; oblivious scans never skip). */
#ifndef MC2_TABLE_TSRC_H
#define MC2_TABLE_TSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/table.h"
#include "table/chunk.h"

/* Byte-range reads of one object. `begin` starts reading [off, off+len) into dst and returns a
 * handle for `end`, which waits for it and checks it (a synchronous source reads in begin and
 * returns handle NULL). `abandon` drops a begun read without waiting for its bytes. A source
 * may write dst at any time from begin until end or abandon returns (abandon waits for a
 * write under way), never after; dst's contents count only once end succeeded. Several reads
 * may be outstanding at once, from several threads. */
typedef struct mc2_tio {
    void *ctx;
    uint64_t size; /* the object's size, known at open */
    int (*begin)(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err);
    int (*end)(void *ctx, void *h, mc2_err *err);
    void (*abandon)(void *ctx, void *h);
} mc2_tio;

/* A synchronous mc2_tio over memory p[0..n) (which must outlive it). */
mc2_tio mc2_tio_mem(const uint8_t *p, size_t n);
/* A synchronous mc2_tio over an open file descriptor (pread). */
int mc2_tio_fd(int fd, mc2_tio *out, mc2_err *err) MC2_WUR;

typedef struct mc2_tsrc mc2_tsrc;

/* Opens a table: reads and authenticates its metadata with the data key (wrong key or
 * tampering: MC2_E_AUTH; malformed: MC2_E_INPUT). *io is copied; its ctx must outlive the
 * source. max_meta bounds the bytes of metadata held (the v2 footer, the v1 header). */
int mc2_tsrc_open(const mc2_tio *io, const uint8_t data_key[MC2_KEY_LEN], size_t max_meta,
                  mc2_tsrc **out, mc2_err *err) MC2_WUR;
void mc2_tsrc_free(mc2_tsrc *s);

/* The authenticated header: format version, table id and version, schema, counts. */
const mc2_thdr *mc2_tsrc_header(const mc2_tsrc *s);
/* Rows of block b (< block_count). v1 blocks hold rows_per_block rows but the last. */
uint32_t mc2_tsrc_block_rows(const mc2_tsrc *s, uint64_t b);
/* Statistics of column c in block b (v2), or NULL (v1 keeps none). */
const mc2_colstats *mc2_tsrc_stats(const mc2_tsrc *s, uint64_t b, size_t c);
/* The ciphertext bytes the columns cols[0..n) of block b take (v2: those chunks; v1: the
 * whole frame). */
uint64_t mc2_tsrc_block_bytes(const mc2_tsrc *s, uint64_t b, const unsigned *cols, size_t n);

/* Version 2: the file offset where block b's chunks start (b == block_count: where the chunks
 * end, the footer's offset), from the authenticated footer. 0 for a version-1 table. */
uint64_t mc2_tsrc_block_offset(const mc2_tsrc *s, uint64_t b);

/* ---- scans --------------------------------------------------------------------------------- */

typedef struct mc2_tscan mc2_tscan;

/* keep(ctx, src, b): whether block b may hold rows the reader wants (false: skipped unread). */
typedef bool (*mc2_tkeep_fn)(void *ctx, const mc2_tsrc *s, uint64_t b);

/* A scan of the columns cols[0..n) (schema indices, each at most once) of every block (those
 * keep accepts; keep may be NULL), with up to `ahead` blocks read ahead (at least 1). */
int mc2_tscan_open(mc2_tsrc *s, const unsigned *cols, size_t n, unsigned ahead, mc2_tkeep_fn keep,
                   void *keep_ctx, mc2_tscan **out, mc2_err *err) MC2_WUR;
/* Thread-safe: claims the next block, waits for its bytes, authenticates and decodes the
 * scan's columns into b on the calling thread. b has the table's full schema (mc2_batch_new
 * over mc2_tsrc_header(s)->schema); only the scan's columns are filled (v1: all are), b->nrows
 * is set. Returns 1 with the block's index in *index, 0 when every block has been handed out,
 * -1 on error (a modified, foreign, truncated or malformed block; a failed read) with the
 * failing block's index in *index: the scan has then failed, and every later call fails too.
 * The error is always the first bad block's in file order, whatever the number of threads:
 * blocks before it are still handed out, and a call reports a failure only once every
 * earlier block has been checked (it may wait for the threads checking them). */
int mc2_tscan_next(mc2_tscan *sc, mc2_batch *b, uint64_t *index, mc2_err *err) MC2_WUR;
/* on_claim(ctx, index): called with the scan's lock held at the moment a block is claimed, so
 * that calls from all threads come in block order. It must not call into the scan. */
typedef void (*mc2_tclaim_fn)(void *ctx, uint64_t index);
/* mc2_tscan_next, calling on_claim (if not NULL) when the block is claimed. */
int mc2_tscan_next_cb(mc2_tscan *sc, mc2_batch *b, uint64_t *index, mc2_tclaim_fn on_claim,
                      void *ctx, mc2_err *err) MC2_WUR;
/* Like mc2_tscan_next, but leaves the authenticated plaintexts undecoded: pt[k], len[k] for
 * the scan's k-th column (v2: the column chunk; v1: pt[0] is the whole block payload and n is
 * 1), *rows the block's rows. They stay valid until mc2_tscan_release(sc, *slot), which the
 * caller must call when done with them. A slot is held until released: callers that together
 * hold as many blocks as the scan has slots (`ahead`) must release one before asking for
 * another, or wait forever. On -1 *index is the failing block and there is nothing to
 * release. */
int mc2_tscan_next_raw(mc2_tscan *sc, const uint8_t **pt, size_t *len, uint64_t *index,
                       uint32_t *rows, int *slot, mc2_err *err) MC2_WUR;
void mc2_tscan_release(mc2_tscan *sc, int slot);
/* Bytes of ciphertext read so far, blocks read, blocks skipped by keep (thread-safe: the
 * counts so far while other threads scan). */
void mc2_tscan_counts(const mc2_tscan *sc, uint64_t *bytes, uint64_t *read, uint64_t *skipped);
/* Abandons reads still under way and frees the scan (not while a thread is in next). */
void mc2_tscan_free(mc2_tscan *sc);

#endif
