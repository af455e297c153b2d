/* fuzz_meshrt.c - libFuzzer target for the mesh frames a hostile host sends an enclave
 * (src/enclave/meshrt.c, docs/enclave-interface.md section 2a): sequences of EIF_MESH_JOIN,
 * EIF_MESH_PEERS, EIF_MESH_DELIVER, EIF_MESH_FAIL and EIF_OPEN into enc_dispatch of a worker
 * enclave, as its main thread hands them over. No runner thread: the frames are parsed,
 * checked and queued, never consumed, so the inbox cap (lowered to 64 KiB here) is reached.
 *
 * Input: u8 mode | steps. mode bit 0: the harness first sends a well-formed JOIN on channel 1
 * (rank 1 of 2 + (mode >> 1) % 3 ranks, ops: the bundle and one allreduce), so that the
 * other frames meet an active mesh. Each step: u8 type | u8 channel (bit 0: 1 or 2) | u16 len |
 * payload[len] (clamped to what is left); type % 5 picks JOIN, PEERS, DELIVER, FAIL, OPEN.
 *
 * Oracles besides the sanitizers: the unread bytes never exceed the cap, and are 0 without an
 * active mesh; a failed mesh has a reason; accepted PEERS are exactly n_ranks hellos of 33 ..
 * 32 + 256 KiB bytes; once a JOIN was accepted, the mesh's channel and rank never change;
 * a JOIN is accepted only if well-formed (rank 1..n-1 of 2..64 ranks). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/log.h"
#include "enclave/attester.h"
#include "enclave/enclave.h"
#include "enclave/meshrt.h"
#include "wire/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quiet: replaces the library's logger (every dropped frame logs a line). */
void mc2_log(const char *prog, enum mc2_log_level max, enum mc2_log_level level, const char *fmt,
             ...)
{
    (void)prog, (void)max, (void)level, (void)fmt;
}

static enclave E;

/* Reads and discards what the enclave sends (END frames). */
static void *drain(void *arg)
{
    char buf[4096];
    while (read(*(int *)arg, buf, sizeof buf) > 0) {
    }
    return NULL;
}

static void setup(void)
{
    static int host_fd;
    int sv[2];
    pthread_t t;
    signal(SIGPIPE, SIG_IGN);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
    E.fd = sv[0];
    host_fd = sv[1];
    E.worker = true;
    E.att = &enc_att_sim;
    enc_io_init(&E);
    if (pthread_create(&t, NULL, drain, &host_fd) != 0) abort();
}

static void frame(uint16_t type, uint32_t ch, const uint8_t *p, size_t n)
{
    mc2_frame f = {.type = type, .channel = ch};
    mc2_err err;
    if (n && mc2_buf_append(&f.payload, p, n, &err)) abort();
    pthread_mutex_lock(&E.mu);
    if (enc_dispatch(&E, &f, &err)) abort(); /* only a failed send is fatal: the drain reads */
    pthread_mutex_unlock(&E.mu);
    mc2_frame_free(&f);
}

static void good_join(uint8_t mode)
{
    uint8_t p[4 + 4 + 32 + 32 + 4 + 4 + 4 + 10] = {0};
    mc2_le32_put(p, 1);
    mc2_le32_put(p + 4, 2u + (uint32_t)(mode >> 1) % 3u);
    mc2_le32_put(p + 72, 1000);   /* timeout_ms */
    mc2_le32_put(p + 76, 4 + 10); /* ops LV */
    mc2_le32_put(p + 80, 2);
    p[84] = MC2_COLL_BCAST;
    p[89] = MC2_COLL_ALLREDUCE_I64;
    frame(EIF_MESH_JOIN, 1, p, sizeof p);
    if (!enc_mesh_joined(&E)) abort(); /* a well-formed JOIN must be accepted */
}

/* The oracles (see the top). */
static void check(bool was_joined, uint32_t ch, uint32_t self)
{
    enc_mesh_box *b = &E.mesh;
    pthread_mutex_lock(&b->mu);
    if (b->unread > b->inbox_max || (!b->active && b->unread)) abort();
    if (b->failed && !b->why[0]) abort();
    if (was_joined && (!b->joined || b->ch != ch || b->self != self)) abort();
    if (b->joined && (b->self == 0 || b->self >= b->n_ranks || b->n_ranks < 2 ||
                      b->n_ranks > MC2_MESH_MAX_RANKS))
        abort();
    if (b->has_peers) {
        mc2_rd r = mc2_rd_init(b->peers.data, b->peers.len);
        for (uint32_t i = 0; i < b->n_ranks; i++) {
            size_t n;
            (void)mc2_rd_lv(&r, &n);
            if (n <= 32 || n > 32 + ENC_EVIDENCE_MAX) abort();
        }
        if (r.bad || mc2_rd_left(&r)) abort();
    }
    pthread_mutex_unlock(&b->mu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[5] = {EIF_MESH_JOIN, EIF_MESH_PEERS, EIF_MESH_DELIVER,
                                      EIF_MESH_FAIL, EIF_OPEN};
    if (!E.worker) setup();
    enc_mesh_reset(&E);
    E.mesh.inbox_max = 64u << 10;
    if (size < 1) return 0;
    mc2_rd r = mc2_rd_init(data + 1, size - 1);
    if (data[0] & 1) good_join(data[0]);
    while (mc2_rd_left(&r) >= 4) {
        uint8_t t = mc2_rd_u8(&r), c = mc2_rd_u8(&r);
        size_t n = mc2_rd_u16(&r);
        if (n > mc2_rd_left(&r)) n = mc2_rd_left(&r);
        const uint8_t *p = mc2_rd_take(&r, n);
        pthread_mutex_lock(&E.mesh.mu);
        bool joined = E.mesh.joined;
        uint32_t ch = E.mesh.ch, self = E.mesh.self;
        pthread_mutex_unlock(&E.mesh.mu);
        frame(types[t % 5], 1u + (c & 1u), p, n);
        check(joined, ch, self);
    }
    return 0;
}
