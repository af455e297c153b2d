/* tee.h - UNTRUSTED: a TEE backend as the host drives it. Each backend is its own file
 * (tee_sim.c, ...) plus one line in tee_registry.c's table; the enclave has the matching
 * attester (src/enclave/attester.h), found by the same name, which INIT names.
 *
 * What a backend does for the host, in the order mc2d uses it:
 *   open      once at start: the backend's device or keys, from the service's state
 *             directory and the operator's options (mc2d --tee NAME --tee-opt OPTS);
 *   prepare   measured launch: after the enclave binary was measured and its sigstruct
 *             verified, before it starts; fills the bytes INIT hands to the enclave's
 *             attester (sim: the simulated platform key; tpm: its TPM-sealed root secret);
 *   evidence  on the enclave's EIF_EVIDENCE request, when its evidence comes from a device
 *             the sandboxed enclave cannot open (a TPM, configfs-tsm): the host asks the
 *             device for evidence over the enclave's 64 bytes of report data. The host can
 *             ask for anything, but cannot forge what the device signs: the client checks
 *             the evidence and its binding. NULL when the enclave makes its own (sim);
 *   counter   sealing's rollback check (NULL: the backend offers no monotonic counter);
 *   close     at exit: wipes what open kept.
 * Sealing itself happens in the enclave with a key its attester derives or receives; the
 * host only stores the sealed bytes. What each backend protects, and what it does not, is in
 * docs/security.md. */
#ifndef MC2_HOST_TEE_H
#define MC2_HOST_TEE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/attest.h"
#include "mc2/err.h"

typedef struct mc2_tee_ops {
    const char *name;   /* mc2d --tee NAME, and the enclave attester's name */
    const char *banner; /* what the service says it is, e.g. "SIMULATION: no hardware
                           protection" (mc2d's start line and `mc2 status`) */
    /* opts: the operator's "key=value,key=value" options or NULL (defaults); each backend
     * documents its keys and refuses unknown ones. *ctx: the backend's own state. */
    int (*open)(const char *state_dir, const char *opts, void **ctx, mc2_err *err);
    /* attester: empty on entry, marked secret; what the enclave's attester's init gets. */
    int (*prepare)(void *ctx, const uint8_t measurement[MC2_SHA256_LEN], const mc2_sigstruct *ss,
                   mc2_buf *attester, mc2_err *err);
    /* Appends the evidence (docs/format.md, "MC2E" header first) for report_data to ev. */
    int (*evidence)(void *ctx, const uint8_t report_data[MC2_REPORT_DATA_LEN], mc2_buf *ev,
                    mc2_err *err);
    /* The counter's value (increment: after adding one); it never goes back. */
    int (*counter)(void *ctx, bool increment, uint64_t *value, mc2_err *err);
    void (*close)(void *ctx);
} mc2_tee_ops;

/* The backend called name, or NULL. */
const mc2_tee_ops *mc2_tee_find(const char *name);

/* The registered backends' names, comma-separated (for --help and errors). */
const char *mc2_tee_names(void);

/* A backend opened for a service: mc2_tee_open finds it (MC2_E_USAGE naming the known ones if
 * there is none of that name) and opens it; mc2_tee_close closes it (safe on a zeroed or
 * closed one). */
typedef struct mc2_tee {
    const mc2_tee_ops *ops;
    void *ctx;
} mc2_tee;

int mc2_tee_open(const char *name, const char *state_dir, const char *opts, mc2_tee *t,
                 mc2_err *err) MC2_WUR;
void mc2_tee_close(mc2_tee *t);

/* Splits the next "key=value" of an options string: *opts advances past it (and its comma).
 * key and val are copied, NUL-terminated, into the given buffers. 0: one was read; 1: none
 * left; -1: malformed (no '=', empty key, too long) with err naming it. */
int mc2_tee_opt_next(const char **opts, char *key, size_t key_cap, char *val, size_t val_cap,
                     mc2_err *err) MC2_WUR;

/* The sim backend (tee_sim.c). Options: none. INIT's attester bytes: the platform secret. */
extern const mc2_tee_ops mc2_tee_sim;

/* The tpm backend (tee_tpm.c). Options: tcti=CONF (default device:/dev/tpmrm0), pcr=N
 * (default 23), nv_index=N (default 0x01500016). INIT's attester bytes: the 32-byte root
 * secret the TPM releases under the launch's PCR value (tpm_seal.h). Evidence: format 3, a
 * quote from the TPM. Counter: an NV counter (tpm_seal.h). */
extern const mc2_tee_ops mc2_tee_tpm;
/* The tsm backend (tee_tsm.c): an AMD SEV-SNP confidential VM's reports from Linux
 * configfs-tsm. Options: dir=DIR (default /sys/kernel/config/tsm/report), certs=DIR
 * (vcek.der, ask.der, ark.der for what the report's certificate table lacks), timeout_ms=N
 * (1..60000, default 2000: how long to wait for a report's files; the kernel needs none).
 * INIT's attester bytes: none. */
extern const mc2_tee_ops mc2_tee_tsm;

/* The simulated platform's key for a service state directory: loads STATE/platform.key,
 * creating it (mode 0600, and platform.pub beside it) if missing. This key is the sim
 * backend's stand-in for a TEE vendor's hardware key: whoever runs the host has it, which is
 * why simulated evidence protects nothing. */
int mc2_sim_platform_key(const char *state_dir, uint8_t sec[MC2_ED25519_SEC_LEN],
                         uint8_t pub[MC2_ED25519_PUB_LEN], mc2_err *err) MC2_WUR;

/* The sim backend's monotonic counter for a service state directory (STATE/enclave.counter,
 * "<decimal>\n", missing = 0): reads it, or increments it (written atomically: temporary
 * file, fsync, rename, directory fsync) and returns the new value. The host keeps it, so it
 * stops a host that rolls back the sealed state but not its own counter, nothing more. */
int mc2_sim_counter(const char *state_dir, bool increment, uint64_t *value, mc2_err *err) MC2_WUR;

#endif
