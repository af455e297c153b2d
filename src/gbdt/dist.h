/* dist.h - data-parallel GBDT training across the ranks of a distributed job (issue 12; docs/
 * gbdt.md, "Distributed training"). Every rank holds some rows of the training set; the ranks
 * exchange only aggregates through the collectives the caller supplies (in the enclave: the
 * encrypted mesh, src/mesh/coll.h), and every rank ends with the bit-identical model.
 *
 * ALGORITHM (XGBoost's "hist" data-parallel scheme):
 *   1. quantile cuts: each rank sketches its rows per feature; the sketches go to rank 0
 *      (gather0), which merges them and computes the cuts, sent to every rank (bcast0);
 *   2. base score (if the objective derives it from the labels): allreduce of the sums;
 *   3. per round, per tree (group), per level: each rank builds the level's node histograms
 *      (sum of gradient and hessian per bin) on its rows; one allreduce_f64 sums them; every
 *      rank then evaluates the same splits from the same sums (so the same tree), and
 *      partitions its own rows. Leaf values come from the summed statistics;
 *   4. per round, the metrics that are sums over rows (rmse, logloss, merror) on the training
 *      rows: one allreduce of (sum, weight) pairs. AUC needs every prediction and is refused
 *      in a distributed run, as is early stopping (the collectives are fixed before training).
 * The sequence of calls is a function of public facts only (the parameters, the number of
 * features, the number of ranks): mc2_gbdt_dist_ops lists it, and mc2_gbdt_train_dist makes
 * exactly those calls in that order (a call count that differs is a bug, reported as
 * MC2_E_INTERNAL), so a mesh can fix its stage graph before the first message.
 *
 * EQUALITY. With one rank the model equals mc2_gbdt_train's on the same data bit for bit.
 * With more ranks, sums are added in another order (per rank, then across ranks in rank
 * order), so statistics can differ in the last bits and the cuts come from merged sketches:
 * the model equals single-node training within the tolerance docs/gbdt.md states, and is
 * identical on every rank. */
#ifndef MC2_GBDT_DIST_H
#define MC2_GBDT_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "gbdt/gbdt.h"
#include "mc2/err.h"

enum mc2_gbdt_comm_op {
    MC2_GBDT_COMM_ALLREDUCE_F64 = 1, /* every rank: v[0..n) summed in place */
    MC2_GBDT_COMM_BCAST0 = 2,        /* rank 0's bytes to every rank */
    MC2_GBDT_COMM_GATHER0 = 3        /* every rank's bytes to rank 0 */
};

/* The collectives, supplied by the caller. Each returns 0, or -1 with *err (a failure ends
 * training with that error). Byte buffers they return are malloc'd (free()). */
typedef struct mc2_gbdt_comm {
    uint32_t rank, n_ranks; /* n_ranks >= 1 */
    void *ctx;
    int (*allreduce_f64)(void *ctx, double *v, size_t n, mc2_err *err);
    /* rank 0: *buf and *len are the input (unchanged); elsewhere set to a copy of rank 0's */
    int (*bcast0)(void *ctx, uint8_t **buf, size_t *len, mc2_err *err);
    /* rank 0: out[i]/out_len[i] rank i's bytes (out has n_ranks slots); elsewhere out NULL */
    int (*gather0)(void *ctx, const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
                   mc2_err *err);
} mc2_gbdt_comm;

/* The calls mc2_gbdt_train_dist makes for checked params on d features and n_ranks ranks, in
 * order, into ops[0..cap); *n is their count (also when it exceeds cap: then -1 with
 * MC2_E_LIMIT). MC2_E_INPUT if the parameters ask for what a distributed run refuses (AUC,
 * early stopping). */
int mc2_gbdt_dist_ops(const mc2_gbdt_params *p, size_t d, uint32_t n_ranks,
                      enum mc2_gbdt_comm_op *ops, size_t cap, size_t *n, mc2_err *err) MC2_WUR;

/* Trains on this rank's rows (local->n may be 0; local->d the same on every rank), calling
 * comm exactly as mc2_gbdt_dist_ops says. *out is the model, identical on every rank. With
 * params->eval_train the model records the training metrics over all ranks' rows. */
int mc2_gbdt_train_dist(const mc2_gbdt_params *p, const mc2_gbdt_data *local,
                        const mc2_gbdt_comm *comm, mc2_gbdt_model **out, mc2_err *err) MC2_WUR;

#endif
