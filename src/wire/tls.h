/* tls.h - TLS 1.3 endpoints over memory buffers (OpenSSL). The enclave terminates TLS
 * itself and hands ciphertext to the untrusted host to relay; the client may use a socket
 * or the same memory interface. Both sides present Ed25519 certificates: the enclave its
 * RA-TLS certificate, a client its party certificate. Certificate checks are done by the
 * application after the handshake (mc2_ratls_check on the client, the consortium policy
 * on the enclave); OpenSSL still verifies that each side holds its certificate's key. */
#ifndef MC2_WIRE_TLS_H
#define MC2_WIRE_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "base/buf.h"
#include "mc2/err.h"

/* A TLS 1.3-only context presenting key/cert (both up-referenced, caller keeps its own).
 * server: requires a client certificate. */
SSL_CTX *mc2_tls_ctx(int server, EVP_PKEY *key, X509 *cert, mc2_err *err);

typedef struct mc2_tls mc2_tls;

/* An endpoint with memory BIOs: ciphertext from the peer goes in with mc2_tls_feed, and
 * ciphertext for the peer comes out of mc2_tls_drain. */
mc2_tls *mc2_tls_new(SSL_CTX *ctx, int server, mc2_err *err);
void mc2_tls_free(mc2_tls *t);

/* Feeds n bytes received from the peer. */
int mc2_tls_feed(mc2_tls *t, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* Appends all pending bytes for the peer to out. */
int mc2_tls_drain(mc2_tls *t, mc2_buf *out, mc2_err *err) MC2_WUR;
/* Advances the handshake: 1 when complete, 0 when it needs more bytes from the peer,
 * -1 on failure (MC2_E_AUTH). */
int mc2_tls_handshake(mc2_tls *t, mc2_err *err) MC2_WUR;
/* Writes application data (encrypted into the pending output). */
int mc2_tls_write(mc2_tls *t, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* Reads decrypted application data available now, appending to out; returns the number of
 * bytes read (0: none yet), -1 on failure, and sets *closed if the peer closed. */
long mc2_tls_read(mc2_tls *t, mc2_buf *out, int *closed, mc2_err *err);
/* The peer's certificate (not up-referenced), or NULL before the handshake. */
X509 *mc2_tls_peer(mc2_tls *t);
/* Starts a clean shutdown (close_notify goes to the pending output). */
void mc2_tls_close(mc2_tls *t);

#endif
