/* fuzz_tfile.c - libFuzzer target for the encrypted table reader (mc2_treader_open_mem and
 * mc2_treader_next) under a fixed data key.
 *
 * The first byte chooses the mode:
 *   even: the rest is an .mc2t file, read as is (exercises the prefix, header and frame
 *         checks; only files sealed with FUZZ_KEY get past authentication).
 *   odd:  the rest is an .mc2t in "plaintext form": the header's ciphertext and each frame's
 *         ciphertext are taken as plaintext and sealed here with FUZZ_KEY (tags in the input
 *         are ignored), so mutations reach the schema decoder, the block sequencing and the
 *         batch decoder. A frame whose head is inconsistent with the header is copied
 *         unchanged (the reader must reject it).
 * The seed corpus (fuzz/corpus/fuzz_tfile) is written by test_tfile when MC2_FUZZ_CORPUS
 * names a directory: valid files in both modes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "table/treader.h"

/* Must match FUZZ_KEY in tests/unit/test_tfile.c (the corpus generator). */
static const uint8_t FUZZ_KEY[MC2_KEY_LEN] = {
    0x6d, 0x63, 0x32, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x00,
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

static void read_all(const uint8_t *p, size_t n)
{
    mc2_err err;
    mc2_treader *r = NULL;
    if (mc2_treader_open_mem(p, n, FUZZ_KEY, &r, &err)) return;
    mc2_batch *b = mc2_treader_batch_new(r, &err);
    if (b) {
        uint64_t rows = 0;
        int k;
        while ((k = mc2_treader_next(r, b, NULL, &err)) == 1) rows += b->nrows;
        if (k == 0 && rows != mc2_treader_header(r)->row_count) abort();
        mc2_batch_free(b);
    }
    mc2_treader_free(r);
}

/* Builds a sealed file from the plaintext form p[0..n) into *out. */
static int reseal(const uint8_t *p, size_t n, uint8_t **out, size_t *out_len)
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
    if (mc2_table_key(FUZZ_KEY, buf + 8, key, &err) || !(a = mc2_aead_new(key, &err)) ||
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
    if (mc2_thdr_open(buf, hdr_len, FUZZ_KEY, &h, &a, &err) == 0) {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if ((data[0] & 1) == 0) {
        read_all(data + 1, size - 1);
        return 0;
    }
    uint8_t *f = NULL;
    size_t fn = 0;
    if (reseal(data + 1, size - 1, &f, &fn) == 0) {
        read_all(f, fn);
        mc2_free(f);
    }
    return 0;
}
