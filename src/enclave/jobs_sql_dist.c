/* jobs_sql_dist.c - TRUSTED: the `sql` kind on several ranks (param ranks N >= 2; docs/cluster.md
 * "Distributed SQL", docs/sql-exec.md "Distributed execution"). Every rank opens its share of
 * every input (enc_input_open_rank: its host's part, or its block range of a whole copy),
 * compiles the query from the job text and the inputs' authenticated headers (the same
 * schemas and row counts at every rank, so the same plan), places the exchanges
 * (sql/dist.h) and runs them over the mesh's encrypted collectives; rank 0 then runs what is
 * left of the plan and streams the result to its host, finished only after the mesh's
 * finish step agreed (enc_sql_run_dist). Encryption mode only (enc_sql_check refuses
 * oblivious jobs on several ranks). */
#include <string.h>

#include "base/alloc.h"
#include "enclave/jobs_sql.h"
#include "enclave/meshrt.h"
#include "sql/dist.h"
#include "sql/planner.h"

/* One rank's compiled query. */
typedef struct rank_query {
    size_t n;
    char names[MC2_JOB_MAX_INPUTS][MC2_TABLE_NAME_MAX + 1];
    enc_input srcs[MC2_JOB_MAX_INPUTS];
    mc2_exec_input inputs[MC2_JOB_MAX_INPUTS];
    mc2_plan *plan;
    mc2_pnode *root;
    mc2_dist *dist;
} rank_query;

static void rank_query_free(rank_query *q)
{
    mc2_dist_free(q->dist);
    mc2_plan_free(q->plan);
    for (size_t i = 0; i < q->n; i++) enc_input_close(&q->srcs[i]);
    memset(q, 0, sizeof *q);
}

/* Opens this rank's share of the inputs, compiles the query and places its exchanges. */
static int rank_compile(enclave *e, const mc2_job *job, uint32_t self, uint32_t n_ranks,
                        rank_query *q, mc2_err *err)
{
    mc2_sql_table tables[MC2_JOB_MAX_INPUTS];
    const char *text = mc2_job_param(job, "query");
    memset(q, 0, sizeof *q);
    if (!text) return mc2_err_set(err, MC2_E_INPUT, "an sql job needs the parameter 'query'");
    if (enc_sql_input_names(job, q->names, err)) return -1;
    for (size_t i = 0; i < job->ninputs; i++) {
        if (enc_input_open_rank(e, &job->inputs[i], self, n_ranks, &q->srcs[i], err)) goto fail;
        q->n = i + 1;
        const mc2_thdr *h = mc2_tsrc_header(q->srcs[i].src);
        q->inputs[i] = (mc2_exec_input){.src = q->srcs[i].src, .ranged = true};
        enc_mesh_block_range(h->block_count, self, n_ranks, &q->inputs[i].first_block,
                             &q->inputs[i].nblocks);
        tables[i] = (mc2_sql_table){q->names[i], h->schema, h->row_count};
    }
    mc2_sql_physical ph;
    if (!(q->plan = mc2_plan_new(64u << 20, err)) ||
        mc2_sql_compile(text, strlen(text), tables, q->n, q->plan, &ph, err))
        goto fail;
    if (ph.explain) {
        mc2_err_set(err, MC2_E_INPUT, "EXPLAIN runs on one enclave: drop the parameter 'ranks'");
        goto fail;
    }
    q->root = ph.root;
    if (mc2_dist_prepare(q->plan, &q->root, q->n, self, n_ranks, &q->dist, err)) goto fail;
    return 0;
fail:
    rank_query_free(q);
    return -1;
}

/* The query the plan hook compiled at this rank, kept for run_rank, which follows it on the
 * same runner thread for the same job (the runner runs one job at a time): the inputs are
 * opened and the query compiled once. Forgotten by the next plan, by run_rank, and by the
 * leader's run when its mesh is over. */
static struct {
    bool set;
    const mc2_job *job;
    uint32_t self, n_ranks;
    rank_query q;
} kept;

static void kept_drop(void)
{
    if (kept.set) rank_query_free(&kept.q);
    kept.set = false;
}

int enc_sql_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks, mc2_coll_op *ops,
                 uint32_t cap, uint32_t *n_ops, mc2_err *err)
{
    size_t n = 0;
    kept_drop();
    enum mc2_dist_coll *c = mc2_calloc(cap ? cap : 1, sizeof *c);
    if (!c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (rank_compile(e, j, self, n_ranks, &kept.q, err)) {
        mc2_free(c);
        return -1;
    }
    kept.set = true;
    kept.job = j;
    kept.self = self;
    kept.n_ranks = n_ranks;
    int rc = mc2_dist_colls(kept.q.dist, c, cap, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        ops[i] = (mc2_coll_op){
            c[i] == MC2_DIST_ALLREDUCE_I64 ? MC2_COLL_ALLREDUCE_I64 : MC2_COLL_ALLTOALLV, 0};
    *n_ops = (uint32_t)n;
    if (rc) kept_drop();
    mc2_free(c);
    return rc;
}

/* ---- the transport: the mesh's collectives ---------------------------------------------- */

static int coll_alltoallv(void *ctx, const uint8_t *const *send, const size_t *send_len,
                          uint8_t **recv, size_t *recv_len, mc2_err *err)
{
    return mc2_coll_alltoallv(ctx, send, send_len, recv, recv_len, err);
}

static int coll_allreduce(void *ctx, int64_t *v, size_t n, mc2_err *err)
{
    return mc2_coll_allreduce_i64(ctx, v, n, err);
}

/* ---- the run ------------------------------------------------------------------------------ */

int enc_sql_run_rank(enclave *e, enc_job *j, enc_mesh *m, mc2_err *err)
{
    rank_query q;
    enc_sql_spill hs;
    mc2_exec *x = NULL;
    unsigned th;
    const mc2_exec_input *all;
    size_t nall;
    if (kept.set && kept.job == &j->job && kept.self == m->self && kept.n_ranks == m->n_ranks) {
        q = kept.q; /* taken over */
        kept.set = false;
    } else {
        kept_drop();
        if (rank_compile(e, &j->job, m->self, m->n_ranks, &q, err)) return -1;
    }
    if (enc_sql_threads(e, &j->job, &th, err)) {
        rank_query_free(&q);
        return -1;
    }
    enc_sql_spill_init(&hs, e, j);
    mc2_exec_opts opts = {
        .mem_budget = (size_t)(e->budget_bytes / 2), .spill = &hs.store, .threads = th};
    mc2_dist_comm c = {.ctx = m->coll,
                       .self = m->self,
                       .n_ranks = m->n_ranks,
                       .alltoallv = coll_alltoallv,
                       .allreduce_i64 = coll_allreduce};
    int rc = mc2_dist_run(q.dist, &c, q.inputs, q.n, &opts, &all, &nall, err);
    if (rc == 0 && m->self == 0) {
        enc_sql_out *out = j->kstate; /* rank 0's: the result being written */
        rc = mc2_exec_open(q.plan, q.root, all, nall, &opts, &x, err) ||
                     enc_sql_out_begin(e, j, mc2_pn_schema(q.root), out, err) ||
                     enc_sql_out_rows(out, x, NULL, err)
                 ? -1
                 : 0;
    }
    mc2_exec_free(x);
    rank_query_free(&q);
    enc_sql_spill_free(&hs);
    return rc;
}

int enc_sql_run_dist(enclave *e, enc_job *j, uint32_t n_ranks, mc2_err *err)
{
    enc_sql_out out = {0};
    j->kstate = &out;
    int rc = enc_mesh_lead(e, j, enc_kind_find("sql", NULL), n_ranks, err);
    j->kstate = NULL;
    kept_drop(); /* a mesh that failed before run_rank left it */
    if (rc == 0 && !out.w) rc = mc2_err_set(err, MC2_E_INTERNAL, "rank 0 wrote no result");
    if (rc == 0) rc = enc_sql_out_finish(&out, err); /* released only now */
    enc_sql_out_free(&out);                          /* unfinished: dropped at the host */
    return rc;
}
