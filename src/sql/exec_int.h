/* exec_int.h - internals shared by the executor's files: the plan structs, vectors and
 * chunks, runtime operators, expression state, row stores, key encoding and spilling. */
#ifndef MC2_SQL_EXEC_INT_H
#define MC2_SQL_EXEC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/intr.h"
#include "mc2/crypto.h"
#include "sql/arena.h"
#include "sql/plan.h"
#include "table/tsrc.h"

/* ---- plan structs ------------------------------------------------------------------------ */

struct mc2_plan {
    mc2_arena arena;
    mc2_err err;
    bool failed;
};

struct mc2_pnode {
    enum mc2_pn_kind kind;
    mc2_schema schema;
    mc2_pnode *left, *right; /* left: the only child of unary operators */
    unsigned input;          /* SCAN */
    const mc2_schema *in_schema;
    unsigned *cols; /* SCAN: projected columns */
    mc2_pexpr **exprs;
    size_t nexprs; /* PROJECT; VALUES: cells; FILTER/JOIN: exprs[0] or none */
    size_t nrows;  /* VALUES */
    enum mc2_join_type jt;
    unsigned *lkeys, *rkeys, *keys; /* join keys; AGG keys */
    size_t nkeys;
    bool null_aware;
    int unique_side;  /* hash join: 1 left, 2 right is unique on the keys (oblivious PK-FK) */
    bool build_outer; /* SEMI/ANTI hash join: build the left side, probe with the right */
    bool prefilter;   /* SEMI hash join added only to drop rows early (oblivious: the left) */
    mc2_pagg *aggs;
    size_t naggs;
    mc2_psort *sort;
    size_t nsort;
    int64_t limit, offset;
    enum mc2_setop setop;
    bool all;
    int agg_mode; /* AGG: SX_AGG_WHOLE, or the halves of a parallel aggregation (exec_agg.c) */
    const mc2_pnode *agg_part; /* FINAL: its PARTIAL node (left, or below an exchange) */
};

enum { SX_AGG_WHOLE = 0, SX_AGG_PARTIAL, SX_AGG_FINAL };

/* Whether aggregation n may run in two halves, FINAL over the PARTIAL states of pieces of
 * its input, with the same result bit for bit: no DISTINCT aggregate, no DOUBLE argument
 * (a sum of doubles depends on the order of its additions). */
bool sx_agg_splittable(const mc2_pnode *n);
/* The FINAL node of n's split (in p's arena), whose left and agg_part are the PARTIAL node
 * (whose left is n's child); the PARTIAL node's output: n's keys, then each aggregate's
 * state columns. NULL with *err. n must be splittable. */
mc2_pnode *sx_agg_split(mc2_plan *p, const mc2_pnode *n, mc2_err *err);

/* Adds to cnt[i] the number of scans of input i in the plan rooted at n. */
void sx_count_scans(const mc2_pnode *n, unsigned *cnt, size_t ninputs);
/* Reads the rest of r's blocks, appending one batch per block to (*out)[0..*nout) (grown
 * with mc2_realloc; on failure the batches read so far stay there for the caller to free). */
int sx_read_batches(struct mc2_treader *r, mc2_batch ***out, size_t *nout, mc2_err *err);

/* Fails the plan with a message (keeps the first); returns NULL. */
void *sx_plan_fail(mc2_plan *p, enum mc2_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *sx_plan_alloc(mc2_plan *p, size_t n);
/* "DECIMAL(15,2)" into a static-per-call buffer pair (two alternating buffers). */
const char *sx_type_name(const mc2_coltype *t, char buf[32]);
bool sx_type_eq(const mc2_coltype *a, const mc2_coltype *b);
/* Checks every column reference in e against ncols columns of types/nullability. */
int sx_expr_check(mc2_plan *p, const mc2_pexpr *e, const mc2_column_def *cols, size_t ncols,
                  const char *where);

/* ---- vectors and chunks ------------------------------------------------------------------ */

typedef struct sx_str {
    const char *p;
    uint32_t n;
} sx_str;

/* A column of a chunk: the value array of the column's type and an optional NULL map
 * (NULL: no row is NULL). A NULL row's value is 0 / empty. */
typedef struct sx_vec {
    uint8_t *nulls;
    union {
        int64_t *i64;
        mc2_i128 *i128; /* wide DECIMAL */
        double *f64;
        int32_t *i32;
        uint8_t *b;
        sx_str *s;
        void *p;
    } v;
} sx_vec;

/* n rows; cols[ncols]. Valid until the next call on the operator that produced it. */
typedef struct sx_chunk {
    size_t n;
    sx_vec *cols;
} sx_chunk;

/* Bytes of one value of type t in a vector. */
size_t sx_width(enum mc2_type t);

/* A heap of bytes for strings, in blocks that never move; reset keeps the memory. */
typedef struct sx_heap_blk sx_heap_blk;
typedef struct sx_heap {
    sx_heap_blk *head, *cur;
    size_t bytes; /* allocated */
} sx_heap;
char *sx_heap_alloc(sx_heap *h, size_t n, mc2_err *err);
void sx_heap_reset(sx_heap *h);
void sx_heap_free(sx_heap *h);
/* Moves src's blocks (and the strings in them, which stay where they are) to dst; src is left
 * empty. dst->bytes grows by src->bytes. */
void sx_heap_take(sx_heap *dst, sx_heap *src);

/* ---- the executor ------------------------------------------------------------------------ */

typedef struct sx_op sx_op;
struct sx_op {
    int (*next)(sx_op *op, sx_chunk **out, mc2_err *err); /* 1 chunk, 0 end, -1 error */
    void (*close)(sx_op *op);
    /* Optional: does, on the calling thread, whatever must happen before instances of this
     * operator's pipeline run on other threads (a join builds its table), then prepares its
     * streaming child. Returns -1 on error, 1 if the pipeline must run on one thread (a join
     * that spilled), else 0. NULL: nothing to do. */
    int (*prepare)(sx_op *op, mc2_err *err);
    bool exchange; /* an exchange (exec_par.c), not an instance of node's operator */
    mc2_exec *x;
    const mc2_pnode *node;
    const mc2_schema *schema;
};

struct mc2_exec {
    mc2_arena arena;
    mc2_plan *plan;
    const mc2_exec_input *inputs;
    size_t ninputs;
    size_t cap; /* rows per chunk */
    size_t budget;
    size_t mem; /* operator state held now */
    const mc2_spill_store *spill;
    mc2_aead *spill_aead;
    uint64_t spill_next_id;
    mc2_exec_stats stats;
    sx_op *root;
    sx_op **ops; /* every operator, for closing */
    size_t nops, capops;
    sx_chunk *pending; /* mc2_exec_next: a chunk partly copied out */
    size_t pending_off;
    bool done;
    /* Parallel pipelines (exec_par.c). A worker executor builds and owns the operators of one
     * pipeline instance; its `main` is the executor whose operators built the shared state
     * (join tables, the scans' block dispensers). */
    unsigned threads;
    bool in_segment; /* building the instance of a parallel pipeline: no nested exchange */
    bool ordered;    /* exchanges keep block order (sx_order_sensitive) */
    mc2_exec *main;
    pthread_mutex_t mu; /* main executor: guards mem and stats updated by workers */
    /* Block skipping (exec_prune.c): the FILTER whose child is being built, if any. */
    const mc2_pnode *prune_filter;
    bool read_all; /* mc2_exec_opts.read_all_blocks */
};

/* Memory accounting: operators add what they hold and subtract what they release. */
static inline void sx_mem_add(mc2_exec *x, size_t n)
{
    x->mem += n;
    if (x->mem > x->stats.peak_mem) x->stats.peak_mem = x->mem;
}
static inline void sx_mem_sub(mc2_exec *x, size_t n)
{
    x->mem = n > x->mem ? 0 : x->mem - n;
}
static inline bool sx_over_budget(const mc2_exec *x)
{
    return x->mem > x->budget;
}

/* Pulls the next chunk from op, after checking the job's CPU time limit (base/intr.h): every
 * operator pulls its children through this, so a long query stops within a chunk. */
static inline int sx_pull(sx_op *op, sx_chunk **out, mc2_err *err)
{
    if (mc2_intr_check(err)) return -1;
    return op->next(op, out, err);
}

void *sx_alloc(mc2_exec *x, size_t n, mc2_err *err);
void *sx_array(mc2_exec *x, size_t count, size_t size, mc2_err *err);
/* A chunk with buffers for cap rows of schema s (nulls allocated for every column). */
sx_chunk *sx_chunk_new(mc2_exec *x, const mc2_schema *s, mc2_err *err);
/* Builds the operator for node n (and its children). */
sx_op *sx_build(mc2_exec *x, const mc2_pnode *n, mc2_err *err);
int sx_register(mc2_exec *x, sx_op *op, mc2_err *err);

sx_op *sx_op_join(mc2_exec *x, const mc2_pnode *n, mc2_err *err);
/* A probe-only instance of join n for a worker executor, sharing primary's built table. */
sx_op *sx_op_join_probe(mc2_exec *x, const mc2_pnode *n, sx_op *primary, mc2_err *err);

/* Block skipping (exec_prune.c, prune.h): if x->prune_filter is a FILTER directly above scan
 * (and skipping is on), the conditions its predicate puts on the blocks' statistics, built in
 * x's arena, for the scan's mc2_tscan (keep = mc2_prune_tkeep); else *out = NULL. */
struct mc2_prune;
int sx_prune_scan(mc2_exec *x, const mc2_pnode *scan, struct mc2_prune **out, mc2_err *err);

/* ---- parallel pipelines (exec_par.c) ----------------------------------------------------
 * An exchange: the pipeline rooted at n (a scan of a streaming input with filters,
 * projections and join probes above it) runs as x->threads instances, one on the calling
 * thread and the others on worker threads, all taking blocks from the same scan; the exchange
 * hands their chunks to its parent one at a time (sink mode, sx_par_set_sink: each instance
 * consumes its own chunks). Join tables are built once, before the workers of the probing
 * pipeline start. Which pipelines qualify: sx_par_qualifies.
 * Unordered (the default): chunks come in whatever order the instances produce them; a
 * worker waits while the parent holds its chunk, so no chunk is copied.
 * Ordered (x->ordered): chunks come in the order of the blocks they derive from, as on one
 * thread, so a result that depends on the order of rows (a DOUBLE sum) is the same for any
 * number of threads. A worker ahead of the oldest unfinished block copies its output (at most
 * PAR_AHEAD blocks' worth) instead of waiting. */
bool sx_par_qualifies(const mc2_exec *x, const mc2_pnode *n);
/* Whether the subtree at n is a pipeline instances could run (streaming operators over a
 * streaming scan of at least two blocks). */
bool sx_par_streams(const mc2_exec *x, const mc2_pnode *n);
/* Whether the rows' order can change the result of the plan at root beyond the order of its
 * output rows: it aggregates DOUBLE values (their sum depends on the order of additions; MIN
 * and MAX choose between -0 and +0). */
bool sx_order_sensitive(const mc2_pnode *root);
/* Makes scan operator o call fn(ctx, block) whenever it claims a block (mc2_tscan_next_cb). */
void sx_scan_on_claim(sx_op *o, mc2_tclaim_fn fn, void *ctx);
sx_op *sx_op_par(mc2_exec *x, const mc2_pnode *n, mc2_err *err);
/* An unordered exchange over a pipeline whose top is not n's own operator: instance 0 is
 * inst0 (built by the caller on x, with x->in_segment set while its pipeline was built), the
 * workers' instances are sx_build(worker, n) (which must build the matching instance). Used
 * by a semi join that builds its outer side: its marking probe runs as inst0 and workers. */
sx_op *sx_op_par_over(mc2_exec *x, const mc2_pnode *n, sx_op *inst0, mc2_err *err);
/* Sink mode: instead of handing its chunks to the parent, instance i of an exchange hands
 * each to fn(ctx, i, block, c, err) on the thread that runs it (i < x->threads; 0 is the
 * calling thread's instance), block being the index of the block its driving scan claimed
 * last (the one c derives from). fn returns 0 when it consumed c, 1 to decline it (the parent
 * gets it as usual, from then on concurrently with other instances' fn calls), -1 on error
 * (err set; the exchange fails). The exchange runs unordered (fn orders rows by block itself).
 * Returns false (and does nothing) if o is not an exchange or has started. A join builds its
 * table this way (exec_join.c, "parallel build"). */
typedef int (*sx_sink_fn)(void *ctx, unsigned inst, uint64_t block, const sx_chunk *c,
                          mc2_err *err);
bool sx_par_set_sink(sx_op *o, sx_sink_fn fn, void *ctx);
/* Stops exchange o's workers and waits for them (par_close does it too; calling it first is
 * for an operator above that shares state with the instances and frees it in its close,
 * which runs before the exchange's). No-op if o is not an exchange. */
void sx_par_stop(sx_op *o);
/* The operator main built for plan node n (the primary instance), or NULL. */
sx_op *sx_primary(const mc2_exec *main, const mc2_pnode *n);
/* Runs op's prepare (see sx_op.prepare), if it has one. */
static inline int sx_prepare(sx_op *op, mc2_err *err)
{
    return op->prepare ? op->prepare(op, err) : 0;
}
sx_op *sx_op_agg(mc2_exec *x, const mc2_pnode *n, mc2_err *err);
sx_op *sx_op_sort(mc2_exec *x, const mc2_pnode *n, mc2_err *err);

/* Copies rows src[sel[i]] (sel NULL: rows 0..n) of a vector of type t into dst at dst_off;
 * dst has a nulls buffer. Strings are copied as references. */
void sx_vec_gather(enum mc2_type t, sx_vec *dst, size_t dst_off, const sx_vec *src,
                   const uint32_t *sel, size_t n);
/* Sets rows [off, off+n) of dst (with a nulls buffer) to NULL. */
void sx_vec_set_null(enum mc2_type t, sx_vec *dst, size_t off, size_t n);
/* dst = src shifted by off rows (no copy). */
void sx_vec_slice(enum mc2_type t, sx_vec *dst, const sx_vec *src, size_t off);

/* ---- expressions at run time ------------------------------------------------------------- */

typedef struct sx_ex sx_ex;
/* Instantiates e for evaluation over chunks of at most x->cap rows. */
sx_ex *sx_ex_new(mc2_exec *x, const mc2_pexpr *e, mc2_err *err);
/* Evaluates over rows [0, in->n) of in; *res is valid until the next evaluation. */
int sx_ex_eval(sx_ex *ex, const sx_chunk *in, sx_vec **res, mc2_err *err);
void sx_ex_free(sx_ex *ex);
/* Indices of rows where a BOOL vector is TRUE; returns the count. */
size_t sx_select_true(const sx_vec *v, size_t n, uint32_t *sel);

/* ---- row stores -------------------------------------------------------------------------- */

/* Rows of a schema held column-wise in growable arrays (strings copied into a heap). */
typedef struct sx_rows {
    const mc2_schema *s;
    size_t n, cap;
    uint8_t **nulls;
    void **vals;
    sx_heap heap;
    size_t bytes; /* held, for accounting */
} sx_rows;

void sx_rows_init(sx_rows *r, const mc2_schema *s);
/* Appends rows sel[0..n) (sel NULL: 0..n) of c; adds what it allocates to x->mem. */
int sx_rows_append(mc2_exec *x, sx_rows *r, const sx_chunk *c, const uint32_t *sel, size_t n,
                   mc2_err *err);
/* Makes room for n more rows. */
int sx_rows_reserve(mc2_exec *x, sx_rows *r, size_t n, mc2_err *err);
/* Copies store rows idx[0..n) (idx NULL: rows from..from+n) into columns [col0, ..) of out at
 * out_off (string references point into the store). */
void sx_rows_gather(const sx_rows *r, const uint32_t *idx, size_t from, size_t n, sx_chunk *out,
                    size_t col0, size_t out_off);
void sx_rows_free(mc2_exec *x, sx_rows *r);

/* ---- keys -------------------------------------------------------------------------------- */

/* Normalized (memcmp-ordered) keys of the rows of a chunk: row i's key is
 * data[off[i] .. off[i] + len[i]). */
typedef struct sx_keys {
    uint32_t *off, *len;
    uint8_t *data;
    size_t data_cap;
    uint64_t *hash;
    uint8_t *anynull; /* 1 if some key column is NULL */
} sx_keys;
typedef struct sx_keyspec {
    unsigned col;
    enum mc2_type type;
    bool desc, nulls_first;
} sx_keyspec;
int sx_keys_init(mc2_exec *x, sx_keys *k, mc2_err *err);
/* Encodes the keys of rows 0..c->n and (if want_hash) their hashes. */
int sx_keys_encode(mc2_exec *x, sx_keys *k, const sx_chunk *c, const sx_keyspec *ks, size_t nk,
                   bool want_hash, mc2_err *err);
void sx_keys_free(sx_keys *k);
uint64_t sx_hash_bytes(const uint8_t *p, size_t n);
/* a[0..n) == b[0..n), inlined for the short keys that dominate. */
static inline bool sx_key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n <= 16 && n >= 8) {
        uint64_t x0, y0, x1, y1;
        __builtin_memcpy(&x0, a, 8);
        __builtin_memcpy(&y0, b, 8);
        __builtin_memcpy(&x1, a + n - 8, 8);
        __builtin_memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n > 16 && n <= 32) { /* two INT64 keys (18 bytes), ... */
        uint64_t x[4], y[4];
        __builtin_memcpy(x, a, 16);
        __builtin_memcpy(y, b, 16);
        __builtin_memcpy(x + 2, a + n - 16, 16);
        __builtin_memcpy(y + 2, b + n - 16, 16);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
    }
    return n == 0 || __builtin_memcmp(a, b, n) == 0;
}

/* ---- spilling ---------------------------------------------------------------------------- */

/* A run: a sequence of sealed blocks in the spill store. */
typedef struct sx_run {
    uint64_t *ids;
    size_t nblocks, cap;
    uint64_t rows;
} sx_run;

/* Writer: records appended into a 64 KiB buffer sealed and put when full. */
typedef struct sx_runw {
    sx_run run;
    uint8_t *buf;
    size_t len, cap;
} sx_runw;
int sx_runw_init(mc2_exec *x, sx_runw *w, mc2_err *err);
/* Appends one record of n bytes (grows the buffer for big records). */
int sx_runw_put(mc2_exec *x, sx_runw *w, const uint8_t *p, size_t n, mc2_err *err);
/* Reserves n bytes of the current record space: returns a pointer to write into. */
uint8_t *sx_runw_space(mc2_exec *x, sx_runw *w, size_t n, mc2_err *err);
int sx_runw_finish(mc2_exec *x, sx_runw *w, mc2_err *err);
void sx_runw_free(sx_runw *w);

/* Reader: the blocks of a run in order, records delimited by u32 lengths. */
typedef struct sx_runr {
    const sx_run *run;
    size_t block;
    uint8_t *buf;
    size_t len, pos, cap;
} sx_runr;
/* Next record in *p / *n: 1, 0 at the end, -1 on error. */
int sx_runr_next(mc2_exec *x, sx_runr *r, const uint8_t **p, size_t *n, mc2_err *err);
void sx_runr_free(sx_runr *r);
void sx_run_drop(mc2_exec *x, sx_run *run);

/* Row codec: row i of chunk c (schema s) appended as bytes; decoded into row j of out
 * (strings into heap). */
size_t sx_row_size(const mc2_schema *s, const sx_chunk *c, size_t i);
void sx_row_encode(const mc2_schema *s, const sx_chunk *c, size_t i, uint8_t *p);
int sx_row_decode(const mc2_schema *s, const uint8_t *p, size_t n, sx_chunk *out, size_t j,
                  sx_heap *heap, mc2_err *err);

#endif
