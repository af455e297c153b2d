/* fuzz_fl_update.c - libFuzzer target: mc2_fl_update_decode (a client's fedavg update, the
 * bytes a participant sends the enclave) and mc2_fl_model_decode (the released model) on
 * arbitrary bytes. Whatever decodes must re-encode to exactly the input (both formats are
 * canonical), and a decoded update's values must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fl/fl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_err err;
    mc2_fl_update u;
    mc2_buf b = {0};
    if (mc2_fl_update_decode(data, size, &u, &err) == 0) {
        if (u.values < data || u.values + u.nvalues * 4 != data + size) abort();
        float *v = malloc((size_t)u.nvalues * 4);
        if (!v) abort();
        memcpy(v, u.values, (size_t)u.nvalues * 4); /* LE on the platforms mc2 runs on */
        if (mc2_fl_update_encode(u.job_sha256, u.round, u.party, u.weight, u.form, v, u.nvalues, &b,
                                 &err) ||
            b.len != size || memcmp(b.data, data, size) != 0)
            abort();
        free(v);
    } else if (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM) {
        abort();
    }
    mc2_fl_model m;
    if (mc2_fl_model_decode(data, size, &m, &err) == 0) {
        if (mc2_fl_model_encode(&m.shape, m.values, &m.rep, &b, &err)) abort();
        /* canonical except the tensors text (re-formatted): same length and values */
        if (b.len != size || memcmp(b.data + b.len - m.shape.nvalues * 4,
                                    data + size - m.shape.nvalues * 4, m.shape.nvalues * 4) != 0)
            abort();
        mc2_fl_model_free(&m);
    } else if (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM && err.code != MC2_E_LIMIT) {
        abort();
    }
    mc2_buf_free(&b);
    return 0;
}
