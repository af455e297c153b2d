/* main.c - TRUSTED: mc2-enclave's entry point. Start-up, in this order: make the process
 * non-dumpable and disable core dumps; measure our own binary; warm up OpenSSL (so it needs
 * no file afterwards); install the system-call filter; only then read INIT (which carries
 * the simulated platform key) and serve the host's messages on fd 3 until it closes.
 *
 *   host                              enclave
 *   INIT {budget, policy, sigstruct, platform key}  ->
 *                                     verify sigstruct against own measurement
 *        <- READY {measurement, signer, product, svn, sim}
 *   OPEN/DATA/CLOSE (client sessions) ->   <- OUT/END
 *        <- STORE_READ/SIZE/PUT          STORE_REPLY ->
 */
#include <errno.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "enclave/enclave.h"
#include "wire/proto.h"

#define CHANNEL_FD 3

static void logf_(const char *msg, const char *detail)
{
    mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_INFO, "%s%s%s", msg, detail ? ": " : "",
            detail ? detail : "");
}

int enc_send(enclave *e, uint16_t type, uint32_t ch, const void *p, size_t n, mc2_err *err)
{
    return mc2_frame_write_fd(e->fd, type, ch, p, n, err);
}

/* Waits for the host's reply to request `req`, queueing other frames for later. */
static int wait_reply(enclave *e, uint32_t req, mc2_frame *reply, mc2_err *err)
{
    for (;;) {
        if (mc2_frame_read_fd(e->fd, MC2_FRAME_MAX + 64, reply, err)) return -1;
        if (reply->type == EIF_STORE_REPLY && reply->channel == req) return 0;
        if (reply->type == EIF_STORE_REPLY) continue; /* stale reply: ignore */
        if (e->npending >= ENC_MAX_PENDING)
            return mc2_err_set(err, MC2_E_LIMIT, "host sent too many messages during a job");
        mc2_frame *q = mc2_calloc(1, sizeof *q);
        if (!q) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        q->type = reply->type;
        q->channel = reply->channel;
        q->payload = reply->payload; /* move */
        memset(&reply->payload, 0, sizeof reply->payload);
        e->pending[e->npending++] = q;
    }
}

/* Sends a storage request and returns the reply payload's status and body. */
static int store_call(enclave *e, uint16_t type, const mc2_buf *req, mc2_frame *reply, mc2_err *err)
{
    uint32_t id = ++e->next_req;
    if (enc_send(e, type, id, req->data, req->len, err) || wait_reply(e, id, reply, err)) return -1;
    mc2_rd r = mc2_rd_init(reply->payload.data, reply->payload.len);
    uint32_t status = mc2_rd_u32(&r);
    if (r.bad) return mc2_err_set(err, MC2_E_INPUT, "malformed storage reply from the host");
    if (status != 0)
        return mc2_err_set(err, MC2_E_NOTFOUND, "the host could not serve a storage request");
    return 0;
}

int enc_store_read(enclave *e, const char *name, mc2_buf *out, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    int rc = -1;
    if (mc2_buf_put_lv(&req, name, strlen(name), err) ||
        store_call(e, EIF_STORE_SIZE, &req, &reply, err))
        goto out;
    if (reply.payload.len != 12) {
        mc2_err_set(err, MC2_E_INPUT, "malformed size reply from the host");
        goto out;
    }
    uint64_t size = mc2_le64_get(reply.payload.data + 4);
    if (size > ENC_MAX_OBJECT || size > e->budget_bytes) {
        mc2_err_set(err, MC2_E_LIMIT, "object '%s' is larger than the enclave's memory budget",
                    name);
        goto out;
    }
    if (mc2_buf_reserve(out, (size_t)size, err)) goto out;
    uint64_t off = 0;
    while (off < size) {
        uint32_t want = (uint32_t)(size - off > (1u << 20) ? (1u << 20) : size - off);
        mc2_buf_reset(&req);
        if (mc2_buf_put_lv(&req, name, strlen(name), err) || mc2_buf_put_u64(&req, off, err) ||
            mc2_buf_put_u32(&req, want, err) || store_call(e, EIF_STORE_READ, &req, &reply, err))
            goto out;
        if (reply.payload.len != 4 + (size_t)want) {
            mc2_err_set(err, MC2_E_INPUT, "the host returned %zu bytes for a %u-byte read",
                        reply.payload.len - 4, want);
            goto out;
        }
        if (mc2_buf_append(out, reply.payload.data + 4, want, err)) goto out;
        off += want;
    }
    rc = 0;
out:
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return rc;
}

int enc_store_put(enclave *e, const char *name, const uint8_t *p, size_t n, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    int rc = -1;
    size_t off = 0;
    do {
        size_t chunk = n - off > (1u << 20) ? (1u << 20) : n - off;
        mc2_buf_reset(&req);
        if (mc2_buf_put_lv(&req, name, strlen(name), err) ||
            mc2_buf_put_u8(&req, off + chunk == n, err) ||
            mc2_buf_append(&req, p + off, chunk, err) ||
            store_call(e, EIF_STORE_PUT, &req, &reply, err))
            goto out;
        off += chunk;
    } while (off < n);
    rc = 0;
out:
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return rc;
}

/* Reads INIT, checks our identity, and answers READY. */
static int init(enclave *e, mc2_err *err)
{
    mc2_frame f = {0};
    int rc = -1;
    if (mc2_frame_read_fd(e->fd, 1 << 20, &f, err)) goto out;
    if (f.type != EIF_INIT) {
        mc2_err_set(err, MC2_E_INPUT, "expected INIT from the host, got message type %u", f.type);
        goto out;
    }
    mc2_rd r = mc2_rd_init(f.payload.data, f.payload.len);
    uint32_t budget_mb = mc2_rd_u32(&r);
    size_t pol_len, ss_len, ps_len;
    const uint8_t *pol = mc2_rd_lv(&r, &pol_len);
    const uint8_t *ss = mc2_rd_lv(&r, &ss_len);
    const uint8_t *ps = mc2_rd_lv(&r, &ps_len);
    if (r.bad || mc2_rd_left(&r) != 0 || ps_len != MC2_ED25519_SEC_LEN || budget_mb == 0 ||
        budget_mb > (1u << 20)) {
        mc2_err_set(err, MC2_E_INPUT, "malformed INIT message");
        goto out;
    }
    e->budget_bytes = (uint64_t)budget_mb << 20;
    memcpy(e->platform_sec, ps, MC2_ED25519_SEC_LEN);
    if (mc2_sigstruct_decode(ss, ss_len, &e->sigstruct, err) ||
        mc2_sigstruct_verify(&e->sigstruct, err))
        goto out;
    if (memcmp(e->sigstruct.measurement, e->measurement, MC2_SHA256_LEN) != 0) {
        mc2_err_set(err, MC2_E_AUTH, "the sigstruct is for another enclave build");
        goto out;
    }
    if (mc2_policy_parse("consortium policy", (const char *)pol, pol_len, &e->policy, err))
        goto out;
    if (mc2_random(e->instance, sizeof e->instance, err)) goto out;
    e->next_counter = 1;
    uint8_t ready[32 + 32 + 2 + 2 + 1];
    memcpy(ready, e->measurement, 32);
    mc2_signer_id(e->sigstruct.signer_pub, ready + 32);
    mc2_le16_put(ready + 64, e->sigstruct.product_id);
    mc2_le16_put(ready + 66, e->sigstruct.svn);
    ready[68] = 1; /* simulation */
    rc = enc_send(e, EIF_READY, 0, ready, sizeof ready, err);
out:
    mc2_buf_reset(&f.payload); /* it held the platform key */
    mc2_frame_free(&f);
    return rc;
}

/* Loads everything OpenSSL will need, while files can still be opened. */
static int warm_up(mc2_err *err)
{
    if (!OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL))
        return mc2_err_set(err, MC2_E_CRYPTO, "OpenSSL failed to start");
    uint8_t b[32], pub[32], sec[32], tag[16];
    if (mc2_random(b, sizeof b, err) || mc2_ed25519_keygen(pub, sec, err)) return -1;
    mc2_aead *a = mc2_aead_new(b, err);
    if (!a || mc2_aead_seal(a, b, b, 4, b, sizeof b, b, tag, err)) {
        mc2_aead_free(a);
        return -1;
    }
    mc2_aead_free(a);
    uint8_t k[32];
    if (mc2_hkdf_sha256(b, 32, b, 4, b, 4, k, 32, err)) return -1;
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    EVP_PKEY_free(pk);
    SSL_CTX_free(c);
    mc2_wipe(sec, sizeof sec);
    return 0;
}

static int selftest_sandbox(void)
{
    mc2_err err;
    if (enc_sandbox(CHANNEL_FD, &err)) {
        fprintf(stderr, "mc2-enclave: %s\n", err.msg);
        return 1;
    }
    FILE *f = fopen("/etc/hostname", "r");
    int open_errno = errno;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int sock_errno = errno;
    int dumpable = prctl(PR_GET_DUMPABLE);
    fprintf(stderr, "open: %s\nsocket: %s\ndumpable: %d\n", f ? "allowed" : strerror(open_errno),
            s >= 0 ? "allowed" : strerror(sock_errno), dumpable);
    return f == NULL && open_errno == EPERM && s < 0 && sock_errno == EPERM && dumpable == 0 ? 0
                                                                                             : 1;
}

int main(int argc, char **argv)
{
    static enclave e; /* big; keep it off the stack */
    mc2_err err;
    mc2_err_clear(&err);
    e.fd = CHANNEL_FD;

    struct rlimit no_core = {0, 0};
    if (prctl(PR_SET_DUMPABLE, 0) != 0 || setrlimit(RLIMIT_CORE, &no_core) != 0) {
        logf_("cannot make the process non-dumpable", strerror(errno));
        return 1;
    }
    if (argc == 2 && strcmp(argv[1], "--sandbox-selftest") == 0) return selftest_sandbox();
    if (argc != 1) {
        fprintf(stderr, "mc2-enclave is started by mc2d, not by hand\n");
        return 2;
    }
    if (mc2_measure_file("/proc/self/exe", e.measurement, &err) || warm_up(&err) ||
        enc_sandbox(e.fd, &err) || init(&e, &err)) {
        char msg[MC2_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err.msg);
        if (enc_send(&e, EIF_FATAL, 0, msg, strlen(msg), &err)) {
            /* The host is gone too; the log line below is all that is left to do. */
        }
        logf_("start-up failed", msg);
        return 1;
    }
    int rc = 0;
    mc2_frame f = {0};
    for (;;) {
        mc2_frame *cur = &f;
        if (e.npending > 0) {
            cur = e.pending[0];
            memmove(e.pending, e.pending + 1, --e.npending * sizeof e.pending[0]);
        } else if (mc2_frame_read_fd(e.fd, MC2_FRAME_MAX + 64, &f, &err)) {
            if (strcmp(err.msg, "connection closed") != 0) {
                logf_("host channel failed", err.msg);
                rc = 1;
            }
            break;
        }
        int r = enc_dispatch(&e, cur, &err);
        if (cur != &f) {
            mc2_frame_free(cur);
            mc2_free(cur);
        }
        if (r) {
            logf_("stopping", err.msg);
            rc = 1;
            break;
        }
    }
    mc2_frame_free(&f);
    mc2_wipe(e.keys, sizeof e.keys);
    mc2_wipe(e.platform_sec, sizeof e.platform_sec);
    return rc;
}
