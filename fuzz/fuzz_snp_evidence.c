/* fuzz_snp_evidence.c - libFuzzer target: mc2_evidence_verify on arbitrary bytes with a
 * verifier that pins AMD's Milan root (so a seed built from the real vectors in
 * tests/data/snp, fuzz/corpus/fuzz_snp_evidence, reaches the certificate chain, the
 * VCEK/report match and the report signature), then mc2_appraise of whatever verifies.
 * Contract checked: a result inside the enum; a failure says why (err set) and leaves no
 * claim but the format; a success is SNP evidence whose claims appraise without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mc2/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA-256 of ARK-Milan's SubjectPublicKeyInfo (tests/data/snp/README.md). */
static const uint8_t pin_milan[1][32] = {{0x9f, 0x05, 0x6b, 0xee, 0x44, 0x37, 0x7e, 0x29,
                                          0x30, 0x8c, 0xb5, 0xff, 0xa8, 0x95, 0xbd, 0xfb,
                                          0x62, 0xd1, 0x88, 0x81, 0xfa, 0x6b, 0xed, 0x8d,
                                          0x6f, 0x07, 0x5b, 0x02, 0x04, 0x08, 0x9c, 0xb9}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_verifier v = {.snp = {pin_milan, 1}};
    mc2_claims c, zero;
    mc2_err err;
    /* Copy into an exact-size heap buffer so any read past `size` trips ASan. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return 0;
    if (size) memcpy(p, data, size);
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_evidence_verify(&v, p, size, &c, &err);
    if (r > MC2_ATTEST_EVENT_LOG) abort();
    if (r != MC2_ATTEST_OK) {
        if (err.code == MC2_OK || err.msg[0] == '\0') abort();
        memset(&zero, 0, sizeof zero);
        zero.format = c.format;
        if (memcmp(&c, &zero, sizeof c) != 0) abort(); /* nothing unverified leaves */
    } else {
        if (c.format != MC2_EVIDENCE_SNP || c.simulation) abort();
        mc2_appraisal a = {0};
        a.n_snp_measurements = 1;
        memcpy(a.snp_measurements[0], c.snp.measurement, MC2_SNP_MEASUREMENT_LEN);
        a.allow_debug = true;
        if (mc2_appraise(&c, &a, c.report_data, &err) != MC2_ATTEST_OK) abort();
    }
    free(p);
    return 0;
}
