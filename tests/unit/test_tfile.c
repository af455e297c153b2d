/* test_tfile.c - the encrypted table file (.mc2t): round trips, the tamper matrix, the canary
 * scan, bad input, and the in-memory reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "table/treader.h"
#include "test.h"

static char tmpdir[256];
static unsigned tamper_cases;

static const uint8_t KEY[MC2_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t KEY2[MC2_KEY_LEN] = {32, 31, 30};

/* The format version encrypt_text writes (0: the default, version 2; 1: version 1). */
static unsigned enc_version;

static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) exit(1);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static mc2_schema *schema(const char *yaml)
{
    mc2_schema *s = NULL;
    mc2_err err;
    if (mc2_schema_parse("test.yaml", yaml, strlen(yaml), &s, &err)) {
        fprintf(stderr, "schema: %s\n", err.msg);
        exit(1);
    }
    return s;
}

static int encrypt_text(const char *text, size_t n, const mc2_schema *s, const uint8_t *key,
                        const char *out, uint32_t rpb, unsigned threads, enum mc2_textfmt fmt,
                        mc2_table_stats *st, mc2_err *err)
{
    const char *in = tpath("in.txt");
    write_file(in, text, n);
    mc2_encrypt_opts o = {
        .format = fmt, .threads = threads, .rows_per_block = rpb, .format_version = enc_version};
    return mc2_table_encrypt_file(in, s, key, out, &o, st, err);
}

/* Encrypts text, decrypts it again and checks the output is byte-identical. */
static void roundtrip_expect(const char *what, const mc2_schema *s, const char *text, size_t n,
                             const char *expect, size_t en, uint32_t rpb, unsigned threads,
                             enum mc2_textfmt fmt, uint64_t want_rows, uint64_t want_blocks)
{
    mc2_err err;
    mc2_table_stats st = {0}, st2 = {0};
    const char *enc = tpath("rt.mc2t"), *dec = tpath("rt.out");
    int rc = encrypt_text(text, n, s, KEY, enc, rpb, threads, fmt, &st, &err);
    CHECK_MSG(rc == 0, "%s: encrypt: %s", what, err.msg);
    if (rc) return;
    CHECK_MSG(st.rows == want_rows, "%s: %llu rows, want %llu", what, (unsigned long long)st.rows,
              (unsigned long long)want_rows);
    CHECK_MSG(st.blocks == want_blocks, "%s: %llu blocks, want %llu", what,
              (unsigned long long)st.blocks, (unsigned long long)want_blocks);
    rc = mc2_table_decrypt_file(enc, KEY, dec, fmt, &st2, &err);
    CHECK_MSG(rc == 0, "%s: decrypt: %s", what, err.msg);
    if (rc) return;
    CHECK(st2.rows == want_rows && st2.blocks == want_blocks);
    size_t m;
    uint8_t *out = read_file(dec, &m);
    CHECK_MSG(out && m == en && memcmp(out, expect, en) == 0,
              "%s: output differs (%zu vs %zu bytes)", what, m, en);
    if (out && (m != en || memcmp(out, expect, en) != 0))
        fprintf(stderr, "--- want\n%.*s--- got\n%.*s---\n", (int)en, expect, (int)m, (char *)out);
    free(out);

    /* The in-memory reader sees the same rows. */
    size_t fn;
    uint8_t *file = read_file(enc, &fn);
    mc2_treader *r = NULL;
    rc = mc2_treader_open_mem(file, fn, KEY, &r, &err);
    CHECK_MSG(rc == 0, "%s: treader: %s", what, err.msg);
    if (rc == 0) {
        mc2_batch *b = mc2_treader_batch_new(r, &err);
        CHECK(b != NULL);
        uint64_t rows = 0, blocks = 0, idx = 0;
        int k;
        while (b && (k = mc2_treader_next(r, b, &idx, &err)) == 1) {
            CHECK(idx == blocks);
            rows += b->nrows;
            blocks++;
        }
        CHECK_MSG(b && k == 0, "%s: treader_next: %s", what, err.msg);
        CHECK(rows == want_rows && blocks == want_blocks);
        CHECK(b && mc2_treader_next(r, b, NULL, &err) == 0);
        mc2_batch_free(b);
        mc2_treader_free(r);
    }
    free(file);
    unlink(enc);
    unlink(dec);
}

static void roundtrip(const char *what, const mc2_schema *s, const char *text, size_t n,
                      uint32_t rpb, unsigned threads, enum mc2_textfmt fmt, uint64_t want_rows,
                      uint64_t want_blocks)
{
    roundtrip_expect(what, s, text, n, text, n, rpb, threads, fmt, want_rows, want_blocks);
}

/* ---- round trips ------------------------------------------------------------------------------
 */

static const char *ALL_TYPES_YAML = "table: all_types\n"
                                    "columns:\n"
                                    "  - name: id\n    type: INT64\n    nullable: false\n"
                                    "  - name: i\n    type: INT64\n"
                                    "  - name: d\n    type: DOUBLE\n"
                                    "  - name: dec\n    type: DECIMAL(18,4)\n"
                                    "  - name: dec1\n    type: DECIMAL(1,0)\n"
                                    "  - name: dec18\n    type: DECIMAL(18,18)\n"
                                    "  - name: dt\n    type: DATE\n"
                                    "  - name: b\n    type: BOOL\n"
                                    "  - name: s\n    type: VARCHAR(5)\n"
                                    "  - name: s2\n    type: VARCHAR(3)\n    nullable: false\n"
                                    "  - name: long_text\n    type: VARCHAR(40)\n";

static const char *ALL_TYPES_CSV =
    "id,i,d,dec,dec1,dec18,dt,b,s,s2,long_text\n"
    "1,-9223372036854775808,1.5,99999999999999.9999,9,0.999999999999999999,0001-01-01,true,"
    "h\xc3\xa9llo,\"\",plain\n"
    "2,9223372036854775807,-0.1,-99999999999999.9999,-9,-0.999999999999999999,9999-12-31,false,"
    "\"a,b\",\"x\"\"y\",\"two\nlines, and a \"\"quote\"\"\"\n"
    "3,,,,,,,,,\"\",\n"
    "4,0,1e+300,0.0000,0,0.000000000000000001,1970-01-01,true,\"\","
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e,\"\"\n"
    "5,-1,3.141592653589793,-0.0001,1,-0.000000000000000001,2000-02-29,false,\xf0\x9f\x98\x80"
    "abcd,abc,\"\r\nCRLF inside\"\n";

static void test_roundtrips(void)
{
    mc2_schema *s = schema(ALL_TYPES_YAML);
    size_t n = strlen(ALL_TYPES_CSV);
    for (unsigned th = 1; th <= 2; th++) {
        roundtrip("all types", s, ALL_TYPES_CSV, n, 0, th, MC2_FMT_CSV, 5, 1);
        roundtrip("all types, 2 rows per block", s, ALL_TYPES_CSV, n, 2, th, MC2_FMT_CSV, 5, 3);
        roundtrip("all types, 1 row per block", s, ALL_TYPES_CSV, n, 1, th, MC2_FMT_CSV, 5, 5);
    }
    const char *hdr_only = "id,i,d,dec,dec1,dec18,dt,b,s,s2,long_text\n";
    roundtrip("empty table", s, hdr_only, strlen(hdr_only), 0, 2, MC2_FMT_CSV, 0, 0);
    const char *one = "id,i,d,dec,dec1,dec18,dt,b,s,s2,long_text\n"
                      "7,,,,,,,,,\"\",\n";
    roundtrip("one row", s, one, strlen(one), 0, 1, MC2_FMT_CSV, 1, 1);
    mc2_schema_free(s);

    /* .tbl: no header, trailing '|', empty field is NULL. */
    mc2_schema *t = schema("columns:\n"
                           "  - name: k\n    type: INT64\n    nullable: false\n"
                           "  - name: v\n    type: VARCHAR(10)\n"
                           "  - name: p\n    type: DECIMAL(12,2)\n");
    const char *tbl = "1|alpha|12.50|\n2||-0.01|\n3|gamma||\n";
    roundtrip("tbl", t, tbl, strlen(tbl), 2, 2, MC2_FMT_TBL, 3, 2);
    roundtrip("empty tbl", t, "", 0, 0, 1, MC2_FMT_TBL, 0, 0);
    mc2_schema_free(t);
}

static const char *MANY_YAML = "table: many\n"
                               "columns:\n"
                               "  - name: id\n    type: INT64\n    nullable: false\n"
                               "  - name: name\n    type: VARCHAR(24)\n"
                               "  - name: amount\n    type: DECIMAL(10,2)\n"
                               "  - name: day\n    type: DATE\n";

/* Canonical CSV of `rows` rows; some names span two lines. marker (may be NULL) is put in
 * row 3's name. */
static char *many_csv(unsigned rows, unsigned seed, const char *marker, size_t *len)
{
    size_t cap = 64 + (size_t)rows * 96;
    char *p = malloc(cap);
    size_t k = (size_t)snprintf(p, cap, "id,name,amount,day\n");
    for (unsigned r = 0; r < rows; r++) {
        unsigned v = r * 2654435761u + seed;
        char name[64];
        if (marker && r == 3)
            snprintf(name, sizeof name, "%s", marker);
        else if (v % 13 == 0)
            snprintf(name, sizeof name, "\"multi\nline %u\"", v % 1000);
        else if (v % 11 == 0)
            name[0] = '\0';
        else
            snprintf(name, sizeof name, "name-%u", v % 100000);
        char day[16];
        snprintf(day, sizeof day, "%04u-%02u-%02u", 1900 + v % 200, 1 + v % 12, 1 + v % 28);
        k += (size_t)snprintf(p + k, cap - k, "%u,%s,%s%u.%02u,%s\n", r, name,
                              ((v & 1) && ((v >> 3) % 100000 || (v >> 5) % 100)) ? "-" : "",
                              (v >> 3) % 100000, (v >> 5) % 100, v % 17 == 0 ? "" : day);
    }
    *len = k;
    return p;
}

static void test_many_blocks(void)
{
    mc2_schema *s = schema(MANY_YAML);
    size_t n;
    char *csv = many_csv(1000, 7, NULL, &n);
    roundtrip("1000 rows, 7 per block, 1 thread", s, csv, n, 7, 1, MC2_FMT_CSV, 1000, 143);
    roundtrip("1000 rows, 7 per block, 2 threads", s, csv, n, 7, 2, MC2_FMT_CSV, 1000, 143);
    roundtrip("1000 rows, 1000 per block, 2 threads", s, csv, n, 1000, 2, MC2_FMT_CSV, 1000, 1);
    roundtrip("1000 rows, default block size", s, csv, n, 0, 0, MC2_FMT_CSV, 1000, 1);
    /* No trailing newline: the last record still counts. */
    roundtrip_expect("no final newline", s, csv, n - 1, csv, n, 7, 2, MC2_FMT_CSV, 1000, 143);
    free(csv);
    mc2_schema_free(s);
}

static uint64_t last_done, last_total;
static unsigned progress_calls;
static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    last_done = done;
    last_total = total;
    progress_calls++;
}

static void test_progress_and_keys(void)
{
    mc2_schema *s = schema(MANY_YAML);
    size_t n;
    char *csv = many_csv(300, 3, NULL, &n);
    write_file(tpath("p.csv"), csv, n);
    mc2_encrypt_opts o = {.format = MC2_FMT_CSV,
                          .threads = 2,
                          .rows_per_block = 10,
                          .progress = on_progress,
                          .format_version = enc_version};
    mc2_err err;
    CHECK(mc2_table_encrypt_file(tpath("p.csv"), s, KEY, tpath("p.mc2t"), &o, NULL, &err) == 0);
    CHECK(progress_calls >= 1 && last_done == n && last_total == n);
    unlink(tpath("p.mc2t"));
    free(csv);
    mc2_schema_free(s);

    uint8_t id1[MC2_TABLE_ID_LEN] = {0}, id2[MC2_TABLE_ID_LEN] = {0}, k1[32], k2[32], k3[32];
    id2[15] = 1;
    CHECK(mc2_table_key(KEY, id1, k1, &err) == 0);
    CHECK(mc2_table_key(KEY, id2, k2, &err) == 0);
    CHECK(mc2_table_key(KEY2, id1, k3, &err) == 0);
    CHECK(memcmp(k1, k2, 32) != 0 && memcmp(k1, k3, 32) != 0 && memcmp(k1, KEY, 32) != 0);
}

/* ---- the tamper matrix ------------------------------------------------------------------------
 */

/* Decrypting bytes p[0..n) must fail with a message and leave no output. */
static void expect_reject(const char *what, const uint8_t *p, size_t n, const uint8_t *key)
{
    const char *f = tpath("tamper.mc2t"), *out = tpath("tamper.csv");
    write_file(f, p, n);
    unlink(out);
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mc2_table_decrypt_file(f, key, out, MC2_FMT_CSV, NULL, &err);
    tamper_cases++;
    CHECK_MSG(rc != 0, "%s: tampered file was accepted", what);
    CHECK_MSG(err.code != MC2_OK && err.msg[0], "%s: no error message", what);
    CHECK_MSG(!exists(out), "%s: output file exists after a failure", what);
    printf("  %-34s -> [%s] %s\n", what, mc2_code_name(err.code), err.msg);

    /* The in-memory reader must reject it too. */
    mc2_treader *r = NULL;
    int ok = 0;
    if (mc2_treader_open_mem(p, n, key, &r, &err) == 0) {
        mc2_batch *b = mc2_treader_batch_new(r, &err);
        int k = 1;
        while (b && (k = mc2_treader_next(r, b, NULL, &err)) == 1) {
        }
        ok = b && k == 0;
        mc2_batch_free(b);
        mc2_treader_free(r);
    }
    CHECK_MSG(!ok, "%s: the in-memory reader accepted it", what);
}

static uint8_t *splice(const uint8_t *a, size_t an, size_t cut, size_t cut_len, const uint8_t *b,
                       size_t bn, size_t *n)
{
    /* a[0..cut) + b[0..bn) + a[cut+cut_len..an) */
    *n = an - cut_len + bn;
    uint8_t *p = malloc(*n + 1);
    memcpy(p, a, cut);
    if (bn) memcpy(p + cut, b, bn);
    memcpy(p + cut + bn, a + cut + cut_len, an - cut - cut_len);
    return p;
}

/* Format version 1: every field of the prefix, header and frames, reordered, dropped,
 * duplicated, truncated and spliced blocks. */
static void test_tamper(void)
{
    enc_version = 1;
    mc2_schema *s = schema(MANY_YAML);
    size_t n;
    char *csv = many_csv(33, 11, NULL, &n);
    mc2_err err;
    mc2_table_stats st;
    const char *fa = tpath("a.mc2t"), *fb = tpath("b.mc2t");
    CHECK(encrypt_text(csv, n, s, KEY, fa, 7, 2, MC2_FMT_CSV, &st, &err) == 0);
    CHECK(st.blocks == 5);
    free(csv);
    csv = many_csv(33, 12, NULL, &n); /* another table, same shape, same key */
    CHECK(encrypt_text(csv, n, s, KEY, fb, 7, 2, MC2_FMT_CSV, &st, &err) == 0);
    free(csv);
    size_t an, bn;
    uint8_t *a = read_file(fa, &an), *b = read_file(fb, &bn);

    /* Frame offsets of both files. */
    size_t fo[6], fl[5], go[6], gl[5];
    size_t hl = 48 + (a[44] | (size_t)a[45] << 8) + 16;
    size_t hlb = 48 + (b[44] | (size_t)b[45] << 8) + 16;
    fo[0] = hl;
    go[0] = hlb;
    for (int i = 0; i < 5; i++) {
        fl[i] = 32 + (a[fo[i] + 12] | (size_t)a[fo[i] + 13] << 8 | (size_t)a[fo[i] + 14] << 16);
        fo[i + 1] = fo[i] + fl[i];
        gl[i] = 32 + (b[go[i] + 12] | (size_t)b[go[i] + 13] << 8 | (size_t)b[go[i] + 14] << 16);
        go[i + 1] = go[i] + gl[i];
    }
    CHECK(fo[5] == an && go[5] == bn);
    if (fo[5] != an || go[5] != bn) goto out;

    /* Sanity: the untouched file decrypts. */
    CHECK_MSG(mc2_table_decrypt_file(fa, KEY, tpath("a.csv"), MC2_FMT_CSV, NULL, &err) == 0, "%s",
              err.msg);
    unlink(tpath("a.csv"));

    uint8_t *c = malloc(an + 256);
    char what[96];
#define FLIP(off, name)                                                                            \
    do {                                                                                           \
        memcpy(c, a, an);                                                                          \
        c[(off)] ^= 0x01;                                                                          \
        expect_reject((name), c, an, KEY);                                                         \
    } while (0)

    printf("tamper matrix:\n");
    FLIP(0, "prefix magic");
    FLIP(4, "prefix version");
    FLIP(6, "prefix flags");
    FLIP(8, "prefix table id (first byte)");
    FLIP(23, "prefix table id (last byte)");
    FLIP(24, "prefix row count");
    FLIP(32, "prefix block count");
    FLIP(40, "prefix rows per block");
    FLIP(44, "prefix header length");
    FLIP(48, "header ciphertext (first byte)");
    FLIP((48 + hl - 16) / 2, "header ciphertext (middle)");
    FLIP(hl - 17, "header ciphertext (last byte)");
    FLIP(hl - 16, "header tag (first byte)");
    FLIP(hl - 1, "header tag (last byte)");
    for (int i = 0; i < 5; i++) {
        size_t o = fo[i], ctl = fl[i] - 32;
        snprintf(what, sizeof what, "block %d index", i + 1);
        FLIP(o, what);
        snprintf(what, sizeof what, "block %d index (high byte)", i + 1);
        FLIP(o + 7, what);
        snprintf(what, sizeof what, "block %d rows", i + 1);
        FLIP(o + 8, what);
        snprintf(what, sizeof what, "block %d ct_len", i + 1);
        FLIP(o + 12, what);
        snprintf(what, sizeof what, "block %d ct_len (high byte)", i + 1);
        FLIP(o + 15, what);
        snprintf(what, sizeof what, "block %d ciphertext (first)", i + 1);
        FLIP(o + 16, what);
        snprintf(what, sizeof what, "block %d ciphertext (middle)", i + 1);
        FLIP(o + 16 + ctl / 2, what);
        snprintf(what, sizeof what, "block %d ciphertext (last)", i + 1);
        FLIP(o + 16 + ctl - 1, what);
        snprintf(what, sizeof what, "block %d tag (first)", i + 1);
        FLIP(o + 16 + ctl, what);
        snprintf(what, sizeof what, "block %d tag (last)", i + 1);
        FLIP(o + fl[i] - 1, what);
    }

    /* Swap blocks: (1,2), (0,4), (3,4). */
    int swaps[3][2] = {{1, 2}, {0, 4}, {3, 4}};
    for (int k = 0; k < 3; k++) {
        int x = swaps[k][0], y = swaps[k][1];
        size_t p = 0;
        for (int i = 0; i < 5; i++) {
            int j = i == x ? y : i == y ? x : i;
            if (i == 0) {
                memcpy(c, a, hl);
                p = hl;
            }
            memcpy(c + p, a + fo[j], fl[j]);
            p += fl[j];
        }
        snprintf(what, sizeof what, "swap blocks %d and %d", x + 1, y + 1);
        expect_reject(what, c, p, KEY);
    }

    /* Drop a block: first, middle, last. */
    int drops[3] = {0, 2, 4};
    for (int k = 0; k < 3; k++) {
        int d = drops[k];
        size_t m;
        uint8_t *q = splice(a, an, fo[d], fl[d], NULL, 0, &m);
        snprintf(what, sizeof what, "drop block %d", d + 1);
        expect_reject(what, q, m, KEY);
        free(q);
    }

    /* Duplicate a block: block 2 again after itself; the last block appended again; block 1
     * replacing block 2. */
    {
        size_t m;
        uint8_t *q = splice(a, an, fo[2], 0, a + fo[1], fl[1], &m);
        expect_reject("duplicate block 2 (in place)", q, m, KEY);
        free(q);
        q = splice(a, an, an, 0, a + fo[4], fl[4], &m);
        expect_reject("duplicate last block (appended)", q, m, KEY);
        free(q);
        q = splice(a, an, fo[1], fl[1], a + fo[0], fl[0], &m);
        expect_reject("block 1 replaces block 2", q, m, KEY);
        free(q);
    }

    /* Truncate: at every frame boundary, inside every frame, in the header, 1 byte short. */
    size_t cuts[64];
    int nc = 0;
    cuts[nc++] = 0;
    cuts[nc++] = 10;
    cuts[nc++] = 47;
    cuts[nc++] = 48;
    cuts[nc++] = hl - 1;
    for (int i = 0; i < 5; i++) {
        cuts[nc++] = fo[i];
        cuts[nc++] = fo[i] + 8;
        cuts[nc++] = fo[i] + 16;
        cuts[nc++] = fo[i] + fl[i] / 2;
        if (i < 4) cuts[nc++] = fo[i] + fl[i] - 1;
    }
    cuts[nc++] = an - 1; /* 1 byte short */
    for (int k = 0; k < nc; k++) {
        snprintf(what, sizeof what, "truncate at %zu of %zu", cuts[k], an);
        expect_reject(what, a, cuts[k], KEY);
    }

    /* Junk after the last block. */
    memcpy(c, a, an);
    c[an] = 0;
    expect_reject("append 1 junk byte", c, an + 1, KEY);
    memset(c + an, 0x5a, 100);
    expect_reject("append 100 junk bytes", c, an + 100, KEY);

    /* Splice from another table under the same key: same schema, same positions. */
    for (int i = 0; i < 5; i += 2) {
        if (fl[i] != gl[i]) {
            /* Still a valid splice; lengths just differ. */
        }
        size_t m;
        uint8_t *q = splice(a, an, fo[i], fl[i], b + go[i], gl[i], &m);
        snprintf(what, sizeof what, "block %d from another table", i + 1);
        expect_reject(what, q, m, KEY);
        free(q);
    }
    {
        size_t m;
        uint8_t *q = splice(a, an, 0, hl, b, hlb, &m);
        expect_reject("header from another table", q, m, KEY);
        free(q);
    }

    /* Wrong key. */
    expect_reject("wrong data key", a, an, KEY2);

    printf("tamper matrix: %u cases, all rejected\n", tamper_cases);
    free(c);
out:
    free(a);
    free(b);
    unlink(fa);
    unlink(fb);
    unlink(tpath("tamper.mc2t"));
    mc2_schema_free(s);
    enc_version = 0;
}

/* ---- canary: no plaintext in the encrypted file ------------------------------------------- */

static void test_canary(void)
{
    mc2_schema *s = schema("table: canary_table\n"
                           "columns:\n"
                           "  - name: id\n    type: INT64\n"
                           "  - name: secretcolumnname\n    type: VARCHAR(40)\n");
    const char *marker = "CANARY_Zebra_7731_q";
    char csv[4096];
    size_t k = (size_t)snprintf(csv, sizeof csv, "id,secretcolumnname\n");
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%d,%s%d\n", i, marker, i);
    mc2_err err;
    const char *f = tpath("canary.mc2t");
    CHECK(encrypt_text(csv, k, s, KEY, f, 8, 2, MC2_FMT_CSV, NULL, &err) == 0);
    size_t n;
    uint8_t *p = read_file(f, &n);
    CHECK(p && n > 0);
    CHECK(p && !memmem(p, n, "CANARY", 6));
    CHECK(p && !memmem(p, n, "Zebra", 5));
    CHECK(p && !memmem(p, n, "secretcolumnname", 16));
    CHECK(p && !memmem(p, n, "canary_table", 12));
    free(p);
    unlink(f);
    mc2_schema_free(s);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void expect_bad_input(const char *what, const mc2_schema *s, const char *text, uint32_t rpb,
                             const char *want1, const char *want2)
{
    mc2_err err;
    mc2_err_clear(&err);
    const char *out = tpath("bad.mc2t");
    unlink(out);
    int rc = encrypt_text(text, strlen(text), s, KEY, out, rpb, 2, MC2_FMT_CSV, NULL, &err);
    CHECK_MSG(rc != 0, "%s: bad input accepted", what);
    CHECK_MSG(!exists(out), "%s: output exists", what);
    CHECK_MSG(strstr(err.msg, "in.txt") != NULL, "%s: message does not name the file: %s", what,
              err.msg);
    CHECK_MSG(!want1 || strstr(err.msg, want1), "%s: message lacks '%s': %s", what, want1, err.msg);
    CHECK_MSG(!want2 || strstr(err.msg, want2), "%s: message lacks '%s': %s", what, want2, err.msg);
    printf("  bad input: %-28s -> [%s] %s\n", what, mc2_code_name(err.code), err.msg);
}

static void test_bad_input(void)
{
    mc2_schema *s = schema(MANY_YAML);
    expect_bad_input("wrong column count", s, "id,name,amount,day\n1,a,1.00\n", 0, "line 2", NULL);
    expect_bad_input("unparsable number", s, "id,name,amount,day\n1,a,1.00,2020-01-01\nx1,b,,\n", 0,
                     "line 3", "column 1");
    expect_bad_input("bad decimal", s, "id,name,amount,day\n1,a,1.001,2020-01-01\n", 0, "line 2",
                     "column 3");
    expect_bad_input("bad date", s, "id,name,amount,day\n1,a,1.00,2021-02-29\n", 0, "line 2",
                     "column 4");
    expect_bad_input("string too long", s,
                     "id,name,amount,day\n1,abcdefghijklmnopqrstuvwxy,1.00,2020-01-01\n", 0,
                     "line 2", "column 2");
    expect_bad_input("header mismatch", s, "id,nam,amount,day\n1,a,1.00,2020-01-01\n", 0, NULL,
                     NULL);
    expect_bad_input("unterminated quote", s, "id,name,amount,day\n1,\"abc,1.00,2020-01-01\n", 0,
                     "line 2", NULL);

    /* Errors far into a multi-block file, found by parallel workers: the earliest is reported
     * with its physical line (the name column has multi-line values before it). */
    size_t n;
    char *csv = many_csv(1000, 7, NULL, &n);
    /* Find the start of the record with id 600 and of id 300 and break both. */
    char *p600 = strstr(csv, "\n600,") + 1, *p300 = strstr(csv, "\n300,") + 1;
    p600[0] = 'x';
    p300[0] = 'y';
    unsigned line = 1;
    for (char *q = csv; q < p300; q++) line += *q == '\n';
    char want[32];
    snprintf(want, sizeof want, "line %u,", line);
    expect_bad_input("error deep in the file", s, csv, 7, want, "column 1");
    free(csv);
    mc2_schema_free(s);
}

/* ---- failures leave existing files alone; allocation failures are clean -------------------- */

static void test_no_clobber_and_alloc_failures(void)
{
    mc2_schema *s = schema(MANY_YAML);
    mc2_err err;
    const char *out = tpath("keep.mc2t"), *dec = tpath("keep.csv");
    write_file(out, "old", 3);
    const char *bad = "id,name,amount,day\n1,a,zz,2020-01-01\n";
    CHECK(encrypt_text(bad, strlen(bad), s, KEY, out, 0, 2, MC2_FMT_CSV, NULL, &err) != 0);
    size_t n;
    uint8_t *p = read_file(out, &n);
    CHECK(p && n == 3 && memcmp(p, "old", 3) == 0);
    free(p);

    /* A good table replaces it; a failed decryption leaves an existing output alone. */
    char *csv = many_csv(40, 9, NULL, &n);
    CHECK(encrypt_text(csv, n, s, KEY, out, 7, 2, MC2_FMT_CSV, NULL, &err) == 0);
    write_file(dec, "previous", 8);
    CHECK(mc2_table_decrypt_file(out, KEY2, dec, MC2_FMT_CSV, NULL, &err) != 0);
    p = read_file(dec, &n);
    CHECK(p && n == 8 && memcmp(p, "previous", 8) == 0);
    free(p);
    free(csv);

    /* The in-memory reader under allocation failure: every failure is a clean error. */
    size_t fn;
    uint8_t *file = read_file(out, &fn);
    unsigned failures = 0, k;
    for (k = 1; k < 500; k++) {
        mc2_alloc_fail_after(k);
        mc2_treader *r = NULL;
        int rc = -1;
        uint64_t rows = 0;
        mc2_err_clear(&err);
        if (mc2_treader_open_mem(file, fn, KEY, &r, &err) == 0) {
            mc2_batch *b = mc2_treader_batch_new(r, &err);
            int x = -1;
            while (b && (x = mc2_treader_next(r, b, NULL, &err)) == 1) rows += b->nrows;
            rc = b && x == 0 ? 0 : -1;
            mc2_batch_free(b);
            mc2_treader_free(r);
        }
        mc2_alloc_fail_after(0);
        if (rc == 0) {
            CHECK(rows == 40);
            break;
        }
        failures++;
        CHECK_MSG(err.code == MC2_E_NOMEM, "alloc failure %u gave [%s] %s", k,
                  mc2_code_name(err.code), err.msg);
    }
    CHECK(k < 500 && failures > 0);
    printf("treader: %u injected allocation failures, all clean\n", failures);
    free(file);
    unlink(out);
    unlink(dec);
    mc2_schema_free(s);
}

/* ---- fuzz seed corpus ------------------------------------------------------------------------ */

/* Must match FUZZ_KEY in fuzz/fuzz_tfile.c. */
static const uint8_t FUZZ_KEY[MC2_KEY_LEN] = {
    0x6d, 0x63, 0x32, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x00,
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

/* The "plaintext form" fuzz_tfile reseals: the file with each ciphertext replaced by its
 * plaintext and each tag zeroed. Returns a malloc'd buffer (NULL on failure). */
static uint8_t *unseal(const uint8_t *p, size_t n, const uint8_t *key, size_t *out_len)
{
    mc2_err err;
    size_t hl;
    mc2_thdr h;
    mc2_aead *a = NULL;
    if (mc2_thdr_peek(p, n, &hl, &err) || hl > n || mc2_thdr_open(p, hl, key, &h, &a, &err))
        return NULL;
    uint8_t *out = malloc(n);
    uint8_t *enc = NULL;
    size_t enc_len = 0, pos = hl;
    if (!out || mc2_schema_encode(h.schema, &enc, &enc_len, &err) || 48 + enc_len + 16 != hl)
        goto fail;
    memcpy(out, p, 48);
    memcpy(out + 48, enc, enc_len);
    memset(out + 48 + enc_len, 0, 16);
    for (uint64_t i = 0; i < h.block_count; i++) {
        size_t fl;
        if (mc2_tframe_next(&h, i, p + pos, n - pos, &fl, &err)) goto fail;
        memcpy(out + pos, p + pos, 16);
        if (mc2_tblock_open(a, &h, i, p + pos, fl, out + pos + 16, &err)) goto fail;
        memset(out + pos + fl - 16, 0, 16);
        pos += fl;
    }
    mc2_free(enc);
    mc2_aead_free(a);
    mc2_thdr_clear(&h);
    *out_len = n;
    return out;
fail:
    fprintf(stderr, "unseal: %s\n", err.msg);
    free(out);
    mc2_free(enc);
    mc2_aead_free(a);
    mc2_thdr_clear(&h);
    return NULL;
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *q = malloc(n + 1);
    q[0] = mode;
    memcpy(q + 1, p, n);
    write_file(path, q, n + 1);
    free(q);
}

/* With MC2_FUZZ_CORPUS=dir, writes fuzz_tfile's seeds: small valid tables under FUZZ_KEY,
 * as they are (mode 0) and in plaintext form (mode 1). */
static void gen_corpus(const char *dir)
{
    enc_version = 1; /* the plaintext form below is version 1's */
    struct {
        const char *name, *yaml, *csv;
        uint32_t rpb;
    } seeds[] = {
        {"all_types", ALL_TYPES_YAML, ALL_TYPES_CSV, 2},
        {"empty", "columns:\n  - name: id\n    type: INT64\n", "id\n", 0},
        {"small", MANY_YAML, NULL, 3},
    };
    for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
        mc2_schema *s = schema(seeds[k].yaml);
        size_t n;
        char *csv = seeds[k].csv ? strdup(seeds[k].csv) : many_csv(8, 5, NULL, &n);
        n = strlen(csv);
        mc2_err err;
        const char *f = tpath("seed.mc2t");
        CHECK(encrypt_text(csv, n, s, FUZZ_KEY, f, seeds[k].rpb, 1, MC2_FMT_CSV, NULL, &err) == 0);
        size_t fn, un;
        uint8_t *file = read_file(f, &fn);
        uint8_t *plain = file ? unseal(file, fn, FUZZ_KEY, &un) : NULL;
        CHECK(plain != NULL);
        char name[64];
        snprintf(name, sizeof name, "sealed_%s", seeds[k].name);
        if (file) write_seed(dir, name, 0, file, fn);
        snprintf(name, sizeof name, "plain_%s", seeds[k].name);
        if (plain) write_seed(dir, name, 1, plain, un);
        free(plain);
        free(file);
        free(csv);
        unlink(f);
        mc2_schema_free(s);
    }
    printf("fuzz corpus written to %s\n", dir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mc2-test-tfile-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (enc_version = 0; enc_version <= 1; enc_version++) { /* v2 (the default), then v1 */
        printf("format version %u:\n", enc_version ? 1 : 2);
        test_roundtrips();
        test_many_blocks();
        test_progress_and_keys();
    }
    enc_version = 0;
    test_tamper();
    test_canary();
    test_bad_input();
    test_no_clobber_and_alloc_failures();
    const char *corpus = getenv("MC2_FUZZ_CORPUS");
    if (corpus) gen_corpus(corpus);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("test_tfile: %.2f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    unlink(tpath("in.txt"));
    unlink(tpath("p.csv"));
    rmdir(tmpdir);
    return test_done("test_tfile");
}
