/* fuzz_sql_parse.c - libFuzzer target: parse arbitrary bytes as SQL; whatever parses must print,
 * re-parse and re-print identically, and read the same tables (mc2_sql_table_refs) both times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "sql/parser.h"
#include "sql/tablerefs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tables s1 and s2 read are the same names in the same order. */
static void same_tables(const mc2_sql_stmt *s1, mc2_arena *a1, const mc2_sql_stmt *s2,
                        mc2_arena *a2)
{
    mc2_sql_tname *t1, *t2;
    size_t n1, n2;
    mc2_err err;
    if (mc2_sql_table_refs(s1, SIZE_MAX, a1, &t1, &n1, &err)) return; /* the arena's limit */
    if (mc2_sql_table_refs(s2, SIZE_MAX, a2, &t2, &n2, &err) || n1 != n2) abort();
    for (size_t i = 0; i < n1; i++)
        if (strcmp(t1[i].name, t2[i].name) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc2_arena a1, a2;
    mc2_arena_init(&a1, 64u << 20);
    mc2_arena_init(&a2, 64u << 20);
    mc2_err err;
    mc2_buf p1 = {0}, p2 = {0};
    mc2_sql_stmt *s1, *s2;
    if (mc2_sql_parse((const char *)data, size, &a1, &s1, &err) == 0) {
        if (mc2_sql_ast_print(s1, &p1, &err)) abort();
        if (mc2_sql_parse((const char *)p1.data, p1.len, &a2, &s2, &err)) abort();
        if (mc2_sql_ast_print(s2, &p2, &err)) abort();
        if (p1.len != p2.len || memcmp(p1.data, p2.data, p1.len) != 0) abort();
        same_tables(s1, &a1, s2, &a2);
    } else {
        /* Every failure carries a message with a position or a limit. */
        if (err.code == MC2_OK || err.msg[0] == '\0') abort();
    }
    mc2_buf_free(&p1);
    mc2_buf_free(&p2);
    mc2_arena_free(&a1);
    mc2_arena_free(&a2);
    return 0;
}
