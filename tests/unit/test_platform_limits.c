/* test_platform_limits.c - a job's cost is bounded, and a running job does not stop the
 * enclave from serving everyone else (security review, "unbounded job cost"), against a real
 * mc2d with a 32 MiB budget:
 *   - a job over its CPU time limit (the job's cpu_seconds, under the policy's
 *     limits.job_cpu_seconds) fails with a clear reason, and the service answers the next job;
 *   - while a long job runs, another party attests (a new session) and reads job status at
 *     once: the enclave serves sessions on its main thread, jobs run on their own;
 *   - a query whose string temporaries double at every level (CONCAT of CONCATs) fails with
 *     the memory-budget error instead of taking gigabytes, and the enclave's peak memory stays
 *     within budget + the fixed overhead + its baseline;
 *   - an IN list of 20,000 constants is answered within the budget (constants are held once,
 *     not broadcast into a chunk-sized vector each);
 *   - cpu_seconds above the policy's limit is refused at submission;
 *   - the enclave process runs under RLIMIT_AS = budget + a fixed base + a share per CPU
 *     (mc2_enclave_as_limit), read from /proc/PID/limits (issue 13: the budget bounds the
 *     process, not only the allocations a job counts); not in sanitizer builds. */
#include "../tools/pfix.h"
#include "base/bytes.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "test.h"
#include "wire/proto.h"

static pfix F;
static mc2_identity A, B; /* bank-a owns the table and receives results; bank-b watches */
static uint8_t TID[16];

static void upload(void)
{
    mc2_err err;
    char path[400];
    snprintf(path, sizeof path, "%s/t.mc2t", F.work);
    char *csv = pfix_csv(20000, "value");
    if (pfix_encrypt(&A, csv, path, TID, &err) ||
        mc2_host_upload(F.service, &A, "t", path, NULL, NULL, &err))
        pfix_die("upload", &err);
    mc2_free(csv);
}

/* Submits an sql job over bank-a's table t (params: query, then cpu_seconds if not NULL). */
static int submit(mc2_esession *s, const char *query, const char *cpu, uint64_t *id, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    j.ninputs = 1;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, "t");
    memcpy(j.inputs[0].table_id, TID, 16);
    j.nrecipients = 1;
    strcpy(j.recipients[0], "bank-a");
    int rc = mc2_job_add_param(&j, "query", query, err) ||
                     (cpu && mc2_job_add_param(&j, "cpu_seconds", cpu, err)) ||
                     mc2_job_submit(s, &A, F.pol, &j, id, NULL, err)
                 ? -1
                 : 0;
    mc2_job_free(&j);
    return rc;
}

/* Waits for job id to end; its state text into st. */
static void wait_job(mc2_esession *s, uint64_t id, char *st, size_t cap)
{
    mc2_buf state = {0};
    mc2_err err;
    st[0] = '\0';
    if (mc2_job_wait(s, id, false, 120u * 1000u, NULL, &state, &err) == 0)
        snprintf(st, cap, "%s", (const char *)state.data);
    else
        snprintf(st, cap, "error: %s", err.msg);
    mc2_buf_free(&state);
}

/* A query that takes far longer than a few seconds: a triple self-join. */
static const char *LONG_QUERY = "SELECT count(*) FROM t a, t b, t c WHERE a.k + b.k + c.k > 7";

static void cpu_limit(mc2_esession *sa)
{
    mc2_err err;
    uint64_t id;
    char st[1200];
    double t0 = pfix_now();
    CHECK(submit(sa, LONG_QUERY, "2", &id, &err) == 0);
    wait_job(sa, id, st, sizeof st);
    double took = pfix_now() - t0;
    printf("  over its CPU limit of 2 s: %.1f s: %s\n", took, st);
    CHECK(strncmp(st, "failed", 6) == 0 && strstr(st, "CPU time limit of 2 s") != NULL);
    CHECK(took < 30);
    /* The service goes on: a small job runs. */
    CHECK(submit(sa, "SELECT count(*) FROM t", NULL, &id, &err) == 0);
    wait_job(sa, id, st, sizeof st);
    CHECK(strncmp(st, "done", 4) == 0);
    /* More than the policy allows is refused at submission. */
    CHECK(submit(sa, "SELECT 1 FROM t", "100", &id, &err) != 0 &&
          strstr(err.msg, "cpu_seconds") != NULL);
}

static void served_while_running(mc2_esession *sa)
{
    mc2_err err;
    uint64_t id;
    char st[1200];
    CHECK(submit(sa, LONG_QUERY, "6", &id, &err) == 0);
    pfix_sleep_ms(1000); /* it is running by now */
    double t0 = pfix_now();
    mc2_esession sb;
    int opened = mc2_esession_open(F.service, &B, F.pol, &sb, &err);
    CHECK_MSG(opened == 0, "%s", err.msg);
    mc2_buf text = {0}, state = {0};
    CHECK(opened == 0 && mc2_job_state(&sb, id, &text, &state, &err) == 0);
    double took = pfix_now() - t0;
    printf("  attestation and job status while a job runs: %.3f s (job: %s)\n", took,
           state.data ? (const char *)state.data : "?");
    CHECK(took < 2.0);
    CHECK(state.data && strncmp((const char *)state.data, "running", 7) == 0);
    if (opened == 0) mc2_esession_close(&sb);
    mc2_buf_free(&text);
    mc2_buf_free(&state);
    wait_job(sa, id, st, sizeof st); /* ends at its limit */
    CHECK(strncmp(st, "failed", 6) == 0);
}

static void memory(mc2_esession *sa)
{
    mc2_err err;
    uint64_t id;
    char st[1200];
    /* 2^22 copies of a value of about 11 bytes per row: far beyond any budget. */
    mc2_buf q = {0};
    if (mc2_buf_puts(&q, "SELECT max(length(x)) FROM ", &err)) pfix_die("query", &err);
    for (int i = 0; i < 22; i++)
        if (mc2_buf_puts(&q, "(SELECT x || x AS x FROM ", &err)) pfix_die("query", &err);
    if (mc2_buf_puts(&q, "(SELECT v AS x FROM t) s", &err)) pfix_die("query", &err);
    for (int i = 0; i < 22; i++)
        if (mc2_buf_printf(&q, &err, ") s%d", i)) pfix_die("query", &err);
    if (mc2_buf_append(&q, "", 1, &err)) pfix_die("query", &err);
    pid_t enc = pfix_enclave_pid(&F);
    long base = pfix_proc_kb(enc, "VmRSS:");
    CHECK(submit(sa, (const char *)q.data, NULL, &id, &err) == 0);
    wait_job(sa, id, st, sizeof st);
    long hwm = pfix_proc_kb(enc, "VmHWM:");
    printf("  string doubling: %s\n  enclave peak %ld KiB (baseline %ld KiB, budget 32 MiB + "
           "64 MiB overhead)\n",
           st, hwm, base);
    CHECK(strncmp(st, "failed", 6) == 0 &&
          (strstr(st, "budget") != NULL || strstr(st, "too long") != NULL));
    CHECK(enc > 0 && hwm > 0 && hwm < base + (32 + 64 + 64) * 1024);
    mc2_buf_free(&q);

    /* IN with 20,000 constants: answered, and within the budget. */
    mc2_buf_reset(&q);
    if (mc2_buf_puts(&q, "SELECT count(*) FROM t WHERE k IN (", &err)) pfix_die("query", &err);
    for (int i = 1; i <= 20000; i++)
        if (mc2_buf_printf(&q, &err, "%s%d", i > 1 ? "," : "", i * 2)) pfix_die("query", &err);
    if (mc2_buf_append(&q, ")", 2, &err)) pfix_die("query", &err);
    CHECK(submit(sa, (const char *)q.data, NULL, &id, &err) == 0);
    wait_job(sa, id, st, sizeof st);
    printf("  IN with 20,000 constants: %s\n", st);
    CHECK(strncmp(st, "done", 4) == 0);
    mc2_result_ref ref;
    size_t n = 0;
    char out[400];
    snprintf(out, sizeof out, "%s/in.csv", F.work);
    mc2_buf csv = {0};
    CHECK(mc2_esession_results(sa, id, &ref, 1, &n, &err) == 0 && n == 1 &&
          mc2_fetch_table(F.service, ref.name, ref.key, F.work, out, MC2_FMT_CSV, NULL, &err) ==
              0 &&
          mc2_file_read_all(out, 1 << 20, &csv, &err) == 0);
    CHECK(csv.len > 0 && strstr((const char *)csv.data, "\n10000\n") != NULL);
    mc2_wipe(&ref, sizeof ref);
    mc2_buf_free(&csv);
    mc2_buf_free(&q);
}

/* The enclave's "Max address space" (soft and hard) is mc2_enclave_as_limit(budget). */
static void address_space_limit(void)
{
    pid_t enc = pfix_enclave_pid(&F);
    char path[64], line[256], soft[32] = "", hard[32] = "";
    snprintf(path, sizeof path, "/proc/%d/limits", (int)enc);
    FILE *f = enc > 0 ? fopen(path, "r") : NULL;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Max address space", 17) == 0 &&
            sscanf(line + 17, "%31s %31s", soft, hard) != 2)
            soft[0] = '\0';
    if (f) fclose(f);
    uint64_t want = mc2_enclave_as_limit(F.budget_mb);
    char w[32];
    snprintf(w, sizeof w, "%llu", (unsigned long long)want);
    if (want == 0) snprintf(w, sizeof w, "unlimited"); /* sanitizer build */
    CHECK_MSG(strcmp(soft, w) == 0 && strcmp(hard, w) == 0,
              "enclave RLIMIT_AS: soft '%s', hard '%s', want %s", soft, hard, w);
    printf("  enclave RLIMIT_AS %s bytes (budget %u MiB)\n", w, F.budget_mb);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    pfix_init(&F, "limits");
    pfix_party(&F, "bank-a", &A);
    pfix_party(&F, "bank-b", &B);
    mc2_identity ids[2] = {A, B};
    bool rcpt[2] = {true, false};
    F.policy_extra = "limits:\n  job_cpu_seconds: 20\n";
    F.budget_mb = 32;
    pfix_policy(&F, ids, 2, rcpt);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    upload();
    mc2_esession sa;
    if (mc2_esession_open(F.service, &A, F.pol, &sa, &err) ||
        mc2_esession_grant(&sa, &A, F.pol, &err))
        pfix_die("session", &err);
    address_space_limit();
    cpu_limit(&sa);
    served_while_running(&sa);
    memory(&sa);
    mc2_esession_close(&sa);
    return test_done("test_platform_limits");
}
