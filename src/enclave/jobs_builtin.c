/* jobs_builtin.c - TRUSTED: job kinds and what they share: reading an input table through
 * the host (authenticated with its owner's key, checked to be the table the job names) and
 * storing sealed results. `rowcount` counts each input's rows (authenticating every block)
 * and produces a result table (input, rows) under a fresh key for the job's recipients; with
 * `param ranks N` (N >= 2) on N enclaves (meshrt.h), each counting its own blocks of every
 * input, summed by one allreduce, the same result written by the leader. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "enclave/enclave.h"
#include "enclave/jobs_gbdt.h"
#include "enclave/jobs_sql.h"
#include "enclave/meshrt.h"
#include "table/tfile2.h"
#include "table/tpart.h"
#include "table/treader.h"
#include "table/tsrc.h"
#include "wire/proto.h"

static const char RESULT_SCHEMA[] = "table: rowcount\n"
                                    "columns:\n"
                                    "  - {name: input, type: VARCHAR(200), nullable: false}\n"
                                    "  - {name: rows, type: INT64, nullable: false}\n";

/* Whether the table the host supplied is the exact upload the job names (and its owners
 * approved): its sealed version, then its random table id. */
static int check_upload(const mc2_thdr *h, const mc2_job_input *in, mc2_err *err)
{
    if (h->table_version != in->version)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the host supplied version %llu of %s/%s but the job names version %llu",
                           (unsigned long long)h->table_version, in->owner, in->table,
                           (unsigned long long)in->version);
    if (memcmp(h->table_id, in->table_id, 16) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "input %s/%s: the host supplied another table than the job names "
                           "(table id differs)",
                           in->owner, in->table);
    return 0;
}

/* A part where the job does not expect one (n == 0), and the part check (n > 0). */
static int part_fits(const enc_input *in, const mc2_tpart_info *pi, uint32_t self, uint32_t n,
                     mc2_err *err)
{
    if (pi->is_part && n == 0)
        return mc2_err_set(err, MC2_E_INPUT,
                           "this host holds only part %u of %u of the table (it was placed on a "
                           "cluster): a job reading it runs on %u ranks (param ranks %u)",
                           pi->part + 1, pi->parts, pi->parts, pi->parts);
    return n ? mc2_tpart_check(in->src, pi, self, n, err) : 0;
}

int enc_open_input(enclave *e, const mc2_job_input *in, mc2_buf *data, mc2_treader **r,
                   mc2_err *err)
{
    char name[300];
    snprintf(name, sizeof name, "tables/%s/%s.mc2t", in->owner, in->table);
    uint8_t key[MC2_KEY_LEN];
    if (enc_party_key(e, in->owner, key, err)) return -1;
    int bad = enc_store_read(e, name, data, err);
    if (!bad) enc_job_progress_input(e, data->len, data->len); /* read whole */
    mc2_tpart_info pi = {0};
    bad = bad || mc2_tpart_head_parse(data->data, data->len, data->len, &pi, err) ||
          part_fits(NULL, &pi, 0, 0, err) ||
          mc2_treader_open_mem(data->data, data->len, key, r, err);
    mc2_wipe(key, sizeof key);
    if (bad) return mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
    if (check_upload(mc2_treader_header(*r), in, err)) {
        mc2_treader_free(*r);
        *r = NULL;
        return -1;
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

/* ---- streaming inputs: mc2_tio over storage requests --------------------------------------- */

/* One begun read: up to ENC_READ_MAX bytes per storage request. */
typedef struct host_read {
    size_t n;
    uint32_t len[64];
    enc_req *r[64];
} host_read;

#define HOST_READ_MAX ((size_t)ENC_READ_MAX * 64)

static void host_abandon(void *ctx, void *h)
{
    enc_input *in = ctx;
    host_read *hr = h;
    if (!hr) return;
    for (size_t i = 0; i < hr->n; i++) enc_store_abandon(in->e, hr->r[i]);
    mc2_free(hr);
}

static int host_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    enc_input *in = ctx;
    *h = NULL;
    if (len > HOST_READ_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "a read of %zu bytes is too large", len);
    host_read *hr = mc2_calloc(1, sizeof *hr);
    if (!hr) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_buf req = {0};
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < len; at += hr->len[hr->n++]) {
        hr->len[hr->n] = (uint32_t)(len - at > ENC_READ_MAX ? ENC_READ_MAX : len - at);
        rc = enc_read_req(in->name, off + at, hr->len[hr->n], &req, err) ||
                     enc_store_begin_into(in->e, EIF_STORE_READ, &req, dst + at, hr->len[hr->n],
                                          &hr->r[hr->n], err)
                 ? -1
                 : 0;
        if (rc) break;
    }
    mc2_buf_free(&req);
    if (rc) {
        host_abandon(ctx, hr);
        return -1;
    }
    *h = hr;
    return 0;
}

static int host_end(void *ctx, void *h, mc2_err *err)
{
    enc_input *in = ctx;
    host_read *hr = h;
    int rc = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < hr->n; i++) {
        enc_req *r = hr->r[i];
        hr->r[i] = NULL;
        if (rc == 0)
            rc = enc_store_end_into(in->e, r, err);
        else
            enc_store_abandon(in->e, r);
        bytes += hr->len[i];
    }
    mc2_free(hr);
    if (rc == 0) enc_job_progress_input(in->e, bytes, 0);
    return rc;
}

int enc_input_open(enclave *e, const mc2_job_input *jin, enc_input *in, mc2_err *err)
{
    return enc_input_open_rank(e, jin, 0, 0, in, err);
}

int enc_input_open_rank(enclave *e, const mc2_job_input *jin, uint32_t self, uint32_t n,
                        enc_input *in, mc2_err *err)
{
    memset(in, 0, sizeof *in);
    in->e = e;
    snprintf(in->name, sizeof in->name, "tables/%s/%s.mc2t", jin->owner, jin->table);
    uint8_t key[MC2_KEY_LEN];
    uint64_t size;
    mc2_tpart_info pi;
    if (enc_party_key(e, jin->owner, key, err)) return -1;
    int rc = enc_store_size(e, in->name, &size, err);
    if (rc == 0) {
        in->hostio = (mc2_tio){in, size, host_begin, host_end, host_abandon};
        enc_job_progress_input(e, 0, size);
        size_t meta = e->budget_bytes < (256ull << 20) ? (size_t)e->budget_bytes : 256u << 20;
        rc = mc2_tio_part(&in->hostio, &in->io, &pi, &in->part, err) ||
             mc2_tsrc_open(&in->io, key, meta, &in->src, err) || part_fits(in, &pi, self, n, err);
    }
    mc2_wipe(key, sizeof key);
    if (rc) {
        enc_input_close(in);
        return mc2_err_prefix(err, "input %s/%s: ", jin->owner, jin->table);
    }
    if (check_upload(mc2_tsrc_header(in->src), jin, err)) {
        enc_input_close(in);
        return -1;
    }
    return 0;
}

void enc_input_close(enc_input *in)
{
    mc2_tsrc_free(in->src);
    in->src = NULL;
    mc2_tio_part_free(in->part);
    in->part = NULL;
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

/* ---- results streamed to the host ----------------------------------------------------------- */

/* Sealed bytes per put: the request (name, flag, bytes) then fits 8 MiB, and so do the
 * buffers, which grow by doubling. */
#define RW_CHUNK ((size_t)ENC_READ_MAX - 4096)

struct enc_rwriter {
    enclave *e;
    enc_job *j;
    int party;
    char name[sizeof((enc_result *)0)->name];
    uint8_t key[MC2_KEY_LEN];
    mc2_twriter *tw;
    uint32_t rows;   /* rows per block */
    mc2_batch *part; /* a block's rows copied out of a larger batch */
    mc2_buf pending; /* sealed bytes not sent yet: less than RW_CHUNK */
    mc2_buf req;     /* the put request being built */
    enc_req *inflight;
    bool sent;     /* a put went out: the host holds an unfinished object */
    bool finished; /* committed and added to the job */
};

/* Waits for the put in flight, if any. */
static int rw_wait(enc_rwriter *w, mc2_err *err)
{
    enc_req *r = w->inflight;
    w->inflight = NULL;
    return r ? enc_store_end(w->e, r, NULL, err) : 0;
}

/* Sends the pending bytes as one put (the previous one acknowledged first). */
static int rw_send(enc_rwriter *w, bool last, mc2_err *err)
{
    if (rw_wait(w, err) || enc_put_begin(w->e, w->name, w->pending.data, w->pending.len, last,
                                         &w->req, &w->inflight, err))
        return -1;
    w->sent = true;
    mc2_buf_reset(&w->pending);
    return 0;
}

/* The table writer's sink: bytes are gathered into puts of RW_CHUNK bytes. */
static int rw_sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    enc_rwriter *w = ctx;
    while (n > 0) {
        size_t take = RW_CHUNK - w->pending.len;
        if (take > n) take = n;
        if (mc2_buf_append(&w->pending, p, take, err)) return -1;
        p += take;
        n -= take;
        if (w->pending.len == RW_CHUNK && rw_send(w, false, err)) return -1;
    }
    return 0;
}

int enc_rwriter_begin(enclave *e, enc_job *j, int party, const char *suffix, const mc2_schema *s,
                      enc_rwriter **out, mc2_err *err)
{
    *out = NULL;
    if (j->nresults >= ENC_MAX_RESULTS)
        return mc2_err_set(err, MC2_E_INTERNAL, "too many results for one job");
    enc_rwriter *w = mc2_calloc(1, sizeof *w);
    if (!w) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    w->e = e;
    w->j = j;
    w->party = party;
    char sfx[64];
    snprintf(sfx, sizeof sfx, "%s.mc2t", suffix);
    enc_result_name(e, j, sfx, w->name, sizeof w->name);
    w->rows = mc2_t2_rows_per_block(s);
    if (mc2_random(w->key, sizeof w->key, err) ||
        mc2_twriter_new(s, w->key, 0, rw_sink, w, &w->tw, err)) {
        enc_rwriter_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

uint32_t enc_rwriter_rows(const enc_rwriter *w)
{
    return w->rows;
}

int enc_rwriter_add(enc_rwriter *w, const mc2_batch *b, mc2_err *err)
{
    if (b->nrows <= w->rows) return mc2_twriter_add(w->tw, b, err);
    if (!w->part && !(w->part = mc2_batch_new(b->schema, w->rows, err))) return -1;
    for (size_t at = 0; at < b->nrows; at += w->rows) {
        size_t n = b->nrows - at < w->rows ? b->nrows - at : w->rows;
        if (mc2_batch_copy_rows(w->part, b, at, n, err) || mc2_twriter_add(w->tw, w->part, err))
            return -1;
    }
    return 0;
}

int enc_rwriter_finish(enc_rwriter *w, mc2_err *err)
{
    enc_job *j = w->j;
    if (mc2_twriter_finish(w->tw, NULL, NULL, err) || rw_send(w, true, err) || rw_wait(w, err))
        return -1;
    if (j->nresults >= ENC_MAX_RESULTS)
        return mc2_err_set(err, MC2_E_INTERNAL, "too many results for one job");
    enc_result *res = &j->results[j->nresults++];
    snprintf(res->name, sizeof res->name, "%s", w->name);
    memcpy(res->key, w->key, MC2_KEY_LEN);
    res->party = w->party;
    w->finished = true;
    return 0;
}

void enc_rwriter_free(enc_rwriter *w)
{
    if (!w) return;
    if (!w->finished) {
        /* The put in flight, if any, reaches the host before the drop (one channel, in
         * order): the host abandons the whole unfinished object. */
        enc_store_abandon(w->e, w->inflight);
        if (w->sent) enc_store_drop(w->e, w->name);
    }
    mc2_wipe(w->key, sizeof w->key);
    mc2_twriter_free(w->tw);
    mc2_batch_free(w->part);
    mc2_buf_free(&w->pending);
    mc2_buf_free(&w->req);
    mc2_free(w);
}

int enc_add_table_result(enclave *e, enc_job *j, int party, const char *suffix, const mc2_batch *b,
                         mc2_err *err)
{
    enc_rwriter *w;
    if (enc_rwriter_begin(e, j, party, suffix, b->schema, &w, err)) return -1;
    int rc = enc_rwriter_add(w, b, err) || enc_rwriter_finish(w, err) ? -1 : 0;
    enc_rwriter_free(w);
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

/* rowcount decodes every block with the batch decoder, which branches on the data: it is
 * not an oblivious job, so a table the policy lists in oblivious_tables is refused. Its
 * parameters: `ranks` and `mesh_timeout_s` (a distributed count, meshrt.h), cpu_seconds. */
static int rowcount_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    if (j->ninputs == 0) return mc2_err_set(err, MC2_E_INPUT, "rowcount needs at least one input");
    for (size_t i = 0; i < j->nparams; i++)
        if (!enc_param_generic(j->param_key[i]) && !enc_mesh_param(j->param_key[i]))
            return mc2_err_set(err, MC2_E_INPUT,
                               "rowcount takes only the parameters ranks and mesh_timeout_s "
                               "(got '%s')",
                               j->param_key[i]);
    if (enc_mesh_check_params(j, err)) return -1;
    if (enc_job_requires_oblivious(e, j, err))
        return mc2_err_prefix(err, "rowcount is not an oblivious job kind (count with mc2 sql "
                                   "--oblivious instead): ");
    return 0;
}

/* The result table: one row (input, rows) per input, then (total, sum). */
static int rowcount_result(enclave *e, enc_job *j, const uint64_t *rows, mc2_err *err)
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
        uint64_t n = i < j->job.ninputs ? rows[i] : total;
        if (i < j->job.ninputs)
            snprintf(label, sizeof label, "%s/%s", j->job.inputs[i].owner, j->job.inputs[i].table);
        else
            snprintf(label, sizeof label, "total");
        total += i < j->job.ninputs ? n : 0;
        size_t len = strlen(label);
        if (mc2_batch_reserve_chars(b, 0, len, err)) goto out;
        mc2_col *c = &b->cols[0];
        memcpy(c->data + c->off[b->nrows], label, len);
        c->off[b->nrows + 1] = c->off[b->nrows] + (uint32_t)len;
        b->cols[1].v.i64[b->nrows] = (int64_t)n;
        b->nrows++;
    }
    rc = enc_add_table_result(e, j, -1, "rowcount", b, err);
out:
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}

/* Distributed: one allreduce of the per-input counts. */
static int rowcount_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                         mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err)
{
    (void)e;
    (void)self;
    (void)j;
    (void)n_ranks;
    if (cap < 1) return mc2_err_set(err, MC2_E_LIMIT, "no room for rowcount's op");
    ops[0] = (mc2_coll_op){MC2_COLL_ALLREDUCE_I64, 0};
    *n_ops = 1;
    return 0;
}

static bool in_range(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    (void)s;
    const uint64_t *r = ctx; /* first, count */
    return b >= r[0] && b - r[0] < r[1];
}

/* The rows in this rank's blocks of input jin (enc_mesh_block_range), every one of those
 * blocks read, authenticated and decoded. */
static int count_range(enclave *e, const mc2_job_input *jin, const enc_mesh *m, int64_t *rows,
                       mc2_err *err)
{
    enc_input in;
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    uint64_t range[2], got = 0, idx;
    int rc = -1, more;
    if (enc_input_open_rank(e, jin, m->self, m->n_ranks, &in, err)) return -1;
    const mc2_thdr *h = mc2_tsrc_header(in.src);
    enc_mesh_block_range(h->block_count, m->self, m->n_ranks, &range[0], &range[1]);
    unsigned cols[MC2_MAX_COLUMNS];
    for (size_t c = 0; c < h->schema->ncols; c++) cols[c] = (unsigned)c;
    if (mc2_tscan_open(in.src, cols, h->schema->ncols, 4, in_range, range, &sc, err) ||
        !(b = mc2_batch_new(h->schema, h->rows_per_block, err)))
        goto out;
    int64_t n = 0;
    while ((more = mc2_tscan_next(sc, b, &idx, err)) == 1) {
        n += (int64_t)b->nrows;
        got++;
    }
    if (more == 0 && got != range[1])
        mc2_err_set(err, MC2_E_INTERNAL, "read %llu of this rank's %llu blocks",
                    (unsigned long long)got, (unsigned long long)range[1]);
    else if (more == 0) {
        *rows = n;
        rc = 0;
    }
out:
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    enc_input_close(&in);
    if (rc) mc2_err_prefix(err, "input %s/%s: ", jin->owner, jin->table);
    return rc;
}

/* Every rank counts its blocks of every input; the allreduce sums them; rank 0 keeps the
 * sums in j->kstate (int64_t[ninputs], the leader's rowcount_run). */
static int rowcount_rank(enclave *e, enc_job *j, enc_mesh *m, mc2_err *err)
{
    int64_t v[MC2_JOB_MAX_INPUTS] = {0};
    for (size_t i = 0; i < j->job.ninputs; i++)
        if (count_range(e, &j->job.inputs[i], m, &v[i], err)) return -1;
    if (mc2_coll_allreduce_i64(m->coll, v, j->job.ninputs, err)) return -1;
    if (m->self == 0 && j->kstate) memcpy(j->kstate, v, j->job.ninputs * sizeof v[0]);
    return 0;
}

static int rowcount_run(enclave *e, enc_job *j, mc2_err *err)
{
    uint64_t rows[MC2_JOB_MAX_INPUTS] = {0};
    int64_t sums[MC2_JOB_MAX_INPUTS] = {0};
    uint32_t n;
    if (enc_mesh_ranks(&j->job, &n, err)) return -1;
    if (n < 2) {
        for (size_t i = 0; i < j->job.ninputs; i++)
            if (count_rows(e, &j->job.inputs[i], &rows[i], err)) return -1;
        return rowcount_result(e, j, rows, err);
    }
    j->kstate = sums;
    int rc = enc_mesh_lead(e, j, enc_kind_find("rowcount", NULL), n, err);
    j->kstate = NULL;
    if (rc) return -1;
    for (size_t i = 0; i < j->job.ninputs; i++) rows[i] = (uint64_t)sums[i];
    return rowcount_result(e, j, rows, err);
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
    {.name = "rowcount",
     .check = rowcount_check,
     .run = rowcount_run,
     .plan = rowcount_plan,
     .run_rank = rowcount_rank},
    {.name = "sql", /* jobs_sql.c, jobs_sql_dist.c */
     .check = enc_sql_check,
     .run = enc_sql_run,
     .plan = enc_sql_plan,
     .run_rank = enc_sql_run_rank},
    {.name = "train", /* jobs_gbdt.c, jobs_gbdt_dist.c */
     .check = enc_train_check,
     .run = enc_train_run,
     .plan = enc_train_plan,
     .run_rank = enc_train_run_rank},
    {.name = "predict", /* jobs_gbdt.c, jobs_gbdt_dist.c */
     .check = enc_predict_check,
     .run = enc_predict_run,
     .plan = enc_predict_plan,
     .run_rank = enc_predict_run_rank},
    {.name = "fedavg", /* jobs_fl.c */
     .check = enc_fl_check,
     .run = enc_fl_run,
     .ready = enc_fl_ready,
     .request = enc_fl_request,
     .release = enc_fl_release,
     .member = enc_fl_member},
};

const enc_kind *enc_kind_find(const char *name, const char **names)
{
    if (names) *names = "rowcount, sql, train, predict, fedavg";
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].name, name) == 0) return &KINDS[i];
    return NULL;
}
