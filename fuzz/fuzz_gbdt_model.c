/* fuzz_gbdt_model.c - libFuzzer target: mc2_gbdt_model_load (format versions 1 and 2: trees,
 * feature names and types, metrics history) on arbitrary bytes. Whatever loads must predict,
 * export to JSON, give importance and depth without fault, and re-save to bytes that load to
 * the same model; a version 2 input re-saves to exactly the input (the format is canonical). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "gbdt/gbdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_err err;
    mc2_gbdt_model *m = NULL, *r = NULL;
    if (mc2_gbdt_model_load(data, size, &m, &err) != 0) {
        if (m != NULL || (err.code != MC2_E_INPUT && err.code != MC2_E_NOMEM)) abort();
        return 0;
    }
    mc2_buf b = {0}, j = {0};
    if (mc2_gbdt_model_save(m, &b, &err) != 0) abort();
    if (m->format_version == 2 && (b.len != size || memcmp(b.data, data, size) != 0)) abort();
    if (mc2_gbdt_model_load(b.data, b.len, &r, &err) != 0) abort();
    if (r->n_trees != m->n_trees || r->n_sets != m->n_sets ||
        !r->feature_names != !m->feature_names)
        abort();
    if (mc2_gbdt_model_to_json(m, &j, &err) != 0) abort();
    double *imp = mc2_calloc(m->num_feature, sizeof *imp);
    if (!imp) abort();
    for (int t = MC2_GBDT_IMP_WEIGHT; t <= MC2_GBDT_IMP_TOTAL_COVER; t++)
        mc2_gbdt_importance(m, (enum mc2_gbdt_importance)t, imp);
    uint32_t depth;
    if (mc2_gbdt_model_depth(m, &depth, &err) != 0) abort();
    /* one row of NaNs and one of zeros */
    size_t d = m->num_feature, ng = mc2_gbdt_model_ngroup(m);
    float *x = mc2_calloc(2 * d, sizeof *x), *out = mc2_calloc(2 * ng, sizeof *out);
    if (!x || !out) abort();
    for (size_t i = 0; i < d; i++) x[i] = NAN;
    if (mc2_gbdt_predict(m, x, 2, d, 1, out, &err) != 0) abort();
    mc2_free(x);
    mc2_free(out);
    mc2_free(imp);
    mc2_buf_free(&b);
    mc2_buf_free(&j);
    mc2_gbdt_model_free(r);
    mc2_gbdt_model_free(m);
    return 0;
}
