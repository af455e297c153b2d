/* bench_tpch.c - the mc2 and SQLite sides of the TPC-H benchmark (bench/run.sh, sections
 * tpch and obliv-tpch). Two modes, each run as its own process so that its peak memory is its
 * own:
 *
 *   bench_tpch mc2 SERVICE HOME POLICY QUERY_DIR RUNS [oblivious] [timeout=S] [from=N] [to=M]
 *     Against a running service where HOME's party owns the eight TPC-H tables (uploaded by
 *     run.sh): for q1..q22 of QUERY_DIR, submits the query as a "sql" job whose inputs are
 *     the tables the query names, through libmc2 (one attested session, opened and granted once,
 *     outside the timings), polls EAPI_JOB until it is done, asks for the result key, downloads
 *     the result and decrypts every row in memory. Timed from just before the submission to the
 *     last decrypted row. One untimed warm-up, then RUNS timed runs; the best is printed.
 *     Options, in any order after RUNS:
 *       oblivious  adds the job parameter oblivious=1 to every query's job (oblivious mode;
 *                  encryption mode without it).
 *       timeout=S  gives each query S seconds for its warm-up and timed runs together. A run
 *                  is not started when the previous one took longer than what is left (the
 *                  line then shows fewer runs; "runs 0": the figure is the warm-up's), and the
 *                  wait for a job still running at the deadline is abandoned. The query is
 *                  "qN timeout S" if not even its warm-up finished.
 *       from=N, to=M  runs qN..qM only (default q1..q22).
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
 * service's own peak from /proc). sqlite mode first prints "sqlite VERSION" and "load_s S". */
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

static void die(const char *what, const mc2_err *e)
{
    fprintf(stderr, "bench_tpch: %s: %s\n", what, e->msg);
    exit(1);
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

/* One query, submission to decrypted result: 0 with *rows and *ms, -1 with *err, or 1 if the
 * job was not done at deadline (now_ms() clock; 0: none). After 1 the enclave is still
 * running the job (it cannot cancel one), so the service stays busy until it ends. */
static int mc2_run(const char *service, mc2_esession *s, const mc2_identity *id,
                   const mc2_policy *pol, const mc2_catalog_entry *const tabs[8], const char *query,
                   int oblivious, double deadline, uint64_t *rows, uint64_t *nonnull, double *ms,
                   mc2_err *err)
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
        (oblivious && mc2_job_add_param(&j, "oblivious", "1", err)))
        goto out;

    double t0 = now_ms();
    uint64_t jid;
    if (mc2_job_submit(s, id, pol, &j, &jid, NULL, err)) goto out;
    /* Wait for the state (mc2_job_wait polls from 1 ms, backing off to 50 ms). */
    double left = deadline > 0 ? deadline - now_ms() : 3600e3;
    if (left <= 0 || mc2_job_wait(s, jid, true, (unsigned)left, NULL, &status, err)) {
        if (left <= 0) rc = 1;
        goto out;
    }
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

static int mode_mc2(int argc, char **argv)
{
    if (argc < 7 || argc > 11) return 2;
    const char *service = argv[2], *qdir = argv[5];
    int runs = atoi(argv[6]), oblivious = 0, from = 1, to = NQ;
    double timeout_s = 0;
    if (runs < 1 || runs > 100) return 2;
    for (int a = 7; a < argc; a++) {
        if (strcmp(argv[a], "oblivious") == 0)
            oblivious = 1;
        else if (strncmp(argv[a], "timeout=", 8) == 0 && (timeout_s = atof(argv[a] + 8)) > 0)
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
    mc2_identity id;
    mc2_policy *pol;
    if (mc2_identity_load(argv[3], &id, &err)) die("identity", &err);
    if (mc2_policy_load(argv[4], &pol, &err)) die("policy", &err);

    /* The tables' ids and versions, from this party's catalog (what `mc2 upload` recorded),
     * never from the service's listing. */
    const mc2_catalog_entry *tabs[8];
    mc2_catalog cat;
    if (mc2_catalog_load(id.home, &cat, &err)) die("catalog", &err);
    for (int t = 0; t < 8; t++)
        if (!(tabs[t] = mc2_catalog_latest(&cat, pol->hash, TABLES[t]))) {
            fprintf(stderr, "bench_tpch: your catalog has no table %s (upload it)\n", TABLES[t]);
            return 1;
        }
    mc2_esession s;
    if (mc2_esession_open(service, &id, pol, &s, &err) || mc2_esession_grant(&s, &id, pol, &err))
        die("session", &err);

    mc2_buf q = {0};
    int stop = 0; /* the session cannot go on: a job abandoned, or the enclave gone */
    for (int qi = from; qi <= to && !stop; qi++) {
        if (read_query(qdir, qi, &q, &err)) die("query file", &err);
        double deadline = timeout_s > 0 ? now_ms() + timeout_s * 1e3 : 0;
        double best = -1, warm = -1, last = 0;
        uint64_t rows = 0, rows0 = 0, nn = 0, nn0 = 0;
        int failed = 0, timed = 0;
        for (int run = 0; run <= runs; run++) {
            /* A run that the previous one says will not fit in the time left is not started. */
            if (run > 0 && deadline > 0 && now_ms() + last > deadline) break;
            double ms = 0;
            int rc = mc2_run(service, &s, &id, pol, tabs, (const char *)q.data, oblivious, deadline,
                             &rows, &nn, &ms, &err);
            if (rc == 1) {
                stop = 1;
                break;
            }
            if (rc) {
                one_line(err.msg);
                printf("q%d error %s\n", qi, err.msg);
                failed = 1;
                /* After a failed job the enclave still answers; after a lost session not. */
                mc2_err herr;
                mc2_err_clear(&herr);
                if (mc2_esession_hello(&s, pol, &herr)) stop = 1;
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
                printf("q%d error %llu rows in one run, %llu in another\n", qi,
                       (unsigned long long)rows0, (unsigned long long)rows);
                failed = 1;
                break;
            }
            timed++;
            if (best < 0 || ms < best) best = ms;
        }
        if (!failed && warm < 0)
            printf("q%d timeout %g\n", qi, timeout_s);
        else if (!failed)
            printf("q%d rows %llu ms %.3f nonnull %llu runs %d\n", qi, (unsigned long long)rows0,
                   timed ? best : warm, (unsigned long long)nn0, timed);
        fflush(stdout);
    }
    mc2_buf_free(&q);
    /* After an abandoned job the enclave is still busy with it. */
    mc2_esession_close(&s);
    printf("peak_rss_kb %ld\n", peak_rss_kb());
    mc2_catalog_free(&cat);
    mc2_policy_free(pol);
    mc2_identity_free(&id);
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
    double t0 = now_ms();
    if (sqlref_load_tpch(db, argv[2], argv[3], 1, &err)) die("loading the tables", &err);
    printf("sqlite %s\nload_s %.2f\n", sqlite3_libversion(), (now_ms() - t0) / 1e3);
    fflush(stdout);
    sqlite3_progress_handler(db, 10000, on_progress, NULL);
    mc2_buf q = {0};
    for (int qi = 1; qi <= NQ; qi++) {
        if (read_query(qdir, qi, &q, &err)) die("query file", &err);
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
        } else if (rc == SQLITE_INTERRUPT) {
            printf("q%d timeout %g\n", qi, timeout_s);
        } else {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
            one_line(msg);
            printf("q%d error %s\n", qi, msg);
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
                        "[timeout=S] [from=N] [to=M]\n"
                        "       bench_tpch sqlite DATA_DIR SCHEMA_DIR QUERY_DIR TIMEOUT_S\n");
    return rc;
}
