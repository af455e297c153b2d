/* textio.h - CSV (RFC 4180, with header row) and TPC-H .tbl text: finding record boundaries
 * fast (so a file can be cut into blocks and parsed in parallel), parsing records into a
 * batch, and writing a batch back as text.
 *
 * NULLs and empty strings: in CSV an unquoted empty field is NULL and a quoted empty field
 * ("") is the empty string; in .tbl an empty field is NULL. In a NOT NULL VARCHAR column an
 * empty field is the empty string in both formats; in any other NOT NULL column it is an
 * error. Writers emit NULL as an empty unquoted field and the empty string as "" (CSV), so
 * decrypt(encrypt(x)) reproduces x's values exactly. */
#ifndef MC2_TABLE_TEXTIO_H
#define MC2_TABLE_TEXTIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/table.h"

/* State carried across buffers while scanning for record ends. Zero-initialise. */
typedef struct mc2_scan {
    int in_quotes; /* CSV: inside a quoted field */
    int last_cr;   /* previous byte was '\r' (to count "\r\n" as one line end) */
} mc2_scan;

/* Scans p[0..n) and stops after `want` record ends (a newline outside quotes), or at n.
 * Returns the number of bytes consumed; adds the records found to *records and the
 * physical newlines seen (including ones inside quoted fields) to *lines. Works across
 * buffer boundaries via *st. A final record without a trailing newline is not counted here:
 * the caller counts it at end of input if bytes remain. */
size_t mc2_text_scan(enum mc2_textfmt fmt, mc2_scan *st, const char *p, size_t n, uint64_t want,
                     uint64_t *records, uint64_t *lines);

/* Where the text came from, for error messages: "FILE line L, column C (NAME): ...". */
typedef struct mc2_textpos {
    const char *file; /* file name as the user gave it */
    uint64_t line;    /* physical line (1-based) of the first record in the chunk */
} mc2_textpos;

/* Parses every complete record in p[0..n) (the chunk must start at a record start and end
 * at a record end or end of input; a final record without newline is accepted) and appends
 * them to b, which must have room for them (the caller sized it from mc2_text_scan).
 * A CSV header row is not handled here (see mc2_text_check_header). Bad input: MC2_E_INPUT
 * naming file, line, column number and column name, and what was wrong; b is then in an
 * unspecified state. */
int mc2_text_parse(enum mc2_textfmt fmt, const char *p, size_t n, const mc2_textpos *pos,
                   mc2_batch *b, mc2_err *err) MC2_WUR;

/* Checks a CSV header record p[0..n) (without its line end) against the schema: the same
 * number of columns with the same names (ignoring case), in order. */
int mc2_text_check_header(const char *p, size_t n, const mc2_schema *s, const char *file,
                          mc2_err *err) MC2_WUR;

/* Appends the CSV header row for s (with "\n") to out: each column's label if it has one (a
 * SQL result's name, docs/format.md), else its name. */
int mc2_text_write_header(const mc2_schema *s, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Appends the rows of b as CSV or .tbl text to out. CSV fields that need it are quoted
 * (delimiter, quote, CR or LF inside, or an empty string). */
int mc2_text_write_batch(enum mc2_textfmt fmt, const mc2_batch *b, mc2_buf *out,
                         mc2_err *err) MC2_WUR;

#endif
