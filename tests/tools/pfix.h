/* pfix.h - the platform fixture shared by the C platform tests (test_platform_crash.c,
 * test_platform_load.c): a work directory, parties, a consortium policy naming them, and a
 * real mc2d with its sim enclave on a free loopback port (the approach of test_platform.c).
 * Header-only on purpose: each test stays one file, and the helpers are static.
 *
 * mc2d is started with PR_SET_PDEATHSIG, and pfix_init registers an atexit handler, so a
 * test that fails or dies leaves no service behind. A child process of the test (fork) must
 * leave with _exit(), not exit(), so that it does not run the handler. */
#ifndef MC2_TESTS_PFIX_H
#define MC2_TESTS_PFIX_H

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "host/launch.h"
#include "mc2/identity.h"
#include "mc2/policy.h"
#include "mc2/table.h"

/* AddressSanitizer keeps freed memory in quarantine (256 MiB): peak memory then measures how
 * much was ever allocated, not held, and peak-memory checks are skipped (PFIX_UNDER_ASAN). */
#if defined(__SANITIZE_ADDRESS__)
#define PFIX_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PFIX_UNDER_ASAN 1
#endif
#endif
#ifndef PFIX_UNDER_ASAN
#define PFIX_UNDER_ASAN 0
#endif

typedef struct pfix {
    char work[200];
    char state[260];
    char policy_path[260];
    char log[260];
    char service[64];
    mc2_policy *pol;
    pid_t pid;                /* mc2d, or 0 */
    pid_t owner;              /* the process that may stop it (not a forked child) */
    const char *policy_extra; /* YAML appended to the policy pfix_policy writes (or NULL) */
    unsigned budget_mb;       /* mc2d --budget-mb (0: its default) */
} pfix;

static pfix *pfix_current; /* for the atexit handler */

static inline void pfix_die(const char *what, const mc2_err *e)
{
    fprintf(stderr, "setup failed: %s: %s\n", what, e ? e->msg : strerror(errno));
    exit(1);
}

/* A loopback port nobody listens on right now (bind port 0, then release it). */
static inline int pfix_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        pfix_die("free port", NULL);
    close(fd);
    return ntohs(a.sin_port);
}

static inline double pfix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void pfix_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline void pfix_at_exit(void)
{
    pfix *f = pfix_current;
    if (!f || getpid() != f->owner) return;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    if (f->work[0] && !getenv("MC2_KEEP_WORK")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->work);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", f->work);
    }
}

/* Creates /tmp/mc2-NAME.PID (state directory and log inside). */
static inline void pfix_init(pfix *f, const char *name)
{
    mc2_err err;
    memset(f, 0, sizeof *f);
    snprintf(f->work, sizeof f->work, "/tmp/mc2-%s.%d", name, (int)getpid());
    snprintf(f->state, sizeof f->state, "%s/state", f->work);
    snprintf(f->policy_path, sizeof f->policy_path, "%s/consortium.yaml", f->work);
    snprintf(f->log, sizeof f->log, "%s/mc2d.log", f->work);
    f->owner = getpid();
    if (mc2_mkdir(f->work, 0700, &err)) pfix_die("mkdir", &err);
    pfix_current = f;
    atexit(pfix_at_exit);
}

/* Creates party `name` in WORK/name and loads it. */
static inline void pfix_party(pfix *f, const char *name, mc2_identity *id)
{
    mc2_err err;
    char home[300];
    snprintf(home, sizeof home, "%s/%s", f->work, name);
    if (mc2_identity_create(home, name, &err) || mc2_identity_load(home, id, &err))
        pfix_die(name, &err);
}

/* Writes and loads the policy: the enclave built beside mc2d, pinned by its measurement (as
 * `mc2 policy init --enclave` does; checked against its .sig), simulation allowed with this
 * state directory's platform key, the n parties, and those with recipient[i] set as
 * recipients; then f->policy_extra and the YAML lines `extra` (each may be NULL), e.g.
 * "oblivious_tables: [bank-a/x]\n". */
static inline void pfix_policy_ex(pfix *f, const mc2_identity *ids, size_t n, const bool *recipient,
                                  const char *extra)
{
    mc2_err err;
    char enc[512];
    const char *build = getenv("MC2_BUILD");
    snprintf(enc, sizeof enc, "%s/mc2-enclave", build ? build : "build");
    uint8_t psec[32], ppub[32];
    mc2_sigstruct ss;
    if (mc2_sim_platform_key(f->state, psec, ppub, &err) || mc2_enclave_check(enc, &ss, &err))
        pfix_die("platform", &err);
    mc2_wipe(psec, sizeof psec);
    char mhex[65], pkhex[65];
    mc2_hex_encode(ss.measurement, 32, mhex);
    mc2_hex_encode(ppub, 32, pkhex);
    mc2_buf y = {0};
    if (mc2_buf_printf(&y, &err,
                       "consortium: pfix-%d\nenclave:\n  measurements: [%s]\n"
                       "  allow_simulation: true\n  sim_platform_keys: [%s]\n"
                       "parties:\n",
                       (int)getpid(), mhex, pkhex))
        pfix_die("yaml", &err);
    for (size_t i = 0; i < n; i++) {
        if (mc2_buf_printf(&y, &err, "  - name: %s\n    certificate: |\n", ids[i].name))
            pfix_die("yaml", &err);
        for (const char *p = ids[i].cert_pem; *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
            if (mc2_buf_puts(&y, "      ", &err) || mc2_buf_append(&y, p, len, &err))
                pfix_die("yaml", &err);
            p += len;
        }
    }
    if (mc2_buf_puts(&y, "recipients: [", &err)) pfix_die("yaml", &err);
    int first = 1;
    for (size_t i = 0; i < n; i++)
        if (recipient[i]) {
            if (mc2_buf_printf(&y, &err, "%s%s", first ? "" : ", ", ids[i].name))
                pfix_die("yaml", &err);
            first = 0;
        }
    if (mc2_buf_puts(&y, "]\n", &err) ||
        (f->policy_extra && mc2_buf_puts(&y, f->policy_extra, &err)) ||
        (extra && mc2_buf_puts(&y, extra, &err)) ||
        mc2_file_write_atomic(f->policy_path, y.data, y.len, 0644, 0, &err) ||
        mc2_policy_parse("policy", (const char *)y.data, y.len, &f->pol, &err))
        pfix_die("policy", &err);
    mc2_buf_free(&y);
}

static inline void pfix_policy(pfix *f, const mc2_identity *ids, size_t n, const bool *recipient)
{
    pfix_policy_ex(f, ids, n, recipient, NULL);
}

/* Starts mc2d on the state directory (stderr appended to WORK/mc2d.log) with the extra
 * arguments `extra` (NULL-terminated, or NULL) and waits for its ready message. On a port
 * that turned out to be taken, tries another (3 times). Returns 0, or -1 with the reason in
 * msg. */
static inline int pfix_start_args(pfix *f, const char *const *extra, char *msg, size_t msglen)
{
    const char *build = getenv("MC2_BUILD");
    char mc2d[512];
    snprintf(mc2d, sizeof mc2d, "%s/mc2d", build ? build : "build");
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!f->service[0] || attempt > 0)
            snprintf(f->service, sizeof f->service, "127.0.0.1:%d", pfix_free_port());
        int p[2];
        if (pipe(p)) pfix_die("pipe", NULL);
        pid_t pid = fork();
        if (pid < 0) pfix_die("fork", NULL);
        if (pid == 0) {
            char fdarg[16];
            const char *argv[32] = {"mc2d",     "--dir",        f->state,
                                    "--policy", f->policy_path, "--listen",
                                    f->service, "--ready-fd",   fdarg};
            char budget[16];
            snprintf(budget, sizeof budget, "%u", f->budget_mb ? f->budget_mb : 4096);
            size_t n = 9;
            argv[n++] = "--budget-mb";
            argv[n++] = budget;
            for (size_t i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
            argv[n] = NULL;
            close(p[0]);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            FILE *lf = fopen(f->log, "a");
            if (!lf || dup2(fileno(lf), 2) < 0) _exit(127);
            snprintf(fdarg, sizeof fdarg, "%d", p[1]);
            execv(mc2d, (char *const *)argv);
            _exit(127);
        }
        close(p[1]);
        char buf[600] = {0};
        size_t got = 0;
        ssize_t n;
        while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)n;
        close(p[0]);
        if (strncmp(buf, "ok ", 3) == 0) {
            f->pid = pid;
            return 0;
        }
        waitpid(pid, NULL, 0);
        snprintf(msg, msglen, "%s", got ? buf : "mc2d exited without a word");
        if (!strstr(buf, "cannot listen")) break;
    }
    return -1;
}

/* The pid of mc2d's enclave (its child process), or 0. */
static inline pid_t pfix_enclave_pid(const pfix *f)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)f->pid, (int)f->pid);
    FILE *fp = fopen(path, "r");
    long pid = 0;
    if (fp && fgets(buf, sizeof buf, fp)) pid = strtol(buf, NULL, 10);
    if (fp) fclose(fp);
    return (pid_t)pid;
}

/* A "VmHWM:" or "VmRSS:" figure of process pid from /proc/PID/status, in KiB (0: unknown). */
static inline long pfix_proc_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    long kb = 0;
    size_t fl = strlen(field);
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, field, fl) == 0) kb = strtol(line + fl, NULL, 10);
    if (fp) fclose(fp);
    return kb;
}

/* pfix_start_args without extra arguments. */
static inline int pfix_start(pfix *f, char *msg, size_t msglen)
{
    return pfix_start_args(f, NULL, msg, msglen);
}

/* Sends sig to mc2d and reaps it. */
static inline void pfix_stop(pfix *f, int sig)
{
    if (f->pid <= 0) return;
    kill(f->pid, sig);
    waitpid(f->pid, NULL, 0);
    f->pid = 0;
}

/* Encrypts csv as a table of id's (schema: k INT64, v VARCHAR(40)) into out_path; returns its
 * table id in tid. */
static inline int pfix_encrypt(const mc2_identity *id, const char *csv, const char *out_path,
                               uint8_t tid[16], mc2_err *err)
{
    char in[600];
    snprintf(in, sizeof in, "%s.csv", out_path);
    memset(tid, 0, 16);
    mc2_schema *s = NULL;
    static const char schema[] =
        "columns:\n  - {name: k, type: INT64}\n  - {name: v, type: VARCHAR(40)}\n";
    mc2_encrypt_opts o = {0};
    mc2_buf b = {0};
    int rc = mc2_file_write_atomic(in, csv, strlen(csv), 0600, 0, err) ||
                     mc2_schema_parse("schema", schema, sizeof schema - 1, &s, err) ||
                     mc2_table_encrypt_file(in, s, id->data_key, out_path, &o, NULL, err) ||
                     mc2_file_read_all(out_path, 1 << 30, &b, err)
                 ? -1
                 : 0;
    if (rc == 0 && b.len < 24) rc = mc2_err_set(err, MC2_E_INPUT, "'%s' is too short", out_path);
    if (rc == 0) memcpy(tid, b.data + 8, 16);
    mc2_buf_free(&b);
    mc2_schema_free(s);
    unlink(in);
    return rc;
}

/* "k,v\n" and rows 1..n; release with mc2_free. */
static inline char *pfix_csv(size_t n, const char *tag)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_buf_puts(&b, "k,v\n", &err)) pfix_die("csv", &err);
    for (size_t i = 1; i <= n; i++)
        if (mc2_buf_printf(&b, &err, "%zu,%s-%zu\n", i, tag, i)) pfix_die("csv", &err);
    if (mc2_buf_append(&b, "", 1, &err)) pfix_die("csv", &err);
    return (char *)b.data;
}

#endif
