/* prg.h - the symmetric primitives every MPC protocol here uses (docs/mpc.md, "Primitives"),
 * over OpenSSL's AES (AES-NI where the CPU has it):
 *
 *   mpc_prg   a pseudo-random generator: AES-128 in counter mode under a 16-byte seed,
 *             counter starting at 0; the same seed gives the same bytes on every machine.
 *   mpc_crh   a fixed-key tweakable correlation-robust hash on 128-bit blocks, for IKNP OT
 *             extension and half-gates garbling: H(x, i) = pi(pi(x) ^ i) ^ pi(x), pi = AES-128
 *             under the public fixed key 00 01 02 .. 0f, the tweak i (64 bits) in the block's
 *             low half (the TCCR construction of Guo, Katz, Wang, Yu, S&P 2020).
 *
 * Blocks are 16 bytes (mpc_block), little-endian halves. Seeds are secrets: wiped on free.
 * Neither object is thread-safe: one per thread. */
#ifndef MC2_MPC_PRG_H
#define MC2_MPC_PRG_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

typedef struct mpc_block {
    uint64_t lo, hi;
} mpc_block;

static inline mpc_block mpc_block_xor(mpc_block a, mpc_block b)
{
    return (mpc_block){a.lo ^ b.lo, a.hi ^ b.hi};
}

typedef struct mpc_prg mpc_prg;

/* A generator keyed by seed[16]. */
mpc_prg *mpc_prg_new(const uint8_t seed[16], mc2_err *err);
/* A generator with a fresh random seed (mc2_random). */
mpc_prg *mpc_prg_random(mc2_err *err);
/* The next n bytes of the stream. */
int mpc_prg_bytes(mpc_prg *g, void *out, size_t n, mc2_err *err) MC2_WUR;
void mpc_prg_free(mpc_prg *g);

typedef struct mpc_crh mpc_crh;

mpc_crh *mpc_crh_new(mc2_err *err);
/* out[j] = H(in[j], tweak + j) for j < n (vectorised: one AES call per 8 blocks or more). */
void mpc_crh_hash(const mpc_crh *h, const mpc_block *in, uint64_t tweak, mpc_block *out, size_t n);
void mpc_crh_free(mpc_crh *h);

#endif
