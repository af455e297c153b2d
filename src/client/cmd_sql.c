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
#include "client/sql_run.h"
#include "table/textio.h"
#include "table/tsrc.h"
#include "table/value.h"
#include "wire/proto.h"

static const char SQL_HELP[] =
    "usage: mc2 sql \"SELECT ...\" | -f FILE.sql | -f - [options]\n\n"
    "Runs the query inside the attested enclave over encrypted tables and prints the result\n"
    "(an aligned table on a terminal, CSV otherwise). In the query, a table is called by its\n"
    "name; -f - reads the query from stdin. The query is parsed first (a syntax error is reported "
    "before anything is sent).\n"
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
    "  --ranks N                   on a cluster (mc2 cluster up, or tables placed with\n"
    "                              --place): run on N ranks, one enclave per host, each\n"
    "                              reading its own part (docs/cluster.md, \"Distributed SQL\";\n"
    "                              not with --oblivious)\n"
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
 * (NAME, else TABLE) into sql[i]; *named is set if any spec gave a NAME. A bad spec is
 * MC2_E_USAGE. */
static int parse_specs(const char *const *specs, size_t n, mc2_job *j,
                       char sql[][MC2_TABLE_NAME_MAX + 1], int *named, mc2_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *spec = specs[i], *eq = strchr(spec, '='), *ref_s = eq ? eq + 1 : spec;
        const char *slash = strchr(ref_s, '/');
        mc2_job_input *in = &j->inputs[j->ninputs++];
        size_t nl = eq ? (size_t)(eq - spec) : 0;
        if (!slash || slash == ref_s || (size_t)(slash - ref_s) >= sizeof in->owner || !slash[1] ||
            strlen(slash + 1) >= sizeof in->table || (eq && nl == 0) || nl > MC2_TABLE_NAME_MAX)
            return mc2_err_set(err, MC2_E_USAGE, "--input wants [NAME=]OWNER/TABLE, not '%s'",
                               spec);
        memcpy(in->owner, ref_s, (size_t)(slash - ref_s));
        strcpy(in->table, slash + 1);
        snprintf(sql[i], MC2_TABLE_NAME_MAX + 1, "%.*s", eq ? (int)nl : (int)strlen(in->table),
                 eq ? spec : in->table);
        *named |= eq != NULL;
    }
    return 0;
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
    case MC2_T_DEC128:
        *len = mc2_format_decimal128(col->v.i128[i], t->scale, buf);
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

/* Is column c of s printed right-aligned (a number)? */
static bool numeric(const mc2_schema *s, size_t c)
{
    enum mc2_type t = s->cols[c].type.id;
    return t == MC2_T_INT64 || t == MC2_T_DOUBLE || t == MC2_T_DECIMAL || t == MC2_T_DEC128;
}

/* Appends s[0..n) to out escaped as JSON string content (quotes not included). */
static int json_escape(mc2_buf *out, const char *p, size_t n, mc2_err *err)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)p[k];
        int rc = ch == '"' || ch == '\\'   ? mc2_buf_printf(out, err, "\\%c", ch)
                 : ch < 0x20 || ch == 0x7f ? mc2_buf_printf(out, err, "\\u%04x", ch)
                                           : mc2_buf_append(out, &p[k], 1, err);
        if (rc) return -1;
    }
    return 0;
}

/* Appends s[0..n) to out as a TSV field: backslash, tab, LF and CR escaped. */
static int tsv_escape(mc2_buf *out, const char *p, size_t n, mc2_err *err)
{
    for (size_t k = 0; k < n; k++) {
        char ch = p[k];
        const char *e = ch == '\\'   ? "\\\\"
                        : ch == '\t' ? "\\t"
                        : ch == '\n' ? "\\n"
                        : ch == '\r' ? "\\r"
                                     : NULL;
        if (e ? mc2_buf_puts(out, e, err) : mc2_buf_append(out, &ch, 1, err)) return -1;
    }
    return 0;
}

/* Is text[0..n) a JSON number (an INT64, DECIMAL or finite DOUBLE as mc2 formats them)? */
static bool json_number(const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!strchr("0123456789-+.eE", p[k])) return false;
    return n > 0;
}

/* Appends row i of b to out in mode m (JSON, TSV; the table mode aligned to width).
 * *nrow counts the rows printed so far (JSON separates them). */
static int format_row(const mc2_batch *b, size_t i, enum cli_out_mode m, const size_t *width,
                      uint64_t *nrow, mc2_buf *out, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    int rc = 0;
    if (m == CLI_OUT_JSON) rc = mc2_buf_puts(out, *nrow ? ",\n{" : "[{", err);
    for (size_t c = 0; c < s->ncols && rc == 0; c++) {
        char buf[MC2_VALUE_TEXT_MAX];
        size_t len;
        const char *v = cell_text(b, c, i, buf, &len);
        bool null = b->cols[c].nulls && b->cols[c].nulls[i];
        enum mc2_type t = s->cols[c].type.id;
        if (m == CLI_OUT_JSON) {
            bool bare = null || t == MC2_T_BOOL || (numeric(s, c) && json_number(v, len));
            const char *name = mc2_col_display(s, c);
            rc = mc2_buf_puts(out, c ? ",\"" : "\"", err) ||
                 json_escape(out, name, strlen(name), err) ||
                 mc2_buf_puts(out, bare ? "\":" : "\":\"", err) ||
                 (null   ? mc2_buf_puts(out, "null", err)
                  : bare ? mc2_buf_append(out, v, len, err)
                         : json_escape(out, v, len, err)) ||
                 (!bare && mc2_buf_puts(out, "\"", err));
        } else if (m == CLI_OUT_TSV) {
            rc = (c && mc2_buf_puts(out, "\t", err)) ||
                 (null ? mc2_buf_puts(out, "\\N", err) : tsv_escape(out, v, len, err));
        } else {
            size_t pad = width[c] - text_width(v, len);
            bool right = numeric(s, c);
            rc = mc2_buf_printf(out, err, "%s%*s%.*s%*s", c ? " | " : "", right ? (int)pad : 0, "",
                                (int)len, v, right ? 0 : (int)pad, "");
        }
    }
    if (rc == 0 && m != CLI_OUT_JSON) rc = mc2_buf_puts(out, "\n", err);
    if (rc == 0 && m == CLI_OUT_JSON) rc = mc2_buf_puts(out, "}", err);
    (*nrow)++;
    return rc;
}

/* One pass over every block of src: measures the columns' widths (print false: only the
 * table mode needs them; every block is authenticated in any mode) or prints the rows in
 * mode m. */
static int result_pass(mc2_tsrc *src, size_t *width, enum cli_out_mode m, bool print, mc2_err *err)
{
    const mc2_schema *s = mc2_tsrc_header(src)->schema;
    size_t nc = s->ncols;
    unsigned *cols = mc2_calloc(nc ? nc : 1, sizeof *cols);
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    mc2_buf text = {.secret = 1};
    int rc = -1, got;
    uint64_t index, nrow = 0;
    if (!cols) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t c = 0; c < nc; c++) cols[c] = (unsigned)c;
    if (mc2_tscan_open(src, cols, nc, 2, NULL, NULL, &sc, err) ||
        !(b = mc2_batch_new(s, 1024, err)))
        goto out;
    while ((got = mc2_tscan_next(sc, b, &index, err)) == 1) {
        if (print && m == CLI_OUT_CSV) {
            if (mc2_text_write_batch(MC2_FMT_CSV, b, &text, err)) goto out;
        } else if (print) {
            for (size_t i = 0; i < b->nrows; i++)
                if (format_row(b, i, m, width, &nrow, &text, err)) goto out;
        } else if (m == CLI_OUT_TABLE) {
            for (size_t i = 0; i < b->nrows; i++)
                for (size_t c = 0; c < nc; c++) {
                    char buf[MC2_VALUE_TEXT_MAX];
                    size_t len;
                    const char *v = cell_text(b, c, i, buf, &len);
                    size_t w = text_width(v, len);
                    if (w > width[c]) width[c] = w;
                }
        }
        if (text.len) fwrite(text.data, 1, text.len, stdout);
        mc2_buf_reset(&text);
    }
    rc = got < 0 ? -1 : 0;
    if (rc == 0 && print && m == CLI_OUT_JSON) fputs(nrow ? "]\n" : "[]\n", stdout);
out:
    mc2_buf_free(&text);
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    mc2_free(cols);
    return rc;
}

/* The header line(s) of mode m (table mode: names, numbers' right-aligned, and a rule). */
static int print_header(const mc2_schema *s, enum cli_out_mode m, const size_t *width, mc2_err *err)
{
    mc2_buf text = {0};
    int rc = 0;
    if (m == CLI_OUT_CSV) rc = mc2_text_write_header(s, &text, err);
    for (size_t c = 0; c < s->ncols && rc == 0 && m == CLI_OUT_TSV; c++) {
        const char *n = mc2_col_display(s, c);
        rc = (c && mc2_buf_puts(&text, "\t", err)) || tsv_escape(&text, n, strlen(n), err) ||
             (c + 1 == s->ncols && mc2_buf_puts(&text, "\n", err));
    }
    for (size_t c = 0; c < s->ncols && rc == 0 && m == CLI_OUT_TABLE; c++) {
        const char *n = mc2_col_display(s, c);
        size_t pad = width[c] - text_width(n, strlen(n));
        bool right = numeric(s, c);
        rc = mc2_buf_printf(&text, err, "%s%*s%s%*s%s", c ? " | " : "", right ? (int)pad : 0, "", n,
                            right ? 0 : (int)pad, "", c + 1 == s->ncols ? "\n" : "");
    }
    for (size_t c = 0; c < s->ncols && rc == 0 && m == CLI_OUT_TABLE; c++) {
        rc = mc2_buf_puts(&text, c ? "-+-" : "", err);
        for (size_t k = 0; k < width[c] && rc == 0; k++) rc = mc2_buf_puts(&text, "-", err);
        if (rc == 0 && c + 1 == s->ncols) rc = mc2_buf_puts(&text, "\n", err);
    }
    if (rc == 0 && text.len) fwrite(text.data, 1, text.len, stdout);
    mc2_buf_free(&text);
    return rc;
}

/* CLI_OUT_SCHEMA: the columns of s as CREATE TABLE name (...). */
static void print_schema(const mc2_schema *s, const char *name)
{
    printf("CREATE TABLE %s (\n", name ? name : "result");
    for (size_t c = 0; c < s->ncols; c++) {
        char t[32];
        mc2_type_format(&s->cols[c].type, t, sizeof t);
        printf("  %s %s%s%s\n", mc2_col_display(s, c), t, s->cols[c].nullable ? "" : " NOT NULL",
               c + 1 < s->ncols ? "," : "");
    }
    printf(");\n");
}

/* EXPLAIN's result in the table mode: its one cell, the plan as an indented tree. */
static int print_plan(mc2_tsrc *src, mc2_err *err)
{
    unsigned col = 0;
    mc2_tscan *sc = NULL;
    mc2_batch *b = mc2_batch_new(mc2_tsrc_header(src)->schema, 16, err);
    uint64_t index;
    int got = -1;
    if (b && mc2_tscan_open(src, &col, 1, 1, NULL, NULL, &sc, err) == 0)
        while ((got = mc2_tscan_next(sc, b, &index, err)) == 1)
            for (size_t i = 0; i < b->nrows; i++) {
                char buf[MC2_VALUE_TEXT_MAX];
                size_t len;
                const char *v = cell_text(b, 0, i, buf, &len);
                printf("%.*s%s", (int)len, v, len && v[len - 1] == '\n' ? "" : "\n");
            }
    mc2_tscan_free(sc);
    mc2_batch_free(b);
    return got < 0 ? -1 : 0;
}

/* Prints the result in file fd (an .mc2t) in mode m. Memory does not grow with the result:
 * blocks are read, authenticated and decoded one at a time. Nothing is printed unless every
 * block authenticates: a first pass checks them all (and measures the columns for the table
 * mode), the second prints. An EXPLAIN's plan (explain) prints as its tree in the table
 * mode. */
static int print_result(int fd, const uint8_t key[MC2_KEY_LEN], enum cli_out_mode m, int explain,
                        const char *schema_name, mc2_err *err)
{
    mc2_tio io;
    mc2_tsrc *src = NULL;
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
    for (size_t c = 0; c < nc; c++) {
        const char *n = mc2_col_display(s, c);
        width[c] = text_width(n, strlen(n));
    }
    if (result_pass(src, width, m, false, err)) goto out;
    if (m == CLI_OUT_SCHEMA) {
        print_schema(s, schema_name);
        rc = 0;
    } else if (m == CLI_OUT_TABLE && explain && nc == 1) {
        rc = print_plan(src, err);
    } else if (print_header(s, m, width, err) == 0 && result_pass(src, width, m, true, err) == 0) {
        if (m == CLI_OUT_TABLE)
            printf("(%llu row%s)\n", (unsigned long long)h->row_count,
                   h->row_count == 1 ? "" : "s");
        rc = 0;
    }
out:
    fflush(stdout);
    mc2_free(width);
    mc2_tsrc_free(src);
    return rc;
}

/* Fills in the job's inputs (resolved: table id and version) after the --input specs or, without
 * them, from the tables the query reads; then its recipients and parameters. *all_mine: every
 * input is this party's. */
static int job_fill(cli_session *cs, const cli_sql_req *a, const cli_sql_refs *r,
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
        (a->pad_rows && mc2_job_add_param(j, "pad_rows", a->pad_rows, err)) ||
        (a->ranks && mc2_job_add_param(j, "ranks", a->ranks, err)))
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
static int job_result(cli_session *cs, const cli_sql_req *a, int explain, const mc2_job *j,
                      uint64_t id, const char *stt, mc2_err *err)
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
        bad = bad || print_result(fd, ref.key, a->mode, explain, a->schema_name, err);
        if (fd >= 0) close(fd);
    }
out:
    mc2_wipe(&ref, sizeof ref);
    return bad ? -1 : 0;
}

int cli_sql_input_check(const char *spec, mc2_err *err)
{
    mc2_job j;
    char sql[1][MC2_TABLE_NAME_MAX + 1];
    int named = 0;
    memset(&j, 0, sizeof j);
    return parse_specs(&spec, 1, &j, sql, &named, err);
}

int cli_sql_run(cli_session *cs, const cli_sql_req *a, mc2_err *err)
{
    mc2_job j;
    memset(&j, 0, sizeof j);
    strcpy(j.kind, "sql");
    char sql[MC2_JOB_MAX_INPUTS][MC2_TABLE_NAME_MAX + 1];
    const char *sqlp[MC2_JOB_MAX_INPUTS];
    int named = 0, all_mine = 1, rc = -1;
    mc2_buf status = {0};
    cli_sql_refs refs = {0};
    uint64_t id;
    if (a->ni > MC2_JOB_MAX_INPUTS || a->nr > MC2_JOB_MAX_RECIPIENTS)
        return mc2_err_set(err, MC2_E_USAGE, "too many inputs or recipients");
    for (size_t i = 0; i < a->ni; i++) sqlp[i] = sql[i];
    /* Everything that needs no network comes first: the query's syntax and the tables it
     * reads, and (with inputs) that each is among them. */
    if (parse_specs(a->inputs, a->ni, &j, sql, &named, err) ||
        cli_sql_refs_parse(a->file, a->query, &refs, err) ||
        (a->ni && cli_sql_check_named(&refs, sqlp, a->ni, err)) ||
        job_fill(cs, a, &refs, sql, named, &j, &all_mine, err) ||
        (!cs->have_es && cli_session_attest(cs, err)))
        goto out;
    if (mc2_esession_grant(&cs->es, &cs->id, cs->policy, err) ||
        mc2_job_submit(&cs->es, &cs->id, cs->policy, &j, &id, NULL, err))
        goto out;
    unsigned wait = a->wait_set ? a->wait_s : all_mine ? 300 : 0;
    /* Follow the job: it runs as soon as every owner approved it. */
    if (cli_job_follow(cs, id, true, wait, &status, err) ||
        job_result(cs, a, refs.explain, &j, id, (const char *)status.data, err))
        goto out;
    rc = 0;
out:
    mc2_job_free(&j);
    mc2_buf_free(&status);
    cli_sql_refs_free(&refs);
    return rc;
}

/* Reads the query text from stdin (`-f -`) into out (NUL-terminated), at most max bytes. */
static int read_stdin(size_t max, mc2_buf *out, mc2_err *err)
{
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (out->len + n > max)
            return mc2_err_set(err, MC2_E_LIMIT, "the query on stdin is longer than %zu bytes",
                               max);
        if (mc2_buf_append(out, chunk, n, err)) return -1;
    }
    if (ferror(stdin)) return mc2_err_set(err, MC2_E_IO, "cannot read the query from stdin");
    return mc2_buf_append(out, "", 1, err);
}

int cmd_sql(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *wait_s = NULL, *home = NULL, *service = NULL,
               *policy = NULL, *pad_rows = NULL, *ranks = NULL;
    const char *inputs[MC2_JOB_MAX_INPUTS], *recips[MC2_JOB_MAX_RECIPIENTS];
    cli_sql_req a = {.inputs = inputs, .recips = recips};
    int code, csv = 0;
    /* -f FILE is the one short option: turn it into --file. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-f") == 0) argv[i] = "--file";
    cli_opt opts[] = {CLI_VAL("file", &file),
                      CLI_LIST("input", inputs, &a.ni, MC2_JOB_MAX_INPUTS),
                      CLI_LIST("recipient", recips, &a.nr, MC2_JOB_MAX_RECIPIENTS),
                      CLI_FLAG("csv", &csv),
                      CLI_FLAG("oblivious", &a.oblivious),
                      CLI_VAL("pad-rows", &pad_rows),
                      CLI_VAL("ranks", &ranks),
                      CLI_VAL("out", &out),
                      CLI_VAL("wait", &wait_s),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    if (cli_parse("sql", SQL_HELP, argc, argv, opts, &a.query, 1, &code)) return code;
    if (!a.query == !file) return cli_usage("sql", "give the query as an argument or -f FILE");
    uint64_t pad = 0, wait = 0, nranks = 0;
    if (pad_rows && !a.oblivious) return cli_usage("sql", "--pad-rows needs --oblivious");
    if (ranks && a.oblivious)
        return cli_usage("sql",
                         "--ranks runs in encryption mode only: drop --oblivious or --ranks");
    if (ranks && cli_parse_uint("sql", "--ranks", ranks, 1, 64, &nranks)) return CLI_USAGE;
    if ((pad_rows && cli_parse_uint("sql", "--pad-rows", pad_rows, 1, 1u << 30, &pad)) ||
        (wait_s && cli_parse_uint("sql", "--wait", wait_s, 0, 86400, &wait)))
        return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    for (size_t i = 0; i < a.ni; i++)
        if (cli_sql_input_check(inputs[i], &err)) return cli_usage("sql", "%s", err.msg);
    a.pad_rows = pad_rows;
    a.ranks = ranks;
    a.wait_set = wait_s != NULL;
    a.wait_s = (unsigned)wait;
    a.out = out;
    a.mode = csv || !isatty(STDOUT_FILENO) ? CLI_OUT_CSV : CLI_OUT_TABLE;
    mc2_buf qtext = {0};
    cli_sql_refs refs = {0};
    cli_session cs = {0};
    int rc = CLI_FAIL;
    bool in = file && strcmp(file, "-") == 0;
    if (in ? read_stdin(MC2_JOB_MAX_TEXT / 2, &qtext, &err)
           : file && (mc2_file_read_all(file, MC2_JOB_MAX_TEXT / 2, &qtext, &err) ||
                      mc2_buf_append(&qtext, "", 1, &err)))
        goto fail;
    if (file) a.query = (const char *)qtext.data;
    a.file = in ? "stdin" : file;
    /* The syntax first, before an identity is even needed. */
    if (cli_sql_refs_parse(a.file, a.query, &refs, &err) ||
        cli_party_load(&cs, home, service, policy, &err) || cli_sql_run(&cs, &a, &err))
        goto fail;
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    mc2_buf_free(&qtext);
    cli_sql_refs_free(&refs);
    cli_session_close(&cs);
    return rc;
}
