/* sign.c - Ed25519 signatures (RFC 8032, pure) and X25519 key agreement (RFC 7748) over
 * OpenSSL's EVP_PKEY interface with raw 32-byte keys. */
#include "mc2/crypto.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/ossl.h"

/* Writes the raw public key of a raw private key of type `type` (Ed25519 or X25519). */
static int raw_public(int type, const char *alg, const uint8_t sec[32], uint8_t pub[32],
                      mc2_err *err)
{
    size_t len = 32;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(type, NULL, sec, 32);
    if (!k) return mc2_ossl_fail(err, MC2_E_CRYPTO, alg);
    int ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == 32;
    EVP_PKEY_free(k); /* cleanses OpenSSL's copy of the private key */
    if (!ok) return mc2_ossl_fail(err, MC2_E_CRYPTO, alg);
    return 0;
}

/* ---- Ed25519 ----------------------------------------------------------------------------- */

int mc2_ed25519_keygen(uint8_t pub[MC2_ED25519_PUB_LEN], uint8_t sec[MC2_ED25519_SEC_LEN],
                       mc2_err *err)
{
    if (mc2_random(sec, MC2_ED25519_SEC_LEN, err)) return -1;
    if (mc2_ed25519_public(sec, pub, err)) {
        OPENSSL_cleanse(sec, MC2_ED25519_SEC_LEN);
        return -1;
    }
    return 0;
}

int mc2_ed25519_public(const uint8_t sec[MC2_ED25519_SEC_LEN], uint8_t pub[MC2_ED25519_PUB_LEN],
                       mc2_err *err)
{
    return raw_public(EVP_PKEY_ED25519, "Ed25519: deriving the public key failed", sec, pub, err);
}

int mc2_ed25519_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const void *msg, size_t n,
                     uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err)
{
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *md = NULL;
    size_t sig_len = MC2_ED25519_SIG_LEN;
    int rc = -1;
    assert(n == 0 || msg);

    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, MC2_ED25519_SEC_LEN);
    if (!k) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "Ed25519: loading the private key failed");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (!md) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an Ed25519 context");
        goto out;
    }
    /* Pure Ed25519 takes no digest: the message is hashed inside the scheme. */
    if (EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, k, NULL) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, n ? msg : (const void *)"", n) != 1 ||
        sig_len != MC2_ED25519_SIG_LEN) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "Ed25519: signing failed");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

int mc2_ed25519_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const void *msg, size_t n,
                       const uint8_t *sig, size_t sig_len, mc2_err *err)
{
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = -1;
    assert(n == 0 || msg);

    if (sig_len != MC2_ED25519_SIG_LEN)
        return mc2_err_set(err, MC2_E_AUTH,
                           "Ed25519: a signature must be %d bytes long, this one is %zu",
                           MC2_ED25519_SIG_LEN, sig_len);
    k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, MC2_ED25519_PUB_LEN);
    if (!k) {
        mc2_ossl_fail(err, MC2_E_AUTH, "Ed25519: the public key is malformed");
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (!md) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an Ed25519 context");
        goto out;
    }
    if (EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, k, NULL) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "Ed25519: verifier setup failed");
        goto out;
    }
    /* 1 means valid; 0 (bad signature) and <0 (malformed key or signature) both reject. */
    if (EVP_DigestVerify(md, sig, sig_len, n ? msg : (const void *)"", n) != 1) {
        ERR_clear_error();
        mc2_err_set(err, MC2_E_AUTH,
                    "Ed25519: the signature does not verify (wrong key, altered message or "
                    "corrupt signature)");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

/* ---- X25519 ------------------------------------------------------------------------------ */

int mc2_x25519_keygen(uint8_t pub[MC2_X25519_LEN], uint8_t sec[MC2_X25519_LEN], mc2_err *err)
{
    if (mc2_random(sec, MC2_X25519_LEN, err)) return -1;
    if (raw_public(EVP_PKEY_X25519, "X25519: deriving the public key failed", sec, pub, err)) {
        OPENSSL_cleanse(sec, MC2_X25519_LEN);
        return -1;
    }
    return 0;
}

int mc2_x25519(const uint8_t sec[MC2_X25519_LEN], const uint8_t peer_pub[MC2_X25519_LEN],
               uint8_t shared[MC2_X25519_LEN], mc2_err *err)
{
    static const uint8_t zero[MC2_X25519_LEN];
    EVP_PKEY *k = NULL, *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t len = MC2_X25519_LEN;
    int rc = -1;

    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sec, MC2_X25519_LEN);
    if (!k) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "X25519: loading the private key failed");
        goto out;
    }
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, MC2_X25519_LEN);
    if (!peer) {
        mc2_ossl_fail(err, MC2_E_AUTH, "X25519: the peer's public key is malformed");
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    if (!ctx) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an X25519 context");
        goto out;
    }
    if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "X25519: key agreement setup failed");
        goto out;
    }
    /* OpenSSL itself refuses an all-zero result (its derive then fails); the check below
     * states the rule here too, so it does not rest on a library detail. */
    if (EVP_PKEY_derive(ctx, shared, &len) != 1 || len != MC2_X25519_LEN) {
        ERR_clear_error();
        mc2_err_set(err, MC2_E_AUTH,
                    "X25519: key agreement failed; the peer's public key is most likely a "
                    "low-order point (the shared secret would be all zeros)");
        goto out;
    }
    if (CRYPTO_memcmp(shared, zero, MC2_X25519_LEN) == 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "X25519: the peer's public key is a low-order point (the shared secret "
                    "is all zeros); refusing it");
        goto out;
    }
    rc = 0;
out:
    if (rc) OPENSSL_cleanse(shared, MC2_X25519_LEN);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(k);
    return rc;
}
