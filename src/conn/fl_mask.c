/* fl_mask.c - the client's side of a masked fedavg round (conn/fl_mask.h; the protocol is in
 * fl/mask.h). Every reply of the enclave is parsed as hostile bytes. */
#include "conn/fl_mask.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "fl/mask.h"
#include "wire/proto.h"

#define P MC2_FL_MAX_PARTICIPANTS

/* What a POLL told: the stage, the flags, the keys (from the shares stage on) and the sealed
 * shares addressed to this party (from the masked stage on, if it sent its own). */
typedef struct view {
    int stage;
    uint8_t flags[P];
    uint8_t c_pk[P][MC2_X25519_LEN], s_pk[P][MC2_X25519_LEN];
    bool has_ct[P];
    uint8_t ct[P][MC2_FL_SHARE_CT_LEN];
} view;

/* This party's secrets for the round (wiped on the way out). */
typedef struct secrets {
    uint8_t c_sk[MC2_X25519_LEN], s_sk[MC2_X25519_LEN], b[MC2_FL_SEED_LEN];
    uint8_t held_s[P][MC2_FL_SEED_LEN], held_b[P][MC2_FL_SEED_LEN]; /* shares this party holds */
    uint8_t split_s[P][MC2_FL_SEED_LEN], split_b[P][MC2_FL_SEED_LEN];
} secrets;

static const char *const STAGES[] = {"keys",   "shares", "masked input",
                                     "unmask", "closed", "failed"};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int kind_call(mc2_esession *s, uint64_t job, uint8_t op, const mc2_buf *body, mc2_buf *reply,
                     mc2_err *err)
{
    mc2_buf req = {.secret = 1};
    int rc = mc2_buf_put_u64(&req, job, err) || mc2_buf_put_u8(&req, op, err) ||
                     (body && mc2_buf_append(&req, body->data, body->len, err)) ||
                     mc2_esession_call(s, EAPI_KIND, req.data, req.len, reply, err)
                 ? -1
                 : 0;
    mc2_buf_free(&req);
    return rc;
}

static int poll_view(mc2_esession *s, const mc2_fl_mask_args *a, view *v, mc2_err *err)
{
    mc2_buf reply = {0};
    size_t n = a->r->nparts;
    int rc = -1;
    if (kind_call(s, a->job, MC2_FL_OP_MASK_POLL, NULL, &reply, err)) goto out;
    mc2_rd r = mc2_rd_init(reply.data, reply.len);
    v->stage = mc2_rd_u8(&r);
    size_t rn = mc2_rd_u8(&r);
    const uint8_t *flags = mc2_rd_take(&r, n);
    if (r.bad || rn != n || v->stage > MC2_FL_STAGE_FAILED) goto bad;
    memcpy(v->flags, flags, n);
    if (v->stage >= MC2_FL_STAGE_SHARES && v->stage != MC2_FL_STAGE_FAILED)
        for (size_t i = 0; i < n; i++) {
            const uint8_t *c = mc2_rd_take(&r, MC2_X25519_LEN),
                          *sp = mc2_rd_take(&r, MC2_X25519_LEN);
            if (r.bad) goto bad;
            memcpy(v->c_pk[i], c, MC2_X25519_LEN);
            memcpy(v->s_pk[i], sp, MC2_X25519_LEN);
        }
    memset(v->has_ct, 0, sizeof v->has_ct);
    if (mc2_rd_left(&r)) {
        uint32_t m = mc2_rd_u32(&r);
        if (r.bad || m > n) goto bad;
        for (uint32_t k = 0; k < m; k++) {
            uint32_t from = mc2_rd_u32(&r);
            const uint8_t *ct = mc2_rd_take(&r, MC2_FL_SHARE_CT_LEN);
            if (r.bad || from >= n || v->has_ct[from]) goto bad;
            v->has_ct[from] = true;
            memcpy(v->ct[from], ct, MC2_FL_SHARE_CT_LEN);
        }
    }
    if (mc2_rd_left(&r)) goto bad;
    rc = 0;
    goto out;
bad:
    mc2_err_set(err, MC2_E_INPUT, "masked round job %llu: malformed stage reply from the enclave",
                (unsigned long long)a->job);
out:
    mc2_buf_free(&reply);
    return rc;
}

/* Polls until the round is at stage `want` or later (pauses growing from 1 to 50 ms); fails
 * with the job's own reason if it failed, or at the deadline. */
static int wait_stage(mc2_esession *s, const mc2_fl_mask_args *a, int want, uint64_t deadline,
                      view *v, mc2_err *err)
{
    long pause = 1;
    for (;;) {
        if (poll_view(s, a, v, err)) return -1;
        if (v->stage == MC2_FL_STAGE_FAILED) {
            mc2_buf text = {0}, state = {0};
            int rc = mc2_job_state(s, a->job, &text, &state, err);
            if (rc == 0)
                mc2_err_set(err, MC2_E_INPUT, "masked round job %llu %.*s",
                            (unsigned long long)a->job, (int)state.len, (const char *)state.data);
            mc2_buf_free(&text);
            mc2_buf_free(&state);
            return -1;
        }
        if (v->stage >= want) return 0;
        uint64_t now = now_ms();
        if (now >= deadline)
            return mc2_err_set(err, MC2_E_INPUT,
                               "masked round job %llu: timed out waiting at stage %s (the "
                               "others have not all posted; the stage closes at its "
                               "stage_timeout_s)",
                               (unsigned long long)a->job, STAGES[v->stage]);
        uint64_t left = deadline - now;
        struct timespec ts = {0, (pause < (long)left ? pause : (long)left) * 1000000L};
        nanosleep(&ts, NULL);
        pause = pause * 2 > 50 ? 50 : pause * 2;
    }
}

static int not_in(const mc2_fl_mask_args *a, const char *what, mc2_err *err)
{
    return mc2_err_set(err, MC2_E_AUTH,
                       "masked round job %llu: '%s' is not in the %s set (it missed that stage "
                       "and takes no further part)",
                       (unsigned long long)a->job, a->r->parts[a->me], what);
}

/* Shares stage: splits s_sk and b among U1 and seals each other member's pair to it. */
static int post_shares(mc2_esession *s, const mc2_fl_mask_args *a, const view *v, secrets *x,
                       mc2_err *err)
{
    size_t n = a->r->nparts, m = 0;
    uint8_t xs[P], key[MC2_FL_SEED_LEN], pt[MC2_FL_SHARE_PT_LEN], ct[MC2_FL_SHARE_CT_LEN];
    int idx[P];
    mc2_buf body = {0}, reply = {0};
    int rc = -1;
    for (size_t j = 0; j < n; j++)
        if (v->flags[j] & MC2_FL_MF_KEYS) {
            xs[m] = (uint8_t)(j + 1);
            idx[m++] = (int)j;
        }
    if (m < a->r->mask_threshold)
        return mc2_err_set(err, MC2_E_INTERNAL, "masked round: fewer than t in the key set");
    if (mc2_fl_shamir_split(x->s_sk, a->r->mask_threshold, xs, m, x->split_s, err) ||
        mc2_fl_shamir_split(x->b, a->r->mask_threshold, xs, m, x->split_b, err) ||
        mc2_buf_put_u32(&body, (uint32_t)(m - 1), err))
        goto out;
    for (size_t k = 0; k < m; k++) {
        int j = idx[k];
        if (j == a->me) {
            memcpy(x->held_s[j], x->split_s[k], MC2_FL_SEED_LEN);
            memcpy(x->held_b[j], x->split_b[k], MC2_FL_SEED_LEN);
            continue;
        }
        memcpy(pt, x->split_s[k], MC2_FL_SEED_LEN);
        memcpy(pt + MC2_FL_SEED_LEN, x->split_b[k], MC2_FL_SEED_LEN);
        if (mc2_fl_agree(x->c_sk, v->c_pk[j], a->rid, MC2_FL_AGREE_SHARE, key, err) ||
            mc2_fl_share_seal(key, a->rid, (uint32_t)a->me, (uint32_t)j, pt, ct, err) ||
            mc2_buf_put_u32(&body, (uint32_t)j, err) || mc2_buf_append(&body, ct, sizeof ct, err))
            goto out;
    }
    rc = kind_call(s, a->job, MC2_FL_OP_MASK_SHARES, &body, &reply, err);
out:
    mc2_wipe(key, sizeof key);
    mc2_wipe(pt, sizeof pt);
    mc2_buf_free(&body);
    mc2_buf_free(&reply);
    return rc;
}

/* Masked stage: opens the shares addressed to this party (from every other member of U2),
 * then y = q(ratio * [1, clip(u)]) + PRG(b) +- PRG(s_ij) and hands y to a->put. */
static int post_masked(const mc2_fl_mask_args *a, const view *v, secrets *x, mc2_err *err)
{
    size_t n = a->r->nparts, nv = a->r->shape.nvalues + 1;
    uint8_t key[MC2_FL_SEED_LEN], pt[MC2_FL_SHARE_PT_LEN];
    double *d = mc2_malloc(nv * sizeof *d);
    uint32_t *y = mc2_malloc(nv * sizeof *y);
    int rc = -1;
    if (!d || !y) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory masking the update");
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        if (!(v->flags[j] & MC2_FL_MF_SHARES) || (int)j == a->me) continue;
        if (!v->has_ct[j]) {
            mc2_err_set(err, MC2_E_INPUT, "masked round: the enclave sent no share from '%s'",
                        a->r->parts[j]);
            goto out;
        }
        if (mc2_fl_agree(x->c_sk, v->c_pk[j], a->rid, MC2_FL_AGREE_SHARE, key, err) ||
            mc2_fl_share_open(key, a->rid, (uint32_t)j, (uint32_t)a->me, v->ct[j], pt, err))
            goto out;
        memcpy(x->held_s[j], pt, MC2_FL_SEED_LEN);
        memcpy(x->held_b[j], pt + MC2_FL_SEED_LEN, MC2_FL_SEED_LEN);
    }
    double ratio = (double)a->weight / (double)a->r->max_weight;
    if (ratio > 1) ratio = 1;
    double norm = 0, scale = 1;
    for (size_t k = 0; k + 1 < nv; k++) norm += (double)a->u[k] * (double)a->u[k];
    norm = sqrt(norm);
    if (a->r->clip_norm > 0 && norm > a->r->clip_norm) scale = a->r->clip_norm / norm;
    d[0] = ratio;
    for (size_t k = 0; k + 1 < nv; k++) d[k + 1] = ratio * scale * (double)a->u[k];
    bool in_u2[P];
    for (size_t j = 0; j < n; j++) in_u2[j] = (v->flags[j] & MC2_FL_MF_SHARES) != 0;
    if (mc2_fl_mask_input(d, nv, a->r->clipping_range, (uint32_t)a->r->quantization_range,
                          (size_t)a->me, x->b, x->s_sk, v->s_pk, in_u2, n, a->rid, y, err))
        goto out;
    rc = a->put(a->put_ctx, y, nv, err);
out:
    mc2_wipe(key, sizeof key);
    mc2_wipe(pt, sizeof pt);
    if (d) mc2_free_wipe(d, nv * sizeof *d);
    if (y) mc2_free_wipe(y, nv * sizeof *y);
    return rc;
}

/* Unmask stage: for each member j of U2, the share of b_j if j's masked input arrived (U3),
 * else the share of s_sk_j; never both. */
static int post_unmask(mc2_esession *s, const mc2_fl_mask_args *a, const view *v, const secrets *x,
                       mc2_err *err)
{
    size_t n = a->r->nparts;
    uint32_t m = 0;
    mc2_buf body = {.secret = 1}, reply = {0};
    int rc = -1;
    for (size_t j = 0; j < n; j++) m += (v->flags[j] & MC2_FL_MF_SHARES) != 0;
    if (mc2_buf_put_u32(&body, m, err)) goto out;
    for (size_t j = 0; j < n; j++) {
        if (!(v->flags[j] & MC2_FL_MF_SHARES)) continue;
        const uint8_t *sh = (v->flags[j] & MC2_FL_MF_MASKED) ? x->held_b[j] : x->held_s[j];
        if (mc2_buf_put_u32(&body, (uint32_t)j, err) ||
            mc2_buf_append(&body, sh, MC2_FL_SEED_LEN, err))
            goto out;
    }
    rc = kind_call(s, a->job, MC2_FL_OP_MASK_UNMASK, &body, &reply, err);
out:
    mc2_buf_free(&body);
    mc2_buf_free(&reply);
    return rc;
}

int mc2_fl_mask_submit(mc2_esession *s, const mc2_fl_mask_args *a, mc2_err *err)
{
    uint8_t c_pk[MC2_X25519_LEN], s_pk[MC2_X25519_LEN];
    mc2_buf body = {0}, reply = {0};
    uint64_t deadline = now_ms() + a->timeout_ms;
    view *v = mc2_calloc(1, sizeof *v);
    secrets *x = mc2_calloc(1, sizeof *x);
    int rc = -1;

    if (!v || !x) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory for a masked round");
        goto out;
    }
    if (a->me < 0 || (size_t)a->me >= a->r->nparts || a->weight < 1) {
        mc2_err_set(err, MC2_E_USAGE, "masked round: bad participant index or weight");
        goto out;
    }
    /* 1 keys */
    if (mc2_x25519_keygen(c_pk, x->c_sk, err) || mc2_x25519_keygen(s_pk, x->s_sk, err) ||
        mc2_random(x->b, sizeof x->b, err) || mc2_buf_append(&body, c_pk, sizeof c_pk, err) ||
        mc2_buf_append(&body, s_pk, sizeof s_pk, err) ||
        kind_call(s, a->job, MC2_FL_OP_MASK_KEYS, &body, &reply, err))
        goto out;
    if (a->vanish == MC2_FL_VANISH_AFTER_KEYS) goto vanish;
    /* 2 shares */
    if (wait_stage(s, a, MC2_FL_STAGE_SHARES, deadline, v, err)) goto out;
    if (!(v->flags[a->me] & MC2_FL_MF_KEYS)) {
        not_in(a, "key", err);
        goto out;
    }
    if (post_shares(s, a, v, x, err)) goto out;
    if (a->vanish == MC2_FL_VANISH_AFTER_SHARES) goto vanish;
    /* 3 masked input */
    if (wait_stage(s, a, MC2_FL_STAGE_MASKED, deadline, v, err)) goto out;
    if (!(v->flags[a->me] & MC2_FL_MF_SHARES)) {
        not_in(a, "shares", err);
        goto out;
    }
    if (post_masked(a, v, x, err)) goto out;
    /* 4 unmask */
    if (wait_stage(s, a, MC2_FL_STAGE_UNMASK, deadline, v, err)) goto out;
    if (v->stage > MC2_FL_STAGE_UNMASK) goto vanish; /* closed without this party: not needed */
    if (!(v->flags[a->me] & MC2_FL_MF_MASKED)) {
        not_in(a, "masked input", err);
        goto out;
    }
    if (post_unmask(s, a, v, x, err)) goto out;
vanish:
    rc = 0;
out:
    mc2_buf_free(&body);
    mc2_buf_free(&reply);
    if (x) mc2_free_wipe(x, sizeof *x);
    mc2_free(v);
    return rc;
}
