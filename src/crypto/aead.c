/* aead.c - AES-GCM over OpenSSL's EVP cipher interface: a keyed AES-256-GCM context reused
 * for many blocks (only the nonce changes between calls), and one-shot AES-GCM with any key,
 * IV and tag size OpenSSL supports (for test vectors and interop). */
#include "mc2/crypto.h"

#include <assert.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/alloc.h"
#include "crypto/ossl.h"

/* NIST SP 800-38D section 5.2.1.1: at most 2^39-256 bits of plaintext per (key, IV) and
 * 2^64-1 bits of associated data. */
#define GCM_MAX_PT  ((((uint64_t)1) << 36) - 32)
#define GCM_MAX_AAD ((((uint64_t)1) << 61) - 1)
/* OpenSSL 3's GCM provider accepts IVs of 1..128 bytes (GCM_IV_MAX_SIZE). */
#define GCM_MAX_IV 128
/* EVP takes int lengths: larger buffers are fed in pieces of this size (a multiple of the
 * AES block, so no piece ends in a partial block except the last). */
#define GCM_CHUNK ((size_t)1 << 30)
_Static_assert(GCM_CHUNK <= INT_MAX, "EVP lengths are int");

struct mc2_aead {
    EVP_CIPHER_CTX *enc; /* keyed for sealing; each call only sets a new nonce */
    EVP_CIPHER_CTX *dec; /* keyed for opening */
};

static int check_sizes(size_t aad_len, size_t n, mc2_err *err)
{
    if ((uint64_t)n > GCM_MAX_PT)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "AES-GCM: a message of %zu bytes exceeds the limit of 2^36-32 bytes "
                           "per nonce; split it into smaller blocks",
                           n);
    if ((uint64_t)aad_len > GCM_MAX_AAD)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "AES-GCM: %zu bytes of associated data exceed the limit of 2^61-1",
                           aad_len);
    return 0;
}

/* Feeds in[0..n) through c in int-sized pieces; out is NULL for associated data. */
static int feed(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t n, mc2_err *err)
{
    while (n > 0) {
        size_t len = n < GCM_CHUNK ? n : GCM_CHUNK;
        int outl = 0;
        if (EVP_CipherUpdate(c, out, &outl, in, (int)len) != 1)
            return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM update failed");
        /* GCM is a stream mode: every byte in comes straight out. */
        if (out && (size_t)outl != len)
            return mc2_err_set(err, MC2_E_INTERNAL,
                               "AES-GCM update returned %d bytes for %zu (crypto/aead.c)", outl,
                               len);
        in += len;
        if (out) out += len;
        n -= len;
    }
    return 0;
}

/* Runs GCM on a context already keyed and given its IV: AAD, then in[0..n) -> out, then
 * the tag (written when enc, checked when not: a mismatch is MC2_E_AUTH). On failure out
 * may hold partial output; the caller of a decryption wipes it. */
static int gcm_run(EVP_CIPHER_CTX *c, int enc, const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag_out,
                   const uint8_t *tag_in, size_t tag_len, mc2_err *err)
{
    uint8_t t[16];
    uint8_t fin[16]; /* GCM's final step writes no bytes; EVP still wants a pointer */
    int outl = 0;
    assert(tag_len >= 1 && tag_len <= sizeof t);
    assert(n == 0 || (in && out));
    assert(aad_len == 0 || aad);
    if (!enc) {
        memcpy(t, tag_in, tag_len);
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)tag_len, t) != 1)
            return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM: setting the expected tag failed");
    }
    if (feed(c, NULL, aad, aad_len, err) || feed(c, out, in, n, err)) return -1;
    if (EVP_CipherFinal_ex(c, fin, &outl) != 1) {
        if (enc) return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM: finishing the seal failed");
        ERR_clear_error();
        return mc2_err_set(err, MC2_E_AUTH,
                           "AES-GCM: authentication failed (the ciphertext, tag, nonce or "
                           "associated data was altered, or the key is wrong)");
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)tag_len, tag_out) != 1)
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM: reading the tag failed");
    return 0;
}

mc2_aead *mc2_aead_new(const uint8_t key[MC2_KEY_LEN], mc2_err *err)
{
    EVP_CIPHER *cipher = NULL;
    mc2_aead *a = mc2_calloc(1, sizeof *a);
    if (!a) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory creating an AES-GCM context");
        return NULL;
    }
    cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!cipher) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-256-GCM is not available from OpenSSL");
        goto fail;
    }
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    if (!a->enc || !a->dec) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an AES-GCM context");
        goto fail;
    }
    /* Key both contexts once; seal and open then only set the nonce. */
    if (EVP_EncryptInit_ex2(a->enc, cipher, key, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(a->dec, cipher, key, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_get_iv_length(a->enc) != MC2_NONCE_LEN ||
        EVP_CIPHER_CTX_get_iv_length(a->dec) != MC2_NONCE_LEN) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-256-GCM key setup failed");
        goto fail;
    }
    EVP_CIPHER_free(cipher);
    return a;
fail:
    EVP_CIPHER_free(cipher);
    mc2_aead_free(a);
    return NULL;
}

void mc2_aead_free(mc2_aead *a)
{
    if (!a) return;
    /* EVP_CIPHER_CTX_free cleanses OpenSSL's copy of the key schedule. */
    EVP_CIPHER_CTX_free(a->enc);
    EVP_CIPHER_CTX_free(a->dec);
    mc2_free(a);
}

int mc2_aead_seal(mc2_aead *a, const uint8_t nonce[MC2_NONCE_LEN], const uint8_t *aad,
                  size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                  uint8_t tag[MC2_TAG_LEN], mc2_err *err)
{
    assert(a && nonce && tag);
    if (check_sizes(aad_len, n, err)) return -1;
    if (EVP_EncryptInit_ex2(a->enc, NULL, NULL, nonce, NULL) != 1)
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM: setting the nonce failed");
    return gcm_run(a->enc, 1, aad, aad_len, pt, n, ct, tag, NULL, MC2_TAG_LEN, err);
}

int mc2_aead_open(mc2_aead *a, const uint8_t nonce[MC2_NONCE_LEN], const uint8_t *aad,
                  size_t aad_len, const uint8_t *ct, size_t n, const uint8_t tag[MC2_TAG_LEN],
                  uint8_t *pt, mc2_err *err)
{
    assert(a && nonce && tag);
    if (check_sizes(aad_len, n, err)) return -1;
    if (EVP_DecryptInit_ex2(a->dec, NULL, NULL, nonce, NULL) != 1)
        return mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM: setting the nonce failed");
    if (gcm_run(a->dec, 0, aad, aad_len, ct, n, pt, NULL, tag, MC2_TAG_LEN, err)) {
        /* No unauthenticated plaintext leaves this function. */
        if (n) OPENSSL_cleanse(pt, n);
        return -1;
    }
    return 0;
}

/* ---- one-shot AES-GCM with any supported sizes ------------------------------------------ */

static int gcm_ex(int enc, const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                  const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                  uint8_t *tag_out, const uint8_t *tag_in, size_t tag_len, mc2_err *err)
{
    const char *name = key_len == 16   ? "AES-128-GCM"
                       : key_len == 24 ? "AES-192-GCM"
                       : key_len == 32 ? "AES-256-GCM"
                                       : NULL;
    EVP_CIPHER *cipher = NULL;
    EVP_CIPHER_CTX *c = NULL;
    int rc = -1, started = 0;

    if (!name)
        return mc2_err_set(err, MC2_E_USAGE, "AES-GCM: a key must be 16, 24 or 32 bytes, not %zu",
                           key_len);
    if (iv_len == 0) return mc2_err_set(err, MC2_E_USAGE, "AES-GCM: the IV must not be empty");
    if (iv_len > GCM_MAX_IV)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "AES-GCM: an IV of %zu bytes is not supported (OpenSSL accepts 1 to "
                           "%d bytes)",
                           iv_len, GCM_MAX_IV);
    if (tag_len < 4 || tag_len > 16)
        return mc2_err_set(err, MC2_E_USAGE, "AES-GCM: a tag must be 4 to 16 bytes long, not %zu",
                           tag_len);
    if (check_sizes(aad_len, n, err)) return -1;

    cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    if (!cipher) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM is not available from OpenSSL");
        goto out;
    }
    c = EVP_CIPHER_CTX_new();
    if (!c) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory creating an AES-GCM context");
        goto out;
    }
    if (EVP_CipherInit_ex2(c, cipher, NULL, NULL, enc, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, (int)iv_len, NULL) != 1 ||
        EVP_CipherInit_ex2(c, NULL, key, iv, enc, NULL) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "AES-GCM key or IV setup failed");
        goto out;
    }
    started = 1;
    rc = gcm_run(c, enc, aad, aad_len, in, n, out, tag_out, tag_in, tag_len, err);
out:
    if (rc && !enc && started && n) OPENSSL_cleanse(out, n);
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(cipher);
    return rc;
}

int mc2_gcm_seal_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                    uint8_t *tag, size_t tag_len, mc2_err *err)
{
    return gcm_ex(1, key, key_len, iv, iv_len, aad, aad_len, pt, n, ct, tag, NULL, tag_len, err);
}

int mc2_gcm_open_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t n,
                    const uint8_t *tag, size_t tag_len, uint8_t *pt, mc2_err *err)
{
    return gcm_ex(0, key, key_len, iv, iv_len, aad, aad_len, ct, n, pt, NULL, tag, tag_len, err);
}
