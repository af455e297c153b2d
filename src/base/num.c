/* num.c - parsing numbers from hostile text (num.h). */
#include "base/num.h"

#include <errno.h>
#include <stdlib.h>

bool mc2_parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9') return false; /* strtoul would take a sign or spaces */
    char *end;
    errno = 0;
    unsigned long x = strtoul(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return false;
    *out = x;
    return true;
}
