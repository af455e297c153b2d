/* jobs_sql.h - TRUSTED, internal to the `sql` job kind: what the single-enclave run
 * (jobs_sql.c) and the run on several ranks (jobs_sql_dist.c) share. */
#ifndef MC2_ENCLAVE_JOBS_SQL_H
#define MC2_ENCLAVE_JOBS_SQL_H

#include "base/buf.h"
#include "enclave/enclave.h"
#include "sql/plan.h"

struct enc_mesh;
struct mc2_coll_op;

/* The SQL names of the job's inputs: from `names`, else the table names. */
int enc_sql_input_names(const mc2_job *j, char names[][MC2_TABLE_NAME_MAX + 1],
                        mc2_err *err) MC2_WUR;
/* The job's `threads` (1..64), else every CPU the enclave may use. */
int enc_sql_threads(const enclave *e, const mc2_job *j, unsigned *out, mc2_err *err) MC2_WUR;

/* Spilling through the host: sealed runs stored as spill/job-<id>-<n> objects. */
typedef struct enc_sql_spill {
    enclave *e;
    enc_job *j;
    mc2_buf got; /* the last object read back */
    mc2_spill_store store;
} enc_sql_spill;
void enc_sql_spill_init(enc_sql_spill *h, enclave *e, enc_job *j);
void enc_sql_spill_free(enc_sql_spill *h);

/* The job's result "result", written block by block: begin with the rows' schema s, add
 * the rows of x (encryption mode) or the batch rows (oblivious mode), then finish (only
 * then does the result exist at the host: a writer freed unfinished is dropped there). */
typedef struct enc_sql_out {
    enc_rwriter *w;
    mc2_schema *named;
} enc_sql_out;
int enc_sql_out_begin(enclave *e, enc_job *j, const mc2_schema *s, enc_sql_out *o,
                      mc2_err *err) MC2_WUR;
int enc_sql_out_rows(enc_sql_out *o, mc2_exec *x, const mc2_batch *rows, mc2_err *err) MC2_WUR;
int enc_sql_out_finish(enc_sql_out *o, mc2_err *err) MC2_WUR;
void enc_sql_out_free(enc_sql_out *o);

/* Several ranks (jobs_sql_dist.c; docs/cluster.md, "Distributed SQL"): the kind's plan and
 * run_rank hooks, and the leader's run of a job with `param ranks N`, N >= 2. */
int enc_sql_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                 struct mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err) MC2_WUR;
int enc_sql_run_rank(enclave *e, enc_job *j, struct enc_mesh *m, mc2_err *err) MC2_WUR;
int enc_sql_run_dist(enclave *e, enc_job *j, uint32_t n_ranks, mc2_err *err) MC2_WUR;

#endif
