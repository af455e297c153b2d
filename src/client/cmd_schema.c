/* cmd_schema.c - `mc2 schema infer DATA.csv`: prints a schema (YAML, docs/format.md "Schema
 * files") for a CSV or .tbl file, for the user to check and edit, that `mc2 encrypt` and
 * `mc2 upload --schema` accept for that file.
 *
 * The file is read once, streaming (any size), with the text formats' rules (textio.h): CSV
 * is RFC 4180 with a header row (an unquoted empty field is NULL, "" the empty string); .tbl
 * is '|'-separated without a header (an optional trailing '|'), columns named c1, c2, ....
 * Every non-NULL value is classified with the same parsers the upload uses (table/value.h),
 * so the inferred type accepts every value of the file. Per column the first that fits all
 * its values wins:
 *   BOOL           true/false, t/f, yes/no (any case) and 1/0, at least one not 1/0
 *   INT64          integers in the int64 range
 *   DECIMAL(p,s)   exact decimals [-]digits[.digits]: s = the most fraction digits, p = s +
 *                  the most integer digits (leading zeros not counted, at least 1), p <= 18
 *   DOUBLE         other numbers (exponents, more than 18 digits)
 *   DATE           YYYY-MM-DD (real calendar days)
 *   VARCHAR(n)     anything else (valid UTF-8): n = the longest value in code points (>= 1)
 * A column without any value (all NULL) is VARCHAR(1) with a comment saying so; a column
 * with a quoted empty string ("") is VARCHAR. nullable: false when the column has no NULL. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli.h"
#include "mc2/table.h"
#include "table/value.h"

static const char SCHEMA_HELP[] =
    "usage: mc2 schema infer DATA.csv|DATA.tbl [--format csv|tbl] [--table NAME]\n\n"
    "Prints a schema (YAML) for the file: column names from the CSV header (a .tbl file has\n"
    "none: c1, c2, ...), each column's type inferred from all its values - the first of\n"
    "BOOL, INT64, DECIMAL(p,s) (exact decimals that fit 18 digits), DOUBLE, DATE\n"
    "(YYYY-MM-DD), VARCHAR(n) (n = the longest value) that holds every value - and\n"
    "`nullable: false` for a column without empty fields. Check and edit it, then:\n"
    "  mc2 schema infer data.csv > data.yaml\n"
    "  mc2 upload --schema data.yaml --in data.csv --as NAME\n"
    "  --format csv|tbl   the input format, as `mc2 encrypt` (default: from the extension)\n"
    "  --table NAME       the schema's table name (default: the file name, if it is a name)\n"
    "A column without values is VARCHAR(1) (a placeholder, marked with a comment).\n";

/* What the values of one column allow so far. */
typedef struct icol {
    char *name;
    uint64_t nulls, values;
    bool can_bool, bool_word, can_int, can_dec, can_double, can_date, empty_string;
    unsigned dec_int, dec_scale; /* most integer and fraction digits of the exact decimals */
    size_t maxlen;               /* longest value in code points */
} icol;

typedef struct infer {
    const char *file;
    bool csv;
    icol *cols;
    size_t ncols, cap;
    uint64_t line, records; /* current physical line (1-based), data records seen */
    /* the record being read */
    mc2_buf field;
    bool quoted, in_quotes, after_quote, any_char, pending_cr;
    size_t nf; /* fields of the current record so far */
    bool header_done;
} infer;

static void icol_init(icol *c)
{
    memset(c, 0, sizeof *c);
    c->can_bool = c->can_int = c->can_dec = c->can_double = c->can_date = true;
}

/* s[0..n) is a name: [A-Za-z_][A-Za-z0-9_]*, 1..MC2_MAX_NAME bytes. */
static bool ident(const char *s, size_t n)
{
    bool ok = n >= 1 && n <= MC2_MAX_NAME && !(s[0] >= '0' && s[0] <= '9');
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '_';
    return ok;
}

/* Exact decimal [-]digits[.digits]: its integer digits (without leading zeros, >= 1) and
 * fraction digits; false if not that shape. */
static bool exact_decimal(const char *s, size_t n, unsigned *ni, unsigned *nf)
{
    size_t i = n && s[0] == '-' ? 1 : 0, i0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == i0) return false;
    size_t lead = i0;
    while (lead + 1 < i && s[lead] == '0') lead++;
    *ni = (unsigned)(i - lead > 99 ? 99 : i - lead);
    *nf = 0;
    if (i == n) return true;
    if (s[i] != '.') return false;
    size_t f0 = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i != n || i == f0) return false;
    *nf = (unsigned)(i - f0 > 99 ? 99 : i - f0);
    return true;
}

static int classify(infer *in, icol *c, const char *s, size_t n, bool quoted, mc2_err *err)
{
    if (n == 0 && !quoted) {
        c->nulls++;
        return 0;
    }
    c->values++;
    const char *why;
    size_t chars;
    if (mc2_utf8_check(s, n, &chars, &why))
        return mc2_err_set(err, MC2_E_INPUT,
                           "%s line %llu, column '%s': %s (mc2 reads UTF-8 text); convert the "
                           "file to UTF-8 first (e.g. iconv -f latin1 -t utf-8)",
                           in->file, (unsigned long long)in->line, c->name, why);
    if (chars > c->maxlen) c->maxlen = chars;
    if (n == 0) { /* "": only a VARCHAR holds the empty string */
        c->empty_string = true;
        return 0;
    }
    uint8_t b;
    int64_t i64;
    double d;
    int32_t day;
    unsigned ni, nf;
    if (c->can_bool) {
        c->can_bool = mc2_parse_bool(s, n, &b, &why) == 0;
        if (c->can_bool && !(n == 1 && (s[0] == '0' || s[0] == '1'))) c->bool_word = true;
    }
    if (c->can_int) c->can_int = mc2_parse_int64(s, n, &i64, &why) == 0;
    if (c->can_dec) {
        c->can_dec = exact_decimal(s, n, &ni, &nf);
        if (c->can_dec) {
            if (ni > c->dec_int) c->dec_int = ni;
            if (nf > c->dec_scale) c->dec_scale = nf;
            c->can_dec = c->dec_int + c->dec_scale <= MC2_DECIMAL_MAX_PRECISION;
        }
    }
    if (c->can_double) c->can_double = mc2_parse_double(s, n, &d, &why) == 0;
    if (c->can_date) c->can_date = mc2_parse_date(s, n, &day, &why) == 0;
    return 0;
}

/* A header field: the column's name, which the upload compares with the schema's. */
static int add_column(infer *in, const char *s, size_t n, mc2_err *err)
{
    if (in->ncols >= MC2_MAX_COLUMNS)
        return mc2_err_set(err, MC2_E_LIMIT, "%s: more than %d columns", in->file, MC2_MAX_COLUMNS);
    if (!ident(s, n))
        return mc2_err_set(err, MC2_E_INPUT,
                           "%s line 1, column %zu: '%.*s' is not a valid column name (letters, "
                           "digits and '_', not starting with a digit, at most %d bytes); the "
                           "upload matches the header against the schema, so rename it in the "
                           "file's header",
                           in->file, in->ncols + 1, (int)(n > 60 ? 60 : n), s, MC2_MAX_NAME);
    for (size_t k = 0; k < in->ncols; k++)
        if (strlen(in->cols[k].name) == n && strncasecmp(in->cols[k].name, s, n) == 0)
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s line 1: column name '%.*s' appears twice (names are "
                               "compared ignoring case); rename one in the header",
                               in->file, (int)n, s);
    if (in->ncols == in->cap) {
        size_t nc = in->cap ? in->cap * 2 : 16;
        icol *c = mc2_realloc(in->cols, nc * sizeof *c);
        if (!c) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        in->cols = c;
        in->cap = nc;
    }
    icol *c = &in->cols[in->ncols];
    icol_init(c);
    if (!(c->name = mc2_malloc(n + 1))) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    memcpy(c->name, s, n);
    c->name[n] = '\0';
    in->ncols++;
    return 0;
}

/* One complete field of the current record. */
static int end_field(infer *in, mc2_err *err)
{
    const char *s = in->field.data ? (const char *)in->field.data : "";
    size_t n = in->field.len;
    int rc = 0;
    if (!in->header_done && in->csv) {
        rc = add_column(in, s, n, err);
    } else if (!in->header_done) { /* .tbl: columns are named by position */
        char name[16];
        snprintf(name, sizeof name, "c%zu", in->nf + 1);
        rc = add_column(in, name, strlen(name), err);
        if (rc == 0) rc = classify(in, &in->cols[in->nf], s, n, in->quoted, err);
    } else if (in->nf < in->ncols) {
        rc = classify(in, &in->cols[in->nf], s, n, in->quoted, err);
    }
    in->nf++;
    mc2_buf_reset(&in->field);
    in->quoted = in->after_quote = false;
    return rc;
}

static int end_record(infer *in, mc2_err *err)
{
    if (in->header_done && in->nf != in->ncols)
        return mc2_err_set(err, MC2_E_INPUT,
                           "%s line %llu: %zu fields, the %s has %zu; every record needs one "
                           "field per column",
                           in->file, (unsigned long long)in->line, in->nf,
                           in->csv ? "header" : "first record", in->ncols);
    if (in->header_done || !in->csv) in->records++;
    in->header_done = true;
    in->nf = 0;
    in->any_char = false;
    return 0;
}

/* Feeds p[0..n) through the CSV/.tbl state machine. */
static int feed(infer *in, const char *p, size_t n, mc2_err *err)
{
    const char delim = in->csv ? ',' : '|';
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in->in_quotes) {
            if (ch == '"') {
                in->in_quotes = false;
                in->after_quote = true;
                continue;
            }
            if (ch == '\n') in->line++;
            if (mc2_buf_put_u8(&in->field, (uint8_t)ch, err)) return -1;
            continue;
        }
        if (in->pending_cr && ch != '\n')
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s line %llu: a carriage return (CR) not followed by a line "
                               "feed; line ends must be LF or CRLF",
                               in->file, (unsigned long long)in->line);
        in->pending_cr = false;
        if (in->after_quote && ch == '"') { /* "" inside quotes */
            in->in_quotes = true;
            in->after_quote = false;
            if (mc2_buf_put_u8(&in->field, '"', err)) return -1;
            continue;
        }
        if (ch == delim) {
            in->any_char = true;
            if (end_field(in, err)) return -1;
            continue;
        }
        if (ch == '\n') {
            /* .tbl's trailing '|': "a|b|" is the fields a and b */
            bool trailing = !in->csv && in->nf >= 1 && in->field.len == 0 && !in->quoted;
            if ((!trailing && end_field(in, err)) || end_record(in, err)) return -1;
            in->line++;
            continue;
        }
        if (ch == '\r') {
            in->pending_cr = true;
            continue;
        }
        if (in->after_quote)
            return mc2_err_set(err, MC2_E_INPUT,
                               "%s line %llu: unexpected character after a closing quote; a '\"' "
                               "inside a quoted field must be doubled (\"\")",
                               in->file, (unsigned long long)in->line);
        in->any_char = true;
        if (in->csv && ch == '"') {
            if (in->field.len > 0)
                return mc2_err_set(err, MC2_E_INPUT,
                                   "%s line %llu: a '\"' inside a field that does not start "
                                   "with a quote; enclose the whole field in double quotes and "
                                   "double the quote inside (\"\")",
                                   in->file, (unsigned long long)in->line);
            in->in_quotes = in->quoted = true;
            continue;
        }
        if (mc2_buf_put_u8(&in->field, (uint8_t)ch, err)) return -1;
    }
    return 0;
}

/* The inferred type of c as schema text. */
static const char *col_type(const icol *c, char *buf, size_t len)
{
    if (c->values == 0 || c->empty_string) {
        snprintf(buf, len, "VARCHAR(%zu)", c->maxlen ? c->maxlen : 1);
        return buf;
    }
    if (c->can_bool && c->bool_word) return "BOOL";
    if (c->can_int) return "INT64";
    if (c->can_dec) {
        snprintf(buf, len, "'DECIMAL(%u,%u)'", c->dec_int + c->dec_scale, c->dec_scale);
        return buf;
    }
    if (c->can_double) return "DOUBLE";
    if (c->can_date) return "DATE";
    snprintf(buf, len, "VARCHAR(%zu)",
             c->maxlen > MC2_VARCHAR_MAX ? (size_t)MC2_VARCHAR_MAX : c->maxlen);
    return buf;
}

static int print_schema(const infer *in, const char *table, mc2_err *err)
{
    if (in->ncols == 0) return mc2_err_set(err, MC2_E_INPUT, "%s is empty: no header", in->file);
    printf("# schema inferred by `mc2 schema infer` from %s (%llu rows): check the types,\n"
           "# then `mc2 upload --schema THIS.yaml --in %s --as NAME`\n",
           in->file, (unsigned long long)in->records, in->file);
    if (table) printf("table: %s\n", table);
    printf("columns:\n");
    for (size_t k = 0; k < in->ncols; k++) {
        const icol *c = &in->cols[k];
        char buf[48];
        const char *t = col_type(c, buf, sizeof buf);
        if (c->values == 0)
            printf("  # %s has no values in the file: the type is a placeholder\n", c->name);
        else if (c->maxlen > MC2_VARCHAR_MAX && t[0] == 'V')
            printf("  # %s has values longer than %d characters: they will not fit\n", c->name,
                   MC2_VARCHAR_MAX);
        printf("  - {name: %s, type: %s%s}\n", c->name, t,
               c->nulls == 0 && in->records > 0 ? ", nullable: false" : "");
    }
    return 0;
}

/* The default table name: the file's base name without its extension, if it is a name. */
static void default_table(const char *path, char *out, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strcspn(b, ".");
    out[0] = '\0';
    if (n >= len || !ident(b, n)) return;
    memcpy(out, b, n);
    out[n] = '\0';
}

static int infer_file(const char *path, const char *format, const char *table, mc2_err *err)
{
    infer in;
    memset(&in, 0, sizeof in);
    in.file = path;
    in.line = 1;
    size_t pl = strlen(path);
    in.csv = format ? strcmp(format, "csv") == 0 : !(pl >= 4 && strcmp(path + pl - 4, ".tbl") == 0);
    char tname[MC2_MAX_NAME + 1];
    if (!table) {
        default_table(path, tname, sizeof tname);
        table = tname[0] ? tname : NULL;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = mc2_malloc(1 << 16);
    int rc = -1;
    if (!f) {
        mc2_err_set(err, MC2_E_IO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (!buf) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        goto out;
    }
    size_t got;
    while ((got = fread(buf, 1, 1 << 16, f)) > 0)
        if (feed(&in, buf, got, err)) goto out;
    if (ferror(f)) {
        mc2_err_set(err, MC2_E_IO, "reading %s: %s", path, strerror(errno));
        goto out;
    }
    if (in.in_quotes) {
        mc2_err_set(err, MC2_E_INPUT,
                    "%s: a quoted field is not closed at the end of the file (add the closing "
                    "'\"')",
                    path);
        goto out;
    }
    if (in.any_char || in.nf > 0 || in.quoted) {
        bool trailing = !in.csv && in.nf >= 1 && in.field.len == 0;
        if ((!trailing && end_field(&in, err)) || end_record(&in, err)) goto out;
    }
    rc = print_schema(&in, table, err);
out:
    if (f && f != stdin) fclose(f);
    mc2_free(buf);
    for (size_t k = 0; k < in.ncols; k++) mc2_free(in.cols[k].name);
    mc2_free(in.cols);
    mc2_buf_free(&in.field);
    return rc;
}

int cmd_schema(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(SCHEMA_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "infer") != 0)
        return cli_usage("schema", "unknown subcommand '%.40s': `mc2 schema infer DATA.csv`",
                         argv[1]);
    const char *file = NULL, *format = NULL, *table = NULL;
    cli_opt opts[] = {CLI_VAL("format", &format), CLI_VAL("table", &table), CLI_END};
    int code;
    if (cli_parse("schema infer", SCHEMA_HELP, argc - 1, argv + 1, opts, &file, 1, &code))
        return code;
    if (!file) return cli_usage("schema infer", "which file? `mc2 schema infer DATA.csv`");
    if (format && strcmp(format, "csv") != 0 && strcmp(format, "tbl") != 0)
        return cli_usage("schema infer", "--format must be 'csv' or 'tbl', not '%.20s'", format);
    if (table && !ident(table, strlen(table)))
        return cli_usage("schema infer",
                         "--table '%.60s' is not a table name (letters, digits and '_')", table);
    mc2_err err;
    mc2_err_clear(&err);
    return infer_file(file, format, table, &err) ? cli_fail(&err) : CLI_OK;
}
