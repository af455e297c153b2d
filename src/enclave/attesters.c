/* attesters.c - TRUSTED: the attesters this enclave has (one line each; see attester.h). */
#include <string.h>

#include "enclave/attester.h"

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
