/* rand.c - random bytes from OpenSSL's CSPRNG (seeded by the operating system). */
#include "mc2/crypto.h"

#include <limits.h>
#include <openssl/rand.h>

#include "crypto/ossl.h"

int mc2_random(void *out, size_t n, mc2_err *err)
{
    /* The private DRBG: callers use this for keys as well as nonces, and OpenSSL keeps the
     * private generator's state apart from the one behind RAND_bytes. */
    uint8_t *p = out;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        if (RAND_priv_bytes(p, chunk) != 1)
            return mc2_ossl_fail(err, MC2_E_CRYPTO, "random generator failed");
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}
