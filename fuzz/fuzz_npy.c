/* fuzz_npy.c - libFuzzer target: mc2_npy_parse (.npy files `mc2 fl round submit` reads) on
 * arbitrary bytes. Whatever parses must hold exactly the shape's values, and writing it back
 * as '<f4' must parse again to the same shape and values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fl/fl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_err err;
    mc2_npy a, r;
    if (mc2_npy_parse(data, size, &a, &err) != 0) {
        if (a.values != NULL ||
            (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM && err.code != MC2_E_LIMIT))
            abort();
        return 0;
    }
    uint64_t n = 1;
    for (uint32_t i = 0; i < a.ndims; i++) n *= a.dims[i];
    if (n != a.n || a.n > MC2_FL_MAX_VALUES) abort();
    mc2_buf b = {0};
    if (mc2_npy_format(a.values, a.dims, a.ndims, &b, &err) ||
        mc2_npy_parse(b.data, b.len, &r, &err))
        abort();
    if (r.n != a.n || r.ndims != a.ndims || memcmp(r.dims, a.dims, sizeof a.dims) != 0 ||
        (a.n && memcmp(r.values, a.values, (size_t)a.n * 4) != 0))
        abort();
    mc2_npy_free(&a);
    mc2_npy_free(&r);
    mc2_buf_free(&b);
    return 0;
}
