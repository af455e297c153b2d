/* fuzz_pem.c - libFuzzer target for the PEM/X.509 parsers the CLI feeds with files from
 * disk: mc2_x509_info, mc2_x509_verify_self_signed and mc2_ed25519_sec_from_pem. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pub[MC2_ED25519_PUB_LEN], sec[MC2_ED25519_SEC_LEN];
    char cn[MC2_CN_MAX + 1];
    mc2_err err;
    /* Copy into an exact-size heap buffer so any read past `size` trips ASan. */
    char *p = malloc(size ? size : 1);
    if (!p) return 0;
    if (size) memcpy(p, data, size);

    mc2_err_clear(&err);
    if (mc2_x509_info(p, size, pub, cn, sizeof cn, &err) == 0) {
        /* The contract: a NUL-terminated CN that fits. */
        if (strlen(cn) >= sizeof cn) abort();
    } else if (err.code == MC2_OK || cn[0] != '\0') {
        abort(); /* a failure must say why and leave no partial CN */
    }
    mc2_err_clear(&err);
    if (mc2_x509_verify_self_signed(p, size, &err) != 0 && err.code == MC2_OK) abort();
    mc2_err_clear(&err);
    if (mc2_ed25519_sec_from_pem(p, size, sec, &err) != 0) {
        if (err.code == MC2_OK) abort();
        for (size_t i = 0; i < sizeof sec; i++)
            if (sec[i]) abort(); /* wiped on failure */
    }
    mc2_wipe(sec, sizeof sec);
    free(p);
    return 0;
}
