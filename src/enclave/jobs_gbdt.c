/* jobs_gbdt.c - TRUSTED: the gradient-boosted-tree job kinds (docs/gbdt.md, "Platform").
 *
 *   train    inputs: tables of one schema from one or more owners (rows concatenated);
 *            params: label COLUMN, eval OWNER/TABLE (optional: one of the inputs, used only
 *            for per-round metrics), and GBDT parameters (mc2_gbdt_params_set; eval_metric
 *            may list several metrics separated by commas).
 *            results, for the job's recipients: "metrics.mc2t" (round, metric, value) when
 *            eval is given, then "<instance>-model.mc2m": the mc2_gbdt_model_save bytes
 *            sealed as a blob (table/blob.h) under a fresh key, bound to the object's name.
 *            <instance> is the first 8 bytes of this enclave instance's nonce in hex: job
 *            counters restart with every instance, and a model must outlive its instance
 *            without a later job-N result overwriting it.
 *   predict  inputs: tables to score (columns = the model's features, in training order; by
 *            name too when the model names its features);
 *            params: model OBJECT (e.g. results/job-3-1f2e...-model.mc2m), model_sha256 (hex of the
 *            sealed bytes: the approved job binds the exact model), model_owner PARTY (whose
 *            key opens the model: like an input owner it must approve the job, and it grants
 *            the key for this job only, EAPI_GRANT_OBJECT; so nobody can score rows with a
 *            model without its holder's consent to that job), nthread (optional),
 *            oblivious 0|1 (optional: mc2_gbdt_predict_oblivious, no data-dependent branch
 *            or address). train's `oblivious` is a GBDT parameter (mc2_gbdt_params_set).
 *            A table the policy lists in oblivious_tables is read only with oblivious = 1.
 *            ranks N, mesh_timeout_s (optional: every rank scores its own rows,
 *            jobs_gbdt_dist.c; not with oblivious = 1).
 *            results: one table (table, row, prediction...) PER INPUT OWNER, visible only to
 *            that owner: each owner gets only its own rows' predictions.
 *
 * Parameters are checked at submission (check), so bad parameters are refused before the job
 * exists; data is checked at run start, before any training. Messages become public job
 * status: they name columns, tables and parameters, never a data value. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hex.h"
#include "enclave/enclave.h"
#include "enclave/jobs_gbdt.h"
#include "enclave/meshrt.h"
#include "gbdt/gbdt.h"
#include "obliv/decode.h"
#include "table/blob.h"
#include "table/treader.h"
#include "table/value.h"

#define GB_MAX_THREADS 8u /* the enclave's share of the machine */

/* ---- parameters --------------------------------------------------------------------------- */

/* Index of input "OWNER/TABLE" in j, or -1. */
static int find_input(const mc2_job *j, const char *spec)
{
    for (size_t i = 0; i < j->ninputs; i++) {
        size_t ol = strlen(j->inputs[i].owner);
        if (strncmp(spec, j->inputs[i].owner, ol) == 0 && spec[ol] == '/' &&
            strcmp(spec + ol + 1, j->inputs[i].table) == 0)
            return (int)i;
    }
    return -1;
}

int gb_train_params(const mc2_job *j, mc2_gbdt_params *p, mc2_err *err)
{
    mc2_gbdt_params_default(p);
    for (size_t i = 0; i < j->nparams; i++) {
        const char *k = j->param_key[i], *v = j->param_value[i];
        if (strcmp(k, "label") == 0 || strcmp(k, "eval") == 0 || enc_param_generic(k) ||
            enc_mesh_param(k))
            continue;
        if (strcmp(k, "eval_metric") != 0) {
            if (mc2_gbdt_params_set(p, k, v, err)) return -1;
            continue;
        }
        char one[32];
        for (const char *s = v;;) {
            const char *c = strchr(s, ',');
            size_t n = c ? (size_t)(c - s) : strlen(s);
            if (n == 0 || n >= sizeof one)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "parameter 'eval_metric': expected metric names separated by "
                                   "commas (rmse, logloss, auc, merror)");
            memcpy(one, s, n);
            one[n] = '\0';
            if (mc2_gbdt_params_set(p, k, one, err)) return -1;
            if (!c) break;
            s = c + 1;
        }
    }
    if (p->nthread > GB_MAX_THREADS)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'nthread' must be at most %u in a job",
                           GB_MAX_THREADS);
    return mc2_gbdt_params_check(p, err);
}

int enc_train_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    if (j->ninputs == 0)
        return mc2_err_set(err, MC2_E_INPUT, "train needs at least one input table");
    const char *label = mc2_job_param(j, "label"), *eval = mc2_job_param(j, "eval");
    if (!label || !*label || strlen(label) > MC2_MAX_NAME)
        return mc2_err_set(err, MC2_E_INPUT,
                           "train needs parameter 'label' naming the label column");
    if (eval) {
        if (find_input(j, eval) < 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "parameter 'eval': '%.100s' is not one of the job's inputs "
                               "(write OWNER/TABLE)",
                               eval);
        if (j->ninputs < 2)
            return mc2_err_set(err, MC2_E_INPUT,
                               "parameter 'eval' names the only input: nothing is left to train "
                               "on");
    }
    mc2_gbdt_params p;
    uint32_t ranks;
    if (gb_train_params(j, &p, err) || enc_mesh_check_params(j, err) ||
        enc_mesh_ranks(j, &ranks, err))
        return -1;
    if (ranks > 1 && enc_train_plan_check(j, ranks, err)) return -1;
    return p.oblivious ? 0 : enc_job_requires_oblivious(e, j, err);
}

/* A valid model object name: results/job-N-SUFFIX.mc2m, short enough for a result name. */
static int model_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > MC2_OBJECT_NAME_MAX || n < 18 || strncmp(s, "results/job-", 12) != 0 ||
        strcmp(s + n - 5, ".mc2m") != 0)
        return 0;
    const char *p = s + 12;
    if (*p < '1' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '-' && mc2_table_name_check(p + 1, NULL) == 0;
}

/* predict's `oblivious` parameter: 0 (default) or 1. */
static int predict_oblivious(const mc2_job *j, int *obl, mc2_err *err)
{
    const char *v = mc2_job_param(j, "oblivious");
    *obl = v && strcmp(v, "1") == 0;
    if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return mc2_err_set(err, MC2_E_INPUT, "parameter 'oblivious' must be 0 or 1");
    return 0;
}

int enc_predict_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    if (j->ninputs == 0)
        return mc2_err_set(err, MC2_E_INPUT, "predict needs at least one input table");
    for (size_t i = 0; i < j->nparams; i++) {
        const char *k = j->param_key[i], *v = j->param_value[i];
        if (strcmp(k, "model") == 0) {
            if (!model_name_ok(v))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "parameter 'model': '%.100s' is not a model object name "
                                   "(results/job-N-...-model.mc2m)",
                                   v);
        } else if (strcmp(k, "model_sha256") == 0) {
            uint8_t h[32];
            if (strlen(v) != 64 || mc2_hex_decode(v, h, 32))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "parameter 'model_sha256': expected 64 hex digits");
        } else if (strcmp(k, "model_owner") == 0) {
            if (!mc2_policy_party(e->policy, v))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "parameter 'model_owner': '%.64s' is not a party of the "
                                   "consortium policy",
                                   v);
        } else if (strcmp(k, "oblivious") == 0 || enc_param_generic(k) || enc_mesh_param(k)) {
            continue; /* checked below, or by api.c */
        } else if (strcmp(k, "nthread") == 0) {
            mc2_gbdt_params p;
            mc2_gbdt_params_default(&p);
            if (mc2_gbdt_params_set(&p, k, v, err)) return -1;
            if (p.nthread > GB_MAX_THREADS)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "parameter 'nthread' must be at most %u in a job",
                                   GB_MAX_THREADS);
        } else {
            const char *hint = strstr(k, "sha") ? "model_sha256" : strstr(k, "mod") ? "model" : "";
            return mc2_err_set(err, MC2_E_INPUT,
                               "unknown parameter '%s' for predict%s%s%s (known: model, "
                               "model_sha256, model_owner, nthread, oblivious, ranks, "
                               "mesh_timeout_s)",
                               k, *hint ? " (did you mean " : "", hint, *hint ? "?)" : "");
        }
    }
    if (!mc2_job_param(j, "model") || !mc2_job_param(j, "model_sha256") ||
        !mc2_job_param(j, "model_owner"))
        return mc2_err_set(err, MC2_E_INPUT,
                           "predict needs parameters 'model' (the model object), "
                           "'model_sha256' (its SHA-256) and 'model_owner' (the party whose "
                           "key opens it, who must approve the job)");
    int obl;
    uint32_t ranks;
    if (predict_oblivious(j, &obl, err) || enc_mesh_check_params(j, err) ||
        enc_mesh_ranks(j, &ranks, err))
        return -1;
    if (obl && ranks > 1)
        return mc2_err_set(err, MC2_E_INPUT,
                           "oblivious prediction runs on one enclave only (drop 'ranks' or "
                           "'oblivious')");
    return obl ? 0 : enc_job_requires_oblivious(e, j, err);
}

/* ---- tables to float matrices ------------------------------------------------------------- */

static bool numeric(enum mc2_type t)
{
    return t == MC2_T_INT64 || t == MC2_T_DOUBLE || mc2_type_is_decimal(t) || t == MC2_T_DATE ||
           t == MC2_T_BOOL;
}

void gb_mat_free(gb_mat *m)
{
    if (m->x) mc2_free_wipe(m->x, m->cap * m->d * sizeof(float));
    if (m->y) mc2_free_wipe(m->y, m->cap * sizeof(float));
    memset(m, 0, sizeof *m);
}

int gb_mat_grow(enclave *e, gb_mat *m, uint64_t more, bool with_y, mc2_err *err)
{
    size_t rows, cells, bytes;
    if (more > SIZE_MAX || !mc2_add_size(m->n, (size_t)more, &rows) || rows > MC2_GBDT_MAX_ROWS ||
        !mc2_mul_size(rows, m->d + 1, &cells) || !mc2_mul_size(cells, sizeof(float), &bytes) ||
        bytes > e->budget_bytes)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "the input tables are too large for the enclave's memory budget");
    if (rows <= m->cap) return 0;
    float *x = mc2_calloc(rows * m->d > 0 ? rows * m->d : 1, sizeof(float));
    float *y = with_y ? mc2_calloc(rows ? rows : 1, sizeof(float)) : NULL;
    if (!x || (with_y && !y)) {
        mc2_free(x);
        mc2_free(y);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for the input tables");
    }
    if (m->x) memcpy(x, m->x, m->n * m->d * sizeof(float));
    if (m->y && y) memcpy(y, m->y, m->n * sizeof(float));
    size_t oldcap = m->cap;
    m->cap = rows;
    if (m->x) mc2_free_wipe(m->x, oldcap * m->d * sizeof(float));
    if (m->y) mc2_free_wipe(m->y, oldcap * sizeof(float));
    m->x = x;
    m->y = y;
    return 0;
}

int gb_check_schema(const mc2_schema *s, const mc2_schema *ref, long label, const mc2_job_input *in,
                    mc2_err *err)
{
    if (ref) {
        bool same = s->ncols == ref->ncols;
        for (size_t c = 0; same && c < s->ncols; c++) {
            char t1[64], t2[64];
            mc2_type_format(&s->cols[c].type, t1, sizeof t1);
            mc2_type_format(&ref->cols[c].type, t2, sizeof t2);
            same = strcasecmp(s->cols[c].name, ref->cols[c].name) == 0 && strcmp(t1, t2) == 0;
        }
        if (!same)
            return mc2_err_set(err, MC2_E_INPUT,
                               "input %s/%s has another schema than the first input (the same "
                               "column names and types, in the same order, are needed)",
                               in->owner, in->table);
    }
    for (size_t c = 0; c < s->ncols; c++)
        if (!numeric(s->cols[c].type.id))
            return mc2_err_set(err, MC2_E_INPUT, "%s column '%s' in input %s/%s",
                               (long)c == label ? "non-numeric label" : "non-numeric feature",
                               s->cols[c].name, in->owner, in->table);
    return 0;
}

int gb_append_batch(gb_mat *m, const mc2_batch *b, const mc2_schema *s, long label,
                    const mc2_job_input *in, mc2_err *err)
{
    if (m->n + b->nrows > m->cap)
        return mc2_err_set(err, MC2_E_INPUT, "input %s/%s holds more rows than its header says",
                           in->owner, in->table);
    for (size_t i = 0; i < b->nrows; i++) {
        float *row = m->x + (m->n + i) * m->d;
        size_t f = 0;
        for (size_t c = 0; c < s->ncols; c++) {
            float v = mc2_cell_float(b, c, i);
            if ((long)c == label) {
                m->y[m->n + i] = v;
                continue;
            }
            if (isinf(v))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "feature column '%s' in input %s/%s has a value too large for "
                                   "float32",
                                   s->cols[c].name, in->owner, in->table);
            row[f++] = v;
        }
    }
    m->n += b->nrows;
    return 0;
}

/* Appends the rows of every block of r (schema s) to m with the batch decoder (gb_append_batch):
 * for jobs that are not oblivious. */
static int load_blocks(mc2_treader *r, const mc2_schema *s, long label, const mc2_job_input *in,
                       gb_mat *m, mc2_err *err)
{
    int rc = -1;
    mc2_batch *b = mc2_treader_batch_new(r, err);
    if (!b) goto out;
    int got;
    while ((got = mc2_treader_next(r, b, NULL, err)) == 1)
        if (gb_append_batch(m, b, s, label, in, err)) goto out;
    if (got < 0) {
        mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
        goto out;
    }
    rc = 0;
out:
    mc2_batch_free(b);
    return rc;
}

/* load_blocks for oblivious jobs: each block's authenticated plaintext is decoded and
 * converted to float32 by obliv_decode_v2_f32 (format 2: one chunk per column) or
 * obliv_decode_v1_f32 (masks only; NaN for NULL; the v1 section boundaries declassified,
 * docs/security.md), never by the branchy batch decoder; one
 * declassified bit per block says whether it is valid. Then load_blocks' check for features
 * too large for float32, obliviously. */
static int load_blocks_obliv(mc2_treader *r, const mc2_schema *s, long label,
                             const mc2_job_input *in, gb_mat *m, mc2_err *err)
{
    const mc2_thdr *h = mc2_treader_header(r);
    uint64_t *ok = mc2_calloc(s->ncols + 1, sizeof *ok);
    size_t start = m->n;
    int rc = -1;
    if (!ok) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        const uint8_t *const *pt;
        const size_t *len;
        uint32_t rows;
        uint64_t index;
        int got = mc2_treader_next_chunks(r, &pt, &len, &rows, &index, err);
        if (got < 0) {
            mc2_err_prefix(err, "input %s/%s: ", in->owner, in->table);
            goto out;
        }
        if (got == 0) break;
        if (m->n + rows > m->cap) {
            mc2_err_set(err, MC2_E_INPUT, "input %s/%s holds more rows than its header says",
                        in->owner, in->table);
            goto out;
        }
        float *xs = m->x + m->n * m->d, *ys = label >= 0 ? m->y + m->n : NULL;
        if ((h->version == 2
                 ? obliv_decode_v2_f32(s, pt, len, rows, label, xs, m->d, ys, ok, err)
                 : obliv_decode_v1_f32(s, pt[0], len[0], rows, label, xs, m->d, ys, ok, err)) ||
            obliv_decode_verdict(s, NULL, s->ncols, ok, err)) {
            mc2_err_prefix(err, "input %s/%s: block %llu of %llu: ", in->owner, in->table,
                           (unsigned long long)index + 1, (unsigned long long)h->block_count);
            goto out;
        }
        m->n += rows;
    }
    long f = mc2_gbdt_first_inf_oblivious(m->x + start * m->d, m->n - start, m->d);
    if (f >= 0) {
        size_t c = (size_t)f + (label >= 0 && f >= label ? 1 : 0);
        mc2_err_set(err, MC2_E_INPUT,
                    "feature column '%s' in input %s/%s has a value too large for float32",
                    s->cols[c].name, in->owner, in->table);
        goto out;
    }
    rc = 0;
out:
    mc2_free(ok);
    return rc;
}

/* Reads input `in` and appends its rows to m: features are every column except `label` (-1:
 * none), in schema order. The label goes to m->y. Also returns the table's schema copy
 * checked against *ref (set from the first input read). obl: an oblivious job (the data is
 * decoded and converted without data-dependent branches or addresses). */
static int load_input(enclave *e, const mc2_job_input *in, const char *label_name, bool need_label,
                      bool obl, mc2_schema **ref, gb_mat *m, size_t *rows_read, mc2_err *err)
{
    mc2_buf data = {0};
    mc2_treader *r = NULL;
    int rc = -1;
    if (enc_open_input(e, in, &data, &r, err)) goto out;
    const mc2_thdr *h = mc2_treader_header(r);
    const mc2_schema *s = h->schema;
    long label = -1;
    if (need_label) {
        label = mc2_schema_find(s, label_name);
        if (label < 0) {
            mc2_err_set(err, MC2_E_INPUT, "label column '%.128s' not found in input %s/%s",
                        label_name, in->owner, in->table);
            goto out;
        }
    }
    if (gb_check_schema(s, *ref, label, in, err)) goto out;
    size_t d = s->ncols - (label >= 0 ? 1 : 0);
    if (!*ref) {
        /* Keep a copy of the first schema (the reader's dies with it). */
        uint8_t *enc = NULL;
        size_t el = 0;
        int bad = mc2_schema_encode(s, &enc, &el, err) || mc2_schema_decode(enc, el, ref, err);
        mc2_free(enc);
        if (bad) goto out;
    }
    if (m->cap == 0) m->d = d; /* all inputs share the schema, so d never changes */
    if (d == 0) {
        mc2_err_set(err, MC2_E_INPUT, "input %s/%s has no feature column", in->owner, in->table);
        goto out;
    }
    if (gb_mat_grow(e, m, h->row_count, need_label, err)) goto out;
    size_t start = m->n;
    if (obl ? load_blocks_obliv(r, s, label, in, m, err) : load_blocks(r, s, label, in, m, err))
        goto out;
    *rows_read = m->n - start;
    rc = 0;
out:
    mc2_treader_free(r);
    mc2_buf_free(&data);
    return rc;
}

int gb_check_labels(const mc2_gbdt_params *p, const gb_mat *m, const char *label, const char *what,
                    mc2_err *err)
{
    if (m->n == 0) return mc2_err_set(err, MC2_E_INPUT, "%s has no rows", what);
    for (size_t i = 0; i < m->n; i++) {
        float y = m->y[i];
        if (!isfinite(y))
            return mc2_err_set(err, MC2_E_INPUT, "label column '%s' has NULL values in %s", label,
                               what);
        if (p->objective == MC2_GBDT_BINARY_LOGISTIC && (y < 0.0f || y > 1.0f))
            return mc2_err_set(err, MC2_E_INPUT,
                               "label column '%s' in %s has values outside [0, 1], which "
                               "binary:logistic needs",
                               label, what);
        if (p->objective == MC2_GBDT_MULTI_SOFTPROB &&
            (y < 0.0f || y >= (float)p->num_class || y != floorf(y)))
            return mc2_err_set(err, MC2_E_INPUT,
                               "label column '%s' in %s is inconsistent with num_class=%u (labels "
                               "must be integers 0..%u)",
                               label, what, p->num_class, p->num_class - 1);
    }
    return 0;
}

/* gb_check_labels for oblivious jobs, with the same messages: the first bad label and why
 * are found with masks (mc2_gbdt_labels_check_oblivious); only the reason, which the message
 * states, is declassified. */
static int check_labels_obliv(const mc2_gbdt_params *p, const gb_mat *m, const char *label,
                              const char *what, mc2_err *err)
{
    if (m->n == 0) return mc2_err_set(err, MC2_E_INPUT, "%s has no rows", what);
    switch (mc2_gbdt_labels_check_oblivious(p, m->y, m->n)) {
    case 0:
        return 0;
    case 1:
        return mc2_err_set(err, MC2_E_INPUT, "label column '%s' has NULL values in %s", label,
                           what);
    case 2:
        return mc2_err_set(err, MC2_E_INPUT,
                           "label column '%s' in %s has values outside [0, 1], which "
                           "binary:logistic needs",
                           label, what);
    default:
        return mc2_err_set(err, MC2_E_INPUT,
                           "label column '%s' in %s is inconsistent with num_class=%u (labels "
                           "must be integers 0..%u)",
                           label, what, p->num_class, p->num_class - 1);
    }
}

/* ---- train -------------------------------------------------------------------------------- */

typedef struct gb_metrics {
    uint32_t *round;
    enum mc2_gbdt_metric *metric;
    double *value;
    size_t n, cap;
    enclave *e; /* for the job's progress: round r of rounds */
    uint32_t rounds;
} gb_metrics;

static int on_round(void *ctx, uint32_t round, const enum mc2_gbdt_metric *metrics,
                    const double *values, uint32_t n_metrics)
{
    gb_metrics *g = ctx;
    enc_job_progress_round(g->e, round + 1, g->rounds);
    for (uint32_t i = 0; i < n_metrics && g->n < g->cap; i++, g->n++) {
        g->round[g->n] = round;
        g->metric[g->n] = metrics[i];
        g->value[g->n] = values[i];
    }
    return 0;
}

static const char METRICS_SCHEMA[] = "table: metrics\n"
                                     "columns:\n"
                                     "  - {name: round, type: INT64, nullable: false}\n"
                                     "  - {name: metric, type: VARCHAR(16), nullable: false}\n"
                                     "  - {name: value, type: DOUBLE, nullable: true}\n";

static int add_metrics(enclave *e, enc_job *j, const gb_metrics *g, mc2_err *err)
{
    mc2_schema *s = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (mc2_schema_parse("metrics", METRICS_SCHEMA, sizeof METRICS_SCHEMA - 1, &s, err)) goto out;
    b = mc2_batch_new(s, g->n ? g->n : 1, err);
    if (!b) goto out;
    for (size_t i = 0; i < g->n; i++) {
        const char *name = mc2_gbdt_metric_name(g->metric[i]);
        size_t len = strlen(name);
        if (mc2_batch_reserve_chars(b, 1, len, err)) goto out;
        mc2_col *c = &b->cols[1];
        memcpy(c->data + c->off[b->nrows], name, len);
        c->off[b->nrows + 1] = c->off[b->nrows] + (uint32_t)len;
        b->cols[0].v.i64[b->nrows] = (int64_t)g->round[i];
        bool nan = !isfinite(g->value[i]); /* AUC of a one-class set: NULL */
        b->cols[2].nulls[b->nrows] = nan;
        b->cols[2].v.f64[b->nrows] = nan ? 0.0 : g->value[i];
        b->nrows++;
    }
    rc = enc_add_table_result(e, j, -1, "metrics", b, err);
out:
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}

int gb_name_features(mc2_gbdt_model *model, const mc2_schema *s, const char *label, mc2_err *err)
{
    long li = mc2_schema_find(s, label);
    const char **names = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *names);
    enum mc2_gbdt_ftype *types = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *types);
    size_t d = 0;
    int rc = -1;
    if (!names || !types) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < s->ncols; c++) {
        if ((long)c == li) continue;
        enum mc2_type t = s->cols[c].type.id;
        names[d] = s->cols[c].name;
        types[d++] = t == MC2_T_INT64 || t == MC2_T_DATE ? MC2_GBDT_FT_INT
                     : t == MC2_T_BOOL                   ? MC2_GBDT_FT_INDICATOR
                                                         : MC2_GBDT_FT_FLOAT;
    }
    if (d != model->num_feature) {
        mc2_err_set(err, MC2_E_INTERNAL, "train: feature count differs from the schema");
        goto out;
    }
    rc = mc2_gbdt_model_set_features(model, names, types, err);
out:
    mc2_free(names);
    mc2_free(types);
    return rc;
}

int gb_add_model(enclave *e, enc_job *j, const mc2_gbdt_model *model, mc2_err *err)
{
    uint8_t key[MC2_KEY_LEN];
    mc2_buf plain = {.secret = 1}, sealed = {0};
    char name[sizeof j->results[0].name];
    const char *suffix = "model.mc2m";
    enc_result_name(e, j, suffix, name, sizeof name);
    int rc = mc2_random(key, sizeof key, err) || mc2_gbdt_model_save(model, &plain, err) ||
                     mc2_blob_seal(key, MC2_BLOB_CTX_GBDT_MODEL, name, plain.data, plain.len,
                                   &sealed, err) ||
                     enc_add_result(e, j, -1, suffix, sealed.data, sealed.len, key, err)
                 ? -1
                 : 0;
    mc2_wipe(key, sizeof key);
    mc2_buf_free(&plain);
    mc2_buf_free(&sealed);
    return rc;
}

int enc_train_run(enclave *e, enc_job *jb, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    uint32_t ranks;
    if (enc_mesh_ranks(j, &ranks, err)) return -1;
    if (ranks > 1) return enc_train_run_dist(e, jb, ranks, err);
    const char *label = mc2_job_param(j, "label"), *eval = mc2_job_param(j, "eval");
    int eval_i = eval ? find_input(j, eval) : -1;
    mc2_gbdt_params p;
    gb_mat train = {0}, test = {0};
    gb_metrics g = {0};
    mc2_schema *ref = NULL;
    mc2_gbdt_model *model = NULL;
    int rc = -1;
    if (gb_train_params(j, &p, err)) goto out;
    /* Read and check everything before training: schemas, then labels. */
    for (size_t i = 0; i < j->ninputs; i++) {
        size_t got;
        gb_mat *m = (int)i == eval_i ? &test : &train;
        if (load_input(e, &j->inputs[i], label, true, p.oblivious, &ref, m, &got, err)) goto out;
    }
    int (*check)(const mc2_gbdt_params *, const gb_mat *, const char *, const char *, mc2_err *) =
        p.oblivious ? check_labels_obliv : gb_check_labels;
    if (check(&p, &train, label, "the training inputs", err)) goto out;
    if (eval_i >= 0 && check(&p, &test, label, "the eval input", err)) goto out;
    mc2_gbdt_data td = {train.x, train.y, NULL, train.n, train.d};
    mc2_gbdt_data ed = {test.x, test.y, NULL, test.n, test.d};
    if (eval_i >= 0) {
        uint32_t nm = p.n_metrics ? p.n_metrics : 1;
        g.cap = (size_t)p.num_round * nm;
        g.round = mc2_calloc(g.cap, sizeof *g.round);
        g.metric = mc2_calloc(g.cap, sizeof *g.metric);
        g.value = mc2_calloc(g.cap, sizeof *g.value);
        if (!g.round || !g.metric || !g.value) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto out;
        }
    }
    g.e = e;
    g.rounds = p.num_round;
    enc_job_progress_round(e, 0, p.num_round);
    if (mc2_gbdt_train(&p, &td, eval_i >= 0 ? &ed : NULL, on_round, &g, &model, err)) {
        /* The engine's data messages may quote a row or a value: keep only safe ones. */
        if (err->code == MC2_E_INPUT)
            mc2_err_set(err, MC2_E_INPUT,
                        "the GBDT engine refused the training data (values it cannot use)");
        goto out;
    }
    if (gb_name_features(model, ref, label, err)) goto out;
    if (eval_i >= 0 && add_metrics(e, jb, &g, err)) goto out;
    if (gb_add_model(e, jb, model, err)) goto out;
    rc = 0;
out:
    mc2_gbdt_model_free(model);
    mc2_free(g.round);
    mc2_free(g.metric);
    mc2_free(g.value);
    gb_mat_free(&train);
    gb_mat_free(&test);
    mc2_schema_free(ref);
    return rc;
}

/* ---- predict ------------------------------------------------------------------------------ */

/* Reads the model object, checks its hash, opens it with the key its owner granted for this
 * job (api.c runs the job only once that grant exists). */
static int open_model(enclave *e, const enc_job *jb, mc2_gbdt_model **model, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    const char *name = mc2_job_param(j, "model"), *hex = mc2_job_param(j, "model_sha256");
    uint8_t want[32], got[32];
    mc2_buf sealed = {0}, plain = {.secret = 1};
    int rc = -1;
    if (!jb->model_key_granted) {
        mc2_err_set(err, MC2_E_NOTFOUND, "no key for model '%s' was granted for this job", name);
        goto out;
    }
    if (mc2_hex_decode(hex, want, 32)) {
        mc2_err_set(err, MC2_E_INPUT, "parameter 'model_sha256': expected 64 hex digits");
        goto out;
    }
    if (enc_store_read(e, name, &sealed, err)) {
        mc2_err_prefix(err, "model '%s': ", name);
        goto out;
    }
    if (mc2_sha256(sealed.data, sealed.len, got, err)) goto out;
    if (memcmp(got, want, 32) != 0) {
        mc2_err_set(err, MC2_E_AUTH,
                    "model '%s': the stored object is not the one the job names (SHA-256 "
                    "differs)",
                    name);
        goto out;
    }
    mc2_err tmp;
    if (mc2_blob_open(jb->model_key, MC2_BLOB_CTX_GBDT_MODEL, name, sealed.data, sealed.len, &plain,
                      &tmp)) {
        mc2_err_set(err, MC2_E_AUTH, "model '%s' does not open with the key granted for this job",
                    name);
        goto out;
    }
    if (mc2_gbdt_model_load(plain.data, plain.len, model, err)) {
        mc2_err_set(err, MC2_E_INPUT, "model '%s' is not a valid GBDT model", name);
        goto out;
    }
    rc = 0;
out:
    mc2_buf_free(&sealed);
    mc2_buf_free(&plain);
    return rc;
}

/* A model that names its features (format version 2) scores only tables whose columns have
 * those names (ignoring case, as SQL), in that order: a table with the right number of
 * columns in another order would otherwise be scored silently wrong. Names are schema
 * facts, not data values. */
static int check_feature_names(const mc2_gbdt_model *model, const mc2_schema *s,
                               const mc2_job_input *in, mc2_err *err)
{
    for (uint32_t f = 0; model->feature_names && f < model->num_feature && f < s->ncols; f++)
        if (strcasecmp(s->cols[f].name, model->feature_names[f]) != 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "input %s/%s: column %u is '%s', the model's feature %u is '%s' "
                               "(the training columns without the label, in the same order)",
                               in->owner, in->table, f + 1, s->cols[f].name, f + 1,
                               model->feature_names[f]);
    return 0;
}

/* One owner's predictions: (table, row, prediction | prediction_0..k-1). */
static int predictions_schema(uint32_t ngroup, mc2_schema **s, mc2_err *err)
{
    mc2_buf y = {0};
    int rc = mc2_buf_puts(&y,
                          "table: predictions\ncolumns:\n"
                          "  - {name: table, type: VARCHAR(128), nullable: false}\n"
                          "  - {name: row, type: INT64, nullable: false}\n",
                          err);
    for (uint32_t k = 0; rc == 0 && k < ngroup; k++)
        rc = ngroup == 1
                 ? mc2_buf_puts(&y, "  - {name: prediction, type: DOUBLE, nullable: false}\n", err)
                 : mc2_buf_printf(&y, err,
                                  "  - {name: prediction_%u, type: DOUBLE, nullable: false}\n", k);
    if (rc == 0) rc = mc2_schema_parse("predictions", (const char *)y.data, y.len, s, err);
    mc2_buf_free(&y);
    return rc;
}

void gb_preds_free(gb_preds *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        if (p[i].v) mc2_free_wipe(p[i].v, p[i].cells * sizeof(float));
    mc2_free(p);
}

int gb_preds_alloc(gb_preds *p, size_t rows, uint32_t ng, mc2_err *err)
{
    size_t cells;
    if (!mc2_mul_size(rows ? rows : 1, ng, &cells) || cells > SIZE_MAX / sizeof(float))
        return mc2_err_set(err, MC2_E_LIMIT, "too many predictions");
    if (!(p->v = mc2_calloc(cells, sizeof(float))))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    p->cells = cells;
    p->n = rows;
    return 0;
}

int gb_predict_rows(const mc2_gbdt_model *model, const gb_mat *m, unsigned nthread, int obl,
                    gb_preds *out, mc2_err *err)
{
    if (gb_preds_alloc(out, m->n, mc2_gbdt_model_ngroup(model), err)) return -1;
    if (m->n == 0) return 0;
    return obl ? mc2_gbdt_predict_oblivious(model, m->x, m->n, m->d, 0, nthread, out->v, err)
               : mc2_gbdt_predict_mt(model, m->x, m->n, m->d, 0, nthread, out->v, err);
}

int gb_predict_input_check(const mc2_gbdt_model *model, size_t d, const mc2_schema *s,
                           const mc2_job_input *in, mc2_err *err)
{
    if (d != model->num_feature)
        return mc2_err_set(err, MC2_E_INPUT,
                           "input %s/%s has %zu columns, the model wants %u features (the "
                           "training columns without the label, in the same order)",
                           in->owner, in->table, d, model->num_feature);
    return check_feature_names(model, s, in, err);
}

int gb_predict_nthread(const mc2_job *j, unsigned *nthread, mc2_err *err)
{
    const char *nt = mc2_job_param(j, "nthread");
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    if (nt && mc2_gbdt_params_set(&p, "nthread", nt, err)) return -1;
    *nthread = nt ? p.nthread : 2;
    return 0;
}

/* Appends p's rows of table `table` (rows 1..p->n) to b, which has room for them. */
static int append_preds(mc2_batch *b, const char *table, uint32_t ng, const gb_preds *p,
                        mc2_err *err)
{
    size_t tl = strlen(table);
    for (size_t r = 0; r < p->n; r++) {
        if (mc2_batch_reserve_chars(b, 0, tl, err)) return -1;
        mc2_col *c0 = &b->cols[0];
        memcpy(c0->data + c0->off[b->nrows], table, tl);
        c0->off[b->nrows + 1] = c0->off[b->nrows] + (uint32_t)tl;
        b->cols[1].v.i64[b->nrows] = (int64_t)r + 1;
        for (uint32_t k = 0; k < ng; k++) b->cols[2 + k].v.f64[b->nrows] = p->v[r * ng + k];
        b->nrows++;
    }
    return 0;
}

/* Stores the predictions of owner's inputs (p[i] for input i) for that owner only. */
static int predict_owner(enclave *e, enc_job *jb, uint32_t ng, const gb_preds *p, const char *owner,
                         mc2_err *err)
{
    const mc2_job *j = &jb->job;
    mc2_schema *s = NULL;
    mc2_batch *b = NULL;
    size_t rows = 0;
    int rc = -1;
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, owner) == 0) rows += p[i].n;
    if (predictions_schema(ng, &s, err) || !(b = mc2_batch_new(s, rows ? rows : 1, err))) goto out;
    for (size_t i = 0; i < j->ninputs; i++)
        if (strcmp(j->inputs[i].owner, owner) == 0 &&
            append_preds(b, j->inputs[i].table, ng, &p[i], err))
            goto out;
    char suffix[64];
    int pi = (int)(mc2_policy_party(e->policy, owner) - e->policy->parties);
    if (strlen(owner) <= 40)
        snprintf(suffix, sizeof suffix, "predictions-%s", owner);
    else
        snprintf(suffix, sizeof suffix, "predictions-party%d", pi);
    rc = enc_add_table_result(e, jb, pi, suffix, b, err);
out:
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}

int gb_predict_results(enclave *e, enc_job *jb, uint32_t ng, const gb_preds *p, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    for (size_t i = 0; i < j->ninputs; i++) {
        bool first = true; /* each owner once, at its first input */
        for (size_t k = 0; k < i; k++) first &= strcmp(j->inputs[k].owner, j->inputs[i].owner) != 0;
        if (first && predict_owner(e, jb, ng, p, j->inputs[i].owner, err)) return -1;
    }
    return 0;
}

/* Scores input `in` on this enclave (the whole table); obl: mc2_gbdt_predict_oblivious. */
static int predict_input(enclave *e, const mc2_job_input *in, const mc2_gbdt_model *model,
                         unsigned nthread, int obl, gb_preds *out, mc2_err *err)
{
    gb_mat m = {0};
    mc2_schema *ref = NULL;
    size_t got = 0;
    int rc = load_input(e, in, NULL, false, obl, &ref, &m, &got, err) ||
                     gb_predict_input_check(model, m.d, ref, in, err) ||
                     gb_predict_rows(model, &m, nthread, obl, out, err)
                 ? -1
                 : 0;
    mc2_schema_free(ref);
    gb_mat_free(&m);
    return rc;
}

int enc_predict_run(enclave *e, enc_job *jb, mc2_err *err)
{
    const mc2_job *j = &jb->job;
    mc2_gbdt_model *model = NULL;
    gb_preds *p = NULL;
    unsigned nthread = 2;
    uint32_t ranks = 1;
    int obl = 0;
    int rc = gb_predict_nthread(j, &nthread, err) || predict_oblivious(j, &obl, err) ||
                     enc_mesh_ranks(j, &ranks, err) || open_model(e, jb, &model, err)
                 ? -1
                 : 0;
    /* The model key served this one job: it is gone, whatever happens next (a distributed
     * run sends the workers the model, never its key). */
    mc2_wipe(jb->model_key, sizeof jb->model_key);
    if (rc == 0 && ranks > 1) {
        rc = enc_predict_run_dist(e, jb, model, ranks, err);
        goto out;
    }
    if (rc == 0 && !(p = mc2_calloc(j->ninputs ? j->ninputs : 1, sizeof *p)))
        rc = mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < j->ninputs; i++)
        rc = predict_input(e, &j->inputs[i], model, nthread, obl, &p[i], err);
    if (rc == 0) rc = gb_predict_results(e, jb, mc2_gbdt_model_ngroup(model), p, err);
out:
    gb_preds_free(p, j->ninputs);
    mc2_gbdt_model_free(model);
    return rc;
}
