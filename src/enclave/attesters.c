/* attesters.c - TRUSTED: the attesters this enclave has (one line each; see attester.h). */
#include <string.h>

#include "enclave/attester.h"
#include "enclave/enclave.h"

static const enc_attester *const attesters[] = {
    &enc_att_sim,
    &enc_att_tpm,
    &enc_att_tsm,
};

const enc_attester *enc_attester_find(const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < sizeof attesters / sizeof attesters[0]; i++)
        if (strlen(attesters[i]->name) == len && memcmp(attesters[i]->name, name, len) == 0)
            return attesters[i];
    return NULL;
}

int enc_seal_key_derive(const enclave *e, const uint8_t *secret, size_t n, const char *info,
                        uint8_t key[32], mc2_err *err)
{
    return mc2_hkdf_sha256(secret, n, e->measurement, sizeof e->measurement, (const uint8_t *)info,
                           strlen(info), key, 32, err);
}
