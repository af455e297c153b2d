/* peer.c - UNTRUSTED: mc2-rank's side towards its peer (rank.h): the frames of the leader's
 * socket (rank 0: EIF_MESH_HELLO, EIF_MESH_SEND, EIF_MESH_END) or of a worker enclave (the
 * same, plus storage reads it is served, writes and counters it is refused, job lines and
 * EIF_FATAL it logs). Replies are queued on k->out like mc2d's (srv_outq). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "rank/rank.h"
#include "wire/proto.h"

enum {
    ST_OK = SRV_STORE_OK,
    ST_FAILED = SRV_STORE_FAILED,
    ST_UNSUPPORTED = SRV_STORE_UNSUPPORTED,
    ST_NOTFOUND = SRV_STORE_NOTFOUND
};

static void oom(rank_ctx *k)
{
    fprintf(stderr, "mc2-rank: rank %d: out of memory\n", k->self);
    rank_abort(k);
}

void rank_to_peer(rank_ctx *k, uint16_t type, const void *p, size_t n)
{
    mc2_err err;
    if (!rank_peer_open(k)) return;
    if (srv_outq_frame(&k->out, type, k->id, p, n, &err)) oom(k);
}

/* A reply of `type` on channel ch: u32 status | p[0..n). */
static void reply(rank_ctx *k, uint16_t type, uint32_t ch, uint32_t status, const void *p, size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err) ||
        srv_outq_frame(&k->out, type, ch, b.data, b.len, &err))
        oom(k);
    mc2_buf_free(&b);
}

static void store_reply(rank_ctx *k, uint32_t ch, uint32_t status, const char *msg)
{
    reply(k, EIF_STORE_REPLY, ch, status, msg, msg ? strlen(msg) : 0);
}

/* EIF_STORE_READ / EIF_STORE_SIZE from D_r's store (as mc2d's enclave.c answers them); the
 * read's bytes go from the file to the channel. A worker has no sealed state of its own:
 * enclave/state is "no such object". */
static void store_read(rank_ctx *k, const mc2_frame *f)
{
    mc2_err err;
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    char name[310];
    if (srv_store_req_name(&r, name)) return store_reply(k, f->channel, ST_FAILED, NULL);
    if (strcmp(name, SRV_STATE_OBJECT) == 0) return store_reply(k, f->channel, ST_NOTFOUND, NULL);
    char *path = srv_object_path(k->store, name, &err);
    if (!path) return store_reply(k, f->channel, ST_FAILED, NULL);
    int rc = srv_store_answer_read(&k->out, f->type, f->channel, path, &r);
    mc2_free(path);
    if (rc) oom(k);
}

static void evidence(rank_ctx *k, const mc2_frame *f)
{
    mc2_buf ev = {0};
    mc2_err err;
    mc2_err_clear(&err);
    int bad = 1;
    if (f->payload.len != MC2_REPORT_DATA_LEN)
        mc2_err_set(&err, MC2_E_INPUT, "malformed evidence request");
    else if (!k->tee.ops->evidence)
        mc2_err_set(&err, MC2_E_INPUT, "the %s backend makes no evidence on the host",
                    k->tee.ops->name);
    else
        bad = k->tee.ops->evidence(k->tee.ctx, f->payload.data, &ev, &err) != 0;
    if (bad) fprintf(stderr, "mc2-rank: rank %d: no evidence: %s\n", k->self, err.msg);
    if (bad)
        reply(k, EIF_EVIDENCE, f->channel, 1, err.msg, strlen(err.msg));
    else
        reply(k, EIF_EVIDENCE, f->channel, 0, ev.data, ev.len);
    mc2_buf_free(&ev);
}

/* A worker enclave's request or notice (not a mesh frame). */
static void enclave_request(rank_ctx *k, const mc2_frame *f)
{
    int shown = (int)(f->payload.len < 300 ? f->payload.len : 300);
    switch (f->type) {
    case EIF_STORE_READ:
    case EIF_STORE_SIZE:
        return store_read(k, f);
    case EIF_STORE_PUT:
    case EIF_STORE_DROP:
        return store_reply(k, f->channel, ST_FAILED, "workers write nothing");
    case EIF_COUNTER:
        return store_reply(k, f->channel, ST_FAILED, "a worker keeps no sealed state");
    case EIF_EVIDENCE_REQ:
        return evidence(k, f);
    case EIF_JOB:
        fprintf(stderr, "mc2-rank: rank %d: enclave job line: %.*s\n", k->self, shown,
                (const char *)f->payload.data);
        return;
    case EIF_READY:
        return;
    default:
        fprintf(stderr, "mc2-rank: rank %d: unsupported message type %u from the enclave\n",
                k->self, f->type);
        return store_reply(k, f->channel, ST_UNSUPPORTED, NULL);
    }
}

static void mesh_frame(rank_ctx *k, const mc2_frame *f)
{
    const char *who = k->self == 0 ? "the leader" : "its enclave";
    if (f->channel != k->id)
        return rank_fault(k, "%s sent a frame of mesh %u, not %u", who, f->channel, k->id);
    if (f->type == EIF_MESH_HELLO) {
        if (k->phase != RK_HELLO) return rank_fault(k, "%s sent a second hello", who);
        if (f->payload.len == 0 || f->payload.len > RANK_HELLO_MAX)
            return rank_fault(k, "%s's hello has %zu bytes (1..%zu)", who, f->payload.len,
                              RANK_HELLO_MAX);
        return rank_gather_start(k, f->payload.data, f->payload.len);
    }
    if (f->type == EIF_MESH_END) {
        k->ended = true;
        k->end_ok = f->payload.len == 1 && f->payload.data[0] == 1;
        fprintf(stderr, "mc2-rank: rank %d: %s ended the mesh (%s)\n", k->self, who,
                k->end_ok ? "ok" : "failed");
        if (!k->end_ok && !k->fail_sent) {
            k->fail_sent = true; /* no FAIL back to a peer that has ended */
            rank_fault(k, "%s ended the job with a failure", who);
        }
        if (k->phase == RK_RUN) k->phase = RK_DRAIN; /* RK_HELLO: run() still gathers */
        return;
    }
    /* EIF_MESH_SEND {to u32 | msg} */
    if (k->phase != RK_RUN)
        return rank_fault(k, "%s sent a message before the mesh was built", who);
    if (f->payload.len < 4) return rank_fault(k, "%s sent a malformed EIF_MESH_SEND", who);
    uint32_t to = mc2_le32_get(f->payload.data);
    if (to >= (uint32_t)k->n || to == (uint32_t)k->self)
        return rank_fault(k, "%s addressed a message to rank %u (of %d, self %d)", who, to, k->n,
                          k->self);
    rank_send_to(k, to, f->payload.data + 4, f->payload.len - 4);
}

/* Handles one frame; returns false when the peer must not be read further. */
static bool peer_frame(rank_ctx *k, const mc2_frame *f)
{
    bool mesh = f->type == EIF_MESH_HELLO || f->type == EIF_MESH_SEND || f->type == EIF_MESH_END;
    if (k->ended) return false; /* nothing counts after END */
    if (mesh) {
        mesh_frame(k, f);
    } else if (f->type == EIF_FATAL) {
        int shown = (int)(f->payload.len < 200 ? f->payload.len : 200);
        char why[260];
        snprintf(why, sizeof why, "its enclave stopped (fatal: %.*s)", shown,
                 (const char *)f->payload.data);
        for (char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        rank_peer_lost(k, why);
    } else if (k->self != 0) {
        enclave_request(k, f);
    } else {
        rank_fault(k, "mc2d sent a frame of type %u on the mesh socket", f->type);
    }
    return !k->peer_gone;
}

void rank_peer_frames(rank_ctx *k)
{
    mc2_err err;
    mc2_frame f = {0};
    size_t off = 0;
    for (;;) {
        long used =
            mc2_frame_parse(k->in.data + off, k->in.len - off, MC2_FRAME_MAX + 64, &f, &err);
        if (used < 0) {
            char why[300];
            snprintf(why, sizeof why, "%s sent a malformed frame: %.200s",
                     k->self ? "its enclave" : "mc2d", err.msg);
            rank_peer_lost(k, why); /* not read any further */
        }
        if (used <= 0) break;
        off += (size_t)used;
        if (!peer_frame(k, &f)) break;
    }
    mc2_frame_free(&f);
    memmove(k->in.data, k->in.data + off, k->in.len - off);
    k->in.len -= off;
}

void rank_peer_lost(rank_ctx *k, const char *why)
{
    if (k->peer_gone) return;
    k->peer_gone = true;
    if (!k->ended) rank_fault(k, "%s", why);
    if (k->phase == RK_RUN) k->phase = RK_DRAIN;
}

int rank_enclave_startup(void *ctx, int fd, const mc2_frame *f, mc2_err *err)
{
    rank_ctx *k = ctx;
    if (f->type == EIF_FATAL) return mc2_err_set(err, MC2_E_INTERNAL, "the enclave stopped");
    enclave_request(k, f);
    while (srv_outq_pending(&k->out))
        if (srv_outq_flush(&k->out, fd, err) < 0)
            return mc2_err_prefix(err, "the enclave failed to start: ");
    return 0;
}
