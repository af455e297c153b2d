/* op_rows.c - fixed-width row layouts, conversion from and to column batches, the leakage
 * policy's final step, and oblivious expansion. */
#include "obliv/rows.h"

#include "base/alloc.h"
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"

#include <string.h>

#ifdef MC2_OBLIV_VALGRIND
#include <valgrind/memcheck.h>
#endif

uint64_t obliv_declassify(uint64_t x)
{
    volatile uint64_t v = x;
#ifdef MC2_OBLIV_VALGRIND
    VALGRIND_MAKE_MEM_DEFINED((const void *)&v, sizeof v);
#endif
    return v;
}

void *obliv_zalloc(size_t count, size_t size)
{
    size_t bytes;
    if (!mc2_mul_size(count, size, &bytes)) return NULL;
    void *p = mc2_malloc(bytes ? bytes : 1);
    if (p) memset(p, 0, bytes);
    return p;
}

/* ---- layouts ----------------------------------------------------------------------------- */

static size_t col_words(const mc2_coltype *t)
{
    if (t->id != MC2_T_VARCHAR) return 1;
    return 1 + ((size_t)t->length * 4 + 7) / 8;
}

int obliv_layout_init(struct obliv_layout *lay, const mc2_coltype *types, size_t ncols,
                      mc2_err *err)
{
    if (ncols > OBLIV_MAX_COLS)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "oblivious mode: %zu columns in a row; at most %d are supported", ncols,
                           OBLIV_MAX_COLS);
    memset(lay, 0, sizeof *lay);
    size_t w = OBLIV_W_COLS;
    for (size_t c = 0; c < ncols; c++) {
        if (types[c].id < MC2_T_INT64 || types[c].id > MC2_T_DEC128 ||
            (types[c].id == MC2_T_VARCHAR &&
             (types[c].length == 0 || types[c].length > MC2_VARCHAR_MAX)))
            return mc2_err_set(err, MC2_E_USAGE, "oblivious mode: column %zu has a bad type", c);
        lay->col[c].type = types[c];
        lay->col[c].word = w;
        lay->col[c].nwords = col_words(&types[c]);
        w += lay->col[c].nwords;
    }
    lay->ncols = ncols;
    lay->width = w;
    return 0;
}

int obliv_layout_from_schema(struct obliv_layout *lay, const mc2_schema *s, mc2_err *err)
{
    mc2_coltype t[OBLIV_MAX_COLS];
    if (s->ncols > OBLIV_MAX_COLS) return obliv_layout_init(lay, NULL, s->ncols, err);
    for (size_t c = 0; c < s->ncols; c++) t[c] = s->cols[c].type;
    return obliv_layout_init(lay, t, s->ncols, err);
}

int obliv_layout_concat(struct obliv_layout *out, const struct obliv_layout *a,
                        const struct obliv_layout *b, mc2_err *err)
{
    mc2_coltype t[2 * OBLIV_MAX_COLS];
    for (size_t c = 0; c < a->ncols; c++) t[c] = a->col[c].type;
    for (size_t c = 0; c < b->ncols; c++) t[a->ncols + c] = b->col[c].type;
    return obliv_layout_init(out, t, a->ncols + b->ncols, err);
}

/* ---- row sets ---------------------------------------------------------------------------- */

int obliv_rows_alloc(struct obliv_rows *r, const struct obliv_layout *lay, size_t n, mc2_err *err)
{
    memset(r, 0, sizeof *r);
    r->lay = *lay;
    size_t words;
    if (!mc2_mul_size(n, lay->width, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: %zu rows are too many", n);
    r->w = obliv_zalloc(words ? words : 1, 8);
    if (!r->w)
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory for %zu rows", n);
    r->n = r->cap = n;
    return 0;
}

void obliv_rows_free(struct obliv_rows *r)
{
    if (r->w) mc2_free_wipe(r->w, r->cap * r->lay.width * 8);
    r->w = NULL;
    r->n = r->cap = 0;
}

/* Grows r's capacity to at least n rows (new rows zeroed: dummies). */
static int rows_reserve(struct obliv_rows *r, size_t n, mc2_err *err)
{
    if (n <= r->cap) return 0;
    size_t words;
    if (!mc2_mul_size(n, r->lay.width, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: %zu rows are too many", n);
    uint64_t *w = obliv_zalloc(words, 8);
    if (!w) return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory for %zu rows", n);
    if (r->w) {
        memcpy(w, r->w, r->cap * r->lay.width * 8);
        mc2_free_wipe(r->w, r->cap * r->lay.width * 8);
    }
    r->w = w;
    r->cap = n;
    return 0;
}

int obliv_rows_append(struct obliv_rows *dst, const struct obliv_rows *src, mc2_err *err)
{
    if (dst->lay.width != src->lay.width || dst->lay.ncols != src->lay.ncols)
        MC2_PANIC("obliv_rows_append: layouts differ");
    size_t n;
    if (!mc2_add_size(dst->n, src->n, &n))
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: too many rows");
    /* Grow geometrically: a scan appends many batches (sizes and capacities are public). */
    size_t want = n;
    if (n > dst->cap && dst->cap <= SIZE_MAX / 2 && 2 * dst->cap > n) want = 2 * dst->cap;
    if (n > dst->cap && rows_reserve(dst, want, err)) return -1;
    memcpy(obliv_row(dst, dst->n), src->w, src->n * src->lay.width * 8);
    dst->n = n;
    return 0;
}

int obliv_finish(struct obliv_rows *r, uint64_t count, const struct obliv_opts *o, mc2_err *err)
{
    if (o->leak == OBLIV_REVEAL) {
        uint64_t c = obliv_declassify(count);
        if (c > r->n) MC2_PANIC("obliv_finish: count exceeds the rows");
        r->n = (size_t)c;
        return 0;
    }
    uint64_t over = obliv_declassify(ct_lt_u64((uint64_t)o->bound, count) & 1);
    if (over)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "oblivious mode: an operator's output exceeds the padding bound %zu "
                           "rows given in the job (raise the bound or reveal sizes)",
                           o->bound);
    if (rows_reserve(r, o->bound, err)) return -1;
    if (o->bound > r->n) memset(obliv_row(r, r->n), 0, (o->bound - r->n) * r->lay.width * 8);
    r->n = o->bound;
    return 0;
}

/* ---- oblivious expansion ----------------------------------------------------------------- */

#define TAG_MARK ((uint64_t)1 << 63)

uint64_t obliv_expand(void *recs, size_t n, size_t width, const uint8_t *marks, uint64_t *scratch)
{
    if (width == 0 || n >= TAG_MARK) MC2_PANIC("obliv_expand: bad size");
    unsigned char *r = recs;
    uint64_t unmarked = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t m = ct_nonzero(marks[i]) & 1;
        scratch[i] = (m << 63) | unmarked;
        unmarked += 1 - m;
    }
    /* Forward routing of the tags alone (obliv_compact's passes): tag k of the k-th mark
     * ends in slot k, and the whole tag array is in the state forward routing leaves. */
    unsigned nb = 0;
    while (nb < 63 && ((size_t)1 << nb) < n) nb++;
    for (unsigned b = 0; b < nb; b++) {
        size_t s = (size_t)1 << b;
        for (size_t j = 0; j + s < n; j++) {
            uint64_t t = scratch[j + s], u = scratch[j];
            uint64_t x = (t ^ u) & ct_mask((t >> 63) & (t >> b) & 1);
            scratch[j] = u ^ x;
            scratch[j + s] = t ^ x;
        }
    }
    /* Backward: every forward swap undone in reverse order (passes high to low, slots right
     * to left). After forward step j the slot j holds a marked record with bit b set iff
     * that step swapped, so the same condition read at slot j undoes it exactly. */
    for (unsigned b = nb; b-- > 0;) {
        size_t s = (size_t)1 << b;
        for (size_t j = n - s; j-- > 0;) {
            uint64_t u = scratch[j], t = scratch[j + s];
            uint64_t mv = ct_mask((u >> 63) & (u >> b) & 1);
            ct_cswap_bytes(mv, r + j * width, r + (j + s) * width, width);
            uint64_t x = (t ^ u) & mv;
            scratch[j] = u ^ x;
            scratch[j + s] = t ^ x;
        }
    }
    return (uint64_t)n - unmarked;
}

/* ---- batches ----------------------------------------------------------------------------- */

static int check_schema(const struct obliv_layout *lay, const mc2_schema *s, mc2_err *err)
{
    if (s->ncols != lay->ncols)
        return mc2_err_set(err, MC2_E_USAGE, "oblivious mode: batch has %zu columns, rows %zu",
                           s->ncols, lay->ncols);
    for (size_t c = 0; c < s->ncols; c++)
        if (s->cols[c].type.id != lay->col[c].type.id ||
            (s->cols[c].type.id == MC2_T_VARCHAR &&
             s->cols[c].type.length != lay->col[c].type.length))
            return mc2_err_set(err, MC2_E_USAGE, "oblivious mode: column %zu's type differs", c);
    return 0;
}

/* VARCHAR column c of batch b into rows r: pad bytes per row = 8 * (nwords - 1). */
static int varchar_in(struct obliv_rows *r, const mc2_batch *b, size_t c, mc2_err *err)
{
    const struct obliv_col *oc = &r->lay.col[c];
    const mc2_col *bc = &b->cols[c];
    size_t n = b->nrows, pad = 8 * (oc->nwords - 1), maxb = 4 * (size_t)oc->type.length, m;
    if (!mc2_mul_size(n, pad, &m) || m >= ((size_t)1 << 58))
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: VARCHAR column too large");
    size_t total = bc->off[n]; /* public: the block's size reveals it */
    uint8_t *buf = obliv_zalloc(m ? m : 1, 1), *marks = obliv_zalloc(m ? m : 1, 1);
    uint64_t *scratch = obliv_zalloc(m ? m : 1, 8);
    int rc = 0;
    if (!buf || !marks || !scratch) {
        rc = mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
        goto out;
    }
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = (uint64_t)bc->off[i + 1] - bc->off[i];
        bad |= ct_lt_u64(maxb, len);
        for (size_t j = 0; j < pad; j++)
            marks[i * pad + j] = (uint8_t)(ct_lt_u64(ct_barrier(j), len) & 1);
        obliv_row(r, i)[oc->word] = len;
    }
    if (obliv_declassify(bad & 1) || total > m) {
        rc = mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: a VARCHAR(%u) value is too long",
                         oc->type.length);
        goto out;
    }
    memcpy(buf, bc->data, total);
    obliv_expand(buf, m, 1, marks, scratch);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = buf + i * pad;
        for (size_t j = 0; j < pad; j++) p[j] = (uint8_t)(p[j] & (0u - marks[i * pad + j]));
        memcpy(obliv_row(r, i) + oc->word + 1, p, pad);
    }
out:
    if (buf) mc2_free_wipe(buf, m ? m : 1);
    if (marks) mc2_free_wipe(marks, m ? m : 1);
    if (scratch) mc2_free_wipe(scratch, (m ? m : 1) * 8);
    return rc;
}

/* Oblivious mode holds a wide DECIMAL (MC2_T_DEC128) in one word, as the 64-bit DECIMAL:
 * values must stay below 10^18 in magnitude (docs/sql.md, "Oblivious mode"). */
#define DEC18_LIM ((mc2_i128)1000000000000000000LL)

int obliv_rows_from_batch(struct obliv_rows *r, const mc2_batch *b, mc2_err *err)
{
    struct obliv_layout lay;
    uint64_t bad = 0;
    if (obliv_layout_from_schema(&lay, b->schema, err)) return -1;
    if (obliv_rows_alloc(r, &lay, b->nrows, err)) return -1;
    size_t n = b->nrows;
    for (size_t i = 0; i < n; i++) obliv_row(r, i)[OBLIV_W_VALID] = 1;
    for (size_t c = 0; c < lay.ncols; c++) {
        const mc2_col *bc = &b->cols[c];
        const struct obliv_col *oc = &lay.col[c];
        if (oc->type.id == MC2_T_VARCHAR) {
            if (varchar_in(r, b, c, err)) {
                obliv_rows_free(r);
                return -1;
            }
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t *row = obliv_row(r, i);
            uint64_t isnull = bc->nulls ? (uint64_t)(bc->nulls[i] & 1) : 0, v = 0;
            switch (oc->type.id) { /* public: the column's type */
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                v = (uint64_t)bc->v.i64[i];
                break;
            case MC2_T_DEC128: { /* held in one word: at most 18 digits (docs/sql.md) */
                mc2_i128 w = bc->v.i128[i];
                bad |= (uint64_t)(w >= DEC18_LIM) | (uint64_t)(w <= -DEC18_LIM);
                v = (uint64_t)(int64_t)w;
                break;
            }
            case MC2_T_DOUBLE:
                memcpy(&v, &bc->v.f64[i], 8);
                break;
            case MC2_T_DATE:
                v = (uint64_t)(int64_t)bc->v.i32[i];
                break;
            case MC2_T_BOOL:
                v = bc->v.b[i] & 1u;
                break;
            case MC2_T_VARCHAR:
                v = row[oc->word];
                break;
            }
            row[oc->word] = v & ~ct_mask(isnull);
            row[OBLIV_W_NULLS] |= isnull << c;
        }
    }
    if (bad) {
        obliv_rows_free(r);
        return mc2_err_set(err, MC2_E_INPUT,
                           "not supported in oblivious mode: a DECIMAL value of more than 18 "
                           "digits (oblivious mode computes DECIMAL(38,s) within 18 digits)");
    }
    return 0;
}

static int varchar_out(const struct obliv_rows *r, mc2_batch *b, size_t c, mc2_err *err)
{
    const struct obliv_col *oc = &r->lay.col[c];
    mc2_col *bc = &b->cols[c];
    size_t n = r->n, pad = 8 * (oc->nwords - 1), m = n * pad;
    uint8_t *buf = obliv_zalloc(m ? m : 1, 1), *marks = obliv_zalloc(m ? m : 1, 1);
    uint64_t *scratch = obliv_zalloc(m ? m : 1, 8);
    int rc = 0;
    if (!buf || !marks || !scratch) {
        rc = mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
        goto out;
    }
    uint32_t off = 0;
    bc->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *row = obliv_row(r, i);
        uint64_t len = row[oc->word];
        memcpy(buf + i * pad, row + oc->word + 1, pad);
        for (size_t j = 0; j < pad; j++)
            marks[i * pad + j] = (uint8_t)(ct_lt_u64(ct_barrier(j), len) & 1);
        off += (uint32_t)len;
        bc->off[i + 1] = off;
    }
    uint64_t total = obliv_declassify(obliv_compact(buf, m, 1, marks, scratch));
    if (total > bc->data_cap) {
        rc = mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: batch VARCHAR capacity too small");
        goto out;
    }
    memcpy(bc->data, buf, total);
out:
    if (buf) mc2_free_wipe(buf, m ? m : 1);
    if (marks) mc2_free_wipe(marks, m ? m : 1);
    if (scratch) mc2_free_wipe(scratch, (m ? m : 1) * 8);
    return rc;
}

int obliv_rows_to_batch(const struct obliv_rows *r, mc2_batch *b, mc2_err *err)
{
    if (check_schema(&r->lay, b->schema, err)) return -1;
    if (b->cap < r->n)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: batch capacity %zu < %zu rows",
                           b->cap, r->n);
    size_t n = r->n;
    for (size_t c = 0; c < r->lay.ncols; c++) {
        mc2_col *bc = &b->cols[c];
        const struct obliv_col *oc = &r->lay.col[c];
        if (oc->type.id == MC2_T_VARCHAR && varchar_out(r, b, c, err)) return -1;
        for (size_t i = 0; i < n; i++) {
            const uint64_t *row = obliv_row(r, i);
            uint64_t v = row[oc->word], isnull = (row[OBLIV_W_NULLS] >> c) & 1;
            if (bc->nulls) bc->nulls[i] = (uint8_t)isnull;
            switch (oc->type.id) { /* public */
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                bc->v.i64[i] = (int64_t)v;
                break;
            case MC2_T_DEC128:
                bc->v.i128[i] = (int64_t)v;
                break;
            case MC2_T_DOUBLE:
                memcpy(&bc->v.f64[i], &v, 8);
                break;
            case MC2_T_DATE:
                bc->v.i32[i] = (int32_t)(int64_t)v;
                break;
            case MC2_T_BOOL:
                bc->v.b[i] = (uint8_t)(v & 1);
                break;
            case MC2_T_VARCHAR:
                break;
            }
        }
    }
    b->nrows = n;
    return 0;
}
