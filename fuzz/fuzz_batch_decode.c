/* fuzz_batch_decode.c - libFuzzer target: mc2_batch_decode of arbitrary bytes against a fixed
 * schema with every type, NOT NULL and nullable. What decodes must re-encode to a payload
 * that decodes again to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The schema of tests/data/schemas/alltypes.yaml (the seeds in fuzz/corpus were made with it). */
static const char schema_yaml[] = "columns:\n"
                                  "  - {name: i64, type: INT64, nullable: false}\n"
                                  "  - {name: i64_n, type: INT64}\n"
                                  "  - {name: f64, type: DOUBLE, nullable: false}\n"
                                  "  - {name: f64_n, type: DOUBLE}\n"
                                  "  - {name: dec, type: 'DECIMAL(18,4)', nullable: false}\n"
                                  "  - {name: dec_n, type: 'DECIMAL(5,5)'}\n"
                                  "  - {name: dt, type: DATE, nullable: false}\n"
                                  "  - {name: dt_n, type: DATE}\n"
                                  "  - {name: b, type: BOOL, nullable: false}\n"
                                  "  - {name: b_n, type: BOOL}\n"
                                  "  - {name: s, type: VARCHAR(12), nullable: false}\n"
                                  "  - {name: s_n, type: VARCHAR(3)}\n";

static mc2_schema *schema(void)
{
    static mc2_schema *s; /* built once per process; never freed (libFuzzer exits) */
    mc2_err err;
    if (!s && mc2_schema_parse("fuzz", schema_yaml, sizeof schema_yaml - 1, &s, &err) != 0) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mc2_schema *s = schema();
    mc2_err err;
    /* Take the row count from the payload so the fuzzer reaches past the first check. */
    size_t rows = size >= 4 ? mc2_le32_get(data) : 0;
    mc2_batch *b = mc2_batch_new(s, 4, &err);
    if (!b) abort();
    if (mc2_batch_decode(b, data, size, rows, &err) != 0) {
        if (b->nrows != 0) abort();
        mc2_batch_free(b);
        return 0;
    }
    uint8_t *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (mc2_batch_encode(b, &e1, &n1, &err) != 0) abort();
    mc2_batch *c = mc2_batch_new(s, 1, &err);
    if (!c || mc2_batch_decode(c, e1, n1, rows, &err) != 0) abort();
    if (mc2_batch_encode(c, &e2, &n2, &err) != 0) abort();
    if (n1 != n2 || memcmp(e1, e2, n1) != 0 || n1 > size) abort();
    mc2_free(e1);
    mc2_free(e2);
    mc2_batch_free(b);
    mc2_batch_free(c);
    return 0;
}
