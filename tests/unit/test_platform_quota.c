/* test_platform_quota.c - one party cannot take the whole job table and shut the others out
 * (issue 13, "per-party quotas on object-key slots and concurrent jobs"), against a real mc2d:
 * bank-a submits jobs over bank-b's table, which wait for bank-b's approval and so stay
 * unfinished (each holds a job slot, where a predict job also holds its model key). bank-a is
 * refused at its quota, ENC_MAX_JOBS (1024) / 2 parties = 512, with an error that names the
 * quota, and bank-b can still submit. Before the quotas, bank-a filled all 1024 slots and
 * bank-b was refused. */
#include "../tools/pfix.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "test.h"

#define TABLE_SLOTS 1024 /* ENC_MAX_JOBS */
#define QUOTA       (TABLE_SLOTS / 2)

static pfix F;
static mc2_identity A, B;
static const uint8_t TID[16] = {1, 2, 3}; /* bank-b's table: the jobs never get to read it */

/* Submits, as id, an sql job over bank-b's table t with recipient bank-a. */
static int submit(mc2_esession *s, const mc2_identity *id, uint64_t *job, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    j.ninputs = 1;
    strcpy(j.inputs[0].owner, "bank-b");
    strcpy(j.inputs[0].table, "t");
    memcpy(j.inputs[0].table_id, TID, 16);
    j.inputs[0].version = 1;
    j.nrecipients = 1;
    strcpy(j.recipients[0], "bank-a");
    int rc = mc2_job_add_param(&j, "query", "SELECT count(*) FROM t", err) ||
                     mc2_job_submit(s, id, F.pol, &j, job, NULL, err)
                 ? -1
                 : 0;
    mc2_job_free(&j);
    return rc;
}

int main(void)
{
    mc2_err err;
    char msg[600];
    pfix_init(&F, "quota");
    pfix_party(&F, "bank-a", &A);
    pfix_party(&F, "bank-b", &B);
    mc2_identity ids[2] = {A, B};
    bool rcpt[2] = {true, true};
    pfix_policy(&F, ids, 2, rcpt);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    mc2_esession sa, sb;
    if (mc2_esession_open(F.service, &A, F.pol, &sa, &err) ||
        mc2_esession_open(F.service, &B, F.pol, &sb, &err))
        pfix_die("session", &err);
    /* bank-a submits until refused (bounded: one more than the whole table). */
    size_t accepted = 0;
    uint64_t job;
    mc2_err_clear(&err);
    while (accepted <= TABLE_SLOTS && submit(&sa, &A, &job, &err) == 0) accepted++;
    CHECK(accepted == QUOTA);
    if (accepted != QUOTA) fprintf(stderr, "bank-a got %zu jobs in, wanted %d\n", accepted, QUOTA);
    CHECK(strstr(err.msg, "quota") != NULL && strstr(err.msg, "bank-a") != NULL);
    if (!strstr(err.msg, "quota")) fprintf(stderr, "refusal: %s\n", err.msg);
    /* bank-b is still served, and so is bank-a's job status. */
    mc2_err_clear(&err);
    int brc = submit(&sb, &B, &job, &err);
    CHECK(brc == 0);
    if (brc) fprintf(stderr, "bank-b: %s\n", err.msg);
    mc2_buf text = {0}, state = {0};
    CHECK(mc2_job_state(&sa, 1, &text, &state, &err) == 0 &&
          strstr((const char *)state.data, "waiting") != NULL);
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    mc2_esession_close(&sa);
    mc2_esession_close(&sb);
    return test_done("test_platform_quota");
}
