/* bench_attest.c - attestation + TLS channel set-up against a running mc2d (section attest of
 * bench/run.sh): RUNS sessions opened and closed one after the other through libmc2 (TCP
 * connect, TLS 1.3 to the enclave, evidence from the backend, verification and appraisal
 * against the policy); prints "attest: median M ms p99 P ms over N runs". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conn/conn.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = argc == 5 ? atoi(argv[4]) : 0;
    if (runs < 1 || runs > 10000) {
        fprintf(stderr, "usage: bench_attest SERVICE HOME POLICY RUNS (1..10000)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    mc2_err err;
    mc2_identity id;
    mc2_policy *pol;
    if (mc2_identity_load(argv[2], &id, &err) || mc2_policy_load(argv[3], &pol, &err)) {
        fprintf(stderr, "bench_attest: %s\n", err.msg);
        return 1;
    }
    double *t = calloc((size_t)runs, sizeof *t);
    int rc = t ? 0 : 1;
    for (int i = 0; !rc && i < runs; i++) {
        mc2_esession s;
        double t0 = now_ms();
        if (mc2_esession_open(argv[1], &id, pol, &s, &err)) {
            fprintf(stderr, "bench_attest: attest: %s\n", err.msg);
            rc = 1;
            break;
        }
        t[i] = now_ms() - t0;
        mc2_esession_close(&s);
    }
    if (!rc) {
        qsort(t, (size_t)runs, sizeof *t, cmp_d);
        int p99 = (runs * 99 + 99) / 100 - 1;
        printf("attest: median %.2f ms p99 %.2f ms over %d runs\n", t[runs / 2], t[p99], runs);
    }
    free(t);
    mc2_policy_free(pol);
    mc2_identity_free(&id);
    return rc;
}
