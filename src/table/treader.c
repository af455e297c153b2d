/* treader.c - iterating the authenticated blocks of an in-memory .mc2t (layout in tfile.c). */
#include "table/treader.h"

#include <string.h>

#include "base/alloc.h"

#ifdef MC2_OBLIV_VALGRIND
#include <valgrind/memcheck.h>
#endif

struct mc2_treader {
    const uint8_t *p;
    size_t n;
    size_t pos;     /* offset of the next frame */
    uint64_t index; /* next block expected */
    mc2_thdr h;
    mc2_aead *aead;
    uint8_t *pt;   /* plaintext of the current block (wiped after each decode, or at the */
    size_t pt_cap; /* next call after mc2_treader_next_raw, pt_len bytes) */
    size_t pt_len;
    int state;    /* 0 reading, 1 done, -1 failed */
    mc2_err last; /* the error that stopped it, repeated by later calls */
};

typedef unsigned long long ull;

int mc2_treader_open_mem(const uint8_t *p, size_t n, const uint8_t data_key[MC2_KEY_LEN],
                         mc2_treader **out, mc2_err *err)
{
    *out = NULL;
    size_t hdr_len;
    if (mc2_thdr_peek(p, n, &hdr_len, err)) return -1;
    if (hdr_len > n)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table ends inside its header (%zu of %zu bytes): truncated", n,
                           hdr_len);
    mc2_treader *r = mc2_calloc(1, sizeof *r);
    if (!r) return mc2_err_set(err, MC2_E_NOMEM, "out of memory opening a table");
    if (mc2_thdr_open(p, hdr_len, data_key, &r->h, &r->aead, err)) {
        mc2_free(r);
        return -1;
    }
    r->p = p;
    r->n = n;
    r->pos = hdr_len;
    /* Every frame is at least 32 bytes: a cheap early verdict on a truncated file (and a
     * bound on block_count before anything loops over it). */
    uint64_t min_frames;
    if (__builtin_mul_overflow(r->h.block_count, (uint64_t)(16 + MC2_TAG_LEN), &min_frames) ||
        min_frames > n - hdr_len) {
        mc2_err_set(err, MC2_E_INPUT,
                    "table claims %llu blocks but only %zu bytes follow its header: truncated",
                    (ull)r->h.block_count, n - hdr_len);
        mc2_treader_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

const mc2_thdr *mc2_treader_header(const mc2_treader *r)
{
    return &r->h;
}

mc2_batch *mc2_treader_batch_new(const mc2_treader *r, mc2_err *err)
{
    /* Start small: mc2_batch_decode grows the batch to a block's row count once a payload
     * that really holds those rows has authenticated, so a header claiming huge blocks
     * costs nothing up front. */
    size_t cap = r->h.rows_per_block < 1024 ? r->h.rows_per_block : 1024;
    if (r->h.row_count < cap) cap = (size_t)r->h.row_count;
    return mc2_batch_new(r->h.schema, cap ? cap : 1, err);
}

static int fail(mc2_treader *r, mc2_err *err)
{
    r->state = -1;
    if (err)
        r->last = *err;
    else
        mc2_err_set(&r->last, MC2_E_INTERNAL, "table reader failed");
    return -1;
}

/* Authenticates and decrypts the next frame into r->pt: 1 with the payload's length in
 * *ct_len and its index in *index, 0 at the end, -1 on error (the reader then fails). */
static int open_next(mc2_treader *r, size_t *ct_len, uint64_t *index, mc2_err *err)
{
    if (r->state == 1) return 0;
    if (r->state == -1) {
        if (err) *err = r->last;
        return -1;
    }
    size_t left = r->n - r->pos;
    const uint8_t *head = r->p + r->pos;
    if (r->index == r->h.block_count) {
        if (mc2_tframe_end(&r->h, left >= 16 ? head : NULL, left, err)) return fail(r, err);
        r->state = 1;
        return 0;
    }
    size_t frame_len;
    if (mc2_tframe_next(&r->h, r->index, left >= 16 ? head : NULL, left, &frame_len, err))
        return fail(r, err);
    size_t n = frame_len - 16 - MC2_TAG_LEN;
    if (n > r->pt_cap) {
        mc2_free_wipe(r->pt, r->pt_cap);
        r->pt_cap = 0;
        r->pt = mc2_malloc(n);
        if (!r->pt) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory reading block %llu", (ull)r->index + 1);
            return fail(r, err);
        }
        r->pt_cap = n;
    }
    if (mc2_tblock_open(r->aead, &r->h, r->index, head, frame_len, r->pt, err)) return fail(r, err);
#ifdef MC2_OBLIV_VALGRIND
    /* The obliviousness probes (tests/obliv/probe_decode.c): the plaintext is secret. */
    VALGRIND_MAKE_MEM_UNDEFINED(r->pt, n);
#endif
    *ct_len = n;
    *index = r->index++;
    r->pos += frame_len;
    return 1;
}

int mc2_treader_next(mc2_treader *r, mc2_batch *b, uint64_t *index, mc2_err *err)
{
    if (b->schema != r->h.schema)
        MC2_PANIC("mc2_treader_next: the batch is not for this reader's schema");
    mc2_wipe(r->pt, r->pt_len);
    r->pt_len = 0;
    size_t ct_len;
    uint64_t i;
    int got = open_next(r, &ct_len, &i, err);
    if (got <= 0) return got;
    int rc = mc2_batch_decode(b, r->pt, ct_len, mc2_thdr_block_rows(&r->h, i), err);
    mc2_wipe(r->pt, ct_len);
    if (rc) {
        mc2_err_prefix(err, "block %llu of %llu: ", (ull)i + 1, (ull)r->h.block_count);
        return fail(r, err);
    }
    if (index) *index = i;
    return 1;
}

int mc2_treader_next_raw(mc2_treader *r, const uint8_t **pt, size_t *len, uint32_t *rows,
                         uint64_t *index, mc2_err *err)
{
    mc2_wipe(r->pt, r->pt_len);
    r->pt_len = 0;
    size_t ct_len;
    uint64_t i;
    int got = open_next(r, &ct_len, &i, err);
    if (got <= 0) return got;
    r->pt_len = ct_len;
    *pt = r->pt;
    *len = ct_len;
    *rows = mc2_thdr_block_rows(&r->h, i);
    if (index) *index = i;
    return 1;
}

void mc2_treader_free(mc2_treader *r)
{
    if (!r) return;
    mc2_aead_free(r->aead);
    mc2_free_wipe(r->pt, r->pt_cap);
    mc2_thdr_clear(&r->h);
    mc2_free(r);
}
