/* test_tpart.c - cluster table parts (table/tpart.h): the placement function, splitting a
 * table into parts and reading each part as the whole file, and a host that lies: another
 * rank's part, a part of a placement on another number of hosts, a head that points at other
 * bytes, a truncated or extended part, chunks moved between parts, reads outside the part. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "mc2/table.h"
#include "table/tpart.h"
#include "table/tsrc.h"
#include "test.h"

static char dir[] = "/tmp/mc2-tpart-XXXXXX";
/* fuzz_tfile's key (fuzz/fuzz_tfile.c): the part this test writes is also its seed. */
static const uint8_t KEY[MC2_KEY_LEN] = {
    0x6d, 0x63, 0x32, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x20, 0x6b, 0x65, 0x79, 0x20, 0x30, 0x31, 0x00,
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};

static const char *path(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static uint8_t *slurp(const char *p, size_t *n)
{
    char *d = test_read_file(p, n);
    if (!d) {
        perror(p);
        exit(1);
    }
    return (uint8_t *)d;
}

/* A table of `rows` rows (k = 0..rows-1, v = 3k) in blocks of 10 rows. */
static void make_table(const char *out, unsigned rows, unsigned format_version)
{
    FILE *f = fopen(path("in.csv"), "w");
    if (!f) exit(1);
    fprintf(f, "k,v\n");
    for (unsigned i = 0; i < rows; i++) fprintf(f, "%u,%u\n", i, 3 * i);
    fclose(f);
    const char *yaml = "columns:\n  - {name: k, type: int64}\n  - {name: v, type: int64}\n";
    mc2_schema *s = NULL;
    mc2_err err;
    mc2_encrypt_opts o = {.format = MC2_FMT_CSV,
                          .rows_per_block = 10,
                          .table_version = 4,
                          .format_version = format_version};
    if (mc2_schema_parse("t.yaml", yaml, strlen(yaml), &s, &err) ||
        mc2_table_encrypt_file(path("in.csv"), s, KEY, out, &o, NULL, &err)) {
        fprintf(stderr, "make_table: %s\n", err.msg);
        exit(1);
    }
    mc2_schema_free(s);
}

typedef struct range {
    uint64_t first, end;
} range;

static bool keep_range(void *ctx, const mc2_tsrc *s, uint64_t b)
{
    (void)s;
    const range *r = ctx;
    return b >= r->first && b < r->end;
}

/* Opens p[0..n) as rank self of ranks and scans the blocks of its range (all blocks if
 * all_blocks), checking every row (k = 10 b + i, v = 3 k). 0 if everything authenticated and
 * matched, else -1 with err. *rows_seen: rows read. */
static int read_as(const uint8_t *p, size_t n, uint32_t self, uint32_t ranks, bool all_blocks,
                   uint64_t *rows_seen, mc2_err *err)
{
    mc2_tio mem = mc2_tio_mem(p, n), io;
    mc2_tpart_info info;
    void *ctx = NULL;
    mc2_tsrc *s = NULL;
    mc2_tscan *sc = NULL;
    mc2_batch *b = NULL;
    int rc = -1, got;
    uint64_t idx;
    *rows_seen = 0;
    if (mc2_tio_part(&mem, &io, &info, &ctx, err) || mc2_tsrc_open(&io, KEY, 1 << 20, &s, err) ||
        mc2_tpart_check(s, &info, self, ranks, err))
        goto out;
    range r;
    mc2_block_range(mc2_tsrc_header(s)->block_count, self, ranks, &r.first, &r.end);
    r.end += r.first;
    unsigned cols[2] = {0, 1};
    if (mc2_tscan_open(s, cols, 2, 2, all_blocks ? NULL : keep_range, &r, &sc, err) ||
        !(b = mc2_batch_new(mc2_tsrc_header(s)->schema, 16, err)))
        goto out;
    while ((got = mc2_tscan_next(sc, b, &idx, err)) == 1) {
        for (size_t i = 0; i < b->nrows; i++) {
            int64_t k = b->cols[0].v.i64[i], v = b->cols[1].v.i64[i];
            if (k != (int64_t)(idx * 10 + i) || v != 3 * k) {
                mc2_err_set(err, MC2_E_INTERNAL, "block %llu row %zu: wrong values",
                            (unsigned long long)idx, i);
                goto out;
            }
        }
        *rows_seen += b->nrows;
    }
    rc = got;
out:
    mc2_batch_free(b);
    mc2_tscan_free(sc);
    mc2_tsrc_free(s);
    mc2_tio_part_free(ctx);
    return rc;
}

/* Writes part self of n of the table and returns its bytes. */
static uint8_t *part_of(uint32_t self, uint32_t n, size_t *len)
{
    mc2_err err;
    if (mc2_tpart_write(path("t.mc2t"), KEY, self, n, path("part"), &err)) {
        fprintf(stderr, "part %u/%u: %s\n", self, n, err.msg);
        exit(1);
    }
    return slurp(path("part"), len);
}

/* Expects reading d as rank self of n to fail with an error containing `want`. */
static void expect_fail(const char *what, const uint8_t *d, size_t len, uint32_t self, uint32_t n,
                        const char *want)
{
    mc2_err err;
    uint64_t rows;
    mc2_err_clear(&err);
    int rc = read_as(d, len, self, n, false, &rows, &err);
    CHECK_MSG(rc != 0 && strstr(err.msg, want), "%s: rc %d, error '%s', want '%s'", what, rc,
              err.msg, want);
}

static void test_roundtrip(void)
{
    mc2_err err;
    size_t full_len;
    uint8_t *full = slurp(path("t.mc2t"), &full_len);
    for (uint32_t n = 1; n <= 5; n++) {
        uint64_t total = 0;
        for (uint32_t r = 0; r < n; r++) {
            size_t len;
            uint8_t *d = part_of(r, n, &len);
            uint64_t rows = 0;
            int rc = read_as(d, len, r, n, false, &rows, &err);
            CHECK_MSG(rc == 0, "part %u of %u: %s", r, n, rc ? err.msg : "");
            total += rows;
            CHECK(len < full_len || n == 1);
            /* the whole file passes through for any rank, reading only that rank's blocks */
            uint64_t rows_full = 0;
            CHECK(read_as(full, full_len, r, n, false, &rows_full, &err) == 0 && rows_full == rows);
            /* a part holds nothing outside its range: a scan of every block fails there */
            if (n > 1) {
                rc = read_as(d, len, r, n, true, &rows, &err);
                CHECK_MSG(rc != 0 && strstr(err.msg, "does not hold bytes"), "n %u r %u: %s", n, r,
                          err.msg);
            }
            free(d);
        }
        CHECK_MSG(total == 95, "%u parts: %llu rows", n, (unsigned long long)total);
    }
    free(full);
}

static void test_lies(void)
{
    size_t l0, l1, l2;
    uint8_t *p0 = part_of(0, 3, &l0), *p1 = part_of(1, 3, &l1), *p2 = part_of(2, 3, &l2);
    /* another rank's part, or a part of a placement on 2 hosts */
    expect_fail("rank 1 given part 0", p0, l0, 1, 3, "does not hold rank 1's blocks");
    expect_fail("rank 0 given part 2", p2, l2, 0, 3, "does not hold rank 0's blocks");
    expect_fail("3-way part, 2-way job", p1, l1, 1, 2, "does not hold rank 1's blocks");
    /* the head relabelled to claim rank 0's range while holding rank 1's bytes */
    uint8_t *x = malloc(l1);
    memcpy(x, p1, l1);
    memcpy(x + 8, p0 + 8, 56); /* part, parts, first, count, chunk offsets of part 0 */
    expect_fail("head of part 0 on part 1's bytes", x, l1, 0, 3, "");
    free(x);
    /* part 1's chunk bytes under part 0's head where the sizes match: authentication fails */
    if (l0 == l1) {
        x = malloc(l0);
        memcpy(x, p0, l0);
        memcpy(x + 104, p1 + 104, l0 - 104);
        expect_fail("part 1's chunks in part 0", x, l0, 0, 3, "does not authenticate");
        free(x);
    }
    /* truncated, extended, a bad head */
    expect_fail("truncated part", p1, l1 - 1, 1, 3, "");
    x = malloc(l1 + 1);
    memcpy(x, p1, l1);
    x[l1] = 0;
    expect_fail("extended part", x, l1 + 1, 1, 3, "");
    memcpy(x, p1, l1);
    mc2_le64_put(x + 32, 10); /* chunk_begin inside the prefix */
    expect_fail("chunk_begin < 32", x, l1, 1, 3, "not in order");
    memcpy(x, p1, l1);
    mc2_le32_put(x + 8, 3); /* part 3 of 3 */
    expect_fail("part out of range", x, l1, 1, 3, "is not valid");
    memcpy(x, p1, l1);
    x[5] = 9; /* head version */
    expect_fail("head version", x, l1, 1, 3, "not known");
    memcpy(x, p1, l1);
    x[110] ^= 1; /* a chunk byte */
    expect_fail("flipped chunk byte", x, l1, 1, 3, "does not authenticate");
    memcpy(x, p1, l1);
    x[l1 - 40] ^= 1; /* a footer byte */
    expect_fail("flipped footer byte", x, l1, 1, 3, "does not authenticate");
    free(x);
    free(p0);
    free(p1);
    free(p2);
}

/* Joining parts back gives the original file byte for byte; parts out of order, one missing,
 * or one of another split do not fit. */
static void test_join(void)
{
    size_t full_len;
    uint8_t *full = slurp(path("t.mc2t"), &full_len);
    for (uint32_t n = 1; n <= 4; n++) {
        int fds[4], out = -1;
        mc2_err err;
        for (uint32_t r = 0; r < n; r++) {
            char pp[64];
            snprintf(pp, sizeof pp, "p%u", r);
            if (mc2_tpart_write(path("t.mc2t"), KEY, r, n, path(pp), &err)) exit(1);
            fds[r] = open(path(pp), O_RDONLY);
        }
        out = open(path("joined"), O_RDWR | O_CREAT | O_TRUNC, 0600);
        int rc = mc2_tpart_join(fds, n, out, &err);
        CHECK_MSG(rc == 0, "join %u parts: %s", n, rc ? err.msg : "");
        size_t jl;
        uint8_t *j = slurp(path("joined"), &jl);
        CHECK_MSG(jl == full_len && memcmp(j, full, jl) == 0, "%u parts joined: %zu bytes", n, jl);
        free(j);
        if (n >= 2) {
            int swapped[4] = {fds[1], fds[0], fds[2], fds[3]};
            CHECK(ftruncate(out, 0) == 0 && lseek(out, 0, SEEK_SET) == 0);
            CHECK(mc2_tpart_join(swapped, n, out, &err) != 0 && strstr(err.msg, "does not fit"));
            CHECK(mc2_tpart_join(fds, n - 1, out, &err) != 0); /* one missing */
        }
        close(out);
        for (uint32_t r = 0; r < n; r++) close(fds[r]);
    }
    /* a part of another split in place of part 1 of 3 */
    int f3[3];
    mc2_err err;
    for (uint32_t r = 0; r < 3; r++) {
        char pp[64];
        snprintf(pp, sizeof pp, "q%u", r);
        if (mc2_tpart_write(path("t.mc2t"), KEY, r == 1 ? 1 : r, r == 1 ? 2 : 3, path(pp), &err))
            exit(1);
        f3[r] = open(path(pp), O_RDONLY);
    }
    int out = open(path("joined"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(mc2_tpart_join(f3, 3, out, &err) != 0 && strstr(err.msg, "part 2 of 3 does not fit"));
    close(out);
    for (uint32_t r = 0; r < 3; r++) {
        close(f3[r]);
        char pp[64];
        snprintf(pp, sizeof pp, "q%u", r);
        unlink(path(pp));
    }
    for (uint32_t r = 0; r < 4; r++) {
        char pp[64];
        snprintf(pp, sizeof pp, "p%u", r);
        unlink(path(pp));
    }
    unlink(path("joined"));
    free(full);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    mc2_err err;

    /* placement: every block in exactly one part, contiguous, in order */
    for (uint64_t nb = 0; nb < 40; nb++)
        for (uint32_t n = 1; n <= 8; n++) {
            uint64_t next = 0;
            for (uint32_t r = 0; r < n; r++) {
                uint64_t f, c;
                mc2_block_range(nb, r, n, &f, &c);
                CHECK(f == next);
                next = f + c;
            }
            CHECK(next == nb);
        }
    uint64_t f, c;
    mc2_block_range(UINT64_MAX / 2, 63, 64, &f, &c);
    CHECK(f + c == UINT64_MAX / 2 && c > 0);

    make_table(path("t.mc2t"), 95, 0); /* 10 blocks, the last of 5 rows */
    test_roundtrip();
    test_lies();
    test_join();
    const char *corpus = getenv("MC2_FUZZ_CORPUS"); /* fuzz_tfile's seed: part 2 of 3, mode 0 */
    if (corpus) {
        size_t len;
        uint8_t *d = part_of(1, 3, &len);
        char out[512];
        snprintf(out, sizeof out, "%s/sealed_v2_part", corpus);
        FILE *fo = fopen(out, "wb");
        CHECK(fo && fputc(0, fo) == 0 && fwrite(d, 1, len, fo) == len && fclose(fo) == 0);
        free(d);
    }
    /* a version-1 table cannot be placed */
    make_table(path("t.mc2t"), 95, 1);
    mc2_err_clear(&err);
    CHECK(mc2_tpart_write(path("t.mc2t"), KEY, 0, 2, path("part"), &err) != 0 &&
          strstr(err.msg, "version-2"));
    unlink(path("t.mc2t"));
    unlink(path("part"));
    unlink(path("in.csv"));
    rmdir(dir);
    return test_done("test_tpart");
}
