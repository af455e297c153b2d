/* ossl.c - turn OpenSSL's thread-local error queue into an mc2_err. */
#include "crypto/ossl.h"

#include <openssl/err.h>

int mc2_ossl_fail(mc2_err *err, enum mc2_code code, const char *what)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason)
        mc2_err_set(err, code, "%s: OpenSSL: %s", what, reason);
    else
        mc2_err_set(err, code, "%s", what);
    ERR_clear_error();
    return -1;
}
