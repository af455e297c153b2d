/* test_mpc_gc.c - mpc/gc.h: garbling then evaluating equals the plaintext for the adder
 * (random and exhaustive 4-bit), signed less-than (INT64_MIN, -1, 0, 1, INT64_MAX and their
 * neighbours, random pairs) and Delphi's ReLU on thousands of random shared values; the
 * costs (AND 2 ciphertexts, XOR and INV none); a changed table entry, tag or input label
 * gives the right output or MC2_E_AUTH, never a wrong value; the parser refuses truncated,
 * oversized and mislabelled tables; the two-party protocol (over mpc_net_local and ot.h, see
 * CMakeLists.txt for the stand-ins used while net.c and ot.c are written) for a comparison
 * and for the ReLU on shares, also with bytes changed in transit. Prints gates/s. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/alloc.h"
#include "mpc/gc.h"
#include "test.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Seconds of wall time, or of this process's CPU time (the figure that means something on a
 * loaded machine, for the single-threaded local runs). */
static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put_bits(uint8_t *bits, uint64_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) bits[i] = (uint8_t)(v >> i & 1);
}

static uint64_t get_bits(const uint8_t *bits, uint32_t n)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) v |= (uint64_t)bits[i] << i;
    return v;
}

/* A garbled circuit in this process: garbled, the active input labels picked for the bits. */
typedef struct lgc {
    mpc_gc_garbler *g;
    mpc_gc_tables *t;
    mpc_block *in, *out;
} lgc;

static mpc_prg *prg;

static int lgc_garble(lgc *l, const mpc_circuit *c, const uint8_t *bits)
{
    mc2_err err;
    if (mpc_gc_garble(c, prg, &l->g, &l->t, &err)) {
        fprintf(stderr, "garble: %s\n", err.msg);
        return -1;
    }
    uint32_t nin = c->n_g + c->n_e;
    l->in = malloc(nin * sizeof *l->in);
    l->out = malloc((c->nout + 1) * sizeof *l->out);
    if (!l->in || !l->out) abort();
    for (uint32_t i = 0; i < nin; i++) l->in[i] = mpc_gc_input_label(l->g, i, bits[i]);
    return 0;
}

/* Evaluates and decodes l; returns the mc2 code (MC2_OK: out holds the bits). */
static int lgc_run(lgc *l, const mpc_circuit *c, uint8_t *out)
{
    mc2_err err;
    mc2_err_clear(&err);
    if (mpc_gc_eval(c, l->t, l->in, l->out, &err) || mpc_gc_decode(l->t, l->out, out, &err))
        return err.code;
    return MC2_OK;
}

static void lgc_free(lgc *l)
{
    mpc_gc_garbler_free(l->g);
    mpc_gc_tables_free(l->t);
    free(l->in);
    free(l->out);
}

/* a op b through the garbled circuit c (garbler a, evaluator b, n bits each). */
static uint64_t gc2(const mpc_circuit *c, uint32_t n, uint64_t a, uint64_t b, int *ok)
{
    uint8_t bits[128], out[64];
    lgc l = {0};
    put_bits(bits, a, n);
    put_bits(bits + n, b, n);
    *ok = lgc_garble(&l, c, bits) == 0 && lgc_run(&l, c, out) == MC2_OK;
    lgc_free(&l);
    return *ok ? get_bits(out, c->nout) : 0;
}

static void test_add(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_gc_circuit_add(64, &err), *c4 = mpc_gc_circuit_add(4, &err);
    CHECK(c && c4);
    if (!c || !c4) return;
    CHECK(c->nand == 63 && c->nout == 64 && c4->nand == 3);
    int good = 1, ok;
    for (int i = 0; i < 300; i++) {
        uint64_t a = rnd(), b = i < 50 ? (uint64_t) - (int64_t)(i + 1) : rnd();
        good &= gc2(c, 64, a, b, &ok) == a + b && ok;
    }
    CHECK_MSG(good, "64-bit adder on 300 pairs");
    good = 1;
    for (uint64_t a = 0; a < 16; a++)
        for (uint64_t b = 0; b < 16; b++) good &= gc2(c4, 4, a, b, &ok) == ((a + b) & 15) && ok;
    CHECK_MSG(good, "4-bit adder on all 256 pairs");
    mpc_circuit_free(c);
    mpc_circuit_free(c4);
}

/* a - b and its sign bit (the sign of a - b in 64-bit two's complement, wrapping). */
static void test_sub(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_circuit_new(64, 64, &err);
    CHECK(c != NULL);
    if (!c) return;
    uint32_t a[64], b[64], s[64];
    for (uint32_t i = 0; i < 64; i++) {
        a[i] = i;
        b[i] = 64 + i;
    }
    mpc_gc_sub(c, a, b, 64, s);
    for (uint32_t i = 0; i < 64; i++) mpc_circuit_output(c, s[i]);
    mpc_circuit_output(c, s[63]);
    CHECK(mpc_circuit_check(c, &err) == 0 && c->nand == 63);
    int good = 1;
    for (int i = 0; i < 200; i++) {
        uint64_t x = i < 4 ? (uint64_t)INT64_MIN + (uint64_t)i : rnd(), y = i < 4 ? 1 : rnd();
        uint8_t bits[128], out[65];
        lgc l = {0};
        put_bits(bits, x, 64);
        put_bits(bits + 64, y, 64);
        int ok = lgc_garble(&l, c, bits) == 0 && lgc_run(&l, c, out) == MC2_OK;
        good &= ok && get_bits(out, 64) == x - y && out[64] == ((int64_t)(x - y) < 0);
        lgc_free(&l);
    }
    CHECK_MSG(good, "a - b and its sign on 200 pairs");
    mpc_circuit_free(c);
}

/* The N-th allocation failing, for N = 1, 2, ...: building, garbling, evaluating and parsing
 * fail cleanly (MC2_E_NOMEM, nothing leaked: ASan) or succeed, never crash. */
static void test_nomem(void)
{
    mc2_err err;
    int clean = 1, done = 0;
    for (unsigned long n = 1; n < 40 && !done; n++) {
        mpc_gc_garbler *g = NULL;
        mpc_gc_tables *t = NULL, *t2 = NULL;
        mpc_block in[16], out[8];
        uint8_t buf[4096], bits[8];
        mc2_err_clear(&err);
        mc2_alloc_fail_after(n);
        mpc_circuit *c = mpc_gc_circuit_add(8, &err);
        int rc = c ? mpc_gc_garble(c, prg, &g, &t, &err) : -1;
        if (rc == 0) {
            for (uint32_t i = 0; i < 16; i++) in[i] = mpc_gc_input_label(g, i, (int)(i & 1));
            mpc_gc_tables_write(t, buf);
            rc = mpc_gc_tables_parse(c, buf, mpc_gc_tables_size(c), &t2, &err);
        }
        if (rc == 0) rc = mpc_gc_eval(c, t2, in, out, &err);
        if (rc == 0) rc = mpc_gc_decode(t2, out, bits, &err);
        mc2_alloc_fail_after(0);
        if (rc == 0)
            done = 1;
        else
            clean &= err.code == MC2_E_NOMEM;
        mpc_gc_garbler_free(g);
        mpc_gc_tables_free(t);
        mpc_gc_tables_free(t2);
        mpc_circuit_free(c);
    }
    CHECK_MSG(clean && done, "allocation failures: clean %d, finished %d", clean, done);
}

static void test_lt(void)
{
    mc2_err err;
    static const int64_t edge[] = {INT64_MIN, INT64_MIN + 1, -2,       -1, 0, 1,
                                   2,         INT64_MAX - 1, INT64_MAX};
    mpc_circuit *c = mpc_gc_circuit_lt(64, &err), *c4 = mpc_gc_circuit_lt(4, &err);
    CHECK(c && c4);
    if (!c || !c4) return;
    CHECK(c->nand == 64 && c->nout == 1);
    int good = 1, ok;
    size_t ne = sizeof edge / sizeof *edge;
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < ne; j++) {
            uint64_t lt = gc2(c, 64, (uint64_t)edge[i], (uint64_t)edge[j], &ok);
            good &= ok && lt == (edge[i] < edge[j]);
            if (!ok || lt != (edge[i] < edge[j]))
                fprintf(stderr, "lt(%lld, %lld) = %llu\n", (long long)edge[i], (long long)edge[j],
                        (unsigned long long)lt);
        }
    CHECK_MSG(good, "signed less-than on the 81 pairs of edge values");
    good = 1;
    for (int i = 0; i < 300; i++) {
        int64_t a = (int64_t)rnd(), b = i % 3 ? (int64_t)rnd() : a + (int64_t)(rnd() % 5) - 2;
        good &= gc2(c, 64, (uint64_t)a, (uint64_t)b, &ok) == (a < b) && ok;
    }
    CHECK_MSG(good, "signed less-than on 300 random pairs");
    good = 1;
    for (int a = -8; a < 8; a++)
        for (int b = -8; b < 8; b++)
            good &= gc2(c4, 4, (uint64_t)a & 15, (uint64_t)b & 15, &ok) == (a < b) && ok;
    CHECK_MSG(good, "4-bit signed less-than on all 256 pairs");
    mpc_circuit_free(c);
    mpc_circuit_free(c4);
}

static uint64_t relu(uint64_t x)
{
    return (int64_t)x >= 0 ? x : 0;
}

/* Value j of a ReLU test: edge values first, then small fixed-point numbers around 0, then
 * anything. */
static uint64_t relu_value(uint32_t j)
{
    static const uint64_t edge[] = {(uint64_t)INT64_MIN, UINT64_MAX, 0, 1, (uint64_t)INT64_MAX};
    if (j < 5) return edge[j];
    if (j % 2) return (uint64_t)((int64_t)(rnd() % (1u << 20)) - (1 << 19));
    return rnd();
}

static void test_relu_local(void)
{
    enum { K = 1024, ROUNDS = 3 };
    mc2_err err;
    mpc_circuit *c = mpc_gc_circuit_relu(K, &err);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_MSG(c->nand == 189u * K && c->nout == 64u * K && c->n_g == 128u * K && c->n_e == 64u * K,
              "relu circuit: %u AND gates for %u values", c->nand, K);
    CHECK(mpc_gc_tables_size(c) == 12 + 32 * (size_t)c->nand + 16 * (size_t)c->nout);
    uint8_t *bits = malloc(192 * K), *out = malloc(64 * K);
    uint64_t x[K], xg[K], r[K];
    int good = 1;
    double tg = 0, te = 0;
    for (int round = 0; round < ROUNDS && bits && out; round++) {
        for (uint32_t j = 0; j < K; j++) {
            x[j] = relu_value(round * K + j);
            xg[j] = rnd();
            r[j] = rnd();
            put_bits(bits + 64 * j, xg[j], 64);
            put_bits(bits + 64 * (K + j), r[j], 64);
            put_bits(bits + 128 * K + 64 * j, x[j] - xg[j], 64);
        }
        lgc l = {0};
        double t0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        int ok = lgc_garble(&l, c, bits) == 0;
        double t1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        ok = ok && lgc_run(&l, c, out) == MC2_OK;
        te += clock_s(CLOCK_PROCESS_CPUTIME_ID) - t1;
        tg += t1 - t0;
        lgc_free(&l);
        for (uint32_t j = 0; j < K && ok; j++)
            good &= get_bits(out + 64 * j, 64) + r[j] == relu(x[j]);
        good &= ok;
    }
    CHECK_MSG(good, "ReLU on %d shared values (y - r decoded, plus r = ReLU(x))", K * ROUNDS);
    double gates = (double)c->ngates * ROUNDS, ands = (double)c->nand * ROUNDS;
    printf("test_mpc_gc: relu circuit %u values: %u gates (%u AND); garble %.2f M gates/s (%.2f M "
           "AND/s), evaluate %.2f M gates/s (%.2f M AND/s), incl. decoding, CPU time\n",
           K, c->ngates, c->nand, gates / tg / 1e6, ands / tg / 1e6, gates / te / 1e6,
           ands / te / 1e6);
    free(bits);
    free(out);
    mpc_circuit_free(c);
}

/* Free-XOR and half-gates costs, and the label structure. */
static void test_sizes(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_circuit_new(4, 4, &err);
    CHECK(c != NULL);
    if (!c) return;
    uint32_t w = 0;
    for (uint32_t i = 0; i < 100; i++) w = mpc_circuit_xor(c, w, i % 8);
    w = mpc_circuit_inv(c, w);
    mpc_circuit_output(c, w);
    CHECK(mpc_circuit_check(c, &err) == 0 && c->nand == 0);
    size_t xor_only = mpc_gc_tables_size(c);
    CHECK_MSG(xor_only == 12 + 16, "XOR and INV gates cost no table bytes (%zu)", xor_only);
    for (uint32_t i = 0; i < 10; i++) w = mpc_circuit_and(c, w, i % 8);
    mpc_circuit_output(c, w);
    CHECK(c->nand == 10 && mpc_gc_tables_size(c) == xor_only + 16 + 10 * 32);
    uint8_t bits[8] = {1, 0, 1, 1, 0, 1, 1, 1}, out[2];
    lgc l = {0};
    CHECK(lgc_garble(&l, c, bits) == 0 && lgc_run(&l, c, out) == MC2_OK);
    uint8_t v = bits[0]; /* w started as input wire 0 */
    for (uint32_t i = 0; i < 100; i++) v ^= bits[i % 8];
    v ^= 1;
    CHECK(out[0] == v);
    for (uint32_t i = 0; i < 10; i++) v &= bits[i % 8];
    CHECK(out[1] == v);
    CHECK(l.t->nand == 10); /* 2 blocks each */
    mpc_block d = mpc_gc_delta(l.g), a0 = mpc_gc_input_label(l.g, 3, 0),
              a1 = mpc_gc_input_label(l.g, 3, 1);
    CHECK((d.lo & 1) == 1 && (a0.lo ^ a1.lo) == d.lo && (a0.hi ^ a1.hi) == d.hi);
    lgc_free(&l);
    mpc_circuit_free(c);
}

/* Every single change to the tables, the tags or an input label: the output is right or
 * refused (MC2_E_AUTH), never wrong. */
static void test_detect(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_gc_circuit_add(64, &err);
    CHECK(c != NULL);
    if (!c) return;
    uint64_t a = rnd(), b = rnd();
    uint8_t bits[128], out[64];
    put_bits(bits, a, 64);
    put_bits(bits + 64, b, 64);
    lgc l = {0};
    CHECK(lgc_garble(&l, c, bits) == 0 && lgc_run(&l, c, out) == MC2_OK &&
          get_bits(out, 64) == a + b);
    unsigned wrong = 0, refused = 0, right = 0;
    for (uint32_t i = 0; i < 2 * c->nand; i++) { /* each table block, one random bit */
        mpc_block save = l.t->and_tab[i];
        uint64_t flip = 1ull << (rnd() % 64);
        if (rnd() & 1)
            l.t->and_tab[i].lo ^= flip;
        else
            l.t->and_tab[i].hi ^= flip;
        int rc = lgc_run(&l, c, out);
        if (rc == MC2_E_AUTH)
            refused++;
        else if (rc == MC2_OK && get_bits(out, 64) == a + b)
            right++;
        else
            wrong++;
        l.t->and_tab[i] = save;
    }
    CHECK_MSG(wrong == 0, "%u of %u changed table blocks decoded to a wrong value", wrong,
              2 * c->nand);
    /* A half gate reads its block only when its input label's permute bit is 1: about half
     * of the changes are never read (and harmless), the other half must be refused. */
    CHECK_MSG(refused >= c->nand / 2 && refused + right == 2 * c->nand,
              "changed tables refused %u times of %u (right %u)", refused, 2 * c->nand, right);
    unsigned tag_refused = 0;
    for (uint32_t i = 0; i < 2 * c->nout; i++) { /* a changed tag: the active one refuses */
        uint64_t flip = 1ull << (rnd() % 64);
        l.t->tags[i] ^= flip;
        int rc = lgc_run(&l, c, out);
        tag_refused += rc == MC2_E_AUTH;
        wrong += rc == MC2_OK && get_bits(out, 64) != a + b;
        l.t->tags[i] ^= flip;
    }
    CHECK_MSG(wrong == 0 && tag_refused == c->nout,
              "changed tags: %u refused of %u (the active tag of each output), %u wrong",
              tag_refused, 2 * c->nout, wrong);
    for (uint32_t w = 0; w < 128; w += 9) { /* a wrong input label (not its other label) */
        mpc_block save = l.in[w];
        l.in[w].lo ^= rnd() << 1; /* keeps the permute bit: the worst case for point-and-permute */
        l.in[w].hi ^= rnd();
        CHECK_MSG(lgc_run(&l, c, out) == MC2_E_AUTH, "input wire %u with a wrong label", w);
        l.in[w] = save;
    }
    l.in[5] = mpc_gc_input_label(l.g, 5, !bits[5]); /* the other valid label: the other value */
    CHECK(lgc_run(&l, c, out) == MC2_OK && get_bits(out, 64) == (a ^ (1ull << 5)) + b);
    lgc_free(&l);
    mpc_circuit_free(c);
}

static void test_parse(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_gc_circuit_lt(64, &err), *c2 = mpc_gc_circuit_add(64, &err);
    CHECK(c && c2);
    if (!c || !c2) return;
    uint8_t bits[128] = {0};
    lgc l = {0};
    CHECK(lgc_garble(&l, c, bits) == 0);
    size_t n = mpc_gc_tables_size(c);
    uint8_t *buf = malloc(n + 1);
    CHECK(buf != NULL);
    if (!buf) return;
    mpc_gc_tables_write(l.t, buf);
    buf[n] = 0;
    mpc_gc_tables *t = NULL;
    CHECK(mpc_gc_tables_parse(c, buf, n, &t, &err) == 0 && t && t->nand == l.t->nand &&
          memcmp(t->and_tab, l.t->and_tab, 32 * (size_t)t->nand) == 0 &&
          memcmp(t->tags, l.t->tags, 16 * (size_t)t->nout) == 0);
    mpc_gc_tables_free(t);
    size_t lens[] = {0, 1, 11, 12, n - 1, n + 1};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        t = (mpc_gc_tables *)1;
        CHECK_MSG(mpc_gc_tables_parse(c, buf, lens[i], &t, &err) == -1 && err.code == MC2_E_INPUT &&
                      t == NULL,
                  "%zu bytes of %zu", lens[i], n);
    }
    CHECK(strstr(err.msg, "bytes") != NULL);
    CHECK(mpc_gc_tables_parse(c2, buf, n, &t, &err) == -1 && err.code == MC2_E_INPUT);
    buf[0] ^= 1;
    CHECK(mpc_gc_tables_parse(c, buf, n, &t, &err) == -1 && err.code == MC2_E_INPUT);
    buf[0] ^= 1;
    buf[4] ^= 1; /* nand 63 or 65 with the length of 64 */
    CHECK(mpc_gc_tables_parse(c, buf, n, &t, &err) == -1 && err.code == MC2_E_INPUT &&
          strstr(err.msg, "header") != NULL);
    buf[4] ^= 1;
    buf[8] ^= 2;
    CHECK(mpc_gc_tables_parse(c, buf, n, &t, &err) == -1 && err.code == MC2_E_INPUT);
    free(buf);
    lgc_free(&l);
    mpc_circuit_free(c);
    mpc_circuit_free(c2);
    CHECK(mpc_gc_circuit_add(0, &err) == NULL && err.code == MC2_E_USAGE);
    CHECK(mpc_gc_circuit_lt(65, &err) == NULL && err.code == MC2_E_USAGE);
    CHECK(mpc_gc_circuit_relu(MPC_GC_RELU_MAX + 1, &err) == NULL && err.code == MC2_E_USAGE);
}

/* ---- the two-party protocol ------------------------------------------------------------ */

typedef struct party {
    mpc_net *net;
    int garbler;
    const mpc_circuit *c; /* NULL: the ReLU on shares */
    const uint8_t *bits;
    uint8_t *out;
    const uint64_t *x;
    uint64_t *y;
    size_t k;
    struct tamper *tp; /* the garbler's: arms it once OT setup is over */
    int split;         /* offline, wait for the peer's offline, then online (G: bits -8) */
    int rc;
    mc2_err err;
} party;

/* Changes byte `at` of the garbler's gc stream: counted from the end of the OT setup (the
 * bytes the garbler had sent by then, `base`), so what OT setup sends does not matter. The
 * hook may run on a thread of the net: base and armed are atomics. */
typedef struct tamper {
    size_t at, seen;
    uint8_t x;
    _Atomic size_t base;
    atomic_int armed;
} tamper;

static pthread_barrier_t offline_done;

/* Offline, both parties wait, G sets its input only now, online. */
static int party_split(party *p, mpc_ot *ot, uint32_t peer)
{
    mpc_gc_pending *pd = NULL;
    int rc = p->garbler ? mpc_gc_offline_garbler(p->net, peer, ot, prg, p->c, &pd, &p->err)
                        : mpc_gc_offline_evaluator(p->net, peer, ot, p->c, p->bits, &pd, &p->err);
    pthread_barrier_wait(&offline_done);
    if (rc == 0 && p->garbler) {
        put_bits((uint8_t *)p->bits, (uint64_t)-8, 64);
        rc = mpc_gc_online_garbler(p->net, peer, pd, p->bits, &p->err);
    } else if (rc == 0) {
        rc = mpc_gc_online_evaluator(p->net, peer, pd, p->out, &p->err);
    }
    mpc_gc_pending_free(pd);
    return rc;
}

/* The party's side of the protocol, over ot. */
static int party_run(party *p, mpc_ot *ot, uint32_t peer)
{
    if (p->split) return party_split(p, ot, peer);
    if (p->c && p->garbler)
        return mpc_gc_run_garbler(p->net, peer, ot, prg, p->c, p->bits, &p->err);
    if (p->c) return mpc_gc_run_evaluator(p->net, peer, ot, p->c, p->bits, p->out, &p->err);
    if (!p->garbler) return mpc_gc_relu_evaluator(p->net, peer, ot, p->x, p->k, p->y, &p->err);
    mpc_prg *g = mpc_prg_random(&p->err); /* one generator per thread */
    int rc = g ? mpc_gc_relu_garbler(p->net, peer, ot, g, p->x, p->k, p->y, &p->err) : -1;
    mpc_prg_free(g);
    return rc;
}

static void *party_main(void *arg)
{
    party *p = arg;
    mpc_ot *ot = NULL;
    uint32_t peer = p->garbler ? 1 : 0;
    mc2_err_clear(&p->err);
    p->rc = mpc_ot_setup(p->net, peer, p->garbler, &ot, &p->err);
    if (p->rc == 0 && p->tp) {
        uint64_t sent, received;
        mpc_net_counters(p->net, peer, &sent, &received);
        atomic_store(&p->tp->base, (size_t)sent);
        atomic_store(&p->tp->armed, 1);
    }
    if (p->rc == 0) p->rc = party_run(p, ot, peer);
    mpc_ot_free(ot);
    mpc_net_free(p->net); /* a party that stopped closes its channels: the peer does not wait */
    return NULL;
}

static void tamper_fn(void *ctx, uint32_t from, uint32_t to, uint8_t *p, size_t len)
{
    tamper *t = ctx;
    (void)to;
    if (from != 0) return;
    size_t at = t->at + atomic_load(&t->base);
    if (atomic_load(&t->armed) && at >= t->seen && at < t->seen + len) p[at - t->seen] ^= t->x;
    t->seen += len;
}

/* Runs the garbler (party 0) and the evaluator (party 1) in two threads. */
static void run2(party *g, party *e, tamper *tp)
{
    mc2_err err;
    mpc_net *nets[2];
    if (mpc_net_local(2, nets, tp ? tamper_fn : NULL, tp, &err)) {
        fprintf(stderr, "mpc_net_local: %s\n", err.msg);
        abort();
    }
    g->net = nets[0];
    e->net = nets[1];
    g->garbler = 1;
    e->garbler = 0;
    pthread_t tg, te;
    if (pthread_create(&tg, NULL, party_main, g) || pthread_create(&te, NULL, party_main, e))
        abort();
    pthread_join(tg, NULL);
    pthread_join(te, NULL);
}

static void test_protocol(void)
{
    mc2_err err;
    mpc_circuit *c = mpc_gc_circuit_lt(64, &err);
    CHECK(c != NULL);
    if (!c) return;
    int good = 1;
    for (int i = 0; i < 6; i++) {
        int64_t a = i < 3 ? INT64_MIN + i : (int64_t)rnd(), b = i < 3 ? -1 + i : (int64_t)rnd();
        uint8_t ga[64], eb[64], out[1] = {7};
        put_bits(ga, (uint64_t)a, 64);
        put_bits(eb, (uint64_t)b, 64);
        party g = {.c = c, .bits = ga}, e = {.c = c, .bits = eb, .out = out};
        run2(&g, &e, NULL);
        good &= g.rc == 0 && e.rc == 0 && out[0] == (a < b);
        if (g.rc || e.rc) fprintf(stderr, "protocol: %s / %s\n", g.err.msg, e.err.msg);
    }
    CHECK_MSG(good, "signed less-than over the protocol");
    /* Bytes changed in transit (no TLS under mpc_net_local): in the header, refused as input;
     * in the tag of the output's value, refused; in the other tag, harmless; in a table block,
     * refused or harmless (a half gate this evaluation did not read); never a wrong bit. */
    size_t tsz = mpc_gc_tables_size(c);
    unsigned wrong = 0, refused = 0, nt = 0;
    for (size_t i = 0; i < 20; i++) {
        uint8_t ga[64], eb[64], out[1] = {7};
        int64_t a = -5, b = 3; /* a < b: the output is 1, its tag the last 8 bytes */
        size_t at = i == 0 ? 2 : i == 1 ? 5 : i == 2 ? tsz - 16 : i == 3 ? tsz - 1 : 12 + 103 * i;
        put_bits(ga, (uint64_t)a, 64);
        put_bits(eb, (uint64_t)b, 64);
        tamper tp = {.at = at, .x = 0x40};
        party g = {.c = c, .bits = ga, .tp = &tp}, e = {.c = c, .bits = eb, .out = out};
        run2(&g, &e, &tp);
        if (i < 2) CHECK_MSG(e.rc == -1 && e.err.code == MC2_E_INPUT, "header byte %zu", at);
        if (i == 2) CHECK_MSG(e.rc == 0 && out[0] == 1, "the other tag changed: %s", e.err.msg);
        if (i == 3) CHECK_MSG(e.rc == -1 && e.err.code == MC2_E_AUTH, "the output's tag changed");
        if (i < 4) continue;
        nt++;
        if (e.rc == 0)
            wrong += out[0] != 1;
        else
            refused += e.err.code == MC2_E_AUTH;
        CHECK_MSG(e.rc == 0 || e.err.code == MC2_E_AUTH, "table byte %zu: %s", at, e.err.msg);
    }
    CHECK_MSG(wrong == 0 && refused >= 1, "%u table bytes changed in transit: %u wrong, %u refused",
              nt, wrong, refused);
    /* The offline phase needs only E's input: G chooses its bits after both offline phases. */
    uint8_t gs_bits[64] = {0}, es_bits[64], s_out[1] = {7};
    put_bits(es_bits, (uint64_t)-7, 64);
    party gs = {.c = c, .bits = gs_bits, .split = 1},
          es = {.c = c, .bits = es_bits, .out = s_out, .split = 1};
    run2(&gs, &es, NULL);
    CHECK_MSG(gs.rc == 0 && es.rc == 0 && s_out[0] == 1, "offline, then online: -8 < -7: %s / %s",
              gs.err.msg, es.err.msg);
    mpc_circuit_free(c);

    enum { K = MPC_GC_RELU_MAX + 904 }; /* two circuits */
    uint64_t *x = malloc(K * sizeof *x), *xg = malloc(K * sizeof *x), *xe = malloc(K * sizeof *x),
             *r = malloc(K * sizeof *x), *ye = malloc(K * sizeof *x);
    if (!x || !xg || !xe || !r || !ye) abort();
    for (uint32_t j = 0; j < K; j++) {
        x[j] = relu_value(j);
        xg[j] = rnd();
        xe[j] = x[j] - xg[j];
    }
    party g = {.x = xg, .y = r, .k = K}, e = {.x = xe, .y = ye, .k = K};
    double t0 = clock_s(CLOCK_MONOTONIC);
    run2(&g, &e, NULL);
    double dt = clock_s(CLOCK_MONOTONIC) - t0;
    CHECK_MSG(g.rc == 0 && e.rc == 0, "relu protocol: %s / %s", g.err.msg, e.err.msg);
    good = 1;
    size_t zero_r = 0;
    for (uint32_t j = 0; j < K; j++) {
        good &= r[j] + ye[j] == relu(x[j]);
        zero_r += r[j] == 0;
    }
    CHECK_MSG(good && zero_r == 0, "ReLU on %d shared values over the protocol", K);
    printf("test_mpc_gc: relu protocol on %d values (both parties, one process): %.3f s "
           "wall\n",
           K, dt);
    free(x);
    free(xg);
    free(xe);
    free(r);
    free(ye);
}

int main(void)
{
    mc2_err err;
    prg = mpc_prg_random(&err);
    if (pthread_barrier_init(&offline_done, NULL, 2)) abort();
    CHECK(prg != NULL);
    if (!prg) return test_done("test_mpc_gc");
    test_sizes();
    test_add();
    test_sub();
    test_lt();
    test_nomem();
    test_relu_local();
    test_detect();
    test_parse();
    test_protocol();
    mpc_prg_free(prg);
    return test_done("test_mpc_gc");
}
