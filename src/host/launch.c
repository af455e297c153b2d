/* launch.c - UNTRUSTED: start the sim enclave as a child process. */
#include "host/launch.h"

#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "wire/frame.h"
#include "wire/proto.h"

int mc2_enclave_check(const char *path, mc2_sigstruct *ss, mc2_err *err)
{
    uint8_t m[MC2_SHA256_LEN];
    char sig_path[4096];
    mc2_buf b = {0};
    snprintf(sig_path, sizeof sig_path, "%s.sig", path);
    if (mc2_measure_file(path, m, err)) return -1;
    if (mc2_file_read_all(sig_path, 4096, &b, err)) {
        mc2_err_prefix(err, "enclave signature: ");
        return -1;
    }
    int rc = mc2_sigstruct_decode(b.data, b.len, ss, err);
    mc2_buf_free(&b);
    if (rc || mc2_sigstruct_verify(ss, err)) {
        mc2_err_prefix(err, "refusing to start the enclave '%s': ", path);
        return -1;
    }
    if (memcmp(ss->measurement, m, sizeof m) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "refusing to start the enclave '%s': its signature is for another "
                           "build (measurement differs); sign it with `mc2 enclave sign`",
                           path);
    return 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

uint64_t mc2_enclave_as_limit(uint32_t budget_mb)
{
#ifdef SANITIZED
    (void)budget_mb;
    return 0;
#else
    cpu_set_t cpus;
    uint64_t ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? (uint64_t)CPU_COUNT(&cpus) : 1;
    return ((uint64_t)budget_mb + MC2_ENCLAVE_AS_BASE_MB + ncpu * MC2_ENCLAVE_AS_PER_CPU_MB) << 20;
#endif
}

/* Waits for READY (or FATAL) into f, serving the enclave's requests meanwhile; at most 10 s
 * for each message. */
static int wait_ready(mc2_enclave_proc *out, const mc2_launch_opts *o, mc2_frame *f, mc2_err *err)
{
    for (;;) {
        struct pollfd p = {out->fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return mc2_err_set(err, MC2_E_IO, "the enclave did not become ready within 10 s");
        if (mc2_frame_read_fd(out->fd, MC2_FRAME_MAX + 64, f, err))
            return mc2_err_prefix(err, "the enclave failed to start: ");
        if (f->type == EIF_FATAL || f->type == EIF_READY) return 0;
        if (!o->serve)
            return mc2_err_set(err, MC2_E_INPUT, "the enclave sent an unexpected first message");
        if (o->serve(o->ctx, out->fd, f, err)) return -1;
    }
}

int mc2_enclave_launch(const char *path, const char *policy, size_t policy_len, const mc2_tee *tee,
                       const mc2_launch_opts *o, mc2_enclave_proc *out, mc2_err *err)
{
    uint32_t budget_mb = o->budget_mb;
    mc2_sigstruct ss;
    memset(out, 0, sizeof *out);
    out->fd = -1;
    mc2_buf att = {.secret = 1};
    if (mc2_enclave_check(path, &ss, err)) return -1;
    if (tee->ops->prepare(tee->ctx, ss.measurement, &ss, &att, err)) {
        mc2_err_prefix(err, "TEE backend %s: ", tee->ops->name);
        mc2_buf_free(&att);
        return -1;
    }
    uint64_t as = mc2_enclave_as_limit(budget_mb); /* the enclave inherits our CPU mask */
    struct rlimit as_rl = {(rlim_t)as, (rlim_t)as};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        mc2_buf_free(&att);
        return mc2_err_set(err, MC2_E_IO, "socketpair: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        mc2_buf_free(&att);
        return mc2_err_set(err, MC2_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* Child: fd 0 = /dev/null, 1 and 2 = our stderr (the service log), 3 = channel. */
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0 || dup2(sv[1], 3) < 0) _exit(127);
        for (int fd = 4; fd < 1024; fd++) close(fd);
        if (as && setrlimit(RLIMIT_AS, &as_rl) != 0) _exit(127);
        char *argv[] = {(char *)path, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        _exit(127);
    }
    close(sv[1]);
    out->pid = pid;
    out->fd = sv[0];
    mc2_buf init = {.secret = 1};
    mc2_frame f = {0};
    uint8_t ssb[MC2_SIGSTRUCT_LEN];
    mc2_sigstruct_encode(&ss, ssb);
    int rc = -1;
    if (mc2_buf_put_u32(&init, budget_mb, err) || mc2_buf_put_lv(&init, policy, policy_len, err) ||
        mc2_buf_put_lv(&init, ssb, sizeof ssb, err) ||
        mc2_buf_put_lv(&init, att.data, att.len, err) ||
        mc2_buf_put_u32(&init, o->session_idle_s, err) ||
        mc2_buf_put_lv(&init, tee->ops->name, strlen(tee->ops->name), err) ||
        mc2_buf_put_u8(&init, (o->discard_state ? 1 : 0) | (o->worker ? 2 : 0), err) ||
        mc2_frame_write_fd(out->fd, EIF_INIT, 0, init.data, init.len, err) ||
        wait_ready(out, o, &f, err))
        goto out;
    if (f.type == EIF_FATAL) {
        mc2_err_set(err, MC2_E_INTERNAL, "the enclave failed to start: %.*s",
                    (int)(f.payload.len < 800 ? f.payload.len : 800), (const char *)f.payload.data);
        goto out;
    }
    if (f.type != EIF_READY || f.payload.len != 69) {
        mc2_err_set(err, MC2_E_INPUT, "the enclave sent an unexpected first message");
        goto out;
    }
    memcpy(out->measurement, f.payload.data, 32);
    memcpy(out->signer, f.payload.data + 32, 32);
    out->product_id = mc2_le16_get(f.payload.data + 64);
    out->svn = mc2_le16_get(f.payload.data + 66);
    out->simulation = f.payload.data[68] != 0;
    rc = 0;
out:
    mc2_buf_free(&att);
    mc2_buf_free(&init);
    mc2_frame_free(&f);
    if (rc) mc2_enclave_stop(out);
    return rc;
}

void mc2_enclave_stop(mc2_enclave_proc *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    if (p->pid <= 0) return;
    for (int i = 0; i < 200; i++) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

char *mc2_enclave_default_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    return mc2_path_join(dirname(self), "mc2-enclave");
}
