/* gc.c - half-gates garbling with free-XOR, evaluation, output decoding and the tables'
 * wire format (gc.h: the construction and the format are written there). */
#include "mpc/gc.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/crypto.h"

#define TAG_TWEAK (UINT64_C(1) << 63) /* output tags: apart from the gates' tweaks 0..2nand */

struct mpc_gc_garbler {
    mpc_block delta;
    uint32_t nin;
    mpc_block *in0; /* 0-labels of the input wires */
};

static inline mpc_block blk_and(mpc_block a, uint64_t mask)
{
    return (mpc_block){a.lo & mask, a.hi & mask};
}
static inline uint64_t lsb_mask(mpc_block a)
{
    return (uint64_t)0 - (a.lo & 1);
}

void mpc_gc_garbler_free(mpc_gc_garbler *g)
{
    if (!g) return;
    if (g->in0) mc2_free_wipe(g->in0, (size_t)g->nin * sizeof *g->in0);
    mc2_wipe(&g->delta, sizeof g->delta);
    mc2_free(g);
}

void mpc_gc_tables_free(mpc_gc_tables *t)
{
    if (!t) return;
    mc2_free(t->and_tab);
    mc2_free(t->tags);
    mc2_free(t);
}

static mpc_gc_tables *tables_new(uint32_t nand, uint32_t nout, mc2_err *err)
{
    mpc_gc_tables *t = mc2_calloc(1, sizeof *t);
    if (t) {
        t->nand = nand;
        t->nout = nout;
        t->and_tab = mc2_malloc(2 * (size_t)nand * sizeof *t->and_tab + 1);
        t->tags = mc2_malloc(2 * (size_t)nout * sizeof *t->tags + 1);
    }
    if (!t || !t->and_tab || !t->tags) {
        mpc_gc_tables_free(t);
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbled tables of %u AND gates)", nand);
        return NULL;
    }
    return t;
}

mpc_block mpc_gc_input_label(const mpc_gc_garbler *g, uint32_t w, int bit)
{
    if (w >= g->nin) abort(); /* a bug in the caller: not an input wire */
    return mpc_block_xor(g->in0[w], blk_and(g->delta, (uint64_t)0 - (uint64_t)(bit & 1)));
}

mpc_block mpc_gc_delta(const mpc_gc_garbler *g)
{
    return g->delta;
}

/* Garbles the gates of c into t, w[] holding the 0-labels of every wire (inputs set). */
static void garble_gates(const mpc_circuit *c, const mpc_crh *h, mpc_block delta, mpc_block *w,
                         mpc_gc_tables *t)
{
    uint32_t base = c->n_g + c->n_e;
    uint64_t k = 0;
    for (uint32_t g = 0; g < c->ngates; g++) {
        const mpc_gc_gate *gt = &c->gates[g];
        mpc_block a0 = w[gt->a];
        if (gt->op == MPC_GC_XOR) {
            w[base + g] = mpc_block_xor(a0, w[gt->b]);
        } else if (gt->op == MPC_GC_INV) {
            w[base + g] = mpc_block_xor(a0, delta);
        } else {
            mpc_block b0 = w[gt->b], in0[2] = {a0, b0}, in1[2], h0[2], h1[2];
            in1[0] = mpc_block_xor(a0, delta);
            in1[1] = mpc_block_xor(b0, delta);
            mpc_crh_hash(h, in0, 2 * k, h0, 2);
            mpc_crh_hash(h, in1, 2 * k, h1, 2);
            uint64_t pa = lsb_mask(a0), pb = lsb_mask(b0);
            mpc_block tg = mpc_block_xor(mpc_block_xor(h0[0], h1[0]), blk_and(delta, pb));
            mpc_block wg0 = mpc_block_xor(h0[0], blk_and(tg, pa));
            mpc_block te = mpc_block_xor(mpc_block_xor(h0[1], h1[1]), a0);
            mpc_block we0 = mpc_block_xor(h0[1], blk_and(mpc_block_xor(te, a0), pb));
            t->and_tab[2 * k] = tg;
            t->and_tab[2 * k + 1] = te;
            w[base + g] = mpc_block_xor(wg0, we0);
            k++;
        }
    }
}

/* The output tags: low halves of H(O0, TAG_TWEAK + i) and H(O1, TAG_TWEAK + i). */
static void garble_tags(const mpc_circuit *c, const mpc_crh *h, mpc_block delta, const mpc_block *w,
                        mpc_gc_tables *t)
{
    for (uint32_t i = 0; i < c->nout; i++) {
        mpc_block o[2] = {w[c->out[i]], mpc_block_xor(w[c->out[i]], delta)}, d[2];
        mpc_crh_hash(h, &o[0], TAG_TWEAK + i, &d[0], 1);
        mpc_crh_hash(h, &o[1], TAG_TWEAK + i, &d[1], 1);
        t->tags[2 * i] = d[0].lo;
        t->tags[2 * i + 1] = d[1].lo;
    }
}

int mpc_gc_garble(const mpc_circuit *c, mpc_prg *prg, mpc_gc_garbler **gout, mpc_gc_tables **tout,
                  mc2_err *err)
{
    *gout = NULL;
    *tout = NULL;
    if (mpc_circuit_check(c, err)) return -1;
    uint32_t nin = c->n_g + c->n_e, nw = mpc_circuit_wires(c);
    int rc = -1;
    mpc_crh *h = NULL;
    mpc_gc_tables *t = NULL;
    mpc_gc_garbler *g = mc2_calloc(1, sizeof *g);
    mpc_block *w = mc2_malloc((size_t)nw * sizeof *w);
    if (!g || !w || !(g->in0 = mc2_malloc((size_t)nin * sizeof *g->in0))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (garbling %u wires)", nw);
        goto out;
    }
    g->nin = nin;
    if (!(h = mpc_crh_new(err)) || !(t = tables_new(c->nand, c->nout, err)) ||
        mpc_prg_bytes(prg, &g->delta, sizeof g->delta, err) ||
        mpc_prg_bytes(prg, w, (size_t)nin * sizeof *w, err))
        goto out;
    g->delta.lo |= 1; /* point and permute: the two labels of a wire differ in their lsb */
    memcpy(g->in0, w, (size_t)nin * sizeof *w);
    garble_gates(c, h, g->delta, w, t);
    garble_tags(c, h, g->delta, w, t);
    *gout = g;
    *tout = t;
    g = NULL;
    t = NULL;
    rc = 0;
out:
    if (w) mc2_free_wipe(w, (size_t)nw * sizeof *w);
    mpc_crh_free(h);
    mpc_gc_garbler_free(g);
    mpc_gc_tables_free(t);
    return rc;
}

int mpc_gc_eval(const mpc_circuit *c, const mpc_gc_tables *t, const mpc_block *in, mpc_block *out,
                mc2_err *err)
{
    if (mpc_circuit_check(c, err)) return -1;
    if (t->nand != c->nand || t->nout != c->nout)
        return mc2_err_set(err, MC2_E_INPUT,
                           "garbled tables for %u AND gates and %u outputs, the circuit has %u "
                           "and %u",
                           t->nand, t->nout, c->nand, c->nout);
    uint32_t nin = c->n_g + c->n_e, nw = mpc_circuit_wires(c);
    mpc_block *w = mc2_malloc((size_t)nw * sizeof *w);
    mpc_crh *h = mpc_crh_new(err);
    if (!w || !h) {
        mc2_free(w);
        mpc_crh_free(h);
        if (h) mc2_err_set(err, MC2_E_NOMEM, "out of memory (evaluating %u wires)", nw);
        return -1;
    }
    memcpy(w, in, (size_t)nin * sizeof *w);
    uint64_t k = 0;
    for (uint32_t g = 0; g < c->ngates; g++) {
        const mpc_gc_gate *gt = &c->gates[g];
        mpc_block wa = w[gt->a];
        if (gt->op == MPC_GC_XOR) {
            w[nin + g] = mpc_block_xor(wa, w[gt->b]);
        } else if (gt->op == MPC_GC_INV) {
            w[nin + g] = wa; /* the garbler swapped the meaning of the labels */
        } else {
            mpc_block ab[2] = {wa, w[gt->b]}, hh[2];
            mpc_crh_hash(h, ab, 2 * k, hh, 2);
            mpc_block wg = mpc_block_xor(hh[0], blk_and(t->and_tab[2 * k], lsb_mask(wa)));
            mpc_block we = mpc_block_xor(
                hh[1], blk_and(mpc_block_xor(t->and_tab[2 * k + 1], wa), lsb_mask(ab[1])));
            w[nin + g] = mpc_block_xor(wg, we);
            k++;
        }
    }
    for (uint32_t i = 0; i < c->nout; i++) out[i] = w[c->out[i]];
    mc2_free_wipe(w, (size_t)nw * sizeof *w);
    mpc_crh_free(h);
    return 0;
}

int mpc_gc_decode(const mpc_gc_tables *t, const mpc_block *lab, uint8_t *bits, mc2_err *err)
{
    mpc_crh *h = mpc_crh_new(err);
    if (!h) return -1;
    int rc = 0;
    for (uint32_t i = 0; i < t->nout; i++) {
        mpc_block d;
        mpc_crh_hash(h, &lab[i], TAG_TWEAK + i, &d, 1);
        bool is0 = d.lo == t->tags[2 * i], is1 = d.lo == t->tags[2 * i + 1];
        if (is0 == is1) { /* neither (or, by a 64-bit collision, both): not a valid label */
            rc = mc2_err_set(err, MC2_E_AUTH,
                             "garbled circuit: output %u of %u decodes to neither value (the "
                             "garbled tables or an input label were changed): output refused",
                             i, t->nout);
            break;
        }
        bits[i] = is1;
    }
    mpc_crh_free(h);
    return rc;
}

/* ---- wire format ----------------------------------------------------------------------- */

#define HDR 12

size_t mpc_gc_tables_size(const mpc_circuit *c)
{
    return HDR + 32 * (size_t)c->nand + 16 * (size_t)c->nout; /* counts < 2^28: no overflow */
}

void mpc_gc_tables_write(const mpc_gc_tables *t, uint8_t *buf)
{
    memcpy(buf, "GC1", 4);
    mc2_le32_put(buf + 4, t->nand);
    mc2_le32_put(buf + 8, t->nout);
    uint8_t *p = buf + HDR;
    for (size_t i = 0; i < 2 * (size_t)t->nand; i++, p += 16) {
        mc2_le64_put(p, t->and_tab[i].lo);
        mc2_le64_put(p + 8, t->and_tab[i].hi);
    }
    for (size_t i = 0; i < 2 * (size_t)t->nout; i++, p += 8) mc2_le64_put(p, t->tags[i]);
}

int mpc_gc_tables_parse(const mpc_circuit *c, const uint8_t *buf, size_t len, mpc_gc_tables **out,
                        mc2_err *err)
{
    *out = NULL;
    size_t want = mpc_gc_tables_size(c);
    if (len != want)
        return mc2_err_set(err, MC2_E_INPUT,
                           "garbled tables: %zu bytes, the circuit's are %zu (%u AND gates, %u "
                           "outputs)",
                           len, want, c->nand, c->nout);
    if (memcmp(buf, "GC1", 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "garbled tables: not in format GC1 (bad magic)");
    uint32_t nand = mc2_le32_get(buf + 4), nout = mc2_le32_get(buf + 8);
    if (nand != c->nand || nout != c->nout)
        return mc2_err_set(err, MC2_E_INPUT,
                           "garbled tables: header says %u AND gates and %u outputs, the circuit "
                           "has %u and %u",
                           nand, nout, c->nand, c->nout);
    mpc_gc_tables *t = tables_new(nand, nout, err);
    if (!t) return -1;
    const uint8_t *p = buf + HDR;
    for (size_t i = 0; i < 2 * (size_t)nand; i++, p += 16)
        t->and_tab[i] = (mpc_block){mc2_le64_get(p), mc2_le64_get(p + 8)};
    for (size_t i = 0; i < 2 * (size_t)nout; i++, p += 8) t->tags[i] = mc2_le64_get(p);
    *out = t;
    return 0;
}
