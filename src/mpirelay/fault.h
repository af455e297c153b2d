/* fault.h - the relay's fault hook (TEST BUILDS ONLY; relay.h says what it does). Included
 * and linked only where MC2_RELAY_FAULT_HOOK is defined. */
#ifndef MC2_MPIRELAY_FAULT_H
#define MC2_MPIRELAY_FAULT_H

#include "mpirelay/relay.h"

typedef struct relay_fault relay_fault;

/* The hook from MC2_RELAY_FAULT for rank self of n: NULL if the variable is unset (err
 * untouched); NULL with *err (MC2_E_USAGE) if it is malformed. *active says which. */
relay_fault *relay_fault_new(uint32_t self, uint32_t n, int *active, mc2_err *err);
void relay_fault_free(relay_fault *f);
void relay_fault_next_job(relay_fault *f);
const char *relay_fault_desc(const relay_fault *f);
/* recv through the hook: takes messages with mc2_mpirelay_raw_recv and alters the chosen one. */
int relay_fault_recv(relay_fault *f, mc2_mpirelay *r, uint32_t from, uint8_t *buf, size_t cap,
                     size_t *len, mc2_err *err);

/* The relay's own receive (relay.c). */
int mc2_mpirelay_raw_recv(mc2_mpirelay *r, uint32_t from, uint8_t *buf, size_t cap, size_t *len,
                          mc2_err *err);

#endif
