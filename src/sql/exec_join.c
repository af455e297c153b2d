/* exec_join.c - hash join (and nested-loop join, as a hash join with no keys): the right
 * child is materialized and indexed by an open-addressing table of chain heads over its
 * normalized keys (rows with a NULL key are never inserted: NULL never matches); the left
 * child streams through in chunks. Candidate pairs are produced a chunk at a time, the
 * residual condition is evaluated vectorized over them, and unmatched rows are emitted per
 * probe chunk (LEFT/FULL/ANTI/SEMI) and at the end (RIGHT/FULL: by the last of the probe
 * instances to end, when several threads probe).
 *
 * Grace hash join: when the build side does not fit the executor's memory budget (and the
 * join has keys and a spill store), the rows held so far and every later build row go, as
 * sealed runs, to NPART partitions by bits of their key hash; then every probe row goes to
 * the partition its key hash names (a NULL key hashes to 0: it matches nothing anyway); then
 * each partition is joined on its own: its build rows loaded and indexed, its probe rows
 * streamed through (RIGHT/FULL emit the partition's unmatched build rows after it). A
 * partition that still does not fit is partitioned again with the next hash bits (at most
 * MAX_LEVEL levels; beyond, it is joined in memory whatever the budget says). Matching rows
 * always share a partition, so each partition's result is exactly its share of the join's.
 * A spilled join runs on one thread (its prepare says so to the exchange above it).
 *
 * Building the outer side (mc2_pn_join_set_build_outer; SEMI and ANTI only, "rsemi" below):
 * the roles swap. The table holds the LEFT child's rows (bs, rks), the right child's rows
 * probe it (ps, lks) through "mark" instances, which set bmatched for every build row a
 * probe row matches (keys equal, residual TRUE for that pair) and output nothing. The join's
 * own operator builds the table, drains the marking pipeline (an exchange over several mark
 * instances when the probe side is a parallel pipeline: marks are idempotent, set with
 * relaxed atomic stores, and read after every instance ended), then emits the marked (SEMI)
 * or unmarked (ANTI) build rows in build order. NOT IN (null_aware) needs two facts of the
 * probe side, gl_rows (any row) and gl_null (a NULL key), gathered by the mark instances.
 * When the table spills, the single mark instance sends the probe rows to the partitions
 * instead, and each partition is built, marked with its probe rows and emitted in turn. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"

#define NONE           UINT32_MAX
#define SLOT_EMPTY     UINT64_MAX
#define HI(h)          ((h)&0xFFFFFFFF00000000ull)
#define PREFETCH       16   /* rows ahead whose hash slot is loaded early */
#define SMALL_SLOTS    8192 /* a table this many slots or fewer is given 4x (table_index) */
#define NPART          16
#define MAX_LEVEL      7    /* partition bits 32 + 4 * level .. 35 + 4 * level: up to bit 63 */
#define MIN_SPILL_ROWS 1024 /* a table of fewer rows is never spilled */

enum { J_PROBE, J_PAIRS, J_UNMATCHED, J_RIGHT, J_DONE, J_SPILL_PROBE, J_NEXT_PART };

/* The build side: its rows and their hash index. Built once by the join's primary instance
 * (its rows possibly gathered by several threads: "parallel build"); read-only afterwards, so
 * probe instances on other threads share it, except bmatched (see mark_set). */
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
    size_t kbytes, hcap; /* bkeys used; rows bhash/bkoff/bklen have room for */
} join_table;

/* Marks are bytes of bmatched that probe instances on several threads may set at once (a
 * RIGHT or FULL join's probes, a semi join's mark instances): they are written and, while
 * probing, read with relaxed atomic operations (the GCC/Clang __atomic builtins, C11's relaxed
 * atomics on plain bytes). They are read as a whole only after every instance has ended: a
 * RIGHT/FULL join's last instance to finish probing sees the others' marks through the
 * acquire-release decrement of `probers`; an rsemi join reads them after the exchange
 * reported every instance ended (under its mutex, which orders the writes before). */
static inline void mark_set(uint8_t *m)
{
    __atomic_store_n(m, 1, __ATOMIC_RELAXED);
}

static inline bool mark_get(const uint8_t *m)
{
    return __atomic_load_n(m, __ATOMIC_RELAXED) != 0;
}

/* A pending partition of a spilled join: its build and probe rows, sealed in the spill store. */
typedef struct jpart {
    sx_run b, p;
    int level;
} jpart;

typedef struct jsink jsink;

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
    bool built_once; /* the first build happened (or this instance shares a built table) */
    /* the whole build side (every partition): what NOT IN needs */
    uint64_t gl_rows;
    bool gl_null;
    /* grace hash join */
    sx_keyspec *rks;
    sx_keys bk;        /* build keys of a chunk */
    bool spilled;      /* the join works partition by partition */
    bool partitioning; /* build rows are going to bw[] */
    int level;         /* of the partitioning in progress, or of cur */
    sx_runw bw[NPART], pw[NPART];
    bool bw_open, pw_open;
    jpart *stack;
    size_t nstack, cstack;
    jpart part; /* the partition being joined */
    bool have_cur;
    sx_runr rd; /* the run being read: a build run while loading, then cur.p */
    const sx_run *rd_run;
    sx_chunk *bchunk, *pchunk; /* decoded build / probe rows */
    sx_heap bheap, pheap;
    /* the build and probe sides' schemas: right and left, or (rsemi) left and right */
    const mc2_schema *bs, *ps;
    struct op_join *prim; /* rsemi: the join's own operator (the table, marks and facts) */
    bool rs_stop;         /* rsemi, on prim: an instance failed or the join closes */
    jsink *sink;          /* the build child's instances gather the rows (parallel build) */
    /* RIGHT and FULL: the primary instance (owner) counts the instances still probing; the
     * last one to end emits the build rows no instance matched */
    struct op_join *owner;
    unsigned probers;
} op_join;

static bool need_pairs(const op_join *j)
{
    return j->resid || (j->n->jt != MC2_JOIN_SEMI && j->n->jt != MC2_JOIN_ANTI);
}

/* ---- the in-memory table ----------------------------------------------------------------- */

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

static int nomem(mc2_err *err)
{
    return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join");
}

/* Makes room in the per-row arrays for rows more rows and in bkeys for kneed more bytes. */
static int table_grow(mc2_exec *x, join_table *t, size_t rows, size_t kneed, mc2_err *err)
{
    if (t->rows.n + rows > t->hcap) {
        size_t nc = t->hcap ? t->hcap : 1024;
        while (nc < t->rows.n + rows) nc *= 2;
        uint64_t *h = mc2_realloc(t->bhash, nc * sizeof *h);
        if (h) t->bhash = h;
        size_t *o = h ? mc2_realloc(t->bkoff, nc * sizeof *o) : NULL;
        if (o) t->bkoff = o;
        uint32_t *l = o ? mc2_realloc(t->bklen, nc * sizeof *l) : NULL;
        if (!l) return nomem(err);
        t->bklen = l;
        sx_mem_add(x, (nc - t->hcap) * 20);
        t->heldbytes += (nc - t->hcap) * 20;
        t->hcap = nc;
    }
    if (t->kbytes + kneed > t->bkcap) {
        size_t nc = t->bkcap ? t->bkcap : 4096;
        while (nc < t->kbytes + kneed) nc *= 2;
        uint8_t *d = mc2_realloc(t->bkeys, nc);
        if (!d) return nomem(err);
        t->bkeys = d;
        sx_mem_add(x, nc - t->bkcap);
        t->heldbytes += nc - t->bkcap;
        t->bkcap = nc;
    }
    return 0;
}

/* Appends the rows of chunk c, whose keys k encoded, to the table. */
static int table_add(mc2_exec *x, join_table *t, const sx_chunk *c, const sx_keys *k, mc2_err *err)
{
    size_t need = 0, base = t->rows.n;
    for (size_t i = 0; i < c->n; i++) need += k->len[i];
    if (table_grow(x, t, c->n, need, err) || sx_rows_append(x, &t->rows, c, NULL, c->n, err))
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        size_t r = base + i;
        t->bhash[r] = k->anynull[i] ? 0 : k->hash[i];
        t->bkoff[r] = t->kbytes;
        t->bklen[r] = k->anynull[i] ? NONE : k->len[i];
        if (k->anynull[i]) t->build_has_null = true;
        if (k->len[i]) memcpy(t->bkeys + t->kbytes, k->data + k->off[i], k->len[i]);
        t->kbytes += k->len[i];
    }
    return 0;
}

/* Builds the hash index over the table's rows: equal keys chain from one slot. */
static int table_index(mc2_exec *x, join_table *t, mc2_err *err)
{
    size_t nb = t->rows.n, ns = 16;
    while (ns < 2 * nb) ns *= 2;
    /* A small table (up to 4096 rows) gets four times the slots, at most 256 KiB: a
     * selective join's probes mostly miss, and a miss at load 1/8 mostly ends at its first
     * slot, where at load 1/2 it walks a cluster on an unpredictable branch (TPC-H Q17's
     * 6M LINEITEM rows against 2,000 parts). The order of the rows is unchanged. */
    if (ns <= SMALL_SLOTS) ns *= 4;
    t->slots = mc2_malloc(ns * sizeof *t->slots);
    t->next = mc2_malloc((nb ? nb : 1) * sizeof *t->next);
    t->bmatched = mc2_calloc(nb ? nb : 1, 1);
    if (!t->slots || !t->next || !t->bmatched)
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a join of %zu rows", nb);
    sx_mem_add(x, ns * 8 + nb * 5);
    t->heldbytes += ns * 8 + nb * 5;
    memset(t->slots, 0xFF, ns * sizeof *t->slots);
    t->mask = ns - 1;
    for (size_t r = 0; r < nb; r++) {
        t->next[r] = NONE;
        if (r + PREFETCH < nb) __builtin_prefetch(&t->slots[t->bhash[r + PREFETCH] & t->mask], 1);
        if (t->bklen[r] == NONE) continue;
        size_t s = (size_t)t->bhash[r] & t->mask;
        uint64_t tag = HI(t->bhash[r]);
        for (;;) {
            uint64_t sv = t->slots[s];
            if (sv == SLOT_EMPTY) {
                t->slots[s] = tag | r;
                break;
            }
            uint32_t h = (uint32_t)sv;
            if (HI(sv) == tag && t->bklen[h] == t->bklen[r] &&
                sx_key_eq(t->bkeys + t->bkoff[h], t->bkeys + t->bkoff[r], t->bklen[r])) {
                t->next[r] = h;
                t->slots[s] = tag | r;
                break;
            }
            s = (s + 1) & t->mask;
        }
    }
    t->built = true;
    return 0;
}

/* ---- partitions (grace hash join) --------------------------------------------------------- */

static unsigned part_of(uint64_t hash, int level)
{
    return (unsigned)(hash >> (32 + 4 * level)) & (NPART - 1);
}

/* Opens the NPART writers w (on failure, none is left open). */
static int writers_open(mc2_exec *x, sx_runw *w, mc2_err *err)
{
    for (unsigned p = 0; p < NPART; p++)
        if (sx_runw_init(x, &w[p], err)) {
            while (p-- > 0) sx_runw_free(&w[p]);
            return -1;
        }
    return 0;
}

/* Appends rows sel (NULL: all) of c, a chunk of schema s, to the partitions their hashes
 * (at level) name. */
static int part_write(mc2_exec *x, sx_runw *w, const mc2_schema *s, const sx_chunk *c,
                      const sx_keys *k, int level, mc2_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        uint64_t h = k->anynull[i] ? 0 : k->hash[i];
        size_t sz = sx_row_size(s, c, i);
        uint8_t *q = sx_runw_space(x, &w[part_of(h, level)], sz, err);
        if (!q) return -1;
        sx_row_encode(s, c, i, q);
    }
    return 0;
}

/* Starts partitioning at j->level: the table's rows go to bw[] (by their stored hashes), the
 * table is freed; build rows that follow go to bw[] too. */
static int spill_table(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    join_table *t = j->t;
    if (writers_open(x, j->bw, err)) return -1;
    j->bw_open = true;
    j->partitioning = true;
    sx_chunk *c = j->bchunk;
    for (size_t from = 0; from < t->rows.n; from += x->cap) {
        size_t m = t->rows.n - from < x->cap ? t->rows.n - from : x->cap;
        sx_rows_gather(&t->rows, NULL, from, m, c, 0, 0);
        c->n = m;
        for (size_t i = 0; i < m; i++) {
            size_t sz = sx_row_size(j->bs, c, i);
            uint8_t *q = sx_runw_space(x, &j->bw[part_of(t->bhash[from + i], j->level)], sz, err);
            if (!q) return -1;
            sx_row_encode(j->bs, c, i, q);
        }
    }
    table_free(x, t);
    return 0;
}

/* Finishes writers w into runs (the writers are freed; runs[p] owns the blocks). */
static int writers_finish(mc2_exec *x, sx_runw *w, sx_run *runs, mc2_err *err)
{
    int rc = 0;
    for (unsigned p = 0; p < NPART; p++) {
        if (rc == 0 && sx_runw_finish(x, &w[p], err)) rc = -1;
        runs[p] = w[p].run;
        memset(&w[p].run, 0, sizeof w[p].run);
        sx_runw_free(&w[p]);
    }
    return rc;
}

/* Decodes up to a chunk of rows of the run being read into c (schema s). 1, 0 at its end. */
static int run_chunk(op_join *j, const mc2_schema *s, sx_chunk *c, sx_heap *heap, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    sx_heap_reset(heap);
    size_t m = 0;
    while (m < x->cap) {
        const uint8_t *p;
        size_t n;
        int r = sx_runr_next(x, &j->rd, &p, &n, err);
        if (r < 0) return -1;
        if (r == 0) break;
        if (sx_row_decode(s, p, n, c, m, heap, err)) return -1;
        m++;
    }
    c->n = m;
    return m > 0;
}

static void reader_open(op_join *j, const sx_run *run)
{
    sx_runr_free(&j->rd);
    memset(&j->rd, 0, sizeof j->rd);
    j->rd.run = run;
    j->rd_run = run;
}

/* ---- parallel build -----------------------------------------------------------------------
 * When the build child is an exchange (a parallel pipeline), its instances gather the table's
 * rows themselves, each on its own thread (sx_par_set_sink): an instance encodes a chunk's
 * keys and appends its rows and keys to its own store (a join_table without an index), noting
 * runs of rows ("pieces") by the block they derive from. When the exchange has ended, the
 * join's thread concatenates the pieces in block order -- the order one thread would append
 * them in -- into the table (the stores' string heaps move to the table as they are, the rest
 * is copied) and indexes it: the table is the one a single thread builds, row for row.
 * Memory: every store counts its bytes in its own accounting executor and all of them in
 * sink.bytes; when x->mem at the start plus those bytes passes the budget (and the join could
 * spill: a spill store, keys, at least MIN_SPILL_ROWS rows), every later chunk is declined.
 * The first declined chunk reaching the join makes it close the stores (each under its lock:
 * no instance appends to a closed store) and merge them; it then builds serially from the
 * declined chunks, and spills as usual. In ordered mode (x->ordered) with a spill store the
 * build stays serial: the ordered exchange keeps block order through a spill. */

typedef struct jpiece {
    uint64_t block;
    unsigned store;
    uint32_t from, n; /* the store's rows from .. from + n */
} jpiece;

typedef struct jstore {
    pthread_mutex_t mu; /* held while an instance appends, and to close the store */
    bool closed;
    mc2_exec acct; /* counts the store's bytes: only its mem and stats fields are used */
    join_table t;
    sx_keys k;
    jpiece *pc;
    size_t npc, cpc;
    uint64_t rows; /* NOT IN's facts of the rows it got */
    bool null;
    size_t kbase; /* merging: where its key bytes start in the table's */
} jstore;

struct jsink {
    op_join *j;
    jstore *st;
    unsigned nst;
    size_t base;    /* x->mem when the build started */
    size_t bytes;   /* held by the stores (atomic) */
    uint64_t rows;  /* in the stores (atomic) */
    bool declining; /* (atomic) */
    bool merged;
};

/* Appends chunk c of block `block` to store s (its lock held). */
static int store_add(op_join *j, jstore *s, uint64_t block, const sx_chunk *c, mc2_err *err)
{
    jsink *k = j->sink;
    const mc2_exec *x = j->op.x;
    if (c->n == 0) return 0;
    if (sx_keys_encode(j->op.x, &s->k, c, j->rks, j->n->nkeys, true, err)) return -1;
    size_t before = s->acct.mem, from = s->t.rows.n;
    if (table_add(&s->acct, &s->t, c, &s->k, err)) return -1;
    for (size_t i = 0; i < c->n; i++) s->null |= s->k.anynull[i] != 0;
    s->rows += c->n;
    if (s->npc && s->pc[s->npc - 1].block == block) {
        s->pc[s->npc - 1].n += (uint32_t)c->n;
    } else {
        if (s->npc == s->cpc) {
            size_t nc = s->cpc ? 2 * s->cpc : 64;
            jpiece *np = mc2_realloc(s->pc, nc * sizeof *np);
            if (!np) return nomem(err);
            s->pc = np;
            s->cpc = nc;
        }
        s->pc[s->npc++] = (jpiece){block, (unsigned)(s - k->st), (uint32_t)from, (uint32_t)c->n};
    }
    size_t tot = __atomic_add_fetch(&k->bytes, s->acct.mem - before, __ATOMIC_RELAXED);
    uint64_t rows = __atomic_add_fetch(&k->rows, c->n, __ATOMIC_RELAXED);
    if (x->spill && j->n->nkeys > 0 && k->base + tot > x->budget && rows >= MIN_SPILL_ROWS)
        __atomic_store_n(&k->declining, true, __ATOMIC_RELAXED);
    return 0;
}

/* The exchange's sink (sx_sink_fn): instance inst's chunk c goes to store inst, unless the
 * stores are over the budget or closed. */
static int sink_rows(void *ctx, unsigned inst, uint64_t block, const sx_chunk *c, mc2_err *err)
{
    jsink *k = ctx;
    if (inst >= k->nst) MC2_PANIC("join sink: an instance without a store");
    if (__atomic_load_n(&k->declining, __ATOMIC_RELAXED)) return 1;
    jstore *s = &k->st[inst];
    pthread_mutex_lock(&s->mu);
    int rc = s->closed ? 1 : store_add(k->j, s, block, c, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sink_free(op_join *j)
{
    jsink *k = j->sink;
    if (!k) return;
    for (unsigned i = 0; i < k->nst; i++) {
        jstore *s = &k->st[i];
        table_free(&s->acct, &s->t);
        sx_keys_free(&s->k);
        mc2_free(s->pc);
        pthread_mutex_destroy(&s->mu);
    }
    mc2_free(k->st);
    mc2_free(k);
    j->sink = NULL;
}

/* Makes the build child, an exchange not started yet, gather the table's rows in parallel. */
static int sink_open(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    jsink *k = mc2_calloc(1, sizeof *k);
    jstore *st = k ? mc2_calloc(x->threads, sizeof *st) : NULL;
    if (!st) {
        mc2_free(k);
        return nomem(err);
    }
    k->j = j;
    k->st = st;
    k->base = x->mem;
    for (unsigned i = 0; i < x->threads; i++) {
        pthread_mutex_init(&st[i].mu, NULL);
        sx_rows_init(&st[i].t.rows, j->bs);
        k->nst = i + 1;
        if (sx_keys_init(x, &st[i].k, err)) break;
    }
    j->sink = k;
    if (k->nst < x->threads) return -1;
    if (!sx_par_set_sink(j->right, sink_rows, k)) MC2_PANIC("join sink: not a fresh exchange");
    return 0;
}

static int piece_cmp(const void *a, const void *b)
{
    const jpiece *p = a, *q = b;
    if (p->block != q->block) return p->block < q->block ? -1 : 1;
    return p->store < q->store ? -1 : p->store > q->store;
}

/* Copies store s's piece p to the end of table t. */
static void piece_copy(join_table *t, const jstore *s, const jpiece *p)
{
    const mc2_schema *sc = t->rows.s;
    size_t dst = t->rows.n, from = p->from, n = p->n;
    for (size_t c = 0; c < sc->ncols; c++) {
        size_t w = sx_width(sc->cols[c].type.id);
        memcpy((char *)t->rows.vals[c] + dst * w, (const char *)s->t.rows.vals[c] + from * w,
               n * w);
        memcpy(t->rows.nulls[c] + dst, s->t.rows.nulls[c] + from, n);
    }
    memcpy(t->bhash + dst, s->t.bhash + from, n * sizeof *t->bhash);
    memcpy(t->bklen + dst, s->t.bklen + from, n * sizeof *t->bklen);
    for (size_t r = 0; r < n; r++) t->bkoff[dst + r] = s->kbase + s->t.bkoff[from + r];
    t->rows.n += n;
}

/* Closes the stores and moves their rows to the table (empty so far), in block order. */
static int sink_merge(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    jsink *k = j->sink;
    join_table *t = j->t;
    size_t npc = 0, rows = 0, kb = 0, held = 0;
    k->merged = true;
    for (unsigned i = 0; i < k->nst; i++) {
        jstore *s = &k->st[i];
        pthread_mutex_lock(&s->mu);
        s->closed = true;
        pthread_mutex_unlock(&s->mu);
        npc += s->npc;
        rows += s->t.rows.n;
        kb += s->t.kbytes;
        held += s->acct.mem;
    }
    if (k->nst > 1) x->stats.parallel_builds++;
    sx_mem_add(x, held); /* the stores and the table exist at once for a while */
    jpiece *all = mc2_malloc((npc ? npc : 1) * sizeof *all);
    int rc = all ? 0 : nomem(err);
    if (rc == 0) rc = table_grow(x, t, rows, kb, err);
    if (rc == 0) rc = sx_rows_reserve(x, &t->rows, rows, err);
    if (rc == 0) {
        size_t m = 0;
        for (unsigned i = 0; i < k->nst; i++) {
            jstore *s = &k->st[i];
            if (s->npc) memcpy(all + m, s->pc, s->npc * sizeof *all);
            m += s->npc;
            s->kbase = t->kbytes;
            if (s->t.kbytes) memcpy(t->bkeys + t->kbytes, s->t.bkeys, s->t.kbytes);
            t->kbytes += s->t.kbytes;
        }
        qsort(all, npc, sizeof *all, piece_cmp);
        for (size_t p = 0; p < npc; p++) piece_copy(t, &k->st[all[p].store], &all[p]);
        for (unsigned i = 0; i < k->nst; i++) {
            jstore *s = &k->st[i];
            size_t hb = s->t.rows.heap.bytes;
            sx_heap_take(&t->rows.heap, &s->t.rows.heap);
            s->t.rows.bytes -= hb;
            t->rows.bytes += hb;
            sx_mem_add(x, hb);
            held -= hb;
            t->build_has_null |= s->t.build_has_null;
            if (!j->n->build_outer) {
                j->gl_rows += s->rows;
                j->gl_null |= s->null;
            }
            table_free(&s->acct, &s->t);
        }
    }
    mc2_free(all);
    sx_mem_sub(x, held);
    return rc;
}

/* ---- building ----------------------------------------------------------------------------- */

/* The next build chunk: from the right child, or (loading a partition) from its run. */
static int build_pull(op_join *j, bool from_run, sx_chunk **c, mc2_err *err)
{
    if (!from_run) return sx_pull(j->right, c, err);
    *c = j->bchunk;
    return run_chunk(j, j->bs, j->bchunk, &j->bheap, err);
}

/* Whether the table should go to partitions now. */
static bool should_spill(const op_join *j)
{
    const mc2_exec *x = j->op.x;
    return x->spill && j->n->nkeys > 0 && j->level <= MAX_LEVEL && j->t->rows.n >= MIN_SPILL_ROWS &&
           sx_over_budget(x);
}

/* Builds the table from the right child (from_run false: the first build; it also counts the
 * whole build side for NOT IN) or from the build run being read. If it does not fit, the
 * rows end up in partitions at j->level (j->partitioning, the runs in bruns) instead. */
static int build(op_join *j, bool from_run, sx_run *bruns, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    if (!from_run && j->right->exchange && !(x->ordered && x->spill) && x->threads > 1 &&
        sink_open(j, err))
        return -1;
    for (;;) {
        sx_chunk *c;
        int r = build_pull(j, from_run, &c, err);
        if (r < 0) return -1;
        if (r == 0) break;
        if (j->sink && !j->sink->merged && sink_merge(j, err)) return -1; /* c was declined */
        if (sx_keys_encode(x, &j->bk, c, j->rks, j->n->nkeys, true, err)) return -1;
        if (!from_run && !j->n->build_outer) {
            j->gl_rows += c->n;
            for (size_t i = 0; i < c->n; i++) j->gl_null |= j->bk.anynull[i] != 0;
        }
        if (j->partitioning) {
            if (part_write(x, j->bw, j->bs, c, &j->bk, j->level, err)) return -1;
            continue;
        }
        if (table_add(x, j->t, c, &j->bk, err)) return -1;
        if (should_spill(j) && spill_table(j, err)) return -1;
    }
    if (j->sink && !j->sink->merged) {
        if (sink_merge(j, err)) return -1;
        if (should_spill(j) && spill_table(j, err)) return -1;
    }
    if (j->partitioning) return writers_finish(x, j->bw, bruns, err);
    return table_index(x, j->t, err);
}

/* Sends every row of the probe side (the left child, or the run being read) to pw[] at
 * j->level, then finishes them into pruns. */
static int partition_probe(op_join *j, bool from_run, sx_run *pruns, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    const mc2_schema *ls = j->ps;
    if (writers_open(x, j->pw, err)) return -1;
    j->pw_open = true;
    for (;;) {
        sx_chunk *c = j->pchunk;
        int r = from_run ? run_chunk(j, ls, c, &j->pheap, err) : sx_pull(j->left, &c, err);
        if (r < 0) return -1;
        if (r == 0) break;
        if (sx_keys_encode(x, &j->pk, c, j->lks, j->n->nkeys, true, err) ||
            part_write(x, j->pw, ls, c, &j->pk, j->level, err))
            return -1;
    }
    j->pw_open = false;
    return writers_finish(x, j->pw, pruns, err);
}

/* Queues the partitions (bruns[p], pruns[p]) at level; a pair with no probe rows, or with no
 * build rows where unmatched probe rows are not wanted, is dropped at once. */
static int push_parts(op_join *j, sx_run *bruns, sx_run *pruns, int level, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    enum mc2_join_type jt = j->n->jt;
    bool rs = j->n->build_outer;
    bool keep_unmatched_probe =
        !rs && (jt == MC2_JOIN_LEFT || jt == MC2_JOIN_FULL || jt == MC2_JOIN_ANTI);
    bool keep_unmatched_build =
        jt == MC2_JOIN_RIGHT || jt == MC2_JOIN_FULL || (rs && jt == MC2_JOIN_ANTI);
    for (unsigned p = 0; p < NPART; p++) {
        bool useful = (bruns[p].rows && pruns[p].rows) || (bruns[p].rows && keep_unmatched_build) ||
                      (pruns[p].rows && keep_unmatched_probe);
        if (!useful) {
            sx_run_drop(x, &bruns[p]);
            sx_run_drop(x, &pruns[p]);
            continue;
        }
        if (j->nstack == j->cstack) {
            size_t nc = j->cstack ? 2 * j->cstack : 32;
            jpart *ns = mc2_realloc(j->stack, nc * sizeof *ns);
            if (!ns) return nomem(err);
            j->stack = ns;
            j->cstack = nc;
        }
        j->stack[j->nstack++] = (jpart){bruns[p], pruns[p], level};
        memset(&bruns[p], 0, sizeof bruns[p]);
        memset(&pruns[p], 0, sizeof pruns[p]);
    }
    return 0;
}

/* After the first build spilled: partitions the whole probe side, queues the pairs. */
static int spill_probe(op_join *j, sx_run *bruns, mc2_err *err)
{
    sx_run pruns[NPART];
    memset(pruns, 0, sizeof pruns);
    int rc = partition_probe(j, false, pruns, err) || push_parts(j, bruns, pruns, 0, err) ? -1 : 0;
    for (unsigned p = 0; p < NPART; p++) {
        sx_run_drop(j->op.x, &bruns[p]);
        sx_run_drop(j->op.x, &pruns[p]);
    }
    return rc;
}

/* Takes the next partition: loads its build rows (partitioning them again, with its probe
 * rows, if they do not fit) until one is indexed and its probe run open. 0 when none is left. */
static int next_part(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    for (;;) {
        if (j->have_cur) {
            sx_runr_free(&j->rd);
            sx_run_drop(x, &j->part.b);
            sx_run_drop(x, &j->part.p);
            j->have_cur = false;
        }
        table_free(x, j->t);
        if (j->nstack == 0) return 0;
        j->part = j->stack[--j->nstack];
        j->have_cur = true;
        j->level = j->part.level + 1; /* if this one spills, its pieces are one level down */
        j->partitioning = false;
        sx_run bruns[NPART], pruns[NPART];
        memset(bruns, 0, sizeof bruns);
        memset(pruns, 0, sizeof pruns);
        reader_open(j, &j->part.b);
        int rc = build(j, true, bruns, err);
        if (rc == 0 && !j->partitioning) { /* it fits: probe it */
            reader_open(j, &j->part.p);
            return 1;
        }
        if (rc == 0) {
            reader_open(j, &j->part.p);
            rc = partition_probe(j, true, pruns, err) || push_parts(j, bruns, pruns, j->level, err)
                     ? -1
                     : 0;
        }
        for (unsigned p = 0; p < NPART; p++) {
            sx_run_drop(x, &bruns[p]);
            sx_run_drop(x, &pruns[p]);
        }
        if (rc) return -1;
    }
}

/* The first build: the table, or (it did not fit) partitions, after which the probe side is
 * partitioned too and the join goes partition by partition. */
static int join_build(op_join *j, mc2_err *err)
{
    sx_run bruns[NPART];
    memset(bruns, 0, sizeof bruns);
    j->level = 0;
    j->built_once = true;
    if (build(j, false, bruns, err)) return -1;
    if (!j->partitioning) return 0;
    j->spilled = true;
    j->op.x->stats.spilled_joins++;
    j->phase = J_SPILL_PROBE;
    j->bw_open = false;
    if (spill_probe(j, bruns, err)) return -1;
    j->phase = J_NEXT_PART;
    return 0;
}

/* ---- probing ------------------------------------------------------------------------------ */

static void probe_heads(op_join *j)
{
    const join_table *t = j->t;
    /* locals: the stores to heads could otherwise alias every field, reloaded per row */
    const uint64_t *restrict hash = j->pk.hash, *restrict slots = t->slots;
    const uint8_t *restrict anynull = j->pk.anynull, *restrict pkd = j->pk.data,
                            *restrict bkeys = t->bkeys;
    const uint32_t *restrict pko = j->pk.off, *restrict pkl = j->pk.len, *restrict bklen = t->bklen;
    const size_t *restrict bkoff = t->bkoff;
    uint32_t *restrict heads = j->heads;
    const size_t mask = t->mask, n = j->pc->n;
    /* A table far larger than the caches: load the slot of a row PREFETCH rows ahead, and the
     * key of the candidate half as far ahead (its slot is loaded by now). A small one (up to
     * 4 * SMALL_SLOTS slots, 256 KiB) stays in the caches without. */
    const bool ahead = mask >= 4 * SMALL_SLOTS;
    for (size_t i = 0; i < n; i++) {
        if (ahead) {
            if (i + PREFETCH < n) __builtin_prefetch(&slots[hash[i + PREFETCH] & mask]);
            if (i + PREFETCH / 2 < n) {
                uint64_t sv = slots[hash[i + PREFETCH / 2] & mask];
                if (sv != SLOT_EMPTY) {
                    __builtin_prefetch(&bkoff[(uint32_t)sv]);
                    __builtin_prefetch(&bklen[(uint32_t)sv]);
                }
            }
        }
        heads[i] = NONE;
        if (anynull[i]) continue;
        uint64_t h = hash[i];
        const uint8_t *key = pkd + pko[i];
        uint32_t len = pkl[i];
        size_t s = (size_t)h & mask;
        uint64_t tag = HI(h);
        for (;;) {
            uint64_t sv = slots[s];
            if (sv == SLOT_EMPTY) break;
            uint32_t r = (uint32_t)sv;
            if (HI(sv) == tag && bklen[r] == len && sx_key_eq(bkeys + bkoff[r], key, len)) {
                heads[i] = r;
                break;
            }
            s = (s + 1) & mask;
        }
    }
}

/* The next probe chunk: from the left child, or the current partition's probe run. */
static int probe_pull(op_join *j, mc2_err *err)
{
    if (!j->spilled) return sx_pull(j->left, &j->pc, err);
    j->pc = j->pchunk;
    return run_chunk(j, &j->n->left->schema, j->pchunk, &j->pheap, err);
}

/* Candidate pairs of the probe chunk, a chunk at a time; *out gets matches. 1: a chunk, 0: go
 * on with the next phase. */
static int pairs(op_join *j, sx_chunk **out, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    const mc2_pnode *n = j->n;
    size_t nl = n->left->schema.ncols, nr = n->right->schema.ncols, pn = j->pc->n;
    enum mc2_join_type jt = n->jt;
    if (!need_pairs(j)) {
        for (size_t i = 0; i < pn; i++) j->matched[i] = j->heads[i] != NONE;
        j->phase = J_UNMATCHED;
        return 0;
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
    if (m == 0) return 0;
    for (size_t k = 0; k < nl; k++)
        sx_vec_gather(n->left->schema.cols[k].type.id, &j->pair->cols[k], 0, &j->pc->cols[k],
                      j->pbuf, m);
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
        if ((jt == MC2_JOIN_RIGHT || jt == MC2_JOIN_FULL) && !mark_get(&j->t->bmatched[j->bbuf[q]]))
            mark_set(&j->t->bmatched[j->bbuf[q]]);
    }
    if (jt == MC2_JOIN_SEMI || jt == MC2_JOIN_ANTI || cnt == 0)
        return mc2_intr_check(err) ? -1 : 0; /* a long run of unmatched pairs */
    if (!sel) {
        *out = j->pair;
        return 1;
    }
    for (size_t k = 0; k < nl + nr; k++)
        sx_vec_gather(j->pair_schema.cols[k].type.id, &j->out->cols[k], 0, &j->pair->cols[k], sel,
                      cnt);
    j->out->n = cnt;
    *out = j->out;
    return 1;
}

/* The probe chunk's rows that the join type emits without a match. */
static int unmatched(op_join *j, sx_chunk **out)
{
    const mc2_pnode *n = j->n;
    size_t nl = n->left->schema.ncols, nr = n->right->schema.ncols, pn = j->pc->n, cnt = 0;
    enum mc2_join_type jt = n->jt;
    j->phase = J_PROBE;
    if (jt == MC2_JOIN_INNER || jt == MC2_JOIN_RIGHT) return 0;
    if (jt == MC2_JOIN_SEMI) {
        for (size_t i = 0; i < pn; i++) {
            j->sel[cnt] = (uint32_t)i;
            cnt += j->matched[i];
        }
    } else if (jt == MC2_JOIN_ANTI && n->null_aware) {
        if (j->gl_rows == 0) {
            for (size_t i = 0; i < pn; i++) j->sel[i] = (uint32_t)i;
            cnt = pn;
        } else if (!j->gl_null) {
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
    if (cnt == 0) return 0;
    for (size_t k = 0; k < nl; k++)
        sx_vec_gather(n->left->schema.cols[k].type.id, &j->out->cols[k], 0, &j->pc->cols[k], j->sel,
                      cnt);
    if (jt == MC2_JOIN_LEFT || jt == MC2_JOIN_FULL)
        for (size_t k = 0; k < nr; k++)
            sx_vec_set_null(n->right->schema.cols[k].type.id, &j->out->cols[nl + k], 0, cnt);
    j->out->n = cnt;
    *out = j->out;
    return 1;
}

/* The table's rows no probe row matched (RIGHT, FULL). */
static int unmatched_build(op_join *j, sx_chunk **out)
{
    mc2_exec *x = j->op.x;
    const mc2_pnode *n = j->n;
    size_t nl = n->left->schema.ncols, cnt = 0;
    while (j->bpos < j->t->rows.n && cnt < x->cap) {
        j->sel[cnt] = (uint32_t)j->bpos;
        cnt += !j->t->bmatched[j->bpos];
        j->bpos++;
    }
    if (j->bpos >= j->t->rows.n) j->phase = j->spilled ? J_NEXT_PART : J_DONE;
    if (cnt == 0) return 0;
    for (size_t k = 0; k < nl; k++)
        sx_vec_set_null(n->left->schema.cols[k].type.id, &j->out->cols[k], 0, cnt);
    sx_rows_gather(&j->t->rows, j->sel, 0, cnt, j->out, nl, 0);
    j->out->n = cnt;
    *out = j->out;
    return 1;
}

static int join_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_join *j = (op_join *)o;
    mc2_exec *x = o->x;
    const mc2_pnode *n = j->n;
    enum mc2_join_type jt = n->jt;
    if (!j->built_once && join_build(j, err)) return -1;
    for (;;) {
        int r;
        switch (j->phase) {
        case J_NEXT_PART:
            r = next_part(j, err);
            if (r < 0) return -1;
            j->phase = r ? J_PROBE : J_DONE;
            j->bpos = 0;
            continue;
        case J_PROBE:
            r = probe_pull(j, err);
            if (r < 0) return -1;
            if (r == 0) {
                /* RIGHT/FULL in memory: only the last instance to end emits the unmatched
                 * build rows (after it, every instance's marks are visible) */
                bool right = jt == MC2_JOIN_RIGHT || jt == MC2_JOIN_FULL;
                if (right && !j->spilled &&
                    __atomic_sub_fetch(&j->owner->probers, 1, __ATOMIC_ACQ_REL) != 0)
                    right = false;
                j->phase = right ? J_RIGHT : j->spilled ? J_NEXT_PART : J_DONE;
                continue;
            }
            if (sx_keys_encode(x, &j->pk, j->pc, j->lks, n->nkeys, true, err)) return -1;
            probe_heads(j);
            memset(j->matched, 0, j->pc->n);
            j->pi = 0;
            j->cur = j->pc->n ? j->heads[0] : NONE;
            j->phase = J_PAIRS;
            continue;
        case J_PAIRS:
            r = pairs(j, out, err);
            if (r) return r;
            continue;
        case J_UNMATCHED:
            if (unmatched(j, out)) return 1;
            continue;
        case J_RIGHT:
            if (unmatched_build(j, out)) return 1;
            continue;
        default:
            return 0;
        }
    }
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void join_close(sx_op *o)
{
    op_join *j = (op_join *)o;
    mc2_exec *x = o->x;
    if (j->sink) { /* the build child's instances may still be appending to the stores */
        sx_par_stop(j->right);
        sink_free(j);
    }
    if (j->t == &j->own) table_free(x, &j->own);
    for (unsigned p = 0; p < NPART; p++) {
        if (j->bw_open) {
            sx_run_drop(x, &j->bw[p].run);
            sx_runw_free(&j->bw[p]);
        }
        if (j->pw_open) {
            sx_run_drop(x, &j->pw[p].run);
            sx_runw_free(&j->pw[p]);
        }
    }
    j->bw_open = j->pw_open = false;
    for (size_t i = 0; i < j->nstack; i++) {
        sx_run_drop(x, &j->stack[i].b);
        sx_run_drop(x, &j->stack[i].p);
    }
    mc2_free(j->stack);
    j->stack = NULL;
    j->nstack = 0;
    if (j->have_cur) {
        sx_run_drop(x, &j->part.b);
        sx_run_drop(x, &j->part.p);
        j->have_cur = false;
    }
    sx_runr_free(&j->rd);
    sx_heap_free(&j->bheap);
    sx_heap_free(&j->pheap);
    sx_keys_free(&j->pk);
    sx_keys_free(&j->bk);
    sx_ex_free(j->resid);
    j->resid = NULL;
}

/* Builds the table (once) and prepares the probe side, before probe instances run on other
 * threads (sx_op.prepare). A join that spilled works through its partitions on one thread:
 * it returns 1 then, so the exchange above runs it alone. */
static int join_prepare(sx_op *o, mc2_err *err)
{
    op_join *j = (op_join *)o;
    if (!j->built_once && join_build(j, err)) return -1;
    int r = sx_prepare(j->left, err);
    return r < 0 ? -1 : j->spilled ? 1 : r;
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
    /* lks: the probe side's keys, rks: the build side's (swapped when building the outer) */
    bool rs = n->build_outer;
    j->bs = rs ? &n->left->schema : &n->right->schema;
    j->ps = rs ? &n->right->schema : &n->left->schema;
    const unsigned *pkeys = rs ? n->rkeys : n->lkeys, *bkeys = rs ? n->lkeys : n->rkeys;
    sx_rows_init(&j->own.rows, j->bs);
    j->lks = sx_array(x, n->nkeys + 1, sizeof *j->lks, err);
    j->rks = sx_array(x, n->nkeys + 1, sizeof *j->rks, err);
    if (!j->lks || !j->rks) return NULL;
    for (size_t i = 0; i < n->nkeys; i++) {
        j->lks[i].col = pkeys[i];
        j->lks[i].type = j->ps->cols[pkeys[i]].type.id;
        j->rks[i].col = bkeys[i];
        j->rks[i].type = j->bs->cols[bkeys[i]].type.id;
    }
    if (sx_keys_init(x, &j->pk, err) || sx_keys_init(x, &j->bk, err)) return NULL;
    j->heads = sx_array(x, x->cap, sizeof *j->heads, err);
    j->matched = sx_alloc(x, x->cap, err);
    j->pbuf = sx_array(x, x->cap, sizeof *j->pbuf, err);
    j->bbuf = sx_array(x, x->cap, sizeof *j->bbuf, err);
    j->sel = sx_array(x, x->cap, sizeof *j->sel, err);
    j->pair = sx_chunk_new(x, &j->pair_schema, err);
    j->out = sx_chunk_new(x, &j->pair_schema, err);
    j->bchunk = sx_chunk_new(x, j->bs, err);
    j->pchunk = sx_chunk_new(x, j->ps, err);
    if (!j->heads || !j->matched || !j->pbuf || !j->bbuf || !j->sel || !j->pair || !j->out ||
        !j->bchunk || !j->pchunk)
        return NULL;
    if (n->nexprs && !(j->resid = sx_ex_new(x, n->exprs[0], err))) return NULL;
    return j;
}

/* ---- building the outer side (rsemi) ------------------------------------------------------
 * (marks: see mark_set) */

/* Marks the build rows that rows of probe chunk c (keys encoded in m->pk) match. Marked rows
 * are skipped: without a residual a chain (all rows of one key) is marked whole, so a marked
 * head means a marked chain; with one, the pairs of unmarked rows are evaluated a chunk at a
 * time. */
static int mark_rows(op_join *m, sx_chunk *c, mc2_err *err)
{
    mc2_exec *x = m->op.x;
    join_table *t = m->t;
    m->pc = c;
    probe_heads(m);
    if (!m->resid) {
        for (size_t i = 0; i < c->n; i++) {
            uint32_t r = m->heads[i];
            if (r == NONE || mark_get(&t->bmatched[r])) continue;
            for (; r != NONE; r = t->next[r]) mark_set(&t->bmatched[r]);
        }
        return 0;
    }
    size_t nl = m->n->left->schema.ncols, i = 0;
    uint32_t cur = c->n ? m->heads[0] : NONE;
    while (i < c->n) {
        size_t k = 0;
        while (i < c->n && k < x->cap) {
            if (cur == NONE) {
                i++;
                cur = i < c->n ? m->heads[i] : NONE;
                continue;
            }
            if (!mark_get(&t->bmatched[cur])) {
                m->pbuf[k] = (uint32_t)i;
                m->bbuf[k++] = cur;
            }
            cur = t->next[cur];
        }
        if (k == 0) continue;
        sx_rows_gather(&t->rows, m->bbuf, 0, k, m->pair, 0, 0);
        for (size_t col = 0; col < m->ps->ncols; col++)
            sx_vec_gather(m->ps->cols[col].type.id, &m->pair->cols[nl + col], 0, &c->cols[col],
                          m->pbuf, k);
        m->pair->n = k;
        sx_vec *v;
        if (sx_ex_eval(m->resid, m->pair, &v, err)) return -1;
        size_t cnt = sx_select_true(v, k, m->sel);
        for (size_t q = 0; q < cnt; q++) mark_set(&t->bmatched[m->bbuf[m->sel[q]]]);
        if (mc2_intr_check(err)) return -1; /* a long run of pairs */
    }
    return 0;
}

/* A mark instance: pulls its probe pipeline to the end, marking every chunk (in the first
 * pass of a spilled join: sending it to the probe partitions). Outputs no rows. Stops early
 * when another instance failed or the join closes. */
static int mark_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    (void)out;
    op_join *m = (op_join *)o, *pr = m->prim;
    mc2_exec *x = o->x;
    const mc2_pnode *n = m->n;
    for (;;) {
        if (__atomic_load_n(&pr->rs_stop, __ATOMIC_RELAXED)) return 0;
        sx_chunk *c;
        int r = sx_pull(m->left, &c, err);
        if (r == 0) return 0;
        if (r < 0 || sx_keys_encode(x, &m->pk, c, m->lks, n->nkeys, true, err)) break;
        if (n->null_aware && c->n) { /* NOT IN: the probe side has rows, NULL keys */
            bool null = false;
            for (size_t i = 0; i < c->n; i++) null |= m->pk.anynull[i] != 0;
            __atomic_store_n(&pr->gl_rows, 1, __ATOMIC_RELAXED);
            if (null) __atomic_store_n(&pr->gl_null, true, __ATOMIC_RELAXED);
        }
        if (pr->phase == J_SPILL_PROBE ? part_write(x, pr->pw, m->ps, c, &m->pk, pr->level, err)
                                       : mark_rows(m, c, err))
            break;
    }
    __atomic_store_n(&pr->rs_stop, true, __ATOMIC_RELAXED);
    return -1;
}

/* Prepares the probe pipeline; a join whose table spilled marks on one thread (returns 1). */
static int mark_prepare(sx_op *o, mc2_err *err)
{
    op_join *m = (op_join *)o;
    int r = sx_prepare(m->left, err);
    return r < 0 ? -1 : m->prim->spilled ? 1 : r;
}

/* The first pass: the table from the outer side (or its partitions, if it does not fit),
 * then the whole probe side through the marking pipeline (or into the probe partitions). */
static int rsemi_start(op_join *j, mc2_err *err)
{
    mc2_exec *x = j->op.x;
    sx_run bruns[NPART], pruns[NPART];
    memset(bruns, 0, sizeof bruns);
    memset(pruns, 0, sizeof pruns);
    j->level = 0;
    j->built_once = true;
    int rc = build(j, false, bruns, err);
    if (rc == 0 && j->partitioning) {
        j->spilled = true;
        x->stats.spilled_joins++;
        j->bw_open = false;
        j->phase = J_SPILL_PROBE;
        rc = writers_open(x, j->pw, err);
        j->pw_open = rc == 0;
    }
    /* an empty outer side outputs nothing, whatever the probe side holds */
    bool skip = rc == 0 && !j->spilled && j->t->rows.n == 0;
    while (rc == 0 && !skip) {
        sx_chunk *c;
        int r = sx_pull(j->left, &c, err); /* mark instances output no rows */
        if (r <= 0) rc = r;
        if (r == 0) break;
    }
    if (rc == 0 && j->spilled) {
        j->pw_open = false;
        rc = writers_finish(x, j->pw, pruns, err) || push_parts(j, bruns, pruns, 0, err) ? -1 : 0;
    }
    for (unsigned p = 0; p < NPART; p++) {
        sx_run_drop(x, &bruns[p]);
        sx_run_drop(x, &pruns[p]);
    }
    j->phase = j->spilled ? J_NEXT_PART : J_RIGHT;
    j->bpos = 0;
    return rc;
}

/* The build rows the join outputs, a chunk at a time: the marked ones (SEMI), the unmarked
 * ones (ANTI), or by NOT IN's rules (null_aware: every row if the probe side is empty, none
 * if it has a NULL key, else the unmarked rows whose key is not NULL). */
static int rsemi_emit(op_join *j, sx_chunk **out)
{
    mc2_exec *x = j->op.x;
    const join_table *t = j->t;
    bool semi = j->n->jt == MC2_JOIN_SEMI, na = j->n->null_aware;
    bool all = na && !j->gl_rows, none = na && j->gl_rows && j->gl_null;
    size_t cnt = 0;
    while (j->bpos < t->rows.n && cnt < x->cap) {
        size_t r = j->bpos++;
        bool keep = semi ? t->bmatched[r] : !t->bmatched[r] && (!na || t->bklen[r] != NONE);
        j->sel[cnt] = (uint32_t)r;
        cnt += all || (keep && !none);
    }
    if (j->bpos >= t->rows.n) j->phase = j->spilled ? J_NEXT_PART : J_DONE;
    if (cnt == 0) return 0;
    sx_rows_gather(&t->rows, j->sel, 0, cnt, j->out, 0, 0);
    j->out->n = cnt;
    *out = j->out;
    return 1;
}

static int rsemi_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_join *j = (op_join *)o;
    mc2_exec *x = o->x;
    if (!j->built_once && rsemi_start(j, err)) return -1;
    for (;;) {
        int r;
        switch (j->phase) {
        case J_NEXT_PART: /* a partition: its table, marked by its probe rows, then emitted */
            r = next_part(j, err);
            if (r < 0) return -1;
            if (r == 0) {
                j->phase = J_DONE;
                continue;
            }
            while ((r = run_chunk(j, j->ps, j->pchunk, &j->pheap, err)) > 0)
                if (sx_keys_encode(x, &j->pk, j->pchunk, j->lks, j->n->nkeys, true, err) ||
                    mark_rows(j, j->pchunk, err))
                    return -1;
            if (r < 0) return -1;
            j->phase = J_RIGHT;
            j->bpos = 0;
            continue;
        case J_RIGHT:
            if (rsemi_emit(j, out)) return 1;
            continue;
        default:
            return 0;
        }
    }
}

/* Closes the join's own operator: its probe instances on other threads end first (the
 * exchange below closes after this operator, but they read the table this frees). */
static void rsemi_close(sx_op *o)
{
    op_join *j = (op_join *)o;
    __atomic_store_n(&j->rs_stop, true, __ATOMIC_RELAXED);
    if (j->left) sx_par_stop(j->left);
    join_close(o);
}

/* A mark instance of rsemi join n whose own operator is prim (its table built later). */
static op_join *mark_new(mc2_exec *x, const mc2_pnode *n, op_join *prim, mc2_err *err)
{
    op_join *m = join_new(x, n, err);
    if (!m) return NULL;
    m->op.next = mark_next;
    m->op.prepare = mark_prepare;
    m->op.x = x;
    m->op.node = n;
    m->op.schema = &n->schema;
    m->prim = prim;
    m->t = prim->t;
    m->built_once = true;
    return m;
}

/* The join's own operator (j from join_new): the outer side is its build child, the marking
 * pipeline its probe child: one mark instance over the right child, or, when that is a
 * parallel pipeline, an exchange whose instances are mark instances (rsemi_worker). */
static sx_op *rsemi_init(mc2_exec *x, op_join *j, mc2_err *err)
{
    const mc2_pnode *n = j->n;
    j->op.next = rsemi_next;
    j->op.close = rsemi_close;
    j->op.prepare = NULL; /* it outputs at the end: never in a parallel pipeline */
    j->prim = j;
    bool seg = x->in_segment;
    x->in_segment = false;
    j->right = sx_build(x, n->left, err);
    bool par = sx_par_qualifies(x, n->right);
    op_join *m = j->right ? mark_new(x, n, j, err) : NULL;
    if (m) {
        x->in_segment = par;
        m->left = sx_build(x, n->right, err);
        x->in_segment = false;
    }
    if (m && m->left && sx_register(x, &m->op, err) == 0) {
        j->left = par ? sx_op_par_over(x, n, &m->op, err) : &m->op;
        if (par && j->left && sx_register(x, j->left, err)) j->left = NULL;
    }
    x->in_segment = seg;
    return j->left ? &j->op : NULL;
}

/* A worker's mark instance of rsemi join n (primary: the main executor's operator for n, the
 * join's own or its first mark instance). */
static sx_op *rsemi_worker(mc2_exec *x, const mc2_pnode *n, sx_op *primary, mc2_err *err)
{
    op_join *pr = primary ? ((op_join *)primary)->prim : NULL;
    if (!pr || !pr->t->built || pr->spilled)
        MC2_PANIC("rsemi_worker: the join's table is not built");
    op_join *m = mark_new(x, n, pr, err);
    if (!m || !(m->left = sx_build(x, n->right, err))) return NULL;
    return &m->op;
}

sx_op *sx_op_join_probe(mc2_exec *x, const mc2_pnode *n, sx_op *primary, mc2_err *err)
{
    if (n->build_outer) return rsemi_worker(x, n, primary, err);
    op_join *j = join_new(x, n, err);
    if (!j) return NULL;
    op_join *pr = (op_join *)primary;
    j->t = pr->t;
    j->built_once = true;
    j->gl_rows = pr->gl_rows;
    j->gl_null = pr->gl_null;
    j->owner = pr;
    __atomic_add_fetch(&pr->probers, 1, __ATOMIC_RELAXED);
    if (!j->t->built || pr->spilled)
        MC2_PANIC("sx_op_join_probe: the primary's table is not built");
    if (!(j->left = sx_build(x, n->left, err))) return NULL;
    return &j->op;
}

sx_op *sx_op_join(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    op_join *j = join_new(x, n, err);
    if (!j) return NULL;
    j->owner = j;
    j->probers = 1;
    if (n->build_outer) return rsemi_init(x, j, err);
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
