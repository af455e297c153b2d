/* cmd_shell.c - `mc2 shell`: an interactive SQL shell like sqlite3's. Statements end with ';'
 * and may span lines; each runs as `mc2 sql` runs a query (cli_sql_run, one attested session
 * for them all) and its result is printed in the current mode. Dot-commands on a line of their
 * own set the mode, the timer and the inputs, and list tables and schemas. On a terminal lines
 * are edited with libedit, with a history in $MC2_HOME/shell_history; from a pipe statements
 * are read without a prompt. An error is printed ("mc2: ...") and the shell goes on. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "cli.h"
#include "client/session.h"
#include "client/sql_run.h"
#include "mc2/catalog.h"

static const char SHELL_HELP[] =
    "usage: mc2 shell [--input [NAME=]OWNER/TABLE]... [--mode table|csv|json|tsv]\n"
    "                 [--wait SECONDS] [--home DIR] [--service HOST:PORT] [--policy FILE]\n\n"
    "An interactive SQL shell over the service, like sqlite3's. A statement ends with ';' and\n"
    "may span lines; it runs as `mc2 sql` runs a query (a job over your tables, or over the\n"
    "--input / .input tables) and its result is printed. An error is shown and the shell goes\n"
    "on. On a terminal lines can be edited and recalled (history in $MC2_HOME/shell_history);\n"
    "from a pipe (`mc2 shell < queries.sql`) statements are read without a prompt, a last one\n"
    "without ';' runs at the end, and the exit code is 1 if any statement failed.\n\n"
    "  --input [NAME=]OWNER/TABLE  a table the queries read, as `mc2 sql --input` (repeatable)\n"
    "  --mode MODE                 how results are printed (default table; see .mode)\n"
    "  --wait SECONDS              how long to wait for each result (default as `mc2 sql`)\n"
    "  --home DIR  --service HOST:PORT  --policy FILE\n\n"
    "dot-commands, each on a line of its own:\n"
    "  .tables                     the tables the service stores, with their rows\n"
    "  .schema NAME                the columns of table NAME as the enclave reads them\n"
    "  .mode table|csv|json|tsv    results as an aligned table (numbers right-aligned), CSV,\n"
    "                              JSON (an array of objects) or TSV (NULL as \\N)\n"
    "  .timer on|off               print how long each statement took\n"
    "  .input [NAME=]OWNER/TABLE   add a table the next queries read (as `mc2 sql --input`:\n"
    "                              then name every table they read); .input alone lists them,\n"
    "                              .input clear forgets them\n"
    "  .help                       this text\n"
    "  .quit, .exit                leave (so does end of input, Ctrl-D)\n";

#define HISTORY_FILE "shell_history"
#define HISTORY_MAX  1000
#define LINE_MAX_LEN (1u << 20) /* one statement's text, at most */

/* The shell's state between statements. */
typedef struct shell {
    cli_session cs;
    const char *inputs[MC2_JOB_MAX_INPUTS];
    char *owned[MC2_JOB_MAX_INPUTS]; /* the .input specs, copied */
    size_t ni;
    enum cli_out_mode mode;
    int timer, wait_set, failed, tty;
    unsigned wait_s;
    char *history; /* the history file's path, on a terminal */
} shell;

static const char *const MODES[] = {"table", "csv", "json", "tsv"};

/* Forgets what the session cached (the service's listing, this party's catalog): another
 * party's upload, or one of this party's from another terminal, shows in the next
 * statement. */
static void refresh(cli_session *cs)
{
    mc2_free(cs->listing.t);
    memset(&cs->listing, 0, sizeof cs->listing);
    cs->have_listing = 0;
    mc2_catalog_free(&cs->cat);
    cs->have_cat = 0;
}

/* Prints err as mc2 does and notes that a statement failed. A broken connection ends the
 * enclave session: the next statement attests again. */
static void report(shell *sh, const mc2_err *err)
{
    fflush(stdout);
    (void)cli_fail(err);
    sh->failed = 1;
    if (err->code == MC2_E_IO && sh->cs.have_es) {
        mc2_esession_close(&sh->cs.es);
        sh->cs.have_es = 0;
        sh->cs.es.fd = -1;
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs one query (schema_name: for .schema, the table whose columns are printed). */
static void run_query(shell *sh, const char *query, const char *schema_name)
{
    cli_sql_req r = {.query = query,
                     .inputs = sh->inputs,
                     .ni = sh->ni,
                     .wait_set = sh->wait_set,
                     .wait_s = sh->wait_s,
                     .mode = schema_name ? CLI_OUT_SCHEMA : sh->mode,
                     .schema_name = schema_name};
    mc2_err err;
    mc2_err_clear(&err);
    double t0 = now_s();
    refresh(&sh->cs);
    if (cli_sql_run(&sh->cs, &r, &err)) report(sh, &err);
    if (sh->timer) printf("Run Time: real %.3f s\n", now_s() - t0);
    fflush(stdout);
}

/* .tables: the service's listing (its word: public facts only). */
static void dot_tables(shell *sh)
{
    const cli_listing *l;
    mc2_err err;
    mc2_err_clear(&err);
    refresh(&sh->cs);
    if (cli_listing_get(&sh->cs, &l, &err)) {
        report(sh, &err);
        return;
    }
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t n = strlen(l->t[i].owner) + 1 + strlen(l->t[i].name);
        if (n > w) w = n;
    }
    if (l->n == 0) printf("(no tables: upload one with mc2 upload)\n");
    for (size_t i = 0; i < l->n; i++) {
        const cli_listed *t = &l->t[i];
        bool mine = strcmp(t->owner, sh->cs.id.name) == 0;
        int n = (int)(strlen(t->owner) + 1 + strlen(t->name));
        printf("%s/%s%*s  %llu row%s", t->owner, t->name, (int)w - n, "",
               (unsigned long long)t->rows, t->rows == 1 ? "" : "s");
        if (!mine) printf("  (query it after .input %s/%s)", t->owner, t->name);
        putchar('\n');
    }
}

/* Checks a table name as the SQL of .schema uses it: a plain identifier. */
static bool plain_name(const char *s)
{
    if (!*s || strlen(s) > MC2_TABLE_NAME_MAX || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* .input [SPEC | clear] */
static void dot_input(shell *sh, const char *arg)
{
    mc2_err err;
    mc2_err_clear(&err);
    if (!*arg) {
        if (sh->ni == 0) printf("(no inputs: queries read your own tables they name)\n");
        for (size_t i = 0; i < sh->ni; i++) printf("%s\n", sh->inputs[i]);
        return;
    }
    if (strcmp(arg, "clear") == 0) {
        for (size_t i = 0; i < sh->ni; i++) mc2_free(sh->owned[i]);
        sh->ni = 0;
        return;
    }
    if (sh->ni == MC2_JOB_MAX_INPUTS) {
        mc2_err_set(&err, MC2_E_USAGE,
                    "a query reads at most %d inputs (.input clear forgets them)",
                    MC2_JOB_MAX_INPUTS);
    } else if (cli_sql_input_check(arg, &err) == 0) {
        if (!(sh->owned[sh->ni] = mc2_strdup(arg))) {
            mc2_err_set(&err, MC2_E_NOMEM, "out of memory");
        } else {
            sh->inputs[sh->ni] = sh->owned[sh->ni];
            sh->ni++;
            return;
        }
    }
    report(sh, &err);
}

/* Parses the value of .mode or --mode; -1 if it is none of them. */
static int parse_mode(const char *s)
{
    for (int i = 0; i < (int)(sizeof MODES / sizeof MODES[0]); i++)
        if (strcmp(s, MODES[i]) == 0) return i;
    return -1;
}

/* A usage error in a dot-command. */
__attribute__((format(printf, 2, 3))) static void dot_usage(shell *sh, const char *fmt, ...)
{
    char msg[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mc2_err err;
    mc2_err_set(&err, MC2_E_USAGE, "%s", msg);
    report(sh, &err);
}

/* Runs dot-command line (its leading '.' included, trailing spaces removed). Returns 1 for
 * .quit. */
static int dot_command(shell *sh, char *line)
{
    char *arg = line + strcspn(line, " \t");
    if (*arg) *arg++ = '\0';
    arg += strspn(arg, " \t");
    const char *cmd = line;
    if (strcmp(cmd, ".quit") == 0 || strcmp(cmd, ".exit") == 0) return 1;
    if (strcmp(cmd, ".help") == 0) {
        fputs(strstr(SHELL_HELP, "dot-commands"), stdout);
    } else if (strcmp(cmd, ".tables") == 0) {
        dot_tables(sh);
    } else if (strcmp(cmd, ".schema") == 0) {
        char q[MC2_TABLE_NAME_MAX + 40];
        if (!plain_name(arg)) {
            dot_usage(sh, ".schema wants a table name, e.g. .schema accounts (not '%s')", arg);
            return 0;
        }
        snprintf(q, sizeof q, "SELECT * FROM %s LIMIT 0", arg);
        run_query(sh, q, arg);
    } else if (strcmp(cmd, ".mode") == 0) {
        int m = parse_mode(arg);
        if (!*arg)
            printf("%s\n", MODES[sh->mode]);
        else if (m < 0)
            dot_usage(sh, ".mode wants table, csv, json or tsv, not '%s'", arg);
        else
            sh->mode = (enum cli_out_mode)m;
    } else if (strcmp(cmd, ".timer") == 0) {
        if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0)
            sh->timer = arg[1] == 'n';
        else
            dot_usage(sh, ".timer wants on or off, not '%s'", arg);
    } else if (strcmp(cmd, ".input") == 0) {
        dot_input(sh, arg);
    } else {
        dot_usage(sh, "unknown command '%s' (.help lists them)", cmd);
    }
    fflush(stdout);
    return 0;
}

/* The offset of the first ';' in q that ends a statement (not in a string, a quoted name or
 * a comment), or -1. */
static long statement_end(const char *q, size_t n)
{
    char in = 0; /* '\'', '"', '-' (line comment), '*' (block comment), or 0 */
    for (size_t i = 0; i < n; i++) {
        char c = q[i];
        if (in == '\'' || in == '"') {
            if (c == in) in = 0;
        } else if (in == '-') {
            if (c == '\n') in = 0;
        } else if (in == '*') {
            if (c == '*' && i + 1 < n && q[i + 1] == '/') in = 0, i++;
        } else if (c == '\'' || c == '"') {
            in = c;
        } else if (c == '-' && i + 1 < n && q[i + 1] == '-') {
            in = '-';
        } else if (c == '/' && i + 1 < n && q[i + 1] == '*') {
            in = '*', i++;
        } else if (c == ';') {
            return (long)i;
        }
    }
    return -1;
}

/* Is q[0..n) only whitespace? */
static bool blank(const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n\f\v", q[i])) return false;
    return true;
}

/* Runs every complete statement at the front of pending (and, at the end of input, what is
 * left of it), keeping the rest. */
static void run_pending(shell *sh, mc2_buf *pending, bool at_end)
{
    long end;
    while (pending->len) {
        const char *q = (const char *)pending->data;
        end = statement_end(q, pending->len);
        if (end < 0 && !at_end) return;
        size_t n = end < 0 ? pending->len : (size_t)end;
        char *stmt = mc2_malloc(n + 1);
        if (!stmt) {
            mc2_err err;
            mc2_err_set(&err, MC2_E_NOMEM, "out of memory");
            report(sh, &err);
            return;
        }
        memcpy(stmt, q, n);
        stmt[n] = '\0';
        size_t used = end < 0 ? pending->len : n + 1;
        memmove(pending->data, pending->data + used, pending->len - used);
        pending->len -= used;
        if (!blank(stmt, n)) run_query(sh, stmt, NULL);
        mc2_free(stmt);
    }
}

/* Reads one line (without its end) into a malloc'd string: with libedit on a terminal,
 * else from stdin. NULL at the end of input. */
static char *read_line(const shell *sh, bool continued)
{
    if (sh->tty) return readline(continued ? "   ...> " : "mc2> ");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    return line;
}

/* Adds a statement or dot-command to the history (on a terminal), on one line. */
static void remember(const shell *sh, const char *text)
{
    if (!sh->tty || blank(text, strlen(text))) return;
    char *one = strdup(text);
    if (!one) return;
    for (char *p = one; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    add_history(one);
    free(one);
}

/* The read loop: lines into statements and dot-commands. */
static void loop(shell *sh)
{
    mc2_buf pending = {0};
    char *line;
    while ((line = read_line(sh, pending.len > 0))) {
        size_t n = strlen(line);
        while (n && strchr(" \t\r", line[n - 1])) line[--n] = '\0';
        char *p = line + strspn(line, " \t");
        if (pending.len == 0 && *p == '.') {
            remember(sh, p);
            int quit = dot_command(sh, p);
            free(line);
            if (quit) break;
            continue;
        }
        mc2_err err;
        if (pending.len + n + 1 > LINE_MAX_LEN) {
            mc2_err_set(&err, MC2_E_LIMIT, "a statement is longer than %u bytes: not run",
                        LINE_MAX_LEN);
            report(sh, &err);
            pending.len = 0;
        } else if ((pending.len && mc2_buf_append(&pending, "\n", 1, &err)) ||
                   mc2_buf_append(&pending, line, n, &err)) {
            report(sh, &err);
            pending.len = 0;
        }
        free(line);
        if (statement_end((const char *)pending.data, pending.len) >= 0) {
            if (mc2_buf_append(&pending, "", 1, &err) == 0) {
                remember(sh, (const char *)pending.data);
                pending.len--;
            }
            run_pending(sh, &pending, false);
        }
        if (blank((const char *)pending.data, pending.len)) pending.len = 0;
    }
    if (pending.len) run_pending(sh, &pending, true);
    mc2_buf_free(&pending);
}

/* History on a terminal: $MC2_HOME/shell_history, private to this user (it holds queries). */
static void history_open(shell *sh)
{
    if (!sh->tty || !(sh->history = mc2_path_join(sh->cs.id.home, HISTORY_FILE))) return;
    using_history();
    stifle_history(HISTORY_MAX);
    (void)read_history(sh->history);
}

static void history_close(shell *sh)
{
    if (!sh->history) return;
    int fd = open(sh->history, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        (void)fchmod(fd, 0600);
        close(fd);
        if (write_history(sh->history) != 0)
            fprintf(stderr, "mc2: could not save the history in %s\n", sh->history);
    }
    mc2_free(sh->history);
    sh->history = NULL;
}

int cmd_shell(int argc, char **argv)
{
    const char *home = NULL, *service = NULL, *policy = NULL, *mode = NULL, *wait_s = NULL;
    const char *inputs[MC2_JOB_MAX_INPUTS];
    size_t ni = 0;
    int code;
    cli_opt opts[] = {CLI_LIST("input", inputs, &ni, MC2_JOB_MAX_INPUTS),
                      CLI_VAL("mode", &mode),
                      CLI_VAL("wait", &wait_s),
                      CLI_VAL("home", &home),
                      CLI_VAL("service", &service),
                      CLI_VAL("policy", &policy),
                      CLI_END};
    if (cli_parse("shell", SHELL_HELP, argc, argv, opts, NULL, 0, &code)) return code;
    shell sh;
    memset(&sh, 0, sizeof sh);
    uint64_t wait = 0;
    int m = mode ? parse_mode(mode) : CLI_OUT_TABLE;
    if (m < 0) return cli_usage("shell", "--mode wants table, csv, json or tsv, not '%s'", mode);
    if (wait_s && cli_parse_uint("shell", "--wait", wait_s, 0, 86400, &wait)) return CLI_USAGE;
    mc2_err err;
    mc2_err_clear(&err);
    for (size_t i = 0; i < ni; i++)
        if (cli_sql_input_check(inputs[i], &err)) return cli_usage("shell", "%s", err.msg);
    sh.mode = (enum cli_out_mode)m;
    sh.wait_set = wait_s != NULL;
    sh.wait_s = (unsigned)wait;
    sh.tty = isatty(STDIN_FILENO);
    if (cli_party_load(&sh.cs, home, service, policy, &err)) return cli_fail(&err);
    for (size_t i = 0; i < ni; i++) dot_input(&sh, inputs[i]);
    if (sh.tty)
        printf("mc2 shell: SQL over %s's tables and others' with their approval, in consortium "
               "'%s'.\nStatements end with ';'. .help lists the dot-commands.\n",
               sh.cs.id.name, sh.cs.policy->consortium);
    history_open(&sh);
    loop(&sh);
    history_close(&sh);
    for (size_t i = 0; i < sh.ni; i++) mc2_free(sh.owned[i]);
    cli_session_close(&sh.cs);
    return sh.failed && !sh.tty ? CLI_FAIL : CLI_OK;
}
