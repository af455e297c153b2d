/* linreg.h - linear models trained in MPC over HORIZONTALLY partitioned data (docs/mpc.md,
 * "Collaborative training"): every party holds some rows with the same d columns. Built on
 * engine.h (additive shares over Z_2^64, fixed point with MPC_FX_FRAC = 16 fraction bits);
 * semi-honest, any coalition of up to n - 1 parties. Both functions are collective: every
 * party calls them with the same public configuration and its own rows.
 *
 * PUBLIC SCALING. Feature j enters every computation as x_j / scale[j] (and the ridge target
 * as y / yscale), with the scales fixed by the program, not derived from the data; the
 * models below are fitted on the scaled values and mpc_ridge converts the opened model back
 * to original units. The scales keep the fixed-point values in range; they are not a
 * standardisation (means and variances are data-dependent and stay secret).
 *
 * WHAT IS REVEALED: only the final model, to `reveal_to` (MPC_LINREG_ALL: every party). The
 * public configuration (d, the total row count, for logistic regression every party's row
 * count, the scales and hyper-parameters) is known to all. Nothing else is opened: every
 * mpc_open inside the engine's multiplication and truncation opens masked values. A
 * party's own rows are checked against the public bound locally; a party whose data is out
 * of range fails before sharing anything (the others then time out on the missing messages).
 */
#ifndef MC2_MPC_LINREG_H
#define MC2_MPC_LINREG_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/engine.h"

#define MPC_LINREG_ALL   UINT32_MAX
#define MPC_LINREG_MAX_D 64

/* RIDGE, closed form with local pre-computation (as Cerebro's planner does). With x' the
 * scaled rows and N the public total row count, each party computes in plaintext, from its
 * own rows only, G_i = X_i'^T X_i' / N, h_i = X_i'^T y_i' / N, s_i = column sums / N and
 * t_i = sum y_i' / N, and inputs them as shares (no message). In MPC: G, h, mu = sum s_i,
 * muy = sum t_i; the centred system A = G - mu mu^T + (lambda / N) I, c = h - mu muy (the
 * intercept is not penalised, as in scikit-learn's Ridge), all multiplied by a public gain
 * K in {1, 4, 16} (the largest with K max(xbound^2, xbound ybound) <= 16: K G, K h,
 * sqrt(K) mu, sqrt(K) muy are input, so the inputs' rounding costs K times less relative
 * precision); (K A)^{-1} by `iters` Newton-Schulz steps X <- X (2I - A X) from
 * X_0 = I / bound, bound = K (d xbound^2 + lambda / N), a public upper bound on K A's
 * largest eigenvalue (|x'| <= xbound); w' = X c, refined once by
 * w' <- w' + X (c - A w'); b' = muy - mu^T w'. The residual of the inverse after k steps is
 * (1 - K lambda_min(A) / bound)^(2^k): `iters` must exceed log2(bound / (K lambda_min))
 * by a few (about 20 for a ratio of 1e5). Costs per step two d x d fixed-point matrix
 * products (2 d^2 truncations). Opened: w' and b', returned in original units:
 * w[0] = yscale b', w[1 + j] = yscale w'_j / scale[j]. */
typedef struct mpc_ridge_cfg {
    size_t d;            /* features, 1..MPC_LINREG_MAX_D */
    uint64_t n_total;    /* public total number of rows over all parties, >= 1 */
    double lambda;       /* penalty on the scaled coefficients; lambda / n_total in
                          * [1e-4, 1e4] (A^{-1} must stay in fixed-point range) */
    const double *scale; /* d public column scales (> 0) */
    double yscale;       /* public target scale (> 0) */
    double xbound;       /* public bound on |x_j / scale[j]| (checked on this party's rows) */
    double ybound;       /* public bound on |y / yscale| (checked likewise) */
    unsigned iters;      /* Newton-Schulz steps, 1..64 */
    uint32_t reveal_to;  /* party that learns the model, or MPC_LINREG_ALL */
} mpc_ridge_cfg;

/* Collective. x: this party's rows (rows x d, row-major), y: its targets; rows may be 0.
 * w (d + 1: intercept first) is written on the parties that learn the model. */
int mpc_ridge(mpc_engine *e, const mpc_ridge_cfg *cfg, const double *x, const double *y,
              size_t rows, double *w, mc2_err *err) MC2_WUR;

/* LOGISTIC REGRESSION by mini-batch SGD (SecureML / Cerebro style). Labels 0/1. Model
 * p(x) = sigma(b + w . x') on scaled x'; w, b start at 0. For each epoch, for each party p
 * in order 0..n-1, p's rows are cut in order into batches of `batch` rows (the last one
 * shorter); each batch: p inputs its rows and labels as shares, z = X_B [w; b] (one matrix
 * product), s = 0.5 + MPC_SIG_A1 z + MPC_SIG_A3 z^3, [w; b] -= (lr / |B|) X_B^T (s - y).
 * The cubic is the least-squares fit of the logistic function on [-8, 8] (uniform weight;
 * max error 0.114 there); outside that interval it is wrong and grows quickly, so the
 * scales and lr must keep |z| within it. Per row 4 truncations (z, z^2, z^3, the cubic),
 * per batch 2 (d + 1) more. Opened: [w'; b] to reveal_to: w[0] = b, w[1 + j] = w'_j (on
 * the SCALED features: predict with x_j / scale[j]). */
#define MPC_SIG_A1 0.15011505521968418
#define MPC_SIG_A3 (-0.0015928220680167097)

typedef struct mpc_logreg_cfg {
    size_t d;               /* features, 1..MPC_LINREG_MAX_D */
    const uint64_t *rows;   /* every party's public row count */
    const double *scale;    /* d public column scales (> 0) */
    double xbound;          /* public bound on |x_j / scale[j]| (checked) */
    unsigned epochs, batch; /* >= 1 each */
    double lr;              /* learning rate, > 0 */
    uint32_t reveal_to;     /* party that learns the model, or MPC_LINREG_ALL */
} mpc_logreg_cfg;

/* Collective. x: this party's cfg->rows[self] rows (row-major, d columns), y its 0/1
 * labels. w (d + 1: bias first) is written on the parties that learn the model. */
int mpc_logreg(mpc_engine *e, const mpc_logreg_cfg *cfg, const double *x, const double *y,
               double *w, mc2_err *err) MC2_WUR;

/* The cubic above in double (for plaintext references). */
double mpc_sigmoid_cubic(double z);

#endif
