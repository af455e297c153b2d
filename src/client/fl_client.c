/* fl_client.c - the client side of fedavg rounds (fl_client.h). */
#include "client/fl_client.h"

#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "wire/proto.h"

int cli_fl_round(cli_session *cs, uint64_t id, mc2_fl_round *r, uint8_t sha[MC2_SHA256_LEN],
                 mc2_err *err)
{
    mc2_buf text = {0}, state = {0};
    mc2_job j;
    memset(&j, 0, sizeof j);
    int rc = -1;
    if (mc2_job_state(&cs->es, id, &text, &state, err) ||
        mc2_job_parse((const char *)text.data, text.len, &j, err))
        goto out;
    if (strcmp(j.kind, "fedavg") != 0) {
        mc2_err_set(err, MC2_E_USAGE, "job %llu is a %s job, not a fedavg round",
                    (unsigned long long)id, j.kind);
        goto out;
    }
    if (mc2_fl_round_from_job(&j, r, err) || (sha && mc2_sha256(text.data, text.len, sha, err)))
        goto out;
    rc = 0;
out:
    mc2_job_free(&j);
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    return rc;
}

int cli_fl_put(mc2_esession *es, uint64_t id, const uint8_t *upd, size_t n,
               const uint8_t sig[MC2_ED25519_SIG_LEN], size_t chunk, bool send_last, mc2_err *err)
{
    if (chunk == 0 || chunk > CLI_FL_CHUNK) chunk = CLI_FL_CHUNK;
    mc2_buf req = {.secret = 1}, reply = {.secret = 1};
    int rc = 0;
    for (size_t at = 0; rc == 0 && (at < n || at == 0);) {
        size_t take = n - at < chunk ? n - at : chunk;
        bool last = at + take == n;
        if (last && !send_last) break;
        mc2_buf_reset(&req);
        rc = mc2_buf_put_u64(&req, id, err) || mc2_buf_put_u8(&req, FL_PUT, err) ||
                     mc2_buf_put_u64(&req, at, err) || mc2_buf_put_u8(&req, last, err) ||
                     mc2_buf_append(&req, upd + at, take, err) ||
                     (last && mc2_buf_append(&req, sig, MC2_ED25519_SIG_LEN, err)) ||
                     mc2_esession_call(es, EAPI_KIND, req.data, req.len, &reply, err)
                 ? -1
                 : 0;
        at += take;
        if (last) break;
    }
    mc2_buf_free(&req);
    mc2_buf_free(&reply);
    return rc;
}

int cli_fl_submit(cli_session *cs, uint64_t id, const float *values, size_t n, uint64_t weight,
                  unsigned timeout_ms, mc2_err *err)
{
    (void)timeout_ms; /* unmasked rounds take one request; masked ones wait (fl-mask) */
    if (!cs->have_es && cli_session_attest(cs, err)) return -1;
    mc2_fl_round r;
    uint8_t sha[MC2_SHA256_LEN], sig[MC2_ED25519_SIG_LEN];
    if (cli_fl_round(cs, id, &r, sha, err)) return -1;
    if (mc2_fl_participant(&r, cs->id.name) < 0)
        return mc2_err_set(err, MC2_E_AUTH, "%s is not a participant of round job %llu",
                           cs->id.name, (unsigned long long)id);
    if (n != r.shape.nvalues)
        return mc2_err_set(err, MC2_E_USAGE,
                           "round job %llu takes %llu values (its tensors), not %zu",
                           (unsigned long long)id, (unsigned long long)r.shape.nvalues, n);
    if (weight == 0) return mc2_err_set(err, MC2_E_USAGE, "the weight must be at least 1");
    if (r.masks != MC2_FL_MASKS_OFF)
        return mc2_err_set(err, MC2_E_USAGE,
                           "round job %llu is masked (masks secagg): this client sends unmasked "
                           "updates only",
                           (unsigned long long)id);
    mc2_buf upd = {.secret = 1};
    int rc = mc2_fl_update_encode(sha, r.round, cs->id.name, weight, MC2_FL_FORM_FLOAT32, values, n,
                                  &upd, err) ||
                     mc2_fl_update_sign(cs->id.sec, upd.data, upd.len, sig, err) ||
                     cli_fl_put(&cs->es, id, upd.data, upd.len, sig, 0, true, err)
                 ? -1
                 : 0;
    mc2_buf_free(&upd);
    return rc;
}

int cli_fl_model(cli_session *cs, uint64_t id, uint64_t wait_ms, mc2_fl_model *m, mc2_err *err)
{
    memset(m, 0, sizeof *m);
    if (!cs->have_es && cli_session_attest(cs, err)) return -1;
    mc2_result_ref refs[8];
    mc2_buf state = {0}, sealed = {0}, plain = {.secret = 1};
    size_t nref = 0;
    int rc = -1;
    memset(refs, 0, sizeof refs);
    if (mc2_job_wait(&cs->es, id, true, (unsigned)(wait_ms > 0xffffffffu ? 0xffffffffu : wait_ms),
                     NULL, &state, err))
        goto out;
    const char *st = (const char *)state.data;
    if (strncmp(st, "failed", 6) == 0) {
        mc2_err_set(err, MC2_E_INPUT, "round job %llu %s", (unsigned long long)id, st);
        goto out;
    }
    if (strncmp(st, "done", 4) != 0) {
        mc2_err_set(err, MC2_E_NOTFOUND, "round job %llu has released no model yet: %s",
                    (unsigned long long)id, st);
        goto out;
    }
    if (mc2_esession_results(&cs->es, id, refs, 8, &nref, err)) goto out;
    const mc2_result_ref *ref = NULL;
    for (size_t i = 0; i < nref; i++) {
        size_t l = strlen(refs[i].name);
        if (l > 12 && strcmp(refs[i].name + l - 12, "-model.mc2fl") == 0) ref = &refs[i];
    }
    if (!ref) {
        mc2_err_set(err, MC2_E_NOTFOUND, "round job %llu released no model for %s",
                    (unsigned long long)id, cs->id.name);
        goto out;
    }
    if (mc2_host_download(cs->service, ref->name, &sealed, err) ||
        mc2_fl_open(ref->key, sealed.data, sealed.len, &plain, err) ||
        mc2_fl_model_decode(plain.data, plain.len, m, err))
        goto out;
    rc = 0;
out:
    mc2_wipe(refs, sizeof refs);
    mc2_buf_free(&state);
    mc2_buf_free(&sealed);
    mc2_buf_free(&plain);
    return rc;
}
