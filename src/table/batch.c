/* batch.c - column batches and the block payload encoding (docs/format.md, "block payload").
 *
 * Payload (all integers little-endian):
 *   u32 nrows, u32 ncols, then per column in schema order:
 *     u8 type id (equal to the schema's), u8 null map (0: no row is NULL; 1: a bitmap follows,
 *     only allowed in a nullable column), [ceil(nrows/8) bitmap bytes, bit i%8 of byte i/8 set
 *     = row i NULL, unused bits zero], values:
 *       INT64, DECIMAL: nrows x i64      DOUBLE: nrows x binary64 bits     DATE: nrows x i32
 *       wide DECIMAL (type id 7): nrows x i128 (two's complement, little-endian)
 *       BOOL: nrows x u8 (0/1)           VARCHAR: nrows x u32 end offsets, then the bytes
 *   and nothing after. A NULL row holds 0 / 0.0 (all-zero bits) / the empty string. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "table/chunk.h"
#include "table/value.h"

/* Values are copied between the batch arrays and the little-endian payload with memcpy. A
 * big-endian port needs byte-swapping loops in put_values/get_values. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "batch.c assumes a little-endian host");
_Static_assert(sizeof(double) == 8 && sizeof(int64_t) == 8, "binary64 doubles expected");

/* Initial VARCHAR data capacity: a guess of 8 bytes per row, between 64 bytes and 1 MiB. */
static size_t initial_chars(size_t cap)
{
    size_t n = cap < (1u << 17) ? cap * 8 : (size_t)1 << 20;
    return n < 64 ? 64 : n;
}

/* Wipes and frees the arrays of a column that had room for cap rows. */
static void col_release(mc2_col *c, const mc2_column_def *d, size_t cap)
{
    mc2_free_wipe(c->nulls, cap);
    if (d->type.id == MC2_T_VARCHAR) {
        mc2_free_wipe(c->off, (cap + 1) * sizeof *c->off);
        mc2_free_wipe(c->data, c->data_cap);
    } else {
        mc2_free_wipe(c->v.b, cap * mc2_col_width(d->type.id));
    }
    memset(c, 0, sizeof *c);
}

/* Allocates a column with room for cap rows (cap + 1 must not overflow the sizes: checked
 * by the callers). */
static int col_alloc(mc2_col *c, const mc2_column_def *d, size_t cap, mc2_err *err)
{
    memset(c, 0, sizeof *c);
    size_t rows = cap ? cap : 1;
    if (d->nullable && !(c->nulls = mc2_calloc(rows, 1))) goto nomem;
    if (d->type.id == MC2_T_VARCHAR) {
        c->off = mc2_calloc(rows + 1, sizeof *c->off);
        c->data_cap = initial_chars(cap);
        c->data = mc2_malloc(c->data_cap);
        if (!c->off || !c->data) goto nomem;
    } else {
        if (!(c->v.b = mc2_calloc(rows, mc2_col_width(d->type.id)))) goto nomem;
    }
    return 0;
nomem:
    col_release(c, d, cap);
    return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a batch of %zu rows", cap);
}

/* Checks that cap rows of every column can be sized without overflow (and fit the u32 row
 * counts of the payload). */
static int check_cap(size_t cap, mc2_err *err)
{
    size_t tmp;
    if (cap > UINT32_MAX || !mc2_mul_size(cap + 1, 8, &tmp))
        return mc2_err_set(err, MC2_E_LIMIT, "a batch of %zu rows is too large (at most %lu)", cap,
                           (unsigned long)UINT32_MAX);
    return 0;
}

mc2_batch *mc2_batch_new(const mc2_schema *s, size_t cap, mc2_err *err)
{
    if (check_cap(cap, err)) return NULL;
    mc2_batch *b = mc2_calloc(1, sizeof *b);
    if (!b) goto nomem;
    b->schema = s;
    b->cap = cap;
    b->cols = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *b->cols);
    if (!b->cols) {
        mc2_free(b);
        goto nomem;
    }
    for (size_t c = 0; c < s->ncols; c++)
        if (col_alloc(&b->cols[c], &s->cols[c], cap, err)) {
            mc2_batch_free(b);
            return NULL;
        }
    return b;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory for a batch of %zu rows", cap);
    return NULL;
}

void mc2_batch_free(mc2_batch *b)
{
    if (!b) return;
    if (b->cols)
        for (size_t c = 0; c < b->schema->ncols; c++)
            col_release(&b->cols[c], &b->schema->cols[c], b->cap);
    mc2_free(b->cols);
    mc2_free(b);
}

void mc2_batch_clear(mc2_batch *b)
{
    b->nrows = 0;
}

/* Replaces every column's arrays with ones for newcap rows (old contents are discarded).
 * On failure b is unchanged. */
static int batch_regrow(mc2_batch *b, size_t newcap, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    if (check_cap(newcap, err)) return -1;
    mc2_col *nc = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *nc);
    if (!nc) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a batch of %zu rows", newcap);
    for (size_t c = 0; c < s->ncols; c++)
        if (col_alloc(&nc[c], &s->cols[c], newcap, err)) {
            for (size_t k = 0; k < c; k++) col_release(&nc[k], &s->cols[k], newcap);
            mc2_free(nc);
            return -1;
        }
    for (size_t c = 0; c < s->ncols; c++) col_release(&b->cols[c], &s->cols[c], b->cap);
    mc2_free(b->cols);
    b->cols = nc;
    b->cap = newcap;
    b->nrows = 0;
    return 0;
}

/* Ensures VARCHAR column c can hold `need` bytes in total, keeping the first data_cap bytes. */
static int reserve_total(mc2_batch *b, size_t c, size_t need, mc2_err *err)
{
    mc2_col *col = &b->cols[c];
    if (need <= col->data_cap) return 0;
    if (need > UINT32_MAX)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "column '%s' holds more than 4 GiB of text in one batch; use fewer "
                           "rows per block",
                           b->schema->cols[c].name);
    size_t ncap = col->data_cap > UINT32_MAX / 2 ? UINT32_MAX : col->data_cap * 2;
    if (ncap < need) ncap = need;
    /* malloc + copy + wipe rather than realloc, so no copy of the text is left unwiped. */
    char *nd = mc2_malloc(ncap);
    if (!nd) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for %zu bytes of text", ncap);
    if (col->data_cap) memcpy(nd, col->data, col->data_cap);
    mc2_free_wipe(col->data, col->data_cap);
    col->data = nd;
    col->data_cap = ncap;
    return 0;
}

int mc2_batch_reserve_chars(mc2_batch *b, size_t c, size_t extra, mc2_err *err)
{
    if (c >= b->schema->ncols || b->schema->cols[c].type.id != MC2_T_VARCHAR)
        MC2_PANIC("mc2_batch_reserve_chars: not a VARCHAR column");
    size_t need;
    if (!mc2_add_size(b->cols[c].off[b->nrows], extra, &need))
        return mc2_err_set(err, MC2_E_LIMIT, "text too large for one batch");
    return reserve_total(b, c, need, err);
}

/* ---- encoding ------------------------------------------------------------------------------- */

/* Whether any of rows [0, nrows) of column c is NULL. */
static int any_null(const mc2_col *c, size_t nrows)
{
    if (!c->nulls) return 0;
    uint8_t acc = 0;
    for (size_t i = 0; i < nrows; i++) acc |= c->nulls[i];
    return acc != 0;
}

/* Whether column c's encoding carries a bitmap. */
static int has_bitmap(const mc2_batch *b, size_t c, bool always_bitmap)
{
    return (always_bitmap && b->schema->cols[c].nullable) || any_null(&b->cols[c], b->nrows);
}

int mc2_col_size(const mc2_batch *b, size_t c, bool always_bitmap, size_t *out, mc2_err *err)
{
    const size_t nrows = b->nrows;
    const mc2_column_def *d = &b->schema->cols[c];
    size_t vals, sz = 2;
    if (!mc2_mul_size(nrows, mc2_col_width(d->type.id), &vals)) goto toolarge;
    if (has_bitmap(b, c, always_bitmap)) sz += (nrows + 7) / 8;
    if (!mc2_add_size(sz, vals, &sz)) goto toolarge;
    if (d->type.id == MC2_T_VARCHAR && !mc2_add_size(sz, b->cols[c].off[nrows], &sz)) goto toolarge;
    *out = sz;
    return 0;
toolarge:
    return mc2_err_set(err, MC2_E_LIMIT, "batch too large to encode as one block");
}

uint8_t *mc2_col_put(const mc2_batch *b, size_t c, bool always_bitmap, uint8_t *p, mc2_err *err)
{
    const size_t nrows = b->nrows, bitmap = (nrows + 7) / 8;
    const mc2_column_def *d = &b->schema->cols[c];
    const mc2_col *col = &b->cols[c];
    int with_bitmap = has_bitmap(b, c, always_bitmap);
    int nulls = any_null(col, nrows);
    *p++ = (uint8_t)d->type.id;
    *p++ = (uint8_t)with_bitmap;
    if (with_bitmap) {
        memset(p, 0, bitmap);
        if (nulls)
            for (size_t i = 0; i < nrows; i++)
                p[i >> 3] |= (uint8_t)((col->nulls[i] != 0) << (i & 7));
        p += bitmap;
    }
    if (d->type.id == MC2_T_VARCHAR) {
        if (nulls)
            for (size_t i = 0; i < nrows; i++)
                if (col->nulls[i] && col->off[i + 1] != col->off[i]) {
                    mc2_err_set(err, MC2_E_INTERNAL,
                                "batch column '%s': a NULL row holds text (bug in the producer "
                                "of the batch)",
                                d->name);
                    return NULL;
                }
        if (nrows) memcpy(p, col->off + 1, nrows * 4);
        p += nrows * 4;
        size_t chars = col->off[nrows];
        if (chars) memcpy(p, col->data, chars);
        p += chars;
    } else {
        size_t w = mc2_col_width(d->type.id);
        if (nrows) memcpy(p, col->v.b, nrows * w);
        /* A NULL row must hold zero on the wire, whatever the producer left in it. */
        if (nulls)
            for (size_t i = 0; i < nrows; i++)
                if (col->nulls[i]) memset(p + i * w, 0, w);
        p += nrows * w;
    }
    return p;
}

/* The int64 image of row i of a fixed-width column, as statistics keep it. */
static int64_t stat_value(enum mc2_type t, const mc2_col *col, size_t i)
{
    switch (t) {
    case MC2_T_DATE:
        return col->v.i32[i];
    case MC2_T_BOOL:
        return col->v.b[i];
    default: /* INT64, DECIMAL; DOUBLE is handled by the caller */
        return col->v.i64[i];
    }
}

void mc2_col_stats(const mc2_batch *b, size_t c, mc2_colstats *st)
{
    const mc2_col *col = &b->cols[c];
    enum mc2_type t = b->schema->cols[c].type.id;
    size_t n = b->nrows, nnull = 0;
    memset(st, 0, sizeof *st);
    bool first = true;
    double dmin = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (col->nulls && col->nulls[i]) {
            nnull++;
            continue;
        }
        if (t == MC2_T_VARCHAR || t == MC2_T_DEC128) continue;
        if (t == MC2_T_DOUBLE) {
            double v = col->v.f64[i];
            if (first || v < dmin) dmin = v;
            if (first || v > dmax) dmax = v;
        } else {
            int64_t v = stat_value(t, col, i);
            if (first || v < st->min) st->min = v;
            if (first || v > st->max) st->max = v;
        }
        first = false;
    }
    if (t == MC2_T_DOUBLE) {
        memcpy(&st->min, &dmin, 8);
        memcpy(&st->max, &dmax, 8);
    }
    if (!first && t != MC2_T_VARCHAR && t != MC2_T_DEC128) st->flags |= MC2_STATS_MINMAX;
    if (nnull) st->flags |= MC2_STATS_NULLS;
    if (nnull == n) st->flags |= MC2_STATS_ALLNULL;
}

int mc2_batch_encode(const mc2_batch *b, uint8_t **out, size_t *out_len, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    const size_t nrows = b->nrows;
    if (nrows > UINT32_MAX || nrows > b->cap) MC2_PANIC("mc2_batch_encode: bad row count");

    /* Exact size first, so the output is allocated once. Sizes come from our own arrays,
     * but a huge batch must still fail cleanly rather than wrap. */
    size_t total = 8;
    for (size_t c = 0; c < s->ncols; c++) {
        size_t sz;
        if (mc2_col_size(b, c, false, &sz, err)) return -1;
        if (!mc2_add_size(total, sz, &total))
            return mc2_err_set(err, MC2_E_LIMIT, "batch too large to encode as one block");
    }
    size_t old = *out ? *out_len : 0, all;
    if (!mc2_add_size(old, total, &all))
        return mc2_err_set(err, MC2_E_LIMIT, "batch too large to encode as one block");
    uint8_t *buf = mc2_malloc(all);
    if (!buf) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a %zu-byte block", total);
    uint8_t *p = buf;
    if (old) {
        memcpy(p, *out, old);
        p += old;
    }
    mc2_le32_put(p, (uint32_t)nrows);
    mc2_le32_put(p + 4, (uint32_t)s->ncols);
    p += 8;
    for (size_t c = 0; c < s->ncols && p; c++) p = mc2_col_put(b, c, false, p, err);
    if (!p) {
        mc2_free_wipe(buf, all);
        return -1;
    }
    if ((size_t)(p - buf) != all) MC2_PANIC("mc2_batch_encode: size mismatch");
    if (old) mc2_free_wipe(*out, old);
    *out = buf;
    *out_len = all;
    return 0;
}

/* ---- decoding ------------------------------------------------------------------------------- */

static int bad(mc2_err *err, const char *what, const mc2_column_def *d, size_t c, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));

/* An error in a block payload or column chunk, naming the column: "block payload, column 3
 * ('x'): ...". */
static int bad(mc2_err *err, const char *what, const mc2_column_def *d, size_t c, const char *fmt,
               ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!d) return mc2_err_set(err, MC2_E_INPUT, "%s: %s", what, msg);
    return mc2_err_set(err, MC2_E_INPUT, "%s, column %zu ('%s'): %s", what, c + 1, d->name, msg);
}

/* Validates the VARCHAR column c just copied into the batch: offsets, UTF-8, lengths, and
 * empty NULL rows. */
static int check_varchar(const char *what, const mc2_col *col, const mc2_column_def *d, size_t c,
                         size_t nrows, mc2_err *err)
{
    const uint32_t *off = col->off;
    const unsigned char *data = (const unsigned char *)col->data;
    size_t total = off[nrows];
    size_t nchars;
    const char *why;
    if (mc2_utf8_check(col->data, total, &nchars, &why)) return bad(err, what, d, c, "%s", why);
    for (size_t i = 0; i < nrows; i++) {
        size_t start = off[i], len = off[i + 1] - off[i];
        /* The whole text is valid UTF-8, so a value is too iff it starts on a character. */
        if (start < total && (data[start] & 0xC0) == 0x80)
            return bad(err, what, d, c, "row %zu: value starts inside a UTF-8 character", i + 1);
        if (len > d->type.length) {
            /* More bytes than allowed characters: count characters (non-continuation bytes). */
            size_t k = 0;
            for (size_t j = start; j < start + len; j++) k += (data[j] & 0xC0) != 0x80;
            if (k > d->type.length)
                return bad(err, what, d, c,
                           "row %zu: %zu characters, more than VARCHAR(%lu) allows", i + 1, k,
                           (unsigned long)d->type.length);
        }
        if (col->nulls && col->nulls[i] && len)
            return bad(err, what, d, c, "row %zu is NULL but holds text", i + 1);
    }
    return 0;
}

/* Validates the fixed-width values of column c (already copied into the batch). */
static int check_fixed(const char *what, const mc2_col *col, const mc2_column_def *d, size_t c,
                       size_t nrows, mc2_err *err)
{
    const uint8_t *nulls = col->nulls;
    switch (d->type.id) {
    case MC2_T_INT64:
        if (nulls)
            for (size_t i = 0; i < nrows; i++)
                if (nulls[i] && col->v.i64[i]) goto nonzero;
        return 0;
    case MC2_T_DECIMAL: {
        const int64_t lim = mc2_pow10(d->type.precision) - 1;
        for (size_t i = 0; i < nrows; i++) {
            int64_t v = col->v.i64[i];
            if (v > lim || v < -lim)
                return bad(err, what, d, c, "row %zu: value has more than %u digits", i + 1,
                           (unsigned)d->type.precision);
            if (nulls && nulls[i] && v) goto nonzero;
        }
        return 0;
    }
    case MC2_T_DEC128: {
        const mc2_i128 lim = mc2_pow10_128(d->type.precision) - 1;
        for (size_t i = 0; i < nrows; i++) {
            mc2_i128 v = col->v.i128[i];
            if (v > lim || v < -lim)
                return bad(err, what, d, c, "row %zu: value has more than %u digits", i + 1,
                           (unsigned)d->type.precision);
            if (nulls && nulls[i] && v) goto nonzero;
        }
        return 0;
    }
    case MC2_T_DOUBLE:
        for (size_t i = 0; i < nrows; i++) {
            uint64_t bits;
            memcpy(&bits, &col->v.f64[i], 8);
            if ((bits & 0x7FF0000000000000ull) == 0x7FF0000000000000ull)
                return bad(err, what, d, c, "row %zu: NaN or infinity", i + 1);
            if (nulls && nulls[i] && bits) goto nonzero;
        }
        return 0;
    case MC2_T_DATE:
        for (size_t i = 0; i < nrows; i++) {
            int32_t v = col->v.i32[i];
            if (v < MC2_DATE_MIN || v > MC2_DATE_MAX)
                return bad(err, what, d, c, "row %zu: date outside 0001-01-01..9999-12-31", i + 1);
            if (nulls && nulls[i] && v) goto nonzero;
        }
        return 0;
    case MC2_T_BOOL:
        for (size_t i = 0; i < nrows; i++) {
            uint8_t v = col->v.b[i];
            if (v > 1)
                return bad(err, what, d, c, "row %zu: boolean byte %u is not 0 or 1", i + 1, v);
            if (nulls && nulls[i] && v) goto nonzero;
        }
        return 0;
    case MC2_T_VARCHAR:
        break;
    }
    MC2_PANIC("check_fixed: unexpected type");
nonzero:
    return bad(err, what, d, c, "a NULL row holds a non-zero value");
}

int mc2_col_get(mc2_batch *b, size_t c, mc2_rd *r, size_t nrows, bool v2, const char *what,
                mc2_err *err)
{
    const mc2_column_def *d = &b->schema->cols[c];
    mc2_col *col = &b->cols[c];
    const size_t bitmap = (nrows + 7) / 8;
    if (nrows > b->cap) MC2_PANIC("mc2_col_get: batch too small");
    uint8_t type = mc2_rd_u8(r), nullmap = mc2_rd_u8(r);
    if (r->bad) return bad(err, what, d, c, "truncated");
    if (type != (uint8_t)d->type.id)
        return bad(err, what, d, c, "type id %u does not match the schema's %u", type,
                   (unsigned)d->type.id);
    if (nullmap > 1) return bad(err, what, d, c, "null-map flag %u is not 0 or 1", nullmap);
    if (nullmap && !d->nullable)
        return bad(err, what, d, c, "the column is NOT NULL but the block marks rows NULL");
    if (v2 && d->nullable && !nullmap)
        return bad(err, what, d, c, "a nullable column's chunk has no null bitmap");
    if (d->nullable) {
        if (nullmap) {
            const uint8_t *bm = mc2_rd_take(r, bitmap);
            if (!bm) return bad(err, what, d, c, "truncated null bitmap");
            for (size_t i = 0; i < nrows; i++) col->nulls[i] = (bm[i >> 3] >> (i & 7)) & 1;
            if ((nrows & 7) && (bm[bitmap - 1] >> (nrows & 7)))
                return bad(err, what, d, c, "null bitmap has bits set past the last row");
        } else if (nrows) {
            memset(col->nulls, 0, nrows);
        }
    }
    if (d->type.id == MC2_T_VARCHAR) {
        const uint8_t *ends = mc2_rd_take(r, nrows * 4);
        if (!ends) return bad(err, what, d, c, "truncated offsets");
        col->off[0] = 0;
        if (nrows) memcpy(col->off + 1, ends, nrows * 4);
        for (size_t i = 0; i < nrows; i++)
            if (col->off[i + 1] < col->off[i])
                return bad(err, what, d, c, "offset of row %zu goes backwards", i + 1);
        size_t total = col->off[nrows];
        const uint8_t *text = mc2_rd_take(r, total);
        if (!text)
            return bad(err, what, d, c, "text of %zu bytes runs past the end of the block", total);
        if (reserve_total(b, c, total, err)) return -1;
        if (total) memcpy(col->data, text, total);
        return check_varchar(what, col, d, c, nrows, err);
    }
    size_t bytes = nrows * mc2_col_width(d->type.id); /* nrows <= cap: no overflow (check_cap) */
    const uint8_t *vals = mc2_rd_take(r, bytes);
    if (!vals) return bad(err, what, d, c, "truncated values");
    if (bytes) memcpy(col->v.b, vals, bytes);
    return check_fixed(what, col, d, c, nrows, err);
}

int mc2_batch_grow(mc2_batch *b, size_t rows, mc2_err *err)
{
    return rows > b->cap ? batch_regrow(b, rows, err) : 0;
}

int mc2_batch_decode(mc2_batch *b, const uint8_t *p, size_t n, size_t expect_rows, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    b->nrows = 0;
    mc2_rd r = mc2_rd_init(p, n);
    uint32_t nrows = mc2_rd_u32(&r), ncols = mc2_rd_u32(&r);
    if (r.bad) return bad(err, "block payload", NULL, 0, "truncated (%zu bytes)", n);
    if (nrows != expect_rows)
        return bad(err, "block payload", NULL, 0, "holds %lu rows but its frame says %zu",
                   (unsigned long)nrows, expect_rows);
    if (ncols != s->ncols)
        return bad(err, "block payload", NULL, 0, "has %lu columns but the schema has %zu",
                   (unsigned long)ncols, s->ncols);
    /* Before allocating for nrows rows, check the payload is big enough to hold them. */
    size_t min = 8;
    for (size_t c = 0; c < s->ncols; c++) {
        size_t v;
        if (!mc2_mul_size(nrows, mc2_col_width(s->cols[c].type.id), &v) ||
            !mc2_add_size(min, v + 2, &min))
            return bad(err, "block payload", NULL, 0, "row count %lu is impossibly large",
                       (unsigned long)nrows);
    }
    if (min > n)
        return bad(err, "block payload", NULL, 0, "truncated (%zu bytes for %lu rows)", n,
                   (unsigned long)nrows);
    if (nrows > b->cap && batch_regrow(b, nrows, err)) return -1;
    for (size_t c = 0; c < s->ncols; c++)
        if (mc2_col_get(b, c, &r, nrows, false, "block payload", err)) return -1;
    if (mc2_rd_left(&r))
        return bad(err, "block payload", NULL, 0, "%zu unexpected bytes after the last column",
                   mc2_rd_left(&r));
    b->nrows = nrows;
    return 0;
}

int mc2_batch_copy_rows(mc2_batch *dst, const mc2_batch *src, size_t from, size_t n, mc2_err *err)
{
    const mc2_schema *s = src->schema;
    if (from > src->nrows || n > src->nrows - from) MC2_PANIC("mc2_batch_copy_rows: bad range");
    dst->nrows = 0;
    if (mc2_batch_grow(dst, n, err)) return -1;
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_col *a = &src->cols[c];
        mc2_col *d = &dst->cols[c];
        if (a->nulls && n) memcpy(d->nulls, a->nulls + from, n);
        if (s->cols[c].type.id != MC2_T_VARCHAR) {
            size_t w = mc2_col_width(s->cols[c].type.id);
            if (n) memcpy(d->v.b, a->v.b + from * w, n * w);
            continue;
        }
        uint32_t base = a->off[from], total = a->off[from + n] - base;
        if (reserve_total(dst, c, total, err)) return -1;
        for (size_t i = 0; i <= n; i++) d->off[i] = a->off[from + i] - base;
        if (total) memcpy(d->data, a->data + base, total);
    }
    dst->nrows = n;
    return 0;
}
