/* test_predict_decode.c - the leader's decode of a distributed predict job's gather
 * (enc_predict_decode, enclave/jobs_gbdt.h): every rank's predictions of every input, in
 * rank order, checked against the rows each rank's blocks hold. A well-formed gather gives
 * the inputs' rows in table order; a rank that sends another row count (more, fewer, another
 * input's), a cut-short or padded gather, or none at all fails with the rank named. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/bytes.h"
#include "enclave/jobs_gbdt.h"
#include "test.h"

#define RANKS  3
#define INPUTS 2
#define NG     2

/* want[i * RANKS + r]: the rows of rank r's blocks of input i. */
static const uint64_t WANT[INPUTS * RANKS] = {4, 0, 3, 2, 5, 1};

/* The value of input i's row `row` (table order), group k. */
static float val(size_t i, uint64_t row, uint32_t k)
{
    return (float)(1000 * i + 10 * row + k) + 0.25f;
}

/* Rank r's gather bytes into b (cap bytes): per input rows u64 | rows x NG float32; rows of
 * input `bad_i` is `bad_rows` instead (bad_i -1: none; at most 16 rows of values follow). */
static size_t encode(uint32_t r, int bad_i, uint64_t bad_rows, uint8_t *b, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < INPUTS; i++) {
        uint64_t first = 0;
        for (uint32_t q = 0; q < r; q++) first += WANT[i * RANKS + q];
        uint64_t rows = (int)i == bad_i ? bad_rows : WANT[i * RANKS + r];
        if (n + 8 > cap) exit(1);
        mc2_le64_put(b + n, rows);
        n += 8;
        for (uint64_t row = 0; row < rows && row < 16; row++)
            for (uint32_t k = 0; k < NG; k++) {
                float v = val(i, first + row, k);
                if (n + 4 > cap) exit(1);
                memcpy(b + n, &v, 4);
                n += 4;
            }
    }
    return n;
}

/* Decodes parts[0..RANKS) (lens); 0 or -1, with *err. */
static int decode(uint8_t parts[RANKS][512], const size_t *lens, mc2_err *err, gb_preds **out)
{
    const uint8_t *p[RANKS];
    for (int r = 0; r < RANKS; r++) p[r] = parts[r];
    *out = calloc(INPUTS, sizeof **out);
    if (!*out) exit(1);
    return enc_predict_decode(p, lens, RANKS, INPUTS, NG, WANT, *out, err);
}

static void test_ok(void)
{
    uint8_t parts[RANKS][512];
    size_t lens[RANKS];
    for (uint32_t r = 0; r < RANKS; r++) lens[r] = encode(r, -1, 0, parts[r], sizeof parts[r]);
    gb_preds *out;
    mc2_err err;
    CHECK_MSG(decode(parts, lens, &err, &out) == 0, "%s", err.msg);
    for (size_t i = 0; i < INPUTS; i++) {
        uint64_t total = 0;
        for (uint32_t r = 0; r < RANKS; r++) total += WANT[i * RANKS + r];
        CHECK(out[i].n == total);
        bool same = true;
        for (uint64_t row = 0; row < out[i].n; row++)
            for (uint32_t k = 0; k < NG; k++) same &= out[i].v[row * NG + k] == val(i, row, k);
        CHECK_MSG(same, "input %zu: the rows in table order", i);
    }
    gb_preds_free(out, INPUTS);
}

/* Rank r's gather with bad_rows as its row count of input bad_i (-1: none), then `delta`
 * bytes added (zeros) or cut; the decode must fail naming rank r. */
static void expect_bad(uint32_t r, int bad_i, uint64_t bad_rows, long delta, const char *what)
{
    uint8_t parts[RANKS][512];
    size_t lens[RANKS];
    for (uint32_t q = 0; q < RANKS; q++)
        lens[q] = encode(q, q == r ? bad_i : -1, bad_rows, parts[q], sizeof parts[q]);
    if (delta > 0) memset(parts[r] + lens[r], 0, (size_t)delta);
    lens[r] = (size_t)((long)lens[r] + delta);
    gb_preds *out;
    mc2_err err;
    char rank[32];
    snprintf(rank, sizeof rank, "rank %u", r);
    int rc = decode(parts, lens, &err, &out);
    CHECK_MSG(rc == -1 && err.code == MC2_E_AUTH && strstr(err.msg, rank), "%s: %s", what,
              rc ? err.msg : "accepted");
    gb_preds_free(out, INPUTS);
}

int main(void)
{
    test_ok();
    expect_bad(1, 1, 4, 0, "one row more than its blocks hold");
    expect_bad(0, 0, 3, 0, "one row fewer");
    expect_bad(2, 0, 0, 0, "no rows of an input it holds rows of");
    expect_bad(1, 0, 2, 0, "another rank's count (its own: 0)");
    expect_bad(2, -1, 0, -4, "cut short by one float");
    expect_bad(2, -1, 0, -8, "cut short by a whole row");
    expect_bad(0, -1, 0, 4, "a float too many");
    expect_bad(1, -1, 0, 8, "padded");
    /* a rank whose row count says more than the rest of the stream holds */
    expect_bad(0, 1, UINT64_MAX / 4, 0, "a huge row count");
    /* an empty gather from a rank */
    uint8_t parts[RANKS][512];
    size_t lens[RANKS];
    for (uint32_t r = 0; r < RANKS; r++) lens[r] = encode(r, -1, 0, parts[r], sizeof parts[r]);
    lens[1] = 0;
    gb_preds *out;
    mc2_err err;
    CHECK(decode(parts, lens, &err, &out) == -1 && strstr(err.msg, "rank 1"));
    gb_preds_free(out, INPUTS);
    return test_done("test_predict_decode");
}
