/* engine.c - additive sharing over Z_2^64, Beaver and matrix multiplication, probabilistic
 * truncation (the protocols are written out in engine.h). */
#include "mpc/engine.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/crypto.h"
#include "mpc/prg.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the engine sends uint64_t words as they lie in memory (little-endian)");

struct mpc_engine {
    mpc_net *net;
    mpc_triple_src src;
    uint32_t self, n;
    mpc_prg *pair[MPC_MAX_PARTIES]; /* PRG(s_ij) shared with party j */
    mpc_prg *own;                   /* this party's private randomness */
};

/* cnt words, NULL with MC2_E_LIMIT / MC2_E_NOMEM. Freed (wiped) by words_free. */
static uint64_t *words(size_t cnt, mc2_err *err)
{
    size_t bytes;
    if (!mc2_mul_size(cnt, sizeof(uint64_t), &bytes)) {
        mc2_err_set(err, MC2_E_LIMIT, "mpc engine: %zu words do not fit in memory", cnt);
        return NULL;
    }
    uint64_t *p = mc2_malloc(bytes ? bytes : 1);
    if (!p) mc2_err_set(err, MC2_E_NOMEM, "mpc engine: out of memory for %zu words", cnt);
    return p;
}

static void words_free(uint64_t *p, size_t cnt)
{
    if (p) mc2_free_wipe(p, cnt * sizeof(uint64_t));
}

int mpc_engine_new(mpc_net *net, const mpc_triple_src *src, mpc_engine **out, mc2_err *err)
{
    *out = NULL;
    mpc_engine *e = mc2_calloc(1, sizeof *e);
    if (!e) return mc2_err_set(err, MC2_E_NOMEM, "mpc engine: out of memory");
    e->net = net;
    e->src = *src;
    e->self = mpc_net_self(net);
    e->n = mpc_net_parties(net);
    uint8_t seed[16];
    int rc = -1;
    if (!(e->own = mpc_prg_random(err))) goto out;
    for (uint32_t j = e->self + 1; j < e->n; j++) {
        if (mc2_random(seed, sizeof seed, err) || mpc_net_send(net, j, seed, sizeof seed, err) ||
            !(e->pair[j] = mpc_prg_new(seed, err)))
            goto out;
    }
    for (uint32_t j = 0; j < e->self; j++)
        if (mpc_net_recv(net, j, seed, sizeof seed, err) || !(e->pair[j] = mpc_prg_new(seed, err)))
            goto out;
    *out = e;
    e = NULL;
    rc = 0;
out:
    mc2_wipe(seed, sizeof seed);
    mpc_engine_free(e);
    return rc;
}

void mpc_engine_free(mpc_engine *e)
{
    if (!e) return;
    for (uint32_t j = 0; j < MPC_MAX_PARTIES; j++) mpc_prg_free(e->pair[j]);
    mpc_prg_free(e->own);
    mc2_free_wipe(e, sizeof *e);
}

uint32_t mpc_engine_self(const mpc_engine *e)
{
    return e->self;
}

uint32_t mpc_engine_parties(const mpc_engine *e)
{
    return e->n;
}

/* ---- sharing and opening ---------------------------------------------------------------- */

int mpc_input(mpc_engine *e, uint32_t owner, const uint64_t *x, uint64_t *sh, size_t m,
              mc2_err *err)
{
    if (owner >= e->n || (owner == e->self && m && !x))
        return mc2_err_set(err, MC2_E_INTERNAL, "mpc engine: input from party %u of %u", owner,
                           e->n);
    if (m == 0) return 0;
    if (owner != e->self) return mpc_prg_bytes(e->pair[owner], sh, m * sizeof *sh, err);
    uint64_t *r = words(m, err);
    if (!r) return -1;
    int rc = -1;
    memmove(sh, x, m * sizeof *sh);
    for (uint32_t j = 0; j < e->n; j++) {
        if (j == e->self) continue;
        if (mpc_prg_bytes(e->pair[j], r, m * sizeof *r, err)) goto out;
        for (size_t i = 0; i < m; i++) sh[i] -= r[i];
    }
    rc = 0;
out:
    words_free(r, m);
    return rc;
}

/* Receives m words from every party in `from` (a bit mask) and adds them to acc. */
static int recv_sum(mpc_engine *e, uint32_t from, uint64_t *acc, size_t m, mc2_err *err)
{
    uint64_t *t = words(m, err);
    if (!t) return -1;
    int rc = 0;
    for (uint32_t j = 0; j < e->n && rc == 0; j++) {
        if (!(from >> j & 1)) continue;
        rc = mpc_net_recv(e->net, j, t, m * sizeof *t, err);
        for (size_t i = 0; rc == 0 && i < m; i++) acc[i] += t[i];
    }
    words_free(t, m);
    return rc;
}

int mpc_open(mpc_engine *e, const uint64_t *sh, uint64_t *out, size_t m, mc2_err *err)
{
    if (m > SIZE_MAX / sizeof *sh)
        return mc2_err_set(err, MC2_E_LIMIT, "mpc engine: open of %zu words", m);
    for (uint32_t j = 0; j < e->n; j++)
        if (j != e->self && mpc_net_send(e->net, j, sh, m * sizeof *sh, err)) return -1;
    if (out != sh) memcpy(out, sh, m * sizeof *sh); /* send copied the shares: out may be sh */
    uint32_t others = ((1u << e->n) - 1) & ~(1u << e->self);
    return recv_sum(e, others, out, m, err);
}

int mpc_open_to(mpc_engine *e, uint32_t to, const uint64_t *sh, uint64_t *out, size_t m,
                mc2_err *err)
{
    if (to >= e->n || m > SIZE_MAX / sizeof *sh)
        return mc2_err_set(err, MC2_E_INTERNAL, "mpc engine: open to party %u of %u", to, e->n);
    if (to != e->self) return mpc_net_send(e->net, to, sh, m * sizeof *sh, err);
    if (out != sh) memcpy(out, sh, m * sizeof *sh);
    uint32_t others = ((1u << e->n) - 1) & ~(1u << e->self);
    return recv_sum(e, others, out, m, err);
}

/* ---- local operations --------------------------------------------------------------------- */

void mpc_add(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m)
{
    for (size_t i = 0; i < m; i++) z[i] = x[i] + y[i];
}

void mpc_sub(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m)
{
    for (size_t i = 0; i < m; i++) z[i] = x[i] - y[i];
}

void mpc_add_public(const mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *c,
                    size_t m)
{
    for (size_t i = 0; i < m; i++) z[i] = x[i] + (e->self == 0 ? c[i] : 0);
}

void mpc_mul_public(uint64_t *z, const uint64_t *x, const uint64_t *c, size_t m)
{
    for (size_t i = 0; i < m; i++) z[i] = x[i] * c[i];
}

void mpc_scale(uint64_t *z, const uint64_t *x, uint64_t s, size_t m)
{
    for (size_t i = 0; i < m; i++) z[i] = x[i] * s;
}

/* z += x y (m x k times k x n), row-major, over Z_2^64. */
static void matmul_acc(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m, size_t k,
                       size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < k; p++) {
            uint64_t a = x[i * k + p];
            const uint64_t *yr = y + p * n;
            uint64_t *zr = z + i * n;
            for (size_t j = 0; j < n; j++) zr[j] += a * yr[j];
        }
}

void mpc_mat_mul_plain(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m, size_t k,
                       size_t n)
{
    memset(z, 0, m * n * sizeof *z);
    matmul_acc(z, x, y, m, k, n);
}

/* ---- multiplication ---------------------------------------------------------------------- */

int mpc_mul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
            mc2_err *err)
{
    size_t m2, m5;
    if (m == 0) return 0;
    if (!mc2_mul_size(m, 5, &m5)) return mc2_err_set(err, MC2_E_LIMIT, "mpc engine: mul of %zu", m);
    m2 = 2 * m;
    uint64_t *t = words(m5, err); /* a b c | d e */
    if (!t) return -1;
    uint64_t *a = t, *b = t + m, *c = t + m2, *de = t + 3 * m;
    int rc = -1;
    if (e->src.elems(e->src.ctx, m, a, b, c, err)) goto out;
    for (size_t i = 0; i < m; i++) {
        de[i] = x[i] - a[i];
        de[m + i] = y[i] - b[i];
    }
    if (mpc_open(e, de, de, m2, err)) goto out;
    for (size_t i = 0; i < m; i++) {
        uint64_t d = de[i], f = de[m + i];
        z[i] = c[i] + d * b[i] + f * a[i] + (e->self == 0 ? d * f : 0);
    }
    rc = 0;
out:
    words_free(t, m5);
    return rc;
}

int mpc_matmul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m, size_t k,
               size_t n, mc2_err *err)
{
    size_t mk, kn, mn, tot;
    if (!mc2_mul_size(m, k, &mk) || !mc2_mul_size(k, n, &kn) || !mc2_mul_size(m, n, &mn) ||
        !mc2_add_size(mk, kn, &tot) || !mc2_mul_size(tot, 2, &tot) || !mc2_add_size(tot, mn, &tot))
        return mc2_err_set(err, MC2_E_LIMIT, "mpc engine: matrix product %zu x %zu x %zu", m, k, n);
    if (mn == 0) return 0;
    uint64_t *t = words(tot, err); /* A B C | D E */
    if (!t) return -1;
    uint64_t *a = t, *b = a + mk, *c = b + kn, *d = c + mn, *f = d + mk;
    int rc = -1;
    if (e->src.matrix(e->src.ctx, m, k, n, a, b, c, err)) goto out;
    for (size_t i = 0; i < mk; i++) d[i] = x[i] - a[i];
    for (size_t i = 0; i < kn; i++) f[i] = y[i] - b[i];
    if (mpc_open(e, d, d, mk + kn, err)) goto out;
    memcpy(z, c, mn * sizeof *z);
    matmul_acc(z, d, b, m, k, n);
    matmul_acc(z, a, f, m, k, n);
    if (e->self == 0) matmul_acc(z, d, f, m, k, n);
    rc = 0;
out:
    words_free(t, tot);
    return rc;
}

/* ---- truncation -------------------------------------------------------------------------- */

/* Shares of cnt uniformly random bits: every party inputs cnt private random bits and the n
 * inputs are XORed (a XOR b = a + b - 2ab), n - 1 rounds of Beaver products. */
static int random_bits(mpc_engine *e, uint64_t *bits, size_t cnt, mc2_err *err)
{
    size_t cnt3;
    if (!mc2_mul_size(cnt, 3, &cnt3))
        return mc2_err_set(err, MC2_E_LIMIT, "mpc engine: %zu random bits", cnt);
    uint64_t *t = words(cnt3, err); /* mine | input | product */
    if (!t) return -1;
    uint64_t *mine = t, *in = t + cnt, *prod = in + cnt;
    int rc = -1;
    if (mpc_prg_bytes(e->own, mine, cnt * sizeof *mine, err)) goto out;
    for (size_t i = 0; i < cnt; i++) mine[i] &= 1;
    for (uint32_t p = 0; p < e->n; p++) {
        if (mpc_input(e, p, p == e->self ? mine : NULL, p == 0 ? bits : in, cnt, err)) goto out;
        if (p == 0) continue;
        if (mpc_mul(e, prod, bits, in, cnt, err)) goto out;
        for (size_t i = 0; i < cnt; i++) bits[i] = bits[i] + in[i] - 2 * prod[i];
    }
    rc = 0;
out:
    words_free(t, cnt3);
    return rc;
}

int mpc_trunc(mpc_engine *e, uint64_t *z, const uint64_t *x, size_t m, unsigned f, mc2_err *err)
{
    size_t nb;
    if (f < 1 || f > 32) return mc2_err_set(err, MC2_E_INTERNAL, "mpc engine: truncation by %u", f);
    if (m == 0) return 0;
    if (!mc2_mul_size(m, 64 + 3, &nb))
        return mc2_err_set(err, MC2_E_LIMIT, "mpc engine: truncation of %zu values", m);
    uint64_t *t = words(nb, err); /* bits (64 per value) | c | r_hi | r_63 */
    if (!t) return -1;
    uint64_t *bits = t, *c = t + 64 * m, *rhi = c + m, *r63 = rhi + m;
    int rc = -1;
    if (random_bits(e, bits, 64 * m, err)) goto out;
    for (size_t i = 0; i < m; i++) {
        const uint64_t *r = bits + 64 * i;
        uint64_t rr = 0, hi = 0;
        for (unsigned j = 0; j < 64; j++) rr += r[j] << j;
        for (unsigned j = f; j < 64; j++) hi += r[j] << (j - f);
        c[i] = x[i] + rr + (e->self == 0 ? (uint64_t)1 << 62 : 0);
        rhi[i] = hi;
        r63[i] = r[63];
    }
    if (mpc_open(e, c, c, m, err)) goto out;
    for (size_t i = 0; i < m; i++) {
        uint64_t pub = e->self == 0 ? (c[i] >> f) - ((uint64_t)1 << (62 - f)) : 0;
        uint64_t wrap = (1 - (c[i] >> 63)) * ((uint64_t)1 << (64 - f)); /* public factor */
        z[i] = pub - rhi[i] + wrap * r63[i];
    }
    rc = 0;
out:
    words_free(t, nb);
    return rc;
}

int mpc_fx_mul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
               mc2_err *err)
{
    return mpc_mul(e, z, x, y, m, err) || mpc_trunc(e, z, z, m, MPC_FX_FRAC, err) ? -1 : 0;
}

int mpc_fx_matmul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
                  size_t k, size_t n, mc2_err *err)
{
    /* m * n cannot overflow once mpc_matmul accepted the shape */
    return mpc_matmul(e, z, x, y, m, k, n, err) || mpc_trunc(e, z, z, m * n, MPC_FX_FRAC, err) ? -1
                                                                                               : 0;
}

/* ---- fixed point -------------------------------------------------------------------------- */

uint64_t mpc_fx_encode(double v)
{
    double s = v * (double)(1 << MPC_FX_FRAC);
    if (isnan(s)) return 0;
    if (s >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
    if (s < -9223372036854775808.0) return (uint64_t)INT64_MIN;
    return (uint64_t)llround(s);
}

double mpc_fx_decode(uint64_t w)
{
    return (double)(int64_t)w / (double)(1 << MPC_FX_FRAC);
}
