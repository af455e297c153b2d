/* tee_registry.c - UNTRUSTED: the TEE backends mc2d can run (one line each; see tee.h). The
 * option parser every backend shares is in tee_opt.c, so that code which needs one backend's
 * helper (the CLI: mc2_sim_platform_key) does not link every backend. */
#include <string.h>

#include "host/tee.h"

static const mc2_tee_ops *const backends[] = {
    &mc2_tee_sim,
    &mc2_tee_tpm,
    &mc2_tee_tsm,
};

#define NBACKENDS (sizeof backends / sizeof backends[0])

const mc2_tee_ops *mc2_tee_find(const char *name)
{
    for (size_t i = 0; name && i < NBACKENDS; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

const char *mc2_tee_names(void)
{
    static char names[128];
    if (!names[0])
        for (size_t i = 0; i < NBACKENDS; i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, backends[i]->name, sizeof names - strlen(names) - 1);
        }
    return names;
}

int mc2_tee_open(const char *name, const char *state_dir, const char *opts, mc2_tee *t,
                 mc2_err *err)
{
    memset(t, 0, sizeof *t);
    const mc2_tee_ops *ops = mc2_tee_find(name);
    if (!ops)
        return mc2_err_set(err, MC2_E_USAGE, "unknown TEE backend '%s' (known: %s)",
                           name ? name : "", mc2_tee_names());
    if (ops->open(state_dir, opts, &t->ctx, err)) {
        mc2_err_prefix(err, "TEE backend %s: ", ops->name);
        return -1;
    }
    t->ops = ops;
    return 0;
}

void mc2_tee_close(mc2_tee *t)
{
    if (t->ops && t->ops->close) t->ops->close(t->ctx);
    memset(t, 0, sizeof *t);
}
