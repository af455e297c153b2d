/* mesh.h - the enclave mesh: authenticated, complete, exactly-once messaging between the
 * attested enclaves (ranks) of one distributed job, over a host that relays every byte and
 * is not trusted (docs/cluster.md, "Enclave mesh"). Pure computation and crypto: this module
 * does no I/O; the caller moves the sealed messages (later: MPI through the host).
 *
 * PEERS. Every rank has an ephemeral X25519 key pair for the job. Its evidence's report data
 * binds the public half, the job nonce and the consortium policy hash:
 *   report_data = SHA-256("mc2 mesh v1 rd" || x25519_pub[32] || job_nonce[32] ||
 *                         policy_hash[32]), zero-padded to 64 bytes   (mc2_mesh_report_data).
 * The caller verifies each peer's evidence with the src/attest verifier; mc2_mesh_check_peer
 * then requires the peer's measurement to equal this rank's own and the report data to bind
 * the peer's X25519 key, this job's nonce and this rank's policy hash.
 *
 * KEYS. For ranks a < b with evidence hashes E_a, E_b (SHA-256 of the evidence bytes):
 *   okm[96] = HKDF-SHA256(ikm = X25519(sec, peer_pub), salt = job_id[32],
 *                         info = "mc2 mesh v1" || E_a || E_b)
 *   K(a->b) = okm[0..32), K(b->a) = okm[32..64), M(a,b) = okm[64..96) (view MAC key).
 *
 * MESSAGES. A sealed message is header[57] || ciphertext[len] || tag[16], where
 *   header = job_id[32] | stage u32 | sender u32 | receiver u32 | seq u64 | last u8 | len u32
 * (little-endian) is the AES-256-GCM associated data, under K(sender->receiver), with
 *   nonce = dir u8 (0 if sender < receiver, else 1) | stage u24 | seq u64.
 * The sender assigns seq 0, 1, 2, ... per (stage, receiver) and refuses to seal after `last`,
 * so (key, nonce) never repeats.
 *
 * STAGE GRAPH. The job's DAG (fixed by its signed job text) is a list of stages, each a set
 * of edges sender -> receiver that must carry messages (at least one, the last flagged).
 * A receiver accepts, per stage and sender, seq 0, 1, 2, ... in order, exactly once, ending
 * with last. Anything else fails the mesh for good (every later call fails too) with an
 * MC2_E_AUTH "integrity error" naming the stage and the claimed sender, never a payload byte.
 *
 * FINAL STAGES. The graph's last n_final stages (0 unless set) carry the agreement itself (the
 * views and a verdict: src/mesh/coll.h). They are tracked like any stage but are not part of
 * the transcripts, and a view or an agreement needs only the stages before them complete: a
 * view cannot cover the message that carries it.
 *
 * TRANSCRIPT. Per edge (i -> j) both ends chain d = SHA-256(d || record), d_0 = 32 zero bytes,
 *   record = stage u32 | sender u32 | receiver u32 | seq u64 | last u8 | len u32 | tag[16]
 * over every message of a non-final stage i sealed for j (at i) and opened from i (at j). At the
 * end each rank i produces a VIEW for the releasing rank r (the one that will release the result):
 *   "mc2 mesh view v1" | job_id[32] | graph_hash[32] | rank u32 | n_ranks u32 |
 *   for j in 0..n-1: sent_i->j[32] | recv_j->i[32] |  HMAC-SHA256(M(i,r), all before)
 * Rank r checks each view's MAC (only i and r know M(i,r): the host cannot forge a view) and
 * that for every edge what i says it sent to j equals what j says it received from i
 * (mc2_mesh_agree). The result may be released only if that succeeds. Per-pair MAC keys
 * rather than one job-wide key: no rank holds every pair's secret, and a job-wide key would
 * need one more distribution round; a per-pair key also authenticates which rank a view is
 * from. */
#ifndef MC2_MESH_H
#define MC2_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/attest.h"
#include "mc2/crypto.h"
#include "mc2/err.h"

#define MC2_MESH_MAX_RANKS   64
#define MC2_MESH_MAX_STAGES  8192
#define MC2_MESH_HDR_LEN     57
#define MC2_MESH_OVERHEAD    (MC2_MESH_HDR_LEN + MC2_TAG_LEN)
#define MC2_MESH_MAX_PAYLOAD (1u << 30)
#define MC2_MESH_VIEW_LEN(n) (16 + 32 + 32 + 4 + 4 + 64 * (size_t)(n) + 32)

/* One stage: edges[s] has bit r set if sender s sends to receiver r in this stage. */
typedef struct mc2_mesh_stage {
    uint64_t edges[MC2_MESH_MAX_RANKS];
} mc2_mesh_stage;

/* The stage graph: n_ranks (2..64) ranks, n_stages (1..256) stages, the last n_final of them
 * (0..n_stages-1) final (see FINAL STAGES). Its hash (docs/cluster.md) covers all of it. */
typedef struct mc2_mesh_graph {
    uint32_t n_ranks;
    uint32_t n_stages;
    const mc2_mesh_stage *stages;
    uint32_t n_final;
} mc2_mesh_graph;

/* What this rank knows about its job. */
typedef struct mc2_mesh_job {
    uint8_t job_id[32];      /* identifies the job (hash of its signed job text) */
    uint8_t nonce[32];       /* fresh per run; bound into every rank's evidence */
    uint8_t policy_hash[32]; /* the consortium policy's hash */
    uint8_t measurement[32]; /* this enclave's own measurement */
} mc2_mesh_job;

typedef struct mc2_mesh mc2_mesh;

/* The report data a rank puts into its evidence (see above). */
int mc2_mesh_report_data(const uint8_t x25519_pub[MC2_X25519_LEN], const uint8_t job_nonce[32],
                         const uint8_t policy_hash[32], uint8_t out[MC2_REPORT_DATA_LEN],
                         mc2_err *err) MC2_WUR;

/* Checks a peer's VERIFIED claims (from mc2_evidence_verify of its evidence): sim format,
 * same measurement as job->measurement, and report data binding peer_pub, job->nonce and
 * job->policy_hash. 0, or -1 with MC2_E_AUTH naming the rank and what differs. */
int mc2_mesh_check_peer(const mc2_mesh_job *job, uint32_t peer_rank, const mc2_claims *claims,
                        const uint8_t peer_pub[MC2_X25519_LEN], mc2_err *err) MC2_WUR;

/* A mesh for rank `self` of the graph (copied; checked: ranks, stages, no self edges, edges
 * only to existing ranks). x_sec is this rank's X25519 secret, fresh for this run of the job
 * and never used for another mesh (else nonces repeat under a key); copied, wiped on free;
 * evidence its own evidence bytes. NULL with *err on failure. */
mc2_mesh *mc2_mesh_new(const mc2_mesh_job *job, const mc2_mesh_graph *g, uint32_t self,
                       const uint8_t x_sec[MC2_X25519_LEN], const uint8_t *evidence,
                       size_t evidence_len, mc2_err *err);
/* Wipes all keys and frees. NULL is a no-op. */
void mc2_mesh_free(mc2_mesh *m);

/* Adds peer `rank` (once): runs mc2_mesh_check_peer on its verified claims (which the caller
 * took from verifying exactly these evidence bytes), then derives the pair's keys. */
int mc2_mesh_add_peer(mc2_mesh *m, uint32_t rank, const mc2_claims *claims, const uint8_t *evidence,
                      size_t evidence_len, const uint8_t peer_pub[MC2_X25519_LEN],
                      mc2_err *err) MC2_WUR;

/* Seals payload[0..n) for `receiver` in `stage` (an edge self -> receiver of that stage, its
 * peer added, not yet closed by a last message) with the next seq. out must hold
 * n + MC2_MESH_OVERHEAD bytes; *out_len is set. */
int mc2_mesh_seal(mc2_mesh *m, uint32_t stage, uint32_t receiver, bool last, const uint8_t *payload,
                  size_t n, uint8_t *out, size_t *out_len, mc2_err *err) MC2_WUR;

/* Opens a sealed message (hostile bytes msg[0..len)) addressed to this rank: checks job,
 * receiver, stage, edge, authentication, seq order and last. The payload (len -
 * MC2_MESH_OVERHEAD bytes) goes to pt (room for that many bytes); *stage, *sender, *last
 * report what it was. Any failure is an integrity error and fails the mesh. */
int mc2_mesh_open(mc2_mesh *m, const uint8_t *msg, size_t len, uint8_t *pt, size_t *pt_len,
                  uint32_t *stage, uint32_t *sender, bool *last, mc2_err *err) MC2_WUR;

/* 0 if every sender of an edge to this rank in `stage` delivered its last message; else an
 * integrity error naming the stage and the first sender missing (and the mesh fails). */
int mc2_mesh_stage_complete(mc2_mesh *m, uint32_t stage, mc2_err *err) MC2_WUR;

/* This rank's view for the releasing rank (every non-final stage complete here, every
 * outgoing edge of those stages closed). out holds MC2_MESH_VIEW_LEN(n_ranks) bytes. */
int mc2_mesh_view(mc2_mesh *m, uint32_t releaser, uint8_t *out, size_t out_len,
                  mc2_err *err) MC2_WUR;

/* At the releasing rank (self): views[i] / lens[i] is rank i's view (hostile bytes;
 * views[self] is ignored, its own state is used). 0 only if every view authenticates and
 * every edge's sent and received transcripts agree; else an integrity error naming the
 * ranks. */
int mc2_mesh_agree(mc2_mesh *m, const uint8_t *const *views, const size_t *lens,
                   mc2_err *err) MC2_WUR;

#endif
