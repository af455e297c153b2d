/* evidence.c - evidence formats and their verification, and appraisal of claims.
 *
 * sim evidence (all little-endian), SIM_LEN = 240 bytes:
 *   "MC2E" | version u16 = 1 | format u16 = 1 (sim) | measurement[32] | signer[32] |
 *   product_id u16 | svn u16 | flags u32 (bit 0 simulation, bit 1 debug; others zero) |
 *   report_data[64] | platform_pub[32] | signature[64] over "mc2 evidence v1" || all the
 *   preceding bytes, by the simulated platform key.
 * sim evidence always has the simulation flag set; a verifier rejects it if not. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/attest.h"

#define EV_MAGIC    "MC2E"
#define EV_VERSION  1
#define EV_CONTEXT  "mc2 evidence v1"
#define EV_BODY_LEN (4 + 2 + 2 + 32 + 32 + 2 + 2 + 4 + 64 + 32)
#define SIM_LEN     (EV_BODY_LEN + 64)
#define FLAG_SIM    1u
#define FLAG_DEBUG  2u

const char *mc2_attest_result_name(enum mc2_attest_result r)
{
    switch (r) {
    case MC2_ATTEST_OK:
        return "ok";
    case MC2_ATTEST_MALFORMED:
        return "malformed evidence";
    case MC2_ATTEST_UNKNOWN_FORMAT:
        return "unknown evidence format";
    case MC2_ATTEST_UNTRUSTED_PLATFORM:
        return "untrusted platform key";
    case MC2_ATTEST_BAD_SIGNATURE:
        return "invalid evidence signature";
    case MC2_ATTEST_SIMULATION:
        return "simulation not allowed";
    case MC2_ATTEST_DEBUG:
        return "debug enclave not allowed";
    case MC2_ATTEST_MEASUREMENT:
        return "wrong measurement";
    case MC2_ATTEST_SIGNER:
        return "wrong signer";
    case MC2_ATTEST_PRODUCT:
        return "wrong product id";
    case MC2_ATTEST_SVN:
        return "security version too low";
    case MC2_ATTEST_BINDING:
        return "evidence not bound to this channel";
    }
    return "unknown";
}

/* Signature input: context then body. */
static int sig_input(const uint8_t body[EV_BODY_LEN], uint8_t out[EV_BODY_LEN + 16])
{
    memcpy(out, EV_CONTEXT, sizeof EV_CONTEXT - 1);
    memcpy(out + sizeof EV_CONTEXT - 1, body, EV_BODY_LEN);
    return (int)(sizeof EV_CONTEXT - 1 + EV_BODY_LEN);
}

int mc2_evidence_sim_create(const mc2_claims *c, const uint8_t platform_sec[MC2_ED25519_SEC_LEN],
                            uint8_t **out, size_t *out_len, mc2_err *err)
{
    uint8_t *p = mc2_malloc(SIM_LEN);
    uint8_t msg[EV_BODY_LEN + 16];
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    memcpy(p, EV_MAGIC, 4);
    mc2_le16_put(p + 4, EV_VERSION);
    mc2_le16_put(p + 6, MC2_EVIDENCE_SIM);
    memcpy(p + 8, c->measurement, 32);
    memcpy(p + 40, c->signer, 32);
    mc2_le16_put(p + 72, c->product_id);
    mc2_le16_put(p + 74, c->svn);
    mc2_le32_put(p + 76, FLAG_SIM | (c->debug ? FLAG_DEBUG : 0));
    memcpy(p + 80, c->report_data, 64);
    if (mc2_ed25519_public(platform_sec, p + 144, err)) goto fail;
    if (mc2_ed25519_sign(platform_sec, msg, (size_t)sig_input(p, msg), p + EV_BODY_LEN, err))
        goto fail;
    *out = p;
    *out_len = SIM_LEN;
    return 0;
fail:
    mc2_free(p);
    return -1;
}

enum mc2_attest_result mc2_evidence_verify(const mc2_verifier *v, const uint8_t *ev, size_t n,
                                           mc2_claims *c, mc2_err *err)
{
    uint8_t msg[EV_BODY_LEN + 16];
    memset(c, 0, sizeof *c);
    if (n < 8 || memcmp(ev, EV_MAGIC, 4) != 0 || mc2_le16_get(ev + 4) != EV_VERSION) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed evidence (bad header)");
        return MC2_ATTEST_MALFORMED;
    }
    uint16_t fmt = mc2_le16_get(ev + 6);
    if (fmt != MC2_EVIDENCE_SIM) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: unknown evidence format %u", fmt);
        return MC2_ATTEST_UNKNOWN_FORMAT;
    }
    if (n != SIM_LEN) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: malformed evidence (%zu bytes, sim evidence is %d)", n,
                    SIM_LEN);
        return MC2_ATTEST_MALFORMED;
    }
    uint32_t flags = mc2_le32_get(ev + 76);
    if ((flags & ~(FLAG_SIM | FLAG_DEBUG)) || !(flags & FLAG_SIM)) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed evidence (flags %#x)", flags);
        return MC2_ATTEST_MALFORMED;
    }
    const uint8_t *pk = ev + 144;
    int trusted = 0;
    for (size_t i = 0; i < v->n_sim_keys; i++) trusted |= memcmp(v->sim_keys[i], pk, 32) == 0;
    if (!trusted) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the evidence is signed by a simulated platform key "
                    "this client does not trust");
        return MC2_ATTEST_UNTRUSTED_PLATFORM;
    }
    if (mc2_ed25519_verify(pk, msg, (size_t)sig_input(ev, msg), ev + EV_BODY_LEN, 64, NULL)) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the evidence signature does not verify (forged or "
                    "modified evidence)");
        return MC2_ATTEST_BAD_SIGNATURE;
    }
    c->format = MC2_EVIDENCE_SIM;
    memcpy(c->measurement, ev + 8, 32);
    memcpy(c->signer, ev + 40, 32);
    c->product_id = mc2_le16_get(ev + 72);
    c->svn = mc2_le16_get(ev + 74);
    c->simulation = true;
    c->debug = (flags & FLAG_DEBUG) != 0;
    memcpy(c->report_data, ev + 80, 64);
    memcpy(c->platform_key, pk, 32);
    return MC2_ATTEST_OK;
}

enum mc2_attest_result mc2_appraise(const mc2_claims *c, const mc2_appraisal *p,
                                    const uint8_t expected_report_data[MC2_REPORT_DATA_LEN],
                                    mc2_err *err)
{
    if (p->n_measurements == 0 && !p->has_signer) {
        mc2_err_set(err, MC2_E_USAGE,
                    "the appraisal policy names neither a measurement nor a signer: it would "
                    "accept any enclave");
        return MC2_ATTEST_MEASUREMENT;
    }
    if (c->simulation && !p->allow_simulation) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: simulation not allowed: the enclave runs on the "
                    "simulated TEE, which protects nothing (set allow_simulation: true only "
                    "for tests and demos)");
        return MC2_ATTEST_SIMULATION;
    }
    if (c->debug && !p->allow_debug) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: debug enclave not allowed");
        return MC2_ATTEST_DEBUG;
    }
    if (p->n_measurements > 0) {
        int found = 0;
        for (size_t i = 0; i < p->n_measurements && i < MC2_MAX_MEASUREMENTS; i++)
            found |= memcmp(p->measurements[i], c->measurement, 32) == 0;
        if (!found) {
            mc2_err_set(err, MC2_E_AUTH,
                        "attestation failed: wrong measurement: the enclave is not one of the "
                        "%zu expected builds",
                        p->n_measurements);
            return MC2_ATTEST_MEASUREMENT;
        }
    }
    if (p->has_signer) {
        if (memcmp(p->signer, c->signer, 32) != 0) {
            mc2_err_set(err, MC2_E_AUTH,
                        "attestation failed: wrong signer: the enclave was signed by another "
                        "key than the policy expects");
            return MC2_ATTEST_SIGNER;
        }
        if (c->product_id != p->product_id) {
            mc2_err_set(err, MC2_E_AUTH,
                        "attestation failed: wrong product id %u (policy expects %u)",
                        c->product_id, p->product_id);
            return MC2_ATTEST_PRODUCT;
        }
        if (c->svn < p->min_svn) {
            mc2_err_set(err, MC2_E_AUTH,
                        "attestation failed: security version %u is below the minimum %u", c->svn,
                        p->min_svn);
            return MC2_ATTEST_SVN;
        }
    }
    if (!mc2_ct_equal(c->report_data, expected_report_data, MC2_REPORT_DATA_LEN)) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the evidence is not bound to this channel (replayed "
                    "evidence, a stale nonce, another key, or another consortium policy)");
        return MC2_ATTEST_BINDING;
    }
    return MC2_ATTEST_OK;
}

int mc2_report_data(const uint8_t *spki_der, size_t spki_len, const uint8_t nonce[32],
                    const uint8_t policy_hash[MC2_SHA256_LEN], uint8_t out[MC2_REPORT_DATA_LEN],
                    mc2_err *err)
{
    static const char ctx[] = "mc2 ra-tls v1";
    uint8_t m[sizeof ctx - 1 + 32 + 32 + 32];
    memcpy(m, ctx, sizeof ctx - 1);
    if (mc2_sha256(spki_der, spki_len, m + sizeof ctx - 1, err)) return -1;
    memcpy(m + sizeof ctx - 1 + 32, nonce, 32);
    memcpy(m + sizeof ctx - 1 + 64, policy_hash, 32);
    memset(out, 0, MC2_REPORT_DATA_LEN);
    return mc2_sha256(m, sizeof m, out, err);
}
