/* main.c - UNTRUSTED: mc2-rank's start, loop and end (the protocol is in rank.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/num.h"
#include "base/bytes.h"
#include "base/file.h"
#include "rank/rank.h"
#include "wire/proto.h"

static const char HELP[] =
    "usage: mc2-rank --leader SOCKET --dirs D0,D1,...,D(N-1) [--enclave PATH]\n"
    "                [--budget-mb M] [--timeout-s T] [--tee NAME] [--tee-opt OPTS]\n\n"
    "The untrusted per-rank host program of a distributed job (docs/cluster.md, \"Distributed\n"
    "jobs\"), started by Open MPI's mpirun from mc2d's mesh launcher (mc2d --mesh-launcher):\n"
    "world rank r uses the state directory D_r of its host's mc2d. Rank 0 relays between\n"
    "mc2d's socket (the leader enclave) and MPI; rank r >= 1 starts a worker enclave (the sim\n"
    "platform key, D_r/cluster-policy.yaml or else D_r/policy.yaml), serves its storage\n"
    "reads from D_r/store (read-only) and relays its mesh frames over MPI. It carries sealed\n"
    "bytes only.\n\n"
    "  --leader SOCKET   mc2d's mesh socket (the second argument of the launcher)\n"
    "  --dirs LIST       the ranks' state directories, comma-separated: exactly one per rank\n"
    "  --enclave PATH    the enclave binary (default: mc2-enclave beside this program)\n"
    "  --budget-mb M     a worker enclave's memory budget (default 4096)\n"
    "  --timeout-s T     give up after T seconds, naming what this rank waited for\n"
    "                    (default 3600)\n"
    "  --tee NAME, --tee-opt OPTS   the TEE backend, as for mc2d (default sim)\n\n"
    "Exit status: 0 the mesh ended and this rank's enclave said ok, 1 failure (the error names\n"
    "the rank), 2 usage.\n";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits "a,b,c" into a NULL-terminated array (malloc'd; the strings point into s). */
static char **split_dirs(char *s, int *n)
{
    int cnt = 1;
    for (char *p = s; *p; p++) cnt += *p == ',';
    char **v = calloc((size_t)cnt + 1, sizeof *v);
    if (!v) return NULL;
    *n = 0;
    for (char *t = strtok(s, ","); t; t = strtok(NULL, ",")) v[(*n)++] = t;
    return v;
}

static int parse_num(const char *name, const char *v, unsigned long lo, unsigned long hi,
                     unsigned long *out)
{
    if (mc2_parse_ulong(v, lo, hi, out)) return 0;
    fprintf(stderr, "mc2-rank: --%s wants a number from %lu to %lu, not '%s'\n", name, lo, hi, v);
    return -1;
}

/* Parses the options into k; 0, 1 (--help shown) or 2 (usage error, said why). */
static int parse_args(rank_ctx *k, int argc, char **argv, int *ndirs)
{
    static const struct option opts[] = {{"leader", required_argument, 0, 'l'},
                                         {"dirs", required_argument, 0, 'd'},
                                         {"enclave", required_argument, 0, 'e'},
                                         {"budget-mb", required_argument, 0, 'b'},
                                         {"timeout-s", required_argument, 0, 't'},
                                         {"tee", required_argument, 0, 'T'},
                                         {"tee-opt", required_argument, 0, 'O'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    unsigned long budget = 4096, timeout = 3600;
    int c;
    k->tee_name = "sim";
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'l')
            k->leader = optarg;
        else if (c == 'd' && !(k->dirs = split_dirs(optarg, ndirs)))
            return 2;
        else if (c == 'e')
            k->enclave_path = optarg;
        else if (c == 'b' && parse_num("budget-mb", optarg, 1, 1u << 20, &budget))
            return 2;
        else if (c == 't' && parse_num("timeout-s", optarg, 1, 7 * 86400, &timeout))
            return 2;
        else if (c == 'T')
            k->tee_name = optarg;
        else if (c == 'O')
            k->tee_opts = optarg;
        else if (c == 'h')
            return fputs(HELP, stdout), 1;
        else if (c == '?')
            return fputs(HELP, stderr), 2;
    }
    if (!k->leader || !k->dirs || *ndirs < 2 || optind != argc) {
        fprintf(stderr,
                "mc2-rank: name mc2d's socket (--leader) and two or more state "
                "directories (--dirs D0,D1,...)\n\n%s",
                HELP);
        return 2;
    }
    k->budget_mb = (uint32_t)budget;
    k->timeout_s = (int)timeout;
    return 0;
}

/* ---- start ------------------------------------------------------------------------------- */

/* Rank 0: connects to mc2d's socket and reads its first frame, EIF_MESH_LAUNCH. */
static int leader_connect(rank_ctx *k, mc2_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(k->leader) >= sizeof sa.sun_path)
        return mc2_err_set(err, MC2_E_USAGE, "the socket path %s is too long", k->leader);
    memcpy(sa.sun_path, k->leader, strlen(k->leader) + 1);
    k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (k->fd < 0 || connect(k->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return mc2_err_set(err, MC2_E_IO, "cannot connect to mc2d's mesh socket %s: %s", k->leader,
                           strerror(errno));
    struct pollfd p = {k->fd, POLLIN, 0};
    int64_t left = k->deadline_ms - now_ms();
    mc2_frame f = {0};
    if (poll(&p, 1, (int)(left > 0 ? left : 0)) <= 0)
        return mc2_err_set(err, MC2_E_IO, "mc2d sent no EIF_MESH_LAUNCH on %s", k->leader);
    if (mc2_frame_read_fd(k->fd, MC2_FRAME_MAX, &f, err)) return -1;
    int rc = 0;
    if (f.type != EIF_MESH_LAUNCH || f.payload.len < 4)
        rc = mc2_err_set(err, MC2_E_INPUT, "mc2d's first frame is not EIF_MESH_LAUNCH");
    else if (mc2_le32_get(f.payload.data) != (uint32_t)k->n)
        rc = mc2_err_set(err, MC2_E_INPUT,
                         "the job wants %u ranks, the launcher started %d (mpirun -np \"$1\")",
                         mc2_le32_get(f.payload.data), k->n);
    k->id = f.channel;
    if (rc == 0) {
        k->launch = f.payload.data; /* taken over */
        k->launch_len = (uint32_t)f.payload.len;
        f.payload.data = NULL;
    } else {
        mc2_err werr; /* mc2d learns why (it fails the mesh anyway when we go) */
        if (mc2_frame_write_fd(k->fd, EIF_MESH_FAIL, k->id, err->msg, strlen(err->msg), &werr)) {
        }
    }
    mc2_frame_free(&f);
    return rc;
}

/* Waits for a nonblocking collective, up to the deadline. */
static void wait_coll(rank_ctx *k, MPI_Request *req, const char *what)
{
    for (int done = 0;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if (now_ms() > k->deadline_ms) {
            fprintf(stderr, "mc2-rank: rank %d: timed out after %d s waiting for %s\n", k->self,
                    k->timeout_s, what);
            rank_abort(k);
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Rank 0's launch payload to every rank: {status, id, length}, then the bytes. */
static int share_launch(rank_ctx *k, int status)
{
    uint32_t h[3] = {(uint32_t)status, k->id, k->launch_len};
    MPI_Request req;
    MPI_Ibcast(h, 3, MPI_UINT32_T, 0, k->comm, &req);
    wait_coll(k, &req, "the launch payload from rank 0");
    if (h[0] != 0) return -1;
    if (h[2] < 4 || h[2] > MC2_FRAME_MAX - 4) {
        fprintf(stderr, "mc2-rank: rank %d: rank 0 sent a launch of %u bytes\n", k->self, h[2]);
        return -1;
    }
    k->id = h[1];
    k->launch_len = h[2];
    if (k->self != 0 && !(k->launch = malloc(h[2]))) return -1;
    MPI_Ibcast(k->launch, (int)h[2], MPI_BYTE, 0, k->comm, &req);
    wait_coll(k, &req, "the launch payload from rank 0");
    return 0;
}

/* Rank r >= 1: starts the worker enclave on D_r and sends it EIF_MESH_JOIN. */
static int worker_start(rank_ctx *k, mc2_err *err)
{
    const char *dir = k->dirs[k->self];
    char *pol_path = mc2_path_join(dir, "cluster-policy.yaml"), *def = NULL;
    mc2_buf pol = {0}, join = {0};
    int rc = -1;
    k->store = mc2_path_join(dir, "store");
    if (!pol_path || !k->store) goto out;
    if (!mc2_file_exists(pol_path)) {
        mc2_free(pol_path);
        pol_path = mc2_path_join(dir, "policy.yaml");
        if (!pol_path) goto out;
    }
    const char *encl = k->enclave_path ? k->enclave_path : (def = mc2_enclave_default_path());
    mc2_launch_opts lo = {.budget_mb = k->budget_mb,
                          .session_idle_s = 900,
                          .worker = true,
                          .serve = rank_enclave_startup,
                          .ctx = k};
    if (!encl || mc2_file_read_all(pol_path, 1 << 20, &pol, err) ||
        mc2_tee_open(k->tee_name, dir, k->tee_opts, &k->tee, err) ||
        mc2_enclave_launch(encl, (const char *)pol.data, pol.len, &k->tee, &lo, &k->enc, err))
        goto out;
    k->fd = k->enc.fd;
    if (mc2_buf_put_u32(&join, (uint32_t)k->self, err) ||
        mc2_buf_append(&join, k->launch, k->launch_len, err) ||
        srv_outq_frame(&k->out, EIF_MESH_JOIN, k->id, join.data, join.len, err))
        goto out;
    rc = 0;
out:
    if (rc && !err->msg[0]) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_free(pol_path);
    mc2_free(def);
    mc2_buf_free(&pol);
    mc2_buf_free(&join);
    return rc;
}

/* ---- the loop ---------------------------------------------------------------------------- */

/* "its enclave stopped (exit status 3)": the worker enclave's end, reaped. */
static void enclave_gone(rank_ctx *k, char *why, size_t cap)
{
    int st = 0;
    if (k->self == 0) {
        snprintf(why, cap, "mc2d closed the mesh socket");
        return;
    }
    pid_t pid = k->enc.pid, w = 0;
    for (int i = 0; pid > 0 && i < 100 && (w = waitpid(pid, &st, WNOHANG)) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (pid > 0 && w == pid) k->enc.pid = 0;
    if (pid <= 0 || w != pid)
        snprintf(why, cap, "its enclave stopped (it closed its channel)");
    else if (WIFEXITED(st))
        snprintf(why, cap, "its enclave stopped (exit status %d)", WEXITSTATUS(st));
    else
        snprintf(why, cap, "its enclave stopped (killed by signal %d)", WTERMSIG(st));
}

/* Polls the peer once (RANK_POLL_MS at most) and handles what it sent. */
static void peer_turn(rank_ctx *k)
{
    mc2_err err;
    char why[160];
    bool room = srv_outq_pending(&k->out) < SRV_ENC_OUT_HIGH && k->send_bytes < RANK_SENDS_HIGH;
    struct pollfd p = {
        k->fd,
        (short)((room && !k->ended ? POLLIN : 0) | (srv_outq_pending(&k->out) ? POLLOUT : 0)), 0};
    if (poll(&p, 1, RANK_POLL_MS) <= 0) return;
    if (p.revents & (POLLOUT | POLLERR) && srv_outq_flush(&k->out, k->fd, &err) < 0) {
        enclave_gone(k, why, sizeof why);
        return rank_peer_lost(k, why);
    }
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR)) || k->ended) return;
    if (mc2_buf_reserve(&k->in, SRV_CHUNK, &err)) return rank_fault(k, "out of memory");
    size_t want = SRV_IN_MAX - k->in.len < SRV_CHUNK ? SRV_IN_MAX - k->in.len : SRV_CHUNK;
    ssize_t r = read(k->fd, k->in.data + k->in.len, want);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        enclave_gone(k, why, sizeof why);
        return rank_peer_lost(k, why);
    }
    k->in.len += (size_t)r;
    rank_peer_frames(k);
}

static const char *waiting_for(const rank_ctx *k)
{
    switch (k->phase) {
    case RK_HELLO:
        return k->self ? "its enclave's EIF_MESH_HELLO" : "the leader's EIF_MESH_HELLO";
    case RK_GATHER:
        return "the other ranks' hellos";
    case RK_RUN:
        return k->self ? "its enclave's EIF_MESH_END" : "the leader's EIF_MESH_END";
    case RK_DRAIN:
        return "its messages to be taken by the other ranks";
    default:
        return "the other ranks to finish";
    }
}

static void run(rank_ctx *k)
{
    int done = 0;
    while (!done) {
        if (now_ms() > k->deadline_ms) {
            fprintf(stderr, "mc2-rank: rank %d: timed out after %d s waiting for %s\n", k->self,
                    k->timeout_s, waiting_for(k));
            rank_abort(k);
        }
        if (k->fd >= 0 && (!k->peer_gone || srv_outq_pending(&k->out))) {
            peer_turn(k);
        } else {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (k->phase == RK_HELLO && (k->peer_gone || k->fault_here || k->ended))
            rank_gather_start(k, NULL, 0); /* an empty hello: the collective completes */
        if ((k->ended || k->peer_gone) && k->phase == RK_RUN) k->phase = RK_DRAIN;
        if (k->self == 0 && k->ended && k->fd >= 0) { /* nothing goes to mc2d after END */
            close(k->fd);
            k->fd = -1;
        }
        rank_mpi_turn(k);
        if (k->phase == RK_BARRIER) MPI_Test(&k->coll, &done, MPI_STATUS_IGNORE);
    }
}

int main(int argc, char **argv)
{
    static rank_ctx k;
    int ndirs = 0, prc;
    mc2_err err;
    mc2_err_clear(&err);
    k.fd = -1;
    signal(SIGPIPE, SIG_IGN);
    if ((prc = parse_args(&k, argc, argv, &ndirs)) != 0) return prc == 1 ? 0 : 2;
    MPI_Init(&argc, &argv);
    MPI_Comm_dup(MPI_COMM_WORLD, &k.comm);
    MPI_Comm_set_errhandler(k.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(k.comm, &k.self);
    MPI_Comm_size(k.comm, &k.n);
    if (k.n != ndirs) {
        if (k.self == 0)
            fprintf(stderr,
                    "mc2-rank: %d ranks run, but --dirs names %d directories (one per "
                    "rank)\n",
                    k.n, ndirs);
        MPI_Finalize();
        return 2;
    }
    k.deadline_ms = now_ms() + (int64_t)k.timeout_s * 1000;
    int bad = k.self == 0 && leader_connect(&k, &err) != 0;
    if (bad) fprintf(stderr, "mc2-rank: rank 0: %s\n", err.msg);
    if (share_launch(&k, bad)) {
        MPI_Finalize();
        return 1;
    }
    if (k.self != 0 && worker_start(&k, &err)) {
        char why[RANK_FAULT_MAX - 16];
        snprintf(why, sizeof why, "its enclave did not start: %.400s", err.msg);
        rank_peer_lost(&k, why);
    }
    if (k.fd >= 0) {
        int fl = fcntl(k.fd, F_GETFL);
        (void)fcntl(k.fd, F_SETFL, fl | O_NONBLOCK);
    }
    run(&k);
    int ok = k.ended && k.end_ok && !k.fault_here;
    /* What the host saw anyway; bench/run.sh (section cluster) reads it from mesh.log. */
    fprintf(stderr, "mc2-rank: rank %d: sent %llu mesh messages, %llu bytes (%s)\n", k.self,
            (unsigned long long)k.sent_msgs, (unsigned long long)k.sent_bytes,
            ok ? "ok" : "failed");
    if (k.self != 0) mc2_enclave_stop(&k.enc);
    if (k.self == 0 && k.fd >= 0) close(k.fd);
    mc2_tee_close(&k.tee);
    MPI_Comm_free(&k.comm);
    MPI_Finalize();
    return ok ? 0 : 1;
}
