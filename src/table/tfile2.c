/* tfile2.c - the encrypted table format, version 2 (layout in tfile2.h, prose in
 * docs/format.md): sealing and opening column chunks, the sealed footer with the directory
 * and statistics, and the streaming writer. */
#include "table/tfile2.h"

#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"

#define CHUNK_AAD_LEN (4 + 2 + MC2_TABLE_ID_LEN + MC2_SHA256_LEN + 8 + 4 + 4 + 4 + 4 + 8)
#define STAT_LEN      17 /* u8 flags | i64 min | i64 max */

static const uint8_t MAGIC[4] = {'M', 'C', '2', 'T'};
static const uint8_t CHUNK_MAGIC[4] = {'M', 'C', '2', 'C'};
static const uint8_t FOOTER_MAGIC[4] = {'M', 'C', '2', 'F'};
static const uint8_t TRAILER_MAGIC[4] = {'M', 'C', '2', 'E'};

typedef unsigned long long ull;

/* ---- chunks -------------------------------------------------------------------------------- */

static void chunk_nonce(uint8_t n[MC2_NONCE_LEN], uint64_t block, uint32_t col)
{
    mc2_le32_put(n, col);
    mc2_le64_put(n + 4, block);
}

static void chunk_aad(uint8_t a[CHUNK_AAD_LEN], const mc2_t2id *id, uint64_t block, uint32_t col,
                      uint32_t rows, uint32_t len)
{
    uint8_t *p = a;
    memcpy(p, CHUNK_MAGIC, 4);
    mc2_le16_put(p + 4, 2);
    p += 6;
    memcpy(p, id->table_id, MC2_TABLE_ID_LEN);
    p += MC2_TABLE_ID_LEN;
    memcpy(p, id->schema_hash, MC2_SHA256_LEN);
    p += MC2_SHA256_LEN;
    mc2_le64_put(p, block);
    mc2_le32_put(p + 8, col);
    mc2_le32_put(p + 12, id->ncols);
    mc2_le32_put(p + 16, rows);
    mc2_le32_put(p + 20, len);
    mc2_le64_put(p + 24, id->table_version);
    p += 32;
    if (p != a + CHUNK_AAD_LEN) MC2_PANIC("chunk_aad: layout mismatch");
}

int mc2_t2_chunk_seal(mc2_aead *a, const mc2_t2id *id, uint64_t block, uint32_t col, uint32_t rows,
                      const uint8_t *pt, size_t n, uint8_t *out, mc2_err *err)
{
    if (n > MC2_BLOCK_MAX_PAYLOAD)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "column %u of block %llu encodes to %zu bytes, more than the %u a "
                           "chunk may hold: use fewer rows per block",
                           col + 1, (ull)block + 1, n, MC2_BLOCK_MAX_PAYLOAD);
    uint8_t aad[CHUNK_AAD_LEN], nonce[MC2_NONCE_LEN];
    chunk_aad(aad, id, block, col, rows, (uint32_t)n);
    chunk_nonce(nonce, block, col);
    return mc2_aead_seal(a, nonce, aad, sizeof aad, pt, n, out, out + n, err);
}

int mc2_t2_chunk_open(mc2_aead *a, const mc2_t2id *id, uint64_t block, uint64_t nblocks,
                      uint32_t col, uint32_t rows, const uint8_t *ct, size_t n, uint8_t *pt,
                      mc2_err *err)
{
    uint8_t aad[CHUNK_AAD_LEN], nonce[MC2_NONCE_LEN];
    chunk_aad(aad, id, block, col, rows, (uint32_t)n);
    chunk_nonce(nonce, block, col);
    if (mc2_aead_open(a, nonce, aad, sizeof aad, ct, n, ct + n, pt, err)) {
        if (err && err->code == MC2_E_AUTH)
            mc2_err_set(err, MC2_E_AUTH,
                        "block %llu of %llu, column %u does not authenticate: the file was "
                        "modified, the chunk comes from another table, block or column, or the "
                        "key is wrong",
                        (ull)block + 1, (ull)nblocks, col + 1);
        return -1;
    }
    return 0;
}

/* ---- the directory ----------------------------------------------------------------------------
 */

void mc2_t2dir_free(mc2_t2dir *d)
{
    if (!d) return;
    mc2_free(d->rows);
    mc2_free(d->len);
    mc2_free(d->off);
    if (d->stats) mc2_free_wipe(d->stats, d->cap * d->ncols * sizeof *d->stats);
    memset(d, 0, sizeof *d);
}

/* Makes room for `blocks` blocks. */
static int dir_reserve(mc2_t2dir *d, uint64_t blocks, mc2_err *err)
{
    if (blocks <= d->cap) return 0;
    uint64_t ncap = d->cap ? d->cap * 2 : 64;
    if (ncap < blocks) ncap = blocks;
    size_t cells, sz;
    if (!mc2_mul_size((size_t)ncap, d->ncols ? d->ncols : 1, &cells) ||
        !mc2_mul_size(cells, sizeof *d->stats, &sz))
        return mc2_err_set(err, MC2_E_LIMIT, "too many blocks");
    uint32_t *rows = mc2_realloc(d->rows, (size_t)ncap * sizeof *rows);
    if (rows) d->rows = rows;
    uint32_t *len = rows ? mc2_realloc(d->len, cells * sizeof *len) : NULL;
    if (len) d->len = len;
    uint64_t *off = len ? mc2_realloc(d->off, cells * sizeof *off) : NULL;
    if (off) d->off = off;
    mc2_colstats *st = off ? mc2_realloc(d->stats, sz) : NULL;
    if (!st) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a table directory");
    d->stats = st;
    d->cap = ncap;
    return 0;
}

/* ---- reading the metadata -----------------------------------------------------------------------
 */

int mc2_t2_footer_pos(const uint8_t trailer[MC2_T2_TRAILER_LEN], uint64_t file_size, uint64_t *off,
                      size_t *len, mc2_err *err)
{
    if (memcmp(trailer + 28, TRAILER_MAGIC, 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table file does not end with its trailer: truncated, or bytes were "
                           "appended");
    uint64_t fo = mc2_le64_get(trailer + 16);
    uint32_t fl = mc2_le32_get(trailer + 24);
    uint64_t end = fo + (uint64_t)fl + MC2_TAG_LEN + MC2_T2_TRAILER_LEN;
    if (fl > MC2_T2_FOOTER_MAX || fo < MC2_T2_PREFIX_LEN || fo > file_size || end != file_size)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table trailer: the footer (%u bytes at %llu) does not fit a file of "
                           "%llu bytes: truncated or modified",
                           fl, (ull)fo, (ull)file_size);
    *off = fo;
    *len = (size_t)fl + MC2_TAG_LEN;
    return 0;
}

/* Whether a chunk of len bytes can be column d's encoding of `rows` rows (chunk.h): exactly
 * its size for fixed-width types, at least the offsets for VARCHAR. A nullable column always
 * has its bitmap (the v2 rule). Checked before anything is sized by the row count, so a
 * footer cannot make a reader allocate for rows its chunks do not hold. */
static bool chunk_len_ok(const mc2_column_def *d, uint32_t rows, uint32_t len)
{
    uint64_t want = 2 + (d->nullable ? ((uint64_t)rows + 7) / 8 : 0) +
                    (uint64_t)rows * mc2_col_width(d->type.id);
    return d->type.id == MC2_T_VARCHAR ? len >= want : len == want;
}

/* Parses the directory part of the footer (after the schema) into d. */
static int parse_dir(mc2_rd *r, const mc2_schema *s, mc2_t2dir *d, uint64_t rows, uint64_t blocks,
                     mc2_err *err)
{
    size_t per_block;
    if (!mc2_mul_size(d->ncols, 4 + STAT_LEN, &per_block) ||
        !mc2_add_size(per_block, 4, &per_block))
        return mc2_err_set(err, MC2_E_INPUT, "table footer: too many columns");
    if (blocks > mc2_rd_left(r) / per_block)
        return mc2_err_set(err, MC2_E_INPUT, "table footer: %llu blocks do not fit it",
                           (ull)blocks);
    if (dir_reserve(d, blocks, err)) return -1;
    uint64_t off = MC2_T2_PREFIX_LEN, sum = 0;
    for (uint64_t b = 0; b < blocks; b++) {
        uint32_t n = mc2_rd_u32(r);
        if (n == 0 || n > MC2_T2_ROWS_MAX)
            return mc2_err_set(err, MC2_E_INPUT, "table footer: block %llu holds %u rows",
                               (ull)b + 1, n);
        d->rows[b] = n;
        sum += n;
        for (uint32_t c = 0; c < d->ncols; c++) {
            size_t k = (size_t)b * d->ncols + c;
            d->len[k] = mc2_rd_u32(r);
            mc2_colstats *st = &d->stats[k];
            st->flags = mc2_rd_u8(r);
            st->min = (int64_t)mc2_rd_u64(r);
            st->max = (int64_t)mc2_rd_u64(r);
            if (d->len[k] > MC2_BLOCK_MAX_PAYLOAD || st->flags > 7)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "table footer: block %llu, column %u: bad chunk entry",
                                   (ull)b + 1, c + 1);
            if (!chunk_len_ok(&s->cols[c], n, d->len[k]))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "table footer: block %llu, column %u: a chunk of %u bytes "
                                   "cannot hold %u rows: corrupted",
                                   (ull)b + 1, c + 1, d->len[k], n);
            d->off[k] = off;
            off += (uint64_t)d->len[k] + MC2_TAG_LEN;
        }
    }
    if (r->bad || mc2_rd_left(r))
        return mc2_err_set(err, MC2_E_INPUT, "table footer: malformed directory");
    if (sum != rows)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table footer: blocks hold %llu rows, but the table has %llu", (ull)sum,
                           (ull)rows);
    if (off != d->footer_off)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table footer: chunks end at %llu, but the footer starts at %llu",
                           (ull)off, (ull)d->footer_off);
    d->nblocks = blocks;
    d->row_count = rows;
    return 0;
}

/* Decodes the footer plaintext: schema, counts (equal to the trailer's), directory. */
static int parse_footer(const uint8_t *pt, size_t n, const uint8_t trailer[MC2_T2_TRAILER_LEN],
                        mc2_thdr *h, mc2_t2dir *d, mc2_t2id *id, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(pt, n);
    const uint8_t *magic = mc2_rd_take(&r, 4);
    uint16_t ver = mc2_rd_u16(&r);
    size_t sl;
    const uint8_t *schema = mc2_rd_lv(&r, &sl);
    uint64_t rows = mc2_rd_u64(&r), blocks = mc2_rd_u64(&r);
    if (r.bad || memcmp(magic, FOOTER_MAGIC, 4) != 0 || ver != 2)
        return mc2_err_set(err, MC2_E_INPUT, "table footer: malformed");
    if (rows != mc2_le64_get(trailer) || blocks != mc2_le64_get(trailer + 8))
        return mc2_err_set(err, MC2_E_INPUT, "table footer: counts differ from the trailer's");
    if (mc2_schema_decode(schema, sl, &h->schema, err))
        return mc2_err_prefix(err, "table footer: ");
    if (mc2_sha256(schema, sl, h->schema_hash, err)) return -1;
    d->ncols = (uint32_t)h->schema->ncols;
    if (parse_dir(&r, h->schema, d, rows, blocks, err)) return -1;
    uint32_t maxrows = 0;
    for (uint64_t b = 0; b < blocks; b++) maxrows = d->rows[b] > maxrows ? d->rows[b] : maxrows;
    h->version = 2;
    h->row_count = rows;
    h->block_count = blocks;
    h->rows_per_block = maxrows;
    memcpy(id->table_id, h->table_id, MC2_TABLE_ID_LEN);
    memcpy(id->schema_hash, h->schema_hash, MC2_SHA256_LEN);
    id->table_version = h->table_version;
    id->ncols = d->ncols;
    return 0;
}

int mc2_t2_open(const uint8_t prefix[MC2_T2_PREFIX_LEN], const uint8_t trailer[MC2_T2_TRAILER_LEN],
                const uint8_t *footer, size_t footer_len, uint64_t file_size,
                const uint8_t data_key[MC2_KEY_LEN], mc2_thdr *h, mc2_t2dir *dir, mc2_t2id *id,
                mc2_aead **table_aead, mc2_err *err)
{
    memset(h, 0, sizeof *h);
    memset(dir, 0, sizeof *dir);
    memset(id, 0, sizeof *id);
    *table_aead = NULL;
    uint64_t fo;
    size_t fl;
    if (memcmp(prefix, MAGIC, 4) != 0 || mc2_le16_get(prefix + 4) != 2)
        return mc2_err_set(err, MC2_E_INPUT, "not an mc2 table of format version 2");
    if (mc2_le16_get(prefix + 6) != 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table prefix has unknown flags: written by a newer mc2, or corrupted");
    if (mc2_t2_footer_pos(trailer, file_size, &fo, &fl, err)) return -1;
    if (footer_len != fl)
        return mc2_err_set(err, MC2_E_INPUT, "table footer: %zu bytes supplied, %zu expected",
                           footer_len, fl);
    uint8_t key[MC2_KEY_LEN], aad[MC2_T2_PREFIX_LEN + MC2_T2_TRAILER_LEN], nonce[MC2_NONCE_LEN];
    size_t ct_len = fl - MC2_TAG_LEN;
    uint8_t *pt = NULL;
    mc2_aead *a = NULL;
    int rc = -1;
    memcpy(h->table_id, prefix + 8, MC2_TABLE_ID_LEN);
    h->table_version = mc2_le64_get(prefix + 24);
    dir->footer_off = fo;
    memcpy(aad, prefix, MC2_T2_PREFIX_LEN);
    memcpy(aad + MC2_T2_PREFIX_LEN, trailer, MC2_T2_TRAILER_LEN);
    memset(nonce, 0xff, 4);
    mc2_le64_put(nonce + 4, 0);
    if (mc2_table_key(data_key, h->table_id, key, err) || !(a = mc2_aead_new(key, err))) goto out;
    if (!(pt = mc2_malloc(ct_len ? ct_len : 1))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory reading a table footer");
        goto out;
    }
    if (mc2_aead_open(a, nonce, aad, sizeof aad, footer, ct_len, footer + ct_len, pt, err)) {
        if (err && err->code == MC2_E_AUTH)
            mc2_err_set(err, MC2_E_AUTH,
                        "table footer does not authenticate: wrong data key, or the file was "
                        "modified");
        goto out;
    }
    if (parse_footer(pt, ct_len, trailer, h, dir, id, err)) goto out;
    *table_aead = a;
    a = NULL;
    rc = 0;
out:
    mc2_wipe(key, sizeof key);
    mc2_free_wipe(pt, ct_len ? ct_len : 1);
    mc2_aead_free(a);
    if (rc) {
        mc2_thdr_clear(h);
        mc2_t2dir_free(dir);
    }
    return rc;
}

uint32_t mc2_t2_rows_per_block(const mc2_schema *s)
{
    uint64_t widest = 8;
    for (size_t c = 0; c < s->ncols; c++)
        if (s->cols[c].type.id == MC2_T_VARCHAR &&
            4 + 4 * (uint64_t)s->cols[c].type.length > widest)
            widest = 4 + 4 * (uint64_t)s->cols[c].type.length;
    uint64_t rows = (MC2_BLOCK_MAX_PAYLOAD - 1024) / widest;
    return rows > 65536 ? 65536 : rows < 1 ? 1 : (uint32_t)rows;
}

/* ---- the writer -------------------------------------------------------------------------------
 */

struct mc2_twriter {
    mc2_t2id id;
    mc2_schema *schema;
    uint8_t *schema_enc;
    size_t schema_len;
    uint8_t key[MC2_KEY_LEN];
    mc2_aead *aead;
    uint8_t prefix[MC2_T2_PREFIX_LEN];
    mc2_sink_fn sink;
    void *sink_ctx;
    mc2_t2dir dir;
    uint64_t off;
    bool failed;
};

void mc2_t2block_free(mc2_t2block *sb)
{
    mc2_buf_free(&sb->bytes); /* secret: holds plaintext if sealing failed half-way */
    mc2_free(sb->len);
    if (sb->stats) mc2_free_wipe(sb->stats, (sb->ncols ? sb->ncols : 1) * sizeof *sb->stats);
    memset(sb, 0, sizeof *sb);
}

static int emit(mc2_twriter *w, const uint8_t *p, size_t n, mc2_err *err)
{
    if (w->failed) return mc2_err_set(err, MC2_E_USAGE, "the table writer failed earlier");
    if (n && w->sink(w->sink_ctx, p, n, err)) {
        w->failed = true;
        return -1;
    }
    w->off += n;
    return 0;
}

int mc2_twriter_new(const mc2_schema *s, const uint8_t data_key[MC2_KEY_LEN],
                    uint64_t table_version, mc2_sink_fn sink, void *sink_ctx, mc2_twriter **out,
                    mc2_err *err)
{
    *out = NULL;
    mc2_twriter *w = mc2_calloc(1, sizeof *w);
    if (!w) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    w->sink = sink;
    w->sink_ctx = sink_ctx;
    w->id.table_version = table_version;
    w->id.ncols = (uint32_t)s->ncols;
    w->dir.ncols = (uint32_t)s->ncols;
    if (mc2_schema_encode(s, &w->schema_enc, &w->schema_len, err) ||
        mc2_schema_decode(w->schema_enc, w->schema_len, &w->schema, err) ||
        mc2_sha256(w->schema_enc, w->schema_len, w->id.schema_hash, err) ||
        mc2_random(w->id.table_id, MC2_TABLE_ID_LEN, err) ||
        mc2_table_key(data_key, w->id.table_id, w->key, err) ||
        !(w->aead = mc2_aead_new(w->key, err)))
        goto fail;
    memcpy(w->prefix, MAGIC, 4);
    mc2_le16_put(w->prefix + 4, 2);
    mc2_le16_put(w->prefix + 6, 0);
    memcpy(w->prefix + 8, w->id.table_id, MC2_TABLE_ID_LEN);
    mc2_le64_put(w->prefix + 24, table_version);
    if (emit(w, w->prefix, sizeof w->prefix, err)) goto fail;
    *out = w;
    return 0;
fail:
    mc2_twriter_free(w);
    return -1;
}

const mc2_t2id *mc2_twriter_id(const mc2_twriter *w)
{
    return &w->id;
}

mc2_aead *mc2_twriter_aead(const mc2_twriter *w, mc2_err *err)
{
    return mc2_aead_new(w->key, err);
}

int mc2_twriter_seal(const mc2_twriter *w, mc2_aead *a, uint64_t index, const mc2_batch *b,
                     mc2_t2block *out, mc2_err *err)
{
    uint32_t nc = w->id.ncols;
    memset(out, 0, sizeof *out);
    if (b->nrows == 0 || b->nrows > MC2_T2_ROWS_MAX)
        MC2_PANIC("mc2_twriter_seal: a block holds 1..2^20 rows");
    out->index = index;
    out->rows = (uint32_t)b->nrows;
    out->ncols = nc;
    out->bytes.secret = 1; /* columns are encoded, then sealed, in place */
    out->len = mc2_calloc(nc ? nc : 1, sizeof *out->len);
    out->stats = mc2_calloc(nc ? nc : 1, sizeof *out->stats);
    size_t total = 0;
    if (!out->len || !out->stats) goto nomem;
    for (uint32_t c = 0; c < nc; c++) {
        size_t n;
        if (mc2_col_size(b, c, true, &n, err)) goto fail;
        if (n > MC2_BLOCK_MAX_PAYLOAD) {
            mc2_err_set(err, MC2_E_LIMIT,
                        "column %u of block %llu encodes to %zu bytes, more than the %u a chunk "
                        "may hold: use fewer rows per block",
                        c + 1, (ull)index + 1, n, MC2_BLOCK_MAX_PAYLOAD);
            goto fail;
        }
        out->len[c] = (uint32_t)n;
        total += n + MC2_TAG_LEN; /* bounded: nc <= 1024 chunks of <= 64 MiB */
    }
    if (mc2_buf_reserve(&out->bytes, total, err)) goto fail;
    uint8_t *p = out->bytes.data;
    for (uint32_t c = 0; c < nc; c++) {
        /* encode in place, then seal in place */
        if (!mc2_col_put(b, c, true, p, err) ||
            mc2_t2_chunk_seal(a, &w->id, index, c, out->rows, p, out->len[c], p, err))
            goto fail;
        mc2_col_stats(b, c, &out->stats[c]);
        p += out->len[c] + MC2_TAG_LEN;
    }
    out->bytes.len = total;
    return 0;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory sealing a block");
fail:
    mc2_t2block_free(out);
    return -1;
}

int mc2_twriter_append(mc2_twriter *w, mc2_t2block *sb, mc2_err *err)
{
    mc2_t2dir *d = &w->dir;
    if (sb->index != d->nblocks || sb->ncols != d->ncols)
        MC2_PANIC("mc2_twriter_append: blocks out of order");
    if (dir_reserve(d, d->nblocks + 1, err)) return -1;
    uint64_t off = w->off;
    if (emit(w, sb->bytes.data, sb->bytes.len, err)) return -1;
    d->rows[d->nblocks] = sb->rows;
    for (uint32_t c = 0; c < d->ncols; c++) {
        size_t k = (size_t)d->nblocks * d->ncols + c;
        d->len[k] = sb->len[c];
        d->off[k] = off;
        d->stats[k] = sb->stats[c];
        off += sb->len[c] + MC2_TAG_LEN;
    }
    d->nblocks++;
    d->row_count += sb->rows;
    return 0;
}

int mc2_twriter_add(mc2_twriter *w, const mc2_batch *b, mc2_err *err)
{
    if (b->nrows == 0) return 0;
    if (b->nrows > MC2_T2_ROWS_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "a block holds at most %u rows, not %zu",
                           MC2_T2_ROWS_MAX, b->nrows);
    mc2_t2block sb;
    int rc =
        mc2_twriter_seal(w, w->aead, w->dir.nblocks, b, &sb, err) || mc2_twriter_append(w, &sb, err)
            ? -1
            : 0;
    mc2_t2block_free(&sb);
    return rc;
}

/* The footer plaintext: magic, schema, counts, directory. */
static int footer_bytes(const mc2_twriter *w, mc2_buf *out, mc2_err *err)
{
    const mc2_t2dir *d = &w->dir;
    if (mc2_buf_append(out, FOOTER_MAGIC, 4, err) || mc2_buf_put_u16(out, 2, err) ||
        mc2_buf_put_lv(out, w->schema_enc, w->schema_len, err) ||
        mc2_buf_put_u64(out, d->row_count, err) || mc2_buf_put_u64(out, d->nblocks, err))
        return -1;
    for (uint64_t b = 0; b < d->nblocks; b++) {
        if (mc2_buf_put_u32(out, d->rows[b], err)) return -1;
        for (uint32_t c = 0; c < d->ncols; c++) {
            size_t k = (size_t)b * d->ncols + c;
            if (mc2_buf_put_u32(out, d->len[k], err) ||
                mc2_buf_put_u8(out, d->stats[k].flags, err) ||
                mc2_buf_put_u64(out, (uint64_t)d->stats[k].min, err) ||
                mc2_buf_put_u64(out, (uint64_t)d->stats[k].max, err))
                return -1;
        }
    }
    if (out->len > MC2_T2_FOOTER_MAX)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "the table's directory takes %zu bytes, more than %u: use more rows "
                           "per block",
                           out->len, MC2_T2_FOOTER_MAX);
    return 0;
}

int mc2_twriter_finish(mc2_twriter *w, uint64_t *rows, uint64_t *blocks, mc2_err *err)
{
    mc2_buf f = {.secret = 1}; /* the schema and statistics are the owner's */
    uint8_t trailer[MC2_T2_TRAILER_LEN], tag[MC2_TAG_LEN], nonce[MC2_NONCE_LEN];
    uint8_t aad[MC2_T2_PREFIX_LEN + MC2_T2_TRAILER_LEN];
    int rc = -1;
    if (footer_bytes(w, &f, err)) goto out;
    mc2_le64_put(trailer, w->dir.row_count);
    mc2_le64_put(trailer + 8, w->dir.nblocks);
    mc2_le64_put(trailer + 16, w->off);
    mc2_le32_put(trailer + 24, (uint32_t)f.len);
    memcpy(trailer + 28, TRAILER_MAGIC, 4);
    memcpy(aad, w->prefix, MC2_T2_PREFIX_LEN);
    memcpy(aad + MC2_T2_PREFIX_LEN, trailer, MC2_T2_TRAILER_LEN);
    memset(nonce, 0xff, 4);
    mc2_le64_put(nonce + 4, 0);
    if (mc2_aead_seal(w->aead, nonce, aad, sizeof aad, f.data, f.len, f.data, tag, err) ||
        emit(w, f.data, f.len, err) || emit(w, tag, sizeof tag, err) ||
        emit(w, trailer, sizeof trailer, err))
        goto out;
    if (rows) *rows = w->dir.row_count;
    if (blocks) *blocks = w->dir.nblocks;
    rc = 0;
out:
    mc2_buf_free(&f);
    return rc;
}

void mc2_twriter_free(mc2_twriter *w)
{
    if (!w) return;
    mc2_wipe(w->key, sizeof w->key);
    mc2_aead_free(w->aead);
    mc2_schema_free(w->schema);
    mc2_free_wipe(w->schema_enc, w->schema_len);
    mc2_t2dir_free(&w->dir);
    mc2_free(w);
}
