/* test_ratls.c - RA-TLS over in-memory TLS 1.3: a client accepts only an endpoint whose
 * certificate carries evidence bound to that certificate's key, its fresh nonce and its
 * consortium policy; a host that substitutes its own TLS endpoint is caught. */
#include <openssl/pem.h>
#include <string.h>

#include "attest/ratls.h"
#include "crypto/pki.h"
#include "test.h"
#include "wire/tls.h"

static uint8_t platform_sec[32], platform_pub[32], signer_pub[32], signer_sec[32];
static uint8_t meas[32], policy_hash[32];

/* Sim attester used by the "enclave" in this test. */
static int sim_evidence(void *ctx, const uint8_t rd[MC2_REPORT_DATA_LEN], uint8_t **ev, size_t *n,
                        mc2_err *err)
{
    const uint8_t *psec = ctx;
    mc2_claims c = {0};
    memcpy(c.measurement, meas, 32);
    mc2_signer_id(signer_pub, c.signer);
    c.product_id = 1;
    c.svn = 1;
    memcpy(c.report_data, rd, MC2_REPORT_DATA_LEN);
    return mc2_evidence_sim_create(&c, psec, ev, n, err);
}

/* A party's key and certificate as OpenSSL objects. */
static void party(const char *name, EVP_PKEY **key, X509 **cert)
{
    uint8_t pub[32], sec[32];
    mc2_buf pem = {0};
    mc2_err err;
    CHECK(mc2_ed25519_keygen(pub, sec, &err) == 0);
    CHECK(mc2_x509_self_signed(sec, name, 1, &pem, &err) == 0);
    BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len);
    *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec, 32);
    CHECK(*cert && *key);
    mc2_buf_free(&pem);
}

/* Runs a handshake between client and server endpoints by shuttling bytes. */
static int handshake(mc2_tls *c, mc2_tls *s)
{
    mc2_err err;
    mc2_buf b = {0};
    int cd = 0, sd = 0;
    for (int i = 0; i < 20 && !(cd == 1 && sd == 1); i++) {
        if (cd != 1) cd = mc2_tls_handshake(c, &err);
        b.len = 0;
        if (mc2_tls_drain(c, &b, &err) || mc2_tls_feed(s, b.data, b.len, &err)) break;
        if (sd != 1) sd = mc2_tls_handshake(s, &err);
        b.len = 0;
        if (mc2_tls_drain(s, &b, &err) || mc2_tls_feed(c, b.data, b.len, &err)) break;
        if (cd < 0 || sd < 0) break;
    }
    mc2_buf_free(&b);
    return cd == 1 && sd == 1;
}

/* Connects a client (with a fresh nonce) to a server presenting skey/scert, then checks
 * the server's certificate like the mc2 client does. The server cert is created by `make`
 * for the nonce it is given (a genuine enclave uses the client's; an attacker may not). */
static enum mc2_attest_result connect_and_check(EVP_PKEY *skey, X509 *scert, const uint8_t *nonce)
{
    mc2_err err;
    EVP_PKEY *ckey;
    X509 *ccert;
    party("bank-a", &ckey, &ccert);
    SSL_CTX *sctx = mc2_tls_ctx(1, skey, scert, &err);
    SSL_CTX *cctx = mc2_tls_ctx(0, ckey, ccert, &err);
    CHECK(sctx && cctx);
    mc2_tls *s = mc2_tls_new(sctx, 1, &err), *c = mc2_tls_new(cctx, 0, &err);
    CHECK(handshake(c, s));
    X509 *peer = mc2_tls_peer(c);
    CHECK(peer != NULL);
    /* The server sees the party's certificate. */
    X509 *cpeer = mc2_tls_peer(s);
    CHECK(cpeer && X509_cmp(cpeer, ccert) == 0);
    const uint8_t(*keys)[32] = (const uint8_t(*)[32])platform_pub;
    mc2_verifier v = {.sim = {keys, 1}};
    mc2_appraisal pol = {0};
    pol.n_measurements = 1;
    memcpy(pol.measurements[0], meas, 32);
    pol.allow_simulation = true;
    mc2_claims claims;
    mc2_err_clear(&err);
    enum mc2_attest_result r = mc2_ratls_check(peer, nonce, policy_hash, &v, &pol, &claims, &err);
    printf("  %s%s%s\n", mc2_attest_result_name(r), err.msg[0] ? ": " : "", err.msg);
    if (r == MC2_ATTEST_OK) {
        /* Application data flows both ways. */
        mc2_buf b = {0}, got = {0};
        int closed;
        CHECK(mc2_tls_write(c, "ping", 4, &err) == 0 && mc2_tls_drain(c, &b, &err) == 0);
        CHECK(mc2_tls_feed(s, b.data, b.len, &err) == 0);
        CHECK(mc2_tls_read(s, &got, &closed, &err) == 4 && memcmp(got.data, "ping", 4) == 0);
        mc2_buf_free(&b);
        mc2_buf_free(&got);
    }
    mc2_tls_free(c);
    mc2_tls_free(s);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    EVP_PKEY_free(ckey);
    X509_free(ccert);
    return r;
}

int main(void)
{
    mc2_err err;
    uint8_t nonce[32], old_nonce[32];
    CHECK(mc2_ed25519_keygen(platform_pub, platform_sec, &err) == 0);
    CHECK(mc2_ed25519_keygen(signer_pub, signer_sec, &err) == 0);
    CHECK(mc2_random(meas, 32, &err) == 0 && mc2_random(policy_hash, 32, &err) == 0);
    CHECK(mc2_random(nonce, 32, &err) == 0 && mc2_random(old_nonce, 32, &err) == 0);

    printf("genuine enclave:\n");
    EVP_PKEY *ekey;
    X509 *ecert;
    CHECK(mc2_ratls_make(nonce, policy_hash, sim_evidence, platform_sec, &ekey, &ecert, &err) == 0);
    CHECK(connect_and_check(ekey, ecert, nonce) == MC2_ATTEST_OK);

    printf("host substitutes its own TLS endpoint (plain certificate):\n");
    EVP_PKEY *hkey;
    X509 *hcert;
    party("mc2-enclave", &hkey, &hcert);
    CHECK(connect_and_check(hkey, hcert, nonce) == MC2_ATTEST_MALFORMED);

    printf("host copies the genuine evidence into its own certificate:\n");
    ASN1_OBJECT *oid = OBJ_txt2obj(MC2_RATLS_OID, 1);
    X509_EXTENSION *ext = X509_get_ext(ecert, X509_get_ext_by_OBJ(ecert, oid, -1));
    CHECK(X509_add_ext(hcert, ext, -1) == 1);
    CHECK(X509_sign(hcert, hkey, NULL) > 0);
    CHECK(connect_and_check(hkey, hcert, nonce) == MC2_ATTEST_BINDING);
    ASN1_OBJECT_free(oid);

    printf("replayed enclave certificate made for an old nonce:\n");
    EVP_PKEY *okey;
    X509 *ocert;
    CHECK(mc2_ratls_make(old_nonce, policy_hash, sim_evidence, platform_sec, &okey, &ocert, &err) ==
          0);
    CHECK(connect_and_check(okey, ocert, nonce) == MC2_ATTEST_BINDING);

    printf("enclave bound to another consortium policy:\n");
    uint8_t other_policy[32];
    memcpy(other_policy, policy_hash, 32);
    other_policy[0] ^= 1;
    EVP_PKEY *pkey;
    X509 *pcert;
    CHECK(mc2_ratls_make(nonce, other_policy, sim_evidence, platform_sec, &pkey, &pcert, &err) ==
          0);
    CHECK(connect_and_check(pkey, pcert, nonce) == MC2_ATTEST_BINDING);

    printf("evidence from an untrusted simulated platform:\n");
    uint8_t rogue_pub[32], rogue_sec[32];
    CHECK(mc2_ed25519_keygen(rogue_pub, rogue_sec, &err) == 0);
    EVP_PKEY *rkey;
    X509 *rcert;
    CHECK(mc2_ratls_make(nonce, policy_hash, sim_evidence, rogue_sec, &rkey, &rcert, &err) == 0);
    CHECK(connect_and_check(rkey, rcert, nonce) == MC2_ATTEST_UNTRUSTED_PLATFORM);

    EVP_PKEY_free(ekey);
    X509_free(ecert);
    EVP_PKEY_free(hkey);
    X509_free(hcert);
    EVP_PKEY_free(okey);
    X509_free(ocert);
    EVP_PKEY_free(pkey);
    X509_free(pcert);
    EVP_PKEY_free(rkey);
    X509_free(rcert);
    return test_done("test_ratls");
}
