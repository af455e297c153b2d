/* attester.h - TRUSTED: the enclave's side of a TEE backend. The host's backend
 * (src/host/tee.h) and the enclave's attester share a name, which INIT carries; each
 * attester is its own file (att_sim.c, ...) plus one line in attesters.c's table.
 *
 * An attester turns 64 bytes of report data (mc2_report_data: the session's TLS key, the
 * client's nonce, the policy hash) into evidence that a verifier of its format (src/attest's
 * registry) accepts. Either it makes the evidence itself (`evidence`, e.g. sim signs with
 * its key), or the host fetches it from a device the sandbox forbids to the enclave
 * (`evidence` NULL): the enclave then sends EIF_EVIDENCE_REQ {report data} on the session's
 * channel and builds the session's certificate when EIF_EVIDENCE answers (session.c). The
 * host's answer is not trusted: the client verifies the evidence and its binding, so a host
 * that answers with anything else only makes its own clients' attestation fail. */
#ifndef MC2_ENCLAVE_ATTESTER_H
#define MC2_ENCLAVE_ATTESTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/attest.h"
#include "mc2/err.h"

struct enclave;

/* Evidence from the host (EIF_EVIDENCE) longer than this ends the session. */
#define ENC_EVIDENCE_MAX (256u << 10)

typedef struct enc_attester {
    const char *name; /* as INIT names it: the host backend's name */
    bool simulation;  /* its evidence protects nothing (READY's sim flag) */
    /* INIT's attester bytes (hostile: checks their size and form) -> e's attester state. */
    int (*init)(struct enclave *e, const uint8_t *p, size_t n, mc2_err *err);
    /* Makes evidence for report_data (*ev malloc'd); NULL: the host makes it. */
    int (*evidence)(struct enclave *e, const uint8_t report_data[MC2_REPORT_DATA_LEN], uint8_t **ev,
                    size_t *n, mc2_err *err);
    /* The key the enclave's durable state is sealed with (state.c), the same at every start
     * of this enclave build on this platform; NULL: the backend offers no sealing, and the
     * enclave's state does not survive a restart (persist.c). */
    int (*seal_key)(struct enclave *e, uint8_t key[32], mc2_err *err);
    /* Wipes the attester state at exit. */
    void (*fini)(struct enclave *e);
} enc_attester;

/* A sealing key as attesters derive it: HKDF-SHA256 of the backend's root secret, salted
 * with this build's measurement (keys of different builds stay apart), with `info` naming
 * the backend's derivation. */
int enc_seal_key_derive(const struct enclave *e, const uint8_t *secret, size_t n, const char *info,
                        uint8_t key[32], mc2_err *err);

/* The attester called name[0..len), or NULL. */
const enc_attester *enc_attester_find(const uint8_t *name, size_t len);

/* The sim attester (att_sim.c): INIT gives it the simulated platform key (32 bytes). */
extern const enc_attester enc_att_sim;

/* The tpm attester (att_tpm.c): INIT gives it the 32-byte TPM-sealed root secret (its
 * seal_key derives from it); the host fetches its evidence (a quote) from the TPM. */
extern const enc_attester enc_att_tpm;
/* The tsm attester (att_tsm.c): INIT gives it nothing; the host fetches its evidence (an
 * SEV-SNP report from configfs-tsm). */
extern const enc_attester enc_att_tsm;

#endif
