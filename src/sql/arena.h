/* arena.h - a bump allocator: many small allocations, one release (AST nodes, per-query state). */
#ifndef MC2_SQL_ARENA_H
#define MC2_SQL_ARENA_H

#include <stddef.h>

#include "mc2/err.h"

typedef struct mc2_arena_chunk mc2_arena_chunk;

/* An arena. Initialise with mc2_arena_init; everything allocated from it lives until
 * mc2_arena_free (or mc2_arena_reset). Not thread-safe. The contents are wiped when released:
 * ASTs hold query literals, which a party may consider sensitive. */
typedef struct mc2_arena {
    mc2_arena_chunk *head; /* most recent chunk; allocation bumps within it */
    size_t used;           /* bytes taken from the allocator, chunk headers included */
    size_t limit;          /* most bytes `used` may reach; 0 = no limit */
} mc2_arena;

/* Makes an empty arena that will take at most `limit` bytes from the allocator (0: no limit).
 * Allocates nothing until the first mc2_arena_alloc. */
void mc2_arena_init(mc2_arena *a, size_t limit);

/* Returns n zeroed bytes aligned for any object type (n may be 0: a unique non-NULL pointer).
 * On failure returns NULL and sets *err: MC2_E_LIMIT if the arena's limit would be exceeded,
 * MC2_E_NOMEM if the allocator failed. */
void *mc2_arena_alloc(mc2_arena *a, size_t n, mc2_err *err);

/* As mc2_arena_alloc for count * size bytes, failing with MC2_E_LIMIT on overflow. */
void *mc2_arena_array(mc2_arena *a, size_t count, size_t size, mc2_err *err);

/* Copies s[0..n) into the arena and NUL-terminates it; NULL (with *err set) on failure. */
char *mc2_arena_strndup(mc2_arena *a, const char *s, size_t n, mc2_err *err);

/* Bytes the arena holds from the allocator. */
size_t mc2_arena_used(const mc2_arena *a);

/* Wipes and releases everything allocated from the arena; it stays usable (empty), with the
 * same limit. Safe on a zeroed or already-freed arena. */
void mc2_arena_free(mc2_arena *a);

#endif
