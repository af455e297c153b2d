/* mesh.c - the enclave mesh: peer checks, pairwise keys, sealed messages, the receiver's
 * stage tracker, transcripts, views and their agreement. The protocol is in mesh.h. */
#include "mesh/mesh.h"

#include <assert.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"

#define RD_CONTEXT   "mc2 mesh v1 rd"
#define KEY_CONTEXT  "mc2 mesh v1"
#define VIEW_CONTEXT "mc2 mesh view v1"
#define VIEW_CTX_LEN 16
#define REC_LEN      41

typedef struct peer {
    bool added;
    mc2_aead *send, *recv;
    uint8_t mac[MC2_KEY_LEN];
    uint8_t sent_d[MC2_SHA256_LEN]; /* transcript self -> peer */
    uint8_t recv_d[MC2_SHA256_LEN]; /* transcript peer -> self */
} peer;

typedef struct chan {
    uint64_t next; /* next seq */
    bool closed;   /* last sent / received */
} chan;

struct mc2_mesh {
    mc2_mesh_job job;
    uint32_t self, n_ranks, n_stages;
    uint32_t n_data; /* stages 0..n_data-1 are in the transcripts; the rest are final */
    uint32_t n_final;
    mc2_mesh_stage *stages;
    uint8_t graph_hash[MC2_SHA256_LEN];
    uint8_t x_sec[MC2_X25519_LEN];
    uint8_t ev_hash[MC2_SHA256_LEN];
    peer peers[MC2_MESH_MAX_RANKS];
    chan *tx, *rx; /* [stage * n_ranks + peer] */
    bool failed;
};

static bool has_edge(const mc2_mesh *m, uint32_t stage, uint32_t s, uint32_t r)
{
    return (m->stages[stage].edges[s] >> r) & 1u;
}

/* Fails the mesh for good with an integrity error. */
static int integrity(mc2_mesh *m, mc2_err *err, uint32_t stage, uint32_t sender, const char *why)
{
    m->failed = true;
    return mc2_err_set(err, MC2_E_AUTH,
                       "integrity error in stage %u, message from rank %u to rank %u: %s; the "
                       "job is abandoned and nothing is released",
                       stage, sender, m->self, why);
}

static int check_live(const mc2_mesh *m, mc2_err *err)
{
    if (m->failed)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the enclave mesh failed an integrity check earlier; the job is "
                           "abandoned and nothing is released");
    return 0;
}

/* ---- peers and keys --------------------------------------------------------------------- */

int mc2_mesh_report_data(const uint8_t x25519_pub[MC2_X25519_LEN], const uint8_t job_nonce[32],
                         const uint8_t policy_hash[32], uint8_t out[MC2_REPORT_DATA_LEN],
                         mc2_err *err)
{
    uint8_t m[sizeof RD_CONTEXT - 1 + 96];
    memcpy(m, RD_CONTEXT, sizeof RD_CONTEXT - 1);
    memcpy(m + sizeof RD_CONTEXT - 1, x25519_pub, 32);
    memcpy(m + sizeof RD_CONTEXT - 1 + 32, job_nonce, 32);
    memcpy(m + sizeof RD_CONTEXT - 1 + 64, policy_hash, 32);
    memset(out, 0, MC2_REPORT_DATA_LEN);
    return mc2_sha256(m, sizeof m, out, err);
}

int mc2_mesh_check_peer(const mc2_mesh_job *job, uint32_t peer_rank, const mc2_claims *claims,
                        const uint8_t peer_pub[MC2_X25519_LEN], mc2_err *err)
{
    uint8_t rd[MC2_REPORT_DATA_LEN];
    /* Ranks run the sim build today: its 32-byte measurement is what job->measurement is.
     * Another format's claims (SEV-SNP: a 48-byte launch measurement, this field zero) need
     * their own comparison here before they can be accepted. */
    if (claims->format != MC2_EVIDENCE_SIM)
        return mc2_err_set(err, MC2_E_AUTH,
                           "mesh peer rank %u: evidence format %u: a mesh accepts only peers "
                           "attested like this rank (sim)",
                           peer_rank, (unsigned)claims->format);
    if (memcmp(claims->measurement, job->measurement, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "mesh peer rank %u: wrong measurement: it runs another enclave build "
                           "than this rank",
                           peer_rank);
    if (mc2_mesh_report_data(peer_pub, job->nonce, job->policy_hash, rd, err)) return -1;
    if (!mc2_ct_equal(rd, claims->report_data, sizeof rd))
        return mc2_err_set(err, MC2_E_AUTH,
                           "mesh peer rank %u: its evidence does not bind its mesh key, this "
                           "job's nonce and this consortium policy (another key, stale or "
                           "replayed evidence, or another policy)",
                           peer_rank);
    return 0;
}

/* The graph's canonical hash: "mc2 mesh graph v1" | n_ranks u32 | n_stages u32 | for each
 * stage and sender s < n_ranks: edges u64 | (if n_final > 0) n_final u32. */
static int graph_hash(mc2_mesh *m, mc2_err *err)
{
    static const char ctx[] = "mc2 mesh graph v1";
    uint8_t b[8];
    int rc = -1;
    mc2_sha256_ctx *h = mc2_sha256_new(err);
    if (!h) return -1;
    mc2_le32_put(b, m->n_ranks);
    mc2_le32_put(b + 4, m->n_stages);
    if (mc2_sha256_update(h, ctx, sizeof ctx - 1, err) || mc2_sha256_update(h, b, 8, err)) goto out;
    for (uint32_t st = 0; st < m->n_stages; st++)
        for (uint32_t s = 0; s < m->n_ranks; s++) {
            mc2_le64_put(b, m->stages[st].edges[s]);
            if (mc2_sha256_update(h, b, 8, err)) goto out;
        }
    mc2_le32_put(b, m->n_final);
    if (m->n_final && mc2_sha256_update(h, b, 4, err)) goto out;
    rc = mc2_sha256_final(h, m->graph_hash, err);
    h = NULL;
out:
    mc2_sha256_free(h);
    return rc;
}

static int check_graph(const mc2_mesh_graph *g, uint32_t self, mc2_err *err)
{
    if (g->n_ranks < 2 || g->n_ranks > MC2_MESH_MAX_RANKS || self >= g->n_ranks)
        return mc2_err_set(err, MC2_E_USAGE, "mesh: %u ranks, self %u (2 to %d ranks)", g->n_ranks,
                           self, MC2_MESH_MAX_RANKS);
    if (g->n_stages < 1 || g->n_stages > MC2_MESH_MAX_STAGES || !g->stages)
        return mc2_err_set(err, MC2_E_USAGE, "mesh: %u stages (1 to %d)", g->n_stages,
                           MC2_MESH_MAX_STAGES);
    if (g->n_final >= g->n_stages)
        return mc2_err_set(err, MC2_E_USAGE,
                           "mesh: %u final stages of %u (at least one stage must precede them)",
                           g->n_final, g->n_stages);
    uint64_t valid = g->n_ranks == 64 ? ~0ull : (1ull << g->n_ranks) - 1;
    for (uint32_t st = 0; st < g->n_stages; st++)
        for (uint32_t s = 0; s < MC2_MESH_MAX_RANKS; s++) {
            uint64_t e = g->stages[st].edges[s];
            if ((s >= g->n_ranks && e) || (e & ~valid) || ((e >> s) & 1u))
                return mc2_err_set(err, MC2_E_USAGE,
                                   "mesh: stage %u: rank %u has an edge to itself or to a rank "
                                   "outside 0..%u",
                                   st, s, g->n_ranks - 1);
        }
    return 0;
}

mc2_mesh *mc2_mesh_new(const mc2_mesh_job *job, const mc2_mesh_graph *g, uint32_t self,
                       const uint8_t x_sec[MC2_X25519_LEN], const uint8_t *evidence,
                       size_t evidence_len, mc2_err *err)
{
    if (check_graph(g, self, err)) return NULL;
    mc2_mesh *m = mc2_calloc(1, sizeof *m);
    if (!m) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory creating the enclave mesh");
        return NULL;
    }
    m->job = *job;
    m->self = self;
    m->n_ranks = g->n_ranks;
    m->n_stages = g->n_stages;
    m->n_final = g->n_final;
    m->n_data = g->n_stages - g->n_final;
    memcpy(m->x_sec, x_sec, MC2_X25519_LEN);
    size_t nch = (size_t)g->n_stages * g->n_ranks;
    m->stages = mc2_calloc(g->n_stages, sizeof *m->stages);
    m->tx = mc2_calloc(nch, sizeof *m->tx);
    m->rx = mc2_calloc(nch, sizeof *m->rx);
    if (!m->stages || !m->tx || !m->rx) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory creating the enclave mesh");
        goto fail;
    }
    memcpy(m->stages, g->stages, g->n_stages * sizeof *m->stages);
    if (graph_hash(m, err) || mc2_sha256(evidence, evidence_len, m->ev_hash, err)) goto fail;
    return m;
fail:
    mc2_mesh_free(m);
    return NULL;
}

void mc2_mesh_free(mc2_mesh *m)
{
    if (!m) return;
    for (size_t i = 0; i < MC2_MESH_MAX_RANKS; i++) {
        mc2_aead_free(m->peers[i].send);
        mc2_aead_free(m->peers[i].recv);
    }
    mc2_free(m->stages);
    mc2_free(m->tx);
    mc2_free(m->rx);
    mc2_free_wipe(m, sizeof *m);
}

int mc2_mesh_add_peer(mc2_mesh *m, uint32_t rank, const mc2_claims *claims, const uint8_t *evidence,
                      size_t evidence_len, const uint8_t peer_pub[MC2_X25519_LEN], mc2_err *err)
{
    uint8_t shared[MC2_X25519_LEN], okm[96], ev[MC2_SHA256_LEN];
    uint8_t info[sizeof KEY_CONTEXT - 1 + 64];
    int rc = -1;
    if (check_live(m, err)) return -1;
    if (rank >= m->n_ranks || rank == m->self || m->peers[rank].added)
        return mc2_err_set(err, MC2_E_USAGE,
                           "mesh: peer rank %u is this rank, out of range or "
                           "already added",
                           rank);
    if (mc2_mesh_check_peer(&m->job, rank, claims, peer_pub, err) ||
        mc2_sha256(evidence, evidence_len, ev, err) || mc2_x25519(m->x_sec, peer_pub, shared, err))
        goto out;
    bool lo = m->self < rank; /* this rank is a in a < b */
    memcpy(info, KEY_CONTEXT, sizeof KEY_CONTEXT - 1);
    memcpy(info + sizeof KEY_CONTEXT - 1, lo ? m->ev_hash : ev, 32);
    memcpy(info + sizeof KEY_CONTEXT - 1 + 32, lo ? ev : m->ev_hash, 32);
    if (mc2_hkdf_sha256(shared, sizeof shared, m->job.job_id, 32, info, sizeof info, okm,
                        sizeof okm, err))
        goto out;
    peer *p = &m->peers[rank];
    p->send = mc2_aead_new(lo ? okm : okm + 32, err);
    p->recv = p->send ? mc2_aead_new(lo ? okm + 32 : okm, err) : NULL;
    if (!p->recv) goto out;
    memcpy(p->mac, okm + 64, MC2_KEY_LEN);
    p->added = true;
    rc = 0;
out:
    if (rc && !m->peers[rank].added) {
        mc2_aead_free(m->peers[rank].send);
        m->peers[rank].send = NULL;
    }
    mc2_wipe(shared, sizeof shared);
    mc2_wipe(okm, sizeof okm);
    return rc;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void put_header(const mc2_mesh *m, uint8_t h[MC2_MESH_HDR_LEN], uint32_t stage, uint32_t s,
                       uint32_t r, uint64_t seq, bool last, uint32_t len)
{
    memcpy(h, m->job.job_id, 32);
    mc2_le32_put(h + 32, stage);
    mc2_le32_put(h + 36, s);
    mc2_le32_put(h + 40, r);
    mc2_le64_put(h + 44, seq);
    h[52] = last ? 1 : 0;
    mc2_le32_put(h + 53, len);
}

static void make_nonce(uint8_t n[MC2_NONCE_LEN], uint32_t stage, uint32_t s, uint32_t r,
                       uint64_t seq)
{
    assert(stage < (1u << 24));
    n[0] = s < r ? 0 : 1;
    n[1] = (uint8_t)stage;
    n[2] = (uint8_t)(stage >> 8);
    n[3] = (uint8_t)(stage >> 16);
    mc2_le64_put(n + 4, seq);
}

/* Chains the record of a message into a transcript digest d. */
static int transcript(uint8_t d[MC2_SHA256_LEN], const uint8_t h[MC2_MESH_HDR_LEN],
                      const uint8_t tag[MC2_TAG_LEN], mc2_err *err)
{
    uint8_t b[MC2_SHA256_LEN + REC_LEN];
    memcpy(b, d, MC2_SHA256_LEN);
    memcpy(b + MC2_SHA256_LEN, h + 32, MC2_MESH_HDR_LEN - 32); /* stage .. len: 25 bytes */
    memcpy(b + MC2_SHA256_LEN + MC2_MESH_HDR_LEN - 32, tag, MC2_TAG_LEN);
    return mc2_sha256(b, sizeof b, d, err);
}

int mc2_mesh_seal(mc2_mesh *m, uint32_t stage, uint32_t receiver, bool last, const uint8_t *payload,
                  size_t n, uint8_t *out, size_t *out_len, mc2_err *err)
{
    uint8_t nonce[MC2_NONCE_LEN];
    if (check_live(m, err)) return -1;
    if (stage >= m->n_stages || receiver >= m->n_ranks || !has_edge(m, stage, m->self, receiver))
        return mc2_err_set(err, MC2_E_USAGE,
                           "mesh: stage %u has no edge from rank %u to rank %u (the job's stage "
                           "graph)",
                           stage, m->self, receiver);
    if (!m->peers[receiver].added)
        return mc2_err_set(err, MC2_E_USAGE, "mesh: peer rank %u has not been attested", receiver);
    if (n > MC2_MESH_MAX_PAYLOAD)
        return mc2_err_set(err, MC2_E_LIMIT, "mesh: a message of %zu bytes (at most %u)", n,
                           MC2_MESH_MAX_PAYLOAD);
    chan *c = &m->tx[(size_t)stage * m->n_ranks + receiver];
    if (c->closed)
        return mc2_err_set(err, MC2_E_USAGE,
                           "mesh: stage %u to rank %u was already closed by a last message", stage,
                           receiver);
    put_header(m, out, stage, m->self, receiver, c->next, last, (uint32_t)n);
    make_nonce(nonce, stage, m->self, receiver, c->next);
    uint8_t *tag = out + MC2_MESH_HDR_LEN + n;
    if (mc2_aead_seal(m->peers[receiver].send, nonce, out, MC2_MESH_HDR_LEN, payload, n,
                      out + MC2_MESH_HDR_LEN, tag, err) ||
        (stage < m->n_data && transcript(m->peers[receiver].sent_d, out, tag, err))) {
        m->failed = true; /* the transcript no longer matches what may have been sent */
        return -1;
    }
    c->next++;
    c->closed = last;
    *out_len = n + MC2_MESH_OVERHEAD;
    return 0;
}

/* Checks the header of a message before authentication: job, receiver, stage, edge. */
static int check_header(mc2_mesh *m, const uint8_t *msg, size_t len, mc2_err *err)
{
    uint32_t stage = mc2_le32_get(msg + 32), s = mc2_le32_get(msg + 36);
    if (len - MC2_MESH_OVERHEAD != mc2_le32_get(msg + 53) || msg[52] > 1)
        return integrity(m, err, stage, s, "malformed message (length or flag)");
    if (memcmp(msg, m->job.job_id, 32) != 0)
        return integrity(m, err, stage, s, "the message belongs to another job (replayed)");
    if (mc2_le32_get(msg + 40) != m->self)
        return integrity(m, err, stage, s, "the message is addressed to another rank");
    if (stage >= m->n_stages || s >= m->n_ranks || !has_edge(m, stage, s, m->self))
        return integrity(m, err, stage, s,
                         "the stage graph has no such edge (no such stage or sender)");
    if (!m->peers[s].added) return integrity(m, err, stage, s, "the sender was not attested");
    return 0;
}

int mc2_mesh_open(mc2_mesh *m, const uint8_t *msg, size_t len, uint8_t *pt, size_t *pt_len,
                  uint32_t *stage, uint32_t *sender, bool *last, mc2_err *err)
{
    uint8_t nonce[MC2_NONCE_LEN];
    if (check_live(m, err)) return -1;
    if (len < MC2_MESH_OVERHEAD) {
        m->failed = true;
        return mc2_err_set(err, MC2_E_AUTH,
                           "integrity error: a message of %zu bytes to rank %u is shorter than "
                           "any mesh message (truncated); the job is abandoned",
                           len, m->self);
    }
    if (check_header(m, msg, len, err)) return -1;
    uint32_t st = mc2_le32_get(msg + 32), s = mc2_le32_get(msg + 36);
    uint64_t seq = mc2_le64_get(msg + 44);
    size_t n = len - MC2_MESH_OVERHEAD;
    make_nonce(nonce, st, s, m->self, seq);
    const uint8_t *tag = msg + MC2_MESH_HDR_LEN + n;
    if (mc2_aead_open(m->peers[s].recv, nonce, msg, MC2_MESH_HDR_LEN, msg + MC2_MESH_HDR_LEN, n,
                      tag, pt, NULL))
        return integrity(m, err, st, s,
                         "the message does not authenticate (modified, from another job, or "
                         "its sender field does not match its key)");
    chan *c = &m->rx[(size_t)st * m->n_ranks + s];
    const char *why = c->closed       ? "a message after the sender's last one"
                      : seq < c->next ? "a duplicate or replayed message"
                      : seq > c->next ? "a message out of order (one before it is missing)"
                                      : NULL;
    if (why || (st < m->n_data && transcript(m->peers[s].recv_d, msg, tag, err))) {
        mc2_wipe(pt, n);
        return why ? integrity(m, err, st, s, why) : (m->failed = true, -1);
    }
    c->next++;
    c->closed = msg[52] == 1;
    *pt_len = n;
    *stage = st;
    *sender = s;
    *last = c->closed;
    return 0;
}

int mc2_mesh_stage_complete(mc2_mesh *m, uint32_t stage, mc2_err *err)
{
    if (check_live(m, err)) return -1;
    if (stage >= m->n_stages)
        return mc2_err_set(err, MC2_E_USAGE, "mesh: no stage %u (the job has %u)", stage,
                           m->n_stages);
    for (uint32_t s = 0; s < m->n_ranks; s++)
        if (has_edge(m, stage, s, m->self) && !m->rx[(size_t)stage * m->n_ranks + s].closed)
            return integrity(m, err, stage, s,
                             "the stage is incomplete: its last message never arrived "
                             "(dropped or truncated)");
    return 0;
}

/* ---- views and agreement ----------------------------------------------------------------- */

/* Every stage before the final ones complete at this rank, every outgoing edge closed. */
static int all_done(mc2_mesh *m, mc2_err *err)
{
    for (uint32_t st = 0; st < m->n_data; st++) {
        if (mc2_mesh_stage_complete(m, st, err)) return -1;
        for (uint32_t r = 0; r < m->n_ranks; r++)
            if (has_edge(m, st, m->self, r) && !m->tx[(size_t)st * m->n_ranks + r].closed)
                return mc2_err_set(err, MC2_E_USAGE,
                                   "mesh: stage %u: this rank has not sent its last message to "
                                   "rank %u",
                                   st, r);
    }
    return 0;
}

/* The fixed head of rank `rank`'s view: context, job, graph, rank, ranks (88 bytes). */
static void view_head(const mc2_mesh *m, uint32_t rank, uint8_t out[88])
{
    memcpy(out, VIEW_CONTEXT, VIEW_CTX_LEN);
    memcpy(out + 16, m->job.job_id, 32);
    memcpy(out + 48, m->graph_hash, 32);
    mc2_le32_put(out + 80, rank);
    mc2_le32_put(out + 84, m->n_ranks);
}

/* This rank's view without its MAC. */
static void view_body(const mc2_mesh *m, uint8_t *out)
{
    view_head(m, m->self, out);
    for (uint32_t j = 0; j < m->n_ranks; j++) {
        memcpy(out + 88 + 64 * (size_t)j, m->peers[j].sent_d, 32);
        memcpy(out + 88 + 64 * (size_t)j + 32, m->peers[j].recv_d, 32);
    }
}

int mc2_mesh_view(mc2_mesh *m, uint32_t releaser, uint8_t *out, size_t out_len, mc2_err *err)
{
    size_t n = MC2_MESH_VIEW_LEN(m->n_ranks);
    if (check_live(m, err)) return -1;
    if (out_len < n || releaser >= m->n_ranks || releaser == m->self || !m->peers[releaser].added)
        return mc2_err_set(err, MC2_E_USAGE,
                           "mesh: a view for rank %u needs %zu bytes and an attested releaser "
                           "other than this rank",
                           releaser, n);
    if (all_done(m, err)) return -1;
    view_body(m, out);
    return mc2_hmac_sha256(m->peers[releaser].mac, MC2_KEY_LEN, out, n - 32, out + n - 32, err);
}

/* Authenticates rank i's view at the releaser. */
static int check_view(mc2_mesh *m, uint32_t i, const uint8_t *v, size_t len, mc2_err *err)
{
    size_t n = MC2_MESH_VIEW_LEN(m->n_ranks);
    uint8_t mac[MC2_SHA256_LEN], head[88];
    if (!v || len != n) goto bad;
    if (mc2_hmac_sha256(m->peers[i].mac, MC2_KEY_LEN, v, n - 32, mac, err)) return -1;
    view_head(m, i, head);
    if (!mc2_ct_equal(mac, v + n - 32, 32) || memcmp(head, v, sizeof head) != 0) goto bad;
    return 0;
bad:
    m->failed = true;
    return mc2_err_set(err, MC2_E_AUTH,
                       "integrity error: rank %u's transcript view is missing, malformed or "
                       "does not authenticate (another job, another stage graph, or forged); "
                       "nothing is released",
                       i);
}

int mc2_mesh_agree(mc2_mesh *m, const uint8_t *const *views, const size_t *lens, mc2_err *err)
{
    size_t n = MC2_MESH_VIEW_LEN(m->n_ranks);
    uint8_t *own = NULL;
    int rc = -1;
    if (check_live(m, err) || all_done(m, err)) return -1;
    for (uint32_t i = 0; i < m->n_ranks; i++) {
        if (i == m->self) continue;
        if (!m->peers[i].added)
            return mc2_err_set(err, MC2_E_USAGE, "mesh: rank %u was never attested", i);
        if (check_view(m, i, views[i], lens[i], err)) return -1;
    }
    if (!(own = mc2_malloc(n))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    view_body(m, own);
    for (uint32_t i = 0; i < m->n_ranks; i++) {
        const uint8_t *vi = i == m->self ? own : views[i];
        for (uint32_t j = 0; j < m->n_ranks; j++) {
            if (i == j) continue;
            const uint8_t *vj = j == m->self ? own : views[j];
            /* i's "sent to j" equals j's "received from i" */
            if (memcmp(vi + 88 + 64 * (size_t)j, vj + 88 + 64 * (size_t)i + 32, 32) != 0) {
                m->failed = true;
                mc2_err_set(err, MC2_E_AUTH,
                            "integrity error: the transcripts disagree on the messages from "
                            "rank %u to rank %u (the host dropped, added or changed one); "
                            "nothing is released",
                            i, j);
                goto out;
            }
        }
    }
    rc = 0;
out:
    mc2_free(own);
    return rc;
}
