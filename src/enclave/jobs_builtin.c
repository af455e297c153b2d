/* jobs_builtin.c - TRUSTED: the built-in job kinds. `rowcount` reads every input table
 * through the host, authenticates each block with its owner's key, checks the table is the
 * one the job names (table id), and produces a result table (input, rows) sealed under a
 * fresh per-job key that only the job's recipients can obtain. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "enclave/enclave.h"
#include "table/tmem.h"
#include "table/treader.h"

static const char RESULT_SCHEMA[] = "table: rowcount\n"
                                    "columns:\n"
                                    "  - {name: input, type: VARCHAR(200), nullable: false}\n"
                                    "  - {name: rows, type: INT64, nullable: false}\n";

/* Counts the rows of input i, authenticating every block. */
static int count_rows(enclave *e, const mc2_job_input *in, uint64_t *rows, mc2_err *err)
{
    char name[300];
    snprintf(name, sizeof name, "tables/%s/%s.mc2t", in->owner, in->table);
    const mc2_party *p = mc2_policy_party(e->policy, in->owner);
    size_t pi = (size_t)(p - e->policy->parties);
    mc2_buf data = {0};
    mc2_treader *r = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (enc_store_read(e, name, &data, err)) {
        mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
        goto out;
    }
    if (mc2_treader_open_mem(data.data, data.len, e->keys[pi], &r, err)) {
        mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
        goto out;
    }
    if (memcmp(mc2_treader_header(r)->table_id, in->table_id, 16) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "input %s/%s: the host supplied another table than the job names (table id "
                    "differs)",
                    in->owner, in->table);
        goto out;
    }
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

int enc_run_job(enclave *e, enc_job *j, mc2_err *err)
{
    int rc = -1;
    mc2_schema *s = NULL;
    mc2_batch *b = NULL;
    mc2_buf out = {0};
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
    if (mc2_random(j->result_key, sizeof j->result_key, err)) goto out;
    if (mc2_table_seal_batch(b, j->result_key, &out, err)) goto out;
    snprintf(j->result_name, sizeof j->result_name, "results/job-%llu.mc2t",
             (unsigned long long)j->id);
    if (enc_store_put(e, j->result_name, out.data, out.len, err)) goto out;
    rc = 0;
out:
    mc2_buf_free(&out);
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}
