/* test_enclave_io.c - the enclave's storage requests through the host (src/enclave/hostio.c),
 * against a scripted host on a socketpair and a reader thread that routes replies as
 * mc2-enclave's main thread does. A host that never answers a request, or that closes the
 * channel, must fail the request within its timeout instead of hanging the enclave (the
 * security review's "spilling query hangs the enclave" finding, enclave side); replies are
 * routed by request id whatever their order; a reply for an id nobody waits for is dropped. */
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "enclave/enclave.h"
#include "test.h"
#include "wire/proto.h"

static enclave E;
static int host_fd; /* the host's end */

/* The enclave's main thread: reads frames, routes replies, stops at the end of the stream. */
static void *reader(void *arg)
{
    (void)arg;
    mc2_frame f = {0};
    mc2_err err;
    while (mc2_frame_read_fd(E.fd, MC2_FRAME_MAX + 64, &f, &err) == 0)
        if (f.type == EIF_STORE_REPLY) enc_io_deliver(&E, &f);
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
    mc2_buf_free(&body);
    close(sv[0]);
    close(sv[1]);
    return test_done("test_enclave_io");
}
