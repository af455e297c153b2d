/* server.h - UNTRUSTED: mc2d, the host service. It stores ciphertext, relays TLS bytes
 * between clients and the enclave, answers the enclave's storage requests and lists tables
 * and jobs. It never holds a key and never sees plaintext (docs/architecture.md).
 *
 * One thread, one poll(2) loop, and nothing in it blocks on a peer: client sockets and the
 * enclave channel are non-blocking, everything sent goes through an output queue flushed
 * when the socket takes it, and every resource a peer can make mc2d hold is bounded
 * (docs/wire-protocol.md §2, "Limits and timeouts"):
 *
 *   what                                   bound                  on reaching it
 *   connections                            SRV_MAX_CONNS          new ones are closed
 *   connections per address (/32, /64)     --max-conns-per-addr   new ones are closed
 *   input buffered per connection          one max-size frame     (never more is read)
 *   input buffered by all connections      SRV_IN_TOTAL           the largest holder is closed
 *   unsent output per connection           SRV_OUT_HIGH           its requests wait (and it is
 *                                                                 not read: backpressure)
 *                                          SRV_OUT_LIMIT          it is closed
 *   a download (HAPI_GET)                  SRV_OUT_LOW + a chunk  next chunk read when drained
 *   unsent frames to the enclave           SRV_ENC_OUT_HIGH       relays are not read (nor the
 *                                                                 mesh relay)
 *   unsent frames to the mesh relay        SRV_ENC_OUT_HIGH       the enclave is not read
 *   input from the mesh relay              one max-size frame     (never more is read)
 *   distributed jobs                       one at a time          EIF_MESH_FAIL
 *   objects the enclave writes at once     SRV_MAX_PUTS           further ones fail (status 1)
 *   time to the first complete frame       --handshake-timeout    closed
 *   time without a byte either way         --idle-timeout         closed (relays too) */
#ifndef MC2_SERVER_SERVER_H
#define MC2_SERVER_SERVER_H

#include <stdbool.h>
#include <signal.h>
#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/bytes.h"
#include "base/file.h"
#include "host/launch.h"
#include "mc2/policy.h"
#include "wire/frame.h"

#define SRV_MAX_CONNS     256
#define SRV_CHUNK         ((size_t)1 << 20)                       /* one read: socket or file */
#define SRV_IN_MAX        ((size_t)MC2_FRAME_HDR + MC2_FRAME_MAX) /* input held per connection */
#define SRV_IN_TOTAL      ((size_t)256 << 20)                     /* ... by all connections */
#define SRV_OUT_LOW       ((size_t)256 << 10)
#define SRV_OUT_HIGH      ((size_t)1 << 20)
#define SRV_OUT_LIMIT     ((size_t)64 << 20)
#define SRV_ENC_OUT_HIGH  ((size_t)8 << 20)
#define SRV_REQS_PER_TURN 16              /* requests of one connection handled per loop turn */
#define SRV_MAX_PUTS      16              /* objects the enclave may be writing at once */
#define SRV_STATE_OBJECT  "enclave/state" /* the enclave's sealed state (written atomically) */
#define SRV_MESH_TICK_MS  100             /* a running launcher is checked this often */
#define SRV_MESH_WAIT_MS  10000           /* after EIF_MESH_END: the launcher's time to exit */
#define SRV_MESH_KILL_MS  2000            /* after SIGTERM: its group's time before SIGKILL */

/* Defaults of mc2d's options. */
#define SRV_IDLE_TIMEOUT_S      300
#define SRV_HANDSHAKE_TIMEOUT_S 10
#define SRV_MAX_CONNS_PER_ADDR  32

/* ---- outq.c: output queues (also linked by mc2-rank) ------------------------------------- */

/* A range of an open file, sent (sendfile) where the byte stream reaches position `at`. */
typedef struct srv_seg {
    size_t at;
    int fd; /* owned: closed once sent or dropped */
    uint64_t off, len;
} srv_seg;

/* Bytes waiting to be written: b.data[head .. b.len), with file ranges segs[seghead ..
 * nseg) spliced in at their positions (storage reads are sent from the page cache without
 * a copy in mc2d). Zero-initialise to start. */
typedef struct srv_outq {
    mc2_buf b;
    size_t head;
    srv_seg *segs;
    size_t nseg, seghead, segcap;
    uint64_t segbytes; /* not yet sent */
} srv_outq;

static inline size_t srv_outq_pending(const srv_outq *q)
{
    return q->b.len - q->head + (size_t)q->segbytes;
}
/* Appends n bytes / one frame. -1 only when out of memory. */
int srv_outq_put(srv_outq *q, const void *p, size_t n, mc2_err *err) MC2_WUR;
int srv_outq_frame(srv_outq *q, uint16_t type, uint32_t channel, const void *p, size_t n,
                   mc2_err *err) MC2_WUR;
/* Appends bytes [off, off + len) of the open file fd (taking it over: closed once sent, or
 * on failure here). The caller has checked the file holds them; if it no longer does when
 * they are sent, the queue fails (the peer was promised len bytes). */
int srv_outq_file(srv_outq *q, int fd, uint64_t off, uint64_t len, mc2_err *err) MC2_WUR;
/* Writes what the non-blocking fd takes now. Returns the bytes written (0 when the socket
 * is full), or -1 with err when the peer is gone. Releases the memory once all is sent. */
long srv_outq_flush(srv_outq *q, int fd, mc2_err *err) MC2_WUR;
void srv_outq_free(srv_outq *q);

/* ---- the service ------------------------------------------------------------------------ */

typedef struct srv_conn {
    int fd;                       /* -1: a free slot */
    uint8_t addr[16];             /* the peer's address as counted by the per-address limit */
    int64_t opened_ms, active_ms; /* monotonic: accepted, last byte either way */
    bool greeted;                 /* its first frame arrived (else the handshake timeout runs) */
    bool relay;                   /* bytes are relayed to enclave session `sid` */
    uint32_t sid;
    bool ended;   /* the enclave ended the session: close once `out` is flushed */
    mc2_buf in;   /* received, not yet handled (host API only; counted in in_total) */
    srv_outq out; /* replies and relayed EIF_OUT bytes not yet sent */
    bool backlog; /* requests wait in `in` until `out` drains (backpressure) */
    bool getting; /* a download (HAPI_GET) streams from get_fd */
    int get_fd;
    /* an upload in progress */
    bool uploading;
    mc2_afile up;
    char up_owner[65], up_name[129];
    uint64_t up_size, up_got;
    uint8_t up_sig[64];
    struct mc2_sha256_ctx *up_hash;
} srv_conn;

/* An object the enclave is in the middle of writing: its bytes go to a temporary file that
 * the put with last = 1 commits under the real name (enclave.c). */
typedef struct srv_put {
    bool used;
    char name[320];
    mc2_afile f;
} srv_put;

typedef struct srv_job {
    uint64_t id;
    char *line;
} srv_job;

/* The distributed job running now, if any (mesh.c). */
typedef struct srv_mesh {
    bool active;     /* from EIF_MESH_LAUNCH until the launcher is reaped and the
                        enclave's EIF_MESH_END came or EIF_MESH_FAIL was sent */
    uint32_t id;     /* the mesh id (the frames' channel) */
    pid_t pid;       /* the launcher (leader of its own process group); 0: reaped */
    pid_t pid_group; /* its process group (the launcher's pid) */
    int status;      /* its wait status, once reaped */
    int relay_fd;    /* mc2-rank rank 0's connection, -1: none (yet, or any more) */
    bool relay_seen; /* a relay connected once */
    bool ended;      /* the enclave sent EIF_MESH_END */
    bool failed;     /* EIF_MESH_FAIL was sent */
    bool polled_listen, polled_relay; /* what srv_mesh_poll put in this turn's poll set */
    int64_t term_ms;                  /* when to SIGTERM the launcher's group (0: not planned) */
    int64_t kill_ms;                  /* ... and SIGKILL it (0: not planned) */
    mc2_buf in;   /* from the relay, not yet a whole frame (one frame at most) */
    srv_outq out; /* to the relay: the launch payload, then the enclave's frames */
} srv_mesh;

typedef struct server {
    const char *state;  /* state directory */
    char *store;        /* state/store */
    mc2_policy *policy; /* parsed only to check upload signatures */
    mc2_enclave_proc enclave;
    mc2_tee tee; /* the TEE backend the enclave runs on (--tee) */
    int listen_fd;
    int64_t idle_ms, handshake_ms; /* options (milliseconds) */
    unsigned max_per_addr;
    srv_conn conns[SRV_MAX_CONNS];
    size_t in_total; /* sum of the conns' in.cap */
    uint32_t next_sid;
    mc2_buf enclave_in;
    srv_outq enclave_out;
    const char *fatal;               /* set when the service cannot go on (the enclave channel) */
    int64_t accept_paused_until_ms;  /* out of file descriptors: accept again then */
    int64_t note_ms, note_credit_ms; /* rate limit of log lines peers can cause */
    uint64_t note_suppressed;
    srv_job *jobs;
    size_t njobs;
    srv_put puts[SRV_MAX_PUTS]; /* objects the enclave is writing (EIF_STORE_PUT) */
    const char *mesh_launcher;  /* mc2d --mesh-launcher EXE, or NULL */
    char *mesh_sock, *mesh_log; /* STATE/mesh.sock, STATE/mesh.log */
    int mesh_listen_fd;         /* -1 without a launcher */
    srv_mesh mesh;
    /* A launch that came while the previous mesh's launcher was still being reaped: started
     * as soon as it is (mesh.c); a second one meanwhile is refused. */
    bool mesh_pending;
    uint32_t mesh_pending_id;
    mc2_buf mesh_pending_launch;
    srv_outq mesh_pending_out; /* the enclave's frames for it meanwhile (its HELLO) */
    uint8_t io[SRV_CHUNK];     /* scratch for one read */
} server;

/* ---- store.c ---- */
/* Maps an object name ("tables/OWNER/NAME.mc2t", "results/job-N-SUFFIX") to a path under
 * the store, rejecting anything else (no "..", no other directories). Returns malloc'd path or NULL
 * with *err. */
char *srv_object_path(const char *store, const char *name, mc2_err *err);

/* EIF_STORE_REPLY statuses (docs/enclave-interface.md). */
enum { SRV_STORE_OK = 0, SRV_STORE_FAILED = 1, SRV_STORE_UNSUPPORTED = 2, SRV_STORE_NOTFOUND = 3 };

/* Queues on q one EIF_STORE_REPLY on channel ch: u32 status | p[0..n). -1 only when out of
 * memory. */
int srv_store_reply(srv_outq *q, uint32_t ch, uint32_t status, const void *p, size_t n) MC2_WUR;
/* The object name a storage request starts with (name LV, hostile): 0 with name[] set (at most
 * 309 bytes, no NUL), -1 if malformed. */
int srv_store_req_name(mc2_rd *r, char name[310]);
/* Answers EIF_STORE_SIZE or EIF_STORE_READ (type; r: the request after its name) for the
 * object at path with exactly one reply on q: its size; or the bytes [off, off + len) straight
 * from the file (len <= 16 MiB, within the file); NOTFOUND for the size of a missing object;
 * FAILED otherwise. -1 only when out of memory (mc2d and mc2-rank share it). */
int srv_store_answer_read(srv_outq *q, uint16_t type, uint32_t ch, const char *path,
                          mc2_rd *r) MC2_WUR;
/* Removes temporary files left by a crash (uploads and enclave writes that never committed)
 * and every spilled run (sealed under keys no later enclave instance has). */
void srv_store_recover(server *s);
/* Appends one line per complete table: "OWNER/NAME TABLEID ROWS BLOCKS BYTES". */
int srv_list_tables(server *s, mc2_buf *out, mc2_err *err) MC2_WUR;

/* ---- conn_io.c: input buffers ---- */
/* Appends n received bytes to c->in. The caller reads at most SRV_IN_MAX - c->in.len bytes.
 * When all connections' buffers together would exceed SRV_IN_TOTAL, the connection holding
 * the most is closed (srv_conn_drop), until the bytes fit; returns -1 if that is c itself
 * (or out of memory): the caller closes c. */
int srv_in_append(server *s, srv_conn *c, const uint8_t *p, size_t n) MC2_WUR;
/* Drops the first `used` bytes of c->in and gives back memory a large frame left behind. */
void srv_in_consume(server *s, srv_conn *c, size_t used);
/* Frees c->in. */
void srv_in_free(server *s, srv_conn *c);

/* ---- api.c: the host API ---- */
/* Handles one host-API frame from an API connection, appending replies to c->out. Returns
 * 0, or -1: close the connection. HAPI_GET starts a download (c->getting) that
 * srv_get_refill continues; HAPI_ENCLAVE turns c into a relay. */
int srv_api(server *s, srv_conn *c, const mc2_frame *f) MC2_WUR;
/* Queues the next chunk of c's download (or its final HAPI_OK, ending it). -1: close. */
int srv_get_refill(server *s, srv_conn *c) MC2_WUR;

/* ---- enclave.c: the enclave channel ---- */
/* Queues a frame for the enclave. -1 (and s->fatal) only when out of memory. */
int srv_to_enclave(server *s, uint16_t type, uint32_t ch, const void *p, size_t n) MC2_WUR;
/* Reads from the enclave and handles every complete message: relayed output, ended
 * sessions, storage requests (each answered with EIF_STORE_REPLY, unknown requests with
 * status 2), job lines. -1 with err when the enclave is gone or failed. */
int srv_enclave_readable(server *s, mc2_err *err) MC2_WUR;
/* mc2_launch_opts.serve (ctx: the server): answers one request the enclave sends while it
 * starts (restoring its sealed state), writing the reply to fd (blocking) before it returns. */
int srv_enclave_startup(void *ctx, int fd, const mc2_frame *f, mc2_err *err) MC2_WUR;
/* Abandons every object the enclave has not finished writing (their temporary files are
 * removed): when mc2d stops. */
void srv_puts_abort(server *s);

/* ---- mesh.c: distributed jobs (docs/cluster.md, "Distributed jobs") ---- */
/* With a launcher: listens on STATE/mesh.sock (mode 0600). Always: s->mesh_listen_fd set. */
int srv_mesh_init(server *s, mc2_err *err) MC2_WUR;
/* The enclave's EIF_MESH_LAUNCH, _HELLO, _SEND or _END. -1 only when out of memory. */
int srv_mesh_from_enclave(server *s, const mc2_frame *f) MC2_WUR;
/* Adds the mesh's descriptors to the poll set (from pf[*n]) and lowers *wait_ms to its
 * nearest deadline (a running launcher is checked every SRV_MESH_TICK_MS). */
void srv_mesh_poll(server *s, struct pollfd *pf, nfds_t *n, int64_t *wait_ms);
/* Handles what poll reported for them (pf as srv_mesh_poll filled it), reaps the launcher,
 * sends its signals when due. -1 only when out of memory. */
int srv_mesh_service(server *s, const struct pollfd *pf, int64_t now) MC2_WUR;
/* True while the enclave's frames must wait: the relay has SRV_ENC_OUT_HIGH bytes queued. */
bool srv_mesh_full(const server *s);
/* mc2d stops: ends the launcher's process group (SIGTERM, SIGKILL 2 s later), reaps it and
 * removes the socket. */
void srv_mesh_stop(server *s);

/* ---- loop.c ---- */
/* Logs a line about something a peer caused (a refused or closed connection), at most one
 * a second on average (bursts of 20), so no peer can flood the log. */
void srv_note(server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Closes c now (telling the enclave if c was a live relay); `why` goes to the log. */
void srv_conn_drop(server *s, srv_conn *c, const char *why);
/* The relay c whose session is sid, or NULL. */
srv_conn *srv_by_sid(server *s, uint32_t sid);
/* Set by mc2d's SIGTERM/SIGINT handler (main.c): srv_run returns at its next turn. */
extern volatile sig_atomic_t srv_stop_signal;

/* Serves until the enclave channel fails (-1 with err) or a stop signal arrives (0, err says
 * which signal). */
int srv_run(server *s, mc2_err *err) MC2_WUR;

#endif
