/* test_platform_results.c - SQL results of any size, end to end against a real mc2d:
 *   - a result of more than 2^20 rows (a self cross join of a 1,200-row table: 1.44M rows)
 *     round-trips exactly: every row checked, an order-independent checksum over all;
 *   - the enclave's peak memory (VmHWM) stays far below the result's size: the result is
 *     sealed and sent block by block while it is produced, never held whole;
 *   - the client's peak memory grows far less than the result's size: mc2_fetch_table
 *     downloads into a nameless temporary file and decrypts block by block; no temporary
 *     file is left in the directory it was given;
 *   - an oblivious job's result of more than 2^20 rows is written the same way; when the
 *     host alters a block in its middle, fetching it fails and leaves no output file;
 *   - a job that fails after part of its result went to the host leaves no result object
 *     there (no file, no temporary file): the enclave drops the unfinished object. */
#include <dirent.h>

#include "../tools/pfix.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "test.h"

/* Rows of bank-a's tables: u's self cross join has 1,440,000 rows (more than 2^20), big's
 * 2,890,000 (about 140 MiB sealed: far more than the enclave and the client may hold). */
#define NU   1200
#define NBIG 1700

static pfix F;
static mc2_identity A;
static uint8_t TID_U[16], TID_BIG[16];

static void upload(const char *name, size_t rows, uint8_t tid[16])
{
    mc2_err err;
    char path[400];
    snprintf(path, sizeof path, "%s/%s.mc2t", F.work, name);
    char *csv = pfix_csv(rows, "value");
    if (pfix_encrypt(&A, csv, path, tid, &err) ||
        mc2_host_upload(F.service, &A, name, path, NULL, NULL, &err))
        pfix_die("upload", &err);
    mc2_free(csv);
    unlink(path);
}

/* Runs an sql job over bank-a's table u (or big) and waits for it; its id in *id, its state
 * in st. */
static int run(mc2_esession *s, bool big, const char *query, bool oblivious, uint64_t *id, char *st,
               size_t cap, mc2_err *err)
{
    mc2_job j;
    mc2_buf state = {0};
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    j.ninputs = 1;
    strcpy(j.inputs[0].owner, "bank-a");
    strcpy(j.inputs[0].table, big ? "big" : "u");
    memcpy(j.inputs[0].table_id, big ? TID_BIG : TID_U, 16);
    j.nrecipients = 1;
    strcpy(j.recipients[0], "bank-a");
    int rc = mc2_job_add_param(&j, "query", query, err) ||
                     (oblivious && mc2_job_add_param(&j, "oblivious", "1", err)) ||
                     mc2_job_submit(s, &A, F.pol, &j, id, NULL, err) ||
                     mc2_job_wait(s, *id, false, 300u * 1000u, NULL, &state, err)
                 ? -1
                 : 0;
    snprintf(st, cap, "%s", rc == 0 ? (const char *)state.data : err->msg);
    mc2_buf_free(&state);
    mc2_job_free(&j);
    return rc;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Checks every row of the CSV at path (x, y, z = x * 2000 + y, vx, vy for x, y in 1..n,
 * each pair once) and returns the number of rows, or 0 if one is wrong. */
static uint64_t check_csv(const char *path, long long n)
{
    FILE *fp = fopen(path, "r");
    char line[256];
    uint64_t rows = 0, sum = 0, want = 0, bad = 0;
    if (!fp) return 0;
    if (!fgets(line, sizeof line, fp) || strcmp(line, "x,y,z,vx,vy\n") != 0) bad++;
    while (fgets(line, sizeof line, fp)) {
        long long x, y, z;
        char vx[64], vy[64], ex[64], ey[64];
        if (sscanf(line, "%lld,%lld,%lld,%63[^,],%63[^\n]", &x, &y, &z, vx, vy) != 5 || x < 1 ||
            x > n || y < 1 || y > n || z != x * 2000 + y) {
            bad++;
            continue;
        }
        snprintf(ex, sizeof ex, "value-%lld", x);
        snprintf(ey, sizeof ey, "value-%lld", y);
        bad += strcmp(vx, ex) != 0 || strcmp(vy, ey) != 0;
        sum += mix((uint64_t)x << 32 | (uint64_t)y);
        rows++;
    }
    fclose(fp);
    for (uint64_t x = 1; x <= (uint64_t)n; x++)
        for (uint64_t y = 1; y <= (uint64_t)n; y++) want += mix(x << 32 | y);
    if (bad || sum != want) {
        printf("  %llu bad rows, checksum %s\n", (unsigned long long)bad,
               sum == want ? "right" : "wrong");
        return 0;
    }
    return rows;
}

/* Files in the store's results directory: those of job id (results/job-ID-...) and
 * temporary ones. */
static void store_files(uint64_t id, int *job_files, int *tmp_files)
{
    char dir[400], pre[64];
    snprintf(dir, sizeof dir, "%s/store/results", F.state);
    snprintf(pre, sizeof pre, "job-%llu-", (unsigned long long)id);
    *job_files = *tmp_files = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        *job_files += strncmp(e->d_name, pre, strlen(pre)) == 0;
        *tmp_files += strstr(e->d_name, ".tmp-") != NULL;
    }
    if (d) closedir(d);
}

static int dir_entries(const char *path)
{
    int n = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
    if (d) closedir(d);
    return n;
}

static const char *QUERY = "SELECT a.k AS x, b.k AS y, a.k * 2000 + b.k AS z, a.v AS vx, b.v AS vy "
                           "FROM big a, big b";

/* Fetches job id's result into WORK/NAME.csv; returns its size in bytes (ciphertext) via the
 * stats and the growth of this process's peak memory in *grew_kb. */
static int fetch(mc2_esession *s, uint64_t id, const char *name, char *out, size_t cap,
                 mc2_table_stats *st, long *grew_kb)
{
    mc2_err err;
    mc2_result_ref ref;
    size_t n = 0;
    char tmp[400];
    snprintf(out, cap, "%s/%s.csv", F.work, name);
    snprintf(tmp, sizeof tmp, "%s/tmp-%s", F.work, name);
    if (mc2_mkdir(tmp, 0700, &err)) pfix_die("mkdir", &err);
    long before = pfix_proc_kb(getpid(), "VmHWM:");
    int rc = mc2_esession_results(s, id, &ref, 1, &n, &err) || n != 1 ||
                     mc2_fetch_table(F.service, ref.name, ref.key, tmp, out, MC2_FMT_CSV, st, &err)
                 ? -1
                 : 0;
    *grew_kb = pfix_proc_kb(getpid(), "VmHWM:") - before;
    if (rc) printf("  fetch: %s\n", err.msg);
    CHECK(dir_entries(tmp) == 0); /* the ciphertext's temporary file had no name */
    rmdir(tmp);
    mc2_wipe(&ref, sizeof ref);
    return rc;
}

static void big_result(mc2_esession *s)
{
    mc2_err err;
    uint64_t id;
    char st[1200], out[400];
    pid_t enc = pfix_enclave_pid(&F);
    long base = pfix_proc_kb(enc, "VmHWM:");
    double t0 = pfix_now();
    CHECK_MSG(run(s, true, QUERY, false, &id, st, sizeof st, &err) == 0 &&
                  strncmp(st, "done", 4) == 0,
              "%s", st);
    double t1 = pfix_now();
    long hwm = pfix_proc_kb(enc, "VmHWM:");
    mc2_table_stats ts = {0};
    long grew = 0;
    CHECK(fetch(s, id, "big", out, sizeof out, &ts, &grew) == 0);
    double t2 = pfix_now();
    uint64_t rows = check_csv(out, NBIG);
    unlink(out);
    long result_kb = (long)(ts.in_bytes >> 10);
    printf("  %llu rows (%.1f MiB sealed) in %.1f s, fetched and decrypted in %.1f s\n"
           "  enclave peak %ld KiB (before the job %ld KiB); client peak grew %ld KiB\n",
           (unsigned long long)ts.rows, (double)ts.in_bytes / 1048576.0, t1 - t0, t2 - t1, hwm,
           base, grew);
    CHECK(ts.rows == (uint64_t)NBIG * NBIG);
    CHECK(rows == (uint64_t)NBIG * NBIG);
    /* Streamed, the result never lives in the enclave or the client whole. */
    CHECK(enc > 0 && hwm > 0 && result_kb > 40 * 1024);
    if (PFIX_UNDER_ASAN) {
        printf("  (AddressSanitizer build: peak memory not checked)\n");
    } else {
        CHECK(hwm < result_kb / 2);
        CHECK(grew < result_kb / 2);
    }
}

static void oblivious_result(mc2_esession *s)
{
    mc2_err err;
    uint64_t id;
    char st[1200], out[400];
    double t0 = pfix_now();
    CHECK_MSG(run(s, false, "SELECT a.k AS x, b.k AS y FROM u a, u b", true, &id, st, sizeof st,
                  &err) == 0 &&
                  strncmp(st, "done", 4) == 0,
              "%s", st);
    mc2_table_stats ts = {0};
    long grew;
    CHECK(fetch(s, id, "obl", out, sizeof out, &ts, &grew) == 0);
    printf("  oblivious: %llu rows in %.1f s\n", (unsigned long long)ts.rows, pfix_now() - t0);
    CHECK(ts.rows == (uint64_t)NU * NU && ts.rows > (1u << 20));
    unlink(out);

    /* The host alters a block in the middle: the download fails, and neither the output
     * file nor a temporary file appears (blocks before it were decrypted already). */
    char pre[64], path[700] = "";
    snprintf(pre, sizeof pre, "job-%llu-", (unsigned long long)id);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/store/results", F.state);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, pre, strlen(pre)) == 0)
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d) closedir(d);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, (long)(ts.in_bytes * 3 / 4), SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, (long)(ts.in_bytes * 3 / 4), SEEK_SET);
        fputc(c ^ 1, fp);
        fclose(fp);
    }
    int files = dir_entries(F.work);
    CHECK(fetch(s, id, "obl", out, sizeof out, &ts, &grew) != 0);
    CHECK(!mc2_file_exists(out));
    CHECK(dir_entries(F.work) == files);
}

static void failed_half_way(mc2_esession *s)
{
    mc2_err err;
    uint64_t id;
    char st[1200];
    /* z overflows INT64 once a.k + b.k reaches 2000 (f = ceil(2^63 / 2000)): after about
     * 800 * 1200 rows (some 20 MiB of result) went to the host. */
    CHECK(run(s, false,
              "SELECT a.k AS x, b.k AS y, (a.k + b.k) * 4611686018427388 AS z FROM u a, u b", false,
              &id, st, sizeof st, &err) == 0);
    printf("  failing job: %s\n", st);
    CHECK(strncmp(st, "failed", 6) == 0 && strstr(st, "overflow") != NULL);
    int job_files, tmp_files;
    store_files(id, &job_files, &tmp_files);
    CHECK(job_files == 0 && tmp_files == 0);
    /* Part of it had been written, and the enclave dropped it. */
    mc2_buf log = {0};
    char pat[120];
    snprintf(pat, sizeof pat, "abandoned the unfinished object results/job-%llu-",
             (unsigned long long)id);
    CHECK(mc2_file_read_all(F.log, 64u << 20, &log, &err) == 0 &&
          mc2_buf_append(&log, "", 1, &err) == 0);
    const char *at = log.data ? strstr((const char *)log.data, pat) : NULL;
    CHECK_MSG(at && strstr(at, "the enclave dropped it") && !strstr(at, "(0 bytes written)"),
              "mc2d's log has no dropped partial result of job %llu", (unsigned long long)id);
    mc2_buf_free(&log);
}

int main(void)
{
    mc2_err err;
    char msg[600];
    pfix_init(&F, "results");
    pfix_party(&F, "bank-a", &A);
    bool rcpt[1] = {true};
    F.budget_mb = 256;
    pfix_policy(&F, &A, 1, rcpt);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d: %s\n", msg);
        return 1;
    }
    upload("u", NU, TID_U);
    upload("big", NBIG, TID_BIG);
    mc2_esession s;
    if (mc2_esession_open(F.service, &A, F.pol, &s, &err) ||
        mc2_esession_grant(&s, &A, F.pol, &err))
        pfix_die("session", &err);
    big_result(&s);
    failed_half_way(&s);
    oblivious_result(&s);
    mc2_esession_close(&s);
    return test_done("test_platform_results");
}
