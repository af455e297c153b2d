/* evidence.c - the format-independent part of attestation: the common evidence header and
 * the dispatch to each format's verifier (registry.c), appraisal of verified claims against
 * the relying party's policy, and the RA-TLS report data. The formats' encodings are in
 * their verifiers' files (ev_sim.c, ev_snp.c, ev_tpm.c). */
#include <string.h>

#include "attest/verifiers.h"
#include "base/bytes.h"
#include "mc2/attest.h"

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
    case MC2_ATTEST_BAD_CHAIN:
        return "platform certificate chain does not verify";
    case MC2_ATTEST_TCB:
        return "platform TCB version too low";
    case MC2_ATTEST_MIGRATION:
        return "migration agent not allowed";
    case MC2_ATTEST_VMPL:
        return "report from a less privileged VMPL";
    case MC2_ATTEST_PCR:
        return "TPM PCR value is not the event log's";
    case MC2_ATTEST_EVENT_LOG:
        return "TPM event log does not match the sigstruct";
    }
    return "unknown";
}

void mc2_ev_header_put(uint8_t *p, enum mc2_evidence_format format)
{
    memcpy(p, MC2_EV_MAGIC, 4);
    mc2_le16_put(p + 4, MC2_EV_VERSION);
    mc2_le16_put(p + 6, (uint16_t)format);
}

enum mc2_attest_result mc2_evidence_verify(const mc2_verifier *v, const uint8_t *ev, size_t n,
                                           mc2_claims *c, mc2_err *err)
{
    memset(c, 0, sizeof *c);
    if (n < MC2_EV_HEADER_LEN || memcmp(ev, MC2_EV_MAGIC, 4) != 0 ||
        mc2_le16_get(ev + 4) != MC2_EV_VERSION) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: malformed evidence (bad header)");
        return MC2_ATTEST_MALFORMED;
    }
    uint16_t fmt = mc2_le16_get(ev + 6);
    const mc2_ev_format *f = mc2_ev_format_find(fmt);
    if (!f) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: unknown evidence format %u", fmt);
        return MC2_ATTEST_UNKNOWN_FORMAT;
    }
    c->format = f->id;
    enum mc2_attest_result r = f->verify((const char *)v + f->cfg_offset, ev, n, c, err);
    if (r != MC2_ATTEST_OK) {
        memset(c, 0, sizeof *c); /* nothing unverified leaves */
        c->format = f->id;
    }
    return r;
}

/* sim and tpm reference values: measurement and/or signer identity. */
static enum mc2_attest_result appraise_sim(const mc2_claims *c, const mc2_appraisal *p,
                                           mc2_err *err)
{
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
    return MC2_ATTEST_OK;
}

/* snp reference values: migration agent, VMPL, launch measurement, TCB minimums. */
static enum mc2_attest_result appraise_snp(const mc2_claims *c, const mc2_appraisal *p,
                                           mc2_err *err)
{
    const mc2_snp_claims *s = &c->snp;
    if ((s->policy & MC2_SNP_POLICY_MIGRATE_MA) && !p->allow_migration_agent) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: migration agent not allowed: the guest policy lets a "
                    "migration agent attach (MIGRATE_MA), which can export the guest's memory");
        return MC2_ATTEST_MIGRATION;
    }
    if (s->vmpl > p->snp_max_vmpl) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: the report was requested at VMPL %u, a less privileged "
                    "level than the policy accepts (max_vmpl %u): other code than the guest's "
                    "most privileged level chose its report data",
                    s->vmpl, p->snp_max_vmpl);
        return MC2_ATTEST_VMPL;
    }
    int found = 0;
    for (size_t i = 0; i < p->n_snp_measurements && i < MC2_MAX_MEASUREMENTS; i++)
        found |= memcmp(p->snp_measurements[i], s->measurement, MC2_SNP_MEASUREMENT_LEN) == 0;
    if (!found) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: wrong measurement: the SEV-SNP launch measurement is "
                    "not one of the %zu expected",
                    p->n_snp_measurements);
        return MC2_ATTEST_MEASUREMENT;
    }
    const mc2_snp_tcb *t = &s->reported_tcb, *m = &p->snp_min_tcb;
    const char *low = t->bootloader < m->bootloader ? "bootloader"
                      : t->tee < m->tee             ? "TEE"
                      : t->snp < m->snp             ? "SNP firmware"
                      : t->microcode < m->microcode ? "microcode"
                                                    : NULL;
    if (low) {
        mc2_err_set(err, MC2_E_AUTH,
                    "attestation failed: platform TCB too low: %s (reported TCB bootloader %u, "
                    "TEE %u, SNP %u, microcode %u; policy minimum %u, %u, %u, %u): the host "
                    "must update its firmware",
                    low, t->bootloader, t->tee, t->snp, t->microcode, m->bootloader, m->tee, m->snp,
                    m->microcode);
        return MC2_ATTEST_TCB;
    }
    return MC2_ATTEST_OK;
}

enum mc2_attest_result mc2_appraise(const mc2_claims *c, const mc2_appraisal *p,
                                    const uint8_t expected_report_data[MC2_REPORT_DATA_LEN],
                                    mc2_err *err)
{
    bool by_id = c->format == MC2_EVIDENCE_SIM || c->format == MC2_EVIDENCE_TPM;
    if (by_id && p->n_measurements == 0 && !p->has_signer) {
        mc2_err_set(err, MC2_E_USAGE,
                    "the appraisal policy names neither a measurement nor a signer: it would "
                    "accept any enclave");
        return MC2_ATTEST_MEASUREMENT;
    }
    if (c->format == MC2_EVIDENCE_SNP && p->n_snp_measurements == 0) {
        mc2_err_set(err, MC2_E_USAGE,
                    "the appraisal policy names no SEV-SNP launch measurement: it would accept "
                    "any guest");
        return MC2_ATTEST_MEASUREMENT;
    }
    if (!by_id && c->format != MC2_EVIDENCE_SNP) {
        mc2_err_set(err, MC2_E_AUTH, "attestation failed: no appraisal for evidence format %u",
                    (unsigned)c->format);
        return MC2_ATTEST_UNKNOWN_FORMAT;
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
    enum mc2_attest_result r = by_id ? appraise_sim(c, p, err) : appraise_snp(c, p, err);
    if (r != MC2_ATTEST_OK) return r;
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
