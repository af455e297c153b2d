/* cmd_cluster.c - `mc2 cluster init|up|status|down`: one mc2d (with its sim enclave) per host
 * of an Open MPI hostfile, started and stopped over plain OpenSSH (BatchMode), nothing else.
 *
 * Contract. The hostfile is Open MPI's: one host a line, `slots=N` and other Open MPI keys
 * are accepted and ignored, `#` starts a comment. mc2's own settings for a host go in a
 * comment that starts with `mc2:` (`node1 slots=4  # mc2: port=7401 dir=/srv/mc2`), so the
 * same file stays valid for `mpirun --hostfile`. On each host, over ssh, `up` runs
 * `mc2 service init --dir DIR` (the host's own sim platform key, which never leaves it; only
 * its public half is read back and must be in the policy's sim_platform_keys), writes the
 * policy (public) to DIR/cluster-policy.yaml and runs `mc2 start` listening on the host's
 * address; the first host (the leader) also gets the hostfile (DIR/cluster-hosts) and a mesh
 * launcher (DIR/mesh-launch.sh, `mc2 start --mesh-launcher`) that runs mpirun over the same
 * ssh set-up, one mc2-rank per host, rank r with host r's DIR. Nothing secret is copied. The local
 * STATE/cluster.conf records the hosts, so that `status` and `down` need only --dir STATE. `down`
 * is idempotent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli.h"
#include "conn/conn.h"
#include "mc2/policy.h"
#include "wire/proto.h"

#define CL_MAX_HOSTS    64
#define CL_DEFAULT_PORT "7350" /* the port of MC2_DEFAULT_SERVICE, on every host */
#define CL_PATH_MAX     1024
#define CL_DEFAULT_DIR  ".mc2-cluster" /* relative to the login's home on each host */
#define CL_SSH_TIMEOUT  60             /* seconds for one ssh command */
#define CL_OUT_MAX      (64 * 1024)    /* bytes kept of a remote command's output */

typedef struct cl_host {
    char dest[256]; /* the ssh destination as written in the hostfile ([user@]host) */
    char addr[256]; /* the host part: where its mc2d listens */
    unsigned port;
    char dir[CL_PATH_MAX]; /* the service state directory on that host */
} cl_host;

typedef struct cl_cluster {
    cl_host h[CL_MAX_HOSTS];
    size_t n;
    char mc2[CL_PATH_MAX];        /* the mc2 command on the hosts */
    char ssh_config[CL_PATH_MAX]; /* ssh -F FILE, or "" */
} cl_cluster;

static const char CLUSTER_HELP[] =
    "usage: mc2 cluster init   --hostfile FILE [--port N] [--remote-dir DIR] [--remote-mc2 CMD]\n"
    "                          [--ssh-config FILE]\n"
    "       mc2 cluster up     --hostfile FILE --policy FILE --dir STATE [--port N]\n"
    "                          [--remote-dir DIR] [--remote-mc2 CMD] [--ssh-config FILE]\n"
    "       mc2 cluster status --dir STATE\n"
    "       mc2 cluster down   --dir STATE\n\n"
    "Runs one mc2d service (with its sim enclave) on every host of an Open MPI hostfile, over\n"
    "ssh (BatchMode: keys, no passwords). Hostfile lines: `HOST [slots=N]`, `#` comments; mc2's\n"
    "own per-host settings in a comment `# mc2: port=N dir=PATH`, so the file still works with\n"
    "`mpirun --hostfile`. Defaults: --port " CL_DEFAULT_PORT
    " on every host, --remote-dir " CL_DEFAULT_DIR
    " (in the login's home), --remote-mc2 mc2 (in the host's PATH).\n"
    "init:   prepares each host's state directory and prints its SIMULATED platform key; list\n"
    "        every key in the policy (`mc2 policy init --sim-platform-key HEX` once per host).\n"
    "up:     init, check every host's key is in the policy, copy the policy (public), start\n"
    "        mc2d on HOST:PORT; all or nothing (hosts already started are stopped on failure).\n"
    "        The first host (the leader) runs distributed jobs (param ranks N): its mc2d gets\n"
    "        DIR/mesh-launch.sh, which runs `mpirun --hostfile DIR/cluster-hosts` over ssh\n"
    "        (with --ssh-config's file, read on the leader too) and mc2-rank beside\n"
    "        --remote-mc2; every host needs Open MPI and TCP to the others (docs/cluster.md).\n"
    "        Records the hosts in STATE/cluster.conf, the launcher in STATE/mesh-launch.sh.\n"
    "status: asks each host's service what it runs (unverified: `mc2 attest --service\n"
    "        HOST:PORT` proves it); exit 1 if any host's service does not answer.\n"
    "down:   stops every host's mc2d; hosts already stopped are reported, not an error.\n"
    "See docs/cluster.md.\n";

/* ---- hostfile and state --------------------------------------------------------------------- */

/* A value we put into a remote shell command or the state file: printable, no tab/newline. */
static int cl_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

static int cl_set_host(cl_host *h, const char *dest, size_t len)
{
    if (len == 0 || len >= sizeof h->dest) return -1;
    memcpy(h->dest, dest, len);
    h->dest[len] = '\0';
    if (h->dest[0] == '-' || !cl_safe(h->dest)) return -1;
    const char *at = strrchr(h->dest, '@');
    snprintf(h->addr, sizeof h->addr, "%s", at ? at + 1 : h->dest);
    return h->addr[0] ? 0 : -1;
}

/* Parses the `mc2:` settings of a hostfile comment into h. */
static int cl_parse_ext(unsigned line, char *s, cl_host *h)
{
    for (char *tok = strtok(s, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        if (strncmp(tok, "port=", 5) == 0) {
            char *end;
            unsigned long p = strtoul(tok + 5, &end, 10);
            if (*end || p == 0 || p > 65535)
                return cli_usage("cluster", "hostfile line %u: bad port in '%s' (1..65535)", line,
                                 tok);
            h->port = (unsigned)p;
        } else if (strncmp(tok, "dir=", 4) == 0 && tok[4]) {
            if (strlen(tok + 4) >= sizeof h->dir)
                return cli_usage("cluster", "hostfile line %u: dir too long", line);
            snprintf(h->dir, sizeof h->dir, "%s", tok + 4);
        } else {
            return cli_usage("cluster",
                             "hostfile line %u: unknown mc2 setting '%s' (port=N, dir=PATH)", line,
                             tok);
        }
    }
    return 0;
}

static int cl_read_hostfile(const char *path, unsigned port, const char *dir, cl_cluster *c)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_file_read_all(path, 1 << 20, &b, &err) || mc2_buf_append(&b, "", 1, &err)) {
        mc2_buf_free(&b);
        return cli_fail(&err);
    }
    int rc = 0;
    unsigned line = 0;
    c->n = 0;
    for (char *p = (char *)b.data, *nl; p && *p && rc == 0; p = nl) {
        nl = strchr(p, '\n');
        if (nl) *nl++ = '\0';
        line++;
        char *hash = strchr(p, '#'), *ext = NULL;
        if (hash) {
            *hash = '\0';
            char *m = hash + 1;
            while (*m == ' ' || *m == '\t') m++;
            if (strncmp(m, "mc2:", 4) == 0) ext = m + 4;
        }
        char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        size_t len = strcspn(q, " \t\r");
        if (len == 0) {
            if (ext)
                rc = cli_usage("cluster", "hostfile line %u: mc2 settings without a host", line);
            continue;
        }
        if (c->n == CL_MAX_HOSTS) {
            rc = cli_usage("cluster", "%s: more than %d hosts (line %u)", path, CL_MAX_HOSTS, line);
            break;
        }
        cl_host *h = &c->h[c->n];
        memset(h, 0, sizeof *h);
        if (cl_set_host(h, q, len)) {
            rc = cli_usage("cluster", "hostfile line %u: '%.*s' is not a host name", line, (int)len,
                           q);
            break;
        }
        /* Open MPI keys (slots=, max_slots=, ...) are mpirun's business: not checked here. */
        h->port = port;
        snprintf(h->dir, sizeof h->dir, "%s", dir);
        if (ext && (rc = cl_parse_ext(line, ext, h)) != 0) break;
        if (!cl_safe(h->dir)) rc = cli_usage("cluster", "hostfile line %u: bad dir", line);
        for (size_t i = 0; i < c->n && rc == 0; i++)
            if (strcmp(c->h[i].addr, h->addr) == 0 && c->h[i].port == h->port &&
                strcmp(c->h[i].dir, h->dir) == 0)
                rc = cli_usage("cluster",
                               "hostfile line %u: host '%s' twice with the same port and dir", line,
                               h->addr);
        c->n++;
    }
    mc2_buf_free(&b);
    if (rc == 0 && c->n == 0) rc = cli_usage("cluster", "hostfile %s names no host", path);
    return rc;
}

static char *cl_state_path(const char *dir)
{
    return mc2_path_join(dir, "cluster.conf");
}

static int cl_write_state(const char *dir, const cl_cluster *c, mc2_err *err)
{
    mc2_buf y = {0};
    char *path = cl_state_path(dir);
    int rc = !path || mc2_mkdir(dir, 0700, err) ||
             mc2_buf_printf(
                 &y, err, "# mc2 cluster (written by `mc2 cluster up`)\nmc2\t%s\nssh_config\t%s\n",
                 c->mc2, c->ssh_config[0] ? c->ssh_config : "-");
    for (size_t i = 0; i < c->n && rc == 0; i++)
        rc = mc2_buf_printf(&y, err, "host\t%s\t%u\t%s\n", c->h[i].dest, c->h[i].port, c->h[i].dir);
    if (rc == 0) rc = mc2_file_write_atomic(path, y.data, y.len, 0600, 0, err);
    if (!path) rc = mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_buf_free(&y);
    mc2_free(path);
    return rc;
}

/* Reads STATE/cluster.conf (checked like any file: it may have been edited). */
static int cl_read_state(const char *dir, cl_cluster *c)
{
    char *path = cl_state_path(dir);
    mc2_buf b = {0};
    mc2_err err;
    int rc = CLI_FAIL;
    memset(c, 0, sizeof *c);
    if (!path || mc2_file_read_all(path, 1 << 20, &b, &err) || mc2_buf_append(&b, "", 1, &err)) {
        fprintf(stderr, "mc2: no cluster recorded in %s (start one with `mc2 cluster up`)\n", dir);
        goto out;
    }
    unsigned line = 0;
    for (char *p = (char *)b.data, *nl; p && *p; p = nl) {
        nl = strchr(p, '\n');
        if (nl) *nl++ = '\0';
        line++;
        char *f[4] = {0};
        size_t nf = 0;
        for (char *t = p; t && nf < 4; nf++) {
            f[nf] = t;
            t = strchr(t, '\t');
            if (t) *t++ = '\0';
        }
        if (p[0] == '#' || p[0] == '\0') continue;
        if (nf == 2 && strcmp(f[0], "mc2") == 0 && strlen(f[1]) < sizeof c->mc2) {
            snprintf(c->mc2, sizeof c->mc2, "%s", f[1]);
        } else if (nf == 2 && strcmp(f[0], "ssh_config") == 0 &&
                   strlen(f[1]) < sizeof c->ssh_config) {
            snprintf(c->ssh_config, sizeof c->ssh_config, "%s", strcmp(f[1], "-") ? f[1] : "");
        } else if (nf == 4 && strcmp(f[0], "host") == 0 && c->n < CL_MAX_HOSTS &&
                   cl_set_host(&c->h[c->n], f[1], strlen(f[1])) == 0 &&
                   strlen(f[3]) < sizeof c->h[c->n].dir && atoi(f[2]) > 0 && atoi(f[2]) < 65536) {
            c->h[c->n].port = (unsigned)atoi(f[2]);
            snprintf(c->h[c->n].dir, sizeof c->h[c->n].dir, "%s", f[3]);
            c->n++;
        } else {
            fprintf(stderr, "mc2: %s line %u is malformed; run `mc2 cluster up` again\n", path,
                    line);
            goto out;
        }
    }
    if (c->n == 0 || !c->mc2[0])
        fprintf(stderr, "mc2: %s names no host; run `mc2 cluster up` again\n", path);
    else
        rc = CLI_OK;
out:
    mc2_buf_free(&b);
    mc2_free(path);
    return rc;
}

int cli_cluster_services(const char *dir, char (*out)[CLI_HOSTPORT_MAX], size_t max, size_t *n)
{
    cl_cluster c;
    if (cl_read_state(dir, &c) != CLI_OK) return -1;
    *n = 0;
    for (size_t i = 0; i < c.n && i < max; i++) {
        int w = snprintf(out[i], CLI_HOSTPORT_MAX, "%s:%u", c.h[i].addr, c.h[i].port);
        if (w < 0 || w >= CLI_HOSTPORT_MAX) return -1;
        (*n)++;
    }
    return c.n <= max ? 0 : -1;
}

/* ---- ssh ------------------------------------------------------------------------------------ */

/* Appends s to b single-quoted for a POSIX shell. */
static int sq(mc2_buf *b, const char *s, mc2_err *err)
{
    if (mc2_buf_puts(b, "'", err)) return -1;
    for (; *s; s++)
        if (*s == '\'' ? mc2_buf_puts(b, "'\\''", err) : mc2_buf_append(b, s, 1, err)) return -1;
    return mc2_buf_puts(b, "'", err);
}

static void cl_drain(int fd, mc2_buf *b, int *open_)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    mc2_err err;
    if (r > 0) { /* kept up to CL_OUT_MAX (and while memory lasts); the rest is dropped */
        bool kept = b->len + (size_t)r < CL_OUT_MAX && mc2_buf_append(b, tmp, (size_t)r, &err) == 0;
        (void)kept;
        return;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    *open_ = 0;
}

/* Runs `ssh -o BatchMode=yes ... DEST -- CMD` with stdin from in_path (NULL: /dev/null).
 * Returns the exit status (255: ssh itself failed: unreachable, refused, auth), or -1 if it
 * could not be run or took longer than CL_SSH_TIMEOUT (then it is killed). stdout and stderr
 * are collected (NUL-terminated, truncated to CL_OUT_MAX). */
static int ssh_run(const cl_cluster *c, const cl_host *h, const char *cmd, const char *in_path,
                   mc2_buf *out, mc2_buf *errb)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, status = -1;
    mc2_err err;
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) goto out;
    pid_t pid = fork();
    if (pid < 0) goto out;
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0) _exit(126);
        const char *argv[16];
        size_t k = 0;
        argv[k++] = "ssh";
        argv[k++] = "-o";
        argv[k++] = "BatchMode=yes";
        argv[k++] = "-o";
        argv[k++] = "ConnectTimeout=5";
        if (c->ssh_config[0]) {
            argv[k++] = "-F";
            argv[k++] = c->ssh_config;
        }
        argv[k++] = "--";
        argv[k++] = h->dest;
        argv[k++] = cmd;
        argv[k] = NULL;
        execvp("ssh", (char *const *)argv);
        fprintf(stderr, "cannot run ssh: %s (install the OpenSSH client)\n", strerror(errno));
        _exit(126);
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    int oo = 1, eo = 1;
    time_t deadline = time(NULL) + CL_SSH_TIMEOUT;
    while ((oo || eo) && time(NULL) < deadline) {
        struct pollfd pf[2] = {{oo ? po[0] : -1, POLLIN, 0}, {eo ? pe[0] : -1, POLLIN, 0}};
        if (poll(pf, 2, 1000) < 0 && errno != EINTR) break;
        if (pf[0].revents) cl_drain(po[0], out, &oo);
        if (pf[1].revents) cl_drain(pe[0], errb, &eo);
    }
    if (oo || eo) kill(pid, SIGKILL);
    int ws;
    if (waitpid(pid, &ws, 0) == pid && !(oo || eo) && WIFEXITED(ws)) status = WEXITSTATUS(ws);
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0) close(po[i]);
        if (pe[i] >= 0) close(pe[i]);
    }
    if (mc2_buf_append(out, "", 1, &err) == 0) out->len--;
    if (mc2_buf_append(errb, "", 1, &err) == 0) errb->len--;
    return status;
}

/* The last non-empty line of s (remote stderr), in buf, without a leading "mc2: ". */
static const char *last_line(const mc2_buf *s, char *buf, size_t n)
{
    const char *t = s->data ? (const char *)s->data : "";
    size_t len = s->len;
    while (len && (t[len - 1] == '\n' || t[len - 1] == '\r')) len--;
    size_t st = len;
    while (st && t[st - 1] != '\n') st--;
    if (len - st >= 5 && strncmp(t + st, "mc2: ", 5) == 0) st += 5;
    snprintf(buf, n, "%.*s", (int)(len - st), t + st);
    return buf;
}

/* Runs `PRE MC2 ARGS...` on host h. Returns 0 if mc2 ran there: *remote_rc is -1 if it
 * succeeded, else its exit status (the caller reads its stderr to say why). Returns -1, with
 * an error naming the host printed, if ssh failed, mc2 is missing there, or it timed out. */
static int remote_mc2(const cl_cluster *c, const cl_host *h, const char *pre, const char *args,
                      const char *in_path, mc2_buf *out, mc2_buf *errb, int *remote_rc)
{
    mc2_buf cmd = {0};
    mc2_err err;
    char line[600];
    int rc = -1;
    *remote_rc = -1;
    if (mc2_buf_puts(&cmd, pre ? pre : "", &err) || sq(&cmd, c->mc2, &err) ||
        mc2_buf_printf(&cmd, &err, " %s", args) || mc2_buf_append(&cmd, "", 1, &err)) {
        fprintf(stderr, "mc2: out of memory\n");
        goto out;
    }
    int st = ssh_run(c, h, (const char *)cmd.data, in_path, out, errb);
    if (st == 0) {
        rc = 0;
    } else if (st == 255) {
        fprintf(stderr,
                "mc2: host %s: ssh failed: %s\n  (check that the host is up, that its sshd "
                "runs, and that `ssh -o BatchMode=yes %s true` logs in with a key)\n",
                h->dest, errb->len ? last_line(errb, line, sizeof line) : "no reason given",
                h->dest);
    } else if (st == 127 || st == 126) {
        fprintf(stderr,
                "mc2: host %s: mc2 is not installed there (cannot run '%s': %s)\n  (install it "
                "on every host with `make install`, or give --remote-mc2 PATH)\n",
                h->dest, c->mc2, last_line(errb, line, sizeof line));
    } else if (st < 0) {
        fprintf(stderr, "mc2: host %s: the ssh command did not finish within %d s\n", h->dest,
                CL_SSH_TIMEOUT);
    } else {
        *remote_rc = st; /* mc2 itself ran and failed: the caller says why */
        rc = 0;
    }
out:
    mc2_buf_free(&cmd);
    return rc;
}

/* "--dir 'DIR'" (+ more) for a remote mc2 command line. */
static int dir_args(mc2_buf *a, const char *opt, const char *dir, mc2_err *err)
{
    return mc2_buf_printf(a, err, " %s ", opt) || sq(a, dir, err);
}

/* ---- init / up ------------------------------------------------------------------------------ */

/* `mc2 service init` on host h: its sim platform public key into pub. */
static int host_init(const cl_cluster *c, const cl_host *h, uint8_t pub[32])
{
    mc2_buf a = {0}, out = {0}, eb = {0};
    mc2_err err;
    char line[600];
    int rrc, rc = -1;
    if (mc2_buf_puts(&a, "service init", &err) || dir_args(&a, "--dir", h->dir, &err) ||
        mc2_buf_append(&a, "", 1, &err))
        goto out;
    if (remote_mc2(c, h, NULL, (const char *)a.data, NULL, &out, &eb, &rrc)) goto out;
    if (rrc >= 0) {
        fprintf(stderr, "mc2: host %s: cannot prepare %s: %s\n", h->dest, h->dir,
                last_line(&eb, line, sizeof line));
        goto out;
    }
    while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r')) out.len--;
    if (out.data) out.data[out.len] = '\0';
    if (out.len != 64 || mc2_hex_decode((const char *)out.data, pub, 32) != 0) {
        fprintf(stderr, "mc2: host %s: `mc2 service init` did not print a platform key\n", h->dest);
        goto out;
    }
    rc = 0;
out:
    mc2_buf_free(&a);
    mc2_buf_free(&out);
    mc2_buf_free(&eb);
    return rc;
}

/* A relative state directory (relative to the login's home) made absolute, as host h sees it:
 * mpirun starts mc2-rank in another working directory. */
static int host_abs_dir(const cl_cluster *c, cl_host *h)
{
    mc2_buf cmd = {0}, out = {0}, eb = {0};
    mc2_err err;
    int rc = -1;
    if (h->dir[0] == '/') return 0;
    if (mc2_buf_puts(&cmd, "cd ", &err) || sq(&cmd, h->dir, &err) ||
        mc2_buf_puts(&cmd, " && pwd", &err) || mc2_buf_append(&cmd, "", 1, &err))
        goto out;
    if (ssh_run(c, h, (const char *)cmd.data, NULL, &out, &eb) == 0) {
        while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r'))
            out.len--;
        if (out.len && out.len < sizeof h->dir && out.data[0] == '/' &&
            !memchr(out.data, '\n', out.len)) {
            memcpy(h->dir, out.data, out.len);
            h->dir[out.len] = '\0';
            rc = cl_safe(h->dir) ? 0 : -1;
        }
    }
    if (rc) fprintf(stderr, "mc2: host %s: cannot find the absolute path of %s\n", h->dest, h->dir);
out:
    mc2_buf_free(&cmd);
    mc2_buf_free(&out);
    mc2_buf_free(&eb);
    return rc;
}

/* `mc2 stop` on host h. Returns 0 stopped, 1 was not running, -1 failure (printed). */
static int host_stop(const cl_cluster *c, const cl_host *h)
{
    mc2_buf a = {0}, out = {0}, eb = {0};
    mc2_err err;
    char line[600];
    int rrc, rc = -1;
    if (mc2_buf_puts(&a, "stop", &err) || dir_args(&a, "--dir", h->dir, &err) ||
        mc2_buf_append(&a, "", 1, &err))
        goto out;
    if (remote_mc2(c, h, NULL, (const char *)a.data, NULL, &out, &eb, &rrc)) goto out;
    if (rrc < 0) {
        rc = 0;
    } else if (strstr((const char *)eb.data, "no running service") ||
               strstr((const char *)eb.data, "is not running")) {
        rc = 1;
    } else {
        fprintf(stderr, "mc2: host %s: cannot stop mc2d: %s\n", h->dest,
                last_line(&eb, line, sizeof line));
    }
out:
    mc2_buf_free(&a);
    mc2_buf_free(&out);
    mc2_buf_free(&eb);
    return rc;
}

/* Writes the policy to DIR/cluster-policy.yaml on host h and starts mc2d on ADDR:PORT (with
 * --mesh-launcher LAUNCHER, a path on that host, if not NULL). */
static int host_start(const cl_cluster *c, const cl_host *h, const char *policy,
                      const char *launcher)
{
    mc2_buf pre = {0}, a = {0}, out = {0}, eb = {0}, pol = {0};
    mc2_err err;
    char line[600], listen[300];
    int rrc, rc = -1;
    snprintf(listen, sizeof listen, "%s:%u", h->addr, h->port);
    if (mc2_buf_puts(&pol, h->dir, &err) || mc2_buf_puts(&pol, "/cluster-policy.yaml", &err) ||
        mc2_buf_append(&pol, "", 1, &err) || mc2_buf_puts(&pre, "cat > ", &err) ||
        sq(&pre, (const char *)pol.data, &err) || mc2_buf_puts(&pre, " && ", &err) ||
        mc2_buf_append(&pre, "", 1, &err) || mc2_buf_puts(&a, "start", &err) ||
        dir_args(&a, "--dir", h->dir, &err) ||
        dir_args(&a, "--policy", (const char *)pol.data, &err) ||
        dir_args(&a, "--listen", listen, &err) ||
        (launcher && dir_args(&a, "--mesh-launcher", launcher, &err)) ||
        mc2_buf_append(&a, "", 1, &err))
        goto out;
    if (remote_mc2(c, h, (const char *)pre.data, (const char *)a.data, policy, &out, &eb, &rrc))
        goto out;
    if (rrc >= 0) {
        /* mc2 start's reason (port in use, directory in use, ...) and where its log is */
        const char *e = eb.len ? (const char *)eb.data : "";
        const char *why = strstr(e, "did not start: ");
        char reason[600];
        snprintf(reason, sizeof reason, "%s", why ? why + 15 : last_line(&eb, line, sizeof line));
        reason[strcspn(reason, "\n")] = '\0';
        fprintf(stderr, "mc2: host %s: mc2d did not start on %s: %s\n", h->dest, listen, reason);
        goto out;
    }
    printf("%s: mc2d running on %s (state %s)\n", h->dest, listen, h->dir);
    rc = 0;
out:
    mc2_buf_free(&pre);
    mc2_buf_free(&a);
    mc2_buf_free(&out);
    mc2_buf_free(&eb);
    mc2_buf_free(&pol);
    return rc;
}

/* ---- the leader's mesh launcher ------------------------------------------------------------- */

#define CL_LAUNCHER "mesh-launch.sh"
#define CL_HOSTS    "cluster-hosts"

/* Writes the local file in_path to PATH on host h (`cat > PATH`, then chmod MODE). */
static int host_put(const cl_cluster *c, const cl_host *h, const char *in_path, const char *path,
                    const char *mode)
{
    mc2_buf cmd = {0}, out = {0}, eb = {0};
    mc2_err err;
    char line[600];
    int rc = -1;
    if (mc2_buf_puts(&cmd, "umask 077 && cat > ", &err) || sq(&cmd, path, &err) ||
        mc2_buf_printf(&cmd, &err, " && chmod %s ", mode) || sq(&cmd, path, &err) ||
        mc2_buf_append(&cmd, "", 1, &err)) {
        fprintf(stderr, "mc2: out of memory\n");
        goto out;
    }
    int st = ssh_run(c, h, (const char *)cmd.data, in_path, &out, &eb);
    if (st == 0)
        rc = 0;
    else
        fprintf(stderr, "mc2: host %s: cannot write %s: %s\n", h->dest, path,
                st == 255 ? "ssh failed" : last_line(&eb, line, sizeof line));
out:
    mc2_buf_free(&cmd);
    mc2_buf_free(&out);
    mc2_buf_free(&eb);
    return rc;
}

/* The mc2-rank program on the hosts: beside the hosts' mc2 if that is a path, else in PATH. */
static int rank_path(const cl_cluster *c, mc2_buf *b, mc2_err *err)
{
    const char *slash = strrchr(c->mc2, '/');
    size_t n = slash ? (size_t)(slash - c->mc2) + 1 : 0;
    return mc2_buf_append(b, c->mc2, n, err) || mc2_buf_puts(b, "mc2-rank", err) ||
           mc2_buf_append(b, "", 1, err);
}

/* What mpirun and mc2-rank split: no ',' in a state directory (--dirs D0,D1,...), no space or
 * quote in the ssh config's path (Open MPI splits its ssh command at spaces). A host named
 * twice only gets a note: the cluster's services work, its distributed jobs do not. */
static int launcher_checkable(const cl_cluster *c)
{
    for (size_t i = 1; i < c->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->h[i].addr, c->h[j].addr) == 0) {
                fprintf(stderr,
                        "mc2: note: host %s is named twice: mpirun runs one rank per host, so "
                        "distributed jobs cannot use both of its services\n",
                        c->h[i].addr);
                break;
            }
    for (size_t i = 0; i < c->n; i++)
        if (strchr(c->h[i].dir, ',')) {
            fprintf(stderr,
                    "mc2: host %s: its state directory '%s' contains ',', which mc2-rank's "
                    "--dirs list cannot carry; choose another dir= in the hostfile\n",
                    c->h[i].dest, c->h[i].dir);
            return -1;
        }
    if (strpbrk(c->ssh_config, " \t'\"\\")) {
        fprintf(stderr,
                "mc2: --ssh-config '%s': Open MPI's ssh command cannot carry a path "
                "with spaces or quotes; move the file\n",
                c->ssh_config);
        return -1;
    }
    return 0;
}

/* The launcher script (docs/cluster.md, "Distributed jobs"): mc2d runs it as `SCRIPT N
 * SOCKET`; it runs mc2-rank on the first N hosts of the hostfile, one per host, rank r with
 * host r's state directory. */
static int launcher_text(const cl_cluster *c, mc2_buf *b, mc2_err *err)
{
    const cl_host *l = &c->h[0];
    mc2_buf agent = {0}, dirs = {0}, hosts = {0}, rank = {0};
    int rc = rank_path(c, &rank, err) || mc2_buf_printf(&hosts, err, "%s/" CL_HOSTS, l->dir) ||
             mc2_buf_append(&hosts, "", 1, err) ||
             mc2_buf_puts(&agent, "ssh -o BatchMode=yes", err) ||
             (c->ssh_config[0] && mc2_buf_printf(&agent, err, " -F %s", c->ssh_config)) ||
             mc2_buf_append(&agent, "", 1, err);
    for (size_t i = 0; i < c->n && rc == 0; i++)
        rc = mc2_buf_printf(&dirs, err, "%s%s", i ? "," : "", c->h[i].dir);
    rc = rc || mc2_buf_append(&dirs, "", 1, err) ||
         mc2_buf_puts(b,
                      "#!/bin/sh\n# written by `mc2 cluster up`: mc2d runs `" CL_LAUNCHER
                      " N SOCKET` for a job with `param ranks N`\n"
                      "# (docs/cluster.md, \"Distributed jobs\"); mpirun logs to mesh.log\n"
                      "if [ \"$(id -u)\" = 0 ]; then\n"
                      "  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\nfi\n"
                      "exec mpirun --hostfile ",
                      err) ||
         sq(b, (const char *)hosts.data, err) ||
         mc2_buf_puts(
             b, " --map-by ppr:1:node --bind-to none -np \"$1\" \\\n  --mca plm_rsh_agent ", err) ||
         sq(b, (const char *)agent.data, err) || mc2_buf_puts(b, " \\\n  ", err) ||
         sq(b, (const char *)rank.data, err) || mc2_buf_puts(b, " --leader \"$2\" --dirs ", err) ||
         sq(b, (const char *)dirs.data, err) || mc2_buf_puts(b, "\n", err);
    mc2_buf_free(&agent);
    mc2_buf_free(&dirs);
    mc2_buf_free(&hosts);
    mc2_buf_free(&rank);
    return rc;
}

/* Writes STATE/mesh-launch.sh (a copy, for the operator) and puts it and the hostfile into
 * the leader's state directory. *remote gets the script's path on the leader. */
static int launcher_put(const cl_cluster *c, const char *state, const char *hostfile,
                        mc2_buf *remote)
{
    const cl_host *l = &c->h[0];
    mc2_buf txt = {0}, hosts = {0};
    mc2_err err;
    char *local = mc2_path_join(state, CL_LAUNCHER);
    int rc = -1;
    if (!local || launcher_text(c, &txt, &err) ||
        mc2_buf_printf(remote, &err, "%s/" CL_LAUNCHER, l->dir) ||
        mc2_buf_append(remote, "", 1, &err) ||
        mc2_buf_printf(&hosts, &err, "%s/" CL_HOSTS, l->dir) ||
        mc2_buf_append(&hosts, "", 1, &err) ||
        mc2_file_write_atomic(local, txt.data, txt.len, 0700, 0, &err)) {
        fprintf(stderr, "mc2: cannot write the mesh launcher: %s\n",
                local ? err.msg : "out of memory");
        goto out;
    }
    rc = host_put(c, l, hostfile, (const char *)hosts.data, "600") ||
                 host_put(c, l, local, (const char *)remote->data, "700")
             ? -1
             : 0;
out:
    mc2_buf_free(&txt);
    mc2_buf_free(&hosts);
    mc2_free(local);
    return rc;
}

typedef struct cl_opts {
    const char *hostfile, *policy, *dir, *port, *remote_dir, *remote_mc2, *ssh_config;
} cl_opts;

static int cl_setup(const char *sub, int argc, char **argv, cl_opts *o, cl_cluster *c, int *code)
{
    memset(o, 0, sizeof *o);
    o->port = CL_DEFAULT_PORT;
    o->remote_dir = CL_DEFAULT_DIR;
    o->remote_mc2 = "mc2";
    cli_opt opts[] = {CLI_VAL("hostfile", &o->hostfile),
                      CLI_VAL("policy", &o->policy),
                      CLI_VAL("dir", &o->dir),
                      CLI_VAL("port", &o->port),
                      CLI_VAL("remote-dir", &o->remote_dir),
                      CLI_VAL("remote-mc2", &o->remote_mc2),
                      CLI_VAL("ssh-config", &o->ssh_config),
                      CLI_END};
    char cmd[32];
    uint64_t port;
    snprintf(cmd, sizeof cmd, "cluster %s", sub);
    if (cli_parse(cmd, CLUSTER_HELP, argc, argv, opts, NULL, 0, code)) return 1;
    *code = CLI_USAGE;
    if (!o->hostfile) return cli_usage(cmd, "--hostfile FILE is required"), 1;
    if (cli_parse_uint(cmd, "--port", o->port, 1, 65535, &port)) return 1;
    if (!cl_safe(o->remote_mc2) || !o->remote_mc2[0] || strlen(o->remote_mc2) >= sizeof c->mc2 ||
        !cl_safe(o->remote_dir) || (o->ssh_config && strlen(o->ssh_config) >= sizeof c->ssh_config))
        return cli_usage(cmd, "bad --remote-mc2, --remote-dir or --ssh-config"), 1;
    memset(c, 0, sizeof *c);
    snprintf(c->mc2, sizeof c->mc2, "%s", o->remote_mc2);
    if (o->ssh_config) snprintf(c->ssh_config, sizeof c->ssh_config, "%s", o->ssh_config);
    *code = cl_read_hostfile(o->hostfile, (unsigned)port, o->remote_dir, c);
    return *code != 0;
}

static int cluster_init(int argc, char **argv)
{
    cl_opts o;
    cl_cluster *c = mc2_calloc(1, sizeof *c);
    int code = CLI_OK;
    if (!c) return CLI_FAIL;
    if (cl_setup("init", argc, argv, &o, c, &code)) goto out;
    for (size_t i = 0; i < c->n; i++) {
        uint8_t pub[32];
        char hex[65];
        if (host_init(c, &c->h[i], pub)) {
            code = CLI_FAIL;
            continue;
        }
        mc2_hex_encode(pub, 32, hex);
        printf("%s\t%s\n", c->h[i].dest, hex);
    }
out:
    mc2_free(c);
    return code;
}

static int key_trusted(const mc2_policy *p, const uint8_t pub[32])
{
    for (size_t k = 0; k < p->n_sim_keys; k++)
        if (memcmp(p->sim_keys[k], pub, 32) == 0) return 1;
    return 0;
}

static int cluster_up(int argc, char **argv)
{
    cl_opts o;
    cl_cluster *c = mc2_calloc(1, sizeof *c);
    mc2_policy *pol = NULL;
    mc2_err err;
    mc2_buf launcher = {0};
    int code = CLI_FAIL;
    size_t started = 0;
    if (!c) return CLI_FAIL;
    if (cl_setup("up", argc, argv, &o, c, &code)) goto out;
    code = CLI_FAIL;
    if (!o.policy || !o.dir) {
        code = cli_usage("cluster up", "--policy FILE and --dir STATE are required");
        goto out;
    }
    if (mc2_policy_load(o.policy, &pol, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if (launcher_checkable(c)) goto out;
    if (!pol->appraisal.allow_simulation) {
        fprintf(stderr,
                "mc2: policy %s does not allow simulation, and every host runs the sim "
                "enclave: write it with --allow-simulation and each host's key\n",
                o.policy);
        goto out;
    }
    int bad = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint8_t pub[32];
        char hex[65];
        if (host_init(c, &c->h[i], pub) || host_abs_dir(c, &c->h[i])) {
            bad = 1;
            continue;
        }
        mc2_hex_encode(pub, 32, hex);
        if (!key_trusted(pol, pub)) {
            fprintf(stderr,
                    "mc2: host %s: its sim platform key %s is not in the policy's "
                    "sim_platform_keys, so its enclave would not attest (`mc2 cluster init` "
                    "lists every host's key; a policy holds at most %d)\n",
                    c->h[i].dest, hex, MC2_POLICY_MAX_SIM_KEYS);
            bad = 1;
        }
    }
    if (bad) goto out;
    if (cl_write_state(o.dir, c, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if (launcher_put(c, o.dir, o.hostfile, &launcher)) goto out;
    for (; started < c->n; started++)
        if (host_start(c, &c->h[started], o.policy,
                       started == 0 ? (const char *)launcher.data : NULL))
            break;
    if (started < c->n) {
        fprintf(stderr, "mc2: cluster not started; stopping the %zu host(s) already started\n",
                started);
        for (size_t i = 0; i < started; i++) (void)host_stop(c, &c->h[i]);
        goto out;
    }
    printf("cluster of %zu host(s) is up; state in %s (`mc2 cluster status --dir %s`)\n", c->n,
           o.dir, o.dir);
    code = CLI_OK;
out:
    mc2_buf_free(&launcher);
    mc2_policy_free(pol);
    mc2_free(c);
    return code;
}

/* ---- status / down -------------------------------------------------------------------------- */

/* The value of "key: value" in a status reply, or "?" */
static void field(const char *txt, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = txt; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ':' && p[kl + 1] == ' ') {
            const char *v = p + kl + 2;
            size_t l = strcspn(v, "\n");
            snprintf(out, n, "%.*s", (int)l, v);
            return;
        }
    snprintf(out, n, "?");
}

/* One host's row: asks its service HAPI_STATUS; returns 0 if it answered. */
static int host_status(const cl_host *h)
{
    char addr[300], svc[300] = "", enc[300] = "", jobs[32] = "-";
    snprintf(addr, sizeof addr, "%s:%u", h->addr, h->port);
    mc2_err err;
    mc2_err_clear(&err);
    mc2_frame reply = {0};
    int fd = mc2_dial(addr, &err), rc = -1;
    if (fd >= 0) {
        struct timeval tv = {5, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (fd < 0 || mc2_host_call(fd, HAPI_STATUS, NULL, 0, &reply, NULL, NULL, &err)) {
        snprintf(svc, sizeof svc, "DOWN (%.200s)", err.msg[0] ? err.msg : "no answer");
        snprintf(enc, sizeof enc, "-");
    } else {
        mc2_buf t = {0};
        if (mc2_buf_append(&t, reply.payload.data, reply.payload.len, &err) == 0 &&
            mc2_buf_append(&t, "", 1, &err) == 0) {
            char s[120], e[120], m[80], cons[120];
            field((const char *)t.data, "service", s, sizeof s);
            field((const char *)t.data, "enclave", e, sizeof e);
            field((const char *)t.data, "measurement", m, sizeof m);
            field((const char *)t.data, "consortium", cons, sizeof cons);
            field((const char *)t.data, "jobs", jobs, sizeof jobs);
            e[strcspn(e, "(")] = '\0'; /* "running, backend sim " */
            size_t el = strlen(e);
            while (el && e[el - 1] == ' ') e[--el] = '\0';
            snprintf(svc, sizeof svc, "%s", s);
            snprintf(enc, sizeof enc, "%s; measurement %.16s...; consortium %s", e, m, cons);
            for (char *q = svc; *q; q++)
                if ((unsigned char)*q < 0x20) *q = '?'; /* the host's words: printable only */
            for (char *q = enc; *q; q++)
                if ((unsigned char)*q < 0x20) *q = '?';
            rc = 0;
        }
        mc2_buf_free(&t);
    }
    printf("%-20s  %-22s  %-24s  %-6s  %s\n", h->dest, addr, svc, jobs, enc);
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    return rc;
}

static int need_dir(const char *sub, int argc, char **argv, const char **dir, int *code)
{
    cli_opt opts[] = {CLI_VAL("dir", dir), CLI_END};
    char cmd[32];
    snprintf(cmd, sizeof cmd, "cluster %s", sub);
    if (cli_parse(cmd, CLUSTER_HELP, argc, argv, opts, NULL, 0, code)) return 1;
    if (!*dir) {
        *code = cli_usage(cmd, "--dir STATE is required");
        return 1;
    }
    return 0;
}

static int cluster_status(int argc, char **argv)
{
    const char *dir = NULL;
    int code;
    if (need_dir("status", argc, argv, &dir, &code)) return code;
    cl_cluster *c = mc2_calloc(1, sizeof *c);
    if (!c) return CLI_FAIL;
    code = cl_read_state(dir, c);
    if (code == CLI_OK) {
        size_t up = 0;
        printf("%-20s  %-22s  %-24s  %-6s  %s\n", "HOST", "ADDRESS", "SERVICE", "JOBS",
               "ENCLAVE (as the host says: `mc2 attest --service ADDRESS` proves it)");
        for (size_t i = 0; i < c->n; i++) up += host_status(&c->h[i]) == 0;
        printf("%zu of %zu host(s) answer\n", up, c->n);
        code = up == c->n ? CLI_OK : CLI_FAIL;
    }
    mc2_free(c);
    return code;
}

static int cluster_down(int argc, char **argv)
{
    const char *dir = NULL;
    int code;
    if (need_dir("down", argc, argv, &dir, &code)) return code;
    cl_cluster *c = mc2_calloc(1, sizeof *c);
    if (!c) return CLI_FAIL;
    code = cl_read_state(dir, c);
    size_t failed = 0;
    for (size_t i = 0; i < c->n && code == CLI_OK; i++) {
        int r = host_stop(c, &c->h[i]);
        if (r == 0) printf("%s: mc2d stopped\n", c->h[i].dest);
        if (r == 1) printf("%s: mc2d was not running\n", c->h[i].dest);
        failed += r < 0;
    }
    if (code == CLI_OK && failed) {
        fprintf(stderr,
                "mc2: %zu of %zu host(s) could not be stopped (see above); run `mc2 "
                "cluster down --dir %s` again once they are reachable\n",
                failed, c->n, dir);
        code = CLI_FAIL;
    }
    mc2_free(c);
    return code;
}

int cmd_cluster(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || sub[0] == '-') {
        if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
            fputs(CLUSTER_HELP, stdout);
            return CLI_OK;
        }
        return cli_usage("cluster", "say init, up, status or down");
    }
    if (strcmp(sub, "init") == 0) return cluster_init(argc - 1, argv + 1);
    if (strcmp(sub, "up") == 0) return cluster_up(argc - 1, argv + 1);
    if (strcmp(sub, "status") == 0) return cluster_status(argc - 1, argv + 1);
    if (strcmp(sub, "down") == 0) return cluster_down(argc - 1, argv + 1);
    return cli_usage("cluster", "unknown subcommand '%s' (init, up, status, down)", sub);
}
