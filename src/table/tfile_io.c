/* tfile_io.c - whole-file encryption of CSV/.tbl text into an .mc2t table (parallel) and
 * decryption back to text (streaming, also parallel). The format itself is in tfile.c.
 *
 * Encryption runs in two passes over the input. The block AAD binds the block and row
 * counts, so they must be known before the first block is sealed: a fast scan (no parsing)
 * counts records and notes, every rows_per_block records, the byte offset and physical line
 * where the next block starts. Then `threads` workers each claim the next block, pread its
 * byte range, parse, encode and seal it (one AEAD context per worker, the table key derived
 * once), while the calling thread writes finished frames in index order through an atomic
 * file. Workers stay at most `window` blocks ahead of the writer, so memory is bounded by a
 * few blocks per thread whatever the input size. On any error nothing appears at out_path,
 * and the error reported is that of the earliest bad block (every block before it was
 * claimed, so it is finished before the workers are joined). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "mc2/table.h"
#include "table/textio.h"
#include "table/tfile2.h"
#include "table/treader.h"
#include "table/tsrc.h"

typedef unsigned long long ull;

#define SCAN_BUF       (1u << 20)
#define HEADER_ROW_MAX (4u << 20)
#define PROGRESS_STEP  (4u << 20)
#define MAX_THREADS    256

/* ---- small I/O helpers --------------------------------------------------------------------- */

/* Reads exactly n bytes at off; a short read (the file shrank) is an input error. */
static int pread_full(int fd, const char *path, void *p, size_t n, uint64_t off, mc2_err *err)
{
    uint8_t *q = p;
    while (n > 0) {
        ssize_t r = pread(fd, q, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
        }
        if (r == 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "'%s' ended early (was it changed while being "
                               "read?)",
                               path);
        q += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int open_input(const char *path, int *fd, uint64_t *size, mc2_err *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        enum mc2_code c = errno == ENOENT ? MC2_E_NOTFOUND : MC2_E_IO;
        return mc2_err_set(err, c, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return mc2_err_set(err, MC2_E_IO, "'%s' is not a regular file", path);
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Grows a plaintext buffer to at least n bytes, wiping the old one. */
static int grow_secret(uint8_t **p, size_t *cap, size_t n, mc2_err *err)
{
    if (n <= *cap) return 0;
    size_t want = *cap ? *cap : 4096;
    while (want < n) want = want > SIZE_MAX / 2 ? n : want * 2;
    uint8_t *q = mc2_malloc(want);
    if (!q) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu bytes)", want);
    mc2_free_wipe(*p, *cap);
    *p = q;
    *cap = want;
    return 0;
}

/* ---- choosing rows per block --------------------------------------------------------------- */

/* Format version 1: about 1 MiB of payload per block: fixed widths plus, for VARCHAR, min(n,
 * 64) bytes and an offset; clamped to [1024, 65536]. (Version 2 seals each column on its own:
 * mc2_t2_rows_per_block.) */
static uint32_t default_rows_per_block(const mc2_schema *s)
{
    uint64_t row = 0;
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_column_def *d = &s->cols[c];
        switch (d->type.id) {
        case MC2_T_INT64:
        case MC2_T_DOUBLE:
        case MC2_T_DECIMAL:
            row += 8;
            break;
        case MC2_T_DEC128:
            row += 16;
            break;
        case MC2_T_DATE:
            row += 4;
            break;
        case MC2_T_BOOL:
            row += 1;
            break;
        case MC2_T_VARCHAR:
            row += 4 + (d->type.length < 64 ? d->type.length : 64);
            break;
        }
        if (d->nullable) row += 1;
    }
    if (row == 0) row = 1;
    uint64_t rpb = (1u << 20) / row;
    if (rpb < 1024) rpb = 1024;
    if (rpb > 65536) rpb = 65536;
    return (uint32_t)rpb;
}

/* The most text one row of s can take in CSV or .tbl: VARCHAR(n) at most 4n bytes, all
 * doubled if they were quotes, plus quotes; any other value is given a generous 1 KiB;
 * plus delimiters and a CRLF. Used to stop an unterminated quote from swallowing the file
 * into one block (memory stays bounded). */
static uint64_t max_row_text(const mc2_schema *s)
{
    uint64_t row = 2;
    for (size_t c = 0; c < s->ncols; c++) {
        const mc2_coltype *t = &s->cols[c].type;
        row += 1 + (t->id == MC2_T_VARCHAR ? 8 * (uint64_t)t->length + 2 : 1024);
    }
    return row;
}

/* ---- pass 1: find block boundaries --------------------------------------------------------- */

struct blk {
    uint64_t off, end; /* byte range in the input */
    uint64_t line;     /* physical line of its first record */
    uint32_t rows;
};

struct plan {
    struct blk *b;
    uint64_t n, cap;
    uint64_t rows;
};

static int plan_push(struct plan *pl, uint64_t off, uint64_t line, mc2_err *err)
{
    if (pl->n == pl->cap) {
        uint64_t nc = pl->cap ? pl->cap * 2 : 64;
        size_t bytes;
        if (nc > SIZE_MAX || !mc2_mul_size((size_t)nc, sizeof *pl->b, &bytes))
            return mc2_err_set(err, MC2_E_LIMIT, "too many blocks");
        struct blk *nb = mc2_realloc(pl->b, bytes);
        if (!nb) return mc2_err_set(err, MC2_E_NOMEM, "out of memory planning blocks");
        pl->b = nb;
        pl->cap = nc;
    }
    struct blk *b = &pl->b[pl->n++];
    b->off = off;
    b->end = off;
    b->line = line;
    b->rows = 0;
    return 0;
}

/* Checks the CSV header record in hdr (with its line end, if any) against the schema. */
static int check_header(const mc2_buf *hdr, const mc2_schema *s, const char *path, mc2_err *err)
{
    size_t n = hdr->len;
    if (n && hdr->data[n - 1] == '\n') n--;
    if (n && hdr->data[n - 1] == '\r') n--;
    return mc2_text_check_header((const char *)hdr->data, n, s, path, err);
}

/* Scans the whole input: checks the CSV header row, counts records and cuts them into blocks
 * of rpb records. */
static int plan_blocks(int fd, const char *path, uint64_t size, enum mc2_textfmt fmt,
                       const mc2_schema *s, uint32_t rpb, struct plan *pl, mc2_err *err)
{
    uint8_t *buf = mc2_malloc(SCAN_BUF);
    mc2_buf hdr = {.secret = 1};
    int rc = -1;
    if (!buf) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    mc2_scan st = {0};
    int in_header = fmt == MC2_FMT_CSV;
    uint64_t off = 0, lines = 0; /* file offset of buf[0]; physical newlines so far */
    uint32_t cur = 0;            /* records in the open block */
    int pending = 0;             /* bytes after the last record end */
    uint8_t last = 0;
    if (in_header && size == 0) {
        mc2_err_set(err, MC2_E_INPUT, "'%s' is empty: a CSV file starts with a header row", path);
        goto out;
    }
    while (off < size) {
        size_t n = size - off < SCAN_BUF ? (size_t)(size - off) : SCAN_BUF;
        if (pread_full(fd, path, buf, n, off, err)) goto out;
        last = buf[n - 1];
        size_t i = 0;
        while (i < n) {
            const char *p = (const char *)buf + i;
            uint64_t recs = 0, nl = 0;
            if (in_header) {
                size_t c = mc2_text_scan(fmt, &st, p, n - i, 1, &recs, &nl);
                if (hdr.len + c > HEADER_ROW_MAX) {
                    mc2_err_set(err, MC2_E_INPUT,
                                "'%s' line 1: the header row is longer than %u bytes (is a "
                                "quoted field left open?)",
                                path, HEADER_ROW_MAX);
                    goto out;
                }
                if (mc2_buf_append(&hdr, p, c, err)) goto out;
                i += c;
                lines += nl;
                if (recs) {
                    in_header = 0;
                    if (check_header(&hdr, s, path, err)) goto out;
                }
                continue;
            }
            /* a block starts at its first record, not where a record it began in the
             * previous buffer goes on */
            if (cur == 0 && !pending) {
                if (plan_push(pl, off + i, lines + 1, err)) goto out;
            }
            size_t c = mc2_text_scan(fmt, &st, p, n - i, rpb - cur, &recs, &nl);
            i += c;
            lines += nl;
            cur += (uint32_t)recs;
            pl->b[pl->n - 1].rows += (uint32_t)recs;
            pl->rows += recs;
            if (cur == rpb) {
                cur = 0;
                pending = 0;
                pl->b[pl->n - 1].end = off + i;
            } else {
                pending = !(i == n && last == '\n' && !st.in_quotes);
            }
        }
        off += n;
    }
    if (in_header && check_header(&hdr, s, path, err)) goto out; /* a header without newline */
    if (pl->n) {
        struct blk *b = &pl->b[pl->n - 1];
        if (pending) {
            b->rows++;
            pl->rows++;
        }
        b->end = size;
        if (b->rows == 0) pl->n--; /* only happens for an empty tail, which has no record */
    }
    /* Ends of earlier blocks: each ends where the next starts. */
    for (uint64_t k = 0; k + 1 < pl->n; k++) pl->b[k].end = pl->b[k + 1].off;
    rc = 0;
out:
    mc2_free_wipe(buf, SCAN_BUF);
    mc2_buf_free(&hdr);
    return rc;
}

/* ---- pass 2: parse, encode and seal in parallel ------------------------------------------- */

struct slot {
    uint8_t *frame; /* v1 */
    size_t len;
    mc2_t2block blk; /* v2 */
    int ready;
};

struct enc {
    /* read-only while workers run */
    int fd;
    const char *path;
    enum mc2_textfmt fmt;
    const mc2_thdr *h; /* v1 */
    mc2_twriter *tw;   /* v2 */
    const struct plan *pl;
    uint64_t row_text_max;
    uint64_t window;
    struct slot *slots; /* ring: block i in slots[i % window] */
    /* guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* a worker may claim again / stop */
    pthread_cond_t cv_done; /* a frame is ready / a worker failed */
    uint64_t next_claim, next_write;
    int failed;
    uint64_t fail_at; /* index of the earliest failed block */
    mc2_err err;
};

struct worker {
    struct enc *e;
    mc2_aead *aead;
    mc2_batch *batch;
    uint8_t *text;
    size_t text_cap;
    pthread_t tid;
    int started;
};

/* Parses, encodes and seals block i: v1, the frame malloc'd in *frame; v2, into *blk. */
static int seal_block(struct worker *w, uint64_t i, uint8_t **frame, size_t *frame_len,
                      mc2_t2block *blk, mc2_err *err)
{
    struct enc *e = w->e;
    const struct blk *b = &e->pl->b[i];
    uint64_t len = b->end - b->off, limit;
    if (__builtin_mul_overflow(e->row_text_max, (uint64_t)b->rows, &limit)) limit = UINT64_MAX;
    if (len > limit || len > SIZE_MAX)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'%s' line %llu: the %u records from here take %llu bytes, more than "
                           "rows of this schema can (is a quoted field left open?)",
                           e->path, (ull)b->line, b->rows, (ull)len);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = -1;
    *frame = NULL;
    *frame_len = 0;
    if (grow_secret(&w->text, &w->text_cap, (size_t)len, err)) return -1;
    if (pread_full(e->fd, e->path, w->text, (size_t)len, b->off, err)) goto out;
    mc2_batch_clear(w->batch);
    mc2_textpos pos = {e->path, b->line};
    if (mc2_text_parse(e->fmt, (const char *)w->text, (size_t)len, &pos, w->batch, err)) goto out;
    if (w->batch->nrows != b->rows) {
        mc2_err_set(err, MC2_E_INTERNAL,
                    "'%s' line %llu: parsed %zu records where the scan found %u (a bug in mc2's "
                    "text reader, or the file changed while being read)",
                    e->path, (ull)b->line, w->batch->nrows, b->rows);
        goto out;
    }
    if (e->tw) {
        if (mc2_twriter_seal(e->tw, w->aead, i, w->batch, blk, err)) goto out;
    } else if (mc2_batch_encode(w->batch, &pt, &pt_len, err) ||
               mc2_tblock_seal(w->aead, e->h, i, pt, pt_len, frame, frame_len, err)) {
        goto out;
    }
    rc = 0;
out:
    mc2_wipe(w->text, (size_t)len);
    mc2_free_wipe(pt, pt_len);
    if (rc) {
        mc2_free(*frame);
        *frame = NULL;
    }
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct enc *e = w->e;
    mc2_err err;
    mc2_err_clear(&err);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->failed && e->next_claim < e->pl->n && e->next_claim >= e->next_write + e->window)
            pthread_cond_wait(&e->cv_work, &e->mu);
        if (e->failed || e->next_claim >= e->pl->n) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        uint64_t i = e->next_claim++;
        pthread_mutex_unlock(&e->mu);

        uint8_t *frame = NULL;
        size_t frame_len = 0;
        mc2_t2block blk;
        memset(&blk, 0, sizeof blk);
        int rc = seal_block(w, i, &frame, &frame_len, &blk, &err);

        pthread_mutex_lock(&e->mu);
        if (rc) {
            if (!e->failed || i < e->fail_at) {
                e->failed = 1;
                e->fail_at = i;
                e->err = err;
            }
            pthread_cond_broadcast(&e->cv_work);
            pthread_cond_broadcast(&e->cv_done);
        } else {
            struct slot *s = &e->slots[i % e->window];
            s->frame = frame;
            s->len = frame_len;
            s->blk = blk;
            s->ready = 1;
            pthread_cond_broadcast(&e->cv_done);
        }
        pthread_mutex_unlock(&e->mu);
    }
    return NULL;
}

static int afile_sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_afile_write(ctx, p, n, err);
}

static unsigned choose_threads(unsigned asked, uint64_t blocks)
{
    long n = asked ? (long)asked : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    if ((uint64_t)n > blocks) n = blocks ? (long)blocks : 1;
    return (unsigned)n;
}

int mc2_table_encrypt_file(const char *in_path, const mc2_schema *s,
                           const uint8_t data_key[MC2_KEY_LEN], const char *out_path,
                           const mc2_encrypt_opts *opts, mc2_table_stats *stats, mc2_err *err)
{
    static const mc2_encrypt_opts defaults = {.format = MC2_FMT_CSV};
    if (!opts) opts = &defaults;
    if (opts->format != MC2_FMT_CSV && opts->format != MC2_FMT_TBL)
        return mc2_err_set(err, MC2_E_USAGE, "unknown input format %d", (int)opts->format);
    uint32_t rpb = opts->rows_per_block        ? opts->rows_per_block
                   : opts->format_version == 1 ? default_rows_per_block(s)
                                               : mc2_t2_rows_per_block(s);
    if (rpb > (1u << 20))
        return mc2_err_set(err, MC2_E_USAGE, "rows per block must be between 1 and %u, not %u",
                           1u << 20, rpb);
    if (opts->format_version > 2)
        return mc2_err_set(err, MC2_E_USAGE, "unknown table format version %u",
                           opts->format_version);
    bool v1 = opts->format_version == 1;

    int fd = -1, rc = -1, sync_init = 0;
    uint64_t size = 0;
    struct plan pl = {0};
    mc2_thdr h = {0};
    mc2_afile af = {.fd = -1};
    int af_open = 0;
    uint8_t key[MC2_KEY_LEN];
    uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    struct worker *ws = NULL;
    unsigned nth = 0;
    struct enc e;
    memset(&e, 0, sizeof e);
    mc2_wipe(key, sizeof key);

    if (open_input(in_path, &fd, &size, err)) return -1;
    if (plan_blocks(fd, in_path, size, opts->format, s, rpb, &pl, err)) goto out;
    if (mc2_afile_open(&af, out_path, 0644, 0, err)) goto out;
    af_open = 1;
    if (v1) {
        if (mc2_thdr_init(&h, s, pl.rows, rpb, err)) goto out;
        if (h.block_count != pl.n) {
            mc2_err_set(err, MC2_E_INTERNAL, "block plan disagrees with the row count");
            goto out;
        }
        if (mc2_table_key(data_key, h.table_id, key, err)) goto out;
    } else if (mc2_twriter_new(s, data_key, opts->table_version, afile_sink, &af, &e.tw, err)) {
        goto out;
    }

    nth = choose_threads(opts->threads, pl.n);
    ws = mc2_calloc(nth, sizeof *ws);
    e.window = 2 * (uint64_t)nth;
    e.slots = mc2_calloc((size_t)e.window, sizeof *e.slots);
    if (!ws || !e.slots) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    size_t batch_cap = rpb < pl.rows ? rpb : (size_t)(pl.rows ? pl.rows : 1);
    for (unsigned t = 0; t < nth; t++) {
        ws[t].e = &e;
        ws[t].aead = e.tw ? mc2_twriter_aead(e.tw, err) : mc2_aead_new(key, err);
        if (!ws[t].aead) goto out;
        ws[t].batch = mc2_batch_new(s, batch_cap, err);
        if (!ws[t].batch) goto out;
    }
    mc2_wipe(key, sizeof key);
    if (v1 && (mc2_thdr_seal(&h, ws[0].aead, &hdr, &hdr_len, err) ||
               mc2_afile_write(&af, hdr, hdr_len, err)))
        goto out;

    e.fd = fd;
    e.path = in_path;
    e.fmt = opts->format;
    e.h = &h;
    e.pl = &pl;
    e.row_text_max = max_row_text(s);
    if (pthread_mutex_init(&e.mu, NULL) || pthread_cond_init(&e.cv_work, NULL) ||
        pthread_cond_init(&e.cv_done, NULL)) {
        mc2_err_set(err, MC2_E_INTERNAL, "cannot initialise thread synchronisation");
        goto out;
    }
    sync_init = 1;
    if (pl.n) {
        for (unsigned t = 0; t < nth; t++) {
            if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0) {
                pthread_mutex_lock(&e.mu);
                if (!e.failed) {
                    e.failed = 1;
                    e.fail_at = UINT64_MAX;
                    mc2_err_set(&e.err, MC2_E_INTERNAL, "cannot start a worker thread");
                }
                pthread_cond_broadcast(&e.cv_work);
                pthread_mutex_unlock(&e.mu);
                break;
            }
            ws[t].started = 1;
        }
    }

    /* The writer: frames in index order. */
    uint64_t reported = 0;
    int write_failed = 0;
    for (uint64_t i = 0; i < pl.n; i++) {
        struct slot *sl = &e.slots[i % e.window];
        pthread_mutex_lock(&e.mu);
        while (!sl->ready && !e.failed) pthread_cond_wait(&e.cv_done, &e.mu);
        if (e.failed) {
            pthread_mutex_unlock(&e.mu);
            break;
        }
        uint8_t *frame = sl->frame;
        size_t frame_len = sl->len;
        mc2_t2block blk = sl->blk;
        sl->frame = NULL;
        memset(&sl->blk, 0, sizeof sl->blk);
        sl->ready = 0;
        pthread_mutex_unlock(&e.mu);

        int wr = e.tw ? mc2_twriter_append(e.tw, &blk, err)
                      : mc2_afile_write(&af, frame, frame_len, err);
        mc2_free(frame);
        mc2_t2block_free(&blk);
        pthread_mutex_lock(&e.mu);
        if (wr) {
            write_failed = 1;
            e.failed = 1;
            e.fail_at = 0;
        }
        e.next_write = i + 1;
        pthread_cond_broadcast(&e.cv_work);
        pthread_mutex_unlock(&e.mu);
        if (wr) break;
        if (opts->progress && pl.b[i].end - reported >= PROGRESS_STEP) {
            reported = pl.b[i].end;
            opts->progress(opts->progress_ctx, reported, size);
        }
    }
    for (unsigned t = 0; t < nth; t++)
        if (ws[t].started) pthread_join(ws[t].tid, NULL);
    if (e.failed) {
        if (!write_failed && err) *err = e.err;
        goto out;
    }
    if (e.tw && mc2_twriter_finish(e.tw, NULL, NULL, err)) goto out;
    uint64_t out_bytes = af.written;
    af_open = 0;
    if (mc2_afile_commit(&af, err)) goto out;
    if (opts->progress) opts->progress(opts->progress_ctx, size, size);
    if (stats) {
        stats->rows = pl.rows;
        stats->blocks = pl.n;
        stats->in_bytes = size;
        stats->out_bytes = out_bytes;
    }
    rc = 0;
out:
    if (af_open) mc2_afile_abort(&af);
    mc2_wipe(key, sizeof key);
    if (sync_init) {
        pthread_mutex_destroy(&e.mu);
        pthread_cond_destroy(&e.cv_work);
        pthread_cond_destroy(&e.cv_done);
    }
    if (e.slots)
        for (uint64_t k = 0; k < e.window; k++) {
            mc2_free(e.slots[k].frame);
            mc2_t2block_free(&e.slots[k].blk);
        }
    mc2_free(e.slots);
    mc2_twriter_free(e.tw);
    if (ws)
        for (unsigned t = 0; t < nth; t++) {
            mc2_aead_free(ws[t].aead);
            mc2_batch_free(ws[t].batch);
            mc2_free_wipe(ws[t].text, ws[t].text_cap);
        }
    mc2_free(ws);
    mc2_free(hdr);
    mc2_free(pl.b);
    mc2_thdr_clear(&h);
    if (fd >= 0) close(fd);
    return rc;
}

/* ---- decryption ------------------------------------------------------------------------------ */

/* Decryption is parallel too, for both format versions: `threads` workers take blocks from a
 * scan (tsrc.h: blocks in index order, read ahead), authenticate, decode and format them as
 * text; the calling thread writes the text in block order. Workers stay less than `window`
 * blocks ahead of the writer. On failure the blocks before the failing one are still written
 * to the temporary file and the error reported is the earliest block's (the scan records the
 * lowest failing block), as a sequential reader would report it; nothing appears at out_path. */

struct dslot {
    mc2_buf text; /* secret: plaintext rows */
    int done;
};

struct dec {
    mc2_tscan *sc;
    const mc2_schema *schema;
    enum mc2_textfmt fmt;
    uint64_t window, nblocks;
    struct dslot *slots; /* block i in slots[i % window] */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot is done or written, or something failed */
    uint64_t nwritten;
    int failed;
    uint64_t fail_at;
    mc2_err err;
};

/* Records a failure at block i unless an earlier block already failed (mu held). */
static void dec_fail(struct dec *d, uint64_t i, const mc2_err *err)
{
    if (!d->failed || i < d->fail_at) {
        d->failed = 1;
        d->fail_at = i;
        d->err = *err;
    }
    pthread_cond_broadcast(&d->cv);
}

static void *dworker_main(void *arg)
{
    struct dec *d = arg;
    mc2_err err;
    mc2_err_clear(&err);
    mc2_batch *b = mc2_batch_new(d->schema, 1024, &err);
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->failed;
        pthread_mutex_unlock(&d->mu);
        if (stop) break;
        uint64_t i = d->nblocks;
        int got = b ? mc2_tscan_next(d->sc, b, &i, &err) : -1;
        if (got == 0) break;
        pthread_mutex_lock(&d->mu);
        if (got < 0) {
            dec_fail(d, i, &err);
            pthread_mutex_unlock(&d->mu);
            break;
        }
        while (!d->failed && i >= d->nwritten + d->window) pthread_cond_wait(&d->cv, &d->mu);
        pthread_mutex_unlock(&d->mu);
        struct dslot *s = &d->slots[i % d->window];
        int rc = mc2_text_write_batch(d->fmt, b, &s->text, &err);
        pthread_mutex_lock(&d->mu);
        if (rc)
            dec_fail(d, i, &err);
        else
            s->done = 1;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    mc2_batch_free(b);
    return NULL;
}

/* Writes the finished blocks in order through af; returns when all are written or one
 * failed (d->failed). */
static void dec_write(struct dec *d, mc2_afile *af)
{
    mc2_err werr;
    for (uint64_t i = 0; i < d->nblocks; i++) {
        struct dslot *s = &d->slots[i % d->window];
        pthread_mutex_lock(&d->mu);
        while (!s->done && !(d->failed && d->fail_at <= i)) pthread_cond_wait(&d->cv, &d->mu);
        int stop = !s->done;
        pthread_mutex_unlock(&d->mu);
        if (stop) return;
        int wr = mc2_afile_write(af, s->text.data, s->text.len, &werr);
        mc2_buf_reset(&s->text);
        pthread_mutex_lock(&d->mu);
        s->done = 0;
        d->nwritten = i + 1;
        if (wr) dec_fail(d, 0, &werr);
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (wr) return;
    }
}

int mc2_table_decrypt_file(const char *in_path, const uint8_t data_key[MC2_KEY_LEN],
                           const char *out_path, enum mc2_textfmt out_format,
                           mc2_table_stats *stats, mc2_err *err)
{
    int fd;
    uint64_t size;
    if (out_format != MC2_FMT_CSV && out_format != MC2_FMT_TBL)
        return mc2_err_set(err, MC2_E_USAGE, "unknown output format %d", (int)out_format);
    if (open_input(in_path, &fd, &size, err)) return -1;
    int rc = mc2_table_decrypt_fd(fd, in_path, data_key, out_path, out_format, stats, err);
    close(fd);
    return rc;
}

int mc2_table_decrypt_fd(int fd, const char *in_name, const uint8_t data_key[MC2_KEY_LEN],
                         const char *out_path, enum mc2_textfmt out_format, mc2_table_stats *stats,
                         mc2_err *err)
{
    if (out_format != MC2_FMT_CSV && out_format != MC2_FMT_TBL)
        return mc2_err_set(err, MC2_E_USAGE, "unknown output format %d", (int)out_format);
    int rc = -1, af_open = 0;
    mc2_tio io;
    mc2_tsrc *src = NULL;
    mc2_afile af = {.fd = -1};
    mc2_buf out = {.secret = 1};
    pthread_t tids[MAX_THREADS];
    unsigned nth = 0, started = 0;
    struct dec d;
    memset(&d, 0, sizeof d);
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);

    if (mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, data_key, 256u << 20, &src, err))
        goto fail_named;
    const mc2_thdr *h = mc2_tsrc_header(src);
    unsigned *cols = mc2_calloc(h->schema->ncols ? h->schema->ncols : 1, sizeof *cols);
    for (size_t c = 0; cols && c < h->schema->ncols; c++) cols[c] = (unsigned)c;
    nth = choose_threads(0, h->block_count);
    d.window = 2 * (uint64_t)nth;
    d.nblocks = h->block_count;
    d.schema = h->schema;
    d.fmt = out_format;
    d.slots = mc2_calloc((size_t)d.window, sizeof *d.slots);
    int bad = !cols || !d.slots ||
              mc2_tscan_open(src, cols, h->schema->ncols, 2 * nth, NULL, NULL, &d.sc, err);
    mc2_free(cols);
    if (bad) {
        if (!d.slots || !cols) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto fail_named;
    }
    for (uint64_t k = 0; k < d.window; k++) d.slots[k].text.secret = 1;
    if (mc2_afile_open(&af, out_path, 0600, 0, err)) goto out;
    af_open = 1;
    if (out_format == MC2_FMT_CSV && (mc2_text_write_header(h->schema, &out, err) ||
                                      mc2_afile_write(&af, out.data, out.len, err)))
        goto out;
    for (; started < nth && h->block_count; started++)
        if (pthread_create(&tids[started], NULL, dworker_main, &d) != 0) break;
    if (h->block_count && started == 0) {
        mc2_err_set(err, MC2_E_INTERNAL, "cannot start a worker thread");
        goto out;
    }
    dec_write(&d, &af);
    pthread_mutex_lock(&d.mu);
    if (!d.failed && d.nwritten < d.nblocks) dec_fail(&d, d.nwritten, err);
    pthread_mutex_unlock(&d.mu);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);
    started = 0;
    if (d.failed) {
        *err = d.err;
        goto fail_named;
    }
    uint64_t out_bytes = af.written;
    af_open = 0;
    if (mc2_afile_commit(&af, err)) goto out;
    if (stats) {
        stats->rows = h->row_count;
        stats->blocks = h->block_count;
        stats->in_bytes = io.size;
        stats->out_bytes = out_bytes;
    }
    rc = 0;
    goto out;
fail_named:
    mc2_err_prefix(err, "'%s': ", in_name);
out:
    if (started) { /* a failure before the writer ran: stop the workers */
        pthread_mutex_lock(&d.mu);
        dec_fail(&d, 0, err);
        pthread_mutex_unlock(&d.mu);
        for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);
    }
    if (af_open) mc2_afile_abort(&af);
    if (d.slots)
        for (uint64_t k = 0; k < d.window; k++) mc2_buf_free(&d.slots[k].text);
    mc2_free(d.slots);
    mc2_tscan_free(d.sc);
    mc2_tsrc_free(src);
    mc2_buf_free(&out);
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
    return rc;
}
