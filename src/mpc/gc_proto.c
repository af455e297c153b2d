/* gc_proto.c - the two-party garbled-circuit protocol over net.h and ot.h, and Delphi's ReLU
 * on additive shares over it (gc.h, PROTOCOL):
 *
 *   G: garble c (fresh Delta, labels)
 *   G -> E: garbled tables, mpc_gc_tables_size(c) bytes
 *   G -> E: n_g blocks, the labels of G's input bits
 *   OT:     n_e chosen-message OTs, G sends (W0, W1) of E's input wire j, E chooses by bit j
 *   E:      evaluate, decode (MC2_E_AUTH if a label is invalid)
 *
 * Kept apart from gc.c so that garbling alone does not pull in the channels and OT. */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/crypto.h"
#include "mpc/gc.h"

static int send_blocks(mpc_net *net, uint32_t peer, const mpc_block *b, size_t n, mc2_err *err)
{
    uint8_t buf[16 * 64];
    for (size_t off = 0; off < n; off += 64) {
        size_t m = n - off < 64 ? n - off : 64;
        for (size_t j = 0; j < m; j++) {
            mc2_le64_put(buf + 16 * j, b[off + j].lo);
            mc2_le64_put(buf + 16 * j + 8, b[off + j].hi);
        }
        if (mpc_net_send(net, peer, buf, 16 * m, err)) return -1;
    }
    return 0;
}

static int recv_blocks(mpc_net *net, uint32_t peer, mpc_block *b, size_t n, mc2_err *err)
{
    uint8_t buf[16 * 64];
    for (size_t off = 0; off < n; off += 64) {
        size_t m = n - off < 64 ? n - off : 64;
        if (mpc_net_recv(net, peer, buf, 16 * m, err)) return -1;
        for (size_t j = 0; j < m; j++)
            b[off + j] = (mpc_block){mc2_le64_get(buf + 16 * j), mc2_le64_get(buf + 16 * j + 8)};
    }
    return 0;
}

int mpc_gc_run_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const mpc_circuit *c,
                       const uint8_t *gbits, mc2_err *err)
{
    mpc_gc_garbler *g = NULL;
    mpc_gc_tables *t = NULL;
    size_t tsz = mpc_gc_tables_size(c), nin = (size_t)c->n_g + c->n_e;
    uint8_t *buf = NULL;
    mpc_block *lab = NULL; /* G's active labels, then E's pairs (W0 | W1) */
    int rc = -1;
    if (mpc_gc_garble(c, prg, &g, &t, err)) goto out;
    if (!(buf = mc2_malloc(tsz)) || !(lab = mc2_malloc((nin + c->n_e) * sizeof *lab + 1))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbled tables, %zu bytes)", tsz);
        goto out;
    }
    mpc_gc_tables_write(t, buf);
    for (uint32_t i = 0; i < c->n_g; i++) lab[i] = mpc_gc_input_label(g, i, gbits[i]);
    if (mpc_net_send(net, peer, buf, tsz, err) || send_blocks(net, peer, lab, c->n_g, err))
        goto out;
    mpc_block *m0 = lab + c->n_g, *m1 = m0 + c->n_e;
    for (uint32_t j = 0; j < c->n_e; j++) {
        m0[j] = mpc_gc_input_label(g, c->n_g + j, 0);
        m1[j] = mpc_gc_input_label(g, c->n_g + j, 1);
    }
    if (mpc_ot_send(ot, m0, m1, c->n_e, err)) goto out;
    rc = 0;
out:
    if (rc) mc2_err_prefix(err, "garbled circuit (garbler, peer %u): ", peer);
    if (lab) mc2_free_wipe(lab, (nin + c->n_e) * sizeof *lab + 1);
    mc2_free(buf);
    mpc_gc_garbler_free(g);
    mpc_gc_tables_free(t);
    return rc;
}

int mpc_gc_run_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const mpc_circuit *c,
                         const uint8_t *ebits, uint8_t *out, mc2_err *err)
{
    mpc_gc_tables *t = NULL;
    size_t tsz = mpc_gc_tables_size(c), nin = (size_t)c->n_g + c->n_e;
    uint8_t *buf = mc2_malloc(tsz);
    mpc_block *in = mc2_malloc(nin * sizeof *in),
              *ol = mc2_malloc((size_t)c->nout * sizeof *ol + 1);
    int rc = -1;
    if (!buf || !in || !ol) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbled tables, %zu bytes)", tsz);
        goto out;
    }
    if (mpc_net_recv(net, peer, buf, tsz, err) || mpc_gc_tables_parse(c, buf, tsz, &t, err) ||
        recv_blocks(net, peer, in, c->n_g, err) ||
        mpc_ot_recv(ot, ebits, in + c->n_g, c->n_e, err) || mpc_gc_eval(c, t, in, ol, err) ||
        mpc_gc_decode(t, ol, out, err))
        goto out;
    rc = 0;
out:
    if (rc) mc2_err_prefix(err, "garbled circuit (evaluator, peer %u): ", peer);
    mc2_free(buf);
    if (in) mc2_free_wipe(in, nin * sizeof *in);
    if (ol) mc2_free_wipe(ol, (size_t)c->nout * sizeof *ol + 1);
    mpc_gc_tables_free(t);
    return rc;
}

/* ---- ReLU on shares ------------------------------------------------------------------- */

static void put_bits(uint8_t *bits, uint64_t v)
{
    for (int i = 0; i < 64; i++) bits[i] = (uint8_t)(v >> i & 1);
}

static uint64_t get_bits(const uint8_t *bits)
{
    uint64_t v = 0;
    for (int i = 0; i < 64; i++) v |= (uint64_t)(bits[i] & 1) << i;
    return v;
}

/* One side of the ReLU protocol on k values in circuits of MPC_GC_RELU_MAX at most. The
 * garbler (prg != NULL) draws r and inputs (x, r); the evaluator inputs x and decodes y. */
static int relu_run(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const uint64_t *x,
                    size_t k, uint64_t *y, mc2_err *err)
{
    size_t chunk = k < MPC_GC_RELU_MAX ? k : MPC_GC_RELU_MAX;
    uint8_t *bits = mc2_malloc(128 * chunk + 1);
    mpc_circuit *c = NULL;
    int rc = -1;
    if (!bits) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (relu on %zu values)", k);
        goto out;
    }
    for (size_t off = 0; off < k; off += chunk) {
        uint32_t m = (uint32_t)(k - off < chunk ? k - off : chunk);
        if (!c || c->nout != 64 * m) {
            mpc_circuit_free(c);
            if (!(c = mpc_gc_circuit_relu(m, err))) goto out;
        }
        for (uint32_t j = 0; j < m; j++) put_bits(bits + 64 * j, x[off + j]);
        if (prg) {
            if (mpc_prg_bytes(prg, y + off, m * sizeof *y, err)) goto out;
            for (uint32_t j = 0; j < m; j++) put_bits(bits + 64 * (m + j), y[off + j]);
            if (mpc_gc_run_garbler(net, peer, ot, prg, c, bits, err)) goto out;
        } else {
            if (mpc_gc_run_evaluator(net, peer, ot, c, bits, bits + 64 * m, err)) goto out;
            for (uint32_t j = 0; j < m; j++) y[off + j] = get_bits(bits + 64 * (m + j));
        }
    }
    rc = 0;
out:
    if (bits) mc2_free_wipe(bits, 128 * chunk + 1);
    mpc_circuit_free(c);
    return rc;
}

int mpc_gc_relu_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const uint64_t *x_g,
                        size_t k, uint64_t *r, mc2_err *err)
{
    return relu_run(net, peer, ot, prg, x_g, k, r, err);
}

int mpc_gc_relu_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const uint64_t *x_e, size_t k,
                          uint64_t *y_e, mc2_err *err)
{
    return relu_run(net, peer, ot, NULL, x_e, k, y_e, err);
}
