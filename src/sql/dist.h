/* dist.h - TRUSTED: a physical plan run on several ranks (docs/sql-exec.md, "Distributed
 * execution"). Every rank holds a share of every input (a range of its blocks: a placed
 * table's part) and runs the same code on the same plan; the rows move between ranks only
 * through exchanges, each one collective of the caller's transport (in the enclave, the
 * encrypted collectives of mesh/coll.h: every byte sealed between attested enclaves).
 *
 * DISTRIBUTIONS. Every node's output is, across the ranks, one of
 *   PART  each row on exactly one rank (a scan of a ranged input; anything computed row by
 *         row from PART rows);
 *   ONE   every row on rank 0, none elsewhere;
 *   REP   every row on every rank (a broadcast build side).
 * mc2_dist_prepare walks the plan bottom-up and, where an operator needs more than its
 * input's distribution gives, puts an EXCHANGE below it: the subtree under the exchange runs
 * to its end on every rank, its rows move, and a scan of what arrived (an extra input)
 * takes the subtree's place. Exchanges:
 *   HASH(keys)  each row goes to rank hash(keys) mod N (equal keys meet; NULL keys and
 *               -0.0/0.0 hash alike) -> PART, grouped by those keys
 *   GATHER      every row to rank 0 -> ONE
 *   BCAST       every row to every rank -> REP
 *   JOIN PAIR   both sides of a join: the ranks first add up their two row counts (one
 *               allreduce), then either broadcast the right (build) side and keep the left
 *               where it is, when  right rows x (N - 1) <= left rows  (a small build side),
 *               or HASH both sides on the join keys. Both choices use the same collectives
 *               (the left side's is empty when it stays), so the plan's list of collectives
 *               does not depend on the data.
 * Operators (encryption mode only; oblivious plans are refused on several ranks):
 *   SCAN PART; VALUES ONE; FILTER, PROJECT keep their input's.
 *   AGG with keys: PART input -> PARTIAL aggregation on each rank, HASH on the keys, FINAL
 *     (a DISTINCT aggregate or a DOUBLE argument: HASH the input rows, then aggregate);
 *     ONE or REP input: as is. AGG without keys: PART -> PARTIAL, GATHER, FINAL -> ONE.
 *   HASH/NL JOIN: a REP right side with an INNER/LEFT/SEMI/ANTI join: as is (left's
 *     distribution); both ONE (or REP): as is; otherwise an equi-join takes a JOIN PAIR
 *     (RIGHT/FULL: always HASH; a NOT IN anti join: always BCAST), a nested-loop join
 *     BCASTs its right side (RIGHT/FULL: GATHER both sides) -> PART.
 *   SORT: GATHER (below a LIMIT: each rank's own top rows first) -> ONE.
 *   LIMIT: its input ONE (a PART input: each rank's first limit + offset rows, GATHER).
 *   SETOP: UNION ALL keeps PART; UNION/INTERSECT/EXCEPT [ALL] HASH both sides on every
 *     column (or, ONE/REP inputs: as is).
 *   The root ends ONE: rank 0 alone runs what remains above the last exchange.
 * A REP input where an operator would repeat its rows on every rank becomes ONE: every
 * rank but 0 replaces it with an empty scan. Likewise a ONE node is empty on ranks != 0.
 *
 * DETERMINISM. The exchanges, their order (the steps run in the walk's post-order) and so
 * the collectives are a function of the plan and N only; rows arrive in sender order (rank
 * 0, 1, ...), each sender's in the order its subtree produced them. Results equal one
 * rank's where SQL fixes them (sums of DOUBLE may differ in the last bits, as on several
 * threads; ORDER BY ties may come in another order).
 *
 * WIRE. An exchange's byte stream from one rank to another: frames of u32 rows (1..65536),
 * u32 len, then the rows as a block payload (mc2_batch_encode, docs/format.md) of the
 * subtree's schema; the receiver decodes each with mc2_batch_decode (every length, offset,
 * value checked) and requires the stream to end exactly after a frame.
 *
 * MEMORY. An exchange holds its rank's rows of the subtree, what it sends, and what it
 * received, in memory (not spilled; docs/sql-exec.md says so). */
#ifndef MC2_SQL_DIST_H
#define MC2_SQL_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "sql/plan.h"

#define MC2_DIST_MAX_RANKS 64
#define MC2_DIST_MAX_STEPS 256

/* One collective, in the order a rank calls them. */
enum mc2_dist_coll { MC2_DIST_ALLTOALLV = 1, MC2_DIST_ALLREDUCE_I64 };

/* The caller's transport for one query at rank `self` of `n_ranks`. Every rank calls the
 * same collectives in the same order (mc2_dist_colls). Each returns 0 or -1 with *err.
 * alltoallv: send[j][0..send_len[j]) goes to rank j (send[self] included); recv[i] (malloc'd,
 * non-NULL, the caller frees it) / recv_len[i] is what rank i sent here.
 * allreduce_i64: v[0..n) summed over the ranks, in place, the same on every rank. */
typedef struct mc2_dist_comm {
    void *ctx;
    uint32_t self, n_ranks;
    int (*alltoallv)(void *ctx, const uint8_t *const *send, const size_t *send_len, uint8_t **recv,
                     size_t *recv_len, mc2_err *err);
    int (*allreduce_i64)(void *ctx, int64_t *v, size_t n, mc2_err *err);
} mc2_dist_comm;

typedef struct mc2_dist mc2_dist;

/* What moved, at this rank. */
typedef struct mc2_dist_stats {
    uint64_t rows_sent, bytes_sent; /* to other ranks */
    uint64_t rows_received, bytes_received;
    unsigned exchanges, broadcast_joins, shuffled_joins;
} mc2_dist_stats;

/* Rewrites the plan at *root (built in p from a compile over ninputs inputs; encryption
 * mode) for rank self of n_ranks (2..MC2_DIST_MAX_RANKS), as DISTRIBUTIONS says; *root may
 * change. The exchanges' scans read inputs ninputs, ninputs + 1, ...: mc2_dist_inputs makes
 * that array. MC2_E_LIMIT beyond MC2_DIST_MAX_STEPS exchanges. */
int mc2_dist_prepare(mc2_plan *p, mc2_pnode **root, size_t ninputs, uint32_t self, uint32_t n_ranks,
                     mc2_dist **out, mc2_err *err) MC2_WUR;

/* The collectives the exchanges call, in order: *n of them in out[0..cap) (MC2_E_LIMIT if
 * more than cap). The same list on every rank. */
int mc2_dist_colls(const mc2_dist *d, enum mc2_dist_coll *out, size_t cap, size_t *n,
                   mc2_err *err) MC2_WUR;

/* Runs every exchange, in order: the subtree under it over inputs[0..ninputs) (every input
 * this rank's share: a ranged src, or batches) and the exchanges before it, with opts; then
 * the collective(s) through c (c->self and c->n_ranks as given to mc2_dist_prepare). On
 * success *all / *nall (owned by d) is the input array for mc2_exec_open of the rewritten
 * root: inputs, then one input per exchange. Only rank 0's root has rows to run. */
int mc2_dist_run(mc2_dist *d, const mc2_dist_comm *c, const mc2_exec_input *inputs, size_t ninputs,
                 const mc2_exec_opts *opts, const mc2_exec_input **all, size_t *nall,
                 mc2_err *err) MC2_WUR;

void mc2_dist_get_stats(const mc2_dist *d, mc2_dist_stats *st);

/* Decodes the stream p[0..len) rank `from` sent in an exchange (WIRE) of rows of schema s,
 * appending one batch per frame to (*out)[0..*n) (grown with mc2_realloc; the caller frees
 * the batches and the array, also on failure). MC2_E_AUTH naming `from` for a malformed
 * frame; the payload errors of mc2_batch_decode otherwise. mc2_dist_run decodes with it. */
int mc2_dist_decode(const mc2_schema *s, const uint8_t *p, size_t len, uint32_t from,
                    mc2_batch ***out, size_t *n, mc2_err *err) MC2_WUR;
/* Frees d and the rows it holds (wiped). NULL is a no-op. */
void mc2_dist_free(mc2_dist *d);

#endif
