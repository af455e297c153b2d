/* meshrt.c - TRUSTED: distributed jobs inside the enclave (meshrt.h, docs/cluster.md
 * "Distributed jobs: one enclave per rank"): the mesh frames from the host (main thread),
 * the run of a job on its ranks (leader: the job's runner thread; worker: the runner thread
 * after EIF_MESH_JOIN), and the EIF transport of the collectives.
 *
 * FRAMES (enc_mesh_frame). A mesh is *active* from the moment the leader is about to send
 * EIF_MESH_LAUNCH (or a worker accepted its JOIN) until its EIF_MESH_END; its channel is the
 * mesh id (the leader's job id, low 32 bits). PEERS, DELIVER and FAIL on another channel, or
 * while no mesh is active, are dropped (a late frame of an earlier mesh). On the active
 * mesh's channel every frame is checked; a malformed one, a second PEERS, a DELIVER naming
 * no peer or carrying no mesh message, or more than the inbox cap unread fails the mesh at
 * once (every wait returns that error): the host broke the protocol, and waiting for a
 * timeout would only hide it. JOIN: a leader drops it (logged); a worker accepts the first
 * well-formed one and refuses every later one (logged); a malformed JOIN is answered with
 * EIF_MESH_END {0} on its channel. enc_mesh_frame returns -1 only when a frame to the host
 * cannot be sent (fatal, like every enc_send failure).
 *
 * LOCKS. The box (e->mesh) has its own lock; the main thread takes it for a DELIVER without
 * e->mu. Order: e->mu before e->mesh.mu, never the other way. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/intr.h"
#include "base/log.h"
#include "enclave/meshrt.h"
#include "table/tpart.h"
#include "wire/proto.h"

_Static_assert(MC2_MESH_MAX_RANKS ==
                   sizeof((enc_mesh_box *)0)->head / sizeof((enc_mesh_box *)0)->head[0],
               "one inbox per rank");

struct enc_mesh_msg {
    enc_mesh_msg *next;
    size_t n;
    uint8_t b[];
};

#define HELLO_MAX  (MC2_X25519_LEN + (size_t)ENC_EVIDENCE_MAX)
#define MSG_MAX    ((size_t)MC2_COLL_MAX_CHUNK + MC2_MESH_OVERHEAD)
#define REASON_MAX 200 /* bytes of the hosts' FAIL text kept */

static void logw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logw(const char *fmt, ...)
{
    char m[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "mesh: %s", m);
}

/* ---- parameters and block ranges ---------------------------------------------------------- */

/* The job's parameter `key`: absent gives def; else a decimal lo..hi. */
static int param_u32(const mc2_job *job, const char *key, uint32_t lo, uint32_t hi, uint32_t def,
                     uint32_t *out, mc2_err *err)
{
    const char *v = mc2_job_param(job, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[0] < '1' || v[0] > '9' || *end || strlen(v) > 10 || n < lo || n > hi)
        return mc2_err_set(err, MC2_E_INPUT, "'%s' must be a whole number from %u to %u", key, lo,
                           hi);
    *out = (uint32_t)n;
    return 0;
}

int enc_mesh_ranks(const mc2_job *job, uint32_t *n, mc2_err *err)
{
    return param_u32(job, "ranks", 1, MC2_MESH_MAX_RANKS, 1, n, err);
}

int enc_mesh_timeout_s(const mc2_job *job, uint32_t *s, mc2_err *err)
{
    return param_u32(job, "mesh_timeout_s", 1, ENC_MESH_TIMEOUT_MAX_S, ENC_MESH_TIMEOUT_S, s, err);
}

bool enc_mesh_param(const char *key)
{
    return strcmp(key, "ranks") == 0 || strcmp(key, "mesh_timeout_s") == 0;
}

int enc_mesh_check_params(const mc2_job *job, mc2_err *err)
{
    uint32_t v;
    return enc_mesh_ranks(job, &v, err) || enc_mesh_timeout_s(job, &v, err) ? -1 : 0;
}

void enc_mesh_block_range(uint64_t nblocks, uint32_t self, uint32_t n_ranks, uint64_t *first,
                          uint64_t *count)
{
    mc2_block_range(nblocks, self, n_ranks, first, count); /* the placement's (table/tpart.h) */
}

/* ---- EIF_MESH_LAUNCH / JOIN payloads -------------------------------------------------------- */

typedef struct launch {
    uint32_t n_ranks, self, timeout_ms, n_ops;
    uint8_t job_id[32], nonce[32];
    mc2_coll_op ops[MC2_COLL_MAX_OPS];
} launch;

/* LAUNCH's payload from r (hostile at a worker): n_ranks u32 | job_id | nonce | timeout_ms u32 |
 * ops LV (n_ops u32 | n_ops x (kind u8 | root u32)), nothing after it; op 0 the bundle. */
static int parse_launch(mc2_rd *r, launch *l, mc2_err *err)
{
    size_t on;
    l->n_ranks = mc2_rd_u32(r);
    const uint8_t *id = mc2_rd_take(r, 32), *nonce = mc2_rd_take(r, 32);
    l->timeout_ms = mc2_rd_u32(r);
    const uint8_t *ops = mc2_rd_lv(r, &on);
    if (r->bad || mc2_rd_left(r) || l->n_ranks < 2 || l->n_ranks > MC2_MESH_MAX_RANKS)
        return mc2_err_set(err, MC2_E_INPUT, "malformed launch (ranks, job id, nonce, ops)");
    memcpy(l->job_id, id, 32);
    memcpy(l->nonce, nonce, 32);
    mc2_rd o = mc2_rd_init(ops, on);
    l->n_ops = mc2_rd_u32(&o);
    if (o.bad || l->n_ops < 1 || l->n_ops > MC2_COLL_MAX_OPS)
        return mc2_err_set(err, MC2_E_INPUT, "malformed launch: 1 to %d ops", MC2_COLL_MAX_OPS);
    memset(l->ops, 0, sizeof l->ops);
    for (uint32_t i = 0; i < l->n_ops; i++) {
        uint8_t kind = mc2_rd_u8(&o);
        uint32_t root = mc2_rd_u32(&o);
        if (o.bad || kind > MC2_COLL_GATHER || root >= l->n_ranks)
            return mc2_err_set(err, MC2_E_INPUT, "malformed launch: op %u", i);
        l->ops[i] = (mc2_coll_op){(enum mc2_coll_kind)kind, root};
    }
    if (mc2_rd_left(&o) || l->ops[0].kind != MC2_COLL_BCAST || l->ops[0].root != 0)
        return mc2_err_set(err, MC2_E_INPUT, "malformed launch: op 0 is not the bundle");
    return 0;
}

/* JOIN's payload: rank u32 (1..n_ranks-1) | LAUNCH's payload. */
static int parse_join(const uint8_t *p, size_t n, launch *l, mc2_err *err)
{
    mc2_rd r = mc2_rd_init(p, n);
    uint32_t self = mc2_rd_u32(&r);
    if (r.bad || parse_launch(&r, l, err)) return mc2_err_prefix(err, "EIF_MESH_JOIN: ");
    if (self == 0 || self >= l->n_ranks)
        return mc2_err_set(err, MC2_E_INPUT, "EIF_MESH_JOIN: rank %u of %u is not a worker's", self,
                           l->n_ranks);
    l->self = self;
    return 0;
}

static int put_launch(const launch *l, mc2_buf *b, mc2_err *err)
{
    mc2_buf ops = {0};
    int rc = mc2_buf_put_u32(&ops, l->n_ops, err);
    for (uint32_t i = 0; rc == 0 && i < l->n_ops; i++)
        rc = mc2_buf_put_u8(&ops, (uint8_t)l->ops[i].kind, err) ||
                     mc2_buf_put_u32(&ops, l->ops[i].root, err)
                 ? -1
                 : 0;
    rc = rc || mc2_buf_put_u32(b, l->n_ranks, err) || mc2_buf_append(b, l->job_id, 32, err) ||
                 mc2_buf_append(b, l->nonce, 32, err) || mc2_buf_put_u32(b, l->timeout_ms, err) ||
                 mc2_buf_put_lv(b, ops.data, ops.len, err)
             ? -1
             : 0;
    mc2_buf_free(&ops);
    return rc;
}

/* ---- the box: frames from the host, for the job's thread ----------------------------------- */

static void drain_locked(enc_mesh_box *b)
{
    for (size_t i = 0; i < MC2_MESH_MAX_RANKS; i++) {
        while (b->head[i]) {
            enc_mesh_msg *m = b->head[i];
            b->head[i] = m->next;
            mc2_free(m);
        }
        b->tail[i] = NULL;
    }
    b->unread = 0;
}

/* Fails the mesh (the first reason stays) and wakes every wait. */
static void fail_locked(enc_mesh_box *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_locked(enc_mesh_box *b, const char *fmt, ...)
{
    if (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why, sizeof b->why, fmt, ap);
        va_end(ap);
        b->failed = true;
        logw("%s", b->why);
    }
    pthread_cond_broadcast(&b->cv);
}

/* A mesh starts at this rank: frames on channel ch are taken from now on. */
static void box_start(enc_mesh_box *b, uint32_t ch, uint32_t self, uint32_t n)
{
    pthread_mutex_lock(&b->mu);
    drain_locked(b);
    b->active = true;
    b->ch = ch;
    b->self = self;
    b->n_ranks = n;
    b->failed = false;
    b->why[0] = '\0';
    b->has_peers = false;
    mc2_buf_free(&b->peers);
    pthread_mutex_unlock(&b->mu);
}

static void box_stop(enc_mesh_box *b)
{
    pthread_mutex_lock(&b->mu);
    b->active = false;
    drain_locked(b);
    mc2_buf_free(&b->peers);
    b->has_peers = false;
    pthread_mutex_unlock(&b->mu);
}

/* PEERS: n_ranks x (hello LV), each hello x25519 pub[32] | evidence (1..ENC_EVIDENCE_MAX). */
static void on_peers_locked(enc_mesh_box *b, mc2_frame *f)
{
    if (b->has_peers) return fail_locked(b, "the host sent EIF_MESH_PEERS twice");
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    for (uint32_t i = 0; i < b->n_ranks; i++) {
        size_t n;
        (void)mc2_rd_lv(&r, &n);
        if (!r.bad && (n <= MC2_X25519_LEN || n > HELLO_MAX))
            return fail_locked(b, "the host's EIF_MESH_PEERS has a malformed hello at rank %u", i);
    }
    if (r.bad || mc2_rd_left(&r))
        return fail_locked(b, "the host's EIF_MESH_PEERS is malformed (not %u hellos)", b->n_ranks);
    b->peers = f->payload; /* moved */
    f->payload = (mc2_buf){0};
    b->has_peers = true;
    pthread_cond_broadcast(&b->cv);
}

/* DELIVER: from u32 | sealed mesh message, queued for that sender. */
static void on_deliver_locked(enc_mesh_box *b, const mc2_frame *f)
{
    mc2_rd r = mc2_rd_init(f->payload.data, f->payload.len);
    uint32_t from = mc2_rd_u32(&r);
    size_t n = mc2_rd_left(&r);
    uint64_t max = b->inbox_max ? b->inbox_max : ENC_MESH_INBOX_MAX;
    if (b->failed) return; /* nobody reads it any more */
    if (r.bad) return fail_locked(b, "the host sent a malformed EIF_MESH_DELIVER");
    if (from >= b->n_ranks || from == b->self)
        return fail_locked(b,
                           "the host delivered a message as from rank %u, not a peer of "
                           "rank %u of %u",
                           from, b->self, b->n_ranks);
    if (n < MC2_MESH_OVERHEAD || n > MSG_MAX)
        return fail_locked(b, "the host delivered %zu bytes as from rank %u: not a mesh message", n,
                           from);
    if (n > max - b->unread)
        return fail_locked(b, "the host delivered more than %llu MiB not yet read",
                           (unsigned long long)(max >> 20));
    enc_mesh_msg *m = mc2_malloc(sizeof *m + n);
    if (!m) return fail_locked(b, "out of memory for a message from rank %u", from);
    m->next = NULL;
    m->n = n;
    memcpy(m->b, mc2_rd_take(&r, n), n);
    if (b->tail[from])
        b->tail[from]->next = m;
    else
        b->head[from] = m;
    b->tail[from] = m;
    b->unread += n;
    pthread_cond_broadcast(&b->cv);
}

/* FAIL: the hosts' reason (untrusted text: printable ASCII kept, at most REASON_MAX bytes). */
static void on_fail_locked(enc_mesh_box *b, const mc2_frame *f)
{
    char why[REASON_MAX + 1];
    size_t n = f->payload.len < REASON_MAX ? f->payload.len : REASON_MAX;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = f->payload.data[i];
        why[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    why[n] = '\0';
    fail_locked(b, "the hosts report: %s", n ? why : "(no reason given)");
}

/* JOIN (main thread, e->mu held): a worker accepts the first well-formed one. */
static int on_join(enclave *e, const mc2_frame *f, mc2_err *err)
{
    enc_mesh_box *b = &e->mesh;
    launch l;
    mc2_err perr;
    if (!e->worker) {
        logw("refusing EIF_MESH_JOIN: this enclave is not a worker (INIT flag bit 1)");
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    bool joined = b->joined;
    pthread_mutex_unlock(&b->mu);
    if (joined) {
        logw("refusing a second EIF_MESH_JOIN: a worker joins one mesh only");
        return 0;
    }
    if (parse_join(f->payload.data, f->payload.len, &l, &perr)) {
        logw("%s", perr.msg);
        return enc_send(e, EIF_MESH_END, f->channel, "", 1, err); /* u8 0: failed */
    }
    box_start(b, f->channel, l.self, l.n_ranks);
    pthread_mutex_lock(&b->mu);
    b->joined = true;
    mc2_buf_reset(&b->join);
    int rc = mc2_buf_append(&b->join, f->payload.data, f->payload.len, err);
    pthread_mutex_unlock(&b->mu);
    if (rc) return -1;
    pthread_cond_broadcast(&e->run_cv); /* the runner runs enc_mesh_work */
    return 0;
}

int enc_mesh_frame(enclave *e, mc2_frame *f, mc2_err *err)
{
    enc_mesh_box *b = &e->mesh;
    if (f->type == EIF_MESH_JOIN) return on_join(e, f, err);
    pthread_mutex_lock(&b->mu);
    if (!b->active || f->channel != b->ch) {
        pthread_mutex_unlock(&b->mu);
        logw("dropping message type %u for mesh %u: no such mesh is under way", f->type,
             f->channel);
        return 0;
    }
    if (f->type == EIF_MESH_PEERS)
        on_peers_locked(b, f);
    else if (f->type == EIF_MESH_DELIVER)
        on_deliver_locked(b, f);
    else if (f->type == EIF_MESH_FAIL)
        on_fail_locked(b, f);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

void enc_mesh_reset(enclave *e)
{
    box_stop(&e->mesh);
    pthread_mutex_lock(&e->mesh.mu);
    e->mesh.joined = false;
    e->mesh.failed = false;
    mc2_buf_free(&e->mesh.join);
    pthread_mutex_unlock(&e->mesh.mu);
}

bool enc_mesh_joined(enclave *e)
{
    pthread_mutex_lock(&e->mesh.mu);
    bool j = e->mesh.joined;
    pthread_mutex_unlock(&e->mesh.mu);
    return j;
}

/* ---- waiting, and the EIF transport ------------------------------------------------------ */

typedef struct run {
    enclave *e;
    uint32_t ch, self, n;
    unsigned timeout_ms;
    uint8_t job_id[32], nonce[32];
    uint8_t xpub[MC2_X25519_LEN], xsec[MC2_X25519_LEN];
    uint8_t *ev;
    size_t ev_len;
    mc2_coll_plan *plan;
    mc2_mesh *mesh;
    mc2_coll *coll;
    mc2_coll_transport tr;
} run;

static struct timespec deadline(unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static bool peers_ready(const enc_mesh_box *b, uint32_t unused)
{
    (void)unused;
    return b->has_peers;
}

static bool msg_ready(const enc_mesh_box *b, uint32_t from)
{
    return b->head[from] != NULL;
}

/* Waits (box locked) until ready(b, arg), the mesh fails, or the deadline: 0 if ready, else
 * -1 (*timed_out says whether by the deadline; otherwise b->why says why). A failed mesh
 * fails every wait, ready or not. */
static int wait_for(enc_mesh_box *b, bool (*ready)(const enc_mesh_box *, uint32_t), uint32_t arg,
                    const struct timespec *dl, bool *timed_out)
{
    *timed_out = false;
    while (!b->failed && !ready(b, arg))
        if (pthread_cond_timedwait(&b->cv, &b->mu, dl) == ETIMEDOUT && !b->failed &&
            !ready(b, arg)) {
            *timed_out = true;
            return -1;
        }
    return b->failed ? -1 : 0;
}

/* Waits for EIF_MESH_PEERS and moves its payload to *out. */
static int wait_peers(run *r, mc2_buf *out, mc2_err *err)
{
    enc_mesh_box *b = &r->e->mesh;
    struct timespec dl = deadline(r->timeout_ms);
    bool to;
    pthread_mutex_lock(&b->mu);
    int rc = wait_for(b, peers_ready, 0, &dl, &to);
    if (rc && to)
        mc2_err_set(err, MC2_E_IO,
                    "no EIF_MESH_PEERS from the host within %u s: the other ranks did not start "
                    "or attest in time",
                    r->timeout_ms / 1000);
    else if (rc)
        mc2_err_set(err, MC2_E_IO, "%s", b->why);
    else {
        *out = b->peers;
        b->peers = (mc2_buf){0};
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int tr_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len, mc2_err *err)
{
    run *r = ctx;
    uint8_t *p = mc2_malloc(4 + len);
    if (!p) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    mc2_le32_put(p, to);
    memcpy(p + 4, msg, len);
    int rc = enc_send(r->e, EIF_MESH_SEND, r->ch, p, 4 + len, err);
    mc2_free(p);
    return rc;
}

static int tr_recv(void *ctx, uint32_t from, uint8_t *buf, size_t cap, size_t *len, mc2_err *err)
{
    run *r = ctx;
    enc_mesh_box *b = &r->e->mesh;
    struct timespec dl = deadline(r->timeout_ms);
    bool to;
    if (from >= r->n || from == r->self)
        return mc2_err_set(err, MC2_E_INTERNAL, "receive from rank %u at rank %u", from, r->self);
    pthread_mutex_lock(&b->mu);
    int rc = wait_for(b, msg_ready, from, &dl, &to);
    if (rc && to)
        mc2_err_set(err, MC2_E_IO,
                    "no message from rank %u within %u s: that rank stopped, or its host "
                    "withholds its messages",
                    from, r->timeout_ms / 1000);
    else if (rc)
        mc2_err_set(err, MC2_E_IO, "%s", b->why);
    else {
        enc_mesh_msg *m = b->head[from];
        if (!(b->head[from] = m->next)) b->tail[from] = NULL;
        b->unread -= m->n;
        if (m->n > cap)
            rc = mc2_err_set(err, MC2_E_AUTH,
                             "the host delivered %zu bytes as from rank %u where at most %zu "
                             "fit",
                             m->n, from, cap);
        else {
            memcpy(buf, m->b, m->n);
            *len = m->n;
        }
        mc2_free(m);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static int tr_flush(void *ctx, mc2_err *err)
{
    (void)ctx;
    (void)err;
    return 0; /* enc_send wrote every frame already */
}

/* ---- the run ------------------------------------------------------------------------------ */

/* The plan's ops for job text j on n ranks: op 0 the bundle bcast from rank 0, then the
 * kind's ops (ops[] zeroed first, so both sides compare the same bytes). */
static int plan_ops(enclave *e, const enc_kind *k, const mc2_job *j, uint32_t self, uint32_t n,
                    mc2_coll_op *ops, uint32_t *n_ops, mc2_err *err)
{
    uint32_t nk = 0;
    memset(ops, 0, MC2_COLL_MAX_OPS * sizeof *ops);
    if (!k->plan || !k->run_rank)
        return mc2_err_set(err, MC2_E_INPUT, "job kind %s does not run on several ranks", k->name);
    ops[0] = (mc2_coll_op){MC2_COLL_BCAST, 0};
    if (k->plan(e, j, self, n, ops + 1, ENC_MESH_MAX_KIND_OPS, &nk, err)) return -1;
    if (nk > ENC_MESH_MAX_KIND_OPS)
        return mc2_err_set(err, MC2_E_INTERNAL, "job kind %s planned too many ops", k->name);
    *n_ops = nk + 1;
    return 0;
}

/* Whether this enclave can attest itself to its peers: only sim evidence is accepted between
 * ranks today, made by the enclave's own attester. */
static int own_evidence(const enclave *e, mc2_err *err)
{
    if (e->att && e->att->evidence) return 0;
    return mc2_err_set(err, MC2_E_USAGE,
                       "distributed jobs need a backend whose enclave makes its own evidence "
                       "(sim) for now; this enclave runs on %s",
                       e->att ? e->att->name : "no backend");
}

/* This rank's X25519 key and evidence, sent as EIF_MESH_HELLO. */
static int hello(run *r, mc2_err *err)
{
    enclave *e = r->e;
    uint8_t rd[MC2_REPORT_DATA_LEN];
    if (own_evidence(e, err)) return -1;
    if (mc2_x25519_keygen(r->xpub, r->xsec, err) ||
        mc2_mesh_report_data(r->xpub, r->nonce, e->policy->hash, rd, err) ||
        e->att->evidence(e, rd, &r->ev, &r->ev_len, err))
        return -1;
    mc2_buf b = {0};
    int rc = mc2_buf_append(&b, r->xpub, sizeof r->xpub, err) ||
                     mc2_buf_append(&b, r->ev, r->ev_len, err) ||
                     enc_send(e, EIF_MESH_HELLO, r->ch, b.data, b.len, err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

/* Hello i of PEERS (checked well-formed by on_peers_locked): its key and evidence. */
static void hello_at(const mc2_buf *peers, uint32_t i, const uint8_t **pub, const uint8_t **ev,
                     size_t *ev_len)
{
    mc2_rd rd = mc2_rd_init(peers->data, peers->len);
    size_t n = 0;
    const uint8_t *h = NULL;
    for (uint32_t k = 0; k <= i; k++) h = mc2_rd_lv(&rd, &n);
    *pub = h;
    *ev = h + MC2_X25519_LEN;
    *ev_len = n - MC2_X25519_LEN;
}

/* Verifies every peer's evidence against the policy's sim platform keys and adds it to the
 * mesh; the hello at this rank's own index must be its own. */
static int add_peers(run *r, const mc2_buf *peers, mc2_err *err)
{
    const mc2_policy *pol = r->e->policy;
    mc2_verifier v = {
        .sim = {(const uint8_t(*)[MC2_ED25519_PUB_LEN])pol->sim_keys, pol->n_sim_keys}};
    for (uint32_t i = 0; i < r->n; i++) {
        const uint8_t *pub, *ev;
        size_t n;
        mc2_claims c;
        hello_at(peers, i, &pub, &ev, &n);
        if (i == r->self) {
            if (n != r->ev_len || memcmp(pub, r->xpub, MC2_X25519_LEN) != 0 ||
                memcmp(ev, r->ev, n) != 0)
                return mc2_err_set(err, MC2_E_AUTH,
                                   "the host's EIF_MESH_PEERS has another hello at this rank's "
                                   "index (%u)",
                                   i);
            continue;
        }
        if (mc2_evidence_verify(&v, ev, n, &c, err) != MC2_ATTEST_OK)
            return mc2_err_prefix(err, "rank %u's evidence: ", i);
        if (mc2_mesh_add_peer(r->mesh, i, &c, ev, n, pub, err)) return -1;
    }
    return 0;
}

/* Plan, hello, peers, mesh and collectives: ready for op 0. */
static int setup(run *r, const launch *l, mc2_err *err)
{
    enclave *e = r->e;
    mc2_buf peers = {0};
    mc2_mesh_job mj;
    memcpy(mj.job_id, r->job_id, 32);
    memcpy(mj.nonce, r->nonce, 32);
    memcpy(mj.policy_hash, e->policy->hash, 32);
    memcpy(mj.measurement, e->measurement, 32);
    r->tr = (mc2_coll_transport){r, tr_send, tr_recv, tr_flush};
    int rc = -1;
    if (!(r->plan = mc2_coll_plan_make(l->ops, l->n_ops, r->n, 0, 0, err)) || hello(r, err))
        goto out;
    r->mesh = mc2_mesh_new(&mj, &r->plan->graph, r->self, r->xsec, r->ev, r->ev_len, err);
    mc2_wipe(r->xsec, sizeof r->xsec); /* the mesh holds its copy */
    if (!r->mesh || wait_peers(r, &peers, err) || add_peers(r, &peers, err)) goto out;
    if (!(r->coll = mc2_coll_new(r->mesh, r->plan, r->self, &r->tr, err))) goto out;
    rc = 0;
out:
    mc2_buf_free(&peers);
    return rc;
}

/* Frees what setup made (the sends are flushed first by mc2_coll_free). */
static void teardown(run *r)
{
    mc2_coll_free(r->coll);
    mc2_mesh_free(r->mesh);
    mc2_coll_plan_free(r->plan);
    mc2_wipe(r->xsec, sizeof r->xsec);
    mc2_free(r->ev);
    r->coll = NULL;
    r->mesh = NULL;
    r->plan = NULL;
    r->ev = NULL;
}

/* The bundle (op 0): job text LV | n_keys u8 | n_keys x (party u8 | data key): the data
 * keys of the job's input owners, each once. Never a model key: a distributed predict job
 * sends the opened model in its own first op (jobs_gbdt_dist.c). */
static int bundle_make(enclave *e, const enc_job *j, mc2_buf *out, mc2_err *err)
{
    bool want[MC2_POLICY_MAX_PARTIES] = {0};
    uint8_t nk = 0, key[MC2_KEY_LEN];
    for (size_t i = 0; i < j->job.ninputs; i++) {
        const mc2_party *p = mc2_policy_party(e->policy, j->job.inputs[i].owner);
        if (!p) return mc2_err_set(err, MC2_E_AUTH, "an input owner is not a party");
        size_t pi = (size_t)(p - e->policy->parties);
        if (pi > 255) return mc2_err_set(err, MC2_E_LIMIT, "input owner beyond party 255");
        nk += !want[pi];
        want[pi] = true;
    }
    if (mc2_buf_put_lv(out, j->text, j->text_len, err) || mc2_buf_put_u8(out, nk, err)) return -1;
    for (size_t pi = 0; pi < e->policy->nparties && pi < 256; pi++) {
        if (!want[pi]) continue;
        int rc = enc_party_key(e, e->policy->parties[pi].name, key, err) ||
                         mc2_buf_put_u8(out, (uint8_t)pi, err) ||
                         mc2_buf_append(out, key, sizeof key, err)
                     ? -1
                     : 0;
        mc2_wipe(key, sizeof key);
        if (rc) return -1;
    }
    return 0;
}

/* Worker: the bundle's keys after its text: installed as if granted to this enclave. */
static int bundle_keys(enclave *e, mc2_rd *rd, enc_job *j, mc2_err *err)
{
    uint8_t nk = mc2_rd_u8(rd);
    for (uint8_t i = 0; i < nk && !rd->bad; i++) {
        uint8_t pi = mc2_rd_u8(rd);
        const uint8_t *key = mc2_rd_take(rd, MC2_KEY_LEN);
        if (rd->bad || pi >= e->policy->nparties)
            return mc2_err_set(err, MC2_E_INPUT, "the bundle from rank 0 has malformed keys");
        pthread_mutex_lock(&e->mu); /* enc_party_key reads them under mu */
        memcpy(e->keys[pi], key, MC2_KEY_LEN);
        e->has_key[pi] = true;
        pthread_mutex_unlock(&e->mu);
    }
    if (rd->bad || mc2_rd_left(rd))
        return mc2_err_set(err, MC2_E_INPUT, "the bundle from rank 0 has malformed keys");
    const char *mo = mc2_job_param(&j->job, "model_owner");
    const mc2_party *p = mo ? mc2_policy_party(e->policy, mo) : NULL;
    j->model_owner = p ? (int)(p - e->policy->parties) : -1;
    return 0;
}

/* Worker: the job of the bundle p[0..n) (from rank 0, authenticated by the mesh) must be the
 * one JOIN named (its hash), run on as many ranks, with the plan the host gave this rank; its
 * data keys are installed (wiped by enc_mesh_work at the end). */
static int bundle_take(run *r, const launch *l, const uint8_t *p, size_t n, enc_job *j,
                       const enc_kind **k, mc2_err *err)
{
    enclave *e = r->e;
    mc2_rd rd = mc2_rd_init(p, n);
    size_t tl;
    const uint8_t *text = mc2_rd_lv(&rd, &tl);
    mc2_coll_op ops[MC2_COLL_MAX_OPS];
    uint32_t n_ops, ranks;
    if (rd.bad || tl == 0 || tl > MC2_JOB_MAX_TEXT)
        return mc2_err_set(err, MC2_E_INPUT, "the bundle from rank 0 is malformed");
    if (mc2_sha256(text, tl, j->text_sha256, err)) return -1;
    if (memcmp(j->text_sha256, l->job_id, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "the bundle's job is not the one EIF_MESH_JOIN names");
    if (!(j->text = mc2_malloc(tl + 1))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    memcpy(j->text, text, tl);
    j->text[tl] = '\0';
    j->text_len = tl;
    if (mc2_job_parse(j->text, tl, &j->job, err)) return -1;
    if (memcmp(j->job.policy_hash, e->policy->hash, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "the bundle's job names another consortium policy");
    if (!(*k = enc_kind_find(j->job.kind, NULL)))
        return mc2_err_set(err, MC2_E_INPUT, "unknown job kind %s", j->job.kind);
    if (enc_mesh_ranks(&j->job, &ranks, err) || (*k)->check(e, &j->job, err))
        return mc2_err_prefix(err, "the bundle's job: ");
    /* The keys first: a kind's plan may read its inputs' headers. */
    if (bundle_keys(e, &rd, j, err)) return -1;
    if (plan_ops(e, *k, &j->job, r->self, l->n_ranks, ops, &n_ops, err))
        return mc2_err_prefix(err, "the bundle's job: ");
    if (ranks != l->n_ranks || n_ops != l->n_ops || memcmp(ops, l->ops, sizeof ops) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "the host gave this rank another plan than the job's");
    return 0;
}

/* Op 0 (the bundle), the kind's ops and the finish. Leader: lj is its job and k its kind.
 * Worker: lj is filled from the bundle and *k set. */
static int job_ops(run *r, const launch *l, enc_job *lj, const enc_kind **k, mc2_err *err)
{
    uint8_t *b = NULL;
    size_t n = 0;
    mc2_buf own = {.secret = 1};
    int rc = -1;
    bool armed = false;
    if (r->self == 0) {
        if (bundle_make(r->e, lj, &own, err)) goto out;
        b = own.data;
        n = own.len;
    }
    if (mc2_coll_bcast(r->coll, &b, &n, err)) goto out;
    if (r->self != 0) {
        if (bundle_take(r, l, b, n, lj, k, err)) goto out;
        mc2_intr_arm(enc_job_cpu_limit(r->e, &lj->job));
        armed = true;
    }
    enc_mesh m = {r->self, r->n, r->coll};
    if ((*k)->run_rank(r->e, lj, &m, err) || mc2_coll_finish(r->coll, err)) goto out;
    rc = 0;
out:
    if (armed) mc2_intr_disarm();
    if (r->self != 0 && b) {
        mc2_wipe(b, n);
        free(b); /* mc2_coll_bcast's copy */
    }
    mc2_buf_free(&own);
    return rc;
}

/* The end of a run at this rank: EIF_MESH_END {ok}, then nothing of the mesh stays. */
static int end_run(run *r, int rc, mc2_err *err)
{
    uint8_t ok = rc == 0;
    mc2_err serr;
    teardown(r);
    if (enc_send(r->e, EIF_MESH_END, r->ch, &ok, 1, &serr) && rc == 0) {
        *err = serr;
        rc = -1;
    }
    box_stop(&r->e->mesh);
    if (rc) mc2_err_prefix(err, "distributed job, rank %u of %u: ", r->self, r->n);
    return rc;
}

int enc_mesh_lead(enclave *e, enc_job *j, const enc_kind *k, uint32_t n_ranks, mc2_err *err)
{
    run r = {.e = e, .ch = (uint32_t)j->id, .self = 0, .n = n_ranks};
    launch l = {.n_ranks = n_ranks};
    uint32_t ts;
    mc2_buf b = {0};
    if (n_ranks < 2 || n_ranks > MC2_MESH_MAX_RANKS)
        return mc2_err_set(err, MC2_E_INPUT, "a distributed job runs on 2 to %d ranks",
                           MC2_MESH_MAX_RANKS);
    if (own_evidence(e, err) || enc_mesh_timeout_s(&j->job, &ts, err) ||
        plan_ops(e, k, &j->job, 0, n_ranks, l.ops, &l.n_ops, err) ||
        mc2_random(l.nonce, sizeof l.nonce, err))
        goto fail;
    r.timeout_ms = l.timeout_ms = ts * 1000u;
    memcpy(l.job_id, j->text_sha256, 32);
    memcpy(r.job_id, l.job_id, 32);
    memcpy(r.nonce, l.nonce, 32);
    if (put_launch(&l, &b, err)) goto fail;
    box_start(&e->mesh, r.ch, 0, n_ranks);
    if (enc_send(e, EIF_MESH_LAUNCH, r.ch, b.data, b.len, err)) {
        box_stop(&e->mesh);
        goto fail;
    }
    mc2_buf_free(&b);
    int rc = setup(&r, &l, err) || job_ops(&r, &l, j, &k, err) ? -1 : 0;
    return end_run(&r, rc, err);
fail:
    mc2_buf_free(&b);
    return mc2_err_prefix(err, "distributed job, rank 0 of %u: ", n_ranks);
}

/* Forgets what a worker's job held: its data keys (as granted), its text and model key. */
static void worker_forget(enclave *e, enc_job *j)
{
    pthread_mutex_lock(&e->mu);
    mc2_wipe(e->keys, sizeof e->keys);
    memset(e->has_key, 0, sizeof e->has_key);
    pthread_mutex_unlock(&e->mu);
    if (j->text) mc2_free_wipe(j->text, j->text_len + 1);
    mc2_job_free(&j->job);
    mc2_wipe(j, sizeof *j);
}

int enc_mesh_work(enclave *e, mc2_err *err)
{
    enc_mesh_box *b = &e->mesh;
    launch l;
    enc_job j = {.model_owner = -1};
    const enc_kind *k = NULL;
    pthread_mutex_lock(&b->mu);
    uint32_t ch = b->ch;
    int rc = b->joined ? parse_join(b->join.data, b->join.len, &l, err)
                       : mc2_err_set(err, MC2_E_INTERNAL, "no EIF_MESH_JOIN");
    pthread_mutex_unlock(&b->mu);
    if (rc) return -1;
    unsigned ms = l.timeout_ms < 1000u ? 1000u : l.timeout_ms;
    run r = {.e = e,
             .ch = ch,
             .self = l.self,
             .n = l.n_ranks,
             .timeout_ms =
                 ms > ENC_MESH_TIMEOUT_MAX_S * 1000u ? ENC_MESH_TIMEOUT_MAX_S * 1000u : ms};
    memcpy(r.job_id, l.job_id, 32);
    memcpy(r.nonce, l.nonce, 32);
    size_t old = mc2_alloc_set_cap((size_t)(e->budget_bytes + ENC_MEM_OVERHEAD));
    rc = setup(&r, &l, err) || job_ops(&r, &l, &j, &k, err) ? -1 : 0;
    mc2_alloc_set_cap(old);
    worker_forget(e, &j); /* before END: once it is out, the worker holds no key */
    return end_run(&r, rc, err);
}
