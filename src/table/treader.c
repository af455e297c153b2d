/* treader.c - iterating the authenticated blocks of an in-memory .mc2t (either format
 * version): a scan (tsrc.h) over a memory source, one block at a time, every column. */
#include "table/treader.h"

#include <string.h>

#include "base/alloc.h"
#include "table/tsrc.h"

struct mc2_treader {
    mc2_tio io;
    mc2_tsrc *src;
    mc2_tscan *scan;
    int held;           /* the scan slot whose plaintext next_raw handed out, or -1 */
    const uint8_t **pt; /* next_chunks: one plaintext per column (v2) or the payload (v1) */
    size_t *len;
};

int mc2_treader_open_mem(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN],
                         mc2_treader **out, mc2_err *err)
{
    *out = NULL;
    mc2_treader *r = mc2_calloc(1, sizeof *r);
    if (!r) return mc2_err_set(err, MC2_E_NOMEM, "out of memory opening a table");
    r->io = mc2_tio_mem(p, n);
    r->held = -1;
    unsigned *cols = NULL;
    if (mc2_tsrc_open(&r->io, data_key, n, &r->src, err)) goto fail;
    const mc2_schema *s = mc2_tsrc_header(r->src)->schema;
    cols = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *cols);
    if (!cols) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory opening a table");
        goto fail;
    }
    for (size_t c = 0; c < s->ncols; c++) cols[c] = (unsigned)c;
    if (mc2_tscan_open(r->src, cols, s->ncols, 1, NULL, NULL, &r->scan, err)) goto fail;
    mc2_free(cols);
    *out = r;
    return 0;
fail:
    mc2_free(cols);
    mc2_treader_free(r);
    return -1;
}

const mc2_thdr *mc2_treader_header(const mc2_treader *r)
{
    return mc2_tsrc_header(r->src);
}

mc2_batch *mc2_treader_batch_new(const mc2_treader *r, mc2_err *err)
{
    /* Start small: decoding grows the batch to a block's row count once a payload that
     * really holds those rows has authenticated, so a header claiming huge blocks costs
     * nothing up front. */
    const mc2_thdr *h = mc2_tsrc_header(r->src);
    size_t cap = h->rows_per_block < 1024 ? h->rows_per_block : 1024;
    if (h->row_count < cap) cap = (size_t)h->row_count;
    return mc2_batch_new(h->schema, cap ? cap : 1, err);
}

int mc2_treader_next(mc2_treader *r, mc2_batch *b, uint64_t *index, mc2_err *err)
{
    if (b->schema != mc2_tsrc_header(r->src)->schema)
        MC2_PANIC("mc2_treader_next: the batch is not for this reader's schema");
    uint64_t i;
    int rc = mc2_tscan_next(r->scan, b, &i, err);
    if (rc == 1 && index) *index = i;
    return rc;
}

int mc2_treader_next_chunks(mc2_treader *r, const uint8_t *const **pt, const size_t **len,
                            uint32_t *rows, uint64_t *index, mc2_err *err)
{
    const mc2_thdr *h = mc2_tsrc_header(r->src);
    size_t n = h->schema->ncols ? h->schema->ncols : 1;
    if (r->held >= 0) {
        mc2_tscan_release(r->scan, r->held); /* its plaintext stays until the slot's reuse */
        r->held = -1;
    }
    if (!r->pt &&
        (!(r->pt = mc2_calloc(n, sizeof *r->pt)) || !(r->len = mc2_calloc(n, sizeof *r->len))))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    uint64_t i;
    int slot;
    int rc = mc2_tscan_next_raw(r->scan, r->pt, r->len, &i, rows, &slot, err);
    if (rc == 1) {
        r->held = slot;
        if (index) *index = i;
        *pt = r->pt;
        *len = r->len;
    }
    return rc;
}

int mc2_treader_next_raw(mc2_treader *r, const uint8_t **pt, size_t *len, uint32_t *rows,
                         uint64_t *index, mc2_err *err)
{
    if (mc2_tsrc_header(r->src)->version != 1)
        return mc2_err_set(err, MC2_E_USAGE,
                           "a format-2 table has one plaintext per column: read it with "
                           "mc2_treader_next_chunks");
    const uint8_t *const *p = NULL;
    const size_t *l = NULL;
    int rc = mc2_treader_next_chunks(r, &p, &l, rows, index, err);
    if (rc == 1) {
        *pt = p[0];
        *len = l[0];
    }
    return rc;
}

mc2_tsrc *mc2_treader_source(mc2_treader *r)
{
    return r->src;
}

void mc2_treader_free(mc2_treader *r)
{
    if (!r) return;
    if (r->held >= 0) mc2_tscan_release(r->scan, r->held);
    mc2_free(r->pt);
    mc2_free(r->len);
    mc2_tscan_free(r->scan);
    mc2_tsrc_free(r->src);
    mc2_free(r);
}
