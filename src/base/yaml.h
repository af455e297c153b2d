/* yaml.h - a small YAML document tree (maps, sequences, scalars) built with libyaml, with
 * line:column positions so configuration errors point at the offending spot. Anchors and
 * aliases are rejected (they make billion-laughs documents possible and nothing needs them). */
#ifndef MC2_BASE_YAML_H
#define MC2_BASE_YAML_H

#include <stddef.h>

#include "mc2/err.h"

enum mc2_ykind { MC2_Y_SCALAR, MC2_Y_MAP, MC2_Y_SEQ };

/* A node. For maps, kids alternate key, value (nkids is even); for sequences, kids are the
 * items; scalars carry their text (NUL-terminated, may contain NULs only if quoted -
 * `len` is authoritative). line and col are 1-based. `quoted` is set for quoted scalars. */
typedef struct mc2_ynode {
    enum mc2_ykind kind;
    char *text;
    size_t len;
    int quoted;
    struct mc2_ynode **kids;
    size_t nkids;
    unsigned long line, col;
} mc2_ynode;

/* Parses one YAML document from memory. `what` names the source in errors (a file name).
 * Errors are MC2_E_INPUT with "what line L column C: ...". Limits: 1 MiB of input handled by
 * the caller; depth <= 32; at most 100000 nodes. Returns the root (free with mc2_yaml_free),
 * or NULL with *err set. An empty document yields an empty map. */
mc2_ynode *mc2_yaml_parse(const char *what, const char *text, size_t len, mc2_err *err);
void mc2_yaml_free(mc2_ynode *n);

/* Map lookup: the value for key `key`, or NULL. n must be a map. */
const mc2_ynode *mc2_yaml_get(const mc2_ynode *map, const char *key);

#endif
