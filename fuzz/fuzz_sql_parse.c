/* fuzz_sql_parse.c - libFuzzer target: parse arbitrary bytes as SQL; whatever parses must print,
 * re-parse and re-print identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "sql/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
