/* hash.c - SHA-256 (one shot and incremental) and HKDF-SHA256 over OpenSSL's EVP_MD and
 * EVP_KDF interfaces. */
#include "mc2/crypto.h"

#include <assert.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "base/alloc.h"
#include "crypto/ossl.h"

/* OpenSSL 3.0's HKDF keeps `info` in a fixed 1024-byte buffer (HKDF_MAXBUF). */
#define HKDF_MAX_INFO 1024
#define HKDF_MAX_OUT  (255 * MC2_SHA256_LEN)

struct mc2_sha256_ctx {
    EVP_MD_CTX *md;
};

int mc2_sha256(const void *p, size_t n, uint8_t out[MC2_SHA256_LEN], mc2_err *err)
{
    unsigned int len = 0;
    assert(n == 0 || p);
    if (EVP_Digest(n ? p : "", n, out, &len, EVP_sha256(), NULL) != 1 || len != MC2_SHA256_LEN)
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "SHA-256 failed");
    return 0;
}

mc2_sha256_ctx *mc2_sha256_new(mc2_err *err)
{
    mc2_sha256_ctx *c = mc2_calloc(1, sizeof *c);
    if (!c) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory creating a SHA-256 context");
        return NULL;
    }
    c->md = EVP_MD_CTX_new();
    if (!c->md) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating a SHA-256 context");
        goto fail;
    }
    if (EVP_DigestInit_ex2(c->md, EVP_sha256(), NULL) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "SHA-256 initialisation failed");
        goto fail;
    }
    return c;
fail:
    mc2_sha256_free(c);
    return NULL;
}

int mc2_sha256_update(mc2_sha256_ctx *c, const void *p, size_t n, mc2_err *err)
{
    assert(c && (n == 0 || p));
    if (n == 0) return 0;
    if (EVP_DigestUpdate(c->md, p, n) != 1)
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "SHA-256 update failed");
    return 0;
}

int mc2_sha256_final(mc2_sha256_ctx *c, uint8_t out[MC2_SHA256_LEN], mc2_err *err)
{
    unsigned int len = 0;
    int rc = 0;
    assert(c);
    if (EVP_DigestFinal_ex(c->md, out, &len) != 1 || len != MC2_SHA256_LEN)
        rc = mc2_ossl_fail(err, MC2_E_CRYPTO, "SHA-256 finalisation failed");
    mc2_sha256_free(c);
    return rc;
}

void mc2_sha256_free(mc2_sha256_ctx *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->md); /* cleanses the hash state */
    mc2_free(c);
}

int mc2_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len,
                    mc2_err *err)
{
    /* OSSL_PARAM wants a non-NULL pointer even for an empty string. */
    static const uint8_t empty[1];
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[5];
    size_t np = 0;
    int rc = -1;

    assert(out && (ikm_len == 0 || ikm) && (salt_len == 0 || salt) && (info_len == 0 || info));
    if (out_len == 0 || out_len > HKDF_MAX_OUT)
        return mc2_err_set(err, MC2_E_USAGE,
                           "HKDF-SHA256: output length must be 1 to %d bytes, not %zu",
                           HKDF_MAX_OUT, out_len);
    if (info_len > HKDF_MAX_INFO)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "HKDF-SHA256: info of %zu bytes exceeds OpenSSL's limit of %d bytes",
                           info_len, HKDF_MAX_INFO);

    kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "HKDF is not available from OpenSSL");
        goto out;
    }
    kctx = EVP_KDF_CTX_new(kdf);
    if (!kctx) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an HKDF context");
        goto out;
    }
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                     (void *)(ikm_len ? ikm : empty), ikm_len);
    /* An absent salt is RFC 5869's default: HashLen zero bytes. */
    if (salt_len)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len)
        params[np++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[np] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "HKDF-SHA256 derivation failed");
        goto out;
    }
    rc = 0;
out:
    if (rc) OPENSSL_cleanse(out, out_len);
    EVP_KDF_CTX_free(kctx); /* cleanses its copies of ikm, salt and info */
    EVP_KDF_free(kdf);
    return rc;
}

int mc2_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t n,
                    uint8_t out[MC2_SHA256_LEN], mc2_err *err)
{
    size_t len = 0;
    assert(key && out && (n == 0 || msg));
    if (key_len == 0 || key_len > 1024)
        return mc2_err_set(err, MC2_E_USAGE, "HMAC-SHA256: key of %zu bytes (1 to 1024)", key_len);
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, n ? msg : "", n, out,
                   MC2_SHA256_LEN, &len) ||
        len != MC2_SHA256_LEN) {
        OPENSSL_cleanse(out, MC2_SHA256_LEN);
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "HMAC-SHA256 failed");
    }
    return 0;
}
