/* test_batch.c - column batches and the block payload: random round trips of every type,
 * hostile payloads (truncated, mutated, hand-made invalid), allocation failures. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"
#include "table/value.h"
#include "test.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static mc2_schema *load(const char *rel)
{
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_load(test_data(rel), &s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return s;
}

static mc2_schema *parse(const char *text)
{
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_parse("test", text, strlen(text), &s, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return s;
}

/* Appends string bytes as the value of VARCHAR column c in row b->nrows. */
static int put_str(mc2_batch *b, size_t c, const char *p, size_t n)
{
    mc2_err err;
    mc2_col *col = &b->cols[c];
    if (mc2_batch_reserve_chars(b, c, n, &err)) return -1;
    memcpy(col->data + col->off[b->nrows], p, n);
    col->off[b->nrows + 1] = col->off[b->nrows] + (uint32_t)n;
    return 0;
}

/* A random UTF-8 string of up to maxc code points (exactly maxc when `full`). */
static size_t rand_utf8(char *out, uint32_t maxc, int full)
{
    static const char *const pieces[] = {"a",
                                         "Z",
                                         "0",
                                         " ",
                                         ",",
                                         "\"",
                                         "\n",
                                         "\xC3\xA9",
                                         "\xE2\x82\xAC",
                                         "\xF0\x9F\x98\x80",
                                         "\xF4\x8F\xBF\xBF"};
    uint32_t nc = full ? maxc : (uint32_t)(rnd() % (maxc + 1));
    size_t k = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
        size_t l = strlen(p);
        memcpy(out + k, p, l);
        k += l;
    }
    return k;
}

/* Appends `rows` random rows to b (which must have room). */
static void fill_random(mc2_batch *b, size_t rows)
{
    const mc2_schema *s = b->schema;
    char str[4 * MC2_VARCHAR_MAX];
    for (size_t r = 0; r < rows; r++) {
        size_t i = b->nrows;
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_column_def *d = &s->cols[c];
            mc2_col *col = &b->cols[c];
            int null = d->nullable && rnd() % 5 == 0;
            if (col->nulls) col->nulls[i] = (uint8_t)null;
            uint64_t x = rnd();
            switch (d->type.id) {
            case MC2_T_INT64:
                col->v.i64[i] = null         ? 0
                                : x % 7 == 0 ? INT64_MIN
                                : x % 7 == 1 ? INT64_MAX
                                             : (int64_t)x;
                break;
            case MC2_T_DECIMAL: {
                int64_t lim = mc2_pow10(d->type.precision) - 1;
                int64_t v = x % 5 == 0 ? lim : (int64_t)(x % (uint64_t)(lim + 1));
                col->v.i64[i] = null ? 0 : (x & 1) ? -v : v;
                break;
            }
            case MC2_T_DEC128: { /* up to the precision's limit, both signs */
                mc2_i128 lim = mc2_pow10_128(d->type.precision) - 1;
                mc2_i128 v = (mc2_i128)((((u128)rnd() << 64) | rnd()) % (u128)(lim + 1));
                if (x % 5 == 0) v = lim;
                col->v.i128[i] = null ? 0 : (x & 1) ? -v : v;
                break;
            }
            case MC2_T_DOUBLE: {
                double v;
                do {
                    uint64_t bits = rnd();
                    memcpy(&v, &bits, 8);
                } while (!isfinite(v));
                col->v.f64[i] = null ? 0.0 : v;
                break;
            }
            case MC2_T_DATE:
                col->v.i32[i] = null ? 0
                                     : (int32_t)(MC2_DATE_MIN +
                                                 (int64_t)(x % (MC2_DATE_MAX - MC2_DATE_MIN + 1)));
                break;
            case MC2_T_BOOL:
                col->v.b[i] = null ? 0 : (uint8_t)(x & 1);
                break;
            case MC2_T_VARCHAR: {
                size_t n = null ? 0 : rand_utf8(str, d->type.length, x % 4 == 0);
                if (put_str(b, c, str, n)) exit(1);
                break;
            }
            }
        }
        b->nrows++;
    }
}

/* Compares the rows of two batches of the same schema value by value (doubles bitwise). */
static int batch_eq(const mc2_batch *a, const mc2_batch *b)
{
    if (a->nrows != b->nrows) return 0;
    const mc2_schema *s = a->schema;
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_col *x = &a->cols[c], *y = &b->cols[c];
        for (size_t i = 0; i < a->nrows; i++) {
            if (x->nulls && x->nulls[i] != y->nulls[i]) return 0;
            switch (s->cols[c].type.id) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                if (x->v.i64[i] != y->v.i64[i]) return 0;
                break;
            case MC2_T_DEC128:
                if (x->v.i128[i] != y->v.i128[i]) return 0;
                break;
            case MC2_T_DOUBLE:
                if (memcmp(&x->v.f64[i], &y->v.f64[i], 8)) return 0;
                break;
            case MC2_T_DATE:
                if (x->v.i32[i] != y->v.i32[i]) return 0;
                break;
            case MC2_T_BOOL:
                if (x->v.b[i] != y->v.b[i]) return 0;
                break;
            case MC2_T_VARCHAR: {
                uint32_t lx = x->off[i + 1] - x->off[i], ly = y->off[i + 1] - y->off[i];
                if (lx != ly || memcmp(x->data + x->off[i], y->data + y->off[i], lx)) return 0;
                break;
            }
            }
        }
    }
    return 1;
}

static int encode(const mc2_batch *b, uint8_t **out, size_t *n)
{
    mc2_err err;
    *out = NULL;
    *n = 0;
    int rc = mc2_batch_encode(b, out, n, &err);
    if (rc) fprintf(stderr, "encode: %s\n", err.msg);
    return rc;
}

static void test_round_trip(void)
{
    mc2_schema *s = load("schemas/alltypes.yaml");
    mc2_err err;
    static const size_t sizes[] = {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4097};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t rows = sizes[k];
        mc2_batch *b = mc2_batch_new(s, rows, &err);
        CHECK(b != NULL);
        if (!b) continue;
        fill_random(b, rows);
        uint8_t *enc;
        size_t n;
        CHECK(encode(b, &enc, &n) == 0);
        /* Decode into a batch that is too small (it grows), then into a big one. */
        mc2_batch *d = mc2_batch_new(s, rows / 3, &err);
        CHECK_MSG(d && mc2_batch_decode(d, enc, n, rows, &err) == 0, "%zu rows: %s", rows, err.msg);
        CHECK(d && d->cap >= rows && batch_eq(b, d));
        mc2_batch *e = mc2_batch_new(s, rows + 100, &err);
        CHECK(e && mc2_batch_decode(e, enc, n, rows, &err) == 0 && batch_eq(b, e));
        CHECK(e && e->cap == rows + 100);
        /* Re-encoding gives the same bytes. */
        uint8_t *enc2;
        size_t n2;
        CHECK(d && encode(d, &enc2, &n2) == 0 && n2 == n && memcmp(enc, enc2, n) == 0);
        if (d) mc2_free(enc2);
        /* Decoding a second block into the same batch replaces its rows. */
        mc2_batch_clear(b);
        CHECK(b->nrows == 0);
        fill_random(b, rows / 2);
        uint8_t *enc3;
        size_t n3;
        CHECK(encode(b, &enc3, &n3) == 0);
        CHECK(e && mc2_batch_decode(e, enc3, n3, rows / 2, &err) == 0 && batch_eq(b, e));
        mc2_free(enc3);
        mc2_free(enc);
        mc2_batch_free(b);
        mc2_batch_free(d);
        mc2_batch_free(e);
    }

    /* Max-length strings of 4-byte characters in a VARCHAR(65535) column. */
    mc2_schema *w = parse("columns: [{name: s, type: VARCHAR(65535)}, {name: t, type: "
                          "VARCHAR(1), nullable: false}]");
    mc2_batch *b = mc2_batch_new(w, 3, &err);
    static char big[4 * MC2_VARCHAR_MAX + 1]; /* 65535 emoji, then an 'x' */
    const size_t maxlen = 4 * MC2_VARCHAR_MAX;
    for (size_t i = 0; i < MC2_VARCHAR_MAX; i++) memcpy(big + 4 * i, "\xF0\x9F\x98\x80", 4);
    big[maxlen] = 'x';
    for (int r = 0; r < 3; r++) {
        b->cols[0].nulls[r] = r == 1;
        CHECK(put_str(b, 0, big, r == 1 ? 0 : maxlen) == 0);
        CHECK(put_str(b, 1, r == 2 ? "" : "\xE2\x82\xAC", r == 2 ? 0 : 3) == 0);
        b->nrows++;
    }
    uint8_t *enc;
    size_t n;
    CHECK(encode(b, &enc, &n) == 0);
    mc2_batch *d = mc2_batch_new(w, 1, &err);
    CHECK_MSG(mc2_batch_decode(d, enc, n, 3, &err) == 0, "%s", err.msg);
    CHECK(batch_eq(b, d));
    /* One more character is one too many. */
    mc2_free(enc);
    mc2_batch_clear(b);
    b->cols[0].nulls[0] = 0;
    CHECK(put_str(b, 0, big, maxlen + 1) == 0);
    CHECK(put_str(b, 1, "y", 1) == 0);
    b->nrows = 1;
    CHECK(encode(b, &enc, &n) == 0);
    CHECK(mc2_batch_decode(d, enc, n, 1, &err) == -1 && strstr(err.msg, "65536 characters") &&
          d->nrows == 0);
    mc2_free(enc);
    mc2_batch_free(b);
    mc2_batch_free(d);
    mc2_schema_free(w);

    /* The encoder writes 0 for a NULL row whatever the batch holds there. */
    mc2_schema *t = parse("columns: [{name: a, type: INT64}, {name: b, type: DOUBLE}]");
    b = mc2_batch_new(t, 2, &err);
    b->cols[0].nulls[0] = 1;
    b->cols[0].v.i64[0] = 77;
    b->cols[0].v.i64[1] = 78;
    b->cols[1].nulls[1] = 1;
    b->cols[1].v.f64[0] = 1.5;
    b->cols[1].v.f64[1] = NAN;
    b->nrows = 2;
    CHECK(encode(b, &enc, &n) == 0);
    d = mc2_batch_new(t, 2, &err);
    CHECK(mc2_batch_decode(d, enc, n, 2, &err) == 0);
    CHECK(d->cols[0].nulls[0] == 1 && d->cols[0].v.i64[0] == 0 && d->cols[0].v.i64[1] == 78);
    CHECK(d->cols[1].nulls[1] == 1 && d->cols[1].v.f64[1] == 0.0 && d->cols[1].v.f64[0] == 1.5);
    /* *out is appended to. */
    uint8_t *pre = mc2_malloc(3);
    memcpy(pre, "XYZ", 3);
    size_t plen = 3;
    CHECK(mc2_batch_encode(b, &pre, &plen, &err) == 0 && plen == n + 3 &&
          memcmp(pre, "XYZ", 3) == 0 && memcmp(pre + 3, enc, n) == 0);
    mc2_free(pre);
    mc2_free(enc);
    mc2_batch_free(b);
    mc2_batch_free(d);
    mc2_schema_free(t);
    mc2_schema_free(s);
}

/* Builds payload bytes by hand: a little writer. */
typedef struct {
    uint8_t p[256];
    size_t n;
} wbuf;
static void w8(wbuf *w, uint8_t v)
{
    w->p[w->n++] = v;
}
static void w32(wbuf *w, uint32_t v)
{
    for (int i = 0; i < 4; i++) w8(w, (uint8_t)(v >> (8 * i)));
}
static void w64(wbuf *w, uint64_t v)
{
    for (int i = 0; i < 8; i++) w8(w, (uint8_t)(v >> (8 * i)));
}

/* Decodes w against s expecting `rows` rows; returns 0 on success and leaves the message. */
static int dec(const mc2_schema *s, const wbuf *w, size_t rows, mc2_err *err)
{
    mc2_batch *b = mc2_batch_new(s, 1, err);
    if (!b) return -2;
    int rc = mc2_batch_decode(b, w->p, w->n, rows, err);
    if (rc == 0 && b->nrows != rows) rc = -3;
    if (rc != 0 && b->nrows != 0) rc = -4;
    mc2_batch_free(b);
    return rc;
}

static void test_hostile(void)
{
    mc2_err err;
    mc2_schema *s = load("schemas/alltypes.yaml");
    mc2_batch *b = mc2_batch_new(s, 20, &err), *d = mc2_batch_new(s, 20, &err);
    fill_random(b, 20);
    /* Make sure some nullable column has a NULL (so a bitmap is present). */
    b->cols[1].nulls[3] = 1;
    b->cols[1].v.i64[3] = 0;
    uint8_t *enc;
    size_t n;
    CHECK(encode(b, &enc, &n) == 0);
    CHECK(mc2_batch_decode(d, enc, n, 20, &err) == 0);

    /* Every truncation, and one trailing byte. */
    int ok = 1;
    for (size_t k = 0; k < n; k++)
        if (mc2_batch_decode(d, enc, k, 20, &err) == 0 || d->nrows != 0 || err.code != MC2_E_INPUT)
            ok = 0;
    CHECK(ok);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, enc, n);
    longer[n] = 0;
    CHECK(mc2_batch_decode(d, longer, n + 1, 20, &err) == -1 && strstr(err.msg, "unexpected"));
    free(longer);
    CHECK(mc2_batch_decode(d, enc, n, 19, &err) == -1 && strstr(err.msg, "frame says 19"));
    CHECK(mc2_batch_decode(d, enc, n, 21, &err) == -1);

    /* The first column (i64, NOT NULL) starts at byte 8: type, null map. */
    uint8_t *m = malloc(n);
    memcpy(m, enc, n);
    m[9] = 1;
    CHECK(mc2_batch_decode(d, m, n, 20, &err) == -1 && strstr(err.msg, "NOT NULL"));
    m[9] = 2;
    CHECK(mc2_batch_decode(d, m, n, 20, &err) == -1 && strstr(err.msg, "null-map flag 2"));
    memcpy(m, enc, n);
    m[8] = 2;
    CHECK(mc2_batch_decode(d, m, n, 20, &err) == -1 && strstr(err.msg, "type id 2"));
    memcpy(m, enc, n);
    m[4] = 11;
    CHECK(mc2_batch_decode(d, m, n, 20, &err) == -1 && strstr(err.msg, "11 columns"));

    /* Random single-byte mutations never crash; what decodes is valid (re-encodes). */
    size_t accepted = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, enc, n);
        m[rnd() % n] ^= (uint8_t)(1 + rnd() % 255);
        if (mc2_batch_decode(d, m, n, 20, &err) == 0) {
            accepted++;
            uint8_t *re;
            size_t rn;
            CHECK(encode(d, &re, &rn) == 0);
            mc2_batch *d2 = mc2_batch_new(s, 20, &err);
            CHECK(mc2_batch_decode(d2, re, rn, 20, &err) == 0 && batch_eq(d, d2));
            mc2_batch_free(d2);
            mc2_free(re);
        }
    }
    CHECK(accepted > 0);
    free(m);
    mc2_free(enc);
    mc2_batch_free(b);
    mc2_batch_free(d);
    mc2_schema_free(s);

    /* Hand-made payloads, one rule each. */
    mc2_schema *t = parse("columns: [{name: a, type: INT64}]");
    wbuf w = {{0}, 0};
    w32(&w, 2), w32(&w, 1), w8(&w, 1), w8(&w, 1), w8(&w, 0x01), w64(&w, 0), w64(&w, 5);
    CHECK(dec(t, &w, 2, &err) == 0);
    w.p[10] = 0x03; /* both rows NULL, but row 1 holds 5 */
    CHECK(dec(t, &w, 2, &err) == -1 && strstr(err.msg, "NULL row holds a non-zero value"));
    w.p[10] = 0x05; /* a bit past the last row */
    CHECK(dec(t, &w, 2, &err) == -1 && strstr(err.msg, "bits set past the last row"));
    w.n = 0;
    w32(&w, 0xFFFFFFFFu), w32(&w, 1), w8(&w, 1), w8(&w, 0), w64(&w, 0);
    CHECK(dec(t, &w, 0xFFFFFFFFu, &err) == -1 && strstr(err.msg, "truncated"));
    w.n = 0;
    w32(&w, 0), w32(&w, 1), w8(&w, 1), w8(&w, 0);
    CHECK(dec(t, &w, 0, &err) == 0);
    mc2_schema_free(t);

    t = parse("columns: [{name: a, type: BOOL, nullable: false}, {name: b, type: 'DATE'},"
              " {name: c, type: 'DECIMAL(3,1)'}, {name: d, type: DOUBLE}]");
    uint64_t inf = 0x7FF0000000000000ull, nan = 0x7FF8000000000001ull;
    struct {
        uint8_t bval;
        uint32_t date;
        uint64_t dec, dbl;
        const char *phrase;
    } cases[] = {
        {1, 0, 999, 0, NULL},
        {2, 0, 0, 0, "boolean byte 2"},
        {0, (uint32_t)MC2_DATE_MAX, (uint64_t)-999, 0x8000000000000000ull, NULL},
        {0, (uint32_t)MC2_DATE_MAX + 1, 0, 0, "date outside"},
        {0, (uint32_t)MC2_DATE_MIN, 0, 0, NULL},
        {0, (uint32_t)MC2_DATE_MIN - 1, 0, 0, "date outside"},
        {0, 0, 1000, 0, "more than 3 digits"},
        {0, 0, (uint64_t)-1000, 0, "more than 3 digits"},
        {0, 0, 0x8000000000000000ull, 0, "more than 3 digits"},
        {0, 0, 0, inf, "NaN or infinity"},
        {0, 0, 0, inf | 0x8000000000000000ull, "NaN or infinity"},
        {0, 0, 0, nan, "NaN or infinity"},
        {0, 0, 0, 0x7FEFFFFFFFFFFFFFull, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w.n = 0;
        w32(&w, 1), w32(&w, 4);
        w8(&w, MC2_T_BOOL), w8(&w, 0), w8(&w, cases[i].bval);
        w8(&w, MC2_T_DATE), w8(&w, 0), w32(&w, cases[i].date);
        w8(&w, MC2_T_DECIMAL), w8(&w, 0), w64(&w, cases[i].dec);
        w8(&w, MC2_T_DOUBLE), w8(&w, 0), w64(&w, cases[i].dbl);
        int rc = dec(t, &w, 1, &err);
        if (cases[i].phrase)
            CHECK_MSG(rc == -1 && strstr(err.msg, cases[i].phrase), "case %zu: %s", i, err.msg);
        else
            CHECK_MSG(rc == 0, "case %zu: %s", i, err.msg);
        /* With the DATE row NULL, a nonzero date is refused even when in range. */
        if (!cases[i].phrase && cases[i].date) {
            wbuf v = {{0}, 0};
            w32(&v, 1), w32(&v, 4);
            w8(&v, MC2_T_BOOL), w8(&v, 0), w8(&v, cases[i].bval);
            w8(&v, MC2_T_DATE), w8(&v, 1), w8(&v, 1), w32(&v, cases[i].date);
            memcpy(v.p + v.n, w.p + 8 + 3 + 6, w.n - 8 - 3 - 6);
            v.n += w.n - 8 - 3 - 6;
            CHECK(dec(t, &v, 1, &err) == -1 && strstr(err.msg, "non-zero"));
        }
    }
    mc2_schema_free(t);

    /* VARCHAR(3): offsets, lengths, UTF-8, NULL rows. */
    t = parse("columns: [{name: s, type: VARCHAR(3)}]");
    struct {
        uint32_t e0, e1;
        const char *text;
        uint8_t nullbits;
        const char *phrase;
    } vc[] = {
        {2, 10, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 0,
         "row 2: 4 characters, more than VARCHAR(3)"},
        {2, 6, "\xC3\xA9\xC3\xA9\xC3\xA9", 0, NULL},
        {0, 3, "abc", 0, NULL},
        {0, 4, "abcd", 0, "4 characters"},
        {3, 0, "abc", 0, "goes backwards"},
        {1, 2, "\xC3\xA9", 0, "starts inside a UTF-8 character"},
        {0, 2, "\xC0\xAF", 0, "overlong"},
        {0, 3, "\xED\xA0\x80", 0, "surrogate"},
        {1, 1, "\xFF", 0, "invalid UTF-8"},
        {0, 0, "", 3, NULL},
        {1, 1, "a", 1, "NULL but holds text"},
        {0, 1, "a", 1, NULL},
        {0, 9, "abc", 0, "runs past the end"},
    };
    for (size_t i = 0; i < sizeof vc / sizeof vc[0]; i++) {
        w.n = 0;
        w32(&w, 2), w32(&w, 1), w8(&w, MC2_T_VARCHAR), w8(&w, vc[i].nullbits ? 1 : 0);
        if (vc[i].nullbits) w8(&w, vc[i].nullbits);
        w32(&w, vc[i].e0), w32(&w, vc[i].e1);
        size_t tl = strlen(vc[i].text);
        memcpy(w.p + w.n, vc[i].text, tl);
        w.n += tl;
        int rc = dec(t, &w, 2, &err);
        if (vc[i].phrase)
            CHECK_MSG(rc == -1 && strstr(err.msg, vc[i].phrase), "vc case %zu: %s", i, err.msg);
        else
            CHECK_MSG(rc == 0, "vc case %zu: %s", i, err.msg);
    }
    mc2_schema_free(t);
}

/* Allocation failure at every step of new, reserve, encode and a growing decode. */
static void test_alloc_failures(void)
{
    mc2_err err;
    mc2_schema *s = load("schemas/alltypes.yaml");
    mc2_batch *src = mc2_batch_new(s, 300, &err);
    fill_random(src, 300);
    uint8_t *enc;
    size_t n;
    CHECK(encode(src, &enc, &n) == 0);
    int step, ok = 1;
    for (step = 1; step < 1000; step++) {
        mc2_alloc_fail_after((unsigned long)step);
        mc2_batch *b = mc2_batch_new(s, 300, &err);
        mc2_alloc_fail_after(0);
        if (b) {
            mc2_batch_free(b);
            break;
        }
        if (err.code != MC2_E_NOMEM) ok = 0;
    }
    CHECK(ok && step > 1 && step < 1000);
    for (step = 1; step < 1000; step++) {
        uint8_t *out = NULL;
        size_t on = 0;
        mc2_alloc_fail_after((unsigned long)step);
        int rc = mc2_batch_encode(src, &out, &on, &err);
        mc2_alloc_fail_after(0);
        mc2_free(out);
        if (rc == 0) break;
        if (err.code != MC2_E_NOMEM || out != NULL) ok = 0;
    }
    CHECK(ok && step > 1);
    for (step = 1; step < 1000; step++) {
        mc2_batch *b = mc2_batch_new(s, 10, &err);
        mc2_alloc_fail_after((unsigned long)step);
        int rc = mc2_batch_decode(b, enc, n, 300, &err);
        mc2_alloc_fail_after(0);
        if (rc == 0 && !batch_eq(src, b)) ok = 0;
        if (rc != 0 && (err.code != MC2_E_NOMEM || b->nrows != 0)) ok = 0;
        /* After a failure the batch is still usable. */
        if (rc != 0 && (mc2_batch_decode(b, enc, n, 300, &err) != 0 || !batch_eq(src, b))) ok = 0;
        mc2_batch_free(b);
        if (rc == 0) break;
    }
    CHECK(ok && step > 1 && step < 1000);
    /* reserve_chars failing leaves the column intact. */
    mc2_batch *b = mc2_batch_new(s, 4, &err);
    size_t sc = (size_t)mc2_schema_find(s, "s");
    CHECK(put_str(b, sc, "abc", 3) == 0);
    mc2_alloc_fail_after(1);
    CHECK(mc2_batch_reserve_chars(b, sc, 1 << 20, &err) == -1 && err.code == MC2_E_NOMEM);
    mc2_alloc_fail_after(0);
    CHECK(b->cols[sc].off[1] == 3 && memcmp(b->cols[sc].data, "abc", 3) == 0);
    CHECK(mc2_batch_reserve_chars(b, sc, 1 << 20, &err) == 0 && b->cols[sc].data_cap >= (1 << 20));
    CHECK(memcmp(b->cols[sc].data, "abc", 3) == 0);
    mc2_batch_free(b);
    /* Sizes that cannot be allocated are refused cleanly. */
    CHECK(mc2_batch_new(s, (size_t)UINT32_MAX + 1, &err) == NULL && err.code == MC2_E_LIMIT);
    mc2_free(enc);
    mc2_batch_free(src);
    mc2_schema_free(s);
}

/* The allocator's live-bytes cap (mc2_alloc_set_cap): allocations beyond it fail and are
 * reported; below it they succeed; a refused realloc keeps the block; frees give the bytes
 * back; removing the cap returns the previous one. */
static void test_alloc_cap(void)
{
    size_t live = mc2_alloc_live();
    void *a = mc2_malloc(1000);
    CHECK(a && mc2_alloc_live() >= live + 1000);
    mc2_free(a);
    CHECK(mc2_alloc_live() == live);
    CHECK(mc2_alloc_set_cap(live + 64 * 1024) == 0 && !mc2_alloc_cap_hit());
    CHECK(mc2_malloc(128 * 1024) == NULL && mc2_alloc_cap_hit());
    CHECK(mc2_alloc_set_cap(live + 64 * 1024) == live + 64 * 1024 && !mc2_alloc_cap_hit());
    CHECK(mc2_calloc(1024, 128) == NULL && mc2_calloc(SIZE_MAX / 2, 4) == NULL);
    mc2_alloc_set_cap(live + 64 * 1024); /* clears the flag */
    char *p = mc2_malloc(16 * 1024), *q = mc2_calloc(16, 1024);
    CHECK(p && q && !mc2_alloc_cap_hit());
    if (p) memset(p, 'x', 16 * 1024);
    CHECK(mc2_realloc(p, 100 * 1024) == NULL && mc2_alloc_cap_hit());
    CHECK(p && p[16 * 1024 - 1] == 'x'); /* still allocated, intact */
    char *r = mc2_realloc(p, 20 * 1024);
    CHECK(r != NULL);
    if (r) p = r;
    CHECK(mc2_alloc_set_cap(0) == live + 64 * 1024);
    void *big = mc2_malloc(256 * 1024); /* no cap */
    CHECK(big != NULL);
    mc2_free(big);
    mc2_free(p);
    mc2_free_wipe(q, 16 * 1024);
    CHECK(mc2_alloc_live() == live);
}

int main(void)
{
    test_round_trip();
    test_hostile();
    test_alloc_failures();
    test_alloc_cap();
    return test_done("test_batch");
}
