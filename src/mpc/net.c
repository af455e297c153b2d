/* net.c - the channels of an MPC run (net.h): in-process socketpairs for tests, TLS 1.3 over
 * TCP between the parties' machines.
 *
 * ONE LOOP FOR BOTH. Every channel is a non-blocking stream socket with two buffers: `out`,
 * bytes for the socket not yet written (ciphertext for TLS), and `in`, bytes received and
 * not yet handed to mpc_net_recv (plaintext for TLS). send appends to `out` and writes what
 * the socket takes now; it never waits. recv and flush wait in pump(), which polls every
 * live channel of this party: it writes pending output where the socket has room and reads
 * whatever arrived on any channel into that channel's `in`. Because every party that waits
 * in this module drains all its incoming channels, no two parties can block each other on
 * full socket buffers, whatever the message sizes and orders. `in` is bounded
 * (NET_IN_MAX): a peer that runs further ahead fails its channel with MC2_E_LIMIT.
 *
 * TLS goes through wire/tls.h's memory-BIO endpoints (no SSL object ever touches a socket,
 * so no SIGPIPE: sockets are written with MSG_NOSIGNAL). A record that fails its MAC fails
 * the channel with MC2_E_AUTH; the bytes of a failed record never reach recv.
 *
 * TLS SETUP (mpc_net_tls):
 *   every party:   bind+listen addr[self]
 *   party i:       for j < i (ascending): dial addr[j], handshake as client, check the
 *                  server's certificate is cert_pem[j]
 *                  then accept n-1-i connections, handshake as server, identify each peer
 *                  by its certificate among the parties j > i not yet connected
 * Party i only dials parties whose dialing is already done (by induction from party 0,
 * which dials no one), so the sequential handshakes cannot wait on each other in a cycle. */
#include "mpc/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "mc2/crypto.h"
#include "wire/tls.h"

#define NET_IN_MAX  ((size_t)4 << 30) /* received bytes a peer may have in flight, unread */
#define NET_IO_STEP (1u << 20)        /* bytes per read/write system call */

typedef struct chan {
    int fd;       /* -1: no channel (this party itself, or closed) */
    mc2_tls *tls; /* NULL: plain (local) */
    mc2_buf in;   /* in.data[in_off..in.len): received, not yet recv'd */
    size_t in_off;
    mc2_buf out; /* out.data[out_off..out.len): for the socket */
    size_t out_off;
    uint64_t sent, received;
    bool eof;      /* the peer closed its side */
    mc2_err fail;  /* code != MC2_OK: the channel failed, sticky */
    uint64_t rx;   /* bytes read from the socket so far (progress marker) */
    uint64_t tx;   /* bytes written to the socket so far */
    uint8_t *tbuf; /* tamper copy (local only) */
    size_t tcap;
} chan;

struct mpc_net {
    uint32_t self, n;
    int timeout_ms;
    mpc_net_tamper_fn tamper;
    void *tamper_ctx;
    SSL_CTX *sctx, *cctx;
    char name[MPC_MAX_PARTIES][80];
    chan ch[MPC_MAX_PARTIES];
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Fails channel `peer` (keeping its first failure); returns -1. */
__attribute__((format(printf, 4, 5))) static int chan_fail(mpc_net *n, uint32_t peer,
                                                           enum mc2_code code, const char *fmt, ...)
{
    chan *c = &n->ch[peer];
    if (c->fail.code != MC2_OK) return -1;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    mc2_err_set(&c->fail, code, "mpc net: party %u, channel with %s: %s", n->self, n->name[peer],
                why);
    return -1;
}

/* Copies channel peer's failure to err; returns -1. */
static int chan_err(const mpc_net *n, uint32_t peer, mc2_err *err)
{
    if (err) *err = n->ch[peer].fail;
    return -1;
}

static bool chan_live(const chan *c)
{
    return c->fd >= 0 && c->fail.code == MC2_OK;
}

/* Moves ciphertext the TLS endpoint produced into out. */
static void tls_pull(mpc_net *n, uint32_t peer)
{
    chan *c = &n->ch[peer];
    mc2_err e;
    if (c->tls && mc2_tls_drain(c->tls, &c->out, &e))
        chan_fail(n, peer, e.code, "cannot buffer output: %s", e.msg);
}

/* Writes as much pending output as the socket takes now. */
static void chan_write(mpc_net *n, uint32_t peer)
{
    chan *c = &n->ch[peer];
    while (chan_live(c) && c->out_off < c->out.len) {
        size_t k = c->out.len - c->out_off;
        ssize_t w = send(c->fd, c->out.data + c->out_off, k > NET_IO_STEP ? NET_IO_STEP : k,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (w <= 0) {
            chan_fail(n, peer, MC2_E_IO, "send failed: %s (the peer is gone)",
                      strerror(w < 0 ? errno : EPIPE));
            return;
        }
        c->out_off += (size_t)w;
        c->tx += (uint64_t)w;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
    } else if (c->out_off > NET_IO_STEP && c->out_off > c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
}

/* Appends bytes read from the socket to in (through TLS if the channel has it). */
static int chan_take(mpc_net *n, uint32_t peer, const uint8_t *p, size_t k)
{
    chan *c = &n->ch[peer];
    mc2_err e;
    if (!c->tls)
        return mc2_buf_append(&c->in, p, k, &e) ? chan_fail(n, peer, e.code, "%s", e.msg) : 0;
    int closed = 0;
    if (mc2_tls_feed(c->tls, p, k, &e) || mc2_tls_read(c->tls, &c->in, &closed, &e) < 0)
        return chan_fail(n, peer, e.code,
                         "%s (a record failed its integrity check or the TLS stream is "
                         "corrupt: the bytes were changed in transit)",
                         e.msg);
    if (closed) c->eof = true;
    tls_pull(n, peer); /* TLS may answer (alerts, key updates) */
    return 0;
}

/* Reads whatever the socket holds now. */
static void chan_read(mpc_net *n, uint32_t peer)
{
    chan *c = &n->ch[peer];
    uint8_t buf[65536];
    while (chan_live(c) && !c->eof) {
        if (c->in_off == c->in.len) {
            c->in.len = c->in_off = 0;
        } else if (c->in_off > NET_IO_STEP && c->in_off > c->in.len / 2) {
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        if (c->in.len - c->in_off > NET_IN_MAX) {
            chan_fail(n, peer, MC2_E_LIMIT,
                      "the peer sent more than %zu bytes ahead of what this party has read "
                      "(the parties do not run the same protocol)",
                      NET_IN_MAX);
            break;
        }
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r < 0) {
            chan_fail(n, peer, MC2_E_IO, "receive failed: %s", strerror(errno));
            break;
        }
        if (r == 0) {
            c->eof = true;
            break;
        }
        c->rx += (uint64_t)r;
        if (chan_take(n, peer, buf, (size_t)r)) break;
    }
    mc2_wipe(buf, sizeof buf);
}

/* Waits up to wait_ms for any channel to be ready, then moves bytes on all that are. */
static void pump(mpc_net *n, int wait_ms)
{
    struct pollfd pf[MPC_MAX_PARTIES];
    uint32_t who[MPC_MAX_PARTIES], k = 0;
    for (uint32_t p = 0; p < n->n; p++) {
        chan *c = &n->ch[p];
        if (!chan_live(c)) continue;
        short ev = (short)((c->eof ? 0 : POLLIN) | (c->out_off < c->out.len ? POLLOUT : 0));
        if (!ev) continue;
        pf[k] = (struct pollfd){.fd = c->fd, .events = ev};
        who[k++] = p;
    }
    if (k == 0) {
        if (wait_ms > 0) poll(NULL, 0, wait_ms > 10 ? 10 : wait_ms);
        return;
    }
    if (poll(pf, k, wait_ms) <= 0) return;
    for (uint32_t i = 0; i < k; i++) {
        if (pf[i].revents & (POLLOUT | POLLERR | POLLHUP)) chan_write(n, who[i]);
        if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) chan_read(n, who[i]);
    }
}

static int check_peer(const mpc_net *n, uint32_t peer, const char *what, mc2_err *err)
{
    if (peer >= n->n || peer == n->self)
        return mc2_err_set(err, MC2_E_INTERNAL, "mpc net: party %u: %s with party %u of %u",
                           n->self, what, peer, n->n);
    if (n->ch[peer].fail.code != MC2_OK) return chan_err(n, peer, err);
    return 0;
}

uint32_t mpc_net_self(const mpc_net *n)
{
    return n->self;
}

uint32_t mpc_net_parties(const mpc_net *n)
{
    return n->n;
}

void mpc_net_set_timeout(mpc_net *n, unsigned ms)
{
    n->timeout_ms = ms ? (ms > INT32_MAX ? INT32_MAX : (int)ms) : MPC_NET_TIMEOUT_S * 1000;
}

int mpc_net_send(mpc_net *n, uint32_t to, const void *p, size_t len, mc2_err *err)
{
    if (check_peer(n, to, "send", err)) return -1;
    chan *c = &n->ch[to];
    mc2_err e;
    if (len == 0) return 0;
    if (n->tamper) {
        if (len > c->tcap) {
            uint8_t *t = mc2_realloc(c->tbuf, len);
            if (!t) return mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
            c->tbuf = t;
            c->tcap = len;
        }
        memcpy(c->tbuf, p, len);
        n->tamper(n->tamper_ctx, n->self, to, c->tbuf, len);
        p = c->tbuf;
    }
    if (c->tls ? mc2_tls_write(c->tls, p, len, &e) : mc2_buf_append(&c->out, p, len, &e)) {
        chan_fail(n, to, e.code, "cannot queue %zu bytes: %s", len, e.msg);
        return chan_err(n, to, err);
    }
    tls_pull(n, to);
    c->sent += len;
    chan_write(n, to);
    if (c->fail.code != MC2_OK) return chan_err(n, to, err);
    return 0;
}

int mpc_net_recv(mpc_net *n, uint32_t from, void *p, size_t len, mc2_err *err)
{
    if (check_peer(n, from, "receive", err)) return -1;
    chan *c = &n->ch[from];
    uint8_t *q = p;
    size_t got = 0;
    int64_t last = now_ms();
    uint64_t rx = c->rx;
    for (;;) {
        size_t k = c->in.len - c->in_off;
        if (k > len - got) k = len - got;
        if (k) memcpy(q + got, c->in.data + c->in_off, k);
        c->in_off += k;
        got += k;
        if (got == len) break;
        if (c->fail.code != MC2_OK) return chan_err(n, from, err);
        if (c->eof || c->fd < 0) {
            chan_fail(n, from, MC2_E_IO,
                      "the peer closed the channel after %llu bytes, %zu more were expected",
                      (unsigned long long)(c->received + got), len - got);
            return chan_err(n, from, err);
        }
        int64_t t = now_ms();
        if (c->rx != rx) {
            rx = c->rx;
            last = t;
        }
        if (t - last >= n->timeout_ms) {
            chan_fail(n, from, MC2_E_IO, "timed out after %d ms waiting for %zu bytes",
                      n->timeout_ms, len - got);
            return chan_err(n, from, err);
        }
        int64_t left = n->timeout_ms - (t - last);
        pump(n, left > 1000 ? 1000 : (int)left);
    }
    c->received += len;
    return 0;
}

/* Waits until no live channel has output pending. strict: fails with the first failed
 * channel's error (mpc_net_flush); else ignores failed channels (mpc_net_free). */
static int flush_wait(mpc_net *n, bool strict, mc2_err *err)
{
    int64_t last = now_ms();
    uint64_t tx = 0;
    for (;;) {
        bool pending = false;
        uint64_t t_now = 0;
        for (uint32_t p = 0; p < n->n; p++) {
            chan *c = &n->ch[p];
            if (strict && c->fail.code != MC2_OK) return chan_err(n, p, err);
            pending |= chan_live(c) && c->out_off < c->out.len;
            t_now += c->tx;
        }
        if (!pending) return 0;
        int64_t t = now_ms();
        if (t_now != tx) {
            tx = t_now;
            last = t;
        }
        if (t - last >= n->timeout_ms) {
            for (uint32_t p = 0; p < n->n; p++)
                if (chan_live(&n->ch[p]) && n->ch[p].out_off < n->ch[p].out.len)
                    chan_fail(n, p, MC2_E_IO, "timed out after %d ms flushing output",
                              n->timeout_ms);
            continue; /* strict: the loop above returns the first failure */
        }
        int64_t left = n->timeout_ms - (t - last);
        pump(n, left > 1000 ? 1000 : (int)left);
    }
}

int mpc_net_flush(mpc_net *n, mc2_err *err)
{
    return flush_wait(n, true, err);
}

void mpc_net_counters(const mpc_net *n, uint32_t peer, uint64_t *sent, uint64_t *received)
{
    *sent = peer < n->n ? n->ch[peer].sent : 0;
    *received = peer < n->n ? n->ch[peer].received : 0;
}

void mpc_net_free(mpc_net *n)
{
    if (!n) return;
    mc2_err e;
    for (uint32_t p = 0; p < n->n; p++)
        if (n->ch[p].tls && chan_live(&n->ch[p])) {
            mc2_tls_close(n->ch[p].tls);
            tls_pull(n, p);
        }
    (void)flush_wait(n, false, &e); /* best effort: the peers may still need the last bytes */
    for (uint32_t p = 0; p < n->n; p++) {
        chan *c = &n->ch[p];
        if (c->fd >= 0) close(c->fd);
        mc2_tls_free(c->tls);
        mc2_buf_free(&c->in);
        mc2_buf_free(&c->out);
        if (c->tbuf) mc2_free_wipe(c->tbuf, c->tcap);
    }
    SSL_CTX_free(n->sctx);
    SSL_CTX_free(n->cctx);
    mc2_free_wipe(n, sizeof *n);
}

static mpc_net *net_new(uint32_t self, uint32_t parties)
{
    mpc_net *n = mc2_calloc(1, sizeof *n);
    if (!n) return NULL;
    n->self = self;
    n->n = parties;
    mpc_net_set_timeout(n, 0);
    for (uint32_t p = 0; p < MPC_MAX_PARTIES; p++) {
        n->ch[p].fd = -1;
        n->ch[p].in.secret = n->ch[p].out.secret = 1; /* shares and, for local, plaintext */
        snprintf(n->name[p], sizeof n->name[p], "party %u", p);
    }
    return n;
}

int mpc_net_local(uint32_t n, mpc_net **nets, mpc_net_tamper_fn tamper, void *tamper_ctx,
                  mc2_err *err)
{
    if (n < 2 || n > MPC_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: %u parties (2..%d supported)", n,
                           MPC_MAX_PARTIES);
    for (uint32_t i = 0; i < n; i++) nets[i] = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (!(nets[i] = net_new(i, n))) goto nomem;
        nets[i]->tamper = tamper;
        nets[i]->tamper_ctx = tamper_ctx;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
                mc2_err_set(err, MC2_E_IO, "mpc net: socketpair: %s", strerror(errno));
                goto fail;
            }
            nets[i]->ch[j].fd = sv[0];
            nets[j]->ch[i].fd = sv[1];
        }
    return 0;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
fail:
    for (uint32_t i = 0; i < n; i++) {
        mpc_net_free(nets[i]);
        nets[i] = NULL;
    }
    return -1;
}

/* ---- TLS ------------------------------------------------------------------------------ */

/* host and port of "host:port" into host[256]; -1 with MC2_E_USAGE if malformed. */
static int split_addr(const char *hp, char host[256], const char **port, mc2_err *err)
{
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    if (!colon || colon == hp || (size_t)(colon - hp) >= 256 || !colon[1])
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: address '%s' is not HOST:PORT",
                           hp ? hp : "(none)");
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    if (host[0] == '[' && colon[-1] == ']') { /* [v6]:port */
        memmove(host, host + 1, (size_t)(colon - hp) - 2);
        host[colon - hp - 2] = '\0';
    }
    *port = colon + 1;
    return 0;
}

static int tcp_listen(const char *hp, mc2_err *err)
{
    char host[256];
    const char *port;
    if (split_addr(hp, host, &port, err)) return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: cannot resolve '%s': %s", hp,
                           gai_strerror(g));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, MPC_MAX_PARTIES) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return mc2_err_set(err, MC2_E_IO, "mpc net: cannot listen on %s: %s", hp, strerror(e));
    }
    freeaddrinfo(res);
    return fd;
}

/* Connects to hp, retrying every 50 ms until deadline while the peer is not listening. */
static int tcp_dial(const char *hp, const char *who, int64_t deadline, mc2_err *err)
{
    char host[256];
    const char *port;
    if (split_addr(hp, host, &port, err)) return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: cannot resolve %s's address '%s': %s", who,
                           hp, gai_strerror(g));
    int e = 0;
    for (;;) {
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
            if (fd < 0) continue;
            if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
                freeaddrinfo(res);
                return fd;
            }
            e = errno;
            close(fd);
        }
        if (now_ms() >= deadline) break;
        poll(NULL, 0, 50);
    }
    freeaddrinfo(res);
    return mc2_err_set(err, MC2_E_IO, "mpc net: cannot reach %s at %s: %s (is it running?)", who,
                       hp, strerror(e ? e : ECONNREFUSED));
}

/* Runs the handshake of c (socket in non-blocking mode) until done or the deadline. */
static int tls_handshake(chan *c, const char *who, int64_t deadline, mc2_err *err)
{
    for (;;) {
        mc2_err e;
        int r = mc2_tls_handshake(c->tls, &e);
        if (mc2_tls_drain(c->tls, &c->out, err)) return -1;
        while (c->out_off < c->out.len) { /* flights are small: write them out now */
            ssize_t w =
                send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                if (r < 0) break; /* the alert could not be sent: report the handshake error */
                return mc2_err_set(err, MC2_E_IO, "mpc net: TLS handshake with %s: send: %s", who,
                                   strerror(errno));
            }
            c->out_off += (size_t)w;
        }
        c->out.len = c->out_off = 0;
        if (r < 0)
            return mc2_err_set(err, MC2_E_AUTH, "mpc net: TLS handshake with %s failed: %s", who,
                               e.msg);
        if (r == 1) return 0;
        int64_t left = deadline - now_ms();
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return mc2_err_set(err, MC2_E_IO, "mpc net: TLS handshake with %s timed out", who);
        uint8_t buf[16384];
        ssize_t k = recv(c->fd, buf, sizeof buf, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return mc2_err_set(err, MC2_E_AUTH,
                               "mpc net: TLS handshake with %s: the peer closed the connection "
                               "(it refused this party's certificate?)",
                               who);
        if (mc2_tls_feed(c->tls, buf, (size_t)k, err)) return -1;
    }
}

/* DER of a PEM certificate, malloc'd; NULL if unparsable. */
static uint8_t *pem_der(const char *pem, int *len)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    uint8_t *der = NULL;
    *len = x ? i2d_X509(x, &der) : -1;
    X509_free(x);
    BIO_free(b);
    return *len > 0 ? der : NULL;
}

static bool cert_is(X509 *x, const uint8_t *der, int len)
{
    uint8_t *d = NULL;
    int k = x ? i2d_X509(x, &d) : -1;
    bool same = k == len && k > 0 && memcmp(d, der, (size_t)k) == 0;
    OPENSSL_free(d);
    return same;
}

typedef struct tls_setup {
    mpc_net *n;
    const mpc_net_tls_cfg *cfg;
    uint8_t *der[MPC_MAX_PARTIES];
    int der_len[MPC_MAX_PARTIES];
    int64_t deadline;
} tls_setup;

static int tls_dial(tls_setup *s, uint32_t j, mc2_err *err)
{
    mpc_net *n = s->n;
    chan *c = &n->ch[j];
    if ((c->fd = tcp_dial(s->cfg->addr[j], n->name[j], s->deadline, err)) < 0) return -1;
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!(c->tls = mc2_tls_new(n->cctx, 0, err)) || tls_handshake(c, n->name[j], s->deadline, err))
        return -1;
    if (!cert_is(mc2_tls_peer(c->tls), s->der[j], s->der_len[j]))
        return mc2_err_set(err, MC2_E_AUTH,
                           "mpc net: %s at %s presented a certificate that is not %s's in the "
                           "consortium policy: refused",
                           n->name[j], s->cfg->addr[j], n->name[j]);
    return 0;
}

static int tls_accept(tls_setup *s, int lfd, mc2_err *err)
{
    mpc_net *n = s->n;
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    int64_t left = s->deadline - now_ms();
    if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
        return mc2_err_set(err, MC2_E_IO,
                           "mpc net: party %u timed out waiting for the parties after it to "
                           "connect to %s",
                           n->self, s->cfg->addr[n->self]);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return mc2_err_set(err, MC2_E_IO, "mpc net: accept: %s", strerror(errno));
    chan tmp = {.fd = fd};
    int one = 1, rc = -1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!(tmp.tls = mc2_tls_new(n->sctx, 1, err)) ||
        tls_handshake(&tmp, "a connecting party", s->deadline, err))
        goto out;
    X509 *peer = mc2_tls_peer(tmp.tls);
    for (uint32_t j = n->self + 1; j < n->n; j++)
        if (n->ch[j].fd < 0 && cert_is(peer, s->der[j], s->der_len[j])) {
            n->ch[j].fd = tmp.fd;
            n->ch[j].tls = tmp.tls;
            tmp.fd = -1;
            tmp.tls = NULL;
            rc = 0;
            goto out;
        }
    char cn[128] = "?";
    X509_NAME *sn = peer ? X509_get_subject_name(peer) : NULL;
    if (sn && X509_NAME_get_text_by_NID(sn, NID_commonName, cn, sizeof cn) < 0)
        snprintf(cn, sizeof cn, "?");
    for (char *q = cn; *q; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e) *q = '?';
    mc2_err_set(err, MC2_E_AUTH,
                "mpc net: party %u: a peer presented a certificate (CN=%s) that is not the "
                "consortium policy's certificate of any party %u..%u still expected: refused",
                n->self, cn, n->self + 1, n->n - 1);
out:
    if (tmp.fd >= 0) close(tmp.fd);
    mc2_tls_free(tmp.tls);
    mc2_buf_free(&tmp.out);
    return rc;
}

static int tls_contexts(tls_setup *s, mc2_err *err)
{
    const mpc_net_tls_cfg *cfg = s->cfg;
    EVP_PKEY *key =
        cfg->key ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, cfg->key, 32) : NULL;
    const uint8_t *d = s->der[cfg->self];
    X509 *cert = d2i_X509(NULL, &d, s->der_len[cfg->self]);
    int rc = -1;
    if (!key || !cert) {
        mc2_err_set(err, MC2_E_USAGE, "mpc net: party %u: no usable Ed25519 key or certificate",
                    cfg->self);
        goto out;
    }
    if (!(s->n->sctx = mc2_tls_ctx(1, key, cert, err)) ||
        !(s->n->cctx = mc2_tls_ctx(0, key, cert, err))) {
        mc2_err_prefix(err, "mpc net: party %u (does the key match its certificate?): ", cfg->self);
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/* In TLS 1.3 the client's handshake ends before the server has checked the client's
 * certificate: a refused client would only learn it at its first read. So every party
 * sends one byte 0x01 on every channel and waits for the peer's: setup fails on both sides
 * of a refused channel. */
static int tls_confirm(mpc_net *n, mc2_err *err)
{
    static const uint8_t ok = 1;
    for (uint32_t j = 0; j < n->n; j++)
        if (j != n->self && mpc_net_send(n, j, &ok, 1, err)) return -1;
    for (uint32_t j = 0; j < n->n; j++) {
        uint8_t b = 0;
        if (j == n->self) continue;
        if (mpc_net_recv(n, j, &b, 1, err))
            return mc2_err_prefix(err, "setup: (did %s refuse this party's certificate?) ",
                                  n->name[j]);
        if (b != ok)
            return mc2_err_set(err, MC2_E_AUTH, "mpc net: setup: %s sent a wrong confirmation",
                               n->name[j]);
        n->ch[j].sent = n->ch[j].received = 0; /* the counters count the protocol's bytes */
    }
    return 0;
}

int mpc_net_tls(const mpc_net_tls_cfg *cfg, mpc_net **out, mc2_err *err)
{
    *out = NULL;
    if (cfg->n < 2 || cfg->n > MPC_MAX_PARTIES || cfg->self >= cfg->n)
        return mc2_err_set(err, MC2_E_USAGE, "mpc net: party %u of %u (2..%d parties supported)",
                           cfg->self, cfg->n, MPC_MAX_PARTIES);
    tls_setup s = {.cfg = cfg};
    int lfd = -1, rc = -1;
    if (!(s.n = net_new(cfg->self, cfg->n))) {
        mc2_err_set(err, MC2_E_NOMEM, "mpc net: out of memory");
        goto out;
    }
    mpc_net_set_timeout(s.n, cfg->timeout_ms);
    s.deadline = now_ms() + s.n->timeout_ms;
    for (uint32_t j = 0; j < cfg->n; j++) {
        if (cfg->name[j])
            snprintf(s.n->name[j], sizeof s.n->name[j], "party %u (%s)", j, cfg->name[j]);
        if (!(s.der[j] = pem_der(cfg->cert_pem[j], &s.der_len[j]))) {
            mc2_err_set(err, MC2_E_USAGE, "mpc net: %s: no readable certificate in the policy",
                        s.n->name[j]);
            goto out;
        }
    }
    if (tls_contexts(&s, err) || (lfd = tcp_listen(cfg->addr[cfg->self], err)) < 0) goto out;
    for (uint32_t j = 0; j < cfg->self; j++)
        if (tls_dial(&s, j, err)) goto out;
    for (uint32_t k = cfg->self + 1; k < cfg->n; k++)
        if (tls_accept(&s, lfd, err)) goto out;
    for (uint32_t j = 0; j < cfg->n; j++) {
        if (j == cfg->self) continue;
        if (fcntl(s.n->ch[j].fd, F_SETFL, O_NONBLOCK) != 0) {
            mc2_err_set(err, MC2_E_IO, "mpc net: fcntl: %s", strerror(errno));
            goto out;
        }
        /* Records that came in the same read as the handshake's last message wait in the
         * TLS endpoint's input, where poll cannot see them: decrypt them now. */
        if (chan_take(s.n, j, NULL, 0)) {
            (void)chan_err(s.n, j, err);
            goto out;
        }
    }
    if (tls_confirm(s.n, err)) goto out;
    *out = s.n;
    s.n = NULL;
    rc = 0;
out:
    if (lfd >= 0) close(lfd);
    for (uint32_t j = 0; j < MPC_MAX_PARTIES; j++) OPENSSL_free(s.der[j]);
    mpc_net_free(s.n);
    return rc;
}
