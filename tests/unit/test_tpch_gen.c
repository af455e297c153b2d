/* test_tpch_gen.c - the TPC-H generator (src/tpch) and the SQLite oracle (tests/sqlref):
 * SF 0.01 is deterministic by seed and independent of the thread count, keeps the value
 * rules of the specification, encrypts with the shipped schemas, and all 22 rewritten
 * queries return rows in SQLite. */
#include <dirent.h>
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
#include "sqlref/sqlref.h"
#include "table/textio.h"
#include "test.h"
#include "tpch/tpch.h"

#define SF 0.01

static char tmpdir[256];

static const char *schema_dir(void)
{
    static char buf[4096];
    const char *src = getenv("MC2_SRC");
    snprintf(buf, sizeof buf, "%s/schemas/tpch", src ? src : ".");
    return buf;
}

static char *sub(const char *name)
{
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, 4096, "%s/%s", tmpdir, name);
    return b;
}

static int gen(const char *dir, uint64_t seed, unsigned threads, int overwrite, mc2_tpch_stats *st,
               mc2_err *err)
{
    mc2_tpch_opts o = {.sf = SF, .seed = seed, .threads = threads, .overwrite = overwrite};
    return mc2_tpch_generate(dir, &o, st, err);
}

static int read_file(const char *dir, const char *table, mc2_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tbl", dir, table);
    mc2_err err;
    b->len = 0;
    return mc2_file_read_all(path, 1u << 30, b, &err);
}

/* 1 if the two directories hold byte-identical copies of `table`. */
static int same_table(const char *a, const char *b, const char *table)
{
    mc2_buf x = {0}, y = {0};
    int same = read_file(a, table, &x) == 0 && read_file(b, table, &y) == 0 && x.len == y.len &&
               memcmp(x.data, y.data, x.len) == 0;
    mc2_buf_free(&x);
    mc2_buf_free(&y);
    return same;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static void test_determinism(void)
{
    mc2_err err;
    mc2_tpch_stats a, b, c;
    uint64_t want[MC2_TPCH_NTABLES];
    mc2_tpch_counts(SF, want);
    CHECK_MSG(gen(sub("a"), 1, 2, 0, &a, &err) == 0, "%s", err.msg);
    CHECK_MSG(gen(sub("b"), 1, 1, 0, &b, &err) == 0, "%s", err.msg);
    CHECK_MSG(gen(sub("c"), 2, 3, 0, &c, &err) == 0, "%s", err.msg);
    CHECK(want[MC2_TPCH_REGION] == 5 && want[MC2_TPCH_NATION] == 25);
    CHECK(want[MC2_TPCH_SUPPLIER] == 100 && want[MC2_TPCH_CUSTOMER] == 1500);
    CHECK(want[MC2_TPCH_PART] == 2000 && want[MC2_TPCH_PARTSUPP] == 8000);
    CHECK(want[MC2_TPCH_ORDERS] == 15000);
    for (int t = 0; t < MC2_TPCH_NTABLES; t++) {
        const char *name = mc2_tpch_table_name((enum mc2_tpch_table)t);
        if (t != MC2_TPCH_LINEITEM) CHECK_MSG(a.rows[t] == want[t], "%s", name);
        CHECK(a.rows[t] == b.rows[t] && a.bytes[t] == b.bytes[t]);
        CHECK_MSG(same_table(sub("a"), sub("b"), name),
                  "%s: the same seed with 2 and 1 threads gave different files", name);
        CHECK_MSG(!same_table(sub("a"), sub("c"), name), "%s: seeds 1 and 2 gave the same file",
                  name);
    }
    uint64_t lines = a.rows[MC2_TPCH_LINEITEM], orders = a.rows[MC2_TPCH_ORDERS];
    CHECK_MSG(lines > orders * 35 / 10 && lines < orders * 45 / 10, "%llu lines",
              (unsigned long long)lines);

    /* Existing files: refused, then replaced with --force semantics; bad scale factors. */
    mc2_err_clear(&err);
    CHECK(gen(sub("a"), 1, 2, 0, NULL, &err) == -1 && err.code == MC2_E_EXISTS);
    CHECK(same_table(sub("a"), sub("b"), "lineitem"));
    CHECK_MSG(gen(sub("b"), 2, 2, 1, NULL, &err) == 0, "%s", err.msg);
    CHECK(same_table(sub("b"), sub("c"), "orders") && same_table(sub("b"), sub("c"), "lineitem"));
    mc2_tpch_opts bad = {.sf = 0.0001, .seed = 1};
    CHECK(mc2_tpch_generate(sub("d"), &bad, NULL, &err) == -1 && err.code == MC2_E_USAGE);
    CHECK(access(sub("d"), F_OK) != 0);
    CHECK(gen("/nonexistent-dir/x", 1, 1, 0, NULL, &err) == -1 && err.code == MC2_E_IO);
}

/* Allocation failures (one worker thread, so the allocations happen in a fixed order): a
 * clean MC2_E_NOMEM and no file left behind. */
static void test_alloc_failures(void)
{
    mc2_err err;
    int failures = 0;
    for (unsigned long n = 1; n < 400; n += n < 60 ? 1 : 3) {
        mc2_alloc_fail_after(n);
        int rc = gen(sub("e"), 1, 1, 1, NULL, &err);
        mc2_alloc_fail_after(0);
        if (rc == 0) break;
        failures++;
        CHECK_MSG(err.code == MC2_E_NOMEM, "allocation %lu: %s", n, err.msg);
        char path[8192];
        snprintf(path, sizeof path, "%s/lineitem.tbl", sub("e"));
        CHECK_MSG(access(path, F_OK) != 0, "allocation %lu left %s", n, path);
        DIR *d = opendir(sub("e"));
        int entries = 0;
        for (struct dirent *e; d && (e = readdir(d));) entries += e->d_name[0] != '.';
        if (d) closedir(d);
        CHECK_MSG(entries == 0, "allocation %lu left %d files", n, entries);
    }
    CHECK(failures > 5);
    CHECK(access(sub("e"), F_OK) == 0 && same_table(sub("a"), sub("e"), "lineitem"));
}

static void test_encrypt(void)
{
    static const char *const T[] = {"region", "nation",   "supplier", "customer",
                                    "part",   "partsupp", "orders",   "lineitem"};
    mc2_err err;
    uint8_t key[MC2_KEY_LEN];
    CHECK(mc2_random(key, sizeof key, &err) == 0);
    for (size_t t = 0; t < 8; t++) {
        char spath[8192], in[8192], out[8192];
        snprintf(spath, sizeof spath, "%s/%s.yaml", schema_dir(), T[t]);
        snprintf(in, sizeof in, "%s/%s.tbl", sub("a"), T[t]);
        snprintf(out, sizeof out, "%s/%s.mc2t", tmpdir, T[t]);
        mc2_schema *s = NULL;
        CHECK_MSG(mc2_schema_load(spath, &s, &err) == 0, "%s", err.msg);
        if (!s) continue;
        mc2_encrypt_opts o = {.format = MC2_FMT_TBL, .threads = 2};
        mc2_table_stats st = {0};
        CHECK_MSG(mc2_table_encrypt_file(in, s, key, out, &o, &st, &err) == 0, "%s: %s", T[t],
                  err.msg);
        CHECK(st.rows > 0);
        unlink(out);
        mc2_schema_free(s);
    }
}

static void test_sqlref_compare(void)
{
    sqlref_cell text = {.kind = SQLREF_TEXT, .s = "1.50", .len = 4};
    sqlref_cell d150 = {.kind = SQLREF_DEC, .i = 150, .scale = 2};
    sqlref_cell d15 = {.kind = SQLREF_DEC, .i = 15, .scale = 1};
    sqlref_cell d151 = {.kind = SQLREF_DEC, .i = 151, .scale = 2};
    sqlref_cell r = {.kind = SQLREF_REAL, .r = 1.5000000000001};
    sqlref_cell r2 = {.kind = SQLREF_REAL, .r = 1.5001};
    sqlref_cell i2 = {.kind = SQLREF_INT, .i = 2};
    sqlref_cell d200 = {.kind = SQLREF_DEC, .i = 200, .scale = 2};
    sqlref_cell null = {.kind = SQLREF_NULL};
    sqlref_cell str = {.kind = SQLREF_TEXT, .s = "abc", .len = 3};
    CHECK(sqlref_cell_cmp(&text, &d150, 1e-9) == 0);
    CHECK(sqlref_cell_cmp(&text, &d15, 1e-9) == 0);
    CHECK(sqlref_cell_cmp(&text, &d151, 0.1) != 0); /* exact, whatever the tolerance */
    CHECK(sqlref_cell_cmp(&r, &d150, 1e-9) == 0);
    CHECK(sqlref_cell_cmp(&r2, &d150, 1e-9) != 0);
    CHECK(sqlref_cell_cmp(&i2, &d200, 1e-9) == 0);
    CHECK(sqlref_cell_cmp(&null, &null, 1e-9) == 0);
    CHECK(sqlref_cell_cmp(&null, &i2, 1e-9) != 0);
    CHECK(sqlref_cell_cmp(&str, &text, 1e-9) != 0);
    CHECK(sqlref_cell_cmp(&str, &str, 1e-9) == 0);
}

/* sqlref_load_file: CSV with a header and NULLs, .tbl without a final newline, CRLF; the
 * DECIMAL column exact through dec() and compared with an mc2 batch. */
static void test_sqlref_load(void)
{
    static const char YAML[] = "table: t\ncolumns:\n"
                               "  - {name: k, type: INT64, nullable: false}\n"
                               "  - {name: d, type: \"DECIMAL(10,2)\"}\n"
                               "  - {name: day, type: DATE}\n"
                               "  - {name: s, type: VARCHAR(5)}\n";
    mc2_err err;
    mc2_schema *sc = NULL;
    CHECK_MSG(mc2_schema_parse("t.yaml", YAML, sizeof YAML - 1, &sc, &err) == 0, "%s", err.msg);
    if (!sc) return;
    char csv[8192], tbl[8192];
    snprintf(csv, sizeof csv, "%s/t.csv", tmpdir);
    snprintf(tbl, sizeof tbl, "%s/t.tbl", tmpdir);
    static const char CSV[] =
        "k,d,day,s\r\n1,1.5,1995-06-17,ab\r\n2,,,\r\n3,-0.07,2000-02-29,x\r\n";
    static const char TBL[] = "1|1.5|1995-06-17|ab|\n2||||\n3|-0.07|2000-02-29|x|";
    CHECK(mc2_file_write_atomic(csv, CSV, sizeof CSV - 1, 0600, 0, &err) == 0);
    CHECK(mc2_file_write_atomic(tbl, TBL, sizeof TBL - 1, 0600, 0, &err) == 0);
    sqlite3 *db = NULL;
    CHECK(sqlref_open(&db, &err) == 0);
    if (!db) {
        mc2_schema_free(sc);
        return;
    }
    CHECK_MSG(sqlref_load_file(db, "a", sc, csv, MC2_FMT_CSV, &err) == 0, "%s", err.msg);
    CHECK_MSG(sqlref_load_file(db, "b", sc, tbl, MC2_FMT_TBL, &err) == 0, "%s", err.msg);
    sqlref_result *x = NULL, *y = NULL;
    CHECK(sqlref_query(db, "select k, dec(d, 2), day, s from a order by k", &x, &err) == 0);
    CHECK(sqlref_query(db, "select k, dec(d, 2), day, s from b order by k", &y, &err) == 0);
    char why[256] = "";
    if (x && y) {
        CHECK(x->nrows == 3);
        CHECK_MSG(sqlref_result_cmp(x, y, 1, 0, why, sizeof why) == 0, "%s", why);
        CHECK(sqlref_at(x, 0, 1)->kind == SQLREF_TEXT &&
              strcmp(sqlref_at(x, 0, 1)->s, "1.50") == 0);
        CHECK(strcmp(sqlref_at(x, 2, 1)->s, "-0.07") == 0);
        CHECK(sqlref_at(x, 1, 1)->kind == SQLREF_NULL && sqlref_at(x, 1, 2)->kind == SQLREF_NULL);
        CHECK(sqlref_at(x, 1, 3)->kind == SQLREF_NULL);
        CHECK(strcmp(sqlref_at(x, 2, 2)->s, "2000-02-29") == 0);
        /* The same rows as an mc2 batch (how an mc2 answer is compared). */
        mc2_batch *b = mc2_batch_new(sc, 4, &err);
        sqlref_result *m = sqlref_result_for_schema(sc, &err);
        mc2_buf text = {0};
        CHECK(mc2_file_read_all(tbl, 1 << 20, &text, &err) == 0);
        mc2_textpos pos = {"t.tbl", 1};
        if (b && m) {
            CHECK(mc2_text_parse(MC2_FMT_TBL, (const char *)text.data, text.len, &pos, b, &err) ==
                  0);
            CHECK(sqlref_result_append_batch(m, b, &err) == 0);
            CHECK(sqlref_at(m, 0, 1)->kind == SQLREF_DEC && sqlref_at(m, 0, 1)->i == 150);
            CHECK_MSG(sqlref_result_cmp(x, m, 0, 1e-9, why, sizeof why) == 0, "%s", why);
            m->cells[2 * 4 + 1].i = -8; /* -0.08 */
            CHECK(sqlref_result_cmp(x, m, 0, 1e-9, why, sizeof why) != 0);
        }
        mc2_buf_free(&text);
        sqlref_result_free(m);
        mc2_batch_free(b);
    }
    sqlref_result_free(x);
    sqlref_result_free(y);
    /* A bad file: the error names the file and line, and no table is left half-loaded. */
    static const char BAD[] = "1|1.5|1995-06-17|ab|\n2|x|||\n";
    CHECK(mc2_file_write_atomic(tbl, BAD, sizeof BAD - 1, 0600, 0, &err) == 0);
    CHECK(sqlref_load_file(db, "c", sc, tbl, MC2_FMT_TBL, &err) == -1 && strstr(err.msg, "line 2"));
    CHECK(sqlref_query(db, "select count(*) from c", &x, &err) == 0 && x &&
          sqlref_at(x, 0, 0)->i == 0);
    sqlref_result_free(x);
    sqlref_close(db);
    mc2_schema_free(sc);
}

/* Each query must return a single 0: a rule of clause 4.2.3 that the data keeps. */
static const char *const RULES[] = {
    /* line dates relative to the order date, and to each other */
    "select count(*) from lineitem join orders on l_orderkey = o_orderkey where not ("
    " l_shipdate > o_orderdate and l_shipdate <= date(o_orderdate, '+121 days')"
    " and l_commitdate >= date(o_orderdate, '+30 days')"
    " and l_commitdate <= date(o_orderdate, '+90 days')"
    " and l_receiptdate > l_shipdate and l_receiptdate <= date(l_shipdate, '+30 days'))",
    "select count(*) from orders where o_orderdate < '1992-01-01' or o_orderdate > '1998-08-02'",
    "select count(*) from lineitem where (l_receiptdate <= '1995-06-17') <>"
    " (l_returnflag in ('R', 'A')) or l_returnflag not in ('R', 'A', 'N')",
    "select count(*) from lineitem where (l_shipdate > '1995-06-17') <> (l_linestatus = 'O')"
    " or l_linestatus not in ('O', 'F')",
    "select count(*) from lineitem join part on l_partkey = p_partkey"
    " where l_extendedprice * 100 <> l_quantity * p_retailprice",
    "select count(*) from lineitem where l_quantity not between 100 and 5000"
    " or l_quantity % 100 <> 0 or l_discount not between 0 and 10 or l_tax not between 0 and 8",
    "select count(*) from lineitem where not exists (select 1 from partsupp"
    " where ps_partkey = l_partkey and ps_suppkey = l_suppkey)",
    "select count(*) from orders where o_orderstatus <> (select case"
    " when min(l_linestatus) = 'F' and max(l_linestatus) = 'F' then 'F'"
    " when min(l_linestatus) = 'O' and max(l_linestatus) = 'O' then 'O' else 'P' end"
    " from lineitem where l_orderkey = o_orderkey)",
    "select count(*) from orders where o_totalprice <> (select"
    " sum(l_extendedprice * (100 - l_discount) / 100 * (100 + l_tax) / 100)"
    " from lineitem where l_orderkey = o_orderkey)",
    "select count(*) from orders where o_custkey % 3 = 0 or o_orderkey % 32 >= 8"
    " or o_custkey not in (select c_custkey from customer)",
    "select count(*) from (select l_orderkey from lineitem group by l_orderkey"
    " having count(*) > 7 or count(*) <> max(l_linenumber))",
    "select count(*) from customer where cast(substr(c_phone, 1, 2) as integer)"
    " <> c_nationkey + 10 or length(c_phone) <> 15",
    "select count(*) from supplier where cast(substr(s_phone, 1, 2) as integer)"
    " <> s_nationkey + 10 or length(s_phone) <> 15",
    "select count(*) from part where p_retailprice"
    " <> 90000 + (p_partkey / 10) % 20001 + 100 * (p_partkey % 1000)"
    " or p_size not between 1 and 50 or substr(p_brand, 7, 1) <> substr(p_mfgr, 14, 1)",
    "select count(*) from partsupp where ps_availqty not between 1 and 9999"
    " or ps_supplycost not between 100 and 100000",
    "select count(*) from (select ps_partkey from partsupp group by ps_partkey"
    " having count(distinct ps_suppkey) <> 4)",
    "select count(*) from customer where c_acctbal not between -99999 and 999999"
    " or c_mktsegment not in ('AUTOMOBILE', 'BUILDING', 'FURNITURE', 'MACHINERY', 'HOUSEHOLD')",
    "select 1 - count(*) from nation join region on n_regionkey = r_regionkey"
    " where n_name = 'SAUDI ARABIA' and r_name = 'MIDDLE EAST'",
    "select (select count(*) from supplier where s_comment like '%Customer%Complaints%') <> 1"
    " or (select count(*) from supplier where s_comment like '%Customer%Recommends%') <> 1",
    "select count(*) from lineitem where length(l_comment) not between 10 and 43",
    "select count(*) from orders where length(o_comment) not between 19 and 78",
    "select count(*) from (select o_custkey from orders group by o_custkey)"
    " where o_custkey > 1500"};

static void test_sqlite(void)
{
    mc2_err err;
    sqlite3 *db = NULL;
    CHECK_MSG(sqlref_open(&db, &err) == 0, "%s", err.msg);
    if (!db) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_MSG(sqlref_load_tpch(db, sub("a"), schema_dir(), 1, &err) == 0, "%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("loaded SF %g into SQLite in %.2f s\n", SF,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
        sqlref_result *r = NULL;
        CHECK_MSG(sqlref_query(db, RULES[i], &r, &err) == 0, "%s", err.msg);
        if (!r) continue;
        CHECK_MSG(r->nrows == 1 && sqlref_at(r, 0, 0)->kind == SQLREF_INT &&
                      sqlref_at(r, 0, 0)->i == 0,
                  "rule %zu broken (%lld): %s", i + 1,
                  r->nrows ? (long long)sqlref_at(r, 0, 0)->i : -1LL, RULES[i]);
        sqlref_result_free(r);
    }

    /* The decimal views: the same sum, exactly and in floating point. */
    sqlref_result *x = NULL, *y = NULL;
    CHECK(sqlref_query(db, "select dec(sum(l_extendedprice), 2) from lineitem", &x, &err) == 0);
    CHECK(sqlref_query(db, "select sum(l_extendedprice) from lineitem_real", &y, &err) == 0);
    if (x && y) CHECK(sqlref_cell_cmp(sqlref_at(x, 0, 0), sqlref_at(y, 0, 0), 1e-9) == 0);
    sqlref_result_free(x);
    sqlref_result_free(y);

    printf("TPC-H SF %g in SQLite, rows per query:", SF);
    for (int q = 1; q <= 22; q++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tpch/sqlite/q%d.sql", q);
        sqlref_result *r = NULL;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_MSG(sqlref_query_file(db, test_data(rel), &r, &err) == 0, "q%d: %s", q, err.msg);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!r) continue;
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf(" q%d=%zu", q, r->nrows);
        if (secs > 2) printf("(%.1fs)", secs);
        CHECK_MSG(r->nrows > 0, "q%d returned no rows", q);
        /* No NULL in the first row: aggregates over no rows (Q17, Q19) would be NULL. */
        for (size_t c = 0; r->nrows && c < r->ncols; c++)
            CHECK_MSG(sqlref_at(r, 0, c)->kind != SQLREF_NULL, "q%d column %s is NULL", q,
                      r->names[c]);
        sqlref_result_free(r);
    }
    printf("\n");

    /* A result compared with itself, in order and as a multiset. */
    CHECK(sqlref_query_file(db, test_data("tpch/sqlite/q1.sql"), &x, &err) == 0);
    CHECK(sqlref_query_file(db, test_data("tpch/sqlite/q1.sql"), &y, &err) == 0);
    char why[256] = "";
    if (x && y) {
        CHECK_MSG(sqlref_result_cmp(x, y, 1, 1e-9, why, sizeof why) == 0, "%s", why);
        CHECK_MSG(sqlref_result_cmp(x, y, 0, 1e-9, why, sizeof why) == 0, "%s", why);
        mc2_free(y->cells[2].s);
        y->cells[2].s = mc2_strdup("0.01"); /* sum_qty of the first group */
        y->cells[2].len = 4;
        CHECK(sqlref_result_cmp(x, y, 1, 1e-9, why, sizeof why) != 0 && strstr(why, "sum_qty"));
    }
    sqlref_result_free(x);
    sqlref_result_free(y);
    sqlref_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mc2-test-tpch-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_sqlref_compare();
    test_sqlref_load();
    test_determinism();
    test_alloc_failures();
    test_encrypt();
    test_sqlite();
    rm_tree(tmpdir);
    return test_done("test_tpch_gen");
}
