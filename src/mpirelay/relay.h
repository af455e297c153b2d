/* relay.h - the host's relay for the enclave mesh over MPI: the transport of src/mesh/coll.h
 * (mc2_coll_transport) on MPI point-to-point. UNTRUSTED module mpirelay: it moves sealed
 * bytes between ranks and never sees a key or a plaintext; the mesh checks everything it
 * delivers. The enclave program never links MPI (docs/architecture.md).
 *
 * PROTOCOL. One duplicate of the caller's communicator, one tag (MC2_RELAY_TAG). send posts
 * MPI_Isend of the caller's buffer (kept until flush, as coll.h requires) and never waits for
 * the receiver. recv(from) polls MPI_Iprobe(from, tag) until a message is there or the
 * timeout passes, takes its size with MPI_Get_count, refuses a size above the caller's
 * capacity (or one MPI cannot state), then MPI_Recv's exactly that message; MPI keeps each
 * (sender, receiver) pair's messages in order. flush polls MPI_Testall on the sends until they
 * completed or the timeout passes. Every error names the rank.
 *
 * TEST BUILDS ONLY: the fault hook. Compiled in only where MC2_RELAY_FAULT_HOOK is defined
 * (the CMake target mc2_mpirelay_fault, linked by tests/tools/meshrun.c's test binary;
 * production targets link mc2_mpirelay, which has neither the hook nor the variable's name).
 * MC2_RELAY_FAULT=KIND:STAGE:FROM[:TO] makes the relay of the receiving rank TO (default:
 * every rank) alter the first message it receives from rank FROM whose header claims STAGE,
 * in the relay's second job (mc2_mpirelay_next_job once): KIND is drop (discard it), dup
 * (deliver it twice), replay (deliver instead the matching message recorded in the first
 * job, which had other keys and another job id), reorder (deliver the next message from FROM
 * first), flip (flip a bit of its tag) or sender (rewrite its sender field to FROM+1 mod n). */
#ifndef MC2_MPIRELAY_H
#define MC2_MPIRELAY_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mesh/coll.h"

#define MC2_RELAY_TAG 0x6d63

typedef struct mc2_mpirelay mc2_mpirelay;

/* A relay on a duplicate of comm; timeout_ms bounds each recv and flush (> 0). NULL with *err.
 * With the fault hook compiled in, reads and checks MC2_RELAY_FAULT here. */
mc2_mpirelay *mc2_mpirelay_new(MPI_Comm comm, int timeout_ms, mc2_err *err);
/* Waits (up to the timeout) for pending sends, frees the communicator. NULL is a no-op. */
void mc2_mpirelay_free(mc2_mpirelay *r);
/* The transport for mc2_coll_new (valid while r lives). */
mc2_coll_transport mc2_mpirelay_transport(mc2_mpirelay *r);
/* Starts the next job on the same relay (the fault hook counts jobs). */
void mc2_mpirelay_next_job(mc2_mpirelay *r);
/* The hook's description ("flip in stage 4 from rank 1 ..."), or NULL if none is active or it
 * is not compiled in. */
const char *mc2_mpirelay_fault_desc(const mc2_mpirelay *r);

#endif
