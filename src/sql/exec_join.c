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

typedef struct op_join {
    sx_op op;
    sx_op *left, *right;
    const mc2_pnode *n;
    mc2_schema pair_schema; /* left ++ right */
    sx_rows rows;           /* the build side */
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
    size_t heldbytes;
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
    if (!(j->bkeys = mc2_malloc(kcap))) {
        sx_keys_free(&k);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
    }
    j->bkcap = kcap;
    sx_mem_add(x, kcap);
    j->heldbytes += kcap;
    for (;;) {
        sx_chunk *c;
        int r = sx_pull(j->right, &c, err);
        if (r < 0) goto out;
        if (r == 0) break;
        size_t base = j->rows.n;
        if (sx_rows_append(x, &j->rows, c, NULL, c->n, err)) goto out;
        if (sx_keys_encode(x, &k, c, rks, nk, true, err)) goto out;
        if (j->rows.n > hcap) {
            size_t nc = hcap ? hcap : 1024;
            while (nc < j->rows.n) nc *= 2;
            uint64_t *h = mc2_realloc(j->bhash, nc * sizeof *h);
            if (h) j->bhash = h;
            size_t *o = mc2_realloc(j->bkoff, nc * sizeof *o);
            if (o) j->bkoff = o;
            uint32_t *l = mc2_realloc(j->bklen, nc * sizeof *l);
            if (l) j->bklen = l;
            if (!h || !o || !l) {
                mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
                goto out;
            }
            sx_mem_add(x, (nc - hcap) * 20);
            j->heldbytes += (nc - hcap) * 20;
            hcap = nc;
        }
        size_t need = 0;
        for (size_t i = 0; i < c->n; i++) need += k.len[i];
        if (kbytes + need > kcap) {
            size_t nc = kcap ? kcap : 4096;
            while (nc < kbytes + need) nc *= 2;
            uint8_t *d = mc2_realloc(j->bkeys, nc);
            if (!d) {
                mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
                goto out;
            }
            j->bkeys = d;
            j->bkcap = nc;
            sx_mem_add(x, nc - kcap);
            j->heldbytes += nc - kcap;
            kcap = nc;
        }
        for (size_t i = 0; i < c->n; i++) {
            size_t r2 = base + i;
            j->bhash[r2] = k.anynull[i] ? 0 : k.hash[i];
            j->bkoff[r2] = kbytes;
            j->bklen[r2] = k.anynull[i] ? NONE : k.len[i];
            if (k.anynull[i]) j->build_has_null = true;
            if (k.len[i]) memcpy(j->bkeys + kbytes, k.data + k.off[i], k.len[i]);
            kbytes += k.len[i];
        }
    }
    size_t nb = j->rows.n;
    size_t ns = 16;
    while (ns < 2 * nb) ns *= 2;
    j->slots = mc2_malloc(ns * sizeof *j->slots);
    j->next = mc2_malloc((nb ? nb : 1) * sizeof *j->next);
    j->bmatched = mc2_calloc(nb ? nb : 1, 1);
    if (!j->slots || !j->next || !j->bmatched) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join of %zu rows", nb);
        goto out;
    }
    sx_mem_add(x, ns * 8 + nb * 5);
    j->heldbytes += ns * 8 + nb * 5;
    memset(j->slots, 0xFF, ns * sizeof *j->slots);
    j->mask = ns - 1;
    for (size_t r = 0; r < nb; r++) {
        j->next[r] = NONE;
        if (j->bklen[r] == NONE) continue;
        size_t s = (size_t)j->bhash[r] & j->mask;
        uint64_t tag = HI(j->bhash[r]);
        for (;;) {
            uint64_t sv = j->slots[s];
            if (sv == SLOT_EMPTY) {
                j->slots[s] = tag | r;
                break;
            }
            uint32_t h = (uint32_t)sv;
            if (HI(sv) == tag && j->bhash[h] == j->bhash[r] && j->bklen[h] == j->bklen[r] &&
                sx_key_eq(j->bkeys + j->bkoff[h], j->bkeys + j->bkoff[r], j->bklen[r])) {
                j->next[r] = h;
                j->slots[s] = tag | r;
                break;
            }
            s = (s + 1) & j->mask;
        }
    }
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
        size_t s = (size_t)h & j->mask;
        uint64_t tag = HI(h);
        for (;;) {
            uint64_t sv = j->slots[s];
            if (sv == SLOT_EMPTY) break;
            uint32_t r = (uint32_t)sv;
            if (HI(sv) == tag && j->bhash[r] == h && j->bklen[r] == len &&
                sx_key_eq(j->bkeys + j->bkoff[r], key, len)) {
                j->heads[i] = r;
                break;
            }
            s = (s + 1) & j->mask;
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
    if (!j->slots && j->phase != J_DONE && join_build(j, err)) return -1;
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
                j->cur = j->next[j->cur];
            }
            if (j->pi >= pn) j->phase = J_UNMATCHED;
            if (m == 0) continue;
            for (size_t k = 0; k < nl; k++)
                sx_vec_gather(n->left->schema.cols[k].type.id, &j->pair->cols[k], 0,
                              &j->pc->cols[k], j->pbuf, m);
            sx_rows_gather(&j->rows, j->bbuf, 0, m, j->pair, nl, 0);
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
                j->bmatched[j->bbuf[q]] = 1;
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
                if (j->rows.n == 0) {
                    for (size_t i = 0; i < pn; i++) j->sel[i] = (uint32_t)i;
                    cnt = pn;
                } else if (!j->build_has_null) {
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
            while (j->bpos < j->rows.n && cnt < x->cap) {
                j->sel[cnt] = (uint32_t)j->bpos;
                cnt += !j->bmatched[j->bpos];
                j->bpos++;
            }
            if (j->bpos >= j->rows.n) j->phase = J_DONE;
            if (cnt == 0) continue;
            for (size_t k = 0; k < nl; k++)
                sx_vec_set_null(n->left->schema.cols[k].type.id, &j->out->cols[k], 0, cnt);
            sx_rows_gather(&j->rows, j->sel, 0, cnt, j->out, nl, 0);
            j->out->n = cnt;
            *out = j->out;
            return 1;
        }
        default:
            return 0;
        }
    }
}

static void join_close(sx_op *o)
{
    op_join *j = (op_join *)o;
    mc2_exec *x = o->x;
    sx_rows_free(x, &j->rows);
    mc2_free(j->bhash);
    mc2_free(j->bkoff);
    mc2_free(j->bklen);
    if (j->bkeys) mc2_free_wipe(j->bkeys, j->bkcap);
    mc2_free(j->next);
    mc2_free(j->slots);
    mc2_free(j->bmatched);
    sx_keys_free(&j->pk);
    sx_ex_free(j->resid);
    sx_mem_sub(x, j->heldbytes);
    j->bhash = NULL;
    j->bkoff = NULL;
    j->bklen = NULL;
    j->bkeys = NULL;
    j->next = NULL;
    j->slots = NULL;
    j->bmatched = NULL;
    j->resid = NULL;
    j->heldbytes = 0;
}

sx_op *sx_op_join(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_join *j = sx_alloc(x, sizeof *j, err);
    if (!j) return NULL;
    j->op.x = x;
    j->n = n;
    j->op.next = join_next;
    j->op.close = join_close;
    size_t nl = n->left->schema.ncols, nr = n->right->schema.ncols;
    j->pair_schema.ncols = nl + nr;
    j->pair_schema.cols = sx_array(x, nl + nr + 1, sizeof(mc2_column_def), err);
    if (!j->pair_schema.cols) return NULL;
    memcpy(j->pair_schema.cols, n->left->schema.cols, nl * sizeof(mc2_column_def));
    memcpy(j->pair_schema.cols + nl, n->right->schema.cols, nr * sizeof(mc2_column_def));
    sx_rows_init(&j->rows, &n->right->schema);
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
    /* build children after our own state so that a failure leaves nothing to close here */
    if (!(j->left = sx_build(x, n->left, err))) return NULL;
    if (!(j->right = sx_build(x, n->right, err))) return NULL;
    return &j->op;
}
