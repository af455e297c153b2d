/* att_tpm.c - TRUSTED: the tpm attester. The TPM is a device the sandbox forbids the enclave,
 * so the host fetches its evidence (a quote over the PCR it extended at launch, bound to the
 * session's report data: EIF_EVIDENCE_REQ). The host cannot forge the quote without the TPM's
 * attestation key; the client checks it (src/attest/ev_tpm.c).
 *
 * INIT's attester bytes: exactly 32, the root secret the TPM released to the host only while
 * the PCR held this launch (src/host/tpm_seal.h). The host relays it, so the host (its root)
 * sees it: sealing on tpm protects the state at rest against whoever lacks this TPM in this
 * launch state (another machine, a backup, another enclave build), not against the host's
 * root (docs/security.md). */
#include <string.h>

#include "base/bytes.h"
#include "enclave/attester.h"
#include "enclave/enclave.h"

static int tpm_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    if (n != sizeof e->att_secret)
        return mc2_err_set(err, MC2_E_INPUT,
                           "the tpm attester wants the %zu-byte TPM-sealed root secret, not %zu "
                           "bytes",
                           sizeof e->att_secret, n);
    memcpy(e->att_secret, p, sizeof e->att_secret);
    return 0;
}

/* The sealing key: HKDF of the root secret, salted with this build's measurement (the secret
 * is already bound to the launch; the salt keeps keys of different builds apart anyway). */
#define SEAL_INFO "mc2 tpm seal key v1"

static int tpm_seal_key(enclave *e, uint8_t key[32], mc2_err *err)
{
    return enc_seal_key_derive(e, e->att_secret, sizeof e->att_secret, SEAL_INFO, key, err);
}

static void tpm_fini(enclave *e)
{
    mc2_wipe(e->att_secret, sizeof e->att_secret);
}

const enc_attester enc_att_tpm = {
    .name = "tpm",
    .simulation = false,
    .init = tpm_init,
    .evidence = NULL, /* the host fetches the quote */
    .seal_key = tpm_seal_key,
    .fini = tpm_fini,
};
