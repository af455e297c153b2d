/* mpc_mlp_tool.c - two-party private inference of every row of a .npy matrix with a model
 * directory (mpc/mlp.h), both parties as threads of this process (tests/cli/test_mpc_mlp.sh).
 *   mpc_mlp_tool MODEL_DIR X.npy [BATCH]
 * prints, per row, "MPC_PREDICTION PLAINTEXT_PREDICTION" (the plaintext: the same model in
 * double), then on stderr the offline and online time and bytes per query. Exit 0 ok, 1
 * failure, 2 usage. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/file.h"
#include "fl/fl.h"
#include "mlp_run.h"

static int usage(FILE *f, int rc)
{
    fprintf(f,
            "usage: mpc_mlp_tool MODEL_DIR X.npy [BATCH]\n"
            "  two-party private inference of every row of X.npy (rows x inputs) with the\n"
            "  model in MODEL_DIR (W1.npy b1.npy W2.npy b2.npy ..., docs/mpc.md); prints\n"
            "  'MPC PLAINTEXT' predictions per row, times per query on stderr. BATCH: rows\n"
            "  per offline/online round (default 100, 1..%u).\n",
            MPC_MLP_MAX_ROWS);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--help")) return usage(stdout, 0);
    if (argc < 3 || argc > 4) return usage(stderr, 2);
    size_t batch = 100;
    if (argc == 4) {
        char *end;
        unsigned long v = strtoul(argv[3], &end, 10);
        if (*end || v < 1 || v > MPC_MLP_MAX_ROWS) return usage(stderr, 2);
        batch = v;
    }
    mc2_err err;
    mpc_mlp *m = NULL;
    mc2_buf b = {0};
    mc2_npy a = {0};
    double *x = NULL;
    uint32_t *got = NULL, *want = NULL;
    int rc = 1;
    if (mpc_mlp_load(argv[1], &m, &err)) {
        fprintf(stderr, "mpc_mlp_tool: %s\n", err.msg);
        goto out;
    }
    if (mc2_file_read_all(argv[2], (size_t)1 << 30, &b, &err) ||
        mc2_npy_parse(b.data, b.len, &a, &err)) {
        fprintf(stderr, "mpc_mlp_tool: %s: %s\n", argv[2], err.msg);
        goto out;
    }
    if (a.ndims != 2 || a.dims[1] != m->shape.dims[0] || a.dims[0] < 1) {
        fprintf(stderr, "mpc_mlp_tool: %s: expected a (rows, %u) matrix\n", argv[2],
                m->shape.dims[0]);
        goto out;
    }
    size_t rows = a.dims[0];
    x = malloc(a.n * sizeof *x);
    got = calloc(rows, sizeof *got);
    want = calloc(rows, sizeof *want);
    if (!x || !got || !want) {
        fprintf(stderr, "mpc_mlp_tool: out of memory\n");
        goto out;
    }
    for (uint64_t i = 0; i < a.n; i++) x[i] = a.values[i];
    if (mpc_mlp_predict_plain(m, x, rows, want, NULL, &err)) {
        fprintf(stderr, "mpc_mlp_tool: %s\n", err.msg);
        goto out;
    }
    mlp_run r = {.model = m, .x = x, .rows = rows, .batch = batch, .pred = got};
    if (mlp_run_local(&r)) goto out;
    for (size_t i = 0; i < rows; i++) printf("%u %u\n", got[i], want[i]);
    fprintf(stderr,
            "mpc_mlp_tool: %zu rows in batches of %zu: per query offline %.2f ms (%.1f KiB), "
            "online %.2f ms (%.1f KiB); total offline %.2f s, online %.2f s\n",
            rows, batch, 1e3 * r.offline_s / (double)rows,
            (double)r.offline_b / 1024 / (double)rows, 1e3 * r.online_s / (double)rows,
            (double)r.online_b / 1024 / (double)rows, r.offline_s, r.online_s);
    rc = 0;
out:
    mpc_mlp_free(m);
    mc2_npy_free(&a);
    mc2_buf_free(&b);
    free(x);
    free(got);
    free(want);
    return rc;
}
