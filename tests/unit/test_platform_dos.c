/* test_platform_dos.c - unauthenticated denial of service against a real mc2d (and its sim
 * enclave): one peer must not be able to stall the service for others, make it hold
 * unbounded memory, or take all its connection or enclave session slots. Every attacker
 * connects from 127.0.0.2, the legitimate client from 127.0.0.1; everything is loopback,
 * every loop is bounded, and a watchdog ends the test if anything hangs.
 *
 *   (a) a peer that asks for a 64 MiB object, or sends 100,000 HAPI_STATUS requests, and
 *       never reads: another client is answered within 2 s and mc2d's VmRSS grows by less
 *       than 32 MiB; the object still downloads intact;
 *   (b) 300 idle TCP connections: a client is still served;
 *   (c) 70 connections that send HAPI_ENCLAVE and then nothing (enclave session table: 64):
 *       a party still opens an attested session and says HELLO, and an already
 *       authenticated session is not evicted;
 *   (d) 40 connections each sending 15 MiB of a 16 MiB frame and stopping: mc2d's VmHWM
 *       stays under 320 MiB (partial frames are capped at 256 MiB in all) and a client is
 *       served;
 *   (e) timeouts (shortened: --handshake-timeout 1 --idle-timeout 2): a silent connection
 *       and one that trickles a header byte by byte are closed after about 1 s, an idle API
 *       connection and an idle relay after about 2 s; one that keeps asking stays open.
 *
 * Memory bounds are not checked under AddressSanitizer (its quarantine holds freed memory);
 * everything else is. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>

#include "../tools/pfix.h"
#include "base/bytes.h"
#include "conn/conn.h"
#include "mc2/crypto.h"
#include "test.h"
#include "wire/proto.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define BIG_OBJECT   ((size_t)64 << 20)
#define MIB          (1024.0 * 1024.0)
#define SERVED_IN_MS 2000

static pfix F;
static mc2_identity P;

static void watchdog(int sig)
{
    (void)sig;
    static const char m[] = "test_platform_dos: watchdog: a step hung for 240 s\n";
    if (write(2, m, sizeof m - 1) < 0) {
    }
    if (F.pid > 0) kill(F.pid, SIGKILL);
    _exit(1);
}

static int service_port(void)
{
    return atoi(strrchr(F.service, ':') + 1);
}

static void start(const char *const *extra)
{
    char msg[600];
    if (pfix_start_args(&F, extra, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        exit(1);
    }
}

/* A TCP connection from 127.0.0.2 to the service; rcvbuf > 0 shrinks its receive buffer
 * (set before connecting, so the window stays small). Non-blocking unless `blocking`. */
static int attacker(int rcvbuf, bool blocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    to.sin_port = htons((uint16_t)service_port());
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) != 0) pfix_die("attacker bind", NULL);
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
        pfix_die("SO_RCVBUF", NULL);
    if (!blocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)
        pfix_die("attacker connect", NULL);
    if (blocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Sends as much of p[0..n) as fd takes within ms milliseconds; returns the bytes sent. */
static size_t push(int fd, const uint8_t *p, size_t n, long ms)
{
    double end = pfix_now() + (double)ms / 1000;
    size_t off = 0;
    while (off < n && pfix_now() < end) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        struct pollfd pf = {fd, POLLOUT, 0};
        poll(&pf, 1, 50);
    }
    return off;
}

/* A legitimate HAPI_STATUS from 127.0.0.1 with 2 s socket timeouts. Returns how long the
 * answer took (ms), or -1 with the reason in err. */
static long served(mc2_err *err)
{
    double t0 = pfix_now();
    int fd = mc2_dial(F.service, err);
    if (fd < 0) return -1;
    struct timeval tv = {SERVED_IN_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    mc2_frame reply = {0};
    int rc = mc2_host_call(fd, HAPI_STATUS, NULL, 0, &reply, NULL, NULL, err);
    if (rc == 0 && (reply.payload.len < 14 || memcmp(reply.payload.data, "service: mc2d", 13)))
        rc = mc2_err_set(err, MC2_E_INPUT, "not a status reply");
    mc2_frame_free(&reply);
    close(fd);
    long ms = (long)((pfix_now() - t0) * 1000);
    if (rc == 0 && ms > SERVED_IN_MS)
        rc = mc2_err_set(err, MC2_E_IO, "answered only after %ld ms", ms);
    return rc ? -1 : ms;
}

static bool last_served; /* the last CHECK_SERVED passed */

#define CHECK_SERVED(what)                                                                         \
    do {                                                                                           \
        mc2_err e_;                                                                                \
        mc2_err_clear(&e_);                                                                        \
        long ms_ = served(&e_);                                                                    \
        last_served = ms_ >= 0;                                                                    \
        printf("  %s: a client from 127.0.0.1 %s (%ld ms)\n", what,                                \
               ms_ >= 0 ? "is served" : "is NOT served", ms_);                                     \
        CHECK_MSG(ms_ >= 0, "%s: %s", what, e_.msg);                                               \
    } while (0)

/* A "VmRSS:"-style field of mc2d's /proc status in KiB, or -1. */
static long vm_kib(const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)F.pid);
    FILE *fp = fopen(path, "r");
    long v = -1;
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, field, strlen(field)) == 0) v = atol(line + strlen(field));
    if (fp) fclose(fp);
    return v;
}

/* Waits up to ms for fd to be closed by mc2d (end of stream or reset), discarding what it
 * sends meanwhile; returns the time it took (ms) or -1 if it stayed open. */
static long closed_within(int fd, long ms)
{
    double t0 = pfix_now(), end = t0 + (double)ms / 1000;
    uint8_t buf[4096];
    for (;;) {
        double left = end - pfix_now();
        if (left <= 0) return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0) continue;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return (long)((pfix_now() - t0) * 1000);
    }
}

/* HAPI_STATUS "sessions: N" (relayed sessions mc2d holds), or -1. */
static long sessions(void)
{
    mc2_err err;
    mc2_frame reply = {0};
    long n = -1;
    int fd = mc2_dial(F.service, &err);
    if (fd >= 0 && mc2_host_call(fd, HAPI_STATUS, NULL, 0, &reply, NULL, NULL, &err) == 0 &&
        mc2_buf_append(&reply.payload, "", 1, &err) == 0) {
        const char *p = strstr((const char *)reply.payload.data, "sessions: ");
        if (p) n = atol(p + 10);
    }
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    return n;
}

/* ---- (a) ---------------------------------------------------------------------------------- */

static void slow_readers(void)
{
    printf("(a) peers that never read\n");
    start(NULL);
    mc2_err err;
    char path[300];
    snprintf(path, sizeof path, "%s/big.bin", F.work);
    uint8_t *big = mc2_malloc(BIG_OBJECT);
    if (!big) pfix_die("malloc", NULL);
    for (size_t i = 0; i < BIG_OBJECT; i += 8) mc2_le64_put(big + i, i * 0x9e3779b97f4a7c15ull);
    if (mc2_file_write_atomic(path, big, BIG_OBJECT, 0600, 0, &err) ||
        mc2_host_upload(F.service, &P, "big", path, NULL, NULL, &err))
        pfix_die("upload", &err);
    long base = vm_kib("VmRSS:");

    /* A download nobody reads. */
    int g = attacker(4096, true);
    uint8_t req[MC2_FRAME_HDR];
    const char *name = "tables/alice/big.mc2t";
    mc2_buf get = {0}, frame = {0};
    if (mc2_buf_put_lv(&get, name, strlen(name), &err) ||
        mc2_frame_put(&frame, HAPI_GET, 0, get.data, get.len, &err))
        pfix_die("frame", &err);
    CHECK(push(g, frame.data, frame.len, 1000) == frame.len);
    pfix_sleep_ms(500);
    CHECK_SERVED("a download of 64 MiB that is never read");

    /* 100,000 status requests whose answers are never read. */
    int h = attacker(4096, true);
    size_t nreq = 100000;
    uint8_t *flood = mc2_malloc(nreq * MC2_FRAME_HDR);
    if (!flood) pfix_die("malloc", NULL);
    for (size_t i = 0; i < nreq; i++) {
        memset(req, 0, MC2_FRAME_HDR);
        mc2_le16_put(req + 4, HAPI_STATUS);
        mc2_le16_put(req + 6, MC2_WIRE_VERSION);
        memcpy(flood + i * MC2_FRAME_HDR, req, MC2_FRAME_HDR);
    }
    size_t sent = push(h, flood, nreq * MC2_FRAME_HDR, 3000);
    printf("  sent %zu status requests that are never read\n", sent / MC2_FRAME_HDR);
    CHECK(sent / MC2_FRAME_HDR >= 1000);
    pfix_sleep_ms(300);
    CHECK_SERVED("100,000 status requests never read");

    /* The object still downloads whole and intact while both attackers hang on (not tried
     * on a service that no longer answers: the download has no timeout). */
    mc2_buf got = {0};
    if (last_served) {
        CHECK_MSG(mc2_host_download(F.service, name, &got, &err) == 0, "%s", err.msg);
        CHECK(got.len == BIG_OBJECT && memcmp(got.data, big, BIG_OBJECT) == 0);
    }
    mc2_buf_free(&got);
    long rss = vm_kib("VmRSS:");
    printf("  mc2d VmRSS %.1f MiB before, %.1f MiB with both attackers\n", (double)base / 1024,
           (double)rss / 1024);
    if (!UNDER_ASAN)
        CHECK_MSG(base > 0 && rss > 0 && rss - base < 32 * 1024, "VmRSS grew by %ld KiB",
                  rss - base);
    close(g);
    close(h);
    mc2_free(flood);
    mc2_free(big);
    mc2_buf_free(&get);
    mc2_buf_free(&frame);
    unlink(path);
    pfix_stop(&F, SIGTERM);
}

/* ---- (b) ---------------------------------------------------------------------------------- */

static void idle_connections(void)
{
    printf("(b) 300 idle connections from one address\n");
    start(NULL);
    int fds[300];
    for (int i = 0; i < 300; i++) fds[i] = attacker(0, true); /* each connected at return */
    pfix_sleep_ms(300);
    CHECK_SERVED("300 idle connections");
    for (int i = 0; i < 300; i++) close(fds[i]);
    pfix_stop(&F, SIGTERM);
}

/* ---- (c) ---------------------------------------------------------------------------------- */

static void enclave_sessions(void)
{
    printf("(c) 70 enclave sessions that never start TLS\n");
    const char *args[] = {"--max-conns-per-addr", "200", NULL};
    start(args);
    mc2_err err;
    mc2_esession a, b;
    int ra = mc2_esession_open(F.service, &P, F.pol, &a, &err);
    CHECK_MSG(ra == 0, "session before the attack: %s", err.msg);
    int fds[70];
    uint8_t fr[MC2_FRAME_HDR + 32];
    memset(fr, 0, sizeof fr);
    mc2_le32_put(fr, 32);
    mc2_le16_put(fr + 4, HAPI_ENCLAVE);
    mc2_le16_put(fr + 6, MC2_WIRE_VERSION);
    for (int i = 0; i < 70; i++) {
        fds[i] = attacker(0, true);
        CHECK(push(fds[i], fr, sizeof fr, 1000) == sizeof fr);
    }
    long n = -1;
    for (int i = 0; i < 50 && n != 64; i++) {
        pfix_sleep_ms(100);
        n = sessions();
    }
    printf("  mc2d relays %ld sessions (the enclave holds 64)\n", n);
    CHECK(n == 64);
    int rb = mc2_esession_open(F.service, &P, F.pol, &b, &err);
    printf("  a party %s an attested session\n", rb == 0 ? "opens" : "CANNOT open");
    CHECK_MSG(rb == 0, "session during the attack: %s", err.msg);
    if (rb == 0) {
        CHECK_MSG(mc2_esession_hello(&b, F.pol, &err) == 0, "HELLO: %s", err.msg);
        mc2_esession_close(&b);
    }
    if (ra == 0) {
        CHECK_MSG(mc2_esession_hello(&a, F.pol, &err) == 0,
                  "the authenticated session was evicted: %s", err.msg);
        mc2_esession_close(&a);
    }
    int evicted = 0;
    for (int i = 0; i < 70; i++) evicted += closed_within(fds[i], 1) >= 0;
    printf("  %d attacker sessions were ended\n", evicted);
    for (int i = 0; i < 70; i++) close(fds[i]);
    pfix_stop(&F, SIGTERM);
}

/* ---- (d) ---------------------------------------------------------------------------------- */

static void partial_frames(void)
{
    printf("(d) 40 connections each holding 15 MiB of a 16 MiB frame\n");
    const char *args[] = {"--max-conns-per-addr", "64", NULL};
    start(args);
    enum { N = 40 };
    const size_t quota = (size_t)15 << 20;
    uint8_t *data = mc2_calloc(1, quota);
    if (!data) pfix_die("calloc", NULL);
    mc2_le32_put(data, MC2_FRAME_MAX);
    mc2_le16_put(data + 4, HAPI_PUT_DATA);
    mc2_le16_put(data + 6, MC2_WIRE_VERSION);
    int fds[N];
    size_t off[N] = {0};
    bool done[N] = {false};
    for (int i = 0; i < N; i++) fds[i] = attacker(0, false);
    double end = pfix_now() + 60;
    int left = N, closed = 0;
    while (left > 0 && pfix_now() < end) {
        struct pollfd pf[N];
        int map[N], n = 0;
        for (int i = 0; i < N; i++)
            if (!done[i]) {
                pf[n] = (struct pollfd){fds[i], POLLOUT, 0};
                map[n++] = i;
            }
        if (poll(pf, (nfds_t)n, 200) <= 0) continue;
        for (int k = 0; k < n; k++) {
            int i = map[k];
            if (!pf[k].revents) continue;
            ssize_t w = send(fds[i], data + off[i], quota - off[i], MSG_NOSIGNAL);
            if (w > 0) off[i] += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || off[i] == quota) {
                done[i] = true;
                left--;
                closed += off[i] < quota;
            }
        }
    }
    pfix_sleep_ms(500);
    long hwm = vm_kib("VmHWM:");
    printf("  %d of %d senders finished, %d were cut off; mc2d VmHWM %.1f MiB\n", N - closed - left,
           N, closed, (double)hwm / 1024);
    CHECK(left == 0);
    if (!UNDER_ASAN) CHECK_MSG(hwm > 0 && hwm < 320 * 1024, "VmHWM %ld KiB exceeds 320 MiB", hwm);
    CHECK_SERVED("40 partial 16 MiB frames");
    for (int i = 0; i < N; i++) close(fds[i]);
    mc2_free(data);
    pfix_stop(&F, SIGTERM);
}

/* ---- (e) ---------------------------------------------------------------------------------- */

static void timeouts(void)
{
    printf("(e) timeouts: --handshake-timeout 1 --idle-timeout 2\n");
    const char *args[] = {"--handshake-timeout", "1", "--idle-timeout", "2", NULL};
    start(args);
    uint8_t status[MC2_FRAME_HDR] = {0};
    mc2_le16_put(status + 4, HAPI_STATUS);
    mc2_le16_put(status + 6, MC2_WIRE_VERSION);

    int fd = attacker(0, true);
    long ms = closed_within(fd, 4000);
    printf("  silent connection closed after %ld ms\n", ms);
    CHECK(ms >= 700 && ms <= 3000);
    close(fd);

    fd = attacker(0, true); /* a header byte every 200 ms: busy, but never a whole request */
    double t0 = pfix_now();
    ms = -1;
    for (size_t i = 0; i + 1 < sizeof status && ms < 0; i++)
        if (push(fd, status + i, 1, 100) != 1 || closed_within(fd, 200) >= 0)
            ms = (long)((pfix_now() - t0) * 1000);
    if (ms < 0 && closed_within(fd, 2000) >= 0) ms = (long)((pfix_now() - t0) * 1000);
    printf("  trickling connection closed after %ld ms\n", ms);
    CHECK(ms >= 700 && ms <= 3000);
    close(fd);

    fd = attacker(0, true);
    mc2_frame f = {0};
    mc2_err err;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    CHECK(push(fd, status, sizeof status, 1000) == sizeof status);
    CHECK(mc2_frame_read_fd(fd, MC2_FRAME_MAX, &f, &err) == 0 && f.type == HAPI_OK);
    mc2_frame_free(&f);
    ms = closed_within(fd, 5000);
    printf("  idle API connection closed %ld ms after its last reply\n", ms);
    CHECK(ms >= 1500 && ms <= 4000);
    close(fd);

    fd = attacker(0, true);
    uint8_t open[MC2_FRAME_HDR + 32] = {0};
    mc2_le32_put(open, 32);
    mc2_le16_put(open + 4, HAPI_ENCLAVE);
    mc2_le16_put(open + 6, MC2_WIRE_VERSION);
    CHECK(push(fd, open, sizeof open, 1000) == sizeof open);
    ms = closed_within(fd, 5000);
    printf("  idle relay closed after %ld ms\n", ms);
    CHECK(ms >= 1500 && ms <= 4000);
    close(fd);

    fd = attacker(0, true); /* asks every 500 ms for 3.5 s: never idle for 2 s */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int answered = 0;
    for (int i = 0; i < 7; i++) {
        if (push(fd, status, sizeof status, 1000) != sizeof status ||
            mc2_frame_read_fd(fd, MC2_FRAME_MAX, &f, &err) != 0)
            break;
        answered++;
        pfix_sleep_ms(500);
    }
    mc2_frame_free(&f);
    printf("  a connection asking every 500 ms got %d of 7 answers\n", answered);
    CHECK(answered == 7);
    close(fd);
    pfix_stop(&F, SIGTERM);
}

/* mc2d documents its options and refuses bad values (exit 2). */
static void options(void)
{
    const char *build = getenv("MC2_BUILD");
    char cmd[700], out[4096] = {0};
    snprintf(cmd, sizeof cmd, "'%s/mc2d' --help", build ? build : "build");
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    int st = p ? pclose(p) : -1;
    out[n] = '\0';
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(out, "--idle-timeout S") && strstr(out, "--handshake-timeout S") &&
          strstr(out, "--max-conns-per-addr N"));
    snprintf(cmd, sizeof cmd,
             "'%s/mc2d' --dir /nonexistent --policy /nonexistent --idle-timeout 5x 2>/dev/null",
             build ? build : "build");
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, watchdog);
    pfix_init(&F, "test-dos");
    bool recipient = true;
    pfix_party(&F, "alice", &P);
    pfix_policy(&F, &P, 1, &recipient);
    /* Optional: one scenario by its letter (a..e). */
    const char *only = argc > 1 ? argv[1] : "abcdeo";
    if (strchr(only, 'o')) options();
    struct {
        char letter;
        void (*run)(void);
    } steps[] = {{'a', slow_readers},
                 {'b', idle_connections},
                 {'c', enclave_sessions},
                 {'d', partial_frames},
                 {'e', timeouts}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strchr(only, steps[i].letter)) {
            alarm(240);
            steps[i].run();
            alarm(0);
        }
    mc2_policy_free(F.pol);
    mc2_identity_free(&P);
    return test_done("test_platform_dos");
}
