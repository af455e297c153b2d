/* op_join.c - oblivious PK-FK join (op.h).
 *
 * Records [1 - real | key words | side | payload] for both tables (side 0: the pk row,
 * side 1: an fk row) are sorted together by (real first, key, side), so every fk row
 * follows the pk row with its key, if any. One scan carries the last pk record down with
 * masked moves and emits, for each fk record, the joined row, valid iff the carried pk
 * row is real and has the same key (a row with a NULL key column counts as not real).
 * Compaction brings the matches to the front. */
#include "base/alloc.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "obliv/sort.h"

#include <string.h>

int obliv_pkfk_join(const struct obliv_rows *pk, const uint32_t *pk_cols,
                    const struct obliv_rows *fk, const uint32_t *fk_cols, size_t nkeys,
                    struct obliv_rows *out, const struct obliv_opts *o, mc2_err *err)
{
    size_t kw; /* key words: per key column a null word + value words */
    if (obliv_join_keys_check(&pk->lay, pk_cols, &fk->lay, fk_cols, nkeys, &kw, err)) return -1;
    struct obliv_layout lay;
    if (obliv_layout_concat(&lay, &pk->lay, &fk->lay, err)) return -1;
    size_t wp = pk->lay.width, wf = fk->lay.width, pw = wp > wf ? wp : wf;
    size_t rw = 1 + kw + 1 + pw, n, words;
    if (!mc2_add_size(pk->n, fk->n, &n) || !mc2_mul_size(n, rw, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious join: too many rows");
    uint64_t *t = obliv_zalloc(words ? words : 1, 8);
    if (!t) return mc2_err_set(err, MC2_E_NOMEM, "oblivious join: out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t *rec = t + i * rw;
        int side = i >= pk->n; /* public */
        const uint64_t *row = side ? obliv_row(fk, i - pk->n) : obliv_row(pk, i);
        uint64_t anynull = obliv_join_keys_encode(side ? &fk->lay : &pk->lay,
                                                  side ? fk_cols : pk_cols, nkeys, row, rec + 1);
        /* A row with a NULL key never matches (and is no duplicate): it counts as not real. */
        rec[0] = 1 ^ (row[OBLIV_W_VALID] & 1 & (1 ^ anynull));
        rec[1 + kw] = (uint64_t)side;
        memcpy(rec + 2 + kw, row, (side ? wf : wp) * 8);
    }
    struct obliv_sort_spec s = {
        .width = rw * 8, .key_off = 0, .key_words = 2 + kw, .threads = o->threads};
    if (n > 1) obliv_sort(t, n, &s);
    if (obliv_rows_alloc(out, &lay, n, err)) {
        mc2_free_wipe(t, (words ? words : 1) * 8);
        return -1;
    }
    uint64_t *carry = obliv_zalloc(rw, 8);
    if (!carry) {
        mc2_free_wipe(t, (words ? words : 1) * 8);
        obliv_rows_free(out);
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious join: out of memory");
    }
    carry[0] = 1; /* no pk row yet: not real */
    uint64_t dup = 0, np = pk->lay.ncols;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *rec = t + i * rw;
        uint64_t real = 1 ^ (rec[0] & 1), isfk = rec[1 + kw] & 1;
        uint64_t keyeq = ~(uint64_t)0;
        for (size_t w = 0; w < kw; w++) keyeq &= ct_eq_u64(rec[1 + w], carry[1 + w]);
        uint64_t carried_real = ct_mask(1 ^ (carry[0] & 1));
        uint64_t is_pk = ct_mask(real & (1 ^ isfk));
        dup |= is_pk & carried_real & keyeq & 1 & ~isfk;
        ct_cmov_bytes(is_pk, carry, rec, rw * 8);
        uint64_t match = ct_mask(real & isfk) & carried_real & keyeq;
        const uint64_t *prow = carry + 2 + kw, *frow = rec + 2 + kw;
        uint64_t *dst = obliv_row(out, i);
        dst[OBLIV_W_VALID] = match & 1;
        dst[OBLIV_W_NULLS] = prow[OBLIV_W_NULLS] | (frow[OBLIV_W_NULLS] << np);
        memcpy(dst + OBLIV_W_COLS, prow + OBLIV_W_COLS, (wp - OBLIV_W_COLS) * 8);
        memcpy(dst + wp, frow + OBLIV_W_COLS, (wf - OBLIV_W_COLS) * 8);
    }
    mc2_free_wipe(carry, rw * 8);
    mc2_free_wipe(t, (words ? words : 1) * 8);
    if (obliv_declassify(dup & 1)) {
        obliv_rows_free(out);
        return mc2_err_set(err, MC2_E_INPUT,
                           "oblivious join: the primary-key side has a duplicate key");
    }
    uint64_t count;
    if (obliv_compact_valid(out, &count, err) || obliv_finish(out, count, o, err)) {
        obliv_rows_free(out);
        return -1;
    }
    return 0;
}
