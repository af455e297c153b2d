/* main.c - TRUSTED: mc2-enclave's entry point. Start-up, in this order: make the process
 * non-dumpable and disable core dumps; measure our own binary; warm up OpenSSL (so it needs
 * no file afterwards); install the system-call filter; only then read INIT (which carries
 * the attester's bytes, e.g. the simulated platform key) and serve the host's messages on fd 3
 * until it closes.
 *
 *   host                              enclave
 *   INIT {budget, policy, sigstruct, attester bytes, idle, backend, flags}  ->
 *                                     verify sigstruct against own measurement
 *        <- COUNTER, STORE_SIZE/READ/PUT  (restore the sealed state: persist.c)
 *   STORE_REPLY ->
 *        <- READY {measurement, signer, product, svn, sim}
 *   OPEN/DATA/CLOSE (client sessions) ->   <- OUT/END
 *        <- STORE_READ/SIZE/PUT          STORE_REPLY ->
 *   distributed jobs (meshrt.h): MESH_JOIN (worker), MESH_PEERS/DELIVER/FAIL ->
 *        <- MESH_LAUNCH (leader), MESH_HELLO/SEND/END
 * A worker enclave (INIT flag bit 1) restores no state and serves no session.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "enclave/enclave.h"
#include "enclave/meshrt.h"
#include "wire/proto.h"

#define CHANNEL_FD 3

#if defined(__SANITIZE_ADDRESS__)
/* Test builds only: LeakSanitizer's exit-time check needs ptrace, which the sandbox (rightly)
 * forbids; without this the sanitized enclave would hang at exit. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

static void logf_(const char *msg, const char *detail)
{
    mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_INFO, "%s%s%s", msg, detail ? ": " : "",
            detail ? detail : "");
}

/* Reads INIT, checks our identity, and answers READY. */
static int init(enclave *e, mc2_err *err)
{
    mc2_frame f = {.payload = {.secret = 1}}; /* INIT carries the platform key */
    int rc = -1;
    if (mc2_frame_read_fd(e->fd, 1 << 20, &f, err)) goto out;
    if (f.type != EIF_INIT) {
        mc2_err_set(err, MC2_E_INPUT, "expected INIT from the host, got message type %u", f.type);
        goto out;
    }
    if (enc_init(e, f.payload.data, f.payload.len, err)) goto out;
    /* The instance nonce, counter, keys and jobs: restored from the sealed state, or fresh. */
    if (enc_persist_start(e, e->discard_state, err)) goto out;
    uint8_t ready[32 + 32 + 2 + 2 + 1];
    memcpy(ready, e->measurement, 32);
    mc2_signer_id(e->sigstruct.signer_pub, ready + 32);
    mc2_le16_put(ready + 64, e->sigstruct.product_id);
    mc2_le16_put(ready + 66, e->sigstruct.svn);
    ready[68] = e->att->simulation;
    rc = enc_send(e, EIF_READY, 0, ready, sizeof ready, err);
out:
    mc2_frame_free(&f); /* wipes: it held the platform key */
    return rc;
}

static void *nothing(void *arg)
{
    return arg;
}

/* Loads everything OpenSSL will need, while files can still be opened, and starts one
 * thread so that glibc's one-time thread set-up happens before the filter. */
static int warm_up(mc2_err *err)
{
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
        return mc2_err_set(err, MC2_E_INTERNAL, "cannot start a thread");
    if (!OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL))
        return mc2_err_set(err, MC2_E_CRYPTO, "OpenSSL failed to start");
    uint8_t b[32], pub[32], sec[32], tag[16];
    if (mc2_random(b, sizeof b, err) || mc2_ed25519_keygen(pub, sec, err)) return -1;
    mc2_aead *a = mc2_aead_new(b, err);
    if (!a || mc2_aead_seal(a, b, b, 4, b, sizeof b, b, tag, err)) {
        mc2_aead_free(a);
        return -1;
    }
    mc2_aead_free(a);
    uint8_t k[32];
    if (mc2_hkdf_sha256(b, 32, b, 4, b, 4, k, 32, err)) return -1;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    EVP_PKEY_free(pk);
    SSL_CTX_free(c);
    mc2_wipe(sec, sizeof sec);
    return 0;
}

/* The forbidden calls --sandbox-selftest PROBE makes after installing the filter: each must
 * kill the process with SIGSYS (test_enclave_sandbox), so returning from one is a failure. */
static int selftest_probe(const char *probe, pid_t parent)
{
    long r;
    if (strcmp(probe, "mprotect-exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 1;
        r = mprotect(p, 4096, PROT_READ | PROT_EXEC);
    } else if (strcmp(probe, "mmap-exec") == 0) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        r = p == MAP_FAILED ? -1 : 0;
    } else if (strcmp(probe, "tgkill-other") == 0) {
        r = syscall(SYS_tgkill, (long)parent, (long)parent, 0L); /* signal 0: a probe */
    } else if (strcmp(probe, "prctl-dumpable") == 0) {
        r = prctl(PR_SET_DUMPABLE, 1);
    } else {
        fprintf(stderr, "mc2-enclave: unknown sandbox probe %s\n", probe);
        return 2;
    }
    fprintf(stderr, "%s: allowed (returned %ld)\n", probe, r);
    return 1;
}

/* --sandbox-selftest [PROBE] (tests only): installs the filter, then checks that open,
 * socket and a path lookup fail with EPERM, that the allowed forms of the argument-filtered
 * calls work (mprotect without PROT_EXEC, a signal to its own thread, PR_GET_DUMPABLE), and
 * that the process is not dumpable; or makes the forbidden call PROBE (selftest_probe). */
static int selftest_sandbox(const char *probe)
{
    mc2_err err;
    pid_t parent = getppid(); /* the filter does not allow getppid */
    if (enc_sandbox(CHANNEL_FD, &err)) {
        fprintf(stderr, "mc2-enclave: %s\n", err.msg);
        return 1;
    }
    if (probe) return selftest_probe(probe, parent);
    FILE *f = fopen("/etc/hostname", "r");
    int open_errno = errno;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int sock_errno = errno;
    struct stat st;
    int stat_rc = fstatat(AT_FDCWD, "/etc/hostname", &st, 0);
    int stat_errno = errno;
    int dumpable = prctl(PR_GET_DUMPABLE);
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool rw = p != MAP_FAILED && mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0;
    bool sig = syscall(SYS_tgkill, (long)getpid(), (long)gettid(), 0L) == 0;
    fprintf(stderr,
            "open: %s\nsocket: %s\nstat: %s\ndumpable: %d\nmprotect rw: %s\n"
            "tgkill self: %s\n",
            f ? "allowed" : strerror(open_errno), s >= 0 ? "allowed" : strerror(sock_errno),
            stat_rc == 0 ? "allowed" : strerror(stat_errno), dumpable, rw ? "ok" : "failed",
            sig ? "ok" : "failed");
    return f == NULL && open_errno == EPERM && s < 0 && sock_errno == EPERM && stat_rc != 0 &&
                   stat_errno == EPERM && dumpable == 0 && rw && sig
               ? 0
               : 1;
}

int main(int argc, char **argv)
{
    static enclave e; /* big; keep it off the stack */
    mc2_err err;
    mc2_err_clear(&err);
    e.fd = CHANNEL_FD;
    enc_io_init(&e);
    cpu_set_t cpus;
    e.ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? (unsigned)CPU_COUNT(&cpus) : 1;
    mc2_alloc_exempt_thread(true); /* jobs run under the budget cap, sessions do not */
    /* Query state comes and goes in large blocks (hash tables, row stores): keep freed memory
     * in the process for reuse instead of unmapping it and faulting in zeroed pages again. It
     * stays as private as before (buffers that held secrets are wiped when freed). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);

    struct rlimit no_core = {0, 0};
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || setrlimit(RLIMIT_CORE, &no_core) != 0) {
        logf_("cannot make the process non-dumpable", strerror(errno));
        return 1;
    }
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "--sandbox-selftest") == 0)
        return selftest_sandbox(argc == 3 ? argv[2] : NULL);
    if (argc != 1) {
        fprintf(stderr, "mc2-enclave is started by mc2d, not by hand\n");
        return 2;
    }
    if (mc2_measure_file("/proc/self/exe", e.measurement, &err) || warm_up(&err) ||
        enc_sandbox(e.fd, &err) || init(&e, &err)) {
        char msg[MC2_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err.msg);
        if (enc_send(&e, EIF_FATAL, 0, msg, strlen(msg), &err)) {
            /* The host is gone too; the log line below is all that is left to do. */
        }
        logf_("start-up failed", msg);
        return 1;
    }
    int rc = 0;
    mc2_frame f = {0};
    if (enc_runner_start(&e, &err) || enc_sealer_start(&e, &err)) {
        logf_("stopping", err.msg);
        return 1;
    }
    pthread_mutex_lock(&e.mu); /* the restored jobs: listed for the host, queued again */
    for (size_t i = 0; i < e.njobs; i++) enc_job_publish(&e, e.jobs[i]);
    enc_jobs_advance(&e);
    pthread_mutex_unlock(&e.mu);
    for (;;) {
        bool delivered;
        if (enc_io_read(&e, MC2_FRAME_MAX + 64, &f, &delivered, &err)) {
            if (strcmp(err.msg, "connection closed") != 0) {
                logf_("host channel failed", err.msg);
                rc = 1;
            }
            break;
        }
        if (delivered) continue;
        if (f.type == EIF_STORE_REPLY) { /* a job thread waits for it: no lock needed */
            enc_io_deliver(&e, &f);
            continue;
        }
        if (f.type == EIF_MESH_DELIVER) { /* queued for the job's thread: the box's own lock */
            if (enc_mesh_frame(&e, &f, &err)) {
                logf_("stopping", err.msg);
                rc = 1;
                break;
            }
            continue;
        }
        pthread_mutex_lock(&e.mu);
        int r = enc_dispatch(&e, &f, &err);
        pthread_mutex_unlock(&e.mu);
        if (r) {
            logf_("stopping", err.msg);
            rc = 1;
            break;
        }
    }
    /* A running job's storage requests now fail; the process exits without waiting for it
     * (its keys are wiped below, then the process ends). */
    enc_io_close(&e);
    mc2_frame_free(&f);
    pthread_mutex_lock(&e.mu);
    mc2_wipe(e.keys, sizeof e.keys);
    if (e.att) e.att->fini(&e);
    mc2_wipe(e.att_secret, sizeof e.att_secret);
    return rc;
}
