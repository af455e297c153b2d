/* api.c - TRUSTED: the enclave API that authenticated parties call inside TLS, and the job
 * life cycle. Every request comes from the party whose certificate opened the session;
 * grants and approvals additionally carry that party's signature, so the enclave can show
 * who agreed to what.
 *
 *   HELLO                 -> instance nonce, next counter, policy hash, state generation
 *   GRANT {key, sig}      -> stores the party's data key (sig binds policy and instance)
 *   SUBMIT {text, sig}    -> job id (= its counter); the submitter's signature counts as its
 *                            approval if it owns an input or is the job's model owner
 *   APPROVE {id, sig}     -> an input owner or the model owner co-signs the exact job text
 *   JOB {id}              -> text and status; why a job failed only to the job's parties
 *   RESULT_KEY {id}       -> result key, only for the job's recipients, once it has run
 *   GRANT_OBJECT {id, name, key, sig} -> the job's model owner hands over the key of the
 *                            sealed model the job names, for that job only (sig binds the
 *                            SHA-256 of the job's text: "mc2 object key v2")
 *   KIND {id, op, body}   -> a request of the job's kind (enc_kind.request): a fedavg
 *                            participant's update (jobs_fl.c)
 * A job runs when every input owner and its model owner (if any) have approved it, every
 * input owner has granted its data key and the model owner the model key for this job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "base/intr.h"
#include "base/log.h"
#include "enclave/enclave.h"
#include "enclave/meshrt.h"
#include "wire/proto.h"

static int reply_ok(mc2_buf *out, const mc2_buf *body, mc2_err *err)
{
    return mc2_frame_put(out, EAPI_OK, 0, body->data, body->len, err);
}

int enc_reply_ok(mc2_buf *out, const void *body, size_t n, mc2_err *err)
{
    return mc2_frame_put(out, EAPI_OK, 0, body, n, err);
}

enc_job *enc_job_find(enclave *e, uint64_t id)
{
    for (size_t i = 0; i < e->njobs; i++)
        if (e->jobs[i]->id == id) return e->jobs[i];
    return NULL;
}

static enc_job *find_job(enclave *e, uint64_t id)
{
    return enc_job_find(e, id);
}

static int party_index(const enclave *e, const char *name)
{
    const mc2_party *p = mc2_policy_party(e->policy, name);
    return p ? (int)(p - e->policy->parties) : -1;
}

static const char *const STATES[] = {"waiting", "done", "failed", "running"};

uint64_t enc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(void)
{
    return enc_now_ms();
}

static bool is_queued(const enc_job *j)
{
    return j->state == JOB_RUNNING && strcmp(j->status, "queued") == 0;
}

/* What a running job has done so far: "12 s, round 3 of 50" or "12 s, input 1.5 of 30.2 MiB
 * read" (only what the host can already tell, see enc_progress). */
static void running_detail(const enc_job *j, char *out, size_t cap)
{
    uint64_t secs = j->started_ms ? (now_ms() - j->started_ms) / 1000u : 0;
    uint32_t round = atomic_load(&j->prog.round), rounds = atomic_load(&j->prog.rounds);
    uint64_t done = atomic_load(&j->prog.in_done), total = atomic_load(&j->prog.in_total);
    if (rounds)
        snprintf(out, cap, "%llu s, round %u of %u", (unsigned long long)secs, round, rounds);
    else if (total)
        snprintf(out, cap, "%llu s, input %.1f of %.1f MiB read", (unsigned long long)secs,
                 (double)(done < total ? done : total) / 1048576.0, (double)total / 1048576.0);
    else
        snprintf(out, cap, "%llu s", (unsigned long long)secs);
}

/* A queued job's place: "next, after job 5 (running)" or "after job 5 (running) and 2 queued
 * jobs". mu held. */
static void queued_detail(const enclave *e, const enc_job *j, char *out, size_t cap)
{
    size_t ahead = 0;
    const enc_job *run = NULL;
    for (size_t i = 0; i < e->njobs; i++) {
        const enc_job *o = e->jobs[i];
        if (o->state != JOB_RUNNING || o == j) continue;
        if (!is_queued(o))
            run = o;
        else if (o->id < j->id)
            ahead++;
    }
    char r[64] = "";
    if (run) snprintf(r, sizeof r, " job %llu (running)", (unsigned long long)run->id);
    if (ahead == 0)
        snprintf(out, cap, "next%s%s", run ? ", after" : "", r);
    else
        snprintf(out, cap, "after%s%s %zu queued job%s", r, run ? " and" : "", ahead,
                 ahead == 1 ? "" : "s");
}

/* The job's state word ("waiting", "queued", "running", "done", "failed") and its detail
 * (what it waits for, its place in the queue, its progress, its results, why it failed).
 * mu held, except for a running job's own threads (its detail then reads only the job). */
static const char *state_of(const enclave *e, const enc_job *j, char *detail, size_t cap)
{
    if (is_queued(j)) {
        queued_detail(e, j, detail, cap);
        return "queued";
    }
    if (j->state == JOB_RUNNING) {
        running_detail(j, detail, cap);
        return "running";
    }
    snprintf(detail, cap, "%s", j->status);
    return STATES[j->state];
}

void enc_job_publish(enclave *e, const enc_job *j)
{
    char line[MC2_ERR_MSG_MAX + 128], detail[MC2_ERR_MSG_MAX];
    const char *word = state_of(e, j, detail, sizeof detail);
    /* The host sees who the job waits for, its place in the queue, its progress (what the
     * host can tell anyway), or how many results it made; never why it failed (a reason can
     * say something about the data: a NULL label, a value out of range). The parties read
     * the reason inside TLS with EAPI_JOB. */
    if (j->state == JOB_FAILED)
        snprintf(detail, sizeof detail, "(reason: `mc2 job ID`, for parties)");
    int n = snprintf(line, sizeof line, "%llu %s %s %s", (unsigned long long)j->id, j->job.kind,
                     word, detail);
    mc2_err err;
    if (enc_send(e, EIF_JOB, 0, line, (size_t)(n < 0 ? 0 : n), &err))
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "cannot publish job status");
}

/* Sends the running job's progress to the host, at most once a second (any of its threads). */
static void progress_publish(enclave *e, enc_job *j)
{
    uint64_t now = now_ms(), last = atomic_load(&j->prog.published_ms);
    if (now - last < 1000 || !atomic_compare_exchange_strong(&j->prog.published_ms, &last, now))
        return;
    enc_job_publish(e, j);
}

void enc_job_progress_input(enclave *e, uint64_t add_done, uint64_t add_total)
{
    enc_job *j = e->current;
    if (!j) return;
    atomic_fetch_add(&j->prog.in_total, add_total);
    atomic_fetch_add(&j->prog.in_done, add_done);
    progress_publish(e, j);
}

void enc_job_progress_round(enclave *e, uint32_t done, uint32_t rounds)
{
    enc_job *j = e->current;
    if (!j) return;
    atomic_store(&j->prog.rounds, rounds);
    atomic_store(&j->prog.round, done);
    progress_publish(e, j);
}

/* Sets the status to what the job still waits for; returns true if nothing (approvals and
 * keys: the kind's own `ready` is asked by kind_ready). */
static bool ready_to_run(enclave *e, enc_job *j)
{
    for (size_t i = 0; i < j->job.ninputs; i++) {
        int p = party_index(e, j->job.inputs[i].owner);
        if (!j->approved[p]) {
            snprintf(j->status, sizeof j->status, "waiting for %s to approve",
                     j->job.inputs[i].owner);
            return false;
        }
        if (!e->has_key[p]) {
            snprintf(j->status, sizeof j->status, "waiting for %s to grant its data key",
                     j->job.inputs[i].owner);
            return false;
        }
    }
    if (j->model_owner >= 0 && (!j->approved[j->model_owner] || !j->model_key_granted)) {
        snprintf(j->status, sizeof j->status, "waiting for %s to %s (model owner)",
                 e->policy->parties[j->model_owner].name,
                 j->approved[j->model_owner] ? "grant the model key" : "approve");
        return false;
    }
    return true;
}

/* Whether job j may run now: its approvals and keys (ready_to_run), then its kind's `ready`
 * hook. 1 run, 0 wait (status set), -1 fail with *err. mu held. */
static int kind_ready(enclave *e, enc_job *j, mc2_err *err)
{
    if (!ready_to_run(e, j)) return 0;
    const enc_kind *k = enc_kind_find(j->job.kind, NULL);
    return k && k->ready ? k->ready(e, j, err) : 1;
}

uint64_t enc_job_cpu_limit(const enclave *e, const mc2_job *j)
{
    uint64_t lim = e->policy->job_cpu_seconds ? e->policy->job_cpu_seconds : ENC_JOB_CPU_DEFAULT;
    const char *v = mc2_job_param(j, "cpu_seconds");
    unsigned long long n = v ? strtoull(v, NULL, 10) : 0;
    return n && n < lim ? n : lim;
}

bool enc_param_generic(const char *key)
{
    return strcmp(key, "cpu_seconds") == 0;
}

/* The parameters every kind takes: cpu_seconds, 1 up to the policy's limit. */
static int check_generic(const enclave *e, const mc2_job *j, mc2_err *err)
{
    const char *v = mc2_job_param(j, "cpu_seconds");
    if (!v) return 0;
    uint64_t lim = e->policy->job_cpu_seconds ? e->policy->job_cpu_seconds : ENC_JOB_CPU_DEFAULT;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[0] < '1' || v[0] > '9' || *end || n > lim)
        return mc2_err_set(err, MC2_E_INPUT,
                           "'cpu_seconds' must be a whole number from 1 to %llu (the policy's "
                           "job_cpu_seconds)",
                           (unsigned long long)lim);
    return 0;
}

/* Runs job j's kind under the job's limits: its CPU time (mc2_intr_arm) and the enclave's
 * memory budget (the allocator's cap). Called without mu. */
static int run_kind(enclave *e, enc_job *j, mc2_err *err)
{
    const enc_kind *k = enc_kind_find(j->job.kind, NULL);
    if (!k) return mc2_err_set(err, MC2_E_INTERNAL, "unknown job kind");
    atomic_store(&j->prog.published_ms, now_ms()); /* the "running" line was just sent */
    e->current = j;
    mc2_intr_arm(enc_job_cpu_limit(e, &j->job));
    size_t old = mc2_alloc_set_cap((size_t)(e->budget_bytes + ENC_MEM_OVERHEAD));
    int rc = k->run(e, j, err);
    bool capped = mc2_alloc_cap_hit();
    mc2_alloc_set_cap(old);
    mc2_intr_disarm();
    e->current = NULL;
    if (rc && capped && err->code == MC2_E_NOMEM)
        mc2_err_set(err, MC2_E_LIMIT,
                    "the job needs more memory than the enclave's budget of %llu MiB (plus "
                    "%llu MiB for buffers; mc2 start --budget-mb)",
                    (unsigned long long)(e->budget_bytes >> 20),
                    (unsigned long long)(ENC_MEM_OVERHEAD >> 20));
    return rc;
}

/* Records how job j ended (mu held, or no runner thread) and publishes it. */
static void finish_job(enclave *e, enc_job *j, int rc, const mc2_err *err)
{
    if (rc == 0) {
        j->state = JOB_DONE;
        snprintf(j->status, sizeof j->status, "%zu result%s", j->nresults,
                 j->nresults == 1 ? "" : "s");
    } else {
        j->state = JOB_FAILED;
        snprintf(j->status, sizeof j->status, "%s", err->msg);
        mc2_wipe(j->results, sizeof j->results);
        j->nresults = 0;
    }
    enc_state_changed(e);
    enc_job_publish(e, j);
    /* Every queued job moved up one place. */
    for (size_t i = 0; i < e->njobs; i++)
        if (is_queued(e->jobs[i])) enc_job_publish(e, e->jobs[i]);
}

/* Moves waiting job j on if it can (mu held): queues it (or, without a runner thread, runs
 * it), fails it if its kind says so, or publishes what it now waits for if that changed. */
static void advance_job(enclave *e, enc_job *j)
{
    if (j->state != JOB_WAITING) return;
    char before[sizeof j->status];
    memcpy(before, j->status, sizeof before);
    mc2_err err;
    mc2_err_clear(&err);
    int ready = kind_ready(e, j, &err);
    if (ready < 0) {
        finish_job(e, j, -1, &err);
        return;
    }
    if (ready == 0) {
        if (strcmp(before, j->status) != 0) enc_job_publish(e, j);
        return;
    }
    j->state = JOB_RUNNING;
    snprintf(j->status, sizeof j->status, "queued");
    enc_job_publish(e, j);
    if (e->runner_started) {
        pthread_cond_signal(&e->run_cv);
        return;
    }
    snprintf(j->status, sizeof j->status, "running");
    j->started_ms = now_ms();
    mc2_err_clear(&err);
    int rc = run_kind(e, j, &err);
    finish_job(e, j, rc, &err);
}

void enc_jobs_advance(enclave *e)
{
    for (size_t i = 0; i < e->njobs; i++) advance_job(e, e->jobs[i]);
}

/* The oldest queued job (mu held), or NULL. */
static enc_job *next_queued(enclave *e)
{
    for (size_t i = 0; i < e->njobs; i++)
        if (is_queued(e->jobs[i])) return e->jobs[i];
    return NULL;
}

/* A worker's one run (meshrt.h), logged: its host learns the outcome from EIF_MESH_END. The log
 * is the host's, so a reason about the job's data or parameters (MC2_E_INPUT: it can name a
 * sealed column or state a fact about the rows) is withheld, as from a job's public status;
 * integrity, transport and resource failures are the host's own business and are logged. */
static void worker_run(enclave *e)
{
    mc2_err err;
    mc2_err_clear(&err);
    if (enc_mesh_work(e, &err))
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_WARN, "%s",
                err.code == MC2_E_INPUT ? "worker: the job failed on this rank's data or "
                                          "parameters (the reason stays in the enclave)"
                                        : err.msg);
    else
        mc2_log("mc2-enclave", MC2_LOG_INFO, MC2_LOG_INFO, "worker: the job's mesh ended");
}

/* The runner thread: runs queued jobs one at a time, in submission order (a worker: its
 * job's mesh, once). */
static void *runner_main(void *arg)
{
    enclave *e = arg;
    pthread_mutex_lock(&e->mu);
    bool worked = false;
    while (!e->stopping) {
        if (e->worker) { /* one job's mesh, once its JOIN came */
            if (worked || !enc_mesh_joined(e)) {
                pthread_cond_wait(&e->run_cv, &e->mu);
                continue;
            }
            worked = true;
            pthread_mutex_unlock(&e->mu);
            worker_run(e);
            pthread_mutex_lock(&e->mu);
            continue;
        }
        enc_job *j = next_queued(e);
        if (!j) {
            pthread_cond_wait(&e->run_cv, &e->mu);
            continue;
        }
        snprintf(j->status, sizeof j->status, "running");
        j->started_ms = now_ms();
        enc_job_publish(e, j);
        pthread_mutex_unlock(&e->mu);
        mc2_err err;
        mc2_err_clear(&err);
        int rc = run_kind(e, j, &err);
        pthread_mutex_lock(&e->mu);
        finish_job(e, j, rc, &err);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int enc_runner_start(enclave *e, mc2_err *err)
{
    if (pthread_create(&e->runner, NULL, runner_main, e) != 0)
        return mc2_err_set(err, MC2_E_INTERNAL, "cannot start the job runner thread");
    e->runner_started = true;
    return 0;
}

void enc_runner_stop(enclave *e)
{
    if (!e->runner_started) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->run_cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->runner, NULL);
    e->runner_started = false;
}

static int api_hello(enclave *e, mc2_buf *out, mc2_err *err)
{
    mc2_buf b = {0};
    int rc = mc2_buf_append(&b, e->instance, 32, err) ||
             mc2_buf_put_u64(&b, e->next_counter, err) ||
             mc2_buf_append(&b, e->policy->hash, 32, err) ||
             mc2_buf_put_u64(&b, e->committed_n, err) || reply_ok(out, &b, err);
    mc2_buf_free(&b);
    return rc ? -1 : 0;
}

static int api_grant(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    const uint8_t *key = mc2_rd_take(r, MC2_KEY_LEN), *sig = mc2_rd_take(r, MC2_ED25519_SIG_LEN);
    if (r->bad || mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "malformed key grant");
    const mc2_party *p = &e->policy->parties[s->party];
    if (mc2_grant_verify(p->pub, e->policy->hash, e->instance, key, sig, err))
        return mc2_err_set(err, MC2_E_AUTH,
                           "key grant refused: the signature is not %s's over this policy and "
                           "enclave instance",
                           p->name);
    memcpy(e->keys[s->party], key, MC2_KEY_LEN);
    e->has_key[s->party] = true;
    enc_state_changed(e);
    mc2_buf none = {0};
    return reply_ok(out, &none, err);
}

/* Checks a parsed job against the policy and this instance. */
static int check_job(enclave *e, const mc2_job *j, mc2_err *err)
{
    if (memcmp(j->policy_hash, e->policy->hash, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH, "job refused: it names another consortium policy");
    if (memcmp(j->instance, e->instance, 32) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "job refused: it was made for another enclave instance (replayed)");
    if (j->counter < e->next_counter)
        return mc2_err_set(err, MC2_E_AUTH,
                           EAPI_STALE_COUNTER "job refused: counter %llu was already used "
                                              "(replayed job); the next counter is %llu",
                           (unsigned long long)j->counter, (unsigned long long)e->next_counter);
    if (j->counter > e->next_counter)
        return mc2_err_set(err, MC2_E_AUTH,
                           "job refused: counter %llu skips ahead; the next counter is %llu",
                           (unsigned long long)j->counter, (unsigned long long)e->next_counter);
    const char *names;
    const enc_kind *k = enc_kind_find(j->kind, &names);
    if (!k)
        return mc2_err_set(err, MC2_E_INPUT, "job refused: unknown job kind '%s' (known: %s)",
                           j->kind, names);
    for (size_t i = 0; i < j->ninputs; i++)
        if (party_index(e, j->inputs[i].owner) < 0)
            return mc2_err_set(err, MC2_E_AUTH, "job refused: input owner '%s' is not a party",
                               j->inputs[i].owner);
    for (size_t i = 0; i < j->nrecipients; i++) {
        const mc2_party *p = mc2_policy_party(e->policy, j->recipients[i]);
        if (!p || !p->recipient)
            return mc2_err_set(err, MC2_E_AUTH,
                               "job refused: '%s' is not a result recipient in the policy",
                               j->recipients[i]);
    }
    /* Whoever a job names as the owner of its model must be a party (it approves and grants
     * the model key like an input owner); the kind decides whether it may name one. */
    const char *mo = mc2_job_param(j, "model_owner");
    if (mo && party_index(e, mo) < 0)
        return mc2_err_set(err, MC2_E_AUTH, "job refused: model owner '%.64s' is not a party", mo);
    if (!k->plan && mc2_job_param(j, "ranks"))
        return mc2_err_set(err, MC2_E_INPUT,
                           "job refused: %s jobs run on one enclave only (parameter 'ranks'; "
                           "docs/cluster.md lists the kinds that run on several)",
                           j->kind);
    if (check_generic(e, j, err) || k->check(e, j, err))
        return mc2_err_prefix(err, "job refused: ");
    return 0;
}

static bool owns_input(const enclave *e, const enc_job *j, int p)
{
    for (size_t i = 0; i < j->job.ninputs; i++)
        if (strcmp(j->job.inputs[i].owner, e->policy->parties[p].name) == 0) return true;
    return false;
}

/* True if party p takes part in job j: its submitter, an input owner, a recipient or the
 * model owner. Only they learn why the job failed. */
static bool job_party(const enclave *e, const enc_job *j, int p)
{
    bool in = p == j->submitter || p == j->model_owner || owns_input(e, j, p);
    for (size_t i = 0; i < j->job.nrecipients; i++)
        in |= strcmp(j->job.recipients[i], e->policy->parties[p].name) == 0;
    const enc_kind *k = enc_kind_find(j->job.kind, NULL);
    if (!in && k && k->member) in = k->member(e, j, p);
    return in;
}

/* Records party p's approval of job j (p owns an input or is the model owner) if its
 * signature over the text verifies. */
static int approve(enclave *e, enc_job *j, int p, const uint8_t *sig, mc2_err *err)
{
    const mc2_party *pt = &e->policy->parties[p];
    if (!owns_input(e, j, p) && j->model_owner != p)
        return mc2_err_set(err, MC2_E_AUTH,
                           "approval refused: %s owns none of the job's inputs and is not its "
                           "model owner",
                           pt->name);
    if (mc2_job_verify(pt->pub, j->text, j->text_len, sig, err))
        return mc2_err_set(err, MC2_E_AUTH,
                           "approval refused: the signature is not %s's over this job's text",
                           pt->name);
    j->approved[p] = true;
    return 0;
}

/* Makes room for a job by forgetting the oldest finished one (its result keys are wiped:
 * recipients who have not fetched them by then must run it again). -1 if none finished. */
static int evict_finished_job(enclave *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        enc_job *j = e->jobs[i];
        if (j->state != JOB_DONE && j->state != JOB_FAILED) continue;
        mc2_wipe(j->results, sizeof j->results);
        mc2_wipe(j->model_key, sizeof j->model_key);
        const enc_kind *k = enc_kind_find(j->job.kind, NULL);
        if (k && k->release) k->release(j);
        mc2_job_free(&j->job);
        mc2_free(j->text);
        mc2_free(j);
        memmove(&e->jobs[i], &e->jobs[i + 1], (e->njobs - i - 1) * sizeof e->jobs[0]);
        e->njobs--;
        return 0;
    }
    return -1;
}

/* A party's share of the job table: how many of the jobs it submitted may be unfinished
 * (waiting or running, each holding a slot and, for predict, a model-key slot) at once. The
 * shares add up to at most ENC_MAX_JOBS, so a party under its quota always finds a slot (a
 * free one, or a finished job's) whatever the others submit. */
static size_t job_quota(const enclave *e)
{
    size_t n = e->policy->nparties;
    return n > 1 ? ENC_MAX_JOBS / n : ENC_MAX_JOBS;
}

static size_t unfinished_jobs(const enclave *e, int party)
{
    size_t c = 0;
    for (size_t i = 0; i < e->njobs; i++)
        if (e->jobs[i]->submitter == party && e->jobs[i]->state != JOB_DONE &&
            e->jobs[i]->state != JOB_FAILED)
            c++;
    return c;
}

static int api_submit(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    size_t n;
    const uint8_t *text = mc2_rd_lv(r, &n);
    const uint8_t *sig = mc2_rd_take(r, MC2_ED25519_SIG_LEN);
    if (r->bad || mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "malformed job submission");
    if (unfinished_jobs(e, s->party) >= job_quota(e))
        return mc2_err_set(err, MC2_E_LIMIT,
                           "job refused: %s already has %zu unfinished jobs, its quota (%d job "
                           "slots shared by %zu parties): wait until some finish, or ask their "
                           "input owners to approve them",
                           e->policy->parties[s->party].name, job_quota(e), ENC_MAX_JOBS,
                           e->policy->nparties);
    if (e->njobs >= ENC_MAX_JOBS && evict_finished_job(e))
        return mc2_err_set(err, MC2_E_LIMIT,
                           "too many jobs waiting for approval (%d): approve or let them be "
                           "replaced by restarting the service",
                           ENC_MAX_JOBS);
    enc_job *j = mc2_calloc(1, sizeof *j);
    if (!j) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    if (mc2_job_parse((const char *)text, n, &j->job, err)) goto fail;
    if (check_job(e, &j->job, err)) goto fail;
    const mc2_party *sub = &e->policy->parties[s->party];
    if (mc2_job_verify(sub->pub, (const char *)text, n, sig, err)) {
        mc2_err_set(err, MC2_E_AUTH, "job refused: the signature is not %s's over this text",
                    sub->name);
        goto fail;
    }
    j->text = mc2_malloc(n + 1);
    if (!j->text) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(j->text, text, n);
    j->text[n] = '\0';
    j->text_len = n;
    if (mc2_sha256(text, n, j->text_sha256, err)) {
        mc2_free(j->text);
        goto fail;
    }
    j->id = j->job.counter;
    j->submitter = s->party;
    j->submitted_ms = now_ms();
    /* check_job made sure that a model_owner names a party of the policy. */
    const char *mo = mc2_job_param(&j->job, "model_owner");
    j->model_owner = mo ? party_index(e, mo) : -1;
    if (owns_input(e, j, s->party) || j->model_owner == s->party) j->approved[s->party] = true;
    e->next_counter++;
    e->jobs[e->njobs++] = j;
    enc_state_changed(e);
    /* Its status: what it waits for (a kind whose `ready` fails it does so on the next
     * enc_jobs_advance, right after this request). */
    mc2_err kerr;
    (void)kind_ready(e, j, &kerr);
    enc_job_publish(e, j);
    mc2_buf b = {0};
    int rc = mc2_buf_put_u64(&b, j->id, err) || reply_ok(out, &b, err) ? -1 : 0;
    mc2_buf_free(&b);
    return rc;
fail:
    mc2_job_free(&j->job);
    mc2_free(j);
    return -1;
}

static int api_approve(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    uint64_t id = mc2_rd_u64(r);
    const uint8_t *sig = mc2_rd_take(r, MC2_ED25519_SIG_LEN);
    if (r->bad || mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "malformed approval");
    enc_job *j = find_job(e, id);
    if (!j) return mc2_err_set(err, MC2_E_NOTFOUND, "no job %llu", (unsigned long long)id);
    if (j->state != JOB_WAITING)
        return mc2_err_set(err, MC2_E_USAGE, "job %llu has already run", (unsigned long long)id);
    if (approve(e, j, s->party, sig, err)) return -1;
    enc_state_changed(e);
    /* The status now names the next party it waits for: publish it here, since
     * enc_jobs_advance publishes only what changes after this point. */
    if (!ready_to_run(e, j)) enc_job_publish(e, j);
    mc2_buf none = {0};
    return reply_ok(out, &none, err);
}

/* JOB: the text and "STATE: STATUS"; for a failed job the status is the reason, which can
 * name a sealed column or state a fact about the data: a party outside the job (see
 * job_party) reads just "failed". */
static int api_job(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    uint64_t id = mc2_rd_u64(r);
    if (r->bad || mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "malformed job request");
    enc_job *j = find_job(e, id);
    if (!j) return mc2_err_set(err, MC2_E_NOTFOUND, "no job %llu", (unsigned long long)id);
    /* A kind's deadline is checked lazily: whenever anyone asks. */
    advance_job(e, j);
    char st[MC2_ERR_MSG_MAX + 32], detail[MC2_ERR_MSG_MAX];
    const char *word = state_of(e, j, detail, sizeof detail);
    if (j->state == JOB_FAILED && !job_party(e, j, s->party))
        snprintf(st, sizeof st, "failed");
    else
        snprintf(st, sizeof st, "%s: %s", word, detail);
    mc2_buf b = {0};
    int rc = mc2_buf_put_lv(&b, j->text, j->text_len, err) ||
                     mc2_buf_put_lv(&b, st, strlen(st), err) || reply_ok(out, &b, err)
                 ? -1
                 : 0;
    mc2_buf_free(&b);
    return rc;
}

/* The results of job id that party p may fetch: u32 count | per result: key[32] | name LV. */
static int api_result_key(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    uint64_t id = mc2_rd_u64(r);
    if (r->bad || mc2_rd_left(r)) return mc2_err_set(err, MC2_E_INPUT, "malformed request");
    enc_job *j = find_job(e, id);
    if (!j) return mc2_err_set(err, MC2_E_NOTFOUND, "no job %llu", (unsigned long long)id);
    const char *me = e->policy->parties[s->party].name;
    bool recipient = false;
    for (size_t i = 0; i < j->job.nrecipients; i++)
        recipient |= strcmp(j->job.recipients[i], me) == 0;
    /* Why a job failed is for its parties only (as in api_job). */
    if (j->state == JOB_FAILED && !job_party(e, j, s->party))
        return mc2_err_set(err, MC2_E_USAGE, "job %llu has no result: it failed",
                           (unsigned long long)id);
    if (j->state != JOB_DONE)
        return mc2_err_set(err, MC2_E_USAGE, "job %llu has no result: %s", (unsigned long long)id,
                           j->status);
    mc2_buf b = {.secret = 1};
    uint32_t n = 0;
    int rc = mc2_buf_put_u32(&b, 0, err);
    for (size_t i = 0; rc == 0 && i < j->nresults; i++) {
        const enc_result *res = &j->results[i];
        if (res->party >= 0 ? res->party != s->party : !recipient) continue;
        rc = mc2_buf_append(&b, res->key, MC2_KEY_LEN, err) ||
                     mc2_buf_put_lv(&b, res->name, strlen(res->name), err)
                 ? -1
                 : 0;
        n++;
    }
    if (rc == 0 && n == 0)
        rc = mc2_err_set(err, MC2_E_AUTH, "%s is not a recipient of job %llu", me,
                         (unsigned long long)id);
    if (rc == 0) {
        mc2_le32_put(b.data, n);
        rc = reply_ok(out, &b, err);
    }
    mc2_buf_free(&b);
    return rc;
}

/* GRANT_OBJECT: u64 job id | name LV | key[32] | sig[64]. Only the job's model owner, only
 * while the job waits, only for the model the job names, signed over the job text's hash
 * (mc2_object_grant_verify); a later grant for the same job replaces the key. */
static int api_grant_object(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    size_t nl;
    uint64_t id = mc2_rd_u64(r);
    const uint8_t *name = mc2_rd_lv(r, &nl);
    const uint8_t *key = mc2_rd_take(r, MC2_KEY_LEN), *sig = mc2_rd_take(r, MC2_ED25519_SIG_LEN);
    if (r->bad || mc2_rd_left(r) || nl == 0 || nl > MC2_OBJECT_NAME_MAX ||
        memchr(name, 0, nl) != NULL)
        return mc2_err_set(err, MC2_E_INPUT,
                           "malformed object-key grant (expected u64 job id | object name LV | "
                           "key | signature: grants are per job, \"mc2 object key v2\")");
    char nm[MC2_OBJECT_NAME_MAX + 1];
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    const mc2_party *p = &e->policy->parties[s->party];
    enc_job *j = find_job(e, id);
    if (!j) return mc2_err_set(err, MC2_E_NOTFOUND, "no job %llu", (unsigned long long)id);
    if (j->state != JOB_WAITING)
        return mc2_err_set(err, MC2_E_USAGE, "job %llu has already run", (unsigned long long)id);
    if (j->model_owner < 0)
        return mc2_err_set(err, MC2_E_USAGE,
                           "job %llu takes no model key (it names no model_owner)",
                           (unsigned long long)id);
    if (j->model_owner != s->party)
        return mc2_err_set(
            err, MC2_E_AUTH, "object-key grant refused: job %llu's model owner is %s, not %s",
            (unsigned long long)id, e->policy->parties[j->model_owner].name, p->name);
    const char *model = mc2_job_param(&j->job, "model");
    if (!model || strcmp(model, nm) != 0)
        return mc2_err_set(err, MC2_E_AUTH,
                           "object-key grant refused: job %llu does not use the object '%s'",
                           (unsigned long long)id, nm);
    if (mc2_object_grant_verify(p->pub, j->text_sha256, nm, key, sig, err))
        return mc2_err_set(err, MC2_E_AUTH,
                           "object-key grant refused: the signature is not %s's over this "
                           "object and job %llu's text",
                           p->name, (unsigned long long)id);
    memcpy(j->model_key, key, MC2_KEY_LEN);
    j->model_key_granted = true;
    enc_state_changed(e);
    if (!ready_to_run(e, j)) enc_job_publish(e, j); /* as in api_approve */
    mc2_buf none = {0};
    return reply_ok(out, &none, err);
}

/* KIND: u64 job id | u8 op | body, handed to the job's kind (enc_kind.request). */
static int api_kind(enclave *e, enc_session *s, mc2_rd *r, mc2_buf *out, mc2_err *err)
{
    uint64_t id = mc2_rd_u64(r);
    uint8_t op = mc2_rd_u8(r);
    if (r->bad) return mc2_err_set(err, MC2_E_INPUT, "malformed kind request (u64 job id | u8 op)");
    enc_job *j = find_job(e, id);
    if (!j) return mc2_err_set(err, MC2_E_NOTFOUND, "no job %llu", (unsigned long long)id);
    const enc_kind *k = enc_kind_find(j->job.kind, NULL);
    if (!k || !k->request)
        return mc2_err_set(err, MC2_E_USAGE, "job %llu (kind %s) takes no kind requests",
                           (unsigned long long)id, j->job.kind);
    return k->request(e, s, j, op, r, out, err);
}

int enc_api(enclave *e, enc_session *s, uint16_t type, const uint8_t *p, size_t n, mc2_buf *out,
            mc2_err *err)
{
    mc2_rd r = mc2_rd_init(p, n);
    switch (type) {
    case EAPI_HELLO:
        return api_hello(e, out, err);
    case EAPI_GRANT:
        return api_grant(e, s, &r, out, err);
    case EAPI_SUBMIT:
        return api_submit(e, s, &r, out, err);
    case EAPI_APPROVE:
        return api_approve(e, s, &r, out, err);
    case EAPI_JOB:
        return api_job(e, s, &r, out, err);
    case EAPI_RESULT_KEY:
        return api_result_key(e, s, &r, out, err);
    case EAPI_GRANT_OBJECT:
        return api_grant_object(e, s, &r, out, err);
    case EAPI_KIND:
        return api_kind(e, s, &r, out, err);
    default:
        return mc2_err_set(err, MC2_E_INPUT, "unknown request type %u", type);
    }
}
