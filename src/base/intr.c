/* intr.c - the CPU time limit behind mc2_intr_check (intr.h). */
#include "base/intr.h"

#include <stdatomic.h>
#include <time.h>

static atomic_uint_fast64_t deadline_ns; /* process CPU time at which to stop; 0: none */
static atomic_uint_fast64_t limit_s;     /* for the message */
static atomic_uint calls;
static atomic_bool tripped;

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mc2_intr_arm(uint64_t cpu_seconds)
{
    atomic_store(&tripped, false);
    atomic_store(&limit_s, cpu_seconds);
    atomic_store(&deadline_ns, cpu_seconds ? cpu_now_ns() + cpu_seconds * 1000000000u : 0);
}

void mc2_intr_disarm(void)
{
    atomic_store(&deadline_ns, 0);
    atomic_store(&tripped, false);
}

bool mc2_intr_tripped(void)
{
    return atomic_load_explicit(&tripped, memory_order_relaxed);
}

int mc2_intr_check(mc2_err *err)
{
    if (!mc2_intr_tripped()) {
        uint64_t dl = atomic_load_explicit(&deadline_ns, memory_order_relaxed);
        if (dl == 0 || (atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) & 15) != 0 ||
            cpu_now_ns() < dl)
            return 0;
        atomic_store(&tripped, true);
    }
    return mc2_err_set(err, MC2_E_LIMIT,
                       "the job used more than its CPU time limit of %llu s (the consortium "
                       "policy's job_cpu_seconds, or the job's cpu_seconds parameter)",
                       (unsigned long long)atomic_load(&limit_s));
}
