/* fuzz_csv.c - libFuzzer target for the CSV / .tbl reader: the first byte picks the format
 * (even: CSV with a header row, odd: .tbl), the rest is the text. Parsing must never crash,
 * must agree with mc2_text_scan on the record count, and what parses must write back and
 * parse again to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "mc2/table.h"
#include "table/textio.h"

static const char SCHEMA[] = "table: fuzz\n"
                             "columns:\n"
                             "  - {name: i, type: INT64}\n"
                             "  - {name: d, type: DOUBLE}\n"
                             "  - {name: m, type: 'DECIMAL(9,2)', nullable: false}\n"
                             "  - {name: dt, type: DATE}\n"
                             "  - {name: b, type: BOOL}\n"
                             "  - {name: s, type: VARCHAR(8)}\n"
                             "  - {name: t, type: VARCHAR(3), nullable: false}\n";

static mc2_schema *schema(void)
{
    static mc2_schema *s;
    if (!s && mc2_schema_parse("fuzz", SCHEMA, sizeof SCHEMA - 1, &s, NULL)) abort();
    return s;
}

/* Records in p[0..n) as a caller counts them; *hdr_end gets the end of the first record. */
static uint64_t count(enum mc2_textfmt fmt, const char *p, size_t n, size_t *first_end)
{
    mc2_scan st = {0};
    uint64_t rec = 0, lines = 0;
    size_t off = 0;
    *first_end = n;
    while (off < n) {
        uint64_t r = 0;
        off += mc2_text_scan(fmt, &st, p + off, n - off, 1, &r, &lines);
        if (r == 0) {
            rec++;
            break;
        }
        if (rec == 0) *first_end = off;
        rec += r;
    }
    return rec;
}

/* Parses p[0..n); returns a batch or NULL. */
static mc2_batch *parse(enum mc2_textfmt fmt, const char *p, size_t n)
{
    const mc2_schema *s = schema();
    uint64_t line = 1;
    size_t first_end;
    if (fmt == MC2_FMT_CSV) {
        count(fmt, p, n, &first_end);
        size_t hl = first_end;
        if (hl && p[hl - 1] == '\n') hl--;
        if (hl && p[hl - 1] == '\r') hl--;
        if (mc2_text_check_header(p, hl, s, "fuzz.csv", NULL)) return NULL;
        p += first_end;
        n -= first_end;
        line = 2;
    }
    uint64_t nrec = count(fmt, p, n, &first_end);
    mc2_batch *b = mc2_batch_new(s, nrec ? nrec : 1, NULL);
    if (!b) abort();
    mc2_textpos pos = {"fuzz", line};
    mc2_err err;
    if (mc2_text_parse(fmt, p, n, &pos, b, &err)) {
        if (err.code != MC2_E_INPUT) abort(); /* the batch was sized from the scan */
        mc2_batch_free(b);
        return NULL;
    }
    if (b->nrows != nrec) abort();
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum mc2_textfmt fmt = data[0] & 1 ? MC2_FMT_TBL : MC2_FMT_CSV;
    mc2_batch *b = parse(fmt, (const char *)data + 1, size - 1);
    if (!b) return 0;
    /* Round trip: write, parse, write again: the same text. (.tbl may refuse to write values
     * it cannot hold, which only CSV input produces; from .tbl input it always succeeds.) */
    mc2_buf t1 = {0}, t2 = {0};
    mc2_err err;
    if (fmt == MC2_FMT_CSV && mc2_text_write_header(b->schema, &t1, &err)) abort();
    if (mc2_text_write_batch(fmt, b, &t1, &err)) abort();
    mc2_batch *b2 = parse(fmt, (const char *)t1.data, t1.len);
    if (!b2 || b2->nrows != b->nrows) abort();
    if (fmt == MC2_FMT_CSV && mc2_text_write_header(b2->schema, &t2, &err)) abort();
    if (mc2_text_write_batch(fmt, b2, &t2, &err)) abort();
    if (t1.len != t2.len || (t1.len && memcmp(t1.data, t2.data, t1.len) != 0)) abort();
    mc2_buf_free(&t1);
    mc2_buf_free(&t2);
    mc2_batch_free(b2);
    mc2_batch_free(b);
    return 0;
}
