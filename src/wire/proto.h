/* proto.h - message types of mc2's three protocols. Every message is a frame (frame.h).
 * docs/enclave-interface.md and docs/wire-protocol.md describe them for reviewers; this
 * header is the single source of the numbers.
 *
 * 1. Host interface (mc2d <-> mc2-enclave, over one socketpair): the enclave's whole attack
 *    surface. `channel` is a session id or a request id.
 * 2. Host API (client <-> mc2d, TCP): storage of ciphertext, listings, and opening a relayed
 *    session to the enclave. mc2d is untrusted: nothing here is secret.
 * 3. Enclave API (client <-> enclave, inside TLS 1.3 terminated in the enclave): key grants,
 *    jobs, approvals, result keys. */
#ifndef MC2_WIRE_PROTO_H
#define MC2_WIRE_PROTO_H

/* ---- 1. host interface ------------------------------------------------------------------- */
enum mc2_eif {
    /* host -> enclave */
    /* ch 0: u32 budget_mb | policy LV | sigstruct LV | attester bytes LV | u32 session_idle_s |
     * backend name LV | u8 flags; flags bit 0: discard the sealed state (start empty), bit 1:
     * a worker enclave of one distributed job (no sealed state, no sessions; meshrt.h) */
    EIF_INIT = 1,
    EIF_OPEN = 2,        /* ch sid: nonce[32] -- a client asks for an attested session */
    EIF_DATA = 3,        /* ch sid: TLS bytes from the client */
    EIF_CLOSE = 4,       /* ch sid: the client went away */
    EIF_STORE_REPLY = 5, /* ch req: u32 status (0 ok) | bytes (read) or message (error) */
    EIF_EVIDENCE = 6, /* ch sid: u32 status (0 ok) | evidence, or message: EVIDENCE_REQ's answer */
    /* Distributed jobs (docs/cluster.md, "Distributed jobs"); ch: the mesh id. */
    EIF_MESH_JOIN = 7,    /* to a worker: rank u32 | EIF_MESH_LAUNCH's payload */
    EIF_MESH_PEERS = 8,   /* n_ranks x (hello LV), in rank order */
    EIF_MESH_DELIVER = 9, /* from u32 | sealed mesh message */
    EIF_MESH_FAIL = 10,   /* message: the hosts' reason the mesh cannot go on */
    /* enclave -> host */
    EIF_READY = 64,      /* ch 0: measurement[32] | signer[32] | u16 product | u16 svn | u8 sim */
    EIF_OUT = 65,        /* ch sid: TLS bytes for the client */
    EIF_END = 66,        /* ch sid: close the client's connection */
    EIF_STORE_READ = 67, /* ch req: name LV | u64 offset | u32 length */
    EIF_STORE_SIZE = 68, /* ch req: name LV -> reply: u64 size */
    EIF_STORE_PUT = 69,  /* ch req: name LV | u8 last | bytes (appended; last commits atomically) */
    EIF_JOB = 70,        /* ch 0: public job status text for listings (no secrets) */
    EIF_FATAL = 71,      /* ch 0: the enclave stops; message (no secrets) */
    EIF_STORE_DROP = 72, /* ch req: name LV -- forget a spilled run (reply: status) */
    /* ch req: u8 op (0 read, 1 increment) -> reply: u64 value of the host's monotonic counter
     * (after the increment); the sealed state's rollback protection (persist.c) */
    EIF_COUNTER = 73,
    EIF_EVIDENCE_REQ = 74, /* ch sid: report data[64] -- evidence from the backend's device */
    /* ch mesh id: n_ranks u32 | job_id[32] | nonce[32] | timeout_ms u32 | ops LV (n_ops u32 |
     * n_ops x (kind u8 | root u32)) -- the leader asks its host to start the other ranks */
    EIF_MESH_LAUNCH = 75,
    EIF_MESH_HELLO = 76, /* ch mesh id: x25519 pub[32] | evidence */
    EIF_MESH_SEND = 77,  /* ch mesh id: to u32 | sealed mesh message */
    EIF_MESH_END = 78,   /* ch mesh id: u8 ok -- this rank is done with the mesh */
};

/* ---- 2. host API ----------------------------------------------------------------------------- */
enum mc2_hapi {
    HAPI_STATUS = 1,   /* -> HAPI_OK with "key: value" lines */
    HAPI_PUT = 2,      /* owner LV | name LV | u64 size | sig[64]: begin an upload */
    HAPI_PUT_DATA = 3, /* bytes */
    HAPI_PUT_END = 4,  /* commit the upload (atomically) */
    HAPI_GET = 5,      /* object name LV -> HAPI_DATA* then HAPI_OK */
    HAPI_TABLES = 6,   /* -> HAPI_OK with one line per table */
    HAPI_JOBS = 7,     /* -> HAPI_OK with one line per job */
    HAPI_ENCLAVE = 8,  /* nonce[32]: the connection becomes a relay to an enclave session */
    HAPI_SIZE = 9,     /* object name LV -> HAPI_OK: u64 size (what a HAPI_GET would send) */
    HAPI_OK = 100,     /* payload depends on the request */
    HAPI_DATA = 101,   /* a chunk of an object */
    HAPI_ERR = 102,    /* message */
};

/* ---- 3. enclave API (inside TLS) --------------------------------------------------------------
 */
enum mc2_eapi {
    /* -> EAPI_OK: instance nonce[32] | u64 next counter | policy hash[32] | u64 generation of
     * the sealed state (the client's rollback witness) */
    EAPI_HELLO = 1,
    EAPI_GRANT = 2,      /* data key[32] | sig[64] over the key grant */
    EAPI_SUBMIT = 3,     /* job text LV | sig[64] -> EAPI_OK: u64 job id */
    EAPI_APPROVE = 4,    /* u64 job id | sig[64] -> EAPI_OK: state text */
    EAPI_JOB = 5,        /* u64 job id -> EAPI_OK: job text LV | state text LV */
    EAPI_RESULT_KEY = 6, /* u64 job id -> EAPI_OK: result key[32] | object name LV */
    /* u64 job id | object name LV | key[32] | sig[64] (mc2_object_grant_sign, over the job
     * text's SHA-256): the job's model owner grants the model key for that job only
     * -> EAPI_OK (empty) */
    EAPI_GRANT_OBJECT = 7,
    /* u64 job id | u8 op | body: a request of the job's kind (enc_kind.request), e.g. a
     * fedavg participant's update (FL_PUT, docs/fl.md) -> EAPI_OK with the op's reply */
    EAPI_KIND = 8,
    EAPI_OK = 100,
    EAPI_ERR = 101, /* message */
};

/* An EAPI_ERR message starting with this means the job's counter was already taken (by a
 * replay, or by another party's submission in between): build the job again with a fresh
 * counter from EAPI_HELLO. */
#define EAPI_STALE_COUNTER "stale counter: "

/* EAPI_KIND ops of kind fedavg (docs/wire-protocol.md). fl-core: 1..15; the masked stages
 * (SecAgg) use 16 and up. */
enum mc2_fl_op {
    /* u64 offset | u8 last | bytes [| sig[64] if last]: a chunk of this party's encoded
     * update (fl/fl.h), sent in order; `last` ends it with the signature -> EAPI_OK: u8 done */
    FL_PUT = 1,
    FL_OP_MASKED_FIRST = 16,
};

#endif
