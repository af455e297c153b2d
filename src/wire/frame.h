/* frame.h - the framing every mc2 channel uses (client <-> mc2d, mc2d <-> enclave, and
 * client <-> enclave inside TLS):
 *
 *   u32 length of payload | u16 type | u16 version (= MC2_WIRE_VERSION) | u32 channel |
 *   payload[length]
 *
 * little-endian, 12-byte header. `channel` names a session (relay) or a request; its meaning
 * is per message type. A receiver rejects a frame whose version differs, whose length
 * exceeds the limit it was given, or whose type it does not know (checked by the caller). */
#ifndef MC2_WIRE_FRAME_H
#define MC2_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/err.h"

#define MC2_WIRE_VERSION 1
#define MC2_FRAME_HDR    12
#define MC2_FRAME_MAX    (16u << 20) /* default payload limit */

typedef struct mc2_frame {
    uint16_t type;
    uint32_t channel;
    mc2_buf payload; /* owned; reused across reads */
} mc2_frame;

/* Appends a frame header and payload to out. */
int mc2_frame_put(mc2_buf *out, uint16_t type, uint32_t channel, const void *p, size_t n,
                  mc2_err *err) MC2_WUR;

/* Parses one frame from the front of p[0..n). Returns the bytes consumed (> 0), 0 if more
 * bytes are needed, -1 on a malformed header (bad version, length over max). The payload
 * is copied into f->payload. */
long mc2_frame_parse(const uint8_t *p, size_t n, size_t max, mc2_frame *f, mc2_err *err);

/* Blocking I/O on a file descriptor (socket or pipe): writes a whole frame; reads exactly
 * one frame (MC2_E_IO with "connection closed" at a clean end of stream before a header). */
int mc2_frame_write_fd(int fd, uint16_t type, uint32_t channel, const void *p, size_t n,
                       mc2_err *err) MC2_WUR;
int mc2_frame_read_fd(int fd, size_t max, mc2_frame *f, mc2_err *err) MC2_WUR;
/* mc2_frame_read_fd in two steps, for a reader that places some payloads itself: the header
 * (type and channel into f, the checked payload length into *len), then, unless the caller
 * consumed the len payload bytes from fd itself, the payload into f. */
int mc2_frame_read_hdr_fd(int fd, size_t max, mc2_frame *f, size_t *len, mc2_err *err) MC2_WUR;
int mc2_frame_read_payload_fd(int fd, mc2_frame *f, size_t len, mc2_err *err) MC2_WUR;

/* Writes/reads exactly n bytes (retrying short transfers and EINTR). read returns 1 at a
 * clean end of stream before any byte, 0 on success, -1 on error. */
int mc2_write_all(int fd, const void *p, size_t n, mc2_err *err) MC2_WUR;
int mc2_read_all(int fd, void *p, size_t n, mc2_err *err) MC2_WUR;

void mc2_frame_free(mc2_frame *f);

#endif
