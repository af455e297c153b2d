/* state.h - TRUSTED: the enclave's durable state, its encoding and its sealing
 * (docs/format.md "Sealed enclave state"). What survives a restart: the instance nonce and
 * the next job counter, the parties' data keys, and the jobs (text, submitter, model owner,
 * approvals, state, status, results with their keys, a model key granted and not yet used).
 *
 * Restored jobs: a job queued or running when the state was saved runs again (jobs are
 * deterministic in what they compute; their results get fresh keys and replace the old
 * objects, whose keys nobody was given), except a predict job that had started (its model
 * key was used once and wiped) and every unfinished fedavg round (its updates are not
 * sealed): those fail with ENC_STATE_RESTART_MSG. A fedavg round finished before the restart
 * keeps its results, but cannot be the base of a new round (its model key is not sealed).
 *
 * The sealed blob: "MC2SEALD" | u32 version=1 | u64 generation n | measurement[32] |
 * policy hash[32] | nonce[12] | u64 ct_len | ct | tag[16], AES-256-GCM under enc_seal_key
 * with AAD = "mc2 sealed state v1" | measurement | policy hash | u64 n. */
#ifndef MC2_ENCLAVE_STATE_H
#define MC2_ENCLAVE_STATE_H

#include "enclave/enclave.h"

#define ENC_STATE_VERSION     1
#define ENC_STATE_MAX         (300u << 20) /* plaintext bytes (1024 jobs of 256 KiB text and more) */
#define ENC_SEAL_HDR          (8 + 4 + 8 + 32 + 32 + MC2_NONCE_LEN + 8)
#define ENC_SEAL_OVERHEAD     (ENC_SEAL_HDR + MC2_TAG_LEN)
#define ENC_SEAL_LABEL        "mc2 sealed state v1"
#define ENC_STATE_OBJECT      "enclave/state"
#define ENC_STATE_RESTART_MSG "interrupted by an enclave restart; start a new round"
#define ENC_STATE_RESTART_MODEL_MSG                                                                \
    "interrupted by an enclave restart while it ran: its model key was used and is gone; "         \
    "submit the job again and grant the key for it"

/* Appends the encoding of e's durable state to out (make out secret: it holds keys). mu
 * held (or no other thread). A job that has started running is written without its model
 * key (the runner may have wiped it) and without results. */
int enc_state_encode(const enclave *e, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Decodes p[0..n) (hostile: every length, count and index is checked, no trailing byte) into
 * e, which must hold no job and no key (a fresh enclave with its policy): instance, counter,
 * keys and jobs, each job text parsed again; then applies the restart rules above. On
 * failure e is left as it was (nothing restored; anything decoded is wiped and freed). */
int enc_state_decode(enclave *e, const uint8_t *p, size_t n, mc2_err *err) MC2_WUR;

/* Frees every job of e (wiping keys) and wipes the data keys: for harnesses and tests. */
void enc_state_clear(enclave *e);

/* The sealing key of this enclave build on this platform: its attester's (e->att->seal_key;
 * sim: derived from INIT's platform secret and the measurement). MC2_E_INPUT when the
 * backend offers no sealing. The caller wipes it. */
int enc_seal_key(enclave *e, uint8_t key[32], mc2_err *err) MC2_WUR;

/* Seals plain[0..n) as generation gen into out (appended; see the blob above). */
int enc_state_seal(enclave *e, uint64_t gen, const uint8_t *plain, size_t n, mc2_buf *out,
                   mc2_err *err) MC2_WUR;

/* Whether p[0..n) is a well-formed sealed state v1 header naming another enclave build or
 * another consortium policy (unauthenticated: the host can write any header, but it can
 * also make the enclave start empty anyway, INIT's discard flag); `why` says which. */
bool enc_state_foreign(const enclave *e, const uint8_t *p, size_t n, const char **why);

/* Opens the sealed blob p[0..n) into plain (made secret; replaced) and its generation into
 * *gen. Distinct errors (MC2_E_INPUT malformed, MC2_E_AUTH sealed by another enclave build,
 * for another policy, or not authentic: tampered with or another platform key). */
int enc_state_open(enclave *e, const uint8_t *p, size_t n, mc2_buf *plain, uint64_t *gen,
                   mc2_err *err) MC2_WUR;

#endif
