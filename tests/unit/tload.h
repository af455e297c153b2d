/* tload.h - loading a TPC-H .tbl file into one batch, for the SQL tests that run queries over
 * generated data (test_sql_bind, test_sql_plan). Header-only, for tests. */
#ifndef MC2_TESTS_TLOAD_H
#define MC2_TESTS_TLOAD_H

#include <stdio.h>
#include <stdlib.h>

#include "mc2/table.h"
#include "table/textio.h"
#include "test.h"

/* The rows of the .tbl file at path (schema s) in one batch, or NULL (the reason on stderr)
 * if the file cannot be read or parsed. */
static inline mc2_batch *test_load_tbl(const char *path, const mc2_schema *s)
{
    size_t n;
    char *text = test_read_file(path, &n);
    if (!text) return NULL;
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    mc2_err err;
    mc2_batch *b = mc2_batch_new(s, lines ? lines : 1, &err);
    mc2_textpos pos = {path, 1};
    if (b && mc2_text_parse(MC2_FMT_TBL, text, n, &pos, b, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        mc2_batch_free(b);
        b = NULL;
    }
    free(text);
    return b;
}

#endif
