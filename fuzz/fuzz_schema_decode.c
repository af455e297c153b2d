/* fuzz_schema_decode.c - libFuzzer target: mc2_schema_decode on arbitrary bytes. Whatever
 * decodes must re-encode to exactly the input (the encoding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_decode(data, size, &s, &err) != 0) {
        if (s != NULL || (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM)) abort();
        return 0;
    }
    uint8_t *e = NULL;
    size_t n = 0;
    if (mc2_schema_encode(s, &e, &n, &err) != 0) abort();
    if (n != size || memcmp(e, data, n) != 0) abort();
    uint8_t h[MC2_SHA256_LEN];
    if (mc2_schema_hash(s, h, &err) != 0) abort();
    for (size_t i = 0; i < s->ncols; i++)
        if (mc2_schema_find(s, s->cols[i].name) != (long)i) abort();
    mc2_free(e);
    mc2_schema_free(s);
    return 0;
}
