/* parser.c - recursive-descent SQL parser with precedence climbing for expressions. */
#include "sql/parser.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Error paths format messages in local buffers; keeping them out of line keeps those
 * buffers off the frames of the recursive parsing functions. */
#define COLD __attribute__((noinline, cold))

/* ---- parser state and basic token handling ---------------------------------------------- */

typedef struct parser {
    mc2_sql_lexer lx;  /* positioned just after tok */
    mc2_sql_token tok; /* current token */
    mc2_sql_token prev;
    mc2_arena *a;
    mc2_err *err;
    unsigned depth;
    bool failed;
    /* An implicit alias that looks like a misspelt clause keyword ("form"): if the next
     * token is an error, the message says so. */
    bool has_suspect;
    uint32_t suspect_off;
    const char *suspect_kw;
    char upbuf[40]; /* upper_tok's result (error messages only) */
} parser;

/* Operator precedence, loosest first (as in PostgreSQL). */
enum {
    PREC_OR = 1,
    PREC_AND,
    PREC_NOT,
    PREC_IS,
    PREC_CMP,
    PREC_PRED, /* BETWEEN, IN, LIKE */
    PREC_CONCAT,
    PREC_ADD,
    PREC_MUL,
    PREC_UNARY
};

COLD __attribute__((format(printf, 4, 0))) static void
vfail(parser *P, enum mc2_code code, mc2_sql_pos at, const char *fmt, va_list ap)
{
    if (P->failed) return;
    P->failed = true;
    char msg[MC2_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    mc2_err_set(P->err, code, "line %u, column %u: %s", at.line, at.col, msg);
}

/* Records a syntax error at `at` (only the first error is kept); returns NULL. */
COLD __attribute__((format(printf, 3, 4))) static void *fail_at(parser *P, mc2_sql_pos at,
                                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(P, MC2_E_INPUT, at, fmt, ap);
    va_end(ap);
    return NULL;
}

COLD __attribute__((format(printf, 3, 4))) static void *fail_limit(parser *P, mc2_sql_pos at,
                                                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(P, MC2_E_LIMIT, at, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Marks the parse failed after the arena (or the lexer) has already set *err. */
static void *fail_err(parser *P)
{
    P->failed = true;
    return NULL;
}

/* A token's text in upper case (at most 32 bytes), for messages naming a keyword. */
COLD static const char *upper_tok(parser *P, const mc2_sql_token *t)
{
    size_t n = t->len < 32 ? t->len : 32, i;
    for (i = 0; i < n; i++) {
        char c = t->text[i];
        P->upbuf[i] = (char)(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
    }
    P->upbuf[i] = '\0';
    return P->upbuf;
}

static void advance(parser *P)
{
    if (P->failed) {
        P->tok.kind = MC2_SQL_TK_EOF;
        return;
    }
    P->prev = P->tok;
    if (mc2_sql_lex_next(&P->lx, &P->tok, P->err)) {
        P->failed = true;
        P->tok.kind = MC2_SQL_TK_EOF;
        P->tok.kw = MC2_SQL_KW_NONE;
    }
}

/* The token after the current one (n = 1) or the one after that (n = 2), without consuming
 * anything. A token that fails to lex shows as end of query; the error surfaces when the
 * parser advances onto it. Out of line: its scratch mc2_err is 1 KiB, which must not sit
 * on the frames of the recursive functions. */
__attribute__((noinline)) static mc2_sql_token peek_n(const parser *P, int n)
{
    mc2_sql_lexer lx = P->lx;
    mc2_sql_token t = {0};
    mc2_err scratch;
    for (int i = 0; i < n; i++) {
        if (mc2_sql_lex_next(&lx, &t, &scratch)) {
            t.kind = MC2_SQL_TK_EOF;
            t.kw = MC2_SQL_KW_NONE;
            break;
        }
    }
    return t;
}

static mc2_sql_token peek(const parser *P)
{
    return peek_n(P, 1);
}

static bool is(const parser *P, enum mc2_sql_tok k)
{
    return P->tok.kind == k;
}
static bool is_kw(const parser *P, enum mc2_sql_kw kw)
{
    return P->tok.kind == MC2_SQL_TK_WORD && P->tok.kw == kw;
}
static bool tok_is_kw(const mc2_sql_token *t, enum mc2_sql_kw kw)
{
    return t->kind == MC2_SQL_TK_WORD && t->kw == kw;
}
/* Case-insensitive comparison of an unquoted word token with a lower-case word. */
static bool tok_is_word(const mc2_sql_token *t, const char *w)
{
    if (t->kind != MC2_SQL_TK_WORD || t->len != strlen(w)) return false;
    for (size_t i = 0; i < t->len; i++) {
        char c = t->text[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + ('a' - 'A'));
        if (c != w[i]) return false;
    }
    return true;
}
static bool is_word(const parser *P, const char *w)
{
    return tok_is_word(&P->tok, w);
}

static bool accept(parser *P, enum mc2_sql_tok k)
{
    if (!is(P, k)) return false;
    advance(P);
    return true;
}
static bool accept_kw(parser *P, enum mc2_sql_kw kw)
{
    if (!is_kw(P, kw)) return false;
    advance(P);
    return true;
}

/* A name token: an unquoted non-reserved word or a quoted name. */
static bool tok_is_name(const mc2_sql_token *t)
{
    return t->kind == MC2_SQL_TK_QIDENT ||
           (t->kind == MC2_SQL_TK_WORD && !mc2_sql_lex_kw_reserved(t->kw));
}

/* Clause keywords an implicit alias may be a misspelling of. */
static const char *const clause_words[] = {"FROM",  "WHERE", "GROUP", "ORDER", "HAVING",
                                           "LIMIT", "JOIN",  "UNION", "ON"};

/* "found X" plus hints, for "expected ..." messages. */
COLD static void *unexpected(parser *P, const char *expected)
{
    if (P->failed) return NULL;
    char found[96], hint[160] = "";
    mc2_sql_lex_describe(&P->tok, found, sizeof found);
    if (P->has_suspect && P->prev.pos.off == P->suspect_off)
        snprintf(hint, sizeof hint, " ('%.*s' was read as an alias; did you mean %s?)",
                 (int)(P->prev.len > 32 ? 32 : P->prev.len), P->prev.text, P->suspect_kw);
    else if (P->tok.kind == MC2_SQL_TK_WORD && mc2_sql_lex_kw_reserved(P->tok.kw) &&
             (strstr(expected, "name") || strstr(expected, "expression")))
        snprintf(hint, sizeof hint, " (to use %s as a name, quote it: \"%.*s\")",
                 mc2_sql_lex_kw_name(P->tok.kw), (int)P->tok.len, P->tok.text);
    return fail_at(P, P->tok.pos, "expected %s, found %s%s", expected, found, hint);
}

static bool expect(parser *P, enum mc2_sql_tok k, const char *expected)
{
    if (accept(P, k)) return true;
    unexpected(P, expected);
    return false;
}

static bool expect_kw(parser *P, enum mc2_sql_kw kw, const char *expected)
{
    if (accept_kw(P, kw)) return true;
    unexpected(P, expected);
    return false;
}

/* unexpected() with a formatted description of what was expected. */
COLD __attribute__((format(printf, 2, 3))) static void *unexpectedf(parser *P, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return unexpected(P, what);
}

/* Expects ')' closing the '(' at `open`. */
static bool expect_close(parser *P, mc2_sql_pos open)
{
    if (accept(P, MC2_SQL_TK_RPAREN)) return true;
    unexpectedf(P, "')' to close '(' at line %u, column %u", open.line, open.col);
    return false;
}

static bool enter(parser *P)
{
    if (++P->depth > MC2_SQL_MAX_DEPTH) {
        fail_limit(P, P->tok.pos,
                   "query nested too deeply (more than %d levels of parentheses, subqueries "
                   "or operators)",
                   MC2_SQL_MAX_DEPTH);
        return false;
    }
    return true;
}
static void leave(parser *P)
{
    P->depth--;
}

static unsigned hmax(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

/* Checks a node's height against the limit. */
static bool height_ok(parser *P, unsigned h, mc2_sql_pos at)
{
    if (h <= MC2_SQL_MAX_HEIGHT) return true;
    fail_limit(P, at, "query nested too deeply (expression or join tree more than %d levels)",
               MC2_SQL_MAX_HEIGHT);
    return false;
}

/* ---- allocation --------------------------------------------------------------------------- */

static void *alloc(parser *P, size_t n)
{
    if (P->failed) return NULL;
    void *p = mc2_arena_alloc(P->a, n, P->err);
    if (!p) fail_err(P);
    return p;
}

/* A growable array in the arena (elements of `size` bytes); grows by doubling. */
typedef struct vec {
    void *data;
    size_t n, cap, size;
} vec;

static bool vec_push(parser *P, vec *v, const void *elem)
{
    if (P->failed) return false;
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        void *nd = mc2_arena_array(P->a, ncap, v->size, P->err);
        if (!nd) return fail_err(P), false;
        if (v->n) memcpy(nd, v->data, v->n * v->size);
        v->data = nd;
        v->cap = ncap;
    }
    memcpy((char *)v->data + v->n * v->size, elem, v->size);
    v->n++;
    return true;
}

static mc2_sql_expr *new_expr(parser *P, enum mc2_sql_expr_kind kind, mc2_sql_pos pos)
{
    mc2_sql_expr *e = alloc(P, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->pos = pos;
    e->height = 1;
    return e;
}

/* Sets e's height from a child's and checks the limit; NULL if too deep. */
static mc2_sql_expr *child_height(parser *P, mc2_sql_expr *e, unsigned child)
{
    if (!e) return NULL;
    e->height = hmax(e->height, child + 1);
    return height_ok(P, e->height, e->pos) ? e : NULL;
}

/* Copies a name token into the arena: unquoted words folded to lower case, quoted names
 * decoded. NULL (error set) for an empty or too-long name. */
static const char *take_name(parser *P)
{
    const mc2_sql_token *t = &P->tok;
    assert(tok_is_name(t) || t->kind == MC2_SQL_TK_WORD);
    char *s = alloc(P, t->len + 1);
    if (!s) return NULL;
    size_t n;
    if (t->kind == MC2_SQL_TK_QIDENT) {
        n = mc2_sql_lex_unquote(t, s);
        if (n == 0) return fail_at(P, t->pos, "empty quoted name \"\"");
    } else {
        for (n = 0; n < t->len; n++) {
            char c = t->text[n];
            s[n] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        s[n] = '\0';
    }
    if (n > MC2_MAX_NAME) return fail_at(P, t->pos, "name longer than %d bytes", MC2_MAX_NAME);
    advance(P);
    return s;
}

/* Parses a name, or fails with "expected <what>". */
static const char *parse_name(parser *P, const char *what)
{
    if (!tok_is_name(&P->tok)) return unexpected(P, what);
    return take_name(P);
}

/* '(' name, name, ... ')' into *out / *n. */
static bool parse_name_list(parser *P, const char ***out, size_t *n, const char *what)
{
    mc2_sql_pos open = P->tok.pos;
    if (!expect(P, MC2_SQL_TK_LPAREN, "'('")) return false;
    vec v = {.size = sizeof(const char *)};
    do {
        const char *name = parse_name(P, what);
        if (!name || !vec_push(P, &v, &name)) return false;
    } while (accept(P, MC2_SQL_TK_COMMA));
    if (!expect_close(P, open)) return false;
    *out = v.data;
    *n = v.n;
    return true;
}

/* ---- forward declarations ----------------------------------------------------------------- */

static mc2_sql_expr *parse_expr(parser *P);
static mc2_sql_expr *parse_prec(parser *P, int minp);
static mc2_sql_expr *parse_infix(parser *P, mc2_sql_expr *lhs, int minp);
static mc2_sql_query *parse_query(parser *P);
static mc2_sql_query *parse_query_tail(parser *P, mc2_sql_body *first, mc2_sql_pos pos);
static mc2_sql_body *query_as_body(parser *P, mc2_sql_query *q);

static bool starts_query(const mc2_sql_token *t)
{
    return tok_is_kw(t, MC2_SQL_KW_SELECT) || tok_is_kw(t, MC2_SQL_KW_WITH) ||
           tok_is_kw(t, MC2_SQL_KW_VALUES);
}

/* ---- literals ----------------------------------------------------------------------------- */

static mc2_sql_expr *literal(parser *P, enum mc2_sql_expr_kind kind)
{
    mc2_sql_expr *e = new_expr(P, kind, P->tok.pos);
    if (!e) return NULL;
    char *s;
    if (P->tok.kind == MC2_SQL_TK_STRING) {
        s = alloc(P, P->tok.len + 1);
        if (!s) return NULL;
        e->lit.len = mc2_sql_lex_unquote(&P->tok, s);
    } else {
        s = mc2_arena_strndup(P->a, P->tok.text, P->tok.len, P->err);
        if (!s) return fail_err(P);
        e->lit.len = P->tok.len;
    }
    e->lit.text = s;
    advance(P);
    return e;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* True if s[0..n) is YYYY-MM-DD naming a real day in 0001-01-01..9999-12-31. */
static bool valid_date(const char *s, size_t n)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != 10 || s[4] != '-' || s[7] != '-') return false;
    unsigned v[3] = {0, 0, 0};
    static const int start[3] = {0, 5, 8}, len[3] = {4, 2, 2};
    for (int f = 0; f < 3; f++)
        for (int i = 0; i < len[f]; i++) {
            char c = s[start[f] + i];
            if (c < '0' || c > '9') return false;
            v[f] = v[f] * 10 + (unsigned)(c - '0');
        }
    if (v[0] < 1 || v[1] < 1 || v[1] > 12 || v[2] < 1) return false;
    unsigned md = mdays[v[1] - 1] + (v[1] == 2 && leap(v[0]));
    return v[2] <= md;
}

/* DATE 'yyyy-mm-dd' (current token is DATE, next is a string). */
static mc2_sql_expr *parse_date(parser *P)
{
    mc2_sql_pos pos = P->tok.pos;
    advance(P);
    mc2_sql_expr *e = literal(P, MC2_SQL_E_DATE);
    if (!e) return NULL;
    e->pos = pos;
    if (!valid_date(e->lit.text, e->lit.len))
        return fail_at(P, P->prev.pos, "invalid date %.*s (expected a real day as 'YYYY-MM-DD')",
                       (int)(P->prev.len > 40 ? 40 : P->prev.len), P->prev.text);
    return e;
}

static bool parse_int64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + neg) return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool unit_of(const mc2_sql_token *t, enum mc2_sql_unit *u)
{
    if (tok_is_kw(t, MC2_SQL_KW_DAY))
        *u = MC2_SQL_UNIT_DAY;
    else if (tok_is_kw(t, MC2_SQL_KW_MONTH))
        *u = MC2_SQL_UNIT_MONTH;
    else if (tok_is_kw(t, MC2_SQL_KW_YEAR))
        *u = MC2_SQL_UNIT_YEAR;
    else
        return false;
    return true;
}

static bool other_time_unit(const mc2_sql_token *t)
{
    static const char *const units[] = {"hour",    "minute", "second",      "week",       "quarter",
                                        "days",    "months", "years",       "hours",      "minutes",
                                        "seconds", "weeks",  "millisecond", "microsecond"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (tok_is_word(t, units[i])) return true;
    return false;
}

/* INTERVAL 'n' DAY|MONTH|YEAR (current token is INTERVAL, next a string or an integer). */
static mc2_sql_expr *parse_interval(parser *P)
{
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_INTERVAL, P->tok.pos);
    if (!e) return NULL;
    advance(P);
    mc2_sql_token vt = P->tok;
    const char *s = vt.text;
    size_t n = vt.len;
    if (vt.kind == MC2_SQL_TK_STRING) s++, n -= 2;
    if (!parse_int64(s, n, &e->interval.value))
        return fail_at(P, vt.pos,
                       "INTERVAL needs a whole number in quotes and a unit, as in "
                       "INTERVAL '3' MONTH");
    advance(P);
    if (!unit_of(&P->tok, &e->interval.unit)) {
        if (other_time_unit(&P->tok))
            return fail_at(P, P->tok.pos,
                           "not supported: INTERVAL unit %s (use DAY, MONTH or YEAR)",
                           upper_tok(P, &P->tok));
        return unexpected(P, "DAY, MONTH or YEAR after the INTERVAL value");
    }
    advance(P);
    return e;
}

/* ---- types -------------------------------------------------------------------------------- */

/* '(' integer [',' integer] ')' after a type name; nvals gets 1 or 2 (max 2 if allow2). */
static bool type_params(parser *P, bool allow2, int64_t vals[2], int *nvals)
{
    mc2_sql_pos open = P->tok.pos;
    advance(P);
    *nvals = 0;
    for (;;) {
        if (!is(P, MC2_SQL_TK_INT) || !parse_int64(P->tok.text, P->tok.len, &vals[*nvals])) {
            unexpected(P, "a whole number as a type parameter");
            return false;
        }
        (*nvals)++;
        advance(P);
        if (*nvals == 1 && allow2 && accept(P, MC2_SQL_TK_COMMA)) continue;
        break;
    }
    return expect_close(P, open);
}

static const char *const type_words[] = {"int64",   "bigint",  "integer", "int",     "double",
                                         "decimal", "date",    "bool",    "boolean", "varchar",
                                         "char",    "numeric", "float",   "real",    "text"};

/* A type name as in CAST(x AS type). */
COLD static bool parse_type(parser *P, mc2_coltype *t)
{
    memset(t, 0, sizeof *t);
    mc2_sql_token tk = P->tok;
    if (tk.kind != MC2_SQL_TK_WORD) {
        unexpected(P, "a type name");
        return false;
    }
    static const char *const ints[] = {"int64", "bigint", "integer",  "int",    "int8",
                                       "int4",  "int2",   "smallint", "tinyint"};
    static const char *const dbls[] = {"double", "float", "float8", "real", "float4"};
    static const char *const strs[] = {"varchar", "char", "character", "text", "string"};
    static const char *const unsup[] = {"timestamp", "time",   "datetime",  "interval", "blob",
                                        "bytea",     "binary", "varbinary", "json",     "uuid"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (tok_is_word(&tk, ints[i])) {
            t->id = MC2_T_INT64;
            advance(P);
            return true;
        }
    for (size_t i = 0; i < sizeof dbls / sizeof dbls[0]; i++)
        if (tok_is_word(&tk, dbls[i])) {
            t->id = MC2_T_DOUBLE;
            advance(P);
            if (i == 0 && is_word(P, "precision")) advance(P);
            return true;
        }
    if (tok_is_word(&tk, "date")) {
        t->id = MC2_T_DATE;
        advance(P);
        return true;
    }
    if (tok_is_word(&tk, "bool") || tok_is_word(&tk, "boolean")) {
        t->id = MC2_T_BOOL;
        advance(P);
        return true;
    }
    if (tok_is_word(&tk, "decimal") || tok_is_word(&tk, "numeric") || tok_is_word(&tk, "dec")) {
        advance(P);
        if (!is(P, MC2_SQL_TK_LPAREN)) {
            fail_at(P, tk.pos, "DECIMAL needs a precision: DECIMAL(p,s) with p from 1 to %d",
                    MC2_DEC128_MAX_PRECISION);
            return false;
        }
        int64_t v[2] = {0, 0};
        int nv;
        if (!type_params(P, true, v, &nv)) return false;
        if (v[0] < 1 || v[0] > MC2_DEC128_MAX_PRECISION) {
            fail_at(P, tk.pos, "DECIMAL precision must be from 1 to %d, not %lld",
                    MC2_DEC128_MAX_PRECISION, (long long)v[0]);
            return false;
        }
        if (v[1] < 0 || v[1] > v[0]) {
            fail_at(P, tk.pos, "DECIMAL scale must be from 0 to the precision %lld, not %lld",
                    (long long)v[0], (long long)v[1]);
            return false;
        }
        t->id = v[0] > MC2_DECIMAL_MAX_PRECISION ? MC2_T_DEC128 : MC2_T_DECIMAL;
        t->precision = (uint8_t)v[0];
        t->scale = (uint8_t)v[1];
        return true;
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (tok_is_word(&tk, strs[i])) {
            t->id = MC2_T_VARCHAR;
            advance(P);
            if (i == 2 && is_word(P, "varying")) advance(P);
            if (i < 3 && is(P, MC2_SQL_TK_LPAREN)) {
                int64_t v[2] = {0, 0};
                int nv;
                if (!type_params(P, false, v, &nv)) return false;
                if (v[0] < 1 || v[0] > MC2_VARCHAR_MAX) {
                    fail_at(P, tk.pos, "VARCHAR length must be from 1 to %d, not %lld",
                            MC2_VARCHAR_MAX, (long long)v[0]);
                    return false;
                }
                t->length = (uint32_t)v[0];
            }
            return true;
        }
    for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++)
        if (tok_is_word(&tk, unsup[i])) {
            fail_at(P, tk.pos,
                    "not supported: type %s (types are INT64, DOUBLE, DECIMAL(p,s), DATE, "
                    "BOOL, VARCHAR(n))",
                    upper_tok(P, &tk));
            return false;
        }
    const char *best = NULL;
    unsigned bd = 3;
    for (size_t i = 0; i < sizeof type_words / sizeof type_words[0]; i++) {
        unsigned d = mc2_sql_lex_distance(tk.text, tk.len, type_words[i], 2);
        if (d < bd) bd = d, best = type_words[i];
    }
    char hint[64] = "";
    if (best) {
        snprintf(hint, sizeof hint, " (did you mean ");
        size_t k = strlen(hint);
        for (size_t i = 0; best[i] && k + 3 < sizeof hint; i++)
            hint[k++] = (char)(best[i] >= 'a' && best[i] <= 'z' ? best[i] - 32 : best[i]);
        hint[k++] = '?';
        hint[k++] = ')';
        hint[k] = '\0';
    }
    fail_at(P, tk.pos, "unknown type '%.*s'%s", (int)(tk.len > 32 ? 32 : tk.len), tk.text, hint);
    return false;
}

/* ---- functions ---------------------------------------------------------------------------- */

typedef struct fn_info {
    const char *name; /* lower case */
    enum mc2_sql_func fn;
    unsigned min, max; /* argument counts; max 0 = no limit */
} fn_info;

static const fn_info functions[] = {
    {"count", MC2_SQL_FN_COUNT, 1, 1},
    {"sum", MC2_SQL_FN_SUM, 1, 1},
    {"avg", MC2_SQL_FN_AVG, 1, 1},
    {"min", MC2_SQL_FN_MIN, 1, 1},
    {"max", MC2_SQL_FN_MAX, 1, 1},
    {"substring", MC2_SQL_FN_SUBSTRING, 2, 3},
    {"substr", MC2_SQL_FN_SUBSTRING, 2, 3},
    {"upper", MC2_SQL_FN_UPPER, 1, 1},
    {"lower", MC2_SQL_FN_LOWER, 1, 1},
    {"length", MC2_SQL_FN_LENGTH, 1, 1},
    {"char_length", MC2_SQL_FN_LENGTH, 1, 1},
    {"character_length", MC2_SQL_FN_LENGTH, 1, 1},
    {"trim", MC2_SQL_FN_TRIM, 1, 2},
    {"btrim", MC2_SQL_FN_TRIM, 1, 2},
    {"ltrim", MC2_SQL_FN_TRIM, 1, 2},
    {"rtrim", MC2_SQL_FN_TRIM, 1, 2},
    {"concat", MC2_SQL_FN_CONCAT, 1, 0},
    {"coalesce", MC2_SQL_FN_COALESCE, 1, 0},
    {"nullif", MC2_SQL_FN_NULLIF, 2, 2},
    {"abs", MC2_SQL_FN_ABS, 1, 1},
    {"round", MC2_SQL_FN_ROUND, 1, 2},
};

static const char *const window_fns[] = {"row_number", "rank",         "dense_rank",  "ntile",
                                         "lag",        "lead",         "first_value", "last_value",
                                         "nth_value",  "percent_rank", "cume_dist"};

static const fn_info *find_function(const mc2_sql_token *t)
{
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (tok_is_word(t, functions[i].name)) return &functions[i];
    return NULL;
}

COLD static mc2_sql_expr *unknown_function(parser *P)
{
    mc2_sql_token t = P->tok;
    for (size_t i = 0; i < sizeof window_fns / sizeof window_fns[0]; i++)
        if (tok_is_word(&t, window_fns[i]))
            return fail_at(P, t.pos, "not supported: window function %s", upper_tok(P, &t));
    const char *best = NULL;
    unsigned bd = t.len <= 4 ? 2 : 3;
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
        unsigned d = mc2_sql_lex_distance(t.text, t.len, functions[i].name, 2);
        if (d < bd) bd = d, best = functions[i].name;
    }
    if (best) {
        char up[32];
        size_t k = 0;
        for (; best[k] && k + 1 < sizeof up; k++)
            up[k] = (char)(best[k] >= 'a' && best[k] <= 'z' ? best[k] - 32 : best[k]);
        up[k] = '\0';
        return fail_at(P, t.pos, "unknown function '%.*s' (did you mean %s?)",
                       (int)(t.len > 32 ? 32 : t.len), t.text, up);
    }
    return fail_at(P, t.pos, "unknown function '%.*s'", (int)(t.len > 32 ? 32 : t.len), t.text);
}

COLD static void *arity_error(parser *P, const fn_info *fi, mc2_sql_pos at, size_t n)
{
    const char *up = mc2_sql_ast_func_name(fi->fn);
    if (fi->min == fi->max)
        return fail_at(P, at, "%s takes %u argument%s, not %zu", up, fi->min,
                       fi->min == 1 ? "" : "s", n);
    if (!fi->max)
        return fail_at(P, at, "%s takes at least %u argument%s", up, fi->min,
                       fi->min == 1 ? "" : "s");
    return fail_at(P, at, "%s takes %u to %u arguments, not %zu", up, fi->min, fi->max, n);
}

/* Adds an argument to a function node under construction. */
static bool add_arg(parser *P, mc2_sql_expr *f, vec *args, mc2_sql_expr *arg)
{
    if (!arg || !vec_push(P, args, &arg)) return false;
    f->height = hmax(f->height, arg->height + 1);
    return height_ok(P, f->height, f->pos);
}

/* SUBSTRING(s FROM a [FOR b]) | SUBSTRING(s FOR b) | SUBSTRING(s, a [, b]); after '('. */
static bool substring_args(parser *P, mc2_sql_expr *f, vec *args)
{
    if (!add_arg(P, f, args, parse_expr(P))) return false;
    if (is_kw(P, MC2_SQL_KW_FROM) || is_kw(P, MC2_SQL_KW_FOR)) {
        if (accept_kw(P, MC2_SQL_KW_FROM)) {
            if (!add_arg(P, f, args, parse_expr(P))) return false;
        } else {
            /* SUBSTRING(s FOR n) starts at 1. */
            mc2_sql_expr *one = new_expr(P, MC2_SQL_E_INT, P->tok.pos);
            if (!one) return false;
            one->lit.text = "1";
            one->lit.len = 1;
            if (!add_arg(P, f, args, one)) return false;
        }
        if (accept_kw(P, MC2_SQL_KW_FOR) && !add_arg(P, f, args, parse_expr(P))) return false;
        return !P->failed;
    }
    while (accept(P, MC2_SQL_TK_COMMA))
        if (!add_arg(P, f, args, parse_expr(P))) return false;
    return !P->failed;
}

/* TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) | TRIM(s [, chars]); after '('. Stores args
 * as (s [, chars]). */
static bool trim_args(parser *P, mc2_sql_expr *f, vec *args)
{
    bool side = true;
    if (accept_kw(P, MC2_SQL_KW_BOTH))
        f->func.trim = MC2_SQL_TRIM_BOTH;
    else if (accept_kw(P, MC2_SQL_KW_LEADING))
        f->func.trim = MC2_SQL_TRIM_LEADING;
    else if (accept_kw(P, MC2_SQL_KW_TRAILING))
        f->func.trim = MC2_SQL_TRIM_TRAILING;
    else
        side = false;
    if (side && accept_kw(P, MC2_SQL_KW_FROM)) return add_arg(P, f, args, parse_expr(P));
    mc2_sql_expr *first = parse_expr(P);
    if (!first) return false;
    if (accept_kw(P, MC2_SQL_KW_FROM)) {
        if (!add_arg(P, f, args, parse_expr(P))) return false;
        return add_arg(P, f, args, first);
    }
    if (side) {
        unexpected(P, "FROM in TRIM(... FROM string)");
        return false;
    }
    if (!add_arg(P, f, args, first)) return false;
    if (accept(P, MC2_SQL_TK_COMMA) && !add_arg(P, f, args, parse_expr(P))) return false;
    return !P->failed;
}

/* A function call; the current token is the name and the next one is '('. */
static mc2_sql_expr *parse_call(parser *P)
{
    mc2_sql_token name = P->tok;
    const fn_info *fi = find_function(&name);
    if (!fi) {
        if (tok_is_word(&name, "rollup") || tok_is_word(&name, "cube") ||
            tok_is_word(&name, "grouping"))
            return fail_at(P, name.pos, "not supported: %s", upper_tok(P, &name));
        return unknown_function(P);
    }
    mc2_sql_expr *f = new_expr(P, MC2_SQL_E_FUNC, name.pos);
    if (!f) return NULL;
    f->func.fn = fi->fn;
    bool agg = mc2_sql_ast_is_aggregate(fi->fn);
    advance(P);
    mc2_sql_pos open = P->tok.pos;
    advance(P); /* '(' */
    vec args = {.size = sizeof(mc2_sql_expr *)};
    if (fi->fn == MC2_SQL_FN_SUBSTRING && tok_is_word(&name, "substring")) {
        if (!substring_args(P, f, &args)) return NULL;
    } else if (fi->fn == MC2_SQL_FN_TRIM && tok_is_word(&name, "trim")) {
        if (!trim_args(P, f, &args)) return NULL;
    } else {
        if (tok_is_word(&name, "ltrim")) f->func.trim = MC2_SQL_TRIM_LEADING;
        if (tok_is_word(&name, "rtrim")) f->func.trim = MC2_SQL_TRIM_TRAILING;
        if (is(P, MC2_SQL_TK_STAR)) {
            if (fi->fn != MC2_SQL_FN_COUNT)
                return fail_at(P, P->tok.pos, "'*' is only allowed in COUNT(*)");
            advance(P);
            f->func.star = true;
        } else if (!is(P, MC2_SQL_TK_RPAREN)) {
            if (is_kw(P, MC2_SQL_KW_DISTINCT) || is_kw(P, MC2_SQL_KW_ALL)) {
                if (!agg)
                    return fail_at(P, P->tok.pos, "%s is only allowed in aggregate functions",
                                   mc2_sql_lex_kw_name(P->tok.kw));
                f->func.distinct = is_kw(P, MC2_SQL_KW_DISTINCT);
                advance(P);
                if (is(P, MC2_SQL_TK_STAR))
                    return fail_at(P, P->tok.pos, "%s(DISTINCT *) is not valid; name a column",
                                   mc2_sql_ast_func_name(fi->fn));
            }
            do {
                if (!add_arg(P, f, &args, parse_expr(P))) return NULL;
            } while (accept(P, MC2_SQL_TK_COMMA));
        }
    }
    if (!expect_close(P, open)) return NULL;
    f->func.args = args.data;
    f->func.nargs = args.n;
    if (!f->func.star && (args.n < fi->min || (fi->max && args.n > fi->max)))
        return arity_error(P, fi, name.pos, args.n);
    if (is_kw(P, MC2_SQL_KW_OVER))
        return fail_at(P, P->tok.pos, "not supported: window functions (OVER)");
    if (is_kw(P, MC2_SQL_KW_FILTER) && peek(P).kind == MC2_SQL_TK_LPAREN)
        return fail_at(P, P->tok.pos, "not supported: aggregate FILTER clauses");
    if (is_word(P, "within")) {
        mc2_sql_token n = peek(P);
        if (tok_is_kw(&n, MC2_SQL_KW_GROUP))
            return fail_at(P, P->tok.pos, "not supported: WITHIN GROUP");
    }
    return f;
}

/* EXTRACT(YEAR|MONTH|DAY FROM x); current token EXTRACT, next '('. */
static mc2_sql_expr *parse_extract(parser *P)
{
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_EXTRACT, P->tok.pos);
    if (!e) return NULL;
    advance(P);
    mc2_sql_pos open = P->tok.pos;
    advance(P);
    if (!unit_of(&P->tok, &e->extract.field)) {
        if (P->tok.kind == MC2_SQL_TK_WORD && other_time_unit(&P->tok))
            return fail_at(P, P->tok.pos,
                           "not supported: EXTRACT(%s ...) (fields are YEAR, MONTH, DAY)",
                           upper_tok(P, &P->tok));
        return unexpected(P, "YEAR, MONTH or DAY in EXTRACT");
    }
    advance(P);
    if (!expect_kw(P, MC2_SQL_KW_FROM, "FROM in EXTRACT(field FROM value)")) return NULL;
    e->extract.arg = parse_expr(P);
    if (!e->extract.arg || !expect_close(P, open)) return NULL;
    return child_height(P, e, e->extract.arg->height);
}

/* CAST(x AS type); current token CAST. */
static mc2_sql_expr *parse_cast(parser *P)
{
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_CAST, P->tok.pos);
    if (!e) return NULL;
    advance(P);
    mc2_sql_pos open = P->tok.pos;
    if (!expect(P, MC2_SQL_TK_LPAREN, "'(' after CAST")) return NULL;
    e->cast.arg = parse_expr(P);
    if (!e->cast.arg) return NULL;
    if (!expect_kw(P, MC2_SQL_KW_AS, "AS in CAST(value AS type)")) return NULL;
    if (!parse_type(P, &e->cast.type) || !expect_close(P, open)) return NULL;
    return child_height(P, e, e->cast.arg->height);
}

/* CASE [operand] WHEN c THEN r ... [ELSE e] END; current token CASE. */
static mc2_sql_expr *parse_case(parser *P)
{
    mc2_sql_pos pos = P->tok.pos;
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_CASE, pos);
    if (!e) return NULL;
    advance(P);
    if (!is_kw(P, MC2_SQL_KW_WHEN)) {
        e->case_.operand = parse_expr(P);
        if (!child_height(P, e, e->case_.operand ? e->case_.operand->height : 0)) return NULL;
    }
    if (!is_kw(P, MC2_SQL_KW_WHEN)) return unexpected(P, "WHEN (CASE needs at least one WHEN)");
    vec whens = {.size = sizeof(mc2_sql_expr *)}, thens = {.size = sizeof(mc2_sql_expr *)};
    while (accept_kw(P, MC2_SQL_KW_WHEN)) {
        mc2_sql_expr *w = parse_expr(P);
        if (!w || !expect_kw(P, MC2_SQL_KW_THEN, "THEN after the WHEN condition")) return NULL;
        mc2_sql_expr *t = parse_expr(P);
        if (!t || !vec_push(P, &whens, &w) || !vec_push(P, &thens, &t)) return NULL;
        if (!child_height(P, e, hmax(w->height, t->height))) return NULL;
    }
    if (accept_kw(P, MC2_SQL_KW_ELSE)) {
        e->case_.else_ = parse_expr(P);
        if (!e->case_.else_ || !child_height(P, e, e->case_.else_->height)) return NULL;
    }
    if (!is_kw(P, MC2_SQL_KW_END))
        return unexpectedf(P, "END to close CASE at line %u, column %u", pos.line, pos.col);
    advance(P);
    e->case_.whens = whens.data;
    e->case_.thens = thens.data;
    e->case_.nwhens = whens.n;
    return e;
}

/* ---- primary expressions ------------------------------------------------------------------ */

static mc2_sql_expr *subquery_expr(parser *P, enum mc2_sql_expr_kind kind, mc2_sql_pos pos,
                                   mc2_sql_query *q)
{
    if (!q) return NULL;
    mc2_sql_expr *e = new_expr(P, kind, pos);
    if (!e) return NULL;
    e->subquery.query = q;
    return child_height(P, e, q->height);
}

/* Inside parentheses whose '(' (at `open`) has been consumed: either a query or an
 * expression, possibly itself parenthesized - "((SELECT 1) UNION (SELECT 2))" is a query,
 * "((SELECT 1) + 1)" an expression. Sets exactly one of *q and *e. */
static bool parse_paren_item(parser *P, mc2_sql_query **q, mc2_sql_expr **e)
{
    *q = NULL;
    *e = NULL;
    if (starts_query(&P->tok)) {
        *q = parse_query(P);
        return *q != NULL;
    }
    if (!is(P, MC2_SQL_TK_LPAREN)) {
        *e = parse_expr(P);
        return *e != NULL;
    }
    if (!enter(P)) return false;
    mc2_sql_pos open = P->tok.pos;
    advance(P);
    mc2_sql_query *iq;
    mc2_sql_expr *ie;
    bool ok = parse_paren_item(P, &iq, &ie) && expect_close(P, open);
    leave(P);
    if (!ok) return false;
    if (iq) {
        if (is_kw(P, MC2_SQL_KW_UNION) || is_kw(P, MC2_SQL_KW_INTERSECT) ||
            is_kw(P, MC2_SQL_KW_EXCEPT) || is_kw(P, MC2_SQL_KW_ORDER) ||
            is_kw(P, MC2_SQL_KW_LIMIT) || is_kw(P, MC2_SQL_KW_OFFSET)) {
            mc2_sql_body *b = query_as_body(P, iq);
            *q = b ? parse_query_tail(P, b, open) : NULL;
            return *q != NULL;
        }
        if (is(P, MC2_SQL_TK_RPAREN) || is(P, MC2_SQL_TK_COMMA)) {
            *q = iq;
            return true;
        }
        ie = subquery_expr(P, MC2_SQL_E_SUBQUERY, open, iq);
        if (!ie) return false;
    }
    *e = parse_infix(P, ie, PREC_OR);
    return *e != NULL;
}

/* [table.]column, or table.* (an error outside the select list); current token a name. */
static mc2_sql_expr *parse_column(parser *P)
{
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_COLUMN, P->tok.pos);
    if (!e) return NULL;
    const char *first = take_name(P);
    if (!first) return NULL;
    if (!is(P, MC2_SQL_TK_DOT)) {
        e->column.name = first;
        return e;
    }
    advance(P);
    if (is(P, MC2_SQL_TK_STAR))
        return fail_at(P, e->pos, "'%s.*' is only allowed in the select list", first);
    const char *second = parse_name(P, "a column name after '.'");
    if (!second) return NULL;
    if (is(P, MC2_SQL_TK_DOT))
        return fail_at(P, e->pos, "not supported: names with more than two parts (a.b.c)");
    e->column.table = first;
    e->column.name = second;
    return e;
}

/* Runs a sub-parser one nesting level deeper. */
static mc2_sql_expr *nested(parser *P, mc2_sql_expr *(*fn)(parser *))
{
    if (!enter(P)) return NULL;
    mc2_sql_expr *e = fn(P);
    leave(P);
    return e;
}

__attribute__((noinline)) static mc2_sql_expr *parse_primary(parser *P)
{
    mc2_sql_token t = P->tok;
    switch (t.kind) {
    case MC2_SQL_TK_INT:
        return literal(P, MC2_SQL_E_INT);
    case MC2_SQL_TK_DECIMAL:
        return literal(P, MC2_SQL_E_DECIMAL);
    case MC2_SQL_TK_FLOAT:
        return literal(P, MC2_SQL_E_FLOAT);
    case MC2_SQL_TK_STRING:
        return literal(P, MC2_SQL_E_STRING);
    case MC2_SQL_TK_QIDENT:
        return parse_column(P);
    case MC2_SQL_TK_LPAREN: {
        advance(P);
        mc2_sql_query *q;
        mc2_sql_expr *e;
        if (!enter(P)) return NULL;
        bool ok = parse_paren_item(P, &q, &e);
        leave(P);
        if (!ok) return NULL;
        if (is(P, MC2_SQL_TK_COMMA))
            return fail_at(P, t.pos, "not supported: row values such as (a, b)");
        if (!expect_close(P, t.pos)) return NULL;
        return q ? subquery_expr(P, MC2_SQL_E_SUBQUERY, t.pos, q) : e;
    }
    case MC2_SQL_TK_WORD:
        break;
    case MC2_SQL_TK_EOF:
        return unexpected(P, "an expression");
    default: {
        if (P->prev.kind == MC2_SQL_TK_COMMA && t.kind == MC2_SQL_TK_RPAREN)
            return fail_at(P, P->prev.pos, "trailing comma before ')'");
        return unexpected(P, "an expression");
    }
    }
    switch (t.kw) {
    case MC2_SQL_KW_NULL:
        advance(P);
        return new_expr(P, MC2_SQL_E_NULL, t.pos);
    case MC2_SQL_KW_TRUE:
    case MC2_SQL_KW_FALSE: {
        mc2_sql_expr *e = new_expr(P, MC2_SQL_E_BOOL, t.pos);
        if (e) e->boolean = t.kw == MC2_SQL_KW_TRUE;
        advance(P);
        return e;
    }
    case MC2_SQL_KW_CASE:
        return nested(P, parse_case);
    case MC2_SQL_KW_CAST:
        return nested(P, parse_cast);
    case MC2_SQL_KW_EXISTS: {
        advance(P);
        mc2_sql_pos open = P->tok.pos;
        if (!expect(P, MC2_SQL_TK_LPAREN, "'(' and a subquery after EXISTS")) return NULL;
        if (!starts_query(&P->tok) && !is(P, MC2_SQL_TK_LPAREN))
            return unexpected(P, "a subquery (SELECT ...) after EXISTS (");
        mc2_sql_query *q = parse_query(P);
        if (!q || !expect_close(P, open)) return NULL;
        return subquery_expr(P, MC2_SQL_E_EXISTS, t.pos, q);
    }
    case MC2_SQL_KW_DATE:
        if (peek(P).kind == MC2_SQL_TK_STRING) return parse_date(P);
        break;
    case MC2_SQL_KW_INTERVAL: {
        mc2_sql_token n = peek(P);
        if (n.kind == MC2_SQL_TK_STRING || n.kind == MC2_SQL_TK_INT) return parse_interval(P);
        break;
    }
    case MC2_SQL_KW_EXTRACT:
        if (peek(P).kind == MC2_SQL_TK_LPAREN) return nested(P, parse_extract);
        break;
    case MC2_SQL_KW_ANY:
    case MC2_SQL_KW_SOME:
    case MC2_SQL_KW_ALL:
        return fail_at(P, t.pos,
                       "not supported: %s with a subquery (use IN, NOT IN, EXISTS or MIN/MAX)",
                       mc2_sql_lex_kw_name(t.kw));
    case MC2_SQL_KW_SELECT:
    case MC2_SQL_KW_WITH:
        return fail_at(P, t.pos, "a subquery must be in parentheses: (%s ...)",
                       mc2_sql_lex_kw_name(t.kw));
    default:
        break;
    }
    if (mc2_sql_lex_kw_reserved(t.kw)) {
        if (P->prev.kind == MC2_SQL_TK_COMMA)
            return fail_at(P, P->prev.pos, "trailing comma before %s", mc2_sql_lex_kw_name(t.kw));
        return unexpected(P, "an expression");
    }
    if ((tok_is_word(&t, "timestamp") || tok_is_word(&t, "time")) &&
        peek(P).kind == MC2_SQL_TK_STRING)
        return fail_at(P, t.pos, "not supported: %s literals (only DATE 'yyyy-mm-dd')",
                       upper_tok(P, &t));
    if (peek(P).kind == MC2_SQL_TK_LPAREN) return nested(P, parse_call);
    return parse_column(P);
}

/* ---- operators ---------------------------------------------------------------------------- */

static mc2_sql_expr *make_binary(parser *P, enum mc2_sql_op op, mc2_sql_pos pos, mc2_sql_expr *l,
                                 mc2_sql_expr *r)
{
    if (!l || !r) return NULL;
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_BINARY, pos);
    if (!e) return NULL;
    e->binary.op = op;
    e->binary.left = l;
    e->binary.right = r;
    return child_height(P, e, hmax(l->height, r->height));
}

static mc2_sql_expr *parse_prefix(parser *P)
{
    mc2_sql_token t = P->tok;
    enum mc2_sql_op op;
    int prec;
    if (tok_is_kw(&t, MC2_SQL_KW_NOT))
        op = MC2_SQL_OP_NOT, prec = PREC_NOT;
    else if (t.kind == MC2_SQL_TK_MINUS)
        op = MC2_SQL_OP_NEG, prec = PREC_UNARY;
    else if (t.kind == MC2_SQL_TK_PLUS)
        op = MC2_SQL_OP_PLUS, prec = PREC_UNARY;
    else
        return parse_primary(P);
    advance(P);
    if (!enter(P)) return NULL;
    mc2_sql_expr *arg = parse_prec(P, prec);
    leave(P);
    if (!arg) return NULL;
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_UNARY, t.pos);
    if (!e) return NULL;
    e->unary.op = op;
    e->unary.arg = arg;
    return child_height(P, e, arg->height);
}

/* Classifies the current token as an infix/postfix operator: its precedence (0 if none). */
static int infix_prec(parser *P, enum mc2_sql_op *op)
{
    switch (P->tok.kind) {
    case MC2_SQL_TK_EQ:
        *op = MC2_SQL_OP_EQ;
        return PREC_CMP;
    case MC2_SQL_TK_NE:
        *op = MC2_SQL_OP_NE;
        return PREC_CMP;
    case MC2_SQL_TK_LT:
        *op = MC2_SQL_OP_LT;
        return PREC_CMP;
    case MC2_SQL_TK_LE:
        *op = MC2_SQL_OP_LE;
        return PREC_CMP;
    case MC2_SQL_TK_GT:
        *op = MC2_SQL_OP_GT;
        return PREC_CMP;
    case MC2_SQL_TK_GE:
        *op = MC2_SQL_OP_GE;
        return PREC_CMP;
    case MC2_SQL_TK_CONCAT:
        *op = MC2_SQL_OP_CONCAT;
        return PREC_CONCAT;
    case MC2_SQL_TK_PLUS:
        *op = MC2_SQL_OP_ADD;
        return PREC_ADD;
    case MC2_SQL_TK_MINUS:
        *op = MC2_SQL_OP_SUB;
        return PREC_ADD;
    case MC2_SQL_TK_STAR:
        *op = MC2_SQL_OP_MUL;
        return PREC_MUL;
    case MC2_SQL_TK_SLASH:
        *op = MC2_SQL_OP_DIV;
        return PREC_MUL;
    case MC2_SQL_TK_PERCENT:
        *op = MC2_SQL_OP_MOD;
        return PREC_MUL;
    case MC2_SQL_TK_WORD:
        break;
    default:
        return 0;
    }
    *op = 0;
    switch (P->tok.kw) {
    case MC2_SQL_KW_OR:
        *op = MC2_SQL_OP_OR;
        return PREC_OR;
    case MC2_SQL_KW_AND:
        *op = MC2_SQL_OP_AND;
        return PREC_AND;
    case MC2_SQL_KW_IS:
        return PREC_IS;
    case MC2_SQL_KW_BETWEEN:
    case MC2_SQL_KW_IN:
    case MC2_SQL_KW_LIKE:
    case MC2_SQL_KW_ILIKE:
    case MC2_SQL_KW_SIMILAR:
        return PREC_PRED;
    case MC2_SQL_KW_NOT: {
        mc2_sql_token n = peek(P);
        if (tok_is_kw(&n, MC2_SQL_KW_BETWEEN) || tok_is_kw(&n, MC2_SQL_KW_IN) ||
            tok_is_kw(&n, MC2_SQL_KW_LIKE) || tok_is_kw(&n, MC2_SQL_KW_ILIKE) ||
            tok_is_kw(&n, MC2_SQL_KW_SIMILAR))
            return PREC_PRED;
        return 0;
    }
    default:
        return 0;
    }
}

/* IS [NOT] NULL; current token IS. */
static mc2_sql_expr *parse_is(parser *P, mc2_sql_expr *lhs)
{
    mc2_sql_pos pos = P->tok.pos;
    advance(P);
    bool neg = accept_kw(P, MC2_SQL_KW_NOT);
    if (is_kw(P, MC2_SQL_KW_TRUE) || is_kw(P, MC2_SQL_KW_FALSE) || is_word(P, "unknown") ||
        is_kw(P, MC2_SQL_KW_DISTINCT))
        return fail_at(P, P->tok.pos, "not supported: IS %s%s (only IS [NOT] NULL)",
                       neg ? "NOT " : "", upper_tok(P, &P->tok));
    if (!expect_kw(P, MC2_SQL_KW_NULL, neg ? "NULL after IS NOT" : "NULL or NOT NULL after IS"))
        return NULL;
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_IS_NULL, pos);
    if (!e) return NULL;
    e->is_null.negated = neg;
    e->is_null.arg = lhs;
    return child_height(P, e, lhs->height);
}

/* [NOT] BETWEEN / IN / LIKE; current token is NOT or the keyword. */
static mc2_sql_expr *parse_predicate(parser *P, mc2_sql_expr *lhs)
{
    bool neg = accept_kw(P, MC2_SQL_KW_NOT);
    mc2_sql_token t = P->tok;
    if (tok_is_kw(&t, MC2_SQL_KW_ILIKE) || tok_is_kw(&t, MC2_SQL_KW_SIMILAR))
        return fail_at(P, t.pos, "not supported: %s (use LIKE, with UPPER or LOWER)",
                       tok_is_kw(&t, MC2_SQL_KW_ILIKE) ? "ILIKE" : "SIMILAR TO");
    advance(P);
    if (tok_is_kw(&t, MC2_SQL_KW_BETWEEN)) {
        if (is_word(P, "symmetric") || is_word(P, "asymmetric"))
            return fail_at(P, P->tok.pos, "not supported: BETWEEN SYMMETRIC");
        mc2_sql_expr *lo = parse_prec(P, PREC_PRED + 1);
        if (!lo) return NULL;
        if (!expect_kw(P, MC2_SQL_KW_AND, "AND in BETWEEN low AND high")) return NULL;
        mc2_sql_expr *hi = parse_prec(P, PREC_PRED + 1);
        if (!hi) return NULL;
        mc2_sql_expr *e = new_expr(P, MC2_SQL_E_BETWEEN, t.pos);
        if (!e) return NULL;
        e->between.negated = neg;
        e->between.arg = lhs;
        e->between.low = lo;
        e->between.high = hi;
        return child_height(P, e, hmax(lhs->height, hmax(lo->height, hi->height)));
    }
    if (tok_is_kw(&t, MC2_SQL_KW_LIKE)) {
        mc2_sql_expr *pat = parse_prec(P, PREC_PRED + 1);
        if (!pat) return NULL;
        mc2_sql_expr *e = new_expr(P, MC2_SQL_E_LIKE, t.pos);
        if (!e) return NULL;
        e->like.negated = neg;
        e->like.arg = lhs;
        e->like.pattern = pat;
        if (accept_kw(P, MC2_SQL_KW_ESCAPE)) {
            if (!is(P, MC2_SQL_TK_STRING))
                return unexpected(P, "a one-character string after ESCAPE");
            mc2_sql_pos spos = P->tok.pos;
            mc2_sql_expr *esc = literal(P, MC2_SQL_E_STRING);
            if (!esc) return NULL;
            size_t nchars = 0;
            for (size_t i = 0; i < esc->lit.len; i++)
                nchars += ((unsigned char)esc->lit.text[i] & 0xC0) != 0x80;
            if (nchars != 1)
                return fail_at(P, spos, "ESCAPE takes exactly one character, not %zu", nchars);
            e->like.escape = esc;
        }
        return child_height(P, e, hmax(lhs->height, pat->height));
    }
    /* IN */
    assert(tok_is_kw(&t, MC2_SQL_KW_IN));
    mc2_sql_pos open = P->tok.pos;
    if (!expect(P, MC2_SQL_TK_LPAREN, "'(' after IN")) return NULL;
    if (is(P, MC2_SQL_TK_RPAREN)) return fail_at(P, P->tok.pos, "empty IN list ()");
    mc2_sql_query *q;
    mc2_sql_expr *first;
    if (!parse_paren_item(P, &q, &first)) return NULL;
    if (q && is(P, MC2_SQL_TK_RPAREN)) {
        advance(P);
        mc2_sql_expr *e = new_expr(P, MC2_SQL_E_IN_QUERY, t.pos);
        if (!e) return NULL;
        e->in_query.negated = neg;
        e->in_query.arg = lhs;
        e->in_query.query = q;
        return child_height(P, e, hmax(lhs->height, q->height));
    }
    if (q && !(first = subquery_expr(P, MC2_SQL_E_SUBQUERY, open, q))) return NULL;
    mc2_sql_expr *e = new_expr(P, MC2_SQL_E_IN_LIST, t.pos);
    if (!e) return NULL;
    e->in_list.negated = neg;
    e->in_list.arg = lhs;
    if (!child_height(P, e, lhs->height)) return NULL;
    vec items = {.size = sizeof(mc2_sql_expr *)};
    for (;;) {
        if (!first || !vec_push(P, &items, &first) || !child_height(P, e, first->height))
            return NULL;
        if (!accept(P, MC2_SQL_TK_COMMA)) break;
        first = parse_expr(P);
    }
    if (!expect_close(P, open)) return NULL;
    e->in_list.items = items.data;
    e->in_list.nitems = items.n;
    return e;
}

static bool is_cmp(enum mc2_sql_op op)
{
    return op >= MC2_SQL_OP_EQ && op <= MC2_SQL_OP_GE;
}

/* Precedence climbing: extends lhs with operators binding at least as tightly as minp. */
static mc2_sql_expr *parse_infix(parser *P, mc2_sql_expr *lhs, int minp)
{
    bool after_cmp = false;
    while (lhs && !P->failed) {
        enum mc2_sql_op op;
        if (is(P, MC2_SQL_TK_CAST_OP))
            return fail_at(P, P->tok.pos, "not supported: '::' casts (use CAST(x AS type))");
        int prec = infix_prec(P, &op);
        if (prec == 0 || prec < minp) break;
        mc2_sql_pos pos = P->tok.pos;
        if (prec == PREC_IS) {
            lhs = parse_is(P, lhs);
        } else if (prec == PREC_PRED) {
            if (!enter(P)) return NULL;
            lhs = parse_predicate(P, lhs);
            leave(P);
        } else {
            if (is_cmp(op) && after_cmp)
                return fail_at(P, pos,
                               "comparisons cannot be chained (a < b < c); combine them with AND");
            advance(P);
            mc2_sql_expr *rhs = parse_prec(P, prec + 1);
            lhs = make_binary(P, op, pos, lhs, rhs);
        }
        after_cmp = prec == PREC_CMP;
    }
    return P->failed ? NULL : lhs;
}

/* Recursion depth is counted where the grammar nests (prefix operators, parentheses, CASE,
 * function calls, predicates, subqueries), not here: the right operand of a binary operator
 * binds strictly tighter, so this recursion alone is at most PREC_UNARY deep. */
static mc2_sql_expr *parse_prec(parser *P, int minp)
{
    mc2_sql_expr *e = parse_prefix(P);
    if (e) e = parse_infix(P, e, minp);
    return e;
}

static mc2_sql_expr *parse_expr(parser *P)
{
    return parse_prec(P, PREC_OR);
}

/* ---- FROM --------------------------------------------------------------------------------- */

static bool maybe_suspect(parser *P, const mc2_sql_token *t);
static mc2_sql_tref *parse_join_tree(parser *P);

/* [AS] alias [(c1, ...)] after a table or subquery. */
static bool parse_tref_alias(parser *P, mc2_sql_tref *r)
{
    bool as = accept_kw(P, MC2_SQL_KW_AS);
    if (!as && !tok_is_name(&P->tok)) return true;
    mc2_sql_token t = P->tok;
    r->alias = parse_name(P, "an alias name after AS");
    if (!r->alias) return false;
    if (!as) maybe_suspect(P, &t);
    if (is(P, MC2_SQL_TK_LPAREN)) return parse_name_list(P, &r->cols, &r->ncols, "a column alias");
    return true;
}

/* The first token after the run of '(' starting at the current token. */
__attribute__((noinline)) static mc2_sql_token skip_parens(const parser *P)
{
    mc2_sql_lexer lx = P->lx;
    mc2_sql_token t = P->tok;
    mc2_err scratch;
    for (int i = 0; i <= MC2_SQL_MAX_DEPTH && t.kind == MC2_SQL_TK_LPAREN; i++)
        if (mc2_sql_lex_next(&lx, &t, &scratch)) break;
    return t;
}

/* A FROM item without joins: table, (subquery), or (join). */
static mc2_sql_tref *parse_tref_primary(parser *P)
{
    mc2_sql_pos pos = P->tok.pos;
    if (is_kw(P, MC2_SQL_KW_LATERAL)) return fail_at(P, pos, "not supported: LATERAL");
    if (is_kw(P, MC2_SQL_KW_VALUES)) return fail_at(P, pos, "not supported: VALUES");
    if (is(P, MC2_SQL_TK_LPAREN)) {
        /* A subquery if the first token after the opening parentheses starts a query. */
        mc2_sql_token t = skip_parens(P);
        mc2_sql_tref *r = alloc(P, sizeof *r);
        if (!r) return NULL;
        r->pos = pos;
        if (starts_query(&t)) {
            advance(P);
            r->kind = MC2_SQL_T_SUBQUERY;
            r->subquery.query = parse_query(P);
            if (!r->subquery.query || !expect_close(P, pos)) return NULL;
            r->height = r->subquery.query->height + 1;
            if (!height_ok(P, r->height, pos)) return NULL;
            if (!parse_tref_alias(P, r)) return NULL;
            return r;
        }
        if (!enter(P)) return NULL;
        advance(P);
        mc2_sql_tref *inner = parse_join_tree(P);
        bool ok = inner && expect_close(P, pos);
        leave(P);
        if (!ok) return NULL;
        if (is_kw(P, MC2_SQL_KW_AS) || tok_is_name(&P->tok))
            return fail_at(P, P->tok.pos, "not supported: an alias for a parenthesized join");
        return inner;
    }
    if (!tok_is_name(&P->tok)) return unexpected(P, "a table name or '(' after FROM or JOIN");
    mc2_sql_tref *r = alloc(P, sizeof *r);
    if (!r) return NULL;
    r->kind = MC2_SQL_T_TABLE;
    r->pos = pos;
    r->height = 1;
    if (peek(P).kind == MC2_SQL_TK_LPAREN)
        return fail_at(P, pos, "not supported: table functions %s(...)", upper_tok(P, &P->tok));
    r->table.name = take_name(P);
    if (!r->table.name) return NULL;
    if (is(P, MC2_SQL_TK_DOT))
        return fail_at(P, pos, "not supported: qualified table names (schema.table)");
    if (!parse_tref_alias(P, r)) return NULL;
    return r;
}

/* A FROM item with its joins: primary { join primary [ON|USING] }. */
static mc2_sql_tref *parse_join_tree(parser *P)
{
    mc2_sql_tref *left = parse_tref_primary(P);
    while (left && !P->failed) {
        mc2_sql_pos pos = P->tok.pos;
        enum mc2_sql_join type;
        if (is_kw(P, MC2_SQL_KW_NATURAL)) return fail_at(P, pos, "not supported: NATURAL JOIN");
        if (accept_kw(P, MC2_SQL_KW_JOIN))
            type = MC2_SQL_J_INNER;
        else if (accept_kw(P, MC2_SQL_KW_INNER))
            type = MC2_SQL_J_INNER;
        else if (accept_kw(P, MC2_SQL_KW_CROSS))
            type = MC2_SQL_J_CROSS;
        else if (accept_kw(P, MC2_SQL_KW_LEFT))
            type = MC2_SQL_J_LEFT;
        else if (accept_kw(P, MC2_SQL_KW_RIGHT))
            type = MC2_SQL_J_RIGHT;
        else if (accept_kw(P, MC2_SQL_KW_FULL))
            type = MC2_SQL_J_FULL;
        else
            break;
        if (P->prev.kw != MC2_SQL_KW_JOIN) {
            if (type == MC2_SQL_J_LEFT || type == MC2_SQL_J_RIGHT || type == MC2_SQL_J_FULL) {
                if (is_word(P, "semi") || is_word(P, "anti"))
                    return fail_at(P, P->tok.pos,
                                   "not supported: %s JOIN (use EXISTS or NOT EXISTS)",
                                   upper_tok(P, &P->tok));
                accept_kw(P, MC2_SQL_KW_OUTER);
            }
            if (!expect_kw(P, MC2_SQL_KW_JOIN, "JOIN")) return NULL;
        }
        mc2_sql_tref *right = parse_tref_primary(P);
        if (!right) return NULL;
        mc2_sql_tref *j = alloc(P, sizeof *j);
        if (!j) return NULL;
        j->kind = MC2_SQL_T_JOIN;
        j->pos = pos;
        j->join.type = type;
        j->join.left = left;
        j->join.right = right;
        j->height = hmax(left->height, right->height) + 1;
        if (type != MC2_SQL_J_CROSS) {
            if (accept_kw(P, MC2_SQL_KW_ON)) {
                j->join.on = parse_expr(P);
                if (!j->join.on) return NULL;
                j->height = hmax(j->height, j->join.on->height + 1);
            } else if (accept_kw(P, MC2_SQL_KW_USING)) {
                if (!parse_name_list(P, &j->join.using_, &j->join.nusing, "a column name"))
                    return NULL;
            } else {
                return unexpected(P, "ON or USING after the joined table (CROSS JOIN has none)");
            }
        } else if (is_kw(P, MC2_SQL_KW_ON) || is_kw(P, MC2_SQL_KW_USING)) {
            return fail_at(P, P->tok.pos, "CROSS JOIN takes no %s condition (use JOIN ... ON)",
                           mc2_sql_lex_kw_name(P->tok.kw));
        }
        if (!height_ok(P, j->height, pos)) return NULL;
        left = j;
    }
    return P->failed ? NULL : left;
}

/* ---- SELECT ------------------------------------------------------------------------------- */

/* Remembers an implicit alias that is one or two edits from a clause keyword. */
static bool maybe_suspect(parser *P, const mc2_sql_token *t)
{
    if (t->kind != MC2_SQL_TK_WORD) return false;
    for (size_t i = 0; i < sizeof clause_words / sizeof clause_words[0]; i++) {
        unsigned cap = strlen(clause_words[i]) >= 5 ? 2 : 1;
        if (mc2_sql_lex_distance(t->text, t->len, clause_words[i], cap) <= cap) {
            P->has_suspect = true;
            P->suspect_off = t->pos.off;
            P->suspect_kw = clause_words[i];
            return true;
        }
    }
    return false;
}

/* The source text src[lo..hi) of an expression as an item's text (mc2_sql_item.text): its
 * tokens re-lexed (they lexed before), joined by one space where anything separated them. */
static const char *item_text(parser *P, size_t lo, size_t hi)
{
    mc2_sql_lexer lx;
    mc2_sql_token t;
    mc2_buf b = {0};
    char *r = NULL;
    size_t end = 0;
    int rc = mc2_sql_lex_init(&lx, P->lx.src + lo, hi - lo, P->err);
    while (rc == 0 && (rc = mc2_sql_lex_next(&lx, &t, P->err)) == 0 && t.kind != MC2_SQL_TK_EOF) {
        rc = (b.len && t.pos.off > end && mc2_buf_append(&b, " ", 1, P->err)) ||
             mc2_buf_append(&b, t.text, t.len, P->err);
        end = t.pos.off + t.len;
    }
    size_t n = b.len > MC2_MAX_LABEL ? MC2_MAX_LABEL : b.len;
    while (n > 0 && n < b.len && (b.data[n] & 0xC0) == 0x80) n--;
    if (rc == 0 && (r = alloc(P, n + 1))) {
        if (n) memcpy(r, b.data, n);
        r[n] = '\0';
    }
    mc2_buf_free(&b);
    return rc ? fail_err(P) : r;
}

static bool parse_select_item(parser *P, vec *items, unsigned *height)
{
    mc2_sql_item it = {0};
    mc2_sql_pos pos = P->tok.pos;
    if (is(P, MC2_SQL_TK_STAR) || (tok_is_name(&P->tok) && peek(P).kind == MC2_SQL_TK_DOT &&
                                   peek_n(P, 2).kind == MC2_SQL_TK_STAR)) {
        it.expr = new_expr(P, MC2_SQL_E_STAR, pos);
        if (!it.expr) return false;
        if (!is(P, MC2_SQL_TK_STAR)) {
            it.expr->star.table = take_name(P);
            if (!it.expr->star.table) return false;
            advance(P); /* '.' */
        }
        advance(P); /* '*' */
    } else {
        it.expr = parse_expr(P);
        if (!it.expr) return false;
        it.text = item_text(P, pos.off, P->prev.pos.off + P->prev.len);
        if (!it.text) return false;
        bool as = accept_kw(P, MC2_SQL_KW_AS);
        if (as || tok_is_name(&P->tok)) {
            mc2_sql_token t = P->tok;
            it.alias_pos = t.pos;
            it.alias = parse_name(P, "an alias name after AS");
            if (!it.alias) return false;
            if (!as) maybe_suspect(P, &t);
        }
    }
    *height = hmax(*height, it.expr->height + 1);
    return vec_push(P, items, &it);
}

/* Clause keywords that may follow a select list, for the "missing comma?" hint. */
static bool ends_select_list(const parser *P)
{
    static const enum mc2_sql_kw kws[] = {
        MC2_SQL_KW_FROM,      MC2_SQL_KW_WHERE,  MC2_SQL_KW_GROUP,  MC2_SQL_KW_HAVING,
        MC2_SQL_KW_ORDER,     MC2_SQL_KW_LIMIT,  MC2_SQL_KW_OFFSET, MC2_SQL_KW_UNION,
        MC2_SQL_KW_INTERSECT, MC2_SQL_KW_EXCEPT, MC2_SQL_KW_INTO,   MC2_SQL_KW_WINDOW,
        MC2_SQL_KW_QUALIFY,   MC2_SQL_KW_FETCH};
    if (is(P, MC2_SQL_TK_EOF) || is(P, MC2_SQL_TK_SEMI) || is(P, MC2_SQL_TK_RPAREN)) return true;
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
        if (is_kw(P, kws[i])) return true;
    return false;
}

COLD static void *bad_select_end(parser *P)
{
    if (P->has_suspect && P->prev.pos.off == P->suspect_off) return unexpected(P, "FROM");
    char found[96];
    mc2_sql_lex_describe(&P->tok, found, sizeof found);
    return fail_at(P, P->tok.pos, "unexpected %s after the select list (missing comma?)", found);
}

static mc2_sql_select *parse_select(parser *P)
{
    mc2_sql_select *s = alloc(P, sizeof *s);
    if (!s) return NULL;
    s->pos = P->tok.pos;
    s->height = 1;
    advance(P); /* SELECT */
    if (accept_kw(P, MC2_SQL_KW_DISTINCT)) {
        s->distinct = true;
        if (is_kw(P, MC2_SQL_KW_ON)) return fail_at(P, P->tok.pos, "not supported: DISTINCT ON");
    } else {
        accept_kw(P, MC2_SQL_KW_ALL);
    }
    if (is_kw(P, MC2_SQL_KW_FROM))
        return fail_at(P, P->tok.pos,
                       "expected an expression or * before FROM (the select list "
                       "is empty)");
    vec items = {.size = sizeof(mc2_sql_item)};
    do {
        if (!parse_select_item(P, &items, &s->height)) return NULL;
    } while (accept(P, MC2_SQL_TK_COMMA));
    s->items = items.data;
    s->nitems = items.n;
    if (!ends_select_list(P)) return bad_select_end(P);
    if (is_kw(P, MC2_SQL_KW_INTO)) return fail_at(P, P->tok.pos, "not supported: SELECT INTO");
    if (accept_kw(P, MC2_SQL_KW_FROM)) {
        vec from = {.size = sizeof(mc2_sql_tref *)};
        do {
            mc2_sql_tref *r = parse_join_tree(P);
            if (!r || !vec_push(P, &from, &r)) return NULL;
            s->height = hmax(s->height, r->height + 1);
        } while (accept(P, MC2_SQL_TK_COMMA));
        s->from = from.data;
        s->nfrom = from.n;
    }
    if (accept_kw(P, MC2_SQL_KW_WHERE)) {
        s->where = parse_expr(P);
        if (!s->where) return NULL;
        s->height = hmax(s->height, s->where->height + 1);
    }
    if (is_kw(P, MC2_SQL_KW_GROUP)) {
        advance(P);
        if (!expect_kw(P, MC2_SQL_KW_BY, "BY after GROUP")) return NULL;
        if ((is_word(P, "rollup") || is_word(P, "cube")) && peek(P).kind == MC2_SQL_TK_LPAREN)
            return fail_at(P, P->tok.pos, "not supported: %s", upper_tok(P, &P->tok));
        if (is_word(P, "grouping")) {
            mc2_sql_token n = peek(P);
            if (tok_is_word(&n, "sets"))
                return fail_at(P, P->tok.pos, "not supported: GROUPING SETS");
        }
        vec g = {.size = sizeof(mc2_sql_expr *)};
        do {
            mc2_sql_expr *e = parse_expr(P);
            if (!e || !vec_push(P, &g, &e)) return NULL;
            s->height = hmax(s->height, e->height + 1);
        } while (accept(P, MC2_SQL_TK_COMMA));
        s->group_by = g.data;
        s->ngroup = g.n;
    }
    if (accept_kw(P, MC2_SQL_KW_HAVING)) {
        s->having = parse_expr(P);
        if (!s->having) return NULL;
        s->height = hmax(s->height, s->having->height + 1);
    }
    if (is_kw(P, MC2_SQL_KW_WINDOW) || is_kw(P, MC2_SQL_KW_QUALIFY))
        return fail_at(P, P->tok.pos, "not supported: %s", mc2_sql_lex_kw_name(P->tok.kw));
    if (!height_ok(P, s->height, s->pos)) return NULL;
    return s;
}

/* ---- queries ------------------------------------------------------------------------------ */

static mc2_sql_body *new_body(parser *P, enum mc2_sql_body_kind kind, mc2_sql_pos pos)
{
    mc2_sql_body *b = alloc(P, sizeof *b);
    if (!b) return NULL;
    b->kind = kind;
    b->pos = pos;
    return b;
}

/* A parenthesized query used as a set operand: its body if it has no WITH, ORDER BY, LIMIT
 * or OFFSET of its own (so "(SELECT 1) UNION SELECT 2" is a plain union), else a QUERY body. */
static mc2_sql_body *query_as_body(parser *P, mc2_sql_query *q)
{
    if (!q->nctes && !q->norder && !q->has_limit && !q->has_offset) return q->body;
    mc2_sql_body *b = new_body(P, MC2_SQL_B_QUERY, q->pos);
    if (!b) return NULL;
    b->query = q;
    b->height = q->height + 1;
    return height_ok(P, b->height, b->pos) ? b : NULL;
}

/* SELECT ... or ( query ). */
static mc2_sql_body *parse_set_operand(parser *P)
{
    mc2_sql_pos pos = P->tok.pos;
    if (is_kw(P, MC2_SQL_KW_SELECT)) {
        mc2_sql_body *b = new_body(P, MC2_SQL_B_SELECT, pos);
        if (!b) return NULL;
        b->select = parse_select(P);
        if (!b->select) return NULL;
        b->height = b->select->height + 1;
        return b;
    }
    if (is(P, MC2_SQL_TK_LPAREN)) {
        advance(P);
        mc2_sql_query *q = parse_query(P);
        if (!q || !expect_close(P, pos)) return NULL;
        return query_as_body(P, q);
    }
    if (is_kw(P, MC2_SQL_KW_VALUES)) return fail_at(P, pos, "not supported: VALUES");
    if (is_kw(P, MC2_SQL_KW_WITH))
        return fail_at(P, pos, "WITH must come first in a query, or be in parentheses");
    return unexpected(P, "SELECT or '('");
}

static int setop_prec(const parser *P, enum mc2_sql_setop *op)
{
    if (is_kw(P, MC2_SQL_KW_UNION)) return *op = MC2_SQL_UNION, 1;
    if (is_kw(P, MC2_SQL_KW_EXCEPT)) return *op = MC2_SQL_EXCEPT, 1;
    if (is_kw(P, MC2_SQL_KW_INTERSECT)) return *op = MC2_SQL_INTERSECT, 2;
    return 0;
}

/* Precedence climbing over set operations, starting from lhs. */
static mc2_sql_body *parse_setops(parser *P, mc2_sql_body *lhs, int minp)
{
    while (lhs && !P->failed) {
        enum mc2_sql_setop op;
        int prec = setop_prec(P, &op);
        if (!prec || prec < minp) break;
        mc2_sql_pos pos = P->tok.pos;
        advance(P);
        bool all = accept_kw(P, MC2_SQL_KW_ALL);
        if (!all) accept_kw(P, MC2_SQL_KW_DISTINCT);
        mc2_sql_body *rhs = parse_set_operand(P);
        enum mc2_sql_setop op2;
        int p2;
        while (rhs && (p2 = setop_prec(P, &op2)) > prec) rhs = parse_setops(P, rhs, p2);
        if (!rhs) return NULL;
        mc2_sql_body *b = new_body(P, MC2_SQL_B_SETOP, pos);
        if (!b) return NULL;
        b->setop.op = op;
        b->setop.all = all;
        b->setop.left = lhs;
        b->setop.right = rhs;
        b->height = hmax(lhs->height, rhs->height) + 1;
        if (!height_ok(P, b->height, pos)) return NULL;
        lhs = b;
    }
    return P->failed ? NULL : lhs;
}

static bool parse_count(parser *P, const char *what, int64_t *out)
{
    if (!is(P, MC2_SQL_TK_INT) || !parse_int64(P->tok.text, P->tok.len, out)) {
        unexpectedf(P, "a non-negative whole number after %s", what);
        return false;
    }
    advance(P);
    return true;
}

/* After the body: [ORDER BY ...] [LIMIT n] [OFFSET m] (LIMIT and OFFSET in either order). */
static mc2_sql_query *parse_query_tail(parser *P, mc2_sql_body *first, mc2_sql_pos pos)
{
    mc2_sql_query *q = alloc(P, sizeof *q);
    if (!q) return NULL;
    q->pos = pos;
    q->body = parse_setops(P, first, 1);
    if (!q->body) return NULL;
    q->height = q->body->height + 1;
    if (is_kw(P, MC2_SQL_KW_ORDER)) {
        advance(P);
        if (!expect_kw(P, MC2_SQL_KW_BY, "BY after ORDER")) return NULL;
        vec ord = {.size = sizeof(mc2_sql_order)};
        do {
            mc2_sql_order o = {0};
            o.expr = parse_expr(P);
            if (!o.expr) return NULL;
            q->height = hmax(q->height, o.expr->height + 1);
            if (accept_kw(P, MC2_SQL_KW_DESC))
                o.desc = true;
            else
                accept_kw(P, MC2_SQL_KW_ASC);
            if (accept_kw(P, MC2_SQL_KW_NULLS)) {
                if (accept_kw(P, MC2_SQL_KW_FIRST))
                    o.nulls = MC2_SQL_NULLS_FIRST;
                else if (accept_kw(P, MC2_SQL_KW_LAST))
                    o.nulls = MC2_SQL_NULLS_LAST;
                else
                    return unexpected(P, "FIRST or LAST after NULLS");
            }
            if (!vec_push(P, &ord, &o)) return NULL;
        } while (accept(P, MC2_SQL_TK_COMMA));
        q->order = ord.data;
        q->norder = ord.n;
    }
    for (;;) {
        if (is_kw(P, MC2_SQL_KW_LIMIT) && !q->has_limit) {
            advance(P);
            if (accept_kw(P, MC2_SQL_KW_ALL)) continue;
            if (!parse_count(P, "LIMIT", &q->limit)) return NULL;
            q->has_limit = true;
            if (is(P, MC2_SQL_TK_COMMA))
                return fail_at(P, P->tok.pos, "not supported: LIMIT n, m (use LIMIT n OFFSET m)");
        } else if (is_kw(P, MC2_SQL_KW_OFFSET) && !q->has_offset) {
            advance(P);
            if (!parse_count(P, "OFFSET", &q->offset)) return NULL;
            q->has_offset = true;
            if (is_word(P, "row") || is_word(P, "rows")) advance(P);
        } else {
            break;
        }
    }
    enum mc2_sql_setop op;
    if ((q->norder || q->has_limit || q->has_offset) && setop_prec(P, &op))
        return fail_at(P, P->tok.pos,
                       "%s after ORDER BY, LIMIT or OFFSET (put the query before it in "
                       "parentheses)",
                       mc2_sql_lex_kw_name(P->tok.kw));
    if (is_kw(P, MC2_SQL_KW_FETCH))
        return fail_at(P, P->tok.pos, "not supported: FETCH FIRST (use LIMIT n)");
    if (is_kw(P, MC2_SQL_KW_FOR)) return fail_at(P, P->tok.pos, "not supported: FOR UPDATE/SHARE");
    if (!height_ok(P, q->height, pos)) return NULL;
    return P->failed ? NULL : q;
}

static bool parse_with(parser *P, vec *ctes, unsigned *height)
{
    advance(P); /* WITH */
    if (is_kw(P, MC2_SQL_KW_RECURSIVE)) {
        fail_at(P, P->tok.pos, "not supported: WITH RECURSIVE");
        return false;
    }
    do {
        mc2_sql_cte c = {0};
        c.pos = P->tok.pos;
        c.name = parse_name(P, "a name for the WITH query");
        if (!c.name) return false;
        if (is(P, MC2_SQL_TK_LPAREN) && !parse_name_list(P, &c.cols, &c.ncols, "a column name"))
            return false;
        if (!expect_kw(P, MC2_SQL_KW_AS, "AS after the WITH query name")) return false;
        if (is_kw(P, MC2_SQL_KW_NOT) || is_word(P, "materialized")) {
            fail_at(P, P->tok.pos, "not supported: [NOT] MATERIALIZED");
            return false;
        }
        mc2_sql_pos open = P->tok.pos;
        if (!expect(P, MC2_SQL_TK_LPAREN, "'(' before the WITH query")) return false;
        c.query = parse_query(P);
        if (!c.query || !expect_close(P, open)) return false;
        *height = hmax(*height, c.query->height + 1);
        if (!vec_push(P, ctes, &c)) return false;
    } while (accept(P, MC2_SQL_TK_COMMA));
    return true;
}

static mc2_sql_query *parse_query(parser *P)
{
    if (!enter(P)) return NULL;
    mc2_sql_pos pos = P->tok.pos;
    vec ctes = {.size = sizeof(mc2_sql_cte)};
    unsigned h = 0;
    mc2_sql_query *q = NULL;
    if (is_kw(P, MC2_SQL_KW_WITH) && !parse_with(P, &ctes, &h)) goto out;
    mc2_sql_body *first = parse_set_operand(P);
    if (!first) goto out;
    q = parse_query_tail(P, first, pos);
    if (!q) goto out;
    q->ctes = ctes.data;
    q->nctes = ctes.n;
    q->height = hmax(q->height, h + 1);
    if (!height_ok(P, q->height, pos)) q = NULL;
out:
    leave(P);
    return P->failed ? NULL : q;
}

/* ---- statements --------------------------------------------------------------------------- */

static const char *const stmt_words[] = {"SELECT", "WITH", "EXPLAIN"};
static const char *const dml_words[] = {"insert", "update",   "delete", "create",   "drop",
                                        "alter",  "merge",    "copy",   "truncate", "grant",
                                        "revoke", "set",      "begin",  "commit",   "rollback",
                                        "show",   "describe", "use",    "pragma",   "call"};

static mc2_sql_stmt *parse_stmt(parser *P)
{
    mc2_sql_token t = P->tok;
    mc2_sql_stmt *s = alloc(P, sizeof *s);
    if (!s) return NULL;
    s->pos = t.pos;
    s->kind = MC2_SQL_S_SELECT;
    if (tok_is_kw(&t, MC2_SQL_KW_EXPLAIN)) {
        advance(P);
        if (is_word(P, "analyze") || is_word(P, "verbose"))
            return fail_at(P, P->tok.pos, "not supported: EXPLAIN %s", upper_tok(P, &P->tok));
        s->kind = MC2_SQL_S_EXPLAIN;
    } else if (t.kind == MC2_SQL_TK_WORD && !starts_query(&t)) {
        for (size_t i = 0; i < sizeof dml_words / sizeof dml_words[0]; i++)
            if (tok_is_word(&t, dml_words[i]))
                return fail_at(P, t.pos,
                               "not supported: %s (mc2 runs queries: SELECT, WITH, EXPLAIN)",
                               upper_tok(P, &t));
        for (size_t i = 0; i < sizeof stmt_words / sizeof stmt_words[0]; i++)
            if (mc2_sql_lex_distance(t.text, t.len, stmt_words[i], 2) <= 2 && t.len >= 3)
                return fail_at(P, t.pos, "unknown keyword '%.*s' (did you mean %s?)",
                               (int)(t.len > 32 ? 32 : t.len), t.text, stmt_words[i]);
    }
    if (!starts_query(&P->tok) && !is(P, MC2_SQL_TK_LPAREN)) {
        if (is(P, MC2_SQL_TK_EOF) && s->kind == MC2_SQL_S_SELECT)
            return fail_at(P, P->tok.pos, "empty query");
        return unexpected(P, "SELECT, WITH or EXPLAIN");
    }
    s->query = parse_query(P);
    return s->query ? s : NULL;
}

static int parser_init(parser *P, const char *text, size_t len, mc2_arena *a, mc2_err *err)
{
    memset(P, 0, sizeof *P);
    P->a = a;
    P->err = err;
    if (mc2_sql_lex_init(&P->lx, text, len, err)) return -1;
    if (mc2_sql_lex_next(&P->lx, &P->tok, err)) return -1;
    return 0;
}

int mc2_sql_parse(const char *text, size_t len, mc2_arena *a, mc2_sql_stmt **out, mc2_err *err)
{
    *out = NULL;
    parser P;
    if (parser_init(&P, text, len, a, err)) return -1;
    mc2_sql_stmt *s = parse_stmt(&P);
    if (s) {
        while (accept(&P, MC2_SQL_TK_SEMI)) continue;
        if (!is(&P, MC2_SQL_TK_EOF)) {
            if (P.prev.kind == MC2_SQL_TK_SEMI)
                unexpected(&P, "end of query (one statement at a time)");
            else
                unexpected(&P, "end of query");
        }
    }
    if (P.failed || !s) {
        assert(err == NULL || err->code != MC2_OK);
        return -1;
    }
    assert(P.depth == 0);
    *out = s;
    return 0;
}

int mc2_sql_parse_script(const char *text, size_t len, mc2_arena *a, mc2_sql_stmt ***out, size_t *n,
                         mc2_err *err)
{
    *out = NULL;
    *n = 0;
    parser P;
    if (parser_init(&P, text, len, a, err)) return -1;
    vec v = {.size = sizeof(mc2_sql_stmt *)};
    while (!P.failed && !is(&P, MC2_SQL_TK_EOF)) {
        if (accept(&P, MC2_SQL_TK_SEMI)) continue;
        mc2_sql_stmt *s = parse_stmt(&P);
        if (!s || !vec_push(&P, &v, &s)) break;
        if (!is(&P, MC2_SQL_TK_EOF) && !is(&P, MC2_SQL_TK_SEMI))
            unexpected(&P, "';' or end of query");
    }
    if (P.failed) return -1;
    *out = v.data;
    *n = v.n;
    return 0;
}
