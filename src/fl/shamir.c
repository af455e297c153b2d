/* shamir.c - Shamir secret sharing of 32-byte secrets over GF(2^8), byte-wise (fl/mask.h).
 * Arithmetic is constant time in the secret operands (no tables, no secret branches); the
 * x coordinates are public. */
#include "fl/mask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t mc2_gf256_mul(uint8_t a, uint8_t b)
{
    unsigned r = 0, x = a, y = b;
    for (int i = 0; i < 8; i++) {
        r ^= x & (0u - (y & 1u));
        y >>= 1;
        /* x *= X, reduced by x^8 + x^4 + x^3 + x + 1 when bit 8 appears */
        unsigned hi = 0u - ((x >> 7) & 1u);
        x = ((x << 1) ^ (hi & 0x1bu)) & 0xffu;
    }
    return (uint8_t)r;
}

uint8_t mc2_gf256_inv(uint8_t a)
{
    /* a^254 = a^-1 (a^255 = 1 for a != 0), and 0 for a = 0: square and multiply over the
     * fixed exponent, so the time does not depend on a. */
    uint8_t r = 1, p = a;
    for (int bit = 0; bit < 8; bit++) {
        if ((254 >> bit) & 1) r = mc2_gf256_mul(r, p);
        p = mc2_gf256_mul(p, p);
    }
    return r;
}

static void misuse(const char *what)
{
    fprintf(stderr, "mc2: internal error: fl/shamir.c: %s\n", what);
    abort();
}

int mc2_fl_shamir_split(const uint8_t secret[MC2_FL_SEED_LEN], unsigned t, const uint8_t *xs,
                        size_t n, uint8_t (*shares)[MC2_FL_SEED_LEN], mc2_err *err)
{
    /* coef[d][b]: coefficient of x^d for byte b; coef[0] is the secret */
    uint8_t coef[MC2_FL_MAX_PARTIES][MC2_FL_SEED_LEN];
    int rc = -1;

    if (t < 1 || t > n || n > MC2_FL_MAX_PARTIES) misuse("split: need 1 <= t <= n <= 255");
    for (size_t j = 0; j < n; j++) {
        if (xs[j] == 0) misuse("split: x = 0 would be the secret itself");
        for (size_t k = 0; k < j; k++)
            if (xs[k] == xs[j]) misuse("split: duplicate x");
    }
    memcpy(coef[0], secret, MC2_FL_SEED_LEN);
    if (t > 1 && mc2_random(coef[1], (size_t)(t - 1) * MC2_FL_SEED_LEN, err) != 0) goto out;
    for (size_t j = 0; j < n; j++) {
        for (size_t b = 0; b < MC2_FL_SEED_LEN; b++) {
            /* Horner: ((c_{t-1} x + c_{t-2}) x + ...) x + c_0 */
            uint8_t y = 0;
            for (unsigned d = t; d-- > 0;) y = (uint8_t)(mc2_gf256_mul(y, xs[j]) ^ coef[d][b]);
            shares[j][b] = y;
        }
    }
    rc = 0;
out:
    mc2_wipe(coef, (size_t)t * MC2_FL_SEED_LEN);
    return rc;
}

int mc2_fl_shamir_combine(const uint8_t *xs, const uint8_t (*shares)[MC2_FL_SEED_LEN], size_t m,
                          uint8_t secret[MC2_FL_SEED_LEN], mc2_err *err)
{
    if (m == 0 || m > MC2_FL_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_INPUT, "Shamir: %zu shares given (need 1 to %d)", m,
                           MC2_FL_MAX_PARTIES);
    for (size_t j = 0; j < m; j++) {
        if (xs[j] == 0) return mc2_err_set(err, MC2_E_INPUT, "Shamir: share %zu has x = 0", j);
        for (size_t k = 0; k < j; k++)
            if (xs[k] == xs[j])
                return mc2_err_set(err, MC2_E_INPUT,
                                   "Shamir: shares %zu and %zu have the same x = %u", k, j, xs[j]);
    }
    memset(secret, 0, MC2_FL_SEED_LEN);
    for (size_t j = 0; j < m; j++) {
        /* Lagrange basis at 0: l_j = prod_{k != j} x_k / (x_k - x_j); minus is xor */
        uint8_t num = 1, den = 1;
        for (size_t k = 0; k < m; k++) {
            if (k == j) continue;
            num = mc2_gf256_mul(num, xs[k]);
            den = mc2_gf256_mul(den, (uint8_t)(xs[k] ^ xs[j]));
        }
        uint8_t l = mc2_gf256_mul(num, mc2_gf256_inv(den));
        for (size_t b = 0; b < MC2_FL_SEED_LEN; b++) secret[b] ^= mc2_gf256_mul(l, shares[j][b]);
    }
    return 0;
}
