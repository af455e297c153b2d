/* test_mpc_mlp.c - mpc/mlp.h: two-party private inference of small dense networks with known
 * random weights equals the plaintext (double) evaluation on random inputs, for one layer,
 * two layers and three layers (two ReLUs; a ReLU of more values than one garbled circuit
 * holds); rows whose two best plaintext logits are within 1e-3 would be excused (counted
 * and printed: truncation rounds by < 2^-16); the model loader on .npy files: shapes that
 * chain, a wrong shape, a missing bias, a 3-D array, an oversized value; the online phase
 * refuses to run without its offline phase. Prints offline and online time per query. */
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "fl/fl.h"
#include "../tools/mlp_run.h"
#include "test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) /* uniform in [-1, 1) */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

static mpc_mlp *random_model(uint32_t layers, const uint32_t *dims)
{
    mpc_mlp *m = mc2_calloc(1, sizeof *m);
    if (!m) abort();
    m->shape.layers = layers;
    for (uint32_t l = 0; l <= layers; l++) m->shape.dims[l] = dims[l];
    for (uint32_t l = 0; l < layers; l++) {
        size_t nw = (size_t)dims[l] * dims[l + 1];
        m->w[l] = mc2_malloc(nw * sizeof(double));
        m->b[l] = mc2_malloc(dims[l + 1] * sizeof(double));
        if (!m->w[l] || !m->b[l]) abort();
        double sc = 1.5 / sqrt((double)dims[l]);
        for (size_t i = 0; i < nw; i++) m->w[l][i] = sc * urand();
        for (uint32_t j = 0; j < dims[l + 1]; j++) m->b[l][j] = 0.3 * urand();
    }
    return m;
}

/* Runs rows random queries through the protocol and compares with the plaintext. */
static void check_model(const char *what, uint32_t layers, const uint32_t *dims, size_t rows,
                        size_t batch)
{
    mpc_mlp *m = random_model(layers, dims);
    uint32_t d0 = dims[0], dl = dims[layers];
    double *x = malloc(rows * d0 * sizeof *x), *lg = malloc(rows * dl * sizeof *lg);
    uint32_t *want = malloc(rows * sizeof *want), *got = calloc(rows, sizeof *got);
    if (!x || !lg || !want || !got) abort();
    for (size_t i = 0; i < rows * d0; i++) x[i] = 2 * urand();
    mc2_err err;
    CHECK(mpc_mlp_predict_plain(m, x, rows, want, lg, &err) == 0);
    mlp_run r = {.model = m, .x = x, .rows = rows, .batch = batch, .pred = got};
    int ran = mlp_run_local(&r) == 0;
    CHECK_MSG(ran, "%s: protocol ran", what);
    size_t same = 0, close = 0, classes_seen = 0;
    uint32_t seen[64] = {0};
    for (size_t i = 0; i < rows; i++) {
        const double *v = lg + i * dl;
        double gap = INFINITY;
        for (uint32_t j = 0; j < dl; j++)
            if (j != want[i] && v[want[i]] - v[j] < gap) gap = v[want[i]] - v[j];
        if (got[i] == want[i])
            same++;
        else if (gap < 1e-3)
            close++;
        if (want[i] < 64 && !seen[want[i]]++) classes_seen++;
    }
    CHECK_MSG(ran && same + close == rows, "%s: %zu of %zu predictions equal the plaintext", what,
              same, rows);
    CHECK_MSG(classes_seen > 1 || dl == 1, "%s: the inputs reach more than one class", what);
    printf("test_mpc_mlp: %s: %zu rows, %zu equal, %zu near ties excused; per query offline "
           "%.2f ms (%.1f KiB), online %.2f ms (%.1f KiB)\n",
           what, rows, same, close, 1e3 * r.offline_s / (double)rows,
           (double)r.offline_b / 1024 / (double)rows, 1e3 * r.online_s / (double)rows,
           (double)r.online_b / 1024 / (double)rows);
    mpc_mlp_free(m);
    free(x);
    free(lg);
    free(want);
    free(got);
}

static void test_inference(void)
{
    static const uint32_t d1[] = {6, 4}, d2[] = {10, 16, 5}, d3[] = {8, 48, 24, 7};
    check_model("1 layer 6-4", 1, d1, 40, 40);
    check_model("2 layers 10-16-5", 2, d2, 60, 25);
    /* 100 rows x 48 = 4800 values: two garbled ReLU circuits */
    check_model("3 layers 8-48-24-7", 3, d3, 100, 100);
}

/* ---- loading ---------------------------------------------------------------------------- */

static char dir[256];

static void write_npy(const char *name, const float *v, const uint64_t *dims, uint32_t nd)
{
    char path[512];
    mc2_buf b = {0};
    mc2_err err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (mc2_npy_format(v, dims, nd, &b, &err) ||
        mc2_file_write_atomic(path, b.data, b.len, 0600, 0, &err))
        abort();
    mc2_buf_free(&b);
}

static void rm(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static int load_code(void)
{
    mpc_mlp *m = NULL;
    mc2_err err;
    mc2_err_clear(&err);
    int rc = mpc_mlp_load(dir, &m, &err);
    if (rc == 0) {
        mpc_mlp_free(m);
        return MC2_OK;
    }
    return err.code;
}

static void test_load(void)
{
    snprintf(dir, sizeof dir, "%s/mc2-mlp-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) abort();
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)(i - 32) / 16;
    uint64_t w1[2] = {4, 3}, b1[1] = {3}, w2[2] = {3, 2}, b2[1] = {2};
    write_npy("W1.npy", v, w1, 2);
    write_npy("b1.npy", v, b1, 1);
    write_npy("W2.npy", v, w2, 2);
    write_npy("b2.npy", v, b2, 1);
    mpc_mlp *m = NULL;
    mc2_err err;
    CHECK(mpc_mlp_load(dir, &m, &err) == 0);
    if (m) {
        CHECK(m->shape.layers == 2 && m->shape.dims[0] == 4 && m->shape.dims[1] == 3 &&
              m->shape.dims[2] == 2);
        CHECK(m->w[1][5] == v[5] && m->b[0][2] == v[2]);
        double x[4] = {1, 0, -1, 0.5}, lg[2];
        uint32_t pr;
        CHECK(mpc_mlp_predict_plain(m, x, 1, &pr, lg, &err) == 0 && pr == (lg[1] > lg[0]));
        mpc_mlp_free(m);
    }
    uint64_t w2bad[2] = {4, 2}; /* layer 1 has 3 outputs */
    write_npy("W2.npy", v, w2bad, 2);
    CHECK(load_code() == MC2_E_INPUT);
    write_npy("W2.npy", v, w2, 2);
    rm("b2.npy");
    CHECK(load_code() == MC2_E_NOTFOUND);
    uint64_t b2bad[1] = {3};
    write_npy("b2.npy", v, b2bad, 1);
    CHECK(load_code() == MC2_E_INPUT);
    write_npy("b2.npy", v, b2, 1);
    uint64_t w3d[3] = {3, 2, 1};
    write_npy("W2.npy", v, w3d, 3);
    CHECK(load_code() == MC2_E_INPUT);
    float big[6] = {0, 0, 0, 0, 2e6f, 0};
    write_npy("W2.npy", big, w2, 2);
    CHECK(load_code() == MC2_E_INPUT);
    write_npy("W2.npy", v, w2, 2);
    CHECK(load_code() == MC2_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/W1.npy", dir);
    CHECK(mc2_file_write_atomic(path, "\x93NUMPY\x01\x00garbage", 15, 0600, 0, &err) == 0);
    CHECK(load_code() == MC2_E_INPUT);
    rm("W1.npy");
    CHECK(load_code() == MC2_E_NOTFOUND);
    rm("b1.npy");
    rm("W2.npy");
    rm("b2.npy");
    rmdir(dir);
}

/* ---- misuse ------------------------------------------------------------------------------ */

static void *online_without_offline(void *arg)
{
    mlp_party_arg *a = arg;
    mpc_mlp_party *p = NULL;
    a->ok = mpc_mlp_party_new(a->net, &a->run->model->shape, a->self ? NULL : a->run->model, &p,
                              &a->err) == 0;
    if (a->ok) {
        double x[6] = {0};
        uint32_t pred[1];
        mc2_err_clear(&a->err);
        a->ok = mpc_mlp_online(p, a->self ? x : NULL, 1, a->self ? pred : NULL, &a->err) != 0 &&
                a->err.code == MC2_E_USAGE;
    }
    mpc_mlp_party_free(p);
    return NULL;
}

static void test_misuse(void)
{
    static const uint32_t d[] = {6, 4};
    mpc_mlp *m = random_model(1, d);
    mlp_run r = {.model = m};
    mpc_net *nets[2];
    pthread_t th[2];
    mlp_party_arg pa[2];
    mc2_err err;
    CHECK(mpc_net_local(2, nets, NULL, NULL, &err) == 0);
    for (uint32_t i = 0; i < 2; i++) {
        pa[i] = (mlp_party_arg){.run = &r, .net = nets[i], .self = i};
        pthread_create(&th[i], NULL, online_without_offline, &pa[i]);
    }
    for (uint32_t i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_MSG(pa[0].ok && pa[1].ok, "online without offline is refused on both sides");
    for (uint32_t i = 0; i < 2; i++) mpc_net_free(nets[i]);
    /* the client may not hold a model, the server must */
    CHECK(mpc_net_local(2, nets, NULL, NULL, &err) == 0);
    mpc_mlp_party *p = NULL;
    CHECK(mpc_mlp_party_new(nets[1], &m->shape, m, &p, &err) != 0 && err.code == MC2_E_USAGE);
    CHECK(mpc_mlp_party_new(nets[0], &m->shape, NULL, &p, &err) != 0 && err.code == MC2_E_USAGE);
    for (uint32_t i = 0; i < 2; i++) mpc_net_free(nets[i]);
    mpc_mlp_free(m);
}

int main(void)
{
    test_load();
    test_misuse();
    test_inference();
    return test_done("test_mpc_mlp");
}
