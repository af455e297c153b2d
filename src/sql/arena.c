/* arena.c - chunked bump allocator with a byte limit; chunks are wiped when released. */
#include "sql/arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

#define ARENA_ALIGN       alignof(max_align_t)
#define ARENA_FIRST_CHUNK 4096u
#define ARENA_MAX_CHUNK   (1u << 20)

struct mc2_arena_chunk {
    mc2_arena_chunk *prev;
    size_t size; /* bytes of data[] */
    size_t off;  /* bytes of data[] handed out */
    alignas(max_align_t) unsigned char data[];
};

void mc2_arena_init(mc2_arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

static size_t round_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* Adds a chunk with room for at least n bytes (n already rounded). */
static int arena_grow(mc2_arena *a, size_t n, mc2_err *err)
{
    size_t size = a->head ? a->head->size * 2 : ARENA_FIRST_CHUNK;
    if (size > ARENA_MAX_CHUNK) size = ARENA_MAX_CHUNK;
    if (size < n) size = n;
    size_t total, used;
    if (!mc2_add_size(size, sizeof(mc2_arena_chunk), &total) ||
        !mc2_add_size(a->used, total, &used) || (a->limit && used > a->limit))
        return mc2_err_set(err, MC2_E_LIMIT, "out of memory: more than %zu bytes needed",
                           a->limit ? a->limit : SIZE_MAX);
    mc2_arena_chunk *c = mc2_malloc(total);
    if (!c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu bytes)", total);
    c->prev = a->head;
    c->size = size;
    c->off = 0;
    a->head = c;
    a->used = used;
    return 0;
}

void *mc2_arena_alloc(mc2_arena *a, size_t n, mc2_err *err)
{
    if (n > SIZE_MAX - ARENA_ALIGN) {
        mc2_err_set(err, MC2_E_LIMIT, "allocation of %zu bytes is too large", n);
        return NULL;
    }
    size_t need = round_up(n ? n : 1);
    if (!a->head || a->head->size - a->head->off < need) {
        if (arena_grow(a, need, err)) return NULL;
    }
    mc2_arena_chunk *c = a->head;
    assert(c->off % ARENA_ALIGN == 0 && c->size - c->off >= need);
    void *p = c->data + c->off;
    c->off += need;
    memset(p, 0, n);
    return p;
}

void *mc2_arena_array(mc2_arena *a, size_t count, size_t size, mc2_err *err)
{
    size_t n;
    if (!mc2_mul_size(count, size, &n)) {
        mc2_err_set(err, MC2_E_LIMIT, "array of %zu elements of %zu bytes is too large", count,
                    size);
        return NULL;
    }
    return mc2_arena_alloc(a, n, err);
}

char *mc2_arena_strndup(mc2_arena *a, const char *s, size_t n, mc2_err *err)
{
    size_t n1;
    if (!mc2_add_size(n, 1, &n1)) {
        mc2_err_set(err, MC2_E_LIMIT, "string too large");
        return NULL;
    }
    char *p = mc2_arena_alloc(a, n1, err);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t mc2_arena_used(const mc2_arena *a)
{
    return a->used;
}

void mc2_arena_free(mc2_arena *a)
{
    mc2_arena_chunk *c = a->head;
    while (c) {
        mc2_arena_chunk *prev = c->prev;
        mc2_free_wipe(c, sizeof *c + c->size);
        c = prev;
    }
    a->head = NULL;
    a->used = 0;
}
