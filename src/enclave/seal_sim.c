/* seal_sim.c - TRUSTED: the sim backend's sealing key. A TEE seals with a key only its
 * hardware derives for one enclave build; the sim backend stands in with HKDF over the
 * simulated platform secret (from INIT, so the host has it: sealing in sim protects nothing
 * against the host, docs/security.md) and the enclave's measurement. Isolated here so that
 * another backend (a TPM-sealed key) can replace exactly this function. */
#include "enclave/state.h"

#include <string.h>

#define SEAL_INFO "mc2 sim seal key v1"

int enc_seal_key(enclave *e, uint8_t key[32], mc2_err *err)
{
    return mc2_hkdf_sha256(e->platform_sec, sizeof e->platform_sec, e->measurement,
                           sizeof e->measurement, (const uint8_t *)SEAL_INFO, sizeof SEAL_INFO - 1,
                           key, 32, err);
}
