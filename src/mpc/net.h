/* net.h - the channels between the parties of an MPC run (docs/mpc.md, "Transport").
 *
 * An MPC run has n parties (2..MPC_MAX_PARTIES), numbered 0..n-1 in the order the program
 * names them. Every pair of parties shares one channel: an ordered, reliable byte stream,
 * authenticated and encrypted end to end. The protocols (ot.h, triples.h, engine.h, gc.h)
 * only ever call mpc_net_send and mpc_net_recv; what carries the bytes is this module's:
 *
 *   TLS (production): TLS 1.3 over TCP between the parties' own machines, mutual
 *     authentication with the consortium identities (each party's identity certificate,
 *     as the consortium policy lists it; a peer whose certificate is not the policy's
 *     party of that index is refused, naming it). Party i listens; party j > i dials i.
 *     Record integrity is TLS's: a flipped, dropped or injected byte ends the channel with
 *     MC2_E_AUTH (or MC2_E_IO), never a wrong value.
 *   local (tests): n parties as threads of one process over socketpairs, with a test hook
 *     that may alter the bytes of one direction (to prove that the layers above detect what
 *     they promise to detect).
 *
 * SEMANTICS. send(to, p, len) queues len bytes for party `to` and never waits for that
 * party to receive them (it may block on memory, never on the peer: two parties that send
 * to each other before receiving do not deadlock, whatever the sizes). recv(from, p, len)
 * waits for exactly len bytes from `from` (bytes of several sends may be read by one recv
 * and vice versa: it is a stream). A channel that fails (peer gone, timeout, integrity)
 * fails every later call on it with the same error, which names the peer. Every wait is
 * bounded by the net's timeout (default MPC_NET_TIMEOUT_S). Counters give bytes sent and
 * received per peer (for benchmarks): the protocol's bytes, without TLS's overhead.
 * Bytes sent but not yet received are buffered in memory on either side; a peer more than
 * 4 GiB ahead of what this party has received fails the channel (MC2_E_LIMIT).
 *
 * THREADS. One thread per party uses its mpc_net (not thread-safe). */
#ifndef MC2_MPC_NET_H
#define MC2_MPC_NET_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

#define MPC_MAX_PARTIES   16
#define MPC_NET_TIMEOUT_S 120

typedef struct mpc_net mpc_net;

uint32_t mpc_net_self(const mpc_net *n);
uint32_t mpc_net_parties(const mpc_net *n);
int mpc_net_send(mpc_net *n, uint32_t to, const void *p, size_t len, mc2_err *err) MC2_WUR;
int mpc_net_recv(mpc_net *n, uint32_t from, void *p, size_t len, mc2_err *err) MC2_WUR;
/* Waits until everything sent so far has left this process. */
int mpc_net_flush(mpc_net *n, mc2_err *err) MC2_WUR;
void mpc_net_counters(const mpc_net *n, uint32_t peer, uint64_t *sent, uint64_t *received);
/* Sends what is still pending (waiting at most the timeout), closes TLS cleanly
 * (close_notify), closes the sockets and wipes the buffers. NULL is a no-op. */
void mpc_net_free(mpc_net *n);

/* Sets the bound on every wait of this net (ms; 0 restores MPC_NET_TIMEOUT_S): a recv or
 * flush that sees no byte move on the channels it waits for for this long fails the
 * channel with MC2_E_IO ("timed out"). */
void mpc_net_set_timeout(mpc_net *n, unsigned ms);

/* Production: party cfg->self of cfg->n over TLS 1.3 on TCP. Every party listens on its
 * addr[self] ("host:port"); party i accepts one connection from every j > i and dials every
 * j < i (retrying until the timeout while j is not listening yet). Both sides present
 * their identity certificate (an Ed25519 self-signed certificate, mc2/identity.h) and
 * require the peer's to be byte for byte (DER) the certificate cert_pem[j] the consortium
 * policy lists for party j (mc2_party.cert_pem); any other certificate is refused with
 * MC2_E_AUTH naming the party expected (dialing) or the certificate's CN (accepting).
 * Returns when all n - 1 channels are up. Nothing in cfg is kept (copies are made). */
typedef struct mpc_net_tls_cfg {
    uint32_t self, n;
    const char *addr[MPC_MAX_PARTIES];     /* each party's listening "host:port" */
    const char *name[MPC_MAX_PARTIES];     /* each party's name for errors (NULL: "party i") */
    const char *cert_pem[MPC_MAX_PARTIES]; /* each party's certificate, [self] this party's */
    const uint8_t *key;                    /* this party's Ed25519 private key (32 bytes) */
    unsigned timeout_ms;                   /* 0: MPC_NET_TIMEOUT_S */
} mpc_net_tls_cfg;
int mpc_net_tls(const mpc_net_tls_cfg *cfg, mpc_net **out, mc2_err *err) MC2_WUR;

/* Tests: n parties in this process; nets[i] is party i's (each used by one thread). tamper,
 * if not NULL, sees every chunk of bytes party `from` sends party `to` before it is
 * delivered and may change them in place. */
typedef void (*mpc_net_tamper_fn)(void *ctx, uint32_t from, uint32_t to, uint8_t *p, size_t len);
int mpc_net_local(uint32_t n, mpc_net **nets, mpc_net_tamper_fn tamper, void *tamper_ctx,
                  mc2_err *err) MC2_WUR;

#endif
