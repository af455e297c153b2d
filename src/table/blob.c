/* blob.c - sealed blobs: one AES-256-GCM message bound to a context and an object name
 * (see blob.h and docs/format.md). */
#include "table/blob.h"

#include <string.h>

#include "base/bytes.h"

static const uint8_t MAGIC[4] = {'M', 'C', '2', 'B'};

/* AAD = header || context || 0 || name, into aad (malloc'd through the buffer). */
static int make_aad(const uint8_t hdr[MC2_BLOB_HDR_LEN], const char *context, const char *name,
                    mc2_buf *aad, mc2_err *err)
{
    size_t cl = strnlen(context, MC2_BLOB_NAME_MAX + 1), nl = strnlen(name, MC2_BLOB_NAME_MAX + 1);
    if (cl == 0 || cl > MC2_BLOB_NAME_MAX || nl == 0 || nl > MC2_BLOB_NAME_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "sealed blob: context and name must be 1 to %d bytes",
                           MC2_BLOB_NAME_MAX);
    return mc2_buf_append(aad, hdr, MC2_BLOB_HDR_LEN, err) ||
                   mc2_buf_append(aad, context, cl + 1, err) || mc2_buf_append(aad, name, nl, err)
               ? -1
               : 0;
}

int mc2_blob_seal(const uint8_t key[MC2_KEY_LEN], const char *context, const char *name,
                  const uint8_t *pt, size_t n, mc2_buf *out, mc2_err *err)
{
    if ((uint64_t)n > MC2_BLOB_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "sealed blob: %zu bytes exceed the limit of 4 GiB", n);
    uint8_t hdr[MC2_BLOB_HDR_LEN];
    memcpy(hdr, MAGIC, 4);
    mc2_le16_put(hdr + 4, MC2_BLOB_VERSION);
    mc2_le16_put(hdr + 6, 0);
    if (mc2_random(hdr + 8, MC2_NONCE_LEN, err)) return -1;
    mc2_le64_put(hdr + 20, (uint64_t)n);
    mc2_buf aad = {0};
    mc2_aead *a = NULL;
    int rc = -1;
    size_t start = out->len;
    if (make_aad(hdr, context, name, &aad, err) || mc2_buf_reserve(out, MC2_BLOB_OVERHEAD + n, err))
        goto out;
    a = mc2_aead_new(key, err);
    if (!a) goto out;
    uint8_t *dst = out->data + start;
    memcpy(dst, hdr, MC2_BLOB_HDR_LEN);
    if (mc2_aead_seal(a, hdr + 8, aad.data, aad.len, pt, n, dst + MC2_BLOB_HDR_LEN,
                      dst + MC2_BLOB_HDR_LEN + n, err))
        goto out;
    out->len = start + MC2_BLOB_OVERHEAD + n;
    rc = 0;
out:
    mc2_aead_free(a);
    mc2_buf_free(&aad);
    return rc;
}

int mc2_blob_open(const uint8_t key[MC2_KEY_LEN], const char *context, const char *name,
                  const uint8_t *p, size_t n, mc2_buf *out, mc2_err *err)
{
    if (n < MC2_BLOB_OVERHEAD || memcmp(p, MAGIC, 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not a sealed mc2 object (bad magic or too short)");
    if (mc2_le16_get(p + 4) != MC2_BLOB_VERSION || mc2_le16_get(p + 6) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "sealed object of unsupported version %u",
                           mc2_le16_get(p + 4));
    uint64_t len = mc2_le64_get(p + 20);
    if (len > MC2_BLOB_MAX || len != (uint64_t)(n - MC2_BLOB_OVERHEAD))
        return mc2_err_set(err, MC2_E_INPUT,
                           "sealed object is truncated or has trailing bytes (length field "
                           "does not match its size)");
    size_t m = (size_t)len;
    mc2_buf aad = {0};
    mc2_aead *a = NULL;
    int rc = -1;
    size_t start = out->len;
    if (make_aad(p, context, name, &aad, err) || mc2_buf_reserve(out, m, err)) goto out;
    a = mc2_aead_new(key, err);
    if (!a) goto out;
    if (mc2_aead_open(a, p + 8, aad.data, aad.len, p + MC2_BLOB_HDR_LEN, m,
                      p + MC2_BLOB_HDR_LEN + m, out->data + start, err)) {
        mc2_err_set(err, MC2_E_AUTH,
                    "sealed object '%.100s' does not authenticate: wrong key, another object's "
                    "name, or modified",
                    name);
        goto out;
    }
    out->len = start + m;
    rc = 0;
out:
    mc2_aead_free(a);
    mc2_buf_free(&aad);
    return rc;
}
