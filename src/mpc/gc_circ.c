/* gc_circ.c - boolean circuits and their builders (gc.h: adder, subtractor, signed
 * less-than, Delphi's ReLU on additive shares). */
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "mpc/gc.h"

mpc_circuit *mpc_circuit_new(uint32_t n_g, uint32_t n_e, mc2_err *err)
{
    if ((uint64_t)n_g + n_e == 0 || (uint64_t)n_g + n_e > MPC_GC_MAX_WIRES) {
        mc2_err_set(err, MC2_E_LIMIT, "mpc circuit: %u + %u input wires (1 to %u allowed)", n_g,
                    n_e, MPC_GC_MAX_WIRES);
        return NULL;
    }
    mpc_circuit *c = mc2_calloc(1, sizeof *c);
    if (!c) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    c->n_g = n_g;
    c->n_e = n_e;
    return c;
}

void mpc_circuit_free(mpc_circuit *c)
{
    if (!c) return;
    mc2_free(c->gates);
    mc2_free(c->out);
    mc2_free(c);
}

/* Grows an array of cap elements of size sz to hold one more; false on failure. */
static bool grow(void **p, uint32_t *cap, size_t sz)
{
    uint32_t ncap = *cap ? *cap * 2 : 256;
    if (ncap > MPC_GC_MAX_WIRES) ncap = MPC_GC_MAX_WIRES;
    if (ncap <= *cap) return false;
    void *q = mc2_realloc(*p, (size_t)ncap * sz);
    if (!q) return false;
    *p = q;
    *cap = ncap;
    return true;
}

static uint32_t gate(mpc_circuit *c, enum mpc_gc_op op, uint32_t a, uint32_t b)
{
    uint32_t nw = mpc_circuit_wires(c);
    if (a >= nw || b >= nw) {
        fprintf(stderr, "mpc_circuit: gate reads wire %u of %u (a bug in a builder)\n",
                a >= nw ? a : b, nw);
        abort();
    }
    if (c->failed) return 0;
    if (nw >= MPC_GC_MAX_WIRES) {
        c->failed = MC2_E_LIMIT;
        return 0;
    }
    if (c->ngates == c->cap_gates && !grow((void **)&c->gates, &c->cap_gates, sizeof *c->gates)) {
        c->failed = MC2_E_NOMEM;
        return 0;
    }
    c->gates[c->ngates++] = (mpc_gc_gate){a, b, (uint32_t)op};
    c->nand += op == MPC_GC_AND;
    return nw;
}

uint32_t mpc_circuit_xor(mpc_circuit *c, uint32_t a, uint32_t b)
{
    return gate(c, MPC_GC_XOR, a, b);
}

uint32_t mpc_circuit_and(mpc_circuit *c, uint32_t a, uint32_t b)
{
    return gate(c, MPC_GC_AND, a, b);
}

uint32_t mpc_circuit_inv(mpc_circuit *c, uint32_t a)
{
    return gate(c, MPC_GC_INV, a, 0);
}

void mpc_circuit_output(mpc_circuit *c, uint32_t w)
{
    if (w >= mpc_circuit_wires(c)) {
        fprintf(stderr, "mpc_circuit: output wire %u of %u (a bug in a builder)\n", w,
                mpc_circuit_wires(c));
        abort();
    }
    if (c->failed) return;
    if (c->nout == c->cap_out && !grow((void **)&c->out, &c->cap_out, sizeof *c->out)) {
        c->failed = c->cap_out == MPC_GC_MAX_WIRES ? MC2_E_LIMIT : MC2_E_NOMEM;
        return;
    }
    c->out[c->nout++] = w;
}

int mpc_circuit_check(const mpc_circuit *c, mc2_err *err)
{
    if (c->failed == MC2_E_NOMEM)
        return mc2_err_set(err, MC2_E_NOMEM, "mpc circuit: out of memory while building it");
    if (c->failed)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "mpc circuit: more than %u wires or outputs (build smaller circuits)",
                           MPC_GC_MAX_WIRES);
    return 0;
}

uint32_t mpc_gc_zero(mpc_circuit *c)
{
    return mpc_circuit_xor(c, 0, 0);
}

/* The ripple-carry chain of a + b + cin, b optionally inverted (a - b = a + ~b + 1). Sums go
 * to s (if not NULL); returns the carry out of bit n-1 if want_cout, else skips that last
 * AND gate and returns 0. One AND per bit: c' = c ^ ((a ^ c) & (b ^ c)). */
static uint32_t ripple(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n, bool inv_b,
                       bool cin_one, uint32_t *s, bool want_cout)
{
    uint32_t carry = mpc_gc_zero(c);
    if (cin_one) carry = mpc_circuit_inv(c, carry);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t bi = inv_b ? mpc_circuit_inv(c, b[i]) : b[i];
        uint32_t ac = mpc_circuit_xor(c, a[i], carry);
        uint32_t bc = mpc_circuit_xor(c, bi, carry);
        if (s) s[i] = mpc_circuit_xor(c, ac, bi); /* a ^ b ^ c */
        if (i + 1 < n || want_cout) carry = mpc_circuit_xor(c, carry, mpc_circuit_and(c, ac, bc));
    }
    return want_cout ? carry : 0;
}

void mpc_gc_add(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n, uint32_t *s)
{
    (void)ripple(c, a, b, n, false, false, s, false);
}

void mpc_gc_sub(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n, uint32_t *s)
{
    (void)ripple(c, a, b, n, true, true, s, false);
}

uint32_t mpc_gc_lt(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n)
{
    /* Signed a < b iff unsigned (a ^ 2^(n-1)) < (b ^ 2^(n-1)) iff a' + ~b' + 1 carries no
     * bit out. Flipping the top bits is INV, and ~b' on the top bit cancels that flip. */
    uint32_t top_a = a[n - 1], top_b = b[n - 1], aa[64], bb[64];
    if (n > 64) abort();
    for (uint32_t i = 0; i < n; i++) {
        aa[i] = a[i];
        bb[i] = b[i];
    }
    aa[n - 1] = mpc_circuit_inv(c, top_a);
    bb[n - 1] = mpc_circuit_inv(c, top_b);
    return mpc_circuit_inv(c, ripple(c, aa, bb, n, true, true, NULL, true));
}

/* A circuit with n-bit inputs a (garbler) and b (evaluator), wires in ia[], ib[]. */
static mpc_circuit *two_inputs(uint32_t n, uint32_t *ia, uint32_t *ib, mc2_err *err)
{
    if (n < 1 || n > 64) {
        mc2_err_set(err, MC2_E_USAGE, "mpc circuit: %u-bit values (1 to 64 allowed)", n);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        ia[i] = i;
        ib[i] = n + i;
    }
    return mpc_circuit_new(n, n, err);
}

static mpc_circuit *finish(mpc_circuit *c, mc2_err *err)
{
    if (mpc_circuit_check(c, err)) {
        mpc_circuit_free(c);
        return NULL;
    }
    return c;
}

mpc_circuit *mpc_gc_circuit_add(uint32_t n, mc2_err *err)
{
    uint32_t a[64], b[64], s[64];
    mpc_circuit *c = two_inputs(n, a, b, err);
    if (!c) return NULL;
    mpc_gc_add(c, a, b, n, s);
    for (uint32_t i = 0; i < n; i++) mpc_circuit_output(c, s[i]);
    return finish(c, err);
}

mpc_circuit *mpc_gc_circuit_lt(uint32_t n, mc2_err *err)
{
    uint32_t a[64], b[64];
    mpc_circuit *c = two_inputs(n, a, b, err);
    if (!c) return NULL;
    mpc_circuit_output(c, mpc_gc_lt(c, a, b, n));
    return finish(c, err);
}

mpc_circuit *mpc_gc_circuit_relu(uint32_t k, mc2_err *err)
{
    if (k < 1 || k > MPC_GC_RELU_MAX) {
        mc2_err_set(err, MC2_E_USAGE, "mpc relu circuit: %u values (1 to %u per circuit)", k,
                    MPC_GC_RELU_MAX);
        return NULL;
    }
    mpc_circuit *c = mpc_circuit_new(128 * k, 64 * k, err);
    if (!c) return NULL;
    uint32_t zero = mpc_gc_zero(c);
    for (uint32_t j = 0; j < k; j++) {
        uint32_t xg[64], r[64], xe[64], x[64], y[64], d[64];
        for (uint32_t i = 0; i < 64; i++) {
            xg[i] = 64 * j + i;
            r[i] = 64 * (k + j) + i;
            xe[i] = 128 * k + 64 * j + i;
        }
        mpc_gc_add(c, xg, xe, 64, x);
        uint32_t pos = mpc_circuit_inv(c, x[63]); /* x >= 0 */
        for (uint32_t i = 0; i < 63; i++) y[i] = mpc_circuit_and(c, x[i], pos);
        y[63] = zero; /* ReLU's result is never negative */
        mpc_gc_sub(c, y, r, 64, d);
        for (uint32_t i = 0; i < 64; i++) mpc_circuit_output(c, d[i]);
    }
    return finish(c, err);
}
