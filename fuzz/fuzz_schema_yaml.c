/* fuzz_schema_yaml.c - libFuzzer target: mc2_schema_parse on arbitrary bytes. A schema that
 * parses must survive encode/decode and to_yaml/parse unchanged (same canonical bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mc2/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes s; aborts if that fails (a parsed schema is always encodable). */
static uint8_t *enc(const mc2_schema *s, size_t *n)
{
    mc2_err err;
    uint8_t *p = NULL;
    if (mc2_schema_encode(s, &p, n, &err) != 0) abort();
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0; /* mc2_schema_load's limit */
    mc2_err err;
    mc2_schema *s = NULL, *d = NULL, *y = NULL;
    if (mc2_schema_parse("fuzz.yaml", (const char *)data, size, &s, &err) != 0) {
        if (s != NULL || err.msg[0] == '\0') abort();
        return 0;
    }
    size_t n1, n2, n3;
    uint8_t *e1 = enc(s, &n1);
    if (mc2_schema_decode(e1, n1, &d, &err) != 0) abort();
    uint8_t *e2 = enc(d, &n2);
    char *yaml = NULL;
    if (mc2_schema_to_yaml(s, &yaml, &err) != 0) abort();
    if (mc2_schema_parse("out.yaml", yaml, strlen(yaml), &y, &err) != 0) abort();
    uint8_t *e3 = enc(y, &n3);
    if (n1 != n2 || n1 != n3 || memcmp(e1, e2, n1) != 0 || memcmp(e1, e3, n1) != 0) abort();
    mc2_free(e1);
    mc2_free(e2);
    mc2_free(e3);
    mc2_free(yaml);
    mc2_schema_free(s);
    mc2_schema_free(d);
    mc2_schema_free(y);
    return 0;
}
