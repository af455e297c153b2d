/* probe_decode.c - the valgrind proofs of oblivious mode's input path FROM THE SEALED BYTES:
 * tables are sealed (mc2_tblock_seal), read back through the reader (AES-GCM open), and
 * decoded by obliv/decode.c straight into fixed-width rows (SQL) or float32 matrices (GBDT),
 * without the branchy batch decoder (docs/obliv.md, "Decoding from the sealed bytes"). The
 * probe has probe.c's command line, so run_memcheck.sh and run_trace.sh check it unchanged.
 *
 * src/table/treader.c is compiled INTO the probe with MC2_OBLIV_VALGRIND: there, right after a
 * block's tag has verified, the whole plaintext is marked undefined (secret) for memcheck; the
 * only values that become defined again are the ones obliv_declassify releases (the v1
 * section boundaries and each block's validity bit). src/obliv and src/gbdt are compiled at
 * the probe's flags (-O0 or the Release flags); the SQL glue (oexec.c) is the release library.
 *
 *   probe_decode memcheck      five variants of a table of every type (INT64, DECIMAL,
 *                              DOUBLE, DATE, BOOL, nullable VARCHAR(5), NOT NULL VARCHAR(3); three
 *                              blocks) and of a numeric GBDT table: decode all columns and a
 *                              selection, compare with obliv_rows_from_batch of the original
 *                              rows; two invalid variants (bad UTF-8 deep in a value; BOOL 2 and a
 *                              DATE out of range) must fail naming block and column; three SQL
 *                              queries over the sealed table (one scans it twice: the held path)
 *                              under both leakage policies must equal encryption mode; the GBDT
 *                              reader (decode + float32 + the infinity and label checks) must equal
 *                              the encryption-mode reader's floats. ZERO memcheck errors.
 *   probe_decode leak-branch   control: the old path, mc2_treader_next (the batch decoder) +
 *                              obliv_rows_from_batch: secret-dependent jumps
 *   probe_decode leak-index    control: VARCHAR values gathered at their (secret) offsets:
 *                              secret-dependent addresses
 *   probe_decode leak-fastsort control: the old GBDT reader (batch decoder + mc2_cell_float(),
 * which returns early on NULL) probe_decode trace         the same paths on five variants of the
 * same public shape (block sizes; per block and column whether a NULL occurs; per block each
 *                              VARCHAR column's byte total) and different secrets (NULL positions,
 *                              per-row string lengths, 1- to 4-byte UTF-8, values, invalid UTF-8
 *                              deep in a row, invalid BOOL/DATE), each call between two stores to
 *                              a marker word; the regions must be identical, the controls' differ
 *   probe_decode trace-quick   three variants, without the SQL regions (-O0: the SQL glue is
 *                              the release library either way, and the operators at -O0 are
 *                              proved by probe_ops)
 *
 * Everything runs on one thread (the sorts of the SQL queries too). */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

#define PROBE_NAME "probe_decode"
#include "probe_util.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "gbdt/gbdt.h"
#include "mc2/table.h"
#include "obliv/decode.h"
#include "sql/oexec.h"
#include "sql/planner.h"
#include "table/treader.h"
#include "table/value.h"

#define VARIANTS 5
#define MAXB     3 /* blocks */

static volatile uint64_t trace_mark;
static unsigned nvariants = VARIANTS;
static int trace_sql = 1; /* trace-quick (-O0) leaves the SQL regions to the Release trace */
static size_t rpb = 16, nrows = 44; /* memcheck: blocks of 16, 16, 12; lackey: 6 + 6 */
static const uint8_t KEY[MC2_KEY_LEN] = {42};

static const char WIDE[] = "table: w\ncolumns:\n"
                           "  - {name: k, type: INT64, nullable: false}\n"
                           "  - {name: d, type: 'DECIMAL(9,2)'}\n"
                           "  - {name: x, type: DOUBLE}\n"
                           "  - {name: dt, type: DATE}\n"
                           "  - {name: b, type: BOOL}\n"
                           "  - {name: s, type: 'VARCHAR(5)'}\n"
                           "  - {name: t, type: 'VARCHAR(3)', nullable: false}\n";
static const char NUM[] = "table: g\ncolumns:\n"
                          "  - {name: f1, type: INT64}\n"
                          "  - {name: f2, type: DOUBLE}\n"
                          "  - {name: f3, type: 'DECIMAL(6,2)'}\n"
                          "  - {name: f4, type: DATE}\n"
                          "  - {name: f5, type: BOOL, nullable: false}\n"
                          "  - {name: y, type: DOUBLE, nullable: false}\n";
#define LABEL 5

static mc2_schema *ws, *gs;

/* One table: its rows as batches (one per block) and its sealed bytes. */
typedef struct tab {
    const mc2_schema *s;
    mc2_batch *b[MAXB];
    size_t nb;
    mc2_buf file;
} tab;

static void die(const char *what, const mc2_err *err)
{
    fprintf(stderr, "probe_decode: %s: %s\n", what, err ? err->msg : "");
    exit(2);
}

static size_t block_rows(size_t i)
{
    return i + 1 < (nrows + rpb - 1) / rpb ? rpb : nrows - i * rpb;
}

/* ---- filling ----------------------------------------------------------------------------- */

/* Writes exactly `bytes` bytes of valid UTF-8 with at most maxcp code points: style 0 mixed,
 * 1 as many code points as allowed (mostly ASCII), 2 as few as possible (4-byte ones). */
static size_t gen_str(char *o, size_t bytes, size_t maxcp, unsigned style)
{
    size_t lo = (bytes + 3) / 4, hi = bytes < maxcp ? bytes : maxcp, c;
    c = style == 1 ? hi : style == 2 ? lo : lo + (size_t)(rnd() % (hi - lo + 1));
    unsigned w[32];
    size_t extra = bytes - c, n = 0;
    for (size_t i = 0; i < c; i++) w[i] = 1;
    while (extra) { /* spread the extra bytes; at most 4 per code point */
        size_t i = style == 2 ? n++ % c : (size_t)(rnd() % c);
        if (w[i] < 4) w[i]++, extra--;
    }
    size_t p = 0;
    for (size_t i = 0; i < c; i++) {
        uint32_t cp = w[i] == 1   ? (uint32_t) "abz!"[rnd() % 4]
                      : w[i] == 2 ? (rnd() % 2 ? 0xE9 : 0x80 + (uint32_t)(rnd() % 0x780))
                      : w[i] == 3 ? 0xE000 + (uint32_t)(rnd() % 0x1000)
                                  : 0x10000 + (uint32_t)(rnd() % 0x100000);
        if (w[i] == 1) o[p++] = (char)cp;
        if (w[i] == 2) o[p++] = (char)(0xC0 | (cp >> 6)), o[p++] = (char)(0x80 | (cp & 0x3F));
        if (w[i] == 3)
            o[p++] = (char)(0xE0 | (cp >> 12)), o[p++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            o[p++] = (char)(0x80 | (cp & 0x3F));
        if (w[i] == 4)
            o[p++] = (char)(0xF0 | (cp >> 18)), o[p++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            o[p++] = (char)(0x80 | ((cp >> 6) & 0x3F)), o[p++] = (char)(0x80 | (cp & 0x3F));
    }
    return p;
}

static void put_str(mc2_batch *b, size_t c, size_t i, const char *v, size_t n)
{
    mc2_err err;
    b->nrows = i;
    if (mc2_batch_reserve_chars(b, c, n, &err)) die("reserve", &err);
    memcpy(b->cols[c].data + b->cols[c].off[i], v, n);
    b->cols[c].off[i + 1] = b->cols[c].off[i] + (uint32_t)n;
}

/* Block blk of the wide table, variant v. Public shape, the same in every variant: each
 * nullable column has a NULL in every block; in each pair of rows (2j, 2j+1) s holds 6 bytes
 * in all and t 5. Secret: everything else. v = 1: bad UTF-8 deep in a value of s (block 0,
 * row 2); v = 3: BOOL 2 and a DATE after 9999-12-31 (block 1). */
static void fill_wide(mc2_batch *b, size_t blk, unsigned v)
{
    size_t n = block_rows(blk);
    char buf[32];
    for (size_t i = 0; i < n; i += 2) {
        /* s in this pair: which row is NULL (0 none, 1 the first, 2 the second), the split */
        unsigned sn = i == 0 ? 1 + (unsigned)((v + blk) % 2) : (unsigned)(rnd() % 3);
        size_t s0 = sn == 1 ? 0 : sn == 2 ? 6 : (size_t)(rnd() % 7), t0 = (size_t)(rnd() % 6);
        int bad8 = v == 1 && blk == 0 && i == 2;
        if (bad8) sn = 0, s0 = 4;
        for (size_t r = i; r < i + 2; r++) {
            int first = r == i;
            for (size_t c = 1; c <= 4; c++) {
                int nul = r == (v + 2 * c + blk) % n || rnd() % 100 < 12 * v;
                b->cols[c].nulls[r] = (uint8_t)nul;
            }
            b->cols[0].v.i64[r] = (int64_t)(rnd() % 5);
            b->cols[1].v.i64[r] =
                b->cols[1].nulls[r] ? 0 : (int64_t)(rnd() % 1999999999) - 999999999;
            b->cols[2].v.f64[r] =
                b->cols[2].nulls[r] ? 0.0 : ((double)(rnd() % 20000) - 10000.0) / 64.0;
            b->cols[3].v.i32[r] =
                b->cols[3].nulls[r]
                    ? 0
                    : MC2_DATE_MIN + (int32_t)(rnd() % (MC2_DATE_MAX - MC2_DATE_MIN + 1));
            b->cols[4].v.b[r] = b->cols[4].nulls[r] ? 0 : (uint8_t)(rnd() % 2);
            b->cols[5].nulls[r] = (uint8_t)(sn == (first ? 1u : 2u));
            size_t sl = first ? s0 : 6 - s0, bl = gen_str(buf, sl, 5, v % 3);
            if (bad8 && first) memcpy(buf, "ab\x80z", 4); /* a lone continuation byte */
            put_str(b, 5, r, buf, bl);
            put_str(b, 6, r, buf, gen_str(buf, first ? t0 : 5 - t0, 3, (v + 1) % 3));
        }
    }
    if (v == 3 && blk == 1) {
        b->cols[4].nulls[3] = 0, b->cols[4].v.b[3] = 2;
        b->cols[3].nulls[1] = 0, b->cols[3].v.i32[1] = MC2_DATE_MAX + 1;
    }
    b->nrows = n;
}

/* Block blk of the numeric (GBDT) table, variant v: f1..f4 have a NULL in every block; the
 * label y is 0 or 1. v = 4 (memcheck only): a feature too large for float32 and a label 2. */
static void fill_num(mc2_batch *b, size_t blk, unsigned v, int bad)
{
    size_t n = block_rows(blk);
    for (size_t r = 0; r < n; r++) {
        for (size_t c = 0; c < 4; c++)
            b->cols[c].nulls[r] = (uint8_t)(r == (v + 3 * c + blk) % n || rnd() % 100 < 10 * v);
        b->cols[0].v.i64[r] = b->cols[0].nulls[r] ? 0 : (int64_t)(rnd() % 2000) - 1000;
        b->cols[1].v.f64[r] = b->cols[1].nulls[r] ? 0.0 : ((double)(rnd() % 4000) - 2000.0) / 7.0;
        b->cols[2].v.i64[r] = b->cols[2].nulls[r] ? 0 : (int64_t)(rnd() % 1999999) - 999999;
        b->cols[3].v.i32[r] = b->cols[3].nulls[r] ? 0 : (int32_t)(rnd() % 40000) - 20000;
        b->cols[4].v.b[r] = (uint8_t)(rnd() % 2);
        b->cols[5].v.f64[r] = (double)(rnd() % 2);
    }
    if (bad && blk == 1) {
        b->cols[1].nulls[2] = 0, b->cols[1].v.f64[2] = 1e300; /* float32: infinite */
        b->cols[5].v.f64[3] = 2.0;                            /* binary:logistic: bad */
    }
    b->nrows = n;
}

/* Fills t (schema s) for variant v and seals it: header, then one frame per block. */
static void make_table(tab *t, const mc2_schema *s, unsigned v, int bad)
{
    mc2_err err;
    memset(t, 0, sizeof *t);
    t->s = s;
    t->nb = (nrows + rpb - 1) / rpb;
    rng_state = 777 + v;
    mc2_thdr h = {0};
    uint8_t key[MC2_KEY_LEN], *hdr = NULL, *frames = NULL;
    size_t hl = 0, fl = 0;
    mc2_aead *aead = NULL;
    if (mc2_thdr_init(&h, s, nrows, (uint32_t)rpb, &err) ||
        mc2_table_key(KEY, h.table_id, key, &err) || !(aead = mc2_aead_new(key, &err)) ||
        mc2_thdr_seal(&h, aead, &hdr, &hl, &err))
        die("seal header", &err);
    for (size_t i = 0; i < t->nb; i++) {
        if (!(t->b[i] = mc2_batch_new(s, rpb, &err))) die("batch", &err);
        if (s == ws)
            fill_wide(t->b[i], i, v);
        else
            fill_num(t->b[i], i, v, bad);
        uint8_t *pt = NULL;
        size_t pl = 0;
        if (mc2_batch_encode(t->b[i], &pt, &pl, &err) ||
            mc2_tblock_seal(aead, &h, i, pt, pl, &frames, &fl, &err))
            die("seal block", &err);
        mc2_free(pt);
    }
    if (mc2_buf_append(&t->file, hdr, hl, &err) || mc2_buf_append(&t->file, frames, fl, &err))
        die("table", &err);
    mc2_free(hdr);
    mc2_free(frames);
    mc2_aead_free(aead);
    mc2_thdr_clear(&h);
}

static void free_table(tab *t)
{
    for (size_t i = 0; i < t->nb; i++) mc2_batch_free(t->b[i]);
    mc2_buf_free(&t->file);
}

static mc2_treader *open_reader(const tab *t)
{
    mc2_err err;
    mc2_treader *r = NULL;
    if (mc2_treader_open_mem(t->file.data, t->file.len, KEY, &r, &err)) die("open", &err);
    return r;
}

/* ---- the paths under test ---------------------------------------------------------------- */

static const unsigned ALL[7] = {0, 1, 2, 3, 4, 5, 6};
static const unsigned SEL[3] = {5, 0, 5}; /* s, k, s again */

/* Decrypts every block of t and decodes columns cols[0..k) obliviously into rows[blk]; the
 * masks into ok[blk]. No verdict: that is one declassified bit, taken outside. */
static void decode_all(mc2_treader *r, const unsigned *cols, size_t k, struct obliv_rows *rows,
                       uint64_t ok[][8])
{
    mc2_err err;
    mc2_coltype ty[8];
    struct obliv_layout lay;
    for (size_t j = 0; j < k; j++) ty[j] = ws->cols[cols[j]].type;
    if (obliv_layout_init(&lay, ty, k, &err)) die("layout", &err);
    const uint8_t *pt;
    size_t len;
    uint32_t n;
    for (size_t blk = 0; mc2_treader_next_raw(r, &pt, &len, &n, NULL, &err) == 1; blk++) {
        if (obliv_rows_alloc(&rows[blk], &lay, n, &err) ||
            obliv_decode_v1(&rows[blk], 0, ws, cols, pt, len, n, ok[blk], &err))
            die("decode", &err);
    }
}

/* The GBDT reader of oblivious jobs (jobs_gbdt.c load_blocks_obliv and its checks): returns
 * -1 if a block is invalid, else the first infinite feature's column (-1 none) in *inf and
 * the label check's reason in *why. x: nrows x 5, y: nrows. */
static int gbdt_read(mc2_treader *r, float *x, float *y, long *inf, unsigned *why)
{
    mc2_err err;
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    p.objective = MC2_GBDT_BINARY_LOGISTIC;
    uint64_t ok[7];
    const uint8_t *pt;
    size_t len, at = 0;
    uint32_t n;
    while (mc2_treader_next_raw(r, &pt, &len, &n, NULL, &err) == 1) {
        if (obliv_decode_v1_f32(gs, pt, len, n, LABEL, x + at * 5, 5, y + at, ok, &err))
            die("decode f32", &err);
        if (obliv_decode_verdict(gs, NULL, gs->ncols, ok, &err)) return -1;
        at += n;
    }
    *inf = mc2_gbdt_first_inf_oblivious(x, at, 5);
    *why = mc2_gbdt_labels_check_oblivious(&p, y, at);
    return 0;
}

static volatile float fsink;

/* Control: the old GBDT reader: mc2_treader_next (the batch decoder) and mc2_cell_float(), skipping
 * infinite features as it did (an early error). */
static void leak_old_gbdt(mc2_treader *r)
{
    mc2_err err;
    mc2_batch *b = mc2_treader_batch_new(r, &err);
    float acc = 0;
    while (b && mc2_treader_next(r, b, NULL, &err) == 1)
        for (size_t i = 0; i < b->nrows; i++)
            for (size_t c = 0; c < gs->ncols; c++) {
                float v = mc2_cell_float(b, c, i);
                if (isinf(v)) break;
                acc += v;
            }
    fsink = acc;
    mc2_batch_free(b);
}

/* Control: the old oblivious-SQL scan: the batch decoder, then obliv_rows_from_batch. */
static void leak_old_scan(mc2_treader *r)
{
    mc2_err err;
    mc2_batch *b = mc2_treader_batch_new(r, &err);
    while (b && mc2_treader_next(r, b, NULL, &err) == 1) {
        struct obliv_rows o = {0};
        if (obliv_rows_from_batch(&o, b, &err) == 0) obliv_rows_free(&o);
    }
    mc2_batch_free(b);
}

static volatile uint8_t usink;

/* Control: each value of s read at its (secret) offset, as a branchy decoder does. */
static void leak_gather(mc2_treader *r)
{
    mc2_err err;
    struct obliv_dsec sec[7];
    uint64_t hok;
    const uint8_t *pt;
    size_t len;
    uint32_t n;
    uint8_t acc = 0;
    while (mc2_treader_next_raw(r, &pt, &len, &n, NULL, &err) == 1) {
        if (obliv_decode_v1_sections(ws, pt, len, n, 7, sec, &hok, &err)) break;
        const uint8_t *ends = pt + sec[5].off + 2 + (sec[5].bitmap ? (n + 7) / 8 : 0);
        const uint8_t *text = ends + 4 * (size_t)n;
        uint32_t start = 0;
        for (size_t i = 0; i < n; i++) {
            acc ^= text[start % (sec[5].len - (size_t)(text - (pt + sec[5].off)) + 1)];
            memcpy(&start, ends + 4 * i, 4);
        }
    }
    usink = acc;
}

/* ---- SQL over the sealed table ----------------------------------------------------------- */

static const char *const queries[] = {
    "SELECT count(*), sum(d), min(dt), max(k) FROM w WHERE s LIKE '%a%' OR t < 'b' OR b",
    "SELECT count(*), sum(a.d) FROM w a JOIN w b ON a.k = b.k WHERE a.s < b.t", /* 2 scans */
    "SELECT k, d, dt FROM w ORDER BY d DESC, k, dt LIMIT 4", /* no VARCHAR: its total shows */
};
#define NQ (sizeof queries / sizeof queries[0])

static void mark(void)
{
    trace_mark = trace_mark + 1;
}

static void reveal_batch(const mc2_batch *b)
{
    for (size_t c = 0; c < b->schema->ncols; c++) {
        const mc2_col *col = &b->cols[c];
        if (col->nulls) reveal(col->nulls, b->nrows);
        if (b->schema->cols[c].type.id == MC2_T_VARCHAR) {
            reveal(col->off, (b->nrows + 1) * 4);
            reveal(col->data, col->off[b->nrows]);
        } else {
            enum mc2_type ty = b->schema->cols[c].type.id;
            reveal(col->v.i64, b->nrows * (ty == MC2_T_DATE     ? 4
                                           : ty == MC2_T_BOOL   ? 1
                                           : ty == MC2_T_DEC128 ? 16 /* SUM's DECIMAL(38,s) */
                                                                : 8));
        }
    }
}

/* Runs query q over t: obliviously through a fresh reader (policy leak; between two marker
 * stores if `region`), or in encryption mode over t's batches (the reference). The result,
 * revealed, is returned encoded in *enc (the plan that owns its schema is freed here). */
static int run_q(size_t q, const tab *t, int obl, enum obliv_leak leak, int region, uint8_t **enc,
                 size_t *enc_len, mc2_err *err)
{
    mc2_sql_table tabs[1] = {{"w", ws, nrows}};
    mc2_plan *p = mc2_plan_new(0, err);
    mc2_sql_physical ph;
    mc2_exec *x = NULL;
    mc2_batch *out = NULL;
    const mc2_batch *bs[MAXB];
    for (size_t i = 0; i < t->nb; i++) bs[i] = t->b[i];
    mc2_exec_input in = {.batches = bs, .nbatches = t->nb};
    *enc = NULL;
    int rc = !p || mc2_sql_compile(queries[q], strlen(queries[q]), tabs, 1, p, &ph, err) ? -1 : 0;
    if (rc == 0 && obl) {
        in = (mc2_exec_input){.reader = open_reader(t)};
        mc2_oexec_opts o = {.leak = leak, .pad_rows = nrows * nrows, .threads = 1};
        if (region) mark();
        rc = mc2_oexec_run(p, ph.root, &in, 1, &o, 1000, &out, err);
        if (region) mark();
        mc2_treader_free(in.reader);
    } else if (rc == 0) {
        rc =
            mc2_exec_open(p, ph.root, &in, 1, NULL, &x, err) || mc2_exec_collect(x, 1000, &out, err)
                ? -1
                : 0;
    }
    if (rc == 0) {
        reveal_batch(out);
        rc = mc2_batch_encode(out, enc, enc_len, err);
    }
    mc2_batch_free(out);
    mc2_exec_free(x);
    mc2_plan_free(p);
    return rc;
}

/* ---- memcheck ---------------------------------------------------------------------------- */

/* The block (0-based) and schema column of variant v's first invalid value, or -1. */
static int bad_block(unsigned v)
{
    return v == 1 ? 0 : v == 3 ? 1 : -1;
}
static int bad_col(unsigned v)
{
    return v == 1 ? 5 : v == 3 ? 3 : -1;
}

/* Decodes all columns or SEL of every block of variant v and checks the verdicts and, for
 * valid blocks, the rows against obliv_rows_from_batch of the original rows. */
static void check_decode(const tab *t, unsigned v, int sel)
{
    mc2_err err;
    struct obliv_rows rows[MAXB];
    memset(rows, 0, sizeof rows);
    uint64_t ok[MAXB][8];
    const unsigned *cols = sel ? SEL : ALL;
    size_t k = sel ? 3 : 7;
    mc2_treader *r = open_reader(t);
    decode_all(r, cols, k, rows, ok);
    mc2_treader_free(r);
    for (size_t blk = 0; blk < t->nb; blk++) {
        int rc = obliv_decode_verdict(ws, cols, k, ok[blk], &err);
        int want_bad = (int)blk == bad_block(v) && (!sel || bad_col(v) == 5);
        if (want_bad) {
            char col[64];
            snprintf(col, sizeof col, "column %d ('%s',", bad_col(v) + 1,
                     ws->cols[bad_col(v)].name);
            if (rc == 0 || !strstr(err.msg, col)) fail("an invalid block was not caught");
            obliv_rows_free(&rows[blk]);
            continue;
        }
        if (rc) {
            fail(err.msg);
            obliv_rows_free(&rows[blk]);
            continue;
        }
        struct obliv_rows want = {0};
        if (obliv_rows_from_batch(&want, t->b[blk], &err)) die("from_batch", &err);
        reveal(rows[blk].w, rows[blk].n * rows[blk].lay.width * 8);
        for (size_t i = 0; i < want.n; i++) {
            const uint64_t *g = obliv_row(&rows[blk], i), *w = obliv_row(&want, i);
            if (g[OBLIV_W_VALID] != 1) fail("valid word");
            for (size_t j = 0; j < k; j++) {
                const struct obliv_col *gc = &rows[blk].lay.col[j], *wc = &want.lay.col[cols[j]];
                if (((g[OBLIV_W_NULLS] >> j) & 1) != ((w[OBLIV_W_NULLS] >> cols[j]) & 1) ||
                    memcmp(g + gc->word, w + wc->word, gc->nwords * 8))
                    fail("decoded rows differ from obliv_rows_from_batch's");
            }
        }
        obliv_rows_free(&want);
        obliv_rows_free(&rows[blk]);
    }
}

static void check_gbdt(unsigned v, int bad)
{
    tab t;
    make_table(&t, gs, v, bad);
    float x[64 * 5], y[64];
    long inf = -2;
    unsigned why = 9;
    mc2_treader *r = open_reader(&t);
    int rc = gbdt_read(r, x, y, &inf, &why);
    mc2_treader_free(r);
    reveal(x, sizeof x);
    reveal(y, sizeof y);
    if (rc) fail("the GBDT reader refused a valid table");
    if (inf != (bad ? 1 : -1) || why != (bad ? 2u : 0u)) fail("GBDT input checks");
    for (size_t blk = 0, at = 0; !bad && blk < t.nb; at += t.b[blk]->nrows, blk++)
        for (size_t i = 0; i < t.b[blk]->nrows; i++)
            for (size_t c = 0; c < 6; c++) {
                float want = mc2_cell_float(t.b[blk], c, i);
                float got = c == LABEL ? y[at + i] : x[(at + i) * 5 + c];
                if (memcmp(&want, &got, 4)) fail("GBDT floats differ from the old reader's");
            }
    free_table(&t);
}

static void memcheck_run(void)
{
    for (unsigned v = 0; v < VARIANTS; v++) {
        tab t;
        make_table(&t, ws, v, 0);
        check_decode(&t, v, 0);
        check_decode(&t, v, 1);
        for (size_t q = 0; bad_block(v) < 0 && q < NQ; q++) {
            mc2_err err;
            uint8_t *want = NULL, *got = NULL;
            size_t wl = 0, gl = 0;
            if (run_q(q, &t, 0, OBLIV_REVEAL, 0, &want, &wl, &err)) fail(err.msg);
            for (int pol = 0; pol < 2; pol++) {
                if (run_q(q, &t, 1, pol ? OBLIV_PAD : OBLIV_REVEAL, 0, &got, &gl, &err))
                    fail(err.msg);
                else if (!want || gl != wl || memcmp(got, want, wl))
                    fail("an oblivious query over the sealed table differs from encryption mode");
                mc2_free(got);
            }
            mc2_free(want);
        }
        free_table(&t);
        check_gbdt(v, 0);
    }
    check_gbdt(4, 1);
}

/* ---- trace ------------------------------------------------------------------------------- */

/* Variant vi - 1 (vi 0: a warm-up run, no regions) of every path, each region between two
 * marker stores; everything is freed before the next variant. */
static void trace_all(void)
{
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    for (unsigned vi = 0; vi <= nvariants; vi++) {
        unsigned v = vi == 0 ? 0 : vi - 1;
        mc2_err err;
        tab t, g;
        make_table(&t, ws, v, 0);
        make_table(&g, gs, v, 0);
        for (int sel = 0; sel < 2; sel++) {
            struct obliv_rows rows[MAXB];
            memset(rows, 0, sizeof rows);
            uint64_t ok[MAXB][8];
            mc2_treader *r = open_reader(&t);
            if (vi) printf("REGION decode-v1%s %u\n", sel ? "-selection" : "", v), mark();
            decode_all(r, sel ? SEL : ALL, sel ? 3 : 7, rows, ok);
            if (vi) mark();
            mc2_treader_free(r);
            for (size_t blk = 0; blk < t.nb; blk++) {
                int rc = obliv_decode_verdict(ws, sel ? SEL : ALL, sel ? 3 : 7, ok[blk], &err);
                int want_bad = (int)blk == bad_block(v) && (!sel || bad_col(v) == 5);
                if ((rc != 0) != want_bad) fail("verdict");
                obliv_rows_free(&rows[blk]);
            }
        }
        {
            float x[12 * 5], y[12];
            long inf;
            unsigned why;
            mc2_treader *r = open_reader(&g);
            if (vi) printf("REGION decode-gbdt %u\n", v), mark();
            int rc = gbdt_read(r, x, y, &inf, &why);
            if (vi) mark();
            mc2_treader_free(r);
            if (rc || inf != -1 || why != 0) fail("GBDT reader");
        }
        for (size_t q = 0; trace_sql && bad_block(v) < 0 && q < NQ; q++) {
            uint8_t *got = NULL;
            size_t gl;
            if (vi) printf("REGION sql-sealed-q%zu %u\n", q + 1, v);
            if (run_q(q, &t, 1, OBLIV_PAD, vi > 0, &got, &gl, &err)) fail(err.msg);
            mc2_free(got);
        }
        /* the controls: the old paths */
        for (int c = 0; c < 3; c++) {
            static const char *const names[3] = {"control-old-scan", "control-gather",
                                                 "control-old-gbdt"};
            mc2_treader *r = open_reader(c == 2 ? &g : &t);
            if (vi) printf("REGION %s %u\n", names[c], v), mark();
            if (c == 0) leak_old_scan(r);
            if (c == 1) leak_gather(r);
            if (c == 2) leak_old_gbdt(r);
            if (vi) mark();
            mc2_treader_free(r);
        }
        free_table(&t);
        free_table(&g);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int trace = !strcmp(mode, "trace") || !strcmp(mode, "trace-quick");
    if (trace) {
        /* Before the first allocation: every allocation its own mapping, high-water marks
         * raised first (as probe_sql), so that heap addresses are a function of the call. */
        tracing = 1;
        mallopt(M_MMAP_THRESHOLD, 0);
        /* More live mappings, and more mapped bytes, than any region holds: glibc keeps both
         * high-water marks (max_n_mmaps, max_mmapped_mem) and branches when one rises. Each
         * chunk is larger than any free heap space, so each really is a mapping (a small one
         * would be cut from the heap top and count for nothing). */
        static void *hw[8192];
        for (int i = 0; i < 8192; i++) hw[i] = malloc(i ? (size_t)128 << 10 : (size_t)256 << 20);
        for (int i = 0; i < 8192; i++) free(hw[i]);
        /* stdout's buffer would otherwise be one more mapping from the first REGION line on,
         * raising the live count in the first traced variant only */
        static char obuf[1 << 16];
        setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    }
    mc2_err err;
    if (mc2_schema_parse("w", WIDE, sizeof WIDE - 1, &ws, &err) ||
        mc2_schema_parse("g", NUM, sizeof NUM - 1, &gs, &err))
        die("schema", &err);
    int rc = 2;
    if (!strcmp(mode, "memcheck")) {
        memcheck_run();
        printf("probe_decode memcheck: %d variants from sealed bytes (decode, SQL, GBDT): %s\n",
               VARIANTS, failures ? "WRONG RESULTS" : "results correct");
        rc = failures ? 1 : 0;
    } else if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
               !strcmp(mode, "leak-fastsort")) {
        tab t;
        int gb = !strcmp(mode, "leak-fastsort");
        make_table(&t, gb ? gs : ws, 0, 0);
        mc2_treader *r = open_reader(&t);
        if (!strcmp(mode, "leak-branch")) leak_old_scan(r);
        if (!strcmp(mode, "leak-index")) leak_gather(r);
        if (gb) leak_old_gbdt(r);
        mc2_treader_free(r);
        free_table(&t);
        printf("probe_decode %s: ran\n", mode);
        rc = 0;
    } else if (trace) {
        nvariants = !strcmp(mode, "trace") ? VARIANTS : 3;
        trace_sql = !strcmp(mode, "trace");
        rpb = 6, nrows = 12;
        trace_all();
        rc = failures ? 1 : 0;
    } else {
        fprintf(stderr, "usage: probe_decode memcheck|leak-branch|leak-index|leak-fastsort|trace|"
                        "trace-quick\n");
    }
    mc2_schema_free(ws);
    mc2_schema_free(gs);
    return rc;
}
