/* sort.c - ORDER BY: rows are materialized with their normalized keys (hash.c: memcmp order
 * is SQL order, DESC and NULLS FIRST/LAST included), sorted by a merge sort on (8-byte key
 * prefix, full key), and emitted. Beyond the memory budget the sorted rows are written as a
 * sealed run and the store is cleared; at the end all runs are merged k-way through a heap.
 * Equal keys keep their input order within memory (the merge sort is stable). */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "sql/exec_int.h"

#define MIN_RUN_ROWS 1024

typedef struct sent {
    uint64_t prefix;
    uint32_t row;
} sent;

typedef struct mrun {
    sx_run run;
    sx_runr rd;
    const uint8_t *rec;
    size_t len;
} mrun;

typedef struct op_sort {
    sx_op op;
    sx_op *child;
    const mc2_pnode *n;
    sx_keyspec *ks;
    sx_keys k;
    sx_rows rows;
    uint8_t *keys;
    size_t *koff;
    uint32_t *klen;
    size_t kbytes, kcap, ecap, held;
    sent *ord, *tmp;
    size_t emit_pos;
    mrun *runs;
    size_t nruns, cruns;
    size_t *heap;
    size_t nheap;
    bool merging, loaded;
    sx_chunk *out;
    sx_heap outheap;
    uint32_t *idx;
} op_sort;

static inline int key_cmp(const op_sort *s, const sent *a, const sent *b)
{
    if (a->prefix != b->prefix) return a->prefix < b->prefix ? -1 : 1;
    uint32_t la = s->klen[a->row], lb = s->klen[b->row];
    uint32_t m = la < lb ? la : lb;
    int c = m > 8 ? memcmp(s->keys + s->koff[a->row] + 8, s->keys + s->koff[b->row] + 8, m - 8) : 0;
    return c ? c : (la > lb) - (la < lb);
}

static void msort(const op_sort *s, sent *a, sent *t, size_t n)
{
    if (n < 24) {
        for (size_t i = 1; i < n; i++) {
            sent v = a[i];
            size_t j = i;
            while (j > 0 && key_cmp(s, &v, &a[j - 1]) < 0) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    msort(s, a, t, h);
    msort(s, a + h, t, n - h);
    if (key_cmp(s, &a[h - 1], &a[h]) <= 0) return;
    memcpy(t, a, h * sizeof *t);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) a[k++] = key_cmp(s, &a[j], &t[i]) < 0 ? a[j++] : t[i++];
    while (i < h) a[k++] = t[i++];
}

static int sort_memory(op_sort *s, mc2_err *err)
{
    size_t n = s->rows.n;
    if (n > s->ecap) {
        mc2_free(s->ord);
        mc2_free(s->tmp);
        s->ord = mc2_malloc(n * sizeof *s->ord);
        s->tmp = mc2_malloc(n * sizeof *s->tmp);
        if (!s->ord || !s->tmp) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for sorting");
        sx_mem_add(s->op.x, (n - s->ecap) * 2 * sizeof(sent));
        s->held += (n - s->ecap) * 2 * sizeof(sent);
        s->ecap = n;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = s->keys + s->koff[i];
        uint64_t p = 0;
        uint32_t l = s->klen[i];
        for (uint32_t b = 0; b < 8; b++) p = p << 8 | (b < l ? k[b] : 0);
        s->ord[i].prefix = p;
        s->ord[i].row = (uint32_t)i;
    }
    msort(s, s->ord, s->tmp, n);
    return 0;
}

static void clear_store(op_sort *s)
{
    sx_rows_free(s->op.x, &s->rows);
    s->kbytes = 0;
}

/* Writes the sorted in-memory rows as one run and clears the store. */
static int write_run(op_sort *s, mc2_err *err)
{
    mc2_exec *x = s->op.x;
    if (sort_memory(s, err)) return -1;
    sx_runw w;
    if (sx_runw_init(x, &w, err)) return -1;
    /* rows go through a one-row chunk view of the store */
    const mc2_schema *sc = s->op.schema;
    size_t nc = sc->ncols;
    sx_vec *cols = mc2_calloc(nc + 1, sizeof *cols);
    if (!cols) {
        sx_runw_free(&w);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    sx_chunk view = {s->rows.n, cols};
    for (size_t c = 0; c < nc; c++) {
        cols[c].nulls = s->rows.nulls[c];
        cols[c].v.p = s->rows.vals[c];
    }
    int rc = 0;
    for (size_t i = 0; i < s->rows.n && !rc; i++) {
        uint32_t r = s->ord[i].row;
        size_t rs = sx_row_size(sc, &view, r);
        uint32_t kl = s->klen[r];
        uint8_t *p = sx_runw_space(x, &w, 4 + (size_t)kl + rs, err);
        if (!p) {
            rc = -1;
            break;
        }
        mc2_le32_put(p, kl);
        memcpy(p + 4, s->keys + s->koff[r], kl);
        sx_row_encode(sc, &view, r, p + 4 + kl);
    }
    mc2_free(cols);
    if (!rc) rc = sx_runw_finish(x, &w, err);
    if (!rc && s->nruns == s->cruns) {
        size_t ncap = s->cruns ? 2 * s->cruns : 16;
        mrun *q = mc2_realloc(s->runs, ncap * sizeof *q);
        if (!q)
            rc = mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        else {
            s->runs = q;
            s->cruns = ncap;
        }
    }
    if (rc) {
        sx_run_drop(x, &w.run);
        sx_runw_free(&w);
        return -1;
    }
    memset(&s->runs[s->nruns], 0, sizeof s->runs[s->nruns]);
    s->runs[s->nruns++].run = w.run;
    memset(&w.run, 0, sizeof w.run);
    sx_runw_free(&w);
    clear_store(s);
    return 0;
}

static int load(op_sort *s, mc2_err *err)
{
    mc2_exec *x = s->op.x;
    const mc2_pnode *n = s->n;
    for (;;) {
        sx_chunk *c;
        int r = sx_pull(s->child, &c, err);
        if (r < 0) return -1;
        if (r == 0) break;
        if (sx_keys_encode(x, &s->k, c, s->ks, n->nsort, false, err)) return -1;
        size_t base = s->rows.n;
        if (sx_rows_append(x, &s->rows, c, NULL, c->n, err)) return -1;
        if (s->rows.cap > 0) {
            size_t *o = mc2_realloc(s->koff, s->rows.cap * sizeof *o);
            if (o) s->koff = o;
            uint32_t *l = mc2_realloc(s->klen, s->rows.cap * sizeof *l);
            if (l) s->klen = l;
            if (!o || !l) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for sorting");
        }
        size_t tot = 0;
        for (size_t i = 0; i < c->n; i++) tot += s->k.len[i];
        if (s->kbytes + tot > s->kcap) {
            size_t nc = s->kcap ? 2 * s->kcap : 65536;
            while (nc < s->kbytes + tot) nc *= 2;
            uint8_t *d = mc2_realloc(s->keys, nc);
            if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for sort keys");
            s->keys = d;
            sx_mem_add(x, nc - s->kcap);
            s->held += nc - s->kcap;
            s->kcap = nc;
        }
        for (size_t i = 0; i < c->n; i++) {
            s->koff[base + i] = s->kbytes;
            s->klen[base + i] = s->k.len[i];
            if (s->k.len[i]) memcpy(s->keys + s->kbytes, s->k.data + s->k.off[i], s->k.len[i]);
            s->kbytes += s->k.len[i];
        }
        if (sx_over_budget(x) && s->rows.n >= MIN_RUN_ROWS && write_run(s, err)) return -1;
    }
    if (s->nruns == 0) return sort_memory(s, err);
    if (s->rows.n && write_run(s, err)) return -1;
    s->merging = true;
    return 0;
}

/* ---- k-way merge ------------------------------------------------------------------------- */

static int rec_cmp(const mrun *a, const mrun *b)
{
    uint32_t la = mc2_le32_get(a->rec), lb = mc2_le32_get(b->rec);
    uint32_t m = la < lb ? la : lb;
    int c = m ? memcmp(a->rec + 4, b->rec + 4, m) : 0;
    return c ? c : (la > lb) - (la < lb);
}

/* Heap order: smaller record first, ties by run index (keeps runs' order: stable). */
static bool hless(const op_sort *s, size_t a, size_t b)
{
    int c = rec_cmp(&s->runs[a], &s->runs[b]);
    return c < 0 || (c == 0 && a < b);
}

static void sift_down(op_sort *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && hless(s, s->heap[l], s->heap[m])) m = l;
        if (r < s->nheap && hless(s, s->heap[r], s->heap[m])) m = r;
        if (m == i) return;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static int advance(op_sort *s, size_t r, mc2_err *err)
{
    mrun *m = &s->runs[r];
    int rc = sx_runr_next(s->op.x, &m->rd, &m->rec, &m->len, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        m->rec = NULL;
        return 0;
    }
    if (m->len < 4 || mc2_le32_get(m->rec) > m->len - 4)
        return mc2_err_set(err, MC2_E_INTERNAL, "spilled sort record malformed");
    return 1;
}

static int merge_start(op_sort *s, mc2_err *err)
{
    s->heap = mc2_malloc(s->nruns * sizeof *s->heap);
    if (!s->heap) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    s->nheap = 0;
    for (size_t r = 0; r < s->nruns; r++) {
        s->runs[r].rd.run = &s->runs[r].run;
        int rc = advance(s, r, err);
        if (rc < 0) return -1;
        if (rc) s->heap[s->nheap++] = r;
    }
    for (size_t i = s->nheap / 2; i-- > 0;) sift_down(s, i);
    return 0;
}

static int merge_next(op_sort *s, sx_chunk **out, mc2_err *err)
{
    mc2_exec *x = s->op.x;
    sx_heap_reset(&s->outheap);
    size_t m = 0;
    while (m < x->cap && s->nheap) {
        size_t r = s->heap[0];
        mrun *mr = &s->runs[r];
        uint32_t kl = mc2_le32_get(mr->rec);
        if (sx_row_decode(s->op.schema, mr->rec + 4 + kl, mr->len - 4 - kl, s->out, m, &s->outheap,
                          err))
            return -1;
        m++;
        int rc = advance(s, r, err);
        if (rc < 0) return -1;
        if (rc == 0) s->heap[0] = s->heap[--s->nheap];
        if (s->nheap) sift_down(s, 0);
    }
    if (m == 0) return 0;
    s->out->n = m;
    *out = s->out;
    return 1;
}

static int sort_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_sort *s = (op_sort *)o;
    mc2_exec *x = o->x;
    if (!s->loaded) {
        s->loaded = true;
        if (load(s, err)) return -1;
        if (s->merging && merge_start(s, err)) return -1;
    }
    if (s->merging) return merge_next(s, out, err);
    size_t n = s->rows.n - s->emit_pos;
    if (n == 0) return 0;
    if (n > x->cap) n = x->cap;
    for (size_t i = 0; i < n; i++) s->idx[i] = s->ord[s->emit_pos + i].row;
    sx_rows_gather(&s->rows, s->idx, 0, n, s->out, 0, 0);
    s->out->n = n;
    s->emit_pos += n;
    *out = s->out;
    return 1;
}

static void sort_close(sx_op *o)
{
    op_sort *s = (op_sort *)o;
    mc2_exec *x = o->x;
    clear_store(s);
    if (s->keys) mc2_free_wipe(s->keys, s->kcap);
    s->keys = NULL;
    mc2_free(s->koff);
    mc2_free(s->klen);
    mc2_free(s->ord);
    mc2_free(s->tmp);
    s->koff = NULL;
    s->klen = NULL;
    s->ord = s->tmp = NULL;
    sx_mem_sub(x, s->held);
    s->held = 0;
    for (size_t r = 0; r < s->nruns; r++) {
        sx_runr_free(&s->runs[r].rd);
        sx_run_drop(x, &s->runs[r].run);
    }
    mc2_free(s->runs);
    s->runs = NULL;
    s->nruns = 0;
    mc2_free(s->heap);
    s->heap = NULL;
    sx_heap_free(&s->outheap);
    sx_keys_free(&s->k);
}

sx_op *sx_op_sort(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_sort *s = sx_alloc(x, sizeof *s, err);
    if (!s) return NULL;
    s->op.x = x;
    s->op.schema = &n->schema;
    s->n = n;
    s->op.next = sort_next;
    s->op.close = sort_close;
    s->ks = sx_array(x, n->nsort + 1, sizeof *s->ks, err);
    if (!s->ks) return NULL;
    for (size_t i = 0; i < n->nsort; i++) {
        s->ks[i].col = n->sort[i].col;
        s->ks[i].type = n->schema.cols[n->sort[i].col].type.id;
        s->ks[i].desc = n->sort[i].desc;
        s->ks[i].nulls_first = n->sort[i].nulls_first;
    }
    sx_rows_init(&s->rows, &n->schema);
    s->out = sx_chunk_new(x, &n->schema, err);
    s->idx = sx_array(x, x->cap, sizeof *s->idx, err);
    if (!s->out || !s->idx || sx_keys_init(x, &s->k, err)) return NULL;
    if (!(s->child = sx_build(x, n->left, err))) return NULL;
    return &s->op;
}
