/* err.c - error values with human-readable messages. */
#include "mc2/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void mc2_err_clear(mc2_err *e)
{
    if (!e) return;
    e->code = MC2_OK;
    e->msg[0] = '\0';
}

int mc2_err_set(mc2_err *e, enum mc2_code code, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

int mc2_err_prefix(mc2_err *e, const char *fmt, ...)
{
    if (!e) return -1;
    char pre[MC2_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    size_t plen = strlen(pre);
    size_t mlen = strnlen(e->msg, sizeof e->msg - 1);
    if (plen >= sizeof e->msg - 1) plen = sizeof e->msg - 1;
    if (plen + mlen > sizeof e->msg - 1) mlen = sizeof e->msg - 1 - plen;
    memmove(e->msg + plen, e->msg, mlen);
    memcpy(e->msg, pre, plen);
    e->msg[plen + mlen] = '\0';
    return -1;
}

const char *mc2_code_name(enum mc2_code code)
{
    switch (code) {
    case MC2_OK:
        return "ok";
    case MC2_E_USAGE:
        return "usage";
    case MC2_E_IO:
        return "io";
    case MC2_E_INPUT:
        return "input";
    case MC2_E_AUTH:
        return "auth";
    case MC2_E_NOMEM:
        return "nomem";
    case MC2_E_EXISTS:
        return "exists";
    case MC2_E_CRYPTO:
        return "crypto";
    case MC2_E_LIMIT:
        return "limit";
    case MC2_E_NOTFOUND:
        return "notfound";
    case MC2_E_INTERNAL:
        return "internal";
    }
    return "unknown";
}
