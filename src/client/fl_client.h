/* fl_client.h - the client side of fedavg rounds (docs/fl.md), shared by `mc2 fl` and the
 * C API (mc2_client_fl_submit, mc2_client_fl_model). Prints nothing. */
#ifndef MC2_CLIENT_FL_CLIENT_H
#define MC2_CLIENT_FL_CLIENT_H

#include "client/session.h"
#include "fl/fl.h"

#define CLI_FL_CHUNK ((size_t)4 << 20) /* update bytes per FL_PUT */

/* Job id's exact text from the enclave, parsed as a fedavg round: *r, and the SHA-256 of
 * the text in sha (may be NULL). MC2_E_USAGE if it is not a fedavg job. The session must be
 * attested. */
int cli_fl_round(cli_session *cs, uint64_t id, mc2_fl_round *r, uint8_t sha[MC2_SHA256_LEN],
                 mc2_err *err) MC2_WUR;

/* Sends an encoded update upd[0..n) and its signature to round job id in FL_PUT chunks of
 * `chunk` bytes (0: CLI_FL_CHUNK). send_last false stops before the last chunk (tests: an
 * update that never completes). */
int cli_fl_put(mc2_esession *es, uint64_t id, const uint8_t *upd, size_t n,
               const uint8_t sig[MC2_ED25519_SIG_LEN], size_t chunk, bool send_last,
               mc2_err *err) MC2_WUR;

/* This party's update values[0..n) with weight to round job id (as mc2_client_fl_submit):
 * attests, reads the round, checks this party takes part and n, encodes, signs, sends. */
int cli_fl_submit(cli_session *cs, uint64_t id, const float *values, size_t n, uint64_t weight,
                  unsigned timeout_ms, mc2_err *err) MC2_WUR;

/* The model round job id released (this party a recipient), waiting up to wait_ms for the
 * round to end: fails with its reason if it failed. Free *m with mc2_fl_model_free. */
int cli_fl_model(cli_session *cs, uint64_t id, uint64_t wait_ms, mc2_fl_model *m,
                 mc2_err *err) MC2_WUR;

#endif
