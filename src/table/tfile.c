/* tfile.c - the encrypted table format (.mc2t): the table key, the sealed header and the
 * block frames. Whole-file encrypt/decrypt is in tfile_io.c, the in-memory reader in
 * treader.c. docs/format.md ("Encrypted table file (.mc2t)") is the prose version of this.
 *
 * On-disk layout (all integers little-endian):
 *
 *   prefix (48 bytes, plaintext, authenticated as the header's AAD)
 *     0  magic "MC2T"            4
 *     4  version u16 = 1         2
 *     6  flags u16 = 0           2   (any other value is rejected)
 *     8  table_id                16  (random per table)
 *    24  row_count u64           8
 *    32  block_count u64         8   = ceil(row_count / rows_per_block); 0 rows: 0 blocks
 *    40  rows_per_block u32      4   1 .. 2^20
 *    44  header_ct_len u32       4   <= 16 MiB
 *   sealed header
 *    48  ct[header_ct_len] | tag[16]
 *        AES-256-GCM under the table key, nonce = ff ff ff ff || u64 0, AAD = the prefix.
 *        Plaintext: the canonical schema encoding (mc2_schema_encode);
 *        schema_hash = SHA-256 of it.
 *   block frames, block_count of them, in index order
 *     block_index u64 | block_rows u32 | ct_len u32 | ct[ct_len] | tag[16]
 *        nonce = 00 00 00 00 || block_index u64
 *        AAD (86 bytes) = "MC2B" | version u16 | table_id[16] | schema_hash[32] |
 *                         block_index u64 | block_count u64 | row_count u64 |
 *                         block_rows u32 | ct_len u32
 *        Plaintext: mc2_batch_encode of the block's rows; ct_len <= MC2_BLOCK_MAX_PAYLOAD.
 *   nothing after the last frame.
 *
 *   table key = HKDF-SHA256(ikm = data key, salt = "mc2 table key v1", info = table_id)
 *
 * The table id makes the key unique per table, so (key, nonce) pairs never repeat: the
 * header uses the nonce with prefix ff ff ff ff, block i the nonce with prefix 0 and i.
 * Error messages number blocks from 1 ("block 2 of 5"); the format numbers them from 0. */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "table/treader.h"

#define PREFIX_LEN     MC2_TFILE_PREFIX_LEN
#define HEADER_CT_MAX  (16u << 20)
#define RPB_MAX        (1u << 20)
#define BLOCK_AAD_LEN  (4 + 2 + MC2_TABLE_ID_LEN + MC2_SHA256_LEN + 8 + 8 + 8 + 4 + 4)
#define FRAME_HEAD_LEN 16

static const uint8_t MAGIC[4] = {'M', 'C', '2', 'T'};
static const uint8_t BLOCK_MAGIC[4] = {'M', 'C', '2', 'B'};
static const char TABLE_KEY_SALT[] = "mc2 table key v1";

typedef unsigned long long ull;

int mc2_table_key(const uint8_t data_key[MC2_KEY_LEN], const uint8_t table_id[MC2_TABLE_ID_LEN],
                  uint8_t out[MC2_KEY_LEN], mc2_err *err)
{
    return mc2_hkdf_sha256(data_key, MC2_KEY_LEN, (const uint8_t *)TABLE_KEY_SALT,
                           sizeof TABLE_KEY_SALT - 1, table_id, MC2_TABLE_ID_LEN, out, MC2_KEY_LEN,
                           err);
}

void mc2_thdr_clear(mc2_thdr *h)
{
    if (!h) return;
    mc2_schema_free(h->schema);
    memset(h, 0, sizeof *h);
}

/* ceil(rows / rpb) without overflow; rpb >= 1. */
static uint64_t blocks_for(uint64_t rows, uint32_t rpb)
{
    return rows / rpb + (rows % rpb != 0);
}

uint32_t mc2_thdr_block_rows(const mc2_thdr *h, uint64_t index)
{
    if (index >= h->block_count) MC2_PANIC("mc2_thdr_block_rows: index out of range");
    if (index + 1 < h->block_count) return h->rows_per_block;
    return (uint32_t)(h->row_count - index * (uint64_t)h->rows_per_block);
}

int mc2_thdr_init(mc2_thdr *h, const mc2_schema *s, uint64_t row_count, uint32_t rows_per_block,
                  mc2_err *err)
{
    memset(h, 0, sizeof *h);
    if (rows_per_block < 1 || rows_per_block > RPB_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "rows per block must be between 1 and %u, not %u",
                           RPB_MAX, rows_per_block);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (mc2_schema_encode(s, &enc, &enc_len, err)) return -1;
    int rc = -1;
    if (enc_len > HEADER_CT_MAX) {
        mc2_err_set(err, MC2_E_LIMIT,
                    "the schema encodes to %zu bytes, more than the %u a table "
                    "header holds",
                    enc_len, HEADER_CT_MAX);
        goto out;
    }
    h->version = MC2_FORMAT_VERSION;
    h->row_count = row_count;
    h->rows_per_block = rows_per_block;
    h->block_count = blocks_for(row_count, rows_per_block);
    if (mc2_random(h->table_id, sizeof h->table_id, err)) goto out;
    if (mc2_sha256(enc, enc_len, h->schema_hash, err)) goto out;
    if (mc2_schema_decode(enc, enc_len, &h->schema, err)) goto out;
    rc = 0;
out:
    mc2_free_wipe(enc, enc_len); /* the schema is the owner's, not the host's */
    if (rc) mc2_thdr_clear(h);
    return rc;
}

static void put_prefix(uint8_t p[PREFIX_LEN], const mc2_thdr *h, uint32_t header_ct_len)
{
    memcpy(p, MAGIC, 4);
    mc2_le16_put(p + 4, h->version);
    mc2_le16_put(p + 6, 0);
    memcpy(p + 8, h->table_id, MC2_TABLE_ID_LEN);
    mc2_le64_put(p + 24, h->row_count);
    mc2_le64_put(p + 32, h->block_count);
    mc2_le32_put(p + 40, h->rows_per_block);
    mc2_le32_put(p + 44, header_ct_len);
}

static void header_nonce(uint8_t n[MC2_NONCE_LEN])
{
    memset(n, 0xff, 4);
    mc2_le64_put(n + 4, 0);
}

static void block_nonce(uint8_t n[MC2_NONCE_LEN], uint64_t index)
{
    memset(n, 0, 4);
    mc2_le64_put(n + 4, index);
}

static void block_aad(uint8_t a[BLOCK_AAD_LEN], const mc2_thdr *h, uint64_t index,
                      uint32_t block_rows, uint32_t ct_len)
{
    uint8_t *p = a;
    memcpy(p, BLOCK_MAGIC, 4);
    p += 4;
    mc2_le16_put(p, h->version);
    p += 2;
    memcpy(p, h->table_id, MC2_TABLE_ID_LEN);
    p += MC2_TABLE_ID_LEN;
    memcpy(p, h->schema_hash, MC2_SHA256_LEN);
    p += MC2_SHA256_LEN;
    mc2_le64_put(p, index);
    p += 8;
    mc2_le64_put(p, h->block_count);
    p += 8;
    mc2_le64_put(p, h->row_count);
    p += 8;
    mc2_le32_put(p, block_rows);
    p += 4;
    mc2_le32_put(p, ct_len);
    p += 4;
    if (p != a + BLOCK_AAD_LEN) MC2_PANIC("block_aad: layout mismatch");
}

int mc2_thdr_seal(const mc2_thdr *h, mc2_aead *table_aead, uint8_t **out, size_t *out_len,
                  mc2_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (h->version != MC2_FORMAT_VERSION || h->rows_per_block < 1 || h->rows_per_block > RPB_MAX ||
        h->block_count != blocks_for(h->row_count, h->rows_per_block))
        MC2_PANIC("mc2_thdr_seal: inconsistent header");
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (mc2_schema_encode(h->schema, &enc, &enc_len, err)) return -1;
    int rc = -1;
    uint8_t *buf = NULL;
    if (enc_len > HEADER_CT_MAX) {
        mc2_err_set(err, MC2_E_LIMIT,
                    "the schema encodes to %zu bytes, more than the %u a table "
                    "header holds",
                    enc_len, HEADER_CT_MAX);
        goto out;
    }
    size_t total = PREFIX_LEN + enc_len + MC2_TAG_LEN; /* bounded by HEADER_CT_MAX above */
    buf = mc2_malloc(total);
    if (!buf) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory sealing a table header");
        goto out;
    }
    put_prefix(buf, h, (uint32_t)enc_len);
    uint8_t nonce[MC2_NONCE_LEN];
    header_nonce(nonce);
    if (mc2_aead_seal(table_aead, nonce, buf, PREFIX_LEN, enc, enc_len, buf + PREFIX_LEN,
                      buf + PREFIX_LEN + enc_len, err))
        goto out;
    *out = buf;
    *out_len = total;
    buf = NULL;
    rc = 0;
out:
    mc2_free(buf);
    mc2_free_wipe(enc, enc_len); /* the schema is the owner's, not the host's */
    return rc;
}

int mc2_thdr_peek(const uint8_t *p, size_t n, size_t *hdr_len, mc2_err *err)
{
    if (n < PREFIX_LEN)
        return mc2_err_set(err, MC2_E_INPUT,
                           "not an mc2 table: %zu bytes, shorter than the %u-byte prefix", n,
                           PREFIX_LEN);
    if (memcmp(p, MAGIC, 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not an mc2 table (no 'MC2T' magic)");
    uint16_t version = mc2_le16_get(p + 4);
    if (version != MC2_FORMAT_VERSION)
        return mc2_err_set(err, MC2_E_INPUT,
                           "unsupported table format version %u (this mc2 reads version %u)",
                           version, MC2_FORMAT_VERSION);
    uint16_t flags = mc2_le16_get(p + 6);
    if (flags != 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table header has unknown flags 0x%04x: written by a newer mc2, or "
                           "corrupted",
                           flags);
    uint64_t rows = mc2_le64_get(p + 24), blocks = mc2_le64_get(p + 32);
    uint32_t rpb = mc2_le32_get(p + 40), ct_len = mc2_le32_get(p + 44);
    if (rpb < 1 || rpb > RPB_MAX)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table header: rows per block is %u, outside 1..%u: corrupted", rpb,
                           RPB_MAX);
    if (blocks != blocks_for(rows, rpb))
        return mc2_err_set(err, MC2_E_INPUT,
                           "table header: %llu blocks cannot hold %llu rows at %u rows per "
                           "block: corrupted",
                           (ull)blocks, (ull)rows, rpb);
    if (ct_len > HEADER_CT_MAX)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table header: sealed schema of %u bytes is larger than %u: corrupted",
                           ct_len, HEADER_CT_MAX);
    *hdr_len = PREFIX_LEN + (size_t)ct_len + MC2_TAG_LEN;
    return 0;
}

int mc2_thdr_open(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN], mc2_thdr *h,
                  mc2_aead **table_aead, mc2_err *err)
{
    memset(h, 0, sizeof *h);
    *table_aead = NULL;
    size_t hdr_len;
    if (mc2_thdr_peek(p, n, &hdr_len, err)) return -1;
    if (n != hdr_len)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table header is %zu bytes but %zu were supplied: truncated", hdr_len,
                           n);
    uint8_t key[MC2_KEY_LEN];
    uint8_t *pt = NULL;
    size_t ct_len = hdr_len - PREFIX_LEN - MC2_TAG_LEN;
    mc2_aead *a = NULL;
    int rc = -1;
    memcpy(h->table_id, p + 8, MC2_TABLE_ID_LEN);
    if (mc2_table_key(data_key, h->table_id, key, err)) goto out;
    a = mc2_aead_new(key, err);
    if (!a) goto out;
    pt = mc2_malloc(ct_len);
    if (!pt) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory reading a table header");
        goto out;
    }
    uint8_t nonce[MC2_NONCE_LEN];
    header_nonce(nonce);
    if (mc2_aead_open(a, nonce, p, PREFIX_LEN, p + PREFIX_LEN, ct_len, p + PREFIX_LEN + ct_len, pt,
                      err)) {
        if (err && err->code == MC2_E_AUTH)
            mc2_err_set(err, MC2_E_AUTH,
                        "table header does not authenticate: wrong data key, or the file was "
                        "modified");
        goto out;
    }
    if (mc2_sha256(pt, ct_len, h->schema_hash, err)) goto out;
    if (mc2_schema_decode(pt, ct_len, &h->schema, err)) {
        mc2_err_prefix(err, "table header: ");
        goto out;
    }
    h->version = mc2_le16_get(p + 4);
    h->row_count = mc2_le64_get(p + 24);
    h->block_count = mc2_le64_get(p + 32);
    h->rows_per_block = mc2_le32_get(p + 40);
    *table_aead = a;
    a = NULL;
    rc = 0;
out:
    mc2_wipe(key, sizeof key);
    mc2_free_wipe(pt, ct_len);
    mc2_aead_free(a);
    if (rc) mc2_thdr_clear(h);
    return rc;
}

/* ---- block frames ------------------------------------------------------------------------- */

int mc2_tblock_seal(mc2_aead *table_aead, const mc2_thdr *h, uint64_t index, const uint8_t *pt,
                    size_t n, uint8_t **out, size_t *out_len, mc2_err *err)
{
    if (index >= h->block_count) MC2_PANIC("mc2_tblock_seal: block index out of range");
    if (n > MC2_BLOCK_MAX_PAYLOAD)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "block %llu encodes to %zu bytes, more than the %u a block may hold: "
                           "use fewer rows per block",
                           (ull)index + 1, n, MC2_BLOCK_MAX_PAYLOAD);
    size_t frame = FRAME_HEAD_LEN + n + MC2_TAG_LEN, total;
    if (!mc2_add_size(*out_len, frame, &total))
        return mc2_err_set(err, MC2_E_LIMIT, "encrypted table too large");
    uint8_t *buf = mc2_realloc(*out, total);
    if (!buf)
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory sealing block %llu", (ull)index + 1);
    *out = buf;
    uint8_t *f = buf + *out_len;
    uint32_t rows = mc2_thdr_block_rows(h, index);
    mc2_le64_put(f, index);
    mc2_le32_put(f + 8, rows);
    mc2_le32_put(f + 12, (uint32_t)n);
    uint8_t aad[BLOCK_AAD_LEN], nonce[MC2_NONCE_LEN];
    block_aad(aad, h, index, rows, (uint32_t)n);
    block_nonce(nonce, index);
    if (mc2_aead_seal(table_aead, nonce, aad, sizeof aad, pt, n, f + FRAME_HEAD_LEN,
                      f + FRAME_HEAD_LEN + n, err))
        return -1;
    *out_len = total;
    return 0;
}

int mc2_tblock_peek(const mc2_thdr *h, uint64_t index, const uint8_t head[16], size_t *ct_len,
                    mc2_err *err)
{
    if (index >= h->block_count) MC2_PANIC("mc2_tblock_peek: block index out of range");
    uint64_t claimed = mc2_le64_get(head);
    uint32_t rows = mc2_le32_get(head + 8), len = mc2_le32_get(head + 12);
    ull pos = (ull)index + 1, nb = (ull)h->block_count;
    if (claimed < index)
        return mc2_err_set(err, MC2_E_AUTH,
                           "block %llu appears twice (again at position %llu of %llu): a block "
                           "was replayed",
                           (ull)claimed + 1, pos, nb);
    if (claimed >= h->block_count)
        return mc2_err_set(err, MC2_E_AUTH,
                           "block at position %llu claims to be block %llu, but the table has "
                           "%llu blocks: the file was modified or mixed with another table",
                           pos, claimed < UINT64_MAX ? (ull)claimed + 1 : (ull)claimed, nb);
    if (claimed > index)
        return mc2_err_set(err, MC2_E_AUTH,
                           "block at position %llu claims to be block %llu: blocks were reordered "
                           "or one was dropped",
                           pos, (ull)claimed + 1);
    uint32_t want = mc2_thdr_block_rows(h, index);
    if (rows != want)
        return mc2_err_set(err, MC2_E_AUTH,
                           "block %llu of %llu claims %u rows but the header says it holds %u: "
                           "the file was modified",
                           pos, nb, rows, want);
    if (len > MC2_BLOCK_MAX_PAYLOAD)
        return mc2_err_set(err, MC2_E_INPUT,
                           "block %llu of %llu claims %u bytes, more than the %u a block may "
                           "hold: corrupted",
                           pos, nb, len, MC2_BLOCK_MAX_PAYLOAD);
    *ct_len = len;
    return 0;
}

int mc2_tblock_open(mc2_aead *table_aead, const mc2_thdr *h, uint64_t index, const uint8_t *frame,
                    size_t frame_len, uint8_t *pt, mc2_err *err)
{
    size_t ct_len;
    if (frame_len < FRAME_HEAD_LEN + MC2_TAG_LEN)
        return mc2_err_set(err, MC2_E_INPUT, "block %llu of %llu: frame of %zu bytes is too short",
                           (ull)index + 1, (ull)h->block_count, frame_len);
    if (mc2_tblock_peek(h, index, frame, &ct_len, err)) return -1;
    if (frame_len != FRAME_HEAD_LEN + ct_len + MC2_TAG_LEN)
        return mc2_err_set(
            err, MC2_E_INPUT, "block %llu of %llu: frame is %zu bytes but its head says %zu",
            (ull)index + 1, (ull)h->block_count, frame_len, FRAME_HEAD_LEN + ct_len + MC2_TAG_LEN);
    uint8_t aad[BLOCK_AAD_LEN], nonce[MC2_NONCE_LEN];
    block_aad(aad, h, index, mc2_le32_get(frame + 8), (uint32_t)ct_len);
    block_nonce(nonce, index);
    if (mc2_aead_open(table_aead, nonce, aad, sizeof aad, frame + FRAME_HEAD_LEN, ct_len,
                      frame + FRAME_HEAD_LEN + ct_len, pt, err)) {
        if (err && err->code == MC2_E_AUTH)
            mc2_err_set(err, MC2_E_AUTH,
                        "block %llu of %llu does not authenticate: the file was modified, the "
                        "block comes from another table, or the key is wrong",
                        (ull)index + 1, (ull)h->block_count);
        return -1;
    }
    return 0;
}

/* ---- frame sequencing shared by the file and memory readers -------------------------------- */

int mc2_tframe_next(const mc2_thdr *h, uint64_t index, const uint8_t *head, uint64_t left,
                    size_t *frame_len, mc2_err *err)
{
    ull nb = (ull)h->block_count;
    if (left == 0 && index == 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "file ends after the table header, before block 1 of %llu: truncated",
                           nb);
    if (left == 0)
        return mc2_err_set(err, MC2_E_INPUT, "file ends after block %llu of %llu: truncated",
                           (ull)index, nb);
    if (left < FRAME_HEAD_LEN)
        return mc2_err_set(err, MC2_E_INPUT,
                           "file ends inside block %llu of %llu (%llu bytes of its frame): "
                           "truncated",
                           (ull)index + 1, nb, (ull)left);
    size_t ct_len;
    if (mc2_tblock_peek(h, index, head, &ct_len, err)) return -1;
    uint64_t need = FRAME_HEAD_LEN + (uint64_t)ct_len + MC2_TAG_LEN;
    if (left < need)
        return mc2_err_set(err, MC2_E_INPUT,
                           "file ends inside block %llu of %llu (%llu of its %llu bytes): "
                           "truncated",
                           (ull)index + 1, nb, (ull)left, (ull)need);
    *frame_len = (size_t)need;
    return 0;
}

int mc2_tframe_end(const mc2_thdr *h, const uint8_t *head, uint64_t left, mc2_err *err)
{
    if (left == 0) return 0;
    if (left >= FRAME_HEAD_LEN && mc2_le64_get(head) < h->block_count)
        return mc2_err_set(err, MC2_E_AUTH,
                           "unexpected data after the last block (%llu bytes; it looks like a "
                           "second copy of block %llu): a block was replayed",
                           (ull)left, (ull)mc2_le64_get(head) + 1);
    return mc2_err_set(err, MC2_E_INPUT,
                       "unexpected data after the last block (%llu bytes): the file was "
                       "modified or two files were joined",
                       (ull)left);
}
