/* fuzz_tsm_auxblob.c - libFuzzer target: mc2_tsm_certs_parse (the tsm backend's parser for the
 * SEV-SNP certificate table configfs-tsm gives in auxblob, src/host/tee_tsm.h) on arbitrary
 * bytes. Seeds (fuzz/corpus/fuzz_tsm_auxblob): a table of the fake tree's test chain
 * (tests/tools/fake_tsm.c) and tables with a CRL entry, no terminator, overlapping and
 * out-of-range certificates.
 * Contract checked: a failure says why (err set) and finds nothing; a success finds
 * certificates of 1..MC2_SNP_MAX_CERT_LEN bytes, each inside the input and after the
 * entries, and only from an input of at most MC2_TSM_AUXBLOB_MAX bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/tee_tsm.h"
#include "mc2/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_tsm_certs c;
    mc2_err err;
    /* Copy into an exact-size heap buffer so any read past `size` trips ASan. */
    uint8_t *p = malloc(size ? size : 1);
    if (!p) return 0;
    if (size) memcpy(p, data, size);
    mc2_err_clear(&err);
    if (mc2_tsm_certs_parse(p, size, &c, &err) != 0) {
        if (err.code == MC2_OK || err.msg[0] == '\0') abort();
        for (int i = 0; i < 3; i++)
            if (c.cert[i] || c.len[i]) abort();
    } else {
        if (size > MC2_TSM_AUXBLOB_MAX) abort();
        for (int i = 0; i < 3; i++) {
            if (!c.len[i]) {
                if (c.cert[i]) abort();
                continue;
            }
            if (c.len[i] > MC2_SNP_MAX_CERT_LEN || c.cert[i] < p + 24 ||
                (size_t)(c.cert[i] - p) > size || c.len[i] > size - (size_t)(c.cert[i] - p))
                abort();
        }
    }
    free(p);
    return 0;
}
