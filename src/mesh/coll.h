/* coll.h - encrypted collectives over the enclave mesh (mesh.h): allreduce-sum, alltoallv (the
 * shuffle), bcast and gather, and the finish step that agrees on the transcripts and tells
 * every rank the verdict. TRUSTED module mesh: no MPI, no I/O. The caller supplies the
 * transport (struct mc2_coll_transport: later the host's MPI relay, src/mpirelay); it is
 * untrusted, every byte it returns is hostile and goes through mc2_mesh_open.
 *
 * PLAN. A mesh needs its whole stage graph up front, so a job declares its collectives, in
 * order, and mc2_coll_plan_make numbers their stages:
 *   allreduce (f64 or i64)  2 stages: reduce-scatter (every rank -> every other rank),
 *                           then allgather (every rank -> every other rank)
 *   alltoallv               1 stage: every rank -> every other rank
 *   bcast from root         1 stage: root -> every other rank
 *   gather to the releaser  1 stage: every other rank -> releaser
 *   finish                  2 final stages (mesh.h FINAL STAGES): views (every other rank ->
 *                           releaser), then the verdict (releaser -> every other rank)
 * Op k's first stage is plan->first_stage[k]; the stages follow one another in the order of
 * the ops. The plan also fixes the chunk size C (the largest payload of one message; every
 * rank must use the same plan). Each rank calls the collectives in the declared order, then
 * mc2_coll_finish; a call out of order is MC2_E_USAGE.
 *
 * MESSAGES. Every payload is a mesh message (mesh.h: job, stage, sender, receiver, seq, last
 * authenticated): whole chunks are sealed, never single elements. Elements are little-endian
 * (IEEE-754 binary64, two's complement int64; this build requires a little-endian host).
 *   byte stream (alltoallv, bcast, gather): the stream total u64 || data[total] is cut into
 *     messages of C bytes (the last one shorter; at least one message, even for total 0);
 *     the receiver requires exactly that layout, total <= MC2_COLL_MAX_BYTES.
 *   allreduce: the vector of n elements is split into n_ranks blocks, block b (owned by
 *     rank b) = elements [b*q + min(b, r), ...) with q = n / n_ranks, r = n % n_ranks, of q
 *     elements plus one if b < r. Reduce-scatter: rank i sends its block b to rank b as
 *     messages of C/8 elements (at least one message, maybe empty); rank b sums, element by
 *     element, the contributions in rank order 0, 1, ..., n_ranks-1 (double addition in that
 *     fixed order; int64 wrapping). Allgather: rank b sends the summed block b to every rank
 *     in the same layout. Every rank therefore holds the bit-identical result, and two runs
 *     on the same inputs give the same bits. The receiver requires each message's length.
 *   views: one message per rank i != releaser, its view (mesh.h) for the releaser.
 *   verdict: one message from the releaser to every other rank: "mc2 coll verdict" (16
 *     bytes) | 1 u8, sent only if mc2_mesh_agree succeeded there.
 * A rank receives, per stage, the senders in rank order, each sender's messages in seq
 * order; the transport keeps each (sender, receiver) pair's messages in order (MPI does).
 * Every rank posts all its sends of a stage before it receives any, and the transport's send
 * does not wait for the receiver, so no cycle of waits can form.
 *
 * TRANSPORT. send(ctx, to, msg, len): hands a sealed message for rank `to` to the host; it
 * must not wait for the receiver; msg stays valid and unchanged until the next flush.
 * recv(ctx, from, buf, cap, &len): the next message the host delivers as from rank `from`,
 * into buf (cap bytes); a message larger than cap, or none within the transport's timeout,
 * is an error (a timeout's error names the rank). flush(ctx): waits until every sent message
 * has left (called after each stage's receives, so never while a peer waits on us).
 *
 * ERRORS. Any failure fails the collective context for good (every later call fails): an
 * integrity error from the mesh (MC2_E_AUTH, naming the stage and the sender), a message of
 * another stage or sender than expected, a wrong length or layout (MC2_E_AUTH, naming the
 * stage and the rank), a transport error (its code, prefixed with the stage and op). No
 * message contains a data value. A failed releaser sends no verdict: the other ranks then
 * fail by their transport's timeout (or the host aborts the job); nothing is released
 * without the verdict.
 *
 * LIMITS. 2..64 ranks (mesh), at most MC2_COLL_MAX_OPS ops, chunk size MC2_COLL_MIN_CHUNK..
 * MC2_COLL_MAX_CHUNK (a multiple of 8), a byte stream at most MC2_COLL_MAX_BYTES, an
 * allreduce vector at most MC2_COLL_MAX_BYTES / 8 elements. */
#ifndef MC2_COLL_H
#define MC2_COLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mesh/mesh.h"

#define MC2_COLL_MAX_OPS       4000
#define MC2_COLL_MIN_CHUNK     64
#define MC2_COLL_MAX_CHUNK     (16u << 20)
#define MC2_COLL_DEFAULT_CHUNK (1u << 20)
#define MC2_COLL_MAX_BYTES     ((uint64_t)1 << 34)
#define MC2_COLL_FINAL_STAGES  2

enum mc2_coll_kind {
    MC2_COLL_ALLREDUCE_F64,
    MC2_COLL_ALLREDUCE_I64,
    MC2_COLL_ALLTOALLV,
    MC2_COLL_BCAST,
    MC2_COLL_GATHER
};

/* One declared collective; root is the bcast's root (ignored otherwise). */
typedef struct mc2_coll_op {
    enum mc2_coll_kind kind;
    uint32_t root;
} mc2_coll_op;

/* A job's plan: its ops, their stages and the graph to build the mesh from. */
typedef struct mc2_coll_plan {
    uint32_t n_ranks, releaser, n_ops;
    uint32_t chunk;
    mc2_coll_op ops[MC2_COLL_MAX_OPS];
    uint32_t first_stage[MC2_COLL_MAX_OPS];
    uint32_t finish_stage; /* the views; the verdict is finish_stage + 1 */
    mc2_mesh_stage *stages;
    mc2_mesh_graph graph; /* for mc2_mesh_new: graph.stages points into stages */
} mc2_coll_plan;

/* The untrusted transport (see TRANSPORT above). Each function returns 0, or -1 with *err. */
typedef struct mc2_coll_transport {
    void *ctx;
    int (*send)(void *ctx, uint32_t to, const uint8_t *msg, size_t len, mc2_err *err);
    int (*recv)(void *ctx, uint32_t from, uint8_t *buf, size_t cap, size_t *len, mc2_err *err);
    int (*flush)(void *ctx, mc2_err *err);
} mc2_coll_transport;

typedef struct mc2_coll mc2_coll;

/* The plan for ops[0..n_ops) on n_ranks ranks releasing at `releaser`, chunk size `chunk`
 * (0: MC2_COLL_DEFAULT_CHUNK). NULL with *err (MC2_E_USAGE, MC2_E_LIMIT) on a bad request.
 * Free with mc2_coll_plan_free. */
mc2_coll_plan *mc2_coll_plan_make(const mc2_coll_op *ops, uint32_t n_ops, uint32_t n_ranks,
                                  uint32_t releaser, uint32_t chunk, mc2_err *err);
void mc2_coll_plan_free(mc2_coll_plan *p);

/* A collective context for mesh m (made from plan->graph, every peer added) at rank `self`
 * over transport t. The plan and transport must outlive it; m is not owned. */
mc2_coll *mc2_coll_new(mc2_mesh *m, const mc2_coll_plan *p, uint32_t self,
                       const mc2_coll_transport *t, mc2_err *err);
/* Wipes the plaintext scratch and frees. If sends are pending (after a failure) it flushes
 * the transport first; if that fails, the sealed buffers the transport may still read are
 * left allocated. NULL is a no-op. */
void mc2_coll_free(mc2_coll *c);

/* Allreduce-sum, in place, of v[0..n) (n the same on every rank). */
int mc2_coll_allreduce_f64(mc2_coll *c, double *v, size_t n, mc2_err *err) MC2_WUR;
int mc2_coll_allreduce_i64(mc2_coll *c, int64_t *v, size_t n, mc2_err *err) MC2_WUR;

/* The shuffle: send[j][0..send_len[j]) goes to rank j (send[self] is copied to recv[self]).
 * recv[i] (malloc'd, free() it; non-NULL even when empty) / recv_len[i] is what rank i sent
 * here. On failure recv[] holds NULLs. */
int mc2_coll_alltoallv(mc2_coll *c, const uint8_t *const *send, const size_t *send_len,
                       uint8_t **recv, size_t *recv_len, mc2_err *err) MC2_WUR;

/* Broadcast from the op's root: at the root buf and len are the input (unchanged); elsewhere
 * buf is set to a malloc'd copy of the root's bytes and len to their length. */
int mc2_coll_bcast(mc2_coll *c, uint8_t **buf, size_t *len, mc2_err *err) MC2_WUR;

/* Gather to the releaser: every rank passes buf/len; at the releaser out[i] (malloc'd) /
 * out_len[i] is rank i's bytes (out[releaser] a copy of its own); elsewhere out may be NULL. */
int mc2_coll_gather(mc2_coll *c, const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
                    mc2_err *err) MC2_WUR;

/* After the last declared op: every rank sends its view to the releaser, which runs
 * mc2_mesh_agree and, only if it succeeds, sends every rank the sealed verdict. 0 at a rank
 * means: every message of the job arrived exactly once and in order, every rank's
 * transcripts agree, and the result may be released. */
int mc2_coll_finish(mc2_coll *c, mc2_err *err) MC2_WUR;

#endif
