/* test_attest.c - enclave identity (sigstruct), sim evidence, verification and appraisal:
 * every way evidence can be wrong is rejected with its own reason. */
#include <string.h>

#include "mc2/attest.h"
#include "test.h"

static uint8_t platform_sec[32], platform_pub[32], signer_sec[32], signer_pub[32];
static uint8_t other_sec[32], other_pub[32];
static uint8_t meas[32], spki[44], nonce[32], policy[32];

static void fill(uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v + i);
}

/* Evidence for the default enclave bound to (spki, nonce, policy), optionally changed. */
static uint8_t *make_evidence(size_t *n, const uint8_t *psec, uint16_t product, uint16_t svn,
                              const uint8_t *bind_nonce, const uint8_t *bind_spki, int debug)
{
    mc2_claims c = {0};
    mc2_err err;
    memcpy(c.measurement, meas, 32);
    mc2_signer_id(signer_pub, c.signer);
    c.product_id = product;
    c.svn = svn;
    c.debug = debug != 0;
    CHECK(mc2_report_data(bind_spki, sizeof spki, bind_nonce, policy, c.report_data, &err) == 0);
    uint8_t *ev = NULL;
    CHECK(mc2_evidence_sim_create(&c, psec, &ev, n, &err) == 0);
    return ev;
}

static mc2_appraisal default_policy(void)
{
    mc2_appraisal p = {0};
    p.has_signer = true;
    mc2_signer_id(signer_pub, p.signer);
    p.product_id = 7;
    p.min_svn = 3;
    p.allow_simulation = true;
    return p;
}

/* Verifies and appraises; returns the first failure reason. */
static enum mc2_attest_result run(const uint8_t *ev, size_t n, const mc2_appraisal *p)
{
    const uint8_t(*keys)[32] = (const uint8_t(*)[32])platform_pub;
    mc2_verifier v = {.sim = {keys, 1}};
    mc2_claims c;
    mc2_err err;
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_evidence_verify(&v, ev, n, &c, &err);
    if (r == MC2_ATTEST_OK) {
        uint8_t want[64];
        if (mc2_report_data(spki, sizeof spki, nonce, policy, want, &err)) return -1;
        r = mc2_appraise(&c, p, want, &err);
    }
    if (r != MC2_ATTEST_OK) {
        printf("  rejected (%s): %s\n", mc2_attest_result_name(r), err.msg);
        CHECK(err.msg[0] != '\0');
    }
    return r;
}

int main(void)
{
    mc2_err err;
    CHECK(mc2_ed25519_keygen(platform_pub, platform_sec, &err) == 0);
    CHECK(mc2_ed25519_keygen(signer_pub, signer_sec, &err) == 0);
    CHECK(mc2_ed25519_keygen(other_pub, other_sec, &err) == 0);
    fill(meas, 32, 1);
    fill(spki, sizeof spki, 50);
    fill(nonce, 32, 100);
    fill(policy, 32, 150);

    /* sigstruct: sign, encode, decode, verify; tampering breaks it. */
    mc2_sigstruct ss, ss2;
    uint8_t enc[MC2_SIGSTRUCT_LEN];
    CHECK(mc2_sigstruct_sign(&ss, meas, 7, 3, signer_sec, &err) == 0);
    mc2_sigstruct_encode(&ss, enc);
    CHECK(mc2_sigstruct_decode(enc, sizeof enc, &ss2, &err) == 0);
    CHECK(mc2_sigstruct_verify(&ss2, &err) == 0);
    CHECK(memcmp(&ss, &ss2, sizeof ss) == 0);
    for (size_t i = 6; i < sizeof enc; i++) {
        uint8_t t[MC2_SIGSTRUCT_LEN];
        memcpy(t, enc, sizeof t);
        t[i] ^= 0x10;
        int ok = mc2_sigstruct_decode(t, sizeof t, &ss2, &err) == 0 &&
                 mc2_sigstruct_verify(&ss2, &err) == 0;
        CHECK_MSG(!ok, "sigstruct byte %zu flipped still verifies", i);
    }
    CHECK(mc2_sigstruct_decode(enc, sizeof enc - 1, &ss2, &err) != 0);

    mc2_appraisal pol = default_policy();
    size_t n;
    uint8_t *ev = make_evidence(&n, platform_sec, 7, 3, nonce, spki, 0);
    CHECK(run(ev, n, &pol) == MC2_ATTEST_OK);

    /* Measurement policy instead of signer policy. */
    mc2_appraisal mp = {0};
    mp.n_measurements = 2;
    fill(mp.measurements[0], 32, 9);
    memcpy(mp.measurements[1], meas, 32);
    mp.allow_simulation = true;
    CHECK(run(ev, n, &mp) == MC2_ATTEST_OK);
    printf("negative cases:\n");
    fill(mp.measurements[1], 32, 77);
    CHECK(run(ev, n, &mp) == MC2_ATTEST_MEASUREMENT);

    mc2_appraisal p2 = pol;
    mc2_signer_id(other_pub, p2.signer);
    CHECK(run(ev, n, &p2) == MC2_ATTEST_SIGNER);
    p2 = pol;
    p2.min_svn = 4;
    CHECK(run(ev, n, &p2) == MC2_ATTEST_SVN);
    p2 = pol;
    p2.product_id = 8;
    CHECK(run(ev, n, &p2) == MC2_ATTEST_PRODUCT);
    p2 = pol;
    p2.allow_simulation = false;
    CHECK(run(ev, n, &p2) == MC2_ATTEST_SIMULATION);
    mc2_appraisal empty = {0};
    empty.allow_simulation = true;
    CHECK(run(ev, n, &empty) != MC2_ATTEST_OK);

    /* Invalid signature: each byte of the signed body or the signature flipped. */
    int all_rejected = 1;
    for (size_t i = 8; i < n; i++) {
        uint8_t *t = malloc(n);
        memcpy(t, ev, n);
        t[i] ^= 0x01;
        const uint8_t(*keys)[32] = (const uint8_t(*)[32])platform_pub;
        mc2_verifier v = {.sim = {keys, 1}};
        mc2_claims c;
        enum mc2_attest_result r = mc2_evidence_verify(&v, t, n, &c, &err);
        if (r == MC2_ATTEST_OK) all_rejected = 0;
        free(t);
    }
    CHECK_MSG(all_rejected, "a flipped evidence byte was accepted");
    uint8_t *t = malloc(n);
    memcpy(t, ev, n);
    t[20] ^= 0x80; /* inside the measurement */
    CHECK(run(t, n, &pol) == MC2_ATTEST_BAD_SIGNATURE);
    free(t);

    /* Signed by a platform key we do not trust. */
    size_t n2;
    uint8_t *ev2 = make_evidence(&n2, other_sec, 7, 3, nonce, spki, 0);
    CHECK(run(ev2, n2, &pol) == MC2_ATTEST_UNTRUSTED_PLATFORM);
    free(ev2);
    /* Replayed evidence: made for an old nonce. */
    uint8_t old_nonce[32];
    fill(old_nonce, 32, 200);
    ev2 = make_evidence(&n2, platform_sec, 7, 3, old_nonce, spki, 0);
    CHECK(run(ev2, n2, &pol) == MC2_ATTEST_BINDING);
    free(ev2);
    /* Evidence bound to another key. */
    uint8_t other_spki[sizeof spki];
    fill(other_spki, sizeof other_spki, 51);
    ev2 = make_evidence(&n2, platform_sec, 7, 3, nonce, other_spki, 0);
    CHECK(run(ev2, n2, &pol) == MC2_ATTEST_BINDING);
    free(ev2);
    /* Debug enclave. */
    ev2 = make_evidence(&n2, platform_sec, 7, 3, nonce, spki, 1);
    CHECK(run(ev2, n2, &pol) == MC2_ATTEST_DEBUG);
    free(ev2);
    /* Truncated and garbled. */
    for (size_t k = 0; k < n; k += 7) CHECK(run(ev, k, &pol) == MC2_ATTEST_MALFORMED);
    CHECK(run(ev, n - 1, &pol) == MC2_ATTEST_MALFORMED);
    uint8_t garbage[240];
    fill(garbage, sizeof garbage, 3);
    CHECK(run(garbage, sizeof garbage, &pol) == MC2_ATTEST_MALFORMED);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, ev, n);
    longer[n] = 0;
    CHECK(run(longer, n + 1, &pol) == MC2_ATTEST_MALFORMED);
    free(longer);
    t = malloc(n);
    memcpy(t, ev, n);
    t[6] = 9; /* unknown format */
    CHECK(run(t, n, &pol) == MC2_ATTEST_UNKNOWN_FORMAT);
    free(t);
    free(ev);
    return test_done("test_attest");
}
