/* mlp_run.h - runs mpc/mlp.h's private inference with both parties as threads of this
 * process over mpc_net_local (tests/unit/test_mpc_mlp.c, tests/tools/mpc_mlp_tool.c): the
 * server thread holds the model, the client thread the inputs, in batches of `batch` rows,
 * each an offline then an online phase; the client's wall times of both phases are summed. */
#ifndef MC2_TESTS_MLP_RUN_H
#define MC2_TESTS_MLP_RUN_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "mpc/mlp.h"

typedef struct mlp_run {
    const mpc_mlp *model; /* server */
    const double *x;      /* client: rows x d_0 */
    size_t rows, batch;
    uint32_t *pred;               /* client: rows */
    double offline_s, online_s;   /* client's wall time, all batches */
    uint64_t offline_b, online_b; /* bytes both ways */
} mlp_run;

typedef struct mlp_party_arg {
    mlp_run *run;
    mpc_net *net;
    uint32_t self;
    int ok;
    mc2_err err;
} mlp_party_arg;

static double mlp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *mlp_party_main(void *arg)
{
    mlp_party_arg *a = arg;
    mlp_run *r = a->run;
    mpc_mlp_party *p = NULL;
    int client = a->self == 1;
    a->ok = mpc_mlp_party_new(a->net, &r->model->shape, client ? NULL : r->model, &p, &a->err) == 0;
    for (size_t off = 0; a->ok && off < r->rows; off += r->batch) {
        size_t n = r->rows - off < r->batch ? r->rows - off : r->batch;
        uint64_t s0, r0, s1, r1, s2, r2;
        mpc_mlp_counters(p, &s0, &r0);
        double t0 = mlp_now();
        a->ok = mpc_mlp_offline(p, n, &a->err) == 0;
        double t1 = mlp_now();
        mpc_mlp_counters(p, &s1, &r1);
        a->ok = a->ok && mpc_mlp_online(p, client ? r->x + off * r->model->shape.dims[0] : NULL, n,
                                        client ? r->pred + off : NULL, &a->err) == 0;
        double t2 = mlp_now();
        mpc_mlp_counters(p, &s2, &r2);
        if (client) {
            r->offline_s += t1 - t0;
            r->online_s += t2 - t1;
            r->offline_b += (s1 - s0) + (r1 - r0);
            r->online_b += (s2 - s1) + (r2 - r1);
        }
    }
    mpc_mlp_party_free(p);
    return NULL;
}

/* 0 when both parties finished; prints their errors otherwise. */
static int mlp_run_local(mlp_run *r)
{
    mpc_net *nets[2];
    pthread_t th[2];
    mlp_party_arg pa[2];
    mc2_err err;
    if (mpc_net_local(2, nets, NULL, NULL, &err)) {
        fprintf(stderr, "net: %s\n", err.msg);
        return -1;
    }
    for (uint32_t i = 0; i < 2; i++) {
        pa[i] = (mlp_party_arg){.run = r, .net = nets[i], .self = i};
        pthread_create(&th[i], NULL, mlp_party_main, &pa[i]);
    }
    int ok = 1;
    for (uint32_t i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (!pa[i].ok) fprintf(stderr, "party %u: %s\n", i, pa[i].err.msg);
        ok &= pa[i].ok;
    }
    for (uint32_t i = 0; i < 2; i++) mpc_net_free(nets[i]);
    return ok ? 0 : -1;
}

#endif
