/* jobs_fl_mask.c - TRUSTED: the masked stages of a fedavg round (`masks secagg`): keys,
 * shares, masked input, unmask (the protocol is in fl/mask.h, the ops in mc2_fl_mask_op).
 *
 * The enclave here is SecAgg's server: it relays the sealed client-to-client shares without
 * being able to open them, adds each masked vector into the running sum mod 2^32 as it arrives
 * (jobs_fl.c's FL_PUT with form 1; this file only says whether the stage takes it), and at
 * the end reconstructs, from at least t revealed shares, the mask keys of the participants
 * that dropped after sharing and the self-mask seeds of those that did not, removes the masks
 * and dequantises the sum. It never holds an individual unmasked vector.
 *
 * A stage closes when every member of its set has posted, or once stage_timeout_s has passed
 * (checked whenever anyone asks: clients poll) with at least max(t, k) posts; with fewer the
 * round fails and nothing is released. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "enclave/jobs_fl.h"
#include "fl/mask.h"
#include "wire/proto.h"

#define P MC2_FL_MAX_PARTICIPANTS

typedef struct mask_state {
    int stage;         /* enum mc2_fl_stage */
    uint64_t stage_ms; /* CLOCK_MONOTONIC when the current stage began */
    uint8_t flags[P];  /* MC2_FL_MF_*: what each participant posted */
    uint8_t c_pk[P][MC2_X25519_LEN], s_pk[P][MC2_X25519_LEN];
    uint8_t *ct;     /* n * n sealed shares: [from * n + to], made at the shares stage */
    uint8_t *reveal; /* n * n revealed shares: [holder * n + of] (secret), unmask stage */
} mask_state;

static const char *const STAGE_NAMES[] = {"keys", "shares", "masked input", "unmask"};

static size_t nparts(const enc_fl_state *st)
{
    return st->r.nparts;
}

static mask_state *state(enc_fl_state *st, mc2_err *err)
{
    if (!st->mask) {
        mask_state *m = mc2_calloc(1, sizeof *m);
        if (!m) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory for a masked round's state");
            return NULL;
        }
        m->stage_ms = enc_now_ms();
        st->mask = m;
    }
    return st->mask;
}

static int check(const mc2_fl_round *r, mc2_err *err)
{
    if (r->nparts < 2 || r->nparts > MC2_FL_MAX_PARTIES)
        return mc2_err_set(err, MC2_E_INPUT, "'masks': a masked round needs 2 to 64 participants");
    if (r->mask_threshold < 1 || r->mask_threshold > r->nparts)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'mask_threshold': %u is not between 1 and the %zu participants",
                           r->mask_threshold, r->nparts);
    if (r->quantization_range < 2 || r->quantization_range > UINT32_MAX ||
        !mc2_fl_quant_ok(r->clipping_range, (uint32_t)r->quantization_range, r->nparts))
        return mc2_err_set(err, MC2_E_INPUT,
                           "'quantization_range' and 'clipping_range': a sum of %zu quantised "
                           "values must stay below 2^32 (participants * (range - 1) < 2^32) "
                           "and the clipping range must be positive",
                           r->nparts);
    return 0;
}

/* Members of the current stage's set (bit `set`, or all for the keys stage) and how many of
 * them posted (bit `posted`). */
static void stage_bits(int stage, uint8_t *set, uint8_t *posted)
{
    static const uint8_t SET[] = {0, MC2_FL_MF_KEYS, MC2_FL_MF_SHARES, MC2_FL_MF_MASKED};
    static const uint8_t POSTED[] = {MC2_FL_MF_KEYS, MC2_FL_MF_SHARES, MC2_FL_MF_MASKED,
                                     MC2_FL_MF_UNMASK};
    *set = SET[stage];
    *posted = POSTED[stage];
}

/* The flags with st->done folded in (the masked input is jobs_fl.c's FL_PUT). */
static void sync_flags(mask_state *m, const enc_fl_state *st)
{
    for (size_t i = 0; i < nparts(st); i++)
        if (st->done[i]) m->flags[i] |= MC2_FL_MF_MASKED;
}

static uint32_t need_of(const enc_fl_state *st)
{
    return st->r.mask_threshold > st->r.k ? st->r.mask_threshold : st->r.k;
}

/* "masked round, stage shares: 3 of 5 (t = 3, k = 3) from a, b, d; missing c, e; stage
 * closes in 42 s" */
static void stage_status(const enc_fl_state *st, const mask_state *m, uint64_t now,
                         const char *head, char *out, size_t cap)
{
    uint8_t set, posted;
    stage_bits(m->stage, &set, &posted);
    size_t members = 0, got = 0;
    char from[MC2_ERR_MSG_MAX / 2] = "", missing[MC2_ERR_MSG_MAX / 2] = "";
    for (size_t i = 0; i < nparts(st); i++) {
        if (set && !(m->flags[i] & set)) continue;
        members++;
        char *dst = (m->flags[i] & posted) ? from : missing;
        got += (m->flags[i] & posted) != 0;
        size_t len = strlen(dst);
        snprintf(dst + len, sizeof from - len, "%s%s", len ? ", " : "", st->r.parts[i]);
    }
    uint64_t end = m->stage_ms + st->r.stage_timeout_s * 1000u;
    snprintf(out, cap, "%s stage %s: %zu of %zu (t = %u, k = %u)%s%s; missing %s; %s %llu s", head,
             STAGE_NAMES[m->stage], got, members, st->r.mask_threshold, st->r.k,
             got ? " from " : "", from, missing[0] ? missing : "none",
             end > now ? "stage closes in" : "stage closed",
             (unsigned long long)((end > now ? end - now : 0) + 999) / 1000);
}

static int ready(enclave *e, enc_job *j, enc_fl_state *st, mc2_err *err)
{
    (void)e;
    mask_state *m = state(st, err);
    if (!m) return -1;
    if (m->stage == MC2_FL_STAGE_CLOSED) return 1;
    if (m->stage == MC2_FL_STAGE_FAILED) return mc2_err_set(err, MC2_E_INPUT, "%s", j->status);
    sync_flags(m, st);
    uint64_t now = enc_now_ms();
    for (;;) {
        uint8_t set, posted;
        stage_bits(m->stage, &set, &posted);
        size_t members = 0, got = 0;
        for (size_t i = 0; i < nparts(st); i++) {
            if (set && !(m->flags[i] & set)) continue;
            members++;
            got += (m->flags[i] & posted) != 0;
        }
        bool timed_out = now >= m->stage_ms + st->r.stage_timeout_s * 1000u;
        if (got < members && !timed_out) break;
        if (got < need_of(st)) {
            char why[MC2_ERR_MSG_MAX];
            stage_status(st, m, now, "masked round failed at", why, sizeof why);
            m->stage = MC2_FL_STAGE_FAILED;
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s: fewer than %u (max(t, k)) participants left: no model "
                               "released",
                               why, need_of(st));
        }
        m->stage++;
        m->stage_ms = now;
        if (m->stage == MC2_FL_STAGE_CLOSED) return 1;
    }
    stage_status(st, m, now, "masked round, waiting at", j->status, sizeof j->status);
    return 0;
}

static int put(enclave *e, enc_job *j, enc_fl_state *st, int idx, mc2_err *err)
{
    (void)e;
    (void)j;
    mask_state *m = state(st, err);
    if (!m) return -1;
    if (idx < 0 || (size_t)idx >= nparts(st))
        return mc2_err_set(err, MC2_E_INTERNAL, "jobs_fl_mask.c: participant index out of range");
    if (m->stage != MC2_FL_STAGE_MASKED)
        return mc2_err_set(err, MC2_E_INPUT,
                           "masked input from '%s' refused: the round is at stage %s, not at "
                           "masked input",
                           st->r.parts[idx], m->stage < 4 ? STAGE_NAMES[m->stage] : "closed");
    if (!(m->flags[idx] & MC2_FL_MF_SHARES))
        return mc2_err_set(err, MC2_E_AUTH,
                           "masked input from '%s' refused: it sent no shares in the shares "
                           "stage, so its masks could not be removed",
                           st->r.parts[idx]);
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------ */

static int req_keys(mask_state *m, const enc_fl_state *st, int me, mc2_rd *r, mc2_buf *out,
                    mc2_err *err)
{
    const uint8_t *c = mc2_rd_take(r, MC2_X25519_LEN), *s = mc2_rd_take(r, MC2_X25519_LEN);
    if (r->bad || mc2_rd_left(r))
        return mc2_err_set(err, MC2_E_INPUT, "masked round keys: the body must be 64 bytes");
    if (m->flags[me] & MC2_FL_MF_KEYS)
        return mc2_err_set(err, MC2_E_EXISTS,
                           "masked round keys: '%s' already sent its keys (duplicate)",
                           st->r.parts[me]);
    if (m->stage != MC2_FL_STAGE_KEYS)
        return mc2_err_set(err, MC2_E_INPUT,
                           "masked round keys: the keys stage is closed ('%s' missed it)",
                           st->r.parts[me]);
    memcpy(m->c_pk[me], c, MC2_X25519_LEN);
    memcpy(m->s_pk[me], s, MC2_X25519_LEN);
    m->flags[me] |= MC2_FL_MF_KEYS;
    return enc_reply_ok(out, NULL, 0, err);
}

static int req_poll(mask_state *m, const enc_fl_state *st, int me, mc2_buf *out, mc2_err *err)
{
    size_t n = nparts(st);
    mc2_buf b = {0};
    int rc = -1;
    if (mc2_buf_put_u8(&b, (uint8_t)m->stage, err) || mc2_buf_put_u8(&b, (uint8_t)n, err) ||
        mc2_buf_append(&b, m->flags, n, err))
        goto out;
    if (m->stage >= MC2_FL_STAGE_SHARES && m->stage != MC2_FL_STAGE_FAILED)
        for (size_t i = 0; i < n; i++)
            if (mc2_buf_append(&b, m->c_pk[i], MC2_X25519_LEN, err) ||
                mc2_buf_append(&b, m->s_pk[i], MC2_X25519_LEN, err))
                goto out;
    if (m->stage >= MC2_FL_STAGE_MASKED && m->stage != MC2_FL_STAGE_FAILED &&
        (m->flags[me] & MC2_FL_MF_SHARES)) {
        uint32_t cnt = 0;
        for (size_t i = 0; i < n; i++) cnt += i != (size_t)me && (m->flags[i] & MC2_FL_MF_SHARES);
        if (mc2_buf_put_u32(&b, cnt, err)) goto out;
        for (size_t i = 0; i < n; i++) {
            if (i == (size_t)me || !(m->flags[i] & MC2_FL_MF_SHARES)) continue;
            if (mc2_buf_put_u32(&b, (uint32_t)i, err) ||
                mc2_buf_append(&b, m->ct + (i * n + (size_t)me) * MC2_FL_SHARE_CT_LEN,
                               MC2_FL_SHARE_CT_LEN, err))
                goto out;
        }
    }
    rc = enc_reply_ok(out, b.data, b.len, err);
out:
    mc2_buf_free(&b);
    return rc;
}

/* Reads "u32 m | m x (u32 idx | item[size])" where the idx must be exactly the members of
 * `want` (participants whose flags have bit `want_bit`, except `skip` if >= 0), each once;
 * returns the items by index in items[idx]. `what` names the op in errors. */
static int read_indexed(const enc_fl_state *st, const mask_state *m, mc2_rd *r, uint8_t want_bit,
                        int skip, size_t size, const uint8_t **items, const char *what,
                        const char *setname, mc2_err *err)
{
    size_t n = nparts(st), expect = 0;
    for (size_t i = 0; i < n; i++) expect += (m->flags[i] & want_bit) && (int)i != skip;
    uint32_t cnt = mc2_rd_u32(r);
    if (r->bad || cnt != expect)
        return mc2_err_set(err, MC2_E_INPUT, "%s: %u entries, expected %zu (one per member of %s)",
                           what, cnt, expect, setname);
    for (size_t i = 0; i < n; i++) items[i] = NULL;
    for (uint32_t k = 0; k < cnt; k++) {
        uint32_t idx = mc2_rd_u32(r);
        const uint8_t *item = mc2_rd_take(r, size);
        if (r->bad) return mc2_err_set(err, MC2_E_INPUT, "%s: body truncated", what);
        if (idx >= n || !(m->flags[idx] & want_bit) || (int)idx == skip)
            return mc2_err_set(err, MC2_E_INPUT, "%s: entry for participant %u, which is not in %s",
                               what, idx, setname);
        if (items[idx])
            return mc2_err_set(err, MC2_E_INPUT, "%s: two entries for participant '%s'", what,
                               st->r.parts[idx]);
        items[idx] = item;
    }
    if (mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "%s: trailing bytes", what);
    return 0;
}

static int req_shares(mask_state *m, const enc_fl_state *st, int me, mc2_rd *r, mc2_buf *out,
                      mc2_err *err)
{
    size_t n = nparts(st);
    const uint8_t *items[P];
    if (m->flags[me] & MC2_FL_MF_SHARES)
        return mc2_err_set(err, MC2_E_EXISTS,
                           "masked round shares: '%s' already sent its shares (duplicate)",
                           st->r.parts[me]);
    if (m->stage != MC2_FL_STAGE_SHARES)
        return mc2_err_set(err, MC2_E_INPUT, "masked round shares: the round is at stage %s",
                           m->stage < 4 ? STAGE_NAMES[m->stage] : "closed");
    if (!(m->flags[me] & MC2_FL_MF_KEYS))
        return mc2_err_set(err, MC2_E_AUTH,
                           "masked round shares: '%s' sent no keys in the keys stage: it takes "
                           "no further part in this round",
                           st->r.parts[me]);
    if (read_indexed(st, m, r, MC2_FL_MF_KEYS, me, MC2_FL_SHARE_CT_LEN, items,
                     "masked round shares", "the key set (recipients: the others with keys)", err))
        return -1;
    if (!m->ct) {
        size_t bytes;
        if (!mc2_mul_size(n * n, MC2_FL_SHARE_CT_LEN, &bytes) || !(m->ct = mc2_calloc(1, bytes)))
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a masked round's shares");
    }
    for (size_t to = 0; to < n; to++)
        if (items[to])
            memcpy(m->ct + ((size_t)me * n + to) * MC2_FL_SHARE_CT_LEN, items[to],
                   MC2_FL_SHARE_CT_LEN);
    m->flags[me] |= MC2_FL_MF_SHARES;
    return enc_reply_ok(out, NULL, 0, err);
}

static int req_unmask(mask_state *m, const enc_fl_state *st, int me, mc2_rd *r, mc2_buf *out,
                      mc2_err *err)
{
    size_t n = nparts(st);
    const uint8_t *items[P];
    if (m->flags[me] & MC2_FL_MF_UNMASK)
        return mc2_err_set(err, MC2_E_EXISTS,
                           "masked round unmask: '%s' already sent its shares (duplicate)",
                           st->r.parts[me]);
    if (m->stage != MC2_FL_STAGE_UNMASK)
        return mc2_err_set(err, MC2_E_INPUT, "masked round unmask: the round is at stage %s",
                           m->stage < 4 ? STAGE_NAMES[m->stage] : "closed");
    if (!(m->flags[me] & MC2_FL_MF_MASKED))
        return mc2_err_set(err, MC2_E_AUTH,
                           "masked round unmask: '%s' sent no masked input: it takes no "
                           "further part in this round",
                           st->r.parts[me]);
    if (read_indexed(st, m, r, MC2_FL_MF_SHARES, -1, MC2_FL_SEED_LEN, items, "masked round unmask",
                     "the shares set", err))
        return -1;
    if (!m->reveal) {
        size_t bytes;
        if (!mc2_mul_size(n * n, MC2_FL_SEED_LEN, &bytes) || !(m->reveal = mc2_calloc(1, bytes)))
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory for a masked round's shares");
    }
    for (size_t of = 0; of < n; of++)
        if (items[of])
            memcpy(m->reveal + ((size_t)me * n + of) * MC2_FL_SEED_LEN, items[of], MC2_FL_SEED_LEN);
    m->flags[me] |= MC2_FL_MF_UNMASK;
    return enc_reply_ok(out, NULL, 0, err);
}

static int request(enclave *e, enc_session *s, enc_job *j, enc_fl_state *st, uint8_t op, mc2_rd *r,
                   mc2_buf *out, mc2_err *err)
{
    int me = s->party >= 0 ? mc2_fl_participant(&st->r, e->policy->parties[s->party].name) : -1;
    if (me < 0)
        return mc2_err_set(err, MC2_E_AUTH, "party '%s' is not a participant of round job %llu",
                           s->party >= 0 ? e->policy->parties[s->party].name : "?",
                           (unsigned long long)j->id);
    mask_state *m = state(st, err);
    if (!m) return -1;
    sync_flags(m, st);
    if (m->stage != MC2_FL_STAGE_FAILED && j->state == JOB_FAILED) m->stage = MC2_FL_STAGE_FAILED;
    switch (op) {
    case MC2_FL_OP_MASK_KEYS:
        return req_keys(m, st, me, r, out, err);
    case MC2_FL_OP_MASK_POLL:
        if (mc2_rd_left(r))
            return mc2_err_set(err, MC2_E_INPUT, "masked round poll: body must be empty");
        return req_poll(m, st, me, out, err);
    case MC2_FL_OP_MASK_SHARES:
        return req_shares(m, st, me, r, out, err);
    case MC2_FL_OP_MASK_UNMASK:
        return req_unmask(m, st, me, r, out, err);
    default:
        return mc2_err_set(err, MC2_E_INPUT, "unknown masked-round op %u", op);
    }
}

/* ---- unmasking (runner thread; the stages are closed, so nothing changes the state) --------- */

static int finish(enclave *e, enc_job *j, enc_fl_state *st, mc2_err *err)
{
    (void)e;
    mask_state *m = st->mask;
    size_t nv = 0;
    uint32_t count = 0, survivors = 0;
    uint32_t *sum = st->agg ? mc2_fl_agg_masked_sum(st->agg, &nv, &count) : NULL;
    double *d = NULL;
    int rc = -1;

    if (!m || m->stage != MC2_FL_STAGE_CLOSED || !sum || !m->reveal)
        return mc2_err_set(err, MC2_E_INTERNAL, "jobs_fl_mask.c: unmask before the stages closed");
    for (size_t i = 0; i < nparts(st); i++) survivors += (m->flags[i] & MC2_FL_MF_MASKED) != 0;
    if (survivors != count || nv != st->r.shape.nvalues + 1)
        return mc2_err_set(err, MC2_E_INTERNAL, "jobs_fl_mask.c: masked sum does not match");
    if (mc2_fl_unmask(sum, nv, nparts(st), st->r.mask_threshold, m->flags, m->s_pk,
                      (const uint8_t(*)[MC2_FL_SEED_LEN])m->reveal, j->text_sha256, err)) {
        mc2_err_prefix(err, "masked round: ");
        goto out;
    }
    if (!(d = mc2_malloc(nv * sizeof *d))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory unmasking the round");
        goto out;
    }
    mc2_fl_dequantize_sum(sum, nv, count, st->r.clipping_range, (uint32_t)st->r.quantization_range,
                          d);
    /* element 0: sum of ratio_i = w_i / max_weight; the rest: sum of ratio_i * u_i */
    double mw = (double)st->r.max_weight;
    for (size_t k = 0; k < nv; k++) d[k] *= mw;
    if (!(d[0] > 0)) {
        mc2_err_set(err, MC2_E_INPUT, "masked round: the unmasked total weight is not positive");
        goto out;
    }
    rc = mc2_fl_agg_add_sum(st->agg, d + 1, d[0], count, err);
out:
    if (d) mc2_free_wipe(d, nv * sizeof *d);
    mc2_wipe(sum, nv * sizeof *sum);
    return rc;
}

static void release(enc_fl_state *st)
{
    mask_state *m = st->mask;
    if (!m) return;
    size_t n = nparts(st);
    if (m->ct) mc2_free(m->ct);
    if (m->reveal) mc2_free_wipe(m->reveal, n * n * MC2_FL_SEED_LEN);
    mc2_free_wipe(m, sizeof *m);
    st->mask = NULL;
}

const enc_fl_mask_ops enc_fl_masked = {check, ready, request, put, finish, release};
