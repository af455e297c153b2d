/* meshrun.c - one MPI rank of a test job over the enclave mesh and the host's MPI relay
 * (tests/cli/test_meshrun.sh; bench section cluster). Each rank makes a sim platform key and
 * sim evidence binding a fresh X25519 key (mesh.h), rank 0 makes the job nonce and id and
 * broadcasts them (public), the ranks exchange keys and evidence with MPI_Allgather, verify
 * them and build the mesh, then run a small job of encrypted collectives (src/mesh/coll.h)
 * through src/mpirelay, check every result against a plain computation and finish with the
 * transcript agreement. Rank 0 prints one line.
 *
 * WHAT THIS TESTS: the mesh protocol, the collectives and the MPI transport. The mesh runs
 * INSIDE each rank's process: there is no separate enclave process per rank yet, so this is
 * not a test of isolation, and the sim evidence protects nothing (every rank makes its own
 * platform key, and the trusted keys are exchanged over plain MPI).
 *
 * Built twice: mc2_meshrun (with the relay's test-only fault hook, MC2_RELAY_FAULT) and
 * bench_cluster (the production relay, no hook). */
#include <limits.h>
#include <malloc.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "mc2/attest.h"
#include "mc2/crypto.h"
#include "mesh/coll.h"
#include "mpirelay/relay.h"

#define MAXEV 4096
#define REC   (32 + 32 + 4 + MAXEV)
#define NF    1000

typedef struct opts {
    int runs, timeout_ms, quit;
    uint32_t chunk;
    size_t bench_bytes;
    int iters;
} opts;

typedef struct rank {
    int self, n;
    uint8_t psec[32], ppub[32]; /* this rank's sim platform key */
    opts o;
    mc2_mpirelay *relay;
} rank;

static void die(const rank *r, const mc2_err *e)
{
    fprintf(stderr, "meshrun: rank %d: %s\n", r->self, e->msg);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

static void sha(const char *s, uint8_t out[32])
{
    mc2_err e;
    if (mc2_sha256(s, strlen(s), out, &e)) abort();
}

/* Job set-up for one run: nonce and id from rank 0, keys and evidence exchanged and verified,
 * the mesh for plan p with every peer added. */
static mc2_mesh *setup(rank *r, const mc2_coll_plan *p)
{
    mc2_err e;
    mc2_mesh_job job = {0};
    uint8_t xpub[32], xsec[32], *ev = NULL, *recs = NULL, seed[64];
    size_t ev_len = 0;
    mc2_mesh *m = NULL;
    mc2_err_clear(&e);
    if (r->self == 0) {
        uint8_t b[32 + 11];
        if (mc2_random(seed, 32, &e)) die(r, &e);
        memcpy(b, "meshrun job", 11);
        memcpy(b + 11, seed, 32);
        if (mc2_sha256(b, sizeof b, seed + 32, &e)) die(r, &e);
    }
    MPI_Bcast(seed, 64, MPI_BYTE, 0, MPI_COMM_WORLD); /* public: nonce and job id */
    memcpy(job.nonce, seed, 32);
    memcpy(job.job_id, seed + 32, 32);
    sha("meshrun policy", job.policy_hash);
    sha("meshrun: no enclave, the mesh runs in the rank process", job.measurement);
    mc2_claims in = {0};
    memcpy(in.measurement, job.measurement, 32);
    if (mc2_x25519_keygen(xpub, xsec, &e) ||
        mc2_mesh_report_data(xpub, job.nonce, job.policy_hash, in.report_data, &e) ||
        mc2_evidence_sim_create(&in, r->psec, &ev, &ev_len, &e))
        die(r, &e);
    if (ev_len > MAXEV) {
        mc2_err_set(&e, MC2_E_LIMIT, "evidence of %zu bytes", ev_len);
        die(r, &e);
    }
    uint8_t *mine = calloc(1, REC);
    recs = malloc((size_t)r->n * REC);
    uint8_t(*keys)[32] = malloc((size_t)r->n * 32);
    if (!mine || !recs || !keys) abort();
    memcpy(mine, xpub, 32);
    memcpy(mine + 32, r->ppub, 32);
    mc2_le32_put(mine + 64, (uint32_t)ev_len);
    memcpy(mine + 68, ev, ev_len);
    MPI_Allgather(mine, REC, MPI_BYTE, recs, REC, MPI_BYTE, MPI_COMM_WORLD);
    for (int i = 0; i < r->n; i++) memcpy(keys[i], recs + (size_t)i * REC + 32, 32);
    mc2_verifier v = {.sim = {(const uint8_t(*)[32])keys, (size_t)r->n}};
    if (!(m = mc2_mesh_new(&job, &p->graph, (uint32_t)r->self, xsec, ev, ev_len, &e))) die(r, &e);
    for (int i = 0; i < r->n; i++) {
        const uint8_t *rec = recs + (size_t)i * REC;
        uint32_t l = mc2_le32_get(rec + 64);
        mc2_claims c;
        if (i == r->self) continue;
        if (l > MAXEV) {
            mc2_err_set(&e, MC2_E_INPUT, "rank %d's evidence claims %u bytes", i, l);
            die(r, &e);
        }
        if (mc2_evidence_verify(&v, rec + 68, l, &c, &e) != MC2_ATTEST_OK ||
            mc2_mesh_add_peer(m, (uint32_t)i, &c, rec + 68, l, rec, &e))
            die(r, &e);
    }
    mc2_wipe(xsec, sizeof xsec);
    free(mine);
    free(recs);
    free(keys);
    free(ev);
    return m;
}

/* ---- the test job ------------------------------------------------------------------------- */

static double f64_val(int who, size_t e)
{
    return (double)(who + 1) * 0.1 + (double)e * 1e-3 + 1.0 / (double)(e + 3);
}

static int64_t i64_val(int who, size_t e)
{
    return (int64_t)((uint64_t)(who + 1) * 0x7fffffff12345ull * (e + 1)) - (int64_t)e;
}

static size_t a2a_len(int i, int j)
{
    return 2000 + (size_t)((i * 7 + j * 13) % 80) * 37;
}

static uint8_t byte_at(int i, int j, size_t k)
{
    return (uint8_t)(i * 31 + j * 17 + (int)(k * 7) + (int)(k >> 8));
}

static uint8_t *filled(size_t n, int i, int j)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b) abort();
    for (size_t k = 0; k < n; k++) b[k] = byte_at(i, j, k);
    return b;
}

static int same(const uint8_t *b, size_t n, size_t want, int i, int j)
{
    if (!b || n != want) return 0;
    for (size_t k = 0; k < n; k++)
        if (b[k] != byte_at(i, j, k)) return 0;
    return 1;
}

static const mc2_coll_op job_ops[] = {{MC2_COLL_ALLREDUCE_F64, 0},
                                      {MC2_COLL_ALLREDUCE_I64, 0},
                                      {MC2_COLL_ALLTOALLV, 0},
                                      {MC2_COLL_BCAST, 1},
                                      {MC2_COLL_GATHER, 0}};

/* The collectives of one run; returns whether every result this rank holds is right. */
static int job(rank *r, mc2_coll *c, size_t *a2a_bytes)
{
    mc2_err e;
    int n = r->n, me = r->self, ok = 1;
    double *f = malloc(NF * sizeof *f);
    int64_t *g = malloc(NF * sizeof *g);
    uint8_t **sb = calloc((size_t)n, sizeof *sb), **rb = calloc((size_t)n, sizeof *rb),
            **gb = calloc((size_t)n, sizeof *gb), *bb = NULL;
    size_t *sl = calloc((size_t)n, sizeof *sl), *rl = calloc((size_t)n, sizeof *rl),
           *gl = calloc((size_t)n, sizeof *gl), bl = 3000;
    if (!f || !g || !sb || !rb || !gb || !sl || !rl || !gl) abort();
    for (size_t k = 0; k < NF; k++) f[k] = f64_val(me, k), g[k] = i64_val(me, k);
    if (mc2_coll_allreduce_f64(c, f, NF, &e) || mc2_coll_allreduce_i64(c, g, NF, &e)) die(r, &e);
    for (size_t k = 0; k < NF; k++) {
        double want = f64_val(0, k);
        uint64_t iw = (uint64_t)i64_val(0, k);
        for (int s = 1; s < n; s++) want += f64_val(s, k), iw += (uint64_t)i64_val(s, k);
        ok &= memcmp(&want, &f[k], 8) == 0 && (uint64_t)g[k] == iw;
    }
    *a2a_bytes = 0;
    for (int j = 0; j < n; j++) sl[j] = a2a_len(me, j), sb[j] = filled(sl[j], me, j);
    if (mc2_coll_alltoallv(c, (const uint8_t *const *)sb, sl, rb, rl, &e)) die(r, &e);
    for (int i = 0; i < n; i++)
        ok &= same(rb[i], rl[i], a2a_len(i, me), i, me), *a2a_bytes += rl[i];
    if (me == 1) bb = filled(bl, 1, 99);
    if (mc2_coll_bcast(c, &bb, &bl, &e)) die(r, &e);
    ok &= same(bb, bl, 3000, 1, 99);
    uint8_t *mine = filled(2000 + (size_t)me * 300, me, 77);
    if (mc2_coll_gather(c, mine, 2000 + (size_t)me * 300, gb, gl, &e)) die(r, &e);
    if (me == 0)
        for (int i = 0; i < n; i++) ok &= same(gb[i], gl[i], 2000 + (size_t)i * 300, i, 77);
    for (int i = 0; i < n; i++) free(sb[i]), free(rb[i]), free(gb[i]);
    free(sb), free(rb), free(gb), free(sl), free(rl), free(gl), free(bb), free(mine), free(f),
        free(g);
    return ok;
}

static int run_test(rank *r)
{
    mc2_err e;
    mc2_coll_plan *p = mc2_coll_plan_make(job_ops, sizeof job_ops / sizeof job_ops[0],
                                          (uint32_t)r->n, 0, r->o.chunk, &e);
    if (!p) die(r, &e);
    for (int run = 0; run < r->o.runs; run++) {
        size_t a2a = 0;
        if (run) mc2_mpirelay_next_job(r->relay);
        mc2_mesh *m = setup(r, p);
        if (run == r->o.runs - 1 && r->self == r->o.quit) {
            /* It stops taking part and waits to be killed: the others must fail by their
             * timeout, naming it, and end the job (MPI_Abort). (A rank waiting in MPI_Finalize
             * instead can make Open MPI 4.1's mpirun hang on that abort.) */
            fprintf(stderr, "meshrun: rank %d: stops before the job (--quit)\n", r->self);
            mc2_mesh_free(m);
            mc2_coll_plan_free(p);
            for (int s = 0; s < 120; s++) sleep(1);
            return 1;
        }
        mc2_coll_transport t = mc2_mpirelay_transport(r->relay);
        mc2_coll *c = mc2_coll_new(m, p, (uint32_t)r->self, &t, &e);
        if (!c) die(r, &e);
        int ok = job(r, c, &a2a), all_ok = 0;
        if (!ok) {
            mc2_err_set(&e, MC2_E_INTERNAL, "run %d: a result differs from the plain computation",
                        run + 1);
            die(r, &e);
        }
        if (mc2_coll_finish(c, &e)) die(r, &e);
        /* plain MPI, for this test's report only: every rank checked its results */
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        if (r->self == 0 && all_ok)
            printf("meshrun: OK: run %d of %d, %d ranks: allreduce f64+i64 (%d elements), "
                   "alltoallv, bcast, gather over the MPI relay equal the plain computation on "
                   "every rank; transcripts agree (protocol and transport test: the mesh runs in "
                   "each rank's process, no enclave isolation)\n",
                   run + 1, r->o.runs, r->n, NF);
        fflush(stdout);
        mc2_coll_free(c);
        mc2_mesh_free(m);
    }
    mc2_coll_plan_free(p);
    return 0;
}

/* ---- bench: encrypted vs plain MPI, same bytes, same run ----------------------------------------
 */

/* This process's CPU time in seconds (busy waiting counts; time another process had the core
 * does not, so it is steadier than wall time on a shared machine). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double timed_max(double t)
{
    double mx = 0;
    MPI_Reduce(&t, &mx, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    return mx;
}

/* enc/plain: wall seconds of the K timed calls (slowest rank); cpu_*: CPU seconds of this
 * rank over them, reported as the busiest rank's ms per call. */
static void report(const rank *r, const char *what, double enc, double plain, double cpu_enc,
                   double cpu_plain)
{
    double mb = (double)r->o.bench_bytes * r->o.iters / 1e6;
    double ce = timed_max(cpu_enc), cp = timed_max(cpu_plain);
    if (r->self != 0) return;
    double ratio = (mb / enc) / (mb / plain);
    printf("cluster: %s ranks=%d bytes=%zu iters=%d encrypted_mbps=%.1f plain_mbps=%.1f "
           "ratio=%.3f goal>=0.8x %s cpu_ms_per_call encrypted=%.1f plain=%.1f\n",
           what, r->n, r->o.bench_bytes, r->o.iters, mb / enc, mb / plain, ratio,
           ratio >= 0.8 ? "met" : "NOT met", 1e3 * ce / r->o.iters, 1e3 * cp / r->o.iters);
}

static int run_bench(rank *r)
{
    mc2_err e;
    int K = r->o.iters, n = r->n;
    mc2_coll_op ops[MC2_COLL_MAX_OPS];
    size_t nel = r->o.bench_bytes / 8, per = r->o.bench_bytes / (size_t)n;
    for (int k = 0; k <= K; k++) {
        ops[k] = (mc2_coll_op){MC2_COLL_ALLREDUCE_F64, 0};
        ops[K + 1 + k] = (mc2_coll_op){MC2_COLL_ALLTOALLV, 0};
    }
    mc2_coll_plan *p =
        mc2_coll_plan_make(ops, (uint32_t)(2 * K + 2), (uint32_t)n, 0, r->o.chunk, &e);
    if (!p) die(r, &e);
    mc2_mesh *m = setup(r, p);
    mc2_coll_transport t = mc2_mpirelay_transport(r->relay);
    mc2_coll *c = mc2_coll_new(m, p, (uint32_t)r->self, &t, &e);
    double *v = malloc(nel * 8 + 8), *w = malloc(nel * 8 + 8);
    uint8_t *sbuf = filled(per * (size_t)n, r->self, 0), *rbuf = malloc(per * (size_t)n + 1);
    uint8_t **sb = calloc((size_t)n, sizeof *sb), **rb = calloc((size_t)n, sizeof *rb);
    size_t *sl = calloc((size_t)n, sizeof *sl), *rl = calloc((size_t)n, sizeof *rl);
    int *cnt = calloc((size_t)n, sizeof *cnt), *dis = calloc((size_t)n, sizeof *dis);
    if (!c || !v || !w || !rbuf || !sb || !rb || !sl || !rl || !cnt || !dis) die(r, &e);
    for (size_t k = 0; k < nel; k++) v[k] = f64_val(r->self, k);
    for (int j = 0; j < n; j++)
        sb[j] = sbuf + per * (size_t)j, sl[j] = per, cnt[j] = (int)per, dis[j] = (int)per * j;
    double t0, c0, te, tp, ce, cp;
    /* allreduce: one untimed of each, then K timed */
    MPI_Allreduce(v, w, (int)nel, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (mc2_coll_allreduce_f64(c, v, nel, &e)) die(r, &e);
    MPI_Barrier(MPI_COMM_WORLD), t0 = MPI_Wtime(), c0 = cpu_s();
    for (int k = 0; k < K; k++) MPI_Allreduce(v, w, (int)nel, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    cp = cpu_s() - c0, tp = timed_max(MPI_Wtime() - t0);
    MPI_Barrier(MPI_COMM_WORLD), t0 = MPI_Wtime(), c0 = cpu_s();
    for (int k = 0; k < K; k++)
        if (mc2_coll_allreduce_f64(c, v, nel, &e)) die(r, &e);
    ce = cpu_s() - c0, te = timed_max(MPI_Wtime() - t0);
    report(r, "allreduce", te, tp, ce, cp);
    /* alltoallv */
    MPI_Alltoallv(sbuf, cnt, dis, MPI_BYTE, rbuf, cnt, dis, MPI_BYTE, MPI_COMM_WORLD);
    for (int k = 0; k <= K; k++) {
        if (k == 1) MPI_Barrier(MPI_COMM_WORLD), t0 = MPI_Wtime(), c0 = cpu_s();
        if (mc2_coll_alltoallv(c, (const uint8_t *const *)sb, sl, rb, rl, &e)) die(r, &e);
        for (int j = 0; j < n; j++) free(rb[j]);
    }
    ce = cpu_s() - c0, te = timed_max(MPI_Wtime() - t0);
    MPI_Barrier(MPI_COMM_WORLD), t0 = MPI_Wtime(), c0 = cpu_s();
    for (int k = 0; k < K; k++)
        MPI_Alltoallv(sbuf, cnt, dis, MPI_BYTE, rbuf, cnt, dis, MPI_BYTE, MPI_COMM_WORLD);
    cp = cpu_s() - c0, tp = timed_max(MPI_Wtime() - t0);
    report(r, "alltoallv", te, tp, ce, cp);
    if (mc2_coll_finish(c, &e)) die(r, &e);
    if (r->self == 0) printf("cluster: transcripts agree\n");
    mc2_coll_free(c);
    mc2_mesh_free(m);
    mc2_coll_plan_free(p);
    free(v), free(w), free(sbuf), free(rbuf), free(sb), free(rb), free(sl), free(rl), free(cnt),
        free(dis);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mpirun -np N meshrun [--runs R] [--timeout-ms T] [--chunk BYTES] "
               "[--quit RANK]\n"
               "       mpirun -np N meshrun --bench BYTES [--iters K] [--chunk BYTES]\n"
               "Runs a test job of encrypted collectives over the enclave mesh and the MPI "
               "relay (the mesh in each rank's process: a protocol and transport test, not an "
               "isolation test). --bench times encrypted allreduce/alltoallv against plain "
               "MPI_Allreduce/MPI_Alltoallv of the same bytes.\n");
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.runs = 2, .timeout_ms = 10000, .quit = -1, .chunk = 1024, .iters = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) return usage(stdout), 1;
        if (!v) return usage(stderr), 2;
        long x = atol(v);
        i++;
        if (!strcmp(a, "--runs") && x >= 1 && x <= 10)
            o->runs = (int)x;
        else if (!strcmp(a, "--timeout-ms") && x > 0 && x <= 3600000)
            o->timeout_ms = (int)x;
        else if (!strcmp(a, "--chunk") && x > 0 && x <= (long)MC2_COLL_MAX_CHUNK)
            o->chunk = (uint32_t)x;
        else if (!strcmp(a, "--quit") && x >= 0)
            o->quit = (int)x;
        else if (!strcmp(a, "--bench") && x >= 64 && x <= (1l << 30))
            o->bench_bytes = (size_t)x & ~(size_t)63;
        else if (!strcmp(a, "--iters") && x >= 1 && x <= 40)
            o->iters = (int)x;
        else
            return usage(stderr), 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rank r = {0};
    mc2_err e;
    int rc = parse(argc, argv, &r.o);
    if (rc) return rc == 1 ? 0 : 2;
    if (r.o.bench_bytes && r.o.chunk == 1024) r.o.chunk = MC2_COLL_DEFAULT_CHUNK;
    /* Bench: large freed blocks stay in the heap and are reused, for the plain and the
     * encrypted side alike, as in a long-running rank. Without this glibc maps every block
     * above 32 MiB afresh (its dynamic threshold stops there) and both sides pay the kernel's
     * page zeroing on every call: the encrypted alltoallv, whose results are malloc'd (coll.h),
     * twice per call at 2 ranks (bench/README.md). An allocator without these options (a
     * sanitizer's) refuses them: the bench then runs without, which changes only its figures. */
    if (r.o.bench_bytes &&
        (!mallopt(M_MMAP_THRESHOLD, 1 << 30) || !mallopt(M_TRIM_THRESHOLD, INT_MAX)))
        fprintf(stderr, "meshrun: note: the allocator refused mallopt; large blocks are not "
                        "kept for reuse\n");
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &r.self);
    MPI_Comm_size(MPI_COMM_WORLD, &r.n);
    if (r.n < 2 || r.n > MC2_MESH_MAX_RANKS) {
        mc2_err_set(&e, MC2_E_USAGE, "%d ranks (2 to %d)", r.n, MC2_MESH_MAX_RANKS);
        die(&r, &e);
    }
    if (mc2_ed25519_keygen(r.ppub, r.psec, &e)) die(&r, &e);
    if (!(r.relay = mc2_mpirelay_new(MPI_COMM_WORLD, r.o.timeout_ms, &e))) die(&r, &e);
    const char *fd = mc2_mpirelay_fault_desc(r.relay);
    if (fd && r.self == 0)
        fprintf(stderr, "meshrun: TEST BUILD fault hook active: %s, in run 2\n", fd);
    rc = r.o.bench_bytes ? run_bench(&r) : run_test(&r);
    mc2_mpirelay_free(r.relay);
    mc2_wipe(r.psec, sizeof r.psec);
    MPI_Finalize();
    return rc == 0 ? 0 : 1;
}
