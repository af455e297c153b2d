/* sql_inputs.h - which tables `mc2 sql` passes to its job: the query's own table names,
 * parsed here before anything is sent, resolved against this party's tables (its catalog)
 * or checked against the --input tables it was given. */
#ifndef MC2_CLIENT_SQL_INPUTS_H
#define MC2_CLIENT_SQL_INPUTS_H

#include "client/session.h"
#include "sql/arena.h"
#include "sql/tablerefs.h"

/* The stored tables a query reads (sql/tablerefs.h), and where the query came from. */
typedef struct cli_sql_refs {
    const char *file; /* the -f FILE it was read from, or NULL for a query argument */
    mc2_arena arena;
    mc2_sql_tname *t;
    size_t n;
    int explain; /* the statement is EXPLAIN: its result is the plan, a tree as text */
} cli_sql_refs;

/* Parses query (NUL-terminated) and collects its tables: at most MC2_JOB_MAX_INPUTS, the
 * inputs a job can have. Fails without any network I/O: MC2_E_INPUT for a syntax error
 * ("[FILE: ]line L, column C: ..."), MC2_E_LIMIT for too long a query or too many tables.
 * Free r with cli_sql_refs_free, also after a failure. */
int cli_sql_refs_parse(const char *file, const char *query, cli_sql_refs *r, mc2_err *err) MC2_WUR;
void cli_sql_refs_free(cli_sql_refs *r);

/* With --input: every table the query reads must be one of the inputs' SQL names sql[0..n)
 * (compared ignoring case, as the binder does); else MC2_E_USAGE naming the table, where the
 * query reads it, and the nearest input name. No network I/O. */
int cli_sql_check_named(const cli_sql_refs *r, const char *const *sql, size_t n,
                        mc2_err *err) MC2_WUR;

/* Without --input: appends to j one input per table the query reads, each this party's own
 * table of that name (an exact match, else the one matching ignoring case), resolved with
 * cli_resolve_input (its latest upload from the catalog). Fails before adding any input if
 * a name is not this party's: MC2_E_USAGE when other parties have a table of that name (the
 * message names them and the --input options that would run the query), MC2_E_NOTFOUND with
 * a "did you mean" over the known table names otherwise, MC2_E_USAGE when two of this party's
 * tables match it ignoring case. Fetches the service's listing (cli_listing_get). */
int cli_sql_own_inputs(cli_session *cs, const cli_sql_refs *r, mc2_job *j, mc2_err *err) MC2_WUR;

#endif
