/* cli.c - shared helpers of the mc2 commands. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

int cli_fail(const mc2_err *err)
{
    fprintf(stderr, "mc2: %s\n", err->msg[0] ? err->msg : "failed");
    return err->code == MC2_E_USAGE ? CLI_USAGE : CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mc2 %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `mc2 %s --help`)\n", cmd);
    return CLI_USAGE;
}

int cli_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t lo, uint64_t hi,
                   uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || v < lo || v > hi) {
        cli_usage(cmd, "%s wants a whole number from %llu to %llu, not '%s'", opt,
                  (unsigned long long)lo, (unsigned long long)hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->enabled = isatty(STDERR_FILENO);
    p->label = label;
    p->last_permille = -1;
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled || total == 0) return;
    int pm = (int)(done >= total ? 1000 : done * 1000 / total);
    if (pm == p->last_permille) return;
    p->last_permille = pm;
    char bar[41];
    int fill = pm * 40 / 1000;
    for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r%s [%s] %3d.%d%%", p->label, bar, pm / 10, pm % 10);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->last_permille >= 0) fputc('\n', stderr);
}

const char *cli_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}
