/* schema.c - table schemas: the YAML schema file, the canonical binary encoding, its hash. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/bytes.h"
#include "base/strdist.h"
#include "base/file.h"
#include "base/yaml.h"
#include "table/value.h"
#include "mc2/crypto.h"
#include "mc2/table.h"

#define SCHEMA_MAGIC    "MC2S"
#define SCHEMA_VERSION  1 /* a schema without declared keys */
#define SCHEMA_VERSION2 2 /* with keys: the key section follows the columns */
#define SCHEMA_VERSION3 3 /* with labels: the key section (maybe empty), then the labels */
#define SCHEMA_MAX_FKS  MC2_MAX_COLUMNS
#define SCHEMA_FILE_MAX (1u << 20)

/* ---- small helpers -------------------------------------------------------------------------- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* ASCII case-insensitive equality of two NUL-terminated strings (locale-independent). */
static bool eq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower(*a) != lower(*b)) return false;
    return *a == *b;
}

/* Why s[0..n) is not a valid column or table name, or NULL if it is. */
static const char *name_problem(const char *s, size_t n)
{
    if (n == 0) return "is empty";
    if (n > MC2_MAX_NAME) return "is longer than 128 bytes";
    char c = s[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'))
        return "must start with a letter or '_'";
    for (size_t i = 1; i < n; i++) {
        c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return "may contain only letters, digits and '_'";
    }
    return NULL;
}

/* Why s[0..n) is not a valid column label (include/mc2/table.h), or NULL if it is. */
static const char *label_problem(const char *s, size_t n)
{
    const char *why;
    size_t nchars;
    if (n == 0) return "is empty";
    if (n > MC2_MAX_LABEL) return "is longer than 256 bytes";
    if (mc2_utf8_check(s, n, &nchars, &why)) return "is not valid UTF-8";
    /* No C0 or C1 control character (U+0000..U+001F, U+007F..U+009F): labels are printed. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] < 0xA0))
            return "contains a control character";
    }
    return NULL;
}

/* Copies s[0..n) into out as printable ASCII for an error message: at most 40 characters,
 * other bytes shown as '?', "..." when cut. */
static void show(const char *s, size_t n, char *out, size_t outlen)
{
    size_t k = 0, lim = n > 40 ? 40 : n;
    for (size_t i = 0; i < lim && k + 4 < outlen; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > lim && k + 4 < outlen) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* The word in words[] closest to s[0..n), if it is close enough to be a plausible typo. */
static const char *closest(const char *s, size_t n, const char *const *words, size_t nwords)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < nwords; i++) {
        size_t d = mc2_edit_distance(s, n, words[i], strlen(words[i]), MC2_DIST_MAX);
        if (d < bestd) {
            bestd = d;
            best = words[i];
        }
    }
    size_t tol = n <= 4 ? 1 : 2;
    return bestd <= tol ? best : NULL;
}

static int perr(mc2_err *err, enum mc2_code code, const char *what, const mc2_ynode *at,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sets an input error "WHAT line L column C: MESSAGE" pointing at node `at`. */
static int perr(mc2_err *err, enum mc2_code code, const char *what, const mc2_ynode *at,
                const char *fmt, ...)
{
    char msg[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mc2_err_set(err, code, "%s line %lu column %lu: %s", what, at->line, at->col, msg);
}

/* ---- types ---------------------------------------------------------------------------------- */

static const struct {
    const char *word;
    enum mc2_type id;
    const char *shown; /* how "did you mean" names it */
} type_names[] = {
    {"INT64", MC2_T_INT64, "INT64"},
    {"BIGINT", MC2_T_INT64, "BIGINT"},
    {"INTEGER", MC2_T_INT64, "INTEGER"},
    {"INT", MC2_T_INT64, "INT"},
    {"DOUBLE", MC2_T_DOUBLE, "DOUBLE"},
    {"FLOAT8", MC2_T_DOUBLE, "FLOAT8"},
    {"DECIMAL", MC2_T_DECIMAL, "DECIMAL(p,s)"},
    {"DATE", MC2_T_DATE, "DATE"},
    {"BOOL", MC2_T_BOOL, "BOOL"},
    {"BOOLEAN", MC2_T_BOOL, "BOOLEAN"},
    {"VARCHAR", MC2_T_VARCHAR, "VARCHAR(n)"},
    {"CHAR", MC2_T_VARCHAR, "CHAR(n)"},
};
#define NTYPE_NAMES (sizeof type_names / sizeof type_names[0])
#define TYPE_LIST   "INT64, DOUBLE, DECIMAL(p,s), DATE, BOOL, VARCHAR(n)"

static const char *type_name(enum mc2_type id)
{
    switch (id) {
    case MC2_T_INT64:
        return "INT64";
    case MC2_T_DOUBLE:
        return "DOUBLE";
    case MC2_T_DECIMAL:
    case MC2_T_DEC128:
        return "DECIMAL";
    case MC2_T_DATE:
        return "DATE";
    case MC2_T_BOOL:
        return "BOOL";
    case MC2_T_VARCHAR:
        return "VARCHAR";
    }
    return "?";
}

/* Why t is not a valid column type, or NULL if it is (also requires canonical zeros in the
 * fields a type does not use). */
static const char *coltype_problem(const mc2_coltype *t)
{
    switch (t->id) {
    case MC2_T_INT64:
    case MC2_T_DOUBLE:
    case MC2_T_DATE:
    case MC2_T_BOOL:
        if (t->precision || t->scale || t->length) return "has parameters its type does not take";
        return NULL;
    case MC2_T_DECIMAL:
        if (t->precision < 1 || t->precision > MC2_DECIMAL_MAX_PRECISION)
            return "has a DECIMAL precision outside 1..18";
        if (t->scale > t->precision) return "has a DECIMAL scale larger than its precision";
        if (t->length) return "has a length, which DECIMAL does not take";
        return NULL;
    case MC2_T_DEC128:
        if (t->precision <= MC2_DECIMAL_MAX_PRECISION || t->precision > MC2_DEC128_MAX_PRECISION)
            return "has a wide DECIMAL (type id 7) precision outside 19..38";
        if (t->scale > t->precision) return "has a DECIMAL scale larger than its precision";
        if (t->length) return "has a length, which DECIMAL does not take";
        return NULL;
    case MC2_T_VARCHAR:
        if (t->length < 1 || t->length > MC2_VARCHAR_MAX)
            return "has a VARCHAR length outside 1..65535";
        if (t->precision || t->scale) return "has a precision, which VARCHAR does not take";
        return NULL;
    }
    return "has an unknown type id";
}

void mc2_type_format(const mc2_coltype *t, char *buf, size_t buflen)
{
    if (buflen == 0) return;
    switch (t->id) {
    case MC2_T_DECIMAL:
    case MC2_T_DEC128:
        snprintf(buf, buflen, "DECIMAL(%u,%u)", (unsigned)t->precision, (unsigned)t->scale);
        break;
    case MC2_T_VARCHAR:
        snprintf(buf, buflen, "VARCHAR(%lu)", (unsigned long)t->length);
        break;
    default:
        snprintf(buf, buflen, "%s", type_name(t->id));
        break;
    }
}

/* Parses a type as written in a schema file ("decimal(15, 2)"); on failure writes a message
 * into msg and returns -1. */
static int parse_type(const char *s, size_t n, mc2_coltype *t, char *msg, size_t msglen)
{
    char shown[64];
    show(s, n, shown, sizeof shown);
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    size_t w0 = i;
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= '0' && s[i] <= '9')))
        i++;
    size_t wn = i - w0;
    if (wn == 0) {
        snprintf(msg, msglen, "'%s' is not a type (types are " TYPE_LIST ")", shown);
        return -1;
    }
    size_t k = 0;
    for (; k < NTYPE_NAMES; k++) {
        if (strlen(type_names[k].word) != wn) continue;
        size_t j = 0;
        while (j < wn && lower(s[w0 + j]) == lower(type_names[k].word[j])) j++;
        if (j == wn) break;
    }
    if (k == NTYPE_NAMES) {
        const char *words[NTYPE_NAMES];
        for (size_t j = 0; j < NTYPE_NAMES; j++) words[j] = type_names[j].word;
        const char *sug = closest(s + w0, wn, words, NTYPE_NAMES);
        if (sug) {
            for (size_t j = 0; j < NTYPE_NAMES; j++)
                if (words[j] == sug) sug = type_names[j].shown;
            snprintf(msg, msglen, "unknown type '%s' (did you mean %s?)", shown, sug);
        } else {
            snprintf(msg, msglen, "unknown type '%s' (types are " TYPE_LIST ")", shown);
        }
        return -1;
    }
    /* Optional "(a)" or "(a,b)", spaces allowed around the numbers. */
    unsigned long arg[2] = {0, 0};     /* saturate at 10^7: anything that large is out of range */
    const char *argtext[2] = {"", ""}; /* the digits as written, for messages */
    int arglen[2] = {0, 0};
    size_t nargs = 0;
    while (i < n && s[i] == ' ') i++;
    if (i < n && s[i] == '(') {
        i++;
        for (;;) {
            while (i < n && s[i] == ' ') i++;
            size_t d0 = i;
            unsigned long v = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (v < 10000000ul) v = v * 10 + (unsigned long)(s[i] - '0');
                i++;
            }
            if (i == d0 || nargs == 2) goto malformed;
            argtext[nargs] = s + d0;
            arglen[nargs] = i - d0 > 40 ? 40 : (int)(i - d0);
            arg[nargs++] = v;
            while (i < n && s[i] == ' ') i++;
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            if (i < n && s[i] == ')') {
                i++;
                break;
            }
            goto malformed;
        }
        while (i < n && s[i] == ' ') i++;
    }
    if (i != n) goto malformed;

    memset(t, 0, sizeof *t);
    t->id = type_names[k].id;
    switch (t->id) {
    case MC2_T_DECIMAL:
        if (nargs == 0) {
            snprintf(msg, msglen,
                     "DECIMAL needs a precision and a scale, e.g. DECIMAL(15,2) for 15 digits "
                     "with 2 after the point");
            return -1;
        }
        if (arg[0] < 1 || arg[0] > MC2_DEC128_MAX_PRECISION) {
            snprintf(msg, msglen, "DECIMAL precision %.*s is out of range (1..38)", arglen[0],
                     argtext[0]);
            return -1;
        }
        if (arg[0] > MC2_DECIMAL_MAX_PRECISION) t->id = MC2_T_DEC128; /* 128-bit values */
        if (arg[1] > arg[0]) {
            snprintf(msg, msglen, "DECIMAL scale %.*s is larger than its precision %lu", arglen[1],
                     argtext[1], arg[0]);
            return -1;
        }
        t->precision = (uint8_t)arg[0];
        t->scale = (uint8_t)arg[1]; /* DECIMAL(p) means DECIMAL(p,0), as in SQL */
        return 0;
    case MC2_T_VARCHAR:
        if (nargs != 1) {
            snprintf(msg, msglen,
                     "%s needs one maximum length in characters, e.g. VARCHAR(25) (got '%s')",
                     type_names[k].word, shown);
            return -1;
        }
        if (arg[0] < 1 || arg[0] > MC2_VARCHAR_MAX) {
            snprintf(msg, msglen, "VARCHAR length %.*s is out of range (1..65535)", arglen[0],
                     argtext[0]);
            return -1;
        }
        t->length = (uint32_t)arg[0];
        return 0;
    default:
        if (nargs) {
            snprintf(msg, msglen, "type %s takes no parameters (got '%s')", type_name(t->id),
                     shown);
            return -1;
        }
        return 0;
    }
malformed:
    snprintf(msg, msglen,
             "malformed type '%s' (expected a name with optional parameters, e.g. INT64, "
             "DECIMAL(15,2), VARCHAR(25))",
             shown);
    return -1;
}

/* ---- schema objects ------------------------------------------------------------------------- */

static void fkey_free(mc2_fkey *f)
{
    if (f->ref_cols)
        for (size_t j = 0; j < f->ncols; j++) mc2_free(f->ref_cols[j]);
    mc2_free(f->ref_cols);
    mc2_free(f->cols);
    mc2_free(f->ref_table);
}

void mc2_schema_free(mc2_schema *s)
{
    if (!s) return;
    if (s->cols)
        for (size_t i = 0; i < s->ncols; i++) mc2_free(s->cols[i].name);
    if (s->labels)
        for (size_t i = 0; i < s->ncols; i++) mc2_free(s->labels[i]);
    mc2_free(s->labels);
    mc2_free(s->cols);
    mc2_free(s->name);
    mc2_free(s->pk);
    if (s->fk)
        for (size_t i = 0; i < s->nfk; i++) fkey_free(&s->fk[i]);
    mc2_free(s->fk);
    mc2_free(s);
}

long mc2_schema_find(const mc2_schema *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (eq_ci(s->cols[i].name, name)) return (long)i;
    return -1;
}

/* Copies s[0..n) into a new NUL-terminated string. */
static char *dup_n(const void *s, size_t n)
{
    char *d = mc2_malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Allocates an empty schema with ncols zeroed columns. */
static mc2_schema *schema_alloc(size_t ncols, mc2_err *err)
{
    mc2_schema *s = mc2_calloc(1, sizeof *s);
    if (s) s->cols = mc2_calloc(ncols ? ncols : 1, sizeof *s->cols);
    if (!s || !s->cols) {
        mc2_free(s);
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    s->ncols = ncols;
    return s;
}

/* ---- declared keys -------------------------------------------------------------------------- */

/* Why the key columns idx[0..n) (a primary key if pk) break the rules, or NULL: 1..16
 * columns, each in range and used once, and NOT NULL in a primary key. */
static const char *keycols_problem(const mc2_schema *s, const unsigned *idx, size_t n, bool pk)
{
    if (n < 1 || n > MC2_MAX_KEY_COLUMNS) return "must have 1 to 16 columns";
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= s->ncols) return "names a column that does not exist";
        for (size_t j = 0; j < i; j++)
            if (idx[j] == idx[i]) return "names a column twice";
        if (pk && s->cols[idx[i]].nullable) return "has a nullable column";
    }
    return NULL;
}

static bool fkey_same(const mc2_fkey *a, const mc2_fkey *b)
{
    if (a->ncols != b->ncols || !eq_ci(a->ref_table, b->ref_table)) return false;
    for (size_t j = 0; j < a->ncols; j++)
        if (a->cols[j] != b->cols[j] || !eq_ci(a->ref_cols[j], b->ref_cols[j])) return false;
    return true;
}

/* Checks the declared keys of s (built by the parser, the decoder or code): the primary key
 * by keycols_problem; each foreign key's columns likewise (nullable allowed), a valid
 * referenced table name, as many distinct valid referenced column names, no foreign key
 * declared twice. Returns 0 or -1 with msg[0..len) describing the problem. */
static int keys_check(const mc2_schema *s, char *msg, size_t len)
{
    const char *why = NULL;
    if (s->npk && (!s->pk || (why = keycols_problem(s, s->pk, s->npk, true)))) {
        snprintf(msg, len, "the primary key %s", s->pk ? why : "is missing");
        return -1;
    }
    if (s->nfk > SCHEMA_MAX_FKS || (s->nfk && !s->fk)) {
        snprintf(msg, len, "%zu foreign keys (at most %d)", s->nfk, SCHEMA_MAX_FKS);
        return -1;
    }
    for (size_t i = 0; i < s->nfk; i++) {
        const mc2_fkey *f = &s->fk[i];
        if (!f->cols || !f->ref_cols || !f->ref_table) {
            snprintf(msg, len, "foreign key %zu is incomplete", i + 1);
            return -1;
        }
        if ((why = keycols_problem(s, f->cols, f->ncols, false))) {
            snprintf(msg, len, "foreign key %zu %s", i + 1, why);
            return -1;
        }
        if ((why = name_problem(f->ref_table, strlen(f->ref_table)))) {
            snprintf(msg, len, "foreign key %zu: referenced table name %s", i + 1, why);
            return -1;
        }
        for (size_t j = 0; j < f->ncols; j++) {
            why = f->ref_cols[j] ? name_problem(f->ref_cols[j], strlen(f->ref_cols[j]))
                                 : "is missing";
            if (why) {
                snprintf(msg, len, "foreign key %zu: referenced column name %s", i + 1, why);
                return -1;
            }
            for (size_t k = 0; k < j; k++)
                if (eq_ci(f->ref_cols[k], f->ref_cols[j])) {
                    snprintf(msg, len, "foreign key %zu references column '%s' twice", i + 1,
                             f->ref_cols[j]);
                    return -1;
                }
        }
        for (size_t k = 0; k < i; k++)
            if (fkey_same(&s->fk[k], f)) {
                snprintf(msg, len, "foreign keys %zu and %zu are the same", k + 1, i + 1);
                return -1;
            }
    }
    return 0;
}

/* ---- YAML ----------------------------------------------------------------------------------- */

static const char *const top_keys[] = {"table", "columns", "primary_key", "foreign_keys"};
static const char *const col_keys[] = {"name", "type", "nullable"};
static const char *const fk_keys[] = {"columns", "references"};

/* Error for an unknown map key, with a suggestion if one is close. */
static int unknown_key(mc2_err *err, const char *what, const mc2_ynode *key, const char *where,
                       const char *const *allowed, size_t nallowed, const char *list)
{
    char shown[64];
    show(key->text, key->len, shown, sizeof shown);
    const char *sug = closest(key->text, key->len, allowed, nallowed);
    if (sug)
        return perr(err, MC2_E_INPUT, what, key, "unknown key '%s' in %s (did you mean '%s'?)",
                    shown, where, sug);
    return perr(err, MC2_E_INPUT, what, key, "unknown key '%s' in %s (allowed keys: %s)", shown,
                where, list);
}

static int parse_nullable(const char *what, const mc2_ynode *v, bool *out, mc2_err *err)
{
    if (v->kind == MC2_Y_SCALAR) {
        static const char *const yes[] = {"true", "yes"}, *const no[] = {"false", "no"};
        for (int i = 0; i < 2; i++) {
            if (strlen(yes[i]) == v->len && eq_ci(v->text, yes[i])) {
                *out = true;
                return 0;
            }
            if (strlen(no[i]) == v->len && eq_ci(v->text, no[i])) {
                *out = false;
                return 0;
            }
        }
    }
    char shown[64] = "(not a scalar)";
    if (v->kind == MC2_Y_SCALAR) show(v->text, v->len, shown, sizeof shown);
    return perr(err, MC2_E_INPUT, what, v, "'nullable' must be true or false, not '%s'", shown);
}

/* Fills column *c from the YAML map m (column number idx, 1-based, for messages). */
static int parse_column(const char *what, const mc2_ynode *m, size_t idx, mc2_column_def *c,
                        const mc2_ynode **name_node, mc2_err *err)
{
    if (m->kind != MC2_Y_MAP)
        return perr(err, MC2_E_INPUT, what, m,
                    "column %zu must be a map with 'name' and 'type' (e.g. '- name: id' on one "
                    "line and 'type: INT64' below it)",
                    idx);
    const mc2_ynode *name = NULL, *type = NULL, *nullable = NULL;
    char where[48];
    snprintf(where, sizeof where, "column %zu", idx);
    for (size_t i = 0; i + 1 < m->nkids; i += 2) {
        const mc2_ynode *k = m->kids[i], *v = m->kids[i + 1];
        if (strcmp(k->text, "name") == 0 && k->len == 4)
            name = v;
        else if (strcmp(k->text, "type") == 0 && k->len == 4)
            type = v;
        else if (strcmp(k->text, "nullable") == 0 && k->len == 8)
            nullable = v;
        else
            return unknown_key(err, what, k, where, col_keys, 3, "name, type, nullable");
    }
    if (!name) return perr(err, MC2_E_INPUT, what, m, "column %zu has no 'name'", idx);
    if (!type) return perr(err, MC2_E_INPUT, what, m, "column %zu has no 'type'", idx);
    if (name->kind != MC2_Y_SCALAR)
        return perr(err, MC2_E_INPUT, what, name, "column %zu: 'name' must be a plain name", idx);
    const char *why = name_problem(name->text, name->len);
    if (why) {
        char shown[64];
        show(name->text, name->len, shown, sizeof shown);
        return perr(err, MC2_E_INPUT, what, name,
                    "column name '%s' %s (names are letters, digits and '_', not starting with a "
                    "digit, at most 128 bytes)",
                    shown, why);
    }
    if (type->kind != MC2_Y_SCALAR)
        return perr(err, MC2_E_INPUT, what, type,
                    "column '%s': 'type' must be a type name such as INT64 or VARCHAR(25)",
                    name->text);
    char msg[512];
    if (parse_type(type->text, type->len, &c->type, msg, sizeof msg))
        return perr(err, MC2_E_INPUT, what, type, "column '%s': %s", name->text, msg);
    c->nullable = true;
    if (nullable && parse_nullable(what, nullable, &c->nullable, err)) return -1;
    c->name = dup_n(name->text, name->len);
    if (!c->name) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    *name_node = name;
    return 0;
}

/* Is map key k the word w? */
static bool key_is(const mc2_ynode *k, const char *w)
{
    return k->len == strlen(w) && memcmp(k->text, w, k->len) == 0;
}

/* Reads the list of column names v (the value of `where`: "primary_key" or "foreign key N
 * 'columns'") into *out (mc2_malloc'd indices into s's columns); pk: primary key rules. */
static int parse_keycols(const char *what, const mc2_schema *s, const mc2_ynode *v,
                         const char *where, bool pk, unsigned **out, size_t *n, mc2_err *err)
{
    *out = NULL;
    *n = 0;
    if (v->kind != MC2_Y_SEQ)
        return perr(err, MC2_E_INPUT, what, v, "%s must be a list of column names, e.g. [%s]",
                    where, s->cols[0].name);
    if (v->nkids < 1 || v->nkids > MC2_MAX_KEY_COLUMNS)
        return perr(err, MC2_E_INPUT, what, v, "%s must name 1 to %d columns (it names %zu)", where,
                    MC2_MAX_KEY_COLUMNS, v->nkids);
    unsigned *idx = mc2_calloc(v->nkids, sizeof *idx);
    const char **words = mc2_calloc(s->ncols, sizeof *words);
    if (!idx || !words) {
        mc2_free(idx);
        mc2_free(words);
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->ncols; i++) words[i] = s->cols[i].name;
    int rc = -1;
    for (size_t i = 0; i < v->nkids; i++) {
        const mc2_ynode *c = v->kids[i];
        char shown[64];
        if (c->kind != MC2_Y_SCALAR) {
            perr(err, MC2_E_INPUT, what, c, "%s: entry %zu must be a column name", where, i + 1);
            goto out;
        }
        show(c->text, c->len, shown, sizeof shown);
        long k = -1;
        for (size_t j = 0; j < s->ncols && k < 0; j++)
            if (strlen(s->cols[j].name) == c->len && memchr(c->text, 0, c->len) == NULL &&
                eq_ci(s->cols[j].name, c->text))
                k = (long)j;
        if (k < 0) {
            const char *sug = closest(c->text, c->len, words, s->ncols);
            if (sug)
                perr(err, MC2_E_INPUT, what, c, "%s: no column '%s' (did you mean '%s'?)", where,
                     shown, sug);
            else
                perr(err, MC2_E_INPUT, what, c, "%s: no column '%s' in this table", where, shown);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (idx[j] == (unsigned)k) {
                perr(err, MC2_E_INPUT, what, c, "%s names column '%s' twice", where,
                     s->cols[k].name);
                goto out;
            }
        if (pk && s->cols[k].nullable) {
            perr(err, MC2_E_INPUT, what, c,
                 "primary key column '%s' is nullable (declare it 'nullable: false')",
                 s->cols[k].name);
            goto out;
        }
        idx[i] = (unsigned)k;
    }
    *out = idx;
    *n = v->nkids;
    idx = NULL;
    rc = 0;
out:
    mc2_free(idx);
    mc2_free(words);
    return rc;
}

/* Parses a reference "table(col, ...)" (spaces allowed around names and punctuation) from
 * scalar v into f->ref_table and f->ref_cols (f->ncols names). fkno numbers the key. */
static int parse_reference(const char *what, const mc2_ynode *v, size_t fkno, mc2_fkey *f,
                           mc2_err *err)
{
    char shown[64];
    if (v->kind != MC2_Y_SCALAR)
        return perr(err, MC2_E_INPUT, what, v,
                    "foreign key %zu: 'references' must be written table(column, ...), e.g. "
                    "orders(o_orderkey)",
                    fkno);
    show(v->text, v->len, shown, sizeof shown);
    const char *t = v->text;
    size_t n = v->len, i = 0, nref = 0;
    const char *name[MC2_MAX_KEY_COLUMNS + 1];
    size_t nlen[MC2_MAX_KEY_COLUMNS + 1];
    /* name ( name { , name } ) */
    for (size_t part = 0;; part++) {
        while (i < n && t[i] == ' ') i++;
        size_t w0 = i;
        while (i < n && t[i] != ' ' && t[i] != '(' && t[i] != ',' && t[i] != ')') i++;
        if (i == w0) goto malformed;
        const char *why = name_problem(t + w0, i - w0);
        if (why) {
            char nm[64];
            show(t + w0, i - w0, nm, sizeof nm);
            return perr(err, MC2_E_INPUT, what, v, "foreign key %zu: %s name '%s' %s", fkno,
                        part ? "referenced column" : "referenced table", nm, why);
        }
        if (part > MC2_MAX_KEY_COLUMNS)
            return perr(err, MC2_E_INPUT, what, v,
                        "foreign key %zu references more than %d columns", fkno,
                        MC2_MAX_KEY_COLUMNS);
        name[part] = t + w0;
        nlen[part] = i - w0;
        nref = part;
        while (i < n && t[i] == ' ') i++;
        char want = part == 0 ? '(' : 0;
        if (want) {
            if (i == n || t[i] != '(') goto malformed;
            i++;
            continue;
        }
        if (i < n && t[i] == ',') {
            i++;
            continue;
        }
        if (i < n && t[i] == ')') {
            i++;
            break;
        }
        goto malformed;
    }
    while (i < n && t[i] == ' ') i++;
    if (i != n) goto malformed;
    if (nref != f->ncols)
        return perr(err, MC2_E_INPUT, what, v,
                    "foreign key %zu has %zu column%s but references %zu", fkno, f->ncols,
                    f->ncols == 1 ? "" : "s", nref);
    for (size_t a = 1; a <= nref; a++)
        for (size_t b = 1; b < a; b++)
            if (nlen[a] == nlen[b]) {
                size_t k = 0;
                while (k < nlen[a] && lower(name[a][k]) == lower(name[b][k])) k++;
                if (k == nlen[a]) {
                    char nm[64];
                    show(name[a], nlen[a], nm, sizeof nm);
                    return perr(err, MC2_E_INPUT, what, v,
                                "foreign key %zu references column '%s' twice", fkno, nm);
                }
            }
    f->ref_table = dup_n(name[0], nlen[0]);
    f->ref_cols = mc2_calloc(nref, sizeof *f->ref_cols);
    if (!f->ref_table || !f->ref_cols) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t a = 0; a < nref; a++)
        if (!(f->ref_cols[a] = dup_n(name[a + 1], nlen[a + 1])))
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return 0;
malformed:
    return perr(err, MC2_E_INPUT, what, v,
                "foreign key %zu: malformed reference '%s' (write table(column, ...), e.g. "
                "orders(o_orderkey))",
                fkno, shown);
}

/* Reads the 'foreign_keys' list v into s->fk (s's columns are parsed already). */
static int parse_fkeys(const char *what, mc2_schema *s, const mc2_ynode *v, mc2_err *err)
{
    if (v->kind != MC2_Y_SEQ)
        return perr(err, MC2_E_INPUT, what, v,
                    "'foreign_keys' must be a list, each entry '- columns: [...]' with "
                    "'references: table(column, ...)' below it");
    if (v->nkids > SCHEMA_MAX_FKS)
        return perr(err, MC2_E_LIMIT, what, v->kids[SCHEMA_MAX_FKS],
                    "too many foreign keys (%zu; at most %d)", v->nkids, SCHEMA_MAX_FKS);
    if (v->nkids == 0) return 0;
    if (!(s->fk = mc2_calloc(v->nkids, sizeof *s->fk)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < v->nkids; i++) {
        const mc2_ynode *m = v->kids[i];
        mc2_fkey *f = &s->fk[i];
        s->nfk = i + 1;
        char where[64];
        snprintf(where, sizeof where, "foreign key %zu", i + 1);
        if (m->kind != MC2_Y_MAP)
            return perr(err, MC2_E_INPUT, what, m,
                        "%s must be a map with 'columns' (a list) and 'references' "
                        "(table(column, ...))",
                        where);
        const mc2_ynode *cols = NULL, *ref = NULL;
        for (size_t k = 0; k + 1 < m->nkids; k += 2) {
            if (key_is(m->kids[k], "columns"))
                cols = m->kids[k + 1];
            else if (key_is(m->kids[k], "references"))
                ref = m->kids[k + 1];
            else
                return unknown_key(err, what, m->kids[k], where, fk_keys, 2, "columns, references");
        }
        if (!cols || !ref)
            return perr(err, MC2_E_INPUT, what, m, "%s has no '%s'", where,
                        cols ? "references" : "columns");
        char wc[80];
        snprintf(wc, sizeof wc, "%s 'columns'", where);
        if (parse_keycols(what, s, cols, wc, false, &f->cols, &f->ncols, err) ||
            parse_reference(what, ref, i + 1, f, err))
            return -1;
        for (size_t k = 0; k < i; k++)
            if (fkey_same(&s->fk[k], f))
                return perr(err, MC2_E_INPUT, what, m, "%s is the same as foreign key %zu", where,
                            k + 1);
    }
    return 0;
}

int mc2_schema_parse(const char *what, const char *text, size_t len, mc2_schema **out, mc2_err *err)
{
    *out = NULL;
    mc2_schema *s = NULL;
    const mc2_ynode **names = NULL;
    mc2_ynode *root = mc2_yaml_parse(what, text, len, err);
    if (!root) return -1;
    int rc = -1;
    if (root->kind != MC2_Y_MAP) {
        perr(err, MC2_E_INPUT, what, root,
             "a schema is a map with 'columns' (a list) and optionally 'table' (a name)");
        goto out;
    }
    const mc2_ynode *table = NULL, *cols = NULL, *pk = NULL, *fks = NULL;
    for (size_t i = 0; i + 1 < root->nkids; i += 2) {
        const mc2_ynode *k = root->kids[i];
        if (key_is(k, "table"))
            table = root->kids[i + 1];
        else if (key_is(k, "columns"))
            cols = root->kids[i + 1];
        else if (key_is(k, "primary_key"))
            pk = root->kids[i + 1];
        else if (key_is(k, "foreign_keys"))
            fks = root->kids[i + 1];
        else {
            unknown_key(err, what, k, "the schema", top_keys, 4,
                        "table, columns, primary_key, foreign_keys");
            goto out;
        }
    }
    if (!cols) {
        perr(err, MC2_E_INPUT, what, root,
             "the schema has no 'columns' list (see docs/format.md for an example)");
        goto out;
    }
    if (cols->kind != MC2_Y_SEQ) {
        perr(err, MC2_E_INPUT, what, cols,
             "'columns' must be a list of columns, each starting with '- name: ...'");
        goto out;
    }
    if (cols->nkids == 0) {
        perr(err, MC2_E_INPUT, what, cols, "'columns' is empty: a table needs at least one column");
        goto out;
    }
    if (cols->nkids > MC2_MAX_COLUMNS) {
        perr(err, MC2_E_LIMIT, what, cols->kids[MC2_MAX_COLUMNS],
             "too many columns (%zu; mc2 supports at most %d)", cols->nkids, MC2_MAX_COLUMNS);
        goto out;
    }
    s = schema_alloc(cols->nkids, err);
    names = mc2_calloc(cols->nkids, sizeof *names);
    if (!s || !names) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    if (table) {
        if (table->kind != MC2_Y_SCALAR) {
            perr(err, MC2_E_INPUT, what, table, "'table' must be a name");
            goto out;
        }
        const char *why = name_problem(table->text, table->len);
        if (why) {
            char shown[64];
            show(table->text, table->len, shown, sizeof shown);
            perr(err, MC2_E_INPUT, what, table,
                 "table name '%s' %s (names are letters, digits and '_', not starting with a "
                 "digit, at most 128 bytes)",
                 shown, why);
            goto out;
        }
        s->name = dup_n(table->text, table->len);
        if (!s->name) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < cols->nkids; i++) {
        if (parse_column(what, cols->kids[i], i + 1, &s->cols[i], &names[i], err)) goto out;
        for (size_t j = 0; j < i; j++)
            if (eq_ci(s->cols[j].name, s->cols[i].name)) {
                perr(err, MC2_E_INPUT, what, names[i],
                     "duplicate column name '%s' (already used at line %lu; names are compared "
                     "ignoring case)",
                     s->cols[i].name, names[j]->line);
                goto out;
            }
    }
    if (pk && parse_keycols(what, s, pk, "primary_key", true, &s->pk, &s->npk, err)) goto out;
    if (fks && parse_fkeys(what, s, fks, err)) goto out;
    char msg[256];
    if (keys_check(s, msg, sizeof msg)) {
        perr(err, MC2_E_INPUT, what, root, "%s", msg);
        goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    mc2_free(names);
    mc2_schema_free(s);
    mc2_yaml_free(root);
    return rc;
}

int mc2_schema_load(const char *path, mc2_schema **out, mc2_err *err)
{
    *out = NULL;
    mc2_buf b = {0};
    if (mc2_file_read_all(path, SCHEMA_FILE_MAX, &b, err)) {
        mc2_err_prefix(err, "schema: ");
        mc2_buf_free(&b);
        return -1;
    }
    int rc = mc2_schema_parse(path, (const char *)b.data, b.len, out, err);
    mc2_buf_free(&b);
    return rc;
}

/* YAML 1.1 words a plain scalar would turn into booleans or null in other YAML readers. */
static bool needs_quotes(const char *name)
{
    static const char *const words[] = {"null", "true", "false", "yes", "no", "on",
                                        "off",  "y",    "n",     "nan", "inf"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (eq_ci(name, words[i])) return true;
    return false;
}

/* Checks a schema built in memory (by a parser, a decoder or code) against the rules of
 * docs/format.md; used before encoding so nothing invalid is ever hashed or sealed. */
static int schema_check(const mc2_schema *s, mc2_err *err)
{
    if (s->ncols < 1 || s->ncols > MC2_MAX_COLUMNS)
        return mc2_err_set(err, MC2_E_INPUT, "schema has %zu columns (must be 1..%d)", s->ncols,
                           MC2_MAX_COLUMNS);
    if (s->name && name_problem(s->name, strlen(s->name)))
        return mc2_err_set(err, MC2_E_INPUT, "schema table name %s",
                           name_problem(s->name, strlen(s->name)));
    for (size_t i = 0; i < s->ncols; i++) {
        const mc2_column_def *c = &s->cols[i];
        const char *why = c->name ? name_problem(c->name, strlen(c->name)) : "is missing";
        if (why) return mc2_err_set(err, MC2_E_INPUT, "schema column %zu: name %s", i + 1, why);
        why = coltype_problem(&c->type);
        if (why) return mc2_err_set(err, MC2_E_INPUT, "schema column '%s' %s", c->name, why);
        for (size_t j = 0; j < i; j++)
            if (eq_ci(s->cols[j].name, c->name))
                return mc2_err_set(err, MC2_E_INPUT, "schema has two columns named '%s'", c->name);
        const char *l = s->labels ? s->labels[i] : NULL;
        if (l && (why = label_problem(l, strlen(l))))
            return mc2_err_set(err, MC2_E_INPUT, "schema column '%s': label %s", c->name, why);
        if (l && strcmp(l, c->name) == 0)
            return mc2_err_set(err, MC2_E_INPUT, "schema column '%s': label equals the name",
                               c->name);
    }
    char msg[256];
    if (keys_check(s, msg, sizeof msg)) return mc2_err_set(err, MC2_E_INPUT, "schema: %s", msg);
    return 0;
}

/* Appends "[a, b]": the names of columns idx[0..n) as a YAML flow list. */
static int yaml_names(mc2_buf *b, const mc2_schema *s, const unsigned *idx, size_t n, mc2_err *err)
{
    if (mc2_buf_puts(b, "[", err)) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *nm = s->cols[idx[i]].name;
        const char *q = needs_quotes(nm) ? "'" : "";
        if (mc2_buf_printf(b, err, "%s%s%s%s", i ? ", " : "", q, nm, q)) return -1;
    }
    return mc2_buf_puts(b, "]", err);
}

int mc2_schema_to_yaml(const mc2_schema *s, char **out, mc2_err *err)
{
    *out = NULL;
    if (schema_check(s, err)) return -1;
    mc2_buf b = {0};
    if (s->name &&
        mc2_buf_printf(&b, err, needs_quotes(s->name) ? "table: '%s'\n" : "table: %s\n", s->name))
        goto fail;
    if (mc2_buf_puts(&b, "columns:\n", err)) goto fail;
    for (size_t i = 0; i < s->ncols; i++) {
        const mc2_column_def *c = &s->cols[i];
        char t[32];
        mc2_type_format(&c->type, t, sizeof t);
        const char *q = needs_quotes(c->name) ? "'" : "";
        /* A label (a result's SQL name) is shown as a comment: it has no line break. */
        const char *l = s->labels ? s->labels[i] : NULL;
        if (mc2_buf_printf(&b, err, "  - name: %s%s%s%s%s\n    type: %s\n    nullable: %s\n", q,
                           c->name, q, l ? "  # shown as: " : "", l ? l : "", t,
                           c->nullable ? "true" : "false"))
            goto fail;
    }
    if (s->npk && (mc2_buf_puts(&b, "primary_key: ", err) ||
                   yaml_names(&b, s, s->pk, s->npk, err) || mc2_buf_puts(&b, "\n", err)))
        goto fail;
    if (s->nfk && mc2_buf_puts(&b, "foreign_keys:\n", err)) goto fail;
    for (size_t i = 0; i < s->nfk; i++) {
        const mc2_fkey *f = &s->fk[i];
        if (mc2_buf_puts(&b, "  - columns: ", err) || yaml_names(&b, s, f->cols, f->ncols, err) ||
            mc2_buf_printf(&b, err, "\n    references: %s(", f->ref_table))
            goto fail;
        for (size_t j = 0; j < f->ncols; j++)
            if (mc2_buf_printf(&b, err, "%s%s", j ? ", " : "", f->ref_cols[j])) goto fail;
        if (mc2_buf_puts(&b, ")\n", err)) goto fail;
    }
    if (mc2_buf_append(&b, "", 1, err)) goto fail;
    *out = (char *)b.data;
    return 0;
fail:
    mc2_buf_free(&b);
    return -1;
}

/* ---- canonical binary encoding -------------------------------------------------------------- */

/* The key section of a version 2 encoding (docs/format.md, "Schema encoding"). */
static int encode_keys(mc2_buf *b, const mc2_schema *s, mc2_err *err)
{
    if (mc2_buf_put_u16(b, (uint16_t)s->npk, err)) return -1;
    for (size_t i = 0; i < s->npk; i++)
        if (mc2_buf_put_u16(b, (uint16_t)s->pk[i], err)) return -1;
    if (mc2_buf_put_u16(b, (uint16_t)s->nfk, err)) return -1;
    for (size_t i = 0; i < s->nfk; i++) {
        const mc2_fkey *f = &s->fk[i];
        if (mc2_buf_put_u16(b, (uint16_t)f->ncols, err)) return -1;
        for (size_t j = 0; j < f->ncols; j++)
            if (mc2_buf_put_u16(b, (uint16_t)f->cols[j], err)) return -1;
        if (mc2_buf_put_lv(b, f->ref_table, strlen(f->ref_table), err)) return -1;
        for (size_t j = 0; j < f->ncols; j++)
            if (mc2_buf_put_lv(b, f->ref_cols[j], strlen(f->ref_cols[j]), err)) return -1;
    }
    return 0;
}

int mc2_schema_encode(const mc2_schema *s, uint8_t **out, size_t *out_len, mc2_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (schema_check(s, err)) return -1;
    mc2_buf b = {0};
    bool keys = s->npk || s->nfk, labels = false;
    for (size_t i = 0; i < s->ncols && s->labels; i++) labels |= s->labels[i] != NULL;
    uint16_t version = labels ? SCHEMA_VERSION3 : keys ? SCHEMA_VERSION2 : SCHEMA_VERSION;
    if (mc2_buf_append(&b, SCHEMA_MAGIC, 4, err) || mc2_buf_put_u16(&b, version, err) ||
        mc2_buf_put_u32(&b, (uint32_t)s->ncols, err) ||
        mc2_buf_put_lv(&b, s->name, s->name ? strlen(s->name) : 0, err))
        goto fail;
    for (size_t i = 0; i < s->ncols; i++) {
        const mc2_column_def *c = &s->cols[i];
        if (mc2_buf_put_lv(&b, c->name, strlen(c->name), err) ||
            mc2_buf_put_u8(&b, (uint8_t)c->type.id, err) ||
            mc2_buf_put_u8(&b, c->type.precision, err) || mc2_buf_put_u8(&b, c->type.scale, err) ||
            mc2_buf_put_u32(&b, c->type.length, err) ||
            mc2_buf_put_u8(&b, c->nullable ? 1 : 0, err))
            goto fail;
    }
    if ((keys || labels) && encode_keys(&b, s, err)) goto fail;
    for (size_t i = 0; i < s->ncols && labels; i++) {
        const char *l = s->labels[i];
        if (mc2_buf_put_lv(&b, l, l ? strlen(l) : 0, err)) goto fail;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
fail:
    mc2_buf_free(&b);
    return -1;
}

static int derr(mc2_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An error in an encoded schema: "schema encoding: ...". */
static int derr(mc2_err *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mc2_err_set(err, MC2_E_INPUT, "schema encoding: %s", msg);
}

/* Reads n u16 column indices into a new array *out. */
static int decode_idx(mc2_rd *r, size_t n, unsigned **out, mc2_err *err)
{
    if (!(*out = mc2_calloc(n ? n : 1, sizeof **out)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) (*out)[i] = mc2_rd_u16(r);
    return r->bad ? derr(err, "truncated key section") : 0;
}

/* Reads a valid name (u32 len, bytes) into a new string *out; `what` names it in errors. */
static int decode_name(mc2_rd *r, char **out, const char *what, mc2_err *err)
{
    size_t len;
    const uint8_t *p = mc2_rd_lv(r, &len);
    if (!p) return derr(err, "truncated key section");
    const char *why = name_problem((const char *)p, len);
    if (why) return derr(err, "%s %s", what, why);
    if (!(*out = dup_n(p, len))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    return 0;
}

/* The key section of a version 2 or 3 encoding into s (whose columns are decoded): the
 * primary key, the foreign keys, all checked by keys_check; a version 2 encoding without keys
 * is not canonical (it is version 1). */
static int decode_keys(mc2_rd *r, mc2_schema *s, unsigned version, mc2_err *err)
{
    size_t npk = mc2_rd_u16(r);
    if (r->bad) return derr(err, "truncated key section");
    if (npk > MC2_MAX_KEY_COLUMNS)
        return derr(err, "a primary key of %zu columns (at most %d)", npk, MC2_MAX_KEY_COLUMNS);
    if (npk && decode_idx(r, npk, &s->pk, err)) return -1;
    s->npk = npk;
    size_t nfk = mc2_rd_u16(r);
    if (r->bad) return derr(err, "truncated key section");
    if (nfk > SCHEMA_MAX_FKS)
        return derr(err, "%zu foreign keys (at most %d)", nfk, SCHEMA_MAX_FKS);
    /* each foreign key takes at least 12 bytes: refuse counts the input cannot hold */
    if (mc2_rd_left(r) / 12 < nfk) return derr(err, "truncated key section");
    if (nfk && !(s->fk = mc2_calloc(nfk, sizeof *s->fk)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < nfk; i++) {
        mc2_fkey *f = &s->fk[i];
        s->nfk = i + 1;
        size_t nc = mc2_rd_u16(r);
        if (r->bad) return derr(err, "truncated key section");
        if (nc < 1 || nc > MC2_MAX_KEY_COLUMNS)
            return derr(err, "foreign key %zu has %zu columns (must be 1..%d)", i + 1, nc,
                        MC2_MAX_KEY_COLUMNS);
        if (decode_idx(r, nc, &f->cols, err)) return -1;
        f->ncols = nc;
        if (!(f->ref_cols = mc2_calloc(nc, sizeof *f->ref_cols)))
            return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        if (decode_name(r, &f->ref_table, "referenced table name", err)) return -1;
        for (size_t j = 0; j < nc; j++)
            if (decode_name(r, &f->ref_cols[j], "referenced column name", err)) return -1;
    }
    if (npk == 0 && nfk == 0 && version == SCHEMA_VERSION2)
        return derr(err, "version 2 without keys (a schema without keys is version 1)");
    char msg[256];
    if (keys_check(s, msg, sizeof msg)) return derr(err, "%s", msg);
    return 0;
}

/* The label section of a version 3 encoding into s: per column a label or none (length 0),
 * each valid and not equal to the column's name; a version 3 encoding without labels is not
 * canonical. */
static int decode_labels(mc2_rd *r, mc2_schema *s, mc2_err *err)
{
    bool any = false;
    if (!(s->labels = mc2_calloc(s->ncols, sizeof *s->labels)))
        return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->ncols; i++) {
        size_t len;
        const uint8_t *p = mc2_rd_lv(r, &len);
        if (!p) return derr(err, "truncated label section");
        if (len == 0) continue;
        const char *why = label_problem((const char *)p, len);
        if (why) return derr(err, "column %zu: label %s", i + 1, why);
        if (!(s->labels[i] = dup_n(p, len))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        if (strcmp(s->labels[i], s->cols[i].name) == 0)
            return derr(err, "column %zu: label equals the name", i + 1);
        any = true;
    }
    return any ? 0 : derr(err, "version 3 without labels (not canonical)");
}

int mc2_schema_decode(const uint8_t *p, size_t n, mc2_schema **out, mc2_err *err)
{
    *out = NULL;
    mc2_rd r = mc2_rd_init(p, n);
    const uint8_t *magic = mc2_rd_take(&r, 4);
    if (!magic || memcmp(magic, SCHEMA_MAGIC, 4) != 0)
        return derr(err, "bad magic (not an mc2 schema)");
    uint16_t version = mc2_rd_u16(&r);
    uint32_t ncols = mc2_rd_u32(&r);
    if (r.bad) return derr(err, "truncated header");
    if (version != SCHEMA_VERSION && version != SCHEMA_VERSION2 && version != SCHEMA_VERSION3)
        return derr(err, "unsupported version %u (this mc2 reads versions 1 to 3; upgrade mc2)",
                    (unsigned)version);
    if (ncols < 1 || ncols > MC2_MAX_COLUMNS)
        return derr(err, "%lu columns (must be 1..%d)", (unsigned long)ncols, MC2_MAX_COLUMNS);
    size_t tlen;
    const uint8_t *tname = mc2_rd_lv(&r, &tlen);
    if (!tname) return derr(err, "truncated table name");
    if (tlen && name_problem((const char *)tname, tlen))
        return derr(err, "table name %s", name_problem((const char *)tname, tlen));
    /* Each column takes at least 13 bytes: refuse counts the input cannot hold before
     * allocating for them. */
    if (mc2_rd_left(&r) / 13 < ncols)
        return derr(err, "truncated (%lu columns declared)", (unsigned long)ncols);
    mc2_schema *s = schema_alloc(ncols, err);
    if (!s) return -1;
    if (tlen && !(s->name = dup_n(tname, tlen))) goto nomem;
    for (size_t i = 0; i < ncols; i++) {
        mc2_column_def *c = &s->cols[i];
        size_t nlen;
        const uint8_t *name = mc2_rd_lv(&r, &nlen);
        uint8_t id = mc2_rd_u8(&r);
        c->type.precision = mc2_rd_u8(&r);
        c->type.scale = mc2_rd_u8(&r);
        c->type.length = mc2_rd_u32(&r);
        uint8_t nullable = mc2_rd_u8(&r);
        if (r.bad) {
            derr(err, "truncated at column %zu", i + 1);
            goto fail;
        }
        const char *why = name_problem((const char *)name, nlen);
        if (why) {
            derr(err, "column %zu: name %s", i + 1, why);
            goto fail;
        }
        if (id < MC2_T_INT64 || id > MC2_T_DEC128) {
            derr(err, "column %zu: unknown type id %u", i + 1, (unsigned)id);
            goto fail;
        }
        c->type.id = (enum mc2_type)id;
        why = coltype_problem(&c->type);
        if (why) {
            derr(err, "column %zu %s", i + 1, why);
            goto fail;
        }
        if (nullable > 1) {
            derr(err, "column %zu: nullable flag %u is not 0 or 1", i + 1, (unsigned)nullable);
            goto fail;
        }
        c->nullable = nullable;
        if (!(c->name = dup_n(name, nlen))) goto nomem;
        for (size_t j = 0; j < i; j++)
            if (eq_ci(s->cols[j].name, c->name)) {
                derr(err, "columns %zu and %zu have the same name", j + 1, i + 1);
                goto fail;
            }
    }
    if (version != SCHEMA_VERSION && decode_keys(&r, s, version, err)) goto fail;
    if (version == SCHEMA_VERSION3 && decode_labels(&r, s, err)) goto fail;
    if (mc2_rd_left(&r) != 0) {
        derr(err, "%zu unexpected bytes after the last %s", mc2_rd_left(&r),
             version == SCHEMA_VERSION3   ? "label"
             : version == SCHEMA_VERSION2 ? "key"
                                          : "column");
        goto fail;
    }
    *out = s;
    return 0;
nomem:
    mc2_err_set(err, MC2_E_NOMEM, "out of memory");
fail:
    mc2_schema_free(s);
    return -1;
}

int mc2_schema_hash(const mc2_schema *s, uint8_t out[MC2_SHA256_LEN], mc2_err *err)
{
    uint8_t *enc;
    size_t n;
    if (mc2_schema_encode(s, &enc, &n, err)) return -1;
    int rc = mc2_sha256(enc, n, out, err);
    mc2_free(enc);
    return rc;
}
