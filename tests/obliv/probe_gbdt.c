/* probe_gbdt.c - drives the oblivious GBDT engine (src/gbdt/oblivious.c) for the valgrind
 * proofs, with the command line of probe.c / probe_ops.c so that run_memcheck.sh and
 * run_trace.sh check it unchanged (docs/obliv.md, docs/gbdt.md "Oblivious mode"):
 *
 *   probe_gbdt memcheck      oblivious training (64 rows x 3 features, some missing,
 *                            max_bin 8, depth 3, 2 rounds, binary:logistic) with features
 *                            AND labels marked undefined, with each histogram method (one-hot
 *                            and sort: both models must be equal), then oblivious prediction
 * (margins) with the model's nodes AND the rows marked undefined; results are then revealed and
 * checked (complete trees; oblivious == normal prediction bit for bit). Must give ZERO memcheck
 * errors. probe_gbdt leak-branch   control: normal (encryption-mode) training on secret data;
 *                            memcheck MUST report secret-dependent jumps
 *   probe_gbdt leak-index    control: normal prediction with a secret model and rows (node
 *                            and feature indices are secret addresses); MUST be reported
 *   probe_gbdt leak-fastsort control: cut points from the non-oblivious radix sort
 *   probe_gbdt trace         oblivious training (32 rows: lackey is slow; each histogram
 *                            method) and prediction on
 *                            five inputs of the same
 *                            public sizes and different contents (features, labels, missing
 *                            values; models of the same shape), each call between two stores
 *                            to a marker word; the controls' regions must differ
 *   probe_gbdt trace-quick   three inputs each
 *
 * Everything runs on one thread (nthread = 1): lackey's traces of several threads would
 * interleave nondeterministically. */
#include "gbdt/gbdt.h"
#include "gbdt/internal.h"
#include "obliv/fastsort.h"

#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>
#define PROBE_NAME "probe_gbdt"
#include "probe_util.h"

#define NROW     64
#define NFEAT    3
#define NPRED    16
#define VARIANTS 5

static size_t nrow = NROW; /* rows: NROW under memcheck, fewer under lackey */
static volatile uint64_t trace_mark, sink;
static unsigned nvariants = VARIANTS;

static float frnd(void)
{
    return (float)((double)(rnd() >> 11) * 0x1.0p-53 * 4.0 - 2.0);
}

static float x[NROW * NFEAT], y[NROW], px[NPRED * NFEAT];

/* Variant v: which feature carries the signal, how many values are missing, label rule. */
static void fill(unsigned v)
{
    for (size_t i = 0; i < nrow; i++) {
        for (size_t f = 0; f < NFEAT; f++) {
            float val = frnd();
            if (v == 1) val = (float)(i % 4); /* heavy duplicates */
            if (v == 2 && f == 1) val = 0.0f; /* a constant feature */
            if ((v == 0 || v == 3) && rnd() % 7 == 0) val = NAN;
            if (v == 4 && f == 2 && i % 2) val = NAN;
            x[i * NFEAT + f] = val;
        }
        float s = x[i * NFEAT + v % NFEAT];
        y[i] = v == 2 ? (float)(i % 2) : (s == s && s > 0.3f) ? 1.0f : 0.0f;
    }
    for (size_t i = 0; i < NPRED * NFEAT; i++) px[i] = (rnd() % 9 == 0) ? NAN : frnd();
}

static void params(mc2_gbdt_params *p)
{
    mc2_gbdt_params_default(p);
    p->objective = MC2_GBDT_BINARY_LOGISTIC;
    p->max_bin = 8;
    p->max_depth = 3;
    p->num_round = 2;
    p->nthread = 1;
    p->oblivious = 1;
}

/* how: TRAIN_NORMAL, or the oblivious trainer with that histogram method. */
#define TRAIN_NORMAL (-1)
static mc2_gbdt_model *train(int how)
{
    mc2_gbdt_params p;
    params(&p);
    p.oblivious = how != TRAIN_NORMAL;
    mc2_gbdt_data d = {x, y, NULL, nrow, NFEAT};
    mc2_gbdt_model *m = NULL;
    mc2_err err;
    mc2_err_clear(&err);
    int rc = how == TRAIN_NORMAL ? mc2_gbdt_train(&p, &d, NULL, NULL, NULL, &m, &err)
                                 : gbdt_train_oblivious(&p, &d, NULL, NULL, NULL,
                                                        (enum gbdt_obl_hist)how, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "probe_gbdt: training failed: %s\n", err.msg);
        fail("train");
        return NULL;
    }
    return m;
}

static void model_secret(const mc2_gbdt_model *m)
{
    for (size_t t = 0; t < m->n_trees; t++)
        secret(m->trees[t].nodes, m->trees[t].n_nodes * sizeof *m->trees[t].nodes);
}
static void model_reveal(const mc2_gbdt_model *m)
{
    for (size_t t = 0; t < m->n_trees; t++)
        reveal(m->trees[t].nodes, m->trees[t].n_nodes * sizeof *m->trees[t].nodes);
}

static float out_o[NPRED], out_n[NPRED];

static void predict_obl(const mc2_gbdt_model *m)
{
    mc2_err err;
    if (mc2_gbdt_predict_oblivious(m, px, NPRED, NFEAT, 1, 1, out_o, &err) != 0) fail("predict");
}

static void memcheck_run(void)
{
    fill(0);
    secret(x, sizeof x);
    secret(y, sizeof y);
    mc2_gbdt_model *m = train(GBDT_OBL_HIST_ONEHOT), *ms = train(GBDT_OBL_HIST_SORT);
    if (!m || !ms) {
        mc2_gbdt_model_free(m);
        mc2_gbdt_model_free(ms);
        return;
    }
    reveal(x, sizeof x);
    reveal(y, sizeof y);
    model_reveal(m);
    model_reveal(ms);
    for (size_t t = 0; t < m->n_trees && t < ms->n_trees; t++)
        if (memcmp(m->trees[t].nodes, ms->trees[t].nodes,
                   m->trees[t].n_nodes * sizeof *m->trees[t].nodes) != 0)
            fail("sort and one-hot histograms give different trees");
    mc2_gbdt_model_free(ms);
    if (m->n_trees != 2) fail("tree count");
    for (size_t t = 0; t < m->n_trees; t++) {
        if (m->trees[t].n_nodes != 15) fail("complete trees");
        for (uint32_t j = 0; j < m->trees[t].n_nodes; j++)
            if (m->trees[t].nodes[j].left != (j < 7 ? (int32_t)(2 * j + 1) : -1))
                fail("fixed shape");
    }
    mc2_err err;
    if (mc2_gbdt_predict(m, px, NPRED, NFEAT, 1, out_n, &err) != 0) fail("normal predict");
    model_secret(m);
    secret(px, sizeof px);
    predict_obl(m);
    reveal(out_o, sizeof out_o);
    reveal(px, sizeof px);
    model_reveal(m);
    if (memcmp(out_o, out_n, sizeof out_o) != 0) fail("oblivious != normal prediction");
    /* a model from normal training (incomplete trees) too */
    mc2_gbdt_model *mn = train(TRAIN_NORMAL);
    if (mn) {
        if (mc2_gbdt_predict(mn, px, NPRED, NFEAT, 1, out_n, &err) != 0) fail("normal predict");
        model_secret(mn);
        secret(px, sizeof px);
        predict_obl(mn);
        reveal(out_o, sizeof out_o);
        reveal(px, sizeof px);
        model_reveal(mn);
        if (memcmp(out_o, out_n, sizeof out_o) != 0) fail("oblivious != normal (normal model)");
        mc2_gbdt_model_free(mn);
    }
    mc2_gbdt_model_free(m);
}

/* ---- leaky controls --------------------------------------------------------------------- */

__attribute__((noinline)) static void leak_train(void)
{
    mc2_gbdt_model *m = train(TRAIN_NORMAL);
    mc2_gbdt_model_free(m);
}
__attribute__((noinline)) static void leak_predict(const mc2_gbdt_model *m)
{
    mc2_err err;
    if (mc2_gbdt_predict(m, px, NPRED, NFEAT, 1, out_n, &err) != 0) fail("normal predict");
    sink = (uint64_t)out_n[0];
}
/* Cut points of feature 0 from the radix sort (the fast, non-oblivious way). */
static uint64_t leak_buf[NROW * 2], leak_scr[NROW * 2];
__attribute__((noinline)) static void leak_cuts(void)
{
    for (size_t i = 0; i < nrow; i++) {
        uint32_t u;
        memcpy(&u, &x[i * NFEAT], 4);
        leak_buf[2 * i] = u ^ ((u >> 31) ? 0xffffffffu : 0x80000000u);
        leak_buf[2 * i + 1] = i;
    }
    obliv_fastsort(leak_buf, nrow, 16, 0, 1, leak_scr);
    sink = leak_buf[2 * (nrow / 2)];
}

static void mark(void)
{
    trace_mark = trace_mark + 1;
}

/* Per variant: training (its model: 2 trees of 15 nodes, depth 3, whatever the data), then
 * prediction with that model on that variant's rows, then the controls; everything is freed
 * before the next variant, so every variant's buffers land at the same addresses. */
static void trace_all(void)
{
    fprintf(stderr, "MARK %lx\n", (unsigned long)(uintptr_t)&trace_mark);
    static const char *names[3] = {"control-leak-train", "control-leak-predict",
                                   "control-leak-cuts"};
    for (unsigned vi = 0; vi <= nvariants; vi++) { /* vi 0: warm-up */
        unsigned v = vi == 0 ? 0 : vi - 1;
        fill(v);
        if (vi > 0) {
            printf("REGION gbdt-train-sort %u\n", v);
            mark();
        }
        mc2_gbdt_model_free(train(GBDT_OBL_HIST_SORT));
        if (vi > 0) {
            mark();
            printf("REGION gbdt-train %u\n", v);
            mark();
        }
        mc2_gbdt_model *m = train(GBDT_OBL_HIST_ONEHOT);
        if (vi > 0) mark();
        if (!m) return;
        if (vi > 0) {
            printf("REGION gbdt-predict %u\n", v);
            mark();
        }
        predict_obl(m);
        if (vi > 0) mark();
        for (int k = 0; k < 3; k++) {
            if (vi > 0) {
                printf("REGION %s %u\n", names[k], v);
                mark();
            }
            if (k == 0) leak_train();
            if (k == 1) leak_predict(m);
            if (k == 2) leak_cuts();
            if (vi > 0) mark();
        }
        mc2_gbdt_model_free(m);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    rng_state = 12345;
    if (!strcmp(mode, "memcheck")) {
        memcheck_run();
        printf("probe_gbdt memcheck: oblivious training + prediction: %s\n",
               failures ? "WRONG RESULTS" : "results correct");
        return failures ? 1 : 0;
    }
    if (!strcmp(mode, "leak-branch") || !strcmp(mode, "leak-index") ||
        !strcmp(mode, "leak-fastsort")) {
        fill(0);
        if (!strcmp(mode, "leak-branch")) {
            secret(x, sizeof x);
            secret(y, sizeof y);
            leak_train();
        }
        if (!strcmp(mode, "leak-index")) {
            mc2_gbdt_model *m = train(GBDT_OBL_HIST_ONEHOT);
            if (m) {
                model_secret(m);
                secret(px, sizeof px);
                leak_predict(m);
                model_reveal(m);
                mc2_gbdt_model_free(m);
            }
        }
        if (!strcmp(mode, "leak-fastsort")) {
            secret(x, sizeof x);
            leak_cuts();
        }
        printf("probe_gbdt %s: ran\n", mode);
        return 0;
    }
    if (!strcmp(mode, "trace") || !strcmp(mode, "trace-quick")) {
        tracing = 1;
        mallopt(M_MMAP_THRESHOLD, 0);
        void *hw[64];
        for (int i = 0; i < 64; i++) hw[i] = malloc(i ? 64 : (size_t)64 << 20);
        for (int i = 0; i < 64; i++) free(hw[i]);
        nvariants = !strcmp(mode, "trace") ? VARIANTS : 3;
        nrow = 32;
        trace_all();
        return failures ? 1 : 0;
    }
    fprintf(stderr, "usage: probe_gbdt memcheck|leak-branch|leak-index|leak-fastsort|trace|"
                    "trace-quick\n");
    return 2;
}
