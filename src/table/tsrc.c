/* tsrc.c - reading encrypted tables through byte-range reads (tsrc.h): the metadata at open,
 * then blocks on demand; scans with read-ahead slots shared by any number of threads. */
#include "table/tsrc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "table/tfile2.h"
#include "table/treader.h"

#ifdef MC2_OBLIV_VALGRIND /* the oblivious-decode probe: plaintext is secret once it verifies */
#include <valgrind/memcheck.h>
#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#else
#define SECRET(p, n) ((void)0)
#endif

typedef unsigned long long ull;

/* ---- sources ------------------------------------------------------------------------------ */

/* Memory sources keep (p, n) in the io itself: ctx = p, size = n. */
static int memio_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    (void)err;
    memcpy(dst, (const uint8_t *)ctx + off, len); /* bounds checked by the caller (tsrc) */
    *h = NULL;
    return 0;
}

static int sync_end(void *ctx, void *h, mc2_err *err)
{
    (void)ctx;
    (void)h;
    (void)err;
    return 0;
}

static void sync_abandon(void *ctx, void *h)
{
    (void)ctx;
    (void)h;
}

mc2_tio mc2_tio_mem(const uint8_t *p, size_t n)
{
    return (mc2_tio){(void *)p, n, memio_begin, sync_end, sync_abandon};
}

static int fdio_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    int fd = (int)(intptr_t)ctx;
    *h = NULL;
    while (len > 0) {
        ssize_t r = pread(fd, dst, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return mc2_err_set(err, MC2_E_IO, "cannot read the table file: %s", strerror(errno));
        if (r == 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "the table file ended early (was it changed while being read?)");
        dst += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

int mc2_tio_fd(int fd, mc2_tio *out, mc2_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return mc2_err_set(err, MC2_E_IO, "cannot stat the table file");
    *out =
        (mc2_tio){(void *)(intptr_t)fd, (uint64_t)st.st_size, fdio_begin, sync_end, sync_abandon};
    return 0;
}

/* ---- the table ---------------------------------------------------------------------------- */

struct mc2_tsrc {
    mc2_tio io;
    mc2_thdr h;
    uint8_t key[MC2_KEY_LEN]; /* the table key, for the slots' contexts */
    /* v2 */
    mc2_t2dir dir;
    mc2_t2id id;
    /* v1: frame offsets found so far (frame b starts at off1[b]; known for b < nknown) */
    pthread_mutex_t mu;
    uint64_t *off1;
    uint64_t nknown;
};

/* One synchronous read through the source. */
static int read_at(const mc2_tio *io, uint64_t off, size_t len, uint8_t *dst, mc2_err *err)
{
    void *h = NULL;
    if (off > io->size || len > io->size - off)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table file ends at %llu bytes, before byte %llu: truncated",
                           (ull)io->size, (ull)(off + len));
    if (io->begin(io->ctx, off, len, dst, &h, err)) return -1;
    return io->end(io->ctx, h, err);
}

static int open_v2(mc2_tsrc *s, const uint8_t *data_key, size_t max_meta, mc2_err *err)
{
    uint8_t prefix[MC2_T2_PREFIX_LEN], trailer[MC2_T2_TRAILER_LEN];
    uint64_t fo;
    size_t fl;
    mc2_aead *a = NULL;
    if (s->io.size < MC2_T2_PREFIX_LEN + MC2_TAG_LEN + MC2_T2_TRAILER_LEN)
        return mc2_err_set(err, MC2_E_INPUT, "table file of %llu bytes is truncated",
                           (ull)s->io.size);
    if (read_at(&s->io, 0, sizeof prefix, prefix, err) ||
        read_at(&s->io, s->io.size - sizeof trailer, sizeof trailer, trailer, err) ||
        mc2_t2_footer_pos(trailer, s->io.size, &fo, &fl, err))
        return -1;
    if (fl > max_meta)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "the table's footer (%zu bytes) is larger than the memory allowed for "
                           "it (%zu)",
                           fl, max_meta);
    uint8_t *footer = mc2_malloc(fl);
    if (!footer) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a table footer");
    int rc = read_at(&s->io, fo, fl, footer, err) ||
                     mc2_t2_open(prefix, trailer, footer, fl, s->io.size, data_key, &s->h, &s->dir,
                                 &s->id, &a, err)
                 ? -1
                 : 0;
    mc2_free(footer);
    mc2_aead_free(a);
    return rc;
}

static int open_v1(mc2_tsrc *s, const uint8_t *data_key, size_t max_meta, mc2_err *err)
{
    uint8_t pre[MC2_TFILE_PREFIX_LEN];
    size_t n = s->io.size < sizeof pre ? (size_t)s->io.size : sizeof pre, hdr_len;
    mc2_aead *a = NULL;
    if (read_at(&s->io, 0, n, pre, err) || mc2_thdr_peek(pre, n, &hdr_len, err)) return -1;
    if (hdr_len > max_meta)
        return mc2_err_set(err, MC2_E_LIMIT, "the table's header is larger than allowed");
    if (hdr_len > s->io.size)
        return mc2_err_set(err, MC2_E_INPUT,
                           "file ends inside the table header (%llu of %zu bytes): truncated",
                           (ull)s->io.size, hdr_len);
    uint8_t *hdr = mc2_malloc(hdr_len);
    if (!hdr) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a table header");
    int rc = read_at(&s->io, 0, hdr_len, hdr, err) ||
                     mc2_thdr_open(hdr, hdr_len, data_key, &s->h, &a, err)
                 ? -1
                 : 0;
    mc2_free(hdr);
    mc2_aead_free(a);
    if (rc) return -1;
    /* Every frame is at least 32 bytes: a cheap early verdict on a truncated file, and a bound
     * on block_count before anything is sized by it. */
    uint64_t left = s->io.size - hdr_len, min_frames;
    if (__builtin_mul_overflow(s->h.block_count, (uint64_t)(16 + MC2_TAG_LEN), &min_frames) ||
        min_frames > left)
        return mc2_err_set(err, MC2_E_INPUT,
                           "table claims %llu blocks but only %llu bytes follow its header: "
                           "truncated",
                           (ull)s->h.block_count, (ull)left);
    if (s->h.block_count == 0) { /* nothing may follow the header */
        uint8_t head[16];
        size_t hn2 = left < 16 ? (size_t)left : 16;
        if ((hn2 && read_at(&s->io, hdr_len, hn2, head, err)) ||
            mc2_tframe_end(&s->h, hn2 == 16 ? head : NULL, left, err))
            return -1;
    }
    if (!(s->off1 = mc2_calloc(s->h.block_count + 1, sizeof *s->off1)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for %llu block offsets",
                           (ull)s->h.block_count);
    s->off1[0] = hdr_len;
    s->nknown = 1;
    return 0;
}

int mc2_tsrc_open(const mc2_tio *io, const uint8_t data_key[MC2_KEY_LEN], size_t max_meta,
                  mc2_tsrc **out, mc2_err *err)
{
    *out = NULL;
    mc2_tsrc *s = mc2_calloc(1, sizeof *s);
    if (!s) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    s->io = *io;
    pthread_mutex_init(&s->mu, NULL);
    uint8_t head[6] = {0};
    size_t hn = io->size < 6 ? (size_t)io->size : 6;
    int rc = read_at(&s->io, 0, hn, head, err);
    if (rc == 0) {
        bool magic = hn == 6 && memcmp(head, "MC2T", 4) == 0;
        uint16_t ver = magic ? mc2_le16_get(head + 4) : 0;
        if (magic && ver != 1 && ver != 2)
            rc = mc2_err_set(err, MC2_E_INPUT,
                             "unsupported table format version %u (this mc2 reads versions 1 and "
                             "2): written by a newer mc2, or corrupted",
                             ver);
        else if (ver == 2)
            rc = open_v2(s, data_key, max_meta, err);
        else /* version 1, or not a table at all: open_v1 says which */
            rc = open_v1(s, data_key, max_meta, err);
    }
    if (rc == 0) rc = mc2_table_key(data_key, s->h.table_id, s->key, err);
    if (rc) {
        mc2_tsrc_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void mc2_tsrc_free(mc2_tsrc *s)
{
    if (!s) return;
    mc2_wipe(s->key, sizeof s->key);
    mc2_thdr_clear(&s->h);
    mc2_t2dir_free(&s->dir);
    mc2_free(s->off1);
    pthread_mutex_destroy(&s->mu);
    mc2_free(s);
}

const mc2_thdr *mc2_tsrc_header(const mc2_tsrc *s)
{
    return &s->h;
}

uint32_t mc2_tsrc_block_rows(const mc2_tsrc *s, uint64_t b)
{
    return s->h.version == 2 ? s->dir.rows[b] : mc2_thdr_block_rows(&s->h, b);
}

const mc2_colstats *mc2_tsrc_stats(const mc2_tsrc *s, uint64_t b, size_t c)
{
    return s->h.version == 2 ? &s->dir.stats[b * s->dir.ncols + c] : NULL;
}

uint64_t mc2_tsrc_block_bytes(const mc2_tsrc *s, uint64_t b, const unsigned *cols, size_t n)
{
    if (s->h.version != 2) return s->nknown > b + 1 ? s->off1[b + 1] - s->off1[b] : 0;
    uint64_t t = 0;
    for (size_t k = 0; k < n; k++) t += s->dir.len[b * s->dir.ncols + cols[k]] + MC2_TAG_LEN;
    return t;
}

uint64_t mc2_tsrc_block_offset(const mc2_tsrc *s, uint64_t b)
{
    if (s->h.version != 2 || b > s->dir.nblocks) return 0;
    return b == s->dir.nblocks ? s->dir.footer_off : s->dir.off[b * s->dir.ncols];
}

/* v1 (s->mu held): finds where frames 0..b end, reading frame heads in order. */
static int v1_discover(mc2_tsrc *s, uint64_t b, mc2_err *err)
{
    while (s->nknown <= b + 1) {
        uint64_t i = s->nknown - 1, at = s->off1[i], left = s->io.size - at;
        uint8_t head[16];
        size_t hn = left < 16 ? (size_t)left : 16, frame_len;
        if (read_at(&s->io, at, hn, head, err))
            return mc2_err_prefix(err, "block %llu of %llu: ", (ull)i + 1, (ull)s->h.block_count);
        if (mc2_tframe_next(&s->h, i, hn == 16 ? head : NULL, left, &frame_len, err)) return -1;
        s->off1[i + 1] = at + frame_len;
        s->nknown++;
        if (i + 1 == s->h.block_count) { /* after the last frame: nothing may follow */
            left = s->io.size - s->off1[i + 1];
            hn = left < 16 ? (size_t)left : 16;
            if ((hn && read_at(&s->io, s->off1[i + 1], hn, head, err)) ||
                mc2_tframe_end(&s->h, hn == 16 ? head : NULL, left, err))
                return -1;
        }
    }
    return 0;
}

/* ---- scans ----------------------------------------------------------------------------------- */

/* A slot is FREE, READING (its reads are under way), CHECKING (claimed by a thread that is
 * authenticating and decoding it: it may still fail) or HELD (authenticated, handed out raw
 * until mc2_tscan_release). */
enum slot_state { SLOT_FREE, SLOT_READING, SLOT_CHECKING, SLOT_HELD };

typedef struct slot {
    enum slot_state st;
    uint64_t block;
    uint32_t rows;
    uint8_t *buf;
    size_t cap, len;
    void **h; /* outstanding reads */
    size_t nh;
    mc2_aead *aead;
    size_t *at; /* v2: where scan column k's chunk starts in buf */
    const uint8_t **pt;
    size_t *ptlen;
} slot;

struct mc2_tscan {
    mc2_tsrc *s;
    unsigned *cols; /* in the caller's order */
    size_t n;
    mc2_tkeep_fn keep;
    void *kctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    unsigned nslots;
    uint64_t next_start; /* the next block whose reads may start */
    bool failed;
    uint64_t fail_block; /* the lowest block that failed */
    mc2_err ferr;
    uint64_t bytes, nread, nskipped;
};

static void slot_release_reads(mc2_tscan *sc, slot *sl)
{
    for (size_t i = 0; i < sl->nh; i++) sc->s->io.abandon(sc->s->io.ctx, sl->h[i]);
    sl->nh = 0;
}

/* Records a failure at block b, keeping the lowest block's (mu held). */
static void fail_locked(mc2_tscan *sc, const mc2_err *err, uint64_t b)
{
    if (!sc->failed || b < sc->fail_block) {
        sc->failed = true;
        sc->fail_block = b;
        sc->ferr = *err;
    }
    pthread_cond_broadcast(&sc->cv);
}

/* Makes room for len bytes in the slot's buffer. */
static int slot_reserve(slot *sl, size_t len, mc2_err *err)
{
    if (len <= sl->cap) return 0;
    uint8_t *nb = mc2_malloc(len);
    if (!nb) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a %zu-byte block", len);
    mc2_free_wipe(sl->buf, sl->cap);
    sl->buf = nb;
    sl->cap = len;
    return 0;
}

static int slot_read(mc2_tscan *sc, slot *sl, uint64_t off, size_t len, uint8_t *dst, mc2_err *err)
{
    const mc2_tio *io = &sc->s->io;
    if (off > io->size || len > io->size - off)
        return mc2_err_set(err, MC2_E_INPUT, "table file is truncated");
    void *h = NULL;
    if (io->begin(io->ctx, off, len, dst, &h, err)) return -1;
    sl->h[sl->nh++] = h;
    return 0;
}

/* v2: starts the reads of block b's scan columns into sl, one per run of adjacent chunks. */
static int start_v2(mc2_tscan *sc, slot *sl, uint64_t b, mc2_err *err)
{
    const mc2_t2dir *d = &sc->s->dir;
    size_t total = 0;
    for (size_t k = 0; k < sc->n; k++) total += d->len[b * d->ncols + sc->cols[k]] + MC2_TAG_LEN;
    if (slot_reserve(sl, total, err)) return -1;
    /* Columns in file order; a run of consecutive columns is one read. */
    size_t pos = 0;
    for (uint32_t c = 0; c < d->ncols; c++) {
        size_t k = 0;
        while (k < sc->n && sc->cols[k] != c) k++;
        if (k == sc->n) continue;
        sl->at[k] = pos;
        pos += d->len[b * d->ncols + c] + MC2_TAG_LEN;
    }
    uint64_t run_off = 0;
    size_t run_len = 0, run_pos = 0;
    for (uint32_t c = 0; c <= d->ncols; c++) {
        size_t k = 0;
        while (c < d->ncols && k < sc->n && sc->cols[k] != c) k++;
        bool in = c < d->ncols && k < sc->n;
        if (in && run_len == 0) {
            run_off = d->off[b * d->ncols + c];
            run_pos = sl->at[k];
        }
        if (in) {
            run_len += d->len[b * d->ncols + c] + MC2_TAG_LEN;
            continue;
        }
        if (run_len && slot_read(sc, sl, run_off, run_len, sl->buf + run_pos, err)) return -1;
        run_len = 0;
    }
    sl->len = total;
    return 0;
}

/* v1: starts the read of block b's whole frame (mu held: finds it first). */
static int start_v1(mc2_tscan *sc, slot *sl, uint64_t b, mc2_err *err)
{
    mc2_tsrc *s = sc->s;
    pthread_mutex_lock(&s->mu);
    int rc = v1_discover(s, b, err);
    uint64_t off = s->off1[b], len = rc ? 0 : s->off1[b + 1] - off;
    pthread_mutex_unlock(&s->mu);
    if (rc || slot_reserve(sl, (size_t)len, err)) return -1;
    sl->len = (size_t)len;
    return slot_read(sc, sl, off, (size_t)len, sl->buf, err);
}

/* Starts reads into free slots for the next kept blocks (mu held). */
static int start_reads(mc2_tscan *sc, mc2_err *err)
{
    const mc2_thdr *h = &sc->s->h;
    for (unsigned i = 0; i < sc->nslots && sc->next_start < h->block_count; i++) {
        slot *sl = &sc->slots[i];
        if (sl->st != SLOT_FREE) continue;
        uint64_t b = sc->next_start;
        while (b < h->block_count && sc->keep && !sc->keep(sc->kctx, sc->s, b)) {
            b++;
            sc->nskipped++;
        }
        sc->next_start = b + 1;
        if (b >= h->block_count) break;
        sl->block = b;
        sl->rows = mc2_tsrc_block_rows(sc->s, b);
        sl->nh = 0;
        sl->st = SLOT_READING;
        int rc = h->version == 2 ? start_v2(sc, sl, b, err) : start_v1(sc, sl, b, err);
        if (rc) return -1;
        sc->bytes += sl->len;
        sc->nread++;
    }
    return 0;
}

/* The READING slot with the lowest block, or NULL. */
static slot *oldest(mc2_tscan *sc)
{
    slot *best = NULL;
    for (unsigned i = 0; i < sc->nslots; i++) {
        slot *sl = &sc->slots[i];
        if (sl->st == SLOT_READING && (!best || sl->block < best->block)) best = sl;
    }
    return best;
}

/* Whether a block before b is still being checked by some thread (mu held). */
static bool checking_before(const mc2_tscan *sc, uint64_t b)
{
    for (unsigned i = 0; i < sc->nslots; i++)
        if (sc->slots[i].st == SLOT_CHECKING && sc->slots[i].block < b) return true;
    return false;
}

/* Claims the next block's slot: 1 with *out, 0 at the end, -1 on failure (the lowest failing
 * block in *failed_block).
 *
 * Blocks before a failed one are still handed out, and a failure is reported only once no
 * block before it is still being checked, so that every caller ends with the error of the
 * first bad block in file order, as a sequential reader would report it, whatever the
 * number of threads and however their work interleaves. */
static int claim(mc2_tscan *sc, slot **out, uint64_t *failed_block, mc2_tclaim_fn on_claim,
                 void *ctx, mc2_err *err)
{
    pthread_mutex_lock(&sc->mu);
    int rc;
    for (;;) {
        mc2_err e2;
        if (!sc->failed && start_reads(sc, &e2))
            fail_locked(sc, &e2, sc->next_start ? sc->next_start - 1 : 0);
        slot *sl = oldest(sc);
        if (sl && (!sc->failed || sl->block < sc->fail_block)) {
            sl->st = SLOT_CHECKING;
            *out = sl;
            if (on_claim) on_claim(ctx, sl->block);
            rc = 1;
            break;
        }
        if (sc->failed && !checking_before(sc, sc->fail_block)) {
            *err = sc->ferr;
            *failed_block = sc->fail_block;
            rc = -1;
            break;
        }
        if (!sc->failed && sc->next_start >= sc->s->h.block_count) {
            rc = 0;
            break;
        }
        /* Every slot is being checked or held, or an earlier block is still being checked. */
        pthread_cond_wait(&sc->cv, &sc->mu);
    }
    pthread_mutex_unlock(&sc->mu);
    return rc;
}

void mc2_tscan_release(mc2_tscan *sc, int slot_index)
{
    pthread_mutex_lock(&sc->mu);
    slot *sl = &sc->slots[slot_index];
    slot_release_reads(sc, sl);
    sl->st = SLOT_FREE;
    mc2_err e2;
    if (!sc->failed && start_reads(sc, &e2))
        fail_locked(sc, &e2, sc->next_start ? sc->next_start - 1 : 0);
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

/* Waits for sl's reads and authenticates its chunks (or frame) in place. Errors name the
 * block. */
static int finish_slot(mc2_tscan *sc, slot *sl, mc2_err *err)
{
    mc2_tsrc *s = sc->s;
    int rc = 0;
    for (size_t i = 0; i < sl->nh; i++) {
        if (rc == 0)
            rc = s->io.end(s->io.ctx, sl->h[i], err);
        else
            s->io.abandon(s->io.ctx, sl->h[i]);
    }
    sl->nh = 0;
    if (rc)
        return mc2_err_prefix(err, "block %llu of %llu: ", (ull)sl->block + 1,
                              (ull)s->h.block_count);
    if (s->h.version != 2) {
        size_t ct_len = sl->len - 16 - MC2_TAG_LEN;
        if (mc2_tblock_open(sl->aead, &s->h, sl->block, sl->buf, sl->len, sl->buf + 16, err))
            return -1;
        sl->pt[0] = sl->buf + 16;
        sl->ptlen[0] = ct_len;
        SECRET(sl->pt[0], ct_len);
        return 0;
    }
    for (size_t k = 0; k < sc->n; k++) {
        size_t len = s->dir.len[sl->block * s->dir.ncols + sc->cols[k]];
        uint8_t *ct = sl->buf + sl->at[k];
        if (mc2_t2_chunk_open(sl->aead, &s->id, sl->block, s->h.block_count, sc->cols[k], sl->rows,
                              ct, len, ct, err))
            return -1;
        sl->pt[k] = ct;
        sl->ptlen[k] = len;
        SECRET(ct, len);
    }
    return 0;
}

/* Block sl failed its checks (err): records the failure, frees the slot, then waits until no
 * earlier block is still being checked (blocks are claimed in order, so every earlier one is
 * checked or being checked), and returns -1 with the first bad block's error and index. */
static int slot_failed(mc2_tscan *sc, slot *sl, uint64_t *index, mc2_err *err)
{
    pthread_mutex_lock(&sc->mu);
    fail_locked(sc, err, sl->block);
    slot_release_reads(sc, sl);
    sl->st = SLOT_FREE;
    while (checking_before(sc, sc->fail_block)) pthread_cond_wait(&sc->cv, &sc->mu);
    *err = sc->ferr;
    *index = sc->fail_block;
    pthread_mutex_unlock(&sc->mu);
    return -1;
}

int mc2_tscan_next_raw(mc2_tscan *sc, const uint8_t **pt, size_t *len, uint64_t *index,
                       uint32_t *rows, int *slot_index, mc2_err *err)
{
    slot *sl = NULL;
    int got = claim(sc, &sl, index, NULL, NULL, err);
    if (got <= 0) return got;
    *index = sl->block;
    if (finish_slot(sc, sl, err)) return slot_failed(sc, sl, index, err);
    size_t n = sc->s->h.version == 2 ? sc->n : 1;
    for (size_t k = 0; k < n; k++) {
        pt[k] = sl->pt[k];
        len[k] = sl->ptlen[k];
    }
    *rows = sl->rows;
    *slot_index = (int)(sl - sc->slots);
    pthread_mutex_lock(&sc->mu);
    sl->st = SLOT_HELD;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    return 1;
}

/* Decodes the authenticated block in sl into b. */
static int decode_slot(mc2_tscan *sc, slot *sl, mc2_batch *b, mc2_err *err)
{
    const mc2_tsrc *s = sc->s;
    if (s->h.version != 2) return mc2_batch_decode(b, sl->pt[0], sl->ptlen[0], sl->rows, err);
    b->nrows = 0;
    if (mc2_batch_grow(b, sl->rows, err)) return -1;
    for (size_t k = 0; k < sc->n; k++) {
        mc2_rd r = mc2_rd_init(sl->pt[k], sl->ptlen[k]);
        if (mc2_col_get(b, sc->cols[k], &r, sl->rows, true, "column chunk", err)) return -1;
        if (mc2_rd_left(&r))
            return mc2_err_set(err, MC2_E_INPUT,
                               "column chunk, column %u ('%s'): %zu unexpected bytes after its "
                               "values",
                               sc->cols[k] + 1, b->schema->cols[sc->cols[k]].name, mc2_rd_left(&r));
    }
    b->nrows = sl->rows;
    return 0;
}

int mc2_tscan_next(mc2_tscan *sc, mc2_batch *b, uint64_t *index, mc2_err *err)
{
    return mc2_tscan_next_cb(sc, b, index, NULL, NULL, err);
}

int mc2_tscan_next_cb(mc2_tscan *sc, mc2_batch *b, uint64_t *index, mc2_tclaim_fn on_claim,
                      void *ctx, mc2_err *err)
{
    slot *sl = NULL;
    int got = claim(sc, &sl, index, on_claim, ctx, err);
    if (got <= 0) return got;
    *index = sl->block;
    if (finish_slot(sc, sl, err)) return slot_failed(sc, sl, index, err);
    if (decode_slot(sc, sl, b, err)) {
        b->nrows = 0;
        mc2_err_prefix(err, "block %llu of %llu: ", (ull)sl->block + 1, (ull)sc->s->h.block_count);
        return slot_failed(sc, sl, index, err);
    }
    mc2_tscan_release(sc, (int)(sl - sc->slots));
    return 1;
}

int mc2_tscan_open(mc2_tsrc *s, const unsigned *cols, size_t n, unsigned ahead, mc2_tkeep_fn keep,
                   void *keep_ctx, mc2_tscan **out, mc2_err *err)
{
    *out = NULL;
    mc2_tscan *sc = mc2_calloc(1, sizeof *sc);
    if (!sc) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    sc->s = s;
    sc->keep = keep;
    sc->kctx = keep_ctx;
    sc->n = n;
    sc->nslots = ahead < 1 ? 1 : ahead > 64 ? 64 : ahead;
    size_t nk = n ? n : 1;
    sc->cols = mc2_calloc(nk, sizeof *sc->cols);
    sc->slots = mc2_calloc(sc->nslots, sizeof *sc->slots);
    if (!sc->cols || !sc->slots) goto nomem;
    for (size_t k = 0; k < n; k++) {
        if (cols[k] >= s->h.schema->ncols) MC2_PANIC("mc2_tscan_open: column out of range");
        for (size_t j = 0; j < k; j++)
            if (cols[j] == cols[k]) MC2_PANIC("mc2_tscan_open: a column is listed twice");
        sc->cols[k] = cols[k];
    }
    for (unsigned i = 0; i < sc->nslots; i++) {
        slot *sl = &sc->slots[i];
        sl->h = mc2_calloc(nk + 1, sizeof *sl->h);
        sl->at = mc2_calloc(nk, sizeof *sl->at);
        sl->pt = mc2_calloc(nk, sizeof *sl->pt);
        sl->ptlen = mc2_calloc(nk, sizeof *sl->ptlen);
        if (!sl->h || !sl->at || !sl->pt || !sl->ptlen) goto nomem;
        if (!(sl->aead = mc2_aead_new(s->key, err))) goto fail;
    }
    *out = sc;
    return 0;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory");
fail:
    mc2_tscan_free(sc);
    return -1;
}

void mc2_tscan_counts(const mc2_tscan *sc, uint64_t *bytes, uint64_t *read, uint64_t *skipped)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&sc->mu; /* the counts change under the lock */
    pthread_mutex_lock(mu);
    if (bytes) *bytes = sc->bytes;
    if (read) *read = sc->nread;
    if (skipped) *skipped = sc->nskipped;
    pthread_mutex_unlock(mu);
}

void mc2_tscan_free(mc2_tscan *sc)
{
    if (!sc) return;
    for (unsigned i = 0; sc->slots && i < sc->nslots; i++) {
        slot *sl = &sc->slots[i];
        if (sl->h) slot_release_reads(sc, sl);
        mc2_free_wipe(sl->buf, sl->cap);
        mc2_free(sl->h);
        mc2_free(sl->at);
        mc2_free(sl->pt);
        mc2_free(sl->ptlen);
        mc2_aead_free(sl->aead);
    }
    mc2_free(sc->slots);
    mc2_free(sc->cols);
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    mc2_free(sc);
}
