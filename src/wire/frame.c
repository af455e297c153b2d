/* frame.c - length-prefixed typed frames over buffers and file descriptors. */
#include "wire/frame.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"

/* Writes the 12-byte header for an n-byte payload into h. */
static int put_header(uint8_t h[MC2_FRAME_HDR], uint16_t type, uint32_t channel, size_t n,
                      mc2_err *err)
{
    if (n > UINT32_MAX) return mc2_err_set(err, MC2_E_LIMIT, "frame payload too large");
    mc2_le32_put(h, (uint32_t)n);
    mc2_le16_put(h + 4, type);
    mc2_le16_put(h + 6, MC2_WIRE_VERSION);
    mc2_le32_put(h + 8, channel);
    return 0;
}

int mc2_frame_put(mc2_buf *out, uint16_t type, uint32_t channel, const void *p, size_t n,
                  mc2_err *err)
{
    uint8_t h[MC2_FRAME_HDR];
    if (put_header(h, type, channel, n, err) || mc2_buf_append(out, h, sizeof h, err)) return -1;
    return mc2_buf_append(out, p, n, err);
}

/* Validates a header; returns the payload length or -1. */
static long check_header(const uint8_t *h, size_t max, mc2_err *err)
{
    uint32_t len = mc2_le32_get(h);
    uint16_t ver = mc2_le16_get(h + 6);
    if (ver != MC2_WIRE_VERSION) {
        mc2_err_set(err, MC2_E_INPUT, "peer speaks wire version %u, this side speaks %u", ver,
                    MC2_WIRE_VERSION);
        return -1;
    }
    if (len > max) {
        mc2_err_set(err, MC2_E_LIMIT, "frame of %u bytes exceeds the limit of %zu", len, max);
        return -1;
    }
    return (long)len;
}

long mc2_frame_parse(const uint8_t *p, size_t n, size_t max, mc2_frame *f, mc2_err *err)
{
    if (n < MC2_FRAME_HDR) return 0;
    long len = check_header(p, max, err);
    if (len < 0) return -1;
    if (n - MC2_FRAME_HDR < (size_t)len) return 0;
    f->type = mc2_le16_get(p + 4);
    f->channel = mc2_le32_get(p + 8);
    mc2_buf_reset(&f->payload);
    if (mc2_buf_append(&f->payload, p + MC2_FRAME_HDR, (size_t)len, err)) return -1;
    return (long)MC2_FRAME_HDR + len;
}

int mc2_write_all(int fd, const void *p, size_t n, mc2_err *err)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = write(fd, q, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return mc2_err_set(err, MC2_E_IO, "write failed: %s", strerror(errno));
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

int mc2_read_all(int fd, void *p, size_t n, mc2_err *err)
{
    uint8_t *q = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, q + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return mc2_err_set(err, MC2_E_IO, "read failed: %s", strerror(errno));
        if (r == 0) {
            if (got == 0) {
                mc2_err_set(err, MC2_E_IO, "connection closed");
                return 1;
            }
            return mc2_err_set(err, MC2_E_IO, "connection closed in the middle of a message");
        }
        got += (size_t)r;
    }
    return 0;
}

int mc2_frame_write_fd(int fd, uint16_t type, uint32_t channel, const void *p, size_t n,
                       mc2_err *err)
{
    uint8_t h[MC2_FRAME_HDR];
    if (put_header(h, type, channel, n, err) || mc2_write_all(fd, h, sizeof h, err)) return -1;
    return n ? mc2_write_all(fd, p, n, err) : 0;
}

int mc2_frame_read_hdr_fd(int fd, size_t max, mc2_frame *f, size_t *len, mc2_err *err)
{
    uint8_t h[MC2_FRAME_HDR];
    int r = mc2_read_all(fd, h, sizeof h, err);
    if (r) return -1;
    long n = check_header(h, max, err);
    if (n < 0) return -1;
    f->type = mc2_le16_get(h + 4);
    f->channel = mc2_le32_get(h + 8);
    *len = (size_t)n;
    return 0;
}

int mc2_frame_read_payload_fd(int fd, mc2_frame *f, size_t len, mc2_err *err)
{
    mc2_buf_reset(&f->payload);
    if (mc2_buf_reserve(&f->payload, len, err)) return -1;
    if (len && mc2_read_all(fd, f->payload.data, len, err)) return -1;
    f->payload.len = len;
    return 0;
}

int mc2_frame_read_fd(int fd, size_t max, mc2_frame *f, mc2_err *err)
{
    size_t len;
    return mc2_frame_read_hdr_fd(fd, max, f, &len, err) ||
                   mc2_frame_read_payload_fd(fd, f, len, err)
               ? -1
               : 0;
}

void mc2_frame_free(mc2_frame *f)
{
    mc2_buf_free(&f->payload);
}
