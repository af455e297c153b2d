/* mc2/crypto.h - the crypto core: thin wrappers over OpenSSL 3's EVP interfaces. No
 * primitive is implemented here by hand. Every function that can fail returns 0 on success
 * and -1 with *err set; error messages never contain key material or plaintext. */
#ifndef MC2_CRYPTO_H
#define MC2_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC2_KEY_LEN         32 /* AES-256 and HKDF output keys */
#define MC2_NONCE_LEN       12 /* AES-GCM nonce */
#define MC2_TAG_LEN         16 /* AES-GCM tag */
#define MC2_SHA256_LEN      32
#define MC2_ED25519_PUB_LEN 32
#define MC2_ED25519_SEC_LEN 32 /* the seed */
#define MC2_ED25519_SIG_LEN 64
#define MC2_X25519_LEN      32

/* ---- AES-256-GCM ------------------------------------------------------------------------ */

/* A keyed AES-256-GCM context, reusable for many seal/open calls (keying once keeps
 * per-block overhead small). Not thread-safe: one per thread. */
typedef struct mc2_aead mc2_aead;

/* Creates a context for the 32-byte key (the key is copied into OpenSSL's schedule). */
mc2_aead *mc2_aead_new(const uint8_t key[MC2_KEY_LEN], mc2_err *err);
/* Frees the context, wiping its key schedule. NULL is a no-op. */
void mc2_aead_free(mc2_aead *a);

/* Encrypts pt[0..n) into ct[0..n) (ct may equal pt) and writes the 16-byte tag.
 * The caller guarantees that (key, nonce) is never used twice. */
int mc2_aead_seal(mc2_aead *a, const uint8_t nonce[MC2_NONCE_LEN], const uint8_t *aad,
                  size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                  uint8_t tag[MC2_TAG_LEN], mc2_err *err) MC2_WUR;

/* Decrypts ct[0..n) into pt[0..n) (pt may equal ct) and checks the tag. If the tag does not
 * verify, pt is wiped (no unauthenticated plaintext is released) and -1 is returned with
 * MC2_E_AUTH. */
int mc2_aead_open(mc2_aead *a, const uint8_t nonce[MC2_NONCE_LEN], const uint8_t *aad,
                  size_t aad_len, const uint8_t *ct, size_t n, const uint8_t tag[MC2_TAG_LEN],
                  uint8_t *pt, mc2_err *err) MC2_WUR;

/* General AES-GCM (any key size OpenSSL supports: 16, 24, 32 bytes; IV of 1..128 bytes,
 * the most OpenSSL 3.0 accepts (longer: MC2_E_LIMIT, empty: MC2_E_USAGE);
 * tag of 4..16 bytes), one shot. For test vectors and interop; mc2's formats use the
 * fixed-size calls above. open returns MC2_E_AUTH on tag mismatch and wipes pt. */
int mc2_gcm_seal_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct,
                    uint8_t *tag, size_t tag_len, mc2_err *err) MC2_WUR;
int mc2_gcm_open_ex(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
                    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t n,
                    const uint8_t *tag, size_t tag_len, uint8_t *pt, mc2_err *err) MC2_WUR;

/* ---- hashing and key derivation ---------------------------------------------------------- */

/* SHA-256 of p[0..n). */
int mc2_sha256(const void *p, size_t n, uint8_t out[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;

/* Incremental SHA-256. */
typedef struct mc2_sha256_ctx mc2_sha256_ctx;
mc2_sha256_ctx *mc2_sha256_new(mc2_err *err);
int mc2_sha256_update(mc2_sha256_ctx *c, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* Writes the digest and frees c. */
int mc2_sha256_final(mc2_sha256_ctx *c, uint8_t out[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;
void mc2_sha256_free(mc2_sha256_ctx *c);

/* HKDF-SHA256 (RFC 5869): extract with salt (may be empty), expand with info to out_len
 * bytes (1..255*32). info is at most 1024 bytes (OpenSSL 3.0's limit; MC2_E_LIMIT beyond). */
int mc2_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len,
                    mc2_err *err) MC2_WUR;

/* HMAC-SHA256 (RFC 2104) of msg[0..n) under key[0..key_len) (key_len 1..1024). */
int mc2_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t n,
                    uint8_t out[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;

/* ---- signatures and key agreement -------------------------------------------------------- */

/* Ed25519 key pair from the OS CSPRNG. */
int mc2_ed25519_keygen(uint8_t pub[MC2_ED25519_PUB_LEN], uint8_t sec[MC2_ED25519_SEC_LEN],
                       mc2_err *err) MC2_WUR;
/* Public key for a secret seed. */
int mc2_ed25519_public(const uint8_t sec[MC2_ED25519_SEC_LEN], uint8_t pub[MC2_ED25519_PUB_LEN],
                       mc2_err *err) MC2_WUR;
/* Signs msg with the secret seed (pure Ed25519, RFC 8032). */
int mc2_ed25519_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const void *msg, size_t n,
                     uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err) MC2_WUR;
/* Verifies; 0 if valid, -1 with MC2_E_AUTH if not (including malformed keys/signatures).
 * sig_len other than 64 is rejected. */
int mc2_ed25519_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const void *msg, size_t n,
                       const uint8_t *sig, size_t sig_len, mc2_err *err) MC2_WUR;

/* X25519 key pair, and the shared secret. Fails (MC2_E_AUTH) if the shared secret is all
 * zeros (a low-order peer key), as RFC 7748 section 6.1 recommends. */
int mc2_x25519_keygen(uint8_t pub[MC2_X25519_LEN], uint8_t sec[MC2_X25519_LEN],
                      mc2_err *err) MC2_WUR;
int mc2_x25519(const uint8_t sec[MC2_X25519_LEN], const uint8_t peer_pub[MC2_X25519_LEN],
               uint8_t shared[MC2_X25519_LEN], mc2_err *err) MC2_WUR;

/* ---- randomness and hygiene --------------------------------------------------------------- */

/* n bytes from OpenSSL's CSPRNG (seeded by the OS). */
int mc2_random(void *out, size_t n, mc2_err *err) MC2_WUR;
/* Constant-time equality of two n-byte strings: 1 if equal, 0 if not. Time depends only
 * on n. */
int mc2_ct_equal(const void *a, const void *b, size_t n);
/* Wipes n bytes in a way the compiler cannot remove. */
void mc2_wipe(void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
