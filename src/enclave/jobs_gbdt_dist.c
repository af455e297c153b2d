/* jobs_gbdt_dist.c - TRUSTED: the `train` kind on several ranks (param ranks N >= 2; docs/
 * cluster.md "Distributed jobs", docs/gbdt.md "Distributed training"). Every rank reads its
 * own part of every input (enc_input_open_rank: its host's part, or its range of a whole copy),
 * trains with mc2_gbdt_train_dist over the job's encrypted collectives (the mesh), and ends
 * with the same model; the leader (rank 0) alone releases it, after the transcripts agreed.
 * Refused on several ranks: an eval input, oblivious training, and what mc2_gbdt_dist_ops
 * refuses (AUC, early stopping). */
#include <string.h>

#include "base/alloc.h"
#include "enclave/jobs_gbdt.h"
#include "enclave/meshrt.h"
#include "gbdt/dist.h"
#include "mesh/coll.h"
#include "table/tpart.h"
#include "table/tsrc.h"

/* The parts of a distributed run that the job text fixes. */
static int dist_params(const mc2_job *j, mc2_gbdt_params *p, mc2_err *err)
{
    if (gb_train_params(j, p, err)) return -1;
    if (mc2_job_param(j, "eval"))
        return mc2_err_set(err, MC2_E_INPUT,
                           "a training job on several ranks takes no 'eval' input yet (train "
                           "on one enclave, or drop eval)");
    if (p->oblivious)
        return mc2_err_set(err, MC2_E_INPUT,
                           "oblivious training runs on one enclave only (drop 'ranks' or "
                           "'oblivious')");
    return 0;
}

int enc_train_plan(const mc2_job *j, uint32_t n_ranks, mc2_coll_op *ops, uint32_t cap,
                   uint32_t *n_ops, mc2_err *err)
{
    mc2_gbdt_params p;
    size_t n = 0;
    if (dist_params(j, &p, err)) return -1;
    enum mc2_gbdt_comm_op *g = mc2_calloc(cap ? cap : 1, sizeof *g);
    if (!g) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    /* The call sequence does not depend on the number of features (any d >= 1 will do). */
    int rc = mc2_gbdt_dist_ops(&p, 1, n_ranks, g, cap, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        ops[i] = (mc2_coll_op){g[i] == MC2_GBDT_COMM_ALLREDUCE_F64 ? MC2_COLL_ALLREDUCE_F64
                               : g[i] == MC2_GBDT_COMM_BCAST0      ? MC2_COLL_BCAST
                                                                   : MC2_COLL_GATHER,
                               0};
    if (rc && err->code == MC2_E_LIMIT)
        mc2_err_set(err, MC2_E_LIMIT,
                    "this training needs %zu collective steps on several ranks, more than the "
                    "%u a distributed job may have: fewer rounds or a smaller max_depth",
                    n, cap);
    *n_ops = (uint32_t)n;
    mc2_free(g);
    return rc;
}

int enc_train_plan_check(const mc2_job *j, uint32_t n_ranks, mc2_err *err)
{
    mc2_coll_op *ops = mc2_calloc(ENC_MESH_MAX_KIND_OPS, sizeof *ops);
    uint32_t n = 0;
    if (!ops) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    int rc = enc_train_plan(j, n_ranks, ops, ENC_MESH_MAX_KIND_OPS, &n, err);
    mc2_free(ops);
    return rc;
}

/* ---- the comm over the mesh ------------------------------------------------------------------ */

static int comm_allreduce(void *ctx, double *v, size_t n, mc2_err *err)
{
    return mc2_coll_allreduce_f64(((enc_mesh *)ctx)->coll, v, n, err);
}

static int comm_bcast0(void *ctx, uint8_t **buf, size_t *len, mc2_err *err)
{
    return mc2_coll_bcast(((enc_mesh *)ctx)->coll, buf, len, err);
}

static int comm_gather0(void *ctx, const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
                        mc2_err *err)
{
    return mc2_coll_gather(((enc_mesh *)ctx)->coll, buf, len, out, out_len, err);
}

/* ---- this rank's rows ------------------------------------------------------------------------ */

typedef struct block_range {
    uint64_t first, end;
} block_range;

static bool in_range(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    (void)s;
    const block_range *r = ctx;
    return b >= r->first && b < r->end;
}

/* *out = a copy of s (the reader's dies with it). */
static int schema_copy(const mc2_schema *s, mc2_schema **out, mc2_err *err)
{
    uint8_t *enc = NULL;
    size_t el = 0;
    int bad = mc2_schema_encode(s, &enc, &el, err) || mc2_schema_decode(enc, el, out, err);
    mc2_free(enc);
    return bad ? -1 : 0;
}

/* Appends the rows of rank self's blocks of input `in` to m (schema checked against *ref,
 * which the first input sets). */
static int load_rank_input(enclave *e, const mc2_job_input *in, const char *label_name,
                           const enc_mesh *mesh, mc2_schema **ref, gb_mat *m, mc2_err *err)
{
    enc_input src;
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    int rc = -1, got;
    if (enc_input_open_rank(e, in, mesh->self, mesh->n_ranks, &src, err)) return -1;
    const mc2_thdr *h = mc2_tsrc_header(src.src);
    const mc2_schema *s = h->schema;
    long label = mc2_schema_find(s, label_name);
    if (label < 0) {
        mc2_err_set(err, MC2_E_INPUT, "label column '%.128s' not found in input %s/%s", label_name,
                    in->owner, in->table);
        goto out;
    }
    if (gb_check_schema(s, *ref, label, in, err)) goto out;
    if (!*ref && schema_copy(s, ref, err)) goto out;
    if (m->cap == 0) m->d = s->ncols - 1;
    block_range r;
    mc2_block_range(h->block_count, mesh->self, mesh->n_ranks, &r.first, &r.end);
    r.end += r.first;
    uint64_t rows = 0;
    for (uint64_t k = r.first; k < r.end; k++) rows += mc2_tsrc_block_rows(src.src, k);
    unsigned *cols = mc2_calloc(s->ncols, sizeof *cols);
    if (!cols) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < s->ncols; c++) cols[c] = (unsigned)c;
    rc = gb_mat_grow(e, m, rows, true, err) ||
                 mc2_tscan_open(src.src, cols, s->ncols, 4, in_range, &r, &sc, err) ||
                 !(b = mc2_batch_new(s, h->rows_per_block ? h->rows_per_block : 1, err))
             ? -1
             : 0;
    mc2_free(cols);
    if (rc) goto out;
    rc = -1;
    uint64_t idx;
    while ((got = mc2_tscan_next(sc, b, &idx, err)) == 1)
        if (gb_append_batch(m, b, s, label, in, err)) goto out;
    if (got < 0) {
        mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
        goto out;
    }
    rc = 0;
out:
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    enc_input_close(&src);
    return rc;
}

/* ---- the work at one rank -------------------------------------------------------------------- */

/* What rank 0 keeps for the leader's release (in the job's kstate while the mesh runs). */
typedef struct dist_out {
    mc2_gbdt_model *model;
    mc2_schema *schema;
} dist_out;

int enc_train_run_rank(enclave *e, enc_job *jb, enc_mesh *mesh, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    const char *label = mc2_job_param(j, "label");
    mc2_gbdt_params p;
    gb_mat m = {0};
    mc2_schema *ref = NULL;
    mc2_gbdt_model *model = NULL;
    int rc = -1;
    if (dist_params(j, &p, err)) goto out;
    for (size_t i = 0; i < j->ninputs; i++)
        if (load_rank_input(e, &j->inputs[i], label, mesh, &ref, &m, err)) goto out;
    if (m.n > 0 && gb_check_labels(&p, &m, label, "this rank's training rows", err)) goto out;
    mc2_gbdt_comm comm = {.rank = mesh->self,
                          .n_ranks = mesh->n_ranks,
                          .ctx = mesh,
                          .allreduce_f64 = comm_allreduce,
                          .bcast0 = comm_bcast0,
                          .gather0 = comm_gather0};
    mc2_gbdt_data td = {m.x, m.y, NULL, m.n, m.d};
    enc_job_progress_round(e, 0, p.num_round);
    if (mc2_gbdt_train_dist(&p, &td, &comm, &model, err)) {
        if (err->code == MC2_E_INPUT)
            mc2_err_set(err, MC2_E_INPUT,
                        "the GBDT engine refused the training data (values it cannot use)");
        goto out;
    }
    enc_job_progress_round(e, p.num_round, p.num_round);
    if (mesh->self == 0) {
        dist_out *o = mc2_calloc(1, sizeof *o);
        if (!o) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto out;
        }
        o->model = model;
        o->schema = ref;
        model = NULL;
        ref = NULL;
        jb->kstate = o;
    }
    rc = 0;
out:
    mc2_gbdt_model_free(model);
    gb_mat_free(&m);
    mc2_schema_free(ref);
    return rc;
}

int enc_train_run_dist(enclave *e, enc_job *jb, uint32_t n_ranks, mc2_err *err)
{
    const enc_kind *k = enc_kind_find("train", NULL);
    int rc = enc_mesh_lead(e, jb, k, n_ranks, err);
    dist_out *o = jb->kstate;
    jb->kstate = NULL;
    if (rc == 0 && !o) rc = mc2_err_set(err, MC2_E_INTERNAL, "train: rank 0 kept no model");
    if (rc == 0)
        rc = gb_name_features(o->model, o->schema, mc2_job_param(&jb->job, "label"), err) ||
                     gb_add_model(e, jb, o->model, err)
                 ? -1
                 : 0;
    if (o) {
        mc2_gbdt_model_free(o->model);
        mc2_schema_free(o->schema);
        mc2_free(o);
    }
    return rc;
}
