/* mc2/attest.h - remote attestation in RATS (RFC 9334) terms: the enclave (attester)
 * produces EVIDENCE about itself; a VERIFIER checks the evidence's signature against
 * trusted platform keys and returns its CLAIMS; the relying party (a client) APPRAISES the
 * claims against its APPRAISAL POLICY (reference values: measurements, or signer + product
 * + minimum security version; whether simulation or debug may be accepted) and against the
 * binding it expects (the channel key, its fresh nonce, the consortium policy hash).
 *
 * Enclave identity: measurement = SHA-256 of the enclave binary. The enclave's author signs
 * a SIGSTRUCT {measurement, product id, security version} with an Ed25519 signer key; the
 * signer identity is SHA-256 of that public key. */
#ifndef MC2_ATTEST_H
#define MC2_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- enclave identity ---------------------------------------------------------------- */

typedef struct mc2_sigstruct {
    uint8_t measurement[MC2_SHA256_LEN];
    uint16_t product_id;
    uint16_t svn; /* security version number */
    uint8_t signer_pub[MC2_ED25519_PUB_LEN];
    uint8_t sig[MC2_ED25519_SIG_LEN];
} mc2_sigstruct;

#define MC2_SIGSTRUCT_LEN (4 + 2 + 32 + 2 + 2 + 32 + 64)

/* Fills and signs ss for the measurement with the signer's secret seed. */
int mc2_sigstruct_sign(mc2_sigstruct *ss, const uint8_t measurement[MC2_SHA256_LEN],
                       uint16_t product_id, uint16_t svn,
                       const uint8_t signer_sec[MC2_ED25519_SEC_LEN], mc2_err *err) MC2_WUR;
/* Checks the signature (MC2_E_AUTH if it does not verify). */
int mc2_sigstruct_verify(const mc2_sigstruct *ss, mc2_err *err) MC2_WUR;
/* Fixed-size encoding: "MC2S" u16 version, measurement, product, svn, signer, signature. */
void mc2_sigstruct_encode(const mc2_sigstruct *ss, uint8_t out[MC2_SIGSTRUCT_LEN]);
int mc2_sigstruct_decode(const uint8_t *p, size_t n, mc2_sigstruct *ss, mc2_err *err) MC2_WUR;
/* The signer identity: SHA-256 of the signer's public key. */
void mc2_signer_id(const uint8_t signer_pub[MC2_ED25519_PUB_LEN], uint8_t out[MC2_SHA256_LEN]);
/* SHA-256 of a whole file (the measurement of an enclave binary). */
int mc2_measure_file(const char *path, uint8_t out[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;

/* ---- evidence and claims ------------------------------------------------------------- */

/* Evidence formats. Every evidence starts with the same 8 bytes, "MC2E" | u16 version = 1 |
 * u16 format (little-endian); mc2_evidence_verify dispatches on the format through a registry
 * (src/attest/registry.c: one line per format, each format's verifier in its own file). */
enum mc2_evidence_format {
    MC2_EVIDENCE_SIM = 1, /* signed by a simulated platform key: protects nothing */
    MC2_EVIDENCE_SNP = 2, /* AMD SEV-SNP attestation report + VCEK/VLEK, ASK, ARK certs */
    MC2_EVIDENCE_TPM = 3, /* a TPM 2.0 quote over a PCR the host extended at launch */
};

#define MC2_REPORT_DATA_LEN       64
#define MC2_SNP_MEASUREMENT_LEN   48
#define MC2_SNP_REPORT_LEN        1184 /* ATTESTATION_REPORT (AMD SEV-SNP firmware ABI spec) */
#define MC2_SNP_CHIP_ID_LEN       64
#define MC2_SNP_MAX_CERT_LEN      8192         /* per DER certificate in SNP evidence */
#define MC2_SNP_POLICY_MIGRATE_MA (1ull << 18) /* guest policy: a migration agent may attach */
#define MC2_SNP_POLICY_DEBUG      (1ull << 19) /* guest policy: the host may debug the guest */

/* An SEV-SNP TCB_VERSION (Milan/Genoa layout): the security patch levels of each component. */
typedef struct mc2_snp_tcb {
    uint8_t bootloader, tee, snp, microcode;
} mc2_snp_tcb;

/* What a verified SEV-SNP report says beyond the common claims. */
typedef struct mc2_snp_claims {
    uint8_t measurement[MC2_SNP_MEASUREMENT_LEN]; /* launch measurement (SHA-384 chain) */
    uint32_t version;                             /* report version */
    uint32_t guest_svn;
    uint64_t policy; /* guest policy (MC2_SNP_POLICY_*) */
    uint32_t vmpl;
    bool vlek;                /* signed by a VLEK (else a VCEK) */
    mc2_snp_tcb reported_tcb; /* the TCB the signing key was derived for (the one appraised) */
    mc2_snp_tcb current_tcb, committed_tcb;
    uint64_t platform_info;
    uint8_t family_id[16], image_id[16];
    uint8_t host_data[32];
    uint8_t id_key_digest[48];
    uint8_t report_id[32];
    uint8_t chip_id[MC2_SNP_CHIP_ID_LEN];
} mc2_snp_claims;

/* What a verified TPM quote says beyond the common claims. */
typedef struct mc2_tpm_claims {
    uint8_t ak_id[MC2_SHA256_LEN];     /* SHA-256 of the attestation key's SPKI (DER) */
    uint8_t pcr;                       /* the quoted PCR (sha256 bank) */
    uint8_t pcr_value[MC2_SHA256_LEN]; /* its value, replayed from the event log */
    uint64_t clock;                    /* the TPM's clockInfo, as it signed it */
    uint32_t reset_count, restart_count;
    uint64_t firmware_version;
} mc2_tpm_claims;

/* What verified evidence says about an enclave. The common part (format, simulation, debug,
 * report_data) is filled by every format; measurement/signer/product_id/svn by sim and tpm
 * (zero for snp); platform_key by sim only; snp by snp only; tpm by tpm only. */
typedef struct mc2_claims {
    enum mc2_evidence_format format;
    uint8_t measurement[MC2_SHA256_LEN]; /* sim: SHA-256 of the enclave binary */
    uint8_t signer[MC2_SHA256_LEN];      /* sim: mc2_signer_id of the sigstruct's signer */
    uint16_t product_id;
    uint16_t svn;
    bool simulation; /* evidence from the sim backend: no hardware protection at all */
    bool debug;      /* a debug enclave: its memory can be read by the host */
    uint8_t report_data[MC2_REPORT_DATA_LEN];  /* binding chosen by the enclave */
    uint8_t platform_key[MC2_ED25519_PUB_LEN]; /* who signed (sim) */
    mc2_snp_claims snp;                        /* format MC2_EVIDENCE_SNP */
    mc2_tpm_claims tpm;                        /* format MC2_EVIDENCE_TPM */
} mc2_claims;

/* Creates sim-format evidence for the claims (format and platform_key are filled in from
 * the platform secret), signed with the simulated platform key. *out is malloc'd. */
int mc2_evidence_sim_create(const mc2_claims *claims,
                            const uint8_t platform_sec[MC2_ED25519_SEC_LEN], uint8_t **out,
                            size_t *out_len, mc2_err *err) MC2_WUR;

/* Why evidence was rejected: each appraisal failure has its own code (and message). */
enum mc2_attest_result {
    MC2_ATTEST_OK = 0,
    MC2_ATTEST_MALFORMED,          /* truncated, garbled, trailing bytes, bad magic */
    MC2_ATTEST_UNKNOWN_FORMAT,     /* an evidence format this verifier does not know */
    MC2_ATTEST_UNTRUSTED_PLATFORM, /* signed by a platform key we do not trust */
    MC2_ATTEST_BAD_SIGNATURE,      /* the platform signature does not verify */
    MC2_ATTEST_SIMULATION,         /* simulated evidence and the policy forbids simulation */
    MC2_ATTEST_DEBUG,              /* debug enclave and the policy forbids debug */
    MC2_ATTEST_MEASUREMENT,        /* measurement not among the expected ones */
    MC2_ATTEST_SIGNER,             /* signed by a different enclave signer */
    MC2_ATTEST_PRODUCT,            /* different product id */
    MC2_ATTEST_SVN,                /* security version below the minimum */
    MC2_ATTEST_BINDING,            /* report data does not bind this channel key / nonce /
                                      consortium policy (replayed, or another key's) */
    MC2_ATTEST_BAD_CHAIN,          /* the platform's certificate chain does not verify (snp:
                                      ARK not self-signed, ASK not signed by the ARK, VCEK not
                                      signed by the ASK, VCEK for another chip or TCB) */
    MC2_ATTEST_TCB,                /* platform TCB version below the policy's minimum */
    MC2_ATTEST_MIGRATION,          /* a migration agent may attach and the policy forbids it */
    MC2_ATTEST_VMPL,               /* snp: report requested from a less privileged VMPL than
                                      the policy accepts */
    MC2_ATTEST_PCR,                /* tpm: the quote is not over the configured PCR, or its
                                      value is not the event log's replay (the PCR was extended
                                      by someone else, or the log was changed) */
    MC2_ATTEST_EVENT_LOG,          /* tpm: the event log does not match the sigstruct (its
                                      hash or measurement), or the sigstruct does not verify */
};

/* SEV-SNP evidence (format 2), all integers little-endian, nothing after the last byte:
 *   "MC2E" | u16 version = 1 | u16 format = 2 | u32 report_len = 1184 | report[1184] (the
 *   ATTESTATION_REPORT as Linux configfs-tsm's outblob gives it) | u32 len | VCEK or VLEK
 *   certificate (DER) | u32 len | ASK or ASVK certificate (DER) | u32 len | ARK certificate
 *   (DER); each certificate 1..MC2_SNP_MAX_CERT_LEN bytes.
 * Builds it (*out malloc'd); the report is not checked here. */
int mc2_evidence_snp_encode(const uint8_t report[MC2_SNP_REPORT_LEN], const uint8_t *vcek,
                            size_t vcek_len, const uint8_t *ask, size_t ask_len, const uint8_t *ark,
                            size_t ark_len, uint8_t **out, size_t *out_len, mc2_err *err) MC2_WUR;

/* TPM evidence (format 3): mc2 framing little-endian, the TPM's structures big-endian as the
 * TPM marshals them, nothing after the last byte:
 *   "MC2E" | u16 version = 1 | u16 format = 3 | report_data[64] |
 *   u32 n | TPMS_ATTEST[n] (the quote, exactly the bytes the AK signed; 1..MC2_TPM_MAX_PART) |
 *   u32 n | TPMT_SIGNATURE[n] (ECDSA, SHA-256; 1..MC2_TPM_MAX_PART) |
 *   u32 n | TPMT_PUBLIC[n] (the AK: ECC NIST P-256, restricted signing; 1..MC2_TPM_MAX_PART) |
 *   u32 n_events (1..MC2_TPM_MAX_EVENTS) | n_events x (u32 type | digest[32]) |
 *   sigstruct[MC2_SIGSTRUCT_LEN] (mc2_sigstruct_encode)
 * The quote's extraData is SHA-256(report_data) (32 bytes: every TPM with SHA-256 accepts
 * it; a TPM's extraData may be shorter than 64 bytes). Events, replayed in order from the
 * PCR's reset value (32 zero bytes) as PCR = SHA-256(PCR || digest): type 1 = the enclave's
 * measurement (digest = the measurement), type 2 = the sigstruct (digest = SHA-256 of its
 * encoding); each exactly once. Builds it (*out malloc'd); nothing is checked here. */
#define MC2_TPM_MAX_PART     1024
#define MC2_TPM_MAX_EVENTS   16
#define MC2_TPM_EV_ENCLAVE   1
#define MC2_TPM_EV_SIGSTRUCT 2
#define MC2_TPM_DEFAULT_PCR  23

typedef struct mc2_tpm_event {
    uint32_t type;
    uint8_t digest[MC2_SHA256_LEN];
} mc2_tpm_event;

int mc2_evidence_tpm_encode(const uint8_t report_data[MC2_REPORT_DATA_LEN], const uint8_t *quote,
                            size_t quote_len, const uint8_t *sig, size_t sig_len,
                            const uint8_t *ak_pub, size_t ak_pub_len, const mc2_tpm_event *events,
                            size_t n_events, const mc2_sigstruct *ss, uint8_t **out,
                            size_t *out_len, mc2_err *err) MC2_WUR;

/* The identity of a TPM attestation key given as a marshalled TPMT_PUBLIC (hostile bytes):
 * SHA-256 of its SubjectPublicKeyInfo DER, the value policies list in enclave.tpm.ak_keys.
 * Fails (MC2_E_INPUT) unless it is an ECC NIST P-256 restricted signing key. spki (if not
 * NULL, *spki_len its capacity, at least 128) receives the SPKI DER. */
int mc2_tpm_ak_id(const uint8_t *pub, size_t n, uint8_t id[MC2_SHA256_LEN], uint8_t *spki,
                  size_t *spki_len, mc2_err *err) MC2_WUR;

/* Per-format verifier configuration: what each format's verifier trusts. */
typedef struct mc2_sim_verifier {
    const uint8_t (*keys)[MC2_ED25519_PUB_LEN]; /* trusted simulated platform keys */
    size_t n_keys;
} mc2_sim_verifier;

typedef struct mc2_snp_verifier {
    /* Trusted AMD root keys: SHA-256 of each ARK's SubjectPublicKeyInfo (DER). Evidence whose
     * ARK is not one of them is MC2_ATTEST_UNTRUSTED_PLATFORM. */
    const uint8_t (*ark_pins)[MC2_SHA256_LEN];
    size_t n_ark_pins;
} mc2_snp_verifier;

/* Verifier configuration: one member per format, passed by the registry to that format's
 * verifier only. A format with no trusted keys rejects all its evidence. */
typedef struct mc2_tpm_verifier {
    /* Trusted attestation keys: SHA-256 of each AK's SubjectPublicKeyInfo (DER); evidence
     * signed by another is MC2_ATTEST_UNTRUSTED_PLATFORM. */
    const uint8_t (*ak_ids)[MC2_SHA256_LEN];
    size_t n_ak_ids;
    uint8_t pcr; /* the PCR (sha256 bank) the quote must select, alone */
} mc2_tpm_verifier;

typedef struct mc2_verifier {
    mc2_sim_verifier sim;
    mc2_snp_verifier snp;
    mc2_tpm_verifier tpm;
} mc2_verifier;

/* Decodes evidence (hostile bytes), checks it is signed by a trusted platform key, and
 * returns its claims. On failure returns the reason (and sets *err); *claims is then
 * unspecified. */
enum mc2_attest_result mc2_evidence_verify(const mc2_verifier *v, const uint8_t *ev, size_t n,
                                           mc2_claims *claims, mc2_err *err) MC2_WUR;

/* ---- appraisal ------------------------------------------------------------------------ */

#define MC2_MAX_MEASUREMENTS 16

/* A relying party's reference values and rules, per format.
 * sim and tpm: either measurements (n_measurements > 0: the claims' measurement must be one of
 * them) or signer identity (has_signer: the claims' signer must match, product_id must match, svn
 * >= min_svn), or both. snp: snp_measurements (at least one: the launch measurement must be one of
 * them), every component of the reported TCB >= snp_min_tcb's, the MIGRATE_MA policy bit only if
 * allow_migration_agent, VMPL <= snp_max_vmpl (default 0: only a report requested by the
 * most privileged level, so not by less privileged code beside an SVSM); allow_debug covers
 * the DEBUG policy bit. */
typedef struct mc2_appraisal {
    size_t n_measurements;
    uint8_t measurements[MC2_MAX_MEASUREMENTS][MC2_SHA256_LEN];
    bool has_signer;
    uint8_t signer[MC2_SHA256_LEN];
    uint16_t product_id;
    uint16_t min_svn;
    bool allow_simulation; /* default false */
    bool allow_debug;      /* default false */
    size_t n_snp_measurements;
    uint8_t snp_measurements[MC2_MAX_MEASUREMENTS][MC2_SNP_MEASUREMENT_LEN];
    mc2_snp_tcb snp_min_tcb;
    bool allow_migration_agent; /* default false */
    uint8_t snp_max_vmpl;       /* default 0 */
} mc2_appraisal;

/* Appraises verified claims against the policy and the expected report data (which binds
 * the channel key, the client's fresh nonce and the consortium policy hash). */
enum mc2_attest_result mc2_appraise(const mc2_claims *c, const mc2_appraisal *p,
                                    const uint8_t expected_report_data[MC2_REPORT_DATA_LEN],
                                    mc2_err *err) MC2_WUR;

/* The report data an RA-TLS enclave puts in its evidence:
 * SHA-256("mc2 ra-tls v1" || SHA-256(SubjectPublicKeyInfo DER) || nonce || policy hash),
 * zero-padded to 64 bytes. */
int mc2_report_data(const uint8_t *spki_der, size_t spki_len, const uint8_t nonce[32],
                    const uint8_t policy_hash[MC2_SHA256_LEN], uint8_t out[MC2_REPORT_DATA_LEN],
                    mc2_err *err) MC2_WUR;

/* A short name for a result ("wrong measurement", ...). */
const char *mc2_attest_result_name(enum mc2_attest_result r);

#ifdef __cplusplus
}
#endif
#endif
