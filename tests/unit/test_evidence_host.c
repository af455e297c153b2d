/* test_evidence_host.c - the real mc2-enclave against a hostile host on the evidence path
 * (docs/enclave-interface.md: EIF_EVIDENCE_REQ / EIF_EVIDENCE). The test is the host: it
 * launches the enclave with the `tsm` attester (whose evidence the host fetches; INIT gives
 * it no bytes) and answers its evidence requests itself, well and badly:
 *   - a client's bytes sent before the evidence wait, and are answered once it comes; the
 *     certificate carries exactly the evidence given, and the report data the enclave asked
 *     for binds that certificate's key, the client's nonce and the policy hash;
 *   - evidence for a session nobody opened is ignored; evidence the session did not ask for,
 *     a failure status, a short or empty answer, evidence over ENC_EVIDENCE_MAX and more than
 *     ENC_EARLY_MAX bytes from the client while it waits each end that session (EIF_END),
 *     and the enclave keeps serving others. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include "attest/ratls.h"
#include "enclave/attester.h"
#include "enclave/enclave.h"
#include "host/launch.h"
#include "../tools/pfix.h"
#include "test.h"
#include "wire/proto.h"
#include "wire/tls.h"

static int host_prepare(void *ctx, const uint8_t m[MC2_SHA256_LEN], const mc2_sigstruct *ss,
                        mc2_buf *att, mc2_err *err)
{
    (void)ctx, (void)m, (void)ss, (void)att, (void)err;
    return 0; /* the tsm attester takes no INIT bytes */
}

static const mc2_tee_ops hostile = {.name = "tsm", .banner = "test host", .prepare = host_prepare};

static int fd = -1;

static void send_frame(uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    if (mc2_frame_write_fd(fd, type, ch, p, n, &err)) pfix_die("write", &err);
}

/* The next frame of `type` on channel ch within ms milliseconds (others are skipped: job
 * listings, other sessions' frames); 0 if one came. */
static int expect(uint16_t type, uint32_t ch, int ms, mc2_frame *f)
{
    mc2_err err;
    double end = pfix_now() + ms / 1000.0;
    for (;;) {
        int left = (int)((end - pfix_now()) * 1000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0) return -1;
        if (mc2_frame_read_fd(fd, MC2_FRAME_MAX + 64, f, &err)) pfix_die("read", &err);
        if (f->type == type && f->channel == ch) return 0;
    }
}

static const uint8_t NONCE[32] = {7, 7, 7};

/* Opens session sid; 0 with the report data it asks evidence for. */
static int open_req(uint32_t sid, uint8_t rd[MC2_REPORT_DATA_LEN])
{
    mc2_frame f = {0};
    send_frame(EIF_OPEN, sid, NONCE, sizeof NONCE);
    int rc = expect(EIF_EVIDENCE_REQ, sid, 5000, &f);
    if (rc == 0 && f.payload.len == MC2_REPORT_DATA_LEN && rd) memcpy(rd, f.payload.data, 64);
    if (rc == 0 && f.payload.len != MC2_REPORT_DATA_LEN) rc = -1;
    mc2_frame_free(&f);
    return rc;
}

/* Answers sid's request with u32 status | p[0..n). */
static void answer(uint32_t sid, uint32_t status, const void *p, size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err)) pfix_die("buf", &err);
    send_frame(EIF_EVIDENCE, sid, b.data, b.len);
    mc2_buf_free(&b);
}

static int ended(uint32_t sid)
{
    mc2_frame f = {0};
    int rc = expect(EIF_END, sid, 5000, &f);
    mc2_frame_free(&f);
    return rc == 0;
}

/* A TLS client endpoint presenting the party's certificate. */
static mc2_tls *client(const mc2_identity *id, SSL_CTX **ctx)
{
    mc2_err err;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, id->sec, 32);
    BIO *b = BIO_new_mem_buf(id->cert_pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    *ctx = k && x ? mc2_tls_ctx(0, k, x, &err) : NULL;
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(b);
    mc2_tls *t = *ctx ? mc2_tls_new(*ctx, 0, &err) : NULL;
    if (!t) pfix_die("client TLS", NULL);
    return t;
}

/* The RA-TLS extension's bytes in cert (NULL if none). */
static const ASN1_OCTET_STRING *evidence_of(X509 *cert)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(MC2_RATLS_OID, 1);
    int i = oid ? X509_get_ext_by_OBJ(cert, oid, -1) : -1;
    ASN1_OBJECT_free(oid);
    return i < 0 ? NULL : X509_EXTENSION_get_data(X509_get_ext(cert, i));
}

/* Early bytes wait for the evidence; the certificate carries it and binds the report data. */
static void good_session(const mc2_identity *id, const mc2_policy *pol, uint32_t sid)
{
    mc2_err err;
    uint8_t rd[64], ev[300], want[64];
    CHECK(open_req(sid, rd) == 0);
    SSL_CTX *ctx;
    mc2_tls *c = client(id, &ctx);
    mc2_buf out = {0};
    CHECK(mc2_tls_handshake(c, &err) == 0);
    CHECK(mc2_tls_drain(c, &out, &err) == 0 && out.len > 0);
    send_frame(EIF_DATA, sid, out.data, out.len); /* the ClientHello, before any evidence */
    mc2_frame f = {0};
    CHECK_MSG(expect(EIF_OUT, sid, 300, &f) != 0, "the enclave answered before its evidence");
    memcpy(ev, "MC2E\x01\x00\x02\x00", 8); /* any bytes: the enclave does not check them */
    for (size_t i = 8; i < sizeof ev; i++) ev[i] = (uint8_t)(i * 31);
    answer(sid, 0, ev, sizeof ev);
    CHECK_MSG(expect(EIF_OUT, sid, 5000, &f) == 0, "no server flight after the evidence");
    CHECK(mc2_tls_feed(c, f.payload.data, f.payload.len, &err) == 0);
    CHECK(mc2_tls_handshake(c, &err) == 1);
    X509 *peer = mc2_tls_peer(c);
    const ASN1_OCTET_STRING *os = peer ? evidence_of(peer) : NULL;
    CHECK_MSG(os && (size_t)ASN1_STRING_length(os) == sizeof ev &&
                  memcmp(ASN1_STRING_get0_data(os), ev, sizeof ev) == 0,
              "the certificate does not carry the evidence the host gave");
    unsigned char *der = NULL;
    int dl = peer ? i2d_PUBKEY(X509_get0_pubkey(peer), &der) : -1;
    CHECK(dl > 0 && mc2_report_data(der, (size_t)dl, NONCE, pol->hash, want, &err) == 0);
    CHECK_MSG(memcmp(want, rd, 64) == 0, "the report data asked for does not bind this key");
    OPENSSL_free(der);
    /* A second answer the session did not ask for ends it. */
    answer(sid, 0, ev, sizeof ev);
    CHECK_MSG(ended(sid), "unasked-for evidence did not end the session");
    mc2_frame_free(&f);
    mc2_buf_free(&out);
    mc2_tls_free(c);
    SSL_CTX_free(ctx);
}

static void bad_answers(void)
{
    uint8_t ev[16] = "MC2E";
    answer(99, 0, ev, sizeof ev); /* nobody opened 99: ignored */
    CHECK(open_req(11, NULL) == 0);
    answer(11, 1, "the device failed", 17);
    CHECK_MSG(ended(11), "a failure status did not end the session");
    CHECK(open_req(12, NULL) == 0);
    send_frame(EIF_EVIDENCE, 12, "\0\0", 2);
    CHECK_MSG(ended(12), "a 2-byte answer did not end the session");
    CHECK(open_req(13, NULL) == 0);
    answer(13, 0, NULL, 0);
    CHECK_MSG(ended(13), "empty evidence did not end the session");
    CHECK(open_req(14, NULL) == 0);
    uint8_t *big = mc2_calloc(1, ENC_EVIDENCE_MAX + 1);
    CHECK(big != NULL);
    if (big) answer(14, 0, big, ENC_EVIDENCE_MAX + 1);
    CHECK_MSG(ended(14), "evidence over ENC_EVIDENCE_MAX did not end the session");
    CHECK(open_req(15, NULL) == 0);
    if (big) {
        send_frame(EIF_DATA, 15, big, ENC_EARLY_MAX / 2);
        send_frame(EIF_DATA, 15, big, ENC_EARLY_MAX / 2 + 1);
    }
    CHECK_MSG(ended(15), "more than ENC_EARLY_MAX early bytes did not end the session");
    mc2_free(big);
    CHECK_MSG(open_req(16, NULL) == 0, "the enclave stopped serving after the bad answers");
}

int main(void)
{
    static pfix f; /* its exit handler runs after main returns */
    mc2_identity id;
    mc2_err err;
    pfix_init(&f, "evhost");
    pfix_party(&f, "bank-a", &id);
    pfix_policy(&f, &id, 1, (const bool[]){true});
    mc2_buf pol = {0};
    if (mc2_file_read_all(f.policy_path, 1 << 20, &pol, &err)) pfix_die("policy", &err);
    char enc[512];
    const char *build = getenv("MC2_BUILD");
    snprintf(enc, sizeof enc, "%s/mc2-enclave", build ? build : "build");
    mc2_tee tee = {.ops = &hostile};
    mc2_launch_opts lo = {.budget_mb = 256, .session_idle_s = 900};
    mc2_enclave_proc p;
    if (mc2_enclave_launch(enc, (const char *)pol.data, pol.len, &tee, &lo, &p, &err))
        pfix_die("launch", &err);
    fd = p.fd;
    CHECK_MSG(!p.simulation, "the tsm attester said it was a simulation");
    good_session(&id, f.pol, 10);
    bad_answers();
    mc2_enclave_stop(&p);
    mc2_buf_free(&pol);
    mc2_identity_free(&id);
    return test_done("test_evidence_host");
}
