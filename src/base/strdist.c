/* strdist.c - edit distance (strdist.h): the usual dynamic programme over three rows. */
#include "base/strdist.h"

static unsigned lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + 32u : c;
}

static unsigned min3(unsigned x, unsigned y, unsigned z)
{
    unsigned m = x < y ? x : y;
    return m < z ? m : z;
}

unsigned mc2_edit_distance(const char *a, size_t na, const char *b, size_t nb, unsigned cap)
{
    if (na > MC2_DIST_MAX || nb > MC2_DIST_MAX) return cap + 1;
    if ((na > nb ? na - nb : nb - na) > cap) return cap + 1;
    unsigned r0[MC2_DIST_MAX + 1], r1[MC2_DIST_MAX + 1], r2[MC2_DIST_MAX + 1];
    unsigned *pp = r0, *p = r1, *c = r2; /* rows i-2, i-1, i */
    for (size_t j = 0; j <= nb; j++) p[j] = (unsigned)j;
    for (size_t i = 1; i <= na; i++) {
        c[0] = (unsigned)i;
        unsigned ai = lower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= nb; j++) {
            unsigned bj = lower((unsigned char)b[j - 1]);
            unsigned best = min3(p[j - 1] + (ai != bj), p[j] + 1, c[j - 1] + 1);
            if (i > 1 && j > 1 && ai == lower((unsigned char)b[j - 2]) &&
                lower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
        unsigned *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[nb] > cap ? cap + 1 : p[nb];
}
