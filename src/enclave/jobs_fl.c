/* jobs_fl.c - TRUSTED: the job kind `fedavg`, one federated-learning round (docs/fl.md).
 *
 * A round is a job with no inputs and no approvals: its participants consent by sending an
 * update. Each participant sends its encoded update (fl/fl.h) in FL_PUT chunks inside its
 * own attested session; with the last chunk comes its Ed25519 signature. The enclave then
 * checks, in this order: the encoding, the signature (by the session's party: a changed
 * weight or value fails here), that the update names this job (SHA-256 of its text: an
 * update made for another job or an earlier round fails) and its round number, that it is
 * the session's party's and the shape the job declares; and folds it into the aggregate at
 * once (the update's bytes are wiped). A participant contributes once.
 *
 * The round is released (the runner thread finishes the aggregate, seals the new model for
 * the recipients and keeps its key for a later round's base_job) when every participant
 * contributed, or at the deadline with at least k contributors; below k at the deadline it
 * fails and nothing is released. The deadline is checked lazily by `ready`, whenever anyone
 * asks (enc_jobs_advance after each request, EAPI_JOB).
 *
 * Masked rounds (`masks secagg`) go through the ops in MASK_OPS (jobs_fl.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "enclave/jobs_fl.h"
#include "wire/proto.h"

/* The masked path (jobs_fl_mask.c): &enc_fl_masked once it is built, else NULL. */
static const enc_fl_mask_ops *const MASK_OPS = &enc_fl_masked;

#define PUT_CHUNK_MAX ((size_t)ENC_READ_MAX) /* bytes of one FL_PUT chunk */

/* Bytes of unfinished updates the enclave holds, all rounds together (mu). Capped at the
 * enclave's memory budget: a party that starts an update and never finishes it holds its
 * bytes only until the round ends. */
static uint64_t g_pending;

static const char RESULT_SCHEMA[] = "table: fedavg\n"
                                    "columns:\n"
                                    "  - {name: round, type: INT64, nullable: false}\n"
                                    "  - {name: contributors, type: INT64, nullable: false}\n"
                                    "  - {name: total_weight, type: DOUBLE, nullable: false}\n"
                                    "  - {name: sigma, type: DOUBLE, nullable: false}\n"
                                    "  - {name: epsilon, type: DOUBLE, nullable: true}\n"
                                    "  - {name: delta, type: DOUBLE, nullable: false}\n"
                                    "  - {name: agg_ms, type: DOUBLE, nullable: false}\n";

/* Drops what a round holds of updates (pending bytes, the aggregate): when it ran or failed. */
static void drop_updates(enc_fl_state *st)
{
    for (size_t i = 0; i < MC2_FL_MAX_PARTICIPANTS; i++) {
        g_pending -= st->pending[i].len < g_pending ? st->pending[i].len : g_pending;
        mc2_buf_free(&st->pending[i]);
    }
    mc2_fl_agg_free(st->agg);
    st->agg = NULL;
}

/* The round's state, made at its first use (mu held). */
static enc_fl_state *round_state(enc_job *j, mc2_err *err)
{
    if (j->kstate) return j->kstate;
    enc_fl_state *st = mc2_calloc(1, sizeof *st);
    if (!st) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    if (mc2_fl_round_from_job(&j->job, &st->r, err)) {
        mc2_free(st);
        return NULL;
    }
    for (size_t i = 0; i < MC2_FL_MAX_PARTICIPANTS; i++) st->pending[i].secret = 1;
    st->deadline_ms = j->submitted_ms + st->r.deadline_s * 1000u;
    j->kstate = st;
    return st;
}

int enc_fl_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    mc2_fl_round r;
    if (mc2_fl_round_from_job(j, &r, err)) return -1;
    for (size_t i = 0; i < r.nparts; i++)
        if (!mc2_policy_party(e->policy, r.parts[i]))
            return mc2_err_set(err, MC2_E_INPUT, "'participants': %s is not a party of the policy",
                               r.parts[i]);
    if (r.masks == MC2_FL_MASKS_SECAGG) {
        if (!MASK_OPS)
            return mc2_err_set(err, MC2_E_INPUT,
                               "'masks secagg': this enclave build runs unmasked rounds only "
                               "(masks off)");
        if (MASK_OPS->check(&r, err)) return -1;
    }
    if (r.has_base) {
        enc_job *b = enc_job_find(e, r.base_job);
        if (!b || strcmp(b->job.kind, "fedavg") != 0)
            return mc2_err_set(err, MC2_E_NOTFOUND,
                               "'base_job': job %llu is not a fedavg round of this enclave "
                               "instance (unknown, or forgotten after %d newer jobs)",
                               (unsigned long long)r.base_job, ENC_MAX_JOBS);
        if (b->state == JOB_FAILED)
            return mc2_err_set(err, MC2_E_INPUT,
                               "'base_job': round %llu failed and released no model",
                               (unsigned long long)r.base_job);
        if (b->state == JOB_DONE && !b->kstate) /* restored from the sealed state (state.h) */
            return mc2_err_set(err, MC2_E_INPUT, ENC_FL_BASE_RESTART_MSG,
                               (unsigned long long)r.base_job);
        mc2_fl_round br;
        char t1[MC2_FL_TENSORS_TEXT_MAX], t2[MC2_FL_TENSORS_TEXT_MAX];
        if (mc2_fl_round_from_job(&b->job, &br, err)) return -1;
        mc2_fl_shape_format(&r.shape, t1, sizeof t1);
        mc2_fl_shape_format(&br.shape, t2, sizeof t2);
        if (strcmp(t1, t2) != 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "'base_job': round %llu's model has tensors %s, this round %s",
                               (unsigned long long)r.base_job, t2, t1);
    }
    return 0;
}

void enc_fl_status(const enc_fl_state *st, uint64_t now_ms, char *out, size_t cap)
{
    char have[MC2_ERR_MSG_MAX / 2] = "", miss[MC2_ERR_MSG_MAX / 2] = "";
    size_t nh = 0, lh = 0, lm = 0;
    for (size_t i = 0; i < st->r.nparts; i++) {
        char *dst = st->done[i] ? have : miss;
        size_t *l = st->done[i] ? &lh : &lm;
        if (*l < sizeof have) {
            int w = snprintf(dst + *l, sizeof have - *l, "%s%s", *l ? ", " : "", st->r.parts[i]);
            *l += w > 0 ? (size_t)w : 0;
        }
        nh += st->done[i];
    }
    uint64_t left = st->deadline_ms > now_ms ? (st->deadline_ms - now_ms + 999) / 1000 : 0;
    snprintf(out, cap, "waiting for updates: %zu of %zu (k = %u)%s%s%s%s; deadline in %llu s", nh,
             st->r.nparts, st->r.k, nh ? " from " : "", have, lm ? "; missing " : "", miss,
             (unsigned long long)left);
}

int enc_fl_ready(enclave *e, enc_job *j, mc2_err *err)
{
    enc_fl_state *st = round_state(j, err);
    if (!st) return -1;
    if (st->r.masks == MC2_FL_MASKS_SECAGG && MASK_OPS) return MASK_OPS->ready(e, j, st, err);
    uint32_t n = 0;
    for (size_t i = 0; i < st->r.nparts; i++) n += st->done[i];
    if (n == st->r.nparts) return 1;
    uint64_t now = enc_now_ms();
    if (now < st->deadline_ms) {
        enc_fl_status(st, now, j->status, sizeof j->status);
        return 0;
    }
    if (n >= st->r.k) return 1;
    char who[MC2_ERR_MSG_MAX / 2] = "";
    size_t l = 0;
    for (size_t i = 0; i < st->r.nparts && l < sizeof who; i++) {
        if (st->done[i]) continue;
        int w = snprintf(who + l, sizeof who - l, "%s%s", l ? ", " : "", st->r.parts[i]);
        l += w > 0 ? (size_t)w : 0;
    }
    drop_updates(st);
    return mc2_err_set(err, MC2_E_INPUT,
                       "only %u of %zu participants contributed by the deadline (k = %u): no "
                       "model released; missing %s",
                       n, st->r.nparts, st->r.k, who);
}

/* Checks a complete update of participant idx (its bytes in st->pending[idx], sig) and folds
 * it into the aggregate. */
static int fold_update(enclave *e, enc_job *j, enc_fl_state *st, int idx, int party,
                       const uint8_t *sig, mc2_err *err)
{
    const mc2_buf *b = &st->pending[idx];
    const mc2_party *p = &e->policy->parties[party];
    mc2_fl_update u;
    if (mc2_fl_update_decode(b->data, b->len, &u, err))
        return mc2_err_prefix(err, "update refused: ");
    if (mc2_fl_update_verify(p->pub, b->data, b->len, sig, err))
        return mc2_err_set(err, MC2_E_AUTH,
                           "update refused: the signature is not %s's over these bytes (its "
                           "weight or values were changed after signing)",
                           p->name);
    if (memcmp(u.job_sha256, j->text_sha256, MC2_SHA256_LEN) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "update refused: it was made for another job (an earlier round or "
                           "another round's job text), not job %llu",
                           (unsigned long long)j->id);
    if (u.round != st->r.round)
        return mc2_err_set(err, MC2_E_AUTH,
                           "update refused: it is for round %u, job %llu is round %u", u.round,
                           (unsigned long long)j->id, st->r.round);
    if (strcmp(u.party, p->name) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "update refused: it names %s, but %s sent it", u.party,
                           p->name);
    bool masked = st->r.masks == MC2_FL_MASKS_SECAGG;
    uint64_t want = st->r.shape.nvalues + (masked ? 1 : 0);
    if (u.form != (masked ? MC2_FL_FORM_MASKED : MC2_FL_FORM_FLOAT32) || u.nvalues != want)
        return mc2_err_set(err, MC2_E_INPUT,
                           "update refused: the round takes %llu %s values, the update holds %llu "
                           "(form %u)",
                           (unsigned long long)want, masked ? "masked" : "float32",
                           (unsigned long long)u.nvalues, u.form);
    if (!st->agg && mc2_fl_agg_new(&st->r, &st->agg, err)) return -1;
    if (masked) {
        if (MASK_OPS->put(e, j, st, idx, err) || mc2_fl_agg_add_masked_le(st->agg, u.values, err))
            return -1;
    } else if (mc2_fl_agg_add_le(st->agg, u.weight, u.values, err)) {
        return mc2_err_prefix(err, "update refused: ");
    }
    st->done[idx] = true;
    return 0;
}

/* FL_PUT: u64 offset | u8 last | bytes [| sig[64] if last] -> u8 complete. */
static int fl_put(enclave *e, enc_session *s, enc_job *j, enc_fl_state *st, mc2_rd *r, mc2_buf *out,
                  mc2_err *err)
{
    const char *me = e->policy->parties[s->party].name;
    int idx = mc2_fl_participant(&st->r, me);
    if (idx < 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "update refused: %s is not a participant of round job %llu", me,
                           (unsigned long long)j->id);
    if (j->state != JOB_WAITING)
        return mc2_err_set(err, MC2_E_USAGE,
                           "update refused: round job %llu is closed (%s); it takes no more "
                           "updates",
                           (unsigned long long)j->id,
                           j->state == JOB_FAILED ? "it failed" : "its model was released");
    if (st->done[idx])
        return mc2_err_set(err, MC2_E_EXISTS,
                           "update refused: %s already contributed to round job %llu (one update "
                           "per participant)",
                           me, (unsigned long long)j->id);
    if (enc_now_ms() >= st->deadline_ms)
        return mc2_err_set(err, MC2_E_USAGE,
                           "update refused: the deadline of round job %llu has passed",
                           (unsigned long long)j->id);
    uint64_t off = mc2_rd_u64(r);
    uint8_t last = mc2_rd_u8(r);
    size_t n = mc2_rd_left(r);
    if (r->bad || last > 1 || (last && n < MC2_ED25519_SIG_LEN))
        return mc2_err_set(err, MC2_E_INPUT,
                           "malformed update chunk (u64 offset | u8 last | bytes | sig if last)");
    size_t nb = n - (last ? MC2_ED25519_SIG_LEN : 0);
    const uint8_t *bytes = mc2_rd_take(r, nb),
                  *sig = last ? mc2_rd_take(r, MC2_ED25519_SIG_LEN) : NULL;
    mc2_buf *b = &st->pending[idx];
    if (off == 0 && b->len) { /* a fresh start replaces an unfinished one */
        g_pending -= b->len;
        mc2_buf_reset(b);
    }
    size_t max = mc2_fl_update_size(MC2_FL_PARTY_MAX, st->r.shape.nvalues + 1);
    if (off != b->len)
        return mc2_err_set(err, MC2_E_INPUT, "update chunk at offset %llu, expected %zu",
                           (unsigned long long)off, b->len);
    if (nb > PUT_CHUNK_MAX || b->len + nb > max)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "update refused: larger than the round's %llu values allow",
                           (unsigned long long)st->r.shape.nvalues);
    if (g_pending + nb > e->budget_bytes)
        return mc2_err_set(err, MC2_E_LIMIT,
                           "update refused: the enclave holds %llu MiB of unfinished updates (its "
                           "budget); try again when rounds finish",
                           (unsigned long long)(g_pending >> 20));
    if (mc2_buf_append(b, bytes, nb, err)) return -1;
    g_pending += nb;
    int rc = last ? fold_update(e, j, st, idx, s->party, sig, err) : 0;
    if (last || rc) { /* folded or refused: its bytes go */
        g_pending -= b->len;
        mc2_buf_free(b);
    }
    if (rc) return -1;
    uint8_t done = last;
    return enc_reply_ok(out, &done, 1, err);
}

int enc_fl_request(enclave *e, enc_session *s, enc_job *j, uint8_t op, mc2_rd *r, mc2_buf *out,
                   mc2_err *err)
{
    enc_fl_state *st = round_state(j, err);
    if (!st) return -1;
    if (op == FL_PUT) return fl_put(e, s, j, st, r, out, err);
    if (op >= FL_OP_MASKED_FIRST && st->r.masks == MC2_FL_MASKS_SECAGG && MASK_OPS)
        return MASK_OPS->request(e, s, j, st, op, r, out, err);
    return mc2_err_set(err, MC2_E_INPUT, "unknown fedavg request %u for job %llu", op,
                       (unsigned long long)j->id);
}

/* The base round's model (r->base_job, a finished fedavg round of this instance) into
 * base[0..nvalues). Runner thread: takes mu to read the base round's key. */
static int read_base(enclave *e, const mc2_fl_round *r, float *base, mc2_err *err)
{
    uint8_t key[MC2_KEY_LEN];
    char name[160];
    bool have = false;
    int state = -1;
    if (e->runner_started) pthread_mutex_lock(&e->mu);
    enc_job *b = enc_job_find(e, r->base_job);
    if (b && strcmp(b->job.kind, "fedavg") == 0) {
        state = (int)b->state;
        const enc_fl_state *bs = b->kstate;
        if (bs && bs->has_model) {
            memcpy(key, bs->model_key, sizeof key);
            snprintf(name, sizeof name, "%s", bs->model_name);
            have = true;
        }
    }
    if (e->runner_started) pthread_mutex_unlock(&e->mu);
    if (!have) {
        if (state < 0)
            return mc2_err_set(err, MC2_E_NOTFOUND,
                               "base_job %llu: the enclave no longer knows that round (forgotten "
                               "after %d newer jobs, or the service restarted)",
                               (unsigned long long)r->base_job, ENC_MAX_JOBS);
        if (state == JOB_DONE)
            return mc2_err_set(err, MC2_E_INPUT, ENC_FL_BASE_RESTART_MSG,
                               (unsigned long long)r->base_job);
        return mc2_err_set(err, MC2_E_INPUT, "base_job %llu has released no model (it %s)",
                           (unsigned long long)r->base_job,
                           state == JOB_FAILED ? "failed" : "has not finished");
    }
    mc2_buf sealed = {0}, plain = {.secret = 1};
    mc2_fl_model m = {0};
    int rc = enc_store_read(e, name, &sealed, err) ||
                     mc2_fl_open(key, sealed.data, sealed.len, &plain, err) ||
                     mc2_fl_model_decode(plain.data, plain.len, &m, err)
                 ? -1
                 : 0;
    mc2_wipe(key, sizeof key);
    if (rc == 0 && m.shape.nvalues != r->shape.nvalues)
        rc = mc2_err_set(err, MC2_E_INPUT, "base_job %llu's model has another shape",
                         (unsigned long long)r->base_job);
    if (rc == 0) memcpy(base, m.values, (size_t)r->shape.nvalues * sizeof *base);
    mc2_fl_model_free(&m);
    mc2_buf_free(&plain);
    mc2_buf_free(&sealed);
    return rc ? mc2_err_prefix(err, "base model: ") : 0;
}

static int add_report(enclave *e, enc_job *j, const mc2_fl_report *rep, mc2_err *err)
{
    mc2_schema *s = NULL;
    mc2_batch *b = NULL;
    int rc = -1;
    if (mc2_schema_parse("fedavg", RESULT_SCHEMA, sizeof RESULT_SCHEMA - 1, &s, err)) goto out;
    if (!(b = mc2_batch_new(s, 1, err))) goto out;
    b->cols[0].v.i64[0] = rep->round;
    b->cols[1].v.i64[0] = rep->contributors;
    b->cols[2].v.f64[0] = rep->total_weight;
    b->cols[3].v.f64[0] = rep->sigma;
    b->cols[4].nulls[0] = (uint8_t)(isfinite(rep->epsilon) ? 0 : 1); /* no noise: no DP guarantee */
    b->cols[4].v.f64[0] = isfinite(rep->epsilon) ? rep->epsilon : 0;
    b->cols[5].v.f64[0] = rep->delta;
    b->cols[6].v.f64[0] = rep->agg_ms; /* aggregation time inside the enclave (bench) */
    b->nrows = 1;
    rc = enc_add_table_result(e, j, -1, "round", b, err);
out:
    mc2_batch_free(b);
    mc2_schema_free(s);
    return rc;
}

int enc_fl_run(enclave *e, enc_job *j, mc2_err *err)
{
    enc_fl_state *st = j->kstate; /* made by ready; nothing else touches it while it runs */
    if (!st || !st->agg) return mc2_err_set(err, MC2_E_INTERNAL, "fedavg round without updates");
    if (st->r.masks == MC2_FL_MASKS_SECAGG && MASK_OPS->finish(e, j, st, err)) return -1;
    size_t n = (size_t)st->r.shape.nvalues;
    float *base = NULL, *model = mc2_malloc(n * sizeof *model);
    mc2_buf enc = {.secret = 1}, sealed = {0};
    mc2_fl_report rep;
    uint8_t key[MC2_KEY_LEN];
    int rc = -1;
    if (!model) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (st->r.has_base) {
        if (!(base = mc2_malloc(n * sizeof *base))) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto out;
        }
        if (read_base(e, &st->r, base, err)) goto out;
    }
    if (mc2_fl_agg_finish(st->agg, base, model, &rep, err) ||
        mc2_fl_model_encode(&st->r.shape, model, &rep, &enc, err) ||
        mc2_random(key, sizeof key, err) || mc2_fl_seal(key, enc.data, enc.len, &sealed, err) ||
        enc_add_result(e, j, -1, "model.mc2fl", sealed.data, sealed.len, key, err) ||
        add_report(e, j, &rep, err))
        goto out;
    if (e->runner_started) pthread_mutex_lock(&e->mu);
    memcpy(st->model_key, key, sizeof key);
    enc_result_name(e, j, "model.mc2fl", st->model_name, sizeof st->model_name);
    st->has_model = true;
    if (e->runner_started) pthread_mutex_unlock(&e->mu);
    rc = 0;
out:
    mc2_wipe(key, sizeof key);
    if (e->runner_started) pthread_mutex_lock(&e->mu);
    drop_updates(st);
    if (e->runner_started) pthread_mutex_unlock(&e->mu);
    if (model) {
        mc2_wipe(model, n * sizeof *model);
        mc2_free(model);
    }
    if (base) {
        mc2_wipe(base, n * sizeof *base);
        mc2_free(base);
    }
    mc2_buf_free(&enc);
    mc2_buf_free(&sealed);
    return rc;
}

void enc_fl_release(enc_job *j)
{
    enc_fl_state *st = j->kstate;
    if (!st) return;
    drop_updates(st);
    if (st->r.masks == MC2_FL_MASKS_SECAGG && MASK_OPS) MASK_OPS->release(st);
    mc2_wipe(st->model_key, sizeof st->model_key);
    mc2_free(st);
    j->kstate = NULL;
}

bool enc_fl_member(const enclave *e, const enc_job *j, int p)
{
    const enc_fl_state *st = j->kstate;
    return st && mc2_fl_participant(&st->r, e->policy->parties[p].name) >= 0;
}
