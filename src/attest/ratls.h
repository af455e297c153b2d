/* ratls.h - RA-TLS: the enclave's TLS certificate carries its attestation evidence in an
 * X.509 extension, and the evidence's report data binds the certificate's public key, the
 * client's fresh nonce and the consortium policy hash (mc2_report_data). A client that
 * checks the certificate this way and completes a TLS 1.3 handshake with it knows it talks
 * to the attested enclave: the handshake proves possession of the certified key, and only
 * the enclave holds it. */
#ifndef MC2_ATTEST_RATLS_H
#define MC2_ATTEST_RATLS_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mc2/attest.h"

/* The extension's OID, under the UUID arc 2.25 (ITU-T X.667: no registration needed). */
#define MC2_RATLS_OID "2.25.211479883127316328745318633455432145237"

/* Produces evidence for report_data (the attester: a TEE backend). */
typedef int (*mc2_evidence_fn)(void *ctx, const uint8_t report_data[MC2_REPORT_DATA_LEN],
                               uint8_t **ev, size_t *ev_len, mc2_err *err);

/* Enclave side, in two steps so that evidence may come from elsewhere in between (a backend
 * whose evidence the host fetches from a device, answering asynchronously):
 * mc2_ratls_key creates a fresh Ed25519 key (*key, the caller's) and the report data that
 * binds (its key, nonce, policy_hash); mc2_ratls_cert makes the self-signed certificate
 * (CN=mc2-enclave, valid for one day) of that key carrying the evidence (*cert, the
 * caller's). The evidence is not checked here: a client checks it (mc2_ratls_check). */
int mc2_ratls_key(const uint8_t nonce[32], const uint8_t policy_hash[MC2_SHA256_LEN],
                  EVP_PKEY **key, uint8_t report_data[MC2_REPORT_DATA_LEN], mc2_err *err) MC2_WUR;
int mc2_ratls_cert(EVP_PKEY *key, const uint8_t *ev, size_t ev_len, X509 **cert,
                   mc2_err *err) MC2_WUR;

/* Both steps with evidence made at once by `evidence` (the caller owns *key and *cert). */
int mc2_ratls_make(const uint8_t nonce[32], const uint8_t policy_hash[MC2_SHA256_LEN],
                   mc2_evidence_fn evidence, void *ctx, EVP_PKEY **key, X509 **cert,
                   mc2_err *err) MC2_WUR;

/* Client side: extracts the evidence from the peer's certificate, verifies it, and appraises
 * it against policy with the binding recomputed from the certificate's own public key, the
 * client's nonce and its consortium policy hash. Fills *claims on success. */
enum mc2_attest_result mc2_ratls_check(X509 *peer, const uint8_t nonce[32],
                                       const uint8_t policy_hash[MC2_SHA256_LEN],
                                       const mc2_verifier *v, const mc2_appraisal *policy,
                                       mc2_claims *claims, mc2_err *err) MC2_WUR;

#endif
