/* value.c - exact, locale- and time-zone-independent parsing and formatting of single values. */
#include "table/value.h"

#include "base/alloc.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest DOUBLE text accepted. Real data never comes close; the limit keeps the NUL-terminated
 * copy strtod needs on the stack. */
#define DOUBLE_TEXT_MAX 400

static const int64_t pow10_tab[19] = {1,
                                      10,
                                      100,
                                      1000,
                                      10000,
                                      100000,
                                      1000000,
                                      10000000,
                                      100000000,
                                      1000000000,
                                      10000000000,
                                      100000000000,
                                      1000000000000,
                                      10000000000000,
                                      100000000000000,
                                      1000000000000000,
                                      10000000000000000,
                                      100000000000000000,
                                      1000000000000000000};

int64_t mc2_pow10(unsigned k)
{
    if (k > 18) MC2_PANIC("mc2_pow10: exponent above 18");
    return pow10_tab[k];
}

mc2_i128 mc2_pow10_128(unsigned k)
{
    if (k > MC2_DEC128_MAX_PRECISION) MC2_PANIC("mc2_pow10_128: exponent above 38");
    mc2_i128 r = 1;
    while (k-- > 0) r *= 10;
    return r;
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- parsers -------------------------------------------------------------------------------- */

int mc2_parse_int64(const char *s, size_t n, int64_t *out, const char **why)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n) {
        *why = "not an integer";
        return -1;
    }
    /* Check the syntax first so "12x" is "not an integer" even when it is also long. */
    for (size_t j = i; j < n; j++)
        if (!is_digit(s[j])) {
            *why = "not an integer";
            return -1;
        }
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10) {
            *why = "out of range for INT64";
            return -1;
        }
        acc = acc * 10 + d;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

int mc2_parse_double(const char *s, size_t n, double *out, const char **why)
{
    /* Validate the syntax ourselves: strtod would also take hex, inf, nan and leading space. */
    size_t i = 0, nd = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    while (i < n && is_digit(s[i])) i++, nd++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) i++, nd++;
    }
    if (nd == 0) goto syntax;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        size_t ne = 0;
        while (i < n && is_digit(s[i])) i++, ne++;
        if (ne == 0) goto syntax;
    }
    if (i != n) goto syntax;
    if (n > DOUBLE_TEXT_MAX) {
        *why = "number is too long for DOUBLE (more than 400 characters)";
        return -1;
    }
    char tmp[DOUBLE_TEXT_MAX + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    int saved = errno;
    errno = 0;
    double v = strtod(tmp, &end);
    int e = errno;
    errno = saved;
    /* strtod follows LC_NUMERIC; mc2 never calls setlocale, so the decimal point is '.'. Were
     * it not, strtod would stop early and we report an error instead of a wrong value. */
    if (end != tmp + n) goto syntax;
    if (isinf(v) || (e == ERANGE && fabs(v) > 1.0)) {
        *why = "out of range for DOUBLE";
        return -1;
    }
    *out = v; /* underflow rounds towards zero like any other decimal-to-binary rounding */
    return 0;
syntax:
    *why = "not a number";
    return -1;
}

int mc2_parse_decimal(const char *s, size_t n, unsigned precision, unsigned scale, int64_t *out,
                      const char **why)
{
    if (precision < 1 || precision > MC2_DECIMAL_MAX_PRECISION || scale > precision)
        MC2_PANIC("mc2_parse_decimal: invalid precision or scale");
    mc2_i128 v;
    if (mc2_parse_decimal128(s, n, precision, scale, &v, why) != 0) return -1;
    *out = (int64_t)v; /* at most 18 digits */
    return 0;
}

int mc2_parse_decimal128(const char *s, size_t n, unsigned precision, unsigned scale, mc2_i128 *out,
                         const char **why)
{
    if (precision < 1 || precision > MC2_DEC128_MAX_PRECISION || scale > precision)
        MC2_PANIC("mc2_parse_decimal128: invalid precision or scale");
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    size_t int_start = i;
    while (i < n && is_digit(s[i])) i++;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(s[i])) i++;
        frac_end = i;
        if (frac_end == frac_start) goto syntax; /* "5." */
    }
    if (i != n || (int_end == int_start && frac_end == frac_start)) goto syntax;

    size_t j = int_start;
    while (j < int_end && s[j] == '0') j++; /* leading zeros are not significant */
    if (int_end - j > precision - scale) {
        *why = "too many digits before the decimal point for the column's DECIMAL(p,s)";
        return -1;
    }
    size_t nf = frac_end - frac_start;
    if (nf > scale) {
        *why = "too many digits after the decimal point for the column's scale (mc2 never "
               "rounds)";
        return -1;
    }
    /* At most precision <= 38 significant digits: the value fits in 128 bits without checks. */
    mc2_i128 acc = 0;
    for (; j < int_end; j++) acc = acc * 10 + (s[j] - '0');
    for (j = frac_start; j < frac_end; j++) acc = acc * 10 + (s[j] - '0');
    acc *= mc2_pow10_128((unsigned)(scale - nf));
    *out = neg ? -acc : acc;
    return 0;
syntax:
    *why = "not a decimal number";
    return -1;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29u : dim[m - 1];
}

int mc2_parse_date(const char *s, size_t n, int32_t *out, const char **why)
{
    static const unsigned char digit_at[10] = {1, 1, 1, 1, 0, 1, 1, 0, 1, 1};
    if (n != 10 || s[4] != '-' || s[7] != '-') goto syntax;
    for (int i = 0; i < 10; i++)
        if (digit_at[i] && !is_digit(s[i])) goto syntax;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 1) {
        *why = "year out of range (0001..9999)";
        return -1;
    }
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
        *why = "not a real calendar day";
        return -1;
    }
    *out = mc2_days_from_civil(y, m, d);
    return 0;
syntax:
    *why = "not a date (expected YYYY-MM-DD)";
    return -1;
}

/* ASCII case-insensitive comparison of s[0..n) with the lowercase word w. */
static bool word_eq(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + ('a' - 'A'));
        if (c != w[i]) return false;
    }
    return i == n && w[i] == '\0';
}

int mc2_parse_bool(const char *s, size_t n, uint8_t *out, const char **why)
{
    static const char *const t[] = {"true", "t", "1", "yes"};
    static const char *const f[] = {"false", "f", "0", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (word_eq(s, n, t[i])) {
            *out = 1;
            return 0;
        }
        if (word_eq(s, n, f[i])) {
            *out = 0;
            return 0;
        }
    }
    *why = "not a boolean (expected true/false, t/f, 1/0 or yes/no)";
    return -1;
}

int mc2_utf8_check(const char *str, size_t n, size_t *nchars, const char **why)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, count = 0;
    while (i < n) {
        /* Fast path: eight ASCII bytes at a time. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
            count += 8;
        }
        if (i >= n) break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            count++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            *why = c < 0xC2 && c >= 0xC0 ? "invalid UTF-8 (overlong encoding)" : "invalid UTF-8";
            return -1;
        }
        if (n - i <= need) {
            *why = "invalid UTF-8 (truncated sequence)";
            return -1;
        }
        unsigned c1 = s[i + 1];
        if (c1 < lo || c1 > hi) {
            if (c == 0xED && c1 >= 0xA0 && c1 <= 0xBF)
                *why = "invalid UTF-8 (encoded surrogate)";
            else if ((c == 0xE0 || c == 0xF0) && c1 >= 0x80 && c1 < lo)
                *why = "invalid UTF-8 (overlong encoding)";
            else
                *why = "invalid UTF-8";
            return -1;
        }
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) {
                *why = "invalid UTF-8";
                return -1;
            }
        i += need + 1;
        count++;
    }
    *nchars = count;
    return 0;
}

/* ---- formatters ------------------------------------------------------------------------------ */

/* Writes the decimal digits of v at buf (no terminator); returns their count. */
static size_t put_u64(uint64_t v, char *buf)
{
    char tmp[20];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < k; i++) buf[i] = tmp[k - 1 - i];
    return k;
}

size_t mc2_format_int64(int64_t v, char *buf)
{
    size_t k = 0;
    uint64_t mag = (uint64_t)v;
    if (v < 0) {
        buf[k++] = '-';
        mag = 0 - mag;
    }
    k += put_u64(mag, buf + k);
    buf[k] = '\0';
    return k;
}

size_t mc2_format_double(double v, char *buf)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, MC2_VALUE_TEXT_MAX, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v) break;
    }
    if (len < 0 || len >= MC2_VALUE_TEXT_MAX) MC2_PANIC("mc2_format_double: snprintf failed");
    return (size_t)len;
}

size_t mc2_format_decimal(int64_t v, unsigned scale, char *buf)
{
    if (scale > MC2_DECIMAL_MAX_PRECISION) MC2_PANIC("mc2_format_decimal: scale above 18");
    if (scale == 0) return mc2_format_int64(v, buf);
    size_t k = 0;
    uint64_t mag = (uint64_t)v;
    if (v < 0) {
        buf[k++] = '-';
        mag = 0 - mag;
    }
    uint64_t p = (uint64_t)pow10_tab[scale];
    k += put_u64(mag / p, buf + k);
    buf[k++] = '.';
    uint64_t frac = mag % p;
    for (unsigned i = scale; i-- > 0;) {
        buf[k + i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    k += scale;
    buf[k] = '\0';
    return k;
}

size_t mc2_format_decimal128(mc2_i128 v, unsigned scale, char *buf)
{
    if (scale > MC2_DEC128_MAX_PRECISION) MC2_PANIC("mc2_format_decimal128: scale above 38");
    __extension__ unsigned __int128 mag = (unsigned __int128)v;
    size_t k = 0;
    if (v < 0) {
        buf[k++] = '-';
        mag = 0 - mag;
    }
    char dig[40]; /* 2^127 has 39 digits */
    unsigned nd = 0;
    do {
        dig[nd++] = (char)('0' + (unsigned)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    while (nd <= scale) dig[nd++] = '0'; /* at least one digit before the point */
    for (unsigned i = nd; i-- > 0;) {
        buf[k++] = dig[i];
        if (i == scale && scale > 0) buf[k++] = '.';
    }
    buf[k] = '\0';
    return k;
}

size_t mc2_format_date(int32_t days, char *buf)
{
    int y;
    unsigned m, d;
    mc2_civil_from_days(days, &y, &m, &d);
    int len = snprintf(buf, MC2_VALUE_TEXT_MAX, "%04d-%02u-%02u", y, m, d);
    if (len < 0 || len >= MC2_VALUE_TEXT_MAX) MC2_PANIC("mc2_format_date: snprintf failed");
    return (size_t)len;
}

size_t mc2_format_bool(uint8_t v, char *buf)
{
    const char *s = v ? "true" : "false";
    size_t n = strlen(s);
    memcpy(buf, s, n + 1);
    return n;
}

/* ---- calendar ------------------------------------------------------------------------------- */

int32_t mc2_days_from_civil(int y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400; /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? (int64_t)m - 3 : (int64_t)m + 9) + 2) / 5 + (int64_t)d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return (int32_t)(era * 146097 + doe - 719468);
}

void mc2_civil_from_days(int32_t days, int *y, unsigned *m, unsigned *d)
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

float mc2_cell_float(const mc2_batch *b, size_t c, size_t i)
{
    static const double P10[19] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
    const mc2_col *col = &b->cols[c];
    const mc2_coltype *t = &b->schema->cols[c].type;
    if (col->nulls && col->nulls[i]) return NAN;
    switch (t->id) {
    case MC2_T_INT64:
        return (float)col->v.i64[i];
    case MC2_T_DOUBLE:
        return (float)col->v.f64[i];
    case MC2_T_DECIMAL:
        return (float)((double)col->v.i64[i] / P10[t->scale <= 18 ? t->scale : 0]);
    case MC2_T_DEC128:
        return (float)((double)col->v.i128[i] / (double)mc2_pow10_128(t->scale));
    case MC2_T_DATE:
        return (float)col->v.i32[i];
    case MC2_T_BOOL:
        return (float)col->v.b[i];
    default:
        return NAN;
    }
}
