/* mlp.c - two-party private inference of a dense network (mlp.h; docs/mpc.md, "Private
 * inference"): model loading, the plaintext reference, a triple pool filled offline, and
 * the offline/online protocol. */
#include "mpc/mlp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "fl/fl.h"
#include "mpc/engine.h"
#include "mpc/gc.h"
#include "mpc/ot.h"
#include "mpc/prg.h"
#include "mpc/triples.h"

#define SERVER        0u
#define CLIENT        1u
#define NPY_MAX_BYTES ((size_t)1 << 28)

/* ---- model ------------------------------------------------------------------------------ */

int mpc_mlp_shape_check(const mpc_mlp_shape *s, mc2_err *err)
{
    if (s->layers < 1 || s->layers > MPC_MLP_MAX_LAYERS)
        return mc2_err_set(err, MC2_E_LIMIT, "a network of %u layers: 1 to %u are supported",
                           s->layers, MPC_MLP_MAX_LAYERS);
    for (uint32_t l = 0; l <= s->layers; l++)
        if (s->dims[l] < 1 || s->dims[l] > MPC_MLP_MAX_DIM)
            return mc2_err_set(err, MC2_E_LIMIT, "layer width %u (dimension %u): 1 to %u supported",
                               s->dims[l], l, MPC_MLP_MAX_DIM);
    return 0;
}

void mpc_mlp_free(mpc_mlp *m)
{
    if (!m) return;
    for (uint32_t l = 0; l < MPC_MLP_MAX_LAYERS; l++) {
        mc2_free(m->w[l]);
        mc2_free(m->b[l]);
    }
    mc2_free(m);
}

/* Reads dir/name as a .npy of ndims dimensions (1 or 2) into a new double array; dims out. */
static int load_npy(const char *dir, const char *name, uint32_t ndims, uint64_t *dims, double **out,
                    mc2_err *err)
{
    char path[4096];
    mc2_buf buf = {0};
    mc2_npy a = {0};
    int rc = -1;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return mc2_err_set(err, MC2_E_USAGE, "model directory path too long");
    if (mc2_file_read_all(path, NPY_MAX_BYTES, &buf, err)) goto out;
    if (mc2_npy_parse(buf.data, buf.len, &a, err)) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg); /* err->msg is overwritten below */
        mc2_err_set(err, MC2_E_INPUT, "%s: not a usable .npy file: %s", path, why);
        goto out;
    }
    if (a.ndims != ndims) {
        mc2_err_set(err, MC2_E_INPUT, "%s: %u dimensions, expected %u", path, a.ndims, ndims);
        goto out;
    }
    for (uint32_t i = 0; i < ndims; i++) {
        if (a.dims[i] < 1 || a.dims[i] > MPC_MLP_MAX_DIM) {
            mc2_err_set(err, MC2_E_LIMIT, "%s: dimension %u of %llu: 1 to %u supported", path, i,
                        (unsigned long long)a.dims[i], MPC_MLP_MAX_DIM);
            goto out;
        }
        dims[i] = a.dims[i];
    }
    double *v = mc2_calloc(a.n ? a.n : 1, sizeof *v);
    if (!v) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory loading %s", path);
        goto out;
    }
    for (uint64_t i = 0; i < a.n; i++) {
        double x = a.values[i];
        if (!isfinite(x) || fabs(x) >= MPC_MLP_MAX_ABS) {
            mc2_free(v);
            mc2_err_set(err, MC2_E_INPUT,
                        "%s: value %llu is not finite or not below 2^20 in absolute value", path,
                        (unsigned long long)i);
            goto out;
        }
        v[i] = x;
    }
    *out = v;
    rc = 0;
out:
    mc2_npy_free(&a);
    mc2_buf_free(&buf);
    return rc;
}

int mpc_mlp_load(const char *dir, mpc_mlp **out, mc2_err *err)
{
    mpc_mlp *m = mc2_calloc(1, sizeof *m);
    if (!m) return mc2_err_set(err, MC2_E_NOMEM, "out of memory loading a model");
    for (uint32_t l = 1;; l++) {
        char wn[32], bn[32], path[4096];
        snprintf(wn, sizeof wn, "W%u.npy", l);
        snprintf(bn, sizeof bn, "b%u.npy", l);
        if (snprintf(path, sizeof path, "%s/%s", dir, wn) >= (int)sizeof path) {
            mc2_err_set(err, MC2_E_USAGE, "model directory path too long");
            goto fail;
        }
        if (l > 1 && !mc2_file_exists(path)) break;
        if (l > MPC_MLP_MAX_LAYERS) {
            mc2_err_set(err, MC2_E_LIMIT, "%s: more than %u layers", dir, MPC_MLP_MAX_LAYERS);
            goto fail;
        }
        uint64_t wd[2] = {0, 0}, bd[1] = {0};
        if (load_npy(dir, wn, 2, wd, &m->w[l - 1], err)) goto fail;
        if (load_npy(dir, bn, 1, bd, &m->b[l - 1], err)) goto fail;
        if (l > 1 && wd[0] != m->shape.dims[l - 1]) {
            mc2_err_set(err, MC2_E_INPUT, "%s/%s: %llu rows, but layer %u has %u outputs", dir, wn,
                        (unsigned long long)wd[0], l - 1, m->shape.dims[l - 1]);
            goto fail;
        }
        if (bd[0] != wd[1]) {
            mc2_err_set(err, MC2_E_INPUT, "%s/%s: %llu values, but %s has %llu columns", dir, bn,
                        (unsigned long long)bd[0], wn, (unsigned long long)wd[1]);
            goto fail;
        }
        m->shape.dims[l - 1] = (uint32_t)wd[0];
        m->shape.dims[l] = (uint32_t)wd[1];
        m->shape.layers = l;
    }
    if (mpc_mlp_shape_check(&m->shape, err)) goto fail;
    *out = m;
    return 0;
fail:
    mpc_mlp_free(m);
    return -1;
}

static uint32_t argmax_d(const double *v, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

int mpc_mlp_predict_plain(const mpc_mlp *m, const double *x, size_t rows, uint32_t *pred,
                          double *logits, mc2_err *err)
{
    const mpc_mlp_shape *s = &m->shape;
    uint32_t wmax = 0;
    for (uint32_t l = 0; l <= s->layers; l++)
        if (s->dims[l] > wmax) wmax = s->dims[l];
    double *a = mc2_calloc(2 * (size_t)wmax, sizeof *a);
    if (!a) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (plaintext inference)");
    for (size_t r = 0; r < rows; r++) {
        double *in = a, *z = a + wmax;
        memcpy(in, x + r * s->dims[0], s->dims[0] * sizeof *in);
        for (uint32_t l = 0; l < s->layers; l++) {
            uint32_t di = s->dims[l], dout = s->dims[l + 1];
            for (uint32_t j = 0; j < dout; j++) {
                double acc = m->b[l][j];
                for (uint32_t i = 0; i < di; i++) acc += in[i] * m->w[l][(size_t)i * dout + j];
                z[j] = l + 1 < s->layers && acc < 0 ? 0 : acc;
            }
            double *t = in;
            in = z;
            z = t;
        }
        pred[r] = argmax_d(in, s->dims[s->layers]);
        if (logits) memcpy(logits + r * s->dims[s->layers], in, s->dims[s->layers] * sizeof *in);
    }
    mc2_free(a);
    return 0;
}

/* ---- a pool of triples made offline ------------------------------------------------------ */

typedef struct pool_mat {
    size_t m, k, n;
    uint64_t *a, *b, *c;
} pool_mat;

typedef struct pool {
    mpc_triple_src ot; /* where the offline phase gets them */
    pool_mat mat[MPC_MLP_MAX_LAYERS];
    uint32_t nmat, next_mat;
    uint64_t *ea, *eb, *ec;
    size_t ecnt, epos;
} pool;

static void wipe_free(uint64_t *p, size_t n)
{
    if (p) mc2_free_wipe(p, n * sizeof *p);
}

static void pool_clear(pool *p)
{
    for (uint32_t i = 0; i < p->nmat; i++) {
        pool_mat *t = &p->mat[i];
        wipe_free(t->a, t->m * t->k);
        wipe_free(t->b, t->k * t->n);
        wipe_free(t->c, t->m * t->n);
        memset(t, 0, sizeof *t);
    }
    p->nmat = p->next_mat = 0;
    wipe_free(p->ea, p->ecnt);
    wipe_free(p->eb, p->ecnt);
    wipe_free(p->ec, p->ecnt);
    p->ea = p->eb = p->ec = NULL;
    p->ecnt = p->epos = 0;
}

static int pool_elems(void *ctx, size_t cnt, uint64_t *a, uint64_t *b, uint64_t *c, mc2_err *err)
{
    pool *p = ctx;
    if (cnt > p->ecnt - p->epos)
        return mc2_err_set(err, MC2_E_INTERNAL, "mlp: the offline phase made too few triples");
    memcpy(a, p->ea + p->epos, cnt * sizeof *a);
    memcpy(b, p->eb + p->epos, cnt * sizeof *b);
    memcpy(c, p->ec + p->epos, cnt * sizeof *c);
    p->epos += cnt;
    return 0;
}

static int pool_matrix(void *ctx, size_t m, size_t k, size_t n, uint64_t *a, uint64_t *b,
                       uint64_t *c, mc2_err *err)
{
    pool *p = ctx;
    pool_mat *t = p->next_mat < p->nmat ? &p->mat[p->next_mat] : NULL;
    if (!t || t->m != m || t->k != k || t->n != n)
        return mc2_err_set(err, MC2_E_INTERNAL, "mlp: no matrix triple of this shape was made");
    memcpy(a, t->a, m * k * sizeof *a);
    memcpy(b, t->b, k * n * sizeof *b);
    memcpy(c, t->c, m * n * sizeof *c);
    p->next_mat++;
    return 0;
}

/* Offline: one matrix triple of this shape. */
static int pool_add_matrix(pool *p, size_t m, size_t k, size_t n, mc2_err *err)
{
    pool_mat *t = &p->mat[p->nmat];
    t->a = mc2_malloc(m * k * sizeof *t->a);
    t->b = mc2_malloc(k * n * sizeof *t->b);
    t->c = mc2_malloc(m * n * sizeof *t->c);
    t->m = m, t->k = k, t->n = n;
    p->nmat++;
    if (!t->a || !t->b || !t->c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (triples)");
    return p->ot.matrix(p->ot.ctx, m, k, n, t->a, t->b, t->c, err);
}

static int pool_add_elems(pool *p, size_t cnt, mc2_err *err)
{
    if (!cnt) return 0;
    p->ea = mc2_malloc(cnt * sizeof *p->ea);
    p->eb = mc2_malloc(cnt * sizeof *p->eb);
    p->ec = mc2_malloc(cnt * sizeof *p->ec);
    p->ecnt = cnt;
    if (!p->ea || !p->eb || !p->ec) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (triples)");
    return p->ot.elems(p->ot.ctx, cnt, p->ea, p->eb, p->ec, err);
}

/* ---- the session --------------------------------------------------------------------------- */

typedef struct gc_chunk {
    mpc_circuit *c;
    mpc_gc_pending *pend;
    uint32_t k; /* values */
} gc_chunk;

/* A hidden layer's ReLU, prepared offline: the client's input masks s (client) or the
 * server's output shares r (server), and the garbled circuits in chunks. */
typedef struct gc_layer {
    size_t n; /* values: rows x width */
    uint64_t *mask;
    gc_chunk *ch;
    size_t nch;
} gc_layer;

struct mpc_mlp_party {
    mpc_net *net;
    uint32_t self;
    mpc_mlp_shape shape;
    const mpc_mlp *model;
    pool pool;
    mpc_engine *eng;
    mpc_ot *ot;
    mpc_prg *prg;
    size_t rows; /* of the pending offline phase; 0: none */
    gc_layer gcl[MPC_MLP_MAX_LAYERS];
};

static void gc_layer_clear(gc_layer *g)
{
    for (size_t i = 0; i < g->nch; i++) {
        mpc_gc_pending_free(g->ch[i].pend);
        mpc_circuit_free(g->ch[i].c);
    }
    mc2_free(g->ch);
    wipe_free(g->mask, g->n);
    memset(g, 0, sizeof *g);
}

static void session_clear(mpc_mlp_party *p)
{
    for (uint32_t l = 0; l < MPC_MLP_MAX_LAYERS; l++) gc_layer_clear(&p->gcl[l]);
    pool_clear(&p->pool);
    p->rows = 0;
}

void mpc_mlp_party_free(mpc_mlp_party *p)
{
    if (!p) return;
    session_clear(p);
    mpc_engine_free(p->eng);
    if (p->pool.ot.free) p->pool.ot.free(p->pool.ot.ctx);
    mpc_ot_free(p->ot);
    mpc_prg_free(p->prg);
    mc2_free(p);
}

int mpc_mlp_party_new(mpc_net *net, const mpc_mlp_shape *shape, const mpc_mlp *model,
                      mpc_mlp_party **out, mc2_err *err)
{
    if (mpc_net_parties(net) != 2)
        return mc2_err_set(err, MC2_E_USAGE, "private inference needs exactly two parties");
    uint32_t self = mpc_net_self(net);
    if ((self == SERVER) != (model != NULL))
        return mc2_err_set(err, MC2_E_USAGE, "the server (party 0) and only it holds the model");
    if (!shape) shape = model ? &model->shape : NULL;
    if (!shape) return mc2_err_set(err, MC2_E_USAGE, "the client needs the model's shape");
    if (mpc_mlp_shape_check(shape, err)) return -1;
    if (model && memcmp(shape, &model->shape, sizeof *shape))
        return mc2_err_set(err, MC2_E_USAGE, "the shape is not the model's");
    mpc_mlp_party *p = mc2_calloc(1, sizeof *p);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (inference session)");
    p->net = net;
    p->self = self;
    p->shape = *shape;
    p->model = model;
    mpc_triple_src src = {&p->pool, pool_elems, pool_matrix, NULL};
    if (mpc_triples_ot(net, &p->pool.ot, err) || mpc_engine_new(net, &src, &p->eng, err) ||
        mpc_ot_setup(net, 1 - self, self == SERVER, &p->ot, err) ||
        !(p->prg = mpc_prg_random(err))) {
        mpc_mlp_party_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

/* Offline half of a hidden layer's ReLU on n values. */
static int relu_offline(mpc_mlp_party *p, gc_layer *g, size_t n, mc2_err *err)
{
    g->n = n;
    g->nch = (n + MPC_GC_RELU_MAX - 1) / MPC_GC_RELU_MAX;
    g->mask = mc2_malloc(n * sizeof *g->mask);
    g->ch = mc2_calloc(g->nch, sizeof *g->ch);
    uint8_t *bits = mc2_malloc(64 * (size_t)MPC_GC_RELU_MAX);
    int rc = -1;
    if (!g->mask || !g->ch || !bits) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (relu on %zu values)", n);
        goto out;
    }
    if (mpc_prg_bytes(p->prg, g->mask, n * sizeof *g->mask, err)) goto out;
    for (size_t i = 0; i < g->nch; i++) {
        gc_chunk *ch = &g->ch[i];
        size_t off = i * MPC_GC_RELU_MAX;
        ch->k = (uint32_t)(n - off < MPC_GC_RELU_MAX ? n - off : MPC_GC_RELU_MAX);
        if (!(ch->c = mpc_gc_circuit_relu(ch->k, err))) goto out;
        if (p->self == SERVER) {
            if (mpc_gc_offline_garbler(p->net, CLIENT, p->ot, p->prg, ch->c, &ch->pend, err))
                goto out;
        } else {
            for (uint32_t j = 0; j < ch->k; j++) mpc_gc_bits_put(bits + 64 * j, g->mask[off + j]);
            if (mpc_gc_offline_evaluator(p->net, SERVER, p->ot, ch->c, bits, &ch->pend, err))
                goto out;
        }
    }
    rc = 0;
out:
    if (bits) mc2_free_wipe(bits, 64 * (size_t)MPC_GC_RELU_MAX);
    return rc;
}

int mpc_mlp_offline(mpc_mlp_party *p, size_t rows, mc2_err *err)
{
    if (rows < 1 || rows > MPC_MLP_MAX_ROWS)
        return mc2_err_set(err, MC2_E_LIMIT, "a batch of %zu queries: 1 to %u supported", rows,
                           MPC_MLP_MAX_ROWS);
    session_clear(p);
    const mpc_mlp_shape *s = &p->shape;
    size_t trunc_vals = 0;
    for (uint32_t l = 0; l < s->layers; l++) {
        if (pool_add_matrix(&p->pool, rows, s->dims[l], s->dims[l + 1], err)) goto fail;
        if (l + 1 < s->layers) trunc_vals += rows * s->dims[l + 1];
    }
    /* mpc_trunc: 64 (n - 1) element triples per value, n = 2 */
    if (pool_add_elems(&p->pool, 64 * trunc_vals, err)) goto fail;
    for (uint32_t l = 0; l + 1 < s->layers; l++)
        if (relu_offline(p, &p->gcl[l], rows * s->dims[l + 1], err)) goto fail;
    if (mpc_net_flush(p->net, err)) goto fail;
    p->rows = rows;
    return 0;
fail:
    session_clear(p);
    return -1;
}

static void words_le(uint8_t *b, const uint64_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++) b[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static void words_from_le(uint64_t *w, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++) v |= (uint64_t)b[8 * i + j] << (8 * j);
        w[i] = v;
    }
}

/* Online half of a hidden layer's ReLU: y[n] this party's shares of the (truncated)
 * pre-activations; a[n] receives its shares of ReLU(y). */
static int relu_online(mpc_mlp_party *p, gc_layer *g, uint64_t *y, uint64_t *a, mc2_err *err)
{
    size_t n = g->n;
    uint8_t *buf =
        mc2_malloc(n * 8 > 128 * (size_t)MPC_GC_RELU_MAX ? n * 8 : 128 * (size_t)MPC_GC_RELU_MAX);
    size_t blen = n * 8 > 128 * (size_t)MPC_GC_RELU_MAX ? n * 8 : 128 * (size_t)MPC_GC_RELU_MAX;
    int rc = -1;
    if (!buf) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (relu on %zu values)", n);
    if (p->self == CLIENT) {
        /* d = y_c - s: uniform to the server, s being */
        for (size_t i = 0; i < n; i++) a[i] = y[i] - g->mask[i];
        words_le(buf, a, n);
        if (mpc_net_send(p->net, SERVER, buf, n * 8, err)) goto out;
        for (size_t i = 0; i < g->nch; i++) {
            gc_chunk *ch = &g->ch[i];
            if (mpc_gc_online_evaluator(p->net, SERVER, ch->pend, buf, err)) goto out;
            for (uint32_t j = 0; j < ch->k; j++)
                a[i * MPC_GC_RELU_MAX + j] = mpc_gc_bits_get(buf + 64 * (size_t)j);
        }
    } else {
        if (mpc_net_recv(p->net, CLIENT, buf, n * 8, err)) goto out;
        words_from_le(a, buf, n);
        for (size_t i = 0; i < n; i++) y[i] += a[i];
        for (size_t i = 0; i < g->nch; i++) {
            gc_chunk *ch = &g->ch[i];
            size_t off = i * MPC_GC_RELU_MAX;
            for (uint32_t j = 0; j < ch->k; j++) {
                mpc_gc_bits_put(buf + 64 * (size_t)j, y[off + j]);
                mpc_gc_bits_put(buf + 64 * ((size_t)ch->k + j), g->mask[off + j]);
            }
            if (mpc_gc_online_garbler(p->net, CLIENT, ch->pend, buf, err)) goto out;
        }
        memcpy(a, g->mask, n * sizeof *a);
    }
    rc = 0;
out:
    mc2_free_wipe(buf, blen);
    return rc;
}

static uint64_t fx32(double v)
{
    return (uint64_t)(int64_t)llround(v * 4294967296.0);
}

/* The layers on shares: a (rows x d_0) the input shares; on the client, pred gets the
 * classes. */
static int run_layers(mpc_mlp_party *p, uint64_t *a, uint64_t *w, uint64_t *z, size_t rows,
                      uint32_t *pred, mc2_err *err)
{
    const mpc_mlp_shape *s = &p->shape;
    for (uint32_t l = 0; l < s->layers; l++) {
        uint32_t di = s->dims[l], dout = s->dims[l + 1];
        size_t nw = (size_t)di * dout, nz = rows * dout;
        if (p->self == SERVER)
            for (size_t i = 0; i < nw; i++) w[i] = mpc_fx_encode(p->model->w[l][i]);
        if (mpc_input(p->eng, SERVER, p->self == SERVER ? w : NULL, w, nw, err)) return -1;
        if (mpc_matmul(p->eng, z, a, w, rows, di, dout, err)) return -1;
        if (p->self == SERVER)
            for (size_t r = 0; r < rows; r++)
                for (uint32_t j = 0; j < dout; j++) z[r * dout + j] += fx32(p->model->b[l][j]);
        if (l + 1 == s->layers) {
            if (mpc_open_to(p->eng, CLIENT, z, p->self == CLIENT ? z : NULL, nz, err)) return -1;
            if (p->self == CLIENT)
                for (size_t r = 0; r < rows; r++) {
                    const uint64_t *v = z + r * dout;
                    uint32_t best = 0;
                    for (uint32_t j = 1; j < dout; j++)
                        if ((int64_t)v[j] > (int64_t)v[best]) best = j;
                    pred[r] = best;
                }
            return 0;
        }
        if (mpc_trunc(p->eng, z, z, nz, MPC_FX_FRAC, err)) return -1;
        if (relu_online(p, &p->gcl[l], z, a, err)) return -1;
    }
    return 0;
}

int mpc_mlp_online(mpc_mlp_party *p, const double *x, size_t rows, uint32_t *pred, mc2_err *err)
{
    const mpc_mlp_shape *s = &p->shape;
    if (!p->rows || rows != p->rows)
        return mc2_err_set(err, MC2_E_USAGE,
                           "online phase for %zu queries without an offline phase for as many",
                           rows);
    if (p->self == CLIENT && (!x || !pred))
        return mc2_err_set(err, MC2_E_USAGE, "the client passes its inputs and a result array");
    uint32_t wmax = 0;
    size_t wmat = 0;
    for (uint32_t l = 0; l <= s->layers; l++) {
        if (s->dims[l] > wmax) wmax = s->dims[l];
        if (l < s->layers && (size_t)s->dims[l] * s->dims[l + 1] > wmat)
            wmat = (size_t)s->dims[l] * s->dims[l + 1];
    }
    size_t na = rows * wmax; /* rows, dims bounded: no overflow (mlp.h limits) */
    uint64_t *a = mc2_malloc(na * sizeof *a), *z = mc2_malloc(na * sizeof *z),
             *w = mc2_malloc(wmat * sizeof *w);
    int rc = -1;
    if (!a || !z || !w) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory (inference of %zu queries)", rows);
        goto out;
    }
    size_t nx = rows * s->dims[0];
    if (p->self == CLIENT)
        for (size_t i = 0; i < nx; i++) {
            if (!isfinite(x[i]) || fabs(x[i]) >= MPC_MLP_MAX_ABS) {
                mc2_err_set(err, MC2_E_INPUT,
                            "input row %zu column %zu: not finite or not below 2^20 in absolute "
                            "value",
                            i / s->dims[0], i % s->dims[0]);
                goto out;
            }
            z[i] = mpc_fx_encode(x[i]);
        }
    if (mpc_input(p->eng, CLIENT, p->self == CLIENT ? z : NULL, a, nx, err)) goto out;
    if (run_layers(p, a, w, z, rows, pred, err)) goto out;
    if (mpc_net_flush(p->net, err)) goto out;
    rc = 0;
out:
    wipe_free(a, na);
    wipe_free(z, na);
    wipe_free(w, wmat);
    session_clear(p);
    return rc;
}

void mpc_mlp_counters(const mpc_mlp_party *p, uint64_t *sent, uint64_t *received)
{
    mpc_net_counters(p->net, 1 - p->self, sent, received);
}
