/* tpm_seal.c - UNTRUSTED: the tpm backend's sealed root secret and NV counter (contract in
 * tpm_seal.h). The blobs in STATE are hostile: parsed with the TPM's own bounded
 * unmarshalling, and the TPM checks their integrity when it loads them. */
#include "host/tpm_seal.h"

#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/buf.h"
#include "base/file.h"
#include "mc2/crypto.h"

#define SEALED_LEN (MC2_TPM_SECRET_LEN + 8)
#define BLOB_MAX   4096

static int tss_fail(mc2_err *err, const char *what, TSS2_RC rc)
{
    return mc2_err_set(err, MC2_E_IO, "%s failed: %s", what, Tss2_RC_Decode(rc));
}

/* The TPM itself answered with an error (rather than the link to it failing). */
static bool tpm_said_no(TSS2_RC rc)
{
    return (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER;
}

int mc2_tpm_counter_open(ESYS_CONTEXT *esys, uint32_t index, ESYS_TR *tr, mc2_err *err)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    TSS2_RC rc = Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc == 0) {
        rc = Esys_NV_ReadPublic(esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
        bool counter = rc == 0 && pub->nvPublic.dataSize == 8 &&
                       ((pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >>
                        TPMA_NV_TPM2_NT_SHIFT) == TPM2_NT_COUNTER &&
                       (pub->nvPublic.attributes & TPMA_NV_AUTHWRITE) &&
                       (pub->nvPublic.attributes & TPMA_NV_AUTHREAD);
        Esys_Free(pub);
        if (counter) return 0;
        (void)Esys_TR_Close(esys, tr);
        return mc2_err_set(err, MC2_E_USAGE,
                           "TPM NV index 0x%08x holds something other than mc2's counter: "
                           "choose a free owner-range index with --tee-opt nv_index=0x...",
                           index);
    }
    if (!tpm_said_no(rc)) return tss_fail(err, "looking up the TPM's NV counter index", rc);
    TPM2B_NV_PUBLIC def = {0}; /* not defined yet: define it */
    def.nvPublic.nvIndex = index;
    def.nvPublic.nameAlg = TPM2_ALG_SHA256;
    def.nvPublic.attributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHREAD |
                              TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA;
    def.nvPublic.dataSize = 8;
    TPM2B_AUTH auth = {0};
    rc = Esys_NV_DefineSpace(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &auth, &def, tr);
    if (rc) {
        *tr = ESYS_TR_NONE;
        return mc2_err_set(err, MC2_E_IO,
                           "defining the monotonic counter at TPM NV index 0x%08x failed (%s): "
                           "the owner hierarchy's authorisation must be empty",
                           index, Tss2_RC_Decode(rc));
    }
    fprintf(stderr, "mc2d: defined the TPM monotonic counter at NV index 0x%08x\n", index);
    rc = Esys_NV_Increment(esys, *tr, *tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc) {
        (void)Esys_TR_Close(esys, tr);
        return tss_fail(err, "initialising the TPM monotonic counter", rc);
    }
    return 0;
}

int mc2_tpm_counter_raw(ESYS_CONTEXT *esys, ESYS_TR tr, bool increment, uint64_t *v, mc2_err *err)
{
    TSS2_RC rc = 0;
    TPM2B_MAX_NV_BUFFER *d = NULL;
    if (increment)
        rc = Esys_NV_Increment(esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc) return tss_fail(err, "incrementing the TPM monotonic counter", rc);
    rc = Esys_NV_Read(esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &d);
    if (rc == (TPM2_RC_NV_UNINITIALIZED | TSS2_TPM_RC_LAYER) && !increment) /* redefined */
        return mc2_tpm_counter_raw(esys, tr, true, v, err);
    if (rc) return tss_fail(err, "reading the TPM monotonic counter", rc);
    int r = 0;
    *v = 0;
    if (d->size != 8)
        r = mc2_err_set(err, MC2_E_IO, "the TPM's counter read gave %u bytes, not 8", d->size);
    else
        for (int i = 0; i < 8; i++) *v = *v << 8 | d->buffer[i]; /* big endian */
    Esys_Free(d);
    return r;
}

/* The storage primary key: ECC P-256 restricted decryption, fixed template, owner hierarchy. */
static int storage_primary(ESYS_CONTEXT *esys, ESYS_TR *h, mc2_err *err)
{
    TPM2B_PUBLIC tmpl = {0};
    TPMT_PUBLIC *a = &tmpl.publicArea;
    a->type = TPM2_ALG_ECC;
    a->nameAlg = TPM2_ALG_SHA256;
    a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA;
    a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    a->parameters.eccDetail.symmetric.keyBits.aes = 128;
    a->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    static const char label[] = "mc2 storage key v1";
    a->unique.ecc.x.size = sizeof label - 1;
    memcpy(a->unique.ecc.x.buffer, label, sizeof label - 1);
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    TSS2_RC rc =
        Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sens, &tmpl, &outside, &none, h, NULL, NULL, NULL, NULL);
    if (rc)
        return tss_fail(err,
                        "creating the storage key in the owner hierarchy (its authorisation "
                        "must be empty)",
                        rc);
    return 0;
}

/* A session of type (trial: to compute the digest; policy: to satisfy it) with PolicyPCR
 * over the PCR's current value. */
static int pcr_session(ESYS_CONTEXT *esys, TPM2_SE type, uint8_t pcr, ESYS_TR *s, mc2_err *err)
{
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    TSS2_RC rc = Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, s);
    if (rc) return tss_fail(err, "starting a TPM policy session", rc);
    TPML_PCR_SELECTION sel = {.count = 1};
    sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
    TPM2B_DIGEST current = {0}; /* empty: the TPM takes the PCR's value now */
    rc = Esys_PolicyPCR(esys, *s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current, &sel);
    if (rc) {
        (void)Esys_FlushContext(esys, *s);
        *s = ESYS_TR_NONE;
        return tss_fail(err, "TPM2_PolicyPCR", rc);
    }
    return 0;
}

static char *state_path(const char *dir, const char *name, mc2_err *err)
{
    char *p = mc2_path_join(dir, name);
    if (!p) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return p;
}

/* Writes the new sealed object's blobs (mode 0600). */
static int write_blobs(const char *dir, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                       mc2_err *err)
{
    uint8_t pb[sizeof *pub], vb[sizeof *priv];
    size_t pl = 0, vl = 0;
    char *pp = state_path(dir, "tpm-seal.pub", err), *vp = state_path(dir, "tpm-seal.priv", err);
    int rc = -1;
    TSS2_RC r = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pb, sizeof pb, &pl);
    if (!r) r = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, vb, sizeof vb, &vl);
    if (r)
        tss_fail(err, "marshalling the sealed object", r);
    else if (pp && vp && mc2_file_write_atomic(pp, pb, pl, 0600, 0, err) == 0 &&
             mc2_file_write_atomic(vp, vb, vl, 0600, 0, err) == 0)
        rc = 0;
    mc2_free(pp);
    mc2_free(vp);
    return rc;
}

/* Seals secret || base (a new random secret; base: the counter now) under primary. */
static int seal_new(ESYS_CONTEXT *esys, const char *dir, uint8_t pcr, ESYS_TR primary,
                    ESYS_TR counter, uint8_t secret[MC2_TPM_SECRET_LEN], uint64_t *base,
                    mc2_err *err)
{
    ESYS_TR trial = ESYS_TR_NONE;
    TPM2B_DIGEST *policy = NULL;
    TPM2B_PUBLIC *pub = NULL;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_SENSITIVE_CREATE sens = {0};
    int r = -1;
    TSS2_RC rc;
    if (mc2_tpm_counter_raw(esys, counter, false, base, err) ||
        mc2_random(secret, MC2_TPM_SECRET_LEN, err) ||
        pcr_session(esys, TPM2_SE_TRIAL, pcr, &trial, err))
        goto out;
    if ((rc = Esys_PolicyGetDigest(esys, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &policy))) {
        tss_fail(err, "TPM2_PolicyGetDigest", rc);
        goto out;
    }
    TPM2B_PUBLIC tmpl = {0};
    TPMT_PUBLIC *a = &tmpl.publicArea;
    a->type = TPM2_ALG_KEYEDHASH;
    a->nameAlg = TPM2_ALG_SHA256;
    a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT; /* policy only */
    a->parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    a->authPolicy = *policy;
    sens.sensitive.data.size = SEALED_LEN;
    memcpy(sens.sensitive.data.buffer, secret, MC2_TPM_SECRET_LEN);
    mc2_le64_put(sens.sensitive.data.buffer + MC2_TPM_SECRET_LEN, *base);
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION none = {0};
    if ((rc = Esys_Create(esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                          &outside, &none, &priv, &pub, NULL, NULL, NULL))) {
        tss_fail(err, "sealing the root secret (TPM2_Create)", rc);
        goto out;
    }
    r = write_blobs(dir, pub, priv, err);
out:
    mc2_wipe(&sens, sizeof sens);
    if (trial != ESYS_TR_NONE) (void)Esys_FlushContext(esys, trial);
    Esys_Free(policy);
    Esys_Free(pub);
    Esys_Free(priv);
    if (r) mc2_wipe(secret, MC2_TPM_SECRET_LEN);
    return r;
}

/* Reads and unmarshals the blobs. 0: read; 1: missing or not blobs (*why says which). */
static int read_blobs(const char *dir, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv, const char **why,
                      mc2_err *err)
{
    char *pp = state_path(dir, "tpm-seal.pub", err), *vp = state_path(dir, "tpm-seal.priv", err);
    mc2_buf pb = {0}, vb = {0};
    size_t po = 0, vo = 0;
    int rc = -1;
    if (!pp || !vp) goto out;
    if (mc2_file_read_all(pp, BLOB_MAX, &pb, err) || mc2_file_read_all(vp, BLOB_MAX, &vb, err)) {
        if (err->code != MC2_E_NOTFOUND && err->code != MC2_E_LIMIT) goto out;
        *why = err->code == MC2_E_NOTFOUND ? "none was sealed yet" : "its files are too long";
        rc = 1;
        goto out;
    }
    rc = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pb.data, pb.len, &po, pub) || po != pb.len ||
        Tss2_MU_TPM2B_PRIVATE_Unmarshal(vb.data, vb.len, &vo, priv) || vo != vb.len) {
        *why = "its files are not a sealed object";
        rc = 1;
    }
out:
    mc2_buf_free(&pb);
    mc2_buf_free(&vb);
    mc2_free(pp);
    mc2_free(vp);
    return rc;
}

/* Loads and unseals the stored object. 0: secret and *base; 1: the TPM refused it (*why);
 * -1: another failure (the TPM not answering). */
static int unseal_old(ESYS_CONTEXT *esys, const char *dir, uint8_t pcr, ESYS_TR primary,
                      uint8_t secret[MC2_TPM_SECRET_LEN], uint64_t *base, const char **why,
                      mc2_err *err)
{
    TPM2B_PUBLIC pub = {0};
    TPM2B_PRIVATE priv = {0};
    ESYS_TR obj = ESYS_TR_NONE, sess = ESYS_TR_NONE;
    TPM2B_SENSITIVE_DATA *d = NULL;
    int r = read_blobs(dir, &pub, &priv, why, err);
    if (r) return r;
    r = -1;
    TSS2_RC rc =
        Esys_Load(esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
    if (rc) {
        *why = "this TPM cannot load it (another TPM's, or tampered with)";
        r = tpm_said_no(rc) ? 1 : tss_fail(err, "loading the sealed object", rc);
        goto out;
    }
    if (pcr_session(esys, TPM2_SE_POLICY, pcr, &sess, err)) goto out;
    rc = Esys_Unseal(esys, obj, sess, ESYS_TR_NONE, ESYS_TR_NONE, &d);
    if (rc) {
        *why = "the PCR does not hold its launch (another enclave build or sigstruct, or the "
               "PCR was extended since)";
        r = tpm_said_no(rc) ? 1 : tss_fail(err, "unsealing the root secret", rc);
        goto out;
    }
    if (d->size != SEALED_LEN) {
        *why = "it holds something else";
        r = 1;
        goto out;
    }
    memcpy(secret, d->buffer, MC2_TPM_SECRET_LEN);
    *base = mc2_le64_get(d->buffer + MC2_TPM_SECRET_LEN);
    r = 0;
out:
    if (d) mc2_wipe(d, sizeof *d);
    Esys_Free(d);
    if (sess != ESYS_TR_NONE) (void)Esys_FlushContext(esys, sess);
    if (obj != ESYS_TR_NONE) (void)Esys_FlushContext(esys, obj);
    return r;
}

int mc2_tpm_root_secret(ESYS_CONTEXT *esys, const char *state_dir, uint8_t pcr, ESYS_TR counter,
                        uint8_t secret[MC2_TPM_SECRET_LEN], uint64_t *base, bool *created,
                        mc2_err *err)
{
    ESYS_TR primary = ESYS_TR_NONE;
    const char *why = "";
    *created = false;
    if (storage_primary(esys, &primary, err)) return -1;
    int r = unseal_old(esys, state_dir, pcr, primary, secret, base, &why, err);
    if (r == 1) {
        fprintf(stderr,
                "mc2d: no usable TPM-sealed secret in %s/tpm-seal.* (%s): sealing a new one "
                "for this enclave build (a sealed state kept under the old one will not "
                "open)\n",
                state_dir, why);
        r = seal_new(esys, state_dir, pcr, primary, counter, secret, base, err);
        *created = r == 0;
    }
    (void)Esys_FlushContext(esys, primary);
    if (r) mc2_wipe(secret, MC2_TPM_SECRET_LEN);
    return r;
}
