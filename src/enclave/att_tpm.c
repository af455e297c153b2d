/* att_tpm.c - TRUSTED: the tpm attester. The TPM is a device the sandbox forbids the enclave,
 * so the host fetches its evidence (a quote over the PCR it extended at launch, bound to the
 * session's report data: EIF_EVIDENCE_REQ). The host cannot forge the quote without the TPM's
 * attestation key; the client checks it (src/attest/ev_tpm.c). INIT's attester bytes: none. */
#include "enclave/attester.h"
#include "enclave/enclave.h"

static int tpm_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    (void)e;
    (void)p;
    if (n != 0)
        return mc2_err_set(err, MC2_E_INPUT, "the tpm attester takes no INIT bytes, not %zu", n);
    return 0;
}

static void tpm_fini(enclave *e)
{
    (void)e;
}

const enc_attester enc_att_tpm = {
    .name = "tpm",
    .simulation = false,
    .init = tpm_init,
    .evidence = NULL, /* the host fetches the quote */
    .fini = tpm_fini,
};
