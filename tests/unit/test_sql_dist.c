/* test_sql_dist.c - sql/dist.h beyond the answers (test_sql_diff runs TPC-H and the
 * differential queries on several ranks): the exchange stream's decoder against malformed
 * frames; a rank whose stream is cut, or that sends rows to a join side that stays, fails
 * the query on that rank with an integrity error naming the sender, and no rank hangs; the
 * broadcast-or-shuffle choice of a join follows the summed row counts; every rank plans the
 * same collectives. With MC2_FUZZ_CORPUS=DIR, writes fuzz_dist_decode's seeds there. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "mc2/table.h"
#include "sql/dist.h"
#include "sql/planner.h"
#include "test.h"
#include "../tools/dlocal.h"

static const char SCHEMA_T[] = "columns:\n"
                               "  - {name: k, type: INT64, nullable: false}\n"
                               "  - {name: v, type: 'DECIMAL(12,2)'}\n"
                               "  - {name: s, type: VARCHAR(8)}\n";
static const char SCHEMA_U[] = "columns:\n"
                               "  - {name: k, type: INT64, nullable: false}\n"
                               "  - {name: w, type: DOUBLE}\n";

/* rows [from, to) of t: k = i % 97, v = i.25 (NULL when i % 11 == 0), s = "r<i%5>". */
static mc2_batch *make_t(const mc2_schema *s, int from, int to)
{
    mc2_err err;
    mc2_batch *b = mc2_batch_new(s, (size_t)(to - from), &err);
    if (!b) abort();
    for (int i = from; i < to; i++) {
        size_t r = b->nrows;
        b->cols[0].v.i64[r] = i % 97;
        b->cols[1].v.i64[r] = i * 100 + 25;
        b->cols[1].nulls[r] = i % 11 == 0;
        char txt[8];
        int n = snprintf(txt, sizeof txt, "r%d", i % 5);
        if (mc2_batch_reserve_chars(b, 2, (size_t)n, &err)) abort();
        memcpy(b->cols[2].data + b->cols[2].off[r], txt, (size_t)n);
        b->cols[2].off[r + 1] = b->cols[2].off[r] + (uint32_t)n;
        b->cols[2].nulls[r] = 0;
        b->nrows++;
    }
    return b;
}

static mc2_batch *make_u(const mc2_schema *s, int from, int to)
{
    mc2_err err;
    mc2_batch *b = mc2_batch_new(s, (size_t)(to - from) + 1, &err);
    if (!b) abort();
    for (int i = from; i < to; i++) {
        b->cols[0].v.i64[b->nrows] = i;
        b->cols[1].v.f64[b->nrows] = i * 0.5;
        b->cols[1].nulls[b->nrows] = 0;
        b->nrows++;
    }
    return b;
}

/* One frame: rows u32 | len u32 | block payload. */
static void put_frame(mc2_buf *o, const mc2_batch *b)
{
    mc2_err err;
    uint8_t *enc = NULL;
    size_t el = 0;
    if (mc2_batch_encode(b, &enc, &el, &err) || mc2_buf_put_u32(o, (uint32_t)b->nrows, &err) ||
        mc2_buf_put_u32(o, (uint32_t)el, &err) || mc2_buf_append(o, enc, el, &err))
        abort();
    mc2_free(enc);
}

static int decode(const mc2_schema *s, const uint8_t *p, size_t n, size_t *rows, mc2_err *err)
{
    mc2_batch **out = NULL;
    size_t nb = 0;
    int rc = mc2_dist_decode(s, p, n, 3, &out, &nb, err);
    *rows = 0;
    for (size_t i = 0; i < nb; i++) {
        *rows += out[i]->nrows;
        mc2_batch_free(out[i]);
    }
    mc2_free(out);
    return rc;
}

static void test_decode(const mc2_schema *s)
{
    mc2_err err;
    mc2_buf st = {0};
    mc2_batch *a = make_t(s, 0, 10), *b = make_t(s, 10, 13);
    put_frame(&st, a);
    put_frame(&st, b);
    size_t rows;
    CHECK(decode(s, st.data, st.len, &rows, &err) == 0 && rows == 13);
    CHECK(decode(s, st.data, 0, &rows, &err) == 0 && rows == 0); /* nothing sent */
    /* Cut anywhere inside a frame: malformed (the framing) or a payload error, never
     * success. (A cut between frames is a shorter valid stream: the mesh's byte stream
     * carries its total, so the transport's truncation never gets here.) */
    size_t first = 8 + (size_t)mc2_le32_get(st.data + 4);
    CHECK(decode(s, st.data, first, &rows, &err) == 0 && rows == 10);
    for (size_t cut = 1; cut < st.len; cut++) {
        if (cut == first) continue;
        int rc = decode(s, st.data, cut, &rows, &err);
        CHECK_MSG(rc != 0, "a stream cut at %zu of %zu bytes decoded", cut, st.len);
        if (cut < 8 || (cut > 8 && cut < st.len && rc != 0 && err.code == MC2_E_AUTH))
            CHECK_MSG(strstr(err.msg, "rank 3") != NULL, "error names the sender: %s", err.msg);
    }
    /* rows 0, rows above a frame's maximum, a length past the end */
    uint8_t *p = malloc(st.len);
    memcpy(p, st.data, st.len);
    mc2_le32_put(p, 0);
    CHECK(decode(s, p, st.len, &rows, &err) != 0 && err.code == MC2_E_AUTH);
    mc2_le32_put(p, 5000);
    CHECK(decode(s, p, st.len, &rows, &err) != 0 && err.code == MC2_E_AUTH);
    memcpy(p, st.data, st.len);
    mc2_le32_put(p + 4, (uint32_t)st.len);
    CHECK(decode(s, p, st.len, &rows, &err) != 0 && err.code == MC2_E_AUTH);
    memcpy(p, st.data, st.len);
    mc2_le32_put(p, 9); /* the payload says 10 rows */
    CHECK(decode(s, p, st.len, &rows, &err) != 0);
    free(p);
    const char *corpus = getenv("MC2_FUZZ_CORPUS");
    if (corpus) {
        char path[512];
        snprintf(path, sizeof path, "%s/fuzz_dist_decode", corpus);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/fuzz_dist_decode/two_frames", corpus);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(st.data, 1, st.len, f);
            fclose(f);
        }
    }
    mc2_buf_free(&st);
    mc2_batch_free(a);
    mc2_batch_free(b);
}

/* ---- queries on in-process ranks ---------------------------------------------------------- */

typedef struct rank_run {
    dlocal_rank r;
    const char *q;
    const mc2_schema *ts, *us;
    int t_rows, u_rows;
    uint64_t result_rows;
    mc2_dist_stats st;
    enum mc2_dist_coll colls[64];
    size_t ncolls;
    mc2_err err;
    int rc;
} rank_run;

static void *rank_main(void *arg)
{
    rank_run *k = arg;
    uint32_t self = k->r.self, n = k->r.l->n;
    mc2_err *err = &k->err;
    /* Rank r holds t's rows [r*T/n, (r+1)*T/n) and u's likewise, as in-memory batches. */
    mc2_batch *tb = make_t(k->ts, (int)(k->t_rows * self / n), (int)(k->t_rows * (self + 1) / n));
    mc2_batch *ub = make_u(k->us, (int)(k->u_rows * self / n), (int)(k->u_rows * (self + 1) / n));
    const mc2_batch *tl[1] = {tb}, *ul[1] = {ub};
    mc2_exec_input in[2] = {{.batches = tl, .nbatches = 1}, {.batches = ul, .nbatches = 1}};
    mc2_sql_table tabs[2] = {{"t", k->ts, (uint64_t)k->t_rows}, {"u", k->us, (uint64_t)k->u_rows}};
    mc2_plan *p = mc2_plan_new(0, err);
    mc2_sql_physical ph;
    mc2_dist *d = NULL;
    mc2_exec *x = NULL;
    mc2_batch *res = NULL;
    const mc2_exec_input *all;
    size_t nall;
    mc2_dist_comm c = dlocal_comm(&k->r);
    int rc = p ? mc2_sql_compile(k->q, strlen(k->q), tabs, 2, p, &ph, err) : -1;
    mc2_pnode *root = rc == 0 ? ph.root : NULL;
    if (rc == 0)
        rc = mc2_dist_prepare(p, &root, 2, self, n, &d, err) ||
                     mc2_dist_colls(d, k->colls, 64, &k->ncolls, err) ||
                     mc2_dist_run(d, &c, in, 2, NULL, &all, &nall, err)
                 ? -1
                 : 0;
    if (rc == 0 && self == 0)
        rc = mc2_exec_open(p, root, all, nall, NULL, &x, err) ||
                     mc2_exec_collect(x, 1u << 20, &res, err)
                 ? -1
                 : 0;
    if (res) k->result_rows = res->nrows;
    if (d) mc2_dist_get_stats(d, &k->st);
    if (rc) dlocal_abort(k->r.l);
    mc2_batch_free(res);
    mc2_exec_free(x);
    mc2_dist_free(d);
    mc2_plan_free(p);
    mc2_batch_free(tb);
    mc2_batch_free(ub);
    k->rc = rc;
    return NULL;
}

/* Runs q on n ranks; k[0..n) get each rank's outcome. */
static void run_ranks(dlocal *l, uint32_t n, const char *q, const mc2_schema *ts,
                      const mc2_schema *us, int t_rows, int u_rows, rank_run *k)
{
    pthread_t th[8];
    for (uint32_t i = 0; i < n; i++) {
        k[i] =
            (rank_run){.r = {l, i}, .q = q, .ts = ts, .us = us, .t_rows = t_rows, .u_rows = u_rows};
        if (pthread_create(&th[i], NULL, rank_main, &k[i])) abort();
    }
    for (uint32_t i = 0; i < n; i++) pthread_join(th[i], NULL);
}

static unsigned tamper_call, tamper_target;
static pthread_mutex_t tamper_mu = PTHREAD_MUTEX_INITIALIZER;

/* Cuts the stream rank 1 sends rank 0 in every exchange after its 5 first bytes. */
static void cut_stream(uint32_t from, uint32_t to, uint8_t **p, size_t *len)
{
    (void)p;
    if (from == 1 && to == 0 && *len > 5) *len = 5;
}

/* Puts 8 bytes into the (empty) stream rank 1 sends rank 0 in its tamper_target-th
 * alltoallv (counted at rank 0). */
static void stuff_stream(uint32_t from, uint32_t to, uint8_t **p, size_t *len)
{
    if (from != 1 || to != 0) return;
    pthread_mutex_lock(&tamper_mu);
    unsigned call = tamper_call++;
    pthread_mutex_unlock(&tamper_mu);
    if (call != tamper_target) return;
    free(*p);
    *p = calloc(1, 8);
    *len = 8;
}

static void test_ranks(const mc2_schema *ts, const mc2_schema *us)
{
    dlocal l;
    rank_run k[4];
    const char *join = "SELECT t.s, count(*), sum(u.w) FROM t JOIN u ON t.k = u.k GROUP BY t.s";

    /* A small u (97 keys... 40 rows) against 4000 rows of t: u is broadcast. */
    dlocal_init(&l, 4);
    run_ranks(&l, 4, join, ts, us, 4000, 40, k);
    CHECK_MSG(k[0].rc == 0, "small build side: %s", k[0].err.msg);
    CHECK(k[0].result_rows == 5);
    CHECK(k[0].st.broadcast_joins == 1 && k[0].st.shuffled_joins == 0);
    for (int i = 1; i < 4; i++)
        CHECK(k[i].rc == 0 && k[i].ncolls == k[0].ncolls &&
              memcmp(k[i].colls, k[0].colls, k[0].ncolls * sizeof k[0].colls[0]) == 0);
    CHECK(k[0].ncolls >= 4 && k[0].colls[0] == MC2_DIST_ALLREDUCE_I64);
    dlocal_destroy(&l);

    /* Sizes that make the broadcast cost more than the shuffle: both sides shuffled, and the
     * same answer (every t row with k < 60 meets exactly one u row). */
    dlocal_init(&l, 4);
    run_ranks(&l, 4, "SELECT count(*) FROM t JOIN u ON t.k = u.k", ts, us, 400, 300, k);
    CHECK_MSG(k[0].rc == 0, "large build side: %s", k[0].err.msg);
    CHECK(k[0].st.shuffled_joins == 1 && k[0].st.broadcast_joins == 0);
    CHECK(k[0].result_rows == 1);
    dlocal_destroy(&l);

    /* Rank 1's stream to rank 0 cut short: rank 0 fails naming rank 1; nobody hangs. */
    dlocal_init(&l, 2);
    l.tamper = cut_stream;
    run_ranks(&l, 2, "SELECT s, count(*) FROM t GROUP BY s", ts, us, 1000, 10, k);
    CHECK(k[0].rc != 0 && k[0].err.code == MC2_E_AUTH && strstr(k[0].err.msg, "rank 1"));
    CHECK_MSG(strstr(k[0].err.msg, "exchange 1 of 2") != NULL, "%s", k[0].err.msg);
    CHECK(k[1].rc != 0); /* it waited in the gather and saw the abort */
    dlocal_destroy(&l);

    /* Rows sent to a join side that stays (the broadcast join's left side): refused. */
    dlocal_init(&l, 2);
    l.tamper = stuff_stream;
    tamper_call = 0;
    tamper_target = 0; /* the join pair's first alltoallv: its left side's */
    run_ranks(&l, 2, join, ts, us, 4000, 40, k);
    CHECK_MSG(k[0].rc != 0 && k[0].err.code == MC2_E_AUTH &&
                  strstr(k[0].err.msg, "rank 1 sent rows to a join side that stays"),
              "%s", k[0].err.msg);
    dlocal_destroy(&l);
}

int main(void)
{
    mc2_err err;
    mc2_schema *ts = NULL, *us = NULL;
    if (mc2_schema_parse("t", SCHEMA_T, sizeof SCHEMA_T - 1, &ts, &err) ||
        mc2_schema_parse("u", SCHEMA_U, sizeof SCHEMA_U - 1, &us, &err)) {
        fprintf(stderr, "schema: %s\n", err.msg);
        return 1;
    }
    test_decode(ts);
    test_ranks(ts, us);
    mc2_schema_free(ts);
    mc2_schema_free(us);
    return test_done("test_sql_dist");
}
