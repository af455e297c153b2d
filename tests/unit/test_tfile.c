/* test_tfile.c - the encrypted table file (.mc2t), both format versions: round trips, the
 * tamper matrices (v1 and v2), tables the writer would never write but a key holder could
 * (sealed with the key, malformed inside), large results, the canary scan, bad input, the
 * in-memory reader, and the fuzz seed corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "table/tmem.h"
#include "table/treader.h"
#include "table/tinfo.h"
#include "table/tsrc.h"
#include "test.h"
#include "../tools/tplain.h"

static char tmpdir[256];
static unsigned tamper_cases;

static const uint8_t KEY[MC2_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t KEY2[MC2_KEY_LEN] = {32, 31, 30};

/* The format version encrypt_text writes (0: the default, version 2; 1: version 1), and the
 * table version it gives a v2 table. */
static unsigned enc_version;
static uint64_t enc_table_version;

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
    mc2_encrypt_opts o = {.format = fmt,
                          .threads = threads,
                          .rows_per_block = rpb,
                          .format_version = enc_version,
                          .table_version = enc_table_version};
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

/* A block whose first record straddles the reader's 1 MiB scan buffer (a bug once cut it in
 * two, a block of 0 records and one starting mid-record: TPC-H SF 10's lineitem hit it). With
 * a 13-byte header and 10-byte records, record 104856 (a multiple of 8) starts at
 * 2^20 - 3. */
static void test_block_across_scan_buffer(void)
{
    mc2_schema *s = schema("columns:\n  - name: value_column\n    type: INT64\n");
    size_t rows = 110000, n = 13 + 10 * rows;
    char *csv = malloc(n + 1);
    if (!csv) exit(1);
    memcpy(csv, "value_column\n", 13);
    for (size_t r = 0; r < rows; r++) snprintf(csv + 13 + 10 * r, 11, "%09zu\n", r + 100000000);
    CHECK(memcmp(csv + 13 + 10 * 104856, "100104856\n", 10) == 0 && 13 + 10 * 104856 == 1048573);
    roundtrip("a block's first record across the scan buffer's end", s, csv, n, 8, 2, MC2_FMT_CSV,
              rows, rows / 8 + (rows % 8 != 0));
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

/* Decrypting bytes p[0..n) must fail with a message (containing want, if not NULL) and leave
 * no output; the in-memory reader must reject them too. */
static void expect_reject_msg(const char *what, const uint8_t *p, size_t n, const uint8_t *key,
                              const char *want)
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
    CHECK_MSG(!want || strstr(err.msg, want), "%s: message lacks '%s': %s", what, want, err.msg);
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

static void expect_reject(const char *what, const uint8_t *p, size_t n, const uint8_t *key)
{
    expect_reject_msg(what, p, n, key, NULL);
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

    printf("tamper matrix, format version 1:\n");
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

    printf("tamper matrix, format version 1: %u cases, all rejected\n", tamper_cases);
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

/* ---- the tamper matrix, format version 2 -------------------------------------------------- */

#define V2_MAXB 8
#define V2_MAXC 8

/* Where the pieces of a v2 table are: chunk (b, c) at off[b][c] (len[b][c] ciphertext bytes,
 * then its tag), the footer's ciphertext at foff (flen bytes, then its tag), the trailer at
 * tr. Found through mc2_tsrc (the directory) and checked against the trailer. */
typedef struct v2map {
    uint64_t nblocks;
    uint32_t ncols;
    size_t off[V2_MAXB][V2_MAXC], len[V2_MAXB][V2_MAXC];
    size_t foff, flen, tr;
} v2map;

static int v2_map(const uint8_t *p, size_t n, const uint8_t *key, v2map *m)
{
    mc2_err err;
    mc2_tio io = mc2_tio_mem(p, n);
    mc2_tsrc *s = NULL;
    memset(m, 0, sizeof *m);
    if (mc2_tsrc_open(&io, key, n, &s, &err)) {
        fprintf(stderr, "v2_map: %s\n", err.msg);
        return -1;
    }
    const mc2_thdr *h = mc2_tsrc_header(s);
    m->nblocks = h->block_count;
    m->ncols = (uint32_t)h->schema->ncols;
    int rc = h->version == 2 && m->nblocks <= V2_MAXB && m->ncols <= V2_MAXC ? 0 : -1;
    size_t at = MC2_T2_PREFIX_LEN;
    for (uint64_t b = 0; rc == 0 && b < m->nblocks; b++)
        for (unsigned c = 0; c < m->ncols; c++) {
            m->off[b][c] = at;
            m->len[b][c] = (size_t)mc2_tsrc_block_bytes(s, b, &c, 1) - MC2_TAG_LEN;
            at += m->len[b][c] + MC2_TAG_LEN;
        }
    m->tr = n - MC2_T2_TRAILER_LEN;
    m->foff = (size_t)mc2_le64_get(p + m->tr + 16);
    m->flen = mc2_le32_get(p + m->tr + 24);
    if (rc == 0 && (at != m->foff || m->foff + m->flen + MC2_TAG_LEN != m->tr)) rc = -1;
    mc2_tsrc_free(s);
    return rc;
}

/* Where block b's chunks start and end. */
static size_t v2_bstart(const v2map *m, uint64_t b)
{
    return m->off[b][0];
}
static size_t v2_bend(const v2map *m, uint64_t b)
{
    return m->off[b][m->ncols - 1] + m->len[b][m->ncols - 1] + MC2_TAG_LEN;
}

/* A file made of pieces, one after the other. */
#define NP(a) (sizeof(a) / sizeof((a)[0]))
typedef struct piece {
    const uint8_t *p;
    size_t n;
} piece;

static uint8_t *join(const piece *ps, size_t k, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < k; i++) total += ps[i].n;
    uint8_t *out = malloc(total + 1), *q = out;
    for (size_t i = 0; i < k; i++) {
        if (ps[i].n) memcpy(q, ps[i].p, ps[i].n);
        q += ps[i].n;
    }
    *n = total;
    return out;
}

static void reject_join(const char *what, const piece *ps, size_t k, const uint8_t *key,
                        const char *want)
{
    size_t n;
    uint8_t *p = join(ps, k, &n);
    expect_reject_msg(what, p, n, key, want);
    free(p);
}

/* Flips one bit of byte `at` of p[0..n) and expects a rejection. */
static void reject_flip(const char *what, const uint8_t *p, size_t n, size_t at, const char *want)
{
    uint8_t *c = malloc(n);
    memcpy(c, p, n);
    c[at] ^= 0x01;
    expect_reject_msg(what, c, n, KEY, want);
    free(c);
}

static const char *V2_YAML = "table: v2\n"
                             "columns:\n"
                             "  - name: id\n    type: INT64\n    nullable: false\n"
                             "  - name: a\n    type: INT64\n"
                             "  - name: b\n    type: INT64\n"
                             "  - name: name\n    type: VARCHAR(12)\n    nullable: false\n"
                             "  - name: day\n    type: DATE\n"
                             "  - name: x\n    type: DOUBLE\n";

/* CSV of `rows` rows of V2_YAML, some values NULL. Every name is 6 bytes long, so that the
 * chunks of blocks of equal row counts have equal lengths, in every table written from it
 * whatever the seed (and the columns a and b, both nullable INT64, too). */
static char *v2_csv(unsigned rows, unsigned seed, size_t *len)
{
    size_t cap = 64 + (size_t)rows * 96;
    char *p = malloc(cap);
    size_t k = (size_t)snprintf(p, cap, "id,a,b,name,day,x\n");
    for (unsigned r = 0; r < rows; r++) {
        unsigned v = r * 2654435761u + seed;
        char a[24] = "", b[24] = "", day[16] = "", x[32] = "";
        if (v % 5) snprintf(a, sizeof a, "%d", (int)(v % 100000) - 50000);
        if (v % 7) snprintf(b, sizeof b, "%u", v % 1000);
        if (v % 6)
            snprintf(day, sizeof day, "%04u-%02u-%02u", 1900 + v % 200, 1 + v % 12, 1 + v % 28);
        if (v % 4) snprintf(x, sizeof x, "%d.5", (int)(v % 2000) - 1000);
        k +=
            (size_t)snprintf(p + k, cap - k, "%u,%s,%s,n%05u,%s,%s\n", r, a, b, v % 100000, day, x);
    }
    *len = k;
    return p;
}

/* Encrypts v2_csv(rows, seed) at 7 rows per block with the given table version; returns the
 * file's bytes. */
static uint8_t *v2_table(const mc2_schema *s, unsigned rows, unsigned seed, uint64_t tver,
                         size_t *n)
{
    mc2_err err;
    size_t cn;
    char *csv = v2_csv(rows, seed, &cn);
    const char *f = tpath("v2.mc2t");
    enc_version = 0;
    enc_table_version = tver;
    int rc = encrypt_text(csv, cn, s, KEY, f, 7, 2, MC2_FMT_CSV, NULL, &err);
    enc_table_version = 0;
    CHECK_MSG(rc == 0, "v2_table: %s", err.msg);
    free(csv);
    uint8_t *p = rc ? NULL : read_file(f, n);
    unlink(f);
    return p;
}

/* Every field of the prefix, trailer, footer and chunks; chunks and blocks swapped, dropped,
 * duplicated, moved and spliced from other tables; truncation and junk. */
static void tamper_v2_fields(const uint8_t *a, size_t an, const v2map *m)
{
    char what[96];
    reject_flip("prefix magic", a, an, 0, NULL);
    reject_flip("prefix version", a, an, 4, "version");
    reject_flip("prefix version (high byte)", a, an, 5, "version");
    reject_flip("prefix flags", a, an, 6, "flags");
    reject_flip("prefix table id (first byte)", a, an, 8, "footer does not authenticate");
    reject_flip("prefix table id (last byte)", a, an, 23, "footer does not authenticate");
    reject_flip("prefix table_version", a, an, 24, "footer does not authenticate");
    reject_flip("prefix table_version (high)", a, an, 31, "footer does not authenticate");
    reject_flip("trailer row count", a, an, m->tr, "footer does not authenticate");
    reject_flip("trailer row count (high)", a, an, m->tr + 7, "footer does not authenticate");
    reject_flip("trailer block count", a, an, m->tr + 8, "footer does not authenticate");
    reject_flip("trailer block count (high)", a, an, m->tr + 15, "footer does not authenticate");
    reject_flip("trailer footer offset", a, an, m->tr + 16, "trailer");
    reject_flip("trailer footer offset (high)", a, an, m->tr + 23, "trailer");
    reject_flip("trailer footer length", a, an, m->tr + 24, "trailer");
    reject_flip("trailer footer length (high)", a, an, m->tr + 27, "trailer");
    reject_flip("trailer magic (first)", a, an, m->tr + 28, "trailer");
    reject_flip("trailer magic (last)", a, an, m->tr + 31, "trailer");
    reject_flip("footer ciphertext (first)", a, an, m->foff, "footer does not authenticate");
    reject_flip("footer ciphertext (middle)", a, an, m->foff + m->flen / 2,
                "footer does not authenticate");
    reject_flip("footer ciphertext (last)", a, an, m->foff + m->flen - 1,
                "footer does not authenticate");
    reject_flip("footer tag (first)", a, an, m->foff + m->flen, "footer does not authenticate");
    reject_flip("footer tag (last)", a, an, m->tr - 1, "footer does not authenticate");
    for (uint64_t b = 0; b < m->nblocks; b++)
        for (uint32_t c = 0; c < m->ncols; c++) {
            size_t o = m->off[b][c], l = m->len[b][c];
            char want[96];
            snprintf(want, sizeof want, "block %llu of %llu, column %u does not authenticate",
                     (unsigned long long)b + 1, (unsigned long long)m->nblocks, c + 1);
            const char *where[5] = {"ct first", "ct middle", "ct last", "tag first", "tag last"};
            size_t at[5] = {o, o + l / 2, o + l - 1, o + l, o + l + MC2_TAG_LEN - 1};
            for (int k = 0; k < 5; k++) {
                snprintf(what, sizeof what, "chunk (%llu,%u) %s", (unsigned long long)b + 1, c + 1,
                         where[k]);
                reject_flip(what, a, an, at[k], want);
            }
        }
}

static void tamper_v2_chunks(const uint8_t *a, size_t an, const v2map *m, const uint8_t *b2,
                             const v2map *mb, const uint8_t *old, const v2map *mo)
{
    const char *auth = "does not authenticate";
    const size_t last = (size_t)m->nblocks - 1;
#define CH(f, mm, b, c)                                                                            \
    {                                                                                              \
        (f) + (mm)->off[b][c], (mm)->len[b][c] + MC2_TAG_LEN                                       \
    }
    const piece head = {a, v2_bstart(m, 0)}, tail = {a + m->foff, an - m->foff};
    /* Within block 3: columns a and b swapped (equal lengths: only the AAD tells). */
    {
        piece ps[] = {{a, m->off[2][1]},
                      CH(a, m, 2, 2),
                      CH(a, m, 2, 1),
                      {a + m->off[2][3], an - m->off[2][3]}};
        reject_join("swap chunks a,b of block 3", ps, NP(ps), KEY,
                    "block 3 of 5, column 2 does not authenticate");
    }
    /* Column a's chunks of blocks 2 and 3 swapped (equal lengths). */
    {
        piece ps[] = {{a, m->off[1][1]},
                      CH(a, m, 2, 1),
                      {a + m->off[1][2], m->off[2][1] - m->off[1][2]},
                      CH(a, m, 1, 1),
                      {a + m->off[2][2], an - m->off[2][2]}};
        reject_join("swap column a of blocks 2,3", ps, NP(ps), KEY,
                    "block 2 of 5, column 2 does not authenticate");
    }
    /* Columns id and name of block 1 swapped (different lengths). */
    {
        piece ps[] = {head,           CH(a, m, 0, 3), CH(a, m, 0, 1),
                      CH(a, m, 0, 2), CH(a, m, 0, 0), {a + m->off[0][4], an - m->off[0][4]}};
        reject_join("swap chunks id,name of block 1", ps, NP(ps), KEY, auth);
    }
    /* A chunk from another table (same key, schema, shape) and from an older file. */
    {
        piece ps[] = {{a, m->off[2][1]}, CH(b2, mb, 2, 1), {a + m->off[2][2], an - m->off[2][2]}};
        reject_join("chunk (3,a) from another table", ps, NP(ps), KEY,
                    "block 3 of 5, column 2 does not authenticate");
        ps[1] = (piece)CH(old, mo, 2, 1);
        reject_join("chunk (3,a) from an older file", ps, NP(ps), KEY,
                    "block 3 of 5, column 2 does not authenticate");
    }
    /* Two blocks modified: the first one is reported, whatever the decrypter's threads. */
    {
        uint8_t *c = malloc(an);
        memcpy(c, a, an);
        c[m->off[3][4] + 1] ^= 1;
        c[m->off[1][5] + 1] ^= 1;
        expect_reject_msg("chunks of blocks 2 and 4 modified", c, an, KEY,
                          "block 2 of 5, column 6 does not authenticate");
        free(c);
    }
    /* A chunk dropped; duplicated; replaced by its neighbour (equal length). */
    {
        piece ps[] = {{a, m->off[2][3]}, {a + m->off[2][4], an - m->off[2][4]}};
        reject_join("drop chunk (3,name)", ps, NP(ps), KEY, "trailer");
        piece pd[] = {{a, m->off[2][4]}, CH(a, m, 2, 3), {a + m->off[2][4], an - m->off[2][4]}};
        reject_join("duplicate chunk (3,name)", pd, NP(pd), KEY, "trailer");
        piece pr[] = {{a, m->off[2][1]}, CH(a, m, 2, 2), {a + m->off[2][2], an - m->off[2][2]}};
        reject_join("chunk (3,b) replaces (3,a)", pr, NP(pr), KEY,
                    "block 3 of 5, column 2 does not authenticate");
    }
    /* Whole blocks: dropped (first, middle, last), duplicated, swapped, moved. */
    size_t bl[V2_MAXB];
    piece blk[V2_MAXB];
    for (size_t b = 0; b <= last; b++) {
        bl[b] = v2_bend(m, b) - v2_bstart(m, b);
        blk[b] = (piece){a + v2_bstart(m, b), bl[b]};
    }
    CHECK(bl[1] == bl[2] && bl[2] == bl[3] && bl[last] < bl[0]);
    {
        piece p0[] = {head, blk[1], blk[2], blk[3], blk[4], tail};
        reject_join("drop block 1", p0, NP(p0), KEY, NULL);
        piece p1[] = {head, blk[0], blk[2], blk[3], blk[4], tail};
        reject_join("drop block 2", p1, NP(p1), KEY, NULL);
        piece p2[] = {head, blk[0], blk[1], blk[2], blk[3], tail};
        reject_join("drop block 5 (the last)", p2, NP(p2), KEY, NULL);
        piece p3[] = {head, blk[0], blk[1], blk[1], blk[2], blk[3], blk[4], tail};
        reject_join("duplicate block 2", p3, NP(p3), KEY, NULL);
        piece p4[] = {head, blk[0], blk[1], blk[2], blk[3], blk[4], blk[4], tail};
        reject_join("duplicate the last block", p4, NP(p4), KEY, NULL);
        piece p5[] = {head, blk[0], blk[2], blk[1], blk[3], blk[4], tail};
        reject_join("swap blocks 2,3 (equal lengths)", p5, NP(p5), KEY,
                    "block 2 of 5, column 1 does not authenticate");
        piece p6[] = {head, blk[4], blk[1], blk[2], blk[3], blk[0], tail};
        reject_join("swap blocks 1,5", p6, NP(p6), KEY, auth);
        piece p7[] = {head, blk[0], blk[3], blk[1], blk[2], blk[4], tail};
        reject_join("move block 4 before block 2", p7, NP(p7), KEY,
                    "block 2 of 5, column 1 does not authenticate");
        piece p8[] = {head, blk[0], blk[1], {b2 + v2_bstart(mb, 2), bl[2]}, blk[3], blk[4], tail};
        reject_join("block 3 from another table", p8, NP(p8), KEY,
                    "block 3 of 5, column 1 does not authenticate");
        piece p9[] = {head, blk[0], {old + v2_bstart(mo, 1), bl[1]}, blk[2], blk[3], blk[4], tail};
        reject_join("block 2 from an older file", p9, NP(p9), KEY,
                    "block 2 of 5, column 1 does not authenticate");
    }
#undef CH
}

/* Truncation, junk, and footers and trailers spliced from other tables. */
static void tamper_v2_splices(const uint8_t *a, size_t an, const v2map *m, const uint8_t *b2,
                              size_t bn, const v2map *mb, const uint8_t *old, size_t on,
                              const v2map *mo)
{
    char what[96];
    size_t cuts[64];
    int nc = 0;
    cuts[nc++] = 0;
    cuts[nc++] = 10;
    cuts[nc++] = 31;
    cuts[nc++] = 32;
    cuts[nc++] = 33;
    for (uint32_t c = 0; c < m->ncols; c++) cuts[nc++] = m->off[0][c] + m->len[0][c] / 2;
    for (uint32_t c = 1; c < m->ncols; c++) cuts[nc++] = m->off[0][c];
    for (uint64_t b = 1; b < m->nblocks; b++) cuts[nc++] = v2_bstart(m, b);
    cuts[nc++] = m->foff - 1;
    cuts[nc++] = m->foff;
    cuts[nc++] = m->foff + 1;
    cuts[nc++] = m->foff + m->flen / 2;
    cuts[nc++] = m->foff + m->flen;
    cuts[nc++] = m->foff + m->flen + 8;
    cuts[nc++] = m->tr;
    cuts[nc++] = m->tr + 16;
    cuts[nc++] = an - 4;
    cuts[nc++] = an - 1; /* 1 byte short */
    for (int k = 0; k < nc; k++) {
        snprintf(what, sizeof what, "truncate at %zu of %zu", cuts[k], an);
        expect_reject(what, a, cuts[k], KEY);
    }
    uint8_t junk[100];
    memset(junk, 0x5a, sizeof junk);
    const piece all = {a, an}, tr = {a + m->tr, MC2_T2_TRAILER_LEN};
    {
        piece p1[] = {all, {junk, 1}};
        reject_join("append 1 junk byte", p1, NP(p1), KEY, "trailer");
        piece p2[] = {all, {junk, 100}};
        reject_join("append 100 junk bytes", p2, NP(p2), KEY, "trailer");
        piece p3[] = {all, {junk, 16}, tr};
        reject_join("junk, then the trailer again", p3, NP(p3), KEY, "trailer");
        piece p4[] = {{a, m->foff}, {junk, 16}, {a + m->foff, an - m->foff}};
        reject_join("16 junk bytes before the footer", p4, NP(p4), KEY, "trailer");
        piece p5[] = {{a, 32}, {junk, 16}, {a + 32, an - 32}};
        reject_join("16 junk bytes after the prefix", p5, NP(p5), KEY, "trailer");
    }
    /* Footer (+ tag + trailer) from another table, or from an older file of the same table
     * name: a new encryption has a new table id, so splice the two. */
    {
        piece p1[] = {{a, m->foff}, {b2 + mb->foff, bn - mb->foff}};
        reject_join("footer+trailer of another table", p1, NP(p1), KEY,
                    "footer does not authenticate");
        piece p2[] = {{a, m->foff}, {old + mo->foff, on - mo->foff}};
        reject_join("footer+trailer of an older file", p2, NP(p2), KEY,
                    "footer does not authenticate");
        piece p3[] = {{a, m->foff}, {old + mo->foff, mo->flen + MC2_TAG_LEN}, tr};
        reject_join("footer of an older file", p3, NP(p3), KEY, "footer does not authenticate");
        /* The older file's metadata over the newer chunks: the footer authenticates, the chunks
         * (another table id, so another key) do not. */
        piece p4[] = {{old, 32}, {a + 32, m->foff - 32}, {old + mo->foff, on - mo->foff}};
        reject_join("older prefix+footer, newer chunks", p4, NP(p4), KEY,
                    "block 1 of 5, column 1 does not authenticate");
        piece p5[] = {{b2, 32}, {a + 32, m->foff - 32}, {b2 + mb->foff, bn - mb->foff}};
        reject_join("another table's prefix+footer", p5, NP(p5), KEY,
                    "block 1 of 5, column 1 does not authenticate");
    }
    /* The table version rolled back in the prefix (the older file's number), or raised. */
    {
        uint8_t *c = malloc(an);
        memcpy(c, a, an);
        CHECK(mc2_le64_get(a + 24) == 7 && mc2_le64_get(old + 24) == 6);
        mc2_le64_put(c + 24, 6);
        expect_reject_msg("table_version 7 -> 6 (rollback)", c, an, KEY,
                          "footer does not authenticate");
        mc2_le64_put(c + 24, 8);
        expect_reject_msg("table_version 7 -> 8", c, an, KEY, "footer does not authenticate");
        free(c);
    }
    expect_reject_msg("wrong data key", a, an, KEY2, "footer does not authenticate");
}

/* A table of no blocks: its footer, trailer and what may follow the prefix. */
static void tamper_v2_empty(const uint8_t *e, size_t en, const uint8_t *a, const v2map *m)
{
    size_t tr = en - MC2_T2_TRAILER_LEN;
    CHECK(en == 32 + mc2_le32_get(e + tr + 24) + 16 + 32 && mc2_le64_get(e + tr + 16) == 32);
    reject_flip("empty: footer ciphertext", e, en, 32, "footer does not authenticate");
    reject_flip("empty: trailer row count", e, en, tr, "footer does not authenticate");
    reject_flip("empty: trailer block count", e, en, tr + 8, "footer does not authenticate");
    reject_flip("empty: trailer footer offset", e, en, tr + 16, "trailer");
    expect_reject("empty: 1 byte short", e, en - 1, KEY);
    piece p1[] = {{e, 32}, {a + m->off[0][0], m->len[0][0] + MC2_TAG_LEN}, {e + 32, en - 32}};
    reject_join("empty: a chunk inserted", p1, NP(p1), KEY, "trailer");
    /* A's prefix and chunks with the empty table's footer, trailer fixed to point at it. */
    size_t n;
    piece p2[] = {{a, m->foff}, {e + 32, en - 32}};
    uint8_t *c = join(p2, NP(p2), &n);
    mc2_le64_put(c + n - 16, m->foff);
    expect_reject_msg("empty table's footer over chunks", c, n, KEY,
                      "footer does not authenticate");
    free(c);
    piece p3[] = {{a, 32}, {e + 32, en - 32}};
    reject_join("another table's prefix, empty", p3, NP(p3), KEY, "footer does not authenticate");
    expect_reject_msg("empty: wrong data key", e, en, KEY2, "footer does not authenticate");
}

/* ---- tables a key holder could write: authentic, malformed inside ------------------------- */

/* Where the footer's fields are in a v2 plaintext form (tplain.h): the row and block counts
 * at *counts, block b's directory entry at *entry (u32 rows, then per column u32 len, u8
 * stats flags, i64 min, i64 max). */
#define V2_ENTRY(m, b) (4 + (size_t)(m)->ncols * 21)
static size_t v2_counts(const uint8_t *plain, const v2map *m)
{
    return m->foff + 10 + mc2_le32_get(plain + m->foff + 6);
}
static size_t v2_entry(const uint8_t *plain, const v2map *m, uint64_t b)
{
    return v2_counts(plain, m) + 16 + (size_t)b * V2_ENTRY(m, b);
}

/* Seals the plaintext form q[0..n) with KEY and expects a rejection naming want. */
static void reject_plain(const char *what, const uint8_t *q, size_t n, const char *want)
{
    uint8_t *f = NULL;
    size_t fn = 0;
    CHECK(tplain_seal(q, n, KEY, &f, &fn) == 0);
    if (f) expect_reject_msg(what, f, fn, KEY, want);
    mc2_free(f);
}

/* Row `r` of column c in block b: the offset of its value in the plaintext form (fixed-width
 * columns; skips the bitmap of a nullable column). */
static size_t v2_value(const v2map *m, uint64_t b, uint32_t c, uint32_t rows, bool nullable,
                       size_t width, uint32_t r)
{
    return m->off[b][c] + 2 + (nullable ? (rows + 7) / 8 : 0) + (size_t)r * width;
}

/* The first NULL row of column c (nullable) in block b of `rows` rows, or -1. */
static long v2_first_null(const uint8_t *plain, const v2map *m, uint64_t b, uint32_t c,
                          uint32_t rows)
{
    for (uint32_t r = 0; r < rows; r++)
        if (plain[m->off[b][c] + 2 + r / 8] >> (r % 8) & 1) return (long)r;
    return -1;
}

/* Footers and chunks sealed with the right key but breaking the format's rules: the reader
 * validates what authenticates (a table comes from another party). */
static void tamper_v2_crafted(const uint8_t *a, size_t an, const v2map *m)
{
    size_t n;
    uint8_t *plain = tplain_open(a, an, KEY, &n);
    CHECK(plain != NULL && n == an);
    if (!plain) return;
    /* Sanity: the plaintext form seals back to the very same bytes (GCM is deterministic). */
    uint8_t *same = NULL;
    size_t sn = 0;
    CHECK(tplain_seal(plain, n, KEY, &same, &sn) == 0 && sn == an && !memcmp(same, a, an));
    mc2_free(same);

    uint8_t *q = malloc(n + 64);
    const size_t cnt = v2_counts(plain, m), e1 = v2_entry(plain, m, 1);
    const size_t last = (size_t)m->nblocks - 1, tr = m->tr;
#define EDIT(stmt, what, want)                                                                     \
    do {                                                                                           \
        memcpy(q, plain, n);                                                                       \
        stmt;                                                                                      \
        reject_plain((what), q, n, (want));                                                        \
    } while (0)
    EDIT(q[m->foff + 3] = 'X', "footer magic", "table footer: malformed");
    EDIT(mc2_le16_put(q + m->foff + 4, 3), "footer version 3", "table footer: malformed");
    EDIT(q[m->foff + 10] ^= 1, "footer schema magic", "table footer: ");
    EDIT(mc2_le64_put(q + cnt, 34), "footer row count != trailer", "counts differ");
    EDIT(mc2_le64_put(q + cnt + 8, 4), "footer block count != trailer", "counts differ");
    EDIT((mc2_le64_put(q + cnt, 34), mc2_le64_put(q + tr, 34)), "row counts 34, blocks hold 33",
         "blocks hold 33 rows");
    EDIT(mc2_le32_put(q + e1, 0), "block 2 holds 0 rows", "holds 0 rows");
    EDIT(mc2_le32_put(q + e1, (1u << 20) + 1), "block 2 holds 2^20+1 rows", "rows");
    EDIT((mc2_le32_put(q + e1, 8), mc2_le64_put(q + cnt, 34), mc2_le64_put(q + tr, 34)),
         "block 2 claims 8 rows", "cannot hold 8 rows");
    /* The bound that keeps a footer from making a reader allocate for rows that are not
     * there: 2^20 rows in a block of a few hundred bytes. */
    EDIT((mc2_le32_put(q + e1, 1u << 20), mc2_le64_put(q + cnt, 33 - 7 + (1u << 20)),
          mc2_le64_put(q + tr, 33 - 7 + (1u << 20))),
         "block 2 claims 2^20 rows", "cannot hold 1048576 rows");
    {
        /* ... and the reader never asks for the memory of those rows: 8 MiB is plenty. */
        memcpy(q, plain, n);
        mc2_le32_put(q + e1, 1u << 20);
        mc2_le64_put(q + cnt, 33 - 7 + (1u << 20));
        mc2_le64_put(q + tr, 33 - 7 + (1u << 20));
        uint8_t *f = NULL;
        size_t fn = 0;
        CHECK(tplain_seal(q, n, KEY, &f, &fn) == 0);
        mc2_err err;
        mc2_err_clear(&err);
        size_t cap0 = mc2_alloc_set_cap(mc2_alloc_live() + (8u << 20));
        mc2_treader *r = NULL;
        int rc = mc2_treader_open_mem(f, fn, KEY, &r, &err);
        mc2_batch *b = r ? mc2_treader_batch_new(r, &err) : NULL;
        while (b && (rc = mc2_treader_next(r, b, NULL, &err)) == 1) {
        }
        bool hit = mc2_alloc_cap_hit();
        mc2_alloc_set_cap(cap0);
        CHECK_MSG(rc != 0 && !hit && err.code == MC2_E_INPUT,
                  "2^20 rows claimed: the reader allocated for them: [%s] %s",
                  mc2_code_name(err.code), err.msg);
        mc2_batch_free(b);
        mc2_treader_free(r);
        mc2_free(f);
    }
    EDIT(mc2_le32_put(q + e1 + 4, (uint32_t)m->len[1][0] + 8), "directory: id chunk 8 longer",
         "cannot hold");
    EDIT(mc2_le32_put(q + e1 + 4 + 3 * 21, (uint32_t)m->len[1][3] - 1),
         "directory: name chunk 1 shorter", "chunks end at");
    EDIT(mc2_le32_put(q + e1 + 4 + 3 * 21, (uint32_t)m->len[1][3] + 1),
         "directory: name chunk 1 longer", "chunks end at");
    EDIT(q[e1 + 4 + 4] = 8, "directory: stats flags 8", "bad chunk entry");
    {
        /* One byte more in the footer, after the directory (the trailer says so). */
        piece ps[] = {{plain, tr}, {(const uint8_t *)"\0", 1}, {plain + tr, MC2_T2_TRAILER_LEN}};
        size_t k;
        uint8_t *g = join(ps, NP(ps), &k);
        memmove(g + m->foff + m->flen + 1, g + m->foff + m->flen, MC2_TAG_LEN);
        g[m->foff + m->flen] = 0;
        mc2_le32_put(g + k - 8, (uint32_t)m->flen + 1);
        reject_plain("footer: a byte after the directory", g, k, "malformed directory");
        free(g);
    }
    /* Chunks: block 2 holds 7 rows; columns id (INT64 NOT NULL), a, b (INT64), name
     * (VARCHAR(12) NOT NULL), day (DATE), x (DOUBLE). */
    EDIT(q[m->off[1][1] + 1] = 0, "chunk (2,a): no bitmap (v2 rule)", "has no null bitmap");
    EDIT(q[m->off[1][0] + 1] = 1, "chunk (2,id): bitmap, NOT NULL", "NOT NULL");
    EDIT(q[m->off[1][0]] = MC2_T_DOUBLE, "chunk (2,id): type id", "type id");
    EDIT(q[m->off[1][1] + 1] = 2, "chunk (2,a): null-map flag 2", "null-map flag");
    EDIT(q[m->off[last][1] + 2] |= 0x80, "chunk (5,a): bitmap past last row",
         "bits set past the last row");
    long nr = -1;
    uint64_t nb = 0;
    for (; nb < 4 && nr < 0; nb++) nr = v2_first_null(plain, m, nb, 1, 7);
    CHECK(nr >= 0);
    if (nr >= 0)
        EDIT(q[v2_value(m, nb - 1, 1, 7, true, 8, (uint32_t)nr)] = 1, "chunk (a): NULL row holds 1",
             "NULL row holds a non-zero value");
    EDIT(mc2_le32_put(q + v2_value(m, 1, 4, 7, true, 4, 0), 3000000), "chunk (2,day): year 10183",
         "date outside");
    EDIT(mc2_le64_put(q + v2_value(m, 1, 5, 7, true, 8, 0), 0x7ff8000000000000ull),
         "chunk (2,x): NaN", "NaN");
    {
        size_t o = m->off[1][3] + 2, text = o + 7 * 4; /* name: 7 end offsets, then text */
        EDIT(q[text] = 0xff, "chunk (2,name): invalid UTF-8", "UTF-8");
        EDIT(mc2_le32_put(q + o, mc2_le32_get(plain + o + 4) + 1), "chunk (2,name): offsets back",
             "goes backwards");
        EDIT(mc2_le32_put(q + o + 6 * 4, mc2_le32_get(plain + o + 6 * 4) - 1),
             "chunk (2,name): a byte after the text", "unexpected bytes");
        EDIT(mc2_le32_put(q + o + 6 * 4, mc2_le32_get(plain + o + 6 * 4) + 1),
             "chunk (2,name): text past the end", "runs past the end");
    }
#undef EDIT
    free(q);
    mc2_free(plain);
}

static void test_tamper_v2(void)
{
    unsigned start = tamper_cases;
    mc2_schema *s = schema(V2_YAML);
    size_t an = 0, bn = 0, on = 0, en = 0;
    uint8_t *a = v2_table(s, 33, 11, 7, &an);   /* the table attacked */
    uint8_t *b2 = v2_table(s, 33, 12, 7, &bn);  /* another table: same key, schema, shape */
    uint8_t *old = v2_table(s, 33, 13, 6, &on); /* an older file of the same table name */
    uint8_t *e = v2_table(s, 0, 1, 7, &en);     /* no rows */
    v2map m, mb, mo;
    if (!a || !b2 || !old || !e || v2_map(a, an, KEY, &m) || v2_map(b2, bn, KEY, &mb) ||
        v2_map(old, on, KEY, &mo)) {
        CHECK_MSG(0, "cannot build the v2 tamper tables");
        goto out;
    }
    CHECK(m.nblocks == 5 && m.ncols == 6 && an == bn && an == on);
    for (uint64_t b = 0; b < 5; b++) {
        CHECK(m.len[b][1] == m.len[b][2]); /* a and b: same type and nullability */
        for (uint32_t c = 0; c < 6; c++) {
            CHECK(m.len[b][c] == mb.len[b][c] && m.len[b][c] == mo.len[b][c]);
            if (b < 4) CHECK(m.len[b][c] == m.len[0][c]);
        }
    }
    /* Sanity: the untouched files decrypt. */
    mc2_err err;
    write_file(tpath("a2.mc2t"), a, an);
    CHECK_MSG(mc2_table_decrypt_file(tpath("a2.mc2t"), KEY, tpath("a2.csv"), MC2_FMT_CSV, NULL,
                                     &err) == 0,
              "%s", err.msg);
    write_file(tpath("a2.mc2t"), e, en);
    CHECK_MSG(mc2_table_decrypt_file(tpath("a2.mc2t"), KEY, tpath("a2.csv"), MC2_FMT_CSV, NULL,
                                     &err) == 0,
              "%s", err.msg);
    unlink(tpath("a2.mc2t"));
    unlink(tpath("a2.csv"));

    printf("tamper matrix, format version 2:\n");
    tamper_v2_fields(a, an, &m);
    tamper_v2_chunks(a, an, &m, b2, &mb, old, &mo);
    tamper_v2_splices(a, an, &m, b2, bn, &mb, old, on, &mo);
    tamper_v2_empty(e, en, a, &m);
    printf("tamper matrix, format version 2: %u cases, all rejected\n", tamper_cases - start);
    start = tamper_cases;
    printf("authentic but malformed, format version 2:\n");
    tamper_v2_crafted(a, an, &m);
    printf("authentic but malformed, format version 2: %u cases, all rejected\n",
           tamper_cases - start);
out:
    free(a);
    free(b2);
    free(old);
    free(e);
    unlink(tpath("tamper.mc2t"));
    mc2_schema_free(s);
}

/* ---- version 2: NULL-only columns, and results of more than 2^20 rows ---------------------- */

static void test_v2_null_only(void)
{
    mc2_schema *s = schema(V2_YAML);
    char csv[2048];
    size_t k = (size_t)snprintf(csv, sizeof csv, "id,a,b,name,day,x\n");
    for (int r = 0; r < 20; r++)
        k += (size_t)snprintf(csv + k, sizeof csv - k, "%d,,,n%05d,,\n", r, r);
    for (enc_version = 0; enc_version <= 1; enc_version++)
        roundtrip("NULL-only columns", s, csv, k, 6, 2, MC2_FMT_CSV, 20, 4);
    enc_version = 0;
    /* The statistics say so. */
    mc2_err err;
    const char *f = tpath("nulls.mc2t");
    CHECK(encrypt_text(csv, k, s, KEY, f, 6, 1, MC2_FMT_CSV, NULL, &err) == 0);
    size_t n;
    uint8_t *p = read_file(f, &n);
    mc2_tio io = mc2_tio_mem(p, n);
    mc2_tsrc *src = NULL;
    CHECK(p && mc2_tsrc_open(&io, KEY, n, &src, &err) == 0);
    for (uint64_t b = 0; src && b < 4; b++) {
        const mc2_colstats *id = mc2_tsrc_stats(src, b, 0);
        CHECK(id->flags == MC2_STATS_MINMAX && id->min == (int64_t)b * 6 &&
              id->max == (b == 3 ? 19 : (int64_t)b * 6 + 5));
        for (size_t c = 1; c < 6; c++) {
            if (c == 3) continue;
            const mc2_colstats *st = mc2_tsrc_stats(src, b, c);
            CHECK(st->flags == (MC2_STATS_NULLS | MC2_STATS_ALLNULL) && st->min == 0 &&
                  st->max == 0);
        }
        CHECK(mc2_tsrc_stats(src, b, 3)->flags == 0); /* VARCHAR: no min/max, no NULL */
    }
    mc2_tsrc_free(src);
    free(p);
    unlink(f);
    mc2_schema_free(s);
}

/* An enclave result of more than 2^20 rows, sealed by mc2_table_seal_batch and read back. */
static void test_v2_large_result(void)
{
    mc2_schema *s = schema("columns:\n"
                           "  - name: k\n    type: INT64\n    nullable: false\n"
                           "  - name: f\n    type: BOOL\n");
    mc2_err err;
    const size_t rows = (1u << 20) + 3;
    mc2_batch *b = mc2_batch_new(s, rows, &err);
    CHECK(b != NULL);
    if (!b) return;
    for (size_t i = 0; i < rows; i++) {
        b->cols[0].v.i64[i] = (int64_t)i * 3 - 7;
        b->cols[1].nulls[i] = i % 3 == 0;
        b->cols[1].v.b[i] = i % 3 == 0 ? 0 : (uint8_t)(i & 1);
    }
    b->nrows = rows;
    mc2_buf out = {0};
    CHECK(mc2_table_seal_batch(b, KEY, &out, &err) == 0);
    mc2_treader *r = NULL;
    CHECK(mc2_treader_open_mem(out.data, out.len, KEY, &r, &err) == 0);
    if (r) {
        const mc2_thdr *h = mc2_treader_header(r);
        CHECK(h->version == 2 && h->row_count == rows && h->block_count == 17);
        mc2_batch *rb = mc2_treader_batch_new(r, &err);
        size_t at = 0, bad = 0;
        uint64_t idx, blocks = 0;
        int k;
        while (rb && (k = mc2_treader_next(r, rb, &idx, &err)) == 1) {
            CHECK(idx == blocks);
            blocks++;
            for (size_t i = 0; i < rb->nrows; i++, at++)
                bad += rb->cols[0].v.i64[i] != b->cols[0].v.i64[at] ||
                       rb->cols[1].nulls[i] != b->cols[1].nulls[at] ||
                       rb->cols[1].v.b[i] != b->cols[1].v.b[at];
        }
        CHECK_MSG(rb && k == 0, "large result: %s", err.msg);
        CHECK(at == rows && blocks == 17 && bad == 0);
        mc2_batch_free(rb);
        mc2_treader_free(r);
    }
    printf("large result: %zu rows, %zu bytes sealed\n", rows, out.len);
    mc2_buf_free(&out);
    mc2_batch_free(b);
    mc2_schema_free(s);
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

/* With MC2_FUZZ_CORPUS=dir, writes fuzz_tfile's seeds: small valid tables of both format
 * versions under FUZZ_KEY, as they are (mode 0) and in plaintext form (mode 1, tplain.h). */
static void gen_corpus(const char *dir)
{
    struct {
        const char *name, *yaml, *csv;
        uint32_t rpb;
    } seeds[] = {
        {"all_types", ALL_TYPES_YAML, ALL_TYPES_CSV, 2},
        {"empty", "columns:\n  - name: id\n    type: INT64\n", "id\n", 0},
        {"small", MANY_YAML, NULL, 3},
        {"nulls", V2_YAML, "id,a,b,name,day,x\n1,,,n00001,,\n2,,,n00002,,\n3,4,,n00003,,1.5\n", 2},
    };
    for (enc_version = 1; enc_version <= 2; enc_version++)
        for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
            mc2_schema *s = schema(seeds[k].yaml);
            size_t n;
            char *csv = seeds[k].csv ? strdup(seeds[k].csv) : many_csv(8, 5, NULL, &n);
            n = strlen(csv);
            mc2_err err;
            const char *f = tpath("seed.mc2t");
            CHECK(encrypt_text(csv, n, s, FUZZ_KEY, f, seeds[k].rpb, 1, MC2_FMT_CSV, NULL, &err) ==
                  0);
            size_t fn, un;
            uint8_t *file = read_file(f, &fn);
            uint8_t *plain = file ? tplain_open(file, fn, FUZZ_KEY, &un) : NULL;
            CHECK(plain != NULL);
            char name[64];
            snprintf(name, sizeof name, "sealed_v%u_%s", enc_version, seeds[k].name);
            if (file) write_seed(dir, name, 0, file, fn);
            snprintf(name, sizeof name, "plain_v%u_%s", enc_version, seeds[k].name);
            if (plain) write_seed(dir, name, 1, plain, un);
            mc2_free(plain);
            free(file);
            free(csv);
            unlink(f);
            mc2_schema_free(s);
        }
    enc_version = 0;
    printf("fuzz corpus written to %s\n", dir);
}

/* mc2_tinfo_read (what mc2d lists without a key) says what the writer wrote, in both
 * formats, and refuses a file that is not a whole table. */
static void test_tinfo(void)
{
    mc2_schema *s = schema(MANY_YAML);
    size_t n;
    char *csv = many_csv(1000, 7, NULL, &n);
    mc2_err err;
    for (unsigned v = 0; v <= 1; v++) {
        enc_version = v;
        enc_table_version = v ? 0 : 42;
        const char *out = tpath("tinfo.mc2t");
        unlink(out);
        mc2_table_stats st;
        CHECK(encrypt_text(csv, n, s, KEY, out, 100, 1, MC2_FMT_CSV, &st, &err) == 0);
        size_t fn;
        uint8_t *file = read_file(out, &fn);
        FILE *fp = fopen(out, "rb"); /* (fcntl.h's splice would clash with the one here) */
        int fd = fp ? fileno(fp) : -1;
        mc2_tinfo ti;
        CHECK(fd >= 0 && mc2_tinfo_read(fd, fn, &ti, &err) == 0);
        CHECK(ti.format == (v ? 1 : 2) && ti.rows == 1000 && ti.blocks == 10 &&
              ti.table_version == (v ? 0 : 42) && file && memcmp(ti.table_id, file + 8, 16) == 0);
        /* one byte short: v2 loses its trailer; a size below any table is refused */
        if (!v) CHECK(mc2_tinfo_read(fd, fn - 1, &ti, &err) != 0 && err.code == MC2_E_INPUT);
        CHECK(mc2_tinfo_read(fd, 40, &ti, &err) != 0 && err.code == MC2_E_INPUT);
        if (fp) fclose(fp);
        write_file(tpath("tinfo2.mc2t"), file, fn);
        fp = fopen(tpath("tinfo2.mc2t"), "r+b");
        fd = fp ? fileno(fp) : -1;
        CHECK(fd >= 0 && pwrite(fd, "MC2X", 4, 0) == 4 && mc2_tinfo_read(fd, fn, &ti, &err) != 0 &&
              strstr(err.msg, "magic") != NULL);
        if (fp) fclose(fp);
        unlink(out);
        unlink(tpath("tinfo2.mc2t"));
        free(file);
    }
    enc_version = 0;
    enc_table_version = 0;
    free(csv);
    mc2_schema_free(s);
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
        test_block_across_scan_buffer();
        test_progress_and_keys();
    }
    enc_version = 0;
    test_tamper();
    test_tamper_v2();
    test_v2_null_only();
    test_v2_large_result();
    for (enc_version = 0; enc_version <= 1; enc_version++) test_canary(); /* v2, v1 */
    enc_version = 0;
    test_bad_input();
    test_tinfo();
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
