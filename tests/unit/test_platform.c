/* test_platform.c - the multi-party job protocol against a real mc2d and sim enclave: a job
 * runs only with every owner's signature over its exact text, in counter order, for parties
 * and recipients of the policy; results go only to recipients; a table the policy lists in
 * oblivious_tables is refused to rowcount (not an oblivious job). Each negative case must be
 * refused before anything runs. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "conn/conn.h"
#include "host/launch.h"
#include "mc2/identity.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "mc2/table.h"
#include "test.h"
#include "../tools/pfix.h"
#include "wire/proto.h"

static pfix fx;
static mc2_identity ida, idb, idc, idx; /* bank-a, bank-b, auditor; x is not a party */
static mc2_policy *pol;
static uint8_t tid_a[16], tid_b[16];
#define work    (fx.work)
#define service (fx.service)

/* Encrypts csv as id's table `table` and uploads it; its table id in tid. */
static void upload_as(const mc2_identity *id, const char *table, const char *csv, uint8_t tid[16])
{
    mc2_err err;
    char in[400], out[400];
    snprintf(in, sizeof in, "%s/%s-%s.csv", work, id->name, table);
    snprintf(out, sizeof out, "%s/%s-%s.mc2t", work, id->name, table);
    mc2_schema *s = NULL;
    const char *schema = "columns:\n  - {name: k, type: INT64}\n  - {name: v, type: VARCHAR(20)}\n";
    mc2_encrypt_opts o = {0};
    if (mc2_file_write_atomic(in, csv, strlen(csv), 0600, 0, &err) ||
        mc2_schema_parse("schema", schema, strlen(schema), &s, &err) ||
        mc2_table_encrypt_file(in, s, id->data_key, out, &o, NULL, &err) ||
        mc2_host_upload(service, id, table, out, NULL, NULL, &err))
        pfix_die("upload", &err);
    mc2_buf b = {0};
    if (mc2_file_read_all(out, 1 << 20, &b, &err)) pfix_die("read", &err);
    memcpy(tid, b.data + 8, 16);
    mc2_buf_free(&b);
    mc2_schema_free(s);
}

static void upload(const mc2_identity *id, const char *csv, uint8_t tid[16])
{
    upload_as(id, "t", csv, tid);
}

static int session(const mc2_identity *id, mc2_esession *s)
{
    mc2_err err;
    if (mc2_esession_open(service, id, pol, s, &err)) {
        printf("  session refused for %s: %s\n", id->name, err.msg);
        return -1;
    }
    return 0;
}

/* A job over both tables for `recipient` with the given counter. */
static char *job_text(const mc2_esession *s, uint64_t counter, const char *recipient, size_t *len)
{
    mc2_job j;
    mc2_err err;
    memset(&j, 0, sizeof j);
    memcpy(j.policy_hash, pol->hash, 32);
    memcpy(j.instance, s->instance, 32);
    j.counter = counter;
    strcpy(j.kind, "rowcount");
    j.ninputs = 2;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, "t");
    memcpy(j.inputs[0].table_id, tid_a, 16);
    strcpy(j.inputs[1].owner, "bank-b");
    strcpy(j.inputs[1].table, "t");
    memcpy(j.inputs[1].table_id, tid_b, 16);
    j.nrecipients = 1;
    snprintf(j.recipients[0], 65, "%s", recipient);
    char *text;
    if (mc2_job_format(&j, &text, len, &err)) pfix_die("format", &err);
    return text;
}

/* Sends SUBMIT(text, sig by signer) on s. Returns 0 and the id if accepted. */
static int submit(mc2_esession *s, const char *text, size_t len, const mc2_identity *signer,
                  uint64_t *id, mc2_err *err)
{
    uint8_t sig[64];
    mc2_buf req = {0}, reply = {0};
    if (mc2_job_sign(signer->sec, text, len, sig, err)) return -1;
    int rc = mc2_buf_put_lv(&req, text, len, err) || mc2_buf_append(&req, sig, 64, err) ||
                     mc2_esession_call(s, EAPI_SUBMIT, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    if (rc == 0 && id) *id = mc2_le64_get(reply.data);
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

static int approve(mc2_esession *s, uint64_t id, const char *text, size_t len,
                   const mc2_identity *signer, mc2_err *err)
{
    uint8_t sig[64];
    mc2_buf req = {0}, reply = {0};
    if (mc2_job_sign(signer->sec, text, len, sig, err)) return -1;
    int rc = mc2_buf_put_u64(&req, id, err) || mc2_buf_append(&req, sig, 64, err) ||
                     mc2_esession_call(s, EAPI_APPROVE, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

/* Fetches the results of job id visible to s's party; returns -1 if refused. */
static int result_key(mc2_esession *s, uint64_t id, uint8_t key[32], char *obj, mc2_err *err)
{
    mc2_result_ref ref[4];
    size_t n = 0;
    if (mc2_esession_results(s, id, ref, 4, &n, err)) return -1;
    CHECK(n == 1);
    memcpy(key, ref[0].key, 32);
    strcpy(obj, ref[0].name);
    mc2_wipe(ref, sizeof ref);
    return 0;
}

static void refused(const char *what, int rc, const mc2_err *err, const char *phrase)
{
    printf("  %s: %s\n", what, rc ? err->msg : "ACCEPTED");
    CHECK_MSG(rc != 0, "%s was accepted", what);
    CHECK_MSG(rc == 0 || strstr(err->msg, phrase) != NULL, "%s: message lacks '%s'", what, phrase);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    signal(SIGPIPE, SIG_IGN);
    pfix_init(&fx, "test-platform");
    pfix_party(&fx, "bank-a", &ida);
    pfix_party(&fx, "bank-b", &idb);
    pfix_party(&fx, "auditor", &idc);
    pfix_party(&fx, "mallory", &idx);
    const mc2_identity parties[] = {ida, idb, idc};
    const bool recipient[] = {false, false, true};
    pfix_policy_ex(&fx, parties, 3, recipient, "oblivious_tables: [bank-b/guarded]\n");
    pol = fx.pol;
    if (pfix_start(&fx, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        return 1;
    }
    upload(&ida, "k,v\n1,alpha\n2,beta\n3,gamma\n", tid_a);
    upload(&idb, "k,v\n10,x\n20,y\n", tid_b);
    uint8_t tid_g[16];
    upload_as(&idb, "guarded", "k,v\n7,secret\n", tid_g);

    mc2_esession sa, sb, sc, sx;
    CHECK(session(&ida, &sa) == 0);
    CHECK(session(&idb, &sb) == 0);
    CHECK(session(&idc, &sc) == 0);
    printf("negative cases:\n");
    /* A signer not in the policy cannot even open a session. */
    CHECK(session(&idx, &sx) != 0);

    CHECK(mc2_esession_grant(&sa, &ida, pol, &err) == 0);
    CHECK(mc2_esession_grant(&sb, &idb, pol, &err) == 0);
    /* A key grant signed by another party is refused. */
    mc2_identity fake = ida;
    memcpy(fake.sec, idb.sec, 32);
    refused("key grant signed by another party", mc2_esession_grant(&sa, &fake, pol, &err), &err,
            "key grant refused");

    size_t len;
    char *text = job_text(&sa, sa.next_counter, "auditor", &len);
    uint64_t id = 0;
    /* Skipped counter. */
    size_t l2;
    char *skip = job_text(&sa, sa.next_counter + 1, "auditor", &l2);
    refused("skipped counter", submit(&sa, skip, l2, &ida, NULL, &err), &err, "skips ahead");
    mc2_free(skip);
    /* A recipient not in the policy (mallory), and a party that is not a recipient. */
    char *badr = job_text(&sa, sa.next_counter, "mallory", &l2);
    refused("recipient not in the policy", submit(&sa, badr, l2, &ida, NULL, &err), &err,
            "not a result recipient");
    mc2_free(badr);
    badr = job_text(&sa, sa.next_counter, "bank-b", &l2);
    refused("recipient not allowed by the policy", submit(&sa, badr, l2, &ida, NULL, &err), &err,
            "not a result recipient");
    mc2_free(badr);
    /* Submitted by bank-a but signed with bank-b's key. */
    refused("submission signed by another key", submit(&sa, text, len, &idb, NULL, &err), &err,
            "signature is not bank-a's");

    /* The real job: bank-a submits (its approval), bank-b has not signed yet. */
    CHECK(submit(&sa, text, len, &ida, &id, &err) == 0);
    CHECK(id == sa.next_counter);
    uint8_t key[32];
    char obj[128];
    refused("result before every owner signed (missing owner signature)",
            result_key(&sc, id, key, obj, &err), &err, "waiting for bank-b to approve");
    /* Replayed counter: the same text again. */
    refused("replayed job (same counter)", submit(&sa, text, len, &ida, NULL, &err), &err,
            "already used");
    /* bank-b signs different text. */
    char *other = job_text(&sa, sa.next_counter + 5, "auditor", &l2);
    refused("approval signature over different text", approve(&sb, id, other, l2, &idb, &err), &err,
            "not bank-b's over this job");
    mc2_free(other);
    /* The auditor owns no input: its approval does not count. */
    refused("approval by a party that owns no input", approve(&sc, id, text, len, &idc, &err), &err,
            "owns none of the job's inputs");
    refused("still no result", result_key(&sc, id, key, obj, &err), &err, "waiting for bank-b");

    /* bank-b co-signs: the job runs; only the auditor gets the result key. */
    CHECK(approve(&sb, id, text, len, &idb, &err) == 0);
    refused("result key for a non-recipient", result_key(&sa, id, key, obj, &err), &err,
            "not a recipient");
    CHECK(result_key(&sc, id, key, obj, &err) == 0);
    char cpath[300];
    snprintf(cpath, sizeof cpath, "%s/res.csv", work);
    CHECK(mc2_fetch_table(service, obj, key, work, cpath, MC2_FMT_CSV, NULL, &err) == 0);
    mc2_buf csv = {0};
    CHECK(mc2_file_read_all(cpath, 1 << 16, &csv, &err) == 0);
    CHECK(csv.len > 0 && strstr((const char *)csv.data, "bank-a/t,3\nbank-b/t,2\ntotal,5\n"));
    /* The result does not open with another party's data key. */
    CHECK(mc2_fetch_table(service, obj, idc.data_key, work, cpath, MC2_FMT_CSV, NULL, &err) != 0);
    refused("approving a job that has run", approve(&sb, id, text, len, &idb, &err), &err,
            "already run");

    /* oblivious_tables: rowcount decodes blocks with the branchy batch decoder, so a table
     * the policy lets only oblivious jobs read is refused at submission, by name. */
    mc2_job g;
    memset(&g, 0, sizeof g);
    strcpy(g.kind, "rowcount");
    g.ninputs = 1;
    strcpy(g.inputs[0].owner, "bank-b");
    strcpy(g.inputs[0].table, "guarded");
    memcpy(g.inputs[0].table_id, tid_g, 16);
    g.nrecipients = 1;
    strcpy(g.recipients[0], "auditor");
    uint64_t gid = 0;
    refused("rowcount over a table in oblivious_tables",
            mc2_job_submit(&sb, &idb, pol, &g, &gid, NULL, &err), &err,
            "only oblivious jobs read bank-b/guarded");

    mc2_buf_free(&csv);
    mc2_free(text);
    mc2_esession_close(&sa);
    mc2_esession_close(&sb);
    mc2_esession_close(&sc);
    pfix_stop(&fx, SIGTERM);
    mc2_policy_free(fx.pol);
    mc2_identity_free(&ida);
    mc2_identity_free(&idb);
    mc2_identity_free(&idc);
    mc2_identity_free(&idx);
    return test_done("test_platform");
}
