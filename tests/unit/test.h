/* test.h - the minimal harness every unit test uses: CHECK macros that count, and a
 * summary line. A test binary exits 1 if any check failed or if it made no checks. */
#ifndef MC2_TEST_H
#define MC2_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long t_checks, t_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        t_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* The whole file at path, NUL-terminated (malloc'd), its length in *len if len is not NULL;
 * NULL if it cannot be opened. Out of memory ends the test binary. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    for (;;) {
        if (p && n + 4096 > cap) p = realloc(p, cap *= 2);
        if (!p) {
            fprintf(stderr, "%s: out of memory\n", path);
            exit(1);
        }
        size_t r = fread(p + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    p[n] = '\0';
    if (len) *len = n;
    return p;
}

/* Path of a file under tests/data (MC2_TEST_DATA), in a static buffer. */
static inline const char *test_data(const char *rel)
{
    static char buf[4096];
    const char *d = getenv("MC2_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "tests/data", rel);
    return buf;
}

/* Prints the summary and returns the process exit status. */
static inline int test_done(const char *name)
{
    printf("%s: %lu checks, %lu failed\n", name, t_checks, t_failures);
    if (t_checks == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return t_failures ? 1 : 0;
}

#endif
