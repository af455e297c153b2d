/* test_platform_load.c - eight parties use one mc2d at the same time for 30 seconds
 * (MC2_LOAD_SECONDS to change it; loopback only; at most MAX_ITERS rounds per client). Each
 * client is its own process and, round after round: encrypts and uploads its own table
 * (alternating two names, a different row count each time), opens an attested session,
 * grants its data key, submits a rowcount job over that table for itself (mc2_job_submit
 * takes a fresh counter when another client took it), fetches the result key, downloads and
 * decrypts the result and checks the row count. Every operation of every client must
 * succeed, and each client must complete at least MIN_ITERS rounds. Afterwards the service
 * still answers and has recorded every job. */
#include <poll.h>

#include "../tools/pfix.h"
#include "base/bytes.h"
#include "conn/conn.h"
#include "mc2/job.h"
#include "test.h"
#include "wire/proto.h"

#define CLIENTS   8
#define MAX_ITERS 100 /* 8 x 100 jobs stay under the enclave's job table (ENC_MAX_JOBS) */
#define MIN_ITERS 3

static pfix F;
static mc2_identity P[CLIENTS];

/* One round of client c; returns 0 or -1 with *err naming the step that failed. */
static int round_trip(int c, unsigned iter, mc2_err *err)
{
    const mc2_identity *id = &P[c];
    char table[8], enc[400], out[400];
    size_t rows = 1 + (iter * 37u + (unsigned)c * 11u) % 97u;
    snprintf(table, sizeof table, "t%u", iter % 2);
    snprintf(enc, sizeof enc, "%s/%s/%s.mc2t", F.work, id->name, table);
    snprintf(out, sizeof out, "%s/%s/result.csv", F.work, id->name);
    char *csv = pfix_csv(rows, id->name);
    uint8_t tid[16];
    int rc = pfix_encrypt(id, csv, enc, tid, err);
    mc2_free(csv);
    if (rc) return mc2_err_prefix(err, "encrypt: ");
    if (mc2_host_upload(F.service, id, table, enc, NULL, NULL, err))
        return mc2_err_prefix(err, "upload: ");

    mc2_esession s;
    if (mc2_esession_open(F.service, id, F.pol, &s, err))
        return mc2_err_prefix(err, "attested session: ");
    mc2_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.kind, sizeof j.kind, "rowcount");
    j.ninputs = 1;
    snprintf(j.inputs[0].owner, sizeof j.inputs[0].owner, "%s", id->name);
    snprintf(j.inputs[0].table, sizeof j.inputs[0].table, "%s", table);
    memcpy(j.inputs[0].table_id, tid, 16);
    j.nrecipients = 1;
    snprintf(j.recipients[0], sizeof j.recipients[0], "%s", id->name);
    uint64_t job;
    mc2_result_ref res[4];
    size_t nres = 0;
    mc2_buf got = {0};
    rc = -1;
    if (mc2_esession_grant(&s, id, F.pol, err)) {
        mc2_err_prefix(err, "grant: ");
        goto out;
    }
    if (mc2_job_submit(&s, id, F.pol, &j, &job, NULL, err)) {
        mc2_err_prefix(err, "submit: ");
        goto out;
    }
    if (mc2_esession_results(&s, job, res, 4, &nres, err)) {
        mc2_err_prefix(err, "result key of job %llu: ", (unsigned long long)job);
        goto out;
    }
    if (nres != 1) {
        mc2_err_set(err, MC2_E_INPUT, "job %llu: %zu results, wanted 1", (unsigned long long)job,
                    nres);
        goto out;
    }
    if (mc2_fetch_table(F.service, res[0].name, res[0].key, id->home, out, MC2_FMT_CSV, NULL,
                        err) ||
        mc2_file_read_all(out, 1 << 20, &got, err) || mc2_buf_append(&got, "", 1, err)) {
        mc2_err_prefix(err, "download of %s: ", res[0].name);
        goto out;
    }
    char want[200];
    snprintf(want, sizeof want, "%s/%s,%zu\n", id->name, table, rows);
    if (!strstr((const char *)got.data, want)) {
        mc2_err_set(err, MC2_E_INPUT, "job %llu: result '%.100s' lacks '%.60s'",
                    (unsigned long long)job, (const char *)got.data, want);
        goto out;
    }
    rc = 0;
out:
    mc2_wipe(res, sizeof res);
    mc2_buf_free(&got);
    mc2_esession_close(&s);
    return rc;
}

/* A client process: rounds until the deadline; reports "ROUNDS ok" or "ROUNDS fail MSG". */
static void client(int c, double deadline, int report)
{
    mc2_err err;
    mc2_err_clear(&err);
    unsigned iter = 0;
    int ok = 1;
    while (iter < MAX_ITERS && pfix_now() < deadline) {
        if (round_trip(c, iter, &err)) {
            ok = 0;
            break;
        }
        iter++;
    }
    char line[MC2_ERR_MSG_MAX + 64];
    int n = snprintf(line, sizeof line, "%u %s %s\n", iter, ok ? "ok" : "fail", ok ? "" : err.msg);
    if (write(report, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0)
        _exit(2);
    _exit(ok ? 0 : 1);
}

int main(void)
{
    char msg[600];
    const char *secs_env = getenv("MC2_LOAD_SECONDS");
    double secs = secs_env ? atof(secs_env) : 30;
    if (secs <= 0 || secs > 600) secs = 30;
    pfix_init(&F, "test-load");
    bool recipient[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        char name[32];
        snprintf(name, sizeof name, "party-%d", c);
        pfix_party(&F, name, &P[c]);
        recipient[c] = true;
    }
    pfix_policy(&F, P, CLIENTS, recipient);
    if (pfix_start(&F, msg, sizeof msg)) {
        fprintf(stderr, "mc2d did not start: %s\n", msg);
        return 1;
    }
    printf("%d clients for %.0f s (at most %d rounds each) against mc2d on %s\n", CLIENTS, secs,
           MAX_ITERS, F.service);
    fflush(stdout);

    double start = pfix_now(), deadline = start + secs;
    pid_t pids[CLIENTS];
    int fds[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        int p[2];
        if (pipe(p)) pfix_die("pipe", NULL);
        pids[c] = fork();
        if (pids[c] < 0) pfix_die("fork", NULL);
        if (pids[c] == 0) {
            for (int k = 0; k < c; k++) close(fds[k]);
            close(p[0]);
            client(c, deadline, p[1]);
        }
        close(p[1]);
        fds[c] = p[0];
    }

    /* Collect the reports; a client still silent 90 s after the deadline has hung. */
    char rep[CLIENTS][MC2_ERR_MSG_MAX + 64];
    size_t len[CLIENTS] = {0};
    int open_fds = CLIENTS;
    bool done[CLIENTS] = {false};
    while (open_fds > 0) {
        struct pollfd pf[CLIENTS];
        int map[CLIENTS], n = 0;
        for (int c = 0; c < CLIENTS; c++)
            if (!done[c]) {
                pf[n] = (struct pollfd){fds[c], POLLIN, 0};
                map[n++] = c;
            }
        double left = deadline + 90 - pfix_now();
        if (left <= 0 || poll(pf, (nfds_t)n, (int)(left * 1000)) <= 0) break;
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents) continue;
            int c = map[k];
            ssize_t r = read(fds[c], rep[c] + len[c], sizeof rep[c] - 1 - len[c]);
            if (r > 0) len[c] += (size_t)r;
            if (r <= 0 || len[c] == sizeof rep[c] - 1) {
                done[c] = true;
                open_fds--;
            }
        }
    }
    unsigned total = 0;
    for (int c = 0; c < CLIENTS; c++) {
        rep[c][len[c]] = '\0';
        int status = -1;
        if (!done[c]) {
            kill(pids[c], SIGKILL);
            snprintf(rep[c], sizeof rep[c], "0 fail hung (killed 90 s after the deadline)");
        }
        waitpid(pids[c], &status, 0);
        close(fds[c]);
        unsigned iters = 0;
        char verdict[8] = "";
        int fields = sscanf(rep[c], "%u %7s", &iters, verdict);
        char *nl = strchr(rep[c], '\n');
        if (nl) *nl = '\0';
        printf("  client %d (%s): %u rounds%s%s\n", c, P[c].name, iters,
               strcmp(verdict, "ok") == 0 ? "" : ": ",
               strcmp(verdict, "ok") == 0 ? "" : (len[c] ? rep[c] : "no report"));
        CHECK_MSG(fields == 2 && strcmp(verdict, "ok") == 0 && WIFEXITED(status) &&
                      WEXITSTATUS(status) == 0,
                  "client %d failed", c);
        CHECK_MSG(iters >= MIN_ITERS, "client %d did only %u rounds", c, iters);
        total += iters;
    }
    printf("%u rounds in %.1f s\n", total, pfix_now() - start);

    /* The service survived and recorded every job. */
    mc2_err err;
    mc2_frame reply = {0};
    int fd = mc2_dial(F.service, &err);
    int rc = fd >= 0 ? mc2_host_call(fd, HAPI_JOBS, NULL, 0, &reply, NULL, NULL, &err) : -1;
    CHECK_MSG(rc == 0, "mc2d does not answer after the load: %s", err.msg);
    size_t jobs = 0, done_jobs = 0;
    for (size_t i = 0; rc == 0 && i < reply.payload.len; i++) jobs += reply.payload.data[i] == '\n';
    if (rc == 0 && mc2_buf_append(&reply.payload, "", 1, &err) == 0)
        for (const char *p = (const char *)reply.payload.data; (p = strstr(p, " done ")); p++)
            done_jobs++;
    printf("mc2d lists %zu jobs, %zu done\n", jobs, done_jobs);
    CHECK(jobs == total && done_jobs == total);
    if (fd >= 0) close(fd);
    mc2_frame_free(&reply);
    pfix_stop(&F, SIGTERM);
    mc2_policy_free(F.pol);
    for (int c = 0; c < CLIENTS; c++) mc2_identity_free(&P[c]);
    return test_done("test_platform_load");
}
