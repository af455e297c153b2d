/* fake_enclave.c - a stand-in for mc2-enclave that tests mc2d's side of the host interface
 * (tests/cli/test_mc2d_enclave.sh): started by mc2d like the real one (fd 3, signed with a
 * test key), it answers INIT with READY, then sends storage requests and message types mc2d
 * does not know, and checks that every one gets exactly one EIF_STORE_REPLY on its channel
 * with the expected status (0 done, 1 failed, 2 unsupported) within 5 s. It writes
 * "fake-enclave: PASS" or "fake-enclave: FAIL <why>" to stderr (mc2d's log) and exits,
 * which stops mc2d. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "wire/frame.h"
#include "wire/proto.h"

#define FD 3

static int fail(const char *why, unsigned step)
{
    fprintf(stderr, "fake-enclave: FAIL step %u: %s\n", step, why);
    return 1;
}

/* Sends (type, ch, payload) and waits for the reply on ch; returns its status or -1. */
static long ask(uint16_t type, uint32_t ch, const void *p, size_t n, unsigned step)
{
    mc2_err err;
    mc2_frame f = {0};
    long status = -1;
    if (mc2_frame_write_fd(FD, type, ch, p, n, &err)) return fail(err.msg, step), -1;
    for (;;) {
        struct pollfd pf = {FD, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0) {
            fail("no reply within 5 s", step);
            break;
        }
        if (mc2_frame_read_fd(FD, MC2_FRAME_MAX + 64, &f, &err)) {
            fail(err.msg, step);
            break;
        }
        if (f.type != EIF_STORE_REPLY || f.channel != ch) continue; /* not ours */
        if (f.payload.len < 4) {
            fail("reply shorter than its status", step);
            break;
        }
        status = (long)(f.payload.data[0] | f.payload.data[1] << 8 | f.payload.data[2] << 16 |
                        (uint32_t)f.payload.data[3] << 24);
        break;
    }
    mc2_frame_free(&f);
    return status;
}

/* name LV [| extra] */
static size_t named(uint8_t *out, const char *name, const void *extra, size_t n)
{
    size_t l = strlen(name);
    out[0] = (uint8_t)l;
    out[1] = out[2] = out[3] = 0;
    memcpy(out + 4, name, l);
    if (n) memcpy(out + 4 + l, extra, n);
    return 4 + l + n;
}

int main(void)
{
    mc2_err err;
    mc2_frame init = {0};
    uint8_t ready[69] = {0}, req[300];
    if (mc2_frame_read_fd(FD, 1 << 20, &init, &err) || init.type != EIF_INIT)
        return fail("no INIT", 0);
    mc2_frame_free(&init);
    ready[68] = 1;
    if (mc2_frame_write_fd(FD, EIF_READY, 0, ready, sizeof ready, &err)) return fail(err.msg, 0);

    static const uint8_t last_abc[] = {1, 'a', 'b', 'c'};
    struct {
        uint16_t type;
        const char *name; /* NULL: payload "x" */
        const void *extra;
        size_t extra_len;
        long want;
    } steps[] = {
        {99, NULL, NULL, 0, 2},                                         /* unknown type */
        {4000, NULL, NULL, 0, 2},                                       /* another */
        {EIF_INIT, NULL, NULL, 0, 2},                                   /* a host->enclave type */
        {EIF_STORE_DROP, "spill/job-1-1", NULL, 0, 1},                  /* nothing to drop */
        {EIF_STORE_PUT, "spill/job-1-2", last_abc, sizeof last_abc, 0}, /* a spilled run */
        {EIF_STORE_SIZE, "spill/job-1-2", NULL, 0, 0},
        {EIF_STORE_DROP, "spill/job-1-2", NULL, 0, 0},       /* dropped */
        {EIF_STORE_SIZE, "spill/job-1-2", NULL, 0, 1},       /* gone */
        {EIF_STORE_DROP, "tables/alice/t.mc2t", NULL, 0, 1}, /* only spilled runs */
        {EIF_STORE_DROP, "../etc/passwd", NULL, 0, 1},
    };
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i].name ? named(req, steps[i].name, steps[i].extra, steps[i].extra_len)
                                 : (req[0] = 'x', 1);
        long st = ask(steps[i].type, 100 + i, req, n, i + 1);
        if (st < 0) return 1;
        if (st != steps[i].want) {
            char why[80];
            snprintf(why, sizeof why, "type %u: status %ld, wanted %ld", steps[i].type, st,
                     steps[i].want);
            return fail(why, i + 1);
        }
    }
    fprintf(stderr, "fake-enclave: PASS\n");
    return 0;
}
