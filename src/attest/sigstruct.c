/* sigstruct.c - enclave identity: measurement of the binary and the author's signature
 * over {measurement, product id, security version}.
 *
 * Encoding (MC2_SIGSTRUCT_LEN = 138 bytes, little-endian):
 *   "MC2S" | version u16 = 1 | measurement[32] | product_id u16 | svn u16 |
 *   signer_pub[32] | signature[64]
 * The signature is Ed25519 over "mc2 sigstruct v1" || measurement || product_id || svn. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "mc2/attest.h"

#define SS_MAGIC   "MC2S"
#define SS_VERSION 1
#define SS_CONTEXT "mc2 sigstruct v1"

/* The signed message: context, measurement, product id, svn. */
static size_t signed_msg(const mc2_sigstruct *ss, uint8_t *m)
{
    size_t n = sizeof SS_CONTEXT - 1;
    memcpy(m, SS_CONTEXT, n);
    memcpy(m + n, ss->measurement, MC2_SHA256_LEN);
    n += MC2_SHA256_LEN;
    mc2_le16_put(m + n, ss->product_id);
    mc2_le16_put(m + n + 2, ss->svn);
    return n + 4;
}

int mc2_sigstruct_sign(mc2_sigstruct *ss, const uint8_t measurement[MC2_SHA256_LEN],
                       uint16_t product_id, uint16_t svn,
                       const uint8_t signer_sec[MC2_ED25519_SEC_LEN], mc2_err *err)
{
    uint8_t m[64];
    memset(ss, 0, sizeof *ss);
    memcpy(ss->measurement, measurement, MC2_SHA256_LEN);
    ss->product_id = product_id;
    ss->svn = svn;
    if (mc2_ed25519_public(signer_sec, ss->signer_pub, err)) return -1;
    return mc2_ed25519_sign(signer_sec, m, signed_msg(ss, m), ss->sig, err);
}

int mc2_sigstruct_verify(const mc2_sigstruct *ss, mc2_err *err)
{
    uint8_t m[64];
    if (mc2_ed25519_verify(ss->signer_pub, m, signed_msg(ss, m), ss->sig, sizeof ss->sig, err))
        return mc2_err_set(err, MC2_E_AUTH,
                           "the enclave's signature (sigstruct) does not verify: the enclave "
                           "binary's identity was not signed by the key it names");
    return 0;
}

void mc2_sigstruct_encode(const mc2_sigstruct *ss, uint8_t out[MC2_SIGSTRUCT_LEN])
{
    uint8_t *p = out;
    memcpy(p, SS_MAGIC, 4);
    mc2_le16_put(p + 4, SS_VERSION);
    memcpy(p + 6, ss->measurement, 32);
    mc2_le16_put(p + 38, ss->product_id);
    mc2_le16_put(p + 40, ss->svn);
    memcpy(p + 42, ss->signer_pub, 32);
    memcpy(p + 74, ss->sig, 64);
}

int mc2_sigstruct_decode(const uint8_t *p, size_t n, mc2_sigstruct *ss, mc2_err *err)
{
    if (n != MC2_SIGSTRUCT_LEN || memcmp(p, SS_MAGIC, 4) != 0)
        return mc2_err_set(err, MC2_E_INPUT, "not an mc2 enclave sigstruct (%zu bytes)", n);
    if (mc2_le16_get(p + 4) != SS_VERSION)
        return mc2_err_set(err, MC2_E_INPUT, "unsupported sigstruct version %u",
                           mc2_le16_get(p + 4));
    memcpy(ss->measurement, p + 6, 32);
    ss->product_id = mc2_le16_get(p + 38);
    ss->svn = mc2_le16_get(p + 40);
    memcpy(ss->signer_pub, p + 42, 32);
    memcpy(ss->sig, p + 74, 64);
    return 0;
}

void mc2_signer_id(const uint8_t signer_pub[MC2_ED25519_PUB_LEN], uint8_t out[MC2_SHA256_LEN])
{
    if (mc2_sha256(signer_pub, MC2_ED25519_PUB_LEN, out, NULL) != 0) {
        /* SHA-256 over 32 bytes cannot fail short of a broken OpenSSL: fail closed. */
        memset(out, 0, MC2_SHA256_LEN);
    }
}

int mc2_measure_file(const char *path, uint8_t out[MC2_SHA256_LEN], mc2_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mc2_err_set(err, MC2_E_IO, "cannot open '%s' to measure it: %s", path,
                           strerror(errno));
    int rc = -1;
    mc2_sha256_ctx *c = mc2_sha256_new(err);
    if (!c) goto out;
    uint8_t buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break;
        if (mc2_sha256_update(c, buf, (size_t)r, err)) goto out;
    }
    rc = mc2_sha256_final(c, out, err);
    c = NULL;
out:
    mc2_sha256_free(c);
    close(fd);
    return rc;
}
