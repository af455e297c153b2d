/* test_platform_gbdt.c - GBDT as a platform service against a real mc2d and sim enclave: two
 * banks upload tables of one schema, bank-a submits `train`, bank-b co-signs, the auditor
 * (recipient) gets the sealed model and the per-round metrics; bad input is refused (unknown
 * parameter at submission; missing label, non-numeric feature, num_class inconsistent with
 * the labels at run start, without any data value in the message), and why a job failed is
 * told only to the job's parties (bank-b, outside bank-a's job, reads just "failed"). Then the
 * service restarts (a new enclave instance). The model is the auditor's: a predict job with
 * it must name the auditor as model_owner, and runs only once the auditor has approved that
 * job and granted the model key for it (EAPI_GRANT_OBJECT, signed over the job text's hash):
 * a job another party submits with the model waits for the auditor, a grant made for one job
 * (or by anyone else, or in the old per-instance form) does not open the model for another.
 * A predict job over both banks' tables gives each bank exactly its own rows' predictions,
 * equal to mc2_gbdt_predict of the same model run locally. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "conn/conn.h"
#include "gbdt/gbdt.h"
#include "host/launch.h"
#include "mc2/identity.h"
#include "mc2/job.h"
#include "mc2/policy.h"
#include "mc2/table.h"
#include "table/blob.h"
#include "../tools/pfix.h"
#include "test.h"
#include "wire/proto.h"

static pfix fx;
static mc2_identity ida, idb, idc;
static mc2_policy *pol;
#define work    (fx.work)
#define service (fx.service)
#define die     pfix_die

/* Starts (or restarts) mc2d, or ends the test. */
static void start_service(void)
{
    char msg[600];
    if (pfix_start(&fx, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        exit(1);
    }
}

/* ---- data --------------------------------------------------------------------------------- */

static const char SCHEMA[] = "columns:\n"
                             "  - {name: x1, type: DOUBLE}\n"
                             "  - {name: x2, type: DOUBLE, nullable: true}\n"
                             "  - {name: x3, type: INT64}\n"
                             "  - {name: x4, type: \"DECIMAL(10,2)\"}\n"
                             "  - {name: x5, type: BOOL}\n"
                             "  - {name: label, type: INT64}\n";
static const char SCORE_SCHEMA[] = "columns:\n"
                                   "  - {name: x1, type: DOUBLE}\n"
                                   "  - {name: x2, type: DOUBLE, nullable: true}\n"
                                   "  - {name: x3, type: INT64}\n"
                                   "  - {name: x4, type: \"DECIMAL(10,2)\"}\n"
                                   "  - {name: x5, type: BOOL}\n";
static const char SWAPPED_SCHEMA[] = "columns:\n"
                                     "  - {name: x2, type: DOUBLE, nullable: true}\n"
                                     "  - {name: x1, type: DOUBLE}\n"
                                     "  - {name: x3, type: INT64}\n"
                                     "  - {name: x4, type: \"DECIMAL(10,2)\"}\n"
                                     "  - {name: x5, type: BOOL}\n";
static const char TEXT_SCHEMA[] = "columns:\n"
                                  "  - {name: x1, type: DOUBLE}\n"
                                  "  - {name: who, type: VARCHAR(20)}\n"
                                  "  - {name: label, type: INT64}\n";

static uint64_t rng = 88172645463325252ull;
static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* n rows of a synthetic binary classification set as CSV (with or without the label), and
 * the features exactly as the enclave converts them (x: n x 5 floats) if x is given. The
 * label depends on the features plus 10 % noise; x2 is missing in ~10 % of the rows. label
 * values may be widened to 0..classes-1. */
static void gen(mc2_buf *csv, float *x, size_t n, int with_label, int classes)
{
    mc2_err err;
    if (mc2_buf_puts(csv, with_label ? "x1,x2,x3,x4,x5,label\n" : "x1,x2,x3,x4,x5\n", &err))
        pfix_die("gen", &err);
    for (size_t i = 0; i < n; i++) {
        double x1 = unif() * 4 - 2, x2 = unif() * 10;
        int miss = unif() < 0.1;
        long long x3 = (long long)(unif() * 100), cents = (long long)(unif() * 100000) - 50000;
        int x5 = unif() < 0.5;
        double s = x1 + (miss ? 0 : x2 / 5 - 1) + (double)x3 / 50 - 1 + (double)cents / 50000 +
                   (x5 ? 0.5 : -0.5);
        int y = s > 0.2;
        if (unif() < 0.1) y = !y;
        if (classes > 2) y = (int)(unif() * classes);
        char x2s[40] = "";
        if (!miss) snprintf(x2s, sizeof x2s, "%.17g", x2);
        if (mc2_buf_printf(csv, &err, "%.17g,%s,%lld,%s%lld.%02lld,%s", x1, x2s, x3,
                           cents < 0 ? "-" : "", llabs(cents) / 100, llabs(cents) % 100,
                           x5 ? "true" : "false"))
            pfix_die("gen", &err);
        if (with_label && mc2_buf_printf(csv, &err, ",%d", y)) pfix_die("gen", &err);
        if (mc2_buf_puts(csv, "\n", &err)) pfix_die("gen", &err);
        if (x) {
            float *r = x + i * 5;
            r[0] = (float)x1;
            r[1] = miss ? NAN : (float)x2;
            r[2] = (float)x3;
            r[3] = (float)((double)cents / 100.0);
            r[4] = (float)x5;
        }
    }
}

static void upload(const mc2_identity *id, const char *table, const char *schema, const char *csv,
                   size_t len)
{
    mc2_err err;
    char in[400], out[400];
    snprintf(in, sizeof in, "%s/%s-%s.csv", work, id->name, table);
    snprintf(out, sizeof out, "%s/%s-%s.mc2t", work, id->name, table);
    mc2_schema *s = NULL;
    mc2_encrypt_opts o = {0};
    if (mc2_file_write_atomic(in, csv, len, 0600, 0, &err) ||
        mc2_schema_parse("schema", schema, strlen(schema), &s, &err) ||
        mc2_table_encrypt_file(in, s, id->data_key, out, &o, NULL, &err) ||
        mc2_host_upload(service, id, table, out, NULL, NULL, &err))
        pfix_die("upload", &err);
    mc2_schema_free(s);
}

/* The table id of OWNER's `table` as uploaded (from the local encrypted copy). */
static void table_id(const char *owner, const char *table, uint8_t tid[16])
{
    mc2_err err;
    char path[400];
    snprintf(path, sizeof path, "%s/%s-%s.mc2t", work, owner, table);
    mc2_buf b = {0};
    if (mc2_file_read_all(path, 1 << 24, &b, &err)) pfix_die("read", &err);
    memcpy(tid, b.data + 8, 16);
    mc2_buf_free(&b);
}

/* ---- jobs --------------------------------------------------------------------------------- */

static void session(const mc2_identity *id, mc2_esession *s)
{
    mc2_err err;
    if (mc2_esession_open(service, id, pol, s, &err)) pfix_die("session", &err);
}

/* A job of `kind` over "owner/table" inputs (NULL-terminated) with "key=value" params. */
static void job_init(mc2_job *j, const char *kind, const char *const *inputs,
                     const char *const *params, const char *recipient)
{
    mc2_err err;
    memset(j, 0, sizeof *j);
    snprintf(j->kind, sizeof j->kind, "%s", kind);
    for (size_t i = 0; inputs[i]; i++) {
        mc2_job_input *in = &j->inputs[j->ninputs++];
        const char *sl = strchr(inputs[i], '/');
        snprintf(in->owner, sizeof in->owner, "%.*s", (int)(sl - inputs[i]), inputs[i]);
        snprintf(in->table, sizeof in->table, "%s", sl + 1);
        table_id(in->owner, in->table, in->table_id);
    }
    for (size_t i = 0; params && params[i]; i++) {
        char key[64];
        const char *eq = strchr(params[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - params[i]), params[i]);
        if (mc2_job_add_param(j, key, eq + 1, &err)) pfix_die("param", &err);
    }
    snprintf(j->recipients[j->nrecipients++], 65, "%s", recipient);
}

static int approve(mc2_esession *s, uint64_t id, const char *text, const mc2_identity *signer,
                   mc2_err *err)
{
    uint8_t sig[64];
    mc2_buf req = {0}, reply = {0};
    if (mc2_job_sign(signer->sec, text, strlen(text), sig, err)) return -1;
    int rc = mc2_buf_put_u64(&req, id, err) || mc2_buf_append(&req, sig, 64, err) ||
                     mc2_esession_call(s, EAPI_APPROVE, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

/* The job's public status once it has run or waits for someone ("done: 2 results",
 * "failed: ..."), into st. */
static void job_status(mc2_esession *s, uint64_t id, char *st, size_t cap)
{
    mc2_buf state = {0};
    mc2_err err;
    if (mc2_job_wait(s, id, false, 600u * 1000u, NULL, &state, &err)) pfix_die("job status", &err);
    snprintf(st, cap, "%s", (const char *)state.data);
    mc2_buf_free(&state);
}

/* Submits a job over bank-a's tables only (so it runs at once) and returns its status and id. */
static uint64_t run_a(mc2_esession *sa, const char *kind, const char *const *inputs,
                      const char *const *params, char *st, size_t cap)
{
    mc2_job j;
    mc2_err err;
    uint64_t id;
    job_init(&j, kind, inputs, params, "auditor");
    if (mc2_job_submit(sa, &ida, pol, &j, &id, NULL, &err)) pfix_die("submit", &err);
    job_status(sa, id, st, cap);
    mc2_job_free(&j);
    return id;
}

/* Sends an object-key grant as it is on the wire: u64 job id | name LV | key | sig (v1 = the
 * old per-instance form: name LV | key | sig). */
static int grant_raw(mc2_esession *s, int v1, uint64_t id, const char *name, const uint8_t *key,
                     const uint8_t *sig, mc2_err *err)
{
    mc2_buf req = {.secret = 1}, reply = {0};
    int rc = (!v1 && mc2_buf_put_u64(&req, id, err)) ||
                     mc2_buf_put_lv(&req, name, strlen(name), err) ||
                     mc2_buf_append(&req, key, 32, err) || mc2_buf_append(&req, sig, 64, err) ||
                     mc2_esession_call(s, EAPI_GRANT_OBJECT, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

/* Submits a predict job of `submitter` over inputs with params; returns its id and text. */
static uint64_t submit_as(mc2_esession *s, const mc2_identity *submitter, const char *const *inputs,
                          const char *const *params, char **text)
{
    mc2_job j;
    mc2_err err;
    uint64_t id;
    job_init(&j, "predict", inputs, params, "auditor");
    if (mc2_job_submit(s, submitter, pol, &j, &id, text, &err)) pfix_die("submit", &err);
    mc2_job_free(&j);
    return id;
}

static void expect_failed(const char *what, const char *st, const char *phrase)
{
    printf("  %s: %s\n", what, st);
    CHECK_MSG(strncmp(st, "failed: ", 8) == 0, "%s did not fail: %s", what, st);
    CHECK_MSG(strstr(st, phrase) != NULL, "%s: status lacks '%s'", what, phrase);
    CHECK_MSG(strstr(st, "SECRETMARK") == NULL, "%s: status shows data", what);
}

/* Reads a predictions CSV (table,row,prediction) into rows/preds; returns the row count. */
static size_t read_preds(const char *path, const char *table, float *preds, size_t cap)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_file_read_all(path, 1 << 24, &b, &err) || mc2_buf_append(&b, "", 1, &err))
        pfix_die("read preds", &err);
    size_t n = 0;
    char *l = strchr((char *)b.data, '\n');
    CHECK(strncmp((char *)b.data, "table,row,prediction\n", 21) == 0);
    while (l && l[1]) {
        l++;
        char t[64];
        long row;
        double v;
        if (sscanf(l, "%63[^,],%ld,%lf", t, &row, &v) != 3) break;
        CHECK(strcmp(t, table) == 0);
        CHECK(row == (long)n + 1);
        if (n < cap) preds[n] = (float)v;
        n++;
        l = strchr(l, '\n');
    }
    mc2_buf_free(&b);
    return n;
}

int main(void)
{
    mc2_err err;
    signal(SIGPIPE, SIG_IGN);
    pfix_init(&fx, "test-pgbdt");
    pfix_party(&fx, "bank-a", &ida);
    pfix_party(&fx, "bank-b", &idb);
    pfix_party(&fx, "auditor", &idc);
    const mc2_identity parties[] = {ida, idb, idc};
    const bool recipient[] = {false, false, true};
    pfix_policy(&fx, parties, 3, recipient);
    pol = fx.pol;
    start_service();

    /* Training tables (300 + 200 rows), bank-b's eval table, scoring tables, bad tables. */
    enum { NA = 300, NB = 200, NE = 150, SA = 60, SB = 45 };
    float xsa[SA * 5], xsb[SB * 5];
    mc2_buf c = {0};
    gen(&c, NULL, NA, 1, 2);
    upload(&ida, "train", SCHEMA, (const char *)c.data, c.len);
    mc2_buf_reset(&c);
    gen(&c, NULL, NB, 1, 2);
    upload(&idb, "train", SCHEMA, (const char *)c.data, c.len);
    mc2_buf_reset(&c);
    gen(&c, NULL, NE, 1, 2);
    upload(&idb, "ev", SCHEMA, (const char *)c.data, c.len);
    mc2_buf_reset(&c);
    gen(&c, xsa, SA, 0, 2);
    upload(&ida, "score", SCORE_SCHEMA, (const char *)c.data, c.len);
    mc2_buf_reset(&c);
    gen(&c, xsb, SB, 0, 2);
    upload(&idb, "score", SCORE_SCHEMA, (const char *)c.data, c.len);
    mc2_buf_reset(&c);
    gen(&c, NULL, 50, 1, 4); /* labels 0..3 */
    upload(&ida, "multi", SCHEMA, (const char *)c.data, c.len);
    const char txt[] = "x1,who,label\n1.5,SECRETMARK,1\n2.5,SECRETMARK,0\n";
    upload(&ida, "txt", TEXT_SCHEMA, txt, sizeof txt - 1);
    /* score's columns with x1 and x2 swapped: the right count and types, the wrong order */
    const char swapped[] = "x2,x1,x3,x4,x5\n1.5,0.5,3,1.25,true\n";
    upload(&ida, "swapped", SWAPPED_SCHEMA, swapped, sizeof swapped - 1);

    mc2_esession sa, sb, sc;
    session(&ida, &sa);
    session(&idb, &sb);
    session(&idc, &sc);
    CHECK(mc2_esession_grant(&sa, &ida, pol, &err) == 0);
    CHECK(mc2_esession_grant(&sb, &idb, pol, &err) == 0);

    /* ---- bad input -------------------------------------------------------------------- */
    printf("bad input:\n");
    {
        mc2_job j;
        uint64_t id;
        const char *in[] = {"bank-a/train", NULL};
        const char *pr[] = {"label=label", "max_dept=3", NULL};
        job_init(&j, "train", in, pr, "auditor");
        int rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  unknown parameter: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "unknown parameter 'max_dept' (did you mean max_depth?)"));
        mc2_job_free(&j);
        const char *pr2[] = {"label=label", "eta=fast", NULL};
        job_init(&j, "train", in, pr2, "auditor");
        rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  bad value: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "parameter 'eta'"));
        mc2_job_free(&j);
        const char *pr3[] = {"eval=bank-b/ev", NULL};
        job_init(&j, "train", in, pr3, "auditor");
        rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  no label, eval not an input: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "needs parameter 'label'"));
        mc2_job_free(&j);
        const char *pin[] = {"bank-a/score", NULL};
        const char *pp[] = {"model=results/job-1-model.mc2m", "model_sha=00", NULL};
        job_init(&j, "predict", pin, pp, "auditor");
        rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  predict, unknown parameter: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "did you mean model_sha256?"));
        mc2_job_free(&j);
    }
    char st[MC2_ERR_MSG_MAX + 64];
    {
        const char *in[] = {"bank-a/train", NULL};
        const char *pr[] = {"label=target", NULL};
        uint64_t fid = run_a(&sa, "train", in, pr, st, sizeof st);
        expect_failed("label column missing", st, "label column 'target' not found");
        /* The reason names a sealed column: the recipient reads it, bank-b (not in the job)
         * reads just "failed". */
        job_status(&sc, fid, st, sizeof st);
        CHECK_MSG(strstr(st, "label column 'target' not found") != NULL, "recipient: %s", st);
        job_status(&sb, fid, st, sizeof st);
        printf("  the same job as bank-b (outside the job) sees it: %s\n", st);
        CHECK_MSG(strcmp(st, "failed") == 0, "a party outside the job read: %s", st);
        const char *in2[] = {"bank-a/txt", NULL};
        const char *pr2[] = {"label=label", NULL};
        run_a(&sa, "train", in2, pr2, st, sizeof st);
        expect_failed("non-numeric feature", st, "non-numeric feature column 'who'");
        const char *in3[] = {"bank-a/multi", NULL};
        const char *pr3[] = {"label=label", "objective=multi:softprob", "num_class=3", NULL};
        run_a(&sa, "train", in3, pr3, st, sizeof st);
        expect_failed("num_class inconsistent", st, "inconsistent with num_class=3");
        const char *in4[] = {"bank-a/train", "bank-a/txt", NULL};
        run_a(&sa, "train", in4, pr2, st, sizeof st);
        expect_failed("schemas differ", st, "another schema");
        const char *in5[] = {"bank-a/train", NULL};
        const char *pr5[] = {"label=label", "objective=binary:logistic", "num_class=3", NULL};
        mc2_job j;
        uint64_t id;
        job_init(&j, "train", in5, pr5, "auditor");
        int rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  num_class without multi:softprob: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "num_class"));
        mc2_job_free(&j);
    }

    /* ---- training: bank-a submits, bank-b co-signs, the auditor receives ------------------ */
    printf("train:\n");
    mc2_job tj;
    const char *tin[] = {"bank-a/train", "bank-b/train", "bank-b/ev", NULL};
    const char *tpr[] = {"label=label",        "eval=bank-b/ev", "objective=binary:logistic",
                         "num_round=12",       "max_depth=3",    "eval_metric=auc,logloss",
                         "min_child_weight=1", "nthread=2",      NULL};
    job_init(&tj, "train", tin, tpr, "auditor");
    uint64_t tid;
    char *ttext = NULL;
    CHECK(mc2_job_submit(&sa, &ida, pol, &tj, &tid, &ttext, &err) == 0);
    job_status(&sc, tid, st, sizeof st);
    printf("  submitted job %llu: %s\n", (unsigned long long)tid, st);
    CHECK(strstr(st, "waiting for bank-b to approve") != NULL);
    CHECK(approve(&sb, tid, ttext, &idb, &err) == 0);
    job_status(&sc, tid, st, sizeof st);
    printf("  after bank-b's approval: %s\n", st);
    CHECK(strcmp(st, "done: 2 results") == 0);

    mc2_result_ref refs[4];
    size_t nref = 0;
    CHECK(mc2_esession_results(&sa, tid, refs, 4, &nref, &err) != 0 &&
          strstr(err.msg, "not a recipient"));
    CHECK(mc2_esession_results(&sc, tid, refs, 4, &nref, &err) == 0 && nref == 2);
    char model_name[96] = "";
    uint8_t model_key[32];
    mc2_gbdt_model *model = NULL;
    uint8_t model_hash[32];
    for (size_t i = 0; i < nref; i++) {
        printf("  auditor's result: %s\n", refs[i].name);
        if (strstr(refs[i].name, "-metrics.mc2t")) {
            char cpath[300];
            snprintf(cpath, sizeof cpath, "%s/metrics.csv", work);
            CHECK(mc2_fetch_table(service, refs[i].name, refs[i].key, work, cpath, MC2_FMT_CSV,
                                  NULL, &err) == 0);
            mc2_buf m = {0};
            CHECK(mc2_file_read_all(cpath, 1 << 20, &m, &err) == 0);
            CHECK(mc2_buf_append(&m, "", 1, &err) == 0);
            CHECK(strncmp((char *)m.data, "round,metric,value\n0,auc,", 25) == 0);
            size_t lines = 0;
            for (char *p = (char *)m.data; *p; p++) lines += *p == '\n';
            CHECK(lines == 1 + 12 * 2);
            char *last_auc = strstr((char *)m.data, "11,auc,");
            CHECK(last_auc && atof(last_auc + 7) > 0.7);
            if (last_auc)
                printf("  metrics, last round: %.*s\n", (int)strcspn(last_auc, "\n"), last_auc);
            mc2_buf_free(&m);
        } else {
            CHECK(strstr(refs[i].name, "-model.mc2m") != NULL);
            snprintf(model_name, sizeof model_name, "%s", refs[i].name);
            memcpy(model_key, refs[i].key, 32);
        }
    }
    mc2_wipe(refs, sizeof refs);
    {
        mc2_buf sealed = {0}, plain = {.secret = 1};
        CHECK(mc2_host_download(service, model_name, &sealed, &err) == 0);
        CHECK(mc2_sha256(sealed.data, sealed.len, model_hash, &err) == 0);
        CHECK(mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data, sealed.len,
                            &plain, &err) == 0);
        CHECK(mc2_gbdt_model_load(plain.data, plain.len, &model, &err) == 0);
        CHECK(model && model->num_feature == 5 && model->n_trees == 12);
        /* The training columns' names and types (without the label) travel with the model,
         * and the eval set's per-round metrics too. */
        static const char *const names[5] = {"x1", "x2", "x3", "x4", "x5"};
        static const uint8_t types[5] = {MC2_GBDT_FT_FLOAT, MC2_GBDT_FT_FLOAT, MC2_GBDT_FT_INT,
                                         MC2_GBDT_FT_FLOAT, MC2_GBDT_FT_INDICATOR};
        CHECK(model && model->feature_names && model->feature_types);
        for (int f = 0; model && model->feature_names && f < 5; f++)
            CHECK_MSG(strcmp(model->feature_names[f], names[f]) == 0 &&
                          model->feature_types[f] == types[f],
                      "feature %d: %s", f, model->feature_names[f]);
        CHECK(model && model->n_sets == 1 && model->n_metrics >= 1 &&
              model->sets[0].n_rounds == model->n_trees);
        /* Bound to its name and key: another name or another key does not open it. */
        mc2_buf_reset(&plain);
        CHECK(mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, "results/job-9-model.mc2m",
                            sealed.data, sealed.len, &plain, &err) != 0 &&
              err.code == MC2_E_AUTH);
        CHECK(mc2_blob_open(idc.data_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data,
                            sealed.len, &plain, &err) != 0);
        sealed.data[sealed.len / 2] ^= 1;
        CHECK(mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data, sealed.len,
                            &plain, &err) != 0);
        CHECK(mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data,
                            sealed.len - 1, &plain, &err) != 0 &&
              err.code == MC2_E_INPUT);
        sealed.data[sealed.len / 2] ^= 1;
        /* Hostile blobs: every truncation, every header byte changed, and another context. */
        unsigned opened = 0;
        for (size_t n = 0; n < sealed.len; n++)
            opened += mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data, n,
                                    &plain, &err) == 0;
        for (size_t i = 0; i < MC2_BLOB_HDR_LEN; i++) {
            sealed.data[i] ^= 0x40;
            opened += mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data,
                                    sealed.len, &plain, &err) == 0;
            sealed.data[i] ^= 0x40;
        }
        opened += mc2_blob_open(model_key, "mc2 other v1", model_name, sealed.data, sealed.len,
                                &plain, &err) == 0;
        CHECK(opened == 0 && plain.len == 0);
        CHECK(mc2_blob_open(model_key, MC2_BLOB_CTX_GBDT_MODEL, model_name, sealed.data, sealed.len,
                            &plain, &err) == 0);
        mc2_buf_free(&sealed);
        mc2_buf_free(&plain);
    }
    mc2_free(ttext);
    mc2_job_free(&tj);
    mc2_esession_close(&sa);
    mc2_esession_close(&sb);
    mc2_esession_close(&sc);

    /* ---- restart: a new enclave instance; the model is the auditor's ---------------------- */
    printf("restart:\n");
    pfix_stop(&fx, SIGTERM);
    start_service();
    session(&ida, &sa);
    session(&idb, &sb);
    session(&idc, &sc);
    CHECK(mc2_esession_grant(&sa, &ida, pol, &err) == 0);
    CHECK(mc2_esession_grant(&sb, &idb, pol, &err) == 0);
    char hashhex[65];
    mc2_hex_encode(model_hash, 32, hashhex);
    char pm[160], ph[100];
    snprintf(pm, sizeof pm, "model=%s", model_name);
    snprintf(ph, sizeof ph, "model_sha256=%s", hashhex);
    const char *pin_a[] = {"bank-a/score", NULL};
    const char *pin_b[] = {"bank-b/score", NULL};
    const char *ppr[] = {pm, ph, "model_owner=auditor", NULL};
    {
        /* A predict job names the party whose key opens the model, a party of the policy. */
        mc2_job j;
        uint64_t id;
        const char *p0[] = {pm, ph, NULL}, *p1[] = {pm, ph, "model_owner=mallory", NULL};
        job_init(&j, "predict", pin_a, p0, "auditor");
        int rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  predict without model_owner: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "'model_owner'"));
        mc2_job_free(&j);
        job_init(&j, "predict", pin_a, p1, "auditor");
        rc = mc2_job_submit(&sa, &ida, pol, &j, &id, NULL, &err);
        printf("  predict, model_owner not a party: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "model owner 'mallory' is not a party"));
        mc2_job_free(&j);
    }

    /* bank-a submits a predict job with the auditor's model: it waits for the auditor. */
    char *xtext = NULL;
    uint64_t xid = submit_as(&sa, &ida, pin_a, ppr, &xtext);
    job_status(&sa, xid, st, sizeof st);
    printf("  bank-a's predict job %llu: %s\n", (unsigned long long)xid, st);
    CHECK(strcmp(st, "waiting: waiting for auditor to approve (model owner)") == 0);
    uint8_t xh[32], sig[64];
    CHECK(mc2_sha256(xtext, strlen(xtext), xh, &err) == 0);
    /* Grants the enclave must refuse: from bank-a (not the model owner); signed by another
     * key than the auditor's; for another object; the old per-instance form; wrong length. */
    int rc = mc2_esession_grant_object(&sa, &ida, xid, xtext, strlen(xtext), model_name, model_key,
                                       &err);
    printf("  model key granted by bank-a: %s\n", rc ? err.msg : "ACCEPTED");
    CHECK(rc != 0 && strstr(err.msg, "model owner is auditor, not bank-a"));
    mc2_identity fake = idc;
    memcpy(fake.sec, ida.sec, 32);
    rc = mc2_esession_grant_object(&sc, &fake, xid, xtext, strlen(xtext), model_name, model_key,
                                   &err);
    printf("  grant signed by another party: %s\n", rc ? err.msg : "ACCEPTED");
    CHECK(rc != 0 && strstr(err.msg, "signature is not auditor's"));
    rc = mc2_esession_grant_object(&sc, &idc, xid, xtext, strlen(xtext),
                                   "results/job-9-00-model.mc2m", model_key, &err);
    printf("  grant for another object: %s\n", rc ? err.msg : "ACCEPTED");
    CHECK(rc != 0 && strstr(err.msg, "does not use the object"));
    {
        /* "mc2 object key v1": policy hash, instance, name, key hash: valid for any job. */
        static const char v1[] = "mc2 object key v1";
        mc2_buf m = {0};
        uint8_t kh[32];
        CHECK(mc2_sha256(model_key, 32, kh, &err) == 0);
        CHECK(mc2_buf_append(&m, v1, sizeof v1, &err) == 0 &&
              mc2_buf_append(&m, pol->hash, 32, &err) == 0 &&
              mc2_buf_append(&m, sa.instance, 32, &err) == 0 &&
              mc2_buf_append(&m, model_name, strlen(model_name) + 1, &err) == 0 &&
              mc2_buf_append(&m, kh, 32, &err) == 0);
        CHECK(mc2_ed25519_sign(idc.sec, m.data, m.len, sig, &err) == 0);
        mc2_buf_free(&m);
        rc = grant_raw(&sc, 1, 0, model_name, model_key, sig, &err);
        printf("  old per-instance grant (v1): %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "malformed object-key grant"));
        rc = grant_raw(&sc, 0, xid, model_name, model_key, sig, &err);
        printf("  v1 signature in a per-job grant: %s\n", rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "signature is not auditor's"));
    }
    job_status(&sc, xid, st, sizeof st);
    CHECK(strcmp(st, "waiting: waiting for auditor to approve (model owner)") == 0);
    CHECK(approve(&sc, xid, xtext, &idc, &err) == 0);
    job_status(&sa, xid, st, sizeof st);
    printf("  after the auditor's approval: %s\n", st);
    CHECK(strcmp(st, "waiting: waiting for auditor to grant the model key (model owner)") == 0);
    CHECK(mc2_esession_grant_object(&sc, &idc, xid, xtext, strlen(xtext), model_name, model_key,
                                    &err) == 0);
    job_status(&sa, xid, st, sizeof st);
    printf("  after the auditor's grant for job %llu: %s\n", (unsigned long long)xid, st);
    CHECK(strcmp(st, "done: 1 result") == 0);
    rc = mc2_esession_grant_object(&sc, &idc, xid, xtext, strlen(xtext), model_name, model_key,
                                   &err);
    CHECK(rc != 0 && strstr(err.msg, "has already run"));

    /* The model owner's wrong key, or another model hash: the job fails, no model opens. */
    {
        char badh[100], *t = NULL;
        snprintf(badh, sizeof badh, "model_sha256=%064d", 0);
        const char *pbad[] = {pm, badh, "model_owner=auditor", NULL};
        uint64_t id = submit_as(&sc, &idc, pin_a, pbad, &t);
        CHECK(mc2_esession_grant_object(&sc, &idc, id, t, strlen(t), model_name, model_key, &err) ==
              0);
        CHECK(approve(&sa, id, t, &ida, &err) == 0);
        job_status(&sa, id, st, sizeof st);
        expect_failed("predict with another model hash", st, "SHA-256 differs");
        mc2_free(t);
        id = submit_as(&sc, &idc, pin_a, ppr, &t);
        CHECK(mc2_esession_grant_object(&sc, &idc, id, t, strlen(t), model_name, ida.data_key,
                                        &err) == 0);
        CHECK(approve(&sa, id, t, &ida, &err) == 0);
        job_status(&sa, id, st, sizeof st);
        expect_failed("predict with a wrong model key", st, "does not open with the key granted");
        mc2_free(t);
        /* The model names its features: a table with its columns in another order is refused
         * (before format version 2 it was scored by position). */
        const char *pin_sw[] = {"bank-a/swapped", NULL};
        id = submit_as(&sc, &idc, pin_sw, ppr, &t);
        CHECK(mc2_esession_grant_object(&sc, &idc, id, t, strlen(t), model_name, model_key, &err) ==
              0);
        CHECK(approve(&sa, id, t, &ida, &err) == 0);
        job_status(&sa, id, st, sizeof st);
        expect_failed("predict over columns in another order", st,
                      "column 1 is 'x2', the model's feature 1 is 'x1'");
        mc2_free(t);
    }

    /* ---- predict over both banks: the auditor submits and grants, the banks co-sign -------- */
    printf("predict:\n");
    mc2_job pj;
    const char *pin[] = {"bank-a/score", "bank-b/score", NULL};
    job_init(&pj, "predict", pin, ppr, "auditor");
    uint64_t pid_;
    char *ptext = NULL;
    CHECK(mc2_job_submit(&sc, &idc, pol, &pj, &pid_, &ptext, &err) == 0);
    CHECK(mc2_esession_grant_object(&sc, &idc, pid_, ptext, strlen(ptext), model_name, model_key,
                                    &err) == 0);
    CHECK(approve(&sa, pid_, ptext, &ida, &err) == 0);
    CHECK(approve(&sb, pid_, ptext, &idb, &err) == 0);
    job_status(&sc, pid_, st, sizeof st);
    printf("  job %llu: %s\n", (unsigned long long)pid_, st);
    CHECK(strcmp(st, "done: 2 results") == 0);
    CHECK(mc2_esession_results(&sc, pid_, refs, 4, &nref, &err) != 0);
    const mc2_identity *owners[2] = {&ida, &idb};
    mc2_esession *ses[2] = {&sa, &sb};
    const float *xs[2] = {xsa, xsb};
    const size_t ns[2] = {SA, SB};
    char other_obj[160] = "";
    for (int o = 0; o < 2; o++) {
        CHECK(mc2_esession_results(ses[o], pid_, refs, 4, &nref, &err) == 0);
        CHECK(nref == 1);
        printf("  %s gets %s\n", owners[o]->name, nref ? refs[0].name : "-");
        CHECK(nref == 1 && strstr(refs[0].name, owners[o]->name) != NULL);
        char cpath[300];
        snprintf(cpath, sizeof cpath, "%s/preds-%d.csv", work, o);
        CHECK(mc2_fetch_table(service, refs[0].name, refs[0].key, work, cpath, MC2_FMT_CSV, NULL,
                              &err) == 0);
        if (o == 1) {
            /* bank-a cannot open bank-b's predictions with anything it holds. */
            CHECK(mc2_fetch_table(service, refs[0].name, ida.data_key, work, cpath, MC2_FMT_CSV,
                                  NULL, &err) != 0);
            CHECK(mc2_fetch_table(service, other_obj, refs[0].key, work, cpath, MC2_FMT_CSV, NULL,
                                  &err) != 0);
            CHECK(mc2_fetch_table(service, refs[0].name, refs[0].key, work, cpath, MC2_FMT_CSV,
                                  NULL, &err) == 0);
        }
        snprintf(other_obj, sizeof other_obj, "%s", refs[0].name);
        mc2_wipe(refs, sizeof refs);
        float got[128], want[128];
        size_t n = read_preds(cpath, "score", got, 128);
        CHECK(n == ns[o]);
        CHECK(mc2_gbdt_predict(model, xs[o], ns[o], 5, 0, want, &err) == 0);
        float maxd = 0;
        for (size_t i = 0; i < n && i < ns[o]; i++) maxd = fmaxf(maxd, fabsf(got[i] - want[i]));
        printf("  %s: %zu predictions, max |enclave - local| = %g\n", owners[o]->name, n,
               (double)maxd);
        CHECK(maxd == 0.0f);
    }

    /* ---- bank-b scores its rows with the auditor's model on its own: not without the
     * auditor. The auditor's grant for job pid_ does not carry over to this job. ------------ */
    printf("another party's predict job:\n");
    char *ytext = NULL;
    uint64_t yid = submit_as(&sb, &idb, pin_b, ppr, &ytext);
    CHECK(approve(&sb, yid, ytext, &idb, &err) == 0);
    job_status(&sb, yid, st, sizeof st);
    printf("  bank-b's predict job %llu: %s\n", (unsigned long long)yid, st);
    CHECK(strcmp(st, "waiting: waiting for auditor to approve (model owner)") == 0);
    CHECK(mc2_esession_results(&sb, yid, refs, 4, &nref, &err) != 0 &&
          strstr(err.msg, "has no result"));
    {
        uint8_t ph_[32];
        CHECK(mc2_sha256(ptext, strlen(ptext), ph_, &err) == 0);
        CHECK(mc2_object_grant_sign(idc.sec, ph_, model_name, model_key, sig, &err) == 0);
        /* The auditor's grant made for job pid_, replayed for job yid. */
        rc = grant_raw(&sc, 0, yid, model_name, model_key, sig, &err);
        printf("  the grant for job %llu replayed for job %llu: %s\n", (unsigned long long)pid_,
               (unsigned long long)yid, rc ? err.msg : "ACCEPTED");
        CHECK(rc != 0 && strstr(err.msg, "signature is not auditor's"));
        rc = grant_raw(&sb, 0, yid, model_name, model_key, sig, &err);
        CHECK(rc != 0 && strstr(err.msg, "model owner is auditor, not bank-b"));
        /* Its approval is no grant, and the signature of the approval cannot be one. */
        CHECK(approve(&sc, yid, ytext, &idc, &err) == 0);
        job_status(&sb, yid, st, sizeof st);
        CHECK(strcmp(st, "waiting: waiting for auditor to grant the model key (model owner)") == 0);
    }
    CHECK(mc2_esession_grant_object(&sc, &idc, yid, ytext, strlen(ytext), model_name, model_key,
                                    &err) == 0);
    job_status(&sb, yid, st, sizeof st);
    printf("  after the auditor approved and granted for it: %s\n", st);
    CHECK(strcmp(st, "done: 1 result") == 0);
    CHECK(mc2_esession_results(&sb, yid, refs, 4, &nref, &err) == 0 && nref == 1);
    mc2_wipe(refs, sizeof refs);

    mc2_free(xtext);
    mc2_free(ytext);
    mc2_free(ptext);
    mc2_job_free(&pj);
    mc2_gbdt_model_free(model);
    mc2_buf_free(&c);
    mc2_esession_close(&sa);
    mc2_esession_close(&sb);
    mc2_esession_close(&sc);
    pfix_stop(&fx, SIGTERM);
    mc2_policy_free(pol);
    mc2_identity_free(&ida);
    mc2_identity_free(&idb);
    mc2_identity_free(&idc);
    return test_done("test_platform_gbdt");
}
