/* test_mpc_net.c - mpc/net.h. Local transport: 3 parties each send 6 MB to both others
 * before receiving anything (a blocking transport deadlocks here), in chunk sizes that
 * differ from the receivers' (stream semantics), counters, the tamper hook, a timeout and
 * a vanished peer that fail naming the peer, stickily. TLS: 3 parties on loopback with
 * fresh identities exchange data both ways at once; a party presenting another certificate
 * is refused naming it (accepting side: the CN; dialing side: the party expected); a relay
 * that flips one bit of the stream in transit makes the receiver fail with MC2_E_AUTH,
 * never hand over wrong bytes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tools/mpc_tlsfix.h"
#include "mpc/net.h"
#include "test.h"

#define BIG (6u << 20)

static uint8_t pat(uint32_t from, uint32_t to, size_t i)
{
    uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)from << 40) ^ ((uint64_t)to << 48);
    return (uint8_t)(x >> 29);
}

typedef struct party {
    mpc_net *net;
    uint32_t self, n;
    size_t bytes;
    int ok;
    size_t wrong; /* bytes received that differ from what was sent */
    mc2_err err;
} party;

/* Sends `bytes` to every other party in chunks of 1..65537 bytes (varying), then receives
 * from each in chunks of other sizes and checks every byte. */
static void *exchange(void *arg)
{
    party *p = arg;
    uint8_t *buf = malloc(p->bytes);
    p->ok = buf != NULL;
    for (uint32_t to = 0; p->ok && to < p->n; to++) {
        if (to == p->self) continue;
        for (size_t i = 0; i < p->bytes; i++) buf[i] = pat(p->self, to, i);
        for (size_t off = 0, k = 1; off < p->bytes && p->ok; off += k, k = k * 7 % 65537 + 1) {
            if (k > p->bytes - off) k = p->bytes - off;
            p->ok = mpc_net_send(p->net, to, buf + off, k, &p->err) == 0;
        }
    }
    for (uint32_t from = 0; p->ok && from < p->n; from++) {
        if (from == p->self) continue;
        memset(buf, 0, p->bytes);
        for (size_t off = 0, k = 3; off < p->bytes && p->ok; off += k, k = k * 13 % 100003 + 1) {
            if (k > p->bytes - off) k = p->bytes - off;
            p->ok = mpc_net_recv(p->net, from, buf + off, k, &p->err) == 0;
        }
        for (size_t i = 0; p->ok && i < p->bytes; i++) p->wrong += buf[i] != pat(from, p->self, i);
    }
    if (p->ok) p->ok = mpc_net_flush(p->net, &p->err) == 0;
    free(buf);
    return NULL;
}

static int run_parties(party *ps, uint32_t n, void *(*fn)(void *))
{
    pthread_t th[MPC_MAX_PARTIES];
    int ok = 1;
    for (uint32_t i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, &ps[i]);
    for (uint32_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (!ps[i].ok) fprintf(stderr, "party %u: %s\n", i, ps[i].err.msg);
        ok &= ps[i].ok && !ps[i].wrong;
    }
    return ok;
}

typedef struct tamper_log {
    uint64_t seen[MPC_MAX_PARTIES][MPC_MAX_PARTIES];
    int flipped;
} tamper_log;

/* Counts every byte; flips bit 0 of byte 1000 of the stream party 0 sends party 1. */
static void tamper(void *ctx, uint32_t from, uint32_t to, uint8_t *p, size_t len)
{
    tamper_log *t = ctx;
    uint64_t at = t->seen[from][to];
    if (from == 0 && to == 1 && at <= 1000 && at + len > 1000) {
        p[1000 - at] ^= 1;
        t->flipped++;
    }
    t->seen[from][to] += len;
}

static void test_local(void)
{
    mc2_err err;
    mpc_net *nets[3];
    CHECK(mpc_net_local(1, nets, NULL, NULL, &err) == -1 && err.code == MC2_E_USAGE);
    CHECK(mpc_net_local(3, nets, NULL, NULL, &err) == 0);
    party ps[3];
    for (uint32_t i = 0; i < 3; i++)
        ps[i] = (party){.net = nets[i], .self = i, .n = 3, .bytes = BIG};
    CHECK_MSG(run_parties(ps, 3, exchange),
              "3 parties sending 6 MB each way before receiving: no deadlock, exact bytes");
    for (uint32_t i = 0; i < 3; i++) {
        CHECK(mpc_net_self(nets[i]) == i && mpc_net_parties(nets[i]) == 3);
        for (uint32_t j = 0; j < 3; j++) {
            uint64_t s, r;
            mpc_net_counters(nets[i], j, &s, &r);
            CHECK(s == (i == j ? 0 : BIG) && r == (i == j ? 0 : BIG));
        }
    }
    uint8_t b = 0;
    CHECK(mpc_net_send(nets[0], 0, &b, 1, &err) == -1 && err.code == MC2_E_INTERNAL);
    CHECK(mpc_net_recv(nets[0], 3, &b, 1, &err) == -1 && err.code == MC2_E_INTERNAL);
    /* a peer that never sends: a bounded wait, an error naming it, sticky */
    mpc_net_set_timeout(nets[1], 200);
    CHECK(mpc_net_recv(nets[1], 2, &b, 1, &err) == -1 && err.code == MC2_E_IO &&
          strstr(err.msg, "party 2") && strstr(err.msg, "timed out"));
    CHECK(mpc_net_send(nets[1], 2, &b, 1, &err) == -1 && strstr(err.msg, "timed out"));
    /* a peer that is gone */
    mpc_net_free(nets[0]);
    nets[0] = NULL;
    CHECK(mpc_net_recv(nets[2], 0, &b, 1, &err) == -1 && err.code == MC2_E_IO &&
          strstr(err.msg, "channel with party 0") && strstr(err.msg, "closed"));
    for (uint32_t i = 0; i < 3; i++) mpc_net_free(nets[i]);

    /* the tamper hook sees every byte of every direction before delivery */
    tamper_log tl = {0};
    CHECK(mpc_net_local(3, nets, tamper, &tl, &err) == 0);
    for (uint32_t i = 0; i < 3; i++)
        ps[i] = (party){.net = nets[i], .self = i, .n = 3, .bytes = 100000};
    CHECK(!run_parties(ps, 3, exchange)); /* party 1 sees one changed byte, from party 0 */
    CHECK(ps[0].ok && ps[1].ok && ps[2].ok && tl.flipped == 1);
    CHECK(!ps[0].wrong && ps[1].wrong == 1 && !ps[2].wrong);
    for (uint32_t i = 0; i < 3; i++)
        for (uint32_t j = 0; j < 3; j++) CHECK(tl.seen[i][j] == (i == j ? 0 : 100000));
    for (uint32_t i = 0; i < 3; i++) mpc_net_free(nets[i]);
}

/* ---- TLS ---------------------------------------------------------------------------- */

typedef struct tparty {
    party p;
    const mpc_net_tls_cfg *cfg;
    int up, pingpong;
} tparty;

static void *tls_party(void *arg)
{
    tparty *t = arg;
    t->up = mpc_net_tls(t->cfg, &t->p.net, &t->p.err) == 0;
    t->p.ok = t->up;
    if (t->up && t->pingpong) { /* party 0 speaks first, party 1 only answers */
        uint8_t b = 42;
        party *p = &t->p;
        p->ok = p->self == 0 ? mpc_net_send(p->net, 1, &b, 1, &p->err) == 0 &&
                                   mpc_net_recv(p->net, 1, &b, 1, &p->err) == 0 && b == 43
                             : mpc_net_recv(p->net, 0, &b, 1, &p->err) == 0 && b++ == 42 &&
                                   mpc_net_send(p->net, 0, &b, 1, &p->err) == 0 &&
                                   mpc_net_flush(p->net, &p->err) == 0;
    } else if (t->up && t->p.bytes) {
        exchange(&t->p);
    }
    mpc_net_free(t->p.net);
    t->p.net = NULL;
    return NULL;
}

static const char *const names[] = {"bank-a", "bank-b", "bank-c"};

/* n parties on fresh ports, each sending `bytes` to every other. */
static void tls_setup(tparty *tp, mpc_tlsfix *f, uint32_t n, size_t bytes, unsigned timeout_ms)
{
    CHECK(mpc_tlsfix_init(f, n, names, timeout_ms) == 0);
    for (uint32_t i = 0; i < n; i++) {
        memset(&tp[i], 0, sizeof tp[i]);
        tp[i].p = (party){.self = i, .n = n, .bytes = bytes};
        tp[i].cfg = &f->cfg[i];
    }
}

static int run_tls(tparty *tp, uint32_t n)
{
    pthread_t th[MPC_MAX_PARTIES];
    int ok = 1;
    for (uint32_t i = 0; i < n; i++) pthread_create(&th[i], NULL, tls_party, &tp[i]);
    for (uint32_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (!tp[i].p.ok) fprintf(stderr, "(expected?) party %u: %s\n", i, tp[i].p.err.msg);
        ok &= tp[i].p.ok && !tp[i].p.wrong;
    }
    return ok;
}

/* A TCP relay: accepts one connection on lfd, connects to port `to`, copies both ways,
 * flipping bit 3 of byte `flip_at` of the client-to-server direction. */
typedef struct relay {
    int lfd;
    unsigned to;
    uint64_t flip_at; /* UINT64_MAX: none */
    int flipped;
    pthread_t th;
    int delay_ms; /* wait this long before reading what the client sent: coalesces its
                     writes into one segment for the server */
} relay;

static void *relay_run(void *arg)
{
    relay *r = arg;
    int a = accept(r->lfd, NULL, NULL);
    int b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)r->to)};
    if (a < 0 || b < 0) return NULL;
    for (int i = 0; i < 200 && connect(b, (struct sockaddr *)&sa, sizeof sa) != 0; i++) {
        close(b);
        b = socket(AF_INET, SOCK_STREAM, 0);
        usleep(20000);
    }
    uint64_t up = 0;
    uint8_t buf[65536];
    for (;;) {
        struct pollfd pf[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        if (poll(pf, 2, 10000) <= 0) break;
        if (pf[0].revents) {
            if (r->delay_ms) usleep((useconds_t)r->delay_ms * 1000);
            ssize_t k = read(a, buf, sizeof buf);
            if (k <= 0) break;
            if (up <= r->flip_at && up + (uint64_t)k > r->flip_at) {
                buf[r->flip_at - up] ^= 8;
                r->flipped = 1;
            }
            up += (uint64_t)k;
            if (send(b, buf, (size_t)k, MSG_NOSIGNAL) != k) break;
        }
        if (pf[1].revents) {
            ssize_t k = read(b, buf, sizeof buf);
            if (k <= 0 || send(a, buf, (size_t)k, MSG_NOSIGNAL) != k) break;
        }
    }
    close(a);
    close(b);
    return NULL;
}

/* Starts relay r in front of party `to` for party `from` (changing from's configuration). */
static int relay_start(relay *r, mpc_tlsfix *f, uint32_t from, uint32_t to)
{
    r->to = (unsigned)atoi(strchr(f->addr[from][to], ':') + 1);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(r->lfd, 1) != 0 || getsockname(r->lfd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    snprintf(f->addr[from][to], sizeof f->addr[from][to], "127.0.0.1:%u", ntohs(sa.sin_port));
    return pthread_create(&r->th, NULL, relay_run, r) == 0 ? 0 : -1;
}

static void relay_stop(relay *r)
{
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static void test_tls(void)
{
    mpc_tlsfix f;
    mpc_tident mallory;
    CHECK(mpc_tident_make(&mallory, "mallory") == 0);
    tparty tp[3];
    tls_setup(tp, &f, 3, 1u << 20, 0);
    CHECK_MSG(run_tls(tp, 3), "3 parties over TLS on loopback exchange 1 MB each way at once");
    mpc_tlsfix_free(&f);

    /* party 1 presents mallory's certificate: party 0 (accepting) refuses it naming it */
    tls_setup(tp, &f, 2, 0, 5000);
    f.cfg[1].key = mallory.sec;
    f.cfg[1].cert_pem[1] = (const char *)mallory.pem.data;
    CHECK(!run_tls(tp, 2));
    CHECK_MSG(!tp[0].up && tp[0].p.err.code == MC2_E_AUTH && strstr(tp[0].p.err.msg, "CN=mallory"),
              "%s", tp[0].p.err.msg);
    CHECK_MSG(!tp[1].up && strstr(tp[1].p.err.msg, "refuse"), "%s", tp[1].p.err.msg);
    mpc_tlsfix_free(&f);
    /* party 0 presents mallory's: party 1 (dialing) refuses it naming the party expected */
    tls_setup(tp, &f, 2, 0, 5000);
    f.cfg[0].key = mallory.sec;
    f.cfg[0].cert_pem[0] = (const char *)mallory.pem.data;
    CHECK(!run_tls(tp, 2));
    CHECK(!tp[0].up);
    CHECK_MSG(!tp[1].up && tp[1].p.err.code == MC2_E_AUTH &&
                  strstr(tp[1].p.err.msg, "party 0 (bank-a)") &&
                  strstr(tp[1].p.err.msg, "not party 0 (bank-a)'s"),
              "%s", tp[1].p.err.msg);
    mpc_tlsfix_free(&f);

    /* the client's first record arrives with its last handshake message (in one TCP
     * segment, through a relay that waits before reading): still delivered */
    tls_setup(tp, &f, 2, 0, 3000);
    tp[0].pingpong = tp[1].pingpong = 1;
    relay d = {.flip_at = UINT64_MAX, .delay_ms = 100};
    CHECK_MSG(relay_start(&d, &f, 1, 0) == 0 && run_tls(tp, 2),
              "records that came with the handshake's last flight are not left unread");
    relay_stop(&d);
    mpc_tlsfix_free(&f);

    /* a bit flipped in transit from party 1 to party 0 */
    tls_setup(tp, &f, 2, 200000, 5000);
    relay r = {.flip_at = 20000};
    CHECK(relay_start(&r, &f, 1, 0) == 0);
    CHECK(!run_tls(tp, 2));
    CHECK(!tp[0].p.wrong && !tp[1].p.wrong);
    relay_stop(&r);
    CHECK(r.flipped);
    CHECK(tp[0].up && tp[1].up);
    CHECK_MSG(!tp[0].p.ok && tp[0].p.err.code == MC2_E_AUTH && strstr(tp[0].p.err.msg, "party 1"),
              "the receiver of the flipped bit fails (not wrong data): %s", tp[0].p.err.msg);
    mpc_tlsfix_free(&f);
    mc2_buf_free(&mallory.pem);
}

int main(void)
{
    test_local();
    test_tls();
    return test_done("test_mpc_net");
}
