/* jobs_sql.c - TRUSTED: the `sql` job kind. Parameters: `query` (the SQL text) and, when
 * inputs would otherwise share a name, `names` (comma-separated SQL names for the inputs, in
 * input order; by default each input is called by its table name). The query is parsed at
 * submission (syntax errors refuse the job before anything runs); at run time every input
 * is read through the host and authenticated with its owner's key, the query is bound,
 * planned and executed inside the enclave within its memory budget, spilling sealed runs to
 * the host, and the result is sealed for the job's recipients block by block as it is
 * produced and streamed to the host (write_result: no row limit, never held whole; a job
 * that fails leaves no result object behind). Error messages name columns
 * and types, never data values: they become the job's public status.
 *
 * Oblivious mode: `oblivious` = 1 runs the plan with the oblivious operators (sql/oexec.h);
 * `pad_rows` = N (oblivious only) pads every operator's output to N rows instead of revealing
 * its size. A table the consortium policy marks `oblivious_tables` is read only by
 * oblivious jobs (enc_job_requires_oblivious). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "enclave/enclave.h"
#include "enclave/jobs_sql.h"
#include "enclave/meshrt.h"
#include "sql/oexec.h"
#include "sql/parser.h"
#include "sql/planner.h"

int enc_sql_input_names(const mc2_job *j, char names[][MC2_TABLE_NAME_MAX + 1], mc2_err *err)
{
    const char *list = mc2_job_param(j, "names");
    for (size_t i = 0; i < j->ninputs; i++) {
        if (!list) {
            snprintf(names[i], MC2_TABLE_NAME_MAX + 1, "%s", j->inputs[i].table);
        } else {
            const char *end = strchr(list, ',');
            size_t n = end ? (size_t)(end - list) : strlen(list);
            if (n == 0 || n > MC2_TABLE_NAME_MAX)
                return mc2_err_set(err, MC2_E_INPUT, "'names' must give one name per input");
            memcpy(names[i], list, n);
            names[i][n] = '\0';
            list = end ? end + 1 : list + n;
            if (!end && i + 1 < j->ninputs)
                return mc2_err_set(err, MC2_E_INPUT, "'names' gives fewer names than inputs");
        }
        for (size_t k = 0; k < i; k++)
            if (strcasecmp(names[k], names[i]) == 0)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "two inputs are both called '%s': name them with the "
                                   "'names' parameter",
                                   names[i]);
    }
    if (list && *list) return mc2_err_set(err, MC2_E_INPUT, "'names' gives more names than inputs");
    return 0;
}

/* The job's mode: *obl = 1 for oblivious, with its leakage policy in *o. */
static int sql_mode(const mc2_job *j, int *obl, mc2_oexec_opts *o, mc2_err *err)
{
    const char *ob = mc2_job_param(j, "oblivious"), *pad = mc2_job_param(j, "pad_rows");
    *o = (mc2_oexec_opts){.leak = OBLIV_REVEAL};
    *obl = 0;
    if (ob && strcmp(ob, "1") != 0 && strcmp(ob, "0") != 0)
        return mc2_err_set(err, MC2_E_INPUT, "'oblivious' must be 0 or 1");
    *obl = ob && ob[0] == '1';
    if (pad) {
        char *end;
        unsigned long long v = strtoull(pad, &end, 10);
        if (!*obl) return mc2_err_set(err, MC2_E_INPUT, "'pad_rows' needs 'oblivious' = 1");
        if (pad[0] < '0' || pad[0] > '9' || *end || v == 0 || v > (1ull << 30))
            return mc2_err_set(err, MC2_E_INPUT, "'pad_rows' must be a number from 1 to 2^30");
        o->leak = OBLIV_PAD;
        o->pad_rows = (size_t)v;
    }
    return 0;
}

int enc_sql_threads(const enclave *e, const mc2_job *j, unsigned *out, mc2_err *err)
{
    const char *v = mc2_job_param(j, "threads");
    *out = e->ncpu ? e->ncpu : 1;
    if (!v) return 0;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] < '1' || v[0] > '9' || *end || n > 64)
        return mc2_err_set(err, MC2_E_INPUT, "'threads' must be a number from 1 to 64");
    *out = (unsigned)n;
    return 0;
}

int enc_sql_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    char names[MC2_JOB_MAX_INPUTS][MC2_TABLE_NAME_MAX + 1];
    for (size_t i = 0; i < j->nparams; i++)
        if (strcmp(j->param_key[i], "query") != 0 && strcmp(j->param_key[i], "names") != 0 &&
            strcmp(j->param_key[i], "oblivious") != 0 && strcmp(j->param_key[i], "pad_rows") != 0 &&
            strcmp(j->param_key[i], "threads") != 0 && !enc_param_generic(j->param_key[i]) &&
            !enc_mesh_param(j->param_key[i]))
            return mc2_err_set(err, MC2_E_INPUT,
                               "unknown sql parameter '%s' (known: query, names, oblivious, "
                               "pad_rows, threads, ranks, mesh_timeout_s)",
                               j->param_key[i]);
    mc2_oexec_opts oo;
    int obl;
    unsigned th;
    uint32_t ranks;
    if (sql_mode(j, &obl, &oo, err) || enc_sql_threads(e, j, &th, err) ||
        enc_mesh_check_params(j, err) || enc_mesh_ranks(j, &ranks, err))
        return -1;
    if (obl && ranks > 1)
        return mc2_err_set(err, MC2_E_INPUT,
                           "oblivious SQL runs on one enclave: the sizes of the messages between "
                           "ranks would show how the rows are spread (drop 'ranks', or run in "
                           "encryption mode)");
    if (!obl && enc_job_requires_oblivious(e, j, err)) return -1;
    const char *q = mc2_job_param(j, "query");
    if (!q) return mc2_err_set(err, MC2_E_INPUT, "an sql job needs the parameter 'query'");
    if (enc_sql_input_names(j, names, err)) return -1;
    mc2_arena a;
    mc2_arena_init(&a, 16u << 20);
    mc2_sql_stmt *st = NULL;
    int rc = mc2_sql_parse(q, strlen(q), &a, &st, err);
    mc2_arena_free(&a);
    return rc;
}

/* ---- spilling through the host ----------------------------------------------------------- */

static void spill_name(const enc_sql_spill *h, uint64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "spill/job-%llu-%llu", (unsigned long long)h->j->id, (unsigned long long)id);
}

static int spill_put(void *ctx, uint64_t id, const uint8_t *p, size_t n, mc2_err *err)
{
    enc_sql_spill *h = ctx;
    char name[64];
    spill_name(h, id, name, sizeof name);
    return enc_store_put(h->e, name, p, n, true, err);
}

static int spill_get(void *ctx, uint64_t id, const uint8_t **p, size_t *n, mc2_err *err)
{
    enc_sql_spill *h = ctx;
    char name[64];
    spill_name(h, id, name, sizeof name);
    mc2_buf_reset(&h->got);
    if (enc_store_read(h->e, name, &h->got, err)) return -1;
    *p = h->got.data;
    *n = h->got.len;
    return 0;
}

static void spill_drop(void *ctx, uint64_t id)
{
    enc_sql_spill *h = ctx;
    char name[64];
    spill_name(h, id, name, sizeof name);
    enc_store_drop(h->e, name);
}

void enc_sql_spill_init(enc_sql_spill *h, enclave *e, enc_job *j)
{
    *h = (enc_sql_spill){.e = e, .j = j};
    h->store = (mc2_spill_store){h, spill_put, spill_get, spill_drop};
}

void enc_sql_spill_free(enc_sql_spill *h)
{
    mc2_buf_free(&h->got);
}

/* ---- the result's column names ----------------------------------------------------------- */

/* name as a valid label (malloc'd): at most MC2_MAX_LABEL bytes, cut on a UTF-8 boundary (the
 * parser's output names are valid UTF-8), every C0 or C1 control character made a space. */
static char *label_of(const char *name)
{
    size_t n = strlen(name);
    if (n > MC2_MAX_LABEL) n = MC2_MAX_LABEL;
    while (n > 0 && n < strlen(name) && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
    char *l = mc2_malloc(n + 1);
    if (!l) return NULL;
    memcpy(l, name, n);
    l[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if (c < 0x20 || c == 0x7f) l[i] = ' ';
        if (c == 0xC2 && i + 1 < n && (unsigned char)l[i + 1] < 0xA0) {
            l[i] = ' ';
            l[++i] = ' ';
        }
    }
    return l;
}

/* A copy of schema s whose column names are valid table column names ([A-Za-z_][A-Za-z0-9_]*,
 * unique ignoring case) and whose labels are the SQL output names where those differ
 * (docs/format.md, "Labels"): "sum(l_quantity)" is stored as column "sum_l_quantity" labelled
 * "sum(l_quantity)", a second "n" as "n_2" labelled "n"; valid, distinct names are kept
 * unlabelled. An output name that is not a valid label (too long: cut on a UTF-8 boundary;
 * a control character from a string literal: made a space) is made one. */
static mc2_schema *result_schema(const mc2_schema *s, mc2_err *err)
{
    mc2_schema *o = mc2_calloc(1, sizeof *o);
    if (!o || !(o->cols = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *o->cols)) ||
        !(o->labels = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *o->labels))) {
        if (o) mc2_free(o->cols);
        mc2_free(o);
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < s->ncols; i++) {
        char name[MC2_MAX_NAME - 8];
        size_t n = 0;
        int gap = 0;
        for (const char *p = s->cols[i].name; *p && n < sizeof name - 1; p++) {
            char c = *p;
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            if (ok) {
                if (gap && n > 0) name[n++] = '_';
                if (n < sizeof name - 1) name[n++] = c;
                gap = 0;
            } else {
                gap = 1; /* runs of anything else become one '_' between words */
            }
        }
        name[n] = '\0';
        char full[MC2_MAX_NAME];
        snprintf(full, sizeof full, "%s%s", n == 0 || (name[0] >= '0' && name[0] <= '9') ? "c" : "",
                 name);
        /* Unique ignoring case: add _2, _3, ... */
        char uniq[MC2_MAX_NAME + 16];
        snprintf(uniq, sizeof uniq, "%s", full);
        for (unsigned k = 2;; k++) {
            int clash = 0;
            for (size_t j = 0; j < i; j++) clash |= strcasecmp(o->cols[j].name, uniq) == 0;
            if (!clash) break;
            snprintf(uniq, sizeof uniq, "%s_%u", full, k);
        }
        o->ncols = i + 1;
        o->cols[i] = s->cols[i];
        o->cols[i].name = mc2_strdup(uniq);
        if (!o->cols[i].name || (s->cols[i].name[0] && strcmp(uniq, s->cols[i].name) != 0 &&
                                 !(o->labels[i] = label_of(s->cols[i].name)))) {
            mc2_schema_free(o);
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            return NULL;
        }
    }
    return o;
}

/* ---- writing the result ------------------------------------------------------------------ */

/* Writes the rows of x (encryption mode), or of the batch *rows (oblivious mode), as the
 * job's result "result" under the column names of result_schema: x's rows are pulled one
 * block's worth at a time (mc2_exec_next) and each block is sealed and sent at once
 * (enc_rwriter), so the result never exists whole in the enclave and has no row limit. */
int enc_sql_out_begin(enclave *e, enc_job *j, const mc2_schema *s, enc_sql_out *o, mc2_err *err)
{
    *o = (enc_sql_out){0};
    if (!(o->named = result_schema(s, err))) return -1;
    return enc_rwriter_begin(e, j, -1, "result", o->named, &o->w, err);
}

int enc_sql_out_rows(enc_sql_out *o, mc2_exec *x, const mc2_batch *rows, mc2_err *err)
{
    if (rows) {
        mc2_batch view = *rows; /* the same columns under valid names */
        view.schema = o->named;
        return enc_rwriter_add(o->w, &view, err);
    }
    mc2_batch *b = mc2_batch_new(o->named, enc_rwriter_rows(o->w), err);
    int got = b ? 0 : -1;
    while (b && (got = mc2_exec_next(x, b, err)) == 1)
        if (enc_rwriter_add(o->w, b, err)) {
            got = -1;
            break;
        }
    mc2_batch_free(b);
    return got < 0 ? -1 : 0;
}

int enc_sql_out_finish(enc_sql_out *o, mc2_err *err)
{
    return enc_rwriter_finish(o->w, err);
}

void enc_sql_out_free(enc_sql_out *o)
{
    enc_rwriter_free(o->w); /* a result not finished is dropped at the host */
    mc2_schema_free(o->named);
    *o = (enc_sql_out){0};
}

static int write_result(enclave *e, enc_job *j, mc2_exec *x, const mc2_batch *rows,
                        const mc2_schema *s, mc2_err *err)
{
    enc_sql_out o;
    int rc = enc_sql_out_begin(e, j, s, &o, err) || enc_sql_out_rows(&o, x, rows, err) ||
                     enc_sql_out_finish(&o, err)
                 ? -1
                 : 0;
    enc_sql_out_free(&o);
    return rc;
}

/* ---- running ----------------------------------------------------------------------------- */

int enc_sql_run(enclave *e, enc_job *j, mc2_err *err)
{
    const mc2_job *job = &j->job;
    size_t n = job->ninputs;
    char names[MC2_JOB_MAX_INPUTS][MC2_TABLE_NAME_MAX + 1];
    enc_input srcs[MC2_JOB_MAX_INPUTS];
    mc2_sql_table tables[MC2_JOB_MAX_INPUTS];
    mc2_exec_input inputs[MC2_JOB_MAX_INPUTS];
    enc_sql_spill hs;
    mc2_plan *plan = NULL;
    mc2_exec *x = NULL;
    mc2_batch *result = NULL;
    int rc = -1;
    const char *q = mc2_job_param(job, "query");
    uint32_t ranks;
    if (enc_mesh_ranks(job, &ranks, err)) return -1;
    if (ranks > 1) return enc_sql_run_dist(e, j, ranks, err);
    enc_sql_spill_init(&hs, e, j);
    memset(srcs, 0, sizeof srcs);
    mc2_oexec_opts oo;
    int obl;
    if (!q || enc_sql_input_names(job, names, err) || sql_mode(job, &obl, &oo, err)) goto out;
    for (size_t i = 0; i < n; i++) {
        /* Every input streams from the host: each scan reads the blocks (format 2: only the
         * columns) it needs; an oblivious scan reads every block. */
        if (enc_input_open(e, &job->inputs[i], &srcs[i], err)) goto out;
        const mc2_thdr *h = mc2_tsrc_header(srcs[i].src);
        inputs[i] = (mc2_exec_input){.src = srcs[i].src};
        tables[i] = (mc2_sql_table){names[i], h->schema, h->row_count};
    }
    plan = mc2_plan_new(64u << 20, err);
    mc2_sql_physical ph;
    if (!plan || mc2_sql_compile(q, strlen(q), tables, n, plan, &ph, err)) goto out;
    if (ph.explain) {
        mc2_buf text = {0};
        mc2_schema *s = NULL;
        static const char schema[] = "columns:\n  - {name: plan, type: VARCHAR(65535)}\n";
        rc = mc2_sql_explain_print(&ph, &text, err) ||
                     mc2_schema_parse("explain", schema, sizeof schema - 1, &s, err) ||
                     !(result = mc2_batch_new(s, 1, err)) ||
                     mc2_batch_reserve_chars(result, 0, text.len, err)
                 ? -1
                 : 0;
        if (rc == 0) {
            memcpy(result->cols[0].data, text.data, text.len);
            result->cols[0].off[1] = (uint32_t)text.len;
            result->nrows = 1;
            rc = enc_add_table_result(e, j, -1, "result", result, err);
        }
        mc2_batch_free(result);
        result = NULL;
        mc2_schema_free(s);
        mc2_buf_free(&text);
        goto out;
    }
    if (obl) {
        /* Oblivious operators hold every row anyway: the result comes as one batch (its
         * row count is public), written block by block like encryption mode's. */
        oo.mem_cap = (size_t)e->budget_bytes;
        if (mc2_oexec_run(plan, ph.root, inputs, n, &oo, SIZE_MAX, &result, err)) goto out;
        rc = write_result(e, j, NULL, result, result->schema, err);
    } else {
        unsigned th;
        if (enc_sql_threads(e, job, &th, err)) goto out;
        mc2_exec_opts opts = {
            .mem_budget = (size_t)(e->budget_bytes / 2), .spill = &hs.store, .threads = th};
        if (mc2_exec_open(plan, ph.root, inputs, n, &opts, &x, err)) goto out;
        rc = write_result(e, j, x, NULL, mc2_pn_schema(ph.root), err);
    }
out:
    mc2_batch_free(result);
    mc2_exec_free(x);
    mc2_plan_free(plan);
    for (size_t i = 0; i < n; i++) enc_input_close(&srcs[i]);
    enc_sql_spill_free(&hs);
    return rc;
}
