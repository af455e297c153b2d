/* num.h - parsing numbers from hostile text (command lines, files). */
#ifndef MC2_BASE_NUM_H
#define MC2_BASE_NUM_H

#include <stdbool.h>

/* Whether s is a plain decimal number (digits only: no sign, no space, nothing after) within
 * [lo, hi]; if so, *out is set. */
bool mc2_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

#endif
