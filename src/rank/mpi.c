/* mpi.c - UNTRUSTED: mc2-rank's side towards the other ranks (the protocol is in rank.h):
 * the hellos' allgather, the mesh messages both ways, faults, and the finishing barrier. No
 * call here blocks: requests are tested once per turn. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/bytes.h"
#include "rank/rank.h"
#include "wire/proto.h"

void rank_abort(rank_ctx *k)
{
    if (k->enc.pid > 0) {
        kill(k->enc.pid, SIGKILL);
        waitpid(k->enc.pid, NULL, 0);
        k->enc.pid = 0;
    }
    MPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1); /* MPI_Abort does not return */
}

static void oom(rank_ctx *k)
{
    fprintf(stderr, "mc2-rank: rank %d: out of memory\n", k->self);
    rank_abort(k);
}

/* Keeps buf (malloc'd, taken over) until the send completes. */
static void post(rank_ctx *k, int to, int tag, uint8_t *buf, size_t len)
{
    if (k->nsend == k->capsend) {
        size_t cap = k->capsend ? 2 * k->capsend : 16;
        rank_send *ns = realloc(k->sends, cap * sizeof *ns);
        if (!ns) oom(k);
        k->sends = ns;
        k->capsend = cap;
    }
    rank_send *s = &k->sends[k->nsend];
    s->buf = buf;
    s->len = len;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, to, tag, k->comm, &s->req) != MPI_SUCCESS) {
        fprintf(stderr, "mc2-rank: rank %d: MPI_Isend to rank %d failed\n", k->self, to);
        rank_abort(k);
    }
    k->nsend++;
    k->send_bytes += len;
}

void rank_send_to(rank_ctx *k, uint32_t to, const uint8_t *msg, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    if (!b) oom(k);
    memcpy(b, msg, len);
    k->sent_msgs++;
    k->sent_bytes += len;
    post(k, (int)to, RANK_TAG_MESH, b, len);
}

void rank_fault(rank_ctx *k, const char *fmt, ...)
{
    char text[RANK_FAULT_MAX];
    int off = snprintf(text, sizeof text, "rank %d: ", k->self);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + off, sizeof text - (size_t)off, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mc2-rank: %s\n", text);
    if (k->fault_here) return; /* the others know already */
    k->fault_here = true;
    size_t len = strlen(text);
    for (int r = 0; r < k->n; r++) {
        if (r == k->self) continue;
        uint8_t *b = malloc(len);
        if (!b) oom(k);
        memcpy(b, text, len);
        post(k, r, RANK_TAG_FAULT, b, len);
    }
    if (!k->fail_sent && !k->ended) {
        k->fail_sent = true;
        rank_to_peer(k, EIF_MESH_FAIL, text, len);
    }
}

/* Another rank's fault: our peer gets it as EIF_MESH_FAIL (once). */
static void fault_in(rank_ctx *k, const MPI_Status *st)
{
    char text[RANK_FAULT_MAX + 1];
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    if (count < 0 || count > RANK_FAULT_MAX) { /* a rank's own text is never longer */
        MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, RANK_TAG_FAULT, k->comm, MPI_STATUS_IGNORE);
        snprintf(text, sizeof text, "rank %d reported a fault", st->MPI_SOURCE);
        count = (int)strlen(text);
    } else {
        MPI_Recv(text, count, MPI_BYTE, st->MPI_SOURCE, RANK_TAG_FAULT, k->comm, MPI_STATUS_IGNORE);
    }
    text[count] = '\0';
    if (k->fail_sent || k->ended || !rank_peer_open(k)) return;
    fprintf(stderr, "mc2-rank: rank %d: the mesh fails: %s\n", k->self, text);
    k->fail_sent = true;
    rank_to_peer(k, EIF_MESH_FAIL, text, (size_t)count);
}

/* A mesh message from another rank: EIF_MESH_DELIVER {from | msg} to the peer (RK_RUN), or
 * discarded (the peer ended). */
static void message_in(rank_ctx *k, const MPI_Status *st)
{
    int count = 0;
    if (MPI_Get_count(st, MPI_BYTE, &count) != MPI_SUCCESS || count < 0 ||
        (size_t)count > MC2_FRAME_MAX - 4) {
        /* too large for one frame: taken (truncation error ignored) and dropped */
        uint8_t one;
        MPI_Recv(&one, 1, MPI_BYTE, st->MPI_SOURCE, RANK_TAG_MESH, k->comm, MPI_STATUS_IGNORE);
        rank_fault(k, "rank %d sent a mesh message larger than a frame", st->MPI_SOURCE);
        return;
    }
    uint8_t *b = malloc(4 + (size_t)count);
    if (!b) oom(k);
    MPI_Recv(b + 4, count, MPI_BYTE, st->MPI_SOURCE, RANK_TAG_MESH, k->comm, MPI_STATUS_IGNORE);
    mc2_le32_put(b, (uint32_t)st->MPI_SOURCE);
    if (k->phase == RK_RUN) rank_to_peer(k, EIF_MESH_DELIVER, b, 4 + (size_t)count);
    free(b);
}

/* Frees the completed sends (keeping the order of the rest). */
static void sends_test(rank_ctx *k)
{
    size_t w = 0;
    for (size_t i = 0; i < k->nsend; i++) {
        int done = 0;
        MPI_Test(&k->sends[i].req, &done, MPI_STATUS_IGNORE);
        if (done) {
            free(k->sends[i].buf);
            k->send_bytes -= k->sends[i].len;
        } else {
            k->sends[w++] = k->sends[i];
        }
    }
    k->nsend = w;
}

void rank_gather_start(rank_ctx *k, const uint8_t *hello, size_t len)
{
    k->hello = malloc(len ? len : 1);
    k->lens = calloc((size_t)k->n, sizeof *k->lens);
    k->displs = calloc((size_t)k->n, sizeof *k->displs);
    if (!k->hello || !k->lens || !k->displs) oom(k);
    if (len) memcpy(k->hello, hello, len);
    k->hello_len = len;
    int mine = (int)len;
    MPI_Iallgather(&mine, 1, MPI_INT, k->lens, 1, MPI_INT, k->comm, &k->coll);
    k->coll_step = 0;
    k->phase = RK_GATHER;
}

/* The lengths are in: checks them and starts gathering the hellos. */
static void gather_hellos(rank_ctx *k)
{
    size_t total = 0;
    for (int r = 0; r < k->n; r++) {
        if (k->lens[r] < 0 || (size_t)k->lens[r] > RANK_HELLO_MAX) {
            fprintf(stderr, "mc2-rank: rank %d: rank %d's hello has %d bytes (at most %zu)\n",
                    k->self, r, k->lens[r], RANK_HELLO_MAX);
            rank_abort(k);
        }
        k->displs[r] = (int)total;
        total += (size_t)k->lens[r] + 4; /* room for each LV's length */
        if (total > MC2_FRAME_MAX) {
            fprintf(stderr, "mc2-rank: rank %d: the hellos do not fit in one frame\n", k->self);
            rank_abort(k);
        }
    }
    k->hellos = malloc(total ? total : 1);
    if (!k->hellos) oom(k);
    for (int r = 0; r < k->n; r++) { /* n x (u32 length | hello): the LVs, in place */
        mc2_le32_put(k->hellos + k->displs[r], (uint32_t)k->lens[r]);
        k->displs[r] += 4;
    }
    MPI_Iallgatherv(k->hello, (int)k->hello_len, MPI_BYTE, k->hellos, k->lens, k->displs, MPI_BYTE,
                    k->comm, &k->coll);
    k->coll_step = 1;
}

/* The hellos are in: EIF_MESH_PEERS to the peer (if every rank has one), then relaying. */
static void gather_done(rank_ctx *k)
{
    size_t total = 0;
    bool all = true;
    for (int r = 0; r < k->n; r++) {
        total += 4 + (size_t)k->lens[r];
        all &= k->lens[r] > 0;
    }
    if (all) rank_to_peer(k, EIF_MESH_PEERS, k->hellos, total);
    /* else the rank without a hello has sent its fault, which fails the mesh */
    k->phase = k->peer_gone || k->ended ? RK_DRAIN : RK_RUN;
}

static void collective_turn(rank_ctx *k)
{
    int done = 0;
    if (k->phase == RK_GATHER) {
        MPI_Test(&k->coll, &done, MPI_STATUS_IGNORE);
        if (done && k->coll_step == 0)
            gather_hellos(k);
        else if (done)
            gather_done(k);
    } else if (k->phase == RK_DRAIN && k->nsend == 0) {
        MPI_Ibarrier(k->comm, &k->coll);
        k->phase = RK_BARRIER;
    }
}

void rank_mpi_turn(rank_ctx *k)
{
    MPI_Status st;
    int flag = 0;
    for (int i = 0; i < 64; i++) {
        MPI_Iprobe(MPI_ANY_SOURCE, RANK_TAG_FAULT, k->comm, &flag, &st);
        if (!flag) break;
        fault_in(k, &st);
    }
    /* messages: relayed while the peer's queue has room; once the peer ended, discarded */
    for (int i = 0; i < 64 && k->phase >= RK_RUN; i++) {
        if (k->phase == RK_RUN && srv_outq_pending(&k->out) >= SRV_ENC_OUT_HIGH) break;
        MPI_Iprobe(MPI_ANY_SOURCE, RANK_TAG_MESH, k->comm, &flag, &st);
        if (!flag) break;
        message_in(k, &st);
    }
    sends_test(k);
    collective_turn(k);
}
