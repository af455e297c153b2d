/* triples.c - Beaver triples over Z_2^64 from OT-based multiplication (triples.h).
 *
 * Party i draws its shares a_i, b_i (A_i, B_i) at random. The product of the sums is
 *   a b = sum_i a_i b_i + sum_{i != j} a_i b_j,
 * the first terms local, every cross term a_i b_j turned into additive shares of i and j by
 * Gilboa's multiplication over the session in which i is the OT sender and j the receiver:
 *
 *   for every bit t of the receiver's b_j (choice bit c_t), one random OT (ot.h) gives i the
 *   keys K0_t, K1_t and j the key K{c_t}_t; V(K) is the key stretched to w 64-bit words
 *   (w = 1 or 2: the key's halves; else the fixed-key hash H(K, 2^63 + h) for h < w/2, whose
 *   tweaks the extension never uses). Then
 *     i -> j   d_t = V(K0_t) - V(K1_t) + x * 2^t      (x: i's w-word factor, per word)
 *     i's share  -sum_t V(K0_t)
 *     j's share   sum_t (V(K{c_t}_t) + c_t d_t)       (= V(K0_t) + c_t x 2^t per t)
 *   and the two shares add up to x * b_j mod 2^64.
 *
 * Element-wise triples: one product per element (w = 1, x = a_i[e], b_j[e] chosen on).
 * Matrix triples, A m x k, B k x n: one product per entry B_j[l][c] (w = m, x = column l of
 * A_i), whose shares add into column c of C. So a matrix triple takes 64 k n OTs per ordered
 * pair instead of the 64 m k n of as many element products; the corrections are the same
 * size.
 *
 * Rounds, per chunk of products (every send before a wait, so no pair blocks another):
 *   1. for every peer j: as receiver, choose on this party's b (random OT: sends only);
 *   2. for every peer j: as sender, finish the random OTs, send the corrections d;
 *   3. for every peer j: receive j's corrections, add up this party's shares.
 * The OT sessions are set up on first use, pair by pair in one global order (lower index
 * first: session lower -> higher, then higher -> lower), which every party follows. */
#include "mpc/triples.h"

#include <string.h>

#include "base/alloc.h"
#include "mc2/crypto.h"
#include "mpc/ot.h"

enum { OTS_PER_CHUNK = 1 << 16, WORDS_PER_CHUNK = 1 << 20 };

struct tsrc {
    mpc_net *net;
    uint32_t self, n;
    bool ready, broken;
    mpc_ot *snd[MPC_MAX_PARTIES]; /* this party the OT sender to party j */
    mpc_ot *rcv[MPC_MAX_PARTIES]; /* this party the OT receiver from party j */
    mpc_prg *rng;
    mpc_crh *crh;
    uint64_t made;
    /* scratch, sized for one chunk */
    uint8_t *choice;
    mpc_block *k0, *k1;
    mpc_block *keys[MPC_MAX_PARTIES]; /* round 1's keys per peer, kept to round 3 */
    uint64_t *d, *v0, *v1, *xs;
    size_t cap_ots, cap_words, cap_w;
};

/* One batch of products: entry q (< nq) multiplies the receiver's y[q] by the sender's
 * w-word factor x(q), its shares adding into out at pos(q, r) for r < w. */
struct prods {
    size_t nq, w;
    const uint64_t *y;
    const uint64_t *xa; /* element-wise: a[q]; matrix: A (m x k), x(q)[r] = A[r][q / n] */
    size_t k, n;        /* matrix only */
    bool matrix;
    uint64_t *out;
};

static inline uint64_t px(const struct prods *p, size_t q, size_t r)
{
    return p->matrix ? p->xa[r * p->k + q / p->n] : p->xa[q];
}

static inline size_t ppos(const struct prods *p, size_t q, size_t r)
{
    return p->matrix ? r * p->n + q % p->n : q;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int sessions(struct tsrc *s, mc2_err *err)
{
    if (s->ready) return 0;
    for (uint32_t lo = 0; lo < s->n; lo++)
        for (uint32_t hi = lo + 1; hi < s->n; hi++) {
            if (s->self == lo) {
                if (mpc_ot_setup(s->net, hi, true, &s->snd[hi], err) ||
                    mpc_ot_setup(s->net, hi, false, &s->rcv[hi], err))
                    return -1;
            } else if (s->self == hi) {
                if (mpc_ot_setup(s->net, lo, false, &s->rcv[lo], err) ||
                    mpc_ot_setup(s->net, lo, true, &s->snd[lo], err))
                    return -1;
            }
        }
    s->ready = true;
    return 0;
}

/* Scratch for chunks of up to ots OTs with w-word factors. */
static int scratch(struct tsrc *s, size_t ots, size_t w, mc2_err *err)
{
    size_t words = ots * w; /* bounded by the caller's chunking */
    if (ots <= s->cap_ots && words <= s->cap_words && w <= s->cap_w) return 0;
    if (ots > s->cap_ots) {
        size_t old = s->cap_ots * sizeof(mpc_block);
        if (s->choice) mc2_free_wipe(s->choice, s->cap_ots);
        if (s->k0) mc2_free_wipe(s->k0, old);
        if (s->k1) mc2_free_wipe(s->k1, old);
        s->choice = mc2_malloc(ots);
        s->k0 = mc2_malloc(ots * sizeof(mpc_block));
        s->k1 = mc2_malloc(ots * sizeof(mpc_block));
        for (uint32_t j = 0; j < s->n; j++) {
            if (s->keys[j]) mc2_free_wipe(s->keys[j], old);
            s->keys[j] = j == s->self ? NULL : mc2_malloc(ots * sizeof(mpc_block));
        }
        s->cap_ots = ots;
    }
    if (words > s->cap_words) {
        mc2_free(s->d); /* corrections: sent in the clear, not secret */
        s->d = mc2_malloc(words * sizeof(uint64_t));
        s->cap_words = words;
    }
    if (w > s->cap_w) {
        if (s->v0) mc2_free_wipe(s->v0, (s->cap_w + 1) * sizeof(uint64_t));
        if (s->v1) mc2_free_wipe(s->v1, (s->cap_w + 1) * sizeof(uint64_t));
        if (s->xs) mc2_free_wipe(s->xs, s->cap_w * sizeof(uint64_t));
        s->v0 = mc2_malloc((w + 1) * sizeof(uint64_t));
        s->v1 = mc2_malloc((w + 1) * sizeof(uint64_t));
        s->xs = mc2_malloc(w * sizeof(uint64_t));
        s->cap_w = w;
    }
    bool ok = s->choice && s->k0 && s->k1 && s->d && s->v0 && s->v1 && s->xs;
    for (uint32_t j = 0; j < s->n; j++) ok &= j == s->self || s->keys[j] != NULL;
    if (!ok) /* the source refuses later calls (broken): no retry on half-allocated scratch */
        return mc2_err_set(err, MC2_E_NOMEM, "mpc triples: out of memory");
    return 0;
}

/* out[0..w) = V(k) (w words: the halves of k for w <= 2, else the hash stretch). The
 * caller's out has room for w + 1 words. */
static void stretch(const struct tsrc *s, mpc_block k, size_t w, uint64_t *out)
{
    if (w <= 2) {
        out[0] = k.lo;
        out[1] = k.hi;
        return;
    }
    enum { B = 64 };
    mpc_block in[B], o[B];
    for (size_t j = 0; j < B; j++) in[j] = k;
    for (size_t h = 0; h < (w + 1) / 2; h += B) {
        size_t nb = (w + 1) / 2 - h < B ? (w + 1) / 2 - h : B;
        mpc_crh_hash(s->crh, in, (1ull << 63) + h, o, nb);
        memcpy(out + 2 * h, o, nb * sizeof(mpc_block));
    }
    mc2_wipe(o, sizeof o);
    mc2_wipe(in, sizeof in);
}

/* ---- corrections, packed ---------------------------------------------------------------- */

/* The correction for bit t matters only mod 2^(64-t) (its share is scaled by 2^t), so it
 * travels in 64 - t bits: 2080 bits per 64-bit product instead of 4096. */
struct bits {
    uint64_t *p;
    uint64_t acc;
    unsigned nb; /* bits held in acc, < 64 */
};

static inline uint64_t low_bits(uint64_t v, unsigned wd)
{
    return wd == 64 ? v : v & ((1ull << wd) - 1);
}

static inline void put_bits(struct bits *b, uint64_t v, unsigned wd)
{
    v = low_bits(v, wd);
    b->acc |= v << b->nb;
    unsigned tot = b->nb + wd;
    if (tot >= 64) {
        *b->p++ = b->acc;
        b->acc = b->nb ? v >> (64 - b->nb) : 0;
        tot -= 64;
    }
    b->nb = tot;
}

static inline uint64_t get_bits(struct bits *b, unsigned wd)
{
    if (b->nb >= wd) {
        uint64_t v = low_bits(b->acc, wd);
        b->acc = wd == 64 ? 0 : b->acc >> wd;
        b->nb -= wd;
        return v;
    }
    uint64_t nw = *b->p++, v = low_bits(b->acc | (nw << b->nb), wd);
    unsigned used = wd - b->nb; /* 1..64 */
    b->acc = used == 64 ? 0 : nw >> used;
    b->nb = 64 - used;
    return v;
}

/* 64-bit words of packed corrections for nq products of w words. */
static size_t packed_words(size_t nq, size_t w)
{
    return (nq * w * 2080 + 63) / 64;
}

/* ---- the three rounds of one chunk -------------------------------------------------------- */

/* Round 2 towards one peer: this party's shares of x * y_j (out -= 2^t V(K0_t)) and the
 * packed corrections d_t = V(K0_t) - V(K1_t) + x mod 2^(64-t), written to s->d. */
static void sender_products(struct tsrc *s, const struct prods *p, size_t q0, size_t q1)
{
    struct bits bw = {.p = s->d};
    size_t w = p->w;
    for (size_t q = q0; q < q1; q++) {
        const mpc_block *k0 = s->k0 + (q - q0) * 64, *k1 = s->k1 + (q - q0) * 64;
        if (!p->matrix) { /* element-wise: w = 1 */
            uint64_t x = p->xa[q], acc = 0;
            for (unsigned t = 0; t < 64; t++) {
                put_bits(&bw, k0[t].lo - k1[t].lo + x, 64 - t);
                acc += k0[t].lo << t;
            }
            p->out[q] -= acc;
            continue;
        }
        for (size_t r = 0; r < w; r++) s->xs[r] = px(p, q, r);
        for (unsigned t = 0; t < 64; t++) {
            stretch(s, k0[t], w, s->v0);
            stretch(s, k1[t], w, s->v1);
            for (size_t r = 0; r < w; r++) {
                put_bits(&bw, s->v0[r] - s->v1[r] + s->xs[r], 64 - t);
                p->out[ppos(p, q, r)] -= s->v0[r] << t;
            }
        }
    }
    if (bw.nb) *bw.p++ = bw.acc;
}

/* Round 3 from one peer: this party's shares 2^t (V(K{c_t}_t) + c_t d_t) from its keys and
 * the peer's packed corrections in s->d. */
static void receiver_products(struct tsrc *s, const struct prods *p, const mpc_block *keys,
                              size_t q0, size_t q1)
{
    struct bits br = {.p = s->d};
    size_t w = p->w;
    for (size_t q = q0; q < q1; q++) {
        const mpc_block *k = keys + (q - q0) * 64;
        const uint8_t *c = s->choice + (q - q0) * 64;
        if (!p->matrix) { /* element-wise: w = 1 */
            uint64_t acc = 0;
            for (unsigned t = 0; t < 64; t++) {
                uint64_t d = get_bits(&br, 64 - t);
                acc += (k[t].lo + (d & (0 - (uint64_t)c[t]))) << t;
            }
            p->out[q] += acc;
            continue;
        }
        for (unsigned t = 0; t < 64; t++) {
            uint64_t mask = 0 - (uint64_t)c[t];
            stretch(s, k[t], w, s->v0);
            for (size_t r = 0; r < w; r++) {
                uint64_t d = get_bits(&br, 64 - t);
                p->out[ppos(p, q, r)] += (s->v0[r] + (d & mask)) << t;
            }
        }
    }
}

/* Entries q0..q1 of p (with (q1 - q0) * 64 OTs). */
static int chunk(struct tsrc *s, const struct prods *p, size_t q0, size_t q1, mc2_err *err)
{
    size_t ots = (q1 - q0) * 64, words = packed_words(q1 - q0, p->w);
    for (size_t q = q0; q < q1; q++)
        for (unsigned t = 0; t < 64; t++)
            s->choice[(q - q0) * 64 + t] = (uint8_t)((p->y[q] >> t) & 1);
    for (uint32_t j = 0; j < s->n; j++) /* round 1 */
        if (j != s->self && mpc_ot_recv_rot(s->rcv[j], s->choice, s->keys[j], ots, err)) return -1;
    for (uint32_t j = 0; j < s->n; j++) { /* round 2 */
        if (j == s->self) continue;
        if (mpc_ot_send_rot(s->snd[j], s->k0, s->k1, ots, err)) return -1;
        sender_products(s, p, q0, q1);
        if (mpc_net_send(s->net, j, s->d, words * sizeof(uint64_t), err)) return -1;
    }
    for (uint32_t j = 0; j < s->n; j++) { /* round 3 */
        if (j == s->self) continue;
        if (mpc_net_recv(s->net, j, s->d, words * sizeof(uint64_t), err)) return -1;
        receiver_products(s, p, s->keys[j], q0, q1);
    }
    return 0;
}

/* All cross terms of p, in chunks. */
static int products(struct tsrc *s, const struct prods *p, mc2_err *err)
{
    size_t per = OTS_PER_CHUNK / 64;
    if (p->w > 0 && WORDS_PER_CHUNK / 64 / p->w < per) per = WORDS_PER_CHUNK / 64 / p->w;
    if (per == 0) per = 1;
    if (p->nq == 0 || p->w == 0) return 0;
    if (p->w > SIZE_MAX / 64 / sizeof(uint64_t) / per)
        return mc2_err_set(err, MC2_E_LIMIT, "mpc triples: a matrix of %zu rows is too large",
                           p->w);
    if (sessions(s, err) || scratch(s, per * 64, p->w, err)) return -1;
    for (size_t q0 = 0; q0 < p->nq; q0 += per) {
        size_t q1 = p->nq - q0 < per ? p->nq : q0 + per;
        if (chunk(s, p, q0, q1, err)) return -1;
    }
    return 0;
}

static int refuse_broken(struct tsrc *s, mc2_err *err)
{
    if (s->broken)
        return mc2_err_set(err, MC2_E_INTERNAL,
                           "mpc triples: an earlier batch failed; the parties are out of step");
    return 0;
}

static int t_elems(void *ctx, size_t cnt, uint64_t *a, uint64_t *b, uint64_t *c, mc2_err *err)
{
    struct tsrc *s = ctx;
    if (refuse_broken(s, err)) return -1;
    if (cnt > SIZE_MAX / sizeof(uint64_t))
        return mc2_err_set(err, MC2_E_LIMIT, "mpc triples: %zu triples are too many", cnt);
    if (mpc_prg_bytes(s->rng, a, cnt * sizeof *a, err) ||
        mpc_prg_bytes(s->rng, b, cnt * sizeof *b, err))
        return -1;
    for (size_t e = 0; e < cnt; e++) c[e] = a[e] * b[e];
    struct prods p = {.nq = cnt, .w = 1, .y = b, .xa = a, .out = c};
    s->broken = true;
    if (products(s, &p, err)) return -1;
    s->broken = false;
    s->made += cnt;
    return 0;
}

static int t_matrix(void *ctx, size_t m, size_t k, size_t n, uint64_t *a, uint64_t *b, uint64_t *c,
                    mc2_err *err)
{
    struct tsrc *s = ctx;
    size_t mk, kn, mn, mkn;
    if (refuse_broken(s, err)) return -1;
    if (__builtin_mul_overflow(m, k, &mk) || __builtin_mul_overflow(k, n, &kn) ||
        __builtin_mul_overflow(m, n, &mn) || __builtin_mul_overflow(mk, n, &mkn) ||
        mk > SIZE_MAX / 8 || kn > SIZE_MAX / 8 || mn > SIZE_MAX / 8)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "mpc triples: a %zu x %zu by %zu x %zu matrix triple is too large", m, k,
                           k, n);
    if (mpc_prg_bytes(s->rng, a, mk * 8, err) || mpc_prg_bytes(s->rng, b, kn * 8, err)) return -1;
    for (size_t r = 0; r < m; r++)
        for (size_t col = 0; col < n; col++) {
            uint64_t acc = 0;
            for (size_t l = 0; l < k; l++) acc += a[r * k + l] * b[l * n + col];
            c[r * n + col] = acc;
        }
    struct prods p = {.nq = kn, .w = m, .y = b, .xa = a, .k = k, .n = n, .matrix = true, .out = c};
    s->broken = true;
    if (products(s, &p, err)) return -1;
    s->broken = false;
    s->made += mkn;
    return 0;
}

static void t_free(void *ctx)
{
    struct tsrc *s = ctx;
    if (!s) return;
    for (uint32_t j = 0; j < MPC_MAX_PARTIES; j++) {
        mpc_ot_free(s->snd[j]);
        mpc_ot_free(s->rcv[j]);
        if (s->keys[j]) mc2_free_wipe(s->keys[j], s->cap_ots * sizeof(mpc_block));
    }
    if (s->choice) mc2_free_wipe(s->choice, s->cap_ots);
    if (s->k0) mc2_free_wipe(s->k0, s->cap_ots * sizeof(mpc_block));
    if (s->k1) mc2_free_wipe(s->k1, s->cap_ots * sizeof(mpc_block));
    if (s->d) mc2_free_wipe(s->d, s->cap_words * sizeof(uint64_t));
    if (s->v0) mc2_free_wipe(s->v0, (s->cap_w + 1) * sizeof(uint64_t));
    if (s->v1) mc2_free_wipe(s->v1, (s->cap_w + 1) * sizeof(uint64_t));
    if (s->xs) mc2_free_wipe(s->xs, s->cap_w * sizeof(uint64_t));
    mpc_prg_free(s->rng);
    mpc_crh_free(s->crh);
    mc2_free(s);
}

int mpc_triples_ot(mpc_net *net, mpc_triple_src *out, mc2_err *err)
{
    memset(out, 0, sizeof *out);
    struct tsrc *s = mc2_calloc(1, sizeof *s);
    if (!s) return mc2_err_set(err, MC2_E_NOMEM, "mpc triples: out of memory");
    s->net = net;
    s->self = mpc_net_self(net);
    s->n = mpc_net_parties(net);
    if (!(s->rng = mpc_prg_random(err)) || !(s->crh = mpc_crh_new(err))) {
        t_free(s);
        return -1;
    }
    *out = (mpc_triple_src){.ctx = s, .elems = t_elems, .matrix = t_matrix, .free = t_free};
    return 0;
}

uint64_t mpc_triples_made(const mpc_triple_src *s)
{
    return s->free == t_free ? ((const struct tsrc *)s->ctx)->made : 0;
}
