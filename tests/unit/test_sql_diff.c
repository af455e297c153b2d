/* test_sql_diff.c - differential tests of the SQL engine against SQLite (issue 4): the 22
 * TPC-H queries at a small scale factor and several hundred queries over small hand-made
 * tables (tests/data/sql/diff/), plus queries that must fail with the right error.
 *
 * Data path. Every table is encrypted with mc2_table_encrypt_file (small blocks, so scans
 * see many of them) and each query reads it through fresh mc2_treaders, as the enclave
 * does (MC2_DIFF_BATCHES=1: from the blocks decrypted once into in-memory batches). SQLite gets the
 * same files through sqlref (mc2's own text parser). TPC-H runs the unchanged queries in
 * tests/data/tpch/queries on mc2 and the rewritten ones in tests/data/tpch/sqlite on SQLite
 * (DECIMAL as exact scaled integers there). The family tables are seen by SQLite through their
 * <table>_real views (DECIMAL as REAL) under the plain table names, so most queries run unchanged
 * on both sides; the exact scaled-integer tables are there too as <table>_x.
 *
 * Comparison rules (also in docs/sql.md, "Differential tests"):
 *   - INT64, BOOL (as 0/1), VARCHAR and DATE (as 'YYYY-MM-DD') are compared exactly;
 *   - an mc2 DECIMAL against SQLite's exact decimal text (dec()) or an INTEGER: exactly, as
 *     numbers (1.50 = 1.5);
 *   - an mc2 DECIMAL(p,s) against a SQLite REAL (averages, divisions, DECIMAL columns seen as
 *     REAL): equal when |mc2 - sqlite| <= 0.5 * 10^-s + 1e-9 * |sqlite| (mc2 is exact and
 *     rounded to its declared scale s, SQLite is binary floating point);
 *   - DOUBLE against REAL: 1e-9 relative;
 *   - NULL equals only NULL;
 *   - rows are compared as multisets (both sides sorted, DECIMAL-vs-REAL columns snapped to
 *     the DECIMAL's scale for sorting); where the query's ORDER BY fixes an order, the
 *     sequence of the ORDER BY key columns (which the queries output) must also be the same
 *     row by row: rows that tie on every ORDER BY key may come in any order.
 *
 * The queries file (tests/data/sql/diff/queries.txt): entries of lines starting with a tag,
 *   q <mc2 text>          starts an entry (also run on SQLite unless `s` follows)
 *   s <SQLite text>       SQLite's variant where the dialects differ
 *   o <c> [<c> ...]       1-based output columns holding the ORDER BY keys, in key order
 *   e <substring>         the query must fail in mc2 with an error containing it (several
 *                         `e` lines: all must appear); SQLite is not run
 *   # comment, blank lines ignored. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "mc2/crypto.h"
#include "mc2/table.h"
#include "sql/oexec.h"
#include "sql/planner.h"
#include "sqlref/sqlref.h"
#include "table/treader.h"
#include "table/tsrc.h"
#include "test.h"
#include "sql/dist.h"
#include "table/tpart.h"
#include "tpch/tpch.h"
#include "../tools/dlocal.h"

#define MAX_TABLES 16
#define MAX_ORD    8

static char tmpdir[256];
static uint8_t key[MC2_KEY_LEN];

/* ---- tables: encrypted, then read back through an mc2_treader --------------------------- */

typedef struct dtable {
    char name[64];
    mc2_schema *schema;
    mc2_batch **batches;
    size_t nbatches;
    uint64_t rows;
    mc2_buf file;    /* the .mc2t bytes and */
    mc2_treader *rd; /* its reader: the batches' schema is the reader's header's */
} dtable;

typedef struct dset {
    dtable t[MAX_TABLES];
    size_t n;
    mc2_sql_table sql[MAX_TABLES];
    mc2_exec_input in[MAX_TABLES];
} dset;

/* Encrypts the text file `path` (schema s, taken over) and decrypts it block by block into
 * the next table of d. */
static int dset_add(dset *d, const char *name, mc2_schema *s, const char *path,
                    enum mc2_textfmt fmt, uint32_t rows_per_block)
{
    mc2_err err;
    char out[512];
    snprintf(out, sizeof out, "%s/%s.mc2t", tmpdir, name);
    mc2_encrypt_opts o = {.format = fmt, .threads = 2, .rows_per_block = rows_per_block};
    mc2_table_stats st = {0};
    dtable *t = &d->t[d->n++]; /* counted now: dset_free frees whatever was set up */
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->schema = s;
    if (mc2_table_encrypt_file(path, s, key, out, &o, &st, &err)) {
        fprintf(stderr, "encrypt %s: %s\n", path, err.msg);
        return -1;
    }
    mc2_buf *file = &t->file;
    int rc = -1;
    if (mc2_file_read_all(out, (size_t)1 << 32, file, &err) ||
        mc2_treader_open_mem(file->data, file->len, key, &t->rd, &err))
        goto out;
    for (;;) {
        mc2_batch *b = mc2_treader_batch_new(t->rd, &err);
        if (!b) goto out;
        int k = mc2_treader_next(t->rd, b, NULL, &err);
        if (k <= 0) {
            mc2_batch_free(b);
            if (k < 0) goto out;
            break;
        }
        mc2_batch **nb = realloc(t->batches, (t->nbatches + 1) * sizeof *nb);
        if (!nb) {
            mc2_batch_free(b);
            goto out;
        }
        t->batches = nb;
        t->batches[t->nbatches++] = b;
        t->rows += b->nrows;
    }
    rc = 0;
out:
    if (rc) fprintf(stderr, "read back %s: %s\n", out, err.msg);
    unlink(out);
    d->sql[d->n - 1] = (mc2_sql_table){t->name, t->schema, t->rows};
    d->in[d->n - 1] =
        (mc2_exec_input){.batches = (const mc2_batch *const *)t->batches, .nbatches = t->nbatches};
    return rc;
}

static void dset_free(dset *d)
{
    for (size_t i = 0; i < d->n; i++) {
        for (size_t j = 0; j < d->t[i].nbatches; j++) mc2_batch_free(d->t[i].batches[j]);
        free(d->t[i].batches);
        mc2_treader_free(d->t[i].rd);
        mc2_buf_free(&d->t[i].file);
        mc2_schema_free(d->t[i].schema);
    }
    d->n = 0;
}

/* ---- running a query in mc2 -------------------------------------------------------------- */

/* Threads of encryption-mode runs (parallel pipelines over the streaming inputs). */
static unsigned exec_threads = 1;
static unsigned par_ok, par_n;  /* queries run again on 2 threads, and their matches */
static uint64_t blocks_skipped; /* by encryption-mode scans, by the blocks' statistics */

/* Compiles and runs text over d, in encryption mode (oo NULL) or in oblivious mode with
 * options oo; *out gets the rows as an sqlref_result. */
static int run_mc2_opts(const dset *d, const char *text, const mc2_oexec_opts *oo,
                        sqlref_result **out, mc2_err *err)
{
    int obl = oo != NULL;
    *out = NULL;
    mc2_plan *p = mc2_plan_new(0, err);
    if (!p) return -1;
    mc2_sql_physical ph;
    mc2_exec *x = NULL;
    mc2_batch *res = NULL;
    int rc = mc2_sql_compile(text, strlen(text), d->sql, d->n, p, &ph, err);
    mc2_exec_input in[MAX_TABLES];
    mc2_tio io[MAX_TABLES];
    memcpy(in, d->in, sizeof in);
    /* The enclave's paths: encryption mode streams each table (a scan reads only its columns'
     * chunks), oblivious mode reads each through a fresh reader. */
    if (!getenv("MC2_DIFF_BATCHES"))
        for (size_t i = 0; rc == 0 && i < d->n; i++) {
            in[i] = (mc2_exec_input){0};
            io[i] = mc2_tio_mem(d->t[i].file.data, d->t[i].file.len);
            rc = obl ? mc2_treader_open_mem(d->t[i].file.data, d->t[i].file.len, key, &in[i].reader,
                                            err)
                     : mc2_tsrc_open(&io[i], key, 1u << 30, &in[i].src, err);
        }
    if (rc == 0 && obl) rc = mc2_oexec_run(p, ph.root, in, d->n, oo, (size_t)1 << 24, &res, err);
    mc2_exec_opts eo = {.threads = exec_threads};
    if (rc == 0 && !obl) rc = mc2_exec_open(p, ph.root, in, d->n, &eo, &x, err);
    if (rc == 0 && !obl) rc = mc2_exec_collect(x, (size_t)1 << 24, &res, err);
    if (rc == 0 && !obl) {
        mc2_exec_stats st;
        mc2_exec_get_stats(x, &st);
        blocks_skipped += st.blocks_skipped;
    }
    if (rc == 0) {
        *out = sqlref_result_for_schema(res->schema, err);
        if (!*out || sqlref_result_append_batch(*out, res, err)) rc = -1;
    }
    mc2_batch_free(res);
    mc2_exec_free(x);
    mc2_plan_free(p);
    for (size_t i = 0; i < d->n; i++) {
        mc2_treader_free(in[i].reader);
        mc2_tsrc_free(in[i].src);
    }
    return rc;
}

static int run_mc2(const dset *d, const char *text, int obl, sqlref_result **out, mc2_err *err)
{
    static const mc2_oexec_opts defaults = {0};
    return run_mc2_opts(d, text, obl ? &defaults : NULL, out, err);
}

/* ---- running a query on several ranks (sql/dist.h) ---------------------------------------- */

#define DIST_MAX_COLLS 1024

/* One rank of a distributed run: a thread with its own plan and its own share of every
 * table (a block range of a streaming source, as a placed table's part). */
typedef struct drank {
    dlocal_rank r;
    const dset *d;
    const char *text;
    sqlref_result *res; /* rank 0's rows */
    enum mc2_dist_coll colls[DIST_MAX_COLLS];
    size_t ncolls;
    mc2_dist_stats st;
    mc2_err err;
    int rc;
} drank;

static void *drank_main(void *arg)
{
    drank *k = arg;
    const dset *d = k->d;
    uint32_t self = k->r.self, n = k->r.l->n;
    mc2_err *err = &k->err;
    mc2_exec_input in[MAX_TABLES];
    mc2_tio io[MAX_TABLES];
    mc2_dist *dist = NULL;
    mc2_exec *x = NULL;
    mc2_sql_physical ph;
    memset(in, 0, sizeof in);
    mc2_plan *p = mc2_plan_new(0, err);
    int rc = p ? mc2_sql_compile(k->text, strlen(k->text), d->sql, d->n, p, &ph, err) : -1;
    for (size_t i = 0; rc == 0 && i < d->n; i++) {
        io[i] = mc2_tio_mem(d->t[i].file.data, d->t[i].file.len);
        rc = mc2_tsrc_open(&io[i], key, 1u << 30, &in[i].src, err);
        if (rc == 0) {
            in[i].ranged = true;
            mc2_block_range(mc2_tsrc_header(in[i].src)->block_count, self, n, &in[i].first_block,
                            &in[i].nblocks);
        }
    }
    mc2_pnode *root = rc == 0 ? ph.root : NULL;
    const mc2_exec_input *all = NULL;
    size_t nall = 0;
    mc2_dist_comm c = dlocal_comm(&k->r);
    mc2_exec_opts eo = {.threads = exec_threads};
    if (rc == 0)
        rc = mc2_dist_prepare(p, &root, d->n, self, n, &dist, err) ||
                     mc2_dist_colls(dist, k->colls, DIST_MAX_COLLS, &k->ncolls, err) ||
                     mc2_dist_run(dist, &c, in, d->n, &eo, &all, &nall, err)
                 ? -1
                 : 0;
    mc2_batch *res = NULL;
    if (rc == 0 && self == 0)
        rc = mc2_exec_open(p, root, all, nall, &eo, &x, err) ||
                     mc2_exec_collect(x, (size_t)1 << 24, &res, err) ||
                     !(k->res = sqlref_result_for_schema(res->schema, err)) ||
                     sqlref_result_append_batch(k->res, res, err)
                 ? -1
                 : 0;
    mc2_batch_free(res);
    if (dist) mc2_dist_get_stats(dist, &k->st);
    if (rc) dlocal_abort(k->r.l);
    mc2_exec_free(x);
    mc2_dist_free(dist);
    mc2_plan_free(p);
    for (size_t i = 0; i < d->n; i++) mc2_tsrc_free(in[i].src);
    k->rc = rc;
    return NULL;
}

static uint64_t dist_bytes, dist_bcast, dist_shuffle;

/* Runs text over d on n ranks (threads); *out gets rank 0's rows. Every rank must have
 * planned the same collectives. */
static int run_mc2_dist(const dset *d, const char *text, uint32_t n, sqlref_result **out,
                        mc2_err *err)
{
    *out = NULL;
    dlocal l;
    dlocal_init(&l, n);
    drank *k = calloc(n, sizeof *k);
    pthread_t th[MC2_DIST_MAX_RANKS];
    int rc = k ? 0 : mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    uint32_t started = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        k[i] = (drank){.r = {&l, i}, .d = d, .text = text};
        if (pthread_create(&th[i], NULL, drank_main, &k[i])) {
            dlocal_abort(&l);
            rc = mc2_err_set(err, MC2_E_IO, "pthread_create failed");
        } else {
            started++;
        }
    }
    for (uint32_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (uint32_t i = 0; rc == 0 && i < n; i++) /* the first real failure, not "another..." */
        if (k[i].rc && !strstr(k[i].err.msg, "another rank failed")) {
            *err = k[i].err;
            mc2_err_prefix(err, "rank %u: ", i);
            rc = -1;
        }
    for (uint32_t i = 1; rc == 0 && i < n; i++)
        if (k[i].ncolls != k[0].ncolls ||
            memcmp(k[i].colls, k[0].colls, k[0].ncolls * sizeof k[0].colls[0]) != 0)
            rc = mc2_err_set(err, MC2_E_INTERNAL, "rank %u planned other collectives than rank 0",
                             i);
    if (rc == 0 && k[0].rc) {
        *err = k[0].err;
        rc = -1;
    }
    if (rc == 0) {
        for (uint32_t i = 0; i < n; i++) dist_bytes += k[i].st.bytes_sent;
        dist_bcast += k[0].st.broadcast_joins;
        dist_shuffle += k[0].st.shuffled_joins;
        *out = k[0].res;
        k[0].res = NULL;
    }
    for (uint32_t i = 0; k && i < n; i++) sqlref_result_free(k[i].res);
    free(k);
    dlocal_destroy(&l);
    return rc;
}

/* ---- comparing --------------------------------------------------------------------------- */

static double pow10i(unsigned s)
{
    double v = 1;
    while (s--) v *= 10;
    return v;
}

/* 0 if the SQLite cell e matches the mc2 cell a under the rules above. */
static int cell_match(const sqlref_cell *e, const sqlref_cell *a)
{
    if (e->kind == SQLREF_REAL && a->kind == SQLREF_DEC) {
        double av = (double)a->i / pow10i(a->scale);
        return fabs(av - e->r) <= 0.5 / pow10i(a->scale) + 1e-9 * fabs(e->r) ? 0 : 1;
    }
    return sqlref_cell_cmp(e, a, 1e-9);
}

/* Per column: how rows sort (numbers as numbers, DECIMAL-vs-REAL snapped to the scale). */
typedef struct colinfo {
    int numeric;
    int dec_scale; /* the mc2 column's DECIMAL scale, -1 if not DECIMAL */
} colinfo;

static const colinfo *sort_cols;
static size_t sort_ncols;

static int key_cmp(const sqlref_cell *x, const sqlref_cell *y, const colinfo *ci)
{
    if (x->kind == SQLREF_NULL || y->kind == SQLREF_NULL)
        return (y->kind == SQLREF_NULL) - (x->kind == SQLREF_NULL);
    if (ci->numeric) {
        double v[2];
        const sqlref_cell *c[2] = {x, y};
        for (int k = 0; k < 2; k++) {
            switch (c[k]->kind) {
            case SQLREF_INT:
                v[k] = (double)c[k]->i;
                break;
            case SQLREF_DEC:
                v[k] = (double)c[k]->i / pow10i(c[k]->scale);
                break;
            case SQLREF_REAL:
                v[k] = c[k]->r;
                if (ci->dec_scale >= 0) {
                    double m = pow10i((unsigned)ci->dec_scale);
                    v[k] = round(v[k] * m) / m;
                }
                break;
            default:
                v[k] = strtod(c[k]->s, NULL);
                break;
            }
        }
        return (v[0] > v[1]) - (v[0] < v[1]);
    }
    const char *s1 = x->kind == SQLREF_TEXT ? x->s : "";
    const char *s2 = y->kind == SQLREF_TEXT ? y->s : "";
    size_t n1 = x->kind == SQLREF_TEXT ? x->len : 0, n2 = y->kind == SQLREF_TEXT ? y->len : 0;
    int c = memcmp(s1, s2, n1 < n2 ? n1 : n2);
    if (c) return c;
    if (x->kind != y->kind || x->kind != SQLREF_TEXT) {
        /* INT cells in a text column (BOOL): compare as integers */
        if (x->kind == SQLREF_INT && y->kind == SQLREF_INT) return (x->i > y->i) - (x->i < y->i);
    }
    return (n1 > n2) - (n1 < n2);
}

static int row_cmp(const void *pa, const void *pb)
{
    const sqlref_cell *a = pa, *b = pb;
    for (size_t c = 0; c < sort_ncols; c++) {
        int k = key_cmp(&a[c], &b[c], &sort_cols[c]);
        if (k) return k;
    }
    return 0;
}

/* Compares SQLite's rows e with mc2's rows a; ord[0..nord) are 0-based ORDER BY key columns.
 * Returns 0 on a match, else 1 with a description in why. */
static int result_match(sqlref_result *e, sqlref_result *a, const unsigned *ord, size_t nord,
                        char *why, size_t whylen)
{
    char b1[128], b2[128];
    if (e->ncols != a->ncols) {
        snprintf(why, whylen, "%zu columns expected, %zu returned", e->ncols, a->ncols);
        return 1;
    }
    if (e->nrows != a->nrows) {
        snprintf(why, whylen, "%zu rows expected, %zu returned", e->nrows, a->nrows);
        return 1;
    }
    for (size_t k = 0; k < nord; k++)
        for (size_t r = 0; r < e->nrows; r++)
            if (cell_match(sqlref_at(e, r, ord[k]), sqlref_at(a, r, ord[k]))) {
                snprintf(why, whylen, "order: row %zu column %u: expected %s, got %s", r + 1,
                         ord[k] + 1, sqlref_cell_str(sqlref_at(e, r, ord[k]), b1, sizeof b1),
                         sqlref_cell_str(sqlref_at(a, r, ord[k]), b2, sizeof b2));
                return 1;
            }
    static colinfo ci[256]; /* read by row_cmp through sort_cols */
    size_t nc = e->ncols < 256 ? e->ncols : 256;
    for (size_t c = 0; c < nc; c++) {
        ci[c].numeric = 0;
        ci[c].dec_scale = -1;
        for (size_t r = 0; r < a->nrows; r++) {
            const sqlref_cell *x = sqlref_at(a, r, c);
            if (x->kind == SQLREF_NULL) continue;
            ci[c].numeric = x->kind != SQLREF_TEXT;
            if (x->kind == SQLREF_DEC) ci[c].dec_scale = x->scale;
            break;
        }
    }
    sort_cols = ci;
    sort_ncols = nc;
    if (e->nrows == 0) return 0; /* (cells may be NULL) */
    qsort(e->cells, e->nrows, e->ncols * sizeof *e->cells, row_cmp);
    qsort(a->cells, a->nrows, a->ncols * sizeof *a->cells, row_cmp);
    for (size_t r = 0; r < e->nrows; r++)
        for (size_t c = 0; c < e->ncols; c++)
            if (cell_match(sqlref_at(e, r, c), sqlref_at(a, r, c))) {
                snprintf(why, whylen, "sorted row %zu column %zu: expected %s, got %s", r + 1,
                         c + 1, sqlref_cell_str(sqlref_at(e, r, c), b1, sizeof b1),
                         sqlref_cell_str(sqlref_at(a, r, c), b2, sizeof b2));
                return 1;
            }
    return 0;
}

/* ---- oblivious mode ---------------------------------------------------------------------- */

/* Runs text in oblivious mode: its rows must equal encryption mode's rows enc (as a
 * multiset) and SQLite's (sql, or the file at sql if is_file; with the ORDER BY order).
 * Returns 1 on a match, 0 if the query is "not supported in oblivious mode", -1 on a
 * mismatch or another error; why says which. */
static int check_obl(sqlite3 *db, const char *sql, int is_file, const dset *d, const char *text,
                     sqlref_result *enc, const unsigned *ord, size_t nord, char *why, size_t whylen)
{
    mc2_err err;
    sqlref_result *o = NULL, *e2 = NULL;
    if (run_mc2(d, text, 1, &o, &err)) {
        snprintf(why, whylen, "oblivious: %s", err.msg);
        return strstr(err.msg, "not supported in oblivious mode") ? 0 : -1;
    }
    int rc = -1;
    if (is_file ? sqlref_query_file(db, sql, &e2, &err) : sqlref_query(db, sql, &e2, &err))
        snprintf(why, whylen, "sqlite: %s", err.msg);
    else if (result_match(e2, o, ord, nord, why, whylen) == 0 &&
             result_match(enc, o, NULL, 0, why, whylen) == 0)
        rc = 1;
    sqlref_result_free(o);
    sqlref_result_free(e2);
    return rc;
}

/* The rank counts of the distributed runs (MC2_DIFF_RANKS="2,4" by default; "" for none). */
static uint32_t dist_ranks[4];
static size_t dist_nranks;
static unsigned dist_ok, dist_n;

static void dist_ranks_init(void)
{
    const char *v = getenv("MC2_DIFF_RANKS");
    if (!v) v = "2,4";
    for (const char *q = v; *q && dist_nranks < 4;) {
        char *end;
        unsigned long r = strtoul(q, &end, 10);
        if (end == q) break;
        if (r >= 2 && r <= MC2_DIST_MAX_RANKS) dist_ranks[dist_nranks++] = (uint32_t)r;
        q = *end == ',' ? end + 1 : end;
    }
}

/* Runs text on every rank count of dist_ranks: rank 0's rows must equal one enclave's rows
 * enc (as a multiset) and SQLite's (sql, or the file at sql if is_file; with the ORDER BY
 * order). 0 when all match; else -1 with why. */
static int check_dist(sqlite3 *db, const char *sql, int is_file, const dset *d, const char *text,
                      sqlref_result *enc, const unsigned *ord, size_t nord, char *why,
                      size_t whylen)
{
    for (size_t i = 0; i < dist_nranks; i++) {
        mc2_err err;
        sqlref_result *o = NULL, *e2 = NULL;
        int m = 0;
        dist_n++;
        if (run_mc2_dist(d, text, dist_ranks[i], &o, &err))
            snprintf(why, whylen, "%u ranks: %s", dist_ranks[i], err.msg);
        else if (is_file ? sqlref_query_file(db, sql, &e2, &err) : sqlref_query(db, sql, &e2, &err))
            snprintf(why, whylen, "sqlite: %s", err.msg);
        else if (result_match(e2, o, ord, nord, why, whylen) == 0 &&
                 result_match(enc, o, NULL, 0, why, whylen) == 0)
            m = 1;
        else {
            char head[32];
            size_t hl = (size_t)snprintf(head, sizeof head, "%u ranks: ", dist_ranks[i]);
            if (hl + 1 < whylen) {
                memmove(why + hl, why, whylen - hl - 1);
                memcpy(why, head, hl);
                why[whylen - 1] = '\0';
            }
        }
        sqlref_result_free(o);
        sqlref_result_free(e2);
        dist_ok += (unsigned)m;
        if (!m) return -1;
    }
    return 0;
}

/* ---- TPC-H ------------------------------------------------------------------------------- */

/* 1-based output columns of each query's ORDER BY keys (0: none). */
static const unsigned tpch_ord[23][MAX_ORD] = {
    {0}, {1, 2}, {1, 3, 2, 4}, {2, 3}, {1},          {2}, {0},    {1, 2, 3}, {1}, {1, 2}, {3}, {2},
    {1}, {2, 1}, {0},          {1},    {4, 1, 2, 3}, {0}, {5, 4}, {0},       {1}, {2, 1}, {1}};

static const char *const tpch_names[8] = {"region", "nation",   "supplier", "customer",
                                          "part",   "partsupp", "orders",   "lineitem"};

static char *slurp(const char *path)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_file_read_all(path, 1u << 20, &b, &err) || mc2_buf_append(&b, "", 1, &err)) {
        fprintf(stderr, "%s: %s\n", path, err.msg);
        mc2_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static unsigned tpch_ok, tpch_obl;
/* The TPC-H queries that run in oblivious mode, as letters ('a' + query number): the list
 * docs/sql.md ("Oblivious mode") gives. */
static const char TPCH_OBLIVIOUS[] = "bcdefghijklmnopqrstuvw"; /* all 22 */

/* Oblivious mode under a memory cap (the enclave's budget, mc2_oexec_opts.mem_cap): Q5 with
 * a cap 256 KiB above what the process holds fails with MC2_E_LIMIT naming the budget, frees
 * what it took, and lifts the cap; with room to spare it runs and equals encryption mode. */
static void test_mem_cap(const dset *d)
{
    char *text = slurp(test_data("tpch/queries/q5.sql"));
    CHECK(text != NULL);
    if (!text) return;
    mc2_err err;
    mc2_err_clear(&err);
    sqlref_result *a = NULL, *o = NULL;
    size_t live = mc2_alloc_live();
    mc2_oexec_opts oo = {.mem_cap = live + (256u << 10)};
    int rc = run_mc2_opts(d, text, &oo, &o, &err);
    CHECK_MSG(rc == -1 && err.code == MC2_E_LIMIT &&
                  strstr(err.msg, "oblivious mode: the query needs more memory than the "
                                  "enclave's budget of ") &&
                  strstr(err.msg, "mc2 start --budget-mb"),
              "capped Q5: rc %d, %s", rc, err.msg);
    CHECK_MSG(mc2_alloc_live() == live, "capped Q5 left %zd bytes",
              (ssize_t)(mc2_alloc_live() - live));
    void *big = mc2_malloc((size_t)1 << 20); /* the cap is gone */
    CHECK(big != NULL);
    mc2_free(big);
    oo.mem_cap = live + ((size_t)1 << 30);
    rc = run_mc2_opts(d, text, &oo, &o, &err) || run_mc2(d, text, 0, &a, &err);
    CHECK_MSG(rc == 0, "Q5 with room: %s", err.msg);
    char why[400] = "";
    CHECK_MSG(rc || result_match(a, o, NULL, 0, why, sizeof why) == 0, "Q5 with room: %s", why);
    sqlref_result_free(a);
    sqlref_result_free(o);
    free(text);
}

static void test_tpch(double sf)
{
    char dir[400], schema_dir[4096];
    snprintf(dir, sizeof dir, "%s/tpch", tmpdir);
    const char *src = getenv("MC2_SRC"); /* set by ctest; else run from the source tree */
    snprintf(schema_dir, sizeof schema_dir, "%s/schemas/tpch", src ? src : ".");
    mc2_tpch_opts o = {.sf = sf, .seed = MC2_TPCH_DEFAULT_SEED, .threads = 0};
    mc2_err err;
    clock_t t0 = clock();
    int rc = mc2_tpch_generate(dir, &o, NULL, &err);
    CHECK_MSG(rc == 0, "tpch generate: %s", err.msg);
    if (rc) return;
    dset d = {0};
    for (int i = 0; i < 8; i++) {
        char sp[4400], tp[500];
        snprintf(sp, sizeof sp, "%s/%s.yaml", schema_dir, tpch_names[i]);
        snprintf(tp, sizeof tp, "%s/%s.tbl", dir, tpch_names[i]);
        mc2_schema *s = NULL;
        rc = mc2_schema_load(sp, &s, &err);
        CHECK_MSG(rc == 0, "%s: %s", sp, err.msg);
        if (rc) goto out;
        rc = dset_add(&d, tpch_names[i], s, tp, MC2_FMT_TBL, 4096);
        CHECK_MSG(rc == 0, "load %s", tp);
        if (rc) goto out;
    }
    sqlite3 *db = NULL;
    rc = sqlref_open(&db, &err) || sqlref_load_tpch(db, dir, schema_dir, 1, &err);
    CHECK_MSG(rc == 0, "sqlite load: %s", err.msg);
    printf("tpch: SF %g loaded in %.2f s\n", sf, (double)(clock() - t0) / CLOCKS_PER_SEC);
    const char *qonly = getenv("MC2_DIFF_TPCH_ONLY"); /* debugging: one query */
    for (int q = 1; rc == 0 && q <= 22; q++) {
        if (qonly && atoi(qonly) != q) continue;
        char rel[64], rel2[64];
        snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
        snprintf(rel2, sizeof rel2, "tpch/sqlite/q%d.sql", q);
        char *text = slurp(test_data(rel));
        sqlref_result *e = NULL, *a = NULL;
        char why[1200] = "";
        clock_t q0 = clock();
        int r1 = text ? sqlref_query_file(db, test_data(rel2), &e, &err) : -1;
        if (r1) snprintf(why, sizeof why, "sqlite: %s", err.msg);
        clock_t q1 = clock();
        int r2 = r1 ? -1 : run_mc2(&d, text, 0, &a, &err);
        if (!r1 && r2) snprintf(why, sizeof why, "mc2: %s", err.msg);
        clock_t q2 = clock();
        unsigned ord[MAX_ORD];
        size_t nord = 0;
        for (size_t k = 0; k < MAX_ORD && tpch_ord[q][k]; k++) ord[nord++] = tpch_ord[q][k] - 1;
        int m = !r1 && !r2 && result_match(e, a, ord, nord, why, sizeof why) == 0;
        printf("tpch Q%-2d %6zu rows  %s  (sqlite %.3f s, mc2 %.3f s)%s%s\n", q,
               a ? a->nrows : (size_t)0, m ? "match" : "MISMATCH",
               (double)(q1 - q0) / CLOCKS_PER_SEC, (double)(q2 - q1) / CLOCKS_PER_SEC,
               m ? "" : ": ", m ? "" : why);
        CHECK_MSG(m, "TPC-H Q%d: %s", q, why);
        CHECK_MSG(!m || e->nrows > 0, "TPC-H Q%d: empty result", q);
        if (m) { /* the same on 2 threads (against SQLite's rows again: result_match sorted e) */
            sqlref_result *a2 = NULL, *e2 = NULL;
            exec_threads = 2;
            int m2 = sqlref_query_file(db, test_data(rel2), &e2, &err) == 0 &&
                     run_mc2(&d, text, 0, &a2, &err) == 0 &&
                     result_match(e2, a2, ord, nord, why, sizeof why) == 0;
            sqlref_result_free(e2);
            exec_threads = 1;
            CHECK_MSG(m2, "TPC-H Q%d on 2 threads: %s", q, why);
            par_n++;
            par_ok += (unsigned)m2;
            sqlref_result_free(a2);
        }
        tpch_ok += (unsigned)m;
        if (m) {
            clock_t d0 = clock();
            int dm = check_dist(db, test_data(rel2), 1, &d, text, a, ord, nord, why, sizeof why);
            printf("tpch Q%-2d on ranks: %s (%.3f s)%s%s\n", q, dm == 0 ? "match" : "MISMATCH",
                   (double)(clock() - d0) / CLOCKS_PER_SEC, dm == 0 ? "" : ": ",
                   dm == 0 ? "" : why);
            CHECK_MSG(dm == 0, "TPC-H Q%d on several ranks: %s", q, why);
        }
        if (m) { /* oblivious mode: exactly the queries docs/sql.md lists as oblivious */
            clock_t o0 = clock();
            int om = check_obl(db, test_data(rel2), 1, &d, text, a, ord, nord, why, sizeof why);
            int want = strchr(TPCH_OBLIVIOUS, 'a' + q) != NULL;
            printf("tpch Q%-2d oblivious: %s (%.3f s)%s%s\n", q,
                   om == 1   ? "match"
                   : om == 0 ? "not supported"
                             : "MISMATCH",
                   (double)(clock() - o0) / CLOCKS_PER_SEC, om == 1 ? "" : ": ",
                   om == 1 ? "" : why);
            CHECK_MSG(om >= 0, "TPC-H Q%d oblivious: %s", q, why);
            CHECK_MSG(om != 0 || !want, "TPC-H Q%d should run obliviously: %s", q, why);
            CHECK_MSG(om != 1 || want,
                      "TPC-H Q%d now runs obliviously: add it to TPCH_OBLIVIOUS and docs/sql.md",
                      q);
            tpch_obl += om == 1;
        }
        sqlref_result_free(e);
        sqlref_result_free(a);
        free(text);
    }
    sqlref_close(db);
    if (rc == 0 && !qonly) test_mem_cap(&d);
out:
    dset_free(&d);
    for (int i = 0; i < 8; i++) {
        char tp[500];
        snprintf(tp, sizeof tp, "%s/%s.tbl", dir, tpch_names[i]);
        unlink(tp);
    }
    rmdir(dir);
}

/* ---- the families ------------------------------------------------------------------------ */

/* The hand-made tables: <name>.csv with <name>.yaml in tests/data/sql/diff. */
static const char *const fam_tables[] = {"t", "u", "e", "v", "w"};

typedef struct entry {
    int line;
    char *q, *s;
    unsigned ord[MAX_ORD];
    size_t nord;
    char *errs[4];
    size_t nerrs;
} entry;

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* Parses the queries file into entries (returns the count, -1 on a malformed file). */
static long parse_entries(char *text, entry **out)
{
    entry *v = NULL;
    size_t n = 0, cap = 0;
    int line = 0;
    for (char *p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        size_t len = strlen(p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) p[--len] = 0;
        if (len && p[0] != '#') {
            if (len < 2 || p[1] != ' ' || (p[0] != 'q' && n == 0)) goto bad;
            const char *arg = p + 2;
            if (p[0] == 'q') {
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    entry *nv = realloc(v, cap * sizeof *nv);
                    if (!nv) goto bad;
                    v = nv;
                }
                memset(&v[n], 0, sizeof v[n]);
                v[n].line = line;
                v[n++].q = dupstr(arg);
                /* "\\n" (backslash, n) in a query is a line break (error positions) */
                for (char *c = v[n - 1].q; c && (c = strstr(c, "\\n"));) {
                    *c = '\n';
                    memmove(c + 1, c + 2, strlen(c + 2) + 1);
                }
            } else if (p[0] == 's') {
                v[n - 1].s = dupstr(arg);
            } else if (p[0] == 'o') {
                char *end;
                for (const char *a = arg; *a;) {
                    unsigned long c = strtoul(a, &end, 10);
                    if (end == a || c == 0 || v[n - 1].nord == MAX_ORD) goto bad;
                    v[n - 1].ord[v[n - 1].nord++] = (unsigned)c - 1;
                    a = end;
                    while (*a == ' ') a++;
                }
            } else if (p[0] == 'e') {
                if (v[n - 1].nerrs == 4) goto bad;
                v[n - 1].errs[v[n - 1].nerrs++] = dupstr(arg);
            } else {
                goto bad;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    *out = v;
    return (long)n;
bad:
    fprintf(stderr, "queries file line %d: malformed\n", line);
    free(v);
    return -1;
}

static void free_entries(entry *v, long n)
{
    for (long i = 0; i < n; i++) {
        free(v[i].q);
        free(v[i].s);
        for (size_t k = 0; k < v[i].nerrs; k++) free(v[i].errs[k]);
    }
    free(v);
}

static unsigned fam_ok, fam_n, err_ok, err_n, fam_unsupported, obl_ok, obl_unsup;

static void test_families(void)
{
    mc2_err err;
    dset d = {0};
    sqlite3 *db = NULL;
    int rc = sqlref_open(&db, &err);
    CHECK_MSG(rc == 0, "sqlite: %s", err.msg);
    if (rc) return;
    for (size_t i = 0; i < sizeof fam_tables / sizeof fam_tables[0]; i++) {
        char rel[128], sp[4200], cp[4200], sql[512], xname[80];
        snprintf(rel, sizeof rel, "sql/diff/%s.yaml", fam_tables[i]);
        snprintf(sp, sizeof sp, "%s", test_data(rel));
        snprintf(rel, sizeof rel, "sql/diff/%s.csv", fam_tables[i]);
        snprintf(cp, sizeof cp, "%s", test_data(rel));
        mc2_schema *s = NULL;
        rc = mc2_schema_load(sp, &s, &err);
        CHECK_MSG(rc == 0, "%s: %s", sp, err.msg);
        if (rc) goto out;
        snprintf(xname, sizeof xname, "%s_x", fam_tables[i]);
        int has_dec = 0;
        for (size_t c = 0; c < s->ncols; c++) has_dec |= s->cols[c].type.id == MC2_T_DECIMAL;
        snprintf(sql, sizeof sql, "CREATE VIEW \"%s\" AS SELECT * FROM \"%s_x%s\"", fam_tables[i],
                 fam_tables[i], has_dec ? "_real" : "");
        rc = sqlref_load_file(db, xname, s, cp, MC2_FMT_CSV, &err) || sqlref_exec(db, sql, &err);
        CHECK_MSG(rc == 0, "sqlite %s: %s", cp, err.msg);
        if (rc) {
            mc2_schema_free(s);
            goto out;
        }
        rc = dset_add(&d, fam_tables[i], s, cp, MC2_FMT_CSV, 3);
        CHECK_MSG(rc == 0, "load %s", cp);
        if (rc) goto out;
    }
    char *text = slurp(test_data("sql/diff/queries.txt"));
    CHECK(text != NULL);
    if (!text) goto out;
    entry *v = NULL;
    long n = parse_entries(text, &v);
    CHECK(n > 0);
    int verbose = getenv("MC2_DIFF_VERBOSE") != NULL;
    const char *only = getenv("MC2_DIFF_ONLY"); /* debugging: one entry, by its line */
    for (long i = 0; i < n; i++) {
        entry *q = &v[i];
        if (only && atoi(only) != q->line) continue;
        sqlref_result *e = NULL, *a = NULL;
        char why[1200] = "";
        if (q->nerrs) {
            err_n++;
            int r = run_mc2(&d, q->q, 0, &a, &err);
            int ok = r != 0;
            for (size_t k = 0; ok && k < q->nerrs; k++) ok = strstr(err.msg, q->errs[k]) != NULL;
            CHECK_MSG(ok, "queries.txt:%d: %s\n  expected an error with '%s'; got %s", q->line,
                      q->q, q->errs[0], r ? err.msg : "no error");
            if (ok && verbose) printf("error ok: %s\n  -> %s\n", q->q, err.msg);
            err_ok += (unsigned)ok;
            sqlref_result_free(a);
            continue;
        }
        int r1 = sqlref_query(db, q->s ? q->s : q->q, &e, &err);
        if (r1) snprintf(why, sizeof why, "sqlite: %s", err.msg);
        int r2 = r1 ? -1 : run_mc2(&d, q->q, 0, &a, &err);
        if (!r1 && r2) {
            snprintf(why, sizeof why, "mc2: %s", err.msg);
            if (strstr(err.msg, "not supported")) {
                fam_unsupported++;
                printf("unsupported (not counted): queries.txt:%d: %s\n  -> %s\n", q->line, q->q,
                       err.msg);
                sqlref_result_free(e);
                continue;
            }
        }
        fam_n++;
        int m = !r1 && !r2 && result_match(e, a, q->ord, q->nord, why, sizeof why) == 0;
        CHECK_MSG(m, "queries.txt:%d: %s\n  %s", q->line, q->q, why);
        if (m && verbose) printf("ok (%zu rows): %s\n", a->nrows, q->q);
        fam_ok += (unsigned)m;
        if (m &&
            check_dist(db, q->s ? q->s : q->q, 0, &d, q->q, a, q->ord, q->nord, why, sizeof why))
            CHECK_MSG(0, "queries.txt:%d (on several ranks): %s\n  %s", q->line, q->q, why);
        if (m) {
            int om =
                check_obl(db, q->s ? q->s : q->q, 0, &d, q->q, a, q->ord, q->nord, why, sizeof why);
            CHECK_MSG(om >= 0, "queries.txt:%d (oblivious): %s\n  %s", q->line, q->q, why);
            if (om == 0 && verbose) printf("oblivious: %s\n  -> %s\n", q->q, why);
            obl_ok += om == 1;
            obl_unsup += om == 0;
        }
        sqlref_result_free(e);
        sqlref_result_free(a);
    }
    free_entries(v, n);
    free(text);
out:
    sqlref_close(db);
    dset_free(&d);
}

int main(void)
{
    mc2_err err;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mc2_sqldiff_XXXXXX");
    if (!mkdtemp(tmpdir) || mc2_random(key, sizeof key, &err)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    const char *sfs = getenv("MC2_DIFF_SF");
    double sf = sfs ? atof(sfs) : 0.01; /* about 1 s in release, 3 s under ASan */
    dist_ranks_init();
    test_families();
    if (!getenv("MC2_DIFF_ONLY")) test_tpch(sf);
    rmdir(tmpdir);
    printf("tpch: %u/22 match; families: %u/%u match; errors: %u/%u\n", tpch_ok, fam_ok, fam_n,
           err_ok, err_n);
    printf("oblivious mode: tpch %u/22 match; families %u match, %u not supported\n", tpch_obl,
           obl_ok, obl_unsup);
    printf("2 threads: %u/%u match\n", par_ok, par_n);
    printf("several ranks: %u/%u runs match (%llu bytes exchanged; joins: %llu broadcast, %llu "
           "shuffled)\n",
           dist_ok, dist_n, (unsigned long long)dist_bytes, (unsigned long long)dist_bcast,
           (unsigned long long)dist_shuffle);
    printf("encryption mode: %llu blocks skipped by their statistics\n",
           (unsigned long long)blocks_skipped);
    if (!getenv("MC2_DIFF_ONLY")) {
        CHECK_MSG(fam_n >= 300, "only %u family queries ran", fam_n);
        CHECK_MSG(err_n >= 20, "only %u error queries ran", err_n);
        CHECK_MSG(obl_ok >= 360, "only %u family queries ran in oblivious mode", obl_ok);
    }
    return test_done("test_sql_diff");
}
