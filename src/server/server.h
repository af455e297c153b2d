/* server.h - UNTRUSTED: mc2d, the host service. It stores ciphertext, relays TLS bytes
 * between clients and the enclave, answers the enclave's storage requests and lists tables
 * and jobs. It never holds a key and never sees plaintext (docs/architecture.md). */
#ifndef MC2_SERVER_SERVER_H
#define MC2_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/file.h"
#include "host/launch.h"
#include "mc2/policy.h"

#define SRV_MAX_CONNS 256

typedef struct srv_conn {
    int fd;
    bool relay; /* bytes are relayed to enclave session `sid` */
    uint32_t sid;
    mc2_buf in;
    /* an upload in progress */
    bool uploading;
    mc2_afile up;
    char up_owner[65], up_name[129];
    uint64_t up_size, up_got;
    uint8_t up_sig[64];
    struct mc2_sha256_ctx *up_hash;
} srv_conn;

typedef struct srv_job {
    uint64_t id;
    char *line;
} srv_job;

typedef struct server {
    const char *state;  /* state directory */
    char *store;        /* state/store */
    mc2_policy *policy; /* parsed only to check upload signatures */
    mc2_enclave_proc enclave;
    int listen_fd;
    srv_conn conns[SRV_MAX_CONNS];
    uint32_t next_sid;
    mc2_buf enclave_in;
    srv_job *jobs;
    size_t njobs;
    mc2_afile put; /* the enclave's result being written */
    char put_name[320];
    bool putting;
} server;

/* ---- store.c ---- */
/* Maps an object name ("tables/OWNER/NAME.mc2t", "results/job-N-SUFFIX") to a path under
 * the store, rejecting anything else (no "..", no other directories). Returns malloc'd path or NULL
 * with *err. */
char *srv_object_path(const server *s, const char *name, mc2_err *err);
/* Removes temporary files left by a crash (uploads that never committed). */
void srv_store_recover(server *s);
/* Appends one line per complete table: "OWNER/NAME TABLEID ROWS BLOCKS BYTES". */
int srv_list_tables(server *s, mc2_buf *out, mc2_err *err) MC2_WUR;

/* ---- loop.c ---- */
int srv_run(server *s, mc2_err *err) MC2_WUR;

#endif
