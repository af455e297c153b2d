/* dist.c - data-parallel GBDT training (dist.h): the call sequence, its run-time check, the
 * cut exchange (every rank's quantile summaries gathered, merged and turned into cuts at rank
 * 0, the cuts broadcast), and the entry point, which runs the histogram trainer of train.c
 * with the collectives as its hooks.
 *
 * THE CALLS, for checked params (ngroup = num_class for multi:softprob, else 1):
 *   gather0 (summaries) | bcast0 (cuts) |
 *   num_round x ( ngroup x max_depth x allreduce_f64 (a tree: the root's histogram and sums,
 *                 then one per level below it, empty once the tree stopped growing)
 *                 [+ allreduce_f64 of the training metrics' sums, with eval_train] )
 *
 * SUMMARIES (rank r -> rank 0, gather0), little-endian:
 *   version u8 = 1 | status u8 (0 ok; 1 this rank's data failed its checks: nothing follows) |
 *   d u32 | rows u64 | d x ( count u64 | hasmiss u8 | n u32 | n x (rmin, rmax, wmin, value f32) )
 * Rank 0 requires the exact length, rows <= MC2_GBDT_MAX_ROWS, d equal to its own, count <=
 * rows, hasmiss 0/1, n <= min(count, 8 max_bin), every float finite, values strictly
 * increasing, 0 <= rmin <= rmax, wmin >= 0.
 *
 * CUTS (rank 0 -> every rank, bcast0):
 *   version u8 = 1 | status u8 | rank u32 | (status 0 only:) n_ranks u32 | n_ranks x rows u64 |
 *   d u32 | d x ( hasmiss u8 | nc u32 | min f32 | nc x cut f32 )
 * status 1: rank `rank`'s data failed its checks; 2: rank `rank` sent a malformed summary
 * (or another number of features); 3: no rank has any row; 4: rank 0 ran out of memory.
 * Every rank (rank 0 too) parses it and requires the exact length, n_ranks and its own rows
 * as it knows them, d its own, 1 <= nc <= max_bin, hasmiss 0/1, cuts strictly increasing
 * and min below the first (not NaN; +-inf can occur for values near FLT_MAX, as single-node).
 * These bytes come from authenticated enclaves of the same code; the checks keep a bug or a
 * malformed message from becoming an out-of-bounds access. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "gbdt/dist.h"
#include "gbdt/internal.h"

#define DIST_VERSION   1u
#define DIST_MAX_RANKS 4096u /* a sanity bound (the mesh allows 64) */

enum { ST_OK = 0, ST_RANK_DATA = 1, ST_RANK_BAD = 2, ST_NO_ROWS = 3, ST_NOMEM = 4 };

struct gbdt_dist {
    const mc2_gbdt_comm *comm;
    size_t n_ops; /* the calls mc2_gbdt_dist_ops lists */
    size_t done;  /* the calls made */
};

/* ---- the call sequence ------------------------------------------------------------------- */

static enum mc2_gbdt_comm_op op_at(size_t i)
{
    return i == 0   ? MC2_GBDT_COMM_GATHER0
           : i == 1 ? MC2_GBDT_COMM_BCAST0
                    : MC2_GBDT_COMM_ALLREDUCE_F64;
}

static const char *op_name(enum mc2_gbdt_comm_op op)
{
    return op == MC2_GBDT_COMM_GATHER0  ? "gather0"
           : op == MC2_GBDT_COMM_BCAST0 ? "bcast0"
                                        : "allreduce";
}

/* The refusals of a distributed run, on checked params (dist.h). */
static int dist_refuse(const mc2_gbdt_params *p, mc2_err *err)
{
    if (p->oblivious)
        return mc2_err_set(err, MC2_E_INPUT,
                           "gbdt: distributed training is not oblivious: set oblivious=0, or "
                           "train on one rank for an oblivious model");
    for (uint32_t q = 0; q < p->n_metrics; q++)
        if (p->metrics[q] == MC2_GBDT_METRIC_AUC)
            return mc2_err_set(err, MC2_E_INPUT,
                               "gbdt: eval_metric auc needs every prediction in one place and "
                               "is not available in distributed training: use logloss, or "
                               "train on one rank");
    return 0;
}

/* The number of calls for checked, accepted params. */
static size_t op_count(const mc2_gbdt_params *p)
{
    size_t ngroup = p->objective == MC2_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
    /* <= 100000 x (1000 x 16 + 1): no overflow in 64 bits */
    return 2 + (size_t)p->num_round * (ngroup * p->max_depth + (p->eval_train ? 1u : 0u));
}

int mc2_gbdt_dist_ops(const mc2_gbdt_params *p, size_t d, uint32_t n_ranks,
                      enum mc2_gbdt_comm_op *ops, size_t cap, size_t *n, mc2_err *err)
{
    *n = 0;
    if (mc2_gbdt_params_check(p, err) != 0 || dist_refuse(p, err) != 0) return -1;
    if (d == 0 || d > MC2_GBDT_MAX_FEATURES)
        return mc2_err_set(err, MC2_E_INPUT, "gbdt: %zu features (1..%u allowed)", d,
                           MC2_GBDT_MAX_FEATURES);
    if (n_ranks == 0 || n_ranks > DIST_MAX_RANKS)
        return mc2_err_set(err, MC2_E_INPUT, "gbdt: %u ranks (1..%u allowed)", n_ranks,
                           DIST_MAX_RANKS);
    *n = op_count(p);
    if (*n > cap)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "gbdt: the run makes %zu collective calls, room for %zu", *n, cap);
    for (size_t i = 0; i < *n; i++) ops[i] = op_at(i);
    return 0;
}

/* Counts a call of kind op, which must be the next one of the sequence. */
static int expect(gbdt_dist *g, enum mc2_gbdt_comm_op op, mc2_err *err)
{
    if (g->done >= g->n_ops || op_at(g->done) != op)
        return mc2_err_set(err, MC2_E_INTERNAL,
                           "gbdt: distributed call %zu is a %s, the sequence has %s there (a bug "
                           "in mc2)",
                           g->done + 1, op_name(op),
                           g->done >= g->n_ops ? "no more calls" : op_name(op_at(g->done)));
    g->done++;
    return 0;
}

uint32_t gbdt_dist_ranks(const gbdt_dist *g)
{
    return g->comm->n_ranks;
}

int gbdt_dist_allreduce(gbdt_dist *g, double *v, size_t n, mc2_err *err)
{
    if (expect(g, MC2_GBDT_COMM_ALLREDUCE_F64, err) != 0) return -1;
    return g->comm->allreduce_f64(g->comm->ctx, v, n, err);
}

/* ---- summaries: rank -> rank 0 ------------------------------------------------------------ */

static int put_f32(mc2_buf *b, float v, mc2_err *err)
{
    return mc2_buf_put_u32(b, mc2_f32_bits(v), err);
}

/* This rank's summaries (status ST_OK) or its failure (cols NULL: ST_RANK_DATA). */
static int summaries_write(mc2_buf *b, size_t d, size_t n_local, const gbdt_colsum *cols,
                           mc2_err *err)
{
    if (mc2_buf_put_u8(b, DIST_VERSION, err) || mc2_buf_put_u8(b, cols ? ST_OK : ST_RANK_DATA, err))
        return -1;
    if (!cols) return 0;
    if (mc2_buf_put_u32(b, (uint32_t)d, err) || mc2_buf_put_u64(b, n_local, err)) return -1;
    for (size_t f = 0; f < d; f++) {
        const gbdt_colsum *c = &cols[f];
        if (mc2_buf_put_u64(b, c->count, err) || mc2_buf_put_u8(b, c->hasmiss, err) ||
            mc2_buf_put_u32(b, c->n, err))
            return -1;
        for (uint32_t i = 0; i < c->n; i++)
            if (put_f32(b, c->e[i].rmin, err) || put_f32(b, c->e[i].rmax, err) ||
                put_f32(b, c->e[i].wmin, err) || put_f32(b, c->e[i].value, err))
                return -1;
    }
    return 0;
}

static float rd_f32(mc2_rd *r)
{
    return mc2_f32_of(mc2_rd_u32(r));
}

/* A rank's parsed summaries: per feature its count, hasmiss and entries (pointing into the
 * bytes: read with rd_f32, never cast). */
typedef struct rank_sum {
    uint64_t rows;
    uint64_t *count;
    uint8_t *hasmiss;
    uint32_t *n;
    const uint8_t **e;
} rank_sum;

/* Parses and checks one rank's bytes (see SUMMARIES). Returns ST_OK, ST_RANK_DATA (the rank
 * reported a failure) or ST_RANK_BAD. */
static int summaries_parse(const uint8_t *p, size_t len, size_t d, uint32_t max_bin, rank_sum *rs)
{
    mc2_rd r = mc2_rd_init(p, len);
    if (mc2_rd_u8(&r) != DIST_VERSION) return ST_RANK_BAD;
    uint8_t st = mc2_rd_u8(&r);
    if (r.bad) return ST_RANK_BAD;
    if (st == ST_RANK_DATA) return mc2_rd_left(&r) == 0 ? ST_RANK_DATA : ST_RANK_BAD;
    if (st != ST_OK || mc2_rd_u32(&r) != d) return ST_RANK_BAD;
    rs->rows = mc2_rd_u64(&r);
    if (r.bad || rs->rows > MC2_GBDT_MAX_ROWS) return ST_RANK_BAD;
    uint64_t room = (uint64_t)max_bin * 8;
    for (size_t f = 0; f < d; f++) {
        rs->count[f] = mc2_rd_u64(&r);
        rs->hasmiss[f] = mc2_rd_u8(&r);
        rs->n[f] = mc2_rd_u32(&r);
        if (r.bad || rs->count[f] > rs->rows || rs->hasmiss[f] > 1 || rs->n[f] > rs->count[f] ||
            rs->n[f] > room)
            return ST_RANK_BAD;
        const uint8_t *e = mc2_rd_take(&r, (size_t)rs->n[f] * 16);
        if (!e) return ST_RANK_BAD;
        rs->e[f] = e;
        mc2_rd er = mc2_rd_init(e, (size_t)rs->n[f] * 16);
        float prev = 0;
        for (uint32_t i = 0; i < rs->n[f]; i++) {
            float rmin = rd_f32(&er), rmax = rd_f32(&er), wmin = rd_f32(&er), v = rd_f32(&er);
            if (!isfinite(rmin) || !isfinite(rmax) || !isfinite(wmin) || !isfinite(v) ||
                !(rmin >= 0 && rmax >= rmin && wmin >= 0) || (i > 0 && !(v > prev)))
                return ST_RANK_BAD;
            prev = v;
        }
    }
    return mc2_rd_left(&r) == 0 ? ST_OK : ST_RANK_BAD;
}

static void entries_read(const uint8_t *p, uint32_t n, mc2_gbdt_qentry *out)
{
    mc2_rd r = mc2_rd_init(p, (size_t)n * 16);
    for (uint32_t i = 0; i < n; i++) {
        out[i].rmin = rd_f32(&r);
        out[i].rmax = rd_f32(&r);
        out[i].wmin = rd_f32(&r);
        out[i].value = rd_f32(&r);
    }
}

static void rank_sum_free(rank_sum *rs)
{
    mc2_free(rs->count);
    mc2_free(rs->hasmiss);
    mc2_free(rs->n);
    mc2_free(rs->e);
}

/* ---- rank 0: merge and cut ---------------------------------------------------------------- */

static int put_status(mc2_buf *b, int st, uint32_t rank, mc2_err *err)
{
    return mc2_buf_put_u8(b, DIST_VERSION, err) || mc2_buf_put_u8(b, (uint8_t)st, err) ||
                   mc2_buf_put_u32(b, rank, err)
               ? -1
               : 0;
}

/* Merges the features of all ranks' summaries (rs[0..nr)) and writes the CUTS bytes for
 * them. Returns 0, or -1 with *err (out of memory only). */
static int cuts_write(mc2_buf *b, const rank_sum *rs, uint32_t nr, size_t d, uint32_t max_bin,
                      mc2_err *err)
{
    size_t room = (size_t)max_bin * 8;
    int rc = -1;
    mc2_gbdt_qentry *acc = mc2_malloc(room * sizeof *acc), *nxt = mc2_malloc(room * sizeof *nxt);
    mc2_gbdt_qentry *in = mc2_malloc(room * sizeof *in), *tmp = mc2_malloc(2 * room * sizeof *tmp);
    float *cuts = mc2_malloc((size_t)max_bin * sizeof *cuts);
    if (!acc || !nxt || !in || !tmp || !cuts) {
        mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory merging the quantile summaries");
        goto out;
    }
    if (put_status(b, ST_OK, 0, err) || mc2_buf_put_u32(b, nr, err)) goto out;
    for (uint32_t k = 0; k < nr; k++)
        if (mc2_buf_put_u64(b, rs[k].rows, err)) goto out;
    if (mc2_buf_put_u32(b, (uint32_t)d, err)) goto out;
    for (size_t f = 0; f < d; f++) {
        uint64_t count = 0;
        uint8_t hasmiss = 0;
        for (uint32_t k = 0; k < nr; k++) {
            count += rs[k].count[f];
            hasmiss |= rs[k].hasmiss[f];
        }
        size_t inter = count < room ? (size_t)count : room;
        size_t na = rs[0].n[f];
        entries_read(rs[0].e[f], rs[0].n[f], acc);
        for (uint32_t k = 1; k < nr; k++) { /* in rank order, XGBoost's Reduce */
            entries_read(rs[k].e[f], rs[k].n[f], in);
            na = mc2_gbdt_summary_merge(acc, na, in, rs[k].n[f], inter, tmp, nxt);
            mc2_gbdt_qentry *t = acc;
            acc = nxt;
            nxt = t;
        }
        float minv;
        uint32_t nc = mc2_gbdt_summary_cuts(acc, na, (size_t)count, max_bin, tmp, cuts, &minv);
        if (mc2_buf_put_u8(b, hasmiss, err) || mc2_buf_put_u32(b, nc, err) || put_f32(b, minv, err))
            goto out;
        for (uint32_t i = 0; i < nc; i++)
            if (put_f32(b, cuts[i], err)) goto out;
    }
    rc = 0;
out:
    mc2_free(acc);
    mc2_free(nxt);
    mc2_free(in);
    mc2_free(tmp);
    mc2_free(cuts);
    return rc;
}

/* Rank 0: parses the gathered bytes, merges, writes the CUTS bytes (or a failure status). */
static int rank0_cuts(const uint8_t *const *in, const size_t *in_len, uint32_t nr, size_t d,
                      uint32_t max_bin, mc2_buf *b, mc2_err *err)
{
    rank_sum *rs = mc2_calloc(nr, sizeof *rs);
    int rc = -1;
    if (!rs) goto nomem;
    for (uint32_t k = 0; k < nr; k++) {
        rs[k].count = mc2_calloc(d, sizeof *rs[k].count);
        rs[k].hasmiss = mc2_calloc(d, 1);
        rs[k].n = mc2_calloc(d, sizeof *rs[k].n);
        rs[k].e = mc2_calloc(d, sizeof *rs[k].e);
        if (!rs[k].count || !rs[k].hasmiss || !rs[k].n || !rs[k].e) goto nomem;
    }
    uint64_t rows = 0;
    for (uint32_t k = 0; k < nr; k++) {
        int st = summaries_parse(in[k], in_len[k], d, max_bin, &rs[k]);
        if (st != ST_OK) {
            rc = put_status(b, st, k, err);
            goto out;
        }
        rows += rs[k].rows; /* <= 4096 x 2^31 */
    }
    if (rows == 0) {
        rc = put_status(b, ST_NO_ROWS, 0, err);
        goto out;
    }
    rc = cuts_write(b, rs, nr, d, max_bin, err);
    if (rc != 0 && err->code == MC2_E_NOMEM) { /* tell the others why */
        b->len = 0;
        rc = put_status(b, ST_NOMEM, 0, err);
    }
    goto out;
nomem:
    rc = put_status(b, ST_NOMEM, 0, err);
out:
    if (rs)
        for (uint32_t k = 0; k < nr; k++) rank_sum_free(&rs[k]);
    mc2_free(rs);
    return rc;
}

/* ---- every rank: the cuts ----------------------------------------------------------------- */

static int cuts_status_err(int st, uint32_t rank, mc2_err *err)
{
    switch (st) {
    case ST_RANK_DATA:
        return mc2_err_set(err, MC2_E_INPUT,
                           "gbdt: the training data of rank %u failed its checks (that rank's "
                           "error says why)",
                           rank);
    case ST_RANK_BAD:
        return mc2_err_set(err, MC2_E_INPUT,
                           "gbdt: rank %u sent malformed quantile summaries, or its data has "
                           "another number of features than rank 0's",
                           rank);
    case ST_NO_ROWS:
        return mc2_err_set(err, MC2_E_INPUT, "gbdt: training data: no rows on any rank");
    case ST_NOMEM:
        return mc2_err_set(err, MC2_E_NOMEM,
                           "gbdt: rank 0 ran out of memory merging the "
                           "quantile summaries");
    }
    return mc2_err_set(err, MC2_E_INPUT, "gbdt: malformed cuts from rank 0");
}

/* Parses and checks the CUTS bytes at this rank (see CUTS). */
static int cuts_parse(const uint8_t *p, size_t len, const mc2_gbdt_comm *comm, size_t d,
                      size_t n_local, uint32_t max_bin, uint32_t *nc, float *minv, uint8_t *hasmiss,
                      float **cuts, uint64_t *row_off, uint64_t *row_total, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(p, len);
    float *all = NULL;
    uint8_t ver = mc2_rd_u8(&r), st = mc2_rd_u8(&r);
    uint32_t rank = mc2_rd_u32(&r);
    if (r.bad || ver != DIST_VERSION) goto bad;
    if (st != ST_OK) {
        if (mc2_rd_left(&r) != 0) goto bad;
        return cuts_status_err(st, rank, err);
    }
    if (mc2_rd_u32(&r) != comm->n_ranks) goto bad;
    *row_off = *row_total = 0;
    for (uint32_t k = 0; k < comm->n_ranks; k++) {
        uint64_t rows = mc2_rd_u64(&r);
        if (r.bad || rows > MC2_GBDT_MAX_ROWS || (k == comm->rank && rows != n_local)) goto bad;
        if (k < comm->rank) *row_off += rows;
        *row_total += rows;
    }
    if (mc2_rd_u32(&r) != d) goto bad;
    /* the cuts of every feature: at most what is left of the bytes */
    size_t total = 0, start = r.pos;
    for (size_t f = 0; f < d; f++) {
        hasmiss[f] = mc2_rd_u8(&r);
        nc[f] = mc2_rd_u32(&r);
        minv[f] = rd_f32(&r);
        if (r.bad || hasmiss[f] > 1 || nc[f] < 1 || nc[f] > max_bin || isnan(minv[f]) ||
            !mc2_rd_take(&r, (size_t)nc[f] * 4))
            goto bad;
        total += nc[f];
    }
    if (mc2_rd_left(&r) != 0) goto bad;
    if (!(all = mc2_malloc(total * sizeof *all)))
        return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the cuts");
    r.pos = start;
    for (size_t f = 0, at = 0; f < d; f++) {
        mc2_rd_take(&r, 9);
        float prev = minv[f];
        for (uint32_t i = 0; i < nc[f]; i++, at++) {
            all[at] = rd_f32(&r);
            if (!(all[at] > prev)) goto bad; /* also NaN */
            prev = all[at];
        }
    }
    *cuts = all;
    return 0;
bad:
    mc2_free(all);
    return mc2_err_set(err, MC2_E_INPUT, "gbdt: malformed cuts from rank 0 (at byte %zu)", r.pos);
}

/* The exchange itself; cols NULL: this rank's data failed its checks (it still takes part,
 * so that every rank fails with a message instead of waiting). */
static int exchange(gbdt_dist *g, uint32_t max_bin, size_t d, size_t n_local,
                    const gbdt_colsum *cols, uint32_t *nc, float *minv, uint8_t *hasmiss,
                    float **cuts, uint64_t *row_off, uint64_t *row_total, mc2_err *err)
{
    const mc2_gbdt_comm *cm = g->comm;
    mc2_buf mine = {0}, cb = {0};
    uint8_t **in = NULL, *cbytes = NULL;
    size_t *in_len = NULL, clen = 0;
    int rc = -1, lfail = !cols; /* lfail: *err already says why this rank fails */
    if (cols && summaries_write(&mine, d, n_local, cols, err) != 0) { /* out of memory */
        mc2_buf_free(&mine);
        lfail = 1;
    }
    mc2_err ignore;
    if (lfail && summaries_write(&mine, d, n_local, NULL, &ignore) != 0) goto out;
    if (cm->rank == 0) {
        in = mc2_calloc(cm->n_ranks, sizeof *in);
        in_len = mc2_calloc(cm->n_ranks, sizeof *in_len);
        if (!in || !in_len) {
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
            goto out;
        }
    }
    if (expect(g, MC2_GBDT_COMM_GATHER0, err) != 0 ||
        cm->gather0(cm->ctx, mine.data, mine.len, in, in_len, err) != 0)
        goto out;
    if (cm->rank == 0) {
        if (rank0_cuts((const uint8_t *const *)in, in_len, cm->n_ranks, d, max_bin, &cb, err) != 0)
            goto out;
        cbytes = cb.data;
        clen = cb.len;
    }
    if (expect(g, MC2_GBDT_COMM_BCAST0, err) != 0 || cm->bcast0(cm->ctx, &cbytes, &clen, err) != 0)
        goto out;
    if (lfail) goto out; /* this rank's own error is the one to report */
    rc = cuts_parse(cbytes, clen, cm, d, n_local, max_bin, nc, minv, hasmiss, cuts, row_off,
                    row_total, err);
out:
    if (cm->rank != 0) free(cbytes); /* the comm's copy */
    if (in)
        for (uint32_t k = 0; k < cm->n_ranks; k++) free(in[k]);
    mc2_free(in);
    mc2_free(in_len);
    mc2_buf_free(&mine);
    mc2_buf_free(&cb);
    return rc;
}

int gbdt_dist_cuts(gbdt_dist *g, const mc2_gbdt_params *p, size_t d, size_t n_local,
                   const gbdt_colsum *cols, uint32_t *nc, float *minv, uint8_t *hasmiss,
                   float **cuts, uint64_t *row_off, uint64_t *row_total, mc2_err *err)
{
    *cuts = NULL;
    return exchange(g, p->max_bin, d, n_local, cols, nc, minv, hasmiss, cuts, row_off, row_total,
                    err);
}

/* ---- the entry point ---------------------------------------------------------------------- */

/* mc2_gbdt_data_check, except that a rank may hold no rows. */
static int dist_data_check(const mc2_gbdt_params *p, const mc2_gbdt_data *data, const char *what,
                           mc2_err *err)
{
    if (data->n > 0) return mc2_gbdt_data_check(p, data, what, err);
    if (data->d == 0 || data->d > MC2_GBDT_MAX_FEATURES)
        return mc2_err_set(err, MC2_E_INPUT, "%s: %zu feature columns (1..%u allowed)", what,
                           data->d, MC2_GBDT_MAX_FEATURES);
    return 0;
}

int mc2_gbdt_train_dist(const mc2_gbdt_params *p, const mc2_gbdt_data *local,
                        const mc2_gbdt_comm *comm, mc2_gbdt_model **out, mc2_err *err)
{
    *out = NULL;
    if (!comm || !comm->allreduce_f64 || !comm->bcast0 || !comm->gather0 || comm->n_ranks == 0 ||
        comm->n_ranks > DIST_MAX_RANKS || comm->rank >= comm->n_ranks)
        return mc2_err_set(err, MC2_E_USAGE, "gbdt: bad communicator (rank %u of %u)",
                           comm ? comm->rank : 0, comm ? comm->n_ranks : 0);
    /* the same parameters at every rank: these fail everywhere before any call */
    if (mc2_gbdt_params_check(p, err) != 0 || dist_refuse(p, err) != 0) return -1;
    gbdt_dist g = {comm, op_count(p), 0};
    mc2_gbdt_params pv;
    if (gbdt_train_setup(p, local, NULL, dist_data_check, &pv, err) != 0) {
        /* take part in the exchange with a failure, so that every rank stops with a message */
        uint32_t nc;
        float minv, *cuts = NULL;
        uint8_t hm;
        uint64_t a, b;
        mc2_err ignore;
        mc2_err_clear(&ignore);
        (void)exchange(&g, p->max_bin, 0, 0, NULL, &nc, &minv, &hm, &cuts, &a, &b, &ignore);
        return -1;
    }
    if (gbdt_train_hist(&pv, local, NULL, NULL, NULL, &g, out, err) != 0) return -1;
    if (g.done != g.n_ops) {
        mc2_gbdt_model_free(*out);
        *out = NULL;
        return mc2_err_set(err, MC2_E_INTERNAL,
                           "gbdt: distributed training made %zu collective calls, the sequence "
                           "has %zu (a bug in mc2)",
                           g.done, g.n_ops);
    }
    return 0;
}
