/* test_value.c - parsing and formatting of single values: edges of every type, calendar
 * rules, DOUBLE round trips, UTF-8 validation. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "table/value.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

static int pint(const char *s, int64_t *v)
{
    const char *why = NULL;
    int rc = mc2_parse_int64(s, strlen(s), v, &why);
    if (rc) CHECK(why != NULL);
    return rc;
}

static int pdec(const char *s, unsigned p, unsigned sc, int64_t *v, const char **why)
{
    *why = NULL;
    int rc = mc2_parse_decimal(s, strlen(s), p, sc, v, why);
    if (rc) CHECK(*why != NULL);
    return rc;
}

static int pdate(const char *s, int32_t *v)
{
    const char *why = NULL;
    int rc = mc2_parse_date(s, strlen(s), v, &why);
    if (rc) CHECK(why != NULL);
    return rc;
}

static int pdbl(const char *s, double *v)
{
    const char *why = NULL;
    int rc = mc2_parse_double(s, strlen(s), v, &why);
    if (rc) CHECK(why != NULL);
    return rc;
}

static int utf8(const char *s, size_t n, size_t *nc, const char **why)
{
    *why = NULL;
    return mc2_utf8_check(s, n, nc, why);
}

static void test_int64(void)
{
    int64_t v;
    char buf[MC2_VALUE_TEXT_MAX];
    CHECK(pint("0", &v) == 0 && v == 0);
    CHECK(pint("-0", &v) == 0 && v == 0);
    CHECK(pint("+42", &v) == 0 && v == 42);
    CHECK(pint("000123", &v) == 0 && v == 123);
    CHECK(pint("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(pint("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    const char *why = NULL;
    CHECK(mc2_parse_int64(S("9223372036854775808"), &v, &why) == -1 && strstr(why, "out of range"));
    CHECK(mc2_parse_int64(S("-9223372036854775809"), &v, &why) == -1 &&
          strstr(why, "out of range"));
    CHECK(mc2_parse_int64(S("99999999999999999999999"), &v, &why) == -1 &&
          strstr(why, "out of range"));
    const char *bad[] = {"", "-", "+", " 1", "1 ", "1.0", "1e3", "0x10", "12a", "--1", "+-1", "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(pint(bad[i], &v) == -1, "'%s'", bad[i]);
    CHECK(mc2_parse_int64(S("12a99999999999999999999"), &v, &why) == -1 &&
          strstr(why, "not an integer"));
    /* Not NUL-terminated: only n bytes are read. */
    CHECK(mc2_parse_int64("123456", 3, &v, &why) == 0 && v == 123);

    CHECK(mc2_format_int64(INT64_MIN, buf) == 20 && strcmp(buf, "-9223372036854775808") == 0);
    CHECK(mc2_format_int64(INT64_MAX, buf) == 19 && strcmp(buf, "9223372036854775807") == 0);
    CHECK(mc2_format_int64(0, buf) == 1 && strcmp(buf, "0") == 0);
    CHECK(mc2_format_int64(-7, buf) == 2 && strcmp(buf, "-7") == 0);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t r = (int64_t)(x >> (i % 64));
        if (i & 1) r = -r;
        size_t len = mc2_format_int64(r, buf);
        int64_t back = 0;
        const char *w;
        if (mc2_parse_int64(buf, len, &back, &w) != 0 || back != r) {
            CHECK_MSG(0, "int64 round trip of %s", buf);
            break;
        }
    }
    CHECK(1);
}

static void test_decimal(void)
{
    int64_t v;
    const char *why;
    char buf[MC2_VALUE_TEXT_MAX];
    CHECK(pdec("999999999999999999", 18, 0, &v, &why) == 0 && v == 999999999999999999);
    CHECK(pdec("-999999999999999999", 18, 0, &v, &why) == 0 && v == -999999999999999999);
    CHECK(pdec("1000000000000000000", 18, 0, &v, &why) == -1 && strstr(why, "before"));
    CHECK(pdec("0.99999", 5, 5, &v, &why) == 0 && v == 99999);
    CHECK(pdec("-0.99999", 5, 5, &v, &why) == 0 && v == -99999);
    CHECK(pdec(".5", 5, 5, &v, &why) == 0 && v == 50000);
    CHECK(pdec("1.0", 5, 5, &v, &why) == -1 && strstr(why, "before"));
    CHECK(pdec("0.999999", 5, 5, &v, &why) == -1 && strstr(why, "after"));
    CHECK(pdec("0.100000", 5, 5, &v, &why) == -1 && strstr(why, "after")); /* strict */
    CHECK(pdec("901.00", 15, 2, &v, &why) == 0 && v == 90100);
    CHECK(pdec("901.5", 15, 2, &v, &why) == 0 && v == 90150);
    CHECK(pdec("901", 15, 2, &v, &why) == 0 && v == 90100);
    CHECK(pdec("-0.50", 15, 2, &v, &why) == 0 && v == -50);
    CHECK(pdec("+12.34", 4, 2, &v, &why) == 0 && v == 1234);
    CHECK(pdec("0012.34", 4, 2, &v, &why) == 0 && v == 1234);
    CHECK(pdec("123.4", 4, 2, &v, &why) == -1 && strstr(why, "before"));
    CHECK(pdec("1.234", 4, 2, &v, &why) == -1 && strstr(why, "after"));
    CHECK(pdec("9999999999999.99", 15, 2, &v, &why) == 0 && v == 999999999999999);
    CHECK(pdec("0.000000000000000001", 18, 18, &v, &why) == 0 && v == 1);
    const char *bad[] = {"",   "-",   ".",   "5.",  "1..2", "1.2.3", "1e5", " 1",
                         "1 ", "abc", "--1", "1,5", "+.",   "-.",    "0x1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(pdec(bad[i], 15, 2, &v, &why) == -1, "'%s'", bad[i]);
        CHECK(why && strstr(why, "not a decimal"));
    }
    CHECK(mc2_format_decimal(-50, 2, buf) == 5 && strcmp(buf, "-0.50") == 0);
    CHECK(mc2_format_decimal(5, 2, buf) == 4 && strcmp(buf, "0.05") == 0);
    CHECK(mc2_format_decimal(90100, 2, buf) == 6 && strcmp(buf, "901.00") == 0);
    CHECK(mc2_format_decimal(0, 3, buf) == 5 && strcmp(buf, "0.000") == 0);
    CHECK(mc2_format_decimal(-123, 0, buf) == 4 && strcmp(buf, "-123") == 0);
    CHECK(mc2_format_decimal(99999, 5, buf) == 7 && strcmp(buf, "0.99999") == 0);
    CHECK(mc2_format_decimal(-999999999999999999, 18, buf) == 21 &&
          strcmp(buf, "-0.999999999999999999") == 0);
    CHECK(mc2_format_decimal(INT64_MIN, 2, buf) > 0 && strcmp(buf, "-92233720368547758.08") == 0);
    /* Round trip at every (p, s) on pseudo-random values in range. */
    uint64_t x = 12345;
    int ok = 1;
    for (unsigned p = 1; p <= 18 && ok; p++)
        for (unsigned sc = 0; sc <= p && ok; sc++)
            for (int i = 0; i < 50; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                int64_t lim = mc2_pow10(p) - 1;
                int64_t r = (int64_t)(x % (uint64_t)(lim + 1));
                if (i == 0) r = lim;
                if (i & 1) r = -r;
                size_t len = mc2_format_decimal(r, sc, buf);
                int64_t back;
                const char *w;
                if (mc2_parse_decimal(buf, len, p, sc, &back, &w) != 0 || back != r) {
                    CHECK_MSG(0, "DECIMAL(%u,%u) round trip of %s", p, sc, buf);
                    ok = 0;
                    break;
                }
            }
    CHECK(ok);
    CHECK(mc2_pow10(0) == 1 && mc2_pow10(18) == 1000000000000000000);
}

/* The wide DECIMAL (p up to 38, 128 bits): parse and format edges, and every value written
 * reads back; values are checked against their digits, not against another 128-bit routine. */
static void test_decimal128(void)
{
    static const struct {
        const char *in;
        unsigned p, s;
        const char *out; /* NULL: rejected */
    } c[] = {
        {"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999"},
        {"-99999999999999999999999999999999999999", 38, 0,
         "-99999999999999999999999999999999999999"},
        {"100000000000000000000000000000000000000", 38, 0, NULL}, /* 39 digits */
        {"1234567890123456789012345678.0123456789", 38, 10,
         "1234567890123456789012345678.0123456789"},
        {"-0.00000000000000000000000000000000000001", 38, 38,
         "-0.00000000000000000000000000000000000001"},
        {".5", 38, 38, "0.50000000000000000000000000000000000000"},
        {"1", 38, 38, NULL}, /* no integer digit allowed */
        {"+000000000000000000000000000000000000000000012.5", 20, 2, "12.50"}, /* leading zeros */
        {"9223372036854775808", 19, 0, "9223372036854775808"},                /* 2^63: past int64 */
        {"-9223372036854775809", 19, 0, "-9223372036854775809"},
        {"1.005", 20, 2, NULL}, /* never rounds */
        {"0", 19, 3, "0.000"},
        {"-0", 19, 3, "0.000"},
        {"12a", 20, 0, NULL},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        mc2_i128 v = 7;
        const char *why = NULL;
        int rc = mc2_parse_decimal128(c[i].in, strlen(c[i].in), c[i].p, c[i].s, &v, &why);
        if (!c[i].out) {
            CHECK_MSG(rc == -1 && why != NULL, "case %zu '%s' accepted", i, c[i].in);
            continue;
        }
        char buf[MC2_VALUE_TEXT_MAX];
        CHECK_MSG(rc == 0, "case %zu '%s': %s", i, c[i].in, why ? why : "");
        size_t n = mc2_format_decimal128(v, c[i].s, buf);
        CHECK_MSG(n == strlen(c[i].out) && strcmp(buf, c[i].out) == 0, "case %zu: '%s'", i, buf);
    }
    /* The extremes of 128 bits format (no overflow in the magnitude), and 10^k for every k. */
    char buf[MC2_VALUE_TEXT_MAX];
    mc2_i128 half = (mc2_i128)1 << 126, mn = -half - half; /* -2^127 */
    mc2_format_decimal128(mn, 0, buf);
    CHECK(strcmp(buf, "-170141183460469231731687303715884105728") == 0);
    mc2_format_decimal128(mn, 38, buf);
    CHECK(strcmp(buf, "-1.70141183460469231731687303715884105728") == 0);
    for (unsigned k = 0; k <= 38; k++) {
        char want[48] = "1";
        for (unsigned j = 0; j < k; j++) strcat(want, "0");
        mc2_format_decimal128(mc2_pow10_128(k), 0, buf);
        CHECK_MSG(strcmp(buf, want) == 0, "10^%u: %s", k, buf);
    }
    /* 64-bit DECIMAL still parses through the same digits. */
    int64_t v64;
    const char *why;
    CHECK(pdec("-999999999999999999", 18, 0, &v64, &why) == 0 && v64 == -999999999999999999LL);
}

static void test_date(void)
{
    int32_t v;
    const char *why;
    char buf[MC2_VALUE_TEXT_MAX];
    CHECK(pdate("1970-01-01", &v) == 0 && v == 0);
    CHECK(pdate("0001-01-01", &v) == 0 && v == MC2_DATE_MIN);
    CHECK(pdate("9999-12-31", &v) == 0 && v == MC2_DATE_MAX);
    CHECK(pdate("2000-02-29", &v) == 0 && v == 11016);
    CHECK(pdate("2024-02-29", &v) == 0);
    CHECK(pdate("1969-12-31", &v) == 0 && v == -1);
    CHECK(pdate("1998-12-01", &v) == 0 && v == 10561);
    CHECK(mc2_parse_date(S("1900-02-29"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("2023-02-29"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("2024-13-01"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("2024-04-31"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("2024-00-10"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("2024-01-00"), &v, &why) == -1 && strstr(why, "calendar"));
    CHECK(mc2_parse_date(S("0000-01-01"), &v, &why) == -1 && strstr(why, "year"));
    const char *bad[] = {"",
                         "2024-1-01",
                         "2024/01/01",
                         "20240101",
                         " 2024-01-01",
                         "2024-01-01 ",
                         "2024-01-01T00:00:00",
                         "2024-01-01Z",
                         "+024-01-01",
                         "-001-01-01",
                         "10000-01-01",
                         "2024-01-1a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(pdate(bad[i], &v) == -1, "'%s'", bad[i]);
    CHECK(mc2_format_date(MC2_DATE_MIN, buf) == 10 && strcmp(buf, "0001-01-01") == 0);
    CHECK(mc2_format_date(MC2_DATE_MAX, buf) == 10 && strcmp(buf, "9999-12-31") == 0);
    CHECK(mc2_format_date(0, buf) == 10 && strcmp(buf, "1970-01-01") == 0);
    CHECK(mc2_format_date(11016, buf) == 10 && strcmp(buf, "2000-02-29") == 0);
    /* Every day in range: civil <-> days agree with a day-by-day walk of the calendar. */
    int y = 1, ok = 1;
    unsigned m = 1, d = 1;
    for (int32_t z = MC2_DATE_MIN; z <= MC2_DATE_MAX && ok; z++) {
        int yy;
        unsigned mm, dd;
        mc2_civil_from_days(z, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d || mc2_days_from_civil(y, m, d) != z) ok = 0;
        if ((z & 1023) == 0 || z == MC2_DATE_MAX) {
            size_t len = mc2_format_date(z, buf);
            int32_t back;
            if (mc2_parse_date(buf, len, &back, &why) != 0 || back != z) ok = 0;
        }
        static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        unsigned last = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
        if (++d > last) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
    CHECK_MSG(ok, "calendar walk disagrees at %04d-%02u-%02u", y, m, d);
}

static void test_bool(void)
{
    uint8_t v;
    const char *why;
    const char *t[] = {"true", "TRUE", "True", "t", "T", "1", "yes", "YES"};
    const char *f[] = {"false", "FALSE", "f", "F", "0", "no", "No"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK_MSG(mc2_parse_bool(t[i], strlen(t[i]), &v, &why) == 0 && v == 1, "%s", t[i]);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        CHECK_MSG(mc2_parse_bool(f[i], strlen(f[i]), &v, &why) == 0 && v == 0, "%s", f[i]);
    const char *bad[] = {"", "tru", "truee", "2", "y", "n", "on", "off", " true", "true "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(mc2_parse_bool(bad[i], strlen(bad[i]), &v, &why) == -1, "'%s'", bad[i]);
    char buf[MC2_VALUE_TEXT_MAX];
    CHECK(mc2_format_bool(1, buf) == 4 && strcmp(buf, "true") == 0);
    CHECK(mc2_format_bool(0, buf) == 5 && strcmp(buf, "false") == 0);
    CHECK(mc2_parse_bool("true", 4, &v, &why) == 0 && v == 1);
}

static void test_double(void)
{
    double v;
    const char *why;
    char buf[MC2_VALUE_TEXT_MAX];
    CHECK(pdbl("0", &v) == 0 && v == 0);
    CHECK(pdbl("-0", &v) == 0 && v == 0 && signbit(v));
    CHECK(pdbl("1.5", &v) == 0 && v == 1.5);
    CHECK(pdbl(".5", &v) == 0 && v == 0.5);
    CHECK(pdbl("5.", &v) == 0 && v == 5.0);
    CHECK(pdbl("-1e10", &v) == 0 && v == -1e10);
    CHECK(pdbl("+2.5E-3", &v) == 0 && v == 2.5e-3);
    CHECK(pdbl("1.7976931348623157e308", &v) == 0 && v == 1.7976931348623157e308);
    CHECK(pdbl("4.9406564584124654e-324", &v) == 0 && v == 4.9406564584124654e-324);
    CHECK(pdbl("1e-400", &v) == 0 && v == 0); /* underflow rounds to zero */
    CHECK(mc2_parse_double(S("1e309"), &v, &why) == -1 && strstr(why, "range"));
    CHECK(mc2_parse_double(S("-1e309"), &v, &why) == -1 && strstr(why, "range"));
    const char *bad[] = {"",    "-",    ".",     "e5",       "1e",  "1e+",   "0x1p3", "0X10",
                         "inf", "-inf", "INF",   "nan",      "NaN", " 1",    "1 ",    "1.5x",
                         "1,5", "--1",  "1.2.3", "infinity", "\t1", "1e5.5", "+"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(pdbl(bad[i], &v) == -1, "'%s'", bad[i]);
    char longnum[501];
    memset(longnum, '1', 500);
    longnum[500] = '\0';
    CHECK(pdbl(longnum, &v) == -1);
    CHECK(mc2_parse_double("2.5xyz", 3, &v, &why) == 0 && v == 2.5);

    CHECK(mc2_format_double(0.1, buf) && strcmp(buf, "0.1") == 0);
    CHECK(mc2_format_double(-0.0, buf) && strcmp(buf, "-0") == 0);
    CHECK(mc2_format_double(1e21, buf) && strcmp(buf, "1e+21") == 0);
    CHECK(mc2_format_double(0.1 + 0.2, buf) && strcmp(buf, "0.30000000000000004") == 0);
    CHECK(mc2_format_double(123456.0, buf) && strcmp(buf, "123456") == 0);
    /* Random finite bit patterns round-trip exactly through format and parse. */
    uint64_t x = 0xDEADBEEFCAFEBABEull;
    int ok = 1;
    for (int i = 0; i < 200000 && ok; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d;
        memcpy(&d, &x, 8);
        if (!isfinite(d)) continue;
        size_t len = mc2_format_double(d, buf);
        double back;
        if (len >= MC2_VALUE_TEXT_MAX || mc2_parse_double(buf, len, &back, &why) != 0 ||
            memcmp(&back, &d, 8) != 0) {
            CHECK_MSG(0, "double round trip of %s (bits %016llx)", buf, (unsigned long long)x);
            ok = 0;
        }
    }
    CHECK(ok);
    /* Shortest form: values with a short exact decimal stay short. */
    CHECK(mc2_format_double(3.14, buf) == 4);
}

static void test_utf8(void)
{
    size_t nc;
    const char *why;
    CHECK(utf8("", 0, &nc, &why) == 0 && nc == 0);
    CHECK(utf8(S("hello, world"), &nc, &why) == 0 && nc == 12);
    CHECK(utf8(S("h\xC3\xA9llo"), &nc, &why) == 0 && nc == 5);     /* é */
    CHECK(utf8(S("\xE2\x82\xAC"), &nc, &why) == 0 && nc == 1);     /* € */
    CHECK(utf8(S("\xF0\x9F\x98\x80"), &nc, &why) == 0 && nc == 1); /* U+1F600 */
    CHECK(utf8(S("\xF4\x8F\xBF\xBF"), &nc, &why) == 0 && nc == 1); /* U+10FFFF */
    CHECK(utf8(S("\xED\x9F\xBF"), &nc, &why) == 0 && nc == 1);     /* U+D7FF */
    CHECK(utf8(S("\xEE\x80\x80"), &nc, &why) == 0 && nc == 1);     /* U+E000 */
    CHECK(utf8(S("\xC2\x80"), &nc, &why) == 0 && nc == 1);         /* U+0080 */
    CHECK(utf8(S("\xE0\xA0\x80"), &nc, &why) == 0 && nc == 1);     /* U+0800 */
    CHECK(utf8(S("\xF0\x90\x80\x80"), &nc, &why) == 0 && nc == 1); /* U+10000 */
    CHECK(utf8("a\0b", 3, &nc, &why) == 0 && nc == 3);             /* NUL is a character */
    CHECK(utf8(S("0123456789abcdef\xC3\xA9xyz0123456789"), &nc, &why) == 0 && nc == 30);
    /* Overlongs. */
    CHECK(utf8(S("\xC0\xAF"), &nc, &why) == -1 && strstr(why, "overlong"));
    CHECK(utf8(S("\xC1\xBF"), &nc, &why) == -1 && strstr(why, "overlong"));
    CHECK(utf8(S("\xE0\x80\xAF"), &nc, &why) == -1 && strstr(why, "overlong"));
    CHECK(utf8(S("\xE0\x9F\xBF"), &nc, &why) == -1 && strstr(why, "overlong"));
    CHECK(utf8(S("\xF0\x80\x80\xAF"), &nc, &why) == -1 && strstr(why, "overlong"));
    CHECK(utf8(S("\xF0\x8F\xBF\xBF"), &nc, &why) == -1 && strstr(why, "overlong"));
    /* Surrogates. */
    CHECK(utf8(S("\xED\xA0\x80"), &nc, &why) == -1 && strstr(why, "surrogate"));
    CHECK(utf8(S("\xED\xBF\xBF"), &nc, &why) == -1 && strstr(why, "surrogate"));
    CHECK(utf8(S("\xED\xA0\xBD\xED\xB8\x80"), &nc, &why) == -1); /* CESU-8 pair */
    /* Beyond U+10FFFF, stray and truncated bytes. */
    const char *bad[] = {"\xF4\x90\x80\x80",
                         "\xF5\x80\x80\x80",
                         "\xFF",
                         "\xFE",
                         "\x80",
                         "a\xBF",
                         "\xC3",
                         "\xE2\x82",
                         "\xF0\x9F\x98",
                         "\xC3\x28",
                         "\xE2\x28\xA1",
                         "\xE2\x82\x28",
                         "\xF0\x9F\x98\x28",
                         "0123456789\xC3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(utf8(bad[i], strlen(bad[i]), &nc, &why) == -1 && why, "case %zu", i);
    CHECK(utf8(S("\xE2\x82\xAC"), &nc, &why) == 0);
    CHECK(utf8("\xE2\x82\xAC", 2, &nc, &why) == -1 && strstr(why, "truncated"));
    /* Exhaustive over all 1- and 2-byte sequences against a reference decoder. */
    int ok = 1;
    for (unsigned a = 0; a < 256 && ok; a++)
        for (unsigned b = 0; b < 256 && ok; b++) {
            char s2[2] = {(char)a, (char)b};
            int expect = (a < 0x80 && b < 0x80) || (a >= 0xC2 && a <= 0xDF && (b & 0xC0) == 0x80);
            int got = utf8(s2, 2, &nc, &why) == 0;
            if (got != expect) ok = 0;
        }
    CHECK(ok);
    /* Exhaustive over every sequence starting with a 3-byte lead, against the definition. */
    ok = 1;
    for (unsigned a = 0xE0; a <= 0xEF && ok; a++)
        for (unsigned b = 0; b < 256 && ok; b++)
            for (unsigned c = 0; c < 256 && ok; c++) {
                char s3[3] = {(char)a, (char)b, (char)c};
                unsigned cp = (a & 0x0F) << 12 | (b & 0x3F) << 6 | (c & 0x3F);
                int expect = (b & 0xC0) == 0x80 && (c & 0xC0) == 0x80 && cp >= 0x800 &&
                             !(cp >= 0xD800 && cp <= 0xDFFF);
                if ((utf8(s3, 3, &nc, &why) == 0) != expect) ok = 0;
            }
    CHECK(ok);
    /* And every 4-byte lead with each second byte (third and fourth bytes valid). */
    ok = 1;
    for (unsigned a = 0xF0; a <= 0xFF && ok; a++)
        for (unsigned b = 0; b < 256 && ok; b++) {
            char s4[4] = {(char)a, (char)b, (char)0x80, (char)0xBF};
            unsigned cp = (a & 0x07) << 18 | (b & 0x3F) << 12 | 0x3F;
            int expect = a <= 0xF4 && (b & 0xC0) == 0x80 && cp >= 0x10000 && cp <= 0x10FFFF;
            if ((utf8(s4, 4, &nc, &why) == 0) != expect) ok = 0;
        }
    CHECK(ok);
}

int main(void)
{
    test_int64();
    test_decimal();
    test_decimal128();
    test_date();
    test_bool();
    test_double();
    test_utf8();
    return test_done("test_value");
}
