/* buf.h - a growable byte buffer. */
#ifndef MC2_BASE_BUF_H
#define MC2_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

/* A byte buffer: data[0..len) is valid, cap bytes allocated. Zero-initialise to start.
 * If `secret` is set, memory is wiped whenever it is released or moved by growth. */
typedef struct mc2_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int secret;
} mc2_buf;

/* Ensures room for `extra` more bytes; -1 with MC2_E_NOMEM/MC2_E_LIMIT on failure. */
int mc2_buf_reserve(mc2_buf *b, size_t extra, mc2_err *err) MC2_WUR;
/* Appends n bytes (n may be 0, p may then be NULL). */
int mc2_buf_append(mc2_buf *b, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* Appends a NUL-terminated string without its terminator. */
int mc2_buf_puts(mc2_buf *b, const char *s, mc2_err *err) MC2_WUR;
/* Appends printf-formatted text (no terminator). */
int mc2_buf_printf(mc2_buf *b, mc2_err *err, const char *fmt, ...) MC2_WUR
    __attribute__((format(printf, 3, 4)));
/* Appends little-endian integers. */
int mc2_buf_put_u8(mc2_buf *b, uint8_t v, mc2_err *err) MC2_WUR;
int mc2_buf_put_u16(mc2_buf *b, uint16_t v, mc2_err *err) MC2_WUR;
int mc2_buf_put_u32(mc2_buf *b, uint32_t v, mc2_err *err) MC2_WUR;
int mc2_buf_put_u64(mc2_buf *b, uint64_t v, mc2_err *err) MC2_WUR;
/* Appends a u32 length then the bytes. */
int mc2_buf_put_lv(mc2_buf *b, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* Frees the memory (wiping it if secret) and zeroes the struct, keeping `secret`. */
void mc2_buf_free(mc2_buf *b);
/* Sets len to 0, wiping the old contents if secret. */
void mc2_buf_reset(mc2_buf *b);

#endif
