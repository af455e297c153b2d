/* enclave.h - TRUSTED: the state of mc2-enclave and the functions its parts share. The
 * enclave trusts nothing the host sends (docs/enclave-interface.md): every length, count and
 * index is checked where it is read. Parties authenticate with their certificates inside
 * TLS, and every key grant and job approval carries the party's signature. */
#ifndef MC2_ENCLAVE_ENCLAVE_H
#define MC2_ENCLAVE_ENCLAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/attest.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "mc2/table.h"
#include "table/treader.h"
#include "wire/frame.h"
#include "wire/tls.h"

#define ENC_MAX_SESSIONS 64
#define ENC_MAX_JOBS     1024
#define ENC_MAX_PENDING  4096 /* frames queued while waiting for the host's storage reply */
#define ENC_MAX_OBJECT   (4ull << 30)

typedef struct enc_session {
    bool used;
    uint32_t sid;
    mc2_tls *tls;
    SSL_CTX *ctx;
    bool established;
    int party;  /* index into the policy's parties once authenticated, else -1 */
    mc2_buf in; /* decrypted application bytes not yet framed */
    /* CLOCK_MONOTONIC at EIF_OPEN: when the table is full, the oldest session whose TLS
     * handshake is not complete is evicted (session.c) */
    uint64_t opened_ns;
} enc_session;

enum enc_job_state { JOB_WAITING, JOB_DONE, JOB_FAILED };

#define ENC_MAX_RESULTS (MC2_JOB_MAX_INPUTS + 2)

/* One sealed output of a job, stored by the host under `name`. Who may fetch its key:
 * every recipient named in the job (party < 0), or exactly one party (party >= 0, e.g. an
 * owner receiving the predictions for its own rows). */
typedef struct enc_result {
    char name[160];
    uint8_t key[MC2_KEY_LEN];
    int party;
} enc_result;

typedef struct enc_job {
    uint64_t id;
    char *text;
    size_t text_len;
    mc2_job job;
    bool approved[MC2_POLICY_MAX_PARTIES];
    enum enc_job_state state;
    char status[MC2_ERR_MSG_MAX]; /* public: what it waits for, or why it failed (no secrets) */
    enc_result results[ENC_MAX_RESULTS];
    size_t nresults;
} enc_job;

/* A key for a sealed object (a model) that a party handed to this instance (GRANT_OBJECT).
 * Several keys may be granted for one name (a wrong one cannot displace the right one): a
 * job tries each until the object authenticates. */
#define ENC_MAX_OBJECT_KEYS 64
typedef struct enc_object_key {
    char name[MC2_OBJECT_NAME_MAX + 1]; /* "" = free slot */
    uint8_t key[MC2_KEY_LEN];
    int party; /* who granted it */
} enc_object_key;

typedef struct enclave {
    int fd; /* the one channel to the host */
    uint8_t measurement[MC2_SHA256_LEN];
    mc2_sigstruct sigstruct;
    uint8_t platform_sec[MC2_ED25519_SEC_LEN];
    mc2_policy *policy;
    uint8_t instance[32];
    uint64_t next_counter;
    uint64_t budget_bytes;
    bool has_key[MC2_POLICY_MAX_PARTIES];
    uint8_t keys[MC2_POLICY_MAX_PARTIES][MC2_KEY_LEN];
    enc_object_key objkeys[ENC_MAX_OBJECT_KEYS]; /* wiped at exit */
    size_t nobjkeys;
    enc_session sessions[ENC_MAX_SESSIONS];
    enc_job *jobs[ENC_MAX_JOBS];
    size_t njobs;
    uint32_t next_req;
    mc2_frame *pending[ENC_MAX_PENDING];
    size_t npending;
} enclave;

/* Sends a frame to the host; a failure is fatal to the enclave. */
int enc_send(enclave *e, uint16_t type, uint32_t ch, const void *p, size_t n, mc2_err *err) MC2_WUR;

/* Handles one frame from the host (sessions). Returns -1 only on a fatal error. */
int enc_dispatch(enclave *e, mc2_frame *f, mc2_err *err) MC2_WUR;

/* Storage through the host (whose answers are hostile; the caller authenticates the
 * bytes). Reads the whole object `name` (at most ENC_MAX_OBJECT bytes) into out. */
int enc_store_read(enclave *e, const char *name, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Writes object `name` atomically (the host commits it after the last chunk). */
int enc_store_put(enclave *e, const char *name, const uint8_t *p, size_t n, mc2_err *err) MC2_WUR;
/* Asks the host to forget object `name` (a spilled run); best effort. */
void enc_store_drop(enclave *e, const char *name);

/* Enclave API requests from an authenticated party; appends the reply frame to out. */
int enc_api(enclave *e, enc_session *s, uint16_t type, const uint8_t *p, size_t n, mc2_buf *out,
            mc2_err *err) MC2_WUR;

/* Runs every job whose approvals and keys are complete. */
void enc_jobs_advance(enclave *e);

/* Publishes a job's public status to the host (for `mc2 jobs`). */
void enc_job_publish(enclave *e, const enc_job *j);

/* Installs the system-call filter: after this the process can only compute and talk over
 * its channel (no files, no sockets, no exec). */
int enc_sandbox(int channel_fd, mc2_err *err) MC2_WUR;

/* A job kind: `check` validates the job's inputs and parameters before it is accepted (so bad
 * input is refused before any work), `run` runs it and adds its results. */
typedef struct enc_kind {
    const char *name;
    int (*check)(enclave *e, const mc2_job *j, mc2_err *err);
    int (*run)(enclave *e, enc_job *j, mc2_err *err);
} enc_kind;

/* Fails with MC2_E_INPUT if the consortium policy lets only oblivious jobs read one of j's
 * inputs (oblivious_tables); kinds call it from `check` when the job is not oblivious. */
int enc_job_requires_oblivious(const enclave *e, const mc2_job *j, mc2_err *err) MC2_WUR;

/* The `sql` kind (jobs_sql.c). */
int enc_sql_check(enclave *e, const mc2_job *j, mc2_err *err) MC2_WUR;
int enc_sql_run(enclave *e, enc_job *j, mc2_err *err) MC2_WUR;

/* The kind named `name`, or NULL; `names` (may be NULL) gets a ", "-separated list of all. */
const enc_kind *enc_kind_find(const char *name, const char **names);

/* The GBDT job kinds (jobs_gbdt.c): `train` and `predict`. */
int enc_train_check(enclave *e, const mc2_job *j, mc2_err *err);
int enc_train_run(enclave *e, enc_job *j, mc2_err *err);
int enc_predict_check(enclave *e, const mc2_job *j, mc2_err *err);
int enc_predict_run(enclave *e, enc_job *j, mc2_err *err);

/* The object name of job j's result `suffix`: "results/job-N-INSTANCE-SUFFIX", where
 * INSTANCE (16 hex digits of the instance nonce) keeps a later enclave instance's job N from
 * overwriting this one's results. */
void enc_result_name(const enclave *e, const enc_job *j, const char *suffix, char *out, size_t cap);

/* Seals nothing itself: stores bytes already sealed under `key` as result `suffix` of job j
 * ("results/job-N-SUFFIX"), visible to `party` (-1: the job's recipients). */
int enc_add_result(enclave *e, enc_job *j, int party, const char *suffix, const uint8_t *bytes,
                   size_t n, const uint8_t key[MC2_KEY_LEN], mc2_err *err) MC2_WUR;

/* Seals batch b as a table under a fresh key and adds it as a result (see enc_add_result). */
int enc_add_table_result(enclave *e, enc_job *j, int party, const char *suffix, const mc2_batch *b,
                         mc2_err *err) MC2_WUR;

/* Reads input i of job j (a table) through the host and opens it with its owner's granted
 * key, checking that it is the exact table the job names (table id). *data holds the file
 * and must outlive *r. */
int enc_open_input(enclave *e, const mc2_job_input *in, mc2_buf *data, mc2_treader **r,
                   mc2_err *err) MC2_WUR;

#endif
