/* tee_tpm.c - UNTRUSTED: the tpm backend. A TPM 2.0 (a real one, or swtpm) records what the
 * host launched in a PCR and signs quotes over it with an attestation key (AK); the enclave
 * runs as an ordinary process, so the host's root can still read its memory (docs/tee.md,
 * docs/security.md).
 *
 * Options (--tee-opt): tcti=CONF (the TPM's TCTI, as tpm2-tools take it; default
 * device:/dev/tpmrm0, e.g. swtpm:port=2321; no commas), pcr=N (0..23, default 23; a PCR
 * the TPM lets locality 0 reset: 16 or 23 on PC-client TPMs), nv_index=N (the NV counter's
 * index, decimal or 0x hex, an NV handle 0x01xxxxxx; default MC2_TPM_NV_INDEX, 0x01500016).
 *   open      connects and creates the AK: an ECC P-256 restricted signing primary key from a
 *             fixed template in the endorsement hierarchy (so the same TPM gives the same
 *             key every start); writes STATE/tpm-ak.pub (its identity, SHA-256 of its SPKI
 *             DER, in hex on the first line, then the PEM key) and logs the identity, which
 *             the policy lists in enclave.tpm.ak_keys; opens (defining on first use) the NV
 *             counter (tpm_seal.h);
 *   prepare   resets the PCR and extends it with the enclave's measurement, then SHA-256 of
 *             its sigstruct; the two events are the event log (kept here and written to
 *             STATE/tpm-eventlog), replayed by the verifier from the reset value (zeros). A
 *             PCR extended by anyone else after that no longer matches the log. Then the
 *             root secret the TPM releases only under that PCR value (tpm_seal.h): INIT's
 *             attester bytes are its 32 bytes (wiped here once copied);
 *   evidence  TPM2_Quote over the PCR with qualifying data SHA-256(report data) (32 bytes fit
 *             every TPM's extraData), as evidence format 3 (mc2/attest.h);
 *   counter   the NV counter's value minus the base sealed with the root secret (so 0 for a
 *             new secret); it never goes back while the sealed object is the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/hex.h"
#include "host/tee.h"
#include "host/tpm_seal.h"

#define TCTI_MAX 256
#define N_EVENTS 2

typedef struct tpm_tee {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR ak;             /* loaded only while in use (quotes) */
    TPMS_CONTEXT *ak_saved; /* the AK, saved: it holds no TPM slot between quotes (a TPM
                               without a resource manager, e.g. swtpm, keeps a transient
                               object a killed mc2d never flushed) */
    uint8_t pcr;
    uint8_t ak_pub[MC2_TPM_MAX_PART]; /* the AK's TPMT_PUBLIC, marshalled */
    size_t ak_pub_len;
    mc2_tpm_event events[N_EVENTS]; /* the last launch's event log */
    mc2_sigstruct ss;
    bool prepared;
    char *state_dir;
    uint32_t nv_index; /* the NV counter */
    ESYS_TR nv;
    uint64_t nv_base; /* sealed with the root secret (prepare) */
} tpm_tee;

static int tss_fail(mc2_err *err, const char *what, TSS2_RC rc)
{
    return mc2_err_set(err, MC2_E_IO, "%s failed: %s", what, Tss2_RC_Decode(rc));
}

static int parse_opts(const char *opts, char tcti[TCTI_MAX], uint8_t *pcr, uint32_t *nv,
                      mc2_err *err)
{
    char k[32], v[TCTI_MAX];
    int r;
    snprintf(tcti, TCTI_MAX, "device:/dev/tpmrm0");
    *pcr = MC2_TPM_DEFAULT_PCR;
    *nv = MC2_TPM_NV_INDEX;
    while ((r = mc2_tee_opt_next(&opts, k, sizeof k, v, sizeof v, err)) == 0) {
        char *end;
        bool num = v[0] >= '0' && v[0] <= '9';
        unsigned long n = strtoul(v, &end, strcmp(k, "nv_index") == 0 ? 0 : 10);
        if (strcmp(k, "tcti") == 0 && v[0])
            memcpy(tcti, v, TCTI_MAX);
        else if (strcmp(k, "pcr") == 0 && num && !*end && n <= 23)
            *pcr = (uint8_t)n;
        else if (strcmp(k, "nv_index") == 0 && num && !*end && n >> 24 == 0x01 && n <= 0x01ffffff)
            *nv = (uint32_t)n;
        else if (strcmp(k, "tcti") == 0 || strcmp(k, "pcr") == 0 || strcmp(k, "nv_index") == 0)
            return mc2_err_set(err, MC2_E_USAGE,
                               "bad value for '%s': tcti wants a TCTI (e.g. swtpm:port=2321), "
                               "pcr a PCR index 0..23, nv_index an NV index 0x01000000..0x01ffffff",
                               k);
        else
            return mc2_err_set(
                err, MC2_E_USAGE,
                "the tpm backend has no option '%s' (it takes tcti=..., pcr=N, nv_index=N)", k);
    }
    return r < 0 ? -1 : 0;
}

/* The AK: a primary key from a fixed template, so the same TPM derives the same key. */
static int create_ak(tpm_tee *t, mc2_err *err)
{
    TPM2B_PUBLIC tmpl = {0};
    TPMT_PUBLIC *a = &tmpl.publicArea;
    a->type = TPM2_ALG_ECC;
    a->nameAlg = TPM2_ALG_SHA256;
    a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    static const char label[] = "mc2 attestation key v1"; /* mc2's own key, not another tool's */
    a->unique.ecc.x.size = sizeof label - 1;
    memcpy(a->unique.ecc.x.buffer, label, sizeof label - 1);
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    TPM2B_PUBLIC *out = NULL;
    TSS2_RC rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &sens, &tmpl, &outside, &none, &t->ak, &out, NULL,
                                    NULL, NULL);
    if (rc)
        return tss_fail(err,
                        "creating the attestation key in the endorsement hierarchy (its "
                        "authorisation must be empty)",
                        rc);
    size_t off = 0;
    rc = Tss2_MU_TPMT_PUBLIC_Marshal(&out->publicArea, t->ak_pub, sizeof t->ak_pub, &off);
    Esys_Free(out);
    if (rc) return tss_fail(err, "marshalling the attestation key", rc);
    t->ak_pub_len = off;
    rc = Esys_ContextSave(t->esys, t->ak, &t->ak_saved);
    if (rc) return tss_fail(err, "saving the attestation key's context", rc);
    (void)Esys_FlushContext(t->esys, t->ak);
    t->ak = ESYS_TR_NONE;
    return 0;
}

/* STATE/tpm-ak.pub: the AK's identity (hex) on the first line, then its PEM public key. */
static int write_ak(tpm_tee *t, mc2_err *err)
{
    uint8_t id[MC2_SHA256_LEN], spki[128];
    size_t spki_len = sizeof spki;
    char hex[2 * MC2_SHA256_LEN + 1], *path = NULL;
    if (mc2_tpm_ak_id(t->ak_pub, t->ak_pub_len, id, spki, &spki_len, err)) return -1;
    mc2_hex_encode(id, sizeof id, hex);
    const unsigned char *q = spki;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &q, (long)spki_len);
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pem_len = 0;
    int rc = -1;
    if (!k || !b || BIO_printf(b, "%s\n", hex) <= 0 || !PEM_write_bio_PUBKEY(b, k) ||
        (pem_len = BIO_get_mem_data(b, &pem)) <= 0) {
        mc2_err_set(err, MC2_E_INTERNAL, "encoding the attestation key failed");
        goto out;
    }
    path = mc2_path_join(t->state_dir, "tpm-ak.pub");
    if (!path) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (mc2_file_write_atomic(path, pem, (size_t)pem_len, 0644, 0, err)) goto out;
    fprintf(stderr,
            "mc2d: TPM attestation key %s (%s; list it in the policy's enclave.tpm.ak_keys)\n", hex,
            path);
    rc = 0;
out:
    mc2_free(path);
    BIO_free(b);
    EVP_PKEY_free(k);
    return rc;
}

static void tpm_close(void *ctx)
{
    tpm_tee *t = ctx;
    if (!t) return;
    if (t->esys && t->ak != ESYS_TR_NONE) (void)Esys_FlushContext(t->esys, t->ak);
    if (t->esys && t->nv != ESYS_TR_NONE) (void)Esys_TR_Close(t->esys, &t->nv);
    Esys_Free(t->ak_saved);
    if (t->esys) Esys_Finalize(&t->esys);
    if (t->tcti) Tss2_TctiLdr_Finalize(&t->tcti);
    mc2_free(t->state_dir);
    mc2_free(t);
}

static int tpm_open(const char *state_dir, const char *opts, void **ctx, mc2_err *err)
{
    char tcti[TCTI_MAX];
    uint8_t pcr;
    uint32_t nv;
    if (parse_opts(opts, tcti, &pcr, &nv, err)) return -1;
    tpm_tee *t = mc2_calloc(1, sizeof *t);
    if (!t) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    t->ak = ESYS_TR_NONE;
    t->nv = ESYS_TR_NONE;
    t->pcr = pcr;
    t->nv_index = nv;
    t->state_dir = mc2_strdup(state_dir);
    TSS2_RC rc;
    if (!t->state_dir) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti))) {
        mc2_err_set(err, MC2_E_IO,
                    "cannot reach the TPM through TCTI '%s' (%s): check tcti=... and that the "
                    "TPM (or swtpm) is running and this user may open it",
                    tcti, Tss2_RC_Decode(rc));
        goto fail;
    }
    if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL))) {
        tss_fail(err, "Esys_Initialize", rc);
        goto fail;
    }
    if (create_ak(t, err) || write_ak(t, err) ||
        mc2_tpm_counter_open(t->esys, t->nv_index, &t->nv, err))
        goto fail;
    *ctx = t;
    return 0;
fail:
    tpm_close(t);
    return -1;
}

/* STATE/tpm-eventlog: the PCR and the events, for an operator (the evidence carries its own
 * copy). */
static int write_log(tpm_tee *t, mc2_err *err)
{
    char text[64 + N_EVENTS * 80], hex[2 * MC2_SHA256_LEN + 1];
    int n = snprintf(text, sizeof text, "pcr %u sha256\n", t->pcr);
    for (size_t i = 0; i < N_EVENTS; i++) {
        mc2_hex_encode(t->events[i].digest, MC2_SHA256_LEN, hex);
        n += snprintf(text + n, sizeof text - (size_t)n, "%s %s\n",
                      t->events[i].type == MC2_TPM_EV_ENCLAVE ? "enclave  " : "sigstruct", hex);
    }
    char *path = mc2_path_join(t->state_dir, "tpm-eventlog");
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int rc = mc2_file_write_atomic(path, text, (size_t)n, 0644, 0, err);
    mc2_free(path);
    return rc;
}

/* Resets the PCR and extends it with the launch events (t->events). */
static int extend_launch(tpm_tee *t, const uint8_t measurement[MC2_SHA256_LEN],
                         const mc2_sigstruct *ss, mc2_err *err)
{
    uint8_t ssb[MC2_SIGSTRUCT_LEN];
    mc2_sigstruct_encode(ss, ssb);
    t->events[0].type = MC2_TPM_EV_ENCLAVE;
    memcpy(t->events[0].digest, measurement, MC2_SHA256_LEN);
    t->events[1].type = MC2_TPM_EV_SIGSTRUCT;
    if (mc2_sha256(ssb, sizeof ssb, t->events[1].digest, err)) return -1;
    ESYS_TR pcr = ESYS_TR_PCR0 + t->pcr;
    TSS2_RC rc = Esys_PCR_Reset(t->esys, pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc)
        return mc2_err_set(err, MC2_E_IO,
                           "resetting PCR %u failed (%s): choose a PCR this TPM lets locality 0 "
                           "reset (pcr=23 or pcr=16)",
                           t->pcr, Tss2_RC_Decode(rc));
    for (size_t i = 0; i < N_EVENTS; i++) {
        TPML_DIGEST_VALUES d = {.count = 1};
        d.digests[0].hashAlg = TPM2_ALG_SHA256;
        memcpy(d.digests[0].digest.sha256, t->events[i].digest, MC2_SHA256_LEN);
        rc = Esys_PCR_Extend(t->esys, pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d);
        if (rc) return tss_fail(err, "extending the PCR (does the TPM have a sha256 bank?)", rc);
    }
    return 0;
}

/* The root secret for the launch now in the PCR, appended to attester; logs its cost. */
static int root_secret(tpm_tee *t, mc2_buf *attester, mc2_err *err)
{
    uint8_t secret[MC2_TPM_SECRET_LEN];
    bool created;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = mc2_tpm_root_secret(t->esys, t->state_dir, t->pcr, t->nv, secret, &t->nv_base,
                                 &created, err) ||
                     mc2_buf_append(attester, secret, sizeof secret, err)
                 ? -1
                 : 0;
    mc2_wipe(secret, sizeof secret);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (rc == 0)
        fprintf(stderr, "mc2d: TPM-sealed root secret %s in %.1f ms (NV counter 0x%08x)\n",
                created ? "created and sealed" : "unsealed", ms, t->nv_index);
    return rc;
}

static int tpm_prepare(void *ctx, const uint8_t measurement[MC2_SHA256_LEN],
                       const mc2_sigstruct *ss, mc2_buf *attester, mc2_err *err)
{
    tpm_tee *t = ctx;
    t->prepared = false;
    if (extend_launch(t, measurement, ss, err)) return -1;
    t->ss = *ss;
    if (write_log(t, err) || root_secret(t, attester, err)) return -1;
    t->prepared = true;
    return 0;
}

/* The NV counter relative to the base sealed with this launch's root secret. */
static int tpm_counter(void *ctx, bool increment, uint64_t *value, mc2_err *err)
{
    tpm_tee *t = ctx;
    uint64_t raw;
    if (!t->prepared) return mc2_err_set(err, MC2_E_INTERNAL, "no enclave was launched");
    if (mc2_tpm_counter_raw(t->esys, t->nv, increment, &raw, err)) return -1;
    if (raw < t->nv_base)
        return mc2_err_set(err, MC2_E_IO,
                           "the TPM's NV counter 0x%08x (%llu) is below the base sealed with "
                           "the root secret (%llu): it is not the counter that secret was "
                           "sealed with",
                           t->nv_index, (unsigned long long)raw, (unsigned long long)t->nv_base);
    *value = raw - t->nv_base;
    return 0;
}

static int tpm_evidence(void *ctx, const uint8_t report_data[MC2_REPORT_DATA_LEN], mc2_buf *ev,
                        mc2_err *err)
{
    tpm_tee *t = ctx;
    if (!t->prepared) return mc2_err_set(err, MC2_E_INTERNAL, "no enclave was launched");
    TPM2B_DATA qd = {.size = MC2_SHA256_LEN};
    if (mc2_sha256(report_data, MC2_REPORT_DATA_LEN, qd.buffer, err)) return -1;
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_ECDSA};
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPML_PCR_SELECTION sel = {.count = 1};
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[t->pcr / 8] = (uint8_t)(1u << (t->pcr % 8));
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    uint8_t sigb[256], *out = NULL;
    size_t sig_len = 0, out_len = 0;
    int r = -1;
    TSS2_RC rc = Esys_ContextLoad(t->esys, t->ak_saved, &t->ak);
    if (rc) {
        tss_fail(err, "loading the attestation key's saved context", rc);
        goto out;
    }
    rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd, &scheme,
                    &sel, &quoted, &sig);
    (void)Esys_FlushContext(t->esys, t->ak);
    t->ak = ESYS_TR_NONE;
    if (rc) {
        tss_fail(err, "TPM2_Quote", rc);
        goto out;
    }
    if ((rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigb, sizeof sigb, &sig_len))) {
        tss_fail(err, "marshalling the quote's signature", rc);
        goto out;
    }
    if (mc2_evidence_tpm_encode(report_data, quoted->attestationData, quoted->size, sigb, sig_len,
                                t->ak_pub, t->ak_pub_len, t->events, N_EVENTS, &t->ss, &out,
                                &out_len, err) ||
        mc2_buf_append(ev, out, out_len, err))
        goto out;
    r = 0;
out:
    mc2_free(out);
    Esys_Free(quoted);
    Esys_Free(sig);
    return r;
}

const mc2_tee_ops mc2_tee_tpm = {
    .name = "tpm",
    .banner = "TPM measured launch: attests what the host launched; the host's root can read "
              "the enclave's memory",
    .open = tpm_open,
    .prepare = tpm_prepare,
    .evidence = tpm_evidence,
    .counter = tpm_counter,
    .close = tpm_close,
};
