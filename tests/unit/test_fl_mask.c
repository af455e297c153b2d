/* test_fl_mask.c - the building blocks of masked federated rounds (fl/mask.h): GF(2^8)
 * arithmetic, Shamir split/combine (every t-subset, too few shares, bad x), PRG masks that
 * cancel pairwise, pairwise agreement, quantisation error bounds, share encryption bound to
 * round, sender and recipient. */
#include "test.h"

#include <math.h>
#include <stdint.h>

#include "fl/mask.h"
#include "mc2/crypto.h"

static void test_gf256(void)
{
    /* FIPS-197 section 4.2: {57} * {83} = {c1}, {57} * {13} = {fe} */
    CHECK(mc2_gf256_mul(0x57, 0x83) == 0xc1);
    CHECK(mc2_gf256_mul(0x57, 0x13) == 0xfe);
    CHECK(mc2_gf256_mul(0x57, 0x02) == 0xae);
    CHECK(mc2_gf256_mul(0, 0x99) == 0 && mc2_gf256_mul(0x99, 1) == 0x99);
    CHECK(mc2_gf256_inv(0) == 0);
    CHECK(mc2_gf256_inv(1) == 1);
    CHECK(mc2_gf256_inv(0x53) == 0xca); /* the AES S-box's worked example */
    int all_inverse = 1, commutes = 1;
    for (unsigned a = 1; a < 256; a++) {
        if (mc2_gf256_mul((uint8_t)a, mc2_gf256_inv((uint8_t)a)) != 1) all_inverse = 0;
        for (unsigned b = 0; b < 256; b += 17)
            if (mc2_gf256_mul((uint8_t)a, (uint8_t)b) != mc2_gf256_mul((uint8_t)b, (uint8_t)a))
                commutes = 0;
    }
    CHECK(all_inverse);
    CHECK(commutes);
}

/* Every subset of {0..n-1} with at least t members combines to the secret; every subset
 * with fewer members gives something else. */
static void test_shamir_subsets(void)
{
    mc2_err err;
    for (unsigned n = 1; n <= 6; n++) {
        for (unsigned t = 1; t <= n; t++) {
            uint8_t secret[32], xs[8], shares[8][32];
            CHECK(mc2_random(secret, sizeof secret, &err) == 0);
            for (unsigned j = 0; j < n; j++) xs[j] = (uint8_t)(j * 37 + 1); /* not 1..n only */
            CHECK(mc2_fl_shamir_split(secret, t, xs, n, shares, &err) == 0);
            int ok_full = 1, ok_short = 1;
            for (unsigned set = 1; set < (1u << n); set++) {
                uint8_t sx[8], ss[8][32], got[32];
                size_t m = 0;
                for (unsigned j = 0; j < n; j++)
                    if (set & (1u << j)) {
                        sx[m] = xs[j];
                        memcpy(ss[m], shares[j], 32);
                        m++;
                    }
                if (mc2_fl_shamir_combine(sx, (const uint8_t(*)[32])ss, m, got, &err) != 0) {
                    ok_full = ok_short = 0;
                    continue;
                }
                int same = memcmp(got, secret, 32) == 0;
                if (m >= t && !same) ok_full = 0;
                if (m < t && same) ok_short = 0;
            }
            CHECK_MSG(ok_full, "n=%u t=%u: a subset of >= t shares failed", n, t);
            CHECK_MSG(ok_short, "n=%u t=%u: a subset of < t shares gave the secret", n, t);
        }
    }
}

static void test_shamir_refusals(void)
{
    mc2_err err;
    uint8_t secret[32] = {1, 2, 3}, xs[3] = {1, 2, 3}, shares[3][32], got[32];
    CHECK(mc2_fl_shamir_split(secret, 2, xs, 3, shares, &err) == 0);
    uint8_t dup[2] = {2, 2}, zero[2] = {0, 1};
    CHECK(mc2_fl_shamir_combine(dup, (const uint8_t(*)[32])shares, 2, got, &err) == -1);
    CHECK(err.code == MC2_E_INPUT && strstr(err.msg, "same x"));
    CHECK(mc2_fl_shamir_combine(zero, (const uint8_t(*)[32])shares, 2, got, &err) == -1);
    CHECK(err.code == MC2_E_INPUT && strstr(err.msg, "x = 0"));
    CHECK(mc2_fl_shamir_combine(xs, (const uint8_t(*)[32])shares, 0, got, &err) == -1);
    /* a tampered share changes the result */
    shares[1][5] ^= 1;
    CHECK(mc2_fl_shamir_combine(xs, (const uint8_t(*)[32])shares, 2, got, &err) == 0);
    CHECK(memcmp(got, secret, 32) != 0);
}

static void test_prg(void)
{
    mc2_err err;
    enum { N = 10000 }; /* more than one keystream chunk */
    static uint32_t v[N], w[N];
    uint8_t s1[32], s2[32];
    CHECK(mc2_random(s1, 32, &err) == 0 && mc2_random(s2, 32, &err) == 0);
    for (size_t k = 0; k < N; k++) v[k] = w[k] = (uint32_t)(k * 2654435761u);
    /* +PRG(s) from one side and -PRG(s) from the other cancel, in any order */
    CHECK(mc2_fl_prg_add(s1, 1, v, N, &err) == 0);
    CHECK(mc2_fl_prg_add(s2, -1, v, N, &err) == 0);
    CHECK(memcmp(v, w, sizeof v) != 0);
    CHECK(mc2_fl_prg_add(s2, 1, v, N, &err) == 0);
    CHECK(mc2_fl_prg_add(s1, -1, v, N, &err) == 0);
    CHECK(memcmp(v, w, sizeof v) == 0);
    /* deterministic per seed, a prefix for shorter vectors, different for another seed */
    static uint32_t a[N], b[N];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    CHECK(mc2_fl_prg_add(s1, 1, a, N, &err) == 0);
    CHECK(mc2_fl_prg_add(s1, 1, b, 5, &err) == 0);
    CHECK(memcmp(a, b, 5 * sizeof a[0]) == 0 && b[5] == 0);
    memset(b, 0, sizeof b);
    CHECK(mc2_fl_prg_add(s1, 1, b, N, &err) == 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    memset(b, 0, sizeof b);
    CHECK(mc2_fl_prg_add(s2, 1, b, N, &err) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* AES-256-CTR with a zero key and IV: first block is AES_0(0) =
     * dc95c078a2408989ad48a21492842087 */
    uint8_t z[32] = {0};
    uint32_t first[4] = {0};
    CHECK(mc2_fl_prg_add(z, 1, first, 4, &err) == 0);
    CHECK(first[0] == 0x78c095dcu && first[3] == 0x87208492u);
    CHECK(mc2_fl_prg_add(z, 0, first, 4, &err) == -1);
}

/* n parties mask with a complete graph of pairwise seeds from agreement: the masks cancel in
 * the sum. */
static void test_agree_and_cancel(void)
{
    mc2_err err;
    enum { P = 4, N = 300 };
    uint8_t pk[P][32], sk[P][32], rid[32], rid2[32];
    memset(rid, 7, 32);
    memset(rid2, 8, 32);
    for (int i = 0; i < P; i++) CHECK(mc2_x25519_keygen(pk[i], sk[i], &err) == 0);
    uint8_t k01[32], k10[32], k01s[32], k01r[32];
    CHECK(mc2_fl_agree(sk[0], pk[1], rid, MC2_FL_AGREE_MASK, k01, &err) == 0);
    CHECK(mc2_fl_agree(sk[1], pk[0], rid, MC2_FL_AGREE_MASK, k10, &err) == 0);
    CHECK(memcmp(k01, k10, 32) == 0);
    CHECK(mc2_fl_agree(sk[0], pk[1], rid, MC2_FL_AGREE_SHARE, k01s, &err) == 0);
    CHECK(memcmp(k01, k01s, 32) != 0); /* purposes give independent keys */
    CHECK(mc2_fl_agree(sk[0], pk[1], rid2, MC2_FL_AGREE_MASK, k01r, &err) == 0);
    CHECK(memcmp(k01, k01r, 32) != 0); /* so do rounds */
    uint8_t lowo[32] = {0};            /* the identity point: refused */
    CHECK(mc2_fl_agree(sk[0], lowo, rid, MC2_FL_AGREE_MASK, k01, &err) == -1);

    static uint32_t y[P][N], plain[N], sum[N];
    memset(sum, 0, sizeof sum);
    memset(plain, 0, sizeof plain);
    for (int i = 0; i < P; i++) {
        for (int k = 0; k < N; k++) y[i][k] = (uint32_t)(i * 1000 + k);
        for (int k = 0; k < N; k++) plain[k] += y[i][k];
        for (int j = 0; j < P; j++) {
            if (j == i) continue;
            uint8_t s[32];
            CHECK(mc2_fl_agree(sk[i], pk[j], rid, MC2_FL_AGREE_MASK, s, &err) == 0);
            CHECK(mc2_fl_prg_add(s, j > i ? 1 : -1, y[i], N, &err) == 0);
        }
        CHECK(y[i][0] != (uint32_t)(i * 1000));
        for (int k = 0; k < N; k++) sum[k] += y[i][k];
    }
    CHECK(memcmp(sum, plain, sizeof sum) == 0);
}

static void test_quantize(void)
{
    mc2_err err;
    enum { N = 2000, COUNT = 5 };
    const double c = MC2_FL_CLIPPING_RANGE;
    const uint32_t Q = MC2_FL_QUANTIZATION_RANGE;
    static double x[COUNT][N], truth[N], got[N];
    static uint32_t q[N], s[N];
    memset(s, 0, sizeof s);
    memset(truth, 0, sizeof truth);
    for (int i = 0; i < COUNT; i++) {
        for (int k = 0; k < N; k++) {
            x[i][k] = sin(k * 0.37 + i) * (k % 7 == 0 ? 20.0 : 3.0); /* some clip */
            truth[k] += x[i][k] < -c ? -c : x[i][k] > c ? c : x[i][k];
        }
        CHECK(mc2_fl_quantize(x[i], N, c, Q, q, &err) == 0);
        int in_range = 1;
        for (int k = 0; k < N; k++) {
            if (q[k] > Q - 1) in_range = 0;
            s[k] += q[k];
        }
        CHECK(in_range);
    }
    mc2_fl_dequantize_sum(s, N, COUNT, c, Q, got);
    const double bound = COUNT * 2 * c / (Q - 1);
    double worst = 0;
    for (int k = 0; k < N; k++) worst = fmax(worst, fabs(got[k] - truth[k]));
    CHECK_MSG(worst <= bound, "worst error %g above the bound %g", worst, bound);
    CHECK(worst > 0); /* the rounding is real, so the test could fail */
    /* the ends map exactly */
    double ends[3] = {-c, c, -100};
    CHECK(mc2_fl_quantize(ends, 3, c, Q, q, &err) == 0);
    CHECK(q[0] == 0 && q[1] == Q - 1 && q[2] == 0);
    /* stochastic rounding is unbiased: the mean of many roundings of one value is close */
    double half[N];
    const double step = 2 * c / (Q - 1);
    for (int k = 0; k < N; k++) half[k] = -c + 0.25 * step;
    CHECK(mc2_fl_quantize(half, N, c, Q, q, &err) == 0);
    unsigned ups = 0;
    for (int k = 0; k < N; k++) ups += q[k];
    CHECK_MSG(ups > N / 8 && ups < N * 3 / 8, "%u of %d rounded up (expect ~1/4)", ups, N);
    double nan = NAN;
    CHECK(mc2_fl_quantize(&nan, 1, c, Q, q, &err) == -1 && err.code == MC2_E_INPUT);
    CHECK(mc2_fl_quant_ok(c, Q, 1024) && !mc2_fl_quant_ok(c, Q, 1025));
    CHECK(!mc2_fl_quant_ok(0, Q, 1) && !mc2_fl_quant_ok(c, 1, 1) && !mc2_fl_quant_ok(c, Q, 0));
}

static void test_share_encryption(void)
{
    mc2_err err;
    uint8_t key[32], rid[32], other[32], pt[64], ct[80], back[64];
    CHECK(mc2_random(key, 32, &err) == 0 && mc2_random(rid, 32, &err) == 0);
    CHECK(mc2_random(pt, 64, &err) == 0);
    memcpy(other, rid, 32);
    other[31] ^= 1;
    CHECK(mc2_fl_share_seal(key, rid, 2, 5, pt, ct, &err) == 0);
    CHECK(memcmp(ct, pt, 64) != 0);
    CHECK(mc2_fl_share_open(key, rid, 2, 5, ct, back, &err) == 0 && memcmp(back, pt, 64) == 0);
    /* another round, swapped direction, another recipient or sender: refused */
    CHECK(mc2_fl_share_open(key, other, 2, 5, ct, back, &err) == -1 && err.code == MC2_E_AUTH);
    CHECK(mc2_fl_share_open(key, rid, 5, 2, ct, back, &err) == -1 && err.code == MC2_E_AUTH);
    CHECK(strstr(err.msg, "share from participant 5 to 2") != NULL);
    CHECK(mc2_fl_share_open(key, rid, 2, 6, ct, back, &err) == -1);
    CHECK(mc2_fl_share_open(key, rid, 3, 5, ct, back, &err) == -1);
    ct[70] ^= 1;
    CHECK(mc2_fl_share_open(key, rid, 2, 5, ct, back, &err) == -1);
    static const uint8_t zero[64];
    CHECK(memcmp(back, zero, 64) == 0); /* wiped on failure */
}

/* The whole protocol in one process with the functions both ends use (the service test,
 * test_platform_fl_mask.c, runs it through a real enclave): P participants, threshold T,
 * those with drop[i] vanish after sharing; the unmasked, dequantised sum must equal the
 * weighted sum of the survivors' clipped updates within the quantisation bound. */
enum { SP = 5, ST = 3, SN = 64 };

typedef struct sim {
    uint8_t rid[32];
    uint8_t c_pk[SP][32], c_sk[SP][32], s_pk[SP][32], s_sk[SP][32], b[SP][32];
    uint8_t ct[SP][SP][80];      /* from, to */
    uint8_t held[SP][SP][64];    /* holder, of: s share | b share */
    uint8_t reveal[SP * SP][32]; /* holder * SP + of */
    uint8_t flags[SP];
    uint32_t sum[SN + 1];
    double truth[SN + 1];
} sim;

static int sim_run(sim *S, const bool *drop, int corrupt, double *out, mc2_err *err)
{
    memset(S, 0, sizeof *S);
    memset(S->rid, 0x42, 32);
    uint8_t xs[SP];
    for (int i = 0; i < SP; i++) {
        xs[i] = (uint8_t)(i + 1);
        CHECK(mc2_x25519_keygen(S->c_pk[i], S->c_sk[i], err) == 0);
        CHECK(mc2_x25519_keygen(S->s_pk[i], S->s_sk[i], err) == 0);
        CHECK(mc2_random(S->b[i], 32, err) == 0);
        S->flags[i] = MC2_FL_MF_KEYS;
    }
    for (int i = 0; i < SP; i++) { /* shares: everybody */
        uint8_t ss[SP][32], bs[SP][32], pt[64], key[32];
        CHECK(mc2_fl_shamir_split(S->s_sk[i], ST, xs, SP, ss, err) == 0);
        CHECK(mc2_fl_shamir_split(S->b[i], ST, xs, SP, bs, err) == 0);
        for (int j = 0; j < SP; j++) {
            memcpy(pt, ss[j], 32);
            memcpy(pt + 32, bs[j], 32);
            if (j == i) {
                memcpy(S->held[i][i], pt, 64);
                continue;
            }
            CHECK(mc2_fl_agree(S->c_sk[i], S->c_pk[j], S->rid, MC2_FL_AGREE_SHARE, key, err) == 0);
            CHECK(mc2_fl_share_seal(key, S->rid, (uint32_t)i, (uint32_t)j, pt, S->ct[i][j], err) ==
                  0);
        }
        S->flags[i] |= MC2_FL_MF_SHARES;
    }
    bool in_u2[SP];
    for (int i = 0; i < SP; i++) in_u2[i] = true;
    for (int i = 0; i < SP; i++) { /* masked input: survivors */
        if (drop[i]) continue;
        for (int j = 0; j < SP; j++) {
            uint8_t key[32];
            if (j == i) continue;
            CHECK(mc2_fl_agree(S->c_sk[i], S->c_pk[j], S->rid, MC2_FL_AGREE_SHARE, key, err) == 0);
            CHECK(mc2_fl_share_open(key, S->rid, (uint32_t)j, (uint32_t)i, S->ct[j][i],
                                    S->held[i][j], err) == 0);
        }
        double x[SN + 1], ratio = (double)(100 * (i + 1)) / MC2_FL_MAX_WEIGHT;
        x[0] = ratio;
        for (int k = 0; k < SN; k++) x[k + 1] = ratio * (sin(i * 3.1 + k) * 0.5 + 0.01 * k);
        for (int k = 0; k <= SN; k++) S->truth[k] += x[k];
        uint32_t y[SN + 1];
        if (mc2_fl_mask_input(x, SN + 1, MC2_FL_CLIPPING_RANGE, MC2_FL_QUANTIZATION_RANGE,
                              (size_t)i, S->b[i], S->s_sk[i], S->s_pk, in_u2, SP, S->rid, y, err))
            return -1;
        uint32_t q[SN + 1]; /* masked: y is not the quantised vector */
        CHECK(mc2_fl_quantize(x, SN + 1, MC2_FL_CLIPPING_RANGE, MC2_FL_QUANTIZATION_RANGE, q,
                              err) == 0);
        CHECK(memcmp(q, y, sizeof q) != 0);
        for (int k = 0; k <= SN; k++) S->sum[k] += y[k];
        S->flags[i] |= MC2_FL_MF_MASKED;
    }
    for (int h = 0; h < SP; h++) { /* unmask: survivors reveal */
        if (drop[h]) continue;
        for (int j = 0; j < SP; j++)
            memcpy(S->reveal[h * SP + j], S->held[h][j] + (drop[j] ? 0 : 32), 32);
        S->flags[h] |= MC2_FL_MF_UNMASK;
    }
    if (corrupt >= 0) S->reveal[corrupt][3] ^= 1;
    if (mc2_fl_unmask(S->sum, SN + 1, SP, ST, S->flags, (const uint8_t(*)[32])S->s_pk,
                      (const uint8_t(*)[32])S->reveal, S->rid, err))
        return -1;
    int survivors = 0;
    for (int i = 0; i < SP; i++) survivors += !drop[i];
    mc2_fl_dequantize_sum(S->sum, SN + 1, (size_t)survivors, MC2_FL_CLIPPING_RANGE,
                          MC2_FL_QUANTIZATION_RANGE, out);
    return survivors;
}

static void test_protocol(void)
{
    mc2_err err;
    static sim S;
    double got[SN + 1];
    const double step = 2 * MC2_FL_CLIPPING_RANGE / (MC2_FL_QUANTIZATION_RANGE - 1);
    bool none[SP] = {0}, two[SP] = {false, true, false, true, false};
    bool three[SP] = {true, true, false, true, false};
    int cnt = sim_run(&S, none, -1, got, &err);
    CHECK_MSG(cnt == SP, "%s", err.msg);
    double worst = 0;
    for (int k = 0; k <= SN; k++) worst = fmax(worst, fabs(got[k] - S.truth[k]));
    CHECK_MSG(worst <= SP * step, "no dropouts: error %g above %g", worst, SP * step);
    /* two vanish after sharing: the three survivors' sum, masks of the dropped removed */
    cnt = sim_run(&S, two, -1, got, &err);
    CHECK_MSG(cnt == 3, "%s", err.msg);
    worst = 0;
    for (int k = 0; k <= SN; k++) worst = fmax(worst, fabs(got[k] - S.truth[k]));
    CHECK_MSG(worst <= 3 * step, "two dropouts: error %g above %g", worst, 3 * step);
    CHECK(fabs(got[0] - (0.1 + 0.3 + 0.5)) <= 3 * step); /* the weights 100, 300, 500 */
    /* three vanish: two revealers are fewer than t = 3 */
    CHECK(sim_run(&S, three, -1, got, &err) == -1);
    CHECK(strstr(err.msg, "fewer than t") != NULL);
    /* a wrong share of a dropped participant's mask key is caught (holder 0, of 1) */
    CHECK(sim_run(&S, two, 0 * SP + 1, got, &err) == -1 && err.code == MC2_E_AUTH);
}

int main(void)
{
    test_gf256();
    test_shamir_subsets();
    test_shamir_refusals();
    test_prg();
    test_agree_and_cancel();
    test_quantize();
    test_share_encryption();
    test_protocol();
    return test_done("test_fl_mask");
}
