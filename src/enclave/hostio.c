/* hostio.c - TRUSTED: the enclave's side of its one channel to the host: sending frames,
 * and storage requests whose answers are hostile (the caller authenticates the bytes). While
 * waiting for a storage reply, other host messages are queued and handled afterwards. */
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "enclave/enclave.h"
#include "wire/proto.h"

/* Bytes of host frames queued while one storage reply is awaited (each frame may be up to
 * MC2_FRAME_MAX, so the count limit ENC_MAX_PENDING alone would allow 64 GiB). */
#define ENC_MAX_PENDING_BYTES (64u << 20)

int enc_send(enclave *e, uint16_t type, uint32_t ch, const void *p, size_t n, mc2_err *err)
{
    return mc2_frame_write_fd(e->fd, type, ch, p, n, err);
}

/* Waits for the host's reply to request `req`, queueing other frames for later. */
static int wait_reply(enclave *e, uint32_t req, mc2_frame *reply, mc2_err *err)
{
    for (;;) {
        if (mc2_frame_read_fd(e->fd, MC2_FRAME_MAX + 64, reply, err)) return -1;
        if (reply->type == EIF_STORE_REPLY && reply->channel == req) return 0;
        if (reply->type == EIF_STORE_REPLY) continue; /* stale reply: ignore */
        size_t queued = reply->payload.len;
        for (size_t i = 0; i < e->npending; i++) queued += e->pending[i]->payload.len;
        if (e->npending >= ENC_MAX_PENDING || queued > ENC_MAX_PENDING_BYTES)
            return mc2_err_set(err, MC2_E_LIMIT, "host sent too many messages during a job");
        mc2_frame *q = mc2_calloc(1, sizeof *q);
        if (!q) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        q->type = reply->type;
        q->channel = reply->channel;
        q->payload = reply->payload; /* move */
        memset(&reply->payload, 0, sizeof reply->payload);
        e->pending[e->npending++] = q;
    }
}

/* Sends a storage request and returns the reply payload's status and body. */
static int store_call(enclave *e, uint16_t type, const mc2_buf *req, mc2_frame *reply, mc2_err *err)
{
    uint32_t id = ++e->next_req;
    if (enc_send(e, type, id, req->data, req->len, err) || wait_reply(e, id, reply, err)) return -1;
    mc2_rd r = mc2_rd_init(reply->payload.data, reply->payload.len);
    uint32_t status = mc2_rd_u32(&r);
    if (r.bad) return mc2_err_set(err, MC2_E_INPUT, "malformed storage reply from the host");
    if (status != 0)
        return mc2_err_set(err, MC2_E_NOTFOUND, "the host could not serve a storage request");
    return 0;
}

int enc_store_read(enclave *e, const char *name, mc2_buf *out, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    int rc = -1;
    if (mc2_buf_put_lv(&req, name, strlen(name), err) ||
        store_call(e, EIF_STORE_SIZE, &req, &reply, err))
        goto out;
    if (reply.payload.len != 12) {
        mc2_err_set(err, MC2_E_INPUT, "malformed size reply from the host");
        goto out;
    }
    uint64_t size = mc2_le64_get(reply.payload.data + 4);
    if (size > ENC_MAX_OBJECT || size > e->budget_bytes) {
        mc2_err_set(err, MC2_E_LIMIT, "object '%s' is larger than the enclave's memory budget",
                    name);
        goto out;
    }
    if (mc2_buf_reserve(out, (size_t)size, err)) goto out;
    uint64_t off = 0;
    while (off < size) {
        uint32_t want = (uint32_t)(size - off > (1u << 20) ? (1u << 20) : size - off);
        mc2_buf_reset(&req);
        if (mc2_buf_put_lv(&req, name, strlen(name), err) || mc2_buf_put_u64(&req, off, err) ||
            mc2_buf_put_u32(&req, want, err) || store_call(e, EIF_STORE_READ, &req, &reply, err))
            goto out;
        if (reply.payload.len != 4 + (size_t)want) {
            mc2_err_set(err, MC2_E_INPUT, "the host returned %zu bytes for a %u-byte read",
                        reply.payload.len - 4, want);
            goto out;
        }
        if (mc2_buf_append(out, reply.payload.data + 4, want, err)) goto out;
        off += want;
    }
    rc = 0;
out:
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return rc;
}

int enc_store_put(enclave *e, const char *name, const uint8_t *p, size_t n, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    int rc = -1;
    size_t off = 0;
    do {
        size_t chunk = n - off > (1u << 20) ? (1u << 20) : n - off;
        mc2_buf_reset(&req);
        if (mc2_buf_put_lv(&req, name, strlen(name), err) ||
            mc2_buf_put_u8(&req, off + chunk == n, err) ||
            mc2_buf_append(&req, p + off, chunk, err) ||
            store_call(e, EIF_STORE_PUT, &req, &reply, err))
            goto out;
        off += chunk;
    } while (off < n);
    rc = 0;
out:
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return rc;
}

void enc_store_drop(enclave *e, const char *name)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    mc2_err err;
    if (mc2_buf_put_lv(&req, name, strlen(name), &err) == 0 &&
        store_call(e, EIF_STORE_DROP, &req, &reply, &err) != 0) {
        /* The host keeps a run it was asked to drop: it holds only ciphertext anyway. */
    }
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
}
