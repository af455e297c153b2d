/* probe_sql.c - drives WHOLE SQL QUERIES in oblivious mode (src/sql/oexec.c over src/obliv)
 * for the valgrind proofs, with probe.c's command line so that run_memcheck.sh and
 * run_trace.sh check it unchanged (docs/obliv.md, "How obliviousness is checked"). The
 * operators have their own probes; this one proves the executor that composes them: scans
 * block by block, row ids and NULL padding for outer joins, SUBSTRING columns, AVG as
 * SUM / COUNT, the final conversion to a batch.
 *
 *   probe_sql memcheck      nine queries (filters with LIKE and DECIMAL, an equi-join with a
 *                           residual, NOT IN, a LEFT JOIN with a residual and a GROUP BY,
 *                           ORDER BY + LIMIT, EXISTS with a residual, COUNT(DISTINCT),
 *                           SUBSTRING, a cross join; AVG of a DECIMAL) under both leakage policies,
 * every input value, NULL flag and VARCHAR offset and byte marked undefined; results must equal
 * encryption mode's on the same data probe_sql leak-branch   control: query 1 in encryption mode
 * (branches on the data) probe_sql leak-index    control: a GROUP BY in encryption mode (hash table
 * index) probe_sql leak-fastsort control: an ORDER BY in encryption mode probe_sql trace the nine
 * queries on five inputs of the same public sizes and different contents (selectivities, join
 * fan-outs, NULLs, string lengths), OBLIV_PAD, each run between two stores to a marker word; the
 * controls (encryption mode) must differ probe_sql trace-quick   three inputs The queries' final
 * results have a fixed number of rows (aggregates, LIMIT): the final size is revealed by design
 * (docs/security.md), intermediate sizes are padded. The SQL glue is the release build of src/sql;
 * src/obliv is compiled at the probe's flags. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

#define PROBE_NAME "probe_sql"
#include "probe_util.h"

#include "mc2/table.h"
#include "sql/oexec.h"
#include "sql/planner.h"

#define NT       8
#define NU       6
#define VARIANTS 5

static volatile uint64_t trace_mark;
static unsigned nvariants = VARIANTS;

static const char *const queries[] = {
    "SELECT count(*), sum(d), avg(d), min(dt), max(g) FROM t WHERE d > 1.50 AND s LIKE 'a%'",
    "SELECT count(*), sum(u.v) FROM t JOIN u ON t.k = u.k WHERE u.v < 50 AND t.g <> u.v",
    "SELECT count(*) FROM t WHERE k NOT IN (SELECT k FROM u)",
    ("SELECT count(*), sum(c) FROM (SELECT t.k, count(u.v) AS c FROM t LEFT JOIN u "
     "ON t.k = u.k AND u.v > t.g GROUP BY t.k) q"),
    "SELECT k, g, d FROM t ORDER BY d DESC, k LIMIT 3",
    "SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k AND u.v <> t.g)",
    "SELECT count(DISTINCT g) FROM t",
    "SELECT count(*) FROM t WHERE substring(s, 2, 2) = 'bc' OR s < 'b'",
    "SELECT count(*), sum(a.g) FROM t a, u b WHERE a.g < b.v",
};
#define NQ (sizeof queries / sizeof queries[0])

static mc2_schema *st, *su;
static mc2_batch *bt, *bu;

/* fail() for a query: what, the query, and the error message if there is one. */
static void fail_query(const char *what, const char *q, const char *msg)
{
    char m[2048]; /* what + a query + an mc2_err message (< 1024) */
    snprintf(m, sizeof m, "%s: %s%s%s", what, q, msg ? ": " : "", msg ? msg : "");
    fail(m);
}

/* A string of exactly `bytes` bytes (2..4) from a small alphabet that LIKE 'a%', the
 * SUBSTRING and the comparisons in the queries tell apart; 2 bytes may be "é". */
static void pick_str(char *out, unsigned bytes)
{
    static const char alpha[] = "abcz%";
    if (bytes == 2 && rnd() % 3 == 0) {
        memcpy(out, "\xc3\xa9", 2);
        return;
    }
    for (unsigned i = 0; i < bytes; i++) out[i] = alpha[rnd() % 5];
}

/* Fills both tables for variant v (same sizes; v changes key ranges, NULL rates, strings).
 * The strings' total byte count is the same in every variant: it is public (a block's size
 * shows it), so the rows are filled in pairs of 6 bytes. */
static void fill(unsigned v)
{
    rng_state = 1000 + v;
    unsigned keys = 2 + 2 * v; /* fan-out falls as v grows */
    unsigned nullpct = 10 * v;
    mc2_batch *b = bt;
    uint32_t off = 0;
    b->cols[3].off[0] = 0;
    unsigned pair = 0;
    for (size_t i = 0; i < NT; i++) {
        b->cols[0].v.i64[i] = (int64_t)(rnd() % keys);
        b->cols[1].v.i64[i] = (int64_t)(rnd() % 60);
        int dn = rnd() % 100 < nullpct;
        b->cols[2].nulls[i] = (uint8_t)dn;
        b->cols[2].v.i64[i] = dn ? 0 : (int64_t)(rnd() % 1000) - 300;
        unsigned len = i % 2 == 0 ? (pair = 2 + (unsigned)(rnd() % 3)) : 6 - pair;
        b->cols[3].nulls[i] = 0;
        pick_str(b->cols[3].data + off, len);
        off += len;
        b->cols[3].off[i + 1] = off;
        b->cols[4].v.i32[i] = (int32_t)(rnd() % 20000) - 5000;
    }
    b->nrows = NT;
    b = bu;
    for (size_t i = 0; i < NU; i++) {
        int kn = rnd() % 100 < nullpct / 2;
        b->cols[0].nulls[i] = (uint8_t)kn;
        b->cols[0].v.i64[i] = kn ? 0 : (int64_t)(rnd() % keys);
        b->cols[1].v.i64[i] = (int64_t)(rnd() % 100);
    }
    b->nrows = NU;
}

/* Marks (or unmarks) every data-bearing byte of the inputs: values, NULL maps, VARCHAR
 * offsets between the first and the last (those two are public: 0 and the block's size) and
 * the bytes. Row counts and the schema stay defined. */
static void mark(int undefined)
{
    if (tracing) return;
    const mc2_batch *bs[2] = {bt, bu};
    for (int k = 0; k < 2; k++) {
        const mc2_batch *b = bs[k];
        for (size_t c = 0; c < b->schema->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            size_t n = b->nrows, w = 8;
            if (col->nulls)
                undefined ? VALGRIND_MAKE_MEM_UNDEFINED(col->nulls, n)
                          : VALGRIND_MAKE_MEM_DEFINED(col->nulls, n);
            if (b->schema->cols[c].type.id == MC2_T_VARCHAR) {
                if (n > 1)
                    undefined ? VALGRIND_MAKE_MEM_UNDEFINED(col->off + 1, (n - 1) * 4)
                              : VALGRIND_MAKE_MEM_DEFINED(col->off + 1, (n - 1) * 4);
                if (col->off[n])
                    undefined ? VALGRIND_MAKE_MEM_UNDEFINED(col->data, col->off[n])
                              : VALGRIND_MAKE_MEM_DEFINED(col->data, col->off[n]);
                continue;
            }
            if (b->schema->cols[c].type.id == MC2_T_DATE) w = 4;
            undefined ? VALGRIND_MAKE_MEM_UNDEFINED(col->v.i64, n * w)
                      : VALGRIND_MAKE_MEM_DEFINED(col->v.i64, n * w);
        }
    }
}

/* Runs query q: obliviously (policy leak) or, for the controls and the expected results, in
 * encryption mode. *out gets the result, whose schema lives in the plan: free both with
 * done(). */
static mc2_plan *plan_of[2];
static mc2_pnode *root_of[2];

/* Compiles query q into plan slot `slot` (public: the text and the row counts only). */
static int compile_q(int slot, size_t q, mc2_err *err)
{
    mc2_sql_table tabs[2] = {{"t", st, NT}, {"u", su, NU}};
    mc2_plan *p = plan_of[slot] = mc2_plan_new(0, err);
    mc2_sql_physical ph;
    if (!p || mc2_sql_compile(queries[q], strlen(queries[q]), tabs, 2, p, &ph, err)) return -1;
    root_of[slot] = ph.root;
    return 0;
}

/* Runs slot's compiled plan over the current tables. */
static int exec_q(int slot, int obl, enum obliv_leak leak, mc2_batch **out, mc2_err *err)
{
    const mc2_batch *tb[1] = {bt}, *ub[1] = {bu};
    mc2_exec_input in[2] = {{.batches = tb, .nbatches = 1}, {.batches = ub, .nbatches = 1}};
    mc2_exec *x = NULL;
    int rc;
    *out = NULL;
    if (obl) {
        mc2_oexec_opts o = {.leak = leak, .pad_rows = NT * NU, .threads = 1};
        rc = mc2_oexec_run(plan_of[slot], root_of[slot], in, 2, &o, 1000, out, err);
    } else {
        rc = mc2_exec_open(plan_of[slot], root_of[slot], in, 2, NULL, &x, err) ||
                     mc2_exec_collect(x, 1000, out, err)
                 ? -1
                 : 0;
    }
    mc2_exec_free(x);
    return rc;
}

static int run_in(int slot, size_t q, int obl, enum obliv_leak leak, mc2_batch **out, mc2_err *err)
{
    *out = NULL;
    return compile_q(slot, q, err) || exec_q(slot, obl, leak, out, err) ? -1 : 0;
}

static void done(int slot, mc2_batch *b)
{
    mc2_batch_free(b);
    mc2_plan_free(plan_of[slot]);
    plan_of[slot] = NULL;
}

static void reveal_batch(const mc2_batch *b)
{
    for (size_t c = 0; c < b->schema->ncols; c++) {
        const mc2_col *col = &b->cols[c];
        if (col->nulls) VALGRIND_MAKE_MEM_DEFINED(col->nulls, b->nrows);
        if (b->schema->cols[c].type.id == MC2_T_VARCHAR) {
            VALGRIND_MAKE_MEM_DEFINED(col->off, (b->nrows + 1) * 4);
            VALGRIND_MAKE_MEM_DEFINED(col->data, col->off[b->nrows]);
        } else {
            VALGRIND_MAKE_MEM_DEFINED(col->v.i64, b->nrows * 8);
        }
    }
}

/* 0 if the batches hold the same rows (same order: every query's order is fixed). */
static int same(const mc2_batch *a, const mc2_batch *b)
{
    if (a->nrows != b->nrows || a->schema->ncols != b->schema->ncols) return 1;
    for (size_t c = 0; c < a->schema->ncols; c++) {
        const mc2_col *x = &a->cols[c], *y = &b->cols[c];
        enum mc2_type t = a->schema->cols[c].type.id;
        size_t w = t == MC2_T_DATE ? 4 : t == MC2_T_BOOL ? 1 : 8;
        for (size_t i = 0; i < a->nrows; i++) {
            int nx = x->nulls && x->nulls[i], ny = y->nulls && y->nulls[i];
            if (nx != ny) return 1;
            if (nx) continue;
            if (t == MC2_T_VARCHAR) {
                uint32_t lx = x->off[i + 1] - x->off[i], ly = y->off[i + 1] - y->off[i];
                if (lx != ly || memcmp(x->data + x->off[i], y->data + y->off[i], lx)) return 1;
            } else if (memcmp((const char *)x->v.i64 + i * w, (const char *)y->v.i64 + i * w, w)) {
                return 1;
            }
        }
    }
    return 0;
}

static void memcheck_all(void)
{
    for (unsigned v = 0; v < VARIANTS; v++) {
        fill(v);
        for (size_t q = 0; q < NQ; q++) {
            mc2_err err;
            mc2_batch *want = NULL, *got = NULL;
            if (run_in(0, q, 0, OBLIV_REVEAL, &want, &err)) {
                fail_query("encryption mode", queries[q], err.msg);
                done(0, want);
                continue;
            }
            for (int pol = 0; pol < 2; pol++) {
                mark(1);
                int rc = run_in(1, q, 1, pol ? OBLIV_PAD : OBLIV_REVEAL, &got, &err);
                mark(0);
                if (rc) {
                    fail_query("oblivious mode", queries[q], err.msg);
                } else {
                    reveal_batch(got);
                    if (same(want, got)) fail_query("oblivious result differs", queries[q], NULL);
                }
                done(1, got);
            }
            done(0, want);
        }
    }
}

static void trace_mark_store(void)
{
    trace_mark = trace_mark + 1;
}

static void trace_all(void)
{
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    static const char *const cnames[3] = {"control-enc-filter", "control-enc-join",
                                          "control-enc-order"};
    static const size_t cq[3] = {0, 1, 4};
    for (size_t q = 0; q < NQ + 3; q++) {
        size_t qq = q < NQ ? q : cq[q - NQ];
        mc2_err err;
        if (compile_q(0, qq, &err)) {
            fail_query("compile", queries[qq], err.msg);
            done(0, NULL);
            continue;
        }
        /* one warm-up run (variant 0), then the variants, each its own region; the plan is
         * compiled once, outside the regions */
        for (unsigned wi = 0; wi <= nvariants; wi++) {
            unsigned v = wi == 0 ? 0 : wi - 1;
            fill(v);
            mc2_batch *got = NULL;
            if (wi > 0) {
                if (q < NQ)
                    printf("REGION sql-q%zu %u\n", q + 1, v);
                else
                    printf("REGION %s %u\n", cnames[q - NQ], v);
                trace_mark_store();
            }
            int rc = exec_q(0, q < NQ, q < NQ ? OBLIV_PAD : OBLIV_REVEAL, &got, &err);
            if (wi > 0) trace_mark_store();
            if (rc) fail_query("trace run", queries[qq], err.msg);
            mc2_batch_free(got);
        }
        done(0, NULL);
    }
}

static int setup(void)
{
    static const char ts[] = "table: t\ncolumns:\n"
                             "  - {name: k, type: INT64, nullable: false}\n"
                             "  - {name: g, type: INT64, nullable: false}\n"
                             "  - {name: d, type: 'DECIMAL(10,2)'}\n"
                             "  - {name: s, type: 'VARCHAR(4)'}\n"
                             "  - {name: dt, type: DATE, nullable: false}\n";
    static const char us[] = "table: u\ncolumns:\n"
                             "  - {name: k, type: INT64}\n"
                             "  - {name: v, type: INT64, nullable: false}\n";
    mc2_err err;
    if (mc2_schema_parse("t", ts, sizeof ts - 1, &st, &err) ||
        mc2_schema_parse("u", us, sizeof us - 1, &su, &err) ||
        !(bt = mc2_batch_new(st, NT, &err)) || !(bu = mc2_batch_new(su, NU, &err)) ||
        mc2_batch_reserve_chars(bt, 3, NT * 16, &err)) {
        fprintf(stderr, "probe_sql: setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "trace") || !strcmp(mode, "trace-quick")) {
        tracing = 1;
        /* every allocation its own mapping, high-water marks raised first (as probe_ops) */
        mallopt(M_MMAP_THRESHOLD, 0);
        void *hw[64];
        for (int i = 0; i < 64; i++) hw[i] = malloc(i ? 64 : (size_t)64 << 20);
        for (int i = 0; i < 64; i++) free(hw[i]);
        nvariants = !strcmp(mode, "trace") ? VARIANTS : 3;
    }
    if (setup()) return 1;
    int rc = 2;
    if (!strcmp(mode, "memcheck")) {
        memcheck_all();
        printf("probe_sql memcheck: %zu queries x %d inputs x {reveal, pad}: %s\n", NQ, VARIANTS,
               failures ? "WRONG RESULTS" : "results equal encryption mode's");
        rc = failures ? 1 : 0;
    } else if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
               !strcmp(mode, "leak-fastsort")) {
        static const char *const ctl[] = {"SELECT count(*) FROM t WHERE d > 1.50",
                                          "SELECT g, count(*) FROM t GROUP BY g",
                                          "SELECT k FROM t ORDER BY d"};
        int which = !strcmp(mode, "leak-branch") ? 0 : !strcmp(mode, "leak-index") ? 1 : 2;
        fill(1);
        mark(1);
        mc2_err err;
        mc2_plan *p = mc2_plan_new(0, &err);
        mc2_sql_physical ph;
        mc2_exec *x = NULL;
        mc2_batch *out = NULL;
        const mc2_batch *tb[1] = {bt}, *ub[1] = {bu};
        mc2_sql_table tabs[2] = {{"t", st, NT}, {"u", su, NU}};
        mc2_exec_input in[2] = {{.batches = tb, .nbatches = 1}, {.batches = ub, .nbatches = 1}};
        int ok = p && !mc2_sql_compile(ctl[which], strlen(ctl[which]), tabs, 2, p, &ph, &err) &&
                 !mc2_exec_open(p, ph.root, in, 2, NULL, &x, &err) &&
                 !mc2_exec_collect(x, 1000, &out, &err);
        if (!ok) fprintf(stderr, "probe_sql %s: %s\n", mode, err.msg);
        mc2_batch_free(out);
        mc2_exec_free(x);
        mc2_plan_free(p);
        mark(0);
        printf("probe_sql %s: ran\n", mode);
        rc = 0;
    } else if (tracing) {
        trace_all();
        rc = failures ? 1 : 0;
    } else {
        fprintf(stderr, "usage: probe_sql memcheck|leak-branch|leak-index|leak-fastsort|trace|"
                        "trace-quick\n");
    }
    mc2_batch_free(bt);
    mc2_batch_free(bu);
    mc2_schema_free(st);
    mc2_schema_free(su);
    return rc;
}
