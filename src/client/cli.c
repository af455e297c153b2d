/* cli.c - shared helpers of the mc2 commands. */
#include "cli.h"

#include <libgen.h>
#include <stdarg.h>
#include <string.h>

#include "base/alloc.h"
#include "base/file.h"
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
    memset(p, 0, sizeof *p);
    p->out = stdout;
    p->enabled = isatty(STDOUT_FILENO);
    p->label = label;
    p->last_permille = -1;
}

void cli_progress_init_stderr(cli_progress *p, const char *label)
{
    cli_progress_init(p, label);
    p->out = stderr;
    p->enabled = isatty(STDERR_FILENO);
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled) return;
    if (total == 0) { /* no total known: the bytes so far, every 4 MiB */
        if (p->last_permille >= 0 && done - p->last_bytes < (4u << 20)) return;
        char b[32];
        p->last_bytes = done;
        p->last_permille = 0;
        fprintf(p->out, "\r%s %s   ", p->label, cli_bytes(done, b, sizeof b));
        fflush(p->out);
        return;
    }
    int pm = (int)(done >= total ? 1000 : done * 1000 / total);
    if (pm == p->last_permille) return;
    p->last_permille = pm;
    char bar[41];
    int fill = pm * 40 / 1000;
    for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(p->out, "\r%s [%s] %3d.%d%%", p->label, bar, pm / 10, pm % 10);
    fflush(p->out);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->last_permille >= 0) fputc('\n', p->out);
    p->last_permille = -1;
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

int cli_parse(const char *cmd, const char *help, int argc, char **argv, const cli_opt *opts,
              const char **pos, size_t npos, int *code)
{
    size_t np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            *code = CLI_OK;
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (np >= npos) {
                *code = cli_usage(cmd, "unexpected argument '%s'", a);
                return 1;
            }
            pos[np++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const cli_opt *o = NULL;
        for (const cli_opt *q = opts; q->name && !o; q++)
            if (strlen(q->name) == nl && strncmp(q->name, a + 2, nl) == 0) o = q;
        if (!o) {
            *code = cli_usage(cmd, "unknown option '%.*s'", (int)nl + 2, a);
            return 1;
        }
        if (o->flag) {
            if (eq) {
                *code = cli_usage(cmd, "--%s takes no value", o->name);
                return 1;
            }
            *o->flag = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            *code = cli_usage(cmd, "--%s needs a value", o->name);
            return 1;
        }
        if (o->list) {
            if (*o->count >= o->max) {
                *code = cli_usage(cmd, "--%s given more than %zu times", o->name, o->max);
                return 1;
            }
            o->list[(*o->count)++] = v;
        } else {
            *o->value = v;
        }
    }
    return 0;
}

char *cli_bindir(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    return mc2_strdup(dirname(self));
}
