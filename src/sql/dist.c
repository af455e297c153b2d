/* dist.c - a physical plan on several ranks: the walk that places exchanges, and the
 * exchanges' run (the contract and the rules are in dist.h). */
#include "sql/dist.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "mc2/crypto.h"
#include "sql/exec_int.h"

#define XROWS 4096u /* rows per exchanged frame */

enum dstat { D_PART, D_ONE, D_REP };
enum skind { S_HASH, S_GATHER, S_BCAST, S_PAIR };
enum pmode { P_DECIDE, P_BCAST, P_HASH };

/* One side of an exchange: the subtree that feeds it and the input its rows become. */
typedef struct dside {
    mc2_pnode *src;
    const unsigned *keys; /* HASH: columns of src */
    size_t nkeys;
    unsigned input;
    mc2_batch **rows; /* the input's batches at this rank, after the run */
    size_t nrows, caprows;
} dside;

typedef struct dstep {
    enum skind kind;
    enum pmode mode; /* S_PAIR */
    dside s[2];      /* s[1]: S_PAIR's right side */
} dstep;

struct mc2_dist {
    mc2_plan *p;
    uint32_t self, n;
    size_t ninputs, nsides;
    dstep *steps;
    size_t nsteps;
    mc2_exec_input *all;
    mc2_dist_stats st;
};

/* ---- the walk ----------------------------------------------------------------------------- */

static const unsigned *iota(mc2_dist *d, size_t n)
{
    unsigned *k = sx_plan_alloc(d->p, (n ? n : 1) * sizeof *k);
    for (size_t i = 0; k && i < n; i++) k[i] = (unsigned)i;
    return k;
}

/* The scan that takes side s's place in the plan (its input numbered now). */
static mc2_pnode *side_leaf(mc2_dist *d, dside *s)
{
    const mc2_schema *sch = mc2_pn_schema(s->src);
    const unsigned *cols = iota(d, sch->ncols);
    if (!cols) return NULL;
    s->input = (unsigned)(d->ninputs + d->nsides++);
    return mc2_pn_scan(d->p, s->input, sch, cols, sch->ncols);
}

static dstep *new_step(mc2_dist *d, enum skind k, mc2_err *err)
{
    if (d->nsteps >= MC2_DIST_MAX_STEPS) {
        mc2_err_set(err, MC2_E_LIMIT, "the query needs more than %d exchanges on several ranks",
                    MC2_DIST_MAX_STEPS);
        return NULL;
    }
    dstep *st = &d->steps[d->nsteps++];
    memset(st, 0, sizeof *st);
    st->kind = k;
    return st;
}

/* An exchange of kind k (not S_PAIR) fed by src; returns the scan that replaces src. */
static mc2_pnode *exchange(mc2_dist *d, enum skind k, mc2_pnode *src, const unsigned *keys,
                           size_t nkeys, mc2_err *err)
{
    if (!src) return NULL;
    dstep *st = new_step(d, k, err);
    if (!st) return NULL;
    st->s[0] = (dside){.src = src, .keys = keys, .nkeys = nkeys};
    return side_leaf(d, &st->s[0]);
}

/* A ONE node: empty on every rank but 0. */
static void one(mc2_dist *d, mc2_pnode **slot)
{
    if (d->self != 0 && *slot) *slot = mc2_pn_empty(d->p, mc2_pn_schema(*slot));
}

static int walk(mc2_dist *d, mc2_pnode **slot, int64_t top, enum dstat *st, mc2_err *err);

/* SORT: gathered (below a LIMIT of top rows, each rank's own top rows first). */
static int walk_sort(mc2_dist *d, mc2_pnode *n, int64_t top, mc2_err *err)
{
    enum dstat cs;
    if (walk(d, &n->left, -1, &cs, err)) return -1;
    if (cs == D_REP) one(d, &n->left);
    if (cs != D_PART) return 0;
    mc2_pnode *src = n->left;
    if (top >= 0) src = mc2_pn_limit(d->p, mc2_pn_sort(d->p, src, n->sort, n->nsort), top, 0);
    n->left = exchange(d, S_GATHER, src, NULL, 0, err);
    return n->left ? 0 : -1;
}

static int walk_limit(mc2_dist *d, mc2_pnode *n, mc2_err *err)
{
    int64_t top = -1;
    if (n->limit >= 0 && n->offset >= 0 && n->limit <= INT64_MAX - n->offset)
        top = n->limit + n->offset;
    enum dstat cs;
    if (walk(d, &n->left, top, &cs, err)) return -1;
    if (cs == D_REP) one(d, &n->left);
    if (cs != D_PART) return 0;
    mc2_pnode *src = top >= 0 ? mc2_pn_limit(d->p, n->left, top, 0) : n->left;
    n->left = exchange(d, S_GATHER, src, NULL, 0, err);
    return n->left ? 0 : -1;
}

static int walk_agg(mc2_dist *d, mc2_pnode **slot, enum dstat *st, mc2_err *err)
{
    mc2_pnode *n = *slot;
    enum dstat cs;
    if (walk(d, &n->left, -1, &cs, err)) return -1;
    *st = cs;
    if (cs != D_PART) return 0;
    enum skind k = n->nkeys ? S_HASH : S_GATHER;
    if (sx_agg_splittable(n)) {
        mc2_pnode *fin = sx_agg_split(d->p, n, err);
        if (!fin) return -1;
        fin->left = exchange(d, k, fin->left, iota(d, n->nkeys), n->nkeys, err);
        *slot = n = fin;
    } else {
        n->left = exchange(d, k, n->left, n->keys, n->nkeys, err);
    }
    *st = n->nkeys ? D_PART : D_ONE;
    return n->left ? 0 : -1;
}

/* A join whose sides are not both in place: exchanges for both (REP sides first made ONE). */
static int join_exchange(mc2_dist *d, mc2_pnode *n, bool keeps_left, enum dstat *st, mc2_err *err)
{
    if (n->kind == MC2_PN_HASH_JOIN && n->nkeys > 0) {
        dstep *s = new_step(d, S_PAIR, err);
        if (!s) return -1;
        s->mode = n->jt == MC2_JOIN_RIGHT || n->jt == MC2_JOIN_FULL ? P_HASH
                  : n->null_aware                                   ? P_BCAST
                                                                    : P_DECIDE;
        s->s[0] = (dside){.src = n->left, .keys = n->lkeys, .nkeys = n->nkeys};
        s->s[1] = (dside){.src = n->right, .keys = n->rkeys, .nkeys = n->nkeys};
        n->left = side_leaf(d, &s->s[0]);
        n->right = side_leaf(d, &s->s[1]);
        *st = D_PART;
    } else if (keeps_left) {
        n->right = exchange(d, S_BCAST, n->right, NULL, 0, err);
        *st = D_PART;
    } else {
        n->left = exchange(d, S_GATHER, n->left, NULL, 0, err);
        n->right = exchange(d, S_GATHER, n->right, NULL, 0, err);
        *st = D_ONE;
    }
    return n->left && n->right ? 0 : -1;
}

static int walk_join(mc2_dist *d, mc2_pnode *n, enum dstat *st, mc2_err *err)
{
    enum dstat ls, rs;
    if (walk(d, &n->left, -1, &ls, err) || walk(d, &n->right, -1, &rs, err)) return -1;
    bool keeps_left = n->jt == MC2_JOIN_INNER || n->jt == MC2_JOIN_LEFT || n->jt == MC2_JOIN_SEMI ||
                      n->jt == MC2_JOIN_ANTI;
    if (ls == D_REP && rs == D_REP) {
        *st = D_REP;
        return 0;
    }
    if (rs == D_REP && ls == D_PART && keeps_left) {
        *st = D_PART;
        return 0;
    }
    if (ls == D_REP) one(d, &n->left);
    if (rs == D_REP) one(d, &n->right);
    if (ls != D_PART && rs != D_PART) {
        *st = D_ONE;
        return 0;
    }
    return join_exchange(d, n, keeps_left, st, err);
}

static int walk_setop(mc2_dist *d, mc2_pnode *n, enum dstat *st, mc2_err *err)
{
    enum dstat ls, rs;
    if (walk(d, &n->left, -1, &ls, err) || walk(d, &n->right, -1, &rs, err)) return -1;
    if (ls == D_REP && rs == D_REP) {
        *st = D_REP;
        return 0;
    }
    if (ls == D_REP) one(d, &n->left);
    if (rs == D_REP) one(d, &n->right);
    if (ls != D_PART && rs != D_PART) {
        *st = D_ONE;
        return 0;
    }
    *st = D_PART;
    if (n->setop == MC2_SETOP_UNION && n->all) return 0;
    size_t nc = n->schema.ncols;
    const unsigned *all = iota(d, nc);
    n->left = exchange(d, S_HASH, n->left, all, nc, err);
    n->right = exchange(d, S_HASH, n->right, all, nc, err);
    return n->left && n->right ? 0 : -1;
}

/* Places the exchanges in the subtree at *slot; *st its output's distribution. top >= 0: the
 * parent is a LIMIT that passes at most top rows. */
static int walk(mc2_dist *d, mc2_pnode **slot, int64_t top, enum dstat *st, mc2_err *err)
{
    mc2_pnode *n = *slot;
    int rc = 0;
    *st = D_ONE;
    switch (n->kind) {
    case MC2_PN_SCAN:
        *st = n->input < d->ninputs ? D_PART : D_ONE;
        break;
    case MC2_PN_VALUES:
        break;
    case MC2_PN_FILTER:
    case MC2_PN_PROJECT:
        rc = walk(d, &n->left, -1, st, err);
        break;
    case MC2_PN_SORT:
        rc = walk_sort(d, n, top, err);
        break;
    case MC2_PN_LIMIT:
        rc = walk_limit(d, n, err);
        break;
    case MC2_PN_AGG:
        rc = walk_agg(d, slot, st, err);
        break;
    case MC2_PN_HASH_JOIN:
    case MC2_PN_NL_JOIN:
        rc = walk_join(d, n, st, err);
        break;
    case MC2_PN_SETOP:
        rc = walk_setop(d, n, st, err);
        break;
    }
    if (rc == 0 && mc2_plan_error(d->p)) {
        *err = *mc2_plan_error(d->p);
        return -1;
    }
    if (rc == 0 && *st == D_ONE) one(d, slot);
    return rc;
}

int mc2_dist_prepare(mc2_plan *p, mc2_pnode **root, size_t ninputs, uint32_t self, uint32_t n_ranks,
                     mc2_dist **out, mc2_err *err)
{
    *out = NULL;
    if (n_ranks < 2 || n_ranks > MC2_DIST_MAX_RANKS || self >= n_ranks)
        return mc2_err_set(err, MC2_E_USAGE, "a distributed query runs on 2 to %d ranks",
                           MC2_DIST_MAX_RANKS);
    mc2_dist *d = mc2_calloc(1, sizeof *d);
    if (!d || !(d->steps = mc2_calloc(MC2_DIST_MAX_STEPS, sizeof *d->steps))) {
        mc2_free(d);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    *d = (mc2_dist){.p = p, .self = self, .n = n_ranks, .ninputs = ninputs, .steps = d->steps};
    enum dstat st;
    int rc = walk(d, root, -1, &st, err);
    if (rc == 0 && st == D_PART) *root = exchange(d, S_GATHER, *root, NULL, 0, err);
    if (rc == 0 && st != D_ONE) one(d, root);
    if (rc == 0 && (!*root || mc2_plan_error(p))) {
        if (mc2_plan_error(p)) *err = *mc2_plan_error(p);
        rc = -1;
    }
    if (rc) {
        mc2_dist_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

int mc2_dist_colls(const mc2_dist *d, enum mc2_dist_coll *out, size_t cap, size_t *n, mc2_err *err)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nsteps; i++) {
        size_t need = d->steps[i].kind == S_PAIR ? 3 : 1;
        if (k + need > cap)
            return mc2_err_set(err, MC2_E_LIMIT,
                               "the query needs more than %zu collectives on several ranks", cap);
        if (d->steps[i].kind == S_PAIR) {
            out[k++] = MC2_DIST_ALLREDUCE_I64;
            out[k++] = MC2_DIST_ALLTOALLV;
        }
        out[k++] = MC2_DIST_ALLTOALLV;
    }
    *n = k;
    return 0;
}

/* ---- rows: running a subtree, hashing, copying ------------------------------------------- */

static int rows_add(dside *s, mc2_batch *b, mc2_err *err)
{
    if (s->nrows == s->caprows) {
        size_t nc = s->caprows ? s->caprows * 2 : 16;
        mc2_batch **nb = mc2_realloc(s->rows, nc * sizeof *nb);
        if (!nb) {
            mc2_batch_free(b);
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        }
        s->rows = nb;
        s->caprows = nc;
    }
    s->rows[s->nrows++] = b;
    return 0;
}

static uint64_t rows_count(const dside *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->nrows; i++) n += s->rows[i]->nrows;
    return n;
}

/* Runs s->src to its end over d->all into s->rows. */
static int run_side(mc2_dist *d, dside *s, const mc2_exec_opts *opts, mc2_err *err)
{
    mc2_exec *x = NULL;
    const mc2_schema *sch = mc2_pn_schema(s->src);
    int rc = mc2_exec_open(d->p, s->src, d->all, d->ninputs + d->nsides, opts, &x, err);
    while (rc == 0) {
        mc2_batch *b = mc2_batch_new(sch, XROWS, err);
        int got = b ? mc2_exec_next(x, b, err) : -1;
        if (got <= 0) {
            mc2_batch_free(b);
            rc = got;
            break;
        }
        rc = rows_add(s, b, err);
    }
    mc2_exec_free(x);
    return rc;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* h[i] for the rows of b: a hash of the key columns on which equal keys agree (NULL as one
 * value, -0.0 as 0.0, every NaN as one). */
static void hash_rows(const mc2_batch *b, const unsigned *keys, size_t nkeys, uint64_t *h)
{
    for (size_t i = 0; i < b->nrows; i++) h[i] = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < nkeys; k++) {
        const mc2_col *c = &b->cols[keys[k]];
        enum mc2_type t = b->schema->cols[keys[k]].type.id;
        for (size_t i = 0; i < b->nrows; i++) {
            uint64_t v;
            if (c->nulls && c->nulls[i]) {
                v = 0x5bd1e995ull;
            } else if (t == MC2_T_INT64 || t == MC2_T_DECIMAL) {
                v = (uint64_t)c->v.i64[i];
            } else if (t == MC2_T_DATE) {
                v = (uint64_t)(uint32_t)c->v.i32[i];
            } else if (t == MC2_T_BOOL) {
                v = c->v.b[i];
            } else if (t == MC2_T_DOUBLE) {
                double f = c->v.f64[i];
                if (f == 0.0) f = 0.0;
                if (f != f) f = __builtin_nan("");
                memcpy(&v, &f, sizeof v);
            } else if (t == MC2_T_DEC128) {
                uint64_t w[2];
                memcpy(w, &c->v.i128[i], sizeof w);
                v = w[0] ^ mix(w[1]);
            } else {
                v = sx_hash_bytes((const uint8_t *)c->data + c->off[i], c->off[i + 1] - c->off[i]);
            }
            h[i] = mix(h[i] ^ mix(v + k));
        }
    }
}

/* Appends rows idx[0..m) of src to dst (same schema, room for m more rows). */
static int copy_rows(mc2_batch *dst, const mc2_batch *src, const uint32_t *idx, size_t m,
                     mc2_err *err)
{
    size_t at = dst->nrows;
    for (size_t c = 0; c < src->schema->ncols; c++) {
        const mc2_col *s = &src->cols[c];
        mc2_col *o = &dst->cols[c];
        enum mc2_type t = src->schema->cols[c].type.id;
        if (o->nulls)
            for (size_t i = 0; i < m; i++) o->nulls[at + i] = s->nulls ? s->nulls[idx[i]] : 0;
        if (t == MC2_T_VARCHAR) {
            size_t bytes = 0;
            for (size_t i = 0; i < m; i++) bytes += s->off[idx[i] + 1] - s->off[idx[i]];
            if (mc2_batch_reserve_chars(dst, c, bytes, err)) return -1;
            for (size_t i = 0; i < m; i++) {
                uint32_t a = s->off[idx[i]], len = s->off[idx[i] + 1] - a;
                memcpy(o->data + o->off[at + i], s->data + a, len);
                o->off[at + i + 1] = o->off[at + i] + len;
            }
            continue;
        }
        size_t w = sx_width(t);
        const uint8_t *sv = (const uint8_t *)s->v.i64;
        uint8_t *ov = (uint8_t *)o->v.i64;
        for (size_t i = 0; i < m; i++) memcpy(ov + (at + i) * w, sv + (size_t)idx[i] * w, w);
    }
    dst->nrows += m;
    return 0;
}

/* ---- the exchanges ------------------------------------------------------------------------ */

/* Moves s's batches to the end of dst's. */
static int move_rows(dside *dst, dside *s, mc2_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < s->nrows; i++) {
        if (rc == 0)
            rc = rows_add(dst, s->rows[i], err);
        else
            mc2_batch_free(s->rows[i]);
    }
    s->nrows = 0;
    return rc;
}

static void rows_free(dside *s)
{
    for (size_t i = 0; i < s->nrows; i++) mc2_batch_free(s->rows[i]);
    mc2_free(s->rows);
    s->rows = NULL;
    s->nrows = s->caprows = 0;
}

/* Appends b's rows to buf as one frame (WIRE in dist.h); nothing for no rows. */
static int put_frame(mc2_buf *buf, const mc2_batch *b, mc2_err *err)
{
    uint8_t *enc = NULL;
    size_t el = 0;
    if (b->nrows == 0) return 0;
    if (mc2_batch_encode(b, &enc, &el, err)) return -1;
    int rc = el > UINT32_MAX ? mc2_err_set(err, MC2_E_LIMIT, "an exchanged frame is too large")
             : mc2_buf_put_u32(buf, (uint32_t)b->nrows, err) ||
                     mc2_buf_put_u32(buf, (uint32_t)el, err) || mc2_buf_append(buf, enc, el, err)
                 ? -1
                 : 0;
    mc2_free_wipe(enc, el);
    return rc;
}

static int put_all(mc2_buf *buf, const dside *s, mc2_err *err)
{
    for (size_t i = 0; i < s->nrows; i++)
        if (put_frame(buf, s->rows[i], err)) return -1;
    return 0;
}

/* The rows rank `from` sent: frames of sch's rows appended to out. */
static int take_frames(dside *out, const mc2_schema *sch, const uint8_t *p, size_t n, uint32_t from,
                       mc2_err *err)
{
    while (n > 0) {
        uint32_t rows = n >= 8 ? mc2_le32_get(p) : 0, len = n >= 8 ? mc2_le32_get(p + 4) : 0;
        if (n < 8 || rows == 0 || rows > XROWS || len > n - 8)
            return mc2_err_set(err, MC2_E_AUTH, "rank %u sent a malformed exchange frame", from);
        mc2_batch *b = mc2_batch_new(sch, rows, err);
        if (!b) return -1;
        if (mc2_batch_decode(b, p + 8, len, rows, err)) {
            mc2_batch_free(b);
            return mc2_err_prefix(err, "rows from rank %u: ", from);
        }
        if (rows_add(out, b, err)) return -1;
        p += 8 + (size_t)len;
        n -= 8 + (size_t)len;
    }
    return 0;
}

int mc2_dist_decode(const mc2_schema *s, const uint8_t *p, size_t len, uint32_t from,
                    mc2_batch ***out, size_t *n, mc2_err *err)
{
    dside d = {.rows = *out, .nrows = *n, .caprows = *n};
    int rc = take_frames(&d, s, p, len, from, err);
    *out = d.rows;
    *n = d.nrows;
    return rc;
}

/* HASH: s's rows into one stream per other rank, and *own for this one. */
static int partition(mc2_dist *d, dside *s, mc2_buf *buf, dside *own, mc2_err *err)
{
    const mc2_schema *sch = mc2_pn_schema(s->src);
    mc2_batch *cur[MC2_DIST_MAX_RANKS] = {0};
    uint32_t cnt[MC2_DIST_MAX_RANKS];
    uint64_t *h = mc2_malloc(XROWS * sizeof *h);
    uint32_t *sel = mc2_malloc((size_t)d->n * XROWS * sizeof *sel);
    int rc = h && sel ? 0 : mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t bi = 0; rc == 0 && bi < s->nrows; bi++) {
        const mc2_batch *b = s->rows[bi];
        hash_rows(b, s->keys, s->nkeys, h);
        memset(cnt, 0, sizeof cnt);
        for (size_t i = 0; i < b->nrows; i++) {
            uint32_t to = (uint32_t)(((unsigned __int128)h[i] * d->n) >> 64);
            sel[(size_t)to * XROWS + cnt[to]++] = (uint32_t)i;
        }
        for (uint32_t j = 0; rc == 0 && j < d->n; j++) {
            if (!cnt[j]) continue;
            if (cur[j] && cur[j]->nrows + cnt[j] > XROWS) {
                if (j == d->self) {
                    rc = rows_add(own, cur[j], err);
                    cur[j] = NULL;
                } else {
                    rc = put_frame(&buf[j], cur[j], err);
                    mc2_batch_clear(cur[j]);
                }
            }
            if (rc == 0 && !cur[j] && !(cur[j] = mc2_batch_new(sch, XROWS, err))) rc = -1;
            if (rc == 0) rc = copy_rows(cur[j], b, sel + (size_t)j * XROWS, cnt[j], err);
        }
    }
    for (uint32_t j = 0; j < d->n; j++) {
        if (rc == 0 && cur[j] && j == d->self) {
            rc = rows_add(own, cur[j], err);
            cur[j] = NULL;
        } else if (rc == 0 && cur[j]) {
            rc = put_frame(&buf[j], cur[j], err);
        }
        mc2_batch_free(cur[j]);
    }
    mc2_free(h);
    mc2_free(sel);
    return rc;
}

/* One alltoallv of side s by kind k (S_PAIR: the side stays where it is; nothing is sent
 * and nothing may arrive); s's rows become what this rank holds after it. */
static int ship(mc2_dist *d, const mc2_dist_comm *c, enum skind k, dside *s, mc2_err *err)
{
    mc2_buf buf[MC2_DIST_MAX_RANKS];
    const uint8_t *send[MC2_DIST_MAX_RANKS];
    size_t slen[MC2_DIST_MAX_RANKS], rlen[MC2_DIST_MAX_RANKS];
    uint8_t *recv[MC2_DIST_MAX_RANKS] = {0};
    dside own = {0}, got = {0};
    uint32_t n = d->n, self = d->self, bto = self == 0 ? 1 : 0;
    uint64_t local = rows_count(s);
    int rc;
    for (uint32_t j = 0; j < n; j++) buf[j] = (mc2_buf){.secret = 1};
    if (k == S_HASH)
        rc = partition(d, s, buf, &own, err);
    else if (k == S_GATHER && self != 0)
        rc = put_all(&buf[0], s, err);
    else if (k == S_BCAST)
        rc = put_all(&buf[bto], s, err) || move_rows(&own, s, err) ? -1 : 0;
    else
        rc = move_rows(&own, s, err);
    if (rc == 0)
        d->st.rows_sent += k == S_HASH     ? local - rows_count(&own)
                           : k == S_BCAST  ? local * (n - 1)
                           : k == S_GATHER ? (self != 0 ? local : 0)
                                           : 0;
    for (uint32_t j = 0; j < n; j++) {
        const mc2_buf *b = k == S_BCAST && j != self ? &buf[bto] : &buf[j];
        send[j] = b->data;
        slen[j] = j == self ? 0 : b->len;
        d->st.bytes_sent += slen[j];
    }
    if (rc == 0) rc = c->alltoallv(c->ctx, send, slen, recv, rlen, err);
    const mc2_schema *sch = mc2_pn_schema(s->src);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (i == self) {
            rc = move_rows(&got, &own, err);
        } else if (k == S_PAIR && rlen[i] != 0) {
            rc = mc2_err_set(err, MC2_E_AUTH, "rank %u sent rows to a join side that stays", i);
        } else {
            uint64_t before = rows_count(&got);
            rc = take_frames(&got, sch, recv[i], rlen[i], i, err);
            d->st.rows_received += rows_count(&got) - before;
            d->st.bytes_received += rlen[i];
        }
    }
    for (uint32_t j = 0; j < n; j++) {
        mc2_buf_free(&buf[j]);
        if (recv[j]) mc2_wipe(recv[j], rlen[j]);
        free(recv[j]);
    }
    rows_free(&own);
    rows_free(s);
    d->st.exchanges++;
    if (rc) {
        rows_free(&got);
        return -1;
    }
    *s = (dside){.src = s->src,
                 .keys = s->keys,
                 .nkeys = s->nkeys,
                 .input = s->input,
                 .rows = got.rows,
                 .nrows = got.nrows,
                 .caprows = got.caprows};
    return 0;
}

static int run_step(mc2_dist *d, dstep *s, const mc2_dist_comm *c, const mc2_exec_opts *opts,
                    mc2_err *err)
{
    if (run_side(d, &s->s[0], opts, err)) return -1;
    if (s->kind != S_PAIR) return ship(d, c, s->kind, &s->s[0], err);
    if (run_side(d, &s->s[1], opts, err)) return -1;
    int64_t cnt[2] = {(int64_t)rows_count(&s->s[0]), (int64_t)rows_count(&s->s[1])};
    if (c->allreduce_i64(c->ctx, cnt, 2, err)) return -1;
    if (cnt[0] < 0 || cnt[1] < 0)
        return mc2_err_set(err, MC2_E_AUTH, "the ranks' row counts do not add up");
    bool bc =
        s->mode == P_BCAST || (s->mode == P_DECIDE &&
                               (unsigned __int128)cnt[1] * (d->n - 1) <= (unsigned __int128)cnt[0]);
    if (bc)
        d->st.broadcast_joins++;
    else
        d->st.shuffled_joins++;
    return ship(d, c, bc ? S_PAIR : S_HASH, &s->s[0], err) ||
                   ship(d, c, bc ? S_BCAST : S_HASH, &s->s[1], err)
               ? -1
               : 0;
}

int mc2_dist_run(mc2_dist *d, const mc2_dist_comm *c, const mc2_exec_input *inputs, size_t ninputs,
                 const mc2_exec_opts *opts, const mc2_exec_input **all, size_t *nall, mc2_err *err)
{
    if (c->self != d->self || c->n_ranks != d->n || ninputs != d->ninputs || d->all)
        return mc2_err_set(err, MC2_E_USAGE, "mc2_dist_run: not the prepared ranks or inputs");
    if (!(d->all = mc2_calloc(d->ninputs + d->nsides + 1, sizeof *d->all)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (ninputs) memcpy(d->all, inputs, ninputs * sizeof *inputs);
    for (size_t i = 0; i < d->nsteps; i++) {
        dstep *s = &d->steps[i];
        if (run_step(d, s, c, opts, err))
            return mc2_err_prefix(err, "exchange %zu of %zu: ", i + 1, d->nsteps);
        for (int k = 0; k < (s->kind == S_PAIR ? 2 : 1); k++)
            d->all[s->s[k].input] = (mc2_exec_input){
                .batches = (const mc2_batch *const *)s->s[k].rows, .nbatches = s->s[k].nrows};
    }
    *all = d->all;
    *nall = d->ninputs + d->nsides;
    return 0;
}

void mc2_dist_get_stats(const mc2_dist *d, mc2_dist_stats *st)
{
    *st = d->st;
}

void mc2_dist_free(mc2_dist *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nsteps; i++) {
        rows_free(&d->steps[i].s[0]);
        rows_free(&d->steps[i].s[1]);
    }
    mc2_free(d->steps);
    mc2_free(d->all);
    mc2_free(d);
}
