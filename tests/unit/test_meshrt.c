/* test_meshrt.c - the enclave side of distributed jobs (src/enclave/meshrt.c, docs/cluster.md
 * "Distributed jobs: one enclave per rank"), in one process: up to three enclaves (rank 0 the
 * leader, the others workers: INIT flag bit 1), each with its own channel, its own main
 * thread as mc2-enclave's (reading frames, DELIVER without mu, the rest through
 * enc_dispatch), its own sim platform key (all listed in the policy), and one host thread
 * per channel playing mc2d + mc2-rank: storage from an in-memory store (every rank sees the
 * same tables), LAUNCH -> JOIN to each worker, the hellos gathered into PEERS, SEND routed
 * as DELIVER. The leader runs the rowcount kind's own `run` (as the runner would).
 *
 *   - enc_mesh_block_range: every block read by exactly one rank, contiguous, balanced, no
 *     overflow near 2^64;
 *   - rowcount's parameters (ranks, mesh_timeout_s) checked;
 *   - a worker: malformed JOINs answered EIF_MESH_END {0} and not joined; a leader drops a
 *     JOIN; a worker joins once (a second JOIN dropped) and refuses client sessions;
 *   - rowcount with ranks 2 and 3 gives the single-node result (same table, same counts),
 *     the leader's result readable with its result key, every rank ending ok;
 *   - a hostile host: FAIL fails the leader's wait at once with the hosts' reason; PEERS
 *     never sent -> the timeout; rank 2's messages withheld -> "no message from rank 2";
 *     malformed PEERS; PEERS with two hellos swapped; the inbox flooded beyond its cap; a
 *     DELIVER as from the rank itself, or too short for a mesh message; a
 *     JOIN with another plan or another job id: each fails the job, naming what;
 *   - the two workers as real mc2-enclave processes (INIT flag bit 1, in their sandbox): READY
 *     without restoring any state, a session refused, a malformed JOIN answered END {0}, and
 *     rowcount on 3 ranks with the single-node result. */

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "base/log.h"
#include "crypto/pki.h"
#include "enclave/attester.h"
#include "enclave/enclave.h"
#include "enclave/meshrt.h"
#include "host/launch.h"
#include "mc2/job.h"
#include "table/tfile2.h"
#include "table/treader.h"
#include "test.h"
#include "wire/proto.h"

#define MAXR 3

enum fault {
    F_NONE,
    F_FAIL,     /* FAIL to the leader instead of starting the workers */
    F_NOPEERS,  /* the hellos are never handed out */
    F_WITHHOLD, /* rank 2's messages are dropped */
    F_SHORT,    /* PEERS one byte short */
    F_SWAP,     /* PEERS with the hellos of ranks 1 and 2 swapped */
    F_FLOOD,    /* junk DELIVERs from rank 1 beyond the leader's inbox cap, before PEERS */
    F_PLAN,     /* rank 1's JOIN: op 1 an f64 allreduce (the same stage graph) */
    F_JOBID,    /* rank 1's JOIN: another job id */
    F_SELF,     /* a DELIVER to the leader as from the leader itself */
    F_TINY,     /* a DELIVER of 10 bytes: no mesh message */
};

typedef struct node {
    enclave e;
    int hfd;
    pthread_mutex_t wmu;
    pthread_t reader, host;
} node;

static node NODES[MAXR];
static int NR;          /* ranks of the current run (nodes up) */
static bool REAL;       /* the workers are mc2-enclave processes (the leader stays here) */
static pid_t PID[MAXR]; /* their process ids */
static char ENCLAVE[512];
static mc2_sigstruct SS; /* the real enclave's (mc2-enclave.sig) */
static mc2_buf POLICY_YAML;
static mc2_policy *POL;
static uint8_t PSEC[MAXR][32], KEYS[2][32];
static const char *const OWNER[2] = {"bank-a", "bank-b"};

/* The host's state, shared by the host threads. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum fault f;
    uint32_t ch;
    mc2_buf hello[MAXR];
    int nhello;
    int ended[MAXR]; /* EIF_MESH_END: -1 none yet, else its ok byte */
    int sessions_ended[MAXR];
    char names[16][200];
    mc2_buf objs[16];
    int nobj;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static pthread_mutex_t LOG_MU = PTHREAD_MUTEX_INITIALIZER;
static char LOG[1 << 16]; /* the enclaves' log lines since log_clear */
static size_t LOG_LEN;
static bool LEAK; /* a data key in a frame to the host */

/* Replaces the library's logger: the enclaves' lines are kept for the checks. */
void mc2_log(const char *prog, enum mc2_log_level max, enum mc2_log_level level, const char *fmt,
             ...)
{
    (void)prog;
    if (level > max) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (getenv("MC2_TEST_VERBOSE")) fprintf(stderr, "log: %s\n", line);
    pthread_mutex_lock(&LOG_MU);
    int n = snprintf(LOG + LOG_LEN, sizeof LOG - LOG_LEN, "%s\n", line);
    if (n > 0 && (size_t)n < sizeof LOG - LOG_LEN) LOG_LEN += (size_t)n;
    pthread_mutex_unlock(&LOG_MU);
}

static bool logged(const char *s)
{
    pthread_mutex_lock(&LOG_MU);
    bool found = strstr(LOG, s) != NULL;
    pthread_mutex_unlock(&LOG_MU);
    return found;
}

static void log_clear(void)
{
    pthread_mutex_lock(&LOG_MU);
    LOG_LEN = 0;
    LOG[0] = '\0';
    pthread_mutex_unlock(&LOG_MU);
}

static void die(const char *what, const mc2_err *err)
{
    fprintf(stderr, "test_meshrt: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void send_to(int j, uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    pthread_mutex_lock(&NODES[j].wmu);
    if (mc2_frame_write_fd(NODES[j].hfd, type, ch, p, n, &err))
        fprintf(stderr, "host -> rank %d: %s\n", j, err.msg);
    pthread_mutex_unlock(&NODES[j].wmu);
}

/* ---- the host's store (mu held) ---------------------------------------------------------- */

static mc2_buf *obj(const uint8_t *name, size_t n, bool create)
{
    for (int i = 0; i < H.nobj; i++)
        if (strlen(H.names[i]) == n && memcmp(H.names[i], name, n) == 0) return &H.objs[i];
    if (!create || H.nobj == 16 || n >= 200) return NULL;
    memcpy(H.names[H.nobj], name, n);
    H.names[H.nobj][n] = '\0';
    H.objs[H.nobj] = (mc2_buf){0};
    return &H.objs[H.nobj++];
}

static void reply(int i, uint32_t ch, uint32_t status, const void *p, size_t n)
{
    mc2_buf b = {0};
    mc2_err err;
    if (mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err)) die("reply", &err);
    send_to(i, EIF_STORE_REPLY, ch, b.data, b.len);
    mc2_buf_free(&b);
}

static void store(int i, const mc2_frame *f)
{
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    size_t nl;
    const uint8_t *name = mc2_rd_lv(&r, &nl);
    pthread_mutex_lock(&H.mu);
    mc2_buf *o = obj(name, nl, f->type == EIF_STORE_PUT);
    uint8_t sz[8];
    if (f->type == EIF_STORE_SIZE) {
        mc2_le64_put(sz, o ? o->len : 0);
        reply(i, f->channel, o ? 0 : 3, sz, o ? 8 : 0);
    } else if (f->type == EIF_STORE_READ) {
        uint64_t off = mc2_rd_u64(&r);
        uint32_t len = mc2_rd_u32(&r);
        if (o && off <= o->len && len <= o->len - off)
            reply(i, f->channel, 0, o->data + off, len);
        else
            reply(i, f->channel, 3, "no such bytes", 13);
    } else if (f->type == EIF_STORE_PUT) {
        mc2_err err;
        (void)mc2_rd_u8(&r);
        size_t n = mc2_rd_left(&r);
        if (mc2_buf_append(o, mc2_rd_take(&r, n), n, &err)) die("store", &err);
        reply(i, f->channel, 0, NULL, 0);
    } else {
        reply(i, f->channel, 0, NULL, 0);
    }
    pthread_mutex_unlock(&H.mu);
}

/* ---- the host's mesh relay --------------------------------------------------------------- */

static void launch(const mc2_frame *f)
{
    mc2_err err;
    pthread_mutex_lock(&H.mu);
    H.ch = f->channel;
    enum fault fault = H.f;
    pthread_mutex_unlock(&H.mu);
    if (fault == F_FAIL) {
        const char *why = "rank 2: its enclave stopped";
        send_to(0, EIF_MESH_FAIL, f->channel, why, strlen(why));
        return;
    }
    if (fault == F_SELF || fault == F_TINY) {
        uint8_t m[4 + MC2_MESH_OVERHEAD] = {0};
        mc2_le32_put(m, fault == F_SELF ? 0 : 1);
        send_to(0, EIF_MESH_DELIVER, f->channel, m, fault == F_SELF ? sizeof m : 14);
    }
    if (fault == F_FLOOD) {
        static uint8_t junk[4 + 65536];
        mc2_le32_put(junk, 1);
        for (int k = 0; k < 20; k++) send_to(0, EIF_MESH_DELIVER, f->channel, junk, sizeof junk);
    }
    for (int r = 1; r < NR; r++) {
        mc2_buf j = {0};
        if (mc2_buf_put_u32(&j, (uint32_t)r, &err) ||
            mc2_buf_append(&j, f->payload.data, f->payload.len, &err))
            die("join", &err);
        if (r == 1 && fault == F_PLAN) j.data[4 + 72 + 4 + 4 + 5] = MC2_COLL_ALLREDUCE_F64;
        if (r == 1 && fault == F_JOBID) j.data[4 + 4] ^= 1;
        send_to(r, EIF_MESH_JOIN, f->channel, j.data, j.len);
        mc2_buf_free(&j);
    }
}

static void hello(int i, const mc2_frame *f)
{
    mc2_err err;
    pthread_mutex_lock(&H.mu);
    mc2_buf_reset(&H.hello[i]);
    if (mc2_buf_append(&H.hello[i], f->payload.data, f->payload.len, &err)) die("hello", &err);
    bool all = ++H.nhello == NR && H.f != F_NOPEERS;
    mc2_buf p = {0};
    for (int r = 0; all && r < NR; r++) {
        int s = H.f == F_SWAP && r > 0 ? 3 - r : r;
        if (mc2_buf_put_lv(&p, H.hello[s].data, H.hello[s].len, &err)) die("peers", &err);
    }
    if (all && H.f == F_SHORT) p.len--;
    uint32_t ch = H.ch;
    pthread_mutex_unlock(&H.mu);
    for (int r = 0; all && r < NR; r++) send_to(r, EIF_MESH_PEERS, ch, p.data, p.len);
    mc2_buf_free(&p);
}

static void relay(int i, const mc2_frame *f)
{
    if (f->payload.len < 4) return;
    uint32_t to = mc2_le32_get(f->payload.data);
    pthread_mutex_lock(&H.mu);
    bool drop = (H.f == F_WITHHOLD && i == 2) || to >= (uint32_t)NR;
    pthread_mutex_unlock(&H.mu);
    if (drop) return;
    uint8_t *b = malloc(f->payload.len);
    if (!b) abort();
    memcpy(b, f->payload.data, f->payload.len);
    mc2_le32_put(b, (uint32_t)i);
    send_to((int)to, EIF_MESH_DELIVER, f->channel, b, f->payload.len);
    free(b);
}

static void *host_main(void *arg)
{
    node *nd = arg;
    int i = (int)(nd - NODES);
    mc2_frame f = {0};
    mc2_err err;
    while (mc2_frame_read_fd(nd->hfd, MC2_FRAME_MAX + 64, &f, &err) == 0) {
        for (int p = 0; p < 2; p++)
            if (f.payload.len && memmem(f.payload.data, f.payload.len, KEYS[p], 32)) LEAK = true;
        switch (f.type) {
        case EIF_STORE_SIZE:
        case EIF_STORE_READ:
        case EIF_STORE_PUT:
        case EIF_STORE_DROP:
            store(i, &f);
            break;
        case EIF_MESH_LAUNCH:
            launch(&f);
            break;
        case EIF_MESH_HELLO:
            hello(i, &f);
            break;
        case EIF_MESH_SEND:
            relay(i, &f);
            break;
        case EIF_MESH_END:
        case EIF_END:
            pthread_mutex_lock(&H.mu);
            if (f.type == EIF_END)
                H.sessions_ended[i]++;
            else
                H.ended[i] = f.payload.len == 1 ? f.payload.data[0] : 99;
            pthread_cond_broadcast(&H.cv);
            pthread_mutex_unlock(&H.mu);
            break;
        default:
            break;
        }
    }
    mc2_frame_free(&f);
    return NULL;
}

/* ---- the enclaves ------------------------------------------------------------------------ */

/* mc2-enclave's main thread (entry/main.c's loop). */
static void *reader_main(void *arg)
{
    enclave *e = &((node *)arg)->e;
    mc2_frame f = {0};
    mc2_err err;
    bool delivered;
    while (enc_io_read(e, MC2_FRAME_MAX + 64, &f, &delivered, &err) == 0) {
        if (delivered) continue;
        int rc = 0;
        if (f.type == EIF_STORE_REPLY)
            enc_io_deliver(e, &f);
        else if (f.type == EIF_MESH_DELIVER)
            rc = enc_mesh_frame(e, &f, &err);
        else {
            pthread_mutex_lock(&e->mu);
            rc = enc_dispatch(e, &f, &err);
            pthread_mutex_unlock(&e->mu);
        }
        if (rc) break;
    }
    mc2_frame_free(&f);
    enc_io_close(e);
    return NULL;
}

static void node_up(int i, bool worker)
{
    node *nd = &NODES[i];
    mc2_err err;
    int sv[2];
    memset(&nd->e, 0, sizeof nd->e);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair", NULL);
    nd->e.fd = sv[0];
    nd->hfd = sv[1];
    pthread_mutex_init(&nd->wmu, NULL);
    nd->e.store_timeout_ms = 10000;
    enc_io_init(&nd->e);
    memset(nd->e.measurement, 0x42, 32);
    nd->e.att = &enc_att_sim;
    memcpy(nd->e.att_secret, PSEC[i], 32);
    nd->e.policy = POL;
    nd->e.budget_bytes = 256u << 20;
    nd->e.worker = worker;
    nd->e.next_counter = 1;
    if (mc2_random(nd->e.instance, 32, &err)) die("random", &err);
    if (pthread_create(&nd->reader, NULL, reader_main, nd) ||
        pthread_create(&nd->host, NULL, host_main, nd))
        die("threads", NULL);
    if (worker && enc_runner_start(&nd->e, &err)) die("runner", &err);
}

static void node_down(int i)
{
    node *nd = &NODES[i];
    shutdown(nd->hfd, SHUT_RDWR);
    pthread_join(nd->reader, NULL);
    pthread_join(nd->host, NULL);
    enc_runner_stop(&nd->e);
    close(nd->e.fd);
    close(nd->hfd);
    mc2_buf_free(&nd->e.mesh.join);
    mc2_buf_free(&nd->e.mesh.peers);
    pthread_mutex_destroy(&nd->wmu);
}

/* Worker i as a real mc2-enclave process: INIT with flag bit 1 (worker), its own platform
 * key; it must answer READY without restoring any state (no storage or counter request). */
static void proc_up(int i)
{
    node *nd = &NODES[i];
    mc2_err err;
    int sv[2];
    uint8_t ss[MC2_SIGSTRUCT_LEN];
    memset(&nd->e, 0, sizeof nd->e);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair", NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(sv[1], 3) != 3) _exit(126);
        execl(ENCLAVE, "mc2-enclave", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    nd->hfd = sv[0];
    PID[i] = pid;
    mc2_sigstruct_encode(&SS, ss);
    mc2_buf b = {0};
    mc2_frame f = {0};
    if (mc2_buf_put_u32(&b, 256, &err) ||
        mc2_buf_put_lv(&b, POLICY_YAML.data, POLICY_YAML.len, &err) ||
        mc2_buf_put_lv(&b, ss, sizeof ss, &err) || mc2_buf_put_lv(&b, PSEC[i], 32, &err) ||
        mc2_buf_put_u32(&b, 900, &err) || mc2_buf_put_lv(&b, "sim", 3, &err) ||
        mc2_buf_put_u8(&b, 2, &err) ||
        mc2_frame_write_fd(nd->hfd, EIF_INIT, 0, b.data, b.len, &err) ||
        mc2_frame_read_fd(nd->hfd, 1 << 20, &f, &err))
        die("worker process", &err);
    CHECK_MSG(f.type == EIF_READY, "the worker process answered INIT with type %u: %.*s", f.type,
              (int)f.payload.len, (const char *)f.payload.data);
    mc2_frame_free(&f);
    mc2_buf_free(&b);
    pthread_mutex_init(&nd->wmu, NULL);
    if (pthread_create(&nd->host, NULL, host_main, nd)) die("threads", NULL);
}

static void proc_down(int i)
{
    node *nd = &NODES[i];
    int st;
    shutdown(nd->hfd, SHUT_RDWR); /* the enclave sees the channel end and exits */
    pthread_join(nd->host, NULL);
    close(nd->hfd);
    CHECK_MSG(waitpid(PID[i], &st, 0) == PID[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "worker process %d: status %d", i, st);
    pthread_mutex_destroy(&nd->wmu);
}

static void run_up(int n, enum fault f)
{
    pthread_mutex_lock(&H.mu);
    H.f = f;
    H.nhello = 0;
    for (int r = 0; r < MAXR; r++) H.ended[r] = -1, H.sessions_ended[r] = 0;
    pthread_mutex_unlock(&H.mu);
    NR = n;
    for (int r = 0; r < n; r++)
        if (REAL && r > 0)
            proc_up(r);
        else
            node_up(r, r > 0);
    for (int p = 0; p < 2; p++) {
        memcpy(NODES[0].e.keys[p], KEYS[p], 32);
        NODES[0].e.has_key[p] = true;
    }
}

/* Waits (at most ms) until rank r sent EIF_MESH_END; its ok byte, or -1. */
static int wait_end(int r, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&H.mu);
    while (H.ended[r] < 0 && pthread_cond_timedwait(&H.cv, &H.mu, &dl) == 0) {
    }
    int v = H.ended[r];
    pthread_mutex_unlock(&H.mu);
    return v;
}

static void run_down(void)
{
    for (int r = 1; r < NR; r++)
        if (REAL || enc_mesh_joined(&NODES[r].e)) (void)wait_end(r, 10000);
    for (int r = 0; r < NR; r++)
        if (REAL && r > 0)
            proc_down(r);
        else
            node_down(r);
}

/* ---- tables, jobs, results --------------------------------------------------------------- */

static int sink(void *ctx, const uint8_t *p, size_t n, mc2_err *err)
{
    return mc2_buf_append(ctx, p, n, err);
}

/* Table OWNER[o]/tN of `blocks` blocks of `per` rows (the last `last` rows), sealed under
 * KEYS[o], in the store; its id for the job. */
static void make_table(int o, const char *name, int blocks, int per, int last, mc2_job_input *in)
{
    static const char S[] = "table: t\ncolumns:\n  - {name: v, type: INT64, nullable: false}\n";
    mc2_err err;
    mc2_schema *s;
    mc2_twriter *w;
    mc2_buf out = {0};
    if (mc2_schema_parse("t", S, sizeof S - 1, &s, &err) ||
        mc2_twriter_new(s, KEYS[o], 1, sink, &out, &w, &err))
        die("table", &err);
    mc2_batch *b = mc2_batch_new(s, (size_t)per, &err);
    for (int k = 0; k < blocks; k++) {
        b->nrows = (size_t)(k == blocks - 1 ? last : per);
        for (size_t r = 0; r < b->nrows; r++) b->cols[0].v.i64[r] = (int64_t)(k * 1000 + r);
        if (mc2_twriter_add(w, b, &err)) die("table block", &err);
    }
    memcpy(in->table_id, mc2_twriter_id(w)->table_id, 16);
    if (mc2_twriter_finish(w, NULL, NULL, &err)) die("table finish", &err);
    snprintf(in->owner, sizeof in->owner, "%s", OWNER[o]);
    snprintf(in->table, sizeof in->table, "%s", name);
    in->version = 1;
    char obj_name[200];
    snprintf(obj_name, sizeof obj_name, "tables/%s/%s.mc2t", OWNER[o], name);
    pthread_mutex_lock(&H.mu);
    mc2_buf *o2 = obj((const uint8_t *)obj_name, strlen(obj_name), true);
    *o2 = out;
    pthread_mutex_unlock(&H.mu);
    mc2_batch_free(b);
    mc2_twriter_free(w);
    mc2_schema_free(s);
}

static mc2_job_input IN[2];
static uint64_t COUNTER = 1;

/* A rowcount job of both tables with params "k=v,k=v" (may be NULL), for the leader. */
static enc_job *make_job(const char *ranks, const char *timeout)
{
    mc2_err err;
    mc2_job jb = {0};
    memcpy(jb.policy_hash, POL->hash, 32);
    memcpy(jb.instance, NODES[0].e.instance, 32);
    jb.counter = COUNTER++;
    snprintf(jb.kind, sizeof jb.kind, "rowcount");
    jb.ninputs = 2;
    memcpy(jb.inputs, IN, sizeof IN);
    jb.nrecipients = 1;
    snprintf(jb.recipients[0], sizeof jb.recipients[0], "bank-a");
    if ((ranks && mc2_job_add_param(&jb, "ranks", ranks, &err)) ||
        (timeout && mc2_job_add_param(&jb, "mesh_timeout_s", timeout, &err)))
        die("params", &err);
    enc_job *j = calloc(1, sizeof *j);
    if (!j || mc2_job_format(&jb, &j->text, &j->text_len, &err) ||
        mc2_job_parse(j->text, j->text_len, &j->job, &err) ||
        mc2_sha256(j->text, j->text_len, j->text_sha256, &err))
        die("job", &err);
    mc2_job_free(&jb);
    j->id = j->job.counter;
    j->model_owner = -1;
    return j;
}

static void job_free(enc_job *j)
{
    mc2_job_free(&j->job);
    mc2_free(j->text);
    free(j);
}

/* Runs the job at the leader as the runner would (rowcount's own `run`). */
static int run_job(enc_job *j, mc2_err *err)
{
    const enc_kind *k = enc_kind_find("rowcount", NULL);
    mc2_err_clear(err);
    if (k->check(&NODES[0].e, &j->job, err)) return -1;
    return k->run(&NODES[0].e, j, err);
}

/* The rows column of job j's result table (the leader's result key). */
static void result_rows(const enc_job *j, int64_t *rows, size_t *n)
{
    mc2_err err;
    *n = 0;
    if (j->nresults != 1) return;
    pthread_mutex_lock(&H.mu);
    mc2_buf *o = obj((const uint8_t *)j->results[0].name, strlen(j->results[0].name), false);
    pthread_mutex_unlock(&H.mu);
    mc2_treader *r = NULL;
    mc2_batch *b = NULL;
    if (!o || mc2_treader_open_mem(o->data, o->len, j->results[0].key, &r, &err) ||
        !(b = mc2_treader_batch_new(r, &err))) {
        fprintf(stderr, "result: %s\n", err.msg);
        mc2_treader_free(r);
        return;
    }
    while (mc2_treader_next(r, b, NULL, &err) == 1)
        for (size_t i = 0; i < b->nrows && *n < 8; i++) rows[(*n)++] = b->cols[1].v.i64[i];
    mc2_batch_free(b);
    mc2_treader_free(r);
}

/* ---- the tests --------------------------------------------------------------------------- */

static void block_ranges(void)
{
    bool ok = true;
    for (uint64_t nb = 0; nb < 150 && ok; nb++)
        for (uint32_t n = 1; n <= MC2_MESH_MAX_RANKS && ok; n++) {
            uint64_t next = 0, lo = UINT64_MAX, hi = 0;
            for (uint32_t s = 0; s < n; s++) {
                uint64_t first, count;
                enc_mesh_block_range(nb, s, n, &first, &count);
                ok &= first == next; /* contiguous, in rank order, no block twice */
                next = first + count;
                lo = count < lo ? count : lo;
                hi = count > hi ? count : hi;
            }
            ok &= next == nb && hi - lo <= 1; /* every block, balanced */
            CHECK_MSG(ok, "%llu blocks on %u ranks", (unsigned long long)nb, n);
        }
    uint64_t first, count, big = UINT64_MAX - 5, sum = 0;
    for (uint32_t s = 0; s < 64; s++) {
        enc_mesh_block_range(big, s, 64, &first, &count);
        CHECK(first == sum);
        sum += count;
    }
    CHECK(sum == big);
    enc_mesh_block_range(10, 3, 3, &first, &count); /* no such rank: nothing */
    CHECK(count == 0);
}

static void params(void)
{
    static const char *const bad[][2] = {
        {"0", NULL}, {"65", NULL}, {"2x", NULL},  {"02", NULL}, {"-1", NULL},
        {"", NULL},  {"2", "0"},   {"2", "3601"}, {"2", "1e3"}, {NULL, "99999999999"}};
    static const char *const good[][2] = {{"1", NULL}, {"64", NULL}, {"2", "1"}, {"3", "3600"}};
    const enc_kind *k = enc_kind_find("rowcount", NULL);
    mc2_err err;
    run_up(1, F_NONE);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enc_job *j = make_job(bad[i][0], bad[i][1]);
        CHECK_MSG(k->check(&NODES[0].e, &j->job, &err) != 0 &&
                      strstr(err.msg, "must be a whole number") != NULL,
                  "ranks %s, mesh_timeout_s %s accepted", bad[i][0] ? bad[i][0] : "-",
                  bad[i][1] ? bad[i][1] : "-");
        job_free(j);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        enc_job *j = make_job(good[i][0], good[i][1]);
        CHECK_MSG(k->check(&NODES[0].e, &j->job, &err) == 0, "ranks %s refused: %s", good[i][0],
                  err.msg);
        job_free(j);
    }
    run_down();
}

/* A JOIN payload for rank `rank` of n, with op 0 as given and `extra` bytes appended. */
static void join_payload(mc2_buf *b, uint32_t rank, uint32_t n, uint32_t n_ops, uint8_t op0,
                         uint32_t root1, size_t extra)
{
    mc2_err err;
    uint8_t z[32] = {0};
    mc2_buf ops = {0};
    mc2_buf_reset(b);
    int rc = mc2_buf_put_u32(&ops, n_ops, &err);
    for (uint32_t i = 0; rc == 0 && i < n_ops && i < 3; i++)
        rc = mc2_buf_put_u8(&ops, i == 0 ? op0 : MC2_COLL_ALLREDUCE_I64, &err) ||
             mc2_buf_put_u32(&ops, i == 1 ? root1 : 0, &err);
    if (rc || mc2_buf_put_u32(b, rank, &err) || mc2_buf_put_u32(b, n, &err) ||
        mc2_buf_append(b, z, 32, &err) || mc2_buf_append(b, z, 32, &err) ||
        mc2_buf_put_u32(b, 10000, &err) || mc2_buf_put_lv(b, ops.data, ops.len, &err) ||
        mc2_buf_append(b, z, extra, &err))
        die("join", &err);
    mc2_buf_free(&ops);
}

/* Sends a client OPEN to worker 1 and waits for its EIF_END: the worker refuses sessions,
 * and every frame sent before it was handled. */
static bool worker_sync(void)
{
    uint8_t nonce[32] = {0};
    pthread_mutex_lock(&H.mu);
    int before = H.sessions_ended[1];
    pthread_mutex_unlock(&H.mu);
    send_to(1, EIF_OPEN, 77, nonce, sizeof nonce);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&H.mu);
    while (H.sessions_ended[1] == before && pthread_cond_timedwait(&H.cv, &H.mu, &dl) == 0) {
    }
    bool ok = H.sessions_ended[1] > before;
    pthread_mutex_unlock(&H.mu);
    return ok;
}

static void joins(void)
{
    struct {
        uint32_t rank, n, n_ops;
        uint8_t op0;
        uint32_t root1;
        size_t extra;
        size_t cut; /* bytes cut off the end */
    } bad[] = {
        {1, 2, 2, MC2_COLL_BCAST, 0, 0, 1},   /* truncated */
        {1, 2, 2, MC2_COLL_BCAST, 0, 1, 0},   /* a byte after it */
        {1, 1, 2, MC2_COLL_BCAST, 0, 0, 0},   /* one rank */
        {1, 65, 2, MC2_COLL_BCAST, 0, 0, 0},  /* 65 ranks */
        {0, 2, 2, MC2_COLL_BCAST, 0, 0, 0},   /* rank 0 (the leader's) */
        {2, 2, 2, MC2_COLL_BCAST, 0, 0, 0},   /* rank beyond */
        {1, 2, 0, MC2_COLL_BCAST, 0, 0, 0},   /* no ops */
        {1, 2, 101, MC2_COLL_BCAST, 0, 0, 0}, /* too many ops */
        {1, 2, 2, 9, 0, 0, 0},                /* op kind 9 */
        {1, 2, 2, MC2_COLL_GATHER, 0, 0, 0},  /* op 0 not the bundle */
        {1, 2, 2, MC2_COLL_BCAST, 2, 0, 0},   /* root beyond the ranks */
        {1, 2, 3, MC2_COLL_BCAST, 0, 0, 0},   /* fewer ops than it says (ops LV short) */
    };
    mc2_buf b = {0};
    run_up(2, F_NONE);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        join_payload(&b, bad[i].rank, bad[i].n, bad[i].n_ops, bad[i].op0, bad[i].root1,
                     bad[i].extra);
        if (i == 0) b.len -= 1;
        if (i == 11) { /* claim 3 ops, carry 2 */
            mc2_le32_put(b.data + 4 + 72, 4 + 2 * 5);
            b.len -= 5;
        }
        pthread_mutex_lock(&H.mu);
        H.ended[1] = -1;
        pthread_mutex_unlock(&H.mu);
        send_to(1, EIF_MESH_JOIN, 500 + (uint32_t)i, b.data, b.len);
        CHECK_MSG(wait_end(1, 5000) == 0, "malformed JOIN %zu not answered END {0}", i);
        CHECK_MSG(!enc_mesh_joined(&NODES[1].e), "malformed JOIN %zu accepted", i);
    }
    /* The leader drops a JOIN, even a well-formed one. */
    join_payload(&b, 1, 2, 2, MC2_COLL_BCAST, 0, 0);
    send_to(0, EIF_MESH_JOIN, 9, b.data, b.len);
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK(!enc_mesh_joined(&NODES[0].e) && H.ended[0] == -1);
    /* A worker takes one JOIN; a second one is dropped (no END for it). */
    pthread_mutex_lock(&H.mu);
    H.ended[1] = -1;
    pthread_mutex_unlock(&H.mu);
    send_to(1, EIF_MESH_JOIN, 600, b.data, b.len);
    CHECK(worker_sync());
    CHECK(enc_mesh_joined(&NODES[1].e) && NODES[1].e.mesh.ch == 600);
    send_to(1, EIF_MESH_JOIN, 601, b.data, b.len);
    CHECK(worker_sync());
    CHECK(NODES[1].e.mesh.ch == 600);
    /* Frames for another mesh are dropped; FAIL on its own fails the worker's run. */
    send_to(1, EIF_MESH_FAIL, 601, "x", 1);
    CHECK(worker_sync() && !NODES[1].e.mesh.failed);
    send_to(1, EIF_MESH_FAIL, 600, "stop\n\x01", 6);
    CHECK_MSG(wait_end(1, 5000) == 0, "the worker did not end its failed mesh");
    CHECK(strstr(NODES[1].e.mesh.why, "the hosts report: stop??") != NULL);
    mc2_buf_free(&b);
    NR = 2;
    run_down();
}

/* Two workers as real mc2-enclave processes (sandboxed, worker mode from INIT) with the
 * leader here: a client session refused, a malformed JOIN answered END {0}, then the
 * 3-rank rowcount with the single-node result. */
static void real_workers(const int64_t *want)
{
    mc2_err err;
    int64_t got[8];
    size_t n;
    uint8_t nonce[32] = {0}, bad[8] = {0};
    REAL = true;
    run_up(3, F_NONE);
    memcpy(NODES[0].e.measurement, SS.measurement, 32); /* the same build as the workers */
    NODES[0].e.sigstruct = SS;
    send_to(1, EIF_OPEN, 5, nonce, sizeof nonce);
    send_to(1, EIF_MESH_JOIN, 5, bad, sizeof bad);
    CHECK_MSG(wait_end(1, 5000) == 0, "the worker process did not refuse a malformed JOIN");
    CHECK_MSG(H.sessions_ended[1] == 1, "the worker process did not refuse a session");
    pthread_mutex_lock(&H.mu);
    H.ended[1] = -1;
    pthread_mutex_unlock(&H.mu);
    enc_job *j = make_job("3", "20");
    CHECK_MSG(run_job(j, &err) == 0, "real workers: %s", err.msg);
    result_rows(j, got, &n);
    CHECK_MSG(n == 3 && memcmp(got, want, 3 * sizeof *want) == 0, "real workers: %zu rows", n);
    for (int r = 0; r < 3; r++)
        CHECK_MSG(wait_end(r, 10000) == 1, "real workers: rank %d did not end ok", r);
    job_free(j);
    run_down();
    REAL = false;
}

static void good_runs(void)
{
    mc2_err err;
    int64_t want[3], got[8];
    size_t n;
    run_up(1, F_NONE);
    enc_job *j = make_job(NULL, NULL);
    CHECK_MSG(run_job(j, &err) == 0, "single node: %s", err.msg);
    result_rows(j, want, &n);
    CHECK(n == 3 && want[0] == 7 * 100 - 100 + 37 && want[1] == 250 + 2 * 0 &&
          want[2] == want[0] + want[1]);
    job_free(j);
    run_down();
    for (int nr = 2; nr <= MAXR; nr++) {
        run_up(nr, F_NONE);
        j = make_job(nr == 2 ? "2" : "3", "20");
        CHECK_MSG(run_job(j, &err) == 0, "%d ranks: %s", nr, err.msg);
        result_rows(j, got, &n);
        CHECK_MSG(n == 3 && memcmp(got, want, sizeof want) == 0,
                  "%d ranks: %zu rows, %lld %lld %lld", nr, n, (long long)got[0], (long long)got[1],
                  (long long)got[2]);
        for (int r = 0; r < nr; r++)
            CHECK_MSG(wait_end(r, 10000) == 1, "rank %d did not end ok", r);
        for (int r = 1; r < nr; r++) /* the worker forgot the keys the bundle gave it */
            CHECK(!NODES[r].e.has_key[0] && !NODES[r].e.has_key[1]);
        job_free(j);
        run_down();
    }
    real_workers(want);
}

/* A leader whose backend's evidence comes from the host (tsm) refuses a distributed job
 * before it asks its host for anything. */
static void no_own_evidence(void)
{
    mc2_err err;
    run_up(1, F_NONE);
    NODES[0].e.att = &enc_att_tsm;
    enc_job *j = make_job("2", "1");
    CHECK_MSG(run_job(j, &err) != 0 &&
                  strstr(err.msg, "distributed jobs need a backend whose enclave makes its own "
                                  "evidence (sim) for now; this enclave runs on tsm") != NULL,
              "tsm leader: %s", err.msg);
    CHECK_MSG(wait_end(0, 200) == -1, "the tsm leader started a mesh");
    job_free(j);
    run_down();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hostile(enum fault f, const char *timeout, const char *want, double max_s)
{
    mc2_err err;
    log_clear();
    run_up(3, f);
    if (f == F_FLOOD) NODES[0].e.mesh.inbox_max = 1u << 20;
    enc_job *j = make_job("3", timeout);
    double t0 = now_s();
    int rc = run_job(j, &err);
    double took = now_s() - t0;
    CHECK_MSG(rc != 0 && strstr(err.msg, want) != NULL, "fault %d: %s", (int)f,
              rc ? err.msg : "the job succeeded");
    CHECK_MSG(strstr(err.msg, "distributed job, rank 0 of 3") != NULL, "fault %d: %s", (int)f,
              err.msg);
    CHECK_MSG(took < max_s, "fault %d: failed after %.1f s", (int)f, took);
    CHECK_MSG(j->nresults == 0, "fault %d: a result was written", (int)f);
    CHECK_MSG(wait_end(0, 100) == 0, "fault %d: the leader did not end {0}", (int)f);
    job_free(j);
    run_down();
}

int main(void)
{
    mc2_err err;
    mc2_buf y = {0};
    signal(SIGPIPE, SIG_IGN); /* a late frame to a channel already shut down */
    char hex[MAXR][65];
    for (int r = 0; r < MAXR; r++) {
        uint8_t pub[32];
        if (mc2_ed25519_keygen(pub, PSEC[r], &err)) die("platform key", &err);
        mc2_hex_encode(pub, 32, hex[r]);
    }
    if (mc2_buf_printf(&y, &err,
                       "consortium: meshrt\nenclave:\n  measurements: [%064x]\n"
                       "  allow_simulation: true\n  sim_platform_keys: [%s, %s, %s]\nparties:\n",
                       0, hex[0], hex[1], hex[2]))
        die("yaml", &err);
    for (int p = 0; p < 2; p++) {
        uint8_t sec[32], pub[32];
        mc2_buf pem = {0};
        if (mc2_ed25519_keygen(pub, sec, &err) ||
            mc2_x509_self_signed(sec, OWNER[p], 30, &pem, &err) ||
            mc2_buf_printf(&y, &err, "  - name: %s\n    certificate: |\n", OWNER[p]) ||
            mc2_random(KEYS[p], 32, &err))
            die("party", &err);
        if (mc2_buf_append(&pem, "", 1, &err)) die("pem", &err);
        for (const char *s = (const char *)pem.data; *s;) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s + 1) : strlen(s);
            if (mc2_buf_puts(&y, "      ", &err) || mc2_buf_append(&y, s, len, &err))
                die("yaml", &err);
            s += len;
        }
        mc2_buf_free(&pem);
    }
    if (mc2_buf_puts(&y, "recipients: [bank-a]\n", &err) ||
        mc2_policy_parse("policy", (const char *)y.data, y.len, &POL, &err))
        die("policy", &err);
    POLICY_YAML = y;
    const char *build = getenv("MC2_BUILD");
    snprintf(ENCLAVE, sizeof ENCLAVE, "%s/mc2-enclave", build ? build : ".");
    if (mc2_enclave_check(ENCLAVE, &SS, &err)) die("mc2-enclave", &err);
    make_table(0, "t1", 7, 100, 37, &IN[0]); /* 637 rows in 7 blocks */
    make_table(1, "t2", 3, 100, 50, &IN[1]); /* 250 rows in 3 blocks */

    block_ranges();
    params();
    joins();
    good_runs();
    no_own_evidence();
    hostile(F_FAIL, NULL, "the hosts report: rank 2: its enclave stopped", 5);
    hostile(F_NOPEERS, "1", "no EIF_MESH_PEERS from the host within 1 s", 5);
    hostile(F_WITHHOLD, "1", "no message from rank 2 within 1 s", 5);
    hostile(F_SHORT, "5", "EIF_MESH_PEERS is malformed", 5);
    hostile(F_SWAP, "1", "no message from rank 1 within 1 s", 10);
    CHECK(logged("rank 1 of 3: the host's EIF_MESH_PEERS has another hello at this rank's index"));
    hostile(F_FLOOD, "5", "the host delivered more than 1 MiB not yet read", 5);
    hostile(F_SELF, "5", "the host delivered a message as from rank 0, not a peer of rank 0 of 3",
            5);
    hostile(F_TINY, "5", "the host delivered 10 bytes as from rank 1: not a mesh message", 5);
    hostile(F_PLAN, "1", "no message from rank 1 within 1 s", 10);
    CHECK(logged("rank 1 of 3: the host gave this rank another plan than the job's"));
    hostile(F_JOBID, "1", "no message from rank 1 within 1 s", 10);
    CHECK(logged("rank 1 of 3: ") && logged("belongs to another job"));
    CHECK_MSG(!LEAK, "a data key went to the host in clear");
    mc2_policy_free(POL);
    mc2_buf_free(&POLICY_YAML);
    return test_done("test_meshrt");
}
