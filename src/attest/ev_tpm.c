/* ev_tpm.c - the TPM 2.0 evidence format's verifier (encoding in mc2/attest.h and
 * docs/enclave-interface.md section 5). The TPM structures are parsed here by hand, bounded,
 * exactly the fields used (TPM 2.0 Library, Part 2: Structures), so that a verifier (the
 * clients, and the enclave for the mesh) needs no TPM software stack:
 *   TPMS_ATTEST: u32 magic = TPM_GENERATED_VALUE | u16 type = TPM_ST_ATTEST_QUOTE |
 *     TPM2B_NAME qualifiedSigner | TPM2B_DATA extraData | TPMS_CLOCK_INFO {u64 clock,
 *     u32 resetCount, u32 restartCount, u8 safe} | u64 firmwareVersion |
 *     TPMS_QUOTE_INFO {TPML_PCR_SELECTION {u32 count, {u16 hash, u8 size, select[size]}...},
 *     TPM2B_DIGEST pcrDigest}
 *   TPMT_SIGNATURE: u16 sigAlg = ECDSA | u16 hash = SHA256 | TPM2B r | TPM2B s
 *   TPMT_PUBLIC: u16 type = ECC | u16 nameAlg = SHA256 | u32 objectAttributes | TPM2B
 *     authPolicy | TPMS_ECC_PARMS {u16 symmetric = NULL, u16 scheme = ECDSA, u16 hash =
 *     SHA256, u16 curveID = NIST_P256, u16 kdf = NULL} | TPMS_ECC_POINT {TPM2B x, TPM2B y}
 * (TPM2B: u16 size | bytes; all big-endian.)
 *
 * Verification, in this order (each failure its own result and message):
 *   1. sizes and every structure above, parsed to their last byte; the AK is a restricted,
 *      fixedTPM, fixedParent, TPM-generated, signing-only P-256 key; the quote names this AK
 *      (qualifiedSigner = its qualified name as a primary key of the endorsement hierarchy:
 *      nameAlg | SHA-256(TPM_RH_ENDORSEMENT | name), name = nameAlg | SHA-256(TPMT_PUBLIC))
 *      -> MALFORMED;
 *   2. the AK's identity (SHA-256 of its SPKI DER) is one the verifier trusts
 *      -> UNTRUSTED_PLATFORM;
 *   3. the ECDSA P-256 / SHA-256 signature over the TPMS_ATTEST bytes -> BAD_SIGNATURE;
 *   4. extraData = SHA-256(report_data) -> BINDING;
 *   5. the selection is exactly the configured PCR in the sha256 bank, and pcrDigest =
 *      SHA-256 of the event log's replay -> PCR;
 *   6. the log's sigstruct event is SHA-256 of the sigstruct, the sigstruct's signature
 *      verifies and its measurement is the logged enclave measurement -> EVENT_LOG.
 * The claims (measurement, signer, product id, svn) come from the sigstruct and the log. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/verifiers.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/attest.h"

#define TPM_GENERATED   0xff544347u
#define ST_ATTEST_QUOTE 0x8018u
#define ALG_ECC         0x0023u
#define ALG_SHA256      0x000Bu
#define ALG_ECDSA       0x0018u
#define ALG_NULL        0x0010u
#define ECC_NIST_P256   0x0003u
/* objectAttributes: fixedTPM, fixedParent, sensitiveDataOrigin, restricted, decrypt, sign */
#define OA_FIXED_TPM  (1u << 1)
#define OA_FIXED_PAR  (1u << 4)
#define OA_SDO        (1u << 5)
#define OA_RESTRICTED (1u << 16)
#define OA_DECRYPT    (1u << 17)
#define OA_SIGN       (1u << 18)
#define OA_AK_MUST    (OA_FIXED_TPM | OA_FIXED_PAR | OA_SDO | OA_RESTRICTED | OA_SIGN)
#define P256_LEN      32

/* The DER prefix of a P-256 SubjectPublicKeyInfo, before 04 | x | y. */
static const uint8_t spki_p256[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
#define SPKI_LEN (sizeof spki_p256 + 2 * P256_LEN)

static uint16_t be16(mc2_rd *r)
{
    const uint8_t *q = mc2_rd_take(r, 2);
    if (!q) return 0;
    return (uint16_t)((unsigned)q[0] << 8 | q[1]);
}

static uint32_t be32(mc2_rd *r)
{
    uint32_t hi = be16(r);
    return hi << 16 | be16(r);
}

static uint64_t be64(mc2_rd *r)
{
    uint64_t hi = be32(r);
    return hi << 32 | be32(r);
}

/* A TPM2B of at most max bytes: its bytes (NULL and r->bad if short or too long). */
static const uint8_t *tpm2b(mc2_rd *r, size_t max, size_t *n)
{
    *n = be16(r);
    if (*n > max) r->bad = true;
    return mc2_rd_take(r, *n);
}

/* A big-endian integer of 1..32 bytes, left-padded to 32. */
static int coord(mc2_rd *r, uint8_t out[P256_LEN])
{
    size_t n;
    const uint8_t *p = tpm2b(r, P256_LEN, &n);
    if (!p || n == 0) return -1;
    memset(out, 0, P256_LEN);
    memcpy(out + P256_LEN - n, p, n);
    return 0;
}

typedef struct tpm_ak {
    uint8_t spki[SPKI_LEN];
    uint8_t qname[2 + MC2_SHA256_LEN]; /* qualified name as a primary key of the endorsement
                                          hierarchy (the quote's qualifiedSigner) */
} tpm_ak;

/* Parses a TPMT_PUBLIC that must be an AK (header comment); why not in *why. */
static int parse_ak(const uint8_t *pub, size_t n, tpm_ak *ak, const char **why)
{
    mc2_rd r = mc2_rd_init(pub, n);
    size_t pl;
    *why = "the attestation key is not an ECC key with SHA-256 names";
    if (be16(&r) != ALG_ECC || be16(&r) != ALG_SHA256) return -1;
    uint32_t oa = be32(&r);
    *why = "the attestation key is not a restricted, TPM-generated, non-duplicable signing key";
    if ((oa & OA_AK_MUST) != OA_AK_MUST || (oa & OA_DECRYPT)) return -1;
    (void)tpm2b(&r, 64, &pl); /* authPolicy */
    *why = "the attestation key is not ECDSA P-256 with SHA-256 (no symmetric key, no KDF)";
    if (be16(&r) != ALG_NULL || be16(&r) != ALG_ECDSA || be16(&r) != ALG_SHA256 ||
        be16(&r) != ECC_NIST_P256 || be16(&r) != ALG_NULL)
        return -1;
    memcpy(ak->spki, spki_p256, sizeof spki_p256);
    *why = "the attestation key's public point is malformed";
    if (coord(&r, ak->spki + sizeof spki_p256) ||
        coord(&r, ak->spki + sizeof spki_p256 + P256_LEN) || r.bad || mc2_rd_left(&r) != 0)
        return -1;
    /* name = nameAlg | H(TPMT_PUBLIC); qualified name of a primary key = nameAlg |
     * H(hierarchy handle | name) */
    uint8_t qn_in[4 + sizeof ak->qname] = {
        0x40, 0x00, 0x00, 0x0B, ALG_SHA256 >> 8, ALG_SHA256 & 0xff};
    ak->qname[0] = ALG_SHA256 >> 8;
    ak->qname[1] = ALG_SHA256 & 0xff;
    return mc2_sha256(pub, n, qn_in + 6, NULL) ||
                   mc2_sha256(qn_in, sizeof qn_in, ak->qname + 2, NULL)
               ? -1
               : 0;
}

int mc2_tpm_ak_id(const uint8_t *pub, size_t n, uint8_t id[MC2_SHA256_LEN], uint8_t *spki,
                  size_t *spki_len, mc2_err *err)
{
    tpm_ak ak;
    const char *why;
    if (parse_ak(pub, n, &ak, &why)) return mc2_err_set(err, MC2_E_INPUT, "%s", why);
    if (spki) {
        if (*spki_len < SPKI_LEN) return mc2_err_set(err, MC2_E_INTERNAL, "SPKI buffer too small");
        memcpy(spki, ak.spki, SPKI_LEN);
        *spki_len = SPKI_LEN;
    }
    return mc2_sha256(ak.spki, SPKI_LEN, id, err);
}

/* The evidence's parts (pointers into it). */
typedef struct tpm_ev {
    const uint8_t *rd, *quote, *sig, *pub, *events, *ss;
    size_t quote_len, sig_len, pub_len, n_events;
} tpm_ev;

/* The quote's fields the checks use. */
typedef struct tpm_quote {
    const uint8_t *signer, *extra, *pcr_digest;
    size_t signer_len, extra_len, pcr_digest_len;
    uint64_t clock, firmware;
    uint32_t reset_count, restart_count;
    int one_pcr; /* the selection's only PCR in the sha256 bank, or -1 */
} tpm_quote;

static enum mc2_attest_result malformed(mc2_err *err, const char *why)
{
    mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed TPM evidence (%s)", why);
    return MC2_ATTEST_MALFORMED;
}

static const uint8_t *part(mc2_rd *r, size_t *n)
{
    const uint8_t *p = mc2_rd_lv(r, n);
    if (p && (*n == 0 || *n > MC2_TPM_MAX_PART)) r->bad = true;
    return r->bad ? NULL : p;
}

static enum mc2_attest_result split(const uint8_t *ev, size_t n, tpm_ev *s, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(ev, n);
    (void)mc2_rd_take(&r, MC2_EV_HEADER_LEN);
    s->rd = mc2_rd_take(&r, MC2_REPORT_DATA_LEN);
    s->quote = part(&r, &s->quote_len);
    s->sig = part(&r, &s->sig_len);
    s->pub = part(&r, &s->pub_len);
    s->n_events = mc2_rd_u32(&r);
    if (r.bad || s->n_events == 0 || s->n_events > MC2_TPM_MAX_EVENTS)
        return malformed(err, "truncated, or a part's length is zero, too large or past the end");
    s->events = mc2_rd_take(&r, s->n_events * (4 + MC2_SHA256_LEN));
    s->ss = mc2_rd_take(&r, MC2_SIGSTRUCT_LEN);
    if (r.bad) return malformed(err, "truncated event log or sigstruct");
    if (mc2_rd_left(&r)) return malformed(err, "trailing bytes");
    return MC2_ATTEST_OK;
}

/* The PCR selection: one=the PCR if exactly one PCR of the sha256 bank and none of any other
 * bank is selected, else -1. */
static int pcr_selection(mc2_rd *r)
{
    uint32_t count = be32(r);
    int one = -1, total = 0;
    if (count > 16) r->bad = true;
    for (uint32_t i = 0; !r->bad && i < count; i++) {
        uint16_t hash = be16(r);
        size_t sz = mc2_rd_u8(r);
        const uint8_t *sel = sz <= 64 ? mc2_rd_take(r, sz) : NULL;
        if (!sel) r->bad = true;
        for (size_t b = 0; sel && b < sz * 8; b++)
            if (sel[b / 8] >> (b % 8) & 1) {
                total++;
                if (hash == ALG_SHA256) one = (int)b;
            }
    }
    return total == 1 ? one : -1;
}

static enum mc2_attest_result parse_quote(const tpm_ev *s, tpm_quote *q, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(s->quote, s->quote_len);
    if (be32(&r) != TPM_GENERATED) return malformed(err, "the quote is not TPM-generated");
    if (be16(&r) != ST_ATTEST_QUOTE) return malformed(err, "the attestation is not a quote");
    q->signer = tpm2b(&r, 2 + 64, &q->signer_len);
    q->extra = tpm2b(&r, 64, &q->extra_len);
    q->clock = be64(&r);
    q->reset_count = be32(&r);
    q->restart_count = be32(&r);
    (void)mc2_rd_u8(&r); /* safe */
    q->firmware = be64(&r);
    q->one_pcr = pcr_selection(&r);
    q->pcr_digest = tpm2b(&r, 64, &q->pcr_digest_len);
    if (r.bad || mc2_rd_left(&r)) return malformed(err, "the quote's structure is truncated");
    return MC2_ATTEST_OK;
}

/* ECDSA P-256 / SHA-256 over the quote under the AK. */
static enum mc2_attest_result check_signature(const tpm_ev *s, const tpm_ak *ak, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(s->sig, s->sig_len);
    uint8_t rs[2][P256_LEN];
    if (be16(&r) != ALG_ECDSA || be16(&r) != ALG_SHA256 || coord(&r, rs[0]) || coord(&r, rs[1]) ||
        r.bad || mc2_rd_left(&r))
        return malformed(err, "the signature is not one ECDSA/SHA-256 TPMT_SIGNATURE");
    enum mc2_attest_result res = MC2_ATTEST_BAD_SIGNATURE;
    const unsigned char *kp = ak->spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &kp, (long)SPKI_LEN);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(rs[0], P256_LEN, NULL), *bs = BN_bin2bn(rs[1], P256_LEN, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = -1;
    if (sig && br && bs && ECDSA_SIG_set0(sig, br, bs)) {
        br = bs = NULL; /* sig owns them */
        der_len = i2d_ECDSA_SIG(sig, &der);
    }
    if (k && md && der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
        EVP_DigestVerify(md, der, (size_t)der_len, s->quote, s->quote_len) == 1)
        res = MC2_ATTEST_OK;
    else if (!k)
        res = malformed(err, "the attestation key's point is not on P-256");
    else
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the TPM quote's signature does not verify under its "
                    "attestation key (forged or modified quote)");
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(sig);
    EVP_PKEY_free(k);
    return res;
}

static enum mc2_attest_result pcr_mismatch(mc2_err *err, const char *why)
{
    mc2_err_set(err, MC2_E_AUTH, "attestation failed: TPM PCR check: %s", why);
    return MC2_ATTEST_PCR;
}

/* Steps 5 and 6 (header comment): replay, then the log against the sigstruct. */
static enum mc2_attest_result check_log(const mc2_tpm_verifier *v, const tpm_ev *s,
                                        const tpm_quote *q, mc2_sigstruct *ss, mc2_claims *c,
                                        mc2_err *err)
{
    uint8_t pcr[2 * MC2_SHA256_LEN] = {0}, h[MC2_SHA256_LEN];
    const uint8_t *logged[3] = {NULL, NULL, NULL};
    if (q->one_pcr != v->pcr)
        return pcr_mismatch(err, "the quote does not select exactly the policy's PCR in the "
                                 "sha256 bank");
    for (size_t i = 0; i < s->n_events; i++) {
        const uint8_t *e = s->events + i * (4 + MC2_SHA256_LEN);
        uint32_t type = mc2_le32_get(e);
        if (type != MC2_TPM_EV_ENCLAVE && type != MC2_TPM_EV_SIGSTRUCT)
            return malformed(err, "an event of an unknown type");
        if (logged[type]) return malformed(err, "an event type logged twice");
        logged[type] = e + 4;
        memcpy(pcr + MC2_SHA256_LEN, e + 4, MC2_SHA256_LEN);
        if (mc2_sha256(pcr, sizeof pcr, pcr, err)) return MC2_ATTEST_MALFORMED;
    }
    if (!logged[MC2_TPM_EV_ENCLAVE] || !logged[MC2_TPM_EV_SIGSTRUCT])
        return malformed(err, "the event log lacks the enclave or the sigstruct event");
    if (q->pcr_digest_len != MC2_SHA256_LEN || mc2_sha256(pcr, MC2_SHA256_LEN, h, err) ||
        memcmp(h, q->pcr_digest, MC2_SHA256_LEN) != 0)
        return pcr_mismatch(err, "the quoted PCR value is not the event log's replay (the PCR "
                                 "was extended by someone else, or the log was changed)");
    memcpy(c->tpm.pcr_value, pcr, MC2_SHA256_LEN);
    mc2_err e2;
    if (mc2_sha256(s->ss, MC2_SIGSTRUCT_LEN, h, err) ||
        memcmp(h, logged[MC2_TPM_EV_SIGSTRUCT], MC2_SHA256_LEN) != 0 ||
        mc2_sigstruct_decode(s->ss, MC2_SIGSTRUCT_LEN, ss, &e2) || mc2_sigstruct_verify(ss, &e2) ||
        memcmp(ss->measurement, logged[MC2_TPM_EV_ENCLAVE], MC2_SHA256_LEN) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the TPM event log does not match the enclave's "
                    "sigstruct (another sigstruct, a forged one, or another measurement)");
        return MC2_ATTEST_EVENT_LOG;
    }
    return MC2_ATTEST_OK;
}

/* Steps 2 to 4: the AK trusted, the signature, the binding. */
static enum mc2_attest_result check_quote(const mc2_tpm_verifier *v, const tpm_ev *s,
                                          const tpm_ak *ak, const tpm_quote *q, mc2_claims *c,
                                          mc2_err *err)
{
    if (mc2_sha256(ak->spki, SPKI_LEN, c->tpm.ak_id, err)) return MC2_ATTEST_MALFORMED;
    int trusted = 0;
    for (size_t i = 0; i < v->n_ak_ids; i++)
        trusted |= memcmp(v->ak_ids[i], c->tpm.ak_id, MC2_SHA256_LEN) == 0;
    if (!trusted) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the TPM quote is signed by an attestation key this "
                    "policy does not list (enclave.tpm.ak_keys; the host's STATE/tpm-ak.pub "
                    "names its key)");
        return MC2_ATTEST_UNTRUSTED_PLATFORM;
    }
    enum mc2_attest_result res = check_signature(s, ak, err);
    if (res != MC2_ATTEST_OK) return res;
    uint8_t h[MC2_SHA256_LEN];
    if (mc2_sha256(s->rd, MC2_REPORT_DATA_LEN, h, err)) return MC2_ATTEST_MALFORMED;
    if (q->extra_len != MC2_SHA256_LEN || memcmp(h, q->extra, MC2_SHA256_LEN) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the TPM quote is not over this evidence's report data "
                    "(a quote replayed from another session)");
        return MC2_ATTEST_BINDING;
    }
    return MC2_ATTEST_OK;
}

enum mc2_attest_result mc2_ev_tpm_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err)
{
    const mc2_tpm_verifier *v = cfg;
    tpm_ev s;
    tpm_ak ak;
    tpm_quote q;
    mc2_sigstruct ss;
    const char *why;
    enum mc2_attest_result res = split(ev, n, &s, err);
    if (res == MC2_ATTEST_OK) res = parse_quote(&s, &q, err);
    if (res == MC2_ATTEST_OK && parse_ak(s.pub, s.pub_len, &ak, &why)) res = malformed(err, why);
    if (res == MC2_ATTEST_OK &&
        (q.signer_len != sizeof ak.qname || memcmp(q.signer, ak.qname, sizeof ak.qname) != 0))
        res = malformed(err, "the quote's signer is not its attestation key as a primary key of "
                             "the endorsement hierarchy");
    if (res == MC2_ATTEST_OK) res = check_quote(v, &s, &ak, &q, c, err);
    if (res == MC2_ATTEST_OK) res = check_log(v, &s, &q, &ss, c, err);
    ERR_clear_error(); /* hostile input's parse errors must not surface in a later TLS call */
    if (res != MC2_ATTEST_OK) return res;
    memcpy(c->measurement, ss.measurement, MC2_SHA256_LEN);
    mc2_signer_id(ss.signer_pub, c->signer);
    c->product_id = ss.product_id;
    c->svn = ss.svn;
    c->simulation = false;
    c->debug = false;
    memcpy(c->report_data, s.rd, MC2_REPORT_DATA_LEN);
    c->tpm.pcr = v->pcr;
    c->tpm.clock = q.clock;
    c->tpm.reset_count = q.reset_count;
    c->tpm.restart_count = q.restart_count;
    c->tpm.firmware_version = q.firmware;
    return MC2_ATTEST_OK;
}

int mc2_evidence_tpm_encode(const uint8_t report_data[MC2_REPORT_DATA_LEN], const uint8_t *quote,
                            size_t quote_len, const uint8_t *sig, size_t sig_len,
                            const uint8_t *ak_pub, size_t ak_pub_len, const mc2_tpm_event *events,
                            size_t n_events, const mc2_sigstruct *ss, uint8_t **out,
                            size_t *out_len, mc2_err *err)
{
    const uint8_t *parts[3] = {quote, sig, ak_pub};
    size_t len[3] = {quote_len, sig_len, ak_pub_len};
    if (n_events == 0 || n_events > MC2_TPM_MAX_EVENTS)
        return mc2_err_set(err, MC2_E_USAGE, "a TPM event log has 1..%d events, not %zu",
                           MC2_TPM_MAX_EVENTS, n_events);
    size_t n = MC2_EV_HEADER_LEN + MC2_REPORT_DATA_LEN + 4 + n_events * (4 + MC2_SHA256_LEN) +
               MC2_SIGSTRUCT_LEN;
    for (int i = 0; i < 3; i++) {
        if (len[i] == 0 || len[i] > MC2_TPM_MAX_PART)
            return mc2_err_set(err, MC2_E_USAGE, "a TPM evidence part must be 1..%d bytes",
                               MC2_TPM_MAX_PART);
        n += 4 + len[i];
    }
    uint8_t *p = mc2_malloc(n);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_ev_header_put(p, MC2_EVIDENCE_TPM);
    memcpy(p + 8, report_data, MC2_REPORT_DATA_LEN);
    size_t off = 8 + MC2_REPORT_DATA_LEN;
    for (int i = 0; i < 3; i++) {
        mc2_le32_put(p + off, (uint32_t)len[i]);
        memcpy(p + off + 4, parts[i], len[i]);
        off += 4 + len[i];
    }
    mc2_le32_put(p + off, (uint32_t)n_events);
    off += 4;
    for (size_t i = 0; i < n_events; i++, off += 4 + MC2_SHA256_LEN) {
        mc2_le32_put(p + off, events[i].type);
        memcpy(p + off + 4, events[i].digest, MC2_SHA256_LEN);
    }
    mc2_sigstruct_encode(ss, p + off);
    *out = p;
    *out_len = n;
    return 0;
}
