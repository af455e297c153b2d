/* rank.h - UNTRUSTED: mc2-rank, the per-rank host program of a distributed job
 * (docs/cluster.md, "Distributed jobs: one enclave per rank"). Open MPI's mpirun starts one
 * per rank; it carries sealed mesh bytes between its "peer" and MPI and never sees a key:
 *   rank 0     the peer is mc2d's unix socket (DIR/mesh.sock), i.e. the leader enclave;
 *   rank r>=1  the peer is a worker enclave it starts (INIT flag worker) on its host's state
 *              directory D_r, whose storage reads it serves read-only from D_r's store.
 *
 * PROTOCOL (ch = the mesh id on every frame; "world" = MPI_COMM_WORLD's duplicate):
 *   1. rank 0 connects to the socket and reads mc2d's first frame, EIF_MESH_LAUNCH (the
 *      leader's payload); MPI_Ibcast of {status, id, length} then the payload to all ranks
 *      (status != 0: every rank exits 1).
 *   2. rank r >= 1 starts its worker enclave and sends it EIF_MESH_JOIN {r u32 | payload}.
 *   3. every rank waits for its peer's EIF_MESH_HELLO; MPI_Iallgather of the hellos'
 *      lengths, then MPI_Iallgatherv of the hellos (a rank whose peer is gone contributes an
 *      empty one, so the collective completes); every rank whose hellos are all non-empty
 *      sends its peer EIF_MESH_PEERS (n x hello LV, rank order).
 *   4. relay: the peer's EIF_MESH_SEND {to | msg} -> MPI_Isend(msg) to rank `to` (tag
 *      RANK_TAG_MESH); a message from rank `from` (MPI_Iprobe, any source) -> the peer's
 *      EIF_MESH_DELIVER {from | msg}. A worker's storage reads are answered (store.c's name
 *      checks), its writes, drops and counter requests refused (status 1).
 *   5. faults: a rank whose peer stops before its EIF_MESH_END (channel closed, EIF_FATAL,
 *      a malformed or misaddressed frame), or ends with ok = 0, sends the reason ("rank r:
 *      its enclave stopped (exit status 3)") to every other rank (tag RANK_TAG_FAULT); a rank
 *      receiving one (or the faulting rank itself) sends its peer one EIF_MESH_FAIL with
 *      that text, if the peer is still there and has not ended.
 *   6. the peer's EIF_MESH_END ends a rank's relay (rank 0: it closes the socket): it waits
 *      for its sends to complete (receiving and discarding what still arrives), then for
 *      every rank in MPI_Ibarrier (still discarding), then MPI_Finalize. Exit 0 only if its
 *      peer's END said ok and no fault happened here.
 * Every wait polls (no blocking MPI call while a frame could be waiting) and the whole run is
 * bounded by --timeout-s: past it the rank names what it waited for and MPI_Abort's. */
#ifndef MC2_RANK_RANK_H
#define MC2_RANK_RANK_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/launch.h"
#include "host/tee.h"
#include "server/server.h" /* srv_outq, srv_object_path */

#define RANK_TAG_MESH   0x6d31
#define RANK_TAG_FAULT  0x6d32
#define RANK_HELLO_MAX  ((size_t)256 << 10) /* one hello (key and evidence) */
#define RANK_SENDS_HIGH ((size_t)256 << 20) /* unsent MPI bytes: the peer is not read */
#define RANK_FAULT_MAX  480                 /* a fault's text */
#define RANK_POLL_MS    5                   /* the peer is polled this long per turn */

enum rank_phase {
    RK_HELLO,  /* waiting for the peer's hello */
    RK_GATHER, /* the hellos' allgather runs */
    RK_RUN,    /* relaying */
    RK_DRAIN,  /* the peer ended: waiting for our sends */
    RK_BARRIER /* ... then for every rank */
};

typedef struct rank_send {
    MPI_Request req;
    uint8_t *buf;
    size_t len;
} rank_send;

typedef struct rank_ctx {
    /* options */
    const char *leader, *enclave_path, *tee_name, *tee_opts;
    char **dirs;
    uint32_t budget_mb;
    int timeout_s;
    /* MPI */
    MPI_Comm comm;
    int self, n;
    int64_t deadline_ms;
    uint64_t sent_msgs, sent_bytes; /* mesh messages this rank sent over MPI (its last line) */
    /* the launch */
    uint32_t id;
    uint8_t *launch;
    uint32_t launch_len;
    /* the peer: the leader's socket (rank 0) or the worker enclave */
    char *store; /* D_r/store (workers) */
    mc2_tee tee;
    mc2_enclave_proc enc;
    int fd;
    mc2_buf in;
    srv_outq out;
    bool peer_gone, ended, end_ok, fail_sent, fault_here;
    /* phase */
    enum rank_phase phase;
    uint8_t *hello;
    size_t hello_len;
    int *lens, *displs;
    uint8_t *hellos;
    MPI_Request coll;
    int coll_step; /* RK_GATHER: 0 lengths, 1 hellos */
    rank_send *sends;
    size_t nsend, capsend, send_bytes;
} rank_ctx;

static inline bool rank_peer_open(const rank_ctx *k)
{
    return k->fd >= 0 && !k->peer_gone;
}

/* ---- peer.c: the peer's frames ---- */
/* Handles the whole frames in k->in (per phase). */
void rank_peer_frames(rank_ctx *k);
/* mc2_launch_opts.serve: answers a worker enclave's request while it starts. */
int rank_enclave_startup(void *ctx, int fd, const mc2_frame *f, mc2_err *err) MC2_WUR;
/* The peer is gone (why: "its enclave stopped (exit status 3)"): reports the fault unless
 * it had ended. */
void rank_peer_lost(rank_ctx *k, const char *why);
/* Queues a frame for the peer (dropped if it is gone). */
void rank_to_peer(rank_ctx *k, uint16_t type, const void *p, size_t n);

/* ---- mpi.c: ranks ---- */
/* A fault here: logged, sent to every other rank, and as EIF_MESH_FAIL to our peer. The text
 * is "rank SELF: " followed by fmt. */
void rank_fault(rank_ctx *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The peer's hello arrived (or the peer is gone: empty): starts the allgather. */
void rank_gather_start(rank_ctx *k, const uint8_t *hello, size_t len);
/* Posts MPI_Isend of msg to rank `to` (copied). */
void rank_send_to(rank_ctx *k, uint32_t to, const uint8_t *msg, size_t len);
/* Ends this rank at once: its worker enclave killed and reaped, then MPI_Abort (which ends
 * every rank, exit status 1). */
void rank_abort(rank_ctx *k) __attribute__((noreturn));
/* One turn of MPI progress: faults, messages (delivered in RK_RUN, discarded later), our
 * sends, the phase's collective. */
void rank_mpi_turn(rank_ctx *k);

#endif
