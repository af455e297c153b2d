/* gc_proto.c - the two-party garbled-circuit protocol over net.h and ot.h, and Delphi's ReLU
 * on additive shares over it (gc.h, PROTOCOL):
 *
 *   offline  G: garble c (fresh Delta, labels)
 *            G -> E: garbled tables, mpc_gc_tables_size(c) bytes
 *            OT: n_e chosen-message OTs, G sends (W0, W1) of E's input wire j, E chooses by
 *                bit j
 *   online   G -> E: n_g blocks, the labels of G's input bits
 *            E: evaluate, decode (MC2_E_AUTH if a label is invalid)
 *
 * Kept apart from gc.c so that garbling alone does not pull in the channels and OT. */
#include <stdlib.h>
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

struct mpc_gc_pending {
    const mpc_circuit *c;
    bool garbler, used;
    mpc_gc_garbler *g; /* garbler: its secrets until the online phase */
    mpc_gc_tables *t;  /* evaluator: the parsed tables */
    mpc_block *labels; /* evaluator: n_g + n_e input labels (E's from the OT) */
};

void mpc_gc_pending_free(mpc_gc_pending *p)
{
    if (!p) return;
    mpc_gc_garbler_free(p->g);
    mpc_gc_tables_free(p->t);
    if (p->labels)
        mc2_free_wipe(p->labels, ((size_t)p->c->n_g + p->c->n_e) * sizeof *p->labels + 1);
    mc2_free(p);
}

static mpc_gc_pending *pending_new(const mpc_circuit *c, bool garbler, mc2_err *err)
{
    mpc_gc_pending *p = mc2_calloc(1, sizeof *p);
    if (!p) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    p->c = c;
    p->garbler = garbler;
    return p;
}

int mpc_gc_offline_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg,
                           const mpc_circuit *c, mpc_gc_pending **out, mc2_err *err)
{
    mpc_gc_pending *p = pending_new(c, true, err);
    mpc_gc_tables *t = NULL;
    size_t tsz = mpc_gc_tables_size(c);
    uint8_t *buf = NULL;
    mpc_block *m = NULL; /* E's label pairs: W0 | W1 */
    int rc = -1;
    *out = NULL;
    if (!p || mpc_gc_garble(c, prg, &p->g, &t, err)) goto out;
    if (!(buf = mc2_malloc(tsz)) || !(m = mc2_malloc(2 * (size_t)c->n_e * sizeof *m + 1))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbled tables, %zu bytes)", tsz);
        goto out;
    }
    mpc_gc_tables_write(t, buf);
    for (uint32_t j = 0; j < c->n_e; j++) {
        m[j] = mpc_gc_input_label(p->g, c->n_g + j, 0);
        m[c->n_e + j] = mpc_gc_input_label(p->g, c->n_g + j, 1);
    }
    if (mpc_net_send(net, peer, buf, tsz, err) || mpc_ot_send(ot, m, m + c->n_e, c->n_e, err))
        goto out;
    *out = p;
    p = NULL;
    rc = 0;
out:
    if (rc) mc2_err_prefix(err, "garbled circuit (garbler, offline, peer %u): ", peer);
    if (m) mc2_free_wipe(m, 2 * (size_t)c->n_e * sizeof *m + 1);
    mc2_free(buf);
    mpc_gc_tables_free(t);
    mpc_gc_pending_free(p);
    return rc;
}

int mpc_gc_online_garbler(mpc_net *net, uint32_t peer, mpc_gc_pending *p, const uint8_t *gbits,
                          mc2_err *err)
{
    if (!p->garbler || p->used) abort(); /* a bug in the caller: labels of one garbling twice */
    p->used = true;
    const mpc_circuit *c = p->c;
    mpc_block *lab = mc2_malloc((size_t)c->n_g * sizeof *lab + 1);
    int rc = -1;
    if (!lab) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    } else {
        for (uint32_t i = 0; i < c->n_g; i++) lab[i] = mpc_gc_input_label(p->g, i, gbits[i]);
        rc = send_blocks(net, peer, lab, c->n_g, err);
        mc2_free_wipe(lab, (size_t)c->n_g * sizeof *lab + 1);
    }
    mpc_gc_garbler_free(p->g); /* never again: a second set of labels would reveal Delta */
    p->g = NULL;
    if (rc) mc2_err_prefix(err, "garbled circuit (garbler, online, peer %u): ", peer);
    return rc;
}

int mpc_gc_offline_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const mpc_circuit *c,
                             const uint8_t *ebits, mpc_gc_pending **out, mc2_err *err)
{
    mpc_gc_pending *p = pending_new(c, false, err);
    size_t tsz = mpc_gc_tables_size(c), nin = (size_t)c->n_g + c->n_e;
    uint8_t *buf = mc2_malloc(tsz);
    int rc = -1;
    *out = NULL;
    if (!p) goto out;
    if (!buf || !(p->labels = mc2_malloc(nin * sizeof *p->labels + 1))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbled tables, %zu bytes)", tsz);
        goto out;
    }
    if (mpc_net_recv(net, peer, buf, tsz, err) || mpc_gc_tables_parse(c, buf, tsz, &p->t, err) ||
        mpc_ot_recv(ot, ebits, p->labels + c->n_g, c->n_e, err))
        goto out;
    *out = p;
    p = NULL;
    rc = 0;
out:
    if (rc) mc2_err_prefix(err, "garbled circuit (evaluator, offline, peer %u): ", peer);
    mc2_free(buf);
    mpc_gc_pending_free(p);
    return rc;
}

int mpc_gc_online_evaluator(mpc_net *net, uint32_t peer, mpc_gc_pending *p, uint8_t *out,
                            mc2_err *err)
{
    if (p->garbler || p->used) abort(); /* a bug in the caller: one evaluation per garbling */
    p->used = true;
    const mpc_circuit *c = p->c;
    mpc_block *ol = mc2_malloc((size_t)c->nout * sizeof *ol + 1);
    int rc = -1;
    if (!ol)
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    else if (recv_blocks(net, peer, p->labels, c->n_g, err) == 0 &&
             mpc_gc_eval(c, p->t, p->labels, ol, err) == 0 &&
             mpc_gc_decode(p->t, ol, out, err) == 0)
        rc = 0;
    if (ol) mc2_free_wipe(ol, (size_t)c->nout * sizeof *ol + 1);
    if (rc) mc2_err_prefix(err, "garbled circuit (evaluator, online, peer %u): ", peer);
    return rc;
}

int mpc_gc_run_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const mpc_circuit *c,
                       const uint8_t *gbits, mc2_err *err)
{
    mpc_gc_pending *p = NULL;
    int rc = mpc_gc_offline_garbler(net, peer, ot, prg, c, &p, err);
    if (rc == 0) rc = mpc_gc_online_garbler(net, peer, p, gbits, err);
    mpc_gc_pending_free(p);
    return rc;
}

int mpc_gc_run_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const mpc_circuit *c,
                         const uint8_t *ebits, uint8_t *out, mc2_err *err)
{
    mpc_gc_pending *p = NULL;
    int rc = mpc_gc_offline_evaluator(net, peer, ot, c, ebits, &p, err);
    if (rc == 0) rc = mpc_gc_online_evaluator(net, peer, p, out, err);
    mpc_gc_pending_free(p);
    return rc;
}

/* ---- ReLU on shares ------------------------------------------------------------------- */

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
        for (uint32_t j = 0; j < m; j++) mpc_gc_bits_put(bits + 64 * j, x[off + j]);
        if (prg) {
            if (mpc_prg_bytes(prg, y + off, m * sizeof *y, err)) goto out;
            for (uint32_t j = 0; j < m; j++) mpc_gc_bits_put(bits + 64 * (m + j), y[off + j]);
            if (mpc_gc_run_garbler(net, peer, ot, prg, c, bits, err)) goto out;
        } else {
            if (mpc_gc_run_evaluator(net, peer, ot, c, bits, bits + 64 * m, err)) goto out;
            for (uint32_t j = 0; j < m; j++) y[off + j] = mpc_gc_bits_get(bits + 64 * (m + j));
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
