/* bench_fl.c - one federated-averaging round through a running mc2 service (set up by
 * bench/run.sh, section fl): N clients, each with its own identity (HOMES/client-000 ...,
 * all parties of the policy), contribute an update of P float32 values with a weight; the
 * enclave aggregates them; client-000 (the round's recipient) fetches the new model.
 *
 * It measures, in the same run:
 *   - the aggregation time inside the enclave, as the round's result table reports it
 *     (column agg_ms: time the enclave spent folding the updates into its sum and finishing
 *     the mean, measured there), against a plain C weighted sum of the same vectors here
 *     (sum_i w_i u_i in double, then / sum_i w_i, the same work; unmasked, each vector is
 *     added right after its client's submit returned, as the enclave adds it on arrival);
 *   - the bytes each client sent to the service for its contribution (its session set-up,
 *     attestation, the update and its signature), counted by a byte-counting TCP relay in
 *     this process that every client connects through (each connection from its own
 *     loopback address), against the raw update (4 P bytes);
 *   - that the released model equals the plain weighted mean (max absolute difference; for a
 *     masked round within the quantisation's bound).
 *
 * Unmasked rounds submit one client after the other (each its own session, closed after);
 * masked rounds (secagg) need all clients at once, so each runs on its own thread.
 *
 *     bench_fl SERVICE HOMES N P off|secagg
 *
 * Prints lines "fl: KEY VALUE..." that run.sh reads; exits 1 on any failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mc2/client.h"

#define MAX_CLIENTS 1024

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *what, const mc2_err *e)
{
    fprintf(stderr, "bench_fl: %s: %s\n", what, e ? e->msg : strerror(errno));
    exit(1);
}

/* ---- the byte-counting relay ------------------------------------------------------------- */

static struct sockaddr_storage g_target;
static socklen_t g_target_len;
static _Atomic uint64_t g_up;      /* bytes from clients to the service */
static _Atomic int g_active;       /* relayed connections still open */
static _Atomic uint32_t g_conn_no; /* connections relayed so far (their source addresses) */
static int g_listen = -1;

/* Forwards both directions of one connection until either side closes. */
static void *relay_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    int s = socket(g_target.ss_family, SOCK_STREAM, 0);
    if (s < 0) goto out;
    /* A service on loopback sees each connection come from its own 127.0.X.Y, as clients on
     * their own machines would: mc2d admits at most 32 connections per address, and a
     * masked round holds every client's connection open at once. */
    const struct sockaddr_in *t = (const struct sockaddr_in *)&g_target;
    if (g_target.ss_family == AF_INET && (ntohl(t->sin_addr.s_addr) >> 24) == 127) {
        uint32_t k = g_conn_no++;
        struct sockaddr_in src = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = htonl(0x7f000000u | (((k / 250) % 250) << 8) | (k % 250 + 2))};
        if (bind(s, (struct sockaddr *)&src, sizeof src) != 0) goto out;
    }
    if (connect(s, (struct sockaddr *)&g_target, g_target_len) != 0) goto out;
    static __thread char buf[1 << 16];
    struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        int from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
        if (!(p[from].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(p[from].fd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(p[1 - from].fd, buf + off, (size_t)(n - off));
            if (w <= 0) goto out;
            off += w;
        }
        if (from == 0) g_up += (uint64_t)n;
    }
out:
    if (s >= 0) close(s);
    close(c);
    g_active--;
    return NULL;
}

static void *relay_accept(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(g_listen, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            return NULL;
        }
        g_active++;
        pthread_t t;
        if (pthread_create(&t, NULL, relay_conn, (void *)(intptr_t)c) != 0) {
            close(c);
            g_active--;
            continue;
        }
        pthread_detach(t);
    }
}

/* Starts the relay to `service` (HOST:PORT); writes its own address into addr. */
static void relay_start(const char *service, char *addr, size_t cap)
{
    char host[256];
    const char *colon = strrchr(service, ':');
    if (!colon || (size_t)(colon - service) >= sizeof host) {
        fprintf(stderr, "bench_fl: service '%s' is not HOST:PORT\n", service);
        exit(2);
    }
    memcpy(host, service, (size_t)(colon - service));
    host[colon - service] = 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) die("resolve the service", NULL);
    memcpy(&g_target, ai->ai_addr, ai->ai_addrlen);
    g_target_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    g_listen = socket(AF_INET, SOCK_STREAM, 0);
    if (g_listen < 0 || bind(g_listen, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(g_listen, 256) != 0 || getsockname(g_listen, (struct sockaddr *)&sa, &len) != 0)
        die("relay socket", NULL);
    snprintf(addr, cap, "127.0.0.1:%u", ntohs(sa.sin_port));
    pthread_t t;
    if (pthread_create(&t, NULL, relay_accept, NULL) != 0) die("relay thread", NULL);
    pthread_detach(t);
}

/* Waits (up to 10 s) until every relayed connection has closed, so g_up is complete. */
static void relay_quiet(void)
{
    for (int i = 0; i < 10000 && g_active > 0; i++) usleep(1000);
}

/* ---- the clients ------------------------------------------------------------------------- */

/* Client i's update: P values in [-0.01, 0.01) from a fixed xorshift stream (seed i). */
static void make_update(unsigned i, float *u, size_t p)
{
    uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
    for (size_t j = 0; j < p; j++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        u[j] = (float)((double)(x >> 11) / 9007199254740992.0 * 0.02 - 0.01);
    }
}

static uint64_t weight_of(unsigned i)
{
    return 1 + (i * 37) % 100;
}

typedef struct job_arg {
    const char *homes, *relay;
    unsigned i;
    uint64_t job;
    size_t p;
    double ms;
    double *acc; /* unmasked: the plain sum, added to right after the submit */
    double plain_ms;
    mc2_err err;
    int rc;
} job_arg;

/* The peer: acc += w * u, timed into *ms. */
static void plain_add(double *acc, const float *u, size_t p, double w, double *ms)
{
    double t0 = now_ms();
    for (size_t j = 0; j < p; j++) acc[j] += w * (double)u[j];
    *ms += now_ms() - t0;
}

static void client_home(char *out, size_t cap, const char *homes, unsigned i)
{
    snprintf(out, cap, "%s/client-%03u", homes, i);
}

/* Client i opens its own session (attesting the enclave) and contributes its update. */
static void *contribute(void *arg)
{
    job_arg *a = arg;
    char home[4096];
    client_home(home, sizeof home, a->homes, a->i);
    float *u = malloc(a->p * sizeof *u);
    if (!u) {
        a->rc = -1;
        snprintf(a->err.msg, sizeof a->err.msg, "out of memory");
        return NULL;
    }
    make_update(a->i, u, a->p);
    mc2_client *c = NULL;
    double t0 = now_ms();
    a->rc = mc2_client_open(home, a->relay, NULL, &c, &a->err);
    if (!a->rc) a->rc = mc2_client_fl_submit(c, a->job, u, a->p, weight_of(a->i), 600000, &a->err);
    mc2_client_close(c);
    a->ms = now_ms() - t0;
    if (a->acc) plain_add(a->acc, u, a->p, (double)weight_of(a->i), &a->plain_ms);
    free(u);
    return NULL;
}

/* The value of column `name` in the one-row CSV result csv (header line, one row; plain
 * fields: numbers, empty for NULL), or NULL. Writes NULs into csv. */
static const char *csv_field(char *csv, const char *name)
{
    char *nl = strchr(csv, '\n');
    if (!nl) return NULL;
    *nl = 0;
    char *h = csv, *v = nl + 1;
    v[strcspn(v, "\n")] = 0;
    while (h && v) {
        char *hc = strchr(h, ','), *vc = strchr(v, ',');
        if (hc) *hc = 0;
        if (vc) *vc = 0;
        if (strcmp(h, name) == 0) return v;
        h = hc ? hc + 1 : NULL;
        v = vc ? vc + 1 : NULL;
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 6 || (strcmp(argv[5], "off") && strcmp(argv[5], "secagg"))) {
        fprintf(stderr, "usage: bench_fl SERVICE HOMES N P off|secagg\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *homes = argv[2];
    int masked = strcmp(argv[5], "secagg") == 0;
    long n = atol(argv[3]), p = atol(argv[4]);
    if (n < 2 || n > MAX_CLIENTS || p < 1 || p > (16l << 20)) {
        fprintf(stderr, "bench_fl: N must be 2..%d and P 1..16777216\n", MAX_CLIENTS);
        return 2;
    }
    char relay[64];
    relay_start(argv[1], relay, sizeof relay);

    /* client-000 starts the round: all N clients participate, all are needed (k = N), it
     * alone receives the model. */
    mc2_err err;
    mc2_client *c0;
    char home0[4096];
    client_home(home0, sizeof home0, homes, 0);
    if (mc2_client_open(home0, relay, NULL, &c0, &err)) die("open client-000", &err);
    size_t plen = (size_t)n * 12 + 1;
    char *parts = malloc(plen), tensors[64], nstr[32];
    if (!parts) die("out of memory", NULL);
    parts[0] = 0;
    for (long i = 0; i < n; i++)
        snprintf(parts + strlen(parts), plen - strlen(parts), "%sclient-%03ld", i ? "," : "", i);
    snprintf(tensors, sizeof tensors, "w:%ld", p);
    snprintf(nstr, sizeof nstr, "%ld", n);
    const char *keys[] = {"participants", "tensors", "round", "k", "deadline_s", "masks"};
    const char *vals[] = {parts, tensors, "1", nstr, "3600", masked ? "secagg" : "off"};
    const char *recip[] = {"client-000"};
    mc2_client_job_spec spec = {.kind = "fedavg",
                                .recipients = recip,
                                .nrecipients = 1,
                                .param_keys = keys,
                                .param_values = vals,
                                .nparams = 6};
    uint64_t job;
    if (mc2_client_submit(c0, &spec, &job, NULL, &err)) die("start the round", &err);

    /* The contributions, and beside them the plain weighted sum of the same vectors. */
    job_arg *args = calloc((size_t)n, sizeof *args);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double *acc = calloc((size_t)p, sizeof *acc), *ms = calloc((size_t)n, sizeof *ms);
    float *u = malloc((size_t)p * sizeof *u);
    if (!args || !th || !acc || !ms || !u) die("out of memory", NULL);
    relay_quiet();
    uint64_t up0 = g_up;
    double t_sub = now_ms();
    for (long i = 0; i < n; i++) {
        args[i] = (job_arg){.homes = homes,
                            .relay = relay,
                            .i = (unsigned)i,
                            .job = job,
                            .p = (size_t)p,
                            .acc = masked ? NULL : acc};
        if (masked) {
            if (pthread_create(&th[i], NULL, contribute, &args[i]) != 0) die("thread", NULL);
        } else {
            contribute(&args[i]);
            if (args[i].rc) die("contribute", &args[i].err);
        }
    }
    for (long i = 0; masked && i < n; i++) {
        pthread_join(th[i], NULL);
        if (args[i].rc) die("contribute", &args[i].err);
    }
    t_sub = now_ms() - t_sub;
    relay_quiet();
    uint64_t up = g_up - up0;

    /* The plain sum: unmasked, each vector was added right after its client's submit (so a
     * busy moment of the machine hits both sides alike); masked, all of them here. */
    double t_plain = 0, wsum = 0;
    for (long i = 0; i < n; i++) {
        wsum += (double)weight_of((unsigned)i);
        if (!masked) {
            t_plain += args[i].plain_ms;
            continue;
        }
        make_update((unsigned)i, u, (size_t)p);
        plain_add(acc, u, (size_t)p, (double)weight_of((unsigned)i), &t_plain);
    }
    double t0 = now_ms();
    for (long j = 0; j < p; j++) u[j] = (float)(acc[j] / wsum);
    t_plain += now_ms() - t0;

    /* The released model, and the round's result table. */
    float *model;
    size_t got;
    if (mc2_client_fl_model(c0, job, &model, &got, NULL, &err)) die("fetch the model", &err);
    if (got != (size_t)p) {
        fprintf(stderr, "bench_fl: the model has %zu values, not %ld\n", got, p);
        return 1;
    }
    double maxdiff = 0;
    for (long j = 0; j < p; j++) {
        double d = (double)model[j] - (double)u[j];
        if (d < 0) d = -d;
        if (d > maxdiff) maxdiff = d;
    }
    mc2_client_free(model);
    char *csv;
    size_t csv_len;
    if (mc2_client_result_csv(c0, job, (void *)&csv, &csv_len, NULL, &err))
        die("fetch the round's result table", &err);
    printf("fl: result %.*s", (int)strcspn(csv, "\n"), csv);
    printf(" = %.*s\n", (int)strcspn(csv + strcspn(csv, "\n") + 1, "\n"),
           csv + strcspn(csv, "\n") + 1);
    const char *agg = csv_field(csv, "agg_ms");
    for (long i = 0; i < n; i++) ms[i] = args[i].ms;
    qsort(ms, (size_t)n, sizeof *ms, cmp_d);
    printf("fl: clients %ld params %ld masks %s\n", n, p, masked ? "secagg" : "off");
    printf("fl: enclave_agg_ms %s\n", agg ? agg : "-");
    printf("fl: plain_sum_ms %.3f\n", t_plain);
    printf("fl: bytes_per_client %.0f raw %ld\n", (double)up / (double)n, p * 4);
    printf("fl: submit_ms median %.1f max %.1f all %.1f\n", ms[n / 2], ms[n - 1], t_sub);
    /* Unmasked, the enclave sums the same doubles in the same order: equal up to the float32
     * rounding. Masked, each client's ratio_i * u_i (ratio_i = w_i / max_weight) is quantised
     * (clipping_range c = 8, Q = 2^22 levels, stochastic rounding: an error below one step
     * 2c / (Q - 1) per value), so the mean may differ by up to n steps / sum ratio_i. */
    double bound = 1e-6;
    if (masked) bound += (double)n * (2 * 8.0 / (4194304.0 - 1)) / (wsum / 1000.0);
    printf("fl: max_abs_diff %.3g bound %.3g\n", maxdiff, bound);
    mc2_client_free(csv);
    mc2_client_close(c0);
    free(args), free(th), free(acc), free(ms), free(u), free(parts);
    if (maxdiff > bound) fprintf(stderr, "bench_fl: the model is not the weighted mean\n");
    return maxdiff <= bound ? 0 : 1;
}
