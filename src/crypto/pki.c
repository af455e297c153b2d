/* pki.c - Ed25519 private keys as PKCS#8 PEM, self-signed X.509 v3 certificates and
 * fingerprints, over OpenSSL 3's EVP_PKEY, PEM and X509 interfaces. */
#include "crypto/pki.h"

#include <assert.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "crypto/ossl.h"

/* A PEM password callback that refuses: mc2 never prompts on a terminal for a key. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* A read-only memory BIO over untrusted PEM text, after checking its size. */
static BIO *pem_bio(const char *pem, size_t n, const char *what, mc2_err *err)
{
    if (n == 0) {
        mc2_err_set(err, MC2_E_INPUT, "%s: the input is empty", what);
        return NULL;
    }
    if (n > MC2_PEM_MAX) {
        mc2_err_set(err, MC2_E_LIMIT, "%s: %zu bytes is too long for PEM (at most %d)", what, n,
                    MC2_PEM_MAX);
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(pem, (int)n);
    if (!b) mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory reading PEM");
    return b;
}

/* Appends the contents of a memory BIO to *out. */
static int bio_append(BIO *b, mc2_buf *out, mc2_err *err)
{
    char *p = NULL;
    long len = BIO_get_mem_data(b, &p);
    if (len <= 0 || !p) return mc2_err_set(err, MC2_E_CRYPTO, "OpenSSL wrote no PEM output");
    return mc2_buf_append(out, p, (size_t)len, err);
}

/* Parses the first certificate of pem[0..n). */
static X509 *read_cert(const char *pem, size_t n, mc2_err *err)
{
    BIO *b = pem_bio(pem, n, "certificate", err);
    if (!b) return NULL;
    X509 *x = PEM_read_bio_X509(b, NULL, no_password, NULL);
    BIO_free(b);
    if (!x)
        mc2_ossl_fail(err, MC2_E_INPUT,
                      "not a PEM X.509 certificate (expected '-----BEGIN CERTIFICATE-----')");
    return x;
}

/* The certificate's public key, if it is Ed25519 (borrowed from x). */
static EVP_PKEY *cert_ed25519_key(X509 *x, mc2_err *err)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    if (!k) {
        mc2_ossl_fail(err, MC2_E_INPUT, "the certificate's public key cannot be decoded");
        return NULL;
    }
    if (!EVP_PKEY_is_a(k, "ED25519")) {
        const char *t = EVP_PKEY_get0_type_name(k);
        mc2_err_set(err, MC2_E_INPUT, "the certificate holds a %s key; mc2 identities use Ed25519",
                    t ? t : "non-Ed25519");
        return NULL;
    }
    return k;
}

/* ---- private keys ------------------------------------------------------------------------- */

int mc2_ed25519_sec_to_pem(const uint8_t sec[MC2_ED25519_SEC_LEN], mc2_buf *out, mc2_err *err)
{
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    int rc = -1;

    out->secret = 1;
    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, MC2_ED25519_SEC_LEN);
    if (!k) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "Ed25519: loading the private key failed");
        goto out;
    }
    /* A secure-heap memory BIO: OpenSSL wipes its buffer when it grows or is freed. */
    b = BIO_new(BIO_s_secmem());
    if (!b) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory encoding a private key");
        goto out;
    }
    if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "encoding the private key as PKCS#8 PEM failed");
        goto out;
    }
    if (bio_append(b, out, err)) goto out;
    rc = 0;
out:
    if (b) {
        char *p = NULL;
        long len = BIO_get_mem_data(b, &p);
        if (len > 0 && p) OPENSSL_cleanse(p, (size_t)len);
        BIO_free(b);
    }
    EVP_PKEY_free(k);
    return rc;
}

int mc2_ed25519_sec_from_pem(const char *pem, size_t n, uint8_t sec[MC2_ED25519_SEC_LEN],
                             mc2_err *err)
{
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    size_t len = MC2_ED25519_SEC_LEN;
    int rc = -1;

    b = pem_bio(pem, n, "private key", err);
    if (!b) goto out;
    k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
    if (!k) {
        static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
        if (memmem(pem, n, enc, sizeof enc - 1)) {
            ERR_clear_error();
            mc2_err_set(err, MC2_E_INPUT,
                        "the private key is encrypted; mc2 reads only unencrypted PKCS#8 "
                        "keys (protect the file with its mode, 0600)");
        } else {
            mc2_ossl_fail(err, MC2_E_INPUT,
                          "not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')");
        }
        goto out;
    }
    if (!EVP_PKEY_is_a(k, "ED25519")) {
        const char *t = EVP_PKEY_get0_type_name(k);
        mc2_err_set(err, MC2_E_INPUT, "the file holds a %s private key; mc2 identities use Ed25519",
                    t ? t : "non-Ed25519");
        goto out;
    }
    if (EVP_PKEY_get_raw_private_key(k, sec, &len) != 1 || len != MC2_ED25519_SEC_LEN) {
        mc2_ossl_fail(err, MC2_E_INPUT, "the Ed25519 private key cannot be extracted");
        goto out;
    }
    rc = 0;
out:
    if (rc) OPENSSL_cleanse(sec, MC2_ED25519_SEC_LEN);
    EVP_PKEY_free(k); /* cleanses OpenSSL's copy */
    BIO_free(b);
    ERR_clear_error(); /* the PEM decoder may queue errors even when it succeeds */
    return rc;
}

/* ---- certificates ------------------------------------------------------------------------- */

/* Adds one extension, given in openssl.cnf syntax, to x (its own issuer). */
static int add_ext(X509 *x, int nid, const char *value, mc2_err *err)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e) return mc2_ossl_fail(err, MC2_E_CRYPTO, "building a certificate extension failed");
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (ok != 1) return mc2_ossl_fail(err, MC2_E_CRYPTO, "adding a certificate extension failed");
    return 0;
}

/* Sets a random positive serial of 128 bits (RFC 5280: positive, at most 20 octets). */
static int set_serial(X509 *x, mc2_err *err)
{
    uint8_t r[16];
    BIGNUM *bn = NULL;
    int rc = -1;
    do {
        if (mc2_random(r, sizeof r, err)) return -1;
        BN_free(bn);
        bn = BN_bin2bn(r, (int)sizeof r, NULL);
        if (!bn) return mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory making a serial number");
    } while (BN_is_zero(bn));
    if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "setting the certificate serial number failed");
        goto out;
    }
    rc = 0;
out:
    BN_free(bn);
    return rc;
}

int mc2_x509_self_signed(const uint8_t sec[MC2_ED25519_SEC_LEN], const char *common_name,
                         unsigned days, mc2_buf *pem_out, mc2_err *err)
{
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    BIO *b = NULL;
    int rc = -1;
    size_t cn_len = strlen(common_name);

    if (cn_len == 0 || cn_len > MC2_CN_MAX)
        return mc2_err_set(err, MC2_E_USAGE,
                           "a certificate common name must be 1 to %d bytes long, not %zu",
                           MC2_CN_MAX, cn_len);
    for (size_t i = 0; i < cn_len; i++)
        if ((unsigned char)common_name[i] < 0x20 || common_name[i] == 0x7f)
            return mc2_err_set(err, MC2_E_USAGE,
                               "a certificate common name must not contain control characters");
    if (days == 0 || days > MC2_CERT_DAYS_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "a certificate must be valid for 1 to %d days, not %u",
                           MC2_CERT_DAYS_MAX, days);

    k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, MC2_ED25519_SEC_LEN);
    x = X509_new();
    name = X509_NAME_new();
    if (!k || !x || !name) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory building a certificate");
        goto out;
    }
    if (X509_set_version(x, X509_VERSION_3) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "setting the certificate version failed");
        goto out;
    }
    if (set_serial(x, err)) goto out;
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                   (int)cn_len, -1, 0) != 1) {
        mc2_ossl_fail(err, MC2_E_USAGE,
                      "the certificate common name is not valid UTF-8 or is too long");
        goto out;
    }
    if (X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "setting the certificate names failed");
        goto out;
    }
    /* Back-date an hour so a peer whose clock runs a little behind accepts it. */
    if (!X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL)) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "setting the certificate validity failed");
        goto out;
    }
    if (X509_set_pubkey(x, k) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "setting the certificate public key failed");
        goto out;
    }
    if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE", err) ||
        add_ext(x, NID_key_usage, "critical,digitalSignature", err) ||
        add_ext(x, NID_subject_key_identifier, "hash", err))
        goto out;
    /* Ed25519 takes no separate digest. */
    if (X509_sign(x, k, NULL) <= 0) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "signing the certificate failed");
        goto out;
    }
    b = BIO_new(BIO_s_mem());
    if (!b) {
        mc2_ossl_fail(err, MC2_E_NOMEM, "out of memory encoding a certificate");
        goto out;
    }
    if (PEM_write_bio_X509(b, x) != 1) {
        mc2_ossl_fail(err, MC2_E_CRYPTO, "encoding the certificate as PEM failed");
        goto out;
    }
    if (bio_append(b, pem_out, err)) goto out;
    rc = 0;
out:
    BIO_free(b);
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(k); /* cleanses OpenSSL's copy of the private key */
    return rc;
}

int mc2_x509_info(const char *pem, size_t n, uint8_t pub[MC2_ED25519_PUB_LEN], char *cn,
                  size_t cn_cap, mc2_err *err)
{
    X509 *x = NULL;
    unsigned char *utf8 = NULL;
    size_t len = MC2_ED25519_PUB_LEN;
    int rc = -1;

    assert(cn && cn_cap >= 1);
    cn[0] = '\0';
    x = read_cert(pem, n, err);
    if (!x) goto out;
    EVP_PKEY *k = cert_ed25519_key(x, err);
    if (!k) goto out;
    if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != MC2_ED25519_PUB_LEN) {
        mc2_ossl_fail(err, MC2_E_INPUT, "the certificate's Ed25519 key cannot be extracted");
        goto out;
    }

    const X509_NAME *subj = X509_get_subject_name(x);
    int at = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (at < 0) {
        mc2_err_set(err, MC2_E_INPUT, "the certificate's subject has no common name (CN)");
        goto out;
    }
    if (X509_NAME_get_index_by_NID(subj, NID_commonName, at) >= 0) {
        mc2_err_set(err, MC2_E_INPUT, "the certificate's subject has more than one common name");
        goto out;
    }
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, at));
    int ulen = s ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
    if (ulen < 0) {
        mc2_ossl_fail(err, MC2_E_INPUT, "the certificate's common name cannot be decoded");
        goto out;
    }
    if (memchr(utf8, '\0', (size_t)ulen)) {
        mc2_err_set(err, MC2_E_INPUT, "the certificate's common name contains a NUL byte");
        goto out;
    }
    if ((size_t)ulen > cn_cap - 1) {
        mc2_err_set(err, MC2_E_LIMIT,
                    "the certificate's common name is %d bytes long; at most %zu are allowed", ulen,
                    cn_cap - 1);
        goto out;
    }
    memcpy(cn, utf8, (size_t)ulen);
    cn[ulen] = '\0';
    rc = 0;
out:
    if (rc) {
        cn[0] = '\0';
        memset(pub, 0, MC2_ED25519_PUB_LEN);
    }
    OPENSSL_free(utf8);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* Formats an ASN1_TIME as "YYYY-MM-DD HH:MM:SS UTC" (or "an unreadable time"). */
static void time_text(const ASN1_TIME *t, char *out, size_t cap)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, cap, "an unreadable time");
}

int mc2_x509_verify_self_signed(const char *pem, size_t n, mc2_err *err)
{
    char when[64];
    int rc = -1;
    X509 *x = read_cert(pem, n, err);
    if (!x) goto out;
    EVP_PKEY *k = cert_ed25519_key(x, err);
    if (!k) goto out;
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "the certificate is not self-signed: its issuer differs from its subject");
        goto out;
    }
    if (X509_verify(x, k) != 1) {
        ERR_clear_error();
        mc2_err_set(err, MC2_E_AUTH,
                    "the certificate's signature does not verify with its own key (altered "
                    "or not self-signed)");
        goto out;
    }
    /* X509_cmp_current_time: -1 if the time is not after now, 1 if after, 0 if malformed. */
    const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
    int cb = X509_cmp_current_time(nb), ca = X509_cmp_current_time(na);
    if (cb == 0 || ca == 0) {
        mc2_err_set(err, MC2_E_INPUT, "the certificate's validity dates are malformed");
        goto out;
    }
    if (cb > 0) {
        time_text(nb, when, sizeof when);
        mc2_err_set(err, MC2_E_AUTH,
                    "the certificate is not valid yet (notBefore %s); check this machine's "
                    "clock",
                    when);
        goto out;
    }
    if (ca < 0) {
        time_text(na, when, sizeof when);
        mc2_err_set(err, MC2_E_AUTH, "the certificate expired (notAfter %s); issue a new one",
                    when);
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* ---- fingerprints ------------------------------------------------------------------------- */

void mc2_fingerprint(const uint8_t pub[MC2_ED25519_PUB_LEN], char out[MC2_FINGERPRINT_LEN])
{
    uint8_t h[MC2_SHA256_LEN];
    /* SHA-256 fails only when OpenSSL cannot allocate a context; the void contract leaves
     * no way to report that, and a wrong fingerprint would be worse than stopping. */
    if (mc2_sha256(pub, MC2_ED25519_PUB_LEN, h, NULL)) MC2_PANIC("SHA-256 failed (out of memory)");
    memcpy(out, "SHA256:", 7);
    mc2_hex_encode(h, sizeof h, out + 7);
}
