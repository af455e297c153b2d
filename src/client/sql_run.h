/* sql_run.h - running one SQL query as a job and printing its result: what `mc2 sql` does,
 * shared with `mc2 shell` (cmd_sql.c). */
#ifndef MC2_CLIENT_SQL_RUN_H
#define MC2_CLIENT_SQL_RUN_H

#include <stdint.h>

#include "client/session.h"

/* How a result is printed on stdout. */
enum cli_out_mode {
    CLI_OUT_TABLE,  /* aligned columns, numbers right-aligned, "(N rows)"; EXPLAIN: the tree */
    CLI_OUT_CSV,    /* RFC 4180 with a header (mc2's CSV: NULL is an empty unquoted field) */
    CLI_OUT_JSON,   /* an array of objects, one row a line; NULL is null */
    CLI_OUT_TSV,    /* header, tab-separated; \\ \t \n \r escaped, NULL is \N */
    CLI_OUT_SCHEMA, /* the result's columns as CREATE TABLE schema_name (...) */
};

/* One query and what to do with it (the options of `mc2 sql`). */
typedef struct cli_sql_req {
    const char *query;         /* NUL-terminated */
    const char *file;          /* where it was read from (for error positions), or NULL */
    const char *const *inputs; /* [NAME=]OWNER/TABLE specs, or none */
    size_t ni;                 /* at most MC2_JOB_MAX_INPUTS */
    const char *const *recips; /* result recipients; none: this party */
    size_t nr;                 /* at most MC2_JOB_MAX_RECIPIENTS */
    int oblivious;             /* oblivious mode */
    const char *pad_rows;      /* with oblivious: the padding bound (checked), or NULL */
    const char *ranks;         /* on a cluster: the number of ranks (checked), or NULL */
    int wait_set;              /* wait_s given; else 300 s if every input is this party's */
    unsigned wait_s;           /* how long to wait for the result */
    const char *out;           /* write the result as CSV to this file instead */
    enum cli_out_mode mode;    /* else print it so */
    const char *schema_name;   /* the table name CLI_OUT_SCHEMA prints */
} cli_sql_req;

/* Checks one --input spec [NAME=]OWNER/TABLE; MC2_E_USAGE saying what is wrong. */
int cli_sql_input_check(const char *spec, mc2_err *err) MC2_WUR;

/* Runs r's query in session cs (identity and policy loaded: cli_party_load; attested here if
 * it is not yet): parses it (a syntax error before anything is sent), fills in the job's
 * inputs (r->inputs, else the tables it reads, each this party's own), submits it, waits
 * and prints or writes the result as r says; if the result is not ready, or this party is
 * not a recipient, prints what to do instead. Fails with err set: MC2_E_USAGE for a usage
 * error (a bad --input, a table only another party has), else the failure's code. */
int cli_sql_run(cli_session *cs, const cli_sql_req *r, mc2_err *err) MC2_WUR;

#endif
