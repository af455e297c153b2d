/* parser.h - the SQL parser: query text to an AST (sql/ast.h) in an arena. */
#ifndef MC2_SQL_PARSER_H
#define MC2_SQL_PARSER_H

#include <stddef.h>

#include "mc2/err.h"
#include "sql/arena.h"
#include "sql/ast.h"

/* Parses exactly one statement (an optional trailing ';' is allowed) from text[0..len),
 * which is hostile input: any bytes are handled with a clean error. Nodes are allocated in
 * arena a and remain valid until it is freed; they do not point into text. On error returns
 * -1 with *err set: MC2_E_INPUT for a syntax error or an unsupported construct (message
 * "line L, column C: ..."; unsupported ones say "not supported: ..."), MC2_E_LIMIT if the
 * text is too long or nested too deeply, MC2_E_NOMEM / MC2_E_LIMIT if the arena fails. */
int mc2_sql_parse(const char *text, size_t len, mc2_arena *a, mc2_sql_stmt **out,
                  mc2_err *err) MC2_WUR;

/* Parses a script: statements separated by ';' (empty statements are skipped). *out is an
 * arena array of *n statement pointers (*n may be 0). Errors as for mc2_sql_parse. */
int mc2_sql_parse_script(const char *text, size_t len, mc2_arena *a, mc2_sql_stmt ***out, size_t *n,
                         mc2_err *err) MC2_WUR;

#endif
