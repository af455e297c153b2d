/* session.c - TRUSTED: client sessions. The host relays TLS bytes; the enclave terminates
 * TLS 1.3 with a fresh RA-TLS certificate per session, whose evidence binds the client's
 * nonce and the consortium policy hash. The client authenticates with its party
 * certificate, which must be one of the policy's parties.
 *
 *   client            host                 enclave
 *   HAPI_ENCLAVE{nonce} -> OPEN{sid, nonce} -> new key, cert(evidence(key, nonce, policy))
 *                      (evidence from the host:  <- EVIDENCE_REQ{sid, report data}
 *                       EVIDENCE{sid, evidence} ->  client bytes before it wait in `early`)
 *   TLS ClientHello  -> DATA{sid}          -> TLS ... <- OUT{sid}  (relayed both ways)
 *   after the handshake: party = policy party with the client's certificate key, else END
 *   enclave API frames inside TLS (api.c)
 *
 * The table holds ENC_MAX_SESSIONS; when it is full, OPEN ends the oldest session that has
 * not completed its handshake (an unauthenticated client cannot hold the slots), never an
 * authenticated one. A session whose client sent nothing for e->session_idle_ns (INIT;
 * default ENC_SESSION_IDLE_S) is ended, authenticated or not, when the next host frame
 * arrives (before it is handled, so its slot is free for an OPEN), whatever the host does
 * with its connections.
 */
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "attest/ratls.h"
#include "base/alloc.h"
#include "base/log.h"
#include "enclave/enclave.h"
#include "enclave/meshrt.h"
#include "wire/proto.h"

static enc_session *find(enclave *e, uint32_t sid)
{
    for (size_t i = 0; i < ENC_MAX_SESSIONS; i++)
        if (e->sessions[i].used && e->sessions[i].sid == sid) return &e->sessions[i];
    return NULL;
}

void enc_session_drop(enc_session *s)
{
    mc2_tls_free(s->tls);
    SSL_CTX_free(s->ctx);
    EVP_PKEY_free(s->key);
    mc2_buf_free(&s->in);
    mc2_buf_free(&s->early);
    mc2_buf_free(&s->held);
    memset(s, 0, sizeof *s);
}

/* Ends a session: tells the host to close the client's connection. */
static int end_session(enclave *e, enc_session *s, const char *why, mc2_err *err)
{
    mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_INFO, "session %u closed: %s", s->sid, why);
    uint32_t sid = s->sid;
    enc_session_drop(s);
    return enc_send(e, EIF_END, sid, NULL, 0, err);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A free slot; when the table is full, the slot of the oldest session whose TLS handshake
 * has not completed, which is ended (EIF_END) to make room: sessions that never finish
 * TLS cannot lock parties out. Authenticated sessions are never evicted. NULL (with
 * *rc = 0) when every session is authenticated; *rc = -1 on a fatal error. */
static enc_session *free_slot(enclave *e, int *rc, mc2_err *err)
{
    enc_session *old = NULL;
    *rc = 0;
    for (size_t i = 0; i < ENC_MAX_SESSIONS; i++) {
        enc_session *s = &e->sessions[i];
        if (!s->used) return s;
        if (!s->established && (!old || s->opened_ns < old->opened_ns)) old = s;
    }
    if (old && end_session(e, old, "evicted: the session table is full", err)) *rc = -1;
    return *rc ? NULL : old; /* end_session freed the slot */
}

/* The attester's evidence for rd, made in the enclave (mc2_evidence_fn). */
static int own_evidence(void *ctx, const uint8_t rd[MC2_REPORT_DATA_LEN], uint8_t **ev, size_t *n,
                        mc2_err *err)
{
    enclave *e = ctx;
    return e->att->evidence(e, rd, ev, n, err);
}

/* Gives s its certificate (carrying ev) and its TLS endpoint; s->key is its TLS key. */
static int session_tls(enc_session *s, const uint8_t *ev, size_t n, mc2_err *err)
{
    X509 *cert = NULL;
    if (mc2_ratls_cert(s->key, ev, n, &cert, err) == 0) s->ctx = mc2_tls_ctx(1, s->key, cert, err);
    X509_free(cert);
    if (s->ctx) s->tls = mc2_tls_new(s->ctx, 1, err);
    EVP_PKEY_free(s->key); /* s->ctx holds it now */
    s->key = NULL;
    return s->tls ? 0 : -1;
}

/* Starts s's attestation: its TLS key and report data, then its evidence from the attester at
 * once, or from the host (EIF_EVIDENCE_REQ; session_evidence finishes it). */
static int session_attest(enclave *e, enc_session *s, const uint8_t nonce[32], mc2_err *err,
                          mc2_err *e2)
{
    uint8_t rd[MC2_REPORT_DATA_LEN], *ev = NULL;
    size_t n = 0;
    if (mc2_ratls_key(nonce, e->policy->hash, &s->key, rd, e2)) return 1;
    if (!e->att->evidence) {
        s->attesting = true;
        return enc_send(e, EIF_EVIDENCE_REQ, s->sid, rd, sizeof rd, err) ? -1 : 0;
    }
    int rc = own_evidence(e, rd, &ev, &n, e2) || session_tls(s, ev, n, e2) ? 1 : 0;
    mc2_free(ev);
    return rc;
}

static int open_session(enclave *e, uint32_t sid, const mc2_buf *p, mc2_err *err)
{
    if (p->len != 32 || find(e, sid))
        return enc_send(e, EIF_END, sid, NULL, 0, err); /* malformed or duplicate: refuse */
    int rc;
    enc_session *s = free_slot(e, &rc, err);
    if (rc) return -1;
    if (!s) return enc_send(e, EIF_END, sid, NULL, 0, err);
    s->used = true;
    s->sid = sid;
    s->opened_ns = s->active_ns = monotonic_ns();
    s->party = -1;
    s->in.secret = 1; /* decrypted requests: key grants carry data keys */
    mc2_err e2;
    rc = session_attest(e, s, p->data, err, &e2);
    if (rc == 1) {
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "cannot open a session: %s", e2.msg);
        enc_session_drop(s);
        return enc_send(e, EIF_END, sid, NULL, 0, err);
    }
    return rc;
}

/* Sends whatever TLS produced to the client. */
static int flush(enclave *e, enc_session *s, mc2_err *err)
{
    mc2_buf out = {0};
    int rc = mc2_tls_drain(s->tls, &out, err);
    if (rc == 0 && out.len) rc = enc_out(e, s, out.data, out.len, err);
    mc2_buf_free(&out);
    return rc;
}

/* Identifies the client by its certificate's key. */
static int authenticate(enclave *e, enc_session *s)
{
    X509 *peer = mc2_tls_peer(s->tls);
    EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;
    uint8_t pub[MC2_ED25519_PUB_LEN];
    size_t len = sizeof pub;
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519 ||
        !EVP_PKEY_get_raw_public_key(pk, pub, &len) || len != sizeof pub)
        return -1;
    const mc2_party *pt = mc2_policy_party_by_key(e->policy, pub);
    if (!pt) return -1;
    s->party = (int)(pt - e->policy->parties);
    return 0;
}

/* Handles the client's decrypted bytes: complete enclave API frames, each answered. */
static int serve(enclave *e, enc_session *s, mc2_err *err)
{
    size_t off = 0;
    mc2_frame f = {.payload = {.secret = 1}}; /* a copy of the request: may hold a data key */
    int rc = 0;
    for (;;) {
        long used = mc2_frame_parse(s->in.data + off, s->in.len - off, MC2_FRAME_MAX, &f, err);
        if (used == 0) break;
        if (used < 0) {
            rc = -2;
            break;
        }
        off += (size_t)used;
        mc2_buf reply = {.secret = 1};
        mc2_err aerr;
        mc2_err_clear(&aerr);
        if (enc_api(e, s, f.type, f.payload.data, f.payload.len, &reply, &aerr)) {
            mc2_buf_reset(&reply);
            if (mc2_frame_put(&reply, EAPI_ERR, f.channel, aerr.msg, strlen(aerr.msg), err))
                rc = -1;
        }
        if (rc == 0 && mc2_tls_write(s->tls, reply.data, reply.len, err)) rc = -2;
        mc2_buf_free(&reply);
        if (rc) break;
    }
    mc2_frame_free(&f);
    if (off) {
        memmove(s->in.data, s->in.data + off, s->in.len - off);
        s->in.len -= off;
    }
    return rc;
}

static int session_data(enclave *e, enc_session *s, const mc2_buf *p, mc2_err *err)
{
    mc2_err terr;
    s->active_ns = monotonic_ns();
    if (s->attesting) { /* the client's first bytes, before its certificate exists */
        if (p->len > ENC_EARLY_MAX - s->early.len)
            return end_session(e, s, "client sent too much before its session was attested", err);
        if (mc2_buf_append(&s->early, p->data, p->len, &terr))
            return end_session(e, s, terr.msg, err);
        return 0;
    }
    if (mc2_tls_feed(s->tls, p->data, p->len, &terr)) return end_session(e, s, terr.msg, err);
    if (!s->established) {
        int h = mc2_tls_handshake(s->tls, &terr);
        if (flush(e, s, err)) return -1;
        if (h < 0) return end_session(e, s, terr.msg, err);
        if (h == 0) return 0;
        s->established = true;
        if (authenticate(e, s))
            return end_session(e, s, "client certificate is not a party of the policy", err);
    }
    int closed = 0;
    if (mc2_tls_read(s->tls, &s->in, &closed, &terr) < 0) return end_session(e, s, terr.msg, err);
    if (s->in.len > MC2_FRAME_MAX + MC2_FRAME_HDR)
        return end_session(e, s, "client sent an oversized request", err);
    int r = serve(e, s, &terr);
    if (r == -1) return -1;
    if (flush(e, s, err)) return -1;
    if (r == -2) return end_session(e, s, terr.msg, err);
    if (closed) return end_session(e, s, "client closed the session", err);
    enc_jobs_advance(e);
    return 0;
}

/* The host's answer to EIF_EVIDENCE_REQ for s: u32 status (0: ok) | evidence, or a message.
 * Builds s's certificate and TLS, then feeds it the client's bytes that waited. */
static int session_evidence(enclave *e, enc_session *s, const mc2_buf *p, mc2_err *err)
{
    mc2_err e2;
    if (!s->attesting)
        return end_session(e, s, "the host sent evidence the session did not ask for", err);
    if (p->len < 4 || p->len - 4 > ENC_EVIDENCE_MAX)
        return end_session(e, s, "the host's evidence answer is malformed or too large", err);
    if (mc2_le32_get(p->data) != 0) {
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN,
                "session %u: the host could not get evidence from the %s backend", s->sid,
                e->att->name);
        return end_session(e, s, "no evidence: the host's TEE backend failed", err);
    }
    s->attesting = false;
    if (session_tls(s, p->data + 4, p->len - 4, &e2)) return end_session(e, s, e2.msg, err);
    mc2_buf early = s->early;
    s->early = (mc2_buf){0};
    int rc = early.len ? session_data(e, s, &early, err) : 0;
    mc2_buf_free(&early);
    return rc;
}

/* Ends every session idle for longer than e->session_idle_ns. */
static int end_idle(enclave *e, mc2_err *err)
{
    if (!e->session_idle_ns) return 0;
    uint64_t now = monotonic_ns();
    for (size_t i = 0; i < ENC_MAX_SESSIONS; i++) {
        enc_session *s = &e->sessions[i];
        if (s->used && now - s->active_ns > e->session_idle_ns &&
            end_session(e, s, "idle for longer than the session timeout", err))
            return -1;
    }
    return 0;
}

int enc_dispatch(enclave *e, mc2_frame *f, mc2_err *err)
{
    enc_session *s;
    if (end_idle(e, err)) return -1;
    switch (f->type) {
    case EIF_OPEN:
        if (e->worker) /* a worker serves its job's mesh, no client */
            return enc_send(e, EIF_END, f->channel, NULL, 0, err);
        return open_session(e, f->channel, &f->payload, err);
    case EIF_DATA:
        s = find(e, f->channel);
        return s ? session_data(e, s, &f->payload, err) : 0;
    case EIF_CLOSE:
        s = find(e, f->channel);
        if (s) enc_session_drop(s);
        return 0;
    case EIF_EVIDENCE:
        s = find(e, f->channel);
        return s ? session_evidence(e, s, &f->payload, err) : 0;
    case EIF_STORE_REPLY:
        enc_io_deliver(e, f); /* dropped unless a request waits for it */
        return 0;
    case EIF_MESH_JOIN:
    case EIF_MESH_PEERS:
    case EIF_MESH_DELIVER:
    case EIF_MESH_FAIL:
        return enc_mesh_frame(e, f, err);
    default:
        /* Unknown message types are refused, not fatal: the host controls this channel. */
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "ignoring host message type %u",
                f->type);
        return 0;
    }
}
