/* registry.c - the evidence formats this verifier knows: one line per format (see
 * verifiers.h for the contract each verifier keeps). */
#include <stddef.h>

#include "attest/verifiers.h"

static const mc2_ev_format formats[] = {
    {MC2_EVIDENCE_SIM, "sim", offsetof(mc2_verifier, sim), mc2_ev_sim_verify},
    {MC2_EVIDENCE_SNP, "sev-snp", offsetof(mc2_verifier, snp), mc2_ev_snp_verify},
    {MC2_EVIDENCE_TPM, "tpm", offsetof(mc2_verifier, tpm), mc2_ev_tpm_verify},
};

const mc2_ev_format *mc2_ev_format_find(unsigned id)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if ((unsigned)formats[i].id == id) return &formats[i];
    return NULL;
}
