/* test_mpc_triples.c - mpc/triples.h's OT-based source with 2, 3 and 4 in-process parties:
 * element-wise triples (batches of 0, 1, and around the 1024-product chunks) open to
 * sum(a) * sum(b) = sum(c) mod 2^64; matrix triples of several shapes (1 x 1 x 1, thin,
 * wide, and rows spanning several chunks) open to C = A B; no party's share equals the
 * opened value, shares differ between parties; the counter counts. Prints triples/s (not a
 * gate). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "mpc/net.h"
#include "mpc/triples.h"
#include "test.h"

static const size_t elem_sizes[] = {0, 1, 1023, 1024, 1025, 3000};
enum { NE = sizeof elem_sizes / sizeof elem_sizes[0] };
static const size_t shapes[][3] = {{1, 1, 1},  {3, 4, 5},   {17, 1, 9},
                                   {1, 20, 1}, {2, 33, 40}, {40, 30, 20}};
enum { NM = sizeof shapes / sizeof shapes[0], MAXP = 4 };

struct party {
    mpc_net *net;
    int rc;
    mc2_err err;
    uint64_t *ea[NE], *eb[NE], *ec[NE];
    uint64_t *ma[NM], *mb[NM], *mc[NM];
    uint64_t made;
    size_t bench_n; /* > 0: one timed batch of this many triples instead */
    double secs, cpu;
    uint64_t sent; /* bytes to all peers in the timed batch */
};

static uint64_t sent_total(const mpc_net *net)
{
    uint64_t all = 0, sent, received;
    for (uint32_t j = 0; j < mpc_net_parties(net); j++) {
        if (j == mpc_net_self(net)) continue;
        mpc_net_counters(net, j, &sent, &received);
        all += sent;
    }
    return all;
}

static void *party_main(void *arg)
{
    struct party *p = arg;
    mpc_triple_src src;
    p->rc = mpc_triples_ot(p->net, &src, &p->err);
    if (p->rc == 0 && p->bench_n) {
        uint64_t *a = malloc(p->bench_n * 8), *b = malloc(p->bench_n * 8),
                 *c = malloc(p->bench_n * 8);
        struct timespec t0, t1, c0, c1;
        /* the sessions' base OTs first, apart from the timing */
        p->rc = src.elems(src.ctx, 1, a, b, c, &p->err);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        uint64_t before = sent_total(p->net);
        if (p->rc == 0) p->rc = src.elems(src.ctx, p->bench_n, a, b, c, &p->err);
        p->sent = sent_total(p->net) - before;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        p->cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        p->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        free(a);
        free(b);
        free(c);
    }
    for (size_t i = 0; i < NE && p->rc == 0 && !p->bench_n; i++)
        p->rc = src.elems(src.ctx, elem_sizes[i], p->ea[i], p->eb[i], p->ec[i], &p->err);
    for (size_t i = 0; i < NM && p->rc == 0 && !p->bench_n; i++)
        p->rc = src.matrix(src.ctx, shapes[i][0], shapes[i][1], shapes[i][2], p->ma[i], p->mb[i],
                           p->mc[i], &p->err);
    if (p->rc == 0) p->made = mpc_triples_made(&src);
    if (src.free) src.free(src.ctx);
    mpc_net_free(p->net);
    return NULL;
}

static void run(uint32_t np, struct party *p)
{
    mpc_net *nets[MAXP];
    mc2_err err;
    if (mpc_net_local(np, nets, NULL, NULL, &err)) {
        fprintf(stderr, "mpc_net_local: %s\n", err.msg);
        exit(1);
    }
    pthread_t th[MAXP];
    for (uint32_t i = 0; i < np; i++) {
        p[i].net = nets[i];
        pthread_create(&th[i], NULL, party_main, &p[i]);
    }
    for (uint32_t i = 0; i < np; i++) pthread_join(th[i], NULL);
}

static uint64_t *alloc_words(size_t n)
{
    return calloc(n ? n : 1, 8);
}

/* Opens share arrays of np parties: out[j] = sum_i sh[i][j]. */
static void open_sum(uint32_t np, uint64_t *const *sh, size_t n, uint64_t *out)
{
    for (size_t j = 0; j < n; j++) {
        out[j] = 0;
        for (uint32_t i = 0; i < np; i++) out[j] += sh[i][j];
    }
}

/* Every bit position of the n words is 1 in n/2 +- 6 sigma of them (uniform-looking). */
static bool balanced(const uint64_t *v, size_t n)
{
    double sigma = 0.5 * sqrt((double)n);
    for (unsigned t = 0; t < 64; t++) {
        size_t ones = 0;
        for (size_t j = 0; j < n; j++) ones += (v[j] >> t) & 1;
        double dev = (double)ones - (double)n / 2;
        if (dev > 6 * sigma || dev < -6 * sigma) return false;
    }
    return true;
}

static void test_parties(uint32_t np)
{
    struct party p[MAXP];
    memset(p, 0, sizeof p);
    for (uint32_t i = 0; i < np; i++) {
        for (size_t e = 0; e < NE; e++) {
            p[i].ea[e] = alloc_words(elem_sizes[e]);
            p[i].eb[e] = alloc_words(elem_sizes[e]);
            p[i].ec[e] = alloc_words(elem_sizes[e]);
        }
        for (size_t s = 0; s < NM; s++) {
            p[i].ma[s] = alloc_words(shapes[s][0] * shapes[s][1]);
            p[i].mb[s] = alloc_words(shapes[s][1] * shapes[s][2]);
            p[i].mc[s] = alloc_words(shapes[s][0] * shapes[s][2]);
        }
    }
    run(np, p);
    for (uint32_t i = 0; i < np; i++) CHECK_MSG(p[i].rc == 0, "party %u: %s", i, p[i].err.msg);
    for (uint32_t i = 0; i < np; i++) {
        if (p[i].rc) return;
    }
    uint64_t want_made = 0;
    for (size_t e = 0; e < NE; e++) {
        size_t n = elem_sizes[e], bad = 0, same = 0;
        want_made += n;
        uint64_t *sa[MAXP], *sb[MAXP], *sc[MAXP];
        for (uint32_t i = 0; i < np; i++) {
            sa[i] = p[i].ea[e];
            sb[i] = p[i].eb[e];
            sc[i] = p[i].ec[e];
        }
        uint64_t *a = alloc_words(n), *b = alloc_words(n), *c = alloc_words(n);
        open_sum(np, sa, n, a);
        open_sum(np, sb, n, b);
        open_sum(np, sc, n, c);
        for (size_t j = 0; j < n; j++) {
            bad += a[j] * b[j] != c[j];
            for (uint32_t i = 0; i < np; i++)
                same += sc[i][j] == c[j] || sa[i][j] == a[j] || (i && sc[i][j] == sc[0][j]);
        }
        CHECK_MSG(bad == 0, "%u parties, %zu triples: %zu do not open to a b = c", np, n, bad);
        CHECK_MSG(same == 0, "%u parties, %zu triples: %zu shares equal the opened value", np, n,
                  same);
        for (uint32_t i = 0; i < np && n >= 3000; i++) {
            CHECK_MSG(balanced(sa[i], n), "party %u's shares of a are not balanced", i);
            CHECK_MSG(balanced(sb[i], n), "party %u's shares of b are not balanced", i);
            CHECK_MSG(balanced(sc[i], n), "party %u's shares of c are not balanced", i);
        }
        free(a);
        free(b);
        free(c);
    }
    for (size_t s = 0; s < NM; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2], bad = 0, same = 0;
        want_made += m * k * n;
        uint64_t *sa[MAXP], *sb[MAXP], *sc[MAXP];
        for (uint32_t i = 0; i < np; i++) {
            sa[i] = p[i].ma[s];
            sb[i] = p[i].mb[s];
            sc[i] = p[i].mc[s];
        }
        uint64_t *a = alloc_words(m * k), *b = alloc_words(k * n), *c = alloc_words(m * n);
        open_sum(np, sa, m * k, a);
        open_sum(np, sb, k * n, b);
        open_sum(np, sc, m * n, c);
        for (size_t r = 0; r < m; r++)
            for (size_t col = 0; col < n; col++) {
                uint64_t acc = 0;
                for (size_t l = 0; l < k; l++) acc += a[r * k + l] * b[l * n + col];
                bad += acc != c[r * n + col];
                for (uint32_t i = 0; i < np; i++) same += sc[i][r * n + col] == acc;
            }
        CHECK_MSG(bad == 0, "%u parties, %zux%zu by %zux%zu: %zu entries of C are not (A B)", np, m,
                  k, k, n, bad);
        CHECK_MSG(same == 0, "%u parties, %zux%zu by %zux%zu: a share equals C", np, m, k, k, n);
        free(a);
        free(b);
        free(c);
    }
    for (uint32_t i = 0; i < np; i++)
        CHECK_MSG(p[i].made == want_made, "party %u made %llu, want %llu", i,
                  (unsigned long long)p[i].made, (unsigned long long)want_made);
    for (uint32_t i = 0; i < np; i++) {
        for (size_t e = 0; e < NE; e++) {
            free(p[i].ea[e]);
            free(p[i].eb[e]);
            free(p[i].ec[e]);
        }
        for (size_t s = 0; s < NM; s++) {
            free(p[i].ma[s]);
            free(p[i].mb[s]);
            free(p[i].mc[s]);
        }
    }
}

/* The parties ask for different counts: each fails with an error naming its peer (no
 * hang), and the source refuses later calls. */
static void *mismatch_main(void *arg)
{
    struct party *p = arg;
    mpc_triple_src src;
    uint64_t a[200], b[200], c[200];
    size_t cnt = mpc_net_self(p->net) == 0 ? 100 : 200;
    p->rc = mpc_triples_ot(p->net, &src, &p->err);
    if (p->rc == 0) {
        p->rc = src.elems(src.ctx, cnt, a, b, c, &p->err);
        mc2_err again;
        p->made = src.elems(src.ctx, 1, a, b, c, &again) != 0 && again.code == MC2_E_INTERNAL;
        src.free(src.ctx);
    }
    mpc_net_free(p->net);
    return NULL;
}

static void test_mismatch(void)
{
    mpc_net *nets[2];
    struct party p[2];
    memset(p, 0, sizeof p);
    mc2_err err;
    if (mpc_net_local(2, nets, NULL, NULL, &err)) exit(1);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        p[i].net = nets[i];
        pthread_create(&th[i], NULL, mismatch_main, &p[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        char want[16];
        snprintf(want, sizeof want, "party %d", 1 - i);
        CHECK_MSG(p[i].rc != 0 && strstr(p[i].err.msg, want), "party %d: rc %d, %s", i, p[i].rc,
                  p[i].err.msg);
        CHECK_MSG(p[i].made == 1, "party %d: a failed source still made triples", i);
    }
}

static void measure(uint32_t np)
{
    struct party p[MAXP];
    memset(p, 0, sizeof p);
    size_t n = getenv("MC2_TEST_QUICK") ? 20000 : 100000;
    for (uint32_t i = 0; i < np; i++) p[i].bench_n = n;
    run(np, p);
    double s = 0, cpu = 0;
    for (uint32_t i = 0; i < np; i++) {
        CHECK_MSG(p[i].rc == 0, "party %u: %s", i, p[i].err.msg);
        if (p[i].secs > s) s = p[i].secs;
        if (p[i].cpu > cpu) cpu = p[i].cpu;
        /* docs/mpc.md: 1284 bytes per triple and ordered pair (1024 of IKNP matrix, 260 of
         * packed corrections), plus a 16-byte header per chunk of 1024 */
        double per = (double)p[i].sent / (double)n / (np - 1);
        CHECK_MSG(per >= 1284 && per < 1284.1, "party %u sent %.2f bytes per triple and peer", i,
                  per);
    }
    printf("mpc triples: %u parties: %zu element-wise triples: wall %.3f s, %.0f triples/s; "
           "busiest party's CPU %.3f s, %.0f triples/s per core (threads, in-memory channels, "
           "base OTs excluded)\n",
           np, n, s, (double)n / s, cpu, (double)n / cpu);
}

int main(void)
{
    test_parties(2);
    test_parties(3);
    test_parties(4);
    test_mismatch();
    measure(2);
    measure(3);
    return test_done("test_mpc_triples");
}
