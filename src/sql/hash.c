/* hash.c - normalized keys: each row's key columns encoded as bytes whose memcmp order is
 * the SQL order (direction and NULL placement included) and whose equality is SQL's
 * GROUP BY equality (NULLs equal), plus a fast hash over them. One encoding serves hash
 * aggregation, hash joins (rows with a NULL key are skipped there) and sorting.
 *
 * Per column: a NULL byte (0 = NULL first, 1 = a value, 2 = NULL last), then for a value:
 *   INT64/DECIMAL: 8 bytes big-endian of v ^ 2^63     DATE: 4 bytes big-endian of v ^ 2^31
 *   DOUBLE: 8 bytes of the IEEE bits (negatives inverted, positives with the sign bit set;
 *           -0 as 0)                                   BOOL: 1 byte
 *   VARCHAR: the bytes with 0x00 written 0x00 0xFF, then 0x00 0x00
 * and for DESC the value bytes inverted. */
#include <string.h>

#include "base/alloc.h"
#include "sql/exec_int.h"

int sx_keys_init(mc2_exec *x, sx_keys *k, mc2_err *err)
{
    memset(k, 0, sizeof *k);
    k->off = sx_array(x, x->cap, sizeof *k->off, err);
    k->len = sx_array(x, x->cap, sizeof *k->len, err);
    k->hash = sx_array(x, x->cap, sizeof *k->hash, err);
    k->anynull = sx_alloc(x, x->cap, err);
    return k->off && k->len && k->hash && k->anynull ? 0 : -1;
}

void sx_keys_free(sx_keys *k)
{
    mc2_free_wipe(k->data, k->data_cap);
    k->data = NULL;
    k->data_cap = 0;
}

static inline void put_be64(uint8_t *p, uint64_t v, uint8_t inv)
{
    v = __builtin_bswap64(v) ^ (inv ? ~(uint64_t)0 : 0);
    memcpy(p, &v, 8);
}

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

int sx_keys_encode(mc2_exec *x, sx_keys *k, const sx_chunk *c, const sx_keyspec *ks, size_t nk,
                   bool want_hash, mc2_err *err)
{
    (void)x;
    size_t n = c->n;
    /* upper bounds for the positions */
    size_t fixed = 0;
    bool has_str = false;
    for (size_t j = 0; j < nk; j++) {
        fixed += 1 + (ks[j].type == MC2_T_VARCHAR ? 2 : sx_width(ks[j].type));
        has_str |= ks[j].type == MC2_T_VARCHAR;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = fixed;
        if (has_str)
            for (size_t j = 0; j < nk; j++)
                if (ks[j].type == MC2_T_VARCHAR) l += 2 * (size_t)c->cols[ks[j].col].v.s[i].n;
        if (total > UINT32_MAX - l) return mc2_err_set(err, MC2_E_LIMIT, "keys too large");
        k->off[i] = (uint32_t)total;
        k->len[i] = 0;
        total += l;
    }
    if (total > k->data_cap || !k->data) {
        size_t nc = total < 4096 ? 4096 : total * 2;
        uint8_t *d = mc2_malloc(nc);
        if (!d) return mc2_err_set(err, MC2_E_NOMEM, "out of memory for keys");
        mc2_free_wipe(k->data, k->data_cap);
        k->data = d;
        k->data_cap = nc;
    }
    memset(k->anynull, 0, n);
    uint8_t *D = k->data;
    for (size_t j = 0; j < nk; j++) {
        const sx_vec *v = &c->cols[ks[j].col];
        uint8_t inv = ks[j].desc ? 0xFF : 0;
        uint8_t nb = ks[j].nulls_first ? 0 : 2;
        const uint8_t *nl = v->nulls;
        if (!nl && (ks[j].type == MC2_T_INT64 || ks[j].type == MC2_T_DECIMAL)) {
            /* the common case: a fixed-width key without NULLs, one tight loop */
            const int64_t *xv = v->v.i64;
            if (nk == 1 && want_hash) {
                /* the only key: its hash as sx_hash_bytes computes it over these 9 bytes
                 * (its first 8 bytes are 1 and then the first 7 of the 8 after it) */
                for (size_t i = 0; i < n; i++) {
                    uint8_t *p = D + k->off[i];
                    p[0] = 1;
                    put_be64(p + 1, (uint64_t)xv[i] ^ (1ull << 63), inv);
                    k->len[i] = 9;
                    uint64_t b;
                    memcpy(&b, p + 1, 8);
                    k->hash[i] = mix((1 | b << 8) ^ (b * 0x9E3779B97F4A7C15ULL) ^ (9ull << 56));
                }
                return 0;
            }
            for (size_t i = 0; i < n; i++) {
                uint8_t *p = D + k->off[i] + k->len[i];
                p[0] = 1;
                put_be64(p + 1, (uint64_t)xv[i] ^ (1ull << 63), inv);
                k->len[i] += 9;
            }
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t *p = D + k->off[i] + k->len[i];
            if (nl && nl[i]) {
                p[0] = nb;
                k->anynull[i] = 1;
                k->len[i] += 1;
                continue;
            }
            p[0] = 1;
            size_t w;
            switch (ks[j].type) {
            case MC2_T_INT64:
            case MC2_T_DECIMAL:
                put_be64(p + 1, (uint64_t)v->v.i64[i] ^ (1ull << 63), inv);
                w = 8;
                break;
            case MC2_T_DEC128: { /* high word with the sign flipped, then the low word */
                mc2_i128 q = v->v.i128[i];
                put_be64(p + 1, (uint64_t)(q >> 64) ^ (1ull << 63), inv);
                put_be64(p + 9, (uint64_t)q, inv);
                w = 16;
                break;
            }
            case MC2_T_DOUBLE: {
                double d = v->v.f64[i];
                if (d == 0) d = 0;
                uint64_t b;
                memcpy(&b, &d, 8);
                b = (b >> 63) ? ~b : b | (1ull << 63);
                put_be64(p + 1, b, inv);
                w = 8;
                break;
            }
            case MC2_T_DATE: {
                uint32_t u = (uint32_t)v->v.i32[i] ^ 0x80000000u;
                for (int q = 0; q < 4; q++) p[1 + q] = (uint8_t)(u >> (24 - 8 * q)) ^ inv;
                w = 4;
                break;
            }
            case MC2_T_BOOL:
                p[1] = v->v.b[i] ^ inv;
                w = 1;
                break;
            default: {
                sx_str s = v->v.s[i];
                uint8_t *q = p + 1;
                for (uint32_t t = 0; t < s.n; t++) {
                    uint8_t ch = (uint8_t)s.p[t];
                    *q++ = ch ^ inv;
                    if (ch == 0) *q++ = 0xFF ^ inv;
                }
                *q++ = inv;
                *q++ = inv;
                w = (size_t)(q - (p + 1));
                break;
            }
            }
            k->len[i] += (uint32_t)(1 + w);
        }
    }
    if (want_hash)
        for (size_t i = 0; i < n; i++) k->hash[i] = sx_hash_bytes(D + k->off[i], k->len[i]);
    return 0;
}

uint64_t sx_hash_bytes(const uint8_t *p, size_t n)
{
    if (n >= 8 && n <= 16) { /* one INT64/DECIMAL/DOUBLE key, or two short ones */
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
        return mix(a ^ (b * 0x9E3779B97F4A7C15ULL) ^ (n << 56));
    }
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001B3ULL);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ mix(v)) * 0x9E3779B97F4A7C15ULL;
        p += 8;
        n -= 8;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++) t |= (uint64_t)p[i] << (8 * i);
    h = (h ^ mix(t ^ 0x5555)) * 0x9E3779B97F4A7C15ULL;
    return mix(h);
}
