/* test_fl.c - the fl module without a service: the round params parser (one clear error per
 * bad param), the update encoding (round trip, every truncation refused, signature over the
 * exact bytes), the aggregator (exact weighted mean, weight cap, clipping, noise sigma,
 * epsilon), the model format and its sealing, and .npy files. */
#include <math.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/fl.h"
#include "test.h"

/* A fedavg job with params "k=v" pairs (NULL-terminated). */
static void job(mc2_job *j, const char *const *kv)
{
    mc2_err err;
    memset(j, 0, sizeof *j);
    strcpy(j->kind, "fedavg");
    for (size_t i = 0; kv[i]; i += 2)
        if (mc2_job_add_param(j, kv[i], kv[i + 1], &err)) {
            fprintf(stderr, "add_param %s: %s\n", kv[i], err.msg);
            exit(1);
        }
}

/* Parses the base params plus (key, value); returns the error message or "" if it parsed. */
static const char *parse_with(const char *key, const char *value, mc2_fl_round *r)
{
    static mc2_err err;
    const char *kv[] = {"participants", "a,b,c", "tensors", "w:30x1,b:1", "round", "1", "k", "2",
                        NULL,           NULL,    NULL};
    bool replaced = false;
    for (size_t i = 0; key && i < 8; i += 2)
        if (strcmp(kv[i], key) == 0) {
            kv[i + 1] = value;
            replaced = true;
        }
    if (key && !replaced) {
        kv[8] = key;
        kv[9] = value;
    }
    mc2_job j;
    job(&j, kv);
    int rc = mc2_fl_round_from_job(&j, r, &err);
    mc2_job_free(&j);
    return rc ? err.msg : "";
}

static void test_params(void)
{
    mc2_fl_round r;
    CHECK(strcmp(parse_with(NULL, NULL, &r), "") == 0);
    CHECK(r.nparts == 3 && r.k == 2 && r.round == 1 && r.deadline_s == 600 && r.server_lr == 1);
    CHECK(r.shape.ntensors == 2 && r.shape.nvalues == 31 && r.shape.t[1].off == 30);
    CHECK(r.max_weight == 1000 && r.delta == 1e-5 && r.masks == MC2_FL_MASKS_OFF && !r.has_base);
    char t[256];
    mc2_fl_shape_format(&r.shape, t, sizeof t);
    CHECK(strcmp(t, "w:30x1,b:1") == 0);
    static const struct {
        const char *k, *v, *msg;
    } BAD[] = {
        {"k", "4", "'k' must be a whole number from 1 to 3"},
        {"k", "0", "'k' must be"},
        {"round", "0", "'round' must be a whole number from 1"},
        {"round", "01", "'round' must be"},
        {"deadline_s", "-1", "'deadline_s' must be a whole number from 1 to 604800"},
        {"base_job", "x", "'base_job' must be"},
        {"server_lr", "0", "'server_lr' must be a number above 0"},
        {"server_lr", "nan", "'server_lr' must be"},
        {"clip_norm", "-1", "'clip_norm' must be a number from 0"},
        {"noise_multiplier", "1", "'noise_multiplier' needs 'clip_norm' > 0"},
        {"delta", "1", "'delta' must be below 1"},
        {"delta", "0", "'delta' must be a number above 0"},
        {"max_weight", "0", "'max_weight' must be a whole number from 1"},
        {"masks", "on", "'masks' must be off or secagg"},
        {"mask_threshold", "2", "'mask_threshold' applies to masked rounds only"},
        {"clipping_range", "8", "'clipping_range' applies to masked rounds only"},
        {"learning_rate", "1", "fedavg takes no parameter 'learning_rate' (known: participants"},
        {"tensors", "w:0", "tensor 'w': each dim is a whole number from 1"},
        {"tensors", "W:3", "tensor names use only [a-z0-9_]"},
        {"tensors", "w:3,w:2", "tensor 'w' is named twice"},
        {"tensors", "w:2x2x2x2x2", "has more than 4 dims"},
        {"tensors", "w:4096x4097", "has more than 16777216 values"},
        {"tensors", "w:3,", "each entry is NAME:D1xD2"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const char *m = parse_with(BAD[i].k, BAD[i].v, &r);
        CHECK_MSG(strstr(m, BAD[i].msg), "%s=%s: got '%s'", BAD[i].k, BAD[i].v, m);
    }
    const char *ok = parse_with("masks", "secagg", &r);
    CHECK_MSG(*ok == 0 && r.mask_threshold == 2 && r.clipping_range == 8.0 &&
                  r.quantization_range == 4194304,
              "%s", ok);
    mc2_err err;
    mc2_job j;
    job(&j,
        (const char *const[]){"participants", "a", "tensors", "w:1", "round", "1", "k", "1", NULL});
    CHECK(mc2_fl_round_from_job(&j, &r, &err) != 0 && strstr(err.msg, "at least 2 parties"));
    mc2_job_free(&j);
    job(&j, (const char *const[]){"participants", "a,b,a", "tensors", "w:1", "round", "1", "k", "1",
                                  NULL});
    CHECK(mc2_fl_round_from_job(&j, &r, &err) != 0 && strstr(err.msg, "names a twice"));
    mc2_job_free(&j);
    {
        /* a masked round of 61 participants: more than the enclave's sessions allow */
        static char names[61 * 4 + 1];
        size_t l = 0;
        for (int i = 0; i < 61; i++) l += (size_t)sprintf(names + l, "%sp%d", i ? "," : "", i);
        job(&j, (const char *const[]){"participants", names, "tensors", "w:1", "round", "1", "k",
                                      "1", "masks", "secagg", NULL});
        CHECK(mc2_fl_round_from_job(&j, &r, &err) != 0 &&
              strstr(err.msg, "a masked round takes at most 60 participants"));
        mc2_job_free(&j);
    }
    job(&j, (const char *const[]){"participants", "a,b", "round", "1", "k", "1", NULL});
    CHECK(mc2_fl_round_from_job(&j, &r, &err) != 0 &&
          strstr(err.msg, "needs the parameter 'tensors'"));
    mc2_job_free(&j);
}

static void test_update(void)
{
    mc2_err err;
    uint8_t sha[32], pub[32], sec[32], sig[64];
    for (int i = 0; i < 32; i++) sha[i] = (uint8_t)i;
    const float v[3] = {1.5f, -2.0f, 0.25f};
    mc2_buf b = {0};
    CHECK(mc2_fl_update_encode(sha, 7, "bank-a", 42, MC2_FL_FORM_FLOAT32, v, 3, &b, &err) == 0);
    CHECK(b.len == mc2_fl_update_size(6, 3));
    mc2_fl_update u;
    CHECK(mc2_fl_update_decode(b.data, b.len, &u, &err) == 0);
    CHECK(u.round == 7 && u.weight == 42 && strcmp(u.party, "bank-a") == 0 && u.nvalues == 3);
    CHECK(memcmp(u.job_sha256, sha, 32) == 0 && mc2_le32_get(u.values + 4) == 0xc0000000u);
    for (size_t n = 0; n < b.len; n++)
        CHECK_MSG(mc2_fl_update_decode(b.data, n, &u, &err) != 0 && err.code == MC2_E_INPUT,
                  "truncated to %zu", n);
    CHECK(mc2_buf_append(&b, "x", 1, &err) == 0);
    CHECK(mc2_fl_update_decode(b.data, b.len, &u, &err) != 0);
    b.len--;
    b.data[8 + 32 + 4 + 4 + 6 + 8] = 2; /* form */
    CHECK(mc2_fl_update_decode(b.data, b.len, &u, &err) != 0 && strstr(err.msg, "unknown form"));
    b.data[8 + 32 + 4 + 4 + 6 + 8] = 0;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_fl_update_sign(sec, b.data, b.len, sig, &err) == 0);
    CHECK(mc2_fl_update_verify(pub, b.data, b.len, sig, &err) == 0);
    b.data[b.len - 1] ^= 1;
    CHECK(mc2_fl_update_verify(pub, b.data, b.len, sig, &err) != 0);
    mc2_buf_free(&b);
}

static mc2_fl_round round_of(const char *tensors, const char *const *extra)
{
    mc2_fl_round r;
    mc2_err err;
    const char *kv[32] = {"participants", "a,b,c", "tensors", tensors, "round", "1", "k", "1"};
    size_t n = 8;
    for (size_t i = 0; extra && extra[i]; i++) kv[n++] = extra[i];
    kv[n] = NULL;
    mc2_job j;
    job(&j, kv);
    if (mc2_fl_round_from_job(&j, &r, &err)) {
        fprintf(stderr, "round: %s\n", err.msg);
        exit(1);
    }
    mc2_job_free(&j);
    return r;
}

static void test_agg(void)
{
    mc2_err err;
    mc2_fl_report rep;
    mc2_fl_agg *a;
    float out[4];
    /* weighted mean, the weight cap, server_lr and a base */
    mc2_fl_round r =
        round_of("v:4", (const char *const[]){"max_weight", "5", "server_lr", "0.5", NULL});
    const float u1[4] = {1, 2, 3, 4}, u2[4] = {-1, 0, 1, 2}, base[4] = {10, 10, 10, 10};
    CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
    CHECK(mc2_fl_agg_finish(a, NULL, out, &rep, &err) != 0 && strstr(err.msg, "no update"));
    CHECK(mc2_fl_agg_add(a, 0, u1, &err) != 0);
    CHECK(mc2_fl_agg_add(a, 3, u1, &err) == 0 && mc2_fl_agg_add(a, 100, u2, &err) == 0);
    CHECK(mc2_fl_agg_finish(a, base, out, &rep, &err) == 0);
    for (int i = 0; i < 4; i++) {
        float want = (float)(10.0 + 0.5 * (3.0 * u1[i] + 5.0 * u2[i]) / 8.0);
        CHECK_MSG(out[i] == want, "%d: %g %g", i, out[i], want);
    }
    CHECK(rep.contributors == 2 && rep.total_weight == 8 && rep.sigma == 0 && isinf(rep.epsilon));
    const float nan_u[4] = {0, NAN, 0, 0};
    CHECK(mc2_fl_agg_add(a, 1, nan_u, &err) != 0 && strstr(err.msg, "not a finite number"));
    mc2_fl_agg_free(a);
    /* clipping: norm 5 clipped to 1; norm 0.5 kept */
    r = round_of("v:2", (const char *const[]){"clip_norm", "1", NULL});
    const float big[2] = {3, 4}, small[2] = {0.3f, 0.4f};
    CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
    uint8_t le[8];
    memcpy(le, big, 8); /* little-endian hosts */
    CHECK(mc2_fl_agg_add_le(a, 1, le, &err) == 0 && mc2_fl_agg_add(a, 1, small, &err) == 0);
    CHECK(mc2_fl_agg_finish(a, NULL, out, &rep, &err) == 0);
    CHECK_MSG(fabsf(out[0] - 0.45f) < 1e-7f && fabsf(out[1] - 0.6f) < 1e-7f, "%g %g", out[0],
              out[1]);
    mc2_fl_agg_free(a);
    /* noise: sigma = z * clip * max_weight on the sum */
    r = round_of("v:100x100", (const char *const[]){"clip_norm", "2", "noise_multiplier", "1.5",
                                                    "max_weight", "3", "delta", "1e-6", NULL});
    float *z = mc2_calloc(10000, sizeof *z), *o = mc2_calloc(10000, sizeof *o);
    CHECK(mc2_fl_agg_new(&r, &a, &err) == 0 && mc2_fl_agg_add(a, 1, z, &err) == 0);
    CHECK(mc2_fl_agg_finish(a, NULL, o, &rep, &err) == 0);
    double s = 0, s2 = 0;
    for (int i = 0; i < 10000; i++) {
        s += o[i];
        s2 += (double)o[i] * o[i];
    }
    double sd = sqrt(s2 / 10000 - (s / 10000) * (s / 10000));
    CHECK_MSG(rep.sigma == 9.0 && fabs(sd - 9.0) < 0.4, "sigma %g, sd %g", rep.sigma, sd);
    CHECK(fabs(rep.epsilon - sqrt(2 * log(1.25 / 1e-6)) / 1.5) < 1e-12 && rep.delta == 1e-6);
    CHECK(isinf(mc2_fl_epsilon(0, 1e-5)));
    mc2_fl_agg_free(a);
    mc2_free(z);
    mc2_free(o);
    /* masked sums wrap mod 2^32 */
    r = round_of("v:2", NULL);
    CHECK(mc2_fl_agg_new(&r, &a, &err) == 0);
    uint8_t y[12];
    mc2_le32_put(y, 0xffffffffu), mc2_le32_put(y + 4, 5), mc2_le32_put(y + 8, 7);
    CHECK(mc2_fl_agg_add_masked_le(a, y, &err) == 0 && mc2_fl_agg_add_masked_le(a, y, &err) == 0);
    size_t n;
    uint32_t count, *ms = mc2_fl_agg_masked_sum(a, &n, &count);
    CHECK(n == 3 && count == 2 && ms[0] == 0xfffffffeu && ms[1] == 10 && ms[2] == 14);
    mc2_fl_agg_free(a);
}

static void test_model_and_npy(void)
{
    mc2_err err;
    mc2_fl_shape sh;
    CHECK(mc2_fl_shape_parse("w:2x2,b:1", &sh, &err) == 0);
    const float v[5] = {1, 2, 3, 4, -5};
    mc2_fl_report rep = {.round = 4,
                         .contributors = 3,
                         .total_weight = 9,
                         .sigma = 0.5,
                         .epsilon = 2.5,
                         .delta = 1e-5};
    mc2_buf enc = {0}, sealed = {0}, plain = {0};
    uint8_t key[32] = {1};
    CHECK(mc2_fl_model_encode(&sh, v, &rep, &enc, &err) == 0);
    CHECK(mc2_fl_seal(key, enc.data, enc.len, &sealed, &err) == 0);
    CHECK(mc2_fl_open(key, sealed.data, sealed.len, &plain, &err) == 0);
    mc2_fl_model m;
    CHECK(mc2_fl_model_decode(plain.data, plain.len, &m, &err) == 0);
    CHECK(m.rep.round == 4 && m.rep.contributors == 3 && m.rep.epsilon == 2.5 &&
          m.shape.nvalues == 5 && memcmp(m.values, v, sizeof v) == 0);
    mc2_fl_model_free(&m);
    sealed.data[30] ^= 1;
    CHECK(mc2_fl_open(key, sealed.data, sealed.len, &plain, &err) != 0 && err.code == MC2_E_AUTH);
    for (size_t n = 0; n < enc.len; n++)
        CHECK(mc2_fl_model_decode(enc.data, n, &m, &err) != 0 && m.values == NULL);
    /* .npy round trip; float64 input; refusals */
    mc2_buf f = {0};
    const uint64_t dims[2] = {2, 2};
    CHECK(mc2_npy_format(v, dims, 2, &f, &err) == 0 && (f.len - 16) % 16 == 0);
    CHECK(memcmp(f.data + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 59) ==
          0);
    mc2_npy a;
    CHECK(mc2_npy_parse(f.data, f.len, &a, &err) == 0);
    CHECK(a.ndims == 2 && a.n == 4 && memcmp(a.values, v, 16) == 0);
    mc2_npy_free(&a);
    CHECK(mc2_npy_parse(f.data, f.len - 1, &a, &err) != 0 && strstr(err.msg, "bytes of data"));
    const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n";
    mc2_buf g = {0};
    double d = -0.75;
    CHECK(mc2_buf_append(&g, "\x93NUMPY\x01\x00", 8, &err) == 0 &&
          mc2_buf_put_u16(&g, sizeof dict - 1, &err) == 0);
    CHECK(mc2_buf_append(&g, dict, sizeof dict - 1, &err) == 0);
    CHECK(mc2_buf_append(&g, &d, 8, &err) == 0);
    CHECK_MSG(mc2_npy_parse(g.data, g.len, &a, &err) == 0 && a.n == 1 && a.values[0] == -0.75f,
              "%s", err.msg);
    mc2_npy_free(&a);
    g.data[21] = 'i'; /* '<i8' */
    CHECK(mc2_npy_parse(g.data, g.len, &a, &err) != 0 && strstr(err.msg, "not supported"));
    mc2_buf_free(&g);
    mc2_buf_free(&f);
    mc2_buf_free(&enc);
    mc2_buf_free(&sealed);
    mc2_buf_free(&plain);
}

int main(void)
{
    test_params();
    test_update();
    test_agg();
    test_model_and_npy();
    return test_done("test_fl");
}
