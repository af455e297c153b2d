/* blob.h - a sealed blob: one object (a trained model, say) encrypted and authenticated under
 * a 32-byte key with AES-256-GCM, bound to a context string (what kind of object) and the
 * object's name (where it is stored), so the host can neither modify it, nor pass it off as
 * another object or another kind of object. The format is in docs/format.md ("Sealed blob").
 *
 *   "MC2B" | u16 version = 1 | u16 flags = 0 | nonce[12] | u64 plaintext length |
 *   ciphertext | tag[16]
 *   AAD = the 28 header bytes || context || 0x00 || name
 *
 * Each key seals one blob (a fresh key per object), and the nonce is random anyway. */
#ifndef MC2_TABLE_BLOB_H
#define MC2_TABLE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/crypto.h"
#include "mc2/err.h"

#define MC2_BLOB_VERSION  1
#define MC2_BLOB_HDR_LEN  28
#define MC2_BLOB_OVERHEAD (MC2_BLOB_HDR_LEN + MC2_TAG_LEN)
#define MC2_BLOB_MAX      (1ull << 32) /* plaintext bytes */
#define MC2_BLOB_NAME_MAX 1024         /* bytes of context or name */

/* The context of GBDT models sealed by the enclave. */
#define MC2_BLOB_CTX_GBDT_MODEL "mc2 gbdt model v1"

/* Seals pt[0..n) under key for object `name` of kind `context` (NUL-terminated strings of
 * 1..MC2_BLOB_NAME_MAX bytes) and appends the blob to out. */
int mc2_blob_seal(const uint8_t key[MC2_KEY_LEN], const char *context, const char *name,
                  const uint8_t *pt, size_t n, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Opens blob p[0..n) (hostile bytes): checks magic, version, flags and that the length field
 * matches n exactly, then authenticates it for (context, name) and appends the plaintext to
 * out (mark out secret). A wrong key, another name or context, or any modification is
 * MC2_E_AUTH; a malformed blob MC2_E_INPUT. Nothing is appended on failure. */
int mc2_blob_open(const uint8_t key[MC2_KEY_LEN], const char *context, const char *name,
                  const uint8_t *p, size_t n, mc2_buf *out, mc2_err *err) MC2_WUR;

#endif
