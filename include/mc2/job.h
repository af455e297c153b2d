/* mc2/job.h - jobs as canonical text. A job runs only when every party whose table it reads
 * has signed exactly this text; the text names the consortium policy (hash), the enclave
 * instance (its nonce, fresh per instance and kept across restarts in the enclave's sealed
 * state) and a counter (the instance accepts counters in
 * order, so a job cannot be replayed or skipped). Format (LF line ends, nothing else):
 *
 *   mc2-job v2
 *   consortium <policy hash, 64 hex>
 *   instance <enclave instance nonce, 64 hex>
 *   counter <decimal>
 *   kind <word>
 *   input <owner> <table name> <table id, 32 hex> <table version, decimal>  (0..16 lines)
 *   param <key> <value>   (0..64 lines; value escapes \ as \\, LF as \n, CR as \r)
 *   recipient <party>                                   (1..16 lines)
 *
 * An input names the exact upload of the table: its random table id and the version number
 * its owner sealed into it (format v2's table_version; 0 for a version-1 table). The enclave
 * reads an input only if both match; the owner's client approves only the id and version its
 * own catalog recorded (mc2/catalog.h). Decimals have no leading zeros. */
#ifndef MC2_JOB_H
#define MC2_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC2_JOB_MAX_TEXT       (256 * 1024)
#define MC2_JOB_MAX_INPUTS     16
#define MC2_JOB_MAX_PARAMS     64
#define MC2_JOB_MAX_RECIPIENTS 16
#define MC2_TABLE_NAME_MAX     128

typedef struct mc2_job_input {
    char owner[65];
    char table[MC2_TABLE_NAME_MAX + 1];
    uint8_t table_id[16];
    uint64_t version; /* the table's sealed table_version */
} mc2_job_input;

typedef struct mc2_job {
    uint8_t policy_hash[MC2_SHA256_LEN];
    uint8_t instance[32];
    uint64_t counter;
    char kind[33];
    size_t ninputs;
    mc2_job_input inputs[MC2_JOB_MAX_INPUTS];
    size_t nparams;
    char *param_key[MC2_JOB_MAX_PARAMS];
    char *param_value[MC2_JOB_MAX_PARAMS]; /* unescaped */
    size_t nrecipients;
    char recipients[MC2_JOB_MAX_RECIPIENTS][65];
} mc2_job;

/* Parses job text; rejects anything that is not exactly in canonical form (so the bytes a
 * party signed are the only way to write that job). */
int mc2_job_parse(const char *text, size_t n, mc2_job *job, mc2_err *err) MC2_WUR;
/* Writes the canonical text; *out is malloc'd and NUL-terminated, *len excludes the NUL. */
int mc2_job_format(const mc2_job *job, char **out, size_t *len, mc2_err *err) MC2_WUR;
/* Adds a parameter (copies key and value). Keys: [a-z0-9_]{1,32}, unique. */
int mc2_job_add_param(mc2_job *job, const char *key, const char *value, mc2_err *err) MC2_WUR;
/* The value of a parameter, or NULL. */
const char *mc2_job_param(const mc2_job *job, const char *key);
void mc2_job_free(mc2_job *job);

/* Ed25519 signature over "mc2 job v1" || 0x00 || text. */
int mc2_job_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const char *text, size_t n,
                 uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err) MC2_WUR;
int mc2_job_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const char *text, size_t n,
                   const uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err) MC2_WUR;

/* A party's signature granting its data key to one enclave instance under one policy:
 * Ed25519 over "mc2 key grant v1" || 0x00 || policy hash || instance nonce ||
 * SHA-256(data key). */
int mc2_grant_sign(const uint8_t sec[MC2_ED25519_SEC_LEN],
                   const uint8_t policy_hash[MC2_SHA256_LEN], const uint8_t instance[32],
                   const uint8_t data_key[MC2_KEY_LEN], uint8_t sig[MC2_ED25519_SIG_LEN],
                   mc2_err *err) MC2_WUR;
int mc2_grant_verify(const uint8_t pub[MC2_ED25519_PUB_LEN],
                     const uint8_t policy_hash[MC2_SHA256_LEN], const uint8_t instance[32],
                     const uint8_t data_key[MC2_KEY_LEN], const uint8_t sig[MC2_ED25519_SIG_LEN],
                     mc2_err *err) MC2_WUR;

/* A party's signature handing the key of a sealed object (a model) to ONE job: Ed25519 over
 * "mc2 object key v2" || 0x00 || SHA-256(job text) || object name || 0x00 || SHA-256(object
 * key). The job text names the policy, the enclave instance and the counter, so the grant
 * opens the object for that job only, never for another job of any party (v1, which bound
 * only the policy and instance, is refused). name: 1..MC2_OBJECT_NAME_MAX bytes. */
#define MC2_OBJECT_NAME_MAX 95
int mc2_object_grant_sign(const uint8_t sec[MC2_ED25519_SEC_LEN],
                          const uint8_t job_sha256[MC2_SHA256_LEN], const char *name,
                          const uint8_t key[MC2_KEY_LEN], uint8_t sig[MC2_ED25519_SIG_LEN],
                          mc2_err *err) MC2_WUR;
int mc2_object_grant_verify(const uint8_t pub[MC2_ED25519_PUB_LEN],
                            const uint8_t job_sha256[MC2_SHA256_LEN], const char *name,
                            const uint8_t key[MC2_KEY_LEN], const uint8_t sig[MC2_ED25519_SIG_LEN],
                            mc2_err *err) MC2_WUR;

/* A usable party name: 1..64 bytes of [A-Za-z0-9._-], starting with a letter or digit. */
int mc2_name_check(const char *name, mc2_err *err) MC2_WUR;

/* A valid table name: 1..128 bytes of [A-Za-z0-9_.-], not starting with '.'. */
int mc2_table_name_check(const char *name, mc2_err *err) MC2_WUR;

#ifdef __cplusplus
}
#endif
#endif
