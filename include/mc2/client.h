/* mc2/client.h - the client side of mc2 as a library: what the `mc2` CLI does against a
 * service (sessions, uploads, tables, jobs, results, models), for programs and for the Python
 * package (docs/api.md, docs/python.md). Link with `pkg-config --libs mc2`.
 *
 * A client is one party (its identity in a home directory, `mc2 init`) in one consortium (its
 * policy) talking to one service. mc2_client_open loads the identity and the policy and does
 * no network I/O; the first call that needs the enclave attests it (mc2_client_attest) with
 * exactly the CLI's checks: the enclave's RA-TLS evidence against the policy (measurement or
 * signer, product, svn, simulation only if the policy allows it), bound to the TLS key, a
 * fresh nonce and the policy hash. Own tables are taken from this party's catalog of uploads
 * (mc2/catalog.h), never from the service's word, as the CLI does.
 *
 * Errors: every function that can fail returns 0 on success and -1 on failure with *err set
 * (code and a message a person can act on; no data value or secret). Out-strings are
 * malloc'd, NUL-terminated, freed by the caller with mc2_client_free. A client is not
 * thread-safe: use one per thread. Nothing here prints. */
#ifndef MC2_CLIENT_H
#define MC2_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc2_client mc2_client;

/* Opens a client. home: the party's home directory (NULL: $MC2_HOME, else ~/.mc2); service:
 * HOST:PORT (NULL: $MC2_SERVICE, else the identity's configured service); policy: the
 * consortium policy file (NULL: HOME/consortium.yaml). Fails (MC2_E_AUTH) if the identity is
 * not a party of the policy. No network I/O. *out is NULL on failure. */
int mc2_client_open(const char *home, const char *service, const char *policy, mc2_client **out,
                    mc2_err *err) MC2_WUR;
/* Closes the session and wipes the client's keys. c may be NULL. */
void mc2_client_close(mc2_client *c);
/* Wipes and frees a string or array this API returned (results and models are plaintext).
 * p may be NULL. */
void mc2_client_free(void *p);

/* This party's name, the service address, and the consortium's name: owned by c. */
const char *mc2_client_party(const mc2_client *c);
const char *mc2_client_service(const mc2_client *c);
const char *mc2_client_consortium(const mc2_client *c);

/* What attestation established. */
typedef struct mc2_client_attestation {
    int simulation;       /* 1: the simulated TEE (allowed only by the policy) */
    char measurement[65]; /* the enclave's measurement, hex */
    char instance[65];    /* this enclave instance's nonce, hex (fresh per start) */
} mc2_client_attestation;

/* Attests the service's enclave and opens the encrypted session (once per client; later calls
 * return the same result). info may be NULL. On a simulated TEE info->simulation is 1: the
 * CLI warns that it protects nothing against the host; callers should too. */
int mc2_client_attest(mc2_client *c, mc2_client_attestation *info, mc2_err *err) MC2_WUR;

/* ---- tables ---------------------------------------------------------------------------------- */

/* Uploads a table as NAME: the data is encrypted here under this party's data key (nothing
 * readable leaves the process) with the next version in the catalog, sent signed, and recorded
 * in the catalog once the service confirms it (as `mc2 upload`). schema_yaml: the schema as
 * YAML text (docs/format.md; `columns: [{name: ..., type: ...}]`). Either path names a
 * CSV (or .tbl, tbl != 0) file, or path is NULL and data[0..len) is the CSV text in memory
 * (never written to disk in plaintext). Replaces an existing table NAME only if replace != 0,
 * else fails with MC2_E_EXISTS. *rows (may be NULL): the rows uploaded; *version (may be
 * NULL): the version recorded. */
int mc2_client_upload(mc2_client *c, const char *name, const char *schema_yaml, const char *path,
                      const void *data, size_t len, int tbl, int replace, uint64_t *rows,
                      uint64_t *version, mc2_err *err) MC2_WUR;

/* One table as the service lists it: the host's word (rows, sizes), never checked. */
typedef struct mc2_client_table {
    char owner[65];
    char name[129];
    uint64_t version, rows, blocks, bytes;
} mc2_client_table;

/* The service's table listing: *n entries in *out (free with mc2_client_free). */
int mc2_client_tables(mc2_client *c, mc2_client_table **out, size_t *n, mc2_err *err) MC2_WUR;

/* ---- jobs ------------------------------------------------------------------------------------ */

/* A job to submit (mc2/job.h). kind: "sql", "train", "predict", "rowcount", ...
 * inputs[0..ninputs): "OWNER/TABLE" (this party's own tables are its latest uploads from its
 * catalog, others' as the service lists them; their owners check them when they approve); for
 * kind "sql" also "NAME=OWNER/TABLE" (the table is called NAME in the query), and with no
 * inputs at all the query's own table names are taken as this party's tables (as `mc2 sql`).
 * recipients[0..nrecipients): who may read the results; none: this party for "sql" (if the
 * policy lets it receive), else every recipient of the policy. params: keys and values
 * (e.g. "query", "label", "oblivious"). */
typedef struct mc2_client_job_spec {
    const char *kind;
    const char *const *inputs;
    size_t ninputs;
    const char *const *recipients;
    size_t nrecipients;
    const char *const *param_keys;
    const char *const *param_values;
    size_t nparams;
} mc2_client_job_spec;

/* Builds, signs and submits the job; if this party owns an input, grants its data key to the
 * attested enclave and its signature approves the job. *id: the job's id. A SQL query is
 * parsed first (MC2_E_INPUT with line and column for a syntax error, before any network
 * I/O). *text (may be NULL): the exact job text signed. */
int mc2_client_submit(mc2_client *c, const mc2_client_job_spec *spec, uint64_t *id, char **text,
                      mc2_err *err) MC2_WUR;

/* Approves job id as the owner of some of its inputs (as `mc2 approve`): checks that it names
 * this policy and enclave instance and that every input of this party's is its latest upload
 * (MC2_E_AUTH otherwise, saying what the job names), co-signs the job and grants the data key.
 * MC2_E_USAGE if this party owns none of its inputs. A predict job naming this party as its
 * model owner is approved the same way, releasing the model key for that job only. */
int mc2_client_approve(mc2_client *c, uint64_t id, mc2_err *err) MC2_WUR;

/* The service's job listing, one job a line "ID KIND STATE STATUS..." (the host's word). */
int mc2_client_jobs(mc2_client *c, char **text, mc2_err *err) MC2_WUR;

/* Job id's exact text and its state ("queued", "waiting ...", "done", "failed: REASON", ...)
 * from the attested enclave. text may be NULL. */
int mc2_client_job(mc2_client *c, uint64_t id, char **text, char **state, mc2_err *err) MC2_WUR;

/* Waits up to timeout_ms for job id to end (done or failed), also while it waits for other
 * owners' approvals, then returns its state as mc2_client_job does. Returns 0 also when the
 * job has not ended at the timeout (still queued, running or waiting): look at *state.
 * timeout_ms 0: the state now. */
int mc2_client_wait(mc2_client *c, uint64_t id, unsigned timeout_ms, char **state,
                    mc2_err *err) MC2_WUR;

/* ---- results --------------------------------------------------------------------------------- */

/* Fetches job id's table result (the first table among its results: a query's rows, a train
 * job's metrics, this party's predictions), decrypts it with the key the enclave gives only
 * to the job's recipients, authenticating every block before anything is returned, and
 * returns it as CSV text in *csv, *len bytes: a header line with the column names, then the
 * rows (as `mc2 download` writes them: NULL is an empty field, the empty string is ""). Waits
 * for the job (up to an hour) if it is queued or running; fails with the job's reason
 * (MC2_E_INPUT, "job N failed: REASON") if it failed, and with MC2_E_NOTFOUND saying what it
 * waits for if it waits for approvals. schema_yaml (may be NULL): the result's
 * schema as YAML (column names and types, mc2_schema_to_yaml). */
int mc2_client_result_csv(mc2_client *c, uint64_t id, char **csv, size_t *len, char **schema_yaml,
                          mc2_err *err) MC2_WUR;

/* ---- models (docs/gbdt.md) ------------------------------------------------------------------- */

/* As `mc2 model get`: fetches the model of train job id (this party must be a recipient),
 * writes the decrypted model (mc2's binary format) to out_path (0600) and keeps its key in
 * HOME/models/ so that predict jobs can bind it. */
int mc2_client_model_get(mc2_client *c, uint64_t id, const char *out_path, mc2_err *err) MC2_WUR;

/* As `mc2 model export --format xgboost-json`: the model file at model_path as XGBoost 1.7
 * JSON (xgboost.Booster().load_model) in *json, *len bytes. No client needed. */
int mc2_client_model_json(const char *model_path, char **json, size_t *len, mc2_err *err) MC2_WUR;

/* As `mc2 predict`: submits a predict job scoring tables[0..ntables) ("OWNER/TABLE") with the
 * model `model` ("job-N": the model of train job N; or a model file `mc2 model get` wrote,
 * found by its hash among the kept keys), naming this party as model owner; the model key is
 * granted to that job only. Each table's owner then reads its own rows' predictions with
 * mc2_client_result_csv (columns table, row, prediction). */
int mc2_client_predict(mc2_client *c, const char *model, const char *const *tables, size_t ntables,
                       int oblivious, uint64_t *id, mc2_err *err) MC2_WUR;

/* ---- federated learning (docs/fl.md) -------------------------------------------------------- */

/* A round is a job of kind "fedavg" (mc2_client_submit with its params: participants,
 * tensors, round, k, ...); its state with mc2_client_job / mc2_client_wait. */

/* Contributes to fedavg round `job`: values[0..n) are the tensors of the job's `tensors`
 * param, concatenated in order (n must match), weight the example count (>= 1). The update
 * (weight inside) is signed by this party and sent inside the attested session, bound to the
 * job's text (policy, instance, counter) and round number. For a masked round this runs the
 * whole masked protocol and blocks until this party's part is done or timeout_ms passes.
 * Fails, saying why, if this party is not a participant, already contributed, or the round
 * is closed (released, failed, past its deadline). */
int mc2_client_fl_submit(mc2_client *c, uint64_t job, const float *values, size_t n,
                         uint64_t weight, unsigned timeout_ms, mc2_err *err) MC2_WUR;

/* The global model of a finished round (this party a recipient): *values (*n floats, free
 * with mc2_client_free), *tensors (may be NULL) the tensors param text ("w:30x1,b:1", free
 * with mc2_client_free). Waits like mc2_client_result_csv; fails with the round's reason if
 * it failed (e.g. fewer than k contributors by the deadline). */
int mc2_client_fl_model(mc2_client *c, uint64_t job, float **values, size_t *n, char **tensors,
                        mc2_err *err) MC2_WUR;

#ifdef __cplusplus
}
#endif
#endif
