/* tee_opt.c - UNTRUSTED: the "key=value,key=value" option parser every TEE backend shares
 * (see tee.h). */
#include <string.h>

#include "host/tee.h"

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
