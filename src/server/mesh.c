/* mesh.c - UNTRUSTED: mc2d's part in a distributed job (docs/cluster.md, "Distributed jobs:
 * one enclave per rank"). The enclave (rank 0, the leader) asks for the other ranks with
 * EIF_MESH_LAUNCH; mc2d runs the operator's launcher (mc2d --mesh-launcher EXE) as
 * `EXE N STATE/mesh.sock` in its own process group, output appended to STATE/mesh.log, and
 * relays between the enclave and the one connection mc2-rank's rank 0 makes to mesh.sock.
 *
 * Frame order on the relay connection (ch = the mesh id on every frame):
 *   mc2d -> relay   EIF_MESH_LAUNCH (the enclave's payload, first), then the enclave's
 *                   EIF_MESH_HELLO, EIF_MESH_SEND and EIF_MESH_END verbatim, in order;
 *   relay -> mc2d   EIF_MESH_PEERS, EIF_MESH_DELIVER, EIF_MESH_FAIL, passed to the enclave
 *                   verbatim; any other type, another channel or a malformed frame closes
 *                   the relay (and fails the mesh).
 * After the enclave's EIF_MESH_END is sent, mc2d closes the relay and gives the launcher
 * SRV_MESH_WAIT_MS to exit, then SIGTERMs its group, SIGKILLs it SRV_MESH_KILL_MS later.
 * Before that END, the relay closing or the launcher exiting fails the mesh: the enclave gets
 * one EIF_MESH_FAIL with the reason (the launcher's exit status and mesh.log's last line)
 * and the launcher's group is ended as above. The next EIF_MESH_LAUNCH is accepted once the
 * launcher is reaped and the enclave's END came or the FAIL was sent. One launch that comes
 * before (a job run right after another ended: its launcher may take a moment to exit) waits
 * for that and is then started; a second one meanwhile gets EIF_MESH_FAIL "another
 * distributed job is running".
 *
 * Bounds: one relay connection (others are closed at once); its input one frame at most;
 * its output queue SRV_ENC_OUT_HIGH, beyond which the enclave is not read (backpressure,
 * loop.c), and the relay is not read while the enclave's queue is that full. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "server/server.h"
#include "wire/proto.h"

#define LOG(...) fprintf(stderr, "mc2d: " __VA_ARGS__)

#define MESH_RANKS_MAX 4096 /* the launch's n_ranks: 2..this */

static const char NO_LAUNCHER[] = "this service has no mesh launcher (mc2d --mesh-launcher)";
static const char BUSY[] = "another distributed job is running";

int srv_mesh_init(server *s, mc2_err *err)
{
    s->mesh_listen_fd = -1;
    s->mesh.relay_fd = -1;
    if (!s->mesh_launcher) return 0;
    s->mesh_sock = mc2_path_join(s->state, "mesh.sock");
    s->mesh_log = mc2_path_join(s->state, "mesh.log");
    if (!s->mesh_sock || !s->mesh_log) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(s->mesh_sock) >= sizeof sa.sun_path)
        return mc2_err_set(err, MC2_E_USAGE,
                           "the mesh socket path %s is too long for a unix socket: use a "
                           "shorter --dir",
                           s->mesh_sock);
    memcpy(sa.sun_path, s->mesh_sock, strlen(s->mesh_sock) + 1);
    unlink(s->mesh_sock); /* a stale one (we hold the state directory's lock) */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(077);
    int bad = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0;
    umask(old);
    if (bad || chmod(s->mesh_sock, 0600) != 0 || listen(fd, 4) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return mc2_err_set(err, MC2_E_IO, "cannot listen on %s: %s", s->mesh_sock, strerror(e));
    }
    s->mesh_listen_fd = fd;
    return 0;
}

static int mesh_fail_to(server *s, uint32_t id, const char *why)
{
    srv_note(s, "mesh %u: %s", id, why); /* rate-limited: the enclave chooses how often */
    return srv_to_enclave(s, EIF_MESH_FAIL, id, why, strlen(why));
}

/* The last non-empty line of mesh.log (at most its last 4 KiB), into out. */
static void log_last_line(const server *s, char *out, size_t cap)
{
    char b[4096];
    out[0] = '\0';
    int fd = open(s->mesh_log, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END),
          at = end > (off_t)sizeof b - 1 ? end - (off_t)sizeof b + 1 : 0;
    ssize_t n = end > 0 ? pread(fd, b, (size_t)(end - at), at) : 0;
    close(fd);
    if (n <= 0) return;
    while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r')) n--;
    b[n] = '\0';
    char *l = strrchr(b, '\n');
    snprintf(out, cap, "%.*s", (int)cap - 1, l ? l + 1 : b);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

/* "exit status N" / "killed by signal N" / "still running" */
static void launcher_state(const srv_mesh *m, char *out, size_t cap)
{
    if (m->pid > 0)
        snprintf(out, cap, "still running");
    else if (WIFEXITED(m->status))
        snprintf(out, cap, "exit status %d", WEXITSTATUS(m->status));
    else if (WIFSIGNALED(m->status))
        snprintf(out, cap, "killed by signal %d", WTERMSIG(m->status));
    else
        snprintf(out, cap, "status %d", m->status);
}

static void relay_close(server *s)
{
    srv_mesh *m = &s->mesh;
    if (m->relay_fd >= 0) close(m->relay_fd);
    m->relay_fd = -1;
    mc2_buf_free(&m->in);
    srv_outq_free(&m->out);
}

/* The mesh cannot go on (before the enclave's END): one EIF_MESH_FAIL naming `what`, the
 * launcher's state and mesh.log's last line; the relay closes and the launcher's group is
 * ended now. */
static int mesh_failed(server *s, const char *what, int64_t now)
{
    srv_mesh *m = &s->mesh;
    relay_close(s);
    if (m->pid > 0 && m->term_ms == 0) m->term_ms = now;
    if (m->failed || m->ended) return 0;
    m->failed = true;
    char st[64], last[300], msg[700];
    launcher_state(m, st, sizeof st);
    log_last_line(s, last, sizeof last);
    snprintf(msg, sizeof msg, "%s (the launcher: %s%s%s)", what, st,
             last[0] ? "; mesh.log ends: " : "", last);
    return mesh_fail_to(s, m->id, msg);
}

/* Runs `EXE N SOCKET` in its own process group, stdin /dev/null, stdout and stderr appended
 * to mesh.log. */
static int launcher_start(server *s, uint32_t n, mc2_err *err)
{
    int log = open(s->mesh_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0)
        return mc2_err_set(err, MC2_E_IO, "cannot open %s: %s", s->mesh_log, strerror(errno));
    char nb[16];
    snprintf(nb, sizeof nb, "%u", n);
    pid_t pid = fork();
    if (pid < 0) {
        close(log);
        return mc2_err_set(err, MC2_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* mc2d blocks SIGTERM outside poll */
        signal(SIGPIPE, SIG_DFL);
        if (setpgid(0, 0) != 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 ||
            dup2(log, 2) < 0)
            _exit(127);
        for (int fd = 3; fd < 1024; fd++) close(fd);
        char *argv[] = {(char *)s->mesh_launcher, nb, s->mesh_sock, NULL};
        execv(s->mesh_launcher, argv);
        dprintf(2, "mc2d: cannot run the mesh launcher %s: %s\n", s->mesh_launcher,
                strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with a signal sent to the group */
    close(log);
    s->mesh.pid = s->mesh.pid_group = pid;
    return 0;
}

/* EIF_MESH_LAUNCH: n_ranks u32 | job_id[32] | nonce[32] | timeout_ms u32 | ops LV. */
static int mesh_launch(server *s, const mc2_frame *f)
{
    srv_mesh *m = &s->mesh;
    mc2_err err;
    uint32_t n = f->payload.len >= 4 ? mc2_le32_get(f->payload.data) : 0;
    if (!s->mesh_launcher) return mesh_fail_to(s, f->channel, NO_LAUNCHER);
    if (m->active && (m->ended || m->failed) && !s->mesh_pending) {
        s->mesh_pending_launch.len = 0;
        if (mc2_buf_append(&s->mesh_pending_launch, f->payload.data, f->payload.len, &err))
            return s->fatal = "out of memory for the mesh relay", -1;
        s->mesh_pending = true;
        s->mesh_pending_id = f->channel;
        LOG("mesh %u: waits for mesh %u's launcher to exit\n", f->channel, m->id);
        return 0;
    }
    if (m->active) return mesh_fail_to(s, f->channel, BUSY);
    if (f->payload.len < 4 + 32 + 32 + 4 + 4 || n < 2 || n > MESH_RANKS_MAX)
        return mesh_fail_to(s, f->channel, "malformed EIF_MESH_LAUNCH (ranks 2..4096)");
    memset(m, 0, sizeof *m);
    m->relay_fd = -1;
    m->id = f->channel;
    if (srv_outq_frame(&m->out, EIF_MESH_LAUNCH, m->id, f->payload.data, f->payload.len, &err))
        return s->fatal = "out of memory for the mesh relay", -1;
    if (launcher_start(s, n, &err)) {
        srv_outq_free(&m->out);
        char msg[400];
        snprintf(msg, sizeof msg, "cannot start the mesh launcher: %.300s", err.msg);
        return mesh_fail_to(s, f->channel, msg);
    }
    m->active = true;
    LOG("mesh %u: started the launcher (pid %d): %s %u %s\n", m->id, (int)m->pid, s->mesh_launcher,
        n, s->mesh_sock);
    return 0;
}

/* Starts the launch that waited for the previous mesh to be done. */
static int launch_pending(server *s)
{
    mc2_frame f = {.type = EIF_MESH_LAUNCH, .channel = s->mesh_pending_id};
    f.payload = s->mesh_pending_launch; /* borrowed: mesh_launch copies it */
    srv_outq *q = &s->mesh_pending_out;
    mc2_err err;
    s->mesh_pending = false;
    int rc = mesh_launch(s, &f);
    if (rc == 0 && s->mesh.active && s->mesh.id == f.channel &&
        srv_outq_put(&s->mesh.out, q->b.data + q->head, q->b.len - q->head, &err))
        rc = (s->fatal = "out of memory for the mesh relay", -1);
    srv_outq_free(q);
    memset(q, 0, sizeof *q);
    s->mesh_pending_launch.len = 0;
    return rc;
}

int srv_mesh_from_enclave(server *s, const mc2_frame *f)
{
    srv_mesh *m = &s->mesh;
    mc2_err err;
    if (f->type == EIF_MESH_LAUNCH) return mesh_launch(s, f);
    if (s->mesh_pending && f->channel == s->mesh_pending_id) { /* kept until it starts */
        if (srv_outq_frame(&s->mesh_pending_out, f->type, f->channel, f->payload.data,
                           f->payload.len, &err) ||
            srv_outq_pending(&s->mesh_pending_out) > SRV_ENC_OUT_HIGH)
            return s->fatal = "out of memory for the mesh relay", -1;
        return 0;
    }
    if (!m->active || f->channel != m->id || m->ended) {
        srv_note(s, "mesh: dropped a frame (type %u) for mesh %u: no such mesh running", f->type,
                 f->channel);
        return 0;
    }
    if (f->type == EIF_MESH_END) {
        m->ended = true; /* the launcher gets its time to exit once END went out */
        LOG("mesh %u: the enclave ended it (%s)\n", m->id,
            f->payload.len == 1 && f->payload.data[0] == 1 ? "ok" : "failed");
    }
    if (m->relay_fd < 0 && (m->relay_seen || m->failed)) return 0; /* nobody to tell */
    if (srv_outq_frame(&m->out, f->type, f->channel, f->payload.data, f->payload.len, &err))
        return s->fatal = "out of memory for the mesh relay", -1;
    return 0;
}

bool srv_mesh_full(const server *s)
{
    return s->mesh.active && srv_outq_pending(&s->mesh.out) >= SRV_ENC_OUT_HIGH;
}

/* ---- the relay connection ---------------------------------------------------------------- */

static void mesh_accept(server *s)
{
    srv_mesh *m = &s->mesh;
    for (int k = 0; k < 8; k++) {
        int fd = accept4(s->mesh_listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        if (!m->active || m->relay_seen || m->ended || m->failed) {
            srv_note(s, "mesh: closed a connection to mesh.sock: %s",
                     m->active ? "the mesh has its relay already" : "no distributed job runs");
            close(fd);
            continue;
        }
        m->relay_fd = fd;
        m->relay_seen = true;
        LOG("mesh %u: the relay (mc2-rank, rank 0) connected\n", m->id);
    }
}

/* Handles the whole frames in m->in. -1 with *why: close the relay. */
static int relay_frames(server *s, const char **why)
{
    srv_mesh *m = &s->mesh;
    mc2_err err;
    mc2_frame f = {0};
    size_t off = 0;
    int rc = 0;
    for (;;) {
        long used = mc2_frame_parse(m->in.data + off, m->in.len - off, MC2_FRAME_MAX, &f, &err);
        if (used < 0) *why = "the relay (mc2-rank, rank 0) sent a malformed frame";
        if (used <= 0) {
            rc = used < 0 ? -1 : 0;
            break;
        }
        off += (size_t)used;
        if ((f.type != EIF_MESH_PEERS && f.type != EIF_MESH_DELIVER && f.type != EIF_MESH_FAIL) ||
            f.channel != m->id) {
            *why = "the relay (mc2-rank, rank 0) sent a frame of another type or mesh than PEERS, "
                   "DELIVER or FAIL";
            rc = -1;
            break;
        }
        if (f.type == EIF_MESH_FAIL) m->failed = true; /* the enclave has its reason */
        if (srv_to_enclave(s, f.type, f.channel, f.payload.data, f.payload.len)) {
            rc = -1;
            *why = "out of memory";
            break;
        }
    }
    mc2_frame_free(&f);
    memmove(m->in.data, m->in.data + off, m->in.len - off);
    m->in.len -= off;
    return rc;
}

/* Reads one chunk from the relay. -1 with *why when it closed or misbehaved. */
static int relay_read(server *s, const char **why)
{
    srv_mesh *m = &s->mesh;
    mc2_err err;
    size_t want = SRV_IN_MAX - m->in.len;
    if (want > SRV_CHUNK) want = SRV_CHUNK;
    if (want == 0) return 0;
    if (mc2_buf_reserve(&m->in, want, &err)) return *why = "out of memory", -1;
    ssize_t r = read(m->relay_fd, m->in.data + m->in.len, want);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (r <= 0) return *why = "the relay (mc2-rank, rank 0) closed its connection", -1;
    m->in.len += (size_t)r;
    return relay_frames(s, why);
}

/* ---- the launcher ------------------------------------------------------------------------ */

static void launcher_signal(server *s, int64_t now)
{
    srv_mesh *m = &s->mesh;
    if (m->pid <= 0) return;
    if (m->kill_ms && now >= m->kill_ms) {
        LOG("mesh %u: SIGKILL to the launcher's process group %d\n", m->id, (int)m->pid);
        kill(-m->pid, SIGKILL);
        m->kill_ms = 0;
    } else if (m->term_ms && now >= m->term_ms) {
        LOG("mesh %u: SIGTERM to the launcher's process group %d\n", m->id, (int)m->pid);
        kill(-m->pid, SIGTERM);
        m->term_ms = 0;
        m->kill_ms = now + SRV_MESH_KILL_MS;
    }
}

/* Reaps the launcher if it exited; fails the mesh if that was before the enclave's END. */
static int launcher_reap(server *s, int64_t now)
{
    srv_mesh *m = &s->mesh;
    if (m->pid <= 0 || waitpid(m->pid, &m->status, WNOHANG) != m->pid) return 0;
    m->pid = 0;
    m->term_ms = m->kill_ms = 0;
    char st[64];
    launcher_state(m, st, sizeof st);
    LOG("mesh %u: the launcher ended (%s)\n", m->id, st);
    kill(-m->pid_group, SIGKILL); /* what it left behind in its group */
    m->pid_group = 0;
    if (!m->ended && !m->failed)
        return mesh_failed(s, "the mesh launcher exited before the job ended", now);
    return 0;
}

void srv_mesh_poll(server *s, struct pollfd *pf, nfds_t *n, int64_t *wait_ms)
{
    srv_mesh *m = &s->mesh;
    m->polled_listen = s->mesh_listen_fd >= 0;
    m->polled_relay = m->relay_fd >= 0;
    if (m->polled_listen) pf[(*n)++] = (struct pollfd){s->mesh_listen_fd, POLLIN, 0};
    if (m->polled_relay) {
        short ev = srv_outq_pending(&m->out) ? POLLOUT : 0;
        if (srv_outq_pending(&s->enclave_out) < SRV_ENC_OUT_HIGH) ev |= POLLIN;
        pf[(*n)++] = (struct pollfd){m->relay_fd, ev, 0};
    }
    if (m->active && (*wait_ms < 0 || *wait_ms > SRV_MESH_TICK_MS)) *wait_ms = SRV_MESH_TICK_MS;
}

int srv_mesh_service(server *s, const struct pollfd *pf, int64_t now)
{
    srv_mesh *m = &s->mesh;
    mc2_err err;
    const struct pollfd *relay = m->polled_relay ? &pf[m->polled_listen ? 1 : 0] : NULL;
    if (m->polled_listen && pf[0].revents & POLLIN) mesh_accept(s);
    const char *why = NULL;
    if (relay && relay->fd == m->relay_fd) {
        short rev = relay->revents;
        int r = 0;
        if (rev & (POLLOUT | POLLERR) && srv_outq_flush(&m->out, m->relay_fd, &err) < 0) {
            why = "the relay (mc2-rank, rank 0) closed its connection";
            r = -1;
        }
        if (r == 0 && rev & (POLLIN | POLLHUP | POLLERR)) r = relay_read(s, &why);
        if (r && !m->ended && mesh_failed(s, why, now)) return -1;
        if (r) relay_close(s);
    }
    if (m->relay_fd >= 0 && srv_outq_pending(&m->out) &&
        srv_outq_flush(&m->out, m->relay_fd, &err) < 0 && !m->ended &&
        mesh_failed(s, "the relay (mc2-rank, rank 0) closed its connection", now))
        return -1;
    if (m->ended && m->relay_fd >= 0 && srv_outq_pending(&m->out) == 0)
        relay_close(s); /* END went out */
    if (m->ended && m->relay_fd < 0 && m->pid > 0 && !m->term_ms && !m->kill_ms)
        m->term_ms = now + SRV_MESH_WAIT_MS; /* its time to exit */
    if (launcher_reap(s, now)) return -1;
    launcher_signal(s, now);
    if (m->active && m->pid <= 0 && (m->ended || m->failed)) {
        relay_close(s);
        m->active = false;
        LOG("mesh %u: done\n", m->id);
        if (s->mesh_pending) return launch_pending(s);
    }
    return 0;
}

void srv_mesh_stop(server *s)
{
    srv_mesh *m = &s->mesh;
    relay_close(s);
    if (m->pid > 0) {
        kill(-m->pid, SIGTERM);
        for (int i = 0; i < 200 && waitpid(m->pid, &m->status, WNOHANG) != m->pid; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (i == 199) {
                kill(-m->pid, SIGKILL);
                waitpid(m->pid, &m->status, 0);
            }
        }
        m->pid = 0;
    }
    if (m->pid_group > 0) {
        kill(-m->pid_group, SIGKILL); /* what its group left behind */
        m->pid_group = 0;
    }
    if (s->mesh_listen_fd >= 0) {
        close(s->mesh_listen_fd);
        unlink(s->mesh_sock);
    }
    mc2_free(s->mesh_sock);
    mc2_free(s->mesh_log);
    mc2_buf_free(&s->mesh_pending_launch);
    srv_outq_free(&s->mesh_pending_out);
}
