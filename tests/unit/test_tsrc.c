/* test_tsrc.c - reading encrypted tables through byte-range reads (table/tsrc.h), both format
 * versions: memory, file and asynchronous sources (reads completed in end, out of order);
 * scans of column subsets in any order by 1..4 threads with 1..8 blocks read ahead (every
 * block exactly once, rows identical to the table's); the statistics (every type, NULL-only
 * blocks) and the keep filter; the raw API; errors: the first bad block in file order is
 * the one reported whatever the thread count, and no call hangs (every threaded case runs
 * under a watchdog alarm). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "table/chunk.h"
#include "table/tfile2.h"
#include "table/tsrc.h"
#include "table/value.h"
#include "test.h"

static const uint8_t KEY[MC2_KEY_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
static const uint8_t KEY2[MC2_KEY_LEN] = {1, 2, 3};

static const char *YAML = "table: t\n"
                          "columns:\n"
                          "  - name: id\n    type: INT64\n    nullable: false\n"
                          "  - name: i\n    type: INT64\n"
                          "  - name: d\n    type: DOUBLE\n"
                          "  - name: dec\n    type: DECIMAL(12,2)\n"
                          "  - name: dt\n    type: DATE\n"
                          "  - name: b\n    type: BOOL\n"
                          "  - name: s\n    type: VARCHAR(8)\n"
                          "  - name: s2\n    type: VARCHAR(3)\n    nullable: false\n"
                          "  - name: n\n    type: INT64\n";
enum { C_ID, C_I, C_D, C_DEC, C_DT, C_B, C_S, C_S2, C_N, NCOLS };
#define NBLOCKS 24
#define V1_RPB  17

static mc2_schema *S;

/* ---- the table: every value a function of (column, block, row) ----------------------------- */

typedef struct tdef {
    unsigned version;
    uint64_t nblocks, nrows;
    uint32_t rows[NBLOCKS];
    uint64_t start[NBLOCKS]; /* global index of the block's first row */
    uint8_t *bytes;
    size_t n;
} tdef;

typedef struct val {
    bool null;
    int64_t i;
    double d;
    char s[40];
    size_t slen;
} val;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Text of at most `chars` characters, sometimes starting with a 2-byte one. */
static void gen_text(uint64_t h, unsigned chars, val *v)
{
    unsigned k = (unsigned)(h % (chars + 1));
    v->slen = 0;
    for (unsigned j = 0; j < k; j++) {
        if (j == 0 && h % 13 == 0) {
            v->s[v->slen++] = (char)0xc3;
            v->s[v->slen++] = (char)0xa9;
        } else {
            v->s[v->slen++] = (char)('a' + (h >> (8 + 3 * j)) % 26);
        }
    }
}

/* Column c of row r of block b. Column i is NULL in every 4th block, dt in every 5th, n in
 * all: NULL-only blocks. */
static void gen(const tdef *t, unsigned c, uint64_t b, uint32_t r, val *v)
{
    uint64_t g = t->start[b] + r, h = mix(g * 16 + c);
    memset(v, 0, sizeof *v);
    switch (c) {
    case C_ID:
        v->i = (int64_t)g;
        break;
    case C_I:
        v->null = b % 4 == 3 || g % 5 == 0;
        v->i = v->null ? 0 : (int64_t)(h % 2000001) - 1000000;
        break;
    case C_D:
        v->null = g % 7 == 0;
        if (!v->null) v->d = h % 29 == 0 ? -0.0 : (double)((int64_t)(h % 200001) - 100000) / 64.0;
        break;
    case C_DEC:
        v->null = g % 11 == 0;
        v->i = v->null ? 0 : (int64_t)(h % 1999999999999ull) - 999999999999;
        break;
    case C_DT:
        v->null = b % 5 == 2 || g % 9 == 0;
        v->i =
            v->null ? 0 : MC2_DATE_MIN + (int64_t)(h % (uint64_t)(MC2_DATE_MAX - MC2_DATE_MIN + 1));
        break;
    case C_B:
        v->null = g % 3 == 0;
        v->i = v->null ? 0 : (int64_t)(h & 1);
        break;
    case C_S:
        v->null = g % 6 == 0;
        if (!v->null) gen_text(h, 8, v);
        break;
    case C_S2:
        gen_text(h, 3, v);
        break;
    case C_N:
        v->null = true;
        break;
    }
}

/* Block b's rows as a batch. */
static mc2_batch *block_batch(const tdef *t, uint64_t b)
{
    mc2_err err;
    uint32_t rows = t->rows[b];
    mc2_batch *bt = mc2_batch_new(S, rows, &err);
    if (!bt) abort();
    for (unsigned c = 0; c < NCOLS; c++) {
        mc2_col *col = &bt->cols[c];
        enum mc2_type ty = S->cols[c].type.id;
        size_t text = 0;
        val v;
        if (ty == MC2_T_VARCHAR) {
            for (uint32_t r = 0; r < rows; r++) {
                gen(t, c, b, r, &v);
                text += v.slen;
            }
            if (mc2_batch_reserve_chars(bt, c, text, &err)) abort();
            text = 0;
            col->off[0] = 0;
        }
        for (uint32_t r = 0; r < rows; r++) {
            gen(t, c, b, r, &v);
            if (col->nulls) col->nulls[r] = v.null;
            switch (ty) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                col->v.i64[r] = v.i;
                break;
            case MC2_T_DEC128:
                col->v.i128[r] = v.i;
                break;
            case MC2_T_DOUBLE:
                col->v.f64[r] = v.d;
                break;
            case MC2_T_DATE:
                col->v.i32[r] = (int32_t)v.i;
                break;
            case MC2_T_BOOL:
                col->v.b[r] = (uint8_t)v.i;
                break;
            case MC2_T_VARCHAR:
                memcpy(col->data + text, v.s, v.slen);
                text += v.slen;
                col->off[r + 1] = (uint32_t)text;
                break;
            }
        }
    }
    bt->nrows = rows;
    return bt;
}

static int buf_sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

/* Writes the table in format version `version` (v2: blocks of 1..50 rows; v1: 17 rows, the
 * last 12). */
static void make_table(tdef *t, unsigned version)
{
    memset(t, 0, sizeof *t);
    t->version = version;
    t->nblocks = NBLOCKS;
    for (uint64_t b = 0; b < NBLOCKS; b++) {
        t->rows[b] = version == 2 ? 1 + (uint32_t)((b * 37 + 11) % 50)
                                  : (b + 1 < NBLOCKS ? V1_RPB : V1_RPB - 5);
        t->start[b] = t->nrows;
        t->nrows += t->rows[b];
    }
    mc2_err err;
    mc2_buf out = {0};
    if (version == 2) {
        mc2_twriter *w = NULL;
        if (mc2_twriter_new(S, KEY, 3, buf_sink, &out, &w, &err)) abort();
        for (uint64_t b = 0; b < NBLOCKS; b++) {
            mc2_batch *bt = block_batch(t, b);
            if (mc2_twriter_add(w, bt, &err)) abort();
            mc2_batch_free(bt);
        }
        uint64_t rows, blocks;
        if (mc2_twriter_finish(w, &rows, &blocks, &err)) abort();
        CHECK(rows == t->nrows && blocks == NBLOCKS);
        mc2_twriter_free(w);
    } else {
        mc2_thdr h;
        uint8_t key[MC2_KEY_LEN], *hdr = NULL;
        size_t hl;
        mc2_aead *a = NULL;
        if (mc2_thdr_init(&h, S, t->nrows, V1_RPB, &err) ||
            mc2_table_key(KEY, h.table_id, key, &err) || !(a = mc2_aead_new(key, &err)) ||
            mc2_thdr_seal(&h, a, &hdr, &hl, &err) || mc2_buf_append(&out, hdr, hl, &err))
            abort();
        mc2_free(hdr);
        for (uint64_t b = 0; b < NBLOCKS; b++) {
            mc2_batch *bt = block_batch(t, b);
            uint8_t *pt = NULL, *fr = NULL;
            size_t pl = 0, fl = 0;
            if (mc2_batch_encode(bt, &pt, &pl, &err) ||
                mc2_tblock_seal(a, &h, b, pt, pl, &fr, &fl, &err) ||
                mc2_buf_append(&out, fr, fl, &err))
                abort();
            mc2_free(pt);
            mc2_free(fr);
            mc2_batch_free(bt);
        }
        mc2_aead_free(a);
        mc2_thdr_clear(&h);
    }
    t->bytes = out.data;
    t->n = out.len;
}

/* Mismatches between the scan columns cols[0..n) of batch bt and block b's rows. */
static unsigned check_block(const tdef *t, const mc2_batch *bt, uint64_t b, const unsigned *cols,
                            size_t n)
{
    unsigned bad = bt->nrows != t->rows[b];
    for (size_t k = 0; !bad && k < n; k++) {
        unsigned c = cols[k];
        const mc2_col *col = &bt->cols[c];
        for (uint32_t r = 0; r < t->rows[b]; r++) {
            val v;
            gen(t, c, b, r, &v);
            bool null = col->nulls && col->nulls[r];
            if (null != v.null) {
                bad++;
                continue;
            }
            if (null) continue;
            switch (S->cols[c].type.id) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                bad += col->v.i64[r] != v.i;
                break;
            case MC2_T_DEC128:
                bad += col->v.i128[r] != v.i;
                break;
            case MC2_T_DOUBLE:
                bad += memcmp(&col->v.f64[r], &v.d, 8) != 0;
                break;
            case MC2_T_DATE:
                bad += col->v.i32[r] != v.i;
                break;
            case MC2_T_BOOL:
                bad += col->v.b[r] != v.i;
                break;
            case MC2_T_VARCHAR:
                bad += col->off[r + 1] - col->off[r] != v.slen ||
                       memcmp(col->data + col->off[r], v.s, v.slen) != 0;
                break;
            }
        }
    }
    return bad;
}

/* ---- sources ----------------------------------------------------------------------------- */

/* An asynchronous source, as the enclave's host reads are: begin queues a read, end performs
 * it - and, now and then, some other queued reads first (they complete out of order) - after
 * an optional delay for reads that touch [slow_lo, slow_hi); reads touching [fail_lo,
 * fail_hi) fail. Counts reads begun, ended and abandoned. */
typedef struct areq {
    uint64_t off;
    size_t len;
    uint8_t *dst;
    bool done;
    struct areq *next;
} areq;

typedef struct aio {
    const uint8_t *p;
    pthread_mutex_t mu;
    areq *q;
    unsigned seed;
    uint64_t slow_lo, slow_hi, fail_lo, fail_hi;
    unsigned slow_us;
    unsigned begun, ended, abandoned, early;
} aio;

static bool touches(uint64_t off, size_t len, uint64_t lo, uint64_t hi)
{
    return off < hi && off + len > lo;
}

static void unlink_req(aio *io, areq *r)
{
    for (areq **pp = &io->q; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    abort(); /* a handle the source never gave out */
}

static int aio_begin(void *ctx, uint64_t off, size_t len, uint8_t *dst, void **h, mc2_err *err)
{
    aio *io = ctx;
    areq *r = calloc(1, sizeof *r);
    if (!r) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    r->off = off;
    r->len = len;
    r->dst = dst;
    pthread_mutex_lock(&io->mu);
    r->next = io->q;
    io->q = r;
    io->begun++;
    pthread_mutex_unlock(&io->mu);
    *h = r;
    return 0;
}

static int aio_end(void *ctx, void *h, mc2_err *err)
{
    aio *io = ctx;
    areq *r = h;
    pthread_mutex_lock(&io->mu);
    /* Complete up to two other queued reads first. */
    for (int k = 0; k < 2; k++) {
        unsigned pick = (unsigned)rand_r(&io->seed) % 4;
        areq *o = io->q;
        for (unsigned j = 0; o && j < pick; j++) o = o->next;
        if (o && o != r && !o->done && !touches(o->off, o->len, io->fail_lo, io->fail_hi)) {
            memcpy(o->dst, io->p + o->off, o->len);
            o->done = true;
            io->early++;
        }
    }
    bool slow = touches(r->off, r->len, io->slow_lo, io->slow_hi);
    bool fail = touches(r->off, r->len, io->fail_lo, io->fail_hi);
    pthread_mutex_unlock(&io->mu);
    if (slow) usleep(io->slow_us);
    pthread_mutex_lock(&io->mu);
    if (!r->done && !fail) memcpy(r->dst, io->p + r->off, r->len);
    unlink_req(io, r);
    io->ended++;
    pthread_mutex_unlock(&io->mu);
    free(r);
    return fail ? mc2_err_set(err, MC2_E_IO, "the host did not answer a read") : 0;
}

static void aio_abandon(void *ctx, void *h)
{
    aio *io = ctx;
    pthread_mutex_lock(&io->mu);
    unlink_req(io, h);
    io->abandoned++;
    pthread_mutex_unlock(&io->mu);
    free(h);
}

static void aio_init(aio *io, const tdef *t, unsigned seed)
{
    memset(io, 0, sizeof *io);
    io->p = t->bytes;
    io->seed = seed;
    pthread_mutex_init(&io->mu, NULL);
}

static mc2_tio aio_tio(aio *io, size_t n)
{
    return (mc2_tio){io, n, aio_begin, aio_end, aio_abandon};
}

/* Every read begun was ended or abandoned. */
static void aio_done(aio *io, const char *what)
{
    CHECK_MSG(io->q == NULL && io->begun == io->ended + io->abandoned,
              "%s: %u reads begun, %u ended, %u abandoned", what, io->begun, io->ended,
              io->abandoned);
    pthread_mutex_destroy(&io->mu);
}

enum src_kind { SRC_MEM, SRC_FD, SRC_ASYNC };
static const char *SRC_NAME[] = {"memory", "file", "async"};

typedef struct source {
    mc2_tio io;
    aio a;
    int fd;
} source;

static char tmpdir[256];

static void source_open(source *s, enum src_kind k, const tdef *t, size_t n, unsigned seed)
{
    mc2_err err;
    s->fd = -1;
    if (k == SRC_MEM) {
        s->io = mc2_tio_mem(t->bytes, n);
    } else if (k == SRC_FD) {
        char path[300];
        snprintf(path, sizeof path, "%s/t.mc2t", tmpdir);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(t->bytes, 1, n, f) != n || fclose(f)) abort();
        s->fd = open(path, O_RDONLY);
        unlink(path);
        if (s->fd < 0 || mc2_tio_fd(s->fd, &s->io, &err)) abort();
    } else {
        aio_init(&s->a, t, seed);
        s->io = aio_tio(&s->a, n);
    }
}

static void source_close(source *s, enum src_kind k, const char *what)
{
    if (k == SRC_FD) close(s->fd);
    if (k == SRC_ASYNC) aio_done(&s->a, what);
}

/* ---- the watchdog ------------------------------------------------------------------------ */

static char wd_case[256];

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_tsrc: a scan hangs: ";
    ssize_t r = write(2, msg, sizeof msg - 1);
    r = write(2, wd_case, strlen(wd_case));
    r = write(2, "\n", 1);
    (void)r;
    _exit(1);
}

/* ---- scans by several threads -------------------------------------------------------------- */

typedef struct run {
    const tdef *t;
    mc2_tsrc *src;
    mc2_tscan *sc;
    const unsigned *cols;
    size_t n;
    bool raw;
    pthread_mutex_t mu;
    unsigned seen[NBLOCKS];
    unsigned long bad;
    unsigned zeros, fails;
    uint64_t fail_idx[8];
    char fail_msg[8][sizeof(((mc2_err *)0)->msg)];
} run;

/* One block through the raw API, decoded here. */
static int next_raw_decoded(run *x, mc2_batch *bt, uint64_t *idx, mc2_err *err)
{
    const uint8_t *pt[NCOLS];
    size_t len[NCOLS];
    uint32_t rows;
    int slot, rc = mc2_tscan_next_raw(x->sc, pt, len, idx, &rows, &slot, err);
    if (rc != 1) return rc;
    int bad = 0;
    if (x->t->version == 1) {
        bad = mc2_batch_decode(bt, pt[0], len[0], rows, err);
    } else {
        bt->nrows = 0;
        bad = mc2_batch_grow(bt, rows, err);
        for (size_t k = 0; !bad && k < x->n; k++) {
            mc2_rd r = mc2_rd_init(pt[k], len[k]);
            bad = mc2_col_get(bt, x->cols[k], &r, rows, true, "raw chunk", err) ||
                  mc2_rd_left(&r) != 0;
        }
        bt->nrows = rows;
    }
    mc2_tscan_release(x->sc, slot);
    return bad ? -2 : 1;
}

static void *scan_thread(void *arg)
{
    run *x = arg;
    mc2_err err;
    mc2_batch *bt = mc2_batch_new(S, 1, &err);
    if (!bt) abort();
    for (;;) {
        uint64_t idx = UINT64_MAX;
        mc2_err_clear(&err);
        int rc =
            x->raw ? next_raw_decoded(x, bt, &idx, &err) : mc2_tscan_next(x->sc, bt, &idx, &err);
        pthread_mutex_lock(&x->mu);
        if (rc == 1 && idx < NBLOCKS) {
            x->seen[idx]++;
            x->bad += check_block(x->t, bt, idx, x->cols, x->n);
        } else if (rc == 0) {
            x->zeros++;
        } else {
            if (x->fails < 8) {
                x->fail_idx[x->fails] = idx;
                snprintf(x->fail_msg[x->fails], sizeof x->fail_msg[0], "%s", err.msg);
            }
            x->fails++;
        }
        pthread_mutex_unlock(&x->mu);
        if (rc != 1) break;
    }
    mc2_batch_free(bt);
    return NULL;
}

/* Runs a scan of cols[0..n) with `threads` threads, under the watchdog. */
static void run_scan(run *x, const tdef *t, mc2_tsrc *src, const unsigned *cols, size_t n,
                     unsigned threads, unsigned ahead, mc2_tkeep_fn keep, void *kctx, bool raw)
{
    mc2_err err;
    memset(x, 0, sizeof *x);
    x->t = t;
    x->src = src;
    x->cols = cols;
    x->n = n;
    x->raw = raw;
    pthread_mutex_init(&x->mu, NULL);
    if (mc2_tscan_open(src, cols, n, ahead, keep, kctx, &x->sc, &err)) {
        CHECK_MSG(0, "%s: tscan_open: %s", wd_case, err.msg);
        return;
    }
    pthread_t tid[4];
    alarm(30);
    for (unsigned k = 0; k < threads; k++)
        if (pthread_create(&tid[k], NULL, scan_thread, x)) abort();
    for (unsigned k = 0; k < threads; k++) pthread_join(tid[k], NULL);
    alarm(0);
    pthread_mutex_destroy(&x->mu);
}

static mc2_tsrc *open_src(const mc2_tio *io, const char *what)
{
    mc2_err err;
    mc2_tsrc *s = NULL;
    CHECK_MSG(mc2_tsrc_open(io, KEY, 1u << 20, &s, &err) == 0, "%s: open: %s", what, err.msg);
    return s;
}

/* The column sets scanned: all, in order and reversed; subsets in any order; none. */
static const unsigned COLS_ALL[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned COLS_REV[] = {8, 7, 6, 5, 4, 3, 2, 1, 0};
static const unsigned COLS_A[] = {6, 0, 3};
static const unsigned COLS_B[] = {2, 4, 5, 1};
static const unsigned COLS_C[] = {7};
static const struct {
    const char *name;
    const unsigned *cols;
    size_t n;
} COLSETS[] = {{"all", COLS_ALL, 9},
               {"reversed", COLS_REV, 9},
               {"{s,id,dec}", COLS_A, 3},
               {"{d,dt,b,i}", COLS_B, 4},
               {"{s2}", COLS_C, 1}};

static void test_scans(const tdef *t)
{
    unsigned cases = 0;
    for (enum src_kind k = SRC_MEM; k <= SRC_ASYNC; k++)
        for (size_t cs = 0; cs < sizeof COLSETS / sizeof COLSETS[0]; cs++)
            for (unsigned threads = 1; threads <= 4; threads++)
                for (unsigned ahead = 1; ahead <= 8; ahead++) {
                    for (int raw = 0; raw <= 1; raw++) {
                        if (raw && (cs == 1 || cs == 4)) continue;
                        snprintf(wd_case, sizeof wd_case,
                                 "v%u %s source, columns %s, %u threads, "
                                 "ahead %u%s",
                                 t->version, SRC_NAME[k], COLSETS[cs].name, threads, ahead,
                                 raw ? ", raw" : "");
                        source so;
                        source_open(&so, k, t, t->n, threads * 31 + ahead);
                        mc2_tsrc *src = open_src(&so.io, wd_case);
                        if (src) {
                            run x;
                            run_scan(&x, t, src, COLSETS[cs].cols, COLSETS[cs].n, threads, ahead,
                                     NULL, NULL, raw);
                            unsigned once = 0;
                            for (unsigned b = 0; b < NBLOCKS; b++) once += x.seen[b] == 1;
                            CHECK_MSG(once == NBLOCKS && x.bad == 0 && x.fails == 0 &&
                                          x.zeros == threads,
                                      "%s: %u blocks seen once, %lu bad rows, %u failures (%s)",
                                      wd_case, once, x.bad, x.fails, x.fails ? x.fail_msg[0] : "");
                            uint64_t bytes, read, skipped, want = 0;
                            mc2_tscan_counts(x.sc, &bytes, &read, &skipped);
                            for (uint64_t b = 0; b < NBLOCKS; b++)
                                want +=
                                    mc2_tsrc_block_bytes(src, b, COLSETS[cs].cols, COLSETS[cs].n);
                            CHECK_MSG(read == NBLOCKS && skipped == 0 && bytes == want,
                                      "%s: counts %llu bytes (want %llu), %llu read, %llu skipped",
                                      wd_case, (unsigned long long)bytes, (unsigned long long)want,
                                      (unsigned long long)read, (unsigned long long)skipped);
                            mc2_tscan_free(x.sc);
                            mc2_tsrc_free(src);
                        }
                        source_close(&so, k, wd_case);
                        cases++;
                    }
                }
    printf("v%u: %u scans (3 sources, 5 column sets, 1..4 threads, ahead 1..8, decoded and "
           "raw): every block once, every row right\n",
           t->version, cases);
}

/* ---- the header, statistics and the keep filter -------------------------------------------- */

static void expect_stats(const tdef *t, uint64_t b, unsigned c, mc2_colstats *st)
{
    memset(st, 0, sizeof *st);
    enum mc2_type ty = S->cols[c].type.id;
    uint32_t nnull = 0;
    bool first = true;
    double dmin = 0, dmax = 0;
    for (uint32_t r = 0; r < t->rows[b]; r++) {
        val v;
        gen(t, c, b, r, &v);
        if (v.null) {
            nnull++;
            continue;
        }
        if (ty == MC2_T_VARCHAR) continue;
        if (ty == MC2_T_DOUBLE) {
            dmin = first || v.d < dmin ? v.d : dmin;
            dmax = first || v.d > dmax ? v.d : dmax;
        } else {
            st->min = first || v.i < st->min ? v.i : st->min;
            st->max = first || v.i > st->max ? v.i : st->max;
        }
        first = false;
    }
    if (ty == MC2_T_DOUBLE) {
        memcpy(&st->min, &dmin, 8);
        memcpy(&st->max, &dmax, 8);
    }
    st->flags =
        (uint8_t)((!first && ty != MC2_T_VARCHAR ? MC2_STATS_MINMAX : 0) |
                  (nnull ? MC2_STATS_NULLS : 0) | (nnull == t->rows[b] ? MC2_STATS_ALLNULL : 0));
}

static bool stats_equal(enum mc2_type ty, const mc2_colstats *a, const mc2_colstats *b)
{
    if (a->flags != b->flags) return false;
    if (ty != MC2_T_DOUBLE) return a->min == b->min && a->max == b->max;
    double x[4];
    memcpy(&x[0], &a->min, 8);
    memcpy(&x[1], &a->max, 8);
    memcpy(&x[2], &b->min, 8);
    memcpy(&x[3], &b->max, 8);
    return x[0] == x[2] && x[1] == x[3]; /* -0.0 == 0.0: either may be kept */
}

static void test_header_and_stats(const tdef *t)
{
    mc2_tio io = mc2_tio_mem(t->bytes, t->n);
    mc2_tsrc *s = open_src(&io, "stats");
    if (!s) return;
    const mc2_thdr *h = mc2_tsrc_header(s);
    uint32_t maxrows = 0;
    for (uint64_t b = 0; b < NBLOCKS; b++) maxrows = t->rows[b] > maxrows ? t->rows[b] : maxrows;
    CHECK(h->version == t->version && h->row_count == t->nrows && h->block_count == NBLOCKS &&
          h->rows_per_block == maxrows && h->table_version == (t->version == 2 ? 3 : 0) &&
          h->schema->ncols == NCOLS);
    unsigned nullonly = 0, minmax[NCOLS] = {0}, bad = 0;
    for (uint64_t b = 0; b < NBLOCKS; b++) {
        CHECK(mc2_tsrc_block_rows(s, b) == t->rows[b]);
        for (unsigned c = 0; c < NCOLS; c++) {
            const mc2_colstats *st = mc2_tsrc_stats(s, b, c);
            if (t->version == 1) {
                CHECK(st == NULL);
                continue;
            }
            mc2_colstats want;
            expect_stats(t, b, c, &want);
            if (!stats_equal(S->cols[c].type.id, st, &want)) {
                bad++;
                fprintf(stderr,
                        "stats of block %llu column %u: flags %u min %lld max %lld, want "
                        "%u %lld %lld\n",
                        (unsigned long long)b, c, st->flags, (long long)st->min, (long long)st->max,
                        want.flags, (long long)want.min, (long long)want.max);
            }
            nullonly += (want.flags & MC2_STATS_ALLNULL) != 0;
            minmax[c] += (want.flags & MC2_STATS_MINMAX) != 0;
        }
    }
    if (t->version == 2) {
        CHECK(bad == 0);
        /* The data exercise what they should: NULL-only blocks in i, dt and n; min/max for
         * every fixed-width type; none for VARCHAR. */
        CHECK(nullonly >= NBLOCKS + NBLOCKS / 4 + NBLOCKS / 5);
        CHECK(minmax[C_ID] == NBLOCKS && minmax[C_D] > 0 && minmax[C_DEC] > 0 && minmax[C_DT] > 0 &&
              minmax[C_B] > 0 && minmax[C_I] > 0 && minmax[C_S] == 0 && minmax[C_S2] == 0 &&
              minmax[C_N] == 0);
        printf("v2 statistics: %u blocks x %u columns match the data (%u NULL-only)\n", NBLOCKS,
               NCOLS, nullonly);
        /* The chunks fill the file between the prefix and the footer. */
        uint64_t total = 0;
        for (uint64_t b = 0; b < NBLOCKS; b++) total += mc2_tsrc_block_bytes(s, b, COLS_ALL, 9);
        CHECK(total == mc2_le64_get(t->bytes + t->n - 16) - MC2_T2_PREFIX_LEN);
    }
    mc2_tsrc_free(s);
}

/* keep: blocks whose id range meets [lo, hi] (by the statistics; v1 has none: all). */
typedef struct idrange {
    int64_t lo, hi;
} idrange;

static bool keep_ids(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    const idrange *r = ctx;
    const mc2_colstats *st = mc2_tsrc_stats(s, b, C_ID);
    return !st || (st->max >= r->lo && st->min <= r->hi);
}

/* keep: blocks where dt is not all NULL. */
static bool keep_dates(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    (void)ctx;
    const mc2_colstats *st = mc2_tsrc_stats(s, b, C_DT);
    return !st || !(st->flags & MC2_STATS_ALLNULL);
}

static void test_keep(const tdef *t)
{
    idrange r = {(int64_t)t->start[5] + 3, (int64_t)t->start[11]};
    unsigned kept_ids = 0, kept_dates = 0;
    bool want_ids[NBLOCKS], want_dates[NBLOCKS];
    for (uint64_t b = 0; b < NBLOCKS; b++) {
        int64_t lo = (int64_t)t->start[b], hi = lo + t->rows[b] - 1;
        want_ids[b] = t->version == 1 || (hi >= r.lo && lo <= r.hi);
        want_dates[b] = t->version == 1 || b % 5 != 2;
        kept_ids += want_ids[b];
        kept_dates += want_dates[b];
    }
    if (t->version == 2) CHECK(kept_ids == 7 && kept_dates == NBLOCKS - 5);
    for (unsigned threads = 1; threads <= 4; threads += 3)
        for (unsigned ahead = 1; ahead <= 8; ahead += 7)
            for (int which = 0; which < 2; which++) {
                snprintf(wd_case, sizeof wd_case, "v%u keep %s, %u threads, ahead %u", t->version,
                         which ? "dates" : "ids", threads, ahead);
                source so;
                source_open(&so, SRC_ASYNC, t, t->n, 7 + ahead);
                mc2_tsrc *src = open_src(&so.io, wd_case);
                if (!src) continue;
                run x;
                run_scan(&x, t, src, COLS_A, 3, threads, ahead, which ? keep_dates : keep_ids, &r,
                         false);
                const bool *want = which ? want_dates : want_ids;
                unsigned nkept = which ? kept_dates : kept_ids, wrong = 0;
                for (uint64_t b = 0; b < NBLOCKS; b++) wrong += x.seen[b] != (unsigned)want[b];
                uint64_t bytes, read, skipped;
                mc2_tscan_counts(x.sc, &bytes, &read, &skipped);
                CHECK_MSG(wrong == 0 && x.bad == 0 && x.fails == 0 && read == nkept &&
                              skipped == NBLOCKS - nkept,
                          "%s: %u blocks wrong, %llu read, %llu skipped (want %u)", wd_case, wrong,
                          (unsigned long long)read, (unsigned long long)skipped, nkept);
                mc2_tscan_free(x.sc);
                mc2_tsrc_free(src);
                source_close(&so, SRC_ASYNC, wd_case);
            }
    /* No columns at all: rows are counted, nothing is read. */
    mc2_tio io = mc2_tio_mem(t->bytes, t->n);
    mc2_tsrc *src = open_src(&io, "no columns");
    if (src && t->version == 2) {
        snprintf(wd_case, sizeof wd_case, "v2 no columns");
        run x;
        run_scan(&x, t, src, NULL, 0, 2, 3, NULL, NULL, false);
        unsigned once = 0;
        for (uint64_t b = 0; b < NBLOCKS; b++) once += x.seen[b] == 1;
        uint64_t bytes, read;
        mc2_tscan_counts(x.sc, &bytes, &read, NULL);
        CHECK(once == NBLOCKS && x.bad == 0 && bytes == 0 && read == NBLOCKS);
        mc2_tscan_free(x.sc);
    }
    mc2_tsrc_free(src);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Byte ranges of each block in the file (v2: its chunks; v1: its frame) and of its first
 * VARCHAR s chunk's ciphertext (v2) / its payload (v1), where a flip is made. */
static void block_ranges(const tdef *t, uint64_t lo[NBLOCKS], uint64_t hi[NBLOCKS],
                         uint64_t flip[NBLOCKS])
{
    if (t->version == 2) {
        mc2_tio io = mc2_tio_mem(t->bytes, t->n);
        mc2_tsrc *s = open_src(&io, "ranges");
        uint64_t at = MC2_T2_PREFIX_LEN;
        for (uint64_t b = 0; s && b < NBLOCKS; b++) {
            lo[b] = at;
            flip[b] = at + mc2_tsrc_block_bytes(s, b, COLS_ALL, C_S) + 1;
            at += mc2_tsrc_block_bytes(s, b, COLS_ALL, 9);
            hi[b] = at;
        }
        mc2_tsrc_free(s);
        return;
    }
    uint64_t at = MC2_TFILE_PREFIX_LEN + mc2_le32_get(t->bytes + 44) + MC2_TAG_LEN;
    for (uint64_t b = 0; b < NBLOCKS; b++) {
        lo[b] = at;
        flip[b] = at + 16 + 3;
        at += 32 + mc2_le32_get(t->bytes + at + 12);
        hi[b] = at;
    }
}

/* Blocks 5, 9 and 17 corrupted (block 5 read slowly, so other threads reach the later ones
 * first), or block 7's read failing and block 12 corrupted, or (v1) the file truncated inside
 * block 10: every call that fails reports the first bad block, all blocks before it are
 * handed out exactly once, and nothing hangs. */
static void test_errors(const tdef *t)
{
    uint64_t lo[NBLOCKS], hi[NBLOCKS], flip[NBLOCKS];
    block_ranges(t, lo, hi, flip);
    uint8_t *bad = malloc(t->n);
    enum { CORRUPT, READFAIL, TRUNCATE } kinds[] = {CORRUPT, READFAIL, TRUNCATE};
    const char *kname[] = {"corrupt 5,9,17", "read of 7 fails, 12 corrupt", "truncated in 10"};
    unsigned cases = 0;
    for (int ki = 0; ki < 3; ki++) {
        if (kinds[ki] == TRUNCATE && t->version == 2) continue; /* v2: the trailer is gone */
        memcpy(bad, t->bytes, t->n);
        size_t n = t->n;
        uint64_t first;
        if (kinds[ki] == CORRUPT) {
            bad[flip[5]] ^= 1;
            bad[flip[9]] ^= 1;
            bad[flip[17]] ^= 1;
            first = 5;
        } else if (kinds[ki] == READFAIL) {
            bad[flip[12]] ^= 1;
            first = 7;
        } else {
            n = (size_t)lo[10] + 20;
            first = 10;
        }
        tdef tb = *t;
        tb.bytes = bad;
        for (unsigned threads = 1; threads <= 4; threads++)
            for (unsigned ahead = 1; ahead <= 8; ahead *= 2)
                for (int raw = 0; raw <= 1; raw++) {
                    snprintf(wd_case, sizeof wd_case, "v%u errors: %s, %u threads, ahead %u%s",
                             t->version, kname[ki], threads, ahead, raw ? ", raw" : "");
                    source so;
                    source_open(&so, SRC_ASYNC, &tb, n, threads + ahead);
                    so.a.slow_lo = lo[first];
                    so.a.slow_hi = hi[first];
                    so.a.slow_us = 10000;
                    if (kinds[ki] == READFAIL) {
                        so.a.fail_lo = lo[7];
                        so.a.fail_hi = hi[7];
                    }
                    mc2_tsrc *src = open_src(&so.io, wd_case);
                    if (!src) continue;
                    run x;
                    run_scan(&x, &tb, src, COLS_ALL, 9, threads, ahead, NULL, NULL, raw);
                    unsigned wrong = 0, badidx = 0;
                    for (uint64_t b = 0; b < NBLOCKS; b++)
                        wrong += b < first ? x.seen[b] != 1 : x.seen[b] > 1;
                    char want[64];
                    snprintf(want, sizeof want, "block %llu of %u", (unsigned long long)first + 1,
                             NBLOCKS);
                    for (unsigned k = 0; k < x.fails && k < 8; k++) {
                        const char *m = strstr(x.fail_msg[k], want);
                        badidx += x.fail_idx[k] != first || !m || strstr(m + 1, want);
                    }
                    CHECK_MSG(x.fails >= 1 && x.fails + x.zeros == threads && badidx == 0 &&
                                  wrong == 0 && x.bad == 0,
                              "%s: %u failures (first at %llu: %s), %u wrong", wd_case, x.fails,
                              (unsigned long long)x.fail_idx[0], x.fail_msg[0], wrong + badidx);
                    /* Every later call fails the same way. */
                    mc2_err err;
                    mc2_batch *bt = mc2_batch_new(S, 1, &err);
                    uint64_t idx = 0;
                    CHECK(mc2_tscan_next(x.sc, bt, &idx, &err) == -1 && idx == first);
                    mc2_batch_free(bt);
                    mc2_tscan_free(x.sc);
                    mc2_tsrc_free(src);
                    source_close(&so, SRC_ASYNC, wd_case);
                    cases++;
                }
        printf("v%u errors, %s: checked\n", t->version, kname[ki]);
    }
    free(bad);
    printf("v%u: %u error cases (1..4 threads, ahead 1/2/4/8, decoded and raw)\n", t->version,
           cases);
}

/* Opening: a wrong key, a version this reader does not know, metadata over the bound. */
static void test_open_errors(const tdef *t)
{
    mc2_err err;
    mc2_tsrc *s = NULL;
    mc2_tio io = mc2_tio_mem(t->bytes, t->n);
    CHECK(mc2_tsrc_open(&io, KEY2, 1u << 20, &s, &err) == -1 && err.code == MC2_E_AUTH);
    CHECK(mc2_tsrc_open(&io, KEY, 64, &s, &err) == -1 && err.code == MC2_E_LIMIT);
    uint8_t *c = malloc(t->n);
    memcpy(c, t->bytes, t->n);
    mc2_le16_put(c + 4, 3);
    io = mc2_tio_mem(c, t->n);
    CHECK(mc2_tsrc_open(&io, KEY, 1u << 20, &s, &err) == -1 && err.code == MC2_E_INPUT &&
          strstr(err.msg, "versions 1 and 2"));
    free(c);
    CHECK(s == NULL);
}

/* A column listed twice is a caller's bug: the scan refuses it (abort), rather than reading
 * one chunk into two places. */
static void test_duplicate_column(const tdef *t)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2); /* the panic's message */
        mc2_err err;
        mc2_tio io = mc2_tio_mem(t->bytes, t->n);
        mc2_tsrc *s = NULL;
        mc2_tscan *sc = NULL;
        unsigned cols[] = {C_S, C_ID, C_S};
        if (mc2_tsrc_open(&io, KEY, 1u << 20, &s, &err) == 0)
            (void)!mc2_tscan_open(s, cols, 3, 2, NULL, NULL, &sc, &err);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a column listed twice was accepted");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mc2-test-tsrc-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    signal(SIGALRM, on_alarm);
    mc2_err err;
    if (mc2_schema_parse("t.yaml", YAML, strlen(YAML), &S, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (unsigned v = 2; v >= 1; v--) {
        tdef t;
        make_table(&t, v);
        printf("format version %u: %llu rows in %u blocks, %zu bytes\n", v,
               (unsigned long long)t.nrows, NBLOCKS, t.n);
        test_header_and_stats(&t);
        test_scans(&t);
        test_keep(&t);
        test_errors(&t);
        test_open_errors(&t);
        if (v == 2) test_duplicate_column(&t);
        mc2_free(t.bytes);
    }
    mc2_schema_free(S);
    rmdir(tmpdir);
    return test_done("test_tsrc");
}
