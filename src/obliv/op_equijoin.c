/* op_equijoin.c - oblivious general equi-join (op.h; Krastnikov, Kerschbaum, Stebila,
 * VLDB 2020).
 *
 * Working records, R words each: [0] 1 - real | [1, 1 + kw) key words | [X] sort extra (the
 * side in step 1, the alignment index in step 4) | [A1] alpha_a | [A2] alpha_b | [D] a
 * destination index or a scan flag | [P ...] the row (pw words).
 *
 *   1. both sides into one array, sorted by (real first, key, side); a forward scan counts
 *      each side's rows per group, a backward scan spreads the totals: alpha_a, alpha_b;
 *      m = sum over real a rows of alpha_b (a secret) -> public m, or the public bound;
 *   2. per side: compaction of the rows that contribute (real, non-NULL key, other side's
 *      alpha > 0; key order kept), destinations = prefix sums of the multiplicities, the
 *      paper's oblivious distribution into M slots, then fill-down (each empty slot takes
 *      its left neighbour) -- every a row now appears alpha_b times, every b row alpha_a;
 *   3. the expanded b side: a scan numbers the copies (p = copy, q = which b row of the
 *      group, without division), a sort by (key, p * alpha_b + q) aligns it with the a side;
 *   4. zip. */
#include "base/alloc.h"
#include "obliv/compact.h"
#include "obliv/ct.h"
#include "obliv/op_int.h"
#include "obliv/sort.h"

#include <string.h>

struct jl { /* record layout */
    size_t kw, X, A1, A2, D, P, pw, R;
};

/* Paper's Algorithm "distribute": records with real destinations dest (strictly
 * increasing, dest >= position) move to slot dest; routing from the largest power of two
 * down, slots from right to left. Never moves an unreal record by itself. */
static void distribute(uint64_t *e, size_t m, const struct jl *L)
{
    unsigned nb = 0;
    while (nb < 63 && ((size_t)1 << nb) < m) nb++;
    for (unsigned j = nb; j-- > 0;) {
        size_t s = (size_t)1 << j;
        for (size_t i = m - s; i-- > 0;) {
            uint64_t *r = e + i * L->R;
            uint64_t real = ct_mask(1 ^ (r[0] & 1));
            uint64_t mv = real & ~ct_lt_u64(r[L->D], ct_barrier(i + s));
            ct_cswap_bytes(mv, r, r + s * L->R, L->R * 8);
        }
    }
}

/* Step 2 for one side: the rows of c (n records) with side bit `side` and multiplicity
 * taken from word `mw`, expanded into M slots of e; slots [0, m) real. */
static int expand_side(const uint64_t *c, size_t n, uint64_t side, size_t mw, uint64_t m, size_t M,
                       const struct jl *L, uint64_t *e, mc2_err *err)
{
    size_t R = L->R;
    uint64_t *t = obliv_zalloc(n ? n : 1, R * 8);
    uint8_t *marks = obliv_zalloc(n ? n : 1, 1);
    uint64_t *scratch = obliv_zalloc(n ? n : 1, 8);
    if (!t || !marks || !scratch) {
        mc2_free(t);
        mc2_free(marks);
        mc2_free(scratch);
        return mc2_err_set(err, MC2_E_NOMEM, "oblivious join: out of memory");
    }
    memcpy(t, c, n * R * 8);
    for (size_t i = 0; i < n; i++) {
        uint64_t *r = t + i * R;
        uint64_t keep = (1 ^ (r[0] & 1)) & ct_eq_u64(r[L->X], side) & ct_nonzero(r[mw]) & 1;
        r[0] = 1 ^ keep;
        marks[i] = (uint8_t)keep;
    }
    obliv_compact(t, n, R * 8, marks, scratch);
    uint64_t dest = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *r = t + i * R;
        uint64_t keep = ct_mask(1 ^ (r[0] & 1));
        r[L->D] = dest & keep;
        dest += r[mw] & keep;
    }
    size_t ncopy = n < M ? n : M; /* kept rows <= m <= M: none is lost */
    memset(e, 0, M * R * 8);
    for (size_t i = ncopy; i < M; i++) e[i * R] = 1;
    memcpy(e, t, ncopy * R * 8);
    distribute(e, M, L);
    for (size_t i = 1; i < M; i++) {
        uint64_t *r = e + i * R;
        ct_cmov_bytes(ct_mask(r[0] & 1), r, r - R, R * 8);
    }
    /* The loop index passes through a barrier: without it GCC -O3 strength-reduces the
     * 128-bit borrow of ct_lt_u64(i, m) into the loop's induction variable and tests the
     * loop's exit on a value derived from m (memcheck caught this). */
    for (size_t i = 0; i < M; i++) e[i * R] = 1 ^ (ct_lt_u64(ct_barrier(i), m) & 1);
    mc2_free_wipe(t, (n ? n : 1) * R * 8);
    mc2_free_wipe(marks, n ? n : 1);
    mc2_free_wipe(scratch, (n ? n : 1) * 8);
    return 0;
}

int obliv_equi_join(const struct obliv_rows *a, const uint32_t *a_cols, const struct obliv_rows *b,
                    const uint32_t *b_cols, size_t nkeys, struct obliv_rows *out,
                    const struct obliv_opts *o, mc2_err *err)
{
    memset(out, 0, sizeof *out);
    struct jl L;
    if (obliv_join_keys_check(&a->lay, a_cols, &b->lay, b_cols, nkeys, &L.kw, err)) return -1;
    struct obliv_layout lay;
    if (obliv_layout_concat(&lay, &a->lay, &b->lay, err)) return -1;
    L.X = 1 + L.kw, L.A1 = L.X + 1, L.A2 = L.X + 2, L.D = L.X + 3, L.P = L.X + 4;
    size_t wa = a->lay.width, wb = b->lay.width;
    L.pw = wa > wb ? wa : wb;
    L.R = L.P + L.pw;
    size_t n, words;
    if (!mc2_add_size(a->n, b->n, &n) || !mc2_mul_size(n, L.R, &words) || words > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT, "oblivious join: too many rows");
    uint64_t *c = obliv_zalloc(n ? n : 1, L.R * 8);
    if (!c) return mc2_err_set(err, MC2_E_NOMEM, "oblivious join: out of memory");
    size_t R = L.R;
    for (size_t i = 0; i < n; i++) {
        uint64_t *r = c + i * R;
        int side = i >= a->n; /* public */
        const uint64_t *row = side ? obliv_row(b, i - a->n) : obliv_row(a, i);
        uint64_t anynull = obliv_join_keys_encode(side ? &b->lay : &a->lay, side ? b_cols : a_cols,
                                                  nkeys, row, r + 1);
        /* A NULL key never matches: such a row is treated as not real. */
        r[0] = 1 ^ ((row[OBLIV_W_VALID] & 1) & (1 ^ anynull));
        r[L.X] = (uint64_t)side;
        memcpy(r + L.P, row, (side ? wb : wa) * 8);
    }
    struct obliv_sort_spec s1 = {
        .width = R * 8, .key_off = 0, .key_words = 2 + L.kw, .threads = o->threads};
    if (n > 1) obliv_sort(c, n, &s1);
    /* Forward: running counts per group; D = 1 if the record continues the previous group. */
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t *r = c + i * R, real = 1 ^ (r[0] & 1), same = 0;
        if (i > 0) { /* public */
            same = ct_mask(real & (1 ^ (r[-(ptrdiff_t)R] & 1)));
            for (size_t w = 0; w < L.kw; w++) same &= ct_eq_u64(r[1 + w], r[1 + w - R]);
        }
        uint64_t isb = r[L.X] & 1;
        c1 = (c1 & same) + (real & (1 ^ isb));
        c2 = (c2 & same) + (real & isb);
        r[L.A1] = c1, r[L.A2] = c2, r[L.D] = same & 1;
    }
    /* Backward: each record takes its group's totals (from the group's last record). */
    uint64_t t1 = 0, t2 = 0, next_same = 0, m = 0;
    for (size_t i = n; i-- > 0;) {
        uint64_t *r = c + i * R, ns = ct_mask(next_same);
        t1 = ct_select_u64(ns, t1, r[L.A1]);
        t2 = ct_select_u64(ns, t2, r[L.A2]);
        uint64_t real = ct_mask(1 ^ (r[0] & 1));
        r[L.A1] = t1 & real, r[L.A2] = t2 & real;
        m += r[L.A2] & ~ct_mask(r[L.X] & 1); /* a rows: alpha_b each */
        next_same = r[L.D];
    }
    size_t M;
    if (o->leak == OBLIV_REVEAL) {
        uint64_t pm = obliv_declassify(m);
        if (pm > SIZE_MAX / 2 / R) {
            mc2_free_wipe(c, (n ? n : 1) * R * 8);
            return mc2_err_set(err, MC2_E_LIMIT, "oblivious join: output of %llu rows is too big",
                               (unsigned long long)pm);
        }
        M = (size_t)pm;
    } else {
        if (obliv_declassify(ct_lt_u64((uint64_t)o->bound, m) & 1)) {
            mc2_free_wipe(c, (n ? n : 1) * R * 8);
            return mc2_err_set(err, MC2_E_LIMIT,
                               "oblivious join: output exceeds the padding bound %zu rows given "
                               "in the job",
                               o->bound);
        }
        M = o->bound;
    }
    uint64_t *e1 = obliv_zalloc(M ? M : 1, R * 8), *e2 = obliv_zalloc(M ? M : 1, R * 8);
    int rc = -1;
    if (!e1 || !e2) {
        mc2_err_set(err, MC2_E_NOMEM, "oblivious join: out of memory");
        goto out;
    }
    if (expand_side(c, n, 0, L.A2, m, M, &L, e1, err) ||
        expand_side(c, n, 1, L.A1, m, M, &L, e2, err))
        goto out;
    /* Align the b side: copy p of b row q of a group goes to p * alpha_b + q. */
    uint64_t p = 0, q = 0;
    for (size_t i = 0; i < M; i++) {
        uint64_t *r = e2 + i * R, real = 1 ^ (r[0] & 1), same = 0;
        if (i > 0) {
            same = ct_mask(real & (1 ^ (r[-(ptrdiff_t)R] & 1)));
            for (size_t w = 0; w < L.kw; w++) same &= ct_eq_u64(r[1 + w], r[1 + w - R]);
        }
        uint64_t np = p + 1, wrap = ct_eq_u64(np, r[L.A1]);
        uint64_t nq = ct_select_u64(wrap, q + 1, q);
        np = np & ~wrap;
        p = np & same, q = nq & same;
        r[L.X] = p * r[L.A2] + q;
    }
    struct obliv_sort_spec s2 = {
        .width = R * 8, .key_off = 0, .key_words = 2 + L.kw, .threads = o->threads};
    if (M > 1) obliv_sort(e2, M, &s2);
    if (obliv_rows_alloc(out, &lay, M, err)) goto out;
    size_t na = a->lay.ncols;
    for (size_t i = 0; i < M; i++) {
        const uint64_t *x = e1 + i * R + L.P, *y = e2 + i * R + L.P;
        uint64_t *d = obliv_row(out, i);
        d[OBLIV_W_VALID] = 1 ^ (e1[i * R] & 1);
        d[OBLIV_W_NULLS] = x[OBLIV_W_NULLS] | (y[OBLIV_W_NULLS] << na);
        memcpy(d + OBLIV_W_COLS, x + OBLIV_W_COLS, (wa - OBLIV_W_COLS) * 8);
        memcpy(d + wa, y + OBLIV_W_COLS, (wb - OBLIV_W_COLS) * 8);
    }
    rc = obliv_finish(out, m, o, err);
    if (rc) obliv_rows_free(out);
out:
    if (e1) mc2_free_wipe(e1, (M ? M : 1) * R * 8);
    if (e2) mc2_free_wipe(e2, (M ? M : 1) * R * 8);
    mc2_free_wipe(c, (n ? n : 1) * R * 8);
    return rc;
}
