/* spill.c - spilled runs: records packed into 64 KiB blocks, each sealed with AES-256-GCM
 * under the query's spill key before it leaves the executor (nonce = the block id, AAD =
 * "mc2 spill v1" || id), so the store sees ciphertext only and a swapped, altered or replayed
 * block fails authentication. Also the row codec and an in-memory store for tests. */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "sql/exec_int.h"

#define SPILL_BLOCK (64u * 1024)

/* ---- sealing ----------------------------------------------------------------------------- */

static void spill_nonce_aad(uint64_t id, uint8_t nonce[MC2_NONCE_LEN], uint8_t aad[20])
{
    memset(nonce, 0, MC2_NONCE_LEN);
    mc2_le64_put(nonce, id);
    memcpy(aad, "mc2 spill v1", 12);
    mc2_le64_put(aad + 12, id);
}

static int spill_put(mc2_exec *x, const uint8_t *p, size_t n, uint64_t *id_out, mc2_err *err)
{
    if (!x->spill)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "the query needs more than its memory budget (%zu bytes) and no "
                           "spill store is configured",
                           x->budget);
    uint64_t id = x->spill_next_id++;
    uint8_t *ct = mc2_malloc(n + MC2_TAG_LEN);
    if (!ct) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a spill block");
    uint8_t nonce[MC2_NONCE_LEN], aad[20];
    spill_nonce_aad(id, nonce, aad);
    int r = mc2_aead_seal(x->spill_aead, nonce, aad, sizeof aad, p, n, ct, ct + n, err);
    if (!r) r = x->spill->put(x->spill->ctx, id, ct, n + MC2_TAG_LEN, err);
    mc2_free(ct);
    if (r) return -1;
    x->stats.spilled_bytes += n + MC2_TAG_LEN;
    x->stats.spill_blocks++;
    *id_out = id;
    return 0;
}

/* Reads block id into *buf (grown as needed); *len = plaintext length. */
static int spill_get(mc2_exec *x, uint64_t id, uint8_t **buf, size_t *cap, size_t *len,
                     mc2_err *err)
{
    const uint8_t *p;
    size_t n;
    if (x->spill->get(x->spill->ctx, id, &p, &n, err)) return -1;
    if (n < MC2_TAG_LEN) return mc2_err_set(err, MC2_E_AUTH, "spilled block truncated");
    size_t pl = n - MC2_TAG_LEN;
    if (pl > *cap) {
        uint8_t *nb = mc2_malloc(pl);
        if (!nb) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a spill block");
        mc2_free_wipe(*buf, *cap);
        *buf = nb;
        *cap = pl;
    }
    uint8_t nonce[MC2_NONCE_LEN], aad[20];
    spill_nonce_aad(id, nonce, aad);
    if (mc2_aead_open(x->spill_aead, nonce, aad, sizeof aad, p, pl, p + pl, *buf, err))
        return mc2_err_prefix(err, "spilled block: ");
    *len = pl;
    return 0;
}

/* ---- runs -------------------------------------------------------------------------------- */

static int run_add(sx_run *r, uint64_t id, mc2_err *err)
{
    if (r->nblocks == r->cap) {
        size_t nc = r->cap ? 2 * r->cap : 8;
        uint64_t *n = mc2_realloc(r->ids, nc * sizeof *n);
        if (!n) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        r->ids = n;
        r->cap = nc;
    }
    r->ids[r->nblocks++] = id;
    return 0;
}

int sx_runw_init(mc2_exec *x, sx_runw *w, mc2_err *err)
{
    (void)x;
    memset(w, 0, sizeof *w);
    w->buf = mc2_malloc(SPILL_BLOCK);
    if (!w->buf) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    w->cap = SPILL_BLOCK;
    return 0;
}

static int runw_flush(mc2_exec *x, sx_runw *w, mc2_err *err)
{
    if (!w->len) return 0;
    uint64_t id = 0;
    if (spill_put(x, w->buf, w->len, &id, err) || run_add(&w->run, id, err)) return -1;
    w->len = 0;
    return 0;
}

uint8_t *sx_runw_space(mc2_exec *x, sx_runw *w, size_t n, mc2_err *err)
{
    if (n > UINT32_MAX - 8) {
        mc2_err_set(err, MC2_E_LIMIT, "spilled record too large");
        return NULL;
    }
    if (w->len + 4 + n > w->cap && runw_flush(x, w, err)) return NULL;
    if (4 + n > w->cap) {
        uint8_t *nb = mc2_malloc(4 + n);
        if (!nb) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            return NULL;
        }
        mc2_free_wipe(w->buf, w->cap);
        w->buf = nb;
        w->cap = 4 + n;
    }
    mc2_le32_put(w->buf + w->len, (uint32_t)n);
    uint8_t *p = w->buf + w->len + 4;
    w->len += 4 + n;
    w->run.rows++;
    return p;
}

int sx_runw_put(mc2_exec *x, sx_runw *w, const uint8_t *p, size_t n, mc2_err *err)
{
    uint8_t *q = sx_runw_space(x, w, n, err);
    if (!q) return -1;
    if (n) memcpy(q, p, n);
    return 0;
}

int sx_runw_finish(mc2_exec *x, sx_runw *w, mc2_err *err)
{
    int r = runw_flush(x, w, err);
    mc2_free_wipe(w->buf, w->cap);
    w->buf = NULL;
    w->cap = 0;
    return r;
}

void sx_runw_free(sx_runw *w)
{
    mc2_free_wipe(w->buf, w->cap);
    mc2_free(w->run.ids);
    memset(w, 0, sizeof *w);
}

int sx_runr_next(mc2_exec *x, sx_runr *r, const uint8_t **p, size_t *n, mc2_err *err)
{
    while (r->pos >= r->len) {
        if (r->block >= r->run->nblocks) return 0;
        if (spill_get(x, r->run->ids[r->block++], &r->buf, &r->cap, &r->len, err)) return -1;
        r->pos = 0;
    }
    if (r->len - r->pos < 4) return mc2_err_set(err, MC2_E_INTERNAL, "spilled block malformed");
    uint32_t l = mc2_le32_get(r->buf + r->pos);
    if (l > r->len - r->pos - 4) return mc2_err_set(err, MC2_E_INTERNAL, "spilled block malformed");
    *p = r->buf + r->pos + 4;
    *n = l;
    r->pos += 4 + (size_t)l;
    return 1;
}

void sx_runr_free(sx_runr *r)
{
    mc2_free_wipe(r->buf, r->cap);
    r->buf = NULL;
    r->cap = r->len = r->pos = 0;
}

void sx_run_drop(mc2_exec *x, sx_run *run)
{
    if (x->spill && x->spill->drop)
        for (size_t i = 0; i < run->nblocks; i++) x->spill->drop(x->spill->ctx, run->ids[i]);
    mc2_free(run->ids);
    memset(run, 0, sizeof *run);
}

/* ---- row codec --------------------------------------------------------------------------- */

size_t sx_row_size(const mc2_schema *s, const sx_chunk *c, size_t i)
{
    size_t n = 0;
    for (size_t k = 0; k < s->ncols; k++) {
        const sx_vec *v = &c->cols[k];
        n++;
        if (v->nulls && v->nulls[i]) continue;
        enum mc2_type t = s->cols[k].type.id;
        n += t == MC2_T_VARCHAR ? 4 + (size_t)v->v.s[i].n : sx_width(t);
    }
    return n;
}

void sx_row_encode(const mc2_schema *s, const sx_chunk *c, size_t i, uint8_t *p)
{
    for (size_t k = 0; k < s->ncols; k++) {
        const sx_vec *v = &c->cols[k];
        if (v->nulls && v->nulls[i]) {
            *p++ = 1;
            continue;
        }
        *p++ = 0;
        switch (s->cols[k].type.id) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
        case MC2_T_DOUBLE:
            memcpy(p, &v->v.i64[i], 8);
            p += 8;
            break;
        case MC2_T_DEC128:
            memcpy(p, &v->v.i128[i], 16);
            p += 16;
            break;
        case MC2_T_DATE:
            memcpy(p, &v->v.i32[i], 4);
            p += 4;
            break;
        case MC2_T_BOOL:
            *p++ = v->v.b[i];
            break;
        case MC2_T_VARCHAR:
            mc2_le32_put(p, v->v.s[i].n);
            if (v->v.s[i].n) memcpy(p + 4, v->v.s[i].p, v->v.s[i].n);
            p += 4 + v->v.s[i].n;
            break;
        }
    }
}

int sx_row_decode(const mc2_schema *s, const uint8_t *p, size_t n, sx_chunk *out, size_t j,
                  sx_heap *heap, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(p, n);
    for (size_t k = 0; k < s->ncols; k++) {
        sx_vec *v = &out->cols[k];
        enum mc2_type t = s->cols[k].type.id;
        uint8_t isnull = mc2_rd_u8(&r);
        v->nulls[j] = isnull;
        if (isnull) {
            sx_vec_set_null(t, v, j, 1);
            continue;
        }
        const uint8_t *q;
        switch (t) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
        case MC2_T_DOUBLE:
            if ((q = mc2_rd_take(&r, 8))) memcpy(&v->v.i64[j], q, 8);
            break;
        case MC2_T_DEC128:
            if ((q = mc2_rd_take(&r, 16))) memcpy(&v->v.i128[j], q, 16);
            break;
        case MC2_T_DATE:
            if ((q = mc2_rd_take(&r, 4))) memcpy(&v->v.i32[j], q, 4);
            break;
        case MC2_T_BOOL:
            v->v.b[j] = mc2_rd_u8(&r);
            break;
        case MC2_T_VARCHAR: {
            size_t l;
            q = mc2_rd_lv(&r, &l);
            if (!q) break;
            char *d = l ? sx_heap_alloc(heap, l, err) : NULL;
            if (l && !d) return -1;
            if (l) memcpy(d, q, l);
            v->v.s[j].p = d ? d : "";
            v->v.s[j].n = (uint32_t)l;
            break;
        }
        }
    }
    if (r.bad || r.pos != n) return mc2_err_set(err, MC2_E_INTERNAL, "spilled row malformed");
    return 0;
}

/* ---- the in-memory store ----------------------------------------------------------------- */

typedef struct memstore {
    mc2_spill_store s;
    uint8_t **data;
    size_t *len;
    size_t n; /* slots */
    size_t held;
    uint64_t total;
} memstore;

static int ms_put(void *ctx, uint64_t id, const uint8_t *p, size_t n, mc2_err *err)
{
    memstore *m = ctx;
    if (id > (1u << 26)) return mc2_err_set(err, MC2_E_LIMIT, "spill store full");
    if (id >= m->n) {
        size_t nn = m->n ? m->n : 64;
        while (nn <= id) nn *= 2;
        uint8_t **d = mc2_realloc(m->data, nn * sizeof *d);
        if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        m->data = d;
        size_t *l = mc2_realloc(m->len, nn * sizeof *l);
        if (!l) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        m->len = l;
        for (size_t i = m->n; i < nn; i++) {
            m->data[i] = NULL;
            m->len[i] = 0;
        }
        m->n = nn;
    }
    uint8_t *c = mc2_malloc(n ? n : 1);
    if (!c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    memcpy(c, p, n);
    if (m->data[id]) {
        m->held -= m->len[id];
        mc2_free(m->data[id]);
    }
    m->data[id] = c;
    m->len[id] = n;
    m->held += n;
    m->total += n;
    return 0;
}

static int ms_get(void *ctx, uint64_t id, const uint8_t **p, size_t *n, mc2_err *err)
{
    memstore *m = ctx;
    if (id >= m->n || !m->data[id])
        return mc2_err_set(err, MC2_E_NOTFOUND, "spilled block missing");
    *p = m->data[id];
    *n = m->len[id];
    return 0;
}

static void ms_drop(void *ctx, uint64_t id)
{
    memstore *m = ctx;
    if (id >= m->n || !m->data[id]) return;
    m->held -= m->len[id];
    mc2_free(m->data[id]);
    m->data[id] = NULL;
}

mc2_spill_store *mc2_spill_memstore_new(mc2_err *err)
{
    memstore *m = mc2_calloc(1, sizeof *m);
    if (!m) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    m->s.ctx = m;
    m->s.put = ms_put;
    m->s.get = ms_get;
    m->s.drop = ms_drop;
    return &m->s;
}

void mc2_spill_memstore_free(mc2_spill_store *s)
{
    if (!s) return;
    memstore *m = (memstore *)s;
    for (size_t i = 0; i < m->n; i++) mc2_free(m->data[i]);
    mc2_free(m->data);
    mc2_free(m->len);
    mc2_free(m);
}

void mc2_spill_memstore_stats(const mc2_spill_store *s, size_t *held, uint64_t *total)
{
    const memstore *m = (const memstore *)s;
    *held = m->held;
    *total = m->total;
}
