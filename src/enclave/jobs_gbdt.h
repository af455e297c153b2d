/* jobs_gbdt.h - TRUSTED, internal to the GBDT job kinds: what the single-enclave kinds
 * (jobs_gbdt.c) and distributed training (jobs_gbdt_dist.c) share. */
#ifndef MC2_ENCLAVE_JOBS_GBDT_H
#define MC2_ENCLAVE_JOBS_GBDT_H

#include <stdbool.h>
#include <stddef.h>

#include "enclave/enclave.h"
#include "gbdt/gbdt.h"

/* A growing dense data set: n rows of d features (+ label when has_y). */
typedef struct gb_mat {
    float *x, *y;
    size_t n, cap, d;
} gb_mat;

/* Wipes and frees m's arrays (m is zeroed). */
void gb_mat_free(gb_mat *m);
/* Makes room for `more` rows, within the enclave's budget (m->d set). */
int gb_mat_grow(enclave *e, gb_mat *m, uint64_t more, bool with_y, mc2_err *err) MC2_WUR;

/* Fills p from the job's GBDT parameters (everything but label, eval and the generic ones);
 * eval_metric may be a comma-separated list. */
int gb_train_params(const mc2_job *j, mc2_gbdt_params *p, mc2_err *err) MC2_WUR;

/* Checks that schema s has numeric feature columns (every column except `label`, which is -1
 * for none) and, if ref is given, the same columns and types as ref. */
int gb_check_schema(const mc2_schema *s, const mc2_schema *ref, long label, const mc2_job_input *in,
                    mc2_err *err) MC2_WUR;

/* Appends batch b's rows (schema s) to m, which has room: features are every column except
 * `label` (-1: none), in schema order; the label goes to m->y. For jobs that are not
 * oblivious (mc2_cell_float() branches on the data). Messages name columns, never values. */
int gb_append_batch(gb_mat *m, const mc2_batch *b, const mc2_schema *s, long label,
                    const mc2_job_input *in, mc2_err *err) MC2_WUR;

/* Checks the labels against the objective ("what" names the rows in messages); m->n == 0 is
 * an error ("has no rows"). Messages name the column, never a value. */
int gb_check_labels(const mc2_gbdt_params *p, const gb_mat *m, const char *label, const char *what,
                    mc2_err *err) MC2_WUR;

/* Gives the model the feature names and types of schema s (every column but the label). */
int gb_name_features(mc2_gbdt_model *model, const mc2_schema *s, const char *label,
                     mc2_err *err) MC2_WUR;

/* Seals the model under a fresh key, bound to its object name, as job j's result for its
 * recipients ("<instance>-model.mc2m"). */
int gb_add_model(enclave *e, enc_job *j, const mc2_gbdt_model *model, mc2_err *err) MC2_WUR;

/* ---- predict (jobs_gbdt.c) --------------------------------------------------------------------
 */

/* One input's predictions: n rows x ngroup values, row-major, in table order; `cells` floats
 * allocated (at least one). */
typedef struct gb_preds {
    float *v;
    size_t n, cells;
} gb_preds;

/* Room for `rows` rows of ng values (zeroed). */
int gb_preds_alloc(gb_preds *p, size_t rows, uint32_t ng, mc2_err *err) MC2_WUR;
/* Wipes and frees p[0..n) and the array p (NULL: nothing). */
void gb_preds_free(gb_preds *p, size_t n);
/* predict's `nthread` (absent: 2). */
int gb_predict_nthread(const mc2_job *j, unsigned *nthread, mc2_err *err) MC2_WUR;
/* An input of d feature columns with schema s fits the model (count, and names if it has). */
int gb_predict_input_check(const mc2_gbdt_model *model, size_t d, const mc2_schema *s,
                           const mc2_job_input *in, mc2_err *err) MC2_WUR;
/* Scores m's rows into *out (allocated here); obl: mc2_gbdt_predict_oblivious. */
int gb_predict_rows(const mc2_gbdt_model *model, const gb_mat *m, unsigned nthread, int obl,
                    gb_preds *out, mc2_err *err) MC2_WUR;
/* The results: one table per input owner, (table, row, prediction...) of its inputs' rows
 * (p[i] for job input i), visible to that owner only. */
int gb_predict_results(enclave *e, enc_job *jb, uint32_t ng, const gb_preds *p,
                       mc2_err *err) MC2_WUR;

/* ---- training on several ranks (jobs_gbdt_dist.c) ---------------------------------------------
 */

/* The kind's plan hook (enc_kind.plan): the collectives of mc2_gbdt_train_dist. */
int enc_train_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                   struct mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err) MC2_WUR;
/* At submission: what a run on n_ranks refuses (eval, oblivious, AUC, too many steps). */
int enc_train_plan_check(const mc2_job *j, uint32_t n_ranks, mc2_err *err) MC2_WUR;
/* The kind's run_rank hook: this rank's rows, trained with the others; rank 0 keeps the model. */
int enc_train_run_rank(enclave *e, enc_job *jb, struct enc_mesh *mesh, mc2_err *err) MC2_WUR;
/* The leader's run of a job with `ranks` n_ranks >= 2: the mesh, then the model released. */
int enc_train_run_dist(enclave *e, enc_job *jb, uint32_t n_ranks, mc2_err *err) MC2_WUR;

/* ---- predict on several ranks (jobs_gbdt_dist.c) -------------------------------------------
 */

/* The kind's plan hook: the model bcast from rank 0, then the gather of the predictions. */
int enc_predict_plan(enclave *e, const mc2_job *j, uint32_t self, uint32_t n_ranks,
                     struct mc2_coll_op *ops, uint32_t cap, uint32_t *n_ops, mc2_err *err) MC2_WUR;
/* The kind's run_rank hook: the model from rank 0, this rank's rows of every input scored,
 * its predictions gathered at rank 0. */
int enc_predict_run_rank(enclave *e, enc_job *jb, struct enc_mesh *mesh, mc2_err *err) MC2_WUR;
/* The leader's run of a predict job with `ranks` n_ranks >= 2 on the opened model: the mesh,
 * then the per-owner result tables (the same as one enclave writes). */
int enc_predict_run_dist(enclave *e, enc_job *jb, const mc2_gbdt_model *model, uint32_t n_ranks,
                         mc2_err *err) MC2_WUR;
/* Rank 0's decode of the gather: part[r][0..len[r]) is rank r's predictions, per job input
 * in order: rows u64 | rows x ng float32 (little-endian). rows must be want[i * n_ranks + r]
 * (the rows of rank r's blocks of input i, from the input's authenticated footer) and
 * nothing may follow; out[0..n_inputs) gets every input's rows in rank order (= table
 * order). On failure (MC2_E_AUTH naming the rank) out may hold allocations: gb_preds_free. */
int enc_predict_decode(const uint8_t *const *part, const size_t *len, uint32_t n_ranks,
                       size_t n_inputs, uint32_t ng, const uint64_t *want, gb_preds *out,
                       mc2_err *err) MC2_WUR;

#endif
