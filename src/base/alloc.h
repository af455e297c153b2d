/* alloc.h - the allocator every mc2 module uses, with a fault-injection hook for tests,
 * and overflow-checked size arithmetic (sizes from outside must never overflow). */
#ifndef MC2_BASE_ALLOC_H
#define MC2_BASE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/free with fault injection. Return NULL on failure (or on an
 * injected failure); callers report MC2_E_NOMEM. mc2_free(NULL) is a no-op. */
void *mc2_malloc(size_t n);
void *mc2_calloc(size_t count, size_t size);
void *mc2_realloc(void *p, size_t n);
void mc2_free(void *p);
/* Wipes n bytes at p (OPENSSL_cleanse-equivalent, never optimised away) and frees p. */
void mc2_free_wipe(void *p, size_t n);
/* Duplicates a NUL-terminated string; NULL on failure. */
char *mc2_strdup(const char *s);

/* Test hook: the n-th allocation from now fails (n = 1: the next one); 0 disables.
 * This is the one process-wide mutable setting in mc2, like sqlite3_config(): an
 * allocator hook is process-wide by nature. Not thread-safe; tests only. */
void mc2_alloc_fail_after(unsigned long n);

/* A process-wide cap on memory: the bytes live through mc2_malloc/mc2_calloc/mc2_realloc
 * (their usable sizes, counted always) may not exceed `bytes`; an allocation that would take
 * them above it fails (NULL), as when the system is out of memory, and sets the flag that
 * mc2_alloc_cap_hit reports. 0 removes the cap. Returns the previous cap. The enclave caps an
 * oblivious SQL job at its memory budget this way (sql/oexec.h): a job that needs more fails
 * with an error, instead of the host's OOM killer ending the enclave. Thread-safe (atomics;
 * the check and the count are not one step, so concurrent allocations may overshoot the cap
 * by their own sizes). */
size_t mc2_alloc_set_cap(size_t bytes);
/* Marks the calling thread as exempt from the cap (its allocations are counted but never
 * refused) or not. The enclave's main thread, which serves sessions while a job runs under
 * the cap, is exempt: a job that fills its budget must not make attestation fail. */
void mc2_alloc_exempt_thread(bool exempt);
/* Whether an allocation failed for the cap since the last mc2_alloc_set_cap. */
bool mc2_alloc_cap_hit(void);
/* The bytes live through the mc2 allocators now. */
size_t mc2_alloc_live(void);

/* *out = a * b or a + b; return false (and leave *out unspecified) on overflow. */
static inline bool mc2_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mc2_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* Aborts with a message: for misuse by mc2's own code (a bug), never for bad input. */
_Noreturn void mc2_panic(const char *file, int line, const char *msg);
#define MC2_PANIC(msg) mc2_panic(__FILE__, __LINE__, (msg))

#endif
