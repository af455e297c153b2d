/* test_sql_tablerefs.c - mc2_sql_table_refs: the stored tables a query reads (what `mc2 sql`
 * passes without --input): TPC-H, CTEs shadowing tables, subqueries of every kind, set
 * operations, duplicates and case, quoted names, the limit, and syntax errors; and for TPC-H,
 * that the binder accepts each query over exactly those tables and no fewer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/binder.h"
#include "sql/parser.h"
#include "sql/tablerefs.h"
#include "test.h"

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL if it cannot. */
/* The tables text reads as "name@line:col,..." (in the walk's order) into out, or
 * "error: <message>". sorted: names only, in strcmp order. */
static const char *refs(const char *text, size_t max, int sorted, char *out, size_t cap)
{
    mc2_arena a;
    mc2_arena_init(&a, 16u << 20);
    mc2_sql_stmt *s;
    mc2_sql_tname *t = NULL;
    size_t n = 0;
    mc2_err err;
    if (mc2_sql_parse(text, strlen(text), &a, &s, &err) ||
        mc2_sql_table_refs(s, max, &a, &t, &n, &err)) {
        snprintf(out, cap, "error: %.900s", err.msg);
        mc2_arena_free(&a);
        return out;
    }
    for (size_t i = 1; sorted && i < n; i++)
        for (size_t j = i; j > 0 && strcmp(t[j - 1].name, t[j].name) > 0; j--) {
            mc2_sql_tname x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int k = sorted ? snprintf(out + len, cap - len, "%s%s", i ? "," : "", t[i].name)
                       : snprintf(out + len, cap - len, "%s%s@%u:%u", i ? "," : "", t[i].name,
                                  t[i].pos.line, t[i].pos.col);
        len += k > 0 ? (size_t)k : 0;
    }
    mc2_arena_free(&a);
    return out;
}

static void expect(const char *sql, const char *want)
{
    char got[2048];
    refs(sql, 16, 0, got, sizeof got);
    CHECK_MSG(strcmp(got, want) == 0, "%s\n  got:  %s\n  want: %s", sql, got, want);
}

/* Binds text over the TPC-H tables named in t[0..n) except t[skip] (skip >= n: none). */
static int bind_over(const char *text, const mc2_sql_tname *t, size_t n, size_t skip, mc2_err *err)
{
    mc2_sql_table tabs[16];
    mc2_schema *sch[16] = {0};
    size_t k = 0;
    int rc = -1;
    mc2_arena a;
    mc2_arena_init(&a, 64u << 20);
    for (size_t i = 0; i < n && i < 16; i++) {
        char path[4096];
        const char *src = getenv("MC2_SRC");
        if (i == skip) continue;
        snprintf(path, sizeof path, "%s/schemas/tpch/%s.yaml", src ? src : ".", t[i].name);
        if (mc2_schema_load(path, &sch[k], err)) goto out;
        tabs[k] = (mc2_sql_table){t[i].name, sch[k], 1000};
        k++;
    }
    mc2_sql_stmt *s;
    mc2_lplan *lp;
    rc = mc2_sql_parse(text, strlen(text), &a, &s, err) || mc2_sql_bind(s, tabs, k, &a, &lp, err)
             ? -1
             : 0;
out:
    for (size_t i = 0; i < k; i++) mc2_schema_free(sch[i]);
    mc2_arena_free(&a);
    return rc;
}

/* The binder takes text over exactly the tables mc2_sql_table_refs names, and fails with
 * "unknown table" without any one of them. */
static void check_binds(int q, const char *text)
{
    mc2_arena a;
    mc2_arena_init(&a, 16u << 20);
    mc2_sql_stmt *s;
    mc2_sql_tname *t = NULL;
    size_t n = 0;
    mc2_err err;
    CHECK(mc2_sql_parse(text, strlen(text), &a, &s, &err) == 0 &&
          mc2_sql_table_refs(s, 16, &a, &t, &n, &err) == 0);
    CHECK_MSG(bind_over(text, t, n, n, &err) == 0, "q%d over its tables: %s", q, err.msg);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(bind_over(text, t, n, i, &err) == -1 && strstr(err.msg, "unknown table"),
                  "q%d without %s", q, t[i].name);
    mc2_arena_free(&a);
}

static void test_tpch(void)
{
    static const char *const want[22] = {
        "lineitem",
        "nation,part,partsupp,region,supplier",
        "customer,lineitem,orders",
        "lineitem,orders",
        "customer,lineitem,nation,orders,region,supplier",
        "lineitem",
        "customer,lineitem,nation,orders,supplier",
        "customer,lineitem,nation,orders,part,region,supplier",
        "lineitem,nation,orders,part,partsupp,supplier",
        "customer,lineitem,nation,orders",
        "nation,partsupp,supplier",
        "lineitem,orders",
        "customer,orders",
        "lineitem,part",
        "lineitem,supplier",      /* revenue0 is a CTE */
        "part,partsupp,supplier", /* '%Customer%Complaints%' is a string */
        "lineitem,part",
        "customer,lineitem,orders",
        "lineitem,part",
        "lineitem,nation,part,partsupp,supplier",
        "lineitem,nation,orders,supplier",
        "customer,orders",
    };
    for (int q = 1; q <= 22; q++) {
        char rel[64], got[1024];
        size_t len;
        snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
        char *text = test_read_file(test_data(rel), &len);
        CHECK_MSG(text != NULL, "cannot read %s", rel);
        if (!text) continue;
        refs(text, 16, 1, got, sizeof got);
        CHECK_MSG(strcmp(got, want[q - 1]) == 0, "q%d: got %s, want %s", q, got, want[q - 1]);
        check_binds(q, text);
        free(text);
    }
}

static void test_shapes(void)
{
    /* the walk's order (FROM before the select list), positions, duplicates and case */
    expect("SELECT 1", "");
    expect("SELECT * FROM t", "t@1:15");
    expect("SELECT * FROM a, b JOIN c ON b.x = c.x LEFT JOIN a a2 ON a2.y = c.y",
           "a@1:15,b@1:18,c@1:25");
    expect("SELECT * FROM Orders o JOIN ORDERS p ON o.k = p.k\n  WHERE o.k IN (SELECT k FROM "
           "orders)",
           "orders@1:15");
    /* quoted names keep their case; they match unquoted ones ignoring case, like the binder */
    expect("SELECT * FROM \"Orders\", \"my-table\", orders", "Orders@1:15,my-table@1:25");
    /* subqueries everywhere: IN, EXISTS, scalar, derived tables, ON, HAVING, ORDER BY,
     * CASE, function arguments, set operations, parenthesized queries */
    expect("SELECT (SELECT max(x) FROM s1) FROM t WHERE EXISTS (SELECT 1 FROM s2) AND "
           "k IN (SELECT k FROM s3 WHERE k NOT IN (SELECT k FROM s4))",
           "t@1:37,s1@1:28,s2@1:67,s3@1:95,s4@1:128");
    expect("SELECT * FROM (SELECT * FROM (SELECT * FROM deep) d1) d2", "deep@1:45");
    expect("SELECT * FROM a JOIN b ON a.k = (SELECT min(k) FROM c)", "a@1:15,b@1:22,c@1:53");
    expect("SELECT g FROM t GROUP BY g HAVING count(*) > (SELECT count(*) FROM h) ORDER BY "
           "(SELECT 1 FROM o)",
           "t@1:15,h@1:68,o@1:95");
    expect("SELECT CASE WHEN x > 0 THEN (SELECT 1 FROM c1) ELSE coalesce((SELECT 2 FROM c2), "
           "3) END FROM t",
           "t@1:94,c1@1:44,c2@1:77");
    expect("SELECT k FROM u1 UNION SELECT k FROM u2 INTERSECT (SELECT k FROM u3 ORDER BY k "
           "LIMIT 1) EXCEPT ALL SELECT k FROM u1",
           "u1@1:15,u2@1:38,u3@1:66");
    expect("SELECT x FROM t WHERE x BETWEEN (SELECT 1 FROM lo) AND (SELECT 2 FROM hi) AND y "
           "LIKE (SELECT p FROM pat) AND CAST((SELECT 1 FROM c) AS INT64) IS NOT NULL",
           "t@1:15,lo@1:48,hi@1:71,pat@1:101,c@1:130");
    expect("EXPLAIN SELECT * FROM e", "e@1:23");
}

static void test_ctes(void)
{
    /* a CTE is not a table; its body's tables are */
    expect("WITH x AS (SELECT * FROM orders) SELECT * FROM x", "orders@1:26");
    /* a CTE shadowing a table: its own body still reads the table */
    expect("WITH lineitem AS (SELECT * FROM lineitem WHERE l_quantity < 24) "
           "SELECT count(*) FROM lineitem",
           "lineitem@1:33");
    /* case-insensitive CTE names */
    expect("WITH X AS (SELECT 1 AS k) SELECT * FROM x, \"X\"", "");
    /* a CTE sees only earlier CTEs: the first body's 'b' is a table */
    expect("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM b", "b@1:26");
    /* a CTE is visible in the query's subqueries and derived tables, not outside it */
    expect("WITH c AS (SELECT 1 AS k) SELECT * FROM (SELECT * FROM c) d WHERE k IN (SELECT k "
           "FROM c)",
           "");
    expect("SELECT * FROM (WITH c AS (SELECT 1 AS k) SELECT * FROM c) d, c", "c@1:62");
    expect("SELECT * FROM t WHERE k IN (WITH t AS (SELECT 1 AS k) SELECT k FROM t)", "t@1:15");
    /* an inner WITH shadows an outer one and may read the table behind it */
    expect("WITH t AS (SELECT * FROM s) SELECT * FROM t, (WITH s AS (SELECT * FROM t) SELECT * "
           "FROM s, u) v",
           "s@1:26,u@1:92");
    /* bodies of unused CTEs count too */
    expect("WITH unused AS (SELECT * FROM z) SELECT 1", "z@1:31");
}

static void test_errors(void)
{
    char got[1024];
    /* syntax errors come from the parser, with line and column */
    refs("SELECT *\nFROM orders WHERE", 16, 0, got, sizeof got);
    CHECK_MSG(strncmp(got, "error: line 2, column 18:", 25) == 0, "%s", got);
    refs("SELECT * FROM a.b", 16, 0, got, sizeof got);
    CHECK_MSG(strstr(got, "error: line 1, column 15: not supported: qualified table names"), "%s",
              got);
    /* the limit names the first table over it */
    refs("SELECT * FROM a, b, a, c", 2, 0, got, sizeof got);
    CHECK_MSG(strcmp(got, "error: line 1, column 24: the query reads more than 2 tables (table "
                          "'c' is one more)") == 0,
              "%s", got);
    refs("SELECT * FROM a, b, A", 2, 0, got, sizeof got);
    CHECK_MSG(strcmp(got, "a@1:15,b@1:18") == 0, "%s", got);
    /* many distinct tables: the array grows */
    char q[8192];
    size_t len = (size_t)snprintf(q, sizeof q, "SELECT 1 FROM t0");
    for (int i = 1; i < 300; i++) len += (size_t)snprintf(q + len, sizeof q - len, ", t%d", i);
    refs(q, 1000, 1, got, sizeof got);
    CHECK(strncmp(got, "t0,t1,t10,t100,t101,", 20) == 0);
    refs(q, 299, 1, got, sizeof got);
    CHECK_MSG(strstr(got, "more than 299 tables (table 't299' is one more)") != NULL, "%s", got);
}

int main(void)
{
    test_tpch();
    test_shapes();
    test_ctes();
    test_errors();
    return test_done("test_sql_tablerefs");
}
