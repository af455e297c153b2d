/* bench_tpch.c - the mc2 and SQLite sides of the TPC-H benchmark (bench/run.sh, sections
 * tpch and obliv-tpch). Two modes, each run as its own process so that its peak memory is its
 * own:
 *
 *   bench_tpch mc2 SERVICE HOME POLICY QUERY_DIR RUNS [oblivious] [timeout=S] [from=N] [to=M]
 *                  [threads=T] [enclave-pid=PID]
 *     Against a running service where HOME's party owns the eight TPC-H tables (uploaded by
 *     run.sh): for q1..q22 of QUERY_DIR, submits the query as a "sql" job whose inputs are
 *     the tables the query names, through libmc2 (one attested session, opened and granted once,
 *     outside the timings), polls EAPI_JOB until it is done (every 1 ms, doubling up to
 *     4 ms), asks for the result key, downloads the result and decrypts every row in memory.
 *     Timed from just before the submission to the last decrypted row. One untimed warm-up,
 *     then RUNS timed runs; the best is printed.
 *     Options, in any order after RUNS:
 *       oblivious  adds the job parameter oblivious=1 to every query's job (oblivious mode;
 *                  encryption mode without it).
 *       timeout=S  gives each query S seconds for its warm-up and timed runs together. A run
 *                  is not started when the previous one took longer than what is left (the
 *                  line then shows fewer runs; "runs 0": the figure is the warm-up's), and the
 *                  wait for a job still running at the deadline is abandoned. The query is
 *                  "qN timeout S" if not even its warm-up finished.
 *       from=N, to=M  runs qN..qM only (default q1..q22).
 *       threads=T  adds the job parameter threads=T (the enclave's executor threads; without
 *                  it the enclave uses every CPU of its affinity mask).
 *       enclave-pid=PID  after each query, prints "enclave qN hwm_kb K cpu_ms C wall_ms W":
 *                  K is VmHWM of process PID (the enclave) from /proc/PID/status, its peak
 *                  resident memory since it started (Linux cannot reset it between queries,
 *                  so it is a cumulative maximum); C is the CPU time (user + system, all its
 *                  threads) PID spent during the query's warm-up and runs, W their wall time,
 *                  so C / W is how many cores the query kept busy on average.
 *     The tables' ids and versions come from HOME's catalog (what `mc2 upload` recorded).
 *     The enclave runs one job at a time and cannot cancel one: after an abandoned job the
 *     service stays busy until that job ends, so bench_tpch stops there, after the query's
 *     line and "peak_rss_kb", with exit status 3: the service must be restarted before it can
 *     run anything else (run.sh does so, then goes on with the next query). It stops the same
 *     way after a query's error when the session to the enclave is lost (the enclave exited),
 *     rather than failing every query after it.
 *
 *   bench_tpch sqlite DATA_DIR SCHEMA_DIR QUERY_DIR TIMEOUT_S
 *     Loads DATA_DIR/<table>.tbl into an in-memory SQLite database with tests/sqlref (mc2's
 *     own .tbl parser; DECIMAL as exact scaled INTEGER, DATE as 'YYYY-MM-DD' TEXT; the key
 *     indexes of sqlref_load_tpch), then runs q1..q22 of QUERY_DIR (the rewritten queries
 *     of tests/data/tpch/sqlite) once each, stepping through every row, interrupting a query
 *     after TIMEOUT_S seconds.
 *
 * Output, one line per query: "qN rows R ms T nonnull C" (C: the result's cells that are not
 * NULL, so that a result of the right length but NULL where a peer has values shows up; mc2
 * mode adds "runs K", the timed runs behind T) | "qN error MESSAGE" (for mc2, a failed job's
 * MESSAGE is "the query failed: " and the enclave's reason, e.g. "not supported in oblivious
 * mode: ...") | "qN timeout S",
 * then "peak_rss_kb K" (this process; for mc2 that is the client only, run.sh reads the
 * service's own peak from /proc). sqlite mode first prints "sqlite VERSION" and "load_s S".
 * An error that stops the program is printed on stdout as "fatal MESSAGE" (and on stderr).
 * Progress, one line per query, goes to stderr ("bench_tpch: mc2 q5: 1 warm-up + 3 runs ...
 * 1234.5 ms, 5 rows"). */
#include <ctype.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "base/hex.h"
#include "conn/conn.h"
#include "mc2/catalog.h"
#include "mc2/job.h"
#include "mc2/table.h"
#include "sqlref/sqlref.h"
#include "table/tsrc.h"
#include "wire/proto.h"

#define NQ 22
static const char *const TABLES[8] = {"region", "nation",   "supplier", "customer",
                                      "part",   "partsupp", "orders",   "lineitem"};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Fatal errors go to stdout too, where run.sh reads the program's results. */
static void die(const char *what, const mc2_err *e)
{
    printf("fatal %s: %s\n", what, e->msg);
    fflush(stdout);
    fprintf(stderr, "bench_tpch: %s: %s\n", what, e->msg);
    exit(1);
}

/* CPU time (user + system, all threads) of process pid in ms, from /proc/PID/stat, or -1. */
static double proc_cpu_ms(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    /* Fields after the command name, which ends at the last ')': state is field 3, utime 14,
     * stime 15 (proc(5)). */
    char *p = ok ? strrchr(line, ')') : NULL;
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(ut + st) * 1e3 / (double)hz : -1;
}

/* VmHWM of process pid in KiB (its peak resident set since it started), or -1. */
static long proc_hwm_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Reads QUERY_DIR/qN.sql into buf (NUL-terminated); 0 or -1 with *err set. */
static int read_query(const char *dir, int q, mc2_buf *buf, mc2_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/q%d.sql", dir, q);
    mc2_buf_reset(buf);
    if (mc2_file_read_all(path, MC2_JOB_MAX_TEXT / 2, buf, err)) return -1;
    return mc2_buf_append(buf, "", 1, err);
}

/* True if s is a decimal number from lo to hi (digits only). */
static int decimal_in(const char *s, long lo, long hi)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9) return 0;
    long v = atol(s);
    return v >= lo && v <= hi;
}

/* Error messages go on one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
}

/* ---- mc2 ---------------------------------------------------------------------------------- */

/* True if the query text has `table` as a whole word: the job's inputs are the tables the
 * query names, as a user would give them with `mc2 sql --input` (without --input, `mc2 sql`
 * passes every table the party owns, and the enclave reads each input in full). */
static int names_table(const char *q, const char *table)
{
    size_t n = strlen(table);
    for (const char *p = q; (p = strstr(p, table)) != NULL; p++) {
        char before = p == q ? ' ' : p[-1], after = p[n];
        if (!(isalnum((unsigned char)before) || before == '_') &&
            !(isalnum((unsigned char)after) || after == '_'))
            return 1;
    }
    return 0;
}

/* Polls job jid's state until it is neither queued, running nor waiting (for approvals or
 * keys, as mc2_job_wait with approvals), or until `until` (now_ms() clock); the state is left
 * in *status. Polls every 1 ms, doubling up to POLL_CAP_MS: a job's end is noticed at most
 * that late (mc2_job_wait's 50 ms cap would add up to 50 ms to a query's time; `mc2 sql`
 * polls every 100 ms). */
#define POLL_CAP_MS 4
static int job_wait(mc2_esession *s, uint64_t jid, double until, mc2_buf *status, mc2_err *err)
{
    long pause_us = 1000;
    mc2_buf text = {0};
    int rc;
    for (;;) {
        if ((rc = mc2_job_state(s, jid, &text, status, err)) != 0) break;
        const char *v = (const char *)status->data;
        int busy = strncmp(v, "running", 7) == 0 || strncmp(v, "queued", 6) == 0 ||
                   strncmp(v, "waiting", 7) == 0;
        if (!busy || now_ms() >= until) break;
        struct timespec ts = {0, pause_us * 1000};
        nanosleep(&ts, NULL);
        pause_us = pause_us * 2 > POLL_CAP_MS * 1000 ? POLL_CAP_MS * 1000 : pause_us * 2;
    }
    mc2_buf_free(&text);
    return rc;
}

/* How each query's job is submitted (the options of mode mc2). */
typedef struct run_opts {
    int oblivious;       /* the job parameter oblivious=1 */
    const char *threads; /* the job parameter threads, or NULL */
} run_opts;

/* One query, submission to decrypted result: 0 with *rows and *ms, -1 with *err, or 1 if the
 * job was not done at deadline (now_ms() clock; 0: none). After 1 the enclave is still
 * running the job (it cannot cancel one), so the service stays busy until it ends. */
static int mc2_run(const char *service, mc2_esession *s, const mc2_identity *id,
                   const mc2_policy *pol, const mc2_catalog_entry *const tabs[8], const char *query,
                   const run_opts *o, double deadline, uint64_t *rows, uint64_t *nonnull,
                   double *ms, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    for (int t = 0; t < 8; t++) {
        if (!names_table(query, TABLES[t])) continue;
        mc2_job_input *in = &j.inputs[j.ninputs++];
        snprintf(in->owner, sizeof in->owner, "%s", id->name);
        snprintf(in->table, sizeof in->table, "%s", TABLES[t]);
        memcpy(in->table_id, tabs[t]->table_id, 16);
        in->version = tabs[t]->version;
    }
    j.nrecipients = 1;
    snprintf(j.recipients[0], sizeof j.recipients[0], "%s", id->name);
    int rc = -1;
    mc2_buf status = {0};
    mc2_result_ref ref;
    memset(&ref, 0, sizeof ref);
    int fd = -1;
    mc2_tio io;
    mc2_tsrc *src = NULL;
    mc2_tscan *sc = NULL;
    unsigned *cols = NULL;
    mc2_batch *b = NULL;
    if (mc2_job_add_param(&j, "query", query, err) ||
        (o->oblivious && mc2_job_add_param(&j, "oblivious", "1", err)) ||
        (o->threads && mc2_job_add_param(&j, "threads", o->threads, err)))
        goto out;

    double t0 = now_ms();
    uint64_t jid;
    if (mc2_job_submit(s, id, pol, &j, &jid, NULL, err)) goto out;
    double until = deadline > 0 ? deadline : now_ms() + 3600e3;
    if (now_ms() >= until) {
        rc = 1;
        goto out;
    }
    if (job_wait(s, jid, until, &status, err)) goto out;
    const char *stt = (const char *)status.data;
    if (strncmp(stt, "failed", 6) == 0) {
        /* The state text is "failed: REASON". */
        const char *why = stt + 6;
        if (strncmp(why, ": ", 2) == 0) why += 2;
        mc2_err_set(err, MC2_E_INPUT, "the query failed: %s", why);
        goto out;
    }
    if (strncmp(stt, "done", 4) != 0) { /* still running at the deadline */
        rc = 1;
        goto out;
    }
    size_t nres = 0;
    if (mc2_esession_results(s, jid, &ref, 1, &nres, err)) goto out;
    if (nres != 1) {
        mc2_err_set(err, MC2_E_INPUT, "the enclave returned %zu results, not 1", nres);
        goto out;
    }
    /* The result is downloaded to a temporary file and read block by block, as mc2 sql and
     * mc2 download do: memory does not grow with it. */
    if (mc2_host_download_fd(service, ref.name, "/tmp", NULL, NULL, &fd, NULL, err) ||
        mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, ref.key, 256u << 20, &src, err))
        goto out;
    const mc2_schema *rs = mc2_tsrc_header(src)->schema;
    cols = calloc(rs->ncols ? rs->ncols : 1, sizeof *cols);
    if (!cols) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < rs->ncols; c++) cols[c] = (unsigned)c;
    if (mc2_tscan_open(src, cols, rs->ncols, 2, NULL, NULL, &sc, err) ||
        !(b = mc2_batch_new(rs, 1024, err)))
        goto out;
    uint64_t n = 0, nn = 0, index;
    int got;
    while ((got = mc2_tscan_next(sc, b, &index, err)) == 1) {
        n += b->nrows;
        for (size_t c = 0; c < b->schema->ncols; c++)
            for (size_t i = 0; i < b->nrows; i++) nn += !(b->cols[c].nulls && b->cols[c].nulls[i]);
    }
    if (got < 0) goto out;
    *ms = now_ms() - t0;
    *rows = n;
    *nonnull = nn;
    rc = 0;
out:
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    mc2_tsrc_free(src);
    free(cols);
    if (fd >= 0) close(fd);
    mc2_wipe(&ref, sizeof ref);
    mc2_buf_free(&status);
    mc2_job_free(&j);
    return rc;
}

/* What every query of mode mc2 shares. */
typedef struct mc2_bench {
    const char *service;
    mc2_esession s;
    mc2_identity id;
    mc2_policy *pol;
    const mc2_catalog_entry *tabs[8];
    run_opts ro;
    int runs;
    double timeout_s; /* per query, warm-up and runs together; 0: none */
    long epid;        /* the enclave's pid, or 0 */
} mc2_bench;

/* Query qi (text `query`): the warm-up and the timed runs, then its line (and the enclave's)
 * on stdout and its progress on stderr. Returns 1 if the session cannot go on (a job was
 * abandoned at the deadline, or the enclave is gone), else 0. */
static int mc2_query(mc2_bench *m, int qi, const char *query)
{
    mc2_err err;
    mc2_err_clear(&err);
    fprintf(stderr, "bench_tpch: mc2%s q%d: 1 warm-up + %d runs ... ",
            m->ro.oblivious ? " (oblivious)" : "", qi, m->runs);
    double cpu0 = m->epid > 0 ? proc_cpu_ms(m->epid) : -1, wall0 = now_ms();
    double deadline = m->timeout_s > 0 ? now_ms() + m->timeout_s * 1e3 : 0;
    double best = -1, warm = -1, last = 0;
    uint64_t rows = 0, rows0 = 0, nn = 0, nn0 = 0;
    int failed = 0, timed = 0, stop = 0;
    char why[sizeof err.msg];
    for (int run = 0; run <= m->runs; run++) {
        /* A run that the previous one says will not fit in the time left is not started. */
        if (run > 0 && deadline > 0 && now_ms() + last > deadline) break;
        double ms = 0;
        int rc = mc2_run(m->service, &m->s, &m->id, m->pol, m->tabs, query, &m->ro, deadline, &rows,
                         &nn, &ms, &err);
        if (rc == 1) {
            stop = 1;
            break;
        }
        if (rc) {
            one_line(err.msg);
            snprintf(why, sizeof why, "%s", err.msg);
            failed = 1;
            /* After a failed job the enclave still answers; after a lost session not. */
            mc2_err herr;
            mc2_err_clear(&herr);
            if (mc2_esession_hello(&m->s, m->pol, &herr)) stop = 1;
            break;
        }
        last = ms;
        if (run == 0) {
            warm = ms;
            rows0 = rows;
            nn0 = nn;
            continue; /* warm-up */
        }
        if (rows != rows0 || nn != nn0) {
            snprintf(why, sizeof why, "%llu rows in one run, %llu in another",
                     (unsigned long long)rows0, (unsigned long long)rows);
            failed = 1;
            break;
        }
        timed++;
        if (best < 0 || ms < best) best = ms;
    }
    if (!failed && warm < 0) {
        printf("q%d timeout %g\n", qi, m->timeout_s);
        fprintf(stderr, "timeout after %g s\n", m->timeout_s);
    } else if (!failed) {
        printf("q%d rows %llu ms %.3f nonnull %llu runs %d\n", qi, (unsigned long long)rows0,
               timed ? best : warm, (unsigned long long)nn0, timed);
        fprintf(stderr, "%.1f ms, %llu rows\n", timed ? best : warm, (unsigned long long)rows0);
    } else {
        printf("q%d error %s\n", qi, why);
        fprintf(stderr, "FAILED: %s\n", why);
    }
    if (m->epid > 0) {
        double cpu1 = proc_cpu_ms(m->epid);
        printf("enclave q%d hwm_kb %ld cpu_ms %.0f wall_ms %.0f\n", qi, proc_hwm_kb(m->epid),
               cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, now_ms() - wall0);
    }
    fflush(stdout);
    return stop;
}

static int mode_mc2(int argc, char **argv)
{
    if (argc < 7 || argc > 13) return 2;
    const char *qdir = argv[5];
    int from = 1, to = NQ;
    mc2_bench m = {.service = argv[2], .runs = atoi(argv[6])};
    if (m.runs < 1 || m.runs > 100) return 2;
    for (int a = 7; a < argc; a++) {
        if (strcmp(argv[a], "oblivious") == 0)
            m.ro.oblivious = 1;
        else if (strncmp(argv[a], "threads=", 8) == 0 && decimal_in(argv[a] + 8, 1, 64))
            m.ro.threads = argv[a] + 8;
        else if (strncmp(argv[a], "enclave-pid=", 12) == 0 && (m.epid = atol(argv[a] + 12)) > 0)
            continue;
        else if (strncmp(argv[a], "timeout=", 8) == 0 && (m.timeout_s = atof(argv[a] + 8)) > 0)
            continue;
        else if (strncmp(argv[a], "from=", 5) == 0 && (from = atoi(argv[a] + 5)) >= 1 && from <= NQ)
            continue;
        else if (strncmp(argv[a], "to=", 3) == 0 && (to = atoi(argv[a] + 3)) >= 1 && to <= NQ)
            continue;
        else
            return 2;
    }
    mc2_err err;
    mc2_err_clear(&err);
    if (mc2_identity_load(argv[3], &m.id, &err)) die("identity", &err);
    if (mc2_policy_load(argv[4], &m.pol, &err)) die("policy", &err);

    /* The tables' ids and versions, from this party's catalog (what `mc2 upload` recorded),
     * never from the service's listing. */
    mc2_catalog cat;
    if (mc2_catalog_load(m.id.home, &cat, &err)) die("catalog", &err);
    for (int t = 0; t < 8; t++)
        if (!(m.tabs[t] = mc2_catalog_latest(&cat, m.pol->hash, TABLES[t]))) {
            mc2_err_set(&err, MC2_E_INPUT,
                        "the catalog of %s has no table '%s' under this policy (upload it with "
                        "`mc2 upload --as %s`)",
                        argv[3], TABLES[t], TABLES[t]);
            die("catalog", &err);
        }
    if (mc2_esession_open(m.service, &m.id, m.pol, &m.s, &err) ||
        mc2_esession_grant(&m.s, &m.id, m.pol, &err))
        die("session", &err);

    mc2_buf q = {0};
    int stop = 0; /* the session cannot go on: a job abandoned, or the enclave gone */
    for (int qi = from; qi <= to && !stop; qi++) {
        if (read_query(qdir, qi, &q, &err)) die("query file", &err);
        stop = mc2_query(&m, qi, (const char *)q.data);
    }
    mc2_buf_free(&q);
    /* After an abandoned job the enclave is still busy with it. */
    mc2_esession_close(&m.s);
    printf("peak_rss_kb %ld\n", peak_rss_kb());
    mc2_catalog_free(&cat);
    mc2_policy_free(m.pol);
    mc2_identity_free(&m.id);
    return stop ? 3 : 0;
}

/* ---- SQLite ------------------------------------------------------------------------------- */

static double g_deadline;
static int on_progress(void *ctx)
{
    (void)ctx;
    return now_ms() > g_deadline;
}

static int mode_sqlite(int argc, char **argv)
{
    if (argc != 6) return 2;
    const char *qdir = argv[4];
    double timeout_s = atof(argv[5]);
    if (!(timeout_s > 0)) return 2;
    mc2_err err;
    mc2_err_clear(&err);
    sqlite3 *db;
    if (sqlref_open(&db, &err)) die("sqlite", &err);
    fprintf(stderr, "bench_tpch: sqlite: loading the tables ...\n");
    double t0 = now_ms();
    if (sqlref_load_tpch(db, argv[2], argv[3], 1, &err)) die("loading the tables", &err);
    printf("sqlite %s\nload_s %.2f\n", sqlite3_libversion(), (now_ms() - t0) / 1e3);
    fflush(stdout);
    sqlite3_progress_handler(db, 10000, on_progress, NULL);
    mc2_buf q = {0};
    for (int qi = 1; qi <= NQ; qi++) {
        if (read_query(qdir, qi, &q, &err)) die("query file", &err);
        fprintf(stderr, "bench_tpch: sqlite q%d ... ", qi);
        sqlite3_stmt *st = NULL;
        double start = now_ms();
        g_deadline = start + timeout_s * 1e3;
        int rc = sqlite3_prepare_v2(db, (const char *)q.data, -1, &st, NULL);
        uint64_t rows = 0, nn = 0;
        if (rc == SQLITE_OK)
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                rows++;
                for (int c = 0; c < sqlite3_column_count(st); c++)
                    nn += sqlite3_column_type(st, c) != SQLITE_NULL;
            }
        double ms = now_ms() - start;
        if (rc == SQLITE_DONE) {
            printf("q%d rows %llu ms %.3f nonnull %llu\n", qi, (unsigned long long)rows, ms,
                   (unsigned long long)nn);
            fprintf(stderr, "%.1f ms, %llu rows\n", ms, (unsigned long long)rows);
        } else if (rc == SQLITE_INTERRUPT) {
            printf("q%d timeout %g\n", qi, timeout_s);
            fprintf(stderr, "timeout after %g s\n", timeout_s);
        } else {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
            one_line(msg);
            printf("q%d error %s\n", qi, msg);
            fprintf(stderr, "FAILED: %s\n", msg);
        }
        sqlite3_finalize(st);
        fflush(stdout);
    }
    mc2_buf_free(&q);
    printf("peak_rss_kb %ld\n", peak_rss_kb());
    sqlref_close(db);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "mc2") == 0) rc = mode_mc2(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "sqlite") == 0) rc = mode_sqlite(argc, argv);
    if (rc == 2)
        fprintf(stderr, "usage: bench_tpch mc2 SERVICE HOME POLICY QUERY_DIR RUNS [oblivious] "
                        "[timeout=S] [from=N] [to=M] [threads=T] [enclave-pid=PID]\n"
                        "       bench_tpch sqlite DATA_DIR SCHEMA_DIR QUERY_DIR TIMEOUT_S\n");
    return rc;
}
