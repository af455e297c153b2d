/* test_obliv_decode.c - oblivious mode's block decoder (src/obliv/decode.c) against the batch
 * decoder: on random payloads of every type (nullable and NOT NULL, empty and maximal
 * strings, 1- to 4-byte UTF-8, NULL rates from none to all) the rows must equal
 * obliv_rows_from_batch(mc2_batch_decode(...)) word for word, for all columns and for random
 * selections; every invalid-input class must be rejected, naming the column; random byte
 * mutations must be accepted or rejected exactly when the batch decoder does; the float32
 * conversion must equal the encryption-mode GBDT reader's bit for bit; oblivious SQL over a
 * sealed table (read through mc2_treader_next_raw, once or held for two scans) must give
 * encryption mode's results, and fail on an invalid block naming the block and column. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "obliv/decode.h"
#include "obliv/rows.h"
#include "sql/oexec.h"
#include "sql/planner.h"
#include "table/treader.h"
#include "table/value.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static mc2_schema *parse(const char *text)
{
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_parse("test", text, strlen(text), &s, &err) != 0) {
        fprintf(stderr, "%s\n%s\n", err.msg, text);
        exit(1);
    }
    return s;
}

/* ---- random data ------------------------------------------------------------------------- */

static size_t put_cp(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A random code point of 1 to 4 UTF-8 bytes, boundaries included, never a surrogate. */
static uint32_t rand_cp(void)
{
    static const uint32_t edge[] = {0,      0x7F,   0x80,   0x7FF,   0x800,
                                    0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
    switch (rnd() % 6) {
    case 0:
        return edge[rnd() % (sizeof edge / sizeof edge[0])];
    case 1:
    case 2:
        return 0x20 + (uint32_t)(rnd() % 0x5F);
    case 3:
        return 0x80 + (uint32_t)(rnd() % (0x800 - 0x80));
    case 4: {
        uint32_t c = 0x800 + (uint32_t)(rnd() % (0x10000 - 0x800));
        return c >= 0xD800 && c < 0xE000 ? c - 0x800 : c;
    }
    default:
        return 0x10000 + (uint32_t)(rnd() % (0x110000 - 0x10000));
    }
}

/* A random schema of 1..7 columns (names c0..), every type, nullable or not. */
static mc2_schema *rand_schema(void)
{
    static const uint32_t vlen[] = {1, 2, 3, 5, 8, 17};
    char y[2048];
    size_t n = 1 + rnd() % 7, o = (size_t)snprintf(y, sizeof y, "columns:\n");
    for (size_t c = 0; c < n; c++) {
        char t[32];
        switch (rnd() % 6) {
        case 0:
            snprintf(t, sizeof t, "INT64");
            break;
        case 1:
            snprintf(t, sizeof t, "DOUBLE");
            break;
        case 2: {
            unsigned p = 1 + (unsigned)(rnd() % 18);
            snprintf(t, sizeof t, "'DECIMAL(%u,%u)'", p, (unsigned)(rnd() % (p + 1)));
            break;
        }
        case 3:
            snprintf(t, sizeof t, "DATE");
            break;
        case 4:
            snprintf(t, sizeof t, "BOOL");
            break;
        default:
            snprintf(t, sizeof t, "'VARCHAR(%u)'", vlen[rnd() % 6]);
        }
        o += (size_t)snprintf(y + o, sizeof y - o, "  - {name: c%zu, type: %s, nullable: %s}\n", c,
                              t, rnd() % 2 ? "true" : "false");
    }
    return parse(y);
}

static int64_t pow10i(unsigned k)
{
    int64_t v = 1;
    while (k--) v *= 10;
    return v;
}

/* Fills b with nrows random valid rows of its schema. */
static void rand_rows(mc2_batch *b, size_t nrows)
{
    mc2_err err;
    const mc2_schema *s = b->schema;
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_column_def *d = &s->cols[c];
        mc2_col *col = &b->cols[c];
        unsigned nullpct = d->nullable ? (unsigned)(rnd() % 4) * 33 + (rnd() % 2) : 0;
        uint32_t off = 0;
        for (size_t i = 0; i < nrows; i++) {
            int isnull = rnd() % 100 < nullpct;
            if (col->nulls) col->nulls[i] = (uint8_t)isnull;
            switch (d->type.id) {
            case MC2_T_INT64: {
                static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN};
                col->v.i64[i] = isnull ? 0 : rnd() % 4 ? (int64_t)rnd() : edge[rnd() % 5];
                break;
            }
            case MC2_T_DEC128: /* oblivious decoding refuses wide DECIMAL columns */
                abort();
            case MC2_T_DECIMAL: {
                int64_t lim = pow10i(d->type.precision) - 1;
                int64_t v = rnd() % 4 ? (int64_t)(rnd() % (uint64_t)(2 * lim + 1)) - lim
                                      : (rnd() % 2 ? lim : -lim);
                col->v.i64[i] = isnull ? 0 : v;
                break;
            }
            case MC2_T_DOUBLE: {
                static const uint64_t edge[] = {0,
                                                0x8000000000000000ull,
                                                1,
                                                0x7FEFFFFFFFFFFFFFull,
                                                0xFFEFFFFFFFFFFFFFull,
                                                0x47EFFFFFE0000000ull};
                uint64_t bits = rnd() % 3 ? rnd() : edge[rnd() % 6];
                if ((bits & 0x7FF0000000000000ull) == 0x7FF0000000000000ull) bits ^= 1ull << 62;
                if (isnull) bits = 0;
                memcpy(&col->v.f64[i], &bits, 8);
                break;
            }
            case MC2_T_DATE: {
                int32_t v = MC2_DATE_MIN + (int32_t)(rnd() % (MC2_DATE_MAX - MC2_DATE_MIN + 1));
                if (rnd() % 8 == 0) v = rnd() % 2 ? MC2_DATE_MIN : MC2_DATE_MAX;
                col->v.i32[i] = isnull ? 0 : v;
                break;
            }
            case MC2_T_BOOL:
                col->v.b[i] = isnull ? 0 : (uint8_t)(rnd() % 2);
                break;
            case MC2_T_VARCHAR: {
                char buf[4 * 17 + 8]; /* VARCHAR(17) at most */
                size_t len = 0;
                uint32_t ncp = rnd() % 4 == 0   ? d->type.length /* maximal */
                               : rnd() % 3 == 0 ? 0
                                                : (uint32_t)(rnd() % (d->type.length + 1));
                int wide = rnd() % 5 == 0; /* 4-byte code points only: the most bytes */
                for (uint32_t k = 0; !isnull && k < ncp; k++)
                    len += put_cp(buf + len,
                                  wide ? 0x10000 + (uint32_t)(rnd() % 0x100000) : rand_cp());
                b->nrows = i; /* reserve_chars makes room after off[nrows] */
                if (mc2_batch_reserve_chars(b, c, len, &err)) exit(1);
                memcpy(col->data + off, buf, len);
                off += (uint32_t)len;
                col->off[i + 1] = off;
                break;
            }
            }
        }
    }
    b->nrows = nrows;
}

/* ---- decoding both ways ------------------------------------------------------------------ */

/* The reference: batch decoder, then obliv_rows_from_batch. 0 ok, -1 rejected. */
static int ref_decode(const mc2_schema *s, const uint8_t *p, size_t n, size_t nrows,
                      struct obliv_rows *out)
{
    mc2_err err;
    mc2_batch *b = mc2_batch_new(s, nrows ? nrows : 1, &err);
    if (!b) exit(1);
    int rc = mc2_batch_decode(b, p, n, nrows, &err);
    if (rc == 0 && obliv_rows_from_batch(out, b, &err)) {
        fprintf(stderr, "obliv_rows_from_batch: %s\n", err.msg);
        rc = -2;
    }
    mc2_batch_free(b);
    return rc;
}

/* The oblivious decoder on columns cols[0..k) with the verdict. 0 ok; -1 rejected (err). */
static int obl_decode(const mc2_schema *s, const unsigned *cols, size_t k, const uint8_t *p,
                      size_t n, size_t nrows, struct obliv_rows *out, mc2_err *err)
{
    mc2_coltype t[OBLIV_MAX_COLS];
    struct obliv_layout lay;
    uint64_t ok[1 + OBLIV_MAX_COLS];
    for (size_t i = 0; i < k; i++) t[i] = s->cols[cols[i]].type;
    if (obliv_layout_init(&lay, t, k, err) || obliv_rows_alloc(out, &lay, nrows, err)) exit(1);
    if (obliv_decode_v1(out, 0, s, cols, p, n, nrows, ok, err) ||
        obliv_decode_verdict(s, cols, k, ok, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return 0;
}

static const unsigned ALL[] = {0, 1, 2, 3, 4, 5, 6, 7};

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* One random payload: all columns, a random selection, and the float32 conversion. */
static void one_random(void)
{
    mc2_err err;
    mc2_schema *s = rand_schema();
    size_t nrows = rnd() % 5 == 0 ? rnd() % 3 : rnd() % 70;
    mc2_batch *b = mc2_batch_new(s, nrows ? nrows : 1, &err);
    if (!b) exit(1);
    rand_rows(b, nrows);
    uint8_t *p = NULL;
    size_t n = 0;
    if (mc2_batch_encode(b, &p, &n, &err)) {
        fprintf(stderr, "encode: %s\n", err.msg);
        exit(1);
    }
    struct obliv_rows want = {0}, got = {0};
    CHECK(ref_decode(s, p, n, nrows, &want) == 0);
    int rc = obl_decode(s, ALL, s->ncols, p, n, nrows, &got, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(got.lay.width == want.lay.width && got.n == want.n);
        CHECK(memcmp(got.w, want.w, nrows * want.lay.width * 8) == 0);
        /* float32 of every numeric column = mc2_cell_float() of the decoded batch */
        mc2_batch *db = mc2_batch_new(s, nrows ? nrows : 1, &err);
        CHECK(db && mc2_batch_decode(db, p, n, nrows, &err) == 0);
        float *f = mc2_calloc(nrows ? nrows : 1, sizeof *f);
        for (size_t c = 0; db && c < s->ncols; c++) {
            if (s->cols[c].type.id == MC2_T_VARCHAR) continue;
            obliv_rows_col_f32(&got, c, 0, nrows, f, 1);
            for (size_t i = 0; i < nrows; i++)
                CHECK_MSG(fbits(f[i]) == fbits(mc2_cell_float(db, c, i)), "column %zu row %zu", c,
                          i);
        }
        mc2_free(f);
        /* the GBDT reader: every column to float32, one of them (or none) as the label */
        long label = (long)(rnd() % (s->ncols + 1)) - 1;
        size_t d = s->ncols - (label >= 0 ? 1 : 0);
        float *x = mc2_calloc(nrows * d + 1, sizeof *x), *y = mc2_calloc(nrows + 1, sizeof *y);
        uint64_t ok[1 + 8];
        CHECK(obliv_decode_v1_f32(s, p, n, nrows, label, x, d, label >= 0 ? y : NULL, ok, &err) ==
                  0 &&
              obliv_decode_verdict(s, NULL, s->ncols, ok, &err) == 0);
        for (size_t c = 0, fi = 0; db && c < s->ncols; c++) {
            for (size_t i = 0; i < nrows; i++) {
                float g = (long)c == label ? y[i] : x[i * d + fi];
                CHECK_MSG(fbits(g) == fbits(mc2_cell_float(db, c, i)), "f32: column %zu row %zu", c,
                          i);
            }
            if ((long)c != label) fi++;
        }
        mc2_free(x);
        mc2_free(y);
        mc2_batch_free(db);
        obliv_rows_free(&got);
    }
    /* A random selection of the columns, in any order, one of them twice. */
    unsigned sel[8];
    size_t k = 1 + rnd() % s->ncols;
    for (size_t i = 0; i < k; i++) sel[i] = (unsigned)(rnd() % s->ncols);
    if (k < 8) sel[k] = sel[0], k++;
    rc = obl_decode(s, sel, k, p, n, nrows, &got, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    for (size_t i = 0; rc == 0 && i < nrows; i++) {
        const uint64_t *g = obliv_row(&got, i), *w = obliv_row(&want, i);
        CHECK(g[OBLIV_W_VALID] == 1);
        for (size_t j = 0; j < k; j++) {
            const struct obliv_col *gc = &got.lay.col[j], *wc = &want.lay.col[sel[j]];
            CHECK(((g[OBLIV_W_NULLS] >> j) & 1) == ((w[OBLIV_W_NULLS] >> sel[j]) & 1));
            CHECK(memcmp(g + gc->word, w + wc->word, gc->nwords * 8) == 0);
        }
    }
    if (rc == 0) obliv_rows_free(&got);
    obliv_rows_free(&want);
    mc2_free(p);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

/* ---- invalid inputs ---------------------------------------------------------------------- */

/* A fixed payload to corrupt: 6 rows; row 2 NULL everywhere it can be; VARCHARs hold
 * "ab", "é", "", "日本", "x", "😀" (s: nullable VARCHAR(2); t: NOT NULL VARCHAR(3)). */
static const char FIXED[] = "columns:\n"
                            "  - {name: i, type: INT64, nullable: true}\n"
                            "  - {name: d, type: 'DECIMAL(3,1)', nullable: true}\n"
                            "  - {name: x, type: DOUBLE, nullable: true}\n"
                            "  - {name: dt, type: DATE, nullable: true}\n"
                            "  - {name: b, type: BOOL, nullable: true}\n"
                            "  - {name: s, type: 'VARCHAR(2)', nullable: true}\n"
                            "  - {name: t, type: 'VARCHAR(3)', nullable: false}\n"
                            "  - {name: k, type: INT64, nullable: false}\n";
#define FR 6

static mc2_schema *fs;
static uint8_t *fp;
static size_t fn;
/* Offsets of each column's section in the fixed payload. */
static size_t fsec[8];

static void fixed_payload(void)
{
    mc2_err err;
    fs = parse(FIXED);
    mc2_batch *b = mc2_batch_new(fs, FR, &err);
    if (!b) exit(1);
    static const char *const sv[FR] = {"ab", "\xc3\xa9",        "", "\xe6\x97\xa5\xe6\x9c\xac",
                                       "x",  "\xf0\x9f\x98\x80"};
    static const char *const tv[FR] = {"abc", "", "q", "\xe6\x97\xa5", "zz", "\xc3\xa9\xc3\xa9"};
    uint32_t so = 0, to = 0;
    for (size_t i = 0; i < FR; i++) {
        int nul = i == 2;
        for (size_t c = 0; c < 6; c++) b->cols[c].nulls[i] = (uint8_t)nul;
        b->cols[0].v.i64[i] = nul ? 0 : (int64_t)i * 1000 - 7;
        b->cols[1].v.i64[i] = nul ? 0 : (int64_t)(i % 2 ? 999 : -999);
        b->cols[2].v.f64[i] = nul ? 0.0 : 1.5 * (double)i - 2;
        b->cols[3].v.i32[i] = nul ? 0 : 18000 + (int32_t)i;
        b->cols[4].v.b[i] = nul ? 0 : (uint8_t)(i % 2);
        size_t sl = nul ? 0 : strlen(sv[i]), tl = strlen(tv[i]);
        b->nrows = i;
        if (mc2_batch_reserve_chars(b, 5, sl, &err) || mc2_batch_reserve_chars(b, 6, tl, &err))
            exit(1);
        memcpy(b->cols[5].data + so, sv[i], sl);
        memcpy(b->cols[6].data + to, tv[i], tl);
        so += (uint32_t)sl, to += (uint32_t)tl;
        b->cols[5].off[i + 1] = so;
        b->cols[6].off[i + 1] = to;
        b->cols[7].v.i64[i] = (int64_t)i;
    }
    b->nrows = FR;
    if (mc2_batch_encode(b, &fp, &fn, &err)) exit(1);
    mc2_batch_free(b);
    size_t pos = 8;
    for (size_t c = 0; c < 8; c++) {
        fsec[c] = pos;
        enum mc2_type t = fs->cols[c].type.id;
        size_t w = t == MC2_T_DATE || t == MC2_T_VARCHAR ? 4 : t == MC2_T_BOOL ? 1 : 8;
        pos += 2 + (fp[pos + 1] ? 1 : 0) + FR * w;
        if (t == MC2_T_VARCHAR) {
            uint32_t last;
            memcpy(&last, fp + pos - 4, 4);
            pos += last;
        }
    }
    if (pos != fn) {
        fprintf(stderr, "fixed payload: sections do not add up\n");
        exit(1);
    }
}

/* Where column c's values start in the fixed payload (after its bitmap). */
static size_t vals_at(size_t c)
{
    return fsec[c] + 2 + (fp[fsec[c] + 1] ? 1 : 0);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* Checks that payload q[0..n) is rejected by both decoders; if col >= 0, the oblivious
 * verdict must name that column (1-based in the message) without a row. */
static void rejected(const char *what, const uint8_t *q, size_t n, int col)
{
    mc2_err err;
    struct obliv_rows r = {0};
    int ref = ref_decode(fs, q, n, FR, &r);
    if (ref == 0) obliv_rows_free(&r);
    CHECK_MSG(ref != 0, "%s: the batch decoder accepts it (the test corrupts nothing)", what);
    int rc = obl_decode(fs, ALL, 8, q, n, FR, &r, &err);
    CHECK_MSG(rc != 0, "%s: the oblivious decoder accepts it", what);
    if (rc == 0) {
        obliv_rows_free(&r);
        return;
    }
    CHECK_MSG(err.code == MC2_E_INPUT, "%s: code %d", what, (int)err.code);
    for (int i = 1; i <= FR; i++) {
        char row[16];
        snprintf(row, sizeof row, "row %d", i);
        CHECK_MSG(strstr(err.msg, row) == NULL, "%s: message names a row: %s", what, err.msg);
    }
    if (col >= 0) {
        char want[64];
        snprintf(want, sizeof want, "column %d ('%s',", col + 1, fs->cols[col].name);
        CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message does not name %s: %s", what, want,
                  err.msg);
    }
    printf("  %-44s %s\n", what, err.msg);
}

/* A copy of the fixed payload with `len` bytes at `at` replaced by `bytes`. */
static uint8_t *patched(size_t at, const void *bytes, size_t len)
{
    uint8_t *q = mc2_malloc(fn);
    memcpy(q, fp, fn);
    memcpy(q + at, bytes, len);
    return q;
}

static void reject_patch(const char *what, size_t at, const void *bytes, size_t len, int col)
{
    uint8_t *q = patched(at, bytes, len);
    rejected(what, q, fn, col);
    mc2_free(q);
}

/* Replaces VARCHAR column c's value of row i (keeping the other rows' bytes): a new payload. */
static uint8_t *with_string(size_t c, size_t i, const char *v, size_t vl, size_t *n)
{
    size_t ends = vals_at(c), text = ends + 4 * FR;
    uint32_t e[FR];
    memcpy(e, fp + ends, sizeof e);
    uint32_t start = i ? e[i - 1] : 0, old = e[i] - start;
    uint8_t *q = mc2_malloc(fn + vl + 1);
    memcpy(q, fp, text + start);
    memcpy(q + text + start, v, vl);
    memcpy(q + text + start + vl, fp + text + start + old, fn - (text + start + old));
    for (size_t r = 0; r < FR; r++)
        put32(q + ends + 4 * r, r >= i ? e[r] - old + (uint32_t)vl : e[r]);
    *n = fn - old + vl;
    return q;
}

static void reject_string(const char *what, size_t c, size_t i, const char *v, size_t vl)
{
    size_t n;
    uint8_t *q = with_string(c, i, v, vl, &n);
    rejected(what, q, n, (int)c);
    mc2_free(q);
}

static void invalid_inputs(void)
{
    mc2_err err;
    struct obliv_rows r = {0};
    fixed_payload();
    printf("invalid payloads (each rejected by both decoders):\n");
    CHECK(ref_decode(fs, fp, fn, FR, &r) == 0);
    obliv_rows_free(&r);
    CHECK(obl_decode(fs, ALL, 8, fp, fn, FR, &r, &err) == 0);
    obliv_rows_free(&r);
    /* a control: another valid string of the same size is accepted */
    size_t n;
    uint8_t *q = with_string(5, 0, "\xc3\xa9", 2, &n);
    CHECK(obl_decode(fs, ALL, 8, q, n, FR, &r, &err) == 0);
    CHECK(r.n == FR && obliv_row(&r, 0)[r.lay.col[5].word] == 2);
    obliv_rows_free(&r);
    mc2_free(q);

    uint8_t b1;
    uint32_t u32;
    uint64_t u64;
    u32 = FR + 1;
    reject_patch("header: row count", 0, &u32, 4, -1);
    u32 = 9;
    reject_patch("header: column count", 4, &u32, 4, -1);
    b1 = MC2_T_DOUBLE;
    reject_patch("type id", fsec[0], &b1, 1, 0);
    b1 = 1;
    reject_patch("flag 1 on a NOT NULL column", fsec[7] + 1, &b1, 1, 7);
    b1 = 2;
    reject_patch("flag 2", fsec[4] + 1, &b1, 1, -1); /* shifts the sections: public */
    b1 = 0x04 | 0x40;                                /* row 2 NULL, and bit 6: past the 6 rows */
    reject_patch("bitmap bit past the rows", fsec[0] + 2, &b1, 1, 0);
    u64 = 5;
    reject_patch("NULL INT64 holds a value", vals_at(0) + 2 * 8, &u64, 8, 0);
    reject_patch("NULL DECIMAL holds a value", vals_at(1) + 2 * 8, &u64, 8, 1);
    u64 = 0x8000000000000000ull;
    reject_patch("NULL DOUBLE holds -0.0", vals_at(2) + 2 * 8, &u64, 8, 2);
    u32 = 1;
    reject_patch("NULL DATE holds a value", vals_at(3) + 2 * 4, &u32, 4, 3);
    b1 = 1;
    reject_patch("NULL BOOL holds a value", vals_at(4) + 2, &b1, 1, 4);
    b1 = 2;
    reject_patch("BOOL 2", vals_at(4) + 1, &b1, 1, 4);
    u32 = (uint32_t)(MC2_DATE_MIN - 1);
    reject_patch("DATE before 0001-01-01", vals_at(3), &u32, 4, 3);
    u32 = (uint32_t)(MC2_DATE_MAX + 1);
    reject_patch("DATE after 9999-12-31", vals_at(3) + 4, &u32, 4, 3);
    u64 = 1000;
    reject_patch("DECIMAL(3,1) 100.0", vals_at(1), &u64, 8, 1);
    u64 = (uint64_t)-1000;
    reject_patch("DECIMAL(3,1) -100.0", vals_at(1) + 8, &u64, 8, 1);
    u64 = (uint64_t)INT64_MIN;
    reject_patch("DECIMAL INT64_MIN", vals_at(1) + 8, &u64, 8, 1);
    u64 = 0x7FF8000000000000ull;
    reject_patch("DOUBLE NaN", vals_at(2), &u64, 8, 2);
    u64 = 0x7FF0000000000000ull;
    reject_patch("DOUBLE +inf", vals_at(2) + 8, &u64, 8, 2);
    u64 = 0xFFF0000000000000ull;
    reject_patch("DOUBLE -inf", vals_at(2) + 3 * 8, &u64, 8, 2);
    /* VARCHAR: offsets */
    uint32_t e[FR];
    memcpy(e, fp + vals_at(6), sizeof e);
    u32 = e[0] - 1; /* row 1's end before row 0's: backwards */
    reject_patch("VARCHAR offsets go backwards", vals_at(6) + 4, &u32, 4, 6);
    memcpy(e, fp + vals_at(5), sizeof e);
    u32 = e[1] + 1; /* NULL row 2 gets a byte (taken from row 3) */
    reject_patch("NULL VARCHAR row holds text", vals_at(5) + 2 * 4, &u32, 4, 5);
    u32 = e[0] + 1; /* row 0 ends inside row 1's 2-byte character */
    reject_patch("VARCHAR value ends inside a character", vals_at(5), &u32, 4, 5);
    /* VARCHAR: UTF-8 deep in a value (row 3 of t, 3 bytes) */
    static const struct {
        const char *what, *v;
    } bad8[] = {
        {"UTF-8: lone continuation byte", "a\x80z"},
        {"UTF-8: overlong 2-byte (C0 80)", "a\xc0\x80"},
        {"UTF-8: overlong 2-byte (C1 BF)", "a\xc1\xbf"},
        {"UTF-8: overlong 3-byte (E0 80 80)", "\xe0\x80\x80"},
        {"UTF-8: surrogate (ED A0 80)", "\xed\xa0\x80"},
        {"UTF-8: invalid lead F5", "\xf5\x80\x80"},
        {"UTF-8: invalid byte FF", "ab\xff"},
        {"UTF-8: truncated 3-byte at the end", "a\xe6\x97"},
        {"UTF-8: 2-byte lead then ASCII", "\xc3z!"},
    };
    for (size_t i = 0; i < sizeof bad8 / sizeof bad8[0]; i++)
        reject_string(bad8[i].what, 6, 3, bad8[i].v, 3);
    reject_string("UTF-8: above U+10FFFF (F4 90 80 80)", 6, 3, "\xf4\x90\x80\x80", 4);
    reject_string("UTF-8: overlong 4-byte (F0 80 80 80)", 6, 3, "\xf0\x80\x80\x80", 4);
    reject_string("VARCHAR(3) with 4 code points", 6, 3, "abcd", 4);
    reject_string("VARCHAR(2) with 3 two-byte code points", 5, 1, "\xc3\xa9\xc3\xa9\xc3\xa9", 6);
    reject_string("VARCHAR(2) with 13 bytes", 5, 1, "abcdefghijklm", 13);
    /* public: truncated, trailing bytes */
    rejected("truncated by one byte", fp, fn - 1, -1);
    q = mc2_malloc(fn + 1);
    memcpy(q, fp, fn);
    q[fn] = 0;
    rejected("a byte after the last column", q, fn + 1, -1);
    mc2_free(q);
}

/* Random single-byte mutations of random payloads: the oblivious decoder (all columns)
 * accepts exactly when the batch decoder does, with the same rows. */
static void mutations(unsigned rounds)
{
    mc2_err err;
    unsigned acc = 0, rej = 0;
    for (unsigned k = 0; k < rounds; k++) {
        mc2_schema *s = rand_schema();
        size_t nrows = 1 + rnd() % 12;
        mc2_batch *b = mc2_batch_new(s, nrows, &err);
        if (!b) exit(1);
        rand_rows(b, nrows);
        uint8_t *p = NULL;
        size_t n = 0;
        if (mc2_batch_encode(b, &p, &n, &err)) exit(1);
        for (int m = 0; m < 8; m++) {
            size_t at = (size_t)(rnd() % n);
            uint8_t old = p[at];
            p[at] = (uint8_t)(rnd() % 3 == 0 ? old ^ (1u << (rnd() % 8)) : rnd());
            struct obliv_rows want = {0}, got = {0};
            int ref = ref_decode(s, p, n, nrows, &want);
            int rc = obl_decode(s, ALL, s->ncols, p, n, nrows, &got, &err);
            CHECK_MSG((ref == 0) == (rc == 0),
                      "mutation at %zu of %zu: batch %d, oblivious %d (%s)", at, n, ref, rc,
                      rc ? err.msg : "");
            if (ref == 0 && rc == 0) {
                CHECK(memcmp(got.w, want.w, nrows * want.lay.width * 8) == 0);
                acc++;
            } else {
                rej++;
            }
            if (ref == 0) obliv_rows_free(&want);
            if (rc == 0) obliv_rows_free(&got);
            p[at] = old;
        }
        mc2_free(p);
        mc2_batch_free(b);
        mc2_schema_free(s);
    }
    printf("mutations: %u accepted, %u rejected, both decoders agreeing\n", acc, rej);
}

/* The column decoder with a bitmap that is public and always present (the column-chunk
 * format to come): a NOT NULL column may carry an all-zero bitmap, never a set bit. */
static void public_bitmap(void)
{
    mc2_err err;
    mc2_schema *s = parse("columns:\n  - {name: a, type: INT64, nullable: false}\n"
                          "  - {name: v, type: 'VARCHAR(2)', nullable: true}\n");
    struct obliv_layout lay;
    struct obliv_rows r = {0};
    mc2_coltype t[2] = {s->cols[0].type, s->cols[1].type};
    CHECK(obliv_layout_init(&lay, t, 2, &err) == 0 && obliv_rows_alloc(&r, &lay, 3, &err) == 0);
    uint8_t a[2 + 1 + 24] = {MC2_T_INT64, 1, 0};
    for (int i = 0; i < 3; i++) a[3 + 8 * i] = (uint8_t)(i + 1);
    uint64_t ok = ~(uint64_t)0;
    CHECK(obliv_decode_col(&r, 0, 0, 3, &s->cols[0], 1, a, sizeof a, &ok, &err) == 0 &&
          ok == ~0ull);
    a[2] = 2; /* row 1 NULL in a NOT NULL column */
    ok = ~(uint64_t)0;
    CHECK(obliv_decode_col(&r, 0, 0, 3, &s->cols[0], 1, a, sizeof a, &ok, &err) == 0 && ok == 0);
    /* nullable VARCHAR, bitmap present with no bit set: "é", "", "x" */
    uint8_t v[2 + 1 + 12 + 3] = {MC2_T_VARCHAR, 1,    0,  2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
                                 0xc3,          0xa9, 'x'};
    ok = ~(uint64_t)0;
    CHECK(obliv_decode_col(&r, 1, 0, 3, &s->cols[1], 1, v, sizeof v, &ok, &err) == 0 &&
          ok == ~0ull);
    CHECK(obliv_row(&r, 0)[lay.col[1].word] == 2 && obliv_row(&r, 2)[lay.col[1].word] == 1);
    v[1] = 0; /* the flag byte disagrees with the public presence */
    ok = ~(uint64_t)0;
    CHECK(obliv_decode_col(&r, 1, 0, 3, &s->cols[1], 1, v, sizeof v, &ok, &err) == 0 && ok == 0);
    /* a fixed-width encoding of the wrong length is a public error */
    ok = ~(uint64_t)0;
    CHECK(obliv_decode_col(&r, 0, 0, 3, &s->cols[0], 1, a, sizeof a - 1, &ok, &err) != 0);
    obliv_rows_free(&r);
    mc2_schema_free(s);
}

/* ---- oblivious SQL over sealed tables ---------------------------------------------------- */

static const uint8_t KEY[MC2_KEY_LEN] = {7};

/* Seals the payloads pl[0..nb) (every block rpb rows but the last) as a table in out. */
static void seal_table(const mc2_schema *s, uint8_t *const *pl, const size_t *pn, size_t nb,
                       uint32_t rpb, uint64_t rows, mc2_buf *out)
{
    mc2_err err;
    mc2_thdr h = {0};
    uint8_t key[MC2_KEY_LEN], *hdr = NULL, *frames = NULL;
    size_t hl = 0, fl = 0;
    mc2_aead *aead = NULL;
    if (mc2_thdr_init(&h, s, rows, rpb, &err) || mc2_table_key(KEY, h.table_id, key, &err) ||
        !(aead = mc2_aead_new(key, &err)) || mc2_thdr_seal(&h, aead, &hdr, &hl, &err))
        goto fail;
    for (size_t i = 0; i < nb; i++)
        if (mc2_tblock_seal(aead, &h, i, pl[i], pn[i], &frames, &fl, &err)) goto fail;
    if (mc2_buf_append(out, hdr, hl, &err) || mc2_buf_append(out, frames, fl, &err)) goto fail;
    mc2_free(hdr);
    mc2_free(frames);
    mc2_aead_free(aead);
    mc2_thdr_clear(&h);
    return;
fail:
    fprintf(stderr, "seal_table: %s\n", err.msg);
    exit(1);
}

/* Runs query q over the sealed table (name t) obliviously (fresh reader) or in encryption
 * mode; the result encoded in *enc (NULL on error, message in err). */
static int sql_on(const mc2_schema *s, const mc2_buf *file, uint64_t rows, const char *q, int obl,
                  uint8_t **enc, size_t *enc_len, mc2_err *err)
{
    mc2_sql_table tab = {"t", s, rows};
    mc2_plan *p = mc2_plan_new(0, err);
    mc2_sql_physical ph;
    mc2_exec_input in = {0};
    mc2_exec *x = NULL;
    mc2_batch *res = NULL;
    mc2_oexec_opts oo = {.leak = OBLIV_REVEAL, .threads = 1};
    *enc = NULL;
    int rc = !p || mc2_sql_compile(q, strlen(q), &tab, 1, p, &ph, err) ||
                     mc2_treader_open_mem(file->data, file->len, KEY, &in.reader, err)
                 ? -1
                 : 0;
    if (rc == 0 && obl) rc = mc2_oexec_run(p, ph.root, &in, 1, &oo, 1000, &res, err);
    if (rc == 0 && !obl)
        rc =
            mc2_exec_open(p, ph.root, &in, 1, NULL, &x, err) || mc2_exec_collect(x, 1000, &res, err)
                ? -1
                : 0;
    if (rc == 0) rc = mc2_batch_encode(res, enc, enc_len, err);
    mc2_batch_free(res);
    mc2_exec_free(x);
    mc2_treader_free(in.reader);
    mc2_plan_free(p);
    return rc;
}

static void sql_sealed(void)
{
    mc2_err err;
    mc2_schema *s = parse("columns:\n  - {name: k, type: INT64, nullable: false}\n"
                          "  - {name: v, type: 'VARCHAR(4)', nullable: true}\n");
    static const char *const vals[7] = {"ab", "\xc3\xa9t\xc3\xa9", NULL, "", "zz", "ab", "q!"};
    uint8_t *pl[2];
    size_t pn[2];
    for (size_t blk = 0; blk < 2; blk++) {
        size_t r0 = blk * 4, nr = blk ? 3 : 4;
        mc2_batch *b = mc2_batch_new(s, nr, &err);
        if (!b) exit(1);
        for (size_t i = 0; i < nr; i++) {
            const char *v = vals[r0 + i];
            size_t l = v ? strlen(v) : 0;
            b->nrows = i;
            if (mc2_batch_reserve_chars(b, 1, l, &err)) exit(1);
            memcpy(b->cols[1].data + b->cols[1].off[i], v ? v : "", l);
            b->cols[1].off[i + 1] = b->cols[1].off[i] + (uint32_t)l;
            b->cols[1].nulls[i] = v == NULL;
            b->cols[0].v.i64[i] = (int64_t)(r0 + i) % 5;
        }
        b->nrows = nr;
        pl[blk] = NULL;
        if (mc2_batch_encode(b, &pl[blk], &pn[blk], &err)) exit(1);
        mc2_batch_free(b);
    }
    mc2_buf good = {0}, bad = {0};
    seal_table(s, pl, pn, 2, 4, 7, &good);
    pl[1][pn[1] - 1] = 0xFF; /* the last byte of block 2: "q!" becomes "q\xff" */
    seal_table(s, pl, pn, 2, 4, 7, &bad);
    static const char *const qs[] = {
        "SELECT k, v FROM t ORDER BY k, v",
        "SELECT count(*), sum(k), max(k) FROM t WHERE v LIKE '%b%' OR v IS NULL",
        "SELECT a.k, b.v FROM t a JOIN t b ON a.k = b.k ORDER BY a.k, b.v", /* two scans */
        "SELECT count(*) FROM t",
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint8_t *e1, *e2;
        size_t l1 = 0, l2 = 0;
        int r1 = sql_on(s, &good, 7, qs[i], 0, &e1, &l1, &err);
        CHECK_MSG(r1 == 0, "%s: %s", qs[i], err.msg);
        int r2 = sql_on(s, &good, 7, qs[i], 1, &e2, &l2, &err);
        CHECK_MSG(r2 == 0, "oblivious %s: %s", qs[i], err.msg);
        CHECK_MSG(r1 == 0 && r2 == 0 && l1 == l2 && memcmp(e1, e2, l1) == 0,
                  "%s: oblivious result differs", qs[i]);
        mc2_free(e1);
        mc2_free(e2);
    }
    /* The invalid block: encryption mode fails; oblivious mode fails when it reads v (once,
     * or held for two scans), naming block and column; a query not reading v decodes k only. */
    uint8_t *e;
    size_t l;
    CHECK(sql_on(s, &bad, 7, qs[0], 0, &e, &l, &err) != 0);
    for (size_t i = 0; i < 3; i += 2) {
        int rc = sql_on(s, &bad, 7, qs[i], 1, &e, &l, &err);
        CHECK_MSG(rc != 0 &&
                      strstr(err.msg, "block 2 of 2: block payload, column 2 ('v', VARCHAR(4))"),
                  "%s: %s", qs[i], rc ? err.msg : "accepted");
        if (rc == 0)
            mc2_free(e);
        else
            printf("invalid block, oblivious: %s\n", err.msg);
    }
    CHECK(sql_on(s, &bad, 7, "SELECT sum(k) FROM t", 1, &e, &l, &err) == 0);
    mc2_free(e);
    CHECK(sql_on(s, &bad, 7, "SELECT count(*) FROM t", 1, &e, &l, &err) == 0);
    mc2_free(e);
    mc2_buf_free(&good);
    mc2_buf_free(&bad);
    mc2_free(pl[0]);
    mc2_free(pl[1]);
    mc2_schema_free(s);
}

int main(void)
{
    for (int i = 0; i < 400; i++) one_random();
    invalid_inputs();
    mutations(250);
    public_bitmap();
    sql_sealed();
    mc2_free(fp);
    mc2_schema_free(fs);
    return test_done("test_obliv_decode");
}
