/* relay.c - the host's MPI relay for the enclave mesh (UNTRUSTED; the protocol is in
 * relay.h): nonblocking sends kept until flush, probed and size-checked receives, timeouts
 * that name the rank. */
#include "mpirelay/relay.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef MC2_RELAY_FAULT_HOOK
#include "mpirelay/fault.h"
#else
int mc2_mpirelay_raw_recv(mc2_mpirelay *r, uint32_t from, uint8_t *buf, size_t cap, size_t *len,
                          mc2_err *err);
#endif

struct mc2_mpirelay {
    MPI_Comm comm;
    int self, n;
    int timeout_ms;
    MPI_Request *req; /* pending sends */
    uint32_t *dest;   /* their ranks */
    size_t n_req, cap_req;
#ifdef MC2_RELAY_FAULT_HOOK
    relay_fault *fault;
#endif
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mc2_mpirelay *mc2_mpirelay_new(MPI_Comm comm, int timeout_ms, mc2_err *err)
{
    mc2_mpirelay *r = calloc(1, sizeof *r);
    if (!r) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory making the MPI relay");
        return NULL;
    }
    r->comm = MPI_COMM_NULL;
    r->timeout_ms = timeout_ms;
    if (timeout_ms <= 0 || MPI_Comm_dup(comm, &r->comm) != MPI_SUCCESS ||
        MPI_Comm_rank(r->comm, &r->self) != MPI_SUCCESS ||
        MPI_Comm_size(r->comm, &r->n) != MPI_SUCCESS) {
        mc2_err_set(err, MC2_E_USAGE, "MPI relay: bad timeout (%d ms) or communicator", timeout_ms);
        goto fail;
    }
#ifdef MC2_RELAY_FAULT_HOOK
    int active = 0;
    r->fault = relay_fault_new((uint32_t)r->self, (uint32_t)r->n, &active, err);
    if (active && !r->fault) goto fail;
#endif
    return r;
fail:
    mc2_mpirelay_free(r);
    return NULL;
}

/* The rank of the first send still pending (for the timeout's message). */
static uint32_t first_pending(mc2_mpirelay *r)
{
    for (size_t i = 0; i < r->n_req; i++) {
        int done = 0;
        if (r->req[i] != MPI_REQUEST_NULL &&
            (MPI_Test(&r->req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done))
            return r->dest[i];
    }
    return (uint32_t)r->self;
}

/* Polls MPI_Testall on the pending sends until done or the timeout passes. */
static int relay_flush(void *ctx, mc2_err *err)
{
    mc2_mpirelay *r = ctx;
    double end = now_s() + r->timeout_ms / 1000.0;
    int done = 0;
    for (unsigned long spin = 0; r->n_req; spin++) {
        if (MPI_Testall((int)r->n_req, r->req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
            return mc2_err_set(err, MC2_E_IO, "MPI relay: sending failed (MPI_Testall)");
        if (done) break;
        if ((spin & 255) == 0 && now_s() > end)
            return mc2_err_set(err, MC2_E_IO,
                               "rank %u did not take this rank's messages within %d ms: that "
                               "rank stopped, or its host withholds them; the job is abandoned",
                               first_pending(r), r->timeout_ms);
        sched_yield();
    }
    r->n_req = 0;
    return 0;
}

void mc2_mpirelay_free(mc2_mpirelay *r)
{
    if (!r) return;
    mc2_err e;
    if (r->n_req && relay_flush(r, &e))
        for (size_t i = 0; i < r->n_req; i++) {
            MPI_Cancel(&r->req[i]);
            MPI_Request_free(&r->req[i]);
        }
    free(r->req);
    free(r->dest);
#ifdef MC2_RELAY_FAULT_HOOK
    relay_fault_free(r->fault);
#endif
    if (r->comm != MPI_COMM_NULL) MPI_Comm_free(&r->comm);
    free(r);
}

static int relay_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len, mc2_err *err)
{
    mc2_mpirelay *r = ctx;
    if (to >= (uint32_t)r->n || len > INT_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "MPI relay: a message of %zu bytes to rank %u", len,
                           to);
    if (r->n_req == r->cap_req) {
        size_t cap = r->cap_req ? 2 * r->cap_req : 64;
        MPI_Request *q = realloc(r->req, cap * sizeof *q);
        if (q) r->req = q;
        uint32_t *d = q ? realloc(r->dest, cap * sizeof *d) : NULL;
        if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory in the MPI relay");
        r->dest = d;
        r->cap_req = cap;
    }
    if (MPI_Isend(msg, (int)len, MPI_BYTE, (int)to, MC2_RELAY_TAG, r->comm, &r->req[r->n_req]) !=
        MPI_SUCCESS)
        return mc2_err_set(err, MC2_E_IO, "MPI relay: sending to rank %u failed", to);
    r->dest[r->n_req++] = to;
    return 0;
}

int mc2_mpirelay_raw_recv(mc2_mpirelay *r, uint32_t from, uint8_t *buf, size_t cap, size_t *len,
                          mc2_err *err)
{
    MPI_Status st;
    int flag = 0, count = 0;
    if (from >= (uint32_t)r->n) return mc2_err_set(err, MC2_E_USAGE, "MPI relay: no rank %u", from);
    double end = now_s() + r->timeout_ms / 1000.0;
    for (unsigned long spin = 0;; spin++) {
        if (MPI_Iprobe((int)from, MC2_RELAY_TAG, r->comm, &flag, &st) != MPI_SUCCESS)
            return mc2_err_set(err, MC2_E_IO, "MPI relay: probing rank %u failed", from);
        if (flag) break;
        if ((spin & 255) == 0 && now_s() > end)
            return mc2_err_set(err, MC2_E_IO,
                               "no message from rank %u within %d ms: that rank stopped, or its "
                               "host withholds its messages; the job is abandoned",
                               from, r->timeout_ms);
        sched_yield();
    }
    if (MPI_Get_count(&st, MPI_BYTE, &count) != MPI_SUCCESS || count == MPI_UNDEFINED ||
        count < 0 || (size_t)count > cap)
        return mc2_err_set(err, MC2_E_INPUT,
                           "MPI relay: rank %u sent a message of %d bytes (at most %zu); the "
                           "job is abandoned",
                           from, count, cap);
    if (MPI_Recv(buf, count, MPI_BYTE, (int)from, MC2_RELAY_TAG, r->comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
        return mc2_err_set(err, MC2_E_IO, "MPI relay: receiving from rank %u failed", from);
    *len = (size_t)count;
    return 0;
}

static int relay_recv(void *ctx, uint32_t from, uint8_t *buf, size_t cap, size_t *len, mc2_err *err)
{
    mc2_mpirelay *r = ctx;
#ifdef MC2_RELAY_FAULT_HOOK
    if (r->fault) return relay_fault_recv(r->fault, r, from, buf, cap, len, err);
#endif
    return mc2_mpirelay_raw_recv(r, from, buf, cap, len, err);
}

mc2_coll_transport mc2_mpirelay_transport(mc2_mpirelay *r)
{
    return (mc2_coll_transport){r, relay_send, relay_recv, relay_flush};
}

void mc2_mpirelay_next_job(mc2_mpirelay *r)
{
#ifdef MC2_RELAY_FAULT_HOOK
    if (r->fault) relay_fault_next_job(r->fault);
#else
    (void)r;
#endif
}

const char *mc2_mpirelay_fault_desc(const mc2_mpirelay *r)
{
#ifdef MC2_RELAY_FAULT_HOOK
    return r->fault ? relay_fault_desc(r->fault) : NULL;
#else
    (void)r;
    return NULL;
#endif
}
