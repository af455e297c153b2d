/* value.h - parsing and formatting single values of each column type, exactly and without
 * the local time zone or locale. Parsers take a byte range (not NUL-terminated) and on
 * failure set *why to a static phrase for the error message ("not an integer", "out of
 * range for INT64", "more than 2 digits after the decimal point", ...). */
#ifndef MC2_TABLE_VALUE_H
#define MC2_TABLE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/table.h"

#define MC2_DATE_MIN (-719162) /* 0001-01-01 */
#define MC2_DATE_MAX 2932896   /* 9999-12-31 */

/* Optional sign then decimal digits; no spaces, no '+' alone, range of int64. */
int mc2_parse_int64(const char *s, size_t n, int64_t *out, const char **why);
/* A finite decimal or scientific-notation number (strtod syntax without hex, inf or nan). */
int mc2_parse_double(const char *s, size_t n, double *out, const char **why);
/* Exact DECIMAL(p,s): [sign] digits [. digits]; at most p-s integer digits and at most s
 * fractional digits (never rounds); *out = value * 10^s. */
int mc2_parse_decimal(const char *s, size_t n, unsigned precision, unsigned scale, int64_t *out,
                      const char **why);
/* The same for DECIMAL(p,s) with p up to 38, into 128 bits. */
int mc2_parse_decimal128(const char *s, size_t n, unsigned precision, unsigned scale, mc2_i128 *out,
                         const char **why);
/* YYYY-MM-DD, a real calendar day in 0001-01-01..9999-12-31; *out = days since 1970-01-01. */
int mc2_parse_date(const char *s, size_t n, int32_t *out, const char **why);
/* true/false/t/f/1/0/yes/no, any case. */
int mc2_parse_bool(const char *s, size_t n, uint8_t *out, const char **why);
/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF); *nchars = code points. */
int mc2_utf8_check(const char *s, size_t n, size_t *nchars, const char **why);

/* Formatters write into buf (at least MC2_VALUE_TEXT_MAX bytes), NUL-terminate, and
 * return the length. DOUBLE uses the shortest form that parses back to the same value. */
#define MC2_VALUE_TEXT_MAX 48
size_t mc2_format_int64(int64_t v, char *buf);
size_t mc2_format_double(double v, char *buf);
size_t mc2_format_decimal(int64_t v, unsigned scale, char *buf);
size_t mc2_format_decimal128(mc2_i128 v, unsigned scale, char *buf);
size_t mc2_format_date(int32_t days, char *buf);
size_t mc2_format_bool(uint8_t v, char *buf);

/* Civil date <-> days since 1970-01-01 (Howard Hinnant's algorithms). */
int32_t mc2_days_from_civil(int y, unsigned m, unsigned d);
void mc2_civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d);

/* 10^k for k in 0..18. */
int64_t mc2_pow10(unsigned k);
/* 10^k for k in 0..38. */
mc2_i128 mc2_pow10_128(unsigned k);

/* Row i of column c of b as a float for machine learning (GBDT's features and labels): the
 * number (DECIMAL scaled down, DATE as its day number, BOOL as 0/1), NaN for NULL and for a
 * VARCHAR. */
float mc2_cell_float(const mc2_batch *b, size_t c, size_t i);

#endif
