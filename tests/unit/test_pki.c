/* test_pki.c - identity helpers: Ed25519 PKCS#8 PEM round trips, self-signed certificates
 * (their fields checked with OpenSSL directly), signature and validity checks against
 * certificates altered with OpenSSL, fingerprints, and clear errors for bad input. */
#include "test.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hex.h"
#include "crypto/pki.h"
#include "mc2/crypto.h"

/* ---- helpers built on OpenSSL directly (the oracle, independent of crypto/pki.c) ---------- */

static X509 *cert_from(const mc2_buf *b)
{
    BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

static void cert_to(X509 *x, mc2_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    mc2_err err;
    mc2_buf_reset(out);
    if (!bio || PEM_write_bio_X509(bio, x) != 1) {
        CHECK_MSG(0, "PEM_write_bio_X509 failed");
    } else {
        long n = BIO_get_mem_data(bio, &p);
        CHECK(mc2_buf_append(out, p, (size_t)n, &err) == 0);
    }
    BIO_free(bio);
}

static void key_to_pem(EVP_PKEY *k, mc2_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    mc2_err err;
    mc2_buf_reset(out);
    if (!bio || PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1) {
        CHECK_MSG(0, "PEM_write_bio_PrivateKey failed");
    } else {
        long n = BIO_get_mem_data(bio, &p);
        CHECK(mc2_buf_append(out, p, (size_t)n, &err) == 0);
    }
    BIO_free(bio);
}

static EVP_PKEY *ed_key(const uint8_t sec[32])
{
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, 32);
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* A fresh identity: key pair and its self-signed certificate for `cn`. */
static int make_identity(const char *cn, uint8_t pub[32], uint8_t sec[32], mc2_buf *cert)
{
    mc2_err err;
    if (mc2_ed25519_keygen(pub, sec, &err)) return -1;
    if (mc2_x509_self_signed(sec, cn, 30, cert, &err)) {
        CHECK_MSG(0, "mc2_x509_self_signed: %s", err.msg);
        return -1;
    }
    return 0;
}

/* ---- private keys -------------------------------------------------------------------------- */

static void test_key_pem(void)
{
    uint8_t pub[32], sec[32], back[32];
    mc2_buf pem = {0};
    mc2_err err;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_ed25519_sec_to_pem(sec, &pem, &err) == 0);
    CHECK(pem.secret == 1);
    static const char head[] = "-----BEGIN PRIVATE KEY-----\n";
    static const char tail[] = "-----END PRIVATE KEY-----\n";
    CHECK(pem.len > sizeof head && memcmp(pem.data, head, sizeof head - 1) == 0);
    CHECK(pem.len > sizeof tail &&
          memcmp(pem.data + pem.len - (sizeof tail - 1), tail, sizeof tail - 1) == 0);
    CHECK(mc2_ed25519_sec_from_pem((const char *)pem.data, pem.len, back, &err) == 0);
    CHECK(memcmp(back, sec, 32) == 0);

    /* OpenSSL reads it as a standard Ed25519 PKCS#8 key holding the same seed. */
    BIO *bio = BIO_new_mem_buf(pem.data, (int)pem.len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    uint8_t raw[32];
    size_t rl = sizeof raw;
    CHECK(k && EVP_PKEY_is_a(k, "ED25519") && EVP_PKEY_get_raw_private_key(k, raw, &rl) == 1 &&
          rl == 32 && memcmp(raw, sec, 32) == 0);
    EVP_PKEY_free(k);
    BIO_free(bio);

    /* Appends to what the buffer already holds. */
    size_t first = pem.len;
    CHECK(mc2_ed25519_sec_to_pem(sec, &pem, &err) == 0 && pem.len == 2 * first);
    CHECK(memcmp(pem.data, pem.data + first, first) == 0);
    mc2_buf_free(&pem);
}

/* Expects sec_from_pem to refuse text with code and a message containing `needle`, wiping
 * sec and keeping the text's body out of the message. */
static void expect_key_refused(const char *what, const char *text, size_t n, enum mc2_code code,
                               const char *needle)
{
    uint8_t sec[32];
    mc2_err err;
    mc2_err_clear(&err);
    memset(sec, 0xaa, sizeof sec);
    int rc = mc2_ed25519_sec_from_pem(text, n, sec, &err);
    CHECK_MSG(rc != 0 && err.code == code, "%s: rc %d code %s (%s)", what, rc,
              mc2_code_name(err.code), err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg,
              needle);
    CHECK_MSG(all_zero(sec, sizeof sec), "%s: sec not wiped", what);
    /* No 12-character run of the base64 body appears in the message. */
    for (size_t i = 0; i + 12 <= n && i < 400; i += 6) {
        char frag[13];
        memcpy(frag, text + i, 12);
        frag[12] = '\0';
        if (strspn(frag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 12)
            continue; /* only runs of the base64 body, not the PEM header */
        CHECK_MSG(strstr(err.msg, frag) == NULL, "%s: message quotes the input", what);
    }
}

static void test_key_pem_rejects(void)
{
    mc2_buf pem = {0};
    mc2_err err;

    /* Other key types, written by OpenSSL. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    CHECK(ec != NULL);
    key_to_pem(ec, &pem);
    expect_key_refused("P-256 key", (const char *)pem.data, pem.len, MC2_E_INPUT, "Ed25519");
    EVP_PKEY *xk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    CHECK(xk != NULL);
    key_to_pem(xk, &pem);
    expect_key_refused("X25519 key", (const char *)pem.data, pem.len, MC2_E_INPUT, "Ed25519");
    EVP_PKEY_free(xk);

    /* An encrypted Ed25519 key: refused without prompting for a password. */
    uint8_t pub[32], sec[32];
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    EVP_PKEY *ek = ed_key(sec);
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    CHECK(PEM_write_bio_PKCS8PrivateKey(bio, ek, EVP_aes_256_cbc(), "pw", 2, NULL, NULL) == 1);
    long n = BIO_get_mem_data(bio, &p);
    expect_key_refused("encrypted key", p, (size_t)n, MC2_E_INPUT, "encrypted");
    BIO_free(bio);
    EVP_PKEY_free(ek);

    /* A certificate, garbage, a truncated key, nothing, too much. */
    mc2_buf cert = {0};
    CHECK(mc2_x509_self_signed(sec, "alice", 30, &cert, &err) == 0);
    expect_key_refused("certificate", (const char *)cert.data, cert.len, MC2_E_INPUT,
                       "not a PEM private key");
    const char *junk = "hello, I am not a key\n";
    expect_key_refused("garbage", junk, strlen(junk), MC2_E_INPUT, "not a PEM private key");
    mc2_buf_reset(&pem);
    CHECK(mc2_ed25519_sec_to_pem(sec, &pem, &err) == 0);
    expect_key_refused("truncated", (const char *)pem.data, pem.len / 2, MC2_E_INPUT,
                       "not a PEM private key");
    expect_key_refused("empty", "", 0, MC2_E_INPUT, "empty");
    char *big = calloc(1, MC2_PEM_MAX + 1);
    memset(big, 'A', MC2_PEM_MAX + 1);
    expect_key_refused("oversize", big, MC2_PEM_MAX + 1, MC2_E_LIMIT, "too long");
    free(big);

    EVP_PKEY_free(ec);
    mc2_buf_free(&cert);
    mc2_buf_free(&pem);
}

/* ---- certificates -------------------------------------------------------------------------- */

static void test_cert_fields(void)
{
    uint8_t pub[32], sec[32], got[32];
    char cn[65];
    mc2_buf cert = {0}, cert2 = {0};
    mc2_err err;
    if (make_identity("alice.example", pub, sec, &cert)) return;
    CHECK(memcmp(cert.data, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
    CHECK(mc2_x509_info((const char *)cert.data, cert.len, got, cn, sizeof cn, &err) == 0);
    CHECK(memcmp(got, pub, 32) == 0);
    CHECK(strcmp(cn, "alice.example") == 0);
    CHECK_MSG(mc2_x509_verify_self_signed((const char *)cert.data, cert.len, &err) == 0, "%s",
              err.msg);

    /* Field by field, read with OpenSSL. */
    X509 *x = cert_from(&cert);
    CHECK(x != NULL);
    if (!x) goto out;
    CHECK(X509_get_version(x) == X509_VERSION_3);
    CHECK(X509_get_signature_nid(x) == NID_ED25519);
    CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
    CHECK(X509_NAME_entry_count(X509_get_subject_name(x)) == 1);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    CHECK(bn && !BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bits(bn) <= 128);
    /* 128 random bits: a top byte of zero in 8 tries is a 2^-64 event. */
    CHECK(bn && BN_num_bits(bn) > 64);
    BN_free(bn);
    time_t now = time(NULL);
    int day = 0, sec_diff = 0;
    CHECK(ASN1_TIME_diff(&day, &sec_diff, NULL, X509_get0_notBefore(x)) == 1);
    long nb = day * 86400L + sec_diff; /* notBefore - now, seconds */
    CHECK_MSG(nb <= -3600 + 60 && nb >= -3600 - 300, "notBefore is %ld s from now", nb);
    CHECK(ASN1_TIME_diff(&day, &sec_diff, NULL, X509_get0_notAfter(x)) == 1);
    long na = day * 86400L + sec_diff;
    CHECK_MSG(na >= 30 * 86400L - 300 && na <= 30 * 86400L + 60, "notAfter is %ld s from now", na);
    (void)now;
    uint32_t flags = X509_get_extension_flags(x);
    CHECK((flags & EXFLAG_CA) == 0 && (flags & EXFLAG_BCONS) != 0);
    CHECK((flags & EXFLAG_KUSAGE) != 0 && X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
    CHECK(X509_get0_subject_key_id(x) != NULL);
    int bc = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
    int ku = X509_get_ext_by_NID(x, NID_key_usage, -1);
    CHECK(bc >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, bc)) == 1);
    CHECK(ku >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, ku)) == 1);
    CHECK(X509_get_ext_count(x) == 3);
    /* The certificate's own key verifies it (OpenSSL's check, not ours). */
    CHECK(X509_verify(x, X509_get0_pubkey(x)) == 1);

    /* Two certificates for one key differ in their serials. */
    CHECK(mc2_x509_self_signed(sec, "alice.example", 30, &cert2, &err) == 0);
    X509 *y = cert_from(&cert2);
    CHECK(y && ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)) != 0);
    X509_free(y);
    X509_free(x);

    /* A UTF-8 name survives; a CN that does not fit cn_cap is refused. */
    mc2_buf_reset(&cert2);
    CHECK(mc2_x509_self_signed(sec, "zo\xc3\xab", 1, &cert2, &err) == 0);
    CHECK(mc2_x509_info((const char *)cert2.data, cert2.len, got, cn, sizeof cn, &err) == 0 &&
          strcmp(cn, "zo\xc3\xab") == 0);
    char small[5];
    CHECK(mc2_x509_info((const char *)cert2.data, cert2.len, got, small, 5, &err) == 0);
    CHECK(mc2_x509_info((const char *)cert2.data, cert2.len, got, small, 4, &err) != 0 &&
          err.code == MC2_E_LIMIT && small[0] == '\0');
out:
    mc2_buf_free(&cert);
    mc2_buf_free(&cert2);
}

static void test_cert_args(void)
{
    uint8_t pub[32], sec[32];
    mc2_buf b = {0};
    mc2_err err;
    char long_name[MC2_CN_MAX + 2];
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(mc2_x509_self_signed(sec, long_name, 30, &b, &err) != 0 && err.code == MC2_E_USAGE);
    long_name[MC2_CN_MAX] = '\0';
    CHECK(mc2_x509_self_signed(sec, long_name, 30, &b, &err) == 0);
    mc2_buf_reset(&b);
    CHECK(mc2_x509_self_signed(sec, "", 30, &b, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mc2_x509_self_signed(sec, "a\nb", 30, &b, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mc2_x509_self_signed(sec, "bad\xff", 30, &b, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mc2_x509_self_signed(sec, "alice", 0, &b, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mc2_x509_self_signed(sec, "alice", MC2_CERT_DAYS_MAX + 1, &b, &err) != 0 &&
          err.code == MC2_E_USAGE);
    CHECK(mc2_x509_self_signed(sec, "alice", MC2_CERT_DAYS_MAX, &b, &err) == 0);
    CHECK(mc2_x509_verify_self_signed((const char *)b.data, b.len, &err) == 0);
    mc2_buf_free(&b);
}

/* Expects verify_self_signed to refuse the PEM in b with code and `needle` in the message. */
static void expect_verify_fails(const char *what, const mc2_buf *b, enum mc2_code code,
                                const char *needle)
{
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_x509_verify_self_signed((const char *)b->data, b->len, &err);
    CHECK_MSG(rc != 0 && err.code == code, "%s: rc %d code %s (%s)", what, rc,
              mc2_code_name(err.code), err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg,
              needle);
}

static void test_cert_tamper(void)
{
    uint8_t pub[32], sec[32], pub_b[32], sec_b[32];
    mc2_buf cert = {0}, cert_b = {0}, t = {0};
    mc2_err err;
    if (make_identity("alice", pub, sec, &cert) || make_identity("bob", pub_b, sec_b, &cert_b))
        goto out;
    EVP_PKEY *ka = ed_key(sec), *kb = ed_key(sec_b);
    X509 *x = cert_from(&cert);
    CHECK(ka && kb && x);
    if (!ka || !kb || !x) goto out;

    /* A flipped byte in the signature (the DER ends with the 64-byte signature). */
    unsigned char *der = NULL;
    int dl = i2d_X509(x, &der);
    CHECK(dl > 64);
    der[dl - 5] ^= 0x01;
    const unsigned char *dp = der;
    X509 *bad = d2i_X509(NULL, &dp, dl);
    CHECK(bad != NULL);
    if (bad) {
        cert_to(bad, &t);
        expect_verify_fails("flipped signature byte", &t, MC2_E_AUTH, "signature");
        /* Parsing alone does not check signatures: info still reads it. */
        char cn[16];
        uint8_t got[32];
        CHECK(mc2_x509_info((const char *)t.data, t.len, got, cn, sizeof cn, &err) == 0);
        X509_free(bad);
    }
    OPENSSL_free(der);

    /* Alice's certificate claiming Bob's key (signed by Alice): the signature is not by the
     * certified key. */
    X509 *swap = X509_dup(x);
    CHECK(swap && X509_set_pubkey(swap, kb) == 1 && X509_sign(swap, ka, NULL) > 0);
    cert_to(swap, &t);
    expect_verify_fails("certificate from another key", &t, MC2_E_AUTH, "signature");
    X509_free(swap);

    /* Bob's genuine certificate is fine, but it is not Alice's. */
    uint8_t got[32];
    char cn[16];
    CHECK(mc2_x509_verify_self_signed((const char *)cert_b.data, cert_b.len, &err) == 0);
    CHECK(mc2_x509_info((const char *)cert_b.data, cert_b.len, got, cn, sizeof cn, &err) == 0 &&
          memcmp(got, pub, 32) != 0 && memcmp(got, pub_b, 32) == 0 && strcmp(cn, "bob") == 0);

    /* Issuer differs from subject (re-signed with its own key). */
    X509 *iss = X509_dup(x);
    X509_NAME *other = X509_NAME_new();
    CHECK(other && X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC,
                                              (const unsigned char *)"some-ca", -1, -1, 0) == 1);
    CHECK(iss && X509_set_issuer_name(iss, other) == 1 && X509_sign(iss, ka, NULL) > 0);
    cert_to(iss, &t);
    expect_verify_fails("issuer differs", &t, MC2_E_AUTH, "not self-signed");
    X509_NAME_free(other);
    X509_free(iss);

    /* Expired, and not yet valid (each re-signed, so only the dates are wrong). */
    X509 *old = X509_dup(x);
    CHECK(old && X509_gmtime_adj(X509_getm_notBefore(old), -3 * 86400) &&
          X509_gmtime_adj(X509_getm_notAfter(old), -86400) && X509_sign(old, ka, NULL) > 0);
    cert_to(old, &t);
    expect_verify_fails("expired", &t, MC2_E_AUTH, "expired");
    X509_free(old);
    X509 *early = X509_dup(x);
    CHECK(early && X509_gmtime_adj(X509_getm_notBefore(early), 86400) &&
          X509_sign(early, ka, NULL) > 0);
    cert_to(early, &t);
    expect_verify_fails("not yet valid", &t, MC2_E_AUTH, "not valid yet");
    X509_free(early);

    /* A control: re-signing unchanged still verifies, so the failures above are the changes'. */
    X509 *same = X509_dup(x);
    CHECK(same && X509_sign(same, ka, NULL) > 0);
    cert_to(same, &t);
    CHECK(mc2_x509_verify_self_signed((const char *)t.data, t.len, &err) == 0);
    X509_free(same);

    /* No CN at all. */
    X509 *nocn = X509_dup(x);
    X509_NAME *org = X509_NAME_new();
    CHECK(org && X509_NAME_add_entry_by_txt(org, "O", MBSTRING_ASC, (const unsigned char *)"Org",
                                            -1, -1, 0) == 1);
    CHECK(nocn && X509_set_subject_name(nocn, org) == 1 && X509_set_issuer_name(nocn, org) &&
          X509_sign(nocn, ka, NULL) > 0);
    cert_to(nocn, &t);
    CHECK(mc2_x509_info((const char *)t.data, t.len, got, cn, sizeof cn, &err) != 0 &&
          err.code == MC2_E_INPUT && strstr(err.msg, "no common name"));
    X509_NAME_free(org);
    X509_free(nocn);

    /* A P-256 certificate: a clear refusal from both functions. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    X509 *ecx = X509_dup(x);
    CHECK(ec && ecx && X509_set_pubkey(ecx, ec) == 1 && X509_sign(ecx, ec, EVP_sha256()) > 0);
    cert_to(ecx, &t);
    CHECK(mc2_x509_info((const char *)t.data, t.len, got, cn, sizeof cn, &err) != 0 &&
          err.code == MC2_E_INPUT && strstr(err.msg, "Ed25519"));
    expect_verify_fails("P-256 certificate", &t, MC2_E_INPUT, "Ed25519");
    X509_free(ecx);
    EVP_PKEY_free(ec);

    X509_free(x);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
out:
    mc2_buf_free(&cert);
    mc2_buf_free(&cert_b);
    mc2_buf_free(&t);
}

static void test_bad_cert_pem(void)
{
    uint8_t pub[32], sec[32], got[32];
    char cn[16];
    mc2_buf cert = {0}, key = {0};
    mc2_err err;
    static const struct {
        const char *what, *text;
        enum mc2_code code;
        const char *needle;
    } cases[] = {
        {"garbage", "definitely not a certificate", MC2_E_INPUT, "not a PEM X.509 certificate"},
        {"empty", "", MC2_E_INPUT, "empty"},
        {"bad base64", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
         MC2_E_INPUT, "not a PEM X.509 certificate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mc2_err_clear(&err);
        int rc = mc2_x509_info(cases[i].text, strlen(cases[i].text), got, cn, sizeof cn, &err);
        CHECK_MSG(rc != 0 && err.code == cases[i].code && strstr(err.msg, cases[i].needle),
                  "%s: %s", cases[i].what, err.msg);
        mc2_err_clear(&err);
        rc = mc2_x509_verify_self_signed(cases[i].text, strlen(cases[i].text), &err);
        CHECK_MSG(rc != 0 && err.code == cases[i].code && strstr(err.msg, cases[i].needle),
                  "%s: %s", cases[i].what, err.msg);
    }
    if (make_identity("carol", pub, sec, &cert)) return;
    /* Truncated certificate, a private key where a certificate belongs, oversize input. */
    CHECK(mc2_x509_info((const char *)cert.data, cert.len - 40, got, cn, sizeof cn, &err) != 0 &&
          err.code == MC2_E_INPUT);
    CHECK(mc2_ed25519_sec_to_pem(sec, &key, &err) == 0);
    CHECK(mc2_x509_info((const char *)key.data, key.len, got, cn, sizeof cn, &err) != 0 &&
          err.code == MC2_E_INPUT && strstr(err.msg, "BEGIN CERTIFICATE"));
    CHECK(mc2_x509_info((const char *)cert.data, MC2_PEM_MAX + 1, got, cn, sizeof cn, &err) != 0 &&
          err.code == MC2_E_LIMIT);
    /* The PEM need not be NUL-terminated, and leading text is skipped as PEM allows. */
    mc2_buf pre = {0};
    CHECK(mc2_buf_puts(&pre, "comment line\n", &err) == 0 &&
          mc2_buf_append(&pre, cert.data, cert.len, &err) == 0);
    CHECK(mc2_x509_info((const char *)pre.data, pre.len, got, cn, sizeof cn, &err) == 0 &&
          memcmp(got, pub, 32) == 0);
    mc2_buf_free(&pre);
    mc2_buf_free(&cert);
    mc2_buf_free(&key);
}

/* ---- fingerprints and fault injection ----------------------------------------------------- */

static void test_fingerprint(void)
{
    uint8_t pub[32], h[32];
    char fp[MC2_FINGERPRINT_LEN], hex[65];
    unsigned int hl = 0;
    CHECK(MC2_FINGERPRINT_LEN == 72);
    memset(pub, 0x42, sizeof pub);
    pub[0] = 7;
    memset(fp, 'X', sizeof fp);
    mc2_fingerprint(pub, fp);
    CHECK(fp[MC2_FINGERPRINT_LEN - 1] == '\0' && strlen(fp) == 71);
    CHECK(strncmp(fp, "SHA256:", 7) == 0);
    int lower_hex = 1;
    for (size_t i = 7; i < 71; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'))) lower_hex = 0;
    CHECK(lower_hex);
    /* The oracle: SHA-256 over the raw key, computed with EVP here. */
    CHECK(EVP_Digest(pub, 32, h, &hl, EVP_sha256(), NULL) == 1 && hl == 32);
    mc2_hex_encode(h, 32, hex);
    CHECK(strcmp(fp + 7, hex) == 0);
    /* An empty-key known answer: SHA-256 of 32 zero bytes. */
    memset(pub, 0, 32);
    mc2_fingerprint(pub, fp);
    CHECK(strcmp(fp, "SHA256:66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925") ==
          0);
}

static void test_fault_injection(void)
{
    uint8_t pub[32], sec[32];
    mc2_err err;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    int saw_nomem = 0, saw_ok = 0;
    for (unsigned long k = 1; k <= 4; k++) {
        mc2_buf b = {0};
        uint8_t back[32];
        mc2_alloc_fail_after(k);
        int rc = mc2_ed25519_sec_to_pem(sec, &b, &err);
        mc2_alloc_fail_after(0);
        if (rc) {
            CHECK_MSG(err.code == MC2_E_NOMEM, "fail_after %lu: %s", k, err.msg);
            saw_nomem++;
        } else {
            CHECK(mc2_ed25519_sec_from_pem((const char *)b.data, b.len, back, &err) == 0 &&
                  memcmp(back, sec, 32) == 0);
            saw_ok++;
        }
        mc2_buf_free(&b);
    }
    for (unsigned long k = 1; k <= 6; k++) {
        mc2_buf b = {0};
        mc2_alloc_fail_after(k);
        int rc = mc2_x509_self_signed(sec, "dave", 1, &b, &err);
        mc2_alloc_fail_after(0);
        if (rc) {
            CHECK_MSG(err.code == MC2_E_NOMEM, "fail_after %lu: %s", k, err.msg);
            saw_nomem++;
        } else {
            CHECK(mc2_x509_verify_self_signed((const char *)b.data, b.len, &err) == 0);
            saw_ok++;
        }
        mc2_buf_free(&b);
    }
    CHECK(saw_nomem >= 2 && saw_ok >= 2);
}

int main(void)
{
    test_key_pem();
    test_key_pem_rejects();
    test_cert_fields();
    test_cert_args();
    test_cert_tamper();
    test_bad_cert_pem();
    test_fingerprint();
    test_fault_injection();
    return test_done("test_pki");
}
