/* meshrt.h - TRUSTED: distributed jobs inside the enclave: the mesh of a job's ranks built
 * over the host interface, and the collectives a job kind runs on it (docs/cluster.md,
 * "Distributed jobs: one enclave per rank"). Rank 0 is the leader (the enclave the job was
 * submitted to); ranks 1..N-1 are worker enclaves started for this job only (INIT flag bit 1).
 *
 * RUN. Leader: enc_mesh_lead() from a kind's `run` when the job's text has `param ranks N`,
 * N >= 2: plan (op 0 = the bundle bcast, then kind->plan's ops), EIF_MESH_LAUNCH, hello,
 * peers, mesh, bundle, kind->run_rank(self 0), finish; results may be released only after it
 * returned 0. Worker: on EIF_MESH_JOIN the main thread keeps the join (enc_mesh_frame) and
 * the runner thread runs enc_mesh_work(): hello, peers, mesh, bundle (job text, keys), the
 * plan check, kind->run_rank(self r), finish, EIF_MESH_END; a worker writes no result.
 * Every rank sends EIF_MESH_END {ok} once its run is over, failed or not.
 *
 * CHANNEL. Every mesh frame, both ways, carries the mesh id: the leader's job id (j->id),
 * low 32 bits; the host copies LAUNCH's to JOIN, PEERS, DELIVER and FAIL.
 *
 * THREADS. The main thread hands mesh frames from the host to enc_mesh_frame() (it queues
 * them and wakes the waiter; it never blocks); the job's thread waits in the transport's
 * recv. At most one mesh exists at a time (the runner runs one job at a time).
 *
 * HOSTILE INPUT. JOIN, PEERS, DELIVER and FAIL come from the host: every length and count is
 * checked; a peer's hello is accepted only through the attestation verifier and
 * mc2_mesh_add_peer; a DELIVER goes through mc2_mesh_open (via mc2_coll). Unread DELIVER
 * bytes are capped at ENC_MESH_INBOX_MAX (beyond: the mesh fails). No error names a data
 * value or a key. */
#ifndef MC2_ENCLAVE_MESHRT_H
#define MC2_ENCLAVE_MESHRT_H

#include <stdbool.h>
#include <stdint.h>

#include "enclave/enclave.h"
#include "mesh/coll.h"

#define ENC_MESH_INBOX_MAX     (256ull << 20)
#define ENC_MESH_TIMEOUT_S     60u /* default job param mesh_timeout_s */
#define ENC_MESH_TIMEOUT_MAX_S 3600u
#define ENC_MESH_MAX_KIND_OPS  (MC2_COLL_MAX_OPS - 1) /* op 0 is the bundle */

/* A job's mesh as a kind sees it. */
typedef struct enc_mesh {
    uint32_t self, n_ranks;
    mc2_coll *coll; /* the kind's ops, in its plan's order, then nothing: finish is ours */
    /* Rows a rank reads of an input: the blocks [first, first + count) of its nblocks
     * (enc_mesh_block_range). */
} enc_mesh;

/* The blocks rank `self` of `n_ranks` reads of an input of `nblocks` blocks: the contiguous
 * range [nblocks*self/n_ranks, nblocks*(self+1)/n_ranks) (each block read by exactly one
 * rank). */
void enc_mesh_block_range(uint64_t nblocks, uint32_t self, uint32_t n_ranks, uint64_t *first,
                          uint64_t *count);

/* The job's rank count: its `ranks` param (absent: 1), checked 1..MC2_MESH_MAX_RANKS. */
int enc_mesh_ranks(const mc2_job *job, uint32_t *n, mc2_err *err) MC2_WUR;
/* The leader's wait for any one mesh frame, in seconds: its `mesh_timeout_s` param (absent:
 * ENC_MESH_TIMEOUT_S), checked 1..ENC_MESH_TIMEOUT_MAX_S. */
int enc_mesh_timeout_s(const mc2_job *job, uint32_t *s, mc2_err *err) MC2_WUR;
/* Whether `key` is one of the mesh's job params (ranks, mesh_timeout_s): a kind that runs
 * distributed accepts them in its `check`, after enc_mesh_check_params checked both. */
bool enc_mesh_param(const char *key);
int enc_mesh_check_params(const mc2_job *job, mc2_err *err) MC2_WUR;

/* Leader side, from kind k's `run` on the runner thread (mu not held): runs job j on
 * n_ranks ranks as described in RUN. 0 only if every rank finished and the transcripts
 * agreed; the kind then releases its results (from what run_rank left in j->kstate or its
 * own state). */
int enc_mesh_lead(enclave *e, enc_job *j, const enc_kind *k, uint32_t n_ranks,
                  mc2_err *err) MC2_WUR;

/* Main thread: a mesh frame from the host (EIF_MESH_JOIN/PEERS/DELIVER/FAIL); e->mu held for
 * a JOIN (it wakes the runner), not needed for the others (the box has its own lock). It
 * may move f's payload. On the current mesh's channel a frame is checked and queued, and a
 * malformed one (or a DELIVER beyond the inbox cap, a second PEERS) fails the mesh at once:
 * every wait of the job's thread returns that error. A frame for no current mesh (another
 * channel, none active) is dropped. JOIN: dropped by a leader; a worker accepts the first
 * well-formed one and drops later ones; a malformed one is answered EIF_MESH_END {0} on its
 * channel. -1 only if a frame to the host cannot be sent (fatal). */
int enc_mesh_frame(enclave *e, mc2_frame *f, mc2_err *err) MC2_WUR;

/* Worker (e->mu held, runner thread): whether a JOIN was accepted (enc_mesh_work is due). */
bool enc_mesh_joined(enclave *e);
/* Harnesses (fuzz_meshrt): forgets every queued frame, the JOIN and the failure. */
void enc_mesh_reset(enclave *e);

/* Worker, runner thread, once after the JOIN: runs the job the JOIN named (see RUN), under
 * the enclave's memory budget and the job's CPU limit, and sends EIF_MESH_END {ok} whatever
 * happens; the keys the bundle installed are wiped before it returns. The worker then serves
 * nothing more (its host stops it). */
int enc_mesh_work(enclave *e, mc2_err *err) MC2_WUR;

#endif
