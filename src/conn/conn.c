/* conn.c - client side of the host API and of attested enclave sessions.
 *
 *   client                          mc2d                         enclave
 *   HAPI_ENCLAVE{nonce}        ->   OPEN{sid, nonce}        ->   RA-TLS cert for nonce
 *   TLS 1.3 (client cert)     <->   relayed bytes           <->  TLS 1.3
 *   check evidence(cert key, nonce, policy hash) against the policy, THEN:
 *   EAPI_HELLO                 ->                                instance, counter, policy hash
 */
#include "conn/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest/ratls.h"
#include "base/alloc.h"
#include "base/bytes.h"
#include "base/file.h"
#include "mc2/crypto.h"
#include "mc2/job.h"
#include "policy/upload.h"
#include "table/tpart.h"
#include "table/tsrc.h"
#include "wire/proto.h"
#include "wire/tls.h"

int mc2_dial(const char *hostport, mc2_err *err)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host)
        return mc2_err_set(err, MC2_E_USAGE, "service address '%s' is not HOST:PORT", hostport);
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0)
        return mc2_err_set(err, MC2_E_IO, "cannot resolve '%s': %s", hostport, gai_strerror(g));
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            /* Requests and TLS flights are small and answered at once: without this, Nagle
             * holds each behind the peer's delayed ACK (some 40 ms per round trip). */
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return mc2_err_set(err, MC2_E_IO,
                           "cannot reach the mc2 service at %s: %s (is it running? `mc2 start`)",
                           hostport, strerror(e ? e : ECONNREFUSED));
    return fd;
}

int mc2_host_call(int fd, uint16_t type, const void *p, size_t n, mc2_frame *reply,
                  int (*on_data)(void *ctx, const uint8_t *p, size_t n, mc2_err *err), void *ctx,
                  mc2_err *err)
{
    if (mc2_frame_write_fd(fd, type, 0, p, n, err)) return -1;
    for (;;) {
        if (mc2_frame_read_fd(fd, MC2_FRAME_MAX + 64, reply, err)) return -1;
        if (reply->type == HAPI_OK) return 0;
        if (reply->type == HAPI_ERR) {
            size_t l = reply->payload.len < 900 ? reply->payload.len : 900;
            return mc2_err_set(err, MC2_E_IO, "the service says: %.*s", (int)l,
                               (const char *)reply->payload.data);
        }
        if (reply->type == HAPI_DATA && on_data) {
            if (on_data(ctx, reply->payload.data, reply->payload.len, err)) return -1;
            continue;
        }
        return mc2_err_set(err, MC2_E_INPUT, "unexpected reply type %u from the service",
                           reply->type);
    }
}

int mc2_host_upload(const char *hostport, const mc2_identity *id, const char *name,
                    const char *path, void (*progress)(void *, uint64_t, uint64_t), void *pctx,
                    mc2_err *err)
{
    int rc = -1, fd = -1, in = open(path, O_RDONLY | O_CLOEXEC);
    mc2_buf req = {0};
    mc2_frame reply = {0};
    uint8_t *chunk = NULL;
    if (in < 0) return mc2_err_set(err, MC2_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(in, &st) != 0) {
        mc2_err_set(err, MC2_E_IO, "cannot stat '%s'", path);
        goto out;
    }
    /* Hash first so the signature can go with the request. */
    uint8_t hash[32], sig[64];
    mc2_sha256_ctx *h = mc2_sha256_new(err);
    chunk = mc2_malloc(1 << 20);
    if (!h || !chunk) {
        mc2_sha256_free(h);
        if (!chunk) mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    ssize_t r;
    while ((r = read(in, chunk, 1 << 20)) > 0)
        if (mc2_sha256_update(h, chunk, (size_t)r, err)) {
            mc2_sha256_free(h);
            goto out;
        }
    if (r < 0 || mc2_sha256_final(h, hash, err)) goto out;
    if (mc2_upload_sign(id->sec, id->name, name, hash, sig, err)) goto out;
    fd = mc2_dial(hostport, err);
    if (fd < 0) goto out;
    if (mc2_buf_put_lv(&req, id->name, strlen(id->name), err) ||
        mc2_buf_put_lv(&req, name, strlen(name), err) ||
        mc2_buf_put_u64(&req, (uint64_t)st.st_size, err) || mc2_buf_append(&req, sig, 64, err) ||
        mc2_host_call(fd, HAPI_PUT, req.data, req.len, &reply, NULL, NULL, err))
        goto out;
    if (lseek(in, 0, SEEK_SET) != 0) {
        mc2_err_set(err, MC2_E_IO, "cannot rewind '%s'", path);
        goto out;
    }
    uint64_t sent = 0;
    while ((r = read(in, chunk, 1 << 20)) > 0) {
        if (mc2_frame_write_fd(fd, HAPI_PUT_DATA, 0, chunk, (size_t)r, err)) goto out;
        sent += (uint64_t)r;
        if (progress) progress(pctx, sent, (uint64_t)st.st_size);
    }
    if (r < 0) {
        mc2_err_set(err, MC2_E_IO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (mc2_host_call(fd, HAPI_PUT_END, NULL, 0, &reply, NULL, NULL, err)) goto out;
    rc = 0;
out:
    mc2_free(chunk);
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    if (fd >= 0) close(fd);
    close(in);
    return rc;
}

static int append_data(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

int mc2_host_download(const char *hostport, const char *object, mc2_buf *out, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    int fd = mc2_dial(hostport, err);
    if (fd < 0) return -1;
    int rc = mc2_buf_put_lv(&req, object, strlen(object), err) ||
                     mc2_host_call(fd, HAPI_GET, req.data, req.len, &reply, append_data, out, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    close(fd);
    return rc;
}

/* A download going to a file descriptor. */
typedef struct file_dl {
    int fd;
    uint64_t got, total;
    void (*progress)(void *, uint64_t, uint64_t);
    void *pctx;
} file_dl;

static int write_data(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    file_dl *d = ctx;
    if (mc2_write_all(d->fd, p, n, err))
        return mc2_err_prefix(err, "cannot write the downloaded object to a temporary file: ");
    d->got += n;
    if (d->total < d->got) d->total = 0; /* the object changed size: no total to show */
    if (d->progress) d->progress(d->pctx, d->got, d->total);
    return 0;
}

int mc2_host_download_fd(const char *hostport, const char *object, const char *tmp_dir,
                         void (*progress)(void *, uint64_t, uint64_t), void *pctx, int *out,
                         uint64_t *size, mc2_err *err)
{
    mc2_buf req = {0};
    mc2_frame reply = {0};
    file_dl d = {.fd = -1, .progress = progress, .pctx = pctx};
    int rc = -1, conn = -1;
    *out = -1;
    if ((d.fd = mc2_file_anon(tmp_dir, err)) < 0 || (conn = mc2_dial(hostport, err)) < 0 ||
        mc2_buf_put_lv(&req, object, strlen(object), err))
        goto out;
    /* The size first, for the progress report; a service that does not know HAPI_SIZE
     * answers ERR and the download goes on without a total. */
    mc2_err serr;
    if (progress &&
        mc2_host_call(conn, HAPI_SIZE, req.data, req.len, &reply, NULL, NULL, &serr) == 0 &&
        reply.payload.len == 8)
        d.total = mc2_le64_get(reply.payload.data);
    if (mc2_host_call(conn, HAPI_GET, req.data, req.len, &reply, write_data, &d, err)) goto out;
    *out = d.fd;
    if (size) *size = d.got;
    d.fd = -1;
    rc = 0;
out:
    if (d.fd >= 0) close(d.fd); /* it has no name: nothing stays behind */
    if (conn >= 0) close(conn);
    mc2_buf_free(&req);
    mc2_frame_free(&reply);
    return rc;
}

/* ---- attested sessions -------------------------------------------------------------------- */

static int tls_fail(mc2_err *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return mc2_err_set(err, MC2_E_AUTH, "%s: %s", what, e ? buf : "connection closed");
}

int mc2_esession_open(const char *hostport, const mc2_identity *id, const mc2_policy *pol,
                      mc2_esession *s, mc2_err *err)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    uint8_t nonce[32];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    BIO *b = NULL;
    mc2_buf reply = {0};
    if (mc2_random(nonce, sizeof nonce, err)) return -1;
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, id->sec, MC2_ED25519_SEC_LEN);
    b = BIO_new_mem_buf(id->cert_pem, -1);
    cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!key || !cert) {
        mc2_err_set(err, MC2_E_CRYPTO, "cannot load this party's key and certificate");
        goto fail;
    }
    s->ctx = mc2_tls_ctx(0, key, cert, err);
    if (!s->ctx) goto fail;
    s->fd = mc2_dial(hostport, err);
    if (s->fd < 0) goto fail;
    if (mc2_frame_write_fd(s->fd, HAPI_ENCLAVE, 0, nonce, sizeof nonce, err)) goto fail;
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || !SSL_set_fd(s->ssl, s->fd)) {
        tls_fail(err, "cannot start TLS");
        goto fail;
    }
    if (SSL_connect(s->ssl) != 1) {
        tls_fail(err, "TLS handshake with the enclave failed (the service may have refused the "
                      "session, or this party is not in the enclave's consortium policy)");
        goto fail;
    }
    mc2_verifier v = mc2_policy_verifier(pol);
    X509 *peer = SSL_get0_peer_certificate(s->ssl);
    if (!peer) {
        mc2_err_set(err, MC2_E_AUTH, "the enclave presented no certificate");
        goto fail;
    }
    if (mc2_ratls_check(peer, nonce, pol->hash, &v, &pol->appraisal, &s->claims, err) !=
        MC2_ATTEST_OK)
        goto fail;
    if (mc2_esession_hello(s, pol, err)) {
        if (err->code == MC2_E_AUTH && strstr(err->msg, "lost the enclave session"))
            /* In TLS 1.3 the server judges the client's certificate after the client
             * finished its handshake: a refusal shows up as the session ending here. */
            mc2_err_set(err, MC2_E_AUTH,
                        "the attested enclave ended the session: '%s' is not a party of the "
                        "consortium policy it runs under",
                        id->name);
        goto fail;
    }
    if (id->home && mc2_witness_check(id->home, pol->hash, s->generation, err)) goto fail;
    mc2_buf_free(&reply);
    EVP_PKEY_free(key);
    X509_free(cert);
    return 0;
fail:
    mc2_buf_free(&reply);
    EVP_PKEY_free(key);
    X509_free(cert);
    mc2_esession_close(s);
    return -1;
}

int mc2_esession_call(mc2_esession *s, uint16_t type, const void *p, size_t n, mc2_buf *reply,
                      mc2_err *err)
{
    mc2_buf req = {.secret = 1};
    int rc = -1;
    uint8_t h[MC2_FRAME_HDR];
    if (mc2_frame_put(&req, type, 0, p, n, err)) goto out;
    for (size_t off = 0; off < req.len;) {
        int w =
            SSL_write(s->ssl, req.data + off, (int)(req.len - off > 65536 ? 65536 : req.len - off));
        if (w <= 0) {
            tls_fail(err, "lost the enclave session");
            goto out;
        }
        off += (size_t)w;
    }
    for (size_t got = 0; got < sizeof h;) {
        int r = SSL_read(s->ssl, h + got, (int)(sizeof h - got));
        if (r <= 0) {
            tls_fail(err, "lost the enclave session");
            goto out;
        }
        got += (size_t)r;
    }
    uint32_t len = mc2_le32_get(h);
    uint16_t t = mc2_le16_get(h + 4);
    if (mc2_le16_get(h + 6) != MC2_WIRE_VERSION || len > MC2_FRAME_MAX) {
        mc2_err_set(err, MC2_E_INPUT, "malformed reply from the enclave");
        goto out;
    }
    mc2_buf_reset(reply);
    if (mc2_buf_reserve(reply, len, err)) goto out;
    for (size_t got = 0; got < len;) {
        int r = SSL_read(s->ssl, reply->data + got, (int)(len - got > 65536 ? 65536 : len - got));
        if (r <= 0) {
            tls_fail(err, "lost the enclave session");
            goto out;
        }
        got += (size_t)r;
    }
    reply->len = len;
    if (t == EAPI_ERR) {
        mc2_err_set(err, MC2_E_AUTH, "the enclave refused: %.*s", (int)(len < 900 ? len : 900),
                    (const char *)reply->data);
        mc2_buf_reset(reply);
        goto out;
    }
    if (t != EAPI_OK) {
        mc2_err_set(err, MC2_E_INPUT, "unexpected reply type %u from the enclave", t);
        goto out;
    }
    rc = 0;
out:
    mc2_buf_free(&req);
    return rc;
}

int mc2_esession_hello(mc2_esession *s, const mc2_policy *pol, mc2_err *err)
{
    mc2_buf reply = {0};
    int rc = -1;
    if (mc2_esession_call(s, EAPI_HELLO, NULL, 0, &reply, err)) goto out;
    if (reply.len != 32 + 8 + 32 + 8) {
        mc2_err_set(err, MC2_E_INPUT, "malformed HELLO reply from the enclave");
        goto out;
    }
    if (memcmp(reply.data + 40, pol->hash, 32) != 0) {
        mc2_err_set(err, MC2_E_AUTH, "the enclave runs under another consortium policy");
        goto out;
    }
    memcpy(s->instance, reply.data, 32);
    s->next_counter = mc2_le64_get(reply.data + 32);
    s->generation = mc2_le64_get(reply.data + 72);
    rc = 0;
out:
    mc2_buf_free(&reply);
    return rc;
}

int mc2_job_submit(mc2_esession *s, const mc2_identity *id, const mc2_policy *pol, mc2_job *j,
                   uint64_t *job_id, char **text_out, mc2_err *err)
{
    for (int attempt = 0; attempt < 40; attempt++) {
        char *text = NULL;
        size_t len = 0;
        uint8_t sig[64];
        mc2_buf req = {0}, reply = {0};
        memcpy(j->policy_hash, pol->hash, 32);
        memcpy(j->instance, s->instance, 32);
        j->counter = s->next_counter;
        int rc = mc2_job_format(j, &text, &len, err) ||
                         mc2_job_sign(id->sec, text, len, sig, err) ||
                         mc2_buf_put_lv(&req, text, len, err) || mc2_buf_append(&req, sig, 64, err)
                     ? -1
                     : mc2_esession_call(s, EAPI_SUBMIT, req.data, req.len, &reply, err);
        if (rc == 0 && reply.len != 8) rc = mc2_err_set(err, MC2_E_INPUT, "malformed reply");
        if (rc == 0) *job_id = mc2_le64_get(reply.data);
        mc2_buf_free(&req);
        mc2_buf_free(&reply);
        if (rc == 0 && text_out)
            *text_out = text;
        else
            mc2_free(text);
        if (rc == 0) return 0;
        if (!strstr(err->msg, EAPI_STALE_COUNTER)) return -1;
        /* Another party's job took the counter: back off a random 0..2^min(attempt,7) ms, so
         * that busy clients stop colliding, then fetch the new counter. */
        uint8_t r[2];
        if (attempt > 0 && mc2_random(r, sizeof r, err) == 0) {
            unsigned ms = (unsigned)(r[0] | r[1] << 8) % (1u << (attempt < 7 ? attempt : 7));
            struct timespec ts = {0, (long)ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (mc2_esession_hello(s, pol, err)) return -1;
    }
    return mc2_err_set(err, MC2_E_LIMIT, "the enclave is too busy: could not get a job counter");
}

void mc2_esession_close(mc2_esession *s)
{
    if (s->ssl) {
        SSL_shutdown(s->ssl);
        SSL_free(s->ssl);
    }
    SSL_CTX_free(s->ctx);
    if (s->fd >= 0) close(s->fd);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

int mc2_esession_grant(mc2_esession *s, const mc2_identity *id, const mc2_policy *pol, mc2_err *err)
{
    uint8_t sig[64];
    mc2_buf req = {.secret = 1}, reply = {0};
    int rc = mc2_grant_sign(id->sec, pol->hash, s->instance, id->data_key, sig, err) ||
                     mc2_buf_append(&req, id->data_key, MC2_KEY_LEN, err) ||
                     mc2_buf_append(&req, sig, 64, err) ||
                     mc2_esession_call(s, EAPI_GRANT, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

int mc2_job_state(mc2_esession *s, uint64_t id, mc2_buf *text, mc2_buf *state, mc2_err *err)
{
    uint8_t req[8];
    mc2_buf reply = {0};
    mc2_le64_put(req, id);
    int rc = mc2_esession_call(s, EAPI_JOB, req, 8, &reply, err);
    if (rc == 0) {
        mc2_rd r = mc2_rd_init(reply.data, reply.len);
        size_t tl, sl;
        const uint8_t *t = mc2_rd_lv(&r, &tl), *st = mc2_rd_lv(&r, &sl);
        mc2_buf_reset(text);
        mc2_buf_reset(state);
        if (r.bad || mc2_rd_left(&r))
            rc = mc2_err_set(err, MC2_E_INPUT, "malformed job reply from the enclave");
        else
            rc = mc2_buf_append(text, t, tl, err) || mc2_buf_append(text, "", 1, err) ||
                         mc2_buf_append(state, st, sl, err) || mc2_buf_append(state, "", 1, err)
                     ? -1
                     : 0;
        if (rc == 0) { /* the NULs stay in the buffers, after len */
            text->len--;
            state->len--;
        }
    }
    mc2_buf_free(&reply);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int mc2_job_watch(mc2_esession *s, uint64_t id, bool approvals, uint64_t timeout_ms,
                  unsigned pause_cap_ms, mc2_job_watch_fn fn, void *ctx, mc2_buf *text,
                  mc2_buf *state, mc2_err *err)
{
    mc2_buf t = {0}, st = {0};
    uint64_t deadline = now_ms() + timeout_ms, cap_us = (uint64_t)pause_cap_ms * 1000u;
    uint64_t pause_us = 1000;
    int rc;
    for (;;) {
        if ((rc = mc2_job_state(s, id, &t, &st, err)) != 0) break;
        const char *v = (const char *)st.data;
        bool busy = strncmp(v, "running", 7) == 0 || strncmp(v, "queued", 6) == 0 ||
                    (approvals && strncmp(v, "waiting", 7) == 0);
        uint64_t now = now_ms();
        if (!busy || now >= deadline) break;
        if (fn) fn(ctx, v, deadline - now);
        uint64_t us = pause_us < (deadline - now) * 1000u ? pause_us : (deadline - now) * 1000u;
        struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
        pause_us = pause_us * 2 > cap_us ? cap_us : pause_us * 2;
    }
    if (rc == 0 && text) rc = mc2_buf_append(text, t.data, t.len + 1, err);
    if (rc == 0 && state) rc = mc2_buf_append(state, st.data, st.len + 1, err);
    if (rc == 0 && text) text->len--;
    if (rc == 0 && state) state->len--;
    mc2_buf_free(&t);
    mc2_buf_free(&st);
    return rc;
}

int mc2_job_wait(mc2_esession *s, uint64_t id, bool approvals, unsigned timeout_ms, mc2_buf *text,
                 mc2_buf *state, mc2_err *err)
{
    return mc2_job_watch(s, id, approvals, timeout_ms, 50, NULL, NULL, text, state, err);
}

int mc2_esession_results(mc2_esession *s, uint64_t id, mc2_result_ref *out, size_t cap, size_t *n,
                         mc2_err *err)
{
    uint8_t req[8];
    mc2_buf reply = {.secret = 1};
    mc2_le64_put(req, id);
    *n = 0;
    int rc = -1;
    if (mc2_job_wait(s, id, false, 3600u * 1000u, NULL, NULL, err) ||
        mc2_esession_call(s, EAPI_RESULT_KEY, req, 8, &reply, err))
        goto out;
    mc2_rd r = mc2_rd_init(reply.data, reply.len);
    uint32_t count = mc2_rd_u32(&r);
    for (uint32_t i = 0; i < count && !r.bad; i++) {
        const uint8_t *k = mc2_rd_take(&r, MC2_KEY_LEN);
        size_t nl;
        const uint8_t *name = mc2_rd_lv(&r, &nl);
        if (r.bad || nl >= sizeof out->name) break;
        if (*n < cap) {
            memcpy(out[*n].key, k, MC2_KEY_LEN);
            memcpy(out[*n].name, name, nl);
            out[*n].name[nl] = '\0';
            (*n)++;
        }
    }
    if (r.bad || mc2_rd_left(&r)) {
        mc2_err_set(err, MC2_E_INPUT, "malformed result-key reply from the enclave");
        goto out;
    }
    rc = 0;
out:
    mc2_buf_free(&reply);
    return rc;
}

int mc2_fetch_table(const char *service, const char *object, const uint8_t key[MC2_KEY_LEN],
                    const char *tmp_dir, const char *out_path, enum mc2_textfmt fmt,
                    mc2_table_stats *stats, mc2_err *err)
{
    return mc2_fetch_table_expect(service, object, key, NULL, tmp_dir, out_path, fmt, stats, NULL,
                                  NULL, err);
}

int mc2_fetch_table_progress(const char *service, const char *object,
                             const uint8_t key[MC2_KEY_LEN], const char *tmp_dir,
                             const char *out_path, enum mc2_textfmt fmt, mc2_table_stats *stats,
                             void (*progress)(void *, uint64_t, uint64_t), void *pctx, mc2_err *err)
{
    return mc2_fetch_table_expect(service, object, key, NULL, tmp_dir, out_path, fmt, stats,
                                  progress, pctx, err);
}

/* Authenticates the metadata of the table in fd with key and compares its table id and
 * version with *want (filling want->got_*). */
/* A service that holds only a part of a table placed on a cluster: say so, and what to do. */
static int not_a_part(int fd, mc2_err *err)
{
    uint8_t head[MC2_TPART_HEAD_LEN];
    struct stat st;
    mc2_tpart_info pi;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof head ||
        pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
        return 0; /* the table reader says what is wrong */
    if (mc2_tpart_head_parse(head, sizeof head, (uint64_t)st.st_size, &pi, err) || !pi.is_part)
        return pi.is_part ? -1 : 0;
    return mc2_err_set(err, MC2_E_INPUT,
                       "this service holds only part %u of %u of the table (it was placed on a "
                       "cluster): download it with --cluster STATE or --place HOST:PORT,... (the "
                       "%u services in rank order)",
                       pi.part + 1, pi.parts, pi.parts);
}

static int check_expected(int fd, const uint8_t key[MC2_KEY_LEN], mc2_table_expect *want,
                          mc2_err *err)
{
    mc2_tio io;
    mc2_tsrc *src = NULL;
    if (mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, key, 256u << 20, &src, err)) return -1;
    const mc2_thdr *h = mc2_tsrc_header(src);
    memcpy(want->got_id, h->table_id, MC2_TABLE_ID_LEN);
    want->got_version = h->table_version;
    mc2_tsrc_free(src);
    want->mismatch = memcmp(want->got_id, want->table_id, MC2_TABLE_ID_LEN) != 0 ||
                     want->got_version != want->version;
    if (want->mismatch)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the service sent version %llu of another table than the one "
                           "expected (version %llu): nothing was decrypted",
                           (unsigned long long)want->got_version,
                           (unsigned long long)want->version);
    return 0;
}

int mc2_fetch_table_expect(const char *service, const char *object, const uint8_t key[MC2_KEY_LEN],
                           mc2_table_expect *want, const char *tmp_dir, const char *out_path,
                           enum mc2_textfmt fmt, mc2_table_stats *stats,
                           void (*progress)(void *, uint64_t, uint64_t), void *pctx, mc2_err *err)
{
    int fd;
    if (want) want->mismatch = false;
    if (mc2_host_download_fd(service, object, tmp_dir, progress, pctx, &fd, NULL, err)) return -1;
    int rc = not_a_part(fd, err) || (want && check_expected(fd, key, want, err)) ||
                     mc2_table_decrypt_fd(fd, object, key, out_path, fmt, stats, err)
                 ? -1
                 : 0;
    close(fd);
    return rc;
}

int mc2_fetch_table_parts_expect(const char *const *services, size_t n, const char *object,
                                 const uint8_t key[MC2_KEY_LEN], mc2_table_expect *want,
                                 const char *tmp_dir, const char *out_path, enum mc2_textfmt fmt,
                                 mc2_table_stats *stats, mc2_err *err)
{
    int fds[MC2_TPART_MAX], whole = -1, rc = -1;
    size_t got = 0;
    if (want) want->mismatch = false;
    if (n < 1 || n > MC2_TPART_MAX)
        return mc2_err_set(err, MC2_E_USAGE, "%zu services: 1 to %u", n, MC2_TPART_MAX);
    for (; got < n; got++)
        if (mc2_host_download_fd(services[got], object, tmp_dir, NULL, NULL, &fds[got], NULL,
                                 err)) {
            mc2_err_prefix(err, "part %zu of %zu, from %s: ", got + 1, n, services[got]);
            goto out;
        }
    if ((whole = mc2_file_anon(tmp_dir, err)) < 0 || mc2_tpart_join(fds, n, whole, err) ||
        (want && check_expected(whole, key, want, err)) ||
        mc2_table_decrypt_fd(whole, object, key, out_path, fmt, stats, err))
        goto out;
    rc = 0;
out:
    for (size_t i = 0; i < got; i++) close(fds[i]);
    if (whole >= 0) close(whole);
    return rc;
}

int mc2_esession_grant_object(mc2_esession *s, const mc2_identity *id, uint64_t job_id,
                              const char *text, size_t len, const char *name,
                              const uint8_t key[MC2_KEY_LEN], mc2_err *err)
{
    uint8_t sig[64], h[MC2_SHA256_LEN];
    mc2_buf req = {.secret = 1}, reply = {0};
    int rc =
        mc2_sha256(text, len, h, err) || mc2_object_grant_sign(id->sec, h, name, key, sig, err) ||
                mc2_buf_put_u64(&req, job_id, err) ||
                mc2_buf_put_lv(&req, name, strlen(name), err) ||
                mc2_buf_append(&req, key, MC2_KEY_LEN, err) || mc2_buf_append(&req, sig, 64, err) ||
                mc2_esession_call(s, EAPI_GRANT_OBJECT, req.data, req.len, &reply, err)
            ? -1
            : 0;
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}
