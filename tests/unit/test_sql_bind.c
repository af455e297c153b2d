/* test_sql_bind.c - the binder, rewrites and physical planner: all 22 TPC-H queries bind and
 * plan, EXPLAIN shapes, error messages with exact positions, and end-to-end runs of small
 * queries through the executor on in-memory tables. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "sql/parser.h"
#include "sql/planner.h"
#include "table/textio.h"
#include "table/value.h"
#include "test.h"
#include "tload.h"
#include "tpch/tpch.h"

#include <unistd.h>

/* ---- TPC-H catalog ----------------------------------------------------------------------- */

static const char *tpch_names[8] = {"lineitem", "orders",   "customer", "part",
                                    "partsupp", "supplier", "nation",   "region"};
static const uint64_t tpch_rows[8] = {6001215, 1500000, 150000, 200000, 800000, 10000, 25, 5};
static mc2_sql_table tpch[8];

static int load_tpch(void)
{
    const char *src = getenv("MC2_SRC");
    for (int i = 0; i < 8; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/schemas/tpch/%s.yaml", src ? src : ".", tpch_names[i]);
        mc2_schema *s;
        mc2_err err;
        if (mc2_schema_load(path, &s, &err)) {
            fprintf(stderr, "cannot load %s: %s\n", path, err.msg);
            return -1;
        }
        tpch[i].name = tpch_names[i];
        tpch[i].schema = s;
        tpch[i].rows = tpch_rows[i];
    }
    return 0;
}

/* Compiles text over tables; on success appends EXPLAIN to *ex (if ex). */
static int compile(const char *text, const mc2_sql_table *t, size_t nt, mc2_buf *ex, mc2_err *err)
{
    mc2_plan *p = mc2_plan_new(64u << 20, err);
    if (!p) return -1;
    mc2_sql_physical ph;
    int rc = mc2_sql_compile(text, strlen(text), t, nt, p, &ph, err);
    if (rc == 0 && ex) {
        mc2_buf_reset(ex);
        rc = mc2_sql_explain_print(&ph, ex, err);
        if (rc == 0) rc = mc2_buf_append(ex, "", 1, err); /* NUL-terminate */
    }
    mc2_plan_free(p);
    return rc;
}

static unsigned count_sub(const char *s, const char *needle)
{
    unsigned n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* The estimated rows of the root line "... (~N rows)". */
static double root_rows(const char *ex)
{
    const char *p = strstr(ex, "(~");
    if (!p) return -1;
    double v = strtod(p + 2, NULL);
    const char *q = p + 2;
    while ((*q >= '0' && *q <= '9') || *q == '.') q++;
    if (*q == 'K') v *= 1e3;
    if (*q == 'M') v *= 1e6;
    return v;
}

static void test_tpch(void)
{
    mc2_buf ex = {0};
    /* plausible upper bounds for the result sizes (estimates, not answers) */
    static const double max_rows[23] = {0,   1e3, 200, 20,  1e5, 100, 1,   1e5, 1e4, 2e6, 20, 1e6,
                                        1e5, 2e5, 1,   1e4, 2e5, 1,   100, 1,   1e4, 100, 1e4};
    for (int q = 1; q <= 22; q++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
        size_t n;
        char *text = test_read_file(test_data(rel), &n);
        CHECK_MSG(text != NULL, "cannot read %s", rel);
        if (!text) continue;
        mc2_err err;
        int rc = compile(text, tpch, 8, &ex, &err);
        CHECK_MSG(rc == 0, "TPC-H Q%d: %s", q, err.msg);
        if (rc == 0) {
            const char *s = (const char *)ex.data;
            /* never a cross product where a join condition exists */
            CHECK_MSG(!strstr(s, "INNER (every pair)"), "Q%d has a cross product:\n%s", q, s);
            double r = root_rows(s);
            CHECK_MSG(r >= 1 && r <= max_rows[q], "Q%d: estimated %g rows\n%s", q, r, s);
            /* every join of two tables is a hash join; nested loops only for the one-row
             * results of uncorrelated scalar subqueries (Q11, Q15 handled by equality) */
            unsigned nl = count_sub(s, "NESTED LOOP");
            CHECK_MSG(nl == 0 || q == 11 || q == 22, "Q%d has %u nested-loop joins:\n%s", q, nl, s);
            if (getenv("MC2_SHOW_PLANS")) printf("---- Q%d\n%s", q, s);
        }
        free(text);
    }
    mc2_buf_free(&ex);
}

static void test_explain_shapes(void)
{
    mc2_buf ex = {0};
    mc2_err err;
    size_t n;
    char *q3 = test_read_file(test_data("tpch/queries/q3.sql"), &n);
    CHECK(q3 && compile(q3, tpch, 8, &ex, &err) == 0);
    if (q3 && ex.len) {
        const char *s = (const char *)ex.data;
        CHECK(strncmp(s,
                      "PROJECT lineitem.l_orderkey, revenue, orders.o_orderdate, "
                      "orders.o_shippriority  (~10 rows)\n",
                      82) == 0);
        CHECK(strstr(s, "\n  LIMIT 10  (~10 rows)\n"));
        CHECK(strstr(s, "\n    SORT BY revenue DESC, orders.o_orderdate  "));
        CHECK(strstr(s, "HASH AGGREGATE BY lineitem.l_orderkey, orders.o_orderdate, "
                        "orders.o_shippriority COMPUTING SUM((lineitem.l_extendedprice * (1 - "
                        "lineitem.l_discount)))"));
        CHECK(count_sub(s, "HASH JOIN INNER ON") == 2);
        CHECK(strstr(s, "HASH JOIN INNER ON orders.o_orderkey = lineitem.l_orderkey") ||
              strstr(s, "HASH JOIN INNER ON lineitem.l_orderkey = orders.o_orderkey"));
        CHECK(strstr(s, "HASH JOIN INNER ON customer.c_custkey = orders.o_custkey") ||
              strstr(s, "HASH JOIN INNER ON orders.o_custkey = customer.c_custkey"));
        /* the filters are pushed into the scans, and only needed columns are read */
        CHECK(strstr(s, "FILTER (customer.c_mktsegment = 'BUILDING')"));
        CHECK(strstr(s, "SCAN customer [c_custkey, c_mktsegment]"));
        CHECK(strstr(s, "SCAN orders [o_orderkey, o_custkey, o_orderdate, o_shippriority]"));
        CHECK(strstr(s, "SCAN lineitem [l_orderkey, l_extendedprice, l_discount, l_shipdate]"));
        /* the small filtered customer table is a build side, lineitem is probed */
        CHECK(strstr(s, "build: FILTER (customer.c_mktsegment = 'BUILDING')"));
        CHECK(strstr(s, "probe: FILTER (lineitem.l_shipdate > DATE '1995-03-15')"));
        CHECK(!strstr(s, "NESTED LOOP"));
    }
    free(q3);
    char *q17 = test_read_file(test_data("tpch/queries/q17.sql"), &n);
    CHECK(q17 && compile(q17, tpch, 8, &ex, &err) == 0);
    if (q17 && ex.len) {
        const char *s = (const char *)ex.data;
        /* the correlated AVG became a grouped aggregate joined on the correlation key */
        CHECK(strstr(s, "HASH AGGREGATE BY lineitem.l_partkey COMPUTING AVG(lineitem.l_quantity)"));
        CHECK(count_sub(s, "HASH JOIN INNER ON part.p_partkey = lineitem.l_partkey") == 2);
        /* the subquery's column is named by its text as written (docs/sql.md, "Output names") */
        CHECK(strstr(s, "[residual: (lineitem.l_quantity < 0.2 * avg(l_quantity))]"));
        CHECK(
            strstr(s, "FILTER ((part.p_container = 'MED BOX') AND (part.p_brand = 'Brand#23'))") ||
            strstr(s, "FILTER ((part.p_brand = 'Brand#23') AND (part.p_container = 'MED BOX'))"));
        CHECK(strncmp(s, "PROJECT (SUM(lineitem.l_extendedprice) / 7) AS avg_yearly", 57) == 0);
        CHECK(!strstr(s, "NESTED LOOP"));
        CHECK(!strstr(s, "subquery"));
    }
    free(q17);
    /* decorrelation shapes */
    CHECK(compile("SELECT o_orderkey FROM orders WHERE NOT EXISTS (SELECT * FROM lineitem WHERE "
                  "l_orderkey = o_orderkey AND l_quantity > 10)",
                  tpch, 8, &ex, &err) == 0);
    CHECK(ex.len && strstr((char *)ex.data, "HASH JOIN ANTI ON orders.o_orderkey = "
                                            "lineitem.l_orderkey"));
    CHECK(compile("SELECT s_name FROM supplier WHERE s_nationkey NOT IN (SELECT n_nationkey FROM "
                  "nation WHERE n_name LIKE 'A%')",
                  tpch, 8, &ex, &err) == 0);
    CHECK(ex.len && strstr((char *)ex.data, "HASH JOIN ANTI ON supplier.s_nationkey = "
                                            "nation.n_nationkey"));
    CHECK(compile("EXPLAIN SELECT c_name FROM customer WHERE c_custkey IN (SELECT o_custkey FROM "
                  "orders)",
                  tpch, 8, &ex, &err) == 0);
    CHECK(ex.len && strstr((char *)ex.data, "HASH JOIN SEMI ON customer.c_custkey = "
                                            "orders.o_custkey"));
    /* COUNT in a correlated scalar subquery: 0, not NULL, for outer rows with no match */
    CHECK(compile("SELECT c_custkey FROM customer WHERE (SELECT COUNT(*) FROM orders WHERE "
                  "o_custkey = c_custkey) = 0",
                  tpch, 8, &ex, &err) == 0);
    CHECK(ex.len && strstr((char *)ex.data, "HASH JOIN LEFT") == NULL &&
          strstr((char *)ex.data, "CASE WHEN"));
    mc2_buf_free(&ex);
}

/* ---- errors ------------------------------------------------------------------------------ */

typedef struct errcase {
    const char *sql;
    const char *msg; /* expected substring, starting with "line L, column C: " */
} errcase;

static const errcase errors[] = {
    {"SELECT l_shipdat FROM lineitem",
     "line 1, column 8: unknown column 'l_shipdat' (did you mean 'l_shipdate'?)"},
    {"SELECT * FROM lineitm", "line 1, column 15: unknown table 'lineitm' (did you mean "
                              "'lineitem'?)"},
    {"SELECT *\nFROM orders\nWHERE o_orderdat < DATE '1995-01-01'",
     "line 3, column 7: unknown column 'o_orderdat' (did you mean 'o_orderdate'?)"},
    {"SELECT zzz FROM nation", "line 1, column 8: unknown column 'zzz'"},
    {"SELECT n.n_name FROM nation", "line 1, column 8: unknown table 'n' in 'n.n_name'"},
    {"SELECT n1.n_nam FROM nation n1",
     "line 1, column 8: table 'n1' has no column 'n_nam' (did you mean 'n_name'?)"},
    {"SELECT n_name FROM nation n1, nation n2",
     "line 1, column 8: ambiguous column 'n_name' (it is in 'n1' and 'n2'; write n1.n_name or "
     "n2.n_name)"},
    {"SELECT * FROM nation, nation",
     "line 1, column 23: table name 'nation' is used twice in FROM"},
    {"SELECT * FROM lineitem WHERE l_shipdate < '1998-12-01'",
     "line 1, column 41: type mismatch: cannot compare DATE with VARCHAR(10) (write a date as "
     "DATE 'yyyy-mm-dd')"},
    {"SELECT * FROM nation WHERE n_name = 5",
     "line 1, column 35: type mismatch: cannot compare VARCHAR(25) with INT64"},
    {"SELECT n_name + 1 FROM nation",
     "line 1, column 15: type mismatch: operator + cannot take VARCHAR(25) and INT64"},
    {"SELECT * FROM nation WHERE n_nationkey",
     "line 1, column 28: type mismatch: the WHERE condition must be BOOL, not INT64"},
    {"SELECT * FROM nation WHERE n_nationkey = 1 AND n_name",
     "line 1, column 48: type mismatch: an operand of AND must be BOOL, not VARCHAR(25)"},
    {"SELECT SUM(n_name) FROM nation", "line 1, column 8: type mismatch: SUM needs a number, not "
                                       "VARCHAR(25)"},
    {"SELECT n_name, COUNT(*) FROM nation",
     "line 1, column 8: column 'nation.n_name' must appear in GROUP BY or be used in an "
     "aggregate function"},
    {"SELECT n_regionkey, n_name FROM nation GROUP BY n_regionkey",
     "line 1, column 21: column 'nation.n_name' must appear in GROUP BY"},
    {"SELECT * FROM nation WHERE SUM(n_nationkey) > 1",
     "line 1, column 28: aggregate function SUM is not allowed in WHERE"},
    {"SELECT SUM(MAX(n_nationkey)) FROM nation",
     "line 1, column 12: aggregate function calls cannot be nested (MAX)"},
    {"SELECT n_name FROM nation GROUP BY COUNT(*)",
     "line 1, column 36: aggregate function COUNT is not allowed in GROUP BY"},
    {"SELECT n_name FROM nation ORDER BY 3",
     "line 1, column 36: ORDER BY position 3 is not in the select list (it has 1 columns)"},
    {"SELECT n_name FROM nation GROUP BY 0",
     "line 1, column 36: GROUP BY position 0 is not in the select list"},
    {"SELECT n_name FROM nation UNION SELECT n_name, n_nationkey FROM nation",
     "line 1, column 27: each side of UNION must have the same number of columns (1 and 2)"},
    {"SELECT n_name FROM nation UNION SELECT n_nationkey FROM nation",
     "line 1, column 27: type mismatch: UNION column 1 have incompatible types VARCHAR(25) and "
     "INT64"},
    {"SELECT (SELECT n_name, n_nationkey FROM nation) FROM region",
     "line 1, column 8: a scalar subquery must return one column (it returns 2)"},
    {"SELECT * FROM region WHERE r_regionkey IN (SELECT n_name FROM nation)",
     "line 1, column 40: type mismatch: cannot compare INT64 with VARCHAR(25) (IN subquery)"},
    {"SELECT * FROM region WHERE r_regionkey = (SELECT n_regionkey FROM nation)",
     "line 1, column 42: not supported: a scalar subquery that may return more than one row"},
    {"SELECT * FROM region WHERE r_regionkey = 1 OR EXISTS (SELECT * FROM nation)",
     "line 1, column 47: not supported: EXISTS or IN (subquery) inside OR"},
    {"SELECT r_name FROM region WHERE r_regionkey < (SELECT MAX(n_regionkey) FROM nation WHERE "
     "n_regionkey < r_regionkey)",
     "line 1, column 102: not supported: a correlated scalar subquery whose condition on the "
     "outer query is not an equality"},
    {"SELECT * FROM region WHERE r_name LIKE n_name || 'x'",
     "line 1, column 47: not supported: a LIKE pattern that is not a string literal"},
    {"SELECT * FROM region WHERE r_name LIKE r_comment",
     "line 1, column 40: not supported: a LIKE pattern that is not a string literal"},
    {"SELECT * FROM region WHERE r_regionkey LIKE 'a%'",
     "line 1, column 40: type mismatch: LIKE needs a VARCHAR, not INT64"},
    {"SELECT CAST(r_name AS DATE) + 1 FROM region",
     "line 1, column 29: type mismatch: operator + cannot take DATE and INT64"},
    {"SELECT CAST(DATE '2020-01-01' AS BOOLEAN) FROM region",
     "line 1, column 8: type mismatch: cannot cast DATE to BOOL"},
    {"SELECT r_regionkey + INTERVAL '1' DAY FROM region",
     "line 1, column 20: type mismatch: an INTERVAL can only be added to a DATE, not INT64"},
    {"SELECT INTERVAL '1' DAY FROM region",
     "line 1, column 8: an INTERVAL can only be added to or subtracted from a DATE"},
    {"SELECT DATE '2020-01-01' - DATE '2019-01-01' FROM region",
     "line 1, column 26: not supported: DATE - DATE"},
    {"SELECT 99999999999999999999 FROM region",
     "line 1, column 8: integer literal out of range for INT64"},
    {"SELECT 1234567890.1234567890 FROM region",
     "line 1, column 8: not supported: a DECIMAL literal of 20 digits"},
    {"SELECT CASE WHEN r_regionkey = 1 THEN 'a' ELSE 2 END FROM region",
     "line 1, column 48: type mismatch: CASE results have incompatible types VARCHAR(1) and "
     "INT64"},
    {"SELECT COALESCE(r_name, 1) FROM region",
     "line 1, column 8: type mismatch: COALESCE arguments have incompatible types VARCHAR(25) and "
     "INT64"},
    {"SELECT UPPER(r_regionkey) FROM region",
     "line 1, column 14: type mismatch: UPPER needs a VARCHAR, not INT64"},
    {"SELECT EXTRACT(YEAR FROM r_name) FROM region",
     "line 1, column 8: type mismatch: EXTRACT needs a DATE, not VARCHAR(25)"},
    {"SELECT ROUND(r_regionkey, r_regionkey) FROM region",
     "line 1, column 27: not supported: ROUND digits other than an integer literal 0..18"},
    {"SELECT * FROM region JOIN nation USING (n_name)",
     "line 1, column 22: USING column 'n_name' is not in the left side of the join"},
    {"SELECT * FROM region r JOIN nation n ON r.r_regionkey = x.n_regionkey",
     "line 1, column 57: unknown table 'x' in 'x.n_regionkey'"},
    {"SELECT x.* FROM region r", "line 1, column 8: unknown table 'x' in 'x.*'"},
    {"SELECT * FROM region r (a, b, c, d)",
     "line 1, column 15: table 'r' has 3 columns but 4 names are given"},
    {"WITH a AS (SELECT 1 AS x), a AS (SELECT 2 AS y) SELECT * FROM a",
     "line 1, column 28: WITH name 'a' is defined twice"},
    {"WITH a (x, y) AS (SELECT 1) SELECT * FROM a",
     "line 1, column 6: WITH a names 2 columns but its query returns 1"},
    {"SELECT r_name FROM region UNION SELECT n_name FROM nation ORDER BY r_nam",
     "line 1, column 68: unknown column 'r_nam' in ORDER BY (it must be an output column of the "
     "set operation) (did you mean 'r_name'?)"},
    {"SELECT DISTINCT r_name FROM region ORDER BY r_regionkey",
     "line 1, column 45: for SELECT DISTINCT, ORDER BY expressions must appear in the select "
     "list"},
    {"SELECT * FROM region WHERE r_regionkey IN (1, 'a')",
     "line 1, column 47: type mismatch: cannot compare INT64 with VARCHAR(1) (IN list item 2)"},
    {"SELECT r_regionkey * 1.000000000001 * 1.0000001 FROM region",
     "not supported: a DECIMAL product with scale 19 (at most 18"},
    {"SELECT * FROM region WHERE r_regionkey = (SELECT MAX(n_regionkey) FROM nation WHERE "
     "n_name = r_name GROUP BY n_nationkey)",
     "line 1, column 42: not supported: a scalar subquery that may return more than one row"},
    {"SELECT * FROM region WHERE EXISTS (SELECT n_regionkey FROM nation WHERE n_nationkey = "
     "r_regionkey GROUP BY n_regionkey)",
     "line 1, column 28: not supported: this correlated subquery"},
    {"SELECT * FROM region WHERE r_regionkey IN (SELECT n_regionkey FROM nation WHERE n_name = "
     "r_name UNION SELECT 1)",
     "line 1, column 40: not supported: this correlated subquery"},
    {"SELECT r_name FROM region FULL JOIN nation USING (r_name)",
     "line 1, column 27: not supported: FULL JOIN ... USING (write ON)"},
    {"SELECT n_name FROM nation JOIN region ON (SELECT 1) = 1",
     "line 1, column 53: not supported: a subquery in a JOIN ... ON condition (move it to "
     "WHERE)"},
    {"SELECT n_name, (SELECT r_name FROM region WHERE r_regionkey = n_regionkey LIMIT 1) FROM "
     "nation",
     "line 1, column 16: not supported: this correlated subquery"},
};

static void test_errors(void)
{
    size_t n = sizeof errors / sizeof errors[0];
    CHECK(n >= 40);
    for (size_t i = 0; i < n; i++) {
        mc2_err err;
        mc2_err_clear(&err);
        int rc = compile(errors[i].sql, tpch, 8, NULL, &err);
        CHECK_MSG(rc != 0, "accepted: %s", errors[i].sql);
        if (rc) {
            CHECK_MSG(strstr(err.msg, errors[i].msg) != NULL, "%s\n   got: %s\n  want: %s",
                      errors[i].sql, err.msg, errors[i].msg);
            CHECK_MSG(err.code == MC2_E_INPUT, "%s: code %d", errors[i].sql, (int)err.code);
        }
    }
}

/* Statements that must bind and plan (dialect coverage without running). */
static const char *accepted[] = {
    "SELECT 1",
    "SELECT 1 + 2.5, 1e3, 'abc', DATE '2020-02-29' + INTERVAL '1' YEAR, NULL, TRUE",
    "SELECT n.* FROM nation n",
    "SELECT * FROM nation JOIN region ON n_regionkey = r_regionkey",
    "SELECT * FROM nation n JOIN region r ON n.n_regionkey = r.r_regionkey",
    "SELECT r_name, COUNT(*) FROM nation LEFT JOIN region ON n_regionkey = r_regionkey GROUP BY 1",
    "SELECT * FROM nation RIGHT JOIN region ON n_regionkey = r_regionkey",
    "SELECT * FROM nation FULL JOIN region ON n_regionkey = r_regionkey",
    "SELECT * FROM nation CROSS JOIN region",
    "SELECT * FROM nation JOIN region ON n_regionkey < r_regionkey",
    "SELECT * FROM (SELECT n_regionkey AS r_regionkey, n_name FROM nation) x JOIN region USING "
    "(r_regionkey)",
    "SELECT n_name AS nm FROM nation ORDER BY nm DESC NULLS FIRST LIMIT 3 OFFSET 1",
    "SELECT n_name FROM nation ORDER BY n_nationkey + 1",
    "SELECT n_regionkey, COUNT(DISTINCT n_name), AVG(n_nationkey), MIN(n_name) FROM nation GROUP "
    "BY n_regionkey HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC",
    "SELECT n_name FROM nation UNION ALL SELECT r_name FROM region ORDER BY 1",
    "SELECT n_regionkey FROM nation INTERSECT SELECT r_regionkey FROM region",
    "SELECT n_regionkey FROM nation EXCEPT ALL SELECT r_regionkey FROM region",
    "WITH t (a, b) AS (SELECT n_nationkey, n_name FROM nation) SELECT b FROM t WHERE a > 3",
    "SELECT CASE n_regionkey WHEN 1 THEN 'one' WHEN 2 THEN 'two' END FROM nation",
    "SELECT COALESCE(NULL, n_name), NULLIF(n_regionkey, 1), ABS(-n_regionkey), ROUND(1.2345, 2) "
    "FROM nation",
    "SELECT SUBSTRING(n_name FROM 2 FOR 3), UPPER(n_name), LOWER(n_name), LENGTH(n_name), "
    "TRIM(n_name), n_name || 'x', CONCAT(n_name, n_nationkey) FROM nation",
    "SELECT CAST(n_nationkey AS DECIMAL(10,2)), CAST(n_name AS VARCHAR), CAST('1' AS INT) FROM "
    "nation",
    "SELECT * FROM nation WHERE n_name LIKE 'A!%%' ESCAPE '!' AND n_name NOT BETWEEN 'A' AND 'B'",
    "SELECT * FROM nation WHERE n_regionkey IN (1, 2) AND n_comment IS NOT NULL",
    "SELECT (SELECT MAX(r_regionkey) FROM region), n_name FROM nation",
    "SELECT * FROM region WHERE EXISTS (SELECT n_regionkey FROM nation GROUP BY n_regionkey "
    "HAVING n_regionkey = r_regionkey)",
    "SELECT DISTINCT n_regionkey FROM nation",
    "SELECT n_name FROM nation n WHERE EXISTS (SELECT 1 FROM region WHERE r_regionkey = "
    "n.n_regionkey AND r_name <> 'x')",
    "SELECT 1 FROM nation GROUP BY n_regionkey",
    "(SELECT n_name FROM nation ORDER BY n_name LIMIT 2) UNION (SELECT r_name FROM region)",
    "SELECT o_orderkey FROM orders WHERE o_totalprice > 100 AND o_orderdate - INTERVAL '1' MONTH "
    "> DATE '1995-01-01'",
    "SELECT n_name FROM nation GROUP BY n_name HAVING n_name > 'B'",
    "SELECT COUNT(*) FROM lineitem",
};

static void test_accepted(void)
{
    mc2_buf ex = {0};
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        mc2_err err;
        int rc = compile(accepted[i], tpch, 8, &ex, &err);
        CHECK_MSG(rc == 0, "%s\n  %s", accepted[i], err.msg);
    }
    mc2_buf_free(&ex);
}

/* ---- end to end -------------------------------------------------------------------------- */

/* Two small tables: t(a INT64 NULL, b VARCHAR(8) NULL, c DECIMAL(10,2), d DATE) and
 * u(k INT64, v INT64 NULL). */
static mc2_column_def t_cols[] = {{"a", {MC2_T_INT64, 0, 0, 0}, true},
                                  {"b", {MC2_T_VARCHAR, 0, 0, 8}, true},
                                  {"c", {MC2_T_DECIMAL, 10, 2, 0}, false},
                                  {"d", {MC2_T_DATE, 0, 0, 0}, false}};
static mc2_schema t_schema = {.name = "t", .ncols = 4, .cols = t_cols};
static mc2_column_def u_cols[] = {{"k", {MC2_T_INT64, 0, 0, 0}, false},
                                  {"v", {MC2_T_INT64, 0, 0, 0}, true}};
static mc2_schema u_schema = {.name = "u", .ncols = 2, .cols = u_cols};

static void put_str(mc2_batch *b, size_t c, size_t r, const char *s)
{
    mc2_err err;
    size_t n = s ? strlen(s) : 0;
    mc2_col *col = &b->cols[c];
    if (r == 0) col->off[0] = 0;
    if (mc2_batch_reserve_chars(b, c, n, &err)) abort();
    if (s) memcpy(col->data + col->off[r], s, n);
    col->off[r + 1] = col->off[r] + (uint32_t)n;
    if (col->nulls) col->nulls[r] = s == NULL;
}

static mc2_batch *make_t(void)
{
    static const struct {
        int64_t a;
        bool anull;
        const char *b;
        int64_t c;
        const char *d;
    } rows[] = {
        {1, false, "apple", 150, "1995-01-31"},  {2, false, "banana", 275, "1996-02-29"},
        {3, false, NULL, 1000, "1997-12-31"},    {0, true, "cherry", -50, "1995-06-15"},
        {2, false, "banana", 275, "1996-02-29"}, {5, false, "a%b", 1, "2000-01-01"},
    };
    mc2_err err;
    size_t n = sizeof rows / sizeof rows[0];
    mc2_batch *b = mc2_batch_new(&t_schema, n, &err);
    if (!b) abort();
    for (size_t r = 0; r < n; r++) {
        b->cols[0].v.i64[r] = rows[r].anull ? 0 : rows[r].a;
        b->cols[0].nulls[r] = rows[r].anull;
        put_str(b, 1, r, rows[r].b);
        b->cols[2].v.i64[r] = rows[r].c;
        const char *why;
        int32_t d;
        if (mc2_parse_date(rows[r].d, 10, &d, &why)) abort();
        b->cols[3].v.i32[r] = d;
    }
    b->nrows = n;
    return b;
}

static mc2_batch *make_u(void)
{
    static const int64_t k[] = {1, 2, 2, 4, 5};
    static const int64_t v[] = {10, 20, 21, 0, 50};
    static const bool vn[] = {false, false, false, true, false};
    mc2_err err;
    mc2_batch *b = mc2_batch_new(&u_schema, 5, &err);
    if (!b) abort();
    for (size_t r = 0; r < 5; r++) {
        b->cols[0].v.i64[r] = k[r];
        b->cols[1].v.i64[r] = v[r];
        b->cols[1].nulls[r] = vn[r];
    }
    b->nrows = 5;
    return b;
}

/* Formats a result as "v|v;v|v" (rows in order). */
static void format_rows(const mc2_batch *b, mc2_buf *out)
{
    mc2_err err;
    const mc2_schema *s = b->schema;
    for (size_t r = 0; r < b->nrows; r++) {
        if (r && mc2_buf_puts(out, ";", &err)) abort();
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_col *col = &b->cols[c];
            char buf[MC2_VALUE_TEXT_MAX];
            if (c && mc2_buf_puts(out, "|", &err)) abort();
            if (col->nulls && col->nulls[r]) {
                if (mc2_buf_puts(out, "NULL", &err)) abort();
                continue;
            }
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
                mc2_format_int64(col->v.i64[r], buf);
                break;
            case MC2_T_DECIMAL:
                mc2_format_decimal(col->v.i64[r], s->cols[c].type.scale, buf);
                break;
            case MC2_T_DEC128:
                mc2_format_decimal128(col->v.i128[r], s->cols[c].type.scale, buf);
                break;
            case MC2_T_DOUBLE:
                mc2_format_double(col->v.f64[r], buf);
                break;
            case MC2_T_DATE:
                mc2_format_date(col->v.i32[r], buf);
                break;
            case MC2_T_BOOL:
                mc2_format_bool(col->v.b[r], buf);
                break;
            case MC2_T_VARCHAR:
                if (mc2_buf_append(out, col->data + col->off[r], col->off[r + 1] - col->off[r],
                                   &err))
                    abort();
                continue;
            }
            if (mc2_buf_puts(out, buf, &err)) abort();
        }
    }
}

static const struct {
    const char *sql;
    const char *want;
} e2e[] = {
    {"SELECT a, b FROM t WHERE a > 1 ORDER BY a, b", "2|banana;2|banana;3|NULL;5|a%b"},
    {"SELECT COUNT(*), COUNT(a), COUNT(b), COUNT(DISTINCT b) FROM t", "6|5|5|4"},
    {"SELECT SUM(c), MIN(d), MAX(b) FROM t", "16.51|1995-01-31|cherry"},
    {"SELECT b, SUM(c) FROM t GROUP BY b ORDER BY b NULLS FIRST",
     "NULL|10.00;a%b|0.01;apple|1.50;banana|5.50;cherry|-0.50"},
    {"SELECT DISTINCT a FROM t WHERE a IS NOT NULL ORDER BY a DESC", "5;3;2;1"},
    {"SELECT a, v FROM t JOIN u ON a = k ORDER BY a, v", "1|10;2|20;2|20;2|21;2|21;5|50"},
    {"SELECT a, k FROM t LEFT JOIN u ON a = k AND v > 20 ORDER BY a NULLS FIRST, k",
     "NULL|NULL;1|NULL;2|2;2|2;3|NULL;5|5"},
    {"SELECT a FROM t WHERE a IN (SELECT k FROM u) ORDER BY a", "1;2;2;5"},
    {"SELECT a FROM t WHERE a NOT IN (SELECT k FROM u) ORDER BY a", "3"},
    {"SELECT a FROM t WHERE a NOT IN (SELECT v FROM u)", ""},
    {"SELECT a FROM t WHERE EXISTS (SELECT * FROM u WHERE k = a AND v >= 21) ORDER BY a", "2;2;5"},
    {"SELECT a FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE k = a) ORDER BY a NULLS LAST",
     "3;NULL"},
    {"SELECT k, (SELECT COUNT(*) FROM t WHERE a = k) FROM u ORDER BY k, 2", "1|1;2|2;2|2;4|0;5|1"},
    {"SELECT k FROM u WHERE v > (SELECT AVG(a) FROM t) ORDER BY k", "1;2;2;5"},
    {"SELECT a FROM t WHERE c > (SELECT MIN(c) FROM t t2 WHERE t2.b = t.b) ORDER BY a", ""},
    {"SELECT a, b FROM t WHERE b LIKE '%an%' OR b LIKE 'a!%%' ESCAPE '!' ORDER BY a",
     "2|banana;2|banana;5|a%b"},
    {"SELECT k FROM u UNION SELECT a FROM t WHERE a IS NOT NULL ORDER BY 1", "1;2;3;4;5"},
    {"SELECT a + 1, c * 2, d + INTERVAL '1' MONTH FROM t WHERE a = 1", "2|3.00|1995-02-28"},
    {"SELECT EXTRACT(YEAR FROM d), CASE WHEN c > 5 THEN 'big' ELSE 'small' END FROM t WHERE a = 3",
     "1997|big"},
    {"WITH w AS (SELECT k, v FROM u WHERE v IS NOT NULL) SELECT COUNT(*) FROM w x, w y WHERE "
     "x.k = y.k",
     "6"},
    {"SELECT a FROM t ORDER BY c DESC LIMIT 2 OFFSET 1", "2;2"},
    {"SELECT u.k, COUNT(t.a) FROM u LEFT JOIN t ON t.a = u.k GROUP BY u.k ORDER BY u.k",
     "1|1;2|4;4|0;5|1"},
    {"SELECT 1 + 1, 'x'", "2|x"},
    {"SELECT a AS x, COUNT(*) FROM t GROUP BY x ORDER BY x NULLS LAST", "1|1;2|2;3|1;5|1;NULL|1"},
    {"SELECT b FROM t GROUP BY b ORDER BY SUM(c) DESC LIMIT 2", "NULL;banana"},
    {"SELECT n FROM (SELECT a + 1 AS n FROM t) s WHERE n > 3 ORDER BY n", "4;6"},
    {"SELECT k, v FROM u WHERE v = (SELECT MAX(v) FROM u u2 WHERE u2.k = u.k) ORDER BY k",
     "1|10;2|21;5|50"},
    {"SELECT a, k FROM t FULL JOIN u ON a = k WHERE a IS NULL OR k IS NULL ORDER BY a NULLS "
     "FIRST, k NULLS FIRST",
     "NULL|NULL;NULL|4;3|NULL"},
    {"SELECT k, a FROM t RIGHT JOIN u ON a = k ORDER BY k, a", "1|1;2|2;2|2;2|2;2|2;4|NULL;5|5"},
    {"SELECT k FROM u JOIN (SELECT a AS k FROM t) x USING (k) ORDER BY k", "1;2;2;2;2;5"},
    {"SELECT a, k FROM t, u WHERE a > k AND k >= 4 ORDER BY a, k", "5|4"},
    {"SELECT COUNT(*) FROM t CROSS JOIN u", "30"},
    {"SELECT k FROM u INTERSECT SELECT a FROM t ORDER BY 1", "1;2;5"},
    {"SELECT a FROM t EXCEPT SELECT k FROM u ORDER BY 1", "NULL;3"},
    {"SELECT COUNT(*) FROM (SELECT k FROM u UNION ALL SELECT a FROM t) x", "11"},
    {"SELECT k, SUM(v) FROM u GROUP BY k HAVING COUNT(*) > 1", "2|41"},
    {"SELECT 7 / 2, 7.0 / 2, c / 4 FROM t WHERE a = 1", "3.500000|3.500000|0.375000"},
    {"SELECT COALESCE(b, 'none'), CASE WHEN a > 2 THEN 'big' END FROM t ORDER BY c LIMIT 3",
     "cherry|NULL;a%b|big;apple|NULL"},
    {"SELECT a, (SELECT MAX(k) FROM u) FROM t WHERE a = 1", "1|5"},
    {"SELECT COUNT(*), SUM(a) FROM t WHERE a > 100", "0|NULL"},
    {"SELECT a % 2, COUNT(*) FROM t WHERE a IS NOT NULL GROUP BY a % 2 ORDER BY 1", "0|2;1|3"},
    {"SELECT COUNT(*) FROM t WHERE a NOT IN (1, NULL)", "0"},
    {"SELECT b FROM t WHERE b LIKE '_pple'", "apple"},
    {"SELECT a FROM t WHERE c > (SELECT SUM(v) FROM u WHERE k = a) / 10 ORDER BY a", "1"},
    {"SELECT UPPER(b), LENGTH(b), SUBSTRING(b, 2, 3), b || '!' FROM t WHERE a = 1",
     "APPLE|5|ppl|apple!"},
    {"SELECT k FROM u WHERE v IN (SELECT a * 10 FROM t WHERE a = k) ORDER BY k", "1;2;5"},
    {"SELECT t.* FROM t WHERE d BETWEEN DATE '1996-01-01' AND DATE '1997-12-31' AND b IS NOT "
     "NULL LIMIT 1",
     "2|banana|2.75|1996-02-29"},
    {"SELECT x.a FROM (SELECT a, b FROM t WHERE c > 2) x WHERE x.b <> 'zzz' ORDER BY 1", "2;2"},
};

static void test_e2e(void)
{
    mc2_batch *tb = make_t(), *ub = make_u();
    const mc2_batch *tbs[1] = {tb}, *ubs[1] = {ub};
    mc2_sql_table tabs[2] = {{"t", &t_schema, 6}, {"u", &u_schema, 5}};
    mc2_exec_input in[2] = {{.batches = tbs, .nbatches = 1}, {.batches = ubs, .nbatches = 1}};
    mc2_buf got = {0};
    for (size_t i = 0; i < sizeof e2e / sizeof e2e[0]; i++) {
        mc2_err err;
        mc2_plan *p = mc2_plan_new(0, &err);
        mc2_sql_physical ph;
        int rc = mc2_sql_compile(e2e[i].sql, strlen(e2e[i].sql), tabs, 2, p, &ph, &err);
        CHECK_MSG(rc == 0, "%s: %s", e2e[i].sql, err.msg);
        mc2_exec *x = NULL;
        if (rc == 0) {
            rc = mc2_exec_open(p, ph.root, in, 2, NULL, &x, &err);
            CHECK_MSG(rc == 0, "%s: open: %s", e2e[i].sql, err.msg);
        }
        mc2_batch *res = NULL;
        if (rc == 0) {
            rc = mc2_exec_collect(x, 1000, &res, &err);
            CHECK_MSG(rc == 0, "%s: run: %s", e2e[i].sql, err.msg);
        }
        if (rc == 0) {
            mc2_buf_reset(&got);
            format_rows(res, &got);
            CHECK_MSG(got.len == strlen(e2e[i].want) && memcmp(got.data, e2e[i].want, got.len) == 0,
                      "%s\n   got: %.*s\n  want: %s", e2e[i].sql, (int)got.len,
                      (const char *)got.data, e2e[i].want);
        }
        mc2_batch_free(res);
        mc2_exec_free(x);
        mc2_plan_free(p);
    }
    mc2_buf_free(&got);
    mc2_batch_free(tb);
    mc2_batch_free(ub);
}

/* ---- TPC-H end to end at the smallest scale ---------------------------------------------- */

/* Loads a whole .tbl file into one batch. */
static void test_tpch_exec(void)
{
    char dir[] = "/tmp/mc2_sqlbind_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char sub[300];
    snprintf(sub, sizeof sub, "%s/tbl", dir);
    mc2_tpch_opts o = {0};
    o.sf = MC2_TPCH_SF_MIN;
    o.seed = MC2_TPCH_DEFAULT_SEED;
    o.threads = 1;
    mc2_err err;
    int rc = mc2_tpch_generate(sub, &o, NULL, &err);
    CHECK_MSG(rc == 0, "tpch generate: %s", err.msg);
    if (rc) return;
    mc2_batch *data[8] = {0};
    const mc2_batch *one[8][1];
    mc2_sql_table tabs[8];
    mc2_exec_input in[8];
    for (int i = 0; i < 8; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.tbl", sub, tpch_names[i]);
        data[i] = test_load_tbl(path, tpch[i].schema);
        CHECK_MSG(data[i] != NULL, "cannot load %s", path);
        if (!data[i]) goto out;
        one[i][0] = data[i];
        tabs[i] = tpch[i];
        tabs[i].rows = data[i]->nrows;
        in[i].batches = one[i];
        in[i].nbatches = 1;
        in[i].reader = NULL;
        in[i].src = NULL;
    }
    unsigned nonempty = 0;
    for (int q = 1; q <= 22; q++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
        size_t n;
        char *text = test_read_file(test_data(rel), &n);
        if (!text) continue;
        mc2_plan *p = mc2_plan_new(0, &err);
        mc2_sql_physical ph;
        mc2_exec *x = NULL;
        mc2_batch *res = NULL;
        rc = mc2_sql_compile(text, n, tabs, 8, p, &ph, &err);
        if (rc == 0) rc = mc2_exec_open(p, ph.root, in, 8, NULL, &x, &err);
        if (rc == 0) rc = mc2_exec_collect(x, 1u << 20, &res, &err);
        CHECK_MSG(rc == 0, "TPC-H Q%d at SF %g: %s", q, o.sf, err.msg);
        if (rc == 0 && res->nrows) nonempty++;
        if (rc == 0 && getenv("MC2_SHOW_PLANS")) {
            mc2_buf b = {0};
            format_rows(res, &b);
            printf("Q%d: %zu rows: %.*s\n", q, res->nrows, (int)(b.len > 200 ? 200 : b.len),
                   b.data ? (char *)b.data : "");
            mc2_buf_free(&b);
        }
        mc2_batch_free(res);
        mc2_exec_free(x);
        mc2_plan_free(p);
        free(text);
    }
    CHECK_MSG(nonempty >= 15, "only %u TPC-H queries returned rows at SF 0.001", nonempty);
out:
    for (int i = 0; i < 8; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s.tbl", sub, tpch_names[i]);
        unlink(path);
        mc2_batch_free(data[i]);
    }
    rmdir(sub);
    rmdir(dir);
}

/* ---- the parser's corpus: every accepted statement binds or fails cleanly ---------------- */

static mc2_column_def gen_cols[] = {
    {"a", {MC2_T_INT64, 0, 0, 0}, true},    {"b", {MC2_T_INT64, 0, 0, 0}, true},
    {"c", {MC2_T_DECIMAL, 12, 2, 0}, true}, {"d", {MC2_T_DATE, 0, 0, 0}, true},
    {"s", {MC2_T_VARCHAR, 0, 0, 20}, true}, {"x", {MC2_T_DOUBLE, 0, 0, 0}, true},
    {"k", {MC2_T_INT64, 0, 0, 0}, false},   {"name", {MC2_T_VARCHAR, 0, 0, 20}, true},
    {"flag", {MC2_T_BOOL, 0, 0, 0}, true},  {"id", {MC2_T_INT64, 0, 0, 0}, false},
};
static mc2_schema gen_schema = {
    .name = "g", .ncols = sizeof gen_cols / sizeof gen_cols[0], .cols = gen_cols};

static void test_corpus(void)
{
    size_t n;
    char *text = test_read_file(test_data("sql/parse_ok.sql"), &n);
    CHECK(text != NULL);
    if (!text) return;
    mc2_sql_table tabs[6] = {{"t", &gen_schema, 1000}, {"s", &gen_schema, 100},
                             {"u", &gen_schema, 10},   {"x", &gen_schema, 10},
                             {"y", &gen_schema, 10},   {"d", &gen_schema, 10}};
    mc2_arena a;
    mc2_arena_init(&a, 64u << 20);
    mc2_sql_stmt **st;
    size_t ns;
    mc2_err err;
    CHECK(mc2_sql_parse_script(text, n, &a, &st, &ns, &err) == 0);
    unsigned ok = 0, failed = 0;
    mc2_buf pr = {0};
    for (size_t i = 0; i < ns; i++) {
        mc2_buf_reset(&pr);
        if (mc2_sql_ast_print(st[i], &pr, &err) || mc2_buf_append(&pr, "", 1, &err)) break;
        mc2_plan *p = mc2_plan_new(64u << 20, &err);
        mc2_sql_physical ph;
        int rc = mc2_sql_compile((const char *)pr.data, pr.len - 1, tabs, 6, p, &ph, &err);
        if (rc == 0) {
            ok++;
        } else {
            failed++;
            CHECK_MSG((err.code == MC2_E_INPUT || err.code == MC2_E_LIMIT) &&
                          strncmp(err.msg, "line ", 5) == 0,
                      "%s\n  unclean error: %s", (const char *)pr.data, err.msg);
            if (getenv("MC2_SHOW_PLANS")) printf("corpus: %s\n  -> %s\n", pr.data, err.msg);
        }
        mc2_plan_free(p);
    }
    CHECK_MSG(ok >= ns / 2, "only %u of %zu corpus statements bind", ok, ns);
    printf("corpus: %u of %zu statements bind and plan, %u rejected cleanly\n", ok, ns, failed);
    mc2_buf_free(&pr);
    mc2_arena_free(&a);
    free(text);
}

/* ---- hostile input ----------------------------------------------------------------------- */

static void test_limits(void)
{
    /* deep nesting of subqueries and long CTE chains fail cleanly */
    mc2_buf q = {0};
    mc2_err err;
    if (mc2_buf_puts(&q, "WITH c0 AS (SELECT 1 AS x)", &err)) abort();
    for (int i = 1; i < 300; i++)
        if (mc2_buf_printf(&q, &err, ", c%d AS (SELECT x FROM c%d)", i, i - 1)) abort();
    if (mc2_buf_puts(&q, " SELECT x FROM c299", &err) || mc2_buf_append(&q, "", 1, &err)) abort();
    int rc = compile((const char *)q.data, tpch, 8, NULL, &err);
    CHECK(rc != 0 && strstr(err.msg, "nested too deeply"));
    /* exponential WITH expansion is bounded */
    mc2_buf_reset(&q);
    if (mc2_buf_puts(&q, "WITH c0 AS (SELECT n_name AS x FROM nation)", &err)) abort();
    for (int i = 1; i < 40; i++)
        if (mc2_buf_printf(&q, &err, ", c%d AS (SELECT a.x FROM c%d a, c%d b)", i, i - 1, i - 1))
            abort();
    if (mc2_buf_puts(&q, " SELECT x FROM c39", &err) || mc2_buf_append(&q, "", 1, &err)) abort();
    rc = compile((const char *)q.data, tpch, 8, NULL, &err);
    CHECK(rc != 0 && (err.code == MC2_E_LIMIT));
    mc2_buf_free(&q);
    /* a wide OR chain at the parser's height limit binds and plans */
    mc2_buf_reset(&q);
    if (mc2_buf_puts(&q, "SELECT * FROM nation WHERE n_nationkey = 0", &err)) abort();
    for (int i = 1; i < 200; i++)
        if (mc2_buf_printf(&q, &err, " OR n_nationkey = %d", i)) abort();
    if (mc2_buf_append(&q, "", 1, &err)) abort();
    rc = compile((const char *)q.data, tpch, 8, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    mc2_buf_free(&q);
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (load_tpch()) return 1;
    test_tpch();
    test_explain_shapes();
    test_errors();
    test_accepted();
    test_e2e();
    test_tpch_exec();
    test_corpus();
    test_limits();
    for (int i = 0; i < 8; i++) mc2_schema_free((mc2_schema *)tpch[i].schema);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("test_sql_bind: %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return test_done("test_sql_bind");
}
