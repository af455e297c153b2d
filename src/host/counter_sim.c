/* counter_sim.c - UNTRUSTED: the sim backend's monotonic counter, which the enclave's sealed
 * state is checked against (rollback protection, docs/security.md "Sealed state"). A TEE
 * would keep it in hardware (a TPM NV counter); here it is a file the host keeps, so it
 * protects against a host that rolls back the state but not its own counter, nothing more. */
#include "host/tee.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"

#define COUNTER_FILE "enclave.counter"

/* The value in the file's text ("<decimal>\n"); missing: 0. */
static int counter_read(const char *path, uint64_t *v, mc2_err *err)
{
    mc2_buf b = {0};
    *v = 0;
    if (mc2_file_read_all(path, 64, &b, err)) return err->code == MC2_E_NOTFOUND ? 0 : -1;
    int rc = 0;
    char txt[65];
    size_t n = b.len < 64 ? b.len : 64;
    memcpy(txt, b.data, n);
    txt[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long x = strtoull(txt, &end, 10);
    if (errno || end == txt || (*end && strcmp(end, "\n") != 0) || txt[0] == '-')
        rc = mc2_err_set(err, MC2_E_INPUT, "'%s' is not a counter (a decimal number)", path);
    else
        *v = x;
    mc2_buf_free(&b);
    return rc;
}

int mc2_sim_counter(const char *state_dir, bool increment, uint64_t *value, mc2_err *err)
{
    char *path = mc2_path_join(state_dir, COUNTER_FILE);
    if (!path) return mc2_err_set(err, MC2_E_NOMEM, "out of memory");
    uint64_t v;
    int rc = counter_read(path, &v, err);
    if (rc == 0 && increment) {
        char txt[32];
        if (v == UINT64_MAX) {
            rc = mc2_err_set(err, MC2_E_LIMIT, "the counter '%s' is at its maximum", path);
        } else {
            int l = snprintf(txt, sizeof txt, "%llu\n", (unsigned long long)++v);
            rc = mc2_file_write_atomic(path, txt, (size_t)l, 0600, 0, err); /* fsync, rename */
        }
    }
    if (rc == 0) *value = v;
    mc2_free(path);
    return rc;
}
