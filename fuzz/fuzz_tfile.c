/* fuzz_tfile.c - libFuzzer target for the encrypted table readers, both format versions,
 * under a fixed data key: the in-memory reader (mc2_treader_open_mem, mc2_treader_next) and
 * the byte-range reader's scans (mc2_tsrc, mc2_tscan: a column subset in reverse order with
 * read-ahead and a filter on the v2 statistics, and the raw API).
 *
 * The first byte chooses the mode:
 *   even: the rest is an .mc2t file, read as is (exercises the prefix, header, trailer, frame
 *         and directory checks; only files sealed with FUZZ_KEY get past authentication).
 *   odd:  the rest is an .mc2t in "plaintext form" (tests/tools/tplain.h): every ciphertext
 *         replaced by its plaintext, sealed here with FUZZ_KEY (tags in the input are
 *         ignored), so mutations reach the schema decoder, the v1 block sequencing and batch
 *         decoder, the v2 footer and directory parser, chunk decoder and statistics. What
 *         does not fit (a v1 frame inconsistent with its header, a v2 chunk past the footer)
 *         is copied unchanged, and the reader must reject it.
 * The byte-range reader reads through the cluster-part wrapper (table/tpart.h), as a rank's
 * enclave does: a cluster part (an "MC2P" head) is read as its whole table, checked to be the
 * part it says it is, and scanned over its own blocks only.
 * The seed corpus (fuzz/corpus/fuzz_tfile) is written by test_tfile when MC2_FUZZ_CORPUS
 * names a directory: small valid tables of both versions in both modes; test_tpart adds a
 * cluster part (sealed_v2_part). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "table/tpart.h"
#include "table/treader.h"
#include "table/tsrc.h"
#include "../tests/tools/tplain.h"

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

/* Skips blocks whose first column is all NULL, per the statistics (v2), and (a cluster part)
 * blocks outside the part's range (ctx: the range's first and end block, or NULL). */
static bool keep_not_allnull(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    const uint64_t *range = ctx;
    if (range && (b < range[0] || b >= range[1])) return false;
    const mc2_colstats *st = mc2_tsrc_stats(s, b, 0);
    return !st || !(st->flags & MC2_STATS_ALLNULL);
}

/* A scan of the columns in reverse order, 3 blocks ahead, filtered; then a raw scan. */
static void scan_all(const uint8_t *p, size_t n)
{
    mc2_err err;
    mc2_tio mem = mc2_tio_mem(p, n), io;
    mc2_tpart_info part;
    void *pctx = NULL;
    mc2_tsrc *s = NULL;
    uint64_t range[2];
    if (mc2_tio_part(&mem, &io, &part, &pctx, &err)) return;
    if (mc2_tsrc_open(&io, FUZZ_KEY, n, &s, &err) ||
        mc2_tpart_check(s, &part, part.part, part.parts ? part.parts : 1, &err)) {
        mc2_tsrc_free(s);
        mc2_tio_part_free(pctx);
        return;
    }
    const mc2_thdr *h = mc2_tsrc_header(s);
    mc2_block_range(h->block_count, part.part, part.parts ? part.parts : 1, &range[0], &range[1]);
    range[1] += range[0];
    size_t nc = h->schema->ncols;
    unsigned *cols = mc2_calloc(nc, sizeof *cols);
    const uint8_t **pt = mc2_calloc(nc, sizeof *pt);
    size_t *len = mc2_calloc(nc, sizeof *len);
    mc2_batch *b = mc2_batch_new(h->schema, 1, &err);
    mc2_tscan *sc = NULL;
    if (!cols || !pt || !len || !b) goto out;
    for (size_t c = 0; c < nc; c++) cols[c] = (unsigned)(nc - 1 - c);
    if (mc2_tscan_open(s, cols, nc, 3, keep_not_allnull, range, &sc, &err) == 0) {
        uint64_t i, last = 0, got = 0, read = 0, skipped = 0;
        int k;
        while ((k = mc2_tscan_next(sc, b, &i, &err)) == 1) {
            if ((got && i <= last) || b->nrows != mc2_tsrc_block_rows(s, i)) abort();
            last = i;
            got++;
        }
        mc2_tscan_counts(sc, NULL, &read, &skipped);
        if (k == 0 && (got != read || read + skipped != h->block_count)) abort();
        if (k == 0 && part.is_part && read > range[1] - range[0]) abort();
        mc2_tscan_free(sc);
        sc = NULL;
    }
    if (!part.is_part && mc2_tscan_open(s, cols, nc, 2, NULL, NULL, &sc, &err) == 0) {
        uint64_t i;
        uint32_t rows;
        int slot;
        while (mc2_tscan_next_raw(sc, pt, len, &i, &rows, &slot, &err) == 1) {
            if (rows != mc2_tsrc_block_rows(s, i)) abort();
            mc2_tscan_release(sc, slot);
        }
    }
out:
    mc2_tscan_free(sc);
    mc2_batch_free(b);
    mc2_free(len);
    mc2_free(pt);
    mc2_free(cols);
    mc2_tsrc_free(s);
    mc2_tio_part_free(pctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if ((data[0] & 1) == 0) {
        read_all(data + 1, size - 1);
        scan_all(data + 1, size - 1);
        return 0;
    }
    uint8_t *f = NULL;
    size_t fn = 0;
    if (tplain_seal(data + 1, size - 1, FUZZ_KEY, &f, &fn) == 0) {
        read_all(f, fn);
        scan_all(f, fn);
        mc2_free(f);
    }
    return 0;
}
