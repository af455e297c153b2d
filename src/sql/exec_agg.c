/* exec_agg.c - hash aggregation (GROUP BY, DISTINCT, and the set operations UNION /
 * INTERSECT / EXCEPT [ALL], which count each group's rows per side).
 *
 * Groups are found through an open-addressing table over normalized keys (NULLs group
 * together); aggregate states are arrays indexed by group id, updated by one typed loop per
 * aggregate per chunk. Spilling is hybrid grace hashing: once the query's state exceeds the
 * memory budget, rows of groups already in memory keep aggregating there, while rows of new
 * groups are written (sealed) to 16 partitions by hash bits. After the input ends, the
 * in-memory groups are emitted, the table is cleared, and each partition is processed the
 * same way (one level deeper, other hash bits). Every pass admits at least 1024 groups, so
 * the recursion always ends.
 *
 * Parallel aggregation: an AGG whose input is a pipeline that runs on several threads
 * (exec_par.c) becomes FINAL(exchange(PARTIAL(input))). Every instance pre-aggregates its own
 * rows (PARTIAL never spills: when its state passes its share of the budget, budget / (4 x
 * threads), it hands out its groups and starts again) and emits, per group, the keys and each
 * aggregate's state:
 *   COUNT(*), COUNT(x):           the count (INT64)
 *   SUM, AVG of INT64 / DECIMAL:  the 128-bit sum as two INT64 (high, low) and the count
 *   MIN, MAX:                     the value (NULL if the group had none)
 * A PARTIAL whose rows keep bringing new groups (more than one per 5 rows in a window of
 * PASS_WINDOW rows, the first window aside) hands its groups out and from then on turns each
 * row into a state of its own, so the rows' aggregation happens once, in FINAL. Judging the
 * new groups of a later window, not the groups per row so far, keeps aggregating where keys
 * repeat across the input (TPC-H Q13: 100K customers among 1.5M orders, whose first 32K rows
 * still bring a new group per 1.2 rows).
 * FINAL merges states as a whole aggregation merges rows (and spills state rows, like any
 * input, when over budget), so one group's rows may meet in any number of states. Not for
 * DISTINCT aggregates, set operations, or when the plan's result depends on the order of rows
 * (DOUBLE values, exec_int.h: x->ordered), where the serial order is kept. */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"
#include "table/value.h"

#define NONE        UINT32_MAX
#define NPART       16
#define MIN_ADMIT   1024
#define MAX_LEVEL   14
#define PREFETCH    16     /* rows ahead whose hash slot is loaded early */
#define PASS_WINDOW 131072 /* PARTIAL: rows of a window whose new groups are judged */
#define SLOT_EMPTY  UINT64_MAX
/* 10^38: a DECIMAL(38,s) value's magnitude stays below it. */
#define DEC38_LIM   ((__int128)10000000000000000000ULL * (__int128)10000000000000000000ULL)
#define SLOT(h, id) (((h)&0xFFFFFFFF00000000ull) | (uint64_t)(id))

/* A set of byte strings (DISTINCT aggregates: group id ++ value key). */
typedef struct kset {
    uint32_t *slots; /* index+1 into entries; 0 empty */
    size_t mask, n;
    uint64_t *hash;
    size_t *off;
    uint32_t *len;
    uint8_t *data;
    size_t dlen, dcap, ecap;
    size_t bytes;
} kset;

typedef struct aggst {
    mc2_pagg a;       /* FINAL: col is the first column of the aggregate's state */
    enum mc2_type in; /* argument type */
    unsigned in_scale, out_scale;
    int64_t *cnt;
    __int128 *isum; /* INT64 and DECIMAL sums: int64 addends never overflow it; wide DECIMAL
                     * (DEC128) addends are added with a check that sets ovf */
    bool ovf;
    double *fsum;
    void *mm; /* MIN/MAX values */
    sx_heap mmheap;
    kset dset;
    uint8_t *dkey; /* scratch for distinct keys */
    sx_keys vk;    /* the argument's normalized values (DISTINCT) */
    bool vk_ready;
    size_t dkey_cap;
} aggst;

typedef struct pending_run {
    sx_run run;
    int level;
} pending_run;

typedef struct op_agg {
    sx_op op;
    int mode;              /* SX_AGG_WHOLE, _PARTIAL, _FINAL */
    size_t cap_bytes;      /* PARTIAL: state held before handing the groups out */
    bool flush;            /* PARTIAL: handing out groups before the input's end */
    bool passthrough;      /* PARTIAL: groups too many to pay: each row becomes a state */
    uint64_t rows_in;      /* PARTIAL: rows consumed */
    uint64_t groups_out;   /* PARTIAL: groups handed out before the current pass */
    uint64_t win_rows;     /* PARTIAL: rows_in when the current window began */
    uint64_t win_groups;   /* PARTIAL: groups_out + ng then */
    sx_chunk *pass;        /* PARTIAL: states of one input chunk */
    sx_op *child, *child2; /* child2: the right side of a set operation */
    const mc2_pnode *n;
    bool setop;
    const mc2_schema *in_schema;
    mc2_schema key_schema;
    sx_keyspec *ks;
    size_t nk;
    uint32_t klen; /* keys of fixed width (no VARCHAR, no nullable key): their length; else 0 */
    aggst *ag;
    size_t na;
    /* groups */
    size_t ng, gcap;
    uint64_t *ghash;
    size_t *gkoff;
    uint32_t *gklen;
    uint8_t *gkeys;
    size_t gklen_tot, gkcap;
    int64_t *side_cnt[2]; /* set operations */
    sx_rows keyrows;
    uint64_t *slots; /* (high 32 bits of the hash) << 32 | group id; SLOT_EMPTY if free */
    size_t mask;
    size_t held; /* bytes accounted by this operator besides keyrows and heaps */
    /* per chunk */
    sx_keys k;
    uint32_t *gid, *sel;
    uint32_t *perm; /* few groups: rows by group */
    struct grun *runs;
    uint8_t *side;
    sx_chunk keyview;
    /* spilling */
    int level;
    bool refusing; /* this pass sends every new group to the partitions */
    sx_runw parts[NPART];
    bool parts_open;
    pending_run *pend;
    size_t npend, cpend;
    sx_runr rd;
    pending_run cur_run;
    bool reading_run;
    sx_chunk *rdchunk;
    sx_heap rdheap;
    /* output */
    int phase; /* 0 consume, 1 emit, 2 done */
    size_t emit_g;
    int64_t emit_copies;
    sx_chunk *out;
    uint32_t *eidx;
    bool right_side; /* consuming child2 */
} op_agg;

/* ---- the byte-string set ----------------------------------------------------------------- */

/* Inserts key; returns 1 if new, 0 if present, -1 on error. */
static int kset_add(mc2_exec *x, kset *s, const uint8_t *key, uint32_t len, uint64_t h,
                    mc2_err *err)
{
    if (2 * (s->n + 1) > s->mask + 1 || !s->slots) {
        size_t ns = s->slots ? 2 * (s->mask + 1) : 1024;
        uint32_t *sl = mc2_calloc(ns, sizeof *sl);
        if (!sl) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for DISTINCT");
        for (size_t i = 0; i < s->n; i++) {
            size_t q = (size_t)s->hash[i] & (ns - 1);
            while (sl[q]) q = (q + 1) & (ns - 1);
            sl[q] = (uint32_t)i + 1;
        }
        size_t old = s->slots ? (s->mask + 1) * 4 : 0;
        mc2_free(s->slots);
        s->slots = sl;
        s->mask = ns - 1;
        sx_mem_add(x, ns * 4 - old);
        s->bytes += ns * 4 - old;
    }
    size_t q = (size_t)h & s->mask;
    while (s->slots[q]) {
        uint32_t e = s->slots[q] - 1;
        if (s->hash[e] == h && s->len[e] == len && sx_key_eq(s->data + s->off[e], key, len))
            return 0;
        q = (q + 1) & s->mask;
    }
    if (s->n == s->ecap) {
        size_t nc = s->ecap ? 2 * s->ecap : 1024;
        uint64_t *hh = mc2_realloc(s->hash, nc * sizeof *hh);
        if (hh) s->hash = hh;
        size_t *oo = mc2_realloc(s->off, nc * sizeof *oo);
        if (oo) s->off = oo;
        uint32_t *ll = mc2_realloc(s->len, nc * sizeof *ll);
        if (ll) s->len = ll;
        if (!hh || !oo || !ll) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for DISTINCT");
        sx_mem_add(x, (nc - s->ecap) * 20);
        s->bytes += (nc - s->ecap) * 20;
        s->ecap = nc;
    }
    if (s->dlen + len > s->dcap) {
        size_t nc = s->dcap ? 2 * s->dcap : 4096;
        while (nc < s->dlen + len) nc *= 2;
        uint8_t *d = mc2_realloc(s->data, nc);
        if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for DISTINCT");
        s->data = d;
        sx_mem_add(x, nc - s->dcap);
        s->bytes += nc - s->dcap;
        s->dcap = nc;
    }
    memcpy(s->data + s->dlen, key, len);
    s->hash[s->n] = h;
    s->off[s->n] = s->dlen;
    s->len[s->n] = len;
    s->dlen += len;
    s->slots[q] = (uint32_t)++s->n;
    return 1;
}

static void kset_free(mc2_exec *x, kset *s)
{
    mc2_free(s->slots);
    mc2_free(s->hash);
    mc2_free(s->off);
    mc2_free(s->len);
    if (s->data) mc2_free_wipe(s->data, s->dcap);
    sx_mem_sub(x, s->bytes);
    memset(s, 0, sizeof *s);
}

/* ---- groups ------------------------------------------------------------------------------ */

static int grow(void **p, size_t elem, size_t oldn, size_t newn, mc2_err *err)
{
    void *q = mc2_realloc(*p, newn * elem);
    if (!q) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for %zu groups", newn);
    memset((char *)q + oldn * elem, 0, (newn - oldn) * elem);
    *p = q;
    return 0;
}

static int groups_reserve(op_agg *g, size_t need, mc2_err *err)
{
    if (need <= g->gcap) return 0;
    size_t nc = g->gcap ? g->gcap : 1024;
    while (nc < need) nc *= 2;
    size_t o = g->gcap;
    size_t per = 8 + sizeof(size_t) + 4;
    if (grow((void **)&g->ghash, 8, o, nc, err) ||
        grow((void **)&g->gkoff, sizeof(size_t), o, nc, err) ||
        grow((void **)&g->gklen, 4, o, nc, err))
        return -1;
    if (g->setop) {
        per += 16;
        if (grow((void **)&g->side_cnt[0], 8, o, nc, err) ||
            grow((void **)&g->side_cnt[1], 8, o, nc, err))
            return -1;
    }
    for (size_t j = 0; j < g->na; j++) {
        aggst *a = &g->ag[j];
        per += 8;
        if (grow((void **)&a->cnt, 8, o, nc, err)) return -1;
        if (a->a.fn == MC2_AGG_SUM || a->a.fn == MC2_AGG_AVG) {
            if (a->in == MC2_T_DOUBLE) {
                per += 8;
                if (grow((void **)&a->fsum, 8, o, nc, err)) return -1;
            } else {
                per += 16;
                if (grow((void **)&a->isum, 16, o, nc, err)) return -1;
            }
        }
        if (a->a.fn == MC2_AGG_MIN || a->a.fn == MC2_AGG_MAX) {
            per += sx_width(a->in);
            if (grow(&a->mm, sx_width(a->in), o, nc, err)) return -1;
        }
    }
    sx_mem_add(g->op.x, (nc - o) * per);
    g->held += (nc - o) * per;
    g->gcap = nc;
    return 0;
}

static int table_resize(op_agg *g, size_t ns, mc2_err *err)
{
    uint64_t *sl = mc2_malloc(ns * sizeof *sl);
    if (!sl) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a hash table");
    memset(sl, 0xFF, ns * sizeof *sl);
    for (size_t i = 0; i < g->ng; i++) {
        size_t q = (size_t)g->ghash[i] & (ns - 1);
        while (sl[q] != SLOT_EMPTY) q = (q + 1) & (ns - 1);
        sl[q] = SLOT(g->ghash[i], i);
    }
    size_t old = g->slots ? (g->mask + 1) * 8 : 0;
    mc2_free(g->slots);
    g->slots = sl;
    g->mask = ns - 1;
    sx_mem_add(g->op.x, ns * 8);
    sx_mem_sub(g->op.x, old);
    g->held += ns * 8;
    g->held -= old;
    return 0;
}

/* Fixed-width keys: the group whose key is key[0..klen), or NONE with *q at the free slot
 * where it would go. Keys of group id sit at gkeys + id * klen (groups are appended). */
static inline uint32_t probe_fixed(const op_agg *g, size_t *q, uint64_t tag, const uint8_t *key)
{
    for (;;) {
        uint64_t sv = g->slots[*q];
        if (sv == SLOT_EMPTY) return NONE;
        if ((sv & 0xFFFFFFFF00000000ull) == tag &&
            sx_key_eq(g->gkeys + (size_t)(uint32_t)sv * g->klen, key, g->klen))
            return (uint32_t)sv;
        *q = (*q + 1) & g->mask;
    }
}

/* Group ids for the rows of c (keys already in g->k); NONE for rows to spill. New groups'
 * key values are appended to keyrows. */
static int find_groups(op_agg *g, const sx_chunk *c, mc2_err *err)
{
    mc2_exec *x = g->op.x;
    size_t n = c->n, nnew = 0;
    /* without a store: an error; PARTIAL hands its groups out instead */
    bool may_spill = g->level < MAX_LEVEL && g->mode != SX_AGG_PARTIAL;
    if (groups_reserve(g, g->ng + n, err)) return -1;
    if (2 * (g->ng + n) > g->mask + 1) {
        size_t ns = g->mask + 1;
        while (2 * (g->ng + n) > ns) ns *= 2;
        if (table_resize(g, ns, err)) return -1;
    }
    const uint64_t *hash = g->k.hash;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash[i];
        const uint8_t *key = g->k.data + g->k.off[i];
        uint32_t len = g->k.len[i];
        size_t q = (size_t)h & g->mask;
        uint32_t id = NONE;
        uint64_t tag = h & 0xFFFFFFFF00000000ull;
        if (i + PREFETCH < n) __builtin_prefetch(&g->slots[hash[i + PREFETCH] & g->mask]);
        if (g->klen) { /* fixed-width keys: group id's key is at id * klen */
            if (i + PREFETCH / 2 < n) {
                uint64_t sv = g->slots[hash[i + PREFETCH / 2] & g->mask];
                if (sv != SLOT_EMPTY) __builtin_prefetch(g->gkeys + (size_t)(uint32_t)sv * g->klen);
            }
            id = probe_fixed(g, &q, tag, key);
        } else {
            for (;;) {
                uint64_t sv = g->slots[q];
                if (sv == SLOT_EMPTY) break;
                /* the slot's hash bits spare a cache miss on most non-matching groups */
                if ((sv & 0xFFFFFFFF00000000ull) == tag) {
                    uint32_t cand = (uint32_t)sv;
                    if (g->ghash[cand] == h && g->gklen[cand] == len &&
                        sx_key_eq(g->gkeys + g->gkoff[cand], key, len)) {
                        id = cand;
                        break;
                    }
                }
                q = (q + 1) & g->mask;
            }
        }
        if (id == NONE) {
            /* Once a pass has refused a group it refuses every new group until it ends:
             * a group must never have rows both in memory and in a partition, even if
             * the query's memory use drops meanwhile (another operator releasing). */
            if (may_spill && (g->refusing || (g->ng >= MIN_ADMIT && sx_over_budget(x)))) {
                g->refusing = true;
                g->gid[i] = NONE;
                continue;
            }
            if (g->gklen_tot + len > g->gkcap) {
                size_t nc = g->gkcap ? 2 * g->gkcap : 4096;
                while (nc < g->gklen_tot + len) nc *= 2;
                uint8_t *d = mc2_realloc(g->gkeys, nc);
                if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for group keys");
                g->gkeys = d;
                sx_mem_add(x, nc - g->gkcap);
                g->held += nc - g->gkcap;
                g->gkcap = nc;
            }
            id = (uint32_t)g->ng++;
            memcpy(g->gkeys + g->gklen_tot, key, len);
            g->gkoff[id] = g->gklen_tot;
            g->gklen[id] = len;
            g->gklen_tot += len;
            g->ghash[id] = h;
            g->slots[q] = SLOT(h, id);
            g->sel[nnew++] = (uint32_t)i;
        }
        g->gid[i] = id;
    }
    if (nnew) {
        for (size_t j = 0; j < g->nk; j++) g->keyview.cols[j] = c->cols[g->ks[j].col];
        if (sx_rows_append(x, &g->keyrows, &g->keyview, g->sel, nnew, err)) return -1;
    }
    return 0;
}

/* ---- aggregate updates ------------------------------------------------------------------- */

static int str_cmp(sx_str a, sx_str b)
{
    uint32_t m = a.n < b.n ? a.n : b.n;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    return c ? c : (a.n > b.n) - (a.n < b.n);
}

/* Rows that take part in aggregate a: not spilled, argument not NULL, and for DISTINCT the
 * first occurrence of (group, value). Returns the count in *m with indices in sel. */
static int agg_rows(op_agg *g, aggst *a, const sx_chunk *c, uint32_t *sel, size_t *m, mc2_err *err)
{
    size_t n = c->n, k = 0;
    const sx_vec *v = a->a.fn == MC2_AGG_COUNT_STAR ? NULL : &c->cols[a->a.col];
    for (size_t i = 0; i < n; i++) {
        sel[k] = (uint32_t)i;
        k += g->gid[i] != NONE && !(v && v->nulls && v->nulls[i]);
    }
    if (a->a.distinct && v) {
        /* key = group id ++ normalized value */
        mc2_exec *x = g->op.x;
        if (!a->vk_ready) {
            if (sx_keys_init(x, &a->vk, err)) return -1;
            a->vk_ready = true;
        }
        sx_keys *vkp = &a->vk;
#define vk (*vkp)
        sx_keyspec ks = {a->a.col, a->in, false, false};
        if (sx_keys_encode(x, &vk, c, &ks, 1, false, err)) return -1;
        size_t k2 = 0;
        for (size_t t = 0; t < k; t++) {
            uint32_t i = sel[t];
            uint32_t l = vk.len[i] + 4;
            if (l > a->dkey_cap) {
                uint8_t *d = mc2_realloc(a->dkey, l);
                if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
                a->dkey = d;
                a->dkey_cap = l;
            }
            memcpy(a->dkey, &g->gid[i], 4);
            memcpy(a->dkey + 4, vk.data + vk.off[i], vk.len[i]);
            int r = kset_add(x, &a->dset, a->dkey, l, sx_hash_bytes(a->dkey, l), err);
            if (r < 0) return -1;
            if (r) sel[k2++] = i;
        }
#undef vk
        k = k2;
    }
    *m = k;
    return 0;
}

/* Columns of aggregate a's state in a PARTIAL's output. */
static size_t state_cols(const mc2_pagg *a)
{
    return a->fn == MC2_AGG_SUM || a->fn == MC2_AGG_AVG ? 3 : 1;
}

/* FINAL: adds the counts and sums of a chunk of states (MIN and MAX merge as values do). */
static void merge_states(op_agg *g, aggst *a, const sx_chunk *c)
{
    const uint32_t *gid = g->gid;
    const int64_t *v = c->cols[a->a.col].v.i64;
    if (a->a.fn == MC2_AGG_COUNT_STAR || a->a.fn == MC2_AGG_COUNT) {
        for (size_t i = 0; i < c->n; i++)
            if (gid[i] != NONE) a->cnt[gid[i]] += v[i];
        return;
    }
    const int64_t *lo = c->cols[a->a.col + 1].v.i64, *n = c->cols[a->a.col + 2].v.i64;
    for (size_t i = 0; i < c->n; i++) {
        if (gid[i] == NONE) continue;
        unsigned __int128 u = ((unsigned __int128)(uint64_t)v[i] << 64) | (uint64_t)lo[i];
        a->ovf |= __builtin_add_overflow(a->isum[gid[i]], (__int128)u, &a->isum[gid[i]]);
        a->cnt[gid[i]] += n[i];
    }
}

/* ---- few groups: rows taken group by group ------------------------------------------------
 * With at most SMALL_GROUPS groups, a chunk's rows are first ordered by group (a stable
 * counting sort), then each aggregate sums a group's rows in a register and updates the group
 * once: no chain of read-modify-writes to the same few states. A group's rows keep their
 * order, and a DOUBLE sum starts from the group's state, so results are bit for bit those of
 * row-by-row updates. */

#define SMALL_GROUPS 256

typedef struct grun {
    uint32_t g, start, end; /* group g's rows: perm[start..end) */
} grun;

/* Orders the rows with a group (gid != NONE) by group into perm; returns the runs. */
static size_t group_runs(const op_agg *g, size_t n, uint32_t *perm, grun *runs)
{
    uint32_t cnt[SMALL_GROUPS], pos[SMALL_GROUPS];
    const uint32_t *gid = g->gid;
    memset(cnt, 0, g->ng * sizeof *cnt);
    for (size_t i = 0; i < n; i++)
        if (gid[i] != NONE) cnt[gid[i]]++;
    size_t nr = 0;
    uint32_t at = 0;
    for (uint32_t q = 0; q < g->ng; q++) {
        pos[q] = at;
        if (cnt[q]) runs[nr++] = (grun){q, at, at + cnt[q]};
        at += cnt[q];
    }
    for (size_t i = 0; i < n; i++)
        if (gid[i] != NONE) perm[pos[gid[i]]++] = (uint32_t)i;
    return nr;
}

/* Whether aggregate a is updated run by run. */
static bool by_runs(const op_agg *g, const aggst *a)
{
    if (a->a.distinct ||
        (g->mode == SX_AGG_FINAL && a->a.fn != MC2_AGG_MIN && a->a.fn != MC2_AGG_MAX))
        return false;
    return a->a.fn == MC2_AGG_COUNT_STAR || a->in != MC2_T_VARCHAR;
}

#define MINMAX_RUN(T, field)                                                                       \
    do {                                                                                           \
        T *mm = a->mm;                                                                             \
        for (size_t r = 0; r < nr; r++) {                                                          \
            uint32_t q = runs[r].g;                                                                \
            int64_t k = a->cnt[q];                                                                 \
            T best = mm[q];                                                                        \
            for (uint32_t t = runs[r].start; t < runs[r].end; t++) {                               \
                uint32_t i = perm[t];                                                              \
                if (nl && nl[i]) continue;                                                         \
                T x = v->v.field[i];                                                               \
                if (k++ == 0 || (mx ? x > best : x < best)) best = x;                              \
            }                                                                                      \
            mm[q] = best;                                                                          \
            a->cnt[q] = k;                                                                         \
        }                                                                                          \
    } while (0)

/* Updates aggregate a from the runs. */
static void update_runs(aggst *a, const sx_chunk *c, const uint32_t *perm, const grun *runs,
                        size_t nr)
{
    const sx_vec *v = a->a.fn == MC2_AGG_COUNT_STAR ? NULL : &c->cols[a->a.col];
    const uint8_t *nl = v ? v->nulls : NULL;
    bool mx = a->a.fn == MC2_AGG_MAX;
    switch (a->a.fn) {
    case MC2_AGG_COUNT_STAR:
    case MC2_AGG_COUNT:
        for (size_t r = 0; r < nr; r++) {
            int64_t k = runs[r].end - runs[r].start;
            if (nl)
                for (uint32_t t = runs[r].start; t < runs[r].end; t++) k -= nl[perm[t]] != 0;
            a->cnt[runs[r].g] += k;
        }
        return;
    case MC2_AGG_SUM:
    case MC2_AGG_AVG:
        for (size_t r = 0; r < nr; r++) {
            uint32_t q = runs[r].g;
            int64_t k = 0;
            if (a->in == MC2_T_DOUBLE) {
                double acc = a->fsum[q]; /* the same additions in the same order */
                for (uint32_t t = runs[r].start; t < runs[r].end; t++) {
                    uint32_t i = perm[t];
                    if (nl && nl[i]) continue;
                    acc += v->v.f64[i];
                    k++;
                }
                a->fsum[q] = acc;
            } else if (a->in == MC2_T_DEC128) {
                __int128 acc = a->isum[q];
                for (uint32_t t = runs[r].start; t < runs[r].end; t++) {
                    uint32_t i = perm[t];
                    if (nl && nl[i]) continue;
                    a->ovf |= __builtin_add_overflow(acc, (__int128)v->v.i128[i], &acc);
                    k++;
                }
                a->isum[q] = acc;
            } else {
                __int128 acc = 0;
                for (uint32_t t = runs[r].start; t < runs[r].end; t++) {
                    uint32_t i = perm[t];
                    if (nl && nl[i]) continue;
                    acc += v->v.i64[i];
                    k++;
                }
                a->isum[q] += acc;
            }
            a->cnt[q] += k;
        }
        return;
    default: /* MIN, MAX of a fixed-width type */
        switch (a->in) {
        case MC2_T_DOUBLE:
            MINMAX_RUN(double, f64);
            return;
        case MC2_T_DATE:
            MINMAX_RUN(int32_t, i32);
            return;
        case MC2_T_BOOL:
            MINMAX_RUN(uint8_t, b);
            return;
        case MC2_T_DEC128:
            MINMAX_RUN(mc2_i128, i128);
            return;
        default:
            MINMAX_RUN(int64_t, i64);
            return;
        }
    }
}

static int update_aggs(op_agg *g, const sx_chunk *c, mc2_err *err)
{
    const uint32_t *gid = g->gid;
    size_t nr = 0;
    bool have_runs = false;
    for (size_t j = 0; j < g->na; j++) {
        aggst *a = &g->ag[j];
        size_t m = 0;
        if (g->ng <= SMALL_GROUPS && by_runs(g, a)) {
            if (!have_runs) nr = group_runs(g, c->n, g->perm, g->runs);
            have_runs = true;
            update_runs(a, c, g->perm, g->runs, nr);
            continue;
        }
        if (g->mode == SX_AGG_FINAL && a->a.fn != MC2_AGG_MIN && a->a.fn != MC2_AGG_MAX) {
            merge_states(g, a, c);
            continue;
        }
        if (a->a.fn == MC2_AGG_COUNT_STAR && !a->a.distinct) {
            for (size_t i = 0; i < c->n; i++)
                if (gid[i] != NONE) a->cnt[gid[i]]++;
            continue;
        }
        if (agg_rows(g, a, c, g->sel, &m, err)) return -1;
        const uint32_t *s = g->sel;
        const sx_vec *v = a->a.fn == MC2_AGG_COUNT_STAR ? NULL : &c->cols[a->a.col];
        if (a->a.fn != MC2_AGG_MIN && a->a.fn != MC2_AGG_MAX)
            for (size_t t = 0; t < m; t++) a->cnt[gid[s[t]]]++;
        switch (a->a.fn) {
        case MC2_AGG_SUM:
        case MC2_AGG_AVG:
            if (a->in == MC2_T_DOUBLE)
                for (size_t t = 0; t < m; t++) a->fsum[gid[s[t]]] += v->v.f64[s[t]];
            else if (a->in == MC2_T_DEC128)
                for (size_t t = 0; t < m; t++) {
                    __int128 *acc = &a->isum[gid[s[t]]];
                    a->ovf |= __builtin_add_overflow(*acc, (__int128)v->v.i128[s[t]], acc);
                }
            else
                for (size_t t = 0; t < m; t++) a->isum[gid[s[t]]] += v->v.i64[s[t]];
            break;
        case MC2_AGG_MIN:
        case MC2_AGG_MAX: {
            bool mx = a->a.fn == MC2_AGG_MAX;
            for (size_t t = 0; t < m; t++) {
                uint32_t i = s[t], q = gid[i];
                bool first = a->cnt[q]++ == 0;
                switch (a->in) {
                case MC2_T_INT64:
                case MC2_T_DECIMAL: {
                    int64_t *mm = a->mm, x = v->v.i64[i];
                    if (first || (mx ? x > mm[q] : x < mm[q])) mm[q] = x;
                    break;
                }
                case MC2_T_DOUBLE: {
                    double *mm = a->mm, x = v->v.f64[i];
                    if (first || (mx ? x > mm[q] : x < mm[q])) mm[q] = x;
                    break;
                }
                case MC2_T_DEC128: {
                    mc2_i128 *mm = a->mm, x = v->v.i128[i];
                    if (first || (mx ? x > mm[q] : x < mm[q])) mm[q] = x;
                    break;
                }
                case MC2_T_DATE: {
                    int32_t *mm = a->mm, x = v->v.i32[i];
                    if (first || (mx ? x > mm[q] : x < mm[q])) mm[q] = x;
                    break;
                }
                case MC2_T_BOOL: {
                    uint8_t *mm = a->mm, x = v->v.b[i];
                    if (first || (mx ? x > mm[q] : x < mm[q])) mm[q] = x;
                    break;
                }
                case MC2_T_VARCHAR: {
                    sx_str *mm = a->mm, x = v->v.s[i];
                    int cmp = first ? 0 : str_cmp(x, mm[q]);
                    if (first || (mx ? cmp > 0 : cmp < 0)) {
                        size_t before = a->mmheap.bytes;
                        char *d = x.n ? sx_heap_alloc(&a->mmheap, x.n, err) : NULL;
                        if (x.n && !d) return -1;
                        if (x.n) memcpy(d, x.p, x.n);
                        mm[q].p = d ? d : "";
                        mm[q].n = x.n;
                        sx_mem_add(g->op.x, a->mmheap.bytes - before);
                    }
                    break;
                }
                }
            }
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

/* ---- consuming, spilling ----------------------------------------------------------------- */

/* PARTIAL, after n more rows: whether to hand the groups out now (flush), and whether to pass
 * rows through from then on. */
static bool partial_full(op_agg *g, size_t n)
{
    g->rows_in += n;
    uint64_t groups = g->groups_out + g->ng;
    if (g->rows_in - g->win_rows >= PASS_WINDOW) {
        /* the first window only sets the base: early rows find new groups whatever the data */
        if (g->win_rows && (groups - g->win_groups) * 5 > g->rows_in - g->win_rows)
            g->passthrough = true;
        g->win_rows = g->rows_in;
        g->win_groups = groups;
    }
    g->flush = g->passthrough || g->held + g->keyrows.bytes > g->cap_bytes;
    if (g->flush) g->groups_out += g->ng;
    return g->flush;
}

static int spill_rows(op_agg *g, const sx_chunk *c, mc2_err *err)
{
    mc2_exec *x = g->op.x;
    int shift = 60 - 4 * g->level;
    for (size_t i = 0; i < c->n; i++) {
        if (g->gid[i] != NONE) continue;
        if (!g->parts_open) {
            for (int p = 0; p < NPART; p++)
                if (sx_runw_init(x, &g->parts[p], err)) return -1;
            g->parts_open = true;
        }
        int p = (int)((g->k.hash[i] >> shift) & (NPART - 1));
        size_t sz = sx_row_size(g->in_schema, c, i);
        uint8_t *q = sx_runw_space(x, &g->parts[p], sz + 1, err);
        if (!q) return -1;
        sx_row_encode(g->in_schema, c, i, q);
        q[sz] = g->side[i];
    }
    return 0;
}

static int consume(op_agg *g, const sx_chunk *c, mc2_err *err)
{
    mc2_exec *x = g->op.x;
    if (sx_keys_encode(x, &g->k, c, g->ks, g->nk, true, err)) return -1;
    if (find_groups(g, c, err)) return -1;
    if (g->setop)
        for (size_t i = 0; i < c->n; i++)
            if (g->gid[i] != NONE) g->side_cnt[g->side[i]][g->gid[i]]++;
    if (update_aggs(g, c, err)) return -1;
    return spill_rows(g, c, err);
}

/* Next input chunk: from the children, or from the partition being re-read. */
static int next_input(op_agg *g, sx_chunk **c, mc2_err *err)
{
    mc2_exec *x = g->op.x;
    if (!g->reading_run) {
        for (;;) {
            sx_op *src = g->right_side ? g->child2 : g->child;
            int r = sx_pull(src, c, err);
            if (r != 0) {
                if (r > 0) memset(g->side, g->right_side, (*c)->n);
                return r;
            }
            if (!g->child2 || g->right_side) return 0;
            g->right_side = true;
        }
    }
    sx_heap_reset(&g->rdheap);
    size_t m = 0;
    while (m < x->cap) {
        const uint8_t *p;
        size_t n;
        int r = sx_runr_next(x, &g->rd, &p, &n, err);
        if (r < 0) return -1;
        if (r == 0) break;
        if (n < 1) return mc2_err_set(err, MC2_E_INTERNAL, "spilled row malformed");
        if (sx_row_decode(g->in_schema, p, n - 1, g->rdchunk, m, &g->rdheap, err)) return -1;
        g->side[m] = p[n - 1] & 1;
        m++;
    }
    g->rdchunk->n = m;
    *c = g->rdchunk;
    return m > 0;
}

static int finish_parts(op_agg *g, mc2_err *err)
{
    if (!g->parts_open) return 0;
    mc2_exec *x = g->op.x;
    for (int p = 0; p < NPART; p++) {
        if (sx_runw_finish(x, &g->parts[p], err)) return -1;
        if (g->parts[p].run.rows == 0) {
            sx_runw_free(&g->parts[p]);
            continue;
        }
        if (g->npend == g->cpend) {
            size_t nc = g->cpend ? 2 * g->cpend : 32;
            pending_run *q = mc2_realloc(g->pend, nc * sizeof *q);
            if (!q) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            g->pend = q;
            g->cpend = nc;
        }
        g->pend[g->npend].run = g->parts[p].run;
        g->pend[g->npend].level = g->level + 1;
        g->npend++;
        memset(&g->parts[p].run, 0, sizeof g->parts[p].run);
        sx_runw_free(&g->parts[p]);
    }
    g->parts_open = false;
    return 0;
}

/* Drops every group (keeping the operator ready for another pass). */
static void clear_groups(op_agg *g)
{
    mc2_exec *x = g->op.x;
    mc2_free(g->ghash);
    mc2_free(g->gkoff);
    mc2_free(g->gklen);
    if (g->gkeys) mc2_free_wipe(g->gkeys, g->gkcap);
    mc2_free(g->side_cnt[0]);
    mc2_free(g->side_cnt[1]);
    mc2_free(g->slots);
    g->ghash = NULL;
    g->gkoff = NULL;
    g->gklen = NULL;
    g->gkeys = NULL;
    g->side_cnt[0] = g->side_cnt[1] = NULL;
    g->slots = NULL;
    g->gkcap = g->gklen_tot = 0;
    for (size_t j = 0; j < g->na; j++) {
        aggst *a = &g->ag[j];
        mc2_free(a->cnt);
        mc2_free(a->isum);
        mc2_free(a->fsum);
        mc2_free(a->mm);
        a->cnt = NULL;
        a->isum = NULL;
        a->fsum = NULL;
        a->mm = NULL;
        sx_mem_sub(x, a->mmheap.bytes);
        sx_heap_free(&a->mmheap);
        kset_free(x, &a->dset);
    }
    sx_rows_free(x, &g->keyrows);
    sx_mem_sub(x, g->held);
    g->held = 0;
    g->ng = g->gcap = 0;
    g->mask = 0;
}

static int start_pass(op_agg *g, mc2_err *err)
{
    g->refusing = false;
    if (table_resize(g, 2048, err)) return -1;
    if (!g->gkeys) {
        if (!(g->gkeys = mc2_malloc(4096)))
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory for group keys");
        g->gkcap = 4096;
        sx_mem_add(g->op.x, 4096);
        g->held += 4096;
    }
    if (g->nk == 0 && !g->setop) {
        /* a global aggregate has its one group even for an empty input */
        if (groups_reserve(g, 1, err)) return -1;
        g->ng = 1;
        g->ghash[0] = sx_hash_bytes(NULL, 0);
        g->gklen[0] = 0;
        size_t q = (size_t)g->ghash[0] & g->mask;
        g->slots[q] = SLOT(g->ghash[0], 0);
        if (sx_rows_reserve(g->op.x, &g->keyrows, 1, err)) return -1;
        g->keyrows.n = 1;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static int64_t copies_of(const op_agg *g, size_t q)
{
    if (!g->setop) return 1;
    int64_t l = g->side_cnt[0][q], r = g->side_cnt[1][q];
    bool all = g->n->all;
    switch (g->n->setop) {
    case MC2_SETOP_UNION:
        return 1;
    case MC2_SETOP_INTERSECT:
        return all ? (l < r ? l : r) : (l > 0 && r > 0);
    default:
        return all ? (l > r ? l - r : 0) : (l > 0 && r == 0);
    }
}

/* PARTIAL: the states of groups eidx[0..m) into o's columns after the keys. */
static void emit_states(op_agg *g, sx_chunk *o, size_t m)
{
    size_t c = g->nk;
    for (size_t j = 0; j < g->na; c += state_cols(&g->ag[j].a), j++) {
        aggst *a = &g->ag[j];
        for (size_t k = 0; k < state_cols(&a->a); k++) memset(o->cols[c + k].nulls, 0, m);
        for (size_t t = 0; t < m; t++) {
            uint32_t q = g->eidx[t];
            switch (a->a.fn) {
            case MC2_AGG_COUNT_STAR:
            case MC2_AGG_COUNT:
                o->cols[c].v.i64[t] = a->cnt[q];
                break;
            case MC2_AGG_SUM:
            case MC2_AGG_AVG: {
                unsigned __int128 u = (unsigned __int128)a->isum[q];
                o->cols[c].v.i64[t] = (int64_t)(uint64_t)(u >> 64);
                o->cols[c + 1].v.i64[t] = (int64_t)(uint64_t)u;
                o->cols[c + 2].v.i64[t] = a->cnt[q];
                break;
            }
            default: { /* MIN, MAX */
                size_t w = sx_width(a->in);
                if (a->cnt[q] == 0)
                    sx_vec_set_null(a->in, &o->cols[c], t, 1);
                else
                    memcpy((char *)o->cols[c].v.p + t * w, (char *)a->mm + (size_t)q * w, w);
                break;
            }
            }
        }
    }
}

/* PARTIAL, passing rows through: the states of each row of c (keys and MIN/MAX values are
 * c's own vectors). */
static sx_chunk *row_states(op_agg *g, const sx_chunk *c)
{
    sx_chunk *o = g->pass;
    size_t n = c->n, col = g->nk;
    o->n = n;
    for (size_t i = 0; i < g->nk; i++) o->cols[i] = c->cols[g->ks[i].col];
    for (size_t j = 0; j < g->na; col += state_cols(&g->ag[j].a), j++) {
        const aggst *a = &g->ag[j];
        const sx_vec *v = a->a.fn == MC2_AGG_COUNT_STAR ? NULL : &c->cols[a->a.col];
        const uint8_t *nl = v ? v->nulls : NULL;
        if (a->a.fn == MC2_AGG_MIN || a->a.fn == MC2_AGG_MAX) {
            o->cols[col] = *v;
            continue;
        }
        int64_t *cnt =
            o->cols[col + (a->a.fn == MC2_AGG_SUM || a->a.fn == MC2_AGG_AVG ? 2 : 0)].v.i64;
        for (size_t i = 0; i < n; i++) cnt[i] = !(nl && nl[i]);
        if (a->a.fn == MC2_AGG_SUM || a->a.fn == MC2_AGG_AVG) {
            int64_t *hi = o->cols[col].v.i64, *lo = o->cols[col + 1].v.i64;
            if (a->in == MC2_T_DEC128)
                for (size_t i = 0; i < n; i++) {
                    unsigned __int128 u = (unsigned __int128)v->v.i128[i];
                    lo[i] = (int64_t)(uint64_t)u;
                    hi[i] = (int64_t)(uint64_t)(u >> 64);
                }
            else
                for (size_t i = 0; i < n; i++) { /* a NULL row's value is 0 */
                    lo[i] = v->v.i64[i];
                    hi[i] = lo[i] < 0 ? -1 : 0;
                }
        }
    }
    return o;
}

static int emit(op_agg *g, sx_chunk **out, mc2_err *err)
{
    mc2_exec *x = g->op.x;
    size_t m = 0;
    while (m < x->cap && g->emit_g < g->ng) {
        int64_t k = copies_of(g, g->emit_g);
        if (g->emit_copies >= k) {
            g->emit_g++;
            g->emit_copies = 0;
            continue;
        }
        g->eidx[m++] = (uint32_t)g->emit_g;
        g->emit_copies++;
    }
    if (m == 0) return 0;
    sx_chunk *o = g->out;
    o->n = m;
    if (g->nk) sx_rows_gather(&g->keyrows, g->eidx, 0, m, o, 0, 0);
    if (g->mode == SX_AGG_PARTIAL) {
        for (size_t j = 0; j < g->na; j++) /* a wide sum that left 128 bits: never hand it on */
            if (g->ag[j].ovf)
                return mc2_err_set(err, MC2_E_INPUT, "numeric overflow in aggregate '%s'",
                                   g->ag[j].a.name ? g->ag[j].a.name : "SUM");
        emit_states(g, o, m);
        *out = o;
        return 1;
    }
    for (size_t j = 0; j < g->na; j++) {
        aggst *a = &g->ag[j];
        sx_vec *v = &o->cols[g->nk + j];
        const mc2_column_def *d = &g->n->schema.cols[g->nk + j];
        bool bad = false;
        for (size_t t = 0; t < m; t++) {
            uint32_t q = g->eidx[t];
            int64_t cnt = a->cnt[q];
            v->nulls[t] = 0;
            switch (a->a.fn) {
            case MC2_AGG_COUNT_STAR:
            case MC2_AGG_COUNT:
                v->v.i64[t] = cnt;
                continue;
            default:
                break;
            }
            if (cnt == 0) {
                sx_vec_set_null(d->type.id, v, t, 1);
                continue;
            }
            switch (a->a.fn) {
            case MC2_AGG_SUM:
                if (a->in == MC2_T_DOUBLE)
                    v->v.f64[t] = a->fsum[q];
                else if (mc2_type_is_decimal(a->in)) { /* DECIMAL(38, s) */
                    __int128 s = a->isum[q];
                    bad |= a->ovf || s >= DEC38_LIM || s <= -DEC38_LIM;
                    v->v.i128[t] = bad ? 0 : s;
                } else {
                    __int128 s = a->isum[q];
                    bad |= a->ovf || s > INT64_MAX || s < INT64_MIN;
                    v->v.i64[t] = bad ? 0 : (int64_t)s;
                }
                break;
            case MC2_AGG_AVG:
                if (a->in == MC2_T_DOUBLE)
                    v->v.f64[t] = a->fsum[q] / (double)cnt;
                else if (a->in == MC2_T_INT64)
                    v->v.f64[t] = (double)a->isum[q] / (double)cnt;
                else { /* DECIMAL(38, max(6, s)) */
                    __int128 num = a->isum[q];
                    bad |= a->ovf;
                    for (unsigned e = a->in_scale; e < a->out_scale; e++)
                        bad |= __builtin_mul_overflow(num, 10, &num);
                    __int128 qq = num / cnt, r = num % cnt;
                    if (2 * (r < 0 ? -r : r) >= cnt) qq += num < 0 ? -1 : 1;
                    bad |= qq >= DEC38_LIM || qq <= -DEC38_LIM;
                    v->v.i128[t] = bad ? 0 : qq;
                }
                break;
            default: { /* MIN, MAX */
                size_t w = sx_width(a->in);
                memcpy((char *)v->v.p + t * w, (char *)a->mm + (size_t)q * w, w);
                break;
            }
            }
        }
        if (bad)
            return mc2_err_set(err, MC2_E_INPUT, "numeric overflow in aggregate '%s'", d->name);
    }
    *out = o;
    return 1;
}

static int agg_next(sx_op *o, sx_chunk **out, mc2_err *err)
{
    op_agg *g = (op_agg *)o;
    mc2_exec *x = o->x;
    for (;;) {
        if (g->phase == 0 && g->passthrough) {
            sx_chunk *c;
            int r = next_input(g, &c, err);
            if (r <= 0) return r;
            *out = row_states(g, c);
            return 1;
        }
        if (g->phase == 0) {
            if (!g->slots && start_pass(g, err)) return -1;
            for (;;) {
                sx_chunk *c;
                int r = next_input(g, &c, err);
                if (r < 0) return -1;
                if (r == 0) break;
                if (consume(g, c, err)) return -1;
                if (g->mode == SX_AGG_PARTIAL && partial_full(g, c->n)) break;
            }
            if (finish_parts(g, err)) return -1;
            if (g->reading_run) {
                sx_runr_free(&g->rd);
                sx_run_drop(x, &g->cur_run.run);
                g->reading_run = false;
            }
            g->phase = 1;
            g->emit_g = 0;
            g->emit_copies = 0;
        }
        if (g->phase == 1) {
            int r = emit(g, out, err);
            if (r != 0) return r;
            clear_groups(g);
            if (g->flush) { /* PARTIAL: on with the input */
                g->flush = false;
                g->phase = 0;
                continue;
            }
            if (g->npend == 0) {
                g->phase = 2;
                return 0;
            }
            g->cur_run = g->pend[--g->npend];
            g->level = g->cur_run.level;
            memset(&g->rd, 0, sizeof g->rd);
            g->rd.run = &g->cur_run.run;
            g->reading_run = true;
            g->phase = 0;
            continue;
        }
        return 0;
    }
}

static void agg_close(sx_op *o)
{
    op_agg *g = (op_agg *)o;
    mc2_exec *x = o->x;
    clear_groups(g);
    for (size_t j = 0; j < g->na; j++) {
        mc2_free(g->ag[j].dkey);
        sx_keys_free(&g->ag[j].vk);
    }
    sx_keys_free(&g->k);
    if (g->parts_open)
        for (int p = 0; p < NPART; p++) {
            sx_run_drop(x, &g->parts[p].run);
            sx_runw_free(&g->parts[p]);
        }
    g->parts_open = false;
    for (size_t i = 0; i < g->npend; i++) sx_run_drop(x, &g->pend[i].run);
    g->npend = 0;
    mc2_free(g->pend);
    g->pend = NULL;
    if (g->reading_run) {
        sx_runr_free(&g->rd);
        sx_run_drop(x, &g->cur_run.run);
        g->reading_run = false;
    }
    sx_heap_free(&g->rdheap);
}

/* ---- parallel aggregation: the split ------------------------------------------------------ */

/* PARTIAL: prepares the pipeline below it before instances run on other threads. */
static int agg_prepare(sx_op *o, mc2_err *err)
{
    return sx_prepare(((op_agg *)o)->child, err);
}

bool sx_agg_splittable(const mc2_pnode *n)
{
    if (n->kind != MC2_PN_AGG || n->agg_mode != SX_AGG_WHOLE) return false;
    for (size_t j = 0; j < n->naggs; j++) {
        const mc2_pagg *a = &n->aggs[j];
        if (a->distinct) return false;
        if (a->fn != MC2_AGG_COUNT_STAR && n->left->schema.cols[a->col].type.id == MC2_T_DOUBLE)
            return false;
    }
    return true;
}

/* Whether n may run as FINAL(exchange(PARTIAL(input))). */
static bool agg_parallel(const mc2_exec *x, const mc2_pnode *n)
{
    return sx_agg_splittable(n) && x->threads >= 2 && !x->main && !x->in_segment && !x->ordered &&
           sx_par_streams(x, n->left);
}

mc2_pnode *sx_agg_split(mc2_plan *p, const mc2_pnode *n, mc2_err *err)
{
    size_t nk = n->nkeys, ns = nk;
    for (size_t j = 0; j < n->naggs; j++) ns += state_cols(&n->aggs[j]);
    mc2_pnode *part = sx_plan_alloc(p, sizeof *part), *fin = sx_plan_alloc(p, sizeof *fin);
    mc2_column_def *cols = sx_plan_alloc(p, (ns ? ns : 1) * sizeof *cols);
    mc2_pagg *fa = sx_plan_alloc(p, (n->naggs ? n->naggs : 1) * sizeof *fa);
    unsigned *fk = sx_plan_alloc(p, (nk ? nk : 1) * sizeof *fk);
    char *name = sx_plan_alloc(p, 6);
    if (!part || !fin || !cols || !fa || !fk || !name) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(name, "state", 6);
    *part = *n;
    part->agg_mode = SX_AGG_PARTIAL;
    part->schema.ncols = ns;
    part->schema.cols = cols;
    for (size_t i = 0; i < nk; i++) {
        cols[i] = n->schema.cols[i];
        fk[i] = (unsigned)i;
    }
    size_t c = nk;
    for (size_t j = 0; j < n->naggs; j++) {
        const mc2_pagg *a = &n->aggs[j];
        fa[j] = *a;
        fa[j].col = (unsigned)c;
        if (a->fn == MC2_AGG_MIN || a->fn == MC2_AGG_MAX) {
            cols[c] = n->left->schema.cols[a->col];
            cols[c].nullable = true;
            cols[c++].name = name;
            continue;
        }
        for (size_t k = 0; k < state_cols(a); k++)
            cols[c++] = (mc2_column_def){name, {MC2_T_INT64, 0, 0, 0}, false};
    }
    *fin = *n;
    fin->agg_mode = SX_AGG_FINAL;
    fin->left = part;
    fin->agg_part = part;
    fin->keys = fk;
    fin->aggs = fa;
    return fin;
}

sx_op *sx_op_agg(mc2_exec *x, const mc2_pnode *n, mc2_err *err)
{
    if (agg_parallel(x, n) && !(n = sx_agg_split(x->plan, n, err))) return NULL;
    op_agg *g = sx_alloc(x, sizeof *g, err);
    if (!g) return NULL;
    g->op.x = x;
    g->n = n;
    g->mode = n->agg_mode;
    if (g->mode == SX_AGG_PARTIAL) {
        g->op.prepare = agg_prepare;
        unsigned th = x->main ? x->main->threads : x->threads;
        g->cap_bytes = x->budget / (4 * (th ? th : 1));
        if (g->cap_bytes < ((size_t)64 << 10)) g->cap_bytes = (size_t)64 << 10;
    }
    g->op.next = agg_next;
    g->op.close = agg_close;
    g->setop = n->kind == MC2_PN_SETOP;
    g->in_schema = &n->left->schema;
    if (g->setop) {
        g->nk = n->schema.ncols;
        g->key_schema = n->schema;
    } else {
        g->nk = n->nkeys;
        g->na = n->naggs;
        g->key_schema.ncols = g->nk;
        g->key_schema.cols = n->schema.cols; /* the first nk output columns are the keys */
    }
    g->ks = sx_array(x, g->nk + 1, sizeof *g->ks, err);
    g->ag = sx_array(x, g->na + 1, sizeof *g->ag, err);
    if (!g->ks || !g->ag) return NULL;
    for (size_t i = 0; i < g->nk; i++) {
        g->ks[i].col = g->setop ? (unsigned)i : n->keys[i];
        g->ks[i].type = g->in_schema->cols[g->ks[i].col].type.id;
        g->klen += 1 + (uint32_t)sx_width(g->ks[i].type);
    }
    for (size_t i = 0; i < g->nk; i++) { /* a NULL key is 1 byte: nullable keys vary too */
        if (g->ks[i].type == MC2_T_VARCHAR || g->in_schema->cols[g->ks[i].col].nullable)
            g->klen = 0;
    }
    for (size_t j = 0; j < g->na; j++) {
        aggst *a = &g->ag[j];
        a->a = n->aggs[j];
        if (a->a.fn != MC2_AGG_COUNT_STAR) { /* FINAL: the argument's type, not its state's */
            const mc2_pnode *part = n->agg_part;
            const mc2_coltype *t = g->mode == SX_AGG_FINAL
                                       ? &part->left->schema.cols[part->aggs[j].col].type
                                       : &g->in_schema->cols[a->a.col].type;
            a->in = t->id;
            a->in_scale = mc2_type_is_decimal(t->id) ? t->scale : 0;
        }
        const mc2_coltype *ot = &n->schema.cols[g->nk + j].type; /* PARTIAL: unused */
        a->out_scale = mc2_type_is_decimal(ot->id) ? ot->scale : 0;
    }
    sx_rows_init(&g->keyrows, &g->key_schema);
    g->keyview.cols = sx_array(x, g->nk + 1, sizeof(sx_vec), err);
    g->gid = sx_array(x, x->cap, sizeof *g->gid, err);
    g->perm = sx_array(x, x->cap, sizeof *g->perm, err);
    g->runs = sx_array(x, SMALL_GROUPS, sizeof *g->runs, err);
    if (!g->perm || !g->runs) return NULL;
    g->sel = sx_array(x, x->cap, sizeof *g->sel, err);
    g->side = sx_alloc(x, x->cap, err);
    g->eidx = sx_array(x, x->cap, sizeof *g->eidx, err);
    g->out = sx_chunk_new(x, &n->schema, err);
    if (g->mode == SX_AGG_PARTIAL && !(g->pass = sx_chunk_new(x, &n->schema, err))) return NULL;
    g->rdchunk = sx_chunk_new(x, g->in_schema, err);
    if (!g->keyview.cols || !g->gid || !g->sel || !g->side || !g->eidx || !g->out || !g->rdchunk ||
        sx_keys_init(x, &g->k, err))
        return NULL;
    if (!(g->child = sx_build(x, n->left, err))) return NULL;
    if (g->setop && !(g->child2 = sx_build(x, n->right, err))) return NULL;
    return &g->op;
}
