/* mc2/identity.h - a party's identity and keys on its own machine ($MC2_HOME):
 *   identity.key  Ed25519 private key, PEM (PKCS#8), mode 0600
 *   identity.crt  self-signed X.509 v3 certificate, CN = the party's name
 *   data.key      the 256-bit data key, mode 0600
 *   config.yaml   name, file names, service address
 *   catalog       the tables this party uploaded, per consortium (mc2/catalog.h), with
 *                 catalog.prev (its content before the last change) and catalog.lock
 * Keys never leave this machine except the data key, and that only to an attested enclave. */
#ifndef MC2_IDENTITY_H
#define MC2_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC2_NAME_MAX         64 /* bytes in a party name */
#define MC2_FINGERPRINT_TEXT 72 /* "SHA256:" + 64 hex digits + NUL */
#define MC2_DEFAULT_SERVICE  "127.0.0.1:7350"

/* A loaded identity. Holds secrets: release with mc2_identity_free, which wipes them. */
typedef struct mc2_identity {
    char *home;
    char name[MC2_NAME_MAX + 1];
    uint8_t pub[MC2_ED25519_PUB_LEN];
    uint8_t sec[MC2_ED25519_SEC_LEN];
    uint8_t data_key[MC2_KEY_LEN];
    char *cert_pem;
    char *service; /* host:port of mc2d from config.yaml */
} mc2_identity;

/* The home directory to use: `flag` if not NULL, else $MC2_HOME, else $HOME/.mc2.
 * Returns a malloc'd string, or NULL with *err set. */
char *mc2_home_resolve(const char *flag, mc2_err *err);

/* Creates a new identity in home (created with mode 0700 if missing): fresh Ed25519 key,
 * certificate for CN=name valid 10 years, fresh data key, config. Refuses with
 * MC2_E_EXISTS if any of the four files exists (nothing is touched then); if writing fails
 * midway, files created by this call are removed again. */
int mc2_identity_create(const char *home, const char *name, mc2_err *err) MC2_WUR;

/* Loads the identity in home: checks key files are not readable by group or others, that the
 * certificate's key matches the private key, and the data key's format. */
int mc2_identity_load(const char *home, mc2_identity *id, mc2_err *err) MC2_WUR;

/* Wipes the secrets and frees the strings. */
void mc2_identity_free(mc2_identity *id);

/* "SHA256:" + hex of SHA-256 over the raw 32-byte public key. */
void mc2_identity_fingerprint(const uint8_t pub[MC2_ED25519_PUB_LEN],
                              char out[MC2_FINGERPRINT_TEXT]);

#ifdef __cplusplus
}
#endif
#endif
