/* ev_snp.c - the AMD SEV-SNP evidence format's verifier.
 *
 * Evidence (all integers little-endian; encoding in mc2/attest.h, docs/enclave-interface.md):
 *   "MC2E" | u16 1 | u16 2 | u32 1184 | ATTESTATION_REPORT[1184] | u32 n | VCEK/VLEK DER |
 *   u32 n | ASK/ASVK DER | u32 n | ARK DER
 *
 * ATTESTATION_REPORT fields used (byte offsets; AMD SEV-SNP firmware ABI specification):
 *   0x000 u32 VERSION (2..5)         0x004 u32 GUEST_SVN          0x008 u64 POLICY
 *   0x010 FAMILY_ID[16]              0x020 IMAGE_ID[16]           0x030 u32 VMPL
 *   0x034 u32 SIGNATURE_ALGO (1 = ECDSA P-384 with SHA-384)       0x038 u64 CURRENT_TCB
 *   0x040 u64 PLATFORM_INFO          0x048 u32 bits 4:2 SIGNING_KEY (0 VCEK, 1 VLEK, 7 none)
 *   0x050 REPORT_DATA[64]            0x090 MEASUREMENT[48]        0x0C0 HOST_DATA[32]
 *   0x0E0 ID_KEY_DIGEST[48]          0x140 REPORT_ID[32]          0x180 u64 REPORTED_TCB
 *   0x188 u8 CPUID_FAM_ID (v3+)      0x1A0 CHIP_ID[64]            0x1E0 u64 COMMITTED_TCB
 *   0x2A0 SIGNATURE: R[72] | S[72] little-endian, zero above the 48 bytes of P-384
 * The signature covers bytes 0x000..0x29F. TCB_VERSION (Milan, Genoa): byte 0 bootloader,
 * byte 1 TEE, byte 6 SNP, byte 7 microcode (Turin, family 0x1A, has another layout: refused).
 *
 * Verification, in this order (each failure its own result and message):
 *   1. sizes, header, report version, signature algorithm, signing key kind -> MALFORMED;
 *   2. the ARK's public key is pinned in the verifier config -> UNTRUSTED_PLATFORM;
 *   3. ARK self-signed, ASK signed by ARK, VCEK signed by ASK (RSA-PSS, SHA-384), VCEK key
 *      is P-384, the VCEK's TCB extensions equal REPORTED_TCB and (VCEK, unless the platform
 *      masks CHIP_ID to zeros) its hwID equals CHIP_ID -> BAD_CHAIN;
 *   4. the report signature under the VCEK key -> BAD_SIGNATURE.
 * Certificate validity dates are not checked (AMD's roots and VCEKs are long-lived and a
 * verifier's clock is not trusted either); TCB minimums in the appraisal are what retires
 * old firmware. */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "attest/verifiers.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/attest.h"

#define R_SIGNED_LEN 0x2A0
#define R_SIG_R      0x2A0
#define R_SIG_S      0x2E8
#define R_SIG_FIELD  72
#define P384_LEN     48

/* The four certificate TCB extensions (AMD VCEK spec) and the chip id. */
#define OID_BL_SPL    "1.3.6.1.4.1.3704.1.3.1"
#define OID_TEE_SPL   "1.3.6.1.4.1.3704.1.3.2"
#define OID_SNP_SPL   "1.3.6.1.4.1.3704.1.3.3"
#define OID_UCODE_SPL "1.3.6.1.4.1.3704.1.3.8"
#define OID_HWID      "1.3.6.1.4.1.3704.1.4"

typedef struct snp_ev {
    const uint8_t *report;
    const uint8_t *cert[3]; /* VCEK, ASK, ARK */
    size_t cert_len[3];
} snp_ev;

static const char *const cert_name[3] = {"VCEK", "ASK", "ARK"};

static enum mc2_attest_result malformed(mc2_err *err, const char *why)
{
    mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed SEV-SNP evidence (%s)", why);
    return MC2_ATTEST_MALFORMED;
}

static enum mc2_attest_result bad_chain(mc2_err *err, const char *why)
{
    mc2_err_set(err, MC2_E_AUTH,
                "attestation failed: the SEV-SNP certificate chain does not verify: %s", why);
    return MC2_ATTEST_BAD_CHAIN;
}

static mc2_snp_tcb tcb_get(const uint8_t *p)
{
    mc2_snp_tcb t = {p[0], p[1], p[6], p[7]};
    return t;
}

/* Splits the evidence into report and certificates; checks every length. */
static enum mc2_attest_result split(const uint8_t *ev, size_t n, snp_ev *s, mc2_err *err)
{
    size_t off = MC2_EV_HEADER_LEN;
    if (n - off < 4 || mc2_le32_get(ev + off) != MC2_SNP_REPORT_LEN)
        return malformed(err, "the report length is not 1184");
    off += 4;
    if (n - off < MC2_SNP_REPORT_LEN) return malformed(err, "truncated report");
    s->report = ev + off;
    off += MC2_SNP_REPORT_LEN;
    for (int i = 0; i < 3; i++) {
        if (n - off < 4) return malformed(err, "truncated certificate length");
        uint32_t len = mc2_le32_get(ev + off);
        off += 4;
        if (len == 0 || len > MC2_SNP_MAX_CERT_LEN || len > n - off)
            return malformed(err, "a certificate length is zero, too large or past the end");
        s->cert[i] = ev + off;
        s->cert_len[i] = len;
        off += len;
    }
    if (off != n) return malformed(err, "trailing bytes");
    return MC2_ATTEST_OK;
}

/* Checks the report's own fields (before any signature). */
static enum mc2_attest_result check_report(const uint8_t *r, mc2_err *err)
{
    uint32_t version = mc2_le32_get(r);
    if (version < 2 || version > 5) return malformed(err, "unsupported report version");
    if (mc2_le32_get(r + 0x34) != 1)
        return malformed(err, "signature algorithm is not ECDSA P-384 with SHA-384");
    uint32_t key = (mc2_le32_get(r + 0x48) >> 2) & 7;
    if (key != 0 && key != 1) return malformed(err, "the report is not signed by a VCEK or VLEK");
    if (mc2_le32_get(r + 0x30) > 3) return malformed(err, "VMPL out of range");
    if (version >= 3 && r[0x188] == 0x1A)
        return malformed(err, "Turin (family 0x1A) TCB layout is not supported");
    return MC2_ATTEST_OK;
}

/* Parses one DER certificate exactly (no bytes left over). */
static X509 *parse_cert(const uint8_t *p, size_t n)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)n);
    if (x && q != p + n) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Is x signed by issuer's key with RSA-PSS and SHA-384? */
static int signed_by(X509 *x, X509 *issuer)
{
    int mdnid = 0, pknid = 0;
    EVP_PKEY *k = X509_get0_pubkey(issuer);
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return 0;
    if (!X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL)) return 0;
    if (mdnid != NID_sha384 || pknid != EVP_PKEY_RSA_PSS) return 0;
    return X509_verify(x, k) == 1;
}

static int ark_pinned(const mc2_snp_verifier *v, X509 *ark)
{
    unsigned char *der = NULL;
    uint8_t h[MC2_SHA256_LEN];
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ark), &der);
    if (len <= 0) return 0;
    int ok = mc2_sha256(der, (size_t)len, h, NULL) == 0, found = 0;
    OPENSSL_free(der);
    for (size_t i = 0; ok && i < v->n_ark_pins; i++)
        found |= memcmp(v->ark_pins[i], h, MC2_SHA256_LEN) == 0;
    return found;
}

/* The value of the certificate's extension oid: its raw content (octets) in *val. */
static const ASN1_OCTET_STRING *ext_value(X509 *x, const char *oid)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    if (!o) return NULL;
    int i = X509_get_ext_by_OBJ(x, o, -1);
    ASN1_OBJECT_free(o);
    if (i < 0) return NULL;
    return X509_EXTENSION_get_data(X509_get_ext(x, i));
}

/* A TCB extension: a DER INTEGER 0..255. -1 if absent or malformed. */
static int ext_spl(X509 *x, const char *oid)
{
    const ASN1_OCTET_STRING *v = ext_value(x, oid);
    if (!v) return -1;
    const unsigned char *p = ASN1_STRING_get0_data(v);
    int64_t val = -1;
    ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(v));
    if (!ai) return -1;
    if (p != ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) ||
        !ASN1_INTEGER_get_int64(&val, ai) || val < 0 || val > 255)
        val = -1;
    ASN1_INTEGER_free(ai);
    return (int)val;
}

/* The VCEK/VLEK certificate must be for the report's REPORTED_TCB (and a VCEK for its
 * chip): otherwise old firmware could claim a newer TCB than its key was derived for. A
 * platform configured with MASK_CHIP_ID reports CHIP_ID as zeros: nothing to compare then
 * (the VCEK's signature still ties the report to its chip). */
static enum mc2_attest_result key_matches_report(X509 *vcek, const uint8_t *r, mc2_err *err)
{
    mc2_snp_tcb t = tcb_get(r + 0x180);
    if (ext_spl(vcek, OID_BL_SPL) != t.bootloader || ext_spl(vcek, OID_TEE_SPL) != t.tee ||
        ext_spl(vcek, OID_SNP_SPL) != t.snp || ext_spl(vcek, OID_UCODE_SPL) != t.microcode)
        return bad_chain(err, "the VCEK certificate is for another TCB than the report's "
                              "REPORTED_TCB");
    static const uint8_t zero_id[MC2_SNP_CHIP_ID_LEN];
    int vlek = ((mc2_le32_get(r + 0x48) >> 2) & 7) == 1;
    int masked = memcmp(r + 0x1A0, zero_id, MC2_SNP_CHIP_ID_LEN) == 0;
    if (!vlek && !masked) {
        const ASN1_OCTET_STRING *id = ext_value(vcek, OID_HWID);
        if (!id || ASN1_STRING_length(id) != MC2_SNP_CHIP_ID_LEN ||
            memcmp(ASN1_STRING_get0_data(id), r + 0x1A0, MC2_SNP_CHIP_ID_LEN) != 0)
            return bad_chain(err, "the VCEK certificate is for another chip than the report's "
                                  "CHIP_ID");
    }
    return MC2_ATTEST_OK;
}

/* ECDSA P-384 / SHA-384 over the signed part of the report, r and s little-endian. */
static enum mc2_attest_result check_signature(X509 *vcek, const uint8_t *r, mc2_err *err)
{
    enum mc2_attest_result res = MC2_ATTEST_BAD_SIGNATURE;
    EVP_PKEY *k = X509_get0_pubkey(vcek);
    char group[32] = "";
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
        !EVP_PKEY_get_group_name(k, group, sizeof group, NULL) || strcmp(group, "secp384r1"))
        return bad_chain(err, "the VCEK's key is not an ECDSA P-384 key");
    static const uint8_t zero[R_SIG_FIELD - P384_LEN];
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_lebin2bn(r + R_SIG_R, P384_LEN, NULL);
    BIGNUM *bs = BN_lebin2bn(r + R_SIG_S, P384_LEN, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = -1;
    if (!sig || !br || !bs || !md) {
        BN_free(br);
        BN_free(bs);
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        res = MC2_ATTEST_MALFORMED;
        goto out;
    }
    if (!ECDSA_SIG_set0(sig, br, bs)) {
        BN_free(br);
        BN_free(bs);
    } else if (memcmp(r + R_SIG_R + P384_LEN, zero, sizeof zero) == 0 &&
               memcmp(r + R_SIG_S + P384_LEN, zero, sizeof zero) == 0) {
        der_len = i2d_ECDSA_SIG(sig, &der);
    }
    if (der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, k) == 1 &&
        EVP_DigestVerify(md, der, (size_t)der_len, r, R_SIGNED_LEN) == 1)
        res = MC2_ATTEST_OK;
    else
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the SEV-SNP report signature does not verify under "
                    "the VCEK (forged or modified report)");
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    ECDSA_SIG_free(sig);
    return res;
}

/* Steps 2-4 of the header comment on parsed certificates x[0..2] = VCEK, ASK, ARK. */
static enum mc2_attest_result check_chain(const mc2_snp_verifier *v, X509 *const x[3],
                                          const uint8_t *r, mc2_err *err)
{
    if (!ark_pinned(v, x[2])) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the SEV-SNP evidence's AMD root key (ARK) is not one "
                    "this verifier trusts (pin AMD's ARK for the platform's product)");
        return MC2_ATTEST_UNTRUSTED_PLATFORM;
    }
    if (!signed_by(x[2], x[2])) return bad_chain(err, "the ARK is not self-signed");
    if (!signed_by(x[1], x[2])) return bad_chain(err, "the ASK is not signed by the ARK");
    if (!signed_by(x[0], x[1])) return bad_chain(err, "the VCEK is not signed by the ASK");
    enum mc2_attest_result res = key_matches_report(x[0], r, err);
    if (res != MC2_ATTEST_OK) return res;
    return check_signature(x[0], r, err);
}

static void fill_claims(const uint8_t *r, mc2_claims *c)
{
    mc2_snp_claims *s = &c->snp;
    s->version = mc2_le32_get(r);
    s->guest_svn = mc2_le32_get(r + 0x04);
    s->policy = mc2_le64_get(r + 0x08);
    memcpy(s->family_id, r + 0x10, 16);
    memcpy(s->image_id, r + 0x20, 16);
    s->vmpl = mc2_le32_get(r + 0x30);
    s->current_tcb = tcb_get(r + 0x38);
    s->platform_info = mc2_le64_get(r + 0x40);
    s->vlek = ((mc2_le32_get(r + 0x48) >> 2) & 7) == 1;
    memcpy(c->report_data, r + 0x50, MC2_REPORT_DATA_LEN);
    memcpy(s->measurement, r + 0x90, MC2_SNP_MEASUREMENT_LEN);
    memcpy(s->host_data, r + 0xC0, 32);
    memcpy(s->id_key_digest, r + 0xE0, 48);
    memcpy(s->report_id, r + 0x140, 32);
    s->reported_tcb = tcb_get(r + 0x180);
    memcpy(s->chip_id, r + 0x1A0, MC2_SNP_CHIP_ID_LEN);
    s->committed_tcb = tcb_get(r + 0x1E0);
    c->simulation = false;
    c->debug = (s->policy & MC2_SNP_POLICY_DEBUG) != 0;
}

enum mc2_attest_result mc2_ev_snp_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err)
{
    const mc2_snp_verifier *v = cfg;
    snp_ev s;
    X509 *x[3] = {NULL, NULL, NULL};
    enum mc2_attest_result res = split(ev, n, &s, err);
    if (res == MC2_ATTEST_OK) res = check_report(s.report, err);
    for (int i = 0; res == MC2_ATTEST_OK && i < 3; i++) {
        x[i] = parse_cert(s.cert[i], s.cert_len[i]);
        if (!x[i]) {
            mc2_err_set(err, MC2_E_AUTH,
                        "attestation failed: malformed SEV-SNP evidence (the %s certificate is "
                        "not one DER X.509 certificate)",
                        cert_name[i]);
            res = MC2_ATTEST_MALFORMED;
        }
    }
    if (res == MC2_ATTEST_OK) res = check_chain(v, x, s.report, err);
    if (res == MC2_ATTEST_OK) fill_claims(s.report, c);
    for (int i = 0; i < 3; i++) X509_free(x[i]);
    ERR_clear_error(); /* hostile input's parse errors must not surface in a later TLS call */
    return res;
}

int mc2_evidence_snp_encode(const uint8_t report[MC2_SNP_REPORT_LEN], const uint8_t *vcek,
                            size_t vcek_len, const uint8_t *ask, size_t ask_len, const uint8_t *ark,
                            size_t ark_len, uint8_t **out, size_t *out_len, mc2_err *err)
{
    const uint8_t *cert[3] = {vcek, ask, ark};
    size_t len[3] = {vcek_len, ask_len, ark_len};
    size_t n = MC2_EV_HEADER_LEN + 4 + MC2_SNP_REPORT_LEN;
    for (int i = 0; i < 3; i++) {
        if (len[i] == 0 || len[i] > MC2_SNP_MAX_CERT_LEN)
            return mc2_err_set(err, MC2_E_USAGE,
                               "the %s certificate must be 1..%d bytes of DER (%zu given)",
                               cert_name[i], MC2_SNP_MAX_CERT_LEN, len[i]);
        n += 4 + len[i];
    }
    uint8_t *p = mc2_malloc(n);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_ev_header_put(p, MC2_EVIDENCE_SNP);
    mc2_le32_put(p + 8, MC2_SNP_REPORT_LEN);
    memcpy(p + 12, report, MC2_SNP_REPORT_LEN);
    size_t off = 12 + MC2_SNP_REPORT_LEN;
    for (int i = 0; i < 3; i++) {
        mc2_le32_put(p + off, (uint32_t)len[i]);
        memcpy(p + off + 4, cert[i], len[i]);
        off += 4 + len[i];
    }
    *out = p;
    *out_len = n;
    return 0;
}
