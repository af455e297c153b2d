/* tplain.h - the "plaintext form" of an encrypted table (.mc2t), shared by fuzz/fuzz_tfile.c
 * and tests/unit/test_tfile.c: the file's exact layout with every ciphertext replaced by its
 * plaintext and every tag zeroed. Version 1: the sealed header holds the schema encoding,
 * each frame its block payload. Version 2: each chunk holds its column encoding, the footer
 * its directory (docs/format.md).
 *
 * tplain_seal turns a plaintext form into a sealed file under a data key, taking the
 * lengths and counts it needs from the (possibly mutated) form itself and copying whatever
 * does not fit unchanged, so that a fuzzer's mutations reach the schema, directory and
 * column decoders past authentication; tplain_open is its inverse for a valid table (the
 * fuzz corpus generator, and tests that craft a table the writer would never write).
 * Buffers come from mc2_malloc (free with mc2_free). Header-only, for tests and fuzzers. */
#ifndef MC2_TESTS_TPLAIN_H
#define MC2_TESTS_TPLAIN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "table/tfile2.h"
#include "table/treader.h"

/* ---- version 1 ---------------------------------------------------------------------------- */

/* Seals a v1 plaintext form: the header's "ciphertext" (header_ct_len bytes, clamped to the
 * input) as the schema, then each frame whose head is consistent with the header; the rest
 * is copied raw (the reader must reject it). */
static inline int tplain_seal_v1(const uint8_t *p, size_t n, const uint8_t key0[MC2_KEY_LEN],
                                 uint8_t **out, size_t *out_len)
{
    mc2_err err;
    if (n < MC2_TFILE_PREFIX_LEN) return -1;
    size_t ct_len = mc2_le32_get(p + 44), tail;
    if (ct_len > n - MC2_TFILE_PREFIX_LEN) ct_len = n - MC2_TFILE_PREFIX_LEN;
    size_t hdr_len = MC2_TFILE_PREFIX_LEN + ct_len + MC2_TAG_LEN;
    size_t pos = MC2_TFILE_PREFIX_LEN + ct_len;
    pos = n - pos >= MC2_TAG_LEN ? pos + MC2_TAG_LEN : n; /* skip the input's tag */
    tail = n - pos;
    uint8_t *buf = mc2_malloc(hdr_len);
    if (!buf) return -1;
    memcpy(buf, p, MC2_TFILE_PREFIX_LEN);
    mc2_le32_put(buf + 44, (uint32_t)ct_len);
    uint8_t key[MC2_KEY_LEN], nonce[MC2_NONCE_LEN];
    memset(nonce, 0xff, 4);
    memset(nonce + 4, 0, 8);
    mc2_aead *a = NULL;
    if (mc2_table_key(key0, buf + 8, key, &err) || !(a = mc2_aead_new(key, &err)) ||
        mc2_aead_seal(a, nonce, buf, MC2_TFILE_PREFIX_LEN, p + MC2_TFILE_PREFIX_LEN, ct_len,
                      buf + MC2_TFILE_PREFIX_LEN, buf + MC2_TFILE_PREFIX_LEN + ct_len, &err)) {
        mc2_aead_free(a);
        mc2_free(buf);
        return -1;
    }
    mc2_aead_free(a);
    a = NULL;
    size_t len = hdr_len;
    mc2_thdr h;
    if (mc2_thdr_open(buf, hdr_len, key0, &h, &a, &err) == 0) {
        /* Seal each consistent frame; copy the rest raw. */
        while (n - pos >= 16) {
            uint64_t idx = mc2_le64_get(p + pos);
            uint32_t rows = mc2_le32_get(p + pos + 8);
            size_t fl = mc2_le32_get(p + pos + 12);
            if (fl > n - pos - 16) fl = n - pos - 16;
            if (idx >= h.block_count || rows != mc2_thdr_block_rows(&h, idx)) break;
            if (mc2_tblock_seal(a, &h, idx, p + pos + 16, fl, &buf, &len, &err)) break;
            pos += 16 + fl;
            pos = n - pos >= MC2_TAG_LEN ? pos + MC2_TAG_LEN : n;
        }
        tail = n - pos;
        mc2_aead_free(a);
        mc2_thdr_clear(&h);
    }
    uint8_t *nb = mc2_realloc(buf, len + tail);
    if (!nb) {
        mc2_free(buf);
        return -1;
    }
    if (tail) memcpy(nb + len, p + pos, tail);
    *out = nb;
    *out_len = len + tail;
    return 0;
}

/* The plaintext form of a valid v1 table p[0..n), or NULL. */
static inline uint8_t *tplain_open_v1(const uint8_t *p, size_t n, const uint8_t key[MC2_KEY_LEN],
                                      size_t *out_len)
{
    mc2_err err;
    size_t hl;
    mc2_thdr h;
    mc2_aead *a = NULL;
    if (mc2_thdr_peek(p, n, &hl, &err) || hl > n || mc2_thdr_open(p, hl, key, &h, &a, &err))
        return NULL;
    uint8_t *out = mc2_malloc(n);
    uint8_t *enc = NULL;
    size_t enc_len = 0, pos = hl;
    if (!out || mc2_schema_encode(h.schema, &enc, &enc_len, &err) || 48 + enc_len + 16 != hl)
        goto fail;
    memcpy(out, p, 48);
    memcpy(out + 48, enc, enc_len);
    memset(out + 48 + enc_len, 0, 16);
    for (uint64_t i = 0; i < h.block_count; i++) {
        size_t fl;
        if (mc2_tframe_next(&h, i, p + pos, n - pos, &fl, &err)) goto fail;
        memcpy(out + pos, p + pos, 16);
        if (mc2_tblock_open(a, &h, i, p + pos, fl, out + pos + 16, &err)) goto fail;
        memset(out + pos + fl - 16, 0, 16);
        pos += fl;
    }
    mc2_free(enc);
    mc2_aead_free(a);
    mc2_thdr_clear(&h);
    *out_len = n;
    return out;
fail:
    mc2_free(out);
    mc2_free(enc);
    mc2_aead_free(a);
    mc2_thdr_clear(&h);
    return NULL;
}

/* ---- version 2 ---------------------------------------------------------------------------- */

static inline void tplain_footer_nonce(uint8_t nonce[MC2_NONCE_LEN])
{
    memset(nonce, 0xff, 4);
    memset(nonce + 4, 0, 8);
}

/* Seals a v2 plaintext form: the footer where the trailer says (if it lies within the file,
 * with prefix | trailer as its associated data), then the chunks its directory lists, in
 * order from offset 32, as long as they fit before the footer. Everything else is copied. */
static inline int tplain_seal_v2(const uint8_t *p, size_t n, const uint8_t key0[MC2_KEY_LEN],
                                 uint8_t **out, size_t *out_len)
{
    mc2_err err;
    uint8_t *o = mc2_malloc(n ? n : 1);
    if (!o) return -1;
    if (n) memcpy(o, p, n);
    *out = o;
    *out_len = n;
    if (n < MC2_T2_PREFIX_LEN + MC2_TAG_LEN + MC2_T2_TRAILER_LEN) return 0;
    const uint8_t *trailer = p + n - MC2_T2_TRAILER_LEN;
    uint64_t fo = mc2_le64_get(trailer + 16);
    uint32_t fl = mc2_le32_get(trailer + 24);
    size_t room = n - MC2_T2_TRAILER_LEN - MC2_TAG_LEN; /* where the footer must end */
    if (fo < MC2_T2_PREFIX_LEN || fo > room || fl > room - fo) return 0;

    uint8_t key[MC2_KEY_LEN], nonce[MC2_NONCE_LEN], aad[MC2_T2_PREFIX_LEN + MC2_T2_TRAILER_LEN];
    mc2_aead *a = NULL;
    if (mc2_table_key(key0, p + 8, key, &err) || !(a = mc2_aead_new(key, &err))) return -1;
    memcpy(aad, p, MC2_T2_PREFIX_LEN);
    memcpy(aad + MC2_T2_PREFIX_LEN, trailer, MC2_T2_TRAILER_LEN);
    tplain_footer_nonce(nonce);
    if (mc2_aead_seal(a, nonce, aad, sizeof aad, p + fo, fl, o + fo, o + fo + fl, &err)) {
        mc2_aead_free(a);
        return -1;
    }

    /* The directory, read as the reader would (but without its checks). */
    mc2_rd r = mc2_rd_init(p + fo, fl);
    mc2_rd_take(&r, 6);
    size_t sl;
    const uint8_t *schema = mc2_rd_lv(&r, &sl);
    mc2_rd_u64(&r);
    uint64_t blocks = mc2_rd_u64(&r);
    mc2_t2id id;
    memset(&id, 0, sizeof id);
    if (r.bad || sl < 10 || mc2_sha256(schema, sl, id.schema_hash, &err)) goto done;
    memcpy(id.table_id, p + 8, MC2_TABLE_ID_LEN);
    id.table_version = mc2_le64_get(p + 24);
    id.ncols = mc2_le32_get(schema + 6);
    if (id.ncols == 0 || id.ncols > MC2_MAX_COLUMNS) goto done;
    uint64_t off = MC2_T2_PREFIX_LEN;
    for (uint64_t b = 0; b < blocks; b++) {
        uint32_t rows = mc2_rd_u32(&r);
        for (uint32_t c = 0; c < id.ncols; c++) {
            uint32_t len = mc2_rd_u32(&r);
            mc2_rd_take(&r, 17);
            if (r.bad || len > fo - off || fo - off - len < MC2_TAG_LEN ||
                mc2_t2_chunk_seal(a, &id, b, c, rows, p + off, len, o + off, &err))
                goto done;
            off += (uint64_t)len + MC2_TAG_LEN;
        }
    }
done:
    mc2_wipe(key, sizeof key);
    mc2_aead_free(a);
    return 0;
}

/* The plaintext form of a valid v2 table p[0..n), or NULL. */
static inline uint8_t *tplain_open_v2(const uint8_t *p, size_t n, const uint8_t key[MC2_KEY_LEN],
                                      size_t *out_len)
{
    mc2_err err;
    uint64_t fo;
    size_t fl;
    mc2_thdr h;
    mc2_t2dir d;
    mc2_t2id id;
    mc2_aead *a = NULL;
    if (n < MC2_T2_PREFIX_LEN + MC2_TAG_LEN + MC2_T2_TRAILER_LEN) return NULL;
    const uint8_t *trailer = p + n - MC2_T2_TRAILER_LEN;
    if (mc2_t2_footer_pos(trailer, n, &fo, &fl, &err) ||
        mc2_t2_open(p, trailer, p + fo, fl, n, key, &h, &d, &id, &a, &err))
        return NULL;
    uint8_t *o = mc2_malloc(n), nonce[MC2_NONCE_LEN], aad[MC2_T2_PREFIX_LEN + MC2_T2_TRAILER_LEN];
    int ok = o != NULL;
    if (ok) memcpy(o, p, n);
    for (uint64_t b = 0; ok && b < d.nblocks; b++)
        for (uint32_t c = 0; ok && c < d.ncols; c++) {
            size_t k = (size_t)b * d.ncols + c;
            ok = mc2_t2_chunk_open(a, &id, b, d.nblocks, c, d.rows[b], p + d.off[k], d.len[k],
                                   o + d.off[k], &err) == 0;
            if (ok) memset(o + d.off[k] + d.len[k], 0, MC2_TAG_LEN);
        }
    memcpy(aad, p, MC2_T2_PREFIX_LEN);
    memcpy(aad + MC2_T2_PREFIX_LEN, trailer, MC2_T2_TRAILER_LEN);
    tplain_footer_nonce(nonce);
    size_t ct = fl - MC2_TAG_LEN;
    if (ok && mc2_aead_open(a, nonce, aad, sizeof aad, p + fo, ct, p + fo + ct, o + fo, &err))
        ok = 0;
    if (ok) memset(o + fo + ct, 0, MC2_TAG_LEN);
    mc2_aead_free(a);
    mc2_thdr_clear(&h);
    mc2_t2dir_free(&d);
    if (!ok) {
        mc2_free(o);
        return NULL;
    }
    *out_len = n;
    return o;
}

/* ---- either ------------------------------------------------------------------------------- */

static inline int tplain_is_v2(const uint8_t *p, size_t n)
{
    return n >= 6 && memcmp(p, "MC2T", 4) == 0 && mc2_le16_get(p + 4) == 2;
}

static inline int tplain_seal(const uint8_t *p, size_t n, const uint8_t key[MC2_KEY_LEN],
                              uint8_t **out, size_t *out_len)
{
    return tplain_is_v2(p, n) ? tplain_seal_v2(p, n, key, out, out_len)
                              : tplain_seal_v1(p, n, key, out, out_len);
}

static inline uint8_t *tplain_open(const uint8_t *p, size_t n, const uint8_t key[MC2_KEY_LEN],
                                   size_t *out_len)
{
    return tplain_is_v2(p, n) ? tplain_open_v2(p, n, key, out_len)
                              : tplain_open_v1(p, n, key, out_len);
}

#endif
