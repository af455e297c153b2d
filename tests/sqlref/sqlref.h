/* sqlref.h - the SQLite oracle of the differential tests: tables loaded into an in-memory
 * SQLite database from the same files (parsed by mc2's own text reader, so NULLs, empty
 * strings and values mean the same on both sides), queries run, and results compared with
 * mc2's cell by cell.
 *
 * How values are stored in SQLite (the one rule the rewritten queries must follow):
 *   INT64, BOOL      INTEGER
 *   DOUBLE           REAL
 *   DATE             TEXT 'YYYY-MM-DD' (date(), strftime() and text comparison work)
 *   VARCHAR          TEXT (LIKE is case-sensitive, as in SQL)
 *   DECIMAL(p,s)     INTEGER holding value * 10^s ("cents" for s = 2): sums, products and
 *                    comparisons stay exact. A query multiplies scales by hand (price *
 *                    (100 - discount) has scale 4) and returns decimals with dec(x, s),
 *                    which formats the scaled integer x as exact decimal text ("12.3400").
 *                    A view <table>_real shows DECIMAL columns as REAL for queries where
 *                    floating point is good enough.
 * Comparison: a TEXT cell from dec() is compared exactly with an mc2 DECIMAL or INT64 (any
 * scale: 1.50 = 1.5); a REAL cell (averages, ratios) with a relative tolerance. */
#ifndef MC2_TESTS_SQLREF_H
#define MC2_TESTS_SQLREF_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "mc2/table.h"

/* Opens an in-memory database with case-sensitive LIKE and the dec(x, s) function. */
int sqlref_open(sqlite3 **db, mc2_err *err) MC2_WUR;
void sqlref_close(sqlite3 *db);

/* Runs SQL statements that return no rows (DDL, PRAGMA, INSERT ...). */
int sqlref_exec(sqlite3 *db, const char *sql, mc2_err *err) MC2_WUR;

/* Creates table `name` for schema s (types as above) and its view <name>_real. */
int sqlref_create_table(sqlite3 *db, const char *name, const mc2_schema *s, mc2_err *err) MC2_WUR;

/* Inserts the rows of b into table `name` (created for b's schema). */
int sqlref_insert_batch(sqlite3 *db, const char *name, const mc2_batch *b, mc2_err *err) MC2_WUR;

/* Creates table `name` and loads a CSV (with header) or .tbl file into it, streaming, in
 * one transaction. Bad input fails as `mc2 encrypt` would (file, line, column). */
int sqlref_load_file(sqlite3 *db, const char *name, const mc2_schema *s, const char *path,
                     enum mc2_textfmt fmt, mc2_err *err) MC2_WUR;

/* Loads the eight TPC-H tables from dir/<table>.tbl with the schemas schema_dir/<table>.yaml
 * (mc2's schemas/tpch). With indexes, also creates the key indexes SQLite needs to run the
 * correlated subqueries of Q2, Q4, Q17, Q20, Q21 and Q22 in reasonable time. */
int sqlref_load_tpch(sqlite3 *db, const char *dir, const char *schema_dir, int indexes,
                     mc2_err *err) MC2_WUR;

/* ---- results ------------------------------------------------------------------------------ */

enum sqlref_kind {
    SQLREF_NULL,
    SQLREF_INT,  /* i */
    SQLREF_DEC,  /* i * 10^-scale (only from sqlref_result_append_batch: mc2's DECIMAL) */
    SQLREF_REAL, /* r */
    SQLREF_TEXT  /* s[0..len), NUL-terminated */
};

typedef struct sqlref_cell {
    enum sqlref_kind kind;
    uint8_t scale;
    int64_t i;
    double r;
    char *s;
    size_t len;
} sqlref_cell;

/* A result set: nrows x ncols cells, row-major. */
typedef struct sqlref_result {
    size_t ncols, nrows, cap;
    char **names;
    sqlref_cell *cells;
} sqlref_result;

static inline const sqlref_cell *sqlref_at(const sqlref_result *r, size_t row, size_t col)
{
    return &r->cells[row * r->ncols + col];
}

/* Runs one query; *out receives its rows (free with sqlref_result_free). */
int sqlref_query(sqlite3 *db, const char *sql, sqlref_result **out, mc2_err *err) MC2_WUR;
/* Reads a file holding one query and runs it. */
int sqlref_query_file(sqlite3 *db, const char *path, sqlref_result **out, mc2_err *err) MC2_WUR;
void sqlref_result_free(sqlref_result *r);

/* An empty result with b's columns, and appending a batch's rows to it: how mc2's answers
 * (decoded into batches) become comparable. DATE becomes TEXT, BOOL INT, DECIMAL DEC. */
sqlref_result *sqlref_result_for_schema(const mc2_schema *s, mc2_err *err);
int sqlref_result_append_batch(sqlref_result *r, const mc2_batch *b, mc2_err *err) MC2_WUR;

/* Compares expected (SQLite) with actual (mc2) cells: 0 if they match. Exact for integers,
 * decimals (INT, DEC and decimal TEXT compare as numbers) and strings; a REAL on either side
 * matches within relative tolerance reltol (e.g. 1e-9). */
int sqlref_cell_cmp(const sqlref_cell *expected, const sqlref_cell *actual, double reltol);

/* Compares two result sets: the same column count and row count, and rows matching cell by
 * cell; in order when `ordered`, otherwise as multisets (both sorted first). On a mismatch
 * returns nonzero and describes the first difference in why[0..whylen). */
int sqlref_result_cmp(sqlref_result *expected, sqlref_result *actual, int ordered, double reltol,
                      char *why, size_t whylen);

/* Formats a cell for messages into buf ("NULL", "12.50", "'abc'"). */
const char *sqlref_cell_str(const sqlref_cell *c, char *buf, size_t len);

#endif
