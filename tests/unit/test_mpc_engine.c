/* test_mpc_engine.c - mpc/engine.h on the local transport with 2 and 3 parties (threads) and
 * the test dealer's triples (tests/tools/mpc_dealer.h): share/open/open_to, the local
 * operations, Beaver multiplication, matrix products of several shapes, truncation (every
 * result is floor(x / 2^f) or one more, over thousands of random values and the ends of the
 * range, both cases occur, mean error near 0), fixed-point products and dot products
 * against the exact integer result and against double. Last, a share altered in transit by
 * the tamper hook: the engine does NOT notice (semi-honest, no MACs) and the victim opens a
 * wrong value; detection in transit is the TLS channel's (test_mpc_net's relay test).
 * And the fixed-point products once over TLS on loopback with 3 parties. The share/open,
 * multiplication, matrix and fixed-point tests run a second time on triples from the real
 * offline phase (triples.h's OT-based source) instead of the dealer. */
#include <math.h>
#include <pthread.h>

#include "mpc/triples.h"
#include "../tools/mpc_dealer.h"
#include "../tools/mpc_tlsfix.h"
#include "mpc/engine.h"
#include "test.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct eparty eparty;
typedef int (*body_fn)(eparty *p, void *ctx);

struct eparty {
    uint32_t self, n;
    mpc_net *net;
    const mpc_net_tls_cfg *tls; /* set: the party opens its own TLS net */
    mpc_engine *e;
    body_fn body;
    void *ctx;
    uint64_t *out; /* the body's results (malloc'd, body-defined layout) */
    int ok;
    mc2_err err;
};

/* Set: the parties make their triples with the real offline phase (triples.h's OT-based
 * source) instead of the test dealer. */
static int use_ot_triples;

static void *party_main(void *arg)
{
    eparty *p = arg;
    static const uint8_t seed[16] = {7};
    mpc_triple_src src = {0};
    p->ok = (!p->tls || mpc_net_tls(p->tls, &p->net, &p->err) == 0) &&
            (use_ot_triples ? mpc_triples_ot(p->net, &src, &p->err)
                            : mpc_dealer_src(p->self, p->n, seed, &src, &p->err)) == 0 &&
            mpc_engine_new(p->net, &src, &p->e, &p->err) == 0 && p->body(p, p->ctx) == 0;
    mpc_engine_free(p->e);
    if (src.free) src.free(src.ctx);
    if (p->tls) mpc_net_free(p->net);
    return NULL;
}

/* Runs body on n parties; ps[i].out hold the results. */
static int run(eparty *ps, uint32_t n, body_fn body, void *ctx, mpc_net_tamper_fn tamper,
               void *tctx)
{
    mpc_net *nets[MPC_MAX_PARTIES];
    pthread_t th[MPC_MAX_PARTIES];
    mc2_err err;
    if (mpc_net_local(n, nets, tamper, tctx, &err)) return 0;
    int ok = 1;
    for (uint32_t i = 0; i < n; i++) {
        ps[i] = (eparty){.self = i, .n = n, .net = nets[i], .body = body, .ctx = ctx};
        pthread_create(&th[i], NULL, party_main, &ps[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (!ps[i].ok) fprintf(stderr, "party %u: %s\n", i, ps[i].err.msg);
        ok &= ps[i].ok;
    }
    for (uint32_t i = 0; i < n; i++) mpc_net_free(nets[i]);
    return ok;
}

static void done(eparty *ps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) free(ps[i].out);
}

/* ---- share, open, local operations, mul ---------------------------------------------------- */

#define BM 500
typedef struct basic {
    uint64_t x[BM], y[BM], c[BM], s;
} basic;

static int body_basic(eparty *p, void *ctx)
{
    basic *b = ctx;
    mc2_err *err = &p->err;
    uint64_t xs[BM], ys[BM], t[BM];
    uint64_t *o = p->out = calloc(10 * BM, sizeof *o);
    if (!o) return -1;
    if (mpc_input(p->e, 0, p->self == 0 ? b->x : NULL, xs, BM, err) ||
        mpc_input(p->e, p->n - 1, p->self == p->n - 1 ? b->y : NULL, ys, BM, err))
        return -1;
    memcpy(o + 9 * BM, xs, sizeof xs); /* this party's share of x, to check it hides x */
    if (mpc_open(p->e, xs, o, BM, err) || mpc_open(p->e, ys, o + BM, BM, err)) return -1;
    mpc_add(t, xs, ys, BM);
    if (mpc_open(p->e, t, o + 2 * BM, BM, err)) return -1;
    mpc_sub(t, xs, ys, BM);
    if (mpc_open(p->e, t, o + 3 * BM, BM, err)) return -1;
    mpc_add_public(p->e, t, xs, b->c, BM);
    if (mpc_open(p->e, t, o + 4 * BM, BM, err)) return -1;
    mpc_scale(t, xs, b->s, BM);
    if (mpc_open(p->e, t, o + 5 * BM, BM, err)) return -1;
    mpc_mul_public(t, xs, b->c, BM);
    if (mpc_open(p->e, t, o + 6 * BM, BM, err)) return -1;
    if (mpc_mul(p->e, t, xs, ys, BM, err) || mpc_open(p->e, t, o + 7 * BM, BM, err)) return -1;
    mpc_add(t, xs, ys, BM);
    return mpc_open_to(p->e, 1, t, p->self == 1 ? o + 8 * BM : NULL, BM, err);
}

static void test_basic(uint32_t n)
{
    static basic b;
    uint64_t s = n;
    for (int i = 0; i < BM; i++) {
        b.x[i] = i < 3 ? (uint64_t)-i : rnd(&s); /* 0, -1, -2 and random */
        b.y[i] = rnd(&s);
        b.c[i] = rnd(&s);
    }
    b.s = rnd(&s);
    eparty ps[3];
    CHECK(run(ps, n, body_basic, &b, NULL, NULL));
    for (uint32_t p = 0; p < n && ps[p].ok; p++) {
        const uint64_t *o = ps[p].out;
        int ok = 1, hides = 0;
        for (int i = 0; i < BM; i++) {
            uint64_t x = b.x[i], y = b.y[i];
            ok &= o[i] == x && o[BM + i] == y && o[2 * BM + i] == x + y && o[3 * BM + i] == x - y &&
                  o[4 * BM + i] == x + b.c[i] && o[5 * BM + i] == b.s * x &&
                  o[6 * BM + i] == b.c[i] * x && o[7 * BM + i] == x * y &&
                  (p != 1 || o[8 * BM + i] == x + y);
            hides += o[9 * BM + i] != x;
        }
        CHECK_MSG(ok,
                  "%u parties, party %u: open, add, sub, add_public, scale, mul_public, "
                  "mul, open_to",
                  n, p);
        CHECK(hides >= BM - 1); /* no share equals the secret (but by chance) */
    }
    done(ps, n);
}

/* ---- matrix products ------------------------------------------------------------------------ */

static const size_t shapes[][3] = {{3, 5, 4}, {1, 7, 1}, {8, 8, 8}, {1, 1, 1}, {20, 3, 17}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static uint64_t mat_in[NSHAPES][2][400];

static int body_matmul(eparty *p, void *ctx)
{
    (void)ctx;
    uint64_t xs[400], ys[400], z[400];
    p->out = calloc(NSHAPES * 400, sizeof *p->out);
    if (!p->out) return -1;
    for (size_t s = 0; s < NSHAPES; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        if (mpc_input(p->e, 0, p->self == 0 ? mat_in[s][0] : NULL, xs, m * k, &p->err) ||
            mpc_input(p->e, 1, p->self == 1 ? mat_in[s][1] : NULL, ys, k * n, &p->err) ||
            mpc_matmul(p->e, z, xs, ys, m, k, n, &p->err) ||
            mpc_open(p->e, z, p->out + s * 400, m * n, &p->err))
            return -1;
    }
    return 0;
}

static void test_matmul(uint32_t n)
{
    uint64_t s = 100 + n, want[400];
    for (size_t i = 0; i < NSHAPES; i++)
        for (int j = 0; j < 400; j++) {
            mat_in[i][0][j] = rnd(&s);
            mat_in[i][1][j] = rnd(&s);
        }
    eparty ps[3];
    CHECK(run(ps, n, body_matmul, NULL, NULL, NULL));
    for (size_t i = 0; i < NSHAPES && ps[0].ok; i++) {
        mpc_mat_mul_plain(want, mat_in[i][0], mat_in[i][1], shapes[i][0], shapes[i][1],
                          shapes[i][2]);
        /* the plain product against a naive triple loop */
        uint64_t w01 = 0;
        for (size_t q = 0; q < shapes[i][1]; q++)
            w01 += mat_in[i][0][q] * mat_in[i][1][q * shapes[i][2]];
        CHECK(want[0] == w01);
        for (uint32_t p = 0; p < n; p++)
            CHECK_MSG(memcmp(ps[p].out + i * 400, want, shapes[i][0] * shapes[i][2] * 8) == 0,
                      "%u parties, party %u: %zu x %zu x %zu product", n, p, shapes[i][0],
                      shapes[i][1], shapes[i][2]);
    }
    done(ps, n);
}

/* ---- truncation ----------------------------------------------------------------------------- */

#define TM 1000
typedef struct trunc_ctx {
    uint64_t x[TM];
    unsigned f;
} trunc_ctx;

static int body_trunc(eparty *p, void *ctx)
{
    trunc_ctx *t = ctx;
    uint64_t xs[TM];
    p->out = calloc(TM, sizeof *p->out);
    return !p->out || mpc_input(p->e, 0, p->self == 0 ? t->x : NULL, xs, TM, &p->err) ||
                   mpc_trunc(p->e, xs, xs, TM, t->f, &p->err) ||
                   mpc_open(p->e, xs, p->out, TM, &p->err)
               ? -1
               : 0;
}

static void test_trunc(uint32_t n)
{
    static trunc_ctx t;
    static const unsigned fs[] = {16, 16, 16, 16, 1, 32};
    uint64_t s = 1000 + n, cnt[2] = {0, 0}, bad = 0;
    double errsum = 0;
    for (size_t r = 0; r < sizeof fs / sizeof fs[0]; r++) {
        t.f = fs[r];
        for (int i = 0; i < TM; i++) {
            uint64_t v = rnd(&s);
            /* full range [-2^62, 2^62) for most, small magnitudes for some */
            int64_t x = i % 4 ? (int64_t)(v >> 1) - ((int64_t)1 << 62)
                              : (int64_t)(v >> 40) - ((int64_t)1 << 23);
            t.x[i] = (uint64_t)x;
        }
        /* the ends of the range and around 0 */
        int64_t ends[] = {
            -((int64_t)1 << 62),  ((int64_t)1 << 62) - 1, 0, -1, 1, ((int64_t)1 << t.f) - 1,
            -((int64_t)1 << t.f), (int64_t)1 << t.f};
        for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) t.x[i] = (uint64_t)ends[i];
        eparty ps[3];
        CHECK(run(ps, n, body_trunc, &t, NULL, NULL));
        for (uint32_t p = 0; p < n && ps[p].ok; p++)
            for (int i = 0; i < TM; i++) {
                int64_t x = (int64_t)t.x[i], fl = x >> t.f; /* arithmetic shift = floor */
                int64_t d = (int64_t)ps[p].out[i] - fl;
                if (d != 0 && d != 1) {
                    if (bad++ < 5)
                        fprintf(stderr, "trunc f=%u x=%lld: got %lld, floor %lld\n", t.f,
                                (long long)x, (long long)ps[p].out[i], (long long)fl);
                    continue;
                }
                if (p == 0) {
                    cnt[d]++;
                    errsum += (double)d - ldexp((double)(x & (((int64_t)1 << t.f) - 1)), -(int)t.f);
                }
            }
        done(ps, n);
    }
    CHECK_MSG(bad == 0, "%u parties: %llu truncations outside floor(x/2^f) + {0, 1}", n,
              (unsigned long long)bad);
    CHECK(cnt[0] > 1000 && cnt[1] > 1000); /* both roundings happen */
    double mean = errsum / (double)(cnt[0] + cnt[1]);
    CHECK_MSG(fabs(mean) < 0.05, "%u parties: mean truncation error %.4f ulp (unbiased)", n, mean);
}

/* ---- fixed point vs double ------------------------------------------------------------------ */

#define FK 64
typedef struct fx_ctx {
    double x[FK], y[FK];
    uint64_t ex[FK], ey[FK];
} fx_ctx;

static int body_fx(eparty *p, void *ctx)
{
    fx_ctx *f = ctx;
    uint64_t xs[FK], ys[FK], z[FK], dot;
    p->out = calloc(FK + 1, sizeof *p->out);
    return !p->out || mpc_input(p->e, 0, p->self == 0 ? f->ex : NULL, xs, FK, &p->err) ||
                   mpc_input(p->e, p->n - 1, p->self == p->n - 1 ? f->ey : NULL, ys, FK, &p->err) ||
                   mpc_fx_mul(p->e, z, xs, ys, FK, &p->err) ||
                   mpc_open(p->e, z, p->out, FK, &p->err) ||
                   mpc_fx_matmul(p->e, &dot, xs, ys, 1, FK, 1, &p->err) ||
                   mpc_open(p->e, &dot, p->out + FK, 1, &p->err)
               ? -1
               : 0;
}

static void test_fx(uint32_t n)
{
    static fx_ctx f;
    uint64_t s = 5000 + n;
    const double ulp = ldexp(1, -MPC_FX_FRAC);
    CHECK(mpc_fx_decode(mpc_fx_encode(-1.5)) == -1.5 && mpc_fx_encode(ulp) == 1 &&
          mpc_fx_encode(NAN) == 0 && mpc_fx_encode(1e300) == (uint64_t)INT64_MAX &&
          mpc_fx_encode(-1e300) == (uint64_t)INT64_MIN);
    for (int i = 0; i < FK; i++) {
        f.x[i] = ((double)(rnd(&s) >> 11) / 9007199254740992.0 - 0.5) * 200; /* [-100, 100) */
        f.y[i] = ((double)(rnd(&s) >> 11) / 9007199254740992.0 - 0.5) * 200;
        f.ex[i] = mpc_fx_encode(f.x[i]);
        f.ey[i] = mpc_fx_encode(f.y[i]);
    }
    eparty ps[3];
    CHECK(run(ps, n, body_fx, &f, NULL, NULL));
    for (uint32_t p = 0; p < n && ps[p].ok; p++) {
        int exact = 1, close = 1;
        int64_t dsum = 0;
        double ddot = 0, bound = ulp; /* truncation: < 1 ulp */
        for (int i = 0; i < FK; i++) {
            int64_t prod = (int64_t)f.ex[i] * (int64_t)f.ey[i], d = (int64_t)ps[p].out[i];
            exact &= d - (prod >> MPC_FX_FRAC) == 0 || d - (prod >> MPC_FX_FRAC) == 1;
            /* vs double: encoding (0.5 ulp per operand) and truncation (1 ulp) */
            double tol = (fabs(f.x[i]) + fabs(f.y[i]) + 0.25 * ulp) * 0.5 * ulp + ulp;
            close &= fabs(mpc_fx_decode(ps[p].out[i]) - f.x[i] * f.y[i]) <= tol;
            dsum += prod;
            ddot += f.x[i] * f.y[i];
            bound += (fabs(f.x[i]) + fabs(f.y[i]) + 0.25 * ulp) * 0.5 * ulp;
        }
        int64_t got = (int64_t)ps[p].out[FK];
        CHECK_MSG(exact, "%u parties: fx_mul is the truncated product of the encodings", n);
        CHECK_MSG(close, "%u parties: fx_mul within the stated bound of double", n);
        CHECK_MSG(got - (dsum >> MPC_FX_FRAC) == 0 || got - (dsum >> MPC_FX_FRAC) == 1,
                  "%u parties: fixed-point dot product: one truncation of the exact sum", n);
        CHECK_MSG(fabs(mpc_fx_decode((uint64_t)got) - ddot) <= bound,
                  "%u parties: dot product %.6f vs double %.6f (bound %.2g)", n,
                  mpc_fx_decode((uint64_t)got), ddot, bound);
    }
    done(ps, n);
}

/* ---- a share altered in transit ------------------------------------------------------------- */

typedef struct alter {
    uint64_t at; /* bytes party 1 sent party 0 so far */
} alter;

/* Adds 1 to the first word party 1 sends party 0 (its share in the first open: the seed
 * setup only sends from lower to higher parties). */
static void alter_share(void *ctx, uint32_t from, uint32_t to, uint8_t *p, size_t len)
{
    alter *a = ctx;
    if (from == 1 && to == 0 && a->at == 0 && len >= 8) p[0] ^= 1; /* the share's low bit */
    if (from == 1 && to == 0) a->at += len;
}

static int body_alter(eparty *p, void *ctx)
{
    uint64_t *x = ctx, xs;
    p->out = calloc(1, sizeof *p->out);
    return !p->out || mpc_input(p->e, 2, p->self == 2 ? x : NULL, &xs, 1, &p->err) ||
                   mpc_open(p->e, &xs, p->out, 1, &p->err)
               ? -1
               : 0;
}

static void test_alter(void)
{
    uint64_t x = 1000; /* even: the flipped low bit makes it 1001 or 999 */
    alter a = {0};
    eparty ps[3];
    CHECK_MSG(run(ps, 3, body_alter, &x, alter_share, &a),
              "no party notices a share changed in transit on the local transport");
    CHECK(a.at >= 8);
    CHECK(ps[0].ok && ps[0].out[0] != x && (ps[0].out[0] == 1001 || ps[0].out[0] == 999));
    CHECK(ps[1].ok && ps[1].out[0] == x && ps[2].ok && ps[2].out[0] == x);
    done(ps, 3);
}

/* The same fixed-point products and truncations over TLS on loopback (3 processes' worth
 * of parties as threads, each with its own identity). */
static void test_tls(void)
{
    static const char *const names[] = {"bank-a", "bank-b", "bank-c"};
    static fx_ctx f;
    mpc_tlsfix fix;
    uint64_t s = 777;
    for (int i = 0; i < FK; i++) {
        f.x[i] = (double)(int64_t)(rnd(&s) % 2001) / 10 - 100;
        f.y[i] = (double)(int64_t)(rnd(&s) % 2001) / 10 - 100;
        f.ex[i] = mpc_fx_encode(f.x[i]);
        f.ey[i] = mpc_fx_encode(f.y[i]);
    }
    CHECK(mpc_tlsfix_init(&fix, 3, names, 20000) == 0);
    eparty ps[3];
    pthread_t th[3];
    for (uint32_t i = 0; i < 3; i++) {
        ps[i] = (eparty){.self = i, .n = 3, .tls = &fix.cfg[i], .body = body_fx, .ctx = &f};
        pthread_create(&th[i], NULL, party_main, &ps[i]);
    }
    for (uint32_t i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(ps[i].ok, "party %u over TLS: %s", i, ps[i].err.msg);
    }
    int64_t dsum = 0;
    for (int i = 0; i < FK; i++) dsum += (int64_t)f.ex[i] * (int64_t)f.ey[i];
    for (uint32_t p = 0; p < 3 && ps[p].ok; p++) {
        int exact = 1;
        for (int i = 0; i < FK; i++) {
            int64_t d = (int64_t)ps[p].out[i] - (((int64_t)f.ex[i] * (int64_t)f.ey[i]) >> 16);
            exact &= d == 0 || d == 1;
        }
        int64_t d = (int64_t)ps[p].out[FK] - (dsum >> 16);
        CHECK_MSG(exact && (d == 0 || d == 1), "party %u over TLS: products and dot product", p);
    }
    done(ps, 3);
    mpc_tlsfix_free(&fix);
}

int main(void)
{
    for (uint32_t n = 2; n <= 3; n++) {
        test_basic(n);
        test_matmul(n);
        test_trunc(n);
        test_fx(n);
    }
    /* The online phase on the real offline phase's triples (OT-based, triples.c). */
    use_ot_triples = 1;
    for (uint32_t n = 2; n <= 3; n++) {
        test_basic(n);
        test_matmul(n);
        test_fx(n);
    }
    use_ot_triples = 0;
    test_alter();
    test_tls();
    return test_done("test_mpc_engine");
}
