/* loop.c - UNTRUSTED: mc2d's event loop. One thread, poll(2): the listening socket, the
 * enclave channel and up to SRV_MAX_CONNS client connections, all non-blocking. A client
 * connection speaks the host API until it sends HAPI_ENCLAVE; from then on its bytes are
 * relayed, unread, to an enclave session and back.
 *
 * Each turn of the loop:
 *   1. close connections past their handshake or idle timeout;
 *   2. poll: a connection is polled for input only while it could take it (its output
 *      queue below SRV_OUT_HIGH, no download streaming, its input buffer not full; a relay
 *      also needs the enclave's queue below SRV_ENC_OUT_HIGH) -- this is the backpressure
 *      that keeps a peer that does not read from costing memory -- and for output while it
 *      has something to send (or a download or waiting requests to continue); the timeout
 *      is the nearest deadline;
 *   3. the enclave channel: flush its queue, read and handle its messages (enclave.c);
 *   4. each ready connection (conn_service): read one chunk (a relay forwards it as
 *      EIF_DATA, an API connection buffers it), flush, continue its download, handle up to
 *      SRV_REQS_PER_TURN of its buffered requests (api.c), flush. A connection with more
 *      requests waiting (a backlog) is served again next turn (poll does not sleep), so
 *      pipelined requests are handled fairly among connections;
 *   5. accept new connections within the total and per-address limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "server/server.h"
#include "wire/proto.h"

#define NOTE_BURST_MS 20000 /* srv_note: 20 lines at once, then one a second */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void srv_note(server *s, const char *fmt, ...)
{
    int64_t now = now_ms();
    s->note_credit_ms += now - s->note_ms;
    if (s->note_credit_ms > NOTE_BURST_MS) s->note_credit_ms = NOTE_BURST_MS;
    s->note_ms = now;
    if (s->note_credit_ms < 1000) {
        s->note_suppressed++;
        return;
    }
    s->note_credit_ms -= 1000;
    if (s->note_suppressed)
        fprintf(stderr, "mc2d: (%llu similar lines suppressed)\n",
                (unsigned long long)s->note_suppressed);
    s->note_suppressed = 0;
    va_list ap;
    va_start(ap, fmt);
    fputs("mc2d: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- addresses ---------------------------------------------------------------------------- */

/* The key the per-address limit counts: an IPv4 address as ::ffff:a.b.c.d, an IPv6 address
 * by its /64 (one host usually has a whole /64). */
static void addr_key(const struct sockaddr_storage *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(key, a, memcmp(a, v4mapped, 12) == 0 ? 16 : 8);
    }
}

static const char *addr_str(const uint8_t key[16], char *out, size_t n)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(key, v4mapped, 12) == 0) return inet_ntop(AF_INET, key + 12, out, (socklen_t)n);
    if (!inet_ntop(AF_INET6, key, out, (socklen_t)n)) return "?";
    if (strlen(out) + 4 < n) strcat(out, "/64");
    return out;
}

/* ---- connections -------------------------------------------------------------------------- */

void srv_conn_drop(server *s, srv_conn *c, const char *why)
{
    if (why) {
        char a[INET6_ADDRSTRLEN + 4];
        srv_note(s, "connection from %s %s", addr_str(c->addr, a, sizeof a), why);
    }
    if (c->relay && !c->ended && srv_to_enclave(s, EIF_CLOSE, c->sid, NULL, 0)) {
        /* s->fatal is set: the loop stops */
    }
    if (c->uploading) {
        mc2_afile_abort(&c->up);
        mc2_sha256_free(c->up_hash);
    }
    if (c->getting) close(c->get_fd);
    close(c->fd);
    srv_in_free(s, c);
    srv_outq_free(&c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->get_fd = -1;
}

srv_conn *srv_by_sid(server *s, uint32_t sid)
{
    for (size_t i = 0; i < SRV_MAX_CONNS; i++)
        if (s->conns[i].fd >= 0 && s->conns[i].relay && s->conns[i].sid == sid) return &s->conns[i];
    return NULL;
}

/* Reads one chunk from c: a relay forwards it to the enclave, an API connection buffers
 * it. Returns 0, or -1 with *why (NULL: the peer closed) to close c. */
static int conn_read(server *s, srv_conn *c, int64_t now, const char **why)
{
    size_t want = SRV_CHUNK;
    if (!c->relay && SRV_IN_MAX - c->in.len < want) want = SRV_IN_MAX - c->in.len;
    if (want == 0) return 0; /* full: its frame is handled first (not polled for input then) */
    ssize_t r = read(c->fd, s->io, want);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (r <= 0) return -1;
    c->active_ms = now;
    if (c->relay) return srv_to_enclave(s, EIF_DATA, c->sid, s->io, (size_t)r);
    if (srv_in_append(s, c, s->io, (size_t)r)) {
        *why = "closed: its partial frame does not fit in mc2d's input limits";
        return -1;
    }
    return 0;
}

/* Handles up to SRV_REQS_PER_TURN buffered requests of API connection c while its output
 * queue has room and no download streams; marks a backlog when requests are left waiting. A
 * connection that just became a relay forwards what followed its HAPI_ENCLAVE. -1: close. */
static int conn_handle(server *s, srv_conn *c, const char **why)
{
    mc2_err err;
    mc2_frame f = {0};
    size_t off = 0;
    int rc = 0;
    for (int n = 0; n < SRV_REQS_PER_TURN && !c->relay && !c->getting && !c->ended &&
                    srv_outq_pending(&c->out) < SRV_OUT_HIGH;
         n++) {
        long used = mc2_frame_parse(c->in.data + off, c->in.len - off, MC2_FRAME_MAX, &f, &err);
        if (used < 0) {
            *why = "closed: malformed frame";
            rc = -1;
        }
        if (used <= 0) break;
        off += (size_t)used;
        c->greeted = true;
        if (srv_api(s, c, &f)) {
            rc = -1;
            break;
        }
    }
    mc2_frame_free(&f);
    if (off) srv_in_consume(s, c, off);
    c->backlog = rc == 0 && !c->relay && c->in.len >= MC2_FRAME_HDR &&
                 c->in.len - MC2_FRAME_HDR >= mc2_le32_get(c->in.data); /* a whole frame waits */
    if (rc == 0 && c->relay && c->in.len) {
        rc = srv_to_enclave(s, EIF_DATA, c->sid, c->in.data, c->in.len);
        srv_in_free(s, c);
    }
    return rc;
}

/* Sends what c's socket takes, continues its download, handles its waiting requests, and
 * sends again. Returns 0, 1 when c is done (the enclave ended it and all is sent), -1 to
 * close it. */
static int conn_pump(server *s, srv_conn *c, int64_t now, const char **why)
{
    mc2_err err;
    for (int pass = 0; pass < 2; pass++) {
        long w = srv_outq_flush(&c->out, c->fd, &err);
        if (w < 0) return -1;
        if (w > 0) c->active_ms = now;
        if (pass == 1) break;
        if (c->getting && srv_outq_pending(&c->out) < SRV_OUT_LOW && srv_get_refill(s, c))
            return -1;
        if (conn_handle(s, c, why)) return -1;
    }
    if (srv_outq_pending(&c->out) > SRV_OUT_LIMIT) {
        *why = "closed: it does not read what it asked for (unsent output over the limit)";
        return -1;
    }
    return c->ended && srv_outq_pending(&c->out) == 0 ? 1 : 0;
}

static void conn_service(server *s, srv_conn *c, short rev, int64_t now)
{
    const char *why = NULL;
    int r = 0;
    if (rev & POLLNVAL)
        r = -1;
    else if (rev & POLLIN)
        r = conn_read(s, c, now, &why);
    else if (rev & (POLLERR | POLLHUP))
        r = -1;
    if (r == 0) r = conn_pump(s, c, now, &why);
    if (r != 0) srv_conn_drop(s, c, why);
}

/* c has requests waiting that it may handle now: it is served next turn without waiting
 * for an event. */
static bool conn_ready(const srv_conn *c)
{
    return c->backlog && !c->getting && !c->ended && srv_outq_pending(&c->out) < SRV_OUT_HIGH;
}

/* What to poll c for (see the top of the file). */
static short conn_events(const server *s, const srv_conn *c)
{
    size_t pending = srv_outq_pending(&c->out);
    short ev = pending || c->getting ? POLLOUT : 0;
    if (pending >= SRV_OUT_HIGH || c->ended) return ev;
    if (c->relay) {
        if (srv_outq_pending(&s->enclave_out) < SRV_ENC_OUT_HIGH) ev |= POLLIN;
    } else if (!c->getting && !c->backlog && c->in.len < SRV_IN_MAX) {
        ev |= POLLIN;
    }
    return ev;
}

/* ---- timeouts ----------------------------------------------------------------------------- */

static int64_t conn_deadline(const server *s, const srv_conn *c)
{
    int64_t d = s->idle_ms > 0 ? c->active_ms + s->idle_ms : INT64_MAX;
    if (!c->greeted && c->opened_ms + s->handshake_ms < d) d = c->opened_ms + s->handshake_ms;
    return d;
}

/* Closes connections past their deadline; returns the nearest deadline left (INT64_MAX:
 * none). */
static int64_t expire(server *s, int64_t now)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < SRV_MAX_CONNS; i++) {
        srv_conn *c = &s->conns[i];
        if (c->fd < 0) continue;
        int64_t d = conn_deadline(s, c);
        if (d > now) {
            if (d < next) next = d;
        } else if (!c->greeted && now >= c->opened_ms + s->handshake_ms) {
            srv_conn_drop(s, c, "closed: no complete request within the handshake timeout");
        } else {
            srv_conn_drop(s, c, "closed: idle for longer than the idle timeout");
        }
    }
    return next;
}

/* ---- accepting ---------------------------------------------------------------------------- */

static void accept_new(server *s, int64_t now)
{
    for (int k = 0; k < 64; k++) { /* a bounded batch per turn */
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        memset(&sa, 0, sizeof sa);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                srv_note(s, "cannot accept connections: %s (pausing 100 ms)", strerror(errno));
                s->accept_paused_until_ms = now + 100;
            }
            return;
        }
        int one = 1; /* small replies and relayed TLS flights go out at once (no Nagle) */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        uint8_t key[16];
        addr_key(&sa, key);
        srv_conn *c = NULL;
        unsigned same = 0;
        for (size_t i = 0; i < SRV_MAX_CONNS; i++) {
            if (s->conns[i].fd < 0) {
                if (!c) c = &s->conns[i];
            } else {
                same += memcmp(s->conns[i].addr, key, 16) == 0;
            }
        }
        if (!c || same >= s->max_per_addr) {
            char a[INET6_ADDRSTRLEN + 4];
            srv_note(s, "connection from %s refused: %s", addr_str(key, a, sizeof a),
                     c ? "it has the most connections one address may have "
                         "(--max-conns-per-addr)"
                       : "all connection slots are taken");
            close(fd);
            continue;
        }
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->get_fd = -1;
        memcpy(c->addr, key, 16);
        c->opened_ms = c->active_ms = now;
    }
}

/* ---- the loop ----------------------------------------------------------------------------- */

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Flushes the enclave queue; -1 with err when the channel is gone. */
static int enclave_flush(server *s, mc2_err *err)
{
    if (srv_outq_pending(&s->enclave_out) == 0) return 0;
    if (srv_outq_flush(&s->enclave_out, s->enclave.fd, err) < 0)
        return mc2_err_prefix(err, "lost the enclave channel: ");
    return 0;
}

int srv_run(server *s, mc2_err *err)
{
    struct pollfd pf[SRV_MAX_CONNS + 4];
    int map[SRV_MAX_CONNS];
    for (size_t i = 0; i < SRV_MAX_CONNS; i++) s->conns[i].fd = s->conns[i].get_fd = -1;
    if (set_nonblocking(s->listen_fd) || set_nonblocking(s->enclave.fd))
        return mc2_err_set(err, MC2_E_IO, "fcntl: %s", strerror(errno));
    s->note_ms = now_ms();
    s->note_credit_ms = NOTE_BURST_MS;
    /* SIGTERM and SIGINT are delivered only inside ppoll, so one that arrives between the
     * check below and the wait still ends the wait (the enclave, started before, keeps the
     * mask it inherited). */
    sigset_t stop, during;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop, &during) != 0)
        return mc2_err_set(err, MC2_E_IO, "sigprocmask: %s", strerror(errno));
    sigdelset(&during, SIGTERM);
    sigdelset(&during, SIGINT);
    for (;;) {
        if (srv_stop_signal) {
            mc2_err_set(err, MC2_E_IO, "stopped by signal %d", (int)srv_stop_signal);
            return 0;
        }
        int64_t now = now_ms(), next = expire(s, now);
        if (s->fatal) return mc2_err_set(err, MC2_E_IO, "%s", s->fatal);
        nfds_t n = 0;
        bool accepting = now >= s->accept_paused_until_ms;
        pf[n++] = (struct pollfd){s->listen_fd, accepting ? POLLIN : 0, 0};
        if (!accepting && s->accept_paused_until_ms < next) next = s->accept_paused_until_ms;
        short eev =
            (srv_mesh_full(s) ? 0 : POLLIN) | (srv_outq_pending(&s->enclave_out) ? POLLOUT : 0);
        pf[n++] = (struct pollfd){s->enclave.fd, eev, 0};
        bool ready = false;
        for (size_t i = 0; i < SRV_MAX_CONNS; i++)
            if (s->conns[i].fd >= 0) {
                map[n - 2] = (int)i;
                pf[n++] = (struct pollfd){s->conns[i].fd, conn_events(s, &s->conns[i]), 0};
                ready |= conn_ready(&s->conns[i]);
            }
        int64_t wait = ready ? 0 : next == INT64_MAX ? -1 : next - now;
        nfds_t nm = n;
        srv_mesh_poll(s, pf, &n, &wait);
        if (wait > INT_MAX) wait = INT_MAX;
        struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
        if (ppoll(pf, n, wait < 0 ? NULL : &ts, &during) < 0) {
            if (errno == EINTR) continue;
            return mc2_err_set(err, MC2_E_IO, "poll: %s", strerror(errno));
        }
        now = now_ms();
        if (pf[1].revents & (POLLOUT | POLLERR) && enclave_flush(s, err)) return -1;
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR) && srv_enclave_readable(s, err)) return -1;
        for (nfds_t k = 2; k < nm; k++) {
            srv_conn *c = &s->conns[map[k - 2]];
            if ((pf[k].revents || conn_ready(c)) && c->fd == pf[k].fd)
                conn_service(s, c, pf[k].revents, now);
        }
        if (srv_mesh_service(s, pf + nm, now) || s->fatal)
            return mc2_err_set(err, MC2_E_IO, "%s", s->fatal ? s->fatal : "the mesh failed");
        if (enclave_flush(s, err)) return -1; /* what the connections just queued */
        if (pf[0].revents & POLLIN) accept_new(s, now);
    }
}
