/* verifiers.h - the evidence-format registry's contract (internal to src/attest).
 *
 * Each evidence format has one verifier in its own file (ev_sim.c, ev_snp.c, ...) and one
 * line in registry.c's table. mc2_evidence_verify checks the common 8-byte header ("MC2E" |
 * u16 version = 1 | u16 format), finds the format's entry and calls its verify function with
 * the whole evidence and that format's own configuration (cfg points to the member of
 * mc2_verifier at cfg_offset, e.g. the mc2_snp_verifier). A verify function:
 *   - treats every byte as hostile, reads nothing outside ev[0..n);
 *   - fills *c (already zeroed, format set) only with verified values;
 *   - returns MC2_ATTEST_OK, or the reason with *err set to a message a person can act on. */
#ifndef MC2_ATTEST_VERIFIERS_H
#define MC2_ATTEST_VERIFIERS_H

#include "mc2/attest.h"

#define MC2_EV_HEADER_LEN 8
#define MC2_EV_MAGIC      "MC2E"
#define MC2_EV_VERSION    1

typedef enum mc2_attest_result (*mc2_ev_verify_fn)(const void *cfg, const uint8_t *ev, size_t n,
                                                   mc2_claims *c, mc2_err *err);

typedef struct mc2_ev_format {
    enum mc2_evidence_format id;
    const char *name;
    size_t cfg_offset; /* offsetof(mc2_verifier, <this format's member>) */
    mc2_ev_verify_fn verify;
} mc2_ev_format;

/* Writes the common header ("MC2E" | u16 version | u16 format) at p[0..MC2_EV_HEADER_LEN). */
void mc2_ev_header_put(uint8_t *p, enum mc2_evidence_format format);

/* The registered format with that id, or NULL. */
const mc2_ev_format *mc2_ev_format_find(unsigned id);

/* Each format's verifier (cfg: mc2_sim_verifier, mc2_snp_verifier, mc2_tpm_verifier). */
enum mc2_attest_result mc2_ev_sim_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err);
enum mc2_attest_result mc2_ev_snp_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err);
enum mc2_attest_result mc2_ev_tpm_verify(const void *cfg, const uint8_t *ev, size_t n,
                                         mc2_claims *c, mc2_err *err);

#endif
