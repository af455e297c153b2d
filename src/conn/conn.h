/* conn.h - the client's side of the wire protocols: the host API of mc2d (untrusted
 * storage and listings) and attested sessions with the enclave (TLS 1.3 through mc2d's
 * relay, the server's RA-TLS certificate checked against the consortium policy before
 * anything is sent).
 *
 * Programs using these functions must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): a service
 * that closes a connection must show up as an error here, not kill the process. */
#ifndef MC2_CONN_CONN_H
#define MC2_CONN_CONN_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/attest.h"
#include "mc2/identity.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "mc2/table.h"
#include "wire/frame.h"

/* Connects to "host:port" over TCP. Returns the socket or -1. */
int mc2_dial(const char *hostport, mc2_err *err);

/* One host-API request: sends (type, payload), reads frames until HAPI_OK (whose payload is
 * left in reply) or HAPI_ERR (turned into *err). HAPI_DATA frames before the OK are passed
 * to on_data if given (else an error). */
int mc2_host_call(int fd, uint16_t type, const void *p, size_t n, mc2_frame *reply,
                  int (*on_data)(void *ctx, const uint8_t *p, size_t n, mc2_err *err), void *ctx,
                  mc2_err *err) MC2_WUR;

/* Uploads the file at path as table `name` of `owner`, signed by the owner's identity.
 * progress (may be NULL) is called with bytes sent and total. */
int mc2_host_upload(const char *hostport, const mc2_identity *id, const char *name,
                    const char *path, void (*progress)(void *, uint64_t, uint64_t), void *pctx,
                    mc2_err *err) MC2_WUR;

/* Downloads object `object` ("tables/OWNER/NAME.mc2t" or "results/job-N-...") into out, in
 * memory: for small objects (a model). Tables and results go through mc2_host_download_fd. */
int mc2_host_download(const char *hostport, const char *object, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Downloads object `object` into a temporary file in tmp_dir that has no name
 * (mc2_file_anon), so nothing stays behind whatever happens; memory does not grow with the
 * object. Returns the file's descriptor in *out (the caller closes it) and its size in *size
 * (may be NULL). progress (may be NULL) is called after each chunk with the bytes received
 * and the object's size (0 if the service did not say: HAPI_SIZE is asked first). */
int mc2_host_download_fd(const char *hostport, const char *object, const char *tmp_dir,
                         void (*progress)(void *, uint64_t, uint64_t), void *pctx, int *out,
                         uint64_t *size, mc2_err *err) MC2_WUR;

/* An attested session with the enclave. */
typedef struct mc2_esession {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    mc2_claims claims;
    uint8_t instance[32];
    uint64_t next_counter;
    uint64_t generation; /* of the enclave's sealed state (HELLO) */
} mc2_esession;

/* Connects through mc2d, sends a fresh nonce, completes TLS presenting the party's
 * certificate, verifies the enclave's RA-TLS evidence against the policy (measurement or
 * signer, product, svn, simulation) bound to the TLS key, the nonce and the policy hash, and
 * says HELLO; the generation it answers is checked against the party's witness (id->home,
 * mc2_witness_check). On any failure nothing has been sent inside the channel. */
int mc2_esession_open(const char *hostport, const mc2_identity *id, const mc2_policy *pol,
                      mc2_esession *s, mc2_err *err) MC2_WUR;
/* One enclave-API request; the EAPI_OK payload goes to reply (which may hold secrets: mark
 * it secret), EAPI_ERR becomes *err. */
int mc2_esession_call(mc2_esession *s, uint16_t type, const void *p, size_t n, mc2_buf *reply,
                      mc2_err *err) MC2_WUR;
void mc2_esession_close(mc2_esession *s);

/* The client's witness of the sealed-state generation (witness.c): fails with MC2_E_AUTH
 * ("the service's sealed state was rolled back: generation X < Y seen earlier") if gen is
 * lower than the highest this party (home) saw from an enclave of this policy, else records
 * gen if it is higher. */
int mc2_witness_check(const char *home, const uint8_t policy_hash[32], uint64_t gen,
                      mc2_err *err) MC2_WUR;

/* Asks the enclave again for its instance nonce, next counter and sealed-state generation
 * (EAPI_HELLO). */
int mc2_esession_hello(mc2_esession *s, const mc2_policy *pol, mc2_err *err) MC2_WUR;

/* Submits job j signed by id: fills in policy hash, instance and counter, formats, signs and
 * sends it; if another submission took the counter meanwhile, retries with a fresh one (up
 * to 20 times). Returns the job id and (if text is not NULL) the submitted text (malloc'd). */
int mc2_job_submit(mc2_esession *s, const mc2_identity *id, const mc2_policy *pol, mc2_job *j,
                   uint64_t *job_id, char **text, mc2_err *err) MC2_WUR;

/* A result of a job that this party may fetch: the object the host stores and its key. */
typedef struct mc2_result_ref {
    uint8_t key[MC2_KEY_LEN];
    char name[160];
} mc2_result_ref;

/* Job id's text and public state (EAPI_JOB), replacing text's and state's contents; each is
 * NUL-terminated after its len. */
int mc2_job_state(mc2_esession *s, uint64_t id, mc2_buf *text, mc2_buf *state,
                  mc2_err *err) MC2_WUR;

/* Waits for job `id` (polling EAPI_JOB, from 1 ms between polls up to 50 ms) until it is done
 * or failed, or, if `approvals` is false, also until it waits for approvals or keys (it is
 * then neither queued nor running), or until timeout_ms has passed. The job's text and state
 * ("done: 1 result", "failed: REASON", "waiting for ...", "running", "queued") are appended
 * to text and state (NUL-terminated after len; each may be NULL). */
int mc2_job_wait(mc2_esession *s, uint64_t id, bool approvals, unsigned timeout_ms, mc2_buf *text,
                 mc2_buf *state, mc2_err *err) MC2_WUR;

/* Called by mc2_job_watch after each poll that leaves the job still to end, with its state
 * (NUL-terminated) and the milliseconds left before the timeout. */
typedef void (*mc2_job_watch_fn)(void *ctx, const char *state, uint64_t left_ms);

/* mc2_job_wait with a caller's view of every poll (fn may be NULL) and pause_cap_ms, the
 * longest pause between polls (the pauses grow from 1 ms); a pause never outlasts the
 * timeout. */
int mc2_job_watch(mc2_esession *s, uint64_t id, bool approvals, uint64_t timeout_ms,
                  unsigned pause_cap_ms, mc2_job_watch_fn fn, void *ctx, mc2_buf *text,
                  mc2_buf *state, mc2_err *err) MC2_WUR;

/* Asks the enclave for the results of job `id` that this party may fetch (EAPI_RESULT_KEY),
 * after waiting (mc2_job_wait, up to an hour) for the job if it is queued or running: up to
 * cap of them into out, their number in *n. Wipe the keys after use. */
int mc2_esession_results(mc2_esession *s, uint64_t id, mc2_result_ref *out, size_t cap, size_t *n,
                         mc2_err *err) MC2_WUR;

/* Downloads object `object` from the service and decrypts it with `key` into out_path as
 * CSV or .tbl, with memory that does not grow with the table: the ciphertext goes to a
 * nameless temporary file in tmp_dir (mc2_host_download_fd), then is decrypted block by
 * block (mc2_table_decrypt_fd). On any failure nothing appears at out_path. */
int mc2_fetch_table(const char *service, const char *object, const uint8_t key[MC2_KEY_LEN],
                    const char *tmp_dir, const char *out_path, enum mc2_textfmt fmt,
                    mc2_table_stats *stats, mc2_err *err) MC2_WUR;
/* mc2_fetch_table reporting the download's progress (see mc2_host_download_fd). */
int mc2_fetch_table_progress(const char *service, const char *object,
                             const uint8_t key[MC2_KEY_LEN], const char *tmp_dir,
                             const char *out_path, enum mc2_textfmt fmt, mc2_table_stats *stats,
                             void (*progress)(void *, uint64_t, uint64_t), void *pctx,
                             mc2_err *err) MC2_WUR;

/* The exact upload a download must be: table id and version (the owner's catalog says them);
 * on a mismatch, what the service sent. */
typedef struct mc2_table_expect {
    uint8_t table_id[MC2_TABLE_ID_LEN];
    uint64_t version;
    bool mismatch;
    uint8_t got_id[MC2_TABLE_ID_LEN];
    uint64_t got_version;
} mc2_table_expect;

/* mc2_fetch_table_progress, but if want is not NULL, first authenticates the downloaded
 * table's metadata and compares its table id and sealed version with *want: on a difference
 * it fails with MC2_E_AUTH and want->mismatch set, before anything is decrypted or written.
 * progress may be NULL. */
int mc2_fetch_table_expect(const char *service, const char *object, const uint8_t key[MC2_KEY_LEN],
                           mc2_table_expect *want, const char *tmp_dir, const char *out_path,
                           enum mc2_textfmt fmt, mc2_table_stats *stats,
                           void (*progress)(void *, uint64_t, uint64_t), void *pctx,
                           mc2_err *err) MC2_WUR;
/* mc2_fetch_table_expect for a table placed on a cluster (table/tpart.h): part r from
 * services[r] for r < n, joined in tmp_dir (mc2_tpart_join; nothing named stays behind),
 * then checked and decrypted as a whole table. A service that holds only a part makes
 * mc2_fetch_table_expect fail with a message that says to use this. */
int mc2_fetch_table_parts_expect(const char *const *services, size_t n, const char *object,
                                 const uint8_t key[MC2_KEY_LEN], mc2_table_expect *want,
                                 const char *tmp_dir, const char *out_path, enum mc2_textfmt fmt,
                                 mc2_table_stats *stats, mc2_err *err) MC2_WUR;

/* Grants the party's data key to the session's enclave instance. */
int mc2_esession_grant(mc2_esession *s, const mc2_identity *id, const mc2_policy *pol,
                       mc2_err *err) MC2_WUR;

/* Hands the key of sealed object `name` (the model a predict job names) to the enclave for
 * job `job_id` only, whose exact text (as this party checked it) is text[0..len): signed by
 * id over the text's SHA-256 (EAPI_GRANT_OBJECT, mc2_object_grant_sign). The enclave accepts
 * it only from the party the job names as model_owner, while the job waits. */
int mc2_esession_grant_object(mc2_esession *s, const mc2_identity *id, uint64_t job_id,
                              const char *text, size_t len, const char *name,
                              const uint8_t key[MC2_KEY_LEN], mc2_err *err) MC2_WUR;

#endif
