/* test_platform_version.c - the enclave reads exactly the table version a job names (security
 * review finding 1), against a live service whose store the test edits as a malicious host
 * would. Jobs are forged through libmc2 where the mc2 client would refuse earlier. (e) A job
 * naming another version than the stored table's fails with "the host supplied version X of
 * OWNER/T but the job names version Y": a forged version, an older upload put back (a
 * rollback), and the right id with a wrong version; a same-version table of the same owner in
 * its place fails on its table id. A format-1 table is version 0. A download expecting one
 * upload refuses another before decrypting (mc2_fetch_table_expect: no output file). And
 * `mc2 tables --adopt` records a format-1 table as version 0, which `mc2 sql` then reads. */
#include "../tools/pfix.h"
#include "conn/conn.h"
#include "mc2/catalog.h"
#include "mc2/job.h"
#include "test.h"

static pfix F;
static mc2_identity A;

/* Encrypts n rows as bank-a's table (format `fmt`, table version `version`) into path and
 * returns its bytes and table id. */
static void make_table(size_t n, const char *tag, unsigned fmt, uint64_t version, const char *path,
                       mc2_buf *bytes, uint8_t tid[16])
{
    mc2_err err;
    char in[400];
    snprintf(in, sizeof in, "%s.csv", path);
    char *csv = pfix_csv(n, tag);
    static const char schema[] =
        "columns:\n  - {name: k, type: INT64}\n  - {name: v, type: VARCHAR(40)}\n";
    mc2_schema *s = NULL;
    mc2_encrypt_opts o = {0};
    o.format_version = fmt;
    o.table_version = version;
    if (mc2_file_write_atomic(in, csv, strlen(csv), 0600, 0, &err) ||
        mc2_schema_parse("schema", schema, sizeof schema - 1, &s, &err) ||
        mc2_table_encrypt_file(in, s, A.data_key, path, &o, NULL, &err) ||
        mc2_file_read_all(path, 1 << 30, bytes, &err))
        pfix_die("encrypt", &err);
    memcpy(tid, bytes->data + 8, 16); /* both formats: "MC2T" u16 u16 table_id */
    mc2_schema_free(s);
    mc2_free(csv);
    unlink(in);
}

/* The host's edit: the object of bank-a's table `name` becomes these bytes. */
static void store_put(const char *name, const mc2_buf *bytes)
{
    mc2_err err;
    char p[600];
    snprintf(p, sizeof p, "%s/store/tables/%s/%s.mc2t", F.state, A.name, name);
    if (mc2_file_write_atomic(p, bytes->data, bytes->len, 0600, 0, &err)) pfix_die("store", &err);
}

/* Submits a job of `kind` (rowcount reads its input whole, sql in encryption mode streams it
 * block by block: both paths check the upload) over bank-a/name naming (tid, version) and
 * waits for its end; returns the final state ("done: 1 result", "failed: REASON") in state. */
static void run_kind(mc2_esession *s, const char *kind, const char *name, const uint8_t tid[16],
                     uint64_t version, mc2_buf *state)
{
    mc2_err err;
    mc2_job j;
    uint64_t id;
    memset(&j, 0, sizeof j);
    snprintf(j.kind, sizeof j.kind, "%s", kind);
    j.ninputs = 1;
    snprintf(j.inputs[0].owner, sizeof j.inputs[0].owner, "%s", A.name);
    snprintf(j.inputs[0].table, sizeof j.inputs[0].table, "%s", name);
    memcpy(j.inputs[0].table_id, tid, 16);
    j.inputs[0].version = version;
    j.nrecipients = 1;
    snprintf(j.recipients[0], sizeof j.recipients[0], "%s", A.name);
    char query[200];
    snprintf(query, sizeof query, "SELECT count(*) AS n FROM %s", name);
    if (strcmp(kind, "sql") == 0 && mc2_job_add_param(&j, "query", query, &err))
        pfix_die("job", &err);
    mc2_buf_reset(state);
    if (mc2_job_submit(s, &A, F.pol, &j, &id, NULL, &err) ||
        mc2_job_wait(s, id, true, 60000, NULL, state, &err))
        pfix_die("job", &err);
    printf("%s job over %s naming version %llu: %s\n", kind, name, (unsigned long long)version,
           (const char *)state->data);
    mc2_job_free(&j);
}

/* The state of the rowcount job in state; the sql job must end the same way (its result
 * count aside). */
static void run_job(mc2_esession *s, const char *name, const uint8_t tid[16], uint64_t version,
                    mc2_buf *state)
{
    mc2_buf sq = {0};
    run_kind(s, "sql", name, tid, version, &sq);
    run_kind(s, "rowcount", name, tid, version, state);
    bool same = sq.data && state->data &&
                (strncmp((const char *)sq.data, "done", 4) == 0
                     ? strncmp((const char *)state->data, "done", 4) == 0
                     : strcmp((const char *)sq.data, (const char *)state->data) == 0);
    CHECK_MSG(same, "the sql job over %s ended as '%s', the rowcount job as '%s'", name,
              sq.data ? (const char *)sq.data : "", state->data ? (const char *)state->data : "");
    mc2_buf_free(&sq);
}

static bool says(const mc2_buf *state, const char *what)
{
    return state->data && strstr((const char *)state->data, what) != NULL;
}

/* Runs the mc2 CLI (MC2_BIN) as bank-a with args; returns its exit code, output in out. */
static int mc2_cli(const char *args, mc2_buf *out)
{
    const char *bin = getenv("MC2_BIN");
    char cmd[2000], log[300];
    snprintf(log, sizeof log, "%s/cli.out", F.work);
    snprintf(cmd, sizeof cmd,
             "'%s' %s --home '%s/%s' --policy '%s' --service %s </dev/null >'%s' 2>&1",
             bin ? bin : "build/mc2", args, F.work, A.name, F.policy_path, F.service, log);
    int rc = system(cmd);
    mc2_err err;
    mc2_buf_reset(out);
    if (mc2_file_read_all(log, 1 << 20, out, &err) || mc2_buf_append(out, "", 1, &err))
        pfix_die("cli output", &err);
    printf("$ mc2 %s\n%s", args, (const char *)out->data);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int main(void)
{
    mc2_err err;
    char msg[600];
    pfix_init(&F, "test-version");
    pfix_party(&F, "bank-a", &A);
    const bool recipient[1] = {true};
    pfix_policy(&F, &A, 1, recipient);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        return 1;
    }
    char p3[300], p4[300], pu[300], p1[300];
    snprintf(p3, sizeof p3, "%s/t3.mc2t", F.work);
    snprintf(p4, sizeof p4, "%s/t4.mc2t", F.work);
    snprintf(pu, sizeof pu, "%s/u4.mc2t", F.work);
    snprintf(p1, sizeof p1, "%s/legacy.mc2t", F.work);
    mc2_buf t3 = {0}, t4 = {0}, u4 = {0}, v1 = {0}, state = {0};
    uint8_t id3[16], id4[16], idu[16], id1[16];
    make_table(100, "three", 2, 3, p3, &t3, id3);
    make_table(200, "four", 2, 4, p4, &t4, id4);
    make_table(50, "other", 2, 4, pu, &u4, idu);
    make_table(70, "legacy", 1, 0, p1, &v1, id1);

    /* Version 3 of t as a real upload; the job naming it runs. */
    CHECK(mc2_host_upload(F.service, &A, "t", p3, NULL, NULL, &err) == 0);
    mc2_esession s;
    if (mc2_esession_open(F.service, &A, F.pol, &s, &err) ||
        mc2_esession_grant(&s, &A, F.pol, &err))
        pfix_die("session", &err);
    run_job(&s, "t", id3, 3, &state);
    CHECK(says(&state, "done"));
    /* (e) The same table, a job naming another version: forged, the client would not. */
    run_job(&s, "t", id3, 4, &state);
    CHECK(says(&state, "failed: the host supplied version 3 of bank-a/t but the job names "
                       "version 4"));
    run_job(&s, "t", id3, 2, &state);
    CHECK(says(&state, "the host supplied version 3 of bank-a/t but the job names version 2"));
    /* Version 4 uploaded, version 3 put back by the host: the job naming 4 fails. */
    CHECK(mc2_host_upload(F.service, &A, "t", p4, NULL, NULL, &err) == 0);
    run_job(&s, "t", id4, 4, &state);
    CHECK(says(&state, "done"));
    store_put("t", &t3);
    run_job(&s, "t", id4, 4, &state);
    CHECK(says(&state, "the host supplied version 3 of bank-a/t but the job names version 4"));
    /* Another table of bank-a with the same version in t's place: its table id differs. */
    store_put("t", &u4);
    run_job(&s, "t", id4, 4, &state);
    CHECK(says(&state, "the host supplied another table than the job names (table id differs)"));
    /* A format-1 table is version 0. */
    CHECK(mc2_host_upload(F.service, &A, "legacy", p1, NULL, NULL, &err) == 0);
    run_job(&s, "legacy", id1, 0, &state);
    CHECK(says(&state, "done"));
    run_job(&s, "legacy", id1, 1, &state);
    CHECK(says(&state, "the host supplied version 0 of bank-a/legacy but the job names version 1"));
    mc2_esession_close(&s);

    /* A download expecting version 4 of t, while the host serves u in its place. */
    char out[300];
    snprintf(out, sizeof out, "%s/dl.csv", F.work);
    mc2_table_expect want;
    memset(&want, 0, sizeof want);
    memcpy(want.table_id, id4, 16);
    want.version = 4;
    CHECK(mc2_fetch_table_expect(F.service, "tables/bank-a/t.mc2t", A.data_key, &want, F.work, out,
                                 MC2_FMT_CSV, NULL, NULL, NULL, &err) != 0);
    CHECK(err.code == MC2_E_AUTH && want.mismatch && memcmp(want.got_id, idu, 16) == 0 &&
          want.got_version == 4);
    CHECK(!mc2_file_exists(out));
    store_put("t", &t4);
    CHECK(mc2_fetch_table_expect(F.service, "tables/bank-a/t.mc2t", A.data_key, &want, F.work, out,
                                 MC2_FMT_CSV, NULL, NULL, NULL, &err) == 0 &&
          !want.mismatch && mc2_file_exists(out));

    /* The CLI: a format-1 table uploaded before the catalog existed is adopted as version 0. */
    mc2_buf o = {0};
    CHECK(mc2_cli("sql --csv --input bank-a/legacy \"SELECT count(*) AS n FROM legacy\"", &o) == 1);
    CHECK(strstr((char *)o.data, "no upload of table 'legacy'") != NULL);
    CHECK(mc2_cli("tables --adopt legacy --yes", &o) == 0);
    CHECK(strstr((char *)o.data, "version:    0 (a format-1 table)") != NULL);
    CHECK(strstr((char *)o.data, "recorded 'legacy' version 0 in your catalog (adopted)") != NULL);
    mc2_catalog cat;
    char home[300];
    snprintf(home, sizeof home, "%s/%s", F.work, A.name);
    CHECK(mc2_catalog_load(home, &cat, &err) == 0);
    const mc2_catalog_entry *e = mc2_catalog_latest(&cat, F.pol->hash, "legacy");
    CHECK(e && e->version == 0 && e->state == MC2_CAT_ADOPTED && e->rows == 70 &&
          memcmp(e->table_id, id1, 16) == 0);
    mc2_catalog_free(&cat);
    CHECK(mc2_cli("sql --csv --input bank-a/legacy \"SELECT count(*) AS n FROM legacy\"", &o) == 0);
    CHECK(strstr((char *)o.data, "\n70\n") != NULL);

    mc2_buf_free(&o);
    mc2_buf_free(&t3);
    mc2_buf_free(&t4);
    mc2_buf_free(&u4);
    mc2_buf_free(&v1);
    mc2_buf_free(&state);
    mc2_identity_free(&A);
    pfix_stop(&F, SIGTERM);
    return test_done("test_platform_version");
}
