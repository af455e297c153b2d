/* test_sql_plan.c - the planner on TPC-H with the schemas' declared keys (docs/sql.md, "Join
 * order"). At SF 1 row counts (no data needed to plan): every query's plan keeps every
 * operator's estimate within twice the largest input, inner hash joins build their smaller
 * side, Q5 and Q18 have sane join orders, key joins are marked for oblivious mode's PK-FK
 * join. With data: a declared key the data breaks fails only an oblivious job (encryption
 * mode's rows are right), and Q5 and Q18 run at SF 0.1 (MC2_PLAN_SF) with SQLite's rows and
 * small operator memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "mc2/table.h"
#include "sql/oexec.h"
#include "sql/planner.h"
#include "sqlref/sqlref.h"
#include "table/textio.h"
#include "test.h"
#include "tload.h"
#include "tpch/tpch.h"

#define NT 8
static const char *const names[NT] = {"lineitem", "orders",   "customer", "part",
                                      "partsupp", "supplier", "nation",   "region"};
/* The SF 1 row counts of dbgen (clause 4.2.5). */
static const uint64_t sf1_rows[NT] = {6001215, 1500000, 150000, 200000, 800000, 10000, 25, 5};
static mc2_sql_table tpch[NT];

static int load_schemas(void)
{
    const char *src = getenv("MC2_SRC");
    for (int i = 0; i < NT; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/schemas/tpch/%s.yaml", src ? src : ".", names[i]);
        mc2_schema *s;
        mc2_err err;
        if (mc2_schema_load(path, &s, &err)) {
            fprintf(stderr, "cannot load %s: %s\n", path, err.msg);
            return -1;
        }
        tpch[i] = (mc2_sql_table){names[i], s, sf1_rows[i]};
    }
    return 0;
}

static char *query(int q)
{
    char rel[64];
    snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
    return test_read_file(test_data(rel), NULL);
}

/* Compiles text over t into *p (new) and its EXPLAIN text (NUL-terminated) into ex. */
static int plan(const char *text, const mc2_sql_table *t, size_t nt, mc2_plan **p,
                mc2_sql_physical *ph, mc2_buf *ex, mc2_err *err)
{
    *p = mc2_plan_new(64u << 20, err);
    if (!*p) return -1;
    mc2_buf_reset(ex);
    if (mc2_sql_compile(text, strlen(text), t, nt, *p, ph, err) ||
        mc2_sql_explain_print(ph, ex, err) || mc2_buf_append(ex, "", 1, err)) {
        mc2_plan_free(*p);
        *p = NULL;
        return -1;
    }
    return 0;
}

/* ---- EXPLAIN as a tree of lines ---------------------------------------------------------- */

#define MAXL 256
typedef struct xline {
    int depth;
    const char *role; /* "probe", "build", "outer", "inner (in memory)" or "" */
    const char *op;   /* the operator's label */
    double rows;
    char text[1024];
} xline;

static double parse_rows(const char *s)
{
    const char *p = strstr(s, "(~");
    if (!p) return -1;
    char *end;
    double v = strtod(p + 2, &end);
    if (*end == 'K') v *= 1e3;
    if (*end == 'M') v *= 1e6;
    return v;
}

static size_t parse_explain(const char *ex, xline *v)
{
    size_t n = 0;
    for (const char *p = ex; *p && n < MAXL; n++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        xline *x = &v[n];
        snprintf(x->text, sizeof x->text, "%.*s", (int)len, p);
        int sp = 0;
        while (x->text[sp] == ' ') sp++;
        x->depth = sp / 2;
        x->op = x->text + sp;
        x->role = "";
        static const char *const roles[] = {"probe: ", "build: ", "outer: ", "inner (in memory): "};
        for (int r = 0; r < 4; r++)
            if (strncmp(x->op, roles[r], strlen(roles[r])) == 0) {
                x->role = roles[r];
                x->op += strlen(roles[r]);
            }
        x->rows = parse_rows(x->text);
        p = e ? e + 1 : p + len;
    }
    return n;
}

/* The index of the child of line i with role prefix `role`, or -1. */
static long child(const xline *v, size_t n, size_t i, const char *role)
{
    for (size_t j = i + 1; j < n && v[j].depth > v[i].depth; j++)
        if (v[j].depth == v[i].depth + 1 && strcmp(v[j].role, role) == 0) return (long)j;
    return -1;
}

static unsigned count(const char *s, const char *needle)
{
    unsigned k = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) k++;
    return k;
}

/* ---- every query at SF 1 ----------------------------------------------------------------- */

static void test_tpch_bounds(void)
{
    double largest = 0;
    for (int i = 0; i < NT; i++)
        if ((double)sf1_rows[i] > largest) largest = (double)sf1_rows[i];
    mc2_buf ex = {0};
    static xline v[MAXL];
    for (int q = 1; q <= 22; q++) {
        char *text = query(q);
        CHECK_MSG(text != NULL, "cannot read Q%d", q);
        if (!text) continue;
        mc2_plan *p;
        mc2_sql_physical ph;
        mc2_err err;
        int rc = plan(text, tpch, NT, &p, &ph, &ex, &err);
        CHECK_MSG(rc == 0, "Q%d: %s", q, err.msg);
        free(text);
        if (rc) continue;
        size_t n = parse_explain((const char *)ex.data, v);
        size_t worst = 0, worst_join = n, worst_mid = n;
        for (size_t i = 0; i < n; i++) {
            CHECK_MSG(v[i].rows >= 1, "Q%d line %zu has no estimate: %s", q, i, v[i].text);
            if (v[i].rows > v[worst].rows) worst = i;
            if (strncmp(v[i].op, "SCAN ", 5) && (worst_mid == n || v[i].rows > v[worst_mid].rows))
                worst_mid = i;
            bool join = strncmp(v[i].op, "HASH JOIN", 9) == 0 || strncmp(v[i].op, "NESTED", 6) == 0;
            if (join && (worst_join == n || v[i].rows > v[worst_join].rows)) worst_join = i;
            /* inner and outer joins hold their smaller estimated side in memory */
            bool hash = strncmp(v[i].op, "HASH JOIN ", 10) == 0;
            bool semi = strstr(v[i].op, "JOIN SEMI") || strstr(v[i].op, "JOIN ANTI");
            if (join && !semi) {
                long a = child(v, n, i, hash ? "probe: " : "outer: ");
                long b = child(v, n, i, hash ? "build: " : "inner (in memory): ");
                CHECK_MSG(a >= 0 && b >= 0 && v[b].rows <= v[a].rows,
                          "Q%d builds its larger side:\n%s\n%s\n%s", q, v[i].text,
                          a >= 0 ? v[a].text : "?", b >= 0 ? v[b].text : "?");
            }
            /* semi and anti hash joins build their outer side exactly when it is estimated
             * under half the subquery side (the outer side is the first child either way) */
            if (hash && semi) {
                bool outer = strstr(v[i].op, "[build: outer]") != NULL;
                long o = child(v, n, i, outer ? "build: " : "probe: ");
                long sq = child(v, n, i, outer ? "probe: " : "build: ");
                CHECK_MSG(o >= 0 && sq > o && outer == (2 * v[o].rows < v[sq].rows),
                          "Q%d: semi join builds the wrong side:\n%s", q, (const char *)ex.data);
            }
        }
        /* no operator estimated above twice the largest input (6M lineitem rows) */
        CHECK_MSG(v[worst].rows <= 2 * largest, "Q%d estimates %g rows:\n%s", q, v[worst].rows,
                  (const char *)ex.data);
        /* no join estimated above the largest input either */
        CHECK_MSG(worst_join == n || v[worst_join].rows <= largest, "Q%d: join of %g rows\n%s", q,
                  v[worst_join].rows, (const char *)ex.data);
        if (getenv("MC2_SHOW_PLANS")) {
            printf("---- Q%d\n%s", q, (const char *)ex.data);
        }
        printf("Q%-2d largest estimate: %9.0f rows above a scan, %9.0f rows of a join\n", q,
               worst_mid < n ? v[worst_mid].rows : 0, worst_join < n ? v[worst_join].rows : 0);
        mc2_plan_free(p);
    }
    mc2_buf_free(&ex);
}

/* Q5: the join orders through the foreign keys; the customer-supplier nation equality is
 * applied only with the custkey join (never a nation-to-nation product), every join is on a
 * key (PK-FK), and nothing is estimated above lineitem's rows. */
static void test_q5_shape(void)
{
    char *text = query(5);
    mc2_buf ex = {0};
    mc2_plan *p = NULL;
    mc2_sql_physical ph;
    mc2_err err;
    CHECK(text && plan(text, tpch, NT, &p, &ph, &ex, &err) == 0);
    if (p) {
        const char *s = (const char *)ex.data;
        static xline v[MAXL];
        size_t n = parse_explain(s, v);
        unsigned joins = 0, keyed = 0;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(v[i].op, "HASH JOIN INNER", 15)) continue;
            joins++;
            keyed += strstr(v[i].op, "[unique: ") != NULL;
            if (strstr(v[i].op, "c_nationkey = ") || strstr(v[i].op, "= customer.c_nationkey"))
                CHECK_MSG(strstr(v[i].op, "c_custkey"), "Q5 joins on the nation key alone:\n%s", s);
            CHECK_MSG(v[i].rows <= (double)sf1_rows[0], "Q5 join of %g rows:\n%s", v[i].rows, s);
        }
        CHECK_MSG(joins == 5 && keyed == 5, "Q5: %u joins, %u on keys:\n%s", joins, keyed, s);
        CHECK(count(s, "NESTED LOOP") == 0);
        /* orders is filtered to its year before any join */
        CHECK(strstr(s, "FILTER ((orders.o_orderdate < DATE '1994-01-01' + INTERVAL '1' YEAR) AND "
                        "(orders.o_orderdate >= DATE '1994-01-01'))"));
    }
    mc2_plan_free(p);
    mc2_buf_free(&ex);
    free(text);
}

/* Q18: the IN (... HAVING SUM(l_quantity) > 300) semi join filters orders itself, below the
 * joins with customer and lineitem, and lineitem is probed against the small side. */
static void test_q18_shape(void)
{
    char *text = query(18);
    mc2_buf ex = {0};
    mc2_plan *p = NULL;
    mc2_sql_physical ph;
    mc2_err err;
    CHECK(text && plan(text, tpch, NT, &p, &ph, &ex, &err) == 0);
    if (p) {
        const char *s = (const char *)ex.data;
        static xline v[MAXL];
        size_t n = parse_explain(s, v);
        long semi = -1, li = -1;
        for (size_t i = 0; i < n; i++) {
            if (strstr(v[i].op, "HASH JOIN SEMI ON orders.o_orderkey = lineitem.l_orderkey"))
                semi = (long)i;
            if (strncmp(v[i].op, "HASH JOIN INNER ON orders.o_orderkey = lineitem.l_orderkey",
                        58) == 0)
                li = (long)i;
        }
        CHECK_MSG(semi >= 0 && li >= 0, "Q18:\n%s", s);
        if (semi >= 0 && li >= 0) {
            long pr = child(v, n, (size_t)semi, "probe: ");
            CHECK_MSG(pr >= 0 && strncmp(v[pr].op, "SCAN orders", 11) == 0,
                      "Q18's semi join does not filter orders:\n%s", s);
            /* the semi join is inside the lineitem join's build side */
            long b = child(v, n, (size_t)li, "build: ");
            long pl = child(v, n, (size_t)li, "probe: ");
            CHECK_MSG(b >= 0 && semi > b && v[semi].depth > v[li].depth,
                      "Q18's semi join is not below the lineitem join:\n%s", s);
            CHECK(pl >= 0 && strncmp(v[pl].op, "SCAN lineitem", 13) == 0);
            CHECK(b >= 0 && v[b].rows < 1e6);
        }
    }
    mc2_plan_free(p);
    mc2_buf_free(&ex);
    free(text);
}

/* Q4, Q21 and Q22: their semi and anti joins build the outer side (a few hundred thousand
 * rows at most) and probe it with the subquery's rows (millions of lineitem or orders rows). */
static void test_semi_outer(void)
{
    static const struct {
        int q;
        unsigned joins;    /* semi/anti joins that build their outer side */
        const char *build; /* what the first one's build side starts with */
        const char *probe;
    } want[] = {
        {4, 1, "FILTER ((orders.o_orderdate", "FILTER (lineitem.l_commitdate"},
        {21, 2, "HASH JOIN SEMI ON l1.l_orderkey = l2.l_orderkey", "FILTER (l3.l_receiptdate"},
        {22, 1, "FILTER SUBSTRING(customer.c_phone", "SCAN orders"},
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        char *text = query(want[k].q);
        mc2_buf ex = {0};
        mc2_plan *p = NULL;
        mc2_sql_physical ph;
        mc2_err err;
        CHECK(text && plan(text, tpch, NT, &p, &ph, &ex, &err) == 0);
        if (p) {
            const char *s = (const char *)ex.data;
            static xline v[MAXL];
            size_t n = parse_explain(s, v);
            long first = -1;
            for (size_t i = 0; i < n && first < 0; i++)
                if (strstr(v[i].op, "[build: outer]")) first = (long)i;
            CHECK_MSG(count(s, "[build: outer]") == want[k].joins && first >= 0,
                      "Q%d: not %u semi joins building the outer side:\n%s", want[k].q,
                      want[k].joins, s);
            if (first >= 0) {
                long b = child(v, n, (size_t)first, "build: ");
                long pr = child(v, n, (size_t)first, "probe: ");
                CHECK_MSG(b >= 0 && pr >= 0 &&
                              strncmp(v[b].op, want[k].build, strlen(want[k].build)) == 0 &&
                              strncmp(v[pr].op, want[k].probe, strlen(want[k].probe)) == 0 &&
                              v[b].rows * 4 < v[pr].rows,
                          "Q%d:\n%s", want[k].q, s);
            }
        }
        mc2_plan_free(p);
        mc2_buf_free(&ex);
        free(text);
    }
}

/* ---- aggregate prefilter (docs/sql-exec.md, "Aggregate prefilter") ----------------------- */

/* Plans text at SF 1 and returns how many prefilters its EXPLAIN shows (-1: no plan); the
 * EXPLAIN text goes to ex. */
static int prefilters(const char *text, mc2_buf *ex)
{
    mc2_plan *p = NULL;
    mc2_sql_physical ph;
    mc2_err err;
    if (plan(text, tpch, NT, &p, &ph, ex, &err)) {
        fprintf(stderr, "cannot plan: %s\n  %s\n", err.msg, text);
        return -1;
    }
    mc2_plan_free(p);
    return (int)count((const char *)ex->data, "[prefilter: encryption mode only]");
}

/* The rule fires for Q17's shape (the grouped subquery's input filtered by the selected parts'
 * keys, below the aggregation) and for an inner or semi join with a small side; never for a
 * LEFT or anti join (their unmatched rows stay), a big other side, a small side that reads much
 * to compute, or a key that is not a plain column of the aggregate's input. */
static void test_prefilter_rule(void)
{
    static const char sub[] = "(SELECT l_partkey, AVG(l_quantity) AS a FROM lineitem GROUP BY "
                              "l_partkey) s ON p_partkey = s.l_partkey";
    static const char sel[] = " WHERE p_brand = 'Brand#23' AND p_container = 'MED BOX'";
    static const char in_sub[] = "p_partkey %s (SELECT l_partkey FROM lineitem GROUP BY "
                                 "l_partkey HAVING SUM(l_quantity) > 100)";
    char cond[256];
    struct {
        const char *what;
        char sql[1024];
        int want;
    } cases[12];
    size_t nc = 0;
#define CASE(w, n, ...)                                                                            \
    do {                                                                                           \
        cases[nc].what = w;                                                                        \
        cases[nc].want = n;                                                                        \
        snprintf(cases[nc++].sql, sizeof cases[0].sql, __VA_ARGS__);                               \
    } while (0)
    CASE("inner join", 1, "SELECT p_partkey, s.a FROM part JOIN %s%s", sub, sel);
    CASE("left join", 0, "SELECT p_partkey, s.a FROM part LEFT JOIN %s%s", sub, sel);
    CASE("left join, the aggregate preserved", 0,
         "SELECT s.l_partkey, s.a, p.p_size FROM (SELECT l_partkey, AVG(l_quantity) AS a FROM "
         "lineitem GROUP BY l_partkey) s LEFT JOIN (SELECT p_partkey, p_size FROM part%s) p ON "
         "p.p_partkey = s.l_partkey",
         sel);
    snprintf(cond, sizeof cond, in_sub, "IN");
    CASE("semi join", 1, "SELECT p_partkey FROM part%s AND %s", sel, cond);
    snprintf(cond, sizeof cond, in_sub, "NOT IN");
    CASE("anti join", 0, "SELECT p_partkey FROM part%s AND %s", sel, cond);
    CASE("anti join (NOT EXISTS)", 0,
         "SELECT p_partkey FROM part%s AND NOT EXISTS (SELECT 1 FROM (SELECT l_partkey, "
         "SUM(l_quantity) AS q FROM lineitem GROUP BY l_partkey) g WHERE g.l_partkey = p_partkey "
         "AND g.q > 100)",
         sel);
    CASE("big other side", 0,
         "SELECT ps_suppkey, s.a FROM partsupp JOIN (SELECT l_partkey, AVG(l_quantity) AS a FROM "
         "lineitem GROUP BY l_partkey) s ON ps_partkey = s.l_partkey");
    CASE("computed group key", 0,
         "SELECT p_partkey, s.a FROM part JOIN (SELECT l_partkey + 0 AS pk, AVG(l_quantity) AS a "
         "FROM lineitem GROUP BY l_partkey + 0) s ON p_partkey = s.pk%s",
         sel);
    /* the aggregate joins partsupp, which a semi join above restricts to the selected parts:
     * the rule follows ps_partkey = l_partkey across the inner join (TPC-H Q20's shape) */
    CASE("through a semi join and an equality", 1,
         "SELECT ps_suppkey FROM partsupp JOIN (SELECT l_partkey, SUM(l_quantity) AS q FROM "
         "lineitem GROUP BY l_partkey) g ON g.l_partkey = ps_partkey WHERE ps_availqty > g.q AND "
         "ps_partkey IN (SELECT p_partkey FROM part%s)",
         sel);
    CASE("not through a left join", 0,
         "SELECT ps_suppkey FROM partsupp LEFT JOIN (SELECT l_partkey, SUM(l_quantity) AS q FROM "
         "lineitem GROUP BY l_partkey) g ON g.l_partkey = ps_partkey WHERE "
         "ps_partkey IN (SELECT p_partkey FROM part%s)",
         sel);
#undef CASE
    for (size_t i = 0; i < nc; i++) {
        mc2_buf ex = {0};
        int got = prefilters(cases[i].sql, &ex);
        CHECK_MSG(got == cases[i].want, "%s: %d prefilters, want %d:\n%s", cases[i].what, got,
                  cases[i].want, ex.data ? (const char *)ex.data : "");
        mc2_buf_free(&ex);
    }
    /* Q2: its ~2000 parts are few, but computing them again reads all 200K part rows, more
     * than 1/8 of the subquery aggregation's ~160K input rows: no prefilter */
    char *q2 = query(2);
    mc2_buf ex2 = {0};
    int n2 = q2 ? prefilters(q2, &ex2) : -1;
    CHECK_MSG(n2 == 0, "Q2: %d prefilters:\n%s", n2, ex2.data ? (const char *)ex2.data : "");
    mc2_buf_free(&ex2);
    free(q2);
    /* Q20: its aggregate's input filtered by the selected parts (the prefilter reached through
     * the join with partsupp and the semi join above it) */
    char *q20 = query(20);
    mc2_buf ex20 = {0};
    int n20 = q20 ? prefilters(q20, &ex20) : -1;
    CHECK_MSG(n20 == 1 &&
                  strstr((const char *)ex20.data,
                         "HASH JOIN SEMI ON lineitem.l_partkey = part.p_partkey [prefilter"),
              "Q20: %d prefilters:\n%s", n20, ex20.data ? (const char *)ex20.data : "");
    mc2_buf_free(&ex20);
    free(q20);
    /* Q17: SEMI JOIN (lineitem, the selected parts) right below the subquery's aggregation */
    char *text = query(17);
    mc2_buf ex = {0};
    CHECK(text && prefilters(text, &ex) == 1);
    if (ex.data) {
        static xline v[MAXL];
        size_t n = parse_explain((const char *)ex.data, v);
        long at = -1;
        for (size_t i = 0; i < n && at < 0; i++)
            if (strstr(v[i].op, "[prefilter")) at = (long)i;
        long pr = at >= 0 ? child(v, n, (size_t)at, "probe: ") : -1;
        long b = at >= 0 ? child(v, n, (size_t)at, "build: ") : -1;
        CHECK_MSG(at >= 2 && pr >= 0 && b >= 0 &&
                      strncmp(v[at].op, "HASH JOIN SEMI ON lineitem.l_partkey = part.p_partkey",
                              53) == 0 &&
                      strncmp(v[at - 1].op, "PROJECT (grouping keys", 22) == 0 &&
                      strncmp(v[at - 2].op, "HASH AGGREGATE BY lineitem.l_partkey", 36) == 0 &&
                      strncmp(v[pr].op, "SCAN lineitem", 13) == 0 &&
                      strncmp(v[b].op, "FILTER ((part.p_container", 25) == 0 &&
                      v[at].rows * 8 < v[pr].rows,
                  "Q17:\n%s", (const char *)ex.data);
    }
    mc2_buf_free(&ex);
    free(text);
}

/* Oblivious mode runs a prefilter's left child only (mc2_pn_join_set_prefilter): a prefilter
 * whose small side it could not even run (INTERSECT) neither fails the check nor the run, and
 * its rows are the left child's, all of them; the vectorized executor drops those without a
 * match. The same join unmarked fails the oblivious check (the control). */
static void test_prefilter_oblivious(void)
{
    mc2_err err;
    mc2_plan *p = mc2_plan_new(0, &err);
    if (!p) return;
    mc2_pexpr *lc[3] = {mc2_px_int(p, 1), mc2_px_int(p, 2), mc2_px_int(p, 3)};
    mc2_pexpr *a[2] = {mc2_px_int(p, 2), mc2_px_int(p, 3)},
              *b[2] = {mc2_px_int(p, 3), mc2_px_int(p, 4)};
    mc2_pnode *j[2];
    for (int marked = 0; marked < 2; marked++) {
        mc2_pnode *l = mc2_pn_values(p, lc, 3, 1, NULL);
        mc2_pnode *r = mc2_pn_setop(p, MC2_SETOP_INTERSECT, false, mc2_pn_values(p, a, 2, 1, NULL),
                                    mc2_pn_values(p, b, 2, 1, NULL));
        unsigned k0 = 0;
        j[marked] = mc2_pn_hash_join(p, MC2_JOIN_SEMI, l, r, &k0, &k0, 1, NULL, false);
        mc2_pn_join_set_prefilter(j[marked], marked);
    }
    CHECK_MSG(j[0] && j[1] && !mc2_plan_error(p), "%s",
              mc2_plan_error(p) ? mc2_plan_error(p)->msg : "");
    if (!j[0] || !j[1]) {
        mc2_plan_free(p);
        return;
    }
    CHECK(mc2_oexec_check(j[0], &err) == -1 && strstr(err.msg, "INTERSECT"));
    CHECK_MSG(mc2_oexec_check(j[1], &err) == 0, "%s", err.msg);
    mc2_oexec_opts oo = {0};
    mc2_batch *ores = NULL, *res = NULL;
    CHECK_MSG(mc2_oexec_run(p, j[1], NULL, 0, &oo, 10, &ores, &err) == 0 && ores &&
                  ores->nrows == 3,
              "oblivious: %s", ores ? "wrong rows" : err.msg);
    mc2_exec *x = NULL;
    CHECK_MSG(mc2_exec_open(p, j[1], NULL, 0, NULL, &x, &err) == 0 &&
                  mc2_exec_collect(x, 10, &res, &err) == 0 && res && res->nrows == 1 &&
                  res->cols[0].v.i64[0] == 3,
              "encryption mode: %s", res ? "wrong rows" : err.msg);
    mc2_exec_free(x);
    mc2_batch_free(res);
    mc2_batch_free(ores);
    mc2_plan_free(p);
}

/* Without declared keys nothing is marked unique but GROUP BY results, and every query still
 * plans (the keys only sharpen estimates). */
static void test_without_keys(void)
{
    mc2_sql_table bare[NT];
    mc2_schema copies[NT];
    for (int i = 0; i < NT; i++) {
        copies[i] = *tpch[i].schema;
        copies[i].npk = copies[i].nfk = 0;
        bare[i] = tpch[i];
        bare[i].schema = &copies[i];
    }
    mc2_buf ex = {0};
    for (int q = 1; q <= 22; q++) {
        char *text = query(q);
        mc2_plan *p = NULL;
        mc2_sql_physical ph;
        mc2_err err;
        CHECK_MSG(text && plan(text, bare, NT, &p, &ph, &ex, &err) == 0, "Q%d: %s", q, err.msg);
        if (p && (q == 5 || q == 9 || q == 3))
            CHECK_MSG(!strstr((const char *)ex.data, "[unique"), "Q%d:\n%s", q, (char *)ex.data);
        mc2_plan_free(p);
        free(text);
    }
    mc2_buf_free(&ex);
}

/* Queries that stress the search: 12 inputs (ordered greedily) join without a cross product
 * or a nested loop; a chain of 150 LEFT joins on keys (uniqueness is asked through all of
 * them) and 200 ten-way joins (past the search budget) plan quickly. */
static void test_big_queries(void)
{
    mc2_buf q = {0}, ex = {0};
    mc2_err err;
    if (mc2_buf_puts(&q, "SELECT COUNT(*) FROM nation n0", &err)) abort();
    for (int i = 1; i < 12; i++)
        if (mc2_buf_printf(&q, &err, " JOIN nation n%d ON n%d.n_nationkey = n%d.n_regionkey", i,
                           i - 1, i))
            abort();
    if (mc2_buf_append(&q, "", 1, &err)) abort();
    mc2_plan *p = NULL;
    mc2_sql_physical ph;
    CHECK_MSG(plan((const char *)q.data, tpch, NT, &p, &ph, &ex, &err) == 0, "%s", err.msg);
    if (p) {
        CHECK(count((const char *)ex.data, "HASH JOIN INNER") == 11);
        CHECK(!strstr((const char *)ex.data, "NESTED LOOP"));
    }
    mc2_plan_free(p);
    mc2_buf_reset(&q);
    if (mc2_buf_puts(&q, "SELECT COUNT(*) FROM orders o0", &err)) abort();
    for (int i = 1; i <= 150; i++)
        if (mc2_buf_printf(&q, &err, " LEFT JOIN orders o%d ON o%d.o_orderkey = o%d.o_orderkey", i,
                           i - 1, i))
            abort();
    if (mc2_buf_append(&q, "", 1, &err)) abort();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_MSG(plan((const char *)q.data, tpch, NT, &p, &ph, &ex, &err) == 0, "%s", err.msg);
    mc2_plan_free(p);
    mc2_buf_reset(&q);
    if (mc2_buf_puts(&q, "SELECT COUNT(*) FROM (", &err)) abort();
    for (int i = 0; i < 200; i++)
        if (mc2_buf_printf(&q, &err,
                           "%sSELECT 1 AS x FROM lineitem, orders, customer, nation n1, region r1, "
                           "supplier, nation n2, region r2, part, partsupp WHERE l_orderkey = "
                           "o_orderkey AND o_custkey = c_custkey AND c_nationkey = n1.n_nationkey "
                           "AND n1.n_regionkey = r1.r_regionkey AND l_suppkey = s_suppkey AND "
                           "s_nationkey = n2.n_nationkey AND n2.n_regionkey = r2.r_regionkey AND "
                           "l_partkey = p_partkey AND ps_partkey = p_partkey AND ps_suppkey = "
                           "s_suppkey AND l_quantity > %d",
                           i ? " UNION ALL " : "", i))
            abort();
    if (mc2_buf_puts(&q, ") t", &err) || mc2_buf_append(&q, "", 1, &err)) abort();
    CHECK_MSG(plan((const char *)q.data, tpch, NT, &p, &ph, &ex, &err) == 0, "%s", err.msg);
    if (p) CHECK(!strstr((const char *)ex.data, "(every pair)"));
    mc2_plan_free(p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("planning 150 LEFT joins and 200 ten-way joins: %.2f s\n", secs);
    CHECK_MSG(secs < 20, "planning took %.1f s", secs);
    mc2_buf_free(&q);
    mc2_buf_free(&ex);
}

/* ---- a declared key the data breaks ------------------------------------------------------ */

static void put_i(mc2_batch *b, size_t c, size_t r, int64_t x)
{
    b->cols[c].v.i64[r] = x;
}

/* t(k PRIMARY KEY, v) and u(k REFERENCES t(k), w): with t's k unique, the join is marked
 * unique and oblivious mode's PK-FK join gives encryption mode's rows; with a duplicate k in
 * t, encryption mode's rows are still right and oblivious mode fails with the one bit. */
static void test_broken_key(void)
{
    mc2_err err;
    mc2_schema *ts = NULL, *us = NULL;
    const char *ty = "table: t\ncolumns:\n  - {name: k, type: INT64, nullable: false}\n"
                     "  - {name: v, type: INT64, nullable: false}\nprimary_key: [k]\n";
    const char *uy = "table: u\ncolumns:\n  - {name: k, type: INT64, nullable: false}\n"
                     "  - {name: w, type: INT64, nullable: false}\n"
                     "foreign_keys:\n  - columns: [k]\n    references: t(k)\n";
    CHECK(mc2_schema_parse("t", ty, strlen(ty), &ts, &err) == 0);
    CHECK(mc2_schema_parse("u", uy, strlen(uy), &us, &err) == 0);
    if (!ts || !us) return;
    mc2_batch *tb = mc2_batch_new(ts, 4, &err), *ub = mc2_batch_new(us, 6, &err);
    if (!tb || !ub) return;
    static const int64_t tk[4] = {1, 2, 3, 4}, uk[6] = {1, 1, 2, 4, 4, 5};
    for (size_t r = 0; r < 4; r++) put_i(tb, 0, r, tk[r]), put_i(tb, 1, r, 10 * tk[r]);
    for (size_t r = 0; r < 6; r++) put_i(ub, 0, r, uk[r]), put_i(ub, 1, r, (int64_t)r);
    tb->nrows = 4;
    ub->nrows = 6;
    const mc2_batch *tbs[1] = {tb}, *ubs[1] = {ub};
    mc2_sql_table tabs[2] = {{"t", ts, 4}, {"u", us, 6}};
    mc2_exec_input in[2] = {{.batches = tbs, .nbatches = 1}, {.batches = ubs, .nbatches = 1}};
    const char *q = "SELECT SUM(v), SUM(w), COUNT(*) FROM u JOIN t ON u.k = t.k";
    for (int broken = 0; broken < 2; broken++) {
        if (broken) put_i(tb, 0, 2, 2); /* t.k = 1, 2, 2, 4 */
        mc2_buf ex = {0};
        mc2_plan *p = NULL;
        mc2_sql_physical ph;
        CHECK(plan(q, tabs, 2, &p, &ph, &ex, &err) == 0);
        if (!p) continue;
        CHECK_MSG(strstr((const char *)ex.data, "[unique: "), "%s", (const char *)ex.data);
        mc2_exec *x = NULL;
        mc2_batch *res = NULL, *ores = NULL;
        CHECK(mc2_exec_open(p, ph.root, in, 2, NULL, &x, &err) == 0 &&
              mc2_exec_collect(x, 10, &res, &err) == 0);
        /* u rows 1,1,2,4,4 match; a second t row with k = 2 doubles u's k = 2 row */
        int64_t want_v = broken ? 10 + 10 + 20 + 30 + 40 + 40 : 10 + 10 + 20 + 40 + 40;
        int64_t want_n = broken ? 6 : 5;
        CHECK_MSG(res && res->nrows == 1 && res->cols[0].v.i64[0] == want_v &&
                      res->cols[2].v.i64[0] == want_n,
                  "encryption mode, broken %d: %s", broken, res ? "wrong rows" : err.msg);
        mc2_oexec_opts oo = {0};
        int rc = mc2_oexec_run(p, ph.root, in, 2, &oo, 10, &ores, &err);
        if (broken)
            CHECK_MSG(rc == -1 && err.code == MC2_E_INPUT && strstr(err.msg, "duplicate key"),
                      "oblivious mode with a broken key: rc %d %s", rc, err.msg);
        else
            CHECK_MSG(rc == 0 && ores && ores->nrows == 1 && ores->cols[0].v.i64[0] == want_v &&
                          ores->cols[1].v.i64[0] == 0 + 1 + 2 + 3 + 4 &&
                          ores->cols[2].v.i64[0] == want_n,
                      "oblivious mode: %s", rc ? err.msg : "wrong rows");
        mc2_batch_free(res);
        mc2_batch_free(ores);
        mc2_exec_free(x);
        mc2_plan_free(p);
        mc2_buf_free(&ex);
    }
    mc2_batch_free(tb);
    mc2_batch_free(ub);
    mc2_schema_free(ts);
    mc2_schema_free(us);
}

/* ---- Q5 and Q18 at SF 0.1 ---------------------------------------------------------------- */

static void run_q(int q, sqlite3 *db, mc2_sql_table *tabs, const mc2_exec_input *in,
                  size_t mem_limit)
{
    char *text = query(q);
    char rel[64];
    snprintf(rel, sizeof rel, "tpch/sqlite/q%d.sql", q);
    mc2_err err;
    mc2_plan *p = mc2_plan_new(0, &err);
    mc2_sql_physical ph;
    mc2_exec *x = NULL;
    mc2_batch *res = NULL;
    sqlref_result *want = NULL, *got = NULL;
    int rc = text ? mc2_sql_compile(text, strlen(text), tabs, NT, p, &ph, &err) : -1;
    if (rc == 0) rc = mc2_exec_open(p, ph.root, in, NT, NULL, &x, &err);
    if (rc == 0) rc = mc2_exec_collect(x, 1u << 20, &res, &err);
    CHECK_MSG(rc == 0, "Q%d: %s", q, err.msg);
    if (rc == 0) {
        mc2_exec_stats st;
        mc2_exec_get_stats(x, &st);
        printf("Q%d: %zu rows, peak operator memory %.1f MiB\n", q, res->nrows,
               (double)st.peak_mem / (1 << 20));
        CHECK_MSG(st.peak_mem <= mem_limit, "Q%d held %zu bytes of operator state (limit %zu)", q,
                  st.peak_mem, mem_limit);
        CHECK(res->nrows > 0);
        char why[512] = "";
        rc = sqlref_query_file(db, test_data(rel), &want, &err);
        CHECK_MSG(rc == 0, "sqlite Q%d: %s", q, err.msg);
        got = sqlref_result_for_schema(res->schema, &err);
        CHECK(got && sqlref_result_append_batch(got, res, &err) == 0);
        if (rc == 0 && got)
            CHECK_MSG(sqlref_result_cmp(want, got, 1, 1e-9, why, sizeof why) == 0, "Q%d: %s", q,
                      why);
    }
    sqlref_result_free(want);
    sqlref_result_free(got);
    mc2_batch_free(res);
    mc2_exec_free(x);
    mc2_plan_free(p);
    free(text);
}

static void test_run_sf(void)
{
    const char *sfs = getenv("MC2_PLAN_SF");
    double sf = sfs ? atof(sfs) : 0.1;
    char dir[] = "/tmp/mc2_sqlplan_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    mc2_tpch_opts o = {.sf = sf, .seed = MC2_TPCH_DEFAULT_SEED, .threads = 1};
    mc2_err err;
    int rc = mc2_tpch_generate(dir, &o, NULL, &err);
    CHECK_MSG(rc == 0, "tpch generate: %s", err.msg);
    mc2_batch *data[NT] = {0};
    const mc2_batch *one[NT][1];
    mc2_sql_table tabs[NT];
    mc2_exec_input in[NT];
    sqlite3 *db = NULL;
    for (int i = 0; rc == 0 && i < NT; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.tbl", dir, names[i]);
        data[i] = test_load_tbl(path, tpch[i].schema);
        CHECK_MSG(data[i] != NULL, "cannot load %s", path);
        if (!data[i]) rc = -1;
        if (rc) break;
        one[i][0] = data[i];
        tabs[i] = tpch[i];
        tabs[i].rows = data[i]->nrows;
        in[i] = (mc2_exec_input){.batches = one[i], .nbatches = 1};
    }
    char schema_dir[4096];
    const char *src = getenv("MC2_SRC");
    snprintf(schema_dir, sizeof schema_dir, "%s/schemas/tpch", src ? src : ".");
    if (rc == 0) {
        rc = sqlref_open(&db, &err) || sqlref_load_tpch(db, dir, schema_dir, 1, &err);
        CHECK_MSG(rc == 0, "sqlite: %s", err.msg);
    }
    if (rc == 0) {
        /* operator state stays far below the inputs (lineitem alone is ~80 MiB here). The
         * plans before declared keys held 67 MiB for Q5 (a supplier x customer product on the
         * nation key, 1.2M rows per 0.1 SF, built as a hash table) and 33 MiB for Q18 (all of
         * orders x customer in a hash table beside the grouping of lineitem by order) */
        size_t mib = (size_t)1 << 20, scale = (size_t)(sf * 10 + 0.5) ? (size_t)(sf * 10 + 0.5) : 1;
        run_q(5, db, tabs, in, 16 * mib * scale);
        run_q(18, db, tabs, in, 30 * mib * scale);
        /* semi and anti joins build their outer side: Q4 held all late lineitems (30 MiB),
         * Q21 them and all of lineitem (94 MiB), Q22 all of orders' customer keys (11 MiB) */
        run_q(4, db, tabs, in, 4 * mib * scale);
        run_q(21, db, tabs, in, 24 * mib * scale);
        run_q(22, db, tabs, in, 4 * mib * scale);
    }
    sqlref_close(db);
    for (int i = 0; i < NT; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.tbl", dir, names[i]);
        unlink(path);
        mc2_batch_free(data[i]);
    }
    rmdir(dir);
}

int main(void)
{
    if (load_schemas()) return 1;
    test_tpch_bounds();
    test_q5_shape();
    test_q18_shape();
    test_semi_outer();
    test_prefilter_rule();
    test_prefilter_oblivious();
    test_without_keys();
    test_big_queries();
    test_broken_key();
    test_run_sf();
    for (int i = 0; i < NT; i++) mc2_schema_free((mc2_schema *)tpch[i].schema);
    return test_done("test_sql_plan");
}
