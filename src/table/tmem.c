/* tmem.c - a batch in memory sealed as a whole encrypted table in memory (format version 2,
 * blocks of mc2_t2_rows_per_block rows). */
#include "table/tmem.h"

#include "base/alloc.h"
#include "table/chunk.h"
#include "table/tfile2.h"

static int buf_sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

int mc2_table_seal_batch(const mc2_batch *b, const uint8_t data_key[MC2_KEY_LEN], mc2_buf *out,
                         mc2_err *err)
{
    mc2_twriter *w = NULL;
    mc2_batch *part = NULL;
    int rc = -1;
    size_t rows = mc2_t2_rows_per_block(b->schema);
    if (mc2_twriter_new(b->schema, data_key, 0, buf_sink, out, &w, err)) goto out;
    if (b->nrows <= rows) {
        if (mc2_twriter_add(w, b, err)) goto out;
    } else {
        if (!(part = mc2_batch_new(b->schema, rows, err))) goto out;
        for (size_t at = 0; at < b->nrows; at += rows) {
            size_t n = b->nrows - at < rows ? b->nrows - at : rows;
            if (mc2_batch_copy_rows(part, b, at, n, err) || mc2_twriter_add(w, part, err)) goto out;
        }
    }
    rc = mc2_twriter_finish(w, NULL, NULL, err);
out:
    mc2_batch_free(part);
    mc2_twriter_free(w);
    return rc;
}
