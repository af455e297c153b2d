/* upload.c - the upload signature (see policy/upload.h). A file of its own, so that the
 * enclave, which links this module for the job signatures, does not link it. */
#include "policy/upload.h"

#include <string.h>

#include "base/buf.h"
#include "mc2/crypto.h"

static const char UPLOAD_CTX[] = "mc2 upload v1";

/* The signed upload message. */
static int upload_msg(const char *owner, const char *name, const uint8_t hash[32], mc2_buf *m,
                      mc2_err *err)
{
    return mc2_buf_append(m, UPLOAD_CTX, sizeof UPLOAD_CTX, err) ||
                   mc2_buf_append(m, owner, strlen(owner) + 1, err) ||
                   mc2_buf_append(m, name, strlen(name) + 1, err) ||
                   mc2_buf_append(m, hash, 32, err)
               ? -1
               : 0;
}

int mc2_upload_sign(const uint8_t sec[32], const char *owner, const char *name,
                    const uint8_t file_hash[32], uint8_t sig[64], mc2_err *err)
{
    mc2_buf m = {0};
    int rc = upload_msg(owner, name, file_hash, &m, err)
                 ? -1
                 : mc2_ed25519_sign(sec, m.data, m.len, sig, err);
    mc2_buf_free(&m);
    return rc;
}

int mc2_upload_verify(const uint8_t pub[32], const char *owner, const char *name,
                      const uint8_t file_hash[32], const uint8_t sig[64], mc2_err *err)
{
    mc2_buf m = {0};
    int rc = upload_msg(owner, name, file_hash, &m, err)
                 ? -1
                 : mc2_ed25519_verify(pub, m.data, m.len, sig, 64, err);
    mc2_buf_free(&m);
    return rc;
}
