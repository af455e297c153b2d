/* lexer.c - SQL tokenizer: words, quoted names, numbers, strings, operators, comments. */
#include "sql/lexer.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const kw_names[MC2_SQL_KW_COUNT_] = {
    [MC2_SQL_KW_NONE] = "",
    [MC2_SQL_KW_ALL] = "ALL",
    [MC2_SQL_KW_AND] = "AND",
    [MC2_SQL_KW_ANY] = "ANY",
    [MC2_SQL_KW_AS] = "AS",
    [MC2_SQL_KW_ASC] = "ASC",
    [MC2_SQL_KW_BETWEEN] = "BETWEEN",
    [MC2_SQL_KW_BOTH] = "BOTH",
    [MC2_SQL_KW_BY] = "BY",
    [MC2_SQL_KW_CASE] = "CASE",
    [MC2_SQL_KW_CAST] = "CAST",
    [MC2_SQL_KW_CROSS] = "CROSS",
    [MC2_SQL_KW_DESC] = "DESC",
    [MC2_SQL_KW_DISTINCT] = "DISTINCT",
    [MC2_SQL_KW_ELSE] = "ELSE",
    [MC2_SQL_KW_END] = "END",
    [MC2_SQL_KW_ESCAPE] = "ESCAPE",
    [MC2_SQL_KW_EXCEPT] = "EXCEPT",
    [MC2_SQL_KW_EXISTS] = "EXISTS",
    [MC2_SQL_KW_EXPLAIN] = "EXPLAIN",
    [MC2_SQL_KW_FALSE] = "FALSE",
    [MC2_SQL_KW_FETCH] = "FETCH",
    [MC2_SQL_KW_FOR] = "FOR",
    [MC2_SQL_KW_FROM] = "FROM",
    [MC2_SQL_KW_FULL] = "FULL",
    [MC2_SQL_KW_GROUP] = "GROUP",
    [MC2_SQL_KW_HAVING] = "HAVING",
    [MC2_SQL_KW_ILIKE] = "ILIKE",
    [MC2_SQL_KW_IN] = "IN",
    [MC2_SQL_KW_INNER] = "INNER",
    [MC2_SQL_KW_INTERSECT] = "INTERSECT",
    [MC2_SQL_KW_INTO] = "INTO",
    [MC2_SQL_KW_IS] = "IS",
    [MC2_SQL_KW_JOIN] = "JOIN",
    [MC2_SQL_KW_LATERAL] = "LATERAL",
    [MC2_SQL_KW_LEADING] = "LEADING",
    [MC2_SQL_KW_LEFT] = "LEFT",
    [MC2_SQL_KW_LIKE] = "LIKE",
    [MC2_SQL_KW_LIMIT] = "LIMIT",
    [MC2_SQL_KW_NATURAL] = "NATURAL",
    [MC2_SQL_KW_NOT] = "NOT",
    [MC2_SQL_KW_NULL] = "NULL",
    [MC2_SQL_KW_OFFSET] = "OFFSET",
    [MC2_SQL_KW_ON] = "ON",
    [MC2_SQL_KW_OR] = "OR",
    [MC2_SQL_KW_ORDER] = "ORDER",
    [MC2_SQL_KW_OUTER] = "OUTER",
    [MC2_SQL_KW_QUALIFY] = "QUALIFY",
    [MC2_SQL_KW_RIGHT] = "RIGHT",
    [MC2_SQL_KW_SELECT] = "SELECT",
    [MC2_SQL_KW_SIMILAR] = "SIMILAR",
    [MC2_SQL_KW_SOME] = "SOME",
    [MC2_SQL_KW_THEN] = "THEN",
    [MC2_SQL_KW_TRAILING] = "TRAILING",
    [MC2_SQL_KW_TRUE] = "TRUE",
    [MC2_SQL_KW_UNION] = "UNION",
    [MC2_SQL_KW_USING] = "USING",
    [MC2_SQL_KW_VALUES] = "VALUES",
    [MC2_SQL_KW_WHEN] = "WHEN",
    [MC2_SQL_KW_WHERE] = "WHERE",
    [MC2_SQL_KW_WINDOW] = "WINDOW",
    [MC2_SQL_KW_WITH] = "WITH",
    [MC2_SQL_KW_DATE] = "DATE",
    [MC2_SQL_KW_DAY] = "DAY",
    [MC2_SQL_KW_EXTRACT] = "EXTRACT",
    [MC2_SQL_KW_FILTER] = "FILTER",
    [MC2_SQL_KW_FIRST] = "FIRST",
    [MC2_SQL_KW_INTERVAL] = "INTERVAL",
    [MC2_SQL_KW_LAST] = "LAST",
    [MC2_SQL_KW_MONTH] = "MONTH",
    [MC2_SQL_KW_NULLS] = "NULLS",
    [MC2_SQL_KW_OVER] = "OVER",
    [MC2_SQL_KW_RECURSIVE] = "RECURSIVE",
    [MC2_SQL_KW_YEAR] = "YEAR",
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}
static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static bool is_word_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_word_char(int c)
{
    return is_word_start(c) || is_digit(c);
}

enum mc2_sql_kw mc2_sql_lex_keyword(const char *word, size_t n)
{
    if (n < 2 || n > 9) return MC2_SQL_KW_NONE;
    for (int k = 1; k < MC2_SQL_KW_COUNT_; k++) {
        const char *name = kw_names[k];
        if (strlen(name) != n) continue;
        size_t i = 0;
        while (i < n && lower((unsigned char)word[i]) == lower((unsigned char)name[i])) i++;
        if (i == n) return (enum mc2_sql_kw)k;
    }
    return MC2_SQL_KW_NONE;
}

const char *mc2_sql_lex_kw_name(enum mc2_sql_kw kw)
{
    assert(kw >= 0 && kw < MC2_SQL_KW_COUNT_);
    return kw_names[kw];
}

bool mc2_sql_lex_kw_reserved(enum mc2_sql_kw kw)
{
    return kw != MC2_SQL_KW_NONE && kw <= MC2_SQL_KW_LAST_RESERVED_;
}

int mc2_sql_lex_init(mc2_sql_lexer *lx, const char *src, size_t len, mc2_err *err)
{
    lx->src = src;
    lx->len = 0;
    lx->off = 0;
    lx->line = 1;
    lx->col = 1;
    if (len > MC2_SQL_MAX_TEXT)
        return mc2_err_set(err, MC2_E_LIMIT, "query text is %zu bytes; the limit is %u bytes", len,
                           MC2_SQL_MAX_TEXT);
    lx->len = len;
    return 0;
}

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1, p[0] >= 0x80), or 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3Fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static mc2_sql_pos here(const mc2_sql_lexer *lx)
{
    mc2_sql_pos p = {lx->line, lx->col, (uint32_t)lx->off};
    return p;
}

/* Advances over n bytes that hold no newline and form whole ASCII or UTF-8 characters. */
static void skip_bytes(mc2_sql_lexer *lx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)lx->src[lx->off + i];
        if ((c & 0xC0) != 0x80) lx->col++;
    }
    lx->off += n;
}

static int lex_error(mc2_sql_lexer *lx, mc2_sql_pos at, mc2_err *err, const char *what)
{
    (void)lx;
    return mc2_err_set(err, MC2_E_INPUT, "line %u, column %u: %s", at.line, at.col, what);
}

/* Advances over one character inside a string, quoted name or comment, checking UTF-8 and
 * rejecting NUL; `what` names the construct for the error message. */
static int skip_char(mc2_sql_lexer *lx, mc2_err *err, const char *what)
{
    unsigned char c = (unsigned char)lx->src[lx->off];
    if (c == '\n') {
        lx->off++;
        lx->line++;
        lx->col = 1;
        return 0;
    }
    if (c == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "NUL byte in %s", what);
        return lex_error(lx, here(lx), err, msg);
    }
    if (c < 0x80) {
        skip_bytes(lx, 1);
        return 0;
    }
    size_t n = utf8_seq((const unsigned char *)lx->src + lx->off, lx->len - lx->off);
    if (!n) {
        char msg[96];
        snprintf(msg, sizeof msg, "invalid UTF-8 in %s", what);
        return lex_error(lx, here(lx), err, msg);
    }
    skip_bytes(lx, n);
    return 0;
}

/* Skips whitespace and comments. */
static int skip_space(mc2_sql_lexer *lx, mc2_err *err)
{
    while (lx->off < lx->len) {
        char c = lx->src[lx->off];
        if (c == '\n') {
            lx->off++;
            lx->line++;
            lx->col = 1;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            skip_bytes(lx, 1);
        } else if (c == '-' && lx->off + 1 < lx->len && lx->src[lx->off + 1] == '-') {
            while (lx->off < lx->len && lx->src[lx->off] != '\n')
                if (skip_char(lx, err, "comment")) return -1;
        } else if (c == '/' && lx->off + 1 < lx->len && lx->src[lx->off + 1] == '*') {
            mc2_sql_pos open = here(lx);
            skip_bytes(lx, 2);
            for (;;) {
                if (lx->off >= lx->len)
                    return lex_error(lx, open, err,
                                     "unterminated comment: '/*' has no matching '*/'");
                if (lx->src[lx->off] == '*' && lx->off + 1 < lx->len &&
                    lx->src[lx->off + 1] == '/') {
                    skip_bytes(lx, 2);
                    break;
                }
                if (skip_char(lx, err, "comment")) return -1;
            }
        } else {
            break;
        }
    }
    return 0;
}

/* Reads a quoted token body (string or quoted name) up to its closing quote q. */
static int lex_quoted(mc2_sql_lexer *lx, char q, mc2_err *err)
{
    mc2_sql_pos open = here(lx);
    const char *what = q == '\'' ? "string literal" : "quoted name";
    skip_bytes(lx, 1);
    for (;;) {
        if (lx->off >= lx->len) {
            char msg[128];
            snprintf(msg, sizeof msg, "unterminated %s: no closing %c", what, q);
            return lex_error(lx, open, err, msg);
        }
        if (lx->src[lx->off] == q) {
            if (lx->off + 1 < lx->len && lx->src[lx->off + 1] == q) {
                skip_bytes(lx, 2);
                continue;
            }
            skip_bytes(lx, 1);
            return 0;
        }
        if (skip_char(lx, err, what)) return -1;
    }
}

/* Reads a number: digits [. digits] [e [+-] digits], or . digits [...]. */
static int lex_number(mc2_sql_lexer *lx, mc2_sql_token *tok, mc2_err *err)
{
    const char *s = lx->src;
    size_t i = lx->off, n = lx->len;
    enum mc2_sql_tok kind = MC2_SQL_TK_INT;
    while (i < n && is_digit(s[i])) i++;
    if (i < n && s[i] == '.') {
        kind = MC2_SQL_TK_DECIMAL;
        i++;
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && is_digit(s[j])) {
            kind = MC2_SQL_TK_FLOAT;
            while (j < n && is_digit(s[j])) j++;
            i = j;
        } else {
            skip_bytes(lx, i - lx->off);
            return lex_error(lx, tok->pos, err,
                             "malformed number: exponent has no digits after 'e'");
        }
    }
    if (i < n && (is_word_char(s[i]) || s[i] == '.')) {
        char msg[96];
        snprintf(msg, sizeof msg, "malformed number: unexpected '%c' after the digits", s[i]);
        return lex_error(lx, tok->pos, err, msg);
    }
    tok->kind = kind;
    skip_bytes(lx, i - lx->off);
    return 0;
}

int mc2_sql_lex_next(mc2_sql_lexer *lx, mc2_sql_token *tok, mc2_err *err)
{
    if (skip_space(lx, err)) return -1;
    tok->pos = here(lx);
    tok->text = lx->src + lx->off;
    tok->kw = MC2_SQL_KW_NONE;
    tok->len = 0;
    if (lx->off >= lx->len) {
        tok->kind = MC2_SQL_TK_EOF;
        return 0;
    }
    const char *s = lx->src + lx->off;
    size_t rest = lx->len - lx->off;
    char c = s[0], c1 = rest > 1 ? s[1] : '\0';
    size_t adv = 1;
    if (is_word_start(c)) {
        size_t i = 1;
        while (i < rest && is_word_char(s[i])) i++;
        tok->kind = MC2_SQL_TK_WORD;
        tok->kw = mc2_sql_lex_keyword(s, i);
        adv = i;
    } else if (is_digit(c) || (c == '.' && is_digit(c1))) {
        if (lex_number(lx, tok, err)) return -1;
        tok->len = (size_t)(lx->off - tok->pos.off);
        return 0;
    } else if (c == '\'' || c == '"') {
        if (lex_quoted(lx, c, err)) return -1;
        tok->kind = c == '\'' ? MC2_SQL_TK_STRING : MC2_SQL_TK_QIDENT;
        tok->len = (size_t)(lx->off - tok->pos.off);
        return 0;
    } else {
        switch (c) {
        case '=':
            if (c1 == '=')
                return lex_error(lx, tok->pos, err, "unexpected '==' (use '=' to compare)");
            tok->kind = MC2_SQL_TK_EQ;
            break;
        case '<':
            if (c1 == '>')
                tok->kind = MC2_SQL_TK_NE, adv = 2;
            else if (c1 == '=')
                tok->kind = MC2_SQL_TK_LE, adv = 2;
            else
                tok->kind = MC2_SQL_TK_LT;
            break;
        case '>':
            if (c1 == '=')
                tok->kind = MC2_SQL_TK_GE, adv = 2;
            else
                tok->kind = MC2_SQL_TK_GT;
            break;
        case '!':
            if (c1 != '=')
                return lex_error(lx, tok->pos, err, "unexpected '!' (use NOT, or '<>' to compare)");
            tok->kind = MC2_SQL_TK_NE, adv = 2;
            break;
        case '|':
            if (c1 != '|')
                return lex_error(lx, tok->pos, err,
                                 "unexpected '|' (use '||' to concatenate strings)");
            tok->kind = MC2_SQL_TK_CONCAT, adv = 2;
            break;
        case ':':
            if (c1 != ':') return lex_error(lx, tok->pos, err, "unexpected ':'");
            tok->kind = MC2_SQL_TK_CAST_OP, adv = 2;
            break;
        case '+':
            tok->kind = MC2_SQL_TK_PLUS;
            break;
        case '-':
            tok->kind = MC2_SQL_TK_MINUS;
            break;
        case '*':
            tok->kind = MC2_SQL_TK_STAR;
            break;
        case '/':
            tok->kind = MC2_SQL_TK_SLASH;
            break;
        case '%':
            tok->kind = MC2_SQL_TK_PERCENT;
            break;
        case '(':
            tok->kind = MC2_SQL_TK_LPAREN;
            break;
        case ')':
            tok->kind = MC2_SQL_TK_RPAREN;
            break;
        case ',':
            tok->kind = MC2_SQL_TK_COMMA;
            break;
        case '.':
            tok->kind = MC2_SQL_TK_DOT;
            break;
        case ';':
            tok->kind = MC2_SQL_TK_SEMI;
            break;
        default: {
            char msg[96];
            unsigned char u = (unsigned char)c;
            if (u == 0)
                snprintf(msg, sizeof msg, "unexpected NUL byte");
            else if (u < 0x20 || u == 0x7f)
                snprintf(msg, sizeof msg, "unexpected control character 0x%02x", u);
            else if (u >= 0x80) {
                size_t n = utf8_seq((const unsigned char *)s, rest);
                if (!n)
                    snprintf(msg, sizeof msg, "invalid UTF-8");
                else
                    snprintf(
                        msg, sizeof msg,
                        "unexpected character '%.*s' (names are ASCII; quote others as \"...\")",
                        (int)n, s);
            } else if (c == '`' || c == '[')
                snprintf(msg, sizeof msg,
                         "unexpected '%c' (quote names with double quotes: \"name\")", c);
            else
                snprintf(msg, sizeof msg, "unexpected character '%c'", c);
            return lex_error(lx, tok->pos, err, msg);
        }
        }
    }
    skip_bytes(lx, adv);
    tok->len = adv;
    return 0;
}

size_t mc2_sql_lex_unquote(const mc2_sql_token *tok, char *out)
{
    assert(tok->kind == MC2_SQL_TK_STRING || tok->kind == MC2_SQL_TK_QIDENT);
    assert(tok->len >= 2);
    char q = tok->text[0];
    size_t n = 0;
    for (size_t i = 1; i + 1 < tok->len; i++) {
        out[n++] = tok->text[i];
        if (tok->text[i] == q) i++; /* doubled quote: keep one */
    }
    out[n] = '\0';
    return n;
}

void mc2_sql_lex_describe(const mc2_sql_token *tok, char *buf, size_t buflen)
{
    /* At most this many bytes of token text, cut at a character boundary. */
    size_t n = tok->len;
    const size_t max = 32;
    bool cut = false;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)tok->text[n] & 0xC0) == 0x80) n--;
        cut = true;
    }
    switch (tok->kind) {
    case MC2_SQL_TK_EOF:
        snprintf(buf, buflen, "end of query");
        break;
    case MC2_SQL_TK_WORD:
        if (tok->kw != MC2_SQL_KW_NONE && mc2_sql_lex_kw_reserved(tok->kw))
            snprintf(buf, buflen, "keyword %s", mc2_sql_lex_kw_name(tok->kw));
        else
            snprintf(buf, buflen, "'%.*s%s'", (int)n, tok->text, cut ? "..." : "");
        break;
    case MC2_SQL_TK_STRING:
        snprintf(buf, buflen, "string %.*s%s", (int)n, tok->text, cut ? "...'" : "");
        break;
    case MC2_SQL_TK_INT:
    case MC2_SQL_TK_DECIMAL:
    case MC2_SQL_TK_FLOAT:
        snprintf(buf, buflen, "number %.*s%s", (int)n, tok->text, cut ? "..." : "");
        break;
    default:
        snprintf(buf, buflen, "'%.*s%s'", (int)n, tok->text, cut ? "..." : "");
        break;
    }
}
