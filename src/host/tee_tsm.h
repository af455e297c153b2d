/* tee_tsm.h - UNTRUSTED: the tsm backend's parser for the SEV-SNP certificate table that
 * Linux configfs-tsm gives in a report's `auxblob` (tee_tsm.c; fuzzed by fuzz_tsm_auxblob).
 *
 * The table (GHCB specification, SNP extended guest request; all integers little-endian):
 *   entries of 24 bytes, GUID[16] | u32 offset | u32 length, the last one all zeros; offset
 *   counts from the table's first byte; the certificates (DER) follow the entries.
 * GUIDs (RFC 4122 byte order, as the string reads):
 *   VCEK 63da758d-e664-4564-adc5-f4b93be8accd   VLEK a8074bc2-a25a-483e-aae6-39c045a0b8a1
 *   ASK  4ab7b379-bbac-4fe4-a02f-05aef327c782   ARK  c0b406a4-a803-4952-9743-3fb6014cd0ae
 * Other entries (a CRL, extra platform info) are skipped. A VLEK's signer (the ASVK) comes
 * in the ASK's place. */
#ifndef MC2_HOST_TEE_TSM_H
#define MC2_HOST_TEE_TSM_H

#include <stddef.h>
#include <stdint.h>

#include "mc2/err.h"

#define MC2_TSM_AUXBLOB_MAX (64u << 10) /* larger auxblobs are refused */
#define MC2_TSM_MAX_ENTRIES 64          /* entries before the terminator */

enum { MC2_TSM_VCEK = 0, MC2_TSM_ASK = 1, MC2_TSM_ARK = 2 };

/* What a certificate table holds: cert[i]/len[i] point into the table (len 0: absent), in the
 * order VCEK (or VLEK), ASK, ARK. */
typedef struct mc2_tsm_certs {
    const uint8_t *cert[3];
    size_t len[3];
} mc2_tsm_certs;

/* Parses the table p[0..n) (hostile bytes): n 0 is an empty table (nothing found). Refuses
 * (MC2_E_INPUT, saying what) a table longer than MC2_TSM_AUXBLOB_MAX, one without its
 * terminator or with more than MC2_TSM_MAX_ENTRIES entries, a certificate that is empty,
 * longer than MC2_SNP_MAX_CERT_LEN, overlaps the entries or runs past the end, and two
 * certificates for the same place (VCEK and VLEK count as one); *c is then all zeros. */
int mc2_tsm_certs_parse(const uint8_t *p, size_t n, mc2_tsm_certs *c, mc2_err *err) MC2_WUR;

#endif
