/* pki.h - identity helpers for the CLI (internal to libmc2): Ed25519 private keys as PKCS#8
 * PEM, self-signed X.509 v3 certificates, and public-key fingerprints. All on OpenSSL 3.
 * Functions that can fail return 0 on success and -1 with *err set; messages never contain
 * key material. */
#ifndef MC2_CRYPTO_PKI_H
#define MC2_CRYPTO_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/crypto.h"
#include "mc2/err.h"

/* "SHA256:" + 64 lowercase hex digits + NUL. */
#define MC2_FINGERPRINT_LEN (7 + 64 + 1)
/* Largest PEM text the parsers below accept (MC2_E_LIMIT beyond). */
#define MC2_PEM_MAX (64 * 1024)
/* Longest common name mc2_x509_self_signed writes (RFC 5280's ub-common-name). */
#define MC2_CN_MAX 64
/* Longest certificate lifetime mc2_x509_self_signed accepts, in days. */
#define MC2_CERT_DAYS_MAX 36500

/* Appends the 32-byte Ed25519 seed `sec` to *out as PKCS#8 PEM ("-----BEGIN PRIVATE
 * KEY-----", no NUL terminator). Marks *out secret (it is wiped when it grows or is freed);
 * OpenSSL's working copies are wiped too. */
int mc2_ed25519_sec_to_pem(const uint8_t sec[MC2_ED25519_SEC_LEN], mc2_buf *out,
                           mc2_err *err) MC2_WUR;

/* Parses an unencrypted PEM private key from pem[0..n) (no terminator needed) and writes its
 * 32-byte seed to sec. Anything but an Ed25519 private key (another key type, an encrypted
 * key, a certificate, garbage) is MC2_E_INPUT; n > MC2_PEM_MAX is MC2_E_LIMIT. sec is
 * wiped on failure. */
int mc2_ed25519_sec_from_pem(const char *pem, size_t n, uint8_t sec[MC2_ED25519_SEC_LEN],
                             mc2_err *err) MC2_WUR;

/* Appends to *pem_out a PEM X.509 v3 certificate for the key `sec`, self-signed with
 * Ed25519: subject = issuer = CN=common_name (1..MC2_CN_MAX bytes of UTF-8), a random
 * positive 128-bit serial, valid from one hour ago for `days` (1..MC2_CERT_DAYS_MAX) days,
 * extensions basicConstraints (critical, CA:FALSE), keyUsage (critical,
 * digitalSignature) and subjectKeyIdentifier. A bad name or day count is MC2_E_USAGE. */
int mc2_x509_self_signed(const uint8_t sec[MC2_ED25519_SEC_LEN], const char *common_name,
                         unsigned days, mc2_buf *pem_out, mc2_err *err) MC2_WUR;

/* Parses the first PEM certificate in pem[0..n): requires an Ed25519 subject key and
 * exactly one subject CN. Writes the raw public key to pub and the CN, NUL-terminated, to
 * cn[0..cn_cap) (cn_cap >= 1). A CN with an embedded NUL, or longer than cn_cap-1 bytes, is
 * an error. Does not check the signature or the dates (mc2_x509_verify_self_signed does). */
int mc2_x509_info(const char *pem, size_t n, uint8_t pub[MC2_ED25519_PUB_LEN], char *cn,
                  size_t cn_cap, mc2_err *err) MC2_WUR;

/* Checks that the first PEM certificate in pem[0..n) has an Ed25519 key, names itself as
 * issuer, carries a valid signature by its own key, and is valid now (notBefore <= now <
 * notAfter). A failed check is MC2_E_AUTH; unparsable input is MC2_E_INPUT. */
int mc2_x509_verify_self_signed(const char *pem, size_t n, mc2_err *err) MC2_WUR;

/* Writes "SHA256:" + lowercase hex of SHA-256 over the raw 32-byte public key to out.
 * SHA-256 can fail only if OpenSSL runs out of memory; that aborts the process. */
void mc2_fingerprint(const uint8_t pub[MC2_ED25519_PUB_LEN], char out[MC2_FINGERPRINT_LEN]);

#endif
