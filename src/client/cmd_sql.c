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
#include "table/textio.h"
#include "table/tsrc.h"
#include "table/value.h"
#include "wire/proto.h"

static const char SQL_HELP[] =
    "usage: mc2 sql \"SELECT ...\" | -f FILE.sql [options]\n\n"
    "Runs the query inside the attested enclave over encrypted tables and prints the result\n"
    "(an aligned table on a terminal, CSV otherwise). In the query, a table is called by its\n"
    "name; name other parties' tables (they must approve the job) with --input.\n\n"
    "  --input [NAME=]OWNER/TABLE  a table the query reads (repeatable); NAME defaults to\n"
    "                              TABLE. Default: all of your own tables (your latest\n"
    "                              uploads, from your catalog). Yours are always exactly\n"
    "                              your latest uploads; others' as the service lists them\n"
    "  --recipient PARTY           who may read the result (repeatable; default: you)\n"
    "  --oblivious                 run in oblivious mode: no branch or memory address depends\n"
    "                              on the data (slower; docs/sql.md lists what it supports)\n"
    "  --pad-rows N                with --oblivious: pad every operator's output to N rows,\n"
    "                              hiding intermediate sizes (fails if a true size exceeds N);\n"
    "                              default: those sizes are revealed\n"
    "  --csv                       print CSV even on a terminal\n"
    "  --out FILE                  write the result as CSV to FILE instead of printing it\n"
    "  --wait SECONDS              how long to wait for the result (default 300 when every\n"
    "                              input is yours, else 0: print what to do and return)\n"
    "  --home DIR  --service HOST:PORT  --policy FILE\n";

/* The default inputs: this party's tables in its catalog for this consortium that the
 * service lists by name (cli_resolve_input then takes each one's latest upload, and refuses
 * if the service holds another copy). */
static int own_tables(cli_session *cs, mc2_job *j, mc2_err *err)
{
    const mc2_catalog *cat;
    const cli_listing *l;
    if (cli_catalog(cs, &cat, err) || cli_listing_get(cs, &l, err)) return -1;
    for (size_t i = 0; i < cat->n; i++) {
        const mc2_catalog_entry *e = &cat->e[i];
        bool last_of_name = i + 1 == cat->n || strcmp(cat->e[i + 1].name, e->name) != 0 ||
                            memcmp(cat->e[i + 1].consortium, e->consortium, 32) != 0;
        if (memcmp(e->consortium, cs->policy->hash, MC2_SHA256_LEN) != 0 || !last_of_name ||
            !cli_listing_find(l, cs->id.name, e->name))
            continue;
        if (j->ninputs == MC2_JOB_MAX_INPUTS)
            return mc2_err_set(err, MC2_E_USAGE,
                               "you have more than %d tables: name those the query reads with "
                               "--input %s/TABLE",
                               MC2_JOB_MAX_INPUTS, cs->id.name);
        mc2_job_input *in = &j->inputs[j->ninputs++];
        snprintf(in->owner, sizeof in->owner, "%s", cs->id.name);
        snprintf(in->table, sizeof in->table, "%s", e->name);
    }
    if (j->ninputs > 0) return 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->t[i].owner, cs->id.name) == 0)
            return mc2_err_set(err, MC2_E_USAGE,
                               "your catalog has no table the service lists for you, but it "
                               "lists %s/%s: if you uploaded it (before mc2 kept a catalog, or "
                               "from another home), `mc2 tables --adopt %s` records it (this "
                               "trusts the service's copy once); or name inputs with --input",
                               cs->id.name, l->t[i].name, l->t[i].name);
    return mc2_err_set(err, MC2_E_USAGE,
                       "you have no tables on the service: upload one, or name inputs with "
                       "--input OWNER/TABLE");
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

int cmd_sql(int argc, char **argv)
{
    const char *file = NULL, *out = NULL, *wait_s = NULL, *home = NULL, *service = NULL,
               *policy = NULL, *query_arg = NULL, *pad_rows = NULL;
    const char *inputs[MC2_JOB_MAX_INPUTS], *recips[MC2_JOB_MAX_RECIPIENTS];
    size_t ni = 0, nr = 0;
    int csv = 0, oblivious = 0, code;
    /* -f FILE is the one short option: turn it into --file. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-f") == 0) argv[i] = "--file";
    cli_opt opts[] = {CLI_VAL("file", &file),
                      CLI_LIST("input", inputs, &ni, MC2_JOB_MAX_INPUTS),
                      CLI_LIST("recipient", recips, &nr, MC2_JOB_MAX_RECIPIENTS),
                      CLI_FLAG("csv", &csv),
                      CLI_FLAG("oblivious", &oblivious),
                      CLI_VAL("pad-rows", &pad_rows),
                      CLI_VAL("out", &out),
                      CLI_VAL("wait", &wait_s),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    if (cli_parse("sql", SQL_HELP, argc, argv, opts, &query_arg, 1, &code)) return code;
    if (!query_arg == !file) return cli_usage("sql", "give the query as an argument or -f FILE");
    uint64_t pad = 0;
    if (pad_rows && !oblivious) return cli_usage("sql", "--pad-rows needs --oblivious");
    if (pad_rows && cli_parse_uint("sql", "--pad-rows", pad_rows, 1, 1u << 30, &pad))
        return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    mc2_buf qtext = {0};
    if (file) {
        if (mc2_file_read_all(file, MC2_JOB_MAX_TEXT / 2, &qtext, &err) ||
            mc2_buf_append(&qtext, "", 1, &err))
            return cli_fail(&err);
        query_arg = (const char *)qtext.data;
    }
    cli_session cs;
    mc2_job j;
    memset(&j, 0, sizeof j);
    mc2_buf names = {0}, jtext = {0}, status = {0};
    mc2_result_ref ref;
    int rc = CLI_FAIL, named = 0, all_mine = 1;
    if (cli_session_open(&cs, home, service, policy, &err)) {
        mc2_buf_free(&qtext);
        return cli_fail(&err);
    }
    strcpy(j.kind, "sql");
    if (ni == 0 && own_tables(&cs, &j, &err)) goto fail;
    for (size_t i = 0; i < ni; i++) {
        const char *spec = inputs[i], *eq = strchr(spec, '='), *ref_s = eq ? eq + 1 : spec;
        const char *slash = strchr(ref_s, '/');
        mc2_job_input *in = &j.inputs[j.ninputs++];
        if (!slash || (size_t)(slash - ref_s) >= sizeof in->owner ||
            strlen(slash + 1) >= sizeof in->table) {
            rc = cli_usage("sql", "--input wants [NAME=]OWNER/TABLE, not '%s'", spec);
            goto out;
        }
        memcpy(in->owner, ref_s, (size_t)(slash - ref_s));
        strcpy(in->table, slash + 1);
        all_mine &= strcmp(in->owner, cs.id.name) == 0;
        if (mc2_buf_printf(&names, &err, "%s%.*s", i ? "," : "",
                           eq ? (int)(eq - spec) : (int)strlen(in->table), eq ? spec : in->table))
            goto fail;
        named |= eq != NULL;
    }
    for (size_t i = 0; i < j.ninputs; i++)
        if (cli_resolve_input(&cs, &j.inputs[i], &err)) goto fail;
    if (nr == 0) {
        const mc2_party *me = mc2_policy_party(cs.policy, cs.id.name);
        if (!me || !me->recipient) {
            mc2_err_set(&err, MC2_E_USAGE,
                        "you may not receive results under this policy: name who may with "
                        "--recipient PARTY");
            goto fail;
        }
        snprintf(j.recipients[j.nrecipients++], 65, "%s", cs.id.name);
    }
    for (size_t i = 0; i < nr; i++) snprintf(j.recipients[j.nrecipients++], 65, "%s", recips[i]);
    if (mc2_job_add_param(&j, "query", query_arg, &err)) goto fail;
    if (oblivious && mc2_job_add_param(&j, "oblivious", "1", &err)) goto fail;
    if (pad_rows && mc2_job_add_param(&j, "pad_rows", pad_rows, &err)) goto fail;
    if (named) {
        if (mc2_buf_append(&names, "", 1, &err) ||
            mc2_job_add_param(&j, "names", (const char *)names.data, &err))
            goto fail;
    }
    uint64_t id;
    if (mc2_esession_grant(&cs.es, &cs.id, cs.policy, &err) ||
        mc2_job_submit(&cs.es, &cs.id, cs.policy, &j, &id, NULL, &err))
        goto fail;
    uint64_t wait = all_mine ? 300 : 0;
    if (wait_s && cli_parse_uint("sql", "--wait", wait_s, 0, 86400, &wait)) {
        rc = CLI_USAGE;
        goto out;
    }
    /* Wait for the job: it runs as soon as every owner approved it. */
    if (mc2_job_wait(&cs.es, id, true, (unsigned)wait * 1000u, NULL, &status, &err)) goto fail;
    const char *stt = (const char *)status.data;
    if (strncmp(stt, "failed", 6) == 0) {
        mc2_err_set(&err, MC2_E_INPUT, "the query failed: %s", stt + (stt[6] == ':' ? 8 : 6));
        goto fail;
    }
    if (strncmp(stt, "done", 4) != 0) {
        printf("job %llu is %s\nwhen it is done, recipients run: mc2 download --job %llu "
               "--out result.csv\n",
               (unsigned long long)id, stt, (unsigned long long)id);
        rc = CLI_OK;
        goto out;
    }
    size_t nres = 0;
    int me_recipient = 0;
    for (size_t i = 0; i < j.nrecipients; i++)
        me_recipient |= strcmp(j.recipients[i], cs.id.name) == 0;
    if (!me_recipient) {
        printf("job %llu is done; its recipients fetch the result with: mc2 download --job %llu "
               "--out result.csv\n",
               (unsigned long long)id, (unsigned long long)id);
        rc = CLI_OK;
        goto out;
    }
    if (mc2_esession_results(&cs.es, id, &ref, 1, &nres, &err)) goto fail;
    if (nres != 1) {
        mc2_err_set(&err, MC2_E_INPUT, "the enclave returned no result");
        goto fail;
    }
    cli_progress bar;
    cli_progress_init_stderr(&bar, "downloading");
    if (out) {
        mc2_table_stats st = {0};
        int bad = mc2_fetch_table_progress(cs.service, ref.name, ref.key, cs.id.home, out,
                                           MC2_FMT_CSV, &st, cli_progress_update, &bar, &err);
        cli_progress_done(&bar);
        if (bad) goto fail;
        printf("%llu rows -> %s\n", (unsigned long long)st.rows, out);
    } else {
        int fd = -1;
        int bad = mc2_host_download_fd(cs.service, ref.name, cs.id.home, cli_progress_update, &bar,
                                       &fd, NULL, &err);
        cli_progress_done(&bar);
        bad = bad || print_result(fd, ref.key, csv || !isatty(STDOUT_FILENO), &err);
        if (fd >= 0) close(fd);
        if (bad) goto fail;
    }
    rc = CLI_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    mc2_wipe(&ref, sizeof ref);
    mc2_job_free(&j);
    mc2_buf_free(&names);
    mc2_buf_free(&jtext);
    mc2_buf_free(&status);
    mc2_buf_free(&qtext);
    cli_session_close(&cs);
    return rc;
}
