/* hex.h - hexadecimal encoding of byte strings (fingerprints, ids). */
#ifndef MC2_BASE_HEX_H
#define MC2_BASE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex digits and a NUL to out (which holds 2*n+1 bytes). */
void mc2_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2*n hex digits (either case) from s into out[n]; -1 if s is not exactly
 * that many hex digits. */
int mc2_hex_decode(const char *s, uint8_t *out, size_t n);

#endif
