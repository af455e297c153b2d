/* op_basic.c - oblivious filter, projection, ORDER BY, LIMIT, DISTINCT, UNION (op.h). */
#include "base/alloc.h"
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "obliv/sort.h"

#include <string.h>

size_t obliv_key_nwords(const struct obliv_layout *lay, uint32_t c)
{
    return 1 + lay->col[c].nwords;
}

void obliv_key_encode(const struct obliv_layout *lay, const uint64_t *row,
                      const struct obliv_sortkey *k, uint64_t *out)
{
    const struct obliv_col *c = &lay->col[k->col];
    uint64_t isnull = (row[OBLIV_W_NULLS] >> k->col) & 1;
    uint64_t desc = k->desc ? ~(uint64_t)0 : 0;
    out[0] = k->nulls_first ? 1 ^ isnull : isnull;
    const uint64_t *v = row + c->word;
    switch (c->type.id) { /* public */
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
    case MC2_T_DEC128: /* one word in oblivious rows */
    case MC2_T_DATE:
        out[1] = obliv_key_i64((int64_t)v[0]) ^ desc;
        break;
    case MC2_T_DOUBLE: {
        double d;
        memcpy(&d, v, 8);
        out[1] = obliv_key_f64(d) ^ desc;
        break;
    }
    case MC2_T_BOOL:
        out[1] = v[0] ^ desc;
        break;
    case MC2_T_VARCHAR:
        for (size_t w = 1; w < c->nwords; w++) out[w] = __builtin_bswap64(v[w]) ^ desc;
        out[c->nwords] = v[0] ^ desc;
        break;
    }
}

uint64_t obliv_col_eq(const struct obliv_layout *lay, uint32_t c, const uint64_t *a,
                      const uint64_t *b)
{
    const struct obliv_col *oc = &lay->col[c];
    uint64_t eq = ct_eq_u64((a[OBLIV_W_NULLS] >> c) & 1, (b[OBLIV_W_NULLS] >> c) & 1);
    for (size_t w = 0; w < oc->nwords; w++) eq &= ct_eq_u64(a[oc->word + w], b[oc->word + w]);
    return eq;
}

int obliv_join_keys_check(const struct obliv_layout *la, const uint32_t *a_cols,
                          const struct obliv_layout *lb, const uint32_t *b_cols, size_t nkeys,
                          size_t *kw, mc2_err *err)
{
    if (nkeys == 0 || nkeys > OBLIV_MAX_COLS || !a_cols || !b_cols)
        return mc2_err_set(err, MC2_E_USAGE, "oblivious join: %zu key columns", nkeys);
    *kw = 0;
    for (size_t k = 0; k < nkeys; k++) {
        if (a_cols[k] >= la->ncols || b_cols[k] >= lb->ncols)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious join: key %zu: column out of range", k);
        const struct obliv_col *ac = &la->col[a_cols[k]], *bc = &lb->col[b_cols[k]];
        if (ac->type.id != bc->type.id || ac->nwords != bc->nwords ||
            (ac->type.id == MC2_T_VARCHAR && ac->type.length != bc->type.length) ||
            (mc2_type_is_decimal(ac->type.id) && ac->type.scale != bc->type.scale))
            return mc2_err_set(err, MC2_E_USAGE,
                               "oblivious join: key %zu: the columns' types differ", k);
        *kw += obliv_key_nwords(la, a_cols[k]);
    }
    return 0;
}

uint64_t obliv_join_keys_encode(const struct obliv_layout *lay, const uint32_t *cols, size_t nkeys,
                                const uint64_t *row, uint64_t *out)
{
    uint64_t anynull = 0;
    size_t at = 0;
    for (size_t k = 0; k < nkeys; k++) {
        struct obliv_sortkey sk = {.col = cols[k]};
        obliv_key_encode(lay, row, &sk, out + at);
        anynull |= out[at] & 1; /* the null word: 1 = NULL (ascending, NULLS LAST) */
        at += obliv_key_nwords(lay, cols[k]);
    }
    return anynull;
}

int obliv_compact_valid(struct obliv_rows *r, uint64_t *count, mc2_err *err)
{
    size_t n = r->n;
    uint8_t *marks = mc2_malloc(n ? n : 1);
    uint64_t *scratch = mc2_malloc((n ? n : 1) * 8);
    if (!marks || !scratch) {
        mc2_free(marks);
        mc2_free(scratch);
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious mode: out of memory");
    }
    for (size_t i = 0; i < n; i++) marks[i] = (uint8_t)(obliv_row(r, i)[OBLIV_W_VALID] & 1);
    *count = obliv_compact(r->w, n, r->lay.width * 8, marks, scratch);
    mc2_free_wipe(marks, n ? n : 1);
    mc2_free_wipe(scratch, (n ? n : 1) * 8);
    return 0;
}

static int overflow_check(uint64_t ovf, mc2_err *err)
{
    if (obliv_declassify(ovf & 1))
        return mc2_err_set(err, MC2_E_INPUT, "oblivious mode: arithmetic overflow");
    return 0;
}

int obliv_filter(struct obliv_rows *r, const struct obliv_expr *pred, const struct obliv_opts *o,
                 mc2_err *err)
{
    if (obliv_expr_check(pred, &r->lay, err)) return -1;
    uint64_t ovf = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t *row = obliv_row(r, i), v, isnull, of = 0;
        obliv_expr_eval(pred, &r->lay, row, &v, &isnull, &of);
        uint64_t valid = row[OBLIV_W_VALID] & 1;
        ovf |= of & valid;
        row[OBLIV_W_VALID] = valid & (ct_nonzero(v) & 1) & (1 ^ isnull);
    }
    if (overflow_check(ovf, err)) return -1;
    uint64_t count;
    if (obliv_compact_valid(r, &count, err)) return -1;
    return obliv_finish(r, count, o, err);
}

/* SUBSTRING of one VARCHAR value: src = the column's words (length, then the padded bytes,
 * in_pad of them), dst = the output column's words (out_pad bytes); code points [cs, ce)
 * (1-based, ce exclusive) are kept. buf: in_pad scratch bytes. Constant time in the value:
 * the byte offset of code point cs is secret, so the bytes are shifted left by it in
 * ceil(log2 in_pad) masked passes (pass b moves every byte 2^b slots iff bit b of the
 * offset is set), then the tail beyond the kept count is masked. */
static void substr_kernel(const uint64_t *src, size_t in_pad, uint64_t *dst, size_t out_pad,
                          uint64_t cs, uint64_t ce, uint8_t *buf)
{
    uint64_t len = src[0], idx = 0, off = 0, cnt = 0;
    memcpy(buf, src + 1, in_pad);
    for (size_t j = 0; j < in_pad; j++) {
        uint64_t in = ct_lt_u64(ct_barrier(j), len);
        /* A byte 10xxxxxx continues the previous code point; others start one. */
        idx += ~ct_eq_u64(buf[j] & 0xC0u, 0x80u) & 1;
        uint64_t before = ct_lt_u64(idx, cs), inside = ~before & ct_lt_u64(idx, ce);
        off += in & before & 1;
        cnt += in & inside & 1;
    }
    for (size_t b = 0; ((size_t)1 << b) < in_pad; b++) {
        size_t sh = (size_t)1 << b;
        uint8_t m = (uint8_t)ct_mask((off >> b) & 1);
        for (size_t j = 0; j < in_pad; j++) {
            uint8_t x = j + sh < in_pad ? buf[j + sh] : 0; /* public condition */
            buf[j] = (uint8_t)(buf[j] ^ ((buf[j] ^ x) & m));
        }
    }
    /* Only invalid UTF-8 (a code point of more than 4 bytes) can exceed the output width. */
    cnt = ct_select_u64(ct_lt_u64((uint64_t)out_pad, cnt), (uint64_t)out_pad, cnt);
    for (size_t j = 0; j < in_pad; j++) buf[j] &= (uint8_t)ct_lt_u64(ct_barrier(j), cnt);
    memset(dst + 1, 0, out_pad);
    memcpy(dst + 1, buf, in_pad < out_pad ? in_pad : out_pad);
    dst[0] = cnt;
}

static int proj_kind(const struct obliv_proj *it)
{
    if (it->kind == OBLIV_PROJ_SUBSTR) return OBLIV_PROJ_SUBSTR;
    return it->is_expr || it->kind == OBLIV_PROJ_EXPR ? OBLIV_PROJ_EXPR : OBLIV_PROJ_COL;
}

int obliv_project(const struct obliv_rows *in, const struct obliv_proj *items, size_t nitems,
                  struct obliv_rows *out, mc2_err *err)
{
    mc2_coltype types[OBLIV_MAX_COLS];
    memset(out, 0, sizeof *out);
    if (nitems > OBLIV_MAX_COLS)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious mode: too many projected columns");
    size_t maxpad = 1;
    for (size_t k = 0; k < nitems; k++) {
        int kind = proj_kind(&items[k]);
        if (kind == OBLIV_PROJ_EXPR) {
            if (obliv_expr_check(&items[k].expr, &in->lay, err)) return -1;
            if (items[k].type.id == MC2_T_VARCHAR) /* DOUBLE: the IEEE bits, one word */
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious projection: expression type not supported");
            types[k] = items[k].type;
        } else {
            if (items[k].col >= in->lay.ncols)
                return mc2_err_set(err, MC2_E_USAGE, "oblivious projection: column %u",
                                   items[k].col);
            types[k] = in->lay.col[items[k].col].type;
        }
        if (kind == OBLIV_PROJ_SUBSTR) {
            const struct obliv_col *c = &in->lay.col[items[k].col];
            uint32_t need = items[k].count < c->type.length ? items[k].count : c->type.length;
            if (c->type.id != MC2_T_VARCHAR || items[k].start < 1 ||
                items[k].type.id != MC2_T_VARCHAR || items[k].type.length < need)
                return mc2_err_set(err, MC2_E_USAGE,
                                   "oblivious projection: SUBSTRING of column %u: needs a VARCHAR "
                                   "column, start >= 1 and an output VARCHAR of at least %u",
                                   items[k].col, need);
            types[k] = items[k].type;
            if (8 * (c->nwords - 1) > maxpad) maxpad = 8 * (c->nwords - 1);
        }
    }
    struct obliv_layout lay;
    if (obliv_layout_init(&lay, types, nitems, err)) return -1;
    uint8_t *buf = obliv_zalloc(maxpad, 1);
    if (!buf) return mc2_err_set(err, MC2_E_NOMEM, "oblivious projection: out of memory");
    if (obliv_rows_alloc(out, &lay, in->n, err)) {
        mc2_free_wipe(buf, maxpad);
        return -1;
    }
    uint64_t ovf = 0;
    for (size_t i = 0; i < in->n; i++) {
        const uint64_t *src = obliv_row(in, i);
        uint64_t *dst = obliv_row(out, i), nulls = 0, of = 0;
        dst[OBLIV_W_VALID] = src[OBLIV_W_VALID];
        for (size_t k = 0; k < nitems; k++) {
            int kind = proj_kind(&items[k]);
            if (kind == OBLIV_PROJ_EXPR) { /* public */
                uint64_t v, isnull;
                obliv_expr_eval(&items[k].expr, &in->lay, src, &v, &isnull, &of);
                dst[lay.col[k].word] = v;
                nulls |= isnull << k;
            } else if (kind == OBLIV_PROJ_SUBSTR) {
                const struct obliv_col *c = &in->lay.col[items[k].col];
                uint64_t cs = items[k].start, ce = cs + items[k].count; /* no overflow: u32s */
                /* A NULL value has length 0 and zero bytes: the result is empty. */
                substr_kernel(src + c->word, 8 * (c->nwords - 1), dst + lay.col[k].word,
                              8 * (lay.col[k].nwords - 1), cs, ce, buf);
                nulls |= ((src[OBLIV_W_NULLS] >> items[k].col) & 1) << k;
            } else {
                const struct obliv_col *c = &in->lay.col[items[k].col];
                memcpy(dst + lay.col[k].word, src + c->word, c->nwords * 8);
                nulls |= ((src[OBLIV_W_NULLS] >> items[k].col) & 1) << k;
            }
        }
        dst[OBLIV_W_NULLS] = nulls;
        ovf |= of & src[OBLIV_W_VALID];
    }
    mc2_free_wipe(buf, maxpad);
    if (overflow_check(ovf, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return 0;
}

int obliv_order_by(struct obliv_rows *r, const struct obliv_sortkey *keys, size_t nkeys,
                   const struct obliv_opts *o, mc2_err *err)
{
    size_t kw = 1, n = r->n, w = r->lay.width;
    for (size_t k = 0; k < nkeys; k++) {
        if (keys[k].col >= r->lay.ncols)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious ORDER BY: column %u", keys[k].col);
        kw += obliv_key_nwords(&r->lay, keys[k].col);
    }
    if (n < 2) return 0;
    size_t rw = kw + w, words;
    if (!mc2_mul_size(n, rw, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious ORDER BY: too many rows");
    uint64_t *t = mc2_malloc(words * 8);
    if (!t) return mc2_err_set(err, MC2_E_NOMEM, "oblivious ORDER BY: out of memory");
    for (size_t i = 0; i < n; i++) {
        const uint64_t *row = obliv_row(r, i);
        uint64_t *rec = t + i * rw;
        rec[0] = 1 ^ (row[OBLIV_W_VALID] & 1); /* real rows first */
        size_t at = 1;
        for (size_t k = 0; k < nkeys; k++) {
            obliv_key_encode(&r->lay, row, &keys[k], rec + at);
            at += obliv_key_nwords(&r->lay, keys[k].col);
        }
        memcpy(rec + kw, row, w * 8);
    }
    struct obliv_sort_spec s = {
        .width = rw * 8, .key_off = 0, .key_words = kw, .threads = o->threads};
    obliv_sort(t, n, &s);
    for (size_t i = 0; i < n; i++) memcpy(obliv_row(r, i), t + i * rw + kw, w * 8);
    mc2_free_wipe(t, words * 8);
    return 0;
}

int obliv_limit(struct obliv_rows *r, size_t offset, size_t limit, const struct obliv_opts *o,
                mc2_err *err)
{
    size_t lo = offset < r->n ? offset : r->n;
    size_t hi = limit < r->n - lo ? lo + limit : r->n;
    size_t w = r->lay.width;
    if (lo > 0 && hi > lo) memmove(r->w, r->w + lo * w, (hi - lo) * w * 8);
    r->n = hi - lo;
    uint64_t count = 0;
    for (size_t i = 0; i < r->n; i++) count += obliv_row(r, i)[OBLIV_W_VALID] & 1;
    return obliv_finish(r, count, o, err);
}

int obliv_distinct(struct obliv_rows *r, const struct obliv_opts *o, mc2_err *err)
{
    size_t n = r->n, w = r->lay.width;
    /* Sort by the whole row as unsigned words (any total order groups equal rows), with
     * word 0 flipped so that real rows come first. */
    for (size_t i = 0; i < n; i++) obliv_row(r, i)[OBLIV_W_VALID] ^= 1;
    struct obliv_sort_spec s = {
        .width = w * 8, .key_off = 0, .key_words = w, .threads = o->threads};
    if (n > 1) obliv_sort(r->w, n, &s);
    uint64_t prev_valid = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *row = obliv_row(r, i);
        uint64_t valid = 1 ^ (row[OBLIV_W_VALID] & 1);
        uint64_t same = ct_mask(prev_valid);
        for (size_t j = 1; j < w; j++) same &= ct_eq_u64(row[j], i ? row[j - w] : ~row[j]);
        row[OBLIV_W_VALID] = valid & ~same & 1;
        prev_valid = valid;
    }
    uint64_t count;
    if (obliv_compact_valid(r, &count, err)) return -1;
    return obliv_finish(r, count, o, err);
}

int obliv_union_all(struct obliv_rows *dst, const struct obliv_rows *src, mc2_err *err)
{
    if (dst->lay.width != src->lay.width || dst->lay.ncols != src->lay.ncols)
        return mc2_err_set(err, MC2_E_USAGE, "oblivious UNION: the inputs' columns differ");
    for (size_t c = 0; c < dst->lay.ncols; c++)
        if (dst->lay.col[c].type.id != src->lay.col[c].type.id ||
            dst->lay.col[c].nwords != src->lay.col[c].nwords)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious UNION: column %zu's types differ", c);
    return obliv_rows_append(dst, src, err);
}

int obliv_union(struct obliv_rows *dst, const struct obliv_rows *src, const struct obliv_opts *o,
                mc2_err *err)
{
    if (obliv_union_all(dst, src, err)) return -1;
    return obliv_distinct(dst, o, err);
}
