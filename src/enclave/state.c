/* state.c - TRUSTED: encoding, decoding and sealing of the enclave's durable state (the
 * contract and the restart rules are in state.h, the bytes in docs/format.md). The decoder
 * reads bytes that were authenticated, but treats them as hostile anyway. */
#include "enclave/state.h"

#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"

#define NONE_IDX 0xffffffffu

static uint32_t idx_or_none(int v)
{
    return v < 0 ? NONE_IDX : (uint32_t)v;
}

static bool started(const enc_job *j)
{
    return j->state == JOB_RUNNING && strcmp(j->status, "queued") != 0;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int put_job(const enclave *e, const enc_job *j, mc2_buf *b, mc2_err *err)
{
    size_t np = e->policy->nparties;
    bool key_present =
        j->model_key_granted && !started(j) && j->state != JOB_DONE && j->state != JOB_FAILED;
    static const uint8_t zero[MC2_KEY_LEN];
    uint8_t flags = (uint8_t)((j->model_key_granted ? 1 : 0) | (key_present ? 2 : 0));
    if (mc2_buf_put_u64(b, j->id, err) || mc2_buf_put_lv(b, j->text, j->text_len, err) ||
        mc2_buf_put_u32(b, (uint32_t)j->submitter, err) ||
        mc2_buf_put_u32(b, idx_or_none(j->model_owner), err) || mc2_buf_put_u8(b, flags, err) ||
        mc2_buf_append(b, key_present ? j->model_key : zero, MC2_KEY_LEN, err))
        return -1;
    for (size_t p = 0; p < np; p++)
        if (mc2_buf_put_u8(b, j->approved[p] ? 1 : 0, err)) return -1;
    bool done = j->state == JOB_DONE;
    size_t nres = done ? j->nresults : 0;
    if (mc2_buf_put_u8(b, (uint8_t)j->state, err) ||
        mc2_buf_put_lv(b, j->status, strlen(j->status), err) ||
        mc2_buf_put_u32(b, (uint32_t)nres, err))
        return -1;
    for (size_t i = 0; i < nres; i++) {
        const enc_result *r = &j->results[i];
        if (mc2_buf_put_lv(b, r->name, strlen(r->name), err) ||
            mc2_buf_append(b, r->key, MC2_KEY_LEN, err) ||
            mc2_buf_put_u32(b, idx_or_none(r->party), err))
            return -1;
    }
    return 0;
}

int enc_state_encode(const enclave *e, mc2_buf *out, mc2_err *err)
{
    size_t np = e->policy->nparties;
    if (mc2_buf_put_u32(out, ENC_STATE_VERSION, err) ||
        mc2_buf_append(out, e->instance, sizeof e->instance, err) ||
        mc2_buf_put_u64(out, e->next_counter, err) || mc2_buf_put_u32(out, (uint32_t)np, err))
        return -1;
    for (size_t p = 0; p < np; p++)
        if (mc2_buf_put_u8(out, e->has_key[p] ? 1 : 0, err) ||
            mc2_buf_append(out, e->keys[p], MC2_KEY_LEN, err))
            return -1;
    if (mc2_buf_put_u32(out, (uint32_t)e->njobs, err)) return -1;
    for (size_t i = 0; i < e->njobs; i++)
        if (put_job(e, e->jobs[i], out, err)) return -1;
    if (out->len > ENC_STATE_MAX)
        return mc2_err_set(err, MC2_E_LIMIT, "the enclave state is larger than %u MiB",
                           ENC_STATE_MAX >> 20);
    return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

static void job_free(enc_job *j)
{
    if (!j) return;
    mc2_wipe(j->results, sizeof j->results);
    mc2_wipe(j->model_key, sizeof j->model_key);
    mc2_job_free(&j->job);
    mc2_free(j->text);
    mc2_free(j);
}

void enc_state_clear(enclave *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        const enc_kind *k = enc_kind_find(e->jobs[i]->job.kind, NULL);
        if (k && k->release) k->release(e->jobs[i]);
        job_free(e->jobs[i]);
        e->jobs[i] = NULL;
    }
    e->njobs = 0;
    mc2_wipe(e->keys, sizeof e->keys);
    memset(e->has_key, 0, sizeof e->has_key);
}

static int bad(mc2_err *err, const char *what)
{
    return mc2_err_set(err, MC2_E_INPUT, "the sealed enclave state is malformed: %s", what);
}

/* A party index (or NONE_IDX where `none_ok`) below np. */
static int rd_party(mc2_rd *r, size_t np, bool none_ok, int *out)
{
    uint32_t v = mc2_rd_u32(r);
    if (r->bad) return -1;
    if (v == NONE_IDX && none_ok) {
        *out = -1;
        return 0;
    }
    if (v >= np) return -1;
    *out = (int)v;
    return 0;
}

/* A length-value string of 1..cap-1 bytes without NUL into out[cap]. */
static int rd_str(mc2_rd *r, char *out, size_t cap, bool empty_ok)
{
    size_t n;
    const uint8_t *p = mc2_rd_lv(r, &n);
    if (r->bad || n >= cap || (!empty_ok && n == 0) || (n && memchr(p, 0, n))) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int get_results(mc2_rd *r, size_t np, enc_job *j, mc2_err *err)
{
    uint32_t n = mc2_rd_u32(r);
    if (r->bad || n > ENC_MAX_RESULTS || (n && j->state != JOB_DONE))
        return bad(err, "result count");
    for (uint32_t i = 0; i < n; i++) {
        enc_result *res = &j->results[i];
        const uint8_t *key;
        if (rd_str(r, res->name, sizeof res->name, false) || !(key = mc2_rd_take(r, MC2_KEY_LEN)) ||
            rd_party(r, np, true, &res->party))
            return bad(err, "result");
        memcpy(res->key, key, MC2_KEY_LEN);
    }
    j->nresults = n;
    return 0;
}

/* The job's text (also parsed, hashed) and identity fields. */
static int get_text(mc2_rd *r, enc_job *j, mc2_err *err)
{
    size_t n;
    j->id = mc2_rd_u64(r);
    const uint8_t *t = mc2_rd_lv(r, &n);
    if (r->bad || n == 0 || n > MC2_JOB_MAX_TEXT) return bad(err, "job text");
    j->text = mc2_malloc(n + 1);
    if (!j->text) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    memcpy(j->text, t, n);
    j->text[n] = '\0';
    j->text_len = n;
    mc2_err perr;
    if (mc2_job_parse(j->text, n, &j->job, &perr) || j->job.counter != j->id)
        return bad(err, "a job text does not parse");
    return mc2_sha256(t, n, j->text_sha256, err);
}

static int get_job(const enclave *e, mc2_rd *r, enc_job *j, bool *key_present, mc2_err *err)
{
    size_t np = e->policy->nparties;
    if (get_text(r, j, err)) return -1;
    uint8_t flags = 0;
    const uint8_t *key = NULL;
    if (rd_party(r, np, false, &j->submitter) || rd_party(r, np, true, &j->model_owner) ||
        (flags = mc2_rd_u8(r), !(key = mc2_rd_take(r, MC2_KEY_LEN))) || flags > 3 || flags == 2 ||
        (flags && j->model_owner < 0))
        return bad(err, "job parties");
    j->model_key_granted = flags & 1;
    *key_present = flags & 2;
    if (flags & 2) memcpy(j->model_key, key, MC2_KEY_LEN);
    for (size_t p = 0; p < np; p++) {
        uint8_t a = mc2_rd_u8(r);
        if (r->bad || a > 1) return bad(err, "approvals");
        j->approved[p] = a;
    }
    uint8_t st = mc2_rd_u8(r);
    if (r->bad || st > JOB_RUNNING || rd_str(r, j->status, sizeof j->status, true))
        return bad(err, "job state");
    j->state = (enum enc_job_state)st;
    return get_results(r, np, j, err);
}

/* The restart rules of state.h for restored job j (flags & 2 told whether the model key is
 * still there). */
static void restart_rules(enc_job *j, bool key_present)
{
    bool unfinished = j->state == JOB_WAITING || j->state == JOB_RUNNING;
    if (unfinished && strcmp(j->job.kind, "fedavg") == 0) {
        j->state = JOB_FAILED;
        snprintf(j->status, sizeof j->status, "%s", ENC_STATE_RESTART_MSG);
    } else if (j->state == JOB_RUNNING && j->model_key_granted && !key_present) {
        j->state = JOB_FAILED;
        snprintf(j->status, sizeof j->status, "%s", ENC_STATE_RESTART_MODEL_MSG);
    } else if (j->state == JOB_RUNNING) {
        j->state = JOB_WAITING; /* enc_jobs_advance queues it again */
        snprintf(j->status, sizeof j->status, "queued again after an enclave restart");
    }
    j->submitted_ms = enc_now_ms();
}

static bool id_taken(enc_job *const *jobs, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->id == id) return true;
    return false;
}

/* The jobs, into jobs[0..*n). */
static int get_jobs(const enclave *e, mc2_rd *r, uint64_t next, enc_job **jobs, size_t *n,
                    mc2_err *err)
{
    uint32_t nj = mc2_rd_u32(r);
    if (r->bad || nj > ENC_MAX_JOBS) return bad(err, "job count");
    for (uint32_t i = 0; i < nj; i++) {
        enc_job *j = mc2_calloc(1, sizeof *j);
        if (!j) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        jobs[(*n)++] = j;
        bool key_present = false;
        if (get_job(e, r, j, &key_present, err)) return -1;
        if (j->id == 0 || j->id >= next || id_taken(jobs, *n - 1, j->id)) return bad(err, "job id");
        restart_rules(j, key_present);
    }
    return 0;
}

int enc_state_decode(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    if (e->njobs) MC2_PANIC("enc_state_decode: the enclave already holds jobs");
    size_t np = e->policy->nparties, nj = 0;
    enc_job **jobs = mc2_calloc(ENC_MAX_JOBS, sizeof *jobs);
    bool *has = mc2_calloc(MC2_POLICY_MAX_PARTIES, sizeof *has);
    uint8_t(*keys)[MC2_KEY_LEN] = mc2_calloc(MC2_POLICY_MAX_PARTIES, MC2_KEY_LEN);
    int rc = -1;
    if (!jobs || !has || !keys) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    mc2_rd r = mc2_rd_init(p, n);
    uint32_t ver = mc2_rd_u32(&r);
    const uint8_t *inst = mc2_rd_take(&r, 32);
    uint64_t next = mc2_rd_u64(&r);
    uint32_t nparties = mc2_rd_u32(&r);
    if (r.bad || ver != ENC_STATE_VERSION) {
        bad(err, "unknown version");
        goto out;
    }
    if (nparties != np || next == 0 || next == UINT64_MAX) {
        bad(err, "party count or counter");
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        uint8_t h = mc2_rd_u8(&r);
        const uint8_t *k = mc2_rd_take(&r, MC2_KEY_LEN);
        if (r.bad || h > 1) {
            bad(err, "data keys");
            goto out;
        }
        has[i] = h;
        memcpy(keys[i], k, MC2_KEY_LEN);
    }
    if (get_jobs(e, &r, next, jobs, &nj, err)) goto out;
    if (mc2_rd_left(&r)) {
        bad(err, "trailing bytes");
        goto out;
    }
    memcpy(e->instance, inst, 32);
    e->next_counter = next;
    memcpy(e->has_key, has, np * sizeof *has);
    memcpy(e->keys, keys, np * MC2_KEY_LEN);
    memcpy(e->jobs, jobs, nj * sizeof *jobs);
    e->njobs = nj;
    nj = 0;
    rc = 0;
out:
    for (size_t i = 0; i < nj; i++) job_free(jobs[i]);
    if (keys) mc2_wipe(keys, (size_t)MC2_POLICY_MAX_PARTIES * MC2_KEY_LEN);
    mc2_free(keys);
    mc2_free(has);
    mc2_free(jobs);
    return rc;
}

/* ---- sealing ------------------------------------------------------------------------------ */

static void make_aad(const enclave *e, uint64_t gen, uint8_t *aad)
{
    size_t l = sizeof ENC_SEAL_LABEL - 1;
    memcpy(aad, ENC_SEAL_LABEL, l);
    memcpy(aad + l, e->measurement, 32);
    memcpy(aad + l + 32, e->policy->hash, 32);
    mc2_le64_put(aad + l + 64, gen);
}

#define AAD_LEN (sizeof ENC_SEAL_LABEL - 1 + 32 + 32 + 8)

int enc_state_seal(enclave *e, uint64_t gen, const uint8_t *plain, size_t n, mc2_buf *out,
                   mc2_err *err)
{
    uint8_t key[32], nonce[MC2_NONCE_LEN], aad[AAD_LEN];
    mc2_aead *a = NULL;
    int rc = -1;
    make_aad(e, gen, aad);
    if (n > ENC_STATE_MAX || enc_seal_key(e, key, err) || mc2_random(nonce, sizeof nonce, err) ||
        !(a = mc2_aead_new(key, err)))
        goto out;
    size_t at = out->len + ENC_SEAL_HDR;
    if (mc2_buf_append(out, "MC2SEALD", 8, err) || mc2_buf_put_u32(out, 1, err) ||
        mc2_buf_put_u64(out, gen, err) || mc2_buf_append(out, e->measurement, 32, err) ||
        mc2_buf_append(out, e->policy->hash, 32, err) ||
        mc2_buf_append(out, nonce, sizeof nonce, err) || mc2_buf_put_u64(out, n, err) ||
        mc2_buf_reserve(out, n + MC2_TAG_LEN, err))
        goto out;
    if (mc2_aead_seal(a, nonce, aad, sizeof aad, plain, n, out->data + at, out->data + at + n, err))
        goto out;
    out->len = at + n + MC2_TAG_LEN;
    rc = 0;
out:
    mc2_aead_free(a);
    mc2_wipe(key, sizeof key);
    return rc;
}

/* Checks the clear header; *gen, *nonce, *ct and *ctlen point into p. */
static int open_header(enclave *e, mc2_rd *r, uint64_t *gen, const uint8_t **nonce, size_t *ctlen,
                       mc2_err *err)
{
    const uint8_t *magic = mc2_rd_take(r, 8);
    uint32_t ver = mc2_rd_u32(r);
    *gen = mc2_rd_u64(r);
    const uint8_t *meas = mc2_rd_take(r, 32), *pol = mc2_rd_take(r, 32);
    *nonce = mc2_rd_take(r, MC2_NONCE_LEN);
    uint64_t n = mc2_rd_u64(r);
    if (r->bad || memcmp(magic, "MC2SEALD", 8) != 0 || ver != 1)
        return mc2_err_set(err, MC2_E_INPUT, "the sealed enclave state is not a sealed state v1");
    if (n > ENC_STATE_MAX || mc2_rd_left(r) != n + MC2_TAG_LEN)
        return mc2_err_set(err, MC2_E_INPUT,
                           "the sealed enclave state is truncated or has trailing bytes");
    if (memcmp(meas, e->measurement, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the sealed enclave state was sealed by another enclave build (a "
                           "state sealed by one build opens only in that build)");
    if (memcmp(pol, e->policy->hash, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "the sealed enclave state belongs to another consortium policy");
    *ctlen = (size_t)n;
    return 0;
}

bool enc_state_foreign(const enclave *e, const uint8_t *p, size_t n, const char **why)
{
    if (n < ENC_SEAL_HDR || memcmp(p, "MC2SEALD", 8) != 0 || mc2_le32_get(p + 8) != 1) return false;
    if (memcmp(p + 20, e->measurement, 32) != 0)
        *why = "it was sealed by another enclave build";
    else if (memcmp(p + 52, e->policy->hash, 32) != 0)
        *why = "it belongs to another consortium policy";
    else
        return false;
    return true;
}

int enc_state_open(enclave *e, const uint8_t *p, size_t n, mc2_buf *plain, uint64_t *gen,
                   mc2_err *err)
{
    uint8_t key[32], aad[AAD_LEN];
    const uint8_t *nonce;
    size_t ctlen = 0;
    mc2_aead *a = NULL;
    int rc = -1;
    mc2_rd r = mc2_rd_init(p, n);
    plain->secret = 1;
    mc2_buf_reset(plain);
    if (open_header(e, &r, gen, &nonce, &ctlen, err)) goto out;
    const uint8_t *ct = mc2_rd_take(&r, ctlen), *tag = mc2_rd_take(&r, MC2_TAG_LEN);
    make_aad(e, *gen, aad);
    if (enc_seal_key(e, key, err) || !(a = mc2_aead_new(key, err)) ||
        mc2_buf_reserve(plain, ctlen ? ctlen : 1, err))
        goto out;
    mc2_err oerr;
    if (mc2_aead_open(a, nonce, aad, sizeof aad, ct, ctlen, tag, plain->data, &oerr)) {
        mc2_err_set(err, MC2_E_AUTH,
                    "the sealed enclave state does not authenticate: it was tampered with, or "
                    "sealed under another platform key");
        goto out;
    }
    plain->len = ctlen;
    rc = 0;
out:
    mc2_aead_free(a);
    mc2_wipe(key, sizeof key);
    if (rc) mc2_buf_free(plain);
    return rc;
}
