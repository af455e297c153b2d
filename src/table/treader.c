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
};

int mc2_treader_open_mem(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN],
                         mc2_treader **out, mc2_err *err)
{
    *out = NULL;
    mc2_treader *r = mc2_calloc(1, sizeof *r);
    if (!r) return mc2_err_set(err, MC2_E_NOMEM, "out of memory opening a table");
    r->io = mc2_tio_mem(p, n);
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

void mc2_treader_free(mc2_treader *r)
{
    if (!r) return;
    mc2_tscan_free(r->scan);
    mc2_tsrc_free(r->src);
    mc2_free(r);
}
