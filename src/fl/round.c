/* round.c - a fedavg round's params (fl.h). */
#include "fl/fl.h"

int mc2_fl_round_from_job(const mc2_job *j, mc2_fl_round *r, mc2_err *err)
{
    (void)j;
    (void)r;
    return mc2_err_set(err, MC2_E_INPUT, "fedavg: not available yet");
}
