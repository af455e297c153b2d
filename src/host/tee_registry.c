/* tee_registry.c - UNTRUSTED: the TEE backends mc2d can run (one line each) and the helpers
 * every backend shares (see tee.h). */
#include <string.h>

#include "host/tee.h"

static const mc2_tee_ops *const backends[] = {
    &mc2_tee_sim,
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

int mc2_tee_opt_next(const char **opts, char *key, size_t key_cap, char *val, size_t val_cap,
                     mc2_err *err)
{
    const char *p = *opts;
    if (!p || !*p) return 1;
    size_t n = strcspn(p, ",");
    const char *eq = memchr(p, '=', n);
    size_t kn = eq ? (size_t)(eq - p) : 0, vn = eq ? n - kn - 1 : 0;
    if (!eq || kn == 0 || kn >= key_cap || vn >= val_cap)
        return mc2_err_set(err, MC2_E_USAGE,
                           "malformed backend option '%.*s': want key=value (comma-separated)",
                           (int)(n < 200 ? n : 200), p);
    memcpy(key, p, kn);
    key[kn] = 0;
    memcpy(val, eq + 1, vn);
    val[vn] = 0;
    *opts = p[n] ? p + n + 1 : p + n;
    return 0;
}
