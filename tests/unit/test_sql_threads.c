/* test_sql_threads.c - results do not depend on the number of threads (exec_int.h, "parallel
 * pipelines"; exec_agg.c, "parallel aggregation"): queries over streaming (sealed, format v2)
 * tables of many small blocks run on 1, 2, 3 and 4 threads and must give bit-identical
 * results, DOUBLE sums and averages included, while the runs on several threads really run
 * pipelines in parallel. Integer and DECIMAL aggregates are pre-aggregated per thread: their
 * 128-bit partial sums (a chunk's sum here passes INT64's range, the total does not), partial
 * states handed out early and a final aggregation that spills (a tiny budget) must still give
 * the serial answer, and an overflowing total the serial error. The data is
 * checked to be order-sensitive first: summing its DOUBLE column in another block order gives
 * another bit pattern, so a parallel run that added rows in another order would be caught.
 * Four queries have semi or anti joins that build their outer side (their plans are checked
 * to say so): the subquery's rows mark the outer rows on several threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mc2/table.h"
#include "sql/binder.h"
#include "sql/plan.h"
#include "sql/planner.h"
#include "table/tfile2.h"
#include "table/tsrc.h"
#include "test.h"

#define T_BLOCKS         40
#define T_ROWS_PER_BLOCK 3000
#define U_ROWS           500

static uint8_t key[MC2_KEY_LEN];
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static mc2_column_def t_cols[] = {
    {"id", {MC2_T_INT64, 0, 0, 0}, false},   {"g", {MC2_T_INT64, 0, 0, 0}, false},
    {"k", {MC2_T_INT64, 0, 0, 0}, false},    {"d", {MC2_T_DOUBLE, 0, 0, 0}, true},
    {"s", {MC2_T_VARCHAR, 0, 0, 12}, false}, {"big", {MC2_T_INT64, 0, 0, 0}, false},
    {"dec", {MC2_T_DECIMAL, 12, 2, 0}, true}};
static mc2_schema t_schema = {.name = "t", .ncols = 7, .cols = t_cols};
static mc2_column_def u_cols[] = {{"k", {MC2_T_INT64, 0, 0, 0}, false},
                                  {"w", {MC2_T_DOUBLE, 0, 0, 0}, false}};
static mc2_schema u_schema = {.name = "u", .ncols = 2, .cols = u_cols};

static double t_d[T_BLOCKS * T_ROWS_PER_BLOCK]; /* NAN: NULL */

static int sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

/* A value whose magnitude varies over many decades, so that sums round differently in
 * different orders. */
static double wild(void)
{
    double m = (double)(int64_t)(rnd() % 2000001 - 1000000) / 7.0;
    return ldexp(m, (int)(rnd() % 60) - 20);
}

static void put_str(mc2_batch *b, size_t c, size_t r, const char *s)
{
    size_t n = strlen(s);
    if (mc2_batch_reserve_chars(b, c, n, NULL)) abort();
    mc2_col *col = &b->cols[c];
    memcpy(col->data + col->off[r], s, n);
    col->off[r + 1] = col->off[r] + (uint32_t)n;
}

/* Seals table t as T_BLOCKS blocks into out. */
static int make_t(mc2_buf *out, mc2_err *err)
{
    static const char *words[] = {"alpha", "beta", "gamma", "apple", "delta", "axe"};
    mc2_twriter *w = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (mc2_twriter_new(&t_schema, key, 0, sink, out, &w, err)) goto out;
    for (size_t bi = 0; bi < T_BLOCKS; bi++) {
        mc2_batch_free(b);
        if (!(b = mc2_batch_new(&t_schema, T_ROWS_PER_BLOCK, err))) goto out;
        for (size_t r = 0; r < T_ROWS_PER_BLOCK; r++) {
            size_t id = bi * T_ROWS_PER_BLOCK + r;
            b->cols[0].v.i64[r] = (int64_t)id;
            b->cols[1].v.i64[r] = (int64_t)(r % 7); /* the same groups in every block */
            b->cols[2].v.i64[r] = (int64_t)(rnd() % (U_ROWS + 50)); /* some match no u row */
            bool null = rnd() % 50 == 0;
            t_d[id] = null ? NAN : wild();
            b->cols[3].v.f64[r] = null ? 0 : t_d[id];
            b->cols[3].nulls[r] = null;
            put_str(b, 4, r, words[rnd() % 6]);
            /* +-4e18: three rows' sum passes INT64's range; every group's total is 0 */
            b->cols[5].v.i64[r] = (bi % 2 ? -1 : 1) * 4000000000000000000LL;
            bool dnull = rnd() % 40 == 0;
            b->cols[6].v.i64[r] = dnull ? 0 : (int64_t)(rnd() % 2000001) - 1000000;
            b->cols[6].nulls[r] = dnull;
        }
        b->nrows = T_ROWS_PER_BLOCK;
        if (mc2_twriter_add(w, b, err)) goto out;
    }
    rc = mc2_twriter_finish(w, NULL, NULL, err);
out:
    mc2_batch_free(b);
    mc2_twriter_free(w);
    return rc;
}

/* Seals table u (one block) into out. */
static int make_u(mc2_buf *out, mc2_err *err)
{
    mc2_twriter *w = NULL;
    mc2_batch *b = mc2_batch_new(&u_schema, U_ROWS, err);
    int rc = -1;
    if (!b || mc2_twriter_new(&u_schema, key, 0, sink, out, &w, err)) goto out;
    for (size_t r = 0; r < U_ROWS; r++) {
        b->cols[0].v.i64[r] = (int64_t)r;
        b->cols[1].v.f64[r] = r % 3 ? wild() : -wild();
    }
    b->nrows = U_ROWS;
    rc = mc2_twriter_add(w, b, err) || mc2_twriter_finish(w, NULL, NULL, err) ? -1 : 0;
out:
    mc2_batch_free(b);
    mc2_twriter_free(w);
    return rc;
}

static mc2_buf t_file, u_file;
static mc2_spill_store *spill_store; /* in memory: spills of the tiny-budget runs */

/* Runs text on `threads` threads over streaming sources of t and u (with a spill store unless
 * nospill); *out gets the result (its schema is the plan's: free *plan after it) and *st the
 * executor's statistics. */
static int run(const char *text, unsigned threads, size_t budget, bool nospill, mc2_plan **plan,
               mc2_batch **out, mc2_exec_stats *st, mc2_err *err)
{
    mc2_sql_table tables[2] = {{"t", &t_schema, T_BLOCKS * T_ROWS_PER_BLOCK},
                               {"u", &u_schema, U_ROWS}};
    mc2_tio io[2] = {mc2_tio_mem(t_file.data, t_file.len), mc2_tio_mem(u_file.data, u_file.len)};
    mc2_exec_input in[2] = {{0}, {0}};
    mc2_exec *x = NULL;
    mc2_sql_physical ph;
    *out = NULL;
    mc2_plan *p = *plan = mc2_plan_new(0, err);
    int rc = p ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < 2; i++)
        rc = mc2_tsrc_open(&io[i], key, 1u << 30, &in[i].src, err);
    if (rc == 0) rc = mc2_sql_compile(text, strlen(text), tables, 2, p, &ph, err);
    mc2_exec_opts eo = {
        .threads = threads, .mem_budget = budget, .spill = nospill ? NULL : spill_store};
    if (rc == 0) rc = mc2_exec_open(p, ph.root, in, 2, &eo, &x, err);
    if (rc == 0) rc = mc2_exec_collect(x, (size_t)1 << 24, out, err);
    if (rc == 0) mc2_exec_get_stats(x, st);
    mc2_exec_free(x);
    for (size_t i = 0; i < 2; i++) mc2_tsrc_free(in[i].src);
    return rc;
}

/* Whether the plan of text (EXPLAIN) contains what. */
static bool plan_has(const char *text, const char *what)
{
    mc2_sql_table tables[2] = {{"t", &t_schema, T_BLOCKS * T_ROWS_PER_BLOCK},
                               {"u", &u_schema, U_ROWS}};
    mc2_err err;
    mc2_sql_physical ph;
    mc2_buf ex = {0};
    mc2_plan *p = mc2_plan_new(0, &err);
    bool yes = p && mc2_sql_compile(text, strlen(text), tables, 2, p, &ph, &err) == 0 &&
               mc2_sql_explain_print(&ph, &ex, &err) == 0 &&
               mc2_buf_append(&ex, "", 1, &err) == 0 && strstr((const char *)ex.data, what);
    mc2_buf_free(&ex);
    mc2_plan_free(p);
    return yes;
}

/* Whether two results are the same bit for bit (a description of the first difference in
 * why otherwise). */
static bool same(const mc2_batch *a, const mc2_batch *b, char *why, size_t whylen)
{
    if (a->nrows != b->nrows || a->schema->ncols != b->schema->ncols) {
        snprintf(why, whylen, "%zu rows x %zu columns against %zu x %zu", a->nrows,
                 a->schema->ncols, b->nrows, b->schema->ncols);
        return false;
    }
    for (size_t c = 0; c < a->schema->ncols; c++) {
        const mc2_col *x = &a->cols[c], *y = &b->cols[c];
        for (size_t r = 0; r < a->nrows; r++) {
            bool nx = x->nulls && x->nulls[r], ny = y->nulls && y->nulls[r];
            bool eq = nx == ny;
            if (eq && !nx) switch (a->schema->cols[c].type.id) {
                case MC2_T_VARCHAR: {
                    uint32_t lx = x->off[r + 1] - x->off[r], ly = y->off[r + 1] - y->off[r];
                    eq = lx == ly && memcmp(x->data + x->off[r], y->data + y->off[r], lx) == 0;
                    break;
                }
                case MC2_T_DATE:
                    eq = x->v.i32[r] == y->v.i32[r];
                    break;
                case MC2_T_BOOL:
                    eq = x->v.b[r] == y->v.b[r];
                    break;
                default: /* INT64, DECIMAL, DOUBLE: the 8 bytes */
                    eq = memcmp(&x->v.i64[r], &y->v.i64[r], 8) == 0;
                    break;
                }
            if (!eq) {
                snprintf(why, whylen, "row %zu column %zu differs", r, c);
                return false;
            }
        }
    }
    return true;
}

static const struct {
    const char *sql;
    bool parallel;   /* has a pipeline over t that runs on several threads */
    size_t budget;   /* 0: the default */
    const char *err; /* the error every run must give, or NULL */
    bool outer;      /* has a semi or anti join that builds its outer side */
    bool builds;     /* several threads gather the rows of a join table (stats.parallel_builds) */
    bool nospill;    /* run without a spill store */
    bool spills;     /* a join spills (stats.spilled_joins) on any number of threads */
    const char *op;  /* a join the plan must have, as EXPLAIN shows it */
} queries[] = {
    {"SELECT g, SUM(d), AVG(d), MIN(d), MAX(d), COUNT(d), COUNT(*) FROM t GROUP BY g ORDER BY g",
     true, 0, NULL, false, false, false, false, NULL},
    {"SELECT SUM(d), AVG(d) FROM t WHERE id % 3 <> 0", true, 0, NULL, false, false, false, false,
     NULL},
    {"SELECT SUM(d) FROM t WHERE s LIKE 'a%' AND d > -1000", true, 0, NULL, false, false, false,
     false, NULL},
    {"SELECT t.g, SUM(t.d * u.w), COUNT(*) FROM t JOIN u ON t.k = u.k WHERE u.w > 0 "
     "GROUP BY t.g ORDER BY t.g",
     true, 0, NULL, false, false, false, false, NULL},
    {"SELECT t.s, SUM(t.d) FROM t LEFT JOIN u ON t.k = u.k WHERE u.k IS NULL GROUP BY t.s "
     "ORDER BY t.s",
     true, 0, NULL, false, false, false, false, NULL},
    {"SELECT g, SUM(d) AS x FROM t GROUP BY g ORDER BY x DESC LIMIT 3", true, 0, NULL, false, false,
     false, false, NULL},
    {"SELECT id, s, d FROM t WHERE d > 1000000 ORDER BY id", true, 0, NULL, false, false, false,
     false, NULL},
    {"SELECT COUNT(*), MIN(id), MAX(id) FROM t WHERE s = 'beta'", true, 0, NULL, false, false,
     false, false, NULL},
    /* integer and DECIMAL aggregates: pre-aggregated per thread */
    {"SELECT g, SUM(big), SUM(dec), AVG(dec), AVG(big), MIN(s), MAX(s), COUNT(dec), COUNT(*) "
     "FROM t GROUP BY g ORDER BY g",
     true, 0, NULL, false, false, false, false, NULL},
    {"SELECT SUM(big), AVG(dec), MIN(dec), MAX(big) FROM t", true, 0, NULL, false, false, false,
     false, NULL},
    {"SELECT SUM(big) FROM t WHERE id < 0", true, 0, NULL, false, false, false, false, NULL},
    {"SELECT s, SUM(dec), COUNT(*) FROM t JOIN u ON t.k = u.k GROUP BY s ORDER BY s", true, 0, NULL,
     false, false, false, false, NULL},
    {"SELECT id % 5000 AS m, SUM(dec), MIN(s), COUNT(*) FROM t GROUP BY id % 5000 ORDER BY m", true,
     64 << 10, NULL, false, false, false, false, NULL},
    {"SELECT id, SUM(big), MAX(s) FROM t GROUP BY id ORDER BY id LIMIT 20 OFFSET 60000", true,
     64 << 10, NULL, false, false, false, false, NULL},
    {"SELECT DISTINCT s, g FROM t ORDER BY s, g", true, 0, NULL, false, false, false, false, NULL},
    /* partial states handed out after every chunk: each holds a sum far past INT64's range
     * (so does the total in the second: AVG of INT64 is a DOUBLE) */
    {"SELECT g, SUM(big), AVG(big), COUNT(*) FROM t GROUP BY g ORDER BY g", true, 64 << 10, NULL,
     false, false, false, false, NULL},
    {"SELECT g, AVG(big), COUNT(*) FROM t WHERE big > 0 GROUP BY g ORDER BY g", true, 64 << 10,
     NULL, false, false, false, false, NULL},
    /* semi and anti joins that build their (smaller) outer side: the subquery's rows mark it
     * on several threads; the outer side comes in block order, so its sums do not vary */
    {"SELECT g, SUM(d), COUNT(*) FROM t WHERE id < 20000 AND EXISTS (SELECT 1 FROM t t2 WHERE "
     "t2.k = t.k AND t2.g <> t.g) GROUP BY g ORDER BY g",
     true, 0, NULL, true, false, false, false, NULL},
    {"SELECT g, SUM(d), COUNT(*) FROM t WHERE id < 20000 AND NOT EXISTS (SELECT 1 FROM t t2 "
     "WHERE t2.k = t.k AND t2.id > t.id + 100000) GROUP BY g ORDER BY g",
     true, 0, NULL, true, false, false, false, NULL},
    {"SELECT SUM(d), COUNT(*) FROM t WHERE id < 30000 AND g = 1 AND k NOT IN (SELECT k FROM t "
     "t2 WHERE t2.k < 400)",
     true, 0, NULL, true, false, false, false, NULL},
    {"SELECT SUM(w), COUNT(*) FROM u WHERE k IN (SELECT k FROM t WHERE g = 3 AND s = 'delta')",
     true, 0, NULL, true, false, false, false, NULL},
    {"SELECT SUM(big) FROM t WHERE big > 0", true, 0, "numeric overflow in aggregate", false, false,
     false, false, NULL},
    /* join tables whose rows several threads gather (exec_join.c, "parallel build"): each key
     * of the build side (t2.k) has ~30 rows, output in the table's order, so the DOUBLE sum
     * needs the table in block order; without a spill store, or with one in unordered plans
     * (DECIMAL sums), where a tiny budget makes the stores decline and the join spill */
    {"SELECT t.g, SUM(t2.d), COUNT(*), MIN(t2.s) FROM t JOIN t t2 ON t.id = t2.k WHERE t2.g = 1 "
     "GROUP BY t.g ORDER BY t.g",
     true, 0, NULL, false, true, true, false, "build: FILTER (t2.g = 1)"},
    {"SELECT t.g, SUM(t2.dec), COUNT(*), MIN(t2.s), MAX(t2.s) FROM t JOIN t t2 ON t.id = t2.k "
     "WHERE t2.g = 1 GROUP BY t.g ORDER BY t.g",
     true, 0, NULL, false, true, false, false, "build: FILTER (t2.g = 1)"},
    {"SELECT t.g, SUM(t2.dec), COUNT(*), MIN(t2.s), MAX(t2.s) FROM t JOIN t t2 ON t.id = t2.k "
     "WHERE t2.g = 1 GROUP BY t.g ORDER BY t.g",
     true, 64 << 10, NULL, false, true, false, true, "build: FILTER (t2.g = 1)"},
    {"SELECT t.id, t2.id, t2.s FROM t JOIN t t2 ON t.id = t2.k WHERE t2.g = 1 AND t.id < 40 "
     "ORDER BY t.id, t2.id",
     true, 0, NULL, false, true, false, false, "build: FILTER (t2.g = 1)"},
    /* RIGHT and FULL joins probed on several threads: the last instance to end outputs the
     * build rows no instance matched (in an ordered plan, DOUBLE sums, on one thread) */
    {"SELECT u.k, t.id, t.dec FROM u LEFT JOIN t ON u.k = t.k AND t.dec > 9900 ORDER BY u.k, "
     "t.id",
     true, 0, NULL, false, false, false, false, "HASH JOIN RIGHT"},
    {"SELECT u.k % 7 AS m, COUNT(t.id), SUM(t.dec), COUNT(*) FROM u LEFT JOIN t ON u.k = t.k AND "
     "t.dec > 9900 GROUP BY u.k % 7 ORDER BY m",
     true, 0, NULL, false, false, false, false, "HASH JOIN RIGHT"},
    {"SELECT COUNT(*), COUNT(t.id), COUNT(u.k), SUM(t.dec), SUM(u.k) FROM t FULL JOIN u ON "
     "t.k = u.k AND t.dec > 9900",
     true, 0, NULL, false, false, false, false, "HASH JOIN FULL"},
    {"SELECT COUNT(t.id), SUM(u.w), SUM(t.d) FROM u LEFT JOIN t ON u.k = t.k AND t.dec > 9900",
     true, 0, NULL, false, false, false, false, "HASH JOIN RIGHT"},
    /* wide DECIMAL sums (128-bit addends): partial states, early hand-outs, and a partial sum
     * past 2^127 (4e35 a row) that must fail as the serial run does */
    {"SELECT g, SUM(CAST(big AS DECIMAL(38,0)) * 1000000000), SUM(CAST(dec AS DECIMAL(30,2))), "
     "AVG(CAST(dec AS DECIMAL(30,2))) FROM t GROUP BY g ORDER BY g",
     true, 64 << 10, NULL, false, false, false, false, NULL},
    {"SELECT SUM(CAST(big AS DECIMAL(38,0)) * 1000000000), MAX(CAST(big AS DECIMAL(20,0))) FROM t",
     true, 0, NULL, false, false, false, false, NULL},
    {"SELECT SUM(CAST(big AS DECIMAL(38,0)) * 100000000000000000) FROM t WHERE big > 0", true, 0,
     "numeric overflow in aggregate", false, false, false, false, NULL},
};

/* The data is order-sensitive: its DOUBLE column summed in block order and in another
 * order (odd blocks first) differ in their bits. */
static void check_sensitive(void)
{
    double fwd = 0, other = 0;
    for (size_t i = 0; i < T_BLOCKS * T_ROWS_PER_BLOCK; i++)
        if (!isnan(t_d[i])) fwd += t_d[i];
    for (size_t pass = 1; pass < 3; pass++)
        for (size_t bi = pass % 2; bi < T_BLOCKS; bi += 2)
            for (size_t r = 0; r < T_ROWS_PER_BLOCK; r++) {
                double v = t_d[bi * T_ROWS_PER_BLOCK + r];
                if (!isnan(v)) other += v;
            }
    CHECK_MSG(memcmp(&fwd, &other, sizeof fwd) != 0,
              "the test data's DOUBLE sum does not depend on the order (%.17g)", fwd);
}

int main(void)
{
    mc2_err err;
    for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(i * 29 + 3);
    CHECK(make_t(&t_file, &err) == 0);
    CHECK(make_u(&u_file, &err) == 0);
    spill_store = mc2_spill_memstore_new(&err);
    CHECK(spill_store != NULL);
    check_sensitive();
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        mc2_batch *one = NULL;
        mc2_plan *p1 = NULL;
        mc2_exec_stats st;
        bool nosp = queries[q].nospill;
        int rc = run(queries[q].sql, 1, queries[q].budget, nosp, &p1, &one, &st, &err);
        if (queries[q].err) {
            CHECK_MSG(rc != 0 && strstr(err.msg, queries[q].err), "query %zu on 1 thread: %s",
                      q + 1, rc ? err.msg : "no error");
            for (unsigned th = 2; th <= 4; th++) {
                mc2_plan *pn = NULL;
                mc2_batch *many = NULL;
                rc = run(queries[q].sql, th, queries[q].budget, nosp, &pn, &many, &st, &err);
                CHECK_MSG(rc != 0 && strstr(err.msg, queries[q].err), "query %zu on %u threads: %s",
                          q + 1, th, rc ? err.msg : "no error");
                mc2_batch_free(many);
                mc2_plan_free(pn);
            }
            mc2_plan_free(p1);
            continue;
        }
        CHECK_MSG(rc == 0, "query %zu on 1 thread: %s", q + 1, err.msg);
        if (rc) {
            mc2_plan_free(p1);
            continue;
        }
        CHECK_MSG(one->nrows > 0 && one->schema->ncols > 0,
                  "query %zu: no rows (the test would compare nothing)", q + 1);
        CHECK_MSG(plan_has(queries[q].sql, "[build: outer]") == queries[q].outer,
                  "query %zu: the plan %s a semi join that builds its outer side", q + 1,
                  queries[q].outer ? "lacks" : "has");
        CHECK_MSG(!queries[q].op || plan_has(queries[q].sql, queries[q].op),
                  "query %zu: the plan has no %s", q + 1, queries[q].op);
        CHECK_MSG(!queries[q].spills || st.spilled_joins > 0, "query %zu: no join spilled", q + 1);
        for (unsigned th = 2; th <= 4; th++) {
            mc2_batch *many = NULL;
            mc2_plan *pn = NULL;
            char why[128];
            rc = run(queries[q].sql, th, queries[q].budget, nosp, &pn, &many, &st, &err);
            CHECK_MSG(rc == 0, "query %zu on %u threads: %s", q + 1, th, err.msg);
            if (rc == 0)
                CHECK_MSG(!queries[q].parallel || st.parallel > 0,
                          "query %zu on %u threads ran serially", q + 1, th);
            if (rc == 0)
                CHECK_MSG(!queries[q].builds || st.parallel_builds > 0,
                          "query %zu on %u threads: no join table built in parallel", q + 1, th);
            if (rc == 0)
                CHECK_MSG(!queries[q].spills || st.spilled_joins > 0,
                          "query %zu on %u threads: no join spilled", q + 1, th);
            if (rc == 0)
                CHECK_MSG(same(one, many, why, sizeof why),
                          "query %zu: 1 thread and %u threads: %s", q + 1, th, why);
            mc2_batch_free(many);
            mc2_plan_free(pn);
        }
        mc2_batch_free(one);
        mc2_plan_free(p1);
    }
    mc2_spill_memstore_free(spill_store);
    mc2_buf_free(&t_file);
    mc2_buf_free(&u_file);
    return test_done("test_sql_threads");
}
