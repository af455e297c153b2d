/* fl/fl.h - federated learning (issue 15, docs/fl.md): the `fedavg` round's parameters, the
 * update a client sends, the aggregator the enclave runs, the model it releases, and `.npy`
 * files for the CLI. Linked into libmc2 (client) and mc2-enclave (trusted); depends only on
 * crypto and base (mc2/job.h is used for its struct only).
 *
 * Every decoder here parses hostile bytes: each size is checked before it is used, nothing
 * is read past the end, and a failure says what was wrong (no value of the data).
 *
 * Contracts (fl-mask and fl-py build on them):
 *
 * Update (the plaintext a client sends inside its attested TLS session, FL_PUT):
 *   "MC2FLU1\0" | job text SHA-256[32] | u32 round | party LV (u32 len, 1..64 bytes)
 *   | u64 weight | u8 form (0 float32, 1 masked uint32) | u64 nvalues | values (4 bytes
 *   each, little-endian)
 * Signature: Ed25519 by the party's identity over
 *   "mc2 fl update v1" || 0x00 || SHA-256(encoded update)
 *
 * Model (what the recipients decrypt; the enclave seals it, see mc2_fl_seal):
 *   "MC2FLM1\0" | u32 round | u32 contributors | f64 total weight (IEEE bits, LE)
 *   | f64 sigma | f64 epsilon | f64 delta | tensors LV (the `tensors` param text, e.g.
 *   "w:30x1,b:1") | u64 nvalues | float32 values (LE), the tensors concatenated in order
 *
 * Sealed object (stored by the host; key given to the recipients, kept for base_job):
 *   "MC2FLS1\0" | nonce[12] | ciphertext | tag[16]; AES-256-GCM, AAD = "MC2FLS1\0"
 *
 * Aggregation (mc2_fl_agg_*):
 *   S = sum_i w_i * clip(u_i),  W = sum_i w_i,  w_i = min(weight_i, max_weight)
 *   clip(u) = u * min(1, clip_norm / ||u||_2)            (clip_norm > 0)
 *   S' = S + N(0, sigma^2 I), sigma = z * clip_norm * max_weight   (z > 0)
 *   new = base + server_lr * S' / W
 * epsilon (per round) = sqrt(2 ln(1.25 / delta)) / z (classic Gaussian mechanism bound,
 * valid for epsilon <= 1); W is not noised. */
#ifndef MC2_FL_FL_H
#define MC2_FL_FL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "mc2/crypto.h"
#include "mc2/err.h"
#include "mc2/job.h"

#define MC2_FL_MAX_PARTICIPANTS 128 /* = MC2_POLICY_MAX_PARTIES: a round of 100 (make bench) */
/* A masked round's participants each hold an attested session open through its stages, and
 * the enclave serves ENC_MAX_SESSIONS (64) sessions: a few stay free for others. */
#define MC2_FL_MAX_MASKED_PARTICIPANTS 60
#define MC2_FL_MAX_TENSORS             64
#define MC2_FL_MAX_DIMS                4
#define MC2_FL_MAX_VALUES              (16u << 20) /* values per model: 64 MiB of float32 */
#define MC2_FL_NAME_MAX                32          /* tensor names: [a-z0-9_]{1,32} */
#define MC2_FL_PARTY_MAX               64
#define MC2_FL_TENSORS_TEXT_MAX        4096 /* the `tensors` param text */

#define MC2_FL_UPDATE_MAGIC "MC2FLU1" /* 8 bytes with its NUL */
#define MC2_FL_MODEL_MAGIC  "MC2FLM1"
#define MC2_FL_SEALED_MAGIC "MC2FLS1"

enum mc2_fl_form { MC2_FL_FORM_FLOAT32 = 0, MC2_FL_FORM_MASKED = 1 };
enum mc2_fl_masks { MC2_FL_MASKS_OFF = 0, MC2_FL_MASKS_SECAGG = 1 };

typedef struct mc2_fl_tensor {
    char name[MC2_FL_NAME_MAX + 1];
    uint32_t ndims;
    uint64_t dims[MC2_FL_MAX_DIMS];
    uint64_t n;   /* values: the product of dims */
    uint64_t off; /* its first value in the concatenation */
} mc2_fl_tensor;

/* A model's shape: the `tensors` param parsed. */
typedef struct mc2_fl_shape {
    size_t ntensors;
    mc2_fl_tensor t[MC2_FL_MAX_TENSORS];
    uint64_t nvalues; /* 1..MC2_FL_MAX_VALUES */
} mc2_fl_shape;

/* A fedavg round: every param of the job (docs/fl.md's params table), validated. */
typedef struct mc2_fl_round {
    size_t nparts;
    char parts[MC2_FL_MAX_PARTICIPANTS][MC2_FL_PARTY_MAX + 1]; /* in `participants` order */
    mc2_fl_shape shape;
    uint32_t round;      /* 1.. */
    uint32_t k;          /* 1..nparts */
    uint64_t deadline_s; /* 1..604800 */
    bool has_base;
    uint64_t base_job;
    double server_lr;            /* > 0, <= 1000 */
    double clip_norm;            /* >= 0 (0: off) */
    double noise_multiplier;     /* z >= 0; > 0 needs clip_norm > 0 */
    double delta;                /* 0 < delta < 1 */
    uint64_t max_weight;         /* 1..2^40 */
    int masks;                   /* enum mc2_fl_masks */
    uint32_t mask_threshold;     /* masked rounds: t */
    double clipping_range;       /* masked rounds: c > 0 */
    uint64_t quantization_range; /* masked rounds: Q, 2..2^31 */
    uint64_t stage_timeout_s;    /* masked rounds: 1..3600 */
} mc2_fl_round;

/* Parses "w:30x1,b:1" into *s: names [a-z0-9_]{1,32}, distinct, 1..4 dims each >= 1,
 * 1..MC2_FL_MAX_TENSORS tensors, total values 1..MC2_FL_MAX_VALUES. */
int mc2_fl_shape_parse(const char *text, mc2_fl_shape *s, mc2_err *err) MC2_WUR;
/* The canonical text of a shape ("w:30x1,b:1") into out (cap bytes, MC2_FL_TENSORS_TEXT_MAX
 * is enough). */
void mc2_fl_shape_format(const mc2_fl_shape *s, char *out, size_t cap);

/* Parses and validates the params of fedavg job j (its kind is not checked here); every
 * unknown or bad param fails with a message naming it. Generic params (cpu_seconds) are
 * skipped. */
int mc2_fl_round_from_job(const mc2_job *j, mc2_fl_round *r, mc2_err *err) MC2_WUR;
/* The index of party `name` in r->parts, or -1. */
int mc2_fl_participant(const mc2_fl_round *r, const char *name);

/* ---- updates --------------------------------------------------------------------------------- */

/* A decoded update; `values` points into the decoded bytes (nvalues * 4 bytes, LE). */
typedef struct mc2_fl_update {
    uint8_t job_sha256[MC2_SHA256_LEN];
    uint32_t round;
    char party[MC2_FL_PARTY_MAX + 1];
    uint64_t weight;
    uint8_t form;
    uint64_t nvalues;
    const uint8_t *values;
} mc2_fl_update;

/* The encoded size of an update (0 if it would overflow or the party name is too long). */
size_t mc2_fl_update_size(size_t party_len, uint64_t nvalues);
/* Encodes an update into out (replacing its contents): values are nvalues float32
 * (form 0) or uint32 (form 1), in host order, written LE. */
int mc2_fl_update_encode(const uint8_t job_sha256[MC2_SHA256_LEN], uint32_t round,
                         const char *party, uint64_t weight, uint8_t form, const void *values,
                         uint64_t nvalues, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Decodes p[0..n) (hostile): magic, sizes, party name (mc2_name_check's alphabet), form,
 * nvalues * 4 == the bytes left exactly. */
int mc2_fl_update_decode(const uint8_t *p, size_t n, mc2_fl_update *u, mc2_err *err) MC2_WUR;
int mc2_fl_update_sign(const uint8_t sec[MC2_ED25519_SEC_LEN], const uint8_t *p, size_t n,
                       uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err) MC2_WUR;
int mc2_fl_update_verify(const uint8_t pub[MC2_ED25519_PUB_LEN], const uint8_t *p, size_t n,
                         const uint8_t sig[MC2_ED25519_SIG_LEN], mc2_err *err) MC2_WUR;

/* ---- aggregation ----------------------------------------------------------------------------- */

typedef struct mc2_fl_agg mc2_fl_agg;

/* What a finished round reports (the result table's row). */
typedef struct mc2_fl_report {
    uint32_t round;
    uint32_t contributors;
    double total_weight; /* W */
    double sigma;        /* 0: no noise */
    double epsilon;      /* per round; INFINITY without noise */
    double delta;
    /* Milliseconds this aggregator spent adding updates and finishing (CLOCK_MONOTONIC,
     * inside the enclave): the result table's agg_ms, what `make bench` (section fl) sets
     * against a plain weighted sum. Not part of the encoded model (0 when decoded). */
    double agg_ms;
} mc2_fl_report;

/* An aggregator for round r's shape (a double accumulator of nvalues, and, lazily, a
 * uint32 one for masked updates). r is copied. */
int mc2_fl_agg_new(const mc2_fl_round *r, mc2_fl_agg **out, mc2_err *err) MC2_WUR;
/* Adds one client's update u[0..nvalues) with its weight (>= 1; capped at max_weight),
 * clipped to clip_norm (if set). Non-finite values are refused (MC2_E_INPUT). */
int mc2_fl_agg_add(mc2_fl_agg *a, uint64_t weight, const float *u, mc2_err *err) MC2_WUR;
/* The same with the values as little-endian float32 bytes (an update's `values`). */
int mc2_fl_agg_add_le(mc2_fl_agg *a, uint64_t weight, const uint8_t *le, mc2_err *err) MC2_WUR;
/* Masked rounds: adds y[0..nvalues + 1) (element 0 the weight ratio, see docs/fl.md) mod 2^32
 * (form 1 values as LE bytes). Counts a contributor. */
int mc2_fl_agg_add_masked_le(mc2_fl_agg *a, const uint8_t *le, mc2_err *err) MC2_WUR;
/* The masked sum so far (nvalues + 1 uint32), for fl-mask's unmasking (which adds or removes
 * the masks in place), and the number of masked updates added. */
uint32_t *mc2_fl_agg_masked_sum(mc2_fl_agg *a, size_t *n, uint32_t *count);
/* Adds an already weighted sum s[0..nvalues) with total weight w from `count` contributors
 * (fl-mask: the dequantised unmasked sum). */
int mc2_fl_agg_add_sum(mc2_fl_agg *a, const double *s, double w, uint32_t count,
                       mc2_err *err) MC2_WUR;
/* Contributors so far. */
uint32_t mc2_fl_agg_count(const mc2_fl_agg *a);
/* new = base + server_lr * (S + noise) / W into out[0..nvalues) (base NULL: zeros); fails
 * if nothing was added or a value is not finite. Fills *rep. */
int mc2_fl_agg_finish(mc2_fl_agg *a, const float *base, float *out, mc2_fl_report *rep,
                      mc2_err *err) MC2_WUR;
void mc2_fl_agg_free(mc2_fl_agg *a);

/* The per-round epsilon of the Gaussian mechanism with noise multiplier z and delta:
 * sqrt(2 ln(1.25 / delta)) / z; INFINITY if z <= 0. */
double mc2_fl_epsilon(double z, double delta);
/* n independent N(0, sigma^2) samples from the CSPRNG (Box-Muller over 53-bit uniforms). */
int mc2_fl_gauss(double *out, size_t n, double sigma, mc2_err *err) MC2_WUR;

/* ---- the released model ---------------------------------------------------------------------- */

typedef struct mc2_fl_model {
    mc2_fl_report rep;
    mc2_fl_shape shape;
    float *values; /* shape.nvalues; mc2_fl_model_free wipes and frees */
} mc2_fl_model;

/* Encodes the model (round r's shape, values[0..nvalues), the report) into out. */
int mc2_fl_model_encode(const mc2_fl_shape *s, const float *values, const mc2_fl_report *rep,
                        mc2_buf *out, mc2_err *err) MC2_WUR;
/* Decodes (hostile: the host stores the sealed object; decode runs after it authenticates,
 * but is checked all the same). */
int mc2_fl_model_decode(const uint8_t *p, size_t n, mc2_fl_model *m, mc2_err *err) MC2_WUR;
void mc2_fl_model_free(mc2_fl_model *m);

/* Seals p[0..n) under key into out (MC2FLS1 object, fresh nonce); opens it (MC2_E_AUTH if it
 * does not authenticate). out is marked secret by open. */
int mc2_fl_seal(const uint8_t key[MC2_KEY_LEN], const uint8_t *p, size_t n, mc2_buf *out,
                mc2_err *err) MC2_WUR;
int mc2_fl_open(const uint8_t key[MC2_KEY_LEN], const uint8_t *p, size_t n, mc2_buf *out,
                mc2_err *err) MC2_WUR;

/* ---- .npy files (NumPy format 1.0/2.0/3.0, C order, '<f4' or '<f8') ------------------------- */

typedef struct mc2_npy {
    uint32_t ndims; /* 0..MC2_FL_MAX_DIMS (0: a scalar, one value) */
    uint64_t dims[MC2_FL_MAX_DIMS];
    uint64_t n;    /* values */
    float *values; /* converted to float32 (float64 values must fit: finite stays finite) */
} mc2_npy;

/* Parses a .npy file's bytes (hostile): magic, version, header dict ('descr' '<f4'/'<f8',
 * 'fortran_order' False, 'shape'), at most MC2_FL_MAX_VALUES values, data size exact. */
int mc2_npy_parse(const uint8_t *p, size_t n, mc2_npy *out, mc2_err *err) MC2_WUR;
/* Writes values as a '<f4' .npy (version 1.0) of shape dims[0..ndims) into out. */
int mc2_npy_format(const float *values, const uint64_t *dims, uint32_t ndims, mc2_buf *out,
                   mc2_err *err) MC2_WUR;
void mc2_npy_free(mc2_npy *a);

#endif
