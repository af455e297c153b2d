/* log.c - diagnostics on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

void mc2_log(const char *prog, enum mc2_log_level max, enum mc2_log_level level, const char *fmt,
             ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > max) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", prog, names[level], line);
}
