/* tpm_seal.h - UNTRUSTED: the tpm backend's sealed root secret and NV monotonic counter
 * (tpm_seal.c; used by tee_tpm.c only). docs/tee.md "The tpm backend", docs/security.md
 * "Sealed state".
 *
 * Root secret: 32 random bytes sealed in a TPM keyedhash data object under a storage primary
 * key (ECC P-256, fixed template, owner hierarchy, empty owner authorisation) whose
 * authPolicy is PolicyPCR over the backend's PCR as it is after the launch events, so the
 * TPM releases it only while the PCR holds this build's launch. Its public and private
 * blobs are STATE/tpm-seal.pub and STATE/tpm-seal.priv (mode 0600; the private blob is
 * encrypted by the TPM's storage key). The sealed data is secret[32] || u64 base (little
 * endian): base is the NV counter's value when the secret was made, so the counter the
 * enclave sees (raw value - base) starts at 0 for each new secret, and the host cannot
 * change base without unsealing and sealing again (see docs/security.md for what that
 * stops and what it does not).
 *
 * NV counter: an NV index of type counter (TPMA_NV_COUNTER, 8 bytes, authorised by its own
 * empty authValue, NO_DA) at a fixed owner-range index (default MC2_TPM_NV_INDEX), defined
 * with the owner hierarchy's (empty) authorisation on first use and incremented once then
 * (a new counter must be written before it can be read; the TPM starts it at the highest
 * value any counter had, so it never goes back, even if undefined and defined again). */
#ifndef MC2_HOST_TPM_SEAL_H
#define MC2_HOST_TPM_SEAL_H

#include <stdbool.h>
#include <stdint.h>

#include <tss2/tss2_esys.h>

#include "mc2/err.h"

#define MC2_TPM_NV_INDEX   0x01500016u /* the default NV counter index (owner range) */
#define MC2_TPM_SECRET_LEN 32

/* The counter at index: *tr is its ESYS handle (ESYS_TR_NONE on entry: found, or defined
 * and initialised; the caller closes it with Esys_TR_Close). Refuses an index that holds
 * something other than an 8-byte counter, naming the nv_index= option. */
int mc2_tpm_counter_open(ESYS_CONTEXT *esys, uint32_t index, ESYS_TR *tr, mc2_err *err) MC2_WUR;

/* The counter's raw value; after adding one when increment. */
int mc2_tpm_counter_raw(ESYS_CONTEXT *esys, ESYS_TR tr, bool increment, uint64_t *v,
                        mc2_err *err) MC2_WUR;

/* The root secret for the launch the PCR holds now (call right after extending it): unsealed
 * from STATE/tpm-seal.{pub,priv}, or, when they are missing, do not load on this TPM, or do
 * not unseal (another build's launch in the PCR), a new one, sealed and written there with
 * *base = the counter's current raw value (logged, naming the reason). secret and *base are
 * the caller's; secret is wiped on failure. *created tells which happened. */
int mc2_tpm_root_secret(ESYS_CONTEXT *esys, const char *state_dir, uint8_t pcr, ESYS_TR counter,
                        uint8_t secret[MC2_TPM_SECRET_LEN], uint64_t *base, bool *created,
                        mc2_err *err) MC2_WUR;

#endif
