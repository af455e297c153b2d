/* session.h - what the commands that talk to the service share: this party's identity, the
 * consortium policy, the service address and an attested enclave session. */
#ifndef MC2_CLIENT_SESSION_H
#define MC2_CLIENT_SESSION_H

#include "conn/conn.h"
#include "mc2/identity.h"
#include "mc2/job.h"
#include "mc2/policy.h"

typedef struct cli_session {
    mc2_identity id;
    mc2_policy *policy;
    char *service;
    mc2_esession es;
    int have_id, have_es;
} cli_session;

/* The service address: --service, else $MC2_SERVICE, else the identity's config, else the
 * default. malloc'd. */
char *cli_service(const char *flag, const char *home_flag);

/* Loads identity and policy (--policy, else $MC2_HOME/consortium.yaml). */
int cli_party_load(cli_session *cs, const char *home_flag, const char *service_flag,
                   const char *policy_flag, mc2_err *err) MC2_WUR;

/* cli_party_load plus an attested session. Prints a warning on stderr whenever the
 * verified enclave runs on the simulated TEE (allowed only because the policy says so). */
int cli_session_open(cli_session *cs, const char *home_flag, const char *service_flag,
                     const char *policy_flag, mc2_err *err) MC2_WUR;

void cli_session_close(cli_session *cs);

/* Looks up OWNER/NAME's table id in the service's listing (the host's word: an owner checks
 * it against its own table when approving, and the enclave against the table it reads). */
int cli_table_id(const char *service, const char *owner, const char *name, uint8_t id[16],
                 mc2_err *err) MC2_WUR;

/* For `mc2 approve ID` by the model owner of a predict job (text[0..len), parsed as j): finds
 * the key of the model the job names among those `mc2 model get` kept in this party's home,
 * checks that the job binds that very model (SHA-256 of the sealed object), says that the
 * approval releases the model for this job only, and grants the key for job `id`. */
int cli_model_grant_for_job(cli_session *cs, uint64_t id, const char *text, size_t len,
                            const mc2_job *j, mc2_err *err) MC2_WUR;

#endif
