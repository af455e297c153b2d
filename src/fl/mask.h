/* fl/mask.h - secure-aggregation masks for federated rounds (masks = secagg): quantisation,
 * pairwise PRG masks, X25519 agreement, Shamir sharing over GF(2^8) and client-to-client share
 * encryption. Linked into libmc2 (clients) and the enclave (the unmask step).
 *
 * Why masks at all: the enclave already sees updates only inside attested sessions. Masks are
 * defence in depth: a host that broke the enclave (read its memory) would still see only
 * masked vectors, and their sum once the round is unmasked, never one client's update.
 *
 * Parameters (Flower's SecAgg+ defaults): clipping range c = 8.0, quantisation range
 * Q = 4194304 (2^22), modulus 2^32, max_weight 1000. Sums of up to `count` quantised vectors
 * must not wrap: count * (Q - 1) < 2^32 (mc2_fl_quant_ok).
 *
 * Protocol (SecAgg, Bonawitz et al. CCS'17, complete graph; the enclave is the server).
 * Participants are numbered by their position i in the round's `participants` (0-based); the
 * Shamir x coordinate of participant i is i + 1. rid = SHA-256(job text), bound into every
 * key derivation and every AAD. t = mask_threshold. Every stage closes when every member of
 * its set has posted, or at stage_timeout_s with at least t posts (fewer: the round fails,
 * nothing is released).
 *
 *   1 keys    client i: two X25519 pairs (c_pk_i, c_sk_i) for share encryption and
 *             (s_pk_i, s_sk_i) for masks; posts (c_pk_i, s_pk_i) to the enclave.
 *             -> U1 = the participants that posted keys.
 *   2 shares  client i reads the keys of U1, draws b_i (32 random bytes), splits s_sk_i and
 *             b_i with threshold t at x = j + 1 for every j in U1 (mc2_fl_shamir_split) and
 *             posts, for every j in U1 \ {i}, E_ij = mc2_fl_share_seal(k_ij, rid, i, j,
 *             s_share_j | b_share_j) with k_ij = mc2_fl_agree(c_sk_i, c_pk_j, rid, SHARE).
 *             It keeps its own shares (x = i + 1). The enclave only relays E_ij to j.
 *             -> U2 = the members of U1 that posted their shares.
 *   3 masked  client i reads the E_ji addressed to it (j in U2), checks they open, and posts
 *             y_i = q(ratio_i * [1, u_i]) + PRG(b_i) + sum_{j in U2, j > i} PRG(s_ij)
 *                   - sum_{j in U2, j < i} PRG(s_ij)      (mod 2^32)
 *             with s_ij = mc2_fl_agree(s_sk_i, s_pk_j, rid, MASK) (= s_ji), ratio_i =
 *             min(weight_i / max_weight, 1) (Flower's scheme: the weight travels inside the
 *             masked vector as element 0) and q the stochastic quantiser. The enclave adds
 *             y_i into its running sum mod 2^32 as it arrives; no y_i is kept.
 *             -> U3 = the members of U2 whose masked input arrived.
 *   4 unmask  client i in U3 reads U3 and posts, for each j in U2: its share of b_j if j is
 *             in U3, its share of s_sk_j if not (never both for one j). With shares from at
 *             least t members of U3 the enclave reconstructs (mc2_fl_shamir_combine) each
 *             dropped s_sk_j (checked against s_pk_j) and removes the masks j's survivors
 *             added towards j, reconstructs every surviving b_i and subtracts PRG(b_i). The
 *             remainder is sum_{i in U3} q(ratio_i * [1, u_i]), dequantised
 *             (mc2_fl_dequantize_sum): element 0 is sum ratio_i, the rest sum ratio_i u_i.
 *
 * What a host that broke the enclave would still not see: any u_i or weight_i (each y_i is
 * uniformly distributed given the others unless it knew b_i or every s_ij, and the shares are
 * encrypted client to client). What it would see: who posted at each stage (so who dropped),
 * the sizes, the final sum, and - since it then controls the server - it could ask for both
 * kinds of share of one client (the consistency round of the paper's active variant is not
 * implemented; attestation is the primary defence, masks the second).
 */
#ifndef MC2_FL_MASK_H
#define MC2_FL_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/crypto.h"
#include "mc2/err.h"

#define MC2_FL_CLIPPING_RANGE     8.0
#define MC2_FL_QUANTIZATION_RANGE 4194304u
#define MC2_FL_MAX_WEIGHT         1000u
#define MC2_FL_SEED_LEN           32  /* PRG seeds, Shamir secrets, agreed keys */
#define MC2_FL_MAX_PARTIES        255 /* Shamir x = 1..255 over GF(2^8) */
/* A client-to-client share: s_sk share | b share, sealed (ct | tag). */
#define MC2_FL_SHARE_PT_LEN 64
#define MC2_FL_SHARE_CT_LEN (MC2_FL_SHARE_PT_LEN + MC2_TAG_LEN)

/* ---- wire: EAPI_KIND ops of a masked fedavg round (docs/wire-protocol.md) ---------------
 * The masked input itself travels as fl-core's FL_PUT update with form 1 (masked uint32,
 * nvalues + 1 values, element 0 the weight ratio). Every op is refused with its own error
 * to a party that is not a participant, at the wrong stage, or twice. */
enum mc2_fl_mask_op {
    /* c_pk[32] | s_pk[32] -> OK (empty). Keys stage only. */
    MC2_FL_OP_MASK_KEYS = 16,
    /* (empty) -> u8 stage | u8 n | flags[n] (MC2_FL_MF_*)
     *            [stage >= SHARES: n x (c_pk[32] | s_pk[32]), zeros for those without keys]
     *            [stage >= MASKED and the caller sent shares: u32 m | m x (u32 from |
     *             ct[MC2_FL_SHARE_CT_LEN]), the shares addressed to the caller] */
    MC2_FL_OP_MASK_POLL = 17,
    /* u32 m | m x (u32 to | ct[MC2_FL_SHARE_CT_LEN]): one share for every other member of
     * U1, none for anyone else -> OK (empty). Shares stage only, members of U1 only. */
    MC2_FL_OP_MASK_SHARES = 18,
    /* u32 m | m x (u32 of | share[32]): for every member j of U2 (the caller too), the share
     * of b_j if j is in U3, else of s_sk_j -> OK (empty). Unmask stage, members of U3. */
    MC2_FL_OP_MASK_UNMASK = 19,
};

/* The stages (POLL's first byte). */
enum mc2_fl_stage {
    MC2_FL_STAGE_KEYS = 0,
    MC2_FL_STAGE_SHARES = 1,
    MC2_FL_STAGE_MASKED = 2,
    MC2_FL_STAGE_UNMASK = 3,
    MC2_FL_STAGE_CLOSED = 4, /* every stage done: the round runs */
    MC2_FL_STAGE_FAILED = 5, /* the job failed: its status says why */
};

/* POLL's per-participant flags: what it posted. Posts after a stage closed are refused, so
 * after the shares stage U1 = {KEYS}, after the masked stage U2 = {SHARES}, U3 = {MASKED}. */
#define MC2_FL_MF_KEYS   1u
#define MC2_FL_MF_SHARES 2u
#define MC2_FL_MF_MASKED 4u
#define MC2_FL_MF_UNMASK 8u

/* ---- quantisation (Flower's SecAgg+ scheme) ---------------------------------------------- */

/* 1 if the parameters are usable for sums of `count` vectors: c > 0 and finite, 2 <= Q,
 * count >= 1 and count * (Q - 1) < 2^32 (the sum never wraps). */
int mc2_fl_quant_ok(double clipping_range, uint32_t quantization_range, size_t count);

/* q[k] = stochastic_round((clip(x[k], -c, c) + c) * (Q - 1) / (2c)), in [0, Q - 1]; the
 * rounding goes up with probability equal to the fraction (OpenSSL's CSPRNG), so E[q] is
 * exact. NaN is refused (MC2_E_INPUT). The parameters must satisfy mc2_fl_quant_ok(.., 1). */
int mc2_fl_quantize(const double *x, size_t n, double clipping_range, uint32_t quantization_range,
                    uint32_t *q, mc2_err *err) MC2_WUR;

/* out[k] = s[k] * 2c / (Q - 1) - count * c: the sum of `count` quantised vectors mapped
 * back. Each coordinate is within count * 2c / (Q - 1) of the sum of the clipped inputs.
 * The caller guarantees mc2_fl_quant_ok(c, Q, count). */
void mc2_fl_dequantize_sum(const uint32_t *s, size_t n, size_t count, double clipping_range,
                           uint32_t quantization_range, double *out);

/* ---- masks and agreement ------------------------------------------------------------------- */

/* v[k] += sign * PRG(seed)[k] (mod 2^32), sign +1 or -1, where PRG(seed) is the AES-256-CTR
 * keystream under key seed with a zero IV, read as little-endian uint32. The same seed always
 * gives the same mask; masks of any length are prefixes of each other. */
int mc2_fl_prg_add(const uint8_t seed[MC2_FL_SEED_LEN], int sign, uint32_t *v, size_t n,
                   mc2_err *err) MC2_WUR;

enum mc2_fl_purpose { MC2_FL_AGREE_MASK, MC2_FL_AGREE_SHARE };

/* out = HKDF-SHA256(ikm = X25519(my_sk, peer_pk), salt = empty, info = label || rid) with label
 * "mc2 fl mask v1" or "mc2 fl share v1": symmetric (i with j's public key gives what j gets
 * with i's). Fails (MC2_E_AUTH) on a low-order peer key. */
int mc2_fl_agree(const uint8_t my_sk[MC2_X25519_LEN], const uint8_t peer_pk[MC2_X25519_LEN],
                 const uint8_t rid[MC2_SHA256_LEN], enum mc2_fl_purpose purpose,
                 uint8_t out[MC2_FL_SEED_LEN], mc2_err *err) MC2_WUR;

/* Seals a share pt (MC2_FL_SHARE_PT_LEN bytes) from participant `from` to `to` under the
 * agreed share key: AES-256-GCM, nonce = from (u32 LE) | to (u32 LE) | 0 (u32) (the key is
 * fresh per round and each direction is sealed once), AAD = rid | from (u32 LE) | to (u32
 * LE). ct receives MC2_FL_SHARE_CT_LEN bytes (ciphertext | tag). */
int mc2_fl_share_seal(const uint8_t key[MC2_FL_SEED_LEN], const uint8_t rid[MC2_SHA256_LEN],
                      uint32_t from, uint32_t to, const uint8_t pt[MC2_FL_SHARE_PT_LEN],
                      uint8_t ct[MC2_FL_SHARE_CT_LEN], mc2_err *err) MC2_WUR;
/* Opens it; another round, sender, recipient or key fails with MC2_E_AUTH (pt wiped). */
int mc2_fl_share_open(const uint8_t key[MC2_FL_SEED_LEN], const uint8_t rid[MC2_SHA256_LEN],
                      uint32_t from, uint32_t to, const uint8_t ct[MC2_FL_SHARE_CT_LEN],
                      uint8_t pt[MC2_FL_SHARE_PT_LEN], mc2_err *err) MC2_WUR;

/* ---- the two ends of the masked stage (used by conn/fl_mask.c and the enclave) ----------- */

/* Client i = me: y[0..nv) = q(x) + PRG(b) + sum_{j in U2, j > me} PRG(s_ij) - sum_{j in U2,
 * j < me} PRG(s_ij), with s_ij = mc2_fl_agree(s_sk, s_pk[j], rid, MASK) and U2 the j < n with
 * in_u2[j] (me among them). x is ratio * [1, clip(u)] (nv values). */
int mc2_fl_mask_input(const double *x, size_t nv, double clipping_range,
                      uint32_t quantization_range, size_t me, const uint8_t b[MC2_FL_SEED_LEN],
                      const uint8_t s_sk[MC2_X25519_LEN], const uint8_t (*s_pk)[MC2_X25519_LEN],
                      const bool *in_u2, size_t n, const uint8_t rid[MC2_SHA256_LEN], uint32_t *y,
                      mc2_err *err) MC2_WUR;

/* Server: removes every mask from sum[0..nv), the sum mod 2^32 of the masked inputs of U3,
 * leaving the sum of their quantised vectors. flags[i] (MC2_FL_MF_*) say U2 (SHARES), U3
 * (MASKED) and who revealed shares (UNMASK); reveal[h * n + j] is the share of participant
 * j that h revealed (of b_j for j in U3, of s_sk_j for j in U2 \ U3). Needs at least t
 * revealers; a rebuilt s_sk_j must match s_pk[j] (MC2_E_AUTH if not). */
int mc2_fl_unmask(uint32_t *sum, size_t nv, size_t n, unsigned t, const uint8_t *flags,
                  const uint8_t (*s_pk)[MC2_X25519_LEN], const uint8_t (*reveal)[MC2_FL_SEED_LEN],
                  const uint8_t rid[MC2_SHA256_LEN], mc2_err *err) MC2_WUR;

/* ---- Shamir secret sharing over GF(2^8) (shamir.c) ---------------------------------------- */

/* GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, constant time in both operands.
 * mc2_gf256_inv(0) = 0. Exposed for tests. */
uint8_t mc2_gf256_mul(uint8_t a, uint8_t b);
uint8_t mc2_gf256_inv(uint8_t a);

/* Splits secret byte-wise with threshold t (random polynomials of degree t - 1, OpenSSL's
 * CSPRNG) and writes the share for x = xs[j] to shares[j] for j < n. The caller guarantees
 * 1 <= t <= n <= 255 and distinct nonzero xs (misuse aborts). The coefficients are wiped. */
int mc2_fl_shamir_split(const uint8_t secret[MC2_FL_SEED_LEN], unsigned t, const uint8_t *xs,
                        size_t n, uint8_t (*shares)[MC2_FL_SEED_LEN], mc2_err *err) MC2_WUR;

/* Lagrange interpolation at 0 of m shares (x = xs[j], y = shares[j]) into secret. With at
 * least t consistent shares this is the secret; with fewer it is unrelated to it. Refuses
 * m = 0, a zero x and a duplicate x (MC2_E_INPUT). */
int mc2_fl_shamir_combine(const uint8_t *xs, const uint8_t (*shares)[MC2_FL_SEED_LEN], size_t m,
                          uint8_t secret[MC2_FL_SEED_LEN], mc2_err *err) MC2_WUR;

#endif
