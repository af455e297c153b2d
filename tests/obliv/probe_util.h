/* probe_util.h - what the valgrind probes of tests/obliv share (header-only, so each probe
 * stays one file and these stay static): whether the probe runs under lackey (`tracing`:
 * then it makes no memcheck client requests), its failure count, a seeded splitmix64
 * stream, and the requests that mark memory secret (undefined) and revealed (defined).
 * Define PROBE_NAME, the name its messages start with, before including. */
#ifndef MC2_TESTS_PROBE_UTIL_H
#define MC2_TESTS_PROBE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <valgrind/memcheck.h>

static int tracing; /* 1 in trace mode: no client requests, one thread */
static int failures;

static uint64_t rng_state;
static inline uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void secret(const void *p, size_t n)
{
    if (!tracing && n) VALGRIND_MAKE_MEM_UNDEFINED(p, n);
}
static inline void reveal(const void *p, size_t n)
{
    if (!tracing && n) VALGRIND_MAKE_MEM_DEFINED(p, n);
}

static inline void fail(const char *what)
{
    fprintf(stderr, "%s: FAILED: %s\n", PROBE_NAME, what);
    failures++;
}

#endif
