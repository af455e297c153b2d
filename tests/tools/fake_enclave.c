/* fake_enclave.c - a stand-in for mc2-enclave that tests mc2d's side of the host interface
 * (tests/cli/test_mc2d_enclave.sh): started by mc2d like the real one (fd 3, signed with a
 * test key), it answers INIT with READY, then sends storage requests and message types mc2d
 * does not know, and checks that every one gets exactly one EIF_STORE_REPLY on its channel
 * with the expected status (0 done, 1 failed, 2 unsupported, 3 no such object: a size
 * request) within 5 s, that objects written by several puts, several at once, commit whole
 * or not at all, and that the monotonic counter (EIF_COUNTER) counts and the sealed state
 * object (enclave/state) can be written. It writes
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

static uint64_t body_size; /* the u64 in the last reply's body, if it had 8 bytes */

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
        body_size = 0;
        if (f.payload.len == 12)
            for (int i = 7; i >= 0; i--) body_size = body_size << 8 | f.payload.data[4 + i];
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

/* At most 16 objects unfinished at once: the 17th put fails; the job they belong to ending
 * (EIF_JOB failed) abandons them, so another can start. Then one more is left unfinished as
 * the fake exits: mc2d removes its temporary file when it stops (test_mc2d_enclave.sh). */
static int unfinished_limit(void)
{
    mc2_err err;
    uint8_t req[300];
    static const uint8_t more[] = {0, 'z'}, last[] = {1, 'z'};
    uint32_t ch = 1000;
    for (int i = 1; i <= 17; i++) {
        char name[64];
        snprintf(name, sizeof name, "results/job-5-o%d.mc2t", i);
        long st = ask(EIF_STORE_PUT, ch++, req, named(req, name, more, sizeof more), 100 + i);
        if (st != (i <= 16 ? 0 : 1)) return st < 0 ? 1 : fail("the 16-object limit", 100 + i);
    }
    static const char line[] = "5 sql failed (reason: `mc2 job ID`, for parties)";
    if (mc2_frame_write_fd(FD, EIF_JOB, 0, line, sizeof line - 1, &err)) return fail(err.msg, 200);
    if (ask(EIF_STORE_PUT, ch++, req, named(req, "results/job-6-r.mc2t", last, sizeof last), 201) !=
            0 ||
        ask(EIF_STORE_SIZE, ch++, req, named(req, "results/job-5-o1.mc2t", NULL, 0), 202) != 3)
        return fail("the ended job's unfinished objects were not abandoned", 202);
    if (ask(EIF_STORE_PUT, ch++, req, named(req, "results/job-7-r.mc2t", more, sizeof more), 203) !=
        0)
        return fail("a put after the limit was freed", 203);
    fprintf(stderr, "fake-enclave: PASS\n");
    return 0;
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

    static const uint8_t last_abc[] = {1, 'a', 'b', 'c'}, more_ab[] = {0, 'a', 'b'},
                         more_x[] = {0, 'x'}, last_y[] = {1, 'y'}, last_ef[] = {1, 'e', 'f'},
                         op_read[] = {0}, op_inc[] = {1};
    struct {
        uint16_t type;
        const char *name; /* NULL: payload "x" */
        const void *extra;
        size_t extra_len;
        long want;
        long size; /* > 0: the reply's u64 must be this */
    } steps[] = {
        {99, NULL, NULL, 0, 2, 0},                        /* unknown type */
        {4000, NULL, NULL, 0, 2, 0},                      /* another */
        {EIF_INIT, NULL, NULL, 0, 2, 0},                  /* a host->enclave type */
        {EIF_STORE_DROP, "spill/job-1-1", NULL, 0, 1, 0}, /* nothing to drop */
        {EIF_STORE_PUT, "spill/job-1-2", last_abc, sizeof last_abc, 0, 0}, /* a spilled run */
        {EIF_STORE_SIZE, "spill/job-1-2", NULL, 0, 0, 0},
        {EIF_STORE_DROP, "spill/job-1-2", NULL, 0, 0, 0},       /* dropped */
        {EIF_STORE_SIZE, "spill/job-1-2", NULL, 0, 3, 0},       /* gone */
        {EIF_STORE_DROP, "tables/alice/t.mc2t", NULL, 0, 1, 0}, /* only spilled runs */
        {EIF_STORE_DROP, "../etc/passwd", NULL, 0, 1, 0},
        /* Two objects written at once, their puts interleaved: each commits whole. */
        {EIF_STORE_PUT, "results/job-3-r.mc2t", more_ab, sizeof more_ab, 0, 0},
        {EIF_STORE_PUT, "spill/job-3-1", more_x, sizeof more_x, 0, 0},
        {EIF_STORE_PUT, "results/job-3-r.mc2t", more_ab, sizeof more_ab, 0, 0},
        {EIF_STORE_PUT, "spill/job-3-1", last_y, sizeof last_y, 0, 0},
        {EIF_STORE_SIZE, "spill/job-3-1", NULL, 0, 0, 2},
        {EIF_STORE_SIZE, "results/job-3-r.mc2t", NULL, 0, 3, 0}, /* not committed yet */
        {EIF_STORE_PUT, "results/job-3-r.mc2t", last_ef, sizeof last_ef, 0, 0},
        {EIF_STORE_SIZE, "results/job-3-r.mc2t", NULL, 0, 0, 6}, /* ab ab ef */
        {EIF_STORE_DROP, "results/job-3-r.mc2t", NULL, 0, 1, 0}, /* committed: kept */
        {EIF_STORE_DROP, "spill/job-3-1", NULL, 0, 0, 0},
        /* An unfinished object the enclave drops (its job failed): nothing remains. */
        {EIF_STORE_PUT, "results/job-4-r.mc2t", more_ab, sizeof more_ab, 0, 0},
        {EIF_STORE_DROP, "results/job-4-r.mc2t", NULL, 0, 0, 0},
        {EIF_STORE_SIZE, "results/job-4-r.mc2t", NULL, 0, 3, 0},
        {EIF_STORE_PUT, "results/job-4-r.mc2t", last_ef, sizeof last_ef, 0, 0}, /* anew */
        {EIF_STORE_SIZE, "results/job-4-r.mc2t", NULL, 0, 0, 2},
        /* Only results, spilled runs and the sealed state are written. */
        {EIF_STORE_PUT, "tables/alice/t.mc2t", last_abc, sizeof last_abc, 1, 0},
        {EIF_STORE_SIZE, "enclave/state", NULL, 0, 3, 0}, /* none yet */
        {EIF_STORE_PUT, "enclave/state", last_abc, sizeof last_abc, 0, 0},
        {EIF_STORE_SIZE, "enclave/state", NULL, 0, 0, 3},
        {EIF_STORE_PUT, "enclave/other", last_abc, sizeof last_abc, 1, 0},
        /* The monotonic counter: starts at 0, counts, refuses a malformed op. */
        {EIF_COUNTER, NULL, op_inc, 1, 0, 1},
        {EIF_COUNTER, NULL, op_inc, 1, 0, 2},
        {EIF_COUNTER, NULL, op_read, 1, 0, 2},
        {EIF_COUNTER, NULL, NULL, 0, 1, 0}, /* "x" */
    };
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i].name ? named(req, steps[i].name, steps[i].extra, steps[i].extra_len)
                   : steps[i].extra
                       ? (memcpy(req, steps[i].extra, steps[i].extra_len), steps[i].extra_len)
                       : (req[0] = 'x', 1);
        long st = ask(steps[i].type, 100 + i, req, n, i + 1);
        if (st < 0) return 1;
        if (st != steps[i].want) {
            char why[80];
            snprintf(why, sizeof why, "type %u: status %ld, wanted %ld", steps[i].type, st,
                     steps[i].want);
            return fail(why, i + 1);
        }
        if (steps[i].size > 0 && body_size != (uint64_t)steps[i].size) {
            char why[80];
            snprintf(why, sizeof why, "size %llu, wanted %ld", (unsigned long long)body_size,
                     steps[i].size);
            return fail(why, i + 1);
        }
    }
    return unfinished_limit();
}
