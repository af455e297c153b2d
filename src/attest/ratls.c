/* ratls.c - attestation evidence in the enclave's TLS certificate (see ratls.h). */
#include "attest/ratls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "base/alloc.h"

/* DER SubjectPublicKeyInfo of a key; *der is OpenSSL-allocated (OPENSSL_free). */
static int spki_der(EVP_PKEY *k, unsigned char **der, size_t *len, mc2_err *err)
{
    *der = NULL;
    int n = i2d_PUBKEY(k, der);
    if (n <= 0) return mc2_err_set(err, MC2_E_CRYPTO, "cannot encode the TLS public key");
    *len = (size_t)n;
    return 0;
}

int mc2_ratls_key(const uint8_t nonce[32], const uint8_t policy_hash[MC2_SHA256_LEN],
                  EVP_PKEY **key_out, uint8_t rd[MC2_REPORT_DATA_LEN], mc2_err *err)
{
    unsigned char *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!key) {
        ERR_clear_error();
        return mc2_err_set(err, MC2_E_CRYPTO, "cannot create the enclave's TLS key");
    }
    if (spki_der(key, &der, &der_len, err) ||
        mc2_report_data(der, der_len, nonce, policy_hash, rd, err)) {
        OPENSSL_free(der);
        EVP_PKEY_free(key);
        return -1;
    }
    OPENSSL_free(der);
    *key_out = key;
    return 0;
}

/* A random positive 128-bit serial number for x. */
static int set_serial(X509 *x, mc2_err *err)
{
    uint8_t serial[16];
    if (mc2_random(serial, sizeof serial, err)) return -1;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : mc2_err_set(err, MC2_E_CRYPTO, "cannot set the certificate's serial number");
}

int mc2_ratls_cert(EVP_PKEY *key, const uint8_t *ev, size_t ev_len, X509 **cert_out, mc2_err *err)
{
    int rc = -1;
    ASN1_OBJECT *oid = NULL;
    ASN1_OCTET_STRING *os = NULL;
    X509_EXTENSION *ext = NULL;
    if (ev_len == 0 || ev_len > INT32_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "evidence of %zu bytes cannot go in a certificate",
                           ev_len);
    X509 *x = X509_new();
    if (!x || !X509_set_version(x, 2)) goto ossl;
    if (set_serial(x, err)) goto out;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mc2-enclave",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) || !X509_set_pubkey(x, key))
        goto ossl;
    oid = OBJ_txt2obj(MC2_RATLS_OID, 1);
    os = ASN1_OCTET_STRING_new();
    if (!oid || !os || !ASN1_OCTET_STRING_set(os, ev, (int)ev_len)) goto ossl;
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os);
    if (!ext || !X509_add_ext(x, ext, -1)) goto ossl;
    if (X509_sign(x, key, NULL) <= 0) goto ossl;
    *cert_out = x;
    x = NULL;
    rc = 0;
    goto out;
ossl:
    mc2_err_set(err, MC2_E_CRYPTO, "cannot build the enclave's RA-TLS certificate");
out:
    ERR_clear_error();
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(oid);
    X509_free(x);
    return rc;
}

int mc2_ratls_make(const uint8_t nonce[32], const uint8_t policy_hash[MC2_SHA256_LEN],
                   mc2_evidence_fn evidence, void *ctx, EVP_PKEY **key_out, X509 **cert_out,
                   mc2_err *err)
{
    EVP_PKEY *key = NULL;
    uint8_t *ev = NULL, rd[MC2_REPORT_DATA_LEN];
    size_t ev_len = 0;
    int rc = -1;
    if (mc2_ratls_key(nonce, policy_hash, &key, rd, err) || evidence(ctx, rd, &ev, &ev_len, err) ||
        mc2_ratls_cert(key, ev, ev_len, cert_out, err))
        goto out;
    *key_out = key;
    key = NULL;
    rc = 0;
out:
    mc2_free(ev);
    EVP_PKEY_free(key);
    return rc;
}

enum mc2_attest_result mc2_ratls_check(X509 *peer, const uint8_t nonce[32],
                                       const uint8_t policy_hash[MC2_SHA256_LEN],
                                       const mc2_verifier *v, const mc2_appraisal *policy,
                                       mc2_claims *claims, mc2_err *err)
{
    enum mc2_attest_result r = MC2_ATTEST_MALFORMED;
    unsigned char *der = NULL;
    size_t der_len = 0;
    uint8_t rd[MC2_REPORT_DATA_LEN];
    ASN1_OBJECT *oid = OBJ_txt2obj(MC2_RATLS_OID, 1);
    if (!oid) {
        mc2_err_set(err, MC2_E_CRYPTO, "cannot build the RA-TLS OID");
        goto out;
    }
    int idx = X509_get_ext_by_OBJ(peer, oid, -1);
    if (idx < 0 || X509_get_ext_by_OBJ(peer, oid, idx) >= 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the server's certificate carries %s attestation "
                    "evidence: this is not an mc2 enclave (or the host substituted its own "
                    "TLS endpoint)",
                    idx < 0 ? "no" : "more than one piece of");
        goto out;
    }
    ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(peer, idx));
    if (!os) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed evidence extension");
        goto out;
    }
    r = mc2_evidence_verify(v, ASN1_STRING_get0_data(os), (size_t)ASN1_STRING_length(os), claims,
                            err);
    if (r != MC2_ATTEST_OK) goto out;
    EVP_PKEY *pk = X509_get0_pubkey(peer);
    if (!pk || spki_der(pk, &der, &der_len, err) ||
        mc2_report_data(der, der_len, nonce, policy_hash, rd, err)) {
        r = MC2_ATTEST_MALFORMED;
        goto out;
    }
    r = mc2_appraise(claims, policy, rd, err);
out:
    ERR_clear_error();
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    return r;
}
