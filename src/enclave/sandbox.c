/* sandbox.c - TRUSTED: the enclave's system-call filter (libseccomp). Allowed: reading the
 * host channel, writing the channel and stderr, memory management, threads, time and the
 * kernel's randomness. (rt_sigaction and sigaltstack: glibc sets up its thread-control
 * signal on the first pthread_create, and sanitizer builds give each thread a signal stack.)
 * open/openat/socket/connect/bind/execve fail with EPERM (so code that tries gets a clean error);
 * anything else kills the process. */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>

#include "enclave/enclave.h"

/* "argument 0 equals v" (spelled out: the SCMP_A0 macro leaves fields implicit). */
static struct scmp_arg_cmp arg0_is(scmp_datum_t v)
{
    struct scmp_arg_cmp c = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
    return c;
}

int enc_sandbox(int fd, mc2_err *err)
{
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!c) return mc2_err_set(err, MC2_E_INTERNAL, "seccomp_init failed");
    static const int plain[] = {
        SCMP_SYS(close),
        SCMP_SYS(mmap),
        SCMP_SYS(munmap),
        SCMP_SYS(mprotect),
        SCMP_SYS(mremap),
        SCMP_SYS(brk),
        SCMP_SYS(madvise),
        SCMP_SYS(futex),
        SCMP_SYS(clone),
        SCMP_SYS(clone3),
        SCMP_SYS(set_robust_list),
        SCMP_SYS(rseq),
        SCMP_SYS(exit),
        SCMP_SYS(exit_group),
        SCMP_SYS(rt_sigprocmask),
        SCMP_SYS(rt_sigreturn),
        SCMP_SYS(getrandom),
        SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday),
        SCMP_SYS(nanosleep),
        SCMP_SYS(clock_nanosleep),
        SCMP_SYS(sched_yield),
        SCMP_SYS(getpid),
        SCMP_SYS(gettid),
        SCMP_SYS(tgkill),
        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),
        SCMP_SYS(prctl),
        SCMP_SYS(sched_getaffinity),
        SCMP_SYS(membarrier),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
    };
    static const int denied[] = {SCMP_SYS(open),   SCMP_SYS(openat),   SCMP_SYS(openat2),
                                 SCMP_SYS(socket), SCMP_SYS(connect),  SCMP_SYS(bind),
                                 SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(creat)};
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, plain[i], 0);
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        rc |= seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    /* read only from the channel; write only to the channel and stderr. */
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, arg0_is((scmp_datum_t)fd));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_is((scmp_datum_t)fd));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_is(2));
    if (rc == 0) rc = seccomp_load(c);
    seccomp_release(c);
    if (rc != 0) return mc2_err_set(err, MC2_E_INTERNAL, "cannot install the seccomp filter");
    return 0;
}
