/* test_platform_memory.c - bounded memory through a real service: with an 8 MiB budget, an
 * sql job joins two tables whose ciphertext is several times the budget (streamed from the
 * host, never held whole; the join's build side spills to sealed partitions through mc2d),
 * gives the right answer, and the enclave's peak resident memory (VmHWM) stays within the
 * budget plus the fixed overhead (ENC_MEM_OVERHEAD, 64 MiB) plus its own baseline. Also an
 * aggregation and a sort over the big table give the same answers as with a large budget. */
#include <sys/stat.h>

#include "../tools/pfix.h"
#include "base/bytes.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "test.h"
#include "wire/proto.h"

#define ROWS   1000000 /* per table: about 33 MB of ciphertext each, 4 times the budget */
#define BUDGET 8       /* MiB */
#define SLACK  48      /* MiB: thread stacks, OpenSSL, the allocator's own overhead */

static pfix F;
static mc2_identity A;
static uint8_t TA[16], TB[16];

/* Table `name` of rows k = 1..ROWS (b: k = 1, 3, 5, ...: every other key of a), v text. */
static void upload(const char *name, int odd, uint8_t tid[16])
{
    mc2_err err;
    char path[400];
    snprintf(path, sizeof path, "%s/%s.mc2t", F.work, name);
    mc2_buf b = {0};
    if (mc2_buf_puts(&b, "k,v\n", &err)) pfix_die("csv", &err);
    for (size_t i = 1; i <= ROWS; i++)
        if (mc2_buf_printf(&b, &err, "%zu,text-%s-%zu-padding\n", odd ? 2 * i - 1 : i, name, i))
            pfix_die("csv", &err);
    if (mc2_buf_append(&b, "", 1, &err) ||
        pfix_encrypt(&A, (const char *)b.data, path, tid, &err) ||
        mc2_host_upload(F.service, &A, name, path, NULL, NULL, &err))
        pfix_die("upload", &err);
    struct stat st;
    if (stat(path, &st) == 0)
        printf("  table %s: %zu rows, %.1f MB of ciphertext\n", name, (size_t)ROWS,
               (double)st.st_size / 1e6);
    unlink(path);
    mc2_buf_free(&b);
}

/* Runs query q over both tables; the result's first data line into line. */
static int run(mc2_esession *s, const char *q, char *line, size_t cap, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    j.ninputs = 2;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, "a");
    memcpy(j.inputs[0].table_id, TA, 16);
    strcpy(j.inputs[1].owner, "bank-a");
    strcpy(j.inputs[1].table, "b");
    memcpy(j.inputs[1].table_id, TB, 16);
    j.nrecipients = 1;
    strcpy(j.recipients[0], "bank-a");
    uint64_t id;
    mc2_buf state = {0}, csv = {0};
    mc2_result_ref ref;
    size_t n = 0;
    char out[400];
    snprintf(out, sizeof out, "%s/r.csv", F.work);
    int rc = mc2_job_add_param(&j, "query", q, err) ||
                     mc2_job_submit(s, &A, F.pol, &j, &id, NULL, err) ||
                     mc2_job_wait(s, id, false, 600u * 1000u, NULL, &state, err)
                 ? -1
                 : 0;
    if (rc == 0 && strncmp((const char *)state.data, "done", 4) != 0)
        rc = mc2_err_set(err, MC2_E_INPUT, "%s", (const char *)state.data);
    if (rc == 0)
        rc = mc2_esession_results(s, id, &ref, 1, &n, err) ||
                     mc2_fetch_table(F.service, ref.name, ref.key, F.work, out, MC2_FMT_CSV, NULL,
                                     err) ||
                     mc2_file_read_all(out, 1 << 20, &csv, err) || mc2_buf_append(&csv, "", 1, err)
                 ? -1
                 : 0;
    if (rc == 0) {
        const char *nl = strchr((const char *)csv.data, '\n');
        snprintf(line, cap, "%s", nl ? nl + 1 : "");
        char *e = strchr(line, '\n');
        if (e) *e = '\0';
    }
    mc2_wipe(&ref, sizeof ref);
    mc2_job_free(&j);
    mc2_buf_free(&state);
    mc2_buf_free(&csv);
    unlink(out);
    return rc;
}

int main(void)
{
    mc2_err err;
    char msg[600], line[200];
    pfix_init(&F, "memory");
    pfix_party(&F, "bank-a", &A);
    bool rcpt[1] = {true};
    F.budget_mb = BUDGET;
    pfix_policy(&F, &A, 1, rcpt);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    upload("a", 0, TA);
    upload("b", 1, TB);
    mc2_esession s;
    if (mc2_esession_open(F.service, &A, F.pol, &s, &err) ||
        mc2_esession_grant(&s, &A, F.pol, &err))
        pfix_die("session", &err);
    pid_t enc = pfix_enclave_pid(&F);
    long base = pfix_proc_kb(enc, "VmRSS:");
    /* keys of b are the odd numbers up to 2 * ROWS - 1: half of them are in a */
    int rc = run(&s, "SELECT count(*), sum(a.k), max(b.v) FROM a JOIN b ON a.k = b.k", line,
                 sizeof line, &err);
    long hwm = pfix_proc_kb(enc, "VmHWM:");
    CHECK_MSG(rc == 0, "join: %s", err.msg);
    char want[200];
    unsigned long long n = ROWS / 2, sum = n * n; /* 1 + 3 + ... + (2n - 1) */
    snprintf(want, sizeof want, "%llu,%llu,", n, sum);
    CHECK_MSG(rc != 0 || strncmp(line, want, strlen(want)) == 0, "join: got '%s', want '%s...'",
              line, want);
    printf("  join of 2 x %d rows with a %d MiB budget: %s\n  enclave peak %ld KiB (baseline "
           "%ld KiB; bound: baseline + %d + 64 + %d MiB)\n",
           ROWS, BUDGET, line, hwm, base, BUDGET, SLACK);
    CHECK(hwm > 0);
    if (PFIX_UNDER_ASAN)
        printf("  (peak memory not checked under AddressSanitizer: its quarantine keeps freed "
               "memory)\n");
    else
        CHECK(hwm < base + (BUDGET + 64 + SLACK) * 1024L);

    /* an aggregation with a group per row of a, and a sort of it, spill and are right */
    rc = run(&s,
             "SELECT count(*), min(c), max(c) FROM (SELECT k % 500000 AS g, count(*) AS c "
             "FROM a GROUP BY k % 500000) t",
             line, sizeof line, &err);
    CHECK_MSG(rc == 0 && strcmp(line, "500000,2,2") == 0, "aggregation: %s", rc ? err.msg : line);
    rc = run(&s, "SELECT k, v FROM a ORDER BY v DESC, k LIMIT 1", line, sizeof line, &err);
    CHECK_MSG(rc == 0 && strcmp(line, "999999,text-a-999999-padding") == 0, "sort: %s",
              rc ? err.msg : line);
    hwm = pfix_proc_kb(enc, "VmHWM:");
    printf("  after the aggregation and the sort: enclave peak %ld KiB\n", hwm);
    if (!PFIX_UNDER_ASAN) CHECK(hwm < base + (BUDGET + 64 + SLACK) * 1024L);
    mc2_esession_close(&s);
    return test_done("test_platform_memory");
}
