/* jobs_gbdt_dist.c - TRUSTED: the `train` and `predict` kinds on several ranks (param ranks
 * N >= 2; docs/cluster.md "Distributed jobs", docs/gbdt.md "Distributed training" and
 * "Prediction on several ranks"). Every rank reads its own part of every input
 * (enc_input_open_rank: its host's part, or its range of a whole copy).
 *   train: every rank trains with mc2_gbdt_train_dist over the job's encrypted collectives
 *     (the mesh) and ends with the same model; the leader (rank 0) alone releases it, after
 *     the transcripts agreed. Refused on several ranks: an eval input, oblivious training,
 *     and what mc2_gbdt_dist_ops refuses (AUC, early stopping).
 *   predict: the leader opens the model (its owner's grant for this job) and sends the model
 *     bytes to every rank in the first collective (a bcast over the sealed mesh: workers get
 *     the model, never its key); every rank scores the rows of its blocks of every input
 *     (non-oblivious only) and the predictions are gathered at the leader, which checks each
 *     rank's row counts against the inputs' authenticated footers and writes the same
 *     per-owner tables a one-enclave predict writes (rank order = block order = table
 *     order). Workers write nothing. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
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

int enc_train_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks, mc2_coll_op *ops,
                   uint32_t cap, uint32_t *n_ops, mc2_err *err)
{
    (void)e;
    (void)self;
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
    int rc = enc_train_plan(NULL, j, 0, n_ranks, ops, ENC_MESH_MAX_KIND_OPS, &n, err);
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

/* The rows of rank `self`'s blocks of s (its authenticated footer's block rows). */
static uint64_t rank_rows(const mc2_tsrc *s, uint32_t self, uint32_t n_ranks, block_range *r)
{
    uint64_t rows = 0;
    mc2_block_range(mc2_tsrc_header(s)->block_count, self, n_ranks, &r->first, &r->end);
    r->end += r->first;
    for (uint64_t k = r->first; k < r->end; k++) rows += mc2_tsrc_block_rows(s, k);
    return rows;
}

/* Appends the rows of rank self's blocks of input `in` to m (schema checked against *ref,
 * which the first input sets). label_name NULL: no label (m gets no y). per_rank (may be
 * NULL): gets the rows of every rank's blocks, [0..n_ranks). */
static int load_rank_input(enclave *e, const mc2_job_input *in, const char *label_name,
                           const enc_mesh *mesh, mc2_schema **ref, gb_mat *m, uint64_t *per_rank,
                           mc2_err *err)
{
    enc_input src;
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    int rc = -1, got;
    if (enc_input_open_rank(e, in, mesh->self, mesh->n_ranks, &src, err)) return -1;
    const mc2_thdr *h = mc2_tsrc_header(src.src);
    const mc2_schema *s = h->schema;
    long label = label_name ? mc2_schema_find(s, label_name) : -1;
    if (label_name && label < 0) {
        mc2_err_set(err, MC2_E_INPUT, "label column '%.128s' not found in input %s/%s", label_name,
                    in->owner, in->table);
        goto out;
    }
    if (gb_check_schema(s, *ref, label, in, err)) goto out;
    if (!*ref && schema_copy(s, ref, err)) goto out;
    if (m->cap == 0) m->d = s->ncols - (label >= 0 ? 1 : 0);
    if (m->d == 0) {
        mc2_err_set(err, MC2_E_INPUT, "input %s/%s has no feature column", in->owner, in->table);
        goto out;
    }
    block_range r;
    for (uint32_t k = 0; per_rank && k < mesh->n_ranks; k++)
        per_rank[k] = rank_rows(src.src, k, mesh->n_ranks, &r);
    uint64_t rows = rank_rows(src.src, mesh->self, mesh->n_ranks, &r);
    unsigned *cols = mc2_calloc(s->ncols, sizeof *cols);
    if (!cols) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < s->ncols; c++) cols[c] = (unsigned)c;
    rc = gb_mat_grow(e, m, rows, label >= 0, err) ||
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
        if (load_rank_input(e, &j->inputs[i], label, mesh, &ref, &m, NULL, err)) goto out;
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

/* ---- predict on several ranks ------------------------------------------------------------- */

/* The collectives: the model (bcast from rank 0), the predictions (gather to rank 0). */
int enc_predict_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                     mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err)
{
    (void)e;
    (void)self;
    (void)j;
    (void)n_ranks;
    if (cap < 2) return mc2_err_set(err, MC2_E_LIMIT, "no room for predict's ops");
    ops[0] = (mc2_coll_op){MC2_COLL_BCAST, 0};
    ops[1] = (mc2_coll_op){MC2_COLL_GATHER, 0};
    *n_ops = 2;
    return 0;
}

/* Rank 0's state while the mesh runs (the job's kstate): the opened model it sends, then
 * what the gather brought and the rows each rank must have sent. */
typedef struct pred_dist {
    const mc2_gbdt_model *model;
    uint8_t **parts; /* [n_ranks], malloc'd by the gather */
    size_t *lens;
    uint64_t *want; /* [ninputs * n_ranks] */
} pred_dist;

/* Op 1: the model, from rank 0's (pd) to every rank; a worker's copy is *own. */
static int share_model(const enc_mesh *mesh, const pred_dist *pd, mc2_gbdt_model **own,
                       const mc2_gbdt_model **model, mc2_err *err)
{
    mc2_buf plain = {.secret = 1};
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = -1;
    if (pd) {
        if (mc2_gbdt_model_save(pd->model, &plain, err)) goto out;
        b = plain.data;
        n = plain.len;
    }
    if (mc2_coll_bcast(mesh->coll, &b, &n, err)) goto out;
    if (!pd && mc2_gbdt_model_load(b, n, own, err)) {
        mc2_err_set(err, MC2_E_INPUT, "the model from rank 0 is not a valid GBDT model");
        goto out;
    }
    *model = pd ? pd->model : *own;
    rc = 0;
out:
    if (!pd && b) {
        mc2_wipe(b, n);
        free(b); /* mc2_coll_bcast's copy */
    }
    mc2_buf_free(&plain);
    return rc;
}

/* This rank's rows of input `in`, scored into *out; want (rank 0): every rank's row count. */
static int predict_rank_input(enclave *e, const mc2_job_input *in, const enc_mesh *mesh,
                              const mc2_gbdt_model *model, unsigned nthread, gb_preds *out,
                              uint64_t *want, mc2_err *err)
{
    gb_mat m = {0};
    mc2_schema *ref = NULL;
    int rc = load_rank_input(e, in, NULL, mesh, &ref, &m, want, err) ||
                     gb_predict_input_check(model, m.d, ref, in, err) ||
                     gb_predict_rows(model, &m, nthread, 0, out, err)
                 ? -1
                 : 0;
    mc2_schema_free(ref);
    gb_mat_free(&m);
    return rc;
}

/* This rank's gather bytes: per input, rows u64 | rows x ng float32. */
static int encode_preds(const gb_preds *p, size_t n_inputs, uint32_t ng, mc2_buf *out, mc2_err *err)
{
    for (size_t i = 0; i < n_inputs; i++)
        if (mc2_buf_put_u64(out, p[i].n, err) ||
            mc2_buf_append(out, p[i].v, p[i].n * ng * sizeof(float), err))
            return -1;
    return 0;
}

int enc_predict_run_rank(enclave *e, enc_job *jb, enc_mesh *mesh, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    pred_dist *pd = mesh->self == 0 ? jb->kstate : NULL;
    mc2_gbdt_model *own = NULL;
    const mc2_gbdt_model *model = NULL;
    gb_preds *p = mc2_calloc(j->ninputs ? j->ninputs : 1, sizeof *p);
    mc2_buf enc = {.secret = 1};
    unsigned nthread;
    int rc = -1;
    if (!p) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (mesh->self == 0 && !pd) {
        mc2_err_set(err, MC2_E_INTERNAL, "predict: rank 0 has no model");
        goto out;
    }
    if (gb_predict_nthread(j, &nthread, err) || share_model(mesh, pd, &own, &model, err)) goto out;
    uint32_t ng = mc2_gbdt_model_ngroup(model);
    for (size_t i = 0; i < j->ninputs; i++)
        if (predict_rank_input(e, &j->inputs[i], mesh, model, nthread, &p[i],
                               pd ? pd->want + i * mesh->n_ranks : NULL, err))
            goto out;
    if (encode_preds(p, j->ninputs, ng, &enc, err) ||
        mc2_coll_gather(mesh->coll, enc.data, enc.len, pd ? pd->parts : NULL, pd ? pd->lens : NULL,
                        err))
        goto out;
    rc = 0;
out:
    gb_preds_free(p, j->ninputs);
    mc2_buf_free(&enc);
    mc2_gbdt_model_free(own);
    return rc;
}

/* Rank r's predictions of every input, appended to out[i] at row off[i]. */
static int decode_rank(const uint8_t *part, size_t len, uint32_t r, uint32_t n_ranks,
                       size_t n_inputs, uint32_t ng, const uint64_t *want, gb_preds *out,
                       size_t *off, mc2_err *err)
{
    mc2_rd rd = mc2_rd_init(part, len);
    for (size_t i = 0; i < n_inputs; i++) {
        uint64_t n = mc2_rd_u64(&rd), w = want[i * n_ranks + r];
        if (rd.bad || n != w || w > out[i].n - off[i])
            return mc2_err_set(err, MC2_E_AUTH,
                               "rank %u sent predictions of another number of rows than its "
                               "blocks of input %zu hold",
                               r, i + 1);
        size_t bytes = (size_t)n * ng * sizeof(float); /* <= out[i].cells floats */
        const uint8_t *q = mc2_rd_take(&rd, bytes);
        if (!q)
            return mc2_err_set(err, MC2_E_AUTH, "rank %u's predictions of input %zu are cut short",
                               r, i + 1);
        if (bytes) memcpy(out[i].v + off[i] * ng, q, bytes);
        off[i] += (size_t)n;
    }
    if (mc2_rd_left(&rd))
        return mc2_err_set(err, MC2_E_AUTH, "rank %u sent more than its predictions", r);
    return 0;
}

int enc_predict_decode(const uint8_t *const *part, const size_t *len, uint32_t n_ranks,
                       size_t n_inputs, uint32_t ng, const uint64_t *want, gb_preds *out,
                       mc2_err *err)
{
    size_t *off = mc2_calloc(n_inputs ? n_inputs : 1, sizeof *off);
    int rc = -1;
    if (!off) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n_inputs; i++) {
        uint64_t rows = 0;
        for (uint32_t r = 0; r < n_ranks; r++) rows += want[i * n_ranks + r];
        if (rows > SIZE_MAX || gb_preds_alloc(&out[i], (size_t)rows, ng, err)) {
            if (rows > SIZE_MAX) mc2_err_set(err, MC2_E_LIMIT, "too many predictions");
            goto out;
        }
    }
    for (uint32_t r = 0; r < n_ranks; r++)
        if (!part[r] ||
            decode_rank(part[r], len[r], r, n_ranks, n_inputs, ng, want, out, off, err)) {
            if (!part[r]) mc2_err_set(err, MC2_E_INTERNAL, "no predictions from rank %u", r);
            goto out;
        }
    rc = 0;
out:
    mc2_free(off);
    return rc;
}

int enc_predict_run_dist(enclave *e, enc_job *jb, const mc2_gbdt_model *model, uint32_t n_ranks,
                         mc2_err *err)
{
    size_t ni = jb->job.ninputs;
    pred_dist pd = {.model = model};
    gb_preds *p = mc2_calloc(ni ? ni : 1, sizeof *p);
    pd.parts = mc2_calloc(n_ranks, sizeof *pd.parts);
    pd.lens = mc2_calloc(n_ranks, sizeof *pd.lens);
    pd.want = mc2_calloc(ni ? ni * n_ranks : 1, sizeof *pd.want);
    int rc = -1;
    if (!p || !pd.parts || !pd.lens || !pd.want) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    jb->kstate = &pd;
    rc = enc_mesh_lead(e, jb, enc_kind_find("predict", NULL), n_ranks, err);
    jb->kstate = NULL;
    uint32_t ng = mc2_gbdt_model_ngroup(model);
    if (rc == 0)
        rc = enc_predict_decode((const uint8_t *const *)pd.parts, pd.lens, n_ranks, ni, ng, pd.want,
                                p, err) ||
                     gb_predict_results(e, jb, ng, p, err)
                 ? -1
                 : 0;
out:
    for (uint32_t r = 0; pd.parts && r < n_ranks; r++)
        if (pd.parts[r]) {
            mc2_wipe(pd.parts[r], pd.lens[r]);
            free(pd.parts[r]); /* the gather's */
        }
    mc2_free(pd.parts);
    mc2_free(pd.lens);
    mc2_free(pd.want);
    gb_preds_free(p, ni);
    return rc;
}
