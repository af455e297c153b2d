/* fuzz_tpm_evidence.c - libFuzzer target: mc2_evidence_verify on arbitrary bytes with a
 * verifier that trusts the attestation key of the seed (fuzz/corpus/fuzz_tpm_evidence: a real
 * quote from swtpm, written by MC2_TPM_SEED=FILE test_tpm), so mutations of the seed reach the
 * quote, signature, AK, event log and sigstruct checks; then mc2_appraise of whatever verifies.
 * Contract checked: a result inside the enum; a failure says why (err set) and leaves no
 * claim but the format; a success is TPM evidence, not simulation, whose claims appraise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mc2/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seed's AK identity (SHA-256 of its SPKI DER), as test_tpm printed it. */
static const uint8_t seed_ak[1][32] = {{0x75, 0xe7, 0x14, 0x34, 0x23, 0xd9, 0xbe, 0xd0,
                                        0x75, 0x0a, 0xab, 0x1c, 0x17, 0x17, 0xb0, 0x74,
                                        0x82, 0x4e, 0xec, 0x77, 0xfa, 0x87, 0x53, 0x69,
                                        0x3e, 0x61, 0xc2, 0x5f, 0x45, 0x92, 0x91, 0xfd}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_verifier v = {.tpm = {seed_ak, 1, MC2_TPM_DEFAULT_PCR}};
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
    } else if (c.format == MC2_EVIDENCE_TPM) {
        if (c.simulation || c.debug) abort();
        mc2_appraisal a = {.n_measurements = 1};
        memcpy(a.measurements[0], c.measurement, MC2_SHA256_LEN);
        if (mc2_appraise(&c, &a, c.report_data, &err) != MC2_ATTEST_OK) abort();
    }
    free(p);
    return 0;
}
