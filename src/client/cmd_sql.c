/* cmd_sql.c - `mc2 sql`: run a SQL query as a job over encrypted tables (yours, and other
 * parties' with their approval), then fetch, decrypt and print the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "cli.h"
#include "client/session.h"
#include "client/sql_inputs.h"
#include "table/textio.h"
#include "table/tsrc.h"
#include "table/value.h"
#include "wire/proto.h"

static const char SQL_HELP[] =
    "usage: mc2 sql \"SELECT ...\" | -f FILE.sql [options]\n\n"
    "Runs the query inside the attested enclave over encrypted tables and prints the result\n"
    "(an aligned table on a terminal, CSV otherwise). In the query, a table is called by its\n"
    "name. The query is parsed first (a syntax error is reported before anything is sent).\n"
    "Without --input, the job reads exactly the tables the query names (FROM and JOIN, in\n"
    "subqueries too; not WITH names), each one of your own: your latest upload of it, from\n"
    "your catalog. A name only another party has fails with the --input options to use.\n\n"
    "  --input [NAME=]OWNER/TABLE  a table the job reads, called NAME in the query (default:\n"
    "                              TABLE): another party's (it must approve the job) or yours;\n"
    "                              repeatable, up to 16. With --input, name every table the\n"
    "                              query reads; yours are your latest uploads, others' as the\n"
    "                              service lists them\n"
    "  --recipient PARTY           who may read the result (repeatable; default: you)\n"
    "  --oblivious                 run in oblivious mode: no branch or memory address depends\n"
    "                              on the data (slower; docs/sql.md lists what it supports)\n"
    "  --pad-rows N                with --oblivious: pad every operator's output to N rows,\n"
    "                              hiding intermediate sizes (fails if a true size exceeds N);\n"
    "                              default: those sizes are revealed\n"
    "  --csv                       print CSV even on a terminal\n"
    "  --out FILE                  write the result as CSV to FILE instead of printing it\n"
    "  --wait SECONDS              how long to wait for the result (default 300 when every\n"
    "                              input is yours, else 0); a job not done by then keeps\n"
    "                              running: its id and how to fetch its result are printed.\n"
    "                              Meanwhile stderr, if a terminal, shows the job's state\n"
    "                              (queued behind which job, running for how long, how\n"
    "                              much input it has read)\n"
    "  --home DIR  --service HOST:PORT  --policy FILE\n";

/* Parses the --input specs [NAME=]OWNER/TABLE into j's inputs and each one's SQL name
 * (NAME, else TABLE) into sql[i]; *named is set if any spec gave a NAME. A usage error is
 * printed; returns its exit code. */
static int parse_specs(const char *const *specs, size_t n, mc2_job *j,
                       char sql[][MC2_TABLE_NAME_MAX + 1], int *named)
{
    for (size_t i = 0; i < n; i++) {
        const char *spec = specs[i], *eq = strchr(spec, '='), *ref_s = eq ? eq + 1 : spec;
        const char *slash = strchr(ref_s, '/');
        mc2_job_input *in = &j->inputs[j->ninputs++];
        size_t nl = eq ? (size_t)(eq - spec) : 0;
        if (!slash || slash == ref_s || (size_t)(slash - ref_s) >= sizeof in->owner || !slash[1] ||
            strlen(slash + 1) >= sizeof in->table || (eq && nl == 0) || nl > MC2_TABLE_NAME_MAX)
            return cli_usage("sql", "--input wants [NAME=]OWNER/TABLE, not '%s'", spec);
        memcpy(in->owner, ref_s, (size_t)(slash - ref_s));
        strcpy(in->table, slash + 1);
        snprintf(sql[i], MC2_TABLE_NAME_MAX + 1, "%.*s", eq ? (int)nl : (int)strlen(in->table),
                 eq ? spec : in->table);
        *named |= eq != NULL;
    }
    return CLI_OK;
}

/* Cell (c, i) of b as text (NULL shown as NULL): a pointer into buf or into b. */
static const char *cell_text(const mc2_batch *b, size_t c, size_t i, char buf[MC2_VALUE_TEXT_MAX],
                             size_t *len)
{
    const mc2_col *col = &b->cols[c];
    const mc2_coltype *t = &b->schema->cols[c].type;
    if (col->nulls && col->nulls[i]) {
        *len = 4;
        return "NULL";
    }
    switch (t->id) {
    case MC2_T_INT64:
        *len = mc2_format_int64(col->v.i64[i], buf);
        return buf;
    case MC2_T_DOUBLE:
        *len = mc2_format_double(col->v.f64[i], buf);
        return buf;
    case MC2_T_DECIMAL:
        *len = mc2_format_decimal(col->v.i64[i], t->scale, buf);
        return buf;
    case MC2_T_DATE:
        *len = mc2_format_date(col->v.i32[i], buf);
        return buf;
    case MC2_T_BOOL:
        *len = mc2_format_bool(col->v.b[i], buf);
        return buf;
    default:
        *len = col->off[i + 1] - col->off[i];
        return col->data + col->off[i];
    }
}

/* Display width of p[0..n): UTF-8 lead bytes. */
static size_t text_width(const char *p, size_t n)
{
    size_t w = 0;
    for (size_t k = 0; k < n; k++) w += ((unsigned char)p[k] & 0xC0) != 0x80;
    return w;
}

/* One pass over every block of src: measures the columns' widths (width != NULL) or prints
 * the rows (aligned to width, or CSV when width is NULL). */
static int result_pass(mc2_tsrc *src, size_t *width, bool print, mc2_err *err)
{
    const mc2_schema *s = mc2_tsrc_header(src)->schema;
    size_t nc = s->ncols;
    unsigned *cols = mc2_calloc(nc ? nc : 1, sizeof *cols);
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    mc2_buf text = {.secret = 1};
    int rc = -1, got;
    uint64_t index;
    if (!cols) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t c = 0; c < nc; c++) cols[c] = (unsigned)c;
    if (mc2_tscan_open(src, cols, nc, 2, NULL, NULL, &sc, err) ||
        !(b = mc2_batch_new(s, 1024, err)))
        goto out;
    while ((got = mc2_tscan_next(sc, b, &index, err)) == 1) {
        if (print && !width) {
            if (mc2_text_write_batch(MC2_FMT_CSV, b, &text, err)) goto out;
            fwrite(text.data, 1, text.len, stdout);
            mc2_buf_reset(&text);
            continue;
        }
        for (size_t i = 0; i < b->nrows; i++) {
            for (size_t c = 0; c < nc && width; c++) {
                char buf[MC2_VALUE_TEXT_MAX];
                size_t len, w;
                const char *v = cell_text(b, c, i, buf, &len);
                w = text_width(v, len);
                if (!print) {
                    if (w > width[c]) width[c] = w;
                    continue;
                }
                printf("%s%.*s%*s", c ? " | " : "", (int)len, v, (int)(width[c] - w), "");
            }
            if (print) putchar('\n');
        }
    }
    rc = got < 0 ? -1 : 0;
out:
    mc2_buf_free(&text);
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    mc2_free(cols);
    return rc;
}

/* Prints the result in file fd (an .mc2t): aligned columns, or CSV. Memory does not grow
 * with the result: blocks are read, authenticated and decoded one at a time. Nothing is
 * printed unless every block authenticates: a first pass checks them all (and measures the
 * columns for aligned output), the second prints. */
static int print_result(int fd, const uint8_t key[MC2_KEY_LEN], int csv, mc2_err *err)
{
    mc2_tio io;
    mc2_tsrc *src = NULL;
    mc2_buf text = {0};
    size_t *width = NULL;
    int rc = -1;
    if (mc2_tio_fd(fd, &io, err) || mc2_tsrc_open(&io, key, 256u << 20, &src, err)) goto out;
    const mc2_thdr *h = mc2_tsrc_header(src);
    const mc2_schema *s = h->schema;
    size_t nc = s->ncols;
    if (!(width = mc2_calloc(nc ? nc : 1, sizeof *width))) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < nc; c++) width[c] = strlen(s->cols[c].name);
    if (result_pass(src, csv ? NULL : width, false, err)) goto out;
    if (csv) {
        if (mc2_text_write_header(s, &text, err)) goto out;
        fwrite(text.data, 1, text.len, stdout);
        rc = result_pass(src, NULL, true, err);
        goto out;
    }
    for (size_t c = 0; c < nc; c++) {
        const char *n = s->cols[c].name;
        printf("%s%s%*s", c ? " | " : "", n, (int)(width[c] - strlen(n)), "");
    }
    putchar('\n');
    for (size_t c = 0; c < nc; c++) {
        printf("%s", c ? "-+-" : "");
        for (size_t k = 0; k < width[c]; k++) putchar('-');
    }
    putchar('\n');
    if (result_pass(src, width, true, err)) goto out;
    printf("(%llu row%s)\n", (unsigned long long)h->row_count, h->row_count == 1 ? "" : "s");
    rc = 0;
out:
    mc2_free(width);
    mc2_buf_free(&text);
    mc2_tsrc_free(src);
    return rc;
}

/* What `mc2 sql` was asked for. */
typedef struct sql_args {
    const char *file, *out, *wait_s, *home, *service, *policy, *query, *pad_rows;
    const char *inputs[MC2_JOB_MAX_INPUTS], *recips[MC2_JOB_MAX_RECIPIENTS];
    size_t ni, nr;
    int csv, oblivious;
} sql_args;

/* Fills in the job's inputs (resolved: table id and version) after the --input specs or, without
 * them, from the tables the query reads; then its recipients and parameters. *all_mine: every
 * input is this party's. */
static int job_fill(cli_session *cs, const sql_args *a, const cli_sql_refs *r,
                    char sql[][MC2_TABLE_NAME_MAX + 1], int named, mc2_job *j, int *all_mine,
                    mc2_err *err)
{
    if (a->ni == 0 && cli_sql_own_inputs(cs, r, j, err)) return -1;
    *all_mine = 1;
    for (size_t i = 0; i < j->ninputs; i++) {
        *all_mine &= strcmp(j->inputs[i].owner, cs->id.name) == 0;
        if (a->ni && cli_resolve_input(cs, &j->inputs[i], err)) return -1;
    }
    if (a->nr == 0) {
        const mc2_party *me = mc2_policy_party(cs->policy, cs->id.name);
        if (!me || !me->recipient)
            return mc2_err_set(err, MC2_E_AUTH,
                               "the consortium policy does not let you receive results: name "
                               "a recipient it lists with --recipient PARTY");
        snprintf(j->recipients[j->nrecipients++], 65, "%s", cs->id.name);
    }
    for (size_t i = 0; i < a->nr; i++)
        snprintf(j->recipients[j->nrecipients++], 65, "%s", a->recips[i]);
    if (mc2_job_add_param(j, "query", a->query, err) ||
        (a->oblivious && mc2_job_add_param(j, "oblivious", "1", err)) ||
        (a->pad_rows && mc2_job_add_param(j, "pad_rows", a->pad_rows, err)))
        return -1;
    if (!named) return 0;
    mc2_buf names = {0};
    int rc = 0;
    for (size_t i = 0; i < a->ni && rc == 0; i++)
        rc = mc2_buf_printf(&names, err, "%s%s", i ? "," : "", sql[i]);
    rc = rc || mc2_buf_append(&names, "", 1, err) ||
                 mc2_job_add_param(j, "names", (const char *)names.data, err)
             ? -1
             : 0;
    mc2_buf_free(&names);
    return rc;
}

/* After following job id to `status`: prints its result if it is done and this party is a
 * recipient (fetched, decrypted, as CSV to a->out or printed), else what the recipients
 * do; a failure is an error with its reason; a job still waiting or running is where it
 * is and how to fetch its result later (cli_job_outcome). */
static int job_result(cli_session *cs, const sql_args *a, const mc2_job *j, uint64_t id,
                      const char *stt, mc2_err *err)
{
    mc2_result_ref ref;
    size_t nres = 0;
    int me_recipient = 0, bad = -1;
    char fetch[96];
    snprintf(fetch, sizeof fetch, "recipients run mc2 download --job %llu --out result.csv",
             (unsigned long long)id);
    int o = cli_job_outcome(id, "sql", stt, fetch, err);
    if (o != 0) return o < 0 ? -1 : 0;
    for (size_t i = 0; i < j->nrecipients; i++)
        me_recipient |= strcmp(j->recipients[i], cs->id.name) == 0;
    if (!me_recipient) {
        printf("job %llu is done; its recipients fetch the result with: mc2 download --job %llu "
               "--out result.csv\n",
               (unsigned long long)id, (unsigned long long)id);
        return 0;
    }
    memset(&ref, 0, sizeof ref);
    if (mc2_esession_results(&cs->es, id, &ref, 1, &nres, err)) goto out;
    if (nres != 1) {
        bad = mc2_err_set(err, MC2_E_INPUT, "the enclave returned no result");
        goto out;
    }
    cli_progress bar;
    cli_progress_init_stderr(&bar, "downloading");
    if (a->out) {
        mc2_table_stats st = {0};
        bad = mc2_fetch_table_progress(cs->service, ref.name, ref.key, cs->id.home, a->out,
                                       MC2_FMT_CSV, &st, cli_progress_update, &bar, err);
        cli_progress_done(&bar);
        if (!bad) printf("%llu rows -> %s\n", (unsigned long long)st.rows, a->out);
    } else {
        int fd = -1;
        bad = mc2_host_download_fd(cs->service, ref.name, cs->id.home, cli_progress_update, &bar,
                                   &fd, NULL, err);
        cli_progress_done(&bar);
        bad = bad || print_result(fd, ref.key, a->csv || !isatty(STDOUT_FILENO), err);
        if (fd >= 0) close(fd);
    }
out:
    mc2_wipe(&ref, sizeof ref);
    return bad ? -1 : 0;
}

int cmd_sql(int argc, char **argv)
{
    sql_args a = {0};
    int code;
    /* -f FILE is the one short option: turn it into --file. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-f") == 0) argv[i] = "--file";
    cli_opt opts[] = {CLI_VAL("file", &a.file),
                      CLI_LIST("input", a.inputs, &a.ni, MC2_JOB_MAX_INPUTS),
                      CLI_LIST("recipient", a.recips, &a.nr, MC2_JOB_MAX_RECIPIENTS),
                      CLI_FLAG("csv", &a.csv),
                      CLI_FLAG("oblivious", &a.oblivious),
                      CLI_VAL("pad-rows", &a.pad_rows),
                      CLI_VAL("out", &a.out),
                      CLI_VAL("wait", &a.wait_s),
                      CLI_VAL("home", &a.home),
                      CLI_VAL("service", &a.service),
                      CLI_VAL("policy", &a.policy),
                      CLI_END};
    if (cli_parse("sql", SQL_HELP, argc, argv, opts, &a.query, 1, &code)) return code;
    if (!a.query == !a.file) return cli_usage("sql", "give the query as an argument or -f FILE");
    uint64_t pad = 0, wait = 0;
    if (a.pad_rows && !a.oblivious) return cli_usage("sql", "--pad-rows needs --oblivious");
    if ((a.pad_rows && cli_parse_uint("sql", "--pad-rows", a.pad_rows, 1, 1u << 30, &pad)) ||
        (a.wait_s && cli_parse_uint("sql", "--wait", a.wait_s, 0, 86400, &wait)))
        return CLI_USAGE;
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    char sql[MC2_JOB_MAX_INPUTS][MC2_TABLE_NAME_MAX + 1];
    int named = 0, all_mine = 1, rc = CLI_FAIL;
    if ((code = parse_specs(a.inputs, a.ni, &j, sql, &named)) != CLI_OK) return code;
    mc2_err err;
    mc2_err_clear(&err);
    mc2_buf qtext = {0}, status = {0};
    cli_sql_refs refs = {0};
    cli_session cs = {0};
    if (a.file && (mc2_file_read_all(a.file, MC2_JOB_MAX_TEXT / 2, &qtext, &err) ||
                   mc2_buf_append(&qtext, "", 1, &err)))
        goto fail;
    if (a.file) a.query = (const char *)qtext.data;
    /* Everything that needs no network comes first: the query's syntax and the tables it
     * reads, and (with --input) that each is among them. */
    const char *sqlp[MC2_JOB_MAX_INPUTS];
    for (size_t i = 0; i < a.ni; i++) sqlp[i] = sql[i];
    if (cli_sql_refs_parse(a.file, a.query, &refs, &err) ||
        (a.ni && cli_sql_check_named(&refs, sqlp, a.ni, &err)) ||
        cli_party_load(&cs, a.home, a.service, a.policy, &err) ||
        job_fill(&cs, &a, &refs, sql, named, &j, &all_mine, &err) || cli_session_attest(&cs, &err))
        goto fail;
    uint64_t id;
    if (mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err) ||
        mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &id, NULL, &err))
        goto fail;
    if (!a.wait_s) wait = all_mine ? 300 : 0;
    /* Follow the job: it runs as soon as every owner approved it. */
    if (cli_job_follow(&cs, id, true, wait, &status, &err) ||
        job_result(&cs, &a, &j, id, (const char *)status.data, &err))
        goto fail;
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_job_free(&j);
    mc2_buf_free(&status);
    mc2_buf_free(&qtext);
    cli_sql_refs_free(&refs);
    cli_session_close(&cs);
    return rc;
}
