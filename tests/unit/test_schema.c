/* test_schema.c - schema files (good and bad, with the line of each error), the canonical
 * encoding (round trip, truncation, mutation), YAML output, hashing, allocation failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "mc2/table.h"
#include "table/textio.h"
#include "test.h"

static int schema_eq(const mc2_schema *a, const mc2_schema *b)
{
    if ((a->name == NULL) != (b->name == NULL)) return 0;
    if (a->name && strcmp(a->name, b->name) != 0) return 0;
    if (a->ncols != b->ncols) return 0;
    for (size_t i = 0; i < a->ncols; i++) {
        const mc2_column_def *x = &a->cols[i], *y = &b->cols[i];
        if (strcmp(x->name, y->name) != 0 || x->type.id != y->type.id ||
            x->type.precision != y->type.precision || x->type.scale != y->type.scale ||
            x->type.length != y->type.length || x->nullable != y->nullable)
            return 0;
    }
    if (a->npk != b->npk || a->nfk != b->nfk) return 0;
    for (size_t i = 0; i < a->npk; i++)
        if (a->pk[i] != b->pk[i]) return 0;
    for (size_t i = 0; i < a->nfk; i++) {
        const mc2_fkey *f = &a->fk[i], *g = &b->fk[i];
        if (f->ncols != g->ncols || strcmp(f->ref_table, g->ref_table) != 0) return 0;
        for (size_t j = 0; j < f->ncols; j++)
            if (f->cols[j] != g->cols[j] || strcmp(f->ref_cols[j], g->ref_cols[j]) != 0) return 0;
    }
    return 1;
}

static mc2_schema *parse(const char *text, mc2_err *err)
{
    mc2_schema *s = NULL;
    mc2_err_clear(err);
    if (mc2_schema_parse("orders.yaml", text, strlen(text), &s, err) != 0) {
        CHECK(s == NULL);
        return NULL;
    }
    return s;
}

/* Encodes s, decodes the bytes, and checks that the result equals s and re-encodes to the
 * same bytes; also checks that YAML output parses back to an equal schema. */
static void check_round_trips(const mc2_schema *s)
{
    mc2_err err;
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t n = 0, n2 = 0;
    mc2_schema *d = NULL, *y = NULL;
    char *yaml = NULL;
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == 0);
    CHECK_MSG(mc2_schema_decode(enc, n, &d, &err) == 0, "%s", err.msg);
    CHECK(d && schema_eq(s, d));
    CHECK(d && mc2_schema_encode(d, &enc2, &n2, &err) == 0 && n2 == n && memcmp(enc, enc2, n) == 0);
    CHECK(mc2_schema_to_yaml(s, &yaml, &err) == 0);
    CHECK_MSG(yaml && mc2_schema_parse("out.yaml", yaml, strlen(yaml), &y, &err) == 0, "%s",
              err.msg);
    CHECK(y && schema_eq(s, y));
    uint8_t h1[MC2_SHA256_LEN], h2[MC2_SHA256_LEN];
    CHECK(mc2_schema_hash(s, h1, &err) == 0);
    CHECK(y && mc2_schema_hash(y, h2, &err) == 0 && memcmp(h1, h2, sizeof h1) == 0);
    mc2_free(enc);
    mc2_free(enc2);
    mc2_free(yaml);
    mc2_schema_free(d);
    mc2_schema_free(y);
}

static void test_good(void)
{
    mc2_err err;
    mc2_schema *s = parse("table: orders            # optional\n"
                          "columns:\n"
                          "  - name: o_orderkey\n"
                          "    type: INT64\n"
                          "    nullable: false\n"
                          "  - name: o_totalprice\n"
                          "    type: DECIMAL(15,2)\n"
                          "  - name: o_comment\n"
                          "    type: VARCHAR(79)\n",
                          &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s) return;
    CHECK(strcmp(s->name, "orders") == 0 && s->ncols == 3);
    CHECK(s->cols[0].type.id == MC2_T_INT64 && !s->cols[0].nullable);
    CHECK(s->cols[1].type.id == MC2_T_DECIMAL && s->cols[1].type.precision == 15 &&
          s->cols[1].type.scale == 2 && s->cols[1].nullable);
    CHECK(s->cols[2].type.id == MC2_T_VARCHAR && s->cols[2].type.length == 79);
    CHECK(mc2_schema_find(s, "O_TOTALPRICE") == 1 && mc2_schema_find(s, "o_orderkey") == 0);
    CHECK(mc2_schema_find(s, "o_total") == -1 && mc2_schema_find(s, "") == -1);
    char buf[32];
    mc2_type_format(&s->cols[1].type, buf, sizeof buf);
    CHECK(strcmp(buf, "DECIMAL(15,2)") == 0);
    mc2_type_format(&s->cols[2].type, buf, sizeof buf);
    CHECK(strcmp(buf, "VARCHAR(79)") == 0);
    mc2_type_format(&s->cols[0].type, buf, 4);
    CHECK(strcmp(buf, "INT") == 0); /* truncated, NUL-terminated */
    check_round_trips(s);
    mc2_schema_free(s);

    /* Aliases, case, spaces, flow style, no table name. */
    s = parse("columns: [{name: a, type: bigint}, {name: b, type: Integer}, {name: c, type: int},"
              " {name: d, type: float8}, {name: e, type: boolean}, {name: f, type: 'char(7)'},"
              " {name: g, type: ' decimal ( 18 , 18 ) '}, {name: h, type: DECIMAL(3)},"
              " {name: _x9, type: date, nullable: no}, {name: Yes, type: bool, nullable: YES}]",
              &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s) return;
    CHECK(s->name == NULL && s->ncols == 10);
    CHECK(s->cols[0].type.id == MC2_T_INT64 && s->cols[1].type.id == MC2_T_INT64 &&
          s->cols[2].type.id == MC2_T_INT64);
    CHECK(s->cols[3].type.id == MC2_T_DOUBLE && s->cols[4].type.id == MC2_T_BOOL);
    CHECK(s->cols[5].type.id == MC2_T_VARCHAR && s->cols[5].type.length == 7);
    CHECK(s->cols[6].type.precision == 18 && s->cols[6].type.scale == 18);
    CHECK(s->cols[7].type.precision == 3 && s->cols[7].type.scale == 0);
    CHECK(s->cols[8].type.id == MC2_T_DATE && !s->cols[8].nullable && s->cols[9].nullable);
    check_round_trips(s); /* a column named "Yes" must survive YAML output */
    mc2_schema_free(s);

    /* The shipped files. */
    CHECK_MSG(mc2_schema_load(test_data("schemas/alltypes.yaml"), &s, &err) == 0, "%s", err.msg);
    if (s) {
        CHECK(s->ncols == 14 && strcmp(s->name, "alltypes") == 0);
        for (size_t i = 0; i < s->ncols; i++) CHECK(s->cols[i].nullable == (i % 2 == 1));
        CHECK(s->cols[5].type.precision == 5 && s->cols[5].type.scale == 5);
        CHECK(s->cols[11].type.id == MC2_T_VARCHAR && s->cols[11].type.length == 3);
        /* DECIMAL beyond 18 digits is the wide (128-bit) type, shown as DECIMAL(p,s) */
        CHECK(s->cols[12].type.id == MC2_T_DEC128 && s->cols[12].type.precision == 38 &&
              s->cols[12].type.scale == 6);
        CHECK(s->cols[13].type.id == MC2_T_DEC128 && s->cols[13].type.precision == 20);
        char tb[40];
        mc2_type_format(&s->cols[12].type, tb, sizeof tb);
        CHECK(strcmp(tb, "DECIMAL(38,6)") == 0);
        check_round_trips(s);
        mc2_schema_free(s);
    }
    static const struct {
        const char *name;
        size_t ncols;
    } tpch[] = {{"region", 3}, {"nation", 4},   {"supplier", 7}, {"customer", 8},
                {"part", 9},   {"partsupp", 5}, {"orders", 9},   {"lineitem", 16}};
    const char *src = getenv("MC2_SRC");
    uint8_t hashes[8][MC2_SHA256_LEN];
    for (size_t t = 0; t < 8; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/schemas/tpch/%s.yaml", src ? src : ".", tpch[t].name);
        s = NULL;
        CHECK_MSG(mc2_schema_load(path, &s, &err) == 0, "%s", err.msg);
        if (!s) continue;
        CHECK(strcmp(s->name, tpch[t].name) == 0 && s->ncols == tpch[t].ncols);
        for (size_t i = 0; i < s->ncols; i++) CHECK(!s->cols[i].nullable);
        CHECK(mc2_schema_hash(s, hashes[t], &err) == 0);
        for (size_t u = 0; u < t; u++) CHECK(memcmp(hashes[t], hashes[u], MC2_SHA256_LEN) != 0);
        check_round_trips(s);
        CHECK(s->npk >= 1); /* every TPC-H table declares its primary key */
        if (t == 5) {       /* partsupp: (ps_partkey, ps_suppkey), two foreign keys */
            CHECK(s->npk == 2 && s->pk[0] == 0 && s->pk[1] == 1 && s->nfk == 2);
            CHECK(s->nfk == 2 && strcmp(s->fk[1].ref_table, "supplier") == 0 &&
                  s->fk[1].ncols == 1 && s->fk[1].cols[0] == 1 &&
                  strcmp(s->fk[1].ref_cols[0], "s_suppkey") == 0);
        }
        if (t == 7) {
            /* lineitem: (l_orderkey, l_linenumber); the last foreign key is composite */
            CHECK(s->npk == 2 && s->pk[0] == 0 && s->pk[1] == 3 && s->nfk == 4);
            CHECK(s->nfk == 4 && s->fk[3].ncols == 2 && s->fk[3].cols[0] == 1 &&
                  s->fk[3].cols[1] == 2 && strcmp(s->fk[3].ref_table, "partsupp") == 0 &&
                  strcmp(s->fk[3].ref_cols[1], "ps_suppkey") == 0);
            long q = mc2_schema_find(s, "L_QUANTITY"), d = mc2_schema_find(s, "l_shipdate");
            CHECK(q == 4 && s->cols[q].type.id == MC2_T_DECIMAL && s->cols[q].type.scale == 2);
            CHECK(d == 10 && s->cols[d].type.id == MC2_T_DATE);
        }
        mc2_schema_free(s);
    }
    CHECK(mc2_schema_load(test_data("schemas/does-not-exist.yaml"), &s, &err) == -1 &&
          err.code == MC2_E_NOTFOUND && s == NULL);
}

/* A table for the key cases: id NOT NULL, ref nullable (lines 1-5). */
#define KEYCOLS                                                                                    \
    "columns:\n  - name: id\n    type: INT64\n    nullable: false\n  - {name: ref, type: INT64}\n"

static void test_bad(void)
{
    static const struct {
        const char *text;
        unsigned line;
        const char *phrase;
    } cases[] = {
        {"table: orders\ncolumns:\n  - name: o_orderkey\n    type: VARCHR\n", 4,
         "column 11: column 'o_orderkey': unknown type 'VARCHR' (did you mean VARCHAR(n)?)"},
        {"columns:\n  - name: a\n    type: INTT\n", 3, "did you mean INT"},
        {"columns:\n  - name: a\n    type: BLOB\n", 3, "unknown type 'BLOB' (types are INT64"},
        {"columns:\n  - name: a\n    type: INT64\n    nulable: true\n", 4,
         "unknown key 'nulable' in column 1 (did you mean 'nullable'?)"},
        {"columns:\n  - name: a\n    type: INT64\n  - name: b\n    type: INT64\n    colour: red\n",
         6, "unknown key 'colour' in column 2 (allowed keys: name, type, nullable)"},
        {"colums:\n  - name: a\n    type: INT64\n", 1, "did you mean 'columns'"},
        {"columns:\n  - name: id\n    type: INT64\n  - name: ID\n    type: DATE\n", 4,
         "duplicate column name 'ID' (already used at line 2"},
        {"columns:\n  - name: 1abc\n    type: INT64\n", 2, "must start with a letter"},
        {"columns:\n  - name: a-b\n    type: INT64\n", 2, "may contain only letters"},
        {"columns:\n  - name: ''\n    type: INT64\n", 2, "is empty"},
        {"columns:\n  - name: a\n    type: INT64\n  - type: INT64\n", 4, "column 2 has no 'name'"},
        {"columns:\n  - name: a\n", 2, "column 1 has no 'type'"},
        {"table: t\ncolumns: []\n", 2, "'columns' is empty"},
        {"table: t\n", 1, "no 'columns' list"},
        {"", 1, "no 'columns' list"},
        {"table: my-table\ncolumns:\n  - name: a\n    type: INT64\n", 1, "table name 'my-table'"},
        {"columns:\n  - name: a\n    type: DECIMAL(39,2)\n", 3,
         "precision 39 is out of range (1..38)"},
        {"columns:\n  - name: a\n    type: DECIMAL(0,0)\n", 3, "precision 0 is out of range"},
        {"columns:\n  - name: a\n    type: DECIMAL(5,6)\n", 3, "scale 6 is larger"},
        {"columns:\n  - name: a\n    type: DECIMAL\n", 3, "DECIMAL needs a precision and a scale"},
        {"columns:\n  - name: a\n    type: VARCHAR\n", 3, "needs one maximum length"},
        {"columns:\n  - name: a\n    type: VARCHAR(1,2)\n", 3, "needs one maximum length"},
        {"columns:\n  - name: a\n    type: VARCHAR(0)\n", 3, "length 0 is out of range"},
        {"columns:\n  - name: a\n    type: VARCHAR(65536)\n", 3, "length 65536 is out of range"},
        {"columns:\n  - name: a\n    type: VARCHAR(99999999999999)\n", 3,
         "length 99999999999999 is out of range"},
        {"columns:\n  - name: a\n    type: DECIMAL(18,99999999999)\n", 3,
         "scale 99999999999 is larger"},
        {"columns:\n  - name: a\n    type: INT64(5)\n", 3, "takes no parameters"},
        {"columns:\n  - name: a\n    type: VARCHAR(25\n", 3, "malformed type"},
        {"columns:\n  - name: a\n    type: VARCHAR(25) x\n", 3, "malformed type"},
        {"columns:\n  - name: a\n    type: DECIMAL(1,2,3)\n", 3, "malformed type"},
        {"columns:\n  - name: a\n    type: ''\n", 3, "is not a type"},
        {"columns:\n  - name: a\n    type: [INT64]\n", 3, "'type' must be a type name"},
        {"columns:\n  - name: a\n    type: INT64\n    nullable: maybe\n", 4,
         "'nullable' must be true or false, not 'maybe'"},
        {"columns:\n  name: a\n  type: INT64\n", 2, "'columns' must be a list"},
        {"columns:\n  - a\n", 2, "column 1 must be a map"},
        {"hello\n", 1, "a schema is a map"},
        {"columns:\n  - name: a\n   type: INT64\n", 3, "not valid YAML"},
        {"columns:\n  - name: &x a\n    type: INT64\n", 2, "not supported"},
        /* declared keys */
        {KEYCOLS "primary_key: [idd]\n", 6,
         "column 15: primary_key: no column 'idd' (did you mean 'id'?)"},
        {KEYCOLS "primary_key: [id, ref]\n", 6,
         "column 19: primary key column 'ref' is nullable (declare it 'nullable: false')"},
        {KEYCOLS "primary_key: [id, ID]\n", 6, "column 19: primary_key names column 'id' twice"},
        {KEYCOLS "primary_key: id\n", 6, "primary_key must be a list of column names, e.g. [id]"},
        {KEYCOLS "primary_key: []\n", 6, "primary_key must name 1 to 16 columns (it names 0)"},
        {KEYCOLS "primary_key: [[id]]\n", 6, "primary_key: entry 1 must be a column name"},
        {KEYCOLS "primary_kee: [id]\n", 6,
         "unknown key 'primary_kee' in the schema (did you mean "
         "'primary_key'?)"},
        {KEYCOLS "foreign_keys: ref\n", 6, "'foreign_keys' must be a list"},
        {KEYCOLS "foreign_keys:\n  - ref\n", 7, "foreign key 1 must be a map with 'columns'"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    referenses: t(x)\n", 8,
         "unknown key 'referenses' in foreign key 1 (did you mean 'references'?)"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n", 7, "foreign key 1 has no 'references'"},
        {KEYCOLS "foreign_keys:\n  - references: t(x)\n", 7, "foreign key 1 has no 'columns'"},
        {KEYCOLS "foreign_keys:\n  - columns: [rf]\n    references: t(x)\n", 7,
         "column 15: foreign key 1 'columns': no column 'rf' (did you mean 'ref'?)"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t x\n", 8,
         "foreign key 1: malformed reference 't x' (write table(column, ...), e.g. "
         "orders(o_orderkey))"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t()\n", 8,
         "malformed reference 't()'"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t(x,)\n", 8,
         "malformed reference 't(x,)'"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t(x) y\n", 8,
         "malformed reference 't(x) y'"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: 9t(x)\n", 8,
         "foreign key 1: referenced table name '9t' must start with a letter"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t(x-y)\n", 8,
         "referenced column name 'x-y' may contain only"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref, id]\n    references: t(x)\n", 8,
         "foreign key 1 has 2 columns but references 1"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref, id]\n    references: t(x, X)\n", 8,
         "foreign key 1 references column 'X' twice"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: t(x)\n"
                 "  - columns: [ref]\n    references: T(X)\n",
         9, "foreign key 2 is the same as foreign key 1"},
        {KEYCOLS "foreign_keys:\n  - columns: [ref]\n    references: [t, x]\n", 8,
         "foreign key 1: 'references' must be written table(column, ...)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mc2_err err;
        mc2_schema *s = parse(cases[i].text, &err);
        char want[32];
        snprintf(want, sizeof want, "orders.yaml line %u ", cases[i].line);
        CHECK_MSG(s == NULL && err.code == MC2_E_INPUT &&
                      strncmp(err.msg, want, strlen(want)) == 0 &&
                      strstr(err.msg, cases[i].phrase) != NULL,
                  "case %zu: got '%s'", i, err.msg);
        mc2_schema_free(s);
    }

    /* MC2_MAX_COLUMNS columns are fine; one more is a limit error at the extra column. */
    size_t cap = 64 + (MC2_MAX_COLUMNS + 1) * 40;
    char *big = malloc(cap);
    size_t len = (size_t)snprintf(big, cap, "columns:\n");
    for (int i = 0; i < MC2_MAX_COLUMNS; i++)
        len += (size_t)snprintf(big + len, cap - len, "  - {name: c%d, type: INT64}\n", i);
    mc2_err err;
    mc2_schema *s = parse(big, &err);
    CHECK_MSG(s && s->ncols == MC2_MAX_COLUMNS, "%s", err.msg);
    if (s) check_round_trips(s);
    mc2_schema_free(s);
    snprintf(big + len, cap - len, "  - {name: extra, type: INT64}\n");
    s = parse(big, &err);
    CHECK_MSG(s == NULL && err.code == MC2_E_LIMIT && strstr(err.msg, "line 1026 ") &&
                  strstr(err.msg, "too many columns"),
              "%s", err.msg);
    free(big);
}

/* A schema used for the encoding tests: every type, a table name. */
static mc2_schema *alltypes(void)
{
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_load(test_data("schemas/alltypes.yaml"), &s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return s;
}

/* Every truncation of enc[0..n) fails with MC2_E_INPUT and no schema. */
static int truncations_fail(const uint8_t *enc, size_t n)
{
    mc2_err err;
    int ok = 1;
    for (size_t k = 0; k < n; k++) {
        mc2_schema *d = NULL;
        if (mc2_schema_decode(enc, k, &d, &err) == 0 || d != NULL || err.code != MC2_E_INPUT)
            ok = 0;
        mc2_schema_free(d);
    }
    return ok;
}

/* Every single-byte mutation of enc[0..n) either fails or decodes to a schema whose encoding
 * is exactly the mutated bytes. *accepted and *total count the mutations decoded and tried. */
static int mutations_canonical(const uint8_t *enc, size_t n, size_t *accepted, size_t *total)
{
    mc2_err err;
    uint8_t *m = malloc(n);
    int ok = m != NULL;
    *accepted = *total = 0;
    for (size_t i = 0; m && i < n; i++)
        for (unsigned v = 0; v < 256; v++) {
            if (v == enc[i]) continue;
            memcpy(m, enc, n);
            m[i] = (uint8_t)v;
            (*total)++;
            mc2_schema *d = NULL;
            if (mc2_schema_decode(m, n, &d, &err) == 0) {
                uint8_t *re = NULL;
                size_t rn = 0;
                (*accepted)++;
                if (mc2_schema_encode(d, &re, &rn, &err) != 0 || rn != n || memcmp(re, m, n))
                    ok = 0;
                mc2_free(re);
            }
            mc2_schema_free(d);
        }
    free(m);
    return ok;
}

static void test_decode_hostile(void)
{
    mc2_err err;
    mc2_schema *s = alltypes(), *d = NULL;
    uint8_t *enc = NULL;
    size_t n = 0;
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == 0);
    /* Layout spot checks: magic, version, column count, table name. */
    CHECK(n > 20 && memcmp(enc, "MC2S", 4) == 0 && enc[4] == 1 && enc[5] == 0);
    CHECK(enc[6] == 14 && enc[7] == 0 && enc[8] == 0 && enc[9] == 0);
    CHECK(enc[10] == 8 && memcmp(enc + 14, "alltypes", 8) == 0);
    /* First column: name "i64", type 1, precision 0, scale 0, length 0, not nullable. */
    static const uint8_t col0[] = {3, 0, 0, 0, 'i', '6', '4', 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(enc + 22, col0, sizeof col0) == 0);

    /* Every truncation fails (and so does one extra byte). */
    CHECK(truncations_fail(enc, n));
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, enc, n);
    longer[n] = 0;
    CHECK(mc2_schema_decode(longer, n + 1, &d, &err) == -1 && strstr(err.msg, "unexpected bytes"));
    free(longer);

    /* Every single-byte mutation either fails or decodes to a schema whose encoding is exactly
     * the mutated bytes (the encoding is canonical: one schema, one byte string). */
    size_t accepted, total;
    CHECK(mutations_canonical(enc, n, &accepted, &total));
    CHECK(accepted > 0 && accepted < total / 4); /* renamed columns decode; most bytes fail */
    uint8_t *m;

    /* Targeted mutations, each with its message. */
    static const struct {
        size_t off;
        uint8_t val;
        const char *phrase;
    } mut[] = {
        {0, 'X', "bad magic"},
        {4, 4, "unsupported version 4"},
        {4, 3, "truncated key section"}, /* version 3 has a key section too, then labels */
        {4, 2, "truncated key section"}, /* version 2 has a key section after the columns */
        {6, 0, "0 columns"},
        {10, 0xFF, "truncated table name"},
        {15, '-', "table name may contain only"},
        {14, '9', "table name must start"},
        {22, 0, "name is empty"},
        {24, 1, "truncated"},
        {29, 0, "unknown type id 0"},
        {29, 8, "unknown type id 8"},
        {29, 7, "wide DECIMAL (type id 7) precision outside 19..38"}, /* INT64's precision 0 */
        {30, 1, "parameters its type does not take"},
        {36, 2, "nullable flag 2"},
    };
    for (size_t i = 0; i < sizeof mut / sizeof mut[0]; i++) {
        m = malloc(n);
        memcpy(m, enc, n);
        m[mut[i].off] = mut[i].val;
        d = NULL;
        CHECK_MSG(mc2_schema_decode(m, n, &d, &err) == -1 && d == NULL &&
                      strstr(err.msg, mut[i].phrase),
                  "mutation %zu: '%s'", i, err.msg);
        free(m);
    }
    /* Column count above the limit. */
    m = malloc(n);
    memcpy(m, enc, n);
    m[6] = 0x01, m[7] = 0x04; /* 1025 */
    CHECK(mc2_schema_decode(m, n, &d, &err) == -1 && strstr(err.msg, "1025 columns"));
    free(m);
    mc2_free(enc);

    /* Semantic rules, exercised through the encoder of hand-built schemas (which refuses
     * them) and through hand-made bytes (which the decoder refuses). */
    mc2_schema *t = NULL;
    const char *two = "columns: [{name: x, type: INT64}, {name: y, type: INT64}]";
    CHECK(mc2_schema_parse("t", two, strlen(two), &t, &err) == 0);
    if (t) {
        uint8_t *e2 = NULL;
        size_t n2 = 0;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == 0);
        /* y -> X: duplicate of x ignoring case. */
        uint8_t *m2 = malloc(n2);
        memcpy(m2, e2, n2);
        size_t ypos = 4 + 2 + 4 + 4 + (4 + 1 + 8) + 4;
        CHECK(m2[ypos] == 'y');
        m2[ypos] = 'X';
        CHECK(mc2_schema_decode(m2, n2, &d, &err) == -1 && strstr(err.msg, "same name"));
        free(m2);
        mc2_free(e2);

        t->cols[1].type.id = MC2_T_DECIMAL;
        t->cols[1].type.precision = 19;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == -1 && strstr(err.msg, "precision"));
        t->cols[1].type.precision = 4;
        t->cols[1].type.scale = 5;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == -1 && strstr(err.msg, "scale"));
        t->cols[1].type.scale = 4;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == 0);
        mc2_free(e2);
        t->cols[1].type = (mc2_coltype){MC2_T_VARCHAR, 0, 0, 65536};
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == -1 && strstr(err.msg, "VARCHAR length"));
        t->cols[1].type.length = 0;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == -1 && strstr(err.msg, "VARCHAR length"));
        t->cols[1].name[0] = 'X';
        t->cols[1].type.length = 5;
        CHECK(mc2_schema_encode(t, &e2, &n2, &err) == -1 && strstr(err.msg, "two columns"));
        mc2_schema_free(t);
    }
    mc2_schema_free(s);
}

static void test_hash(void)
{
    mc2_err err;
    mc2_schema *a = alltypes(), *b = alltypes();
    uint8_t h1[32], h2[32], h3[32];
    CHECK(mc2_schema_hash(a, h1, &err) == 0 && mc2_schema_hash(b, h2, &err) == 0);
    CHECK(memcmp(h1, h2, 32) == 0);
    /* Any change changes the hash: nullability, type parameter, name case, table name. */
    b->cols[0].nullable = true;
    CHECK(mc2_schema_hash(b, h3, &err) == 0 && memcmp(h1, h3, 32) != 0);
    b->cols[0].nullable = false;
    b->cols[4].type.scale = 3;
    CHECK(mc2_schema_hash(b, h3, &err) == 0 && memcmp(h1, h3, 32) != 0);
    b->cols[4].type.scale = 4;
    b->cols[0].name[0] = 'I';
    CHECK(mc2_schema_hash(b, h3, &err) == 0 && memcmp(h1, h3, 32) != 0);
    b->cols[0].name[0] = 'i';
    mc2_free(b->name);
    b->name = NULL;
    CHECK(mc2_schema_hash(b, h3, &err) == 0 && memcmp(h1, h3, 32) != 0);
    /* The encoding is pinned byte for byte (so an accidental format change is noticed), and
     * the hash is SHA-256 of exactly those bytes. */
    mc2_schema *c = NULL;
    const char *txt = "columns: [{name: a, type: INT64}]";
    CHECK(mc2_schema_parse("c", txt, strlen(txt), &c, &err) == 0);
    uint8_t *enc = NULL;
    size_t n = 0;
    static const uint8_t want[] = {'M', 'C', '2', 'S', 1,   0, 1, 0, 0, 0, 0, 0, 0, 0,
                                   1,   0,   0,   0,   'a', 1, 0, 0, 0, 0, 0, 0, 1};
    CHECK(c && mc2_schema_encode(c, &enc, &n, &err) == 0 && n == sizeof want &&
          memcmp(enc, want, n) == 0);
    uint8_t hc[32], hw[32];
    CHECK(c && mc2_schema_hash(c, hc, &err) == 0 && mc2_sha256(want, sizeof want, hw, &err) == 0 &&
          memcmp(hc, hw, 32) == 0);
    mc2_free(enc);
    mc2_schema_free(c);
    mc2_schema_free(a);
    mc2_schema_free(b);
}

/* Declared keys: the version 2 encoding pinned byte for byte, every truncation and byte
 * mutation of it either refused or canonical, the decoder's key rules with their messages,
 * the encoder refusing bad hand-built keys, and keys changing the hash. */
static void test_keys_encoding(void)
{
    mc2_err err;
    mc2_schema *s = NULL, *d = NULL;
    const char *txt = "columns: [{name: a, type: INT64, nullable: false}, {name: b, type: INT64}]\n"
                      "primary_key: [a]\n"
                      "foreign_keys: [{columns: [b], references: t(x)}]\n";
    CHECK_MSG(mc2_schema_parse("k", txt, strlen(txt), &s, &err) == 0, "%s", err.msg);
    if (!s) return;
    check_round_trips(s);
    static const uint8_t want[] = {
        'M', 'C', '2', 'S', 2,   0, 2, 0, 0, 0,  0, 0, 0, 0, /* version 2, 2 columns, no name */
        1,   0,   0,   0,   'a', 1, 0, 0, 0, 0,  0, 0, 0,    /* a INT64 NOT NULL */
        1,   0,   0,   0,   'b', 1, 0, 0, 0, 0,  0, 0, 1,    /* b INT64 */
        1,   0,   0,   0,                                    /* primary key: 1 column, a */
        1,   0,   1,   0,   1,   0,                          /* 1 foreign key: 1 column, b */
        1,   0,   0,   0,   't', 1, 0, 0, 0, 'x'};           /* references t(x) */
    uint8_t *enc = NULL;
    size_t n = 0;
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == 0 && n == sizeof want &&
          memcmp(enc, want, n) == 0);
    if (!enc || n != sizeof want) {
        mc2_free(enc);
        mc2_schema_free(s);
        return;
    }
    CHECK(truncations_fail(enc, n));
    size_t accepted, total;
    CHECK(mutations_canonical(enc, n, &accepted, &total) && accepted > 0);
    uint8_t m[sizeof want];
    static const struct {
        size_t off;
        uint8_t val;
        const char *phrase;
    } mut[] = {
        {42, 5, "the primary key names a column that does not exist"},
        {42, 1, "the primary key has a nullable column"},
        {40, 0, "version 2 without keys"},
        {40, 17, "a primary key of 17 columns"},
        {48, 2, "foreign key 1 names a column that does not exist"},
        {46, 0, "foreign key 1 has 0 columns"},
        {46, 17, "foreign key 1 has 17 columns"},
        {54, '-', "referenced table name must start"},
        {59, '9', "referenced column name must start"},
        {44, 2, "truncated key section"},
        {4, 1, "unexpected bytes after the last column"},
    };
    for (size_t i = 0; i < sizeof mut / sizeof mut[0]; i++) {
        memcpy(m, enc, n);
        m[mut[i].off] = mut[i].val;
        d = NULL;
        CHECK_MSG(mc2_schema_decode(m, n, &d, &err) == -1 && d == NULL &&
                      strstr(err.msg, mut[i].phrase),
                  "key mutation %zu: '%s'", i, err.msg);
        mc2_schema_free(d);
    }
    /* keys are part of the hash; without them the schema is version 1 again */
    uint8_t h1[32], h2[32];
    CHECK(mc2_schema_hash(s, h1, &err) == 0);
    size_t npk = s->npk, nfk = s->nfk;
    s->npk = s->nfk = 0;
    uint8_t *e1 = NULL;
    size_t n1 = 0;
    CHECK(mc2_schema_hash(s, h2, &err) == 0 && memcmp(h1, h2, 32) != 0);
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == 0 && n1 == 40 && e1[4] == 1);
    mc2_free(e1);
    s->npk = npk;
    s->nfk = nfk;
    /* the encoder refuses keys that break the rules */
    s->pk[0] = 1;
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == -1 && strstr(err.msg, "nullable column"));
    s->pk[0] = 7;
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == -1 && strstr(err.msg, "does not exist"));
    s->pk[0] = 0;
    s->fk[0].cols[0] = 0;
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == 0);
    mc2_free(e1);
    s->fk[0].ref_cols[0][0] = '1';
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == -1 && strstr(err.msg, "referenced column"));
    mc2_free(enc);
    mc2_schema_free(s);
    /* two primary key columns, one named twice; a foreign key declared twice */
    const char *two = "columns: [{name: a, type: INT64, nullable: false}, {name: b, type: INT64}]\n"
                      "primary_key: [a]\n"
                      "foreign_keys: [{columns: [b], references: t(x)}, "
                      "{columns: [a], references: t(x)}]\n";
    CHECK_MSG(mc2_schema_parse("k", two, strlen(two), &s, &err) == 0, "%s", err.msg);
    if (!s) return;
    unsigned pk2[2] = {0, 0}, *pk1 = s->pk;
    s->pk = pk2;
    s->npk = 2;
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == -1 && strstr(err.msg, "names a column twice"));
    s->pk = pk1;
    s->npk = 1;
    s->fk[1].cols[0] = 1;
    CHECK(mc2_schema_encode(s, &e1, &n1, &err) == -1 &&
          strstr(err.msg, "foreign keys 1 and 2 are the same"));
    mc2_schema_free(s);
}

/* Allocation failure at every step of parse, encode, decode and to_yaml: a clean error, no
 * crash, no leak (ASan checks the last two). */
/* Column labels (version 3): a result's SQL names beside valid column names. The encoding
 * round-trips and is canonical; labels change the hash; bad labels are refused by the
 * encoder and the decoder; YAML shows a label as a comment; the CSV header shows it. */
static void test_labels(void)
{
    mc2_err err;
    mc2_schema *s = NULL, *d = NULL;
    const char *txt = "columns: [{name: sum_x, type: INT64}, {name: a, type: INT64}]\n";
    CHECK_MSG(mc2_schema_parse("l", txt, strlen(txt), &s, &err) == 0, "%s", err.msg);
    if (!s) return;
    uint8_t h0[MC2_SHA256_LEN], h1[MC2_SHA256_LEN];
    CHECK(mc2_schema_hash(s, h0, &err) == 0);
    s->labels = mc2_calloc(2, sizeof *s->labels);
    s->labels[0] = mc2_strdup("sum(x) \xc3\xa9");
    CHECK(strcmp(mc2_col_display(s, 0), "sum(x) \xc3\xa9") == 0 &&
          strcmp(mc2_col_display(s, 1), "a") == 0);
    static const uint8_t want[] = {'M', 'C', '2',  'S',  3,   0,   2,   0,   0,
                                   0,   0,   0,    0,    0, /* version 3, 2 columns */
                                   5,   0,   0,    0,    's', 'u', 'm', '_', 'x',
                                   1,   0,   0,    0,    0,   0,   0,   1, /* sum_x INT64 */
                                   1,   0,   0,    0,    'a', 1,   0,   0,   0,
                                   0,   0,   0,    1, /* a INT64 */
                                   0,   0,   0,    0, /* no keys */
                                   9,   0,   0,    0,    's', 'u', 'm', '(', 'x',
                                   ')', ' ', 0xc3, 0xa9, /* label */
                                   0,   0,   0,    0};   /* column a: none */
    uint8_t *enc = NULL;
    size_t n = 0;
    CHECK_MSG(mc2_schema_encode(s, &enc, &n, &err) == 0, "%s", err.msg);
    CHECK(n == sizeof want && memcmp(enc, want, n) == 0);
    CHECK(mc2_schema_hash(s, h1, &err) == 0 && memcmp(h0, h1, sizeof h0) != 0);
    CHECK_MSG(enc && mc2_schema_decode(enc, n, &d, &err) == 0, "%s", err.msg);
    CHECK(d && d->labels && d->labels[0] && strcmp(d->labels[0], s->labels[0]) == 0 &&
          d->labels[1] == NULL);
    mc2_schema_free(d);
    d = NULL;
    if (enc && n == sizeof want) {
        CHECK(truncations_fail(enc, n));
        size_t accepted, total;
        CHECK(mutations_canonical(enc, n, &accepted, &total) && accepted > 0);
        /* Each bad label, in place of "sum(x) é" (same length): refused with its reason. */
        static const struct {
            const char *label; /* 9 bytes */
            const char *phrase;
        } bad[] = {
            {"sum(x)\n\xc3\xa9 ", "control character"},
            {"sum(x) \xc2\x9b ", "control character"}, /* C1: CSI */
            {"sum(x\x7f \xc3\xa9", "control character"},
            {"sum(x) \xc3\x28 ", "valid UTF-8"},
            {"sum(x) \xc3\xa9"
             "",
             NULL},
        };
        for (size_t i = 0; bad[i].phrase; i++) {
            uint8_t *m = malloc(n);
            memcpy(m, enc, n);
            memcpy(m + n - 4 - 9, bad[i].label, 9);
            CHECK_MSG(mc2_schema_decode(m, n, &d, &err) == -1 && d == NULL &&
                          strstr(err.msg, bad[i].phrase),
                      "label %zu: %s", i, err.msg);
            free(m);
        }
        /* Version 3 with no label at all is not canonical. */
        uint8_t *m = malloc(n);
        memcpy(m, enc, n);
        static const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(m + 48, none, 8);
        CHECK(mc2_schema_decode(m, 56, &d, &err) == -1 && strstr(err.msg, "without labels"));
        free(m);
    }
    mc2_free(enc);
    /* YAML: the label is a comment (the schema parses back, without it). */
    char *yaml = NULL;
    CHECK(mc2_schema_to_yaml(s, &yaml, &err) == 0 && yaml &&
          strstr(yaml, "name: sum_x  # shown as: sum(x) \xc3\xa9\n"));
    mc2_free(yaml);
    /* The CSV header shows labels. */
    mc2_buf hdr = {0};
    CHECK(mc2_text_write_header(s, &hdr, &err) == 0 && hdr.len == 12 &&
          memcmp(hdr.data, "sum(x) \xc3\xa9,a\n", 12) == 0);
    mc2_buf_free(&hdr);
    /* The encoder refuses what the decoder would. */
    mc2_free(s->labels[0]);
    s->labels[0] = mc2_strdup("sum_x");
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == -1 && strstr(err.msg, "label equals the name"));
    mc2_free(s->labels[0]);
    s->labels[0] = mc2_strdup("a\tb");
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == -1 && strstr(err.msg, "control character"));
    mc2_free(s->labels[0]);
    char longl[MC2_MAX_LABEL + 2];
    memset(longl, 'x', sizeof longl - 1);
    longl[sizeof longl - 1] = '\0';
    s->labels[0] = mc2_strdup(longl);
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == -1 && strstr(err.msg, "longer than 256"));
    longl[MC2_MAX_LABEL] = '\0';
    mc2_free(s->labels[0]);
    s->labels[0] = mc2_strdup(longl);
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == 0);
    mc2_free(enc);
    mc2_schema_free(s);
}

static void alloc_failures(mc2_schema *s)
{
    mc2_err err;
    char *yaml = NULL;
    CHECK(mc2_schema_to_yaml(s, &yaml, &err) == 0);
    uint8_t *enc = NULL;
    size_t n = 0;
    CHECK(mc2_schema_encode(s, &enc, &n, &err) == 0);
    int ok = 1, step;
    for (int op = 0; op < 4; op++) {
        for (step = 1; step < 2000; step++) {
            mc2_schema *o = NULL;
            uint8_t *e2 = NULL;
            char *y2 = NULL;
            size_t n2 = 0;
            mc2_err_clear(&err);
            mc2_alloc_fail_after((unsigned long)step);
            int rc;
            switch (op) {
            case 0:
                rc = mc2_schema_parse("a.yaml", yaml, strlen(yaml), &o, &err);
                break;
            case 1:
                rc = mc2_schema_encode(s, &e2, &n2, &err);
                break;
            case 2:
                rc = mc2_schema_decode(enc, n, &o, &err);
                break;
            default:
                rc = mc2_schema_to_yaml(s, &y2, &err);
                break;
            }
            mc2_alloc_fail_after(0);
            mc2_schema_free(o);
            mc2_free(e2);
            mc2_free(y2);
            if (rc == 0) break;
            if (err.code != MC2_E_NOMEM) ok = 0;
        }
        CHECK_MSG(ok && step > 1 && step < 2000, "op %d step %d", op, step);
    }
    mc2_free(yaml);
    mc2_free(enc);
    mc2_schema_free(s);
}

static void test_alloc_failures(void)
{
    alloc_failures(alltypes());
    /* and with declared keys: TPC-H lineitem has a composite primary and foreign key */
    char path[4096];
    const char *src = getenv("MC2_SRC");
    snprintf(path, sizeof path, "%s/schemas/tpch/lineitem.yaml", src ? src : ".");
    mc2_schema *s = NULL;
    mc2_err err;
    CHECK_MSG(mc2_schema_load(path, &s, &err) == 0, "%s", err.msg);
    if (s) alloc_failures(s);
}

int main(void)
{
    test_good();
    test_bad();
    test_decode_hostile();
    test_hash();
    test_keys_encoding();
    test_labels();
    test_alloc_failures();
    return test_done("test_schema");
}
