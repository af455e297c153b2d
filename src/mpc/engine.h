/* engine.h - the arithmetic MPC engine (docs/mpc.md, "Engine"): additive secret sharing over
 * Z_2^64 among the n parties of an mpc_net, Beaver multiplication, matrix products with
 * matrix triples, fixed-point numbers and probabilistic truncation. Semi-honest security
 * against any coalition of up to n - 1 parties (dishonest majority).
 *
 * SHARES. A secret x in Z_2^64 is held as x = x_0 + ... + x_{n-1} (mod 2^64), party i
 * holding x_i; any n - 1 shares are uniformly random. A vector of m secrets is m uint64_t
 * per party. Every function below that takes an mpc_engine is collective: all n parties
 * must call the same functions in the same order with the same public arguments (sizes,
 * owner, public constants), each with its own shares. The local operations (no engine
 * argument) need no other party.
 *
 * PROTOCOLS (all messages are little-endian uint64_t words on net.h's channels):
 *   setup     each pair i < j: i sends j a fresh 16-byte seed s_ij (confidential over TLS).
 *             The pair's generator PRG(s_ij) (prg.h) then yields random words both know.
 *   input     owner p shares x[m]: party j != p takes x_j = the next m words of
 *             PRG(s_pj); p takes x_p = x - sum_j x_j. No message at all. Any coalition
 *             without p sees only x_j's, pseudo-random and independent of x.
 *   open      every party sends its share to every other party (one round, (n-1) m words
 *             out per party) and sums; open_to(t) sends to t only.
 *   mul       z = x * y with a triple (a, b, c = a b): open d = x - a and e = y - b
 *             together (one round), z_i = c_i + d b_i + e a_i (+ d e at party 0).
 *   matmul    Z = X Y (m x k times k x n) with a matrix triple (A, B, C = A B): open
 *             D = X - A and E = Y - B (one round, mk + kn words), Z_i = C_i + D B_i + A_i E
 *             (+ D E at party 0). Costs mk + kn opened words instead of mkn products.
 *   trunc     probabilistic truncation of x by f bits, for any n >= 2 (below).
 *
 * FIXED POINT. A real v is the integer round(v 2^MPC_FX_FRAC) mod 2^64 (two's complement),
 * MPC_FX_FRAC = 16: resolution 2^-16 (1 ulp = 1.5e-5), representable |v| < 2^47. A
 * product of two fixed-point numbers carries 2f fraction bits and is truncated by f.
 *
 * TRUNCATION (mpc_trunc): needs the precondition -2^62 <= x < 2^62 as a signed 64-bit
 * integer (for a fixed-point product or dot product: |value| < 2^30 in real units) and
 * returns shares of floor(x / 2^f) + u with u in {0, 1}: the error against the exact x / 2^f
 * is strictly less than 1 ulp, and it is unbiased (P(u = 1) = frac(x / 2^f): stochastic
 * rounding). There is no failure probability inside the range and no leakage at all; outside
 * the range the result is wrong, undetected. Protocol, with k = 64:
 *   1. Random shared bits r_0..r_63 (independent of x: an offline phase could make them):
 *      each party inputs 64 private random bits (input above, no message) and the n inputs
 *      are XORed with Beaver products, a XOR b = a + b - 2ab: n - 1 rounds, 64 (n - 1)
 *      triples per truncated value. r = sum_j 2^j r_j is uniform in Z_2^64; r_hi =
 *      sum_{j >= f} 2^{j-f} r_j = floor(r / 2^f).
 *   2. x' = x + 2^62 (party 0 adds; 0 <= x' < 2^63). Open c = x' + r (uniform: reveals
 *      nothing).
 *   3. Since x' < 2^63, c wrapped mod 2^64 exactly when r_63 = 1 and c_63 = 0, so
 *      x' = c - r + 2^64 r_63 (1 - c_63) over the integers, and
 *      z = floor(c / 2^f) - r_hi + 2^{64-f} (1 - c_63) r_63 - 2^{62-f}
 *      (public terms at party 0) equals floor(x / 2^f) + [c mod 2^f < r mod 2^f].
 *   (The idea of probabilistic truncation over Z_2^k with the mask's top bit, as in
 *   Dalskov, Escudero, Keller, "Secure evaluation of quantized neural networks", PETS
 *   2020; the derivation above is complete on its own.)
 *
 * WHAT IS NOT CHECKED. Nothing here detects a party that deviates: a changed share or
 * message changes the result without any error (no MACs; docs/mpc.md). Changes in transit
 * are the channel's to detect (TLS, net.h). */
#ifndef MC2_MPC_ENGINE_H
#define MC2_MPC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/net.h"
#include "mpc/triples.h"

#define MPC_FX_FRAC 16

typedef struct mpc_engine mpc_engine;

/* Collective. An engine for this party over net (not owned: free it after the engine),
 * taking triples from *src (not owned; the struct is copied, its ctx must outlive the
 * engine). Runs the seed setup above. */
int mpc_engine_new(mpc_net *net, const mpc_triple_src *src, mpc_engine **out, mc2_err *err) MC2_WUR;
/* Wipes the seeds and frees. NULL is a no-op. */
void mpc_engine_free(mpc_engine *e);
uint32_t mpc_engine_self(const mpc_engine *e);
uint32_t mpc_engine_parties(const mpc_engine *e);

/* Collective. Party `owner` shares its m secrets x (read on the owner only; others pass
 * NULL); every party receives its m shares in sh. No message is sent. */
int mpc_input(mpc_engine *e, uint32_t owner, const uint64_t *x, uint64_t *sh, size_t m,
              mc2_err *err) MC2_WUR;
/* Collective, one round. out[m] = the secrets of shares sh[m], on every party. out may be
 * sh. */
int mpc_open(mpc_engine *e, const uint64_t *sh, uint64_t *out, size_t m, mc2_err *err) MC2_WUR;
/* Collective, one round. Reveals the secrets to party `to` only: out is written on `to`
 * (others may pass NULL). */
int mpc_open_to(mpc_engine *e, uint32_t to, const uint64_t *sh, uint64_t *out, size_t m,
                mc2_err *err) MC2_WUR;

/* Local. z = x + y, z = x - y (shares of the sums/differences); z may alias x or y. */
void mpc_add(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m);
void mpc_sub(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m);
/* Local. z = x + c for public c[m] (party 0 adds c, the others copy x). */
void mpc_add_public(const mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *c,
                    size_t m);
/* Local. z = c * x element-wise for public c[m]; mpc_scale: z = s * x for one public s.
 * On fixed-point values with a fixed-point c the result has 2f fraction bits: truncate. */
void mpc_mul_public(uint64_t *z, const uint64_t *x, const uint64_t *c, size_t m);
void mpc_scale(uint64_t *z, const uint64_t *x, uint64_t s, size_t m);

/* Collective, one round, m triples. z = x * y element-wise (mod 2^64). z may alias. */
int mpc_mul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
            mc2_err *err) MC2_WUR;
/* Collective, one round, one matrix triple of this shape. Z (m x n) = X (m x k) Y (k x n),
 * row-major; Z must not alias X or Y. */
int mpc_matmul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m, size_t k,
               size_t n, mc2_err *err) MC2_WUR;

/* Collective, n rounds, 64 (n - 1) triples per value. z = x / 2^f probabilistically, for
 * 1 <= f <= 32; precondition and error bound in the header comment. z may alias x. */
int mpc_trunc(mpc_engine *e, uint64_t *z, const uint64_t *x, size_t m, unsigned f,
              mc2_err *err) MC2_WUR;
/* Collective. Fixed-point products: mpc_mul / mpc_matmul, then mpc_trunc by MPC_FX_FRAC
 * (each product, or each dot product's sum, must be below 2^30 in absolute value). */
int mpc_fx_mul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
               mc2_err *err) MC2_WUR;
int mpc_fx_matmul(mpc_engine *e, uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m,
                  size_t k, size_t n, mc2_err *err) MC2_WUR;

/* Fixed point: round(v 2^16) in two's complement; v outside (-2^47, 2^47) is clamped to
 * the nearest end, NaN is 0. decode: the value of w as a signed fixed-point number. */
uint64_t mpc_fx_encode(double v);
double mpc_fx_decode(uint64_t w);

/* Local, plaintext or share-wise: Z (m x n) = X (m x k) Y (k x n) over Z_2^64, row-major
 * (a helper for triple sources and tests as well). Z must not alias X or Y. */
void mpc_mat_mul_plain(uint64_t *z, const uint64_t *x, const uint64_t *y, size_t m, size_t k,
                       size_t n);

#endif
