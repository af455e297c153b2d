/* statefix.h - a small enclave for the sealed-state tests (tests/unit/test_enclave_state.c,
 * fuzz/fuzz_enclave_state.c): a consortium policy of three parties (auditor, bank-a, bank-b,
 * fixed keys, so its hash is the same in every run), a fixed measurement and platform key,
 * and jobs of the kinds and states the encoding must keep. Header-only; aborts on set-up
 * errors (they are the harness's, not the code's under test). */
#ifndef MC2_TESTS_STATEFIX_H
#define MC2_TESTS_STATEFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "crypto/pki.h"
#include "enclave/state.h"

static void sf_die(const char *what, const mc2_err *err)
{
    fprintf(stderr, "statefix: %s: %s\n", what, err ? err->msg : "");
    abort();
}

/* A policy with parties auditor, bank-a, bank-b (the recipient: auditor). */
static mc2_policy *sf_policy(void)
{
    static const char *const names[] = {"auditor", "bank-a", "bank-b"};
    mc2_err err;
    mc2_buf y = {0};
    if (mc2_buf_puts(&y,
                     "consortium: seal\nenclave:\n  signer: "
                     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
                     "  product_id: 1\n  min_svn: 1\n  allow_simulation: true\nparties:\n",
                     &err))
        sf_die("yaml", &err);
    for (size_t i = 0; i < 3; i++) {
        uint8_t sec[32];
        memset(sec, (int)(i + 1), sizeof sec);
        mc2_buf pem = {0};
        if (mc2_x509_self_signed(sec, names[i], 3650, &pem, &err) ||
            mc2_buf_append(&pem, "", 1, &err) ||
            mc2_buf_printf(&y, &err, "  - name: %s\n    certificate: |\n", names[i]))
            sf_die("certificate", &err);
        for (const char *p = (const char *)pem.data; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
            if (mc2_buf_puts(&y, "      ", &err) || mc2_buf_append(&y, p, n, &err))
                sf_die("yaml", &err);
            p += n;
        }
        mc2_buf_free(&pem);
    }
    mc2_policy *pol = NULL;
    if (mc2_buf_puts(&y, "recipients: [auditor]\n", &err) ||
        mc2_policy_parse("statefix", (const char *)y.data, y.len, &pol, &err))
        sf_die("policy", &err);
    mc2_buf_free(&y);
    return pol;
}

/* Sets up e (zeroed) with the policy, measurement and platform key of the fixture. */
static void sf_enclave(enclave *e, mc2_policy *pol)
{
    memset(e, 0, sizeof *e);
    e->policy = pol;
    memset(e->measurement, 0x4d, sizeof e->measurement);
    memset(e->att_secret, 0x50, sizeof e->att_secret);
    e->att = &enc_att_sim;
    memset(e->instance, 0x17, sizeof e->instance);
    e->next_counter = 1;
}

static int sf_party(const enclave *e, const char *name)
{
    const mc2_party *p = mc2_policy_party(e->policy, name);
    if (!p) sf_die(name, NULL);
    return (int)(p - e->policy->parties);
}

/* Adds job number e->next_counter of `kind` with bank-a's and bank-b's inputs (and
 * model_owner bank-b if `model`), in `state` with `status`; returns it. */
static enc_job *sf_job(enclave *e, const char *kind, bool model, enum enc_job_state state,
                       const char *status)
{
    mc2_err err;
    enc_job *j = mc2_calloc(1, sizeof *j);
    if (!j) sf_die("calloc", NULL);
    mc2_job *jb = &j->job;
    memcpy(jb->policy_hash, e->policy->hash, 32);
    memcpy(jb->instance, e->instance, 32);
    jb->counter = e->next_counter++;
    snprintf(jb->kind, sizeof jb->kind, "%s", kind);
    jb->ninputs = 2;
    snprintf(jb->inputs[0].owner, sizeof jb->inputs[0].owner, "bank-a");
    snprintf(jb->inputs[0].table, sizeof jb->inputs[0].table, "t");
    snprintf(jb->inputs[1].owner, sizeof jb->inputs[1].owner, "bank-b");
    snprintf(jb->inputs[1].table, sizeof jb->inputs[1].table, "u");
    jb->nrecipients = 1;
    snprintf(jb->recipients[0], sizeof jb->recipients[0], "auditor");
    if ((model && (mc2_job_add_param(jb, "model", "results/job-1-x-model", &err) ||
                   mc2_job_add_param(jb, "model_owner", "bank-b", &err))) ||
        mc2_job_add_param(jb, "query", "SELECT 1", &err) ||
        mc2_job_format(jb, &j->text, &j->text_len, &err) ||
        mc2_sha256(j->text, j->text_len, j->text_sha256, &err))
        sf_die("job", &err);
    j->id = jb->counter;
    j->submitter = sf_party(e, "bank-a");
    j->model_owner = model ? sf_party(e, "bank-b") : -1;
    j->approved[sf_party(e, "bank-a")] = true;
    j->state = state;
    snprintf(j->status, sizeof j->status, "%s", status);
    e->jobs[e->njobs++] = j;
    return j;
}

/* A state with a granted key and one job of each kind the restart rules treat apart. */
static void sf_populate(enclave *e)
{
    e->has_key[sf_party(e, "bank-a")] = true;
    memset(e->keys[sf_party(e, "bank-a")], 0xa1, MC2_KEY_LEN);
    enc_job *j = sf_job(e, "sql", false, JOB_DONE, "2 results");
    j->nresults = 2;
    snprintf(j->results[0].name, sizeof j->results[0].name, "results/job-1-x-result");
    memset(j->results[0].key, 0xc1, MC2_KEY_LEN);
    j->results[0].party = -1;
    snprintf(j->results[1].name, sizeof j->results[1].name, "results/job-1-x-own");
    memset(j->results[1].key, 0xc2, MC2_KEY_LEN);
    j->results[1].party = sf_party(e, "bank-b");
    sf_job(e, "sql", false, JOB_WAITING, "waiting for bank-b to approve");
    j = sf_job(e, "predict", true, JOB_RUNNING, "queued"); /* restored: waits, keeps its key */
    j->model_key_granted = true;
    j->approved[sf_party(e, "bank-b")] = true;
    memset(j->model_key, 0xb2, MC2_KEY_LEN);
    j = sf_job(e, "predict", true, JOB_RUNNING, "running"); /* restored: failed */
    j->model_key_granted = true;
    memset(j->model_key, 0xb3, MC2_KEY_LEN);
    sf_job(e, "fedavg", false, JOB_WAITING, "waiting for updates"); /* restored: failed */
    sf_job(e, "sql", false, JOB_FAILED, "column 'x' not found");
}

#endif
