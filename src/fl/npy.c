/* npy.c - NumPy .npy files (fl.h): '<f4' or '<f8', C order, versions 1.0 to 3.0. The reader
 * parses hostile bytes: the header dict is read by a small strict parser (string keys;
 * values a string, True/False or a tuple of whole numbers), every size is checked. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/fl.h"

typedef struct hdr {
    const char *p, *end;
    int descr; /* 4 or 8 (bytes per value), 0 unseen */
    int fortran;
    bool have_shape;
    uint32_t ndims;
    uint64_t dims[MC2_FL_MAX_DIMS];
} hdr;

static void ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\n')) h->p++;
}

static bool lit(hdr *h, const char *s)
{
    ws(h);
    size_t n = strlen(s);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, s, n) != 0) return false;
    h->p += n;
    return true;
}

/* A quoted string ('...' or "...", no escapes) into out (cap). */
static bool str(hdr *h, char *out, size_t cap)
{
    ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
    char q = *h->p++;
    const char *s = h->p;
    while (h->p < h->end && *h->p != q) h->p++;
    if (h->p >= h->end || (size_t)(h->p - s) >= cap) return false;
    memcpy(out, s, (size_t)(h->p - s));
    out[h->p - s] = '\0';
    h->p++;
    return true;
}

static bool shape(hdr *h, mc2_err *err)
{
    if (!lit(h, "(")) return false;
    h->ndims = 0;
    memset(h->dims, 0, sizeof h->dims);
    for (;;) {
        if (lit(h, ")")) return true;
        ws(h);
        uint64_t v = 0;
        const char *s = h->p;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9' && h->p - s < 12)
            v = v * 10 + (uint64_t)(*h->p++ - '0');
        if (h->p == s || (h->p < h->end && *h->p >= '0' && *h->p <= '9')) return false;
        if (h->ndims == MC2_FL_MAX_DIMS) {
            mc2_err_set(err, MC2_E_LIMIT, ".npy: more than %d dimensions", MC2_FL_MAX_DIMS);
            return false;
        }
        h->dims[h->ndims++] = v;
        if (lit(h, ",")) continue;
        if (lit(h, ")")) return true;
        return false;
    }
}

static int parse_dict(hdr *h, mc2_err *err)
{
    int seen = 0;
    if (!lit(h, "{")) goto bad;
    for (;;) {
        if (lit(h, "}")) break;
        char key[32], val[16];
        if (!str(h, key, sizeof key) || !lit(h, ":")) goto bad;
        int which = strcmp(key, "descr") == 0 ? 1 : strcmp(key, "fortran_order") == 0 ? 2 : 4;
        if (seen & which) goto bad; /* a key given twice */
        seen |= which;
        if (strcmp(key, "descr") == 0) {
            if (!str(h, val, sizeof val)) goto bad;
            if (strcmp(val, "<f4") == 0)
                h->descr = 4;
            else if (strcmp(val, "<f8") == 0)
                h->descr = 8;
            else
                return mc2_err_set(err, MC2_E_INPUT,
                                   ".npy: dtype '%s' is not supported (little-endian float32 "
                                   "'<f4' or float64 '<f8')",
                                   val);
        } else if (strcmp(key, "fortran_order") == 0) {
            if (lit(h, "False"))
                h->fortran = 0;
            else if (lit(h, "True"))
                h->fortran = 1;
            else
                goto bad;
        } else if (strcmp(key, "shape") == 0) {
            if (!shape(h, err)) goto bad;
            h->have_shape = true;
        } else {
            goto bad;
        }
        if (lit(h, "}")) break;
        if (!lit(h, ",")) goto bad;
    }
    ws(h);
    if (h->p != h->end || !h->descr || !h->have_shape) goto bad;
    if (h->fortran)
        return mc2_err_set(err, MC2_E_INPUT,
                           ".npy: Fortran order is not supported (save a C-ordered array: "
                           "numpy.ascontiguousarray)");
    return 0;
bad:
    if (err->code == MC2_E_LIMIT) return -1;
    return mc2_err_set(err, MC2_E_INPUT,
                       ".npy: malformed header (expected {'descr': '<f4', 'fortran_order': "
                       "False, 'shape': (...)})");
}

int mc2_npy_parse(const uint8_t *p, size_t n, mc2_npy *out, mc2_err *err)
{
    memset(out, 0, sizeof *out);
    mc2_err_clear(err);
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not a .npy file (magic \\x93NUMPY expected)");
    uint8_t major = p[6], minor = p[7];
    size_t hl, at;
    if (major == 1 && minor == 0) {
        hl = mc2_le16_get(p + 8);
        at = 10;
    } else if ((major == 2 || major == 3) && minor == 0 && n >= 12) {
        hl = mc2_le32_get(p + 8);
        at = 12;
    } else {
        return mc2_err_set(err, MC2_E_INPUT, ".npy: version %u.%u is not supported (1.0 to 3.0)",
                           major, minor);
    }
    if (hl > n - at || hl > 65536)
        return mc2_err_set(err, MC2_E_INPUT, ".npy: the header runs past the end of the file");
    hdr h = {.p = (const char *)p + at, .end = (const char *)p + at + hl};
    if (parse_dict(&h, err)) return -1;
    uint64_t count = 1;
    for (uint32_t i = 0; i < h.ndims; i++) {
        if (h.dims[i] > MC2_FL_MAX_VALUES || (h.dims[i] && count > MC2_FL_MAX_VALUES / h.dims[i]))
            return mc2_err_set(err, MC2_E_LIMIT, ".npy: more than %u values", MC2_FL_MAX_VALUES);
        count *= h.dims[i];
    }
    size_t left = n - at - hl;
    if (count * (uint64_t)h.descr != left)
        return mc2_err_set(err, MC2_E_INPUT, ".npy: %zu bytes of data, but the shape needs %llu",
                           left, (unsigned long long)(count * (uint64_t)h.descr));
    out->ndims = h.ndims;
    memcpy(out->dims, h.dims, sizeof h.dims);
    out->n = count;
    out->values = mc2_malloc((size_t)(count ? count : 1) * sizeof(float));
    if (!out->values) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    const uint8_t *d = p + at + hl;
    for (uint64_t i = 0; i < count; i++) {
        if (h.descr == 4) {
            uint32_t x = mc2_le32_get(d + i * 4);
            memcpy(&out->values[i], &x, 4);
        } else {
            uint64_t x = mc2_le64_get(d + i * 8);
            double v;
            memcpy(&v, &x, 8);
            if (isfinite(v) && fabs(v) > 3.4028234663852886e38) {
                mc2_npy_free(out);
                return mc2_err_set(err, MC2_E_INPUT, ".npy: value %llu is beyond float32's range",
                                   (unsigned long long)i);
            }
            out->values[i] = (float)v;
        }
    }
    return 0;
}

int mc2_npy_format(const float *values, const uint64_t *dims, uint32_t ndims, mc2_buf *out,
                   mc2_err *err)
{
    if (ndims > MC2_FL_MAX_DIMS)
        return mc2_err_set(err, MC2_E_LIMIT, ".npy: more than %d dimensions", MC2_FL_MAX_DIMS);
    char h[256];
    int w = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    uint64_t count = 1;
    for (uint32_t i = 0; i < ndims; i++) {
        w += snprintf(h + w, sizeof h - (size_t)w, "%llu%s", (unsigned long long)dims[i],
                      ndims == 1 || i + 1 < ndims ? ", " : "");
        count *= dims[i];
    }
    if (ndims == 1) w -= 1; /* "(3,)" */
    w += snprintf(h + w, sizeof h - (size_t)w, "), }");
    /* pad with spaces and a final newline so that the data starts 64-byte aligned */
    size_t total = 10 + (size_t)w + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hl = (size_t)w + pad + 1;
    mc2_buf_reset(out);
    if (mc2_buf_reserve(out, 10 + hl + (size_t)count * 4, err) ||
        mc2_buf_append(out, "\x93NUMPY\x01\x00", 8, err) ||
        mc2_buf_put_u16(out, (uint16_t)hl, err) || mc2_buf_append(out, h, (size_t)w, err))
        return -1;
    memset(out->data + out->len, ' ', pad);
    out->len += pad;
    out->data[out->len++] = '\n';
    for (uint64_t i = 0; i < count; i++) {
        uint32_t x;
        memcpy(&x, &values[i], 4);
        mc2_le32_put(out->data + out->len, x);
        out->len += 4;
    }
    return 0;
}

void mc2_npy_free(mc2_npy *a)
{
    if (a->values) {
        mc2_wipe(a->values, (size_t)(a->n ? a->n : 1) * sizeof(float));
        mc2_free(a->values);
    }
    memset(a, 0, sizeof *a);
}
