/* test_sql_parse.c - the SQL lexer, parser and AST printer: TPC-H, a corpus of accepted
 * statements, round trips, malformed input with exact positions, limits and AST shapes. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "sql/lexer.h"
#include "sql/parser.h"
#include "test.h"

#define ARENA_LIMIT (64u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL if it cannot. */
/* Parses text, prints it into *out (reset first). Returns 0 or -1 with err set. */
static int parse_print(const char *text, size_t len, mc2_buf *out, mc2_err *err)
{
    mc2_arena a;
    mc2_arena_init(&a, ARENA_LIMIT);
    mc2_sql_stmt *s;
    mc2_buf_reset(out);
    int rc = mc2_sql_parse(text, len, &a, &s, err);
    if (rc == 0) rc = mc2_sql_ast_print(s, out, err);
    mc2_arena_free(&a);
    return rc;
}

/* Checks that print(parse(print(stmt))) == print(stmt). */
static void check_roundtrip(const mc2_sql_stmt *s, const char *what)
{
    mc2_err err;
    mc2_buf p1 = {0}, p2 = {0};
    CHECK(mc2_sql_ast_print(s, &p1, &err) == 0);
    int rc = parse_print((const char *)p1.data, p1.len, &p2, &err);
    CHECK_MSG(rc == 0, "%s: printed text does not parse: %s\n  %.*s", what, err.msg, (int)p1.len,
              (const char *)p1.data);
    if (rc == 0)
        CHECK_MSG(p1.len == p2.len && memcmp(p1.data, p2.data, p1.len) == 0,
                  "%s: print is not idempotent:\n  %.*s\n  %.*s", what, (int)p1.len,
                  (const char *)p1.data, (int)p2.len, (const char *)p2.data);
    mc2_buf_free(&p1);
    mc2_buf_free(&p2);
}

/* ---- TPC-H ---------------------------------------------------------------------------------- */

static void test_tpch(void)
{
    mc2_buf out = {0};
    for (int q = 1; q <= 22; q++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tpch/queries/q%d.sql", q);
        size_t len;
        char *text = test_read_file(test_data(rel), &len);
        CHECK_MSG(text != NULL, "cannot read %s", rel);
        if (!text) continue;
        mc2_arena a;
        mc2_arena_init(&a, ARENA_LIMIT);
        mc2_err err;
        mc2_sql_stmt *s;
        int rc = mc2_sql_parse(text, len, &a, &s, &err);
        CHECK_MSG(rc == 0, "q%d: %s", q, err.msg);
        if (rc == 0) {
            CHECK(s->kind == MC2_SQL_S_SELECT);
            check_roundtrip(s, rel);
            /* EXPLAIN of each query parses too. */
            mc2_buf ex = {0};
            CHECK(mc2_buf_puts(&ex, "explain\n", &err) == 0);
            CHECK(mc2_buf_append(&ex, text, len, &err) == 0);
            CHECK_MSG(parse_print((const char *)ex.data, ex.len, &out, &err) == 0,
                      "explain q%d: %s", q, err.msg);
            CHECK(out.len > 8 && memcmp(out.data, "EXPLAIN ", 8) == 0);
            mc2_buf_free(&ex);
        }
        mc2_arena_free(&a);
        free(text);
    }
    mc2_buf_free(&out);
}

/* ---- corpus of accepted statements ------------------------------------------------------------
 */

static void test_corpus(void)
{
    size_t len;
    char *text = test_read_file(test_data("sql/parse_ok.sql"), &len);
    CHECK_MSG(text != NULL, "cannot read sql/parse_ok.sql");
    if (!text) return;
    mc2_arena a;
    mc2_arena_init(&a, ARENA_LIMIT);
    mc2_err err;
    mc2_sql_stmt **ss;
    size_t n;
    int rc = mc2_sql_parse_script(text, len, &a, &ss, &n, &err);
    CHECK_MSG(rc == 0, "parse_ok.sql: %s", err.msg);
    if (rc == 0) {
        CHECK_MSG(n >= 150, "parse_ok.sql has only %zu statements", n);
        for (size_t i = 0; i < n; i++) {
            char what[64];
            snprintf(what, sizeof what, "parse_ok.sql statement %zu (line %u)", i + 1,
                     ss[i]->pos.line);
            check_roundtrip(ss[i], what);
        }
        printf("corpus: %zu statements\n", n);
    }
    mc2_arena_free(&a);
    free(text);
}

/* ---- malformed statements -----------------------------------------------------------------------
 */

typedef struct bad_case {
    const char *sql;
    unsigned line, col;
    const char *phrase; /* must occur in the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"selec a from t", 1, 1, "unknown keyword 'selec' (did you mean SELECT?)"},
    {"\n  SELEC * FROM t", 2, 3, "(did you mean SELECT?)"},
    {"WIHT x AS (SELECT 1) SELECT * FROM x", 1, 1, "did you mean WITH?"},
    {"select a, b, from t", 1, 12, "trailing comma before FROM"},
    {"select a from t group by a, order by a", 1, 27, "trailing comma before ORDER"},
    {"select a from t where", 1, 22, "expected an expression, found end of query"},
    {"select a\nfrom t\nwhere (a = 1\n  and b = 2", 4, 12,
     "expected ')' to close '(' at line 3, column 7"},
    {"select a from t where a = 'abc", 1, 27, "unterminated string literal"},
    {"select a from t /* never closed", 1, 17, "unterminated comment"},
    {"select a from t where a == 1", 1, 25, "use '=' to compare"},
    {"select from t", 1, 8, "the select list is empty"},
    {"select a from t group a", 1, 23, "expected BY after GROUP"},
    {"select a from t order a", 1, 23, "expected BY after ORDER"},
    {"select a form t", 1, 15, "'form' was read as an alias; did you mean FROM?"},
    {"select a from t were a = 1", 1, 22, "did you mean WHERE?"},
    {"select a b c from t", 1, 12, "after the select list (missing comma?)"},
    {"select sum(x) over (partition by y) from t", 1, 15, "not supported: window functions (OVER)"},
    {"select row_number() from t", 1, 8, "not supported: window function ROW_NUMBER"},
    {"with recursive r as (select 1) select * from r", 1, 6, "not supported: WITH RECURSIVE"},
    {"select * from t natural join s", 1, 17, "not supported: NATURAL JOIN"},
    {"select * from t join s", 1, 23, "expected ON or USING"},
    {"select * from t cross join s on t.a = s.a", 1, 30, "CROSS JOIN takes no ON condition"},
    {"select a from t where a in ()", 1, 29, "empty IN list"},
    {"select case when a then 1\nfrom t", 2, 1, "expected END to close CASE at line 1, column 8"},
    {"select case a end from t", 1, 15, "CASE needs at least one WHEN"},
    {"select a from t where a between 1", 1, 34, "expected AND in BETWEEN"},
    {"select cast(a as varchr(10)) from t", 1, 18, "unknown type 'varchr' (did you mean VARCHAR?)"},
    {"select cast(a as decimal) from t", 1, 18, "DECIMAL needs a precision"},
    {"select cast(a as decimal(39,2)) from t", 1, 18, "precision must be from 1 to 38, not 39"},
    {"select cast(a as decimal(5,6)) from t", 1, 18, "scale must be from 0 to the precision"},
    {"select cast(a as varchar(0)) from t", 1, 18, "VARCHAR length must be from 1 to 65535"},
    {"select cast(a as timestamp) from t", 1, 18, "not supported: type TIMESTAMP"},
    {"select date '1998-02-30' from t", 1, 13, "invalid date '1998-02-30'"},
    {"select date '1900-02-29' from t", 1, 13, "invalid date"},
    {"select date '98-01-01' from t", 1, 13, "invalid date"},
    {"select timestamp '2020-01-01 00:00' from t", 1, 8, "not supported: TIMESTAMP literals"},
    {"select interval '1 day' from t", 1, 17, "INTERVAL needs a whole number"},
    {"select interval '1' hour from t", 1, 21, "not supported: INTERVAL unit HOUR"},
    {"select interval '1' from t", 1, 21, "expected DAY, MONTH or YEAR"},
    {"select extract(hour from d) from t", 1, 16, "not supported: EXTRACT(HOUR"},
    {"select extract(year d) from t", 1, 21, "expected FROM in EXTRACT"},
    {"select sumx(a) from t", 1, 8, "unknown function 'sumx' (did you mean SUM?)"},
    {"select frobnicate(a) from t", 1, 8, "unknown function 'frobnicate'"},
    {"select upper(a, b) from t", 1, 8, "UPPER takes 1 argument, not 2"},
    {"select substring(a) from t", 1, 8, "SUBSTRING takes 2 to 3 arguments, not 1"},
    {"select coalesce() from t", 1, 8, "COALESCE takes at least 1 argument"},
    {"select count(distinct *) from t", 1, 23, "COUNT(DISTINCT *) is not valid"},
    {"select lower(distinct a) from t", 1, 14, "DISTINCT is only allowed in aggregate functions"},
    {"select sum(*) from t", 1, 12, "'*' is only allowed in COUNT(*)"},
    {"insert into t values (1)", 1, 1, "not supported: INSERT"},
    {"DROP TABLE t", 1, 1, "not supported: DROP"},
    {"select a from t limit -1", 1, 23, "non-negative whole number after LIMIT"},
    {"select a from t limit 99999999999999999999", 1, 23, "non-negative whole number"},
    {"select a from t limit 10, 20", 1, 25, "not supported: LIMIT n, m"},
    {"select a from t fetch first 5 rows only", 1, 17, "not supported: FETCH FIRST"},
    {"select a::int from t", 1, 9, "not supported: '::' casts"},
    {"select a from t where a < b < c", 1, 29, "comparisons cannot be chained"},
    {"select a from t where a ilike 'x'", 1, 25, "not supported: ILIKE"},
    {"select a from t where a similar to 'x'", 1, 25, "not supported: SIMILAR TO"},
    {"select a from t where a is true", 1, 28, "not supported: IS TRUE"},
    {"select a from t where a is distinct from b", 1, 28, "not supported: IS DISTINCT"},
    {"select a from t where a = any (select b from s)", 1, 27, "not supported: ANY"},
    {"select \"\" from t", 1, 8, "empty quoted name"},
    {"select order from t", 1, 8, "quote it: \"order\""},
    {"select a from t; select b from t", 1, 18, "one statement at a time"},
    {"select a.b.c from t", 1, 8, "not supported: names with more than two parts"},
    {"select * from s.t", 1, 15, "not supported: qualified table names"},
    {"select a from t where x like 'a' escape 'ab'", 1, 41, "ESCAPE takes exactly one character"},
    {"select t.* + 1 from t", 1, 12, "after the select list"},
    {"select a from t where t.* = 1", 1, 23, "'t.*' is only allowed in the select list"},
    {"select 12abc from t", 1, 8, "malformed number"},
    {"select 1e from t", 1, 8, "exponent has no digits"},
    {"select 1.2.3 from t", 1, 8, "malformed number"},
    {"select a from t where a = \"b", 1, 27, "unterminated quoted name"},
    {"select a from t where a = !b", 1, 27, "unexpected '!'"},
    {"select a | b from t", 1, 10, "use '||' to concatenate"},
    {"select a from t where a = `b`", 1, 27, "quote names with double quotes"},
    {"select a from t where a = ?", 1, 27, "unexpected character '?'"},
    {"select 1 from t window w as ()", 1, 17, "not supported: WINDOW"},
    {"select (1, 2)", 1, 8, "not supported: row values"},
    {"select a from t where a = select 1", 1, 27, "a subquery must be in parentheses"},
    {"select * from t group by rollup(a)", 1, 26, "not supported: ROLLUP"},
    {"select a from t union select", 1, 29, "expected an expression, found end of query"},
    {"select a from t union", 1, 22, "expected SELECT or '('"},
    {"select distinct on (a) a from t", 1, 17, "not supported: DISTINCT ON"},
    {"", 1, 1, "empty query"},
    {"  -- only a comment\n", 2, 1, "empty query"},
    {"explain analyze select 1", 1, 9, "not supported: EXPLAIN ANALYZE"},
    {"explain", 1, 8, "expected SELECT, WITH or EXPLAIN"},
    {"select a from t where a in (select 1", 1, 37, "')' to close '(' at line 1, column 28"},
    {"select x from (select 1) as", 1, 28, "expected an alias name after AS"},
    {"select a from t order by a nulls", 1, 33, "expected FIRST or LAST after NULLS"},
    {"select a from t where not", 1, 26, "expected an expression"},
    {"select a from (t join s on a = b) as j", 1, 35, "alias for a parenthesized join"},
    {"select a from t left semi join s on a = b", 1, 22, "not supported: SEMI JOIN"},
    {"select a from lateral (select 1) x", 1, 15, "not supported: LATERAL"},
    {"values (1)", 1, 1, "not supported: VALUES"},
    {"select a from t where b = 1 select", 1, 29, "expected end of query"},
    {"select 'caf\xc3' from t", 1, 12, "invalid UTF-8 in string literal"},
    {"select a\x01 from t", 1, 9, "control character 0x01"},
    {"select \xc3\xa9 from t", 1, 8, "names are ASCII"},
    {"select ((a) from t", 1, 13, "')' to close '(' at line 1, column 8"},
    {"select a from t where a in (1, 2,)", 1, 33, "trailing comma before ')'"},
    {"with x as select 1 select 2", 1, 11, "'(' before the WITH query"},
    {"select a from t offset x", 1, 24, "non-negative whole number after OFFSET"},
    {"select cast(a) from t", 1, 14, "AS in CAST(value AS type)"},
    {"select a from t order by a union select b from s", 1, 28,
     "UNION after ORDER BY, LIMIT or OFFSET (put the query before it in parentheses)"},
    {"select a from t where a in (select 1 limit 1 except select 2)", 1, 46, "EXCEPT after"},
};

static void test_errors(void)
{
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    for (size_t i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        mc2_arena a;
        mc2_arena_init(&a, ARENA_LIMIT);
        mc2_err err;
        mc2_err_clear(&err);
        mc2_sql_stmt *s = (mc2_sql_stmt *)1;
        int rc = mc2_sql_parse(c->sql, strlen(c->sql), &a, &s, &err);
        CHECK_MSG(rc == -1, "accepted: %s", c->sql);
        CHECK(rc != -1 || s == NULL);
        if (rc == -1) {
            char want[64];
            snprintf(want, sizeof want, "line %u, column %u: ", c->line, c->col);
            CHECK_MSG(err.code == MC2_E_INPUT, "%s: code %s", c->sql, mc2_code_name(err.code));
            CHECK_MSG(strncmp(err.msg, want, strlen(want)) == 0, "%s:\n  got  %s\n  want %s...",
                      c->sql, err.msg, want);
            CHECK_MSG(strstr(err.msg, c->phrase) != NULL, "%s:\n  got  %s\n  want ...%s...", c->sql,
                      err.msg, c->phrase);
        }
        mc2_arena_free(&a);
    }
    printf("errors: %zu malformed statements\n", n);
}

/* ---- limits: deep nesting, long chains, huge text, small arenas, failing allocations ----------
 */

/* pre + open*n + mid + close*n + post, malloc'd. */
static char *nest(const char *pre, const char *open, size_t n, const char *mid, const char *close,
                  const char *post)
{
    size_t lo = strlen(open), lc = strlen(close), lp = strlen(pre), lm = strlen(mid);
    size_t len = lp + n * (lo + lc) + lm + strlen(post);
    char *s = malloc(len + 1), *p = s;
    memcpy(p, pre, lp), p += lp;
    for (size_t i = 0; i < n; i++) memcpy(p, open, lo), p += lo;
    memcpy(p, mid, lm), p += lm;
    for (size_t i = 0; i < n; i++) memcpy(p, close, lc), p += lc;
    strcpy(p, post);
    return s;
}

typedef struct deep_case {
    const char *pre, *open, *mid, *close, *post;
} deep_case;

static const deep_case deep_cases[] = {
    {"select ", "(", "1", ")", ""},
    {"select ", "- ", "1", "", ""},
    {"select ", "not ", "a", "", ""},
    {"select ", "1 + (", "1", ")", ""},
    {"select ", "(select ", "1", ")", ""},
    {"select ", "exists (select ", "1", ")", ""},
    {"select ", "case when 1 then ", "1", " end", ""},
    {"select ", "abs(", "1", ")", ""},
    {"select ", "cast(", "1", " as int)", ""},
    {"select ", "x in (", "1", ")", ""},
    {"select 1 from ", "(", "t", ")", ""},
    {"select 1 from ", "(select 1 from ", "t", ") x", ""},
    {"select 1 from ", "a join (", "b", ") on 1", ""},
    {"", "(", "select 1", ")", ""},
    {"", "(select 1 union ", "select 1", ")", ""},
    {"", "with x as (", "select 1", ") select 1", ""},
    {"select 1 from t where a in ", "((", "select 1", ") union (select 2))", ""},
};

/* Parses q and, if it parsed, requires a clean round trip; else a limit error. */
static void check_deep(const char *q, size_t n, bool must_fail)
{
    mc2_arena a;
    mc2_arena_init(&a, ARENA_LIMIT);
    mc2_err err;
    mc2_sql_stmt *s;
    int rc = mc2_sql_parse(q, strlen(q), &a, &s, &err);
    if (rc == 0) {
        CHECK_MSG(!must_fail, "depth %zu accepted: %.60s...", n, q);
        check_roundtrip(s, "deep");
    } else {
        CHECK_MSG(err.code == MC2_E_LIMIT && strstr(err.msg, "nested too deeply"),
                  "depth %zu: %s (%.60s...)", n, err.msg, q);
    }
    mc2_arena_free(&a);
}

static void test_deep(void)
{
    for (size_t i = 0; i < sizeof deep_cases / sizeof deep_cases[0]; i++) {
        const deep_case *c = &deep_cases[i];
        /* Shallow nesting is accepted; near the limits either outcome is fine as long as an
         * accepted query round-trips; very deep nesting is rejected, without a crash. */
        static const size_t depths[] = {20, 60, 120, 250, 300, 600, 10000};
        for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
            char *q = nest(c->pre, c->open, depths[k], c->mid, c->close, c->post);
            check_deep(q, depths[k], depths[k] >= 600);
            if (depths[k] == 20) {
                mc2_arena a;
                mc2_arena_init(&a, ARENA_LIMIT);
                mc2_err err;
                mc2_sql_stmt *s;
                CHECK_MSG(mc2_sql_parse(q, strlen(q), &a, &s, &err) == 0, "%s: %.60s", err.msg, q);
                mc2_arena_free(&a);
            }
            free(q);
        }
    }
    /* Long flat chains: fine in lists, limited by the AST height in operator chains. */
    static const char *const chains[][2] = {
        {"select 1 from t where a in (1", ", 1"},
        {"select 1", ", 1"},
        {"select 1 from t", ", t"},
        {"select 1 from t where a", " or a"},
        {"select 1 from t where a", " and a"},
        {"select 1", " + 1"},
        {"select 1", " union select 1"},
        {"select 1 from t", " join t on 1"},
        {"select 1 from t where a = 'x'", " || 'x'"},
        {"select 1 from t group by a", ", a"},
    };
    for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++) {
        for (size_t n = 100; n <= 20000; n *= 200) {
            size_t l0 = strlen(chains[i][0]), l1 = strlen(chains[i][1]);
            char *q = malloc(l0 + n * l1 + 2), *p = q;
            memcpy(p, chains[i][0], l0), p += l0;
            for (size_t k = 0; k < n; k++) memcpy(p, chains[i][1], l1), p += l1;
            *p++ = i == 0 ? ')' : ' ';
            *p = '\0';
            mc2_arena a;
            mc2_arena_init(&a, ARENA_LIMIT);
            mc2_err err;
            mc2_sql_stmt *s;
            int rc = mc2_sql_parse(q, strlen(q), &a, &s, &err);
            bool list = i <= 2 || i == 9;
            if (list || n == 100) {
                CHECK_MSG(rc == 0, "chain %zu x %zu: %s", i, n, err.msg);
                if (rc == 0) check_roundtrip(s, "chain");
            } else {
                CHECK_MSG(rc == -1 && err.code == MC2_E_LIMIT, "chain %zu x %zu not limited", i, n);
            }
            mc2_arena_free(&a);
            free(q);
        }
    }
}

/* Runs the deepest accepted inputs on a thread with a 1 MiB stack (release builds need about
 * 600 KiB at the limits; sanitizer builds get 64 MiB). */
static void *deep_thread(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < sizeof deep_cases / sizeof deep_cases[0]; i++) {
        const deep_case *c = &deep_cases[i];
        for (size_t n = 200; n <= 1000; n += 100) {
            char *q = nest(c->pre, c->open, n, c->mid, c->close, c->post);
            check_deep(q, n, n >= 600);
            free(q);
        }
    }
    return NULL;
}

#if defined(__SANITIZE_ADDRESS__)
#define DEEP_STACK (64u << 20)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEEP_STACK (64u << 20)
#endif
#endif
#ifndef DEEP_STACK
#define DEEP_STACK (1u << 20)
#endif

static void test_stack(void)
{
    pthread_attr_t at;
    pthread_t th;
    CHECK(pthread_attr_init(&at) == 0);
    CHECK(pthread_attr_setstacksize(&at, DEEP_STACK) == 0);
    CHECK(pthread_create(&th, &at, deep_thread, NULL) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    pthread_attr_destroy(&at);
}

static void test_limits(void)
{
    mc2_err err;
    mc2_sql_stmt *s;
    mc2_arena a;
    /* Text over the limit. */
    size_t big = MC2_SQL_MAX_TEXT + 1;
    char *q = malloc(big);
    memset(q, ' ', big);
    memcpy(q, "select 1", 8);
    mc2_arena_init(&a, ARENA_LIMIT);
    CHECK(mc2_sql_parse(q, big, &a, &s, &err) == -1 && err.code == MC2_E_LIMIT);
    /* Just under it: fine. */
    CHECK(mc2_sql_parse(q, big - 1, &a, &s, &err) == 0);
    mc2_arena_free(&a);
    free(q);

    /* A small arena: clean MC2_E_LIMIT, and the arena stays usable. */
    size_t len;
    char *text = test_read_file(test_data("tpch/queries/q19.sql"), &len);
    CHECK(text != NULL);
    if (!text) return;
    mc2_arena_init(&a, 2048);
    CHECK(mc2_sql_parse(text, len, &a, &s, &err) == -1 && err.code == MC2_E_LIMIT);
    mc2_arena_free(&a);
    mc2_arena_init(&a, 0);
    CHECK(mc2_sql_parse(text, len, &a, &s, &err) == 0);
    CHECK(mc2_arena_used(&a) > 0);
    mc2_arena_free(&a);
    CHECK(mc2_arena_used(&a) == 0);

    /* Every allocation failing in turn: a clean MC2_E_NOMEM each time, no leak (ASan). */
    unsigned long fails = 0;
    for (unsigned long k = 1; k < 100; k++) {
        mc2_arena_init(&a, 0);
        mc2_alloc_fail_after(k);
        int rc = mc2_sql_parse(text, len, &a, &s, &err);
        mc2_alloc_fail_after(0);
        mc2_arena_free(&a);
        if (rc == 0) break;
        fails++;
        CHECK_MSG(err.code == MC2_E_NOMEM, "allocation %lu: %s", k, err.msg);
    }
    CHECK(fails > 0);
    /* And in the printer. */
    mc2_arena_init(&a, 0);
    CHECK(mc2_sql_parse(text, len, &a, &s, &err) == 0);
    for (unsigned long k = 1; k < 20; k++) {
        mc2_buf b = {0};
        mc2_alloc_fail_after(k);
        int rc = mc2_sql_ast_print(s, &b, &err);
        mc2_alloc_fail_after(0);
        mc2_buf_free(&b);
        if (rc == 0) break;
        CHECK(err.code == MC2_E_NOMEM);
    }
    mc2_arena_free(&a);
    free(text);

    /* Names up to 128 bytes. */
    char name[200], sql[300];
    memset(name, 'n', 128);
    name[128] = '\0';
    snprintf(sql, sizeof sql, "select %s from t", name);
    mc2_arena_init(&a, 0);
    CHECK(mc2_sql_parse(sql, strlen(sql), &a, &s, &err) == 0);
    snprintf(sql, sizeof sql, "select %sn from t", name);
    CHECK(mc2_sql_parse(sql, strlen(sql), &a, &s, &err) == -1 &&
          strstr(err.msg, "longer than 128 bytes"));
    /* NUL bytes are rejected wherever they are. */
    static const char nul1[] = "select 'a\0b' from t", nul2[] = "select a\0 from t";
    CHECK(mc2_sql_parse(nul1, sizeof nul1 - 1, &a, &s, &err) == -1 && strstr(err.msg, "NUL"));
    CHECK(mc2_sql_parse(nul2, sizeof nul2 - 1, &a, &s, &err) == -1 && strstr(err.msg, "NUL"));
    mc2_arena_free(&a);
}

/* ---- the lexer ----------------------------------------------------------------------------------
 */

static void test_lexer(void)
{
    static const char src[] = "SELECT \"Ab\"\"c\", x1 -- c\n\t/* é\n */ 'it''s' <> != <= >= || 1.5 "
                              ".5 7. 1e9 2E-3 42 é_col";
    mc2_sql_lexer lx;
    mc2_err err;
    CHECK(mc2_sql_lex_init(&lx, src, sizeof src - 1 - strlen(" é_col"), &err) == 0);
    struct {
        enum mc2_sql_tok kind;
        unsigned line, col;
        const char *text;
    } want[] = {
        {MC2_SQL_TK_WORD, 1, 1, "SELECT"},    {MC2_SQL_TK_QIDENT, 1, 8, "\"Ab\"\"c\""},
        {MC2_SQL_TK_COMMA, 1, 15, ","},       {MC2_SQL_TK_WORD, 1, 17, "x1"},
        {MC2_SQL_TK_STRING, 3, 5, "'it''s'"}, {MC2_SQL_TK_NE, 3, 13, "<>"},
        {MC2_SQL_TK_NE, 3, 16, "!="},         {MC2_SQL_TK_LE, 3, 19, "<="},
        {MC2_SQL_TK_GE, 3, 22, ">="},         {MC2_SQL_TK_CONCAT, 3, 25, "||"},
        {MC2_SQL_TK_DECIMAL, 3, 28, "1.5"},   {MC2_SQL_TK_DECIMAL, 3, 32, ".5"},
        {MC2_SQL_TK_DECIMAL, 3, 35, "7."},    {MC2_SQL_TK_FLOAT, 3, 38, "1e9"},
        {MC2_SQL_TK_FLOAT, 3, 42, "2E-3"},    {MC2_SQL_TK_INT, 3, 47, "42"},
        {MC2_SQL_TK_EOF, 3, 49, ""},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mc2_sql_token t;
        CHECK(mc2_sql_lex_next(&lx, &t, &err) == 0);
        CHECK_MSG(t.kind == want[i].kind && t.pos.line == want[i].line &&
                      t.pos.col == want[i].col && t.len == strlen(want[i].text) &&
                      memcmp(t.text, want[i].text, t.len) == 0,
                  "token %zu: kind %d at %u:%u '%.*s', want %d at %u:%u '%s'", i, (int)t.kind,
                  t.pos.line, t.pos.col, (int)t.len, t.text, (int)want[i].kind, want[i].line,
                  want[i].col, want[i].text);
        if (i == 0) CHECK(t.kw == MC2_SQL_KW_SELECT);
        if (i == 1 || i == 4) {
            char buf[16];
            size_t n = mc2_sql_lex_unquote(&t, buf);
            CHECK(n == (i == 1 ? 4u : 4u) && strcmp(buf, i == 1 ? "Ab\"c" : "it's") == 0);
        }
    }
    CHECK(mc2_sql_lex_keyword("sElEcT", 6) == MC2_SQL_KW_SELECT);
    CHECK(mc2_sql_lex_keyword("selects", 7) == MC2_SQL_KW_NONE);
    CHECK(mc2_sql_lex_kw_reserved(MC2_SQL_KW_FROM));
    CHECK(!mc2_sql_lex_kw_reserved(MC2_SQL_KW_DATE));
    CHECK(mc2_sql_lex_distance("selec", 5, "SELECT", 2) == 1);
    CHECK(mc2_sql_lex_distance("form", 4, "FROM", 2) == 1);
    CHECK(mc2_sql_lex_distance("abc", 3, "xyzzy", 2) == 3);
}

/* ---- AST shapes
 * ----------------------------------------------------------------------------------- */

/* Parses "SELECT <expr>" and returns the expression printed, or the error message. */
static const char *expr_text(const char *expr, mc2_buf *out)
{
    static char msg[MC2_ERR_MSG_MAX + 8];
    char sql[512];
    snprintf(sql, sizeof sql, "select %s", expr);
    mc2_arena a;
    mc2_arena_init(&a, 0);
    mc2_err err;
    mc2_sql_stmt *s;
    mc2_buf_reset(out);
    const char *r;
    if (mc2_sql_parse(sql, strlen(sql), &a, &s, &err) ||
        mc2_sql_ast_print_expr(s->query->body->select->items[0].expr, out, &err) ||
        mc2_buf_put_u8(out, 0, &err)) {
        snprintf(msg, sizeof msg, "ERROR %s", err.msg);
        r = msg;
    } else {
        r = (const char *)out->data;
    }
    mc2_arena_free(&a);
    return r;
}

static void test_expr_shapes(void)
{
    static const char *const cases[][2] = {
        {"a or b and c", "(a OR (b AND c))"},
        {"a and b or c", "((a AND b) OR c)"},
        {"not a and b", "((NOT a) AND b)"},
        {"not a = b", "(NOT (a = b))"},
        {"a = b is null", "((a = b) IS NULL)"},
        {"not a is not null", "(NOT (a IS NOT NULL))"},
        {"a not between 1 and 2 and c", "((a NOT BETWEEN 1 AND 2) AND c)"},
        {"a between b + 1 and c * 2", "(a BETWEEN (b + 1) AND (c * 2))"},
        {"a + b * c", "(a + (b * c))"},
        {"a * b + c", "((a * b) + c)"},
        {"a - b - c", "(a - b - c)"},
        {"a - (b - c)", "(a - (b - c))"},
        {"a / b * c", "(a / b * c)"},
        {"- a * b", "((- a) * b)"},
        {"- - a", "(- (- a))"},
        {"-(a)", "(- a)"},
        {"a || b + c", "(a || (b + c))"},
        {"a || b = c", "((a || b) = c)"},
        {"a = 1 or a = 2 or a = 3", "((a = 1) OR (a = 2) OR (a = 3))"},
        {"a like 'x%' escape '#'", "(a LIKE 'x%' ESCAPE '#')"},
        {"a not like b || 'x'", "(a NOT LIKE (b || 'x'))"},
        {"a not in (1, 2)", "(a NOT IN (1, 2))"},
        {"a in (select b from s)", "(a IN (SELECT b FROM s))"},
        {"not exists (select 1)", "(NOT EXISTS (SELECT 1))"},
        {"((a))", "a"},
        {"'it''s'", "'it''s'"},
        {"\"Mixed\".\"Col\"", "\"Mixed\".\"Col\""},
        {"Mixed.Col", "mixed.col"},
        {"\"select\"", "\"select\""},
        {"date '2024-02-29' + interval '1' month", "(DATE '2024-02-29' + INTERVAL '1' MONTH)"},
        {"interval '-3' day", "INTERVAL '-3' DAY"},
        {"cast(x as varchar(10))", "CAST(x AS VARCHAR(10))"},
        {"cast(x as numeric(12, 3))", "CAST(x AS DECIMAL(12,3))"},
        {"substring(s, 2, 3)", "SUBSTRING(s FROM 2 FOR 3)"},
        {"trim(trailing from s)", "TRIM(TRAILING FROM s)"},
        {"ltrim(s, 'x')", "TRIM(LEADING 'x' FROM s)"},
        {"count(*)", "COUNT(*)"},
        {"count(distinct a)", "COUNT(DISTINCT a)"},
        {"case when a then 1 end", "CASE WHEN a THEN 1 END"},
        {"extract(month from d)", "EXTRACT(MONTH FROM d)"},
        {"1.50", "1.50"},
        {".06", ".06"},
        {"1e-3", "1e-3"},
        {"a = b = c", "ERROR line 1, column 14: comparisons cannot be chained"},
    };
    mc2_buf out = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = expr_text(cases[i][0], &out);
        bool ok = strncmp(cases[i][1], "ERROR", 5) == 0
                      ? strncmp(got, cases[i][1], strlen(cases[i][1])) == 0
                      : strcmp(got, cases[i][1]) == 0;
        CHECK_MSG(ok, "%s\n  got  %s\n  want %s", cases[i][0], got, cases[i][1]);
    }
    mc2_buf_free(&out);
}

static const mc2_sql_stmt *parse1(mc2_arena *a, const char *sql)
{
    mc2_err err;
    mc2_sql_stmt *s = NULL;
    mc2_arena_init(a, 0);
    int rc = mc2_sql_parse(sql, strlen(sql), a, &s, &err);
    CHECK_MSG(rc == 0, "%s: %s", sql, err.msg);
    return rc == 0 ? s : NULL;
}

static void test_tree_shapes(void)
{
    mc2_arena a;
    const mc2_sql_stmt *s;

    /* INTERSECT binds tighter than UNION; UNION and EXCEPT are left-associative. */
    s = parse1(&a, "select 1 union select 2 intersect select 3 except all select 4");
    if (s) {
        const mc2_sql_body *b = s->query->body;
        CHECK(b->kind == MC2_SQL_B_SETOP && b->setop.op == MC2_SQL_EXCEPT && b->setop.all);
        const mc2_sql_body *l = b->setop.left;
        CHECK(l->kind == MC2_SQL_B_SETOP && l->setop.op == MC2_SQL_UNION && !l->setop.all);
        CHECK(l->setop.left->kind == MC2_SQL_B_SELECT);
        CHECK(l->setop.right->kind == MC2_SQL_B_SETOP &&
              l->setop.right->setop.op == MC2_SQL_INTERSECT);
        CHECK(b->setop.right->kind == MC2_SQL_B_SELECT);
    }
    mc2_arena_free(&a);

    /* A parenthesized query with its own LIMIT stays a QUERY body; a plain one is flattened. */
    s = parse1(&a, "(select 1 limit 1) union ((select 2)) order by 1 desc nulls first limit 5 "
                   "offset 2");
    if (s) {
        const mc2_sql_query *q = s->query;
        CHECK(q->body->setop.left->kind == MC2_SQL_B_QUERY);
        CHECK(q->body->setop.left->query->has_limit && q->body->setop.left->query->limit == 1);
        CHECK(q->body->setop.right->kind == MC2_SQL_B_SELECT);
        CHECK(q->norder == 1 && q->order[0].desc && q->order[0].nulls == MC2_SQL_NULLS_FIRST);
        CHECK(q->order[0].expr->kind == MC2_SQL_E_INT &&
              strcmp(q->order[0].expr->lit.text, "1") == 0);
        CHECK(q->has_limit && q->limit == 5 && q->has_offset && q->offset == 2);
    }
    mc2_arena_free(&a);

    /* Joins: left-deep, comma items separate, ON/USING, aliases with column lists. */
    s = parse1(&a, "select * from a x (p, q) left join b on x.p = b.p cross join c, "
                   "d full outer join e using (k, \"K2\")");
    if (s) {
        const mc2_sql_select *sel = s->query->body->select;
        CHECK(sel->nfrom == 2);
        const mc2_sql_tref *j = sel->from[0];
        CHECK(j->kind == MC2_SQL_T_JOIN && j->join.type == MC2_SQL_J_CROSS && !j->join.on);
        const mc2_sql_tref *l = j->join.left;
        CHECK(l->kind == MC2_SQL_T_JOIN && l->join.type == MC2_SQL_J_LEFT && l->join.on);
        CHECK(l->join.left->kind == MC2_SQL_T_TABLE && strcmp(l->join.left->table.name, "a") == 0);
        CHECK(strcmp(l->join.left->alias, "x") == 0 && l->join.left->ncols == 2);
        CHECK(strcmp(l->join.left->cols[1], "q") == 0);
        const mc2_sql_tref *f = sel->from[1];
        CHECK(f->join.type == MC2_SQL_J_FULL && f->join.nusing == 2);
        CHECK(strcmp(f->join.using_[1], "K2") == 0);
    }
    mc2_arena_free(&a);

    /* Positions: line and column (in characters) of nodes. */
    s = parse1(&a, "select\n  t.b,\n\t\"é\" + 1 as \"x\"\nfrom t");
    if (s) {
        const mc2_sql_select *sel = s->query->body->select;
        const mc2_sql_expr *c = sel->items[0].expr;
        CHECK(c->kind == MC2_SQL_E_COLUMN && c->pos.line == 2 && c->pos.col == 3);
        CHECK(strcmp(c->column.table, "t") == 0 && strcmp(c->column.name, "b") == 0);
        const mc2_sql_expr *plus = sel->items[1].expr;
        CHECK(plus->kind == MC2_SQL_E_BINARY && plus->pos.line == 3 && plus->pos.col == 6);
        CHECK(plus->binary.left->pos.col == 2 && strcmp(plus->binary.left->column.name, "é") == 0);
        CHECK(plus->binary.right->pos.col == 8);
        CHECK(strcmp(sel->items[1].alias, "x") == 0 && sel->items[1].alias_pos.col == 13);
        CHECK(sel->from[0]->pos.line == 4 && sel->from[0]->pos.col == 6);
        CHECK(s->query->pos.line == 1 && s->query->pos.col == 1);
    }
    mc2_arena_free(&a);

    /* WITH, EXPLAIN, subquery kinds and literal values. */
    s = parse1(&a, "explain with r (x, y) as (select 1, 2) select * from r where x in (select 1) "
                   "and exists (select 1) and y = (select 2) and s like 'a!%' escape '!'");
    if (s) {
        CHECK(s->kind == MC2_SQL_S_EXPLAIN);
        CHECK(s->query->nctes == 1 && strcmp(s->query->ctes[0].name, "r") == 0);
        CHECK(s->query->ctes[0].ncols == 2 && strcmp(s->query->ctes[0].cols[1], "y") == 0);
        const mc2_sql_expr *w = s->query->body->select->where;
        CHECK(w->kind == MC2_SQL_E_BINARY && w->binary.op == MC2_SQL_OP_AND);
        const mc2_sql_expr *like = w->binary.right;
        CHECK(like->kind == MC2_SQL_E_LIKE && like->like.escape &&
              strcmp(like->like.escape->lit.text, "!") == 0);
        const mc2_sql_expr *eq = w->binary.left->binary.right;
        CHECK(eq->binary.right->kind == MC2_SQL_E_SUBQUERY);
        const mc2_sql_expr *ex = w->binary.left->binary.left->binary.right;
        CHECK(ex->kind == MC2_SQL_E_EXISTS);
        const mc2_sql_expr *in = w->binary.left->binary.left->binary.left;
        CHECK(in->kind == MC2_SQL_E_IN_QUERY && !in->in_query.negated);
        CHECK(w->height > in->height && in->height > 1);
    }
    mc2_arena_free(&a);

    s = parse1(&a, "select count(*), sum(distinct x), cast(d as decimal(15,2)), interval '7' day, "
                   "trim(leading 'x' from s), substring(s from 2), coalesce(a, b, c), 'a''b', "
                   "round(x, 2), date '2000-01-31'");
    if (s) {
        const mc2_sql_item *it = s->query->body->select->items;
        CHECK(it[0].expr->func.fn == MC2_SQL_FN_COUNT && it[0].expr->func.star &&
              it[0].expr->func.nargs == 0);
        CHECK(it[1].expr->func.fn == MC2_SQL_FN_SUM && it[1].expr->func.distinct);
        CHECK(mc2_sql_ast_is_aggregate(it[1].expr->func.fn));
        CHECK(it[2].expr->cast.type.id == MC2_T_DECIMAL && it[2].expr->cast.type.precision == 15 &&
              it[2].expr->cast.type.scale == 2);
        CHECK(it[3].expr->interval.value == 7 && it[3].expr->interval.unit == MC2_SQL_UNIT_DAY);
        CHECK(it[4].expr->func.fn == MC2_SQL_FN_TRIM &&
              it[4].expr->func.trim == MC2_SQL_TRIM_LEADING && it[4].expr->func.nargs == 2);
        CHECK(it[4].expr->func.args[0]->kind == MC2_SQL_E_COLUMN);
        CHECK(it[5].expr->func.fn == MC2_SQL_FN_SUBSTRING && it[5].expr->func.nargs == 2);
        CHECK(it[6].expr->func.fn == MC2_SQL_FN_COALESCE && it[6].expr->func.nargs == 3);
        CHECK(!mc2_sql_ast_is_aggregate(it[6].expr->func.fn));
        CHECK(it[7].expr->kind == MC2_SQL_E_STRING && it[7].expr->lit.len == 3 &&
              strcmp(it[7].expr->lit.text, "a'b") == 0);
        CHECK(it[8].expr->func.fn == MC2_SQL_FN_ROUND && it[8].expr->func.nargs == 2);
        CHECK(it[9].expr->kind == MC2_SQL_E_DATE &&
              strcmp(it[9].expr->lit.text, "2000-01-31") == 0);
    }
    mc2_arena_free(&a);

    /* A script: several statements, empty ones skipped, each with its own position. */
    mc2_err err;
    mc2_sql_stmt **ss;
    size_t n;
    static const char script[] = ";select 1;\n\n;explain select 2;  select 3";
    mc2_arena_init(&a, 0);
    CHECK(mc2_sql_parse_script(script, sizeof script - 1, &a, &ss, &n, &err) == 0);
    CHECK(n == 3 && ss[1]->kind == MC2_SQL_S_EXPLAIN && ss[1]->pos.line == 3 &&
          ss[2]->pos.col == 21);
    static const char script_bad[] = "select 1; select from t";
    CHECK(mc2_sql_parse_script(script_bad, sizeof script_bad - 1, &a, &ss, &n, &err) == -1 &&
          strncmp(err.msg, "line 1, column 18:", 18) == 0);
    mc2_arena_free(&a);
}

/* Each select item's text (its output name without an alias): its tokens as written, one
 * space where whitespace or comments separated two, cut to MC2_MAX_LABEL bytes on a UTF-8
 * boundary; NULL for *. */
static void test_item_text(void)
{
    mc2_arena a;
    const mc2_sql_stmt *s = parse1(&a, "select a  +\n 1 /* c */ , sum( x ) as s, t.b,"
                                       "count(*)--x\n, 'é''x' , * from t");
    if (s) {
        const mc2_sql_select *sel = s->query->body->select;
        CHECK(sel->nitems == 6);
        if (sel->nitems == 6) {
            CHECK(strcmp(sel->items[0].text, "a + 1") == 0);
            CHECK(strcmp(sel->items[1].text, "sum( x )") == 0 &&
                  strcmp(sel->items[1].alias, "s") == 0);
            CHECK(strcmp(sel->items[2].text, "t.b") == 0);
            CHECK(strcmp(sel->items[3].text, "count(*)") == 0);
            CHECK(strcmp(sel->items[4].text, "'é''x'") == 0);
            CHECK(sel->items[5].text == NULL);
        }
    }
    mc2_arena_free(&a);
    /* ' and 150 'é' (2 bytes each): 256 bytes would split a code point, so 255 are kept. */
    char q[400] = "select '";
    size_t n = strlen(q);
    for (int i = 0; i < 150; i++) n += (size_t)sprintf(q + n, "\xc3\xa9");
    strcpy(q + n, "' from t");
    s = parse1(&a, q);
    if (s) {
        const char *t = s->query->body->select->items[0].text;
        CHECK(strlen(t) == 255 && t[0] == '\'' && (unsigned char)t[253] == 0xc3 &&
              (unsigned char)t[254] == 0xa9);
    }
    mc2_arena_free(&a);
}

int main(void)
{
    struct {
        const char *name;
        void (*fn)(void);
    } parts[] = {
        {"lexer", test_lexer},
        {"tpch", test_tpch},
        {"corpus", test_corpus},
        {"errors", test_errors},
        {"expr shapes", test_expr_shapes},
        {"tree shapes", test_tree_shapes},
        {"item text", test_item_text},
        {"limits", test_limits},
        {"deep", test_deep},
        {"stack", test_stack},
    };
    double t0 = now();
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        double t = now();
        parts[i].fn();
        printf("%-12s %.3f s\n", parts[i].name, now() - t);
    }
    printf("total        %.3f s\n", now() - t0);
    return test_done("test_sql_parse");
}
