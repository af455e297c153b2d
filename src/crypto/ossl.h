/* ossl.h - internal helpers shared by the crypto module's wrappers over OpenSSL. */
#ifndef MC2_CRYPTO_OSSL_H
#define MC2_CRYPTO_OSSL_H

#include "mc2/err.h"

/* Sets *err to code with "<what>: OpenSSL: <reason>" (the reason of the oldest queued
 * OpenSSL error, static text that never holds key material), clears OpenSSL's error queue
 * for this thread, and returns -1. `what` must not contain secrets either. */
int mc2_ossl_fail(mc2_err *err, enum mc2_code code, const char *what);

#endif
