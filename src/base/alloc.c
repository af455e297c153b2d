/* alloc.c - allocation wrappers with fault injection. */
#include "base/alloc.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* See alloc.h: the single process-wide test hook. */
static unsigned long fail_countdown;

static bool injected_failure(void)
{
    if (fail_countdown == 0) return false;
    return --fail_countdown == 0;
}

void mc2_alloc_fail_after(unsigned long n)
{
    fail_countdown = n;
}

void *mc2_malloc(size_t n)
{
    if (injected_failure()) return NULL;
    return malloc(n ? n : 1);
}

void *mc2_calloc(size_t count, size_t size)
{
    if (injected_failure()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void *mc2_realloc(void *p, size_t n)
{
    if (injected_failure()) return NULL;
    return realloc(p, n ? n : 1);
}

void mc2_free(void *p)
{
    free(p);
}

void mc2_free_wipe(void *p, size_t n)
{
    if (!p) return;
    OPENSSL_cleanse(p, n);
    free(p);
}

char *mc2_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mc2_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

_Noreturn void mc2_panic(const char *file, int line, const char *msg)
{
    fprintf(stderr, "mc2: internal error at %s:%d: %s\n", file, line, msg);
    abort();
}
