/* persist.c - TRUSTED: the durable state (state.h) kept across restarts through the host,
 * with the host's monotonic counter against rollback (docs/enclave-interface.md §4,
 * docs/security.md "Sealed state").
 *
 * A backend whose attester offers no sealing key (e->att->seal_key NULL): nothing is restored
 * or saved, the enclave starts fresh every time, and replies go out at once.
 *
 * Start-up (main thread, after INIT and before READY; the host serves storage meanwhile):
 *   COUNTER{read} -> c, then STORE_SIZE / STORE_READ "enclave/state"
 *   discard (INIT flag)        fresh instance
 *   no state, c == 0           fresh instance (first start)
 *   no state, c > 0            refuse: the state was deleted
 *   another build or policy    fresh instance, logged (the state cannot open here; an
 *                              upgrade or a new policy must not need a flag)
 *   state n: n < c             refuse: rolled back
 *            n > c + 1         refuse: the host's counter went back
 *            n == c or c + 1   restore (n == c + 1: stored, not yet counted: count it)
 *   then save once (generation c' + 1, as below), so the restart's own changes are durable.
 *
 * Saving (the sealer thread, woken when e->gen > e->saved_gen; never the main thread, which
 * must keep reading the host's replies):
 *   encode under mu (g = e->gen), seal with n = c + 1, STORE_PUT "enclave/state" (last = 1:
 *   committed atomically), COUNTER{increment} -> must be c + 1 (else the host lies: fatal),
 *   then c = n, e->saved_gen = g, and the replies held for generations <= g are sent.
 *
 * Acknowledge after commit: while e->gen > e->saved_gen, a session's output (enc_out) is held
 * in s->held, in order, until the state of generation s->hold_gen is committed; so no client
 * learns of a change (or of anything decided after it) that a crash could still undo. */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "enclave/state.h"
#include "wire/proto.h"

#define STORE_NOTFOUND 3u /* EIF_STORE_SIZE: no such object */

static const char WAY_OUT[] =
    "; refusing to start. To start with an empty enclave state instead (every party must "
    "grant its key again, pending jobs are lost): mc2d --discard-sealed-state (mc2 start "
    "--discard-sealed-state)";

static void logw(const char *msg, const char *detail)
{
    mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "%s: %s", msg, detail);
}

/* One storage request whose status the caller interprets (0 ok). */
static int call_status(enclave *e, uint16_t type, const mc2_buf *req, uint32_t *status,
                       mc2_buf *body, mc2_err *err)
{
    enc_req *r;
    if (enc_store_begin(e, type, req, &r, err)) return -1;
    return enc_store_end_status(e, r, status, body, err);
}

/* The host's counter: read, or incremented (the new value). */
static int counter(enclave *e, bool increment, uint64_t *v, mc2_err *err)
{
    mc2_buf req = {0}, body = {0};
    uint32_t st = 1;
    int rc = mc2_buf_put_u8(&req, increment ? 1 : 0, err) ||
                     call_status(e, EIF_COUNTER, &req, &st, &body, err)
                 ? -1
                 : 0;
    if (rc == 0 && (st != 0 || body.len != 8))
        rc = mc2_err_set(err, MC2_E_IO, "the host could not %s its monotonic counter",
                         increment ? "increment" : "read");
    if (rc == 0) *v = mc2_le64_get(body.data);
    mc2_buf_free(&req);
    mc2_buf_free(&body);
    return rc;
}

/* Seals plain as generation e->seal_c + 1, stores it, counts it. A counter that does not
 * answer c + 1 is fatal (MC2_E_AUTH): the host lies about it. */
static int save(enclave *e, const mc2_buf *plain, mc2_err *err)
{
    uint64_t n = e->seal_c + 1, v = 0;
    mc2_buf blob = {0};
    int rc = enc_state_seal(e, n, plain->data, plain->len, &blob, err) ||
                     enc_store_put(e, ENC_STATE_OBJECT, blob.data, blob.len, true, err) ||
                     counter(e, true, &v, err)
                 ? -1
                 : 0;
    mc2_buf_free(&blob);
    if (rc == 0 && v != n)
        rc = mc2_err_set(err, MC2_E_AUTH,
                         "the host's monotonic counter answered %llu to an increment from %llu",
                         (unsigned long long)v, (unsigned long long)(n - 1));
    if (rc == 0) e->seal_c = n;
    return rc;
}

static int save_now(enclave *e, mc2_err *err)
{
    mc2_buf plain = {.secret = 1};
    int rc = enc_state_encode(e, &plain, err) || save(e, &plain, err) ? -1 : 0;
    mc2_buf_free(&plain);
    return rc;
}

static int fresh(enclave *e, mc2_err *err)
{
    e->next_counter = 1;
    return mc2_random(e->instance, sizeof e->instance, err);
}

/* Reads, opens and checks the stored state against counter c; restores it. */
static int restore_blob(enclave *e, uint64_t c, mc2_err *err)
{
    mc2_buf blob = {0}, plain = {.secret = 1};
    uint64_t n = 0, v = 0;
    int rc = -1;
    const char *why;
    if (enc_store_read(e, ENC_STATE_OBJECT, &blob, err)) goto out;
    if (enc_state_foreign(e, blob.data, blob.len, &why)) { /* it cannot open here anyway */
        logw("the sealed state cannot be used here; starting with an empty state (parties "
             "grant their keys again)",
             why);
        rc = fresh(e, err);
        goto out;
    }
    if (enc_state_open(e, blob.data, blob.len, &plain, &n, err)) goto out;
    if (n < c) {
        mc2_err_set(err, MC2_E_AUTH,
                    "the sealed enclave state was rolled back: it is generation %llu, but the "
                    "host's monotonic counter is at %llu (an older copy was put in place)",
                    (unsigned long long)n, (unsigned long long)c);
        goto out;
    }
    if (n > c + 1) {
        mc2_err_set(err, MC2_E_AUTH,
                    "the host's monotonic counter went back: it is at %llu, but the sealed "
                    "enclave state is generation %llu",
                    (unsigned long long)c, (unsigned long long)n);
        goto out;
    }
    if (enc_state_decode(e, plain.data, plain.len, err)) goto out;
    if (n == c + 1 && (counter(e, true, &v, err) || v != n)) {
        if (v != n) mc2_err_set(err, MC2_E_AUTH, "the host's monotonic counter did not count");
        enc_state_clear(e);
        goto out;
    }
    e->seal_c = n;
    rc = 0;
out:
    mc2_buf_free(&blob);
    mc2_buf_free(&plain);
    return rc;
}

static int restore(enclave *e, bool discard, mc2_err *err)
{
    uint64_t c;
    if (counter(e, false, &c, err)) return -1;
    e->seal_c = c;
    if (discard) {
        logw("sealed state", "discarded on the operator's request (--discard-sealed-state)");
        return fresh(e, err);
    }
    mc2_buf req = {0}, body = {0};
    uint32_t st = 1;
    int rc = mc2_buf_put_lv(&req, ENC_STATE_OBJECT, strlen(ENC_STATE_OBJECT), err) ||
                     call_status(e, EIF_STORE_SIZE, &req, &st, &body, err)
                 ? -1
                 : 0;
    bool missing = rc == 0 && st == STORE_NOTFOUND;
    if (rc == 0 && st != 0 && !missing)
        rc = mc2_err_set(err, MC2_E_IO, "the host could not read the sealed enclave state");
    mc2_buf_free(&req);
    mc2_buf_free(&body);
    if (rc) return -1;
    if (missing && c == 0) return fresh(e, err);
    if (missing)
        return mc2_err_set(err, MC2_E_NOTFOUND,
                           "the sealed enclave state is missing, but the host's monotonic "
                           "counter is at %llu: it was deleted",
                           (unsigned long long)c);
    return restore_blob(e, c, err); /* reads the size again, and checks it */
}

/* Reads one host frame while the start-up restore waits for a reply (e->pump). */
static int startup_pump(enclave *e, mc2_err *err)
{
    mc2_frame f = {0};
    bool delivered;
    int rc = enc_io_read(e, MC2_FRAME_MAX + 64, &f, &delivered, err);
    if (rc == 0 && !delivered && f.type == EIF_STORE_REPLY)
        enc_io_deliver(e, &f);
    else if (rc == 0 && !delivered)
        rc = mc2_err_set(err, MC2_E_INPUT,
                         "the host sent message type %u before the enclave was ready", f.type);
    mc2_frame_free(&f);
    return rc;
}

int enc_seal_key(enclave *e, uint8_t key[32], mc2_err *err)
{
    if (!e->att || !e->att->seal_key)
        return mc2_err_set(err, MC2_E_INPUT, "the %s backend offers no sealing",
                           e->att ? e->att->name : "(none)");
    return e->att->seal_key(e, key, err);
}

int enc_persist_start(enclave *e, bool discard, mc2_err *err)
{
    if (e->worker) { /* one job's worker: it holds nothing that outlives the job */
        e->no_sealing = true;
        return fresh(e, err);
    }
    if (!e->att->seal_key) { /* nothing survives a restart; sessions are answered at once */
        logw("sealed state", "this TEE backend offers no sealing: the enclave starts empty and "
                             "its keys and jobs do not survive a restart");
        e->no_sealing = true;
        return fresh(e, err);
    }
    e->pump = startup_pump;
    int rc = restore(e, discard, err) || save_now(e, err) ? -1 : 0;
    e->pump = NULL;
    e->committed_n = e->seal_c;
    if (rc) {
        enc_state_clear(e);
        size_t l = strlen(err->msg);
        snprintf(err->msg + l, sizeof err->msg - l, "%s", WAY_OUT);
    }
    return rc;
}

void enc_state_changed(enclave *e)
{
    e->gen++;
    if (e->sealer_started) pthread_cond_signal(&e->seal_cv);
}

int enc_out(enclave *e, enc_session *s, const uint8_t *p, size_t n, mc2_err *err)
{
    if (!e->sealer_started || (s->held.len == 0 && e->gen <= e->saved_gen))
        return enc_send(e, EIF_OUT, s->sid, p, n, err);
    if (mc2_buf_append(&s->held, p, n, err)) return -1;
    s->hold_gen = e->gen;
    return 0;
}

/* Sends the held output of every session whose generation is committed (mu held). */
static void release_held(enclave *e)
{
    for (size_t i = 0; i < ENC_MAX_SESSIONS; i++) {
        enc_session *s = &e->sessions[i];
        if (!s->used || !s->held.len || s->hold_gen > e->saved_gen) continue;
        mc2_err err;
        if (enc_send(e, EIF_OUT, s->sid, s->held.data, s->held.len, &err))
            logw("cannot send a held reply", err.msg);
        mc2_buf_reset(&s->held);
    }
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One save of the current state; mu held on entry and exit. */
static void seal_once(enclave *e)
{
    uint64_t g = e->gen;
    mc2_buf plain = {.secret = 1};
    mc2_err err;
    mc2_err_clear(&err);
    int rc = enc_state_encode(e, &plain, &err);
    pthread_mutex_unlock(&e->mu);
    if (rc == 0) rc = save(e, &plain, &err);
    mc2_buf_free(&plain);
    if (rc && err.code == MC2_E_AUTH) { /* the host lies about the counter: fail closed */
        logw("stopping", err.msg);
        if (enc_send(e, EIF_FATAL, 0, err.msg, strlen(err.msg), &err)) {
        }
        pthread_mutex_lock(&e->mu);
        e->seal_broken = true;
        return;
    }
    if (rc) {
        logw("cannot save the sealed state (retrying in 1 s; replies wait)", err.msg);
        sleep_ms(1000);
    }
    pthread_mutex_lock(&e->mu);
    if (rc) return;
    e->saved_gen = g;
    e->committed_n = e->seal_c;
    release_held(e);
}

static void *sealer_main(void *arg)
{
    enclave *e = arg;
    mc2_alloc_exempt_thread(true); /* like the sessions: not under a running job's cap */
    pthread_mutex_lock(&e->mu);
    while (!e->stopping && !e->seal_broken) {
        if (e->gen == e->saved_gen) {
            pthread_cond_wait(&e->seal_cv, &e->mu);
            continue;
        }
        seal_once(e);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int enc_sealer_start(enclave *e, mc2_err *err)
{
    e->saved_gen = e->gen;
    if (e->no_sealing) return 0; /* enc_out sends at once without a sealer */
    if (pthread_create(&e->sealer, NULL, sealer_main, e) != 0)
        return mc2_err_set(err, MC2_E_INTERNAL, "cannot start the sealer thread");
    e->sealer_started = true;
    return 0;
}
