/* bytes.h - little-endian encoding and a bounds-checked reader for untrusted bytes. */
#ifndef MC2_BASE_BYTES_H
#define MC2_BASE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void mc2_le16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void mc2_le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void mc2_le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t mc2_le16_get(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t mc2_le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t mc2_le64_get(const uint8_t *p)
{
    return (uint64_t)mc2_le32_get(p) | (uint64_t)mc2_le32_get(p + 4) << 32;
}

/* A cursor over untrusted bytes. Every get checks the remaining length; after the first
 * short read `bad` is set, later gets return zeros, and the caller checks `bad` once at
 * the end (so parsing code stays linear and cannot read out of bounds). */
typedef struct mc2_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} mc2_rd;

static inline mc2_rd mc2_rd_init(const void *p, size_t len)
{
    mc2_rd r = {(const uint8_t *)p, len, 0, false};
    return r;
}
static inline size_t mc2_rd_left(const mc2_rd *r)
{
    return r->bad ? 0 : r->len - r->pos;
}
/* Returns a pointer to the next n bytes and advances, or NULL (setting bad) if short. */
static inline const uint8_t *mc2_rd_take(mc2_rd *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}
static inline uint8_t mc2_rd_u8(mc2_rd *r)
{
    const uint8_t *q = mc2_rd_take(r, 1);
    return q ? q[0] : 0;
}
static inline uint16_t mc2_rd_u16(mc2_rd *r)
{
    const uint8_t *q = mc2_rd_take(r, 2);
    return q ? mc2_le16_get(q) : 0;
}
static inline uint32_t mc2_rd_u32(mc2_rd *r)
{
    const uint8_t *q = mc2_rd_take(r, 4);
    return q ? mc2_le32_get(q) : 0;
}
static inline uint64_t mc2_rd_u64(mc2_rd *r)
{
    const uint8_t *q = mc2_rd_take(r, 8);
    return q ? mc2_le64_get(q) : 0;
}
/* Reads a u32 length then that many bytes; *n gets the length. NULL (bad) if short. */
static inline const uint8_t *mc2_rd_lv(mc2_rd *r, size_t *n)
{
    uint32_t l = mc2_rd_u32(r);
    const uint8_t *q = mc2_rd_take(r, l);
    *n = q ? l : 0;
    return q;
}

/* Bit casts between IEEE floating-point values and their bits (memcpy: no aliasing UB, no
 * code): used by the oblivious float and double helpers, model and update formats. */
static inline uint32_t mc2_f32_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}
static inline float mc2_f32_of(uint32_t u)
{
    float v;
    memcpy(&v, &u, 4);
    return v;
}
static inline uint64_t mc2_f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}
static inline double mc2_f64_of(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

#endif
