/* ot.h - oblivious transfer between two parties of an MPC run (docs/mpc.md, "Oblivious
 * transfer"): base OTs, then IKNP OT extension (Ishai, Kilian, Nissim, Petrank, CRYPTO 2003)
 * with the fixed-key hash of prg.h, so that millions of OTs cost symmetric crypto only.
 *
 * A session is directed: one party is the OT sender, its peer the receiver (for the other
 * direction, open a second session). Setup runs kappa = 128 base OTs with the roles swapped
 * (the extension's receiver is the base OTs' sender), over an elliptic-curve group from
 * OpenSSL (the construction and curve are named in docs/mpc.md); every point a peer sends
 * is checked to be a valid point of the group (an invalid one fails with MC2_E_AUTH, naming
 * the peer). Semi-honest security: a corrupted peer that follows the protocol learns
 * nothing beyond its own outputs; what an active cheater could do is in docs/security.md.
 *
 * Both sides call the same sequence of functions with the same n; each call is one batch
 * (extension columns are generated per batch; n any size, done in chunks internally).
 * Choice bits are bytes 0 or 1. Messages are 128-bit blocks. */
#ifndef MC2_MPC_OT_H
#define MC2_MPC_OT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/net.h"
#include "mpc/prg.h"

typedef struct mpc_ot mpc_ot;

/* Ordering: in every kind, only the receiver's call sends before it waits (the extension
 * matrix); in random OT the receiver's call never waits at all and the sender's only waits,
 * so a party may issue all its receiver calls to every peer before its sender calls.
 *
 * Sets up a session with `peer` over net, this party being the OT sender if `sender`
 * (the peer must call it with !sender at the same point of its protocol). */
int mpc_ot_setup(mpc_net *net, uint32_t peer, bool sender, mpc_ot **out, mc2_err *err) MC2_WUR;

/* Chosen-message OT: the receiver gets out[j] = c[j] ? m1[j] : m0[j] and nothing about the
 * other message; the sender learns nothing about c. */
int mpc_ot_send(mpc_ot *o, const mpc_block *m0, const mpc_block *m1, size_t n,
                mc2_err *err) MC2_WUR;
int mpc_ot_recv(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err) MC2_WUR;

/* Correlated OT (for garbled-circuit labels and OT-based multiplication): the sender gets
 * random m0[j] with m1[j] = m0[j] ^ delta for its fixed delta; the receiver gets
 * out[j] = m_{c[j]}[j]. No message is chosen, so it costs half the traffic. */
int mpc_ot_send_cot(mpc_ot *o, mpc_block delta, mpc_block *m0, size_t n, mc2_err *err) MC2_WUR;
int mpc_ot_recv_cot(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err) MC2_WUR;

/* Random OT (for OT-based multiplication, triples.h): the sender gets two independent random
 * messages m0[j], m1[j], the receiver out[j] = m_{c[j]}[j]. Only the extension's matrix
 * travels (receiver to sender): the cheapest kind. */
int mpc_ot_send_rot(mpc_ot *o, mpc_block *m0, mpc_block *m1, size_t n, mc2_err *err) MC2_WUR;
int mpc_ot_recv_rot(mpc_ot *o, const uint8_t *c, mpc_block *out, size_t n, mc2_err *err) MC2_WUR;

/* OTs done in this session (base OTs excluded), for benchmarks. */
uint64_t mpc_ot_count(const mpc_ot *o);
void mpc_ot_free(mpc_ot *o);

#endif
