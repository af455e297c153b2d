/* test_fl_agg.c - the fedavg aggregator's per-update checks (src/fl/agg.c): every NaN and
 * infinity is refused wherever it sits (an exponent-bits test, as float32 and as LE bytes)
 * while the largest finite and subnormal values pass; clipping scales an update to
 * clip_norm exactly when its L2 norm exceeds it (the norm from four partial sums, any
 * length); weights are capped at max_weight; agg_ms is reported; parameter ranges whose
 * upper bound is below a digit do not wrap (k = 3 of 2 participants). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/fl.h"
#include "mc2/job.h"
#include "test.h"

static mc2_fl_round round_of(const char *tensors, double clip, uint64_t max_weight)
{
    mc2_fl_round r;
    memset(&r, 0, sizeof r);
    mc2_err err;
    CHECK(mc2_fl_shape_parse(tensors, &r.shape, &err) == 0);
    r.round = 1;
    r.k = 1;
    r.nparts = 2;
    r.server_lr = 1;
    r.delta = 1e-5;
    r.clip_norm = clip;
    r.max_weight = max_weight;
    return r;
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

int main(void)
{
    mc2_err err;
    /* Non-finite values anywhere, in both entry points; finite extremes pass. */
    const uint32_t bad[] = {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u, 0x7f800001u};
    const uint32_t good[] = {0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x80000000u, 0x3f800000u};
    for (size_t n = 1; n <= 9; n++) {
        char t[32];
        snprintf(t, sizeof t, "v:%zu", n);
        mc2_fl_round r = round_of(t, 0, 1000);
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
                float u[9] = {0};
                uint8_t le[36] = {0};
                u[at] = from_bits(bad[k]);
                mc2_le32_put(le + at * 4, bad[k]);
                mc2_fl_agg *a;
                CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
                CHECK_MSG(mc2_fl_agg_add(a, 1, u, &err) != 0 && err.code == MC2_E_INPUT,
                          "non-finite %08x at %zu of %zu accepted", bad[k], at, n);
                CHECK(strstr(err.msg, "not a finite number") != NULL);
                CHECK(mc2_fl_agg_add_le(a, 1, le, &err) != 0 && err.code == MC2_E_INPUT);
                CHECK(mc2_fl_agg_count(a) == 0);
                mc2_fl_agg_free(a);
            }
        }
        mc2_fl_agg *a;
        CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
        float u[9];
        for (size_t i = 0; i < n; i++) u[i] = from_bits(good[i % 5]);
        CHECK_MSG(mc2_fl_agg_add(a, 1, u, &err) == 0, "%s", err.msg);
        mc2_fl_agg_free(a);
    }

    /* Clipping: an update of norm 5 (3, 4 spread over a 7-value vector) clipped to 1 adds
     * u / 5; one of norm below the bound is added unchanged. Weights capped at 10. */
    mc2_fl_round r = round_of("v:7", 1.0, 10);
    mc2_fl_agg *a;
    CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
    float big[7] = {0, 3, 0, 0, 0, 0, 4}, small[7] = {0.1f, 0, 0, 0, 0, 0.2f, 0};
    CHECK(mc2_fl_agg_add(a, 1000, big, &err) == 0); /* weight 10 after the cap */
    CHECK(mc2_fl_agg_add(a, 10, small, &err) == 0);
    float out[7];
    mc2_fl_report rep;
    CHECK_MSG(mc2_fl_agg_finish(a, NULL, out, &rep, &err) == 0, "%s", err.msg);
    CHECK(rep.contributors == 2 && rep.total_weight == 20);
    CHECK(rep.agg_ms >= 0 && rep.agg_ms < 10000);
    for (size_t i = 0; i < 7; i++) {
        double want = (10 * (double)big[i] / 5 + 10 * (double)small[i]) / 20;
        CHECK_MSG(fabs((double)out[i] - want) < 1e-7, "value %zu: %g, want %g", i, (double)out[i],
                  want);
    }
    mc2_fl_agg_free(a);

    /* An integer param whose upper bound is below a digit: k = 3 of 2 participants. */
    mc2_job j;
    memset(&j, 0, sizeof j);
    CHECK(mc2_job_add_param(&j, "participants", "a,b", &err) == 0 &&
          mc2_job_add_param(&j, "tensors", "w:2", &err) == 0 &&
          mc2_job_add_param(&j, "round", "1", &err) == 0 &&
          mc2_job_add_param(&j, "k", "3", &err) == 0);
    mc2_fl_round jr;
    CHECK(mc2_fl_round_from_job(&j, &jr, &err) != 0);
    CHECK(strstr(err.msg, "'k'") != NULL);
    mc2_job_free(&j);
    return test_done("test_fl_agg");
}
