/* mlp.h - two-party private inference of a dense neural network (docs/mpc.md, "Private
 * inference"), in the manner of Delphi: the server (party 0 of a two-party mpc_net) holds the
 * model, the client (party 1) holds the inputs; the client learns the predicted classes and
 * nothing else about the model but its public shape, the server learns nothing.
 *
 * MODEL. Layers l = 1..L: z_l = a_{l-1} W_l + b_l with W_l of shape (d_{l-1}, d_l) and b_l of
 * d_l values (scikit-learn's MLPClassifier.coefs_ and intercepts_), a_0 = x, a_l = ReLU(z_l)
 * between layers, prediction = argmax z_L (the first index of the maximum). Loaded from a
 * directory of .npy files W1.npy b1.npy W2.npy b2.npy ... ('<f4' or '<f8', parsed by src/fl's
 * strict parser; the layer count is the first l without a W{l}.npy). Shapes are checked to
 * chain; |weights|, |biases| must be below MPC_MLP_MAX_ABS. The shape (d_0..d_L) is public.
 *
 * PROTOCOL on additive shares over Z_2^64 with 16 fraction bits (engine.h), for a batch of
 * `rows` queries at once:
 *   offline (mpc_mlp_offline, before the inputs exist): one matrix triple per layer, shape
 *     (rows, d_{l-1}, d_l), and the element triples of the truncations, from OT (triples.h);
 *     for every hidden layer the ReLU circuits (gc.h) are garbled by the server and sent,
 *     and the client obtains the labels of its input wires by OT: its input to the ReLU is a
 *     fresh random mask s it draws now (Delphi's trick, which makes the evaluator's input
 *     known offline). The server draws its output shares r of the ReLU.
 *   online (mpc_mlp_online):
 *     the client inputs x, the server W_l (mpc_input: no message);
 *     per layer: Z = A W_l (mpc_matmul on the matrix triple: 2^32 scale), the server adds
 *     b_l 2^32 to its share; hidden layers: mpc_trunc by 16 bits, then the client sends
 *     d = y_c - s (uniform to the server), the server's ReLU input is y_s + d, it sends the
 *     active labels of (y_s + d, r); the client evaluates and decodes ReLU(y) - r: its
 *     share, r being the server's. Last layer: the logits (32 fraction bits) are opened to
 *     the client only (mpc_open_to) and argmax'd there.
 *   The client sees: opened masked values (matmul, truncation), garbled tables and labels,
 *   its ReLU output shares (masked by r), and the final logits. The server sees only
 *   masked values. Semi-honest security (engine.h, gc.h): a deviating party is not detected.
 * RANGE. Every pre-activation must stay below 2^30 in absolute value (mpc_trunc's
 *   precondition) and the logits below 2^31; the result is wrong, undetected, otherwise.
 *   Truncation rounds stochastically (< 1 ulp = 2^-16 per truncation): logits within a few
 *   ulps of each other may argmax differently from an exact evaluation.
 *
 * Both parties must call the same functions with the same shape and row counts in the same
 * order; one offline call per online call (each online call consumes the last offline). A
 * call that fails on one side leaves the parties out of step: free the session (the other
 * party's pending call fails by the net's timeout or when the channel closes). */
#ifndef MC2_MPC_MLP_H
#define MC2_MPC_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"
#include "mpc/net.h"

#define MPC_MLP_MAX_LAYERS 16
#define MPC_MLP_MAX_DIM    4096      /* units per layer (and inputs) */
#define MPC_MLP_MAX_ROWS   4096      /* queries per batch */
#define MPC_MLP_MAX_ABS    1048576.0 /* 2^20: bound on |weight|, |bias| */

typedef struct mpc_mlp_shape {
    uint32_t layers;                       /* L, 1..MPC_MLP_MAX_LAYERS */
    uint32_t dims[MPC_MLP_MAX_LAYERS + 1]; /* d_0 (inputs) .. d_L (classes), 1..MPC_MLP_MAX_DIM */
} mpc_mlp_shape;

typedef struct mpc_mlp {
    mpc_mlp_shape shape;
    double *w[MPC_MLP_MAX_LAYERS]; /* d_{l-1} x d_l, row-major */
    double *b[MPC_MLP_MAX_LAYERS]; /* d_l */
} mpc_mlp;

/* Loads dir/W1.npy, dir/b1.npy, ... (format above). MC2_E_NOTFOUND without W1.npy,
 * MC2_E_INPUT naming the file for a bad file or shape, MC2_E_LIMIT for sizes over the
 * limits above. */
int mpc_mlp_load(const char *dir, mpc_mlp **out, mc2_err *err) MC2_WUR;
void mpc_mlp_free(mpc_mlp *m);
/* 0 if s is within the limits above, else -1 with MC2_E_LIMIT / MC2_E_INPUT. */
int mpc_mlp_shape_check(const mpc_mlp_shape *s, mc2_err *err) MC2_WUR;

/* Plaintext reference in double: pred[rows] the argmax of each row of x (rows x d_0);
 * logits (rows x d_L) if not NULL. -1 (MC2_E_NOMEM) only on memory. */
int mpc_mlp_predict_plain(const mpc_mlp *m, const double *x, size_t rows, uint32_t *pred,
                          double *logits, mc2_err *err) MC2_WUR;

/* One party of a private inference session over a two-party net: the server (party 0)
 * passes its model, the client (party 1) NULL and the public shape (the server may pass
 * NULL there: its model's shape is used). Neither is kept beyond the session's lifetime
 * (the model must outlive the session). Sets up the engine and the OT sessions. */
typedef struct mpc_mlp_party mpc_mlp_party;
int mpc_mlp_party_new(mpc_net *net, const mpc_mlp_shape *shape, const mpc_mlp *model,
                      mpc_mlp_party **out, mc2_err *err) MC2_WUR;
/* Offline phase for a batch of rows (1..MPC_MLP_MAX_ROWS) queries (replaces an unused one). */
int mpc_mlp_offline(mpc_mlp_party *p, size_t rows, mc2_err *err) MC2_WUR;
/* Online phase: the client passes x (rows x d_0, row-major; |x| < MPC_MLP_MAX_ABS) and gets
 * pred[rows]; the server passes NULLs. rows must be the offline call's. */
int mpc_mlp_online(mpc_mlp_party *p, const double *x, size_t rows, uint32_t *pred,
                   mc2_err *err) MC2_WUR;
/* Bytes this party sent and received so far (all phases). */
void mpc_mlp_counters(const mpc_mlp_party *p, uint64_t *sent, uint64_t *received);
void mpc_mlp_party_free(mpc_mlp_party *p);

#endif
