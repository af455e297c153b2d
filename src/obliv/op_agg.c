/* op_agg.c - oblivious GROUP BY: sort by the group key (real rows first), one boundary
 * scan that folds each aggregate with masks and marks the last row of every group, then
 * order-preserving compaction (op.h). */
#include "base/alloc.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "obliv/sort.h"

#include <string.h>

static int agg_type(const struct obliv_layout *lay, const struct obliv_agg *a, mc2_coltype *t,
                    mc2_err *err)
{
    memset(t, 0, sizeof *t);
    if (a->fn == OA_COUNT_STAR || a->fn == OA_COUNT) {
        t->id = MC2_T_INT64;
        if (a->fn == OA_COUNT && a->col >= lay->ncols) goto bad;
        return 0;
    }
    if (a->col >= lay->ncols || a->fn < OA_COUNT_STAR || a->fn > OA_AVG) goto bad;
    enum mc2_type id = lay->col[a->col].type.id;
    if (id == MC2_T_VARCHAR) goto bad;
    if ((a->fn == OA_SUM || a->fn == OA_AVG) && (id == MC2_T_DATE || id == MC2_T_BOOL)) goto bad;
    *t = lay->col[a->col].type;
    if (a->fn == OA_AVG) {
        memset(t, 0, sizeof *t);
        t->id = MC2_T_DOUBLE;
    }
    return 0;
bad:
    return mc2_err_set(err, MC2_E_USAGE,
                       "oblivious GROUP BY: aggregate %d on column %u is not "
                       "supported",
                       (int)a->fn, a->col);
}

/* The running state of one aggregate. */
struct acc {
    uint64_t v;   /* sum (int64 or double bits), min or max */
    uint64_t cnt; /* contributing rows */
};

/* Folds one row into an aggregate's running state: the state restarts unless `same`
 * (~0: the row continues the group); the row contributes if `contrib` (~0: a real row of
 * the group) and the aggregated column is not NULL. Constant time. */
static void agg_fold(const struct obliv_agg *ag, const struct obliv_layout *lay,
                     const uint64_t *row, struct acc *t, uint64_t same, uint64_t contrib,
                     uint64_t *ovf)
{
    uint64_t cnt = t->cnt & same, v = t->v & same;
    uint64_t x = 0;
    enum mc2_type id = MC2_T_INT64;
    if (ag->fn != OA_COUNT_STAR) {
        const struct obliv_col *c = &lay->col[ag->col];
        id = c->type.id;
        x = row[c->word];
        contrib &= ~ct_mask((row[OBLIV_W_NULLS] >> ag->col) & 1);
    }
    uint64_t first = ct_eq_u64(cnt, 0), nv = v;
    switch (ag->fn) { /* public */
    case OA_COUNT_STAR:
    case OA_COUNT:
        break;
    case OA_SUM:
    case OA_AVG:
        if (id == MC2_T_DOUBLE) {
            nv = mc2_f64_bits(mc2_f64_of(v) + mc2_f64_of(x));
        } else {
            nv = v + x;
            *ovf |= ct_mask(((v ^ nv) & (x ^ nv)) >> 63) & contrib & ~first;
        }
        break;
    case OA_MIN:
    case OA_MAX: {
        uint64_t kx, kv;
        if (id == MC2_T_DOUBLE) {
            kx = obliv_key_f64(mc2_f64_of(x)), kv = obliv_key_f64(mc2_f64_of(v));
        } else {
            kx = obliv_key_i64((int64_t)x), kv = obliv_key_i64((int64_t)v);
        }
        uint64_t take = ag->fn == OA_MIN ? ct_lt_u64(kx, kv) : ct_lt_u64(kv, kx);
        nv = ct_select_u64(take, x, v);
        break;
    }
    }
    nv = ct_select_u64(first, x, nv);
    t->v = ct_select_u64(contrib, nv, v);
    t->cnt = cnt + (contrib & 1);
}

/* Writes the aggregates' current values into output row dst (columns nkeys.. of out) and
 * ORs their null flags into *nulls. lay: the layout the aggregates' columns refer to. */
static void agg_emit(const struct obliv_agg *aggs, size_t naggs, const struct obliv_layout *lay,
                     const struct obliv_layout *out, size_t nkeys, const struct acc *st,
                     uint64_t *dst, uint64_t *nulls)
{
    for (size_t a = 0; a < naggs; a++) {
        uint64_t cnt = st[a].cnt, v = st[a].v, none = ct_eq_u64(cnt, 0);
        if (aggs[a].fn == OA_COUNT_STAR || aggs[a].fn == OA_COUNT) {
            v = cnt;
            none = 0;
        } else if (aggs[a].fn == OA_AVG) {
            uint64_t den = ct_select_u64(none, 1, cnt);
            double sum =
                lay->col[aggs[a].col].type.id == MC2_T_DOUBLE ? mc2_f64_of(v) : (double)(int64_t)v;
            v = mc2_f64_bits(sum / (double)(int64_t)den); /* signed: no branch */
        }
        dst[out->col[nkeys + a].word] = v & ~none;
        *nulls |= (none & 1) << (nkeys + a);
    }
}

/* GROUP BY one one-word key column (not VARCHAR): the fast path. Sorts narrow records
 * [key word | null flags + valid | the key and aggregated columns only] by the ONE key word (the
 * value's order-preserving encoding), so the sort compares one word and swaps few. Dummy rows and
 * NULL-key rows are not separated by the sort: they fall into the run of their key word
 * and contribute nothing there; a run is a group (output row valid) iff a real non-NULL-key
 * row is in it. The NULL group is folded alongside in the same scan (order does not matter
 * to the aggregates) into one extra output row after the others: NULLs last, as before. */
static int group_by_1w(const struct obliv_rows *in, uint32_t key, const struct obliv_agg *aggs,
                       size_t naggs, const struct obliv_layout *lay, struct obliv_rows *out,
                       const struct obliv_opts *o, mc2_err *err)
{
    struct obliv_proj items[OBLIV_MAX_COLS];
    struct obliv_agg na[OBLIV_MAX_COLS];
    items[0] = (struct obliv_proj){.col = key};
    for (size_t a = 0; a < naggs; a++) {
        na[a] = (struct obliv_agg){.fn = aggs[a].fn, .col = (uint32_t)(1 + a)};
        items[1 + a] = (struct obliv_proj){.col = aggs[a].fn == OA_COUNT_STAR ? key : aggs[a].col};
    }
    struct obliv_rows nr;
    if (obliv_project(in, items, 1 + naggs, &nr, err)) return -1;
    /* In place, each narrow row becomes its sort record: word 0 (valid) is replaced by the
     * key word and valid moves to bit 63 of the null flags (columns use bits 0..61). */
    size_t n = nr.n, w = nr.lay.width, kword = nr.lay.col[0].word;
    struct obliv_sortkey sk = {.col = 0};
    for (size_t i = 0; i < n; i++) {
        uint64_t *row = obliv_row(&nr, i), kw[2];
        obliv_key_encode(&nr.lay, row, &sk, kw);
        row[OBLIV_W_NULLS] |= (row[OBLIV_W_VALID] & 1) << 63;
        row[0] = kw[1]; /* the value's encoding; a NULL key's value is 0 */
    }
    struct obliv_sort_spec s = {
        .width = w * 8, .key_off = 0, .key_words = 1, .threads = o->threads};
    if (n > 1) obliv_sort(nr.w, n, &s);
    int rc = -1;
    if (obliv_rows_alloc(out, lay, n + 1, err)) goto done;
    struct acc st[OBLIV_MAX_COLS], stn[OBLIV_MAX_COLS];
    memset(st, 0, sizeof st);
    memset(stn, 0, sizeof stn);
    uint64_t ovf = 0, run = 0, nulls_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *row = obliv_row(&nr, i);
        uint64_t same = i > 0 ? ct_eq_u64(row[0], row[0 - (ptrdiff_t)w]) : 0;
        uint64_t valid = row[OBLIV_W_NULLS] >> 63, knull = row[OBLIV_W_NULLS] & 1;
        uint64_t real = valid & (1 ^ knull), nullrow = valid & knull;
        if (i > 0) /* the previous record ends a group unless this one continues its run */
            obliv_row(out, i - 1)[OBLIV_W_VALID] = ~same & ct_nonzero(run) & 1;
        run = (run & same) + real;
        nulls_seen |= nullrow;
        for (size_t a = 0; a < naggs; a++) {
            agg_fold(&na[a], &nr.lay, row, &st[a], same, ct_mask(real), &ovf);
            agg_fold(&na[a], &nr.lay, row, &stn[a], ~(uint64_t)0, ct_mask(nullrow), &ovf);
        }
        uint64_t *dst = obliv_row(out, i), nulls = 0;
        dst[lay->col[0].word] = row[kword] & ~ct_mask(knull); /* the run's key value */
        agg_emit(na, naggs, &nr.lay, lay, 1, st, dst, &nulls);
        dst[OBLIV_W_NULLS] = nulls;
    }
    if (n > 0) obliv_row(out, n - 1)[OBLIV_W_VALID] = ct_nonzero(run) & 1;
    uint64_t *dst = obliv_row(out, n), nulls = 1; /* the NULL group */
    agg_emit(na, naggs, &nr.lay, lay, 1, stn, dst, &nulls);
    dst[OBLIV_W_NULLS] = nulls;
    dst[OBLIV_W_VALID] = nulls_seen & 1;
    if (obliv_declassify(ovf & 1)) {
        mc2_err_set(err, MC2_E_INPUT, "oblivious mode: arithmetic overflow in SUM");
        goto done;
    }
    uint64_t count;
    if (obliv_compact_valid(out, &count, err)) goto done;
    out->n = n; /* public: at most one row per input row is real, and those come first */
    if (obliv_finish(out, count, o, err)) goto done;
    rc = 0;
done:
    if (rc) obliv_rows_free(out);
    obliv_rows_free(&nr);
    return rc;
}

int obliv_group_by(const struct obliv_rows *in, const uint32_t *keys, size_t nkeys,
                   const struct obliv_agg *aggs, size_t naggs, struct obliv_rows *out,
                   const struct obliv_opts *o, mc2_err *err)
{
    mc2_coltype types[OBLIV_MAX_COLS];
    if (nkeys + naggs > OBLIV_MAX_COLS || naggs == 0)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious GROUP BY: %zu keys and %zu aggregates",
                           nkeys, naggs);
    for (size_t k = 0; k < nkeys; k++) {
        if (keys[k] >= in->lay.ncols)
            return mc2_err_set(err, MC2_E_USAGE, "oblivious GROUP BY: column %u", keys[k]);
        types[k] = in->lay.col[keys[k]].type;
    }
    for (size_t a = 0; a < naggs; a++)
        if (agg_type(&in->lay, &aggs[a], &types[nkeys + a], err)) return -1;
    struct obliv_layout lay;
    if (obliv_layout_init(&lay, types, nkeys + naggs, err)) return -1;
    if (nkeys == 1 && in->lay.col[keys[0]].type.id != MC2_T_VARCHAR)
        return group_by_1w(in, keys[0], aggs, naggs, &lay, out, o, err);
    struct obliv_sortkey sk[OBLIV_MAX_COLS];
    for (size_t k = 0; k < nkeys; k++) sk[k] = (struct obliv_sortkey){.col = keys[k]};

    /* A sorted copy of the input (the input is left as it was). */
    struct obliv_rows s;
    if (obliv_rows_alloc(&s, &in->lay, in->n, err)) return -1;
    memcpy(s.w, in->w, in->n * in->lay.width * 8);
    if (nkeys > 0 && obliv_order_by(&s, sk, nkeys, o, err)) {
        obliv_rows_free(&s);
        return -1;
    }
    size_t n = s.n, nout = nkeys > 0 ? n : 1; /* global aggregate: one row, always */
    if (obliv_rows_alloc(out, &lay, nout, err)) {
        obliv_rows_free(&s);
        return -1;
    }
    struct acc st[OBLIV_MAX_COLS];
    memset(st, 0, sizeof st);
    uint64_t ovf = 0, prev_valid = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *row = obliv_row(&s, i);
        uint64_t valid = row[OBLIV_W_VALID] & 1;
        /* same group as the previous row: both real and every key column equal. */
        uint64_t same = ct_mask(valid & prev_valid);
        for (size_t k = 0; k < nkeys && i > 0; k++)
            same &= obliv_col_eq(&in->lay, keys[k], row, row - in->lay.width);
        if (nkeys == 0) same = ~(uint64_t)0;
        if (nkeys > 0 && i > 0) /* the previous row ends a group unless this one continues it */
            obliv_row(out, i - 1)[OBLIV_W_VALID] = prev_valid & ~same & 1;
        for (size_t a = 0; a < naggs; a++)
            agg_fold(&aggs[a], &in->lay, row, &st[a], same, ct_mask(valid), &ovf);
        /* This row's output: the keys and the aggregates so far (final at a group's end). */
        uint64_t *dst = obliv_row(out, nkeys > 0 ? i : 0), nulls = 0;
        for (size_t k = 0; k < nkeys; k++) {
            const struct obliv_col *c = &in->lay.col[keys[k]];
            memcpy(dst + lay.col[k].word, row + c->word, c->nwords * 8);
            nulls |= ((row[OBLIV_W_NULLS] >> keys[k]) & 1) << k;
        }
        agg_emit(aggs, naggs, &in->lay, &lay, nkeys, st, dst, &nulls);
        dst[OBLIV_W_NULLS] = nulls;
        prev_valid = valid;
    }
    if (nkeys == 0) {
        /* n == 0 leaves the zeroed row: the aggregates of an empty input. */
        uint64_t *dst = obliv_row(out, 0);
        dst[OBLIV_W_VALID] = 1;
        if (n == 0)
            for (size_t a = 0; a < naggs; a++)
                if (aggs[a].fn != OA_COUNT_STAR && aggs[a].fn != OA_COUNT)
                    dst[OBLIV_W_NULLS] |= (uint64_t)1 << a;
    } else if (n > 0) {
        obliv_row(out, n - 1)[OBLIV_W_VALID] = prev_valid;
    }
    obliv_rows_free(&s);
    if (obliv_declassify(ovf & 1)) {
        obliv_rows_free(out);
        return mc2_err_set(err, MC2_E_INPUT, "oblivious mode: arithmetic overflow in SUM");
    }
    if (nkeys == 0) return 0;
    uint64_t count;
    if (obliv_compact_valid(out, &count, err) || obliv_finish(out, count, o, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return 0;
}
