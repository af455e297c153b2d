/* fuzz_catalog.c - libFuzzer target: mc2_catalog_parse on arbitrary bytes (a party's table
 * catalog, mc2/catalog.h). What parses must re-format to exactly the input (the text is
 * canonical), be sorted with each (consortium, name, version) once and at most
 * MC2_CATALOG_KEEP versions per name, and survive the lookups and a put of a newer version. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_err err;
    mc2_catalog c;
    if (mc2_catalog_parse("fuzz", (const char *)data, size, &c, &err) != 0) {
        if (c.n != 0 || c.e != NULL ||
            (err.code != MC2_E_INPUT && err.code != MC2_E_LIMIT && err.code != MC2_E_NOMEM))
            abort();
        return 0;
    }
    char *t = NULL;
    size_t n = 0;
    if (mc2_catalog_format(&c, &t, &n, &err) != 0) abort();
    if (n != size || memcmp(t, data, n) != 0) abort();
    mc2_free(t);
    size_t same = 0;
    for (size_t i = 0; i < c.n; i++) {
        const mc2_catalog_entry *e = &c.e[i], *p = i ? &c.e[i - 1] : NULL;
        int d = p ? memcmp(p->consortium, e->consortium, 32) : -1;
        if (p && d == 0) d = strcmp(p->name, e->name);
        if (d > 0) abort();
        same = d == 0 ? same + 1 : 1;
        if (d == 0 && p->version >= e->version) abort();
        if (same > MC2_CATALOG_KEEP) abort();
        if (mc2_catalog_find_id(&c, e->consortium, e->table_id) == NULL) abort();
        /* The latest is never pending, and no confirmed upload is newer. */
        const mc2_catalog_entry *l = mc2_catalog_latest(&c, e->consortium, e->name);
        if (l && l->state == MC2_CAT_PENDING) abort();
        if (e->state != MC2_CAT_PENDING && (!l || l->version < e->version)) abort();
    }
    if (c.n > 0) {
        mc2_catalog_entry e = c.e[c.n - 1];
        uint64_t v;
        if (mc2_catalog_next_version(&c, e.consortium, e.name, &v, &err) == 0) {
            e.version = v;
            e.table_id[0] ^= 0x5a;
            e.state = MC2_CAT_UPLOADED;
            if (mc2_catalog_put(&c, &e, &err) == 0) {
                const mc2_catalog_entry *l = mc2_catalog_latest(&c, e.consortium, e.name);
                if (!l || l->version != v) abort();
                if (mc2_catalog_format(&c, &t, &n, &err) != 0) abort();
                mc2_catalog back;
                if (mc2_catalog_parse("again", t, n, &back, &err) != 0) abort();
                mc2_catalog_free(&back);
                mc2_free(t);
            } else if (err.code != MC2_E_LIMIT) {
                abort();
            }
        }
    }
    mc2_catalog_free(&c);
    return 0;
}
