/* jobs_fl.h - TRUSTED: the state of a fedavg round inside the enclave (jobs_fl.c) and the
 * seam where masked rounds (`masks secagg`, jobs_fl_mask.c) plug in. docs/fl.md describes
 * the round; docs/wire-protocol.md its EAPI_KIND ops.
 *
 * A round's state (enc_job.kstate) is made on the first `ready` after submission (mu held)
 * and lives until the job is forgotten (enc_fl_release): after the round ran it keeps only
 * the sealed model's key and name, which a later round's `base_job` reads. */
#ifndef MC2_ENCLAVE_JOBS_FL_H
#define MC2_ENCLAVE_JOBS_FL_H

#include "enclave/enclave.h"
#include "fl/fl.h"

typedef struct enc_fl_state {
    mc2_fl_round r;
    uint64_t deadline_ms;                     /* CLOCK_MONOTONIC */
    mc2_fl_agg *agg;                          /* made at the first complete update */
    bool done[MC2_FL_MAX_PARTICIPANTS];       /* participant i's update was folded in */
    mc2_buf pending[MC2_FL_MAX_PARTICIPANTS]; /* its update's bytes received so far (secret) */
    /* The model this round released (for base_job), once it ran. */
    bool has_model;
    uint8_t model_key[MC2_KEY_LEN];
    char model_name[160];
    void *mask; /* the masked path's own state (jobs_fl_mask.c), or NULL */
} enc_fl_state;

/* The masked path (`masks secagg`). jobs_fl.c calls these for a masked round only; each is
 * called with mu held except `finish` (runner thread, without mu). NULL in a build without
 * masked rounds: then `check` refuses `masks secagg`.
 *
 *   check    validates the masked params of r (mask_threshold, clipping_range, ...)
 *   ready    as enc_kind.ready for a masked round (its stages and stage timeouts); st->done
 *            says whose masked vector was folded (FL_PUT with form 1)
 *   request  its own EAPI_KIND ops (>= FL_OP_MASKED_FIRST)
 *   put      called before a complete masked vector (form 1) from participant `idx` is
 *            folded: refuse it if the round is not at the stage that takes it
 *   finish   turns the masked sum (mc2_fl_agg_masked_sum) into the weighted sum S and W in
 *            st->agg (mc2_fl_agg_add_sum); jobs_fl.c then finishes the round as unmasked
 *   release  frees and wipes st->mask */
typedef struct enc_fl_mask_ops {
    int (*check)(const mc2_fl_round *r, mc2_err *err);
    int (*ready)(enclave *e, enc_job *j, enc_fl_state *st, mc2_err *err);
    int (*request)(enclave *e, enc_session *s, enc_job *j, enc_fl_state *st, uint8_t op, mc2_rd *r,
                   mc2_buf *out, mc2_err *err);
    int (*put)(enclave *e, enc_job *j, enc_fl_state *st, int idx, mc2_err *err);
    int (*finish)(enclave *e, enc_job *j, enc_fl_state *st, mc2_err *err);
    void (*release)(enc_fl_state *st);
} enc_fl_mask_ops;

/* The masked path's ops, defined in jobs_fl_mask.c. jobs_fl.c's MASK_OPS points at it. */
extern const enc_fl_mask_ops enc_fl_masked;

/* "waiting for updates: 3 of 5 (k = 3) from a, b, d; missing c, e; deadline in 42 s" into
 * out (mu held). */
void enc_fl_status(const enc_fl_state *st, uint64_t now_ms, char *out, size_t cap);

/* A finished round restored after an enclave restart: its model key is not sealed. */
#define ENC_FL_BASE_RESTART_MSG                                                                    \
    "'base_job': round %llu finished before an enclave restart, and a round's model key is "       \
    "not kept across restarts: start from a new round"

#endif
