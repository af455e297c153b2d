/* main.c - UNTRUSTED: mc2d's start-up: lock the state directory, recover the store, start
 * the enclave, listen, and tell whoever started us (--ready-fd) that we are ready or why we
 * are not. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/num.h"
#include "base/file.h"
#include "server/server.h"
#include "wire/frame.h"

static const char HELP[] =
    "usage: mc2d --dir STATE --policy FILE [--listen HOST:PORT] [--enclave PATH]\n"
    "            [--budget-mb N] [--ready-fd N] [--idle-timeout S] [--handshake-timeout S]\n"
    "            [--max-conns-per-addr N] [--session-timeout S] [--tee NAME] [--tee-opt OPTS]\n"
    "            [--discard-sealed-state]\n\n"
    "The untrusted mc2 host service: stores ciphertext, relays client sessions to the\n"
    "enclave and answers its storage requests. Normally started by `mc2 start`.\n\n"
    "Limits that keep one client from locking others out (docs/wire-protocol.md):\n"
    "  --idle-timeout S         close a connection, relayed enclave sessions included, after\n"
    "                           S seconds without a byte either way (default 300; 0 = never).\n"
    "                           A client waiting for the enclave's answer counts as idle: raise\n"
    "                           it when jobs run longer than this\n"
    "  --handshake-timeout S    close a connection that has not sent a complete first\n"
    "                           request within S seconds (default 10)\n"
    "  --max-conns-per-addr N   connections one address (IPv4) or /64 (IPv6) may hold at\n"
    "                           once (default 32, at most 256 = all of them)\n"
    "  --session-timeout S      the enclave ends a session whose client sent nothing for S\n"
    "                           seconds, whatever this service does (default 900, 1..86400)\n\n"
    "The trusted execution environment (docs/security.md says what each protects):\n"
    "  --tee NAME               the TEE backend the enclave runs on (default sim: a\n"
    "                           SIMULATION, no hardware protection; tpm: a TPM 2.0 attests\n"
    "                           the launch, the enclave's memory is not protected)\n"
    "  --tee-opt OPTS           the backend's options, key=value,key=value (docs/tee.md;\n"
    "                           tpm: tcti=swtpm:port=2321 or device:/dev/tpmrm0, pcr=23,\n"
    "                           nv_index=0x01500016)\n"
    "\nThe enclave's state (granted keys, jobs) is sealed in STATE/store/enclave/state and\n"
    "checked against the backend's monotonic counter (sim: STATE/enclave.counter; tpm: a TPM\n"
    "NV counter, and the state's key derives from a secret the TPM seals to the launch); the\n"
    "enclave refuses to start when the state was rolled back, deleted or tampered with\n"
    "(docs/security.md, \"Sealed state\"):\n"
    "  --discard-sealed-state   start with an empty state instead: every party grants its key\n"
    "                           again, pending jobs and result keys are lost\n"
    "\nDistributed jobs (`param ranks N`; docs/cluster.md, \"Distributed jobs\"):\n"
    "  --mesh-launcher EXE      run `EXE N STATE/mesh.sock` (its own process group, output\n"
    "                           appended to STATE/mesh.log) to start the job's other N-1\n"
    "                           ranks, typically `exec mpirun ... mc2-rank --leader \"$2\" ...`;\n"
    "                           mc2d listens on STATE/mesh.sock (mode 0600) for mc2-rank's\n"
    "                           rank 0. Without it, a job with ranks >= 2 fails at start\n";

/* Parses option `name`'s decimal value within [lo, hi]; -1 (after saying why) if it is not. */
static int parse_opt(const char *name, const char *v, unsigned long lo, unsigned long hi,
                     unsigned long *out)
{
    if (mc2_parse_ulong(v, lo, hi, out)) return 0;
    fprintf(stderr, "mc2d: --%s wants a number from %lu to %lu, not '%s'\n", name, lo, hi, v);
    return -1;
}

static int listen_on(const char *hostport, mc2_err *err)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host)
        return mc2_err_set(err, MC2_E_USAGE, "--listen wants HOST:PORT, not '%s'", hostport);
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0)
        return mc2_err_set(err, MC2_E_USAGE, "cannot resolve '%s': %s", hostport, gai_strerror(g));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return mc2_err_set(err, MC2_E_IO, "cannot listen on %s: %s%s", hostport, strerror(e),
                           e == EADDRINUSE ? " (another service uses that port: stop it, or "
                                             "choose another with --listen)"
                                           : "");
    }
    freeaddrinfo(res);
    return fd;
}

static void tell(int fd, const char *msg)
{
    if (fd < 0) return;
    mc2_err err;
    if (mc2_write_all(fd, msg, strlen(msg), &err)) { /* the starter is gone */
    }
    close(fd);
}

volatile sig_atomic_t srv_stop_signal;

static void on_stop(int sig)
{
    srv_stop_signal = sig;
}

int main(int argc, char **argv)
{
    static server s;
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"policy", required_argument, 0, 'p'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"enclave", required_argument, 0, 'e'},
                                         {"budget-mb", required_argument, 0, 'b'},
                                         {"ready-fd", required_argument, 0, 'r'},
                                         {"idle-timeout", required_argument, 0, 'i'},
                                         {"handshake-timeout", required_argument, 0, 't'},
                                         {"max-conns-per-addr", required_argument, 0, 'a'},
                                         {"session-timeout", required_argument, 0, 's'},
                                         {"tee", required_argument, 0, 'T'},
                                         {"tee-opt", required_argument, 0, 'O'},
                                         {"discard-sealed-state", no_argument, 0, 'D'},
                                         {"mesh-launcher", required_argument, 0, 'M'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *policy_path = NULL, *listen_addr = "127.0.0.1:7350", *tee = "sim", *tee_opts = NULL;
    char *enclave_path = NULL;
    unsigned long budget = 4096, idle = SRV_IDLE_TIMEOUT_S, handshake = SRV_HANDSHAKE_TIMEOUT_S,
                  per_addr = SRV_MAX_CONNS_PER_ADDR, session_idle = 900;
    int ready_fd = -1, c;
    bool discard = false;
    s.mesh_listen_fd = s.mesh.relay_fd = -1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            s.state = optarg;
            break;
        case 'p':
            policy_path = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'e':
            enclave_path = mc2_strdup(optarg);
            break;
        case 'b':
            budget = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            ready_fd = atoi(optarg);
            break;
        case 'i':
            if (parse_opt("idle-timeout", optarg, 0, 7 * 86400, &idle)) return 2;
            break;
        case 't':
            if (parse_opt("handshake-timeout", optarg, 1, 3600, &handshake)) return 2;
            break;
        case 'a':
            if (parse_opt("max-conns-per-addr", optarg, 1, SRV_MAX_CONNS, &per_addr)) return 2;
            break;
        case 's':
            if (parse_opt("session-timeout", optarg, 1, 86400, &session_idle)) return 2;
            break;
        case 'T':
            tee = optarg;
            break;
        case 'O':
            tee_opts = optarg;
            break;
        case 'D':
            discard = true;
            break;
        case 'M':
            s.mesh_launcher = optarg;
            break;
        case 'h':
            fputs(HELP, stdout);
            return 0;
        default:
            fputs(HELP, stderr);
            return 2;
        }
    }
    if (!s.state || !policy_path || budget == 0 || budget > (1u << 20)) {
        fputs(HELP, stderr);
        return 2;
    }
    if (s.mesh_launcher && access(s.mesh_launcher, X_OK) != 0) {
        fprintf(stderr, "mc2d: --mesh-launcher %s: %s (it must be an executable file)\n",
                s.mesh_launcher, strerror(errno));
        return 2;
    }
    s.idle_ms = (int64_t)idle * 1000;
    s.handshake_ms = (int64_t)handshake * 1000;
    s.max_per_addr = (unsigned)per_addr;
    signal(SIGPIPE, SIG_IGN);
    /* SIGTERM (mc2 stop) and SIGINT end the loop (poll returns EINTR: no SA_RESTART), so the
     * enclave is stopped and the backend closed (a TPM's objects flushed) on the way out. */
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    mc2_err err;
    mc2_err_clear(&err);
    mc2_buf pol = {0};
    char msg[MC2_ERR_MSG_MAX + 16];
    if (!enclave_path) enclave_path = mc2_enclave_default_path();
    char *lock = mc2_path_join(s.state, "mc2d.lock");
    s.store = mc2_path_join(s.state, "store");
    char *tables = s.store ? mc2_path_join(s.store, "tables") : NULL;
    if (!enclave_path || !lock || !tables) {
        mc2_err_set(&err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    if (mc2_mkdir(s.state, 0700, &err) || mc2_mkdir(s.store, 0700, &err) ||
        mc2_mkdir(tables, 0700, &err))
        goto fail;
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        mc2_err_set(&err, MC2_E_EXISTS, "another mc2d already uses %s", s.state);
        goto fail;
    }
    srv_store_recover(&s);
    if (mc2_file_read_all(policy_path, 1 << 20, &pol, &err) ||
        mc2_policy_parse(policy_path, (const char *)pol.data, pol.len, &s.policy, &err) ||
        mc2_tee_open(tee, s.state, tee_opts, &s.tee, &err))
        goto fail;
    s.listen_fd = listen_on(listen_addr, &err);
    if (s.listen_fd < 0 || srv_mesh_init(&s, &err)) goto fail;
    mc2_launch_opts lo = {.budget_mb = (uint32_t)budget,
                          .session_idle_s = (uint32_t)session_idle,
                          .discard_state = discard,
                          .serve = srv_enclave_startup,
                          .ctx = &s};
    if (mc2_enclave_launch(enclave_path, (const char *)pol.data, pol.len, &s.tee, &lo, &s.enclave,
                           &err))
        goto fail;
    fprintf(stderr, "mc2d: listening on %s, enclave pid %d (%s backend: %s)\n", listen_addr,
            (int)s.enclave.pid, s.tee.ops->name, s.tee.ops->banner);
    snprintf(msg, sizeof msg, "ok %d\n", (int)getpid());
    tell(ready_fd, msg);
    int rc = srv_run(&s, &err);
    fprintf(stderr, "mc2d: stopping: %s\n", err.msg);
    srv_puts_abort(&s);
    srv_mesh_stop(&s);
    mc2_enclave_stop(&s.enclave);
    mc2_tee_close(&s.tee);
    return rc ? 1 : 0;
fail:
    srv_mesh_stop(&s);
    mc2_tee_close(&s.tee);
    fprintf(stderr, "mc2d: %s\n", err.msg);
    snprintf(msg, sizeof msg, "error %s\n", err.msg);
    tell(ready_fd, msg);
    return 1;
}
