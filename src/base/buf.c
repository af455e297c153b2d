/* buf.c - growable byte buffer. */
#include "base/buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"

int mc2_buf_reserve(mc2_buf *b, size_t extra, mc2_err *err)
{
    size_t need;
    if (!mc2_add_size(b->len, extra, &need))
        return mc2_err_set(err, MC2_E_LIMIT, "buffer size overflows");
    if (need <= b->cap) return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    uint8_t *nd;
    if (b->secret) {
        /* Never let realloc leave a copy of secret bytes behind. */
        nd = mc2_malloc(ncap);
        if (!nd) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu bytes)", ncap);
        if (b->len) memcpy(nd, b->data, b->len);
        mc2_free_wipe(b->data, b->cap);
    } else {
        nd = mc2_realloc(b->data, ncap);
        if (!nd) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu bytes)", ncap);
    }
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int mc2_buf_append(mc2_buf *b, const void *p, size_t n, mc2_err *err)
{
    if (n == 0) return 0;
    if (mc2_buf_reserve(b, n, err)) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int mc2_buf_puts(mc2_buf *b, const char *s, mc2_err *err)
{
    return mc2_buf_append(b, s, strlen(s), err);
}

int mc2_buf_printf(mc2_buf *b, mc2_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return mc2_err_set(err, MC2_E_INTERNAL, "bad format string");
    if (mc2_buf_reserve(b, (size_t)n + 1, err)) return -1;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int mc2_buf_put_u8(mc2_buf *b, uint8_t v, mc2_err *err)
{
    return mc2_buf_append(b, &v, 1, err);
}

int mc2_buf_put_u16(mc2_buf *b, uint16_t v, mc2_err *err)
{
    uint8_t t[2];
    mc2_le16_put(t, v);
    return mc2_buf_append(b, t, 2, err);
}

int mc2_buf_put_u32(mc2_buf *b, uint32_t v, mc2_err *err)
{
    uint8_t t[4];
    mc2_le32_put(t, v);
    return mc2_buf_append(b, t, 4, err);
}

int mc2_buf_put_u64(mc2_buf *b, uint64_t v, mc2_err *err)
{
    uint8_t t[8];
    mc2_le64_put(t, v);
    return mc2_buf_append(b, t, 8, err);
}

int mc2_buf_put_lv(mc2_buf *b, const void *p, size_t n, mc2_err *err)
{
    if (n > UINT32_MAX) return mc2_err_set(err, MC2_E_LIMIT, "field longer than 4 GiB");
    if (mc2_buf_put_u32(b, (uint32_t)n, err)) return -1;
    return mc2_buf_append(b, p, n, err);
}

void mc2_buf_free(mc2_buf *b)
{
    int secret = b->secret;
    if (secret)
        mc2_free_wipe(b->data, b->cap);
    else
        mc2_free(b->data);
    memset(b, 0, sizeof *b);
    b->secret = secret;
}

void mc2_buf_reset(mc2_buf *b)
{
    if (b->secret && b->data) OPENSSL_cleanse(b->data, b->len);
    b->len = 0;
}
