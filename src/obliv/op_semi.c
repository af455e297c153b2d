/* op_semi.c - oblivious semi / anti join and the cross join with a predicate (op.h).
 *
 * Semi / anti: records [1 - sortreal | key words | side (b 0, a 1) | flags | a's row] for
 * both sides, sorted together by (sortreal first, key, side), so every a record follows the
 * real b records of its key. A b row is "sortreal" iff it is real with no NULL key; an a
 * row iff it is real (its NULL key, if any, then compares unequal to every carried b key,
 * whose null words are all 0). One scan carries the last sortreal b key down with masked
 * moves; an a record matches iff something was carried and the keys are equal. The marks
 * (SEMI: real a and match; ANTI: real a and no match; NOT IN folds in "b has a real NULL
 * key" and "b has no real row", both secret bits from a scan over b) become the valid
 * words of the output rows, which are then compacted.
 *
 * Cross join: a fixed double loop over the public na x nb pairs. */
#include "base/alloc.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "obliv/sort.h"

#include <string.h>

int obliv_semi_join(const struct obliv_rows *a, const uint32_t *a_cols, const struct obliv_rows *b,
                    const uint32_t *b_cols, size_t nkeys, int anti, int null_aware,
                    struct obliv_rows *out, const struct obliv_opts *o, mc2_err *err)
{
    memset(out, 0, sizeof *out);
    size_t kw;
    if (obliv_join_keys_check(&a->lay, a_cols, &b->lay, b_cols, nkeys, &kw, err)) return -1;
    if (null_aware && (!anti || nkeys != 1))
        return mc2_err_set(err, MC2_E_USAGE,
                           "oblivious semi join: NULL-aware only for an anti join on one key");
    size_t wa = a->lay.width, F = 2 + kw, P = 3 + kw, rw = P + wa, n, words;
    if (!mc2_add_size(a->n, b->n, &n) || !mc2_mul_size(n, rw, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious semi join: too many rows");
    uint64_t *t = obliv_zalloc(words ? words : 1, 8), *carry = obliv_zalloc(kw, 8);
    if (!t || !carry) {
        if (t) mc2_free_wipe(t, (words ? words : 1) * 8);
        if (carry) mc2_free_wipe(carry, kw * 8);
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious semi join: out of memory");
    }
    /* "b has a real row with a NULL key", "b has a real row": secret bits. */
    uint64_t b_null = 0, b_any = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *rec = t + i * rw;
        int side_a = i >= b->n; /* public: b's rows first */
        const uint64_t *row = side_a ? obliv_row(a, i - b->n) : obliv_row(b, i);
        uint64_t valid = row[OBLIV_W_VALID] & 1;
        uint64_t anynull = obliv_join_keys_encode(side_a ? &a->lay : &b->lay,
                                                  side_a ? a_cols : b_cols, nkeys, row, rec + 1);
        if (side_a) { /* public */
            rec[0] = 1 ^ valid;
            rec[F] = anynull;
            memcpy(rec + P, row, wa * 8);
        } else {
            rec[0] = 1 ^ (valid & (1 ^ anynull));
            b_null |= valid & anynull;
            b_any |= valid;
        }
        rec[1 + kw] = (uint64_t)side_a;
    }
    struct obliv_sort_spec s = {
        .width = rw * 8, .key_off = 0, .key_words = 2 + kw, .threads = o->threads};
    if (n > 1) obliv_sort(t, n, &s);
    uint64_t carried = 0;
    uint64_t want = anti ? 0 : ~(uint64_t)0; /* SEMI keeps matches, ANTI the others */
    uint64_t na_ok = ~(uint64_t)0, na_nullok = ~(uint64_t)0;
    if (null_aware) { /* public */
        na_ok = ~ct_mask(b_null & 1);
        na_nullok = ~ct_mask(b_any & 1);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t *rec = t + i * rw;
        uint64_t real = ct_mask(1 ^ (rec[0] & 1)), isa = ct_mask(rec[1 + kw] & 1);
        uint64_t keyeq = ct_mask(carried);
        for (size_t w = 0; w < kw; w++) keyeq &= ct_eq_u64(rec[1 + w], carry[w]);
        uint64_t isb = real & ~isa;
        for (size_t w = 0; w < kw; w++) carry[w] = ct_select_u64(isb, rec[1 + w], carry[w]);
        carried |= isb & 1;
        uint64_t keep = real & isa & ~(keyeq ^ want) & na_ok;
        keep &= ~ct_mask(rec[F] & 1) | na_nullok;
        rec[P + OBLIV_W_VALID] = keep & 1;
    }
    mc2_free_wipe(carry, kw * 8);
    int rc = -1;
    if (obliv_rows_alloc(out, &a->lay, n, err)) goto done;
    for (size_t i = 0; i < n; i++) memcpy(obliv_row(out, i), t + i * rw + P, wa * 8);
    uint64_t count;
    if (obliv_compact_valid(out, &count, err)) goto done;
    out->n = a->n; /* public: at most a's rows are kept, and they are in front now */
    if (obliv_finish(out, count, o, err)) goto done;
    rc = 0;
done:
    if (rc) obliv_rows_free(out);
    mc2_free_wipe(t, (words ? words : 1) * 8);
    return rc;
}

int obliv_cross_join(const struct obliv_rows *a, const struct obliv_rows *b,
                     const struct obliv_expr *pred, struct obliv_rows *out,
                     const struct obliv_opts *o, mc2_err *err)
{
    memset(out, 0, sizeof *out);
    struct obliv_layout lay;
    if (obliv_layout_concat(&lay, &a->lay, &b->lay, err)) return -1;
    if (pred && obliv_expr_check(pred, &lay, err)) return -1;
    size_t n;
    if (!mc2_mul_size(a->n, b->n, &n) || n > OBLIV_CROSS_MAX)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "oblivious cross join: %zu x %zu rows exceed the limit of %zu pairs",
                           a->n, b->n, OBLIV_CROSS_MAX);
    if (obliv_rows_alloc(out, &lay, n, err)) return -1;
    size_t wa = a->lay.width, wb = b->lay.width, na = a->lay.ncols;
    uint64_t ovf = 0;
    for (size_t i = 0; i < a->n; i++) {
        const uint64_t *x = obliv_row(a, i);
        for (size_t j = 0; j < b->n; j++) {
            const uint64_t *y = obliv_row(b, j);
            uint64_t *d = obliv_row(out, i * b->n + j);
            d[OBLIV_W_NULLS] = x[OBLIV_W_NULLS] | (y[OBLIV_W_NULLS] << na);
            memcpy(d + OBLIV_W_COLS, x + OBLIV_W_COLS, (wa - OBLIV_W_COLS) * 8);
            memcpy(d + wa, y + OBLIV_W_COLS, (wb - OBLIV_W_COLS) * 8);
            uint64_t valid = x[OBLIV_W_VALID] & y[OBLIV_W_VALID] & 1;
            if (pred) { /* public */
                uint64_t v, isnull, of = 0;
                obliv_expr_eval(pred, &lay, d, &v, &isnull, &of);
                ovf |= of & valid;
                valid &= ct_nonzero(v) & 1 & (1 ^ isnull);
            }
            d[OBLIV_W_VALID] = valid;
        }
    }
    if (obliv_declassify(ovf & 1)) {
        obliv_rows_free(out);
        return mc2_err_set(err, MC2_E_INPUT, "oblivious mode: arithmetic overflow");
    }
    uint64_t count;
    if (obliv_compact_valid(out, &count, err) || obliv_finish(out, count, o, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return 0;
}
