/* fl_mask.h - the client's side of a masked fedavg round (`masks secagg`): runs the stages of
 * fl/mask.h's protocol over an attested session (keys, shares, masked input, unmask), polling
 * the enclave between them. The masked input itself goes through the caller's `put` (the
 * signed FL_PUT update of form 1, fl-core's code), so this file only masks. */
#ifndef MC2_CONN_FL_MASK_H
#define MC2_CONN_FL_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "conn/conn.h"
#include "fl/fl.h"

/* Sends the masked vector y[0..n) (n = nvalues + 1, element 0 the weight ratio) as this
 * party's update of form 1. */
typedef int (*mc2_fl_put_masked_fn)(void *ctx, const uint32_t *y, size_t n, mc2_err *err);

/* TEST ONLY: where a client stops, to simulate one that vanishes (a dropout). */
enum mc2_fl_vanish {
    MC2_FL_VANISH_NEVER = 0,
    MC2_FL_VANISH_AFTER_KEYS,   /* posts its keys, then is gone */
    MC2_FL_VANISH_AFTER_SHARES, /* posts keys and shares, never its masked input */
};

typedef struct mc2_fl_mask_args {
    uint64_t job;
    uint8_t rid[MC2_SHA256_LEN]; /* SHA-256 of the job's text */
    const mc2_fl_round *r;       /* the job's params, parsed */
    int me;                      /* this party's index in r->parts */
    const float *u;              /* the update, r->shape.nvalues values */
    uint64_t weight;             /* >= 1 */
    uint64_t timeout_ms;         /* for the whole protocol */
    mc2_fl_put_masked_fn put;
    void *put_ctx;
    int vanish; /* enum mc2_fl_vanish: MC2_FL_VANISH_NEVER except in dropout tests */
} mc2_fl_mask_args;

/* Runs this party's part of masked round a->job: returns 0 once its unmask shares are posted
 * (the round then runs when the others' are in, or their stage times out), or once it
 * vanished as a->vanish asks. Fails with the round's reason if the round failed, with
 * MC2_E_AUTH if the enclave refused this party (not a participant, or left out of a stage it
 * missed), MC2_E_INPUT on a timeout or a share that does not open. Every secret (key pairs,
 * b, shares) is wiped before it returns. */
int mc2_fl_mask_submit(mc2_esession *s, const mc2_fl_mask_args *a, mc2_err *err) MC2_WUR;

#endif
