/* lexer.h - the SQL tokenizer: turns query text into tokens with line:column positions. */
#ifndef MC2_SQL_LEXER_H
#define MC2_SQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/strdist.h"
#include "mc2/err.h"

/* Longest query text accepted, in bytes. */
#define MC2_SQL_MAX_TEXT (1u << 20)

/* A position in the query text: 1-based line and column (columns count UTF-8 code points;
 * a tab is one column) and the 0-based byte offset. */
typedef struct mc2_sql_pos {
    uint32_t line;
    uint32_t col;
    uint32_t off;
} mc2_sql_pos;

enum mc2_sql_tok {
    MC2_SQL_TK_EOF = 0,
    MC2_SQL_TK_WORD,    /* unquoted identifier or keyword (see kw) */
    MC2_SQL_TK_QIDENT,  /* "quoted identifier" (raw text includes the quotes) */
    MC2_SQL_TK_INT,     /* 123 */
    MC2_SQL_TK_DECIMAL, /* 1.5  .06  7. */
    MC2_SQL_TK_FLOAT,   /* 1e10  2.5E-3 */
    MC2_SQL_TK_STRING,  /* 'text' (raw text includes the quotes; '' inside is one quote) */
    MC2_SQL_TK_EQ,      /* = */
    MC2_SQL_TK_NE,      /* <> or != */
    MC2_SQL_TK_LT,
    MC2_SQL_TK_LE,
    MC2_SQL_TK_GT,
    MC2_SQL_TK_GE,
    MC2_SQL_TK_PLUS,
    MC2_SQL_TK_MINUS,
    MC2_SQL_TK_STAR,
    MC2_SQL_TK_SLASH,
    MC2_SQL_TK_PERCENT,
    MC2_SQL_TK_CONCAT, /* || */
    MC2_SQL_TK_LPAREN,
    MC2_SQL_TK_RPAREN,
    MC2_SQL_TK_COMMA,
    MC2_SQL_TK_DOT,
    MC2_SQL_TK_SEMI,
    MC2_SQL_TK_CAST_OP /* :: (lexed only to say it is not supported) */
};

/* Keywords. Reserved ones (mc2_sql_kw_reserved) can be used as names only when quoted; the
 * others are recognised by context and are ordinary identifiers elsewhere. */
enum mc2_sql_kw {
    MC2_SQL_KW_NONE = 0,
    /* reserved */
    MC2_SQL_KW_ALL,
    MC2_SQL_KW_AND,
    MC2_SQL_KW_ANY,
    MC2_SQL_KW_AS,
    MC2_SQL_KW_ASC,
    MC2_SQL_KW_BETWEEN,
    MC2_SQL_KW_BOTH,
    MC2_SQL_KW_BY,
    MC2_SQL_KW_CASE,
    MC2_SQL_KW_CAST,
    MC2_SQL_KW_CROSS,
    MC2_SQL_KW_DESC,
    MC2_SQL_KW_DISTINCT,
    MC2_SQL_KW_ELSE,
    MC2_SQL_KW_END,
    MC2_SQL_KW_ESCAPE,
    MC2_SQL_KW_EXCEPT,
    MC2_SQL_KW_EXISTS,
    MC2_SQL_KW_EXPLAIN,
    MC2_SQL_KW_FALSE,
    MC2_SQL_KW_FETCH,
    MC2_SQL_KW_FOR,
    MC2_SQL_KW_FROM,
    MC2_SQL_KW_FULL,
    MC2_SQL_KW_GROUP,
    MC2_SQL_KW_HAVING,
    MC2_SQL_KW_ILIKE,
    MC2_SQL_KW_IN,
    MC2_SQL_KW_INNER,
    MC2_SQL_KW_INTERSECT,
    MC2_SQL_KW_INTO,
    MC2_SQL_KW_IS,
    MC2_SQL_KW_JOIN,
    MC2_SQL_KW_LATERAL,
    MC2_SQL_KW_LEADING,
    MC2_SQL_KW_LEFT,
    MC2_SQL_KW_LIKE,
    MC2_SQL_KW_LIMIT,
    MC2_SQL_KW_NATURAL,
    MC2_SQL_KW_NOT,
    MC2_SQL_KW_NULL,
    MC2_SQL_KW_OFFSET,
    MC2_SQL_KW_ON,
    MC2_SQL_KW_OR,
    MC2_SQL_KW_ORDER,
    MC2_SQL_KW_OUTER,
    MC2_SQL_KW_QUALIFY,
    MC2_SQL_KW_RIGHT,
    MC2_SQL_KW_SELECT,
    MC2_SQL_KW_SIMILAR,
    MC2_SQL_KW_SOME,
    MC2_SQL_KW_THEN,
    MC2_SQL_KW_TRAILING,
    MC2_SQL_KW_TRUE,
    MC2_SQL_KW_UNION,
    MC2_SQL_KW_USING,
    MC2_SQL_KW_VALUES,
    MC2_SQL_KW_WHEN,
    MC2_SQL_KW_WHERE,
    MC2_SQL_KW_WINDOW,
    MC2_SQL_KW_WITH,
    MC2_SQL_KW_LAST_RESERVED_ = MC2_SQL_KW_WITH,
    /* not reserved: meaningful only in context */
    MC2_SQL_KW_DATE,
    MC2_SQL_KW_DAY,
    MC2_SQL_KW_EXTRACT,
    MC2_SQL_KW_FILTER,
    MC2_SQL_KW_FIRST,
    MC2_SQL_KW_INTERVAL,
    MC2_SQL_KW_LAST,
    MC2_SQL_KW_MONTH,
    MC2_SQL_KW_NULLS,
    MC2_SQL_KW_OVER,
    MC2_SQL_KW_RECURSIVE,
    MC2_SQL_KW_YEAR,
    MC2_SQL_KW_COUNT_ /* number of keyword ids */
};

/* A token: its kind, keyword id (MC2_SQL_KW_NONE unless kind is MC2_SQL_TK_WORD and the word
 * is a keyword), position, and raw source bytes text[0..len). */
typedef struct mc2_sql_token {
    enum mc2_sql_tok kind;
    enum mc2_sql_kw kw;
    mc2_sql_pos pos;
    const char *text;
    size_t len;
} mc2_sql_token;

/* Lexer state: a cursor into the text. Copying the struct saves the position (lookahead). */
typedef struct mc2_sql_lexer {
    const char *src;
    size_t len;
    size_t off;
    uint32_t line;
    uint32_t col;
} mc2_sql_lexer;

/* Starts lexing src[0..len) (need not be NUL-terminated; must outlive the tokens). Fails with
 * MC2_E_LIMIT if len exceeds MC2_SQL_MAX_TEXT. */
int mc2_sql_lex_init(mc2_sql_lexer *lx, const char *src, size_t len, mc2_err *err) MC2_WUR;

/* Skips whitespace and comments and reads the next token into *tok (MC2_SQL_TK_EOF at the
 * end, repeatedly). On malformed input (bad character, unterminated string or comment,
 * invalid UTF-8, malformed number) returns -1 with MC2_E_INPUT and a message starting
 * "line L, column C: ". */
int mc2_sql_lex_next(mc2_sql_lexer *lx, mc2_sql_token *tok, mc2_err *err) MC2_WUR;

/* The keyword id of word[0..n) compared case-insensitively, or MC2_SQL_KW_NONE. */
enum mc2_sql_kw mc2_sql_lex_keyword(const char *word, size_t n);
/* The keyword's spelling in upper case ("SELECT"); "" for MC2_SQL_KW_NONE. */
const char *mc2_sql_lex_kw_name(enum mc2_sql_kw kw);
/* True if kw is reserved (not usable as an unquoted name). */
bool mc2_sql_lex_kw_reserved(enum mc2_sql_kw kw);

/* Decodes the body of a quoted token (MC2_SQL_TK_STRING or MC2_SQL_TK_QIDENT): drops the
 * outer quotes and turns each doubled quote into one. Writes at most tok->len bytes to out
 * (which must have room for tok->len + 1) and NUL-terminates; returns the decoded length. */
size_t mc2_sql_lex_unquote(const mc2_sql_token *tok, char *out);

/* A short printable description of a token for error messages ("'foo'", "keyword FROM",
 * "end of query", "string 'abc...'") into buf (at least 64 bytes). */
void mc2_sql_lex_describe(const mc2_sql_token *tok, char *buf, size_t buflen);

/* "Did you mean": the edit distance of base/strdist.h against a NUL-terminated word. */
static inline unsigned mc2_sql_lex_distance(const char *a, size_t na, const char *b, unsigned cap)
{
    return mc2_edit_distance(a, na, b, strlen(b), cap);
}

#endif
