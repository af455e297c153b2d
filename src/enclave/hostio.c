/* hostio.c - TRUSTED: the enclave's side of its one channel to the host: sending frames,
 * and storage requests whose answers are hostile (the caller authenticates the bytes).
 *
 *   any thread                      main thread (the channel's only reader)
 *   enc_store_begin: id = ++next,
 *     listed, EIF_STORE_xxx{id} ->  host
 *                                   EIF_STORE_REPLY{id} <- host: enc_io_deliver moves the
 *                                   payload into the request with that id, wakes its waiter
 *   enc_store_end: waits (bounded by e->store_timeout_ms), checks u32 status, returns body
 *
 * A read may name its destination (enc_store_begin_into): the main thread (enc_io_read) then
 * reads a reply of exactly the right length straight from the channel into it, sparing a
 * buffer and a copy of every byte read. While it does (`filling`), the request cannot be
 * freed (enc_store_abandon waits), and the host must send the rest of that frame within the
 * storage timeout, or the channel is taken as broken.
 *
 * Several requests may be outstanding at once (a scan reads ahead). A reply for an id that
 * nobody waits for is dropped; a request whose reply does not come in time, or that is still
 * waiting when the channel closes (enc_io_close), fails, so a host that never answers fails
 * the job instead of hanging the enclave. Writes of whole frames are serialized by e->wmu. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "enclave/enclave.h"
#include "wire/proto.h"

struct enc_req {
    uint32_t id;
    bool done;
    bool filling; /* the main thread is reading the reply's body into dst */
    bool direct;  /* the reply's body went to dst; status is its status word */
    uint32_t status;
    uint8_t *dst; /* enc_store_begin_into: where the body goes */
    size_t dst_len;
    mc2_buf reply; /* other replies: the whole payload, u32 status | body */
    enc_req *next;
};

void enc_io_init(enclave *e)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->wmu, NULL);
    pthread_mutex_init(&e->io_mu, NULL);
    pthread_cond_init(&e->io_cv, &ca);
    pthread_cond_init(&e->run_cv, &ca);
    pthread_cond_init(&e->seal_cv, &ca);
    pthread_mutex_init(&e->mesh.mu, NULL);
    pthread_cond_init(&e->mesh.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (e->store_timeout_ms == 0) e->store_timeout_ms = ENC_STORE_TIMEOUT_MS;
}

int enc_send(enclave *e, uint16_t type, uint32_t ch, const void *p, size_t n, mc2_err *err)
{
    pthread_mutex_lock(&e->wmu);
    int rc = mc2_frame_write_fd(e->fd, type, ch, p, n, err);
    pthread_mutex_unlock(&e->wmu);
    return rc;
}

void enc_io_deliver(enclave *e, mc2_frame *f)
{
    pthread_mutex_lock(&e->io_mu);
    for (enc_req *r = e->reqs; r; r = r->next)
        if (r->id == f->channel && !r->done) {
            r->reply = f->payload; /* move */
            memset(&f->payload, 0, sizeof f->payload);
            r->done = true;
            pthread_cond_broadcast(&e->io_cv);
            break;
        }
    pthread_mutex_unlock(&e->io_mu);
}

static struct timespec deadline_in(unsigned ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += (time_t)(ms / 1000);
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    return dl;
}

/* The request waiting for a reply of len payload bytes on channel id into its dst, now marked
 * filling; or NULL. */
static enc_req *claim_direct(enclave *e, uint32_t id, size_t len)
{
    enc_req *found = NULL;
    pthread_mutex_lock(&e->io_mu);
    for (enc_req *r = e->reqs; r; r = r->next)
        if (r->id == id && !r->done && r->dst && !r->filling && len == 4 + r->dst_len) {
            r->filling = true;
            found = r;
            break;
        }
    pthread_mutex_unlock(&e->io_mu);
    return found;
}

/* Reads exactly n bytes of a frame already begun, by the deadline dl. */
static int read_rest(enclave *e, uint8_t *p, size_t n, const struct timespec *dl, mc2_err *err)
{
    for (size_t got = 0; got < n;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms =
            (long long)(dl->tv_sec - now.tv_sec) * 1000 + (dl->tv_nsec - now.tv_nsec) / 1000000L;
        struct pollfd pf = {.fd = e->fd, .events = POLLIN};
        int pr = ms > 0 ? poll(&pf, 1, ms > 60000 ? 60000 : (int)ms) : 0;
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) return mc2_err_set(err, MC2_E_IO, "poll failed: %s", strerror(errno));
        if (pr == 0 && ms <= 60000)
            return mc2_err_set(err, MC2_E_IO, "the host stalled in the middle of a message");
        if (pr == 0) continue;
        ssize_t r = read(e->fd, p + got, n - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r < 0) return mc2_err_set(err, MC2_E_IO, "read failed: %s", strerror(errno));
        if (r == 0)
            return mc2_err_set(err, MC2_E_IO, "connection closed in the middle of a message");
        got += (size_t)r;
    }
    return 0;
}

int enc_io_read(enclave *e, size_t max, mc2_frame *f, bool *delivered, mc2_err *err)
{
    size_t len;
    *delivered = false;
    if (mc2_frame_read_hdr_fd(e->fd, max, f, &len, err)) return -1;
    enc_req *r = f->type == EIF_STORE_REPLY ? claim_direct(e, f->channel, len) : NULL;
    if (!r) return mc2_frame_read_payload_fd(e->fd, f, len, err);
    struct timespec dl = deadline_in(e->store_timeout_ms);
    uint8_t st[4];
    int rc = read_rest(e, st, 4, &dl, err) || read_rest(e, r->dst, r->dst_len, &dl, err) ? -1 : 0;
    pthread_mutex_lock(&e->io_mu);
    r->filling = false;
    if (rc == 0) {
        r->status = mc2_le32_get(st);
        r->direct = r->done = true;
        *delivered = true;
    }
    pthread_cond_broadcast(&e->io_cv);
    pthread_mutex_unlock(&e->io_mu);
    return rc;
}

void enc_io_close(enclave *e)
{
    pthread_mutex_lock(&e->io_mu);
    e->io_closed = true;
    pthread_cond_broadcast(&e->io_cv);
    pthread_mutex_unlock(&e->io_mu);
}

static void unlink_req(enclave *e, enc_req *r)
{
    for (enc_req **p = &e->reqs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

int enc_store_begin(enclave *e, uint16_t type, const mc2_buf *body, enc_req **out, mc2_err *err)
{
    return enc_store_begin_into(e, type, body, NULL, 0, out, err);
}

int enc_store_begin_into(enclave *e, uint16_t type, const mc2_buf *body, uint8_t *dst,
                         size_t dst_len, enc_req **out, mc2_err *err)
{
    enc_req *r = mc2_calloc(1, sizeof *r);
    if (!r) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    r->dst = dst;
    r->dst_len = dst_len;
    pthread_mutex_lock(&e->io_mu);
    r->id = ++e->next_req; /* wraps after 2^32 requests: a stale reply must still authenticate */
    r->next = e->reqs;
    e->reqs = r;
    bool closed = e->io_closed;
    pthread_mutex_unlock(&e->io_mu);
    if (closed || enc_send(e, type, r->id, body->data, body->len, err)) {
        if (closed) mc2_err_set(err, MC2_E_IO, "the host channel is closed");
        enc_store_abandon(e, r);
        return -1;
    }
    *out = r;
    return 0;
}

void enc_store_abandon(enclave *e, enc_req *r)
{
    if (!r) return;
    pthread_mutex_lock(&e->io_mu);
    while (r->filling) pthread_cond_wait(&e->io_cv, &e->io_mu); /* bounded: read_rest */
    unlink_req(e, r);
    pthread_mutex_unlock(&e->io_mu);
    mc2_buf_free(&r->reply);
    mc2_free(r);
}

/* Waits until r is answered, the channel closes or the deadline passes; io_mu held. */
static int wait_locked(enclave *e, enc_req *r, mc2_err *err)
{
    struct timespec dl = deadline_in(e->store_timeout_ms);
    while (!r->done && !e->io_closed)
        if (pthread_cond_timedwait(&e->io_cv, &e->io_mu, &dl) == ETIMEDOUT && !r->done)
            return mc2_err_set(err, MC2_E_IO,
                               "the host did not answer a storage request within %u s",
                               e->store_timeout_ms / 1000);
    if (!r->done) return mc2_err_set(err, MC2_E_IO, "the host channel closed during a job");
    return 0;
}

/* That a read reply's body has the length the read asked for. */
static int read_check(size_t got, size_t want, mc2_err *err)
{
    if (got != want)
        return mc2_err_set(err, MC2_E_INPUT, "the host returned %zu bytes for a %zu-byte read", got,
                           want);
    return 0;
}

/* Waits for r's reply and reads its status word into *status. The body stays in r. */
static int await_status(enclave *e, enc_req *r, uint32_t *status, mc2_err *err)
{
    int rc = 0;
    if (e->pump) { /* a test harness reads the channel on this thread */
        while (rc == 0 && !r->done && !e->io_closed) rc = e->pump(e, err);
        if (rc == 0 && !r->done) rc = mc2_err_set(err, MC2_E_IO, "the host channel closed");
    } else {
        pthread_mutex_lock(&e->io_mu);
        rc = wait_locked(e, r, err);
        pthread_mutex_unlock(&e->io_mu);
    }
    if (rc) return -1;
    *status = r->status;
    if (!r->direct) {
        mc2_rd rd = mc2_rd_init(r->reply.data, r->reply.len);
        *status = mc2_rd_u32(&rd);
        if (rd.bad) return mc2_err_set(err, MC2_E_INPUT, "malformed storage reply from the host");
    }
    return 0;
}

/* Waits for r's reply; checks its status. The body stays in r. */
static int await_reply(enclave *e, enc_req *r, mc2_err *err)
{
    uint32_t status;
    if (await_status(e, r, &status, err)) return -1;
    if (status != 0)
        return mc2_err_set(err, MC2_E_NOTFOUND, "the host could not serve a storage request");
    return 0;
}

int enc_store_end(enclave *e, enc_req *r, mc2_buf *body, mc2_err *err)
{
    int rc = await_reply(e, r, err);
    if (rc == 0 && body) {
        mc2_buf_reset(body);
        rc = mc2_buf_append(body, r->reply.data + 4, r->reply.len - 4, err);
    }
    enc_store_abandon(e, r);
    return rc;
}

int enc_store_end_status(enclave *e, enc_req *r, uint32_t *status, mc2_buf *body, mc2_err *err)
{
    int rc = await_status(e, r, status, err);
    if (rc == 0 && r->direct) rc = mc2_err_set(err, MC2_E_INTERNAL, "unexpected direct reply");
    if (rc == 0 && body) {
        mc2_buf_reset(body);
        rc = mc2_buf_append(body, r->reply.data + 4, r->reply.len - 4, err);
    }
    enc_store_abandon(e, r);
    return rc;
}

int enc_store_end_into(enclave *e, enc_req *r, mc2_err *err)
{
    int rc = await_reply(e, r, err);
    if (rc == 0 && !r->direct) { /* delivered as a frame: a length the read did not ask for */
        size_t got = r->reply.len - 4;
        rc = read_check(got, r->dst_len, err);
        if (rc == 0 && got) memcpy(r->dst, r->reply.data + 4, got);
    }
    enc_store_abandon(e, r);
    return rc;
}

/* One request, waited for. */
static int store_call(enclave *e, uint16_t type, const mc2_buf *req, mc2_buf *body, mc2_err *err)
{
    enc_req *r;
    if (enc_store_begin(e, type, req, &r, err)) return -1;
    return enc_store_end(e, r, body, err);
}

int enc_store_size(enclave *e, const char *name, uint64_t *size, mc2_err *err)
{
    mc2_buf req = {0}, body = {0};
    int rc = mc2_buf_put_lv(&req, name, strlen(name), err) ||
                     store_call(e, EIF_STORE_SIZE, &req, &body, err)
                 ? -1
                 : 0;
    if (rc == 0 && body.len != 8)
        rc = mc2_err_set(err, MC2_E_INPUT, "malformed size reply from the host");
    if (rc == 0) *size = mc2_le64_get(body.data);
    mc2_buf_free(&req);
    mc2_buf_free(&body);
    return rc;
}

int enc_read_req(const char *name, uint64_t off, uint32_t len, mc2_buf *req, mc2_err *err)
{
    mc2_buf_reset(req);
    return mc2_buf_put_lv(req, name, strlen(name), err) || mc2_buf_put_u64(req, off, err) ||
                   mc2_buf_put_u32(req, len, err)
               ? -1
               : 0;
}

int enc_store_read(enclave *e, const char *name, mc2_buf *out, mc2_err *err)
{
    mc2_buf req = {0}, body = {0};
    uint64_t size;
    int rc = -1;
    if (enc_store_size(e, name, &size, err)) goto out;
    if (size > ENC_MAX_OBJECT || size > e->budget_bytes) {
        mc2_err_set(err, MC2_E_LIMIT, "object '%s' is larger than the enclave's memory budget",
                    name);
        goto out;
    }
    if (mc2_buf_reserve(out, (size_t)size, err)) goto out;
    for (uint64_t off = 0; off < size;) {
        uint32_t want = (uint32_t)(size - off > ENC_READ_MAX ? ENC_READ_MAX : size - off);
        if (enc_read_req(name, off, want, &req, err) ||
            store_call(e, EIF_STORE_READ, &req, &body, err) || read_check(body.len, want, err) ||
            mc2_buf_append(out, body.data, want, err))
            goto out;
        off += want;
    }
    rc = 0;
out:
    mc2_buf_free(&req);
    mc2_buf_free(&body);
    return rc;
}

int enc_put_begin(enclave *e, const char *name, const uint8_t *p, size_t n, bool last, mc2_buf *req,
                  enc_req **out, mc2_err *err)
{
    if (n > ENC_READ_MAX) MC2_PANIC("enc_put_begin: a put carries at most ENC_READ_MAX bytes");
    mc2_buf_reset(req);
    return mc2_buf_put_lv(req, name, strlen(name), err) || mc2_buf_put_u8(req, last, err) ||
                   mc2_buf_append(req, p, n, err) ||
                   enc_store_begin(e, EIF_STORE_PUT, req, out, err)
               ? -1
               : 0;
}

int enc_store_put(enclave *e, const char *name, const uint8_t *p, size_t n, bool last, mc2_err *err)
{
    mc2_buf req = {0};
    enc_req *r;
    int rc = -1;
    size_t off = 0;
    do {
        size_t chunk = n - off > ENC_READ_MAX ? ENC_READ_MAX : n - off;
        if (enc_put_begin(e, name, p + off, chunk, last && off + chunk == n, &req, &r, err) ||
            enc_store_end(e, r, NULL, err))
            goto out;
        off += chunk;
    } while (off < n);
    rc = 0;
out:
    mc2_buf_free(&req);
    if (rc) enc_store_drop(e, name); /* no half-written object stays behind at the host */
    return rc;
}

void enc_store_drop(enclave *e, const char *name)
{
    mc2_buf req = {0};
    mc2_err err;
    if (mc2_buf_put_lv(&req, name, strlen(name), &err) == 0 &&
        store_call(e, EIF_STORE_DROP, &req, NULL, &err) != 0) {
        /* The host keeps what it was asked to drop: it holds only ciphertext anyway. */
    }
    mc2_buf_free(&req);
}
