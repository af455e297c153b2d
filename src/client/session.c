/* session.c - identity, policy, service address and attested session for the commands. */
#include "client/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/file.h"

char *cli_service(const char *flag, const char *home_flag)
{
    if (flag) return mc2_strdup(flag);
    const char *env = getenv("MC2_SERVICE");
    if (env && *env) return mc2_strdup(env);
    mc2_err err;
    char *home = mc2_home_resolve(home_flag, &err);
    mc2_identity id;
    char *r = NULL;
    if (home && mc2_identity_load(home, &id, &err) == 0) {
        r = mc2_strdup(id.service);
        mc2_identity_free(&id);
    }
    mc2_free(home);
    return r ? r : mc2_strdup(MC2_DEFAULT_SERVICE);
}

int cli_party_load(cli_session *cs, const char *home_flag, const char *service_flag,
                   const char *policy_flag, mc2_err *err)
{
    memset(cs, 0, sizeof *cs);
    cs->es.fd = -1;
    char *home = mc2_home_resolve(home_flag, err);
    if (!home) return -1;
    int rc = mc2_identity_load(home, &cs->id, err);
    if (rc == 0) {
        cs->have_id = 1;
        char *pp = policy_flag ? mc2_strdup(policy_flag) : mc2_path_join(home, "consortium.yaml");
        rc = pp ? mc2_policy_load(pp, &cs->policy, err)
                : mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        mc2_free(pp);
    }
    if (rc == 0) {
        cs->service = service_flag ? mc2_strdup(service_flag)
                                   : (getenv("MC2_SERVICE") && *getenv("MC2_SERVICE")
                                          ? mc2_strdup(getenv("MC2_SERVICE"))
                                          : mc2_strdup(cs->id.service));
        if (!cs->service) rc = mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    if (rc == 0 && !mc2_policy_party(cs->policy, cs->id.name))
        rc = mc2_err_set(err, MC2_E_AUTH, "'%s' is not a party of consortium '%s'", cs->id.name,
                         cs->policy->consortium);
    mc2_free(home);
    if (rc) cli_session_close(cs);
    return rc;
}

int cli_session_attest(cli_session *cs, mc2_err *err)
{
    if (mc2_esession_open(cs->service, &cs->id, cs->policy, &cs->es, err)) return -1;
    cs->have_es = 1;
    if (cs->es.claims.simulation)
        fprintf(stderr, "mc2: WARNING: the enclave runs on the SIMULATED TEE, which protects "
                        "nothing against whoever runs the host; accepted only because the "
                        "consortium policy sets allow_simulation: true\n");
    return 0;
}

int cli_session_open(cli_session *cs, const char *home_flag, const char *service_flag,
                     const char *policy_flag, mc2_err *err)
{
    if (cli_party_load(cs, home_flag, service_flag, policy_flag, err)) return -1;
    if (cli_session_attest(cs, err)) {
        cli_session_close(cs);
        return -1;
    }
    return 0;
}

void cli_session_close(cli_session *cs)
{
    if (cs->have_es) mc2_esession_close(&cs->es);
    if (cs->have_id) mc2_identity_free(&cs->id);
    mc2_policy_free(cs->policy);
    mc2_free(cs->service);
    mc2_catalog_free(&cs->cat);
    mc2_free(cs->listing.t);
    memset(cs, 0, sizeof *cs);
}
