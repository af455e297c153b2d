/* exec_join.c - hash join (and nested-loop join, as a hash join with no keys): the right
 * child is materialized and indexed by an open-addressing table of chain heads over its
 * normalized keys (rows with a NULL key are never inserted: NULL never matches); the left
 * child streams through in chunks. Candidate pairs are produced a chunk at a time, the
 * residual condition is evaluated vectorized over them, and unmatched rows are emitted per
 * probe chunk (LEFT/FULL/ANTI/SEMI) and at the end (RIGHT/FULL). */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"

#define NONE       UINT32_MAX
#define SLOT_EMPTY UINT64_MAX
#define HI(h)      ((h)&0xFFFFFFFF00000000ull)

enum { J_PROBE, J_PAIRS, J_UNMATCHED, J_RIGHT, J_DONE };

/* The build side: its rows and their hash index. Built once by the join's primary instance;
 * read-only afterwards, so probe instances on other threads share it (bmatched, written by
 * probes, exists only for RIGHT and FULL joins, which are never probed in parallel). */
typedef struct join_table {
    sx_rows rows;
    uint64_t *bhash;
    uint8_t *bkeys; /* key bytes of build rows */
    size_t bkcap;
    size_t *bkoff;
    uint32_t *bklen;
    uint32_t *next;  /* chains */
    uint64_t *slots; /* (high 32 hash bits) << 32 | chain head row; all ones if free */
    size_t mask;
    uint8_t *bmatched;
    bool build_has_null;
    bool built;
    size_t heldbytes;
} join_table;

typedef struct op_join {
    sx_op op;
    sx_op *left, *right;
    const mc2_pnode *n;
    mc2_schema pair_schema; /* left ++ right */
    join_table own;
    join_table *t; /* &own, or the primary instance's (probe instances) */
    sx_keyspec *lks;
    sx_keys pk;
    sx_chunk *pc;
    uint32_t *heads;
    uint8_t *matched;
    size_t pi;
    uint32_t cur;
    int phase;
    size_t bpos;
    uint32_t *pbuf, *bbuf, *sel;
    sx_chunk *pair, *out;
    sx_ex *resid;
} op_join;

static bool need_pairs(const op_join *j)
{
    return j->resid || (j->n->jt != MC2_JOIN_SEMI && j->n->jt != MC2_JOIN_ANTI);
}

static int join_build(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    const mc2_pnode *n = j->n;
    size_t nk = n->nkeys;
    sx_keyspec *rks = sx_array(x, nk + 1, sizeof *rks, err);
    if (!rks) return -1;
    for (size_t i = 0; i < nk; i++) {
        rks[i].col = n->rkeys[i];
        rks[i].type = n->right->schema.cols[n->rkeys[i]].type.id;
    }
    sx_keys k;
    if (sx_keys_init(x, &k, err)) return -1;
    size_t kbytes = 0, kcap = 4096, hcap = 0;
    int rc = -1;
    if (!(j->t->bkeys = mc2_malloc(kcap))) {
        sx_keys_free(&k);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
    }
    j->t->bkcap = kcap;
    sx_mem_add(x, kcap);
    j->t->heldbytes += kcap;
    for (;;) {
        sx_chunk *c;
        int r = sx_pull(j->right, &c, err);
        if (r < 0) goto out;
        if (r == 0) break;
        size_t base = j->t->rows.n;
        if (sx_rows_append(x, &j->t->rows, c, NULL, c->n, err)) goto out;
        if (sx_keys_encode(x, &k, c, rks, nk, true, err)) goto out;
        if (j->t->rows.n > hcap) {
            size_t nc = hcap ? hcap : 1024;
            while (nc < j->t->rows.n) nc *= 2;
            uint64_t *h = mc2_realloc(j->t->bhash, nc * sizeof *h);
            if (h) j->t->bhash = h;
            size_t *o = mc2_realloc(j->t->bkoff, nc * sizeof *o);
            if (o) j->t->bkoff = o;
            uint32_t *l = mc2_realloc(j->t->bklen, nc * sizeof *l);
            if (l) j->t->bklen = l;
            if (!h || !o || !l) {
                mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
                goto out;
            }
            sx_mem_add(x, (nc - hcap) * 20);
            j->t->heldbytes += (nc - hcap) * 20;
            hcap = nc;
        }
        size_t need = 0;
        for (size_t i = 0; i < c->n; i++) need += k.len[i];
        if (kbytes + need > kcap) {
            size_t nc = kcap ? kcap : 4096;
            while (nc < kbytes + need) nc *= 2;
            uint8_t *d = mc2_realloc(j->t->bkeys, nc);
            if (!d) {
                mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
                goto out;
            }
            j->t->bkeys = d;
            j->t->bkcap = nc;
            sx_mem_add(x, nc - kcap);
            j->t->heldbytes += nc - kcap;
            kcap = nc;
        }
        for (size_t i = 0; i < c->n; i++) {
            size_t r2 = base + i;
            j->t->bhash[r2] = k.anynull[i] ? 0 : k.hash[i];
            j->t->bkoff[r2] = kbytes;
            j->t->bklen[r2] = k.anynull[i] ? NONE : k.len[i];
            if (k.anynull[i]) j->t->build_has_null = true;
            if (k.len[i]) memcpy(j->t->bkeys + kbytes, k.data + k.off[i], k.len[i]);
            kbytes += k.len[i];
        }
    }
    size_t nb = j->t->rows.n;
    size_t ns = 16;
    while (ns < 2 * nb) ns *= 2;
    j->t->slots = mc2_malloc(ns * sizeof *j->t->slots);
    j->t->next = mc2_malloc((nb ? nb : 1) * sizeof *j->t->next);
    j->t->bmatched = mc2_calloc(nb ? nb : 1, 1);
    if (!j->t->slots || !j->t->next || !j->t->bmatched) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join of %zu rows", nb);
        goto out;
    }
    sx_mem_add(x, ns * 8 + nb * 5);
    j->t->heldbytes += ns * 8 + nb * 5;
    memset(j->t->slots, 0xFF, ns * sizeof *j->t->slots);
    j->t->mask = ns - 1;
    for (size_t r = 0; r < nb; r++) {
        j->t->next[r] = NONE;
        if (j->t->bklen[r] == NONE) continue;
        size_t s = (size_t)j->t->bhash[r] & j->t->mask;
        uint64_t tag = HI(j->t->bhash[r]);
        for (;;) {
            uint64_t sv = j->t->slots[s];
            if (sv == SLOT_EMPTY) {
                j->t->slots[s] = tag | r;
                break;
            }
            uint32_t h = (uint32_t)sv;
            if (HI(sv) == tag && j->t->bhash[h] == j->t->bhash[r] &&
                j->t->bklen[h] == j->t->bklen[r] &&
                sx_key_eq(j->t->bkeys + j->t->bkoff[h], j->t->bkeys + j->t->bkoff[r],
                          j->t->bklen[r])) {
                j->t->next[r] = h;
                j->t->slots[s] = tag | r;
                break;
            }
            s = (s + 1) & j->t->mask;
        }
    }
    j->t->built = true;
    rc = 0;
out:
    sx_keys_free(&k);
    return rc;
}

static void probe_heads(op_join *j)
{
    const sx_chunk *c = j->pc;
    for (size_t i = 0; i < c->n; i++) {
        j->heads[i] = NONE;
        if (j->pk.anynull[i]) continue;
        uint64_t h = j->pk.hash[i];
        const uint8_t *key = j->pk.data + j->pk.off[i];
        uint32_t len = j->pk.len[i];
        size_t s = (size_t)h & j->t->mask;
        uint64_t tag = HI(h);
        for (;;) {
            uint64_t sv = j->t->slots[s];
            if (sv == SLOT_EMPTY) break;
            uint32_t r = (uint32_t)sv;
            if (HI(sv) == tag && j->t->bhash[r] == h && j->t->bklen[r] == len &&
                sx_key_eq(j->t->bkeys + j->t->bkoff[r], key, len)) {
                j->heads[i] = r;
                break;
            }
            s = (s + 1) & j->t->mask;
        }
    }
}

static int join_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_join *j = (op_join *)o;
    mc2_exec *x = o->x;
    const mc2_pnode *n = j->n;
    size_t nl = n->left->schema.ncols, nr = n->right->schema.ncols;
    enum mc2_join_type jt = n->jt;
    if (!j->t->built && j->phase != J_DONE && join_build(j, err)) return -1;
    for (;;) {
        switch (j->phase) {
        case J_PROBE: {
            int r = sx_pull(j->left, &j->pc, err);
            if (r < 0) return -1;
            if (r == 0) {
                j->phase = (jt == MC2_JOIN_RIGHT || jt == MC2_JOIN_FULL) ? J_RIGHT : J_DONE;
                continue;
            }
            if (sx_keys_encode(x, &j->pk, j->pc, j->lks, n->nkeys, true, err)) return -1;
            probe_heads(j);
            memset(j->matched, 0, j->pc->n);
            j->pi = 0;
            j->cur = j->pc->n ? j->heads[0] : NONE;
            j->phase = J_PAIRS;
            continue;
        }
        case J_PAIRS: {
            size_t pn = j->pc->n;
            if (!need_pairs(j)) {
                for (size_t i = 0; i < pn; i++) j->matched[i] = j->heads[i] != NONE;
                j->phase = J_UNMATCHED;
                continue;
            }
            size_t m = 0;
            while (j->pi < pn && m < x->cap) {
                if (j->cur == NONE) {
                    j->pi++;
                    j->cur = j->pi < pn ? j->heads[j->pi] : NONE;
                    continue;
                }
                j->pbuf[m] = (uint32_t)j->pi;
                j->bbuf[m] = j->cur;
                m++;
                j->cur = j->t->next[j->cur];
            }
            if (j->pi >= pn) j->phase = J_UNMATCHED;
            if (m == 0) continue;
            for (size_t k = 0; k < nl; k++)
                sx_vec_gather(n->left->schema.cols[k].type.id, &j->pair->cols[k], 0,
                              &j->pc->cols[k], j->pbuf, m);
            sx_rows_gather(&j->t->rows, j->bbuf, 0, m, j->pair, nl, 0);
            j->pair->n = m;
            size_t cnt = m;
            const uint32_t *sel = NULL;
            if (j->resid) {
                sx_vec *v;
                if (sx_ex_eval(j->resid, j->pair, &v, err)) return -1;
                cnt = sx_select_true(v, m, j->sel);
                sel = j->sel;
            }
            for (size_t i = 0; i < cnt; i++) {
                uint32_t q = sel ? sel[i] : (uint32_t)i;
                j->matched[j->pbuf[q]] = 1;
                if (jt == MC2_JOIN_RIGHT || jt == MC2_JOIN_FULL) j->t->bmatched[j->bbuf[q]] = 1;
            }
            if (jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI || cnt == 0) {
                if (mc2_intr_check(err)) return -1; /* a long run of unmatched pairs */
                continue;
            }
            if (!sel) {
                *out = j->pair;
                return 1;
            }
            for (size_t k = 0; k < nl + nr; k++)
                sx_vec_gather(j->pair_schema.cols[k].type.id, &j->out->cols[k], 0,
                              &j->pair->cols[k], sel, cnt);
            j->out->n = cnt;
            *out = j->out;
            return 1;
        }
        case J_UNMATCHED: {
            j->phase = J_PROBE;
            size_t pn = j->pc->n, cnt = 0;
            if (jt == MC2_JOIN_INNER || jt == MC2_JOIN_RIGHT) continue;
            if (jt == MC2_JOIN_SEMI) {
                for (size_t i = 0; i < pn; i++) {
                    j->sel[cnt] = (uint32_t)i;
                    cnt += j->matched[i];
                }
            } else if (jt == MC2_JOIN_ANTI && n->null_aware) {
                if (j->t->rows.n == 0) {
                    for (size_t i = 0; i < pn; i++) j->sel[i] = (uint32_t)i;
                    cnt = pn;
                } else if (!j->t->build_has_null) {
                    for (size_t i = 0; i < pn; i++) {
                        j->sel[cnt] = (uint32_t)i;
                        cnt += !j->matched[i] && !j->pk.anynull[i];
                    }
                }
            } else {
                for (size_t i = 0; i < pn; i++) {
                    j->sel[cnt] = (uint32_t)i;
                    cnt += !j->matched[i];
                }
            }
            if (cnt == 0) continue;
            for (size_t k = 0; k < nl; k++)
                sx_vec_gather(n->left->schema.cols[k].type.id, &j->out->cols[k], 0, &j->pc->cols[k],
                              j->sel, cnt);
            if (jt == MC2_JOIN_LEFT || jt == MC2_JOIN_FULL)
                for (size_t k = 0; k < nr; k++)
                    sx_vec_set_null(n->right->schema.cols[k].type.id, &j->out->cols[nl + k], 0,
                                    cnt);
            j->out->n = cnt;
            *out = j->out;
            return 1;
        }
        case J_RIGHT: {
            size_t cnt = 0;
            while (j->bpos < j->t->rows.n && cnt < x->cap) {
                j->sel[cnt] = (uint32_t)j->bpos;
                cnt += !j->t->bmatched[j->bpos];
                j->bpos++;
            }
            if (j->bpos >= j->t->rows.n) j->phase = J_DONE;
            if (cnt == 0) continue;
            for (size_t k = 0; k < nl; k++)
                sx_vec_set_null(n->left->schema.cols[k].type.id, &j->out->cols[k], 0, cnt);
            sx_rows_gather(&j->t->rows, j->sel, 0, cnt, j->out, nl, 0);
            j->out->n = cnt;
            *out = j->out;
            return 1;
        }
        default:
            return 0;
        }
    }
}

static void table_free(mc2_exec *x, join_table *t)
{
    sx_rows_free(x, &t->rows);
    mc2_free(t->bhash);
    mc2_free(t->bkoff);
    mc2_free(t->bklen);
    if (t->bkeys) mc2_free_wipe(t->bkeys, t->bkcap);
    mc2_free(t->next);
    mc2_free(t->slots);
    mc2_free(t->bmatched);
    sx_mem_sub(x, t->heldbytes);
    const mc2_schema *rs = t->rows.s;
    memset(t, 0, sizeof *t);
    t->rows.s = rs;
}

static void join_close(sx_op *o)
{
    op_join *j = (op_join *)o;
    if (j->t == &j->own) table_free(o->x, &j->own);
    sx_keys_free(&j->pk);
    sx_ex_free(j->resid);
    j->resid = NULL;
}

/* Builds the table (once) and prepares the probe side, before probe instances run on other
 * threads (sx_op.prepare). */
static int join_prepare(sx_op *o, mc2_err *err)
{
    op_join *j = (op_join *)o;
    if (!j->t->built && join_build(j, err)) return -1;
    return sx_prepare(j->left, err);
}

/* The state every instance has: the pair schema, probe keys, chunk buffers, the residual. */
static op_join *join_new(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_join *j = sx_alloc(x, sizeof *j, err);
    if (!j) return NULL;
    memset(j, 0, sizeof *j);
    j->op.x = x;
    j->n = n;
    j->op.next = join_next;
    j->op.close = join_close;
    j->op.prepare = join_prepare;
    j->t = &j->own;
    size_t nl = n->left->schema.ncols, nr = n->right->schema.ncols;
    j->pair_schema.ncols = nl + nr;
    j->pair_schema.cols = sx_array(x, nl + nr + 1, sizeof(mc2_column_def), err);
    if (!j->pair_schema.cols) return NULL;
    memcpy(j->pair_schema.cols, n->left->schema.cols, nl * sizeof(mc2_column_def));
    memcpy(j->pair_schema.cols + nl, n->right->schema.cols, nr * sizeof(mc2_column_def));
    sx_rows_init(&j->own.rows, &n->right->schema);
    j->lks = sx_array(x, n->nkeys + 1, sizeof *j->lks, err);
    if (!j->lks) return NULL;
    for (size_t i = 0; i < n->nkeys; i++) {
        j->lks[i].col = n->lkeys[i];
        j->lks[i].type = n->left->schema.cols[n->lkeys[i]].type.id;
    }
    if (sx_keys_init(x, &j->pk, err)) return NULL;
    j->heads = sx_array(x, x->cap, sizeof *j->heads, err);
    j->matched = sx_alloc(x, x->cap, err);
    j->pbuf = sx_array(x, x->cap, sizeof *j->pbuf, err);
    j->bbuf = sx_array(x, x->cap, sizeof *j->bbuf, err);
    j->sel = sx_array(x, x->cap, sizeof *j->sel, err);
    j->pair = sx_chunk_new(x, &j->pair_schema, err);
    j->out = sx_chunk_new(x, &j->pair_schema, err);
    if (!j->heads || !j->matched || !j->pbuf || !j->bbuf || !j->sel || !j->pair || !j->out)
        return NULL;
    if (n->nexprs && !(j->resid = sx_ex_new(x, n->exprs[0], err))) return NULL;
    return j;
}

sx_op *sx_op_join_probe(mc2_exec *x, const mc2_pnode *n, sx_op *primary, mc2_err *err)
{
    op_join *j = join_new(x, n, err);
    if (!j) return NULL;
    j->t = ((op_join *)primary)->t;
    if (!j->t->built) MC2_PANIC("sx_op_join_probe: the primary's table is not built");
    if (!(j->left = sx_build(x, n->left, err))) return NULL;
    return &j->op;
}

sx_op *sx_op_join(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_join *j = join_new(x, n, err);
    if (!j) return NULL;
    /* build children after our own state so that a failure leaves nothing to close here; the
     * build side is its own pipeline (it may run in parallel itself), the probe side may be
     * part of the segment this join is in */
    if (!(j->left = sx_build(x, n->left, err))) return NULL;
    bool seg = x->in_segment;
    x->in_segment = false;
    j->right = sx_build(x, n->right, err);
    x->in_segment = seg;
    return j->right ? &j->op : NULL;
}
