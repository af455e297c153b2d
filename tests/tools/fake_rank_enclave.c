/* fake_rank_enclave.c - a stand-in for mc2-enclave that speaks a distributed job's mesh
 * frames (docs/cluster.md, "Distributed jobs"), to test the hosts' relay (mc2d's mesh.c and
 * mc2-rank; tests/cli/test_rank.sh) without the real enclave. Started like the real one (fd 3,
 * INIT, signed with a test key): INIT flag bit 1 makes it a worker, else it is the leader.
 * It reads its scenario from fake-mesh.conf beside its binary (the enclave has no
 * environment): "ranks N" (default 2), "die R" (rank R's fake exits with status 3 right
 * after PEERS), "expect-fail TEXT" (the leader must get EIF_MESH_FAIL containing TEXT),
 * "mute R" (rank R's fake never sends its hello), "busy-check" (see below).
 *
 * Leader: READY; EIF_MESH_LAUNCH (mesh 7, N ranks); with busy-check a second
 * EIF_MESH_LAUNCH (mesh 8) that must get EIF_MESH_FAIL "another distributed job is running";
 * then the run below. After its
 * END it sends a malformed EIF_MESH_LAUNCH (1 rank) every 100 ms until mc2d answers that it
 * is malformed rather than busy (the mesh is over: the launcher was reaped), then exits,
 * which stops mc2d. It writes "fake-rank-enclave: rank 0: PASS" or "... FAIL <why>" to
 * stderr (mc2d's log).
 * Worker: READY; waits for EIF_MESH_JOIN; checks that a write, a drop and a counter request
 * are refused (status 1) and a missing table's size is "no such object" (3); then the run.
 * The run (every rank r): EIF_MESH_HELLO {pub = 32 x r | "fake-evidence-r"}; EIF_MESH_PEERS
 * must hold every rank's hello in rank order; one EIF_MESH_SEND to every other rank t (a
 * 100000 + 7t + r byte pattern); one EIF_MESH_DELIVER from every other rank with exactly its
 * bytes; EIF_MESH_END {1}. An EIF_MESH_FAIL instead ends the run with END {0}. */
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/bytes.h"
#include "wire/frame.h"
#include "wire/proto.h"

#define FD      3
#define MESH_ID 7

static int self_rank, n_ranks = 2, die_rank = -1, mute_rank = -1, busy_check;
static char expect_fail[200];
static char failed[600]; /* the EIF_MESH_FAIL received, if any */

static int fail(const char *why)
{
    fprintf(stderr, "fake-rank-enclave: rank %d: FAIL %s\n", self_rank, why);
    return 1;
}

static void conf_read(void)
{
    char self[4096], line[300];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
    if (n <= 0) return;
    self[n] = '\0';
    strcat(dirname(self), "/fake-mesh.conf");
    FILE *f = fopen(self, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "ranks ", 6) == 0) n_ranks = atoi(line + 6);
        if (strncmp(line, "die ", 4) == 0) die_rank = atoi(line + 4);
        if (strncmp(line, "mute ", 5) == 0) mute_rank = atoi(line + 5);
        if (strcmp(line, "busy-check") == 0) busy_check = 1;
        if (strncmp(line, "expect-fail ", 12) == 0)
            snprintf(expect_fail, sizeof expect_fail, "%.190s", line + 12);
    }
    if (f) fclose(f);
}

static int put(uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    return mc2_frame_write_fd(FD, type, ch, p, n, &err) ? fail(err.msg) : 0;
}

/* The next frame within 30 s, into f; -1 on none. */
static int next(mc2_frame *f)
{
    mc2_err err;
    struct pollfd pf = {FD, POLLIN, 0};
    if (poll(&pf, 1, 30000) <= 0) return fail("no frame within 30 s");
    if (mc2_frame_read_fd(FD, MC2_FRAME_MAX + 64, f, &err)) return fail(err.msg);
    return 0;
}

/* Sends a request and returns its reply's status (-1: none). */
static long ask(uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_frame f = {0};
    long st = -1;
    if (put(type, ch, p, n)) return -1;
    while (next(&f) == 0) {
        if (f.type == EIF_STORE_REPLY && f.channel == ch && f.payload.len >= 4) {
            st = (long)mc2_le32_get(f.payload.data);
            break;
        }
    }
    mc2_frame_free(&f);
    return st;
}

/* name LV [| extra] */
static size_t named(uint8_t *out, const char *name, const uint8_t *extra, size_t n)
{
    size_t l = strlen(name);
    mc2_le32_put(out, (uint32_t)l);
    memcpy(out + 4, name, l);
    if (n) memcpy(out + 4 + l, extra, n);
    return 4 + l + n;
}

static size_t msg_len(int from, int to)
{
    return 100000 + 7 * (size_t)to + (size_t)from;
}

static uint8_t msg_byte(int from, int to, size_t j)
{
    return (uint8_t)(from * 31 + to * 7 + (int)j);
}

static int check_peers(const mc2_frame *f)
{
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    for (int i = 0; i < n_ranks; i++) {
        char ev[64];
        size_t l;
        const uint8_t *h = mc2_rd_lv(&r, &l);
        int el = snprintf(ev, sizeof ev, "fake-evidence-%d", i);
        if (r.bad || l != 32 + (size_t)el || h[0] != i || h[31] != i ||
            memcmp(h + 32, ev, (size_t)el))
            return fail("EIF_MESH_PEERS does not hold every rank's hello in rank order");
    }
    return mc2_rd_left(&r) ? fail("EIF_MESH_PEERS has bytes after the hellos") : 0;
}

static int send_all(void)
{
    for (int t = 0; t < n_ranks; t++) {
        if (t == self_rank) continue;
        size_t l = msg_len(self_rank, t);
        uint8_t *b = malloc(4 + l);
        if (!b) return fail("out of memory");
        mc2_le32_put(b, (uint32_t)t);
        for (size_t j = 0; j < l; j++) b[4 + j] = msg_byte(self_rank, t, j);
        int rc = put(EIF_MESH_SEND, MESH_ID, b, 4 + l);
        free(b);
        if (rc) return rc;
    }
    return 0;
}

static int check_deliver(const mc2_frame *f, int *got)
{
    if (f->payload.len < 4) return fail("a short EIF_MESH_DELIVER");
    uint32_t from = mc2_le32_get(f->payload.data);
    if (from >= (uint32_t)n_ranks || (int)from == self_rank || got[from])
        return fail("EIF_MESH_DELIVER from a wrong rank, or twice");
    size_t l = msg_len((int)from, self_rank);
    if (f->payload.len != 4 + l) return fail("EIF_MESH_DELIVER of the wrong length");
    for (size_t j = 0; j < l; j++)
        if (f->payload.data[4 + j] != msg_byte((int)from, self_rank, j))
            return fail("EIF_MESH_DELIVER with other bytes than were sent");
    got[from] = 1;
    return 0;
}

/* The run; 0 when it ended (ok or by an EIF_MESH_FAIL, in `failed`). */
static int mesh_run(void)
{
    uint8_t hello[64];
    memset(hello, self_rank, 32);
    int hl = 32 + snprintf((char *)hello + 32, 32, "fake-evidence-%d", self_rank);
    int got[64] = {0}, ngot = 0, rc = 0;
    bool peers = false;
    mc2_frame f = {0};
    if (n_ranks < 2 || n_ranks > 64) return fail("ranks 2..64");
    if (put(EIF_MESH_HELLO, MESH_ID, hello, (size_t)hl)) return 1;
    while (rc == 0 && ngot < n_ranks - 1 && (rc = next(&f)) == 0) {
        if (f.type == EIF_MESH_FAIL && f.channel == MESH_ID) {
            snprintf(failed, sizeof failed, "%.*s", (int)f.payload.len,
                     (const char *)f.payload.data);
            break;
        } else if (f.type == EIF_MESH_PEERS && !peers) {
            peers = true;
            if (self_rank == die_rank) exit(3);
            rc = check_peers(&f) || send_all();
        } else if (f.type == EIF_MESH_DELIVER && peers) {
            rc = check_deliver(&f, got);
            ngot++;
        } else if (f.type != EIF_MESH_FAIL) {
            char why[80];
            snprintf(why, sizeof why, "unexpected frame type %u", f.type);
            rc = fail(why);
        }
    }
    mc2_frame_free(&f);
    uint8_t ok = rc == 0 && !failed[0];
    if (put(EIF_MESH_END, MESH_ID, &ok, 1)) return 1;
    return rc;
}

/* EIF_MESH_LAUNCH's payload for n ranks. */
static size_t launch_payload(uint8_t *b, uint32_t n)
{
    memset(b, 0, 76);
    mc2_le32_put(b, n);
    memset(b + 4, 0xaa, 32);    /* job id */
    memset(b + 36, 0x55, 32);   /* nonce */
    mc2_le32_put(b + 68, 5000); /* timeout_ms */
    mc2_le32_put(b + 72, 4);    /* ops LV: n_ops 0 */
    mc2_le32_put(b + 76, 0);
    return 80;
}

/* A FAIL on ch containing text, within 30 s (other frames are skipped). */
static int want_fail(uint32_t ch, const char *text)
{
    mc2_frame f = {0};
    int rc;
    while ((rc = next(&f)) == 0 && !(f.type == EIF_MESH_FAIL && f.channel == ch)) {
    }
    if (rc == 0 && !memmem(f.payload.data, f.payload.len, text, strlen(text))) {
        char why[400];
        snprintf(why, sizeof why, "mesh %u failed with '%.*s', wanted '%s'", ch,
                 (int)(f.payload.len < 300 ? f.payload.len : 300), (const char *)f.payload.data,
                 text);
        rc = fail(why);
    }
    mc2_frame_free(&f);
    return rc;
}

/* After the run: waits until mc2d calls a malformed launch malformed rather than busy. */
static int wait_mesh_over(void)
{
    uint8_t b[80];
    size_t n = launch_payload(b, 1);
    for (int i = 0; i < 300; i++) {
        mc2_frame f = {0};
        int rc = put(EIF_MESH_LAUNCH, 100 + (uint32_t)i, b, n);
        while (rc == 0 && (rc = next(&f)) == 0 && f.channel != 100 + (uint32_t)i) {
        }
        bool over = rc == 0 && memmem(f.payload.data, f.payload.len, "malformed", 9);
        mc2_frame_free(&f);
        if (rc) return rc;
        if (over) return 0;
        usleep(100 * 1000);
    }
    return fail("the mesh was still running 30 s after its END");
}

static int leader(void)
{
    uint8_t b[80];
    size_t n = launch_payload(b, (uint32_t)n_ranks);
    if (put(EIF_MESH_LAUNCH, MESH_ID, b, n)) return 1;
    if (busy_check &&
        (put(EIF_MESH_LAUNCH, 8, b, n) || want_fail(8, "another distributed job is running")))
        return 1;
    if (mesh_run()) return 1;
    if (expect_fail[0] && !strstr(failed, expect_fail)) {
        char why[900];
        snprintf(why, sizeof why, "the mesh failed with '%s', wanted '%s'", failed, expect_fail);
        return fail(why);
    }
    if (!expect_fail[0] && failed[0]) return fail(failed);
    if (!strstr(expect_fail, "no mesh launcher") && wait_mesh_over()) return 1;
    fprintf(stderr, "fake-rank-enclave: rank 0: PASS%s%s\n",
            failed[0] ? ": failed as wanted: " : "", failed);
    return 0;
}

static int worker(void)
{
    mc2_frame f = {0};
    if (next(&f) || f.type != EIF_MESH_JOIN || f.channel != MESH_ID || f.payload.len < 8)
        return fail("no EIF_MESH_JOIN first");
    self_rank = (int)mc2_le32_get(f.payload.data);
    if ((int)mc2_le32_get(f.payload.data + 4) != n_ranks) return fail("JOIN's launch: not N ranks");
    mc2_frame_free(&f);
    uint8_t req[64], last = 1, op = 1;
    size_t put_n = named(req, "spill/job-1-1", &last, 1);
    if (ask(EIF_STORE_PUT, 1, req, put_n) != 1 ||
        ask(EIF_STORE_DROP, 2, req, named(req, "spill/job-1-1", NULL, 0)) != 1 ||
        ask(EIF_COUNTER, 3, &op, 1) != 1 ||
        ask(EIF_STORE_SIZE, 4, req, named(req, "tables/alice/t.mc2t", NULL, 0)) != 3 ||
        ask(EIF_STORE_SIZE, 5, req, named(req, "enclave/state", NULL, 0)) != 3 ||
        ask(EIF_STORE_SIZE, 6, req, named(req, "../platform.key", NULL, 0)) != 1)
        return fail("a worker's write, drop or counter was not refused, or a size not answered");
    int rc = self_rank == mute_rank ? 0 : mesh_run();
    if (self_rank != mute_rank)
        fprintf(stderr, "fake-rank-enclave: rank %d: %s%s\n", self_rank, rc ? "FAIL" : "PASS",
                failed[0] ? " (the mesh failed)" : "");
    char sink[4096];
    while (read(FD, sink, sizeof sink) > 0) { /* until mc2-rank closes the channel */
    }
    return rc;
}

int main(void)
{
    mc2_err err;
    mc2_frame init = {0};
    uint8_t ready[69] = {0};
    if (mc2_frame_read_fd(FD, 1 << 20, &init, &err) || init.type != EIF_INIT ||
        init.payload.len < 1)
        return fail("no INIT");
    bool is_worker = (init.payload.data[init.payload.len - 1] & 2) != 0;
    mc2_frame_free(&init);
    conf_read();
    ready[68] = 1;
    if (put(EIF_READY, 0, ready, sizeof ready)) return 1;
    return is_worker ? worker() : leader();
}
