/* fuzz_enclave.c - libFuzzer target for the enclave interface (docs/enclave-interface.md):
 * message sequences from a hostile host into enc_dispatch, and enclave-API requests from an
 * authenticated (possibly malicious) party into enc_api, with the host's storage replies
 * under the fuzzer's control.
 *
 * One `enclave` is set up once, without the sandbox: a fixed consortium policy (parties
 * auditor (recipient), bank-a, bank-b with fixed Ed25519 keys, so the policy hash is the
 * same in every run), a sigstruct, a simulated platform key, a fixed instance nonce and a
 * 64 MiB budget. Per input its state is reset (sessions, jobs, keys, counter, pending
 * frames) and e->fd is a fresh socketpair whose other end a pump thread serves: it writes
 * the input's "host queue" (the raw bytes the enclave reads while it waits for a storage
 * reply, see hostio.c), then shuts its writing side (so a wait beyond the queue ends with
 * "connection closed"), and reads everything the enclave sends, so writes never block. In
 * session mode the harness also writes sync markers (type 0xfffe) into the enclave's end, so
 * it knows when the pump has seen every EIF_OUT the enclave wrote before them.
 *
 * Input: u8 mode | u32 qlen | host queue[qlen] | steps      (mode = first byte % 4)
 *   mode 0 (host mode): each step is a frame for enc_dispatch
 *       u16 type | u32 channel | u16 len | payload[len]
 *   mode 1 (API mode): each step is
 *       u8 party | u8 type | u8 flags | u16 len | payload[len]
 *     type 255: a host frame (payload = u16 type | u32 channel | frame payload);
 *     otherwise an enclave-API request from party (party % nparties), then enc_jobs_advance
 *     as after every session read. flags bit 0: the harness signs as that party
 *       GRANT:   payload = data key[32]            -> key | grant signature
 *       SUBMIT:  payload = job text               -> text LV | job signature
 *       APPROVE: payload = u64 job id              -> id | signature over that job's text
 *       GRANT_OBJECT: payload = u64 job id | key[32] -> id | the job's model name | key |
 *                 signature over that job's text hash (a per-job model-key grant)
 *     flags bit 1 (SUBMIT): the harness first rewrites the text's counter line to the next
 *     counter, so mutated job texts stay acceptable.
 *   mode 2 (INIT): everything after the mode byte is an INIT payload, parsed and checked as
 *     entry/main.c's init() does (enc_init on a scratch enclave: budget, policy YAML,
 *     sigstruct, attester name and bytes); the running enclave is not touched.
 *   mode 3 (session): u8 party, then the harness opens session 1 as that party over real
 *     TLS 1.3 (OPEN, then the handshake relayed as DATA/OUT frames), and each step is
 *       u8 kind | u16 len | payload[len]
 *     kind % 3 == 0: payload is plaintext the party sends inside TLS (raw enclave-API bytes)
 *     kind % 3 == 1: a host frame (payload = u16 type | u32 channel | frame payload)
 *     kind % 3 == 2: an enclave-API request (payload = u8 type | u8 flags | body, built as
 *                    in mode 1 and framed), sent inside TLS
 *     so the session's inner framing (serve), authentication and the host's interference
 *     with a live session are fuzzed too.
 * Lengths are clamped to what is left. After every step queued host frames (e->pending) are
 * dispatched, as main.c does.
 *
 * Oracles besides the sanitizers: no data key, platform key, result key or table plaintext
 * (a canary value in the seed tables) in any byte the enclave sends to the host or in any log
 * line (this file defines mc2_log, which replaces the library's); a result key goes only to a
 * recipient of a job that ran; a job runs only with every input owner's approval and key,
 * and, if it names a model owner, that party's approval and a model key granted for it.
 * The seeds include a predict job that runs on a real sealed model (its key is scanned for
 * too).
 *
 * MC2_FUZZ_SEED_DIR=dir: writes the seed corpus (fuzz/corpus/fuzz_enclave) there and exits.
 * MC2_FUZZ_VERBOSE=1: prints log lines, API errors and every frame sent to the host. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "crypto/pki.h"
#include "base/hex.h"
#include "enclave/enclave.h"
#include "gbdt/gbdt.h"
#include "mc2/job.h"
#include "table/blob.h"
#include "table/tmem.h"
#include "wire/proto.h"
#include "wire/tls.h"

#define NPARTIES   3
#define MAX_QUEUE  (1u << 20)
#define MAX_STEPS  256
#define MAX_OUTPUT (8u << 20) /* host-visible bytes kept for the scan */

/* A plaintext value of the seed tables; party and table names cannot contain '#' or ' ', so
 * no party-chosen name can make it appear legitimately. */
static const char CANARY[] = "canary#5e1f secret value";

static const char *const NAMES[NPARTIES] = {"auditor", "bank-a", "bank-b"};

static struct {
    enclave e;
    uint8_t sec[NPARTIES][32];      /* party signing keys, by policy index */
    uint8_t data_key[NPARTIES][32]; /* the data keys the seeds grant, by policy index */
    uint8_t model_key[32];          /* the key of the seeds' sealed model */
    char *pem[NPARTIES];            /* party certificates, by NAMES index */
    mc2_buf policy_yaml;            /* the policy's text (INIT seeds) */
    mc2_buf out;                    /* what the enclave sent to the host in this input */
    SSL_CTX *cctx[NPARTIES];        /* TLS client contexts of the parties, by policy index */
    pthread_mutex_t mu;             /* guards the three fields below (pump thread) */
    pthread_cond_t cv;
    uint32_t marker;          /* the last sync marker the pump saw */
    mc2_buf tls_in;           /* EIF_OUT bytes for SESSION_SID not yet taken */
    mc2_frame *pending[4096]; /* host frames read while a storage request waited */
    size_t npending;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

#define SESSION_SID 1
#define MARKER_TYPE 0xfffe /* written by the harness into the enclave's end: a sync point */

/* ---- logging: replaces base/log.c so log lines are checked for secrets, then dropped ----- */

static void scan(const uint8_t *p, size_t n, const char *where);

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
    scan((const uint8_t *)line, strlen(line), "a log line");
    if (getenv("MC2_FUZZ_VERBOSE")) fprintf(stderr, "log: %s\n", line);
}

static void die(const char *what, const mc2_err *err)
{
    fprintf(stderr, "fuzz_enclave: %s: %s\n", what, err ? err->msg : "");
    abort();
}

static bool contains(const uint8_t *p, size_t n, const void *needle, size_t k)
{
    return n >= k && memmem(p, n, needle, k) != NULL;
}

/* Aborts if p[0..n) holds a secret the enclave knows. */
static void scan(const uint8_t *p, size_t n, const char *where)
{
    enclave *e = &G.e;
    const char *leak = NULL;
    if (contains(p, n, CANARY, strlen(CANARY))) leak = "table plaintext";
    if (contains(p, n, e->att_secret, sizeof e->att_secret)) leak = "the platform key";
    for (size_t i = 0; i < NPARTIES; i++)
        if (contains(p, n, G.data_key[i], 32)) leak = "a data key";
    if (contains(p, n, G.model_key, 32)) leak = "a model key";
    for (size_t i = 0; i < e->njobs; i++)
        for (size_t k = 0; k < e->jobs[i]->nresults; k++)
            if (contains(p, n, e->jobs[i]->results[k].key, MC2_KEY_LEN)) leak = "a result key";
    if (leak) {
        fprintf(stderr, "fuzz_enclave: %s reached %s\n", leak, where);
        abort();
    }
}

/* ---- the host end of the channel ------------------------------------------------------------ */

typedef struct pump {
    int fd; /* the host's end, non-blocking */
    const uint8_t *q;
    size_t qlen;
} pump;

static void *pump_run(void *arg)
{
    pump *pm = arg;
    size_t qoff = 0;
    bool wr = true;
    if (pm->qlen == 0) {
        shutdown(pm->fd, SHUT_WR);
        wr = false;
    }
    uint8_t chunk[65536];
    mc2_buf acc = {0}; /* bytes from the enclave not yet split into frames */
    mc2_frame f = {0};
    mc2_err err;
    for (;;) {
        struct pollfd pf = {pm->fd, (short)(POLLIN | (wr ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf.revents & POLLIN) {
            ssize_t r = read(pm->fd, chunk, sizeof chunk);
            if (r == 0) break; /* the enclave's end was closed: the input is over */
            if (r > 0 && G.out.len + (size_t)r <= MAX_OUTPUT) {
                if (mc2_buf_append(&G.out, chunk, (size_t)r, &err)) die("output", &err);
            }
            if (r < 0 && errno != EAGAIN && errno != EINTR) break;
            if (r > 0 && mc2_buf_append(&acc, chunk, (size_t)r, &err)) die("output", &err);
            size_t off = 0;
            long used;
            while ((used = mc2_frame_parse(acc.data + off, acc.len - off, UINT32_MAX, &f, &err)) >
                   0) {
                off += (size_t)used;
                pthread_mutex_lock(&G.mu);
                if (f.type == MARKER_TYPE) {
                    G.marker = f.channel;
                    pthread_cond_broadcast(&G.cv);
                } else if (f.type == EIF_OUT && f.channel == SESSION_SID &&
                           mc2_buf_append(&G.tls_in, f.payload.data, f.payload.len, &err)) {
                    die("output", &err);
                }
                pthread_mutex_unlock(&G.mu);
            }
            if (used < 0) die("the enclave sent a malformed frame", &err);
            memmove(acc.data, acc.data + off, acc.len - off);
            acc.len -= off;
            continue;
        }
        if (wr && (pf.revents & POLLOUT)) {
            ssize_t w = send(pm->fd, pm->q + qoff, pm->qlen - qoff, MSG_NOSIGNAL);
            if (w > 0) qoff += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || qoff == pm->qlen) {
                shutdown(pm->fd, SHUT_WR);
                wr = false;
            }
            continue;
        }
        if (pf.revents & (POLLHUP | POLLERR | POLLNVAL)) break;
    }
    mc2_buf_free(&acc);
    mc2_frame_free(&f);
    return NULL;
}

/* Returns once the pump has handled everything the enclave wrote so far. */
static void sync_host(enclave *e)
{
    static uint32_t seq;
    mc2_err err;
    seq++;
    if (mc2_frame_write_fd(e->fd, MARKER_TYPE, seq, NULL, 0, &err)) die("marker", &err);
    pthread_mutex_lock(&G.mu);
    while (G.marker != seq) pthread_cond_wait(&G.cv, &G.mu);
    pthread_mutex_unlock(&G.mu);
}

/* e->pump: reads one host frame while a storage request waits (there is no reader thread in
 * the harness). Replies go to their requests; other frames are queued (at most 4096 frames
 * and 64 MiB, as a bound on what a host can make the harness hold) and handled after the step. */
static int pump_one(enclave *e, mc2_err *err)
{
    mc2_frame f = {0};
    if (mc2_frame_read_fd(e->fd, MC2_FRAME_MAX + 64, &f, err)) {
        mc2_frame_free(&f);
        return -1;
    }
    if (f.type == EIF_STORE_REPLY) {
        enc_io_deliver(e, &f);
        mc2_frame_free(&f);
        return 0;
    }
    size_t queued = f.payload.len;
    for (size_t i = 0; i < G.npending; i++) queued += G.pending[i]->payload.len;
    mc2_frame *q = NULL;
    if (G.npending >= sizeof G.pending / sizeof G.pending[0] || queued > (64u << 20) ||
        !(q = mc2_calloc(1, sizeof *q))) {
        mc2_frame_free(&f);
        return mc2_err_set(err, MC2_E_LIMIT, "host sent too many messages during a job");
    }
    *q = f; /* move */
    G.pending[G.npending++] = q;
    return 0;
}

/* ---- set-up and reset -------------------------------------------------------------------- */

static void seed_key(uint8_t out[32], const char *label)
{
    mc2_err err;
    if (mc2_sha256(label, strlen(label), out, &err)) die("sha256", &err);
}

static void indent(mc2_buf *b, const char *pem)
{
    mc2_err err;
    for (const char *p = pem; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (mc2_buf_puts(b, "      ", &err) || mc2_buf_append(b, p, n, &err)) die("yaml", &err);
        p += n;
    }
}

static void setup(void)
{
    enclave *e = &G.e;
    mc2_err err;
    signal(SIGPIPE, SIG_IGN);
    uint8_t signer_sec[32], signer_pub[32], signer_id[32], sec[NPARTIES][32];
    seed_key(signer_sec, "fuzz enclave signer");
    if (mc2_ed25519_public(signer_sec, signer_pub, &err)) die("signer", &err);
    mc2_signer_id(signer_pub, signer_id);
    char signer_hex[65];
    for (size_t i = 0; i < 32; i++) snprintf(signer_hex + 2 * i, 3, "%02x", signer_id[i]);
    mc2_buf y = {0};
    if (mc2_buf_printf(&y, &err,
                       "consortium: fuzz\nenclave:\n  signer: %s\n  product_id: 7\n  min_svn: "
                       "1\n  allow_simulation: true\nparties:\n",
                       signer_hex))
        die("yaml", &err);
    for (size_t i = 0; i < NPARTIES; i++) {
        char label[64];
        snprintf(label, sizeof label, "fuzz party %s", NAMES[i]);
        seed_key(sec[i], label);
        mc2_buf pem = {0};
        if (mc2_x509_self_signed(sec[i], NAMES[i], 3650, &pem, &err) ||
            mc2_buf_append(&pem, "", 1, &err))
            die("certificate", &err);
        G.pem[i] = (char *)pem.data;
        if (mc2_buf_printf(&y, &err, "  - name: %s\n    certificate: |\n", NAMES[i]))
            die("yaml", &err);
        indent(&y, G.pem[i]);
    }
    if (mc2_buf_puts(&y, "recipients: [auditor]\n", &err)) die("yaml", &err);
    if (mc2_policy_parse("fuzz policy", (const char *)y.data, y.len, &e->policy, &err))
        die("policy", &err);
    G.policy_yaml = y;
    if (e->policy->nparties != NPARTIES) die("policy parties", NULL);
    for (size_t p = 0; p < NPARTIES; p++) {
        size_t i = 0;
        while (i < NPARTIES && strcmp(NAMES[i], e->policy->parties[p].name) != 0) i++;
        if (i == NPARTIES) die("party order", NULL);
        memcpy(G.sec[p], sec[i], 32);
        EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec[i], 32);
        BIO *bio = BIO_new_mem_buf(G.pem[i], -1);
        X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        G.cctx[p] = key && cert ? mc2_tls_ctx(0, key, cert, &err) : NULL;
        if (!G.cctx[p]) die("client TLS context", &err);
        X509_free(cert);
        EVP_PKEY_free(key);
        char label[64];
        snprintf(label, sizeof label, "fuzz data key %s", NAMES[i]);
        seed_key(G.data_key[p], label);
    }
    seed_key(G.model_key, "fuzz model key");
    memset(e->measurement, 0x42, sizeof e->measurement);
    if (mc2_sigstruct_sign(&e->sigstruct, e->measurement, 7, 3, signer_sec, &err))
        die("sigstruct", &err);
    seed_key(e->att_secret, "fuzz platform key");
    e->att = &enc_att_sim;
    memset(e->instance, 0x17, sizeof e->instance);
    e->budget_bytes = 64u << 20;
    e->next_counter = 1;
    e->fd = -1;
    e->pump = pump_one;
    enc_io_init(e);
}

/* Frees everything an input created, so inputs are independent. */
static void reset(void)
{
    enclave *e = &G.e;
    for (size_t i = 0; i < ENC_MAX_SESSIONS; i++) {
        enc_session *s = &e->sessions[i];
        if (s->used) enc_session_drop(s);
    }
    for (size_t i = 0; i < e->njobs; i++) {
        enc_job *j = e->jobs[i];
        mc2_free(j->text);
        mc2_job_free(&j->job);
        mc2_wipe(j, sizeof *j);
        mc2_free(j);
        e->jobs[i] = NULL;
    }
    e->njobs = 0;
    for (size_t i = 0; i < G.npending; i++) {
        mc2_frame_free(G.pending[i]);
        mc2_free(G.pending[i]);
    }
    G.npending = 0;
    /* Everything else (keys, counters, and state added later) back to zero, keeping the
     * configuration set up once. */
    enclave cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.measurement, e->measurement, sizeof cfg.measurement);
    cfg.sigstruct = e->sigstruct;
    cfg.att = e->att;
    memcpy(cfg.att_secret, e->att_secret, sizeof cfg.att_secret);
    cfg.policy = e->policy;
    memcpy(cfg.instance, e->instance, sizeof cfg.instance);
    cfg.budget_bytes = e->budget_bytes;
    cfg.next_counter = 1;
    cfg.fd = -1;
    cfg.pump = pump_one;
    mc2_wipe(e, sizeof *e);
    *e = cfg;
    enc_io_init(e);
    mc2_wipe(&cfg, sizeof cfg);
}

/* ---- running an input -------------------------------------------------------------------- */

/* Handles frames queued while a storage request waited (main.c handles them at once, on its
 * own thread; the harness, which has no second thread in the enclave, afterwards). */
static int drain_pending(enclave *e)
{
    while (G.npending > 0) {
        mc2_frame *cur = G.pending[0];
        memmove(G.pending, G.pending + 1, --G.npending * sizeof G.pending[0]);
        mc2_err err;
        int r = enc_dispatch(e, cur, &err);
        mc2_frame_free(cur);
        mc2_free(cur);
        if (r) return -1;
    }
    return 0;
}

static int host_frame(enclave *e, uint16_t type, uint32_t ch, const uint8_t *p, size_t n)
{
    mc2_frame f = {.type = type, .channel = ch};
    mc2_err err;
    if (mc2_buf_append(&f.payload, p, n, &err)) die("frame", &err);
    int r = enc_dispatch(e, &f, &err);
    mc2_frame_free(&f);
    return r ? -1 : drain_pending(e);
}

/* Rewrites the "counter" line of a job text to c. */
static void fix_counter(mc2_buf *t, uint64_t c)
{
    mc2_err err;
    const char *s = (const char *)t->data;
    if (t->len == 0) return;
    const char *at = memmem(s, t->len, "\ncounter ", 9);
    if (!at) return;
    const char *v = at + 9, *end = s + t->len;
    const char *nl = memchr(v, '\n', (size_t)(end - v));
    if (!nl) nl = end;
    mc2_buf n = {0};
    if (mc2_buf_append(&n, s, (size_t)(v - s), &err) ||
        mc2_buf_printf(&n, &err, "%llu", (unsigned long long)c) ||
        mc2_buf_append(&n, nl, (size_t)(end - nl), &err))
        die("fix_counter", &err);
    mc2_buf_free(t);
    *t = n;
}

/* The request body for (type, flags, p[0..n)) from party: signed by the harness if flags
 * bit 0 asks for it (see the top of the file). */
static void build_request(enclave *e, int party, uint8_t type, uint8_t flags, const uint8_t *p,
                          size_t n, mc2_buf *req)
{
    mc2_err err;
    uint8_t sig[64];
    if ((flags & 1) && type == EAPI_GRANT) {
        uint8_t key[32] = {0};
        memcpy(key, p, n < 32 ? n : 32);
        if (mc2_grant_sign(G.sec[party], e->policy->hash, e->instance, key, sig, &err) ||
            mc2_buf_append(req, key, 32, &err) || mc2_buf_append(req, sig, 64, &err))
            die("grant", &err);
    } else if ((flags & 1) && type == EAPI_SUBMIT) {
        mc2_buf t = {0};
        if (mc2_buf_append(&t, p, n, &err)) die("submit", &err);
        if (flags & 2) fix_counter(&t, e->next_counter);
        if (mc2_job_sign(G.sec[party], (const char *)t.data, t.len, sig, &err) ||
            mc2_buf_put_lv(req, t.data, t.len, &err) || mc2_buf_append(req, sig, 64, &err))
            die("submit", &err);
        mc2_buf_free(&t);
    } else if ((flags & 1) && type == EAPI_APPROVE) {
        uint8_t idb[8] = {0};
        memcpy(idb, p, n < 8 ? n : 8);
        uint64_t id = mc2_le64_get(idb);
        const char *text = "";
        size_t tl = 0;
        for (size_t i = 0; i < e->njobs; i++)
            if (e->jobs[i]->id == id) text = e->jobs[i]->text, tl = e->jobs[i]->text_len;
        if (mc2_job_sign(G.sec[party], text, tl, sig, &err) || mc2_buf_put_u64(req, id, &err) ||
            mc2_buf_append(req, sig, 64, &err))
            die("approve", &err);
    } else if ((flags & 1) && type == EAPI_GRANT_OBJECT) {
        uint8_t head[40] = {0};
        memcpy(head, p, n < 40 ? n : 40);
        uint64_t id = mc2_le64_get(head);
        uint8_t h[32] = {0};
        const char *name = "results/job-1-00-model.mc2m";
        for (size_t i = 0; i < e->njobs; i++)
            if (e->jobs[i]->id == id) {
                memcpy(h, e->jobs[i]->text_sha256, 32);
                const char *m = mc2_job_param(&e->jobs[i]->job, "model");
                if (m && *m && strlen(m) <= MC2_OBJECT_NAME_MAX) name = m;
            }
        if (mc2_object_grant_sign(G.sec[party], h, name, head + 8, sig, &err) ||
            mc2_buf_put_u64(req, id, &err) || mc2_buf_put_lv(req, name, strlen(name), &err) ||
            mc2_buf_append(req, head + 8, 32, &err) || mc2_buf_append(req, sig, 64, &err))
            die("grant object", &err);
    } else if (mc2_buf_append(req, p, n, &err)) {
        die("request", &err);
    }
}

static void api_step(enclave *e, int party, uint8_t type, uint8_t flags, const uint8_t *p, size_t n)
{
    mc2_buf req = {.secret = 1}, out = {.secret = 1};
    build_request(e, party, type, flags, p, n, &req);
    enc_session s = {.used = true, .sid = 0, .established = true, .party = party};
    mc2_err aerr;
    mc2_err_clear(&aerr);
    int rc = enc_api(e, &s, type, req.data, req.len, &out, &aerr);
    if (rc == 0) {
        /* The reply is one frame; a result key only for a recipient of a job that ran. */
        if (out.len < MC2_FRAME_HDR || mc2_le32_get(out.data) != out.len - MC2_FRAME_HDR ||
            mc2_le16_get(out.data + 4) != EAPI_OK)
            die("malformed enclave API reply", NULL);
        if (type == EAPI_RESULT_KEY) {
            uint64_t id = mc2_le64_get(req.data);
            const enc_job *j = NULL;
            for (size_t i = 0; i < e->njobs; i++)
                if (e->jobs[i]->id == id) j = e->jobs[i];
            bool rcpt = false, mine = false;
            for (size_t i = 0; j && i < j->job.nrecipients; i++)
                rcpt |= strcmp(j->job.recipients[i], e->policy->parties[party].name) == 0;
            for (size_t i = 0; j && i < j->nresults; i++) mine |= j->results[i].party == party;
            if (!j || !(rcpt || mine) || j->state != JOB_DONE)
                die("result key released wrongly", NULL);
        }
    } else {
        scan((const uint8_t *)aerr.msg, strlen(aerr.msg), "an enclave API error");
        if (getenv("MC2_FUZZ_VERBOSE")) fprintf(stderr, "api %u: %s\n", type, aerr.msg);
    }
    mc2_buf_free(&req);
    mc2_buf_free(&out);
    enc_jobs_advance(e);
}

/* A job that ran had every input owner's approval and key. */
static void check_jobs(const enclave *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        const enc_job *j = e->jobs[i];
        if (j->state == JOB_WAITING) continue;
        for (size_t k = 0; k < j->job.ninputs; k++) {
            const mc2_party *p = mc2_policy_party(e->policy, j->job.inputs[k].owner);
            if (!p) die("a job ran with an input owner outside the policy", NULL);
            size_t pi = (size_t)(p - e->policy->parties);
            if (!j->approved[pi] || !e->has_key[pi]) die("a job ran unapproved", NULL);
        }
        if (j->model_owner >= 0 && (!j->approved[j->model_owner] || !j->model_key_granted))
            die("a job ran without its model owner's approval and model key", NULL);
    }
}

/* Lists what the enclave sent to the host (MC2_FUZZ_VERBOSE). */
static void dump_output(void)
{
    mc2_frame f = {0};
    mc2_err err;
    long used;
    for (size_t off = 0; (used = mc2_frame_parse(G.out.data + off, G.out.len - off,
                                                 MC2_FRAME_MAX + 64, &f, &err)) > 0;
         off += (size_t)used) {
        bool text = f.type == EIF_JOB || f.type == EIF_FATAL;
        fprintf(stderr, "to host: type %u channel %u, %zu bytes%s%.*s\n", f.type, f.channel,
                f.payload.len, text ? ": " : "", text ? (int)f.payload.len : 0,
                (const char *)f.payload.data);
    }
    mc2_frame_free(&f);
}

/* Applies an INIT payload to a scratch enclave with the real enclave's measurement, as
 * entry/main.c's init() does (enc_init), and tears it down. */
static void run_init(const enclave *live, const uint8_t *p, size_t n)
{
    mc2_err err;
    enclave *x = mc2_calloc(1, sizeof *x);
    if (!x) return;
    memcpy(x->measurement, live->measurement, sizeof x->measurement);
    (void)enc_init(x, p, n, &err);
    if (x->att) x->att->fini(x);
    mc2_policy_free(x->policy);
    mc2_wipe(x, sizeof *x);
    mc2_free(x);
}

/* Sends n bytes of plaintext (none: just flush) from the client c over session
 * SESSION_SID and feeds the enclave's answer back to c. Returns -1 if the enclave stopped. */
static int tls_round(enclave *e, mc2_tls *c, const uint8_t *p, size_t n)
{
    mc2_err err;
    mc2_buf ct = {0}, pt = {.secret = 1};
    int rc = 0, closed;
    if (n && mc2_tls_write(c, p, n, &err)) goto out;
    if (mc2_tls_drain(c, &ct, &err)) die("drain", &err);
    if (ct.len && host_frame(e, EIF_DATA, SESSION_SID, ct.data, ct.len)) {
        rc = -1;
        goto out;
    }
    sync_host(e);
    mc2_buf_reset(&ct);
    pthread_mutex_lock(&G.mu);
    mc2_buf tmp = ct;
    ct = G.tls_in;
    G.tls_in = tmp;
    pthread_mutex_unlock(&G.mu);
    if (ct.len && mc2_tls_feed(c, ct.data, ct.len, &err) == 0)
        (void)mc2_tls_read(c, &pt, &closed, &err);
out:
    mc2_buf_free(&ct);
    mc2_buf_free(&pt);
    return rc;
}

/* Mode 3: a party's real TLS session, then steps on it. */
static void run_session(enclave *e, const uint8_t *p, const uint8_t *end)
{
    mc2_err err;
    if (p >= end) return;
    int party = *p++ % NPARTIES;
    mc2_tls *c = mc2_tls_new(G.cctx[party], 0, &err);
    if (!c) die("client TLS", &err);
    uint8_t nonce[32];
    memset(nonce, 0x33, sizeof nonce);
    if (host_frame(e, EIF_OPEN, SESSION_SID, nonce, sizeof nonce)) goto out;
    for (int i = 0; i < 6; i++) {
        int h = mc2_tls_handshake(c, &err);
        if (h < 0 || tls_round(e, c, NULL, 0)) goto out;
        if (h == 1) break;
    }
    for (int step = 0; step < MAX_STEPS && end - p >= 3; step++) {
        uint8_t kind = p[0];
        size_t n = mc2_le16_get(p + 1);
        p += 3;
        if (n > (size_t)(end - p)) n = (size_t)(end - p);
        int r = 0;
        if (kind % 3 == 0) {
            r = tls_round(e, c, p, n);
        } else if (kind % 3 == 1) {
            if (n >= 6) r = host_frame(e, mc2_le16_get(p), mc2_le32_get(p + 2), p + 6, n - 6);
        } else if (n >= 2) {
            mc2_buf req = {.secret = 1}, fr = {.secret = 1};
            build_request(e, party, p[0], p[1], p + 2, n - 2, &req);
            if (mc2_frame_put(&fr, p[0], 0, req.data, req.len, &err)) die("frame", &err);
            r = tls_round(e, c, fr.data, fr.len);
            mc2_buf_free(&req);
            mc2_buf_free(&fr);
        }
        p += n;
        check_jobs(e);
        if (r) break;
    }
out:
    mc2_tls_free(c);
}

static void run(const uint8_t *data, size_t size)
{
    enclave *e = &G.e;
    if (size >= 1 && data[0] % 4 == 2) {
        run_init(e, data + 1, size - 1);
        return;
    }
    if (size < 5) return;
    int mode = data[0] % 4;
    size_t qlen = mc2_le32_get(data + 1);
    data += 5;
    size -= 5;
    if (qlen > size) qlen = size;
    if (qlen > MAX_QUEUE) qlen = MAX_QUEUE;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair", NULL);
    int fl = fcntl(sv[1], F_GETFL);
    if (fl < 0 || fcntl(sv[1], F_SETFL, fl | O_NONBLOCK) != 0) die("fcntl", NULL);
    pump pm = {sv[1], data, qlen};
    pthread_t th;
    mc2_buf_reset(&G.out);
    if (pthread_create(&th, NULL, pump_run, &pm) != 0) die("pthread_create", NULL);
    e->fd = sv[0];
    const uint8_t *p = data + qlen, *end = data + size;
    if (mode == 3) run_session(e, p, end);
    for (int step = 0; mode != 3 && step < MAX_STEPS && p < end; step++) {
        if (mode == 0) {
            if (end - p < 8) break;
            uint16_t type = mc2_le16_get(p);
            uint32_t ch = mc2_le32_get(p + 2);
            size_t n = mc2_le16_get(p + 6);
            p += 8;
            if (n > (size_t)(end - p)) n = (size_t)(end - p);
            int r = host_frame(e, type, ch, p, n);
            p += n;
            if (r) break; /* fatal: the real enclave stops here */
        } else {
            if (end - p < 5) break;
            int party = p[0] % NPARTIES;
            uint8_t type = p[1], flags = p[2];
            size_t n = mc2_le16_get(p + 3);
            p += 5;
            if (n > (size_t)(end - p)) n = (size_t)(end - p);
            if (type == 255) {
                if (n >= 6 && host_frame(e, mc2_le16_get(p), mc2_le32_get(p + 2), p + 6, n - 6))
                    break;
            } else {
                api_step(e, party, type, flags, p, n);
                if (drain_pending(e)) break;
            }
            p += n;
            check_jobs(e);
        }
    }
    close(e->fd); /* the pump sees the end of stream */
    e->fd = -1;
    pthread_join(th, NULL);
    close(sv[1]);
    mc2_buf_reset(&G.tls_in);
    scan(G.out.data, G.out.len, "the host");
    if (getenv("MC2_FUZZ_VERBOSE")) dump_output();
    reset();
}

/* ---- seed corpus ------------------------------------------------------------------------- */

static void put_u16(mc2_buf *b, uint16_t v)
{
    mc2_err err;
    if (mc2_buf_put_u16(b, v, &err)) die("seed", &err);
}

static void put_bytes(mc2_buf *b, const void *p, size_t n)
{
    mc2_err err;
    if (mc2_buf_append(b, p, n, &err)) die("seed", &err);
}

/* Host-mode step. */
static void h_step(mc2_buf *b, uint16_t type, uint32_t ch, const void *p, size_t n)
{
    mc2_err err;
    put_u16(b, type);
    if (mc2_buf_put_u32(b, ch, &err)) die("seed", &err);
    put_u16(b, (uint16_t)n);
    put_bytes(b, p, n);
}

/* API-mode step. */
static void a_step(mc2_buf *b, int party, uint8_t type, uint8_t flags, const void *p, size_t n)
{
    uint8_t h[3] = {(uint8_t)party, type, flags};
    put_bytes(b, h, 3);
    put_u16(b, (uint16_t)n);
    put_bytes(b, p, n);
}

/* Session-mode step. */
static void s_step(mc2_buf *b, uint8_t kind, const void *p, size_t n)
{
    put_bytes(b, &kind, 1);
    put_u16(b, (uint16_t)n);
    put_bytes(b, p, n);
}

/* Session-mode API step: kind 2, payload type | flags | body. */
static void sa_step(mc2_buf *b, uint8_t type, uint8_t flags, const void *p, size_t n)
{
    mc2_buf t = {0};
    uint8_t h[2] = {type, flags};
    put_bytes(&t, h, 2);
    put_bytes(&t, p, n);
    s_step(b, 2, t.data, t.len);
    mc2_buf_free(&t);
}

/* A storage reply frame for the queue. */
static void q_reply(mc2_buf *q, uint32_t req, uint32_t status, const void *p, size_t n)
{
    mc2_err err;
    mc2_buf b = {0};
    if (mc2_buf_put_u32(&b, status, &err) || mc2_buf_append(&b, p, n, &err) ||
        mc2_frame_put(q, EIF_STORE_REPLY, req, b.data, b.len, &err))
        die("seed", &err);
    mc2_buf_free(&b);
}

static void write_seed(const char *dir, const char *name, int mode, const mc2_buf *q,
                       const mc2_buf *steps)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, NULL);
    uint8_t h[5] = {(uint8_t)mode};
    mc2_le32_put(h + 1, (uint32_t)q->len);
    if (fwrite(h, 1, 5, f) != 5 || (q->len && fwrite(q->data, 1, q->len, f) != q->len) ||
        (steps->len && fwrite(steps->data, 1, steps->len, f) != steps->len) || fclose(f) != 0)
        die(path, NULL);
}

static int pidx(const char *name)
{
    const mc2_party *p = mc2_policy_party(G.e.policy, name);
    if (!p) die(name, NULL);
    return (int)(p - G.e.policy->parties);
}

/* A small table of the party's, sealed under its seed data key; *id gets its table id. */
static void make_table(int party, size_t rows, mc2_buf *out, uint8_t id[16])
{
    static const char S[] = "table: t\ncolumns:\n"
                            "  - {name: note, type: VARCHAR(64), nullable: false}\n"
                            "  - {name: amount, type: INT64, nullable: false}\n";
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_parse("seed", S, sizeof S - 1, &s, &err)) die("schema", &err);
    mc2_batch *b = mc2_batch_new(s, rows, &err);
    if (!b) die("batch", &err);
    for (size_t i = 0; i < rows; i++) {
        size_t len = strlen(CANARY);
        if (mc2_batch_reserve_chars(b, 0, len, &err)) die("batch", &err);
        mc2_col *c = &b->cols[0];
        memcpy(c->data + c->off[b->nrows], CANARY, len);
        c->off[b->nrows + 1] = c->off[b->nrows] + (uint32_t)len;
        b->cols[1].v.i64[b->nrows] = 987654321 + (int64_t)i;
        b->nrows++;
    }
    if (mc2_table_seal_batch(b, G.data_key[party], out, &err)) die("seal", &err);
    memcpy(id, out->data + 8, 16);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

static char *job_text(uint64_t counter, const uint8_t ida[16], const uint8_t idb[16],
                      const char *recipient, size_t *len)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    memcpy(j.policy_hash, G.e.policy->hash, 32);
    memcpy(j.instance, G.e.instance, 32);
    j.counter = counter;
    strcpy(j.kind, "rowcount");
    j.ninputs = idb ? 2 : 1;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, "accounts");
    memcpy(j.inputs[0].table_id, ida, 16);
    if (idb) {
        strcpy(j.inputs[1].owner, "bank-b");
        strcpy(j.inputs[1].table, "loans.2024");
        memcpy(j.inputs[1].table_id, idb, 16);
    }
    j.nrecipients = 1;
    strcpy(j.recipients[0], recipient);
    mc2_err err;
    char *t = NULL;
    if (mc2_job_format(&j, &t, len, &err)) die("job", &err);
    mc2_job_free(&j);
    return t;
}

/* A party's table of one INT64 column `amount` (rows 0..rows-1), sealed under its seed key. */
static void make_num_table(int party, size_t rows, mc2_buf *out, uint8_t id[16])
{
    static const char S[] =
        "table: n\ncolumns:\n  - {name: amount, type: INT64, nullable: false}\n";
    mc2_err err;
    mc2_schema *s = NULL;
    if (mc2_schema_parse("seed", S, sizeof S - 1, &s, &err)) die("schema", &err);
    mc2_batch *b = mc2_batch_new(s, rows, &err);
    if (!b) die("batch", &err);
    for (size_t i = 0; i < rows; i++) b->cols[0].v.i64[b->nrows++] = (int64_t)i;
    if (mc2_table_seal_batch(b, G.data_key[party], out, &err)) die("seal", &err);
    memcpy(id, out->data + 8, 16);
    mc2_batch_free(b);
    mc2_schema_free(s);
}

/* A two-tree model over one feature, sealed as object `name` under G.model_key. */
static void make_model(const char *name, mc2_buf *out)
{
    mc2_err err;
    float x[16], y[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i, y[i] = (float)(i % 3 == 0);
    mc2_gbdt_params p;
    mc2_gbdt_params_default(&p);
    mc2_gbdt_data d = {x, y, NULL, 16, 1};
    mc2_gbdt_model *m = NULL;
    mc2_buf plain = {.secret = 1};
    if (mc2_gbdt_params_set(&p, "num_round", "2", &err) ||
        mc2_gbdt_params_set(&p, "nthread", "1", &err) ||
        mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err) ||
        mc2_gbdt_model_save(m, &plain, &err) ||
        mc2_blob_seal(G.model_key, MC2_BLOB_CTX_GBDT_MODEL, name, plain.data, plain.len, out, &err))
        die("model", &err);
    mc2_gbdt_model_free(m);
    mc2_buf_free(&plain);
}

/* A predict job of bank-b over its table `n` with the sealed model `name`, the auditor as
 * model owner. */
static char *predict_text(uint64_t counter, const uint8_t id[16], const char *name,
                          const mc2_buf *sealed, size_t *len)
{
    mc2_job j;
    mc2_err err;
    uint8_t h[32];
    char hex[65];
    memset(&j, 0, sizeof j);
    memcpy(j.policy_hash, G.e.policy->hash, 32);
    memcpy(j.instance, G.e.instance, 32);
    j.counter = counter;
    strcpy(j.kind, "predict");
    j.ninputs = 1;
    strcpy(j.inputs[0].owner, "bank-b");
    strcpy(j.inputs[0].table, "n");
    memcpy(j.inputs[0].table_id, id, 16);
    j.nrecipients = 1;
    strcpy(j.recipients[0], "auditor");
    char *t = NULL;
    if (mc2_sha256(sealed->data, sealed->len, h, &err)) die("sha", &err);
    mc2_hex_encode(h, 32, hex);
    if (mc2_job_add_param(&j, "model", name, &err) ||
        mc2_job_add_param(&j, "model_sha256", hex, &err) ||
        mc2_job_add_param(&j, "model_owner", "auditor", &err) || mc2_job_format(&j, &t, len, &err))
        die("job", &err);
    mc2_job_free(&j);
    return t;
}

/* A real ClientHello from a party (for the host-mode seeds). */
static void client_hello(mc2_buf *out)
{
    mc2_err err;
    int p = pidx("bank-a");
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, G.sec[p], 32);
    BIO *b = BIO_new_mem_buf(G.pem[1], -1);
    X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    SSL_CTX *ctx = key && cert ? mc2_tls_ctx(0, key, cert, &err) : NULL;
    mc2_tls *t = ctx ? mc2_tls_new(ctx, 0, &err) : NULL;
    if (!t || mc2_tls_handshake(t, &err) < 0 || mc2_tls_drain(t, out, &err)) die("hello", &err);
    mc2_tls_free(t);
    SSL_CTX_free(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void write_seeds(const char *dir)
{
    enclave *e = &G.e;
    mc2_err err;
    mc2_buf q = {0}, s = {0}, ch = {0};
    uint8_t nonce[32];
    memset(nonce, 0x33, sizeof nonce);
    int A = pidx("bank-a"), B = pidx("bank-b"), R = pidx("auditor");

    /* Host mode: a session's life, a duplicate and a malformed OPEN, strays. */
    client_hello(&ch);
    h_step(&s, EIF_OPEN, 1, nonce, 32);
    h_step(&s, EIF_DATA, 1, ch.data, ch.len);
    h_step(&s, EIF_OPEN, 1, nonce, 32);
    h_step(&s, EIF_OPEN, 2, nonce, 31);
    h_step(&s, EIF_DATA, 9, "xyz", 3);
    h_step(&s, EIF_STORE_REPLY, 4, "\0\0\0\0", 4);
    h_step(&s, 77, 0, NULL, 0);
    h_step(&s, EIF_CLOSE, 1, NULL, 0);
    h_step(&s, EIF_DATA, 1, ch.data, ch.len);
    write_seed(dir, "host_session", 0, &q, &s);
    mc2_buf_reset(&s);
    h_step(&s, EIF_OPEN, 5, nonce, 32);
    h_step(&s, EIF_DATA, 5, "\x16\x03\x01\x00\x05hello", 10);
    write_seed(dir, "host_garbage_tls", 0, &q, &s);
    mc2_buf_reset(&s);

    /* API mode: the whole job life cycle with the host serving both tables. */
    mc2_buf ta = {0}, tb = {0};
    uint8_t ida[16], idb[16];
    make_table(A, 3, &ta, ida);
    make_table(B, 5, &tb, idb);
    uint8_t sz[8];
    mc2_le64_put(sz, ta.len);
    q_reply(&q, 1, 0, sz, 8);
    q_reply(&q, 2, 0, ta.data, ta.len);
    mc2_le64_put(sz, tb.len);
    q_reply(&q, 3, 0, sz, 8);
    q_reply(&q, 4, 0, tb.data, tb.len);
    q_reply(&q, 5, 0, NULL, 0);
    size_t tl;
    char *text = job_text(1, ida, idb, "auditor", &tl);
    uint8_t sig[64], id8[8];
    mc2_le64_put(id8, 1);

    /* ...with signatures in the input (flags 0). */
    mc2_buf g = {0}, sub = {0}, ap = {0};
    for (int k = 0; k < 2; k++) {
        int p = k ? B : A;
        mc2_buf_reset(&g);
        if (mc2_grant_sign(G.sec[p], e->policy->hash, e->instance, G.data_key[p], sig, &err))
            die("seed", &err);
        put_bytes(&g, G.data_key[p], 32);
        put_bytes(&g, sig, 64);
        a_step(&s, p, EAPI_GRANT, 0, g.data, g.len);
    }
    a_step(&s, A, EAPI_HELLO, 0, NULL, 0);
    if (mc2_job_sign(G.sec[A], text, tl, sig, &err) || mc2_buf_put_lv(&sub, text, tl, &err))
        die("seed", &err);
    put_bytes(&sub, sig, 64);
    a_step(&s, A, EAPI_SUBMIT, 0, sub.data, sub.len);
    a_step(&s, R, EAPI_RESULT_KEY, 0, id8, 8);
    if (mc2_job_sign(G.sec[B], text, tl, sig, &err)) die("seed", &err);
    put_bytes(&ap, id8, 8);
    put_bytes(&ap, sig, 64);
    a_step(&s, B, EAPI_APPROVE, 0, ap.data, ap.len);
    a_step(&s, R, EAPI_JOB, 0, id8, 8);
    a_step(&s, R, EAPI_RESULT_KEY, 0, id8, 8);
    a_step(&s, A, EAPI_RESULT_KEY, 0, id8, 8);
    write_seed(dir, "api_job_signed", 1, &q, &s);
    mc2_buf_reset(&s);

    /* ...with the harness signing (flags 1, and 3 to fix the counter). */
    a_step(&s, A, EAPI_GRANT, 1, G.data_key[A], 32);
    a_step(&s, B, EAPI_GRANT, 1, G.data_key[B], 32);
    a_step(&s, A, EAPI_SUBMIT, 3, text, tl);
    a_step(&s, B, EAPI_APPROVE, 1, id8, 8);
    a_step(&s, R, EAPI_JOB, 0, id8, 8);
    a_step(&s, R, EAPI_RESULT_KEY, 0, id8, 8);
    a_step(&s, B, EAPI_SUBMIT, 3, text, tl); /* a second job (counter 2): reads again */
    write_seed(dir, "api_job_harness", 1, &q, &s);
    mc2_buf_reset(&s);

    /* ...a hostile host: a stray reply, queued session frames and a short read. */
    mc2_buf q2 = {0};
    mc2_le64_put(sz, ta.len);
    q_reply(&q2, 9, 0, sz, 8);
    if (mc2_frame_put(&q2, EIF_OPEN, 7, nonce, 32, &err) ||
        mc2_frame_put(&q2, EIF_DATA, 7, ch.data, ch.len, &err))
        die("seed", &err);
    q_reply(&q2, 1, 0, sz, 8);
    q_reply(&q2, 2, 0, ta.data, ta.len / 2);
    a_step(&s, A, EAPI_GRANT, 1, G.data_key[A], 32);
    size_t tl1;
    char *text1 = job_text(1, ida, NULL, "auditor", &tl1);
    a_step(&s, A, EAPI_SUBMIT, 3, text1, tl1);
    a_step(&s, R, EAPI_JOB, 0, id8, 8);
    write_seed(dir, "api_host_hostile", 1, &q2, &s);
    mc2_buf_reset(&s);

    /* ...a tampered table (a flipped ciphertext byte) and a failed put. */
    mc2_buf_reset(&q2);
    mc2_le64_put(sz, ta.len);
    q_reply(&q2, 1, 0, sz, 8);
    ta.data[ta.len - 20] ^= 1;
    q_reply(&q2, 2, 0, ta.data, ta.len);
    a_step(&s, A, EAPI_GRANT, 1, G.data_key[A], 32);
    a_step(&s, A, EAPI_SUBMIT, 3, text1, tl1);
    a_step(&s, A, EAPI_JOB, 0, id8, 8);
    write_seed(dir, "api_table_tampered", 1, &q2, &s);
    mc2_buf_reset(&s);

    /* ...refusals: bad grant, stale counter, non-owner approval, non-recipient, junk. */
    mc2_buf_reset(&q);
    uint8_t junk[96];
    memset(junk, 0x5a, sizeof junk);
    a_step(&s, A, EAPI_GRANT, 0, junk, sizeof junk);
    a_step(&s, R, EAPI_SUBMIT, 1, text, tl);
    a_step(&s, A, EAPI_SUBMIT, 1, text, tl);
    a_step(&s, A, EAPI_SUBMIT, 1, text, tl);
    a_step(&s, R, EAPI_APPROVE, 1, id8, 8);
    a_step(&s, A, EAPI_RESULT_KEY, 0, id8, 8);
    a_step(&s, A, EAPI_APPROVE, 0, id8, 4);
    a_step(&s, A, 42, 0, "?", 1);
    uint8_t hf[6 + 32];
    mc2_le16_put(hf, EIF_OPEN);
    mc2_le32_put(hf + 2, 3);
    memcpy(hf + 6, nonce, 32);
    a_step(&s, A, 255, 0, hf, sizeof hf);
    write_seed(dir, "api_refusals", 1, &q, &s);

    /* ...a predict job of bank-b with the auditor's model: bank-a's grant for it is refused,
     * the auditor grants the key for this job and approves, the host serves the model and
     * the table; then another party's job cannot use that grant. */
    {
        static const char mname[] = "results/job-1-0011223344556677-model.mc2m";
        mc2_buf model = {0}, tn = {0}, q3 = {0};
        uint8_t idn[16], gk[40];
        make_model(mname, &model);
        make_num_table(B, 9, &tn, idn);
        size_t tlp;
        char *tp = predict_text(1, idn, mname, &model, &tlp);
        mc2_le64_put(sz, model.len);
        q_reply(&q3, 1, 0, sz, 8);
        q_reply(&q3, 2, 0, model.data, model.len);
        mc2_le64_put(sz, tn.len);
        q_reply(&q3, 3, 0, sz, 8);
        q_reply(&q3, 4, 0, tn.data, tn.len);
        q_reply(&q3, 5, 0, NULL, 0);
        memcpy(gk, id8, 8);
        memcpy(gk + 8, G.model_key, 32);
        mc2_buf_reset(&s);
        a_step(&s, B, EAPI_GRANT, 1, G.data_key[B], 32);
        a_step(&s, B, EAPI_SUBMIT, 3, tp, tlp);
        a_step(&s, A, EAPI_GRANT_OBJECT, 1, gk, sizeof gk);
        a_step(&s, R, EAPI_JOB, 0, id8, 8);
        a_step(&s, R, EAPI_GRANT_OBJECT, 1, gk, sizeof gk);
        a_step(&s, R, EAPI_APPROVE, 1, id8, 8);
        a_step(&s, B, EAPI_JOB, 0, id8, 8);
        a_step(&s, A, EAPI_JOB, 0, id8, 8);
        a_step(&s, B, EAPI_RESULT_KEY, 0, id8, 8);
        a_step(&s, B, EAPI_SUBMIT, 3, tp, tlp); /* job 2: the grant for job 1 does not apply */
        uint8_t id2[8];
        mc2_le64_put(id2, 2);
        a_step(&s, R, EAPI_APPROVE, 1, id2, 8);
        a_step(&s, B, EAPI_JOB, 0, id2, 8);
        write_seed(dir, "api_predict_model_owner", 1, &q3, &s);
        mc2_buf_reset(&s);
        mc2_free(tp);
        mc2_buf_free(&model);
        mc2_buf_free(&tn);
        mc2_buf_free(&q3);
    }

    /* Session mode: a real TLS session of bank-a running a job, with a partial inner frame,
     * then the host closing it; bad inner frames of other parties. */
    mc2_buf_reset(&s);
    mc2_buf_reset(&q2);
    mc2_le64_put(sz, tb.len);
    q_reply(&q2, 1, 0, sz, 8);
    q_reply(&q2, 2, 0, tb.data, tb.len);
    q_reply(&q2, 3, 0, NULL, 0);
    size_t tlb;
    char *textb = job_text(1, idb, NULL, "auditor", &tlb);
    memcpy(textb + (strstr(textb, "input bank-a accounts") - textb), "input bank-b loans.20", 21);
    uint8_t who = (uint8_t)B;
    put_bytes(&s, &who, 1);
    sa_step(&s, EAPI_HELLO, 0, NULL, 0);
    sa_step(&s, EAPI_GRANT, 1, G.data_key[B], 32);
    sa_step(&s, EAPI_SUBMIT, 3, textb, tlb);
    sa_step(&s, EAPI_JOB, 0, id8, 8);
    uint8_t part[MC2_FRAME_HDR];
    mc2_le32_put(part, 8);
    mc2_le16_put(part + 4, EAPI_JOB);
    mc2_le16_put(part + 6, 1);
    mc2_le32_put(part + 8, 5);
    s_step(&s, 0, part, 7);
    s_step(&s, 0, part + 7, 5);
    s_step(&s, 0, id8, 8);
    uint8_t hc[6];
    mc2_le16_put(hc, EIF_CLOSE);
    mc2_le32_put(hc + 2, 1);
    s_step(&s, 1, hc, sizeof hc);
    s_step(&s, 0, id8, 8);
    write_seed(dir, "session_job", 3, &q2, &s);
    mc2_buf_reset(&s);
    mc2_buf_reset(&q);
    who = (uint8_t)R;
    put_bytes(&s, &who, 1);
    sa_step(&s, EAPI_RESULT_KEY, 0, id8, 8);
    mc2_le16_put(part + 6, 2); /* wrong version: the session ends */
    s_step(&s, 0, part, sizeof part);
    write_seed(dir, "session_bad_version", 3, &q, &s);
    mc2_buf_reset(&s);
    who = (uint8_t)A;
    put_bytes(&s, &who, 1);
    mc2_le16_put(part + 6, 1);
    mc2_le32_put(part, MC2_FRAME_MAX + 1); /* too long: the session ends */
    s_step(&s, 0, part, sizeof part);
    write_seed(dir, "session_oversized", 3, &q, &s);
    mc2_free(textb);

    /* INIT payloads: valid, and with a policy that does not parse. */
    for (int k = 0; k < 2; k++) {
        mc2_buf in = {0};
        uint8_t ssb[MC2_SIGSTRUCT_LEN];
        mc2_sigstruct_encode(&e->sigstruct, ssb);
        uint8_t m = 2;
        put_bytes(&in, &m, 1);
        if (mc2_buf_put_u32(&in, 256, &err) ||
            mc2_buf_put_lv(&in, G.policy_yaml.data, k ? G.policy_yaml.len / 2 : G.policy_yaml.len,
                           &err) ||
            mc2_buf_put_lv(&in, ssb, sizeof ssb, &err) ||
            mc2_buf_put_lv(&in, e->att_secret, 32, &err) || mc2_buf_put_u32(&in, 900, &err) ||
            mc2_buf_put_lv(&in, "sim", 3, &err))
            die("seed", &err);
        char path[4096];
        snprintf(path, sizeof path, "%s/init_%s", dir, k ? "truncated_policy" : "valid");
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(in.data, 1, in.len, f) != in.len || fclose(f) != 0) die(path, NULL);
        mc2_buf_free(&in);
    }

    mc2_free(text);
    mc2_free(text1);
    mc2_buf_free(&q);
    mc2_buf_free(&q2);
    mc2_buf_free(&s);
    mc2_buf_free(&ch);
    mc2_buf_free(&ta);
    mc2_buf_free(&tb);
    mc2_buf_free(&g);
    mc2_buf_free(&sub);
    mc2_buf_free(&ap);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setup();
    const char *dir = getenv("MC2_FUZZ_SEED_DIR");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    return 0;
}
