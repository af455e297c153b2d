/* alloc.c - allocation wrappers with fault injection and a live-bytes cap. */
#include "base/alloc.h"

#include <malloc.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
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

/* See alloc.h: live bytes (usable sizes), the cap (0: none), whether the cap refused one. */
static atomic_size_t live_bytes, cap_bytes;
static atomic_bool cap_refused;
static _Thread_local bool exempt_thread;

void mc2_alloc_exempt_thread(bool exempt)
{
    exempt_thread = exempt;
}

size_t mc2_alloc_set_cap(size_t bytes)
{
    atomic_store(&cap_refused, false);
    return atomic_exchange(&cap_bytes, bytes);
}

bool mc2_alloc_cap_hit(void)
{
    return atomic_load(&cap_refused);
}

size_t mc2_alloc_live(void)
{
    return atomic_load_explicit(&live_bytes, memory_order_relaxed);
}

/* Whether `more` bytes would take the live bytes above the cap (and then notes the refusal). */
static bool over_cap(size_t more)
{
    size_t cap = atomic_load_explicit(&cap_bytes, memory_order_relaxed);
    if (cap == 0 || exempt_thread) return false;
    size_t live = mc2_alloc_live();
    if (more <= cap && live <= cap - more) return false;
    atomic_store(&cap_refused, true);
    return true;
}

static void *counted(void *p)
{
    if (p) atomic_fetch_add_explicit(&live_bytes, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

static void uncount(void *p)
{
    if (p) atomic_fetch_sub_explicit(&live_bytes, malloc_usable_size(p), memory_order_relaxed);
}

void *mc2_malloc(size_t n)
{
    if (injected_failure() || over_cap(n)) return NULL;
    return counted(malloc(n ? n : 1));
}

void *mc2_calloc(size_t count, size_t size)
{
    if (injected_failure()) return NULL;
    if (count == 0 || size == 0) return counted(calloc(1, 1));
    size_t n;
    if (!mc2_mul_size(count, size, &n) || over_cap(n)) return NULL;
    return counted(calloc(count, size));
}

void *mc2_realloc(void *p, size_t n)
{
    if (injected_failure()) return NULL;
    size_t old = p ? malloc_usable_size(p) : 0;
    if (n > old && over_cap(n - old)) return NULL;
    uncount(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        counted(p); /* p is still allocated, unchanged */
        return NULL;
    }
    return counted(q);
}

void mc2_free(void *p)
{
    uncount(p);
    free(p);
}

void mc2_free_wipe(void *p, size_t n)
{
    if (!p) return;
    OPENSSL_cleanse(p, n);
    uncount(p);
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
