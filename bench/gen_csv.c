/* gen_csv.c - writes the ingest benchmark's CSV of mixed types, deterministically, with the
 * mc2 schema and the DuckDB DDL that describe it.
 *
 * usage: bench_gen_csv MB OUT.csv SCHEMA.yaml DUCKDB.sql
 *
 * Writes rows until OUT.csv holds at least MB * 10^6 bytes and prints "rows N bytes B" on
 * stdout. The same MB gives the same bytes on every machine (a fixed-seed splitmix64, no
 * locale, no floating-point formatting). Columns, with the CSV rules mc2 and DuckDB share
 * (header row; an unquoted empty field is NULL, a quoted empty field "" is the empty string):
 *
 *   id     INT64 NOT NULL   1, 2, 3, ...
 *   price  DECIMAL(15,2)    -99999.99 .. 9999999.99, 1 in 100 up to 13 integer digits; 3% NULL
 *   day    DATE             1900-01-01 .. 2099-12-31; 2% NULL
 *   score  DOUBLE           fixed notation, 1 in 20 in exponent notation; 2% NULL
 *   flag   BOOL             true / false; 1% NULL
 *   note   VARCHAR(40)      words; 10% quoted with commas, 1% with doubled quotes, 1% UTF-8,
 *                           1% "" (empty), 3% NULL; never more than 40 bytes (so also <= 40
 *                           code points)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generator's whole state: the output buffer and the random stream. */
typedef struct gen {
    FILE *f;
    const char *path;
    char *buf;
    size_t len;
    size_t cap;
    uint64_t written;
    uint64_t rng;
} gen;

#define GEN_BUF  (1u << 20)
#define GEN_SEED 0x6d63322062656e63ull /* "mc2 benc" */

static const char *const WORDS[] = {
    "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",   "ledger",  "claim", "invoice", "patient",  "branch",  "account"};
#define NWORDS (sizeof WORDS / sizeof WORDS[0])

static const char *const UTF8_WORDS[] = {"café", "Zürich", "naïve", "Ørsted", "日本", "señal"};
#define NUTF8 (sizeof UTF8_WORDS / sizeof UTF8_WORDS[0])

/* splitmix64: fast, and the same stream on every platform. */
static uint64_t rnd(gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform value in [0, n); the tiny modulo bias does not matter for a benchmark. */
static uint64_t below(gen *g, uint64_t n)
{
    return rnd(g) % n;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "bench_gen_csv: %s '%s': %s\n", what, path, strerror(errno));
    exit(1);
}

static void flush(gen *g)
{
    if (g->len && fwrite(g->buf, 1, g->len, g->f) != g->len) die("cannot write", g->path);
    g->written += g->len;
    g->len = 0;
}

static void put(gen *g, const char *s, size_t n)
{
    memcpy(g->buf + g->len, s, n);
    g->len += n;
}

static void puts_(gen *g, const char *s)
{
    put(g, s, strlen(s));
}
static void putc_(gen *g, char c)
{
    g->buf[g->len++] = c;
}

/* Unsigned decimal, at least `width` digits (zero-padded). */
static void put_u(gen *g, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) tmp[n++] = '0';
    while (n) putc_(g, tmp[--n]);
}

/* A value scaled by 10^scale, printed with `scale` fraction digits. */
static void put_scaled(gen *g, int64_t v, int scale, uint64_t pow10)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) putc_(g, '-');
    put_u(g, a / pow10, 1);
    putc_(g, '.');
    put_u(g, a % pow10, scale);
}

/* Days since 1970-01-01 to y-m-d (Howard Hinnant's civil_from_days). */
static void put_date(gen *g, int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    put_u(g, (uint64_t)y, 4);
    putc_(g, '-');
    put_u(g, (uint64_t)m, 2);
    putc_(g, '-');
    put_u(g, (uint64_t)d, 2);
}

/* Words separated by `sep` until adding one more would pass `max` bytes. */
static size_t words(gen *g, char *out, size_t max, const char *sep)
{
    size_t n = 0, want = 1 + below(g, 5);
    for (size_t i = 0; i < want; i++) {
        const char *w = WORDS[below(g, NWORDS)];
        size_t wl = strlen(w), sl = i ? strlen(sep) : 0;
        if (n + sl + wl > max) break;
        memcpy(out + n, sep, sl);
        memcpy(out + n + sl, w, wl);
        n += sl + wl;
    }
    return n;
}

static void put_note(gen *g)
{
    char s[64];
    size_t n;
    uint64_t r = below(g, 100);
    if (r < 3) return; /* NULL */
    if (r < 4) {       /* the empty string, which is not NULL */
        puts_(g, "\"\"");
        return;
    }
    if (r < 14) { /* quoted, with embedded commas */
        n = words(g, s, 40, ", ");
        putc_(g, '"');
        put(g, s, n);
        putc_(g, '"');
        return;
    }
    if (r < 15) { /* quoted, with doubled quotes: say "kilo" -> "say ""kilo""" */
        const char *w = WORDS[below(g, NWORDS)];
        puts_(g, "\"say \"\"");
        puts_(g, w);
        puts_(g, "\"\"\"");
        return;
    }
    if (r < 16) { /* UTF-8 */
        puts_(g, UTF8_WORDS[below(g, NUTF8)]);
        putc_(g, ' ');
        puts_(g, WORDS[below(g, NWORDS)]);
        return;
    }
    n = words(g, s, 40, " ");
    put(g, s, n);
}

static void row(gen *g, uint64_t id)
{
    put_u(g, id, 1);
    putc_(g, ',');

    uint64_t r = below(g, 100);
    if (r >= 3) {
        int64_t cents = r == 99 ? (int64_t)below(g, 999999999999999ull) /* 15 digits */
                                : (int64_t)below(g, 1000000000ull) - 10000000;
        put_scaled(g, cents, 2, 100);
    }
    putc_(g, ',');

    if (below(g, 100) >= 2) put_date(g, (int64_t)below(g, 73049) - 25567); /* 1900..2099 */
    putc_(g, ',');

    r = below(g, 100);
    if (r >= 2) {
        int64_t micro = (int64_t)below(g, 2000000000000ull) - 1000000000000ll;
        if (r < 7) { /* exponent notation: d.dddde[-]x */
            uint64_t m = below(g, 100000);
            put_u(g, 1 + m / 10000, 1);
            putc_(g, '.');
            put_u(g, m % 10000, 4);
            putc_(g, 'e');
            int e = (int)below(g, 41) - 20;
            if (e < 0) putc_(g, '-');
            put_u(g, (uint64_t)(e < 0 ? -e : e), 1);
        } else {
            put_scaled(g, micro, 6, 1000000);
        }
    }
    putc_(g, ',');

    r = below(g, 100);
    if (r >= 1) puts_(g, (r & 1) ? "true" : "false");
    putc_(g, ',');

    put_note(g);
    putc_(g, '\n');
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) die("cannot create", path);
    if (fputs(text, f) < 0 || fclose(f) != 0) die("cannot write", path);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_gen_csv MB OUT.csv SCHEMA.yaml DUCKDB.sql\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long long mb = strtoull(argv[1], &end, 10);
    if (errno || *end || mb == 0 || mb > 1000000) {
        fprintf(stderr, "bench_gen_csv: MB must be an integer in 1..1000000, not '%s'\n", argv[1]);
        return 2;
    }
    uint64_t target = (uint64_t)mb * 1000000u;

    /* DECIMAL(15,2) is quoted: in a YAML flow mapping a plain ',' ends the scalar. */
    write_text(argv[3], "table: mixed\n"
                        "columns:\n"
                        "  - {name: id, type: INT64, nullable: false}\n"
                        "  - {name: price, type: \"DECIMAL(15,2)\"}\n"
                        "  - {name: day, type: DATE}\n"
                        "  - {name: score, type: DOUBLE}\n"
                        "  - {name: flag, type: BOOL}\n"
                        "  - {name: note, type: VARCHAR(40)}\n");
    write_text(argv[4], "CREATE TABLE t (id BIGINT NOT NULL, price DECIMAL(15,2), day DATE, "
                        "score DOUBLE, flag BOOLEAN, note VARCHAR(40));\n");

    gen g = {.path = argv[2], .cap = GEN_BUF, .rng = GEN_SEED};
    g.f = fopen(g.path, "w");
    if (!g.f) die("cannot create", g.path);
    g.buf = malloc(GEN_BUF);
    if (!g.buf) {
        fprintf(stderr, "bench_gen_csv: out of memory\n");
        return 1;
    }
    puts_(&g, "id,price,day,score,flag,note\n");
    uint64_t rows = 0;
    while (g.written + g.len < target) {
        row(&g, ++rows);
        if (g.len > g.cap - 256) flush(&g); /* a row is under 200 bytes */
    }
    flush(&g);
    if (fclose(g.f) != 0) die("cannot write", g.path);
    free(g.buf);
    printf("rows %" PRIu64 " bytes %" PRIu64 "\n", rows, g.written);
    return 0;
}
