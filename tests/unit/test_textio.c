/* test_textio.c - CSV and .tbl scanning, parsing, error messages, NULL rules and writing. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "mc2/table.h"
#include "table/textio.h"
#include "table/value.h"
#include "test.h"

__extension__ typedef unsigned __int128 u128;

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static mc2_schema *schema(const char *yaml)
{
    mc2_schema *s = NULL;
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_schema_parse("test schema", yaml, strlen(yaml), &s, &err);
    CHECK_MSG(rc == 0, "schema: %s", err.msg);
    if (rc) {
        fprintf(stderr, "cannot continue without the schema\n");
        exit(1);
    }
    return s;
}

/* Counts records like a caller does: one record end at a time, plus a final record without
 * a newline if bytes remain after the last record end. */
static uint64_t count_records(enum mc2_textfmt fmt, const char *p, size_t n)
{
    mc2_scan st = {0};
    uint64_t rec = 0, lines = 0;
    size_t off = 0;
    while (off < n) {
        uint64_t r = 0;
        off += mc2_text_scan(fmt, &st, p + off, n - off, 1, &r, &lines);
        if (r == 0) {
            rec++; /* the rest is a final record without its line end */
            break;
        }
        rec += r;
    }
    return rec;
}

/* Parses text (after checking and skipping a CSV header if `header`) into a new batch, as the
 * file-level encrypter will. NULL with *err set on failure. */
static mc2_batch *parse_text(enum mc2_textfmt fmt, const mc2_schema *s, const char *p, size_t n,
                             int header, mc2_err *err)
{
    mc2_err_clear(err);
    uint64_t line = 1;
    if (header) {
        mc2_scan st = {0};
        uint64_t rec = 0, lines = 0;
        size_t k = mc2_text_scan(fmt, &st, p, n, 1, &rec, &lines);
        size_t hl = k;
        if (hl > 0 && p[hl - 1] == '\n') hl--;
        if (hl > 0 && p[hl - 1] == '\r') hl--;
        if (mc2_text_check_header(p, hl, s, "t.csv", err)) return NULL;
        line += lines;
        p += k;
        n -= k;
    }
    uint64_t nrec = count_records(fmt, p, n);
    mc2_batch *b = mc2_batch_new(s, nrec ? nrec : 1, err);
    if (!b) return NULL;
    mc2_textpos pos = {"t.csv", line};
    if (mc2_text_parse(fmt, p, n, &pos, b, err)) {
        mc2_batch_free(b);
        return NULL;
    }
    return b;
}

static mc2_batch *parse_str(enum mc2_textfmt fmt, const mc2_schema *s, const char *text, int header,
                            mc2_err *err)
{
    return parse_text(fmt, s, text, strlen(text), header, err);
}

/* The VARCHAR value of row r, column c, as a NUL-terminated string in a static buffer. */
static const char *str_at(const mc2_batch *b, size_t c, size_t r)
{
    static char buf[4096];
    const mc2_col *col = &b->cols[c];
    size_t n = col->off[r + 1] - col->off[r];
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, col->data + col->off[r], n);
    buf[n] = '\0';
    return buf;
}

static int is_null(const mc2_batch *b, size_t c, size_t r)
{
    return b->cols[c].nulls && b->cols[c].nulls[r];
}

/* Expects parsing to fail with MC2_E_INPUT and a message containing every fragment given. */
#define EXPECT_ERR(fmt, s, text, header, ...)                                                      \
    do {                                                                                           \
        mc2_err e_;                                                                                \
        mc2_batch *b_ = parse_str(fmt, s, text, header, &e_);                                      \
        CHECK_MSG(b_ == NULL, "parse of %s should fail", #text);                                   \
        mc2_batch_free(b_);                                                                        \
        CHECK_MSG(e_.code == MC2_E_INPUT, "code %d: %s", (int)e_.code, e_.msg);                    \
        const char *frags_[] = {__VA_ARGS__};                                                      \
        for (size_t i_ = 0; i_ < sizeof frags_ / sizeof frags_[0]; i_++)                           \
            CHECK_MSG(strstr(e_.msg, frags_[i_]) != NULL, "message '%s' lacks '%s'", e_.msg,       \
                      frags_[i_]);                                                                 \
    } while (0)

/* ---- scanning ------------------------------------------------------------------------------- */

/* The obvious byte-at-a-time scanner, to check the fast one against. Fills ends[] with the
 * offset after each record end; returns the record count; *lines gets physical lines. */
static size_t ref_scan(enum mc2_textfmt fmt, const char *p, size_t n, size_t *ends, uint64_t *lines)
{
    size_t rec = 0;
    int inq = 0;
    *lines = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"' && fmt == MC2_FMT_CSV) inq ^= 1;
        if (c == '\r') ++*lines;
        if (c == '\n') {
            if (!(i > 0 && p[i - 1] == '\r')) ++*lines;
            if (!inq) ends[rec++] = i + 1;
        }
    }
    return rec;
}

static void test_scan_splits(void)
{
    static const char *const inputs[] = {
        ("id,name,note\r\n1,\"a,b\",\"line1\nline2\"\r\n2,\"he said \"\"hi\"\"\",x\n3,,\"\r\"\n"
         "4,\"cr\r\nlf\",y"),
        "a|b|c|\n1|2|3|\r\n4|\"|6|\n\n|||\n",
        "\"\"\"\",\"\n\n\r\r\n\"\n\r\n\r\n",
        "",
        "x",
        "\n",
    };
    for (size_t t = 0; t < sizeof inputs / sizeof inputs[0]; t++) {
        for (int f = 0; f < 2; f++) {
            enum mc2_textfmt fmt = f ? MC2_FMT_TBL : MC2_FMT_CSV;
            const char *p = inputs[t];
            size_t n = strlen(p);
            size_t ends[64];
            uint64_t ref_lines;
            size_t ref_rec = ref_scan(fmt, p, n, ends, &ref_lines);
            /* Whole buffer. */
            {
                mc2_scan st = {0};
                uint64_t rec = 0, lines = 0;
                CHECK(mc2_text_scan(fmt, &st, p, n, UINT64_MAX, &rec, &lines) == n);
                CHECK_MSG(rec == ref_rec && lines == ref_lines,
                          "input %zu fmt %d: %llu/%llu records, %llu/%llu lines", t, f,
                          (unsigned long long)rec, (unsigned long long)ref_rec,
                          (unsigned long long)lines, (unsigned long long)ref_lines);
            }
            /* Every pair of cut points i <= j: three pieces. */
            for (size_t i = 0; i <= n; i++)
                for (size_t j = i; j <= n; j++) {
                    mc2_scan st = {0};
                    uint64_t rec = 0, lines = 0;
                    size_t used = mc2_text_scan(fmt, &st, p, i, UINT64_MAX, &rec, &lines);
                    used += mc2_text_scan(fmt, &st, p + i, j - i, UINT64_MAX, &rec, &lines);
                    used += mc2_text_scan(fmt, &st, p + j, n - j, UINT64_MAX, &rec, &lines);
                    CHECK_MSG(used == n && rec == ref_rec && lines == ref_lines,
                              "input %zu fmt %d cut %zu,%zu: %llu records %llu lines", t, f, i, j,
                              (unsigned long long)rec, (unsigned long long)lines);
                }
            /* One record at a time (want = 1) finds the reference boundaries, and the line
             * counts add up. */
            mc2_scan st = {0};
            size_t off = 0, k = 0;
            uint64_t lines = 0;
            while (off < n) {
                uint64_t rec = 0;
                size_t used = mc2_text_scan(fmt, &st, p + off, n - off, 1, &rec, &lines);
                if (rec == 0) {
                    CHECK(off + used == n);
                    off += used;
                    break;
                }
                CHECK_MSG(k < ref_rec && off + used == ends[k], "input %zu fmt %d record %zu", t, f,
                          k);
                off += used;
                k++;
            }
            CHECK(k == ref_rec && off == n && lines == ref_lines);
        }
    }
}

/* Random text over the bytes that matter, long enough to exercise the 16-byte paths. */
static void test_scan_random(void)
{
    static const char alphabet[] = "ab,|\"\n\r";
    char p[300];
    size_t ends[300];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = rnd_below(sizeof p);
        for (size_t i = 0; i < n; i++) p[i] = alphabet[rnd_below(sizeof alphabet - 1)];
        for (int f = 0; f < 2; f++) {
            enum mc2_textfmt fmt = f ? MC2_FMT_TBL : MC2_FMT_CSV;
            uint64_t ref_lines;
            size_t ref_rec = ref_scan(fmt, p, n, ends, &ref_lines);
            size_t cut = n ? rnd_below(n + 1) : 0;
            mc2_scan st = {0};
            uint64_t rec = 0, lines = 0;
            size_t used = mc2_text_scan(fmt, &st, p, cut, UINT64_MAX, &rec, &lines);
            used += mc2_text_scan(fmt, &st, p + cut, n - cut, UINT64_MAX, &rec, &lines);
            CHECK(used == n && rec == ref_rec && lines == ref_lines);
            /* want = 3 from the start stops right after the third record end. */
            mc2_scan st2 = {0};
            rec = 0;
            lines = 0;
            used = mc2_text_scan(fmt, &st2, p, n, 3, &rec, &lines);
            if (ref_rec >= 3)
                CHECK(rec == 3 && used == ends[2]);
            else
                CHECK(rec == ref_rec && used == n);
        }
    }
}

/* ---- parsing -------------------------------------------------------------------------------- */

static const char *ALL_YAML = "table: all\n"
                              "columns:\n"
                              "  - {name: i, type: INT64}\n"
                              "  - {name: d, type: DOUBLE}\n"
                              "  - {name: m, type: 'DECIMAL(10,2)'}\n"
                              "  - {name: dt, type: DATE}\n"
                              "  - {name: b, type: BOOL}\n"
                              "  - {name: s, type: VARCHAR(5)}\n"
                              "  - {name: sn, type: VARCHAR(5), nullable: false}\n"
                              "  - {name: inn, type: INT64, nullable: false}\n";

static void test_parse_basic(const mc2_schema *s)
{
    mc2_err err;
    const char *csv =
        "I,D,M,DT,B,S,SN,INN\r\n"
        "1,2.5,3.25,2024-02-29,true,abc,xyz,7\r\n"
        "-9223372036854775808,-1e300,-12345678.99,0001-01-01,F,\"a,b\",\"\"\"q\"\"\",0\n"
        ",,,,,,,-1\n"
        "\"42\",\"0.1\",\"0\",\"9999-12-31\",\"yes\",\"\",\"\",\"5\"\n"
        "3,4,5,1970-01-01,0,\"x\r\ny\",\"l\nm\",8";
    mc2_batch *b = parse_str(MC2_FMT_CSV, s, csv, 1, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (!b) return;
    CHECK(b->nrows == 5);
    CHECK(b->cols[0].v.i64[0] == 1 && b->cols[1].v.f64[0] == 2.5 && b->cols[2].v.i64[0] == 325);
    CHECK(b->cols[3].v.i32[0] == mc2_days_from_civil(2024, 2, 29) && b->cols[4].v.b[0] == 1);
    CHECK(strcmp(str_at(b, 5, 0), "abc") == 0 && strcmp(str_at(b, 6, 0), "xyz") == 0);
    CHECK(b->cols[7].v.i64[0] == 7);
    CHECK(b->cols[0].v.i64[1] == INT64_MIN && b->cols[1].v.f64[1] == -1e300);
    CHECK(b->cols[2].v.i64[1] == -1234567899 && b->cols[3].v.i32[1] == MC2_DATE_MIN);
    CHECK(b->cols[4].v.b[1] == 0 && strcmp(str_at(b, 5, 1), "a,b") == 0);
    CHECK(strcmp(str_at(b, 6, 1), "\"q\"") == 0);
    for (size_t c = 0; c < 6; c++) CHECK(is_null(b, c, 2));
    CHECK(!is_null(b, 6, 2) && strcmp(str_at(b, 6, 2), "") == 0 && b->cols[7].v.i64[2] == -1);
    CHECK(b->cols[0].v.i64[2] == 0 && b->cols[1].v.f64[2] == 0.0);
    CHECK(b->cols[0].v.i64[3] == 42 && b->cols[1].v.f64[3] == 0.1 && b->cols[2].v.i64[3] == 0);
    CHECK(b->cols[3].v.i32[3] == MC2_DATE_MAX && b->cols[4].v.b[3] == 1);
    CHECK(!is_null(b, 5, 3) && strcmp(str_at(b, 5, 3), "") == 0);
    CHECK(strcmp(str_at(b, 6, 3), "") == 0 && b->cols[7].v.i64[3] == 5);
    CHECK(b->cols[3].v.i32[4] == 0 && strcmp(str_at(b, 5, 4), "x\r\ny") == 0);
    CHECK(strcmp(str_at(b, 6, 4), "l\nm") == 0 && b->cols[7].v.i64[4] == 8);
    mc2_batch_free(b);

    /* Multi-byte UTF-8 counts code points, not bytes: 5 characters fit VARCHAR(5). */
    b = parse_str(MC2_FMT_CSV, s,
                  "1,1,1,2000-01-01,t,h\xC3\xA9llo,\xE4\xB8\xAD\xF0\x9F\x98\x80,1\n", 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) CHECK(strcmp(str_at(b, 5, 0), "h\xC3\xA9llo") == 0);
    mc2_batch_free(b);
}

static void test_null_rules(const mc2_schema *s)
{
    mc2_err err;
    /* CSV: unquoted empty is NULL, "" is the empty string; NOT NULL VARCHAR empty is "". */
    mc2_batch *b = parse_str(MC2_FMT_CSV, s,
                             "1,1,1,2000-01-01,t,,,1\n1,1,1,2000-01-01,t,\"\",\"\",1\n", 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(is_null(b, 5, 0) && b->cols[5].off[1] == b->cols[5].off[0]);
        CHECK(!is_null(b, 5, 1) && strcmp(str_at(b, 5, 1), "") == 0);
        CHECK(b->cols[6].nulls == NULL);
        CHECK(strcmp(str_at(b, 6, 0), "") == 0 && strcmp(str_at(b, 6, 1), "") == 0);
    }
    mc2_batch_free(b);
    /* .tbl: empty is NULL, or "" in a NOT NULL VARCHAR. */
    b = parse_str(MC2_FMT_TBL, s, "||||||||\n", 0, &err);
    CHECK(b == NULL && strstr(err.msg, "column 8 (inn)") && strstr(err.msg, "NOT NULL"));
    mc2_batch_free(b);
    b = parse_str(MC2_FMT_TBL, s, "|||||||3|\n||||||\"\"|4\n", 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->nrows == 2);
        for (size_t c = 0; c < 6; c++) CHECK(is_null(b, c, 0) && is_null(b, c, 1));
        CHECK(strcmp(str_at(b, 6, 0), "") == 0 && b->cols[7].v.i64[0] == 3);
        /* no quoting in .tbl: the quotes are data */
        CHECK(strcmp(str_at(b, 6, 1), "\"\"") == 0 && b->cols[7].v.i64[1] == 4);
    }
    mc2_batch_free(b);
    /* A quoted empty field is the empty string, which no other type accepts. */
    EXPECT_ERR(MC2_FMT_CSV, s, "\"\",1,1,2000-01-01,t,,,1\n", 0, "t.csv line 1, column 1 (i)",
               "quoted empty string", "INT64");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,,,\n", 0, "line 1, column 8 (inn)",
               "empty value in a NOT NULL INT64 column");
}

static void test_quoting_and_line_ends(void)
{
    mc2_schema *s = schema("columns:\n  - {name: a, type: VARCHAR(100)}\n"
                           "  - {name: n, type: INT64}\n");
    mc2_err err;
    const char *csv = "\"a,b\",1\r\n"
                      "\"x\"\"y\"\"\",2\n"
                      "\"multi\nline\r\nand\rcr\",3\r\n"
                      "\"\"\"\",4\n"
                      "plain text,5"; /* no final newline */
    mc2_batch *b = parse_str(MC2_FMT_CSV, s, csv, 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->nrows == 5);
        CHECK(strcmp(str_at(b, 0, 0), "a,b") == 0 && b->cols[1].v.i64[0] == 1);
        CHECK(strcmp(str_at(b, 0, 1), "x\"y\"") == 0);
        CHECK(strcmp(str_at(b, 0, 2), "multi\nline\r\nand\rcr") == 0);
        CHECK(strcmp(str_at(b, 0, 3), "\"") == 0);
        CHECK(strcmp(str_at(b, 0, 4), "plain text") == 0 && b->cols[1].v.i64[4] == 5);
    }
    mc2_batch_free(b);
    /* Line numbers after multi-line records: "multi..." spans lines 3-6, so the bad value on
     * the next record is on line 7. */
    EXPECT_ERR(MC2_FMT_CSV, s, "a,1\nb,2\n\"multi\nline\r\nand\rcr\",3\nc,x\n", 0,
               "t.csv line 7, column 2 (n)", "cannot read 'x' as INT64");
    /* ... and an error inside a multi-line record names the line of the field. */
    EXPECT_ERR(MC2_FMT_CSV, s, "a,1\n\"multi\nline\",1\"\n", 0, "line 3, column 2 (n)",
               "a '\"' inside a field that does not start with a quote");
    /* A single-column schema: an empty line is a NULL row. */
    mc2_schema *s1 = schema("columns:\n  - {name: a, type: INT64}\n");
    b = parse_str(MC2_FMT_CSV, s1, "1\n\n3\r\n\r\n", 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) CHECK(b->nrows == 4 && !is_null(b, 0, 0) && is_null(b, 0, 1) && is_null(b, 0, 3));
    mc2_batch_free(b);
    mc2_schema_free(s1);
    mc2_schema_free(s);
}

static void test_errors(const mc2_schema *s)
{
    const char *ok = "1,1,1,2000-01-01,t,a,b,1\n";
    char buf[512];
    /* Wrong column counts, with the line number after two good records. */
    snprintf(buf, sizeof buf, "%s%s1,1,1,2000-01-01,t,a,b,1,9\n", ok, ok);
    EXPECT_ERR(MC2_FMT_CSV, s, buf, 0, "t.csv line 3: expected 8 columns, found 9");
    snprintf(buf, sizeof buf, "%s1,1\n", ok);
    EXPECT_ERR(MC2_FMT_CSV, s, buf, 0, "line 2: expected 8 columns, found 2");
    EXPECT_ERR(MC2_FMT_CSV, s, "i,d,m,dt,b,s,sn,inn\n\n", 1,
               "line 2: expected 8 columns, found an empty line");
    EXPECT_ERR(MC2_FMT_TBL, s, "1|1|1|2000-01-01|t|a|b|\n", 0,
               "line 1: expected 8 columns, found 7");
    EXPECT_ERR(MC2_FMT_TBL, s, "1|1|1|2000-01-01|t|a|b|1|2|\n", 0,
               "line 1: expected 8 columns, found 9");
    /* Unterminated quote: the line where the quote started. */
    snprintf(buf, sizeof buf, "%s1,1,1,2000-01-01,t,\"abc\n\ndef,b,1\n", ok);
    EXPECT_ERR(MC2_FMT_CSV, s, buf, 0, "line 2, column 6 (s)", "closing '\"' is missing");
    /* Stray characters after a closing quote. */
    snprintf(buf, sizeof buf, "%s1,1,1,2000-01-01,t,\"ab\"c,b,1\n", ok);
    EXPECT_ERR(MC2_FMT_CSV, s, buf, 0, "line 2, column 6 (s)", "unexpected 'c' after the closing");
    /* Unparsable numbers, dates, booleans: quoted, and cut to about 40 bytes. */
    EXPECT_ERR(MC2_FMT_CSV, s, "12x,1,1,2000-01-01,t,a,b,1\n", 0, "line 1, column 1 (i)",
               "cannot read '12x' as INT64: not an integer");
    EXPECT_ERR(MC2_FMT_CSV, s, "99999999999999999999,1,1,2000-01-01,t,a,b,1\n", 0,
               "out of range for INT64");
    EXPECT_ERR(MC2_FMT_CSV, s, "1, 1,1,2000-01-01,t,a,b,1\n", 0, "column 2 (d)",
               "cannot read ' 1' as DOUBLE");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,nan,1,2000-01-01,t,a,b,1\n", 0, "cannot read 'nan' as DOUBLE");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1.234,2000-01-01,t,a,b,1\n", 0, "column 3 (m)",
               "cannot read '1.234' as DECIMAL(10,2)", "after the decimal point");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,123456789,2000-01-01,t,a,b,1\n", 0, "before the decimal point");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2023-02-29,t,a,b,1\n", 0, "column 4 (dt)",
               "cannot read '2023-02-29' as DATE: not a real calendar day");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,maybe,a,b,1\n", 0, "column 5 (b)",
               "cannot read 'maybe' as BOOL");
    EXPECT_ERR(MC2_FMT_CSV, s,
               "1,1,1,2000-01-01,t,a,b,1234567890123456789012345678901234567890123456789\n", 0,
               "column 8 (inn)", "'1234567890123456789012345678901234567890...'");
    /* String longer than declared: the declared n and the actual length. */
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,abcdef,b,1\n", 0, "column 6 (s)",
               "is 6 characters long but the column is VARCHAR(5)");
    EXPECT_ERR(MC2_FMT_TBL, s,
               "1|1|1|2000-01-01|t|a|\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9|1|\n", 0,
               "column 7 (sn)", "6 characters long", "VARCHAR(5)");
    /* Invalid UTF-8. */
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,a\xFF,b,1\n", 0, "column 6 (s)", "invalid UTF-8",
               "convert the file");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,\"\xC0\xAF\",b,1\n", 0, "overlong");
    /* Empty value in a NOT NULL non-string column. */
    EXPECT_ERR(MC2_FMT_TBL, s, "1|1|1|2000-01-01|t|a|b||\n", 0, "line 1, column 8 (inn)",
               "empty value in a NOT NULL INT64 column");
    /* A quote in an unquoted field; a lone CR outside quotes. */
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,a\"b,b,1\n", 0, "column 6 (s)",
               "does not start with a quote");
    EXPECT_ERR(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,a\rb,b,1\n", 0, "line 1, column 6 (s)",
               "carriage return");
    /* Error text escapes control characters. */
    EXPECT_ERR(MC2_FMT_CSV, s, "\"1\n\t\",1,1,2000-01-01,t,a,b,1\n", 0, "'1\\n\\t'");
    /* The chunk's first line comes from the caller. */
    {
        mc2_batch *b = mc2_batch_new(s, 4, NULL);
        mc2_err e;
        mc2_textpos pos = {"big.csv", 1000001};
        const char *t = "1,1,1,2000-01-01,t,a,b,1\n1,1,1,2000-01-01,t,a,b,x\n";
        CHECK(b && mc2_text_parse(MC2_FMT_CSV, t, strlen(t), &pos, b, &e) == -1);
        CHECK_MSG(strstr(e.msg, "big.csv line 1000002, column 8 (inn)"), "%s", e.msg);
        /* A batch that is too small is a caller bug, not bad input. */
        mc2_batch *b1 = mc2_batch_new(s, 1, NULL);
        const char *t2 = "1,1,1,2000-01-01,t,a,b,1\n1,1,1,2000-01-01,t,a,b,1\n";
        CHECK(b1 && mc2_text_parse(MC2_FMT_CSV, t2, strlen(t2), &pos, b1, &e) == -1);
        CHECK(e.code == MC2_E_INTERNAL);
        mc2_batch_free(b1);
        mc2_batch_free(b);
    }
}

/* Every allocation failure while parsing is a clean MC2_E_NOMEM. */
static void test_alloc_failures(const mc2_schema *s)
{
    const char *t = "1,1,1,2000-01-01,t,abcde,vwxyz,1\n2,2,2,2000-01-02,f,\"a\"\"b\",q,2\n";
    int saw_nomem = 0, saw_ok = 0;
    for (unsigned long k = 1; k < 12; k++) {
        mc2_err e;
        mc2_batch *b = mc2_batch_new(s, 2, &e);
        CHECK(b != NULL);
        if (!b) return;
        mc2_alloc_fail_after(k);
        int rc = mc2_text_parse(MC2_FMT_CSV, t, strlen(t), NULL, b, &e);
        mc2_alloc_fail_after(0);
        if (rc) {
            CHECK_MSG(e.code == MC2_E_NOMEM, "%s", e.msg);
            saw_nomem = 1;
        } else {
            CHECK(b->nrows == 2 && strcmp(str_at(b, 5, 1), "a\"b") == 0);
            saw_ok = 1;
        }
        mc2_batch_free(b);
    }
    CHECK(saw_nomem && saw_ok);
}

/* A file cut into chunks at record ends by mc2_text_scan and parsed chunk by chunk, as the
 * encrypter does: rows arrive in order and line numbers stay right across chunks. */
static void test_chunks(void)
{
    mc2_schema *s = schema("columns:\n  - {name: a, type: VARCHAR(20)}\n"
                           "  - {name: n, type: INT64}\n");
    const char *text = "\"x\ny\",1\r\n"
                       "b,2\n"
                       "\"p\r\nq\rr\",3\n"
                       "d,4\n"
                       "\"\"\"\",5\n"
                       "f,oops\n";
    size_t n = strlen(text), off = 0;
    mc2_scan st = {0};
    uint64_t line = 1, rows = 0;
    mc2_batch *b = mc2_batch_new(s, 2, NULL);
    CHECK(b != NULL);
    if (!b) return;
    int failed = 0;
    mc2_err err;
    while (off < n) {
        uint64_t rec = 0, lines = 0;
        size_t used = mc2_text_scan(MC2_FMT_CSV, &st, text + off, n - off, 2, &rec, &lines);
        mc2_batch_clear(b);
        mc2_textpos pos = {"c.csv", line};
        if (mc2_text_parse(MC2_FMT_CSV, text + off, used, &pos, b, &err)) {
            failed = 1;
            break;
        }
        CHECK(b->nrows == rec);
        for (size_t r = 0; r < b->nrows; r++) CHECK(b->cols[1].v.i64[r] == (int64_t)(rows + r + 1));
        rows += b->nrows;
        line += lines;
        off += used;
    }
    CHECK(failed && rows == 4);
    CHECK_MSG(strstr(err.msg, "c.csv line 9, column 2 (n): cannot read 'oops' as INT64"), "%s",
              err.msg);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

static void test_header(const mc2_schema *s)
{
    mc2_err err;
    const char *h[] = {"i,d,m,dt,b,s,sn,inn", "I,D,M,Dt,B,S,Sn,INN\r",
                       "\xEF\xBB\xBFi,\"d\",m,dt,b,s,sn,\"inn\""};
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(mc2_text_check_header(h[i], strlen(h[i]), s, "t.csv", &err) == 0, "%s", err.msg);
    const char *bad = "i,d,m,date,b,s,sn,inn";
    CHECK(mc2_text_check_header(bad, strlen(bad), s, "t.csv", &err) == -1);
    CHECK_MSG(err.code == MC2_E_INPUT &&
                  strstr(err.msg, "t.csv line 1, column 4 (dt): the header says 'date' where the "
                                  "schema has column 'dt'"),
              "%s", err.msg);
    bad = "i,d,m,dt,b,s,sn";
    CHECK(mc2_text_check_header(bad, strlen(bad), s, "t.csv", &err) == -1);
    CHECK_MSG(strstr(err.msg, "header has 7 columns but the schema has 8; it lacks 'inn'"), "%s",
              err.msg);
    bad = "i,d,m,dt,b,s,sn,inn,extra";
    CHECK(mc2_text_check_header(bad, strlen(bad), s, "t.csv", &err) == -1);
    CHECK_MSG(strstr(err.msg, "header has 9 columns but the schema has 8"), "%s", err.msg);
    bad = "i,d,m,dt,b,s,sn,\"inn";
    CHECK(mc2_text_check_header(bad, strlen(bad), s, "t.csv", &err) == -1);
    CHECK_MSG(strstr(err.msg, "closing '\"' is missing"), "%s", err.msg);
    bad = "i,d,m,dt,b,s,sn,in";
    CHECK(mc2_text_check_header(bad, strlen(bad), s, "t.csv", &err) == -1);
    CHECK_MSG(strstr(err.msg, "column 8 (inn): the header says 'in'"), "%s", err.msg);
}

/* dbgen's exact layout: trailing '|', trailing space inside the comment. */
static void test_tbl_lineitem(void)
{
    mc2_schema *s = schema("table: lineitem\ncolumns:\n"
                           "  - {name: l_orderkey, type: INT64, nullable: false}\n"
                           "  - {name: l_partkey, type: INT64, nullable: false}\n"
                           "  - {name: l_suppkey, type: INT64, nullable: false}\n"
                           "  - {name: l_linenumber, type: INT64, nullable: false}\n"
                           "  - {name: l_quantity, type: 'DECIMAL(15,2)', nullable: false}\n"
                           "  - {name: l_extendedprice, type: 'DECIMAL(15,2)', nullable: false}\n"
                           "  - {name: l_discount, type: 'DECIMAL(15,2)', nullable: false}\n"
                           "  - {name: l_tax, type: 'DECIMAL(15,2)', nullable: false}\n"
                           "  - {name: l_returnflag, type: VARCHAR(1), nullable: false}\n"
                           "  - {name: l_linestatus, type: VARCHAR(1), nullable: false}\n"
                           "  - {name: l_shipdate, type: DATE, nullable: false}\n"
                           "  - {name: l_commitdate, type: DATE, nullable: false}\n"
                           "  - {name: l_receiptdate, type: DATE, nullable: false}\n"
                           "  - {name: l_shipinstruct, type: VARCHAR(25), nullable: false}\n"
                           "  - {name: l_shipmode, type: VARCHAR(10), nullable: false}\n"
                           "  - {name: l_comment, type: VARCHAR(44), nullable: false}\n");
    const char *tbl =
        "1|155190|7706|1|17|21168.23|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|DELIVER IN "
        "PERSON|TRUCK|egular courts above the|\n"
        "1|67310|7311|2|36|45983.16|0.09|0.06|N|O|1996-04-12|1996-02-28|1996-04-20|TAKE BACK "
        "RETURN|MAIL|ly final dependencies: slyly bold |\n"
        "1|63700|3701|3|8|13309.60|0.10|0.02|N|O|1996-01-29|1996-03-05|1996-01-31|TAKE BACK "
        "RETURN|REG AIR|riously. regular, express dep|\r\n"
        "2|106170|1191|1|38|44694.46|0.00|0.05|N|O|1997-01-28|1997-01-14|1997-02-02|TAKE BACK "
        "RETURN|RAIL|ven requests. deposits breach a|";
    mc2_err err;
    mc2_batch *b = parse_str(MC2_FMT_TBL, s, tbl, 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (b) {
        CHECK(b->nrows == 4);
        CHECK(b->cols[0].v.i64[0] == 1 && b->cols[1].v.i64[0] == 155190);
        CHECK(b->cols[5].v.i64[0] == 2116823 && b->cols[6].v.i64[0] == 4);
        CHECK(b->cols[5].v.i64[2] == 1330960 && b->cols[6].v.i64[3] == 0);
        CHECK(b->cols[10].v.i32[0] == mc2_days_from_civil(1996, 3, 13));
        CHECK(strcmp(str_at(b, 13, 0), "DELIVER IN PERSON") == 0);
        CHECK(strcmp(str_at(b, 15, 1), "ly final dependencies: slyly bold ") == 0);
        CHECK(strcmp(str_at(b, 15, 3), "ven requests. deposits breach a") == 0);
        CHECK(b->cols[0].v.i64[3] == 2);
        /* Writing .tbl gives dbgen's layout back; dbgen writes l_quantity without decimals,
         * mc2 writes every DECIMAL(15,2) with its two. */
        mc2_buf out = {0};
        CHECK(mc2_text_write_batch(MC2_FMT_TBL, b, &out, &err) == 0);
        const char *expect =
            "1|155190|7706|1|17.00|21168.23|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|"
            "DELIVER IN PERSON|TRUCK|egular courts above the|\n"
            "1|67310|7311|2|36.00|45983.16|0.09|0.06|N|O|1996-04-12|1996-02-28|1996-04-20|TAKE "
            "BACK RETURN|MAIL|ly final dependencies: slyly bold |\n"
            "1|63700|3701|3|8.00|13309.60|0.10|0.02|N|O|1996-01-29|1996-03-05|1996-01-31|TAKE "
            "BACK RETURN|REG AIR|riously. regular, express dep|\n"
            "2|106170|1191|1|38.00|44694.46|0.00|0.05|N|O|1997-01-28|1997-01-14|1997-02-02|TAKE "
            "BACK RETURN|RAIL|ven requests. deposits breach a|\n";
        CHECK_MSG(out.len == strlen(expect) && memcmp(out.data, expect, out.len) == 0, "got:\n%.*s",
                  (int)out.len, (const char *)out.data);
        mc2_buf_free(&out);
    }
    mc2_batch_free(b);
    /* Lines without dbgen's trailing '|' are accepted too. */
    b = parse_str(MC2_FMT_TBL, s,
                  "7|1|2|3|4.00|5.00|0.01|0.02|A|F|1993-01-01|1993-01-02|1993-01-03|NONE|SHIP|c\n",
                  0, &err);
    CHECK_MSG(b != NULL && b->nrows == 1 && strcmp(str_at(b, 15, 0), "c") == 0, "%s", err.msg);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

/* ---- writing -------------------------------------------------------------------------------- */

static void test_write(const mc2_schema *s)
{
    mc2_err err;
    mc2_buf out = {0};
    CHECK(mc2_text_write_header(s, &out, &err) == 0);
    CHECK(out.len == 20 && memcmp(out.data, "i,d,m,dt,b,s,sn,inn\n", 20) == 0);
    mc2_buf_free(&out);
    const char *in = "-5,0.5,-0.05,1969-12-31,yes,\"a,b\",\"q\"\"\",1\n"
                     ",,,,,\"\",\"\",2\n"
                     "7,1e22,1,2000-01-01,no,\"\r\n\",x,3\n";
    mc2_batch *b = parse_str(MC2_FMT_CSV, s, in, 0, &err);
    CHECK_MSG(b != NULL, "%s", err.msg);
    if (!b) return;
    CHECK(mc2_text_write_batch(MC2_FMT_CSV, b, &out, &err) == 0);
    const char *expect = "-5,0.5,-0.05,1969-12-31,true,\"a,b\",\"q\"\"\",1\n"
                         ",,,,,\"\",\"\",2\n"
                         "7,1e+22,1.00,2000-01-01,false,\"\r\n\",x,3\n";
    CHECK_MSG(out.len == strlen(expect) && memcmp(out.data, expect, out.len) == 0, "got:\n%.*s",
              (int)out.len, (const char *)out.data);
    mc2_buf_reset(&out);
    /* .tbl cannot hold an empty string in a nullable column (it would read back as NULL), nor
     * '|' or a line break. */
    CHECK(mc2_text_write_batch(MC2_FMT_TBL, b, &out, &err) == -1);
    CHECK_MSG(strstr(err.msg, "row 2, column 6 (s)") &&
                  strstr(err.msg, "would read back from .tbl as NULL"),
              "%s", err.msg);
    mc2_batch_free(b);
    mc2_buf_free(&out);
    const char *cant[] = {"1,1,1,2000-01-01,t,a|b,x,3\n", "1,1,1,2000-01-01,t,x,\"\n\",3\n",
                          "1,1,1,2000-01-01,t,x,\"\r\",3\n"};
    for (size_t i = 0; i < 3; i++) {
        b = parse_str(MC2_FMT_CSV, s, cant[i], 0, &err);
        CHECK(b != NULL);
        if (b) {
            CHECK(mc2_text_write_batch(MC2_FMT_TBL, b, &out, &err) == -1);
            CHECK_MSG(strstr(err.msg, "row 1, column") &&
                          strstr(err.msg, "contains '|' or a line break"),
                      "%s", err.msg);
        }
        mc2_batch_free(b);
        mc2_buf_free(&out);
    }
    b = parse_str(MC2_FMT_CSV, s, "1,1,1,2000-01-01,t,,,3\n", 0, &err);
    CHECK(b != NULL);
    if (b) {
        const char *want = "1|1|1.00|2000-01-01|true|||3|\n";
        CHECK(mc2_text_write_batch(MC2_FMT_TBL, b, &out, &err) == 0);
        CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
    }
    mc2_batch_free(b);
    mc2_buf_free(&out);
}

/* Fills b with n random rows; tbl: only values .tbl can hold. */
static void random_rows(mc2_batch *b, size_t n, int tbl)
{
    static const char *const pieces[] = {
        "a",  "Z",  " ", ",", "\"", "\n", "\r", "|", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
        "''", "\t", "0"};
    const mc2_schema *s = b->schema;
    mc2_err err;
    for (size_t r = 0; r < n; r++) {
        size_t row = b->nrows;
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_column_def *d = &s->cols[c];
            mc2_col *col = &b->cols[c];
            int null = d->nullable && rnd_below(8) == 0;
            if (d->nullable) col->nulls[row] = (uint8_t)null;
            switch (d->type.id) {
            case MC2_T_INT64: {
                int64_t v = (int64_t)rnd();
                if (rnd_below(4) == 0) v = (int64_t)rnd_below(1000) - 500;
                if (rnd_below(50) == 0) v = rnd_below(2) ? INT64_MIN : INT64_MAX;
                col->v.i64[row] = null ? 0 : v;
                break;
            }
            case MC2_T_DECIMAL: {
                int64_t lim = mc2_pow10(d->type.precision);
                int64_t v = (int64_t)(rnd() % (uint64_t)lim);
                if (rnd_below(2)) v = -v;
                if (rnd_below(4) == 0) v = ((int64_t)rnd_below(2000) - 1000) % lim;
                col->v.i64[row] = null ? 0 : v;
                break;
            }
            case MC2_T_DEC128: { /* the whole range up to 10^p - 1, and small values */
                mc2_i128 lim = mc2_pow10_128(d->type.precision);
                mc2_i128 v = (mc2_i128)((((u128)rnd() << 64) | rnd()) % (u128)lim);
                if (rnd_below(8) == 0) v = lim - 1;
                if (rnd_below(4) == 0) v = (mc2_i128)rnd_below(2000) - 1000;
                if (rnd_below(2)) v = -v;
                col->v.i128[row] = null ? 0 : v;
                break;
            }
            case MC2_T_DOUBLE: {
                double v;
                uint64_t bits;
                switch (rnd_below(4)) {
                case 0:
                    do {
                        bits = rnd();
                        memcpy(&v, &bits, 8);
                    } while (!isfinite(v));
                    break;
                case 1:
                    v = (double)((int64_t)rnd_below(2000000) - 1000000) / 100.0;
                    break;
                case 2:
                    v = rnd_below(2) ? -0.0 : 0.0;
                    break;
                default:
                    v = (double)rnd() / 3.0;
                    break;
                }
                col->v.f64[row] = null ? 0.0 : v;
                break;
            }
            case MC2_T_DATE:
                col->v.i32[row] =
                    null
                        ? 0
                        : (int32_t)(MC2_DATE_MIN + (int64_t)rnd_below((
                                                       uint64_t)(MC2_DATE_MAX - MC2_DATE_MIN + 1)));
                break;
            case MC2_T_BOOL:
                col->v.b[row] = null ? 0 : (uint8_t)rnd_below(2);
                break;
            case MC2_T_VARCHAR: {
                char tmp[512];
                size_t k = 0, nch = 0, want = rnd_below(d->type.length + 1);
                if (null) want = 0;
                while (nch < want) {
                    const char *pc = pieces[rnd_below(sizeof pieces / sizeof pieces[0])];
                    if (tbl && (pc[0] == '\n' || pc[0] == '\r' || pc[0] == '|')) continue;
                    size_t pl = strlen(pc);
                    size_t pn = pc[0] == '\'' ? 2 : 1; /* "''" is two characters */
                    if (nch + pn > d->type.length || k + pl > sizeof tmp) break;
                    memcpy(tmp + k, pc, pl);
                    k += pl;
                    nch += pn;
                }
                if (tbl && k == 0 && d->nullable && !null) {
                    tmp[k++] = 'e'; /* .tbl cannot tell "" from NULL here */
                }
                if (mc2_batch_reserve_chars(b, c, k, &err)) {
                    fprintf(stderr, "reserve: %s\n", err.msg);
                    exit(1);
                }
                memcpy(col->data + col->off[row], tmp, k);
                col->off[row + 1] = col->off[row] + (uint32_t)k;
                break;
            }
            }
        }
        b->nrows++;
    }
}

/* Compares all values of a and b (same schema); returns the first differing "row:col" or 0. */
static int batches_equal(const mc2_batch *a, const mc2_batch *b, size_t *bad_r, size_t *bad_c)
{
    if (a->nrows != b->nrows) {
        *bad_r = *bad_c = SIZE_MAX;
        return 0;
    }
    const mc2_schema *s = a->schema;
    for (size_t r = 0; r < a->nrows; r++)
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_col *x = &a->cols[c], *y = &b->cols[c];
            *bad_r = r;
            *bad_c = c;
            int nx = x->nulls ? x->nulls[r] : 0, ny = y->nulls ? y->nulls[r] : 0;
            if (nx != ny) return 0;
            if (nx) continue;
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                if (x->v.i64[r] != y->v.i64[r]) return 0;
                break;
            case MC2_T_DEC128:
                if (x->v.i128[r] != y->v.i128[r]) return 0;
                break;
            case MC2_T_DOUBLE:
                if (memcmp(&x->v.f64[r], &y->v.f64[r], 8) != 0) return 0;
                break;
            case MC2_T_DATE:
                if (x->v.i32[r] != y->v.i32[r]) return 0;
                break;
            case MC2_T_BOOL:
                if (x->v.b[r] != y->v.b[r]) return 0;
                break;
            case MC2_T_VARCHAR: {
                size_t lx = x->off[r + 1] - x->off[r], ly = y->off[r + 1] - y->off[r];
                if (lx != ly || memcmp(x->data + x->off[r], y->data + y->off[r], lx) != 0) return 0;
                break;
            }
            }
        }
    return 1;
}

static void test_round_trip(void)
{
    mc2_schema *s = schema("columns:\n"
                           "  - {name: i, type: INT64}\n"
                           "  - {name: i2, type: INT64, nullable: false}\n"
                           "  - {name: d, type: DOUBLE}\n"
                           "  - {name: d2, type: DOUBLE, nullable: false}\n"
                           "  - {name: m, type: 'DECIMAL(18,4)'}\n"
                           "  - {name: m2, type: 'DECIMAL(5,0)', nullable: false}\n"
                           "  - {name: m3, type: 'DECIMAL(3,3)'}\n"
                           "  - {name: w, type: 'DECIMAL(38,10)'}\n"
                           "  - {name: w2, type: 'DECIMAL(19,0)', nullable: false}\n"
                           "  - {name: w3, type: 'DECIMAL(38,38)'}\n"
                           "  - {name: dt, type: DATE}\n"
                           "  - {name: dt2, type: DATE, nullable: false}\n"
                           "  - {name: b, type: BOOL}\n"
                           "  - {name: b2, type: BOOL, nullable: false}\n"
                           "  - {name: s, type: VARCHAR(12)}\n"
                           "  - {name: s2, type: VARCHAR(3), nullable: false}\n"
                           "  - {name: s3, type: VARCHAR(1)}\n");
    mc2_err err;
    for (int iter = 0; iter < 60; iter++) {
        int tbl = iter % 2;
        enum mc2_textfmt fmt = tbl ? MC2_FMT_TBL : MC2_FMT_CSV;
        size_t n = 1 + rnd_below(200);
        mc2_batch *a = mc2_batch_new(s, n, &err);
        CHECK_MSG(a != NULL, "%s", err.msg);
        if (!a) return;
        random_rows(a, n, tbl);
        mc2_buf out = {0};
        if (!tbl) CHECK(mc2_text_write_header(s, &out, &err) == 0);
        CHECK_MSG(mc2_text_write_batch(fmt, a, &out, &err) == 0, "%s", err.msg);
        /* Half the time drop the final newline: still the same rows. */
        size_t len = out.len;
        if (iter % 4 >= 2) len--;
        mc2_batch *b = parse_text(fmt, s, (const char *)out.data, len, !tbl, &err);
        CHECK_MSG(b != NULL, "iter %d: %s", iter, err.msg);
        if (b) {
            size_t br, bc;
            CHECK_MSG(batches_equal(a, b, &br, &bc), "iter %d: row %zu column %zu differ", iter, br,
                      bc);
            /* Writing again gives the same bytes. */
            mc2_buf out2 = {0};
            if (!tbl) CHECK(mc2_text_write_header(s, &out2, &err) == 0);
            CHECK(mc2_text_write_batch(fmt, b, &out2, &err) == 0);
            CHECK(out2.len == out.len && memcmp(out2.data, out.data, out.len) == 0);
            mc2_buf_free(&out2);
        }
        mc2_batch_free(b);
        mc2_batch_free(a);
        mc2_buf_free(&out);
    }
    mc2_schema_free(s);
}

/* The inline number fast paths agree with the value.h parsers, bit for bit. */
static void test_numbers_agree(void)
{
    mc2_schema *s = schema("columns:\n  - {name: d, type: DOUBLE}\n  - {name: i, type: INT64}\n"
                           "  - {name: m, type: 'DECIMAL(12,3)'}\n");
    mc2_err err;
    enum { N = 20000 };
    static char text[N * 80];
    static char vals[N][3][48];
    size_t k = 0;
    for (size_t r = 0; r < N; r++) {
        for (int c = 0; c < 3; c++) {
            char *v = vals[r][c];
            size_t w = 0;
            if (rnd_below(3) == 0) v[w++] = '-';
            size_t ni = 1 + rnd_below(c == 2 ? 10 : 19);
            for (size_t j = 0; j < ni; j++) v[w++] = (char)('0' + rnd_below(10));
            if (c != 1 && rnd_below(2)) {
                v[w++] = '.';
                size_t nf = 1 + rnd_below(c == 2 ? 4 : 17);
                for (size_t j = 0; j < nf; j++) v[w++] = (char)('0' + rnd_below(10));
            }
            v[w] = '\0';
            memcpy(text + k, v, w);
            k += w;
            text[k++] = c == 2 ? '\n' : ',';
        }
    }
    mc2_batch *b = mc2_batch_new(s, N, &err);
    mc2_textpos pos = {"n.csv", 1};
    CHECK(b != NULL);
    if (!b) return;
    /* Some values are out of range for their column: parse row by row. */
    size_t mism = 0, rows = 0;
    const char *q = text;
    for (size_t r = 0; r < N; r++) {
        const char *nl = memchr(q, '\n', (size_t)(text + k - q));
        mc2_batch_clear(b);
        mc2_err e;
        int rc = mc2_text_parse(MC2_FMT_CSV, q, (size_t)(nl + 1 - q), &pos, b, &e);
        double dv;
        int64_t iv, mv;
        const char *why;
        int ok = mc2_parse_double(vals[r][0], strlen(vals[r][0]), &dv, &why) == 0 &&
                 mc2_parse_int64(vals[r][1], strlen(vals[r][1]), &iv, &why) == 0 &&
                 mc2_parse_decimal(vals[r][2], strlen(vals[r][2]), 12, 3, &mv, &why) == 0;
        if ((rc == 0) != ok) {
            mism++;
            if (mism < 5)
                fprintf(stderr, "disagree (%d/%d): %s %s %s: %s\n", rc, ok, vals[r][0], vals[r][1],
                        vals[r][2], rc ? e.msg : "");
        }
        if (rc == 0 && ok) {
            rows++;
            if (memcmp(&b->cols[0].v.f64[0], &dv, 8) || b->cols[1].v.i64[0] != iv ||
                b->cols[2].v.i64[0] != mv) {
                mism++;
                fprintf(stderr, "differ: %s %s %s\n", vals[r][0], vals[r][1], vals[r][2]);
            }
        }
        q = nl + 1;
    }
    CHECK_MSG(mism == 0, "%zu mismatches", mism);
    CHECK(rows > N / 4);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

int main(void)
{
    mc2_schema *s = schema(ALL_YAML);
    test_scan_splits();
    test_scan_random();
    test_parse_basic(s);
    test_null_rules(s);
    test_quoting_and_line_ends();
    test_errors(s);
    test_header(s);
    test_chunks();
    test_alloc_failures(s);
    test_tbl_lineitem();
    test_write(s);
    test_round_trip();
    test_numbers_agree();
    mc2_schema_free(s);
    return test_done("test_textio");
}
