/* outq.c - UNTRUSTED: output queues (replies, relayed bytes, frames for the enclave) written
 * without blocking, file ranges spliced in with sendfile (server.h). Shared by mc2d and
 * mc2-rank. */
#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "server/server.h"

#define KEEP_SMALL ((size_t)64 << 10) /* a buffer up to this size is kept for reuse */

/* Moves the unsent bytes to the front when the sent ones take at least half the buffer, so
 * a queue that is appended to while it drains (a download) does not grow without bound. */
static void outq_compact(srv_outq *q)
{
    if (q->head == 0 || q->head < q->b.len / 2) return;
    memmove(q->b.data, q->b.data + q->head, q->b.len - q->head);
    q->b.len -= q->head;
    for (size_t i = q->seghead; i < q->nseg; i++) q->segs[i].at -= q->head;
    q->head = 0;
}

int srv_outq_put(srv_outq *q, const void *p, size_t n, mc2_err *err)
{
    if (q->b.len + n > q->b.cap) outq_compact(q);
    return mc2_buf_append(&q->b, p, n, err);
}

int srv_outq_frame(srv_outq *q, uint16_t type, uint32_t channel, const void *p, size_t n,
                   mc2_err *err)
{
    if (q->b.len + MC2_FRAME_HDR + n > q->b.cap) outq_compact(q);
    return mc2_frame_put(&q->b, type, channel, p, n, err);
}

int srv_outq_file(srv_outq *q, int fd, uint64_t off, uint64_t len, mc2_err *err)
{
    if (q->nseg == q->segcap) {
        size_t nc = q->segcap ? 2 * q->segcap : 8;
        srv_seg *g = mc2_realloc(q->segs, nc * sizeof *g);
        if (!g) {
            close(fd);
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        }
        q->segs = g;
        q->segcap = nc;
    }
    q->segs[q->nseg++] = (srv_seg){q->b.len, fd, off, len};
    q->segbytes += len;
    return 0;
}

/* Sends what the socket takes of the first file range: 1 when it is all sent, 0 when the
 * socket is full, -1 on error (*done counts the bytes). */
static int seg_flush(srv_outq *q, int fd, size_t *done, mc2_err *err)
{
    srv_seg *g = &q->segs[q->seghead];
    while (g->len) {
        off_t o = (off_t)g->off;
        size_t want = g->len > ((size_t)1 << 30) ? (size_t)1 << 30 : (size_t)g->len;
        ssize_t w = sendfile(fd, g->fd, &o, want);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (w < 0) return mc2_err_set(err, MC2_E_IO, "write failed: %s", strerror(errno));
        if (w == 0) return mc2_err_set(err, MC2_E_IO, "a stored object shrank while being sent");
        g->off += (uint64_t)w;
        g->len -= (uint64_t)w;
        q->segbytes -= (uint64_t)w;
        *done += (size_t)w;
    }
    close(g->fd);
    q->seghead++;
    return 1;
}

/* Writes b.data[head .. stop) while the socket takes it: 1 when all is written, 0 when full. */
static int bytes_flush(srv_outq *q, int fd, size_t stop, size_t *done, mc2_err *err)
{
    while (q->head < stop) {
        ssize_t w = write(fd, q->b.data + q->head, stop - q->head);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (w <= 0) return mc2_err_set(err, MC2_E_IO, "write failed: %s", strerror(errno));
        q->head += (size_t)w;
        *done += (size_t)w;
    }
    return 1;
}

long srv_outq_flush(srv_outq *q, int fd, mc2_err *err)
{
    size_t done = 0;
    for (;;) {
        bool seg = q->seghead < q->nseg;
        int r = bytes_flush(q, fd, seg ? q->segs[q->seghead].at : q->b.len, &done, err);
        if (r == 1 && seg) r = seg_flush(q, fd, &done, err);
        if (r < 0) return -1;
        if (r == 0 || !seg) break;
    }
    if (q->head == q->b.len && q->seghead == q->nseg) {
        q->head = 0;
        q->b.len = 0;
        q->nseg = q->seghead = 0;
        if (q->b.cap > KEEP_SMALL) mc2_buf_free(&q->b);
    } else {
        outq_compact(q);
    }
    return (long)done;
}

void srv_outq_free(srv_outq *q)
{
    mc2_buf_free(&q->b);
    q->head = 0;
    for (size_t i = q->seghead; i < q->nseg; i++) close(q->segs[i].fd);
    mc2_free(q->segs);
    q->segs = NULL;
    q->nseg = q->seghead = q->segcap = 0;
    q->segbytes = 0;
}
