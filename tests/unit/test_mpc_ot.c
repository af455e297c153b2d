/* test_mpc_ot.c - mpc/ot.h between two in-process parties (net.h's local transport):
 * chosen-message OT (the receiver gets m_c and, over every OT of a batch, never the other
 * message), correlated OT (out = m0 ^ c delta), random OT, at n = 0, 1 and around the
 * 128-bit tiles and the 8192-OT chunks, several batches in one session; a batch whose kind
 * the two sides disagree on fails naming the peer; base OT: a point changed in transit (off
 * the curve, or the point at infinity's encoding) in either direction fails MC2_E_AUTH
 * naming the peer. Prints OTs/s (not a gate). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpc/net.h"
#include "mpc/ot.h"
#include "test.h"

enum { CHUNK = 8192 };

/* A deterministic test generator (splitmix64). */
static uint64_t rnd_state = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum kind { K_CHOSEN, K_COT, K_ROT };

struct party {
    mpc_net *net;
    bool sender;
    int rc_setup, rc;
    mc2_err err;
    /* the batches: kinds[b] of n[b] OTs */
    size_t nb;
    const enum kind *kinds; /* this party's kinds (the mismatch test gives them differently) */
    const size_t *n;
    mpc_block **m0, **m1, **out; /* per batch */
    uint8_t **c;
    mpc_block delta;
    double secs, cpu;
    uint64_t sent, received; /* after setup */
};

static void *party_main(void *arg)
{
    struct party *p = arg;
    mpc_ot *o = NULL;
    p->rc_setup = mpc_ot_setup(p->net, 1 - mpc_net_self(p->net), p->sender, &o, &p->err);
    p->rc = p->rc_setup;
    uint64_t s0 = 0, r0 = 0;
    mpc_net_counters(p->net, 1 - mpc_net_self(p->net), &s0, &r0);
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (size_t b = 0; b < p->nb && p->rc == 0; b++) {
        switch (p->kinds[b]) {
        case K_CHOSEN:
            p->rc = p->sender ? mpc_ot_send(o, p->m0[b], p->m1[b], p->n[b], &p->err)
                              : mpc_ot_recv(o, p->c[b], p->out[b], p->n[b], &p->err);
            break;
        case K_COT:
            p->rc = p->sender ? mpc_ot_send_cot(o, p->delta, p->m0[b], p->n[b], &p->err)
                              : mpc_ot_recv_cot(o, p->c[b], p->out[b], p->n[b], &p->err);
            break;
        case K_ROT:
            p->rc = p->sender ? mpc_ot_send_rot(o, p->m0[b], p->m1[b], p->n[b], &p->err)
                              : mpc_ot_recv_rot(o, p->c[b], p->out[b], p->n[b], &p->err);
            break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    p->cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    p->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    mpc_net_counters(p->net, 1 - mpc_net_self(p->net), &p->sent, &p->received);
    p->sent -= s0;
    p->received -= r0;
    mpc_ot_free(o);
    mpc_net_free(p->net); /* a peer still waiting on this party fails instead of hanging */
    return NULL;
}

/* Runs party 0 (sender iff sender0) and party 1 to the end. */
static void run2(struct party p[2], bool sender0, mpc_net_tamper_fn tamper, void *tctx)
{
    mpc_net *nets[2];
    mc2_err err;
    if (mpc_net_local(2, nets, tamper, tctx, &err)) {
        fprintf(stderr, "mpc_net_local: %s\n", err.msg);
        exit(1);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        p[i].net = nets[i];
        p[i].sender = i == 0 ? sender0 : !sender0;
        p[i].rc = p[i].rc_setup = -1;
        pthread_create(&th[i], NULL, party_main, &p[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
}

static bool beq(mpc_block a, mpc_block b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

static int bcmp_(const void *a, const void *b)
{
    const mpc_block *x = a, *y = b;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    return 0;
}

/* Batches of every kind at sizes around the tile and chunk edges, in one session (the
 * sender is party 1 when sender0 is false: both directions of the roles). */
static void test_correct(bool sender0)
{
    static const size_t sizes[] = {0,    1,         127,   128,       129,
                                   1000, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5};
    enum { NS = sizeof sizes / sizeof sizes[0], NB = 3 * NS };
    enum kind kinds[NB];
    size_t n[NB];
    mpc_block *m0[NB], *m1[NB], *out[NB];
    uint8_t *c[NB];
    for (size_t b = 0; b < NB; b++) {
        kinds[b] = (enum kind)(b % 3);
        n[b] = sizes[b / 3];
        size_t cnt = n[b] ? n[b] : 1;
        m0[b] = malloc(cnt * sizeof(mpc_block));
        m1[b] = malloc(cnt * sizeof(mpc_block));
        out[b] = malloc(cnt * sizeof(mpc_block));
        c[b] = malloc(cnt);
        for (size_t j = 0; j < n[b]; j++) {
            m0[b][j] = (mpc_block){rnd(), rnd()};
            m1[b][j] = (mpc_block){rnd(), rnd()};
            c[b][j] = (uint8_t)(rnd() & 1);
        }
    }
    struct party p[2];
    memset(p, 0, sizeof p);
    mpc_block delta = {rnd(), rnd()};
    for (int i = 0; i < 2; i++) {
        p[i].nb = NB;
        p[i].kinds = kinds;
        p[i].n = n;
        p[i].m0 = m0;
        p[i].m1 = m1;
        p[i].out = out;
        p[i].c = c;
        p[i].delta = delta;
    }
    run2(p, sender0, NULL, NULL);
    CHECK_MSG(p[0].rc == 0 && p[1].rc == 0, "%s / %s", p[0].err.msg, p[1].err.msg);
    if (p[0].rc || p[1].rc) return;
    for (size_t b = 0; b < NB; b++) {
        size_t bad = 0, leaked = 0, flat = 0;
        mpc_block *other = malloc((n[b] ? n[b] : 1) * sizeof(mpc_block));
        for (size_t j = 0; j < n[b]; j++) {
            mpc_block want, oth;
            if (kinds[b] == K_COT) { /* m0 was written by the sender: random */
                want = c[b][j] ? mpc_block_xor(m0[b][j], delta) : m0[b][j];
                oth = c[b][j] ? m0[b][j] : mpc_block_xor(m0[b][j], delta);
            } else {
                want = c[b][j] ? m1[b][j] : m0[b][j];
                oth = c[b][j] ? m0[b][j] : m1[b][j];
            }
            bad += !beq(out[b][j], want);
            other[j] = oth;
            if (kinds[b] != K_CHOSEN)
                flat += beq(m0[b][j], m1[b][j]) || (j && beq(m0[b][j], m0[b][j - 1]));
        }
        qsort(other, n[b], sizeof *other, bcmp_);
        for (size_t j = 0; j < n[b]; j++)
            leaked += bsearch(&out[b][j], other, n[b], sizeof *other, bcmp_) != NULL;
        CHECK_MSG(bad == 0, "kind %d, n %zu: %zu outputs are not m_c", kinds[b], n[b], bad);
        CHECK_MSG(leaked == 0, "kind %d, n %zu: %zu outputs are a message not chosen", kinds[b],
                  n[b], leaked);
        CHECK_MSG(flat == 0, "kind %d, n %zu: the sender's random messages repeat", kinds[b], n[b]);
        free(other);
    }
    for (size_t b = 0; b < NB; b++) {
        free(m0[b]);
        free(m1[b]);
        free(out[b]);
        free(c[b]);
    }
}

/* The two sides ask for different kinds of batch: the sender fails naming the receiver. */
static void test_mismatch(void)
{
    static const enum kind k_send[] = {K_COT}, k_recv[] = {K_ROT};
    static const size_t n[] = {300};
    mpc_block m0[300], m1[300], out[300];
    uint8_t c[300] = {0};
    mpc_block *pm0[] = {m0}, *pm1[] = {m1}, *pout[] = {out};
    uint8_t *pc[] = {c};
    struct party p[2];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 2; i++) {
        p[i].nb = 1;
        p[i].n = n;
        p[i].m0 = pm0;
        p[i].m1 = pm1;
        p[i].out = pout;
        p[i].c = pc;
    }
    p[0].kinds = k_send;
    p[1].kinds = k_recv;
    run2(p, true, NULL, NULL);
    CHECK(p[0].rc_setup == 0 && p[1].rc_setup == 0);
    CHECK_MSG(p[0].rc != 0 && p[0].err.code == MC2_E_INPUT && strstr(p[0].err.msg, "party 1"), "%s",
              p[0].err.msg);
}

/* The tamper hook: changes the first message of length `len` from `from`, at point `pt`
 * (65 bytes each): mode 0 flips a bit of x (off the curve), mode 1 writes the encoding of the
 * point at infinity (a 0 byte) padded with zeros, mode 2 sets the prefix to compressed. */
struct tamper {
    uint32_t from;
    size_t len, pt;
    int mode, done;
};

static void tamper_fn(void *ctx, uint32_t from, uint32_t to, uint8_t *p, size_t len)
{
    struct tamper *t = ctx;
    (void)to;
    if (t->done || from != t->from || len != t->len) return;
    uint8_t *q = p + t->pt * 65;
    if (t->mode == 0) q[10] ^= 0x01;
    if (t->mode == 1) memset(q, 0, 65);
    if (t->mode == 2) q[0] = 2;
    t->done = 1;
}

static void test_base_tamper(void)
{
    /* party 0 is the OT sender: party 1 (the extension's receiver) is the base-OT sender and
     * sends A (65 bytes); party 0 sends the 128 B_i (8320 bytes). */
    struct {
        uint32_t from;
        size_t len, pt;
    } cases[] = {{1, 65, 0}, {0, 128 * 65, 0}, {0, 128 * 65, 77}, {0, 128 * 65, 127}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int mode = 0; mode < 3; mode++) {
            struct tamper t = {cases[k].from, cases[k].len, cases[k].pt, mode, 0};
            struct party p[2];
            memset(p, 0, sizeof p);
            run2(p, true, tamper_fn, &t);
            uint32_t victim = 1 - cases[k].from;
            char want[32];
            snprintf(want, sizeof want, "party %u", cases[k].from);
            CHECK(t.done);
            CHECK_MSG(p[victim].rc_setup != 0 && p[victim].err.code == MC2_E_AUTH &&
                          strstr(p[victim].err.msg, want) && strstr(p[victim].err.msg, "point"),
                      "case %zu mode %d: %s", k, mode, p[victim].err.msg);
        }
}

static void measure(void)
{
    size_t n = 1u << 20;
    if (getenv("MC2_TEST_QUICK")) n = 1u << 18;
    static const enum kind kinds[] = {K_ROT, K_COT, K_CHOSEN};
    static const char *const kind_name[] = {"random OT", "correlated OT", "chosen-message OT"};
    for (int k = 0; k < 3; k++) {
        mpc_block *m0 = calloc(n, sizeof *m0), *m1 = calloc(n, sizeof *m1),
                  *out = calloc(n, sizeof *out);
        uint8_t *c = calloc(n, 1);
        for (size_t j = 0; j < n; j++) c[j] = (uint8_t)(rnd() & 1);
        mpc_block *pm0[] = {m0}, *pm1[] = {m1}, *pout[] = {out};
        uint8_t *pc[] = {c};
        size_t nn[] = {n};
        struct party p[2];
        memset(p, 0, sizeof p);
        for (int i = 0; i < 2; i++) {
            p[i].nb = 1;
            p[i].kinds = &kinds[k];
            p[i].n = nn;
            p[i].m0 = pm0;
            p[i].m1 = pm1;
            p[i].out = pout;
            p[i].c = pc;
        }
        run2(p, true, NULL, NULL);
        CHECK(p[0].rc == 0 && p[1].rc == 0);
        /* the costs docs/mpc.md states: R sends a 16-byte header and 16 bytes per OT (n is
         * a multiple of 128: no padding); S sends 0, 16 or 32 bytes per OT */
        CHECK_MSG(p[1].sent == 16 + 16 * (uint64_t)n && p[0].sent == (uint64_t)k * 16 * n,
                  "%s: receiver sent %llu, sender %llu bytes", kind_name[k],
                  (unsigned long long)p[1].sent, (unsigned long long)p[0].sent);
        double s = p[0].secs > p[1].secs ? p[0].secs : p[1].secs;
        double cpu = p[0].cpu > p[1].cpu ? p[0].cpu : p[1].cpu;
        printf("mpc ot: %s: %zu OTs: wall %.3f s, %.2f M OTs/s; busiest party's CPU %.3f s, "
               "%.2f M OTs/s per core (two threads, in-memory channel)\n",
               kind_name[k], n, s, (double)n / s / 1e6, cpu, (double)n / cpu / 1e6);
        free(m0);
        free(m1);
        free(out);
        free(c);
    }
}

int main(void)
{
    test_correct(true);
    test_correct(false);
    test_mismatch();
    test_base_tamper();
    measure();
    return test_done("test_mpc_ot");
}
