/* bench_aead.c - AES-256-GCM seal/open throughput of mc2's crypto core (mc2_aead_*).
 *
 * usage: bench_aead [SECONDS [SIZE...]]     (defaults: 3 s; 1048576 and 16384 bytes)
 *
 * For each size and each of seal and open, runs the call in a loop for SECONDS (after a
 * short warm-up) and prints one line "seal|open SIZE BYTES_PER_SECOND". Each call is what a
 * table block costs: a fresh nonce, 80 bytes of associated data (the size of a block's
 * bound fields), the payload, the tag. open checks the tag every time (one sealed buffer is
 * opened repeatedly into a second buffer), so a failed check would end the run.
 *
 * The rate is bytes over the process's CPU time, as `openssl speed` computes it (its default
 * divides by user CPU time; -elapsed would use the wall clock): on a machine busy with other
 * work, time spent descheduled counts against neither. The loop runs for SECONDS of wall
 * time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc2/crypto.h"

#define AAD_LEN 80

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}
static double cpu(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void fail(const char *what, const mc2_err *err)
{
    fprintf(stderr, "bench_aead: %s: %s\n", what, err->msg);
    exit(1);
}

/* Runs seal (open = 0) or open (open = 1) on n-byte buffers for about `seconds`; returns
 * bytes per second. */
static double run(mc2_aead *a, int open, size_t n, double seconds)
{
    uint8_t nonce[MC2_NONCE_LEN] = {0}, tag[MC2_TAG_LEN], aad[AAD_LEN];
    uint8_t *in = malloc(n), *out = malloc(n);
    mc2_err err;
    if (!in || !out) {
        fprintf(stderr, "bench_aead: out of memory for %zu bytes\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) in[i] = (uint8_t)(i * 131u + 7u);
    for (size_t i = 0; i < AAD_LEN; i++) aad[i] = (uint8_t)i;
    if (open) { /* in becomes a valid ciphertext under nonce 0 */
        if (mc2_aead_seal(a, nonce, aad, AAD_LEN, in, n, in, tag, &err)) fail("seal", &err);
    }

    uint64_t counter = 1, bytes = 0;
    double warm = seconds / 10, t0 = now(), start = 0, cpu0 = 0, t = t0;
    int measuring = 0;
    /* Check the clock every `batch` calls so that timing costs nothing measurable. */
    size_t batch = n >= (256u << 10) ? 1 : (256u << 10) / n;
    for (;;) {
        for (size_t k = 0; k < batch; k++) {
            if (open) {
                if (mc2_aead_open(a, nonce, aad, AAD_LEN, in, n, tag, out, &err))
                    fail("open", &err);
            } else {
                memcpy(nonce, &counter, sizeof counter); /* never reuse a nonce */
                counter++;
                if (mc2_aead_seal(a, nonce, aad, AAD_LEN, in, n, out, tag, &err))
                    fail("seal", &err);
            }
        }
        t = now();
        if (measuring) {
            bytes += (uint64_t)batch * n;
            if (t - start >= seconds) break;
        } else if (t - t0 >= warm) {
            measuring = 1;
            start = t;
            cpu0 = cpu();
        }
    }
    double used = cpu() - cpu0;
    free(in);
    free(out);
    return (double)bytes / used;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 3.0;
    if (!(seconds > 0 && seconds <= 600)) {
        fprintf(stderr, "usage: bench_aead [SECONDS (0..600] [SIZE...]]\n");
        return 2;
    }
    size_t sizes[16] = {1u << 20, 16u << 10};
    int nsizes = 2;
    if (argc > 2) {
        nsizes = 0;
        for (int i = 2; i < argc && nsizes < 16; i++) {
            unsigned long long v = strtoull(argv[i], NULL, 10);
            if (v == 0 || v > (256ull << 20)) {
                fprintf(stderr, "bench_aead: size '%s' must be in 1..%llu\n", argv[i],
                        256ull << 20);
                return 2;
            }
            sizes[nsizes++] = (size_t)v;
        }
    }

    uint8_t key[MC2_KEY_LEN];
    mc2_err err;
    if (mc2_random(key, sizeof key, &err)) fail("random", &err);
    mc2_aead *a = mc2_aead_new(key, &err);
    mc2_wipe(key, sizeof key);
    if (!a) fail("aead_new", &err);
    for (int i = 0; i < nsizes; i++) {
        for (int open = 0; open <= 1; open++) {
            double bps = run(a, open, sizes[i], seconds);
            printf("%s %zu %.0f\n", open ? "open" : "seal", sizes[i], bps);
            fflush(stdout);
        }
    }
    mc2_aead_free(a);
    return 0;
}
