/* test_enclave_io.c - the enclave's storage requests through the host (src/enclave/hostio.c),
 * against a scripted host on a socketpair and a reader thread that routes replies as
 * mc2-enclave's main thread does. A host that never answers a request, or that closes the
 * channel, must fail the request within its timeout instead of hanging the enclave (the
 * security review's "spilling query hangs the enclave" finding, enclave side); replies are
 * routed by request id whatever their order; a reply for an id nobody waits for is dropped.
 * Reads into the requester's buffer (enc_store_begin_into, read by enc_io_read straight from
 * the channel): the bytes land there; a reply of another length or with an error status
 * fails the read; a request cannot be freed while its buffer is being filled; a host that
 * stops in the middle of such a reply breaks the channel within the timeout. */
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "enclave/enclave.h"
#include "test.h"
#include "wire/proto.h"

static enclave E;
static int host_fd;           /* the host's end */
static char reader_err[1100]; /* why the reader stopped */

/* The enclave's main thread: reads frames, routes replies, stops at the end of the stream. */
static void *reader(void *arg)
{
    (void)arg;
    mc2_frame f = {0};
    mc2_err err;
    bool delivered;
    while (enc_io_read(&E, MC2_FRAME_MAX + 64, &f, &delivered, &err) == 0)
        if (!delivered && f.type == EIF_STORE_REPLY) enc_io_deliver(&E, &f);
    snprintf(reader_err, sizeof reader_err, "%s", err.msg);
    mc2_frame_free(&f);
    enc_io_close(&E);
    return NULL;
}

/* Reads one request from the enclave: its type and id. */
static void host_read(uint16_t *type, uint32_t *id)
{
    mc2_frame f = {0};
    mc2_err err;
    *type = 0;
    *id = 0;
    if (mc2_frame_read_fd(host_fd, MC2_FRAME_MAX, &f, &err) == 0) {
        *type = f.type;
        *id = f.channel;
    }
    mc2_frame_free(&f);
}

static void host_reply(uint32_t id, uint32_t status, const char *body)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, body, strlen(body), &err) ||
        mc2_frame_write_fd(host_fd, EIF_STORE_REPLY, id, b.data, b.len, &err))
        fprintf(stderr, "host reply failed: %s\n", err.msg);
    mc2_buf_free(&b);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int begin(const char *body, enc_req **r)
{
    mc2_buf b = {0};
    mc2_err err;
    int rc = mc2_buf_append(&b, body, strlen(body), &err) ||
                     enc_store_begin(&E, EIF_STORE_READ, &b, r, &err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

/* The host sends, for request id, a reply frame announcing 4 + len body bytes, of which it
 * writes only the first `sent` (the rest: host_rest). */
static void host_partial(uint32_t id, uint32_t status, const uint8_t *body, size_t len, size_t sent)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_frame_put(&b, EIF_STORE_REPLY, id, NULL, 0, &err) ||
        mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, body, sent, &err))
        fprintf(stderr, "host reply failed: %s\n", err.msg);
    mc2_le32_put(b.data, (uint32_t)(4 + len)); /* the frame's length: the whole body */
    if (mc2_write_all(host_fd, b.data, b.len, &err)) fprintf(stderr, "host: %s\n", err.msg);
    mc2_buf_free(&b);
}

typedef struct later {
    const uint8_t *p;
    size_t n;
    unsigned delay_ms;
} later;

/* Writes the rest of a reply after a delay (a thread). */
static void *host_rest(void *arg)
{
    later *l = arg;
    struct timespec ts = {l->delay_ms / 1000, (long)(l->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    mc2_err err;
    if (mc2_write_all(host_fd, l->p, l->n, &err)) fprintf(stderr, "host: %s\n", err.msg);
    return NULL;
}

static int begin_into(uint8_t *dst, size_t len, enc_req **r, uint32_t *id)
{
    mc2_buf b = {0};
    mc2_err err;
    uint16_t type;
    int rc = mc2_buf_append(&b, "x", 1, &err) ||
                     enc_store_begin_into(&E, EIF_STORE_READ, &b, dst, len, r, &err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    if (rc == 0) host_read(&type, id);
    return rc;
}

/* Reads straight into the requester's buffer. */
static void direct_reads(void)
{
    static uint8_t big[1 << 20], dst[1 << 20];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 131 + 7);
    mc2_err err;
    enc_req *q;
    uint32_t id;
    /* The exact length: the bytes are in dst. */
    memset(dst, 0, sizeof dst);
    CHECK(begin_into(dst, sizeof dst, &q, &id) == 0);
    host_partial(id, 0, big, sizeof big, sizeof big);
    CHECK(enc_store_end_into(&E, q, &err) == 0 && memcmp(dst, big, sizeof big) == 0);
    /* Another length (shorter, longer): the read fails, dst is not filled. */
    for (int longer = 0; longer < 2; longer++) {
        memset(dst, 0, sizeof dst);
        CHECK(begin_into(dst, 1000, &q, &id) == 0);
        host_partial(id, 0, big, longer ? 1001 : 999, longer ? 1001 : 999);
        CHECK(enc_store_end_into(&E, q, &err) != 0 && err.code == MC2_E_INPUT &&
              strstr(err.msg, longer ? "returned 1001 bytes for a 1000-byte read"
                                     : "returned 999 bytes for a 1000-byte read") != NULL);
        CHECK(dst[0] == 0 && dst[500] == 0);
    }
    /* The right length but an error status: fails. */
    CHECK(begin_into(dst, 1000, &q, &id) == 0);
    host_partial(id, 3, big, 1000, 1000);
    CHECK(enc_store_end_into(&E, q, &err) != 0 && err.code == MC2_E_NOTFOUND);
    /* Abandoned while its buffer is being filled: abandon waits until the frame is read, and
     * the channel goes on. */
    memset(dst, 0, sizeof dst);
    CHECK(begin_into(dst, sizeof dst, &q, &id) == 0);
    host_partial(id, 0, big, sizeof big, 1000);
    later rest = {big + 1000, sizeof big - 1000, 200};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, host_rest, &rest) == 0);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL); /* the reader is inside the frame now */
    double t0 = now_s();
    enc_store_abandon(&E, q);
    double waited = now_s() - t0;
    CHECK_MSG(waited > 0.1, "abandon returned after %.3f s, while the frame was being read",
              waited);
    CHECK(memcmp(dst, big, sizeof big) == 0);
    pthread_join(th, NULL);
    CHECK(begin_into(dst, 10, &q, &id) == 0);
    host_partial(id, 0, big, 10, 10);
    CHECK(enc_store_end_into(&E, q, &err) == 0);
}

/* Last: a host that stops in the middle of a direct reply breaks the channel in time (the
 * reader thread th ends on it). */
static void stalled_reply(pthread_t th)
{
    static uint8_t dst[4096];
    mc2_err err;
    enc_req *q;
    uint32_t id;
    CHECK(begin_into(dst, sizeof dst, &q, &id) == 0);
    host_partial(id, 0, dst, sizeof dst, 100);
    double t0 = now_s();
    CHECK(enc_store_end_into(&E, q, &err) != 0);
    double waited = now_s() - t0;
    CHECK_MSG(waited < 5, "a stalled reply held the request %.2f s", waited);
    pthread_join(th, NULL);
    CHECK_MSG(strstr(reader_err, "stalled in the middle of a message") != NULL, "reader: %s",
              reader_err);
}

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
    E.fd = sv[0];
    host_fd = sv[1];
    E.store_timeout_ms = 300;
    enc_io_init(&E);
    pthread_t th;
    if (pthread_create(&th, NULL, reader, NULL) != 0) return 1;
    mc2_err err;
    mc2_buf body = {0};

    /* Three requests outstanding, answered in reverse order, plus a stray reply. */
    enc_req *r[3];
    uint32_t id[3];
    uint16_t type;
    CHECK(begin("a", &r[0]) == 0 && begin("b", &r[1]) == 0 && begin("c", &r[2]) == 0);
    for (int i = 0; i < 3; i++) {
        host_read(&type, &id[i]);
        CHECK(type == EIF_STORE_READ);
    }
    CHECK(id[0] != id[1] && id[1] != id[2] && id[0] != id[2]);
    host_reply(id[0] + id[1] + id[2] + 1000, 0, "stray");
    host_reply(id[2], 0, "reply-c");
    host_reply(id[1], 0, "reply-b");
    host_reply(id[0], 0, "reply-a");
    static const char *want[3] = {"reply-a", "reply-b", "reply-c"};
    for (int i = 0; i < 3; i++) {
        CHECK(enc_store_end(&E, r[i], &body, &err) == 0);
        CHECK(body.len == 7 && memcmp(body.data, want[i], 7) == 0);
    }

    /* A non-zero status fails the request without reading the host's message. */
    enc_req *q;
    CHECK(begin("d", &q) == 0);
    host_read(&type, &id[0]);
    host_reply(id[0], 2, "unsupported");
    CHECK(enc_store_end(&E, q, &body, &err) != 0 && err.code == MC2_E_NOTFOUND);

    /* No answer: the request fails after the timeout, it does not hang. */
    CHECK(begin("e", &q) == 0);
    host_read(&type, &id[0]);
    double t0 = now_s();
    CHECK(enc_store_end(&E, q, &body, &err) != 0 && err.code == MC2_E_IO &&
          strstr(err.msg, "did not answer") != NULL);
    double waited = now_s() - t0;
    CHECK_MSG(waited >= 0.25 && waited < 5, "waited %.2f s", waited);
    /* Its late reply is dropped; the next request still gets its own. */
    host_reply(id[0], 0, "late");
    CHECK(begin("f", &q) == 0);
    host_read(&type, &id[1]);
    host_reply(id[1], 0, "reply-f");
    CHECK(enc_store_end(&E, q, &body, &err) == 0 && body.len == 7 &&
          memcmp(body.data, "reply-f", 7) == 0);

    direct_reads();

    /* The channel closes while a request waits: it fails at once, and so does any later one. */
    E.store_timeout_ms = 60 * 1000;
    CHECK(begin("g", &q) == 0);
    host_read(&type, &id[0]);
    t0 = now_s();
    shutdown(host_fd, SHUT_WR);
    CHECK(enc_store_end(&E, q, &body, &err) != 0 && strstr(err.msg, "closed") != NULL);
    CHECK(now_s() - t0 < 5);
    CHECK(begin("h", &q) != 0);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);

    /* A new channel for the host that stalls in the middle of a reply (it ends the channel). */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
    E.fd = sv[0];
    host_fd = sv[1];
    E.io_closed = false;
    E.store_timeout_ms = 300;
    if (pthread_create(&th, NULL, reader, NULL) != 0) return 1;
    stalled_reply(th);
    mc2_buf_free(&body);
    close(sv[0]);
    close(sv[1]);
    return test_done("test_enclave_io");
}
