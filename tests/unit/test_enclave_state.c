/* test_enclave_state.c - the enclave's durable state (src/enclave/state.c, docs/format.md
 * "Sealed enclave state"): the encoding round-trips every field and applies the restart
 * rules (a queued job waits to run again with its model key, a started predict job and an
 * unfinished fedavg round fail with their restart messages); the decoder refuses every
 * truncation, trailing bytes, out-of-range counts and indexes, duplicate or future job ids,
 * and a text that is not its job, leaving the enclave untouched; single-byte corruptions
 * never crash it. Sealing: the blob opens only with the same build (measurement), policy
 * and platform key, and any flipped byte (the generation in the clear header included) is
 * refused. */
#include "../tools/statefix.h"
#include "test.h"

static mc2_policy *POL;

static void encode(const enclave *e, mc2_buf *out)
{
    mc2_err err;
    mc2_buf_reset(out);
    CHECK_MSG(enc_state_encode(e, out, &err) == 0, "%s", err.msg);
}

/* Decodes p[0..n) into a fresh enclave; returns its result and leaves the enclave in *e. */
static int decode(enclave *e, const uint8_t *p, size_t n, mc2_err *err)
{
    sf_enclave(e, POL);
    memset(e->instance, 0, sizeof e->instance);
    return enc_state_decode(e, p, n, err);
}

static bool untouched(const enclave *e)
{
    static const uint8_t zero[32];
    bool keys = true;
    for (size_t p = 0; p < MC2_POLICY_MAX_PARTIES; p++) keys &= !e->has_key[p];
    return e->njobs == 0 && keys && memcmp(e->instance, zero, 32) == 0 && e->next_counter == 1;
}

static void test_round_trip(void)
{
    static enclave a, b;
    mc2_buf enc = {.secret = 1}, again = {.secret = 1};
    mc2_err err;
    sf_enclave(&a, POL);
    sf_populate(&a);
    encode(&a, &enc);
    CHECK_MSG(decode(&b, enc.data, enc.len, &err) == 0, "%s", err.msg);
    CHECK(memcmp(b.instance, a.instance, 32) == 0 && b.next_counter == a.next_counter);
    CHECK(b.njobs == a.njobs);
    int pa = sf_party(&a, "bank-a"), pb = sf_party(&a, "bank-b");
    CHECK(b.has_key[pa] && !b.has_key[pb] && memcmp(b.keys[pa], a.keys[pa], 32) == 0);
    for (size_t i = 0; i < b.njobs && i < a.njobs; i++) {
        const enc_job *x = a.jobs[i], *y = b.jobs[i];
        CHECK(x->id == y->id && x->text_len == y->text_len &&
              memcmp(x->text, y->text, x->text_len) == 0);
        CHECK(memcmp(x->text_sha256, y->text_sha256, 32) == 0 && y->job.counter == x->id);
        CHECK(x->submitter == y->submitter && x->model_owner == y->model_owner);
        CHECK(memcmp(x->approved, y->approved, sizeof x->approved) == 0);
    }
    /* job 1 done with its results; job 2 waits as before */
    CHECK(b.jobs[0]->state == JOB_DONE && b.jobs[0]->nresults == 2);
    CHECK(memcmp(b.jobs[0]->results, a.jobs[0]->results, sizeof b.jobs[0]->results) == 0);
    CHECK(strcmp(b.jobs[0]->status, "2 results") == 0);
    CHECK(b.jobs[1]->state == JOB_WAITING &&
          strcmp(b.jobs[1]->status, "waiting for bank-b to approve") == 0);
    /* queued predict: waits to be queued again, its model key kept */
    CHECK(b.jobs[2]->state == JOB_WAITING && b.jobs[2]->model_key_granted);
    CHECK(memcmp(b.jobs[2]->model_key, a.jobs[2]->model_key, 32) == 0);
    /* started predict: failed, and no key was written for it */
    CHECK(b.jobs[3]->state == JOB_FAILED &&
          strcmp(b.jobs[3]->status, ENC_STATE_RESTART_MODEL_MSG) == 0);
    uint8_t zero[32] = {0};
    CHECK(memcmp(b.jobs[3]->model_key, zero, 32) == 0 &&
          memmem(enc.data, enc.len, a.jobs[3]->model_key, 32) == NULL);
    /* fedavg round: failed */
    CHECK(b.jobs[4]->state == JOB_FAILED && strcmp(b.jobs[4]->status, ENC_STATE_RESTART_MSG) == 0);
    CHECK(b.jobs[5]->state == JOB_FAILED && strcmp(b.jobs[5]->status, "column 'x' not found") == 0);
    /* a restored state encodes to what decodes the same again */
    encode(&b, &again);
    static enclave c;
    CHECK_MSG(decode(&c, again.data, again.len, &err) == 0, "%s", err.msg);
    CHECK(c.njobs == b.njobs && c.jobs[3]->state == JOB_FAILED && c.jobs[2]->state == JOB_WAITING);
    enc_state_clear(&a);
    enc_state_clear(&b);
    enc_state_clear(&c);
    mc2_buf_free(&enc);
    mc2_buf_free(&again);
}

/* Every prefix and one trailing byte are refused; every single-byte change is survived. */
static void test_hostile_bytes(void)
{
    static enclave a, b;
    mc2_buf enc = {.secret = 1};
    mc2_err err;
    sf_enclave(&a, POL);
    sf_populate(&a);
    encode(&a, &enc);
    size_t refused = 0;
    for (size_t n = 0; n < enc.len; n++) {
        int rc = decode(&b, enc.data, n, &err);
        refused += rc != 0 && untouched(&b) && err.code == MC2_E_INPUT;
        if (rc == 0) enc_state_clear(&b);
    }
    CHECK_MSG(refused == enc.len, "%zu of %zu prefixes refused", refused, enc.len);
    CHECK(mc2_buf_append(&enc, "", 1, &err) == 0);
    CHECK(decode(&b, enc.data, enc.len, &err) != 0 && untouched(&b));
    CHECK(strstr(err.msg, "trailing bytes") != NULL);
    enc.len--;
    for (size_t i = 0; i < enc.len; i++) {
        enc.data[i] ^= 0x80;
        if (decode(&b, enc.data, enc.len, &err) == 0)
            enc_state_clear(&b);
        else
            CHECK(untouched(&b));
        enc.data[i] ^= 0x80;
    }
    enc_state_clear(&a);
    mc2_buf_free(&enc);
}

/* A state whose in-memory form is bent by f must be refused with `want` in the message. */
static void refused(void (*f)(enclave *), const char *want)
{
    static enclave a, b;
    mc2_buf enc = {.secret = 1};
    mc2_err err;
    sf_enclave(&a, POL);
    sf_populate(&a);
    f(&a);
    encode(&a, &enc);
    CHECK_MSG(decode(&b, enc.data, enc.len, &err) != 0 && untouched(&b), "%s", want);
    CHECK_MSG(strstr(err.msg, want) != NULL, "wanted '%s', got '%s'", want, err.msg);
    if (a.jobs[1]->submitter > 2) a.jobs[1]->submitter = 0;
    enc_state_clear(&a);
    mc2_buf_free(&enc);
}

static void bad_submitter(enclave *e)
{
    e->jobs[1]->submitter = 3;
}
static void bad_model_owner(enclave *e)
{
    e->jobs[2]->model_owner = 7;
}
static void bad_result_party(enclave *e)
{
    e->jobs[0]->results[1].party = 3;
}
static void dup_id(enclave *e) /* job 2 becomes a second copy of job 1 */
{
    enc_job *j = e->jobs[1];
    mc2_free(j->text);
    j->text = mc2_strdup(e->jobs[0]->text);
    j->text_len = e->jobs[0]->text_len;
    j->id = e->jobs[0]->id;
}
static void future_id(enclave *e)
{
    e->next_counter = e->jobs[5]->id;
}
static void not_its_text(enclave *e)
{
    e->jobs[1]->id = e->jobs[2]->id + 100, e->next_counter += 200;
}
static void key_without_owner(enclave *e)
{
    e->jobs[1]->model_key_granted = true;
}
static void zero_counter(enclave *e)
{
    e->next_counter = 0;
}

static void test_hostile_fields(void)
{
    refused(bad_submitter, "job parties");
    refused(bad_model_owner, "job parties");
    refused(bad_result_party, "result");
    refused(dup_id, "job id");
    refused(future_id, "job id");
    refused(not_its_text, "a job text does not parse");
    refused(key_without_owner, "job parties");
    refused(zero_counter, "party count or counter");
    /* hand-made headers: version, party count, job count */
    static enclave b;
    mc2_err err;
    uint8_t h[4 + 32 + 8 + 4];
    memset(h, 0, sizeof h);
    mc2_le32_put(h, 2);
    mc2_le64_put(h + 36, 5);
    mc2_le32_put(h + 44, 3);
    CHECK(decode(&b, h, sizeof h, &err) != 0 && strstr(err.msg, "unknown version"));
    mc2_le32_put(h, 1);
    mc2_le32_put(h + 44, 4);
    CHECK(decode(&b, h, sizeof h, &err) != 0 && strstr(err.msg, "party count"));
    mc2_buf big = {0};
    mc2_le32_put(h + 44, 3);
    CHECK(mc2_buf_append(&big, h, sizeof h, &err) == 0);
    for (int p = 0; p < 3; p++)
        CHECK(mc2_buf_put_u8(&big, 0, &err) == 0 && mc2_buf_append(&big, h + 4, 32, &err) == 0);
    CHECK(mc2_buf_put_u32(&big, ENC_MAX_JOBS + 1, &err) == 0);
    CHECK(decode(&b, big.data, big.len, &err) != 0 && strstr(err.msg, "job count"));
    big.data[sizeof h] = 2; /* has_key must be 0 or 1 */
    CHECK(decode(&b, big.data, big.len, &err) != 0 && strstr(err.msg, "data keys"));
    mc2_buf_free(&big);
}

static void test_seal(void)
{
    static enclave a;
    mc2_buf plain = {.secret = 1}, blob = {0}, back = {0};
    mc2_err err;
    uint64_t gen = 0;
    sf_enclave(&a, POL);
    sf_populate(&a);
    encode(&a, &plain);
    CHECK_MSG(enc_state_seal(&a, 42, plain.data, plain.len, &blob, &err) == 0, "%s", err.msg);
    CHECK(blob.len == plain.len + ENC_SEAL_OVERHEAD);
    CHECK(memmem(blob.data, blob.len, a.keys[sf_party(&a, "bank-a")], 32) == NULL);
    CHECK_MSG(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) == 0, "%s", err.msg);
    CHECK(gen == 42 && back.len == plain.len && memcmp(back.data, plain.data, plain.len) == 0);
    size_t bad = 0;
    for (size_t i = 0; i < blob.len; i++) {
        blob.data[i] ^= 1;
        bad += enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0 && back.len == 0;
        blob.data[i] ^= 1;
    }
    CHECK_MSG(bad == blob.len, "%zu of %zu flipped bytes refused", bad, blob.len);
    blob.data[ENC_SEAL_HDR + 3] ^= 1;
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0);
    CHECK(strstr(err.msg, "does not authenticate: it was tampered with") != NULL);
    blob.data[ENC_SEAL_HDR + 3] ^= 1;
    blob.data[12] ^= 1; /* the generation, in the clear, is bound by the AAD */
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0 &&
          strstr(err.msg, "does not authenticate"));
    blob.data[12] ^= 1;
    CHECK(enc_state_open(&a, blob.data, blob.len - 1, &back, &gen, &err) != 0 &&
          strstr(err.msg, "truncated"));
    const char *why = NULL;
    CHECK(!enc_state_foreign(&a, blob.data, blob.len, &why));
    a.measurement[0] ^= 1;
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0 &&
          strstr(err.msg, "another enclave build"));
    CHECK(enc_state_foreign(&a, blob.data, blob.len, &why) && strstr(why, "another enclave build"));
    a.measurement[0] ^= 1;
    a.att_secret[0] ^= 1;
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0 &&
          strstr(err.msg, "does not authenticate"));
    a.att_secret[0] ^= 1;
    uint8_t h = a.policy->hash[0];
    a.policy->hash[0] ^= 1;
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) != 0 &&
          strstr(err.msg, "another consortium policy"));
    CHECK(enc_state_foreign(&a, blob.data, blob.len, &why) && strstr(why, "another consortium"));
    CHECK(!enc_state_foreign(&a, blob.data, ENC_SEAL_HDR - 1, &why));
    a.policy->hash[0] = h;
    CHECK(enc_state_open(&a, blob.data, blob.len, &back, &gen, &err) == 0);
    enc_state_clear(&a);
    mc2_buf_free(&plain);
    mc2_buf_free(&blob);
    mc2_buf_free(&back);
}

int main(void)
{
    POL = sf_policy();
    test_round_trip();
    test_hostile_bytes();
    test_hostile_fields();
    test_seal();
    mc2_policy_free(POL);
    printf("test_enclave_state: %lu checks, %lu failed\n", t_checks, t_failures);
    return t_failures || !t_checks;
}
