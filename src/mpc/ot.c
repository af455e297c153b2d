/* ot.c - base OT (Chou-Orlandi "simplest OT" on P-256) and IKNP OT extension (ot.h).
 *
 * Roles: S is the extension's OT sender, R its receiver. kappa = 128.
 *
 * SETUP (128 base OTs, roles swapped: R is the base-OT sender, S the base-OT receiver with
 * random choice bits s in {0,1}^128). G is P-256's generator, points travel uncompressed
 * (65 bytes), every point received is decoded, checked on the curve and not the point at
 * infinity (else MC2_E_AUTH naming the peer):
 *   R -> S   A = aG                                  (a random scalar)
 *   S -> R   B_i = b_i G + s_i A   for i < 128      (b_i random; both sums computed, the one
 *                                                    sent chosen by a mask)
 *   R: k0_i = KDF(i, A, B_i, a B_i),  k1_i = KDF(i, A, B_i, a B_i - a A)
 *   S: k_i  = KDF(i, A, B_i, b_i A) = k{s_i}_i
 * KDF = SHA-256("mc2 mpc base ot" | i | A | B_i | P) cut to 16 bytes. Each key seeds an
 * AES-CTR generator (prg.h): R holds G0_i, G1_i, S holds G_i = G{s_i}_i.
 *
 * EXTENSION, per batch of n OTs, in chunks of up to CHUNK OTs, each padded to a multiple of
 * 128 (R's choice bits r of the padding are 0):
 *   R -> S   header (kind, n) once per batch, then per chunk the 128 columns
 *            u_i = G0_i(m) ^ G1_i(m) ^ r                (m bits each)
 *   S: q_i = G_i(m) ^ s_i u_i = t_i ^ s_i r, where t_i = G0_i(m) is R's column;
 *   transposing the 128 x m bit matrices gives rows q_j = t_j ^ r_j s.
 *   Keys: R has H(t_j, j); S has H(q_j, j) and H(q_j ^ s, j) (H = mpc_crh, j the session's
 *   running OT index, so every tweak is used once).
 *   chosen:  S -> R  y0_j = m0_j ^ H(q_j), y1_j = m1_j ^ H(q_j ^ s); R: y{r_j}_j ^ H(t_j).
 *   cot:     S -> R  y_j = H(q_j) ^ H(q_j ^ s) ^ delta; S outputs H(q_j); R: H(t_j) ^ r_j y_j.
 *   rot:     nothing more: S outputs both keys, R its H(t_j).
 * A batch whose header differs from what S expects (another kind or count) fails with
 * MC2_E_INPUT naming the peer; a session that failed refuses later calls (its generators
 * are out of step). */
#include "mpc/ot.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <string.h>

#include "base/alloc.h"
#include "crypto/ossl.h"
#include "mc2/crypto.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ot.c reads bit columns as little-endian 64-bit words"
#endif

enum { KAPPA = 128, PT_LEN = 65, CHUNK = 8192 };
enum ot_kind { KIND_CHOSEN = 1, KIND_COT = 2, KIND_ROT = 3 };

struct mpc_ot {
    mpc_net *net;
    uint32_t peer;
    bool sender;
    bool broken;
    mpc_crh *crh;
    mpc_prg *g0[KAPPA]; /* S: G_i; R: G0_i */
    mpc_prg *g1[KAPPA]; /* R only: G1_i */
    mpc_block s;        /* S's base-OT choice bits (secret) */
    uint64_t count;
    uint8_t *cols;   /* 128 columns of CHUNK bits */
    uint8_t *cols2;  /* R: u columns being built */
    mpc_block *rows; /* CHUNK rows after the transpose */
    mpc_block *tmp;  /* 2 * CHUNK blocks */
};

/* ---- base OT ----------------------------------------------------------------------------- */

struct ec {
    EC_GROUP *g;
    BN_CTX *bn;
    const BIGNUM *order;
};

static int ec_fail(mc2_err *err)
{
    return mc2_ossl_fail(err, MC2_E_CRYPTO, "mpc base ot");
}

static int ec_init(struct ec *e, mc2_err *err)
{
    memset(e, 0, sizeof *e);
    if (!(e->g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) || !(e->bn = BN_CTX_new()) ||
        !(e->order = EC_GROUP_get0_order(e->g)))
        return ec_fail(err);
    return 0;
}

static void ec_done(struct ec *e)
{
    BN_CTX_free(e->bn);
    EC_GROUP_free(e->g);
}

/* A uniformly random scalar in [1, order). */
static int ec_scalar(struct ec *e, BIGNUM *k, mc2_err *err)
{
    do {
        if (BN_priv_rand_range(k, e->order) != 1) return ec_fail(err);
    } while (BN_is_zero(k));
    return 0;
}

/* The 65-byte uncompressed encoding of p; the point at infinity (possible only for a key
 * computed from a peer's point) encodes as 65 zero bytes. */
static int ec_enc(struct ec *e, const EC_POINT *p, uint8_t out[PT_LEN], mc2_err *err)
{
    memset(out, 0, PT_LEN);
    if (EC_POINT_is_at_infinity(e->g, p)) return 0;
    if (EC_POINT_point2oct(e->g, p, POINT_CONVERSION_UNCOMPRESSED, out, PT_LEN, e->bn) != PT_LEN)
        return ec_fail(err);
    return 0;
}

/* Decodes a point the peer sent: uncompressed, on the curve, not infinity. */
static int ec_dec(struct ec *e, const uint8_t in[PT_LEN], EC_POINT *p, uint32_t peer, unsigned idx,
                  mc2_err *err)
{
    if (in[0] != 4 || EC_POINT_oct2point(e->g, p, in, PT_LEN, e->bn) != 1 ||
        EC_POINT_is_at_infinity(e->g, p) || EC_POINT_is_on_curve(e->g, p, e->bn) != 1) {
        mc2_ossl_fail(NULL, MC2_E_AUTH, "mpc base ot"); /* clears OpenSSL's error queue */
        return mc2_err_set(err, MC2_E_AUTH,
                           "mpc ot: party %u sent an invalid elliptic-curve point (base OT "
                           "message %u is not a point of P-256 other than infinity): the peer "
                           "or the channel is faulty or malicious",
                           peer, idx);
    }
    return 0;
}

static int base_kdf(uint32_t i, const uint8_t a[PT_LEN], const uint8_t b[PT_LEN],
                    const uint8_t p[PT_LEN], uint8_t key[16], mc2_err *err)
{
    static const char tag[] = "mc2 mpc base ot";
    uint8_t ib[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
    uint8_t h[32];
    unsigned hl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, tag, sizeof tag) == 1 && EVP_DigestUpdate(c, ib, 4) == 1 &&
             EVP_DigestUpdate(c, a, PT_LEN) == 1 && EVP_DigestUpdate(c, b, PT_LEN) == 1 &&
             EVP_DigestUpdate(c, p, PT_LEN) == 1 && EVP_DigestFinal_ex(c, h, &hl) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) return ec_fail(err);
    memcpy(key, h, 16);
    mc2_wipe(h, sizeof h);
    return 0;
}

/* R's side: the base-OT sender; seeds o->g0 and o->g1. */
static int base_send(mpc_ot *o, mc2_err *err)
{
    struct ec e;
    int rc = -1;
    uint8_t encA[PT_LEN], enc[PT_LEN], k[16];
    uint8_t *bs = mc2_malloc((size_t)KAPPA * PT_LEN);
    BIGNUM *a = BN_secure_new();
    EC_POINT *A = NULL, *T = NULL, *B = NULL, *P = NULL;
    if (ec_init(&e, err)) goto out;
    if (!bs || !a || !(A = EC_POINT_new(e.g)) || !(T = EC_POINT_new(e.g)) ||
        !(B = EC_POINT_new(e.g)) || !(P = EC_POINT_new(e.g))) {
        mc2_err_set(err, MC2_E_NOMEM, "mpc ot: out of memory");
        goto out;
    }
    if (ec_scalar(&e, a, err)) goto out;
    if (EC_POINT_mul(e.g, A, a, NULL, NULL, e.bn) != 1 ||
        EC_POINT_mul(e.g, T, NULL, A, a, e.bn) != 1 || EC_POINT_invert(e.g, T, e.bn) != 1) {
        ec_fail(err);
        goto out;
    }
    if (ec_enc(&e, A, encA, err) || mpc_net_send(o->net, o->peer, encA, PT_LEN, err) ||
        mpc_net_recv(o->net, o->peer, bs, (size_t)KAPPA * PT_LEN, err))
        goto out;
    for (uint32_t i = 0; i < KAPPA; i++) {
        const uint8_t *bi = bs + (size_t)i * PT_LEN;
        if (ec_dec(&e, bi, B, o->peer, i, err)) goto out;
        if (EC_POINT_mul(e.g, P, NULL, B, a, e.bn) != 1) { /* a B_i */
            ec_fail(err);
            goto out;
        }
        if (ec_enc(&e, P, enc, err) || base_kdf(i, encA, bi, enc, k, err) ||
            !(o->g0[i] = mpc_prg_new(k, err)))
            goto out;
        if (EC_POINT_add(e.g, P, P, T, e.bn) != 1) { /* a B_i - a A */
            ec_fail(err);
            goto out;
        }
        if (ec_enc(&e, P, enc, err) || base_kdf(i, encA, bi, enc, k, err) ||
            !(o->g1[i] = mpc_prg_new(k, err)))
            goto out;
    }
    rc = 0;
out:
    mc2_wipe(k, sizeof k);
    mc2_wipe(enc, sizeof enc);
    mc2_free(bs);
    BN_clear_free(a);
    EC_POINT_clear_free(A);
    EC_POINT_clear_free(T);
    EC_POINT_free(B);
    EC_POINT_clear_free(P);
    ec_done(&e);
    return rc;
}

/* S's side: the base-OT receiver with random choice bits o->s; seeds o->g0. */
static int base_recv(mpc_ot *o, mc2_err *err)
{
    struct ec e;
    int rc = -1;
    uint8_t encA[PT_LEN], e0[PT_LEN], e1[PT_LEN], k[16];
    uint8_t *bs = mc2_malloc((size_t)KAPPA * PT_LEN);
    BIGNUM *b = BN_secure_new();
    EC_POINT *A = NULL, *X = NULL, *Y = NULL;
    if (ec_init(&e, err)) goto out;
    if (!bs || !b || !(A = EC_POINT_new(e.g)) || !(X = EC_POINT_new(e.g)) ||
        !(Y = EC_POINT_new(e.g))) {
        mc2_err_set(err, MC2_E_NOMEM, "mpc ot: out of memory");
        goto out;
    }
    if (mc2_random(&o->s, sizeof o->s, err) || mpc_net_recv(o->net, o->peer, encA, PT_LEN, err) ||
        ec_dec(&e, encA, A, o->peer, 0, err))
        goto out;
    for (uint32_t i = 0; i < KAPPA; i++) {
        uint8_t *bi = bs + (size_t)i * PT_LEN;
        uint64_t bit = (i < 64 ? o->s.lo >> i : o->s.hi >> (i - 64)) & 1;
        uint8_t mask = (uint8_t)(0 - bit);
        if (ec_scalar(&e, b, err)) goto out;
        if (EC_POINT_mul(e.g, X, b, NULL, NULL, e.bn) != 1 ||
            EC_POINT_add(e.g, Y, X, A, e.bn) != 1) {
            ec_fail(err);
            goto out;
        }
        if (ec_enc(&e, X, e0, err) || ec_enc(&e, Y, e1, err)) goto out;
        for (int j = 0; j < PT_LEN; j++) bi[j] = (uint8_t)((e0[j] & ~mask) | (e1[j] & mask));
        if (EC_POINT_mul(e.g, X, NULL, A, b, e.bn) != 1) { /* b_i A */
            ec_fail(err);
            goto out;
        }
        if (ec_enc(&e, X, e0, err) || base_kdf(i, encA, bi, e0, k, err) ||
            !(o->g0[i] = mpc_prg_new(k, err)))
            goto out;
    }
    if (mpc_net_send(o->net, o->peer, bs, (size_t)KAPPA * PT_LEN, err)) goto out;
    rc = 0;
out:
    mc2_wipe(k, sizeof k);
    mc2_wipe(e0, sizeof e0);
    mc2_wipe(e1, sizeof e1);
    if (bs) mc2_free_wipe(bs, (size_t)KAPPA * PT_LEN);
    BN_clear_free(b);
    EC_POINT_free(A);
    EC_POINT_clear_free(X);
    EC_POINT_clear_free(Y);
    ec_done(&e);
    return rc;
}

/* ---- session ------------------------------------------------------------------------------ */

int mpc_ot_setup(mpc_net *net, uint32_t peer, bool sender, mpc_ot **out, mc2_err *err)
{
    *out = NULL;
    if (peer >= mpc_net_parties(net) || peer == mpc_net_self(net))
        return mc2_err_set(err, MC2_E_USAGE, "mpc ot: party %u has no peer %u", mpc_net_self(net),
                           peer);
    mpc_ot *o = mc2_calloc(1, sizeof *o);
    if (!o) return mc2_err_set(err, MC2_E_NOMEM, "mpc ot: out of memory");
    o->net = net;
    o->peer = peer;
    o->sender = sender;
    o->cols = mc2_malloc((size_t)KAPPA * CHUNK / 8);
    o->cols2 = sender ? NULL : mc2_malloc((size_t)KAPPA * CHUNK / 8);
    o->rows = mc2_malloc(CHUNK * sizeof *o->rows);
    o->tmp = mc2_malloc(2 * CHUNK * sizeof *o->tmp);
    if (!o->cols || (!sender && !o->cols2) || !o->rows || !o->tmp) {
        mpc_ot_free(o);
        return mc2_err_set(err, MC2_E_NOMEM, "mpc ot: out of memory");
    }
    if (!(o->crh = mpc_crh_new(err)) || (sender ? base_recv(o, err) : base_send(o, err))) {
        mpc_ot_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

uint64_t mpc_ot_count(const mpc_ot *o)
{
    return o->count;
}

void mpc_ot_free(mpc_ot *o)
{
    if (!o) return;
    for (int i = 0; i < KAPPA; i++) {
        mpc_prg_free(o->g0[i]);
        mpc_prg_free(o->g1[i]);
    }
    mpc_crh_free(o->crh);
    if (o->cols) mc2_free_wipe(o->cols, (size_t)KAPPA * CHUNK / 8);
    if (o->cols2) mc2_free_wipe(o->cols2, (size_t)KAPPA * CHUNK / 8);
    if (o->rows) mc2_free_wipe(o->rows, CHUNK * sizeof *o->rows);
    if (o->tmp) mc2_free_wipe(o->tmp, 2 * CHUNK * sizeof *o->tmp);
    mc2_wipe(&o->s, sizeof o->s);
    mc2_free(o);
}

/* ---- the 128 x m bit-matrix transpose ------------------------------------------------------ */

/* In place: a[r] bit c becomes a[c] bit r (64 x 64, bit 0 = least significant; the
 * recursive block swap of Hacker's Delight 7-3). */
static void transpose64(uint64_t a[64])
{
    uint64_t m = 0x00000000FFFFFFFFull;
    for (unsigned j = 32; j != 0; j >>= 1, m ^= m << j)
        for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j) {
            uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
        }
}

/* rows[j] bit i = bit j of column i (cols: 128 columns of m bits, m a multiple of 128). */
static void transpose_cols(const uint8_t *cols, size_t m, mpc_block *rows)
{
    uint64_t q[4][64];
    size_t colbytes = m / 8;
    for (size_t j0 = 0; j0 < m; j0 += 128) {
        for (int i = 0; i < 64; i++) {
            memcpy(&q[0][i], cols + (size_t)i * colbytes + j0 / 8, 8);
            memcpy(&q[1][i], cols + (size_t)i * colbytes + j0 / 8 + 8, 8);
            memcpy(&q[2][i], cols + (size_t)(i + 64) * colbytes + j0 / 8, 8);
            memcpy(&q[3][i], cols + (size_t)(i + 64) * colbytes + j0 / 8 + 8, 8);
        }
        for (int b = 0; b < 4; b++) transpose64(q[b]);
        /* q[0]: rows j0.., bits 0..63; q[1]: rows j0+64.., bits 0..63; q[2], q[3]: bits 64.. */
        for (int r = 0; r < 64; r++) {
            rows[j0 + r] = (mpc_block){q[0][r], q[2][r]};
            rows[j0 + 64 + r] = (mpc_block){q[1][r], q[3][r]};
        }
    }
}

/* ---- extension ---------------------------------------------------------------------------- */

static const char *kind_name(uint32_t k)
{
    return k == KIND_CHOSEN ? "chosen-message OT" : k == KIND_COT ? "correlated OT" : "random OT";
}

static int usable(mpc_ot *o, bool want_sender, mc2_err *err)
{
    if (o->broken)
        return mc2_err_set(err, MC2_E_INTERNAL,
                           "mpc ot: the session with party %u failed earlier; set up a new one",
                           o->peer);
    if (o->sender != want_sender)
        return mc2_err_set(err, MC2_E_USAGE, "mpc ot: this party is the OT %s of party %u",
                           o->sender ? "sender" : "receiver", o->peer);
    return 0;
}

/* R: sends the batch header. */
static int hdr_send(mpc_ot *o, uint32_t kind, size_t n, mc2_err *err)
{
    uint64_t h[2] = {kind, (uint64_t)n};
    return mpc_net_send(o->net, o->peer, h, sizeof h, err);
}

/* S: checks the batch header against its own call. */
static int hdr_recv(mpc_ot *o, uint32_t kind, size_t n, mc2_err *err)
{
    uint64_t h[2];
    if (mpc_net_recv(o->net, o->peer, h, sizeof h, err)) return -1;
    if (h[0] != kind || h[1] != (uint64_t)n)
        return mc2_err_set(err, MC2_E_INPUT,
                           "mpc ot: party %u started a batch that is not this party's %s of %zu "
                           "OTs (the parties' programs are out of step)",
                           o->peer, kind_name(kind), n);
    return 0;
}

/* R, one chunk of m OTs (m a multiple of 128, the first n real): sends the u columns and
 * leaves t_j in o->rows. */
static int chunk_recv(mpc_ot *o, const uint8_t *c, size_t n, size_t m, mc2_err *err)
{
    size_t cb = m / 8;
    uint8_t *r = (uint8_t *)o->tmp; /* the packed choice bits: m/8 <= CHUNK * 16 bytes */
    memset(r, 0, cb);
    for (size_t j = 0; j < n; j++) r[j / 8] |= (uint8_t)((c[j] & 1) << (j % 8));
    for (int i = 0; i < KAPPA; i++) {
        uint8_t *t = o->cols + (size_t)i * cb, *u = o->cols2 + (size_t)i * cb;
        if (mpc_prg_bytes(o->g0[i], t, cb, err) || mpc_prg_bytes(o->g1[i], u, cb, err)) return -1;
        for (size_t k = 0; k < cb; k++) u[k] ^= t[k] ^ r[k];
    }
    if (mpc_net_send(o->net, o->peer, o->cols2, (size_t)KAPPA * cb, err)) return -1;
    transpose_cols(o->cols, m, o->rows);
    return 0;
}

/* S, one chunk of m OTs: receives the u columns and leaves q_j in o->rows. */
static int chunk_send(mpc_ot *o, size_t m, mc2_err *err)
{
    size_t cb = m / 8;
    uint8_t *u = (uint8_t *)o->tmp;
    for (int i = 0; i < KAPPA; i++) {
        uint8_t *q = o->cols + (size_t)i * cb;
        uint8_t mask = (uint8_t)(0 - ((i < 64 ? o->s.lo >> i : o->s.hi >> (i - 64)) & 1));
        if (mpc_net_recv(o->net, o->peer, u, cb, err) || mpc_prg_bytes(o->g0[i], q, cb, err))
            return -1;
        for (size_t k = 0; k < cb; k++) q[k] ^= u[k] & mask;
    }
    transpose_cols(o->cols, m, o->rows);
    return 0;
}

static size_t padded(size_t n)
{
    return (n + 127) & ~(size_t)127;
}

static int check_choices(mpc_ot *o, const uint8_t *c, size_t n, mc2_err *err)
{
    uint8_t bad = 0;
    for (size_t j = 0; j < n; j++) bad |= c[j] & 0xfe;
    if (bad)
        return mc2_err_set(err, MC2_E_USAGE, "mpc ot: a choice bit for party %u is not 0 or 1",
                           o->peer);
    return 0;
}

/* The receiver's side of every kind: out[j] = H(t_j) (fixed up by the sender's y for chosen
 * and correlated OT). */
static int ext_recv(mpc_ot *o, uint32_t kind, const uint8_t *c, mpc_block *out, size_t n,
                    mc2_err *err)
{
    if (usable(o, false, err) || check_choices(o, c, n, err)) return -1;
    o->broken = true;
    if (hdr_send(o, kind, n, err)) return -1;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        if (chunk_recv(o, c + off, k, padded(k), err)) return -1;
        mpc_crh_hash(o->crh, o->rows, o->count, out + off, k);
        if (kind == KIND_CHOSEN) {
            if (mpc_net_recv(o->net, o->peer, o->tmp, k * 2 * sizeof(mpc_block), err)) return -1;
            for (size_t j = 0; j < k; j++) {
                uint64_t m = 0 - (uint64_t)c[off + j];
                mpc_block y0 = o->tmp[2 * j], y1 = o->tmp[2 * j + 1];
                out[off + j].lo ^= (y0.lo & ~m) | (y1.lo & m);
                out[off + j].hi ^= (y0.hi & ~m) | (y1.hi & m);
            }
        } else if (kind == KIND_COT) {
            if (mpc_net_recv(o->net, o->peer, o->tmp, k * sizeof(mpc_block), err)) return -1;
            for (size_t j = 0; j < k; j++) {
                uint64_t m = 0 - (uint64_t)c[off + j];
                out[off + j].lo ^= o->tmp[j].lo & m;
                out[off + j].hi ^= o->tmp[j].hi & m;
            }
        }
        o->count += k;
    }
    o->broken = false;
    return 0;
}

/* The sender's side: k0[j] = H(q_j), k1[j] = H(q_j ^ s), then per kind (m0/m1 the chosen
 * messages, delta the correlation). k1 may be NULL except for random OT. */
static int ext_send(mpc_ot *o, uint32_t kind, const mpc_block *m0, const mpc_block *m1,
                    mpc_block delta, mpc_block *k0, mpc_block *k1, size_t n, mc2_err *err)
{
    if (usable(o, true, err)) return -1;
    o->broken = true;
    if (hdr_recv(o, kind, n, err)) return -1;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        if (chunk_send(o, padded(k), err)) return -1;
        mpc_block *h0 = o->tmp, *h1 = (kind == KIND_ROT ? k1 + off : o->tmp + CHUNK / 2);
        if (kind == KIND_CHOSEN) { /* tmp holds y0, y1 interleaved: hash in halves */
            for (size_t h = 0; h < k; h += CHUNK / 2) {
                size_t w = k - h < CHUNK / 2 ? k - h : CHUNK / 2;
                mpc_crh_hash(o->crh, o->rows + h, o->count + h, k0, w);
                for (size_t j = 0; j < w; j++) o->rows[h + j] = mpc_block_xor(o->rows[h + j], o->s);
                mpc_crh_hash(o->crh, o->rows + h, o->count + h, k0 + CHUNK / 2, w);
                for (size_t j = 0; j < w; j++) {
                    o->tmp[2 * j] = mpc_block_xor(k0[j], m0[off + h + j]);
                    o->tmp[2 * j + 1] = mpc_block_xor(k0[CHUNK / 2 + j], m1[off + h + j]);
                }
                if (mpc_net_send(o->net, o->peer, o->tmp, w * 2 * sizeof(mpc_block), err))
                    return -1;
            }
        } else {
            mpc_block *z = k0 + off;
            mpc_crh_hash(o->crh, o->rows, o->count, z, k);
            for (size_t j = 0; j < k; j++) o->rows[j] = mpc_block_xor(o->rows[j], o->s);
            if (kind == KIND_ROT) {
                mpc_crh_hash(o->crh, o->rows, o->count, h1, k);
            } else {
                mpc_crh_hash(o->crh, o->rows, o->count, h0, k);
                for (size_t j = 0; j < k; j++)
                    h0[j] = mpc_block_xor(mpc_block_xor(h0[j], z[j]), delta);
                if (mpc_net_send(o->net, o->peer, h0, k * sizeof(mpc_block), err)) return -1;
            }
        }
        o->count += k;
    }
    o->broken = false;
    return 0;
}

int mpc_ot_send(mpc_ot *o, const mpc_block *m0, const mpc_block *m1, size_t n, mc2_err *err)
{
    /* k0 is scratch here: CHUNK blocks (its two halves hold a half-chunk's keys) */
    mpc_block *scratch = mc2_malloc(CHUNK * sizeof *scratch);
    if (!scratch) return mc2_err_set(err, MC2_E_NOMEM, "mpc ot: out of memory");
    int rc = ext_send(o, KIND_CHOSEN, m0, m1, (mpc_block){0, 0}, scratch, NULL, n, err);
    mc2_free_wipe(scratch, CHUNK * sizeof *scratch);
    return rc;
}

int mpc_ot_recv(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err)
{
    return ext_recv(o, KIND_CHOSEN, c, out, n, err);
}

int mpc_ot_send_cot(mpc_ot *o, mpc_block delta, mpc_block *m0, size_t n, mc2_err *err)
{
    return ext_send(o, KIND_COT, NULL, NULL, delta, m0, NULL, n, err);
}

int mpc_ot_recv_cot(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err)
{
    return ext_recv(o, KIND_COT, c, out, n, err);
}

int mpc_ot_send_rot(mpc_ot *o, mpc_block *m0, mpc_block *m1, size_t n, mc2_err *err)
{
    return ext_send(o, KIND_ROT, NULL, NULL, (mpc_block){0, 0}, m0, m1, n, err);
}

int mpc_ot_recv_rot(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err)
{
    return ext_recv(o, KIND_ROT, c, out, n, err);
}
