/* follow.c - following a job until it ends: the progress line on a terminal, --wait, and
 * what a failure or a job still running means for the exit code. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client/session.h"

/* The progress line: job id's state on one line of stderr (a terminal), redrawn at most
 * every 200 ms. */
typedef struct follow_view {
    uint64_t id, last_draw;
    bool drawn;
} follow_view;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* mc2_job_watch_fn: draws the state; control characters (a reason can name a column another
 * party chose) are shown as '?'. */
static void draw(void *ctx, const char *st, uint64_t left_ms)
{
    (void)left_ms;
    follow_view *v = ctx;
    uint64_t now = mono_ms();
    if (v->drawn && now - v->last_draw < 200) return;
    char line[121];
    size_t k = 0;
    for (; st[k] && k < sizeof line - 1; k++)
        line[k] = (unsigned char)st[k] < 0x20 || st[k] == 0x7f ? '?' : st[k];
    line[k] = '\0';
    fprintf(stderr, "\r\033[Kjob %llu %s", (unsigned long long)v->id, line);
    fflush(stderr);
    v->drawn = true;
    v->last_draw = now;
}

int cli_job_follow(cli_session *cs, uint64_t id, bool approvals, uint64_t wait_s, mc2_buf *state,
                   mc2_err *err)
{
    follow_view v = {.id = id};
    bool tty = isatty(STDERR_FILENO);
    mc2_buf_reset(state); /* *state gets the last state, whatever it held */
    int rc = mc2_job_watch(&cs->es, id, approvals, wait_s * 1000u, 200, tty ? draw : NULL, &v, NULL,
                           state, err);
    if (v.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    return rc;
}

int cli_job_outcome(uint64_t id, const char *what, const char *st, const char *fetch, mc2_err *err)
{
    if (strncmp(st, "done", 4) == 0) return 0;
    if (strncmp(st, "failed", 6) == 0)
        return mc2_err_set(err, MC2_E_INPUT, "%s job %llu failed%s%s", what, (unsigned long long)id,
                           st[6] == ':' ? ":" : "",
                           st[6] == ':' ? st + 7 : " (only its parties see why)");
    printf("job %llu is %s\n", (unsigned long long)id, st);
    printf("see how it does: mc2 job %llu; when it is done: %s\n", (unsigned long long)id, fetch);
    return 1;
}
