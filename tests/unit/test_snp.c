/* test_snp.c - the SEV-SNP evidence verifier against a REAL attestation report and AMD's
 * real certificate chain (tests/data/snp, origin and licence in its README): the report
 * verifies and appraises; every way it can be wrong is rejected with its own reason (chain,
 * signature, measurement, TCB, debug, migration agent, binding, malformed). */
#include <string.h>

#include "base/buf.h"
#include "base/hex.h"
#include "crypto/pki.h"
#include "mc2/attest.h"
#include "mc2/policy.h"
#include "test.h"

/* SHA-256 of each certificate's SubjectPublicKeyInfo (DER), as tests/data/snp/README.md
 * shows how to compute with openssl. */
static const uint8_t pin_milan_ark[32] = {
    0x9f, 0x05, 0x6b, 0xee, 0x44, 0x37, 0x7e, 0x29, 0x30, 0x8c, 0xb5, 0xff, 0xa8, 0x95, 0xbd, 0xfb,
    0x62, 0xd1, 0x88, 0x81, 0xfa, 0x6b, 0xed, 0x8d, 0x6f, 0x07, 0x5b, 0x02, 0x04, 0x08, 0x9c, 0xb9};
static const uint8_t pin_genoa_ark[32] = {
    0x42, 0x9a, 0x69, 0xc9, 0x42, 0x2a, 0xa2, 0x58, 0xee, 0x4d, 0x8d, 0xb5, 0xfc, 0xda, 0x9c, 0x64,
    0x70, 0xef, 0x15, 0xf8, 0xcd, 0x5a, 0x9c, 0xeb, 0xd6, 0xcb, 0xc7, 0xd9, 0x0b, 0x86, 0x38, 0x31};
static const uint8_t pin_milan_ask[32] = {
    0x42, 0x49, 0x16, 0x69, 0xcc, 0xb8, 0x51, 0xd6, 0x27, 0xea, 0x98, 0x46, 0xcd, 0x24, 0xec, 0xcb,
    0xeb, 0x7d, 0xe7, 0xc2, 0xa6, 0x27, 0x40, 0x12, 0x0f, 0xff, 0x88, 0x00, 0x1d, 0x38, 0xeb, 0xb6};

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

static blob report, vcek, milan_ask, milan_ark, genoa_ask, genoa_ark;

static blob load(const char *name)
{
    blob b = {0};
    b.p = (uint8_t *)test_read_file(test_data(name), &b.n);
    if (!b.p) {
        fprintf(stderr, "cannot read %s (MC2_TEST_DATA)\n", test_data(name));
        exit(1);
    }
    return b;
}

static blob evidence(const uint8_t *rep, blob v, blob ask, blob ark)
{
    blob e = {0};
    mc2_err err;
    CHECK(mc2_evidence_snp_encode(rep, v.p, v.n, ask.p, ask.n, ark.p, ark.n, &e.p, &e.n, &err) ==
          0);
    return e;
}

/* Verifies with the given ARK pins; prints the reason; returns the result and the message. */
static enum mc2_attest_result verify(blob e, const uint8_t (*pins)[32], size_t npins, mc2_claims *c,
                                     char *msg)
{
    mc2_verifier v = {.snp = {pins, npins}};
    mc2_err err;
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_evidence_verify(&v, e.p, e.n, c, &err);
    if (r != MC2_ATTEST_OK) printf("  rejected (%s): %s\n", mc2_attest_result_name(r), err.msg);
    if (msg) snprintf(msg, sizeof err.msg, "%s", err.msg);
    return r;
}

static enum mc2_attest_result verify_milan(blob e, char *msg)
{
    mc2_claims c;
    return verify(e, &pin_milan_ark, 1, &c, msg);
}

/* The report with byte off xor'ed with x, wrapped with the real Milan chain. */
static blob mutated(size_t off, uint8_t x)
{
    uint8_t r[MC2_SNP_REPORT_LEN];
    memcpy(r, report.p, sizeof r);
    r[off] ^= x;
    return evidence(r, vcek, milan_ask, milan_ark);
}

static mc2_appraisal good_policy(void)
{
    mc2_appraisal p = {0};
    p.n_snp_measurements = 1;
    memcpy(p.snp_measurements[0], report.p + 0x90, 48);
    p.snp_min_tcb = (mc2_snp_tcb){2, 0, 5, 0x44};
    p.allow_debug = true; /* the published report's guest policy has DEBUG set */
    return p;
}

static enum mc2_attest_result appraise(const mc2_claims *c, const mc2_appraisal *p,
                                       const uint8_t *want)
{
    mc2_err err;
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_appraise(c, p, want, &err);
    if (r != MC2_ATTEST_OK) printf("  appraisal (%s): %s\n", mc2_attest_result_name(r), err.msg);
    return r;
}

static void test_real_report(void)
{
    blob e = evidence(report.p, vcek, milan_ask, milan_ark);
    mc2_claims c;
    const uint8_t pins[2][32];
    memcpy((uint8_t *)pins[0], pin_genoa_ark, 32);
    memcpy((uint8_t *)pins[1], pin_milan_ark, 32);
    CHECK(verify(e, pins, 2, &c, NULL) == MC2_ATTEST_OK);
    CHECK(c.format == MC2_EVIDENCE_SNP && !c.simulation && c.debug);
    CHECK(c.snp.version == 2 && c.snp.vmpl == 0 && !c.snp.vlek);
    CHECK(c.snp.policy == 0xb0000);
    CHECK(c.snp.reported_tcb.bootloader == 2 && c.snp.reported_tcb.tee == 0 &&
          c.snp.reported_tcb.snp == 5 && c.snp.reported_tcb.microcode == 0x44);
    CHECK(memcmp(c.snp.measurement, report.p + 0x90, 48) == 0);
    CHECK(memcmp(c.snp.chip_id, report.p + 0x1A0, 64) == 0);
    static const uint8_t rd[5] = {1, 2, 3, 4, 5};
    CHECK(memcmp(c.report_data, rd, 5) == 0);

    mc2_appraisal p = good_policy();
    uint8_t want[64];
    memcpy(want, report.p + 0x50, 64);
    CHECK(appraise(&c, &p, want) == MC2_ATTEST_OK);

    /* Appraisal failures, each with its own reason. */
    mc2_appraisal q = good_policy();
    q.snp_measurements[0][47] ^= 1;
    CHECK(appraise(&c, &q, want) == MC2_ATTEST_MEASUREMENT); /* wrong measurement */
    q = good_policy();
    q.n_snp_measurements = 0;
    CHECK(appraise(&c, &q, want) == MC2_ATTEST_MEASUREMENT); /* a policy that names none */
    q = good_policy();
    q.allow_debug = false;
    CHECK(appraise(&c, &q, want) == MC2_ATTEST_DEBUG); /* debug on */
    mc2_snp_tcb above[4] = {{3, 0, 5, 0x44}, {2, 1, 5, 0x44}, {2, 0, 6, 0x44}, {2, 0, 5, 0x45}};
    for (int i = 0; i < 4; i++) {
        q = good_policy();
        q.snp_min_tcb = above[i];
        CHECK(appraise(&c, &q, want) == MC2_ATTEST_TCB); /* old TCB, per component */
    }
    q = good_policy();
    q.snp_min_tcb = (mc2_snp_tcb){1, 0, 4, 0x20}; /* below the report's: accepted */
    CHECK(appraise(&c, &q, want) == MC2_ATTEST_OK);
    uint8_t other[64];
    memcpy(other, want, 64);
    other[0] ^= 0x80;
    CHECK(appraise(&c, &p, other) == MC2_ATTEST_BINDING); /* other nonce */
    /* MIGRATE_MA: no published report has it, so the verified claims are edited here: this
     * tests the appraisal rule, the bit itself is covered by the report signature. */
    mc2_claims ma = c;
    ma.snp.policy |= MC2_SNP_POLICY_MIGRATE_MA;
    CHECK(appraise(&ma, &p, want) == MC2_ATTEST_MIGRATION);
    q = good_policy();
    q.allow_migration_agent = true;
    CHECK(appraise(&ma, &q, want) == MC2_ATTEST_OK);
    /* VMPL: the published report is from VMPL 0; edited claims as for MIGRATE_MA. */
    mc2_claims vm = c;
    vm.snp.vmpl = 2;
    CHECK(appraise(&vm, &p, want) == MC2_ATTEST_VMPL);
    q = good_policy();
    q.snp_max_vmpl = 2;
    CHECK(appraise(&vm, &q, want) == MC2_ATTEST_OK);
    /* A sim policy does not accept SNP claims and vice versa. */
    mc2_appraisal sim_only = {0};
    sim_only.n_measurements = 1;
    sim_only.allow_debug = true;
    CHECK(appraise(&c, &sim_only, want) == MC2_ATTEST_MEASUREMENT);
    free(e.p);
}

static void test_chain(void)
{
    char msg[256];
    mc2_claims c;
    blob e = evidence(report.p, vcek, milan_ask, milan_ark);
    /* Untrusted ARK: only Genoa's root pinned, or none at all. */
    CHECK(verify(e, &pin_genoa_ark, 1, &c, NULL) == MC2_ATTEST_UNTRUSTED_PLATFORM);
    CHECK(verify(e, NULL, 0, &c, NULL) == MC2_ATTEST_UNTRUSTED_PLATFORM);
    free(e.p);
    /* ASK not signed by the ARK: Genoa's ASK under Milan's (trusted) ARK. */
    e = evidence(report.p, vcek, genoa_ask, milan_ark);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_CHAIN && strstr(msg, "ASK is not signed"));
    free(e.p);
    /* VCEK not signed by the ASK: Milan's VCEK under Genoa's (trusted) ARK and ASK. */
    e = evidence(report.p, vcek, genoa_ask, genoa_ark);
    CHECK(verify(e, &pin_genoa_ark, 1, &c, msg) == MC2_ATTEST_BAD_CHAIN &&
          strstr(msg, "VCEK is not signed"));
    free(e.p);
    /* A pinned "ARK" that is not self-signed (the ASK in the ARK's place). */
    e = evidence(report.p, vcek, milan_ask, milan_ask);
    CHECK(verify(e, &pin_milan_ask, 1, &c, msg) == MC2_ATTEST_BAD_CHAIN &&
          strstr(msg, "ARK is not self-signed"));
    free(e.p);
    /* The ARK where the VCEK belongs: an RSA key cannot sign a report (and is not signed by
     * the ASK). */
    e = evidence(report.p, milan_ark, milan_ask, milan_ark);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_CHAIN);
    free(e.p);
    /* VCEK for another TCB or chip than the report claims (checked before the signature). */
    e = mutated(0x180 + 7, 1);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_CHAIN && strstr(msg, "another TCB"));
    free(e.p);
    e = mutated(0x1A0, 1);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_CHAIN && strstr(msg, "another chip"));
    free(e.p);
}

static void test_signature(void)
{
    char msg[256];
    /* Each signed region a verifier relies on, and the signature itself. */
    size_t offs[] = {0x90, 0x90 + 47, 0x50, 0x08, 0x38, 0xC0, 0x29F, 0x2A0, 0x2A0 + 47, 0x2E8};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        blob e = mutated(offs[i], 0x01);
        mc2_claims c;
        CHECK_MSG(verify(e, &pin_milan_ark, 1, &c, msg) == MC2_ATTEST_BAD_SIGNATURE, "byte %#zx",
                  offs[i]);
        uint8_t zero[48] = {0};
        CHECK(memcmp(c.snp.measurement, zero, 48) == 0); /* nothing unverified leaves */
        free(e.p);
    }
    /* r and s are 72-byte fields for 48-byte P-384 values: nonzero padding is rejected. */
    blob e = mutated(0x2A0 + 60, 0x01);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_SIGNATURE);
    free(e.p);
    /* A zero CHIP_ID (MASK_CHIP_ID) skips the chip match; the signature still covers it. */
    uint8_t rz[MC2_SNP_REPORT_LEN];
    memcpy(rz, report.p, sizeof rz);
    memset(rz + 0x1A0, 0, 64);
    e = evidence(rz, vcek, milan_ask, milan_ark);
    CHECK(verify_milan(e, msg) == MC2_ATTEST_BAD_SIGNATURE);
    free(e.p);
}

static void test_malformed(void)
{
    blob e = evidence(report.p, vcek, milan_ask, milan_ark);
    int all = 1;
    for (size_t n = 0; n < e.n; n++) {
        mc2_verifier v = {.snp = {&pin_milan_ark, 1}};
        mc2_claims c;
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, e.p, n);
        if (mc2_evidence_verify(&v, t, n, &c, NULL) != MC2_ATTEST_MALFORMED) all = 0;
        free(t);
    }
    CHECK(all); /* every truncation */
    blob t = {malloc(e.n + 1), e.n + 1};
    memcpy(t.p, e.p, e.n);
    t.p[e.n] = 0;
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_MALFORMED); /* trailing byte */
    /* Fields checked before any signature: version, algorithm, signing key, VMPL. */
    struct {
        size_t off;
        uint8_t x;
    } fields[] = {{0x00, 0x03}, {0x00, 0x0C}, {0x34, 0x03}, {0x48, 0x1C}, {0x30, 0x04}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        blob m = mutated(fields[i].off, fields[i].x);
        CHECK_MSG(verify_milan(m, NULL) == MC2_ATTEST_MALFORMED, "field %#zx", fields[i].off);
        free(m.p);
    }
    /* Report length, certificate lengths, certificate bytes. */
    memcpy(t.p, e.p, e.n);
    t.n = e.n;
    t.p[8] = 0x9F; /* report_len 1183 */
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_MALFORMED);
    memcpy(t.p, e.p, e.n);
    size_t vl = 12 + MC2_SNP_REPORT_LEN;
    memset(t.p + vl, 0xFF, 4); /* VCEK length 4 GiB */
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_MALFORMED);
    memset(t.p + vl, 0, 4); /* VCEK length 0 */
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_MALFORMED);
    memcpy(t.p, e.p, e.n);
    t.p[vl + 4] ^= 0xFF; /* VCEK not DER */
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_MALFORMED);
    /* A certificate followed by a stray byte inside its length. */
    blob v2 = {malloc(vcek.n + 1), vcek.n + 1};
    memcpy(v2.p, vcek.p, vcek.n);
    v2.p[vcek.n] = 0;
    blob m = evidence(report.p, v2, milan_ask, milan_ark);
    CHECK(verify_milan(m, NULL) == MC2_ATTEST_MALFORMED);
    free(m.p);
    free(v2.p);
    /* Unknown format. */
    memcpy(t.p, e.p, e.n);
    t.p[6] = 0x7F;
    CHECK(verify_milan(t, NULL) == MC2_ATTEST_UNKNOWN_FORMAT);
    /* The encoder refuses empty and oversized certificates. */
    uint8_t *o = NULL;
    size_t on = 0;
    mc2_err err;
    CHECK(mc2_evidence_snp_encode(report.p, vcek.p, 0, milan_ask.p, milan_ask.n, milan_ark.p,
                                  milan_ark.n, &o, &on, &err) != 0 &&
          o == NULL);
    free(t.p);
    free(e.p);
}

/* A consortium policy that names only SEV-SNP reference values (enclave.sev_snp) gives a
 * verifier and an appraisal that accept the real report, and refuse it past its TCB. */
static void test_policy(void)
{
    uint8_t pub[32], sec[32];
    char pin[65], meas[97];
    mc2_buf pem = {0}, y = {0};
    mc2_err err;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_x509_self_signed(sec, "bank-a", 30, &pem, &err) == 0);
    mc2_hex_encode(pin_milan_ark, 32, pin);
    mc2_hex_encode(report.p + 0x90, 48, meas);
    for (int microcode = 0x44; microcode <= 0x45; microcode++) {
        y.len = 0;
        CHECK(mc2_buf_printf(&y, &err,
                             "consortium: snp\nenclave:\n  allow_debug: true\n  sev_snp:\n"
                             "    ark_pins: [%s]\n    measurements: [%s]\n"
                             "    min_tcb: {bootloader: 2, tee: 0, snp: 5, microcode: %d}\n"
                             "parties:\n  - name: bank-a\n    certificate: |\n",
                             pin, meas, microcode) == 0);
        for (const char *l = (const char *)pem.data; l < (const char *)pem.data + pem.len;) {
            const char *nl = memchr(l, '\n', (size_t)((const char *)pem.data + pem.len - l));
            size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
            CHECK(mc2_buf_puts(&y, "      ", &err) == 0 && mc2_buf_append(&y, l, n, &err) == 0);
            l += n;
        }
        CHECK(mc2_buf_puts(&y, "recipients: [bank-a]\n", &err) == 0);
        mc2_policy *pol = NULL;
        if (mc2_policy_parse("snp.yaml", (const char *)y.data, y.len, &pol, &err)) pol = NULL;
        CHECK_MSG(pol != NULL, "%s", err.msg);
        if (!pol) break;
        mc2_verifier v = mc2_policy_verifier(pol);
        blob e = evidence(report.p, vcek, milan_ask, milan_ark);
        mc2_claims c;
        CHECK(mc2_evidence_verify(&v, e.p, e.n, &c, &err) == MC2_ATTEST_OK);
        CHECK(appraise(&c, &pol->appraisal, report.p + 0x50) ==
              (microcode == 0x44 ? MC2_ATTEST_OK : MC2_ATTEST_TCB));
        free(e.p);
        mc2_policy_free(pol);
    }
    mc2_buf_free(&pem);
    mc2_buf_free(&y);
}

int main(void)
{
    report = load("snp/milan_report.bin");
    vcek = load("snp/milan_vcek.der");
    milan_ask = load("snp/milan_ask.der");
    milan_ark = load("snp/milan_ark.der");
    genoa_ask = load("snp/genoa_ask.der");
    genoa_ark = load("snp/genoa_ark.der");
    CHECK(report.n == MC2_SNP_REPORT_LEN);
    test_real_report();
    test_chain();
    test_signature();
    test_malformed();
    test_policy();
    blob all[] = {report, vcek, milan_ask, milan_ark, genoa_ask, genoa_ark};
    for (size_t i = 0; i < 6; i++) free(all[i].p);
    return test_done("test_snp");
}
