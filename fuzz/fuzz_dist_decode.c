/* fuzz_dist_decode.c - libFuzzer target: mc2_dist_decode (sql/dist.h), the decoder of the rows
 * another rank sends in a distributed query's exchange, of arbitrary bytes against a fixed
 * schema (INT64 NOT NULL, a nullable DECIMAL, a nullable VARCHAR). What decodes must
 * re-encode, frame by frame, to a stream that decodes to the same rows. The seed corpus
 * (fuzz/corpus/fuzz_dist_decode) is written by test_sql_dist when MC2_FUZZ_CORPUS is set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "sql/dist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The schema of test_sql_dist's table t (the seeds were made with it). */
static const char schema_yaml[] = "columns:\n"
                                  "  - {name: k, type: INT64, nullable: false}\n"
                                  "  - {name: v, type: 'DECIMAL(12,2)'}\n"
                                  "  - {name: s, type: VARCHAR(8)}\n";

static mc2_schema *schema(void)
{
    static mc2_schema *s; /* built once per process; never freed (libFuzzer exits) */
    mc2_err err;
    if (!s && mc2_schema_parse("fuzz", schema_yaml, sizeof schema_yaml - 1, &s, &err) != 0) abort();
    return s;
}

static void free_all(mc2_batch **b, size_t n)
{
    for (size_t i = 0; i < n; i++) mc2_batch_free(b[i]);
    mc2_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mc2_schema *s = schema();
    mc2_err err;
    mc2_batch **b = NULL, **b2 = NULL;
    size_t n = 0, n2 = 0;
    if (mc2_dist_decode(s, data, size, 1, &b, &n, &err) != 0) {
        free_all(b, n);
        return 0;
    }
    /* Re-encode each batch as a frame: the new stream must decode to the same encodings. */
    uint8_t *re = NULL;
    size_t rl = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = NULL;
        size_t el = 0;
        if (mc2_batch_encode(b[i], &e, &el, &err)) abort();
        uint8_t *g = realloc(re, rl + 8 + el);
        if (!g) abort();
        re = g;
        uint32_t rows = (uint32_t)b[i]->nrows, len = (uint32_t)el;
        for (int k = 0; k < 4; k++) {
            re[rl + k] = (uint8_t)(rows >> (8 * k));
            re[rl + 4 + k] = (uint8_t)(len >> (8 * k));
        }
        memcpy(re + rl + 8, e, el);
        rl += 8 + el;
        mc2_free(e);
    }
    if (mc2_dist_decode(s, re, rl, 1, &b2, &n2, &err) != 0 || n2 != n) abort();
    for (size_t i = 0; i < n; i++) {
        uint8_t *e1 = NULL, *e2 = NULL;
        size_t l1 = 0, l2 = 0;
        if (mc2_batch_encode(b[i], &e1, &l1, &err) || mc2_batch_encode(b2[i], &e2, &l2, &err) ||
            l1 != l2 || memcmp(e1, e2, l1) != 0)
            abort();
        mc2_free(e1);
        mc2_free(e2);
    }
    free(re);
    free_all(b, n);
    free_all(b2, n2);
    return 0;
}
