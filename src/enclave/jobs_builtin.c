/* jobs_builtin.c - TRUSTED: job kinds and what they share: reading an input table through
 * the host (authenticated with its owner's key, checked to be the table the job names) and
 * storing sealed results. `rowcount` counts each input's rows (authenticating every block)
 * and produces a result table (input, rows) under a fresh key for the job's recipients. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "enclave/enclave.h"
#include "table/tmem.h"
#include "table/treader.h"

static const char RESULT_SCHEMA[] = "table: rowcount\n"
                                    "columns:\n"
                                    "  - {name: input, type: VARCHAR(200), nullable: false}\n"
                                    "  - {name: rows, type: INT64, nullable: false}\n";

int enc_open_input(enclave *e, const mc2_job_input *in, mc2_buf *data, mc2_treader **r,
                   mc2_err *err)
{
    char name[300];
    snprintf(name, sizeof name, "tables/%s/%s.mc2t", in->owner, in->table);
    uint8_t key[MC2_KEY_LEN];
    if (enc_party_key(e, in->owner, key, err)) return -1;
    int bad = enc_store_read(e, name, data, err) ||
              mc2_treader_open_mem(data->data, data->len, key, r, err);
    mc2_wipe(key, sizeof key);
    if (bad) return mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
    /* The exact upload the owner approved: its sealed version, then its random table id. */
    uint64_t version = mc2_treader_header(*r)->table_version;
    if (version != in->version) {
        mc2_treader_free(*r);
        *r = NULL;
        return mc2_err_set(err, MC2_E_AUTH,
                           "the host supplied version %llu of %s/%s but the job names version %llu",
                           (unsigned long long)version, in->owner, in->table,
                           (unsigned long long)in->version);
    }
    if (memcmp(mc2_treader_header(*r)->table_id, in->table_id, 16) != 0) {
        mc2_treader_free(*r);
        *r = NULL;
        return mc2_err_set(err, MC2_E_AUTH,
                           "input %s/%s: the host supplied another table than the job names "
                           "(table id differs)",
                           in->owner, in->table);
    }
    return 0;
}

int enc_party_key(enclave *e, const char *owner, uint8_t key[MC2_KEY_LEN], mc2_err *err)
{
    const mc2_party *p = mc2_policy_party(e->policy, owner);
    if (!p) return mc2_err_set(err, MC2_E_AUTH, "'%s' is not a party", owner);
    size_t pi = (size_t)(p - e->policy->parties);
    if (e->runner_started) pthread_mutex_lock(&e->mu);
    bool has = e->has_key[pi];
    memcpy(key, e->keys[pi], MC2_KEY_LEN);
    if (e->runner_started) pthread_mutex_unlock(&e->mu);
    if (!has) return mc2_err_set(err, MC2_E_AUTH, "%s has not granted its data key", owner);
    return 0;
}

void enc_result_name(const enclave *e, const enc_job *j, const char *suffix, char *out, size_t cap)
{
    char inst[17];
    mc2_hex_encode(e->instance, 8, inst);
    snprintf(out, cap, "results/job-%llu-%s-%s", (unsigned long long)j->id, inst, suffix);
}

int enc_add_result(enclave *e, enc_job *j, int party, const char *suffix, const uint8_t *bytes,
                   size_t n, const uint8_t key[MC2_KEY_LEN], mc2_err *err)
{
    if (j->nresults >= ENC_MAX_RESULTS)
        return mc2_err_set(err, MC2_E_INTERNAL, "too many results for one job");
    enc_result *res = &j->results[j->nresults];
    enc_result_name(e, j, suffix, res->name, sizeof res->name);
    if (enc_store_put(e, res->name, bytes, n, true, err)) return -1;
    memcpy(res->key, key, MC2_KEY_LEN);
    res->party = party;
    j->nresults++;
    return 0;
}

int enc_add_table_result(enclave *e, enc_job *j, int party, const char *suffix, const mc2_batch *b,
                         mc2_err *err)
{
    uint8_t key[MC2_KEY_LEN];
    mc2_buf out = {0};
    char name[64];
    snprintf(name, sizeof name, "%s.mc2t", suffix);
    int rc = mc2_random(key, sizeof key, err) || mc2_table_seal_batch(b, key, &out, err) ||
                     enc_add_result(e, j, party, name, out.data, out.len, key, err)
                 ? -1
                 : 0;
    mc2_wipe(key, sizeof key);
    mc2_buf_free(&out);
    return rc;
}

/* ---- rowcount ----------------------------------------------------------------------------- */

/* Counts the rows of one input, authenticating every block. */
static int count_rows(enclave *e, const mc2_job_input *in, uint64_t *rows, mc2_err *err)
{
    mc2_buf data = {0};
    mc2_treader *r = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (enc_open_input(e, in, &data, &r, err)) goto out;
    b = mc2_treader_batch_new(r, err);
    if (!b) goto out;
    uint64_t n = 0;
    int got;
    while ((got = mc2_treader_next(r, b, NULL, err)) == 1) n += b->nrows;
    if (got < 0) {
        mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
        goto out;
    }
    *rows = n;
    rc = 0;
out:
    mc2_batch_free(b);
    mc2_treader_free(r);
    mc2_buf_free(&data);
    return rc;
}

static int rowcount_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    (void)e;
    if (j->ninputs == 0) return mc2_err_set(err, MC2_E_INPUT, "rowcount needs at least one input");
    for (size_t i = 0; i < j->nparams; i++)
        if (!enc_param_generic(j->param_key[i]))
            return mc2_err_set(err, MC2_E_INPUT, "rowcount takes no parameters (got '%s')",
                               j->param_key[i]);
    return 0;
}

static int rowcount_run(enclave *e, enc_job *j, mc2_err *err)
{
    int rc = -1;
    mc2_schema *s = NULL;
    mc2_batch *b = NULL;
    if (mc2_schema_parse("rowcount result", RESULT_SCHEMA, sizeof RESULT_SCHEMA - 1, &s, err))
        goto out;
    b = mc2_batch_new(s, j->job.ninputs + 1, err);
    if (!b) goto out;
    uint64_t total = 0;
    for (size_t i = 0; i <= j->job.ninputs; i++) {
        char label[260];
        uint64_t rows;
        if (i < j->job.ninputs) {
            if (count_rows(e, &j->job.inputs[i], &rows, err)) goto out;
            snprintf(label, sizeof label, "%s/%s", j->job.inputs[i].owner, j->job.inputs[i].table);
            total += rows;
        } else {
            snprintf(label, sizeof label, "total");
            rows = total;
        }
        size_t len = strlen(label);
        if (mc2_batch_reserve_chars(b, 0, len, err)) goto out;
        mc2_col *c = &b->cols[0];
        memcpy(c->data + c->off[b->nrows], label, len);
        c->off[b->nrows + 1] = c->off[b->nrows] + (uint32_t)len;
        b->cols[1].v.i64[b->nrows] = (int64_t)rows;
        b->nrows++;
    }
    rc = enc_add_table_result(e, j, -1, "rowcount", b, err);
out:
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}

int enc_job_requires_oblivious(const enclave *e, const mc2_job *j, mc2_err *err)
{
    for (size_t i = 0; i < j->ninputs; i++)
        if (mc2_policy_requires_oblivious(e->policy, j->inputs[i].owner, j->inputs[i].table))
            return mc2_err_set(err, MC2_E_INPUT,
                               "the consortium policy lets only oblivious jobs read %s/%s: "
                               "run it in oblivious mode (mc2 sql --oblivious, oblivious: 1)",
                               j->inputs[i].owner, j->inputs[i].table);
    return 0;
}

/* ---- the registry ------------------------------------------------------------------------- */

static const enc_kind KINDS[] = {
    {"rowcount", rowcount_check, rowcount_run},
    {"sql", enc_sql_check, enc_sql_run},             /* jobs_sql.c */
    {"train", enc_train_check, enc_train_run},       /* jobs_gbdt.c */
    {"predict", enc_predict_check, enc_predict_run}, /* jobs_gbdt.c */
};

const enc_kind *enc_kind_find(const char *name, const char **names)
{
    if (names) *names = "rowcount, sql, train, predict";
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].name, name) == 0) return &KINDS[i];
    return NULL;
}
