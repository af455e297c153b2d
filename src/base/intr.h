/* intr.h - cooperative interruption of long computations. The enclave arms a CPU time limit
 * when a job starts; long-running code (the SQL executor per chunk, the oblivious executor
 * per operator, GBDT training per tree level) calls mc2_intr_check at points of its own, and
 * fails with MC2_E_LIMIT once the limit has passed, unwinding through its normal error path.
 *
 * Process-wide, like the allocator's cap (alloc.h): the enclave runs one job at a time. The
 * clock is the process's CPU time (every thread of the job counts; the enclave's main thread,
 * which only serves sessions, adds a little). Thread-safe. Where a check point sits depends
 * only on public sizes, so in oblivious mode the time at which a job stops reveals nothing
 * more than its running time does. */
#ifndef MC2_BASE_INTR_H
#define MC2_BASE_INTR_H

#include <stdbool.h>
#include <stdint.h>

#include "mc2/err.h"

/* Starts the clock: from now the computation may use `cpu_seconds` of CPU time (0: no
 * limit). Clears an earlier trip. */
void mc2_intr_arm(uint64_t cpu_seconds);
/* Removes the limit and clears a trip. */
void mc2_intr_disarm(void);
/* 0 while within the limit; -1 with MC2_E_LIMIT once it has passed (and for every later
 * call until the next arm/disarm). Reads the CPU clock on every 16th call, so it is cheap
 * enough for every chunk of rows. */
int mc2_intr_check(mc2_err *err) MC2_WUR;
/* Whether the limit has been found passed (no clock read). */
bool mc2_intr_tripped(void);

#endif
