/* ct.c - constant-time comparison and wiping, delegated to OpenSSL. */
#include "mc2/crypto.h"

#include <openssl/crypto.h>

int mc2_ct_equal(const void *a, const void *b, size_t n)
{
    /* CRYPTO_memcmp's running time depends only on n; branching on its public result is
     * fine. */
    return CRYPTO_memcmp(a, b, n) == 0;
}

void mc2_wipe(void *p, size_t n)
{
    if (p && n) OPENSSL_cleanse(p, n);
}
