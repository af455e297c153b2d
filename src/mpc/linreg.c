/* linreg.c - ridge and logistic regression in MPC over row-partitioned data (linreg.h). */
#include "mpc/linreg.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"

#define LOGREG_MAX_BATCH 1024

/* cnt zeroed words, NULL with the error set; freed (wiped) by ws_free. */
static uint64_t *ws_new(size_t cnt, mc2_err *err)
{
    uint64_t *p = mc2_calloc(cnt ? cnt : 1, sizeof *p);
    if (!p) mc2_err_set(err, MC2_E_NOMEM, "mpc linreg: out of memory for %zu words", cnt);
    return p;
}

static void ws_free(uint64_t *p, size_t cnt)
{
    if (p) mc2_free_wipe(p, (cnt ? cnt : 1) * sizeof *p);
}

/* Checks this party's scaled rows against the public bound (no data value in the error). */
static int check_rows(const double *x, size_t rows, size_t d, const double *scale, double bound,
                      mc2_err *err)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++) {
            double v = x[r * d + j] / scale[j];
            if (!(fabs(v) <= bound))
                return mc2_err_set(err, MC2_E_INPUT,
                                   "mpc linreg: row %zu, column %zu of this party's data is "
                                   "outside the public bound %g after scaling (or not a "
                                   "number): fix the data or the program's scales",
                                   r, j, bound);
        }
    return 0;
}

static int check_scales(size_t d, const double *scale, mc2_err *err)
{
    if (d < 1 || d > MPC_LINREG_MAX_D || !scale)
        return mc2_err_set(err, MC2_E_USAGE, "mpc linreg: d must be 1..%d, with d column scales",
                           MPC_LINREG_MAX_D);
    for (size_t j = 0; j < d; j++)
        if (!(scale[j] > 0) || !isfinite(scale[j]))
            return mc2_err_set(err, MC2_E_USAGE, "mpc linreg: scale of column %zu must be > 0", j);
    return 0;
}

/* Every party inputs its m words loc; sh = the sum of all parties' inputs. */
static int input_sum(mpc_engine *e, const uint64_t *loc, uint64_t *sh, uint64_t *tmp, size_t m,
                     mc2_err *err)
{
    uint32_t n = mpc_engine_parties(e), self = mpc_engine_self(e);
    memset(sh, 0, m * sizeof *sh);
    for (uint32_t p = 0; p < n; p++) {
        if (mpc_input(e, p, p == self ? loc : NULL, tmp, m, err)) return -1;
        mpc_add(sh, sh, tmp, m);
    }
    return 0;
}

/* z = v * I (d x d) as shares of a public value. */
static void public_diag(const mpc_engine *e, uint64_t *z, size_t d, double v, uint64_t *pub)
{
    memset(pub, 0, d * d * sizeof *pub);
    for (size_t j = 0; j < d; j++) pub[j * d + j] = mpc_fx_encode(v);
    memset(z, 0, d * d * sizeof *z);
    mpc_add_public(e, z, z, pub, d * d);
}

static int reveal(mpc_engine *e, uint32_t to, const uint64_t *sh, uint64_t *out, size_t m,
                  mc2_err *err)
{
    if (to == MPC_LINREG_ALL) return mpc_open(e, sh, out, m, err);
    return mpc_open_to(e, to, sh, out, m, err);
}

static int ridge_cfg_ok(const mpc_engine *e, const mpc_ridge_cfg *c, mc2_err *err)
{
    if (check_scales(c->d, c->scale, err)) return -1;
    if (c->n_total < 1 || !(c->lambda > 0) || !isfinite(c->lambda) || !(c->yscale > 0) ||
        !(c->xbound > 0) || !(c->ybound > 0) || c->iters < 1 || c->iters > 64 ||
        (c->reveal_to != MPC_LINREG_ALL && c->reveal_to >= mpc_engine_parties(e)))
        return mc2_err_set(err, MC2_E_USAGE,
                           "mpc ridge: bad configuration (need n_total >= 1, lambda >= 0, "
                           "positive scales and bounds, iters 1..64, reveal_to a party)");
    /* public ranges for the fixed-point invariants (linreg.h, docs/mpc.md) */
    double lam = c->lambda / (double)c->n_total;
    if (c->xbound > 64 || c->ybound > 64 || lam > 1e4 || lam < 1e-4)
        return mc2_err_set(err, MC2_E_USAGE,
                           "mpc ridge: xbound and ybound must be <= 64 and lambda / n_total "
                           "in [1e-4, 1e4] to stay inside the fixed-point range (the inverse's "
                           "entries reach n_total / lambda)");
    return 0;
}

/* The public gain sqrt(K) (a power of two, 1..4): the system is solved as K A w = K c with
 * K G, K h and sqrt(K) mu, sqrt(K) muy input, so that the quantisation of the inputs costs
 * K times less relative precision while K A's entries stay below 16. */
static unsigned ridge_gain_bits(const mpc_ridge_cfg *c)
{
    double m = fmax(c->xbound * c->xbound, c->xbound * c->ybound);
    unsigned b = 0;
    while (b < 2 && m * (double)(1u << (2 * (b + 1))) <= 16) b++;
    return b;
}

/* This party's local statistics (linreg.h), scaled by the gain: K G (d x d), K h (d),
 * sqrt(K) s (d), sqrt(K) t (1), each / N. */
static void ridge_local(const mpc_ridge_cfg *c, const double *x, const double *y, size_t rows,
                        uint64_t *loc)
{
    size_t d = c->d;
    double sk = (double)(1u << ridge_gain_bits(c)), N = (double)c->n_total;
    for (size_t a = 0; a < d; a++) {
        double ha = 0, sa = 0;
        for (size_t r = 0; r < rows; r++) {
            double xa = x[r * d + a] / c->scale[a];
            ha += xa * y[r] / c->yscale;
            sa += xa;
        }
        loc[d * d + a] = mpc_fx_encode(sk * sk * ha / N);
        loc[d * d + d + a] = mpc_fx_encode(sk * sa / N);
        for (size_t b = 0; b < d; b++) {
            double g = 0;
            for (size_t r = 0; r < rows; r++)
                g += x[r * d + a] / c->scale[a] * (x[r * d + b] / c->scale[b]);
            loc[a * d + b] = mpc_fx_encode(sk * sk * g / N);
        }
    }
    double t = 0;
    for (size_t r = 0; r < rows; r++) t += y[r] / c->yscale;
    loc[d * d + 2 * d] = mpc_fx_encode(sk * t / N);
}

/* The in-MPC solve: sh holds [G | h | mu | muy]; out = [b' | w'] (shares). */
static int ridge_solve(mpc_engine *e, const mpc_ridge_cfg *c, uint64_t *sh, uint64_t *ws,
                       uint64_t *out, mc2_err *err)
{
    size_t d = c->d, dd = d * d;
    unsigned gb = ridge_gain_bits(c);
    double K = (double)(1u << (2 * gb));
    double lam = K * c->lambda / (double)c->n_total;
    double bound = K * (double)d * c->xbound * c->xbound + lam;
    uint64_t *G = sh, *h = sh + dd, *mu = sh + dd + d, *muy = sh + dd + 2 * d;
    uint64_t *A = ws, *X = A + dd, *T = X + dd, *U = T + dd, *pub = U + dd, *cv = pub + dd,
             *w = cv + d, *r = w + d;
    /* (all scaled by K) A = G - mu mu^T + lam I, c = h - mu muy */
    if (mpc_fx_matmul(e, T, mu, mu, d, 1, d, err)) return -1;
    mpc_sub(A, G, T, dd);
    public_diag(e, U, d, lam, pub);
    mpc_add(A, A, U, dd);
    if (mpc_fx_matmul(e, cv, mu, muy, d, 1, 1, err)) return -1;
    mpc_sub(cv, h, cv, d);
    /* Newton-Schulz: X <- X (2I - A X) from X_0 = I / bound */
    public_diag(e, X, d, 1.0 / bound, pub);
    for (unsigned k = 0; k < c->iters; k++) {
        if (mpc_fx_matmul(e, T, A, X, d, d, d, err)) return -1;
        mpc_scale(T, T, (uint64_t)-1, dd);
        public_diag(e, U, d, 2.0, pub);
        mpc_add(T, T, U, dd);
        if (mpc_fx_matmul(e, U, X, T, d, d, d, err)) return -1;
        memcpy(X, U, dd * sizeof *X);
    }
    /* w = X c, one refinement w += X (c - A w), b = (sqrt(K) muy - sqrt(K) mu^T w) / sqrt(K) */
    if (mpc_fx_matmul(e, w, X, cv, d, d, 1, err) || mpc_fx_matmul(e, r, A, w, d, d, 1, err))
        return -1;
    mpc_sub(r, cv, r, d);
    if (mpc_fx_matmul(e, T, X, r, d, d, 1, err)) return -1;
    mpc_add(out + 1, w, T, d);
    if (mpc_fx_matmul(e, T, mu, out + 1, 1, d, 1, err)) return -1;
    mpc_sub(out, muy, T, 1);
    return gb ? mpc_trunc(e, out, out, 1, gb, err) : 0;
}

int mpc_ridge(mpc_engine *e, const mpc_ridge_cfg *cfg, const double *x, const double *y,
              size_t rows, double *w, mc2_err *err)
{
    if (ridge_cfg_ok(e, cfg, err)) return -1;
    size_t d = cfg->d, dd = d * d, D = dd + 2 * d + 1;
    if (rows && (!x || !y)) return mc2_err_set(err, MC2_E_USAGE, "mpc ridge: no rows given");
    if (check_rows(x, rows, d, cfg->scale, cfg->xbound, err) ||
        check_rows(y, rows, 1, &cfg->yscale, cfg->ybound, err))
        return -1;
    /* loc, sh, tmp (D each); A, X, T, U, pub (dd each), c, w, r (d each); out, open (d+1) */
    size_t W = 3 * D + 5 * dd + 3 * d + 2 * (d + 1);
    uint64_t *all = ws_new(W, err);
    if (!all) return -1;
    uint64_t *loc = all, *sh = loc + D, *tmp = sh + D, *ws = tmp + D, *out = ws + 5 * dd + 3 * d,
             *open = out + d + 1;
    ridge_local(cfg, x, y, rows, loc);
    int rc = -1;
    if (input_sum(e, loc, sh, tmp, D, err) || ridge_solve(e, cfg, sh, ws, out, err) ||
        reveal(e, cfg->reveal_to, out, open, d + 1, err))
        goto done;
    if (cfg->reveal_to == MPC_LINREG_ALL || cfg->reveal_to == mpc_engine_self(e)) {
        w[0] = cfg->yscale * mpc_fx_decode(open[0]);
        for (size_t j = 0; j < d; j++)
            w[1 + j] = cfg->yscale * mpc_fx_decode(open[1 + j]) / cfg->scale[j];
    }
    rc = 0;
done:
    ws_free(all, W);
    return rc;
}

/* ---- logistic regression ------------------------------------------------------------------ */

double mpc_sigmoid_cubic(double z)
{
    return 0.5 + MPC_SIG_A1 * z + MPC_SIG_A3 * z * z * z;
}

static int logreg_cfg_ok(const mpc_engine *e, const mpc_logreg_cfg *c, mc2_err *err)
{
    if (check_scales(c->d, c->scale, err)) return -1;
    if (!c->rows || c->epochs < 1 || c->batch < 1 || c->batch > LOGREG_MAX_BATCH || !(c->lr > 0) ||
        c->lr > 1e3 || !(c->xbound > 0) || c->xbound > 64 ||
        (c->reveal_to != MPC_LINREG_ALL && c->reveal_to >= mpc_engine_parties(e)))
        return mc2_err_set(err, MC2_E_USAGE,
                           "mpc logreg: bad configuration (need row counts, epochs >= 1, batch "
                           "1..%d, 0 < lr <= 1000, 0 < xbound <= 64, reveal_to a party)",
                           LOGREG_MAX_BATCH);
    return 0;
}

/* One SGD step on shares xb (m x D, D = d + 1 with the constant column first), yb (m). */
static int logreg_step(mpc_engine *e, const mpc_logreg_cfg *c, uint64_t *wt, const uint64_t *xb,
                       const uint64_t *yb, size_t m, uint64_t *ws, mc2_err *err)
{
    size_t D = c->d + 1;
    uint64_t *z = ws, *z2 = z + m, *s = z2 + m, *xt = s + m, *g = xt + m * D, *pub = g + D;
    if (mpc_fx_matmul(e, z, xb, wt, m, D, 1, err) || mpc_fx_mul(e, z2, z, z, m, err) ||
        mpc_fx_mul(e, z2, z2, z, m, err))
        return -1;
    /* s = 0.5 + A1 z + A3 z^3 - y (A1, A3 at 2f fraction bits before the truncation) */
    mpc_scale(z, z, mpc_fx_encode(MPC_SIG_A1), m);
    mpc_scale(z2, z2, mpc_fx_encode(MPC_SIG_A3), m);
    mpc_add(s, z, z2, m);
    if (mpc_trunc(e, s, s, m, MPC_FX_FRAC, err)) return -1;
    for (size_t i = 0; i < m; i++) pub[i] = mpc_fx_encode(0.5);
    mpc_add_public(e, s, s, pub, m);
    mpc_sub(s, s, yb, m);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < D; j++) xt[j * m + i] = xb[i * D + j];
    if (mpc_fx_matmul(e, g, xt, s, D, m, 1, err)) return -1;
    mpc_scale(g, g, mpc_fx_encode(c->lr / (double)m), D);
    if (mpc_trunc(e, g, g, D, MPC_FX_FRAC, err)) return -1;
    mpc_sub(wt, wt, g, D);
    return 0;
}

int mpc_logreg(mpc_engine *e, const mpc_logreg_cfg *cfg, const double *x, const double *y,
               double *w, mc2_err *err)
{
    if (logreg_cfg_ok(e, cfg, err)) return -1;
    uint32_t n = mpc_engine_parties(e), self = mpc_engine_self(e);
    size_t d = cfg->d, D = d + 1, B = cfg->batch, mine = (size_t)cfg->rows[self];
    if (cfg->rows[self] > SIZE_MAX / 2 || (mine && (!x || !y)))
        return mc2_err_set(err, MC2_E_USAGE, "mpc logreg: this party's rows are missing");
    if (check_rows(x, mine, d, cfg->scale, cfg->xbound, err)) return -1;
    for (size_t r = 0; r < mine; r++)
        if (y[r] != 0 && y[r] != 1)
            return mc2_err_set(err, MC2_E_INPUT, "mpc logreg: label of row %zu is not 0 or 1", r);
    /* wt, open (D); loc, xb (B D); ly, yb (B); step workspace 3B + B D + D + B */
    size_t W = 2 * D + 2 * B * D + 2 * B + 3 * B + B * D + D + B;
    uint64_t *all = ws_new(W, err);
    if (!all) return -1;
    uint64_t *wt = all, *open = wt + D, *loc = open + D, *xb = loc + B * D, *ly = xb + B * D,
             *yb = ly + B, *ws = yb + B;
    int rc = -1;
    for (unsigned ep = 0; ep < cfg->epochs; ep++)
        for (uint32_t p = 0; p < n; p++)
            for (uint64_t at = 0; at < cfg->rows[p]; at += B) {
                size_t m = cfg->rows[p] - at < B ? (size_t)(cfg->rows[p] - at) : B;
                if (p == self)
                    for (size_t i = 0; i < m; i++) {
                        const double *row = x + (at + i) * d;
                        loc[i * D] = mpc_fx_encode(1.0);
                        for (size_t j = 0; j < d; j++)
                            loc[i * D + 1 + j] = mpc_fx_encode(row[j] / cfg->scale[j]);
                        ly[i] = mpc_fx_encode(y[at + i]);
                    }
                if (mpc_input(e, p, p == self ? loc : NULL, xb, m * D, err) ||
                    mpc_input(e, p, p == self ? ly : NULL, yb, m, err) ||
                    logreg_step(e, cfg, wt, xb, yb, m, ws, err))
                    goto done;
            }
    if (reveal(e, cfg->reveal_to, wt, open, D, err)) goto done;
    if (cfg->reveal_to == MPC_LINREG_ALL || cfg->reveal_to == self)
        for (size_t j = 0; j < D; j++) w[j] = mpc_fx_decode(open[j]);
    rc = 0;
done:
    ws_free(all, W);
    return rc;
}
