/* ev_sim.c - the sim evidence format's verifier (and its creation, for the sim backend).
 *
 * sim evidence (all little-endian), SIM_LEN = 240 bytes:
 *   "MC2E" | version u16 = 1 | format u16 = 1 (sim) | measurement[32] | signer[32] |
 *   product_id u16 | svn u16 | flags u32 (bit 0 simulation, bit 1 debug; others zero) |
 *   report_data[64] | platform_pub[32] | signature[64] over "mc2 evidence v1" || all the
 *   preceding bytes, by the simulated platform key.
 * sim evidence always has the simulation flag set; a verifier rejects it if not. */
#include <stdlib.h>
#include <string.h>

#include "attest/verifiers.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/attest.h"

#define EV_CONTEXT  "mc2 evidence v1"
#define EV_BODY_LEN (4 + 2 + 2 + 32 + 32 + 2 + 2 + 4 + 64 + 32)
#define SIM_LEN     (EV_BODY_LEN + 64)
#define FLAG_SIM    1u
#define FLAG_DEBUG  2u

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
    mc2_ev_header_put(p, MC2_EVIDENCE_SIM);
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

enum mc2_attest_result mc2_ev_sim_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err)
{
    const mc2_sim_verifier *v = cfg;
    uint8_t msg[EV_BODY_LEN + 16];
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
    for (size_t i = 0; i < v->n_keys; i++) trusted |= memcmp(v->keys[i], pk, 32) == 0;
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
