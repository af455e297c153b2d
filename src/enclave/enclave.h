/* enclave.h - TRUSTED: the state of mc2-enclave and the functions its parts share. The
 * enclave trusts nothing the host sends (docs/enclave-interface.md): every length, count and
 * index is checked where it is read. Parties authenticate with their certificates inside
 * TLS, and every key grant and job approval carries the party's signature. */
#ifndef MC2_ENCLAVE_ENCLAVE_H
#define MC2_ENCLAVE_ENCLAVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/bytes.h"
#include "enclave/attester.h"
#include "mc2/attest.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "mc2/table.h"
#include "table/treader.h"
#include "table/tsrc.h"
#include "wire/frame.h"
#include "wire/tls.h"

#define ENC_MAX_SESSIONS     64
#define ENC_MAX_JOBS         1024
#define ENC_MAX_OBJECT       (4ull << 30)
#define ENC_READ_MAX         (8u << 20)    /* bytes per storage read or write request */
#define ENC_STORE_TIMEOUT_MS (300u * 1000) /* a storage reply later than this fails the job */
#define ENC_JOB_CPU_DEFAULT  3600          /* seconds of CPU a job may use (policy default) */
/* A session without a byte from its client for this long is ended (EIF_END) and its slot
 * freed, unless INIT sets another limit (mc2d --session-timeout). */
#define ENC_SESSION_IDLE_S     900u
#define ENC_SESSION_IDLE_MAX_S 86400u
/* A job's allocations are capped at the budget plus this fixed overhead (chunk buffers, block
 * read-ahead, plan arenas, thread stacks are not counted). */
#define ENC_MEM_OVERHEAD (64ull << 20)

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
    uint64_t active_ns; /* CLOCK_MONOTONIC at EIF_OPEN and at the client's last EIF_DATA */
    /* Waiting for the host's EIF_EVIDENCE (an attester whose evidence the host fetches):
     * the session's TLS key, and the client's bytes that arrived meanwhile (at most
     * ENC_EARLY_MAX), fed to TLS once the certificate exists. */
    bool attesting;
    EVP_PKEY *key;
    mc2_buf early;
    /* Output held until the state of generation hold_gen is committed (persist.c: replies
     * are acknowledged only after the change they report is sealed, stored and counted). */
    mc2_buf held;
    uint64_t hold_gen;
} enc_session;

#define ENC_EARLY_MAX (64u << 10)

/* WAITING: for approvals or keys; RUNNING: queued for, or on, the job runner thread. */
enum enc_job_state { JOB_WAITING, JOB_DONE, JOB_FAILED, JOB_RUNNING };

#define ENC_MAX_RESULTS (MC2_JOB_MAX_INPUTS + 2)

/* One sealed output of a job, stored by the host under `name`. Who may fetch its key:
 * every recipient named in the job (party < 0), or exactly one party (party >= 0, e.g. an
 * owner receiving the predictions for its own rows). */
typedef struct enc_result {
    char name[160];
    uint8_t key[MC2_KEY_LEN];
    int party;
} enc_result;

/* How far a running job is, as the host can already tell (enc_job_progress_*): bytes of its
 * input tables read (the host serves every read) out of their sizes, and boosting rounds
 * done out of the job's num_round (its text says it; a round's end shows in the host's
 * timing anyway). Written by the job's threads without mu, read by any thread. */
typedef struct enc_progress {
    _Atomic uint64_t in_done, in_total;
    _Atomic uint32_t round, rounds;
    _Atomic uint64_t published_ms; /* when a progress line last went to the host */
} enc_progress;

typedef struct enc_job {
    uint64_t id;
    char *text;
    size_t text_len;
    uint8_t text_sha256[MC2_SHA256_LEN]; /* what an object-key grant for this job signs */
    mc2_job job;
    int submitter; /* party index */
    /* The party whose key opens the job's model (predict's `model_owner`), or -1. Like an
     * input owner it must approve the job; it also grants the model key for this job only
     * (EAPI_GRANT_OBJECT), kept here until the job has opened the model. */
    int model_owner;
    bool model_key_granted; /* stays true after the key is wiped (it was granted) */
    uint8_t model_key[MC2_KEY_LEN];
    bool approved[MC2_POLICY_MAX_PARTIES];
    enum enc_job_state state;
    /* What it waits for (public), or why it failed (no secret, but it can name a sealed
     * column: EAPI_JOB gives it only to the job's parties, see api.c) */
    char status[MC2_ERR_MSG_MAX];
    enc_result results[ENC_MAX_RESULTS];
    size_t nresults;
    uint64_t started_ms;   /* CLOCK_MONOTONIC when it started running (0: not yet) */
    uint64_t submitted_ms; /* CLOCK_MONOTONIC when it was accepted */
    enc_progress prog;
    /* The kind's own state for this job (a fedavg round's updates), or NULL: made by the
     * kind's hooks (mu held), freed and wiped by its `release` when the job is forgotten. */
    void *kstate;
} enc_job;

typedef struct enc_req enc_req; /* an outstanding storage request (hostio.c) */

/* The mesh frames the host sent for the current distributed job (meshrt.c), handed from the
 * main thread to the job's thread. Its own lock (not mu): a DELIVER never waits for a job. */
typedef struct enc_mesh_msg enc_mesh_msg;
typedef struct enc_mesh_box {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a frame was queued, or the mesh failed */
    bool active;       /* a mesh is under way: frames on channel ch are taken */
    uint32_t ch, self, n_ranks;
    bool joined;    /* worker: a well-formed JOIN was accepted (at most one) */
    mc2_buf join;   /* worker: JOIN's payload, for enc_mesh_work */
    bool has_peers; /* PEERS arrived (at most once per mesh) */
    mc2_buf peers;  /* its payload */
    bool failed;    /* the host reported a failure or broke the protocol: every wait fails */
    char why[MC2_ERR_MSG_MAX];
    uint64_t unread;                   /* DELIVER bytes queued, not yet read */
    uint64_t inbox_max;                /* 0: ENC_MESH_INBOX_MAX (tests lower it) */
    enc_mesh_msg *head[64], *tail[64]; /* per sender, FIFO */
} enc_mesh_box;

/* Threads: the main thread is the channel's only reader; it handles sessions and the enclave
 * API holding `mu`. Jobs run on one runner thread (api.c), which takes `mu` only to pick a
 * job, read a key and publish the outcome, so attestation and job status stay answerable
 * while a job runs. Storage requests (hostio.c) may come from any thread. */
typedef struct enclave {
    int fd;              /* the one channel to the host */
    pthread_mutex_t mu;  /* jobs, keys, object keys, sessions */
    pthread_mutex_t wmu; /* whole-frame writes to fd */
    pthread_mutex_t io_mu;
    pthread_cond_t io_cv; /* a storage reply arrived, or the channel closed */
    enc_req *reqs;        /* outstanding storage requests (io_mu) */
    bool io_closed;
    unsigned store_timeout_ms;
    pthread_cond_t run_cv; /* a job was queued, or the enclave stops (mu) */
    pthread_t runner;
    bool runner_started, stopping;
    /* Test harnesses without a reader thread (fuzz_enclave) set this: a waiting storage
     * request then calls it to read and handle one host frame (delivering replies with
     * enc_io_deliver); -1 ends the wait with its error. NULL in mc2-enclave. */
    int (*pump)(struct enclave *e, mc2_err *err);
    uint8_t measurement[MC2_SHA256_LEN];
    mc2_sigstruct sigstruct;
    const enc_attester *att; /* the TEE backend's attester (INIT) */
    /* The attester's secret from INIT (sim: the simulated platform key; tpm: the TPM-sealed
     * root secret; tsm: unused), wiped by its fini and at exit. */
    uint8_t att_secret[32];
    mc2_policy *policy;
    uint8_t instance[32];
    uint64_t next_counter;
    uint64_t budget_bytes;
    bool discard_state; /* INIT flag: start with an empty sealed state (enc_persist_start) */
    /* A session idle longer (no EIF_DATA) is ended by the next host frame (session.c); 0: no
     * limit (harnesses). mc2-enclave: from INIT, default ENC_SESSION_IDLE_S. */
    uint64_t session_idle_ns;
    unsigned ncpu; /* CPUs the enclave may use (its affinity mask), read at start-up */
    bool has_key[MC2_POLICY_MAX_PARTIES];
    uint8_t keys[MC2_POLICY_MAX_PARTIES][MC2_KEY_LEN];
    enc_session sessions[ENC_MAX_SESSIONS];
    enc_job *jobs[ENC_MAX_JOBS];
    size_t njobs;
    uint32_t next_req; /* io_mu */
    /* The job being run (set by the thread that runs it, before the kind starts its own
     * threads, and cleared after they ended): where enc_job_progress_* count. */
    enc_job *current;
    /* Sealed state (persist.c; mu): gen counts changes to the durable state, saved_gen is
     * the last generation committed; seal_c is the host counter's value (sealer thread). */
    uint64_t gen, saved_gen, seal_c;
    uint64_t committed_n; /* the generation n last committed (mu): HELLO tells clients */
    pthread_t sealer;
    pthread_cond_t seal_cv; /* the state changed, or the enclave stops (mu) */
    bool sealer_started, seal_broken;
    bool no_sealing; /* the backend offers no sealing: nothing persists (persist.c) */
    /* INIT flag bit 1: a worker enclave of one distributed job (meshrt.h): no sealed state,
     * no client sessions, one EIF_MESH_JOIN. */
    bool worker;
    enc_mesh_box mesh;
} enclave;

/* Applies INIT's payload p[0..n) (hostile; docs/enclave-interface.md) to e, whose
 * measurement is set: budget, session timeout, the attester INIT names (its init gets its
 * bytes), the sigstruct (its signature verified, its measurement e's own) and the policy
 * (e->policy, the caller's). Any failure leaves e to be torn down (att->fini if e->att). */
int enc_init(enclave *e, const uint8_t *p, size_t n, mc2_err *err) MC2_WUR;

/* Initializes the locks and condition variables of e (before any thread uses it). */
void enc_io_init(enclave *e);

/* Sends a frame to the host (any thread; whole frames are never interleaved); a failure is
 * fatal to the enclave. */
int enc_send(enclave *e, uint16_t type, uint32_t ch, const void *p, size_t n, mc2_err *err) MC2_WUR;

/* Main thread: hands an EIF_STORE_REPLY to the request waiting for its channel (request id);
 * moves f's payload. A reply nobody waits for is dropped. */
void enc_io_deliver(enclave *e, mc2_frame *f);
/* Main thread: reads the next frame from the host into f, as mc2_frame_read_fd does, except a
 * storage reply meant for a request's own buffer (enc_store_begin_into), which it reads there
 * and delivers (*delivered = true; f then holds only its type and channel). */
int enc_io_read(enclave *e, size_t max, mc2_frame *f, bool *delivered, mc2_err *err) MC2_WUR;
/* Main thread: the channel ended; every outstanding and later request fails. */
void enc_io_close(enclave *e);

/* Frees a session's TLS state, key and buffers (plaintext wiped) and empties its slot. */
void enc_session_drop(enc_session *s);
/* The durable state across restarts (persist.c; protocol there, encoding in state.h).
 * enc_persist_start: main thread, after INIT, before READY (e->pump is used meanwhile):
 * restores the sealed state checked against the host's monotonic counter, or starts fresh
 * (first start, or `discard`), then saves it once; fails with an error that says why the
 * enclave refuses to start (rolled back, deleted, tampered, another build) and the way out. */
int enc_persist_start(enclave *e, bool discard, mc2_err *err) MC2_WUR;
/* Starts the sealer thread (after enc_persist_start): it saves every new generation. */
int enc_sealer_start(enclave *e, mc2_err *err) MC2_WUR;
/* Marks a change to the durable state (mu held): the sealer saves it. */
void enc_state_changed(enclave *e);
/* Sends TLS bytes for session s (mu held), or holds them (in order) until the current
 * generation is committed, if a change is not committed yet or bytes are already held. */
int enc_out(enclave *e, enc_session *s, const uint8_t *p, size_t n, mc2_err *err) MC2_WUR;

/* Handles one frame from the host (sessions). Returns -1 only on a fatal error. */
int enc_dispatch(enclave *e, mc2_frame *f, mc2_err *err) MC2_WUR;

/* Storage through the host (whose answers are hostile; the caller authenticates the
 * bytes). Requests may be issued from any thread, several at a time:
 * enc_store_begin sends request `type` with `body` and returns it in *out; enc_store_end
 * waits for its reply (at most e->store_timeout_ms; the channel closing fails it too),
 * checks its status and puts the reply body in *body (may be NULL), and frees the request
 * in every case. enc_store_abandon frees a begun request without waiting (its late reply
 * is dropped). */
int enc_store_begin(enclave *e, uint16_t type, const mc2_buf *body, enc_req **out,
                    mc2_err *err) MC2_WUR;
int enc_store_end(enclave *e, enc_req *r, mc2_buf *body, mc2_err *err) MC2_WUR;
/* enc_store_end for a caller that reads the status itself: *status is the reply's status
 * word (any value; fails only if no well-formed reply came), body the rest. */
int enc_store_end_status(enclave *e, enc_req *r, uint32_t *status, mc2_buf *body,
                         mc2_err *err) MC2_WUR;
/* enc_store_begin for a read whose reply body must be exactly dst_len bytes, to be put at
 * dst: the main thread may write dst from the moment this is called until enc_store_end_into
 * or enc_store_abandon returns (it reads the bytes straight from the channel, enc_io_read).
 * enc_store_end_into waits, checks the status and that dst holds the body (a body of
 * another length fails), and frees the request. */
int enc_store_begin_into(enclave *e, uint16_t type, const mc2_buf *body, uint8_t *dst,
                         size_t dst_len, enc_req **out, mc2_err *err) MC2_WUR;
int enc_store_end_into(enclave *e, enc_req *r, mc2_err *err) MC2_WUR;
void enc_store_abandon(enclave *e, enc_req *r);
/* The body of an EIF_STORE_READ request for bytes [off, off+len) of object `name`
 * (len <= ENC_READ_MAX). */
int enc_read_req(const char *name, uint64_t off, uint32_t len, mc2_buf *req, mc2_err *err) MC2_WUR;
/* The size of object `name`. */
int enc_store_size(enclave *e, const char *name, uint64_t *size, mc2_err *err) MC2_WUR;
/* Reads the whole object `name` (at most ENC_MAX_OBJECT bytes and the budget) into out. */
int enc_store_read(enclave *e, const char *name, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Appends p[0..n) to object `name` (EIF_STORE_PUTs of at most ENC_READ_MAX bytes, each
 * waited for); `last` asks the host to commit it atomically (an object is written by one or
 * more calls, the last with last = true). On failure it asks the host to drop what it holds
 * of the object (enc_store_drop), so nothing half-written stays behind. */
int enc_store_put(enclave *e, const char *name, const uint8_t *p, size_t n, bool last,
                  mc2_err *err) MC2_WUR;
/* Sends one EIF_STORE_PUT of p[0..n) (n <= ENC_READ_MAX) to object `name`, built in *req
 * (reused; the bytes are on the channel when this returns), without waiting: enc_store_end
 * waits for its reply. Puts of one object must be sent in order, each after the previous
 * one succeeded (the host appends them in the order they arrive). */
int enc_put_begin(enclave *e, const char *name, const uint8_t *p, size_t n, bool last, mc2_buf *req,
                  enc_req **out, mc2_err *err) MC2_WUR;
/* Asks the host to forget object `name`: a spilled run, or an object whose write was not
 * finished (last = true never sent): the host removes what it holds of it. Best effort (the
 * host holds only ciphertext anyway). */
void enc_store_drop(enclave *e, const char *name);

/* Enclave API requests from an authenticated party; appends the reply frame to out. */
int enc_api(enclave *e, enc_session *s, uint16_t type, const uint8_t *p, size_t n, mc2_buf *out,
            mc2_err *err) MC2_WUR;

/* Queues every job whose approvals and keys are complete for the runner thread (mu held);
 * without a runner (enc_runner_start not called: the fuzz harness) runs them here, one after
 * the other. */
void enc_jobs_advance(enclave *e);
/* Starts the job runner thread; enc_runner_stop asks it to finish (after the job it runs)
 * and joins it. */
int enc_runner_start(enclave *e, mc2_err *err) MC2_WUR;
void enc_runner_stop(enclave *e);

/* The CPU seconds job j may use: the policy's limits.job_cpu_seconds (default
 * ENC_JOB_CPU_DEFAULT), lowered by the job's `cpu_seconds` parameter. */
uint64_t enc_job_cpu_limit(const enclave *e, const mc2_job *j);
/* Whether `key` is a parameter every job kind takes (cpu_seconds, checked by api.c): kinds
 * skip these when they check their own parameters. */
bool enc_param_generic(const char *key);

/* Publishes a job's public status to the host (for `mc2 jobs`): the EIF_JOB line
 * "<id> <kind> <waiting|queued|running|done|failed> <detail>" (enclave-interface.md §3).
 * Called with mu held (or before the runner thread exists). */
void enc_job_publish(enclave *e, const enc_job *j);

/* Progress of the job being run (e->current; no-ops without one), from any of its threads:
 * input bytes to read (add_total) and read (add_done), or boosting round `done` of
 * `rounds`. Each may send a progress line to the host, at most one a second. */
void enc_job_progress_input(enclave *e, uint64_t add_done, uint64_t add_total);
void enc_job_progress_round(enclave *e, uint32_t done, uint32_t rounds);

/* Installs the system-call filter: after this the process can only compute and talk over
 * its channel (no files, no sockets, no exec). */
int enc_sandbox(int channel_fd, mc2_err *err) MC2_WUR;

/* A job kind: `check` validates the job's inputs and parameters before it is accepted (so bad
 * input is refused before any work), `run` runs it and adds its results. The other hooks are
 * optional (NULL for kinds that only read tables):
 *
 *   ready    whether a job whose approvals and keys are complete may run: 1 run now, 0 wait
 *            (it sets j->status to what it waits for), -1 fail now with *err (e.g. the
 *            deadline passed below the threshold). Evaluated, mu held, on every
 *            enc_jobs_advance (after each API request) and on EAPI_JOB, so a time deadline
 *            is checked lazily whenever anyone asks.
 *   request  a kind-specific request (EAPI_KIND: u64 job id | u8 op | body) from party
 *            s->party about job j; main thread, mu held; r is positioned at the body;
 *            appends the EAPI_OK reply frame to out (enc_reply_ok) or fails with *err.
 *   release  frees and wipes j->kstate when the job is forgotten (eviction).
 *   member   whether party p takes part in j beyond its submitter, input owners, model owner
 *            and recipients (a fedavg participant): such parties read why it failed. */
struct mc2_coll_op; /* mesh/coll.h */
struct enc_mesh;    /* enclave/meshrt.h */

typedef struct enc_kind {
    const char *name;
    int (*check)(enclave *e, const mc2_job *j, mc2_err *err);
    int (*run)(enclave *e, enc_job *j, mc2_err *err);
    int (*ready)(enclave *e, enc_job *j, mc2_err *err);
    int (*request)(enclave *e, enc_session *s, enc_job *j, uint8_t op, mc2_rd *r, mc2_buf *out,
                   mc2_err *err);
    void (*release)(enc_job *j);
    bool (*member)(const enclave *e, const enc_job *j, int p);
    /* Distributed runs (meshrt.h, docs/cluster.md "Distributed jobs"); both NULL for a kind
     * that runs on one enclave only. plan: the kind's collectives for job text j on n_ranks
     * ranks, in call order, at most cap, computed at rank `self` (before run_rank, with the
     * job's data keys installed): a function of the text, n_ranks and what every rank reads
     * alike (its inputs' authenticated headers: schemas, row and block counts), so every
     * rank computes the same list (meshrt checks it does). run_rank: the kind's work at rank
     * m->self, the same code on every rank (only rank 0 may keep anything for release). */
    int (*plan)(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                struct mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err);
    int (*run_rank)(enclave *e, enc_job *j, struct enc_mesh *m, mc2_err *err);
} enc_kind;

/* Appends an EAPI_OK frame with body[0..n) to out (a kind's `request` reply). */
int enc_reply_ok(mc2_buf *out, const void *body, size_t n, mc2_err *err) MC2_WUR;
/* Job `id`, or NULL (mu held, or no runner thread). */
enc_job *enc_job_find(enclave *e, uint64_t id);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t enc_now_ms(void);

/* Fails with MC2_E_INPUT if the consortium policy lets only oblivious jobs read one of j's
 * inputs (oblivious_tables); kinds call it from `check` when the job is not oblivious. */
int enc_job_requires_oblivious(const enclave *e, const mc2_job *j, mc2_err *err) MC2_WUR;

/* The `sql` kind (jobs_sql.c). */
int enc_sql_check(enclave *e, const mc2_job *j, mc2_err *err) MC2_WUR;
int enc_sql_run(enclave *e, enc_job *j, mc2_err *err) MC2_WUR;

/* The kind named `name`, or NULL; `names` (may be NULL) gets a ", "-separated list of all. */
const enc_kind *enc_kind_find(const char *name, const char **names);

/* The federated-learning kind `fedavg` (jobs_fl.c, docs/fl.md): its hooks. */
int enc_fl_check(enclave *e, const mc2_job *j, mc2_err *err);
int enc_fl_run(enclave *e, enc_job *j, mc2_err *err);
int enc_fl_ready(enclave *e, enc_job *j, mc2_err *err);
int enc_fl_request(enclave *e, enc_session *s, enc_job *j, uint8_t op, mc2_rd *r, mc2_buf *out,
                   mc2_err *err);
void enc_fl_release(enc_job *j);
bool enc_fl_member(const enclave *e, const enc_job *j, int p);

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

/* Seals batch b as a table under a fresh key and adds it as a result (see enc_add_result):
 * written through an enc_rwriter, so any number of rows. */
int enc_add_table_result(enclave *e, enc_job *j, int party, const char *suffix, const mc2_batch *b,
                         mc2_err *err) MC2_WUR;

/* A result table streamed to the host while it is produced (format v2 through mc2_twriter,
 * under a fresh random key): every sealed block goes out at once in EIF_STORE_PUTs of up to
 * ENC_READ_MAX bytes with last = 0 (one put in flight while the next bytes are produced), the
 * footer and trailer with last = 1 at enc_rwriter_finish. It holds at most one put's worth
 * of sealed bytes, one block being sealed and the directory, never the whole result. Used by
 * one thread.
 *
 *   enc_rwriter_begin(e, j, party, suffix, schema) -> w     (nothing is sent yet)
 *   enc_rwriter_add(w, batch) ...                           (any number of rows each)
 *   enc_rwriter_finish(w): commits the object, adds the result (name, key, party) to j
 *   enc_rwriter_free(w): if not finished, abandons the write and asks the host to drop the
 *                        unfinished object (EIF_STORE_DROP), so a failed job leaves none
 *
 * The object's name and visibility are those of enc_add_result. The schema's column names
 * must be valid table column names. */
typedef struct enc_rwriter enc_rwriter;
int enc_rwriter_begin(enclave *e, enc_job *j, int party, const char *suffix, const mc2_schema *s,
                      enc_rwriter **out, mc2_err *err) MC2_WUR;
/* The rows per block the writer seals (mc2_t2_rows_per_block of its schema): batches of this
 * many rows are sealed without a copy. */
uint32_t enc_rwriter_rows(const enc_rwriter *w);
/* Seals b's rows (the writer's schema; any number, split into blocks) and sends them. */
int enc_rwriter_add(enc_rwriter *w, const mc2_batch *b, mc2_err *err) MC2_WUR;
int enc_rwriter_finish(enc_rwriter *w, mc2_err *err) MC2_WUR;
void enc_rwriter_free(enc_rwriter *w);

/* Copies the data key `owner` granted to this instance into key (the caller wipes it); fails
 * if none was granted. Takes mu when the runner thread exists (jobs run without it). */
int enc_party_key(enclave *e, const char *owner, uint8_t key[MC2_KEY_LEN], mc2_err *err) MC2_WUR;

/* A job's input table read as a stream through the host: only its metadata is read at open
 * (authenticated with the owner's key, checked to be the table the job names); blocks and
 * columns are read when a scan asks for them (storage reads, several in flight). */
typedef struct enc_input {
    enclave *e;
    char name[300];
    mc2_tio hostio; /* reads through the host */
    mc2_tio io;     /* what the source reads: hostio, or a cluster part presented whole */
    void *part;     /* the part wrapper's state (table/tpart.h), or NULL */
    struct mc2_tsrc *src;
} enc_input;
int enc_input_open(enclave *e, const mc2_job_input *jin, enc_input *in, mc2_err *err) MC2_WUR;
/* enc_input_open for rank `self` of a job on n ranks (distributed jobs, meshrt.h): the object
 * may be this host's part of a table placed on the cluster (table/tpart.h), which must then be
 * exactly rank self's part of n; the caller reads only the blocks of mc2_block_range(blocks,
 * self, n). enc_input_open is this with n = 0: a single-enclave job, which refuses a part. */
int enc_input_open_rank(enclave *e, const mc2_job_input *jin, uint32_t self, uint32_t n,
                        enc_input *in, mc2_err *err) MC2_WUR;
void enc_input_close(enc_input *in);

/* Reads input i of job j (a table) through the host and opens it with its owner's granted
 * key, checking that it is the exact table the job names (table id). *data holds the file
 * and must outlive *r. */
int enc_open_input(enclave *e, const mc2_job_input *in, mc2_buf *data, mc2_treader **r,
                   mc2_err *err) MC2_WUR;

#endif
