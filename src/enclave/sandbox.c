/* sandbox.c - TRUSTED: the enclave's system-call filter (libseccomp). Allowed: reading the
 * host channel, writing the channel and stderr, memory management (never executable memory),
 * threads, signals to its own threads, time and the kernel's randomness. (rt_sigaction and
 * sigaltstack: glibc sets up its thread-control signal on the first pthread_create, and
 * sanitizer builds give each thread a signal stack.) open/openat/socket/connect/bind/execve
 * and newfstatat (a path lookup) fail with EPERM (so code that tries gets a clean error);
 * anything else kills the process. docs/enclave-interface.md section 1 lists every rule;
 * test_enclave_sandbox compares that table with this file and probes the argument rules. */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "enclave/enclave.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41 /* Linux 5.17 */
#endif

/* "argument 0 equals v" (spelled out: the SCMP_A0 macro leaves fields implicit). */
static struct scmp_arg_cmp arg0_is(scmp_datum_t v)
{
    struct scmp_arg_cmp c = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
    return c;
}

/* "argument i has none of the bits in mask". */
static struct scmp_arg_cmp arg_without(unsigned i, scmp_datum_t mask)
{
    struct scmp_arg_cmp c = {.arg = i, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = 0};
    return c;
}

/* The rules with argument conditions: memory never executable (a code-execution bug cannot
 * map new code), signals only to this process's own threads, and prctl only for what the
 * enclave and glibc ask (PR_GET_DUMPABLE: the self-test; PR_SET_VMA: glibc >= 2.39 names its
 * mappings and ignores a failure): never PR_SET_DUMPABLE, so the process stays undumpable. */
static int add_arg_rules(scmp_filter_ctx c, int fd)
{
    int rc = 0;
    /* read only from the channel; write only to the channel and stderr. */
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, arg0_is((scmp_datum_t)fd));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_is((scmp_datum_t)fd));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, arg0_is(2));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, arg_without(2, PROT_EXEC));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, arg_without(2, PROT_EXEC));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg0_is((scmp_datum_t)getpid()));
    rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg0_is(PR_GET_DUMPABLE));
    rc |= seccomp_rule_add(c, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(prctl), 1, arg0_is(PR_SET_VMA));
    return rc;
}

int enc_sandbox(int fd, mc2_err *err)
{
    scmp_filter_ctx c = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!c) return mc2_err_set(err, MC2_E_INTERNAL, "seccomp_init failed");
    static const int plain[] = {
        SCMP_SYS(close),
        SCMP_SYS(munmap),
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
        SCMP_SYS(fstat),
        SCMP_SYS(sched_getaffinity),
        SCMP_SYS(membarrier),
        SCMP_SYS(rt_sigaction),
        SCMP_SYS(sigaltstack),
        SCMP_SYS(poll),
        SCMP_SYS(ppoll),
    };
    static const int denied[] = {SCMP_SYS(open),      SCMP_SYS(openat),   SCMP_SYS(openat2),
                                 SCMP_SYS(socket),    SCMP_SYS(connect),  SCMP_SYS(bind),
                                 SCMP_SYS(execve),    SCMP_SYS(execveat), SCMP_SYS(creat),
                                 SCMP_SYS(newfstatat)};
    int rc = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        rc |= seccomp_rule_add(c, SCMP_ACT_ALLOW, plain[i], 0);
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        rc |= seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), denied[i], 0);
    rc |= add_arg_rules(c, fd);
    if (rc == 0) rc = seccomp_load(c);
    seccomp_release(c);
    if (rc != 0) return mc2_err_set(err, MC2_E_INTERNAL, "cannot install the seccomp filter");
    return 0;
}
