/* train.c - GBDT training with the histogram method (XGBoost 1.7 `hist`, depth-wise): quantile
 * binning, per-node gradient/hessian histograms (built for the smaller child, the sibling by
 * subtraction from the parent), split search in both directions for the missing-value
 * default, Newton leaf weights, eta, subsample and colsample_bytree.
 *
 * Parallelism (nthread threads, the caller included): cut points per feature, binning,
 * gradients, histograms and partitioning by row chunks, split search by node. Every
 * reduction has a fixed order for a given nthread, so training is deterministic.
 *
 * Layout: bins are stored row-major n x d (histograms read whole rows) and column-major d x n
 * (partitioning reads one feature), uint8 when every feature has at most 256 slots (bins plus
 * a missing slot if the feature has missing values), else uint16; a feature's local bin b
 * means cut[b-1] <= x < cut[b] (cuts from quantile.c). Histogram slot of (f, b) is
 * off[f] + b; the slot off[f] + nb[f] collects missing values. Rows of a node are a range of
 * rows[] (kept in row order); gpos[] carries their gradients alongside.
 *
 * Distributed training (dist.c, dist.h) runs this same trainer on each rank's rows with a
 * gbdt_dist: the cuts come from the ranks' merged sketches (setup_bins), each level's
 * histograms (the root's with its gradient sums) are summed across the ranks by one
 * allreduce before its splits are searched (build_tree), the training metrics are summed
 * likewise, and subsample draws one number per row of all ranks (in rank order) so that every
 * rank's generator stays in step. Without a gbdt_dist none of this happens. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/intr.h"
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"
#include "gbdt/pool.h"

#define RT_EPS         1e-6f  /* XGBoost's kRtEps: smallest loss change worth a split */
#define ROW_CHUNK      16384u /* rows per task for row-parallel passes */
#define HIST_MIN_CHUNK 8192u  /* a node's histogram is split in chunks above 2x this */
#define HIST_PARTS     4u     /* at most this many chunks per thread (load balance) */

typedef struct gpair {
    float g, h;
} gpair;

typedef struct hstat {
    double g, h;
} hstat;

/* ---- small helpers ---------------------------------------------------------------------- */

static inline double threshold_l1(double w, double alpha)
{
    if (w > alpha) return w - alpha;
    if (w < -alpha) return w + alpha;
    return 0.0;
}

double mc2_gbdt_calc_gain(const mc2_gbdt_params *p, double g, double h)
{
    if (h <= 0) return 0.0;
    double t = threshold_l1(g, p->alpha);
    return t * t / (h + p->lambda);
}

double mc2_gbdt_calc_weight(const mc2_gbdt_params *p, double g, double h)
{
    if (h < p->min_child_weight || h <= 0) return 0.0;
    return -threshold_l1(g, p->alpha) / (h + p->lambda);
}

float mc2_gbdt_base_margin(enum mc2_gbdt_objective o, float base_score)
{
    if (o == MC2_GBDT_BINARY_LOGISTIC) return -logf(1.0f / base_score - 1.0f);
    return base_score;
}

/* ---- the training context --------------------------------------------------------------- */

/* A node being built. */
typedef struct bnode {
    uint32_t begin, end; /* its rows: rows[begin..end) */
    hstat sum;
    float root_gain;
    hstat *hist;
    /* best split found (valid if loss_chg > 0) */
    float loss_chg;
    uint32_t feature;
    uint32_t lthr; /* local bins < lthr go left */
    float cond;
    uint8_t default_left;
    hstat left_sum, right_sum;
} bnode;

/* A unit of row-parallel work over one node's rows. */
typedef struct chunk {
    uint32_t node;                /* node id */
    uint32_t begin, end;          /* range in rows[] */
    uint32_t slot;                /* chunk index within the node (histogram buffer) */
    uint32_t batch;               /* histograms: the node's index in its batch (scratch buffer) */
    uint32_t nleft;               /* partition: rows that went left */
    uint32_t dst_left, dst_right; /* partition: where its lefts and rights go in rows[] */
} chunk;

typedef struct ctx {
    const mc2_gbdt_params *p;
    const mc2_gbdt_data *train;
    mc2_gbdt_pool *pool;
    unsigned nthread;
    size_t n, d;
    uint32_t ngroup;

    /* binning */
    uint32_t *off;    /* d + 1 slot offsets */
    uint32_t *nb;     /* bins per feature (excluding the missing slot) */
    uint8_t *hasmiss; /* feature has missing values */
    float *cut;       /* cut value per slot (missing slots unused) */
    float *minv;      /* per feature */
    uint32_t nslots;
    int bins16;
    void *bins;  /* n x d row-major, uint8_t or uint16_t: for histograms */
    void *cbins; /* d x n column-major, same type: for partitioning (one feature, L2-friendly) */

    /* per-round state */
    float *margin;   /* n * ngroup */
    gpair *grad;     /* ngroup * n (group-major) */
    const gpair *gp; /* the current group's gradients */
    uint8_t *fmask;  /* features allowed in this tree */
    gbdt_rng rng;

    /* tree building */
    uint32_t *rows, *rows_tmp;
    gpair *gpos, *gpos_tmp; /* the gradient of the row at each position of rows[] (moved along
                               with the rows, so histogram building reads it sequentially) */
    bnode *nodes;
    uint32_t max_nodes;
    mc2_gbdt_node *tnodes;
    uint32_t n_nodes;
    hstat **free_hists; /* recycled histogram buffers */
    size_t n_free, cap_free;
    hstat **all_hists; /* every buffer allocated, for freeing */
    size_t n_all, cap_all;
    hstat *scratch;     /* max_batch * (max_parts - 1) * nslots: per-chunk partial histograms */
    uint32_t max_parts; /* chunks per node histogram: HIST_PARTS * nthread */
    size_t scratch_nodes;
    chunk *chunks;
    size_t n_chunks, cap_chunks;
    uint32_t *work; /* node ids for per-node tasks */
    size_t n_work;
    uint32_t *first; /* per node of a batch: index of its first chunk */
    uint32_t *small; /* per split node: its smaller child */
    double *partial; /* per chunk: g, h sums */

    /* evaluation */
    const mc2_gbdt_data *eval;
    float *eval_margin;
    float *eval_prob;
    float *train_prob; /* eval_train: the training margins, transformed */

    /* distributed training (NULL / 1 / 0 / n when single-node) */
    gbdt_dist *dist;
    uint32_t n_ranks;
    uint64_t row_off, row_total; /* this rank's first row among all ranks', and their count */
    double *pack;                /* a level's histograms, packed for the allreduce */
    size_t cap_pack;
} ctx;

/* ---- setup: cuts and bins ----------------------------------------------------------------- */

typedef struct cut_job {
    ctx *c;
    mc2_gbdt_sketch *sk; /* per worker */
    float **fcuts;       /* per feature, max_bin floats */
    uint32_t *fnc;       /* per feature: number of cuts */
    size_t *count;       /* per feature: non-missing values */
} cut_job;

/* Per feature: streams the column's values (row order) through XGBoost's sketch. */
static void cut_task(void *arg, size_t f, unsigned worker)
{
    cut_job *j = arg;
    ctx *c = j->c;
    mc2_gbdt_sketch *sk = &j->sk[worker];
    const float *x = c->train->x, *w = c->train->w;
    size_t n = c->n, d = c->d;
    if (j->count[f]) {
        mc2_gbdt_sketch_init(sk, j->count[f], c->p->max_bin);
        for (size_t i = 0; i < n; i++) {
            float v = x[i * d + f];
            if (v == v) mc2_gbdt_sketch_push(sk, v, w ? w[i] : 1.0f);
        }
    }
    j->fnc[f] = mc2_gbdt_sketch_cuts(sk, j->count[f], c->p->max_bin, j->fcuts[f], &c->minv[f]);
}

/* Distributed: per feature, this rank's summary of its column (merged across ranks by dist.c)
 * instead of the cuts. */
typedef struct sum_job {
    ctx *c;
    mc2_gbdt_sketch *sk; /* per worker */
    gbdt_colsum *cols;   /* per feature: count set, summary written */
} sum_job;

static void sum_cut_task(void *arg, size_t f, unsigned worker)
{
    sum_job *j = arg;
    ctx *c = j->c;
    mc2_gbdt_sketch *sk = &j->sk[worker];
    const float *x = c->train->x, *w = c->train->w;
    size_t n = c->n, d = c->d, count = (size_t)j->cols[f].count;
    j->cols[f].n = 0;
    if (!count) return;
    mc2_gbdt_sketch_init(sk, count, c->p->max_bin);
    for (size_t i = 0; i < n; i++) {
        float v = x[i * d + f];
        if (v == v) mc2_gbdt_sketch_push(sk, v, w ? w[i] : 1.0f);
    }
    j->cols[f].n = (uint32_t)mc2_gbdt_sketch_summary(sk, count, c->p->max_bin, j->cols[f].e);
}

/* Local bin of v among nb cuts: the first cut above v, the last bin for values beyond. */
static inline uint32_t find_bin(const float *cut, uint32_t nb, float v)
{
    const float *b = cut;
    uint32_t len = nb;
    while (len > 1) {
        uint32_t half = len / 2;
        b = b[half] <= v ? b + half : b;
        len -= half;
    }
    uint32_t i = (uint32_t)(b - cut) + (*b <= v);
    return i < nb ? i : nb - 1;
}

/* Bins a chunk of rows into both layouts. */
static void bin_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    size_t n = c->n, d = c->d;
    size_t lo = t * ROW_CHUNK, hi = lo + ROW_CHUNK < n ? lo + ROW_CHUNK : n;
    const float *x = c->train->x;
    for (size_t i = lo; i < hi; i++) {
        for (size_t f = 0; f < d; f++) {
            float v = x[i * d + f];
            uint32_t nbf = c->nb[f];
            uint32_t b = v != v ? nbf : find_bin(c->cut + c->off[f], nbf, v);
            if (c->bins16) {
                ((uint16_t *)c->bins)[i * d + f] = (uint16_t)b;
                ((uint16_t *)c->cbins)[f * n + i] = (uint16_t)b;
            } else {
                ((uint8_t *)c->bins)[i * d + f] = (uint8_t)b;
                ((uint8_t *)c->cbins)[f * n + i] = (uint8_t)b;
            }
        }
    }
}

static size_t n_row_chunks(size_t n)
{
    return (n + ROW_CHUNK - 1) / ROW_CHUNK;
}

/* Distributed: the cuts from every rank's summaries (dist.c); fills fnc, c->minv, c->hasmiss
 * (over all ranks) and *dcuts (every feature's cuts, concatenated), c->row_off/row_total. */
static int dist_cuts(ctx *c, mc2_gbdt_sketch *sk, const size_t *count, uint32_t *fnc, float **dcuts,
                     mc2_err *err)
{
    size_t d = c->d, room = (size_t)c->p->max_bin * 8;
    int rc = -1;
    gbdt_colsum *cols = mc2_calloc(d, sizeof *cols);
    if (!cols) goto nomem;
    for (size_t f = 0; f < d; f++) {
        size_t r = count[f] < room ? count[f] : room;
        cols[f].count = count[f];
        cols[f].hasmiss = c->hasmiss[f];
        if (!(cols[f].e = mc2_malloc((r ? r : 1) * sizeof *cols[f].e))) goto nomem;
    }
    sum_job sj = {c, sk, cols};
    mc2_gbdt_pool_run(c->pool, d, sum_cut_task, &sj);
    rc = gbdt_dist_cuts(c->dist, c->p, d, c->n, cols, fnc, c->minv, c->hasmiss, dcuts, &c->row_off,
                        &c->row_total, err);
    goto out;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the quantile summaries");
out:
    if (cols)
        for (size_t f = 0; f < d; f++) mc2_free(cols[f].e);
    mc2_free(cols);
    return rc;
}

static int setup_bins(ctx *c, mc2_err *err)
{
    size_t d = c->d, n = c->n;
    unsigned nt = c->nthread;
    uint32_t mb = c->p->max_bin;
    int rc = -1;
    mc2_gbdt_sketch *sk = mc2_calloc(nt, sizeof *sk);
    float **fcuts = mc2_calloc(d, sizeof *fcuts);
    float *dcuts = NULL; /* distributed: all features' cuts */
    uint32_t *fnc = mc2_calloc(d, sizeof *fnc);
    size_t *count = mc2_calloc(d, sizeof *count);
    c->off = mc2_calloc(d + 1, sizeof *c->off);
    c->nb = mc2_calloc(d, sizeof *c->nb);
    c->hasmiss = mc2_calloc(d, 1);
    c->minv = mc2_calloc(d, sizeof *c->minv);
    if (!sk || !fcuts || !fnc || !count || !c->off || !c->nb || !c->hasmiss || !c->minv) goto nomem;
    for (unsigned i = 0; i < nt; i++)
        if (mc2_gbdt_sketch_alloc(&sk[i], n, mb) != 0) goto nomem;
    const float *x = c->train->x;
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < d; f++) count[f] += x[i * d + f] == x[i * d + f];
    for (size_t f = 0; f < d; f++) c->hasmiss[f] = count[f] < n;
    if (c->dist) {
        if (dist_cuts(c, sk, count, fnc, &dcuts, err) != 0) goto out;
    } else {
        for (size_t f = 0; f < d; f++) {
            /* a feature has at most min(max_bin, values) cuts, and at least one */
            size_t room = count[f] < mb ? count[f] : mb;
            fcuts[f] = mc2_malloc((room ? room : 1) * sizeof(float));
            if (!fcuts[f]) goto nomem;
        }
        cut_job cj = {c, sk, fcuts, fnc, count};
        mc2_gbdt_pool_run(c->pool, d, cut_task, &cj);
        c->row_off = 0;
        c->row_total = n;
    }

    /* slot offsets; bins fit in a byte if every feature has <= 256 slots */
    uint64_t total = 0;
    int wide = 0;
    for (size_t f = 0; f < d; f++) {
        c->nb[f] = fnc[f];
        c->off[f] = (uint32_t)total;
        total += fnc[f] + 1; /* always reserve the missing slot in the histogram */
        if (fnc[f] + c->hasmiss[f] > 256) wide = 1;
        if (total > UINT32_MAX / 4) {
            mc2_err_set(err, MC2_E_LIMIT, "gbdt: too many histogram bins");
            goto out;
        }
    }
    c->off[d] = (uint32_t)total;
    c->nslots = (uint32_t)total;
    c->bins16 = wide;
    c->cut = mc2_calloc(total, sizeof *c->cut);
    if (!c->cut) goto nomem;
    for (size_t f = 0, at = 0; f < d; at += fnc[f], f++)
        memcpy(c->cut + c->off[f], dcuts ? dcuts + at : fcuts[f], fnc[f] * sizeof(float));
    c->bins = mc2_malloc(n * d * (wide ? 2 : 1));
    c->cbins = mc2_malloc(n * d * (wide ? 2 : 1));
    if (!c->bins || !c->cbins) goto nomem;
    mc2_gbdt_pool_run(c->pool, n_row_chunks(n), bin_task, c);
    rc = 0;
    goto out;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory while binning %zu x %zu values", n, d);
out:
    if (sk)
        for (unsigned i = 0; i < nt; i++) mc2_gbdt_sketch_free(&sk[i]);
    if (fcuts)
        for (size_t f = 0; f < d; f++) mc2_free(fcuts[f]);
    mc2_free(sk);
    mc2_free(fcuts);
    mc2_free(dcuts);
    mc2_free(fnc);
    mc2_free(count);
    return rc;
}

/* ---- gradients ---------------------------------------------------------------------------- */

static void grad_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    size_t lo = t * ROW_CHUNK, hi = lo + ROW_CHUNK < c->n ? lo + ROW_CHUNK : c->n;
    const float *y = c->train->y, *w = c->train->w;
    size_t n = c->n;
    uint32_t K = c->ngroup;
    for (size_t i = lo; i < hi; i++) {
        float wt = w ? w[i] : 1.0f;
        const float *m = c->margin + i * K;
        switch (c->p->objective) {
        case MC2_GBDT_REG_SQUAREDERROR:
            c->grad[i] = (gpair){(m[0] - y[i]) * wt, wt};
            break;
        case MC2_GBDT_BINARY_LOGISTIC: {
            float pr = 1.0f / (1.0f + expf(-m[0]));
            float h = pr * (1.0f - pr);
            c->grad[i] = (gpair){(pr - y[i]) * wt, (h > 1e-16f ? h : 1e-16f) * wt};
            break;
        }
        case MC2_GBDT_MULTI_SOFTPROB: {
            float mx = m[0];
            for (uint32_t k = 1; k < K; k++) mx = m[k] > mx ? m[k] : mx;
            float sum = 0;
            for (uint32_t k = 0; k < K; k++) sum += expf(m[k] - mx);
            uint32_t label = (uint32_t)y[i];
            for (uint32_t k = 0; k < K; k++) {
                float pr = expf(m[k] - mx) / sum;
                float h = 2.0f * pr * (1.0f - pr) * wt;
                c->grad[(size_t)k * n + i] =
                    (gpair){(k == label ? pr - 1.0f : pr) * wt, h > 1e-16f ? h : 1e-16f};
            }
            break;
        }
        }
    }
}

/* ---- histograms --------------------------------------------------------------------------- */

static hstat *hist_get(ctx *c)
{
    if (c->n_free) return c->free_hists[--c->n_free];
    if (c->n_all == c->cap_all) {
        size_t nc = c->cap_all ? 2 * c->cap_all : 64;
        hstat **a = mc2_realloc(c->all_hists, nc * sizeof *a);
        if (!a) return NULL;
        c->all_hists = a;
        hstat **fr = mc2_realloc(c->free_hists, nc * sizeof *fr);
        if (!fr) return NULL;
        c->free_hists = fr;
        c->cap_all = c->cap_free = nc;
    }
    /* one slot more than the histogram: the root's gradient sums travel in it (dist_sum) */
    hstat *h = mc2_malloc(((size_t)c->nslots + 1) * sizeof *h);
    if (!h) return NULL;
    c->all_hists[c->n_all++] = h;
    return h;
}

static void hist_put(ctx *c, hstat *h)
{
    if (h) c->free_hists[c->n_free++] = h;
}

static int chunks_reserve(ctx *c, size_t want)
{
    if (want <= c->cap_chunks) return 0;
    size_t nc = want + want / 2 + 16;
    chunk *a = mc2_realloc(c->chunks, nc * sizeof *a);
    double *pa = mc2_realloc(c->partial, nc * 2 * sizeof *pa);
    if (a) c->chunks = a;
    if (pa) c->partial = pa;
    if (!a || !pa) return -1;
    c->cap_chunks = nc;
    return 0;
}

/* Accumulates cnt rows (rows[i] with gradient gps[i]) into h (zeroed here). */
#define HIST_KERNEL(T)                                                                             \
    static void hist_rows_##T(const ctx *c, const uint32_t *rows, const gpair *gps, size_t cnt,    \
                              hstat *h)                                                            \
    {                                                                                              \
        const T *bins = (const T *)c->bins;                                                        \
        const uint32_t *off = c->off;                                                              \
        size_t d = c->d;                                                                           \
        memset(h, 0, (size_t)c->nslots * sizeof *h);                                               \
        for (size_t i = 0; i < cnt; i++) {                                                         \
            uint32_t r = rows[i];                                                                  \
            if (i + 16 < cnt) __builtin_prefetch(bins + (size_t)rows[i + 16] * d);                 \
            const T *b = bins + (size_t)r * d;                                                     \
            double g = gps[i].g, hh = gps[i].h;                                                    \
            for (size_t f = 0; f < d; f++) {                                                       \
                hstat *s = h + off[f] + b[f];                                                      \
                s->g += g;                                                                         \
                s->h += hh;                                                                        \
            }                                                                                      \
        }                                                                                          \
    }
HIST_KERNEL(uint8_t)
HIST_KERNEL(uint16_t)

static void hist_chunk_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    chunk *ch = &c->chunks[t];
    bnode *nd = &c->nodes[ch->node];
    hstat *h =
        ch->slot == 0
            ? nd->hist
            : c->scratch + ((size_t)ch->batch * (c->max_parts - 1) + ch->slot - 1) * c->nslots;
    if (c->bins16)
        hist_rows_uint16_t(c, c->rows + ch->begin, c->gpos + ch->begin, ch->end - ch->begin, h);
    else
        hist_rows_uint8_t(c, c->rows + ch->begin, c->gpos + ch->begin, ch->end - ch->begin, h);
}

/* For per-node tasks after chunked histograms: add the partial histograms of the node's
 * other chunks. c->work[t] is the node; chunks of a node are consecutive, chunk 0 first. */
typedef struct reduce_job {
    ctx *c;
    uint32_t *first_chunk; /* per work item */
} reduce_job;

static void hist_reduce_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    reduce_job *j = arg;
    ctx *c = j->c;
    size_t ci = j->first_chunk[t];
    bnode *nd = &c->nodes[c->chunks[ci].node];
    for (size_t k = ci + 1; k < c->n_chunks && c->chunks[k].node == c->chunks[ci].node; k++) {
        const hstat *src =
            c->scratch +
            ((size_t)c->chunks[k].batch * (c->max_parts - 1) + c->chunks[k].slot - 1) * c->nslots;
        hstat *dst = nd->hist;
        for (uint32_t s = 0; s < c->nslots; s++) {
            dst[s].g += src[s].g;
            dst[s].h += src[s].h;
        }
    }
}

/* Builds the histograms of the nodes ids[0..nids) (their hist buffers already set), in
 * batches that fit the scratch space. */
static int build_hists(ctx *c, const uint32_t *ids, size_t nids, mc2_err *err)
{
    size_t done = 0;
    while (done < nids) {
        size_t batch = nids - done;
        if (batch > c->scratch_nodes) batch = c->scratch_nodes;
        c->n_chunks = 0;
        uint32_t *first = c->first; /* per batch node: index of its first chunk */
        for (size_t k = 0; k < batch; k++) {
            bnode *nd = &c->nodes[ids[done + k]];
            uint32_t cnt = nd->end - nd->begin;
            uint32_t parts = 1;
            if (c->max_parts > 1 && cnt >= 2 * HIST_MIN_CHUNK) {
                parts = cnt / HIST_MIN_CHUNK;
                if (parts > c->max_parts) parts = c->max_parts;
            }
            if (chunks_reserve(c, c->n_chunks + parts) != 0)
                return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
            first[k] = (uint32_t)c->n_chunks;
            for (uint32_t s = 0; s < parts; s++) {
                chunk *ch = &c->chunks[c->n_chunks++];
                ch->node = ids[done + k];
                ch->begin = nd->begin + (uint32_t)((uint64_t)cnt * s / parts);
                ch->end = nd->begin + (uint32_t)((uint64_t)cnt * (s + 1) / parts);
                ch->slot = s;
                ch->batch = (uint32_t)k;
            }
        }
        mc2_gbdt_pool_run(c->pool, c->n_chunks, hist_chunk_task, c);
        reduce_job rj = {c, first};
        mc2_gbdt_pool_run(c->pool, batch, hist_reduce_task, &rj);
        done += batch;
    }
    return 0;
}

/* ---- split search ------------------------------------------------------------------------- */

static inline int valid_children(const mc2_gbdt_params *p, hstat l, hstat r)
{
    return l.h >= p->min_child_weight && r.h >= p->min_child_weight;
}

static inline float split_gain(const mc2_gbdt_params *p, hstat l, hstat r)
{
    return (float)mc2_gbdt_calc_gain(p, l.g, l.h) + (float)mc2_gbdt_calc_gain(p, r.g, r.h);
}

static void eval_node(ctx *c, bnode *nd)
{
    const mc2_gbdt_params *p = c->p;
    nd->loss_chg = 0;
    nd->feature = 0;
    for (size_t f = 0; f < c->d; f++) {
        if (!c->fmask[f]) continue;
        const hstat *h = nd->hist + c->off[f];
        const float *cut = c->cut + c->off[f];
        uint32_t nbf = c->nb[f];
        hstat left = {0, 0}, right;
        /* forward: missing values go right */
        for (uint32_t i = 0; i < nbf; i++) {
            left.g += h[i].g;
            left.h += h[i].h;
            right.g = nd->sum.g - left.g;
            right.h = nd->sum.h - left.h;
            if (!valid_children(p, left, right)) continue;
            float loss = split_gain(p, left, right) - nd->root_gain;
            if (loss > nd->loss_chg && !isinf(loss)) {
                nd->loss_chg = loss;
                nd->feature = (uint32_t)f;
                nd->lthr = i + 1;
                nd->cond = cut[i];
                nd->default_left = 0;
                nd->left_sum = left;
                nd->right_sum = right;
            }
        }
        hstat miss = h[nbf];
        if (!c->hasmiss[f] || (miss.g == 0 && miss.h == 0)) continue;
        /* backward: missing values go left */
        hstat racc = {0, 0};
        for (uint32_t i = nbf; i-- > 0;) {
            racc.g += h[i].g;
            racc.h += h[i].h;
            left.g = nd->sum.g - racc.g;
            left.h = nd->sum.h - racc.h;
            if (!valid_children(p, left, racc)) continue;
            float loss = split_gain(p, left, racc) - nd->root_gain;
            if (loss > nd->loss_chg && !isinf(loss)) {
                nd->loss_chg = loss;
                nd->feature = (uint32_t)f;
                nd->lthr = i;
                nd->cond = i == 0 ? c->minv[f] : cut[i - 1];
                nd->default_left = 1;
                nd->left_sum = left;
                nd->right_sum = racc;
            }
        }
    }
}

static void eval_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    eval_node(c, &c->nodes[c->work[t]]);
}

static int can_split(const ctx *c, const bnode *nd)
{
    if (nd->loss_chg <= RT_EPS) return 0;
    if (nd->left_sum.h == 0 || nd->right_sum.h == 0) return 0;
    if (nd->loss_chg < c->p->gamma) return 0;
    return 1;
}

/* ---- partitioning ------------------------------------------------------------------------- */

#define PART_KERNEL(T)                                                                             \
    static uint32_t part_rows_##T(const T *col, uint32_t lthr, uint32_t miss, int dl,              \
                                  const uint32_t *in, const gpair *gin, uint32_t cnt,              \
                                  uint32_t *out, gpair *gout)                                      \
    {                                                                                              \
        uint32_t nl = 0, nr = 0;                                                                   \
        for (uint32_t i = 0; i < cnt; i++) {                                                       \
            uint32_t r = in[i];                                                                    \
            gpair g = gin[i];                                                                      \
            uint32_t b = col[r];                                                                   \
            uint32_t go_left = b == miss ? (uint32_t)dl : (uint32_t)(b < lthr);                    \
            out[nl] = r;                                                                           \
            out[cnt - 1 - nr] = r;                                                                 \
            gout[nl] = g;                                                                          \
            gout[cnt - 1 - nr] = g;                                                                \
            nl += go_left;                                                                         \
            nr += 1 - go_left;                                                                     \
        }                                                                                          \
        return nl;                                                                                 \
    }
PART_KERNEL(uint8_t)
PART_KERNEL(uint16_t)

/* Partitions one chunk into rows_tmp: lefts in order from the front, rights reversed from the
 * back (put back in order when gathered). */
static void part_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    chunk *ch = &c->chunks[t];
    const bnode *nd = &c->nodes[ch->node];
    uint32_t f = nd->feature, miss = c->nb[f];
    uint32_t cnt = ch->end - ch->begin;
    const uint32_t *in = c->rows + ch->begin;
    const gpair *gin = c->gpos + ch->begin;
    uint32_t *out = c->rows_tmp + ch->begin;
    gpair *gout = c->gpos_tmp + ch->begin;
    if (c->bins16)
        ch->nleft = part_rows_uint16_t((const uint16_t *)c->cbins + (size_t)f * c->n, nd->lthr,
                                       miss, nd->default_left, in, gin, cnt, out, gout);
    else
        ch->nleft = part_rows_uint8_t((const uint8_t *)c->cbins + (size_t)f * c->n, nd->lthr, miss,
                                      nd->default_left, in, gin, cnt, out, gout);
}

/* Per chunk: copies its lefts and (re-reversed) rights to their places in rows (dst_left and
 * dst_right were computed from the chunks' counts, in chunk order, so row order is kept). */
static void part_gather_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    const chunk *ch = &c->chunks[t];
    memcpy(c->rows + ch->dst_left, c->rows_tmp + ch->begin, (size_t)ch->nleft * sizeof(uint32_t));
    memcpy(c->gpos + ch->dst_left, c->gpos_tmp + ch->begin, (size_t)ch->nleft * sizeof(gpair));
    uint32_t nr = ch->end - ch->begin - ch->nleft;
    const uint32_t *src = c->rows_tmp + ch->end - 1;
    const gpair *gsrc = c->gpos_tmp + ch->end - 1;
    uint32_t *dst = c->rows + ch->dst_right;
    gpair *gdst = c->gpos + ch->dst_right;
    for (uint32_t i = 0; i < nr; i++) {
        dst[i] = *(src - i);
        gdst[i] = *(gsrc - i);
    }
}

/* ---- margins ------------------------------------------------------------------------------ */

/* Adds the leaf values of the finished tree to the training margins, by chunks of positions
 * in rows[]: c->work lists the leaves in order of their row ranges (which tile [0, n)). */
typedef struct leaf_job {
    ctx *c;
    uint32_t group;
    size_t n_leaves;
} leaf_job;

static void leaf_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    leaf_job *j = arg;
    ctx *c = j->c;
    uint32_t lo = (uint32_t)(t * ROW_CHUNK);
    uint32_t hi = (uint32_t)(lo + ROW_CHUNK < c->n ? lo + ROW_CHUNK : c->n);
    /* the first leaf whose range ends after lo */
    size_t a = 0, b = j->n_leaves;
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (c->nodes[c->work[mid]].end <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    float *margin = c->margin;
    uint32_t K = c->ngroup, g = j->group;
    for (size_t q = a; q < j->n_leaves; q++) {
        const bnode *nd = &c->nodes[c->work[q]];
        if (nd->begin >= hi) break;
        float v = c->tnodes[c->work[q]].cond;
        uint32_t s0 = nd->begin > lo ? nd->begin : lo, s1 = nd->end < hi ? nd->end : hi;
        for (uint32_t i = s0; i < s1; i++) margin[(size_t)c->rows[i] * K + g] += v;
    }
}

typedef struct eval_pred_job {
    ctx *c;
    const mc2_gbdt_tree *tree;
} eval_pred_job;

static void eval_pred_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    eval_pred_job *j = arg;
    ctx *c = j->c;
    size_t lo = t * ROW_CHUNK, hi = lo + ROW_CHUNK < c->eval->n ? lo + ROW_CHUNK : c->eval->n;
    for (size_t i = lo; i < hi; i++)
        c->eval_margin[i * c->ngroup + j->tree->group] +=
            mc2_gbdt_tree_leaf(j->tree, c->eval->x + i * c->d);
}

static void sum_task(void *arg, size_t t, unsigned worker)
{
    (void)worker;
    ctx *c = arg;
    size_t lo = t * ROW_CHUNK, hi = lo + ROW_CHUNK < c->n ? lo + ROW_CHUNK : c->n;
    double g = 0, h = 0;
    for (size_t i = lo; i < hi; i++) {
        g += c->gp[i].g;
        h += c->gp[i].h;
        c->rows[i] = (uint32_t)i; /* the root holds every row, in order */
        c->gpos[i] = c->gp[i];
    }
    c->partial[2 * t] = g;
    c->partial[2 * t + 1] = h;
}

/* ---- distributed: a level's histograms summed across the ranks ----------------------------- */

/* Sums the histograms of nodes ids[0..nids) across the ranks with one allreduce (with root,
 * nids is 1 and the root's gradient sums travel in the extra slot of its buffer and come back
 * summed). Single-node: nothing to do. */
static int dist_sum_hists(ctx *c, const uint32_t *ids, size_t nids, hstat *root, mc2_err *err)
{
    if (!c->dist) return 0;
    size_t per = (size_t)c->nslots * 2, n;
    if (root) {
        assert(nids == 1);
        c->nodes[ids[0]].hist[c->nslots] = *root;
        per += 2;
    }
    if (!mc2_mul_size(per, nids, &n) || n > SIZE_MAX / sizeof(double))
        return mc2_err_set(err, MC2_E_LIMIT, "gbdt: a level's histograms are too large");
    if (n > c->cap_pack) {
        double *np = mc2_realloc(c->pack, n * sizeof *np);
        if (!np) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for histograms");
        c->pack = np;
        c->cap_pack = n;
    }
    for (size_t k = 0; k < nids; k++)
        memcpy(c->pack + k * per, c->nodes[ids[k]].hist, per * sizeof(double));
    if (gbdt_dist_allreduce(c->dist, c->pack, n, err) != 0) return -1;
    for (size_t k = 0; k < nids; k++)
        memcpy(c->nodes[ids[k]].hist, c->pack + k * per, per * sizeof(double));
    if (root) *root = c->nodes[ids[0]].hist[c->nslots];
    return 0;
}

/* The child of a split whose histogram is built (the other one's is the parent's minus it):
 * the one with fewer rows. Across several ranks every rank must choose the same, and a child's
 * row count is only known per rank, so there it is the one with less hessian (summed over
 * the ranks); with one rank (and single-node) the row counts are global. */
static uint32_t small_child(const ctx *c, uint32_t l)
{
    const bnode *a = &c->nodes[l], *b = &c->nodes[l + 1];
    if (c->n_ranks > 1) return a->sum.h <= b->sum.h ? l : l + 1;
    return (a->end - a->begin) <= (b->end - b->begin) ? l : l + 1;
}

/* ---- one tree ----------------------------------------------------------------------------- */

static void set_leaf(ctx *c, uint32_t id)
{
    mc2_gbdt_node *tn = &c->tnodes[id];
    const bnode *nd = &c->nodes[id];
    float w = (float)mc2_gbdt_calc_weight(c->p, nd->sum.g, nd->sum.h);
    tn->left = tn->right = -1;
    tn->feature = 0;
    tn->base_weight = w;
    tn->cond = w * c->p->eta;
    tn->loss_chg = 0;
    tn->sum_hess = (float)nd->sum.h;
    tn->default_left = 0;
}

static void init_node(ctx *c, uint32_t id, hstat sum, int32_t parent)
{
    bnode *nd = &c->nodes[id];
    nd->sum = sum;
    nd->root_gain = (float)mc2_gbdt_calc_gain(c->p, sum.g, sum.h);
    nd->hist = NULL;
    nd->loss_chg = 0;
    set_leaf(c, id);
    c->tnodes[id].parent = parent;
}

static int build_tree(ctx *c, uint32_t group, mc2_gbdt_tree *out, mc2_err *err)
{
    const mc2_gbdt_params *p = c->p;
    size_t n = c->n;
    c->gp = c->grad + (size_t)group * n;

    /* feature sampling for this tree */
    if (p->colsample_bytree < 1.0f) {
        size_t want = (size_t)((double)p->colsample_bytree * (double)c->d);
        if (want < 1) want = 1;
        uint32_t *perm = (uint32_t *)c->rows_tmp; /* n >= 1 words; use at most d */
        int use_tmp = c->d <= n;
        uint32_t *pm = use_tmp ? perm : mc2_malloc(c->d * sizeof *pm);
        if (!pm) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
        for (size_t f = 0; f < c->d; f++) pm[f] = (uint32_t)f;
        for (size_t f = c->d - 1; f > 0; f--) {
            size_t k = (size_t)(gbdt_rng_next(&c->rng) % (f + 1));
            uint32_t t = pm[f];
            pm[f] = pm[k];
            pm[k] = t;
        }
        memset(c->fmask, 0, c->d);
        for (size_t f = 0; f < want; f++) c->fmask[pm[f]] = 1;
        if (!use_tmp) mc2_free(pm);
    } else {
        memset(c->fmask, 1, c->d);
    }

    c->n_nodes = 1;
    /* root sum: per-chunk partial sums combined in order */
    size_t nch = n_row_chunks(n);
    if (chunks_reserve(c, nch) != 0) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
    mc2_gbdt_pool_run(c->pool, nch, sum_task, c);
    hstat root = {0, 0};
    for (size_t t = 0; t < nch; t++) {
        root.g += c->partial[2 * t];
        root.h += c->partial[2 * t + 1];
    }
    c->nodes[0].begin = 0;
    c->nodes[0].end = (uint32_t)n;
    init_node(c, 0, root, -1);
    uint32_t level_begin = 0, level_end = 1;
    uint32_t ids[2];
    uint32_t summed = 0; /* levels whose children's histograms were built (and summed) */
    if (p->max_depth > 0) {
        c->nodes[0].hist = hist_get(c);
        if (!c->nodes[0].hist) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
        ids[0] = 0;
        if (build_hists(c, ids, 1, err) != 0) return -1;
        if (c->dist) { /* the root's histogram and sums over all ranks */
            hstat *rh = c->nodes[0].hist;
            if (dist_sum_hists(c, ids, 1, &root, err) != 0) return -1;
            init_node(c, 0, root, -1);
            c->nodes[0].hist = rh;
        }
        eval_node(c, &c->nodes[0]);
    }
    for (uint32_t depth = 0; depth < p->max_depth; depth++) {
        if (mc2_intr_check(err)) return -1; /* the job's CPU time limit (base/intr.h) */
        /* expand every splittable node of this level, in id order */
        uint32_t first_child = c->n_nodes;
        c->n_work = 0;
        for (uint32_t id = level_begin; id < level_end; id++) {
            bnode *nd = &c->nodes[id];
            if (!can_split(c, nd)) continue;
            uint32_t l = c->n_nodes;
            mc2_gbdt_node *tn = &c->tnodes[id];
            tn->left = (int32_t)l;
            tn->right = (int32_t)l + 1;
            tn->feature = nd->feature;
            tn->cond = nd->cond;
            tn->default_left = nd->default_left;
            tn->loss_chg = nd->loss_chg;
            c->n_nodes += 2;
            init_node(c, l, nd->left_sum, (int32_t)id);
            init_node(c, l + 1, nd->right_sum, (int32_t)id);
            c->work[c->n_work++] = id;
        }
        if (c->n_work == 0) break;
        /* partition the rows of the split nodes */
        c->n_chunks = 0;
        uint32_t *firstc = c->first;
        for (size_t k = 0; k < c->n_work; k++) {
            bnode *nd = &c->nodes[c->work[k]];
            uint32_t cnt = nd->end - nd->begin;
            uint32_t parts = (cnt + ROW_CHUNK - 1) / ROW_CHUNK;
            if (parts == 0) parts = 1;
            if (chunks_reserve(c, c->n_chunks + parts) != 0)
                return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
            firstc[k] = (uint32_t)c->n_chunks;
            for (uint32_t s = 0; s < parts; s++) {
                chunk *ch = &c->chunks[c->n_chunks++];
                ch->node = c->work[k];
                ch->begin = nd->begin + (uint32_t)((uint64_t)cnt * s / parts);
                ch->end = nd->begin + (uint32_t)((uint64_t)cnt * (s + 1) / parts);
                ch->slot = s;
            }
        }
        mc2_gbdt_pool_run(c->pool, c->n_chunks, part_task, c);
        for (size_t k = 0; k < c->n_work; k++) {
            uint32_t node = c->work[k];
            bnode *nd = &c->nodes[node];
            size_t ce = k + 1 < c->n_work ? firstc[k + 1] : c->n_chunks;
            uint32_t mid = nd->begin;
            for (size_t q = firstc[k]; q < ce; q++) mid += c->chunks[q].nleft;
            uint32_t pl = nd->begin, pr = mid;
            for (size_t q = firstc[k]; q < ce; q++) {
                chunk *ch = &c->chunks[q];
                ch->dst_left = pl;
                ch->dst_right = pr;
                pl += ch->nleft;
                pr += ch->end - ch->begin - ch->nleft;
            }
            /* children were allocated as consecutive ids */
            int32_t l = c->tnodes[node].left;
            c->nodes[l].begin = nd->begin;
            c->nodes[l].end = mid;
            c->nodes[l + 1].begin = mid;
            c->nodes[l + 1].end = nd->end;
        }
        mc2_gbdt_pool_run(c->pool, c->n_chunks, part_gather_task, c);

        if (depth + 1 < p->max_depth) {
            /* histograms: build the smaller child, subtract for the larger */
            size_t nsplit = c->n_work;
            uint32_t *small = c->small;
            for (size_t k = 0; k < nsplit; k++) {
                uint32_t id = c->work[k];
                uint32_t l = (uint32_t)c->tnodes[id].left;
                uint32_t s = small_child(c, l);
                c->nodes[s].hist = hist_get(c);
                if (!c->nodes[s].hist) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
                small[k] = s;
            }
            if (build_hists(c, small, nsplit, err) != 0) return -1;
            if (dist_sum_hists(c, small, nsplit, NULL, err) != 0) return -1;
            summed++;
            for (size_t k = 0; k < nsplit; k++) {
                uint32_t id = c->work[k];
                uint32_t l = (uint32_t)c->tnodes[id].left;
                uint32_t s = small[k], o = s == l ? l + 1 : l;
                /* the larger child reuses the parent's buffer: parent - small */
                hstat *ph = c->nodes[id].hist, *sh = c->nodes[s].hist;
                for (uint32_t q = 0; q < c->nslots; q++) {
                    ph[q].g -= sh[q].g;
                    ph[q].h -= sh[q].h;
                }
                c->nodes[o].hist = ph;
                c->nodes[id].hist = NULL;
            }
            /* split search for every child */
            c->n_work = 0;
            for (uint32_t id = first_child; id < c->n_nodes; id++) c->work[c->n_work++] = id;
            mc2_gbdt_pool_run(c->pool, c->n_work, eval_task, c);
        }
        /* parents' histograms not reused by a child go back to the pool */
        for (uint32_t id = level_begin; id < level_end; id++) {
            hist_put(c, c->nodes[id].hist);
            c->nodes[id].hist = NULL;
        }
        level_begin = first_child;
        level_end = c->n_nodes;
    }
    for (uint32_t id = level_begin; id < level_end; id++) {
        hist_put(c, c->nodes[id].hist);
        c->nodes[id].hist = NULL;
    }
    /* distributed: a tree that stopped growing early still makes its max_depth allreduces
     * (empty ones), so that the calls do not depend on the data (dist.h) */
    if (c->dist) {
        double none = 0;
        for (; summed + 1 < p->max_depth; summed++)
            if (gbdt_dist_allreduce(c->dist, &none, 0, err) != 0) return -1;
    }

    /* training margins: every leaf adds its value to its rows */
    c->n_work = 0;
    for (uint32_t id = 0; id < c->n_nodes; id++)
        if (c->tnodes[id].left < 0 && c->nodes[id].end > c->nodes[id].begin)
            c->work[c->n_work++] = id;
    /* leaves in order of their row ranges (insertion sort: at most 2^max_depth of them) */
    for (size_t q = 1; q < c->n_work; q++) {
        uint32_t v = c->work[q];
        size_t r = q;
        for (; r > 0 && c->nodes[c->work[r - 1]].begin > c->nodes[v].begin; r--)
            c->work[r] = c->work[r - 1];
        c->work[r] = v;
    }
    leaf_job lj = {c, group, c->n_work};
    mc2_gbdt_pool_run(c->pool, n_row_chunks(n), leaf_task, &lj);

    out->n_nodes = c->n_nodes;
    out->group = group;
    out->nodes = mc2_malloc((size_t)c->n_nodes * sizeof *out->nodes);
    if (!out->nodes) return mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory");
    memcpy(out->nodes, c->tnodes, (size_t)c->n_nodes * sizeof *out->nodes);
    return 0;
}

/* ---- the driver --------------------------------------------------------------------------- */

static void ctx_free(ctx *c)
{
    mc2_free(c->off);
    mc2_free(c->nb);
    mc2_free(c->hasmiss);
    mc2_free(c->cut);
    mc2_free(c->minv);
    mc2_free(c->bins);
    mc2_free(c->cbins);
    mc2_free(c->margin);
    mc2_free(c->grad);
    mc2_free(c->fmask);
    mc2_free(c->rows);
    mc2_free(c->rows_tmp);
    mc2_free(c->gpos);
    mc2_free(c->gpos_tmp);
    mc2_free(c->nodes);
    mc2_free(c->tnodes);
    for (size_t i = 0; i < c->n_all; i++) mc2_free(c->all_hists[i]);
    mc2_free(c->all_hists);
    mc2_free(c->free_hists);
    mc2_free(c->scratch);
    mc2_free(c->chunks);
    mc2_free(c->work);
    mc2_free(c->first);
    mc2_free(c->small);
    mc2_free(c->partial);
    mc2_free(c->eval_margin);
    mc2_free(c->eval_prob);
    mc2_free(c->train_prob);
    mc2_free(c->pack);
    mc2_gbdt_pool_free(c->pool);
}

int gbdt_train_setup(const mc2_gbdt_params *params, const mc2_gbdt_data *train,
                     const mc2_gbdt_data *eval, gbdt_data_check_fn check, mc2_gbdt_params *pv,
                     mc2_err *err)
{
    if (check(params, train, "training data", err) != 0) return -1;
    if (eval) {
        if (check(params, eval, "evaluation data", err) != 0) return -1;
        if (eval->d != train->d)
            return mc2_err_set(err, MC2_E_INPUT,
                               "evaluation data has %zu features, training data has %zu", eval->d,
                               train->d);
    }
    *pv = *params;
    if (pv->n_metrics == 0) {
        pv->n_metrics = 1;
        pv->metrics[0] = pv->objective == MC2_GBDT_REG_SQUAREDERROR  ? MC2_GBDT_METRIC_RMSE
                         : pv->objective == MC2_GBDT_BINARY_LOGISTIC ? MC2_GBDT_METRIC_LOGLOSS
                                                                     : MC2_GBDT_METRIC_MERROR;
    }
    return 0;
}

int mc2_gbdt_train(const mc2_gbdt_params *params, const mc2_gbdt_data *train,
                   const mc2_gbdt_data *eval, mc2_gbdt_eval_fn cb, void *cb_ctx,
                   mc2_gbdt_model **out, mc2_err *err)
{
    *out = NULL;
    if (mc2_gbdt_params_check(params, err) != 0) return -1;
    if (params->oblivious)
        return gbdt_train_oblivious(params, train, eval, cb, cb_ctx, GBDT_OBL_HIST_AUTO, out, err);
    mc2_gbdt_params pv;
    if (gbdt_train_setup(params, train, eval, mc2_gbdt_data_check, &pv, err)) return -1;
    return gbdt_train_hist(&pv, train, eval, cb, cb_ctx, NULL, out, err);
}

int gbdt_train_hist(const mc2_gbdt_params *p, const mc2_gbdt_data *train, const mc2_gbdt_data *eval,
                    mc2_gbdt_eval_fn cb, void *cb_ctx, gbdt_dist *dist, mc2_gbdt_model **out,
                    mc2_err *err)
{
    *out = NULL;
    ctx cc;
    memset(&cc, 0, sizeof cc);
    ctx *c = &cc;
    c->p = p;
    c->train = train;
    c->eval = eval;
    c->dist = dist;
    c->n_ranks = dist ? gbdt_dist_ranks(dist) : 1;
    c->n = train->n;
    c->d = train->d;
    c->ngroup = p->objective == MC2_GBDT_MULTI_SOFTPROB ? p->num_class : 1;
    c->nthread = p->nthread;
    c->max_nodes = (1u << (p->max_depth + 1)) - 1;
    mc2_gbdt_model *m = NULL;
    int rc = -1;
    size_t ntrees, nmarg, ngrad;
    if (!mc2_mul_size(p->num_round, c->ngroup, &ntrees) || ntrees > MC2_GBDT_MAX_TREES) {
        mc2_err_set(err, MC2_E_LIMIT, "gbdt: num_round x num_class exceeds %u trees",
                    MC2_GBDT_MAX_TREES);
        goto out;
    }
    if (!mc2_mul_size(c->n, c->ngroup, &nmarg) || !mc2_mul_size(nmarg, sizeof(gpair), &ngrad)) {
        mc2_err_set(err, MC2_E_LIMIT, "gbdt: training data too large");
        goto out;
    }
    c->pool = mc2_gbdt_pool_new(c->nthread, err);
    if (!c->pool) goto out;
    if (setup_bins(c, err) != 0) goto out;

    c->margin = mc2_malloc(nmarg * sizeof(float));
    c->grad = mc2_malloc(ngrad);
    c->fmask = mc2_malloc(c->d);
    c->rows = mc2_malloc(c->n * sizeof(uint32_t));
    c->rows_tmp = mc2_malloc(c->n * sizeof(uint32_t));
    c->gpos = mc2_malloc(c->n * sizeof(gpair));
    c->gpos_tmp = mc2_malloc(c->n * sizeof(gpair));
    c->nodes = mc2_calloc(c->max_nodes, sizeof *c->nodes);
    c->tnodes = mc2_calloc(c->max_nodes, sizeof *c->tnodes);
    c->work = mc2_calloc(c->max_nodes, sizeof *c->work);
    c->first = mc2_calloc(c->max_nodes, sizeof *c->first);
    c->small = mc2_calloc(c->max_nodes, sizeof *c->small);
    /* scratch for chunked histograms: enough nodes that it stays <= 64 MiB */
    c->max_parts = c->nthread > 1 ? HIST_PARTS * c->nthread : 1;
    size_t per_node = (size_t)c->nslots * sizeof(hstat) * (c->max_parts > 1 ? c->max_parts - 1 : 1);
    c->scratch_nodes = ((size_t)64 << 20) / per_node;
    if (c->scratch_nodes < 1) c->scratch_nodes = 1;
    if (c->scratch_nodes > c->max_nodes) c->scratch_nodes = c->max_nodes;
    c->scratch = mc2_malloc(c->scratch_nodes * per_node);
    m = mc2_calloc(1, sizeof *m);
    if (m) m->trees = mc2_calloc(ntrees, sizeof *m->trees);
    if (!c->margin || !c->grad || !c->fmask || !c->rows || !c->rows_tmp || !c->gpos ||
        !c->gpos_tmp || !c->nodes || !c->tnodes || !c->work || !c->first || !c->small ||
        !c->scratch || !m || !m->trees) {
        mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for %zu rows", c->n);
        goto out;
    }
    m->objective = p->objective;
    m->num_class = p->objective == MC2_GBDT_MULTI_SOFTPROB ? p->num_class : 0;
    m->num_feature = (uint32_t)c->d;
    m->base_score = p->base_score;
    float base = mc2_gbdt_base_margin(p->objective, p->base_score);
    for (size_t i = 0; i < nmarg; i++) c->margin[i] = base;
    if (eval) {
        size_t ne = eval->n * c->ngroup;
        c->eval_margin = mc2_malloc(ne * sizeof(float));
        c->eval_prob = mc2_malloc(ne * sizeof(float));
        if (!c->eval_margin || !c->eval_prob) {
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the evaluation set");
            goto out;
        }
        for (size_t i = 0; i < ne; i++) c->eval_margin[i] = base;
        if (gbdt_history_init(m, p, "eval", err) < 0) goto out;
    }
    int train_set = -1;
    if (p->eval_train) {
        if (!(c->train_prob = mc2_malloc(nmarg * sizeof(float)))) {
            mc2_err_set(err, MC2_E_NOMEM, "gbdt: out of memory for the training metrics");
            goto out;
        }
        if ((train_set = gbdt_history_init(m, p, "train", err)) < 0) goto out;
    }
    gbdt_rng_seed(&c->rng, p->seed);

    for (uint32_t round = 0; round < p->num_round; round++) {
        mc2_gbdt_pool_run(c->pool, n_row_chunks(c->n), grad_task, c);
        if (p->subsample < 1.0f) { /* one draw per row of all ranks, in rank order */
            for (uint64_t i = 0; i < c->row_total; i++) {
                if (gbdt_rng_uniform(&c->rng) < (double)p->subsample) continue;
                if (i < c->row_off || i - c->row_off >= c->n) continue;
                size_t r = (size_t)(i - c->row_off);
                for (uint32_t k = 0; k < c->ngroup; k++)
                    c->grad[(size_t)k * c->n + r] = (gpair){0, 0};
            }
        }
        for (uint32_t k = 0; k < c->ngroup; k++) {
            mc2_gbdt_tree *t = &m->trees[m->n_trees];
            if (build_tree(c, k, t, err) != 0) goto out;
            m->n_trees++;
            if (eval) {
                eval_pred_job ej = {c, t};
                mc2_gbdt_pool_run(c->pool, n_row_chunks(eval->n), eval_pred_task, &ej);
            }
        }
        if (train_set >= 0) { /* before a callback may stop training after this round */
            memcpy(c->train_prob, c->margin, nmarg * sizeof(float));
            mc2_gbdt_transform(p->objective, c->train_prob, c->n, c->ngroup);
            double tv[MC2_GBDT_MAX_METRICS], ts[2 * MC2_GBDT_MAX_METRICS];
            for (uint32_t q = 0; q < p->n_metrics; q++) {
                if (p->metrics[q] == MC2_GBDT_METRIC_AUC) /* never distributed (dist.h) */
                    tv[q] = mc2_gbdt_metric(p->metrics[q], c->train_prob, train->y, train->w, c->n,
                                            c->ngroup);
                else
                    gbdt_metric_sums(p->metrics[q], c->train_prob, train->y, train->w, c->n,
                                     c->ngroup, ts + 2 * q);
            }
            /* distributed: the sums over all ranks' rows */
            if (c->dist && gbdt_dist_allreduce(c->dist, ts, 2 * (size_t)p->n_metrics, err) != 0)
                goto out;
            for (uint32_t q = 0; q < p->n_metrics; q++)
                if (p->metrics[q] != MC2_GBDT_METRIC_AUC)
                    tv[q] = gbdt_metric_final(p->metrics[q], ts + 2 * q);
            gbdt_history_push(m, train_set, tv);
        }
        double vals[MC2_GBDT_MAX_METRICS];
        uint32_t nm = 0; /* without eval: no metrics, the round's end only */
        if (eval) {
            size_t ne = eval->n * c->ngroup;
            memcpy(c->eval_prob, c->eval_margin, ne * sizeof(float));
            mc2_gbdt_transform(p->objective, c->eval_prob, eval->n, c->ngroup);
            for (uint32_t q = 0; q < p->n_metrics; q++)
                vals[q] = mc2_gbdt_metric(p->metrics[q], c->eval_prob, eval->y, eval->w, eval->n,
                                          c->ngroup);
            gbdt_history_push(m, 0, vals);
            nm = p->n_metrics;
        }
        if (cb && cb(cb_ctx, round, p->metrics, vals, nm) != 0) break;
    }
    *out = m;
    m = NULL;
    rc = 0;
out:
    mc2_gbdt_model_free(m);
    ctx_free(c);
    return rc;
}
