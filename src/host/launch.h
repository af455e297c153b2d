/* launch.h - UNTRUSTED: starting mc2-enclave on a TEE backend (host/tee.h). The host checks
 * the enclave's signature (sigstruct) before starting it, lets the backend measure it, gives
 * it exactly one channel (fd 3) and an empty environment, and waits for READY. */
#ifndef MC2_HOST_LAUNCH_H
#define MC2_HOST_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mc2/attest.h"
#include "host/tee.h"
#include "mc2/err.h"
#include "wire/frame.h"

typedef struct mc2_enclave_proc {
    pid_t pid;
    int fd; /* the host end of the channel */
    uint8_t measurement[MC2_SHA256_LEN];
    uint8_t signer[MC2_SHA256_LEN];
    uint16_t product_id, svn;
    bool simulation; /* READY says the enclave's attester is a simulation */
} mc2_enclave_proc;

/* The enclave process's address-space limit (RLIMIT_AS, bytes) for a memory budget: the
 * budget plus MC2_ENCLAVE_AS_BASE_MB (the program, OpenSSL, the main and runner threads, the
 * allocator's slack and the jobs' ENC_MEM_OVERHEAD) plus MC2_ENCLAVE_AS_PER_CPU_MB for each
 * CPU this process may run on (a job's worker thread per CPU: its stack and its malloc arena,
 * which reserves 64 MiB of address space). 0 in sanitizer builds, whose shadow memory needs
 * terabytes of address space: no limit is set there. */
#define MC2_ENCLAVE_AS_BASE_MB    512u
#define MC2_ENCLAVE_AS_PER_CPU_MB 256u
uint64_t mc2_enclave_as_limit(uint32_t budget_mb);

/* How mc2_enclave_launch starts the enclave. `serve` answers the requests the enclave sends
 * before READY (restoring its sealed state: counter and storage requests), writing every
 * reply to fd before it returns; -1 fails the launch. */
typedef struct mc2_launch_opts {
    uint32_t budget_mb;      /* the enclave's memory budget */
    uint32_t session_idle_s; /* 1..86400: how long a session may stay silent */
    bool discard_state;      /* INIT flag bit 0: start with an empty sealed state */
    bool worker;             /* INIT flag bit 1: a worker enclave of a distributed job (mc2-rank;
                                docs/cluster.md, "Distributed jobs") */
    int (*serve)(void *ctx, int fd, const mc2_frame *f, mc2_err *err);
    void *ctx;
} mc2_launch_opts;

/* Measures the binary at path, verifies path.sig (refusing an enclave whose signature does
 * not verify or is for another build), lets the backend prepare its launch (tee->ops->
 * prepare: the attester's bytes for INIT), starts it with RLIMIT_AS = mc2_enclave_as_limit
 * (budget_mb) (an allocation beyond it fails in the enclave, which fails that job, instead of
 * the host running out of memory), sends INIT naming the backend and waits for READY,
 * serving the enclave's requests meanwhile (o->serve), at most 10 s for each message. */
int mc2_enclave_launch(const char *path, const char *policy, size_t policy_len, const mc2_tee *tee,
                       const mc2_launch_opts *o, mc2_enclave_proc *out, mc2_err *err) MC2_WUR;

/* The enclave binary beside the running program (mc2d, mc2-rank): "DIR/mc2-enclave" where DIR
 * is /proc/self/exe's directory; malloc'd, NULL if it cannot be found. */
char *mc2_enclave_default_path(void);

/* Closes the channel and reaps the process (SIGKILL after 2 s). */
void mc2_enclave_stop(mc2_enclave_proc *p);

/* Loads path.sig next to an enclave binary and checks it against the binary. */
int mc2_enclave_check(const char *path, mc2_sigstruct *ss, mc2_err *err) MC2_WUR;

#endif
