/* strdist.h - edit distance for "did you mean" suggestions (one implementation for the SQL
 * lexer and binder, the schema parser, GBDT parameters and the client). */
#ifndef MC2_BASE_STRDIST_H
#define MC2_BASE_STRDIST_H

#include <stddef.h>

#define MC2_DIST_MAX 64 /* longer inputs are never close to anything */

/* The optimal-string-alignment distance between a[0..na) and b[0..nb): insertions,
 * deletions, substitutions and transpositions of adjacent characters, each costing 1, ASCII
 * case ignored. Returns cap + 1 if the distance exceeds cap or either input is longer than
 * MC2_DIST_MAX bytes. */
unsigned mc2_edit_distance(const char *a, size_t na, const char *b, size_t nb, unsigned cap);

#endif
