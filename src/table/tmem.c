/* tmem.c - a batch in memory sealed as a whole encrypted table in memory. */
#include "table/tmem.h"

#include "base/alloc.h"

int mc2_table_seal_batch(const mc2_batch *b, const uint8_t data_key[MC2_KEY_LEN], mc2_buf *out,
                         mc2_err *err)
{
    int rc = -1;
    mc2_thdr h = {0};
    mc2_aead *aead = NULL;
    uint8_t key[MC2_KEY_LEN], *hdr = NULL, *pt = NULL, *frames = NULL;
    size_t hdr_len = 0, pt_len = 0, frames_len = 0;
    uint32_t rpb = b->nrows == 0 ? 1 : (uint32_t)b->nrows;
    if (b->nrows > UINT32_MAX) return mc2_err_set(err, MC2_E_LIMIT, "result too large");
    if (mc2_thdr_init(&h, b->schema, b->nrows, rpb, err)) goto out;
    if (mc2_table_key(data_key, h.table_id, key, err)) goto out;
    aead = mc2_aead_new(key, err);
    if (!aead || mc2_thdr_seal(&h, aead, &hdr, &hdr_len, err)) goto out;
    if (b->nrows > 0) {
        if (mc2_batch_encode(b, &pt, &pt_len, err) ||
            mc2_tblock_seal(aead, &h, 0, pt, pt_len, &frames, &frames_len, err))
            goto out;
    }
    if (mc2_buf_append(out, hdr, hdr_len, err) || mc2_buf_append(out, frames, frames_len, err))
        goto out;
    rc = 0;
out:
    mc2_wipe(key, sizeof key);
    mc2_free_wipe(pt, pt_len);
    mc2_free(hdr);
    mc2_free(frames);
    mc2_aead_free(aead);
    mc2_thdr_clear(&h);
    return rc;
}
