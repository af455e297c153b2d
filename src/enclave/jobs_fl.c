/* jobs_fl.c - TRUSTED: the job kind `fedavg` (docs/fl.md). Step 1 of issue 15: the hooks are
 * registered; the round itself follows. */
#include <string.h>

#include "base/alloc.h"
#include "enclave/jobs_fl.h"
#include "wire/proto.h"

/* The masked path (jobs_fl_mask.c): &enc_fl_masked once it is built, else NULL. */
static const enc_fl_mask_ops *const MASK_OPS = NULL;

int enc_fl_check(enclave *e, const mc2_job *j, mc2_err *err)
{
    (void)e;
    mc2_fl_round r;
    if (mc2_fl_round_from_job(j, &r, err)) return -1;
    if (r.masks == MC2_FL_MASKS_SECAGG && !MASK_OPS)
        return mc2_err_set(err, MC2_E_INPUT, "'masks': this enclave build has no masked rounds");
    return mc2_err_set(err, MC2_E_INPUT, "fedavg rounds are not available in this build");
}

int enc_fl_run(enclave *e, enc_job *j, mc2_err *err)
{
    (void)e;
    (void)j;
    return mc2_err_set(err, MC2_E_INTERNAL, "fedavg: not available");
}

int enc_fl_ready(enclave *e, enc_job *j, mc2_err *err)
{
    (void)e;
    (void)j;
    (void)err;
    return 0;
}

int enc_fl_request(enclave *e, enc_session *s, enc_job *j, uint8_t op, mc2_rd *r, mc2_buf *out,
                   mc2_err *err)
{
    (void)e;
    (void)s;
    (void)j;
    (void)r;
    (void)out;
    return mc2_err_set(err, MC2_E_INPUT, "unknown fedavg op %u", op);
}

void enc_fl_release(enc_job *j)
{
    mc2_free(j->kstate);
    j->kstate = NULL;
}

bool enc_fl_member(const enclave *e, const enc_job *j, int p)
{
    (void)e;
    (void)j;
    (void)p;
    return false;
}
