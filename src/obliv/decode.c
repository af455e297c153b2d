/* decode.c - oblivious decoding of block payloads into fixed-width rows (decode.h). Every
 * loop bound and every address below is a function of public sizes (row counts, the schema,
 * byte lengths, declassified section boundaries); every value read from the payload is
 * secret and only ever combined into masks. */
#include "obliv/decode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "table/chunk.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "decode.c assumes a little-endian host");

#define DATE_MIN  (-719162) /* 0001-01-01, days since 1970-01-01 (table/value.h) */
#define DATE_MAX  2932896   /* 9999-12-31 */
#define EXP_BITS  0x7FF0000000000000ull
#define MAX_SLOTS ((size_t)1 << 58) /* bytes of padded VARCHAR slots per column and block */

/* The type's name for messages (the table module's formatter is not linked here). */
static const char *type_name(enum mc2_type t)
{
    static const char *const names[] = {"?",    "INT64", "DOUBLE", "DECIMAL",
                                        "DATE", "BOOL",  "VARCHAR"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* w <= 8 little-endian bytes at a public address. */
static inline uint64_t load_le(const uint8_t *p, size_t w)
{
    uint64_t v = 0;
    memcpy(&v, p, w);
    return v;
}

/* Row i's NULL bit (0 or 1) from the bitmap, or 0 without one (bitmap is public). */
static inline uint64_t null_bit(const uint8_t *map, size_t i)
{
    return map ? (uint64_t)((map[i >> 3] >> (i & 7)) & 1) : 0;
}

static inline void set_null_flag(uint64_t *row, size_t k, uint64_t isnull)
{
    row[OBLIV_W_NULLS] = (row[OBLIV_W_NULLS] & ~((uint64_t)1 << k)) | (isnull << k);
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* The state of the branch-free UTF-8 automaton over one value: `need` continuation bytes
 * still expected, the range [lo, hi] the next one must fall in (narrowed after E0, ED, F0,
 * F4: overlongs, surrogates, > U+10FFFF), whether anything was wrong, and the code points
 * (lead bytes) seen. The rules are mc2_utf8_check's (table/value.c). */
struct u8dfa {
    uint64_t need, lo, hi, bad, cps;
};

/* Feeds byte b if act (a mask) is set; otherwise leaves the state as it is. */
static inline void u8_step(struct u8dfa *s, uint64_t b, uint64_t act)
{
    uint64_t lead = ct_eq_u64(s->need, 0);
    uint64_t ascii = ct_lt_u64(b, 0x80);
    uint64_t two = ~ct_lt_u64(b, 0xC2) & ct_lt_u64(b, 0xE0);
    uint64_t three = ~ct_lt_u64(b, 0xE0) & ct_lt_u64(b, 0xF0);
    uint64_t four = ~ct_lt_u64(b, 0xF0) & ct_lt_u64(b, 0xF5);
    uint64_t lneed = (two & 1) | (three & 2) | (four & 3);
    uint64_t llo =
        ct_select_u64(ct_eq_u64(b, 0xE0), 0xA0, ct_select_u64(ct_eq_u64(b, 0xF0), 0x90, 0x80));
    uint64_t lhi =
        ct_select_u64(ct_eq_u64(b, 0xED), 0x9F, ct_select_u64(ct_eq_u64(b, 0xF4), 0x8F, 0xBF));
    uint64_t lbad = ~(ascii | two | three | four);
    uint64_t cbad = ct_lt_u64(b, s->lo) | ct_lt_u64(s->hi, b);
    s->bad |= act & ct_select_u64(lead, lbad, cbad);
    s->cps += act & lead & 1;
    s->need = ct_select_u64(act, ct_select_u64(lead, lneed, s->need - 1), s->need);
    s->lo = ct_select_u64(act, ct_select_u64(lead, llo, 0x80), s->lo);
    s->hi = ct_select_u64(act, ct_select_u64(lead, lhi, 0xBF), s->hi);
}

/* ~0 if the padded slot p[0..pad), whose byte j is part of the value iff marks[j] is 1, holds
 * valid UTF-8 of at most maxcp code points; every one of the pad bytes is read. */
static uint64_t u8_valid(const uint8_t *p, const uint8_t *marks, size_t pad, uint64_t maxcp)
{
    struct u8dfa s = {0, 0x80, 0xBF, 0, 0};
    for (size_t j = 0; j < pad; j++) u8_step(&s, p[j], ct_mask(marks[j] & 1));
    return ~(s.bad | ct_nonzero(s.need) | ct_lt_u64(maxcp, s.cps));
}

/* ---- one column -------------------------------------------------------------------------- */

static int col_err(mc2_err *err, const mc2_column_def *d, const char *what, size_t a, size_t b)
{
    return mc2_err_set(err, MC2_E_INPUT, "block payload, column '%s': %s (%zu bytes, %zu expected)",
                       d->name, what, a, b);
}

/* The values of a fixed-width column: vals holds nrows * width bytes. */
static uint64_t fixed_col(struct obliv_rows *r, size_t k, size_t row0, size_t nrows,
                          const mc2_column_def *d, const uint8_t *map, const uint8_t *vals)
{
    const size_t w = mc2_col_width(d->type.id), word = r->lay.col[k].word;
    int64_t lim = 0;
    if (d->type.id == MC2_T_DECIMAL) {
        lim = 1;
        for (unsigned i = 0; i < d->type.precision && i < 18; i++) lim *= 10;
        lim -= 1;
    }
    const uint64_t notnull = d->nullable ? 0 : ~(uint64_t)0;
    uint64_t good = ~(uint64_t)0;
    for (size_t i = 0; i < nrows; i++) {
        uint64_t *row = obliv_row(r, row0 + i);
        uint64_t isnull = null_bit(map, i), nm = ct_mask(isnull);
        uint64_t v = load_le(vals + i * w, w), bad = 0;
        switch (d->type.id) { /* public: the column's type */
        case MC2_T_INT64:
            break;
        case MC2_T_DECIMAL:
            bad = ct_lt_i64(lim, (int64_t)v) | ct_lt_i64((int64_t)v, -lim);
            break;
        case MC2_T_DEC128: /* obliv_decode_col refuses one (docs/sql.md) */
            MC2_PANIC("fixed_col: wide DECIMAL");
        case MC2_T_DOUBLE:
            bad = ct_eq_u64(v & EXP_BITS, EXP_BITS);
            break;
        case MC2_T_DATE:
            v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
            bad = ct_lt_i64((int64_t)v, DATE_MIN) | ct_lt_i64(DATE_MAX, (int64_t)v);
            break;
        case MC2_T_BOOL:
            bad = ct_lt_u64(1, v);
            break;
        case MC2_T_VARCHAR:
            MC2_PANIC("fixed_col: VARCHAR");
        }
        bad |= nm & (ct_nonzero(v) | notnull); /* a NULL row holds 0; NOT NULL: no NULL */
        good &= ~bad;
        row[word] = v & ~nm;
        set_null_flag(row, k, isnull);
    }
    return good;
}

/* Per row: the end offset's checks, the length word, the null flag, and the slot marks
 * (byte j of row i's slot is part of the value iff j < its length). Returns the mask and the
 * last end offset in *last. */
static uint64_t varchar_lengths(struct obliv_rows *r, size_t k, size_t row0, size_t nrows,
                                const mc2_column_def *d, const uint8_t *map, const uint8_t *ends,
                                size_t pad, uint8_t *marks, uint64_t *last)
{
    const size_t word = r->lay.col[k].word;
    const uint64_t maxb = 4 * (uint64_t)d->type.length, notnull = d->nullable ? 0 : ~(uint64_t)0;
    uint64_t good = ~(uint64_t)0, prev = 0;
    for (size_t i = 0; i < nrows; i++) {
        uint64_t *row = obliv_row(r, row0 + i);
        uint64_t e = load_le(ends + 4 * i, 4), len = e - prev;
        uint64_t isnull = null_bit(map, i), nm = ct_mask(isnull);
        good &= ~(ct_lt_u64(e, prev) | ct_lt_u64(maxb, len)); /* backwards, or too long */
        good &= ~(nm & (ct_nonzero(len) | notnull));
        for (size_t j = 0; j < pad; j++)
            marks[i * pad + j] = (uint8_t)(ct_lt_u64(ct_barrier(j), len) & 1);
        row[word] = len & ~nm;
        set_null_flag(row, k, isnull);
        prev = e;
    }
    *last = prev;
    return good;
}

/* A VARCHAR column: ends holds nrows u32 end offsets, text the tlen bytes (public). */
static int varchar_col(struct obliv_rows *r, size_t k, size_t row0, size_t nrows,
                       const mc2_column_def *d, const uint8_t *map, const uint8_t *ends,
                       const uint8_t *text, size_t tlen, uint64_t *ok, mc2_err *err)
{
    const struct obliv_col *oc = &r->lay.col[k];
    size_t pad = 8 * (oc->nwords - 1), m;
    if (!mc2_mul_size(nrows, pad, &m) || m >= MAX_SLOTS)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "oblivious mode: column '%s': a block of %zu rows of VARCHAR(%lu) is "
                           "too large",
                           d->name, nrows, (unsigned long)d->type.length);
    if (tlen > m) return col_err(err, d, "more text than its rows can hold", tlen, m);
    if (m == 0) return 0; /* no rows */
    uint8_t *buf = obliv_zalloc(m, 1), *marks = obliv_zalloc(m, 1);
    uint64_t *scratch = obliv_zalloc(m, 8);
    int rc = 0;
    if (!buf || !marks || !scratch) {
        rc = mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory decoding a block");
        goto out;
    }
    uint64_t last, good = varchar_lengths(r, k, row0, nrows, d, map, ends, pad, marks, &last);
    good &= ct_eq_u64(last, tlen);
    /* The text's byte j belongs to the j-th marked slot byte: expansion moves it there
     * without reading or writing at a secret address (as obliv_rows_from_batch). */
    if (tlen) memcpy(buf, text, tlen);
    obliv_expand(buf, m, 1, marks, scratch);
    for (size_t i = 0; i < nrows; i++) {
        uint8_t *p = buf + i * pad;
        const uint8_t *mk = marks + i * pad;
        for (size_t j = 0; j < pad; j++) p[j] = (uint8_t)(p[j] & (0u - mk[j]));
        good &= u8_valid(p, mk, pad, d->type.length);
        memcpy(obliv_row(r, row0 + i) + oc->word + 1, p, pad);
    }
    *ok &= good;
out:
    if (buf) mc2_free_wipe(buf, m);
    if (marks) mc2_free_wipe(marks, m);
    if (scratch) mc2_free_wipe(scratch, m * 8);
    return rc;
}

int obliv_decode_col(struct obliv_rows *r, size_t k, size_t row0, size_t nrows,
                     const mc2_column_def *d, unsigned bitmap, const uint8_t *p, size_t len,
                     uint64_t *ok, mc2_err *err)
{
    if (k >= r->lay.ncols || r->lay.col[k].type.id != d->type.id ||
        (d->type.id == MC2_T_VARCHAR && r->lay.col[k].type.length != d->type.length) ||
        bitmap > 1 || row0 > r->n || nrows > r->n - row0)
        MC2_PANIC("obliv_decode_col: the rows do not fit the column");
    if (d->type.id == MC2_T_DEC128) /* public: the schema's type */
        return mc2_err_set(err, MC2_E_INPUT,
                           "not supported in oblivious mode: reading the stored DECIMAL column "
                           "'%s' of more than 18 digits",
                           d->name);
    const size_t bm = bitmap ? (nrows + 7) / 8 : 0, w = mc2_col_width(d->type.id);
    size_t vals, min;
    if (!mc2_mul_size(nrows, w, &vals) || !mc2_add_size(vals, 2 + bm, &min))
        return mc2_err_set(err, MC2_E_LIMIT, "block payload, column '%s': too many rows", d->name);
    if (len < min) return col_err(err, d, "truncated", len, min);
    if (d->type.id != MC2_T_VARCHAR && len != min)
        return col_err(err, d, "wrong length for its rows", len, min);
    const uint8_t *map = bitmap ? p + 2 : NULL, *body = p + 2 + bm;
    uint64_t good = ct_eq_u64(p[0], (uint64_t)d->type.id) & ct_eq_u64(p[1], bitmap);
    if (bitmap && (nrows & 7)) good &= ~ct_nonzero((uint64_t)(map[bm - 1] >> (nrows & 7)));
    *ok &= good;
    if (d->type.id == MC2_T_VARCHAR)
        return varchar_col(r, k, row0, nrows, d, map, body, body + vals, len - min, ok, err);
    *ok &= fixed_col(r, k, row0, nrows, d, map, body);
    return 0;
}

/* ---- version-1 payloads ------------------------------------------------------------------ */

int obliv_decode_v1_sections(const mc2_schema *s, const uint8_t *pt, size_t len, size_t nrows,
                             size_t upto, struct obliv_dsec *sec, uint64_t *hdr_ok, mc2_err *err)
{
    if (upto > s->ncols) MC2_PANIC("obliv_decode_v1_sections: column out of range");
    if (len < 8) return mc2_err_set(err, MC2_E_INPUT, "block payload: truncated (%zu bytes)", len);
    *hdr_ok = ct_eq_u64(load_le(pt, 4), nrows) & ct_eq_u64(load_le(pt + 4, 4), s->ncols);
    const size_t bm = (nrows + 7) / 8;
    size_t pos = 8;
    for (size_t c = 0; c < upto; c++) {
        const mc2_column_def *d = &s->cols[c];
        const int vc = d->type.id == MC2_T_VARCHAR;
        size_t vals, seclen;
        if (!mc2_mul_size(nrows, mc2_col_width(d->type.id), &vals) || vals > len - pos ||
            len - pos - vals < 2)
            goto truncated;
        /* What the boundary depends on, declassified in one call: bit 0 "a bitmap follows"
         * (nullable columns only), bits 1.. the VARCHAR byte total = the last end offset,
         * read at both places it can be (public addresses) and selected by the bit. */
        uint64_t pub = 0;
        if (d->nullable || (vc && nrows > 0)) {
            uint64_t present = d->nullable ? ct_eq_u64(pt[pos + 1], 1) & 1 : 0, x = present;
            if (vc && nrows > 0) {
                size_t a0 = pos + 2 + vals - 4, a1 = a0 + bm;
                uint64_t t0 = load_le(pt + a0, 4);
                uint64_t t1 = d->nullable && bm <= len - a0 - 4 ? load_le(pt + a1, 4) : 0;
                x |= ct_select_u64(ct_mask(present), t1, t0) << 1;
            }
            pub = obliv_declassify(x);
        }
        const unsigned bitmap = (unsigned)(pub & 1);
        if (!mc2_add_size(2 + vals, bitmap ? bm : 0, &seclen) ||
            !mc2_add_size(seclen, (size_t)(pub >> 1), &seclen) || seclen > len - pos)
            goto truncated;
        sec[c] = (struct obliv_dsec){pos, seclen, bitmap};
        pos += seclen;
        continue;
    truncated:
        return mc2_err_set(err, MC2_E_INPUT,
                           "block payload, column %zu ('%s'): runs past the end of the payload "
                           "(%zu bytes for %zu rows): truncated",
                           c + 1, d->name, len, nrows);
    }
    if (upto == s->ncols && pos != len)
        return mc2_err_set(err, MC2_E_INPUT,
                           "block payload: %zu unexpected bytes after the last column", len - pos);
    return 0;
}

int obliv_decode_v1(struct obliv_rows *r, size_t row0, const mc2_schema *s, const unsigned *cols,
                    const uint8_t *pt, size_t len, size_t nrows, uint64_t *ok, mc2_err *err)
{
    const size_t nk = r->lay.ncols;
    size_t upto = 0;
    for (size_t k = 0; k < nk; k++) {
        if (cols[k] >= s->ncols) MC2_PANIC("obliv_decode_v1: column out of range");
        if (cols[k] + 1 > upto) upto = cols[k] + 1;
    }
    if (row0 > r->n || nrows > r->n - row0) MC2_PANIC("obliv_decode_v1: rows out of range");
    for (size_t k = 0; k <= nk; k++) ok[k] = ~(uint64_t)0;
    struct obliv_dsec *sec = mc2_malloc((upto ? upto : 1) * sizeof *sec);
    if (!sec) return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
    int rc = obliv_decode_v1_sections(s, pt, len, nrows, upto, sec, &ok[0], err);
    for (size_t k = 0; rc == 0 && k < nk; k++) {
        const struct obliv_dsec *c = &sec[cols[k]];
        rc = obliv_decode_col(r, k, row0, nrows, &s->cols[cols[k]], c->bitmap, pt + c->off, c->len,
                              &ok[1 + k], err);
    }
    mc2_free(sec);
    if (rc) return -1;
    for (size_t i = 0; i < nrows; i++) obliv_row(r, row0 + i)[OBLIV_W_VALID] = 1;
    return 0;
}

int obliv_decode_v2(struct obliv_rows *r, size_t row0, const mc2_schema *s, const unsigned *cols,
                    const uint8_t *const *chunk, const size_t *clen, size_t nrows, uint64_t *ok,
                    mc2_err *err)
{
    const size_t nk = r->lay.ncols;
    if (row0 > r->n || nrows > r->n - row0) MC2_PANIC("obliv_decode_v2: rows out of range");
    for (size_t k = 0; k <= nk; k++) ok[k] = ~(uint64_t)0;
    for (size_t k = 0; k < nk; k++) {
        unsigned c = cols[k];
        if (c >= s->ncols || !chunk[c]) MC2_PANIC("obliv_decode_v2: column not read");
        if (obliv_decode_col(r, k, row0, nrows, &s->cols[c], s->cols[c].nullable ? 1 : 0, chunk[c],
                             clen[c], &ok[1 + k], err))
            return -1;
    }
    for (size_t i = 0; i < nrows; i++) obliv_row(r, row0 + i)[OBLIV_W_VALID] = 1;
    return 0;
}

int obliv_decode_verdict(const mc2_schema *s, const unsigned *cols, size_t ncols,
                         const uint64_t *ok, mc2_err *err)
{
    uint64_t all = ok[0];
    for (size_t k = 0; k < ncols; k++) all &= ok[1 + k];
    if (obliv_declassify(all & 1)) return 0;
    /* The block is invalid and the job fails: only now is it worth revealing which part. */
    if (!obliv_declassify(ok[0] & 1))
        return mc2_err_set(err, MC2_E_INPUT,
                           "block payload: its row or column count differs from the frame's "
                           "and the schema's");
    for (size_t k = 0; k < ncols; k++) {
        if (obliv_declassify(ok[1 + k] & 1)) continue;
        size_t c = cols ? cols[k] : k;
        const mc2_coltype *t = &s->cols[c].type;
        char tn[32];
        if (t->id == MC2_T_VARCHAR)
            snprintf(tn, sizeof tn, "VARCHAR(%lu)", (unsigned long)t->length);
        else if (mc2_type_is_decimal(t->id))
            snprintf(tn, sizeof tn, "DECIMAL(%u,%u)", t->precision, t->scale);
        else
            snprintf(tn, sizeof tn, "%s", type_name(t->id));
        return mc2_err_set(err, MC2_E_INPUT,
                           "block payload, column %zu ('%s', %s%s): a value or the column's "
                           "encoding is invalid (oblivious mode does not say which row or why)",
                           c + 1, s->cols[c].name, tn, s->cols[c].nullable ? "" : " NOT NULL");
    }
    MC2_PANIC("obliv_decode_verdict: no mask is clear");
}

/* ---- to float32 (GBDT) ------------------------------------------------------------------- */

void obliv_rows_col_f32(const struct obliv_rows *r, size_t k, size_t row0, size_t n, float *out,
                        size_t stride)
{
    const struct obliv_col *oc = &r->lay.col[k];
    double p10 = 1.0; /* exact: 10^s for s <= 18 is a double */
    for (unsigned i = 0; i < oc->type.scale && i < 18; i++) p10 *= 10.0;
    const uint32_t nan = mc2_f32_bits(NAN);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *row = obliv_row(r, row0 + i);
        uint64_t w = row[oc->word], isnull = (row[OBLIV_W_NULLS] >> k) & 1;
        float f = NAN;
        switch (oc->type.id) { /* public */
        case MC2_T_INT64:
        case MC2_T_DATE: /* sign-extended: the same float as from the int32 */
            f = (float)(int64_t)w;
            break;
        case MC2_T_DOUBLE:
            f = (float)mc2_f64_of(w);
            break;
        case MC2_T_DECIMAL:
        case MC2_T_DEC128: /* one word in oblivious rows */
            f = (float)((double)(int64_t)w / p10);
            break;
        case MC2_T_BOOL:
            f = (float)(int)(w & 1);
            break;
        case MC2_T_VARCHAR:
            break;
        }
        out[i * stride] =
            mc2_f32_of((uint32_t)ct_select_u64(ct_mask(isnull), nan, mc2_f32_bits(f)));
    }
}

int obliv_decode_v1_f32(const mc2_schema *s, const uint8_t *pt, size_t len, size_t nrows,
                        long label, float *x, size_t d, float *y, uint64_t *ok, mc2_err *err)
{
    if (d != s->ncols - (label >= 0 ? 1 : 0)) MC2_PANIC("obliv_decode_v1_f32: d");
    for (size_t c = 0; c <= s->ncols; c++) ok[c] = ~(uint64_t)0;
    struct obliv_dsec *sec = mc2_malloc((s->ncols ? s->ncols : 1) * sizeof *sec);
    if (!sec) return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
    struct obliv_rows one = {0};
    int rc = obliv_decode_v1_sections(s, pt, len, nrows, s->ncols, sec, &ok[0], err);
    for (size_t c = 0, f = 0; rc == 0 && c < s->ncols; c++) {
        struct obliv_layout lay;
        rc = obliv_layout_init(&lay, &s->cols[c].type, 1, err) ||
                     obliv_rows_alloc(&one, &lay, nrows, err) ||
                     obliv_decode_col(&one, 0, 0, nrows, &s->cols[c], sec[c].bitmap,
                                      pt + sec[c].off, sec[c].len, &ok[1 + c], err)
                 ? -1
                 : 0;
        if (rc == 0 && (long)c == label)
            obliv_rows_col_f32(&one, 0, 0, nrows, y, 1);
        else if (rc == 0)
            obliv_rows_col_f32(&one, 0, 0, nrows, x + f++, d);
        obliv_rows_free(&one);
    }
    mc2_free(sec);
    return rc;
}

int obliv_decode_v2_f32(const mc2_schema *s, const uint8_t *const *chunk, const size_t *clen,
                        size_t nrows, long label, float *x, size_t d, float *y, uint64_t *ok,
                        mc2_err *err)
{
    if (d != s->ncols - (label >= 0 ? 1 : 0)) MC2_PANIC("obliv_decode_v2_f32: d");
    for (size_t c = 0; c <= s->ncols; c++) ok[c] = ~(uint64_t)0;
    struct obliv_rows one = {0};
    int rc = 0;
    for (size_t c = 0, f = 0; rc == 0 && c < s->ncols; c++) {
        struct obliv_layout lay;
        rc = obliv_layout_init(&lay, &s->cols[c].type, 1, err) ||
                     obliv_rows_alloc(&one, &lay, nrows, err) ||
                     obliv_decode_col(&one, 0, 0, nrows, &s->cols[c], s->cols[c].nullable ? 1 : 0,
                                      chunk[c], clen[c], &ok[1 + c], err)
                 ? -1
                 : 0;
        if (rc == 0 && (long)c == label)
            obliv_rows_col_f32(&one, 0, 0, nrows, y, 1);
        else if (rc == 0)
            obliv_rows_col_f32(&one, 0, 0, nrows, x + f++, d);
        obliv_rows_free(&one);
    }
    return rc;
}
