/* gc.h - Yao garbled circuits for two parties of an MPC run (docs/mpc.md, "Garbled
 * circuits"): boolean circuits and builders for them (addition, signed comparison, Delphi's
 * ReLU on additive shares), half-gates garbling with free-XOR, evaluation, output decoding
 * that detects an invalid label, the garbled tables as bytes with a strict parser, and the
 * two-party protocol over net.h and ot.h.
 *
 * CIRCUIT. Wires are numbered: the garbler's inputs 0 .. n_g-1, the evaluator's inputs
 * n_g .. n_g+n_e-1, then gate k's output is wire n_g+n_e+k. A gate may only read wires below
 * its own output, so gate order is a topological order by construction. Gates are XOR,
 * AND (a, b) and INV (a). Outputs are a list of wires (repeats allowed). Multi-bit values are
 * little-endian bit vectors (bit 0 first). Both parties build the same circuit from public
 * parameters: a circuit is never received from a peer.
 *
 * GARBLING (Zahur, Rosulek, Evans, "Two halves make a whole", EUROCRYPT 2015). A fresh
 * global offset Delta with lsb(Delta) = 1; every wire w has labels W0 and W1 = W0 ^ Delta
 * (free-XOR: XOR and INV gates cost nothing to send). Point and permute: the permute bit of
 * a label is its lsb. The k-th AND gate (counting AND gates only) is garbled as two half
 * gates with the hash H of prg.h (mpc_crh, fixed-key TCCR) under tweaks 2k and 2k+1:
 *   pa = lsb(A0), pb = lsb(B0)
 *   TG = H(A0, 2k) ^ H(A1, 2k) ^ pb*Delta      WG0 = H(A0, 2k) ^ pa*TG
 *   TE = H(B0, 2k+1) ^ H(B1, 2k+1) ^ A0        WE0 = H(B0, 2k+1) ^ pb*(TE ^ A0)
 *   C0 = WG0 ^ WE0, table = (TG, TE): exactly 2 ciphertexts (32 bytes) per AND gate.
 * The evaluator, holding Wa, Wb with sa = lsb(Wa), sb = lsb(Wb):
 *   Wc = H(Wa, 2k) ^ sa*TG ^ H(Wb, 2k+1) ^ sb*(TE ^ Wa).
 *
 * OUTPUT DECODING. For output i the garbler publishes two 64-bit tags: the low halves of
 * H(O0, 2^63 + i) and H(O1, 2^63 + i). The evaluator hashes the label it computed and finds
 * which tag it equals: that is the bit. A label that equals neither (a changed table whose
 * change reached this output, a wrong input label) fails decoding with MC2_E_AUTH: never a
 * wrong bit, unless whoever changed it knew Delta (the garbler itself: a garbler that
 * deviates can garble another circuit; semi-honest security only, docs/mpc.md). A changed
 * table entry that the evaluation never used leaves the outputs right.
 *
 * WIRE FORMAT of the garbled tables (mpc_gc_tables_write/parse), little-endian:
 *   "GC1\0" | u32 nand | u32 nout | nand x (TG, TE) as 16-byte blocks (lo, hi) |
 *   nout x (tag0, tag1) as u64
 * exactly mpc_gc_tables_size(c) bytes; the parser refuses any other length or counts that
 * are not the circuit's.
 *
 * PROTOCOL, garbler G, evaluator E, in two phases (Delphi's offline/online split: the
 * offline phase needs only E's input, the online phase only G's):
 *   offline (mpc_gc_offline_garbler / mpc_gc_offline_evaluator)
 *     G: garble with a fresh Delta and labels
 *     G -> E: the garbled tables (mpc_gc_tables_size(c) bytes: E knows the circuit)
 *     G <-> E: n_e chosen-message OTs (ot.h; G the sender of (W0, W1) per E-input wire, E
 *              the receiver choosing by its input bits)
 *   online (mpc_gc_online_garbler / mpc_gc_online_evaluator)
 *     G -> E: the active labels of G's input wires (n_g blocks)
 *     E: evaluate, decode (MC2_E_AUTH on an invalid label)
 * E learns the output bits; G learns nothing. The caller makes the output what E may see
 * (the ReLU circuit masks it with G's random r). mpc_gc_run_garbler / _evaluator run both
 * phases back to back. One garbling is evaluated once: G's labels for two different inputs
 * would reveal Delta, so the online phase runs once per pending state (a second call is a
 * bug: abort).
 *
 * Secrets (Delta, labels) are wiped on free. Nothing here is thread-safe: one per thread. */
#ifndef MC2_MPC_GC_H
#define MC2_MPC_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/net.h"
#include "mpc/ot.h"
#include "mpc/prg.h"

/* ---- circuits ----------------------------------------------------------------------- */

enum mpc_gc_op { MPC_GC_XOR = 0, MPC_GC_AND = 1, MPC_GC_INV = 2 };

typedef struct mpc_gc_gate {
    uint32_t a, b; /* input wires (b unused for INV) */
    uint32_t op;   /* enum mpc_gc_op */
} mpc_gc_gate;

/* At most this many wires in one circuit (and so gates, outputs). */
#define MPC_GC_MAX_WIRES (1u << 28)

typedef struct mpc_circuit {
    uint32_t n_g, n_e;     /* inputs of the garbler and of the evaluator */
    uint32_t ngates, nand; /* gates (gate k's output is wire n_g + n_e + k); AND gates */
    uint32_t nout;         /* outputs */
    mpc_gc_gate *gates;
    uint32_t *out;
    uint32_t cap_gates, cap_out;
    /* MC2_OK, or why a builder call failed (MC2_E_NOMEM, MC2_E_LIMIT): the circuit is then
     * unusable */
    enum mc2_code failed;
} mpc_circuit;

/* An empty circuit with n_g garbler and n_e evaluator input wires (n_g + n_e >= 1). */
mpc_circuit *mpc_circuit_new(uint32_t n_g, uint32_t n_e, mc2_err *err);
void mpc_circuit_free(mpc_circuit *c);
static inline uint32_t mpc_circuit_wires(const mpc_circuit *c)
{
    return c->n_g + c->n_e + c->ngates;
}

/* Appending gates: each returns the new gate's output wire. Input wires must exist (a bug
 * otherwise: abort). On failure (memory, MPC_GC_MAX_WIRES) they set c->failed and return
 * wire 0; mpc_circuit_check reports it once the circuit is built. */
uint32_t mpc_circuit_xor(mpc_circuit *c, uint32_t a, uint32_t b);
uint32_t mpc_circuit_and(mpc_circuit *c, uint32_t a, uint32_t b);
uint32_t mpc_circuit_inv(mpc_circuit *c, uint32_t a);
void mpc_circuit_output(mpc_circuit *c, uint32_t w);
/* 0, or -1 with MC2_E_NOMEM / MC2_E_LIMIT if some builder call failed. */
int mpc_circuit_check(const mpc_circuit *c, mc2_err *err) MC2_WUR;

/* Sub-circuits on bit vectors of n wires each (n >= 1), s[] receiving n wires:
 *   add: s = a + b mod 2^n (n-1 AND gates)
 *   sub: s = a - b mod 2^n, so s[n-1] is the sign of a - b in n-bit two's complement
 *        (n-1 AND gates)
 *   lt:  the one wire a < b, a and b signed n-bit two's complement, exact (no overflow:
 *        INT64_MIN < 1 holds) (n AND gates)
 *   zero: a wire that is always 0 (XOR of a wire with itself: free, label 0 / Delta). */
void mpc_gc_add(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n, uint32_t *s);
void mpc_gc_sub(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n, uint32_t *s);
uint32_t mpc_gc_lt(mpc_circuit *c, const uint32_t *a, const uint32_t *b, uint32_t n);
uint32_t mpc_gc_zero(mpc_circuit *c);

/* Whole circuits, n in 1..64: the garbler's input is a (n bits), the evaluator's b (n bits).
 *   add: outputs a + b mod 2^n (n bits)
 *   lt:  outputs one bit, a < b as signed n-bit values */
mpc_circuit *mpc_gc_circuit_add(uint32_t n, mc2_err *err);
mpc_circuit *mpc_gc_circuit_lt(uint32_t n, mc2_err *err);

/* Delphi's ReLU on k additively shared 64-bit values (k >= 1, at most MPC_GC_RELU_MAX per
 * circuit). Garbler's inputs: x_g[0..k) then r[0..k) (64 bits each); evaluator's inputs:
 * x_e[0..k). For each j: x = x_g + x_e mod 2^64, y = x if x as int64 >= 0 else 0, output
 * y - r mod 2^64 (64 bits). 189 AND gates per value (63 add, 63 select, 63 subtract). */
#define MPC_GC_RELU_MAX 4096
mpc_circuit *mpc_gc_circuit_relu(uint32_t k, mc2_err *err);

/* ---- garbling, evaluation, decoding --------------------------------------------------- */

/* The garbled tables and output tags: what the garbler sends. */
typedef struct mpc_gc_tables {
    uint32_t nand, nout;
    mpc_block *and_tab; /* 2 * nand: (TG, TE) per AND gate in gate order */
    uint64_t *tags;     /* 2 * nout: (tag of 0, tag of 1) per output */
} mpc_gc_tables;

/* The garbler's secrets: Delta and the 0-labels of the input wires. */
typedef struct mpc_gc_garbler mpc_gc_garbler;

/* Garbles c (which must have passed mpc_circuit_check) with Delta and input labels drawn
 * from prg. */
int mpc_gc_garble(const mpc_circuit *c, mpc_prg *prg, mpc_gc_garbler **g, mpc_gc_tables **t,
                  mc2_err *err) MC2_WUR;
/* The label of input wire w (< n_g + n_e) for value bit (0 or 1). */
mpc_block mpc_gc_input_label(const mpc_gc_garbler *g, uint32_t w, int bit);
mpc_block mpc_gc_delta(const mpc_gc_garbler *g);
void mpc_gc_garbler_free(mpc_gc_garbler *g);
void mpc_gc_tables_free(mpc_gc_tables *t);

/* Evaluates c on t with one label per input wire (in[0 .. n_g+n_e)): out[0 .. nout) get
 * the output labels. t must be c's (counts checked: MC2_E_INPUT otherwise). */
int mpc_gc_eval(const mpc_circuit *c, const mpc_gc_tables *t, const mpc_block *in, mpc_block *out,
                mc2_err *err) MC2_WUR;
/* bits[i] = the value output label lab[i] stands for (0 or 1); MC2_E_AUTH, naming the first
 * output, if a label is neither of output i's labels. */
int mpc_gc_decode(const mpc_gc_tables *t, const mpc_block *lab, uint8_t *bits,
                  mc2_err *err) MC2_WUR;

/* The tables as bytes (format above): exactly mpc_gc_tables_size(c) bytes. */
size_t mpc_gc_tables_size(const mpc_circuit *c);
void mpc_gc_tables_write(const mpc_gc_tables *t, uint8_t *buf);
/* Parses len bytes from a peer as c's tables: MC2_E_INPUT, saying what was wrong, for any
 * length or header that is not c's. */
int mpc_gc_tables_parse(const mpc_circuit *c, const uint8_t *buf, size_t len, mpc_gc_tables **out,
                        mc2_err *err) MC2_WUR;

/* ---- the two-party protocol (PROTOCOL above) -------------------------------------------- */

/* A garbled circuit between its offline and online phases: G's secrets, or E's tables and
 * input labels. Holds a pointer to the circuit, which must outlive it. */
typedef struct mpc_gc_pending mpc_gc_pending;

/* Offline, G's side with peer over net and ot (this party the OT sender); prg gives Delta and
 * the labels. */
int mpc_gc_offline_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg,
                           const mpc_circuit *c, mpc_gc_pending **out, mc2_err *err) MC2_WUR;
/* Offline, E's side (the OT receiver): ebits[0 .. n_e) its input bits (0/1). MC2_E_INPUT
 * for tables that are not c's. */
int mpc_gc_offline_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const mpc_circuit *c,
                             const uint8_t *ebits, mpc_gc_pending **out, mc2_err *err) MC2_WUR;
/* Online, G: gbits[0 .. n_g) its input bits. Wipes G's secrets (pending stays to be freed). */
int mpc_gc_online_garbler(mpc_net *net, uint32_t peer, mpc_gc_pending *p, const uint8_t *gbits,
                          mc2_err *err) MC2_WUR;
/* Online, E: out[0 .. nout) gets the output bits; MC2_E_AUTH for an invalid label. */
int mpc_gc_online_evaluator(mpc_net *net, uint32_t peer, mpc_gc_pending *p, uint8_t *out,
                            mc2_err *err) MC2_WUR;
void mpc_gc_pending_free(mpc_gc_pending *p);

/* Both phases at once: G's side (gbits[0 .. n_g)) and E's (ebits[0 .. n_e), out[0 .. nout)),
 * errors as above. */
int mpc_gc_run_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const mpc_circuit *c,
                       const uint8_t *gbits, mc2_err *err) MC2_WUR;
int mpc_gc_run_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const mpc_circuit *c,
                         const uint8_t *ebits, uint8_t *out, mc2_err *err) MC2_WUR;

/* Delphi's ReLU on k shared values (any k: circuits of MPC_GC_RELU_MAX values at most).
 * Garbler: x_g[k] its shares; r[k] receives its fresh random output shares. Evaluator: x_e[k]
 * its shares; y_e[k] receives its output shares. Afterwards r[j] + y_e[j] = ReLU(x_g[j] +
 * x_e[j]) mod 2^64 (signed 64-bit), and the evaluator's y_e is uniformly random to it. */
int mpc_gc_relu_garbler(mpc_net *net, uint32_t peer, mpc_ot *ot, mpc_prg *prg, const uint64_t *x_g,
                        size_t k, uint64_t *r, mc2_err *err) MC2_WUR;
int mpc_gc_relu_evaluator(mpc_net *net, uint32_t peer, mpc_ot *ot, const uint64_t *x_e, size_t k,
                          uint64_t *y_e, mc2_err *err) MC2_WUR;

/* The 64 bits of v, least significant first, one per byte (a 64-bit input's wire values). */
static inline void mpc_gc_bits_put(uint8_t *bits, uint64_t v)
{
    for (int i = 0; i < 64; i++) bits[i] = (uint8_t)(v >> i & 1);
}

/* The value of 64 such bytes (their low bits). */
static inline uint64_t mpc_gc_bits_get(const uint8_t *bits)
{
    uint64_t v = 0;
    for (int i = 0; i < 64; i++) v |= (uint64_t)(bits[i] & 1) << i;
    return v;
}

#endif
