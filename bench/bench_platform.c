/* bench_platform.c - platform latencies against a running mc2d (set up by
 * bench/bench_platform.sh): attestation + channel set-up, and a trivial job's round trip
 * (submit, run, result key, download, decrypt). Prints medians over N runs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "conn/conn.h"
#include "mc2/catalog.h"
#include "mc2/job.h"
#include "mc2/table.h"
#include "wire/proto.h"

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void die(const char *what, const mc2_err *e)
{
    fprintf(stderr, "bench_platform: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_platform SERVICE HOME POLICY TABLE RUNS [UPLOAD-FILE]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *service = argv[1], *table = argv[4];
    int runs = atoi(argv[5]);
    if (runs < 1 || runs > 1000) return 2;
    mc2_err err;
    mc2_identity id;
    mc2_policy *pol;
    if (mc2_identity_load(argv[2], &id, &err)) die("identity", &err);
    if (mc2_policy_load(argv[3], &pol, &err)) die("policy", &err);
    double *t = calloc((size_t)runs, sizeof *t);

    for (int i = 0; i < runs; i++) {
        mc2_esession s;
        double t0 = now_ms();
        if (mc2_esession_open(service, &id, pol, &s, &err)) die("attest", &err);
        t[i] = now_ms() - t0;
        mc2_esession_close(&s);
    }
    printf("attestation + TLS channel set-up: median %.2f ms over %d runs\n", median(t, runs),
           runs);

    /* Our table's id and version, from our catalog (what `mc2 upload` recorded). */
    uint8_t tid[16];
    uint64_t tversion;
    {
        mc2_catalog cat;
        if (mc2_catalog_load(id.home, &cat, &err)) die("catalog", &err);
        const mc2_catalog_entry *e = mc2_catalog_latest(&cat, pol->hash, table);
        if (!e) {
            fprintf(stderr, "no table %s in the catalog\n", table);
            return 1;
        }
        memcpy(tid, e->table_id, 16);
        tversion = e->version;
        mc2_catalog_free(&cat);
    }
    mc2_esession s;
    if (mc2_esession_open(service, &id, pol, &s, &err) || mc2_esession_grant(&s, &id, pol, &err))
        die("session", &err);
    for (int i = 0; i < runs; i++) {
        mc2_job j;
        memset(&j, 0, sizeof j);
        strcpy(j.kind, "rowcount");
        j.ninputs = 1;
        snprintf(j.inputs[0].owner, sizeof j.inputs[0].owner, "%s", id.name);
        snprintf(j.inputs[0].table, sizeof j.inputs[0].table, "%s", table);
        memcpy(j.inputs[0].table_id, tid, 16);
        j.inputs[0].version = tversion;
        j.nrecipients = 1;
        snprintf(j.recipients[0], 65, "%s", id.name);
        uint64_t jid;
        mc2_result_ref ref;
        size_t nres = 0;
        double t0 = now_ms();
        if (mc2_job_submit(&s, &id, pol, &j, &jid, NULL, &err) ||
            mc2_esession_results(&s, jid, &ref, 1, &nres, &err) || nres != 1 ||
            mc2_fetch_table(service, ref.name, ref.key, "/tmp", "/dev/null", MC2_FMT_CSV, NULL,
                            &err))
            die("job round trip", &err);
        t[i] = now_ms() - t0;
        mc2_wipe(&ref, sizeof ref);
        mc2_job_free(&j);
    }
    printf("trivial job round trip (submit, run, result key, download, decrypt): median %.2f ms "
           "over %d runs\n",
           median(t, runs), runs);
    mc2_esession_close(&s);
    if (argc == 7) {
        double t0 = now_ms();
        if (mc2_host_upload(service, &id, "bench-upload", argv[6], NULL, NULL, &err))
            die("upload", &err);
        double ms = now_ms() - t0;
        FILE *f = fopen(argv[6], "rb");
        long size = 0;
        if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
        if (f) fclose(f);
        printf("upload: %ld bytes in %.1f ms\n", size, ms);
    }
    free(t);
    mc2_policy_free(pol);
    mc2_identity_free(&id);
    return 0;
}
