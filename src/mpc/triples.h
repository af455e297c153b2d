/* triples.h - Beaver multiplication triples for the arithmetic engine (engine.h; docs/mpc.md,
 * "Offline phase"): additive shares over Z_2^64 of a, b and c = a * b (element-wise), or of
 * matrices A (m x k), B (k x n) and C = A B (matrix triples, one per matrix product shape),
 * among all n parties of a run.
 *
 * SOURCE. The engine takes triples from an mpc_triple_src, so the online phase does not care
 * where they come from:
 *   mpc_triples_ot (this module): the real offline phase. Each party draws its shares a_i,
 *     b_i; a * b = sum_i a_i b_i + sum_{i != j} a_i b_j, and every cross term a_i b_j is
 *     turned into additive shares of parties i and j by OT-based multiplication (Gilboa:
 *     64 random OTs per product over Z_2^64, each with a correction message of 64 - t bits
 *     for bit t, ot.h, one session per ordered pair; a matrix triple takes one such product
 *     per entry of B, with a column of A as an m-word factor: 64 k n OTs per pair).
 *     Semi-honest, any number of corrupted parties short of all. A failed call leaves the
 *     source refusing later ones (the parties are out of step).
 *   a dealer that knows everything (tests/tools only, never in a product binary): to test
 *     the online phase apart from the offline one.
 *
 * All parties must ask for the same counts and shapes in the same order. */
#ifndef MC2_MPC_TRIPLES_H
#define MC2_MPC_TRIPLES_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/net.h"

typedef struct mpc_triple_src {
    void *ctx;
    /* This party's shares of cnt element-wise triples. */
    int (*elems)(void *ctx, size_t cnt, uint64_t *a, uint64_t *b, uint64_t *c, mc2_err *err);
    /* This party's shares of one matrix triple: A m x k, B k x n, C m x n, row-major. */
    int (*matrix)(void *ctx, size_t m, size_t k, size_t n, uint64_t *a, uint64_t *b, uint64_t *c,
                  mc2_err *err);
    void (*free)(void *ctx);
} mpc_triple_src;

/* The OT-based source over net (this party's channels to every other party); it sets up its
 * OT sessions on first use. Counters: triples (element-wise, and matrix products counted as
 * m*k*n element products) made so far. */
int mpc_triples_ot(mpc_net *net, mpc_triple_src *out, mc2_err *err) MC2_WUR;
uint64_t mpc_triples_made(const mpc_triple_src *s);

#endif
