/* test_mpc_linreg.c - mpc/linreg.h with 3 parties (threads on mpc_net_local), each holding a
 * third of the rows of a data set shipped by Debian's scikit-learn (python3-sklearn):
 *   ridge on diabetes (442 x 10), on triples from the real offline phase (mpc_triples_ot):
 *     the opened coefficients against a plaintext double ridge solve of the same scaled,
 *     centred problem (an independent two-pass computation and Gaussian elimination);
 *   logistic regression on breast_cancer (569 x 30), on the test dealer's triples (the OT
 *     offline phase would make about 1.3 million triples per epoch here: too slow for make
 *     test): training accuracy of the opened model within 1 point of a plaintext double run
 *     of the same SGD with the exact sigmoid (and the weights near the same SGD with the
 *     cubic);
 *   configurations that are refused, and a party whose rows break the public bound.
 * Missing data files: prints SKIP and checks nothing for that part. */
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "../tools/mpc_dealer.h"
#include "mpc/engine.h"
#include "mpc/linreg.h"
#include "mpc/triples.h"
#include "test.h"

#define SKDIR  "/usr/lib/python3/dist-packages/sklearn/datasets/data/"
#define NPARTY 3

/* ---- data --------------------------------------------------------------------------------- */

/* Reads up to max numbers separated by spaces, commas or newlines from a (gzipped) file;
 * skip_line: ignore the first line. Returns the count, -1 if the file cannot be read. */
static long read_numbers(const char *path, int gz, int skip_line, double *out, long max)
{
    char cmd[512];
    FILE *f;
    if (gz) {
        snprintf(cmd, sizeof cmd, "gzip -dc '%s' 2>/dev/null", path);
        f = popen(cmd, "r");
    } else {
        f = fopen(path, "r");
    }
    if (!f) return -1;
    long cnt = 0;
    int c;
    if (skip_line)
        while ((c = fgetc(f)) != EOF && c != '\n') {
        }
    while (cnt < max && fscanf(f, "%lf", &out[cnt]) == 1) {
        cnt++;
        while ((c = fgetc(f)) == ',' || c == ' ' || c == '\n' || c == '\r') {
        }
        if (c == EOF) break;
        ungetc(c, f);
    }
    if (gz ? pclose(f) != 0 : fclose(f) != 0) return -1;
    return cnt;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- parties ------------------------------------------------------------------------------ */

typedef struct job {
    int ridge, ot;
    mpc_ridge_cfg rc;
    mpc_logreg_cfg lc;
    const double *x, *y; /* all rows; party p holds [start[p], start[p] + cnt[p]) */
    size_t start[NPARTY], cnt[NPARTY], d;
    int spoil; /* party 1's rows get one value beyond the bound */
} job;

typedef struct lparty {
    uint32_t self;
    mpc_net *net;
    job *j;
    double w[MPC_LINREG_MAX_D + 1];
    uint64_t triples;
    int ok;
    mc2_err err;
} lparty;

static void *lparty_main(void *arg)
{
    lparty *p = arg;
    job *j = p->j;
    static const uint8_t seed[16] = {9};
    mpc_triple_src src = {0};
    mpc_engine *e = NULL;
    size_t d = j->d, cnt = j->cnt[p->self];
    double *x = malloc((cnt ? cnt : 1) * d * sizeof *x);
    const double *y = j->y + j->start[p->self];
    p->ok = 0;
    if (!x) return NULL;
    memcpy(x, j->x + j->start[p->self] * d, cnt * d * sizeof *x);
    if (j->spoil && p->self == 1) x[0] = 1e9;
    if ((j->ot ? mpc_triples_ot(p->net, &src, &p->err)
               : mpc_dealer_src(p->self, NPARTY, seed, &src, &p->err)) == 0 &&
        mpc_engine_new(p->net, &src, &e, &p->err) == 0)
        p->ok = (j->ridge ? mpc_ridge(e, &j->rc, x, y, cnt, p->w, &p->err)
                          : mpc_logreg(e, &j->lc, x, y, p->w, &p->err)) == 0;
    if (j->ot && src.ctx) p->triples = mpc_triples_made(&src);
    mpc_engine_free(e);
    if (src.free) src.free(src.ctx);
    free(x);
    return NULL;
}

/* Runs the job on 3 parties; ps[i].ok, ps[i].w, ps[i].err. Returns 1 if all succeeded. */
static int run(job *j, lparty *ps, unsigned timeout_ms)
{
    mpc_net *nets[NPARTY];
    pthread_t th[NPARTY];
    mc2_err err;
    if (mpc_net_local(NPARTY, nets, NULL, NULL, &err)) return 0;
    for (uint32_t i = 0; i < NPARTY; i++) {
        if (timeout_ms) mpc_net_set_timeout(nets[i], timeout_ms);
        ps[i] = (lparty){.self = i, .net = nets[i], .j = j};
        pthread_create(&th[i], NULL, lparty_main, &ps[i]);
    }
    int ok = 1;
    for (uint32_t i = 0; i < NPARTY; i++) {
        pthread_join(th[i], NULL);
        ok &= ps[i].ok;
    }
    for (uint32_t i = 0; i < NPARTY; i++) mpc_net_free(nets[i]);
    return ok;
}

static void split(job *j, size_t rows)
{
    for (int p = 0; p < NPARTY; p++) {
        j->start[p] = rows * p / NPARTY;
        j->cnt[p] = rows * (p + 1) / NPARTY - j->start[p];
    }
}

/* ---- ridge -------------------------------------------------------------------------------- */

#define DN 442
#define DD 10

/* Solves a x = b (n x n, destroyed) by Gaussian elimination with partial pivoting. */
static void gauss(double *a, double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t piv = i;
        for (size_t r = i + 1; r < n; r++)
            if (fabs(a[r * n + i]) > fabs(a[piv * n + i])) piv = r;
        for (size_t k = 0; k < n; k++) {
            double t = a[i * n + k];
            a[i * n + k] = a[piv * n + k];
            a[piv * n + k] = t;
        }
        double t = b[i];
        b[i] = b[piv];
        b[piv] = t;
        for (size_t r = i + 1; r < n; r++) {
            double q = a[r * n + i] / a[i * n + i];
            for (size_t k = i; k < n; k++) a[r * n + k] -= q * a[i * n + k];
            b[r] -= q * b[i];
        }
    }
    for (size_t i = n; i-- > 0;) {
        for (size_t k = i + 1; k < n; k++) b[i] -= a[i * n + k] * b[k];
        b[i] /= a[i * n + i];
    }
}

/* Plain ridge on scaled, centred data (unpenalised intercept); w in original units. */
static void ridge_plain(const double *x, const double *y, size_t n, size_t d, const double *sc,
                        double ysc, double lambda, double *w)
{
    double mu[DD] = {0}, muy = 0, a[DD * DD] = {0}, b[DD] = {0};
    for (size_t r = 0; r < n; r++) {
        for (size_t j = 0; j < d; j++) mu[j] += x[r * d + j] / sc[j] / (double)n;
        muy += y[r] / ysc / (double)n;
    }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < d; i++) {
            double xi = x[r * d + i] / sc[i] - mu[i];
            b[i] += xi * (y[r] / ysc - muy);
            for (size_t k = 0; k < d; k++) a[i * d + k] += xi * (x[r * d + k] / sc[k] - mu[k]);
        }
    for (size_t i = 0; i < d; i++) a[i * d + i] += lambda;
    gauss(a, b, d);
    double b0 = muy;
    for (size_t j = 0; j < d; j++) b0 -= mu[j] * b[j];
    w[0] = ysc * b0;
    for (size_t j = 0; j < d; j++) w[1 + j] = ysc * b[j] / sc[j];
}

static void test_ridge(void)
{
    static double x[DN * DD], y[DN];
    long nx = read_numbers(SKDIR "diabetes_data_raw.csv.gz", 1, 0, x, DN * DD);
    long ny = read_numbers(SKDIR "diabetes_target.csv.gz", 1, 0, y, DN);
    if (nx != DN * DD || ny != DN) {
        printf("SKIP ridge: scikit-learn's diabetes data not found under " SKDIR
               " (install python3-sklearn)\n");
        return;
    }
    /* public scales the program states: bounds on each column (age, sex, bmi, bp, s1..s6) */
    static const double sc[DD] = {100, 2, 50, 150, 350, 250, 100, 10, 10, 150};
    /* the first on the real offline phase (OT triples), the second on the dealer's: the OT
     * one costs about 20 s per run on this shared machine */
    static const double lambdas[] = {0.01 * DN, 0.002 * DN}, rel_tol[] = {0.0025, 0.0025};
    static const unsigned iters[] = {13, 16};
    for (size_t li = 0; li < sizeof lambdas / sizeof lambdas[0]; li++) {
        job j = {.ridge = 1, .ot = li == 0, .x = x, .y = y, .d = DD};
        j.rc = (mpc_ridge_cfg){.d = DD,
                               .n_total = DN,
                               .lambda = lambdas[li],
                               .scale = sc,
                               .yscale = 400,
                               .xbound = 1,
                               .ybound = 1,
                               .iters = iters[li],
                               .reveal_to = MPC_LINREG_ALL};
        split(&j, DN);
        lparty ps[NPARTY];
        double t0 = now_s();
        int ok = run(&j, ps, 0);
        double t = now_s() - t0;
        CHECK_MSG(ok, "ridge: all parties finish (%s)", ok ? "" : ps[0].err.msg);
        if (!ok) continue;
        double want[DD + 1], maxw = 0, maxerr = 0;
        ridge_plain(x, y, DN, DD, sc, 400, lambdas[li], want);
        for (size_t k = 0; k <= DD; k++) {
            if (k) maxw = fmax(maxw, fabs(want[k] * sc[k - 1])); /* per unit of scaled x */
            for (int p = 0; p < NPARTY; p++)
                CHECK_MSG(ps[p].w[k] == ps[0].w[k], "ridge: parties open the same model");
        }
        for (size_t k = 1; k <= DD; k++)
            maxerr = fmax(maxerr, fabs(ps[0].w[k] - want[k]) * sc[k - 1]);
        double ierr = fabs(ps[0].w[0] - want[0]);
        printf("ridge lambda=%.2f: max |w - w_plain| %.4f (scaled units; max |w| %.2f, rel "
               "%.2e), intercept %.4f vs %.4f; %.1f s, %llu OT triples at party 0\n",
               lambdas[li], maxerr, maxw, maxerr / maxw, ps[0].w[0], want[0], t,
               (unsigned long long)ps[0].triples);
        /* stated tolerance: 0.25% of the largest
         * coefficient (per unit of scaled feature), intercept within 0.5 (target units) */
        CHECK_MSG(maxerr <= rel_tol[li] * maxw, "ridge lambda %.2f: coefficients within %.1f%%",
                  lambdas[li], 100 * rel_tol[li]);
        CHECK_MSG(ierr <= 0.5, "ridge lambda %.2f: intercept within 0.5", lambdas[li]);
    }
}

/* ---- logistic regression ------------------------------------------------------------------ */

#define BN 569
#define BD 30

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* The same SGD as mpc_logreg in double (party order, batches, scaled features). */
static void logreg_plain(const job *j, int cubic, double *w)
{
    const mpc_logreg_cfg *c = &j->lc;
    size_t D = BD + 1;
    memset(w, 0, D * sizeof *w);
    double g[BD + 1];
    for (unsigned ep = 0; ep < c->epochs; ep++)
        for (int p = 0; p < NPARTY; p++)
            for (size_t at = 0; at < j->cnt[p]; at += c->batch) {
                size_t m = j->cnt[p] - at < c->batch ? j->cnt[p] - at : c->batch;
                memset(g, 0, sizeof g);
                for (size_t i = 0; i < m; i++) {
                    const double *row = j->x + (j->start[p] + at + i) * BD;
                    double z = w[0];
                    for (size_t k = 0; k < BD; k++) z += w[1 + k] * row[k] / c->scale[k];
                    double s =
                        (cubic ? mpc_sigmoid_cubic(z) : sigmoid(z)) - j->y[j->start[p] + at + i];
                    g[0] += s;
                    for (size_t k = 0; k < BD; k++) g[1 + k] += s * row[k] / c->scale[k];
                }
                for (size_t k = 0; k < D; k++) w[k] -= c->lr / (double)m * g[k];
            }
}

static double accuracy(const double *x, const double *y, const double *sc, const double *w)
{
    int right = 0;
    for (size_t r = 0; r < BN; r++) {
        double z = w[0];
        for (size_t k = 0; k < BD; k++) z += w[1 + k] * x[r * BD + k] / sc[k];
        right += (z > 0) == (y[r] > 0.5);
    }
    return 100.0 * right / BN;
}

static void test_logreg(void)
{
    static double raw[BN * (BD + 1)], x[BN * BD], y[BN];
    long nr = read_numbers(SKDIR "breast_cancer.csv", 0, 1, raw, BN * (BD + 1));
    if (nr != BN * (BD + 1)) {
        printf("SKIP logistic regression: scikit-learn's breast_cancer.csv not found under " SKDIR
               "\n");
        return;
    }
    /* Public scales the test's program states: each column's bound (its maximum here,
     * rounded up to two significant digits), so |x'| <= 1. */
    double sc[BD];
    for (size_t k = 0; k < BD; k++) sc[k] = 0;
    for (size_t r = 0; r < BN; r++) {
        for (size_t k = 0; k < BD; k++) {
            x[r * BD + k] = raw[r * (BD + 1) + k];
            sc[k] = fmax(sc[k], x[r * BD + k]);
        }
        y[r] = raw[r * (BD + 1) + BD];
    }
    for (size_t k = 0; k < BD; k++) {
        double p = pow(10, floor(log10(sc[k])) - 1);
        sc[k] = ceil(sc[k] / p) * p;
    }
    uint64_t rows[NPARTY];
    job j = {.ridge = 0, .ot = 0, .x = x, .y = y, .d = BD};
    split(&j, BN);
    for (int p = 0; p < NPARTY; p++) rows[p] = j.cnt[p];
    j.lc = (mpc_logreg_cfg){.d = BD,
                            .rows = rows,
                            .scale = sc,
                            .xbound = 1,
                            .epochs = 5,
                            .batch = 32,
                            .lr = 1.0,
                            .reveal_to = 2};
    lparty ps[NPARTY];
    double t0 = now_s();
    int ok = run(&j, ps, 0);
    double t = now_s() - t0;
    CHECK_MSG(ok, "logreg: all parties finish (%s)", ok ? "" : ps[0].err.msg);
    if (!ok) return;
    double wexact[BD + 1], wcubic[BD + 1], dw = 0;
    logreg_plain(&j, 0, wexact);
    logreg_plain(&j, 1, wcubic);
    for (size_t k = 0; k <= BD; k++) dw = fmax(dw, fabs(ps[2].w[k] - wcubic[k]));
    double am = accuracy(x, y, sc, ps[2].w), ae = accuracy(x, y, sc, wexact),
           ac = accuracy(x, y, sc, wcubic);
    printf("logreg: accuracy MPC %.2f%%, plain exact sigmoid %.2f%%, plain cubic %.2f%%; max "
           "|w_mpc - w_plain_cubic| %.4f; %.1f s (dealer triples)\n",
           am, ae, ac, dw, t);
    CHECK_MSG(fabs(am - ae) <= 1.0, "logreg: accuracy %.2f within 1 point of plain %.2f", am, ae);
    CHECK_MSG(am >= 85.0, "logreg: accuracy %.2f is that of a model, not of chance", am);
    CHECK_MSG(dw <= 0.05, "logreg: weights within 0.05 of the same SGD in double (cubic)");
    FILE *f = getenv("MC2_LINREG_WEIGHTS") ? fopen(getenv("MC2_LINREG_WEIGHTS"), "w") : NULL;
    if (f) {
        for (size_t k = 0; k <= BD; k++) fprintf(f, "%.17g\n", ps[2].w[k]);
        fclose(f);
    }
}

/* ---- refusals ----------------------------------------------------------------------------- */

static void test_refuse(void)
{
    static double x[6 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[6] = {1, 0, 1, 0, 1, 0};
    static const double sc[2] = {20, 20};
    job j = {.ridge = 1, .ot = 0, .x = x, .y = y, .d = 2};
    split(&j, 6);
    j.rc = (mpc_ridge_cfg){.d = 2,
                           .n_total = 6,
                           .lambda = 1,
                           .scale = sc,
                           .yscale = 2,
                           .xbound = 1,
                           .ybound = 1,
                           .iters = 10,
                           .reveal_to = 0};
    lparty ps[NPARTY];
    CHECK_MSG(run(&j, ps, 0), "small ridge runs (%s)", ps[0].err.msg);
    j.rc.iters = 0;
    CHECK(!run(&j, ps, 0) && ps[0].err.code == MC2_E_USAGE);
    j.rc.iters = 10;
    j.rc.lambda = 0; /* no ridge: A may be singular, Newton-Schulz would leave the range */
    CHECK(!run(&j, ps, 0) && ps[2].err.code == MC2_E_USAGE);
    j.rc.lambda = 1;
    j.rc.reveal_to = 3;
    CHECK(!run(&j, ps, 0) && ps[1].err.code == MC2_E_USAGE);
    j.rc.reveal_to = 0;
    /* party 1 out of the public bound: it fails locally, naming no value; the others stop on
     * the missing messages */
    j.spoil = 1;
    CHECK(!run(&j, ps, 300) && ps[1].err.code == MC2_E_INPUT && !strstr(ps[1].err.msg, "1e+09") &&
          !strstr(ps[1].err.msg, "1000000000"));
    CHECK(!ps[0].ok && !ps[2].ok);
    j.spoil = 0;
    uint64_t rows[NPARTY] = {2, 2, 2};
    j.ridge = 0;
    j.lc = (mpc_logreg_cfg){.d = 2,
                            .rows = rows,
                            .scale = sc,
                            .xbound = 1,
                            .epochs = 1,
                            .batch = 2,
                            .lr = 0.1,
                            .reveal_to = MPC_LINREG_ALL};
    CHECK_MSG(run(&j, ps, 0), "small logreg runs (%s)", ps[0].err.msg);
    y[3] = 0.5; /* party 1's label not 0/1 */
    CHECK(!run(&j, ps, 300) && ps[1].err.code == MC2_E_INPUT);
    y[3] = 0;
    j.lc.batch = 0;
    CHECK(!run(&j, ps, 0) && ps[0].err.code == MC2_E_USAGE);
}

int main(void)
{
    test_refuse();
    test_ridge();
    test_logreg();
    return test_done("test_mpc_linreg");
}
