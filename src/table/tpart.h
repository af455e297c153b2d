/* tpart.h - a cluster table's PART: the blocks of one rank's range of a version-2 table, as
 * that rank's host stores it (docs/format.md, "Cluster table parts"; docs/cluster.md). The
 * owner's client encrypts a table once and sends host r only part r of N; a rank's enclave
 * reads its part as if it were the whole file (the same offsets), and may read only its
 * range.
 *
 * PLACEMENT. Part r of N holds blocks [first, first + count) = mc2_block_range(B, r, N) of
 * the table's B blocks: contiguous ranges, each block in exactly one part, a function of
 * public numbers only. Nothing about the placement needs sealing: every chunk's associated
 * data already binds its block index, the table id (fresh per upload) and the table version,
 * so a host that presents another rank's part, an older part or another table's fails
 * mc2_tpart_check or chunk authentication.
 *
 * LAYOUT (little-endian):
 *   part = head[72] | prefix[32] | the full file's bytes [chunk_begin, chunk_end)
 *          | the full file's bytes [footer_offset, file_size)   (footer ct, tag, trailer)
 *   head = "MC2P" | u16 version 1 | u16 flags 0 | u32 part | u32 parts | u64 first |
 *          u64 count | u64 chunk_begin | u64 chunk_end | u64 footer_offset | u64 file_size |
 *          u64 0 (reserved)
 * The head is NOT authenticated: it only says where the bytes are. The reader
 * (mc2_tio_part) requires 32 <= chunk_begin <= chunk_end <= footer_offset <= file_size and
 * the part's size to equal 72 + 32 + (chunk_end - chunk_begin) + (file_size - footer_offset);
 * it presents file_size bytes whose gaps [32, chunk_begin) and [chunk_end, footer_offset)
 * cannot be read ("this host's part ... does not hold bytes ..."). After mc2_tsrc_open over it
 * (which authenticates the footer: the true block offsets), mc2_tpart_check requires the
 * part to hold exactly the chunks of the expected range. */
#ifndef MC2_TABLE_TPART_H
#define MC2_TABLE_TPART_H

#include <stdbool.h>
#include <stdint.h>

#include "mc2/err.h"
#include "table/tsrc.h"

#define MC2_TPART_HEAD_LEN 72
#define MC2_TPART_MAX      64u /* parts of one table (the mesh's ranks) */

/* The blocks [*first, *first + *count) of `nblocks` that part `self` of `n` (1..64) holds:
 * first = floor(nblocks * self / n), up to floor(nblocks * (self + 1) / n). */
void mc2_block_range(uint64_t nblocks, uint32_t self, uint32_t n, uint64_t *first, uint64_t *count);

/* What a part's head says (unauthenticated until mc2_tpart_check). */
typedef struct mc2_tpart_info {
    bool is_part; /* false: the object is a whole table file (the wrapper passes it through) */
    uint32_t part, parts;
    uint64_t first, count;
    uint64_t chunk_begin, chunk_end, footer_offset, file_size;
} mc2_tpart_info;

/* Parses a part head from the object's first bytes p[0..n) (n >= 4; hostile). 0 with
 * info->is_part false if p does not start with "MC2P"; -1 (MC2_E_INPUT) on a malformed head
 * or one that does not fit an object of `object_size` bytes. */
int mc2_tpart_head_parse(const uint8_t *p, size_t n, uint64_t object_size, mc2_tpart_info *info,
                         mc2_err *err) MC2_WUR;

/* Wraps the reads of an object: a whole table file passes through (*out = *inner,
 * info->is_part false); a part (its head read through inner) is presented as the full file
 * (out->size = file_size) reading from the part. The wrapper's state is *ctx (free with
 * mc2_tio_part_free after every source on it is freed); inner's ctx must outlive it. */
int mc2_tio_part(const mc2_tio *inner, mc2_tio *out, mc2_tpart_info *info, void **ctx,
                 mc2_err *err) MC2_WUR;
void mc2_tio_part_free(void *ctx);

/* After mc2_tsrc_open(s) over the wrapper: requires the object to be part `self` of `n`
 * holding exactly the chunks of mc2_block_range(blocks, self, n) (a whole file holds every
 * block: accepted for any self). MC2_E_AUTH naming both ranges if not (another rank's
 * part, or a part of a placement on another number of hosts). Version-2 tables only. */
int mc2_tpart_check(const mc2_tsrc *s, const mc2_tpart_info *info, uint32_t self, uint32_t n,
                    mc2_err *err) MC2_WUR;

/* Client side: writes part `self` of `n` of the version-2 table file at `in` (opened with
 * data_key, which authenticates the block offsets) to `out` (created 0600, atomically). */
int mc2_tpart_write(const char *in, const uint8_t data_key[32], uint32_t self, uint32_t n,
                    const char *out, mc2_err *err) MC2_WUR;

/* Client side: writes the whole table file into out_fd (at its current offset) from its n
 * parts, the open files fds[0..n) in rank order (each part r of n, hostile: fetched from the
 * hosts). Requires the parts to fit together exactly (the same prefix, footer and trailer;
 * each part's chunks starting where the previous part's end, from offset 32 to the footer);
 * the caller authenticates the result by decrypting it. */
int mc2_tpart_join(const int *fds, size_t n, int out_fd, mc2_err *err) MC2_WUR;

#endif
