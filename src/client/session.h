/* session.h - what the commands that talk to the service share: this party's identity, the
 * consortium policy, the service address and an attested enclave session. */
#ifndef MC2_CLIENT_SESSION_H
#define MC2_CLIENT_SESSION_H

#include "conn/conn.h"
#include "mc2/catalog.h"
#include "mc2/identity.h"
#include "mc2/job.h"
#include "mc2/policy.h"

/* One line of the service's table listing (HAPI_TABLES): the host's word, never checked. */
typedef struct cli_listed {
    char owner[65];
    char name[MC2_TABLE_NAME_MAX + 1];
    uint8_t id[MC2_TABLE_ID_LEN];
    uint64_t rows, blocks, bytes, version;
} cli_listed;

typedef struct cli_listing {
    size_t n;
    cli_listed *t;
} cli_listing;

typedef struct cli_session {
    mc2_identity id;
    mc2_policy *policy;
    char *service;
    mc2_esession es;
    int have_id, have_es;
    mc2_catalog cat;     /* this party's catalog, once cli_catalog loaded it */
    cli_listing listing; /* the service's listing, once cli_listing_get fetched it */
    int have_cat, have_listing;
} cli_session;

/* The service address: --service, else $MC2_SERVICE, else the identity's config, else the
 * default. malloc'd. */
char *cli_service(const char *flag, const char *home_flag);

/* Loads identity and policy (--policy, else $MC2_HOME/consortium.yaml). */
int cli_party_load(cli_session *cs, const char *home_flag, const char *service_flag,
                   const char *policy_flag, mc2_err *err) MC2_WUR;

/* Opens the attested enclave session of a session cli_party_load filled. Prints a warning
 * on stderr whenever the verified enclave runs on the simulated TEE (allowed only because
 * the policy says so). On failure cs stays as it was (close it with cli_session_close). */
int cli_session_attest(cli_session *cs, mc2_err *err) MC2_WUR;

/* cli_party_load plus cli_session_attest. */
int cli_session_open(cli_session *cs, const char *home_flag, const char *service_flag,
                     const char *policy_flag, mc2_err *err) MC2_WUR;

void cli_session_close(cli_session *cs);

/* ---- own_tables.c: this party's catalog against the service's listing ------------------- */

/* The service's table listing, fetched once per session (parsed strictly: a malformed line
 * is an error). */
int cli_listing_get(cli_session *cs, const cli_listing **out, mc2_err *err) MC2_WUR;
/* OWNER/NAME in a listing, or NULL. */
const cli_listed *cli_listing_find(const cli_listing *l, const char *owner, const char *name);
/* This party's catalog ($MC2_HOME/catalog), loaded once per session. */
int cli_catalog(cli_session *cs, const mc2_catalog **out, mc2_err *err) MC2_WUR;

/* The latest upload of this party's table `name` in this consortium, from its catalog. Fails
 * if the catalog has none, or if the service lists another copy under that name (an older
 * upload put back, another table of this party, an interrupted upload): the error says
 * which, and what to do. */
int cli_own_table(cli_session *cs, const char *name, const mc2_catalog_entry **out,
                  mc2_err *err) MC2_WUR;

/* Fills in a job input's table id and version (in->owner and in->table set): for this party's
 * own table from its catalog (cli_own_table), for another party's from the service's listing
 * (that owner's approval checks it against its own catalog). */
int cli_resolve_input(cli_session *cs, mc2_job_input *in, mc2_err *err) MC2_WUR;

/* Checks a job input of this party's (for `mc2 approve`): the job must name the latest upload
 * in the catalog, table id and version; else the error explains what the job names. */
int cli_check_own_input(cli_session *cs, const mc2_job_input *in, mc2_err *err) MC2_WUR;

/* Who names a copy of one of this party's tables that is not its latest upload. */
enum cli_copy_source {
    CLI_SERVICE_HOLDS, /* the service's listing, or a table it sent */
    CLI_JOB_NAMES      /* a job's input */
};

/* Sets *err (MC2_E_AUTH) to why the copy `source` names, table id `id` and version `version`
 * of this party's table `name`, is not its latest upload `latest` (NULL: none recorded),
 * from what the catalog knows of that id (an older upload: a rollback; another table of
 * this party: a swap; an interrupted upload; unknown), and what to do. Returns -1. */
int cli_explain_other_copy(cli_session *cs, enum cli_copy_source source, const char *name,
                           const uint8_t id[MC2_TABLE_ID_LEN], uint64_t version,
                           const mc2_catalog_entry *latest, mc2_err *err);

/* Fills e's table id, version, schema hash, counts and size from the authenticated
 * metadata of the encrypted table at path (an upload on its way, before it is recorded). */
int cli_describe_table(const char *path, const uint8_t key[MC2_KEY_LEN], mc2_catalog_entry *e,
                       mc2_err *err) MC2_WUR;

/* ---- follow.c: following a job ------------------------------------------------------------ */

/* Polls job id (EAPI_JOB) until it is done or failed - or, if approvals is false, until it
 * neither runs nor is queued (it waits for an approval or a key) - or until wait_s seconds
 * have passed (0: ask once). While it waits, stderr shows the state the enclave reports
 * ("queued: next, after job 5 (running)", "running: 12 s, round 3 of 50") on one line when
 * it is a terminal. *state gets the last state (NUL-terminated after its len). */
int cli_job_follow(cli_session *cs, uint64_t id, bool approvals, uint64_t wait_s, mc2_buf *state,
                   mc2_err *err) MC2_WUR;

/* What the last state `st` of job id (a `what` job: "sql", "train", ...) means: done: 0;
 * failed: -1 with *err saying why (the reason, which the enclave gives the job's parties
 * only); else (still waiting, queued or running) prints where it is and how to see it and
 * `fetch` it later, and returns 1. */
int cli_job_outcome(uint64_t id, const char *what, const char *st, const char *fetch, mc2_err *err);

/* "2026-01-31 14:05 UTC" for a time in seconds since 1970. */
const char *cli_time(uint64_t t, char *buf, size_t len);

/* ---- model_keys.c: keys of received models, kept in $MC2_HOME/models --------------------
 * `mc2 model get` keeps the key of a model this party received in
 * $MC2_HOME/models/<object name with '/' as '_'>.key (mode 0600), a text file
 *   object results/job-N-<instance>-model.mc2m
 *   sealed_sha256 <hex: SHA-256 of the sealed object the host stores>
 *   model_sha256 <hex: SHA-256 of the decrypted model file>
 *   key <hex>
 * so that a predict job can bind the exact model, and this party, named in the job as its
 * model_owner, can approve it and hand the key to the enclave for that one job. */
typedef struct cli_model_ref {
    char object[MC2_OBJECT_NAME_MAX + 1];
    uint8_t sealed_sha[32], model_sha[32], key[MC2_KEY_LEN];
} cli_model_ref;

/* Writes r's key file in home/models (created 0700 if missing). */
int cli_model_ref_save(const char *home, const cli_model_ref *r, mc2_err *err) MC2_WUR;
/* The model named by spec: "job-N" or "N" (the model of train job N), its object name, or a
 * model file written by `mc2 model get` (found by its hash) - among the kept keys.
 * MC2_E_NOTFOUND if none, MC2_E_USAGE if several match. Wipe *r after use. */
int cli_model_ref_find(const char *home, const char *spec, cli_model_ref *r, mc2_err *err) MC2_WUR;

struct mc2_gbdt_model;

/* `mc2 model get`: finds the model among the results of train job id (its "-model.mc2m"
 * object; MC2_E_NOTFOUND if the job has none for this party), downloads and opens it with its
 * key, checks that it parses, writes the decrypted model to out_path (0600, atomically) and
 * keeps its key in this party's home (cli_model_ref_save). The session must be attested.
 * On success *r holds the reference (wipe it after use) and *m the model (free with
 * mc2_gbdt_model_free); on failure nothing is kept and *m is NULL. Prints nothing. */
int cli_model_fetch(cli_session *cs, uint64_t id, const char *out_path, cli_model_ref *r,
                    struct mc2_gbdt_model **m, mc2_err *err) MC2_WUR;

/* Job recipients: list[0..n) (each checked), else every recipient of the policy; MC2_E_USAGE
 * if that leaves none. */
int cli_add_recipients(mc2_job *j, const mc2_policy *pol, const char *const *list, size_t n,
                       mc2_err *err) MC2_WUR;

/* For `mc2 approve ID` by the model owner of a predict job (text[0..len), parsed as j): finds
 * the key of the model the job names among those `mc2 model get` kept in this party's home,
 * checks that the job binds that very model (SHA-256 of the sealed object) and grants the key
 * for job `id` only. Prints nothing (the CLI says what the approval releases). */
int cli_model_grant_for_job(cli_session *cs, uint64_t id, const char *text, size_t len,
                            const mc2_job *j, mc2_err *err) MC2_WUR;

#endif
