/* att_sim.c - TRUSTED: the sim attester. Its evidence is signed with the simulated platform
 * key the host gives it in INIT, so the host can forge it: simulation, protecting nothing. */
#include <string.h>

#include "base/bytes.h"
#include "enclave/attester.h"
#include "enclave/enclave.h"

static int sim_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    if (n != MC2_ED25519_SEC_LEN)
        return mc2_err_set(err, MC2_E_INPUT,
                           "the sim attester wants a %d-byte platform key, not %zu",
                           MC2_ED25519_SEC_LEN, n);
    memcpy(e->att_secret, p, MC2_ED25519_SEC_LEN);
    return 0;
}

static int sim_evidence(enclave *e, const uint8_t rd[MC2_REPORT_DATA_LEN], uint8_t **ev, size_t *n,
                        mc2_err *err)
{
    mc2_claims c = {0};
    memcpy(c.measurement, e->measurement, 32);
    mc2_signer_id(e->sigstruct.signer_pub, c.signer);
    c.product_id = e->sigstruct.product_id;
    c.svn = e->sigstruct.svn;
    c.simulation = true;
    memcpy(c.report_data, rd, MC2_REPORT_DATA_LEN);
    return mc2_evidence_sim_create(&c, e->att_secret, ev, n, err);
}

/* A TEE seals with a key only its hardware derives for one enclave build; sim stands in with
 * HKDF over the simulated platform secret (so the host has it: sealing in sim protects
 * nothing against the host, docs/security.md) and the enclave's measurement. */
#define SEAL_INFO "mc2 sim seal key v1"

static int sim_seal_key(enclave *e, uint8_t key[32], mc2_err *err)
{
    return enc_seal_key_derive(e, e->att_secret, sizeof e->att_secret, SEAL_INFO, key, err);
}

static void sim_fini(enclave *e)
{
    mc2_wipe(e->att_secret, sizeof e->att_secret);
}

const enc_attester enc_att_sim = {
    .name = "sim",
    .simulation = true,
    .init = sim_init,
    .evidence = sim_evidence,
    .seal_key = sim_seal_key,
    .fini = sim_fini,
};
