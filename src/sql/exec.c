/* exec.c - the executor's driver and streaming operators (scan, values, filter, project,
 * limit, union all), vectors, string heaps and row stores. Operators pull chunks of at most
 * x->cap rows from their children; a chunk is valid until the next pull. */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "sql/prune.h"
#include "table/treader.h"
#include "table/tsrc.h"

/* ---- small pieces ------------------------------------------------------------------------ */

size_t sx_width(enum mc2_type t)
{
    switch (t) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
    case MC2_T_DOUBLE:
        return 8;
    case MC2_T_DEC128:
        return 16;
    case MC2_T_DATE:
        return 4;
    case MC2_T_BOOL:
        return 1;
    case MC2_T_VARCHAR:
        return sizeof(sx_str);
    }
    MC2_PANIC("exec: unknown type");
}

struct sx_heap_blk {
    sx_heap_blk *next;
    size_t size, used;
    char data[];
};

char *sx_heap_alloc(sx_heap *h, size_t n, mc2_err *err)
{
    while (h->cur && h->cur->size - h->cur->used < n) h->cur = h->cur->next;
    if (!h->cur) {
        size_t sz = n > 65536 ? n : 65536;
        sx_heap_blk *b = mc2_malloc(sizeof *b + sz);
        if (!b) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory for strings");
            return NULL;
        }
        b->size = sz;
        b->used = 0;
        b->next = h->head;
        h->head = b;
        h->cur = b;
        h->bytes += sz;
    }
    char *p = h->cur->data + h->cur->used;
    h->cur->used += n;
    return p;
}

void sx_heap_reset(sx_heap *h)
{
    for (sx_heap_blk *b = h->head; b; b = b->next) b->used = 0;
    h->cur = h->head;
}

void sx_heap_take(sx_heap *dst, sx_heap *src)
{
    if (!src->head) return;
    sx_heap_blk *last = src->head;
    while (last->next) last = last->next;
    last->next = dst->head; /* in front of dst's current block: never allocated from again */
    dst->head = src->head;
    dst->bytes += src->bytes;
    memset(src, 0, sizeof *src);
}

void sx_heap_free(sx_heap *h)
{
    sx_heap_blk *b = h->head;
    while (b) {
        sx_heap_blk *n = b->next;
        mc2_free_wipe(b, sizeof *b + b->size);
        b = n;
    }
    memset(h, 0, sizeof *h);
}

void *sx_alloc(mc2_exec *x, size_t n, mc2_err *err)
{
    return mc2_arena_alloc(&x->arena, n, err);
}

void *sx_array(mc2_exec *x, size_t count, size_t size, mc2_err *err)
{
    return mc2_arena_array(&x->arena, count, size, err);
}

sx_chunk *sx_chunk_new(mc2_exec *x, const mc2_schema *s, mc2_err *err)
{
    sx_chunk *c = sx_alloc(x, sizeof *c, err);
    if (!c) return NULL;
    c->cols = sx_array(x, s->ncols ? s->ncols : 1, sizeof *c->cols, err);
    if (!c->cols) return NULL;
    for (size_t i = 0; i < s->ncols; i++) {
        c->cols[i].nulls = sx_alloc(x, x->cap, err);
        c->cols[i].v.p = sx_array(x, x->cap, sx_width(s->cols[i].type.id), err);
        if (!c->cols[i].nulls || !c->cols[i].v.p) return NULL;
    }
    return c;
}

int sx_register(mc2_exec *x, sx_op *op, mc2_err *err)
{
    if (x->nops == x->capops) {
        size_t nc = x->capops ? 2 * x->capops : 16;
        sx_op **n = sx_array(x, nc, sizeof *n, err);
        if (!n) return -1;
        if (x->nops) memcpy(n, x->ops, x->nops * sizeof *n);
        x->ops = n;
        x->capops = nc;
    }
    x->ops[x->nops++] = op;
    return 0;
}

void sx_vec_gather(enum mc2_type t, sx_vec *dst, size_t off, const sx_vec *src, const uint32_t *sel,
                   size_t n)
{
    if (src->nulls) {
        if (sel)
            for (size_t i = 0; i < n; i++) dst->nulls[off + i] = src->nulls[sel[i]];
        else
            memcpy(dst->nulls + off, src->nulls, n);
    } else
        memset(dst->nulls + off, 0, n);
    size_t w = sx_width(t);
    if (!sel) {
        memcpy((char *)dst->v.p + off * w, src->v.p, n * w);
        return;
    }
    if (t == MC2_T_DEC128) { /* 16 bytes, like an sx_str: told apart by type */
        const mc2_i128 *s = src->v.i128;
        mc2_i128 *d = dst->v.i128 + off;
        for (size_t i = 0; i < n; i++) d[i] = s[sel[i]];
        return;
    }
    switch (w) {
    case 8: {
        const int64_t *s = src->v.i64;
        int64_t *d = dst->v.i64 + off;
        for (size_t i = 0; i < n; i++) d[i] = s[sel[i]];
        break;
    }
    case 4: {
        const int32_t *s = src->v.i32;
        int32_t *d = dst->v.i32 + off;
        for (size_t i = 0; i < n; i++) d[i] = s[sel[i]];
        break;
    }
    case 1: {
        const uint8_t *s = src->v.b;
        uint8_t *d = dst->v.b + off;
        for (size_t i = 0; i < n; i++) d[i] = s[sel[i]];
        break;
    }
    default: {
        const sx_str *s = src->v.s;
        sx_str *d = dst->v.s + off;
        for (size_t i = 0; i < n; i++) d[i] = s[sel[i]];
        break;
    }
    }
}

void sx_vec_set_null(enum mc2_type t, sx_vec *dst, size_t off, size_t n)
{
    memset(dst->nulls + off, 1, n);
    if (t == MC2_T_VARCHAR)
        for (size_t i = 0; i < n; i++) {
            dst->v.s[off + i].p = "";
            dst->v.s[off + i].n = 0;
        }
    else
        memset((char *)dst->v.p + off * sx_width(t), 0, n * sx_width(t));
}

void sx_vec_slice(enum mc2_type t, sx_vec *dst, const sx_vec *src, size_t off)
{
    dst->nulls = src->nulls ? src->nulls + off : NULL;
    dst->v.p = (char *)src->v.p + off * sx_width(t);
}

/* ---- row stores -------------------------------------------------------------------------- */

void sx_rows_init(sx_rows *r, const mc2_schema *s)
{
    memset(r, 0, sizeof *r);
    r->s = s;
}

int sx_rows_reserve(mc2_exec *x, sx_rows *r, size_t n, mc2_err *err)
{
    size_t need;
    if (!mc2_add_size(r->n, n, &need) || need > UINT32_MAX - 1)
        return mc2_err_set(err, MC2_E_LIMIT, "more than 2^32 rows in one operator");
    if (need <= r->cap) return 0;
    size_t nc = r->cap ? r->cap : 1024;
    while (nc < need) nc *= 2;
    size_t nk = r->s->ncols;
    if (!r->vals) {
        r->vals = mc2_calloc(nk ? nk : 1, sizeof *r->vals);
        r->nulls = mc2_calloc(nk ? nk : 1, sizeof *r->nulls);
        if (!r->vals || !r->nulls) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    size_t added = 0;
    for (size_t c = 0; c < nk; c++) {
        size_t w = sx_width(r->s->cols[c].type.id);
        void *v = mc2_realloc(r->vals[c], nc * w);
        if (!v) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for %zu rows", nc);
        r->vals[c] = v;
        uint8_t *nl = mc2_realloc(r->nulls[c], nc);
        if (!nl) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for %zu rows", nc);
        r->nulls[c] = nl;
        added += (nc - r->cap) * (w + 1);
    }
    r->cap = nc;
    r->bytes += added;
    sx_mem_add(x, added);
    return 0;
}

int sx_rows_append(mc2_exec *x, sx_rows *r, const sx_chunk *c, const uint32_t *sel, size_t n,
                   mc2_err *err)
{
    if (sx_rows_reserve(x, r, n, err)) return -1;
    for (size_t k = 0; k < r->s->ncols; k++) {
        enum mc2_type t = r->s->cols[k].type.id;
        sx_vec dst = {r->nulls[k], {.p = r->vals[k]}};
        sx_vec_gather(t, &dst, r->n, &c->cols[k], sel, n);
        if (t == MC2_T_VARCHAR) {
            sx_str *s = (sx_str *)r->vals[k] + r->n;
            size_t tot = 0;
            for (size_t i = 0; i < n; i++) tot += s[i].n;
            size_t before = r->heap.bytes;
            char *p = tot ? sx_heap_alloc(&r->heap, tot, err) : NULL;
            if (tot && !p) return -1;
            for (size_t i = 0; i < n; i++) {
                if (s[i].n) memcpy(p, s[i].p, s[i].n);
                s[i].p = p ? p : "";
                p += s[i].n;
            }
            r->bytes += r->heap.bytes - before;
            sx_mem_add(x, r->heap.bytes - before);
        }
    }
    r->n += n;
    return 0;
}

void sx_rows_gather(const sx_rows *r, const uint32_t *idx, size_t from, size_t n, sx_chunk *out,
                    size_t col0, size_t out_off)
{
    for (size_t k = 0; k < r->s->ncols; k++) {
        enum mc2_type t = r->s->cols[k].type.id;
        sx_vec src = {r->nulls[k], {.p = r->vals[k]}};
        if (!idx) sx_vec_slice(t, &src, &src, from);
        sx_vec_gather(t, &out->cols[col0 + k], out_off, &src, idx, n);
    }
}

void sx_rows_free(mc2_exec *x, sx_rows *r)
{
    for (size_t c = 0; c < r->s->ncols; c++) {
        if (r->vals) mc2_free_wipe(r->vals[c], r->cap * sx_width(r->s->cols[c].type.id));
        if (r->nulls) mc2_free_wipe(r->nulls[c], r->cap);
    }
    mc2_free(r->vals);
    mc2_free(r->nulls);
    sx_heap_free(&r->heap);
    sx_mem_sub(x, r->bytes);
    const mc2_schema *s = r->s;
    memset(r, 0, sizeof *r);
    r->s = s;
}

/* ---- scan -------------------------------------------------------------------------------- */

#define SCAN_AHEAD 3 /* blocks a streaming scan reads ahead, besides one per thread */

typedef struct op_scan {
    sx_op op;
    const mc2_exec_input *in;
    size_t batch, row;      /* position */
    mc2_batch *rb;          /* reader's block */
    mc2_tscan *scan;        /* streaming sources */
    bool shared;            /* scan is the primary instance's (a worker's instance) */
    mc2_tclaim_fn on_claim; /* sx_scan_on_claim */
    void *claim_ctx;
    const mc2_batch *cur;
    bool eof;
    sx_chunk out;
    sx_str **strs; /* per output column: VARCHAR references */
} op_scan;

static int scan_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_scan *s = (op_scan *)o;
    const mc2_pnode *n = o->node;
    for (;;) {
        if (s->cur && s->row < s->cur->nrows) break;
        s->row = 0;
        s->cur = NULL;
        if (s->scan) {
            uint64_t blk;
            int r = mc2_tscan_next_cb(s->scan, s->rb, &blk, s->on_claim, s->claim_ctx, err);
            if (r < 0) return -1;
            if (r == 0) return 0;
            s->cur = s->rb;
        } else if (s->in->reader) {
            int r = mc2_treader_next(s->in->reader, s->rb, NULL, err);
            if (r < 0) return -1;
            if (r == 0) return 0;
            s->cur = s->rb;
        } else {
            if (s->batch >= s->in->nbatches) return 0;
            s->cur = s->in->batches[s->batch++];
        }
    }
    const mc2_batch *b = s->cur;
    size_t m = b->nrows - s->row;
    if (m > o->x->cap) m = o->x->cap;
    for (size_t k = 0; k < n->schema.ncols; k++) {
        const mc2_col *c = &b->cols[n->cols[k]];
        sx_vec *v = &s->out.cols[k];
        v->nulls = c->nulls ? c->nulls + s->row : NULL;
        switch (n->schema.cols[k].type.id) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
            v->v.i64 = c->v.i64 + s->row;
            break;
        case MC2_T_DEC128:
            v->v.i128 = c->v.i128 + s->row;
            break;
        case MC2_T_DOUBLE:
            v->v.f64 = c->v.f64 + s->row;
            break;
        case MC2_T_DATE:
            v->v.i32 = c->v.i32 + s->row;
            break;
        case MC2_T_BOOL:
            v->v.b = c->v.b + s->row;
            break;
        case MC2_T_VARCHAR: {
            sx_str *st = s->strs[k];
            const uint32_t *off = c->off + s->row;
            for (size_t i = 0; i < m; i++) {
                st[i].p = c->data + off[i];
                st[i].n = off[i + 1] - off[i];
            }
            v->v.s = st;
            break;
        }
        }
    }
    s->out.n = m;
    s->row += m;
    *out = &s->out;
    return 1;
}

void sx_scan_on_claim(sx_op *o, mc2_tclaim_fn fn, void *ctx)
{
    if (o->next != scan_next) MC2_PANIC("sx_scan_on_claim: not a scan");
    op_scan *s = (op_scan *)o;
    s->on_claim = fn;
    s->claim_ctx = ctx;
}

static void scan_close(sx_op *o)
{
    op_scan *s = (op_scan *)o;
    if (!s->shared) mc2_tscan_free(s->scan);
    s->scan = NULL;
    mc2_batch_free(s->rb);
    s->rb = NULL;
}

static bool schema_same(const mc2_schema *a, const mc2_schema *b)
{
    if (a->ncols != b->ncols) return false;
    for (size_t i = 0; i < a->ncols; i++)
        if (a->cols[i].type.id != b->cols[i].type.id ||
            a->cols[i].type.scale != b->cols[i].type.scale ||
            a->cols[i].nullable != b->cols[i].nullable)
            return false;
    return true;
}

/* A ranged input's blocks, and the filter's block conditions if any. */
typedef struct scan_range {
    uint64_t first, count;
    mc2_prune *pr;
} scan_range;

static bool range_keep(void *ctx, const mc2_tsrc *src, uint64_t b)
{
    const scan_range *r = ctx;
    if (b < r->first || b - r->first >= r->count) return false;
    return !r->pr || mc2_prune_tkeep(r->pr, src, b);
}

/* Opens the scan's source: a streaming scan of the projected columns, or an in-memory reader's
 * batch, after checking the table's schema is the plan's. */
static int scan_open_source(mc2_exec *x, op_scan *s, const mc2_pnode *n, mc2_err *err)
{
    const mc2_schema *ts = s->in->src      ? mc2_tsrc_header(s->in->src)->schema
                           : s->in->reader ? mc2_treader_header(s->in->reader)->schema
                                           : NULL;
    if (ts && !schema_same(ts, n->in_schema))
        return mc2_err_set(err, MC2_E_INPUT, "input %u: the table's schema is not the plan's",
                           n->input);
    for (size_t i = 0; !ts && i < s->in->nbatches; i++)
        if (!schema_same(s->in->batches[i]->schema, n->in_schema))
            return mc2_err_set(err, MC2_E_INPUT, "input %u: a batch's schema is not the plan's",
                               n->input);
    if (s->in->src) {
        const mc2_thdr *h = mc2_tsrc_header(s->in->src);
        size_t cap = h->rows_per_block < 1024 ? h->rows_per_block : 1024;
        if (!(s->rb = mc2_batch_new(h->schema, cap ? cap : 1, err))) return -1;
        if (x->main) { /* an instance of a parallel pipeline: the primary's blocks */
            op_scan *pr = (op_scan *)sx_primary(x->main, n);
            if (!pr || !pr->scan) MC2_PANIC("scan instance without a primary scan");
            s->scan = pr->scan;
            s->shared = true;
            return 0;
        }
        unsigned threads = x->threads > 1 ? x->threads : 1;
        mc2_prune *pr;
        if (sx_prune_scan(x, n, &pr, err)) return -1;
        if (!s->in->ranged)
            return mc2_tscan_open(s->in->src, n->cols, n->schema.ncols, SCAN_AHEAD + threads,
                                  pr ? mc2_prune_tkeep : NULL, pr, &s->scan, err);
        scan_range *rg = sx_alloc(x, sizeof *rg, err);
        if (!rg) return -1;
        *rg = (scan_range){s->in->first_block, s->in->nblocks, pr};
        return mc2_tscan_open(s->in->src, n->cols, n->schema.ncols, SCAN_AHEAD + threads,
                              range_keep, rg, &s->scan, err);
    }
    if (s->in->reader && !(s->rb = mc2_treader_batch_new(s->in->reader, err))) return -1;
    return 0;
}

static sx_op *op_scan_new(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    if (n->input >= x->ninputs) {
        mc2_err_set(err, MC2_E_USAGE, "plan reads input %u but %zu inputs were given", n->input,
                    x->ninputs);
        return NULL;
    }
    op_scan *s = sx_alloc(x, sizeof *s, err);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->in = &x->inputs[n->input];
    s->out.cols = sx_array(x, n->schema.ncols + 1, sizeof *s->out.cols, err);
    s->strs = sx_array(x, n->schema.ncols + 1, sizeof *s->strs, err);
    if (!s->out.cols || !s->strs) return NULL;
    for (size_t k = 0; k < n->schema.ncols; k++)
        if (n->schema.cols[k].type.id == MC2_T_VARCHAR &&
            !(s->strs[k] = sx_array(x, x->cap, sizeof(sx_str), err)))
            return NULL;
    s->op.next = scan_next;
    s->op.close = scan_close;
    if (scan_open_source(x, s, n, err)) {
        scan_close(&s->op);
        return NULL;
    }
    return &s->op;
}

/* ---- values ------------------------------------------------------------------------------ */

typedef struct op_values {
    sx_op op;
    size_t row;
    sx_chunk *out;
} op_values;

static int values_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    (void)err;
    op_values *v = (op_values *)o;
    const mc2_pnode *n = o->node;
    if (v->row >= n->nrows) return 0;
    size_t m = n->nrows - v->row;
    if (m > o->x->cap) m = o->x->cap;
    size_t nc = n->schema.ncols;
    for (size_t i = 0; i < m; i++)
        for (size_t c = 0; c < nc; c++) {
            const mc2_pexpr *e = n->exprs[(v->row + i) * nc + c];
            sx_vec *d = &v->out->cols[c];
            d->nulls[i] = e->val.null;
            if (e->val.null) {
                sx_vec_set_null(n->schema.cols[c].type.id, d, i, 1);
                continue;
            }
            switch (n->schema.cols[c].type.id) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                d->v.i64[i] = e->val.i;
                break;
            case MC2_T_DEC128: /* a constant holds at most 18 digits (plan.h) */
                d->v.i128[i] = e->val.i;
                break;
            case MC2_T_DOUBLE:
                d->v.f64[i] = e->val.f;
                break;
            case MC2_T_DATE:
                d->v.i32[i] = (int32_t)e->val.i;
                break;
            case MC2_T_BOOL:
                d->v.b[i] = (uint8_t)e->val.i;
                break;
            case MC2_T_VARCHAR:
                d->v.s[i].p = e->val.s;
                d->v.s[i].n = (uint32_t)e->val.slen;
                break;
            }
        }
    v->row += m;
    v->out->n = m;
    *out = v->out;
    return 1;
}

/* ---- filter / project / limit / union all ------------------------------------------------ */

typedef struct op_unary {
    sx_op op;
    sx_op *child, *child2;
    sx_ex **ex;
    size_t nex;
    sx_chunk *out;
    uint32_t *sel;
    sx_chunk *tmp[2]; /* FILTER: the rows left between conjuncts (filter_next) */
    uint32_t *map;    /* FILTER: their rows in the child's chunk */
    uint8_t *need;    /* FILTER: per conjunct, the columns the later ones read */
    uint8_t *keep;    /* FILTER: the rows left of the current chunk (filter_next) */
    int64_t skipped, emitted;
    bool second;
} op_unary;

/* A FILTER whose condition is an AND evaluates its conjuncts one at a time (u->ex[k] for
 * conjunct k, cheapest first: filter_split). Once the rows left are at most half of the
 * current chunk, they are gathered into u->tmp[0] / u->tmp[1] (alternately) before the next
 * conjunct runs, so it runs on those rows only (TPC-H Q19's VARCHAR comparisons run on the
 * rows its quantity ranges leave); only the columns the later conjuncts read are gathered
 * (u->need: row k of ncols flags, for the conjuncts after k), and u->map[i] is the child
 * chunk's row of the i-th row left. Until then u->keep marks the rows left, and the next
 * conjunct runs on the whole current chunk (a compaction per conjunct that keeps most rows,
 * as Q6's ranges do, costs more than it saves). The output gathers every column of the rows
 * left from the child's chunk, once. The rows and their order are those of evaluating the
 * whole AND. */
static int filter_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_unary *u = (op_unary *)o;
    const mc2_schema *sc = o->schema;
    for (;;) {
        sx_chunk *c0;
        int r = sx_pull(u->child, &c0, err);
        if (r <= 0) return r;
        sx_chunk *c = c0;
        size_t m = c->n;
        bool mapped = false; /* u->map holds c's rows' rows in c0 (else c is c0) */
        bool masked = false; /* u->keep marks the rows of c left (else all are) */
        for (size_t k = 0; k < u->nex && m; k++) {
            sx_vec *v;
            if (sx_ex_eval(u->ex[k], c, &v, err)) return -1;
            const uint8_t *b = v->v.b; /* NULL rows hold 0 */
            m = 0;
            for (size_t i = 0; i < c->n; i++) {
                u->sel[m] = (uint32_t)i;
                m += masked ? (u->keep[i] & (b[i] != 0)) : (b[i] != 0);
            }
            if (m == 0 || m == c->n) continue;
            bool last = k + 1 == u->nex;
            if (!last && 2 * m > c->n) {
                memset(u->keep, 0, c->n);
                for (size_t i = 0; i < m; i++) u->keep[u->sel[i]] = 1;
                masked = true;
                continue;
            }
            for (size_t i = 0; i < m; i++) u->map[i] = mapped ? u->map[u->sel[i]] : u->sel[i];
            mapped = true;
            masked = false;
            if (last) break;
            sx_chunk *dst = c == u->tmp[0] ? u->tmp[1] : u->tmp[0];
            const uint8_t *need = u->need + k * sc->ncols;
            for (size_t j = 0; j < sc->ncols; j++)
                if (need[j])
                    sx_vec_gather(sc->cols[j].type.id, &dst->cols[j], 0, &c->cols[j], u->sel, m);
            dst->n = m;
            c = dst;
        }
        if (m == 0) continue;
        if (!mapped) {
            *out = c0;
            return 1;
        }
        for (size_t j = 0; j < sc->ncols; j++)
            sx_vec_gather(sc->cols[j].type.id, &u->out->cols[j], 0, &c0->cols[j], u->map, m);
        u->out->n = m;
        *out = u->out;
        return 1;
    }
}

static int project_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_unary *u = (op_unary *)o;
    sx_chunk *c;
    int r = sx_pull(u->child, &c, err);
    if (r <= 0) return r;
    for (size_t k = 0; k < u->nex; k++) {
        sx_vec *v;
        if (sx_ex_eval(u->ex[k], c, &v, err)) return -1;
        u->out->cols[k] = *v;
    }
    u->out->n = c->n;
    *out = u->out;
    return 1;
}

static int limit_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_unary *u = (op_unary *)o;
    const mc2_pnode *n = o->node;
    for (;;) {
        if (n->limit >= 0 && u->emitted >= n->limit) return 0;
        sx_chunk *c;
        int r = sx_pull(u->child, &c, err);
        if (r <= 0) return r;
        size_t off = 0, m = c->n;
        if (u->skipped < n->offset) {
            int64_t want = n->offset - u->skipped;
            size_t sk = (int64_t)m < want ? m : (size_t)want;
            u->skipped += (int64_t)sk;
            off = sk;
            m -= sk;
        }
        if (n->limit >= 0 && (int64_t)m > n->limit - u->emitted)
            m = (size_t)(n->limit - u->emitted);
        if (m == 0) continue;
        for (size_t k = 0; k < o->schema->ncols; k++)
            sx_vec_slice(o->schema->cols[k].type.id, &u->out->cols[k], &c->cols[k], off);
        u->out->n = m;
        u->emitted += (int64_t)m;
        *out = u->out;
        return 1;
    }
}

static int unionall_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_unary *u = (op_unary *)o;
    if (!u->second) {
        int r = sx_pull(u->child, out, err);
        if (r != 0) return r;
        u->second = true;
    }
    return u->child2->next(u->child2, out, err);
}

static int unary_prepare(sx_op *o, mc2_err *err)
{
    op_unary *u = (op_unary *)o;
    return sx_prepare(u->child, err);
}

static void unary_close(sx_op *o)
{
    op_unary *u = (op_unary *)o;
    for (size_t i = 0; i < u->nex; i++) sx_ex_free(u->ex[i]);
}

/* A rough cost of evaluating e per row: its operators, string comparisons and function calls
 * weighing more. Only orders a FILTER's conjuncts (filter_split). */
static unsigned px_cost(const mc2_pexpr *e)
{
    unsigned c = 0;
    switch (e->kind) {
    case MC2_PX_COL:
    case MC2_PX_CONST:
        return 0;
    case MC2_PX_CMP:
        c = e->args[0]->type.id == MC2_T_VARCHAR ? 3 : 1;
        break;
    case MC2_PX_LIKE:
        c = 8;
        break;
    case MC2_PX_FUNC:
    case MC2_PX_CAST:
        c = 4;
        break;
    default:
        c = 1;
    }
    for (unsigned i = 0; i < e->nargs && c < 1000000; i++) c += px_cost(e->args[i]);
    return c;
}

/* Flags in need[0..nc) the input columns e reads. */
static void px_cols(const mc2_pexpr *e, uint8_t *need, size_t nc)
{
    if (e->kind == MC2_PX_COL && e->col < nc) need[e->col] = 1;
    for (unsigned i = 0; i < e->nargs; i++) px_cols(e->args[i], need, nc);
}

/* A FILTER's AND: one evaluator per conjunct instead of one for the whole (filter_next),
 * the cheaper conjuncts first (stable: ties keep the plan's order). Which rows pass does not
 * depend on the order; a conjunct that would fail on a row (an overflow) fails the query only
 * if it runs on that row, which an earlier conjunct's rejecting at least half of the chunk
 * prevents. */
static int filter_split(mc2_exec *x, op_unary *u, const mc2_pnode *n, mc2_err *err)
{
    const mc2_pexpr *e = n->exprs[0];
    sx_ex **ex = sx_array(x, e->nargs, sizeof *ex, err);
    unsigned *cost = sx_array(x, e->nargs, sizeof *cost, err);
    const mc2_pexpr **arg = sx_array(x, e->nargs, sizeof *arg, err);
    if (!ex || !cost || !arg) return -1;
    for (unsigned i = 0; i < e->nargs; i++) { /* insertion sort by cost */
        unsigned ci = px_cost(e->args[i]), j = i;
        for (; j > 0 && cost[j - 1] > ci; j--) {
            cost[j] = cost[j - 1];
            arg[j] = arg[j - 1];
        }
        cost[j] = ci;
        arg[j] = e->args[i];
    }
    for (unsigned i = 0; i < e->nargs; i++)
        if (!(ex[i] = sx_ex_new(x, arg[i], err))) {
            while (i-- > 0) sx_ex_free(ex[i]);
            return -1;
        }
    for (size_t i = 0; i < u->nex; i++) sx_ex_free(u->ex[i]);
    u->ex = ex;
    u->nex = e->nargs;
    /* need[k]: the columns conjuncts k+1.. read; the two buffers for the rows between */
    const mc2_schema *sc = &n->schema;
    size_t nc = sc->ncols;
    if (!(u->need = sx_array(x, e->nargs * nc + 1, 1, err))) return -1;
    memset(u->need, 0, e->nargs * nc + 1);
    for (unsigned k = e->nargs - 1; k-- > 0;) {
        memcpy(u->need + k * nc, u->need + (k + 1) * nc, nc);
        px_cols(arg[k + 1], u->need + k * nc, nc);
    }
    if (!(u->tmp[0] = sx_chunk_new(x, sc, err)) || !(u->tmp[1] = sx_chunk_new(x, sc, err)))
        return -1;
    return 0;
}

static sx_op *op_unary_new(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_unary *u = sx_alloc(x, sizeof *u, err);
    if (!u) return NULL;
    x->prune_filter = n->kind == MC2_PN_FILTER ? n : NULL; /* its scan may skip blocks */
    u->child = sx_build(x, n->left, err);
    x->prune_filter = NULL;
    if (!u->child) return NULL;
    u->op.close = unary_close;
    u->op.prepare = unary_prepare;
    switch (n->kind) {
    case MC2_PN_FILTER:
        u->op.next = filter_next;
        u->out = sx_chunk_new(x, &n->schema, err);
        u->sel = sx_array(x, x->cap, sizeof *u->sel, err);
        u->map = sx_array(x, x->cap, sizeof *u->map, err);
        u->keep = sx_alloc(x, x->cap, err);
        if (!u->out || !u->sel || !u->map || !u->keep) return NULL;
        break;
    case MC2_PN_PROJECT:
        u->op.next = project_next;
        u->out = sx_alloc(x, sizeof *u->out, err);
        if (!u->out) return NULL;
        u->out->cols = sx_array(x, n->nexprs + 1, sizeof *u->out->cols, err);
        if (!u->out->cols) return NULL;
        break;
    case MC2_PN_LIMIT:
        u->op.next = limit_next;
        u->out = sx_alloc(x, sizeof *u->out, err);
        if (!u->out) return NULL;
        u->out->cols = sx_array(x, n->schema.ncols + 1, sizeof *u->out->cols, err);
        if (!u->out->cols) return NULL;
        break;
    default: /* UNION ALL */
        u->op.next = unionall_next;
        if (!(u->child2 = sx_build(x, n->right, err))) return NULL;
        break;
    }
    if (n->nexprs && n->kind != MC2_PN_VALUES) {
        u->ex = sx_array(x, n->nexprs, sizeof *u->ex, err);
        if (!u->ex) return NULL;
        for (size_t i = 0; i < n->nexprs; i++)
            if (!(u->ex[i] = sx_ex_new(x, n->exprs[i], err))) return NULL;
        u->nex = n->nexprs;
    }
    if (n->kind == MC2_PN_FILTER && n->nexprs == 1 && n->exprs[0]->kind == MC2_PX_AND &&
        n->exprs[0]->nargs > 1 && filter_split(x, u, n, err))
        return NULL;
    return &u->op;
}

/* ---- building ---------------------------------------------------------------------------- */

sx_op *sx_build(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    sx_op *o = NULL;
    if (sx_par_qualifies(x, n)) {
        o = sx_op_par(x, n, err);
        return o && sx_register(x, o, err) == 0 ? o : NULL;
    }
    switch (n->kind) {
    case MC2_PN_SCAN:
        o = op_scan_new(x, n, err);
        break;
    case MC2_PN_VALUES: {
        op_values *v = sx_alloc(x, sizeof *v, err);
        if (!v || !(v->out = sx_chunk_new(x, &n->schema, err))) return NULL;
        v->op.next = values_next;
        o = &v->op;
        break;
    }
    case MC2_PN_FILTER:
    case MC2_PN_PROJECT:
    case MC2_PN_LIMIT:
        o = op_unary_new(x, n, err);
        break;
    case MC2_PN_SETOP:
        if (n->setop == MC2_SETOP_UNION && n->all)
            o = op_unary_new(x, n, err);
        else
            o = sx_op_agg(x, n, err);
        break;
    case MC2_PN_HASH_JOIN:
    case MC2_PN_NL_JOIN:
        o = x->main ? sx_op_join_probe(x, n, sx_primary(x->main, n), err) : sx_op_join(x, n, err);
        break;
    case MC2_PN_AGG:
        o = sx_op_agg(x, n, err);
        break;
    case MC2_PN_SORT:
        o = sx_op_sort(x, n, err);
        break;
    }
    if (!o) return NULL;
    o->x = x;
    o->node = n;
    o->schema = &n->schema;
    if (sx_register(x, o, err)) {
        if (o->close) o->close(o);
        return NULL;
    }
    return o;
}

/* ---- the public driver ------------------------------------------------------------------- */

/* ---- inputs scanned more than once ------------------------------------------------------
 * An mc2_treader reads its table once, front to back, but a plan may scan one input several
 * times (self-joins, subqueries over a table the outer query also reads: TPC-H Q2, Q7, Q8,
 * Q11, Q15, Q17, Q18, Q21, Q22). Sharing the reader would give every scan after the first
 * an empty or partial table, a wrong answer. Such an input is decrypted once, at open, into
 * batches that every scan of it reads; they are freed (wiped) with the executor. */

typedef struct op_inputs {
    sx_op op; /* registered only to be closed */
    mc2_batch **b;
    size_t n;
} op_inputs;

static void inputs_close(sx_op *o)
{
    op_inputs *m = (op_inputs *)o;
    for (size_t i = 0; i < m->n; i++) mc2_batch_free(m->b[i]);
    mc2_free(m->b);
    m->b = NULL;
    m->n = 0;
}

void sx_count_scans(const mc2_pnode *n, unsigned *cnt, size_t ninputs)
{
    for (; n; n = n->left) {
        if (n->kind == MC2_PN_SCAN && n->input < ninputs) cnt[n->input]++;
        sx_count_scans(n->right, cnt, ninputs);
    }
}

int sx_read_batches(mc2_treader *r, mc2_batch ***out, size_t *nout, mc2_err *err)
{
    for (;;) {
        mc2_batch *b = mc2_treader_batch_new(r, err);
        if (!b) return -1;
        int k = mc2_treader_next(r, b, NULL, err);
        if (k <= 0) {
            mc2_batch_free(b);
            return k < 0 ? -1 : 0;
        }
        mc2_batch **nb = mc2_realloc(*out, (*nout + 1) * sizeof *nb);
        if (!nb) {
            mc2_batch_free(b);
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        }
        *out = nb;
        (*out)[(*nout)++] = b;
    }
}

/* Replaces x->inputs by a copy in which every reader input that root scans more than once is
 * read into batches. */
static int share_inputs(mc2_exec *x, const mc2_pnode *root, mc2_err *err)
{
    if (!x->ninputs) return 0;
    unsigned *cnt = sx_array(x, x->ninputs, sizeof *cnt, err);
    if (!cnt) return -1;
    sx_count_scans(root, cnt, x->ninputs);
    mc2_exec_input *in = NULL;
    for (size_t i = 0; i < x->ninputs; i++) {
        mc2_treader *r = x->inputs[i].reader;
        if (!r || cnt[i] < 2) continue;
        if (!in) {
            if (!(in = sx_array(x, x->ninputs, sizeof *in, err))) return -1;
            memcpy(in, x->inputs, x->ninputs * sizeof *in);
        }
        op_inputs *m = sx_alloc(x, sizeof *m, err);
        if (!m) return -1;
        m->op.x = x;
        m->op.close = inputs_close;
        if (sx_register(x, &m->op, err)) return -1;
        if (sx_read_batches(r, &m->b, &m->n, err)) return -1;
        in[i] = (mc2_exec_input){.batches = (const mc2_batch *const *)m->b, .nbatches = m->n};
    }
    if (in) x->inputs = in;
    return 0;
}

int mc2_exec_open(mc2_plan *p, mc2_pnode *root, const mc2_exec_input *inputs, size_t ninputs,
                  const mc2_exec_opts *opts, mc2_exec **out, mc2_err *err)
{
    *out = NULL;
    if (p->failed) {
        *err = p->err;
        return -1;
    }
    if (!root) return mc2_err_set(err, MC2_E_USAGE, "no plan to execute");
    mc2_exec *x = mc2_calloc(1, sizeof *x);
    if (!x) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_arena_init(&x->arena, 0);
    x->plan = p;
    x->inputs = inputs;
    x->ninputs = ninputs;
    x->cap = opts && opts->batch_rows ? opts->batch_rows : 2048;
    x->threads = opts && opts->threads > 1 ? opts->threads : 1;
    x->read_all = opts && opts->read_all_blocks;
    if (x->threads > 64) x->threads = 64;
    if (x->cap > 65536) x->cap = 65536;
    x->ordered = sx_order_sensitive(root);
    x->budget = opts && opts->mem_budget ? opts->mem_budget : (size_t)1 << 30;
    x->spill = opts ? opts->spill : NULL;
    if (x->spill) {
        uint8_t key[MC2_KEY_LEN];
        if (mc2_random(key, sizeof key, err)) goto fail;
        x->spill_aead = mc2_aead_new(key, err);
        mc2_wipe(key, sizeof key);
        if (!x->spill_aead) goto fail;
    }
    if (share_inputs(x, root, err)) goto fail;
    if (!(x->root = sx_build(x, root, err))) goto fail;
    *out = x;
    return 0;
fail:
    mc2_exec_free(x);
    return -1;
}

/* Copies rows [off, off+m) of chunk c into b at row b->nrows. */
static int copy_out(mc2_exec *x, const sx_chunk *c, size_t off, size_t m, mc2_batch *b,
                    mc2_err *err)
{
    const mc2_schema *s = x->root->schema;
    size_t at = b->nrows;
    for (size_t k = 0; k < s->ncols; k++) {
        const sx_vec *v = &c->cols[k];
        mc2_col *d = &b->cols[k];
        enum mc2_type t = s->cols[k].type.id;
        if (v->nulls) {
            if (!b->schema->cols[k].nullable) {
                for (size_t i = 0; i < m; i++)
                    if (v->nulls[off + i])
                        return mc2_err_set(err, MC2_E_INTERNAL,
                                           "result column '%s' is NULL but declared NOT NULL",
                                           s->cols[k].name);
            } else
                memcpy(d->nulls + at, v->nulls + off, m);
        } else if (d->nulls)
            memset(d->nulls + at, 0, m);
        switch (t) {
        case MC2_T_INT64:
        case MC2_T_DECIMAL:
            memcpy(d->v.i64 + at, v->v.i64 + off, m * 8);
            break;
        case MC2_T_DEC128:
            memcpy(d->v.i128 + at, v->v.i128 + off, m * 16);
            break;
        case MC2_T_DOUBLE:
            memcpy(d->v.f64 + at, v->v.f64 + off, m * 8);
            break;
        case MC2_T_DATE:
            memcpy(d->v.i32 + at, v->v.i32 + off, m * 4);
            break;
        case MC2_T_BOOL:
            memcpy(d->v.b + at, v->v.b + off, m);
            break;
        case MC2_T_VARCHAR: {
            size_t tot = 0;
            for (size_t i = 0; i < m; i++) tot += v->v.s[off + i].n;
            if (mc2_batch_reserve_chars(b, k, tot, err)) return -1;
            uint32_t o = d->off[at];
            if ((uint64_t)o + tot > UINT32_MAX)
                return mc2_err_set(err, MC2_E_LIMIT, "result batch too large");
            for (size_t i = 0; i < m; i++) {
                sx_str st = v->v.s[off + i];
                if (st.n) memcpy(d->data + o, st.p, st.n);
                o += st.n;
                d->off[at + i + 1] = o;
            }
            break;
        }
        }
    }
    return 0;
}

int mc2_exec_next(mc2_exec *x, mc2_batch *b, mc2_err *err)
{
    if (b->schema->ncols != x->root->schema->ncols)
        return mc2_err_set(err, MC2_E_USAGE, "result batch has the wrong number of columns");
    mc2_batch_clear(b);
    while (b->nrows < b->cap) {
        if (!x->pending || x->pending_off >= x->pending->n) {
            if (x->done) break;
            sx_chunk *c;
            int r = sx_pull(x->root, &c, err);
            if (r < 0) return -1;
            if (r == 0) {
                x->done = true;
                break;
            }
            x->pending = c;
            x->pending_off = 0;
        }
        size_t m = x->pending->n - x->pending_off;
        if (m > b->cap - b->nrows) m = b->cap - b->nrows;
        if (copy_out(x, x->pending, x->pending_off, m, b, err)) return -1;
        x->pending_off += m;
        b->nrows += m;
    }
    return b->nrows > 0;
}

/* Appends rows [0, src->nrows) of src to dst (same schema, room checked by the caller). */
static int batch_append(mc2_batch *dst, const mc2_batch *src, mc2_err *err)
{
    const mc2_schema *s = dst->schema;
    size_t at = dst->nrows, m = src->nrows;
    for (size_t k = 0; k < s->ncols; k++) {
        mc2_col *d = &dst->cols[k];
        const mc2_col *c = &src->cols[k];
        if (d->nulls) {
            if (c->nulls)
                memcpy(d->nulls + at, c->nulls, m);
            else
                memset(d->nulls + at, 0, m);
        }
        if (s->cols[k].type.id == MC2_T_VARCHAR) {
            size_t tot = c->off[m];
            if (mc2_batch_reserve_chars(dst, k, tot, err)) return -1;
            uint32_t base = d->off[at];
            if ((uint64_t)base + tot > UINT32_MAX)
                return mc2_err_set(err, MC2_E_LIMIT, "result too large for one batch");
            if (tot) memcpy(d->data + base, c->data, tot);
            for (size_t i = 1; i <= m; i++) d->off[at + i] = base + c->off[i];
        } else {
            size_t w = sx_width(s->cols[k].type.id);
            memcpy(d->v.b + at * w, c->v.b, m * w);
        }
    }
    dst->nrows += m;
    return 0;
}

int mc2_exec_collect(mc2_exec *x, size_t max_rows, mc2_batch **out, mc2_err *err)
{
    *out = NULL;
    mc2_batch *b = mc2_batch_new(x->root->schema, 1024, err);
    mc2_batch *tmp = mc2_batch_new(x->root->schema, x->cap, err);
    if (!b || !tmp) goto fail;
    for (;;) {
        int r = mc2_exec_next(x, tmp, err);
        if (r < 0) goto fail;
        if (r == 0) break;
        if (b->nrows + tmp->nrows > max_rows) {
            mc2_err_set(err, MC2_E_LIMIT, "the result has more than %zu rows", max_rows);
            goto fail;
        }
        if (b->nrows + tmp->nrows > b->cap) {
            size_t nc = b->cap * 2;
            while (nc < b->nrows + tmp->nrows) nc *= 2;
            mc2_batch *nb = mc2_batch_new(x->root->schema, nc, err);
            if (!nb) goto fail;
            if (batch_append(nb, b, err)) {
                mc2_batch_free(nb);
                goto fail;
            }
            mc2_batch_free(b);
            b = nb;
        }
        if (batch_append(b, tmp, err)) goto fail;
    }
    mc2_batch_free(tmp);
    *out = b;
    return 0;
fail:
    mc2_batch_free(tmp);
    mc2_batch_free(b);
    return -1;
}

void mc2_exec_get_stats(const mc2_exec *x, mc2_exec_stats *st)
{
    *st = x->stats;
    for (size_t i = 0; i < x->nops; i++) { /* the scans' own (workers share the primaries') */
        const op_scan *s = (const op_scan *)x->ops[i];
        uint64_t skipped;
        if (x->ops[i]->next != scan_next || !s->scan || s->shared) continue;
        mc2_tscan_counts(s->scan, NULL, NULL, &skipped);
        if (s->in->ranged) { /* other ranks' blocks are not skipped by statistics */
            uint64_t others = mc2_tsrc_header(s->in->src)->block_count - s->in->nblocks;
            skipped = skipped > others ? skipped - others : 0;
        }
        st->blocks_skipped += skipped;
    }
}

void mc2_exec_free(mc2_exec *x)
{
    if (!x) return;
    for (size_t i = x->nops; i-- > 0;)
        if (x->ops[i]->close) x->ops[i]->close(x->ops[i]);
    mc2_aead_free(x->spill_aead);
    mc2_arena_free(&x->arena);
    mc2_free(x);
}
