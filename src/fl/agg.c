/* agg.c - the aggregator (fl.h): weighted sum of clipped updates in double, Gaussian noise
 * from the CSPRNG on the sum, the new model, and the stated DP accounting. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/fl.h"

struct mc2_fl_agg {
    mc2_fl_round r;
    double *sum;    /* S: nvalues */
    double w;       /* W */
    uint32_t count; /* contributors */
    uint32_t *msum; /* masked rounds: nvalues + 1, mod 2^32 */
    uint32_t mcount;
    uint64_t ns; /* time spent in the adds so far (agg_ms) */
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int mc2_fl_agg_new(const mc2_fl_round *r, mc2_fl_agg **out, mc2_err *err)
{
    *out = NULL;
    mc2_fl_agg *a = mc2_calloc(1, sizeof *a);
    if (!a) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    a->r = *r;
    if (r->shape.nvalues == 0 || r->shape.nvalues > MC2_FL_MAX_VALUES ||
        !(a->sum = mc2_calloc((size_t)r->shape.nvalues, sizeof *a->sum))) {
        mc2_free(a);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for the aggregate of %llu values",
                           (unsigned long long)r->shape.nvalues);
    }
    *out = a;
    return 0;
}

/* Value i of an update given as host floats f, else as little-endian bytes le. */
static inline float value_at(const float *f, const uint8_t *le, size_t i)
{
    if (f) return f[i];
    uint32_t b = mc2_le32_get(le + i * 4);
    float x;
    memcpy(&x, &b, 4);
    return x;
}

/* Folds one update into the sum. Two passes over the update: the first refuses a NaN or
 * infinity (exponent bits all ones: an integer test that vectorises) and, only when the
 * round clips, computes the L2 norm (four partial sums, so the additions do not wait on each
 * other); the second adds w * scale * u to the sum. */
static int add_common(mc2_fl_agg *a, uint64_t weight, const float *f, const uint8_t *le,
                      mc2_err *err)
{
    size_t n = (size_t)a->r.shape.nvalues;
    if (weight == 0) return mc2_err_set(err, MC2_E_INPUT, "an update's weight must be at least 1");
    if (a->count == UINT32_MAX) return mc2_err_set(err, MC2_E_LIMIT, "too many updates");
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        if (f)
            memcpy(&b, &f[i], 4);
        else
            b = mc2_le32_get(le + i * 4);
        bad |= (b & 0x7f800000u) == 0x7f800000u;
    }
    if (bad)
        return mc2_err_set(err, MC2_E_INPUT,
                           "the update holds a value that is not a finite number (NaN or "
                           "infinity)");
    double w = (double)(weight < a->r.max_weight ? weight : a->r.max_weight);
    double scale = 1;
    if (a->r.clip_norm > 0) {
        double p[4] = {0, 0, 0, 0};
        size_t i = 0;
        for (; i + 4 <= n; i += 4)
            for (size_t k = 0; k < 4; k++) {
                double x = (double)value_at(f, le, i + k);
                p[k] += x * x;
            }
        for (; i < n; i++) {
            double x = (double)value_at(f, le, i);
            p[0] += x * x;
        }
        double norm = sqrt((p[0] + p[1]) + (p[2] + p[3]));
        if (norm > a->r.clip_norm) scale = a->r.clip_norm / norm;
    }
    double m = w * scale;
    for (size_t i = 0; i < n; i++) a->sum[i] += m * (double)value_at(f, le, i);
    a->w += w;
    a->count++;
    return 0;
}

int mc2_fl_agg_add(mc2_fl_agg *a, uint64_t weight, const float *u, mc2_err *err)
{
    uint64_t t0 = now_ns();
    int rc = add_common(a, weight, u, NULL, err);
    a->ns += now_ns() - t0;
    return rc;
}

int mc2_fl_agg_add_le(mc2_fl_agg *a, uint64_t weight, const uint8_t *le, mc2_err *err)
{
    uint64_t t0 = now_ns();
    int rc = add_common(a, weight, NULL, le, err);
    a->ns += now_ns() - t0;
    return rc;
}

int mc2_fl_agg_add_masked_le(mc2_fl_agg *a, const uint8_t *le, mc2_err *err)
{
    size_t n = (size_t)a->r.shape.nvalues + 1;
    if (!a->msum && !(a->msum = mc2_calloc(n, sizeof *a->msum)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) a->msum[i] += mc2_le32_get(le + i * 4);
    a->mcount++;
    a->ns += now_ns() - t0;
    return 0;
}

uint32_t *mc2_fl_agg_masked_sum(mc2_fl_agg *a, size_t *n, uint32_t *count)
{
    *n = a->msum ? (size_t)a->r.shape.nvalues + 1 : 0;
    *count = a->mcount;
    return a->msum;
}

int mc2_fl_agg_add_sum(mc2_fl_agg *a, const double *s, double w, uint32_t count, mc2_err *err)
{
    if (!(w > 0) || !isfinite(w) || count == 0 || count > UINT32_MAX - a->count)
        return mc2_err_set(err, MC2_E_INPUT, "an aggregate sum needs a weight above 0");
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < (size_t)a->r.shape.nvalues; i++) a->sum[i] += s[i];
    a->ns += now_ns() - t0;
    a->w += w;
    a->count += count;
    return 0;
}

uint32_t mc2_fl_agg_count(const mc2_fl_agg *a)
{
    return a->count;
}

double mc2_fl_epsilon(double z, double delta)
{
    if (!(z > 0) || !(delta > 0) || !(delta < 1)) return INFINITY;
    return sqrt(2 * log(1.25 / delta)) / z;
}

/* A uniform double in [0, 1) from 53 random bits. */
static double unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

int mc2_fl_gauss(double *out, size_t n, double sigma, mc2_err *err)
{
    uint64_t rnd[512];
    size_t have = 0, used = 0;
    for (size_t i = 0; i < n; i += 2) {
        if (used + 2 > have) {
            if (mc2_random(rnd, sizeof rnd, err)) return -1;
            have = sizeof rnd / sizeof rnd[0];
            used = 0;
        }
        double u1 = 1.0 - unit(rnd[used++]); /* (0, 1]: log is finite */
        double u2 = unit(rnd[used++]);
        double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
        out[i] = sigma * rad * cos(th);
        if (i + 1 < n) out[i + 1] = sigma * rad * sin(th);
    }
    mc2_wipe(rnd, sizeof rnd);
    return 0;
}

int mc2_fl_agg_finish(mc2_fl_agg *a, const float *base, float *out, mc2_fl_report *rep,
                      mc2_err *err)
{
    size_t n = (size_t)a->r.shape.nvalues;
    uint64_t t0 = now_ns();
    memset(rep, 0, sizeof *rep);
    if (a->count == 0 || !(a->w > 0))
        return mc2_err_set(err, MC2_E_INPUT, "no update was aggregated: no model to release");
    double sigma = a->r.noise_multiplier > 0
                       ? a->r.noise_multiplier * a->r.clip_norm * (double)a->r.max_weight
                       : 0;
    double noise[256];
    for (size_t at = 0; at < n; at += 256) {
        size_t m = n - at < 256 ? n - at : 256;
        if (sigma > 0 && mc2_fl_gauss(noise, m, sigma, err)) return -1;
        for (size_t i = 0; i < m; i++) {
            double s = a->sum[at + i] + (sigma > 0 ? noise[i] : 0);
            double v = (base ? (double)base[at + i] : 0) + a->r.server_lr * s / a->w;
            if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "the new model has a value beyond float32's range (value %zu)",
                                   at + i);
            out[at + i] = (float)v;
        }
    }
    mc2_wipe(noise, sizeof noise);
    rep->round = a->r.round;
    rep->contributors = a->count;
    rep->total_weight = a->w;
    rep->sigma = sigma;
    rep->epsilon = mc2_fl_epsilon(a->r.noise_multiplier, a->r.delta);
    rep->delta = a->r.delta;
    rep->agg_ms = (double)(a->ns + (now_ns() - t0)) / 1e6;
    return 0;
}

void mc2_fl_agg_free(mc2_fl_agg *a)
{
    if (!a) return;
    if (a->sum) {
        mc2_wipe(a->sum, (size_t)a->r.shape.nvalues * sizeof *a->sum);
        mc2_free(a->sum);
    }
    if (a->msum) {
        mc2_wipe(a->msum, ((size_t)a->r.shape.nvalues + 1) * sizeof *a->msum);
        mc2_free(a->msum);
    }
    mc2_free(a);
}
