/* textio.c - CSV (RFC 4180) and TPC-H .tbl text: record scanning, parsing into batches, and
 * writing batches back as text.
 *
 * The rules (docs/format.md, "text formats"):
 *  - A record ends at LF or CRLF outside quotes; the last record may lack its line end. A
 *    CR not followed by LF outside a quoted field is an error. Physical lines (for error
 *    messages) end at LF, CRLF or a lone CR, also inside quoted fields.
 *  - CSV: fields separated by ','; a field either has no '"' at all or is enclosed in '"'
 *    with inner quotes doubled; nothing may follow the closing quote but ',' or the line end.
 *    Quoted fields may hold ',', CR and LF.
 *  - .tbl: fields separated by '|', no quoting; dbgen ends every line with '|', which is
 *    dropped when present ("a|b|" is the two fields a, b; an empty last field is "a|b||").
 *  - No trimming: " 1" is not an INT64.
 *  - Empty fields: see textio.h. A quoted empty field in a non-VARCHAR column is an error
 *    (it is the empty string, which is no number, date or boolean).
 *
 * Speed: scanning and splitting look at 16 bytes at a time for the few bytes that matter
 * (SSE2 where available), fields are converted in place into the batch's arrays (no
 * allocation per field), and INT64, DECIMAL and DOUBLE have inline fast paths for plain
 * digits that give exactly what the value.h parsers give (they handle everything else). */
#include "table/textio.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__) && !defined(MC2_TEXTIO_NO_SIMD)
#include <emmintrin.h>
#define TEXTIO_SSE2 1
#endif

#include "base/alloc.h"
#include "table/value.h"

/* Longest piece of a value quoted in an error message, in bytes. */
#define EXCERPT_MAX 40

/* ---- finding special bytes ------------------------------------------------------------------ */

/* Up to four byte values to look for (repeat one to look for fewer). */
typedef struct specials {
#ifdef TEXTIO_SSE2
    __m128i v[4];
#endif
    unsigned char c[4];
} specials;

static void spec_init(specials *sp, char a, char b, char c, char d)
{
    sp->c[0] = (unsigned char)a;
    sp->c[1] = (unsigned char)b;
    sp->c[2] = (unsigned char)c;
    sp->c[3] = (unsigned char)d;
#ifdef TEXTIO_SSE2
    for (int i = 0; i < 4; i++) sp->v[i] = _mm_set1_epi8((char)sp->c[i]);
#endif
}

/* Bit i set iff p[i] (i < 16) is one of the special bytes. Reads exactly 16 bytes. */
static inline unsigned spec_mask16(const specials *sp, const char *p)
{
#ifdef TEXTIO_SSE2
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp->v[0]), _mm_cmpeq_epi8(x, sp->v[1])),
                     _mm_or_si128(_mm_cmpeq_epi8(x, sp->v[2]), _mm_cmpeq_epi8(x, sp->v[3])));
    return (unsigned)_mm_movemask_epi8(m);
#else
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == sp->c[0] || ch == sp->c[1] || ch == sp->c[2] || ch == sp->c[3]) m |= 1u << i;
    }
    return m;
#endif
}

/* As spec_mask16 for the len < 16 bytes at p (never reads past them). */
static inline unsigned spec_mask_tail(const specials *sp, const char *p, size_t len)
{
    char tmp[16];
    if (len >= 16) MC2_PANIC("spec_mask_tail: len must be below 16");
    memset(tmp, 0, sizeof tmp); /* bytes past len are masked off below */
    memcpy(tmp, p, len);
    return spec_mask16(sp, tmp) & ((1u << len) - 1);
}

/* The first special byte in [q, end), or end. */
static inline const char *spec_find(const specials *sp, const char *q, const char *end)
{
    while (end - q >= 16) {
        unsigned m = spec_mask16(sp, q);
        if (m) return q + __builtin_ctz(m);
        q += 16;
    }
    if (q < end) {
        unsigned m = spec_mask_tail(sp, q, (size_t)(end - q));
        if (m) return q + __builtin_ctz(m);
    }
    return end;
}

/* Physical line ends in [a, b): LF, CRLF and lone CR count one each. a must not be just
 * after a CR whose LF is at a (callers pass record starts). */
static uint64_t count_lines(const char *a, const char *b)
{
    uint64_t n = 0;
    for (const char *q = a; q < b; q++) {
        if (*q == '\n')
            n++;
        else if (*q == '\r' && !(q + 1 < b && q[1] == '\n'))
            n++;
    }
    return n;
}

/* ---- scanning ------------------------------------------------------------------------------- */

size_t mc2_text_scan(enum mc2_textfmt fmt, mc2_scan *st, const char *p, size_t n, uint64_t want,
                     uint64_t *records, uint64_t *lines)
{
    if (n == 0 || want == 0) return 0;
    specials sp;
    if (fmt == MC2_FMT_CSV)
        spec_init(&sp, '\n', '\r', '"', '"');
    else
        spec_init(&sp, '\n', '\r', '\r', '\r');
    int inq = st->in_quotes;
    size_t lf_pairs = st->last_cr ? 0 : SIZE_MAX; /* an LF at this index completes a CRLF */
    uint64_t rec = 0, ln = 0;
    size_t done = n;
    for (size_t base = 0; base < n; base += 16) {
        size_t left = n - base;
        unsigned m = left >= 16 ? spec_mask16(&sp, p + base) : spec_mask_tail(&sp, p + base, left);
        while (m) {
            size_t i = base + (size_t)__builtin_ctz(m);
            m &= m - 1;
            char c = p[i];
            if (c == '\n') {
                if (i != lf_pairs) ln++;
                if (!inq && ++rec == want) {
                    done = i + 1;
                    goto out;
                }
            } else if (c == '\r') {
                ln++;
                lf_pairs = i + 1;
            } else {
                inq ^= 1;
            }
        }
    }
out:
    st->in_quotes = inq;
    st->last_cr = p[done - 1] == '\r';
    *records += rec;
    *lines += ln;
    return done;
}

/* ---- parsing: records into fields ----------------------------------------------------------- */

/* One field of a record: the bytes between the delimiters, or inside the quotes (with any
 * doubled quotes still doubled, flagged by esc). */
typedef struct field {
    const char *s;
    size_t n;
    uint8_t quoted;
    uint8_t esc;
} field;

typedef struct tparse {
    enum mc2_textfmt fmt;
    char delim;
    const char *end;
    const char *file;
    const mc2_schema *s;
    size_t ncols;
    const char *rec; /* start of the current record */
    uint64_t line;   /* physical line of rec */
    size_t nf;       /* fields in the current record (only the first ncols are stored) */
    field *f;
    specials sp;  /* unquoted field ends: delimiter, LF, CR, and '"' for CSV */
    specials spq; /* inside quotes: '"' */
    mc2_err *err;
} tparse;

static void tparse_init(tparse *t, enum mc2_textfmt fmt, const char *p, size_t n, const char *file,
                        uint64_t line, const mc2_schema *s, field *f, mc2_err *err)
{
    t->fmt = fmt;
    t->delim = fmt == MC2_FMT_CSV ? ',' : '|';
    t->end = p + n;
    t->file = file ? file : "input";
    t->s = s;
    t->ncols = s->ncols;
    t->rec = p;
    t->line = line;
    t->nf = 0;
    t->f = f;
    if (fmt == MC2_FMT_CSV)
        spec_init(&t->sp, ',', '\n', '\r', '"');
    else
        spec_init(&t->sp, '|', '\n', '\r', '\r');
    spec_init(&t->spq, '"', '"', '"', '"');
    t->err = err;
}

/* Writes s[0..n) into dst (at least 4 * EXCERPT_MAX + 8 bytes) for an error message:
 * at most EXCERPT_MAX bytes (cut at a character boundary, "..." marks the cut), control
 * bytes, quotes and backslashes escaped, and all non-ASCII bytes escaped if the text is not
 * valid UTF-8. */
static void excerpt(char *dst, const char *s, size_t n)
{
    size_t k = n;
    bool cut = false;
    if (k > EXCERPT_MAX) {
        k = EXCERPT_MAX;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (k == 0) k = EXCERPT_MAX; /* not UTF-8 at all: shown escaped below */
        cut = true;
    }
    size_t nch;
    const char *why;
    bool utf8 = mc2_utf8_check(s, k, &nch, &why) == 0;
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            dst[w++] = '\\';
            dst[w++] = 'n';
        } else if (c == '\r') {
            dst[w++] = '\\';
            dst[w++] = 'r';
        } else if (c == '\t') {
            dst[w++] = '\\';
            dst[w++] = 't';
        } else if (c == '\'' || c == '\\') {
            dst[w++] = '\\';
            dst[w++] = (char)c;
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            dst[w++] = '\\';
            dst[w++] = 'x';
            dst[w++] = hex[c >> 4];
            dst[w++] = hex[c & 15];
        } else {
            dst[w++] = (char)c;
        }
    }
    if (cut) {
        memcpy(dst + w, "...", 3);
        w += 3;
    }
    dst[w] = '\0';
}
#define EXCERPT_BUF (4 * EXCERPT_MAX + 8)

/* Sets an MC2_E_INPUT error "FILE line L, column C (NAME): MESSAGE" for column col (0-based;
 * SIZE_MAX for a whole-record error, which omits the column) at byte `at` of the current
 * record. Returns -1. */
__attribute__((format(printf, 4, 5))) static int perr(const tparse *t, const char *at, size_t col,
                                                      const char *fmt, ...)
{
    char msg[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned long long line = (unsigned long long)(t->line + count_lines(t->rec, at));
    if (col == SIZE_MAX)
        return mc2_err_set(t->err, MC2_E_INPUT, "%s line %llu: %s", t->file, line, msg);
    if (col < t->ncols)
        return mc2_err_set(t->err, MC2_E_INPUT, "%s line %llu, column %zu (%s): %s", t->file, line,
                           col + 1, t->s->cols[col].name, msg);
    return mc2_err_set(t->err, MC2_E_INPUT,
                       "%s line %llu, column %zu (beyond the schema's %zu): %s", t->file, line,
                       col + 1, t->ncols, msg);
}

/* In split_record: report an error and return NULL. */
#define SPLIT_FAIL(...)                                                                            \
    do {                                                                                           \
        perr(__VA_ARGS__);                                                                         \
        return NULL;                                                                               \
    } while (0)

/* Splits the record starting at q into t->f / t->nf. Returns the start of the next record
 * (after the line end), or NULL with the error set. */
static const char *split_record(tparse *t, const char *q)
{
    const char *end = t->end;
    const bool csv = t->fmt == MC2_FMT_CSV;
    const char delim = t->delim;
    size_t nf = 0;
    field fl = {0};
    t->rec = q;
    for (;;) {
        const char *x; /* the field's terminator: delimiter, CR, LF, or end */
        if (csv && q < end && *q == '"') {
            const char *a = q + 1, *r = a;
            bool esc = false;
            for (;;) {
                r = spec_find(&t->spq, r, end);
                if (r == end) {
                    t->nf = nf;
                    SPLIT_FAIL(t, q, nf,
                               "a quoted field starts here but its closing '\"' is missing (the "
                               "field runs to the end of the input); add the closing quote, "
                               "and double any '\"' inside the field (\"\")");
                }
                if (r + 1 < end && r[1] == '"') {
                    esc = true;
                    r += 2;
                    continue;
                }
                break;
            }
            fl.s = a;
            fl.n = (size_t)(r - a);
            fl.quoted = 1;
            fl.esc = esc;
            x = r + 1;
            if (x < end && *x != delim && *x != '\n' && *x != '\r') {
                size_t k = 1; /* one character */
                while (x + k < end && k < 4 && ((unsigned char)x[k] & 0xC0) == 0x80) k++;
                char ex[EXCERPT_BUF];
                excerpt(ex, x, k);
                SPLIT_FAIL(t, x, nf,
                           "unexpected '%s' after the closing quote; a '\"' inside a quoted "
                           "field must be doubled (\"\"), and the field must end at the quote",
                           ex);
            }
        } else {
            x = spec_find(&t->sp, q, end);
            if (x < end && *x == '"')
                SPLIT_FAIL(t, x, nf,
                           "a '\"' inside a field that does not start with a quote; enclose "
                           "the whole field in double quotes and double the quote inside "
                           "(\"\")");
            fl.s = q;
            fl.n = (size_t)(x - q);
            fl.quoted = 0;
            fl.esc = 0;
        }
        if (nf < t->ncols) t->f[nf] = fl;
        nf++;
        if (x == end) {
            q = end;
            break;
        }
        if (*x == delim) {
            q = x + 1;
            continue;
        }
        if (*x == '\n') {
            q = x + 1;
            break;
        }
        /* '\r' */
        if (x + 1 < end && x[1] == '\n') {
            q = x + 2;
            break;
        }
        SPLIT_FAIL(t, x, nf - 1,
                   "a carriage return (CR) that is not followed by a line feed; line ends must "
                   "be LF or CRLF (a CR inside a value needs a quoted CSV field)");
    }
    /* dbgen's trailing '|': "a|b|" is the two fields a and b. */
    if (!csv && nf >= 2 && fl.n == 0) nf--;
    t->nf = nf;
    return q;
}

/* ---- parsing: fields into values ------------------------------------------------------------ */

/* Exact fast paths. Each accepts a subset of what the value.h parser accepts and gives the same
 * result; false means "ask the value.h parser" (which also produces the error message). */

static inline bool fast_int64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (n - i == 0 || n - i > 18) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9) return false;
        v = v * 10 + d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v; /* |v| < 10^18: no overflow */
    return true;
}

static const uint64_t pow10_u64[19] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull};

/* [-]digits[.digits] with 1..18 integer digits and 1..scale fraction digits (if any). */
static inline bool fast_decimal(const char *s, size_t n, unsigned prec, unsigned scale,
                                int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    size_t i0 = i;
    uint64_t iv = 0, fv = 0;
    while (i < n) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9) break;
        iv = iv * 10 + d;
        i++;
    }
    size_t ni = i - i0;
    if (ni == 0 || ni > 18) return false;
    size_t nfr = 0;
    if (i < n) {
        if (s[i] != '.') return false;
        i++;
        size_t f0 = i;
        while (i < n) {
            unsigned d = (unsigned)((unsigned char)s[i] - '0');
            if (d > 9) return false;
            fv = fv * 10 + d;
            i++;
            if (i - f0 > scale) return false; /* also bounds fv below 10^18 */
        }
        nfr = i - f0;
        if (nfr == 0) return false;
    }
    if (iv >= pow10_u64[prec - scale]) return false; /* too many significant integer digits */
    uint64_t v = iv * pow10_u64[scale] + fv * pow10_u64[scale - nfr]; /* < 10^prec <= 10^18 */
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* [-]digits[.digits] with at most 15 digits in all: the digits are exact in a double, and so
 * is 10^k for k <= 15, so one division is the correctly rounded value, which is what strtod
 * (behind mc2_parse_double) returns. */
static inline bool fast_double(const char *s, size_t n, double *out)
{
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0;
    bool neg = false;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (n - i == 0 || n - i > 16) return false; /* 15 digits and a point at most */
    uint64_t m = 0;
    size_t ni = 0, nfr = 0;
    while (i < n) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');
        if (d > 9) break;
        m = m * 10 + d;
        i++;
        ni++;
    }
    if (ni == 0) return false;
    if (i < n) {
        if (s[i] != '.') return false;
        i++;
        while (i < n) {
            unsigned d = (unsigned)((unsigned char)s[i] - '0');
            if (d > 9) return false;
            m = m * 10 + d;
            i++;
            nfr++;
        }
        if (nfr == 0) return false;
    }
    if (ni + nfr > 15) return false;
    double v = (double)m / p10[nfr];
    *out = neg ? -v : v;
    return true;
}

/* True if s[0..n) is all ASCII. */
static inline bool all_ascii(const char *s, size_t n)
{
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) == 0;
}

/* Copies quoted content s[0..n) to dst with each "" collapsed to "; returns the length. */
static size_t unescape(char *dst, const char *s, size_t n)
{
    size_t w = 0;
    const char *end = s + n;
    while (s < end) {
        const char *qq = memchr(s, '"', (size_t)(end - s));
        if (!qq) {
            memcpy(dst + w, s, (size_t)(end - s));
            w += (size_t)(end - s);
            break;
        }
        size_t k = (size_t)(qq - s) + 1; /* up to and including one quote */
        memcpy(dst + w, s, k);
        w += k;
        s = qq + 2; /* skip its twin */
    }
    return w;
}

static const char *type_name(const mc2_coltype *ty, char *buf, size_t len)
{
    mc2_type_format(ty, buf, len);
    return buf;
}

/* Reports a value the type's parser rejected. */
static int bad_value(const tparse *t, size_t c, const field *f, const char *why)
{
    char ex[EXCERPT_BUF], tn[64];
    excerpt(ex, f->s, f->n);
    return perr(t, f->s - f->quoted, c,
                "cannot read '%s' as %s: %s; correct the value, or change the column's type in "
                "the schema",
                ex, type_name(&t->s->cols[c].type, tn, sizeof tn), why);
}

/* Stores VARCHAR field f as row `row` of column c. */
static int put_varchar(tparse *t, mc2_batch *b, size_t c, size_t row, const field *f)
{
    mc2_col *col = &b->cols[c];
    uint32_t used = col->off[row];
    size_t n = f->n;
    if (n > UINT32_MAX - used)
        return perr(t, f->s, c,
                    "the column's text in this block exceeds 4 GiB; use fewer rows per block");
    /* 16 bytes of slack let short values be copied with one fixed-size move. */
    size_t slack = UINT32_MAX - used - n >= 16 ? 16 : 0;
    if (n + slack > col->data_cap - used) {
        if (mc2_batch_reserve_chars(b, c, n + slack, t->err)) return -1;
    }
    char *dst = col->data + used;
    /* Check the source, not the fresh copy: reading back just-stored bytes stalls. The quotes
     * unescape drops are ASCII, so the answer is the same. */
    bool ascii = all_ascii(f->s, n);
    if (f->esc)
        n = unescape(dst, f->s, n);
    else if (n <= 16 && slack && t->end - f->s >= 16)
        memcpy(dst, f->s, 16);
    else
        memcpy(dst, f->s, n);
    size_t nch = n;
    if (!ascii) {
        const char *why;
        if (mc2_utf8_check(dst, n, &nch, &why))
            return perr(t, f->s - f->quoted, c,
                        "%s in the value; mc2 reads text as UTF-8: convert the file (for example "
                        "with iconv -f LATIN1 -t UTF-8)",
                        why);
    }
    uint32_t maxlen = t->s->cols[c].type.length;
    if (nch > maxlen) {
        char ex[EXCERPT_BUF];
        excerpt(ex, dst, n);
        return perr(t, f->s - f->quoted, c,
                    "value '%s' is %zu characters long but the column is VARCHAR(%u); shorten it "
                    "or declare a larger length in the schema",
                    ex, nch, maxlen);
    }
    col->off[row + 1] = used + (uint32_t)n;
    return 0;
}

/* Stores row `row` of column c as NULL (or, for a NOT NULL column, reports the error). */
static int put_empty(tparse *t, mc2_batch *b, size_t c, size_t row, const field *f)
{
    const mc2_column_def *d = &t->s->cols[c];
    mc2_col *col = &b->cols[c];
    bool is_str = d->type.id == MC2_T_VARCHAR;
    if (is_str && (f->quoted || !d->nullable)) { /* the empty string */
        if (d->nullable) col->nulls[row] = 0;
        col->off[row + 1] = col->off[row];
        return 0;
    }
    char tn[64];
    if (f->quoted)
        return perr(t, f->s - 1, c,
                    "\"\" (a quoted empty string) is not a valid %s; for NULL leave the field "
                    "empty without quotes",
                    type_name(&d->type, tn, sizeof tn));
    if (!d->nullable)
        return perr(t, f->s, c,
                    "empty value in a NOT NULL %s column; supply a value, or declare the column "
                    "nullable in the schema",
                    type_name(&d->type, tn, sizeof tn));
    col->nulls[row] = 1;
    switch (d->type.id) {
    case MC2_T_INT64:
    case MC2_T_DECIMAL:
        col->v.i64[row] = 0;
        break;
    case MC2_T_DEC128:
        col->v.i128[row] = 0;
        break;
    case MC2_T_DOUBLE:
        col->v.f64[row] = 0.0;
        break;
    case MC2_T_DATE:
        col->v.i32[row] = 0;
        break;
    case MC2_T_BOOL:
        col->v.b[row] = 0;
        break;
    case MC2_T_VARCHAR:
        col->off[row + 1] = col->off[row];
        break;
    }
    return 0;
}

/* Converts the t->ncols fields of the current record into row `row` of b. */
static int convert_record(tparse *t, mc2_batch *b, size_t row)
{
    const mc2_column_def *defs = t->s->cols;
    for (size_t c = 0; c < t->ncols; c++) {
        const field *f = &t->f[c];
        const mc2_column_def *d = &defs[c];
        mc2_col *col = &b->cols[c];
        if (f->n == 0) {
            if (put_empty(t, b, c, row, f)) return -1;
            continue;
        }
        if (d->nullable) col->nulls[row] = 0;
        const char *why = NULL;
        switch (d->type.id) {
        case MC2_T_INT64:
            if (!fast_int64(f->s, f->n, &col->v.i64[row]) &&
                mc2_parse_int64(f->s, f->n, &col->v.i64[row], &why))
                return bad_value(t, c, f, why);
            break;
        case MC2_T_DECIMAL:
            if (!fast_decimal(f->s, f->n, d->type.precision, d->type.scale, &col->v.i64[row]) &&
                mc2_parse_decimal(f->s, f->n, d->type.precision, d->type.scale, &col->v.i64[row],
                                  &why))
                return bad_value(t, c, f, why);
            break;
        case MC2_T_DEC128: {
            mc2_i128 v;
            if (mc2_parse_decimal128(f->s, f->n, d->type.precision, d->type.scale, &v, &why))
                return bad_value(t, c, f, why);
            col->v.i128[row] = v;
            break;
        }
        case MC2_T_DOUBLE:
            if (!fast_double(f->s, f->n, &col->v.f64[row]) &&
                mc2_parse_double(f->s, f->n, &col->v.f64[row], &why))
                return bad_value(t, c, f, why);
            break;
        case MC2_T_DATE:
            if (mc2_parse_date(f->s, f->n, &col->v.i32[row], &why)) return bad_value(t, c, f, why);
            break;
        case MC2_T_BOOL:
            if (mc2_parse_bool(f->s, f->n, &col->v.b[row], &why)) return bad_value(t, c, f, why);
            break;
        case MC2_T_VARCHAR:
            if (put_varchar(t, b, c, row, f)) return -1;
            break;
        }
    }
    return 0;
}

int mc2_text_parse(enum mc2_textfmt fmt, const char *p, size_t n, const mc2_textpos *pos,
                   mc2_batch *b, mc2_err *err)
{
    if (n == 0) return 0;
    const mc2_schema *s = b->schema;
    field *f = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *f);
    if (!f) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu column slots)", s->ncols);
    tparse t;
    tparse_init(&t, fmt, p, n, pos ? pos->file : NULL, pos ? pos->line : 1, s, f, err);
    int rc = -1;
    const char *q = p, *end = p + n;
    while (q < end) {
        const char *next = split_record(&t, q);
        if (!next) goto out;
        if (t.nf == 1 && t.ncols > 1 && f[0].n == 0 && !f[0].quoted) {
            perr(&t, q, SIZE_MAX,
                 "expected %zu columns, found an empty line; remove blank lines (every line is a "
                 "record)",
                 t.ncols);
            goto out;
        }
        if (t.nf != t.ncols) {
            perr(&t, q, SIZE_MAX,
                 "expected %zu columns, found %zu; every record needs one field per schema "
                 "column%s",
                 t.ncols, t.nf,
                 fmt == MC2_FMT_CSV
                     ? " (a field that holds ',' or a line break must be in double quotes)"
                     : " ('|'-separated, optionally ending with '|'; a field cannot hold '|')");
            goto out;
        }
        if (b->nrows >= b->cap) {
            mc2_err_set(err, MC2_E_INTERNAL,
                        "mc2_text_parse: the batch holds %zu rows and the text has more (a bug "
                        "in mc2: batches are sized from mc2_text_scan)",
                        b->cap);
            goto out;
        }
        if (convert_record(&t, b, b->nrows)) goto out;
        b->nrows++;
        /* One line, plus any line breaks inside quoted fields (the only place they occur). */
        uint64_t nl = 1;
        for (size_t c = 0; c < t.ncols; c++)
            if (f[c].quoted) nl += count_lines(f[c].s, f[c].s + f[c].n);
        t.line += nl;
        q = next;
    }
    rc = 0;
out:
    mc2_free(f);
    return rc;
}

/* ---- the CSV header ------------------------------------------------------------------------- */

/* Compares field f (unescaping "" pairs) with name, ignoring ASCII case. */
static bool field_name_eq(const field *f, const char *name)
{
    size_t i = 0, j = 0;
    for (; i < f->n; i++, j++) {
        char a = f->s[i], c = name[j];
        if (c == '\0') return false;
        if (f->esc && a == '"') i++; /* the twin of a doubled quote */
        if (a >= 'A' && a <= 'Z') a = (char)(a + ('a' - 'A'));
        if (c >= 'A' && c <= 'Z') c = (char)(c + ('a' - 'A'));
        if (a != c) return false;
    }
    return name[j] == '\0';
}

int mc2_text_check_header(const char *p, size_t n, const mc2_schema *s, const char *file,
                          mc2_err *err)
{
    /* A UTF-8 byte order mark (spreadsheets write one) and a stray CR are not part of it. */
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
    if (n > 0 && p[n - 1] == '\r') n--;
    field *f = mc2_calloc(s->ncols ? s->ncols : 1, sizeof *f);
    if (!f) return mc2_err_set(err, MC2_E_NOMEM, "out of memory (%zu column slots)", s->ncols);
    tparse t;
    tparse_init(&t, MC2_FMT_CSV, p, n, file, 1, s, f, err);
    int rc = -1;
    const char *next = split_record(&t, p);
    if (!next) goto out;
    if (next != p + n) {
        perr(&t, p, SIZE_MAX, "the header row contains a line break outside quotes");
        goto out;
    }
    size_t both = t.nf < s->ncols ? t.nf : s->ncols;
    for (size_t c = 0; c < both; c++) {
        if (field_name_eq(&f[c], s->cols[c].name)) continue;
        char ex[EXCERPT_BUF];
        excerpt(ex, f[c].s, f[c].n);
        perr(&t, f[c].s, c,
             "the header says '%s' where the schema has column '%s'; the header must name the "
             "schema's %zu columns in order (case is ignored)",
             ex, s->cols[c].name, s->ncols);
        goto out;
    }
    if (t.nf < s->ncols) {
        perr(&t, p, SIZE_MAX,
             "the header has %zu columns but the schema has %zu; it lacks '%s'%s (the header must "
             "name the schema's columns in order)",
             t.nf, s->ncols, s->cols[t.nf].name, t.nf + 1 < s->ncols ? " and more" : "");
        goto out;
    }
    if (t.nf > s->ncols) {
        perr(&t, p, SIZE_MAX,
             "the header has %zu columns but the schema has %zu; remove the extra columns from "
             "the file or add them to the schema",
             t.nf, s->ncols);
        goto out;
    }
    rc = 0;
out:
    mc2_free(f);
    return rc;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Whether CSV needs quotes around s[0..n). */
static inline bool csv_needs_quotes(const char *s, size_t n)
{
    if (n == 0) return true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
    }
    return false;
}

/* Writes s[0..n) quoted, doubling quotes; returns bytes written (at most 2n + 2). */
static size_t put_quoted(char *w, const char *s, size_t n)
{
    size_t k = 0;
    w[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') w[k++] = '"';
        w[k++] = s[i];
    }
    w[k++] = '"';
    return k;
}

/* YYYY-MM-DD without snprintf (the writer's hot path); the same text as mc2_format_date. */
static inline size_t put_date(int32_t days, char *w)
{
    if (days < MC2_DATE_MIN || days > MC2_DATE_MAX) return mc2_format_date(days, w);
    int y;
    unsigned m, d;
    mc2_civil_from_days(days, &y, &m, &d);
    unsigned uy = (unsigned)y;
    w[0] = (char)('0' + uy / 1000);
    w[1] = (char)('0' + uy / 100 % 10);
    w[2] = (char)('0' + uy / 10 % 10);
    w[3] = (char)('0' + uy % 10);
    w[4] = '-';
    w[5] = (char)('0' + m / 10);
    w[6] = (char)('0' + m % 10);
    w[7] = '-';
    w[8] = (char)('0' + d / 10);
    w[9] = (char)('0' + d % 10);
    return 10;
}

int mc2_text_write_header(const mc2_schema *s, mc2_buf *out, mc2_err *err)
{
    for (size_t c = 0; c < s->ncols; c++) {
        const char *name = mc2_col_display(s, c); /* a result's SQL name, else the name */
        size_t n = strlen(name);
        if (mc2_buf_reserve(out, 2 * n + 3, err)) return -1;
        char *w = (char *)out->data + out->len;
        size_t k = 0;
        if (c) w[k++] = ',';
        if (csv_needs_quotes(name, n)) {
            k += put_quoted(w + k, name, n);
        } else {
            memcpy(w + k, name, n);
            k += n;
        }
        out->len += k;
    }
    return mc2_buf_append(out, "\n", 1, err);
}

int mc2_text_write_batch(enum mc2_textfmt fmt, const mc2_batch *b, mc2_buf *out, mc2_err *err)
{
    const mc2_schema *s = b->schema;
    const bool csv = fmt == MC2_FMT_CSV;
    const char delim = csv ? ',' : '|';
    /* Per row: every fixed-width value with its delimiter, the trailing '|' and '\n'. */
    size_t fixed = s->ncols * (MC2_VALUE_TEXT_MAX + 1) + 2;
    for (size_t r = 0; r < b->nrows; r++) {
        size_t need = fixed;
        for (size_t c = 0; c < s->ncols; c++) {
            if (s->cols[c].type.id != MC2_T_VARCHAR) continue;
            size_t len = b->cols[c].off[r + 1] - b->cols[c].off[r];
            if (!mc2_add_size(need, 2 * len + 2, &need))
                return mc2_err_set(err, MC2_E_LIMIT, "row too long to write");
        }
        if (mc2_buf_reserve(out, need, err)) return -1;
        char *w0 = (char *)out->data + out->len, *w = w0;
        for (size_t c = 0; c < s->ncols; c++) {
            const mc2_column_def *d = &s->cols[c];
            const mc2_col *col = &b->cols[c];
            if (c) *w++ = delim;
            if (d->nullable && col->nulls[r]) continue;
            switch (d->type.id) {
            case MC2_T_INT64:
                w += mc2_format_int64(col->v.i64[r], w);
                break;
            case MC2_T_DECIMAL:
                w += mc2_format_decimal(col->v.i64[r], d->type.scale, w);
                break;
            case MC2_T_DEC128:
                w += mc2_format_decimal128(col->v.i128[r], d->type.scale, w);
                break;
            case MC2_T_DOUBLE:
                w += mc2_format_double(col->v.f64[r], w);
                break;
            case MC2_T_DATE:
                w += put_date(col->v.i32[r], w);
                break;
            case MC2_T_BOOL:
                if (col->v.b[r]) {
                    memcpy(w, "true", 4);
                    w += 4;
                } else {
                    memcpy(w, "false", 5);
                    w += 5;
                }
                break;
            case MC2_T_VARCHAR: {
                const char *v = col->data + col->off[r];
                size_t len = col->off[r + 1] - col->off[r];
                if (csv) {
                    if (csv_needs_quotes(v, len)) {
                        w += put_quoted(w, v, len);
                        break;
                    }
                } else if (memchr(v, '|', len) || memchr(v, '\n', len) || memchr(v, '\r', len)) {
                    return mc2_err_set(err, MC2_E_INPUT,
                                       "row %zu, column %zu (%s): the value contains '|' or a "
                                       "line break, which a .tbl file cannot hold; write CSV "
                                       "instead",
                                       r + 1, c + 1, d->name);
                } else if (len == 0 && d->nullable) {
                    return mc2_err_set(err, MC2_E_INPUT,
                                       "row %zu, column %zu (%s): an empty string in a nullable "
                                       "column would read back from .tbl as NULL; write CSV "
                                       "instead",
                                       r + 1, c + 1, d->name);
                }
                memcpy(w, v, len);
                w += len;
                break;
            }
            }
        }
        if (!csv) *w++ = '|';
        *w++ = '\n';
        out->len += (size_t)(w - w0);
    }
    return 0;
}
