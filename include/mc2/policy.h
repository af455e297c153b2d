/* mc2/policy.h - the consortium policy: who the parties are (name and certificate), which
 * enclave they trust (appraisal policy), and who may receive results. Every party holds
 * the same policy; its hash is part of what the enclave attests, so all sessions are bound
 * to the same one. YAML format in docs/security.md, e.g.:
 *
 *   consortium: demo
 *   enclave:
 *     signer: 3f1a...            # SHA-256 of the enclave signer's public key (hex), and
 *     product_id: 1            #   its product id and minimum security version; and/or
 *     min_svn: 1
 *     measurements: [ab12...]  # exact enclave measurements (hex)
 *     allow_simulation: false  # accept the sim TEE (protects nothing; tests and demos)
 *     sim_platform_keys: [..]  # simulated platform keys trusted to sign sim evidence
 *   parties:
 *     - name: bank-a
 *       certificate: |
 *         -----BEGIN CERTIFICATE-----
 *         ...
 *   recipients: [auditor]      # parties that may receive results
 *   oblivious_tables:          # tables only oblivious jobs may read (sql --oblivious,
 *     - bank-a/transactions    #   train/predict with oblivious: 1); "OWNER/ *" (without
 *     - "bank-b/ *"            #   the space) = all of that party's tables
 *   limits:
 *     job_cpu_seconds: 3600    # CPU time a job may use in the enclave (default 3600); a
 *                              #   job's `cpu_seconds` parameter may only lower it
 */
#ifndef MC2_POLICY_H
#define MC2_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/attest.h"
#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC2_POLICY_MAX_PARTIES  128
#define MC2_POLICY_MAX_SIM_KEYS 8
#define MC2_POLICY_MAX_SNP_ARKS 8
#define MC2_POLICY_MAX_TPM_AKS  8
#define MC2_POLICY_MAX_OBLIV    64

typedef struct mc2_party {
    char name[65];
    uint8_t pub[MC2_ED25519_PUB_LEN];
    char *cert_pem;
    bool recipient;
} mc2_party;

typedef struct mc2_policy {
    char *consortium;
    mc2_appraisal appraisal;
    size_t n_sim_keys;
    uint8_t sim_keys[MC2_POLICY_MAX_SIM_KEYS][MC2_ED25519_PUB_LEN];
    bool has_snp; /* enclave.sev_snp given: SNP reference values are in appraisal */
    size_t n_snp_arks;
    uint8_t snp_arks[MC2_POLICY_MAX_SNP_ARKS][MC2_SHA256_LEN]; /* enclave.sev_snp.ark_pins */
    bool has_tpm; /* enclave.tpm given: its AKs and PCR are in the verifier */
    size_t n_tpm_aks;
    uint8_t tpm_aks[MC2_POLICY_MAX_TPM_AKS][MC2_SHA256_LEN]; /* enclave.tpm.ak_keys */
    uint8_t tpm_pcr;                                         /* enclave.tpm.pcr (23) */
    size_t nparties;
    mc2_party *parties;
    size_t n_obliv;
    char obliv[MC2_POLICY_MAX_OBLIV][160]; /* "owner/table", or "owner/" "*": sorted */
    uint64_t job_cpu_seconds;              /* limits.job_cpu_seconds; 0: not given */
    uint8_t hash[MC2_SHA256_LEN];          /* SHA-256 of the canonical encoding */
} mc2_policy;

/* Parses and validates a policy (hostile input): certificates must be Ed25519 with CN equal
 * to the party's name, names unique, recipients must be parties, the enclave section must
 * name a signer or a measurement. Errors give line and column. */
int mc2_policy_parse(const char *what, const char *text, size_t len, mc2_policy **out,
                     mc2_err *err) MC2_WUR;
int mc2_policy_load(const char *path, mc2_policy **out, mc2_err *err) MC2_WUR;
void mc2_policy_free(mc2_policy *p);

/* The party with that name, or with that public key; NULL if none. */
const mc2_party *mc2_policy_party(const mc2_policy *p, const char *name);
const mc2_party *mc2_policy_party_by_key(const mc2_policy *p,
                                         const uint8_t pub[MC2_ED25519_PUB_LEN]);

/* True if the policy's oblivious_tables names owner's table `table` (or all owner's tables):
 * then only oblivious jobs may read it. */
bool mc2_policy_requires_oblivious(const mc2_policy *p, const char *owner, const char *table);

/* The verifier configuration the policy implies (points into p). */
mc2_verifier mc2_policy_verifier(const mc2_policy *p);

#ifdef __cplusplus
}
#endif
#endif
