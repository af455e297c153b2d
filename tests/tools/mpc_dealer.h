/* mpc_dealer.h - tests only (never linked into a product binary): a trusted dealer as an
 * mpc_triple_src (mpc/triples.h), to test the online phase apart from the offline one.
 * Every party of a run builds its own dealer with the same public seed; each one draws all
 * n parties' shares of a, b (and of c, except the last party's, which makes the sum
 * a * b) from one PRG stream, and keeps its own. So the parties agree without talking,
 * and, obviously, each knows everyone's shares: no security at all. Header-only. */
#ifndef MC2_TESTS_MPC_DEALER_H
#define MC2_TESTS_MPC_DEALER_H

#include <stdlib.h>
#include <string.h>

#include "mpc/engine.h"
#include "mpc/prg.h"
#include "mpc/triples.h"

typedef struct mpc_dealer {
    mpc_prg *g;
    uint32_t self, n;
    uint64_t made;
} mpc_dealer;

/* The next cnt words of every party's share (sh[p * cnt + i]) of a random vector. */
static int dealer_draw(mpc_dealer *d, uint64_t *sh, size_t cnt, mc2_err *err)
{
    return mpc_prg_bytes(d->g, sh, (size_t)d->n * cnt * sizeof *sh, err);
}

/* mine = my share of all's vector; sum = the secret. */
static void dealer_pick(const mpc_dealer *d, const uint64_t *all, size_t cnt, uint64_t *mine,
                        uint64_t *sum)
{
    memcpy(mine, all + (size_t)d->self * cnt, cnt * sizeof *mine);
    if (!sum) return;
    memset(sum, 0, cnt * sizeof *sum);
    for (uint32_t p = 0; p < d->n; p++)
        for (size_t i = 0; i < cnt; i++) sum[i] += all[(size_t)p * cnt + i];
}

/* c shares: random for parties < n-1; the last party's makes the sum prod. */
static int dealer_share_c(mpc_dealer *d, const uint64_t *prod, uint64_t *c, size_t cnt,
                          mc2_err *err)
{
    uint64_t *all = malloc((size_t)d->n * cnt * sizeof *all + 1);
    if (!all || dealer_draw(d, all, cnt, err)) {
        free(all);
        return all ? -1 : mc2_err_set(err, MC2_E_NOMEM, "dealer: out of memory");
    }
    uint64_t *last = all + (size_t)(d->n - 1) * cnt;
    memcpy(last, prod, cnt * sizeof *last);
    for (uint32_t p = 0; p + 1 < d->n; p++)
        for (size_t i = 0; i < cnt; i++) last[i] -= all[(size_t)p * cnt + i];
    memcpy(c, all + (size_t)d->self * cnt, cnt * sizeof *c);
    free(all);
    return 0;
}

static int dealer_elems(void *ctx, size_t cnt, uint64_t *a, uint64_t *b, uint64_t *c, mc2_err *err)
{
    mpc_dealer *d = ctx;
    uint64_t *all = malloc(((size_t)d->n * 2 + 3) * cnt * sizeof *all + 1);
    if (!all) return mc2_err_set(err, MC2_E_NOMEM, "dealer: out of memory");
    uint64_t *alla = all, *allb = all + (size_t)d->n * cnt, *sa = allb + (size_t)d->n * cnt,
             *sb = sa + cnt, *prod = sb + cnt;
    int rc = -1;
    if (dealer_draw(d, alla, cnt, err) || dealer_draw(d, allb, cnt, err)) goto out;
    dealer_pick(d, alla, cnt, a, sa);
    dealer_pick(d, allb, cnt, b, sb);
    for (size_t i = 0; i < cnt; i++) prod[i] = sa[i] * sb[i];
    rc = dealer_share_c(d, prod, c, cnt, err);
    d->made += cnt;
out:
    free(all);
    return rc;
}

static int dealer_matrix(void *ctx, size_t m, size_t k, size_t n, uint64_t *a, uint64_t *b,
                         uint64_t *c, mc2_err *err)
{
    mpc_dealer *d = ctx;
    size_t mk = m * k, kn = k * n, mn = m * n;
    uint64_t *all = malloc(((size_t)d->n * (mk + kn) + mk + kn + mn) * sizeof *all + 1);
    if (!all) return mc2_err_set(err, MC2_E_NOMEM, "dealer: out of memory");
    uint64_t *alla = all, *allb = all + (size_t)d->n * mk, *sa = allb + (size_t)d->n * kn,
             *sb = sa + mk, *prod = sb + kn;
    int rc = -1;
    if (dealer_draw(d, alla, mk, err) || dealer_draw(d, allb, kn, err)) goto out;
    dealer_pick(d, alla, mk, a, sa);
    dealer_pick(d, allb, kn, b, sb);
    mpc_mat_mul_plain(prod, sa, sb, m, k, n);
    rc = dealer_share_c(d, prod, c, mn, err);
    d->made += mk * n;
out:
    free(all);
    return rc;
}

static void dealer_free(void *ctx)
{
    mpc_dealer *d = ctx;
    mpc_prg_free(d->g);
    free(d);
}

/* A dealer source for party self of n; seed must be the same for every party of the run. */
static int mpc_dealer_src(uint32_t self, uint32_t n, const uint8_t seed[16], mpc_triple_src *out,
                          mc2_err *err)
{
    mpc_dealer *d = calloc(1, sizeof *d);
    if (!d) return mc2_err_set(err, MC2_E_NOMEM, "dealer: out of memory");
    d->self = self;
    d->n = n;
    if (!(d->g = mpc_prg_new(seed, err))) {
        free(d);
        return -1;
    }
    *out = (mpc_triple_src){
        .ctx = d, .elems = dealer_elems, .matrix = dealer_matrix, .free = dealer_free};
    return 0;
}

#endif
