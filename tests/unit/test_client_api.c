/* test_client_api.c - the public client API (mc2/client.h) against a real mc2d and sim
 * enclave (tests/tools/pfix.h): attest; upload from memory (with NULLs) and from a file;
 * replace only when asked; the listing; a query over this party's own table whose decrypted
 * CSV equals the known rows exactly; a two-party join that waits for the other owner's
 * mc2_client_approve and then returns the joined rows; job and jobs; a table uploaded during
 * the session is found by the next query; and the error paths with
 * their codes and messages (syntax error before any I/O, unknown table, a failed job's reason,
 * approving a job one has no part in, a party outside the policy). */
#include "mc2/client.h"

#include "../tools/pfix.h"
#include "test.h"

static pfix F;

static char *home_of(const char *name)
{
    static char buf[2][300];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", F.work, name);
    return buf[k];
}

/* Submits query as party c with inputs[0..n) (or none); returns the job id, 0 on failure
 * (err set). */
static uint64_t sql(mc2_client *c, const char *query, const char *const *inputs, size_t n,
                    mc2_err *err)
{
    const char *k[] = {"query"}, *v[] = {query};
    mc2_client_job_spec sp = {.kind = "sql",
                              .inputs = inputs,
                              .ninputs = n,
                              .param_keys = k,
                              .param_values = v,
                              .nparams = 1};
    uint64_t id = 0;
    return mc2_client_submit(c, &sp, &id, NULL, err) ? 0 : id;
}

/* The CSV result of job id, or NULL (err set). */
static char *result(mc2_client *c, uint64_t id, char **schema, mc2_err *err)
{
    char *csv = NULL;
    size_t len = 0;
    if (mc2_client_result_csv(c, id, &csv, &len, schema, err)) return NULL;
    CHECK(strlen(csv) == len);
    return csv;
}

static void check_errors(mc2_client *a, mc2_client *b)
{
    mc2_err err;
    mc2_client *c = NULL;
    CHECK(mc2_client_open(home_of("nobody"), F.service, F.policy_path, &c, &err) == -1 && !c);
    CHECK_MSG(err.code == MC2_E_AUTH && strstr(err.msg, "not a party"), "%s", err.msg);
    CHECK(sql(a, "SELEC k FROM t", NULL, 0, &err) == 0);
    CHECK_MSG(err.code == MC2_E_INPUT && strstr(err.msg, "line 1"), "%s", err.msg);
    CHECK(sql(a, "SELECT k FROM no_such_table", NULL, 0, &err) == 0);
    CHECK_MSG(err.code == MC2_E_NOTFOUND && strstr(err.msg, "no_such_table"), "%s", err.msg);
    /* A query that binds only inside the enclave: the job fails there, with its reason. */
    uint64_t id = sql(a, "SELECT nosuchcol FROM t", NULL, 0, &err);
    CHECK_MSG(id > 0, "%s", err.msg);
    char *csv = id ? result(a, id, NULL, &err) : NULL;
    CHECK(csv == NULL);
    CHECK_MSG(err.code == MC2_E_INPUT && strstr(err.msg, "failed") && strstr(err.msg, "nosuchcol"),
              "%s", err.msg);
    /* bank-b owns none of this job's inputs. */
    CHECK(id && mc2_client_approve(b, id, &err) == -1);
    CHECK_MSG(err.code == MC2_E_USAGE && strstr(err.msg, "nothing to approve"), "%s", err.msg);
    mc2_client_free(csv);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    mc2_identity A, B, N;
    pfix_init(&F, "test-client-api");
    pfix_party(&F, "bank-a", &A);
    pfix_party(&F, "bank-b", &B);
    pfix_party(&F, "nobody", &N);
    mc2_identity ids[2] = {A, B};
    const bool recipient[2] = {true, true};
    pfix_policy(&F, ids, 2, recipient);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        return 1;
    }
    mc2_client *a = NULL, *b = NULL;
    if (mc2_client_open(home_of("bank-a"), F.service, F.policy_path, &a, &err) ||
        mc2_client_open(home_of("bank-b"), F.service, F.policy_path, &b, &err))
        pfix_die("open", &err);
    CHECK(strcmp(mc2_client_party(a), "bank-a") == 0);
    CHECK(strcmp(mc2_client_service(a), F.service) == 0);
    mc2_client_attestation at;
    CHECK_MSG(mc2_client_attest(a, &at, &err) == 0, "%s", err.msg);
    CHECK(at.simulation == 1 && strlen(at.measurement) == 64 && strlen(at.instance) == 64);

    /* Uploads: from memory (NULLs, a quoted empty string), from a file; replace on request. */
    static const char schema[] = "columns:\n  - {name: k, type: INT64}\n"
                                 "  - {name: v, type: VARCHAR(20)}\n";
    static const char rows_a[] = "k,v\n3,c\n1,\n2,\"\"\n";
    uint64_t rows = 0, version = 0;
    CHECK_MSG(mc2_client_upload(a, "t", schema, NULL, rows_a, strlen(rows_a), 0, 0, &rows, &version,
                                &err) == 0,
              "%s", err.msg);
    CHECK(rows == 3 && version == 1);
    CHECK(mc2_client_upload(a, "t", schema, NULL, rows_a, strlen(rows_a), 0, 0, NULL, NULL, &err) ==
          -1);
    CHECK_MSG(err.code == MC2_E_EXISTS && strstr(err.msg, "replace"), "%s", err.msg);
    CHECK(mc2_client_upload(a, "t", schema, NULL, rows_a, strlen(rows_a), 0, 1, NULL, &version,
                            &err) == 0 &&
          version == 2);
    char path[400];
    snprintf(path, sizeof path, "%s/u.csv", F.work);
    static const char rows_b[] = "k,w\n1,one\n3,three\n4,four\n";
    static const char schema_b[] = "columns:\n  - {name: k, type: INT64}\n"
                                   "  - {name: w, type: VARCHAR(20)}\n";
    if (mc2_file_write_atomic(path, rows_b, strlen(rows_b), 0600, 0, &err)) pfix_die("csv", &err);
    CHECK_MSG(mc2_client_upload(b, "u", schema_b, path, NULL, 0, 0, 0, &rows, NULL, &err) == 0,
              "%s", err.msg);
    CHECK(mc2_client_upload(b, "bad", "columns: [", NULL, "x\n", 2, 0, 0, NULL, NULL, &err) == -1 &&
          err.code == MC2_E_INPUT);

    /* A bad value in memory: the error says where, naming "the data". */
    static const char rows_bad[] = "k,v\n1,x\nnope,y\n";
    CHECK(mc2_client_upload(a, "bad", schema, NULL, rows_bad, strlen(rows_bad), 0, 0, NULL, NULL,
                            &err) == -1);
    CHECK_MSG(err.code == MC2_E_INPUT && strstr(err.msg, "the data") && strstr(err.msg, "line 3") &&
                  !strstr(err.msg, "/proc/"),
              "%s", err.msg);

    mc2_client_table *t = NULL;
    size_t nt = 0;
    CHECK(mc2_client_tables(a, &t, &nt, &err) == 0 && nt == 2);
    for (size_t i = 0; i < nt; i++)
        CHECK((strcmp(t[i].owner, "bank-a") == 0 && strcmp(t[i].name, "t") == 0 && t[i].rows == 3 &&
               t[i].version == 2) ||
              (strcmp(t[i].owner, "bank-b") == 0 && strcmp(t[i].name, "u") == 0 && t[i].rows == 3));
    mc2_client_free(t);

    /* One party's own table: runs at once; the decrypted rows are exactly these. */
    uint64_t id = sql(a, "SELECT k, v FROM t ORDER BY k", NULL, 0, &err);
    CHECK_MSG(id > 0, "%s", err.msg);
    char *schema_out = NULL, *csv = id ? result(a, id, &schema_out, &err) : NULL;
    CHECK_MSG(csv && strcmp(csv, "k,v\n1,\n2,\"\"\n3,c\n") == 0, "%s", csv ? csv : err.msg);
    CHECK(schema_out && strstr(schema_out, "INT64") && strstr(schema_out, "VARCHAR"));
    mc2_client_free(csv);
    mc2_client_free(schema_out);
    char *text = NULL, *state = NULL;
    CHECK(mc2_client_job(a, id, &text, &state, &err) == 0 && strncmp(state, "done", 4) == 0 &&
          strstr(text, "kind sql\n"));
    mc2_client_free(text);
    mc2_client_free(state);

    /* Two parties: waits for bank-b, which approves; then the join's rows. */
    const char *in[] = {"bank-a/t", "bank-b/u"};
    id = sql(a, "SELECT t.k, v, w FROM t JOIN u ON t.k = u.k ORDER BY t.k", in, 2, &err);
    CHECK_MSG(id > 0, "%s", err.msg);
    CHECK(mc2_client_wait(a, id, 0, &state, &err) == 0 && strstr(state, "waiting"));
    mc2_client_free(state);
    csv = result(a, id, NULL, &err); /* returns at once: no result before bank-b approves */
    CHECK_MSG(!csv && err.code == MC2_E_NOTFOUND && strstr(err.msg, "no result yet") &&
                  strstr(err.msg, "waiting"),
              "%s", err.msg);
    CHECK_MSG(mc2_client_approve(b, id, &err) == 0, "%s", err.msg);
    csv = result(a, id, NULL, &err);
    CHECK_MSG(csv && strcmp(csv, "k,v,w\n1,,one\n3,c,three\n") == 0, "%s", csv ? csv : err.msg);
    mc2_client_free(csv);
    CHECK(mc2_client_jobs(a, &text, &err) == 0 && strstr(text, "sql"));
    mc2_client_free(text);

    /* A table uploaded after the client's first job is found by the next one (the client
     * reads its catalog and the service's listing anew for each call). */
    static const char rows_late[] = "k,v\n7,late\n";
    CHECK(mc2_client_upload(a, "late", schema, NULL, rows_late, strlen(rows_late), 0, 0, NULL, NULL,
                            &err) == 0);
    id = sql(a, "SELECT v FROM late", NULL, 0, &err);
    CHECK_MSG(id > 0, "a table uploaded during the session is not found: %s", err.msg);
    csv = id ? result(a, id, NULL, &err) : NULL;
    CHECK(csv && strcmp(csv, "v\nlate\n") == 0);
    mc2_client_free(csv);

    check_errors(a, b);
    mc2_client_close(a);
    mc2_client_close(b);
    mc2_identity_free(&A);
    mc2_identity_free(&B);
    mc2_identity_free(&N);
    mc2_policy_free(F.pol);
    return test_done("test_client_api");
}
